//! Spending the platform's key and holding the server open, against a fake OpenAI server: the
//! daily quota reserved before the model is asked (one atomic step on both backends, settled to
//! the real usage after), the reply cap on every call, a few model calls per user at once, and a
//! handful of open streams per user.

use std::{sync::Arc, time::Duration};

use assistchat_core::{
    Config,
    ai::most_tokens,
    store::{Store, usage::UsageRecord, users::NewUser},
};
use assistchat_fakes::{Behaviour, FakeOpenAi};
use assistchat_proto::v1::{
    ChannelUser, GetUsageRequest, Profile, SendChatMessageRequest, SendChatMessageResponse, StreamChatMessageRequest,
    UpdateProfileRequest, UsageDay, WatchBotStatusRequest, edge_service_client::EdgeServiceClient,
    stream_chat_message_response::Event as ChatEvent,
};
use prost_types::FieldMask;
use serde_json::Value;
use tempfile::TempDir;
use tokio::task::JoinSet;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::{
    both_backends,
    helpers::{Backend, TestApp, authed, eventually, fresh_database, spawn_app_with_edges_and, until},
    resources::running,
    test_edge::EDGE_TOKEN,
};

both_backends!(
    reserving_is_one_atomic_step_and_settling_releases_it,
    a_burst_of_messages_overshoots_the_quota_by_at_most_one_reservation,
    reservations_settle_to_the_real_usage_and_a_failed_call_releases_its_own,
    every_model_call_carries_the_reply_cap,
    a_few_calls_per_user_run_at_once_and_the_rest_are_told_when_to_retry,
    event_streams_past_the_cap_are_refused_until_one_closes,
    chat_streams_past_the_cap_are_refused,
);

const PLATFORM_KEY: &str = "sk-platform-key-0002";
/// Five words and 27 bytes: the fake counts 5 tokens, a reservation takes 27, the most it can cost
/// (and 4 more for the turn).
const SYSTEM_PROMPT: &str = "You are the test assistant.";

/// Core with the fake as the platform's model server, edges accepted, and `configure` applied.
async fn app_with(backend: Backend, fake: &FakeOpenAi, configure: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let base_url = fake.base_url();
    spawn_app_with_edges_and(backend, move |config| {
        config.openai_api_key = Some(PLATFORM_KEY.into());
        config.openai_base_url = base_url;
        config.system_prompt = SYSTEM_PROMPT.into();
        config.ai_deadline = Duration::from_secs(10);
        configure(config);
    })
    .await
}

async fn say(app: &TestApp, token: &str, text: &str) -> Result<SendChatMessageResponse, Status> {
    let request = SendChatMessageRequest { text: text.into(), client_message_id: String::new() };
    app.bot().send_chat_message(authed(request, token)).await.map(tonic::Response::into_inner)
}

async fn today(app: &TestApp, token: &str) -> UsageDay {
    let usage = app.bot().get_usage(authed(GetUsageRequest { day_count: 1 }, token)).await.unwrap().into_inner();
    usage.days[0].clone()
}

async fn speak_russian(app: &TestApp, token: &str) {
    let mask = FieldMask { paths: vec!["language_code".into()] };
    let profile = Profile { language_code: "ru".into(), ..Default::default() };
    let request = UpdateProfileRequest { profile: Some(profile), update_mask: Some(mask) };
    app.profile().update_profile(authed(request, token)).await.unwrap();
}

/// The words of a text, as the fake counts tokens.
fn words(text: &str) -> i64 {
    text.split_whitespace().count() as i64
}

/// What core reserved for a recorded request: the most its turns can cost (a token a byte, four
/// more a turn) and the reply cap.
fn reservation(body: &Value, cap: u32) -> i64 {
    let turns = body["messages"].as_array().unwrap().iter();
    let most: i64 = turns.map(|m| i64::from(most_tokens(m["content"].as_str().unwrap_or_default())) + 4).sum();
    most + i64::from(cap)
}

/// The tokens the fake counted for the prompt of a recorded request.
fn prompt_words(body: &Value) -> i64 {
    body["messages"].as_array().unwrap().iter().map(|m| words(m["content"].as_str().unwrap_or_default())).sum()
}

