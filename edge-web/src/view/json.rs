//! What the JSON API answers, as types: each made from core's message once, with lower-case
//! names for enums and every time in RFC 3339 under a `*_time` name, as the proto has it.

use assistchat_proto::v1 as proto;
use proto::{AiMode, OpenAiKeyState, ResourceDesiredState};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{
    chat::role_name,
    conversation,
    markdown::reply_html,
    resource::{StateView, action_name, info_kind_name, settings_of, state_name},
    time::rfc3339,
};

/// A timestamp in RFC 3339, when there is one.
fn time(time: Option<&prost_types::Timestamp>) -> Option<String> {
    time.map(rfc3339)
}

/// `byok` or `managed`.
fn mode_name(mode: AiMode) -> &'static str {
    if mode == AiMode::Byok { "byok" } else { "managed" }
}

/// An account.
#[derive(Debug, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub language_code: String,
}

impl From<proto::User> for User {
    fn from(user: proto::User) -> Self {
        Self { id: user.id, email: user.email, display_name: user.display_name, language_code: user.language_code }
    }
}

/// The answer of a sign-in or registration: who signed in, and the CSRF token scripts send back.
#[derive(Serialize)]
pub struct SignedIn {
    pub user: User,
    pub csrf_token: String,
}
redacted_debug!(SignedIn { user ; csrf_token });

/// The profile.
#[derive(Debug, Serialize)]
pub struct Profile {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub language_code: String,
    pub openai: OpenAi,
    /// Why an own key just saved could not be checked; only in the answer of that change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// The AI settings of the profile.
#[derive(Debug, Serialize)]
pub struct OpenAi {
    /// `managed` or `byok`.
    pub mode: &'static str,
    pub key_mask: String,
    /// `set`, `rejected` or `missing`.
    pub key_state: &'static str,
    pub base_url: String,
    pub model: String,
}

impl From<proto::Profile> for Profile {
    fn from(profile: proto::Profile) -> Self {
        let key_state = match profile.openai_key_state() {
            OpenAiKeyState::Set => "set",
            OpenAiKeyState::Rejected => "rejected",
            _ => "missing",
        };
        let openai = OpenAi {
            mode: mode_name(profile.ai_mode()),
            key_mask: profile.openai_key_mask,
            key_state,
            base_url: profile.openai_base_url,
            model: profile.openai_model,
        };
        Self {
            user_id: profile.user_id,
            email: profile.email,
            display_name: profile.display_name,
            language_code: profile.language_code,
            openai,
            warning: None,
        }
    }
}

/// What a check of the own key found.
#[derive(Debug, Serialize)]
pub struct KeyTest {
    /// `accepted`, `rejected`, `unreachable` or `missing`.
    pub result: &'static str,
    pub detail: String,
    pub profile: Profile,
}

/// A personal API token, without its secret.
#[derive(Debug, Serialize)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub create_time: Option<String>,
    pub last_use_time: Option<String>,
    /// `None` for a token that never expires.
    pub expire_time: Option<String>,
}

impl From<&proto::ApiToken> for ApiToken {
    fn from(token: &proto::ApiToken) -> Self {
        Self {
            id: token.id.clone(),
            name: token.name.clone(),
            create_time: time(token.create_time.as_ref()),
            last_use_time: time(token.last_use_time.as_ref()),
            expire_time: time(token.expire_time.as_ref()),
        }
    }
}

/// A token just created, with its secret, shown this once.
#[derive(Serialize)]
pub struct NewApiToken {
    #[serde(flatten)]
    pub api_token: ApiToken,
    pub token: String,
}
redacted_debug!(NewApiToken { api_token ; token });

/// A page of the tokens.
#[derive(Debug, Serialize)]
pub struct ApiTokens {
    pub tokens: Vec<ApiToken>,
    pub next_page_token: String,
}

/// What a password change ended.
#[derive(Debug, Serialize)]
pub struct PasswordChanged {
    pub ended_session_count: i32,
    pub revoked_api_token_count: i32,
}

