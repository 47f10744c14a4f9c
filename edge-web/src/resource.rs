//! A resource as scripts and pages see it: one `settings` object (secrets included) where core
//! keeps `meta_json` and `secrets` apart, lower-case state names, and errors that name the
//! fields as the JSON API and the forms do; and the calls to core that both make.

use std::collections::HashMap;

use assistchat_proto::v1::{
    ActivateResourceRequest, BotStatus, CreateResourceRequest, GetResourceRequest, ListProvidersRequest,
    PauseResourceRequest, Provider, Resource, ResourceDesiredState, ResourceErrorAction, ResourceInfoItem,
    ResourceInfoKind, ResourceState, ResourceStatus, UpdateResourceRequest,
};
use prost_types::FieldMask;
use serde_json::{Map, Value, json};
use tonic::Code;
use tonic_types::StatusExt;

use crate::{AppState, core_client::CallMeta, error::AppError, pages::profile::format_time};

/// The state of one resource, from a [`Resource`] or a [`ResourceStatus`] alike.
pub struct StateView<'a> {
    /// The resource's id.
    pub id: &'a str,
    /// Its provider's name.
    pub provider: &'a str,
    /// The name the user gave it.
    pub name: &'a str,
    /// What the user wants.
    pub desired: ResourceDesiredState,
    /// What it does.
    pub state: ResourceState,
    /// The state in words, from core or the provider (English).
    pub detail: &'a str,
    /// The reason's code.
    pub reason: &'a str,
    /// What the user can do about an error.
    pub action: ResourceErrorAction,
    /// When the state last changed.
    pub change_time: Option<&'a prost_types::Timestamp>,
    /// What the provider reported.
    pub info: &'a [ResourceInfoItem],
}

impl<'a> From<&'a Resource> for StateView<'a> {
    fn from(r: &'a Resource) -> Self {
        Self {
            id: &r.id,
            provider: &r.provider,
            name: &r.name,
            desired: r.desired_state(),
            state: r.state(),
            detail: &r.state_detail,
            reason: &r.state_reason,
            action: r.state_action(),
            change_time: r.state_change_time.as_ref(),
            info: &r.status_info,
        }
    }
}

impl<'a> From<&'a ResourceStatus> for StateView<'a> {
    fn from(r: &'a ResourceStatus) -> Self {
        Self {
            id: &r.resource_id,
            provider: &r.provider,
            name: &r.name,
            desired: r.desired_state(),
            state: r.state(),
            detail: &r.state_detail,
            reason: &r.state_reason,
            action: r.state_action(),
            change_time: r.state_change_time.as_ref(),
            info: &r.status_info,
        }
    }
}

/// `pending`, `ready`, `error`, `paused` (or `unknown`).
pub fn state_name(state: ResourceState) -> &'static str {
    match state {
        ResourceState::Pending => "pending",
        ResourceState::Ready => "ready",
        ResourceState::Error => "error",
        ResourceState::Paused => "paused",
        ResourceState::Unspecified => "unknown",
    }
}

/// `none`, `fix_settings`, `reconnect`, `wait_for_provider`; `None` when nothing is known.
pub fn action_name(action: ResourceErrorAction) -> Option<&'static str> {
    match action {
        ResourceErrorAction::Unspecified => None,
        ResourceErrorAction::None => Some("none"),
        ResourceErrorAction::FixSettings => Some("fix_settings"),
        ResourceErrorAction::Reconnect => Some("reconnect"),
        ResourceErrorAction::WaitForProvider => Some("wait_for_provider"),
    }
}

/// `text`, `link` or `copyable`.
pub fn info_kind_name(kind: ResourceInfoKind) -> &'static str {
    match kind {
        ResourceInfoKind::Link => "link",
        ResourceInfoKind::Copyable => "copyable",
        _ => "text",
    }
}

/// The state of a resource as JSON: every field but the settings.
pub fn state_json(view: &StateView) -> Map<String, Value> {
    let desired = if view.desired == ResourceDesiredState::Paused { "paused" } else { "active" };
    let info: Vec<Value> = view
        .info
        .iter()
        .map(|item| json!({"key": item.key, "label": item.label, "value": item.value, "kind": info_kind_name(item.kind())}))
        .collect();
    let value = json!({
        "id": view.id,
        "provider": view.provider,
        "name": view.name,
        "desired_state": desired,
        "state": state_name(view.state),
        "state_detail": view.detail,
        "state_reason": view.reason,
        "state_action": action_name(view.action),
        "state_change_time": view.change_time.map(rfc3339),
        "status_info": info,
    });
    let Value::Object(map) = value else { unreachable!("a JSON object literal") };
    map
}

