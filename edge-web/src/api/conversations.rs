//! `/api/conversations/...` and `/api/models`: every conversation of the caller, in every
//! channel, listed or searched by word, renamed or given a model or instructions of its own,
//! exported as a file and deleted; and the browser's messages in them, answered as the
//! server-sent events of [`super::events`]. Another person's conversation is 404, as one that
//! does not exist.

use assistchat_proto::v1::{
    self as proto, CreateConversationRequest, DeleteConversationRequest, ExportConversationRequest, ExportFormat,
    GetConversationRequest, ListConversationsRequest, ListMessagesRequest, ListModelsRequest, RegenerateReplyRequest,
    StopMessageRequest, StreamMessageRequest, UpdateConversationRequest,
};
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use prost_types::FieldMask;
use serde::Deserialize;

use super::{NewMessage, PageQuery, events};
use crate::{
    core_client::conversations,
    error::AppError,
    http::{body::Body, csrf::check_csrf, error::ApiError, visitor::Visitor},
    state::AppState,
    view::{download::download, json},
};

/// The routes of conversations and models.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/conversations", get(list).post(create))
        .route("/api/conversations/{id}", get(read).patch(patch).delete(remove))
        .route("/api/conversations/{id}/messages", get(messages).post(send))
        .route("/api/conversations/{id}/stop", post(stop))
        .route("/api/conversations/{id}/regenerate", post(regenerate))
        .route("/api/conversations/{id}/export", get(export))
        .route("/api/models", get(models))
}

/// The query of `GET /api/conversations`.
#[derive(Deserialize)]
struct ListQuery {
    /// Words every listed conversation has a message with; empty lists them all.
    #[serde(default)]
    q: String,
    /// Only the conversations of this channel: `browser` or a provider's name.
    #[serde(default)]
    channel: String,
    /// Only the conversations of this resource.
    #[serde(default)]
    resource_id: String,
    #[serde(default)]
    page_size: i32,
    #[serde(default)]
    page_token: String,
}

impl ListQuery {
    /// Core's filter for the channel or the resource asked; a value that no filter can hold is
    /// refused rather than escaped.
    fn filter(&self) -> Result<String, AppError> {
        let (field, value) = match (self.channel.as_str(), self.resource_id.as_str()) {
            ("", "") => return Ok(String::new()),
            (channel, "") => ("channel", channel),
            ("", resource_id) => ("resource_id", resource_id),
            _ => return Err(invalid("resource_id", "send channel or resource_id, not both")),
        };
        conversations::filter(field, value)
            .ok_or_else(|| invalid(field, &format!("{field} holds no quote or backslash; send it as listed")))
    }
}

/// The body of `POST /api/conversations` and `PATCH /api/conversations/{id}`: the fields to set.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConversationFields {
    /// Empty to be titled from the first exchange.
    title: Option<String>,
    /// One of `GET /api/models`; empty for the default.
    model: Option<String>,
    /// Instructions for the model in this conversation; empty for the channel's own.
    instructions: Option<String>,
}

impl ConversationFields {
    /// The conversation `id` with the fields sent, and their names.
    fn into_changes(self, id: String) -> (proto::Conversation, Vec<String>) {
        let mut paths = Vec::new();
        let mut sent = |name: &str, value: Option<String>| {
            if value.is_some() {
                paths.push(name.to_owned());
            }
            value.unwrap_or_default()
        };
        let conversation = proto::Conversation {
            id,
            title: sent("title", self.title),
            model: sent("model", self.model),
            instructions: sent("instructions", self.instructions),
            ..Default::default()
        };
        (conversation, paths)
    }
}

/// The query of `GET /api/conversations/{id}/export`.
#[derive(Deserialize)]
struct ExportQuery {
    /// `json` (the default) or `markdown`.
    #[serde(default)]
    format: String,
}

