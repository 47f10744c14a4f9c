//! Per-user limits as the browser meets them: status event streams past core's cap answer 429
//! with `Retry-After` and what to do, and a chat message past the limit of model calls at once
//! ends its event stream with the limit in words.

use std::time::Duration;

use assistchat_test_support::eventually;
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::TestWeb;

#[tokio::test]
async fn event_streams_past_the_cap_answer_429_until_one_closes() {
    let web = TestWeb::start().await;
    let client = web.browser();
    web.register(&client, "tabs").await;
    let mut open = Vec::new();
    for _ in 0..8 {
        let response = client.get(web.url("/api/bot/events")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response);
    }
    let refused = client.get(web.url("/api/bot/events")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()[header::RETRY_AFTER], "60");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "resource_exhausted");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("8 pages or apps") && message.contains("Close the tabs"), "{message}");

    // Another person's page is not held back.
    let other = web.browser();
    web.register(&other, "elsewhere").await;
    assert_eq!(other.get(web.url("/api/bot/events")).send().await.unwrap().status(), StatusCode::OK);

    // A closed tab gives its place back.
    drop(open.pop());
    let reopened = eventually("a place freed by a closed stream", || async {
        let response = client.get(web.url("/api/bot/events")).send().await.unwrap();
        if response.status() == StatusCode::OK { Ok(response) } else { Err(response.status()) }
    })
    .await;
    open.push(reopened);
}

#[tokio::test]
async fn a_chat_message_past_the_calls_at_once_ends_with_the_limit_in_words() {
    let web = TestWeb::start_with(|config| {
        config.openai_api_key = Some("sk-platform-test".into());
        config.ai_deadline = Duration::from_secs(10);
    })
    .await;
    web.openai().set_delay(Duration::from_millis(1500));
    let client = web.browser();
    let csrf = web.register(&client, "hurried").await;
    let send = |text: &str| {
        let body = json!({ "text": text });
        client.post(web.url("/api/chat/messages")).header("x-csrf-token", &csrf).json(&body).send()
    };
    let mut in_flight = Vec::new();
    for n in 0..4 {
        in_flight.push(tokio::spawn(send(&format!("slow {n}"))));
    }
    eventually("four calls at the model", || async {
        let calls = web.openai().chat_calls();
        if calls == 4 { Ok(()) } else { Err(calls) }
    })
    .await;

    let response = send("one more").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.unwrap();
    let error = body.split("\n\n").find(|block| block.contains("event: error")).unwrap_or_else(|| panic!("{body}"));
    let data: Value = serde_json::from_str(error.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap();
    assert_eq!(data["code"], "resource_exhausted");
    let message = data["message"].as_str().unwrap();
    assert!(message.contains("already answering 4 of your messages") && message.contains("in 5 s"), "{message}");
    for call in in_flight {
        let events = call.await.unwrap().unwrap().text().await.unwrap();
        assert!(events.contains("event: reply"), "{events}");
    }
}
