//! The JSON API of conversations: each with its own memory, listed and searched in English and
//! Russian, renamed and given a model or instructions, answered again, stopped, exported as a
//! download and deleted; none of it another person's to see; the browser chat writing into the
//! latest conversation. Scripts call it with a personal API token, pages with the session
//! cookie and the CSRF token. Core asks the fake OpenAI API that [`TestWeb`] starts.

use std::time::Duration;

use assistchat_fakes::Behaviour;
use reqwest::{Method, RequestBuilder, StatusCode, header};
use serde_json::{Value, json};

use crate::{
    helpers::{TestWeb, events},
    resources::User,
};

const PLATFORM_KEY: &str = "sk-platform-test";

/// Core with a platform key, so that managed users get replies from the fake, and with
/// `configure` applied after.
async fn with_platform_key(configure: impl FnOnce(&mut assistchat_core::Config)) -> TestWeb {
    TestWeb::start_with(|config| {
        config.openai_api_key = Some(PLATFORM_KEY.into());
        configure(config);
    })
    .await
}

/// A script calling with a personal API token, without cookies or CSRF tokens.
struct Script {
    client: reqwest::Client,
    token: String,
}

impl Script {
    /// Registers `name` in a browser and makes the API token the script uses.
    async fn register(web: &TestWeb, name: &str) -> Self {
        let user = User::register(web, name).await;
        let created = user.json(web, "POST", "/api/profile/tokens", Some(json!({"name": "script"})), 201).await;
        Self { client: reqwest::Client::new(), token: created["token"].as_str().unwrap().to_owned() }
    }

    fn request(&self, web: &TestWeb, method: &str, path: &str) -> RequestBuilder {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        self.client.request(method, web.url(path)).bearer_auth(&self.token)
    }

    /// Sends a request, expecting `expected` and a JSON body (or none).
    async fn json(&self, web: &TestWeb, method: &str, path: &str, body: Option<Value>, expected: u16) -> Value {
        let mut request = self.request(web, method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status.as_u16(), expected, "{method} {path}: {text}");
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() }
    }

    /// A new conversation with these fields; returns its id.
    async fn create(&self, web: &TestWeb, fields: Value) -> String {
        let created = self.json(web, "POST", "/api/conversations", Some(fields), 201).await;
        created["id"].as_str().unwrap().to_owned()
    }

    /// The events of a streamed answer: a message sent, or a reply regenerated.
    async fn stream(&self, web: &TestWeb, path: &str, body: Value) -> Vec<(String, Value)> {
        let response = self.request(web, "POST", path).json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        assert_eq!(response.headers()["x-accel-buffering"], "no");
        events(&response.text().await.unwrap())
    }

    /// Sends `text` in the conversation `id`; returns the stream's events.
    async fn send(&self, web: &TestWeb, id: &str, text: &str) -> Vec<(String, Value)> {
        self.stream(web, &format!("/api/conversations/{id}/messages"), json!({ "text": text })).await
    }

    /// The conversations listed for `query` (such as `?q=rome`).
    async fn list(&self, web: &TestWeb, query: &str) -> Vec<Value> {
        let listed = self.json(web, "GET", &format!("/api/conversations{query}"), None, 200).await;
        listed["conversations"].as_array().unwrap().clone()
    }

    /// The texts of a conversation's messages, newest first.
    async fn texts(&self, web: &TestWeb, id: &str) -> Vec<String> {
        let listed = self.json(web, "GET", &format!("/api/conversations/{id}/messages"), None, 200).await;
        listed["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect()
    }
}

/// The ids of listed conversations, in order.
fn ids(listed: &[Value]) -> Vec<&str> {
    listed.iter().map(|conversation| conversation["id"].as_str().unwrap()).collect()
}

/// The stored reply at the end of a stream, checked to be one.
fn reply(events: &[(String, Value)]) -> &Value {
    let (name, reply) = events.last().expect("events");
    assert_eq!(name, "reply", "{events:?}");
    reply
}

