//! Signing in with an outside identity provider ("Sign in with Google", or any OpenID Connect
//! provider core is configured with): the buttons on the sign-in pages, the trip to the provider
//! and back (`GET /auth/{provider}`, `GET /auth/{provider}/callback`), linking a provider from the
//! profile, and linking a new identity to an existing account with its password (`POST
//! /auth/link`).
//!
//! Core keeps everything a sign-in needs (state, PKCE verifier, nonce). The web edge keeps only
//! the `state` in a short-lived cookie, and refuses a return from the provider whose `state` is not
//! that cookie's: nobody can make a browser finish a sign-in it did not begin.

use assistchat_proto::v1::{
    BeginIdentitySignInRequest, FinishIdentitySignInRequest, IdentityLinkRequired, IdentityProvider,
    LinkIdentityWithPasswordRequest, ListIdentityProvidersRequest, ListIdentityProvidersResponse,
    finish_identity_sign_in_response::Outcome,
};
use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;
use tonic::Code;

use super::{auth, profile};
use crate::{
    error::AppError,
    http::{
        csrf::CsrfForm,
        error::PageError,
        visitor::{Visitor, constant_time_eq},
    },
    i18n::Lang,
    state::AppState,
    view::layout::{Page, notice},
};

/// The query the provider sends the browser back with (RFC 6749, section 4.1.2).
#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    /// The `state` of the sign-in, as begun.
    #[serde(default)]
    state: String,
    /// The authorization code; absent when the provider sends an error.
    #[serde(default)]
    code: String,
    /// The provider's error code, such as `access_denied`.
    #[serde(default)]
    error: String,
    /// The provider's description of its error.
    #[serde(default)]
    error_description: String,
}

/// The form that links an identity to the existing account with its email.
#[derive(Default, Deserialize)]
pub struct LinkForm {
    /// The single-use token of core's `link_required` answer.
    #[serde(default)]
    link_token: String,
    /// The account's email, to show the form again.
    #[serde(default)]
    email: String,
    /// The provider's name, to show the form again.
    #[serde(default)]
    provider: String,
    /// The account's password.
    #[serde(default)]
    password: String,
}

redacted_debug!(LinkForm { email, provider ; link_token, password });

/// What a sign-in with a provider was begun for, kept in the state cookie beside the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Signing in (or up).
    SignIn,
    /// Linking the identity to the signed-in account, from the profile.
    Link,
}

impl Mode {
    /// The state cookie's value for a sign-in begun in this mode with `state`.
    fn cookie_value(self, state: &str) -> String {
        let tag = match self {
            Self::SignIn => 's',
            Self::Link => 'l',
        };
        format!("{tag}.{state}")
    }

    /// The mode and state of a state cookie's value.
    fn parse(value: &str) -> Option<(Self, &str)> {
        match value.split_once('.')? {
            ("s", state) if !state.is_empty() => Some((Self::SignIn, state)),
            ("l", state) if !state.is_empty() => Some((Self::Link, state)),
            _ => None,
        }
    }
}

/// Why a sign-in with a provider did not finish, told in the person's language once the page
/// knows it.
#[derive(Debug)]
pub struct Problem {
    /// The HTTP status of the page that tells it.
    status: StatusCode,
    /// The catalogue message, with a `{provider}` placeholder.
    key: &'static str,
    /// The provider's name to show.
    provider: String,
    /// What core said, when its words help the person (they name what was wrong).
    detail: Option<String>,
}

impl Problem {
    /// A problem the web edge found itself.
    pub(super) fn new(status: StatusCode, key: &'static str, provider: &str) -> Self {
        Self { status, key, provider: provider.to_owned(), detail: None }
    }

    /// A refusal by core, with its words when they are meant for the person.
    pub(super) fn from_core(status: StatusCode, key: &'static str, provider: &str, err: &AppError) -> Self {
        let detail = Some(err.detail()).filter(|detail| err.from_core() && !detail.trim().is_empty());
        Self { detail, ..Self::new(status, key, provider) }
    }