async fn reserving_is_one_atomic_step_and_settling_releases_it(backend: Backend) {
    let dir = TempDir::new().unwrap();
    let Some((url, _guard)) = fresh_database(backend, &dir).await else { return };
    let store = Store::open(&url).await.unwrap();
    let user = NewUser {
        id: "u1",
        email: "u1@example.com",
        password_hash: "x",
        display_name: "U",
        language_code: "en",
        ai_mode: "managed",
        create_time: 0,
    };
    store.create_user(&user, None).await.unwrap();
    let store = Arc::new(store);
    // Forty calls reserve 100 tokens each of a 1000-token quota at once: ten fit.
    let mut calls = JoinSet::new();
    for _ in 0..40 {
        let store = store.clone();
        calls.spawn(async move { store.reserve_tokens("u1", "2026-12-02", 100, 1000).await.unwrap() });
    }
    let passed = calls.join_all().await.into_iter().filter(|passed| *passed).count();
    assert_eq!(passed, 10, "only the reservations that found the day below its quota passed");
    assert_eq!(store.reserved_tokens("u1", "2026-12-02").await.unwrap(), 1000);
    assert!(!store.reserve_tokens("u1", "2026-12-02", 1, 1000).await.unwrap());
    // Another day has its own quota.
    assert!(store.reserve_tokens("u1", "2026-12-03", 100, 1000).await.unwrap());

    // Settling releases the reservation and adds the real counts in one step.
    let real = UsageRecord {
        day: "2026-12-02".into(),
        prompt_tokens: 30,
        completion_tokens: 40,
        managed_tokens: 70,
        request_count: 1,
        estimated: 0,
    };
    store.add_usage("u1", &real, 100).await.unwrap();
    assert_eq!(store.reserved_tokens("u1", "2026-12-02").await.unwrap(), 900);
    assert_eq!(store.managed_tokens("u1", "2026-12-02").await.unwrap(), 70);
    // 70 spent and 900 reserved leave room for one more reservation.
    assert!(store.reserve_tokens("u1", "2026-12-02", 100, 1000).await.unwrap());
    assert!(!store.reserve_tokens("u1", "2026-12-02", 100, 1000).await.unwrap());
    // A failed call adds a request and no tokens, and releases what it reserved; a release
    // larger than what is left never makes the reservations negative.
    let failed = UsageRecord { day: "2026-12-02".into(), request_count: 1, ..Default::default() };
    store.add_usage("u1", &failed, 100).await.unwrap();
    assert_eq!(store.reserved_tokens("u1", "2026-12-02").await.unwrap(), 900);
    store.add_usage("u1", &failed, 5000).await.unwrap();
    assert_eq!(store.reserved_tokens("u1", "2026-12-02").await.unwrap(), 0);
    let days = store.usage_since("u1", "2026-12-02").await.unwrap();
    let first = days.iter().find(|day| day.day == "2026-12-02").unwrap();
    assert_eq!((first.managed_tokens, first.request_count), (70, 3));
}

async fn a_burst_of_messages_overshoots_the_quota_by_at_most_one_reservation(backend: Backend) {
    const QUOTA: u64 = 1000;
    const CAP: u32 = 500;
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |config| {
        config.daily_token_quota = QUOTA;
        config.max_reply_tokens = CAP;
        // Only the quota holds the burst back here; the per-user call limit has its own test.
        config.max_calls_per_user = 50;
    })
    .await
    else {
        return;
    };
    let (_, ann) = app.register("ann").await;
    // Each reply is 450 tokens, within the cap; a call reserves the cap and the most its prompt
    // can cost, at least what the fake counts.
    fake.set_reply("word ".repeat(450));
    fake.set_delay(Duration::from_millis(400));
    let app = Arc::new(app);
    let mut burst = JoinSet::new();
    for n in 0..20 {
        let (app, token) = (app.clone(), ann.token.clone());
        burst.spawn(async move { say(&app, &token, &format!("parallel message {n:02}")).await });
    }
    let results = burst.join_all().await;
    let answered = results.iter().filter(|result| result.is_ok()).count();
    for refused in results.iter().filter_map(|result| result.as_ref().err()) {
        assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
        assert!(refused.message().contains("quota of 1000 tokens"), "{refused:?}");
    }
    assert!((1..20).contains(&answered), "{answered} of 20 answered");
    assert_eq!(fake.chat_calls(), answered, "a refused message asks the model nothing");
    let spent = today(&app, &ann.token).await;
    let requests = fake.requests();
    let one_reservation = requests.iter().map(|r| reservation(&r.body, CAP)).max().unwrap();
    assert!(
        spent.managed_tokens <= QUOTA as i64 + one_reservation,
        "{} spent of a {QUOTA}-token quota, one reservation being at most {one_reservation}",
        spent.managed_tokens
    );
    let real: i64 = requests.iter().map(|r| prompt_words(&r.body) + 450).sum();
    assert_eq!(spent.managed_tokens, real, "the real counts of the answered messages");
    assert_eq!(spent.request_count, answered as i32);
}

