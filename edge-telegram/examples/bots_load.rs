//! One Telegram edge process serving many bots: its memory and CPU while they wait for
//! messages, and messages per second end to end (fake Telegram → edge → core → fake model →
//! edge → fake Telegram), all on loopback.
//!
//! `cargo build --release -p assistchat-edge-telegram && cargo run --release -p assistchat-edge-telegram --example bots_load -- [bots] [messages]`
//! (defaults 1000, 2000). The edge runs as its own process (target/release/assistchat-edge-telegram),
//! so that what is measured is the edge alone.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use assistchat_fakes::{FakeOpenAi, FakeTelegram};
use assistchat_proto::v1::{Resource, ResourceDesiredState};
use assistchat_test_support::load::{self, LoadCore, Usage};

const EDGE_TOKEN: &str = "bots-load-edge-credential-0123456789abcdef";
const USERS: usize = 10;

fn token(bot: usize) -> String {
    format!("{}:AAH{bot:0>40}", 100_000 + bot)
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|arg| arg.parse().expect("numbers")).collect();
    let (bots, messages) = (args.first().copied().unwrap_or(1000), args.get(1).copied().unwrap_or(2000));
    let model = FakeOpenAi::start().await;
    let telegram = FakeTelegram::start().await;
    let core = LoadCore::start(EDGE_TOKEN, |config| load::answer_with(config, model.base_url())).await;

    let binary = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("assistchat-edge-telegram");
    let mut edge = Command::new(&binary)
        .env("ASSISTCHAT_CORE_URL", &core.url)
        .env("ASSISTCHAT_EDGE_TOKEN", EDGE_TOKEN)
        .env("ASSISTCHAT_TELEGRAM_API_URL", telegram.api_url())
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap_or_else(|err| panic!("{}: {err}; build it first", binary.display()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let empty = Usage::of(&edge);

    let owners = core.owners(USERS).await;
    for bot in 0..bots {
        telegram.add_bot(&token(bot), &format!("load_{bot}_bot"));
        let resource = Resource {
            provider: "telegram".into(),
            name: format!("Bot {bot}"),
            secrets: [("bot_token".to_owned(), token(bot))].into(),
            desired_state: ResourceDesiredState::Active.into(),
            ..Default::default()
        };
        owners[bot % USERS].connect(resource).await;
    }
    let started = Instant::now();
    for owner in &owners {
        owner.start_bot().await;
    }
    load::counts_become(&owners, &format!("all {bots} bots ready"), |counts| counts.ready == bots).await;
    println!("{bots} bots ready in {:.2?}", started.elapsed());

    // Idle: every bot in a long poll.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = Usage::of(&edge);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let cpu = Usage::of(&edge).cpu_percent_since(&idle);
    println!(
        "edge idle with {bots} bots: {} MB resident ({} MB before any bot, {:.1} kB per bot), CPU {cpu:.1} % of one core",
        idle.resident_mb(),
        empty.resident_mb(),
        (idle.resident_kb.saturating_sub(empty.resident_kb)) as f64 / bots as f64
    );

    // Messages spread over the bots, each from its own person.
    let sent_at = Instant::now();
    let before = Usage::of(&edge);
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
    let busy = Usage::of(&edge);
    let cpu = busy.cpu_percent_since(&before);
    println!(
        "{answered} of {messages} messages answered in {elapsed:.2?}: {:.0} messages/s end to end; edge {} MB resident, \
         CPU {cpu:.0} % of one core meanwhile; the model was asked {} times",
        answered as f64 / elapsed.as_secs_f64(),
        busy.resident_mb(),
        model.chat_calls()
    );
    let _ = edge.kill();
    let _ = edge.wait();
}