    /// What core's error means for a person using `provider`: the catalogue's words and the
    /// matching status, for the calls that begin and finish a sign-in.
    fn from_error(err: &AppError, provider: &str) -> Self {
        let Some(code) = err.grpc_code() else { return Self::new(err.status(), "error.internal", provider) };
        match code {
            Code::Unavailable | Code::DeadlineExceeded if err.from_core() => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "identity.unavailable", provider)
            }
            Code::Unavailable | Code::DeadlineExceeded => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "error.core_unavailable", provider)
            }
            Code::NotFound => Self::new(StatusCode::NOT_FOUND, "identity.unknown_provider", provider),
            // FAILED_PRECONDITION is what this request brought (a spent state, an unverified
            // email): 400 rather than 412, which speaks of conditional HTTP headers.
            Code::FailedPrecondition | Code::InvalidArgument => {
                Self::from_core(StatusCode::BAD_REQUEST, "identity.not_finished", provider, err)
            }
            Code::PermissionDenied => Self::from_core(StatusCode::FORBIDDEN, "identity.rejected", provider, err),
            Code::Unauthenticated => Self::new(StatusCode::UNAUTHORIZED, "error.sign_in_again", provider),
            Code::ResourceExhausted => Self::new(StatusCode::TOO_MANY_REQUESTS, "identity.throttled", provider),
            _ => {
                tracing::warn!(error = %err, "sign-in with an identity provider failed");
                Self::new(err.status(), "error.internal", provider)
            }
        }
    }

    /// The HTTP status of the page that tells it.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The problem and what to do next, as a notice, in `lang`.
    pub fn notice(&self, lang: Lang) -> Markup {
        let message = lang.format(self.key, &[("provider", &self.provider)]);
        html! {
            div.identity-problem {
                (notice("error", &message))
                @if let Some(detail) = &self.detail {
                    p.detail { (lang.format("identity.detail", &[("detail", detail)])) }
                }
            }
        }
    }
}

/// The identity providers core is configured with. A failure is logged and means no buttons:
/// the password form still works.
pub async fn providers(state: &AppState, visitor: &Visitor) -> Vec<IdentityProvider> {
    sign_in_options(state, visitor).await.identity_providers
}

/// The identity providers core is configured with and who may register. A failure is logged
/// and means no buttons and nothing said about registration: the password forms still work.
pub async fn sign_in_options(state: &AppState, visitor: &Visitor) -> ListIdentityProvidersResponse {
    let request = visitor.meta.request(ListIdentityProvidersRequest {});
    match state.core.auth().list_identity_providers(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            tracing::warn!(code = ?status.code(), message = status.message(), "cannot list the identity providers");
            ListIdentityProvidersResponse::default()
        }
    }
}

/// The name to show for the provider `id`: its configured name, or the id itself.
fn display_name(providers: &[IdentityProvider], id: &str) -> String {
    providers.iter().find(|p| p.id == id).map_or_else(|| id.to_owned(), |p| p.display_name.clone())
}

/// One "Sign in with …" button per provider, above the password form; nothing without any.
pub fn buttons(page: &Page, providers: &[IdentityProvider]) -> Markup {
    html! {
        @if !providers.is_empty() {
            div.identity-providers {
                @for provider in providers {
                    a.button.secondary.identity href=(format!("/auth/{}", provider.id)) data-provider=(provider.id) {
                        (page.lang.format("identity.sign_in_with", &[("provider", &provider.display_name)]))
                    }
                }
                p.or { (page.t("identity.or")) }
            }
        }
    }
}

/// `GET /auth/{provider}`: off to the provider to sign in (or up).
pub async fn begin(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Path(provider): Path<String>,
) -> Result<Response, PageError> {
    start(&state, &visitor, jar, &provider, Mode::SignIn).await
}

/// `POST /profile/identities/{provider}/link`: off to the provider to link it to the signed-in
/// account.
pub async fn begin_link(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Path(provider): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(Some(&form.csrf))?;
    if !visitor.signed_in() {
        return Err(PageError::sign_in());
    }
    start(&state, &visitor, jar, &provider, Mode::Link).await
}

