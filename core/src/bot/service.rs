//! `assistchat.v1.BotService`: the bot's switch and the live state of the caller's resources.

use std::{pin::Pin, sync::Arc, time::Duration};

use assistchat_proto::v1::{
    BotStatus, GetBotStatusRequest, GetBotStatusResponse, GetUsageRequest, GetUsageResponse, ListChatMessagesRequest,
    ListChatMessagesResponse, ResetChatRequest, ResetChatResponse, SendChatMessageRequest, SendChatMessageResponse,
    StartBotRequest, StartBotResponse, StopBotRequest, StopBotResponse, StreamChatMessageRequest,
    StreamChatMessageResponse, WatchBotStatusRequest, WatchBotStatusResponse, bot_service_server::BotService,
};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::{
    chat,
    manager::BotManager,
    status::{Watcher, snapshot},
};
use crate::{
    auth::Accounts,
    conversations::{BUSY_RETRY_AFTER, Channel, Conversations, browser_inbound},
    error::{Error, Result},
    pagination::{decode_token, page_size, paginate},
    per_user::{PerUserLimit, UserPermit},
    rpc::caller,
    store::{Store, now_millis, states::Switch},
    words::{Phrase, say},
};

/// The most status watches, and separately the most streamed chat replies, one user may have
/// open at once where the operator set no other (`ASSISTCHAT_MAX_STREAMS_PER_USER`).
pub const MAX_STREAMS_PER_USER: usize = 8;
/// When a user with all their watches open is told to try again: time to close a tab.
const WATCH_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The gRPC face of the bot.
pub struct BotApi {
    /// Finds out who is calling.
    accounts: Arc<Accounts>,
    /// Where switches and resources live.
    store: Store,
    /// Starts and stops resources.
    manager: BotManager,
    /// The browser chat, usage, and what keeps the assistant from answering.
    conversations: Arc<Conversations>,
    /// Status watches open, per user.
    watches: Arc<PerUserLimit>,
    /// Streamed chat replies open, per user.
    chat_streams: Arc<PerUserLimit>,
}

impl BotApi {
    /// The service.
    pub fn new(accounts: Arc<Accounts>, store: Store, manager: BotManager, conversations: Arc<Conversations>) -> Self {
        let (watches, chat_streams) =
            (PerUserLimit::new(MAX_STREAMS_PER_USER), PerUserLimit::new(MAX_STREAMS_PER_USER));
        Self { accounts, store, manager, conversations, watches, chat_streams }
    }

    /// The service with at most `max` watches, and `max` streamed chat replies, open per user.
    #[must_use]
    pub fn with_max_streams_per_user(self, max: usize) -> Self {
        Self { watches: PerUserLimit::new(max), chat_streams: PerUserLimit::new(max), ..self }
    }

    /// A permit of `limit` for the user, or `RESOURCE_EXHAUSTED` in their words.
    async fn stream_permit(
        &self,
        limit: &Arc<PerUserLimit>,
        user_id: &str,
        phrase: Phrase<'_>,
        retry_after: Duration,
    ) -> Result<UserPermit> {
        if let Some(permit) = limit.try_acquire(user_id) {
            return Ok(permit);
        }
        let message = say(&self.conversations.language(user_id).await?, &phrase);
        Err(Error::Busy { message, retry_after })
    }

    async fn switch(&self, user_id: &str, on: bool) -> Result<BotStatus> {
        if self.store.set_bot_switch(user_id, Switch::on(on), now_millis()).await? {
            self.manager.reconcile_user(user_id).await;
        }
        snapshot(&self.store, user_id, &self.conversations).await
    }
}

/// `stream`, holding `permit` for as long as it lives: the stream's slot is given back exactly
/// when the stream is dropped, at its end or when its caller goes away.
fn holding<S: Stream + Send + 'static>(stream: S, permit: UserPermit) -> impl Stream<Item = S::Item> + Send {
    stream.map(move |item| {
        let _held = &permit;
        item
    })
}

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The name page tokens of the browser chat are bound to.
const CHAT_LIST: &str = "chat_messages";

#[tonic::async_trait]
impl BotService for BotApi {
    type WatchBotStatusStream = Boxed<WatchBotStatusResponse>;
    type StreamChatMessageStream = Boxed<StreamChatMessageResponse>;

