//! The Zoom fake on the wire, with reqwest: tokens from the client-credentials grant that work
//! until they expire or are revoked, messages recorded with their JSON and authorization, and
//! scripted failures answered as Zoom answers them.

use std::time::Duration;

use assistchat_fakes::zoom::{Endpoint, Failure, FakeZoom, MAX_MESSAGE_UTF16, TOO_LONG};
use serde_json::{Value, json};

const CLIENT_ID: &str = "AbCdEfGhIjKlMnOp";
const CLIENT_SECRET: &str = "s3cr3t-0123456789abcdef";
const BOT_JID: &str = "v1bot_abcdef@xmpp.zoom.us";

async fn fake_with_app() -> FakeZoom {
    let zoom = FakeZoom::start().await;
    zoom.add_app(CLIENT_ID, CLIENT_SECRET, BOT_JID);
    zoom
}

/// Asks for a token as a chatbot does; returns the status and the JSON answer.
async fn get_token(zoom: &FakeZoom, client_id: &str, secret: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/oauth/token?grant_type=client_credentials", zoom.base_url()))
        .basic_auth(client_id, Some(secret))
        .send()
        .await
        .expect("the fake answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

/// Sends a chatbot message with `token`; returns the status, the `Retry-After` header and the
/// JSON answer.
async fn send(zoom: &FakeZoom, token: &str, body: &Value) -> (u16, Option<String>, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v2/im/chat/messages", zoom.base_url()))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("the fake answers");
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, response.json().await.expect("a JSON answer"))
}

fn message(text: &str) -> Value {
    json!({
        "robot_jid": BOT_JID,
        "to_jid": "user1@xmpp.zoom.us",
        "account_id": "acct-1",
        "content": {"head": {"text": "Assistant"}, "body": [{"type": "message", "text": text}]},
        "is_markdown_support": true
    })
}

#[tokio::test]
async fn a_token_from_the_right_credentials_sends_messages_that_are_recorded() {
    let zoom = fake_with_app().await;
    let (status, body) = get_token(&zoom, CLIENT_ID, "wrong-secret").await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    let (status, _) = get_token(&zoom, "unknown-client", CLIENT_SECRET).await;
    assert_eq!(status, 401);
    assert_eq!(zoom.tokens_issued(), 0);

    let (status, body) = get_token(&zoom, CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(status, 200);
    assert_eq!((body["token_type"].as_str(), body["expires_in"].as_u64()), (Some("bearer"), Some(3600)));
    assert_eq!(body["scope"], "imchat:bot");
    let token = body["access_token"].as_str().unwrap().to_owned();

    let (status, _, answer) = send(&zoom, &token, &message("Hello from the bot")).await;
    assert_eq!(status, 201);
    assert_eq!(answer["to_jid"], "user1@xmpp.zoom.us");
    let sent = zoom.wait_for_messages(1, Duration::from_secs(5)).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message_id, answer["message_id"].as_str().unwrap());
    assert_eq!(sent[0].authorization, format!("Bearer {token}"));
    assert_eq!(sent[0].field("account_id"), Some("acct-1"));
    assert_eq!(sent[0].text(), "Hello from the bot");

    // Another app's chatbot, a missing field, a made-up token: refused, and not recorded.
    let mut foreign = message("not mine");
    foreign["robot_jid"] = json!("other@xmpp.zoom.us");
    assert_eq!(send(&zoom, &token, &foreign).await.0, 400);
    let mut incomplete = message("no account");
    incomplete.as_object_mut().unwrap().remove("account_id");
    assert_eq!(send(&zoom, &token, &incomplete).await.0, 400);
    let (status, _, body) = send(&zoom, "made-up", &message("forged")).await;
    assert_eq!((status, body["code"].as_u64()), (401, Some(124)));
    assert_eq!(zoom.messages().len(), 1);
    let statuses: Vec<u16> = zoom.attempts_at(Endpoint::Messages).iter().map(|a| a.status).collect();
    assert_eq!(statuses, [201, 400, 400, 401]);
}

#[tokio::test]
async fn tokens_stop_working_when_they_expire_or_are_revoked() {
    let zoom = fake_with_app().await;
    zoom.set_token_lifetime(Duration::from_secs(1));
    let (_, body) = get_token(&zoom, CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(body["expires_in"], 1);
    let short_lived = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(send(&zoom, &short_lived, &message("in time")).await.0, 201);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _, body) = send(&zoom, &short_lived, &message("too late")).await;
    assert_eq!((status, body["message"].as_str()), (401, Some("Access token is expired.")));

    zoom.set_token_lifetime(Duration::from_secs(3600));
    let (_, body) = get_token(&zoom, CLIENT_ID, CLIENT_SECRET).await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(token, short_lived, "every token is new");
    zoom.revoke_tokens();
    assert_eq!(send(&zoom, &token, &message("revoked")).await.0, 401);
    let (_, body) = get_token(&zoom, CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(send(&zoom, body["access_token"].as_str().unwrap(), &message("fresh")).await.0, 201);
    assert_eq!(zoom.tokens_issued(), 3);
    assert_eq!(zoom.messages().iter().map(|m| m.text()).collect::<Vec<_>>(), ["in time", "fresh"]);
}

#[tokio::test]
async fn scripted_failures_play_once_each_in_order_then_calls_succeed() {
    let zoom = fake_with_app().await;
    zoom.fail_next(Endpoint::Token, Failure::ServerError);
    assert_eq!(get_token(&zoom, CLIENT_ID, CLIENT_SECRET).await.0, 500);
    let (status, body) = get_token(&zoom, CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(status, 200);
    let token = body["access_token"].as_str().unwrap().to_owned();

    zoom.fail_next(Endpoint::Messages, Failure::TooManyRequests { retry_after_secs: Some(2) });
    zoom.fail_next(Endpoint::Messages, Failure::ServerError);
    zoom.fail_next(Endpoint::Messages, Failure::Unauthorized);
    let (status, retry_after, body) = send(&zoom, &token, &message("one")).await;
    assert_eq!((status, retry_after.as_deref(), body["code"].as_u64()), (429, Some("2"), Some(429)));
    assert_eq!(send(&zoom, &token, &message("one")).await.0, 500);
    assert_eq!(send(&zoom, &token, &message("one")).await.0, 401);
    assert_eq!(send(&zoom, &token, &message("one")).await.0, 201);
    assert_eq!(zoom.messages().len(), 1, "only the accepted message is recorded");
    assert_eq!(zoom.attempts_at(Endpoint::Token).len(), 2);

    // The grant type is required, in the query or in a form.
    let response = reqwest::Client::new()
        .post(format!("{}/oauth/token", zoom.base_url()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = reqwest::Client::new()
        .post(format!("{}/oauth/token", zoom.base_url()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn messages_record_whether_they_are_markdown_and_over_long_ones_are_refused() {
    let zoom = fake_with_app().await;
    let (_, body) = get_token(&zoom, CLIENT_ID, CLIENT_SECRET).await;
    let token = body["access_token"].as_str().unwrap().to_owned();

    let mut plain = message("*not bold*");
    plain.as_object_mut().unwrap().remove("is_markdown_support");
    assert_eq!(send(&zoom, &token, &plain).await.0, 201);
    // The limit counts UTF-16 units: an emoji is two.
    let longest = "😀".repeat(MAX_MESSAGE_UTF16 / 2);
    assert_eq!(send(&zoom, &token, &message(&longest)).await.0, 201);
    let (status, _, answer) = send(&zoom, &token, &message(&format!("{longest}a"))).await;
    assert_eq!((status, answer["message"].as_str()), (400, Some(TOO_LONG)));

    let sent = zoom.messages();
    assert_eq!(sent.iter().map(|message| message.markdown).collect::<Vec<_>>(), [false, true]);
}
