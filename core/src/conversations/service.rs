//! `assistchat.v1.ConversationService`: decodes each call, checks the caller, calls the
//! conversation domain, and encodes what it returns.

use std::{pin::Pin, sync::Arc, time::Duration};

use assistchat_proto::v1::{
    Conversation, ConversationResult, CreateConversationRequest, CreateConversationResponse, DeleteConversationRequest,
    DeleteConversationResponse, ExportConversationRequest, ExportConversationResponse, ExportFormat,
    GetConversationRequest, GetConversationResponse, ListConversationsRequest, ListConversationsResponse,
    ListMessagesRequest, ListMessagesResponse, ListModelsRequest, ListModelsResponse, Message, MessageMatch,
    MessageRole, Model, RegenerateReplyRequest, RegenerateReplyResponse, StopMessageRequest, StopMessageResponse,
    StreamMessageRequest, StreamMessageResponse, UpdateConversationRequest, UpdateConversationResponse,
    conversation_service_server::ConversationService, regenerate_reply_response::Event as RegenerateEvent,
    stream_message_response::Event as StreamEvent,
};
use tokio_stream::{Stream, StreamExt, wrappers::ReceiverStream};
use tonic::{Request, Response, Status};

use super::{
    Conversations, Event, Events, browser_inbound,
    export::{Format, export},
    library::{Changes, Listed},
};
use crate::{
    auth::Accounts,
    error::{Error, Result},
    per_user::{PerUserLimit, UserPermit},
    rpc::{caller, timestamp},
    store::{conversations::ConversationRecord, messages::MessageRecord},
    words::{Phrase, say},
};

/// When a user with all their reply streams open is told to try again.
const STREAM_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The gRPC face of conversations.
pub struct ConversationApi {
    /// Finds out who is calling.
    accounts: Arc<Accounts>,
    /// The domain.
    conversations: Arc<Conversations>,
    /// Streamed replies open, per user.
    streams: Arc<PerUserLimit>,
}

impl ConversationApi {
    /// The service, with at most `max_streams` streamed replies open per user.
    pub fn new(accounts: Arc<Accounts>, conversations: Arc<Conversations>, max_streams: usize) -> Self {
        Self { accounts, conversations, streams: PerUserLimit::new(max_streams) }
    }

    /// A stream slot for the user, or `RESOURCE_EXHAUSTED` in their words.
    async fn stream_permit(&self, user_id: &str) -> Result<UserPermit> {
        if let Some(permit) = self.streams.try_acquire(user_id) {
            return Ok(permit);
        }
        let phrase = Phrase::TooManyChatStreams { limit: self.streams.max() };
        let message = say(&self.conversations.language(user_id).await?, &phrase);
        Err(Error::Busy { message, retry_after: STREAM_RETRY_AFTER })
    }
}

/// A stored conversation as the API shows it.
pub fn conversation(record: ConversationRecord) -> Conversation {
    Conversation {
        current: record.is_current(),
        channel: if record.resource_id.is_some() { record.provider } else { "browser".into() },
        id: record.id,
        title: record.title,
        resource_id: record.resource_id.unwrap_or_default(),
        resource_name: record.resource_name,
        peer_name: record.peer_name,
        model: record.model,
        instructions: record.instructions,
        message_count: i32::try_from(record.message_count).unwrap_or(i32::MAX),
        create_time: Some(timestamp(record.create_time)),
        update_time: Some(timestamp(record.update_time)),
    }
}

fn role(is_reply: bool) -> MessageRole {
    if is_reply { MessageRole::Assistant } else { MessageRole::User }
}

/// A stored message as the API shows it.
pub fn message(record: MessageRecord) -> Message {
    Message {
        role: role(record.is_reply()).into(),
        stopped: record.is_stopped(),
        failure_detail: if record.reply_id.is_some() { String::new() } else { record.failure_detail },
        id: record.id,
        conversation_id: record.conversation_id,
        text: record.text,
        sender_name: record.sender_name,
        create_time: Some(timestamp(record.create_time)),
        model: record.model,
        prompt_tokens: record.prompt_tokens,
        completion_tokens: record.completion_tokens,
    }
}

