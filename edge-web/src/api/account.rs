//! Accounts and the profile: registering, signing in and out, the profile and its AI settings,
//! the own OpenAI key, personal API tokens and the password; a person's archive of all their
//! data, and deleting their account.

use assistchat_proto::v1::{
    AiMode, ChangePasswordRequest, ClearOpenAiKeyRequest, CreateApiTokenRequest, DeleteAccountRequest,
    DeleteApiTokenRequest, ExportMyDataRequest, GetProfileRequest, ListApiTokensRequest, LoginRequest, LogoutRequest,
    Profile, RegisterRequest, Session, SetOpenAiKeyRequest, TestOpenAiKeyRequest, UpdateProfileRequest, User,
};
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, get, post, put},
};
use axum_extra::extract::cookie::CookieJar;
use prost_types::FieldMask;
use serde::Deserialize;

use super::PageQuery;
use crate::{
    error::AppError,
    http::{
        body::Body,
        csrf::check_csrf,
        error::ApiError,
        visitor::{Credential, Visitor, csrf_token_for},
    },
    state::AppState,
    view::{
        account::{key_check_name, token_ttl},
        download::download,
        json,
    },
};

/// The routes of accounts and the profile.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
        .route("/api/profile", get(get_profile).patch(patch_profile))
        .route("/api/profile/openai/key", put(set_key).delete(clear_key))
        .route("/api/profile/openai/key/test", post(test_key))
        .route("/api/profile/openai/settings", put(put_ai_settings))
        .route("/api/profile/tokens", get(list_tokens).post(create_token))
        .route("/api/profile/tokens/{id}", delete(delete_token))
        .route("/api/profile/password", post(change_password))
        .route("/api/profile/export", get(export_my_data))
        .route("/api/profile/delete", post(delete_account))
}

/// The session cookie for `session`, and the user with the CSRF token scripts send back.
fn signed_in(visitor: &Visitor, jar: CookieJar, user: Option<User>, session: Option<Session>) -> Response {
    let token = session.unwrap_or_default().token;
    let body = json::SignedIn { user: user.unwrap_or_default().into(), csrf_token: csrf_token_for(&token) };
    (jar.add(visitor.session_cookie(token)), Json(body)).into_response()
}

/// The body of `POST /api/auth/register`.
#[derive(Deserialize)]
struct RegisterBody {
    email: String,
    password: String,
    display_name: String,
    #[serde(default)]
    language_code: String,
}

async fn register(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Body(body): Body<RegisterBody>,
) -> Result<Response, ApiError> {
    let language_code = if body.language_code.is_empty() { visitor.lang.code().into() } else { body.language_code };
    let request =
        RegisterRequest { email: body.email, password: body.password, display_name: body.display_name, language_code };
    let response = state.core.auth().register(visitor.meta.request(request)).await?.into_inner();
    Ok((StatusCode::CREATED, signed_in(&visitor, jar, response.user, response.session)).into_response())
}

/// The body of `POST /api/auth/login`.
#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Body(body): Body<LoginBody>,
) -> Result<Response, ApiError> {
    let request = LoginRequest { email: body.email, password: body.password };
    let response = state.core.auth().login(visitor.meta.request(request)).await?.into_inner();
    Ok(signed_in(&visitor, jar, response.user, response.session))
}

