//! The outbound policy for the model servers users choose, through the real core: base URLs
//! inside the server's network are refused when saved (in every spelling, and names that
//! resolve there) and on connection (a name that rebinds, a stored address the operator no
//! longer allows), no redirect is followed, what such a server answers is bounded in size, time
//! and words, and the operator's exceptions let a local server through.
//!
//! Names resolve through [`Names`], a resolver the test controls that maps them to loopback (or
//! to addresses never connected to): no test sends anything off this machine.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use assistchat_core::{Application, Config, StartError};
use assistchat_fakes::{Behaviour, FakeOpenAi};
use assistchat_proto::v1::{
    AiMode, ChannelUser, ChatMessageRole, ConverseRequest, GetProfileRequest, ListChatMessagesRequest, OpenAiKeyCheck,
    Profile, SendChatMessageRequest, SetOpenAiKeyRequest, StreamChatMessageRequest, TestOpenAiKeyRequest,
    UpdateProfileRequest, edge_service_client::EdgeServiceClient, stream_chat_message_response::Event,
};
use prost_types::FieldMask;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tonic::{Code, Status};

use crate::{
    both_backends,
    helpers::{Backend, TestApp, authed, spawn_app_with, spawn_app_with_edges_and, violated_field},
    resources::running,
    test_edge::EDGE_TOKEN,
};

both_backends!(
    every_private_spelling_is_refused_when_saved,
    names_inside_or_unresolved_are_refused_when_saved,
    a_name_that_rebinds_inside_is_refused_on_connection,
    a_stored_address_no_longer_allowed_is_refused_on_connection,
    no_redirect_is_followed,
    an_endless_reply_is_cut_at_the_deadline,
    an_endless_plain_reply_is_cut_at_the_deadline,
    huge_answers_are_cut,
    a_servers_error_is_repeated_in_one_sentence_at_most,
    the_operators_exceptions_let_a_local_server_through,
    the_platforms_own_server_is_not_checked,
);

const PLATFORM_KEY: &str = "sk-platform-key-0001";
const OWN_KEY: &str = "sk-own-key-0000001";
/// Words every refusal of an inside address carries: why, and what the operator can allow.
const INSIDE: &str = "an address inside the server's network";
const ALLOW: &str = "ASSISTCHAT_OUTBOUND_ALLOW";

/// A resolver the test controls: the names it was given, and nothing else.
#[derive(Clone, Default)]
struct Names(Arc<Mutex<HashMap<String, Vec<IpAddr>>>>);

impl Names {
    fn set(&self, name: &str, addresses: &[&str]) {
        let addresses = addresses.iter().map(|address| address.parse().unwrap()).collect();
        self.0.lock().unwrap().insert(name.to_owned(), addresses);
    }
}

impl Resolve for Names {
    fn resolve(&self, name: Name) -> Resolving {
        let found = self.0.lock().unwrap().get(name.as_str()).cloned().unwrap_or_default();
        Box::pin(async move { Ok(Box::new(found.into_iter().map(|ip| SocketAddr::new(ip, 0))) as Addrs) })
    }
}

/// Core with `platform` as the operator's model server, names resolved by `names`, and the
/// operator's exceptions `allow`; `configure` changes the rest.
async fn app_with(
    backend: Backend,
    platform: &FakeOpenAi,
    names: &Names,
    allow: &[&str],
    configure: impl FnOnce(&mut Config),
) -> Option<TestApp> {
    let (base_url, names) = (platform.base_url(), names.clone());
    let allow: Vec<String> = allow.iter().map(|entry| (*entry).to_owned()).collect();
    spawn_app_with(backend, move |config| {
        config.openai_api_key = Some(PLATFORM_KEY.into());
        config.openai_base_url = base_url;
        config.ai_deadline = Duration::from_secs(3);
        config.outbound_allow = allow;
        config.outbound_resolver = Some(Arc::new(names));
        configure(config);
    })
    .await
}

async fn set_base_url(app: &TestApp, token: &str, url: &str) -> Result<Profile, Status> {
    let profile = Profile { openai_base_url: url.into(), ai_mode: AiMode::Byok.into(), ..Default::default() };
    let mask = FieldMask { paths: vec!["ai_mode".into(), "openai_base_url".into()] };
    let request = UpdateProfileRequest { profile: Some(profile), update_mask: Some(mask) };
    let updated = app.profile().update_profile(authed(request, token)).await?;
    Ok(updated.into_inner().profile.unwrap())
}

