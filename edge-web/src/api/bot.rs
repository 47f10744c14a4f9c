//! `/api/bot/...`: the bot's switch, its status, and the status as it changes, relayed from
//! core's watch as server-sent events.

use std::{convert::Infallible, time::Duration};

use assistchat_proto::v1::{
    GetBotStatusRequest, StartBotRequest, StopBotRequest, WatchBotStatusRequest, WatchBotStatusResponse,
    watch_bot_status_response::Event as WatchEvent,
};
use axum::{
    Json, Router,
    extract::State,
    http::HeaderMap,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use serde_json::{Value, json};
use tokio_stream::StreamExt;

use super::check_csrf;
use crate::{
    AppState,
    error::ApiError,
    resource::{bot_json, state_json},
    visitor::Visitor,
};

/// How often an idle event stream gets a comment, so that proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The routes of the bot.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/bot/start", post(start))
        .route("/api/bot/stop", post(stop))
        .route("/api/bot/status", get(status))
        .route("/api/bot/events", get(events))
}

async fn start(State(state): State<AppState>, visitor: Visitor, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    check_csrf(&visitor, &headers)?;
    let response = state.core.bot().start_bot(visitor.meta.request(StartBotRequest {})).await?.into_inner();
    Ok(Json(bot_json(&response.bot_status.unwrap_or_default())))
}

async fn stop(State(state): State<AppState>, visitor: Visitor, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    check_csrf(&visitor, &headers)?;
    let response = state.core.bot().stop_bot(visitor.meta.request(StopBotRequest {})).await?.into_inner();
    Ok(Json(bot_json(&response.bot_status.unwrap_or_default())))
}

async fn status(State(state): State<AppState>, visitor: Visitor) -> Result<Json<Value>, ApiError> {
    let response = state.core.bot().get_bot_status(visitor.meta.request(GetBotStatusRequest {})).await?.into_inner();
    Ok(Json(bot_json(&response.bot_status.unwrap_or_default())))
}

/// `GET /api/bot/events`: `snapshot`, `resource_changed` and `resource_deleted` events. The
/// stream ends when core's does (say, core restarting); browsers then reconnect by themselves
/// and start again from a snapshot.
async fn events(State(state): State<AppState>, visitor: Visitor) -> Result<Response, ApiError> {
    let watch = state.core.bot().watch_bot_status(visitor.meta.request(WatchBotStatusRequest {})).await?;
    let events = watch.into_inner().map_while(Result::ok).filter_map(event).map(Ok::<_, Infallible>);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response())
}

/// One message of core's watch as an event.
fn event(message: WatchBotStatusResponse) -> Option<Event> {
    let (name, data) = match message.event? {
        WatchEvent::Snapshot(status) => ("snapshot", bot_json(&status)),
        WatchEvent::ResourceChanged(status) => ("resource_changed", Value::Object(state_json(&(&status).into()))),
        WatchEvent::ResourceDeleted(deleted) => ("resource_deleted", json!({ "id": deleted.resource_id })),
    };
    Some(Event::default().event(name).data(data.to_string()))
}
