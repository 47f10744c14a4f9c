//! The browser chat: the JSON API's event stream, the page with and without JavaScript, its
//! languages and failures; and the profile's AI usage and key checks. Core asks the fake OpenAI
//! API that [`TestWeb`] starts.

use std::time::Duration;

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use assistchat_fakes::Behaviour;

use crate::{
    browser::{Browser, run},
    helpers::{TestWeb, events},
};

const PLATFORM_KEY: &str = "sk-platform-test";

/// Core with a platform key, so that managed users get replies from the fake.
async fn with_platform_key() -> TestWeb {
    TestWeb::start_with(|config| config.openai_api_key = Some(PLATFORM_KEY.into())).await
}

/// The value of the form field `name` in a page.
fn field_in(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("a field {name} in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The messages of the conversation open on the chat page, without the list beside them or its
/// title above.
fn open_conversation(html: &str) -> &str {
    let start = html.find("id=\"chat-empty\"").unwrap_or_else(|| panic!("the open conversation in {html}"));
    &html[start..]
}

/// Sends `text` through the JSON API and returns the stream's events.
async fn stream(web: &TestWeb, client: &reqwest::Client, csrf: &str, text: &str, id: &str) -> Vec<(String, Value)> {
    let body = json!({ "text": text, "client_message_id": id });
    let response = client.post(web.url("/api/chat/messages")).header("x-csrf-token", csrf).json(&body).send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    events(&response.text().await.unwrap())
}

#[tokio::test]
async fn the_json_api_streams_the_reply_as_it_is_written() {
    let web = with_platform_key().await;
    let reply = "Hello there, this reply arrives in several pieces.";
    web.openai().set_reply(reply);
    let client = web.browser();
    let csrf = web.register(&client, "streamer").await;

    let events = stream(&web, &client, &csrf, "Hi, assistant", "message-1").await;
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names.first(), Some(&"user_message"), "{events:?}");
    assert_eq!(names.last(), Some(&"reply"), "{events:?}");
    let deltas: Vec<&str> =
        events.iter().filter(|(name, _)| name == "delta").map(|(_, data)| data["text"].as_str().unwrap()).collect();
    assert!(deltas.len() > 1, "the reply comes in pieces: {events:?}");
    let (_, user) = &events[0];
    assert_eq!(user["role"], "user");
    assert_eq!(user["text"], "Hi, assistant");
    let (_, stored) = events.last().unwrap();
    assert_eq!(stored["role"], "assistant");
    assert_eq!(stored["text"], reply);
    assert_eq!(deltas.concat(), reply, "the pieces make the stored reply");
    assert_eq!(web.openai().chat_calls(), 1);
    assert_eq!(web.openai().requests()[0].api_key(), Some(PLATFORM_KEY));

    // The same id again is the same message: the stored reply, and no second question.
    let again = stream(&web, &client, &csrf, "Hi, assistant", "message-1").await;
    assert_eq!(again.last().unwrap().1["id"], stored["id"], "{again:?}");
    assert_eq!(web.openai().chat_calls(), 1);

    // The history lists both, newest first.
    let listed: Value = client.get(web.url("/api/chat/messages")).send().await.unwrap().json().await.unwrap();
    let messages = listed["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{listed}");
    assert_eq!(messages[0]["text"], reply);
    assert_eq!(messages[1]["text"], "Hi, assistant");
    assert!(messages[1]["create_time"].as_str().unwrap().ends_with('Z'));

    // A change made with the cookie needs the CSRF token; a wrong body is named.
    let forged = client.post(web.url("/api/chat/messages")).json(&json!({ "text": "x" })).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let no_text = client.post(web.url("/api/chat/messages")).header("x-csrf-token", &csrf).json(&json!({}));
    let no_text = no_text.send().await.unwrap();
    assert_eq!(no_text.status(), StatusCode::BAD_REQUEST);
    assert_eq!(no_text.json::<Value>().await.unwrap()["error"]["code"], "bad_request");
    let anonymous = web.browser().post(web.url("/api/chat/messages")).json(&json!({ "text": "x" })).send().await;
    assert_eq!(anonymous.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn history_survives_reloads_and_a_new_conversation_clears_it() {
    let web = with_platform_key().await;
    let client = web.browser();
    let csrf = web.register(&client, "historian").await;
    stream(&web, &client, &csrf, "first question", "h-1").await;
    stream(&web, &client, &csrf, "second question", "h-2").await;

    for _ in 0..2 {
        let page = client.get(web.url("/chat")).send().await.unwrap().text().await.unwrap();
        let order = ["first question", "You said: first question", "second question", "You said: second question"]
            .map(|text| page.find(&format!(">{text}<")).unwrap_or_else(|| panic!("{text} in {page}")));
        assert!(order.is_sorted(), "oldest at the top: {order:?}");
    }

    // The form resets the conversation without JavaScript.
    let page = client.get(web.url("/chat")).send().await.unwrap().text().await.unwrap();
    let reset = client.post(web.url("/chat/reset")).form(&[("csrf", field_in(&page, "csrf"))]).send().await.unwrap();
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);
    assert!(reset.headers()[header::LOCATION].to_str().unwrap().starts_with("/chat"));
    let page = client.get(web.url("/chat")).send().await.unwrap().text().await.unwrap();
    // The old conversation stays in the list; the open one is the new, empty one.
    let open = open_conversation(&page);
    assert!(!open.contains("first question") && open.contains("No messages yet"), "{page}");

    // The model no longer sees the old conversation.
    stream(&web, &client, &csrf, "third question", "h-3").await;
    let sent = web.openai().requests().last().unwrap().body.to_string();
    assert!(sent.contains("third question") && !sent.contains("second question"), "{sent}");

    // And the API resets too.
    let forged = client.post(web.url("/api/chat/reset")).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let reset = client.post(web.url("/api/chat/reset")).header("x-csrf-token", &csrf).send().await.unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    let listed: Value = client.get(web.url("/api/chat/messages")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["messages"], json!([]), "{listed}");
}

#[tokio::test]
async fn the_form_works_without_javascript_and_shows_the_model_text_as_text() {
    let web = with_platform_key().await;
    web.openai().set_reply("<b>bold</b> & <script>alert(1)</script>\nsecond line");
    let client = web.browser();
    web.register(&client, "formal").await;
    let page = client.get(web.url("/chat")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("href=\"/chat\" aria-current=\"page\""), "the nav marks the chat");
    let csrf = field_in(&page, "csrf");
    let id = field_in(&page, "client_message_id");
    assert_eq!(id.len(), 36, "a random id made for this form: {id}");

    let form = [("csrf", csrf.as_str()), ("text", "hello\nform"), ("client_message_id", id.as_str())];
    let sent = client.post(web.url("/chat")).form(&form).send().await.unwrap();
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    assert!(sent.headers()[header::LOCATION].to_str().unwrap().starts_with("/chat"));
    // The same form sent twice (a reload, a double click) is one message and one question.
    let twice = client.post(web.url("/chat")).form(&form).send().await.unwrap();
    assert_eq!(twice.status(), StatusCode::SEE_OTHER);
    assert_eq!(web.openai().chat_calls(), 1);

    let page = client.get(web.url("/chat")).send().await.unwrap().text().await.unwrap();
    assert_eq!(page.matches(">hello\nform<").count(), 1, "{page}");
    assert!(
        page.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;\nsecond line"),
        "{page}"
    );
    assert!(!page.contains("<b>bold</b>") && !page.contains("<script>alert(1)"));
    assert_ne!(field_in(&page, "client_message_id"), id, "the next message gets a new id");

    // Without the CSRF token nothing is sent; signed out, the page asks to sign in.
    let forged = client.post(web.url("/chat")).form(&[("text", "forged"), ("client_message_id", "x")]);
    assert_eq!(forged.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(web.openai().chat_calls(), 1);
    let visitor = web.browser().get(web.url("/chat")).send().await.unwrap();
    assert_eq!(visitor.status(), StatusCode::SEE_OTHER);
    assert_eq!(visitor.headers()[header::LOCATION], "/login");
}

#[tokio::test]
async fn the_chat_speaks_the_profiles_language() {
    let web = with_platform_key().await;
    let client = web.browser();
    let csrf = web.register(&client, "lang").await;
    let english = client.get(web.url("/chat")).send().await.unwrap().text().await.unwrap();
    assert!(english.contains("New conversation") && english.contains(">Send<"), "{english}");

    let patch =
        client.patch(web.url("/api/profile")).header("x-csrf-token", &csrf).json(&json!({"language_code": "ru"}));
    assert_eq!(patch.send().await.unwrap().status(), StatusCode::OK);
    let russian = client.get(web.url("/chat")).header(header::ACCEPT_LANGUAGE, "en").send().await.unwrap();
    let russian = russian.text().await.unwrap();
    assert!(russian.contains("<html lang=\"ru\">"), "{russian}");
    for text in ["Новый разговор", ">Отправить<", ">Чат<", "Сообщений пока нет"]
    {
        assert!(russian.contains(text), "{text} in {russian}");
    }
    // The script's words come from the page, in the same language.
    assert!(russian.contains("Ассистент пишет…"), "{russian}");
}

#[tokio::test]
async fn without_a_key_the_chat_says_what_to_do() {
    // No platform key: managed users cannot be answered.
    let web = TestWeb::start().await;
    let client = web.browser();
    let csrf = web.register(&client, "keyless").await;

    let events = stream(&web, &client, &csrf, "anyone there?", "k-1").await;
    let (name, error) = events.last().unwrap();
    assert_eq!(name, "error", "{events:?}");
    assert_eq!(error["code"], "failed_precondition");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("Profile"), "core's words, saying what to do: {message}");

    // The form shows the same words, and keeps the text to send again.
    let page = client.get(web.url("/chat")).send().await.unwrap().text().await.unwrap();
    let form = [
        ("csrf", field_in(&page, "csrf")),
        ("text", "still there?".to_owned()),
        ("client_message_id", field_in(&page, "client_message_id")),
    ];
    let failed = client.post(web.url("/chat")).form(&form).send().await.unwrap();
    assert_eq!(failed.status(), StatusCode::PRECONDITION_FAILED);
    let page = failed.text().await.unwrap();
    assert!(page.contains(message), "{page}");
    assert!(page.contains(">\nstill there?</textarea>"), "{page}");

    // The failed messages stay in the history with why they got no reply.
    let page = client.get(web.url("/chat")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("anyone there?") && page.contains("No reply:"), "{page}");
    assert_eq!(web.openai().chat_calls(), 0);

    // In Russian, core's words are Russian.
    let patch =
        client.patch(web.url("/api/profile")).header("x-csrf-token", &csrf).json(&json!({"language_code": "ru"}));
    patch.send().await.unwrap();
    let events = stream(&web, &client, &csrf, "кто-нибудь?", "k-2").await;
    let message = events.last().unwrap().1["message"].as_str().unwrap().to_owned();
    assert!(message.contains("профил"), "{message}");
}

#[tokio::test]
async fn a_spent_quota_is_explained_with_what_to_do() {
    let web = TestWeb::start_with(|config| {
        config.openai_api_key = Some(PLATFORM_KEY.into());
        config.daily_token_quota = 1;
    })
    .await;
    let client = web.browser();
    let csrf = web.register(&client, "spender").await;

    // The platform's own credit is spent: the model's server says so.
    web.openai().push(Behaviour::NoQuota);
    let events = stream(&web, &client, &csrf, "first", "q-1").await;
    let (name, error) = events.last().unwrap();
    assert_eq!((name.as_str(), &error["code"]), ("error", &json!("resource_exhausted")), "{events:?}");
    assert!(error["message"].as_str().unwrap().contains("operator"), "{error}");

    // One answer spends today's quota of one token; the next message is refused with when it
    // starts again, on the page as in the stream.
    stream(&web, &client, &csrf, "second", "q-2").await;
    let page = client.get(web.url("/chat")).send().await.unwrap().text().await.unwrap();
    let form = [
        ("csrf", field_in(&page, "csrf")),
        ("text", "third".to_owned()),
        ("client_message_id", field_in(&page, "client_message_id")),
    ];
    let refused = client.post(web.url("/chat")).form(&form).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let page = refused.text().await.unwrap();
    let error = page.split("id=\"chat-error\"").nth(1).unwrap().split("</p>").next().unwrap();
    assert!(error.contains("quota of 1 tokens is spent") && error.contains("midnight UTC"), "{error}");
    assert_ne!(field_in(&page, "client_message_id"), form[2].1, "core stored the failure: a resend is new");
    assert_eq!(web.openai().chat_calls(), 2);
}

#[tokio::test]
async fn older_messages_are_a_link_away() {
    let web = with_platform_key().await;
    let client = web.browser();
    let csrf = web.register(&client, "talkative").await;
    // 26 exchanges are 52 messages: one more page than the 50 shown.
    for n in 1..=26 {
        stream(&web, &client, &csrf, &format!("question {n}"), &format!("o-{n}")).await;
    }
    let page = client.get(web.url("/chat")).send().await.unwrap().text().await.unwrap();
    let open = open_conversation(&page);
    assert!(open.contains(">question 26<") && !open.contains(">question 1<"), "{page}");
    let link = page.split("<p class=\"older\"><a href=\"").nth(1).expect("a link to older messages");
    let link = link.split('"').next().unwrap().replace("&amp;", "&");
    let older = client.get(web.url(&link)).send().await.unwrap().text().await.unwrap();
    assert!(older.contains(">question 1<") && older.contains(">You said: question 1<"), "{older}");
    assert!(older.contains("Back to the latest messages"));
}

#[tokio::test]
async fn a_chat_that_cannot_reach_core_says_so() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let web = TestWeb::web_only(&format!("http://{closed}")).await;
    let client = web.browser();
    let response = client
        .post(web.url("/api/chat/messages"))
        .bearer_auth("acp_anything")
        .json(&json!({ "text": "hello?" }))
        .send()
        .await
        .unwrap();
    let events = events(&response.text().await.unwrap());
    let (name, error) = &events[0];
    assert_eq!(name, "error");
    assert_eq!(error["code"], "unavailable");
    assert!(error["message"].as_str().unwrap().contains("not responding right now"), "{error}");
}

#[tokio::test]
async fn the_profile_shows_the_ai_usage_after_a_chat() {
    let web = TestWeb::start_with(|config| {
        config.openai_api_key = Some(PLATFORM_KEY.into());
        config.daily_token_quota = 5000;
    })
    .await;
    let client = web.browser();
    let csrf = web.register(&client, "counter").await;
    let before = client.get(web.url("/profile")).send().await.unwrap().text().await.unwrap();
    assert!(before.contains("id=\"usage\"") && before.contains("5000"), "{before}");
    stream(&web, &client, &csrf, "count these words please", "u-1").await;

    let usage: Value = client.get(web.url("/api/usage?days=3")).send().await.unwrap().json().await.unwrap();
    assert_eq!(usage["mode"], "managed");
    assert_eq!(usage["days"].as_array().unwrap().len(), 3, "{usage}");
    let today = &usage["days"][0];
    let total = today["total_tokens"].as_i64().unwrap();
    assert!(total > 0, "{usage}");
    assert_eq!(today["request_count"], 1);
    assert_eq!(total, today["prompt_tokens"].as_i64().unwrap() + today["completion_tokens"].as_i64().unwrap());
    assert_eq!(usage["daily_token_quota"], 5000);
    assert_eq!(usage["remaining_tokens"].as_i64().unwrap(), 5000 - today["managed_tokens"].as_i64().unwrap());
    assert!(usage["quota_reset_time"].as_str().unwrap().ends_with("T00:00:00Z"), "{usage}");

    let page = client.get(web.url("/profile")).send().await.unwrap().text().await.unwrap();
    let date = today["date"].as_str().unwrap();
    let row = page.split(&format!("data-date=\"{date}\"")).nth(1).expect("today's row").split("</tr>").next().unwrap();
    assert!(row.contains(&format!(">{total}<")) && row.contains(">1<"), "{row}");
    let remaining = usage["remaining_tokens"].to_string();
    assert!(page.contains(&format!("left today: {remaining}")), "{page}");

    for days in ["0", "91", "a week"] {
        let bad = client.get(web.url("/api/usage")).query(&[("days", days)]).send().await.unwrap();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST, "{days}");
        assert_eq!(bad.json::<Value>().await.unwrap()["error"]["field"], "days");
    }
}

