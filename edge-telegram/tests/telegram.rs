//! The Telegram edge end to end: a real core, the edge process's provider over real gRPC, a fake
//! Telegram Bot API and a fake OpenAI API on loopback. People write to the bot in the fake
//! Telegram and read what it sends back.

use std::time::Duration;

use assistchat_core::{Application, Config};
use assistchat_edge_client::{EdgeClient, EdgeConfig};
use assistchat_edge_telegram::{Telegram, webhook::MAX_UPDATE_BYTES};
use assistchat_fakes::{
    FakeOpenAi,
    telegram::{Failure, FakeTelegram, GroupText},
};
use assistchat_http::Limits;
use assistchat_proto::v1::{
    Resource, ResourceErrorAction, ResourceState, SendChatMessageRequest, bot_service_client::BotServiceClient,
    resource_service_client::ResourceServiceClient,
};
use assistchat_test_support::{Owner, authed, eventually};
use tempfile::TempDir;
use tonic::transport::Channel;

const EDGE_TOKEN: &str = "telegram-edge-test-credential-0123456789";
const BOT_TOKEN: &str = "7000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const WAIT: Duration = Duration::from_secs(20);

/// Core, the fakes, one signed-up user whose bot is on, and the edge on its own runtime (so
/// that killing it closes its sockets as a crash does).
struct World {
    /// The account, with its channel to core (made again when core restarts).
    owner: Owner,
    core_url: String,
    telegram: FakeTelegram,
    model: FakeOpenAi,
    edge: Option<std::sync::mpsc::Sender<()>>,
    core: Option<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
    /// In webhook mode, where the edge's webhook server listens.
    webhook_server: Option<std::net::SocketAddr>,
    config: Config,
    _dir: TempDir,
}

impl World {
    async fn start() -> Self {
        Self::start_in(false).await
    }

    /// The world with the edge in webhook mode, its server on a loopback port.
    async fn with_webhooks() -> Self {
        Self::start_in(true).await
    }

    async fn start_in(webhooks: bool) -> Self {
        let model = FakeOpenAi::start().await;
        let telegram = FakeTelegram::start().await;
        let dir = TempDir::new().unwrap();
        let mut config = Config::with_defaults(dir.path().to_path_buf());
        // Titles by the model would add calls the fake model counts.
        config.model_titles = false;
        config.edge_token = Some(EDGE_TOKEN.into());
        config.edge_heartbeat = Duration::from_millis(200);
        config.openai_api_key = Some("sk-telegram-test".into());
        config.openai_base_url = model.base_url();
        let (core, core_url) = start_core(&mut config).await;
        let channel = Channel::from_shared(core_url.clone()).unwrap().connect().await.unwrap();
        let owner = Owner::sign_up(channel, "ann@example.com").await;
        owner.start_bot().await;
        let webhook_server = webhooks.then(|| "127.0.0.1:0".parse().unwrap());
        let mut world =
            Self { owner, core_url, telegram, model, edge: None, core: Some(core), webhook_server, config, _dir: dir };
        world.start_edge();
        world
    }