async fn reservations_settle_to_the_real_usage_and_a_failed_call_releases_its_own(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    // One reservation (the 500-token cap and the prompt) is more than the whole quota: a
    // reservation that stayed after its call would refuse the next message.
    let Some(app) = app_with(backend, &fake, |config| {
        config.daily_token_quota = 400;
        config.max_reply_tokens = 500;
    })
    .await
    else {
        return;
    };
    let (_, ann) = app.register("ann").await;
    fake.push(Behaviour::NoQuota);
    let failed = say(&app, &ann.token, "first try").await.unwrap_err();
    assert!(failed.message().contains("credit is spent"), "{failed:?}");
    let first = say(&app, &ann.token, "hello there").await.expect("the failed call released its reservation");
    let second = say(&app, &ann.token, "and again").await.expect("the answered call settled its reservation");
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    let prompts: i64 = requests[1..].iter().map(|r| prompt_words(&r.body)).sum();
    let replies = words(&first.reply.unwrap().text) + words(&second.reply.unwrap().text);
    let spent = today(&app, &ann.token).await;
    assert_eq!((spent.prompt_tokens, spent.completion_tokens), (prompts, replies), "the real counts, no estimates");
    assert_eq!((spent.managed_tokens, spent.request_count, spent.estimated), (prompts + replies, 3, false));
}

async fn every_model_call_carries_the_reply_cap(backend: Backend) {
    assert_eq!(Config::with_defaults("d".into()).max_reply_tokens, 2048, "the default cap");
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |config| config.max_reply_tokens = 333).await else { return };
    let run = running(&app).await;
    say(&app, &run.session.token, "plain").await.unwrap();
    let request = StreamChatMessageRequest { text: "streamed".into(), client_message_id: String::new() };
    let mut stream = app.bot().stream_chat_message(authed(request, &run.session.token)).await.unwrap().into_inner();
    while stream.message().await.unwrap().is_some() {}
    let converse = assistchat_proto::v1::ConverseRequest {
        instance_id: "one".into(),
        resource_id: run.resource.id.clone(),
        chat_id: "chat-1".into(),
        sender: Some(ChannelUser { id: "42".into(), display_name: "Zoe".into(), username: "zoe".into() }),
        external_message_id: "m-1".into(),
        text: "from a channel".into(),
    };
    EdgeServiceClient::new(app.channel.clone()).converse(authed(converse, EDGE_TOKEN)).await.unwrap();
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        // The fake is an OpenAI-compatible server other than OpenAI's own: `max_tokens`.
        assert_eq!(request.body["max_tokens"], 333, "{:?}", request.body);
        assert!(request.body.get("max_completion_tokens").is_none());
    }
    assert!(requests[1].stream());
}