/// `GET /api/conversations`: a page of the caller's conversations, or with `q` those that hold
/// a message with every word of it, each with that message's snippet.
async fn list(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<ListQuery>,
) -> Result<Json<json::Conversations>, ApiError> {
    let request = ListConversationsRequest {
        filter: query.filter()?,
        page_size: query.page_size,
        page_token: query.page_token,
        query: query.q,
    };
    let response = state.core.conversations().list_conversations(visitor.meta.request(request)).await?.into_inner();
    let conversations = response.results.iter().map(json::ConversationResult::from).collect();
    Ok(Json(json::Conversations { conversations, next_page_token: response.next_page_token }))
}

/// `POST /api/conversations`: a new browser conversation, the one the chat continues from now on.
async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Body(body): Body<ConversationFields>,
) -> Result<Response, ApiError> {
    check_csrf(&visitor, &headers)?;
    let (conversation, _) = body.into_changes(String::new());
    let request = CreateConversationRequest { conversation: Some(conversation) };
    // The model chosen is checked against those the caller's server offers: a call that waits.
    let created = state.core.conversation_replies().create_conversation(visitor.meta.request(request)).await;
    let created = created.map_err(conversation_error)?.into_inner().conversation;
    Ok((StatusCode::CREATED, shown(created)).into_response())
}

async fn read(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(conversation_id): Path<String>,
) -> Result<Json<json::Conversation>, ApiError> {
    let request = GetConversationRequest { conversation_id };
    Ok(shown(
        state.core.conversations().get_conversation(visitor.meta.request(request)).await?.into_inner().conversation,
    ))
}

/// `PATCH /api/conversations/{id}`: changes the fields sent, and only those.
async fn patch(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<ConversationFields>,
) -> Result<Json<json::Conversation>, ApiError> {
    check_csrf(&visitor, &headers)?;
    let (conversation, paths) = body.into_changes(id);
    if paths.is_empty() {
        return Err(
            AppError::BadRequest("nothing to change; send \"title\", \"model\" or \"instructions\"".into()).into()
        );
    }
    let request =
        UpdateConversationRequest { conversation: Some(conversation), update_mask: Some(FieldMask { paths }) };
    let updated = state.core.conversation_replies().update_conversation(visitor.meta.request(request)).await;
    Ok(shown(updated.map_err(conversation_error)?.into_inner().conversation))
}

