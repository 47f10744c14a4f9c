//! `/chat`: the person's conversations beside the open one. On the left every conversation of
//! every channel, newest first, with a search box and a channel filter; on the right the open
//! conversation (`/chat/{id}`, or on `/chat` the current browser conversation) oldest message
//! at the top, its title, model, export and delete, and in the browser's own conversations the
//! message form and "regenerate". Conversations of other channels are read here and answered
//! in their channel.
//!
//! Every form works without JavaScript: a message posts to `POST /chat/{id}` (or `POST /chat`
//! for the conversation the next message starts), which waits for the whole reply and comes back
//! to the page. `static/js/chat.js` sends through the JSON API instead, shows the reply as it is
//! written, and can stop it. Every message form carries an id made here, so that a form sent
//! twice is answered once.

use assistchat_proto::v1::{
    Conversation, DeleteConversationRequest, GetConversationRequest, ListConversationsRequest, ListMessagesRequest,
    ListModelsRequest, Message, MessageRole, Model, RegenerateReplyRequest, ResetChatRequest, SendChatMessageRequest,
    StreamMessageRequest, UpdateConversationRequest,
};
use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{channel::CHANNELS, signed_in_frame};
use crate::{
    core_client::conversations::{self, drain},
    error::AppError,
    http::{csrf::CsrfForm, error::PageError, visitor::Visitor},
    state::AppState,
    view::{
        chat::{HISTORY_PAGE_SIZE, MAX_TEXT_CHARS, failure_message, new_client_message_id},
        conversation::{BROWSER, channel_label, highlighted, query_words, role_name, title},
        layout::{Page, notice},
        markdown::reply_html,
        time::{format_time, rfc3339},
    },
};

/// How many conversations the list shows at once.
const LIST_PAGE_SIZE: i32 = 50;

/// The words `static/js/chat.js` shows, in the page's language.
const SCRIPT_LABELS: [&str; 9] = [
    "chat.you",
    "chat.assistant",
    "chat.no_reply",
    "chat.connection_lost",
    "chat.sending",
    "chat.reset_failed",
    "chat.stopped",
    "chat.untitled",
    "tokens.copy",
];

/// Query of `GET /chat` and `GET /chat/{id}`.
#[derive(Debug, Default, Deserialize)]
pub struct ChatQuery {
    /// Words to search the conversations for.
    #[serde(default)]
    q: String,
    /// The channel to list: empty for all, `browser` or a provider's name.
    #[serde(default)]
    channel: String,
    /// A further page of the list.
    #[serde(default)]
    list_token: String,
    /// A page of older messages, from the link above the history.
    #[serde(default)]
    page_token: String,
}

impl ChatQuery {
    /// The query string that keeps the list as it is (search and channel), with `?` when not
    /// empty.
    fn list_state(&self) -> String {
        let pairs = [("q", self.q.trim()), ("channel", self.channel.as_str())];
        let query: Vec<String> =
            pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", encode(v))).collect();
        if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) }
    }

    /// Core's filter for the chosen channel; `None` for a channel no filter can name.
    fn filter(&self) -> Option<String> {
        match self.channel.trim() {
            "" => Some(String::new()),
            channel => conversations::filter("channel", channel),
        }
    }
}

/// The message form.
#[derive(Deserialize)]
pub struct MessageForm {
    /// The CSRF token.
    #[serde(default)]
    csrf: String,
    /// The message.
    #[serde(default)]
    text: String,
    /// The id the page made for this message.
    #[serde(default)]
    client_message_id: String,
}

redacted_debug!(MessageForm { text, client_message_id ; csrf });

/// The forms of a conversation's tools: rename, model, delete, regenerate.
#[derive(Deserialize)]
pub struct ToolForm {
    /// The CSRF token.
    #[serde(default)]
    csrf: String,
    /// The new title.
    title: Option<String>,
    /// The model to ask; empty for the default.
    model: Option<String>,
    /// Delete's confirmation.
    confirm: Option<String>,
}

redacted_debug!(ToolForm { title, model, confirm ; csrf });

/// What went wrong on the page, to show with the conversation.
enum Problem {
    /// A message got no reply: its text and id go back into the form, with why.
    Draft { text: String, client_message_id: String, error: AppError },
    /// A tool (rename, model, regenerate) failed.
    Tool(AppError),
    /// Delete was asked without the confirmation.
    Unconfirmed,
}