/// Sets the user's own key, checked against the base URL they have now (the platform's while
/// they set none).
async fn set_key(app: &TestApp, token: &str) -> String {
    let request = authed(SetOpenAiKeyRequest { api_key: OWN_KEY.into() }, token);
    app.profile().set_open_ai_key(request).await.unwrap().into_inner().warning
}

async fn say(app: &TestApp, token: &str, text: &str) -> Result<String, Status> {
    let request = SendChatMessageRequest { text: text.into(), client_message_id: String::new() };
    let answer = app.bot().send_chat_message(authed(request, token)).await?;
    Ok(answer.into_inner().reply.unwrap().text)
}

/// The streamed reply's deltas, and how the stream ended.
async fn say_streaming(app: &TestApp, token: &str, text: &str) -> (String, Result<String, Status>) {
    let request = StreamChatMessageRequest { text: text.into(), client_message_id: String::new() };
    let mut stream = app.bot().stream_chat_message(authed(request, token)).await.unwrap().into_inner();
    let mut deltas = String::new();
    let read = async {
        loop {
            match stream.message().await {
                Ok(Some(message)) => match message.event.unwrap() {
                    Event::ReplyDelta(delta) => deltas.push_str(&delta),
                    Event::Reply(reply) => return Ok(reply.text),
                    _ => {}
                },
                Ok(None) => return Err(Status::unknown("the stream ended without a reply")),
                Err(status) => return Err(status),
            }
        }
    };
    // A guard against a hang, far beyond the deadlines configured: not what is asserted.
    let ended = tokio::time::timeout(Duration::from_secs(60), read).await.expect("the stream ends");
    (deltas, ended)
}

/// The failure stored with the last message of the browser chat.
async fn last_failure(app: &TestApp, token: &str) -> String {
    let listed = app.bot().list_chat_messages(authed(ListChatMessagesRequest::default(), token)).await.unwrap();
    let newest = listed.into_inner().chat_messages.into_iter().next().unwrap();
    assert_eq!(newest.role(), ChatMessageRole::User);
    newest.failure_detail
}

