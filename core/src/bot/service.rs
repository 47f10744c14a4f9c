//! `assistchat.v1.BotService`: the bot's switch and the live state of the caller's resources.

use std::{pin::Pin, sync::Arc, time::Duration};

use assistchat_proto::v1::{
    BotStatus, GetBotStatusRequest, GetBotStatusResponse, GetUsageRequest, GetUsageResponse, ListChatMessagesRequest,
    ListChatMessagesResponse, ResetChatRequest, ResetChatResponse, ResourceDeleted, ResourceState, ResourceStatus,
    SendChatMessageRequest, SendChatMessageResponse, StartBotRequest, StartBotResponse, StopBotRequest,
    StopBotResponse, StreamChatMessageRequest, StreamChatMessageResponse, WatchBotStatusRequest,
    WatchBotStatusResponse, bot_service_server::BotService, watch_bot_status_response::Event,
};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::{Stream, wrappers::ReceiverStream};
use tonic::{Request, Response, Status};

use super::manager::{BotEvent, BotManager};
use crate::{
    auth::Accounts,
    error::Result,
    resources::service::{action, desired_state, state, status_info},
    rpc::{caller, timestamp},
    store::{Store, now_millis, resources::ResourceRecord},
};

/// How often a watch checks that its caller's token is still good.
const WATCH_REAUTH: Duration = Duration::from_secs(60);
/// Messages a slow watcher may have queued before it is cut off.
const WATCH_QUEUE: usize = 64;

/// The gRPC face of the bot.
pub struct BotApi {
    /// Finds out who is calling.
    accounts: Arc<Accounts>,
    /// Where switches and resources live.
    store: Store,
    /// Starts and stops resources.
    manager: BotManager,
    /// Whether the platform has a key of its own, for managed users' warning.
    platform_has_key: bool,
}

impl BotApi {
    /// The service.
    pub fn new(accounts: Arc<Accounts>, store: Store, manager: BotManager, platform_has_key: bool) -> Self {
        Self { accounts, store, manager, platform_has_key }
    }

    async fn switch(&self, user_id: &str, on: bool) -> Result<BotStatus> {
        if self.store.set_bot_enabled(user_id, on, now_millis()).await? {
            self.manager.reconcile_user(user_id).await;
        }
        snapshot(&self.store, user_id, self.platform_has_key).await
    }
}

/// The whole status of a user's bot; `platform_has_key` tells whether managed users can get
/// replies.
pub async fn snapshot(store: &Store, user_id: &str, platform_has_key: bool) -> Result<BotStatus> {
    let (enabled, switch_time) = store.bot_switch(user_id).await?.unwrap_or_default();
    let records = store.list_resources(user_id, "", None, i64::MAX).await?;
    let resources: Vec<ResourceStatus> = records.into_iter().map(resource_status).collect();
    let count = |wanted: ResourceState| {
        i32::try_from(resources.iter().filter(|r| r.state() == wanted).count()).unwrap_or(i32::MAX)
    };
    let profile = store.profile(user_id).await?;
    let ai_warning = match profile {
        Some(profile) if profile.ai_mode == "byok" && profile.openai_key_state != "set" => {
            "Your assistant uses your own OpenAI key, and none is usable: add one in Profile, or switch to the \
             platform's key."
                .to_owned()
        }
        Some(profile) if profile.ai_mode == "managed" && !platform_has_key => {
            "This platform has no AI key of its own: add your own OpenAI key in Profile and choose it, or ask the \
             platform's operator to set one."
                .to_owned()
        }
        _ => String::new(),
    };
    Ok(BotStatus {
        enabled,
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
        desired_state: desired_state(&record.desired_state).into(),
        state: state(&record.state).into(),
        state_detail: record.state_detail,
        state_reason: record.state_reason,
        state_action: action(&record.state_action).into(),
        state_change_time: Some(timestamp(record.state_change_time)),
        status_info: status_info(&record.status_info),
    }
}

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

const CHAT_LATER: &str = "the browser chat is not served by this core version yet; upgrade core";

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
        let status = snapshot(&self.store, &caller.user_id, self.platform_has_key).await?;
        Ok(Response::new(GetBotStatusResponse { bot_status: Some(status) }))
    }

    #[tracing::instrument(skip_all)]
    async fn watch_bot_status(
        &self,
        request: Request<WatchBotStatusRequest>,
    ) -> Result<Response<Self::WatchBotStatusStream>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let authorization =
            request.metadata().get("authorization").and_then(|value| value.to_str().ok()).map(str::to_owned);
        // Subscribed before the snapshot is read, so no change between the two is missed.
        let mut events = self.manager.subscribe();
        let mut closing = self.manager.closing();
        let first = snapshot(&self.store, &caller.user_id, self.platform_has_key).await?;
        let (sender, receiver) = mpsc::channel(WATCH_QUEUE);
        let (store, accounts, user_id) = (self.store.clone(), self.accounts.clone(), caller.user_id);
        let platform_has_key = self.platform_has_key;
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
                        match snapshot(&store, &user_id, platform_has_key).await {
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
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn send_chat_message(
        &self,
        request: Request<SendChatMessageRequest>,
    ) -> Result<Response<SendChatMessageResponse>, Status> {
        caller(&self.accounts, &request).await?;
        Err(Status::unimplemented(CHAT_LATER))
    }

    async fn stream_chat_message(
        &self,
        request: Request<StreamChatMessageRequest>,
    ) -> Result<Response<Self::StreamChatMessageStream>, Status> {
        caller(&self.accounts, &request).await?;
        Err(Status::unimplemented(CHAT_LATER))
    }

    async fn list_chat_messages(
        &self,
        request: Request<ListChatMessagesRequest>,
    ) -> Result<Response<ListChatMessagesResponse>, Status> {
        caller(&self.accounts, &request).await?;
        Err(Status::unimplemented(CHAT_LATER))
    }

    async fn reset_chat(&self, request: Request<ResetChatRequest>) -> Result<Response<ResetChatResponse>, Status> {
        caller(&self.accounts, &request).await?;
        Err(Status::unimplemented(CHAT_LATER))
    }

    async fn get_usage(&self, request: Request<GetUsageRequest>) -> Result<Response<GetUsageResponse>, Status> {
        caller(&self.accounts, &request).await?;
        Err(Status::unimplemented("usage is not counted by this core version yet; upgrade core"))
    }
}