/// Begins a sign-in at core, remembers its state in this browser and sends the browser to the
/// provider.
async fn start(
    state: &AppState,
    visitor: &Visitor,
    jar: CookieJar,
    provider: &str,
    mode: Mode,
) -> Result<Response, PageError> {
    let request = BeginIdentitySignInRequest { provider_id: provider.to_owned(), link: mode == Mode::Link };
    let begun = match state.core.auth().begin_identity_sign_in(visitor.meta.request(request)).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            let err = AppError::from(status);
            if mode == Mode::Link && err.is_unauthenticated() {
                return Err(err.into());
            }
            let providers = providers(state, visitor).await;
            let problem = Problem::from_error(&err, &display_name(&providers, provider));
            return Ok(failed(state, visitor, jar, mode, problem).await);
        }
    };
    // Only a web address may become the Location header.
    let url = begun.authorization_url;
    let sendable = (url.starts_with("https://") || url.starts_with("http://")) && HeaderValue::from_str(&url).is_ok();
    if !sendable || begun.state.is_empty() {
        tracing::error!("core began a sign-in without a usable authorization URL or state");
        let problem = Problem::new(StatusCode::BAD_GATEWAY, "error.internal", provider);
        return Ok(failed(state, visitor, jar, mode, problem).await);
    }
    let cookie = visitor.sign_in_state_cookie(mode.cookie_value(&begun.state));
    Ok((jar.add(cookie), Redirect::to(&url)).into_response())
}

/// `GET /auth/{provider}/callback`: the provider sent the browser back. Finishes the sign-in at
/// core if this browser began it: signed in, linked, or asked for the password of the account
/// that has the identity's email.
pub async fn callback(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Path(provider): Path<String>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let begun = jar.get(visitor.sign_in_state_cookie_name()).map(|cookie| cookie.value().to_owned());
    // Whatever happens now, this browser's begun sign-in is used up.
    let jar = jar.add(visitor.removed_sign_in_state_cookie());
    let matching = begun
        .as_deref()
        .and_then(Mode::parse)
        .filter(|(_, state)| !query.state.is_empty() && constant_time_eq(state.as_bytes(), query.state.as_bytes()));
    let Some((mode, _)) = matching else {
        tracing::info!(provider, cookie = begun.is_some(), "sign-in refused: not begun in this browser");
        let mode = if visitor.signed_in() { Mode::Link } else { Mode::SignIn };
        let providers = providers(&state, &visitor).await;
        let problem =
            Problem::new(StatusCode::BAD_REQUEST, "identity.not_started", &display_name(&providers, &provider));
        return failed(&state, &visitor, jar, mode, problem).await;
    };
    let consent_refused = !query.error.is_empty();
    let request = FinishIdentitySignInRequest {
        provider_id: provider.clone(),
        state: query.state,
        code: query.code,
        error: query.error,
        error_description: query.error_description,
        language_code: visitor.lang.code().into(),
    };
    let finished = state.core.auth().finish_identity_sign_in(visitor.meta.request(request)).await;
    let outcome = match finished {
        Ok(response) => response.into_inner().outcome,
        Err(status) => {
            let err = AppError::from(status);
            let providers = providers(&state, &visitor).await;
            let name = display_name(&providers, &provider);
            let problem = match err.grpc_code() {
                Some(Code::FailedPrecondition) if consent_refused => {
                    Problem::new(StatusCode::FORBIDDEN, "identity.denied", &name)
                }
                _ => Problem::from_error(&err, &name),
            };
            tracing::info!(provider, code = ?err.grpc_code(), "sign-in with an identity provider refused");
            return failed(&state, &visitor, jar, mode, problem).await;
        }
    };
    match outcome {
        Some(Outcome::SignedIn(signed_in)) => match signed_in.session {
            Some(session) if !session.token.is_empty() => auth::signed_in(&visitor, jar, Some(session)),
            _ => {
                tracing::error!("core signed someone in without a session");
                failed(&state, &visitor, jar, mode, Problem::new(StatusCode::BAD_GATEWAY, "error.internal", &provider))
                    .await
            }
        },
        Some(Outcome::Linked(linked)) => {
            (jar, Redirect::to(&format!("/profile?linked={}", linked.provider_id))).into_response()
        }
        Some(Outcome::LinkRequired(required)) => (jar, link_page(visitor.lang, &required.into(), None)).into_response(),
        None => {
            tracing::error!("core finished a sign-in without an outcome");
            failed(&state, &visitor, jar, mode, Problem::new(StatusCode::BAD_GATEWAY, "error.internal", &provider))
                .await
        }
    }
}

