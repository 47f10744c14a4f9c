//! A person's conversations as a library: listed newest first or found by word, started,
//! renamed, given a model or instructions, read page by page, and deleted.

use super::{BROWSER_CHAT, Conversations};
use crate::{
    error::{Error, Result},
    pagination::{decode_token, encode_token, page_size, paginate},
    store::{
        conversations::{ChannelFilter, ConversationChanges, ConversationRecord, search_words},
        messages::MessageRecord,
        now_millis,
    },
};

/// The longest title a person may give, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// The longest instructions a conversation may have, in characters.
pub const MAX_INSTRUCTIONS_CHARS: usize = 4000;
/// The longest search query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// The most words of a query searched for.
const MAX_QUERY_WORDS: usize = 16;
/// Characters of a matching message shown before its first match.
const SNIPPET_BEFORE: usize = 60;
/// Characters of a matching message shown from its first match on.
const SNIPPET_AFTER: usize = 140;
/// Messages read per query when a whole conversation is read.
const READ_ALL_BATCH: i64 = 500;

/// One conversation of a list, with the message that matched a query.
#[derive(Clone, Debug)]
pub struct Listed {
    /// The conversation.
    pub conversation: ConversationRecord,
    /// The newest matching message; `None` without a query.
    pub matched: Option<Matched>,
}

/// A message a search found.
#[derive(Clone, Debug)]
pub struct Matched {
    /// Its id.
    pub message_id: String,
    /// Its role.
    pub role: String,
    /// The words around its first match.
    pub snippet: String,
    /// When it was stored, in Unix milliseconds.
    pub create_time: i64,
}

/// What a person asks for a new or changed conversation; `None` leaves a field as it is.
pub type Changes = ConversationChanges;