    fn start_edge(&mut self) {
        let config = EdgeConfig {
            core_url: self.core_url.clone(),
            edge_token: EDGE_TOKEN.into(),
            instance_id: Some("telegram-1".into()),
        };
        let (provider, server) = match self.webhook_server {
            None => (Telegram::new(&self.telegram.api_url()).unwrap(), None),
            Some(address) => {
                let (provider, router) =
                    Telegram::with_webhooks(&self.telegram.api_url(), "https://bots.example.test/").unwrap();
                let listener = std::net::TcpListener::bind(address).unwrap();
                listener.set_nonblocking(true).unwrap();
                self.webhook_server = Some(listener.local_addr().unwrap());
                (provider, Some((listener, router)))
            }
        };
        let (kill, killed) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
            if let Some((listener, router)) = server {
                runtime.spawn(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    assistchat_http::serve(listener, router, Limits::default(), std::future::pending()).await;
                });
            }
            runtime.spawn(async move {
                EdgeClient::new(&config, provider).unwrap().run_until(std::future::pending()).await
            });
            let _ = killed.recv();
            runtime.shutdown_background();
        });
        self.edge = Some(kill);
    }

    /// Stops core and starts it again on the same address and database, as an operator does.
    async fn restart_core(&mut self) {
        let (stop, task) = self.core.take().unwrap();
        let _ = stop.send(());
        task.await.unwrap();
        let (core, _) = start_core(&mut self.config).await;
        self.core = Some(core);
        self.owner.channel = Channel::from_shared(self.core_url.clone()).unwrap().connect().await.unwrap();
    }

    fn kill_edge(&mut self) {
        let _ = self.edge.take().unwrap().send(());
    }

    /// Creates an active telegram resource, retrying while the edge is still attaching.
    async fn connect(&self, token: &str, settings: &str) -> Resource {
        let resource = Resource {
            provider: "telegram".into(),
            name: "My bot".into(),
            meta_json: settings.into(),
            secrets: [("bot_token".to_owned(), token.to_owned())].into(),
            ..Default::default()
        };
        self.owner.connect(resource).await
    }

    async fn state_becomes(&self, id: &str, want: ResourceState) -> Resource {
        self.owner.state_becomes(id, want).await
    }

    /// What the model was sent last, as (role, text).
    fn last_prompt(&self) -> Vec<(String, String)> {
        let request = self.model.requests().pop().expect("the model was asked");
        request
            .messages()
            .iter()
            .map(|m| (m["role"].as_str().unwrap().to_owned(), m["content"].as_str().unwrap_or_default().to_owned()))
            .collect()
    }
}

/// Core on `config`, which is then set to listen on the same address again next time.
async fn start_core(config: &mut Config) -> ((tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>), String) {
    let app = Application::build(config.clone()).await.unwrap();
    config.listen = app.local_addr().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        app.run_until_stopped(async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    ((stop, task), format!("http://{}", config.listen))
}

#[tokio::test]
async fn people_get_the_assistants_answers_in_the_same_chat() {
    let world = World::start().await;
    world.telegram.add_bot(BOT_TOKEN, "ann_helper_bot");
    let resource = world.connect(BOT_TOKEN, "{}").await;
    let ready = world.state_becomes(&resource.id, ResourceState::Ready).await;
    let info: Vec<_> = ready.status_info.iter().map(|item| item.value.as_str()).collect();
    assert!(info.contains(&"@ann_helper_bot") && info.contains(&"https://t.me/ann_helper_bot"), "{info:?}");

    world.telegram.send_text(BOT_TOKEN, 501, 501, "zoe", "hello bot");
    let sent = world.telegram.wait_for_sent(BOT_TOKEN, 1, WAIT).await;
    assert_eq!((sent[0].chat_id, sent[0].text.as_str()), (501, "You said: hello bot"));
    world.telegram.send_text(BOT_TOKEN, 501, 501, "zoe", "and more");
    world.telegram.wait_for_sent(BOT_TOKEN, 2, WAIT).await;
    let users: Vec<_> = world.last_prompt().into_iter().filter(|(role, _)| role == "user").map(|(_, t)| t).collect();
    assert_eq!(users, ["hello bot", "and more"], "the chat's memory");
    assert!(world.telegram.chat_action_count(BOT_TOKEN, 501) >= 1, "typing was shown");

    // /reset forgets; /start and /help are answered without the model.
    world.telegram.send_text(BOT_TOKEN, 501, 501, "zoe", "/reset");
    world.telegram.send_text(BOT_TOKEN, 501, 501, "zoe", "/help");
    world.telegram.send_text(BOT_TOKEN, 501, 501, "zoe", "fresh");
    let sent = world.telegram.wait_for_sent(BOT_TOKEN, 5, WAIT).await;
    assert!(sent[2].text.contains("forgot"), "{sent:?}");
    assert!(sent[3].text.contains("/reset"), "{sent:?}");
    assert_eq!(sent[4].text, "You said: fresh");
    assert_eq!(world.last_prompt().len(), 2, "only the system prompt and the new message");
    assert_eq!(world.model.chat_calls(), 3);

    // Not text: a short answer, no model call. A long reply is split between words.
    world.telegram.send_photo(BOT_TOKEN, 501, 501, "zoe", None);
    let sent = world.telegram.wait_for_sent(BOT_TOKEN, 6, WAIT).await;
    assert!(sent[5].text.contains("text"), "{sent:?}");
    world.model.set_reply("word ".repeat(1500));
    world.telegram.send_text(BOT_TOKEN, 501, 501, "zoe", "tell me a lot");
    let sent = world.telegram.wait_for_sent(BOT_TOKEN, 8, WAIT).await;
    assert_eq!(sent.len(), 8, "7500 characters in two messages: {:?}", sent.len());
    assert!(sent[6..].iter().all(|piece| piece.text.chars().count() <= 4096 && !piece.text.ends_with("wor")));
    assert_eq!(world.model.chat_calls(), 4);

    // In a group, only messages for the bot are answered, as replies.
    world.model.set_reply("Group answer.");
    let group = |text: &'static str| GroupText {
        chat_id: -9001,
        title: "Team",
        from_user_id: 777,
        from_username: "max",
        text,
        reply_to: None,
    };
    world.telegram.send_group_text(BOT_TOKEN, group("just chatting"));
    world.telegram.send_group_text(BOT_TOKEN, group("@ann_helper_bot what time is it?"));
    let sent = world.telegram.wait_for_sent(BOT_TOKEN, 9, WAIT).await;
    assert_eq!((sent[8].chat_id, sent[8].text.as_str()), (-9001, "Group answer."));
    assert!(sent[8].reply_to.is_some(), "answered as a reply");
    assert_eq!(world.model.chat_calls(), 5, "the message not for the bot never reached the model");
}

