//! Who is asking: the session cookie or bearer token of an HTTP request, its language, and the
//! CSRF token that guards every change made with the cookie.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, header, request::Parts},
};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::{config::SecureCookies, core_client::CallMeta, error::AppError, i18n::Lang, state::AppState};

/// The session cookie's name over plain HTTP.
pub const SESSION_COOKIE: &str = "assistchat_session";
/// The session cookie's name over HTTPS: the prefix makes browsers refuse it unless it is
/// Secure, host-only and for path `/`.
pub const SECURE_SESSION_COOKIE: &str = "__Host-assistchat_session";
/// The cookie that remembers a signed-out visitor's language choice.
pub const LANG_COOKIE: &str = "assistchat_lang";
/// The cookie that holds the `state` of a sign-in begun with an identity provider, over plain
/// HTTP.
pub const SIGN_IN_STATE_COOKIE: &str = "assistchat_sign_in";
/// The same cookie over HTTPS: the prefix makes browsers refuse it unless it is Secure.
pub const SECURE_SIGN_IN_STATE_COOKIE: &str = "__Secure-assistchat_sign_in";
/// The only path the sign-in state cookie is sent to: the provider's way back,
/// `/auth/<provider>/callback`.
pub const SIGN_IN_STATE_PATH: &str = "/auth";
/// How long a begun sign-in may take, in seconds: core keeps its state for ten minutes too.
pub const SIGN_IN_STATE_MAX_AGE_SECS: i64 = 600;
/// The header scripts send the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// Nothing: a visitor.
    None,
    /// The session cookie: changes need the CSRF token too.
    Cookie,
    /// `Authorization: Bearer`: a script with a personal API token, immune to CSRF.
    Bearer,
}

/// The caller of one HTTP request.
#[derive(Clone, Debug)]
pub struct Visitor {
    /// What gRPC calls made for this request carry.
    pub meta: CallMeta,
    /// How the token in `meta` was presented.
    pub credential: Credential,
    /// The language for a signed-out visitor (a signed-in user's profile language wins).
    pub lang: Lang,
    /// Whether cookies set in the response are Secure.
    pub secure: bool,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let headers = &parts.headers;
        let jar = CookieJar::from_headers(headers);
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        // Without trusted proxies configured, anyone's X-Forwarded-Proto is believed: it can
        // only make the cookies of the one who sent it Secure. With them, only theirs.
        let proto_believed =
            state.config.trusted_proxies.is_empty() || peer.is_some_and(|peer| state.config.is_trusted_proxy(&peer));
        let secure = match state.config.secure_cookies {
            SecureCookies::Always => true,
            SecureCookies::Never => false,
            SecureCookies::Auto => {
                parts.uri.scheme_str() == Some("https")
                    || proto_believed
                        && headers
                            .get("x-forwarded-proto")
                            .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"))
            }
        };
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned());
        let cookie = jar.get(session_cookie_name(secure)).map(|c| c.value().to_owned()).filter(|v| !v.is_empty());
        let (token, credential) = match (bearer, cookie) {
            (Some(token), _) => (Some(token), Credential::Bearer),
            (None, Some(token)) => (Some(token), Credential::Cookie),
            (None, None) => (None, Credential::None),
        };
        let lang = jar
            .get(LANG_COOKIE)
            .and_then(|c| Lang::from_code(c.value()))
            .or_else(|| {
                headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(Lang::from_accept_language)
            })
            .unwrap_or_default();
        let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|value| value.to_str().ok());
        let client_ip = peer.map(|peer| state.config.client_address(peer, forwarded));
        Ok(Self { meta: CallMeta { request_id, client_ip, token }, credential, lang, secure })
    }
}

/// The session cookie's name for a request over HTTPS (`secure`) or not.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure { SECURE_SESSION_COOKIE } else { SESSION_COOKIE }
}

/// The CSRF token of a session: derived from the session token, which only the browser holding
/// the HttpOnly cookie knows, so no state is kept and another site cannot compute it.
pub fn csrf_token_for(session_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::new().chain_update(b"assistchat csrf\0").chain_update(session_token).finalize())
}

impl Visitor {
    /// Whether the caller presented any credential.
    pub fn signed_in(&self) -> bool {
        self.meta.token.is_some()
    }

    /// The CSRF token to put in this visitor's forms; `None` without a session cookie.
    pub fn csrf_token(&self) -> Option<String> {
        match (self.credential, &self.meta.token) {
            (Credential::Cookie, Some(token)) => Some(csrf_token_for(token)),
            _ => None,
        }
    }

    /// Checks the CSRF token presented with a change made with the session cookie.
    pub fn check_csrf(&self, presented: Option<&str>) -> Result<(), AppError> {
        let Some(expected) = self.csrf_token() else { return Ok(()) };
        let matches = presented.is_some_and(|given| constant_time_eq(given.as_bytes(), expected.as_bytes()));
        if matches { Ok(()) } else { Err(AppError::Forbidden) }
    }

    /// The CSRF token a script sent in the `x-csrf-token` header.
    pub fn header_csrf(headers: &HeaderMap) -> Option<&str> {
        headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok())
    }

    /// The cookie that signs the browser in with `token`.
    pub fn session_cookie(&self, token: String) -> Cookie<'static> {
        Cookie::build((session_cookie_name(self.secure), token))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .path("/")
            .build()
    }

    /// A cookie that removes the session cookie.
    pub fn removed_session_cookie(&self) -> Cookie<'static> {
        let mut cookie = self.session_cookie(String::new());
        cookie.make_removal();
        cookie
    }

    /// The name of the sign-in state cookie for this request's scheme.
    pub fn sign_in_state_cookie_name(&self) -> &'static str {
        if self.secure { SECURE_SIGN_IN_STATE_COOKIE } else { SIGN_IN_STATE_COOKIE }
    }

    /// The short-lived cookie that remembers which sign-in with an identity provider this browser
    /// began (`value`), so that only this browser can finish it.
    pub fn sign_in_state_cookie(&self, value: String) -> Cookie<'static> {
        Cookie::build((self.sign_in_state_cookie_name(), value))
            .http_only(true)
            // Lax: the provider sends the browser back with a top-level GET from its own site.
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .path(SIGN_IN_STATE_PATH)
            .max_age(cookie::time::Duration::seconds(SIGN_IN_STATE_MAX_AGE_SECS))
            .build()
    }

    /// A cookie that removes the sign-in state cookie.
    pub fn removed_sign_in_state_cookie(&self) -> Cookie<'static> {
        let mut cookie = self.sign_in_state_cookie(String::new());
        cookie.make_removal();
        cookie
    }

    /// The cookie that remembers a language choice for a year.
    pub fn lang_cookie(&self, lang: Lang) -> Cookie<'static> {
        Cookie::build((LANG_COOKIE, lang.code()))
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .path("/")
            .max_age(time_year())
            .build()
    }

    /// The browser's address.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.meta.client_ip
    }
}

fn time_year() -> cookie::time::Duration {
    cookie::time::Duration::days(365)
}

/// Whether `a` and `b` are equal, in a time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_bound_to_the_session() {
        assert_eq!(csrf_token_for("acs_a"), csrf_token_for("acs_a"));
        assert_ne!(csrf_token_for("acs_a"), csrf_token_for("acs_b"));
        assert!(!csrf_token_for("acs_secret").contains("secret"));
    }
}
