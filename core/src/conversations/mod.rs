//! Conversations: every message a person sends in any channel (a resource's chat, or the
//! browser) belongs to a conversation, is stored, answered by the model with the conversation's
//! memory, and the reply stored. A redelivered message gets the stored reply; tokens are counted
//! per user per day, and the platform's key is spent within a daily quota.
//!
//! Spending is bounded before the model is asked, not after: each user has at most
//! [`Settings::max_calls_per_user`] model calls running at once, and a call in managed mode first
//! reserves its estimated cost (the prompt's tokens and the reply cap) of the daily quota in the
//! database, in the same statement that checks it ([`Store::reserve_tokens`]); the real counts
//! replace the reservation when the call ends, failed or not. A burst of parallel messages thus
//! overshoots the quota by at most one reservation. Titles asked of the model are paid the same
//! way.
//!
//! Layout: [`Conversations`] answers; [`memory`] picks the turns the model sees; [`in_flight`]
//! makes a redelivery wait for the first delivery's answer; [`writing`] lets a reply being
//! written be stopped; [`titles`] names a conversation from its first exchange; [`models`] says
//! which models a person may choose; [`library`] lists, searches, changes and deletes
//! conversations; [`export`] writes one as a file; [`service`] is `ConversationService`.

pub mod export;
pub mod in_flight;
pub mod library;
pub mod memory;
pub mod models;
pub mod service;
pub mod titles;
pub mod writing;

use std::{sync::Arc, time::Duration};

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamExt;

use crate::{
    ai::{AiClient, AiError, Piece, Reply, Turn, most_tokens},
    error::{Error, Result},
    per_user::PerUserLimit,
    profile::{AiMode, AiRoute, Profiles},
    store::{
        Store,
        conversations::{ConversationRecord, TITLE_BY_MODEL, TITLE_FROM_WORDS},
        messages::{MessageRecord, NewMessage, NewReply},
        now_millis,
        usage::UsageRecord,
    },
    words::{Phrase, say},
};

/// The most earlier messages read for a conversation's memory; the token budget usually keeps
/// fewer.
const HISTORY_ROWS: i64 = 200;
/// The chat key of a user's browser chat, which holds their browser conversations.
pub const BROWSER_CHAT: &str = "browser";
/// When a user whose calls are all running is told to send again: a reply usually takes a few
/// seconds.
pub const BUSY_RETRY_AFTER: Duration = Duration::from_secs(5);
/// The tokens a server adds to each turn of a prompt (its role and separators), counted in a
/// reservation on top of the turn's text; OpenAI's chat format adds three or four.
const TURN_OVERHEAD_TOKENS: u32 = 4;

/// How conversations are kept and paid for.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The most tokens sent to the model per message, memory included.
    pub history_budget: u32,
    /// The most tokens of the platform's key a user may spend per UTC day; 0 for no limit.
    pub daily_quota: u64,
    /// The instructions where a conversation and its channel set none.
    pub default_system_prompt: String,
    /// The most model calls one user may have running at once.
    pub max_calls_per_user: usize,
    /// Whether conversations are titled by the model (else by their first words).
    pub model_titles: bool,
    /// The models managed users may choose; the platform's model is the default.
    pub managed_models: Vec<String>,
}

/// The setting of a resource naming the model its conversations ask (empty: the owner's default).
pub const MODEL_SETTING: &str = "model";

/// Where a message came: one chat of a resource, or a user's browser chat.
#[derive(Clone, Debug)]
pub struct Channel {
    /// The owner of the resource (or of the browser chat), whose AI settings answer.
    pub user_id: String,
    /// The resource; `None` for the browser chat.
    pub resource_id: Option<String>,
    /// The chat within the channel, as its edge names it.
    pub chat_key: String,
    /// What the channel sets for its conversations.
    pub defaults: ChannelDefaults,
}

/// What a channel sets for its conversations, each empty for the owner's or the platform's
/// default; a conversation's own setting comes first.
#[derive(Clone, Debug, Default)]
pub struct ChannelDefaults {
    /// The channel's instructions.
    pub system_prompt: String,
    /// The model it asks.
    pub model: String,
}

