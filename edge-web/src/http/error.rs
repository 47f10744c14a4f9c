//! Errors answered over HTTP: [`ApiError`] as a JSON body for scripts, [`PageError`] as a page
//! (or a redirect to sign in) for people. Handlers return them and use `?`.

use std::sync::Arc;

use axum::{
    Json,
    extract::Request,
    http::header,
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};

use super::visitor::Visitor;
use crate::{
    error::AppError,
    i18n::Lang,
    view::{
        json::{ErrorBody, ErrorDetail},
        layout::error_page,
    },
};

/// An [`AppError`] answered as JSON: `{"error": {"code", "message", "field"?}}`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        let status = err.status();
        let code = err.code();
        let message = match &err {
            AppError::Forbidden => "cross-site request or missing CSRF token; send the x-csrf-token header from the same origin, or use a bearer token".to_owned(),
            AppError::NotFound => "no such endpoint".to_owned(),
            AppError::BadRequest(message) | AppError::Invalid { message, .. } | AppError::TooLarge { message, .. } => {
                message.clone()
            }
            AppError::Core(status) => status.message().to_owned(),
        };
        if status.is_server_error() {
            tracing::warn!(%status, %code, %message, "API request failed");
        }
        let body = ErrorBody { error: ErrorDetail { code, message, field: err.field() } };
        let mut response = (status, Json(body)).into_response();
        if let Some(wait) = err.retry_after() {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// A page that could not be made: a redirect to sign in when core refused the credential (or the
/// page needs an account), else the error page in the visitor's language.
#[derive(Debug)]
pub struct PageError {
    /// What went wrong.
    error: AppError,
    /// The language to tell it in, when the handler knows better than the visitor's choice (a
    /// profile's language, say).
    lang: Option<Lang>,
}

impl<E: Into<AppError>> From<E> for PageError {
    fn from(err: E) -> Self {
        Self { error: err.into(), lang: None }
    }
}

impl PageError {
    /// The page needs an account: to sign in first.
    pub fn sign_in() -> Self {
        tonic::Status::unauthenticated("sign in first").into()
    }

    /// `err`, told in `lang`: for [`Result::map_err`] once a page knows its language.
    pub fn in_lang<E: Into<AppError>>(lang: Lang) -> impl FnOnce(E) -> Self {
        move |err| Self { error: err.into(), lang: Some(lang) }
    }
}

/// An error page waiting for its language, which only [`show_page_errors`] knows.
#[derive(Clone)]
struct Untold(Arc<AppError>);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if self.error.is_unauthenticated() {
            return to_login();
        }
        if self.error.status().is_server_error() {
            tracing::warn!(error = %self.error, "page failed");
        }
        match self.lang {
            Some(lang) => error_page(lang, &self.error),
            None => {
                let mut response = self.error.status().into_response();
                response.extensions_mut().insert(Untold(Arc::new(self.error)));
                response
            }
        }
    }
}

/// Middleware of the pages: renders a [`PageError`] in the visitor's language, keeping the
/// cookies the handler set (a sign-in's state cookie removed, say).
pub async fn show_page_errors(visitor: Visitor, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let Some(Untold(error)) = response.extensions().get::<Untold>() else { return response };
    let mut page = error_page(visitor.lang, error);
    for cookie in response.headers().get_all(header::SET_COOKIE) {
        page.headers_mut().append(header::SET_COOKIE, cookie.clone());
    }
    page
}

/// Where a page sends a visitor whose session is gone.
pub fn to_login() -> Response {
    Redirect::to("/login").into_response()
}
