//! The Zoom page: the Zoom App Marketplace steps in both languages, a chatbot connected through
//! the form without JavaScript (its secrets kept secret), errors at their field in words, the
//! webhook URL the connector reports, the page without a connector; and a person in a real
//! browser connecting a chatbot and watching it become ready with its webhook URL.

use std::time::Duration;

use assistchat_edge_client::{ProviderHello, ResourceInfoItem, ResourceInfoKind, ResourceStart};
use serde_json::json;

use crate::{
    browser::{Browser, run},
    helpers::TestWeb,
    resources::User,
    test_edge::{Answer, TestEdge},
};

const CLIENT_SECRET: &str = "ZoomSecret0123456789abcdef";
const SECRET_TOKEN: &str = "webhook-secret-token-0123";
/// A client secret the fake connector reports as rejected by Zoom.
const REJECTED_SECRET: &str = "RevokedSecret0123456789";

/// The hello of the Zoom connector, with its settings schema as the Zoom edge sends it: the web
/// edge does not depend on the Zoom edge, so the schema comes from the file both read.
fn zoom_hello() -> ProviderHello {
    let schema = include_str!("../../../edge-zoom/settings.schema.json");
    ProviderHello {
        name: "zoom".into(),
        version: "0.0.1".into(),
        display_name: "Zoom Team Chat".into(),
        description: "A Team Chat chatbot of yours, answering with the assistant.".into(),
        settings_schema_json: schema.into(),
        secret_fields: vec!["client_secret".into(), "webhook_secret_token".into()],
        identity_fields: vec!["bot_jid".into()],
    }
}

/// As the Zoom edge answers: the rejected secret is refused, any other becomes ready with the
/// resource's webhook URL.
fn zoom_answer(start: &ResourceStart) -> Answer {
    if start.secrets.get("client_secret").map(String::as_str) == Some(REJECTED_SECRET) {
        let detail = "Zoom rejected the client id or secret.";
        return Answer::Error { detail: detail.into(), reason: "CREDENTIALS_REJECTED".into() };
    }
    Answer::Ready(vec![ResourceInfoItem {
        key: "webhook_url".into(),
        label: "Bot endpoint URL and event notification endpoint URL".into(),
        value: format!("https://zoom.example.test/zoom/{}", start.resource_id),
        kind: ResourceInfoKind::Copyable.into(),
    }])
}

/// The Zoom connector, attached; each start answered after `delay`.
async fn zoom_edge(web: &TestWeb, delay: Duration) -> TestEdge {
    TestEdge::attach_answering(&web.core_url(), zoom_hello(), delay, zoom_answer).await
}

/// The form's fields for a chatbot named `name` with the bot JID `bot_jid`.
fn typed<'a>(name: &'a str, bot_jid: &'a str, client_secret: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("settings.client_id", "ZoomClient0123"),
        ("settings.client_secret", client_secret),
        ("settings.bot_jid", bot_jid),
        ("settings.webhook_secret_token", SECRET_TOKEN),
        ("settings.account_id", "AcctZoom-42"),
    ]
}

/// The part of `html` from `start` to the end of the element's section.
fn section<'a>(html: &'a str, start: &str) -> &'a str {
    let at = html.find(start).unwrap_or_else(|| panic!("{start} in {html}"));
    &html[at..at + html[at..].find("</section>").unwrap()]
}