impl Conversations {
    /// A page of the user's conversations in `filter`; with a `query`, those with a message
    /// holding all of its words.
    pub async fn list(
        &self,
        user_id: &str,
        filter: &str,
        query: &str,
        size: i32,
        token: &str,
    ) -> Result<(Vec<Listed>, String)> {
        let filter = parse_filter(filter)?;
        let limit = page_size(size)?;
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::invalid(
                "query",
                format!("at most {MAX_QUERY_CHARS} characters; search for fewer words"),
            ));
        }
        let mut words = search_words(query);
        words.truncate(MAX_QUERY_WORDS);
        if words.is_empty() {
            let list = format!("conversations {filter:?}");
            let after = decode_token(&list, token)?.map(|last| parse_position(&last)).transpose()?;
            let after = after.as_ref().map(|(time, id)| (*time, id.as_str()));
            let mut found = self.store.list_conversations(user_id, &filter, after, limit + 1).await?;
            let more = i64::try_from(found.len()).unwrap_or(i64::MAX) > limit;
            found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let next = match found.last() {
                Some(last) if more => encode_token(&list, &format!("{}:{}", last.update_time, last.id)),
                _ => String::new(),
            };
            let page = found.into_iter().map(|conversation| Listed { conversation, matched: None }).collect();
            return Ok((page, next));
        }
        let list = format!("search {filter:?} {}", words.join(" "));
        let offset = match decode_token(&list, token)? {
            Some(offset) => offset.parse::<i64>().map_err(|_| bad_token())?,
            None => 0,
        };
        let mut hits = self.store.search_conversations(user_id, &words, &filter, offset, limit + 1).await?;
        let more = i64::try_from(hits.len()).unwrap_or(i64::MAX) > limit;
        hits.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = if more { encode_token(&list, &(offset + limit).to_string()) } else { String::new() };
        let page = hits
            .into_iter()
            .map(|hit| Listed {
                matched: Some(Matched {
                    message_id: hit.match_id,
                    role: hit.match_role,
                    snippet: snippet(&hit.match_text, &words),
                    create_time: hit.match_time,
                }),
                conversation: hit.conversation,
            })
            .collect();
        Ok((page, next))
    }

    /// Starts a new browser conversation for the user: the latest one from now on.
    pub async fn create(&self, user_id: &str, changes: &Changes) -> Result<ConversationRecord> {
        let changes = self.checked(user_id, changes).await?;
        let chat = self.store.chat(user_id, None, BROWSER_CHAT, now_millis()).await?;
        Ok(self.store.new_conversation(user_id, &chat, &changes, now_millis()).await?)
    }

    /// Changes the user's conversation `id`.
    pub async fn update(&self, user_id: &str, id: &str, changes: &Changes) -> Result<ConversationRecord> {
        let changes = self.checked(user_id, changes).await?;
        self.store.update_conversation(user_id, id, &changes).await?.ok_or_else(|| not_found(id))
    }

    /// Deletes the user's conversation `id` and its messages.
    pub async fn delete(&self, user_id: &str, id: &str) -> Result<()> {
        // A reply being written would be stored into a conversation that is gone.
        self.writing.stop(id);
        if self.store.delete_conversation(user_id, id).await? { Ok(()) } else { Err(not_found(id)) }
    }

    /// A page of the messages of the user's conversation `id`, newest first.
    pub async fn list_messages(
        &self,
        user_id: &str,
        id: &str,
        size: i32,
        token: &str,
    ) -> Result<(ConversationRecord, Vec<MessageRecord>, String)> {
        let conversation = self.conversation(user_id, id).await?;
        let limit = page_size(size)?;
        let list = format!("messages {id}");
        let before = decode_token(&list, token)?;
        let found = self.store.conversation_messages(id, before.as_deref(), limit + 1).await?;
        let (page, token) = paginate(found, limit, &list, |message| &message.id);
        Ok((conversation, page, token))
    }

    /// Every message of the user's conversation `id`, oldest first.
    pub async fn read_all(&self, user_id: &str, id: &str) -> Result<(ConversationRecord, Vec<MessageRecord>)> {
        let conversation = self.conversation(user_id, id).await?;
        let mut messages = Vec::new();
        loop {
            let before = messages.last().map(|message: &MessageRecord| message.id.clone());
            let batch = self.store.conversation_messages(id, before.as_deref(), READ_ALL_BATCH).await?;
            let done = i64::try_from(batch.len()).unwrap_or(i64::MAX) < READ_ALL_BATCH;
            messages.extend(batch);
            if done {
                break;
            }
        }
        messages.reverse();
        Ok((conversation, messages))
    }

    /// Every conversation of the user in every channel, most recently active first, each with
    /// all its messages, oldest first.
    pub async fn read_everything(&self, user_id: &str) -> Result<Vec<(ConversationRecord, Vec<MessageRecord>)>> {
        let mut conversations: Vec<ConversationRecord> = Vec::new();
        loop {
            let after = conversations.last().map(|last| (last.update_time, last.id.as_str()));
            let batch = self.store.list_conversations(user_id, &ChannelFilter::Any, after, READ_ALL_BATCH).await?;
            let done = i64::try_from(batch.len()).unwrap_or(i64::MAX) < READ_ALL_BATCH;
            conversations.extend(batch);
            if done {
                break;
            }
        }
        let mut everything = Vec::with_capacity(conversations.len());
        for conversation in conversations {
            everything.push(self.read_all(user_id, &conversation.id).await?);
        }
        Ok(everything)
    }

    /// `changes` with the title and instructions trimmed, each checked, and the model one the
    /// user may choose.
    async fn checked(&self, user_id: &str, changes: &Changes) -> Result<Changes> {
        let title = changes.title.as_deref().map(str::trim);
        if let Some(title) = title {
            if title.chars().count() > MAX_TITLE_CHARS {
                return Err(Error::invalid(
                    "conversation.title",
                    format!("at most {MAX_TITLE_CHARS} characters; shorten the title"),
                ));
            }
            if title.chars().any(char::is_control) {
                return Err(Error::invalid(
                    "conversation.title",
                    "a title is one line of text without control characters",
                ));
            }
        }
        let instructions = changes.instructions.as_deref().map(str::trim);
        if instructions.is_some_and(|text| text.chars().count() > MAX_INSTRUCTIONS_CHARS) {
            return Err(Error::invalid(
                "conversation.instructions",
                format!("at most {MAX_INSTRUCTIONS_CHARS} characters; shorten the instructions"),
            ));
        }
        let model = changes.model.as_deref().map(str::trim);
        if let Some(model) = model {
            self.check_model(user_id, "conversation.model", model).await?;
        }
        Ok(Changes {
            title: title.map(str::to_owned),
            model: model.map(str::to_owned),
            instructions: instructions.map(str::to_owned),
        })
    }
}

/// The channel a conversation is in, as people know it: "browser", or its resource's name
/// (its provider's where it has none).
pub fn channel_name(conversation: &ConversationRecord) -> String {
    match (&conversation.resource_id, conversation.resource_name.as_str()) {
        (None, _) => "browser".into(),
        (Some(_), "") => conversation.provider.clone(),
        (Some(_), name) => format!("{} \"{name}\"", conversation.provider),
    }
}

