//! What every response gets: security headers, and the refusal of cross-site changes.
//!
//! Caching: every response is `Cache-Control: no-store` unless its handler chose otherwise
//! (only the static files do). Pages and API answers here are made for one visitor and many
//! carry a secret: a session or CSRF token (sign-in, registration, every form), a personal API
//! token just created, the masked AI key, the settings of a resource. Marking all of them is
//! simpler and safer than keeping a list a new page could be left out of, and costs nothing,
//! since none of them could be shared from a cache anyway.

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{error::ApiError, visitor::Visitor};
use crate::{error::AppError, i18n::Lang, state::AppState, view::layout::error_page};

/// Only the site's own scripts, styles and images run; no framing; no plugins.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Once a browser has seen the site over HTTPS, it uses only HTTPS for it (and its
/// subdomains) for a year: nobody on the way can strip the TLS off a later visit.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000; includeSubDomains";

/// Adds the security headers to every response: HSTS when the request came over HTTPS (as the
/// visitor's cookies are Secure: the same rule, read in one place), and `no-store` unless the
/// handler set its own caching.
pub async fn headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(visitor) = Visitor::from_request_parts(&mut parts, &state).await;
    let mut response = next.run(Request::from_parts(parts, body)).await;
    let headers = response.headers_mut();
    if visitor.secure {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(STRICT_TRANSPORT_SECURITY));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    response
}

/// Refuses (403) a state-changing request that a browser says comes from another site:
/// `Sec-Fetch-Site: cross-site`, or an `Origin` whose host is not this one. Requests without
/// either header (scripts, old browsers) pass to the handlers, which require the CSRF token
/// whenever the session cookie is used.
pub async fn cross_site_check(request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && is_cross_site(&request) {
        tracing::warn!(path = %request.uri().path(), "cross-site request refused");
        if request.uri().path().starts_with("/api/") {
            return ApiError(AppError::Forbidden).into_response();
        }
        let lang = request
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Lang::from_accept_language);
        return error_page(lang.unwrap_or_default(), &AppError::Forbidden);
    }
    next.run(request).await
}

fn is_cross_site(request: &Request) -> bool {
    let headers = request.headers();
    if headers.get("sec-fetch-site").is_some_and(|site| site == "cross-site") {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return false };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}
