//! `/resources/zoom`: a Zoom Team Chat chatbot connected from one page: how to make the app in
//! the Zoom App Marketplace step by step, and the user's chatbots with their live states and the
//! webhook URL to paste into Zoom (as the Zoom edge reports it). The rest of the page is every
//! channel's ([`super::channel`]).

use assistchat_proto::v1::Resource;
use maud::{Markup, html};

use super::channel::{Channel, info};
use crate::view::layout::Page;

/// The page among the channels' pages, with every reason the Zoom edge gives (its
/// `Reason::ALL`, as a test of the platform checks), whose words the catalogue has as
/// `zoom.reason.<code>`.
pub const CHANNEL: Channel = Channel {
    path: "/resources/zoom",
    provider: "zoom",
    reasons: &["CREDENTIALS_REJECTED", "SEND_REFUSED", "SECRET_MISSING", "ZOOM_UNREACHABLE", "SETTINGS_UNREADABLE"],
    script: "resources_zoom.js",
    list: "chatbots",
    // In the order the steps mention their values.
    fields: &[
        "client_id",
        "client_secret",
        "bot_jid",
        "webhook_secret_token",
        "account_id",
        "system_prompt",
        "model",
        "allowed_users",
    ],
    steps,
    item: chatbot_item,
};

/// Where Team Chat apps are made.
const MARKETPLACE: &str = "https://marketplace.zoom.us/";

/// The scope a chatbot needs to send messages.
const SCOPE: &str = "imchat:bot";

/// The key under which the Zoom edge reports a chatbot's webhook URL.
const WEBHOOK_INFO: &str = "webhook_url";

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
fn chatbot_item(channel: &Channel, page: &Page, resource: &Resource) -> Markup {
    let webhook = info(resource, WEBHOOK_INFO);
    let webhook_id = format!("webhook-{}", resource.id);
    html! {
        li.chatbot data-resource=(resource.id) {
            (channel.heading(page, resource))
            br;
            (channel.state(page, resource))
            (channel.toggle(page, resource))
            div.webhook data-role="webhook" hidden[webhook.is_none()] {
                (page.t("zoom.webhook_label")) " "
                code id=(webhook_id) data-role="webhook-url" { (webhook.unwrap_or_default()) } " "
                button.secondary type="button" data-copy=(format!("#{webhook_id}")) { (page.t("tokens.copy")) }
            }
        }
    }
}