impl Problem {
    fn status(&self) -> StatusCode {
        match self {
            Self::Draft { error, .. } | Self::Tool(error) => error.status(),
            Self::Unconfirmed => StatusCode::BAD_REQUEST,
        }
    }
}

/// Which conversation the page opens.
enum Open {
    /// The current browser conversation, when there is one.
    Current,
    /// This one.
    Id(String),
}

/// `GET /chat`: the list and the current browser conversation.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<ChatQuery>,
) -> Result<Response, PageError> {
    render(&state, &visitor, &query, Open::Current, None).await
}

/// `GET /chat/{id}`: the list and that conversation.
pub async fn show_one(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(query): Query<ChatQuery>,
) -> Result<Response, PageError> {
    render(&state, &visitor, &query, Open::Id(id), None).await
}

async fn render(
    state: &AppState,
    visitor: &Visitor,
    query: &ChatQuery,
    open: Open,
    problem: Option<Problem>,
) -> Result<Response, PageError> {
    let page = signed_in_frame(state, visitor, "/chat").await?;
    let conversation = match open {
        Open::Current => conversations::current_browser(&state.core, &visitor.meta).await.map_err(AppError::from),
        Open::Id(id) => {
            let request = GetConversationRequest { conversation_id: id };
            // Another person's conversation, or one deleted, is the 404 page.
            let response = state.core.conversations().get_conversation(visitor.meta.request(request)).await?;
            Ok(response.into_inner().conversation)
        }
    };
    let list = conversation_list(state, visitor, &page, query, conversation.as_ref().ok().and_then(|c| c.as_ref()));
    let pane = async {
        match &conversation {
            Ok(conversation) => open_pane(state, visitor, &page, query, conversation.as_ref(), problem.as_ref()).await,
            Err(err) => Ok(html! { (notice("error", &err.user_message(page.lang))) }),
        }
    };
    let (list, pane) = tokio::join!(list, pane);
    let (list, pane) = (list?, pane?);
    let labels: Map<String, Value> =
        SCRIPT_LABELS.iter().map(|key| ((*key).to_owned(), Value::String(page.t(key).into()))).collect();
    let body = html! {
        h1.visually-hidden { (page.t("chat.title")) }
        div.chat-layout {
            (list)
            section.card.chat #chat data-labels=(Value::Object(labels).to_string()) { (pane) }
        }
        script src="/static/js/chat.js" defer {}
    };
    let status = problem.as_ref().map_or(StatusCode::OK, Problem::status);
    Ok((status, page.render("chat.title", body)).into_response())
}

