//! The `sign_in_links` table: one-time sign-in links, stored by token hash.

use super::{Store, StoreError};

impl Store {
    /// Stores a sign-in link for account `user_id`, usable until `expire_time`.
    pub async fn insert_sign_in_link(
        &self,
        token_hash: &str,
        user_id: &str,
        expire_time: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sign_in_links (token_hash, user_id, expire_time) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(user_id)
            .bind(expire_time)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Spends the sign-in link with this hash: deletes it and returns its account and expiry,
    /// in one statement, so that two uses at once cannot both find it.
    pub async fn take_sign_in_link(&self, token_hash: &str) -> Result<Option<(String, i64)>, StoreError> {
        Ok(sqlx::query_as("DELETE FROM sign_in_links WHERE token_hash = $1 RETURNING user_id, expire_time")
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Deletes the sign-in links that expired by `now`; returns how many.
    pub async fn delete_expired_sign_in_links(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sign_in_links WHERE expire_time <= $1").bind(now).execute(self.pool());
        Ok(done.await?.rows_affected())
    }
}
