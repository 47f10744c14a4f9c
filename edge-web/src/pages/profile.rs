//! `/profile`: personal data, AI settings with the own OpenAI key and its check, the AI usage,
//! personal API tokens, and the person's own data: downloaded, or deleted with the account.

use assistchat_proto::v1::{
    AiMode, ClearOpenAiKeyRequest, CreateApiTokenRequest, DeleteAccountRequest, DeleteApiTokenRequest,
    ListApiTokensRequest, OpenAiKeyCheck, OpenAiKeyState, Profile, SetOpenAiKeyRequest, TestOpenAiKeyRequest,
    UpdateProfileRequest,
};
use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use prost_types::FieldMask;
use serde::Deserialize;

use super::{
    Saved,
    identity::Problem,
    sign_in_methods::{self, Methods},
    signed_in_frame, usage,
};
use crate::{
    error::AppError,
    http::{csrf::CsrfForm, error::PageError, visitor::Visitor},
    i18n::Lang,
    state::AppState,
    view::{
        account::{TOKEN_EXPIRY_DAYS, key_check_name, token_ttl},
        bot,
        layout::{Page, notice},
        time::format_time,
    },
};

/// The personal data form.
#[derive(Deserialize)]
pub struct PersonalForm {
    /// The CSRF token.
    #[serde(default)]
    csrf: String,
    /// The new display name.
    #[serde(default)]
    display_name: String,
    /// The new language code.
    #[serde(default)]
    language_code: String,
}

redacted_debug!(PersonalForm { display_name, language_code ; csrf });

/// The AI settings form.
#[derive(Deserialize)]
pub struct AiForm {
    /// The CSRF token.
    #[serde(default)]
    csrf: String,
    /// `managed` or `byok`.
    #[serde(default)]
    ai_mode: String,
    /// An OpenAI-compatible base URL, or empty.
    #[serde(default)]
    openai_base_url: String,
    /// A model name, or empty.
    #[serde(default)]
    openai_model: String,
}

redacted_debug!(AiForm { ai_mode, openai_base_url, openai_model ; csrf });

/// The own-key form.
#[derive(Deserialize)]
pub struct KeyForm {
    /// The CSRF token.
    #[serde(default)]
    csrf: String,
    /// The key pasted.
    #[serde(default)]
    api_key: String,
}

redacted_debug!(KeyForm { ; csrf, api_key });

/// The new API token form.
#[derive(Deserialize)]
pub struct TokenForm {
    /// The CSRF token.
    #[serde(default)]
    csrf: String,
    /// The token's name.
    #[serde(default)]
    name: String,
    /// How many days it works: one of [`TOKEN_EXPIRY_DAYS`], or empty or `never`.
    #[serde(default)]
    expire_days: String,
}

redacted_debug!(TokenForm { name ; csrf });

/// The form that deletes the account.
#[derive(Deserialize)]
pub struct DeleteAccountForm {
    /// The CSRF token.
    #[serde(default)]
    csrf: String,
    /// Present when the person ticked that the account and its data go for good.
    #[serde(default)]
    confirm: Option<String>,
    /// The account's password; absent for an account that has none.
    #[serde(default)]
    password: String,
}

redacted_debug!(DeleteAccountForm { confirm ; csrf, password });

/// What to show above the profile after an action.
enum Outcome {
    /// Nothing.
    None,
    /// A change was saved.
    Saved,
    /// A change failed.
    Failed(AppError),
    /// A sign-in with an identity provider, or a change of the sign-in methods, did not finish.
    Problem(Problem),
    /// The provider with this id was just linked.
    Linked(String),
    /// A token was created: shown once.
    NewToken(String),
    /// The password was changed or set: what that ended.
    PasswordChanged {
        /// Other sessions ended.
        sessions: u32,
        /// API tokens revoked.
        tokens: u32,
    },
    /// The own key was saved, but its server could not be reached to check it: why.
    KeyUnchecked(String),
    /// The own key was not saved: shown at the key field.
    KeyRefused {
        /// Core's refusal.
        error: AppError,
        /// Whether the key had the shape keys have, so that it was its server that refused it.
        well_formed: bool,
    },
    /// The stored own key was checked on request.
    KeyTested {
        /// What the check found.
        result: OpenAiKeyCheck,
        /// The outcome in words, from core.
        detail: String,
    },
}

