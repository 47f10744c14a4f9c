//! A real core and a web edge in front of it, both on port 0.

use std::net::SocketAddr;

use assistchat_edge_web::Config;
use assistchat_fakes::FakeOpenAi;
use assistchat_http::Limits;
use assistchat_test_support::test_provider;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// A running core and web edge.
pub struct TestWeb {
    pub addr: SocketAddr,
    /// Core's address, when this started one.
    pub core_addr: Option<SocketAddr>,
    /// Core's database, when this started core: for what only the operator's commands do.
    pub core_database_url: Option<String>,
    /// The fake OpenAI API core asks, when this started core.
    openai: Option<FakeOpenAi>,
    stops: Vec<oneshot::Sender<()>>,
    _data_dir: Option<TempDir>,
}

impl TestWeb {
    /// Core on a fresh SQLite database, and the web edge.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Like [`TestWeb::start`], with core's settings changed by `configure` first. Core's
    /// OpenAI base URL is a fake's (see [`TestWeb::openai`]), so that no key check or reply
    /// leaves the machine; `configure` may point it elsewhere.
    pub async fn start_with(configure: impl FnOnce(&mut assistchat_core::Config)) -> Self {
        Self::start_on("127.0.0.1:0", configure).await
    }

    /// Like [`TestWeb::start_with`], with the web edge listening on `web_listen`: for a public
    /// address that core must know before it starts (see [`free_port`]).
    pub async fn start_on(web_listen: &str, configure: impl FnOnce(&mut assistchat_core::Config)) -> Self {
        Self::start_web_with(|config| config.web_listen = web_listen.into(), Limits::default(), configure).await
    }

    /// Core with its settings changed by `configure`, and the web edge with its own changed by
    /// `configure_web`.
    pub async fn start_configured(
        configure: impl FnOnce(&mut assistchat_core::Config),
        configure_web: impl FnOnce(&mut Config),
    ) -> Self {
        Self::start_web_with(configure_web, Limits::default(), configure).await
    }

    /// Core (its settings changed by `configure_core`), and the web edge with its settings
    /// changed by `configure_web` and its connections held to `limits`.
    pub async fn start_web_with(
        configure_web: impl FnOnce(&mut Config),
        limits: Limits,
        configure_core: impl FnOnce(&mut assistchat_core::Config),
    ) -> Self {
        let configure = configure_core;
        let data_dir = TempDir::new().unwrap();
        let openai = FakeOpenAi::start().await;
        let mut config = assistchat_core::Config::with_defaults(data_dir.path().into());
        // Titles by the model would add calls the fake model counts; the tests of titles turn them on.
        config.model_titles = false;
        config.openai_base_url = openai.base_url();
        // Users' own model servers in these tests are on this machine, which the operator allows.
        config.outbound_allow = vec!["127.0.0.1".into(), "localhost".into()];
        configure(&mut config);
        let database_url = config.database_url();
        let core = assistchat_core::Application::build(config).await.expect("core starts");
        let core_addr = core.local_addr();
        let (core_stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(core.run_until_stopped(async {
            let _ = stopped.await;
        }));
        let mut web = Self::web_only_with(&format!("http://{core_addr}"), configure_web, limits).await;
        web.core_addr = Some(core_addr);
        web.core_database_url = Some(database_url);
        web.openai = Some(openai);
        web.stops.push(core_stop);
        web._data_dir = Some(data_dir);
        web
    }

    /// The web edge alone, with core expected at `core_url`.
    pub async fn web_only(core_url: &str) -> Self {
        Self::web_only_on(core_url, "127.0.0.1:0").await
    }

    /// The web edge alone on `web_listen`, with core expected at `core_url`.
    pub async fn web_only_on(core_url: &str, web_listen: &str) -> Self {
        Self::web_only_with(core_url, |config| config.web_listen = web_listen.into(), Limits::default()).await
    }

    /// The web edge alone, with core expected at `core_url`, its settings changed by
    /// `configure` and its connections held to `limits`.
    pub async fn web_only_with(core_url: &str, configure: impl FnOnce(&mut Config), limits: Limits) -> Self {
        let mut config = Config::with_core(core_url);
        configure(&mut config);
        let web = assistchat_edge_web::Application::build(config).await.expect("web starts").with_limits(limits);
        let addr = web.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(web.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Self { addr, core_addr: None, core_database_url: None, openai: None, stops: vec![stop], _data_dir: None }
    }

    /// The fake OpenAI API core was started with; it accepts any key and echoes.
    pub fn openai(&self) -> &FakeOpenAi {
        self.openai.as_ref().expect("core runs")
    }

    /// Core accepting the test edge's credential, wanting heartbeats every 200 ms (so that a
    /// silent edge is noticed within a second), and past its start-up grace for edges.
    pub async fn start_with_edges() -> Self {
        Self::start_with_edges_and(|_| {}).await
    }

    /// Like [`TestWeb::start_with_edges`], with core configured further by `configure`.
    pub async fn start_with_edges_and(configure: impl FnOnce(&mut assistchat_core::Config)) -> Self {
        let web = Self::start_with(|config| {
            test_provider::accept_test_edges(config);
            configure(config);
        })
        .await;
        test_provider::past_start_up_grace().await;
        web
    }

    /// Core's gRPC address, for test edges.
    pub fn core_url(&self) -> String {
        format!("http://{}", self.core_addr.expect("core runs"))
    }

    /// The test provider `provider`, attached.
    pub async fn edge(&self, provider: &str) -> crate::test_edge::TestEdge {
        crate::test_edge::TestEdge::attach(&self.core_url(), provider).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A client that keeps cookies and does not follow redirects.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }

    /// Registers through the JSON API with `client`; returns the CSRF token for its session.
    pub async fn register(&self, client: &reqwest::Client, name: &str) -> String {
        let email = format!("{name}.{}@example.com", uuid());
        let body = serde_json::json!({"email": email, "password": "a long enough passphrase", "display_name": name});
        let response = client.post(self.url("/api/auth/register")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let body: serde_json::Value = response.json().await.unwrap();
        body["csrf_token"].as_str().unwrap().to_owned()
    }
}

impl Drop for TestWeb {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
    }
}

/// The events of a server-sent event stream, as (name, JSON data).
pub fn events(body: &str) -> Vec<(String, serde_json::Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut name = String::from("message");
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    name = value.trim().to_owned();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value));
                }
            }
            (!data.is_empty()).then(|| (name, serde_json::from_str(&data.join("\n")).unwrap()))
        })
        .collect()
}

/// A loopback port free a moment ago: bound, read and let go, for a server whose address must
/// be known before it starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A string unique within this test run.
pub fn uuid() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{nanos:x}{n}")
}
