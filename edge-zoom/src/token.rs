//! The chatbot token: Zoom's client-credentials grant (`POST {oauth}/oauth/token`, Basic auth with
//! the app's client id and secret), kept until shortly before it expires so that a busy chatbot
//! asks for one an hour, not one a message. A token Zoom refuses early is renewed on demand.

use std::time::Duration;

use assistchat_edge_client::backoff::Backoff;
use serde::Deserialize;
use tokio::{sync::Mutex, time::Instant};

/// How long before its expiry a token is renewed (at most half its life).
const RENEW_BEFORE: Duration = Duration::from_secs(60);
/// Attempts to get a token while Zoom answers 429 or 5xx or cannot be reached.
const ATTEMPTS: u32 = 3;

/// Why no token came.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Zoom refused the client id or secret.
    #[error("Zoom rejected the client id or secret")]
    Rejected,
    /// Zoom could not be asked, or failed; says how.
    #[error("{0}")]
    Unavailable(String),
}

/// Keeps one app's chatbot token.
pub struct Tokens {
    http: reqwest::Client,
    /// `{oauth}/oauth/token?grant_type=client_credentials`.
    url: url::Url,
    client_id: String,
    client_secret: String,
    /// The token in use, if any; the lock also makes concurrent callers wait for one request.
    current: Mutex<Option<Current>>,
}

// The secret and the token must never reach a log line.
impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("url", &self.url.as_str()).field("client_id", &self.client_id).finish()
    }
}

struct Current {
    value: String,
    /// When to stop using it and ask for a new one.
    renew_at: Instant,
}

/// Zoom's answer to a token request.
#[derive(Deserialize)]
struct Granted {
    access_token: String,
    /// Seconds the token lives.
    expires_in: u64,
}

impl Tokens {
    /// Tokens of the app `client_id` from the OAuth server at `oauth_url` (such as
    /// "https://zoom.us").
    pub fn new(http: reqwest::Client, oauth_url: &url::Url, client_id: &str, client_secret: &str) -> Self {
        let mut url = oauth_url.join("oauth/token").expect("a path joins any base URL");
        url.set_query(Some("grant_type=client_credentials"));
        Self {
            http,
            url,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            current: Mutex::new(None),
        }
    }

    /// A token that is still good, asking Zoom for one if none is.
    pub async fn get(&self) -> Result<String, TokenError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref().filter(|token| token.renew_at > Instant::now()) {
            return Ok(token.value.clone());
        }
        let fresh = self.request().await?;
        let value = fresh.value.clone();
        *current = Some(fresh);
        Ok(value)
    }

    /// A new token after Zoom refused `refused`, unless another caller has renewed it already.
    pub async fn renew(&self, refused: &str) -> Result<String, TokenError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref().filter(|token| token.value != refused && token.renew_at > Instant::now())
        {
            return Ok(token.value.clone());
        }
        *current = None;
        let fresh = self.request().await?;
        let value = fresh.value.clone();
        *current = Some(fresh);
        Ok(value)
    }

    async fn request(&self) -> Result<Current, TokenError> {
        let mut backoff = Backoff::default();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let asked = Instant::now();
            let sent =
                self.http.post(self.url.clone()).basic_auth(&self.client_id, Some(&self.client_secret)).send().await;
            let failure = match sent {
                Ok(response) if response.status().is_success() => {
                    let granted: Granted = response
                        .json()
                        .await
                        .map_err(|err| TokenError::Unavailable(format!("Zoom's token answer is unreadable: {err}")))?;
                    let life = Duration::from_secs(granted.expires_in);
                    let renew_at = asked + life - RENEW_BEFORE.min(life / 2);
                    return Ok(Current { value: granted.access_token, renew_at });
                }
                // Zoom answers 401 (or 400 `invalid_client`) for an unknown id or a wrong secret.
                Ok(response) if matches!(response.status().as_u16(), 400 | 401 | 403) => {
                    return Err(TokenError::Rejected);
                }
                Ok(response) if response.status().as_u16() == 429 || response.status().is_server_error() => {
                    format!("Zoom answered {}", response.status())
                }
                Ok(response) => return Err(TokenError::Unavailable(format!("Zoom answered {}", response.status()))),
                Err(err) => format!("Zoom cannot be reached: {}", without_url(err)),
            };
            if attempt >= ATTEMPTS {
                return Err(TokenError::Unavailable(failure));
            }
            tokio::time::sleep(backoff.next_delay()).await;
        }
    }
}

/// A request error without its URL, which says nothing the operator does not know.
pub fn without_url(err: reqwest::Error) -> String {
    err.without_url().to_string()
}

#[cfg(test)]
mod tests {
    use super::Tokens;

    #[test]
    fn the_client_secret_never_shows_in_debug_output() {
        let oauth = url::Url::parse("https://zoom.example.test").unwrap();
        let tokens = Tokens::new(reqwest::Client::new(), &oauth, "ZoomClient0123", "ZoomSecret0123456789abcdef");
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("ZoomSecret0123456789abcdef"), "{shown}");
        assert!(shown.contains("ZoomClient0123"), "{shown}");
    }
}
