//! Conversations end to end: the browser chat (BotService) and an edge's messages
//! (EdgeService.Converse) answered by a fake OpenAI server, with memory, redeliveries, failures,
//! usage and quotas, and keys checked when saved.

use std::time::Duration;

use assistchat_fakes::{Behaviour, FakeOpenAi};
use assistchat_proto::v1::{
    AiMode, ChannelUser, ChatMessageRole, ConverseRequest, ConverseResponse, GetBotStatusRequest, GetUsageRequest,
    ListChatMessagesRequest, OpenAiKeyCheck, OpenAiKeyState, Profile, ResetChatRequest, ResetConversationRequest,
    SendChatMessageRequest, SendChatMessageResponse, SetOpenAiKeyRequest, StreamChatMessageRequest,
    TestOpenAiKeyRequest, UpdateProfileRequest, UpdateProfileResponse, edge_service_client::EdgeServiceClient,
    stream_chat_message_response::Event,
};
use prost_types::FieldMask;
use serde_json::Value;
use tonic::{Code, Request, Status};

use crate::{
    both_backends,
    helpers::{Backend, TestApp, authed, spawn_app_with, spawn_app_with_edges_and, violated_field},
    resources::{create, new_resource, running, state_becomes},
    test_edge::EDGE_TOKEN,
};

both_backends!(
    the_browser_chat_answers_with_the_platform_key_and_remembers,
    byok_reaches_the_users_key_server_and_model,
    history_is_sent_within_the_token_budget,
    the_reply_streams_between_the_stored_message_and_the_stored_reply,
    a_redelivered_message_is_answered_once,
    edges_converse_for_the_resources_they_run,
    failures_say_what_to_do_and_lose_nothing,
    the_daily_quota_stops_one_user_and_not_others,
    keys_are_checked_when_saved_and_on_request,
);

const PLATFORM_KEY: &str = "sk-platform-key-0001";
const SYSTEM_PROMPT: &str = "You are the test assistant.";

/// Core with the fake as the platform's model server, edges accepted, and `configure` applied.
pub async fn app_with(
    backend: Backend,
    fake: &FakeOpenAi,
    configure: impl FnOnce(&mut assistchat_core::Config),
) -> Option<TestApp> {
    let base_url = fake.base_url();
    spawn_app_with_edges_and(backend, move |config| {
        config.openai_api_key = Some(PLATFORM_KEY.into());
        config.openai_base_url = base_url;
        config.openai_model = "platform-model".into();
        config.system_prompt = SYSTEM_PROMPT.into();
        config.ai_deadline = Duration::from_secs(3);
        // Users' own servers are fakes on this machine, which the operator allows.
        config.outbound_allow = vec!["127.0.0.1".into()];
        configure(config);
    })
    .await
}

async fn say(app: &TestApp, token: &str, text: &str, client_id: &str) -> Result<SendChatMessageResponse, Status> {
    let request = SendChatMessageRequest { text: text.into(), client_message_id: client_id.into() };
    app.bot().send_chat_message(authed(request, token)).await.map(tonic::Response::into_inner)
}

/// The browser chat's current conversation, oldest first, as (role, text, failure).
async fn transcript(app: &TestApp, token: &str) -> Vec<(ChatMessageRole, String, String)> {
    let request = authed(ListChatMessagesRequest::default(), token);
    let listed = app.bot().list_chat_messages(request).await.unwrap().into_inner();
    listed.chat_messages.into_iter().rev().map(|m| (m.role(), m.text, m.failure_detail)).collect()
}

