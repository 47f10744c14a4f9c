//! Answering one Telegram update: who may talk, commands, the model's reply through core, and
//! sending it back in pieces Telegram accepts. Used alike by long polling and by webhooks.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use assistchat_edge_client::{
    Session,
    chatbot::{Later, Step, say, step},
};
use assistchat_proto::v1::ChannelUser;
use teloxide::{
    ApiError, Bot, RequestError,
    payloads::SendMessageSetters,
    prelude::Requester,
    types::{ChatAction, ChatId, Message, MessageId, ParseMode, ReplyParameters, Update, UpdateKind, UserId},
};

use crate::{
    format::{MAX_MESSAGE_UTF16, Piece, pieces, split_plain},
    settings::Settings,
};

/// How often the typing action is repeated while the model works (Telegram shows it for 5 s).
const TYPING_EVERY: Duration = Duration::from_secs(4);
/// Attempts to send one piece of a reply when Telegram asks to slow down.
const SEND_ATTEMPTS: u32 = 3;

/// One bot and what it needs to answer.
pub struct Chatbot<'a> {
    pub(crate) bot: Bot,
    /// The bot's own user id, to see replies to it in groups.
    bot_id: UserId,
    /// "@username", lower case, to see mentions in groups.
    mention: String,
    settings: Settings,
    pub(crate) session: &'a Session,
    /// Updates whose reply was sent but which Telegram has not been told to forget yet: a
    /// redelivery of one of them is not answered again. Shared by the bot's runs, since a run
    /// stopped between sending a reply and confirming the update leaves it to the next one.
    delivered: Delivered,
}

/// The updates of one bot answered but not yet confirmed to Telegram.
pub type Delivered = Arc<Mutex<HashSet<u32>>>;

impl<'a> Chatbot<'a> {
    /// The bot `bot` (whose own user is `bot_id` and @username `username`) answering for the
    /// resource of `session`.
    pub fn new(
        bot: Bot,
        bot_id: UserId,
        username: &str,
        settings: Settings,
        session: &'a Session,
        delivered: Delivered,
    ) -> Self {
        Self { bot, bot_id, mention: format!("@{}", username.to_lowercase()), settings, session, delivered }
    }
}

impl Chatbot<'_> {
    /// Forgets the updates below `id`: Telegram will not deliver them again.
    pub fn forget_delivered_below(&self, id: u32) {
        self.delivered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|seen| *seen >= id);
    }

    /// Answers one update; `Err` leaves it for Telegram to deliver again.
    pub async fn handle(&self, update: &Update) -> Result<(), Later> {
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
        let language = person.language_code.as_deref().unwrap_or_default();
        let reply_to = in_group.then_some(message.id);
        let chat = message.chat.id;
        let allowed = self.settings.allows(person.id.0, person.username.as_deref());
        let said = match step(allowed, message.text(), Some(&self.mention[1..])) {
            Step::Say(line) => say(language, line),
            Step::Reset => self.session.reset_turn(&chat.0.to_string(), language).await?,
            Step::Ask(text) => return self.answer(update, message, person, text, reply_to).await,
            Step::Ignore => return Ok(()),
        };
        // The edge's own lines are plain text: they hold no Markdown to format.
        let said = split_plain(said, MAX_MESSAGE_UTF16).iter().map(|piece| Piece::plain(piece)).collect();
        self.send(update, chat, said, reply_to).await;
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
        let answered = self.session.ask(&chat_key, sender, &update.id.0.to_string(), text).await;
        typing.abort();
        // Not taken: the update stays with Telegram, which delivers it again.
        self.send(update, chat, pieces(&answered?, MAX_MESSAGE_UTF16), reply_to).await;
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

    /// Sends a reply's `pieces`, the first replying to `reply_to`; a failure other than "slow
    /// down" is logged and dropped (the person may have blocked the bot). A piece whose markup
    /// Telegram cannot parse is sent again as its plain text, so that no reply is lost to its
    /// formatting. A reply once begun is finished and remembered even if the bot is stopped
    /// meanwhile, so that the next run does not send it again.
    async fn send(&self, update: &Update, chat: ChatId, pieces: Vec<Piece>, reply_to: Option<MessageId>) {
        let (bot, delivered, id) = (self.bot.clone(), self.delivered.clone(), update.id.0);
        let sending = tokio::spawn(async move {
            for (index, piece) in pieces.into_iter().enumerate() {
                let reply_to = reply_to.filter(|_| index == 0);
                let sent = match &piece.html {
                    Some(html) => deliver(&bot, chat, html, Some(ParseMode::Html), reply_to).await,
                    None => deliver(&bot, chat, &piece.plain, None, reply_to).await,
                };
                match sent {
                    Ok(()) => {}
                    Err(RequestError::Api(ApiError::CantParseEntities(why))) => {
                        tracing::warn!(why = %why, "Telegram could not read a reply's formatting; it is sent as plain text");
                        for plain in split_plain(&piece.plain, MAX_MESSAGE_UTF16) {
                            if let Err(err) = deliver(&bot, chat, &plain, None, reply_to).await {
                                tracing::warn!(error = %err, "a reply could not be sent");
                            }
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "a reply could not be sent"),
                }
            }
            delivered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id);
        });
        let _ = sending.await;
    }
}

/// Sends one message, waiting and trying again as long as Telegram asks to slow down, up to
/// [`SEND_ATTEMPTS`] times.
async fn deliver(
    bot: &Bot,
    chat: ChatId,
    text: &str,
    parse_mode: Option<ParseMode>,
    reply_to: Option<MessageId>,
) -> Result<(), RequestError> {
    let mut attempt = 1;
    loop {
        let mut request = bot.send_message(chat, text);
        if let Some(mode) = parse_mode {
            request = request.parse_mode(mode);
        }
        if let Some(message_id) = reply_to {
            request = request.reply_parameters(ReplyParameters::new(message_id).allow_sending_without_reply());
        }
        match request.await {
            Ok(_) => return Ok(()),
            Err(RequestError::RetryAfter(seconds)) if attempt < SEND_ATTEMPTS => {
                tokio::time::sleep(seconds.duration()).await;
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
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