/// A provider the caller can connect.
#[derive(Debug, Serialize)]
pub struct Provider {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub version: String,
    /// Its settings' JSON Schema, as an object.
    pub settings_schema: Value,
    pub secret_fields: Vec<String>,
    pub identity_fields: Vec<String>,
    pub online: bool,
    pub instance_count: i32,
}

impl From<proto::Provider> for Provider {
    fn from(provider: proto::Provider) -> Self {
        Self {
            settings_schema: serde_json::from_str(&provider.settings_schema_json).unwrap_or_default(),
            name: provider.name,
            display_name: provider.display_name,
            description: provider.description,
            version: provider.version,
            secret_fields: provider.secret_fields,
            identity_fields: provider.identity_fields,
            online: provider.online,
            instance_count: provider.instance_count,
        }
    }
}

/// The providers.
#[derive(Debug, Serialize)]
pub struct Providers {
    pub providers: Vec<Provider>,
}

/// The state of a resource: every field but the settings.
#[derive(Debug, Serialize)]
pub struct ResourceState {
    pub id: String,
    pub provider: String,
    pub name: String,
    /// `active` or `paused`.
    pub desired_state: &'static str,
    /// `pending`, `ready`, `error` or `paused`.
    pub state: &'static str,
    pub state_detail: String,
    pub state_reason: String,
    /// What the user can do about an error, when something is known.
    pub state_action: Option<&'static str>,
    pub state_change_time: Option<String>,
    pub status_info: Vec<InfoItem>,
}

/// One thing the provider reported about a resource.
#[derive(Debug, Serialize)]
pub struct InfoItem {
    pub key: String,
    pub label: String,
    pub value: String,
    /// `text`, `link` or `copyable`.
    pub kind: &'static str,
}

impl From<&StateView<'_>> for ResourceState {
    fn from(view: &StateView) -> Self {
        let desired = if view.desired == ResourceDesiredState::Paused { "paused" } else { "active" };
        let info = view.info.iter().map(|item| InfoItem {
            key: item.key.clone(),
            label: item.label.clone(),
            value: item.value.clone(),
            kind: info_kind_name(item.kind()),
        });
        Self {
            id: view.id.to_owned(),
            provider: view.provider.to_owned(),
            name: view.name.to_owned(),
            desired_state: desired,
            state: state_name(view.state),
            state_detail: view.detail.to_owned(),
            state_reason: view.reason.to_owned(),
            state_action: action_name(view.action),
            state_change_time: time(view.change_time),
            status_info: info.collect(),
        }
    }
}

impl From<&proto::ResourceStatus> for ResourceState {
    fn from(status: &proto::ResourceStatus) -> Self {
        Self::from(&StateView::from(status))
    }
}

/// A resource: its state and its settings, secrets masked.
#[derive(Debug, Serialize)]
pub struct Resource {
    #[serde(flatten)]
    pub state: ResourceState,
    pub settings: Map<String, Value>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
}

impl From<&proto::Resource> for Resource {
    fn from(resource: &proto::Resource) -> Self {
        Self {
            state: ResourceState::from(&StateView::from(resource)),
            settings: settings_of(resource),
            create_time: time(resource.create_time.as_ref()),
            update_time: time(resource.update_time.as_ref()),
        }
    }
}

/// A page of the resources.
#[derive(Debug, Serialize)]
pub struct Resources {
    pub resources: Vec<Resource>,
    pub next_page_token: String,
}

/// A resource deleted, as the bot's events say it.
#[derive(Debug, Serialize)]
pub struct Deleted {
    pub id: String,
}

/// The bot's status.
#[derive(Debug, Serialize)]
pub struct BotStatus {
    pub enabled: bool,
    pub switch_time: Option<String>,
    pub resources: Vec<ResourceState>,
    pub counts: StateCounts,
    pub ai_warning: String,
}

/// How many resources are in each state.
#[derive(Debug, Serialize)]
pub struct StateCounts {
    pub ready: i32,
    pub pending: i32,
    pub error: i32,
    pub paused: i32,
}

