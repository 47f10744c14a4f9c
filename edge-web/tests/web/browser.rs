//! Headless Chromium for integration tests, driven over WebDriver by `fantoccini`.
//!
//! Drop this file into `tests/<suite>/` and declare it with `mod browser;` in the
//! suite's `main.rs`. It needs these dev-dependencies:
//!
//! ```toml
//! fantoccini = { version = "0.22", default-features = false }
//! hyper-util = { version = "0.1", features = ["client-legacy", "http1", "tokio"] }
//! serde_json = "1"
//! tokio = { version = "1", features = ["macros", "rt", "time"] }
//! libc = "0.2"
//! ```
//!
//! and Debian's `chromium` and `chromium-driver` packages on the machine.
//!
//! Every [`Browser`] owns a private `chromedriver` process on a free port, which in
//! turn owns one Chromium with a fresh temporary profile. Both are shut down when
//! the `Browser` is closed or dropped, including when a test panics.
//!
//! ```ignore
//! #[tokio::test]
//! async fn login_form() {
//!     let Some(b) = browser::Browser::start().await else { return };
//!     browser::run(&b, "login_form", async {
//!         b.goto("http://127.0.0.1:8080/login").await?;
//!         b.fill("#user", "ada").await?;
//!         b.submit_form("form#login").await?;
//!         assert_eq!(b.text("h1").await?, "Welcome, ada");
//!         Ok(())
//!     })
//!     .await
//!     .unwrap();
//!     b.close().await;
//! }
//! ```

#![allow(dead_code)]

use std::fmt;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// How long `chromedriver` may take to answer on its `/status` endpoint.
const DRIVER_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long creating the WebDriver session (that is, launching Chromium) may take.
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);
/// Default explicit wait for elements; see [`Browser::set_wait_timeout`].
const DEFAULT_WAIT: Duration = Duration::from_secs(10);
/// Page loads are cut off by Chromium itself after this long.
const PAGE_LOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Scripts run through WebDriver are cut off by Chromium after this long.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Hard limit on any single WebDriver command. It is longer than the page load
/// timeout so that Chromium's own, more descriptive, error normally wins; it only
/// matters when `chromedriver` itself stops answering.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(45);
/// Limit on each request that is sent to `chromedriver` without `fantoccini`.
const RAW_HTTP_TIMEOUT: Duration = Duration::from_secs(5);

const INSTALL_HINT: &str = "apt-get install chromium chromium-driver";

const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
    // Nothing leaves this machine, whatever Chromium would fetch by itself (updates, safe
    // browsing, fonts): only loopback names resolve, and anything else goes to a proxy address
    // nothing listens on. Chromium never sends loopback addresses through a proxy.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
];

/// Everything that can go wrong in a [`Browser`] helper.
#[derive(Debug)]
pub enum BrowserError {
    /// A WebDriver command failed; the string says what was being done.
    WebDriver(String, CmdError),
    /// An explicit wait or a command ran out of time; the string says what for.
    Timeout(String),
    /// Writing a screenshot failed.
    Io(String, std::io::Error),
}

impl fmt::Display for BrowserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrowserError::WebDriver(what, e) => write!(f, "{what}: {e}"),
            BrowserError::Timeout(what) => write!(f, "timed out {what}"),
            BrowserError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for BrowserError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BrowserError::WebDriver(_, e) => Some(e),
            BrowserError::Timeout(_) => None,
            BrowserError::Io(_, e) => Some(e),
        }
    }
}

/// Lets `?` be used on raw `fantoccini` calls made through [`Browser::client`].
impl From<CmdError> for BrowserError {
    fn from(e: CmdError) -> Self {
        BrowserError::WebDriver("WebDriver command".to_string(), e)
    }
}

pub type Result<T, E = BrowserError> = std::result::Result<T, E>;

/// A headless Chromium controlled through its own private `chromedriver`.
pub struct Browser {
    // Field order matters: the client is dropped before the driver, so that its
    // session is released before the processes are killed.
    client: Client,
    driver: Driver,
    wait: Duration,
}

