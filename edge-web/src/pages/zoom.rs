//! `/resources/zoom`: a Zoom Team Chat chatbot connected from one page: how to make the app in
//! the Zoom App Marketplace step by step, the form to connect it, and the user's chatbots with
//! their live states, the webhook URL to paste into Zoom (as the Zoom edge reports it), and what
//! went wrong with what to do about it.
//!
//! The form works without JavaScript and creates the resource the way `POST /resources` does.
//! The page loads `static/js/resources_zoom.js`, which follows `/api/bot/events` and updates each
//! chatbot (marked `data-resource="<id>"`) in place; without it a reload shows the same.

use std::collections::HashMap;

use assistchat_proto::v1::Resource;
use axum::{
    Form,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value};
use tonic::Code;

use super::{
    channel::{Channel, info, list_entries},
    layout::{Page, notice, page_error},
    resources::{Fields, form_field},
    settings_form::{self, Aria, Head},
};
use crate::{AppState, error::AppError, resource::create_resource, visitor::Visitor};

/// The page's path.
pub const PATH: &str = "/resources/zoom";

/// The page among the channels' pages, with the reasons the Zoom edge gives whose words the
/// catalogue has (as `zoom.reason.<code>`).
const CHANNEL: Channel = Channel {
    path: PATH,
    provider: "zoom",
    reasons: &["CREDENTIALS_REJECTED", "SEND_REFUSED", "SECRET_MISSING", "ZOOM_UNREACHABLE", "SETTINGS_UNREADABLE"],
    script: "resources_zoom.js",
    list: "chatbots",
};

/// Where Team Chat apps are made.
const MARKETPLACE: &str = "https://marketplace.zoom.us/";

/// The scope a chatbot needs to send messages.
const SCOPE: &str = "imchat:bot";

/// The key under which the Zoom edge reports a chatbot's webhook URL.
const WEBHOOK_INFO: &str = "webhook_url";

/// The most characters of instructions, as the provider's schema allows.
const MAX_PROMPT_CHARS: u32 = 4000;

/// How a control takes its value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Control {
    /// One line of text.
    Text,
    /// A secret: typed, never shown again.
    Secret,
    /// Several lines (the instructions).
    LongText,
    /// A list, one entry a line or separated by commas.
    Lines,
}

/// One field of the form: the setting it sets and how.
struct FormField {
    /// The setting's name in the provider's schema.
    setting: &'static str,
    control: Control,
    required: bool,
    /// What such a value looks like.
    placeholder: &'static str,
}

impl FormField {
    /// The control's name, as core's errors are renamed by [`crate::resource::field_name`].
    fn input(&self) -> String {
        format!("settings.{}", self.setting)
    }
}

/// The form's fields after the name, in the order the steps mention their values.
const FIELDS: [FormField; 7] = [
    FormField { setting: "client_id", control: Control::Text, required: true, placeholder: "AbCdEfGhIjKlMnOpQrStUv" },
    FormField { setting: "client_secret", control: Control::Secret, required: true, placeholder: "" },
    FormField { setting: "bot_jid", control: Control::Text, required: true, placeholder: "v1abcdefghij@xmpp.zoom.us" },
    FormField { setting: "webhook_secret_token", control: Control::Secret, required: true, placeholder: "" },
    FormField { setting: "account_id", control: Control::Text, required: true, placeholder: "AbCdEfGhIjKlMnOpQrStUv" },
    FormField { setting: "system_prompt", control: Control::LongText, required: false, placeholder: "" },
    FormField { setting: "allowed_users", control: Control::Lines, required: false, placeholder: "" },
];

/// The name's control.
const NAME: &str = "name";

/// The form as it was submitted, to show again with its error; secrets are never kept.
struct Draft {
    /// The name typed.
    name: String,
    /// The other values typed, secrets excepted, by setting.
    texts: HashMap<&'static str, String>,
    /// What went wrong.
    error: AppError,
}

/// The query of `GET /resources/zoom`.
#[derive(Debug, Deserialize)]
pub struct ShowQuery {
    /// Set after a chatbot was connected, to say so.
    connected: Option<String>,
}

/// `GET /resources/zoom`.
pub async fn show(State(state): State<AppState>, visitor: Visitor, Query(query): Query<ShowQuery>) -> Response {
    render(&state, &visitor, query.connected.is_some(), None).await
}

