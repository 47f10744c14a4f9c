//! A fake of the Telegram Bot API: `POST /bot<TOKEN>/<method>` (or `GET`), with parameters as
//! JSON, a form, multipart (which teloxide sends for methods that can upload a file, `setWebhook`
//! among them) or in the query, answered with `{"ok":true,"result":...}` or
//! `{"ok":false,"error_code":N,"description":"..."}` as Telegram answers. Method names are
//! matched in any case, as Telegram matches them (teloxide sends `GetMe`).
//!
//! It plays `getMe`, `getUpdates` (long polling, offsets, redelivery of unconfirmed updates,
//! `allowed_updates`), `sendMessage`, `sendChatAction`, `setWebhook`, `deleteWebhook`,
//! `getWebhookInfo`, `setMyCommands` and `deleteMyCommands`; other methods answer 404
//! `Not Found`, as Telegram answers unknown ones. Tests play the users: they inject updates, read
//! what the bot sent, and script failures.
//!
//! `sendMessage` with `parse_mode=HTML` is parsed as strictly as Telegram parses it (see
//! [`html`]): markup Telegram would refuse is answered 400 `Bad Request: can't parse entities:
//! ...`, and the message is recorded with its plain text and entities. Other parse modes are
//! recorded as sent, without entities. The limit of [`MAX_TEXT_UTF16`] is checked on the text
//! after parsing, in UTF-16 code units, as Telegram checks it.
//!
//! The fake does not deliver updates to a webhook: it only keeps what `setWebhook` set, and
//! refuses `getUpdates` meanwhile, as Telegram does.
//!
//! ```no_run
//! # async fn example() {
//! use std::time::Duration;
//! use assistchat_fakes::telegram::{FakeTelegram, Failure};
//!
//! const TOKEN: &str = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11";
//! let fake = FakeTelegram::start().await;
//! fake.add_bot(TOKEN, "assist_bot");
//! fake.fail_next(TOKEN, "getUpdates", Failure::TooManyRequests { retry_after_secs: 1 });
//! fake.send_text(TOKEN, 42, 42, "alice", "hello");
//! let api_url = fake.api_url(); // give this and TOKEN to the bot under test
//! let replies = fake.wait_for_sent(TOKEN, 1, Duration::from_secs(5)).await;
//! # }
//! ```

pub mod html;
mod wire;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Extension, Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::any;
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::server::{Hangup, Server};

/// The longest text `sendMessage` takes, in UTF-16 code units of the text after its markup is
/// parsed; longer is refused with `Bad Request: message is too long`.
pub const MAX_TEXT_UTF16: usize = 4096;

/// What the fake answers a formatted message it was told to refuse with
/// [`FakeTelegram::refuse_formatting_once`]: Telegram's words for markup it cannot read.
pub const REFUSED_FORMATTING: &str =
    "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"";

/// The most updates one `getUpdates` returns, and what it returns without a `limit`.
pub const MAX_UPDATES_PER_CALL: usize = 100;

/// The id of a bot's first update; later ones count up from it. Not 0 or 1, so a client that
/// assumes where ids start shows it.
pub const FIRST_UPDATE_ID: i64 = 700_000_001;

/// The update kinds sent when a client never chose any or chose an empty list: all but these,
/// which Telegram sends only on request.
const OPT_IN_KINDS: [&str; 3] = ["chat_member", "message_reaction", "message_reaction_count"];

