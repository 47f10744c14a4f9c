//! The one AI client: it asks an OpenAI-compatible server (OpenAI, Ollama, vLLM, OpenRouter...)
//! for a reply with the key, base URL and model of the caller's mode, retries what may pass
//! (429 rate limits, 5xx, timeouts, a server that cannot be reached) with exponential backoff and
//! jitter within a deadline, and sorts failures into what the user can act on.
//!
//! Servers users chose are reached through the outbound policy ([`crate::outbound`]); the
//! operator's own server is not. What any server answers is bounded: a JSON answer at
//! [`MAX_JSON_BYTES`], a reply at [`MAX_REPLY_CHARS`] and, streamed or not, at the deadline in
//! all; of an error answer only its status and the first sentence of its message are kept.

use std::time::Duration;

use async_openai::{
    Client,
    config::OpenAIConfig,
    error::OpenAIError,
    types::chat::{
        ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
        ChatCompletionRequestUserMessage, ChatCompletionStreamOptions, CompletionUsage, CreateChatCompletionRequest,
        CreateChatCompletionRequestArgs,
    },
};
use tokio::{sync::mpsc, time::Instant};
use tokio_stream::{StreamExt, wrappers::ReceiverStream};

pub use crate::outbound::bounded::MAX_JSON_BYTES;
use crate::outbound::{self, Policy, Refusal, bounded::Bounded};

/// The longest a reply may take, retries included.
pub const DEADLINE: Duration = Duration::from_secs(60);
/// The longest one attempt may take: a slow or hung server is cut off and tried again.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// The first wait between attempts; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// The longest reply taken, in characters: a server that sends more is cut off.
pub const MAX_REPLY_CHARS: usize = 100_000;
/// The most tokens a reply may have where the operator set no other cap
/// (`ASSISTCHAT_MAX_REPLY_TOKENS`).
pub const MAX_REPLY_TOKENS: u32 = 2048;

/// Where a call goes and with which key: the platform's in managed mode, the user's in byok.
#[derive(Clone)]
pub struct Target {
    /// The API key.
    pub api_key: String,
    /// The OpenAI-compatible base URL, such as "https://api.openai.com/v1".
    pub base_url: String,
    /// The model, such as "gpt-4o-mini".
    pub model: String,
}

// The key must never reach a log line.
impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("base_url", &self.base_url).field("model", &self.model).finish()
    }
}

/// The platform's own AI settings: the key managed users' replies are paid with, and the base
/// URL and model used where a user chose none.
#[derive(Clone)]
pub struct PlatformAi {
    /// The platform's key; `None` when the operator set none.
    pub api_key: Option<String>,
    /// The OpenAI-compatible base URL.
    pub base_url: String,
    /// The default model.
    pub model: String,
}

// The key must never reach a log line.
impl std::fmt::Debug for PlatformAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformAi")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .finish()
    }
}

/// Who said a turn of a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The instructions.
    System,
    /// The person.
    User,
    /// The assistant.
    Assistant,
}

/// One turn of a conversation as the model sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turn {
    /// Who said it.
    pub role: Role,
    /// What was said.
    pub text: String,
}

/// A reply and what it cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The reply's text.
    pub text: String,
    /// Tokens sent.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Whether the counts are estimates, the server having reported none.
    pub estimated: bool,
}

/// A piece of a streamed reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// The next text, to append to the text before it.
    Delta(String),
    /// The end: the whole reply and what it cost.
    Done(Reply),
}

/// Why no reply came, in the terms the user can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AiError {
    /// The server refused the key (401 or 403).
    #[error("the model's server rejected the key: {0}")]
    KeyRejected(String),
    /// The key's own quota or credit is spent (429 insufficient_quota): waiting does not help.
    #[error("the key's quota is spent: {0}")]
    QuotaSpent(String),
    /// The server refused the request itself (say, an unknown model): retrying does not help.
    #[error("the model's server refused the request: {0}")]
    Refused(String),
    /// No reply within the deadline, retries included; the last failure says why.
    #[error("the model's server did not answer in time: {0}")]
    Unavailable(String),
    /// The server a user chose is at an address the outbound policy refuses.
    #[error("the model's server is not allowed: {0}")]
    Blocked(Refusal),
}

