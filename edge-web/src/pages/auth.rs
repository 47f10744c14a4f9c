//! Signing in and out: `/login`, `/register`, `POST /logout`, and the language switcher.

use assistchat_proto::v1::{
    IdentityProvider, ListIdentityProvidersResponse, LoginRequest, LogoutRequest, RegisterRequest, RegistrationPolicy,
    Session, UpdateProfileRequest,
};
use axum::{
    Form,
    extract::State,
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    frame,
    identity::{self, Problem},
};
use crate::{
    error::AppError,
    http::{csrf::CsrfForm, error::PageError, visitor::Visitor},
    i18n::Lang,
    state::AppState,
    view::layout::{Page, notice},
};

/// The fields of the sign-in form.
#[derive(Default, Deserialize)]
pub struct LoginForm {
    /// The email typed.
    #[serde(default)]
    email: String,
    /// The password typed.
    #[serde(default)]
    password: String,
}

redacted_debug!(LoginForm { email ; password });

/// The fields of the registration form.
#[derive(Default, Deserialize)]
pub struct RegisterForm {
    /// The email typed.
    #[serde(default)]
    email: String,
    /// The password typed.
    #[serde(default)]
    password: String,
    /// The display name typed.
    #[serde(default)]
    display_name: String,
}

redacted_debug!(RegisterForm { email, display_name ; password });

/// The language switcher's form.
#[derive(Default, Deserialize)]
pub struct LangForm {
    /// The CSRF token of the session, when signed in.
    #[serde(default)]
    csrf: String,
    /// The chosen language code.
    #[serde(default)]
    lang: String,
}

redacted_debug!(LangForm { lang ; csrf });

fn login_body(page: &Page, email: &str, error: Markup, providers: &[IdentityProvider]) -> Markup {
    html! {
        section.auth {
            h1 { (page.t("login.title")) }
            (error)
            (identity::buttons(page, providers))
            form method="post" action="/login" {
                label { (page.t("field.email")) input type="email" name="email" value=(email) required autocomplete="username"; }
                label { (page.t("field.password")) input type="password" name="password" required autocomplete="current-password"; }
                button type="submit" { (page.t("login.submit")) }
            }
            p { (page.t("login.no_account")) " " a href="/register" { (page.t("nav.register")) } }
        }
    }
}

/// What the registration page says of the operator's policy before anyone fills it in, and
/// whether it shows the form at all.
fn registration_notice(page: &Page, options: &ListIdentityProvidersResponse) -> (Markup, bool) {
    let with_providers = !options.identity_providers.is_empty();
    match options.registration() {
        RegistrationPolicy::Closed => {
            let notice_html = html! {
                div.registration-policy data-policy="closed" {
                    (notice("info", page.t("register.closed")))
                    @if with_providers { p { (page.t("register.providers_sign_in")) } }
                }
            };
            (notice_html, false)
        }
        RegistrationPolicy::Domains => {
            let domains = options.registration_domains.join(", ");
            let notice_html = html! {
                div.registration-policy data-policy="domains" {
                    (notice("info", &page.lang.format("register.domains", &[("domains", &domains)])))
                    @if with_providers { p { (page.t("register.providers_sign_in")) } }
                }
            };
            (notice_html, true)
        }
        RegistrationPolicy::Open | RegistrationPolicy::Unspecified => (html! {}, true),
    }
}

fn register_body(
    page: &Page,
    form: &RegisterForm,
    error: Option<&str>,
    options: &ListIdentityProvidersResponse,
) -> Markup {
    let (policy, form_shown) = registration_notice(page, options);
    html! {
        section.auth {
            h1 { (page.t("register.title")) }
            @if let Some(error) = error { (notice("error", error)) }
            (policy)
            (identity::buttons(page, &options.identity_providers))
            @if form_shown {
                form method="post" action="/register" {
                    label { (page.t("field.display_name")) input type="text" name="display_name" value=(form.display_name) required maxlength="100" autocomplete="name"; }
                    label { (page.t("field.email")) input type="email" name="email" value=(form.email) required autocomplete="username"; }
                    label { (page.t("field.password")) input type="password" name="password" required minlength="8" maxlength="128" autocomplete="new-password";
                        small { (page.t("register.password_hint")) } }
                    button type="submit" { (page.t("register.submit")) }
                }
            }
            p { (page.t("register.have_account")) " " a href="/login" { (page.t("nav.login")) } }
        }
    }
}

/// The browser signed in with `session`, on to the dashboard.
pub(super) fn signed_in(visitor: &Visitor, jar: CookieJar, session: Option<Session>) -> Response {
    let token = session.unwrap_or_default().token;
    (jar.add(visitor.session_cookie(token)), Redirect::to("/")).into_response()
}

/// `GET /login`.
pub async fn login_page(State(state): State<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    let page = frame(&state, &visitor, "/login").await?;
    if page.user.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let providers = identity::providers(&state, &visitor).await;
    Ok(page.render("login.title", login_body(&page, "", html! {}, &providers)).into_response())
}

