//! The `chats` and `conversations` tables: every channel's chats, and the conversations each
//! holds (one per reset), with their titles, models and instructions.

use sqlx::FromRow;

use super::{Backend, Store, StoreError, new_id};

/// One chat of one channel.
#[derive(Clone, Debug, FromRow)]
pub struct ChatRecord {
    /// The chat's id.
    pub id: String,
    /// The number of its current conversation: grows with every reset.
    pub conversation: i64,
}

/// One conversation, with the channel it is in.
#[derive(Clone, Debug, FromRow)]
pub struct ConversationRecord {
    /// The conversation's id.
    pub id: String,
    /// Its owner.
    pub user_id: String,
    /// The chat it is in.
    pub chat_id: String,
    /// Its number within the chat.
    pub number: i64,
    /// Its title; empty until the first exchange titles it.
    pub title: String,
    /// How the title came: [`TITLE_BY_PERSON`], [`TITLE_BY_MODEL`], [`TITLE_FROM_WORDS`], or empty.
    pub title_source: String,
    /// The model asked; empty for the owner's default.
    pub model: String,
    /// Instructions for the model; empty for the channel's own or the platform's.
    pub instructions: String,
    /// The person on the other side, as the channel names them.
    pub peer_name: String,
    /// How many messages it holds.
    pub message_count: i64,
    /// When it was created, in Unix milliseconds.
    pub create_time: i64,
    /// When a message was last added, in Unix milliseconds.
    pub update_time: i64,
    /// The resource of its channel; `None` for the browser.
    pub resource_id: Option<String>,
    /// The chat within the channel, as its edge names it.
    pub chat_key: String,
    /// The number of the chat's current conversation: this one's when they are equal.
    pub current_number: i64,
    /// The provider of the resource; empty for the browser.
    pub provider: String,
    /// The name of the resource; empty for the browser.
    pub resource_name: String,
}

impl ConversationRecord {
    /// Whether it is its chat's current conversation, which new messages of the channel join.
    pub fn is_current(&self) -> bool {
        self.number == self.current_number
    }
}

/// A title the person gave.
pub const TITLE_BY_PERSON: &str = "person";
/// A title the model suggested from the first exchange.
pub const TITLE_BY_MODEL: &str = "model";
/// A title made of the first words, when the model gave none.
pub const TITLE_FROM_WORDS: &str = "words";

/// Which conversations a list holds, by channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ChannelFilter {
    /// Every channel's.
    #[default]
    Any,
    /// The browser's only.
    Browser,
    /// Those of one provider's resources, such as "telegram".
    Provider(String),
    /// Those of one resource.
    Resource(String),
}

/// A conversation a search found, with its newest matching message.
#[derive(Clone, Debug, FromRow)]
pub struct Hit {
    /// The conversation.
    #[sqlx(flatten)]
    pub conversation: ConversationRecord,
    /// The matching message's id.
    pub match_id: String,
    /// Its role.
    pub match_role: String,
    /// Its text.
    pub match_text: String,
    /// When it was stored.
    pub match_time: i64,
}

/// What may change in a conversation; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ConversationChanges {
    /// A title the person gives.
    pub title: Option<String>,
    /// The model; empty for the default.
    pub model: Option<String>,
    /// The instructions; empty for the channel's own.
    pub instructions: Option<String>,
}

const CONVERSATION_COLUMNS: &str = "v.id, v.user_id, v.chat_id, v.number, v.title, v.title_source, v.model, \
     v.instructions, v.peer_name, v.message_count, v.create_time, v.update_time, ch.resource_id, ch.chat_key, \
     ch.conversation AS current_number, COALESCE(r.provider, '') AS provider, COALESCE(r.name, '') AS resource_name";
const CONVERSATION_TABLES: &str =
    "conversations v JOIN chats ch ON ch.id = v.chat_id LEFT JOIN resources r ON r.id = ch.resource_id";

/// The words of a search, as both backends' engines split them: runs of letters and digits.
pub fn search_words(query: &str) -> Vec<String> {
    query.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()).map(str::to_lowercase).collect()
}