#[tokio::test]
async fn only_allowed_people_reach_the_model() {
    let world = World::start().await;
    world.telegram.add_bot(BOT_TOKEN, "private_helper_bot");
    let resource = world.connect(BOT_TOKEN, r#"{"allowed_users": ["@Zoe_Smith", "1234"]}"#).await;
    world.state_becomes(&resource.id, ResourceState::Ready).await;
    world.telegram.send_text(BOT_TOKEN, 66, 66, "mallory", "let me in");
    let sent = world.telegram.wait_for_sent(BOT_TOKEN, 1, WAIT).await;
    assert!(sent[0].text.contains("private"), "{sent:?}");
    // Telegram refusing the typing action (shown while the model works) costs nobody their reply.
    world.model.set_delay(Duration::from_millis(300));
    world.telegram.fail_always(BOT_TOKEN, "sendChatAction", Failure::BadRequest("Bad Request: chat not found".into()));
    world.telegram.send_text(BOT_TOKEN, 67, 67, "zoe_smith", "hi");
    world.telegram.send_text(BOT_TOKEN, 1234, 1234, "someone", "hi too");
    let sent = world.telegram.wait_for_sent(BOT_TOKEN, 3, WAIT).await;
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().any(|reply| reply.chat_id == 67 && reply.text == "You said: hi"), "{sent:?}");
    assert!(!world.telegram.calls("sendChatAction").is_empty(), "typing was tried");
    assert_eq!(world.model.chat_calls(), 2, "the refused person never reached the model");
}