async fn render(state: &AppState, visitor: &Visitor, connected: bool, draft: Option<Draft>) -> Response {
    let loaded = match CHANNEL.load(state, visitor).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let status = draft.as_ref().map_or(StatusCode::OK, |d| d.error.status());
    let page = &loaded.page;
    let body = CHANNEL.body(
        &loaded,
        connected,
        steps(page),
        |resource| chatbot_item(page, resource),
        || connect_form(page, draft.as_ref()),
    );
    CHANNEL.render(page, status, body)
}

/// How to make the Team Chat app in the Zoom App Marketplace, and where each value comes from.
fn steps(page: &Page) -> Markup {
    html! {
        section.card #marketplace {
            h2 { (page.t("zoom.steps_title")) }
            ol.steps {
                li { (page.t("zoom.step_open")) " " a href=(MARKETPLACE) rel="noopener noreferrer" target="_blank" { "marketplace.zoom.us" } }
                li { (page.t("zoom.step_credentials")) }
                li { (page.t("zoom.step_chat")) }
                li { (page.t("zoom.step_secret")) }
                li { (page.t("zoom.step_scope")) " " code { (SCOPE) } }
                li { (page.t("zoom.step_connect")) }
                li { (page.t("zoom.step_urls")) }
                li { (page.t("zoom.step_install")) }
            }
            p.hint { (page.t("zoom.secrets_private")) }
        }
    }
}

/// One chatbot: its name, live state, the webhook URL to paste into Zoom, and activate or pause.
fn chatbot_item(page: &Page, resource: &Resource) -> Markup {
    let webhook = info(resource, WEBHOOK_INFO);
    let webhook_id = format!("webhook-{}", resource.id);
    html! {
        li.chatbot data-resource=(resource.id) {
            (CHANNEL.heading(page, resource))
            br;
            (CHANNEL.state(page, resource))
            (CHANNEL.toggle(page, resource))
            div.webhook data-role="webhook" hidden[webhook.is_none()] {
                (page.t("zoom.webhook_label")) " "
                code id=(webhook_id) data-role="webhook-url" { (webhook.unwrap_or_default()) } " "
                button.secondary type="button" data-copy=(format!("#{webhook_id}")) { (page.t("tokens.copy")) }
            }
        }
    }
}

/// The control an error belongs to, or `None` for one shown above the form.
fn error_field(err: &AppError) -> Option<String> {
    if matches!(err, AppError::Core(status) if status.code() == Code::AlreadyExists) {
        return Some("settings.bot_jid".into());
    }
    let field = err.field()?;
    let known = field == NAME || FIELDS.iter().any(|f| f.input() == field);
    known.then_some(field)
}

/// What went wrong with the form, in words saying what to do.
fn error_message(page: &Page, err: &AppError) -> String {
    if matches!(err, AppError::Core(status) if status.code() == Code::AlreadyExists) {
        return page.t("zoom.error.taken").into();
    }
    match err.field().as_deref() {
        Some(NAME) => page.t("resources.name_error").into(),
        Some("provider") => page.t("zoom.not_running").into(),
        Some(field) if field.starts_with("settings.") && FIELDS.iter().any(|f| f.input() == field) => {
            page.t(&format!("zoom.error.{}", &field["settings.".len()..])).into()
        }
        _ => settings_form::error_message(page, err),
    }
}

/// The form to connect a chatbot, holding what was typed (but the secrets) and its error.
fn connect_form(page: &Page, draft: Option<&Draft>) -> Markup {
    let error = draft.map(|d| &d.error);
    let message = |control: &str| {
        error.filter(|err| error_field(err).as_deref() == Some(control)).map(|err| error_message(page, err))
    };
    let general = error.filter(|err| error_field(err).is_none()).map(|err| error_message(page, err));
    let typed = |setting: &str| draft.and_then(|d| d.texts.get(setting)).map_or("", String::as_str);
    html! {
        form method="post" action=(PATH) {
            (page.csrf_field())
            @if let Some(general) = &general { (notice("error", general)) }
            (field(page, Head(NAME, page.t("zoom.name"), true), message(NAME), "zoom.name_hint", |(describedby, invalid): Aria| html! {
                input type="text" name=(NAME) value=(draft.map_or("", |d| &d.name)) required maxlength="100" aria-describedby=(describedby) aria-invalid=[invalid];
            }))
            @for setting in &FIELDS {
                @let input = setting.input();
                @let title = page.t(&format!("zoom.field.{}", setting.setting));
                @let hint = format!("zoom.field.{}_hint", setting.setting);
                (field(page, Head(&input, title, setting.required), message(&input), &hint, |aria: Aria| control(setting, &input, typed(setting.setting), aria)))
            }
            button type="submit" { (page.t("zoom.connect")) }
        }
    }
}

