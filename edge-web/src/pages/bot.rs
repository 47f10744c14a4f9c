//! The bot's switch, shown on the dashboard, the profile and the channels page: a form that
//! posts to `POST /bot`, which switches and goes back to the page it came from.

use assistchat_proto::v1::{BotStatus, GetBotStatusRequest, StartBotRequest, StopBotRequest};
use axum::{
    Form,
    extract::State,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{Page, notice, page_error};
use crate::{AppState, visitor::Visitor};

/// The pages the switch may send the browser back to.
const BACK: [&str; 5] = ["/", "/profile", "/resources", super::telegram::PATH, super::zoom::PATH];

/// The bot's status for a page; `None` when core could not say (the page shows the rest).
pub async fn status(state: &AppState, visitor: &Visitor) -> Option<BotStatus> {
    let response = state.core.bot().get_bot_status(visitor.meta.request(GetBotStatusRequest {})).await;
    response.ok().and_then(|r| r.into_inner().bot_status)
}

/// The switch's card: on or off, the resources by state, the AI's warning, and the form.
pub fn switch(page: &Page, status: &BotStatus, back: &str) -> Markup {
    let (state_key, button_key) = if status.enabled { ("bot.on", "bot.stop") } else { ("bot.off", "bot.start") };
    let counts = [
        ("ready", "state.ready", status.ready_count),
        ("pending", "state.pending", status.pending_count),
        ("error", "state.error", status.error_count),
        ("paused", "state.paused", status.paused_count),
    ];
    html! {
        section.card.bot #bot data-enabled=(status.enabled) {
            h2 { (page.t("bot.title")) }
            p { (page.t("bot.text")) " " strong data-role="bot-state" { (page.t(state_key)) } }
            p.counts {
                @for (name, key, count) in counts {
                    span class=(format!("count state-{name}")) { (page.t(key)) ": " span data-count=(name) { (count) } } " "
                }
            }
            @if !status.ai_warning.is_empty() { (notice("error", &status.ai_warning)) }
            form method="post" action="/bot" {
                (page.csrf_field())
                input type="hidden" name="back" value=(back);
                input type="hidden" name="enabled" value=(!status.enabled);
                button type="submit" .secondary[status.enabled] { (page.t(button_key)) }
            }
        }
    }
}

/// The switch's form.
#[derive(Deserialize)]
pub struct SwitchForm {
    /// The CSRF token.
    #[serde(default)]
    csrf: String,
    /// `true` to switch on, anything else to switch off.
    #[serde(default)]
    enabled: String,
    /// The page to go back to.
    #[serde(default)]
    back: String,
}

redacted_debug!(SwitchForm { enabled, back ; csrf });

/// `POST /bot`.
pub async fn toggle(State(state): State<AppState>, visitor: Visitor, Form(form): Form<SwitchForm>) -> Response {
    if let Err(err) = visitor.check_csrf(Some(&form.csrf)) {
        return page_error(visitor.lang, err);
    }
    let bot = state.core.bot();
    let switched = if form.enabled == "true" {
        bot.clone().start_bot(visitor.meta.request(StartBotRequest {})).await.map(drop)
    } else {
        bot.clone().stop_bot(visitor.meta.request(StopBotRequest {})).await.map(drop)
    };
    if let Err(status) = switched {
        return page_error(visitor.lang, status.into());
    }
    let back = BACK.into_iter().find(|path| *path == form.back).unwrap_or("/");
    Redirect::to(back).into_response()
}