impl From<&proto::BotStatus> for BotStatus {
    fn from(status: &proto::BotStatus) -> Self {
        Self {
            enabled: status.enabled,
            switch_time: time(status.switch_time.as_ref()),
            resources: status.resources.iter().map(ResourceState::from).collect(),
            counts: StateCounts {
                ready: status.ready_count,
                pending: status.pending_count,
                error: status.error_count,
                paused: status.paused_count,
            },
            ai_warning: status.ai_warning.clone(),
        }
    }
}

/// A message of the browser chat, as the JSON API and `static/js/chat.js` read it.
#[derive(Debug, Serialize)]
pub struct ChatMessage {
    pub id: String,
    /// `user` or `assistant`.
    pub role: &'static str,
    pub text: String,
    /// A reply's text as safe HTML, rendered from its Markdown; absent for a person's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    pub create_time: Option<String>,
    /// Why the message got no reply; empty when it got one.
    pub failure_detail: String,
}

impl From<&proto::ChatMessage> for ChatMessage {
    fn from(message: &proto::ChatMessage) -> Self {
        Self {
            id: message.id.clone(),
            role: role_name(message.role()),
            text: message.text.clone(),
            html: (message.role() == proto::ChatMessageRole::Assistant).then(|| reply_html(&message.text)),
            create_time: time(message.create_time.as_ref()),
            failure_detail: message.failure_detail.clone(),
        }
    }
}

/// A page of the chat, newest first.
#[derive(Debug, Serialize)]
pub struct ChatMessages {
    pub messages: Vec<ChatMessage>,
    pub next_page_token: String,
}

/// A piece of a reply being written.
#[derive(Debug, Serialize)]
pub struct Delta {
    pub text: String,
}

/// A conversation, of the browser or of a resource's chat.
#[derive(Debug, Serialize)]
pub struct Conversation {
    pub id: String,
    /// Empty until its first exchange titles it, or the person names it.
    pub title: String,
    /// `browser`, or the provider of its resource, such as `telegram`.
    pub channel: String,
    /// Empty for the browser.
    pub resource_id: String,
    pub resource_name: String,
    /// The person on the other side, as the channel names them; empty for the browser.
    pub peer_name: String,
    /// The model it asks; empty for the caller's default.
    pub model: String,
    /// Instructions for the model in this conversation; empty for the channel's own.
    pub instructions: String,
    pub message_count: i32,
    pub create_time: Option<String>,
    /// When a message was last added.
    pub update_time: Option<String>,
    /// Whether new messages of its chat join it.
    pub current: bool,
}

impl From<&proto::Conversation> for Conversation {
    fn from(conversation: &proto::Conversation) -> Self {
        Self {
            id: conversation.id.clone(),
            title: conversation.title.clone(),
            channel: conversation.channel.clone(),
            resource_id: conversation.resource_id.clone(),
            resource_name: conversation.resource_name.clone(),
            peer_name: conversation.peer_name.clone(),
            model: conversation.model.clone(),
            instructions: conversation.instructions.clone(),
            message_count: conversation.message_count,
            create_time: time(conversation.create_time.as_ref()),
            update_time: time(conversation.update_time.as_ref()),
            current: conversation.current,
        }
    }
}

/// A conversation of a list, with the message a search found in it.
#[derive(Debug, Serialize)]
pub struct ConversationResult {
    #[serde(flatten)]
    pub conversation: Conversation,
    /// The newest message with every word of the query; absent without a query.
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub found: Option<MessageMatch>,
}

/// A message a search found.
#[derive(Debug, Serialize)]
pub struct MessageMatch {
    pub message_id: String,
    /// `user` or `assistant`.
    pub role: &'static str,
    /// The words around the first match, as plain text.
    pub snippet: String,
    pub create_time: Option<String>,
}

impl From<&proto::ConversationResult> for ConversationResult {
    fn from(result: &proto::ConversationResult) -> Self {
        let found = result.r#match.as_ref().map(|found| MessageMatch {
            message_id: found.message_id.clone(),
            role: conversation::role_name(found.role()),
            snippet: found.snippet.clone(),
            create_time: time(found.create_time.as_ref()),
        });
        let conversation = result.conversation.as_ref().unwrap_or(&proto::Conversation::default()).into();
        Self { conversation, found }
    }
}

