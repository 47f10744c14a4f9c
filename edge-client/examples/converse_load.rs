//! What core adds to each message: one edge sends messages through EdgeService.Converse to a
//! core whose model is a fake OpenAI server answering at once, over loopback. Every message is
//! stored, its chat's memory read, the model asked and the reply and usage stored, as in
//! production; what is measured is messages per second and each call's latency.
//!
//! `cargo run --release -p assistchat-edge-client --example converse_load -- [messages] [concurrency] [chats]`
//! (defaults 5000, 32, 64); `DATABASE_URL=postgres://...` runs it on PostgreSQL.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use assistchat_edge_client::{EdgeClient, EdgeConfig, Provider, ProviderHello, ResourceStart, Session};
use assistchat_fakes::FakeOpenAi;
use assistchat_proto::v1::{ChannelUser, Resource, ResourceDesiredState};
use assistchat_test_support::{
    Owner,
    load::{self, LoadCore},
};
use tokio::sync::oneshot;

const EDGE_TOKEN: &str = "converse-load-edge-credential-0123456789";

/// How long the whole load took, and each message's latency.
type Outcome = (Duration, Vec<Duration>);

/// The load: once its resource starts, it sends every message and hands back the latencies.
struct Load {
    messages: usize,
    concurrency: usize,
    chats: usize,
    done: Mutex<Option<oneshot::Sender<Outcome>>>,
}

impl Provider for Load {
    fn hello(&self) -> ProviderHello {
        ProviderHello {
            name: "load".into(),
            display_name: "Load".into(),
            version: "1".into(),
            settings_schema_json: r#"{"type":"object","properties":{"token":{"type":"string"}}}"#.into(),
            secret_fields: vec!["token".into()],
            ..Default::default()
        }
    }

    async fn run(&self, _start: ResourceStart, session: Session) {
        session.ready("Sending.", Vec::new());
        let session = Arc::new(session);
        let per_task = self.messages / self.concurrency;
        let started = Instant::now();
        let tasks: Vec<_> = (0..self.concurrency)
            .map(|task| {
                let (session, chats) = (session.clone(), self.chats);
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(per_task);
                    for n in 0..per_task {
                        let chat = format!("chat-{}", (task * per_task + n) % chats);
                        let sender = ChannelUser { id: format!("person-{task}"), ..Default::default() };
                        let text = format!("message {n} from task {task}: how are things going today?");
                        let sent = Instant::now();
                        session.converse(&chat, sender, &format!("{task}-{n}"), &text).await.expect("answered");
                        latencies.push(sent.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies = Vec::with_capacity(self.messages);
        for task in tasks {
            latencies.extend(task.await.unwrap());
        }
        let elapsed = started.elapsed();
        if let Some(done) = self.done.lock().unwrap().take() {
            let _ = done.send((elapsed, latencies));
        }
        session.cancelled().await;
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into())).init();
    let args: Vec<usize> = std::env::args().skip(1).map(|arg| arg.parse().expect("numbers")).collect();
    let (messages, concurrency, chats) =
        (args.first().copied().unwrap_or(5000), args.get(1).copied().unwrap_or(32), args.get(2).copied().unwrap_or(64));
    let fake = FakeOpenAi::start().await;
    let core = LoadCore::start(EDGE_TOKEN, |config| {
        config.database_url = std::env::var("DATABASE_URL").ok();
        load::answer_with(config, fake.base_url());
    })
    .await;

    let (done, finished) = oneshot::channel();
    let load = Load { messages, concurrency, chats, done: Mutex::new(Some(done)) };
    let edge_config = EdgeConfig { core_url: core.url.clone(), edge_token: EDGE_TOKEN.into(), instance_id: None };
    tokio::spawn(async move { EdgeClient::new(&edge_config, load).unwrap().run_until(std::future::pending()).await });
    tokio::time::sleep(Duration::from_millis(500)).await;

    let owner = Owner::sign_up(core.channel.clone(), "load@example.com").await;
    let resource = Resource {
        provider: "load".into(),
        name: "Load".into(),
        secrets: [("token".to_owned(), "load-token".to_owned())].into(),
        desired_state: ResourceDesiredState::Active.into(),
        ..Default::default()
    };
    owner.connect(resource).await;
    owner.start_bot().await;

    let (elapsed, mut latencies) = finished.await.unwrap();
    latencies.sort();
    let at = |share: f64| latencies[((latencies.len() as f64 * share) as usize).min(latencies.len() - 1)];
    println!(
        "{} messages ({concurrency} at a time, {chats} chats) in {elapsed:.2?}: {:.0} messages/s; latency p50 {:.2?}, \
         p99 {:.2?}; the model was asked {} times",
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.5),
        at(0.99),
        fake.chat_calls(),
    );
}
