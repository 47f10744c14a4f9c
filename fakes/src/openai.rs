//! A fake of the OpenAI API: `POST /v1/chat/completions` (plain and streamed) and
//! `GET /v1/models`, with Bearer-key checks, a script of failures played one per chat request,
//! and a record of every request so a test can assert what the model was sent.
//!
//! ```no_run
//! # async fn example() {
//! use assistchat_fakes::openai::{Behaviour, FakeOpenAi};
//!
//! let fake = FakeOpenAi::start().await;
//! fake.push(Behaviour::ServerError); // the first chat request fails, the next ones answer
//! let base_url = fake.base_url(); // give this and any key to the code under test
//! # }
//! ```

mod wire;

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use crate::server::{Hangup, Server};
use wire::{Answer, Usage};

/// The model `GET /v1/models` lists.
pub const MODEL: &str = "gpt-4o-mini";

/// How the fake answers one chat request. Queued with [`FakeOpenAi::push`] and played in order,
/// one per chat request; with the queue empty it plays [`Behaviour::Answer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Answers with the default reply (see [`FakeOpenAi::set_reply`]).
    Answer,
    /// Answers with this text.
    Reply(String),
    /// Answers with the default reply but no usage: `"usage": null`, or no usage chunk when
    /// streaming.
    NoUsage,
    /// 429 for a rate limit (type `requests`, code `rate_limit_exceeded`), saying when to retry
    /// in `retry-after` (whole seconds, rounded up) and `x-ratelimit-reset-requests`.
    RateLimit {
        /// How long the client is told to wait.
        retry_after: Duration,
    },
    /// 429 for an exhausted quota (type and code `insufficient_quota`): retrying does not help.
    NoQuota,
    /// 500 with OpenAI's `server_error` body.
    ServerError,
    /// Waits this long before sending anything, then answers with the default reply.
    Slow(Duration),
    /// Sends the headers, then for a stream the role chunk and this many content chunks, and
    /// then nothing more, holding the connection open. A plain answer stalls before its body.
    Stall {
        /// Content chunks sent before the stall.
        after: usize,
    },
    /// Closes the connection without a response.
    Hangup,
    /// Never ends: for a stream the role chunk, then a content chunk of the default reply's
    /// first word every `every`, forever; a plain answer sends a space of its JSON every `every`.
    Trickle {
        /// The wait between two chunks.
        every: Duration,
    },
    /// Answers `307 Temporary Redirect` to `location`.
    Redirect {
        /// Where the answer sends the client.
        location: String,
    },
    /// Answers with this status and this body as they are (JSON when it starts with `{`,
    /// else plain text).
    Status {
        /// The HTTP status.
        code: u16,
        /// The body.
        body: String,
    },
}

/// One request as the fake received it.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// The HTTP method, e.g. `POST`.
    pub method: String,
    /// The path, e.g. `/v1/chat/completions`.
    pub path: String,
    /// The `Authorization` header as sent, e.g. `Bearer sk-test`.
    pub authorization: Option<String>,
    /// The JSON body; `Null` when there was none or it was not JSON.
    pub body: Value,
}

impl Recorded {
    /// The key from a `Bearer` authorization.
    pub fn api_key(&self) -> Option<&str> {
        self.authorization.as_deref()?.strip_prefix("Bearer ")
    }

    /// The `model` the request asked for.
    pub fn model(&self) -> Option<&str> {
        self.body["model"].as_str()
    }

    /// The `messages` sent, empty when there are none.
    pub fn messages(&self) -> &[Value] {
        self.body["messages"].as_array().map_or(&[], Vec::as_slice)
    }

    /// Whether the request asked for a stream.
    pub fn stream(&self) -> bool {
        self.body["stream"] == true
    }
}

/// A fake OpenAI API on `127.0.0.1`, served by a background task until dropped. Every setter
/// takes `&self`, so tests can share the fake while the code under test calls it.
pub struct FakeOpenAi {
    /// The server; dropping it stops serving.
    server: Server,
    /// What the handlers and the test share.
    state: Shared,
}