#[tokio::test]
async fn keys_are_checked_on_save_and_on_request() {
    let web = TestWeb::start().await;
    let client = web.browser();
    let csrf = web.register(&client, "tester").await;
    let page = client.get(web.url("/profile")).send().await.unwrap().text().await.unwrap();
    let page_csrf = field_in(&page, "csrf");

    // A key its server rejects is not saved, and the page says so at the key field.
    web.openai().reject_key("sk-refused-key-1234");
    let form = [("csrf", page_csrf.as_str()), ("api_key", "sk-refused-key-1234")];
    let refused = client.post(web.url("/profile/key")).form(&form).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.unwrap();
    let at_field = page.split("id=\"api-key-error\"").nth(1).unwrap().split("</p>").next().unwrap();
    assert!(at_field.contains("rejected"), "{at_field}");
    assert!(page.contains("No key saved."), "{page}");
    let put = client
        .put(web.url("/api/profile/openai/key"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"api_key": "sk-refused-key-1234"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::BAD_REQUEST);
    assert_eq!(put.json::<Value>().await.unwrap()["error"]["field"], "api_key");

    // A good key is saved without a warning.
    let put = client
        .put(web.url("/api/profile/openai/key"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"api_key": "sk-good-key-5678"}))
        .send()
        .await
        .unwrap();
    let profile: Value = put.json().await.unwrap();
    assert_eq!(profile["openai"]["key_mask"], "sk-...5678");
    assert_eq!(profile["warning"], "");

    // Later its server turns it down: the test button says so, and the key is marked.
    let accepted =
        client.post(web.url("/profile/key/test")).form(&[("csrf", page_csrf.as_str())]).send().await.unwrap();
    assert_eq!(accepted.status(), StatusCode::OK);
    assert!(accepted.text().await.unwrap().contains("data-result=\"accepted\""));
    web.openai().reject_key("sk-good-key-5678");
    let tested = client.post(web.url("/profile/key/test")).form(&[("csrf", page_csrf.as_str())]).send().await.unwrap();
    let page = tested.text().await.unwrap();
    let result = page.split("id=\"key-test\"").nth(1).expect("the test's result").split("</div>").next().unwrap();
    assert!(result.contains("data-result=\"rejected\"") && result.contains("rejected this key"), "{result}");
    assert!(page.contains("The saved key was rejected"), "{page}");
    let api = client.post(web.url("/api/profile/openai/key/test")).header("x-csrf-token", &csrf).send().await.unwrap();
    let api: Value = api.json().await.unwrap();
    assert_eq!(api["result"], "rejected");
    assert_eq!(api["profile"]["openai"]["key_state"], "rejected");
    assert!(api["detail"].as_str().unwrap().contains("rejected"));
}

