//! The Zoom edge end to end: a real core, the edge's provider over real gRPC with its webhook
//! server on a loopback port, a fake of Zoom's OAuth and Chatbot APIs and a fake OpenAI API.
//! The tests play Zoom posting signed events to the webhook, and read what the chatbot sent.

use std::time::Duration;

use assistchat_core::{Application, Config};
use assistchat_edge_client::{EdgeClient, EdgeConfig, WebhookServer};
use assistchat_edge_zoom::{Zoom, webhook::MAX_EVENT_BYTES};
use assistchat_fakes::{
    FakeOpenAi,
    zoom::{Endpoint, Failure, FakeZoom, SentMessage},
};
use assistchat_http::Limits;
use assistchat_proto::v1::{
    ActivateResourceRequest, PauseResourceRequest, Resource, ResourceErrorAction, ResourceState,
    resource_service_client::ResourceServiceClient,
};
use assistchat_test_support::{Owner, authed};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tempfile::TempDir;
use tonic::transport::Channel;

const EDGE_TOKEN: &str = "zoom-edge-test-credential-0123456789";
const CLIENT_ID: &str = "ZoomClient0123";
const CLIENT_SECRET: &str = "ZoomSecret0123456789abcdef";
const BOT_JID: &str = "v1bot_helper-a@xmpp.zoom.us";
const ACCOUNT_ID: &str = "AcctZoom-42";
/// The secret token of the test vectors below.
const SECRET_TOKEN: &str = "zoom-webhook-secret-token-1234";
const PUBLIC_URL: &str = "https://zoom.example.test";
const WAIT: Duration = Duration::from_secs(20);

/// Core, the fakes, one signed-up user whose bot is on, and the Zoom edge with its webhook
/// server.
struct World {
    /// The account, with its channel to core.
    owner: Owner,
    zoom: FakeZoom,
    model: FakeOpenAi,
    /// Where the edge's webhook server listens.
    webhooks: String,
    http: reqwest::Client,
    _core: tokio::sync::oneshot::Sender<()>,
    _dir: TempDir,
}

impl World {
    async fn start() -> Self {
        let model = FakeOpenAi::start().await;
        let zoom = FakeZoom::start().await;
        zoom.add_app(CLIENT_ID, CLIENT_SECRET, BOT_JID);
        let dir = TempDir::new().unwrap();
        let mut config = Config::with_defaults(dir.path().to_path_buf());
        // Titles by the model would add calls the fake model counts; the tests of titles turn them on.
        config.model_titles = false;
        config.edge_token = Some(EDGE_TOKEN.into());
        config.edge_heartbeat = Duration::from_millis(200);
        config.openai_api_key = Some("sk-zoom-test".into());
        config.openai_base_url = model.base_url();
        let app = Application::build(config).await.unwrap();
        let core_url = format!("http://{}", app.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        let channel = Channel::from_shared(core_url.clone()).unwrap().connect().await.unwrap();
        let owner = Owner::sign_up(channel, "ann@example.com").await;
        owner.start_bot().await;

        let (provider, router) = Zoom::new(&zoom.base_url(), &zoom.base_url(), PUBLIC_URL).unwrap();
        let server = WebhookServer::bind("127.0.0.1:0", "ASSISTCHAT_ZOOM_LISTEN", router).await.unwrap();
        let webhooks = format!("http://{}", server.local_addr().unwrap());
        let edge = EdgeConfig { core_url, edge_token: EDGE_TOKEN.into(), instance_id: Some("zoom-1".into()) };
        let client = EdgeClient::new(&edge, provider).unwrap().with_webhooks(server);
        tokio::spawn(client.run_until(std::future::pending()));
        Self { owner, zoom, model, webhooks, http: reqwest::Client::new(), _core: stop, _dir: dir }
    }

    /// Creates an active zoom resource with these plain settings added to the required ones,
    /// retrying while the edge is still attaching.
    async fn connect(&self, client_secret: &str, extra: Value) -> Resource {
        let mut settings = json!({"client_id": CLIENT_ID, "bot_jid": BOT_JID, "account_id": ACCOUNT_ID});
        settings.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let resource = Resource {
            provider: "zoom".into(),
            name: "Team helper".into(),
            meta_json: settings.to_string(),
            secrets: [
                ("client_secret".to_owned(), client_secret.to_owned()),
                ("webhook_secret_token".to_owned(), SECRET_TOKEN.to_owned()),
            ]
            .into(),
            ..Default::default()
        };
        self.owner.connect(resource).await
    }

    /// A ready chatbot with default settings but these.
    async fn ready(&self, extra: Value) -> Resource {
        let resource = self.connect(CLIENT_SECRET, extra).await;
        self.state_becomes(&resource.id, ResourceState::Ready).await
    }

    async fn state_becomes(&self, id: &str, want: ResourceState) -> Resource {
        self.owner.state_becomes(id, want).await
    }

    /// Posts `body` to the resource's webhook path as Zoom would, signed as `signing` says;
    /// returns the status and the body of the answer.
    async fn post(&self, resource_id: &str, body: &str, signing: Signing) -> (u16, String) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let mut request = self
            .http
            .post(format!("{}/zoom/{resource_id}", self.webhooks))
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_owned());
        let (timestamp, secret) = match signing {
            Signing::Zoom => (now, SECRET_TOKEN),
            Signing::OtherSecret => (now, "not-the-secret-token"),
            Signing::Stale => (now - 6 * 60, SECRET_TOKEN),
            Signing::None => (now, ""),
        };
        if signing != Signing::None {
            request = request
                .header("x-zm-request-timestamp", timestamp.to_string())
                .header("x-zm-signature", zoom_signature(secret, timestamp, body));
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Waits for `count` messages in the fake Zoom and returns them all.
    async fn replies(&self, count: usize) -> Vec<SentMessage> {
        let sent = self.zoom.wait_for_messages(count, WAIT).await;
        assert!(sent.len() >= count, "{} of {count} replies came: {sent:?}", sent.len());
        sent
    }
}

/// How a test post is signed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Signing {
    /// As Zoom signs it, now.
    Zoom,
    /// With another secret.
    OtherSecret,
    /// As Zoom signs it, six minutes ago.
    Stale,
    /// Not at all.
    None,
}