/// The lengths of a well-formed key, as the profile contract gives them.
const KEY_LEN: std::ops::RangeInclusive<usize> = 8..=512;

/// `GET /profile`.
pub async fn profile_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(saved): Query<Saved>,
) -> Result<Response, PageError> {
    let outcome = match saved {
        Saved { linked: Some(provider), .. } => Outcome::Linked(provider),
        Saved { ended_sessions: Some(sessions), revoked_tokens, .. } => {
            Outcome::PasswordChanged { sessions, tokens: revoked_tokens.unwrap_or_default() }
        }
        Saved { saved: Some(_), .. } => Outcome::Saved,
        Saved { .. } => Outcome::None,
    };
    render(&state, &visitor, outcome).await
}

/// Back to the profile after a change, with the notice that it was saved.
pub(super) fn saved() -> Response {
    Redirect::to("/profile?saved=1").into_response()
}

/// The profile with `problem` above it.
pub(super) async fn show_problem(state: &AppState, visitor: &Visitor, problem: Problem) -> Result<Response, PageError> {
    render(state, visitor, Outcome::Problem(problem)).await
}

/// The profile with `err` above it.
pub(super) async fn show_error(state: &AppState, visitor: &Visitor, err: AppError) -> Result<Response, PageError> {
    render(state, visitor, Outcome::Failed(err)).await
}

async fn render(state: &AppState, visitor: &Visitor, outcome: Outcome) -> Result<Response, PageError> {
    let page = signed_in_frame(state, visitor, "/profile").await?;
    let Some(profile) = &page.user else { return Err(PageError::sign_in()) };
    let request = visitor.meta.request(ListApiTokensRequest { page_size: 100, page_token: String::new() });
    let tokens = state.core.auth().list_api_tokens(request).await.map_err(PageError::in_lang(page.lang))?;
    let tokens = tokens.into_inner().api_tokens;
    let status = match &outcome {
        Outcome::Failed(err) | Outcome::KeyRefused { error: err, .. } => err.status(),
        Outcome::Problem(problem) => problem.status(),
        _ => StatusCode::OK,
    };
    let methods = Methods::load(state, visitor).await;
    let bot = state.core.bot_status(&visitor.meta).await;
    let usage = usage::load(state, visitor).await;
    let body = html! {
        h1 { (page.t("profile.title")) }
        @match &outcome {
            Outcome::Saved => (notice("ok", page.t("profile.saved"))),
            Outcome::Failed(err) => (notice("error", &err.user_message(page.lang))),
            Outcome::Problem(problem) => (problem.notice(page.lang)),
            Outcome::Linked(provider) => @if let Some(name) = methods.as_ref().and_then(|m| m.linked_name(provider)) {
                (notice("ok", &page.lang.format("methods.linked_notice", &[("provider", name)])))
            },
            Outcome::NewToken(token) => div.notice.ok.token-once {
                p { (page.t("tokens.created")) }
                code #new-token { (token) }
                button type="button" data-copy="#new-token" { (page.t("tokens.copy")) }
            },
            Outcome::PasswordChanged { sessions, tokens } => div #password-changed data-ended-sessions=(sessions) data-revoked-tokens=(tokens) {
                (notice("ok", &page.lang.format("password.changed", &[("sessions", &sessions.to_string()), ("tokens", &tokens.to_string())])))
            },
            Outcome::None | Outcome::KeyUnchecked(_) | Outcome::KeyRefused { .. } | Outcome::KeyTested { .. } => {},
        }
        (personal_section(&page, profile))
        @if let Some(methods) = &methods { (sign_in_methods::section(&page, methods)) }
        (ai_section(&page, profile, &outcome))
        (usage::card(&page, &usage))
        @if let Some(bot) = &bot { (bot::switch(&page, bot, "/profile")) }
        (tokens_section(&page, &tokens))
        (own_data_section(&page, methods.as_ref()))
    };
    Ok((status, page.render("profile.title", body)).into_response())
}

