//! `/resources/telegram`: a Telegram bot connected from one page: how to get its token from
//! @BotFather, the form to connect it, and the user's bots with their live states, @usernames,
//! and what went wrong with what to do about it.
//!
//! The form works without JavaScript and creates the resource the way `POST /resources` does.
//! The page loads `static/js/resources_telegram.js`, which follows `/api/bot/events` and updates
//! each bot (marked `data-resource="<id>"`) in place; without it a reload shows the same.

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
pub const PATH: &str = "/resources/telegram";

/// The provider's name, as the Telegram edge says it in its hello.
const PROVIDER: &str = "telegram";

/// The page among the channels' pages: the reasons the Telegram edge gives whose words the
/// catalogue has (as `telegram.reason.<code>`), so that they show in the page's language.
const CHANNEL: Channel = Channel {
    path: PATH,
    provider: PROVIDER,
    reasons: &["TOKEN_REJECTED", "TOKEN_MISSING", "TELEGRAM_CONFLICT", "TELEGRAM_UNREACHABLE", "SETTINGS_UNREADABLE"],
    script: "resources_telegram.js",
    list: "bots",
};

/// Where people get a bot token.
const BOTFATHER: &str = "https://t.me/BotFather";

/// The most characters of instructions, as the provider's schema allows.
const MAX_PROMPT_CHARS: u32 = 4000;

/// The form's controls, named as core's errors are renamed by [`crate::resource::field_name`].
const NAME: &str = "name";
const TOKEN: &str = "settings.bot_token";
const PROMPT: &str = "settings.system_prompt";
const ALLOWED: &str = "settings.allowed_users";
const GROUPS: &str = "settings.groups_mentions_only";

/// The form as it was submitted, to show again with its error; the token is never kept.
struct Draft {
    /// The name typed.
    name: String,
    /// The instructions typed.
    system_prompt: String,
    /// The allowed users as typed.
    allowed_users: String,
    /// Whether the groups box was ticked.
    groups_mentions_only: bool,
    /// What went wrong.
    error: AppError,
}

/// The query of `GET /resources/telegram`.
#[derive(Debug, Deserialize)]
pub struct ShowQuery {
    /// Set after a bot was connected, to say so.
    connected: Option<String>,
}

/// `GET /resources/telegram`.
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
        |resource| bot_item(page, resource),
        || connect_form(page, draft.as_ref()),
    );
    CHANNEL.render(page, status, body)
}

/// How to get a token from @BotFather.
fn steps(page: &Page) -> Markup {
    html! {
        section.card #botfather {
            h2 { (page.t("telegram.steps_title")) }
            ol.steps {
                li { (page.t("telegram.step_open")) " " a href=(BOTFATHER) rel="noopener noreferrer" target="_blank" { "t.me/BotFather" } }
                li { (page.t("telegram.step_newbot")) }
                li { (page.t("telegram.step_token")) }
            }
            p.hint { (page.t("telegram.token_private")) }
        }
    }
}

/// One bot: its name, live state, @username with its link, and activate or pause.
fn bot_item(page: &Page, resource: &Resource) -> Markup {
    let username = info(resource, "username");
    let link = info(resource, "link").filter(|link| link.starts_with("https://"));
    html! {
        li.bot data-resource=(resource.id) {
            (CHANNEL.heading(page, resource))
            span.account data-role="account" hidden[username.is_none() && link.is_none()] {
                span data-role="username" { (username.unwrap_or_default()) } " "
                a data-role="link" href=(link.unwrap_or("#")) rel="noopener noreferrer" target="_blank" hidden[link.is_none()] {
                    (page.t("telegram.open"))
                }
            }
            br;
            (CHANNEL.state(page, resource))
            (CHANNEL.toggle(page, resource))
        }
    }
}

