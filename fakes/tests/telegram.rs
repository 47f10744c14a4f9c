//! The Telegram fake, checked twice: on the wire with reqwest, and through teloxide, the client
//! the Telegram edge uses, so a drift between the fake and that client's idea of the API shows
//! here.

use std::time::{Duration, Instant};

use assistchat_fakes::telegram::{Failure, FakeTelegram, GroupText, MAX_TEXT_UTF16, REFUSED_FORMATTING};
use serde_json::{Value, json};

const TOKEN: &str = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11";
const BOT: &str = "assist_bot";

/// Long enough for any honest answer on loopback.
const PATIENCE: Duration = Duration::from_secs(5);

async fn fake_with_bot() -> FakeTelegram {
    let fake = FakeTelegram::start().await;
    assert_eq!(fake.add_bot(TOKEN, BOT), 123_456);
    fake
}

mod wire {
    use super::*;

    async fn call(fake: &FakeTelegram, token: &str, method: &str, body: Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/bot{token}/{method}", fake.api_url()))
            .json(&body)
            .send()
            .await
            .expect("the fake answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON answer"))
    }

    #[tokio::test]
    async fn unknown_tokens_and_paths_are_refused_as_telegram_refuses_them() {
        let fake = fake_with_bot().await;
        let (status, body) = call(&fake, "999:nope", "getMe", json!({})).await;
        assert_eq!(status, 401);
        assert_eq!(body, json!({"ok": false, "error_code": 401, "description": "Unauthorized"}));

        let (status, body) = call(&fake, TOKEN, "noSuchMethod", json!({})).await;
        assert_eq!((status, body["description"].clone()), (404, json!("Not Found")));
        let response = reqwest::get(format!("{}/elsewhere", fake.api_url())).await.unwrap();
        assert_eq!(response.status(), 404);

        fake.revoke(TOKEN);
        assert_eq!(call(&fake, TOKEN, "getMe", json!({})).await.0, 401);
        let tokens: Vec<String> = fake.requests().into_iter().map(|request| request.token).collect();
        assert_eq!(tokens, ["999:nope", TOKEN, TOKEN]);
    }

    #[tokio::test]
    async fn form_and_query_parameters_are_read_like_json() {
        let fake = fake_with_bot().await;
        let url = format!("{}/bot{TOKEN}/sendMessage?parse_mode=HTML", fake.api_url());
        let response = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("chat_id=42&text=hi+there&reply_parameters=%7B%22message_id%22%3A5%7D")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["ok"], true);
        assert_eq!(body["result"]["text"], "hi there");
        assert_eq!(body["result"]["chat"]["id"], 42);
        assert_eq!(body["result"]["from"]["is_bot"], true);

        let sent = fake.sent(TOKEN);
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].chat_id, sent[0].text.as_str(), sent[0].reply_to), (42, "hi there", Some(5)));
        assert_eq!(sent[0].parse_mode.as_deref(), Some("HTML"));
        let recorded = &fake.calls("sendmessage")[0];
        assert_eq!(recorded.method, "sendMessage");
        assert_eq!(recorded.body["chat_id"], "42");

        fake.send_text(TOKEN, 42, 42, "alice", "one");
        let response = reqwest::get(format!("{}/bot{TOKEN}/getUpdates?limit=1", fake.api_url())).await.unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["result"][0]["message"]["text"], "one");
    }

    #[tokio::test]
    async fn multipart_fields_are_read_and_files_recorded_by_name_and_size() {
        let fake = fake_with_bot().await;
        let certificate = reqwest::multipart::Part::bytes(vec![b'x'; 10]).file_name("cert.pem");
        let form = reqwest::multipart::Form::new()
            .text("url", "https://example.com/hook")
            .text("drop_pending_updates", "true")
            .part("certificate", certificate);
        let url = format!("{}/bot{TOKEN}/setWebhook", fake.api_url());
        let response = reqwest::Client::new().post(url).multipart(form).send().await.unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"ok": true, "result": true, "description": "Webhook was set"}));
        assert_eq!(fake.webhook(TOKEN).unwrap().url, "https://example.com/hook");
        let recorded = fake.calls("setWebhook").remove(0);
        assert_eq!(recorded.body["certificate"], json!({"file_name": "cert.pem", "size": 10}));
    }

    #[tokio::test]
    async fn server_errors_look_like_telegrams() {
        let fake = fake_with_bot().await;
        fake.fail_next(TOKEN, "getMe", Failure::ServerError);
        fake.fail_next(TOKEN, "getMe", Failure::BadGateway);
        let (status, body) = call(&fake, TOKEN, "getMe", json!({})).await;
        assert_eq!(status, 500);
        assert_eq!(body, json!({"ok": false, "error_code": 500, "description": "Internal Server Error"}));
        let response = reqwest::get(format!("{}/bot{TOKEN}/getMe", fake.api_url())).await.unwrap();
        assert_eq!(response.status(), 502);
        assert!(response.text().await.unwrap().contains("<h1>502 Bad Gateway</h1>"));
        assert_eq!(call(&fake, TOKEN, "getMe", json!({})).await.0, 200);

        fake.fail_next(TOKEN, "getMe", Failure::Hangup);
        let hung_up = reqwest::get(format!("{}/bot{TOKEN}/getMe", fake.api_url())).await;
        assert!(hung_up.is_err(), "the connection closed without an answer");
    }

    #[tokio::test]
    async fn a_negative_offset_keeps_only_the_newest_updates() {
        let fake = fake_with_bot().await;
        let ids: Vec<i64> = (0..4).map(|n| fake.send_text(TOKEN, 42, 42, "alice", &format!("m{n}"))).collect();
        assert!(ids.windows(2).all(|pair| pair[1] == pair[0] + 1), "ids count up: {ids:?}");
        let (_, body) = call(&fake, TOKEN, "getUpdates", json!({"offset": -2})).await;
        let got: Vec<i64> =
            body["result"].as_array().unwrap().iter().map(|u| u["update_id"].as_i64().unwrap()).collect();
        assert_eq!(got, ids[2..]);
        assert_eq!(fake.pending_updates(TOKEN).len(), 2, "the older ones are forgotten");
    }

    #[tokio::test]
    async fn a_newer_get_updates_ends_a_waiting_one_with_a_conflict() {
        let fake = fake_with_bot().await;
        let first = {
            let url = format!("{}/bot{TOKEN}/getUpdates", fake.api_url());
            tokio::spawn(async move {
                let response = reqwest::Client::new().post(url).json(&json!({"timeout": 10})).send().await.unwrap();
                (response.status().as_u16(), response.json::<Value>().await.unwrap())
            })
        };
        // Let the first poll arrive and start waiting.
        while fake.calls("getUpdates").is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (status, _) = call(&fake, TOKEN, "getUpdates", json!({"timeout": 0})).await;
        assert_eq!(status, 200);
        let (status, body) = tokio::time::timeout(PATIENCE, first).await.expect("ended at once").unwrap();
        assert_eq!(status, 409);
        assert_eq!(
            body["description"],
            "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
        );
    }

    #[tokio::test]
    async fn allowed_updates_hold_until_changed() {
        let fake = fake_with_bot().await;
        fake.send_update(
            TOKEN,
            "callback_query",
            json!({"id": "1", "from": {"id": 42, "is_bot": false, "first_name": "a"}, "chat_instance": "1"}),
        );
        fake.send_update(TOKEN, "message_reaction", json!({}));
        let (_, body) = call(&fake, TOKEN, "getUpdates", json!({})).await;
        assert_eq!(body["result"].as_array().unwrap().len(), 1, "reactions are opt-in: {body}");
        let (_, body) = call(&fake, TOKEN, "getUpdates", json!({"allowed_updates": ["message"]})).await;
        assert_eq!(body["result"], json!([]), "the callback query is forgotten");
        fake.send_update(TOKEN, "callback_query", json!({}));
        let id = fake.send_text(TOKEN, 42, 42, "alice", "hi");
        let (_, body) = call(&fake, TOKEN, "getUpdates", json!({})).await;
        assert_eq!(body["result"][0]["update_id"], id, "the choice holds without allowed_updates");
        assert_eq!(body["result"].as_array().unwrap().len(), 1);
    }
}

