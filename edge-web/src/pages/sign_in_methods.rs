//! The profile's "Sign-in methods": the password (changed, or set for the first time by an
//! account an identity provider made), the linked identities with their unlink buttons, and a
//! link button for each configured provider not linked yet.

use assistchat_proto::v1::{
    ChangePasswordRequest, IdentityProvider, LinkedIdentity, ListSignInMethodsRequest, UnlinkIdentityRequest,
};
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use tonic::Code;

use super::{
    identity::{self, Problem},
    profile,
};
use crate::{
    error::AppError,
    http::{csrf::CsrfForm, error::PageError, visitor::Visitor},
    state::AppState,
    view::{layout::Page, time::format_time},
};

/// How the signed-in account can sign in, and which providers it could link.
#[derive(Debug, Default)]
pub struct Methods {
    /// Whether the account has a password.
    has_password: bool,
    /// The identities linked to it, oldest first.
    identities: Vec<LinkedIdentity>,
    /// The providers the platform is configured with.
    providers: Vec<IdentityProvider>,
}

impl Methods {
    /// The signed-in account's sign-in methods; `None`, logged, when core cannot list them, so
    /// that the rest of the profile still shows.
    pub async fn load(state: &AppState, visitor: &Visitor) -> Option<Self> {
        let request = visitor.meta.request(ListSignInMethodsRequest {});
        let listed = match state.core.auth().list_sign_in_methods(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => {
                tracing::warn!(code = ?status.code(), message = status.message(), "cannot list the sign-in methods");
                return None;
            }
        };
        let providers = identity::providers(state, visitor).await;
        Some(Self { has_password: listed.has_password, identities: listed.identities, providers })
    }

    /// Whether the account has a password.
    pub fn has_password(&self) -> bool {
        self.has_password
    }

    /// The name of the linked provider `provider_id`, if it is linked.
    pub fn linked_name(&self, provider_id: &str) -> Option<&str> {
        self.identities.iter().find(|i| i.provider_id == provider_id).map(|i| i.provider_display_name.as_str())
    }
}

/// The password form.
#[derive(Deserialize)]
pub struct PasswordForm {
    /// The CSRF token.
    #[serde(default)]
    csrf: String,
    /// The password in use now; absent for an account that has none yet.
    #[serde(default)]
    current_password: String,
    /// The new password.
    #[serde(default)]
    new_password: String,
}

redacted_debug!(PasswordForm { ; csrf, current_password, new_password });

/// The section of the profile.
pub fn section(page: &Page, methods: &Methods) -> Markup {
    let unlinked = methods.providers.iter().filter(|p| !methods.identities.iter().any(|i| i.provider_id == p.id));
    html! {
        section.card #sign-in-methods {
            h2 { (page.t("methods.title")) }
            ul.methods {
                li #method-password data-set=(methods.has_password) {
                    strong { (page.t("field.password")) } " — "
                    @if methods.has_password { (page.t("methods.password_set")) } @else { (page.t("methods.password_none")) }
                }
                @for identity in &methods.identities {
                    li.identity data-provider=(identity.provider_id) {
                        strong { (identity.provider_display_name) } " — " span.email { (identity.email) }
                        @if let Some(time) = &identity.create_time {
                            " " small { (page.lang.format("methods.linked_at", &[("date", &format_time(time))])) }
                        }
                        @let confirm = page.lang.format("methods.unlink_confirm", &[("provider", &identity.provider_display_name)]);
                        form.inline method="post" action=(format!("/profile/identities/{}/unlink", identity.id)) data-confirm=(confirm) {
                            (page.csrf_field())
                            button.secondary type="submit" { (page.t("methods.unlink")) }
                        }
                    }
                }
            }
            @for provider in unlinked {
                form.link-provider method="post" action=(format!("/profile/identities/{}/link", provider.id)) data-provider=(provider.id) {
                    (page.csrf_field())
                    button.secondary type="submit" { (page.lang.format("methods.link", &[("provider", &provider.display_name)])) }
                }
            }
            h3 { @if methods.has_password { (page.t("password.change_title")) } @else { (page.t("password.set_title")) } }
            form #password-form method="post" action="/profile/password" {
                (page.csrf_field())
                @if methods.has_password {
                    label { (page.t("password.current")) input type="password" name="current_password" required autocomplete="current-password"; }
                }
                label { (page.t("password.new")) input type="password" name="new_password" required minlength="8" maxlength="128" autocomplete="new-password";
                    small { (page.t("register.password_hint")) } }
                button type="submit" { @if methods.has_password { (page.t("password.change_submit")) } @else { (page.t("password.set_submit")) } }
            }
        }
    }
}

/// `POST /profile/password`: changes the password, or sets the first one; other sessions end
/// and API tokens are revoked, and the profile says how many.
pub async fn set_password(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(Some(&form.csrf))?;
    let request = ChangePasswordRequest { current_password: form.current_password, new_password: form.new_password };
    let status = match state.core.auth().change_password(visitor.meta.request(request)).await {
        Ok(response) => {
            let done = response.into_inner();
            let location = format!(
                "/profile?saved=1&ended_sessions={}&revoked_tokens={}",
                done.ended_session_count.max(0),
                done.revoked_api_token_count.max(0)
            );
            return Ok(Redirect::to(&location).into_response());
        }
        Err(status) => status,
    };
    let err = AppError::from(status);
    match err.grpc_code() {
        Some(Code::Unauthenticated) => Err(err.into()),
        // A first password from a session signed in too long ago: sign in again.
        Some(Code::FailedPrecondition) => {
            let problem = Problem::from_core(StatusCode::PRECONDITION_FAILED, "password.sign_in_again", "", &err);
            profile::show_problem(&state, &visitor, problem).await
        }
        _ => profile::show_error(&state, &visitor, err).await,
    }
}

/// `POST /profile/identities/{id}/unlink`: removes a linked identity, unless it is the account's
/// last way to sign in.
pub async fn unlink(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(Some(&form.csrf))?;
    let request = visitor.meta.request(UnlinkIdentityRequest { id });
    let Err(status) = state.core.auth().unlink_identity(request).await else {
        return Ok(profile::saved());
    };
    let err = AppError::from(status);
    let problem = match err.grpc_code() {
        Some(Code::Unauthenticated) => return Err(err.into()),
        // 409: the account's state (no other way to sign in) is what stands in the way.
        Some(Code::FailedPrecondition) => Problem::from_core(StatusCode::CONFLICT, "methods.unlink_refused", "", &err),
        Some(Code::NotFound) => Problem::new(StatusCode::NOT_FOUND, "methods.unlink_missing", ""),
        _ => return profile::show_error(&state, &visitor, err).await,
    };
    profile::show_problem(&state, &visitor, problem).await
}