#[tokio::test]
async fn a_rejected_token_and_a_second_poller_show_on_the_resource() {
    let world = World::start().await;
    // Telegram does not know this token.
    let resource = world.connect("7000002:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsXX", "{}").await;
    let failed = world.state_becomes(&resource.id, ResourceState::Error).await;
    assert!(failed.state_detail.contains("Telegram rejected the token"), "{failed:?}");
    assert_eq!(failed.state_action(), ResourceErrorAction::FixSettings);

    // Another program polls the same bot: 409, shown with what to do, and then it recovers.
    world.telegram.add_bot(BOT_TOKEN, "busy_bot");
    let busy = world.connect(BOT_TOKEN, "{}").await;
    world.state_becomes(&busy.id, ResourceState::Ready).await;
    world.telegram.fail_always(BOT_TOKEN, "getUpdates", Failure::Conflict);
    // A message ends the long poll under way; the next poll meets the conflict.
    world.telegram.send_text(BOT_TOKEN, 5, 5, "zoe", "first");
    let conflict = world.state_becomes(&busy.id, ResourceState::Error).await;
    assert!(conflict.state_detail.contains("409"), "{conflict:?}");
    assert_eq!(conflict.state_action(), ResourceErrorAction::Reconnect);
    world.telegram.stop_failing(BOT_TOKEN, "getUpdates");
    world.state_becomes(&busy.id, ResourceState::Ready).await;

    // Telegram asks to slow down: the edge waits and then answers.
    world.telegram.fail_next(BOT_TOKEN, "getUpdates", Failure::TooManyRequests { retry_after_secs: 1 });
    world.telegram.send_text(BOT_TOKEN, 5, 5, "zoe", "still there?");
    let sent = world.telegram.wait_for_sent(BOT_TOKEN, 2, WAIT).await;
    assert_eq!(sent[1].text, "You said: still there?");
}

#[tokio::test]
async fn an_edge_crash_loses_no_message_and_answers_none_twice() {
    let mut world = World::start().await;
    world.telegram.add_bot(BOT_TOKEN, "sturdy_bot");
    let resource = world.connect(BOT_TOKEN, "{}").await;
    world.state_becomes(&resource.id, ResourceState::Ready).await;
    // The model is slow: the edge dies while core is answering.
    world.model.set_delay(Duration::from_millis(1500));
    world.telegram.send_text(BOT_TOKEN, 9, 9, "zoe", "do not lose me");
    eventually("core asking the model", || async { calls(&world.model, 1) }).await;
    world.kill_edge();
    assert_eq!(world.telegram.pending_updates(BOT_TOKEN).len(), 1, "not confirmed before the answer");
    world.start_edge();
    let sent = world.telegram.wait_for_sent(BOT_TOKEN, 1, WAIT).await;
    assert_eq!(sent[0].text, "You said: do not lose me");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(world.telegram.sent(BOT_TOKEN).len(), 1, "answered once");
    assert_eq!(world.model.chat_calls(), 1, "the model was asked once");
    eventually("the update's confirmation", || async {
        let pending = world.telegram.pending_updates(BOT_TOKEN);
        if pending.is_empty() { Ok(()) } else { Err(pending) }
    })
    .await;
}

#[tokio::test]
async fn a_paused_bot_answers_nothing_and_a_restarted_core_gets_answers_again() {
    let mut world = World::start().await;
    world.telegram.add_bot(BOT_TOKEN, "pausable_bot");
    let resource = world.connect(BOT_TOKEN, "{}").await;
    world.state_becomes(&resource.id, ResourceState::Ready).await;

    let pause = assistchat_proto::v1::PauseResourceRequest { id: resource.id.clone() };
    ResourceServiceClient::new(world.owner.channel.clone())
        .pause_resource(authed(pause, &world.owner.session))
        .await
        .unwrap();
    world.state_becomes(&resource.id, ResourceState::Paused).await;
    // Polling ends at once: nothing more is taken from Telegram or answered.
    tokio::time::sleep(Duration::from_millis(500)).await;
    world.telegram.send_text(BOT_TOKEN, 3, 3, "zoe", "anyone?");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(world.telegram.sent(BOT_TOKEN).is_empty());
    assert_eq!(world.telegram.pending_updates(BOT_TOKEN).len(), 1, "the message waits at Telegram");

    // Activated again, the waiting message is answered.
    let activate = assistchat_proto::v1::ActivateResourceRequest { id: resource.id.clone() };
    ResourceServiceClient::new(world.owner.channel.clone())
        .activate_resource(authed(activate, &world.owner.session))
        .await
        .unwrap();
    let sent = world.telegram.wait_for_sent(BOT_TOKEN, 1, WAIT).await;
    assert_eq!(sent[0].text, "You said: anyone?");

    // Core restarts under the edge: it attaches again by itself and answers again.
    world.restart_core().await;
    world.state_becomes(&resource.id, ResourceState::Ready).await;
    world.telegram.send_text(BOT_TOKEN, 3, 3, "zoe", "back?");
    let sent = world.telegram.wait_for_sent(BOT_TOKEN, 2, WAIT).await;
    assert_eq!(sent[1].text, "You said: back?");
    assert_eq!(world.telegram.sent(BOT_TOKEN).len(), 2, "nothing answered twice");
}

