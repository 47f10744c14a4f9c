//! `/chat`: the browser chat with the assistant, the current conversation's history oldest at
//! the top, and the message form.
//!
//! Without JavaScript the form posts to `POST /chat`, which waits for the whole reply and goes
//! back to the page; `static/js/chat.js` sends through `POST /api/chat/messages` instead and
//! shows the reply as it is written. Every form carries a message id made here, so that a form
//! sent twice is answered once.

use assistchat_proto::v1::{ChatMessage, ListChatMessagesRequest, ResetChatRequest, SendChatMessageRequest};
use axum::{
    Form,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::signed_in_frame;
use crate::{
    error::AppError,
    http::{csrf::CsrfForm, error::PageError, visitor::Visitor},
    state::AppState,
    view::{
        chat::{HISTORY_PAGE_SIZE, MAX_TEXT_CHARS, failure_message, new_client_message_id, role_name},
        layout::{Page, notice},
        markdown::reply_html,
        time::{format_time, rfc3339},
    },
};

/// Where the browser goes after a message or a reset: the page, scrolled to the form under the
/// newest messages.
const BACK: &str = "/chat#chat-form";

/// The words `static/js/chat.js` shows, in the page's language.
const SCRIPT_LABELS: [&str; 7] = [
    "chat.you",
    "chat.assistant",
    "chat.no_reply",
    "chat.connection_lost",
    "chat.sending",
    "chat.reset_failed",
    "tokens.copy",
];

/// Query of `GET /chat`.
#[derive(Debug, Default, Deserialize)]
pub struct HistoryQuery {
    /// A page of older messages, from the link under the history.
    #[serde(default)]
    page_token: String,
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

/// A message that got no reply, to show again in the form with why.
struct Draft {
    /// The text typed.
    text: String,
    /// The id to send it with again.
    client_message_id: String,
    /// What went wrong.
    error: AppError,
}

/// `GET /chat`.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<HistoryQuery>,
) -> Result<Response, PageError> {
    render(&state, &visitor, query.page_token, None).await
}

async fn render(
    state: &AppState,
    visitor: &Visitor,
    page_token: String,
    draft: Option<Draft>,
) -> Result<Response, PageError> {
    let page = signed_in_frame(state, visitor, "/chat").await?;
    let older = !page_token.is_empty();
    let request = ListChatMessagesRequest { page_size: HISTORY_PAGE_SIZE, page_token };
    let history = match state.core.bot().list_chat_messages(visitor.meta.request(request)).await {
        Ok(response) => Ok(response.into_inner()),
        Err(status) if status.code() == tonic::Code::Unauthenticated => return Err(status.into()),
        Err(status) => Err(AppError::from(status)),
    };
    let status = draft.as_ref().map_or(StatusCode::OK, |d| d.error.status());
    let labels: Map<String, Value> =
        SCRIPT_LABELS.iter().map(|key| ((*key).to_owned(), Value::String(page.t(key).into()))).collect();
    let body = html! {
        h1 { (page.t("chat.title")) }
        p { (page.t("chat.text")) }
        section.card.chat #chat data-labels=(Value::Object(labels).to_string()) {
            form #chat-reset method="post" action="/chat/reset" {
                (page.csrf_field())
                button.secondary type="submit" { (page.t("chat.new")) }
            }
            @match &history {
                Ok(history) => {
                    @if !history.next_page_token.is_empty() {
                        p.older { a href=(format!("/chat?page_token={}", encode(&history.next_page_token))) { (page.t("chat.older")) } }
                    }
                    p #chat-empty hidden[!history.chat_messages.is_empty()] { (page.t("chat.empty")) }
                    ol #messages .messages aria-live="polite" {
                        // Core lists the newest first; a conversation reads from the top.
                        @for message in history.chat_messages.iter().rev() { (message_item(&page, message)) }
                    }
                    @if older { p.older { a href="/chat" { (page.t("chat.latest")) } } }
                },
                Err(err) => (notice("error", &err.user_message(page.lang))),
            }
            @let error = draft.as_ref().map(|d| failure_message(&d.error, page.lang));
            p #chat-error .notice.error role="alert" hidden[error.is_none()] { @if let Some(error) = &error { (error) } }
            (message_form(&page, draft.as_ref()))
        }
        script src="/static/js/chat.js" defer {}
    };
    Ok((status, page.render("chat.title", body)).into_response())
}

/// One message of the history: who wrote it and when, its text (a reply as formatted text, a
/// person's message as the plain text it is), and for a message that got no reply, why.
fn message_item(page: &Page, message: &ChatMessage) -> Markup {
    let role = role_name(message.role());
    let author = if role == "assistant" { page.t("chat.assistant") } else { page.t("chat.you") };
    html! {
        li class=(format!("message {role}")) data-id=(message.id) {
            p.meta {
                span.author { (author) }
                @if let Some(time) = &message.create_time {
                    " · " time datetime=(rfc3339(time)) { (format_time(time)) }
                }
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

/// The form of a new message, holding a draft that got no reply.
fn message_form(page: &Page, draft: Option<&Draft>) -> Markup {
    let id = draft.map_or_else(new_client_message_id, |d| d.client_message_id.clone());
    let text = draft.map_or("", |d| d.text.as_str());
    html! {
        form #chat-form method="post" action="/chat" {
            (page.csrf_field())
            input type="hidden" name="client_message_id" value=(id);
            label {
                (page.t("chat.message"))
                // The parser drops a newline right after <textarea>, so one is given for it to drop.
                textarea name="text" rows="3" required maxlength=(MAX_TEXT_CHARS) aria-describedby="chat-error" { "\n" (text) }
                small.js-only { (page.t("chat.keys_hint")) }
            }
            button type="submit" { (page.t("chat.send")) }
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

/// `POST /chat`: sends the message, waits for the reply and goes back to the page; or shows the
/// page with the message kept in the form and why it got no reply.
pub async fn send(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<MessageForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(Some(&form.csrf))?;
    let request = SendChatMessageRequest { text: form.text.clone(), client_message_id: form.client_message_id.clone() };
    match state.core.chat().send_chat_message(visitor.meta.request(request)).await {
        Ok(_) => Ok(Redirect::to(BACK).into_response()),
        Err(status) if status.code() == tonic::Code::Unauthenticated => Err(status.into()),
        Err(status) => {
            let error = AppError::from(status);
            // Core answered, so the message is stored with its failure: sending it again is a
            // new message. When the answer was lost, the same id finds the stored reply.
            let client_message_id = if error.from_core() { new_client_message_id() } else { form.client_message_id };
            render(&state, &visitor, String::new(), Some(Draft { text: form.text, client_message_id, error })).await
        }
    }
}

/// `POST /chat/reset`: starts a new conversation.
pub async fn reset(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, PageError> {
    visitor.check_csrf(Some(&form.csrf))?;
    state.core.bot().reset_chat(visitor.meta.request(ResetChatRequest {})).await?;
    Ok(Redirect::to(BACK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_are_encoded_for_the_link() {
        assert_eq!(encode("a+b/c=="), "a%2Bb%2Fc%3D%3D");
        assert_eq!(encode("plain-token_1.x~"), "plain-token_1.x~");
    }
}
