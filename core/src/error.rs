//! The domain error of core, and its one mapping to a gRPC status.
//!
//! Domain code returns [`Error`]; the tonic layer turns it into a [`Status`] in one place, so
//! every service uses the status codes the same way. Internal details are logged here and never
//! sent to the caller.

use std::{borrow::Cow, time::Duration};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::store::StoreError;

/// What went wrong, in the terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `INVALID_ARGUMENT`: a request field is wrong; `field` names it for the caller.
    #[error("{field}: {message}")]
    InvalidArgument {
        /// The request field at fault, as named in the proto (with a path below it where the
        /// field holds structured data, such as "meta_json.allowed_users").
        field: Cow<'static, str>,
        /// What is wrong with it and what to send instead.
        message: String,
    },
    /// `UNAUTHENTICATED`: no credentials, or credentials that are wrong, expired or revoked.
    #[error("{0}")]
    Unauthenticated(String),
    /// `PERMISSION_DENIED`: the caller is known but what they brought is refused (a provider's
    /// code or token that fails a check).
    #[error("{0}")]
    PermissionDenied(String),
    /// `NOT_FOUND`: the object does not exist or belongs to someone else.
    #[error("{0}")]
    NotFound(String),
    /// `ALREADY_EXISTS`: the object would clash with one already stored.
    #[error("{0}")]
    AlreadyExists(String),
    /// `FAILED_PRECONDITION`: the request is valid but the system is not in a state to do it.
    #[error("{0}")]
    FailedPrecondition(String),
    /// `RESOURCE_EXHAUSTED`: throttled; the caller may try again after `retry_after`.
    #[error("{message}")]
    ResourceExhausted {
        /// What was throttled and why.
        message: String,
        /// How long to wait before trying again.
        retry_after: Duration,
    },
    /// `RESOURCE_EXHAUSTED`: a quota is spent; the message says when or how to go on.
    #[error("{0}")]
    QuotaSpent(String),
    /// `RESOURCE_EXHAUSTED` with `RetryInfo`: the caller has as much running at once as they may
    /// (model calls, streams). Unlike [`Error::ResourceExhausted`], the message is sent as it is:
    /// it is already in the person's words, with what to do and when.
    #[error("{message}")]
    Busy {
        /// What is full and what to do, in the person's language.
        message: String,
        /// How long to wait before trying again.
        retry_after: Duration,
    },
    /// `UNAVAILABLE`: a dependency is down; trying again later may work.
    #[error("{0}")]
    Unavailable(String),
    /// `INTERNAL`: a bug or a broken dependency; the details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// An `INVALID_ARGUMENT` for `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidArgument { field: Cow::Borrowed(field), message: message.into() }
    }

    /// An `INVALID_ARGUMENT` for a field whose name is built at run time.
    pub fn invalid_owned(field: String, message: impl Into<String>) -> Self {
        Self::InvalidArgument { field: Cow::Owned(field), message: message.into() }
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(detail) => {
                tracing::error!(error = %detail, "database unavailable");
                Self::Unavailable("the database is unavailable; try again shortly".into())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::crypto::SecretError> for Error {
    fn from(err: crate::crypto::SecretError) -> Self {
        Self::Internal(err.to_string())
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidArgument { field, message } => Status::with_error_details(
                Code::InvalidArgument,
                format!("{field}: {message}"),
                ErrorDetails::with_bad_request_violation(field, message),
            ),
            Error::Unauthenticated(message) => Status::unauthenticated(message),
            Error::PermissionDenied(message) => Status::permission_denied(message),
            Error::NotFound(message) => Status::not_found(message),
            Error::AlreadyExists(message) => Status::already_exists(message),
            Error::FailedPrecondition(message) => Status::failed_precondition(message),
            Error::ResourceExhausted { message, retry_after } => {
                // Whole seconds, rounded up, so a client that waits exactly this long succeeds.
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                Status::with_error_details(
                    Code::ResourceExhausted,
                    format!("{message}; try again in {seconds} s"),
                    ErrorDetails::with_retry_info(Some(Duration::from_secs(seconds))),
                )
            }
            Error::QuotaSpent(message) => Status::resource_exhausted(message),
            Error::Busy { message, retry_after } => {
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                Status::with_error_details(
                    Code::ResourceExhausted,
                    message,
                    ErrorDetails::with_retry_info(Some(Duration::from_secs(seconds.max(1)))),
                )
            }
            Error::Unavailable(message) => Status::unavailable(message),
            Error::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                Status::internal("internal error; it has been logged, try again later")
            }
        }
    }
}

/// The result of domain code.
pub type Result<T, E = Error> = std::result::Result<T, E>;
