//! The edge client against a real core over gRPC: a provider written as one trait
//! implementation runs its resources, stops them when told, and comes back by itself after core
//! restarts.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use assistchat_core::{Application, Config};
use assistchat_edge_client::{
    EdgeClient, EdgeConfig, Provider, ProviderHello, ResourceErrorAction, ResourceStart, Session, WebhookServer,
    Webhooks,
};
use assistchat_proto::v1::{
    ChannelUser, PauseResourceRequest, Resource, ResourceState, resource_service_client::ResourceServiceClient,
};
use assistchat_test_support::{Owner, authed, eventually};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tonic::transport::Channel;

const EDGE_TOKEN: &str = "edge-client-test-credential-0123456789";

/// What the provider saw happen, in order.
type Log = Arc<Mutex<Vec<String>>>;

/// A provider that is ready at once (or fails when its settings say so) and logs its life.
struct Echo {
    log: Log,
}

impl Provider for Echo {
    fn hello(&self) -> ProviderHello {
        ProviderHello {
            name: "echo".into(),
            display_name: "Echo".into(),
            description: "Answers nothing; it only runs.".into(),
            version: "1.0.0".into(),
            settings_schema_json: serde_json::json!({
                "type": "object",
                "properties": {"token": {"type": "string"}, "fail_with": {"type": "string"}},
                "required": ["token"]
            })
            .to_string(),
            secret_fields: vec!["token".into()],
            identity_fields: vec!["token".into()],
        }
    }

    async fn run(&self, start: ResourceStart, session: Session) {
        let settings: serde_json::Value = serde_json::from_str(&start.settings_json).unwrap();
        self.log.lock().unwrap().push(format!("start {} {}", start.name, start.secrets["token"]));
        if let Some(detail) = settings.get("fail_with").and_then(|v| v.as_str()) {
            session.error(detail, "REJECTED", ResourceErrorAction::FixSettings);
            return;
        }
        session.ready("Echoing.", Vec::new());
        // Every run hands core the same message: after the first, core answers from its store.
        let sender = ChannelUser { id: "person-1".into(), ..Default::default() };
        match session.converse("chat-1", sender, "message-1", "hello").await {
            Ok(answer) => self.log.lock().unwrap().push(format!("reply {} {}", answer.reply_text, answer.redelivered)),
            Err(status) => self.log.lock().unwrap().push(format!("converse failed {status:?}")),
        }
        if let Err(status) = session.reset_conversation("chat-1").await {
            self.log.lock().unwrap().push(format!("reset failed {status:?}"));
        }
        session.cancelled().await;
        self.log.lock().unwrap().push(format!("stop {}", start.name));
    }
}

/// A core on a fixed port, so that it can be restarted where the edge expects it.
struct Core {
    config: Config,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Core {
    async fn start(config: Config) -> Self {
        let app = Application::build(config.clone()).await.expect("core starts");
        let mut config = config;
        config.listen = app.local_addr().to_string();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            app.run_until_stopped(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Self { config, stop: Some(stop), task: Some(task) }
    }

    async fn stop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.config.listen)).unwrap().connect().await.unwrap()
    }
}

fn count(log: &Log, line: &str) -> usize {
    log.lock().unwrap().iter().filter(|seen| *seen == line).count()
}

/// Waits until the provider has logged `line` `times` times.
async fn until(log: &Log, line: &str, times: usize) {
    eventually(&format!("the provider logging {line:?} {times} times"), || async {
        if count(log, line) >= times { Ok(()) } else { Err(log.lock().unwrap().clone()) }
    })
    .await;
}

