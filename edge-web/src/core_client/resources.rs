//! The resource calls pages and the API share: settings split into what core keeps apart
//! (`meta_json` and the secrets), and core's errors with the fields named as the JSON API and the
//! forms name them.

use std::collections::HashMap;

use assistchat_proto::v1::{
    ActivateResourceRequest, BotStatus, CreateResourceRequest, GetBotStatusRequest, GetResourceRequest,
    ListProvidersRequest, ListResourcesRequest, PauseResourceRequest, Provider, Resource, UpdateResourceRequest,
};
use prost_types::FieldMask;
use serde_json::{Map, Value};

use super::{CallMeta, Core};
use crate::error::AppError;

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

impl Core {
    /// The providers the caller can connect.
    pub async fn providers(&self, meta: &CallMeta) -> Result<Vec<Provider>, AppError> {
        Ok(self.resources().list_providers(meta.request(ListProvidersRequest {})).await?.into_inner().providers)
    }

    /// The provider named `name`, if its edge ever attached.
    pub async fn provider(&self, meta: &CallMeta, name: &str) -> Result<Option<Provider>, AppError> {
        Ok(self.providers(meta).await?.into_iter().find(|p| p.name == name))
    }

    /// The first `page_size` of the caller's resources, of `provider` alone unless it is empty.
    pub async fn list_resources(
        &self,
        meta: &CallMeta,
        provider: &str,
        page_size: i32,
    ) -> Result<Vec<Resource>, AppError> {
        let request = ListResourcesRequest { page_size, provider: provider.into(), ..Default::default() };
        Ok(self.resources().list_resources(meta.request(request)).await?.into_inner().resources)
    }

    /// Creates a resource of the provider named `provider` from settings that hold the secrets
    /// too.
    pub async fn create_resource(
        &self,
        meta: &CallMeta,
        provider: String,
        name: String,
        settings: Map<String, Value>,
    ) -> Result<Resource, AppError> {
        let known = self.provider(meta, &provider).await?;
        self.create_resource_of(meta, provider, known.as_ref(), name, settings).await
    }

    /// The same, with the provider already at hand (`None` when its edge never attached: core
    /// then says so), so that its secrets are split off without asking core for it again.
    pub async fn create_resource_of(
        &self,
        meta: &CallMeta,
        provider: String,
        known: Option<&Provider>,
        name: String,
        settings: Map<String, Value>,
    ) -> Result<Resource, AppError> {
        let (meta_json, secrets) = split_settings(settings, known, &HashMap::new());
        let resource = Resource { provider, name, meta_json, secrets, ..Default::default() };
        let request = CreateResourceRequest { resource: Some(resource) };
        let response = self.resources().create_resource(meta.request(request)).await.map_err(resource_error)?;
        Ok(response.into_inner().resource.unwrap_or_default())
    }

    /// One of the caller's resources.
    pub async fn get_resource(&self, meta: &CallMeta, id: String) -> Result<Resource, AppError> {
        let response = self.resources().get_resource(meta.request(GetResourceRequest { id })).await?;
        Ok(response.into_inner().resource.unwrap_or_default())
    }

    /// One of the caller's resources and its provider (empty when its edge never attached).
    pub async fn resource_with_provider(&self, meta: &CallMeta, id: String) -> Result<(Resource, Provider), AppError> {
        let resource = self.get_resource(meta, id).await?;
        let provider = self.provider(meta, &resource.provider).await?.unwrap_or_default();
        Ok((resource, provider))
    }

    /// Changes the name and, when given, the settings: the plain ones are replaced as a whole; a
    /// secret left out, empty or sent back as its mask keeps the stored value.
    pub async fn update_resource(
        &self,
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
            let (stored, provider) = self.resource_with_provider(meta, resource.id.clone()).await?;
            (resource.meta_json, resource.secrets) = split_settings(settings, Some(&provider), &stored.secret_masks);
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
        let response = self.resources().update_resource(meta.request(request)).await.map_err(resource_error)?;
        Ok(response.into_inner().resource.unwrap_or_default())
    }

    /// Activates (`true`) or pauses a resource; returns it after the change.
    pub async fn set_active(&self, meta: &CallMeta, id: String, active: bool) -> Result<Resource, AppError> {
        let mut resources = self.resources();
        let resource = if active {
            resources.activate_resource(meta.request(ActivateResourceRequest { id })).await?.into_inner().resource
        } else {
            resources.pause_resource(meta.request(PauseResourceRequest { id })).await?.into_inner().resource
        };
        Ok(resource.unwrap_or_default())
    }

    /// The bot's status for a page; `None` when core could not say (the page shows the rest).
    pub async fn bot_status(&self, meta: &CallMeta) -> Option<BotStatus> {
        let response = self.bot().get_bot_status(meta.request(GetBotStatusRequest {})).await;
        response.ok().and_then(|r| r.into_inner().bot_status)
    }
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
    AppError::with_field_renamed(status, field_name)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

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
}
