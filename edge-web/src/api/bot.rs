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
use tokio_stream::StreamExt;

use crate::{
    http::{csrf::check_csrf, error::ApiError, visitor::Visitor},
    state::AppState,
    view::json,
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

async fn start(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
) -> Result<Json<json::BotStatus>, ApiError> {
    check_csrf(&visitor, &headers)?;
    let response = state.core.bot().start_bot(visitor.meta.request(StartBotRequest {})).await?.into_inner();
    Ok(Json(json::BotStatus::from(&response.bot_status.unwrap_or_default())))
}

async fn stop(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
) -> Result<Json<json::BotStatus>, ApiError> {
    check_csrf(&visitor, &headers)?;
    let response = state.core.bot().stop_bot(visitor.meta.request(StopBotRequest {})).await?.into_inner();
    Ok(Json(json::BotStatus::from(&response.bot_status.unwrap_or_default())))
}

async fn status(State(state): State<AppState>, visitor: Visitor) -> Result<Json<json::BotStatus>, ApiError> {
    let response = state.core.bot().get_bot_status(visitor.meta.request(GetBotStatusRequest {})).await?.into_inner();
    Ok(Json(json::BotStatus::from(&response.bot_status.unwrap_or_default())))
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
    let event = Event::default();
    let event = match message.event? {
        WatchEvent::Snapshot(status) => event.event("snapshot").json_data(json::BotStatus::from(&status)),
        WatchEvent::ResourceChanged(status) => {
            event.event("resource_changed").json_data(json::ResourceState::from(&status))
        }
        WatchEvent::ResourceDeleted(deleted) => {
            event.event("resource_deleted").json_data(json::Deleted { id: deleted.resource_id })
        }
    };
    event.ok()
}
