//! The browser's real address behind proxies, what `/register` says of the operator's
//! registration policy, and the one-time sign-in link of an account the operator made.

use reqwest::{StatusCode, header};
use serde_json::json;

use crate::helpers::{TestWeb, uuid};

const PASSWORD: &str = "a long enough passphrase";

/// Core believing the web edge (on loopback) as the one-command platform and the compose file
/// make it, and the web edge trusting the proxies in `web_trusted` (the test client is on
/// loopback, so trusting `127.0.0.1` makes the test a proxy in front of the web edge).
async fn web_behind(web_trusted: &[&str]) -> TestWeb {
    let trusted: Vec<_> =
        web_trusted.iter().map(|proxy| assistchat_edge_web::config::parse_proxy(proxy).unwrap()).collect();
    TestWeb::start_configured(
        |core| core.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()],
        |web| web.trusted_proxies = trusted,
    )
    .await
}

/// Registers an account through the web edge; returns its email.
async fn account(web: &TestWeb) -> String {
    let email = format!("ann.{}@example.com", uuid());
    let body = json!({"email": email, "password": PASSWORD, "display_name": "Ann"});
    let made = web.browser().post(web.url("/api/auth/register")).json(&body).send().await.unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    email
}

/// A JSON login with `password`, forwarded for `address`.
async fn login(web: &TestWeb, email: &str, password: &str, address: &str) -> reqwest::Response {
    let body = json!({"email": email, "password": password});
    let request = web.browser().post(web.url("/api/auth/login")).header("x-forwarded-for", address).json(&body);
    request.send().await.unwrap()
}

#[tokio::test]
async fn core_counts_the_forwarded_browser_behind_a_trusted_proxy() {
    let web = web_behind(&["127.0.0.1"]).await;
    let email = account(&web).await;
    // The browser's address is the rightmost hop that is no trusted proxy: what it claimed
    // itself, left of it, changes nothing.
    for n in 0..5 {
        let guess = login(&web, &email, "wrong wrong wrong", &format!("10.9.9.{n}, 203.0.113.5")).await;
        assert_eq!(guess.status(), StatusCode::UNAUTHORIZED);
    }
    let refused = login(&web, &email, PASSWORD, "198.51.100.1, 203.0.113.5, 127.0.0.1").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "the guessing browser is throttled");
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    let owner = login(&web, &email, PASSWORD, "198.51.100.7").await;
    assert_eq!(owner.status(), StatusCode::OK, "another browser behind the same proxy signs in");
}

#[tokio::test]
async fn a_forwarded_address_from_an_untrusted_peer_is_ignored() {
    let web = web_behind(&[]).await;
    let email = account(&web).await;
    // A new forged address each time: all are the test's own address to core.
    for n in 0..5 {
        let guess = login(&web, &email, "wrong wrong wrong", &format!("203.0.113.{n}")).await;
        assert_eq!(guess.status(), StatusCode::UNAUTHORIZED);
    }
    let refused = login(&web, &email, PASSWORD, "198.51.100.7").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "the forged header bought nothing");
}

#[tokio::test]
async fn register_says_when_registration_is_closed() {
    let web = TestWeb::start_with(|core| core.registration = assistchat_core::config::RegistrationMode::Closed).await;
    for (lang, words) in [("en", "Registration is closed"), ("ru", "Регистрация на этом сервере закрыта")]
    {
        let page = web.browser().get(web.url("/register")).header(header::ACCEPT_LANGUAGE, lang).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains(r#"data-policy="closed""#) && html.contains(words), "{lang}: {html}");
        assert!(!html.contains(r#"action="/register""#), "no form that cannot work");
    }
    let form = [("display_name", "Ann"), ("email", "ann@example.com"), ("password", PASSWORD)];
    let refused = web.browser().post(web.url("/register")).form(&form).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let html = refused.text().await.unwrap();
    assert!(html.contains("may not register here") && html.contains("Registration is closed"), "{html}");
}

#[tokio::test]
async fn register_names_the_domains_that_may_register() {
    let web = TestWeb::start_with(|core| {
        core.registration = assistchat_core::config::RegistrationMode::Domains;
        core.registration_domains = vec!["example.org".into()];
    })
    .await;
    let html = web.browser().get(web.url("/register")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"data-policy="domains""#) && html.contains("example.org"), "{html}");
    assert!(html.contains(r#"action="/register""#), "the form stays for those domains");
}

#[tokio::test]
async fn a_sign_in_link_signs_in_once_and_leads_to_the_profile() {
    let web = TestWeb::start_with(|core| core.registration = assistchat_core::config::RegistrationMode::Closed).await;
    // What `assistchat-core users create` does, on core's database.
    let store = assistchat_core::store::Store::open(web.core_database_url.as_deref().unwrap()).await.unwrap();
    let accounts = assistchat_core::auth::Accounts::new(
        store,
        std::time::Duration::from_secs(600),
        std::time::Duration::from_secs(3600),
    )
    .unwrap();
    let email = format!("made.{}@example.com", uuid());
    let (_, link) = accounts.create_by_operator(&email, "Made By Operator").await.unwrap();

    let browser = web.browser();
    let welcome = web.url(&format!("/welcome?token={}", link.token));
    for _ in 0..2 {
        // Opening the link (as a mail scanner would) spends nothing.
        let page = browser.get(&welcome).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
        let html = page.text().await.unwrap();
        assert!(html.contains(r#"action="/welcome""#) && html.contains(&link.token), "{html}");
    }
    let signed_in = browser.post(web.url("/welcome")).form(&[("token", &link.token)]).send().await.unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed_in.headers()[header::LOCATION], "/profile");
    let profile = browser.get(web.url("/profile")).send().await.unwrap();
    assert_eq!(profile.status(), StatusCode::OK);
    assert!(profile.text().await.unwrap().contains("Made By Operator"));

    let again = web.browser().post(web.url("/welcome")).form(&[("token", &link.token)]).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(again.text().await.unwrap().contains("already used"), "a link signs in once");
}