/// A resource as the JSON API returns it: its state and its settings, secrets masked.
pub fn resource_json(resource: &Resource) -> Value {
    let mut map = state_json(&resource.into());
    map.insert("settings".into(), Value::Object(settings_of(resource)));
    map.insert("create_time".into(), resource.create_time.as_ref().map(rfc3339).into());
    map.insert("update_time".into(), resource.update_time.as_ref().map(rfc3339).into());
    Value::Object(map)
}

/// The bot's status as JSON.
pub fn bot_json(status: &BotStatus) -> Value {
    let resources: Vec<Value> = status.resources.iter().map(|r| Value::Object(state_json(&r.into()))).collect();
    json!({
        "enabled": status.enabled,
        "switch_time": status.switch_time.as_ref().map(rfc3339),
        "resources": resources,
        "counts": {
            "ready": status.ready_count,
            "pending": status.pending_count,
            "error": status.error_count,
            "paused": status.paused_count,
        },
        "ai_warning": status.ai_warning,
    })
}

/// The plain settings with each stored secret as its mask, such as `"...1111"`.
pub fn settings_of(resource: &Resource) -> Map<String, Value> {
    let mut settings = match serde_json::from_str(&resource.meta_json) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    for (name, mask) in &resource.secret_masks {
        settings.insert(name.clone(), Value::String(mask.clone()));
    }
    settings
}

/// Settings split as core keeps them: `meta_json` with the plain ones and the secrets by name.
/// A secret that is not a string, or is empty, or equals its stored mask (a script that read a
/// resource and sent it back) is left out, which keeps the stored value.
pub fn split_settings(
    mut settings: Map<String, Value>,
    provider: Option<&Provider>,
    masks: &HashMap<String, String>,
) -> (String, HashMap<String, String>) {
    let mut secrets = HashMap::new();
    for name in provider.map(|p| p.secret_fields.as_slice()).unwrap_or_default() {
        match settings.remove(name) {
            Some(Value::String(value)) if !value.is_empty() && masks.get(name) != Some(&value) => {
                secrets.insert(name.clone(), value);
            }
            // Not a string: core's schema check names it.
            Some(other @ (Value::Number(_) | Value::Bool(_) | Value::Array(_) | Value::Object(_))) => {
                settings.insert(name.clone(), other);
            }
            _ => {}
        }
    }
    (Value::Object(settings).to_string(), secrets)
}

// The calls pages and the API share.

/// The providers the caller can connect.
pub async fn providers(state: &AppState, meta: &CallMeta) -> Result<Vec<Provider>, AppError> {
    Ok(state.core.resources().list_providers(meta.request(ListProvidersRequest {})).await?.into_inner().providers)
}

/// Creates a resource from settings that hold the secrets too.
pub async fn create_resource(
    state: &AppState,
    meta: &CallMeta,
    provider: String,
    name: String,
    settings: Map<String, Value>,
) -> Result<Resource, AppError> {
    let providers = providers(state, meta).await?;
    let (meta_json, secrets) = split_settings(settings, providers.iter().find(|p| p.name == provider), &HashMap::new());
    let resource = Resource { provider, name, meta_json, secrets, ..Default::default() };
    let request = CreateResourceRequest { resource: Some(resource) };
    let response = state.core.resources().create_resource(meta.request(request)).await.map_err(resource_error)?;
    Ok(response.into_inner().resource.unwrap_or_default())
}

/// One of the caller's resources.
pub async fn get_resource(state: &AppState, meta: &CallMeta, id: String) -> Result<Resource, AppError> {
    let response = state.core.resources().get_resource(meta.request(GetResourceRequest { id })).await?;
    Ok(response.into_inner().resource.unwrap_or_default())
}

