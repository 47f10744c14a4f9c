//! The JSON body of an API request.

use axum::{
    Json,
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::StatusCode,
};

use super::error::ApiError;
use crate::error::AppError;

/// The largest request body of an ordinary route: a chat message of core's longest, every
/// character percent-encoded, fits with room to spare. The QR tool's routes take a logo and
/// have their own, larger limit ([`crate::core_client::qr::MAX_BODY_BYTES`]).
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// A JSON body, with a JSON error naming what is wrong when it is not one.
pub struct Body<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                let message = format!("the request body is over {} KiB; send a smaller one", MAX_BODY_BYTES / 1024);
                Err(ApiError(AppError::TooLarge { field: "body", message }))
            }
            Err(rejection) => Err(ApiError(AppError::BadRequest(rejection_message(&rejection)))),
        }
    }
}

fn rejection_message(rejection: &JsonRejection) -> String {
    format!("{}; send a JSON object with content-type application/json", rejection.body_text())
}