impl Store {
    /// The chat `chat_key` of a resource (or of the browser, `resource_id` `None`), if it was
    /// ever used.
    pub async fn find_chat(
        &self,
        user_id: &str,
        resource_id: Option<&str>,
        chat_key: &str,
    ) -> Result<Option<ChatRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, conversation FROM chats WHERE user_id = $1 AND COALESCE(resource_id, '') = $2 AND chat_key = $3",
        )
        .bind(user_id)
        .bind(resource_id.unwrap_or_default())
        .bind(chat_key)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The chat `chat_key` of a resource (or of the browser), created on first use.
    pub async fn chat(
        &self,
        user_id: &str,
        resource_id: Option<&str>,
        chat_key: &str,
        now: i64,
    ) -> Result<ChatRecord, StoreError> {
        if let Some(chat) = self.find_chat(user_id, resource_id, chat_key).await? {
            return Ok(chat);
        }
        sqlx::query(
            "INSERT INTO chats (id, user_id, resource_id, chat_key, conversation, create_time) \
             VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT DO NOTHING",
        )
        .bind(new_id())
        .bind(user_id)
        .bind(resource_id)
        .bind(chat_key)
        .bind(now)
        .execute(self.pool())
        .await?;
        // Created here, or by a concurrent first message.
        self.find_chat(user_id, resource_id, chat_key)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a chat conflicted with none".into()))
    }

    /// The chat's current conversation, created on its first message.
    pub async fn current_conversation(
        &self,
        user_id: &str,
        chat: &ChatRecord,
        now: i64,
    ) -> Result<ConversationRecord, StoreError> {
        sqlx::query(
            "INSERT INTO conversations (id, user_id, chat_id, number, title, title_source, model, instructions, \
             peer_name, message_count, create_time, update_time) \
             VALUES ($1, $2, $3, $4, '', '', '', '', '', 0, $5, $5) ON CONFLICT DO NOTHING",
        )
        .bind(new_id())
        .bind(user_id)
        .bind(&chat.id)
        .bind(chat.conversation)
        .bind(now)
        .execute(self.pool())
        .await?;
        sqlx::query_as(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_TABLES} WHERE v.chat_id = $1 AND v.number = $2"
        ))
        .bind(&chat.id)
        .bind(chat.conversation)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::Corrupt("a conversation conflicted with none".into()))
    }

    /// The current conversation of a chat (of the browser when `resource_id` is `None`), if it
    /// has begun.
    pub async fn find_current_conversation(
        &self,
        user_id: &str,
        resource_id: Option<&str>,
        chat_key: &str,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_TABLES} \
             WHERE ch.user_id = $1 AND COALESCE(ch.resource_id, '') = $2 AND ch.chat_key = $3 \
             AND v.number = ch.conversation"
        ))
        .bind(user_id)
        .bind(resource_id.unwrap_or_default())
        .bind(chat_key)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Starts a new conversation in a chat and returns it: the chat's current one from now on.
    pub async fn new_conversation(
        &self,
        user_id: &str,
        chat: &ChatRecord,
        changes: &ConversationChanges,
        now: i64,
    ) -> Result<ConversationRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let (number,): (i64,) =
            sqlx::query_as("UPDATE chats SET conversation = conversation + 1 WHERE id = $1 RETURNING conversation")
                .bind(&chat.id)
                .fetch_one(&mut *tx)
                .await?;
        let title = changes.title.clone().unwrap_or_default();
        let source = if title.is_empty() { "" } else { TITLE_BY_PERSON };
        let id = new_id();
        sqlx::query(
            "INSERT INTO conversations (id, user_id, chat_id, number, title, title_source, model, instructions, \
             peer_name, message_count, create_time, update_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', 0, $9, $9)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(&chat.id)
        .bind(number)
        .bind(&title)
        .bind(source)
        .bind(changes.model.clone().unwrap_or_default())
        .bind(changes.instructions.clone().unwrap_or_default())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.conversation(user_id, &id).await?.ok_or_else(|| StoreError::Corrupt("a new conversation is gone".into()))
    }

    /// Starts a new conversation in a chat on its next message; a chat never used is left alone.
    pub async fn reset_chat(&self, user_id: &str, resource_id: Option<&str>, chat_key: &str) -> Result<(), StoreError> {
        // Only a chat whose current conversation has begun moves on, so that resetting twice
        // leaves no empty conversation behind.
        sqlx::query(
            "UPDATE chats SET conversation = conversation + 1 \
             WHERE user_id = $1 AND COALESCE(resource_id, '') = $2 AND chat_key = $3 \
             AND EXISTS (SELECT 1 FROM conversations v WHERE v.chat_id = chats.id AND v.number = chats.conversation)",
        )
        .bind(user_id)
        .bind(resource_id.unwrap_or_default())
        .bind(chat_key)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A conversation of `user_id` by id; another person's is `None`.
    pub async fn conversation(&self, user_id: &str, id: &str) -> Result<Option<ConversationRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_TABLES} WHERE v.id = $1 AND v.user_id = $2"
        ))
        .bind(id)
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// A user's conversations in `filter`, most recently updated first, after the one at
    /// `after` (its update time and id), at most `limit`.
    pub async fn list_conversations(
        &self,
        user_id: &str,
        filter: &ChannelFilter,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        let (channel, value) = channel_condition(filter, 4);
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_TABLES} \
             WHERE v.user_id = $1 AND (v.update_time < $2 OR (v.update_time = $2 AND v.id < $3)) {channel} \
             ORDER BY v.update_time DESC, v.id DESC LIMIT {limit}"
        );
        let (time, id) = after.unwrap_or((i64::MAX, ""));
        // Ids are lower-case hex, so "g" sorts after every one of them.
        let id = if after.is_some() { id } else { "g" };
        let mut query = sqlx::query_as(&sql).bind(user_id).bind(time).bind(id);
        if let Some(value) = value {
            query = query.bind(value);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// The user's conversations in `filter` with a message holding every word of `words`, the
    /// one with the newest such message first, skipping `offset`, at most `limit`.
    pub async fn search_conversations(
        &self,
        user_id: &str,
        words: &[String],
        filter: &ChannelFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<Hit>, StoreError> {
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let (channel, value) = channel_condition(filter, 3);
        let hits = match self.backend() {
            // The owner is a column of the index, so the engine reads only the owner's matches.
            Backend::Sqlite => {
                "SELECT m.conversation_id AS cid, MAX(m.seq) AS newest FROM message_search \
                 JOIN messages m ON m.seq = message_search.rowid WHERE message_search MATCH $1 \
                 GROUP BY m.conversation_id"
            }
            Backend::Postgres => {
                "SELECT conversation_id AS cid, MAX(id) AS newest FROM messages \
                 WHERE user_id = $2 AND search @@ plainto_tsquery('simple', $1) GROUP BY conversation_id"
            }
        };
        let newest = match self.backend() {
            Backend::Sqlite => "m.seq",
            Backend::Postgres => "m.id",
        };
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS}, m.id AS match_id, m.role AS match_role, m.text AS match_text, \
             m.create_time AS match_time \
             FROM ({hits}) hits JOIN messages m ON {newest} = hits.newest \
             JOIN conversations v ON v.id = hits.cid JOIN chats ch ON ch.id = v.chat_id \
             LEFT JOIN resources r ON r.id = ch.resource_id \
             WHERE v.user_id = $2 {channel} ORDER BY hits.newest DESC LIMIT {limit} OFFSET {offset}"
        );
        let matching = match self.backend() {
            Backend::Sqlite => {
                let mut expression = format!("user_id : \"{}\"", user_id.replace('"', "\"\""));
                for word in words {
                    expression.push_str(&format!(" AND text : \"{word}\""));
                }
                expression
            }
            Backend::Postgres => words.join(" "),
        };
        let mut query = sqlx::query_as(&sql).bind(matching).bind(user_id);
        if let Some(value) = value {
            query = query.bind(value);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// Changes a conversation of `user_id`; `None` when there is no such conversation.
    pub async fn update_conversation(
        &self,
        user_id: &str,
        id: &str,
        changes: &ConversationChanges,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        let Some(current) = self.conversation(user_id, id).await? else {
            return Ok(None);
        };
        let (title, source) = match &changes.title {
            Some(title) => (title.clone(), TITLE_BY_PERSON.to_owned()),
            None => (current.title, current.title_source),
        };
        sqlx::query(
            "UPDATE conversations SET title = $1, title_source = $2, model = $3, instructions = $4 \
             WHERE id = $5 AND user_id = $6",
        )
        .bind(title)
        .bind(source)
        .bind(changes.model.as_ref().unwrap_or(&current.model))
        .bind(changes.instructions.as_ref().unwrap_or(&current.instructions))
        .bind(id)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        self.conversation(user_id, id).await
    }

    /// Titles an untitled conversation, or replaces a title of first words with the model's;
    /// a title the person gave is left alone.
    pub async fn title_conversation(&self, id: &str, title: &str, source: &str) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "UPDATE conversations SET title = $1, title_source = $2 WHERE id = $3 \
             AND (title_source = '' OR (title_source = '{TITLE_FROM_WORDS}' AND $2 = '{TITLE_BY_MODEL}'))"
        ))
        .bind(title)
        .bind(source)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Deletes a conversation of `user_id` and its messages; whether there was one.
    pub async fn delete_conversation(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        // The messages go with it (ON DELETE CASCADE), and the search index with them.
        let deleted = sqlx::query("DELETE FROM conversations WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(deleted.rows_affected() > 0)
    }
}

/// The SQL condition of a channel filter, whose value (if any) is parameter `$index`.
fn channel_condition(filter: &ChannelFilter, index: usize) -> (String, Option<&str>) {
    match filter {
        ChannelFilter::Any => (String::new(), None),
        ChannelFilter::Browser => ("AND ch.resource_id IS NULL".into(), None),
        ChannelFilter::Provider(name) => (format!("AND r.provider = ${index}"), Some(name)),
        ChannelFilter::Resource(id) => (format!("AND ch.resource_id = ${index}"), Some(id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_are_runs_of_letters_and_digits_in_any_script() {
        assert_eq!(search_words("Hello, wörld! 42"), ["hello", "wörld", "42"]);
        assert_eq!(search_words("Привет,  МИР"), ["привет", "мир"]);
        assert_eq!(search_words("\" OR 1=1 --"), ["or", "1", "1"]);
        assert!(search_words("  ...  ").is_empty());
    }
}