impl Browser {
    /// Starts Chromium with its default language.
    ///
    /// Returns `None`, after printing a notice, when Chromium or ChromeDriver is
    /// not installed; under `CI=true` it panics instead, so that a misconfigured CI
    /// machine cannot silently skip the browser tests.
    pub async fn start() -> Option<Browser> {
        Self::launch(None).await
    }

    /// Like [`Browser::start`], but with the UI language and the `Accept-Language`
    /// header set to `lang` (for example `"ru"` or `"de-DE"`).
    pub async fn start_with_lang(lang: &str) -> Option<Browser> {
        Self::launch(Some(lang)).await
    }

    async fn launch(lang: Option<&str>) -> Option<Browser> {
        let (driver_bin, chromium_bin) = find_binaries()?;
        let driver = Driver::spawn(&driver_bin).await;

        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", driver.dir.join("profile").display()));
        let mut options = json!({
            "binary": chromium_bin.to_string_lossy(),
            "args": args,
        });
        if let Some(lang) = lang {
            options["args"].as_array_mut().expect("args is an array").push(json!(format!("--lang={lang}")));
            // `--lang` alone changes the UI language only; the preference is what
            // makes Chromium send a matching `Accept-Language` header.
            options["prefs"] = json!({ "intl.accept_languages": lang });
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "timeouts": {
                "implicit": 0,
                "pageLoad": PAGE_LOAD_TIMEOUT.as_millis() as u64,
                "script": SCRIPT_TIMEOUT.as_millis() as u64,
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("capabilities are built as a JSON object")
        };

        // Plain HTTP is enough for a driver on the loopback interface, and it
        // avoids pulling a TLS stack into every test build.
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let url = format!("http://127.0.0.1:{}", driver.port);
        let client = match tokio::time::timeout(SESSION_TIMEOUT, builder.connect(&url)).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => {
                panic!("chromedriver could not start Chromium ({}): {e}\n{}", chromium_bin.display(), driver.log_tail())
            }
            Err(_) => panic!("chromedriver did not start Chromium within {SESSION_TIMEOUT:?}\n{}", driver.log_tail()),
        };
        let mut driver = driver;
        // Remembering the session lets `Drop` end it gracefully, which makes
        // chromedriver quit and reap Chromium instead of leaving it to a kill.
        driver.session = client.session_id().await.ok().flatten();
        Some(Browser { client, driver, wait: DEFAULT_WAIT })
    }

    /// The underlying WebDriver client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Changes how long [`Browser::wait_for`] and the element helpers wait.
    pub fn set_wait_timeout(&mut self, wait: Duration) {
        self.wait = wait;
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.command(format!("opening {url}"), self.client.goto(url)).await
    }

    /// Waits until an element matching `css` exists and returns it.
    pub async fn wait_for(&self, css: &str) -> Result<Element> {
        let wait = self.client.wait().at_most(self.wait).for_element(Locator::Css(css));
        // The hard limit must leave room for however long the wait itself is.
        let limit = self.wait + COMMAND_TIMEOUT;
        match within(limit, format!("waiting for `{css}`"), wait).await {
            Err(BrowserError::WebDriver(_, CmdError::WaitTimeout)) => Err(BrowserError::Timeout(format!(
                "after {:?} waiting for `{css}` on {}",
                self.wait,
                self.url_for_errors().await
            ))),
            other => other,
        }
    }

    /// Clicks the element matching `css`, once it exists.
    pub async fn click(&self, css: &str) -> Result<()> {
        let element = self.wait_for(css).await?;
        self.command(format!("clicking `{css}`"), element.click()).await
    }

