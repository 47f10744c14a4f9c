//! A conversation as a file: JSON with every message and its metadata, for programs, or
//! Markdown, for people.

use serde::Serialize;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::library::channel_name;
use crate::store::{conversations::ConversationRecord, messages::MessageRecord};

/// A file's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON: the conversation and its messages with their metadata.
    Json,
    /// Markdown to read.
    Markdown,
}

/// A written export.
#[derive(Clone, Debug)]
pub struct File {
    /// A name for it, from the title.
    pub name: String,
    /// Its media type.
    pub content_type: &'static str,
    /// Its content.
    pub content: Vec<u8>,
}

/// A conversation with its messages as its JSON export writes it, also in a person's archive of
/// all their data.
#[derive(Serialize)]
pub struct JsonExport<'a> {
    id: &'a str,
    title: &'a str,
    channel: String,
    resource_id: Option<&'a str>,
    resource_name: &'a str,
    peer_name: &'a str,
    model: &'a str,
    instructions: &'a str,
    create_time: String,
    update_time: String,
    messages: Vec<JsonMessage<'a>>,
}

#[derive(Serialize)]
struct JsonMessage<'a> {
    id: &'a str,
    role: &'a str,
    text: &'a str,
    sender_name: &'a str,
    create_time: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    model: &'a str,
    #[serde(skip_serializing_if = "is_false")]
    stopped: bool,
    #[serde(skip_serializing_if = "is_zero")]
    prompt_tokens: i64,
    #[serde(skip_serializing_if = "is_zero")]
    completion_tokens: i64,
    #[serde(skip_serializing_if = "str::is_empty")]
    failure_detail: &'a str,
}

fn is_false(value: &bool) -> bool {
    !value
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

/// `conversation` with its `messages` (oldest first) as a file of `format`.
pub fn export(conversation: &ConversationRecord, messages: &[MessageRecord], format: Format) -> File {
    let stem = file_stem(&conversation.title);
    match format {
        Format::Json => File {
            name: format!("{stem}.json"),
            content_type: "application/json",
            content: serde_json::to_vec_pretty(&json(conversation, messages)).unwrap_or_default(),
        },
        Format::Markdown => File {
            name: format!("{stem}.md"),
            content_type: "text/markdown; charset=utf-8",
            content: markdown(conversation, messages).into_bytes(),
        },
    }
}

/// `conversation` with its `messages` (oldest first), as JSON writes them.
pub fn json<'a>(conversation: &'a ConversationRecord, messages: &'a [MessageRecord]) -> JsonExport<'a> {
    JsonExport {
        id: &conversation.id,
        title: &conversation.title,
        channel: if conversation.resource_id.is_some() { conversation.provider.clone() } else { "browser".into() },
        resource_id: conversation.resource_id.as_deref(),
        resource_name: &conversation.resource_name,
        peer_name: &conversation.peer_name,
        model: &conversation.model,
        instructions: &conversation.instructions,
        create_time: rfc3339(conversation.create_time),
        update_time: rfc3339(conversation.update_time),
        messages: messages
            .iter()
            .map(|message| JsonMessage {
                id: &message.id,
                role: &message.role,
                text: &message.text,
                sender_name: &message.sender_name,
                create_time: rfc3339(message.create_time),
                model: &message.model,
                stopped: message.is_stopped(),
                prompt_tokens: message.prompt_tokens,
                completion_tokens: message.completion_tokens,
                failure_detail: if message.reply_id.is_some() { "" } else { &message.failure_detail },
            })
            .collect(),
    }
}

fn markdown(conversation: &ConversationRecord, messages: &[MessageRecord]) -> String {
    let title = if conversation.title.is_empty() { "Conversation" } else { &conversation.title };
    let mut out = format!("# {title}\n\n");
    let mut about = vec![format!("Channel: {}", channel_name(conversation))];
    if !conversation.peer_name.is_empty() {
        about.push(format!("with {}", conversation.peer_name));
    }
    about.push(format!("started {}", rfc3339(conversation.create_time)));
    out.push_str(&format!("_{}_\n\n", about.join(" · ")));
    for message in messages {
        let who = match (message.is_reply(), message.sender_name.as_str()) {
            (true, _) if message.model.is_empty() => "Assistant".to_owned(),
            (true, _) => format!("Assistant ({})", message.model),
            (false, "") => "You".to_owned(),
            (false, name) => name.to_owned(),
        };
        out.push_str(&format!("## {who} · {}\n\n{}\n\n", rfc3339(message.create_time), message.text.trim_end()));
        if message.is_stopped() {
            out.push_str("_(stopped while it was written)_\n\n");
        }
        if !message.is_reply() && message.reply_id.is_none() && !message.failure_detail.is_empty() {
            out.push_str(&format!("_(no reply: {})_\n\n", message.failure_detail));
        }
    }
    out
}

/// A file name from a title: its letters and digits in lower case, words joined by hyphens.
fn file_stem(title: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(8)
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() { "conversation".into() } else { words.join("-") }
}

/// Unix milliseconds as RFC 3339 in UTC, the way every export writes times.
pub fn rfc3339(millis: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|time| time.format(&Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_come_from_titles() {
        assert_eq!(file_stem("Trip to Rome!"), "trip-to-rome");
        assert_eq!(file_stem("Поездка в Рим"), "поездка-в-рим");
        assert_eq!(file_stem("***"), "conversation");
    }
}
