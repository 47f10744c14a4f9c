//! The Telegram page: the @BotFather steps in both languages, a bot connected through the form
//! without JavaScript (its token kept secret), errors at their field in words, the @username and
//! link the connector reports, the page without a connector; and a person in a real browser
//! connecting a bot and watching it become ready.

use std::time::Duration;

use assistchat_edge_client::{ProviderHello, ResourceInfoItem, ResourceInfoKind, ResourceStart};
use serde_json::json;

use crate::{
    browser::{Browser, run},
    helpers::TestWeb,
    resources::User,
    test_edge::{Answer, TestEdge},
};

/// A token of the shape @BotFather gives.
const TOKEN: &str = "123456789:AAEabcdefghijklmnopqrstuvwxyz0123456";
/// Another one.
const OTHER_TOKEN: &str = "987654321:AAFzyxwvutsrqponmlkjihgfedcba6543210";
/// A token the fake connector reports as rejected by Telegram.
const REJECTED_TOKEN: &str = "000000000:AAEthisTokenWasRevokedLongAgo_xxxxxxx";

/// The hello of the Telegram connector, with its settings schema as the Telegram edge sends it:
/// the web edge does not depend on the Telegram edge, so the schema comes from the file both read.
fn telegram_hello() -> ProviderHello {
    let schema = include_str!("../../../edge-telegram/settings.schema.json");
    ProviderHello {
        name: "telegram".into(),
        version: "0.0.1".into(),
        display_name: "Telegram".into(),
        description: "A Telegram bot of yours, made with @BotFather, answering with the assistant.".into(),
        settings_schema_json: schema.into(),
        secret_fields: vec!["bot_token".into()],
        identity_fields: vec!["bot_token".into()],
    }
}

/// As the Telegram edge answers: the rejected token is refused, any other becomes ready with
/// the bot's @username (from the resource's name) and its link.
fn telegram_answer(start: &ResourceStart) -> Answer {
    if start.secrets.get("bot_token").map(String::as_str) == Some(REJECTED_TOKEN) {
        let detail = "Telegram rejected the token. Copy it again from @BotFather.";
        return Answer::Error { detail: detail.into(), reason: "TOKEN_REJECTED".into() };
    }
    let username = format!("{}_bot", start.name.to_lowercase().replace(' ', "_"));
    Answer::Ready(vec![
        ResourceInfoItem {
            key: "username".into(),
            label: "Bot".into(),
            value: format!("@{username}"),
            kind: ResourceInfoKind::Text.into(),
        },
        ResourceInfoItem {
            key: "link".into(),
            label: "Open in Telegram".into(),
            value: format!("https://t.me/{username}"),
            kind: ResourceInfoKind::Link.into(),
        },
    ])
}

/// The Telegram connector, attached; each start answered after `delay`.
async fn telegram_edge(web: &TestWeb, delay: Duration) -> TestEdge {
    TestEdge::attach_answering(&web.core_url(), telegram_hello(), delay, telegram_answer).await
}

/// The part of `html` from `start` to the end of the element's section.
fn section<'a>(html: &'a str, start: &str) -> &'a str {
    let at = html.find(start).unwrap_or_else(|| panic!("{start} in {html}"));
    &html[at..at + html[at..].find("</section>").unwrap()]
}

