//! `POST /bot`: the bot's switch (its card is [`crate::view::bot`]), which switches and goes back
//! to the page it came from.

use assistchat_proto::v1::{StartBotRequest, StopBotRequest};
use axum::{Form, extract::State, response::Redirect};
use serde::Deserialize;

use super::channel::CHANNELS;
use crate::{
    http::{error::PageError, visitor::Visitor},
    state::AppState,
};

/// The pages the switch may send the browser back to, besides the channels' pages.
const BACK: [&str; 3] = ["/", "/profile", "/resources"];

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
pub async fn toggle(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<SwitchForm>,
) -> Result<Redirect, PageError> {
    visitor.check_csrf(Some(&form.csrf))?;
    let mut bot = state.core.bot();
    if form.enabled == "true" {
        bot.start_bot(visitor.meta.request(StartBotRequest {})).await?;
    } else {
        bot.stop_bot(visitor.meta.request(StopBotRequest {})).await?;
    }
    let channels = CHANNELS.map(|channel| channel.path);
    let back = BACK.into_iter().chain(channels).find(|path| *path == form.back).unwrap_or("/");
    Ok(Redirect::to(back))
}