/// What to do after a failed attempt.
enum Failure {
    /// Try again after a backoff.
    Transient(String),
    /// Stop: trying again cannot help.
    Final(AiError),
}

/// Asks OpenAI-compatible servers for replies.
#[derive(Clone, Debug)]
pub struct AiClient {
    /// One HTTP client for every call to the operator's server, so that connections (and TLS
    /// sessions) are reused.
    http: reqwest::Client,
    /// One HTTP client for every call to a server a user chose: it connects only where
    /// `policy` permits, and follows no redirect.
    guarded: reqwest::Client,
    /// The outbound policy for servers users chose.
    policy: Policy,
    /// The operator's base URL: calls there use `http`, every other one `guarded`.
    operator_base_url: Option<String>,
    /// The longest a reply may take, retries included.
    deadline: Duration,
    /// The longest one attempt may take.
    attempt_timeout: Duration,
    /// The most tokens the model may write in one reply, sent with every chat call.
    max_reply_tokens: u32,
}

impl Default for AiClient {
    fn default() -> Self {
        Self::new(DEADLINE, ATTEMPT_TIMEOUT)
    }
}

impl AiClient {
    /// A client giving each reply `deadline` in all and each attempt `attempt_timeout`, under
    /// the default outbound policy for every server (see [`Self::with_outbound`]).
    pub fn new(deadline: Duration, attempt_timeout: Duration) -> Self {
        let policy = Policy::default();
        let guarded = policy.client();
        Self {
            http: reqwest::Client::new(),
            guarded,
            policy,
            operator_base_url: None,
            deadline,
            attempt_timeout,
            max_reply_tokens: MAX_REPLY_TOKENS,
        }
    }

    /// This client with `policy` for the servers users chose, and `operator_base_url` (the
    /// platform's, `ASSISTCHAT_OPENAI_BASE_URL`) as the operator's server, which it is not
    /// applied to: a user's key sent there goes where the operator decided.
    pub fn with_outbound(self, policy: Policy, operator_base_url: &str) -> Self {
        let guarded = policy.client();
        Self { guarded, policy, operator_base_url: Some(operator_base_url.trim_end_matches('/').to_owned()), ..self }
    }

    /// This client with every reply capped at `tokens` instead of [`MAX_REPLY_TOKENS`].
    #[must_use]
    pub fn with_max_reply_tokens(mut self, tokens: u32) -> Self {
        self.max_reply_tokens = tokens.max(1);
        self
    }

    /// The most tokens the model may write in one reply.
    pub fn max_reply_tokens(&self) -> u32 {
        self.max_reply_tokens
    }

    /// The model's reply to `turns`.
    pub async fn reply(&self, target: &Target, turns: &[Turn]) -> Result<Reply, AiError> {
        let request = chat_request(target, turns, false, self.max_reply_tokens)?;
        let client = self.client(target);
        let response = self
            .with_retries(|| {
                let (client, request) = (client.clone(), request.clone());
                async move { client.chat().create(request).await }
            })
            .await?;
        let text = response
            .choices
            .into_iter()
            .next()
            .and_then(|choice| choice.message.content)
            .ok_or_else(|| AiError::Unavailable("the server answered without a reply".into()))?;
        if text.chars().count() > MAX_REPLY_CHARS {
            return Err(too_long_reply());
        }
        Ok(finished(text, response.usage, turns))
    }