impl Channel {
    /// A user's browser chat.
    pub fn browser(user_id: &str) -> Self {
        Self {
            user_id: user_id.to_owned(),
            resource_id: None,
            chat_key: BROWSER_CHAT.into(),
            defaults: ChannelDefaults::default(),
        }
    }
}

/// A person's message.
#[derive(Clone, Debug, Default)]
pub struct Inbound {
    /// Its text.
    pub text: String,
    /// The channel's id of it, unique within the chat; `None` when the channel gave none.
    pub external_id: Option<String>,
    /// Who wrote it, in the channel.
    pub sender_id: String,
    /// Their name, as the channel shows it.
    pub sender_name: String,
}

/// A message and its reply.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The conversation, as it was before the message.
    pub conversation: ConversationRecord,
    /// The person's message, as stored.
    pub question: MessageRecord,
    /// The reply, as stored.
    pub reply: MessageRecord,
    /// Whether the reply was stored before this call: the model was not asked again.
    pub redelivered: bool,
}

/// What a streamed answer carries, in order.
#[derive(Clone, Debug)]
pub enum Event {
    /// The person's message, stored.
    Question(Box<MessageRecord>),
    /// The next piece of the reply.
    Delta(String),
    /// The end: the message and its stored reply.
    Answered(Box<Answer>),
}

/// A failed attempt to answer: a stable reason kept with the message, and the caller's error.
struct Failure {
    reason: &'static str,
    error: Error,
}

impl Failure {
    fn new(reason: &'static str, error: Error) -> Self {
        Self { reason, error }
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(err: crate::store::StoreError) -> Self {
        Error::from(err).into()
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let reason = match &error {
            Error::FailedPrecondition(_) => "NO_USABLE_KEY",
            Error::QuotaSpent(_) => "QUOTA_SPENT",
            Error::Unavailable(_) => "UNAVAILABLE",
            _ => "INTERNAL",
        };
        Self { reason, error }
    }
}

/// The conversation domain.
pub struct Conversations {
    store: Store,
    profiles: Arc<Profiles>,
    ai: AiClient,
    settings: Settings,
    in_flight: in_flight::InFlight,
    /// Model calls running, per user.
    calls: Arc<PerUserLimit>,
    /// Replies being written, by conversation, so that they can be stopped.
    writing: writing::Writing,
    /// The models each byok user's server offers, as last listed.
    models: models::ModelCache,
}

/// A streamed answer's events, as they come.
pub type Events = mpsc::Receiver<Result<Event>>;

impl Conversations {
    /// The domain over `store`, asking the model through `ai` with each user's AI settings.
    pub fn new(store: Store, profiles: Arc<Profiles>, ai: AiClient, settings: Settings) -> Self {
        let calls = PerUserLimit::new(settings.max_calls_per_user);
        Self {
            store,
            profiles,
            ai,
            settings,
            in_flight: in_flight::InFlight::default(),
            calls,
            writing: writing::Writing::default(),
            models: models::ModelCache::default(),
        }
    }

    /// Stores `inbound` in the current conversation of its chat, asks the model and stores its
    /// reply. The answer is finished and stored even when the caller goes away meanwhile (an
    /// edge that crashed), so that the redelivery finds it instead of asking the model again.
    pub async fn converse(self: &Arc<Self>, channel: Channel, inbound: Inbound) -> Result<Answer> {
        let (answered, receiver) = oneshot::channel();
        let this = self.clone();
        tokio::spawn(async move {
            let answer = this.answer_in_chat(&channel, &inbound, None).await;
            let to_title = answer.as_ref().ok().cloned();
            let _ = answered.send(answer);
            if let Some(answer) = to_title {
                this.title(&answer).await;
            }
        });
        receiver.await.map_err(|err| Error::Internal(format!("an answer's task failed: {err}")))?
    }

    /// [`Self::converse`] with the reply streamed as it is generated. The answer is finished
    /// and stored even when the receiver goes away.
    pub fn converse_streaming(self: &Arc<Self>, channel: Channel, inbound: Inbound) -> Events {
        self.spawn_streaming(
            move |this, events| async move { this.answer_in_chat(&channel, &inbound, Some(&events)).await },
        )
    }