/// A page of the conversations: the most recently active first, or with a query the one with
/// the newest match first.
#[derive(Debug, Serialize)]
pub struct Conversations {
    pub conversations: Vec<ConversationResult>,
    pub next_page_token: String,
}

/// A message of a conversation.
#[derive(Debug, Serialize)]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    /// `user` or `assistant`.
    pub role: &'static str,
    /// As written; a reply as the model wrote it, usually Markdown.
    pub text: String,
    /// A reply's text as safe HTML, rendered from its Markdown; absent for a person's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Who wrote a person's message, as the channel names them; empty in the browser.
    pub sender_name: String,
    pub create_time: Option<String>,
    /// Why a person's message got no reply; empty when it got one.
    pub failure_detail: String,
    /// For a reply, the model that wrote it.
    pub model: String,
    /// For a reply, whether it was stopped while it was written.
    pub stopped: bool,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

impl From<&proto::Message> for Message {
    fn from(message: &proto::Message) -> Self {
        let reply = message.role() == proto::MessageRole::Assistant;
        Self {
            id: message.id.clone(),
            conversation_id: message.conversation_id.clone(),
            role: conversation::role_name(message.role()),
            text: message.text.clone(),
            html: reply.then(|| reply_html(&message.text)),
            sender_name: message.sender_name.clone(),
            create_time: time(message.create_time.as_ref()),
            failure_detail: message.failure_detail.clone(),
            model: message.model.clone(),
            stopped: message.stopped,
            prompt_tokens: message.prompt_tokens,
            completion_tokens: message.completion_tokens,
        }
    }
}

/// A page of a conversation's messages, newest first.
#[derive(Debug, Serialize)]
pub struct Messages {
    pub messages: Vec<Message>,
    pub next_page_token: String,
}

/// The models the caller may choose for a conversation.
#[derive(Debug, Serialize)]
pub struct Models {
    pub models: Vec<Model>,
}

/// A model the caller may choose.
#[derive(Debug, Serialize)]
pub struct Model {
    /// Its name, as the model server knows it.
    pub id: String,
    /// Whether conversations that choose none ask it.
    pub default: bool,
}

impl From<&proto::Model> for Model {
    fn from(model: &proto::Model) -> Self {
        Self { id: model.id.clone(), default: model.default }
    }
}

/// Whether a reply was being written and is now stopped.
#[derive(Debug, Serialize)]
pub struct Stopped {
    pub stopped: bool,
}

/// The caller's AI token usage per day and, in managed mode, their quota.
#[derive(Debug, Serialize)]
pub struct Usage {
    /// `managed` or `byok`.
    pub mode: &'static str,
    pub days: Vec<UsageDay>,
    pub daily_token_quota: i64,
    pub remaining_tokens: i64,
    pub quota_reset_time: Option<String>,
}

/// One day's usage.
#[derive(Debug, Serialize)]
pub struct UsageDay {
    pub date: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub request_count: i32,
    pub estimated: bool,
    pub managed_tokens: i64,
}

impl From<proto::GetUsageResponse> for Usage {
    fn from(usage: proto::GetUsageResponse) -> Self {
        let days = usage.days.iter().map(|day| UsageDay {
            date: day.date.clone(),
            prompt_tokens: day.prompt_tokens,
            completion_tokens: day.completion_tokens,
            total_tokens: day.total_tokens,
            request_count: day.request_count,
            estimated: day.estimated,
            managed_tokens: day.managed_tokens,
        });
        Self {
            mode: mode_name(usage.ai_mode()),
            days: days.collect(),
            daily_token_quota: usage.daily_token_quota,
            remaining_tokens: usage.remaining_tokens,
            quota_reset_time: time(usage.quota_reset_time.as_ref()),
        }
    }
}

/// A JSON error: `{"error": {"code", "message", "field"?}}`; also the data of a chat stream's
/// `error` event, without the wrapper.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    /// Such as `invalid_argument` or `resource_exhausted`.
    pub code: String,
    pub message: String,
    /// The request field at fault, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
