//! The CSRF guard of changes made with the session cookie: forms carry the token in a `csrf`
//! field, scripts in the `x-csrf-token` header.

use axum::http::HeaderMap;
use serde::Deserialize;

use super::{error::ApiError, visitor::Visitor};

/// A form with only its CSRF token.
#[derive(Default, Deserialize)]
pub struct CsrfForm {
    /// The CSRF token of the session.
    #[serde(default)]
    pub csrf: String,
}

redacted_debug!(CsrfForm { ; csrf });

/// A change made through the JSON API with the session cookie needs the CSRF token in
/// `x-csrf-token`.
pub fn check_csrf(visitor: &Visitor, headers: &HeaderMap) -> Result<(), ApiError> {
    Ok(visitor.check_csrf(Visitor::header_csrf(headers))?)
}
