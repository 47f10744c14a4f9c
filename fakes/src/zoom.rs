//! A fake of the two Zoom APIs a Team Chat chatbot calls: the OAuth token endpoint
//! (`POST /oauth/token`, `grant_type=client_credentials` in the query or a form, Basic auth with
//! the app's client id and secret) and the Chatbot API's `POST /v2/im/chat/messages` (Bearer
//! token). Both answer as Zoom does: tokens that expire after `expires_in` seconds, 401 for a
//! token that is unknown, expired or revoked, 201 with the new message's id. A message whose
//! head or any text of its body is longer than [`MAX_MESSAGE_UTF16`] is refused with 400;
//! whether it asked for Markdown (`is_markdown_support`) is recorded with it.
//!
//! Tests register apps, read every message sent with its JSON and its `Authorization` header,
//! and script failures (401, 429, 500) for either endpoint. One server plays both, so the OAuth
//! and API base URLs given to the code under test are the same.
//!
//! ```no_run
//! # async fn example() {
//! use std::time::Duration;
//! use assistchat_fakes::zoom::{Endpoint, Failure, FakeZoom};
//!
//! let zoom = FakeZoom::start().await;
//! zoom.add_app("client-id", "client-secret", "bot@xmpp.zoom.us");
//! zoom.fail_next(Endpoint::Messages, Failure::TooManyRequests { retry_after_secs: Some(1) });
//! let base_url = zoom.base_url(); // the OAuth and API base URL for the code under test
//! let sent = zoom.wait_for_messages(1, Duration::from_secs(5)).await;
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::server::Server;

/// How long a token lives unless [`FakeZoom::set_token_lifetime`] says otherwise: an hour, as
/// Zoom's chatbot tokens do.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// The scope Zoom grants a chatbot token.
pub const CHATBOT_SCOPE: &str = "imchat:bot";

/// The longest text of a message's head or of one of its body's items, in UTF-16 code units.
/// Zoom's chatbot API documents no figure; this is the message limit Zoom's chat is known by.
pub const MAX_MESSAGE_UTF16: usize = 4096;

/// What the fake answers a message over [`MAX_MESSAGE_UTF16`], with Zoom's invalid-field code
/// (Zoom publishes no wording of its own for this refusal).
pub const TOO_LONG: &str = "Invalid field: content. The message is too long.";

/// Which endpoint a scripted failure is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /oauth/token`.
    Token,
    /// `POST /v2/im/chat/messages`.
    Messages,
}

/// How one call fails, played by [`FakeZoom::fail_next`]; each answers with Zoom's JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// 401: `invalid_client` on the token endpoint, `Invalid access token.` on the API.
    Unauthorized,
    /// 429 `You have reached the maximum per-second rate limit`, with `Retry-After` when set.
    TooManyRequests {
        /// The seconds the client is told to wait, if any.
        retry_after_secs: Option<u32>,
    },
    /// 500 with Zoom's error JSON.
    ServerError,
}

/// A message the chatbot sent and Zoom accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct SentMessage {
    /// The id Zoom gave it.
    pub message_id: String,
    /// The request body as sent.
    pub body: Value,
    /// Whether it asked for its texts to be read as Markdown (`is_markdown_support`).
    pub markdown: bool,
    /// The `Authorization` header as sent, e.g. `Bearer <token>`.
    pub authorization: String,
}

impl SentMessage {
    /// A top-level string field of the body, such as `robot_jid`, `to_jid` or `account_id`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.body[name].as_str()
    }

    /// The texts of the body's `message` items, joined by line ends.
    pub fn text(&self) -> String {
        let items = self.body["content"]["body"].as_array().map_or(&[][..], Vec::as_slice);
        let texts: Vec<&str> =
            items.iter().filter(|item| item["type"] == "message").filter_map(|item| item["text"].as_str()).collect();
        texts.join("\n")
    }
}

/// One request to either endpoint, accepted or not.
#[derive(Clone, Debug, PartialEq)]
pub struct Attempt {
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// The status it was answered with.
    pub status: u16,
    /// The `Authorization` header as sent.
    pub authorization: Option<String>,
}

/// A fake of Zoom's OAuth and Chatbot APIs on `127.0.0.1`, served until dropped. Every method
/// takes `&self`, so tests can share the fake while the code under test calls it.
pub struct FakeZoom {
    /// The server; dropping it stops serving.
    server: Server,
    /// What the handlers and the test share.
    state: Shared,
}

impl FakeZoom {
    /// Starts a fake on a free loopback port that knows no app yet: every client id is refused
    /// until added with [`FakeZoom::add_app`].
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> Self {
        let state = Shared::default();
        let router = Router::new()
            .route("/oauth/token", post(token))
            .route("/v2/im/chat/messages", post(send_message))
            .fallback(not_found)
            .with_state(state.clone());
        FakeZoom { server: Server::start(router).await, state }
    }

