//! `/resources/telegram`: a Telegram bot connected from one page: how to get its token from
//! @BotFather, and the user's bots with their live states, @usernames and links. The rest of the
//! page is every channel's ([`super::channel`]).

use assistchat_proto::v1::Resource;
use maud::{Markup, html};

use super::channel::{Channel, info};
use crate::view::layout::Page;

/// The page among the channels' pages, with every reason the Telegram edge gives (its
/// `Reason::ALL`, as a test of the platform checks), whose words the catalogue has as
/// `telegram.reason.<code>`.
pub const CHANNEL: Channel = Channel {
    path: "/resources/telegram",
    provider: "telegram",
    reasons: &[
        "SETTINGS_UNREADABLE",
        "TOKEN_MISSING",
        "TOKEN_REJECTED",
        "TELEGRAM_CONFLICT",
        "TELEGRAM_UNREACHABLE",
        "WEBHOOK_REFUSED",
        "WEBHOOK_FAILING",
    ],
    script: "resources_telegram.js",
    list: "bots",
    fields: &["bot_token", "system_prompt", "model", "allowed_users", "groups_mentions_only"],
    steps,
    item: bot_item,
};

/// Where people get a bot token.
const BOTFATHER: &str = "https://t.me/BotFather";

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
fn bot_item(channel: &Channel, page: &Page, resource: &Resource) -> Markup {
    let username = info(resource, "username");
    let link = info(resource, "link").filter(|link| link.starts_with("https://"));
    html! {
        li.bot data-resource=(resource.id) {
            (channel.heading(page, resource))
            span.account data-role="account" hidden[username.is_none() && link.is_none()] {
                span data-role="username" { (username.unwrap_or_default()) } " "
                a data-role="link" href=(link.unwrap_or("#")) rel="noopener noreferrer" target="_blank" hidden[link.is_none()] {
                    (page.t("telegram.open"))
                }
            }
            br;
            (channel.state(page, resource))
            (channel.toggle(page, resource))
        }
    }
}
