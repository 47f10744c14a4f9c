//! `/api/providers` and `/api/resources`: the channels a user connects. A resource's settings
//! travel as one object; the web edge splits out the secrets by the provider's `secret_fields`.

use assistchat_proto::v1::{DeleteResourceRequest, ListResourcesRequest, Provider};
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Body, PageQuery, check_csrf};
use crate::{
    AppState,
    error::{ApiError, AppError},
    resource::{create_resource, get_resource, providers, resource_json, set_active, update_resource},
    visitor::Visitor,
};

/// The routes of providers and resources.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/providers", get(list_providers))
        .route("/api/resources", get(list).post(create))
        .route("/api/resources/{id}", get(read).patch(patch).delete(remove))
        .route("/api/resources/{id}/{verb}", post(verb))
}

fn provider_json(provider: &Provider) -> Value {
    let schema: Value = serde_json::from_str(&provider.settings_schema_json).unwrap_or_default();
    json!({
        "name": provider.name,
        "display_name": provider.display_name,
        "description": provider.description,
        "version": provider.version,
        "settings_schema": schema,
        "secret_fields": provider.secret_fields,
        "identity_fields": provider.identity_fields,
        "online": provider.online,
        "instance_count": provider.instance_count,
    })
}

async fn list_providers(State(state): State<AppState>, visitor: Visitor) -> Result<Json<Value>, ApiError> {
    let providers = providers(&state, &visitor.meta).await?;
    Ok(Json(json!({ "providers": providers.iter().map(provider_json).collect::<Vec<_>>() })))
}

async fn list(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let request =
        ListResourcesRequest { page_size: query.page_size, page_token: query.page_token, provider: query.provider };
    let response = state.core.resources().list_resources(visitor.meta.request(request)).await?.into_inner();
    let resources: Vec<Value> = response.resources.iter().map(resource_json).collect();
    Ok(Json(json!({ "resources": resources, "next_page_token": response.next_page_token })))
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
    let resource = create_resource(&state, &visitor.meta, body.provider, body.name, body.settings).await?;
    Ok((StatusCode::CREATED, Json(resource_json(&resource))).into_response())
}

async fn read(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(resource_json(&get_resource(&state, &visitor.meta, id).await?)))
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
) -> Result<Json<Value>, ApiError> {
    check_csrf(&visitor, &headers)?;
    let resource = update_resource(&state, &visitor.meta, id, body.name, body.settings).await?;
    Ok(Json(resource_json(&resource)))
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
) -> Result<Json<Value>, ApiError> {
    let active = match verb.as_str() {
        "activate" => true,
        "pause" => false,
        _ => return Err(AppError::NotFound.into()),
    };
    check_csrf(&visitor, &headers)?;
    Ok(Json(resource_json(&set_active(&state, &visitor.meta, id, active).await?)))
}
