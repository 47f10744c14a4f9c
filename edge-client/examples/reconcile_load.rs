//! How many resources one core keeps reconciled: thousands of resources across a few edges on
//! loopback. Measures the time from switching the bots on until every resource is ready, and
//! from killing every edge until every resource shows the error.
//!
//! `cargo run --release -p assistchat-edge-client --example reconcile_load -- [resources] [edges] [users]`
//! (defaults 2000, 4, 10); `DATABASE_URL=postgres://...` runs it on PostgreSQL.

use std::time::{Duration, Instant};

use assistchat_edge_client::{EdgeClient, EdgeConfig, Provider, ProviderHello, ResourceStart, Session};
use assistchat_proto::v1::{Resource, ResourceDesiredState};
use assistchat_test_support::load::{self, LoadCore};

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

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into())).init();
    let args: Vec<usize> = std::env::args().skip(1).map(|arg| arg.parse().expect("numbers")).collect();
    let (resources, edges, users) =
        (args.first().copied().unwrap_or(2000), args.get(1).copied().unwrap_or(4), args.get(2).copied().unwrap_or(10));
    let core = LoadCore::start(EDGE_TOKEN, |config| config.database_url = std::env::var("DATABASE_URL").ok()).await;

    // Each edge on a runtime of its own, so that killing it closes its sockets as a crash does.
    let mut kills = Vec::new();
    for i in 0..edges {
        let config = EdgeConfig {
            core_url: core.url.clone(),
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

    let created = Instant::now();
    let owners = core.owners(users).await;
    for (user, owner) in owners.iter().enumerate() {
        for r in 0..resources / users {
            let resource = Resource {
                provider: "idle".into(),
                name: format!("R{r}"),
                secrets: [("token".to_owned(), format!("token-{user}-{r}"))].into(),
                desired_state: ResourceDesiredState::Active.into(),
                ..Default::default()
            };
            owner.connect(resource).await;
        }
    }
    let total = resources / users * users;
    println!("created {total} resources for {users} users in {:?}", created.elapsed());

    let started = Instant::now();
    for owner in &owners {
        owner.start_bot().await;
    }
    let switched = started.elapsed();
    load::counts_become(&owners, &format!("all {total} ready"), |counts| counts.ready == total).await;
    println!("bots on: all {total} ready in {:?} (the StartBot calls took {switched:?})", started.elapsed());

    let killed = Instant::now();
    for kill in &kills {
        kill.send(()).unwrap();
    }
    load::counts_become(&owners, &format!("all {total} in error"), |counts| counts.error == total).await;
    println!("{edges} edges killed: all {total} in error in {:?}", killed.elapsed());
}