/// The list of conversations: the search form, "New conversation", and a page of them (with
/// the matching message of each when searching).
async fn conversation_list(
    state: &AppState,
    visitor: &Visitor,
    page: &Page,
    query: &ChatQuery,
    open: Option<&Conversation>,
) -> Result<Markup, PageError> {
    let searching = !query.q.trim().is_empty();
    let listed = match query.filter() {
        Some(filter) => {
            let request = ListConversationsRequest {
                page_size: LIST_PAGE_SIZE,
                page_token: query.list_token.clone(),
                filter,
                query: query.q.trim().to_owned(),
            };
            match state.core.conversations().list_conversations(visitor.meta.request(request)).await {
                Ok(response) => Ok(response.into_inner()),
                Err(status) if status.code() == tonic::Code::Unauthenticated => return Err(status.into()),
                Err(status) => Err(AppError::from(status)),
            }
        }
        None => Err(AppError::Invalid { field: "channel".into(), message: page.t("chat.unknown_channel").into() }),
    };
    let words = query_words(&query.q);
    let keep = query.list_state();
    // The providers with a page of their own, and one a link asked for.
    let mut channels: Vec<&str> = std::iter::once(BROWSER).chain(CHANNELS.iter().map(|c| c.provider)).collect();
    if query.filter().is_some() && !query.channel.is_empty() && !channels.contains(&query.channel.as_str()) {
        channels.push(&query.channel);
    }
    Ok(html! {
        aside.conversations aria-label=(page.t("chat.conversations")) {
            form.search #conversation-search method="get" action="/chat" role="search" {
                label {
                    span.visually-hidden { (page.t("chat.search_label")) }
                    input type="search" name="q" value=(query.q) maxlength="200" placeholder=(page.t("chat.search_label"));
                }
                label {
                    span.visually-hidden { (page.t("chat.channel")) }
                    select name="channel" data-autosubmit {
                        option value="" selected[query.channel.is_empty()] { (page.t("chat.all_channels")) }
                        @for channel in channels {
                            option value=(channel) selected[query.channel == channel] { (channel_label(channel, page.lang)) }
                        }
                    }
                }
                button.secondary type="submit" { (page.t("chat.search")) }
            }
            form #chat-reset method="post" action="/chat/reset" {
                (page.csrf_field())
                button type="submit" { (page.t("chat.new")) }
            }
            @match &listed {
                Ok(listed) => {
                    @if searching {
                        p.search-summary {
                            (page.lang.format("chat.results", &[("query", query.q.trim())])) " "
                            a href="/chat" { (page.t("chat.clear_search")) }
                        }
                    }
                    @if listed.results.is_empty() {
                        p.empty-list { (page.t(if searching { "chat.nothing_found" } else { "chat.no_conversations" })) }
                    }
                    ul #conversation-list .conversation-list {
                        @for result in &listed.results {
                            @if let Some(conversation) = &result.conversation {
                                @let is_open = open.is_some_and(|o| o.id == conversation.id);
                                @let anchor = result.r#match.as_ref().map(|m| format!("#message-{}", m.message_id)).unwrap_or_default();
                                li.conversation.open[is_open] data-id=(conversation.id) {
                                    a href=(format!("/chat/{}{keep}{anchor}", conversation.id)) aria-current=[is_open.then_some("page")] {
                                        span.title { (title(conversation, page.lang)) }
                                        span class=(format!("badge channel channel-{}", conversation.channel)) { (channel_label(&conversation.channel, page.lang)) }
                                        @if let Some(time) = &conversation.update_time {
                                            time datetime=(rfc3339(time)) { (format_time(time)) }
                                        }
                                    }
                                    @if let Some(found) = &result.r#match {
                                        p.snippet { (highlighted(&found.snippet, &words)) }
                                    }
                                }
                            }
                        }
                    }
                    @if !listed.next_page_token.is_empty() {
                        @let more = if keep.is_empty() { "?".to_owned() } else { format!("{keep}&") };
                        p.more { a href=(format!("/chat{more}list_token={}", encode(&listed.next_page_token))) { (page.t("chat.more_conversations")) } }
                    }
                },
                Err(err) => (notice("error", &err.user_message(page.lang))),
            }
        }
    })
}

/// The open conversation: its head with the tools, its messages and, for the browser's, the
/// message form; for the current browser conversation that has no message yet, the empty pane
/// whose form starts it.
async fn open_pane(
    state: &AppState,
    visitor: &Visitor,
    page: &Page,
    query: &ChatQuery,
    conversation: Option<&Conversation>,
    problem: Option<&Problem>,
) -> Result<Markup, PageError> {
    let in_browser = conversation.is_none_or(|c| c.channel == BROWSER);
    let history = match conversation {
        Some(conversation) => {
            let request = ListMessagesRequest {
                conversation_id: conversation.id.clone(),
                page_size: HISTORY_PAGE_SIZE,
                page_token: query.page_token.clone(),
            };
            match state.core.conversations().list_messages(visitor.meta.request(request)).await {
                Ok(response) => Ok(response.into_inner()),
                Err(status) if status.code() == tonic::Code::Unauthenticated => return Err(status.into()),
                Err(status) => Err(AppError::from(status)),
            }
        }
        None => Ok(Default::default()),
    };
    // Only a browser conversation is answered here, so only it chooses its model here.
    let models = match conversation {
        Some(_) if in_browser => offered_models(state, visitor).await,
        _ => Vec::new(),
    };
    let id = conversation.map_or("", |c| c.id.as_str());
    let base = if id.is_empty() { "/chat".to_owned() } else { format!("/chat/{id}") };
    let keep = query.list_state();
    let older = !query.page_token.is_empty();
    Ok(html! {
        div #conversation data-id=(id) data-browser=(in_browser) {
            @if let Some(conversation) = conversation {
                (head(page, conversation, &models, problem))
            }
            @match &history {
                Ok(history) => {
                    @if !history.next_page_token.is_empty() {
                        @let more = if keep.is_empty() { "?".to_owned() } else { format!("{keep}&") };
                        p.older { a href=(format!("{base}{more}page_token={}", encode(&history.next_page_token))) { (page.t("chat.older")) } }
                    }
                    p #chat-empty hidden[!history.messages.is_empty()] { (page.t("chat.empty")) }
                    ol #messages .messages aria-live="polite" {
                        // Core lists the newest first; a conversation reads from the top.
                        @for message in history.messages.iter().rev() { (message_item(page, conversation, message)) }
                    }
                    @if older { p.older { a href=(format!("{base}{keep}")) { (page.t("chat.latest")) } } }
                    @if in_browser && !id.is_empty() && !older {
                        (regenerate_form(page, id, &history.messages))
                    }
                },
                Err(err) => (notice("error", &err.user_message(page.lang))),
            }
            @if in_browser {
                @let draft = match problem { Some(Problem::Draft { text, client_message_id, error }) => Some((text, client_message_id, error)), _ => None };
                @let error = draft.map(|(_, _, error)| failure_message(error, page.lang));
                p #chat-error .notice.error role="alert" hidden[error.is_none()] { @if let Some(error) = &error { (error) } }
                (message_form(page, &base, draft.map(|(text, id, _)| (text.as_str(), id.as_str()))))
            } @else if let Some(conversation) = conversation {
                @let channel = channel_label(&conversation.channel, page.lang);
                p.notice.read-only { (page.lang.format("chat.read_only", &[("channel", &channel)])) }
            }
        }
    })
}

