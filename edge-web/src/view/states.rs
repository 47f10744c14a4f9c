//! A resource's state on a page: its badge, its reason and what to do about it in the page's
//! language, each marked for the live scripts that follow `/api/bot/events`, and the words those
//! scripts show.

use assistchat_proto::v1::ResourceState;
use maud::{Markup, html};
use serde_json::{Map, Value};

use super::{
    layout::Page,
    resource::{StateView, action_name, state_name},
};
use crate::i18n::{has_message, message_keys};

/// What the catalogue's words for a reason core gives begin with (`reason.<code>`); a test of the
/// platform checks that every reason core gives has them.
const CORE_REASON: &str = "reason.";

/// The actions the catalogue explains (as `action.<name>`).
const ACTIONS: [&str; 4] = ["none", "fix_settings", "reconnect", "wait_for_provider"];

/// A state badge: coloured and named by state.
pub fn state_badge(page: &Page, view: &StateView) -> Markup {
    let name = state_name(view.state);
    html! { span class=(format!("badge state-{name}")) data-role="badge" { (page.t(&format!("state.{name}"))) } }
}

/// The state in words: the catalogue's for the reasons it knows, else what core or the provider
/// said.
pub fn state_detail<'a>(page: &Page, view: &StateView<'a>) -> &'a str {
    let key = format!("{CORE_REASON}{}", view.reason);
    if has_message(&key) { page.t(&key) } else { view.detail }
}

/// What the user can do about a resource in error, if anything is known.
pub fn action_text(page: &Page, view: &StateView) -> Option<&'static str> {
    let action = (view.state == ResourceState::Error).then_some(view.action).and_then(action_name)?;
    Some(page.t(&format!("action.{action}")))
}

/// The badge, the state in words and, in error, what to do: each marked for the live script.
pub fn state_line(page: &Page, view: &StateView) -> Markup {
    let action = action_text(page, view);
    html! {
        (state_badge(page, view)) " "
        span.state-detail data-role="detail" { (state_detail(page, view)) } " "
        strong.state-action data-role="action" hidden[action.is_none()] { (action.unwrap_or_default()) }
    }
}

/// `body` with what `static/js/resources.js` needs: the words it shows, in the page's language.
pub fn live(page: &Page, body: Markup) -> Markup {
    html! {
        div #live data-labels=(live_labels(page, &[])) { (body) }
        script src="/static/js/resources.js" defer {}
    }
}

/// The words the live scripts show, as a JSON object by message key: the states, the reasons
/// and actions the catalogue explains, the bot's switch, and the `extra` keys.
pub fn live_labels(page: &Page, extra: &[&str]) -> String {
    let states = ["ready", "pending", "error", "paused", "unknown"].map(|s| format!("state.{s}"));
    let keys = states
        .into_iter()
        .chain(message_keys(CORE_REASON).map(String::from))
        .chain(ACTIONS.map(|a| format!("action.{a}")))
        .chain(["bot.on", "bot.off", "bot.start", "bot.stop"].map(String::from))
        .chain(extra.iter().map(|key| (*key).to_owned()));
    let labels: Map<String, Value> = keys.map(|key| (key.clone(), Value::String(page.t(&key).into()))).collect();
    Value::Object(labels).to_string()
}
