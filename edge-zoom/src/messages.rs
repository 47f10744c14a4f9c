//! Sending a chatbot message: `POST {api}/v2/im/chat/messages` with the chatbot token. A 401 gets
//! one new token and one more try; 429 and 5xx are tried again after a pause (Zoom's
//! `Retry-After` when it sends one), a few times.

use std::{sync::Arc, time::Duration};

use assistchat_edge_client::backoff::Backoff;
use serde_json::{Value, json};

use crate::token::{TokenError, Tokens, without_url};

/// Attempts to send one message while Zoom answers 429 or 5xx or cannot be reached.
const ATTEMPTS: u32 = 4;
/// The longest pause Zoom's `Retry-After` is followed for: a person is waiting for the answer.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No token: the credentials were refused, or Zoom's OAuth server failed.
    #[error("no chatbot token: {0}")]
    Token(#[from] TokenError),
    /// Zoom refused the message; its status and what it said.
    #[error("Zoom refused the message ({0}): {1}")]
    Refused(u16, String),
    /// Zoom failed or could not be reached, every time.
    #[error("{0}")]
    Unavailable(String),
}

/// A reply to send.
#[derive(Clone, Debug)]
pub struct Outgoing<'a> {
    /// The chat: a person's JID or a channel's.
    pub to_jid: &'a str,
    /// The account the chat belongs to.
    pub account_id: &'a str,
    /// The text, in Zoom's Markdown (see `format`).
    pub text: &'a str,
    /// The message to thread under, if any.
    pub reply_to: Option<&'a str>,
}

/// One chatbot's way to send messages.
pub struct Messages {
    http: reqwest::Client,
    /// `{api}/v2/im/chat/messages`.
    url: url::Url,
    /// The chatbot's JID, which every message is sent as.
    robot_jid: String,
    tokens: Arc<Tokens>,
}

impl Messages {
    /// Messages sent as `robot_jid` through the API at `api_url` (such as "https://api.zoom.us").
    pub fn new(http: reqwest::Client, api_url: &url::Url, robot_jid: &str, tokens: Arc<Tokens>) -> Self {
        let url = api_url.join("v2/im/chat/messages").expect("a path joins any base URL");
        Self { http, url, robot_jid: robot_jid.to_owned(), tokens }
    }

    /// The request body Zoom takes for `message`.
    pub fn body(&self, message: &Outgoing) -> Value {
        let mut body = json!({
            "robot_jid": self.robot_jid,
            "to_jid": message.to_jid,
            "account_id": message.account_id,
            "content": {"body": [{"type": "message", "text": message.text}]},
            "is_markdown_support": true,
        });
        if let Some(reply_to) = message.reply_to {
            body["reply_to"] = reply_to.into();
        }
        body
    }

    /// Sends `message`; returns the id Zoom gave it.
    pub async fn send(&self, message: &Outgoing<'_>) -> Result<String, SendError> {
        let body = self.body(message);
        let mut token = self.tokens.get().await?;
        let (mut renewed, mut attempt, mut backoff) = (false, 0, Backoff::default());
        loop {
            attempt += 1;
            let sent = self.http.post(self.url.clone()).bearer_auth(&token).json(&body).send().await;
            let (failure, retry_after) = match sent {
                Ok(response) if response.status().is_success() => {
                    let answer: Value = response.json().await.unwrap_or_default();
                    return Ok(answer["message_id"].as_str().unwrap_or_default().to_owned());
                }
                // The token expired early or was revoked: one new token, one more try.
                Ok(response) if response.status().as_u16() == 401 && !renewed => {
                    token = self.tokens.renew(&token).await?;
                    renewed = true;
                    continue;
                }
                Ok(response) if response.status().as_u16() == 429 || response.status().is_server_error() => {
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok())
                        .map(|seconds| Duration::from_secs(seconds).min(MAX_RETRY_AFTER));
                    (format!("Zoom answered {}", response.status()), retry_after)
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let answer: Value = response.json().await.unwrap_or_default();
                    return Err(SendError::Refused(status, answer["message"].as_str().unwrap_or_default().to_owned()));
                }
                Err(err) => (format!("Zoom cannot be reached: {}", without_url(err)), None),
            };
            if attempt >= ATTEMPTS {
                return Err(SendError::Unavailable(failure));
            }
            let pause = backoff.next_delay();
            tokio::time::sleep(retry_after.map_or(pause, |wait| wait.max(pause))).await;
        }
    }
}
