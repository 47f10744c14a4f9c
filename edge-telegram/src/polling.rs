//! One bot served by long polling, with the offset kept here: an update is confirmed to Telegram
//! only once core has stored it (and answered), so a crash loses nothing, and core's
//! `updates_seen` turns a redelivery into the stored reply instead of a second answer.

use std::{
    collections::{BTreeMap, HashSet},
    sync::Mutex,
    time::Duration,
};

use assistchat_edge_client::{ResourceErrorAction, Session, backoff::Backoff};
use assistchat_proto::v1::{ChannelUser, ResourceInfoItem};
use teloxide::{
    ApiError, Bot, RequestError,
    payloads::{GetUpdatesSetters, SendMessageSetters},
    prelude::Requester,
    types::{AllowedUpdate, ChatAction, ChatId, Message, MessageId, ReplyParameters, Update, UpdateKind, UserId},
};
use tonic::Code;

use crate::{
    provider::POLL_SECONDS,
    settings::Settings,
    split::{MAX_MESSAGE_CHARS, split},
    words::{Line, say},
};

/// Failed polls in a row before the resource shows the error (a blip is not worth one).
const FAILURES_BEFORE_ERROR: u32 = 3;
/// How often the typing action is repeated while the model works (Telegram shows it for 5 s).
const TYPING_EVERY: Duration = Duration::from_secs(4);
/// The longest pause between failed polls: a bot is back within seconds of the trouble ending.
const MAX_POLL_PAUSE: Duration = Duration::from_secs(8);
/// Attempts to send one piece of a reply when Telegram asks to slow down.
const SEND_ATTEMPTS: u32 = 3;

/// One bot and what it needs to answer.
struct Chatbot<'a> {
    bot: Bot,
    /// The bot's own user id, to see replies to it in groups.
    bot_id: UserId,
    /// "@username", lower case, to see mentions in groups.
    mention: String,
    settings: Settings,
    session: &'a Session,
    /// Updates whose reply was sent but which Telegram has not been told to forget yet: a
    /// redelivery of one of them is not answered again.
    delivered: Mutex<HashSet<u32>>,
}

/// Why an update is left for Telegram to deliver again.
struct Later;

