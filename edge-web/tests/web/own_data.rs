//! A person's own data on `/profile`, in both languages: "Download my data" is a JSON archive
//! without secrets, a download never cached; "Delete my account" needs the tick and the password
//! on the page, the password and a browser session in the API, and signs the person out of an
//! account that is gone.

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::{helpers::TestWeb, resources::User};

const PASSWORD: &str = "a long enough passphrase";
const OWN_KEY: &str = "sk-ann-web-secret-5q7z";

#[tokio::test]
async fn the_profile_offers_the_archive_which_downloads_without_secrets_in_both_languages() {
    let web = TestWeb::start().await;
    let ann = User::register(&web, "Ann").await;
    ann.json(&web, "PUT", "/api/profile/openai/key", Some(json!({"api_key": OWN_KEY})), 200).await;
    ann.json(&web, "POST", "/api/conversations", Some(json!({"title": "Trip to Rome"})), 201).await;

    let profile = ann.page(&web, "/profile").await;
    assert!(profile.contains(r#"href="/api/profile/export""#) && profile.contains("Download my data"), "{profile}");
    assert!(profile.contains(r#"action="/profile/delete""#) && profile.contains("Delete my account"), "{profile}");
    assert!(profile.contains(r#"name="confirm""#) && profile.contains(r#"name="password""#), "{profile}");
    ann.json(&web, "PATCH", "/api/profile", Some(json!({"language_code": "ru"})), 200).await;
    let russian = ann.page(&web, "/profile").await;
    assert!(russian.contains("Скачать мои данные") && russian.contains("Удалить аккаунт навсегда"), "{russian}");

    let download = ann.client.get(web.url("/api/profile/export")).send().await.unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    let headers = download.headers().clone();
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let disposition = headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(disposition.starts_with(r#"attachment; filename="assistchat-data-"#), "{disposition}");
    let text = download.text().await.unwrap();
    assert!(!text.contains(OWN_KEY) && !text.contains("5q7z"), "no key, not even masked: {text}");
    let archive: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(archive["profile"]["openai_key_state"], "set");
    assert_eq!(archive["conversations"][0]["title"], "Trip to Rome");
}

#[tokio::test]
async fn deleting_the_account_needs_the_tick_and_the_password_then_signs_out() {
    let web = TestWeb::start().await;
    let ann = User::register(&web, "Ann").await;
    let email = ann.json(&web, "GET", "/api/profile", None, 200).await["email"].as_str().unwrap().to_owned();

    let (status, _, page) = ann.post_form(&web, "/profile/delete", &[("password", PASSWORD)]).await;
    assert_eq!(status, 400);
    assert!(page.contains("Tick the box to confirm"), "{page}");
    let (status, _, page) = ann.post_form(&web, "/profile/delete", &[("confirm", "yes"), ("password", "wrong!")]).await;
    assert_eq!(status, 400);
    assert!(page.contains("The password is not right") && page.contains("nothing was deleted"), "{page}");
    ann.json(&web, "GET", "/api/profile", None, 200).await;

    let (status, location, _) =
        ann.post_form(&web, "/profile/delete", &[("confirm", "yes"), ("password", PASSWORD)]).await;
    assert_eq!((status, location.as_str()), (303, "/?deleted=1"));
    let home = ann.page(&web, "/?deleted=1").await;
    assert!(home.contains("Your account and all its data were deleted."), "{home}");
    let profile = ann.client.get(web.url("/profile")).send().await.unwrap();
    assert_eq!(profile.status(), StatusCode::SEE_OTHER, "signed out");
    let again = json!({"email": email, "password": PASSWORD, "display_name": "Ann again"});
    let again = web.browser().post(web.url("/api/auth/register")).json(&again).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED, "the email is free again");
}

#[tokio::test]
async fn the_api_deletes_an_account_with_its_password_from_a_browser_session_only() {
    let web = TestWeb::start().await;
    let bob = User::register(&web, "Bob").await;
    let script = bob.json(&web, "POST", "/api/profile/tokens", Some(json!({"name": "script"})), 201).await;
    let script = script["token"].as_str().unwrap().to_owned();

    let by_script = reqwest::Client::new()
        .post(web.url("/api/profile/delete"))
        .bearer_auth(&script)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_script.status(), StatusCode::FORBIDDEN);
    assert_eq!(by_script.json::<Value>().await.unwrap()["error"]["code"], "permission_denied");
    let wrong = bob.json(&web, "POST", "/api/profile/delete", Some(json!({"password": "not it"})), 400).await;
    assert_eq!(wrong["error"]["field"], "password");

    let (status, body) = bob.call(&web, "POST", "/api/profile/delete", Some(json!({"password": PASSWORD}))).await;
    assert_eq!((status, body.as_str()), (StatusCode::NO_CONTENT, ""));
    bob.json(&web, "GET", "/api/profile", None, 401).await;
    let scripted = reqwest::Client::new().get(web.url("/api/profile")).bearer_auth(&script).send().await.unwrap();
    assert_eq!(scripted.status(), StatusCode::UNAUTHORIZED, "its tokens went with it");
}
