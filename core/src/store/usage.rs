//! The `usage_days` table: AI tokens per user per UTC day.

use sqlx::FromRow;

use super::{Store, StoreError};

/// One user's usage of one day.
#[derive(Clone, Debug, Default, FromRow, PartialEq, Eq)]
pub struct UsageRecord {
    /// The day, "YYYY-MM-DD" in UTC.
    pub day: String,
    /// Tokens sent.
    pub prompt_tokens: i64,
    /// Tokens generated.
    pub completion_tokens: i64,
    /// The tokens paid with the platform's key.
    pub managed_tokens: i64,
    /// Replies asked of the model, failed ones included.
    pub request_count: i64,
    /// 1 when some counts are estimates.
    pub estimated: i64,
}

impl Store {
    /// Adds one request's usage to a user's day.
    pub async fn add_usage(&self, user_id: &str, usage: &UsageRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO usage_days (user_id, day, prompt_tokens, completion_tokens, managed_tokens, request_count, \
             estimated) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (user_id, day) DO UPDATE SET \
             prompt_tokens = usage_days.prompt_tokens + excluded.prompt_tokens, \
             completion_tokens = usage_days.completion_tokens + excluded.completion_tokens, \
             managed_tokens = usage_days.managed_tokens + excluded.managed_tokens, \
             request_count = usage_days.request_count + excluded.request_count, \
             estimated = CASE WHEN usage_days.estimated > excluded.estimated THEN usage_days.estimated \
             ELSE excluded.estimated END",
        )
        .bind(user_id)
        .bind(&usage.day)
        .bind(usage.prompt_tokens)
        .bind(usage.completion_tokens)
        .bind(usage.managed_tokens)
        .bind(usage.request_count)
        .bind(usage.estimated)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A user's days from `first_day` on, newest first; days without usage are absent.
    pub async fn usage_since(&self, user_id: &str, first_day: &str) -> Result<Vec<UsageRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT day, prompt_tokens, completion_tokens, managed_tokens, request_count, estimated \
             FROM usage_days WHERE user_id = $1 AND day >= $2 ORDER BY day DESC",
        )
        .bind(user_id)
        .bind(first_day)
        .fetch_all(self.pool())
        .await?)
    }

    /// The tokens a user spent on the platform's key on `day`.
    pub async fn managed_tokens(&self, user_id: &str, day: &str) -> Result<i64, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT managed_tokens FROM usage_days WHERE user_id = $1 AND day = $2")
                .bind(user_id)
                .bind(day)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|(tokens,)| tokens).unwrap_or_default())
    }
}
