//! The gRPC server's limits: a unary call past its timeout ends with DEADLINE_EXCEEDED, while
//! streams and the calls that wait for a model live on; one connection carries only so many
//! calls at once, and the calls past that wait for one to end. Limits of the server, not of
//! storage: these run on SQLite only.

use std::time::Duration;

use assistchat_fakes::FakeOpenAi;
use assistchat_proto::v1::{LoginRequest, SendChatMessageRequest, WatchBotStatusRequest};
use tonic::Code;

use crate::helpers::{Backend, authed, spawn_app_with};

/// Far longer than any limit under test: what never comes fails the test, not hangs it.
const BOUND: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_unary_call_past_its_timeout_ends_while_streams_and_model_calls_live_on() {
    let model = FakeOpenAi::start().await;
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.openai_api_key = Some("sk-platform-test".into());
        config.openai_base_url = model.base_url();
    })
    .await
    .unwrap();
    let (user, session) = app.register("ann").await;
    // Restarted with a unary timeout no password check can meet (argon2 alone takes longer).
    let app = app.restart_with(|config| config.rpc_timeout = Duration::from_millis(1)).await;

    let mut watch = app.bot().watch_bot_status(authed(WatchBotStatusRequest {}, &session.token)).await.unwrap();
    let watch = watch.get_mut();
    assert!(watch.message().await.unwrap().is_some(), "the first snapshot");

    let login = LoginRequest { email: user.email.clone(), password: "a long enough passphrase".into() };
    let timed_out = app.auth().login(login).await.unwrap_err();
    assert_eq!(timed_out.code(), Code::DeadlineExceeded, "{timed_out:?}");
    assert!(timed_out.message().contains("ran out of its time") && timed_out.message().contains("try again"));

    // A model answering in 300 ms, far past the unary timeout: the chat call gets the model's
    // deadline on top of it.
    model.set_delay(Duration::from_millis(300));
    let message = SendChatMessageRequest { text: "hello".into(), client_message_id: "m1".into() };
    let answered = app.bot().send_chat_message(authed(message, &session.token)).await;
    assert!(answered.is_ok(), "the model-waiting call outlived the unary timeout: {answered:?}");

    // The stream, open all along, has not been ended by any timeout.
    match tokio::time::timeout(Duration::from_millis(200), watch.message()).await {
        Err(_) | Ok(Ok(Some(_))) => {}
        Ok(ended) => panic!("the status stream ended: {ended:?}"),
    }
}

#[tokio::test]
async fn calls_past_the_streams_one_connection_may_carry_wait_for_one_to_end() {
    let app = spawn_app_with(Backend::Sqlite, |config| config.max_streams_per_connection = 2).await.unwrap();
    let (_, session) = app.register("ann").await;
    let watch = || {
        let (mut bot, token) = (app.bot(), session.token.clone());
        async move { bot.watch_bot_status(authed(WatchBotStatusRequest {}, &token)).await }
    };
    let first = watch().await.unwrap();
    let _second = watch().await.unwrap();

    // One channel is one HTTP/2 connection: the third stream is held by the client until the
    // server's limit lets it open.
    let mut bot = app.bot();
    let session_token = session.token.clone();
    let mut third = tokio::spawn(async move {
        bot.watch_bot_status(authed(WatchBotStatusRequest {}, &session_token)).await.map(|_| ())
    });
    let waited = tokio::time::timeout(Duration::from_millis(500), &mut third).await;
    assert!(waited.is_err(), "a third call opened past the limit of two: {waited:?}");
    drop(first);
    let opened = tokio::time::timeout(BOUND, third).await.expect("the third call opens once one ended");
    assert!(opened.unwrap().is_ok(), "it is served, not refused");
}