impl FakeOpenAi {
    /// Starts a fake on a free loopback port. It accepts any key and answers
    /// "You said: <last user message>".
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> Self {
        let state = Shared::default();
        let router = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/models", get(models))
            .fallback(not_found)
            .with_state(state.clone());
        FakeOpenAi { server: Server::start(router).await, state }
    }

    /// The API base, e.g. `http://127.0.0.1:PORT/v1`: what async-openai's
    /// `OpenAIConfig::with_api_base` takes.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.server.addr())
    }

    /// Queues a behaviour for the next chat request not yet scripted.
    pub fn push(&self, behaviour: Behaviour) {
        self.state.lock().script.push_back(behaviour);
    }

    /// Forgets the behaviours still queued: the next chat requests get the default reply.
    pub fn clear_script(&self) {
        self.state.lock().script.clear();
    }

    /// Makes requests with this key fail with 401 `invalid_api_key`.
    pub fn reject_key(&self, key: impl Into<String>) {
        self.state.lock().rejected.insert(key.into());
    }

    /// Makes requests with any key but these fail with 401 `invalid_api_key`.
    pub fn allow_only<I, K>(&self, keys: I)
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        self.state.lock().allowed = Some(keys.into_iter().map(Into::into).collect());
    }

    /// Sets the default reply, played by [`Behaviour::Answer`], instead of the echo.
    pub fn set_reply(&self, text: impl Into<String>) {
        self.state.lock().reply = Some(text.into());
    }

    /// Makes every chat request wait this long before anything is sent back.
    pub fn set_delay(&self, delay: Duration) {
        self.state.lock().delay = delay;
    }

    /// Every request sent to `/v1/chat/completions`, in order, rejected ones included.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().requests.iter().filter(|request| request.path == CHAT_PATH).cloned().collect()
    }

    /// How many requests were sent to `/v1/chat/completions`, rejected ones included.
    pub fn chat_calls(&self) -> usize {
        self.state.lock().requests.iter().filter(|request| request.path == CHAT_PATH).count()
    }

    /// Every request the fake received, on any path, in order.
    pub fn all_requests(&self) -> Vec<Recorded> {
        self.state.lock().requests.clone()
    }
}

const CHAT_PATH: &str = "/v1/chat/completions";

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
    /// Behaviours still to play, one per chat request.
    script: VecDeque<Behaviour>,
    /// The default reply; `None` echoes the last user message.
    reply: Option<String>,
    /// Waited before every chat answer.
    delay: Duration,
    /// Keys refused.
    rejected: HashSet<String>,
    /// When set, the only keys accepted.
    allowed: Option<HashSet<String>>,
    /// Every request received.
    requests: Vec<Recorded>,
    /// Numbers the answers' ids.
    answers: u64,
}

impl Inner {
    /// Records the request, then checks its key as OpenAI does, before anything else.
    fn admit(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap, body: Value) -> Result<(), KeyError> {
        let authorization = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
        self.requests.push(Recorded {
            method: method.to_string(),
            path: uri.path().to_owned(),
            authorization: authorization.map(str::to_owned),
            body,
        });
        let key = authorization.and_then(|value| value.strip_prefix("Bearer ")).map(str::trim).unwrap_or_default();
        if key.is_empty() {
            return Err(KeyError::Missing);
        }
        if self.rejected.contains(key) || self.allowed.as_ref().is_some_and(|keys| !keys.contains(key)) {
            return Err(KeyError::Refused(mask(key)));
        }
        Ok(())
    }
}

/// Why a request's key was not accepted; both are 401.
enum KeyError {
    /// No `Bearer` key at all.
    Missing,
    /// A key not accepted, masked as OpenAI shows it.
    Refused(String),
}

impl IntoResponse for KeyError {
    fn into_response(self) -> Response {
        match self {
            KeyError::Missing => error(StatusCode::UNAUTHORIZED, NO_KEY, "invalid_request_error", None),
            KeyError::Refused(masked) => {
                let message = format!(
                    "Incorrect API key provided: {masked}. You can find your API key at \
                     https://platform.openai.com/account/api-keys."
                );
                error(StatusCode::UNAUTHORIZED, &message, "invalid_request_error", Some("invalid_api_key"))
            }
        }
    }
}