/// The (role, content) pairs a model request carried.
fn sent(messages: &[Value]) -> Vec<(String, String)> {
    messages
        .iter()
        .map(|m| {
            (m["role"].as_str().unwrap_or_default().to_owned(), m["content"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

async fn update_profile(app: &TestApp, token: &str, profile: Profile, paths: &[&str]) -> UpdateProfileResponse {
    let mask = FieldMask { paths: paths.iter().map(|p| (*p).to_owned()).collect() };
    let request = UpdateProfileRequest { profile: Some(profile), update_mask: Some(mask) };
    app.profile().update_profile(authed(request, token)).await.unwrap().into_inner()
}

async fn the_browser_chat_answers_with_the_platform_key_and_remembers(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;

    let first = say(&app, &ann.token, "hello there", "").await.unwrap();
    assert_eq!(first.reply.as_ref().unwrap().text, "You said: hello there");
    assert!(!first.redelivered);
    let second = say(&app, &ann.token, "and again", "").await.unwrap();
    assert_eq!(second.reply.unwrap().text, "You said: and again");

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].api_key(), Some(PLATFORM_KEY));
    assert_eq!(requests[1].model(), Some("platform-model"));
    assert_eq!(
        sent(requests[1].messages()),
        [
            ("system".into(), SYSTEM_PROMPT.into()),
            ("user".into(), "hello there".into()),
            ("assistant".into(), "You said: hello there".into()),
            ("user".into(), "and again".into()),
        ]
    );
    let kept = transcript(&app, &ann.token).await;
    let texts: Vec<_> = kept.iter().map(|(role, text, _)| (*role, text.as_str())).collect();
    assert_eq!(
        texts,
        [
            (ChatMessageRole::User, "hello there"),
            (ChatMessageRole::Assistant, "You said: hello there"),
            (ChatMessageRole::User, "and again"),
            (ChatMessageRole::Assistant, "You said: and again"),
        ]
    );

    // Pages of the chat follow each other without gaps or repeats.
    let request = authed(ListChatMessagesRequest { page_size: 3, page_token: String::new() }, &ann.token);
    let page = app.bot().list_chat_messages(request).await.unwrap().into_inner();
    assert_eq!(page.chat_messages.len(), 3);
    let request = authed(ListChatMessagesRequest { page_size: 3, page_token: page.next_page_token }, &ann.token);
    let rest = app.bot().list_chat_messages(request).await.unwrap().into_inner();
    assert_eq!(rest.chat_messages.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["hello there"]);
    assert!(rest.next_page_token.is_empty());

    // Another user sees none of it; a reset forgets it.
    let (_, bob) = app.register("bob").await;
    assert!(transcript(&app, &bob.token).await.is_empty());
    app.bot().reset_chat(authed(ResetChatRequest {}, &ann.token)).await.unwrap();
    assert!(transcript(&app, &ann.token).await.is_empty());
    say(&app, &ann.token, "fresh start", "").await.unwrap();
    let last = fake.requests().pop().unwrap();
    assert_eq!(sent(last.messages()), [("system".into(), SYSTEM_PROMPT.into()), ("user".into(), "fresh start".into())]);

    // Everything needs a caller, and bad input names its field.
    let unsigned = Request::new(SendChatMessageRequest { text: "hi".into(), ..Default::default() });
    assert_eq!(app.bot().send_chat_message(unsigned).await.unwrap_err().code(), Code::Unauthenticated);
    let empty = say(&app, &ann.token, "  ", "").await.unwrap_err();
    assert_eq!((empty.code(), violated_field(&empty).as_str()), (Code::InvalidArgument, "text"));
    let long = say(&app, &ann.token, &"x".repeat(32769), "").await.unwrap_err();
    assert_eq!(violated_field(&long), "text");
    let long_id = say(&app, &ann.token, "hi", &"i".repeat(101)).await.unwrap_err();
    assert_eq!(violated_field(&long_id), "client_message_id");
    assert_eq!(fake.chat_calls(), 3);
}

async fn byok_reaches_the_users_key_server_and_model(backend: Backend) {
    let platform = FakeOpenAi::start().await;
    let own_server = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &platform, |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    let own = Profile {
        ai_mode: AiMode::Byok.into(),
        openai_base_url: own_server.base_url(),
        openai_model: "llama-own".into(),
        ..Default::default()
    };
    update_profile(&app, &ann.token, own, &["ai_mode", "openai_base_url", "openai_model"]).await;
    let request = authed(SetOpenAiKeyRequest { api_key: "sk-own-key-9999".into() }, &ann.token);
    let saved = app.profile().set_open_ai_key(request).await.unwrap().into_inner();
    assert_eq!(saved.warning, "", "the own server accepts the key");

    let answer = say(&app, &ann.token, "ping", "").await.unwrap();
    assert_eq!(answer.reply.unwrap().text, "You said: ping");
    let seen = own_server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].api_key(), seen[0].model()), (Some("sk-own-key-9999"), Some("llama-own")));
    assert_eq!(platform.chat_calls(), 0, "the platform's key pays nothing in byok mode");

    // Usage counts the tokens, but not against the managed quota.
    let usage = app.bot().get_usage(authed(GetUsageRequest::default(), &ann.token)).await.unwrap().into_inner();
    assert_eq!(usage.ai_mode(), AiMode::Byok);
    assert_eq!((usage.days.len(), usage.daily_token_quota), (7, 0));
    let today = &usage.days[0];
    assert!(today.total_tokens > 0 && today.request_count == 1 && today.managed_tokens == 0, "{today:?}");
}

