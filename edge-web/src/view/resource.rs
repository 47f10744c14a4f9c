//! A resource as scripts and pages see it: its state from a resource or a live status alike,
//! lower-case names for its states, and one `settings` object (secrets masked) where core keeps
//! `meta_json` and `secrets` apart.

use assistchat_proto::v1::{
    Resource, ResourceDesiredState, ResourceErrorAction, ResourceInfoItem, ResourceInfoKind, ResourceState,
    ResourceStatus,
};
use serde_json::{Map, Value};

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
