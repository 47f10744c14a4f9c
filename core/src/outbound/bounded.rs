//! The HTTP service under the AI client, at async-openai's middleware boundary: for a server a
//! user chose it checks an IP-literal destination before sending (names are checked by the
//! client's resolver), and for every model server it bounds what is read of the answer and
//! reads error answers itself, keeping of them only the status and the first sentence of the
//! API error's `message`. async-openai would otherwise read and log whole error bodies.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use async_openai::{
    error::{ApiError, ApiErrorResponse, OpenAIError},
    middleware::HttpRequestFactory,
};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use reqwest::{StatusCode, header::CONTENT_TYPE};
use serde_json::Value;

use super::{Policy, one_sentence};

/// The most read of a JSON answer (a reply or the list of models).
pub const MAX_JSON_BYTES: usize = 1 << 20;
/// The most read of a streamed answer, events and their JSON included.
pub const MAX_STREAM_BYTES: usize = 16 << 20;
/// The most read of an error answer.
const MAX_ERROR_BYTES: usize = 64 << 10;
/// The longest error `type` or `code` kept, in characters.
const MAX_CODE_CHARS: usize = 64;

/// Sends async-openai's requests with a reqwest client, under the checks and bounds above.
#[derive(Clone, Debug)]
pub struct Bounded {
    /// The client that connects.
    http: reqwest::Client,
    /// The policy to check IP-literal destinations against; `None` for the operator's servers.
    policy: Option<Policy>,
}

impl Bounded {
    /// For a server the operator configured: answers bounded, destinations not checked.
    pub fn operator(http: reqwest::Client) -> Self {
        Self { http, policy: None }
    }

    /// For a server a user chose: `http` must be `policy`'s [`Policy::client`].
    pub fn user_set(http: reqwest::Client, policy: Policy) -> Self {
        Self { http, policy: Some(policy) }
    }
}

impl tower::Service<HttpRequestFactory> for Bounded {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let request = factory.build().await?;
            if let Some(policy) = &this.policy {
                policy.check_literal(request.url()).map_err(|refusal| OpenAIError::Boxed(Box::new(refusal)))?;
            }
            let response = this.http.execute(request).await.map_err(OpenAIError::Reqwest)?;
            bound(response).await
        })
    }
}

/// The answer with its body limited, or the error it carries.
async fn bound(response: reqwest::Response) -> Result<reqwest::Response, OpenAIError> {
    let status = response.status();
    if status.is_redirection() {
        // Only a user-set server's client leaves redirects to us; following one would lead past
        // the checks of the address it was saved with.
        let message = "the server answered with a redirect, which is not followed; enter the address it leads to \
                       as the base URL";
        return Err(api_error(status, message.into(), None, None));
    }
    if !status.is_success() {
        return Err(error_answer(response).await);
    }
    let content_type = response.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
    let limit = if content_type.starts_with("text/event-stream") { MAX_STREAM_BYTES } else { MAX_JSON_BYTES };
    let (parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
    let limited = reqwest::Body::wrap(Limited::new(body, limit));
    Ok(reqwest::Response::from(http::Response::from_parts(parts, limited)))
}

/// An error answer read by us, bounded: its status and the first sentence of its message.
async fn error_answer(response: reqwest::Response) -> OpenAIError {
    let status = response.status();
    let body = http::Response::<reqwest::Body>::from(response).into_body();
    let bytes = Limited::new(body, MAX_ERROR_BYTES).collect().await.map(|read| read.to_bytes()).unwrap_or_default();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let error = &value["error"];
    // OpenAI nests {message, type, code} under "error"; some servers (Ollama) send a string.
    let message = error["message"].as_str().or(error.as_str()).unwrap_or_default();
    let short = |text: &Value| text.as_str().map(|text| text.chars().take(MAX_CODE_CHARS).collect::<String>());
    api_error(status, one_sentence(message), short(&error["type"]), short(&error["code"]))
}

fn api_error(status: StatusCode, message: String, kind: Option<String>, code: Option<String>) -> OpenAIError {
    OpenAIError::ApiError(ApiErrorResponse {
        status_code: status,
        api_error: ApiError { message, r#type: kind, code, ..ApiError::default() },
    })
}

/// Whether `err` came from an answer longer than its limit here.
pub fn too_long(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(err) = current {
        if err.is::<LengthLimitError>() {
            return true;
        }
        current = err.source();
    }
    false
}