async fn history_is_sent_within_the_token_budget(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |config| config.history_token_budget = 120).await else { return };
    let (_, ann) = app.register("ann").await;
    // Each message is about 25 tokens, and so is its echoed reply.
    for turn in 0..6 {
        say(&app, &ann.token, &format!("turn {turn} {}", "words ".repeat(16)), "").await.unwrap();
    }
    let last = fake.requests().pop().unwrap();
    let messages = sent(last.messages());
    assert_eq!(messages.first().unwrap().1, SYSTEM_PROMPT);
    assert!(messages.last().unwrap().1.starts_with("turn 5 "));
    let history = &messages[1..messages.len() - 1];
    assert!(!history.is_empty() && history.len() < 10, "only the newest turns fit: {} sent", history.len());
    let kept_turns: Vec<_> = history.iter().filter(|(role, _)| role == "user").map(|(_, text)| &text[..6]).collect();
    assert_eq!(kept_turns.last(), Some(&"turn 4"), "the newest turns are the ones kept");
    let budget_chars: usize = messages.iter().map(|(_, text)| text.len()).sum();
    assert!(budget_chars <= 120 * 4, "{budget_chars} characters sent for a 120-token budget");
}

async fn the_reply_streams_between_the_stored_message_and_the_stored_reply(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    fake.set_reply("One two three four five six seven eight.");
    let request = StreamChatMessageRequest { text: "count".into(), client_message_id: "c-1".into() };
    let mut stream = app.bot().stream_chat_message(authed(request, &ann.token)).await.unwrap().into_inner();
    let mut events = Vec::new();
    while let Some(event) = stream.message().await.unwrap() {
        events.push(event.event.unwrap());
    }
    let Some(Event::UserMessage(question)) = events.first() else { panic!("{events:?}") };
    assert_eq!((question.text.as_str(), question.role()), ("count", ChatMessageRole::User));
    let Some(Event::Reply(reply)) = events.last() else { panic!("{events:?}") };
    let deltas: Vec<&str> = events
        .iter()
        .filter_map(|event| if let Event::ReplyDelta(text) = event { Some(text.as_str()) } else { None })
        .collect();
    assert!(deltas.len() > 1, "the reply came in pieces: {deltas:?}");
    assert_eq!(deltas.concat(), reply.text);
    assert_eq!(reply.text, "One two three four five six seven eight.");
    assert!(fake.requests()[0].stream());
    // Asked again with the same id, the stored reply comes back without a second model call.
    let again = say(&app, &ann.token, "count", "c-1").await.unwrap();
    assert!(again.redelivered);
    assert_eq!(again.reply.unwrap().id, reply.id);
    assert_eq!(fake.chat_calls(), 1);
}

/// An edge's call with the edge credential.
fn as_edge<T>(message: T) -> Request<T> {
    authed(message, EDGE_TOKEN)
}

/// An edge's message from Zoe in `chat_id` of the resource.
pub fn converse(resource_id: &str, chat_id: &str, external_id: &str, text: &str) -> ConverseRequest {
    ConverseRequest {
        instance_id: "one".into(),
        resource_id: resource_id.into(),
        chat_id: chat_id.into(),
        sender: Some(ChannelUser { id: "42".into(), display_name: "Zoe".into(), username: "zoe".into() }),
        external_message_id: external_id.into(),
        text: text.into(),
    }
}

async fn a_redelivered_message_is_answered_once(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let run = running(&app).await;
    let edge = EdgeServiceClient::new(app.channel.clone());
    fake.set_delay(Duration::from_millis(300));
    // The second delivery arrives while the first is being answered, a third after.
    let request = || converse(&run.resource.id, "chat-1", "update-7", "are you there?");
    let (mut first, mut second) = (edge.clone(), edge.clone());
    let (a, b) = tokio::join!(first.converse(as_edge(request())), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        second.converse(as_edge(request())).await
    });
    let (a, b): (ConverseResponse, ConverseResponse) = (a.unwrap().into_inner(), b.unwrap().into_inner());
    let c = edge.clone().converse(as_edge(request())).await.unwrap().into_inner();
    assert_eq!(a.reply_text, "You said: are you there?");
    assert_eq!((b.reply_text.as_str(), c.reply_text.as_str()), (a.reply_text.as_str(), a.reply_text.as_str()));
    assert_eq!((a.redelivered, b.redelivered, c.redelivered), (false, true, true));
    assert_eq!(fake.chat_calls(), 1, "one model call in total");
    // A caller that gives up (an edge that crashed) does not cut the answer short: the
    // redelivery finds it stored.
    let mut hasty = as_edge(converse(&run.resource.id, "chat-1", "update-8", "quick?"));
    hasty.set_timeout(Duration::from_millis(100));
    assert_eq!(edge.clone().converse(hasty).await.unwrap_err().code(), Code::Cancelled);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = as_edge(converse(&run.resource.id, "chat-1", "update-8", "quick?"));
    let again = edge.clone().converse(again).await.unwrap().into_inner();
    assert_eq!((again.reply_text.as_str(), again.redelivered), ("You said: quick?", true));
    assert_eq!(fake.chat_calls(), 2);
    // The same id in the browser chat is a different channel's message.
    say(&app, &run.session.token, "are you there?", "update-7").await.unwrap();
    assert_eq!(fake.chat_calls(), 3);
}