/// The control of one field, holding `text`.
fn control(field: &FormField, name: &str, text: &str, (describedby, invalid): Aria) -> Markup {
    let placeholder = Some(field.placeholder).filter(|p| !p.is_empty());
    html! {
        @match field.control {
            Control::Text => input type="text" name=(name) value=(text) required[field.required] spellcheck="false" placeholder=[placeholder] aria-describedby=(describedby) aria-invalid=[invalid];,
            Control::Secret => input type="password" name=(name) required[field.required] autocomplete="off" spellcheck="false" aria-describedby=(describedby) aria-invalid=[invalid];,
            // The parser drops a newline right after <textarea>, so one is given for it to drop.
            Control::LongText => textarea name=(name) rows="5" maxlength=(MAX_PROMPT_CHARS) aria-describedby=(describedby) aria-invalid=[invalid] { "\n" (text) },
            Control::Lines => textarea.lines name=(name) rows="3" aria-describedby=(describedby) aria-invalid=[invalid] { "\n" (text) },
        }
    }
}

/// [`settings_form::labelled`] with the form's id and a hint from the catalogue.
fn field(
    page: &Page,
    head: Head,
    message: Option<String>,
    hint_key: &str,
    control: impl FnOnce(Aria) -> Markup,
) -> Markup {
    settings_form::labelled(page, "zoom", head, message, Some(html! { (page.t(hint_key)) }), control)
}

/// The settings of a submitted form: the texts trimmed (the secrets among them are split off by
/// `create_resource`), the instructions as typed, the allowed users as a list; empty ones left
/// out.
fn settings(fields: &Fields) -> Map<String, Value> {
    let mut settings = Map::new();
    for field in &FIELDS {
        let typed = form_field(fields, &field.input());
        let value = match field.control {
            Control::Text | Control::Secret => Value::from(typed.trim()),
            Control::LongText => Value::from(typed.replace("\r\n", "\n")),
            Control::Lines => Value::from(list_entries(typed)),
        };
        let empty =
            value.as_str().is_some_and(|text| text.trim().is_empty()) || value.as_array().is_some_and(Vec::is_empty);
        if !empty {
            settings.insert(field.setting.into(), value);
        }
    }
    settings
}

/// `POST /resources/zoom`: connects a chatbot, then shows the page with it listed; or the form
/// again with what to correct.
pub async fn connect(State(state): State<AppState>, visitor: Visitor, Form(fields): Form<Fields>) -> Response {
    if let Err(err) = visitor.check_csrf(Some(form_field(&fields, "csrf"))) {
        return page_error(visitor.lang, err);
    }
    let name = form_field(&fields, NAME).to_owned();
    match create_resource(&state, &visitor.meta, CHANNEL.provider.into(), name.clone(), settings(&fields)).await {
        Ok(resource) => Redirect::to(&format!("{PATH}?connected={}", resource.id)).into_response(),
        Err(err) if err.is_unauthenticated() => crate::error::to_login(),
        Err(error) => {
            let texts = FIELDS
                .iter()
                .filter(|field| field.control != Control::Secret)
                .map(|field| (field.setting, form_field(&fields, &field.input()).to_owned()))
                .collect();
            render(&state, &visitor, false, Some(Draft { name, texts, error })).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reads_into_settings_without_empty_values() {
        let fields: Fields = [
            ("settings.client_id", " AbCdEfGh123 "),
            ("settings.client_secret", "s3cret-value"),
            ("settings.bot_jid", "v1bot@xmpp.zoom.us"),
            ("settings.webhook_secret_token", "token-value"),
            ("settings.account_id", "Acct-1"),
            ("settings.system_prompt", "Be\r\nbrief"),
            ("settings.allowed_users", "zoe-id, max-id\r\n"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let expected = serde_json::json!({
            "client_id": "AbCdEfGh123",
            "client_secret": "s3cret-value",
            "bot_jid": "v1bot@xmpp.zoom.us",
            "webhook_secret_token": "token-value",
            "account_id": "Acct-1",
            "system_prompt": "Be\nbrief",
            "allowed_users": ["zoe-id", "max-id"],
        });
        assert_eq!(Value::Object(settings(&fields)), expected);
        assert_eq!(Value::Object(settings(&Vec::new())), serde_json::json!({}));
    }
}