/// How a call fails, played by [`FakeTelegram::fail_next`] or [`FakeTelegram::fail_always`].
/// Each is what Telegram sends in that case, so clients parse it as the real thing; teloxide
/// reads each as noted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after`: teloxide's
    /// `RequestError::RetryAfter`.
    TooManyRequests {
        /// The seconds the client is told to wait.
        retry_after_secs: u32,
    },
    /// 409 `Conflict: terminated by other getUpdates request; ...`: teloxide's
    /// `ApiError::TerminatedByOtherGetUpdates`.
    Conflict,
    /// 500 `Internal Server Error` in Telegram's JSON. teloxide waits 10 seconds after any 5xx
    /// before it reads the body, then returns `ApiError::Unknown`.
    ServerError,
    /// 502 as the proxy in front of the Bot API sends it: an HTML page, not JSON. teloxide
    /// returns `RequestError::InvalidJson` (after its 10-second wait).
    BadGateway,
    /// 401 `Unauthorized`: teloxide's `ApiError::InvalidToken`.
    Unauthorized,
    /// 400 with this description, which should start `Bad Request: ` as Telegram's do, e.g.
    /// `Bad Request: chat not found`.
    BadRequest(String),
    /// 403 with this description, e.g. `Forbidden: bot was blocked by the user`.
    Forbidden(String),
    /// Closes the connection without an answer: a network error to the client.
    Hangup,
}

/// One request as the fake received it.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// The method as the path named it, e.g. `getUpdates`.
    pub method: String,
    /// The token from the path, whether or not the fake knows it.
    pub token: String,
    /// The parameters as a JSON object, merged from the query and the body; values sent in a form
    /// or the query are strings, as sent.
    pub body: Value,
}

/// A message the bot sent with `sendMessage`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentMessage {
    /// The chat it went to.
    pub chat_id: i64,
    /// The id the fake gave it in that chat.
    pub message_id: i64,
    /// Its text, as sent (markup included).
    pub text: String,
    /// Its text as Telegram shows it: with `parse_mode=HTML` the markup parsed away and the
    /// entities decoded, else as sent.
    pub plain_text: String,
    /// The formatting Telegram read from the markup, in UTF-16 offsets and lengths.
    pub entities: Vec<html::Entity>,
    /// The message it replies to, from `reply_parameters` or `reply_to_message_id`.
    pub reply_to: Option<i64>,
    /// The `parse_mode` asked for, e.g. `MarkdownV2`.
    pub parse_mode: Option<String>,
}

/// A chat action the bot sent with `sendChatAction`, failed ones included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatAction {
    /// The chat it went to.
    pub chat_id: i64,
    /// The action, e.g. `typing`.
    pub action: String,
}

/// The webhook a bot set with `setWebhook`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    /// Where Telegram would send updates.
    pub url: String,
    /// What Telegram would send in `X-Telegram-Bot-Api-Secret-Token`.
    pub secret_token: Option<String>,
}

/// A group message for [`FakeTelegram::send_group_text`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupText<'a> {
    /// The group's id, negative as Telegram's are.
    pub chat_id: i64,
    /// The group's title.
    pub title: &'a str,
    /// The sender's user id.
    pub from_user_id: i64,
    /// The sender's username, also used as their first name.
    pub from_username: &'a str,
    /// The text; `@mentions` and `/commands` in it get entities as Telegram gives them.
    pub text: &'a str,
    /// The message in this group it replies to, embedded as `reply_to_message`. It must be one
    /// the fake knows: injected earlier or sent by the bot.
    pub reply_to: Option<i64>,
}

/// A fake Telegram Bot API on `127.0.0.1`, served by a background task until dropped. Every
/// method takes `&self`, so tests can share the fake while the code under test calls it.
///
/// Test-side methods that take a token panic when the token was not added with
/// [`FakeTelegram::add_bot`]: that is a mistake in the test.
pub struct FakeTelegram {
    /// The server; dropping it stops serving.
    server: Server,
    /// What the handlers and the test share.
    state: Shared,
}

impl FakeTelegram {
    /// Starts a fake on a free loopback port that knows no bot yet: every token is refused until
    /// added with [`FakeTelegram::add_bot`].
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> Self {
        let state = Shared::default();
        let router = Router::new().route("/{bot}/{method}", any(call)).fallback(not_found).with_state(state.clone());
        FakeTelegram { server: Server::start(router).await, state }
    }

