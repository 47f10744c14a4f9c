//! `/api/chat/...`: the browser chat. A message is answered as server-sent events relayed from
//! core's stream, so a script shows the reply as the model writes it.

use super::{NewMessage, PageQuery, events};
use crate::{
    http::{body::Body, csrf::check_csrf, error::ApiError, visitor::Visitor},
    state::AppState,
    view::json,
};
use assistchat_proto::v1::{ListChatMessagesRequest, ResetChatRequest, StreamChatMessageRequest};
use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::{get, post},
};

/// The routes of the chat.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/chat/messages", get(list).post(send)).route("/api/chat/reset", post(reset))
}

/// `POST /api/chat/messages`: the reply as the events of [`super::events`]. A request refused
/// before core takes the message (body, CSRF, credentials) is a JSON error with its HTTP status
/// instead.
async fn send(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Body(body): Body<NewMessage>,
) -> Result<Response, ApiError> {
    check_csrf(&visitor, &headers)?;
    let request = StreamChatMessageRequest { text: body.text, client_message_id: body.client_message_id };
    events::relay(state.core.chat().stream_chat_message(visitor.meta.request(request)).await, visitor.lang)
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
