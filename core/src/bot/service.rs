//! `assistchat.v1.BotService`: the bot's switch and the live state of the caller's resources.

use std::{pin::Pin, sync::Arc, time::Duration};

use assistchat_proto::v1::{
    BotStatus, GetBotStatusRequest, GetBotStatusResponse, GetUsageRequest, GetUsageResponse, ListChatMessagesRequest,
    ListChatMessagesResponse, ResetChatRequest, ResetChatResponse, ResourceDeleted, ResourceDesiredState,
    ResourceErrorAction, ResourceState, ResourceStatus, SendChatMessageRequest, SendChatMessageResponse,
    StartBotRequest, StartBotResponse, StopBotRequest, StopBotResponse, StreamChatMessageRequest,
    StreamChatMessageResponse, WatchBotStatusRequest, WatchBotStatusResponse, bot_service_server::BotService,
    watch_bot_status_response::Event,
};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::{Stream, StreamExt, wrappers::ReceiverStream};
use tonic::{Request, Response, Status};

use super::{
    chat,
    manager::{BotEvent, BotManager},
};
use crate::{
    auth::Accounts,
    conversations::{BUSY_RETRY_AFTER, Channel, Conversations},
    error::{Error, Result},
    pagination::{decode_token, page_size, paginate},
    per_user::{PerUserLimit, UserPermit},
    resources::service::status_info,
    rpc::{caller, timestamp},
    store::{Store, now_millis, resources::ResourceRecord, states::Switch},
    words::{Phrase, say},
};

/// How often a watch checks that its caller's token is still good.
const WATCH_REAUTH: Duration = Duration::from_secs(60);
/// Messages a slow watcher may have queued before it is cut off.
const WATCH_QUEUE: usize = 64;
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

/// The whole status of a user's bot.
pub async fn snapshot(store: &Store, user_id: &str, conversations: &Conversations) -> Result<BotStatus> {
    let (switch, switch_time) = store.bot_switch(user_id).await?.unwrap_or((Switch::Off, None));
    let records = store.list_resources(user_id, "", None, i64::MAX).await?;
    let resources: Vec<ResourceStatus> = records.into_iter().map(resource_status).collect();
    let count = |wanted: ResourceState| {
        i32::try_from(resources.iter().filter(|r| r.state() == wanted).count()).unwrap_or(i32::MAX)
    };
    let ai_warning = conversations.ai_warning(user_id).await?.unwrap_or_default();
    Ok(BotStatus {
        enabled: switch == Switch::On,
        switch_time: switch_time.map(timestamp),
        ready_count: count(ResourceState::Ready),
        pending_count: count(ResourceState::Pending),
        error_count: count(ResourceState::Error),
        paused_count: count(ResourceState::Paused),
        resources,
        ai_warning,
    })
}

/// A resource's state, without its settings.
pub fn resource_status(record: ResourceRecord) -> ResourceStatus {
    ResourceStatus {
        resource_id: record.id,
        provider: record.provider,
        name: record.name,
        desired_state: ResourceDesiredState::from(record.desired_state).into(),
        state: ResourceState::from(record.state).into(),
        state_detail: record.state_detail,
        state_reason: record.state_reason,
        state_action: ResourceErrorAction::from(record.state_action).into(),
        state_change_time: Some(timestamp(record.state_change_time)),
        status_info: status_info(&record.status_info),
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
        // Subscribed before the snapshot is read, so no change between the two is missed.
        let mut events = self.manager.subscribe();
        let mut closing = self.manager.closing();
        let first = snapshot(&self.store, &caller.user_id, &self.conversations).await?;
        let (sender, receiver) = mpsc::channel(WATCH_QUEUE);
        let (store, accounts, user_id) = (self.store.clone(), self.accounts.clone(), caller.user_id);
        let conversations = self.conversations.clone();
        tokio::spawn(async move {
            let send = |event: Event| sender.send(Ok(WatchBotStatusResponse { event: Some(event) }));
            if send(Event::Snapshot(first)).await.is_err() {
                return;
            }
            let mut reauth = tokio::time::interval(WATCH_REAUTH);
            reauth.tick().await;
            loop {
                let event = tokio::select! {
                    event = events.recv() => event,
                    _ = reauth.tick() => {
                        if let Err(err) = accounts.authenticate(authorization.as_deref()).await {
                            let _ = sender.send(Err(err.into())).await;
                            return;
                        }
                        continue;
                    }
                    () = sender.closed() => return,
                    _ = closing.changed() => {
                        let _ = sender.send(Err(Status::unavailable("core is shutting down; watch again"))).await;
                        return;
                    }
                };
                let message = match event {
                    Ok(event) if event.user_id() != user_id => continue,
                    Ok(BotEvent::Changed { resource_id, .. }) => match store.resource(&user_id, &resource_id).await {
                        Ok(Some(record)) => Event::ResourceChanged(resource_status(record)),
                        Ok(None) => continue,
                        Err(err) => {
                            let _ = sender.send(Err(crate::error::Error::from(err).into())).await;
                            return;
                        }
                    },
                    Ok(BotEvent::Deleted { resource_id, .. }) => {
                        Event::ResourceDeleted(ResourceDeleted { resource_id })
                    }
                    Ok(BotEvent::Switched { .. }) | Err(RecvError::Lagged(_)) => {
                        match snapshot(&store, &user_id, &conversations).await {
                            Ok(status) => Event::Snapshot(status),
                            Err(err) => {
                                let _ = sender.send(Err(err.into())).await;
                                return;
                            }
                        }
                    }
                    Err(RecvError::Closed) => {
                        let _ = sender.send(Err(Status::unavailable("core is shutting down; watch again"))).await;
                        return;
                    }
                };
                if send(message).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(holding(ReceiverStream::new(receiver), permit))))
    }

    #[tracing::instrument(skip_all)]
    async fn send_chat_message(
        &self,
        request: Request<SendChatMessageRequest>,
    ) -> Result<Response<SendChatMessageResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let request = request.into_inner();
        let inbound = chat::inbound(&caller.user_id, request.text, request.client_message_id)?;
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
        let inbound = chat::inbound(&caller.user_id, request.text, request.client_message_id)?;
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
