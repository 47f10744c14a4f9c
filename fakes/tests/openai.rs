//! The OpenAI fake, checked twice: on the wire with reqwest, and through async-openai, the client
//! the product uses, so a drift between the fake and that client's idea of the API shows here.

use std::time::{Duration, Instant};

use assistchat_fakes::openai::{Behaviour, FakeOpenAi, MODEL};
use serde_json::{Value, json};

/// Long enough for any honest answer on loopback; short enough to keep a stall test quick.
const PATIENCE: Duration = Duration::from_millis(300);

const KEY: &str = "sk-test-0123456789abcdef";

mod wire {
    use super::*;

    async fn post(fake: &FakeOpenAi, key: &str, body: Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}/chat/completions", fake.base_url()))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("the fake answers")
    }

    fn ask(text: &str) -> Value {
        json!({"model": MODEL, "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": text}
        ]})
    }

    fn ask_stream(text: &str, include_usage: bool) -> Value {
        let mut body = ask(text);
        body["stream"] = json!(true);
        if include_usage {
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }

    /// The `data:` payloads of a complete event stream.
    fn events(text: &str) -> Vec<String> {
        assert!(text.ends_with("\n\n"), "every event ends with a blank line: {text:?}");
        text.split_terminator("\n\n")
            .map(|event| event.strip_prefix("data: ").expect("a data line").to_owned())
            .collect()
    }

    #[tokio::test]
    async fn answers_with_a_completion_echoing_the_last_user_message() {
        let fake = FakeOpenAi::start().await;
        let response = post(&fake, KEY, ask("hello there")).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["object"], "chat.completion");
        assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert!(body["created"].as_u64().unwrap() > 1_700_000_000);
        assert_eq!(body["model"], MODEL);
        let choice = &body["choices"][0];
        assert_eq!(choice["index"], 0);
        assert_eq!(choice["message"]["role"], "assistant");
        assert_eq!(choice["message"]["content"], "You said: hello there");
        assert_eq!(choice["finish_reason"], "stop");
        // Words: "Be brief." + "hello there" in, "You said: hello there" out.
        assert_eq!(body["usage"]["prompt_tokens"], 4);
        assert_eq!(body["usage"]["completion_tokens"], 4);
        assert_eq!(body["usage"]["total_tokens"], 8);

        let sent = fake.requests();
        assert_eq!(sent.len(), 1);
        assert_eq!(fake.chat_calls(), 1);
        assert_eq!(sent[0].method, "POST");
        assert_eq!(sent[0].path, "/v1/chat/completions");
        assert_eq!(sent[0].authorization.as_deref(), Some(format!("Bearer {KEY}").as_str()));
        assert_eq!(sent[0].api_key(), Some(KEY));
        assert_eq!(sent[0].model(), Some(MODEL));
        assert_eq!(sent[0].messages()[1], json!({"role": "user", "content": "hello there"}));
        assert!(!sent[0].stream());
    }

    #[tokio::test]
    async fn scripted_replies_come_first_then_the_default_reply() {
        let fake = FakeOpenAi::start().await;
        fake.set_reply("Noted.");
        fake.push(Behaviour::Reply("First.".into()));
        for expected in ["First.", "Noted.", "Noted."] {
            let body: Value = post(&fake, KEY, ask("hi")).await.json().await.unwrap();
            assert_eq!(body["choices"][0]["message"]["content"], expected);
        }
        assert_eq!(fake.chat_calls(), 3);
    }

    #[tokio::test]
    async fn a_stream_sends_role_deltas_finish_usage_and_done() {
        let fake = FakeOpenAi::start().await;
        let response = post(&fake, KEY, ask_stream("one two three", true)).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let events = events(&response.text().await.unwrap());
        assert_eq!(events.last().unwrap(), "[DONE]");
        let chunks: Vec<Value> =
            events[..events.len() - 1].iter().map(|data| serde_json::from_str(data).unwrap()).collect();
        assert!(chunks.iter().all(|chunk| chunk["object"] == "chat.completion.chunk"));
        assert!(chunks.iter().all(|chunk| chunk["id"] == chunks[0]["id"]));
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");

        let (usage, rest) = chunks.split_last().unwrap();
        assert_eq!(usage["choices"], json!([]));
        // Words: "Be brief." + "one two three" in, "You said: one two three" out.
        assert_eq!(usage["usage"]["total_tokens"], 5 + 5);
        assert!(rest.iter().all(|chunk| chunk["usage"].is_null()));
        let (finish, deltas) = rest.split_last().unwrap();
        assert_eq!(finish["choices"][0]["finish_reason"], "stop");
        assert!(deltas.iter().all(|chunk| chunk["choices"][0]["finish_reason"].is_null()));
        let text: String = deltas.iter().filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str()).collect();
        assert_eq!(text, "You said: one two three");
        assert!(deltas.len() > 3, "the content comes in several deltas");
        assert!(fake.requests()[0].stream());
    }

    #[tokio::test]
    async fn a_stream_has_no_usage_unless_asked() {
        let fake = FakeOpenAi::start().await;
        let events = events(&post(&fake, KEY, ask_stream("hi", false)).await.text().await.unwrap());
        let chunks: Vec<Value> =
            events[..events.len() - 1].iter().map(|data| serde_json::from_str(data).unwrap()).collect();
        assert!(chunks.iter().all(|chunk| chunk.get("usage").is_none()));
        assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "stop");
    }

    #[tokio::test]
    async fn no_usage_leaves_usage_out_of_both_forms() {
        let fake = FakeOpenAi::start().await;
        fake.push(Behaviour::NoUsage);
        fake.push(Behaviour::NoUsage);
        let body: Value = post(&fake, KEY, ask("hi")).await.json().await.unwrap();
        assert_eq!(body["choices"][0]["message"]["content"], "You said: hi");
        assert!(body["usage"].is_null());

        let events = events(&post(&fake, KEY, ask_stream("hi", true)).await.text().await.unwrap());
        let last: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
        assert_eq!(last["choices"][0]["finish_reason"], "stop", "the finish chunk is last: no usage chunk");
    }

    #[tokio::test]
    async fn lists_the_model() {
        let fake = FakeOpenAi::start().await;
        let response =
            reqwest::Client::new().get(format!("{}/models", fake.base_url())).bearer_auth(KEY).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["object"], "list");
        assert_eq!(body["data"][0]["id"], MODEL);
        assert_eq!(body["data"][0]["object"], "model");
        assert_eq!(body["data"][0]["owned_by"], "openai");
        assert!(body["data"][0]["created"].is_u64());
        assert_eq!(fake.chat_calls(), 0);
        assert_eq!(fake.all_requests()[0].path, "/v1/models");
    }

    #[tokio::test]
    async fn keys_are_checked_before_anything_else() {
        let fake = FakeOpenAi::start().await;
        fake.reject_key("sk-revoked-key-0000wxyz");
        fake.push(Behaviour::Reply("kept for the first admitted call".into()));

        let response = post(&fake, "sk-revoked-key-0000wxyz", ask("hi")).await;
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["code"], "invalid_api_key");
        assert!(body["error"]["param"].is_null());
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("Incorrect API key provided: sk-****"), "{message}");
        assert!(message.contains("wxyz."), "{message}");
        assert!(!message.contains("revoked"), "the key is masked: {message}");

        let response = reqwest::Client::new()
            .post(format!("{}/chat/completions", fake.base_url()))
            .json(&ask("hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().starts_with("You didn't provide an API key"));

        let body: Value = post(&fake, KEY, ask("hi")).await.json().await.unwrap();
        assert_eq!(body["choices"][0]["message"]["content"], "kept for the first admitted call");

        let keys: Vec<_> = fake.requests().iter().map(|request| request.api_key().map(str::to_owned)).collect();
        assert_eq!(keys, [Some("sk-revoked-key-0000wxyz".to_owned()), None, Some(KEY.to_owned())]);
    }

    #[tokio::test]
    async fn an_allow_list_refuses_every_other_key() {
        let fake = FakeOpenAi::start().await;
        fake.allow_only([KEY]);
        assert_eq!(post(&fake, "sk-someone-else-1234", ask("hi")).await.status(), 401);
        assert_eq!(post(&fake, KEY, ask("hi")).await.status(), 200);
        let models =
            reqwest::Client::new().get(format!("{}/models", fake.base_url())).bearer_auth("sk-other").send().await;
        assert_eq!(models.unwrap().status(), 401);
    }

    #[tokio::test]
    async fn a_rate_limit_says_when_to_retry() {
        let fake = FakeOpenAi::start().await;
        fake.push(Behaviour::RateLimit { retry_after: Duration::from_millis(1500) });
        let response = post(&fake, KEY, ask("hi")).await;
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "2");
        assert_eq!(response.headers()["x-ratelimit-reset-requests"], "1.5s");
        assert_eq!(response.headers()["x-ratelimit-remaining-requests"], "0");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "requests");
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        assert!(body["error"]["message"].as_str().unwrap().starts_with("Rate limit reached for gpt-4o-mini"));
        assert_eq!(post(&fake, KEY, ask("hi")).await.status(), 200, "the next call answers");
    }

    #[tokio::test]
    async fn an_exhausted_quota_is_a_429_of_its_own_type() {
        let fake = FakeOpenAi::start().await;
        fake.push(Behaviour::NoQuota);
        let response = post(&fake, KEY, ask("hi")).await;
        assert_eq!(response.status(), 429);
        assert!(response.headers().get("retry-after").is_none());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "insufficient_quota");
        assert_eq!(body["error"]["code"], "insufficient_quota");
    }

    #[tokio::test]
    async fn a_server_error_is_a_500() {
        let fake = FakeOpenAi::start().await;
        fake.push(Behaviour::ServerError);
        let response = post(&fake, KEY, ask("hi")).await;
        assert_eq!(response.status(), 500);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "server_error");
    }

    #[tokio::test]
    async fn slow_replies_wait_before_the_headers() {
        let fake = FakeOpenAi::start().await;
        fake.push(Behaviour::Slow(Duration::from_millis(200)));
        let start = Instant::now();
        assert_eq!(post(&fake, KEY, ask("hi")).await.status(), 200);
        assert!(start.elapsed() >= Duration::from_millis(200));

        fake.set_delay(Duration::from_millis(150));
        let start = Instant::now();
        assert_eq!(post(&fake, KEY, ask("hi")).await.status(), 200);
        assert!(start.elapsed() >= Duration::from_millis(150));
    }

    #[tokio::test]
    async fn a_stalled_stream_sends_a_few_chunks_then_nothing() {
        let fake = FakeOpenAi::start().await;
        fake.push(Behaviour::Stall { after: 2 });
        let mut response = post(&fake, KEY, ask_stream("one two three four", true)).await;
        assert_eq!(response.status(), 200);
        let mut received = String::new();
        while let Ok(Some(bytes)) = tokio::time::timeout(PATIENCE, response.chunk()).await.map(Result::unwrap) {
            received.push_str(std::str::from_utf8(&bytes).unwrap());
        }
        // The role chunk and two content deltas, then silence with the connection open.
        let events = events(&received);
        assert_eq!(events.len(), 3);
        assert!(events[2].contains(r#""content":"said: ""#));
    }

    #[tokio::test]
    async fn a_stalled_answer_sends_headers_and_no_body() {
        let fake = FakeOpenAi::start().await;
        fake.push(Behaviour::Stall { after: 0 });
        let response = post(&fake, KEY, ask("hi")).await;
        assert_eq!(response.status(), 200);
        assert!(tokio::time::timeout(PATIENCE, response.bytes()).await.is_err());
    }

    #[tokio::test]
    async fn a_hangup_closes_the_connection_without_an_answer() {
        let fake = FakeOpenAi::start().await;
        fake.push(Behaviour::Hangup);
        let client = reqwest::Client::new();
        let sent = client.post(format!("{}/chat/completions", fake.base_url())).bearer_auth(KEY).json(&ask("hi"));
        let error = sent.send().await.expect_err("no answer");
        assert!(!error.is_timeout() && error.status().is_none(), "{error:?}");
        assert_eq!(post(&fake, KEY, ask("hi")).await.status(), 200, "the next call answers");
        assert_eq!(fake.chat_calls(), 2);
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_a_400() {
        let fake = FakeOpenAi::start().await;
        let response = reqwest::Client::new()
            .post(format!("{}/chat/completions", fake.base_url()))
            .bearer_auth(KEY)
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        assert!(fake.requests()[0].body.is_null());
    }

    #[tokio::test]
    async fn dropping_the_fake_stops_it() {
        let fake = FakeOpenAi::start().await;
        let url = format!("{}/models", fake.base_url());
        drop(fake);
        tokio::task::yield_now().await;
        let error = reqwest::Client::new().get(url).bearer_auth(KEY).send().await.expect_err("nobody listens");
        assert!(error.is_connect(), "{error:?}");
    }
}

mod client {
    use super::*;

    use async_openai::Client;
    use async_openai::config::OpenAIConfig;
    use async_openai::error::{ApiErrorResponse, OpenAIError};
    use async_openai::middleware::ReqwestService;
    use async_openai::types::chat::{
        ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage, ChatCompletionStreamOptions,
        CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
    };
    use tokio_stream::StreamExt;

    /// A client of the fake without async-openai's own retries, so each call is one request and
    /// a failure reaches the test as it came.
    fn client(fake: &FakeOpenAi, key: &str) -> Client<OpenAIConfig> {
        default_client(fake, key).with_http_service(ReqwestService::default())
    }

    /// A client as async-openai builds it by default: it retries 429 and 5xx by itself.
    fn default_client(fake: &FakeOpenAi, key: &str) -> Client<OpenAIConfig> {
        Client::with_config(OpenAIConfig::new().with_api_base(fake.base_url()).with_api_key(key))
    }

    fn ask(text: &str) -> CreateChatCompletionRequest {
        CreateChatCompletionRequestArgs::default()
            .model(MODEL)
            .messages([
                ChatCompletionRequestSystemMessage::from("Be brief.").into(),
                ChatCompletionRequestUserMessage::from(text).into(),
            ])
            .build()
            .unwrap()
    }

    fn ask_stream(text: &str) -> CreateChatCompletionRequest {
        let mut request = ask(text);
        request.stream_options =
            Some(ChatCompletionStreamOptions { include_usage: Some(true), include_obfuscation: None });
        request
    }

    fn api_error(result: Result<impl std::fmt::Debug, OpenAIError>) -> ApiErrorResponse {
        match result {
            Err(OpenAIError::ApiError(error)) => error,
            other => panic!("expected an API error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_completion_carries_the_reply_and_usage() {
        let fake = FakeOpenAi::start().await;
        let response = client(&fake, KEY).chat().create(ask("hello there")).await.unwrap();
        assert_eq!(response.choices[0].message.content.as_deref(), Some("You said: hello there"));
        let usage = response.usage.unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (4, 4, 8));

        let sent = &fake.requests()[0];
        assert_eq!(sent.api_key(), Some(KEY));
        assert_eq!(sent.model(), Some(MODEL));
        assert_eq!(sent.messages()[0], json!({"role": "system", "content": "Be brief."}));
        assert_eq!(sent.messages()[1], json!({"role": "user", "content": "hello there"}));
    }

    #[tokio::test]
    async fn a_completion_without_usage_parses() {
        let fake = FakeOpenAi::start().await;
        fake.push(Behaviour::NoUsage);
        let response = client(&fake, KEY).chat().create(ask("hi")).await.unwrap();
        assert!(response.usage.is_none());
    }

    #[tokio::test]
    async fn a_stream_joins_into_the_reply_and_ends_with_usage() {
        let fake = FakeOpenAi::start().await;
        fake.set_reply("Streams arrive word by word.");
        let mut stream = client(&fake, KEY).chat().create_stream(ask_stream("hi")).await.unwrap();
        let (mut text, mut deltas, mut finish, mut usage) = (String::new(), 0, None, None);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.unwrap();
            for choice in chunk.choices {
                if let Some(content) = choice.delta.content.filter(|content| !content.is_empty()) {
                    text.push_str(&content);
                    deltas += 1;
                }
                finish = finish.or(choice.finish_reason);
            }
            usage = usage.or(chunk.usage);
        }
        assert_eq!(text, "Streams arrive word by word.");
        assert!(deltas > 1);
        assert!(finish.is_some());
        assert_eq!(usage.unwrap().completion_tokens, 5);
        assert!(fake.requests()[0].stream());
        assert_eq!(fake.requests()[0].body["stream_options"]["include_usage"], true);
    }

    #[tokio::test]
    async fn lists_the_model() {
        let fake = FakeOpenAi::start().await;
        let models = client(&fake, KEY).models().list().await.unwrap();
        assert_eq!(models.data[0].id, MODEL);
    }

    #[tokio::test]
    async fn a_rejected_key_is_an_api_error_naming_the_key() {
        let fake = FakeOpenAi::start().await;
        fake.reject_key("sk-revoked-key-0000wxyz");
        let error = api_error(client(&fake, "sk-revoked-key-0000wxyz").chat().create(ask("hi")).await);
        assert_eq!(error.status_code, 401);
        assert_eq!(error.api_error.code.as_deref(), Some("invalid_api_key"));
        assert!(error.api_error.message.contains("Incorrect API key provided: sk-"));
        assert!(error.to_string().contains("wxyz"), "{error}");
    }

    #[tokio::test]
    async fn an_exhausted_quota_is_told_apart_from_a_rate_limit() {
        let fake = FakeOpenAi::start().await;
        fake.push(Behaviour::RateLimit { retry_after: Duration::from_secs(20) });
        fake.push(Behaviour::NoQuota);
        let client = client(&fake, KEY);

        let limited = api_error(client.chat().create(ask("hi")).await);
        assert_eq!(limited.status_code, 429);
        assert_eq!(limited.api_error.r#type.as_deref(), Some("requests"));
        assert_eq!(limited.api_error.code.as_deref(), Some("rate_limit_exceeded"));

        let broke = api_error(client.chat().create(ask("hi")).await);
        assert_eq!(broke.status_code, 429);
        assert_eq!(broke.api_error.r#type.as_deref(), Some("insufficient_quota"));
        assert_eq!(broke.api_error.code.as_deref(), Some("insufficient_quota"));
    }

    #[tokio::test]
    async fn a_server_error_is_an_api_error_with_the_raw_body() {
        let fake = FakeOpenAi::start().await;
        fake.push(Behaviour::ServerError);
        let error = api_error(client(&fake, KEY).chat().create(ask("hi")).await);
        assert_eq!(error.status_code, 500);
        // async-openai does not parse 5xx bodies: the JSON lands in `message`, type and code stay empty.
        assert!(error.api_error.message.contains("server_error"));
        assert_eq!(error.api_error.code, None);
    }

    #[tokio::test]
    async fn the_default_client_retries_rate_limits_and_server_errors_but_not_quota() {
        let fake = FakeOpenAi::start().await;
        fake.push(Behaviour::RateLimit { retry_after: Duration::ZERO });
        fake.push(Behaviour::ServerError);
        let client = default_client(&fake, KEY);
        let response = client.chat().create(ask("hi")).await.unwrap();
        assert_eq!(response.choices[0].message.content.as_deref(), Some("You said: hi"));
        assert_eq!(fake.chat_calls(), 3);

        fake.push(Behaviour::NoQuota);
        let error = api_error(client.chat().create(ask("hi")).await);
        assert_eq!(error.api_error.r#type.as_deref(), Some("insufficient_quota"));
        assert_eq!(fake.chat_calls(), 4, "no retry for an exhausted quota");
    }

    #[tokio::test]
    async fn the_default_client_gives_up_after_three_retries() {
        let fake = FakeOpenAi::start().await;
        for _ in 0..4 {
            fake.push(Behaviour::RateLimit { retry_after: Duration::ZERO });
        }
        let error = api_error(default_client(&fake, KEY).chat().create(ask("hi")).await);
        assert_eq!(error.api_error.code.as_deref(), Some("rate_limit_exceeded"));
        assert_eq!(fake.chat_calls(), 4);
    }

    #[tokio::test]
    async fn a_hangup_is_a_transport_error_and_is_not_retried() {
        let fake = FakeOpenAi::start().await;
        fake.push(Behaviour::Hangup);
        let result = default_client(&fake, KEY).chat().create(ask("hi")).await;
        assert!(matches!(result, Err(OpenAIError::Reqwest(_))), "{result:?}");
        assert_eq!(fake.chat_calls(), 1);
    }

    #[tokio::test]
    async fn a_stalled_stream_yields_its_first_deltas_then_waits() {
        let fake = FakeOpenAi::start().await;
        fake.push(Behaviour::Stall { after: 2 });
        let mut stream = client(&fake, KEY).chat().create_stream(ask_stream("one two three")).await.unwrap();
        let mut text = String::new();
        while let Ok(Some(chunk)) = tokio::time::timeout(PATIENCE, stream.next()).await {
            text.push_str(chunk.unwrap().choices[0].delta.content.as_deref().unwrap_or_default());
        }
        assert_eq!(text, "You said: ");
    }

    #[tokio::test]
    async fn a_slow_reply_outlasts_a_short_timeout() {
        let fake = FakeOpenAi::start().await;
        fake.push(Behaviour::Slow(Duration::from_secs(5)));
        let client = client(&fake, KEY);
        assert!(tokio::time::timeout(PATIENCE, client.chat().create(ask("hi"))).await.is_err());
    }
}