/// Changes the name and, when given, the settings: the plain ones are replaced as a whole; a
/// secret left out, empty or sent back as its mask keeps the stored value.
pub async fn update_resource(
    state: &AppState,
    meta: &CallMeta,
    id: String,
    name: Option<String>,
    settings: Option<Map<String, Value>>,
) -> Result<Resource, AppError> {
    let mut paths = Vec::new();
    let mut resource = Resource { id, ..Default::default() };
    if let Some(name) = name {
        resource.name = name;
        paths.push("name".to_owned());
    }
    if let Some(settings) = settings {
        let stored = get_resource(state, meta, resource.id.clone()).await?;
        let providers = providers(state, meta).await?;
        let provider = providers.iter().find(|p| p.name == stored.provider);
        (resource.meta_json, resource.secrets) = split_settings(settings, provider, &stored.secret_masks);
        paths.extend(["meta_json".to_owned(), "secrets".to_owned()]);
    }
    if paths.is_empty() {
        return Err(AppError::BadRequest("nothing to change; send \"name\" or \"settings\"".into()));
    }
    let request = UpdateResourceRequest {
        resource: Some(resource),
        update_mask: Some(FieldMask { paths }),
        clear_secrets: Vec::new(),
    };
    let response = state.core.resources().update_resource(meta.request(request)).await.map_err(resource_error)?;
    Ok(response.into_inner().resource.unwrap_or_default())
}

/// Activates (`true`) or pauses a resource; returns it after the change.
pub async fn set_active(state: &AppState, meta: &CallMeta, id: String, active: bool) -> Result<Resource, AppError> {
    let resources = state.core.resources();
    let resource = if active {
        resources.clone().activate_resource(meta.request(ActivateResourceRequest { id })).await?.into_inner().resource
    } else {
        resources.clone().pause_resource(meta.request(PauseResourceRequest { id })).await?.into_inner().resource
    };
    Ok(resource.unwrap_or_default())
}

/// The name of a core field as the JSON API and the forms say it: `resource.meta_json.x` and
/// `resource.secrets.x` are `settings.x`; `resource.name` is `name`.
pub fn field_name(core_field: &str) -> String {
    let field = core_field.strip_prefix("resource.").unwrap_or(core_field);
    for prefix in ["meta_json.", "secrets."] {
        if let Some(setting) = field.strip_prefix(prefix) {
            return format!("settings.{setting}");
        }
    }
    if field == "meta_json" || field == "secrets" { "settings".into() } else { field.into() }
}

/// Core's answer to a resource call, with the field at fault renamed by [`field_name`].
pub fn resource_error(status: tonic::Status) -> AppError {
    if status.code() != Code::InvalidArgument {
        return status.into();
    }
    let details = status.get_error_details();
    let Some(violation) = details.bad_request().and_then(|b| b.field_violations.first()) else {
        return status.into();
    };
    AppError::Invalid { field: field_name(&violation.field), message: violation.description.clone() }
}

/// A timestamp in RFC 3339, such as `2026-01-02T03:04:05Z`.
pub fn rfc3339(time: &prost_types::Timestamp) -> String {
    // format_time gives "YYYY-MM-DD HH:MM UTC"; the seconds come from the timestamp itself.
    let minutes = format_time(time);
    let (date_time, _) = minutes.rsplit_once(' ').unwrap_or((&minutes, ""));
    format!("{}:{:02}Z", date_time.replace(' ', "T"), time.seconds.rem_euclid(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_fields_are_renamed_for_people() {
        assert_eq!(field_name("resource.meta_json.allowed_users"), "settings.allowed_users");
        assert_eq!(field_name("resource.secrets.api_token"), "settings.api_token");
        assert_eq!(field_name("resource.name"), "name");
        assert_eq!(field_name("resource.provider"), "provider");
        assert_eq!(field_name("resource.meta_json"), "settings");
    }

    #[test]
    fn secrets_are_split_from_plain_settings() {
        let provider = Provider { secret_fields: vec!["token".into(), "key".into()], ..Default::default() };
        let masks = HashMap::from([("key".to_owned(), "...9999".to_owned())]);
        let settings = json!({"token": "abc", "key": "...9999", "prompt": "Hi"});
        let Value::Object(settings) = settings else { unreachable!() };
        let (meta, secrets) = split_settings(settings, Some(&provider), &masks);
        assert_eq!(meta, r#"{"prompt":"Hi"}"#);
        assert_eq!(secrets, HashMap::from([("token".to_owned(), "abc".to_owned())]));
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(&prost_types::Timestamp { seconds: 1_795_700_007, nanos: 0 }), "2026-11-26T13:33:27Z");
    }
}