    /// The API base, e.g. `http://127.0.0.1:PORT`: what teloxide's `Bot::with_api_url` takes.
    /// Calls go to `{api_url}/bot{TOKEN}/{method}`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Makes a bot known by its token, `<digits>:<secret>` as Telegram's are; the digits are the
    /// bot's user id, which this returns. Adding a token again keeps the bot as it is.
    ///
    /// # Panics
    /// If the token does not start with digits and a colon.
    pub fn add_bot(&self, token: &str, username: &str) -> i64 {
        let id = token
            .split_once(':')
            .and_then(|(digits, _)| digits.parse::<i64>().ok())
            .unwrap_or_else(|| panic!("a bot token looks like 123456:ABC..., not {token:?}"));
        self.state.lock().bots.entry(token.to_owned()).or_insert_with(|| Bot::new(id, username));
        id
    }

    /// Revokes a token, as BotFather does: every call with it answers 401 `Unauthorized` from now
    /// on, long polls under way included.
    pub fn revoke(&self, token: &str) {
        self.state.with_bot(token, |bot| {
            bot.revoked = true;
            bot.changed();
        });
    }

    /// Injects a text message in a private chat, as a `message` update; returns its update id.
    pub fn send_text(&self, token: &str, chat_id: i64, from_user_id: i64, from_username: &str, text: &str) -> i64 {
        self.state.with_bot(token, |bot| {
            let chat = wire::private_chat(chat_id, from_username);
            let mut message = bot.incoming(chat, wire::person(from_user_id, from_username));
            wire::add_text(&mut message, text);
            bot.push_message(message)
        })
    }

    /// Injects a text message in a basic group, as a `message` update; returns its update id.
    ///
    /// # Panics
    /// If `reply_to` names a message the fake does not know.
    pub fn send_group_text(&self, token: &str, group: GroupText<'_>) -> i64 {
        self.state.with_bot(token, |bot| {
            let chat = wire::group_chat(group.chat_id, group.title);
            let mut message = bot.incoming(chat, wire::person(group.from_user_id, group.from_username));
            wire::add_text(&mut message, group.text);
            if let Some(reply_to) = group.reply_to {
                let replied = bot.messages.get(&(group.chat_id, reply_to));
                let replied = replied.unwrap_or_else(|| panic!("no message {reply_to} in chat {}", group.chat_id));
                message["reply_to_message"] = replied.clone();
            }
            bot.push_message(message)
        })
    }

    /// Injects a photo in a private chat, with a caption or none and no text, as a `message`
    /// update; returns its update id.
    pub fn send_photo(
        &self,
        token: &str,
        chat_id: i64,
        from_user_id: i64,
        from_username: &str,
        caption: Option<&str>,
    ) -> i64 {
        self.state.with_bot(token, |bot| {
            let chat = wire::private_chat(chat_id, from_username);
            let mut message = bot.incoming(chat, wire::person(from_user_id, from_username));
            message["photo"] = wire::photo_sizes(bot.next_update_id);
            if let Some(caption) = caption {
                message["caption"] = json!(caption);
            }
            bot.push_message(message)
        })
    }

    /// Injects any update: `kind` is its field (e.g. `edited_message`, `callback_query`) and
    /// `object` its value; the fake adds the `update_id` and returns it.
    pub fn send_update(&self, token: &str, kind: &str, object: Value) -> i64 {
        self.state.with_bot(token, |bot| bot.push_update(kind, object))
    }

    /// The updates the bot has not confirmed yet, oldest first.
    pub fn pending_updates(&self, token: &str) -> Vec<Value> {
        self.state.with_bot(token, |bot| bot.updates.iter().cloned().collect())
    }

    /// Every message the bot sent, in order.
    pub fn sent(&self, token: &str) -> Vec<SentMessage> {
        self.state.with_bot(token, |bot| bot.sent.clone())
    }

