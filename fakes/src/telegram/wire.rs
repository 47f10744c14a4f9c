//! The JSON the Bot API sends, shaped as Telegram shapes it: users, chats, messages and the
//! `{"ok": ...}` envelope every answer comes in.

use axum::Json;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// A successful answer: `{"ok":true,"result":...}`, with the `description` some methods add.
pub(super) fn ok(result: Value, description: Option<&str>) -> Response {
    let mut body = json!({"ok": true, "result": result});
    if let Some(description) = description {
        body["description"] = json!(description);
    }
    Json(body).into_response()
}

/// A refusal: `{"ok":false,"error_code":N,"description":"..."}`, with `parameters` when given.
pub(super) fn error(status: StatusCode, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
    if let Some(parameters) = parameters {
        body["parameters"] = parameters;
    }
    (status, Json(body)).into_response()
}

/// What the proxy in front of the Bot API answers when the API behind it is down: HTML, not JSON.
pub(super) fn bad_gateway() -> Response {
    let page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad \
                Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n";
    (StatusCode::BAD_GATEWAY, [(header::CONTENT_TYPE, "text/html")], page).into_response()
}

/// A human user as messages name their sender.
pub(super) fn person(id: i64, username: &str) -> Value {
    json!({"id": id, "is_bot": false, "first_name": username, "username": username, "language_code": "en"})
}

/// A bot as messages name it when it is the sender.
pub(super) fn bot(id: i64, username: &str) -> Value {
    json!({"id": id, "is_bot": true, "first_name": username, "username": username})
}

/// What `getMe` answers: the bot as a user, and what it may do.
pub(super) fn me(id: i64, username: &str) -> Value {
    let mut me = bot(id, username);
    let extra = json!({
        "can_join_groups": true,
        "can_read_all_group_messages": false,
        "supports_inline_queries": false,
        "can_connect_to_business": false,
        "has_main_web_app": false
    });
    merge(&mut me, extra);
    me
}

/// A private chat: Telegram names it after the other person.
pub(super) fn private_chat(id: i64, username: &str) -> Value {
    json!({"id": id, "first_name": username, "username": username, "type": "private"})
}

/// A basic group.
pub(super) fn group_chat(id: i64, title: &str) -> Value {
    json!({"id": id, "title": title, "type": "group"})
}

/// A chat the fake knows nothing about but its id: private when positive, as user ids are, a
/// group otherwise.
pub(super) fn unknown_chat(id: i64) -> Value {
    if id > 0 {
        json!({"id": id, "first_name": "User", "type": "private"})
    } else {
        json!({"id": id, "title": "Group", "type": "group"})
    }
}

/// A message without content; the caller adds `text`, `photo` and so on.
pub(super) fn message(message_id: i64, from: Value, chat: Value, date: u64) -> Value {
    json!({"message_id": message_id, "from": from, "chat": chat, "date": date})
}

/// Adds `text` and the entities Telegram finds in it on its own: bot commands and @mentions.
pub(super) fn add_text(message: &mut Value, text: &str) {
    message["text"] = json!(text);
    let entities = entities(text);
    if !entities.is_empty() {
        message["entities"] = Value::Array(entities);
    }
}

/// Three sizes of one photo, smallest first, as Telegram lists them.
pub(super) fn photo_sizes(seed: i64) -> Value {
    let sizes = [(90, 67, 1_253), (320, 240, 14_892), (800, 600, 61_304)];
    let sizes = sizes.iter().enumerate().map(|(index, (width, height, bytes))| {
        json!({
            "file_id": format!("AgACAgIAAxkBAAI{seed:08}{index}AAFake"),
            "file_unique_id": format!("AQAD{seed:06}{index}"),
            "file_size": bytes,
            "width": width,
            "height": height
        })
    });
    Value::Array(sizes.collect())
}

