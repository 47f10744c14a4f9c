//! The HTML pages: sign-up to sign-out with plain forms, languages, CSRF, escaping, errors.

use reqwest::{StatusCode, header};

use crate::helpers::{TestWeb, uuid};

/// The value of `name="csrf"` in a page.
fn csrf_in(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    html[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn forms_take_a_person_from_sign_up_to_sign_out() {
    let web = TestWeb::start().await;
    let browser = web.browser();
    let email = format!("ann.{}@example.com", uuid());
    let form = [("display_name", "Ann"), ("email", email.as_str()), ("password", "a long enough passphrase")];
    let registered = browser.post(web.url("/register")).form(&form).send().await.unwrap();
    assert_eq!(registered.status(), StatusCode::SEE_OTHER);
    assert_eq!(registered.headers()[header::LOCATION], "/");
    let cookie = registered.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("assistchat_session=acs_"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"), "{cookie}");

    let dashboard = browser.get(web.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(dashboard.contains("Hello, Ann"), "{dashboard}");
    let profile = browser.get(web.url("/profile")).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_in(&profile);

    // Set the own key with the form: it is shown masked, never in clear.
    let key = [("csrf", csrf.as_str()), ("api_key", "sk-form-secret-key-7788")];
    let saved = browser.post(web.url("/profile/key")).form(&key).send().await.unwrap();
    assert_eq!(saved.headers()[header::LOCATION], "/profile?saved=1");
    let profile = browser.get(web.url("/profile?saved=1")).send().await.unwrap().text().await.unwrap();
    assert!(profile.contains("sk-...7788") && !profile.contains("sk-form-secret-key-7788"));

    // A bad value comes back on the page with a message naming what to fix, and is not stored.
    let bad = [("csrf", csrf.as_str()), ("ai_mode", "byok"), ("openai_base_url", "ftp://x"), ("openai_model", "")];
    let refused = browser.post(web.url("/profile/ai")).form(&bad).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("http:// or https://"));

    // Sign out needs the CSRF token; after it, the profile sends you to log in.
    let forged = browser.post(web.url("/logout")).form(&[("csrf", "forged")]).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let out = browser.post(web.url("/logout")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = browser.get(web.url("/profile")).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(after.headers()[header::LOCATION], "/login");

    // Log in again with the form; a wrong password shows the same message as an unknown email.
    let wrong = browser.post(web.url("/login")).form(&[("email", email.as_str()), ("password", "nope nope nope")]);
    let wrong = wrong.send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("The email or password is wrong"));
    let back =
        browser.post(web.url("/login")).form(&[("email", email.as_str()), ("password", "a long enough passphrase")]);
    assert_eq!(back.send().await.unwrap().status(), StatusCode::SEE_OTHER);
    assert!(browser.get(web.url("/profile")).send().await.unwrap().text().await.unwrap().contains("sk-...7788"));
}

#[tokio::test]
async fn pages_speak_the_visitors_language() {
    let web = TestWeb::start().await;
    let client = web.browser();
    let russian = client.get(web.url("/")).header(header::ACCEPT_LANGUAGE, "ru-RU,ru;q=0.9,en;q=0.5").send().await;
    let russian = russian.unwrap().text().await.unwrap();
    assert!(russian.contains("<html lang=\"ru\">") && russian.contains("Один ИИ-ассистент"), "{russian}");
    let english = client.get(web.url("/")).header(header::ACCEPT_LANGUAGE, "de, en;q=0.5").send().await;
    assert!(english.unwrap().text().await.unwrap().contains("<html lang=\"en\">"));

    // The switcher remembers a choice over the browser's preference.
    let switched = client.post(web.url("/lang")).form(&[("lang", "ru")]).send().await.unwrap();
    assert_eq!(switched.status(), StatusCode::SEE_OTHER);
    let page = client.get(web.url("/login")).header(header::ACCEPT_LANGUAGE, "en").send().await.unwrap();
    assert!(page.text().await.unwrap().contains("Вход"));

    // Signed in, the profile's language wins, and switching stores it in the profile.
    let user = web.browser();
    let csrf = web.register(&user, "lang").await;
    let switched = user.post(web.url("/lang")).form(&[("lang", "ru"), ("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(switched.status(), StatusCode::SEE_OTHER);
    let profile: serde_json::Value = user.get(web.url("/api/profile")).send().await.unwrap().json().await.unwrap();
    assert_eq!(profile["language_code"], "ru");
    let page = user.get(web.url("/profile")).header(header::ACCEPT_LANGUAGE, "en").send().await.unwrap();
    assert!(page.text().await.unwrap().contains("Личные данные"));
}

#[tokio::test]
async fn cross_site_changes_are_refused_and_change_nothing() {
    let web = TestWeb::start().await;
    let browser = web.browser();
    let csrf = web.register(&browser, "victim").await;
    let key = |csrf: &str| vec![("csrf", csrf.to_owned()), ("api_key", "sk-attacker-key-0000".to_owned())];
    let attempts = [
        browser.post(web.url("/profile/key")).form(&key("")),
        browser.post(web.url("/profile/key")).form(&key("not-the-token")),
        browser.post(web.url("/profile/key")).header(header::ORIGIN, "https://evil.example").form(&key(&csrf)),
        browser.post(web.url("/profile/key")).header("sec-fetch-site", "cross-site").form(&key(&csrf)),
        browser.put(web.url("/api/profile/openai/key")).json(&serde_json::json!({"api_key": "sk-attacker-key-0000"})),
    ];
    for attempt in attempts {
        assert_eq!(attempt.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    }
    let profile: serde_json::Value = browser.get(web.url("/api/profile")).send().await.unwrap().json().await.unwrap();
    assert_eq!(profile["openai"]["key_state"], "missing", "no forged request changed anything");
    // The same change from the site itself works.
    let own = browser.post(web.url("/profile/key")).header(header::ORIGIN, web.url("")).form(&key(&csrf));
    assert_eq!(own.send().await.unwrap().status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn what_people_type_is_escaped() {
    let web = TestWeb::start().await;
    let browser = web.browser();
    let body = serde_json::json!({
        "email": format!("x.{}@example.com", uuid()),
        "password": "a long enough passphrase",
        "display_name": "<script>alert(1)</script>",
    });
    browser.post(web.url("/api/auth/register")).json(&body).send().await.unwrap();
    let page = browser.get(web.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script>alert(1)"));
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let web = TestWeb::start().await;
    let client = web.browser();
    for path in ["/", "/login", "/no-such-page", "/api/profile", "/static/app.css"] {
        let response = client.get(web.url(path)).send().await.unwrap();
        let headers = response.headers();
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(headers[header::REFERRER_POLICY], "strict-origin-when-cross-origin", "{path}");
        assert!(headers.contains_key("x-request-id"), "{path}");
    }
}

#[tokio::test]
async fn missing_pages_are_404_and_a_missing_core_is_a_friendly_503() {
    let web = TestWeb::start().await;
    let missing =
        web.browser().get(web.url("/no-such-page")).header(header::ACCEPT_LANGUAGE, "ru").send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.text().await.unwrap().contains("Страница не найдена"));
    // Nothing changes on a GET.
    assert_eq!(web.browser().get(web.url("/logout")).send().await.unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let alone = TestWeb::web_only(&format!("http://{closed}")).await;
    let client = alone.browser();
    let page = client.post(alone.url("/login")).form(&[("email", "a@example.com"), ("password", "whatever12")]);
    let page = page.send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.text().await.unwrap().contains("not responding right now"));
    let api = client.get(alone.url("/api/profile")).bearer_auth("acp_x").send().await.unwrap();
    assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    // The landing page needs no core at all.
    assert_eq!(client.get(alone.url("/")).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn secure_cookies_over_https() {
    let web = TestWeb::start().await;
    let body = serde_json::json!({"email": format!("s.{}@example.com", uuid()), "password": "a long enough passphrase", "display_name": "S"});
    let response = web.browser().post(web.url("/api/auth/register")).header("x-forwarded-proto", "https").json(&body);
    let response = response.send().await.unwrap();
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("__Host-assistchat_session=acs_"), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"), "{cookie}");
}

#[tokio::test]
async fn tokens_are_made_with_an_expiry_and_a_password_change_says_what_it_ended() {
    let web = TestWeb::start().await;
    let browser = web.browser();
    let email = format!("tom.{}@example.com", uuid());
    let form = [("display_name", "Tom"), ("email", email.as_str()), ("password", "a long enough passphrase")];
    assert_eq!(browser.post(web.url("/register")).form(&form).send().await.unwrap().status(), StatusCode::SEE_OTHER);
    let profile = browser.get(web.url("/profile")).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_in(&profile);
    for choice in ["value=\"never\"", "value=\"30\"", "value=\"90\""] {
        assert!(profile.contains(choice), "the token form offers {choice}: {profile}");
    }

    let monthly = [("csrf", csrf.as_str()), ("name", "monthly"), ("expire_days", "30")];
    let made = browser.post(web.url("/profile/tokens")).form(&monthly).send().await.unwrap();
    assert_eq!(made.status(), StatusCode::OK);
    let page = made.text().await.unwrap();
    assert!(page.contains("id=\"new-token\""), "{page}");
    let row = &page[page.find("<td>monthly</td>").expect("listed")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("class=\"last-used\">never<"), "never used yet: {row}");
    assert!(row.contains("UTC") && !row.contains("never expires"), "listed with its expiry date: {row}");
    let forever = [("csrf", csrf.as_str()), ("name", "forever"), ("expire_days", "never")];
    let page = browser.post(web.url("/profile/tokens")).form(&forever).send().await.unwrap().text().await.unwrap();
    let row = &page[page.find("<td>forever</td>").expect("listed")..];
    assert!(row[..row.find("</tr>").unwrap()].contains("never expires"), "{row}");
    let odd = [("csrf", csrf.as_str()), ("name", "odd"), ("expire_days", "lots")];
    assert_eq!(browser.post(web.url("/profile/tokens")).form(&odd).send().await.unwrap().status(), 400);

    // Another session, then a password change: it and both tokens end, and the page says so.
    let other = web.browser();
    let login = [("email", email.as_str()), ("password", "a long enough passphrase")];
    assert_eq!(other.post(web.url("/login")).form(&login).send().await.unwrap().status(), StatusCode::SEE_OTHER);
    let change = [
        ("csrf", csrf.as_str()),
        ("current_password", "a long enough passphrase"),
        ("new_password", "a new passphrase"),
    ];
    let changed = browser.post(web.url("/profile/password")).form(&change).send().await.unwrap();
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    let location = changed.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert_eq!(location, "/profile?saved=1&ended_sessions=1&revoked_tokens=2");
    let page = browser.get(web.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("1 other sessions ended and 2 API tokens revoked"), "{page}");
    assert!(!page.contains("<td>monthly</td>"), "the tokens are gone: {page}");
    assert_eq!(other.get(web.url("/profile")).send().await.unwrap().status(), StatusCode::SEE_OTHER, "signed out");
}
