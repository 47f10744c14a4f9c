//! The HTML pages. Every form works without JavaScript; `static/js/` only makes them nicer.
//!
//! Handlers return `Result<_, PageError>`: an error becomes a redirect to sign in or the error
//! page, in the visitor's language.

pub mod auth;
pub mod bot;
pub mod channel;
pub mod chat;
pub mod identity;
pub mod index;
pub mod profile;
pub mod qr;
pub mod resource;
pub mod resources;
pub mod sign_in_methods;
pub mod telegram;
pub mod usage;
pub mod welcome;
pub mod zoom;

use assistchat_proto::v1::GetProfileRequest;
use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};
use serde::Deserialize;

use crate::{
    core_client::qr::MAX_BODY_BYTES,
    http::{
        error::{PageError, show_page_errors},
        visitor::Visitor,
    },
    i18n::Lang,
    state::AppState,
    view::layout::Page,
};

/// The routes of every page, with their errors rendered as pages.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(index::index))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/register", get(auth::register_page).post(auth::register))
        .route("/auth/link", post(identity::link_with_password))
        .route("/auth/{provider}", get(identity::begin))
        .route("/auth/{provider}/callback", get(identity::callback))
        .route("/welcome", get(welcome::show).post(welcome::redeem))
        .route("/logout", post(auth::logout))
        .route("/lang", post(auth::switch_language))
        .route("/profile", get(profile::profile_page).post(profile::update_personal))
        .route("/profile/ai", post(profile::update_ai))
        .route("/profile/key", post(profile::set_key))
        .route("/profile/key/clear", post(profile::clear_key))
        .route("/profile/key/test", post(profile::test_key))
        .route("/profile/tokens", post(profile::create_token))
        .route("/profile/tokens/{id}/delete", post(profile::delete_token))
        .route("/profile/password", post(sign_in_methods::set_password))
        .route("/profile/delete", post(profile::delete_account))
        .route("/profile/identities/{id}/link", post(identity::begin_link))
        .route("/profile/identities/{id}/unlink", post(sign_in_methods::unlink))
        .route("/bot", post(bot::toggle))
        .route("/chat", get(chat::show).post(chat::send))
        .route("/chat/reset", post(chat::reset))
        .route("/chat/{id}", get(chat::show_one).post(chat::send_to))
        .route("/chat/{id}/{action}", post(chat::act))
        .route("/resources", get(resources::list).post(resources::create))
        // A static segment (a channel's page) wins over `{id}` in axum's router, and resource
        // ids are hex.
        .merge(channel::routes())
        .route("/resources/{id}", get(resource::show).post(resource::update))
        .route("/resources/{id}/{action}", post(resource::act))
        .route("/qr", get(qr::qr_page).post(qr::make).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)))
        .layer(axum::middleware::from_fn_with_state(state, show_page_errors))
}

/// The frame of a page at `path` for the visitor, with their profile (one call to core) when
/// they are signed in. A session that core no longer knows is treated as signed out.
pub async fn frame(state: &AppState, visitor: &Visitor, path: &'static str) -> Result<Page, PageError> {
    let csrf = visitor.csrf_token().unwrap_or_default();
    if !visitor.signed_in() {
        return Ok(Page { lang: visitor.lang, user: None, csrf, path });
    }
    match state.core.profile().get_profile(visitor.meta.request(GetProfileRequest {})).await {
        Ok(response) => {
            let profile = response.into_inner().profile.unwrap_or_default();
            let lang = Lang::from_code(&profile.language_code).unwrap_or(visitor.lang);
            Ok(Page { lang, user: Some(profile), csrf, path })
        }
        Err(status) if status.code() == tonic::Code::Unauthenticated => {
            Ok(Page { lang: visitor.lang, user: None, csrf: String::new(), path })
        }
        Err(status) => Err(status.into()),
    }
}

/// The frame of a page only an account sees: to sign in first for anyone else.
pub async fn signed_in_frame(state: &AppState, visitor: &Visitor, path: &'static str) -> Result<Page, PageError> {
    let page = frame(state, visitor, path).await?;
    if page.user.is_none() {
        return Err(PageError::sign_in());
    }
    Ok(page)
}

/// Query of `GET /profile` and `GET /resources/{id}`: whether a change was just saved.
#[derive(Debug, Default, Deserialize)]
pub struct Saved {
    /// Set after a successful change.
    pub saved: Option<String>,
    /// The id of the provider just linked to the account.
    pub linked: Option<String>,
    /// After a password change: how many other sessions it ended.
    pub ended_sessions: Option<u32>,
    /// After a password change: how many API tokens it revoked.
    pub revoked_tokens: Option<u32>,
}
