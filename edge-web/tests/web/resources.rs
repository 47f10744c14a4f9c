//! The JSON API of providers, resources and the bot, against a real core with a test provider
//! attached: settings with secrets in and masks out, errors named as the API names fields, and
//! the bot's status live as server-sent events.

use std::time::Duration;

use assistchat_test_support::eventually;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestWeb;

pub const TOKEN_A: &str = "tok-aaaaaaaaaaaaaaaaaaaa-1111";
const TOKEN_B: &str = "tok-bbbbbbbbbbbbbbbbbbbb-2222";

/// A signed-in user: a cookie-keeping client and its CSRF token.
pub struct User {
    pub client: Client,
    pub csrf: String,
}

impl User {
    pub async fn register(web: &TestWeb, name: &str) -> Self {
        let client = web.browser();
        let csrf = web.register(&client, name).await;
        Self { client, csrf }
    }

    /// Sends a JSON API request; returns the status and the body as text.
    pub async fn call(&self, web: &TestWeb, method: &str, path: &str, body: Option<Value>) -> (StatusCode, String) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, web.url(path)).header("x-csrf-token", &self.csrf);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// Like [`User::call`], expecting `expected` and a JSON body.
    pub async fn json(&self, web: &TestWeb, method: &str, path: &str, body: Option<Value>, expected: u16) -> Value {
        let (status, text) = self.call(web, method, path, body).await;
        assert_eq!(status.as_u16(), expected, "{method} {path}: {text}");
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() }
    }

    /// Creates a resource of the test provider; returns it.
    pub async fn create(&self, web: &TestWeb, name: &str, settings: Value) -> Value {
        let body = json!({"provider": "testchan", "name": name, "settings": settings});
        self.json(web, "POST", "/api/resources", Some(body), 201).await
    }

    /// Waits until the resource is in `state`; returns it, or fails with the last one seen.
    pub async fn eventually(&self, web: &TestWeb, id: &str, state: &str) -> Value {
        let path = format!("/api/resources/{id}");
        eventually(&format!("{id} becoming {state}"), || async {
            let resource = self.json(web, "GET", &path, None, 200).await;
            if resource["state"] == state { Ok(resource) } else { Err(resource) }
        })
        .await
    }
}

