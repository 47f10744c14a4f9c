//! One Telegram edge process serving many bots: its memory and CPU while they wait for
//! messages, and messages per second end to end (fake Telegram → edge → core → fake model →
//! edge → fake Telegram), all on loopback.
//!
//! `cargo build --release -p assistchat-edge-telegram && cargo run --release -p assistchat-edge-telegram --example bots_load -- [bots] [messages]`
//! (defaults 1000, 2000). The edge runs as its own process (target/release/assistchat-edge-telegram),
//! so that what is measured is the edge alone.

use std::{
    process::{Child, Command},
    time::{Duration, Instant},
};

use assistchat_core::{Application, Config};
use assistchat_fakes::{FakeOpenAi, FakeTelegram};
use assistchat_proto::v1::{
    CreateResourceRequest, GetBotStatusRequest, Resource, ResourceDesiredState, StartBotRequest,
    bot_service_client::BotServiceClient, resource_service_client::ResourceServiceClient,
};
use assistchat_test_support::{Owner, authed};
use tonic::transport::Channel;

const EDGE_TOKEN: &str = "bots-load-edge-credential-0123456789abcdef";
const USERS: usize = 10;

fn token(bot: usize) -> String {
    format!("{}:AAH{bot:0>40}", 100_000 + bot)
}

/// Resident memory (kB) and CPU time used so far (clock ticks) of a process, from /proc.
fn usage(child: &Child) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let rss = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    (rss, ticks)
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|arg| arg.parse().expect("numbers")).collect();
    let (bots, messages) = (args.first().copied().unwrap_or(1000), args.get(1).copied().unwrap_or(2000));
    let model = FakeOpenAi::start().await;
    let telegram = FakeTelegram::start().await;
    let dir = tempfile::TempDir::new().unwrap();
    let mut config = Config::with_defaults(dir.path().to_path_buf());
    config.edge_token = Some(EDGE_TOKEN.into());
    config.openai_api_key = Some("sk-load".into());
    config.openai_base_url = model.base_url();
    config.daily_token_quota = 0;
    let app = Application::build(config).await.unwrap();
    let core_url = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let channel = Channel::from_shared(core_url.clone()).unwrap().connect().await.unwrap();

    let binary = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("assistchat-edge-telegram");
    let mut edge = Command::new(&binary)
        .env("ASSISTCHAT_CORE_URL", &core_url)
        .env("ASSISTCHAT_EDGE_TOKEN", EDGE_TOKEN)
        .env("ASSISTCHAT_TELEGRAM_API_URL", telegram.api_url())
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap_or_else(|err| panic!("{}: {err}; build it first", binary.display()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_empty, _) = usage(&edge);

    let mut sessions = Vec::new();
    for user in 0..USERS {
        let owner = Owner::sign_up(channel.clone(), &format!("user{user}@example.com")).await;
        sessions.push(owner.session);
    }
    for bot in 0..bots {
        telegram.add_bot(&token(bot), &format!("load_{bot}_bot"));
        let resource = Resource {
            provider: "telegram".into(),
            name: format!("Bot {bot}"),
            secrets: [("bot_token".to_owned(), token(bot))].into(),
            desired_state: ResourceDesiredState::Active.into(),
            ..Default::default()
        };
        let request = authed(CreateResourceRequest { resource: Some(resource) }, &sessions[bot % USERS]);
        ResourceServiceClient::new(channel.clone()).create_resource(request).await.unwrap();
    }
    let started = Instant::now();
    for session in &sessions {
        BotServiceClient::new(channel.clone()).start_bot(authed(StartBotRequest {}, session)).await.unwrap();
    }
    loop {
        let mut ready = 0;
        for session in &sessions {
            let status = BotServiceClient::new(channel.clone())
                .get_bot_status(authed(GetBotStatusRequest {}, session))
                .await
                .unwrap()
                .into_inner();
            ready += status.bot_status.unwrap().ready_count;
        }
        if usize::try_from(ready).unwrap() == bots {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("{bots} bots ready in {:.2?}", started.elapsed());

    // Idle: every bot in a long poll.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss_idle, ticks_before) = usage(&edge);
    let idle = Duration::from_secs(10);
    tokio::time::sleep(idle).await;
    let (_, ticks_after) = usage(&edge);
    let ticks_per_second = 100.0;
    let cpu = (ticks_after - ticks_before) as f64 / ticks_per_second / idle.as_secs_f64() * 100.0;
    println!(
        "edge idle with {bots} bots: {} MB resident ({} MB before any bot, {:.1} kB per bot), CPU {cpu:.1} % of one core",
        rss_idle / 1024,
        rss_empty / 1024,
        (rss_idle.saturating_sub(rss_empty)) as f64 / bots as f64
    );

    // Messages spread over the bots, each from its own person.
    let sent_at = Instant::now();
    let (_, ticks_before) = usage(&edge);
    for n in 0..messages {
        let bot = n % bots;
        telegram.send_text(&token(bot), 10_000 + n as i64, 10_000 + n as i64, "someone", &format!("question {n}"));
    }
    let mut answered = 0;
    for bot in 0..bots.min(messages) {
        let expected = messages / bots + usize::from(bot < messages % bots);
        answered += telegram.wait_for_sent(&token(bot), expected, Duration::from_secs(120)).await.len();
    }
    let elapsed = sent_at.elapsed();
    let (rss_busy, ticks_after) = usage(&edge);
    let cpu = (ticks_after - ticks_before) as f64 / ticks_per_second / elapsed.as_secs_f64() * 100.0;
    println!(
        "{answered} of {messages} messages answered in {elapsed:.2?}: {:.0} messages/s end to end; edge {} MB resident, \
         CPU {cpu:.0} % of one core meanwhile; the model was asked {} times",
        answered as f64 / elapsed.as_secs_f64(),
        rss_busy / 1024,
        model.chat_calls()
    );
    let _ = edge.kill();
    let _ = edge.wait();
}
