//! The webhook server: Zoom posts each chatbot's events to its resource's path,
//! `/zoom/<resource id>`, which exists only while the resource runs (404 otherwise). A post
//! without a valid, recent signature under the resource's secret token gets 401 and has no
//! effect. The URL validation challenge is answered here; a person's message is queued for the
//! resource's task and acknowledged at once, because Zoom posts again whatever it has not seen
//! acknowledged within about three seconds, and a model may take longer than that.

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;
use tokio::sync::mpsc;

use crate::{
    event::{BOT_NOTIFICATION, BotNotification, Envelope, URL_VALIDATION, UrlValidation},
    signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER},
};

/// The largest event Zoom may post: a chat message's event is a few KiB.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// The webhook paths of the running chatbots, `/zoom/<resource id>`, each checked with its
/// app's secret token.
pub type Webhooks = assistchat_edge_client::Webhooks<BotNotification>;

/// Webhooks under `public_url`, and the router to serve them (bodies over
/// [`MAX_EVENT_BYTES`] get 413).
pub fn webhooks(public_url: url::Url) -> (Arc<Webhooks>, Router) {
    let webhooks = Webhooks::new(public_url, "zoom");
    let router = webhooks.router(receive, MAX_EVENT_BYTES);
    (webhooks, router)
}

async fn receive(
    State(webhooks): State<Arc<Webhooks>>,
    Path(resource_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((secret_token, events)) = webhooks.route(&resource_id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let checked = signature::verify(
        &secret_token,
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        &body,
        signature::unix_now(),
    );
    if let Err(refusal) = checked {
        tracing::info!(resource_id, ?refusal, "a post without a valid Zoom signature was refused");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Ok(envelope) = serde_json::from_slice::<Envelope>(&body) else {
        return (StatusCode::BAD_REQUEST, "the body is not a Zoom event").into_response();
    };
    match envelope.event.as_str() {
        URL_VALIDATION => match serde_json::from_value::<UrlValidation>(envelope.payload) {
            Ok(challenge) => {
                let encrypted = signature::encrypted_token(&secret_token, &challenge.plain_token);
                Json(json!({"plainToken": challenge.plain_token, "encryptedToken": encrypted})).into_response()
            }
            Err(_) => (StatusCode::BAD_REQUEST, "payload.plainToken is missing").into_response(),
        },
        BOT_NOTIFICATION => {
            let Some(notification) = BotNotification::read(&envelope) else {
                return (StatusCode::BAD_REQUEST, "the payload is not a bot notification").into_response();
            };
            match events.try_send(notification) {
                Ok(()) => StatusCode::OK.into_response(),
                // Busy: Zoom posts it again later.
                Err(mpsc::error::TrySendError::Full(_)) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
                Err(mpsc::error::TrySendError::Closed(_)) => StatusCode::NOT_FOUND.into_response(),
            }
        }
        // Installs, removals and the like need nothing from this edge.
        _ => StatusCode::OK.into_response(),
    }
}