async fn a_few_calls_per_user_run_at_once_and_the_rest_are_told_when_to_retry(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let run = running(&app).await;
    let ann = run.session.token.clone();
    speak_russian(&app, &ann).await;
    let (_, bob) = app.register("bob").await;
    fake.set_delay(Duration::from_millis(1500));
    let app = Arc::new(app);
    let mut in_flight = JoinSet::new();
    for n in 0..4 {
        let (app, token) = (app.clone(), ann.clone());
        in_flight.spawn(async move { say(&app, &token, &format!("slow {n}")).await });
    }
    until("four calls reach the model", || fake.chat_calls() == 4).await;

    // The fifth, in the browser chat and in a channel alike, is refused in the person's words.
    let fifth = say(&app, &ann, "one more").await.unwrap_err();
    let converse = assistchat_proto::v1::ConverseRequest {
        instance_id: "one".into(),
        resource_id: run.resource.id.clone(),
        chat_id: "chat-1".into(),
        sender: Some(ChannelUser { id: "42".into(), display_name: "Zoe".into(), username: "zoe".into() }),
        external_message_id: "m-1".into(),
        text: "from a channel".into(),
    };
    let mut edge = EdgeServiceClient::new(app.channel.clone());
    let channel = edge.converse(authed(converse, EDGE_TOKEN)).await.unwrap_err();
    for refused in [&fifth, &channel] {
        assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
        assert!(refused.message().contains("уже отвечает на 4 ваших сообщений"), "{refused:?}");
        assert!(refused.message().contains("через 5 с"), "{refused:?}");
        let retry = refused.get_error_details().retry_info().and_then(|info| info.retry_delay);
        assert_eq!(retry, Some(Duration::from_secs(5)));
    }
    assert_eq!(fake.chat_calls(), 4, "the refused calls asked the model nothing");
    // Another user is not held back by ann's calls.
    say(&app, &bob.token, "hi").await.expect("bob's call runs");

    // Every permit comes back, also from a caller that gave up waiting.
    let mut hasty = authed(SendChatMessageRequest { text: "hasty".into(), client_message_id: String::new() }, &ann);
    hasty.set_timeout(Duration::from_millis(50));
    let results = in_flight.join_all().await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let calls = fake.chat_calls();
    assert_eq!(app.bot().send_chat_message(hasty).await.unwrap_err().code(), Code::Cancelled);
    until("the hasty call reaches the model", || fake.chat_calls() == calls + 1).await;
    let mut again = JoinSet::new();
    for n in 0..3 {
        let (app, token) = (app.clone(), ann.clone());
        again.spawn(async move { say(&app, &token, &format!("again {n}")).await });
    }
    until("three more calls reach the model", || fake.chat_calls() == calls + 4).await;
    assert_eq!(say(&app, &ann, "over").await.unwrap_err().code(), Code::ResourceExhausted, "the hasty call counts");
    assert!(again.join_all().await.iter().all(Result::is_ok));
    eventually("all permits back once the calls are over", || say(&app, &ann, "after")).await;
}

async fn event_streams_past_the_cap_are_refused_until_one_closes(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let (_, ann) = app.register("ann").await;
    let (_, bob) = app.register("bob").await;
    let watch = |token: String| {
        let mut bot = app.bot();
        async move { bot.watch_bot_status(authed(WatchBotStatusRequest {}, &token)).await }
    };
    let mut open = Vec::new();
    for _ in 0..8 {
        let mut stream = watch(ann.token.clone()).await.expect("a watch within the cap").into_inner();
        stream.message().await.unwrap().expect("the first snapshot");
        open.push(stream);
    }
    let refused = watch(ann.token.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert!(refused.message().contains("8 pages or apps") && refused.message().contains("Close the tabs"));
    let retry = refused.get_error_details().retry_info().and_then(|info| info.retry_delay);
    assert_eq!(retry, Some(Duration::from_secs(60)));
    let mut others = watch(bob.token.clone()).await.expect("another user has their own cap").into_inner();
    others.message().await.unwrap().unwrap();

    // A closed stream gives its place back.
    drop(open.pop());
    let mut reopened = eventually("a place freed by a closed stream", || async {
        let watched = watch(ann.token.clone()).await;
        if let Err(status) = &watched {
            assert_eq!(status.code(), Code::ResourceExhausted);
        }
        watched.map(tonic::Response::into_inner)
    })
    .await;
    reopened.message().await.unwrap().unwrap();
    assert_eq!(watch(ann.token.clone()).await.unwrap_err().code(), Code::ResourceExhausted);
}

async fn chat_streams_past_the_cap_are_refused(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |config| {
        config.max_streams_per_user = 3;
        config.max_calls_per_user = 10;
    })
    .await
    else {
        return;
    };
    let (_, ann) = app.register("ann").await;
    fake.set_delay(Duration::from_millis(1500));
    let stream = |text: &str| {
        let mut bot = app.bot();
        let request =
            authed(StreamChatMessageRequest { text: text.into(), client_message_id: String::new() }, &ann.token);
        async move { bot.stream_chat_message(request).await }
    };
    let mut open = Vec::new();
    for n in 0..3 {
        let mut replies = stream(&format!("slow {n}")).await.expect("a stream within the cap").into_inner();
        let first = replies.message().await.unwrap().unwrap().event.unwrap();
        assert!(matches!(first, ChatEvent::UserMessage(_)), "{first:?}");
        open.push(replies);
    }
    let refused = stream("one more").await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert!(refused.message().contains("3 chat replies on their way"), "{refused:?}");
    assert!(refused.get_error_details().retry_info().is_some());
    // Finished streams give their places back.
    for mut replies in open {
        while replies.message().await.unwrap().is_some() {}
    }
    eventually("places coming back when streams end", || stream("after")).await;
}
