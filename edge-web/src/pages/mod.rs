//! The HTML pages. Every form works without JavaScript; `static/js/` only makes them nicer.

pub mod auth;
pub mod bot;
pub mod channel;
pub mod chat;
pub mod identity;
pub mod index;
pub mod layout;
pub mod profile;
pub mod qr;
pub mod resource;
pub mod resources;
pub mod settings_form;
pub mod sign_in_methods;
pub mod telegram;
pub mod usage;
pub mod welcome;
pub mod zoom;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};

use crate::{AppState, qr::MAX_BODY_BYTES};

/// The routes of every page.
pub fn routes() -> Router<AppState> {
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
        .route("/profile/identities/{id}/link", post(identity::begin_link))
        .route("/profile/identities/{id}/unlink", post(sign_in_methods::unlink))
        .route("/bot", post(bot::toggle))
        .route("/chat", get(chat::show).post(chat::send))
        .route("/chat/reset", post(chat::reset))
        .route("/resources", get(resources::list).post(resources::create))
        // A static segment wins over `{id}` in axum's router, and resource ids are hex.
        .route(telegram::PATH, get(telegram::show).post(telegram::connect))
        .route(zoom::PATH, get(zoom::show).post(zoom::connect))
        .route("/resources/{id}", get(resource::show).post(resource::update))
        .route("/resources/{id}/{action}", post(resource::act))
        .route("/qr", get(qr::qr_page).post(qr::make).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)))
}