async fn edges_converse_for_the_resources_they_run(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let run = running(&app).await;
    let mut edge = EdgeServiceClient::new(app.channel.clone());
    let id = run.resource.id.clone();

    edge.converse(as_edge(converse(&id, "chat-1", "u1", "first"))).await.unwrap();
    edge.converse(as_edge(converse(&id, "chat-2", "u2", "elsewhere"))).await.unwrap();
    edge.converse(as_edge(converse(&id, "chat-1", "u3", "second"))).await.unwrap();
    let last = sent(fake.requests().pop().unwrap().messages());
    let users: Vec<_> = last.iter().filter(|(role, _)| role == "user").map(|(_, text)| text.as_str()).collect();
    assert_eq!(users, ["first", "second"], "each chat keeps its own memory");

    // /reset in a channel forgets that chat only.
    let reset =
        ResetConversationRequest { instance_id: "one".into(), resource_id: id.clone(), chat_id: "chat-1".into() };
    edge.reset_conversation(as_edge(reset)).await.unwrap();
    edge.converse(as_edge(converse(&id, "chat-1", "u4", "third"))).await.unwrap();
    assert_eq!(sent(fake.requests().pop().unwrap().messages()).len(), 2);
    edge.converse(as_edge(converse(&id, "chat-2", "u5", "more"))).await.unwrap();
    assert_eq!(sent(fake.requests().pop().unwrap().messages()).len(), 4);

    // A resource's own system prompt replaces the platform's.
    let (_, bob) = app.register("bob").await;
    app.bot().start_bot(authed(assistchat_proto::v1::StartBotRequest {}, &bob.token)).await.unwrap();
    let meta = r#"{"system_prompt": "You sell flowers."}"#;
    let shop = create(&app, &bob.token, new_resource("Flowers", meta, "tok-cccccccccccccccccccc-3333")).await;
    state_becomes(&app, &bob.token, &shop.id, assistchat_proto::v1::ResourceState::Ready).await;
    edge.converse(as_edge(converse(&shop.id, "c", "u1", "roses?"))).await.unwrap();
    assert_eq!(sent(fake.requests().pop().unwrap().messages())[0].1, "You sell flowers.");

    // Only the instance running a resource may speak for it, and only with the edge credential.
    let calls = fake.chat_calls();
    let elsewhere = ConverseRequest { instance_id: "two".into(), ..converse(&id, "chat-1", "u9", "hi") };
    assert_eq!(edge.converse(as_edge(elsewhere)).await.unwrap_err().code(), Code::NotFound);
    let unknown = converse("no-such-resource", "chat-1", "u9", "hi");
    assert_eq!(edge.converse(as_edge(unknown)).await.unwrap_err().code(), Code::NotFound);
    let as_user = authed(converse(&id, "chat-1", "u9", "hi"), &run.session.token);
    assert_eq!(edge.converse(as_user).await.unwrap_err().code(), Code::Unauthenticated);
    for (request, field) in [
        (converse(&id, "", "u9", "hi"), "chat_id"),
        (converse(&id, "c", "", "hi"), "external_message_id"),
        (converse(&id, "c", "u9", ""), "text"),
        (ConverseRequest { sender: None, ..converse(&id, "c", "u9", "hi") }, "sender.id"),
        (converse(&id, &"c".repeat(201), "u9", "hi"), "chat_id"),
    ] {
        let status = edge.converse(as_edge(request)).await.unwrap_err();
        assert_eq!((status.code(), violated_field(&status)), (Code::InvalidArgument, field.to_owned()));
    }
    assert_eq!(fake.chat_calls(), calls, "refused calls never reach the model");

    // A paused resource no longer converses.
    let pause = assistchat_proto::v1::PauseResourceRequest { id: id.clone() };
    app.resources().pause_resource(authed(pause, &run.session.token)).await.unwrap();
    let status = edge.converse(as_edge(converse(&id, "chat-1", "u10", "hi"))).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

async fn failures_say_what_to_do_and_lose_nothing(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;

    // 5xx until the deadline: UNAVAILABLE, and the message is kept with the failure.
    for _ in 0..20 {
        fake.push(Behaviour::ServerError);
    }
    let status = say(&app, &ann.token, "are you up?", "m-1").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("try again") || status.message().contains("again in a minute"), "{status:?}");
    assert!(fake.chat_calls() > 1, "5xx is retried");
    let kept = transcript(&app, &ann.token).await;
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].1.as_str(), kept[0].2.as_str()), ("are you up?", status.message()));
    // The same message again, once the server is back, is answered: only a reply is final.
    fake.clear_script();
    let answered = say(&app, &ann.token, "are you up?", "m-1").await.unwrap();
    assert!(!answered.redelivered, "the model was asked again");
    let kept = transcript(&app, &ann.token).await;
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0].2, "", "an answered message shows no failure");

    // A slow model is cut off, not waited for.
    fake.push(Behaviour::Slow(Duration::from_secs(10)));
    fake.push(Behaviour::Slow(Duration::from_secs(10)));
    let status = say(&app, &ann.token, "slow?", "").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    fake.clear_script();

    // A spent key's quota is not retried.
    fake.push(Behaviour::NoQuota);
    let before = fake.chat_calls();
    let status = say(&app, &ann.token, "quota?", "").await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.message().contains("credit"), "{status:?}");
    assert_eq!(fake.chat_calls(), before + 1);

    // The user's own key rejected: FAILED_PRECONDITION in their language, and the profile shows it.
    let ru = Profile { language_code: "ru".into(), ai_mode: AiMode::Byok.into(), ..Default::default() };
    update_profile(&app, &ann.token, ru, &["language_code", "ai_mode"]).await;
    let request = authed(SetOpenAiKeyRequest { api_key: "sk-own-key-to-revoke".into() }, &ann.token);
    app.profile().set_open_ai_key(request).await.unwrap();
    fake.reject_key("sk-own-key-to-revoke");
    let status = say(&app, &ann.token, "привет", "").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("отклонил ваш ключ"), "{status:?}");
    let profile = app.profile().get_profile(authed(Default::default(), &ann.token)).await.unwrap().into_inner();
    assert_eq!(profile.profile.unwrap().openai_key_state(), OpenAiKeyState::Rejected);
    let calls = fake.chat_calls();
    let status = say(&app, &ann.token, "ещё раз", "").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(fake.chat_calls(), calls, "a key known to be rejected is not sent again");
    let status = app.bot().get_bot_status(authed(GetBotStatusRequest {}, &ann.token)).await.unwrap().into_inner();
    assert!(status.bot_status.unwrap().ai_warning.contains("отклонил"));

    // Without any key: the same code, saying what to do; every message is still kept.
    let (_, bob) = app.register("bob").await;
    let byok = Profile { ai_mode: AiMode::Byok.into(), ..Default::default() };
    update_profile(&app, &bob.token, byok, &["ai_mode"]).await;
    let status = say(&app, &bob.token, "anyone?", "").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("add your OpenAI key in Profile"), "{status:?}");
    assert_eq!(transcript(&app, &bob.token).await[0].2, status.message());
}

