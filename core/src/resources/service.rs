//! `assistchat.v1.ResourceService` over [`Resources`] and the bot manager: every change is
//! stored first, then the manager brings the resource in line before the call answers.

use std::{collections::BTreeMap, sync::Arc};

use assistchat_proto::v1::{
    ActivateResourceRequest, ActivateResourceResponse, CreateResourceRequest, CreateResourceResponse,
    DeleteResourceRequest, DeleteResourceResponse, GetResourceRequest, GetResourceResponse, ListProvidersRequest,
    ListProvidersResponse, ListResourcesRequest, ListResourcesResponse, PauseResourceRequest, PauseResourceResponse,
    Provider, Resource, ResourceDesiredState, ResourceErrorAction, ResourceInfoItem, ResourceInfoKind, ResourceState,
    UpdateResourceRequest, UpdateResourceResponse, resource_service_server::ResourceService,
};
use tonic::{Request, Response, Status};

use super::{NewResource, ResourceChanges, Resources};
use crate::{
    auth::Accounts,
    bot::manager::{BotManager, Nudge},
    conversations::{Conversations, MODEL_SETTING},
    error::{Error, Result},
    providers::Registry,
    rpc::{caller, timestamp},
    store::{
        resources::ResourceRecord,
        states::{Action, Desired, State},
    },
};

/// The gRPC face of [`Resources`].
pub struct ResourceApi {
    /// Finds out who is calling.
    accounts: Arc<Accounts>,
    /// The domain.
    resources: Arc<Resources>,
    /// The providers.
    registry: Arc<Registry>,
    /// Starts and stops resources.
    manager: BotManager,
    /// Says which models a resource may choose.
    conversations: Arc<Conversations>,
}

impl ResourceApi {
    /// The service.
    pub fn new(
        accounts: Arc<Accounts>,
        resources: Arc<Resources>,
        registry: Arc<Registry>,
        manager: BotManager,
        conversations: Arc<Conversations>,
    ) -> Self {
        Self { accounts, resources, registry, manager, conversations }
    }

    /// `INVALID_ARGUMENT` on `resource.meta_json.model` unless the model the settings choose
    /// (if any) is one the user may choose; settings that are no JSON object are left to the
    /// provider's schema to name.
    async fn check_model(&self, user_id: &str, meta_json: &str) -> Result<()> {
        let settings: Option<serde_json::Value> = serde_json::from_str(meta_json).ok();
        match settings.as_ref().and_then(|settings| settings.get(MODEL_SETTING)).and_then(|model| model.as_str()) {
            Some(model) => self.conversations.check_model(user_id, "resource.meta_json.model", model.trim()).await,
            None => Ok(()),
        }
    }

    /// Lets the manager act on a resource, then reads it back as the caller sees it.
    async fn settled(&self, user_id: &str, id: &str, nudge: Nudge) -> Result<Resource> {
        self.manager.reconcile(vec![id.to_owned()], nudge).await;
        Ok(resource(self.resources.get(user_id, id).await?))
    }
}

/// A stored resource as the API shows it: secrets masked, never returned.
pub fn resource(record: ResourceRecord) -> Resource {
    Resource {
        id: record.id,
        provider: record.provider,
        name: record.name,
        meta_json: record.meta_json,
        secrets: Default::default(),
        secret_masks: serde_json::from_str(&record.secret_masks).unwrap_or_default(),
        desired_state: ResourceDesiredState::from(record.desired_state).into(),
        state: ResourceState::from(record.state).into(),
        state_detail: record.state_detail,
        state_reason: record.state_reason,
        state_action: ResourceErrorAction::from(record.state_action).into(),
        state_change_time: Some(timestamp(record.state_change_time)),
        status_info: status_info(&record.status_info),
        create_time: Some(timestamp(record.create_time)),
        update_time: Some(timestamp(record.update_time)),
    }
}

// The stored states by their names in the proto.