    /// The model's reply to `turns`, as it is generated. Opening the stream is retried like
    /// [`Self::reply`]; once text flows, a failure, no chunk for an attempt's timeout, the
    /// deadline passing (it covers the whole reply) or more than [`MAX_REPLY_CHARS`] end the
    /// stream with an error (the text sent so far is then no reply).
    pub async fn reply_stream(
        &self,
        target: &Target,
        turns: &[Turn],
    ) -> Result<ReceiverStream<Result<Piece, AiError>>, AiError> {
        let request = chat_request(target, turns, true, self.max_reply_tokens)?;
        let client = self.client(target);
        let deadline = Instant::now() + self.deadline;
        let mut chunks = self
            .with_retries(|| {
                let (client, request) = (client.clone(), request.clone());
                async move { client.chat().create_stream(request).await }
            })
            .await?;
        let (idle, whole) = (self.attempt_timeout, self.deadline);
        let turns = turns.to_vec();
        let (pieces, stream) = mpsc::channel(32);
        tokio::spawn(async move {
            let (mut text, mut usage, mut chars) = (String::new(), None, 0);
            loop {
                let wait_until = deadline.min(Instant::now() + idle);
                let chunk = match tokio::time::timeout_at(wait_until, chunks.next()).await {
                    Err(_) => {
                        let why = if Instant::now() >= deadline {
                            format!("the reply took longer than {} s in all", whole.as_secs_f32())
                        } else {
                            format!("the model stopped sending for {} s", idle.as_secs_f32())
                        };
                        let _ = pieces.send(Err(AiError::Unavailable(why))).await;
                        return;
                    }
                    Ok(None) => break,
                    Ok(Some(Err(err))) => {
                        let err = match classify(err) {
                            Failure::Final(err) => err,
                            Failure::Transient(why) => AiError::Unavailable(why),
                        };
                        let _ = pieces.send(Err(err)).await;
                        return;
                    }
                    Ok(Some(Ok(chunk))) => chunk,
                };
                usage = chunk.usage.or(usage);
                let deltas = chunk.choices.into_iter().filter_map(|choice| choice.delta.content);
                for delta in deltas.filter(|delta| !delta.is_empty()) {
                    chars += delta.chars().count();
                    if chars > MAX_REPLY_CHARS {
                        let _ = pieces.send(Err(too_long_reply())).await;
                        return;
                    }
                    text.push_str(&delta);
                    if pieces.send(Ok(Piece::Delta(delta))).await.is_err() {
                        return;
                    }
                }
            }
            let _ = pieces.send(Ok(Piece::Done(finished(text, usage, &turns)))).await;
        });
        Ok(ReceiverStream::new(stream))
    }

    /// The models the target's server offers with its key, by name.
    pub async fn list_models(&self, target: &Target) -> Result<Vec<String>, AiError> {
        let client = self.client(target);
        let listed = self
            .with_retries(|| {
                let client = client.clone();
                async move { client.models().list().await }
            })
            .await?;
        Ok(listed.data.into_iter().map(|model| model.id).collect())
    }

    /// Checks a key against its server's models endpoint.
    pub async fn check_key(&self, target: &Target) -> Result<(), AiError> {
        let client = self.client(target);
        self.with_retries(|| {
            let client = client.clone();
            async move { client.models().list().await }
        })
        .await
        .map(|_| ())
    }

    /// Runs `attempt` until it succeeds, fails for good, or the deadline passes.
    async fn with_retries<T, F>(&self, attempt: impl Fn() -> F) -> Result<T, AiError>
    where
        F: Future<Output = Result<T, OpenAIError>>,
    {
        let deadline = Instant::now() + self.deadline;
        let mut backoff = FIRST_BACKOFF;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let failure = match tokio::time::timeout(self.attempt_timeout.min(left), attempt()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(err)) => classify(err),
                Err(_) => {
                    Failure::Transient(format!("no answer within {} s", self.attempt_timeout.min(left).as_secs()))
                }
            };
            let why = match failure {
                Failure::Final(err) => return Err(err),
                Failure::Transient(why) => why,
            };
            let wait = jittered(backoff);
            if Instant::now() + wait >= deadline {
                return Err(AiError::Unavailable(why));
            }
            tracing::warn!(reason = %why, retry_in = ?wait, "model call failed; trying again");
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// A client for `target` on the shared HTTP client of its server (the operator's, or the
    /// guarded one of servers users chose), without the library's own retries: [`AiClient`]
    /// retries, within its deadline, so that one reply never waits on two retry policies.
    fn client(&self, target: &Target) -> Client<OpenAIConfig> {
        let config = OpenAIConfig::new().with_api_key(target.api_key.clone()).with_api_base(target.base_url.clone());
        let operator = self.operator_base_url.as_deref() == Some(target.base_url.trim_end_matches('/'));
        let (http, service) = if operator {
            (&self.http, Bounded::operator(self.http.clone()))
        } else {
            (&self.guarded, Bounded::user_set(self.guarded.clone(), self.policy.clone()))
        };
        Client::build(http.clone(), config).with_http_service(service)
    }
}