    #[tracing::instrument(skip_all)]
    async fn start_bot(&self, request: Request<StartBotRequest>) -> Result<Response<StartBotResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let status = self.switch(&caller.user_id, true).await?;
        Ok(Response::new(StartBotResponse { bot_status: Some(status) }))
    }

    #[tracing::instrument(skip_all)]
    async fn stop_bot(&self, request: Request<StopBotRequest>) -> Result<Response<StopBotResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let status = self.switch(&caller.user_id, false).await?;
        Ok(Response::new(StopBotResponse { bot_status: Some(status) }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_bot_status(
        &self,
        request: Request<GetBotStatusRequest>,
    ) -> Result<Response<GetBotStatusResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let status = snapshot(&self.store, &caller.user_id, &self.conversations).await?;
        Ok(Response::new(GetBotStatusResponse { bot_status: Some(status) }))
    }

    #[tracing::instrument(skip_all)]
    async fn watch_bot_status(
        &self,
        request: Request<WatchBotStatusRequest>,
    ) -> Result<Response<Self::WatchBotStatusStream>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let limit = Phrase::TooManyWatches { limit: self.watches.max() };
        let permit = self.stream_permit(&self.watches, &caller.user_id, limit, WATCH_RETRY_AFTER).await?;
        let authorization =
            request.metadata().get("authorization").and_then(|value| value.to_str().ok()).map(str::to_owned);
        let watcher = Watcher {
            store: self.store.clone(),
            accounts: self.accounts.clone(),
            conversations: self.conversations.clone(),
            manager: self.manager.clone(),
        };
        let updates = watcher.watch(caller.user_id, authorization).await?;
        Ok(Response::new(Box::pin(holding(updates, permit))))
    }

    #[tracing::instrument(skip_all)]
    async fn send_chat_message(
        &self,
        request: Request<SendChatMessageRequest>,
    ) -> Result<Response<SendChatMessageResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let request = request.into_inner();
        let inbound = browser_inbound(&caller.user_id, request.text, request.client_message_id)?;
        let answer = self.conversations.converse(Channel::browser(&caller.user_id), inbound).await?;
        Ok(Response::new(SendChatMessageResponse {
            user_message: Some(chat::message(answer.question)),
            reply: Some(chat::message(answer.reply)),
            redelivered: answer.redelivered,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn stream_chat_message(
        &self,
        request: Request<StreamChatMessageRequest>,
    ) -> Result<Response<Self::StreamChatMessageStream>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let request = request.into_inner();
        let inbound = browser_inbound(&caller.user_id, request.text, request.client_message_id)?;
        let limit = Phrase::TooManyChatStreams { limit: self.chat_streams.max() };
        let permit = self.stream_permit(&self.chat_streams, &caller.user_id, limit, BUSY_RETRY_AFTER).await?;
        let events = self.conversations.converse_streaming(Channel::browser(&caller.user_id), inbound);
        Ok(Response::new(Box::pin(holding(chat::stream(events), permit))))
    }

    #[tracing::instrument(skip_all)]
    async fn list_chat_messages(
        &self,
        request: Request<ListChatMessagesRequest>,
    ) -> Result<Response<ListChatMessagesResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let limit = page_size(request.get_ref().page_size)?;
        let before = decode_token(CHAT_LIST, &request.get_ref().page_token)?;
        let channel = Channel::browser(&caller.user_id);
        let messages = self.conversations.messages(&channel, before.as_deref(), limit + 1).await?;
        let (page, next_page_token) = paginate(messages, limit, CHAT_LIST, |message| &message.id);
        Ok(Response::new(ListChatMessagesResponse {
            chat_messages: page.into_iter().map(chat::message).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn reset_chat(&self, request: Request<ResetChatRequest>) -> Result<Response<ResetChatResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        self.conversations.reset(&Channel::browser(&caller.user_id)).await?;
        Ok(Response::new(ResetChatResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn get_usage(&self, request: Request<GetUsageRequest>) -> Result<Response<GetUsageResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let days = match request.get_ref().day_count {
            ..0 => {
                return Err(Error::invalid("day_count", "the day count is negative; send 0 for 7, or up to 90").into());
            }
            0 => 7,
            n => n.min(90).unsigned_abs(),
        };
        let usage = chat::usage(&self.conversations, &caller.user_id, days).await?;
        Ok(Response::new(usage))
    }
}