async fn the_daily_quota_stops_one_user_and_not_others(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |config| config.daily_token_quota = 30).await else { return };
    let (_, ann) = app.register("ann").await;
    let (_, bob) = app.register("bob").await;
    // The fake counts words: the prompt (5 + 8) and the reply (10) spend 23 tokens, and the second
    // message, with the first in its memory, 41 more.
    let text = "one two three four five six seven eight";
    say(&app, &ann.token, text, "").await.unwrap();
    say(&app, &ann.token, text, "").await.unwrap();
    let status = say(&app, &ann.token, text, "").await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("quota of 30 tokens") && status.message().contains("midnight UTC"));
    assert_eq!(fake.chat_calls(), 2, "a spent quota asks the model nothing");
    say(&app, &bob.token, text, "").await.expect("another user still gets replies");

    let usage = app.bot().get_usage(authed(GetUsageRequest { day_count: 3 }, &ann.token)).await.unwrap().into_inner();
    assert_eq!((usage.ai_mode(), usage.days.len(), usage.daily_token_quota), (AiMode::Managed, 3, 30));
    let today = &usage.days[0];
    assert_eq!(today.request_count, 2);
    assert_eq!(today.total_tokens, today.prompt_tokens + today.completion_tokens);
    assert_eq!(today.managed_tokens, today.total_tokens);
    assert!(today.total_tokens >= 30 && !today.estimated, "{today:?}");
    assert_eq!(usage.remaining_tokens, 0);
    assert!(usage.days[1].total_tokens == 0 && usage.days[1].date < today.date);
    let reset = usage.quota_reset_time.unwrap().seconds;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!(reset > now && reset <= now + 86_400 && reset % 86_400 == 0);
    let status = app.bot().get_bot_status(authed(GetBotStatusRequest {}, &ann.token)).await.unwrap().into_inner();
    assert!(status.bot_status.unwrap().ai_warning.contains("quota"));
    let bad = app.bot().get_usage(authed(GetUsageRequest { day_count: -1 }, &ann.token)).await.unwrap_err();
    assert_eq!(violated_field(&bad), "day_count");
}