    /// Replaces the contents of the input matching `css` with `text`.
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        let element = self.wait_for(css).await?;
        self.command(format!("clearing `{css}`"), element.clear()).await?;
        self.command(format!("typing into `{css}`"), element.send_keys(text)).await
    }

    /// The visible text of the element matching `css`, once it exists.
    pub async fn text(&self, css: &str) -> Result<String> {
        let element = self.wait_for(css).await?;
        self.command(format!("reading text of `{css}`"), element.text()).await
    }

    /// The URL of the current page.
    pub async fn current_url(&self) -> Result<String> {
        let url = self.command("reading the current URL", self.client.current_url()).await?;
        Ok(url.to_string())
    }

    /// The HTML of the current page.
    pub async fn page_source(&self) -> Result<String> {
        self.command("reading the page source", self.client.source()).await
    }

    /// Submits the form matching `css` the way a person would.
    ///
    /// It clicks the form's first submit button, so that click handlers and
    /// validation run; a form without one is submitted with `requestSubmit()`.
    /// The next page may still be loading when this returns: wait for something
    /// that only the next page has before reading from it.
    pub async fn submit_form(&self, css: &str) -> Result<()> {
        let form = self.wait_for(css).await?;
        let buttons = "button:not([type]), button[type=submit], input[type=submit], input[type=image]";
        let what = format!("submitting `{css}`");
        match self.command(what.clone(), form.find(Locator::Css(buttons))).await {
            Ok(button) => self.command(what, button.click()).await,
            Err(BrowserError::WebDriver(_, e)) if e.is_no_such_element() => {
                let script = "document.querySelector(arguments[0]).requestSubmit();";
                let run = self.client.execute(script, vec![json!(css)]);
                self.command(what, run).await.map(drop)
            }
            Err(e) => Err(e),
        }
    }

    /// Saves a PNG screenshot of the viewport to `path`, creating its folder.
    pub async fn screenshot(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let png = self.command("taking a screenshot", self.client.screenshot()).await?;
        let io = |e| BrowserError::Io(format!("writing {}", path.display()), e);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(path, png).map_err(io)
    }

    /// Signs up `name` (with a fresh email) at the web edge `base_url`, and waits until signed in.
    pub async fn sign_up(&self, base_url: &str, name: &str) -> Result<()> {
        self.goto(&format!("{base_url}/register")).await?;
        self.fill("input[name=display_name]", name).await?;
        let email = format!("{}.{}@example.com", name.to_lowercase(), crate::helpers::uuid());
        self.fill("input[name=email]", &email).await?;
        self.fill("input[name=password]", "a long enough passphrase").await?;
        self.submit_form("form[action='/register']").await?;
        self.wait_for("form.logout").await?;
        Ok(())
    }

    /// Ends the WebDriver session and stops Chromium and chromedriver.
    ///
    /// Dropping a `Browser` does the same, but closing explicitly lets the
    /// browser shut down in an orderly way on the test's own runtime.
    pub async fn close(self) {
        let Browser { client, mut driver, .. } = self;
        if let Ok(Ok(())) = tokio::time::timeout(RAW_HTTP_TIMEOUT, client.close()).await {
            driver.session = None;
        }
        drop(driver);
    }

    /// Runs one WebDriver command under [`COMMAND_TIMEOUT`], labelling any error.
    async fn command<T>(&self, what: impl Into<String>, fut: impl Future<Output = Result<T, CmdError>>) -> Result<T> {
        within(COMMAND_TIMEOUT, what, fut).await
    }

    /// The current URL for use in error messages, or a placeholder.
    async fn url_for_errors(&self) -> String {
        match tokio::time::timeout(RAW_HTTP_TIMEOUT, self.client.current_url()).await {
            Ok(Ok(url)) => url.to_string(),
            _ => "(unknown page)".to_string(),
        }
    }
}

/// Runs a WebDriver command under a hard time limit, labelling any error with `what`.
async fn within<T>(
    limit: Duration,
    what: impl Into<String>,
    fut: impl Future<Output = Result<T, CmdError>>,
) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(BrowserError::WebDriver(what.into(), e)),
        Err(_) => Err(BrowserError::Timeout(format!("after {limit:?} {}", what.into()))),
    }
}