    /// Waits until the bot has sent at least `count` messages or `timeout` has passed, then
    /// returns every message it sent; fewer than `count` means it timed out.
    pub async fn wait_for_sent(&self, token: &str, count: usize, timeout: Duration) -> Vec<SentMessage> {
        let deadline = Instant::now() + timeout;
        let mut changes = self.state.with_bot(token, |bot| bot.watch.subscribe());
        loop {
            let sent = self.state.with_bot(token, |bot| {
                // Marked seen under the lock, so a change made after this check wakes the wait.
                changes.borrow_and_update();
                bot.sent.clone()
            });
            if sent.len() >= count || tokio::time::timeout_at(deadline, changes.changed()).await.is_err() {
                return sent;
            }
        }
    }

    /// Every chat action the bot sent, in order, failed ones included.
    pub fn chat_actions(&self, token: &str) -> Vec<ChatAction> {
        self.state.with_bot(token, |bot| bot.chat_actions.clone())
    }

    /// How many chat actions the bot sent to this chat, failed ones included.
    pub fn chat_action_count(&self, token: &str, chat_id: i64) -> usize {
        self.state.with_bot(token, |bot| bot.chat_actions.iter().filter(|action| action.chat_id == chat_id).count())
    }

    /// Makes the next call of `method` (e.g. `getUpdates`, in any case) with this token fail;
    /// queued failures play one per call, in order, before any set by
    /// [`FakeTelegram::fail_always`].
    pub fn fail_next(&self, token: &str, method: &str, failure: Failure) {
        self.state.with_bot(token, |bot| bot.once.entry(method.to_ascii_lowercase()).or_default().push_back(failure));
    }

    /// Makes every call of `method` with this token fail until [`FakeTelegram::stop_failing`].
    pub fn fail_always(&self, token: &str, method: &str, failure: Failure) {
        self.state.with_bot(token, |bot| bot.always.insert(method.to_ascii_lowercase(), failure));
    }

    /// Makes the bot's next `sendMessage` that asks for a `parse_mode` fail as markup Telegram
    /// cannot parse does: 400 [`REFUSED_FORMATTING`]. Messages without a `parse_mode` are taken
    /// meanwhile; each call refuses one more.
    pub fn refuse_formatting_once(&self, token: &str) {
        self.state.with_bot(token, |bot| bot.refuse_formatting += 1);
    }

    /// Undoes [`FakeTelegram::fail_always`] and drops the failures still queued for `method`.
    pub fn stop_failing(&self, token: &str, method: &str) {
        let method = method.to_ascii_lowercase();
        self.state.with_bot(token, |bot| {
            bot.always.remove(&method);
            bot.once.remove(&method);
        });
    }

    /// The webhook the bot set, if any.
    pub fn webhook(&self, token: &str) -> Option<Webhook> {
        self.state.with_bot(token, |bot| bot.webhook.clone())
    }

    /// Makes `getWebhookInfo` report a failed delivery, now, with this message (e.g.
    /// `Wrong response from the webhook: 502 Bad Gateway`).
    pub fn set_webhook_error(&self, token: &str, message: &str) {
        self.state.with_bot(token, |bot| bot.webhook_error = Some((now(), message.to_owned())));
    }

    /// Every request the fake received, in order, refused ones included.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().requests.clone()
    }

    /// The requests for one method (in any case), in order, refused ones included.
    pub fn calls(&self, method: &str) -> Vec<Recorded> {
        let requests = self.state.lock().requests.clone();
        requests.into_iter().filter(|request| request.method.eq_ignore_ascii_case(method)).collect()
    }
}

/// The state behind a lock the handlers never hold across an await.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Inner>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock left nothing half-written worth refusing.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on a known bot, for the test-side methods.
    fn with_bot<T>(&self, token: &str, f: impl FnOnce(&mut Bot) -> T) -> T {
        let mut inner = self.lock();
        let bot = inner.bots.get_mut(token).unwrap_or_else(|| panic!("no bot with token {token:?}: add_bot it first"));
        f(bot)
    }
}

#[derive(Default)]
struct Inner {
    /// The known bots by token.
    bots: HashMap<String, Bot>,
    /// Every request received.
    requests: Vec<Recorded>,
}