async fn keys_are_checked_when_saved_and_on_request(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    let set = |key: &str| authed(SetOpenAiKeyRequest { api_key: key.into() }, &ann.token);

    let test = app.profile().test_open_ai_key(authed(TestOpenAiKeyRequest {}, &ann.token)).await.unwrap().into_inner();
    assert_eq!(test.result(), OpenAiKeyCheck::Missing);

    fake.reject_key("sk-bad-key-0000");
    let status = app.profile().set_open_ai_key(set("sk-bad-key-0000")).await.unwrap_err();
    assert_eq!((status.code(), violated_field(&status).as_str()), (Code::InvalidArgument, "api_key"));
    assert!(status.message().contains("rejected this key"), "{status:?}");
    let profile = app.profile().get_profile(authed(Default::default(), &ann.token)).await.unwrap().into_inner();
    assert_eq!(profile.profile.unwrap().openai_key_mask, "", "a rejected key is not stored");

    let saved = app.profile().set_open_ai_key(set("sk-good-key-1234")).await.unwrap().into_inner();
    assert_eq!((saved.warning.as_str(), saved.profile.unwrap().openai_key_mask.as_str()), ("", "sk-...1234"));
    let models = fake.all_requests().into_iter().filter(|r| r.path == "/v1/models").count();
    assert_eq!(models, 2, "each save checked the key on the models endpoint");
    let test = app.profile().test_open_ai_key(authed(TestOpenAiKeyRequest {}, &ann.token)).await.unwrap().into_inner();
    assert_eq!(test.result(), OpenAiKeyCheck::Accepted, "{test:?}");

    // Revoked later: the test says so and the profile shows it; a new good key clears it.
    fake.reject_key("sk-good-key-1234");
    let test = app.profile().test_open_ai_key(authed(TestOpenAiKeyRequest {}, &ann.token)).await.unwrap().into_inner();
    assert_eq!(test.result(), OpenAiKeyCheck::Rejected);
    assert_eq!(test.profile.unwrap().openai_key_state(), OpenAiKeyState::Rejected);

    // A server that cannot be reached: the key is stored, with a warning.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let unreachable = Profile { openai_base_url: format!("http://{closed}/v1"), ..Default::default() };
    update_profile(&app, &ann.token, unreachable, &["openai_base_url"]).await;
    let saved = app.profile().set_open_ai_key(set("sk-other-key-5678")).await.unwrap().into_inner();
    assert!(saved.warning.contains("could not be reached"), "{saved:?}");
    let profile = saved.profile.unwrap();
    assert_eq!((profile.openai_key_mask.as_str(), profile.openai_key_state()), ("sk-...5678", OpenAiKeyState::Set));
    let test = app.profile().test_open_ai_key(authed(TestOpenAiKeyRequest {}, &ann.token)).await.unwrap().into_inner();
    assert_eq!(test.result(), OpenAiKeyCheck::Unreachable);
    assert!(test.detail.contains("base URL"), "{test:?}");
}

/// Core with no platform key at all, on a fresh database: managed users are told what to do.
#[tokio::test]
async fn without_a_platform_key_managed_users_are_told_what_to_do() {
    let Some(app) = spawn_app_with(Backend::Sqlite, |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    let status = say(&app, &ann.token, "hello", "").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("ask the platform's operator"), "{status:?}");
}