impl From<IdentityLinkRequired> for LinkForm {
    fn from(required: IdentityLinkRequired) -> Self {
        Self {
            link_token: required.link_token,
            email: required.email,
            provider: required.provider_display_name,
            password: String::new(),
        }
    }
}

/// Where a sign-in that did not finish lands: the profile for a link begun there by a signed-in
/// person, else the sign-in page; the state cookie is removed either way.
async fn failed(state: &AppState, visitor: &Visitor, jar: CookieJar, mode: Mode, problem: Problem) -> Response {
    let jar = jar.add(visitor.removed_sign_in_state_cookie());
    if mode == Mode::Link && visitor.signed_in() {
        return (jar, profile::show_problem(state, visitor, problem).await).into_response();
    }
    (jar, auth::login_with_problem(state, visitor, &problem).await).into_response()
}

/// The page that asks for the password of the account with the identity's email.
fn link_page(lang: Lang, form: &LinkForm, error: Option<(StatusCode, Markup)>) -> Response {
    let page = Page::signed_out(lang, "/auth/link");
    let provider = form.provider.as_str();
    let (status, error) = error.unwrap_or((StatusCode::OK, html! {}));
    let body = html! {
        section.auth #link-identity {
            h1 { (lang.format("identity.link_title", &[("provider", provider)])) }
            (error)
            p { (lang.format("identity.link_text", &[("email", &form.email), ("provider", provider)])) }
            form method="post" action="/auth/link" {
                input type="hidden" name="link_token" value=(form.link_token);
                input type="hidden" name="email" value=(form.email);
                input type="hidden" name="provider" value=(form.provider);
                label { (page.t("field.password")) input type="password" name="password" required autocomplete="current-password"; }
                button type="submit" { (lang.format("identity.link_submit", &[("provider", provider)])) }
            }
            p { (page.t("identity.link_other")) " " a href="/login" { (page.t("nav.login")) } }
        }
    };
    (status, page.render("identity.link_page_title", body)).into_response()
}

/// `POST /auth/link`: links the identity to the account whose password was entered, and signs
/// in; a wrong password shows the form again with the token kept.
pub async fn link_with_password(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Form(form): Form<LinkForm>,
) -> Response {
    let request =
        LinkIdentityWithPasswordRequest { link_token: form.link_token.clone(), password: form.password.clone() };
    let err = match state.core.auth().link_identity_with_password(visitor.meta.request(request)).await {
        Ok(response) => return auth::signed_in(&visitor, jar, response.into_inner().session),
        Err(status) => AppError::from(status),
    };
    let form = LinkForm { password: String::new(), ..form };
    let again = |message: String| link_page(visitor.lang, &form, Some((err.status(), notice("error", &message))));
    match err.grpc_code() {
        Some(Code::Unauthenticated) => {
            again(visitor.lang.format("identity.link_wrong_password", &[("email", &form.email)]))
        }
        Some(Code::ResourceExhausted | Code::InvalidArgument) => again(err.user_message(visitor.lang)),
        Some(Code::FailedPrecondition) => {
            let problem = Problem::from_core(StatusCode::BAD_REQUEST, "identity.link_expired", &form.provider, &err);
            auth::login_with_problem(&state, &visitor, &problem).await
        }
        _ => auth::login_with_problem(&state, &visitor, &Problem::from_error(&err, &form.provider)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_cookie_keeps_the_mode_and_the_state() {
        for mode in [Mode::SignIn, Mode::Link] {
            let value = mode.cookie_value("abc.def");
            assert_eq!(Mode::parse(&value), Some((mode, "abc.def")));
        }
        assert_eq!(Mode::parse("x.abc"), None);
        assert_eq!(Mode::parse("s."), None);
        assert_eq!(Mode::parse("abc"), None);
    }
}