/// A private text message as Telegram posts it to a webhook.
fn posted_update(update_id: i64, text: &str) -> String {
    serde_json::json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": 42, "type": "private", "first_name": "Zoe"},
            "from": {"id": 42, "is_bot": false, "first_name": "Zoe", "language_code": "en"},
            "text": text
        }
    })
    .to_string()
}

#[tokio::test]
async fn webhooks_take_only_telegrams_signed_posts_and_answer_each_once() {
    let world = World::with_webhooks().await;
    world.telegram.add_bot(BOT_TOKEN, "hooked_bot");
    let resource = world.connect(BOT_TOKEN, "{}").await;
    let ready = world.state_becomes(&resource.id, ResourceState::Ready).await;
    let path = format!("/telegram/{}", resource.id);
    let webhook = world.telegram.webhook(BOT_TOKEN).unwrap_or_else(|| {
        panic!("no webhook: {:?}", world.telegram.requests().iter().map(|r| r.method.clone()).collect::<Vec<_>>())
    });
    assert_eq!(webhook.url, format!("https://bots.example.test{path}"));
    assert!(ready.status_info.iter().any(|item| item.value == webhook.url), "{:?}", ready.status_info);
    let secret = webhook.secret_token.expect("a secret is set");
    assert!(secret.len() >= 32);

    let server = format!("http://{}{path}", world.webhook_server.unwrap());
    let http = reqwest::Client::new();
    let post = |secret: Option<&str>, body: String| {
        let mut request = http.post(&server).header("content-type", "application/json").body(body);
        if let Some(secret) = secret {
            request = request.header("x-telegram-bot-api-secret-token", secret);
        }
        request.send()
    };
    for forged in [None, Some("not-the-secret")] {
        let response = post(forged, posted_update(1, "forged")).await.unwrap();
        assert_eq!(response.status(), 401);
    }
    assert_eq!(world.model.chat_calls(), 0, "a forged post has no effect");

    let response = post(Some(&secret), posted_update(2, "hello hook")).await.unwrap();
    assert_eq!(response.status(), 200);
    let sent = world.telegram.sent(BOT_TOKEN);
    assert_eq!((sent.len(), sent[0].text.as_str()), (1, "You said: hello hook"), "answered before acknowledged");
    // Telegram delivers the same update again: acknowledged, not answered twice.
    let response = post(Some(&secret), posted_update(2, "hello hook")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(world.telegram.sent(BOT_TOKEN).len(), 1);
    assert_eq!(world.model.chat_calls(), 1);

    // Paused: the path is gone, and so is the webhook: Telegram keeps the updates meanwhile.
    let pause = assistchat_proto::v1::PauseResourceRequest { id: resource.id.clone() };
    ResourceServiceClient::new(world.owner.channel.clone())
        .pause_resource(authed(pause, &world.owner.session))
        .await
        .unwrap();
    world.state_becomes(&resource.id, ResourceState::Paused).await;
    eventually("the stopped bot's path answering 404", || async {
        let status = post(Some(&secret), posted_update(3, "late")).await.unwrap().status().as_u16();
        if status == 404 { Ok(()) } else { Err(status) }
    })
    .await;
    eventually("the webhook's removal at Telegram, which would fail to deliver to it", || async {
        match world.telegram.webhook(BOT_TOKEN) {
            None => Ok(()),
            Some(webhook) => Err(webhook),
        }
    })
    .await;
}

/// `Ok` once the model was asked `want` times; else how many times it was.
fn calls(model: &FakeOpenAi, want: usize) -> Result<(), usize> {
    let calls = model.chat_calls();
    if calls == want { Ok(()) } else { Err(calls) }
}

/// Reads until the server closes the connection, within a bound far above the limit tested.
async fn read_until_closed(stream: &mut tokio::net::TcpStream) {
    use tokio::io::AsyncReadExt;
    let closed = tokio::time::timeout(WAIT, async {
        let mut buffer = [0u8; 1024];
        while let Ok(1..) = stream.read(&mut buffer).await {}
    })
    .await;
    assert!(closed.is_ok(), "the webhook server kept the connection open for {WAIT:?}");
}

#[tokio::test]
async fn the_webhook_server_closes_connections_that_never_finish_their_headers_and_refuses_huge_bodies() {
    use tokio::io::AsyncWriteExt;
    // No bot runs, so nothing is ever sent to this (unused) Bot API address.
    let (_provider, router) = Telegram::with_webhooks("http://127.0.0.1:9", "https://bots.example.test/").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let limits = Limits { header_read_timeout: Duration::from_millis(300), ..Limits::default() };
    tokio::spawn(assistchat_http::serve(listener, router, limits, std::future::pending()));

    let mut slow = tokio::net::TcpStream::connect(address).await.unwrap();
    slow.write_all(b"POST /telegram/r1 HTTP/1.1\r\nHost: bots.example.test\r\nX-Telegram-Bot-Api-Secret-To")
        .await
        .unwrap();
    read_until_closed(&mut slow).await;
    let mut silent = tokio::net::TcpStream::connect(address).await.unwrap();
    read_until_closed(&mut silent).await;

    let url = format!("http://{address}/telegram/r1");
    let huge = reqwest::Client::new().post(&url).body(vec![b' '; MAX_UPDATE_BYTES + 1]).send().await.unwrap();
    assert_eq!(huge.status(), 413);
    let small = reqwest::Client::new().post(&url).body("{}").send().await.unwrap();
    assert_eq!(small.status(), 404, "an ordinary post reaches the route, which has no bot");
}

#[tokio::test]
async fn a_message_past_the_owners_calls_at_once_is_answered_with_when_to_send_again() {
    let mut world = World::start().await;
    world.config.max_calls_per_user = 1;
    world.restart_core().await;
    world.telegram.add_bot(BOT_TOKEN, "ann_helper_bot");
    let resource = world.connect(BOT_TOKEN, "{}").await;
    world.state_becomes(&resource.id, ResourceState::Ready).await;
    // The owner's browser chat holds the one call a user may have running.
    world.model.set_delay(Duration::from_secs(3));
    let mut bot = BotServiceClient::new(world.owner.channel.clone());
    let request = SendChatMessageRequest { text: "a slow question".into(), client_message_id: String::new() };
    let request = authed(request, &world.owner.session);
    let held = tokio::spawn(async move { bot.send_chat_message(request).await });
    eventually("core asking the model", || async { calls(&world.model, 1) }).await;

    world.telegram.send_text(BOT_TOKEN, 501, 501, "zoe", "hello bot");
    let sent = world.telegram.wait_for_sent(BOT_TOKEN, 1, WAIT).await;
    assert!(sent[0].text.contains("already answering 1 of your messages"), "{sent:?}");
    assert!(sent[0].text.contains("send this message again in 5 s"), "{sent:?}");
    assert_eq!(world.model.chat_calls(), 1, "the message past the limit asked the model nothing");
    held.await.unwrap().expect("the held call is answered");
}

/// The world with a bot that is ready, answering in chat 501.
async fn ready_world(username: &str) -> World {
    let world = World::start().await;
    world.telegram.add_bot(BOT_TOKEN, username);
    let resource = world.connect(BOT_TOKEN, "{}").await;
    world.state_becomes(&resource.id, ResourceState::Ready).await;
    world
}

#[tokio::test]
async fn a_markdown_reply_arrives_formatted() {
    let world = ready_world("formatting_bot").await;
    world
        .model
        .set_reply("Use **care** with `x < 1`:\n\n```rust\nlet y = 2;\n```\n\nSee [docs](https://docs.example.test).");
    world.telegram.send_text(BOT_TOKEN, 501, 501, "zoe", "how?");
    let sent = world.telegram.wait_for_sent(BOT_TOKEN, 1, WAIT).await;
    assert_eq!(sent[0].parse_mode.as_deref(), Some("HTML"));
    assert_eq!(sent[0].plain_text, "Use care with x < 1:\n\nlet y = 2;\n\nSee docs.");
    let entities: Vec<_> = sent[0]
        .entities
        .iter()
        .map(|entity| (entity.kind.as_str(), entity.offset, entity.length, entity.language.as_deref()))
        .collect();
    assert_eq!(
        entities,
        [("bold", 4, 4), ("code", 14, 5), ("pre", 22, 10), ("text_link", 38, 4)].map(|(kind, offset, length)| (
            kind,
            offset,
            length,
            (kind == "pre").then_some("rust")
        ))
    );
    assert_eq!(sent[0].entities[3].url.as_deref(), Some("https://docs.example.test"));
}

#[tokio::test]
async fn a_reply_telegram_cannot_format_arrives_as_plain_text() {
    let world = ready_world("fallback_bot").await;
    world.model.set_reply("A **bold** claim & a `<tag>`.");
    world.telegram.refuse_formatting_once(BOT_TOKEN);
    world.telegram.send_text(BOT_TOKEN, 501, 501, "zoe", "claim?");
    let sent = world.telegram.wait_for_sent(BOT_TOKEN, 1, WAIT).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].parse_mode, None);
    assert_eq!(sent[0].text, "A bold claim & a <tag>.", "the text as it reads, markup dropped");
    let refused = world.telegram.calls("sendMessage");
    assert_eq!(refused.len(), 2, "the formatted try, then the plain one");
    assert_eq!(refused[0].body["parse_mode"], "HTML");
}

