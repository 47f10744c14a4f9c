//! One bot served by long polling, with the offset kept here: an update is confirmed to Telegram
//! only once core has stored it (and answered), so a crash loses nothing, and core's
//! `updates_seen` turns a redelivery into the stored reply instead of a second answer.

use std::{collections::BTreeMap, time::Duration};

use assistchat_edge_client::{ResourceErrorAction, backoff::Backoff};
use assistchat_proto::v1::ResourceInfoItem;
use teloxide::{
    ApiError, RequestError,
    payloads::GetUpdatesSetters,
    prelude::Requester,
    types::{AllowedUpdate, Update, UpdateKind},
};

use crate::{chatbot::Chatbot, provider::POLL_SECONDS, reason::Reason};

/// Failed polls in a row before the resource shows the error (a blip is not worth one).
const FAILURES_BEFORE_ERROR: u32 = 3;
/// The longest pause between failed polls: a bot is back within seconds of the trouble ending.
const MAX_POLL_PAUSE: Duration = Duration::from_secs(8);

/// Serves the bot until core stops the resource.
pub async fn serve(chatbot: &Chatbot<'_>, info: Vec<ResourceInfoItem>) {
    let session = chatbot.session;
    // A webhook set elsewhere would make every poll fail with 409.
    tokio::select! {
        _ = chatbot.bot.delete_webhook() => {}
        () = session.cancelled() => return,
    }
    session.ready("Receiving messages.", info.clone());
    let mut offset: Option<i32> = None;
    let (mut backoff, mut failures, mut in_error) = (Backoff::default(), 0u32, false);
    loop {
        // After a failure, a short poll: it shows at once whether Telegram answers again.
        let wait_seconds = if in_error { 0 } else { POLL_SECONDS };
        let mut poll = chatbot.bot.get_updates().timeout(wait_seconds).allowed_updates([AllowedUpdate::Message]);
        if let Some(offset) = offset {
            poll = poll.offset(offset);
        }
        let polled = tokio::select! {
            polled = poll => polled,
            () = session.cancelled() => return,
        };
        let wait = match polled {
            Ok(updates) => {
                // This poll carried the offset: Telegram has forgotten what lies below it.
                if let Some(confirmed) = offset.and_then(|offset| u32::try_from(offset).ok()) {
                    chatbot.forget_delivered_below(confirmed);
                }
                if in_error {
                    session.ready("Receiving messages.", info.clone());
                    in_error = false;
                }
                failures = 0;
                let handled = tokio::select! {
                    handled = handle_batch(chatbot, updates) => handled,
                    () = session.cancelled() => return,
                };
                let (next, complete) = handled;
                if next.is_some() {
                    offset = next;
                }
                if complete {
                    backoff.reset();
                    continue;
                }
                // Core could not take a message now: poll again after a pause.
                backoff.next_delay()
            }
            Err(RequestError::RetryAfter(seconds)) => seconds.duration(),
            Err(RequestError::Api(ApiError::InvalidToken)) => {
                let detail = "Telegram no longer accepts the token (it was revoked?). Copy the current token from \
                              @BotFather and save it here.";
                return session.error(detail, Reason::TokenRejected.code(), ResourceErrorAction::FixSettings);
            }
            Err(RequestError::Api(ApiError::TerminatedByOtherGetUpdates)) => {
                let detail = "Another program is receiving this bot's messages: Telegram answered 409 Conflict. Stop \
                              the other program (or the other place this token is used); the assistant keeps trying \
                              and takes over by itself.";
                session.error(detail, Reason::TelegramConflict.code(), ResourceErrorAction::Reconnect);
                in_error = true;
                backoff.next_delay()
            }
            Err(err) => {
                failures += 1;
                tracing::warn!(error = %err, failures, "getUpdates failed");
                if failures >= FAILURES_BEFORE_ERROR {
                    let detail = format!("Telegram cannot be reached ({err}). Trying again by itself.");
                    session.error(&detail, Reason::TelegramUnreachable.code(), ResourceErrorAction::None);
                    in_error = true;
                }
                backoff.next_delay()
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait.min(MAX_POLL_PAUSE)) => {}
            () = session.cancelled() => return,
        }
    }
}

/// Handles a batch, each chat's updates in order and the chats side by side. Returns the
/// offset to confirm (past every update handled, never past one to be delivered again) and
/// whether every update was handled.
async fn handle_batch(chatbot: &Chatbot<'_>, updates: Vec<Update>) -> (Option<i32>, bool) {
    let Some(last) = updates.last().map(|update| update.id.0) else {
        return (None, true);
    };
    let mut chats: BTreeMap<i64, Vec<&Update>> = BTreeMap::new();
    for update in &updates {
        let chat = match &update.kind {
            UpdateKind::Message(message) => message.chat.id.0,
            _ => 0,
        };
        chats.entry(chat).or_default().push(update);
    }
    let handled = futures::future::join_all(chats.into_values().map(|updates| async move {
        for update in updates {
            if chatbot.handle(update).await.is_err() {
                return Some(update.id.0);
            }
        }
        None
    }))
    .await;
    let first_left = handled.into_iter().flatten().min();
    let confirm_below = first_left.unwrap_or(last + 1);
    (i32::try_from(confirm_below).ok(), first_left.is_none())
}
