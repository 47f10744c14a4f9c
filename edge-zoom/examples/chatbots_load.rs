//! One Zoom edge process serving many Team Chat chatbots: how long they take to become ready,
//! its memory while they wait, and, under signed `bot_notification` posts, replies per second
//! end to end (webhook → edge → core → fake model → edge → fake Zoom chat API), how long each
//! post waits for its acknowledgement (Zoom posts again what is not acknowledged within about
//! three seconds), and its memory after; all on loopback.
//!
//! `cargo run --release -p assistchat-edge-zoom --example chatbots_load -- [chatbots] [messages]`
//! (defaults 200, 2000). The posts go 32 at a time, spread over the chatbots, each from its own
//! person. The edge runs as its own process, so that what is measured is the edge alone: this
//! example started again with `CHATBOTS_LOAD_RUN_AS_EDGE` set, which then does exactly what
//! `assistchat-edge-zoom` (src/main.rs) does and nothing else.

use std::{
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use assistchat_fakes::{
    FakeOpenAi,
    zoom::{Endpoint, FakeZoom},
};
use assistchat_proto::v1::{Resource, ResourceDesiredState};
use assistchat_test_support::{
    eventually_within,
    load::{self, LoadCore, Usage},
    poll,
};
use clap::Parser;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

/// Set in the environment of the copy of this example that is the edge.
const RUN_AS_EDGE: &str = "CHATBOTS_LOAD_RUN_AS_EDGE";
const EDGE_TOKEN: &str = "chatbots-load-edge-credential-0123456789abcdef";
const USERS: usize = 10;
/// Posts under way at once.
const CONCURRENCY: usize = 32;
const ACCOUNT_ID: &str = "AcctLoad-42";
/// How long to wait for the chatbots to be ready, and for the replies.
const PATIENCE: Duration = Duration::from_secs(120);

fn main() {
    if std::env::var_os(RUN_AS_EDGE).is_some() { edge() } else { load() }
}

/// The edge process, as src/main.rs runs it.
#[tokio::main]
async fn edge() {
    tracing_subscriber::fmt().with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into())).init();
    let config = assistchat_edge_zoom::Config::parse_from(["assistchat-edge-zoom"]);
    let client = config.zoom.edge(&config.edge).await.expect("the edge and its webhook server start");
    client.run_until(assistchat_edge_client::shutdown::requested()).await;
}

/// One chatbot: its Team Chat app in the fake Zoom and its resource in core.
struct Chatbot {
    resource_id: String,
    bot_jid: String,
    secret_token: String,
}

impl Chatbot {
    fn client_id(n: usize) -> String {
        format!("LoadClient{n:05}")
    }

    fn client_secret(n: usize) -> String {
        format!("LoadSecret{n:05}abcdef")
    }
}

