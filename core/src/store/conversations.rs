//! The `chats` and `messages` tables: every channel's conversations, and the updates seen.

use sqlx::FromRow;

use super::{Store, StoreError, new_id};

/// One chat of one channel.
#[derive(Clone, Debug, FromRow)]
pub struct ChatRecord {
    /// The chat's id.
    pub id: String,
    /// The current conversation: grows with every reset.
    pub conversation: i64,
}

/// A stored message.
#[derive(Clone, Debug, FromRow)]
pub struct MessageRecord {
    /// The message's id; ids grow with time.
    pub id: String,
    /// The conversation it belongs to.
    pub conversation: i64,
    /// `user` or `assistant`.
    pub role: String,
    /// Its text.
    pub text: String,
    /// For a person's message, the id of the reply once answered.
    pub reply_id: Option<String>,
    /// For a person's message whose last attempt failed, a stable code of why.
    pub failure_reason: String,
    /// The same in words, as the person was told.
    pub failure_detail: String,
    /// When it was stored, in Unix milliseconds.
    pub create_time: i64,
}

impl MessageRecord {
    /// Whether it was written by the assistant.
    pub fn is_reply(&self) -> bool {
        self.role == ROLE_ASSISTANT
    }
}

/// The stored role of a person's message.
pub const ROLE_USER: &str = "user";
/// The stored role of the assistant's reply.
pub const ROLE_ASSISTANT: &str = "assistant";

/// A person's message to store.
#[derive(Clone, Debug)]
pub struct NewMessage<'a> {
    /// The chat.
    pub chat: &'a ChatRecord,
    /// Its text.
    pub text: &'a str,
    /// The channel's id of the message; `None` when it gave none.
    pub external_id: Option<&'a str>,
    /// Who wrote it, in the channel.
    pub sender_id: &'a str,
    /// Their name, as the channel shows it.
    pub sender_name: &'a str,
    /// Now, in Unix milliseconds.
    pub now: i64,
}

/// A reply to store.
#[derive(Clone, Debug)]
pub struct NewReply<'a> {
    /// The person's message it answers.
    pub question: &'a MessageRecord,
    /// The chat.
    pub chat_id: &'a str,
    /// The reply's text.
    pub text: &'a str,
    /// Tokens sent for it.
    pub prompt_tokens: i64,
    /// Tokens generated.
    pub completion_tokens: i64,
    /// Now, in Unix milliseconds.
    pub now: i64,
}

const MESSAGE_COLUMNS: &str = "id, conversation, role, text, reply_id, failure_reason, failure_detail, create_time";

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

    /// Stores a person's message and returns it; a message whose external id the chat has seen
    /// is not stored again, and the stored one is returned.
    pub async fn insert_message(&self, new: &NewMessage<'_>) -> Result<MessageRecord, StoreError> {
        let inserted: Option<MessageRecord> = sqlx::query_as(&format!(
            "INSERT INTO messages (id, chat_id, conversation, role, text, sender_id, sender_name, external_id, \
             reply_id, failure_reason, failure_detail, attempt_count, prompt_tokens, completion_tokens, create_time) \
             VALUES ($1, $2, $3, '{ROLE_USER}', $4, $5, $6, $7, NULL, '', '', 0, 0, 0, $8) \
             ON CONFLICT DO NOTHING RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(new_id())
        .bind(&new.chat.id)
        .bind(new.chat.conversation)
        .bind(new.text)
        .bind(new.sender_id)
        .bind(new.sender_name)
        .bind(new.external_id)
        .bind(new.now)
        .fetch_optional(self.pool())
        .await?;
        if let Some(message) = inserted {
            return Ok(message);
        }
        sqlx::query_as(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND external_id = $2"))
            .bind(&new.chat.id)
            .bind(new.external_id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::Corrupt("a message conflicted with none".into()))
    }

    /// A message by id.
    pub async fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        Ok(sqlx::query_as(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The answered turns of a conversation before message `before_id`, newest first: the
    /// memory the model is given. Failed messages are left out.
    pub async fn history(
        &self,
        chat_id: &str,
        conversation: i64,
        before_id: &str,
        limit: i64,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE chat_id = $1 AND conversation = $2 AND id < $3 AND (role = '{ROLE_ASSISTANT}' OR reply_id IS NOT NULL) \
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(chat_id)
        .bind(conversation)
        .bind(before_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Every message of a chat's current conversation older than `before_id` (all when
    /// `None`), newest first.
    pub async fn conversation_messages(
        &self,
        chat: &ChatRecord,
        before_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND conversation = $2 AND id < $3 \
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(&chat.id)
        .bind(chat.conversation)
        // Ids are lower-case hex, so "g" sorts after every one of them.
        .bind(before_id.unwrap_or("g"))
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Stores a reply and links the person's message to it, in one transaction.
    pub async fn insert_reply(&self, reply: &NewReply<'_>) -> Result<MessageRecord, StoreError> {
        let mut tx = self.pool().begin().await?;
        let stored: MessageRecord = sqlx::query_as(&format!(
            "INSERT INTO messages (id, chat_id, conversation, role, text, sender_id, sender_name, external_id, \
             reply_id, failure_reason, failure_detail, attempt_count, prompt_tokens, completion_tokens, create_time) \
             VALUES ($1, $2, $3, '{ROLE_ASSISTANT}', $4, '', '', NULL, NULL, '', '', 0, $5, $6, $7) \
             RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(new_id())
        .bind(reply.chat_id)
        .bind(reply.question.conversation)
        .bind(reply.text)
        .bind(reply.prompt_tokens)
        .bind(reply.completion_tokens)
        .bind(reply.now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE messages SET reply_id = $1, failure_reason = '', failure_detail = '', \
             attempt_count = attempt_count + 1 WHERE id = $2",
        )
        .bind(&stored.id)
        .bind(&reply.question.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Records a failed attempt to answer a person's message.
    pub async fn record_failure(&self, message_id: &str, reason: &str, detail: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE messages SET failure_reason = $1, failure_detail = $2, attempt_count = attempt_count + 1 \
             WHERE id = $3",
        )
        .bind(reason)
        .bind(detail)
        .bind(message_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Starts a new conversation in a chat; a chat never used is left alone.
    pub async fn reset_chat(&self, user_id: &str, resource_id: Option<&str>, chat_key: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE chats SET conversation = conversation + 1 \
             WHERE user_id = $1 AND COALESCE(resource_id, '') = $2 AND chat_key = $3",
        )
        .bind(user_id)
        .bind(resource_id.unwrap_or_default())
        .bind(chat_key)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