    /// Streams the answer to `inbound` in the user's browser conversation `conversation_id`.
    /// Another person's conversation is `NOT_FOUND`; one of another channel is answered there
    /// only.
    pub async fn converse_in(
        self: &Arc<Self>,
        user_id: &str,
        conversation_id: &str,
        inbound: Inbound,
    ) -> Result<Events> {
        let conversation = self.browser_conversation(user_id, conversation_id).await?;
        Ok(self.spawn_streaming(move |this, events| async move {
            let _turn = match &inbound.external_id {
                Some(id) => Some(this.in_flight.lock(format!("{}\n{id}", conversation.chat_id)).await),
                None => None,
            };
            this.answer_in(&conversation, &ChannelDefaults::default(), &inbound, Some(&events)).await
        }))
    }

    /// Streams a new reply to the last message of the user's browser conversation
    /// `conversation_id`, replacing the reply it had.
    pub async fn regenerate(self: &Arc<Self>, user_id: &str, conversation_id: &str) -> Result<Events> {
        let conversation = self.browser_conversation(user_id, conversation_id).await?;
        let language = self.language(user_id).await?;
        if self.writing.is_writing(&conversation.id) {
            return Err(Error::FailedPrecondition(say(&language, &Phrase::ReplyBeingWritten)));
        }
        let recent = self.store.conversation_messages(&conversation.id, None, 2).await?;
        let question = recent
            .into_iter()
            .find(|message| !message.is_reply())
            .ok_or_else(|| Error::FailedPrecondition(say(&language, &Phrase::NothingToRegenerate)))?;
        Ok(self.spawn_streaming(move |this, events| async move {
            if let Some(reply_id) = &question.reply_id {
                this.store.forget_reply(&question, reply_id).await?;
            }
            let question = MessageRecord { reply_id: None, ..question };
            let _ = events.send(Ok(Event::Question(Box::new(question.clone())))).await;
            this.reply_to(&conversation, &ChannelDefaults::default(), question, Some(&events)).await
        }))
    }

    /// Stops the reply being written in the user's conversation `conversation_id`: what arrived
    /// is stored as the reply. Whether one was being written.
    pub async fn stop(&self, user_id: &str, conversation_id: &str) -> Result<bool> {
        let conversation = self.conversation(user_id, conversation_id).await?;
        Ok(self.writing.stop(&conversation.id))
    }