/// What the person said in the last request the model got, oldest first.
fn asked(web: &TestWeb) -> Vec<String> {
    let request = web.openai().requests().pop().expect("a request to the model");
    let said = request.messages().iter().filter(|message| message["role"] == "user");
    said.map(|message| message["content"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn each_conversation_keeps_its_own_memory_and_the_latest_is_listed_first() {
    let web = with_platform_key(|_| {}).await;
    let ann = Script::register(&web, "ann").await;
    let created = ann.json(&web, "POST", "/api/conversations", Some(json!({"title": "Trip"})), 201).await;
    assert_eq!(
        (&created["title"], &created["channel"], &created["message_count"]),
        (&json!("Trip"), &json!("browser"), &json!(0))
    );
    assert!(created["create_time"].as_str().unwrap().ends_with('Z'), "{created}");
    let trip = created["id"].as_str().unwrap().to_owned();
    let bread = ann.create(&web, json!({})).await;

    let events = ann.send(&web, &trip, "We fly to Zanzibar in June").await;
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names.first(), Some(&"user_message"), "{events:?}");
    let deltas: Vec<&str> =
        events.iter().filter(|(name, _)| name == "delta").map(|(_, data)| data["text"].as_str().unwrap()).collect();
    assert!(deltas.len() > 1, "the reply comes in pieces: {events:?}");
    let (_, question) = &events[0];
    assert_eq!((&question["role"], &question["text"]), (&json!("user"), &json!("We fly to Zanzibar in June")));
    assert_eq!(question["conversation_id"], trip.as_str());
    assert!(question.get("html").is_none(), "a person's message stays plain: {question}");
    let stored = reply(&events);
    assert_eq!(stored["role"], "assistant");
    assert_eq!(stored["text"], "You said: We fly to Zanzibar in June");
    assert_eq!(deltas.concat(), stored["text"].as_str().unwrap(), "the pieces make the stored reply");
    assert!(stored["html"].as_str().unwrap().starts_with("<p>You said: We fly to Zanzibar in June</p>"), "{stored}");
    assert_eq!((&stored["model"], &stored["stopped"]), (&json!("gpt-4o-mini"), &json!(false)));
    assert!(stored["completion_tokens"].as_i64().unwrap() > 0, "{stored}");

    ann.send(&web, &bread, "Сколько месить тесто для хлеба").await;
    ann.send(&web, &trip, "And then Naples").await;
    assert_eq!(asked(&web), ["We fly to Zanzibar in June", "And then Naples"], "the trip's memory, not the bread's");
    ann.send(&web, &bread, "А если тесто липкое").await;
    assert_eq!(asked(&web), ["Сколько месить тесто для хлеба", "А если тесто липкое"]);

    // The most recently active first; the untitled one is titled by its first words.
    let listed = ann.list(&web, "").await;
    assert_eq!(ids(&listed), [bread.as_str(), trip.as_str()]);
    assert_eq!((&listed[1]["title"], &listed[1]["message_count"]), (&json!("Trip"), &json!(4)));
    assert_eq!(listed[0]["title"], "Сколько месить тесто для хлеба");
    assert!(listed.iter().all(|conversation| conversation.get("match").is_none()), "no query, no match");
    ann.send(&web, &trip, "One more thing").await;
    assert_eq!(ids(&ann.list(&web, "").await), [trip.as_str(), bread.as_str()]);

    // Messages newest first, by pages.
    let page = ann.json(&web, "GET", &format!("/api/conversations/{trip}/messages?page_size=4"), None, 200).await;
    let messages = page["messages"].as_array().unwrap();
    let texts: Vec<&str> = messages.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["You said: One more thing", "One more thing", "You said: And then Naples", "And then Naples"]);
    assert!(messages[0]["html"].as_str().unwrap().starts_with("<p>You said"), "{page}");
    let token = page["next_page_token"].as_str().unwrap();
    assert!(!token.is_empty(), "{page}");
    let older =
        ann.request(&web, "GET", &format!("/api/conversations/{trip}/messages")).query(&[("page_token", token)]);
    let older: Value = older.send().await.unwrap().json().await.unwrap();
    assert_eq!(older["messages"][1]["text"], "We fly to Zanzibar in June", "{older}");
    assert_eq!(older["next_page_token"], "");
}

#[tokio::test]
async fn a_search_finds_only_the_conversations_with_the_word_in_english_and_russian() {
    let web = with_platform_key(|_| {}).await;
    let ann = Script::register(&web, "ann").await;
    let trip = ann.create(&web, json!({"title": "Holiday"})).await;
    let bread = ann.create(&web, json!({"title": "Хлеб"})).await;
    ann.send(&web, &trip, "Which museums should we see in Zanzibar?").await;
    ann.send(&web, &bread, "Поезд в Новосибирск уходит вечером").await;

    let found = ann.list(&web, "?q=zanzibar").await;
    assert_eq!(ids(&found), [trip.as_str()], "{found:?}");
    let matched = &found[0]["match"];
    assert!(matched["snippet"].as_str().unwrap().contains("Zanzibar"), "{matched}");
    assert_eq!(matched["role"], "assistant", "the newest matching message: the reply repeating it");
    assert!(!matched["message_id"].as_str().unwrap().is_empty() && matched["create_time"].is_string(), "{matched}");
    assert_eq!(found[0]["title"], "Holiday", "the conversation's fields beside its match");

    let found = ann.list(&web, "?q=%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D0%B8%D0%B1%D0%B8%D1%80%D1%81%D0%BA").await;
    assert_eq!(ids(&found), [bread.as_str()], "новосибирск: {found:?}");
    assert!(found[0]["match"]["snippet"].as_str().unwrap().contains("Новосибирск"), "{found:?}");
    assert!(ann.list(&web, "?q=naples").await.is_empty());

    // By channel; a value that would bend core's filter is refused by its name.
    assert_eq!(ann.list(&web, "?channel=browser").await.len(), 2);
    assert!(ann.list(&web, "?channel=telegram").await.is_empty());
    assert!(ann.list(&web, "?resource_id=no-such-resource").await.is_empty());
    for (query, field) in [("?channel=browser%22%20or%20%22x", "channel"), ("?resource_id=a%5C", "resource_id")] {
        let refused = ann.json(&web, "GET", &format!("/api/conversations{query}"), None, 400).await;
        assert_eq!(refused["error"]["field"], field, "{query}: {refused}");
    }
}

#[tokio::test]
async fn a_conversation_is_renamed_and_asks_the_model_and_instructions_it_chose() {
    let web = with_platform_key(|config| config.managed_models = vec!["big-model".into()]).await;
    let ann = Script::register(&web, "ann").await;
    let models = ann.json(&web, "GET", "/api/models", None, 200).await;
    assert_eq!(
        models,
        json!({"models": [{"id": "big-model", "default": false}, {"id": "gpt-4o-mini", "default": true}]})
    );
    let id = ann.create(&web, json!({})).await;
    let path = format!("/api/conversations/{id}");

    let changed = json!({"title": "Поездка", "model": "big-model", "instructions": "Answer like a pirate."});
    let patched = ann.json(&web, "PATCH", &path, Some(changed), 200).await;
    assert_eq!((&patched["title"], &patched["model"]), (&json!("Поездка"), &json!("big-model")), "{patched}");
    assert_eq!(patched["instructions"], "Answer like a pirate.");
    let events = ann.send(&web, &id, "hello").await;
    assert_eq!(reply(&events)["model"], "big-model");
    let request = web.openai().requests().pop().unwrap();
    assert_eq!(request.model(), Some("big-model"), "the model chosen was asked");
    assert!(request.messages()[0]["content"].as_str().unwrap().contains("pirate"), "{:?}", request.messages());

    // Only the fields sent change; a model not offered is refused by its name.
    let renamed = ann.json(&web, "PATCH", &path, Some(json!({"title": "Rome"})), 200).await;
    assert_eq!((&renamed["title"], &renamed["model"]), (&json!("Rome"), &json!("big-model")), "{renamed}");
    let refused = ann.json(&web, "PATCH", &path, Some(json!({"model": "gpt-imaginary"})), 400).await;
    assert_eq!((&refused["error"]["code"], &refused["error"]["field"]), (&json!("invalid_argument"), &json!("model")));
    assert!(refused["error"]["message"].as_str().unwrap().contains("big-model"), "says what to choose: {refused}");
    let refused = ann.json(&web, "POST", "/api/conversations", Some(json!({"model": "gpt-imaginary"})), 400).await;
    assert_eq!(refused["error"]["field"], "model");
    let nothing = ann.json(&web, "PATCH", &path, Some(json!({})), 400).await;
    assert_eq!(nothing["error"]["code"], "bad_request");
    let unknown = ann.json(&web, "PATCH", &path, Some(json!({"channel": "telegram"})), 400).await;
    assert!(unknown["error"]["message"].as_str().unwrap().contains("channel"), "{unknown}");
    let kept = ann.json(&web, "GET", &path, None, 200).await;
    assert_eq!((&kept["title"], &kept["model"]), (&json!("Rome"), &json!("big-model")), "nothing lost: {kept}");
    assert_eq!((&kept["message_count"], &kept["current"]), (&json!(2), &json!(true)));
}

#[tokio::test]
async fn a_reply_is_regenerated_in_place_and_one_being_written_is_stopped() {
    let web = with_platform_key(|_| {}).await;
    let ann = Script::register(&web, "ann").await;
    let id = ann.create(&web, json!({})).await;
    let regenerate = format!("/api/conversations/{id}/regenerate");
    let stop = format!("/api/conversations/{id}/stop");

    web.openai().push(Behaviour::Reply("first try".into()));
    ann.send(&web, &id, "a poem please").await;
    web.openai().push(Behaviour::Reply("second **try**".into()));
    let regenerated = ann.stream(&web, &regenerate, json!({})).await;
    assert_eq!(regenerated[0].0, "user_message");
    assert_eq!(regenerated[0].1["text"], "a poem please");
    assert_eq!(reply(&regenerated)["text"], "second **try**");
    assert!(reply(&regenerated)["html"].as_str().unwrap().contains("<strong>try</strong>"), "{regenerated:?}");
    assert_eq!(ann.texts(&web, &id).await, ["second **try**", "a poem please"], "the new reply replaced the old");
    assert_eq!(asked(&web), ["a poem please"]);

    // Nothing is being written: stopping says so.
    assert_eq!(ann.json(&web, "POST", &stop, None, 200).await, json!({"stopped": false}));

    // A reply that never ends is stopped while it comes, and kept as far as it came.
    web.openai().set_reply("endless words");
    web.openai().push(Behaviour::Trickle { every: Duration::from_millis(20) });
    let path = format!("/api/conversations/{id}/messages");
    let mut response = ann.request(&web, "POST", &path).json(&json!({"text": "talk"})).send().await.unwrap();
    let mut body = String::new();
    while body.matches("delta").count() < 2 {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk()).await.expect("pieces come");
        body.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("the stream goes on")));
    }
    assert_eq!(ann.json(&web, "POST", &stop, None, 200).await, json!({"stopped": true}));
    body.push_str(&tokio::time::timeout(Duration::from_secs(10), response.text()).await.unwrap().unwrap());
    let stopped = events(&body);
    let kept = reply(&stopped);
    assert_eq!(kept["stopped"], true, "{kept}");
    assert!(kept["text"].as_str().unwrap().starts_with("endless"), "{kept}");
    assert_eq!(ann.texts(&web, &id).await[0], kept["text"].as_str().unwrap());
}