async fn every_private_spelling_is_refused_when_saved(backend: Backend) {
    let platform = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &platform, &Names::default(), &[], |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    let before = app.profile().get_profile(authed(GetProfileRequest {}, &ann.token)).await.unwrap().into_inner();
    let spellings = [
        ("http://127.0.0.1:50051/", "127.0.0.1"),
        ("http://2130706433/v1", "127.0.0.1"),
        ("http://0x7f000001/v1", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://127.0.1/", "127.0.0.1"),
        ("http://0/v1", "0.0.0.0"),
        ("http://[::1]/", "::1"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
        ("http://[::ffff:7f00:1]:11434/v1", "::ffff:127.0.0.1"),
        ("http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe"),
        ("http://[2002:c0a8:101::1]/", "2002:c0a8:101::1"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("http://0xa9fea9fe/", "169.254.169.254"),
        ("http://10.0.0.1/", "10.0.0.1"),
        ("http://172.16.5.4/v1", "172.16.5.4"),
        ("https://192.168.1.1/v1", "192.168.1.1"),
        ("http://100.64.0.1/", "100.64.0.1"),
        ("http://[fd00::1]/", "fd00::1"),
        ("http://[fe80::1]/", "fe80::1"),
        ("http://[ff02::1]/", "ff02::1"),
        ("http://224.0.0.1/", "224.0.0.1"),
        ("http://255.255.255.255/", "255.255.255.255"),
        ("http://240.0.0.1/", "240.0.0.1"),
        ("http://198.18.0.1/", "198.18.0.1"),
    ];
    for (url, address) in spellings {
        let status = set_base_url(&app, &ann.token, url).await.unwrap_err();
        assert_eq!(
            (status.code(), violated_field(&status).as_str()),
            (Code::InvalidArgument, "profile.openai_base_url")
        );
        let told = status.message();
        assert!(told.contains(&format!("{address} is {INSIDE}")), "{url}: {told}");
        assert!(told.contains(ALLOW) && told.contains("base URL in Profile"), "{url}: {told}");
    }
    // A fragment or a query is refused whatever the address.
    for (url, why) in [("http://127.0.0.1:50051/#", "fragment"), ("https://api.example.com/v1?x=1", "query")] {
        let status = set_base_url(&app, &ann.token, url).await.unwrap_err();
        assert_eq!(violated_field(&status), "profile.openai_base_url");
        assert!(status.message().contains(why), "{url}: {status:?}");
    }
    // In the person's language.
    let russian = Profile { language_code: "ru".into(), ..Default::default() };
    let mask = FieldMask { paths: vec!["language_code".into()] };
    let request = UpdateProfileRequest { profile: Some(russian), update_mask: Some(mask) };
    app.profile().update_profile(authed(request, &ann.token)).await.unwrap();
    let status = set_base_url(&app, &ann.token, "http://127.1/").await.unwrap_err();
    assert!(status.message().contains("127.0.0.1 — адрес внутри сети сервера"), "{status:?}");
    let after = app.profile().get_profile(authed(GetProfileRequest {}, &ann.token)).await.unwrap().into_inner();
    let (before, after) = (before.profile.unwrap(), after.profile.unwrap());
    assert_eq!((after.openai_base_url, after.ai_mode), (before.openai_base_url, before.ai_mode), "nothing saved");
    assert_eq!(platform.all_requests().len(), 0, "nothing was sent anywhere");
}

async fn names_inside_or_unresolved_are_refused_when_saved(backend: Backend) {
    let platform = FakeOpenAi::start().await;
    let names = Names::default();
    names.set("evil.example", &["127.0.0.1"]);
    names.set("metadata.example", &["169.254.169.254"]);
    names.set("v6.example", &["fd12::7"]);
    // One address of the internet does not make the inside one acceptable (the addresses are
    // only resolved here, never connected to).
    names.set("split.example", &["93.184.216.34", "192.168.0.10"]);
    let Some(app) = app_with(backend, &platform, &names, &[], |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    for (url, leads_to) in [
        ("http://evil.example:8080/v1", "evil.example leads to 127.0.0.1"),
        ("http://METADATA.example/", "metadata.example leads to 169.254.169.254"),
        ("http://v6.example/v1", "v6.example leads to fd12::7"),
        ("https://split.example/v1", "split.example leads to 192.168.0.10"),
    ] {
        let status = set_base_url(&app, &ann.token, url).await.unwrap_err();
        assert_eq!(violated_field(&status), "profile.openai_base_url");
        assert!(status.message().contains(&format!("{leads_to}, {INSIDE}")), "{url}: {status:?}");
        assert!(status.message().contains(ALLOW), "{url}: {status:?}");
    }
    let status = set_base_url(&app, &ann.token, "http://nowhere.example/v1").await.unwrap_err();
    assert_eq!(violated_field(&status), "profile.openai_base_url");
    assert!(status.message().contains("nowhere.example does not resolve to any address"), "{status:?}");
    assert!(status.message().contains("check the host"), "{status:?}");
    // A name of the internet is accepted (and not connected to by saving it).
    names.set("models.example", &["93.184.216.34"]);
    let saved = set_base_url(&app, &ann.token, "https://models.example/v1").await.unwrap();
    assert_eq!(saved.openai_base_url, "https://models.example/v1");
}

async fn a_name_that_rebinds_inside_is_refused_on_connection(backend: Backend) {
    let platform = FakeOpenAi::start().await;
    let own = FakeOpenAi::start().await;
    let names = Names::default();
    // The operator allows 10.0.0.0/8 only; when saved, the name resolves there.
    names.set("rebind.example", &["10.1.2.3"]);
    let Some(app) = app_with(backend, &platform, &names, &["10.0.0.0/8"], |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    assert_eq!(set_key(&app, &ann.token).await, "", "the key is checked at the platform's server");
    let port = own.base_url().rsplit_once(':').unwrap().1.to_owned();
    set_base_url(&app, &ann.token, &format!("http://rebind.example:{port}")).await.unwrap();

    // Then it answers with the loopback address the fake listens on.
    names.set("rebind.example", &["127.0.0.1"]);
    let status = say(&app, &ann.token, "hello").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains(&format!("rebind.example leads to 127.0.0.1, {INSIDE}")), "{status:?}");
    assert!(status.message().contains(ALLOW), "{status:?}");
    assert!(last_failure(&app, &ann.token).await.contains("rebind.example leads to 127.0.0.1"));
    let (_, streamed) = say_streaming(&app, &ann.token, "hello again").await;
    let status = streamed.unwrap_err();
    assert!(status.message().contains("rebind.example leads to 127.0.0.1"), "{status:?}");
    let request = authed(TestOpenAiKeyRequest {}, &ann.token);
    let test = app.profile().test_open_ai_key(request).await.unwrap().into_inner();
    assert_eq!(test.result(), OpenAiKeyCheck::Unreachable);
    assert!(test.detail.contains(&format!("rebind.example leads to 127.0.0.1, {INSIDE}")), "{test:?}");
    assert_eq!(own.all_requests().len(), 0, "nothing reached the server inside");
    assert_eq!(platform.chat_calls(), 0, "nor went to the platform's");
}

async fn a_stored_address_no_longer_allowed_is_refused_on_connection(backend: Backend) {
    let platform = FakeOpenAi::start().await;
    let own = FakeOpenAi::start().await;
    let Some(mut app) = app_with(backend, &platform, &Names::default(), &["127.0.0.1"], |_| {}).await else {
        return;
    };
    let (_, ann) = app.register("ann").await;
    set_base_url(&app, &ann.token, &own.base_url()).await.unwrap();
    assert_eq!(set_key(&app, &ann.token).await, "");
    assert_eq!(say(&app, &ann.token, "one").await.unwrap(), "You said: one");
    let seen = own.all_requests().len();

    // The operator withdraws the exception and restarts core: the stored literal address is
    // checked before anything is sent (clients connect to IP literals without resolving).
    app.config.outbound_allow.clear();
    let app = app.restart().await;
    let status = say(&app, &ann.token, "two").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains(&format!("127.0.0.1 is {INSIDE}")), "{status:?}");
    assert_eq!(own.all_requests().len(), seen, "nothing more reached it");
}

async fn no_redirect_is_followed(backend: Backend) {
    let platform = FakeOpenAi::start().await;
    let (own, elsewhere) = (FakeOpenAi::start().await, FakeOpenAi::start().await);
    let Some(app) = app_with(backend, &platform, &Names::default(), &["127.0.0.1"], |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    set_base_url(&app, &ann.token, &own.base_url()).await.unwrap();
    assert_eq!(set_key(&app, &ann.token).await, "");
    own.push(Behaviour::Redirect { location: format!("{}/chat/completions", elsewhere.base_url()) });
    let status = say(&app, &ann.token, "hello").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("307") && status.message().contains("redirect"), "{status:?}");
    assert_eq!(own.chat_calls(), 1, "a redirect is final, not retried");
    assert_eq!(elsewhere.all_requests().len(), 0, "the redirect was not followed");
}

async fn an_endless_reply_is_cut_at_the_deadline(backend: Backend) {
    let platform = FakeOpenAi::start().await;
    let own = FakeOpenAi::start().await;
    let configure = |config: &mut Config| config.ai_deadline = Duration::from_secs(2);
    let Some(app) = app_with(backend, &platform, &Names::default(), &["127.0.0.1"], configure).await else {
        return;
    };
    let (_, ann) = app.register("ann").await;
    set_base_url(&app, &ann.token, &own.base_url()).await.unwrap();
    assert_eq!(set_key(&app, &ann.token).await, "");
    // A chunk every 50 ms: never idle for an attempt's timeout, never done.
    own.push(Behaviour::Trickle { every: Duration::from_millis(50) });
    let (deltas, ended) = say_streaming(&app, &ann.token, "tell me everything").await;
    assert!(!deltas.is_empty(), "the reply had begun");
    let status = ended.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("send your message again"), "{status:?}");
    assert_eq!(own.chat_calls(), 1);
}

/// A reply that is not streamed and never ends, asked in the browser chat and from a channel
/// (Converse) alike, is cut at the deadline: every attempt trickles, so only the deadline, which
/// covers the attempts and the waits between them, can end it.
async fn an_endless_plain_reply_is_cut_at_the_deadline(backend: Backend) {
    const DEADLINE: Duration = Duration::from_secs(2);
    let platform = FakeOpenAi::start().await;
    let own = FakeOpenAi::start().await;
    let base_url = platform.base_url();
    let Some(app) = spawn_app_with_edges_and(backend, |config| {
        config.openai_api_key = Some(PLATFORM_KEY.into());
        config.openai_base_url = base_url;
        config.ai_deadline = DEADLINE;
        config.outbound_allow = vec!["127.0.0.1".into()];
    })
    .await
    else {
        return;
    };
    let run = running(&app).await;
    let ann = run.session.token.as_str();
    set_base_url(&app, ann, &own.base_url()).await.unwrap();
    assert_eq!(set_key(&app, ann).await, "");
    // A space of the JSON answer every 50 ms: never idle for an attempt's timeout, never done.
    for _ in 0..8 {
        own.push(Behaviour::Trickle { every: Duration::from_millis(50) });
    }

    let started = Instant::now();
    let in_browser = say(&app, ann, "tell me everything").await.unwrap_err();
    let browser_took = started.elapsed();
    let converse = ConverseRequest {
        instance_id: "one".into(),
        resource_id: run.resource.id.clone(),
        chat_id: "chat-1".into(),
        sender: Some(ChannelUser { id: "42".into(), display_name: "Zoe".into(), username: "zoe".into() }),
        external_message_id: "m-1".into(),
        text: "tell me everything too".into(),
    };
    let started = Instant::now();
    let in_channel = EdgeServiceClient::new(app.channel.clone()).converse(authed(converse, EDGE_TOKEN)).await;
    let channel_took = started.elapsed();
    for (status, took) in [(in_browser, browser_took), (in_channel.unwrap_err(), channel_took)] {
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(status.message().contains("send your message again"), "{status:?}");
        // At the deadline: not before it, and long before the call's own timeout (the deadline
        // and half a minute more) could have ended it.
        assert!(took >= DEADLINE - Duration::from_millis(300), "{took:?}");
        assert!(took < DEADLINE + Duration::from_secs(5), "{took:?}");
    }
    // Each message: an attempt cut at its timeout (half the deadline), then one cut at the deadline.
    assert_eq!(own.chat_calls(), 4);
    assert_eq!(platform.chat_calls(), 0, "the user's own server was the one asked");
}

async fn huge_answers_are_cut(backend: Backend) {
    let platform = FakeOpenAi::start().await;
    let own = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &platform, &Names::default(), &["127.0.0.1"], |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    set_base_url(&app, &ann.token, &own.base_url()).await.unwrap();
    assert_eq!(set_key(&app, &ann.token).await, "");

    // A JSON answer of 2 MiB is not read past its first MiB, and not asked for again.
    own.push(Behaviour::Reply("x".repeat(2 << 20)));
    let status = say(&app, &ann.token, "a lot").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("longer than 1 MiB"), "{status:?}");
    assert_eq!(own.chat_calls(), 1);

    // A streamed reply longer than the most taken is cut off.
    own.push(Behaviour::Reply("word ".repeat(25_000)));
    let (_, ended) = say_streaming(&app, &ann.token, "a lot, streamed").await;
    let status = ended.unwrap_err();
    assert!(status.message().contains("longer than 100000 characters"), "{status:?}");
    assert_eq!(own.chat_calls(), 2);
}

async fn a_servers_error_is_repeated_in_one_sentence_at_most(backend: Backend) {
    let platform = FakeOpenAi::start().await;
    let own = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &platform, &Names::default(), &["127.0.0.1"], |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    set_base_url(&app, &ann.token, &own.base_url()).await.unwrap();

    // The key check: the server's first sentence, not its second.
    own.reject_key(OWN_KEY);
    let request = authed(SetOpenAiKeyRequest { api_key: OWN_KEY.into() }, &ann.token);
    let status = app.profile().set_open_ai_key(request).await.unwrap_err();
    assert!(status.message().contains("Incorrect API key provided"), "{status:?}");
    assert!(!status.message().contains("You can find your API key"), "{status:?}");

    let own = FakeOpenAi::start().await;
    set_base_url(&app, &ann.token, &own.base_url()).await.unwrap();
    assert_eq!(set_key(&app, &ann.token).await, "");
    let secret = "SECRET-INTERNAL-DUMP";
    let body = format!(
        r#"{{"error": {{"message": "The model llama-9 does not exist. {secret} {}", "type": "invalid_request_error"}}}}"#,
        "x".repeat(10_000)
    );
    own.push(Behaviour::Status { code: 404, body });
    let status = say(&app, &ann.token, "hello").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("404: The model llama-9 does not exist."), "{status:?}");
    assert!(!status.message().contains(secret), "{status:?}");
    assert!(!last_failure(&app, &ann.token).await.contains(secret));

    // A server error's body, whatever it is, is not repeated at all.
    for _ in 0..10 {
        own.push(Behaviour::Status { code: 500, body: format!("<html>{secret}</html>") });
    }
    let status = say(&app, &ann.token, "hello").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(!status.message().contains(secret), "{status:?}");
    assert!(!last_failure(&app, &ann.token).await.contains(secret));
}

