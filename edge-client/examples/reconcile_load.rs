//! How many resources one core keeps reconciled: thousands of resources across a few edges on
//! loopback. Measures the time from switching the bots on until every resource is ready, and
//! from killing every edge until every resource shows the error.
//!
//! `cargo run --release -p assistchat-edge-client --example reconcile_load -- [resources] [edges] [users]`
//! (defaults 2000, 4, 10); `DATABASE_URL=postgres://...` runs it on PostgreSQL.

use std::time::{Duration, Instant};

use assistchat_core::{Application, Config};
use assistchat_edge_client::{EdgeClient, EdgeConfig, Provider, ProviderHello, ResourceStart, Session};
use assistchat_proto::v1::{
    CreateResourceRequest, GetBotStatusRequest, Resource, ResourceDesiredState, StartBotRequest,
    bot_service_client::BotServiceClient, resource_service_client::ResourceServiceClient,
};
use assistchat_test_support::{Owner, authed};
use tonic::transport::Channel;

const EDGE_TOKEN: &str = "reconcile-load-edge-credential-0123456789";

/// Ready at once, until stopped.
struct Idle;

impl Provider for Idle {
    fn hello(&self) -> ProviderHello {
        ProviderHello {
            name: "idle".into(),
            display_name: "Idle".into(),
            version: "1".into(),
            settings_schema_json: r#"{"type":"object","properties":{"token":{"type":"string"}}}"#.into(),
            secret_fields: vec!["token".into()],
            identity_fields: vec!["token".into()],
            ..Default::default()
        }
    }

    async fn run(&self, _start: ResourceStart, session: Session) {
        session.ready("Idle.", Vec::new());
        session.cancelled().await;
    }
}

/// Waits until `done` holds for the sum of every user's status, polling every 50 ms.
async fn until(channel: &Channel, sessions: &[String], done: impl Fn(i32, i32) -> bool) {
    loop {
        let (mut ready, mut error) = (0, 0);
        for session in sessions {
            let status = BotServiceClient::new(channel.clone())
                .get_bot_status(authed(GetBotStatusRequest {}, session))
                .await
                .unwrap()
                .into_inner()
                .bot_status
                .unwrap();
            ready += status.ready_count;
            error += status.error_count;
        }
        if done(ready, error) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into())).init();
    let args: Vec<usize> = std::env::args().skip(1).map(|arg| arg.parse().expect("numbers")).collect();
    let (resources, edges, users) =
        (args.first().copied().unwrap_or(2000), args.get(1).copied().unwrap_or(4), args.get(2).copied().unwrap_or(10));
    let dir = tempfile::TempDir::new().unwrap();
    let mut config = Config::with_defaults(dir.path().to_path_buf());
    // Titles by the model would add calls the fake model counts; the tests of titles turn them on.
    config.model_titles = false;
    config.database_url = std::env::var("DATABASE_URL").ok();
    config.edge_token = Some(EDGE_TOKEN.into());
    let app = Application::build(config).await.unwrap();
    let address = app.local_addr();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let channel = Channel::from_shared(format!("http://{address}")).unwrap().connect().await.unwrap();

    // Each edge on a runtime of its own, so that killing it closes its sockets as a crash does.
    let mut kills = Vec::new();
    for i in 0..edges {
        let config = EdgeConfig {
            core_url: format!("http://{address}"),
            edge_token: EDGE_TOKEN.into(),
            instance_id: Some(format!("idle-{i}")),
        };
        let (kill, killed) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
            runtime
                .spawn(async move { EdgeClient::new(&config, Idle).unwrap().run_until(std::future::pending()).await });
            let _ = killed.recv();
            runtime.shutdown_background();
        });
        kills.push(kill);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut sessions = Vec::new();
    let created = Instant::now();
    for user in 0..users {
        let owner = Owner::sign_up(channel.clone(), &format!("user{user}@example.com")).await;
        let session = owner.session;
        for r in 0..resources / users {
            let resource = Resource {
                provider: "idle".into(),
                name: format!("R{r}"),
                secrets: [("token".to_owned(), format!("token-{user}-{r}"))].into(),
                desired_state: ResourceDesiredState::Active.into(),
                ..Default::default()
            };
            let request = authed(CreateResourceRequest { resource: Some(resource) }, &session);
            ResourceServiceClient::new(channel.clone()).create_resource(request).await.unwrap();
        }
        sessions.push(session);
    }
    let total = i32::try_from(resources / users * users).unwrap();
    println!("created {total} resources for {users} users in {:?}", created.elapsed());

    let started = Instant::now();
    for session in &sessions {
        BotServiceClient::new(channel.clone()).start_bot(authed(StartBotRequest {}, session)).await.unwrap();
    }
    let switched = started.elapsed();
    until(&channel, &sessions, |ready, _| ready == total).await;
    println!("bots on: all {total} ready in {:?} (the StartBot calls took {switched:?})", started.elapsed());

    let killed = Instant::now();
    for kill in &kills {
        kill.send(()).unwrap();
    }
    until(&channel, &sessions, |_, error| error == total).await;
    println!("{edges} edges killed: all {total} in error in {:?}", killed.elapsed());
}