/// Whether `entry` can be a Telegram user id or @username, as the provider's schema says.
fn plausible_user(entry: &str) -> bool {
    let name = entry.strip_prefix('@').unwrap_or(entry);
    let digits = !entry.is_empty() && entry.len() <= 20 && entry.bytes().all(|b| b.is_ascii_digit());
    let username = (4..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    digits || username
}

/// The control an error belongs to, or `None` for one shown above the form.
fn error_field(err: &AppError) -> Option<&'static str> {
    if matches!(err, AppError::Core(status) if status.code() == Code::AlreadyExists) {
        return Some(TOKEN);
    }
    let field = err.field()?;
    [NAME, TOKEN, PROMPT, ALLOWED, GROUPS].into_iter().find(|known| *known == field)
}

/// What went wrong with the form, in words saying what to do.
fn error_message(page: &Page, err: &AppError, draft: &Draft) -> String {
    if matches!(err, AppError::Core(status) if status.code() == Code::AlreadyExists) {
        return page.t("telegram.error.taken").into();
    }
    match err.field().as_deref() {
        Some(NAME) => page.t("resources.name_error").into(),
        Some(TOKEN) => page.t("telegram.error.bot_token").into(),
        Some(PROMPT) => page.t("telegram.error.system_prompt").into(),
        Some(ALLOWED) => match list_entries(&draft.allowed_users).into_iter().find(|e| !plausible_user(e)) {
            Some(entry) => page.lang.format("telegram.error.allowed_user", &[("entry", entry)]),
            None => page.t("telegram.error.allowed_users").into(),
        },
        Some("provider") => page.t("telegram.not_running").into(),
        _ => settings_form::error_message(page, err),
    }
}

/// The form to connect a bot, holding what was typed (but the token) and its error.
fn connect_form(page: &Page, draft: Option<&Draft>) -> Markup {
    let error = draft.map(|d| (d, &d.error));
    let message = |control: &str| {
        error.filter(|(_, err)| error_field(err) == Some(control)).map(|(draft, err)| error_message(page, err, draft))
    };
    let general =
        error.filter(|(_, err)| error_field(err).is_none()).map(|(draft, err)| error_message(page, err, draft));
    let text = |f: fn(&Draft) -> &str| draft.map_or("", f);
    let groups = draft.is_none_or(|d| d.groups_mentions_only);
    let hint = |key: &str| Some(html! { (page.t(key)) });
    html! {
        form method="post" action=(PATH) {
            (page.csrf_field())
            @if let Some(general) = &general { (notice("error", general)) }
            (field(page, Head(NAME, page.t("telegram.name"), true), message(NAME), hint("telegram.name_hint"), |(describedby, invalid): Aria| html! {
                input type="text" name=(NAME) value=(text(|d| &d.name)) required maxlength="100" aria-describedby=(describedby) aria-invalid=[invalid];
            }))
            (field(page, Head(TOKEN, page.t("telegram.token"), true), message(TOKEN), hint("telegram.token_hint"), |(describedby, invalid): Aria| html! {
                input type="password" name=(TOKEN) required autocomplete="off" spellcheck="false" placeholder="123456789:AAE…" aria-describedby=(describedby) aria-invalid=[invalid];
            }))
            (field(page, Head(PROMPT, page.t("telegram.prompt"), false), message(PROMPT), hint("telegram.prompt_hint"), |(describedby, invalid): Aria| html! {
                // The parser drops a newline right after <textarea>, so one is given for it to drop.
                textarea name=(PROMPT) rows="5" maxlength=(MAX_PROMPT_CHARS) aria-describedby=(describedby) aria-invalid=[invalid] { "\n" (text(|d| &d.system_prompt)) }
            }))
            (field(page, Head(ALLOWED, page.t("telegram.allowed"), false), message(ALLOWED), hint("telegram.allowed_hint"), |(describedby, invalid): Aria| html! {
                textarea.lines name=(ALLOWED) rows="3" aria-describedby=(describedby) aria-invalid=[invalid] { "\n" (text(|d| &d.allowed_users)) }
            }))
            (field(page, Head(GROUPS, page.t("telegram.groups"), false), message(GROUPS), hint("telegram.groups_hint"), |(describedby, invalid): Aria| html! {
                input type="checkbox" name=(GROUPS) checked[groups] aria-describedby=(describedby) aria-invalid=[invalid];
            }))
            button type="submit" { (page.t("telegram.connect")) }
        }
    }
}