async fn the_operators_exceptions_let_a_local_server_through(backend: Backend) {
    let platform = FakeOpenAi::start().await;
    let own = FakeOpenAi::start().await;
    let names = Names::default();
    names.set("evil.example", &["127.0.0.1"]);
    names.set("ollama.internal", &["127.0.0.1"]);
    let allow = ["127.0.0.1", "ollama.internal"];
    let Some(app) = app_with(backend, &platform, &names, &allow, |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    let port = own.base_url().rsplit_once(':').unwrap().1.to_owned();

    // The address allowed, written as an address, in another spelling, and behind a name.
    for (url, text) in [
        (own.base_url(), "literal"),
        (format!("http://2130706433:{port}"), "decimal"),
        (format!("http://evil.example:{port}"), "named"),
    ] {
        set_base_url(&app, &ann.token, &url).await.unwrap();
        assert_eq!(set_key(&app, &ann.token).await, "", "{url}");
        assert_eq!(say(&app, &ann.token, text).await.unwrap(), format!("You said: {text}"), "{url}");
    }
    // A name allowed whatever it resolves to.
    set_base_url(&app, &ann.token, &format!("http://ollama.internal:{port}")).await.unwrap();
    assert_eq!(say(&app, &ann.token, "by name").await.unwrap(), "You said: by name");
    let seen = own.requests();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|request| request.api_key() == Some(OWN_KEY)));
    assert_eq!(platform.chat_calls(), 0);
    // Another loopback address is not allowed by 127.0.0.1.
    let status = set_base_url(&app, &ann.token, &format!("http://127.0.0.2:{port}")).await.unwrap_err();
    assert!(status.message().contains(&format!("127.0.0.2 is {INSIDE}")), "{status:?}");
}