/// Serves the bot until core stops the resource.
pub async fn serve(
    bot: Bot,
    bot_id: UserId,
    username: String,
    settings: Settings,
    info: Vec<ResourceInfoItem>,
    session: &Session,
) {
    // A webhook set elsewhere would make every poll fail with 409.
    tokio::select! {
        _ = bot.delete_webhook() => {}
        () = session.cancelled() => return,
    }
    session.ready("Receiving messages.", info.clone());
    let chatbot = Chatbot {
        bot,
        bot_id,
        mention: format!("@{}", username.to_lowercase()),
        settings,
        session,
        delivered: Mutex::default(),
    };
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
                if in_error {
                    session.ready("Receiving messages.", info.clone());
                    in_error = false;
                }
                failures = 0;
                let handled = tokio::select! {
                    handled = chatbot.handle_batch(updates) => handled,
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
                return session.error(detail, "TOKEN_REJECTED", ResourceErrorAction::FixSettings);
            }
            Err(RequestError::Api(ApiError::TerminatedByOtherGetUpdates)) => {
                let detail = "Another program is receiving this bot's messages: Telegram answered 409 Conflict. Stop \
                              the other program (or the other place this token is used); the assistant keeps trying \
                              and takes over by itself.";
                session.error(detail, "TELEGRAM_CONFLICT", ResourceErrorAction::Reconnect);
                in_error = true;
                backoff.next_delay()
            }
            Err(err) => {
                failures += 1;
                tracing::warn!(error = %err, failures, "getUpdates failed");
                if failures >= FAILURES_BEFORE_ERROR {
                    let detail = format!("Telegram cannot be reached ({err}). Trying again by itself.");
                    session.error(&detail, "TELEGRAM_UNREACHABLE", ResourceErrorAction::None);
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

impl Chatbot<'_> {
    /// Handles a batch, each chat's updates in order and the chats side by side. Returns the
    /// offset to confirm (past every update handled, never past one to be delivered again) and
    /// whether every update was handled.
    async fn handle_batch(&self, updates: Vec<Update>) -> (Option<i32>, bool) {
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
                if self.handle(update).await.is_err() {
                    return Some(update.id.0);
                }
            }
            None
        }))
        .await;
        let first_left = handled.into_iter().flatten().min();
        let confirm_below = first_left.unwrap_or(last + 1);
        self.delivered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|id| *id >= confirm_below);
        (i32::try_from(confirm_below).ok(), first_left.is_none())
    }

    /// Answers one update; `Err` leaves it for Telegram to deliver again.
    async fn handle(&self, update: &Update) -> Result<(), Later> {
        let UpdateKind::Message(message) = &update.kind else {
            return Ok(());
        };
        if self.delivered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(&update.id.0) {
            return Ok(());
        }
        let Some(person) = message.from.as_ref().filter(|user| !user.is_bot) else {
            return Ok(());
        };
        let in_group = !message.chat.is_private();
        if in_group && self.settings.groups_mentions_only && !self.addressed(message) {
            return Ok(());
        }
        let language = person.language_code.as_deref();
        let reply_to = in_group.then_some(message.id);
        let chat = message.chat.id;
        if !self.settings.allows(person.id.0, person.username.as_deref()) {
            self.send(update, chat, say(language, Line::NotAllowed), reply_to).await;
            return Ok(());
        }
        let Some(text) = message.text() else {
            self.send(update, chat, say(language, Line::TextOnly), reply_to).await;
            return Ok(());
        };
        let chat_key = chat.0.to_string();
        let said = match self.command(text) {
            Some(Command::Start) => Line::Greeting,
            Some(Command::Help) => Line::Help,
            Some(Command::Reset) => {
                if let Err(status) = self.session.reset_conversation(&chat_key).await {
                    tracing::warn!(%status, "core could not reset a conversation");
                    return Err(Later);
                }
                Line::Forgotten
            }
            Some(Command::ForAnotherBot) => return Ok(()),
            None => return self.answer(update, message, person, text, reply_to).await,
        };
        self.send(update, chat, say(language, said), reply_to).await;
        Ok(())
    }

    /// Asks core for the reply to a person's text and sends it.
    async fn answer(
        &self,
        update: &Update,
        message: &Message,
        person: &teloxide::types::User,
        text: &str,
        reply_to: Option<MessageId>,
    ) -> Result<(), Later> {
        let chat = message.chat.id;
        let chat_key = chat.0.to_string();
        let sender = ChannelUser {
            id: person.id.0.to_string(),
            display_name: person.full_name(),
            username: person.username.clone().unwrap_or_default(),
        };
        let typing = tokio::spawn(typing(self.bot.clone(), chat));
        let answered = self.session.converse(&chat_key, sender, &update.id.0.to_string(), text).await;
        typing.abort();
        let reply = match answered {
            Ok(answer) => answer.reply_text,
            // Core's words for the person: no usable key, a spent quota, a model that is down.
            Err(status)
                if std::error::Error::source(&status).is_none()
                    && matches!(
                        status.code(),
                        Code::FailedPrecondition | Code::ResourceExhausted | Code::Unavailable
                    ) =>
            {
                status.message().to_owned()
            }
            Err(status) => {
                tracing::warn!(%status, "core did not take a message; it stays with Telegram");
                return Err(Later);
            }
        };
        self.send(update, chat, &reply, reply_to).await;
        Ok(())
    }

    /// Whether a group message is for this bot: it mentions the bot, replies to it, or is a
    /// command addressed to it.
    fn addressed(&self, message: &Message) -> bool {
        let replies_to_bot = message
            .reply_to_message()
            .and_then(|replied| replied.from.as_ref())
            .is_some_and(|from| from.id == self.bot_id);
        let text = message.text().unwrap_or_default().to_lowercase();
        replies_to_bot || text.contains(&self.mention)
    }

    /// The bot command `text` starts with, if it is one this bot knows.
    fn command(&self, text: &str) -> Option<Command> {
        let word = text.split_whitespace().next()?.strip_prefix('/')?;
        let (name, target) = match word.split_once('@') {
            Some((name, target)) => (name, Some(target.to_lowercase())),
            None => (word, None),
        };
        if target.is_some_and(|target| format!("@{target}") != self.mention) {
            return Some(Command::ForAnotherBot);
        }
        match name.to_lowercase().as_str() {
            "start" => Some(Command::Start),
            "help" => Some(Command::Help),
            "reset" | "new" => Some(Command::Reset),
            _ => None,
        }
    }

    /// Sends `text` in pieces Telegram accepts, the first replying to `reply_to`; a failure
    /// other than "slow down" is logged and dropped (the person may have blocked the bot).
    async fn send(&self, update: &Update, chat: ChatId, text: &str, reply_to: Option<MessageId>) {
        for (index, piece) in split(text, MAX_MESSAGE_CHARS).into_iter().enumerate() {
            for attempt in 1..=SEND_ATTEMPTS {
                let mut request = self.bot.send_message(chat, piece.clone());
                if let Some(message_id) = reply_to.filter(|_| index == 0) {
                    request = request.reply_parameters(ReplyParameters::new(message_id).allow_sending_without_reply());
                }
                match request.await {
                    Ok(_) => break,
                    Err(RequestError::RetryAfter(seconds)) if attempt < SEND_ATTEMPTS => {
                        tokio::time::sleep(seconds.duration()).await;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "a reply could not be sent");
                        break;
                    }
                }
            }
        }
        self.delivered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(update.id.0);
    }
}

/// A command the bot answers by itself.
enum Command {
    Start,
    Help,
    Reset,
    /// A command addressed to another bot in the same group.
    ForAnotherBot,
}

/// Shows "typing..." until aborted. Best effort: a refusal costs nothing.
async fn typing(bot: Bot, chat: ChatId) {
    loop {
        if let Err(err) = bot.send_chat_action(chat, ChatAction::Typing).await {
            tracing::debug!(error = %err, "the typing action was refused");
        }
        tokio::time::sleep(TYPING_EVERY).await;
    }
}