/// One bot's side of Telegram.
struct Bot {
    /// Its user id, from its token.
    id: i64,
    /// Its username.
    username: String,
    /// Whether its token was revoked.
    revoked: bool,
    /// The id the next update gets.
    next_update_id: i64,
    /// Updates not yet confirmed, oldest first.
    updates: VecDeque<Value>,
    /// The update kinds the client chose; `None` for the default.
    allowed_updates: Option<Vec<String>>,
    /// Counts `getUpdates` calls: a waiting call that sees a later one ends with a conflict.
    polls: u64,
    /// The webhook set, if any.
    webhook: Option<Webhook>,
    /// When and why the last webhook delivery failed, as the test set it.
    webhook_error: Option<(u64, String)>,
    /// Every message in its chats, by chat and message id, as the API shows it.
    messages: HashMap<(i64, i64), Value>,
    /// The last message id used in each chat.
    last_message_ids: HashMap<i64, i64>,
    /// The chats seen in updates, by id, as the API shows them.
    chats: HashMap<i64, Value>,
    /// What it sent with `sendMessage`.
    sent: Vec<SentMessage>,
    /// What it sent with `sendChatAction`.
    chat_actions: Vec<ChatAction>,
    /// Failures to play once each, by lowercase method.
    once: HashMap<String, VecDeque<Failure>>,
    /// Failures to play on every call, by lowercase method.
    always: HashMap<String, Failure>,
    /// How many formatted messages to refuse as unparsable, whatever their markup.
    refuse_formatting: usize,
    /// Bumped after every change a waiter may wait for.
    watch: watch::Sender<()>,
}

impl Bot {
    fn new(id: i64, username: &str) -> Self {
        Bot {
            id,
            username: username.to_owned(),
            revoked: false,
            next_update_id: FIRST_UPDATE_ID,
            updates: VecDeque::new(),
            allowed_updates: None,
            polls: 0,
            webhook: None,
            webhook_error: None,
            messages: HashMap::new(),
            last_message_ids: HashMap::new(),
            chats: HashMap::new(),
            sent: Vec::new(),
            chat_actions: Vec::new(),
            once: HashMap::new(),
            always: HashMap::new(),
            refuse_formatting: 0,
            watch: watch::Sender::new(()),
        }
    }

    /// Wakes every waiter; called with the lock held, after the change.
    fn changed(&self) {
        self.watch.send_replace(());
    }

    fn next_message_id(&mut self, chat_id: i64) -> i64 {
        let last = self.last_message_ids.entry(chat_id).or_insert(0);
        *last += 1;
        *last
    }

    /// A new message from someone to the bot, without content yet.
    fn incoming(&mut self, chat: Value, from: Value) -> Value {
        let chat_id = chat["id"].as_i64().unwrap_or_default();
        self.chats.insert(chat_id, chat.clone());
        let message_id = self.next_message_id(chat_id);
        wire::message(message_id, from, chat, now())
    }

    fn push_message(&mut self, message: Value) -> i64 {
        let key =
            (message["chat"]["id"].as_i64().unwrap_or_default(), message["message_id"].as_i64().unwrap_or_default());
        self.messages.insert(key, message.clone());
        self.push_update("message", message)
    }

    fn push_update(&mut self, kind: &str, object: Value) -> i64 {
        let update_id = self.next_update_id;
        self.next_update_id += 1;
        let mut update = Map::new();
        update.insert("update_id".to_owned(), json!(update_id));
        update.insert(kind.to_owned(), object);
        self.updates.push_back(Value::Object(update));
        self.changed();
        update_id
    }

    /// Whether the client takes updates of this kind.
    fn allows(&self, kind: &str) -> bool {
        match &self.allowed_updates {
            Some(kinds) => kinds.iter().any(|allowed| allowed == kind),
            None => !OPT_IN_KINDS.contains(&kind),
        }
    }

