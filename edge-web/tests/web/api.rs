//! The JSON API: shapes, error bodies with the HTTP status of each gRPC code, bearer tokens.

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestWeb, uuid};

const PASSWORD: &str = "a long enough passphrase";

#[tokio::test]
async fn errors_are_json_with_the_matching_status() {
    let web = TestWeb::start().await;
    let client = web.browser();
    let email = format!("api.{}@example.com", uuid());
    let register = |email: &str, password: &str| {
        client
            .post(web.url("/api/auth/register"))
            .json(&json!({"email": email, "password": password, "display_name": "A"}))
    };
    let bad = register("nope", PASSWORD).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_argument");
    assert_eq!(body["error"]["field"], "email");
    assert!(body["error"]["message"].as_str().unwrap().contains("email"));

    assert_eq!(register(&email, PASSWORD).send().await.unwrap().status(), StatusCode::CREATED);
    let taken = web
        .browser()
        .post(web.url("/api/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD, "display_name": "A"}));
    let taken = taken.send().await.unwrap();
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    assert_eq!(taken.json::<Value>().await.unwrap()["error"]["code"], "already_exists");

    let not_json = client.post(web.url("/api/auth/login")).body("email=x").send().await.unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(not_json.json::<Value>().await.unwrap()["error"]["code"], "bad_request");

    let anonymous = web.browser().get(web.url("/api/profile")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.json::<Value>().await.unwrap()["error"]["code"], "unauthenticated");

    let login = |password: &str| {
        web.browser().post(web.url("/api/auth/login")).json(&json!({"email": email, "password": password}))
    };
    for _ in 0..5 {
        assert_eq!(login("wrong wrong wrong").send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let throttled = login(PASSWORD).send().await.unwrap();
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = throttled.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(web.browser().get(web.url("/api/nothing-here")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn scripts_use_api_tokens_without_csrf() {
    let web = TestWeb::start().await;
    let browser = web.browser();
    let csrf = web.register(&browser, "script").await;
    let created =
        browser.post(web.url("/api/profile/tokens")).header("x-csrf-token", &csrf).json(&json!({"name": "cron"}));
    let created = created.send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("acp_"));

    // A script: no cookies, bearer token, no CSRF token needed.
    let script = reqwest::Client::new();
    let set = script
        .put(web.url("/api/profile/openai/key"))
        .bearer_auth(&token)
        .json(&json!({"api_key": "sk-script-key-4321"}));
    let profile: Value = set.send().await.unwrap().json().await.unwrap();
    assert_eq!(profile["openai"]["key_mask"], "sk-...4321");
    assert!(!profile.to_string().contains("sk-script-key-4321"));
    let settings = json!({"mode": "byok", "base_url": "http://localhost:11434/v1", "model": "llama3.1:8b"});
    let put =
        script.put(web.url("/api/profile/openai/settings")).bearer_auth(&token).json(&settings).send().await.unwrap();
    let profile: Value = put.json().await.unwrap();
    assert_eq!(profile["openai"]["mode"], "byok");
    assert_eq!(profile["openai"]["base_url"], "http://localhost:11434/v1");
    let patched = script.patch(web.url("/api/profile")).bearer_auth(&token).json(&json!({"display_name": "Scripted"}));
    assert_eq!(patched.send().await.unwrap().json::<Value>().await.unwrap()["display_name"], "Scripted");

    let listed: Value =
        script.get(web.url("/api/profile/tokens")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["tokens"][0]["name"], "cron");
    assert!(listed["tokens"][0]["last_use_time"].is_string());
    assert!(!listed.to_string().contains(&token[4..]));

    assert!(listed["tokens"][0]["expire_time"].is_null(), "made without an expiry");

    // A script cannot manage tokens or the password: that needs the person, signed in.
    let id = created["id"].as_str().unwrap();
    let url = web.url(&format!("/api/profile/tokens/{id}"));
    let refused = script.delete(url.clone()).bearer_auth(&token).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "permission_denied");
    assert!(refused["error"]["message"].as_str().unwrap().contains("sign in on the web"), "{refused}");
    let more = script.post(web.url("/api/profile/tokens")).bearer_auth(&token).json(&json!({"name": "more"}));
    assert_eq!(more.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let password = json!({"current_password": PASSWORD, "new_password": "taken over by a script"});
    let takeover = script.post(web.url("/api/profile/password")).bearer_auth(&token).json(&password);
    assert_eq!(takeover.send().await.unwrap().status(), StatusCode::FORBIDDEN);

    // The browser may, and a token may be made to expire.
    let expiring = browser
        .post(web.url("/api/profile/tokens"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "monthly", "expire_days": 30}));
    let expiring: Value = expiring.send().await.unwrap().json().await.unwrap();
    assert!(expiring["expire_time"].as_str().is_some_and(|at| at.ends_with('Z')), "in RFC 3339: {expiring}");
    let deleted = browser.delete(url).header("x-csrf-token", &csrf).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let after = script.get(web.url("/api/profile")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);

    // A password change revokes every token and says so.
    let new_password = json!({"current_password": PASSWORD, "new_password": "a fresh long passphrase"});
    let changed = browser.post(web.url("/api/profile/password")).header("x-csrf-token", &csrf).json(&new_password);
    let changed: Value = changed.send().await.unwrap().json().await.unwrap();
    assert_eq!(changed["revoked_api_token_count"], 1, "{changed}");
    assert_eq!(changed["ended_session_count"], 0, "{changed}");
    let monthly = expiring["token"].as_str().unwrap();
    let after = script.get(web.url("/api/profile")).bearer_auth(monthly).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);

    // The browser session logs out with its CSRF header; the cookie stops working.
    let out = browser.post(web.url("/api/auth/logout")).header("x-csrf-token", &csrf).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(browser.get(web.url("/api/profile")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_base_url_inside_the_servers_network_is_a_400_on_the_base_url() {
    let web = TestWeb::start().await;
    let browser = web.browser();
    let csrf = web.register(&browser, "metadata").await;
    // 127.0.0.1 is allowed by the tests' operator; the cloud metadata address is not.
    for url in ["http://169.254.169.254/latest", "http://0xa9fea9fe/", "http://[::ffff:169.254.169.254]/"] {
        let settings = json!({"mode": "byok", "base_url": url});
        let put = browser.put(web.url("/api/profile/openai/settings")).header("x-csrf-token", &csrf).json(&settings);
        let put = put.send().await.unwrap();
        assert_eq!(put.status(), StatusCode::BAD_REQUEST, "{url}");
        let body: Value = put.json().await.unwrap();
        assert_eq!(body["error"]["field"], "profile.openai_base_url", "{url}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("169.254.169.254") && message.contains("inside the server's network"), "{message}");
        assert!(message.contains("ASSISTCHAT_OUTBOUND_ALLOW"), "{message}");
    }
    let profile: Value = browser.get(web.url("/api/profile")).send().await.unwrap().json().await.unwrap();
    assert_eq!(profile["openai"]["base_url"], "", "nothing was saved");
}