mod client {
    use super::*;
    use teloxide::payloads::setters::*;
    use teloxide::prelude::Requester;
    use teloxide::types::{ChatAction, MessageEntityKind, MessageId, ParseMode, ReplyParameters, UpdateKind};
    use teloxide::update_listeners::{AsUpdateStream, polling_default};
    use teloxide::{ApiError, Bot, RequestError};
    use tokio_stream::StreamExt;

    fn bot(fake: &FakeTelegram, token: &str) -> Bot {
        Bot::new(token).set_api_url(reqwest::Url::parse(&fake.api_url()).unwrap())
    }

    fn message(update: &teloxide::types::Update) -> &teloxide::types::Message {
        match &update.kind {
            UpdateKind::Message(message) => message,
            other => panic!("not a message: {other:?}"),
        }
    }

    #[tokio::test]
    async fn get_me_names_the_bot_by_its_token() {
        let fake = fake_with_bot().await;
        let me = bot(&fake, TOKEN).get_me().await.unwrap();
        assert_eq!(me.id.0, 123_456);
        assert!(me.is_bot);
        assert_eq!(me.username(), BOT);
        assert!(me.can_join_groups);
        assert_eq!(fake.requests()[0].method, "GetMe", "teloxide names methods in its own case");
    }

    #[tokio::test]
    async fn a_long_poll_returns_as_soon_as_an_update_arrives() {
        let fake = fake_with_bot().await;
        let bot = bot(&fake, TOKEN);
        let started = Instant::now();
        let poll = tokio::spawn(async move { bot.get_updates().timeout(10).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let id = fake.send_text(TOKEN, 42, 42, "alice", "hello there");
        let updates = tokio::time::timeout(PATIENCE, poll).await.expect("answered at once").unwrap().unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(updates.len(), 1);
        assert_eq!(i64::from(updates[0].id.0), id);
        let message = message(&updates[0]);
        assert_eq!(message.text(), Some("hello there"));
        assert!(message.chat.is_private());
        assert_eq!(message.chat.id.0, 42);
        assert_eq!(message.chat.username(), Some("alice"));
        let from = message.from.as_ref().unwrap();
        assert_eq!((from.id.0, from.is_bot, from.username.as_deref()), (42, false, Some("alice")));
    }

    #[tokio::test]
    async fn a_long_poll_with_nothing_to_deliver_answers_empty_after_its_timeout() {
        let fake = fake_with_bot().await;
        let started = Instant::now();
        let updates = bot(&fake, TOKEN).get_updates().timeout(1).await.unwrap();
        assert!(updates.is_empty());
        assert!(started.elapsed() >= Duration::from_secs(1));
    }

    #[tokio::test]
    async fn updates_stay_until_an_offset_confirms_them() {
        let fake = fake_with_bot().await;
        let bot = bot(&fake, TOKEN);
        let first = fake.send_text(TOKEN, 42, 42, "alice", "one");
        let second = fake.send_text(TOKEN, 42, 42, "alice", "two");
        assert_eq!(second, first + 1);

        // A client that crashed before confirming gets them again.
        assert_eq!(bot.get_updates().await.unwrap().len(), 2);
        let again = bot.get_updates().limit(1).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(message(&again[0]).text(), Some("one"));

        let offset = i32::try_from(first + 1).unwrap();
        let rest = bot.get_updates().offset(offset).await.unwrap();
        assert_eq!(rest.iter().map(|update| i64::from(update.id.0)).collect::<Vec<_>>(), [second]);
        assert_eq!(fake.pending_updates(TOKEN).len(), 1);
        bot.get_updates().offset(offset + 1).await.unwrap();
        assert!(fake.pending_updates(TOKEN).is_empty());
    }

    #[tokio::test]
    async fn teloxides_polling_confirms_what_it_was_given() {
        let fake = fake_with_bot().await;
        let first = fake.send_text(TOKEN, 42, 42, "alice", "one");
        let second = fake.send_photo(TOKEN, 42, 42, "alice", None);
        let mut listener = polling_default(bot(&fake, TOKEN)).await;
        let mut stream = std::pin::pin!(listener.as_stream());
        let mut got = Vec::new();
        for _ in 0..2 {
            let update = tokio::time::timeout(PATIENCE, stream.next()).await.unwrap().unwrap().unwrap();
            got.push(i64::from(update.id.0));
        }
        assert_eq!(got, [first, second]);
        // The next poll confirms both, then waits; this test stops it there.
        let _ = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
        assert!(fake.pending_updates(TOKEN).is_empty());
        let last = fake.calls("getUpdates").pop().unwrap();
        assert_eq!(last.body["offset"], second + 1);
        assert_eq!(fake.calls("GetWebhookInfo").len(), 1, "polling checks for a webhook first");
    }

    #[tokio::test]
    async fn group_texts_carry_mentions_and_replies() {
        let fake = fake_with_bot().await;
        let bot = bot(&fake, TOKEN);
        let said = bot.send_message(teloxide::types::ChatId(-100), "Ask me anything").await.unwrap();
        assert!(said.chat.is_group(), "a chat first seen in a send is a group when negative");
        fake.send_group_text(
            TOKEN,
            GroupText {
                chat_id: -100,
                title: "Team",
                from_user_id: 7,
                from_username: "bob",
                text: "@assist_bot what is 2+2?",
                reply_to: Some(i64::from(said.id.0)),
            },
        );
        let updates = bot.get_updates().await.unwrap();
        let message = message(&updates[0]);
        assert!(message.chat.is_group());
        assert_eq!(message.chat.title(), Some("Team"));
        let entities = message.entities().unwrap();
        assert_eq!(
            (entities[0].kind.clone(), entities[0].offset, entities[0].length),
            (MessageEntityKind::Mention, 0, 11)
        );
        let replied = message.reply_to_message().expect("the reply embeds the bot's message");
        assert_eq!(replied.id, said.id);
        assert_eq!(replied.text(), Some("Ask me anything"));
        assert!(replied.from.as_ref().unwrap().is_bot);
    }

    #[tokio::test]
    async fn photos_arrive_without_text() {
        let fake = fake_with_bot().await;
        fake.send_photo(TOKEN, 42, 42, "alice", Some("look"));
        let updates = bot(&fake, TOKEN).get_updates().await.unwrap();
        let message = message(&updates[0]);
        assert_eq!(message.text(), None);
        assert_eq!(message.caption(), Some("look"));
        let photo = message.photo().expect("a photo");
        assert_eq!(photo.len(), 3);
        assert!(photo[0].width < photo[2].width, "smallest first");
    }

    #[tokio::test]
    async fn sent_messages_are_recorded_with_what_they_reply_to() {
        let fake = fake_with_bot().await;
        let bot = bot(&fake, TOKEN);
        fake.send_text(TOKEN, 42, 42, "alice", "hi");
        let asked = message(&bot.get_updates().await.unwrap()[0]).id;
        let waiter = tokio::spawn({
            let bot = bot.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                bot.send_message(teloxide::types::ChatId(42), "<b>hello</b>")
                    .parse_mode(ParseMode::Html)
                    .reply_parameters(ReplyParameters::new(asked))
                    .await
            }
        });
        let sent = fake.wait_for_sent(TOKEN, 1, PATIENCE).await;
        let reply = waiter.await.unwrap().unwrap();
        assert_eq!(reply.text(), Some("hello"), "the markup parsed, as Telegram parses it");
        assert_eq!(reply.reply_to_message().map(|replied| replied.id), Some(asked));
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].chat_id, sent[0].text.as_str()), (42, "<b>hello</b>"));
        assert_eq!(sent[0].reply_to, Some(i64::from(asked.0)));
        assert_eq!(sent[0].message_id, i64::from(reply.id.0));
        assert_eq!(sent[0].parse_mode.as_deref(), Some("HTML"));
        assert_eq!(reply.id, MessageId(asked.0 + 1), "message ids count up per chat");

        let started = Instant::now();
        assert_eq!(fake.wait_for_sent(TOKEN, 2, Duration::from_millis(200)).await.len(), 1);
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_text_over_the_limit_is_refused_as_too_long() {
        let fake = fake_with_bot().await;
        let bot = bot(&fake, TOKEN);
        let chat = teloxide::types::ChatId(42);
        bot.send_message(chat, "é".repeat(MAX_TEXT_UTF16)).await.expect("the limit counts UTF-16 units");
        let refused = bot.send_message(chat, "a".repeat(MAX_TEXT_UTF16 + 1)).await.unwrap_err();
        assert!(matches!(refused, RequestError::Api(ApiError::MessageIsTooLong)), "{refused:?}");
        assert_eq!(fake.sent(TOKEN).len(), 1);
    }

    #[tokio::test]
    async fn html_is_parsed_into_text_and_entities_and_the_limit_counts_the_parsed_text() {
        let fake = fake_with_bot().await;
        let bot = bot(&fake, TOKEN);
        let chat = teloxide::types::ChatId(42);
        let html = "😀 <b>bold</b> <pre><code class=\"language-rust\">x &lt; 1</code></pre>";
        let reply = bot.send_message(chat, html).parse_mode(ParseMode::Html).await.unwrap();
        assert_eq!(reply.text(), Some("😀 bold x < 1"));
        let kinds: Vec<_> = reply.entities().unwrap().iter().map(|entity| (entity.offset, entity.length)).collect();
        assert_eq!(kinds, [(3, 4), (8, 5)], "offsets in UTF-16 units");
        assert!(
            matches!(&reply.entities().unwrap()[1].kind, MessageEntityKind::Pre { language: Some(l) } if l == "rust")
        );
        let sent = fake.sent(TOKEN);
        assert_eq!((sent[0].text.as_str(), sent[0].plain_text.as_str()), (html, "😀 bold x < 1"));
        assert_eq!(sent[0].entities[0].kind, "bold");

        // Markup is not counted, but every UTF-16 unit of the text is: an emoji is two.
        let long = format!("<b>{}</b>", "a".repeat(MAX_TEXT_UTF16));
        bot.send_message(chat, long).parse_mode(ParseMode::Html).await.expect("markup is not counted");
        let refused = bot.send_message(chat, "😀".repeat(MAX_TEXT_UTF16 / 2 + 1)).await.unwrap_err();
        assert!(matches!(refused, RequestError::Api(ApiError::MessageIsTooLong)), "{refused:?}");
    }

    #[tokio::test]
    async fn markup_telegram_cannot_parse_is_refused_and_a_refusal_can_be_scripted() {
        let fake = fake_with_bot().await;
        let bot = bot(&fake, TOKEN);
        let chat = teloxide::types::ChatId(42);
        for bad in ["<b>open", "<p>para</p>", "a & b", "<img src=x onerror=alert(1)>"] {
            let refused = bot.send_message(chat, bad).parse_mode(ParseMode::Html).await.unwrap_err();
            assert!(matches!(refused, RequestError::Api(ApiError::CantParseEntities(_))), "{bad}: {refused:?}");
        }
        bot.send_message(chat, "<b>open").await.expect("without a parse mode, markup is text");

        fake.refuse_formatting_once(TOKEN);
        let refused = bot.send_message(chat, "<b>fine</b>").parse_mode(ParseMode::Html).await.unwrap_err();
        assert!(
            matches!(&refused, RequestError::Api(ApiError::CantParseEntities(why)) if why == REFUSED_FORMATTING),
            "{refused:?}"
        );
        bot.send_message(chat, "<b>fine</b>").parse_mode(ParseMode::Html).await.expect("refused once only");
        assert_eq!(fake.sent(TOKEN).len(), 2);
    }

    #[tokio::test]
    async fn chat_actions_are_recorded_and_can_be_made_to_fail() {
        let fake = fake_with_bot().await;
        let bot = bot(&fake, TOKEN);
        let chat = teloxide::types::ChatId(42);
        bot.send_chat_action(chat, ChatAction::Typing).await.unwrap();
        fake.fail_always(TOKEN, "sendChatAction", Failure::BadRequest("Bad Request: chat not found".into()));
        for _ in 0..2 {
            let refused = bot.send_chat_action(chat, ChatAction::Typing).await.unwrap_err();
            assert!(matches!(refused, RequestError::Api(ApiError::ChatNotFound)), "{refused:?}");
        }
        fake.stop_failing(TOKEN, "sendChatAction");
        bot.send_chat_action(chat, ChatAction::Typing).await.unwrap();
        assert_eq!(fake.chat_action_count(TOKEN, 42), 2, "refused ones fail before they are recorded");
        assert_eq!(fake.chat_actions(TOKEN)[0].action, "typing");
        assert_eq!(fake.calls("sendChatAction").len(), 4);
    }

    #[tokio::test]
    async fn refusals_parse_as_teloxides_errors() {
        let fake = fake_with_bot().await;
        let bot = bot(&fake, TOKEN);

        let unknown = self::bot(&fake, "42:unknown").get_me().await.unwrap_err();
        assert!(matches!(unknown, RequestError::Api(ApiError::InvalidToken)), "{unknown:?}");

        fake.fail_next(TOKEN, "getUpdates", Failure::TooManyRequests { retry_after_secs: 3 });
        fake.fail_next(TOKEN, "getUpdates", Failure::Conflict);
        fake.fail_next(TOKEN, "getUpdates", Failure::Unauthorized);
        let limited = bot.get_updates().await.unwrap_err();
        assert!(matches!(limited, RequestError::RetryAfter(wait) if wait.seconds() == 3), "{limited:?}");
        let conflict = bot.get_updates().await.unwrap_err();
        assert!(matches!(conflict, RequestError::Api(ApiError::TerminatedByOtherGetUpdates)), "{conflict:?}");
        let unauthorized = bot.get_updates().await.unwrap_err();
        assert!(matches!(unauthorized, RequestError::Api(ApiError::InvalidToken)), "{unauthorized:?}");
        assert!(bot.get_updates().await.unwrap().is_empty(), "each failure plays once");

        fake.fail_next(TOKEN, "sendMessage", Failure::Forbidden("Forbidden: bot was blocked by the user".into()));
        let blocked = bot.send_message(teloxide::types::ChatId(42), "hi").await.unwrap_err();
        assert!(matches!(blocked, RequestError::Api(ApiError::BotBlocked)), "{blocked:?}");

        fake.revoke(TOKEN);
        let revoked = bot.get_me().await.unwrap_err();
        assert!(matches!(revoked, RequestError::Api(ApiError::InvalidToken)), "{revoked:?}");
    }

    #[tokio::test]
    async fn a_webhook_blocks_get_updates_until_deleted() {
        let fake = fake_with_bot().await;
        let bot = bot(&fake, TOKEN);
        fake.send_text(TOKEN, 42, 42, "alice", "queued");

        let plain = bot.set_webhook(reqwest::Url::parse("http://example.com/hook").unwrap()).await.unwrap_err();
        assert!(matches!(plain, RequestError::Api(ApiError::Unknown(ref text)) if text.contains("HTTPS")), "{plain:?}");
        let url = reqwest::Url::parse("https://example.com/hook").unwrap();
        bot.set_webhook(url.clone()).secret_token("s3cret".to_owned()).await.unwrap();
        let webhook = fake.webhook(TOKEN).unwrap();
        assert_eq!(
            (webhook.url.as_str(), webhook.secret_token.as_deref()),
            ("https://example.com/hook", Some("s3cret"))
        );

        let refused = bot.get_updates().await.unwrap_err();
        let RequestError::Api(ApiError::Unknown(text)) = refused else { panic!("{refused:?}") };
        assert!(text.starts_with("Conflict: can't use getUpdates method while webhook is active"), "{text}");

        fake.set_webhook_error(TOKEN, "Wrong response from the webhook: 502 Bad Gateway");
        let info = bot.get_webhook_info().await.unwrap();
        assert_eq!(info.url, Some(url));
        assert!(!info.has_custom_certificate);
        assert_eq!(info.pending_update_count, 1);
        assert_eq!(info.last_error_message.as_deref(), Some("Wrong response from the webhook: 502 Bad Gateway"));
        assert!(info.last_error_date.is_some());

        bot.delete_webhook().drop_pending_updates(true).await.unwrap();
        assert_eq!(fake.webhook(TOKEN), None);
        assert!(bot.get_updates().await.unwrap().is_empty(), "the pending update was dropped");
        assert_eq!(bot.get_webhook_info().await.unwrap().url, None);
    }
}