/// The failure of a reply longer than [`MAX_REPLY_CHARS`].
fn too_long_reply() -> AiError {
    AiError::Refused(format!("the reply was longer than {MAX_REPLY_CHARS} characters, so it was cut off"))
}

/// The chat request for `turns`, its reply capped at `max_reply_tokens`.
///
/// The cap goes in the field the server reads: OpenAI deprecated `max_tokens` for
/// `max_completion_tokens`, and its reasoning (o-series) models refuse `max_tokens` outright,
/// while many OpenAI-compatible servers (Ollama, llama.cpp, older vLLM) read only `max_tokens`
/// and ignore a field they do not know, which would leave the reply uncapped. Sending both is
/// not safe either, as OpenAI refuses some models' requests that carry `max_tokens`. So OpenAI's
/// own hosts (and Azure OpenAI's) get `max_completion_tokens`, every other server `max_tokens`.
fn chat_request(
    target: &Target,
    turns: &[Turn],
    stream: bool,
    max_reply_tokens: u32,
) -> Result<CreateChatCompletionRequest, AiError> {
    let mut request = CreateChatCompletionRequestArgs::default();
    request.model(target.model.clone()).messages(turns.iter().map(message).collect::<Vec<_>>());
    if speaks_max_completion_tokens(&target.base_url) {
        request.max_completion_tokens(max_reply_tokens);
    } else {
        // Deprecated by OpenAI, but the field the other OpenAI-compatible servers read.
        #[allow(deprecated)]
        request.max_tokens(max_reply_tokens);
    }
    if stream {
        request.stream_options(ChatCompletionStreamOptions { include_usage: Some(true), ..Default::default() });
    }
    request.build().map_err(|err| AiError::Refused(err.to_string()))
}

/// Whether the server at `base_url` is OpenAI's (or Azure OpenAI's), which takes the reply cap
/// as `max_completion_tokens`.
fn speaks_max_completion_tokens(base_url: &str) -> bool {
    let host = reqwest::Url::parse(base_url).ok().and_then(|url| url.host_str().map(str::to_ascii_lowercase));
    host.is_some_and(|host| host == "api.openai.com" || host.ends_with(".openai.azure.com"))
}

/// The reply with its cost: the server's counts, or estimates when it gave none.
fn finished(text: String, usage: Option<CompletionUsage>, turns: &[Turn]) -> Reply {
    match usage {
        None => Reply::estimated(text, turns),
        Some(usage) => Reply {
            text,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            estimated: false,
        },
    }
}

impl Reply {
    /// A reply to `turns` whose server reported no usage (or that was cut short), with its
    /// counts estimated.
    pub fn estimated(text: String, turns: &[Turn]) -> Self {
        Self {
            prompt_tokens: turns.iter().map(|turn| estimate_tokens(&turn.text)).sum(),
            completion_tokens: estimate_tokens(&text),
            estimated: true,
            text,
        }
    }
}

fn message(turn: &Turn) -> ChatCompletionRequestMessage {
    let text = turn.text.clone();
    match turn.role {
        Role::System => ChatCompletionRequestSystemMessage::from(text).into(),
        Role::User => ChatCompletionRequestUserMessage::from(text).into(),
        Role::Assistant => ChatCompletionRequestAssistantMessage::from(text).into(),
    }
}

