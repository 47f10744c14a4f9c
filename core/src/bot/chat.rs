//! The browser chat and AI usage in BotService's terms.

use assistchat_proto::v1::{
    AiMode as ProtoAiMode, ChatMessage, ChatMessageRole, GetUsageResponse, StreamChatMessageResponse, UsageDay,
    stream_chat_message_response::Event as StreamEvent,
};
use tokio::sync::mpsc;
use tokio_stream::{Stream, StreamExt, wrappers::ReceiverStream};
use tonic::Status;

use crate::{
    conversations::{Conversations, Event},
    error::Result,
    profile::AiMode,
    rpc::timestamp,
    store::{messages::MessageRecord, usage::UsageRecord},
};

/// A stored message as the API shows it.
pub fn message(record: MessageRecord) -> ChatMessage {
    let role = if record.is_reply() { ChatMessageRole::Assistant } else { ChatMessageRole::User };
    ChatMessage {
        id: record.id,
        role: role.into(),
        text: record.text,
        create_time: Some(timestamp(record.create_time)),
        failure_detail: if record.reply_id.is_some() { String::new() } else { record.failure_detail },
    }
}

/// A streamed answer as StreamChatMessage's stream.
pub fn stream(
    events: mpsc::Receiver<Result<Event>>,
) -> impl Stream<Item = Result<StreamChatMessageResponse, Status>> + Send {
    ReceiverStream::new(events).map(|event| {
        let event = match event.map_err(Status::from)? {
            Event::Question(question) => StreamEvent::UserMessage(message(*question)),
            Event::Delta(text) => StreamEvent::ReplyDelta(text),
            Event::Answered(answer) => StreamEvent::Reply(message(answer.reply)),
        };
        Ok(StreamChatMessageResponse { event: Some(event) })
    })
}

/// A user's usage of the last `days` days and, in managed mode, their quota.
pub async fn usage(conversations: &Conversations, user_id: &str, days: u32) -> Result<GetUsageResponse> {
    let mode = conversations.ai_mode(user_id).await?;
    let records = conversations.usage(user_id, days).await?;
    let (quota, resets) = conversations.daily_quota();
    let quota = if mode == Some(AiMode::Managed) { i64::try_from(quota).unwrap_or(i64::MAX) } else { 0 };
    let spent_today = records.first().map(|today| today.managed_tokens).unwrap_or_default();
    Ok(GetUsageResponse {
        ai_mode: match mode {
            Some(AiMode::Managed) => ProtoAiMode::Managed,
            Some(AiMode::Byok) => ProtoAiMode::Byok,
            None => ProtoAiMode::Unspecified,
        }
        .into(),
        days: records.into_iter().map(usage_day).collect(),
        daily_token_quota: quota,
        remaining_tokens: (quota - spent_today).max(0),
        quota_reset_time: Some(prost_types::Timestamp { seconds: resets.unix_timestamp(), nanos: 0 }),
    })
}

fn usage_day(record: UsageRecord) -> UsageDay {
    UsageDay {
        date: record.day,
        prompt_tokens: record.prompt_tokens,
        completion_tokens: record.completion_tokens,
        total_tokens: record.prompt_tokens + record.completion_tokens,
        request_count: i32::try_from(record.request_count).unwrap_or(i32::MAX),
        estimated: record.estimated != 0,
        managed_tokens: record.managed_tokens,
    }
}