/// The models the person may choose, or none when core cannot say (no key yet, the server
/// down): the picker is then left out, and sending says what is wrong.
async fn offered_models(state: &AppState, visitor: &Visitor) -> Vec<Model> {
    match state.core.conversation_replies().list_models(visitor.meta.request(ListModelsRequest {})).await {
        Ok(response) => response.into_inner().models,
        Err(status) => {
            tracing::debug!(%status, "no models to offer");
            Vec::new()
        }
    }
}

/// The open conversation's title, where it is, and its tools.
fn head(page: &Page, conversation: &Conversation, models: &[Model], problem: Option<&Problem>) -> Markup {
    let id = &conversation.id;
    let shown = title(conversation, page.lang);
    let channel = channel_label(&conversation.channel, page.lang);
    let tool_error = match problem {
        Some(Problem::Tool(error)) => Some(error.user_message(page.lang)),
        _ => None,
    };
    let unconfirmed = matches!(problem, Some(Problem::Unconfirmed));
    let export = |format: &str| format!("/api/conversations/{id}/export?format={format}");
    html! {
        header #conversation-head .conversation-head {
            h2 #conversation-title { (shown) }
            p.where {
                span class=(format!("badge channel channel-{}", conversation.channel)) { (channel) }
                @if !conversation.resource_name.is_empty() {
                    " " (page.lang.format("chat.via", &[("resource", &conversation.resource_name)]))
                }
                @if !conversation.peer_name.is_empty() {
                    " " (page.lang.format("chat.with", &[("name", &conversation.peer_name)]))
                }
            }
            @if let Some(error) = &tool_error { (notice("error", error)) }
            div.tools {
                details.rename {
                    summary { (page.t("chat.rename")) }
                    form method="post" action=(format!("/chat/{id}/rename")) {
                        (page.csrf_field())
                        label { (page.t("chat.title_label"))
                            input type="text" name="title" value=(conversation.title) maxlength="200" required;
                        }
                        button type="submit" { (page.t("chat.save")) }
                    }
                }
                @if !models.is_empty() {
                    form.model method="post" action=(format!("/chat/{id}/model")) {
                        (page.csrf_field())
                        label { (page.t("chat.model"))
                            select name="model" data-autosubmit {
                                @let default = models.iter().find(|m| m.default).map_or("", |m| m.id.as_str());
                                option value="" selected[conversation.model.is_empty()] {
                                    (page.lang.format("chat.model_default", &[("model", default)]))
                                }
                                @for model in models {
                                    option value=(model.id) selected[conversation.model == model.id] { (model.id) }
                                }
                            }
                        }
                        button.secondary.js-hidden type="submit" { (page.t("chat.model_apply")) }
                    }
                }
                p.export {
                    (page.t("chat.export")) " "
                    a href=(export("markdown")) download { "Markdown" } " · "
                    a href=(export("json")) download { "JSON" }
                }
                details.delete open[unconfirmed] {
                    summary { (page.t("chat.delete")) }
                    form method="post" action=(format!("/chat/{id}/delete")) {
                        (page.csrf_field())
                        @let count = conversation.message_count.to_string();
                        label.inline {
                            input type="checkbox" name="confirm" value="yes" required aria-invalid=[unconfirmed.then_some("true")];
                            (page.lang.format("chat.delete_confirm", &[("title", &shown), ("count", &count)]))
                        }
                        @if unconfirmed { p.field-error role="alert" { (page.t("chat.delete_unconfirmed")) } }
                        button.danger type="submit" { (page.t("chat.delete_button")) }
                    }
                }
            }
        }
    }
}