#[tokio::test]
async fn the_page_explains_botfather_in_both_languages_and_says_when_the_connector_is_not_running() {
    let web = TestWeb::start().await;
    let visitor = web.browser();
    let response = visitor.get(web.url("/resources/telegram")).send().await.unwrap();
    assert_eq!(response.status(), 303, "a visitor signs in first");
    let ann = User::register(&web, "Ann").await;

    let channels = ann.page(&web, "/resources").await;
    assert!(channels.contains(r#"<a href="/resources/telegram">Connect a Telegram bot</a>"#), "{channels}");

    let html = ann.page(&web, "/resources/telegram").await;
    let steps = section(&html, r#"id="botfather""#);
    for text in [
        "Get a bot token from @BotFather",
        "Open @BotFather in Telegram:",
        r#"href="https://t.me/BotFather""#,
        "Send /newbot, then choose a name people will see and a username that ends in “bot”",
        "which looks like 123456789:AAE…",
    ] {
        assert!(steps.contains(text), "{text} in {steps}");
    }
    assert_eq!(steps.matches("<li>").count(), 3);
    assert!(html.contains("The Telegram connector is not running on this server") && html.contains("Ask the operator"));
    assert!(html.contains("No Telegram bots connected yet."));
    assert!(!html.contains(r#"name="settings.bot_token""#), "no form that cannot work: {html}");
    assert!(html.contains(r#"src="/static/js/resources_telegram.js""#));

    ann.json(&web, "PATCH", "/api/profile", Some(json!({"language_code": "ru"})), 200).await;
    let html = ann.page(&web, "/resources/telegram").await;
    assert!(html.contains(r#"<html lang="ru">"#));
    for text in ["Получите токен бота у @BotFather", "Отправьте /newbot", "123456789:AAE…", "Коннектор Telegram"]
    {
        assert!(html.contains(text), "{text} in {html}");
    }
    let script = web.browser().get(web.url("/static/js/resources_telegram.js")).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.text().await.unwrap().contains(r#"followChannel("telegram""#));
    assert!(html.contains(r#"src="/static/js/resources_channel.js""#));
    let shared = web.browser().get(web.url("/static/js/resources_channel.js")).send().await.unwrap();
    assert!(shared.text().await.unwrap().contains("/api/bot/events"));
}

#[tokio::test]
async fn a_bot_connected_without_javascript_is_listed_with_its_state_username_and_link() {
    let web = TestWeb::start_with_edges().await;
    let _edge = telegram_edge(&web, Duration::ZERO).await;
    let ann = User::register(&web, "Ann").await;

    let html = ann.page(&web, "/resources/telegram").await;
    assert!(!html.contains("connector is not running"), "{html}");
    let form = section(&html, r#"id="connect""#);
    for control in [
        r#"<form method="post" action="/resources/telegram">"#,
        r#"<input type="text" name="name" value="" required maxlength="100""#,
        r#"<input type="password" name="settings.bot_token" required autocomplete="off""#,
        r#"<textarea name="settings.system_prompt" rows="5" maxlength="4000""#,
        r#"<textarea class="lines" name="settings.allowed_users""#,
        r#"<input type="checkbox" name="settings.groups_mentions_only" checked"#,
        "In groups, answer only when mentioned or replied to",
        "one per line or separated by commas",
    ] {
        assert!(form.contains(control), "{control} in {form}");
    }

    let typed = [
        ("name", "Family helper"),
        ("settings.bot_token", TOKEN),
        ("settings.system_prompt", "Answer kindly."),
        ("settings.allowed_users", "@ann_smith, 12345\r\nzoe_b"),
    ];
    let (status, location, _) = ann.post_form(&web, "/resources/telegram", &typed).await;
    assert_eq!(status, 303);
    let id = location.strip_prefix("/resources/telegram?connected=").expect("back to the page").to_owned();
    let resource = ann.json(&web, "GET", &format!("/api/resources/{id}"), None, 200).await;
    assert_eq!(resource["provider"], "telegram");
    assert_eq!(
        resource["settings"],
        json!({
            "bot_token": "...3456",
            "system_prompt": "Answer kindly.",
            "allowed_users": ["@ann_smith", "12345", "zoe_b"],
            "groups_mentions_only": false,
        })
    );

    // The bot is off, so the new one waits, paused.
    let html = ann.page(&web, &location).await;
    assert!(html.contains("The bot is connected."), "{html}");
    let item = section(&html, &format!(r#"<li class="bot" data-resource="{id}">"#));
    assert!(item.contains(r#"data-role="badge">paused</span>"#) && item.contains("The bot is off."), "{item}");
    assert!(!html.contains(TOKEN), "the token is never shown");

    let (status, location, _) =
        ann.post_form(&web, "/bot", &[("enabled", "true"), ("back", "/resources/telegram")]).await;
    assert_eq!((status, location.as_str()), (303, "/resources/telegram"));
    ann.eventually(&web, &id, "ready").await;
    let html = ann.page(&web, "/resources/telegram").await;
    let item = section(&html, &format!(r#"data-resource="{id}""#));
    assert!(item.contains(r#"<span class="badge state-ready" data-role="badge">ready</span>"#), "{item}");
    assert!(item.contains(r#"<span data-role="username">@family_helper_bot</span>"#), "{item}");
    assert!(item.contains(r#"href="https://t.me/family_helper_bot""#) && item.contains("Open in Telegram"));
    assert!(item.contains(&format!(r#"href="/resources/{id}">Family helper</a>"#)));
    assert!(!html.contains(TOKEN));

    // Pausing from this page comes back to it.
    let pause = format!("/resources/{id}/pause");
    assert!(item.contains(&format!(r#"action="{pause}""#)));
    let (status, location, _) = ann.post_form(&web, &pause, &[("back", "/resources/telegram")]).await;
    assert_eq!((status, location.as_str()), (303, "/resources/telegram"));
    let html = ann.page(&web, "/resources/telegram").await;
    assert!(html.contains(&format!(r#"action="/resources/{id}/activate""#)), "{html}");

    // Another user's bot is not listed here.
    let bob = User::register(&web, "Bob").await;
    let html = bob.page(&web, "/resources/telegram").await;
    assert!(!html.contains(&id) && html.contains("No Telegram bots connected yet."));
}

#[tokio::test]
async fn a_bad_token_a_bad_user_and_a_bot_connected_twice_are_explained_at_their_field() {
    let web = TestWeb::start_with_edges().await;
    let _edge = telegram_edge(&web, Duration::ZERO).await;
    let ann = User::register(&web, "Ann").await;
    let token_error = r#"<p class="field-error" id="telegram-settings-bot_token-error" role="alert">"#;

    let typed = [
        ("name", "Shop bot"),
        ("settings.bot_token", "12345:too-short"),
        ("settings.system_prompt", "Answer about the shop."),
        ("settings.allowed_users", "12345"),
    ];
    let (status, _, html) = ann.post_form(&web, "/resources/telegram", &typed).await;
    assert_eq!(status, 400);
    let at = html.find(token_error).unwrap_or_else(|| panic!("the error at the token field: {html}"));
    assert!(html[at..].starts_with(&format!("{token_error}This is not a bot token.")), "{}", &html[at..at + 300]);
    assert!(html.contains(r#"aria-describedby="telegram-settings-bot_token-error" aria-invalid="true""#));
    assert!(html.contains(r#"value="Shop bot""#) && html.contains("Answer about the shop."), "the rest is kept");
    assert!(!html.contains("too-short"), "a token is never sent back");
    assert!(
        html.contains(r#"<input type="checkbox" name="settings.groups_mentions_only" aria-describedby"#),
        "the box stays as it was sent: unticked"
    );

    let typed = [("name", "Shop bot"), ("settings.bot_token", TOKEN), ("settings.allowed_users", "@ann_smith, ann-b")];
    let (status, _, html) = ann.post_form(&web, "/resources/telegram", &typed).await;
    assert_eq!(status, 400);
    let error = r#"<p class="field-error" id="telegram-settings-allowed_users-error" role="alert">"#;
    let at = html.find(error).unwrap_or_else(|| panic!("the error at the users field: {html}"));
    assert!(html[at..].starts_with(&format!("{error}“ann-b” is neither a Telegram user id")), "{}", &html[at..]);

    let typed = [("name", "Shop bot"), ("settings.bot_token", TOKEN), ("settings.groups_mentions_only", "on")];
    let (status, _, _) = ann.post_form(&web, "/resources/telegram", &typed).await;
    assert_eq!(status, 303);

    // The same bot again, by someone else and in Russian.
    let bob = User::register(&web, "Bob").await;
    bob.json(&web, "PATCH", "/api/profile", Some(json!({"language_code": "ru"})), 200).await;
    let (status, _, html) = bob.post_form(&web, "/resources/telegram", &[("name", "Мой бот"), typed[1]]).await;
    assert_eq!(status, 409);
    let at = html.find(token_error).unwrap_or_else(|| panic!("the error at the token field: {html}"));
    assert!(html[at..].starts_with(&format!("{token_error}Этот бот уже подключён")), "{}", &html[at..]);
    assert!(html.contains("/revoke") && html.contains(r#"value="Мой бот""#));
}

#[tokio::test]
async fn a_rejected_token_is_explained_with_what_to_do() {
    let web = TestWeb::start_with_edges().await;
    let _edge = telegram_edge(&web, Duration::ZERO).await;
    let ann = User::register(&web, "Ann").await;
    ann.post_form(&web, "/bot", &[("enabled", "true")]).await;
    let (status, location, _) = ann
        .post_form(&web, "/resources/telegram", &[("name", "Old bot"), ("settings.bot_token", REJECTED_TOKEN)])
        .await;
    assert_eq!(status, 303);
    let id = location.rsplit('=').next().unwrap();
    ann.eventually(&web, id, "error").await;

    let html = ann.page(&web, "/resources/telegram").await;
    let item = section(&html, &format!(r#"data-resource="{id}""#));
    assert!(
        item.contains("Telegram rejected the token. Copy it again from @BotFather (/mybots → API Token)"),
        "{item}"
    );
    assert!(item.contains("Open the bot (its name), fix its settings and save."));
    ann.json(&web, "PATCH", "/api/profile", Some(json!({"language_code": "ru"})), 200).await;
    let html = ann.page(&web, "/resources/telegram").await;
    assert!(html.contains("Telegram отклонил токен.") && html.contains("исправьте настройки"), "{html}");
}

#[tokio::test]
async fn a_person_connects_a_bot_and_watches_it_become_ready_live() {
    let Some(browser) = Browser::start_with_lang("en").await else { return };
    let web = TestWeb::start_with_edges().await;
    // Slow to answer, so that the page shows "starting" before the live update.
    let _edge = telegram_edge(&web, Duration::from_secs(2)).await;

    let result = run(&browser, "telegram", async {
        browser.sign_up(&web.url(""), "Dora").await?;

        browser.click("nav a[href='/resources']").await?;
        browser.click("a[href='/resources/telegram']").await?;
        browser.wait_for("#botfather").await?;
        browser.submit_form("#bot form").await?;
        browser.wait_for("#bot[data-enabled=true]").await?;

        browser.fill("#connect input[name=name]", "Dora helper").await?;
        browser.fill("#connect input[name='settings.bot_token']", OTHER_TOKEN).await?;
        browser.fill("#connect textarea[name='settings.allowed_users']", "@dora_d, 4242").await?;
        browser.submit_form("#connect form").await?;
        browser.wait_for("#bots li.bot").await?;
        assert_eq!(browser.text("#bots li.bot a").await?, "Dora helper");
        assert_eq!(browser.text("#bots li.bot .badge").await?, "starting");

        // The page is marked; the mark survives only if the page is never reloaded.
        browser.client().execute("document.body.dataset.mark = 'kept'", vec![]).await?;
        browser.wait_for("#bots li.bot .badge.state-ready").await?;
        assert_eq!(browser.text("#bots li.bot .badge").await?, "ready");
        assert_eq!(browser.text("#bots li.bot [data-role=username]").await?, "@dora_helper_bot");
        let link = browser.wait_for("#bots li.bot a[data-role=link]").await?;
        assert_eq!(link.attr("href").await?.as_deref(), Some("https://t.me/dora_helper_bot"));
        browser.wait_for("body[data-mark=kept]").await?;
        Ok(())
    })
    .await;
    browser.close().await;
    result.unwrap();
}
