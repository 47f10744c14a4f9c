//! The conversations on `/chat` without JavaScript: the list beside the open conversation,
//! search with the words marked, each conversation's own memory, rename, model, regenerate,
//! delete with its confirmation, channel conversations read here and answered in their channel,
//! and nobody else's conversations.

use std::time::Duration;

use assistchat_fakes::Behaviour;
use assistchat_test_support::eventually;
use reqwest::{Client, StatusCode, header};
use serde_json::json;

use crate::{
    browser::{Browser, run},
    helpers::TestWeb,
    resources::User,
};

const PLATFORM_KEY: &str = "sk-platform-test";

/// Core with a platform key and two models on offer.
async fn with_models() -> TestWeb {
    TestWeb::start_with(|config| {
        config.openai_api_key = Some(PLATFORM_KEY.into());
        config.openai_model = "gpt-a".into();
        config.managed_models = vec!["gpt-a".into(), "gpt-b".into()];
    })
    .await
}

/// The value of the form field `name` in a page.
fn field_in(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("a field {name} in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The part of a page between `from` and the next `until` after it.
fn part<'a>(html: &'a str, from: &str, until: &str) -> &'a str {
    let start = html.find(from).unwrap_or_else(|| panic!("{from} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find(until).unwrap_or(rest.len())]
}

/// The conversation list of a page.
fn list(html: &str) -> &str {
    part(html, "id=\"conversation-list\"", "</ul>")
}

/// The open conversation of a page.
fn pane(html: &str) -> &str {
    part(html, "id=\"conversation\" data-id", "</section>")
}

/// The ids of the listed conversations, in their order.
fn listed_ids(html: &str) -> Vec<String> {
    list(html).split("<li class=\"conversation").skip(1).map(|item| field_after(item, "data-id=\"")).collect()
}

fn field_after(html: &str, marker: &str) -> String {
    html.split(marker).nth(1).unwrap_or_else(|| panic!("{marker} in {html}")).split('"').next().unwrap().to_owned()
}

async fn page(client: &Client, web: &TestWeb, path: &str) -> String {
    let response = client.get(web.url(path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.text().await.unwrap()
}

/// Sends `text` with the page's form at `path` (`/chat` or `/chat/{id}`), as a browser without
/// JavaScript does; returns where it went.
async fn send(client: &Client, web: &TestWeb, path: &str, text: &str) -> String {
    let html = page(client, web, path).await;
    let form = [
        ("csrf", field_in(&html, "csrf")),
        ("text", text.into()),
        ("client_message_id", field_in(&html, "client_message_id")),
    ];
    let action = field_after(part(&html, "<form id=\"chat-form\"", ">"), "action=\"");
    let sent = client.post(web.url(&action)).form(&form).send().await.unwrap();
    assert_eq!(sent.status(), StatusCode::SEE_OTHER, "{}", sent.text().await.unwrap());
    sent.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

/// Posts a conversation tool's form (`rename`, `model`, `delete`, `regenerate`).
async fn tool(
    client: &Client,
    web: &TestWeb,
    csrf: &str,
    id: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("csrf", csrf)];
    form.extend_from_slice(fields);
    client.post(web.url(&format!("/chat/{id}/{action}"))).form(&form).send().await.unwrap()
}

#[tokio::test]
async fn every_conversation_is_listed_beside_the_open_one_with_its_own_memory() {
    let web = with_models().await;
    let client = web.browser();
    let csrf = web.register(&client, "keeper").await;
    send(&client, &web, "/chat", "Plan a trip to Rome").await;
    let reset = client.post(web.url("/chat/reset")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);

    // After "New conversation" the pane is empty and the old one is still listed.
    let html = page(&client, &web, "/chat").await;
    assert!(pane(&html).contains("No messages yet") && !pane(&html).contains("Rome"), "{html}");
    assert!(list(&html).contains(">Plan a trip to Rome<"), "{html}");
    let rome = listed_ids(&html).remove(0);
    send(&client, &web, "/chat", "Bake bread at home").await;

    // Newest first, the open one marked; the current conversation opens on /chat.
    let html = page(&client, &web, "/chat").await;
    let ids = listed_ids(&html);
    assert_eq!(ids.len(), 2, "{html}");
    assert_eq!(ids[1], rome);
    let bread = ids[0].clone();
    assert!(list(&html).contains(&format!("<li class=\"conversation open\" data-id=\"{bread}\"")), "{html}");
    assert!(pane(&html).contains(">Bake bread at home<") && !pane(&html).contains("Rome"), "{html}");
    assert!(pane(&html).contains("<h2 id=\"conversation-title\">Bake bread at home</h2>"), "{html}");

    // An older conversation opens by its link and goes on with its own memory only.
    let html = page(&client, &web, &format!("/chat/{rome}")).await;
    assert!(pane(&html).contains(">Plan a trip to Rome<") && !pane(&html).contains("bread"), "{html}");
    assert!(list(&html).contains(&format!("<li class=\"conversation open\" data-id=\"{rome}\"")), "{html}");
    let back = send(&client, &web, &format!("/chat/{rome}"), "And in May?").await;
    assert_eq!(back, format!("/chat/{rome}#chat-form"));
    let asked = web.openai().requests().last().unwrap().body.to_string();
    assert!(
        asked.contains("Plan a trip to Rome") && asked.contains("And in May?") && !asked.contains("bread"),
        "{asked}"
    );
    // It became the most recently active.
    assert_eq!(listed_ids(&page(&client, &web, "/chat").await)[0], rome);
}

#[tokio::test]
async fn a_search_lists_the_conversations_with_the_words_marked_in_any_language() {
    let web = with_models().await;
    let client = web.browser();
    let csrf = web.register(&client, "finder").await;
    send(&client, &web, "/chat", "The train to Novosibirsk leaves at night").await;
    client.post(web.url("/chat/reset")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    send(&client, &web, "/chat", "Поезд в Новосибирск уходит вечером").await;

    let html = page(&client, &web, "/chat?q=TRAIN").await;
    let ids = listed_ids(&html);
    assert_eq!(ids.len(), 1, "{html}");
    assert!(list(&html).contains("<mark>train</mark>"), "the word marked as written: {html}");
    assert!(html.contains("Conversations with “TRAIN”."), "{html}");
    // The link opens the conversation at the message, keeping the search.
    let link = field_after(list(&html), "<a href=\"");
    assert!(link.starts_with(&format!("/chat/{}?q=TRAIN#message-", ids[0])), "{link}");
    let opened = page(&client, &web, &link.replace("&amp;", "&")).await;
    let anchor = link.split('#').nth(1).unwrap();
    assert!(pane(&opened).contains(&format!("id=\"{anchor}\"")), "{opened}");
    assert!(opened.contains("value=\"TRAIN\""), "the search box keeps the words");

    let html = page(&client, &web, "/chat?q=%D0%BF%D0%BE%D0%B5%D0%B7%D0%B4").await;
    let russian = listed_ids(&html);
    assert_eq!(russian.len(), 1, "{html}");
    assert_ne!(russian[0], ids[0]);
    assert!(list(&html).contains("<mark>Поезд</mark>"), "{html}");

    let html = page(&client, &web, "/chat?q=submarine").await;
    assert!(listed_ids(&html).is_empty() && html.contains("No message has these words"), "{html}");
    // Only the browser's conversations, or a channel that has none.
    assert_eq!(listed_ids(&page(&client, &web, "/chat?channel=browser").await).len(), 2);
    assert!(listed_ids(&page(&client, &web, "/chat?channel=telegram").await).is_empty());
    let odd = client.get(web.url("/chat?channel=%22%20OR%201")).send().await.unwrap().text().await.unwrap();
    assert!(odd.contains("There is no such channel"), "{odd}");
}

#[tokio::test]
async fn a_conversation_is_renamed_given_a_model_answered_again_and_deleted_without_javascript() {
    let web = with_models().await;
    let client = web.browser();
    let csrf = web.register(&client, "tidy").await;
    web.openai().set_reply("The first answer.");
    let back = send(&client, &web, "/chat", "Name three rivers").await;
    assert_eq!(back, "/chat#chat-form");
    let html = page(&client, &web, "/chat").await;
    let id = listed_ids(&html).remove(0);
    assert!(pane(&html).contains("Default (gpt-a)") && pane(&html).contains(">gpt-b<"), "the models on offer: {html}");
    assert!(pane(&html).contains(&format!("href=\"/api/conversations/{id}/export?format=markdown\"")), "{html}");

    // Rename.
    let renamed = tool(&client, &web, &csrf, &id, "rename", &[("title", "Rivers of Europe")]).await;
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);
    let html = page(&client, &web, &format!("/chat/{id}")).await;
    assert!(list(&html).contains(">Rivers of Europe<") && pane(&html).contains(">Rivers of Europe</h2>"), "{html}");

    // A model on offer is asked from now on; one not on offer is refused with why.
    let chosen = tool(&client, &web, &csrf, &id, "model", &[("model", "gpt-b")]).await;
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    assert!(
        page(&client, &web, &format!("/chat/{id}")).await.contains("<option value=\"gpt-b\" selected>gpt-b</option>")
    );
    send(&client, &web, &format!("/chat/{id}"), "And in Asia?").await;
    assert_eq!(web.openai().requests().last().unwrap().body["model"], "gpt-b");
    let refused = tool(&client, &web, &csrf, &id, "model", &[("model", "gpt-unknown")]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let html = refused.text().await.unwrap();
    assert!(part(&html, "id=\"conversation-head\"", "</header>").contains("gpt-unknown"), "{html}");

    // Regenerate replaces the last reply.
    web.openai().set_reply("A better answer.");
    let calls = web.openai().chat_calls();
    let again = tool(&client, &web, &csrf, &id, "regenerate", &[]).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(web.openai().chat_calls(), calls + 1);
    let html = page(&client, &web, &format!("/chat/{id}")).await;
    assert!(
        pane(&html).contains("A better answer.") && pane(&html).matches("The first answer.").count() == 1,
        "{html}"
    );

    // Delete asks for the confirmation, then removes the conversation for good.
    let unconfirmed = tool(&client, &web, &csrf, &id, "delete", &[]).await;
    assert_eq!(unconfirmed.status(), StatusCode::BAD_REQUEST);
    assert!(unconfirmed.text().await.unwrap().contains("Tick the box to confirm"));
    assert_eq!(page(&client, &web, &format!("/chat/{id}")).await.matches("A better answer.").count(), 1);
    let deleted = tool(&client, &web, &csrf, &id, "delete", &[("confirm", "yes")]).await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    assert_eq!(deleted.headers()[header::LOCATION], "/chat");
    assert_eq!(client.get(web.url(&format!("/chat/{id}"))).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let html = page(&client, &web, "/chat?q=rivers").await;
    assert!(listed_ids(&html).is_empty(), "its messages are gone from search: {html}");

    // Without the CSRF token nothing changes.
    let forged = client.post(web.url(&format!("/chat/{id}/rename"))).form(&[("title", "x")]).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_channel_conversation_is_read_here_with_its_channel_resource_and_person() {
    let web = TestWeb::start_with_edges_and(|config| config.openai_api_key = Some(PLATFORM_KEY.into())).await;
    let edge = web.edge("testchan").await;
    let ann = User::register(&web, "Ann").await;
    let body =
        json!({"provider": "testchan", "name": "Shop bot", "settings": {"api_token": crate::resources::TOKEN_A}});
    let resource = ann.json(&web, "POST", "/api/resources", Some(body), 201).await;
    let resource_id = resource["id"].as_str().unwrap().to_owned();
    ann.json(&web, "POST", "/api/bot/start", None, 200).await;
    ann.eventually(&web, &resource_id, "ready").await;
    edge.converse(&resource_id, "chat-7", "Maria Lopez", "update-1", "Is the shop open on Sunday?").await;

    let html = page(&ann.client, &web, "/chat?channel=testchan").await;
    let ids = listed_ids(&html);
    assert_eq!(ids.len(), 1, "{html}");
    assert!(list(&html).contains("badge channel channel-testchan\">Testchan<"), "{html}");
    assert!(listed_ids(&page(&ann.client, &web, "/chat?channel=browser").await).is_empty());

    let html = page(&ann.client, &web, &format!("/chat/{}", ids[0])).await;
    let pane = pane(&html);
    assert!(pane.contains("through Shop bot") && pane.contains("with Maria Lopez"), "{pane}");
    assert!(pane.contains("<span class=\"author\">Maria Lopez</span>"), "the person named: {pane}");
    assert!(pane.contains(">Is the shop open on Sunday?<") && pane.contains("You said: Is the shop open"), "{pane}");
    assert!(pane.contains("read it here, and answer it there"), "{pane}");
    assert!(
        !pane.contains("id=\"chat-form\"") && !pane.contains("chat-regenerate"),
        "answered in its channel only: {pane}"
    );
    assert!(pane.contains("/export?format=json"), "{pane}");
    // Found by search beside the browser's.
    assert_eq!(listed_ids(&page(&ann.client, &web, "/chat?q=sunday").await), ids);
    // Sending to it from the page is refused with where to answer it.
    let form = [("csrf", ann.csrf.as_str()), ("text", "hello"), ("client_message_id", "c-1")];
    let refused = ann.client.post(web.url(&format!("/chat/{}", ids[0]))).form(&form).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn nobody_else_can_open_rename_answer_or_delete_a_conversation() {
    let web = with_models().await;
    let ann = web.browser();
    web.register(&ann, "owner").await;
    send(&ann, &web, "/chat", "A private matter").await;
    let id = listed_ids(&page(&ann, &web, "/chat").await).remove(0);

    let bob = web.browser();
    let bob_csrf = web.register(&bob, "intruder").await;
    assert!(listed_ids(&page(&bob, &web, "/chat?q=private").await).is_empty());
    assert_eq!(bob.get(web.url(&format!("/chat/{id}"))).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    for (action, fields) in
        [("rename", vec![("title", "mine")]), ("delete", vec![("confirm", "yes")]), ("regenerate", vec![])]
    {
        let response = tool(&bob, &web, &bob_csrf, &id, action, &fields).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{action}");
    }
    let form = [("csrf", bob_csrf.as_str()), ("text", "hello"), ("client_message_id", "b-1")];
    let sent = bob.post(web.url(&format!("/chat/{id}"))).form(&form).send().await.unwrap();
    assert_eq!(sent.status(), StatusCode::NOT_FOUND);

    let html = page(&ann, &web, &format!("/chat/{id}")).await;
    assert!(pane(&html).contains(">A private matter</h2>") && pane(&html).contains(">A private matter<"), "{html}");
    assert_eq!(web.openai().chat_calls(), 1);
}

#[tokio::test]
async fn in_the_browser_conversations_are_listed_opened_renamed_and_searched() {
    let Some(browser) = Browser::start_with_lang("en").await else { return };
    let web = with_models().await;

    let result = run(&browser, "conversations", async {
        browser.sign_up(web.url("").trim_end_matches('/'), "Lister").await?;
        browser.goto(&web.url("/chat")).await?;
        browser.fill("#chat-form textarea", "Plan a trip to Rome").await?;
        browser.click("#chat-form button[type=submit]").await?;
        // Once the reply is in, the list and the conversation's head show it without a reload.
        browser.wait_for("#conversation-list li.open[data-id]").await?;
        assert_eq!(browser.text("#conversation-title").await?, "Plan a trip to Rome");
        assert_eq!(browser.text("#conversation-list li.open .title").await?, "Plan a trip to Rome");

        browser.click("#chat-reset button").await?;
        browser.wait_for("#chat-empty:not([hidden])").await?;
        browser.fill("#chat-form textarea", "Bake bread at home").await?;
        browser.click("#chat-form button[type=submit]").await?;
        browser.wait_for("#conversation-list li:nth-child(2)").await?;
        assert_eq!(browser.text("#conversation-list li.open .title").await?, "Bake bread at home");

        // The older one opens from the list, with its own messages.
        browser.click("#conversation-list li:nth-child(2) a").await?;
        browser.wait_for("#conversation-list li:nth-child(2).open").await?;
        assert_eq!(browser.text("#messages li.user .text").await?, "Plan a trip to Rome");
        assert!(browser.current_url().await?.contains("/chat/"));

        // Renamed.
        browser.click("#conversation-head details.rename summary").await?;
        browser.fill("#conversation-head details.rename input[name=title]", "Rome in May").await?;
        browser.submit_form("#conversation-head details.rename form").await?;
        browser.wait_for("#conversation-list li.open").await?;
        eventually("the new title on the page", || async {
            match browser.text("#conversation-title").await {
                Ok(title) if title == "Rome in May" => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        assert_eq!(browser.text("#conversation-list li.open .title").await?, "Rome in May");

        // Searched, with the word marked.
        browser.fill("#conversation-search input[name=q]", "bread").await?;
        browser.submit_form("#conversation-search").await?;
        browser.wait_for(".search-summary").await?;
        let found = browser.client().find_all(fantoccini::Locator::Css("#conversation-list li")).await?;
        assert_eq!(found.len(), 1);
        assert_eq!(browser.text("#conversation-list li mark").await?, "bread");
        Ok(())
    })
    .await;
    browser.close().await;
    result.unwrap();
}

#[tokio::test]
async fn in_the_browser_a_reply_is_stopped_and_written_again_with_nothing_of_it_active() {
    let Some(browser) = Browser::start_with_lang("en").await else { return };
    let web = with_models().await;
    // A reply that never ends, made of the first word of this one, over and over.
    web.openai().set_reply("<img src=x onerror=\"window.__hit='img'\"><script>window.__hit='script'</script>");
    web.openai().push(Behaviour::Trickle { every: Duration::from_millis(50) });
    let inert = "return [window.__hit === undefined, \
                 document.querySelectorAll('#messages script, #messages img, #messages [onerror]').length]";

    let result = run(&browser, "stop-and-regenerate", async {
        browser.sign_up(web.url("").trim_end_matches('/'), "Stopper").await?;
        browser.goto(&web.url("/chat")).await?;
        browser.fill("#chat-form textarea", "Write forever").await?;
        browser.click("#chat-form button[type=submit]").await?;
        browser.wait_for("#chat-stop:not([hidden])").await?;
        // While it is written, the reply is text.
        browser.wait_for("#messages li.assistant.pending .text:not(:empty)").await?;
        assert_eq!(browser.client().execute(inert, Vec::new()).await?, json!([true, 0]), "while streaming");

        browser.click("#chat-stop").await?;
        browser.wait_for("#messages li.assistant[data-id] .meta .stopped").await?;
        browser.wait_for("#chat-stop[hidden]").await?;
        assert!(browser.text("#messages li.assistant .text").await?.contains("<img"), "what arrived is kept");
        assert_eq!(browser.client().execute(inert, Vec::new()).await?, json!([true, 0]), "after the stop");

        // Written again: the new reply replaces the stopped one.
        web.openai().set_reply("A **fresh** reply.");
        browser.click("#chat-regenerate button").await?;
        browser.wait_for("#messages li.assistant[data-id] .text strong").await?;
        let replies = browser.client().find_all(fantoccini::Locator::Css("#messages li.assistant")).await?;
        assert_eq!(replies.len(), 1);
        assert_eq!(browser.text("#messages li.assistant .text").await?, "A fresh reply.");
        // And the same after a reload.
        browser.goto(&web.url("/chat")).await?;
        assert_eq!(browser.text("#messages li.assistant .text strong").await?, "fresh");
        assert_eq!(browser.client().execute(inert, Vec::new()).await?, json!([true, 0]), "after a reload");
        Ok(())
    })
    .await;
    browser.close().await;
    result.unwrap();
}

#[tokio::test]
async fn the_list_and_the_tools_speak_the_profiles_language() {
    let web = with_models().await;
    let client = web.browser();
    let csrf = web.register(&client, "russian").await;
    let patch =
        client.patch(web.url("/api/profile")).header("x-csrf-token", &csrf).json(&json!({"language_code": "ru"}));
    assert_eq!(patch.send().await.unwrap().status(), StatusCode::OK);
    send(&client, &web, "/chat", "Поезд в Новосибирск").await;

    let html = page(&client, &web, "/chat").await;
    for text in
        ["Поиск по разговорам", "Все каналы", ">Браузер<", ">Переименовать<", "По умолчанию (gpt-a)", ">Удалить<"]
    {
        assert!(html.contains(text), "{text} in {html}");
    }
    let html = page(&client, &web, "/chat?q=nothing").await;
    assert!(html.contains("Ни в одном сообщении нет этих слов"), "{html}");
}