fn personal_section(page: &Page, profile: &Profile) -> Markup {
    html! {
        section.card #personal {
            h2 { (page.t("profile.personal")) }
            p { (page.t("field.email")) ": " strong { (profile.email) } }
            form method="post" action="/profile" {
                (page.csrf_field())
                label { (page.t("field.display_name")) input type="text" name="display_name" value=(profile.display_name) required maxlength="100"; }
                label { (page.t("field.language"))
                    select name="language_code" {
                        @for lang in Lang::ALL {
                            option value=(lang.code()) selected[lang.code() == profile.language_code] { (page.t(&format!("lang.{}", lang.code()))) }
                        }
                    }
                }
                button type="submit" { (page.t("form.save")) }
            }
        }
    }
}

fn ai_section(page: &Page, profile: &Profile, outcome: &Outcome) -> Markup {
    let byok = profile.ai_mode() == AiMode::Byok;
    let key_state = match profile.openai_key_state() {
        OpenAiKeyState::Set => page.t("ai.key_set"),
        OpenAiKeyState::Rejected => page.t("ai.key_rejected"),
        _ => page.t("ai.key_missing"),
    };
    html! {
        section.card #ai {
            h2 { (page.t("ai.title")) }
            form method="post" action="/profile/ai" {
                (page.csrf_field())
                fieldset {
                    legend { (page.t("ai.mode")) }
                    label.inline { input type="radio" name="ai_mode" value="managed" checked[!byok]; (page.t("ai.mode_managed")) }
                    label.inline { input type="radio" name="ai_mode" value="byok" checked[byok]; (page.t("ai.mode_byok")) }
                }
                label { (page.t("ai.base_url")) input type="url" name="openai_base_url" value=(profile.openai_base_url) placeholder="https://api.openai.com/v1";
                    small { (page.t("ai.base_url_hint")) } }
                label { (page.t("ai.model")) input type="text" name="openai_model" value=(profile.openai_model) maxlength="100" placeholder="gpt-4o-mini"; }
                button type="submit" { (page.t("form.save")) }
            }
            h3 { (page.t("ai.key_title")) }
            p.key-status { (key_state) @if !profile.openai_key_mask.is_empty() { " " code #key-mask { (profile.openai_key_mask) } } }
            (key_outcome(page, outcome))
            @let refusal = key_refusal(page, outcome);
            form #key-form method="post" action="/profile/key" {
                (page.csrf_field())
                label { (page.t("ai.key")) input type="password" name="api_key" required autocomplete="off" placeholder="sk-..." aria-describedby="api-key-error" aria-invalid=[refusal.is_some().then_some("true")]; }
                p.field-error #api-key-error role="alert" hidden[refusal.is_none()] { @if let Some(refusal) = &refusal { (refusal) } }
                button type="submit" { @if profile.openai_key_mask.is_empty() { (page.t("ai.key_save")) } @else { (page.t("ai.key_replace")) } }
            }
            @if !profile.openai_key_mask.is_empty() {
                form #key-test-form method="post" action="/profile/key/test" {
                    (page.csrf_field())
                    button.secondary type="submit" { (page.t("ai.key_test")) }
                }
                form method="post" action="/profile/key/clear" data-confirm=(page.t("ai.key_clear_confirm")) {
                    (page.csrf_field())
                    button.danger type="submit" { (page.t("ai.key_clear")) }
                }
            }
        }
    }
}