#[tokio::test]
async fn the_page_explains_the_marketplace_in_both_languages_and_says_when_the_connector_is_not_running() {
    let web = TestWeb::start().await;
    let response = web.browser().get(web.url("/resources/zoom")).send().await.unwrap();
    assert_eq!(response.status(), 303, "a visitor signs in first");
    let ann = User::register(&web, "Ann").await;

    let channels = ann.page(&web, "/resources").await;
    assert!(channels.contains(r#"<a href="/resources/zoom">Connect a Zoom Team Chat chatbot</a>"#), "{channels}");

    let html = ann.page(&web, "/resources/zoom").await;
    let steps = section(&html, r#"id="marketplace""#);
    for text in [
        "Make the chatbot in the Zoom App Marketplace",
        r#"href="https://marketplace.zoom.us/""#,
        "Develop → Build App → General App",
        "copy the Client ID and the Client Secret",
        "The Bot JID appears there",
        "copy the Secret Token",
        "<code>imchat:bot</code>",
        "as the Bot endpoint URL",
        "as the Event notification endpoint URL",
        "Add App Now",
    ] {
        assert!(steps.contains(text), "{text} in {steps}");
    }
    assert_eq!(steps.matches("<li>").count(), 8);
    assert!(html.contains("The Zoom connector is not running on this server"));
    assert!(html.contains("No Zoom chatbots connected yet."));
    assert!(!html.contains(r#"name="settings.client_secret""#), "no form that cannot work: {html}");
    assert!(html.contains(r#"src="/static/js/resources_zoom.js""#));

    ann.json(&web, "PATCH", "/api/profile", Some(json!({"language_code": "ru"})), 200).await;
    let html = ann.page(&web, "/resources/zoom").await;
    assert!(html.contains(r#"<html lang="ru">"#));
    for text in ["Создайте чат-бота в Zoom App Marketplace", "Bot endpoint URL", "Коннектор Zoom", "Add App Now"]
    {
        assert!(html.contains(text), "{text} in {html}");
    }
    let script = web.browser().get(web.url("/static/js/resources_zoom.js")).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.text().await.unwrap().contains("webhook_url"));
}

#[tokio::test]
async fn a_chatbot_connected_without_javascript_is_listed_with_its_state_and_webhook_url() {
    let web = TestWeb::start_with_edges().await;
    let _edge = zoom_edge(&web, Duration::ZERO).await;
    let ann = User::register(&web, "Ann").await;

    let html = ann.page(&web, "/resources/zoom").await;
    let form = section(&html, r#"id="connect""#);
    for control in [
        r#"<form method="post" action="/resources/zoom">"#,
        r#"<input type="text" name="settings.client_id" value="" required"#,
        r#"<input type="password" name="settings.client_secret" required autocomplete="off""#,
        r#"<input type="text" name="settings.bot_jid" value="" required"#,
        r#"<input type="password" name="settings.webhook_secret_token" required"#,
        r#"<input type="text" name="settings.account_id" value="" required"#,
        r#"<textarea name="settings.system_prompt" rows="5" maxlength="4000""#,
        r#"<textarea class="lines" name="settings.allowed_users""#,
    ] {
        assert!(form.contains(control), "{control} in {form}");
    }

    let mut fields = typed("Team helper", "v1helper@xmpp.zoom.us", CLIENT_SECRET);
    fields
        .extend([("settings.system_prompt", "Answer briefly."), ("settings.allowed_users", "zoe-id-1, max-id-2\r\n")]);
    let (status, location, _) = ann.post_form(&web, "/resources/zoom", &fields).await;
    assert_eq!(status, 303);
    let id = location.strip_prefix("/resources/zoom?connected=").expect("back to the page").to_owned();
    let resource = ann.json(&web, "GET", &format!("/api/resources/{id}"), None, 200).await;
    assert_eq!(resource["provider"], "zoom");
    assert_eq!(resource["settings"]["bot_jid"], "v1helper@xmpp.zoom.us");
    assert_eq!(resource["settings"]["allowed_users"], json!(["zoe-id-1", "max-id-2"]));
    assert_eq!(resource["settings"]["client_secret"], "...cdef", "stored as a secret, shown masked");

    // The bot is off, so the new chatbot waits, paused, with no webhook yet.
    let html = ann.page(&web, &location).await;
    assert!(html.contains("The chatbot is connected."), "{html}");
    let item = section(&html, &format!(r#"<li class="chatbot" data-resource="{id}">"#));
    assert!(item.contains(r#"data-role="badge">paused</span>"#), "{item}");
    assert!(item.contains(r#"data-role="webhook" hidden"#), "{item}");

    ann.post_form(&web, "/bot", &[("enabled", "true"), ("back", "/resources/zoom")]).await;
    ann.eventually(&web, &id, "ready").await;
    let html = ann.page(&web, "/resources/zoom").await;
    let item = section(&html, &format!(r#"data-resource="{id}""#));
    assert!(item.contains(r#"<span class="badge state-ready" data-role="badge">ready</span>"#), "{item}");
    let url = format!("https://zoom.example.test/zoom/{id}");
    assert!(item.contains(&format!(r#"<code id="webhook-{id}" data-role="webhook-url">{url}</code>"#)), "{item}");
    assert!(item.contains(&format!(r##"data-copy="#webhook-{id}""##)));
    assert!(!html.contains(CLIENT_SECRET) && !html.contains(SECRET_TOKEN), "secrets are never shown");

    // Pausing from this page comes back to it.
    let (status, location, _) =
        ann.post_form(&web, &format!("/resources/{id}/pause"), &[("back", "/resources/zoom")]).await;
    assert_eq!((status, location.as_str()), (303, "/resources/zoom"));
}

#[tokio::test]
async fn a_bad_bot_jid_a_chatbot_connected_twice_and_rejected_credentials_are_explained() {
    let web = TestWeb::start_with_edges().await;
    let _edge = zoom_edge(&web, Duration::ZERO).await;
    let ann = User::register(&web, "Ann").await;
    let jid_error = r#"<p class="field-error" id="zoom-settings-bot_jid-error" role="alert">"#;

    let (status, _, html) =
        ann.post_form(&web, "/resources/zoom", &typed("Shop bot", "not-a-jid", CLIENT_SECRET)).await;
    assert_eq!(status, 400);
    let at = html.find(jid_error).unwrap_or_else(|| panic!("the error at the Bot JID: {html}"));
    assert!(html[at..].starts_with(&format!("{jid_error}This is not a Bot JID.")), "{}", &html[at..at + 200]);
    assert!(html.contains(r#"value="Shop bot""#) && html.contains(r#"value="not-a-jid""#), "the rest is kept");
    assert!(!html.contains(CLIENT_SECRET) && !html.contains(SECRET_TOKEN), "secrets are never sent back");

    ann.post_form(&web, "/bot", &[("enabled", "true")]).await;
    let (status, location, _) =
        ann.post_form(&web, "/resources/zoom", &typed("Old bot", "v1old@xmpp.zoom.us", REJECTED_SECRET)).await;
    assert_eq!(status, 303);
    let id = location.rsplit('=').next().unwrap().to_owned();
    ann.eventually(&web, &id, "error").await;
    let html = ann.page(&web, "/resources/zoom").await;
    let item = section(&html, &format!(r#"data-resource="{id}""#));
    assert!(item.contains("Zoom rejected the client id or secret. Copy both again"), "{item}");
    assert!(item.contains("Open the chatbot (its name), fix its settings and save."));

    // The same chatbot again, by someone else and in Russian.
    let bob = User::register(&web, "Bob").await;
    bob.json(&web, "PATCH", "/api/profile", Some(json!({"language_code": "ru"})), 200).await;
    let (status, _, html) =
        bob.post_form(&web, "/resources/zoom", &typed("Мой бот", "v1old@xmpp.zoom.us", CLIENT_SECRET)).await;
    assert_eq!(status, 409);
    let at = html.find(jid_error).unwrap_or_else(|| panic!("the error at the Bot JID: {html}"));
    assert!(html[at..].starts_with(&format!("{jid_error}Этот чат-бот уже подключён")), "{}", &html[at..]);
    let html = ann.page(&web, "/resources/zoom").await;
    assert!(!html.contains("Мой бот"));
}

#[tokio::test]
async fn a_person_connects_a_chatbot_and_sees_its_webhook_url_appear_live() {
    let Some(browser) = Browser::start_with_lang("en").await else { return };
    let web = TestWeb::start_with_edges().await;
    // Slow to answer, so that the page shows "starting" before the live update.
    let _edge = zoom_edge(&web, Duration::from_secs(2)).await;

    let result = run(&browser, "zoom", async {
        browser.sign_up(&web.url(""), "Dora").await?;

        browser.click("nav a[href='/resources']").await?;
        browser.click("a[href='/resources/zoom']").await?;
        browser.wait_for("#marketplace").await?;
        browser.submit_form("#bot form").await?;
        browser.wait_for("#bot[data-enabled=true]").await?;

        for (field, value) in typed("Dora helper", "v1dora@xmpp.zoom.us", CLIENT_SECRET).into_iter().skip(1) {
            browser.fill(&format!("#connect input[name='{field}']"), value).await?;
        }
        browser.fill("#connect input[name=name]", "Dora helper").await?;
        browser.submit_form("#connect form").await?;
        browser.wait_for("#chatbots li.chatbot").await?;
        assert_eq!(browser.text("#chatbots li.chatbot a").await?, "Dora helper");
        assert_eq!(browser.text("#chatbots li.chatbot .badge").await?, "starting");

        // The page is marked; the mark survives only if the page is never reloaded.
        browser.client().execute("document.body.dataset.mark = 'kept'", vec![]).await?;
        browser.wait_for("#chatbots li.chatbot .badge.state-ready").await?;
        browser.wait_for("#chatbots li.chatbot [data-role=webhook]:not([hidden])").await?;
        let url = browser.text("#chatbots li.chatbot [data-role=webhook-url]").await?;
        assert!(url.starts_with("https://zoom.example.test/zoom/"), "{url}");
        browser.wait_for("body[data-mark=kept]").await?;
        Ok(())
    })
    .await;
    browser.close().await;
    result.unwrap();
}
