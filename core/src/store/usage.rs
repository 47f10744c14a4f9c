//! The `usage_days` table: AI tokens per user per UTC day, and the tokens reserved of the daily
//! quota by calls still running.
//!
//! A call in managed mode first reserves an estimate of its cost ([`Store::reserve_tokens`]):
//! one statement that adds to `reserved_tokens` only while the day's spent and reserved tokens
//! are below the quota, so parallel calls cannot all pass one check and then all spend. When the
//! call ends, [`Store::add_usage`] releases the reservation and adds the real counts in one
//! statement. A reservation left by a process that stopped mid-call is never released; it
//! counts against its own day only, as each day has its own row.

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
    /// Reserves `tokens` of a user's `quota` for `day`, for a call about to be made; `false`
    /// (nothing reserved) when the tokens spent and reserved that day already reach the quota.
    /// The check and the reservation are one statement, so of many parallel calls only those
    /// that find the day below the quota, their running neighbours' reservations counted, pass:
    /// as long as no call spends more than it reserved, the day ends above the quota by at most
    /// one reservation.
    pub async fn reserve_tokens(&self, user_id: &str, day: &str, tokens: i64, quota: i64) -> Result<bool, StoreError> {
        let reserved: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO usage_days (user_id, day, prompt_tokens, completion_tokens, managed_tokens, request_count, \
             estimated, reserved_tokens) VALUES ($1, $2, 0, 0, 0, 0, 0, $3) \
             ON CONFLICT (user_id, day) DO UPDATE SET \
             reserved_tokens = usage_days.reserved_tokens + excluded.reserved_tokens \
             WHERE usage_days.managed_tokens + usage_days.reserved_tokens < $4 \
             RETURNING reserved_tokens",
        )
        .bind(user_id)
        .bind(day)
        .bind(tokens)
        .bind(quota)
        .fetch_optional(self.pool())
        .await?;
        Ok(reserved.is_some())
    }

    /// Adds one request's usage to a user's day and releases the `released` tokens its call
    /// reserved there (0 for a call that reserved none), in one statement.
    pub async fn add_usage(&self, user_id: &str, usage: &UsageRecord, released: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO usage_days (user_id, day, prompt_tokens, completion_tokens, managed_tokens, request_count, \
             estimated, reserved_tokens) VALUES ($1, $2, $3, $4, $5, $6, $7, 0) \
             ON CONFLICT (user_id, day) DO UPDATE SET \
             reserved_tokens = CASE WHEN usage_days.reserved_tokens > $8 THEN usage_days.reserved_tokens - $9 \
             ELSE 0 END, \
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
        .bind(released)
        .bind(released)
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

    /// The tokens reserved of a user's quota on `day` by calls not yet settled.
    pub async fn reserved_tokens(&self, user_id: &str, day: &str) -> Result<i64, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT reserved_tokens FROM usage_days WHERE user_id = $1 AND day = $2")
                .bind(user_id)
                .bind(day)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|(tokens,)| tokens).unwrap_or_default())
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