    /// The base URL of both APIs, e.g. `http://127.0.0.1:PORT`: tokens come from
    /// `{base_url}/oauth/token`, messages go to `{base_url}/v2/im/chat/messages`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Makes a Team Chat app known: its client id and secret get tokens, and its tokens send as
    /// the chatbot `bot_jid` only.
    pub fn add_app(&self, client_id: &str, client_secret: &str, bot_jid: &str) {
        let app = App { secret: client_secret.to_owned(), bot_jid: bot_jid.to_owned() };
        self.state.lock().apps.insert(client_id.to_owned(), app);
    }

    /// How long the tokens issued from now on live (Zoom says it in whole seconds).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.state.lock().lifetime = Some(lifetime);
    }

    /// Makes every token issued so far answer 401, as if Zoom had revoked them.
    pub fn revoke_tokens(&self) {
        for token in self.state.lock().tokens.values_mut() {
            token.revoked = true;
        }
    }

    /// Makes the next call of `endpoint` fail; queued failures play one per call, in order.
    pub fn fail_next(&self, endpoint: Endpoint, failure: Failure) {
        self.state.lock().failures.entry(endpoint).or_default().push_back(failure);
    }

    /// How many tokens were issued.
    pub fn tokens_issued(&self) -> usize {
        self.state.lock().tokens.len()
    }

    /// Every message accepted, in order.
    pub fn messages(&self) -> Vec<SentMessage> {
        self.state.lock().sent.clone()
    }

    /// Every request to either endpoint, in order, refused ones included.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.state.lock().attempts.clone()
    }

    /// The requests to one endpoint, in order, refused ones included.
    pub fn attempts_at(&self, endpoint: Endpoint) -> Vec<Attempt> {
        self.attempts().into_iter().filter(|attempt| attempt.endpoint == endpoint).collect()
    }

    /// Waits until at least `count` messages were accepted or `timeout` has passed, then returns
    /// every accepted message; fewer than `count` means it timed out.
    pub async fn wait_for_messages(&self, count: usize, timeout: Duration) -> Vec<SentMessage> {
        let deadline = Instant::now() + timeout;
        let mut changes = self.state.lock().watch.subscribe();
        loop {
            let sent = {
                let inner = self.state.lock();
                // Marked seen under the lock, so a change made after this check wakes the wait.
                changes.borrow_and_update();
                inner.sent.clone()
            };
            if sent.len() >= count || tokio::time::timeout_at(deadline, changes.changed()).await.is_err() {
                return sent;
            }
        }
    }
}

/// The state behind a lock the handlers never hold across an await.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Inner>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock left nothing half-written worth refusing.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
struct Inner {
    /// The known apps by client id.
    apps: HashMap<String, App>,
    /// The lifetime of new tokens; `None` for [`DEFAULT_TOKEN_LIFETIME`].
    lifetime: Option<Duration>,
    /// Every token issued, by its value.
    tokens: HashMap<String, Token>,
    /// Failures still to play, by endpoint.
    failures: HashMap<Endpoint, VecDeque<Failure>>,
    /// Every request to either endpoint.
    attempts: Vec<Attempt>,
    /// The messages accepted.
    sent: Vec<SentMessage>,
    /// Bumped after every accepted message.
    watch: watch::Sender<()>,
}

impl Inner {
    /// Records a request and takes the failure scripted for it, if any.
    fn admit(&mut self, endpoint: Endpoint, headers: &HeaderMap) -> Option<Failure> {
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        self.attempts.push(Attempt { endpoint, status: 0, authorization });
        self.failures.get_mut(&endpoint).and_then(VecDeque::pop_front)
    }

    /// Notes the status the last request was answered with.
    fn answered(&mut self, status: StatusCode) {
        if let Some(last) = self.attempts.last_mut() {
            last.status = status.as_u16();
        }
    }
}

/// A registered Team Chat app.
struct App {
    /// Its client secret.
    secret: String,
    /// Its chatbot's JID.
    bot_jid: String,
}

/// An issued token.
struct Token {
    /// The app it was issued to.
    client_id: String,
    /// When it stops working.
    expires: Instant,
    /// Whether the test revoked it.
    revoked: bool,
}

/// `POST /oauth/token`.
async fn token(State(state): State<Shared>, RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let mut inner = state.lock();
    let failure = inner.admit(Endpoint::Token, &headers);
    let response = issue(&mut inner, failure, query.as_deref(), &headers, &body);
    inner.answered(response.status());
    response
}