impl From<Desired> for ResourceDesiredState {
    fn from(desired: Desired) -> Self {
        match desired {
            Desired::Active => Self::Active,
            Desired::Paused => Self::Paused,
        }
    }
}

impl From<State> for ResourceState {
    fn from(state: State) -> Self {
        match state {
            State::Pending => Self::Pending,
            State::Ready => Self::Ready,
            State::Error => Self::Error,
            State::Paused => Self::Paused,
        }
    }
}

impl From<Action> for ResourceErrorAction {
    fn from(action: Action) -> Self {
        match action {
            Action::Unstated => Self::Unspecified,
            Action::Nothing => Self::None,
            Action::FixSettings => Self::FixSettings,
            Action::Reconnect => Self::Reconnect,
            Action::WaitForProvider => Self::WaitForProvider,
        }
    }
}

impl From<ResourceErrorAction> for Action {
    fn from(action: ResourceErrorAction) -> Self {
        match action {
            ResourceErrorAction::Unspecified => Self::Unstated,
            ResourceErrorAction::None => Self::Nothing,
            ResourceErrorAction::FixSettings => Self::FixSettings,
            ResourceErrorAction::Reconnect => Self::Reconnect,
            ResourceErrorAction::WaitForProvider => Self::WaitForProvider,
        }
    }
}

/// The stored status info, as the API shows it.
pub fn status_info(stored: &str) -> Vec<ResourceInfoItem> {
    let items: Vec<serde_json::Value> = serde_json::from_str(stored).unwrap_or_default();
    items
        .iter()
        .map(|item| {
            let text = |key: &str| item.get(key).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
            let kind = item.get("kind").and_then(serde_json::Value::as_i64).unwrap_or_default();
            ResourceInfoItem {
                key: text("key"),
                label: text("label"),
                value: text("value"),
                kind: ResourceInfoKind::try_from(i32::try_from(kind).unwrap_or_default())
                    .unwrap_or(ResourceInfoKind::Unspecified)
                    .into(),
            }
        })
        .collect()
}

/// The changes an update asks for: the fields its mask names, or with no mask all of them.
fn changes(update: Resource, mask: &[String], clear_secrets: Vec<String>) -> Result<ResourceChanges> {
    let all = mask.is_empty();
    let mut changes = ResourceChanges { clear_secrets, ..Default::default() };
    let named = |field: &str| all || mask.iter().any(|path| path == field);
    for path in mask {
        if !["name", "meta_json", "secrets"].contains(&path.as_str()) {
            return Err(Error::invalid(
                "update_mask",
                format!("{path:?} cannot be changed; the mask may name name, meta_json and secrets"),
            ));
        }
    }
    if named("name") {
        changes.name = Some(update.name);
    }
    if named("meta_json") {
        changes.meta_json = Some(update.meta_json);
    }
    if named("secrets") {
        changes.secrets = Some(update.secrets.into_iter().collect());
    }
    Ok(changes)
}