#[tokio::test]
async fn a_long_emoji_heavy_reply_is_cut_into_messages_telegram_takes_without_cutting_a_span() {
    let world = ready_world("longwinded_bot").await;
    let paragraph = "Party 🎉🎉 with **bold 😀 words** and *italic 👍🏽 ones* here.\n\n";
    let reply = paragraph.repeat(300);
    world.model.set_reply(reply.clone());
    world.telegram.send_text(BOT_TOKEN, 501, 501, "zoe", "celebrate");
    let whole_units: usize = reply.replace("**", "").replace('*', "").trim().encode_utf16().count();
    let expected = whole_units.div_ceil(4096);
    let sent = world.telegram.wait_for_sent(BOT_TOKEN, expected, WAIT).await;
    assert!(sent.len() >= expected, "{} messages", sent.len());
    // Nothing more trickles in.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = world.telegram.sent(BOT_TOKEN);
    for message in &sent {
        assert_eq!(message.parse_mode.as_deref(), Some("HTML"));
        assert!(message.plain_text.encode_utf16().count() <= 4096, "{}", message.plain_text.len());
        assert!(message.plain_text.starts_with("Party") && message.plain_text.ends_with("here."), "cut at a paragraph");
        let bold = message.entities.iter().filter(|entity| entity.kind == "bold").count();
        assert_eq!(bold, message.plain_text.matches("Party").count(), "every bold span whole");
    }
    let joined: Vec<&str> = sent.iter().map(|message| message.plain_text.as_str()).collect();
    assert_eq!(joined.join("\n\n"), reply.replace("**", "").replace('*', "").trim());
}