    /// Runs `answer` in a task of its own with a channel for its events, which ends with the
    /// answer or its error; then titles a new conversation.
    fn spawn_streaming<F, Fut>(self: &Arc<Self>, answer: F) -> Events
    where
        F: FnOnce(Arc<Self>, mpsc::Sender<Result<Event>>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Answer>> + Send,
    {
        let (events, receiver) = mpsc::channel(64);
        let this = self.clone();
        tokio::spawn(async move {
            let answered = answer(this.clone(), events.clone()).await;
            let to_title = answered.as_ref().ok().cloned();
            let _ = events.send(answered.map(|answer| Event::Answered(Box::new(answer)))).await;
            drop(events);
            if let Some(answer) = to_title {
                this.title(&answer).await;
            }
        });
        receiver
    }

    /// Starts a new conversation in a chat: the model no longer sees the earlier messages.
    pub async fn reset(&self, channel: &Channel) -> Result<()> {
        Ok(self.store.reset_chat(&channel.user_id, channel.resource_id.as_deref(), &channel.chat_key).await?)
    }

    /// The messages of a chat's current conversation older than `before_id`, newest first.
    pub async fn messages(&self, channel: &Channel, before_id: Option<&str>, limit: i64) -> Result<Vec<MessageRecord>> {
        let resource = channel.resource_id.as_deref();
        let current = self.store.find_current_conversation(&channel.user_id, resource, &channel.chat_key).await?;
        let Some(conversation) = current else {
            return Ok(Vec::new());
        };
        Ok(self.store.conversation_messages(&conversation.id, before_id, limit).await?)
    }

    /// The user's conversation `id`; another person's is `NOT_FOUND`, like one that is not.
    pub async fn conversation(&self, user_id: &str, id: &str) -> Result<ConversationRecord> {
        self.store
            .conversation(user_id, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no conversation {id:?}; list your conversations to find its id")))
    }

    /// The user's conversation `id` if it is one of the browser: others are answered in their
    /// own channel.
    async fn browser_conversation(&self, user_id: &str, id: &str) -> Result<ConversationRecord> {
        let conversation = self.conversation(user_id, id).await?;
        if conversation.resource_id.is_some() {
            let channel = library::channel_name(&conversation);
            let told = say(&self.language(user_id).await?, &Phrase::AnswerInChannel(&channel));
            return Err(Error::FailedPrecondition(told));
        }
        Ok(conversation)
    }

    /// Answers `inbound` in the current conversation of its chat, started on its first message.
    async fn answer_in_chat(
        &self,
        channel: &Channel,
        inbound: &Inbound,
        events: Option<&mpsc::Sender<Result<Event>>>,
    ) -> Result<Answer> {
        let resource = channel.resource_id.as_deref();
        let chat = self.store.chat(&channel.user_id, resource, &channel.chat_key, now_millis()).await?;
        // A redelivery waits here for the first delivery's answer, then finds it stored.
        let _turn = match &inbound.external_id {
            Some(id) => Some(self.in_flight.lock(format!("{}\n{id}", chat.id)).await),
            None => None,
        };
        let conversation = self.store.current_conversation(&channel.user_id, &chat, now_millis()).await?;
        self.answer_in(&conversation, &channel.defaults, inbound, events).await
    }

    /// Stores `inbound` in `conversation` and answers it, unless it was answered before.
    async fn answer_in(
        &self,
        conversation: &ConversationRecord,
        defaults: &ChannelDefaults,
        inbound: &Inbound,
        events: Option<&mpsc::Sender<Result<Event>>>,
    ) -> Result<Answer> {
        let new = NewMessage {
            conversation,
            text: &inbound.text,
            external_id: inbound.external_id.as_deref(),
            sender_id: &inbound.sender_id,
            sender_name: &inbound.sender_name,
            now: now_millis(),
        };
        let question = self.store.insert_message(&new).await?;
        if let Some(events) = events {
            let _ = events.send(Ok(Event::Question(Box::new(question.clone())))).await;
        }
        if let Some(reply_id) = &question.reply_id {
            let reply = self.store.message(reply_id).await?.ok_or_else(|| Error::Internal("a lost reply".into()))?;
            return Ok(Answer { conversation: conversation.clone(), question, reply, redelivered: true });
        }
        self.reply_to(conversation, defaults, question, events).await
    }

    /// Asks the model for the reply to `question` and stores it, or records why it failed.
    async fn reply_to(
        &self,
        conversation: &ConversationRecord,
        defaults: &ChannelDefaults,
        question: MessageRecord,
        events: Option<&mpsc::Sender<Result<Event>>>,
    ) -> Result<Answer> {
        match self.ask(conversation, defaults, &question, events).await {
            Ok(reply) => {
                let question = MessageRecord { reply_id: Some(reply.id.clone()), ..question };
                let answer = Answer { conversation: conversation.clone(), question, reply, redelivered: false };
                self.title_by_words(&answer).await;
                Ok(answer)
            }
            Err(failure) => {
                let detail = match &failure.error {
                    Error::Internal(_) => "internal error; it has been logged, try again later".to_owned(),
                    other => other.to_string(),
                };
                if let Err(err) = self.store.record_failure(&question.id, failure.reason, &detail).await {
                    tracing::error!(error = %err, "a failed answer could not be recorded");
                }
                Err(failure.error)
            }
        }
    }

    /// The user's route to the model, with the model `conversation` chose, else its channel's
    /// `channel_model`, else the user's default.
    async fn route(&self, conversation: &ConversationRecord, channel_model: &str) -> Result<AiRoute> {
        let mut route = self.profiles.ai_route(&conversation.user_id).await?;
        let chosen = [conversation.model.trim(), channel_model.trim()].into_iter().find(|model| !model.is_empty());
        if let Some(model) = chosen {
            model.clone_into(&mut route.target.model);
        }
        Ok(route)
    }

    /// Asks the model for the reply to `question` and stores it.
    async fn ask(
        &self,
        conversation: &ConversationRecord,
        defaults: &ChannelDefaults,
        question: &MessageRecord,
        events: Option<&mpsc::Sender<Result<Event>>>,
    ) -> Result<MessageRecord, Failure> {
        let user_id = &conversation.user_id;
        let route = self.route(conversation, &defaults.model).await?;
        // Taken before any work for the model, and held (in this task, which outlives a caller
        // that went away) until the reply is stored or the call has failed.
        let Some(_call) = self.calls.try_acquire(user_id) else {
            let phrase = Phrase::TooManyCalls { limit: self.calls.max(), retry_in: BUSY_RETRY_AFTER };
            let message = say(&route.language_code, &phrase);
            return Err(Failure::new("TOO_MANY_AT_ONCE", Error::Busy { message, retry_after: BUSY_RETRY_AFTER }));
        };
        let history = self.store.history(&conversation.id, &question.id, HISTORY_ROWS).await?;
        let system_prompt = [conversation.instructions.trim(), defaults.system_prompt.trim()]
            .into_iter()
            .find(|prompt| !prompt.is_empty())
            .unwrap_or(&self.settings.default_system_prompt);
        let turns = memory::turns(system_prompt, &history, &question.text, self.settings.history_budget);
        let reserved = self.reserve(user_id, &route, &turns).await?;
        let replied = match events {
            None => self.ai.reply(&route.target, &turns).await.map(|reply| (reply, false)),
            Some(events) => self.stream_reply(&conversation.id, &route, &turns, events).await,
        };
        let (reply, stopped) = match replied {
            Ok(replied) => replied,
            Err(err) => {
                self.count(user_id, &route, None, &reserved).await;
                return Err(self.refusal(user_id, &route, err).await);
            }
        };
        let stored = self
            .store
            .insert_reply(&NewReply {
                question,
                conversation,
                text: &reply.text,
                prompt_tokens: i64::from(reply.prompt_tokens),
                completion_tokens: i64::from(reply.completion_tokens),
                model: &route.target.model,
                stopped,
                now: now_millis(),
            })
            .await;
        // The model was paid for whether or not its reply could be stored.
        self.count(user_id, &route, Some(&reply), &reserved).await;
        Ok(stored.map_err(Error::from)?)
    }

    /// Streams the reply to `turns` into `events` until it ends or is stopped; a stopped reply
    /// is what arrived, with its tokens estimated. Whether it was stopped.
    async fn stream_reply(
        &self,
        conversation_id: &str,
        route: &AiRoute,
        turns: &[Turn],
        events: &mpsc::Sender<Result<Event>>,
    ) -> Result<(Reply, bool), AiError> {
        let mut pen = self.writing.begin(conversation_id);
        let stopped = |text: String| Ok((Reply::estimated(text, turns), true));
        let mut pieces = tokio::select! {
            opened = self.ai.reply_stream(&route.target, turns) => opened?,
            () = pen.stopped() => return stopped(String::new()),
        };
        let mut text = String::new();
        loop {
            let piece = tokio::select! {
                piece = pieces.next() => piece,
                // Dropping the stream ends the model's call.
                () = pen.stopped() => return stopped(text),
            };
            match piece {
                Some(Ok(Piece::Delta(delta))) => {
                    text.push_str(&delta);
                    let _ = events.send(Ok(Event::Delta(delta))).await;
                }
                Some(Ok(Piece::Done(reply))) => return Ok((reply, false)),
                Some(Err(err)) => return Err(err),
                None => return Err(AiError::Unavailable("the reply stream ended early".into())),
            }
        }
    }

    /// Titles a conversation by the first words of its first answered message, at once, so
    /// that it is never listed untitled once answered.
    async fn title_by_words(&self, answer: &Answer) {
        if !answer.conversation.title_source.is_empty() || answer.redelivered {
            return;
        }
        let title = titles::from_words(&answer.question.text);
        if let Err(err) = self.store.title_conversation(&answer.conversation.id, &title, TITLE_FROM_WORDS).await {
            tracing::warn!(error = %err, "a conversation could not be titled");
        }
    }

    /// Titles a conversation by the model after its first exchange, where the operator allows
    /// it: the model's title replaces the first words.
    async fn title(&self, answer: &Answer) {
        if !self.settings.model_titles || !answer.conversation.title_source.is_empty() || answer.redelivered {
            return;
        }
        let Some(title) = self.title_by_model(answer).await else {
            return;
        };
        if let Err(err) = self.store.title_conversation(&answer.conversation.id, &title, TITLE_BY_MODEL).await {
            tracing::warn!(error = %err, "a conversation could not be titled");
        }
    }

    /// A title the model suggests for an exchange, paid like a reply; `None` when it cannot.
    async fn title_by_model(&self, answer: &Answer) -> Option<String> {
        let conversation = &answer.conversation;
        let route = self.route(conversation, "").await.ok()?;
        let _call = self.calls.try_acquire(&conversation.user_id)?;
        let turns = titles::prompt(&route.language_code, &answer.question.text, &answer.reply.text);
        let reserved = self.reserve(&conversation.user_id, &route, &turns).await.ok()?;
        let replied = self.ai.reply(&route.target, &turns).await;
        self.count(&conversation.user_id, &route, replied.as_ref().ok(), &reserved).await;
        match replied {
            Ok(reply) => titles::clean(&reply.text),
            Err(err) => {
                tracing::info!(error = ?err, "the model gave no title; the first words title the conversation");
                None
            }
        }
    }

    /// A user's usage of the last `days` UTC days, today first, with empty days filled in.
    pub async fn usage(&self, user_id: &str, days: u32) -> Result<Vec<UsageRecord>> {
        let today = OffsetDateTime::now_utc().date();
        let count = i64::from(days.max(1));
        let stored = self.store.usage_since(user_id, &day_name(today - time::Duration::days(count - 1))).await?;
        let filled = (0..count)
            .map(|back| {
                let day = day_name(today - time::Duration::days(back));
                let record = stored.iter().find(|record| record.day == day).cloned();
                record.unwrap_or(UsageRecord { day, ..Default::default() })
            })
            .collect();
        Ok(filled)
    }

    /// The daily quota in tokens (0: none), and when today's count starts again.
    pub fn daily_quota(&self) -> (u64, OffsetDateTime) {
        (self.settings.daily_quota, next_midnight())
    }

    /// Whether a user in managed mode has spent today's quota (the tokens spent; reservations of
    /// calls still running are not counted here, as they are settled within seconds).
    pub async fn quota_spent(&self, user_id: &str) -> Result<bool> {
        if self.settings.daily_quota == 0 {
            return Ok(false);
        }
        let spent = self.store.managed_tokens(user_id, &today()).await?;
        Ok(u64::try_from(spent).unwrap_or_default() >= self.settings.daily_quota)
    }

    /// Why the user's assistant cannot answer now, in their language, with what to do; `None`
    /// when it can.
    pub async fn ai_warning(&self, user_id: &str) -> Result<Option<String>> {
        let route = match self.profiles.ai_route(user_id).await {
            Ok(route) => route,
            Err(Error::FailedPrecondition(warning)) => return Ok(Some(warning)),
            Err(err) => return Err(err),
        };
        if route.mode == AiMode::Managed && self.quota_spent(user_id).await? {
            return Ok(Some(say(&route.language_code, &self.quota_phrase())));
        }
        Ok(None)
    }

    /// The user's interface language, for what core tells them.
    pub async fn language(&self, user_id: &str) -> Result<String> {
        Ok(self.profiles.get(user_id).await?.language_code)
    }

    /// The user's AI mode now.
    pub async fn ai_mode(&self, user_id: &str) -> Result<Option<AiMode>> {
        Ok(AiMode::from_stored(&self.profiles.get(user_id).await?.ai_mode))
    }

    fn quota_phrase(&self) -> Phrase<'static> {
        let resets_in = (next_midnight() - OffsetDateTime::now_utc()).try_into().unwrap_or(Duration::ZERO);
        Phrase::DailyQuotaSpent { quota: self.settings.daily_quota, resets_in }
    }

    /// Reserves the estimated cost of asking the model `turns` of the user's daily quota, in
    /// managed mode with a quota; `DAILY_QUOTA_SPENT` when the tokens spent and reserved today
    /// reach it.
    async fn reserve(&self, user_id: &str, route: &AiRoute, turns: &[Turn]) -> Result<Reservation, Failure> {
        if route.mode != AiMode::Managed || self.settings.daily_quota == 0 {
            return Ok(Reservation::default());
        }
        let tokens = reservation_tokens(turns, self.ai.max_reply_tokens());
        let day = today();
        let quota = i64::try_from(self.settings.daily_quota).unwrap_or(i64::MAX);
        if !self.store.reserve_tokens(user_id, &day, tokens, quota).await? {
            let told = say(&route.language_code, &self.quota_phrase());
            return Err(Failure::new("DAILY_QUOTA_SPENT", Error::QuotaSpent(told)));
        }
        Ok(Reservation { day: Some(day), tokens })
    }

    /// Adds one request to the user's usage and releases what it reserved, in one statement;
    /// `reply` is `None` for a failed one. The usage counts on the day of its reservation, so
    /// that a call running over midnight releases what it took.
    async fn count(&self, user_id: &str, route: &AiRoute, reply: Option<&Reply>, reserved: &Reservation) {
        let (prompt, completion) =
            reply.map_or((0, 0), |reply| (i64::from(reply.prompt_tokens), i64::from(reply.completion_tokens)));
        let usage = UsageRecord {
            day: reserved.day.clone().unwrap_or_else(today),
            prompt_tokens: prompt,
            completion_tokens: completion,
            managed_tokens: if route.mode == AiMode::Managed { prompt + completion } else { 0 },
            request_count: 1,
            estimated: i64::from(reply.is_some_and(|reply| reply.estimated)),
        };
        if let Err(err) = self.store.add_usage(user_id, &usage, reserved.tokens).await {
            tracing::error!(error = %err, user_id, "usage could not be counted");
        }
    }

    /// What the person is told when the model gave no reply.
    async fn refusal(&self, user_id: &str, route: &AiRoute, err: AiError) -> Failure {
        let own = route.mode == AiMode::Byok;
        let tell = |phrase: &Phrase<'_>| say(&route.language_code, phrase);
        match err {
            AiError::KeyRejected(detail) => {
                if own {
                    if let Err(err) = self.profiles.reject_openai_key(user_id).await {
                        tracing::error!(error = %err, "a rejected key could not be marked");
                    }
                    Failure::new("KEY_REJECTED", Error::FailedPrecondition(tell(&Phrase::OwnKeyRejected)))
                } else {
                    tracing::error!(%detail, "the model's server rejected the platform's key (OPENAI_API_KEY)");
                    Failure::new("KEY_REJECTED", Error::FailedPrecondition(tell(&Phrase::PlatformKeyRejected)))
                }
            }
            AiError::QuotaSpent(detail) => {
                tracing::warn!(%detail, own, "the key's quota is spent");
                let phrase = if own { Phrase::OwnQuotaSpent } else { Phrase::PlatformQuotaSpent };
                Failure::new("KEY_QUOTA_SPENT", Error::QuotaSpent(tell(&phrase)))
            }
            AiError::Refused(detail) => {
                Failure::new("MODEL_REFUSED", Error::FailedPrecondition(tell(&Phrase::ModelRefused(&detail))))
            }
            AiError::Unavailable(detail) => {
                tracing::warn!(%detail, "no reply from the model");
                Failure::new("MODEL_UNAVAILABLE", Error::Unavailable(tell(&Phrase::ModelUnavailable)))
            }
            AiError::Blocked(refusal) => {
                tracing::warn!(%refusal, user_id, "the user's model server is inside the server's network; not asked");
                Failure::new("ADDRESS_REFUSED", Error::FailedPrecondition(tell(&refusal.phrase())))
            }
        }
    }
}

/// What a call reserved of its user's daily quota: nothing, or `tokens` on `day`.
#[derive(Clone, Debug, Default)]
struct Reservation {
    /// The day reserved on; `None` when nothing was reserved.
    day: Option<String>,
    /// The tokens reserved.
    tokens: i64,
}

/// The longest id a browser client may give its message.
const MAX_CLIENT_ID_CHARS: usize = 100;

/// A browser message from its request fields, checked.
pub fn browser_inbound(user_id: &str, text: String, client_message_id: String) -> Result<Inbound> {
    message_text("text", &text)?;
    if client_message_id.chars().count() > MAX_CLIENT_ID_CHARS {
        return Err(Error::invalid(
            "client_message_id",
            format!("at most {MAX_CLIENT_ID_CHARS} characters; send a UUID or leave it empty"),
        ));
    }
    let external_id = Some(client_message_id).filter(|id| !id.is_empty());
    Ok(Inbound { text, external_id, sender_id: user_id.to_owned(), sender_name: String::new() })
}

/// A person's message: required, at most [`MAX_MESSAGE_CHARS`] characters.
pub fn message_text(field: &'static str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::invalid(field, "the message is empty; write something to the assistant"));
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Error::invalid(
            field,
            format!("the message is longer than {MAX_MESSAGE_CHARS} characters; split it into shorter ones"),
        ));
    }
    Ok(())
}