#[tokio::test]
async fn a_provider_runs_stops_and_survives_a_core_restart() {
    let dir = TempDir::new().unwrap();
    let mut config = Config::with_defaults(dir.path().to_path_buf());
    // Titles by the model would add calls the fake model counts; the tests of titles turn them on.
    config.model_titles = false;
    config.edge_token = Some(EDGE_TOKEN.into());
    config.edge_heartbeat = Duration::from_millis(200);
    let model = assistchat_fakes::FakeOpenAi::start().await;
    config.openai_api_key = Some("sk-edge-client-test".into());
    config.openai_base_url = model.base_url();
    let mut core = Core::start(config).await;
    let channel = core.channel().await;

    let log = Log::default();
    let edge_config = EdgeConfig {
        core_url: format!("http://{}", core.config.listen),
        edge_token: EDGE_TOKEN.into(),
        instance_id: None,
    };
    let client = EdgeClient::new(&edge_config, Echo { log: log.clone() }).unwrap();
    assert!(client.instance_id().starts_with("echo-"));
    let attached = client.attached();
    let (stop_edge, edge_stopped) = oneshot::channel::<()>();
    let edge = tokio::spawn(client.run_until(async {
        let _ = edge_stopped.await;
    }));

    let owner = Owner::sign_up(channel.clone(), "ann@example.com").await;
    owner.start_bot().await;
    let session = owner.session.clone();
    let create = |name: &str, meta: &str, token: &str| Resource {
        provider: "echo".into(),
        name: name.into(),
        meta_json: meta.into(),
        secrets: [("token".to_owned(), token.to_owned())].into(),
        ..Default::default()
    };
    // The provider may take a moment to attach: until then the provider is unknown.
    let resource = owner.connect(create("Main", "{}", "secret-token-1")).await;
    owner.state_becomes(&resource.id, ResourceState::Ready).await;
    until(&log, "start Main secret-token-1", 1).await;
    assert!(*attached.borrow(), "the client says it is attached");
    until(&log, "reply You said: hello false", 1).await;

    let failing = owner.connect(create("Broken", r#"{"fail_with": "No such account."}"#, "secret-token-2")).await;
    let failed = owner.state_becomes(&failing.id, ResourceState::Error).await;
    assert_eq!(failed.state_detail, "No such account.");

    // A pause reaches the provider's run as a cancellation.
    ResourceServiceClient::new(channel.clone())
        .pause_resource(authed(PauseResourceRequest { id: resource.id.clone() }, &session))
        .await
        .unwrap();
    until(&log, "stop Main", 1).await;
    ResourceServiceClient::new(channel.clone())
        .activate_resource(authed(assistchat_proto::v1::ActivateResourceRequest { id: resource.id.clone() }, &session))
        .await
        .unwrap();
    owner.state_becomes(&resource.id, ResourceState::Ready).await;

    // Core restarts: the edge stops its resources, attaches again by itself, and runs them.
    core.stop().await;
    until(&log, "stop Main", 2).await;
    let starts_before = count(&log, "start Main secret-token-1");
    let core = Core::start(core.config.clone()).await;
    let owner = Owner { channel: core.channel().await, ..owner };
    owner.state_becomes(&resource.id, ResourceState::Ready).await;
    let starts_after = count(&log, "start Main secret-token-1");
    assert_eq!(starts_after, starts_before + 1, "started once more after the restart: {:?}", log.lock().unwrap());
    // Later runs sent the same message again: answered from the store, the model asked once.
    // (A call cut short by core's stop is the run's own business.)
    until(&log, "reply You said: hello true", 1).await;
    assert_eq!(count(&log, "reply You said: hello false"), 1);
    assert_eq!(model.chat_calls(), 1);

    let _ = stop_edge.send(());
    edge.await.unwrap();
}

/// Sends one HTTP/1.1 POST of `body` to `path` and returns the status line.
async fn post(address: std::net::SocketAddr, path: &str, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: edge\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_webhook_server_serves_while_the_client_runs_and_stops_with_it() {
    use axum::{
        extract::{Path, State},
        http::StatusCode,
    };
    let webhooks = Webhooks::<String>::new("https://edge.example.com/".parse().unwrap(), "echo");
    let receive = |State(hooks): State<Arc<Webhooks<String>>>, Path(id): Path<String>, body: String| async move {
        let Some((_, queue)) = hooks.route(&id) else { return StatusCode::NOT_FOUND };
        if queue.send(body).await.is_ok() { StatusCode::OK } else { StatusCode::NOT_FOUND }
    };
    let server = WebhookServer::bind("127.0.0.1:0", "ECHO_LISTEN", webhooks.router(receive, 1024)).await.unwrap();
    let address = server.local_addr().unwrap();
    // Nothing listens where core should be: the client keeps trying while the server serves.
    let config = EdgeConfig { core_url: "http://127.0.0.1:9".into(), edge_token: EDGE_TOKEN.into(), instance_id: None };
    let client = EdgeClient::new(&config, Echo { log: Log::default() }).unwrap().with_webhooks(server);
    let (stop_edge, edge_stopped) = oneshot::channel::<()>();
    let edge = tokio::spawn(client.run_until(async {
        let _ = edge_stopped.await;
    }));

    let mut registration = webhooks.register("r1", "secret");
    assert_eq!(registration.url.as_str(), "https://edge.example.com/echo/r1");
    assert!(post(address, "/echo/r1", "hello").await.contains("200"));
    assert_eq!(registration.queue.recv().await.as_deref(), Some("hello"));
    assert!(post(address, "/echo/r2", "hello").await.contains("404"), "no path for a resource not running");
    assert!(post(address, "/echo/r1", &"x".repeat(2048)).await.contains("413"), "the body limit holds");
    drop(registration);
    assert!(post(address, "/echo/r1", "hello").await.contains("404"), "the path went with its resource");

    stop_edge.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), edge).await.expect("the client stops").unwrap();
    assert!(tokio::net::TcpStream::connect(address).await.is_err(), "the server stopped with the client");
}