/// The bot commands (`/start`, `/help@some_bot`) and @mentions in `text`, with offsets and lengths
/// in UTF-16 code units as Telegram counts them.
fn entities(text: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut offset = 0; // in UTF-16 units, of chars[index]
    let mut index = 0;
    while index < chars.len() {
        let at_word_start = index == 0 || !is_word(chars[index - 1]);
        let kind = match chars[index] {
            '/' if index == 0 || chars[index - 1].is_whitespace() => Some("bot_command"),
            '@' if at_word_start => Some("mention"),
            _ => None,
        };
        if let Some(kind) = kind {
            let mut end = index + 1;
            while end < chars.len() && is_word(chars[end]) {
                end += 1;
            }
            // A command may name its bot: `/start@some_bot`.
            if kind == "bot_command" && end > index + 1 && chars.get(end) == Some(&'@') {
                let mut bot_end = end + 1;
                while bot_end < chars.len() && is_word(chars[bot_end]) {
                    bot_end += 1;
                }
                if bot_end > end + 1 {
                    end = bot_end;
                }
            }
            if end > index + 1 {
                let length: usize = chars[index..end].iter().map(|c| c.len_utf16()).sum();
                found.push(json!({"offset": offset, "length": length, "type": kind}));
                offset += length;
                index = end;
                continue;
            }
        }
        offset += chars[index].len_utf16();
        index += 1;
    }
    found
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn merge(target: &mut Value, extra: Value) {
    if let (Value::Object(target), Value::Object(extra)) = (target, extra) {
        target.extend(extra);
    }
}

/// The kind of an update: the one field beside `update_id`, e.g. `message`.
pub(super) fn update_kind(update: &Value) -> Option<&str> {
    update.as_object()?.keys().map(String::as_str).find(|key| *key != "update_id")
}

/// The largest body read, as large as the Bot API's uploads.
const MAX_BODY_BYTES: usize = 50 * 1024 * 1024;

/// The parameters of a call, merged from the query and a JSON, form-urlencoded or multipart body
/// (the body wins). Form, multipart and query values stay strings, as sent; the accessors below
/// read both. A multipart file is recorded as `{"file_name": ..., "size": ...}`. A body that
/// cannot be read adds nothing: the method then finds its parameters missing.
pub(super) async fn read_params(query: Option<&str>, request: Request) -> Map<String, Value> {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    let content_type = content_type.unwrap_or_default().to_owned();
    if !content_type.starts_with("multipart/form-data") {
        let body = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await.unwrap_or_default();
        return params(query, &content_type, &body);
    }
    let mut params = params(query, "", &[]);
    let Ok(mut multipart) = Multipart::from_request(request, &()).await else { return params };
    while let Ok(Some(field)) = multipart.next_field().await {
        let Some(name) = field.name().map(str::to_owned) else { continue };
        let file_name = field.file_name().map(str::to_owned);
        let Ok(bytes) = field.bytes().await else { break };
        let value = match file_name {
            Some(file_name) => json!({"file_name": file_name, "size": bytes.len()}),
            None => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
        };
        params.insert(name, value);
    }
    params
}

/// [`read_params`] for a body already read.
fn params(query: Option<&str>, content_type: &str, body: &[u8]) -> Map<String, Value> {
    let mut params = Map::new();
    let pairs = |bytes: &[u8]| serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes).unwrap_or_default();
    for (key, value) in pairs(query.unwrap_or_default().as_bytes()) {
        params.insert(key, Value::String(value));
    }
    if content_type.starts_with("application/json") {
        if let Ok(Value::Object(fields)) = serde_json::from_slice(body) {
            params.extend(fields);
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        for (key, value) in pairs(body) {
            params.insert(key, Value::String(value));
        }
    }
    params
}

/// An integer sent as a JSON number or as a string.
pub(super) fn int(params: &Map<String, Value>, key: &str) -> Option<i64> {
    match params.get(key)? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A string; a number is taken as its decimal text, as Telegram takes it.
pub(super) fn string(params: &Map<String, Value>, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A boolean sent as JSON or as the text `true`/`1`; absent is false.
pub(super) fn boolean(params: &Map<String, Value>, key: &str) -> bool {
    match params.get(key) {
        Some(Value::Bool(value)) => *value,
        Some(Value::String(text)) => text == "true" || text == "1",
        _ => false,
    }
}

/// An object or array, sent as JSON or, in a form or query, as JSON-serialised text.
pub(super) fn structured(params: &Map<String, Value>, key: &str) -> Option<Value> {
    match params.get(key)? {
        Value::String(text) => serde_json::from_str(text).ok(),
        Value::Null => None,
        value => Some(value.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_commands_and_mentions_with_utf16_offsets() {
        let found = entities("/start@assist_bot hi 😀 @alice, mail a@b.c");
        assert_eq!(
            found,
            vec![
                json!({"offset": 0, "length": 17, "type": "bot_command"}),
                json!({"offset": 24, "length": 6, "type": "mention"}),
            ]
        );
        assert!(entities("1/2 and @ alone").is_empty());
    }

    #[test]
    fn reads_params_from_query_form_and_json() {
        let form = params(Some("offset=-1"), "application/x-www-form-urlencoded", b"chat_id=42&text=hi+there");
        assert_eq!(int(&form, "offset"), Some(-1));
        assert_eq!(int(&form, "chat_id"), Some(42));
        assert_eq!(string(&form, "text").as_deref(), Some("hi there"));
        let json = params(None, "application/json", br#"{"chat_id":42,"reply_parameters":{"message_id":7}}"#);
        assert_eq!(int(&json, "chat_id"), Some(42));
        assert_eq!(structured(&json, "reply_parameters").unwrap()["message_id"], 7);
        let form = params(None, "application/x-www-form-urlencoded", b"allowed_updates=%5B%22message%22%5D");
        assert_eq!(structured(&form, "allowed_updates"), Some(json!(["message"])));
    }
}
