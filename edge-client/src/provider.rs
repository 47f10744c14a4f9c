//! The one trait a provider implements, and what each running resource gets.

use std::{collections::HashMap, future::Future};

use assistchat_proto::v1::{
    AttachRequest, ChannelUser, ConverseRequest, ConverseResponse, EdgeResourceState, ResetConversationRequest,
    ResourceErrorAction, ResourceInfoItem, ResourceReport, attach_request, edge_service_client::EdgeServiceClient,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, Status, metadata::MetadataValue, transport::Channel};

/// What a provider tells core about itself (the hello, less the instance id).
#[derive(Clone, Debug, Default)]
pub struct ProviderHello {
    /// The provider's name, such as "telegram".
    pub name: String,
    /// The name for people, such as "Telegram".
    pub display_name: String,
    /// What a resource connects, in a sentence or two.
    pub description: String,
    /// The edge's version.
    pub version: String,
    /// The JSON Schema of a resource's settings.
    pub settings_schema_json: String,
    /// The settings that are secrets.
    pub secret_fields: Vec<String>,
    /// The settings that identify the external account.
    pub identity_fields: Vec<String>,
}

/// A provider: it describes its resources and runs one of them until told to stop.
pub trait Provider: Send + Sync + 'static {
    /// The description sent in every hello.
    fn hello(&self) -> ProviderHello;

    /// Runs one resource: check its settings, report `ready` or `error` through `session`,
    /// then serve it until `session.cancelled()` resolves, and return within a second or two
    /// of that. Returning earlier means the resource gave up (report why first).
    fn run(&self, start: ResourceStart, session: Session) -> impl Future<Output = ()> + Send;
}

/// A resource core asks this edge to run, with its settings and decrypted secrets.
#[derive(Clone)]
pub struct ResourceStart {
    /// The resource's id.
    pub resource_id: String,
    /// Its generation: a new one restarts the resource with new settings.
    pub generation: i64,
    /// The owner's id.
    pub owner_user_id: String,
    /// The owner's name.
    pub owner_display_name: String,
    /// The owner's language, "en" or "ru": the language of texts written for this resource.
    pub owner_language_code: String,
    /// The name the owner gave it.
    pub name: String,
    /// The plain settings, a JSON object.
    pub settings_json: String,
    /// The secrets, by name. Keep them in memory only.
    pub secrets: HashMap<String, String>,
}

// Secrets must never reach a log line.
impl std::fmt::Debug for ResourceStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceStart")
            .field("resource_id", &self.resource_id)
            .field("generation", &self.generation)
            .field("name", &self.name)
            .field("settings_json", &self.settings_json)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// What a running resource uses: its reports, its stop signal and core's conversation calls.
#[derive(Clone, Debug)]
pub struct Session {
    /// The resource.
    resource_id: String,
    /// The generation reports are about.
    generation: i64,
    /// This instance's id, which core's calls need.
    instance_id: String,
    /// The attach stream's outbound side.
    outbound: mpsc::UnboundedSender<AttachRequest>,
    /// Cancelled when the resource must stop.
    cancel: CancellationToken,
    /// Core, for conversations.
    core: CoreCalls,
}

impl Session {
    pub(crate) fn new(
        start: &ResourceStart,
        instance_id: String,
        outbound: mpsc::UnboundedSender<AttachRequest>,
        cancel: CancellationToken,
        core: CoreCalls,
    ) -> Self {
        Self {
            resource_id: start.resource_id.clone(),
            generation: start.generation,
            instance_id,
            outbound,
            cancel,
            core,
        }
    }

    /// Reports the resource starting (checking credentials, say).
    pub fn starting(&self, detail: &str) {
        self.report(EdgeResourceState::Starting, detail, "", ResourceErrorAction::Unspecified, Vec::new());
    }

    /// Reports the resource running, with what its page should show.
    pub fn ready(&self, detail: &str, info: Vec<ResourceInfoItem>) {
        self.report(EdgeResourceState::Ready, detail, "", ResourceErrorAction::Unspecified, info);
    }

    /// Reports the resource failing: `detail` says why in the owner's language, `reason` is an
    /// UPPER_SNAKE_CASE code, `action` what the user can do.
    pub fn error(&self, detail: &str, reason: &str, action: ResourceErrorAction) {
        self.report(EdgeResourceState::Error, detail, reason, action, Vec::new());
    }

    /// Sends a report of any state.
    pub fn report(
        &self,
        state: EdgeResourceState,
        detail: &str,
        reason: &str,
        action: ResourceErrorAction,
        status_info: Vec<ResourceInfoItem>,
    ) {
        let report = ResourceReport {
            resource_id: self.resource_id.clone(),
            generation: self.generation,
            state: state.into(),
            detail: detail.into(),
            reason: reason.into(),
            action: action.into(),
            status_info,
        };
        // A closed stream means core is gone; the resource is being stopped anyway.
        let _ = self.outbound.send(AttachRequest { kind: Some(attach_request::Kind::Report(report)) });
    }

    /// Resolves when the resource must stop.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    /// Whether the resource must stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Hands core one inbound message and returns the assistant's reply (see
    /// `EdgeService.Converse`).
    pub async fn converse(
        &self,
        chat_id: &str,
        sender: ChannelUser,
        external_message_id: &str,
        text: &str,
    ) -> Result<ConverseResponse, Status> {
        let request = ConverseRequest {
            instance_id: self.instance_id.clone(),
            resource_id: self.resource_id.clone(),
            chat_id: chat_id.into(),
            sender: Some(sender),
            external_message_id: external_message_id.into(),
            text: text.into(),
        };
        let mut request = self.core.request(request);
        request.set_timeout(CONVERSE_DEADLINE);
        Ok(self.core.client().converse(request).await?.into_inner())
    }

    /// Clears one chat's memory (see `EdgeService.ResetConversation`).
    pub async fn reset_conversation(&self, chat_id: &str) -> Result<(), Status> {
        let request = ResetConversationRequest {
            instance_id: self.instance_id.clone(),
            resource_id: self.resource_id.clone(),
            chat_id: chat_id.into(),
        };
        self.core.client().reset_conversation(self.core.request(request)).await?;
        Ok(())
    }
}

/// Core's words for the person who wrote, when a conversation call failed in a way they should
/// hear about (no usable key, a spent quota, a model that is down); `None` when the failure is
/// the edge's or the network's, and the message should be left for a later try.
pub fn words_for_person(status: &Status) -> Option<&str> {
    let from_core = std::error::Error::source(status).is_none();
    let for_people = matches!(status.code(), Code::FailedPrecondition | Code::ResourceExhausted | Code::Unavailable);
    (from_core && for_people).then(|| status.message())
}

/// How long a conversation call may take: the model's retries take up to about a minute.
const CONVERSE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(90);

/// Core's EdgeService with the edge credential on every call.
#[derive(Clone)]
pub(crate) struct CoreCalls {
    /// The channel to core.
    pub channel: Channel,
    /// "Bearer <credential>".
    pub authorization: MetadataValue<tonic::metadata::Ascii>,
}

impl std::fmt::Debug for CoreCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoreCalls")
    }
}

impl CoreCalls {
    pub(crate) fn client(&self) -> EdgeServiceClient<Channel> {
        EdgeServiceClient::new(self.channel.clone())
    }

    pub(crate) fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.metadata_mut().insert("authorization", self.authorization.clone());
        request
    }
}