/// The longest message a person may send.
pub const MAX_MESSAGE_CHARS: usize = 32768;

/// A UTC day as stored: "YYYY-MM-DD".
fn day_name(date: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

fn today() -> String {
    day_name(OffsetDateTime::now_utc().date())
}

/// The next midnight UTC, when daily counts start again.
fn next_midnight() -> OffsetDateTime {
    let tomorrow = OffsetDateTime::now_utc().date().next_day().unwrap_or(time::Date::MAX);
    tomorrow.midnight().assume_utc()
}

/// The tokens reserved for asking the model `turns`, its reply capped at `max_reply_tokens`: the
/// most the prompt can cost (see [`most_tokens`]), each turn's overhead, and the whole cap. No call
/// then spends more than it reserved, whatever the language, so that a burst of messages ends at
/// most one reservation above the quota. What is reserved beyond the real cost is released when
/// the call settles, and only holds back calls made at the same time.
fn reservation_tokens(turns: &[Turn], max_reply_tokens: u32) -> i64 {
    let prompt: i64 =
        turns.iter().map(|turn| i64::from(most_tokens(&turn.text)) + i64::from(TURN_OVERHEAD_TOKENS)).sum();
    prompt + i64::from(max_reply_tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::{Role, estimate_tokens};

    #[test]
    fn a_reservation_covers_what_chinese_or_japanese_text_can_cost() {
        // A question of about a thousand characters of Chinese and Japanese costs about as many
        // tokens, some characters two or three: four characters a token would reserve a quarter.
        let question = "请把这段话翻译成日本語。".repeat(84);
        let characters = i64::try_from(question.chars().count()).unwrap();
        let turns =
            [Turn { role: Role::System, text: "Be brief.".into() }, Turn { role: Role::User, text: question.clone() }];
        let reserved = reservation_tokens(&turns, 500);
        assert!(reserved >= 3 * characters + 500, "{reserved} for {characters} characters");
        assert!(i64::from(estimate_tokens(&question)) < characters / 2);
        // English reserves no less than the usual estimate of it, its overhead and the cap.
        let english = [Turn { role: Role::User, text: "hello there".into() }];
        let usual = i64::from(estimate_tokens("hello there") + TURN_OVERHEAD_TOKENS) + 500;
        assert_eq!(reservation_tokens(&english, 500), 11 + 4 + 500);
        assert!(reservation_tokens(&english, 500) >= usual);
    }
}
