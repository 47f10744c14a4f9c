//! `GET /api/usage`: the caller's AI token usage per day and, in managed mode, their quota.

use assistchat_proto::v1::{AiMode, GetUsageRequest, GetUsageResponse, UsageDay};
use axum::{
    Json, Router,
    extract::{Query, State},
    routing::get,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    error::{ApiError, AppError},
    resource::rfc3339,
    visitor::Visitor,
};

/// The most days one answer covers, as core counts them.
pub const MAX_DAYS: i32 = 90;

/// The routes of the usage.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/usage", get(usage))
}

/// Query of `GET /api/usage`.
#[derive(Deserialize)]
struct UsageQuery {
    /// How many days, today included; 7 when absent.
    days: Option<String>,
}

async fn usage(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<UsageQuery>,
) -> Result<Json<Value>, ApiError> {
    let day_count = match query.days.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(days) => days.parse().ok().filter(|n| (1..=MAX_DAYS).contains(n)).ok_or_else(|| AppError::Invalid {
            field: "days".into(),
            message: format!("days must be a whole number from 1 to {MAX_DAYS}"),
        })?,
    };
    let response = state.core.bot().get_usage(visitor.meta.request(GetUsageRequest { day_count })).await?;
    Ok(Json(usage_json(&response.into_inner())))
}

fn usage_json(usage: &GetUsageResponse) -> Value {
    let mode = if usage.ai_mode() == AiMode::Byok { "byok" } else { "managed" };
    json!({
        "mode": mode,
        "days": usage.days.iter().map(day_json).collect::<Vec<_>>(),
        "daily_token_quota": usage.daily_token_quota,
        "remaining_tokens": usage.remaining_tokens,
        "quota_resets_at": usage.quota_reset_time.as_ref().map(rfc3339),
    })
}

fn day_json(day: &UsageDay) -> Value {
    json!({
        "date": day.date,
        "prompt_tokens": day.prompt_tokens,
        "completion_tokens": day.completion_tokens,
        "total_tokens": day.total_tokens,
        "request_count": day.request_count,
        "estimated": day.estimated,
        "managed_tokens": day.managed_tokens,
    })
}
