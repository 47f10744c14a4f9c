//! The bot's switch, shown on the dashboard, the profile and the channels' pages: a form that
//! posts to `POST /bot`.

use assistchat_proto::v1::BotStatus;
use maud::{Markup, html};

use super::layout::{Page, notice};

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