    /// The updates a `getUpdates` returns now. Updates of kinds the client does not take are
    /// forgotten, as Telegram never queues them.
    fn deliverable(&mut self, limit: usize) -> Vec<Value> {
        let updates = std::mem::take(&mut self.updates);
        self.updates = updates
            .into_iter()
            .filter(|update| wire::update_kind(update).is_some_and(|kind| self.allows(kind)))
            .collect();
        self.updates.iter().take(limit).cloned().collect()
    }

    /// Confirms updates as `offset` says: below a positive offset they are forgotten; a negative
    /// one keeps only that many of the newest.
    fn confirm(&mut self, offset: i64) {
        if offset > 0 {
            while self.updates.front().is_some_and(|update| update["update_id"].as_i64() < Some(offset)) {
                self.updates.pop_front();
            }
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            let drop = self.updates.len().saturating_sub(keep);
            self.updates.drain(..drop);
        }
    }

    fn chat(&self, chat_id: i64) -> Value {
        self.chats.get(&chat_id).cloned().unwrap_or_else(|| wire::unknown_chat(chat_id))
    }
}

/// Every call: record it, check the token, play a scripted failure, then do the method.
async fn call(
    State(state): State<Shared>,
    Extension(hangup): Extension<Hangup>,
    Path((bot, method)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let params = wire::read_params(query.as_deref(), request).await;
    let Some(token) = bot.strip_prefix("bot") else { return not_found().await };
    let name = method.to_ascii_lowercase();
    let failure = {
        let mut inner = state.lock();
        inner.requests.push(Recorded {
            method: method.clone(),
            token: token.to_owned(),
            body: Value::Object(params.clone()),
        });
        let Some(bot) = inner.bots.get_mut(token).filter(|bot| !bot.revoked) else { return unauthorized() };
        let failure = bot.once.get_mut(&name).and_then(VecDeque::pop_front).or_else(|| bot.always.get(&name).cloned());
        if failure.is_none() && name != "getupdates" {
            return answer(bot, &name, &params);
        }
        failure
    };
    match failure {
        None => get_updates(&state, token, &params).await,
        Some(Failure::Hangup) => hangup.hang_up().await,
        Some(failure) => fail(failure),
    }
}

/// The methods answered at once.
fn answer(bot: &mut Bot, method: &str, params: &Map<String, Value>) -> Response {
    match method {
        "getme" => wire::ok(wire::me(bot.id, &bot.username), None),
        "sendmessage" => send_message(bot, params),
        "sendchataction" => send_chat_action(bot, params),
        "setwebhook" => set_webhook(bot, params),
        "deletewebhook" => delete_webhook(bot, params),
        "getwebhookinfo" => webhook_info(bot),
        "setmycommands" | "deletemycommands" => wire::ok(json!(true), None),
        _ => wire::error(StatusCode::NOT_FOUND, "Not Found", None),
    }
}

/// `getUpdates`: confirms by `offset`, then answers with what is pending or, when nothing is and
/// `timeout` is positive, waits that many seconds for an update to arrive.
async fn get_updates(state: &Shared, token: &str, params: &Map<String, Value>) -> Response {
    let limit = wire::int(params, "limit")
        .and_then(|limit| usize::try_from(limit).ok())
        .filter(|limit| *limit > 0)
        .map_or(MAX_UPDATES_PER_CALL, |limit| limit.min(MAX_UPDATES_PER_CALL));
    let timeout = Duration::from_secs(wire::int(params, "timeout").unwrap_or(0).max(0).unsigned_abs());
    let deadline = Instant::now() + timeout;
    let (poll, mut changes) = {
        let mut inner = state.lock();
        let Some(bot) = inner.bots.get_mut(token) else { return unauthorized() };
        if bot.webhook.is_some() {
            return webhook_conflict();
        }
        if let Some(offset) = wire::int(params, "offset") {
            bot.confirm(offset);
        }
        if let Some(Value::Array(kinds)) = wire::structured(params, "allowed_updates") {
            let kinds: Vec<String> = kinds.iter().filter_map(|kind| kind.as_str().map(str::to_owned)).collect();
            bot.allowed_updates = if kinds.is_empty() { None } else { Some(kinds) };
        }
        bot.polls += 1;
        // Ends a long poll under way: Telegram answers the older one with a conflict.
        bot.changed();
        let updates = bot.deliverable(limit);
        if !updates.is_empty() || timeout.is_zero() {
            return wire::ok(Value::Array(updates), None);
        }
        (bot.polls, bot.watch.subscribe())
    };
    loop {
        let timed_out = tokio::time::timeout_at(deadline, changes.changed()).await.is_err();
        let mut inner = state.lock();
        let Some(bot) = inner.bots.get_mut(token).filter(|bot| !bot.revoked) else { return unauthorized() };
        if bot.polls != poll {
            return fail(Failure::Conflict);
        }
        if bot.webhook.is_some() {
            return webhook_conflict();
        }
        changes.borrow_and_update();
        let updates = bot.deliverable(limit);
        if !updates.is_empty() || timed_out {
            return wire::ok(Value::Array(updates), None);
        }
    }
}

fn send_message(bot: &mut Bot, params: &Map<String, Value>) -> Response {
    let chat_id = match chat_id(params) {
        Ok(chat_id) => chat_id,
        Err(refusal) => return bad_request(refusal),
    };
    let text = wire::string(params, "text").unwrap_or_default();
    if text.is_empty() {
        return bad_request("Bad Request: message text is empty");
    }
    let parse_mode = wire::string(params, "parse_mode");
    if parse_mode.is_some() && bot.refuse_formatting > 0 {
        bot.refuse_formatting -= 1;
        return bad_request(REFUSED_FORMATTING);
    }
    let parsed = match parse_mode.as_deref() {
        Some(mode) if mode.eq_ignore_ascii_case("html") => match html::parse(&text) {
            Ok(parsed) => parsed,
            Err(reason) => return bad_request(&format!("Bad Request: can't parse entities: {reason}")),
        },
        _ => html::Parsed { text: text.clone(), entities: Vec::new() },
    };
    if parsed.text.is_empty() {
        return bad_request("Bad Request: message text is empty");
    }
    if parsed.text.encode_utf16().count() > MAX_TEXT_UTF16 {
        return bad_request("Bad Request: message is too long");
    }
    let reply_to = wire::structured(params, "reply_parameters")
        .and_then(|reply| reply["message_id"].as_i64())
        .or_else(|| wire::int(params, "reply_to_message_id"));

    let message_id = bot.next_message_id(chat_id);
    let mut message = wire::message(message_id, wire::bot(bot.id, &bot.username), bot.chat(chat_id), now());
    message["text"] = json!(parsed.text);
    if !parsed.entities.is_empty() {
        message["entities"] = parsed.entities.iter().map(html::Entity::to_json).collect();
    }
    if let Some(replied) = reply_to.and_then(|reply_to| bot.messages.get(&(chat_id, reply_to))) {
        let mut replied = replied.clone();
        // Telegram nests one level only.
        replied.as_object_mut().map(|replied| replied.remove("reply_to_message"));
        message["reply_to_message"] = replied;
    }
    bot.messages.insert((chat_id, message_id), message.clone());
    let (plain_text, entities) = (parsed.text, parsed.entities);
    bot.sent.push(SentMessage { chat_id, message_id, text, plain_text, entities, reply_to, parse_mode });
    bot.changed();
    wire::ok(message, None)
}

fn send_chat_action(bot: &mut Bot, params: &Map<String, Value>) -> Response {
    let chat_id = match chat_id(params) {
        Ok(chat_id) => chat_id,
        Err(refusal) => return bad_request(refusal),
    };
    let Some(action) = wire::string(params, "action").filter(|action| !action.is_empty()) else {
        return bad_request("Bad Request: action is empty");
    };
    bot.chat_actions.push(ChatAction { chat_id, action });
    bot.changed();
    wire::ok(json!(true), None)
}

fn set_webhook(bot: &mut Bot, params: &Map<String, Value>) -> Response {
    let url = wire::string(params, "url").unwrap_or_default();
    if url.is_empty() {
        return delete_webhook(bot, params);
    }
    if !url.starts_with("https://") {
        return bad_request("Bad Request: bad webhook: An HTTPS URL must be provided for webhook");
    }
    if wire::boolean(params, "drop_pending_updates") {
        bot.updates.clear();
    }
    if let Some(Value::Array(kinds)) = wire::structured(params, "allowed_updates") {
        let kinds: Vec<String> = kinds.iter().filter_map(|kind| kind.as_str().map(str::to_owned)).collect();
        bot.allowed_updates = if kinds.is_empty() { None } else { Some(kinds) };
    }
    let secret_token = wire::string(params, "secret_token").filter(|secret| !secret.is_empty());
    bot.webhook = Some(Webhook { url, secret_token });
    bot.changed();
    wire::ok(json!(true), Some("Webhook was set"))
}

fn delete_webhook(bot: &mut Bot, params: &Map<String, Value>) -> Response {
    if wire::boolean(params, "drop_pending_updates") {
        bot.updates.clear();
    }
    let description = if bot.webhook.take().is_some() { "Webhook was deleted" } else { "Webhook is already deleted" };
    bot.webhook_error = None;
    bot.changed();
    wire::ok(json!(true), Some(description))
}

fn webhook_info(bot: &Bot) -> Response {
    let mut info = json!({
        "url": bot.webhook.as_ref().map_or("", |webhook| webhook.url.as_str()),
        "has_custom_certificate": false,
        "pending_update_count": bot.updates.len(),
    });
    if bot.webhook.is_some() {
        info["max_connections"] = json!(40);
        info["ip_address"] = json!("149.154.167.220");
    }
    if let Some((date, message)) = &bot.webhook_error {
        info["last_error_date"] = json!(date);
        info["last_error_message"] = json!(message);
    }
    if let Some(kinds) = &bot.allowed_updates {
        info["allowed_updates"] = json!(kinds);
    }
    wire::ok(info, None)
}

/// The `chat_id` of a call, or the description of its refusal. Only numeric ids are taken: the
/// fake knows no `@channel` names.
fn chat_id(params: &Map<String, Value>) -> Result<i64, &'static str> {
    match params.get("chat_id") {
        None => Err("Bad Request: chat_id is empty"),
        Some(_) => wire::int(params, "chat_id").ok_or("Bad Request: chat not found"),
    }
}

