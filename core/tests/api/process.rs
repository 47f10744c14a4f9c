//! The `assistchat-core` binary as operators run it: no configuration beyond a data directory
//! (or DATABASE_URL), JSON logs with request ids and no secrets, SIGTERM for a clean stop, and
//! the `rotate-secrets` command.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use assistchat_fakes::FakeOpenAi;
use assistchat_proto::v1::{
    ChangePasswordRequest, CreateApiTokenRequest, GetCurrentUserRequest, LoginRequest, RedeemSignInLinkRequest,
    RegisterRequest, SetOpenAiKeyRequest, auth_service_client::AuthServiceClient,
    profile_service_client::ProfileServiceClient,
};
use base64::Engine;
use tempfile::TempDir;
use tonic::{Request, transport::Channel};

use crate::{
    both_backends,
    helpers::{Backend, authed, fresh_database, uuid_simple},
};

both_backends!(the_binary_serves_logs_safely_and_stops_on_sigterm, users_create_makes_an_account_on_a_closed_server);

const BINARY: &str = env!("CARGO_BIN_EXE_assistchat-core");
const PASSWORD: &str = "process test passphrase";
const OPENAI_KEY: &str = "sk-process-test-secret-key-4242";

/// The binary, with none of the `ASSISTCHAT_` settings of the environment the tests run in (a
/// developer's shell may point them anywhere), and with the operator's model server on a
/// loopback port nothing listens on, so that nothing it does leaves this machine.
fn core_command() -> Command {
    let mut command = Command::new(BINARY);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|name| name.starts_with("ASSISTCHAT_")) {
            command.env_remove(name);
        }
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    command.env("ASSISTCHAT_OPENAI_BASE_URL", format!("http://{closed}/v1"));
    command
}

/// A running `assistchat-core` and everything it printed.
struct CoreProcess {
    child: Child,
    address: String,
    output: Arc<Mutex<String>>,
}

impl CoreProcess {
    /// The binary serving on `data_dir` and `database_url`, with the environment variables `env`
    /// added.
    fn start(data_dir: &Path, database_url: &str, env: &[(&str, &str)]) -> Self {
        let mut child = core_command()
            .envs(env.iter().copied())
            .env("ASSISTCHAT_DATA_DIR", data_dir)
            .env("ASSISTCHAT_CORE_LISTEN", "127.0.0.1:0")
            .env("ASSISTCHAT_LOG_FORMAT", "json")
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let output = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        for (stream, tx) in [(Box::new(stdout) as Box<dyn std::io::Read + Send>, Some(tx)), (Box::new(stderr), None)] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let (Some(tx), Some(address)) = (&tx, line.strip_prefix("AssistChat core listening on ")) {
                        let _ = tx.send(address.split(' ').next().unwrap_or_default().to_owned());
                    }
                    let mut all = output.lock().unwrap();
                    all.push_str(&line);
                    all.push('\n');
                }
            });
        }
        let address = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("the binary never said where it listens:\n{}", output.lock().unwrap()));
        Self { child, address, output }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.address)).unwrap().connect().await.unwrap()
    }

    /// Sends SIGTERM and waits; returns whether it exited successfully, and all it printed.
    async fn terminate(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        // Waiting blocks, so it runs aside: this runtime must keep serving the client side of
        // the connection while the server shuts it down.
        let status = tokio::task::spawn_blocking(move || self.child.wait().unwrap()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let output = self.output.lock().unwrap().clone();
        (status.success(), output)
    }
}

