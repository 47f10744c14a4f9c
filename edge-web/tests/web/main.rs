//! Tests of the web edge: each starts a real core (SQLite, port 0) and the web edge in front of
//! it, and talks HTTP to the web edge.

mod browser;
mod helpers;
mod test_edge;

mod api;
mod chat;
mod conversations;
mod conversations_api;
mod journey;
mod layers;
mod limits;
mod own_data;
mod pages;
mod proxies;
mod qr;
mod readiness;
mod resource_pages;
mod resources;
mod sign_in_with_google;
mod stream_limits;
mod telegram_page;
mod zoom_page;