fn result(listed: Listed) -> ConversationResult {
    ConversationResult {
        conversation: Some(conversation(listed.conversation)),
        r#match: listed.matched.map(|matched| MessageMatch {
            message_id: matched.message_id,
            role: role(matched.role == crate::store::messages::ROLE_ASSISTANT).into(),
            snippet: matched.snippet,
            create_time: Some(timestamp(matched.create_time)),
        }),
    }
}

/// A conversation's fields from a request, as changes: those of `mask`, or every one a new
/// conversation may set.
fn changes(input: Option<Conversation>, mask: Option<&[String]>) -> Result<Changes> {
    let input = input.unwrap_or_default();
    let Some(mask) = mask else {
        return Ok(Changes {
            title: Some(input.title),
            model: Some(input.model),
            instructions: Some(input.instructions),
        });
    };
    if mask.is_empty() {
        return Err(Error::invalid("update_mask", "name the fields to change: title, model or instructions"));
    }
    let mut changes = Changes::default();
    for path in mask {
        match path.as_str() {
            "title" => changes.title = Some(input.title.clone()),
            "model" => changes.model = Some(input.model.clone()),
            "instructions" => changes.instructions = Some(input.instructions.clone()),
            other => {
                return Err(Error::invalid(
                    "update_mask",
                    format!("{other:?} cannot be changed; change title, model or instructions"),
                ));
            }
        }
    }
    Ok(changes)
}

/// One event of a streamed answer, as both reply streams carry it.
enum Piece {
    /// The person's message, as stored.
    Question(Message),
    /// The next piece of the reply's text.
    Delta(String),
    /// The reply, as stored.
    Reply(Message),
}

/// A streamed answer as a reply stream of messages made by `wrap`, holding `permit` while it
/// lives.
fn stream<T>(events: Events, permit: UserPermit, wrap: fn(Piece) -> T) -> impl Stream<Item = Result<T, Status>> + Send
where
    T: Send + 'static,
{
    ReceiverStream::new(events).map(move |event| {
        let _held = &permit;
        Ok(wrap(match event.map_err(Status::from)? {
            Event::Question(question) => Piece::Question(message(*question)),
            Event::Delta(text) => Piece::Delta(text),
            Event::Answered(answer) => Piece::Reply(message(answer.reply)),
        }))
    })
}

fn stream_message_response(piece: Piece) -> StreamMessageResponse {
    let event = match piece {
        Piece::Question(message) => StreamEvent::UserMessage(message),
        Piece::Delta(text) => StreamEvent::ReplyDelta(text),
        Piece::Reply(message) => StreamEvent::Reply(message),
    };
    StreamMessageResponse { event: Some(event) }
}

fn regenerate_reply_response(piece: Piece) -> RegenerateReplyResponse {
    let event = match piece {
        Piece::Question(message) => RegenerateEvent::UserMessage(message),
        Piece::Delta(text) => RegenerateEvent::ReplyDelta(text),
        Piece::Reply(message) => RegenerateEvent::Reply(message),
    };
    RegenerateReplyResponse { event: Some(event) }
}