/// `v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{body}` under the secret token, as Zoom
/// signs its posts.
fn zoom_signature(secret_token: &str, timestamp: u64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret_token.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Message `n`: a person of its own writing to the chatbot in their own chat with it.
fn written(chatbot: &Chatbot, n: usize) -> String {
    let timestamp = 1_700_000_000_000 + i64::try_from(n).unwrap();
    json!({
        "event": "bot_notification",
        "payload": {
            "accountId": ACCOUNT_ID,
            "cmd": format!("question {n}"),
            "robotJid": chatbot.bot_jid,
            "timestamp": timestamp,
            "toJid": format!("person{n}@xmpp.zoom.us"),
            "userId": format!("person{n}-id"),
            "userJid": format!("person{n}@xmpp.zoom.us"),
            "userName": format!("Person {n}"),
            "channelName": "",
            "triggerId": format!("trigger-{n}")
        },
        "event_ts": timestamp + 7
    })
    .to_string()
}

/// What the posts met: each acknowledgement's latency, and the posts answered 503 (the chatbot's
/// queue full), which were posted again as Zoom would, or anything else but 200.
#[derive(Default)]
struct Posted {
    latencies: Vec<Duration>,
    busy: usize,
    other: Vec<u16>,
}

/// Posts messages `next..messages` as Zoom would, one at a time, until none is left.
async fn post_messages(
    http: reqwest::Client,
    webhooks: String,
    chatbots: Arc<Vec<Chatbot>>,
    next: Arc<AtomicUsize>,
    messages: usize,
) -> Posted {
    let mut posted = Posted::default();
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= messages {
            return posted;
        }
        let chatbot = &chatbots[n % chatbots.len()];
        let body = written(chatbot, n);
        loop {
            let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
            let sent = Instant::now();
            let status = http
                .post(format!("{webhooks}/zoom/{}", chatbot.resource_id))
                .header("content-type", "application/json; charset=utf-8")
                .header("x-zm-request-timestamp", timestamp.to_string())
                .header("x-zm-signature", zoom_signature(&chatbot.secret_token, timestamp, &body))
                .body(body.clone())
                .send()
                .await
                .map_or(0, |response| response.status().as_u16());
            posted.latencies.push(sent.elapsed());
            match status {
                200 => break,
                503 => {
                    posted.busy += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => {
                    posted.other.push(other);
                    break;
                }
            }
        }
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    sorted[index]
}

/// The replies the fake Zoom accepted so far (read from its log of calls, which is cheaper to
/// copy than the messages themselves).
fn replies(zoom: &FakeZoom) -> usize {
    zoom.attempts_at(Endpoint::Messages).iter().filter(|attempt| attempt.status == 201).count()
}

#[tokio::main]
async fn load() {
    let args: Vec<usize> = std::env::args().skip(1).map(|arg| arg.parse().expect("numbers")).collect();
    let (count, messages) = (args.first().copied().unwrap_or(200).max(1), args.get(1).copied().unwrap_or(2000));
    let model = FakeOpenAi::start().await;
    let zoom = FakeZoom::start().await;
    let core = LoadCore::start(EDGE_TOKEN, |config| load::answer_with(config, model.base_url())).await;

    // A free loopback port for the edge's webhook server.
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let webhooks = format!("http://{listen}");
    let mut edge = Command::new(std::env::current_exe().unwrap())
        .env(RUN_AS_EDGE, "1")
        .env("ASSISTCHAT_CORE_URL", &core.url)
        .env("ASSISTCHAT_EDGE_TOKEN", EDGE_TOKEN)
        .env("ASSISTCHAT_ZOOM_OAUTH_URL", zoom.base_url())
        .env("ASSISTCHAT_ZOOM_API_URL", zoom.base_url())
        .env("ASSISTCHAT_ZOOM_PUBLIC_URL", "https://zoom.load.test")
        .env("ASSISTCHAT_ZOOM_LISTEN", listen.to_string())
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    eventually_within(PATIENCE, "the edge's webhook server listening", || {
        http.post(format!("{webhooks}/zoom/none")).send()
    })
    .await;

    let owners = core.owners(USERS).await;
    let mut chatbots = Vec::new();
    for n in 0..count {
        let bot_jid = format!("v1load{n:05}@xmpp.zoom.us");
        let secret_token = format!("load-secret-token-{n:05}");
        zoom.add_app(&Chatbot::client_id(n), &Chatbot::client_secret(n), &bot_jid);
        let settings = json!({"client_id": Chatbot::client_id(n), "bot_jid": bot_jid, "account_id": ACCOUNT_ID});
        let resource = Resource {
            provider: "zoom".into(),
            name: format!("Chatbot {n}"),
            meta_json: settings.to_string(),
            secrets: [
                ("client_secret".to_owned(), Chatbot::client_secret(n)),
                ("webhook_secret_token".to_owned(), secret_token.clone()),
            ]
            .into(),
            desired_state: ResourceDesiredState::Active.into(),
            ..Default::default()
        };
        // Core knows the provider once the edge has attached: the first one may take retries.
        let created = owners[n % USERS].connect(resource).await;
        chatbots.push(Chatbot { resource_id: created.id, bot_jid, secret_token });
    }
    let empty = Usage::of(&edge);

    let started = Instant::now();
    for owner in &owners {
        owner.start_bot().await;
    }
    // A run that times out still reports what it measured.
    let (Ok(seen) | Err(seen)) = load::until_counts(&owners, PATIENCE, |counts| counts.ready >= count).await;
    let ready = seen.ready;
    println!(
        "{ready} of {count} chatbots ready in {:.2?} (connected, bots started; {} chatbot tokens got from Zoom)",
        started.elapsed(),
        zoom.tokens_issued()
    );

    // Idle: every chatbot's webhook open, nothing posted.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = Usage::of(&edge);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cpu = Usage::of(&edge).cpu_percent_since(&idle);
    println!(
        "edge idle with {count} chatbots: {} MB resident ({} MB before any chatbot ran, {:.1} kB per chatbot), \
         CPU {cpu:.1} % of one core",
        idle.resident_mb(),
        empty.resident_mb(),
        (idle.resident_kb.saturating_sub(empty.resident_kb)) as f64 / count as f64
    );

    // Signed posts spread over the chatbots, CONCURRENCY at a time.
    let chatbots = Arc::new(chatbots);
    let next = Arc::new(AtomicUsize::new(0));
    let before = Usage::of(&edge);
    let sent_at = Instant::now();
    let posters: Vec<_> = (0..CONCURRENCY)
        .map(|_| tokio::spawn(post_messages(http.clone(), webhooks.clone(), chatbots.clone(), next.clone(), messages)))
        .collect();
    let (Ok(answered) | Err(answered)) = poll(PATIENCE, Duration::from_millis(10), || {
        let answered = replies(&zoom);
        std::future::ready(if answered >= messages { Ok(answered) } else { Err(answered) })
    })
    .await;
    let elapsed = sent_at.elapsed();
    let busy = Usage::of(&edge);
    let mut posted = Posted::default();
    for poster in posters {
        let one = poster.await.unwrap();
        posted.latencies.extend(one.latencies);
        posted.busy += one.busy;
        posted.other.extend(one.other);
    }
    posted.latencies.sort();
    let cpu = busy.cpu_percent_since(&before);
    println!(
        "{answered} of {messages} replies at the Zoom chat API in {elapsed:.2?}: {:.0} replies/s end to end; \
         acknowledged in p50 {:.2?}, p99 {:.2?}, max {:.2?} ({} posts, {} answered 503 and posted again, {} otherwise \
         refused{}); edge {} MB resident after, CPU {cpu:.0} % of one core meanwhile; the model was asked {} times",
        answered as f64 / elapsed.as_secs_f64(),
        percentile(&posted.latencies, 0.50),
        percentile(&posted.latencies, 0.99),
        posted.latencies.last().copied().unwrap_or_default(),
        posted.latencies.len(),
        posted.busy,
        posted.other.len(),
        if posted.other.is_empty() {
            String::new()
        } else {
            format!(": {:?}", &posted.other[..posted.other.len().min(5)])
        },
        busy.resident_mb(),
        model.chat_calls()
    );
    let _ = edge.kill();
    let _ = edge.wait();
}
