//! The `sessions` table: signed-in browser and client sessions, stored by token hash.

use sqlx::FromRow;

use super::{Store, StoreError};

/// A stored session.
#[derive(Clone, Debug, FromRow)]
pub struct SessionRecord {
    /// The session's id.
    pub id: String,
    /// The account it signs in.
    pub user_id: String,
    /// When it was signed in, in Unix milliseconds.
    pub create_time: i64,
    /// When it was last used, in Unix milliseconds.
    pub last_seen_time: i64,
    /// When it ends regardless of use, in Unix milliseconds.
    pub expire_time: i64,
}

impl Store {
    /// Stores a new session.
    pub async fn insert_session(&self, session: &SessionRecord, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, token_hash, create_time, last_seen_time, expire_time) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&session.id)
        .bind(&session.user_id)
        .bind(token_hash)
        .bind(session.create_time)
        .bind(session.last_seen_time)
        .bind(session.expire_time)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The session whose token has this hash, expired or not.
    pub async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, user_id, create_time, last_seen_time, expire_time FROM sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Records that the session was used at `now`.
    pub async fn touch_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_time = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes one session; returns whether it existed.
    pub async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(self.pool()).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes sessions past their lifetime or idle since before `idle_since`; returns how many.
    pub async fn delete_expired_sessions(&self, now: i64, idle_since: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expire_time <= $1 OR last_seen_time <= $2")
            .bind(now)
            .bind(idle_since)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