#[tokio::test]
async fn a_key_that_cannot_be_checked_is_saved_with_a_warning() {
    let web = TestWeb::start().await;
    let client = web.browser();
    let csrf = web.register(&client, "offline").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let settings = json!({"mode": "byok", "base_url": format!("http://{closed}/v1")});
    let put = client.put(web.url("/api/profile/openai/settings")).header("x-csrf-token", &csrf).json(&settings);
    assert_eq!(put.send().await.unwrap().status(), StatusCode::OK);

    let page = client.get(web.url("/profile")).send().await.unwrap().text().await.unwrap();
    let form = [("csrf", field_in(&page, "csrf")), ("api_key", "sk-unchecked-key-4321".to_owned())];
    let saved = client.post(web.url("/profile/key")).form(&form).send().await.unwrap();
    assert_eq!(saved.status(), StatusCode::OK);
    let page = saved.text().await.unwrap();
    let warning = page.split("id=\"key-warning\"").nth(1).expect("a warning").split("</p>").next().unwrap();
    assert!(warning.contains("could not be checked") && warning.contains(&closed.to_string()), "{warning}");
    assert!(page.contains("sk-...4321"), "the key is saved all the same");
}

#[tokio::test]
async fn a_person_chats_in_the_browser_and_starts_over() {
    let Some(browser) = Browser::start_with_lang("en").await else { return };
    let web = with_platform_key().await;
    let reply = "Streaming works: here is a reply written piece by piece.";
    web.openai().set_reply(reply);
    // Slow enough to see the message before the reply.
    web.openai().set_delay(Duration::from_millis(700));
    let email = format!("chat.{}@example.com", crate::helpers::uuid());

    let result = run(&browser, "chat", async {
        browser.goto(&web.url("/register")).await?;
        browser.fill("input[name=display_name]", "Chatty").await?;
        browser.fill("input[name=email]", &email).await?;
        browser.fill("input[name=password]", "a long enough passphrase").await?;
        browser.submit_form("form[action='/register']").await?;
        browser.wait_for("form.logout").await?;
        browser.click("nav a[href='/chat']").await?;
        browser.wait_for("#chat-form").await?;
        let url = browser.current_url().await?;

        browser.fill("#chat-form textarea", "Is streaming on?").await?;
        browser.click("#chat-form button[type=submit]").await?;
        // The message shows at once, with the send button off until the reply is in.
        assert_eq!(browser.text("#messages li.user .text").await?, "Is streaming on?");
        let button = browser.wait_for("#chat-form button[type=submit]").await?;
        assert_eq!(button.prop("disabled").await?.as_deref(), Some("true"));
        browser.wait_for("#messages li.assistant[data-id]").await?;
        assert_eq!(browser.text("#messages li.assistant .text").await?, reply);
        assert_eq!(browser.current_url().await?, url, "no reload");
        assert_eq!(button.prop("disabled").await?.as_deref(), Some("false"));
        let textarea = browser.wait_for("#chat-form textarea").await?;
        assert_eq!(textarea.prop("value").await?.as_deref(), Some(""));

        // Enter sends as well; the page after a reload shows the same conversation.
        textarea.send_keys("Second one\u{E007}").await?;
        browser.wait_for("#messages li.assistant:nth-of-type(4)[data-id]").await?;
        browser.goto(&url).await?;
        assert_eq!(browser.text("#messages li:nth-of-type(3) .text").await?, "Second one");

        // "New conversation" empties the history without a reload.
        browser.click("#chat-reset button").await?;
        browser.wait_for("#chat-empty:not([hidden])").await?;
        let left = browser.client().find_all(fantoccini::Locator::Css("#messages li")).await?;
        assert!(left.is_empty());
        browser.goto(&url).await?;
        browser.wait_for("#chat-empty:not([hidden])").await?;
        Ok(())
    })
    .await;
    browser.close().await;
    result.unwrap();
    assert_eq!(web.openai().chat_calls(), 2);
}