/// A list filter: empty, `channel = "<browser or provider>"` or `resource_id = "<id>"`.
pub fn parse_filter(text: &str) -> Result<ChannelFilter> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(ChannelFilter::Any);
    }
    let bad = || {
        Error::invalid(
            "filter",
            "write channel = \"browser\", channel = \"<provider>\" (such as \"telegram\") or resource_id = \"<id>\", \
             or leave it empty",
        )
    };
    let (field, value) = text.split_once('=').ok_or_else(bad)?;
    let value = value.trim().strip_prefix('"').and_then(|rest| rest.strip_suffix('"')).ok_or_else(bad)?;
    if value.is_empty() || value.contains('"') {
        return Err(bad());
    }
    match (field.trim(), value) {
        ("channel", "browser") => Ok(ChannelFilter::Browser),
        ("channel", provider) => Ok(ChannelFilter::Provider(provider.to_owned())),
        ("resource_id", id) => Ok(ChannelFilter::Resource(id.to_owned())),
        _ => Err(bad()),
    }
}

/// The words of `text` around the first of `words` in it (the start when none is found as
/// written), cut between words, with an ellipsis where text was left out.
pub fn snippet(text: &str, words: &[String]) -> String {
    let mut start = 0;
    let first = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .find(|word| words.iter().any(|wanted| word.to_lowercase() == *wanted));
    if let Some(word) = first {
        start = word.as_ptr() as usize - text.as_ptr() as usize;
    }
    let from = back_chars(text, start, SNIPPET_BEFORE);
    let to = forward_chars(text, start, SNIPPET_AFTER);
    // Cut between words where the window does not reach the text's ends.
    let from = if from == 0 { 0 } else { text[from..start].find(' ').map_or(from, |space| from + space + 1) };
    let to = if to == text.len() { to } else { text[start..to].rfind(' ').map_or(to, |space| start + space) };
    let mut shown = text[from..to].split_whitespace().collect::<Vec<_>>().join(" ");
    if from > 0 {
        shown.insert(0, '…');
    }
    if to < text.len() {
        shown.push('…');
    }
    shown
}

/// The byte index `count` characters before `at`, or 0.
fn back_chars(text: &str, at: usize, count: usize) -> usize {
    text[..at].char_indices().rev().nth(count.saturating_sub(1)).map_or(0, |(index, _)| index)
}

/// The byte index `count` characters after `at`, or the end.
fn forward_chars(text: &str, at: usize, count: usize) -> usize {
    text[at..].char_indices().nth(count).map_or(text.len(), |(index, _)| at + index)
}

/// A list position from a page token: "<update time>:<id>".
fn parse_position(text: &str) -> Result<(i64, String)> {
    let (time, id) = text.split_once(':').ok_or_else(bad_token)?;
    Ok((time.parse().map_err(|_| bad_token())?, id.to_owned()))
}

fn bad_token() -> Error {
    Error::invalid("page_token", "the page token is not one this list gave out; start again without it")
}

fn not_found(id: &str) -> Error {
    Error::NotFound(format!("no conversation {id:?}; list your conversations to find its id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_name_a_channel_or_a_resource() {
        assert_eq!(parse_filter("").unwrap(), ChannelFilter::Any);
        assert_eq!(parse_filter("channel = \"browser\"").unwrap(), ChannelFilter::Browser);
        assert_eq!(parse_filter("channel=\"telegram\"").unwrap(), ChannelFilter::Provider("telegram".into()));
        assert_eq!(parse_filter(" resource_id = \"abc\" ").unwrap(), ChannelFilter::Resource("abc".into()));
        for bad in ["channel", "channel = browser", "owner = \"x\"", "channel = \"\"", "channel = \"a\"b\""] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_snippet_shows_the_words_around_the_first_match() {
        let words = vec!["rome".to_owned()];
        assert_eq!(snippet("A trip to Rome in May", &words), "A trip to Rome in May");
        let long = format!("{} Rome {}", "before ".repeat(30), "after ".repeat(40));
        let shown = snippet(&long, &words);
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        assert!(shown.contains("Rome") && shown.chars().count() <= SNIPPET_BEFORE + SNIPPET_AFTER + 2, "{shown}");
        assert!(!shown.contains("befor ") && !shown.contains(" afte…"), "cut between words: {shown}");
        let russian = vec!["рим".to_owned()];
        assert_eq!(snippet("Поездка в Рим весной", &russian), "Поездка в Рим весной");
        assert_eq!(snippet("no match here", &words), "no match here");
    }
}