/// Runs the test `steps` against `browser`; if they fail, saves a screenshot.
///
/// When the steps return `Err` or panic, a PNG of the page as it was at that
/// moment is written to [`screenshot_path`]`(name)` and its path is printed. An
/// `Err` is then returned unchanged and a panic carries on unwinding, so the
/// test fails as it would have without this wrapper.
pub async fn run<T, F>(browser: &Browser, name: &str, steps: F) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    let outcome = CatchUnwind(Box::pin(steps)).await;
    let failure = match &outcome {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(format!("returned an error: {e}")),
        Err(_) => Some("panicked".to_string()),
    };
    if let Some(failure) = failure {
        let path = screenshot_path(name);
        // `screenshot` is itself time-limited, so a dead browser cannot hang here.
        match browser.screenshot(&path).await {
            Ok(()) => eprintln!("browser test `{name}` {failure}; screenshot: {}", path.display()),
            Err(e) => eprintln!("browser test `{name}` {failure}; no screenshot: {e}"),
        }
    }
    match outcome {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Where [`run`] saves the failure screenshot for the test called `name`.
///
/// That is `<target dir>/browser-screenshots/<name>.png`. Cargo tells integration
/// tests where the target directory is through `CARGO_TARGET_TMPDIR`, which is
/// `<target dir>/tmp`; elsewhere the crate's own `target` folder is assumed.
pub fn screenshot_path(name: &str) -> PathBuf {
    let target = match option_env!("CARGO_TARGET_TMPDIR") {
        Some(tmp) => {
            let tmp = Path::new(tmp);
            tmp.parent().unwrap_or(tmp).to_path_buf()
        }
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
    };
    let file: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    target.join("browser-screenshots").join(format!("{file}.png"))
}

/// A future that turns a panic while polling the inner future into `Err`.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The inner future is never polled again after it panics, so observing
        // its possibly broken state is not a concern.
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// Finds chromedriver and Chromium, or reports that they are missing.
fn find_binaries() -> Option<(PathBuf, PathBuf)> {
    let driver = on_path("chromedriver").or_else(|| executable("/usr/bin/chromedriver"));
    let chromium = executable("/usr/bin/chromium").or_else(|| on_path("chromium"));
    let mut missing = Vec::new();
    if driver.is_none() {
        missing.push("chromedriver (package chromium-driver)");
    }
    if chromium.is_none() {
        missing.push("chromium (package chromium)");
    }
    if missing.is_empty() {
        return Some((driver?, chromium?));
    }
    let missing = missing.join(" and ");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("browser tests need {missing}; on CI install them with `{INSTALL_HINT}`");
    }
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        // Written straight to the process's stderr because the test harness
        // captures `eprintln!`, and a skipped test would hide it entirely.
        let line = "=".repeat(72);
        let notice = format!(
            "\n{line}\nBROWSER TESTS SKIPPED: {missing} not found.\n\
             Install with: sudo {INSTALL_HINT}\n{line}\n\n"
        );
        let _ = std::io::stderr().write_all(notice.as_bytes());
    });
    None
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| executable(dir.join(name)))
}

