//! `/welcome`: the one-time sign-in link the operator made for an account
//! (`assistchat-core users create`), which signs its owner in and sends them to the profile to
//! set a password.
//!
//! Opening the link spends nothing: mail scanners and link previews open links too. The page
//! has one button, whose POST spends the link at core.

use assistchat_proto::v1::RedeemSignInLinkRequest;
use axum::{
    Form,
    extract::{Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;
use tonic::Code;

use crate::{
    http::{error::PageError, visitor::Visitor},
    state::AppState,
    view::layout::{Page, notice},
};

/// The link's query, and the form its button posts: the token.
#[derive(Default, Deserialize)]
pub struct WelcomeToken {
    /// The link's token.
    #[serde(default)]
    token: String,
}
redacted_debug!(WelcomeToken { ; token });

fn body(page: &Page, token: &str, problem: Option<&str>) -> Markup {
    html! {
        section.auth {
            h1 { (page.t("welcome.title")) }
            @if let Some(problem) = problem {
                (notice("error", problem))
                p { a href="/login" { (page.t("nav.login")) } }
            } @else {
                p { (page.t("welcome.intro")) }
                form method="post" action="/welcome" {
                    input type="hidden" name="token" value=(token);
                    button type="submit" { (page.t("welcome.submit")) }
                }
            }
        }
    }
}

/// The page carries the token: neither cached nor sent on as a referrer.
fn private(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// `GET /welcome?token=...`: the button that signs in with the link.
pub async fn show(visitor: Visitor, Query(link): Query<WelcomeToken>) -> Response {
    let page = Page::signed_out(visitor.lang, "/welcome");
    private(StatusCode::OK, page.render("welcome.title", body(&page, &link.token, None)))
}

/// `POST /welcome`: spends the link, signs the browser in and goes to the profile, where the
/// owner sets a password.
pub async fn redeem(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Form(link): Form<WelcomeToken>,
) -> Result<Response, PageError> {
    let request = visitor.meta.request(RedeemSignInLinkRequest { token: link.token });
    match state.core.auth().redeem_sign_in_link(request).await {
        Ok(response) => {
            let token = response.into_inner().session.unwrap_or_default().token;
            Ok((jar.add(visitor.session_cookie(token)), Redirect::to("/profile")).into_response())
        }
        Err(status) if status.code() == Code::FailedPrecondition => {
            let page = Page::signed_out(visitor.lang, "/welcome");
            let problem = visitor.lang.t("welcome.spent");
            Ok(private(StatusCode::BAD_REQUEST, page.render("welcome.title", body(&page, "", Some(problem)))))
        }
        Err(status) => Err(status.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_links_token_never_shows_in_debug_output() {
        let token = WelcomeToken { token: "wl_one-time-token-5150".into() };
        let shown = format!("{token:?}");
        assert!(!shown.contains("one-time-token") && shown.contains("<redacted>"), "{shown}");
    }
}
