//! A user's bot status: the snapshot of the switch and every resource's state, and the watch
//! that follows it (each resource as it changes, a snapshot again after the switch moved or a
//! watcher fell behind), re-checking the watcher's credential every minute.

use std::{sync::Arc, time::Duration};

use assistchat_proto::v1::{
    BotStatus, ResourceDeleted, ResourceDesiredState, ResourceErrorAction, ResourceState, ResourceStatus,
    WatchBotStatusResponse, watch_bot_status_response::Event,
};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::manager::{BotEvent, BotManager};
use crate::{
    auth::Accounts,
    conversations::Conversations,
    error::Result,
    resources::service::status_info,
    rpc::timestamp,
    store::{Store, resources::ResourceRecord, states::Switch},
};

/// How often a watch checks that its caller's token is still good.
const WATCH_REAUTH: Duration = Duration::from_secs(60);
/// Messages a slow watcher may have queued before it is cut off.
const WATCH_QUEUE: usize = 64;

/// The updates of one watch.
pub type Updates = ReceiverStream<std::result::Result<WatchBotStatusResponse, Status>>;

/// What a watch reads.
pub struct Watcher {
    /// Resources and the switch.
    pub store: Store,
    /// Checks the watcher's credential again.
    pub accounts: Arc<Accounts>,
    /// The AI warning of the status.
    pub conversations: Arc<Conversations>,
    /// Changes to follow.
    pub manager: BotManager,
}

impl Watcher {
    /// Follows `user_id`'s bot: a snapshot first, then each change, until the watcher goes,
    /// its credential (`authorization`) stops working, or core shuts down.
    pub async fn watch(self, user_id: String, authorization: Option<String>) -> Result<Updates> {
        // Subscribed before the snapshot is read, so no change between the two is missed.
        let mut events = self.manager.subscribe();
        let mut closing = self.manager.closing();
        let first = snapshot(&self.store, &user_id, &self.conversations).await?;
        let (sender, receiver) = mpsc::channel(WATCH_QUEUE);
        let Self { store, accounts, conversations, .. } = self;
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
        Ok(ReceiverStream::new(receiver))
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