fn required(field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(field, "required: send the conversation's id"));
    }
    Ok(())
}

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl ConversationService for ConversationApi {
    type StreamMessageStream = Boxed<StreamMessageResponse>;
    type RegenerateReplyStream = Boxed<RegenerateReplyResponse>;

    #[tracing::instrument(skip_all)]
    async fn list_conversations(
        &self,
        request: Request<ListConversationsRequest>,
    ) -> Result<Response<ListConversationsResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let input = request.into_inner();
        let (page, next_page_token) = self
            .conversations
            .list(&caller.user_id, &input.filter, &input.query, input.page_size, &input.page_token)
            .await?;
        Ok(Response::new(ListConversationsResponse {
            results: page.into_iter().map(result).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_conversation(
        &self,
        request: Request<GetConversationRequest>,
    ) -> Result<Response<GetConversationResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let id = &request.get_ref().conversation_id;
        required("conversation_id", id)?;
        let record = self.conversations.conversation(&caller.user_id, id).await?;
        Ok(Response::new(GetConversationResponse { conversation: Some(conversation(record)) }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_conversation(
        &self,
        request: Request<CreateConversationRequest>,
    ) -> Result<Response<CreateConversationResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let changes = changes(request.into_inner().conversation, None)?;
        let record = self.conversations.create(&caller.user_id, &changes).await?;
        Ok(Response::new(CreateConversationResponse { conversation: Some(conversation(record)) }))
    }

    #[tracing::instrument(skip_all)]
    async fn update_conversation(
        &self,
        request: Request<UpdateConversationRequest>,
    ) -> Result<Response<UpdateConversationResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let input = request.into_inner();
        let id = input.conversation.as_ref().map(|c| c.id.clone()).unwrap_or_default();
        if id.is_empty() {
            return Err(Error::invalid("conversation.id", "required: send the conversation's id").into());
        }
        let mask = input.update_mask.map(|mask| mask.paths).unwrap_or_default();
        let changes = changes(input.conversation, Some(&mask))?;
        let record = self.conversations.update(&caller.user_id, &id, &changes).await?;
        Ok(Response::new(UpdateConversationResponse { conversation: Some(conversation(record)) }))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_conversation(
        &self,
        request: Request<DeleteConversationRequest>,
    ) -> Result<Response<DeleteConversationResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let id = &request.get_ref().conversation_id;
        required("conversation_id", id)?;
        self.conversations.delete(&caller.user_id, id).await?;
        Ok(Response::new(DeleteConversationResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn list_messages(
        &self,
        request: Request<ListMessagesRequest>,
    ) -> Result<Response<ListMessagesResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let input = request.into_inner();
        required("conversation_id", &input.conversation_id)?;
        let (_, page, next_page_token) = self
            .conversations
            .list_messages(&caller.user_id, &input.conversation_id, input.page_size, &input.page_token)
            .await?;
        Ok(Response::new(ListMessagesResponse { messages: page.into_iter().map(message).collect(), next_page_token }))
    }

    #[tracing::instrument(skip_all)]
    async fn stream_message(
        &self,
        request: Request<StreamMessageRequest>,
    ) -> Result<Response<Self::StreamMessageStream>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let input = request.into_inner();
        required("conversation_id", &input.conversation_id)?;
        let inbound = browser_inbound(&caller.user_id, input.text, input.client_message_id)?;
        let permit = self.stream_permit(&caller.user_id).await?;
        let events = self.conversations.converse_in(&caller.user_id, &input.conversation_id, inbound).await?;
        Ok(Response::new(Box::pin(stream(events, permit, stream_message_response))))
    }

    #[tracing::instrument(skip_all)]
    async fn stop_message(
        &self,
        request: Request<StopMessageRequest>,
    ) -> Result<Response<StopMessageResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let id = &request.get_ref().conversation_id;
        required("conversation_id", id)?;
        let stopped = self.conversations.stop(&caller.user_id, id).await?;
        Ok(Response::new(StopMessageResponse { stopped }))
    }

    #[tracing::instrument(skip_all)]
    async fn regenerate_reply(
        &self,
        request: Request<RegenerateReplyRequest>,
    ) -> Result<Response<Self::RegenerateReplyStream>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let id = &request.get_ref().conversation_id;
        required("conversation_id", id)?;
        let permit = self.stream_permit(&caller.user_id).await?;
        let events = self.conversations.regenerate(&caller.user_id, id).await?;
        Ok(Response::new(Box::pin(stream(events, permit, regenerate_reply_response))))
    }

    #[tracing::instrument(skip_all)]
    async fn export_conversation(
        &self,
        request: Request<ExportConversationRequest>,
    ) -> Result<Response<ExportConversationResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let input = request.into_inner();
        required("conversation_id", &input.conversation_id)?;
        let format = match input.format() {
            ExportFormat::Markdown => Format::Markdown,
            ExportFormat::Json | ExportFormat::Unspecified => Format::Json,
        };
        let (record, messages) = self.conversations.read_all(&caller.user_id, &input.conversation_id).await?;
        let file = export(&record, &messages, format);
        Ok(Response::new(ExportConversationResponse {
            file_name: file.name,
            content_type: file.content_type.into(),
            content: file.content,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_models(&self, request: Request<ListModelsRequest>) -> Result<Response<ListModelsResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let offered = self.conversations.offered_models(&caller.user_id).await?;
        let models = offered.models.into_iter().map(|id| Model { default: id == offered.default, id }).collect();
        Ok(Response::new(ListModelsResponse { models }))
    }
}
