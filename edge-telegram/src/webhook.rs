//! Webhook mode: when the edge has a public URL, Telegram posts each bot's updates to it instead
//! of being polled. Each running resource has its own path and secret; a request without the
//! secret Telegram was given gets 401 and has no effect, and a request is acknowledged only
//! once its update is handled, so Telegram delivers again what was not.

use std::sync::Arc;

use assistchat_edge_client::{ResourceErrorAction, webhooks::Registration};
use assistchat_proto::v1::{ResourceInfoItem, ResourceInfoKind};
use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
};
use teloxide::{
    payloads::SetWebhookSetters,
    prelude::Requester,
    types::{AllowedUpdate, Update},
};
use tokio::sync::oneshot;

use crate::chatbot::Chatbot;
use crate::reason::Reason;

/// The header Telegram sends the webhook's secret in.
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
/// How often Telegram's view of a webhook (its last error, the updates waiting) is checked.
const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// Recent updates remembered as answered, in case Telegram delivers one again.
const REMEMBERED_UPDATES: u32 = 1000;
/// How long a stopping bot waits for Telegram to delete its webhook.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);
/// The largest update Telegram may post: a message carries at most 4096 characters of text
/// (1024 of caption) with its entities, far below this.
pub const MAX_UPDATE_BYTES: usize = 1024 * 1024;
/// How long to wait before setting a webhook Telegram refused again.
const RETRY_SET: std::time::Duration = std::time::Duration::from_secs(10);

/// An update handed to its bot's task, with where to say whether it was handled.
pub type Delivery = (Update, oneshot::Sender<bool>);

/// The webhook paths of the running bots, `/telegram/<resource id>`.
pub type Webhooks = assistchat_edge_client::Webhooks<Delivery>;

/// Webhooks under `public_url`, and the router to serve them (bodies over
/// [`MAX_UPDATE_BYTES`] get 413).
pub fn webhooks(public_url: url::Url) -> (Arc<Webhooks>, Router) {
    let webhooks = Webhooks::new(public_url, "telegram");
    let router = webhooks.router(receive, MAX_UPDATE_BYTES);
    (webhooks, router)
}

/// Serves the bot by webhook until core stops the resource: sets the webhook with its secret,
/// answers what Telegram posts, and checks with getWebhookInfo that deliveries arrive (a webhook
/// that silently never fires shows on the resource with Telegram's last error).
pub async fn serve(
    chatbot: &Chatbot<'_>,
    mut registration: Registration<Delivery>,
    secret: String,
    info: Vec<ResourceInfoItem>,
) {
    let session = chatbot.session;
    loop {
        let set = chatbot
            .bot
            .set_webhook(registration.url.clone())
            .secret_token(secret.clone())
            .allowed_updates([AllowedUpdate::Message]);
        let outcome = tokio::select! {
            outcome = set => outcome,
            () = session.cancelled() => return,
        };
        let Err(err) = outcome else { break };
        let detail = format!(
            "Telegram refused the webhook {} ({err}). Check ASSISTCHAT_TELEGRAM_PUBLIC_URL; trying again by itself.",
            registration.url
        );
        session.error(&detail, Reason::WebhookRefused.code(), ResourceErrorAction::None);
        tokio::select! {
            () = tokio::time::sleep(RETRY_SET) => {}
            () = session.cancelled() => return,
        }
    }
    let set_at = unix_now();
    let mut check = tokio::time::interval(CHECK_EVERY);
    let mut shown: Option<Option<String>> = None;
    loop {
        tokio::select! {
            delivery = registration.queue.recv() => {
                let Some((update, handled)) = delivery else { return };
                let _ = handled.send(chatbot.handle(&update).await.is_ok());
                // Telegram delivers again only what was not acknowledged, soon: old ids can go.
                chatbot.forget_delivered_below(update.id.0.saturating_sub(REMEMBERED_UPDATES));
            }
            _ = check.tick() => {
                let Ok(webhook) = chatbot.bot.get_webhook_info().await else { continue };
                let failing = webhook
                    .last_error_message
                    .filter(|_| webhook.pending_update_count > 0)
                    .filter(|_| webhook.last_error_date.is_some_and(|date| date.timestamp() >= set_at));
                // Only a change is reported: a thousand bots need not write every minute.
                if shown.as_ref() == Some(&failing) {
                    continue;
                }
                shown = Some(failing.clone());
                match failing {
                    Some(error) => {
                        let detail = format!(
                            "Telegram cannot deliver messages to this edge: \"{error}\"; {} are waiting. Check that \
                             {} reaches this edge (ASSISTCHAT_TELEGRAM_PUBLIC_URL, ASSISTCHAT_TELEGRAM_LISTEN).",
                            webhook.pending_update_count, registration.url
                        );
                        session.error(&detail, Reason::WebhookFailing.code(), ResourceErrorAction::None);
                    }
                    None => {
                        let mut items = info.clone();
                        items.push(ResourceInfoItem {
                            key: "webhook".into(),
                            label: "Webhook".into(),
                            value: registration.url.to_string(),
                            kind: ResourceInfoKind::Copyable.into(),
                        });
                        session.ready("Receiving messages by webhook.", items);
                    }
                }
            }
            () = session.cancelled() => {
                // Stopped: the path goes now, and Telegram keeps the bot's updates (for a day)
                // until a webhook is set again, instead of failing to deliver them here.
                drop(registration);
                let _ = tokio::time::timeout(STOP_GRACE, chatbot.bot.delete_webhook()).await;
                return;
            }
        }
    }
}

fn unix_now() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(now.as_secs()).unwrap_or(i64::MAX)
}

async fn receive(
    State(webhooks): State<Arc<Webhooks>>,
    Path(resource_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some((secret, deliveries)) = webhooks.route(&resource_id) else {
        return StatusCode::NOT_FOUND;
    };
    let presented = headers.get(SECRET_HEADER).map(|value| value.as_bytes()).unwrap_or_default();
    if !same(presented, secret.as_bytes()) {
        return StatusCode::UNAUTHORIZED;
    }
    // An update this edge cannot read would be delivered again forever: take it and move on.
    let Ok(update) = serde_json::from_slice::<Update>(&body) else {
        tracing::warn!(resource_id, "an unreadable update from Telegram was dropped");
        return StatusCode::OK;
    };
    let (handled, outcome) = oneshot::channel();
    if deliveries.send((update, handled)).await.is_err() {
        return StatusCode::NOT_FOUND;
    }
    match outcome.await {
        Ok(true) => StatusCode::OK,
        // Not handled now: Telegram delivers it again later.
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Compares in time independent of where the values differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}