/// `v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{body}`, computed here independently.
fn zoom_signature(secret: &str, timestamp: u64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// A person (`user`) writing `text` to the chatbot at `timestamp` (Unix ms), in their own chat.
fn written(user: &str, text: &str, timestamp: i64) -> Value {
    json!({
        "event": "bot_notification",
        "payload": {
            "accountId": ACCOUNT_ID,
            "cmd": text,
            "robotJid": BOT_JID,
            "timestamp": timestamp,
            "toJid": format!("{user}@xmpp.zoom.us"),
            "userId": format!("{user}-id"),
            "userJid": format!("{user}@xmpp.zoom.us"),
            "userName": user,
            "channelName": "",
            "triggerId": format!("trigger-{timestamp}")
        },
        "event_ts": timestamp + 7
    })
}

#[tokio::test]
async fn the_url_validation_challenge_is_answered_with_the_secret_token() {
    let world = World::start().await;
    let resource = world.ready(json!({})).await;
    let url = format!("{PUBLIC_URL}/zoom/{}", resource.id);
    let reported: Vec<_> = resource.status_info.iter().map(|item| (item.key.as_str(), item.value.as_str())).collect();
    assert_eq!(reported, [("webhook_url", url.as_str())]);

    let challenge = r#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1700000000000,"event":"endpoint.url_validation"}"#;
    let (status, body) = world.post(&resource.id, challenge, Signing::Zoom).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    // Computed with: printf %s qgg8vlvZRS6UYooatFL8Aw | openssl dgst -sha256 -hmac zoom-webhook-secret-token-1234
    let expected = "8b18062bb74b8b567c57d1755a4202977f105802699c9778ebbff7a1b23fee7b";
    assert_eq!(answer, json!({"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}));

    // Only Zoom may ask: the same challenge with another signature gets nothing.
    let (status, body) = world.post(&resource.id, challenge, Signing::OtherSecret).await;
    assert_eq!(status, 401);
    assert!(!body.contains(expected));
}

#[tokio::test]
async fn a_signed_message_is_acknowledged_at_once_and_answered_once_where_it_was_written() {
    let world = World::start().await;
    let resource = world.ready(json!({})).await;
    assert_eq!(world.zoom.tokens_issued(), 1, "the credentials were checked with a token");

    // The model is slow: Zoom's post is acknowledged before the answer exists.
    world.model.set_delay(Duration::from_millis(800));
    let message = written("zoe", "hello bot", 1_700_000_000_123).to_string();
    let (status, _) = world.post(&resource.id, &message, Signing::Zoom).await;
    assert_eq!(status, 200);
    assert!(world.zoom.messages().is_empty(), "acknowledged before answering");
    let sent = world.replies(1).await;
    assert_eq!(sent[0].text(), "You said: hello bot");
    assert_eq!(sent[0].field("robot_jid"), Some(BOT_JID));
    assert_eq!(sent[0].field("to_jid"), Some("zoe@xmpp.zoom.us"));
    assert_eq!(sent[0].field("account_id"), Some(ACCOUNT_ID));
    assert_eq!(sent[0].body["is_markdown_support"], true);
    assert!(sent[0].body.get("reply_to").is_none(), "no thread in a person's own chat");
    assert_eq!(sent[0].authorization, "Bearer zoom-chatbot-token-1", "the token got at start is reused");

    // Zoom posts the same message again, while and after it is answered: one answer only.
    world.model.set_delay(Duration::ZERO);
    let again = written("zoe", "and again", 1_700_000_000_555).to_string();
    let (first, second) =
        tokio::join!(world.post(&resource.id, &again, Signing::Zoom), world.post(&resource.id, &again, Signing::Zoom));
    assert_eq!((first.0, second.0), (200, 200));
    world.replies(2).await;
    let (status, _) = world.post(&resource.id, &message, Signing::Zoom).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(world.zoom.messages().len(), 2, "{:?}", world.zoom.messages());
    assert_eq!(world.model.chat_calls(), 2, "the model was asked once a message");
    let prompt = world.model.requests().pop().unwrap();
    let users: Vec<_> =
        prompt.messages().iter().filter(|m| m["role"] == "user").map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(users, ["hello bot", "and again"], "the chat's memory");

    // In a channel, the reply goes to the channel, in the thread of the message it answers.
    let mut in_channel = written("max", "@helper what time is it?", 1_700_000_001_000);
    in_channel["payload"]["toJid"] = json!("team-room@conference.xmpp.zoom.us");
    in_channel["payload"]["channelName"] = json!("Team");
    in_channel["payload"]["messageId"] = json!("A1B2C3D4-message");
    world.post(&resource.id, &in_channel.to_string(), Signing::Zoom).await;
    let sent = world.replies(3).await;
    assert_eq!(sent[2].field("to_jid"), Some("team-room@conference.xmpp.zoom.us"));
    assert_eq!(sent[2].field("reply_to"), Some("A1B2C3D4-message"));
}

#[tokio::test]
async fn forged_unsigned_and_stale_posts_are_refused_and_change_nothing() {
    let world = World::start().await;
    let resource = world.ready(json!({})).await;
    let message = written("mallory", "pretend to be Zoom", 1_700_000_000_000).to_string();
    for signing in [Signing::OtherSecret, Signing::None, Signing::Stale] {
        let (status, _) = world.post(&resource.id, &message, signing).await;
        assert_eq!(status, 401);
    }
    let (status, _) = world.post("not-a-resource", &message, Signing::Zoom).await;
    assert_eq!(status, 404);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(world.model.chat_calls(), 0, "no refused post reached the model");
    assert!(world.zoom.messages().is_empty());

    // The same message, signed: answered, since none of the refused posts took it.
    world.post(&resource.id, &message, Signing::Zoom).await;
    assert_eq!(world.replies(1).await[0].text(), "You said: pretend to be Zoom");
}

#[tokio::test]
async fn an_expired_token_is_renewed_before_sending_and_a_refused_one_after_a_401() {
    let world = World::start().await;
    world.zoom.set_token_lifetime(Duration::from_secs(4));
    let resource = world.ready(json!({})).await;
    assert_eq!(world.zoom.tokens_issued(), 1);

    // Past the token's life: one new token, and Zoom never sees the old one again.
    tokio::time::sleep(Duration::from_millis(4200)).await;
    world.post(&resource.id, &written("zoe", "one", 1_700_000_000_001).to_string(), Signing::Zoom).await;
    world.post(&resource.id, &written("zoe", "two", 1_700_000_000_002).to_string(), Signing::Zoom).await;
    let sent = world.replies(2).await;
    assert!(sent.iter().all(|m| m.authorization == "Bearer zoom-chatbot-token-2"), "{sent:?}");
    assert_eq!(world.zoom.tokens_issued(), 2, "renewed once, then kept");
    let refused = world.zoom.attempts_at(Endpoint::Messages).iter().filter(|a| a.status == 401).count();
    assert_eq!(refused, 0, "an expired token was never sent");

    // Zoom revokes the token early: one 401, one new token, the same message sent again.
    world.zoom.set_token_lifetime(Duration::from_secs(3600));
    world.zoom.revoke_tokens();
    world.post(&resource.id, &written("zoe", "three", 1_700_000_000_003).to_string(), Signing::Zoom).await;
    let sent = world.replies(3).await;
    assert_eq!(
        (sent[2].text().as_str(), sent[2].authorization.as_str()),
        ("You said: three", "Bearer zoom-chatbot-token-3")
    );
    let statuses: Vec<u16> = world.zoom.attempts_at(Endpoint::Messages).iter().map(|a| a.status).collect();
    assert_eq!(statuses, [201, 201, 401, 201]);
    assert_eq!(world.zoom.tokens_issued(), 3);
}

#[tokio::test]
async fn zoom_asking_to_slow_down_or_failing_is_tried_again() {
    let world = World::start().await;
    let resource = world.ready(json!({})).await;
    world.zoom.fail_next(Endpoint::Messages, Failure::TooManyRequests { retry_after_secs: Some(1) });
    world.zoom.fail_next(Endpoint::Messages, Failure::ServerError);
    world.post(&resource.id, &written("zoe", "are you there?", 1_700_000_000_000).to_string(), Signing::Zoom).await;
    let sent = world.replies(1).await;
    assert_eq!(sent[0].text(), "You said: are you there?");
    let statuses: Vec<u16> = world.zoom.attempts_at(Endpoint::Messages).iter().map(|a| a.status).collect();
    assert_eq!(statuses, [429, 500, 201]);
    assert_eq!(world.model.chat_calls(), 1, "sending again does not ask the model again");
}

#[tokio::test]
async fn rejected_credentials_show_on_the_resource_with_what_to_do() {
    let world = World::start().await;
    let resource = world.connect("WrongSecret0123456789", json!({})).await;
    let failed = world.state_becomes(&resource.id, ResourceState::Error).await;
    assert!(failed.state_detail.starts_with("Zoom rejected the client id or secret"), "{failed:?}");
    assert_eq!(failed.state_reason, "CREDENTIALS_REJECTED");
    assert_eq!(failed.state_action(), ResourceErrorAction::FixSettings);
    assert!(!failed.state_detail.contains("WrongSecret"), "the secret is never shown");
    let (status, _) = world.post(&resource.id, &written("zoe", "hi", 1).to_string(), Signing::Zoom).await;
    assert_eq!(status, 404, "a chatbot that does not run has no webhook");
}

#[tokio::test]
async fn replies_zoom_refuses_even_with_a_fresh_token_show_on_the_resource_with_what_to_do() {
    let world = World::start().await;
    let resource = world.ready(json!({})).await;
    // As for an app without the imchat:bot scope: every token is refused by the messages API.
    world.zoom.fail_next(Endpoint::Messages, Failure::Unauthorized);
    world.zoom.fail_next(Endpoint::Messages, Failure::Unauthorized);
    world.post(&resource.id, &written("zoe", "hello?", 1_700_000_000_001).to_string(), Signing::Zoom).await;
    let failed = world.state_becomes(&resource.id, ResourceState::Error).await;
    assert_eq!(failed.state_reason, "SEND_REFUSED");
    assert!(failed.state_detail.contains("imchat:bot"), "{failed:?}");
    assert_eq!(failed.state_action(), ResourceErrorAction::FixSettings);
    let statuses: Vec<u16> = world.zoom.attempts_at(Endpoint::Messages).iter().map(|a| a.status).collect();
    assert_eq!(statuses, [401, 401], "one new token and one more try, then no more");
}

#[tokio::test]
async fn a_paused_chatbot_has_no_webhook_and_sends_nothing_until_activated() {
    let world = World::start().await;
    let resource = world.ready(json!({})).await;
    let pause = PauseResourceRequest { id: resource.id.clone() };
    ResourceServiceClient::new(world.owner.channel.clone())
        .pause_resource(authed(pause, &world.owner.session))
        .await
        .unwrap();
    world.state_becomes(&resource.id, ResourceState::Paused).await;
    let message = written("zoe", "anyone?", 1_700_000_000_000).to_string();
    let (status, _) = world.post(&resource.id, &message, Signing::Zoom).await;
    assert_eq!(status, 404);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(world.zoom.messages().is_empty());
    assert_eq!(world.model.chat_calls(), 0);

    let activate = ActivateResourceRequest { id: resource.id.clone() };
    ResourceServiceClient::new(world.owner.channel.clone())
        .activate_resource(authed(activate, &world.owner.session))
        .await
        .unwrap();
    world.state_becomes(&resource.id, ResourceState::Ready).await;
    let (status, _) = world.post(&resource.id, &message, Signing::Zoom).await;
    assert_eq!(status, 200);
    assert_eq!(world.replies(1).await[0].text(), "You said: anyone?");
}

#[tokio::test]
async fn only_allowed_people_reach_the_model() {
    let world = World::start().await;
    let resource = world.ready(json!({"allowed_users": ["zoe-id"], "system_prompt": "Answer in haiku."})).await;
    world.post(&resource.id, &written("mallory", "let me in", 1_700_000_000_000).to_string(), Signing::Zoom).await;
    let sent = world.replies(1).await;
    assert!(sent[0].text().contains("private"), "{sent:?}");
    assert_eq!(sent[0].field("to_jid"), Some("mallory@xmpp.zoom.us"));
    assert_eq!(world.model.chat_calls(), 0);

    world.post(&resource.id, &written("zoe", "hi", 1_700_000_000_001).to_string(), Signing::Zoom).await;
    assert_eq!(world.replies(2).await[1].text(), "You said: hi");
    let prompt = world.model.requests().pop().unwrap();
    assert_eq!(prompt.messages()[0]["content"], "Answer in haiku.", "the resource's instructions");
}

#[tokio::test]
async fn the_webhook_server_closes_connections_that_never_finish_their_headers_and_refuses_huge_bodies() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // No chatbot runs, so nothing is ever sent to these (unused) Zoom addresses.
    let (_provider, router) = Zoom::new("http://127.0.0.1:9", "http://127.0.0.1:9", PUBLIC_URL).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let limits = Limits { header_read_timeout: Duration::from_millis(300), ..Limits::default() };
    tokio::spawn(assistchat_http::serve(listener, router, limits, std::future::pending()));

    let read_until_closed = |mut stream: tokio::net::TcpStream| async move {
        let closed = tokio::time::timeout(WAIT, async {
            let mut buffer = [0u8; 1024];
            while let Ok(1..) = stream.read(&mut buffer).await {}
        })
        .await;
        assert!(closed.is_ok(), "the webhook server kept the connection open for {WAIT:?}");
    };
    let mut slow = tokio::net::TcpStream::connect(address).await.unwrap();
    slow.write_all(b"POST /zoom/r1 HTTP/1.1\r\nHost: zoom.example.test\r\nX-Zm-Signa").await.unwrap();
    read_until_closed(slow).await;
    read_until_closed(tokio::net::TcpStream::connect(address).await.unwrap()).await;

    let url = format!("http://{address}/zoom/r1");
    let huge = reqwest::Client::new().post(&url).body(vec![b' '; MAX_EVENT_BYTES + 1]).send().await.unwrap();
    assert_eq!(huge.status(), 413);
    let small = reqwest::Client::new().post(&url).body("{}").send().await.unwrap();
    assert_eq!(small.status(), 404, "an ordinary post reaches the route, which has no chatbot");
}

#[tokio::test]
async fn a_markdown_reply_arrives_in_zooms_markdown_and_a_long_one_in_messages_zoom_takes() {
    let world = World::start().await;
    let resource = world.ready(json!({})).await;
    world.model.set_reply("Use **care**, *always*, ~~never~~ `x`; see [docs](https://docs.example.test).");
    let message = written("zoe", "how?", 1_700_000_000_500).to_string();
    assert_eq!(world.post(&resource.id, &message, Signing::Zoom).await.0, 200);
    let sent = world.replies(1).await;
    assert!(sent[0].markdown, "sent with is_markdown_support");
    assert_eq!(sent[0].text(), "Use *care*, _always_, ~never~ `x`; see <https://docs.example.test|docs>.");

    // Far over one message: cut into messages the fake Zoom accepts, no span cut.
    let reply = format!("**{}**\n\n{}", ["bold 🎉 words"; 400].join(" "), "plain text ".repeat(500));
    world.model.set_reply(reply);
    let message = written("zoe", "more", 1_700_000_000_900).to_string();
    assert_eq!(world.post(&resource.id, &message, Signing::Zoom).await.0, 200);
    world.replies(4).await;
    // Nothing more trickles in.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = world.zoom.messages();
    let long = &sent[1..];
    assert!(long.iter().all(|message| message.text().encode_utf16().count() <= 4096));
    assert!(long.iter().all(|message| message.text().matches('*').count() % 2 == 0), "every bold span closed");
    assert!(long[1].text().starts_with('*'), "the bold span opened again: {}", &long[1].text()[..10]);
    assert!(world.zoom.attempts_at(Endpoint::Messages).iter().all(|attempt| attempt.status == 201), "none refused");
    let words: usize = long.iter().map(|message| message.text().matches("plain text").count()).sum();
    assert_eq!(words, 500, "nothing lost between messages");
}
