//! `/api/chat/...`: the browser chat. A message is answered as server-sent events relayed from
//! core's stream, so a script shows the reply as the model writes it.

use std::{convert::Infallible, pin::Pin, time::Duration};

use assistchat_proto::v1::{
    ListChatMessagesRequest, ResetChatRequest, StreamChatMessageRequest, StreamChatMessageResponse,
    stream_chat_message_response::Event as StreamEvent,
};
use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use serde::Deserialize;
use tokio_stream::{Stream, StreamExt};

use super::PageQuery;
use crate::{
    error::AppError,
    http::{body::Body, csrf::check_csrf, error::ApiError, visitor::Visitor},
    i18n::Lang,
    state::AppState,
    view::{chat::failure_message, json},
};

/// How often a stream waiting for the model gets a comment, so that proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The routes of the chat.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/chat/messages", get(list).post(send)).route("/api/chat/reset", post(reset))
}

/// The body of `POST /api/chat/messages`.
#[derive(Deserialize)]
struct NewMessage {
    /// The message.
    text: String,
    /// An id the client chose for the message; sending it again never asks the model twice.
    #[serde(default)]
    client_message_id: String,
}

/// The events of one message's answer.
type Events = Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>>;

/// `POST /api/chat/messages`: events `user_message` (the stored message), `delta` (`{"text"}`,
/// a piece of the reply), `reply` (the stored reply); or, when the message gets no reply,
/// `error` (`{"code", "message"}`) and the end of the stream. A request refused before core
/// takes the message (body, CSRF, credentials) is a JSON error with its HTTP status instead.
async fn send(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Body(body): Body<NewMessage>,
) -> Result<Response, ApiError> {
    check_csrf(&visitor, &headers)?;
    let request = StreamChatMessageRequest { text: body.text, client_message_id: body.client_message_id };
    let lang = visitor.lang;
    let events: Events = match state.core.chat().stream_chat_message(visitor.meta.request(request)).await {
        Ok(response) => Box::pin(response.into_inner().filter_map(move |item| match item {
            Ok(message) => event(message).map(Ok),
            Err(status) => Some(Ok(error_event(status.into(), lang))),
        })),
        Err(status) if status.code() == tonic::Code::Unauthenticated => return Err(AppError::from(status).into()),
        Err(status) => Box::pin(tokio_stream::once(Ok(error_event(status.into(), lang)))),
    };
    let mut response = Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response();
    // Proxies such as nginx would otherwise hold the pieces back until the reply is whole.
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// One message of core's stream as an event.
fn event(message: StreamChatMessageResponse) -> Option<Event> {
    let event = Event::default();
    let event = match message.event? {
        StreamEvent::UserMessage(message) => event.event("user_message").json_data(json::ChatMessage::from(&message)),
        StreamEvent::ReplyDelta(text) => event.event("delta").json_data(json::Delta { text }),
        StreamEvent::Reply(message) => event.event("reply").json_data(json::ChatMessage::from(&message)),
    };
    event.ok()
}

/// Why the message got no reply, as the last event: core's words for the person where it wrote
/// them, ours otherwise.
fn error_event(err: AppError, lang: Lang) -> Event {
    if err.status().is_server_error() {
        tracing::warn!(error = %err, "chat message failed");
    }
    let data = json::ErrorDetail { code: err.code(), message: failure_message(&err, lang), field: err.field() };
    let event = Event::default().event("error");
    // Serialising strings cannot fail.
    event.json_data(data).unwrap_or_else(|_| Event::default().event("error"))
}

/// `GET /api/chat/messages`: the current conversation, newest first, by pages.
async fn list(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(page): Query<PageQuery>,
) -> Result<Json<json::ChatMessages>, ApiError> {
    let request = ListChatMessagesRequest { page_size: page.page_size, page_token: page.page_token };
    let response = state.core.bot().list_chat_messages(visitor.meta.request(request)).await?.into_inner();
    let messages = response.chat_messages.iter().map(json::ChatMessage::from).collect();
    Ok(Json(json::ChatMessages { messages, next_page_token: response.next_page_token }))
}

/// `POST /api/chat/reset`: starts a new conversation.
async fn reset(State(state): State<AppState>, visitor: Visitor, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    check_csrf(&visitor, &headers)?;
    state.core.bot().reset_chat(visitor.meta.request(ResetChatRequest {})).await?;
    Ok(StatusCode::NO_CONTENT)
}