/// One message: who wrote it and when, its text (a reply as formatted text, a person's message
/// as the plain text it is), and for a message that got no reply, why.
fn message_item(page: &Page, conversation: Option<&Conversation>, message: &Message) -> Markup {
    let role = role_name(message.role());
    let author = match role {
        "assistant" => page.t("chat.assistant"),
        _ if conversation.is_some_and(|c| c.channel != BROWSER) && !message.sender_name.is_empty() => {
            &message.sender_name
        }
        _ => page.t("chat.you"),
    };
    html! {
        li class=(format!("message {role}")) id=(format!("message-{}", message.id)) data-id=(message.id) {
            p.meta {
                span.author { (author) }
                @if let Some(time) = &message.create_time {
                    " · " time datetime=(rfc3339(time)) { (format_time(time)) }
                }
                @if message.stopped { " · " span.stopped { (page.t("chat.stopped")) } }
            }
            @if role == "assistant" {
                div.text.markdown { (PreEscaped(reply_html(&message.text))) }
            } @else {
                // Escaped by maud and shown with its line breaks.
                div.text { (message.text) }
            }
            @if !message.failure_detail.is_empty() {
                p.failure { strong { (page.t("chat.no_reply")) } " " (message.failure_detail) }
            }
        }
    }
}

/// "Regenerate", when the newest message is a reply or a message of the person's that got none.
fn regenerate_form(page: &Page, id: &str, newest_first: &[Message]) -> Markup {
    let answerable =
        newest_first.first().is_some_and(|m| m.role() == MessageRole::Assistant || !m.failure_detail.is_empty());
    html! {
        form #chat-regenerate method="post" action=(format!("/chat/{id}/regenerate")) hidden[!answerable] {
            (page.csrf_field())
            button.secondary type="submit" { (page.t("chat.regenerate")) }
        }
    }
}

/// The form of a new message to `action`, holding a draft that got no reply.
fn message_form(page: &Page, action: &str, draft: Option<(&str, &str)>) -> Markup {
    let id = draft.map_or_else(new_client_message_id, |(_, id)| id.to_owned());
    let text = draft.map_or("", |(text, _)| text);
    html! {
        form #chat-form method="post" action=(action) {
            (page.csrf_field())
            input type="hidden" name="client_message_id" value=(id);
            label {
                (page.t("chat.message"))
                // The parser drops a newline right after <textarea>, so one is given for it to drop.
                textarea name="text" rows="3" required maxlength=(MAX_TEXT_CHARS) aria-describedby="chat-error" { "\n" (text) }
                small.js-only { (page.t("chat.keys_hint")) }
            }
            button type="submit" { (page.t("chat.send")) }
            button.secondary #chat-stop type="button" hidden { (page.t("chat.stop")) }
        }
    }
}

/// `s` percent-encoded for a query string.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `POST /chat`: sends the message in the current browser conversation (starting one when there
/// is none), waits for the reply and goes back to the page; or shows the page with the message
/// kept in the form and why it got no reply.
pub async fn send(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<MessageForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(Some(&form.csrf))?;
    let request = SendChatMessageRequest { text: form.text.clone(), client_message_id: form.client_message_id.clone() };
    let sent = state.core.chat().send_chat_message(visitor.meta.request(request)).await.map(drop);
    after_message(&state, &visitor, form, Open::Current, "/chat#chat-form".into(), sent).await
}

/// `POST /chat/{id}`: the same in a browser conversation of the person's choosing.
pub async fn send_to(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<MessageForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(Some(&form.csrf))?;
    let request = StreamMessageRequest {
        conversation_id: id.clone(),
        text: form.text.clone(),
        client_message_id: form.client_message_id.clone(),
    };
    let sent = match state.core.conversation_replies().stream_message(visitor.meta.request(request)).await {
        Ok(stream) => drain(stream.into_inner()).await,
        Err(status) => Err(status),
    };
    let back = format!("/chat/{id}#chat-form");
    after_message(&state, &visitor, form, Open::Id(id), back, sent).await
}