const NO_KEY: &str = "You didn't provide an API key. You need to provide your API key in an Authorization header \
    using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if \
    you're accessing the API from your browser and are prompted for a username. You can obtain an API key from \
    https://platform.openai.com/account/api-keys.";

/// Shows a key as OpenAI does in errors: its first and last characters, the rest starred.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let (head, rest) = chars.split_at(3);
    let (middle, tail) = rest.split_at(rest.len() - 4);
    format!("{}{}{}", head.iter().collect::<String>(), "*".repeat(middle.len()), tail.iter().collect::<String>())
}

async fn chat(
    State(state): State<Shared>,
    Extension(hangup): Extension<Hangup>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body);
    let (behaviour, reply, delay, id) = {
        let mut inner = state.lock();
        if let Err(refused) = inner.admit(&method, &uri, &headers, parsed.as_ref().cloned().unwrap_or_default()) {
            return refused.into_response();
        }
        if parsed.is_err() {
            return error(StatusCode::BAD_REQUEST, BAD_JSON, "invalid_request_error", None);
        }
        inner.answers += 1;
        let behaviour = inner.script.pop_front().unwrap_or(Behaviour::Answer);
        (behaviour, inner.reply.clone(), inner.delay, format!("chatcmpl-fake{}", inner.answers))
    };
    let request = parsed.unwrap_or_default();
    tokio::time::sleep(delay).await;

    let text = match &behaviour {
        Behaviour::Reply(text) => text.clone(),
        _ => reply.unwrap_or_else(|| format!("You said: {}", last_user_text(&request))),
    };
    let model = request["model"].as_str().unwrap_or(MODEL);
    let usage = Usage { prompt: request_words(&request), completion: words(&text) };
    let mut answer = Answer { id: &id, created: now(), model, text: &text, usage: Some(usage) };
    let streamed = request["stream"] == true;
    let include_usage = request["stream_options"]["include_usage"] == true;

    match behaviour {
        Behaviour::Answer | Behaviour::Reply(_) => {}
        Behaviour::NoUsage => answer.usage = None,
        Behaviour::Slow(wait) => tokio::time::sleep(wait).await,
        Behaviour::RateLimit { retry_after } => return rate_limited(model, retry_after),
        Behaviour::NoQuota => {
            return error(StatusCode::TOO_MANY_REQUESTS, NO_QUOTA, "insufficient_quota", Some("insufficient_quota"));
        }
        Behaviour::ServerError => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, SERVER_ERROR, "server_error", None);
        }
        Behaviour::Stall { after } => {
            let sent =
                if streamed { answer.events(include_usage).into_iter().take(1 + after).collect() } else { vec![] };
            let body = tokio_stream::StreamExt::chain(
                tokio_stream::iter(sent.into_iter().map(Ok::<_, std::io::Error>)),
                tokio_stream::pending(),
            );
            let content_type = if streamed { EVENT_STREAM } else { JSON };
            return ([(header::CONTENT_TYPE, content_type)], Body::from_stream(body)).into_response();
        }
        Behaviour::Hangup => hangup.hang_up().await,
        Behaviour::Trickle { every } => return trickle(&answer, streamed, every),
        Behaviour::Redirect { location } => {
            return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response();
        }
        Behaviour::Status { code, body } => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let content_type = if body.starts_with('{') { JSON } else { "text/plain; charset=utf-8" };
            return (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
        }
    }

    if streamed {
        let events = answer.events(include_usage).into_iter().map(Ok::<_, std::io::Error>);
        ([(header::CONTENT_TYPE, EVENT_STREAM)], Body::from_stream(tokio_stream::iter(events))).into_response()
    } else {
        Json(answer.completion()).into_response()
    }
}