async fn the_platforms_own_server_is_not_checked(backend: Backend) {
    // The operator's server is on loopback and nothing is allowed: it is the operator's.
    let platform = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &platform, &Names::default(), &[], |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    assert_eq!(say(&app, &ann.token, "managed").await.unwrap(), "You said: managed");
    // A user's own key with no base URL of their own goes to the platform's server.
    assert_eq!(set_key(&app, &ann.token).await, "");
    let mask = FieldMask { paths: vec!["ai_mode".into()] };
    let byok = Profile { ai_mode: AiMode::Byok.into(), ..Default::default() };
    let request = UpdateProfileRequest { profile: Some(byok), update_mask: Some(mask) };
    app.profile().update_profile(authed(request, &ann.token)).await.unwrap();
    assert_eq!(say(&app, &ann.token, "own key").await.unwrap(), "You said: own key");
    // And so does one who writes the platform's own base URL.
    set_base_url(&app, &ann.token, &platform.base_url()).await.unwrap();
    assert_eq!(say(&app, &ann.token, "same server").await.unwrap(), "You said: same server");
    let keys: Vec<_> = platform.requests().iter().map(|request| request.api_key().unwrap().to_owned()).collect();
    assert_eq!(keys, [PLATFORM_KEY, OWN_KEY, OWN_KEY]);
}

/// A bad exception stops core at start-up, naming the entry.
#[tokio::test]
async fn a_bad_exception_stops_the_start() {
    let dir = tempfile::TempDir::new().unwrap();
    let mut config = Config::with_defaults(dir.path().to_path_buf());
    config.outbound_allow = vec!["127.0.0.1".into(), "10.0.0.0/40".into()];
    let Err(err) = Application::build(config).await else { panic!("core started") };
    assert!(matches!(err, StartError::OutboundAllow(_)), "{err:?}");
    let told = err.to_string();
    assert!(told.contains("ASSISTCHAT_OUTBOUND_ALLOW") && told.contains("\"10.0.0.0/40\""), "{told}");
}