#[tonic::async_trait]
impl ResourceService for ResourceApi {
    #[tracing::instrument(skip_all)]
    async fn list_providers(
        &self,
        request: Request<ListProvidersRequest>,
    ) -> Result<Response<ListProvidersResponse>, Status> {
        caller(&self.accounts, &request).await?;
        let providers = self
            .registry
            .list()
            .into_iter()
            .map(|(spec, instances)| Provider {
                name: spec.name,
                display_name: spec.display_name,
                description: spec.description,
                version: spec.version,
                settings_schema_json: spec.schema_json,
                secret_fields: spec.secret_fields,
                identity_fields: spec.identity_fields,
                online: instances > 0,
                instance_count: i32::try_from(instances).unwrap_or(i32::MAX),
            })
            .collect();
        Ok(Response::new(ListProvidersResponse { providers }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_resource(
        &self,
        request: Request<CreateResourceRequest>,
    ) -> Result<Response<CreateResourceResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let input =
            request.into_inner().resource.ok_or_else(|| Error::invalid("resource", "send the resource to create"))?;
        let paused = match ResourceDesiredState::try_from(input.desired_state) {
            Ok(ResourceDesiredState::Unspecified | ResourceDesiredState::Active) => false,
            Ok(ResourceDesiredState::Paused) => true,
            Err(_) => return Err(Error::invalid("resource.desired_state", "choose ACTIVE or PAUSED").into()),
        };
        let new = NewResource {
            provider: input.provider,
            name: input.name,
            meta_json: input.meta_json,
            secrets: input.secrets.into_iter().collect::<BTreeMap<_, _>>(),
            paused,
        };
        self.check_model(&caller.user_id, &new.meta_json).await?;
        let record = self.resources.create(&caller.user_id, new).await?;
        self.manager.changed(&caller.user_id, &record.id);
        let resource = self.settled(&caller.user_id, &record.id, Nudge::Check).await?;
        Ok(Response::new(CreateResourceResponse { resource: Some(resource) }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_resource(
        &self,
        request: Request<GetResourceRequest>,
    ) -> Result<Response<GetResourceResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let record = self.resources.get(&caller.user_id, &request.get_ref().id).await?;
        Ok(Response::new(GetResourceResponse { resource: Some(resource(record)) }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_resources(
        &self,
        request: Request<ListResourcesRequest>,
    ) -> Result<Response<ListResourcesResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let input = request.get_ref();
        let (records, next_page_token) =
            self.resources.list(&caller.user_id, &input.provider, input.page_size, &input.page_token).await?;
        let resources = records.into_iter().map(resource).collect();
        Ok(Response::new(ListResourcesResponse { resources, next_page_token }))
    }

    #[tracing::instrument(skip_all)]
    async fn update_resource(
        &self,
        request: Request<UpdateResourceRequest>,
    ) -> Result<Response<UpdateResourceResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let input = request.into_inner();
        let update =
            input.resource.ok_or_else(|| Error::invalid("resource", "send the resource with the new values"))?;
        let id = update.id.clone();
        let mask = input.update_mask.map(|mask| mask.paths).unwrap_or_default();
        let changes = changes(update, &mask, input.clear_secrets)?;
        if let Some(meta_json) = &changes.meta_json {
            self.check_model(&caller.user_id, meta_json).await?;
        }
        let (_, settings_changed) = self.resources.update(&caller.user_id, &id, changes).await?;
        self.manager.changed(&caller.user_id, &id);
        let nudge = if settings_changed { Nudge::Restart } else { Nudge::Check };
        let resource = self.settled(&caller.user_id, &id, nudge).await?;
        Ok(Response::new(UpdateResourceResponse { resource: Some(resource) }))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_resource(
        &self,
        request: Request<DeleteResourceRequest>,
    ) -> Result<Response<DeleteResourceResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let id = &request.get_ref().id;
        self.resources.delete(&caller.user_id, id).await?;
        self.manager.deleted(&caller.user_id, id).await;
        Ok(Response::new(DeleteResourceResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn activate_resource(
        &self,
        request: Request<ActivateResourceRequest>,
    ) -> Result<Response<ActivateResourceResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let id = &request.get_ref().id;
        self.resources.set_active(&caller.user_id, id, true).await?;
        // Activating again is how a user retries a resource in error.
        let current = self.resources.get(&caller.user_id, id).await?;
        let nudge = if current.state == State::Error { Nudge::Restart } else { Nudge::Check };
        let resource = self.settled(&caller.user_id, id, nudge).await?;
        Ok(Response::new(ActivateResourceResponse { resource: Some(resource) }))
    }

    #[tracing::instrument(skip_all)]
    async fn pause_resource(
        &self,
        request: Request<PauseResourceRequest>,
    ) -> Result<Response<PauseResourceResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let id = &request.get_ref().id;
        self.resources.set_active(&caller.user_id, id, false).await?;
        let resource = self.settled(&caller.user_id, id, Nudge::Check).await?;
        Ok(Response::new(PauseResourceResponse { resource: Some(resource) }))
    }
}