#[tokio::test]
async fn an_export_is_a_download_of_every_message_named_in_any_language() {
    let web = with_platform_key(|_| {}).await;
    let ann = Script::register(&web, "ann").await;
    let id = ann.create(&web, json!({"title": "Поездка в Рим"})).await;
    ann.send(&web, &id, "first *question*").await;
    ann.send(&web, &id, "second question").await;
    let export = |format: &str| ann.request(&web, "GET", &format!("/api/conversations/{id}/export{format}")).send();

    let file = export("").await.unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(file.headers()[header::CACHE_CONTROL], "no-store");
    let disposition = file.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().to_owned();
    assert_eq!(
        disposition,
        "attachment; filename=\"conversation.json\"; \
         filename*=UTF-8''%D0%BF%D0%BE%D0%B5%D0%B7%D0%B4%D0%BA%D0%B0-%D0%B2-%D1%80%D0%B8%D0%BC.json"
    );
    let json: Value = file.json().await.unwrap();
    assert_eq!(json["title"], "Поездка в Рим");
    let texts: Vec<&str> = json["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(
        texts,
        ["first *question*", "You said: first *question*", "second question", "You said: second question"]
    );

    ann.json(&web, "PATCH", &format!("/api/conversations/{id}"), Some(json!({"title": "Trip to Rome"})), 200).await;
    let file = export("?format=markdown").await.unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert!(file.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/markdown"));
    let disposition = file.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().to_owned();
    assert_eq!(disposition, "attachment; filename=\"trip-to-rome.md\"; filename*=UTF-8''trip-to-rome.md");
    let markdown = file.text().await.unwrap();
    assert!(markdown.starts_with("# Trip to Rome\n"), "{markdown}");
    assert!(markdown.contains("You said: second question"), "{markdown}");

    let refused = export("?format=pdf").await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"]["field"], "format");
}

#[tokio::test]
async fn a_deleted_conversation_is_gone_and_another_person_reaches_none() {
    let web = with_platform_key(|_| {}).await;
    let ann = Script::register(&web, "ann").await;
    let bob = Script::register(&web, "bob").await;
    let gone = ann.create(&web, json!({"title": "Spices"})).await;
    let kept = ann.create(&web, json!({"title": "Kept"})).await;
    ann.send(&web, &gone, "saffron and cardamom").await;
    ann.send(&web, &kept, "nothing about it").await;
    let calls = web.openai().chat_calls();

    // Bob reaches none of ann's, whatever the route: 404 as JSON, the stream never started.
    let path = format!("/api/conversations/{gone}");
    let routes = [
        ("GET", path.clone(), None),
        ("PATCH", path.clone(), Some(json!({"title": "Mine"}))),
        ("DELETE", path.clone(), None),
        ("GET", format!("{path}/messages"), None),
        ("POST", format!("{path}/messages"), Some(json!({"text": "hijack"}))),
        ("POST", format!("{path}/regenerate"), None),
        ("POST", format!("{path}/stop"), None),
        ("GET", format!("{path}/export"), None),
        ("GET", format!("{path}/export?format=markdown"), None),
    ];
    for (method, route, body) in routes {
        let refused = bob.json(&web, method, &route, body, 404).await;
        assert_eq!(refused["error"]["code"], "not_found", "{method} {route}");
    }
    assert!(bob.list(&web, "").await.is_empty());
    assert!(bob.list(&web, "?q=saffron").await.is_empty());
    assert_eq!(web.openai().chat_calls(), calls, "bob asked the model nothing");
    assert_eq!(ann.json(&web, "GET", &path, None, 200).await["title"], "Spices", "nothing of ann's changed");

    assert_eq!(ann.json(&web, "DELETE", &path, None, 204).await, Value::Null);
    let missing = ann.json(&web, "GET", &path, None, 404).await;
    assert_eq!(missing["error"]["code"], "not_found");
    ann.json(&web, "GET", &format!("{path}/messages"), None, 404).await;
    ann.json(&web, "DELETE", &path, None, 404).await;
    assert!(ann.list(&web, "?q=saffron").await.is_empty(), "its messages are no longer found");
    assert_eq!(ids(&ann.list(&web, "").await), [kept.as_str()]);
}

#[tokio::test]
async fn the_chat_writes_into_the_latest_browser_conversation() {
    let web = with_platform_key(|_| {}).await;
    let ann = User::register(&web, "ann").await;
    let chat = |text: &str| {
        ann.client
            .post(web.url("/api/chat/messages"))
            .header("x-csrf-token", &ann.csrf)
            .json(&json!({ "text": text }))
            .send()
    };
    let events = events(&chat("hello from the chat").await.unwrap().text().await.unwrap());
    assert_eq!(reply(&events)["text"], "You said: hello from the chat");

    let listed = ann.json(&web, "GET", "/api/conversations?channel=browser", None, 200).await;
    let latest = &listed["conversations"][0];
    assert_eq!((&latest["message_count"], &latest["current"]), (&json!(2), &json!(true)), "{listed}");
    let first = latest["id"].as_str().unwrap().to_owned();
    let messages = ann.json(&web, "GET", &format!("/api/conversations/{first}/messages"), None, 200).await;
    assert_eq!(messages["messages"][1]["text"], "hello from the chat", "{messages}");

    // A new conversation is the one the chat continues.
    let created = ann.json(&web, "POST", "/api/conversations", Some(json!({})), 201).await;
    let second = created["id"].as_str().unwrap().to_owned();
    chat("and now here").await.unwrap().text().await.unwrap();
    let listed = ann.json(&web, "GET", "/api/conversations?channel=browser", None, 200).await;
    let listed = listed["conversations"].as_array().unwrap();
    assert_eq!(ids(listed), [second.as_str(), first.as_str()]);
    assert_eq!((&listed[0]["message_count"], &listed[1]["message_count"]), (&json!(2), &json!(2)));
    assert_eq!(asked(&web), ["and now here"], "the new conversation starts afresh");
}

#[tokio::test]
async fn changes_made_with_the_session_need_the_csrf_token() {
    let web = with_platform_key(|_| {}).await;
    let ann = User::register(&web, "ann").await;
    let created = ann.json(&web, "POST", "/api/conversations", Some(json!({"title": "Mine"})), 201).await;
    let path = format!("/api/conversations/{}", created["id"].as_str().unwrap());

    let changes = [
        ("POST", "/api/conversations".to_owned(), json!({})),
        ("PATCH", path.clone(), json!({"title": "Forged"})),
        ("DELETE", path.clone(), Value::Null),
        ("POST", format!("{path}/messages"), json!({"text": "forged"})),
        ("POST", format!("{path}/regenerate"), Value::Null),
        ("POST", format!("{path}/stop"), Value::Null),
    ];
    for (method, route, body) in changes {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let forged = ann.client.request(method.clone(), web.url(&route)).json(&body).send().await.unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "{method} {route}");
        assert_eq!(forged.json::<Value>().await.unwrap()["error"]["code"], "forbidden", "{method} {route}");
    }
    assert_eq!(web.openai().chat_calls(), 0);
    let listed = ann.json(&web, "GET", "/api/conversations", None, 200).await;
    assert_eq!(listed["conversations"].as_array().unwrap().len(), 1, "nothing created: {listed}");
    assert_eq!(listed["conversations"][0]["title"], "Mine", "nothing changed");

    // Reading needs no token; without any credential nothing is read or sent.
    let read = ann.client.get(web.url(&format!("{path}/export"))).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let anonymous = web.browser();
    let listed = anonymous.get(web.url("/api/conversations")).send().await.unwrap();
    assert_eq!(listed.status(), StatusCode::UNAUTHORIZED);
    let sent = anonymous.post(web.url(&format!("{path}/messages"))).json(&json!({"text": "x"})).send().await.unwrap();
    assert_eq!(sent.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(sent.json::<Value>().await.unwrap()["error"]["code"], "unauthenticated", "JSON, not a stream");
}