#[tokio::test]
async fn a_reply_reads_as_formatted_text_with_nothing_active_and_the_persons_message_stays_plain() {
    let web = with_platform_key().await;
    let reply = "Here is **the plan**:\n\n- first\n- second\n\n```sh\necho 1 < 2\n```\n\n\
                 <script>alert(1)</script> <img src=x onerror=alert(2)> [go](javascript:alert(3))";
    web.openai().set_reply(reply);
    let client = web.browser();
    let csrf = web.register(&client, "reader").await;
    let events = stream(&web, &client, &csrf, "Use **stars** and <b>tags</b>", "message-md").await;

    // The stored reply's event carries the reply as safe HTML; the person's message has none.
    let (_, stored) = events.last().unwrap();
    let html = stored["html"].as_str().expect("the reply's HTML");
    assert!(html.contains("<strong>the plan</strong>") && html.contains("<li>first</li>"), "{html}");
    assert!(html.contains(r#"<pre><code class="language-sh">echo 1 &lt; 2"#), "{html}");
    assert!(events[0].1.get("html").is_none(), "{:?}", events[0]);

    let page = client.get(web.url("/chat")).send().await.unwrap().text().await.unwrap();
    let start = page.find(r#"<li class="message assistant""#).expect("the reply on the page");
    let item = &page[start..start + page[start..].find("</ol>").expect("the end of the list")];
    assert!(item.contains(r#"<div class="text markdown"><p>Here is <strong>the plan</strong>:</p>"#), "{item}");
    assert!(item.contains("<ul>") && item.contains("<pre><code"), "{item}");
    // Every tag left, with its attributes: none runs or loads anything.
    for tag in item.split('<').skip(1).map(|rest| rest.split('>').next().unwrap_or_default()) {
        let name = tag.split_whitespace().next().unwrap_or_default();
        assert!(!["script", "img", "iframe"].contains(&name), "<{tag}> in {item}");
        assert!(!tag.contains(" on") && !tag.contains("javascript:"), "<{tag}> in {item}");
    }
    assert!(page.contains("Use **stars** and &lt;b&gt;tags&lt;/b&gt;"), "the person's own message stays plain text");
}

#[tokio::test]
async fn in_the_browser_a_reply_renders_as_markdown_and_nothing_in_it_runs() {
    let Some(browser) = Browser::start_with_lang("en").await else { return };
    let web = with_platform_key().await;
    let reply = "A **bold** claim:\n\n1. one\n2. two\n\n```\ncode here\n```\n\n\
                 <script>window.__hit = 'script'</script> <img src=x onerror=\"window.__hit = 'img'\"> \
                 <a href=\"#\" onclick=\"window.__hit = 'click'\">raw link</a> [go](javascript:window.__hit='link')";
    web.openai().set_reply(reply);
    // Nothing of the reply may leave an element or a script behind it in the conversation.
    let inert = "return [window.__hit === undefined, \
                 document.querySelectorAll('#messages script, #messages img, #messages [onerror], #messages [onclick], \
                 #messages a[href^=\"javascript\"]').length]";

    let result = run(&browser, "markdown", async {
        browser.sign_up(web.url("").trim_end_matches('/'), "Reader").await?;
        browser.goto(&web.url("/chat")).await?;
        browser.fill("#chat-form textarea", "Format this").await?;
        browser.click("#chat-form button[type=submit]").await?;
        browser.wait_for("#messages li.assistant[data-id] .text strong").await?;
        assert_eq!(browser.text("#messages li.assistant .text strong").await?, "bold");
        browser.wait_for("#messages li.assistant .text ol li").await?;
        browser.wait_for("#messages li.assistant pre + button.copy-code").await?;
        let streamed = browser.client().execute(inert, Vec::new()).await?;
        assert_eq!(streamed, serde_json::json!([true, 0]), "after the stream");
        // The same after a reload, from the page the server rendered.
        browser.goto(&web.url("/chat")).await?;
        browser.wait_for("#messages li.assistant .text strong").await?;
        let reloaded = browser.client().execute(inert, Vec::new()).await?;
        assert_eq!(reloaded, serde_json::json!([true, 0]), "after a reload");
        assert_eq!(browser.text("#messages li.user .text").await?, "Format this");
        Ok(())
    })
    .await;
    browser.close().await;
    result.unwrap();
}
