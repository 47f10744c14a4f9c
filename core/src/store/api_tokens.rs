//! The `api_tokens` table: personal API tokens of integrators, stored by hash.

use sqlx::FromRow;

use super::{Store, StoreError};

/// A stored personal API token, without its hash.
#[derive(Clone, Debug, FromRow)]
pub struct ApiTokenRecord {
    /// The token's id.
    pub id: String,
    /// The account it acts for.
    pub user_id: String,
    /// The name its owner gave it.
    pub name: String,
    /// Creation time, in Unix milliseconds.
    pub create_time: i64,
    /// When it was last used, in Unix milliseconds; `None` if never.
    pub last_use_time: Option<i64>,
    /// When it stops working, in Unix milliseconds; `None` if never.
    pub expire_time: Option<i64>,
}

const SELECT_TOKEN: &str = "SELECT id, user_id, name, create_time, last_use_time, expire_time FROM api_tokens";

impl Store {
    /// Stores a new token unless its user has `cap` tokens already; returns whether it was
    /// stored. The count and the insert are one step: the user's row is locked first (a row
    /// lock on PostgreSQL, the write lock on SQLite), so parallel calls are counted one after
    /// another.
    pub async fn insert_api_token(
        &self,
        token: &ApiTokenRecord,
        token_hash: &str,
        cap: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        Self::lock_user(&mut tx, &token.user_id).await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE user_id = $1")
            .bind(&token.user_id)
            .fetch_one(&mut *tx)
            .await?;
        if count >= cap {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, create_time, expire_time) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&token.id)
        .bind(&token.user_id)
        .bind(&token.name)
        .bind(token_hash)
        .bind(token.create_time)
        .bind(token.expire_time)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The token with this hash.
    pub async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiTokenRecord>, StoreError> {
        let sql = format!("{SELECT_TOKEN} WHERE token_hash = $1");
        Ok(sqlx::query_as(&sql).bind(token_hash).fetch_optional(self.pool()).await?)
    }

    /// Records that the token was used at `now`.
    pub async fn touch_api_token(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_tokens SET last_use_time = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Up to `limit` tokens of a user, newest first, starting after the token `after_id`.
    pub async fn list_api_tokens(
        &self,
        user_id: &str,
        after_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ApiTokenRecord>, StoreError> {
        let sql = format!("{SELECT_TOKEN} WHERE user_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3");
        Ok(sqlx::query_as(&sql).bind(user_id).bind(after_id.unwrap_or("")).bind(limit).fetch_all(self.pool()).await?)
    }

    /// Deletes a token of this user; returns whether there was one.
    pub async fn delete_api_token(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
