//! `/qr`: the public QR code tool's page.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use maud::html;

use super::layout::{Page, notice, page_error};
use crate::{AppState, visitor::Visitor};

/// `GET /qr`.
pub async fn qr_page(State(state): State<AppState>, visitor: Visitor) -> Response {
    let page = match Page::load(&state, &visitor, "/qr").await {
        Ok(page) => page,
        Err(err) => return page_error(visitor.lang, err),
    };
    let body = html! {
        h1 { (page.t("qr.title")) }
        p { (page.t("qr.text")) }
        (notice("info", page.t("error.not_available")))
    };
    page.render("qr.title", body).into_response()
}
