//! The webhook server: Zoom posts each chatbot's events to its resource's path,
//! `/zoom/<resource id>`, which exists only while the resource runs (404 otherwise). A post
//! without a valid, recent signature under the resource's secret token gets 401 and has no
//! effect. The URL validation challenge is answered here; a person's message is queued for the
//! resource's task and acknowledged at once, because Zoom posts again whatever it has not seen
//! acknowledged within about three seconds, and a model may take longer than that.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::json;
use tokio::sync::mpsc;

use crate::{
    event::{BOT_NOTIFICATION, BotNotification, Envelope, URL_VALIDATION, UrlValidation},
    signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER},
};

/// Messages queued for one chatbot before Zoom is asked to post again later (503).
const QUEUE: usize = 64;
/// The largest event Zoom may post: a chat message's event is a few KiB.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// The webhook paths of the running chatbots.
pub struct Webhooks {
    /// This edge's public base URL, such as "https://zoom.example.com".
    public_url: url::Url,
    routes: Mutex<HashMap<String, Route>>,
}

struct Route {
    /// The app's secret token, which signs every post.
    secret_token: String,
    /// The resource's task.
    events: mpsc::Sender<BotNotification>,
}

/// A chatbot's webhook while it runs; dropping it makes its path answer 404.
pub struct Registration {
    webhooks: Arc<Webhooks>,
    resource_id: String,
    /// The URL to give Zoom.
    pub url: url::Url,
    /// The people's messages, as Zoom posts them.
    pub events: mpsc::Receiver<BotNotification>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.webhooks.routes.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.resource_id);
    }
}

impl Webhooks {
    /// Webhooks under `public_url`, and the router to serve them (bodies over
    /// [`MAX_EVENT_BYTES`] get 413).
    pub fn new(public_url: url::Url) -> (Arc<Self>, Router) {
        let webhooks = Arc::new(Self { public_url, routes: Mutex::default() });
        let router = Router::new()
            .route("/zoom/{resource_id}", post(receive))
            .layer(DefaultBodyLimit::max(MAX_EVENT_BYTES))
            .with_state(webhooks.clone());
        (webhooks, router)
    }

    /// The URL Zoom posts a resource's events to.
    pub fn url(&self, resource_id: &str) -> url::Url {
        self.public_url.join(&format!("zoom/{resource_id}")).expect("a path joins any base URL")
    }

    /// Opens the webhook path of a resource, checked with its app's secret token.
    pub fn register(self: &Arc<Self>, resource_id: &str, secret_token: &str) -> Registration {
        let (events, receiver) = mpsc::channel(QUEUE);
        let route = Route { secret_token: secret_token.to_owned(), events };
        self.routes.lock().unwrap_or_else(PoisonError::into_inner).insert(resource_id.to_owned(), route);
        Registration {
            webhooks: self.clone(),
            resource_id: resource_id.to_owned(),
            url: self.url(resource_id),
            events: receiver,
        }
    }
}

async fn receive(
    State(webhooks): State<Arc<Webhooks>>,
    Path(resource_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (secret_token, events) = {
        let routes = webhooks.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(route) = routes.get(&resource_id) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        (route.secret_token.clone(), route.events.clone())
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
