//! `/api/providers` and `/api/resources`: the channels a user connects. A resource's settings
//! travel as one object; the web edge splits out the secrets by the provider's `secret_fields`.

use assistchat_proto::v1::{DeleteResourceRequest, ListResourcesRequest};
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::PageQuery;
use crate::{
    error::AppError,
    http::{body::Body, csrf::check_csrf, error::ApiError, visitor::Visitor},
    state::AppState,
    view::json,
};

/// The routes of providers and resources.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/providers", get(list_providers))
        .route("/api/resources", get(list).post(create))
        .route("/api/resources/{id}", get(read).patch(patch).delete(remove))
        .route("/api/resources/{id}/{verb}", post(verb))
}

async fn list_providers(State(state): State<AppState>, visitor: Visitor) -> Result<Json<json::Providers>, ApiError> {
    let providers = state.core.providers(&visitor.meta).await?;
    Ok(Json(json::Providers { providers: providers.into_iter().map(json::Provider::from).collect() }))
}

async fn list(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<PageQuery>,
) -> Result<Json<json::Resources>, ApiError> {
    let request =
        ListResourcesRequest { page_size: query.page_size, page_token: query.page_token, provider: query.provider };
    let response = state.core.resources().list_resources(visitor.meta.request(request)).await?.into_inner();
    let resources = response.resources.iter().map(json::Resource::from).collect();
    Ok(Json(json::Resources { resources, next_page_token: response.next_page_token }))
}

/// The body of `POST /api/resources`.
#[derive(Deserialize)]
struct NewResource {
    provider: String,
    name: String,
    #[serde(default)]
    settings: Map<String, Value>,
}

async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Body(body): Body<NewResource>,
) -> Result<Response, ApiError> {
    check_csrf(&visitor, &headers)?;
    let resource = state.core.create_resource(&visitor.meta, body.provider, body.name, body.settings).await?;
    Ok((StatusCode::CREATED, Json(json::Resource::from(&resource))).into_response())
}

async fn read(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Json<json::Resource>, ApiError> {
    Ok(Json(json::Resource::from(&state.core.get_resource(&visitor.meta, id).await?)))
}

/// The body of `PATCH /api/resources/{id}`: the fields to change.
#[derive(Deserialize)]
struct ResourcePatch {
    name: Option<String>,
    settings: Option<Map<String, Value>>,
}

async fn patch(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<ResourcePatch>,
) -> Result<Json<json::Resource>, ApiError> {
    check_csrf(&visitor, &headers)?;
    let resource = state.core.update_resource(&visitor.meta, id, body.name, body.settings).await?;
    Ok(Json(json::Resource::from(&resource)))
}

async fn remove(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    check_csrf(&visitor, &headers)?;
    state.core.resources().delete_resource(visitor.meta.request(DeleteResourceRequest { id })).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/resources/{id}/activate` and `.../pause`.
async fn verb(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path((id, verb)): Path<(String, String)>,
) -> Result<Json<json::Resource>, ApiError> {
    let active = match verb.as_str() {
        "activate" => true,
        "pause" => false,
        _ => return Err(AppError::NotFound.into()),
    };
    check_csrf(&visitor, &headers)?;
    Ok(Json(json::Resource::from(&state.core.set_active(&visitor.meta, id, active).await?)))
}
