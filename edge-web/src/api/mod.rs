//! The JSON API under `/api/`, on the same paths the platform always had. Browser scripts call
//! it with the session cookie and the `x-csrf-token` header; outside scripts with
//! `Authorization: Bearer <personal API token>`. The QR tool needs neither.
//!
//! [`account`] holds accounts and the profile; [`resources`], [`bot`], [`chat`] and [`usage`]
//! the rest; [`conversations`] every conversation (listed, searched, changed, exported) and the
//! browser's replies in them, streamed as [`events`] like the chat's; the QR tool is here.

mod account;
mod bot;
mod chat;
mod conversations;
mod events;
mod resources;
mod usage;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request, State},
    response::{IntoResponse, Response},
    routing::post,
};
use serde::Deserialize;

use crate::{
    core_client::qr::{self, QrForm},
    error::AppError,
    http::{error::ApiError, visitor::Visitor},
    state::AppState,
};

/// The routes of the JSON API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(account::routes())
        .route("/api/qr/build", post(build_qr).layer(DefaultBodyLimit::max(qr::MAX_BODY_BYTES)))
        .merge(resources::routes())
        .merge(bot::routes())
        .merge(chat::routes())
        .merge(conversations::routes())
        .merge(usage::routes())
        .fallback(|| async { ApiError(AppError::NotFound) })
}

/// Query of the paginated lists; `provider` filters `GET /api/resources`.
#[derive(Deserialize)]
struct PageQuery {
    #[serde(default)]
    provider: String,
    #[serde(default)]
    page_size: i32,
    #[serde(default)]
    page_token: String,
}

/// The body of a message sent: `POST /api/chat/messages` and
/// `POST /api/conversations/{id}/messages`.
#[derive(Deserialize)]
struct NewMessage {
    /// The message.
    text: String,
    /// An id the client chose for the message; sending it again never asks the model twice.
    #[serde(default)]
    client_message_id: String,
}

/// `POST /api/qr/build`: the multipart form of the `/qr` page in, the image out.
async fn build_qr(State(state): State<AppState>, visitor: Visitor, request: Request) -> Result<Response, ApiError> {
    let mut form = QrForm::default();
    form.read(request).await?;
    Ok(form.build(&state.core, &visitor.meta).await?.into_response())
}
