//! The `messages` table: every message of every conversation, and the updates seen. The search
//! index follows it on its own (triggers on SQLite, a generated column on PostgreSQL).

use sqlx::FromRow;

use super::{Store, StoreError, conversations::ConversationRecord, new_id};

/// A stored message.
#[derive(Clone, Debug, FromRow)]
pub struct MessageRecord {
    /// The message's id; ids grow with time.
    pub id: String,
    /// The conversation it belongs to.
    pub conversation_id: String,
    /// `user` or `assistant`.
    pub role: String,
    /// Its text.
    pub text: String,
    /// Who wrote a person's message, as the channel names them.
    pub sender_name: String,
    /// For a person's message, the id of the reply once answered.
    pub reply_id: Option<String>,
    /// For a person's message whose last attempt failed, a stable code of why.
    pub failure_reason: String,
    /// The same in words, as the person was told.
    pub failure_detail: String,
    /// Tokens sent for a reply.
    pub prompt_tokens: i64,
    /// Tokens a reply took to generate.
    pub completion_tokens: i64,
    /// The model that wrote a reply; empty for a person's message.
    pub model: String,
    /// 1 for a reply stopped while it was written.
    pub stopped: i64,
    /// When it was stored, in Unix milliseconds.
    pub create_time: i64,
}

impl MessageRecord {
    /// Whether it was written by the assistant.
    pub fn is_reply(&self) -> bool {
        self.role == ROLE_ASSISTANT
    }

    /// Whether it is a reply stopped while it was written.
    pub fn is_stopped(&self) -> bool {
        self.stopped != 0
    }
}

/// The stored role of a person's message.
pub const ROLE_USER: &str = "user";
/// The stored role of the assistant's reply.
pub const ROLE_ASSISTANT: &str = "assistant";

/// A person's message to store.
#[derive(Clone, Debug)]
pub struct NewMessage<'a> {
    /// The conversation.
    pub conversation: &'a ConversationRecord,
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
    /// The conversation.
    pub conversation: &'a ConversationRecord,
    /// The reply's text.
    pub text: &'a str,
    /// Tokens sent for it.
    pub prompt_tokens: i64,
    /// Tokens generated.
    pub completion_tokens: i64,
    /// The model that wrote it.
    pub model: &'a str,
    /// Whether it was stopped while it was written.
    pub stopped: bool,
    /// Now, in Unix milliseconds.
    pub now: i64,
}

const MESSAGE_COLUMNS: &str = "id, conversation_id, role, text, sender_name, reply_id, failure_reason, \
     failure_detail, prompt_tokens, completion_tokens, model, stopped, create_time";
const INSERT_MESSAGE: &str = "INSERT INTO messages (id, conversation_id, chat_id, user_id, role, text, sender_id, \
     sender_name, external_id, reply_id, failure_reason, failure_detail, attempt_count, prompt_tokens, \
     completion_tokens, model, stopped, create_time)";

impl Store {
    /// Stores a person's message and returns it; a message whose external id the chat has seen
    /// is not stored again, and the stored one is returned.
    pub async fn insert_message(&self, new: &NewMessage<'_>) -> Result<MessageRecord, StoreError> {
        let conversation = new.conversation;
        let mut tx = self.begin_write().await?;
        let inserted: Option<MessageRecord> = sqlx::query_as(&format!(
            "{INSERT_MESSAGE} VALUES ($1, $2, $3, $4, '{ROLE_USER}', $5, $6, $7, $8, NULL, '', '', 0, 0, 0, '', 0, $9) \
             ON CONFLICT DO NOTHING RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(new_id())
        .bind(&conversation.id)
        .bind(&conversation.chat_id)
        .bind(&conversation.user_id)
        .bind(new.text)
        .bind(new.sender_id)
        .bind(new.sender_name)
        .bind(new.external_id)
        .bind(new.now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(message) = inserted {
            sqlx::query(
                "UPDATE conversations SET message_count = message_count + 1, update_time = $1, \
                 peer_name = CASE WHEN $2 = '' THEN peer_name ELSE $2 END WHERE id = $3",
            )
            .bind(new.now)
            .bind(new.sender_name)
            .bind(&conversation.id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(message);
        }
        tx.rollback().await?;
        sqlx::query_as(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND external_id = $2"))
            .bind(&conversation.chat_id)
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
        conversation_id: &str,
        before_id: &str,
        limit: i64,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE conversation_id = $1 AND id < $2 AND (role = '{ROLE_ASSISTANT}' OR reply_id IS NOT NULL) \
             ORDER BY id DESC LIMIT $3"
        ))
        .bind(conversation_id)
        .bind(before_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Every message of a conversation older than `before_id` (all when `None`), newest first.
    pub async fn conversation_messages(
        &self,
        conversation_id: &str,
        before_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        ))
        .bind(conversation_id)
        // Ids are lower-case hex, so "g" sorts after every one of them.
        .bind(before_id.unwrap_or("g"))
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// The newest message of a conversation, if it has any.
    pub async fn last_message(&self, conversation_id: &str) -> Result<Option<MessageRecord>, StoreError> {
        Ok(self.conversation_messages(conversation_id, None, 1).await?.into_iter().next())
    }

    /// Stores a reply and links the person's message to it, in one transaction.
    pub async fn insert_reply(&self, reply: &NewReply<'_>) -> Result<MessageRecord, StoreError> {
        let conversation = reply.conversation;
        let mut tx = self.begin_write().await?;
        let stored: MessageRecord = sqlx::query_as(&format!(
            "{INSERT_MESSAGE} VALUES ($1, $2, $3, $4, '{ROLE_ASSISTANT}', $5, '', '', NULL, NULL, '', '', 0, $6, $7, $8, \
             $9, $10) RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(new_id())
        .bind(&conversation.id)
        .bind(&conversation.chat_id)
        .bind(&conversation.user_id)
        .bind(reply.text)
        .bind(reply.prompt_tokens)
        .bind(reply.completion_tokens)
        .bind(reply.model)
        .bind(i64::from(reply.stopped))
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
        sqlx::query("UPDATE conversations SET message_count = message_count + 1, update_time = $1 WHERE id = $2")
            .bind(reply.now)
            .bind(&conversation.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Forgets a reply so that its question can be answered again: the reply is deleted and the
    /// question is unanswered. `false` when the reply was already gone.
    pub async fn forget_reply(&self, question: &MessageRecord, reply_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM messages WHERE id = $1 AND conversation_id = $2")
            .bind(reply_id)
            .bind(&question.conversation_id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE messages SET reply_id = NULL WHERE id = $1").bind(&question.id).execute(&mut *tx).await?;
        sqlx::query("UPDATE conversations SET message_count = message_count - 1 WHERE id = $1")
            .bind(&question.conversation_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
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
}