fn fail(failure: Failure) -> Response {
    match failure {
        Failure::TooManyRequests { retry_after_secs } => wire::error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too Many Requests: retry after {retry_after_secs}"),
            Some(json!({"retry_after": retry_after_secs})),
        ),
        Failure::Conflict => wire::error(StatusCode::CONFLICT, TERMINATED, None),
        Failure::ServerError => wire::error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", None),
        Failure::BadGateway => wire::bad_gateway(),
        Failure::Unauthorized => unauthorized(),
        Failure::BadRequest(description) => bad_request(&description),
        Failure::Forbidden(description) => wire::error(StatusCode::FORBIDDEN, &description, None),
        // Played by the caller, which owns the connection; this is never reached.
        Failure::Hangup => wire::error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", None),
    }
}

const TERMINATED: &str =
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
const WEBHOOK_ACTIVE: &str =
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";

fn webhook_conflict() -> Response {
    wire::error(StatusCode::CONFLICT, WEBHOOK_ACTIVE, None)
}

fn unauthorized() -> Response {
    wire::error(StatusCode::UNAUTHORIZED, "Unauthorized", None)
}

fn bad_request(description: &str) -> Response {
    wire::error(StatusCode::BAD_REQUEST, description, None)
}

/// Any path but `/bot<TOKEN>/<method>`, as Telegram answers it.
async fn not_found() -> Response {
    wire::error(StatusCode::NOT_FOUND, "Not Found", None)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}