async fn the_binary_serves_logs_safely_and_stops_on_sigterm(backend: Backend) {
    let dir = TempDir::new().unwrap();
    let Some((url, _guard)) = fresh_database(backend, &dir).await else {
        return;
    };
    let data_dir = dir.path().join("data");
    let model = FakeOpenAi::start().await;
    let core = CoreProcess::start(&data_dir, &url, &[("ASSISTCHAT_OPENAI_BASE_URL", &model.base_url())]);
    let channel = core.channel().await;
    let (mut auth, mut profile) = (AuthServiceClient::new(channel.clone()), ProfileServiceClient::new(channel));

    let email = format!("proc.{}@example.com", &uuid_simple()[..8]);
    let registered = auth
        .register(RegisterRequest {
            email: email.clone(),
            password: PASSWORD.into(),
            display_name: "Proc".into(),
            language_code: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let session = registered.session.unwrap().token;
    let login = auth.login(LoginRequest { email: email.clone(), password: PASSWORD.into() }).await.unwrap();
    let login_token = login.into_inner().session.unwrap().token;
    let wrong = auth.login(LoginRequest { email, password: format!("{PASSWORD}!") }).await;
    assert!(wrong.is_err());
    let set = profile.set_open_ai_key(authed(SetOpenAiKeyRequest { api_key: OPENAI_KEY.into() }, &session)).await;
    assert_eq!(set.unwrap().into_inner().warning, "", "the key was checked, against the fake on loopback");
    let checked: Vec<_> = model.all_requests().iter().filter_map(|r| r.api_key().map(str::to_owned)).collect();
    assert_eq!(checked, [OPENAI_KEY]);
    let api_token =
        auth.create_api_token(authed(CreateApiTokenRequest { name: "ci".into(), ttl: None }, &session)).await;
    let api_token = api_token.unwrap().into_inner().token;
    let mut traced = authed(GetCurrentUserRequest {}, &api_token);
    traced.metadata_mut().insert("x-request-id", "process-test-request-7".parse().unwrap());
    auth.get_current_user(traced).await.unwrap();
    auth.get_current_user(Request::new(GetCurrentUserRequest {})).await.unwrap_err();

    let (clean, output) = core.terminate().await;
    assert!(clean, "SIGTERM ends the process cleanly:\n{output}");
    assert!(output.contains("core stopped"), "{output}");
    assert!(output.contains("process-test-request-7"), "the caller's request id is logged");
    let generated_key = std::fs::read_to_string(data_dir.join("secret.key")).unwrap();
    for secret in [PASSWORD, &session, &login_token, &api_token, OPENAI_KEY, generated_key.trim()] {
        assert!(!output.contains(secret), "a secret reached the log: {secret}");
    }
    for line in output.lines().filter(|l| l.starts_with('{')) {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }

    // Rotate the generated key out: the old key opens, the new key seals.
    let new_key = base64::engine::general_purpose::STANDARD.encode(assistchat_core::crypto::random_bytes::<32>());
    let rotate = core_command()
        .arg("rotate-secrets")
        .env("ASSISTCHAT_DATA_DIR", &data_dir)
        .env("DATABASE_URL", &url)
        .env("ASSISTCHAT_SECRET_KEY", &new_key)
        .env("ASSISTCHAT_PREVIOUS_SECRET_KEYS", generated_key.trim())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&rotate.stdout);
    assert!(rotate.status.success(), "{said}{}", String::from_utf8_lossy(&rotate.stderr));
    assert!(said.contains("re-sealed 1 secrets"), "{said}");
    let without_old_key = core_command()
        .arg("rotate-secrets")
        .env("ASSISTCHAT_DATA_DIR", &data_dir)
        .env("DATABASE_URL", &url)
        .env("ASSISTCHAT_SECRET_KEY", &new_key)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&without_old_key.stdout);
    assert!(said.contains("re-sealed 0 secrets"), "{said}{}", String::from_utf8_lossy(&without_old_key.stderr));
    assert!(said.contains("(1 were current already)"), "{said}");
}

async fn users_create_makes_an_account_on_a_closed_server(backend: Backend) {
    let dir = TempDir::new().unwrap();
    let Some((url, _guard)) = fresh_database(backend, &dir).await else {
        return;
    };
    let data_dir = dir.path().join("data");
    let email = format!("made.{}@example.com", &uuid_simple()[..8]);
    let users = |args: &[&str]| {
        let output = core_command()
            .arg("users")
            .args(args)
            .env("ASSISTCHAT_DATA_DIR", &data_dir)
            .env("DATABASE_URL", &url)
            .env("ASSISTCHAT_REGISTRATION", "closed")
            .env("ASSISTCHAT_PUBLIC_URL", "https://chat.example.com/")
            .output()
            .unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.success(), said)
    };
    let link_token = |said: &str| {
        let link = said.lines().find_map(|line| line.strip_prefix("One-time sign-in link: ")).expect(said);
        link.strip_prefix("https://chat.example.com/welcome?token=").expect(link).trim().to_owned()
    };
    let (made, said) = users(&["create", &email.to_uppercase(), "--name", "Made By Operator"]);
    assert!(made, "{said}");
    assert!(said.contains(&email) && said.contains("Profile") && said.contains("72 hours"), "{said}");
    let token = link_token(&said);
    let (again, complaint) = users(&["create", &email]);
    assert!(!again && complaint.contains("exists already"), "an email has one account: {complaint}");
    let (none, complaint) = users(&["sign-in-link", "nobody@example.com"]);
    assert!(!none && complaint.contains("no account"), "{complaint}");

    let core = CoreProcess::start(&data_dir, &url, &[("ASSISTCHAT_REGISTRATION", "closed")]);
    let mut auth = AuthServiceClient::new(core.channel().await);
    let status = auth
        .register(RegisterRequest {
            email: format!("walk-in.{}@example.com", &uuid_simple()[..8]),
            password: PASSWORD.into(),
            display_name: "Walk In".into(),
            language_code: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    // The link signs in once.
    let redeemed = auth.redeem_sign_in_link(RedeemSignInLinkRequest { token: token.clone() }).await;
    let redeemed = redeemed.expect("the printed link signs in").into_inner();
    assert_eq!(redeemed.user.unwrap().display_name, "Made By Operator");
    let status = auth.redeem_sign_in_link(RedeemSignInLinkRequest { token: token.clone() }).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "a link is spent by its first use");
    assert!(status.message().contains("operator"), "{}", status.message());
    // Its owner sets a password and signs in with it.
    let session = redeemed.session.unwrap().token;
    let change = ChangePasswordRequest { current_password: String::new(), new_password: PASSWORD.into() };
    auth.change_password(authed(change, &session)).await.expect("the owner sets a password");
    auth.login(LoginRequest { email: email.clone(), password: PASSWORD.into() }).await.expect("their password works");
    // A new link for the account, while the server runs.
    let (remade, said) = users(&["sign-in-link", &email]);
    assert!(remade, "{said}");
    let second = link_token(&said);
    auth.redeem_sign_in_link(RedeemSignInLinkRequest { token: second.clone() }).await.expect("a new link works");
    let (clean, output) = core.terminate().await;
    assert!(clean, "{output}");
    for secret in [&token, &second] {
        assert!(!output.contains(secret.as_str()), "a sign-in link reached the server's log");
    }
}