fn issue(
    inner: &mut Inner,
    failure: Option<Failure>,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    match failure {
        Some(Failure::Unauthorized) => return invalid_client(),
        Some(failure) => return api_failure(&failure),
        None => {}
    }
    let mut params: HashMap<String, String> = serde_urlencoded::from_str(query.unwrap_or_default()).unwrap_or_default();
    params.extend(serde_urlencoded::from_bytes::<HashMap<String, String>>(body).unwrap_or_default());
    if params.get("grant_type").map(String::as_str) != Some("client_credentials") {
        let body = json!({"reason": "Unsupported grant type", "error": "unsupported_grant_type"});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    let Some((client_id, secret)) = basic_credentials(headers) else {
        return invalid_client();
    };
    if inner.apps.get(&client_id).is_none_or(|app| app.secret != secret) {
        return invalid_client();
    }
    let lifetime = inner.lifetime.unwrap_or(DEFAULT_TOKEN_LIFETIME);
    let value = format!("zoom-chatbot-token-{}", inner.tokens.len() + 1);
    let token = Token { client_id, expires: Instant::now() + lifetime, revoked: false };
    inner.tokens.insert(value.clone(), token);
    let body = json!({
        "access_token": value,
        "token_type": "bearer",
        "expires_in": lifetime.as_secs(),
        "scope": CHATBOT_SCOPE,
    });
    Json(body).into_response()
}

/// The client id and secret of a `Basic` authorization.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let (id, secret) = String::from_utf8(decoded).ok()?.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned()))?;
    Some((id, secret))
}

fn invalid_client() -> Response {
    let body = json!({"reason": "Invalid client_id or client_secret", "error": "invalid_client"});
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

/// `POST /v2/im/chat/messages`.
async fn send_message(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut inner = state.lock();
    let failure = inner.admit(Endpoint::Messages, &headers);
    let response = accept(&mut inner, failure, &headers, &body);
    inner.answered(response.status());
    response
}

fn accept(inner: &mut Inner, failure: Option<Failure>, headers: &HeaderMap, body: &[u8]) -> Response {
    if let Some(failure) = failure {
        return api_failure(&failure);
    }
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let token = authorization.strip_prefix("Bearer ").and_then(|value| inner.tokens.get(value));
    let Some(token) = token.filter(|token| !token.revoked) else {
        return zoom_error(StatusCode::UNAUTHORIZED, 124, "Invalid access token.");
    };
    if token.expires <= Instant::now() {
        return zoom_error(StatusCode::UNAUTHORIZED, 124, "Access token is expired.");
    }
    let bot_jid = inner.apps.get(&token.client_id).map(|app| app.bot_jid.clone()).unwrap_or_default();
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return zoom_error(StatusCode::BAD_REQUEST, 300, "Request Body should be a valid JSON object.");
    };
    for field in ["robot_jid", "to_jid", "account_id"] {
        if body[field].as_str().is_none_or(str::is_empty) {
            return zoom_error(StatusCode::BAD_REQUEST, 300, &format!("Invalid field: {field}."));
        }
    }
    if body["robot_jid"] != bot_jid.as_str() {
        return zoom_error(StatusCode::BAD_REQUEST, 7001, "The robot_jid does not belong to this token's app.");
    }
    if !body["content"].is_object() {
        return zoom_error(StatusCode::BAD_REQUEST, 300, "Invalid field: content.");
    }
    let items = body["content"]["body"].as_array().map_or(&[][..], Vec::as_slice);
    let texts = items.iter().map(|item| &item["text"]).chain([&body["content"]["head"]["text"]]);
    if texts.filter_map(Value::as_str).any(|text| text.encode_utf16().count() > MAX_MESSAGE_UTF16) {
        return zoom_error(StatusCode::BAD_REQUEST, 300, TOO_LONG);
    }
    let markdown = body["is_markdown_support"] == true;
    let message_id = format!("2025010112000{:04}_fake_web", inner.sent.len() + 1);
    let answer = json!({
        "message_id": message_id,
        "robot_jid": body["robot_jid"],
        "to_jid": body["to_jid"],
        "sent_time": "2025-01-01 12:00:00",
    });
    inner.sent.push(SentMessage { message_id, body, markdown, authorization: authorization.to_owned() });
    inner.watch.send_replace(());
    (StatusCode::CREATED, Json(answer)).into_response()
}

/// A scripted failure as Zoom's API answers it.
fn api_failure(failure: &Failure) -> Response {
    match failure {
        Failure::Unauthorized => zoom_error(StatusCode::UNAUTHORIZED, 124, "Invalid access token."),
        Failure::TooManyRequests { retry_after_secs } => {
            let mut response = zoom_error(
                StatusCode::TOO_MANY_REQUESTS,
                429,
                "You have reached the maximum per-second rate limit for this API. Try again later.",
            );
            if let Some(seconds) = retry_after_secs {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
            }
            response
        }
        Failure::ServerError => zoom_error(StatusCode::INTERNAL_SERVER_ERROR, 500, "Internal Server Error."),
    }
}

/// Zoom's error JSON: `{"code": N, "message": "..."}`.
fn zoom_error(status: StatusCode, code: u32, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

async fn not_found() -> Response {
    zoom_error(StatusCode::NOT_FOUND, 404, "Not Found.")
}