/// What became of the last save or test of the own key, above its form.
fn key_outcome(page: &Page, outcome: &Outcome) -> Markup {
    match outcome {
        Outcome::KeyUnchecked(warning) => html! {
            p.notice.warn #key-warning role="alert" { strong { (page.t("ai.key_saved_unchecked")) } " " (warning) }
        },
        Outcome::KeyTested { result, detail } => {
            let kind = match result {
                OpenAiKeyCheck::Accepted => "ok",
                OpenAiKeyCheck::Rejected => "error",
                _ => "warn",
            };
            html! { div #key-test data-result=(key_check_name(*result)) { (notice(kind, detail)) } }
        }
        _ => html! {},
    }
}

/// Why the key was not saved: the catalogue's advice for a key without the shape of one, and
/// otherwise core's words, which say what the key's server answered, in the person's language.
fn key_refusal(page: &Page, outcome: &Outcome) -> Option<String> {
    let Outcome::KeyRefused { error, well_formed } = outcome else { return None };
    let from_server = *well_formed && error.from_core() && !error.detail().is_empty();
    Some(if from_server { error.detail() } else { error.user_message(page.lang) })
}

fn tokens_section(page: &Page, tokens: &[assistchat_proto::v1::ApiToken]) -> Markup {
    let date = |time: &Option<prost_types::Timestamp>| {
        time.as_ref().map(format_time).unwrap_or_else(|| page.t("tokens.never").to_owned())
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| i64::try_from(since.as_secs()).unwrap_or(i64::MAX));
    html! {
        section.card #tokens {
            h2 { (page.t("tokens.title")) }
            p { (page.t("tokens.text")) }
            @if tokens.is_empty() {
                p { (page.t("tokens.empty")) }
            } @else {
                table {
                    thead { tr { th { (page.t("tokens.name")) } th { (page.t("tokens.created_at")) } th { (page.t("tokens.last_used")) } th { (page.t("tokens.expires")) } th {} } }
                    tbody {
                        @for token in tokens {
                            @let expired = token.expire_time.as_ref().is_some_and(|end| end.seconds <= now);
                            tr data-token=(token.id) data-expired=(expired) {
                                td { (token.name) }
                                td.created { (date(&token.create_time)) }
                                td.last-used { (date(&token.last_use_time)) }
                                td.expires {
                                    @match &token.expire_time {
                                        None => (page.t("tokens.never_expires")),
                                        Some(end) if expired => (page.lang.format("tokens.expired_at", &[("date", &format_time(end))])),
                                        Some(end) => (format_time(end)),
                                    }
                                }
                                td {
                                    form method="post" action=(format!("/profile/tokens/{}/delete", token.id)) data-confirm=(page.t("tokens.delete_confirm")) {
                                        (page.csrf_field())
                                        button.danger type="submit" { (page.t("tokens.delete")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form method="post" action="/profile/tokens" {
                (page.csrf_field())
                label { (page.t("tokens.name")) input type="text" name="name" required maxlength="100"; }
                label { (page.t("tokens.expiry"))
                    select name="expire_days" {
                        option value="never" { (page.t("tokens.expiry_never")) }
                        @for days in TOKEN_EXPIRY_DAYS {
                            option value=(days) selected[days == TOKEN_EXPIRY_DAYS[1]] { (page.lang.format("tokens.expiry_days", &[("days", &days.to_string())])) }
                        }
                    }
                }
                button type="submit" { (page.t("tokens.create")) }
            }
        }
    }
}

/// "Your data": the archive of everything to download, and the form that deletes the account
/// with all of it, which needs a tick and the password (an account without one, a recent
/// sign-in).
fn own_data_section(page: &Page, methods: Option<&Methods>) -> Markup {
    // When the sign-in methods could not be listed, ask for a password: core says if none is due.
    let has_password = methods.is_none_or(Methods::has_password);
    html! {
        section.card #own-data {
            h2 { (page.t("data.title")) }
            p { (page.t("data.export_text")) }
            p { a.button.secondary #export-data href="/api/profile/export" download { (page.t("data.export")) } }
            h3 { (page.t("data.delete_title")) }
            p { (page.t("data.delete_text")) }
            form #delete-account method="post" action="/profile/delete" {
                (page.csrf_field())
                label.inline { input type="checkbox" name="confirm" value="yes" required; " " (page.t("data.delete_confirm")) }
                @if has_password {
                    label { (page.t("data.delete_password")) input type="password" name="password" required autocomplete="current-password"; }
                } @else {
                    p.hint { (page.t("data.delete_no_password")) }
                }
                button.danger type="submit" { (page.t("data.delete_submit")) }
            }
        }
    }
}

/// Runs `change` after the CSRF check; then back to the profile, or the profile with the error.
async fn change<F, Fut>(state: &AppState, visitor: &Visitor, csrf: &str, change: F) -> Result<Response, PageError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(), tonic::Status>>,
{
    visitor.check_csrf(Some(csrf))?;
    match change().await {
        Ok(()) => Ok(saved()),
        Err(status) if status.code() == tonic::Code::Unauthenticated => Err(status.into()),
        Err(status) => render(state, visitor, Outcome::Failed(status.into())).await,
    }
}

/// `POST /profile`: display name and language.
pub async fn update_personal(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<PersonalForm>,
) -> Result<Response, PageError> {
    let request = UpdateProfileRequest {
        profile: Some(Profile {
            display_name: form.display_name,
            language_code: form.language_code,
            ..Default::default()
        }),
        update_mask: Some(FieldMask { paths: vec!["display_name".into(), "language_code".into()] }),
    };
    change(&state, &visitor, &form.csrf, || async {
        state.core.profile().update_profile(visitor.meta.request(request)).await.map(drop)
    })
    .await
}

/// `POST /profile/ai`: mode, base URL and model.
pub async fn update_ai(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<AiForm>,
) -> Result<Response, PageError> {
    let mode = if form.ai_mode == "byok" { AiMode::Byok } else { AiMode::Managed };
    let request = UpdateProfileRequest {
        profile: Some(Profile {
            ai_mode: mode.into(),
            openai_base_url: form.openai_base_url,
            openai_model: form.openai_model,
            ..Default::default()
        }),
        update_mask: Some(FieldMask { paths: vec!["ai_mode".into(), "openai_base_url".into(), "openai_model".into()] }),
    };
    change(&state, &visitor, &form.csrf, || async {
        state.core.profile().update_profile(visitor.meta.request(request)).await.map(drop)
    })
    .await
}

/// `POST /profile/key`: checks and sets or replaces the own OpenAI key; then back to the
/// profile, or the profile with why the key was refused at its field, or with why it could not be
/// checked.
pub async fn set_key(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<KeyForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(Some(&form.csrf))?;
    let key = form.api_key.trim();
    let well_formed = KEY_LEN.contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    let request = SetOpenAiKeyRequest { api_key: form.api_key.clone() };
    let outcome = match state.core.profile().set_open_ai_key(visitor.meta.request(request)).await {
        Ok(response) => match response.into_inner().warning {
            warning if warning.is_empty() => return Ok(saved()),
            warning => Outcome::KeyUnchecked(warning),
        },
        Err(status) if status.code() == tonic::Code::Unauthenticated => return Err(status.into()),
        Err(status) => {
            let error = AppError::from(status);
            if error.field().as_deref() == Some("api_key") {
                Outcome::KeyRefused { error, well_formed }
            } else {
                Outcome::Failed(error)
            }
        }
    };
    render(&state, &visitor, outcome).await
}

/// `POST /profile/key/test`: checks the stored own key now and shows what its server said.
pub async fn test_key(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(Some(&form.csrf))?;
    let outcome = match state.core.profile().test_open_ai_key(visitor.meta.request(TestOpenAiKeyRequest {})).await {
        Ok(response) => {
            let response = response.into_inner();
            Outcome::KeyTested { result: response.result(), detail: response.detail }
        }
        Err(status) if status.code() == tonic::Code::Unauthenticated => return Err(status.into()),
        Err(status) => Outcome::Failed(status.into()),
    };
    render(&state, &visitor, outcome).await
}

/// `POST /profile/key/clear`: deletes the own OpenAI key.
pub async fn clear_key(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    change(&state, &visitor, &form.csrf, || async {
        state.core.profile().clear_open_ai_key(visitor.meta.request(ClearOpenAiKeyRequest {})).await.map(drop)
    })
    .await
}

/// `POST /profile/tokens`: creates a token and shows it once.
pub async fn create_token(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(Some(&form.csrf))?;
    let ttl = match token_ttl(&form.expire_days) {
        Ok(ttl) => ttl,
        Err(err) => return render(&state, &visitor, Outcome::Failed(err)).await,
    };
    let request = CreateApiTokenRequest { name: form.name, ttl };
    let created = state.core.auth().create_api_token(visitor.meta.request(request)).await;
    let outcome = match created {
        Ok(response) => Outcome::NewToken(response.into_inner().token),
        Err(status) if status.code() == tonic::Code::Unauthenticated => return Err(status.into()),
        // The account's cap of tokens, not a throttle: nothing to wait for.
        Err(status) if status.code() == tonic::Code::ResourceExhausted => {
            let err = AppError::from(status);
            Outcome::Problem(Problem::from_core(StatusCode::TOO_MANY_REQUESTS, "tokens.too_many", "", &err))
        }
        Err(status) => Outcome::Failed(status.into()),
    };
    render(&state, &visitor, outcome).await
}

/// `POST /profile/tokens/{id}/delete`.
pub async fn delete_token(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    change(&state, &visitor, &form.csrf, || async {
        state.core.auth().delete_api_token(visitor.meta.request(DeleteApiTokenRequest { id })).await.map(drop)
    })
    .await
}

/// `POST /profile/delete`: deletes the account with everything it owns, once ticked and with
/// the password; then the home page, signed out, says it is done.
pub async fn delete_account(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Form(form): Form<DeleteAccountForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(Some(&form.csrf))?;
    if form.confirm.is_none() {
        let unticked = AppError::Invalid { field: "confirm".into(), message: "tick the box to confirm".into() };
        return render(&state, &visitor, Outcome::Failed(unticked)).await;
    }
    let request = DeleteAccountRequest { password: form.password };
    let status = match state.core.profile().delete_account(visitor.meta.request(request)).await {
        Ok(_) => return Ok((jar.add(visitor.removed_session_cookie()), Redirect::to("/?deleted=1")).into_response()),
        Err(status) => status,
    };
    // The password of this form is not a new one: its own words, not the registration's.
    let err = AppError::with_field_renamed(status, |field| match field {
        "password" => "delete_password".into(),
        other => other.into(),
    });
    let outcome = match err.grpc_code() {
        Some(tonic::Code::Unauthenticated) => return Err(err.into()),
        // An account without a password, from a session signed in too long ago: sign in again.
        Some(tonic::Code::FailedPrecondition) => {
            Outcome::Problem(Problem::from_core(StatusCode::PRECONDITION_FAILED, "data.delete_sign_in_again", "", &err))
        }
        _ => Outcome::Failed(err),
    };
    render(&state, &visitor, outcome).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_key_and_the_csrf_token_never_show_in_debug_output() {
        let form = KeyForm { csrf: "csrf-value-123".into(), api_key: "sk-live-secret-key".into() };
        let shown = format!("{form:?}");
        assert!(!shown.contains("sk-live-secret-key") && !shown.contains("csrf-value-123"), "{shown}");
    }
}