/// Sorts a failed attempt: what may pass is retried, what cannot is returned. Of what a
/// server said only its status and the first sentence of its message are kept.
fn classify(err: OpenAIError) -> Failure {
    match err {
        OpenAIError::ApiError(response) => {
            let status = response.status_code;
            let error = &response.api_error;
            let quota = [error.r#type.as_deref(), error.code.as_deref()].contains(&Some("insufficient_quota"));
            let message = outbound::one_sentence(&error.message);
            let said = if message.is_empty() { status.to_string() } else { format!("{}: {message}", status.as_u16()) };
            match status.as_u16() {
                401 | 403 => Failure::Final(AiError::KeyRejected(said)),
                429 if quota => Failure::Final(AiError::QuotaSpent(said)),
                429 | 408 | 409 | 500..=599 => Failure::Transient(said),
                _ => Failure::Final(AiError::Refused(said)),
            }
        }
        OpenAIError::Reqwest(err) => {
            if let Some(refusal) = outbound::refusal_in(&err) {
                Failure::Final(AiError::Blocked(refusal.clone()))
            } else if outbound::bounded::too_long(&err) {
                Failure::Final(AiError::Refused(format!(
                    "the server's answer was longer than {} MiB, so it was cut off",
                    MAX_JSON_BYTES >> 20
                )))
            } else {
                Failure::Transient(outbound::one_sentence(&err.to_string()))
            }
        }
        OpenAIError::Boxed(err) => match outbound::refusal_in(err.as_ref()) {
            Some(refusal) => Failure::Final(AiError::Blocked(refusal.clone())),
            None => Failure::Transient(outbound::one_sentence(&err.to_string())),
        },
        OpenAIError::StreamError(err) => Failure::Transient(outbound::one_sentence(&err.to_string())),
        OpenAIError::JSONDeserialize(err, _) => {
            Failure::Transient(format!("an answer that is not the API's: {}", outbound::one_sentence(&err.to_string())))
        }
        other => Failure::Final(AiError::Refused(outbound::one_sentence(&other.to_string()))),
    }
}

/// A random wait in the upper half of `backoff`, so that many clients do not retry together.
fn jittered(backoff: Duration) -> Duration {
    let fraction = f64::from(crate::crypto::random_bytes::<1>()[0]) / 255.0;
    backoff.mul_f64(0.5 + 0.5 * fraction)
}

/// About four characters a token, the usual rule for English; used when a server omits usage.
pub fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.chars().count().div_ceil(4)).unwrap_or(u32::MAX)
}

/// The most tokens `text` can cost, whatever its script: its length in UTF-8 bytes. Tokenizers
/// work on bytes and never make a token of less than one (OpenAI's byte-level ones, and
/// SentencePiece falling back to bytes), so no text costs more. [`estimate_tokens`] is the
/// usual cost of English, but Chinese, Japanese or Korean text and dense code can cost a token
/// a character or more, four times that estimate: a reservation against a quota takes this.
pub fn most_tokens(text: &str) -> u32 {
    u32::try_from(text.len()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_round_up_and_keys_stay_out_of_debug() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("hello"), 2);
        let target = Target { api_key: "sk-secret-1234".into(), base_url: "http://x/v1".into(), model: "m".into() };
        assert!(!format!("{target:?}").contains("sk-secret"));
    }

    #[test]
    fn the_most_a_text_can_cost_is_never_below_a_token_a_character() {
        // Chinese and Japanese cost about a token a character, some characters more; four
        // characters a token says a quarter of that.
        let cjk = "你好，世界。今日はいい天気ですね。";
        let characters = u32::try_from(cjk.chars().count()).unwrap();
        assert_eq!(most_tokens(cjk), 3 * characters, "three bytes each");
        assert!(estimate_tokens(cjk) < characters / 2, "why a reservation does not take the estimate");
        for text in ["hello world", "x[i]+=y[j]*z;//?", "Привет, мир", "🙂🙃", ""] {
            let characters = u32::try_from(text.chars().count()).unwrap();
            assert!(most_tokens(text) >= characters.max(estimate_tokens(text)), "{text}");
        }
    }

    #[test]
    fn the_reply_cap_goes_in_the_field_each_server_reads() {
        let turns = [Turn { role: Role::User, text: "hi".into() }];
        let body = |base_url: &str| {
            let target = Target { api_key: "k".into(), base_url: base_url.into(), model: "m".into() };
            serde_json::to_value(chat_request(&target, &turns, false, 321).unwrap()).unwrap()
        };
        for openai in ["https://api.openai.com/v1", "https://API.OpenAI.com/v1/", "https://x.openai.azure.com/o"] {
            let sent = body(openai);
            assert_eq!((sent["max_completion_tokens"].as_u64(), sent.get("max_tokens")), (Some(321), None), "{openai}");
        }
        for other in ["http://localhost:11434/v1", "https://openrouter.ai/api/v1", "https://api.openai.com.evil/v1"] {
            let sent = body(other);
            assert_eq!((sent["max_tokens"].as_u64(), sent.get("max_completion_tokens")), (Some(321), None), "{other}");
        }
    }
}
