//! The channel pages: states as badges in both languages, forms generated from each provider's
//! schema, errors at their field without losing what was typed, the bot's switch; and a person in
//! a real browser watching a channel's state change live.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::{
    browser::{Browser, run},
    helpers::{TestWeb, uuid},
    resources::{TOKEN_A, User},
    test_edge::{TestEdge, hello},
};

impl User {
    /// The HTML of a page; fails on any status but 200.
    pub async fn page(&self, web: &TestWeb, path: &str) -> String {
        let response = self.client.get(web.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.text().await.unwrap()
    }

    /// Posts a form with the CSRF token; returns the status, the Location and the body.
    pub async fn post_form(&self, web: &TestWeb, path: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
        let mut form = vec![("csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        let response = self.client.post(web.url(path)).form(&form).send().await.unwrap();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
        (response.status().as_u16(), location, response.text().await.unwrap())
    }
}

#[tokio::test]
async fn the_channels_page_shows_each_state_in_both_languages() {
    let web = TestWeb::start_with_edges().await;
    let _edge = web.edge("testchan").await;
    let ann = User::register(&web, "Ann").await;
    let good = ann.create(&web, "Family", json!({"api_token": TOKEN_A})).await;
    let failing = json!({"api_token": "tok-cccccccccccccccccc-3333", "fail_with": "The service rejected the token."});
    let bad = ann.create(&web, "Work", failing).await;
    let (good, bad) = (good["id"].as_str().unwrap(), bad["id"].as_str().unwrap());

    // The switch is a form on the dashboard, the profile and the channels page.
    for page in ["/", "/profile", "/resources"] {
        let html = ann.page(&web, page).await;
        assert!(html.contains(r#"action="/bot""#) && html.contains("Switch on"), "{page}");
    }
    let (status, location, _) = ann.post_form(&web, "/bot", &[("enabled", "true"), ("back", "/resources")]).await;
    assert_eq!((status, location.as_str()), (303, "/resources"));
    ann.eventually(&web, good, "ready").await;
    ann.eventually(&web, bad, "error").await;

    let html = ann.page(&web, "/resources").await;
    assert!(html.contains(&format!(r#"data-resource="{good}""#)), "{html}");
    assert!(html.contains(r#"<span class="badge state-ready" data-role="badge">ready</span>"#), "{html}");
    assert!(html.contains(r#"<span class="badge state-error" data-role="badge">error</span>"#));
    assert!(html.contains("The service rejected the token."));
    assert!(html.contains("Fix the settings below and save."));
    assert!(html.contains("Switch off") && html.contains(r#"src="/static/js/resources.js""#));

    let page = ann.page(&web, &format!("/resources/{good}")).await;
    assert!(page.contains("@family"), "the provider's report: {page}");
    assert!(page.contains("Stored: ...1111. Leave empty to keep it.") && !page.contains(TOKEN_A));
    assert!(page.contains(&format!(r#"action="/resources/{good}/pause""#)));

    ann.json(&web, "PATCH", "/api/profile", Some(json!({"language_code": "ru"})), 200).await;
    let html = ann.page(&web, "/resources").await;
    assert!(html.contains(r#"data-role="badge">готов</span>"#), "{html}");
    assert!(html.contains(r#"data-role="badge">ошибка</span>"#));
    assert!(html.contains("Исправьте настройки ниже и сохраните.") && html.contains("Выключить"));
    let dashboard = ann.page(&web, "/").await;
    assert!(dashboard.contains(&format!(r#"href="/resources/{good}""#)) && dashboard.contains("готов"));
}

#[tokio::test]
async fn the_connect_form_has_a_control_for_each_kind_of_setting() {
    let web = TestWeb::start_with_edges().await;
    let schema = json!({
        "type": "object",
        "properties": {
            "api_key": {"type": "string", "title": "API key", "minLength": 8},
            "system_prompt": {"type": "string", "title": "Instructions"},
            "welcome": {"type": "string", "maxLength": 1000},
            "label": {"type": "string", "maxLength": 40, "description": "Shown in the chat header."},
            "public": {"type": "boolean", "title": "Public"},
            "history": {"type": "integer", "minimum": 0},
            "temperature": {"type": "number"},
            "allowed_users": {"type": "array", "items": {"type": "string"}},
            "mode": {"type": "string", "enum": ["fast", "careful"]}
        },
        "required": ["api_key", "mode"],
        "additionalProperties": false
    });
    let mut rich = hello("richchan");
    rich.display_name = "Rich channel".into();
    rich.settings_schema_json = schema.to_string();
    rich.secret_fields = vec!["api_key".into()];
    rich.identity_fields = vec!["api_key".into()];
    let _edge = TestEdge::attach_with(&web.core_url(), rich, Duration::ZERO).await;
    let ann = User::register(&web, "Ann").await;

    let html = ann.page(&web, "/resources").await;
    let start = html.find(r#"id="connect-richchan""#).expect("a card for the provider");
    let card = &html[start..html[start..].find("</section>").unwrap() + start];
    for control in [
        r#"<input type="text" name="name" value="" required maxlength="100""#,
        r#"<input type="password" name="settings.api_key" required autocomplete="off""#,
        r#"<textarea name="settings.system_prompt" rows="5""#,
        r#"<textarea name="settings.welcome" rows="5" maxlength="1000""#,
        r#"<input type="text" name="settings.label" value="" maxlength="40""#,
        r#"<input type="checkbox" name="settings.public""#,
        r#"<input type="number" name="settings.history" value="" step="1""#,
        r#"<input type="number" name="settings.temperature" value="" step="any""#,
        r#"<textarea class="lines" name="settings.allowed_users""#,
        r#"<select name="settings.mode" required"#,
        r#"<option value="careful">careful</option>"#,
        "API key",
        "Instructions",
        "Shown in the chat header.",
        "One per line.",
    ] {
        assert!(card.contains(control), "{control} in {card}");
    }
    assert_eq!(card.matches(r#"<abbr class="required""#).count(), 3, "name, api_key and mode are required");
}

#[tokio::test]
async fn a_bad_setting_in_the_form_is_shown_at_its_field_and_nothing_typed_is_lost() {
    let web = TestWeb::start_with_edges().await;
    let _edge = web.edge("testchan").await;
    let ann = User::register(&web, "Ann").await;
    let typed = [
        ("provider", "testchan"),
        ("name", "My bot"),
        ("settings.api_token", "short-secret"),
        ("settings.system_prompt", "Answer in rhymes."),
        ("settings.allowed_users", "ann\nbob"),
    ];
    let (status, _, html) = ann.post_form(&web, "/resources", &typed).await;
    assert_eq!(status, 400);
    let error = r#"<p class="field-error" id="connect-testchan-settings-api_token-error" role="alert">"#;
    let at = html.find(error).unwrap_or_else(|| panic!("the error at the token field: {html}"));
    assert!(html[at..].starts_with(&format!("{error}Please correct the input:")), "{}", &html[at..at + 300]);
    assert!(html.contains(r#"name="settings.api_token" required autocomplete="off" aria-describedby="connect-testchan-settings-api_token-error" aria-invalid="true""#));
    assert!(html.contains(r#"<details open>"#));
    assert!(html.contains(r#"value="My bot""#) && html.contains("Answer in rhymes.") && html.contains("ann\nbob"));
    assert!(!html.contains("short-secret"), "a secret is never sent back");

    // Corrected, it connects and shows the channel's page.
    let mut fixed = typed.to_vec();
    fixed[2] = ("settings.api_token", TOKEN_A);
    let (status, location, _) = ann.post_form(&web, "/resources", &fixed).await;
    assert_eq!(status, 303);
    let id = location.strip_prefix("/resources/").unwrap().to_owned();
    let resource = ann.json(&web, "GET", &format!("/api/resources/{id}"), None, 200).await;
    assert_eq!(resource["settings"]["allowed_users"], json!(["ann", "bob"]));

    // The edit form keeps the secret when left empty, and a bad value keeps the rest typed.
    let edit = [("name", "Renamed"), ("settings.api_token", ""), ("settings.system_prompt", "Be brief.")];
    let (status, location, _) = ann.post_form(&web, &format!("/resources/{id}"), &edit).await;
    assert_eq!((status, location), (303, format!("/resources/{id}?saved=1")));
    let resource = ann.json(&web, "GET", &format!("/api/resources/{id}"), None, 200).await;
    assert_eq!(resource["settings"], json!({"api_token": "...1111", "system_prompt": "Be brief."}));
    let edit = [("name", ""), ("settings.system_prompt", "Kept while the name is fixed.")];
    let (status, _, html) = ann.post_form(&web, &format!("/resources/{id}"), &edit).await;
    assert_eq!(status, 400);
    assert!(
        html.contains("Enter a channel name of 1 to 100 characters.") && html.contains("Kept while the name is fixed.")
    );

    // Deleting asks for the confirmation first.
    let (status, _, html) = ann.post_form(&web, &format!("/resources/{id}/delete"), &[]).await;
    assert_eq!(status, 400);
    assert!(html.contains("Tick the box to confirm the deletion."));
    let (status, location, _) = ann.post_form(&web, &format!("/resources/{id}/delete"), &[("confirm", "yes")]).await;
    assert_eq!((status, location.as_str()), (303, "/resources"));
    assert_eq!(
        ann.client.get(web.url(&format!("/resources/{id}"))).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_person_connects_a_channel_and_watches_its_state_change_live() {
    let Some(browser) = Browser::start_with_lang("en").await else { return };
    let web = TestWeb::start_with_edges().await;
    // Slow to answer, so that the page shows "starting" before the live update.
    let edge = TestEdge::attach_with(&web.core_url(), hello("testchan"), Duration::from_secs(2)).await;
    let email = format!("cleo.{}@example.com", uuid());

    let result = run(&browser, "channels", async {
        browser.goto(&web.url("/register")).await?;
        browser.fill("input[name=display_name]", "Cleo").await?;
        browser.fill("input[name=email]", &email).await?;
        browser.fill("input[name=password]", "a long enough passphrase").await?;
        browser.submit_form("form[action='/register']").await?;
        browser.wait_for("form.logout").await?;

        // Switch the bot on from the channels page.
        browser.click("nav a[href='/resources']").await?;
        browser.submit_form("#bot form").await?;
        browser.wait_for("#bot[data-enabled=true]").await?;

        // Connect a channel through the form made from the provider's schema.
        browser.click("#connect-testchan summary").await?;
        browser.fill("#connect-testchan input[name=name]", "Cleo bot").await?;
        browser.fill("#connect-testchan input[name='settings.api_token']", TOKEN_A).await?;
        browser.fill("#connect-testchan textarea[name='settings.system_prompt']", "Be brief.").await?;
        browser.submit_form("#connect-testchan form").await?;
        browser.wait_for("#state .badge").await?;
        assert_eq!(browser.text("main h1").await?, "Cleo bot");
        assert_eq!(browser.text("#state .badge").await?, "starting");

        // The page is marked; the mark survives only if the page is never reloaded.
        browser.client().execute("document.body.dataset.mark = 'kept'", vec![]).await?;
        browser.wait_for("#state .badge.state-ready").await?;
        assert_eq!(browser.text("#state .badge").await?, "ready");
        assert_eq!(browser.text("#state [data-role=detail]").await?, "Connected.");

        // The provider dies: the badge turns to the error with what to do, still live.
        edge.kill();
        browser.wait_for("#state .badge.state-error").await?;
        assert!(browser.text("#state [data-role=detail]").await?.contains("The provider is offline"));
        assert!(browser.text("#state [data-role=action]").await?.contains("Wait for the provider"));
        browser.wait_for("body[data-mark=kept]").await?;
        Ok(())
    })
    .await;
    browser.close().await;
    result.unwrap();
}