fn executable(path: impl Into<PathBuf>) -> Option<PathBuf> {
    let path = path.into();
    let meta = std::fs::metadata(&path).ok()?;
    (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(path)
}

/// A running chromedriver, its temporary folder, and the browser it launched.
struct Driver {
    child: Child,
    port: u16,
    /// Holds the Chromium profile, Chromium's temporary files and the driver log.
    dir: PathBuf,
    /// The WebDriver session still open on this driver, if any.
    session: Option<String>,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it is ready.
    async fn spawn(binary: &Path) -> Driver {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("browser-test-{}-{n}", std::process::id()));

        // Another process can take the port between probing and chromedriver
        // binding it, so a driver that exits early is retried on a new port.
        let mut last_error = String::new();
        for _ in 0..3 {
            // A folder left behind by an earlier process with the same id, or by
            // the previous attempt, is stale.
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("tmp")).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
            let port = free_port();
            let log = std::fs::File::create(dir.join("chromedriver.log"))
                .unwrap_or_else(|e| panic!("cannot create chromedriver log: {e}"));
            let child = Command::new(binary)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file handle"))
                .stderr(log)
                // Chromium puts its scratch files under TMPDIR and its crash
                // database under XDG_CONFIG_HOME, whatever `--user-data-dir`
                // says; pointing both into our folder means they are deleted
                // with it. Every descendant inherits TMPDIR, which also lets
                // `Drop` find stragglers.
                .env("TMPDIR", dir.join("tmp"))
                .env("XDG_CONFIG_HOME", dir.join("config"))
                .env("XDG_CACHE_HOME", dir.join("cache"))
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
            let mut driver = Driver { child, port, dir: dir.clone(), session: None };
            match driver.wait_ready().await {
                Ok(()) => return driver,
                Err(e) => last_error = e,
            }
            // Dropping the failed driver kills it before the next attempt.
        }
        panic!("chromedriver did not become ready: {last_error}");
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + DRIVER_READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited with {status}\n{}", self.log_tail()));
            }
            let port = self.port;
            let probe = tokio::task::spawn_blocking(move || raw_http(port, "GET", "/status", Duration::from_secs(1)));
            if let Ok(Ok(body)) = probe.await
                && (body.contains("\"ready\":true") || body.contains("\"ready\": true"))
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("no answer on port {port} within {DRIVER_READY_TIMEOUT:?}\n{}", self.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The end of the chromedriver log, for error messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("chromedriver.log")).unwrap_or_default();
        let start = log.len().saturating_sub(4000);
        let start = (start..log.len()).find(|&i| log.is_char_boundary(i)).unwrap_or(0);
        format!("--- chromedriver log (end) ---\n{}", &log[start..])
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Ending the session makes chromedriver quit Chromium and reap it, which
        // is cleaner than killing it. This blocks, as `Drop` cannot await, but
        // only for as long as Chromium takes to exit, and never beyond the limit.
        if let Some(session) = self.session.take() {
            let _ = raw_http(self.port, "DELETE", &format!("/session/{session}"), RAW_HTTP_TIMEOUT);
        }
        let _ = self.child.kill();
        // Waiting reaps chromedriver so that it does not linger as a zombie.
        let _ = self.child.wait();
        kill_stragglers(&self.dir.join("tmp"));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Kills any process that still carries this driver's TMPDIR, such as a
/// Chromium whose session could not be ended, and waits briefly for them to go.
fn kill_stragglers(tmp: &Path) {
    let marker = format!("TMPDIR={}", tmp.display());
    let marker = marker.as_bytes();
    let own_pid = std::process::id();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids: Vec<u32> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| pid != own_pid)
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ"))
                    .map(|env| env.split(|&b| b == 0).any(|var| var == marker))
                    .unwrap_or(false)
            })
            .collect();
        if pids.is_empty() || Instant::now() > deadline {
            return;
        }
        for pid in pids {
            // SAFETY: `kill` has no memory-safety preconditions.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Finds a port that is free right now by letting the kernel choose one.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("cannot find a free local port: {e}"))
}

/// Sends one bodiless HTTP/1.1 request to chromedriver and returns the response.
///
/// chromedriver announces `Connection: close` but keeps the socket open, so the
/// response ends where its `Content-Length` says, not at end of stream.
fn raw_http(port: u16, method: &str, path: &str, timeout: Duration) -> std::io::Result<String> {
    let deadline = Instant::now() + timeout;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|n| n.trim().parse::<usize>().ok());
            if length.is_some_and(|n| response.len() >= end + 4 + n) {
                break;
            }
        }
        if Instant::now() > deadline {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        match stream.read(&mut chunk)? {
            0 => break,
            n => response.extend_from_slice(&chunk[..n]),
        }
    }
    Ok(String::from_utf8_lossy(&response).into_owned())
}
