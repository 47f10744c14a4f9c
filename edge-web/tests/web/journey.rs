//! A person in a real browser (headless Chromium): sign up, set a key, switch to Russian, and
//! sign out; and a forged cross-site form that changes nothing.

use axum::{Router, response::Html, routing::get};

use crate::{
    browser::{Browser, BrowserError, run},
    helpers::{TestWeb, uuid},
};

const PASSWORD: &str = "a long enough passphrase";
const KEY: &str = "sk-browser-secret-key-7788";

/// A page on another origin that posts a form to the platform as soon as it loads.
async fn serve_attacker(target: String) -> String {
    let page = format!(
        r#"<!doctype html><title>Win a prize</title>
        <form id="forged" method="post" action="{target}/profile/key">
          <input type="hidden" name="api_key" value="sk-attacker-key-0000">
          <input type="hidden" name="csrf" value="guess">
        </form>
        <script>document.getElementById("forged").submit();</script>"#
    );
    let app = Router::new().route("/", get(move || async move { Html(page) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/")
}

#[tokio::test]
async fn a_person_signs_up_sets_a_key_switches_language_and_signs_out() {
    let Some(browser) = Browser::start_with_lang("en").await else { return };
    let web = TestWeb::start().await;
    let attacker = serve_attacker(web.url("")).await;
    let email = format!("ann.{}@example.com", uuid());

    let result = run(&browser, "journey", async {
        // Sign up: the form lands on the dashboard.
        browser.goto(&web.url("/")).await?;
        browser.click("a[href='/register']").await?;
        browser.fill("input[name=display_name]", "Ann").await?;
        browser.fill("input[name=email]", &email).await?;
        browser.fill("input[name=password]", PASSWORD).await?;
        browser.submit_form("form[action='/register']").await?;
        browser.wait_for("form.logout").await?;
        assert_eq!(browser.text("main h1").await?, "Hello, Ann");

        // Profile: set the own key; it shows masked and never in clear.
        browser.click("nav a[href='/profile']").await?;
        browser.fill("input[name=api_key]", KEY).await?;
        browser.submit_form("form[action='/profile/key']").await?;
        assert_eq!(browser.text("#key-mask").await?, "sk-...7788");
        assert!(!browser.page_source().await?.contains(KEY));

        // Another site's self-submitting form is refused and changes nothing.
        browser.goto(&attacker).await?;
        browser.wait_for("section.error").await?;
        assert_eq!(browser.text("main h1").await?, "Request refused");
        browser.goto(&web.url("/profile")).await?;
        assert_eq!(browser.text("#key-mask").await?, "sk-...7788");

        // The language switcher (scripted: it submits on change) turns the page Russian.
        let select = browser.wait_for("select[name=lang]").await?;
        select.select_by_value("ru").await.map_err(|e| BrowserError::WebDriver("choosing Russian".into(), e))?;
        browser.wait_for("html[lang=ru]").await?;
        assert_eq!(browser.text("main h1").await?, "Профиль");
        assert!(browser.text("#personal h2").await?.contains("Личные данные"));

        // Sign out: the profile now sends you to log in.
        browser.submit_form("form.logout").await?;
        browser.wait_for("a[href='/register']").await?;
        browser.goto(&web.url("/profile")).await?;
        browser.wait_for("form[action='/login']").await?;
        assert!(browser.current_url().await?.ends_with("/login"));
        assert_eq!(browser.text("main h1").await?, "Вход", "the language choice outlives the session");
        Ok(())
    })
    .await;
    browser.close().await;
    result.unwrap();
}
