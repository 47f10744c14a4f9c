//! What went wrong with a request, as one type whatever the layer: its HTTP status, its code in
//! the JSON API, the field at fault and the words for a person. [`crate::http::error`] answers it
//! as a JSON body or a page.

use std::time::Duration;

use axum::http::StatusCode;
use tonic::Code;
use tonic_types::StatusExt;

use crate::i18n::Lang;

/// What went wrong with a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 403: a change from another site, or made with the session cookie but without its CSRF
    /// token; nothing was changed.
    #[error("forbidden")]
    Forbidden,
    /// 404: no such page.
    #[error("not found")]
    NotFound,
    /// 400: the request body could not be read.
    #[error("{0}")]
    BadRequest(String),
    /// 400: a form field is wrong; `field` names it as the form does.
    #[error("{message}")]
    Invalid {
        /// The form field at fault.
        field: String,
        /// What is wrong with it and what to send instead.
        message: String,
    },
    /// 413: the request body is over its route's limit; `field` names the part that made it so.
    #[error("{message}")]
    TooLarge {
        /// The form field that is too large.
        field: &'static str,
        /// What the limit is.
        message: String,
    },
    /// What core answered, mapped to the matching HTTP status.
    #[error("{}", .0.message())]
    Core(#[from] tonic::Status),
}

impl AppError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_) | Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Core(status) => match status.code() {
                Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
                Code::Unauthenticated => StatusCode::UNAUTHORIZED,
                Code::PermissionDenied => StatusCode::FORBIDDEN,
                Code::NotFound => StatusCode::NOT_FOUND,
                Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
                Code::FailedPrecondition => StatusCode::PRECONDITION_FAILED,
                Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
                Code::Unavailable | Code::DeadlineExceeded => StatusCode::SERVICE_UNAVAILABLE,
                Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// Core's answer, with the field at fault of an `INVALID_ARGUMENT` named by `rename` as the
    /// JSON API and the forms name it.
    pub fn with_field_renamed(status: tonic::Status, rename: impl FnOnce(&str) -> String) -> Self {
        if status.code() != Code::InvalidArgument {
            return status.into();
        }
        let details = status.get_error_details();
        let Some(violation) = details.bad_request().and_then(|b| b.field_violations.first()) else {
            return status.into();
        };
        Self::Invalid { field: rename(&violation.field), message: violation.description.clone() }
    }

    /// The request field named as wrong, if any.
    pub fn field(&self) -> Option<String> {
        match self {
            Self::Invalid { field, .. } => Some(field.clone()),
            Self::TooLarge { field, .. } => Some((*field).to_owned()),
            Self::Core(status) => {
                let details = status.get_error_details();
                details.bad_request().and_then(|b| b.field_violations.first()).map(|v| v.field.clone())
            }
            _ => None,
        }
    }

    /// How long core asked the caller to wait, if it throttled the request.
    pub fn retry_after(&self) -> Option<Duration> {
        let Self::Core(status) = self else { return None };
        status.get_error_details().retry_info().and_then(|info| info.retry_delay)
    }

    /// What core said about the field at fault, or else its whole message: for the calls whose
    /// messages core writes for the person, in their language.
    pub fn detail(&self) -> String {
        match self {
            Self::Invalid { message, .. } | Self::TooLarge { message, .. } | Self::BadRequest(message) => {
                message.clone()
            }
            Self::Core(status) => {
                let details = status.get_error_details();
                let violation = details.bad_request().and_then(|b| b.field_violations.first());
                violation.map_or_else(|| status.message().to_owned(), |v| v.description.clone())
            }
            Self::Forbidden | Self::NotFound => String::new(),
        }
    }

    /// Whether core itself answered with this error, rather than the call failing on the way
    /// (core down, connection lost, our own timeout): only core's answers carry its words.
    pub fn from_core(&self) -> bool {
        matches!(self, Self::Core(status) if std::error::Error::source(status).is_none())
    }

    /// The error's code in the JSON API, such as `invalid_argument` or `resource_exhausted`.
    pub fn code(&self) -> String {
        match self {
            Self::Forbidden => "forbidden".into(),
            Self::NotFound => "not_found".into(),
            Self::BadRequest(_) => "bad_request".into(),
            Self::Invalid { .. } => "invalid_argument".into(),
            Self::TooLarge { .. } => "payload_too_large".into(),
            Self::Core(status) => snake_case(&format!("{:?}", status.code())),
        }
    }

    /// The gRPC code of a call to core that failed, whether core answered it or the call failed
    /// on the way; `None` for the web edge's own errors.
    pub fn grpc_code(&self) -> Option<Code> {
        match self {
            Self::Core(status) => Some(status.code()),
            _ => None,
        }
    }

    /// Whether core refused the caller's credential (sign in again).
    pub fn is_unauthenticated(&self) -> bool {
        matches!(self, Self::Core(status) if status.code() == Code::Unauthenticated)
    }

    /// A message for a person, in `lang`, saying what happened and what to do.
    pub fn user_message(&self, lang: Lang) -> String {
        match self {
            Self::Forbidden => lang.t("error.forbidden").into(),
            Self::NotFound => lang.t("error.not_found").into(),
            Self::BadRequest(_) => lang.t("error.bad_request").into(),
            Self::Invalid { message, .. } | Self::TooLarge { message, .. } => self.field_message(lang, message),
            Self::Core(status) => match status.code() {
                Code::Unavailable | Code::DeadlineExceeded => lang.t("error.core_unavailable").into(),
                Code::ResourceExhausted => {
                    let seconds = self.retry_after().map_or(60, |d| d.as_secs().max(1));
                    lang.format("error.throttled", &[("seconds", &seconds.to_string())])
                }
                Code::Unauthenticated => lang.t("error.sign_in_again").into(),
                Code::AlreadyExists => lang.t("error.email_taken").into(),
                Code::InvalidArgument => self.field_message(lang, status.message()),
                Code::Unimplemented => lang.t("error.not_available").into(),
                _ => lang.t("error.internal").into(),
            },
        }
    }

    /// The catalogue's advice for the field at fault, or `detail` when it has none.
    fn field_message(&self, lang: Lang, detail: &str) -> String {
        let key = self.field().map(|field| format!("error.field.{field}"));
        match key.filter(|key| crate::i18n::has_message(key)) {
            Some(key) => lang.t(&key).into(),
            None => lang.format("error.invalid", &[("detail", detail)]),
        }
    }
}

/// `ResourceExhausted` → `resource_exhausted`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 && !out.ends_with('_') {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_codes_become_http_statuses() {
        let cases = [
            (Code::InvalidArgument, 400),
            (Code::Unauthenticated, 401),
            (Code::PermissionDenied, 403),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::FailedPrecondition, 412),
            (Code::ResourceExhausted, 429),
            (Code::Unavailable, 503),
        ];
        for (code, http) in cases {
            assert_eq!(AppError::Core(tonic::Status::new(code, "x")).status().as_u16(), http, "{code:?}");
        }
        assert_eq!(snake_case("ResourceExhausted"), "resource_exhausted");
    }
}