/// Back to the page after a message, or the page with the draft and why it got no reply.
async fn after_message(
    state: &AppState,
    visitor: &Visitor,
    form: MessageForm,
    open: Open,
    back: String,
    sent: Result<(), tonic::Status>,
) -> Result<Response, PageError> {
    match sent {
        Ok(()) => Ok(Redirect::to(&back).into_response()),
        Err(status) if status.code() == tonic::Code::Unauthenticated => Err(status.into()),
        Err(status) => {
            let error = AppError::from(status);
            // Core answered, so the message is stored with its failure: sending it again is a
            // new message. When the answer was lost, the same id finds the stored reply.
            let client_message_id = if error.from_core() { new_client_message_id() } else { form.client_message_id };
            let problem = Problem::Draft { text: form.text, client_message_id, error };
            render(state, visitor, &ChatQuery::default(), open, Some(problem)).await
        }
    }
}

/// `POST /chat/reset`: the next message starts a new browser conversation; the old one stays
/// listed.
pub async fn reset(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, PageError> {
    visitor.check_csrf(Some(&form.csrf))?;
    state.core.bot().reset_chat(visitor.meta.request(ResetChatRequest {})).await?;
    Ok(Redirect::to("/chat#chat-form"))
}

/// `POST /chat/{id}/rename`, `.../model`, `.../regenerate` and `.../delete` (which needs the
/// confirmation ticked).
pub async fn act(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ToolForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(Some(&form.csrf))?;
    let (done, back) = match action.as_str() {
        "rename" => {
            (update(&state, &visitor, &id, "title", form.title.unwrap_or_default()).await, "#conversation-head")
        }
        "model" => (update(&state, &visitor, &id, "model", form.model.unwrap_or_default()).await, "#conversation-head"),
        "regenerate" => {
            let request = RegenerateReplyRequest { conversation_id: id.clone() };
            let regenerated =
                match state.core.conversation_replies().regenerate_reply(visitor.meta.request(request)).await {
                    Ok(stream) => drain(stream.into_inner()).await,
                    Err(status) => Err(status),
                };
            (regenerated, "#chat-form")
        }
        "delete" if form.confirm.as_deref() != Some("yes") => {
            return render(&state, &visitor, &ChatQuery::default(), Open::Id(id), Some(Problem::Unconfirmed)).await;
        }
        "delete" => {
            let request = DeleteConversationRequest { conversation_id: id };
            state.core.conversations().delete_conversation(visitor.meta.request(request)).await?;
            return Ok(Redirect::to("/chat").into_response());
        }
        _ => return Err(AppError::NotFound.into()),
    };
    match done {
        Ok(()) => Ok(Redirect::to(&format!("/chat/{id}{back}")).into_response()),
        Err(status) if matches!(status.code(), tonic::Code::Unauthenticated | tonic::Code::NotFound) => {
            Err(status.into())
        }
        Err(status) => {
            let problem = Problem::Tool(AppError::from(status));
            render(&state, &visitor, &ChatQuery::default(), Open::Id(id), Some(problem)).await
        }
    }
}

/// Changes one field of a conversation.
async fn update(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    field: &str,
    value: String,
) -> Result<(), tonic::Status> {
    let mut conversation = Conversation { id: id.to_owned(), ..Default::default() };
    match field {
        "title" => conversation.title = value,
        _ => conversation.model = value,
    }
    let mask = prost_types::FieldMask { paths: vec![field.to_owned()] };
    let request = UpdateConversationRequest { conversation: Some(conversation), update_mask: Some(mask) };
    state.core.conversation_replies().update_conversation(visitor.meta.request(request)).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_are_encoded_for_the_link() {
        assert_eq!(encode("a+b/c=="), "a%2Bb%2Fc%3D%3D");
        assert_eq!(encode("plain-token_1.x~"), "plain-token_1.x~");
    }

    #[test]
    fn the_list_keeps_its_search_and_channel_and_names_only_real_channels() {
        let query = ChatQuery { q: " Рим trip ".into(), channel: "telegram".into(), ..Default::default() };
        assert_eq!(query.list_state(), "?q=%D0%A0%D0%B8%D0%BC%20trip&channel=telegram");
        assert_eq!(query.filter().as_deref(), Some("channel = \"telegram\""));
        assert_eq!(ChatQuery::default().list_state(), "");
        assert_eq!(ChatQuery::default().filter().as_deref(), Some(""));
        let odd = ChatQuery { channel: "x\" OR 1".into(), ..Default::default() };
        assert_eq!(odd.filter(), None);
    }
}