async fn logout(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<Response, ApiError> {
    check_csrf(&visitor, &headers)?;
    if visitor.credential == Credential::Bearer {
        // Logging out is for sessions; an API token is revoked by deleting it.
        return Err(AppError::Core(tonic::Status::failed_precondition(
            "an API token cannot log out; delete it with DELETE /api/profile/tokens/{id}",
        ))
        .into());
    }
    if visitor.signed_in() {
        state.core.auth().logout(visitor.meta.request(LogoutRequest {})).await?;
    }
    Ok((StatusCode::NO_CONTENT, jar.add(visitor.removed_session_cookie())).into_response())
}

async fn get_profile(State(state): State<AppState>, visitor: Visitor) -> Result<Json<json::Profile>, ApiError> {
    let response = state.core.profile().get_profile(visitor.meta.request(GetProfileRequest {})).await?.into_inner();
    Ok(Json(response.profile.unwrap_or_default().into()))
}

/// The body of `PATCH /api/profile`: the fields to change.
#[derive(Deserialize)]
struct ProfilePatch {
    display_name: Option<String>,
    language_code: Option<String>,
}

async fn patch_profile(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Body(body): Body<ProfilePatch>,
) -> Result<Json<json::Profile>, ApiError> {
    check_csrf(&visitor, &headers)?;
    let mut paths = Vec::new();
    let mut profile = Profile::default();
    if let Some(name) = body.display_name {
        profile.display_name = name;
        paths.push("display_name".to_owned());
    }
    if let Some(code) = body.language_code {
        profile.language_code = code;
        paths.push("language_code".to_owned());
    }
    update(&state, &visitor, profile, paths).await
}

async fn update(
    state: &AppState,
    visitor: &Visitor,
    profile: Profile,
    paths: Vec<String>,
) -> Result<Json<json::Profile>, ApiError> {
    if paths.is_empty() {
        return Err(AppError::BadRequest("nothing to change; send at least one field".into()).into());
    }
    let request = UpdateProfileRequest { profile: Some(profile), update_mask: Some(FieldMask { paths }) };
    let response = state.core.profile().update_profile(visitor.meta.request(request)).await?.into_inner();
    Ok(Json(response.profile.unwrap_or_default().into()))
}

/// The body of `PUT /api/profile/openai/key`.
#[derive(Deserialize)]
struct KeyBody {
    api_key: String,
}

async fn set_key(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Body(body): Body<KeyBody>,
) -> Result<Json<json::Profile>, ApiError> {
    check_csrf(&visitor, &headers)?;
    let request = SetOpenAiKeyRequest { api_key: body.api_key };
    let response = state.core.profile().set_open_ai_key(visitor.meta.request(request)).await?.into_inner();
    let mut profile = json::Profile::from(response.profile.unwrap_or_default());
    // Why the key could not be checked; empty when its server accepted it.
    profile.warning = Some(response.warning);
    Ok(Json(profile))
}

/// `POST /api/profile/openai/key/test`: checks the stored own key against its server now.
async fn test_key(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
) -> Result<Json<json::KeyTest>, ApiError> {
    check_csrf(&visitor, &headers)?;
    let response = state.core.profile().test_open_ai_key(visitor.meta.request(TestOpenAiKeyRequest {})).await?;
    let response = response.into_inner();
    Ok(Json(json::KeyTest {
        result: key_check_name(response.result()),
        detail: response.detail,
        profile: response.profile.unwrap_or_default().into(),
    }))
}

async fn clear_key(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
) -> Result<Json<json::Profile>, ApiError> {
    check_csrf(&visitor, &headers)?;
    let response = state.core.profile().clear_open_ai_key(visitor.meta.request(ClearOpenAiKeyRequest {})).await?;
    Ok(Json(response.into_inner().profile.unwrap_or_default().into()))
}

/// The body of `PUT /api/profile/openai/settings`: the fields to change.
#[derive(Deserialize)]
struct AiSettings {
    mode: Option<String>,
    base_url: Option<String>,
    model: Option<String>,
}

async fn put_ai_settings(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Body(body): Body<AiSettings>,
) -> Result<Json<json::Profile>, ApiError> {
    check_csrf(&visitor, &headers)?;
    let mut paths = Vec::new();
    let mut profile = Profile::default();
    if let Some(mode) = body.mode {
        profile.ai_mode = match mode.as_str() {
            "managed" => AiMode::Managed,
            "byok" => AiMode::Byok,
            _ => return Err(AppError::BadRequest("mode must be \"managed\" or \"byok\"".into()).into()),
        }
        .into();
        paths.push("ai_mode".to_owned());
    }
    if let Some(url) = body.base_url {
        profile.openai_base_url = url;
        paths.push("openai_base_url".to_owned());
    }
    if let Some(model) = body.model {
        profile.openai_model = model;
        paths.push("openai_model".to_owned());
    }
    update(&state, &visitor, profile, paths).await
}

async fn list_tokens(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(page): Query<PageQuery>,
) -> Result<Json<json::ApiTokens>, ApiError> {
    let request = ListApiTokensRequest { page_size: page.page_size, page_token: page.page_token };
    let response = state.core.auth().list_api_tokens(visitor.meta.request(request)).await?.into_inner();
    let tokens = response.api_tokens.iter().map(json::ApiToken::from).collect();
    Ok(Json(json::ApiTokens { tokens, next_page_token: response.next_page_token }))
}

/// The body of `POST /api/profile/tokens`.
#[derive(Deserialize)]
struct TokenBody {
    name: String,
    /// Days the token works; absent or 0 for no expiry.
    #[serde(default)]
    expire_days: Option<u32>,
}

async fn create_token(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Body(body): Body<TokenBody>,
) -> Result<Response, ApiError> {
    check_csrf(&visitor, &headers)?;
    let ttl = token_ttl(&body.expire_days.unwrap_or_default().to_string())?;
    let request = CreateApiTokenRequest { name: body.name, ttl };
    let response = state.core.auth().create_api_token(visitor.meta.request(request)).await?;
    let response = response.into_inner();
    let api_token = json::ApiToken::from(&response.api_token.unwrap_or_default());
    Ok((StatusCode::CREATED, Json(json::NewApiToken { api_token, token: response.token })).into_response())
}

/// The body of `POST /api/profile/password`.
#[derive(Deserialize)]
struct PasswordBody {
    /// The password in use now; empty for an account that has none yet.
    #[serde(default)]
    current_password: String,
    new_password: String,
}

/// `POST /api/profile/password`: changes (or sets) the password; answers how many other
/// sessions ended and API tokens were revoked.
async fn change_password(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Body(body): Body<PasswordBody>,
) -> Result<Json<json::PasswordChanged>, ApiError> {
    check_csrf(&visitor, &headers)?;
    let request = ChangePasswordRequest { current_password: body.current_password, new_password: body.new_password };
    let done = state.core.auth().change_password(visitor.meta.request(request)).await?.into_inner();
    Ok(Json(json::PasswordChanged {
        ended_session_count: done.ended_session_count,
        revoked_api_token_count: done.revoked_api_token_count,
    }))
}

async fn delete_token(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    check_csrf(&visitor, &headers)?;
    state.core.auth().delete_api_token(visitor.meta.request(DeleteApiTokenRequest { id })).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/profile/export`: everything the platform keeps about the caller, secrets left
/// out, as a JSON file to download.
async fn export_my_data(State(state): State<AppState>, visitor: Visitor) -> Result<Response, ApiError> {
    let archive = state.core.own_data().export_my_data(visitor.meta.request(ExportMyDataRequest {})).await?;
    let archive = archive.into_inner();
    Ok(download(&archive.file_name, &archive.content_type, archive.content))
}

/// The body of `POST /api/profile/delete`.
#[derive(Deserialize)]
struct DeleteAccountBody {
    /// The account's password; empty (or absent) for an account that has none.
    #[serde(default)]
    password: String,
}

redacted_debug!(DeleteAccountBody { ; password });

/// `POST /api/profile/delete`: deletes the caller's account with everything it owns, for good;
/// 204, and the session cookie goes with it. Needs the browser's session and the password.
async fn delete_account(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    jar: CookieJar,
    Body(body): Body<DeleteAccountBody>,
) -> Result<Response, ApiError> {
    check_csrf(&visitor, &headers)?;
    let request = DeleteAccountRequest { password: body.password };
    state.core.profile().delete_account(visitor.meta.request(request)).await?;
    Ok((StatusCode::NO_CONTENT, jar.add(visitor.removed_session_cookie())).into_response())
}