/// `POST /login`: signs in and goes to the dashboard, or shows the form again with the error.
pub async fn login(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let request = LoginRequest { email: form.email.clone(), password: form.password };
    match state.core.auth().login(visitor.meta.request(request)).await {
        Ok(response) => Ok(signed_in(&visitor, jar, response.into_inner().session)),
        Err(status) => {
            let err = AppError::from(status);
            if err.status().is_server_error() {
                return Err(err.into());
            }
            // A wrong email or password is the same message, whatever core's wording.
            let message = if err.is_unauthenticated() {
                visitor.lang.t("error.login_failed").into()
            } else {
                err.user_message(visitor.lang)
            };
            let page = Page::signed_out(visitor.lang, "/login");
            let providers = identity::providers(&state, &visitor).await;
            let body = login_body(&page, &form.email, notice("error", &message), &providers);
            Ok((err.status(), page.render("login.title", body)).into_response())
        }
    }
}

/// `GET /register`.
pub async fn register_page(State(state): State<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    let page = frame(&state, &visitor, "/register").await?;
    if page.user.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let options = identity::sign_in_options(&state, &visitor).await;
    Ok(page.render("register.title", register_body(&page, &RegisterForm::default(), None, &options)).into_response())
}

/// The sign-in page telling why a sign-in with an identity provider did not finish, with the
/// status that says so.
pub(super) async fn login_with_problem(state: &AppState, visitor: &Visitor, problem: &Problem) -> Response {
    let page = Page::signed_out(visitor.lang, "/login");
    let providers = identity::providers(state, visitor).await;
    let body = login_body(&page, "", problem.notice(visitor.lang), &providers);
    (problem.status(), page.render("login.title", body)).into_response()
}

/// `POST /register`: creates the account, signs it in and goes to the dashboard.
pub async fn register(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Form(form): Form<RegisterForm>,
) -> Result<Response, PageError> {
    let request = RegisterRequest {
        email: form.email.clone(),
        password: form.password.clone(),
        display_name: form.display_name.clone(),
        language_code: visitor.lang.code().into(),
    };
    match state.core.auth().register(visitor.meta.request(request)).await {
        Ok(response) => Ok(signed_in(&visitor, jar, response.into_inner().session)),
        Err(status) => {
            let err = AppError::from(status);
            if err.status().is_server_error() {
                return Err(err.into());
            }
            let page = Page::signed_out(visitor.lang, "/register");
            let form = RegisterForm { password: String::new(), ..form };
            let options = identity::sign_in_options(&state, &visitor).await;
            // A refusal by the registration policy is what the page's notice says already.
            let message = if err.grpc_code() == Some(tonic::Code::PermissionDenied) {
                visitor.lang.t("register.refused").into()
            } else {
                err.user_message(visitor.lang)
            };
            let body = register_body(&page, &form, Some(&message), &options);
            Ok((err.status(), page.render("register.title", body)).into_response())
        }
    }
}

/// `POST /logout`: ends the session at core and forgets the cookie.
pub async fn logout(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(Some(&form.csrf))?;
    if visitor.signed_in() {
        // A session core already forgot is signed out all the same.
        if let Err(status) = state.core.auth().logout(visitor.meta.request(LogoutRequest {})).await
            && status.code() != tonic::Code::Unauthenticated
        {
            return Err(status.into());
        }
    }
    Ok((jar.add(visitor.removed_session_cookie()), Redirect::to("/")).into_response())
}

/// `POST /lang`: remembers the chosen language (in the profile when signed in) and goes back.
pub async fn switch_language(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    headers: axum::http::HeaderMap,
    Form(form): Form<LangForm>,
) -> Result<Response, PageError> {
    let Some(lang) = Lang::from_code(&form.lang) else {
        return Err(AppError::BadRequest("unknown language".into()).into());
    };
    visitor.check_csrf(Some(&form.csrf))?;
    if visitor.signed_in() {
        let update = UpdateProfileRequest {
            profile: Some(assistchat_proto::v1::Profile { language_code: lang.code().into(), ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["language_code".into()] }),
        };
        match state.core.profile().update_profile(visitor.meta.request(update)).await {
            Ok(_) => {}
            Err(status) if status.code() == tonic::Code::Unauthenticated => {}
            Err(status) => return Err(PageError::in_lang(lang)(status)),
        }
    }
    Ok((jar.add(visitor.lang_cookie(lang)), Redirect::to(&back_to(&headers))).into_response())
}

/// The same-site path the browser came from, or `/`.
fn back_to(headers: &axum::http::HeaderMap) -> String {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    headers
        .get(axum::http::header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|referer| referer.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.strip_prefix(host))
        .filter(|path| path.starts_with('/') && !path.starts_with("//"))
        .unwrap_or("/")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::{LoginForm, RegisterForm};

    #[test]
    fn typed_passwords_never_show_in_debug_output() {
        let login = LoginForm { email: "ann@example.com".into(), password: "correct horse battery".into() };
        let register = RegisterForm {
            email: "ann@example.com".into(),
            password: "correct horse battery".into(),
            display_name: "Ann".into(),
        };
        for shown in [format!("{login:?}"), format!("{register:?}")] {
            assert!(!shown.contains("correct horse"), "{shown}");
            assert!(shown.contains("ann@example.com") && shown.contains("<redacted>"), "{shown}");
        }
    }
}