/// [`settings_form::field`] with the form's id.
fn field(
    page: &Page,
    head: Head,
    message: Option<String>,
    hint: Option<Markup>,
    control: impl FnOnce(Aria) -> Markup,
) -> Markup {
    settings_form::labelled(page, "telegram", head, message, hint, control)
}

/// The settings of a submitted form: the token (a secret, split off by `create_resource`), the
/// instructions, the allowed users as a list, and the groups box.
fn settings(fields: &Fields) -> Map<String, Value> {
    let mut settings = Map::new();
    let token = form_field(fields, TOKEN).trim();
    if !token.is_empty() {
        settings.insert("bot_token".into(), token.into());
    }
    let prompt = form_field(fields, PROMPT).replace("\r\n", "\n");
    if !prompt.trim().is_empty() {
        settings.insert("system_prompt".into(), prompt.into());
    }
    let allowed: Vec<Value> = list_entries(form_field(fields, ALLOWED)).into_iter().map(Value::from).collect();
    if !allowed.is_empty() {
        settings.insert("allowed_users".into(), allowed.into());
    }
    settings.insert("groups_mentions_only".into(), (!form_field(fields, GROUPS).is_empty()).into());
    settings
}

/// `POST /resources/telegram`: connects a bot, then shows the page with it listed; or the form
/// again with what to correct.
pub async fn connect(State(state): State<AppState>, visitor: Visitor, Form(fields): Form<Fields>) -> Response {
    if let Err(err) = visitor.check_csrf(Some(form_field(&fields, "csrf"))) {
        return page_error(visitor.lang, err);
    }
    let name = form_field(&fields, NAME).to_owned();
    match create_resource(&state, &visitor.meta, PROVIDER.into(), name.clone(), settings(&fields)).await {
        Ok(resource) => Redirect::to(&format!("{PATH}?connected={}", resource.id)).into_response(),
        Err(err) if err.is_unauthenticated() => crate::error::to_login(),
        Err(error) => {
            let draft = Draft {
                name,
                system_prompt: form_field(&fields, PROMPT).to_owned(),
                allowed_users: form_field(&fields, ALLOWED).to_owned(),
                groups_mentions_only: !form_field(&fields, GROUPS).is_empty(),
                error,
            };
            render(&state, &visitor, false, Some(draft)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_users_split_at_commas_and_lines() {
        assert_eq!(list_entries("@ann, 12345\r\nbob_smith,,\n"), ["@ann", "12345", "bob_smith"]);
    }

    #[test]
    fn only_ids_and_usernames_are_plausible() {
        for good in ["@ann_b", "zoe_smith", "12345", "@A123"] {
            assert!(plausible_user(good), "{good}");
        }
        for bad in ["@ab", "_ann", "1ann", "ann-b", "@", "123456789012345678901"] {
            assert!(!plausible_user(bad), "{bad}");
        }
    }

    #[test]
    fn the_form_reads_into_settings() {
        let fields: Fields = [(TOKEN, " 123:abc "), (PROMPT, "Hi\r\nthere"), (ALLOWED, "@ann, 42"), (GROUPS, "on")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let read = Value::Object(settings(&fields));
        let expected = serde_json::json!({
            "bot_token": "123:abc",
            "system_prompt": "Hi\nthere",
            "allowed_users": ["@ann", "42"],
            "groups_mentions_only": true,
        });
        assert_eq!(read, expected);
        assert_eq!(Value::Object(settings(&Vec::new())), serde_json::json!({"groups_mentions_only": false}));
    }
}