#[tokio::test]
async fn resources_round_trip_with_secrets_masked_and_errors_named() {
    let web = TestWeb::start_with_edges().await;
    let _edge = web.edge("testchan").await;
    let ann = User::register(&web, "Ann").await;

    let providers = ann.json(&web, "GET", "/api/providers", None, 200).await;
    let provider = &providers["providers"][0];
    assert_eq!(provider["name"], "testchan");
    assert_eq!(provider["online"], true);
    assert_eq!(provider["secret_fields"], json!(["api_token"]));
    assert_eq!(provider["settings_schema"]["properties"]["api_token"]["minLength"], 16);

    let settings = json!({"api_token": TOKEN_A, "system_prompt": "Be brief.", "allowed_users": ["ann"]});
    let created = ann.create(&web, "Family", settings).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["provider"], "testchan");
    assert_eq!(created["name"], "Family");
    assert_eq!(
        created["settings"],
        json!({"api_token": "...1111", "system_prompt": "Be brief.", "allowed_users": ["ann"]})
    );
    assert_eq!(created["desired_state"], "active");
    assert_eq!(created["state"], "paused", "the bot is off: {created}");
    assert_eq!(created["state_reason"], "BOT_STOPPED");
    assert!(created["state_change_time"].as_str().unwrap().ends_with('Z'));

    // A change of the plain settings with the secret empty keeps the secret; sending its mask
    // back (as a script that read the resource would) keeps it too.
    let patch = json!({"name": "Family bot", "settings": {"api_token": "", "system_prompt": "Be kind."}});
    let patched = ann.json(&web, "PATCH", &format!("/api/resources/{id}"), Some(patch), 200).await;
    assert_eq!(patched["name"], "Family bot");
    assert_eq!(patched["settings"], json!({"api_token": "...1111", "system_prompt": "Be kind."}));
    let mut round_trip = patched["settings"].clone();
    round_trip["allowed_users"] = json!(["ann", "bob"]);
    let patch = json!({"settings": round_trip});
    let patched = ann.json(&web, "PATCH", &format!("/api/resources/{id}"), Some(patch), 200).await;
    assert_eq!(patched["settings"]["api_token"], "...1111");
    assert_eq!(patched["settings"]["allowed_users"], json!(["ann", "bob"]));

    // Bad input names the field as the API does.
    let bad =
        json!({"provider": "testchan", "name": "Bad", "settings": {"api_token": TOKEN_B, "allowed_users": "ann"}});
    let error = ann.json(&web, "POST", "/api/resources", Some(bad), 400).await;
    assert_eq!(error["error"]["field"], "settings.allowed_users", "{error}");
    let short = json!({"provider": "testchan", "name": "Bad", "settings": {"api_token": "short"}});
    let error = ann.json(&web, "POST", "/api/resources", Some(short), 400).await;
    assert_eq!(error["error"]["field"], "settings.api_token", "{error}");
    let unnamed = json!({"provider": "testchan", "name": "", "settings": {"api_token": TOKEN_B}});
    assert_eq!(ann.json(&web, "POST", "/api/resources", Some(unnamed), 400).await["error"]["field"], "name");
    let unknown = json!({"provider": "nope", "name": "X", "settings": {}});
    assert_eq!(ann.json(&web, "POST", "/api/resources", Some(unknown), 400).await["error"]["field"], "provider");
    let bad_patch = json!({"settings": {"allowed_users": 5}});
    let error = ann.json(&web, "PATCH", &format!("/api/resources/{id}"), Some(bad_patch), 400).await;
    assert_eq!(error["error"]["field"], "settings.allowed_users");

    // One external account runs in one place only.
    let duplicate = json!({"provider": "testchan", "name": "Again", "settings": {"api_token": TOKEN_A}});
    let error = ann.json(&web, "POST", "/api/resources", Some(duplicate), 409).await;
    assert_eq!(error["error"]["code"], "already_exists");
    assert!(!error["error"]["message"].as_str().unwrap().is_empty());

    // Reading back never shows the secret.
    for path in [format!("/api/resources/{id}"), "/api/resources".into(), "/api/resources?provider=testchan".into()] {
        let (status, body) = ann.call(&web, "GET", &path, None).await;
        assert_eq!(status, 200);
        assert!(body.contains("...1111") && !body.contains(TOKEN_A), "{path}: {body}");
    }
    let listed = ann.json(&web, "GET", "/api/resources?provider=other", None, 200).await;
    assert_eq!(listed["resources"], json!([]));

    // Another user's resource does not exist for them; without credentials nothing does.
    let bob = User::register(&web, "Bob").await;
    for (method, path) in [("GET", format!("/api/resources/{id}")), ("POST", format!("/api/resources/{id}/pause"))] {
        let (status, body) = bob.call(&web, method, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    assert_eq!(bob.call(&web, "DELETE", &format!("/api/resources/{id}"), None).await.0, StatusCode::NOT_FOUND);
    let anonymous = reqwest::get(web.url("/api/resources")).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reqwest::get(web.url("/api/bot/status")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let body = json!({"provider": "testchan", "name": "X", "settings": {"api_token": TOKEN_B}});
    let no_csrf = ann.client.post(web.url("/api/resources")).json(&body).send().await.unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);

    ann.json(&web, "DELETE", &format!("/api/resources/{id}"), None, 204).await;
    ann.json(&web, "GET", &format!("/api/resources/{id}"), None, 404).await;
}

#[tokio::test]
async fn the_bot_runs_resources_and_shows_provider_errors() {
    let web = TestWeb::start_with_edges().await;
    let edge = web.edge("testchan").await;
    let ann = User::register(&web, "Ann").await;
    let good = ann.create(&web, "Good", json!({"api_token": TOKEN_A})).await;
    let failing = json!({"api_token": TOKEN_B, "fail_with": "The service rejected the token."});
    let bad = ann.create(&web, "Bad", failing).await;

    let status = ann.json(&web, "POST", "/api/bot/start", None, 200).await;
    assert_eq!(status["enabled"], true);
    let ready = ann.eventually(&web, good["id"].as_str().unwrap(), "ready").await;
    assert_eq!(ready["state_detail"], "Connected.");
    assert_eq!(ready["status_info"], json!([{"key": "account", "label": "Account", "value": "@good", "kind": "text"}]));
    let starts = edge.starts(good["id"].as_str().unwrap());
    assert_eq!(starts[0].secrets["api_token"], TOKEN_A, "the edge gets the secret in clear");

    let error = ann.eventually(&web, bad["id"].as_str().unwrap(), "error").await;
    assert_eq!(error["state_detail"], "The service rejected the token.");
    assert_eq!(error["state_reason"], "TOKEN_REJECTED");
    assert_eq!(error["state_action"], "fix_settings");

    let status = ann.json(&web, "GET", "/api/bot/status", None, 200).await;
    assert_eq!(status["counts"], json!({"ready": 1, "pending": 0, "error": 1, "paused": 0}));

    let paused =
        ann.json(&web, "POST", &format!("/api/resources/{}/pause", good["id"].as_str().unwrap()), None, 200).await;
    assert_eq!(paused["desired_state"], "paused");
    let status = ann.json(&web, "POST", "/api/bot/stop", None, 200).await;
    assert_eq!(status["enabled"], false);
    ann.eventually(&web, bad["id"].as_str().unwrap(), "paused").await;
}

/// Reads server-sent events from `response` until one named `name`; returns its data.
pub async fn next_event(response: &mut reqwest::Response, buffer: &mut String, name: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field =
                |key: &str| block.lines().find_map(|line| line.strip_prefix(key)).map(str::trim).map(str::to_owned);
            if field("event:").as_deref() == Some(name) {
                return serde_json::from_str(&field("data:").unwrap()).unwrap();
            }
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk()).await.expect("the event comes in time");
        let chunk = chunk.unwrap().expect("the stream stays open");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

#[tokio::test]
async fn bot_events_stream_a_snapshot_then_each_change() {
    let web = TestWeb::start_with_edges().await;
    let _edge = web.edge("testchan").await;
    let ann = User::register(&web, "Ann").await;
    ann.json(&web, "POST", "/api/bot/start", None, 200).await;

    let mut events = ann.client.get(web.url("/api/bot/events")).send().await.unwrap();
    assert_eq!(events.status(), 200);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let mut buffer = String::new();
    let snapshot = next_event(&mut events, &mut buffer, "snapshot").await;
    assert_eq!(snapshot["enabled"], true);
    assert_eq!(snapshot["resources"], json!([]));

    let created = ann.create(&web, "Live", json!({"api_token": TOKEN_A})).await;
    let mut changed = next_event(&mut events, &mut buffer, "resource_changed").await;
    while changed["state"] != "ready" {
        changed = next_event(&mut events, &mut buffer, "resource_changed").await;
    }
    assert_eq!(changed["id"], created["id"]);
    assert_eq!(changed["name"], "Live");
    assert!(changed.get("settings").is_none(), "events carry no settings: {changed}");

    ann.json(&web, "DELETE", &format!("/api/resources/{}", created["id"].as_str().unwrap()), None, 204).await;
    let deleted = next_event(&mut events, &mut buffer, "resource_deleted").await;
    assert_eq!(deleted["id"], created["id"]);

    let anonymous = reqwest::get(web.url("/api/bot/events")).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