/// `DELETE /api/conversations/{id}`: the conversation and every message of it, for good.
async fn remove(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(conversation_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    check_csrf(&visitor, &headers)?;
    let request = DeleteConversationRequest { conversation_id };
    state.core.conversations().delete_conversation(visitor.meta.request(request)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/conversations/{id}/messages`: its messages, newest first, by pages.
async fn messages(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(conversation_id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<json::Messages>, ApiError> {
    let request = ListMessagesRequest { conversation_id, page_size: page.page_size, page_token: page.page_token };
    let response = state.core.conversations().list_messages(visitor.meta.request(request)).await?.into_inner();
    let messages = response.messages.iter().map(json::Message::from).collect();
    Ok(Json(json::Messages { messages, next_page_token: response.next_page_token }))
}

/// `POST /api/conversations/{id}/messages`: a message in a browser conversation, the reply
/// streamed as it is written.
async fn send(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(conversation_id): Path<String>,
    Body(body): Body<NewMessage>,
) -> Result<Response, ApiError> {
    check_csrf(&visitor, &headers)?;
    let request = StreamMessageRequest { conversation_id, text: body.text, client_message_id: body.client_message_id };
    events::relay(state.core.conversation_replies().stream_message(visitor.meta.request(request)).await, visitor.lang)
}

/// `POST /api/conversations/{id}/stop`: stops the reply being written; what the model wrote so
/// far is kept as the reply. `{"stopped": false}` when none was being written.
async fn stop(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(conversation_id): Path<String>,
) -> Result<Json<json::Stopped>, ApiError> {
    check_csrf(&visitor, &headers)?;
    let request = StopMessageRequest { conversation_id };
    let response = state.core.conversations().stop_message(visitor.meta.request(request)).await?.into_inner();
    Ok(Json(json::Stopped { stopped: response.stopped }))
}

/// `POST /api/conversations/{id}/regenerate`: a new reply to the last message, streamed like a
/// message's; it replaces the earlier one.
async fn regenerate(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(conversation_id): Path<String>,
) -> Result<Response, ApiError> {
    check_csrf(&visitor, &headers)?;
    let request = RegenerateReplyRequest { conversation_id };
    events::relay(state.core.conversation_replies().regenerate_reply(visitor.meta.request(request)).await, visitor.lang)
}

/// `GET /api/conversations/{id}/export?format=json|markdown`: the conversation as a file to
/// download.
async fn export(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(conversation_id): Path<String>,
    Query(query): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let format = match query.format.as_str() {
        "" | "json" => ExportFormat::Json,
        "markdown" => ExportFormat::Markdown,
        _ => return Err(invalid("format", "send format=json or format=markdown").into()),
    };
    let request = ExportConversationRequest { conversation_id, format: format.into() };
    let file = state.core.conversations().export_conversation(visitor.meta.request(request)).await?.into_inner();
    Ok(download(&file.file_name, &file.content_type, file.content))
}

/// `GET /api/models`: the models a conversation may ask, the default marked.
async fn models(State(state): State<AppState>, visitor: Visitor) -> Result<Json<json::Models>, ApiError> {
    // In byok mode core asks the caller's own model server: a call that may wait.
    let request = visitor.meta.request(ListModelsRequest {});
    let response = state.core.conversation_replies().list_models(request).await?.into_inner();
    Ok(Json(json::Models { models: response.models.iter().map(json::Model::from).collect() }))
}

/// A conversation core answered with, as JSON.
fn shown(conversation: Option<proto::Conversation>) -> Json<json::Conversation> {
    Json(json::Conversation::from(&conversation.unwrap_or_default()))
}

/// Core's answer to a create or an update, with the field at fault named as the body names it:
/// `conversation.model` is `model`.
fn conversation_error(status: tonic::Status) -> AppError {
    AppError::with_field_renamed(status, |field| field.strip_prefix("conversation.").unwrap_or(field).to_owned())
}

/// A query field that is wrong, and what to send instead.
fn invalid(field: &str, message: &str) -> AppError {
    AppError::Invalid { field: field.to_owned(), message: message.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list_query(channel: &str, resource_id: &str) -> ListQuery {
        ListQuery {
            q: String::new(),
            channel: channel.into(),
            resource_id: resource_id.into(),
            page_size: 0,
            page_token: String::new(),
        }
    }

    #[test]
    fn a_channel_or_a_resource_becomes_cores_filter_and_a_quote_is_refused() {
        assert_eq!(list_query("", "").filter().unwrap(), "");
        assert_eq!(list_query("telegram", "").filter().unwrap(), r#"channel = "telegram""#);
        assert_eq!(list_query("", "res-1").filter().unwrap(), r#"resource_id = "res-1""#);
        for (channel, resource_id, field) in
            [(r#"x" or "y"#, "", "channel"), ("", r"a\", "resource_id"), ("browser", "res-1", "resource_id")]
        {
            let err = list_query(channel, resource_id).filter().unwrap_err();
            assert_eq!(err.field().as_deref(), Some(field), "{channel:?} {resource_id:?}");
        }
    }

    #[test]
    fn only_the_fields_sent_are_changed() {
        let fields = ConversationFields { title: Some("Rome".into()), model: None, instructions: Some(String::new()) };
        let (conversation, paths) = fields.into_changes("c-1".into());
        assert_eq!(paths, ["title", "instructions"]);
        assert_eq!((conversation.id.as_str(), conversation.title.as_str()), ("c-1", "Rome"));
    }
}