/// An answer that never ends: [`Behaviour::Trickle`].
fn trickle(answer: &Answer<'_>, streamed: bool, every: Duration) -> Response {
    let (first, content_type) = if streamed {
        let events = answer.events(false);
        (vec![events[0].clone()], EVENT_STREAM)
    } else {
        (vec![String::new()], JSON)
    };
    // The second event is the first word's chunk; a plain answer's leading spaces are valid JSON.
    let next = if streamed { answer.events(false)[1].clone() } else { " ".to_owned() };
    let ticks = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::IntervalStream::new(tokio::time::interval(every)),
        move |_| Ok::<_, std::io::Error>(next.clone()),
    );
    let body = tokio_stream::StreamExt::chain(tokio_stream::iter(first.into_iter().map(Ok)), ticks);
    ([(header::CONTENT_TYPE, content_type)], Body::from_stream(body)).into_response()
}

const EVENT_STREAM: &str = "text/event-stream; charset=utf-8";
const JSON: &str = "application/json";
const BAD_JSON: &str = "We could not parse the JSON body of your request. (HINT: This likely means you aren't \
    using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid \
    JSON. If you have trouble figuring out how to fix this, please contact us through our help center at \
    help.openai.com.)";
const NO_QUOTA: &str = "You exceeded your current quota, please check your plan and billing details. For more \
    information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.";
const SERVER_ERROR: &str = "The server had an error while processing your request. Sorry about that!";

/// The requests-per-minute limit the rate-limit errors claim.
const RPM_LIMIT: u32 = 3;

fn rate_limited(model: &str, retry_after: Duration) -> Response {
    let wait = go_duration(retry_after);
    let message = format!(
        "Rate limit reached for {model} in organization org-fake on requests per min (RPM): Limit {RPM_LIMIT}, \
         Used {RPM_LIMIT}, Requested 1. Please try again in {wait}. Visit https://platform.openai.com/account/rate-limits \
         to learn more."
    );
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, &message, "requests", Some("rate_limit_exceeded"));
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    headers.insert("x-ratelimit-limit-requests", HeaderValue::from(RPM_LIMIT));
    headers.insert("x-ratelimit-remaining-requests", HeaderValue::from(0));
    headers.insert("x-ratelimit-reset-requests", HeaderValue::try_from(wait).expect("ASCII"));
    response
}

/// A duration as OpenAI's rate-limit headers write it: `20s`, `1m30s`, `250ms`.
fn go_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let (minutes, seconds) = (duration.as_secs() / 60, duration.as_secs_f64() % 60.0);
    let seconds = format!("{seconds:.3}").trim_end_matches('0').trim_end_matches('.').to_owned();
    if minutes == 0 { format!("{seconds}s") } else { format!("{minutes}m{seconds}s") }
}

async fn models(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(refused) = state.lock().admit(&method, &uri, &headers, Value::Null) {
        return refused.into_response();
    }
    Json(wire::models(&[MODEL], MODEL_CREATED)).into_response()
}

/// When the listed model claims to have been created.
const MODEL_CREATED: u64 = 1_721_172_741;

async fn not_found(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(refused) = state.lock().admit(&method, &uri, &headers, Value::Null) {
        return refused.into_response();
    }
    let message = format!("Invalid URL ({method} {})", uri.path());
    error(StatusCode::NOT_FOUND, &message, "invalid_request_error", None)
}

fn error(status: StatusCode, message: &str, kind: &str, code: Option<&str>) -> Response {
    (status, Json(wire::error(message, kind, code))).into_response()
}

/// The text of the last user message: a string, or the text parts of a list of parts.
fn last_user_text(request: &Value) -> String {
    let messages = request["messages"].as_array().map_or(&[][..], Vec::as_slice);
    messages.iter().rev().find(|message| message["role"] == "user").map(content_text).unwrap_or_default()
}

fn content_text(message: &Value) -> String {
    match &message["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts.iter().filter_map(|part| part["text"].as_str()).collect::<Vec<_>>().join(" "),
        _ => String::new(),
    }
}

/// Prompt tokens, counted as words so tests can predict them.
fn request_words(request: &Value) -> u64 {
    request["messages"].as_array().map_or(0, |messages| messages.iter().map(|m| words(&content_text(m))).sum())
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}
