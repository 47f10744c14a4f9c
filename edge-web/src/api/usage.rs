//! `GET /api/usage`: the caller's AI token usage per day and, in managed mode, their quota.

use assistchat_proto::v1::GetUsageRequest;
use axum::{
    Json, Router,
    extract::{Query, State},
    routing::get,
};
use serde::Deserialize;

use crate::{
    error::AppError,
    http::{error::ApiError, visitor::Visitor},
    state::AppState,
    view::json,
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
) -> Result<Json<json::Usage>, ApiError> {
    let day_count = match query.days.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(days) => days.parse().ok().filter(|n| (1..=MAX_DAYS).contains(n)).ok_or_else(|| AppError::Invalid {
            field: "days".into(),
            message: format!("days must be a whole number from 1 to {MAX_DAYS}"),
        })?,
    };
    let response = state.core.bot().get_usage(visitor.meta.request(GetUsageRequest { day_count })).await?;
    Ok(Json(response.into_inner().into()))
}
