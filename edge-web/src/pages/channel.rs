//! What the page of one channel (`/resources/telegram`, `/resources/zoom`) shares with the
//! others: the user's resources of its provider, whether its connector runs, each resource's
//! state in the channel's own words, and the pause or activate button that comes back to the
//! page. A channel's words are catalogue keys under its provider's name, such as
//! `zoom.reason.CREDENTIALS_REJECTED`.

use assistchat_proto::v1::{ListResourcesRequest, Provider, Resource, ResourceDesiredState, ResourceState};
use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};

use super::{
    bot,
    layout::{Page, notice, page_error},
    resources::{action_text, live_labels, state_badge, state_detail},
};
use crate::{
    AppState,
    error::AppError,
    i18n::has_message,
    resource::{StateView, action_name, providers},
    visitor::Visitor,
};

/// The most resources listed; core serves at most this many in one page.
const MAX_LISTED: i32 = 100;

/// One channel's page.
pub struct Channel {
    /// The page's path, such as "/resources/zoom".
    pub path: &'static str,
    /// The provider's name, as its edge says it in its hello; also the prefix of its words.
    pub provider: &'static str,
    /// The reasons its edge gives whose words the catalogue has (as `<provider>.reason.<code>`).
    pub reasons: &'static [&'static str],
    /// The live script under `/static/js/`.
    pub script: &'static str,
    /// What its resources are called in its words and ids, such as "chatbots": the list is
    /// `#<list>`, titled `<provider>.<list>_title`.
    pub list: &'static str,
}

/// What a channel's page is made of, loaded for the visitor.
pub struct Loaded {
    /// The page, for its words.
    pub page: Page,
    /// The provider, if its connector ever attached.
    pub provider: Option<Provider>,
    /// The user's resources of the provider.
    pub resources: Vec<Resource>,
    /// The bot's switch, if core could say.
    pub bot: Option<assistchat_proto::v1::BotStatus>,
}

impl Channel {
    /// Everything the page shows, or the response to send instead (sign in first, an error).
    pub async fn load(&self, state: &AppState, visitor: &Visitor) -> Result<Loaded, Response> {
        let page = match Page::load(state, visitor, "/resources").await {
            Ok(page) if page.user.is_some() => page,
            Ok(_) => return Err(crate::error::to_login()),
            Err(err) => return Err(page_error(visitor.lang, err)),
        };
        let loaded = async {
            let provider = providers(state, &visitor.meta).await?.into_iter().find(|p| p.name == self.provider);
            let request =
                ListResourcesRequest { page_size: MAX_LISTED, provider: self.provider.into(), ..Default::default() };
            let resources = state.core.resources().list_resources(visitor.meta.request(request)).await?;
            Ok::<_, AppError>((provider, resources.into_inner().resources))
        };
        match loaded.await {
            Ok((provider, resources)) => {
                let bot = bot::status(state, visitor).await;
                Ok(Loaded { page, provider, resources, bot })
            }
            Err(err) => Err(page_error(page.lang, err)),
        }
    }

    /// The page's body: its title, whether a resource was just connected, whether the connector
    /// runs, the bot's switch, the `steps`, the resources listed as `item` shows each, and the
    /// `form` to connect one while the connector is known.
    pub fn body(
        &self,
        loaded: &Loaded,
        connected: bool,
        steps: Markup,
        item: impl Fn(&Resource) -> Markup,
        form: impl FnOnce() -> Markup,
    ) -> Markup {
        let (page, p, list) = (&loaded.page, self.provider, self.list);
        html! {
            p { a href="/resources" { "← " (page.t("resources.title")) } }
            h1 { (page.t(&format!("{p}.title"))) }
            p { (page.t(&format!("{p}.text"))) }
            @if connected { (notice("ok", page.t(&format!("{p}.connected")))) }
            (self.connector_notice(page, loaded.provider.as_ref()))
            @if let Some(bot) = &loaded.bot { (bot::switch(page, bot, self.path)) }
            (steps)
            section.card id=(list) {
                h2 { (page.t(&format!("{p}.{list}_title"))) }
                @if loaded.resources.is_empty() { p { (page.t(&format!("{p}.{list}_empty"))) } }
                ul class=(format!("resources {p}-{list}")) {
                    @for resource in &loaded.resources { (item(resource)) }
                }
            }
            section.card #connect {
                h2 { (page.t(&format!("{p}.connect_title"))) }
                @if loaded.provider.is_some() { (form()) } @else { p { (page.t(&format!("{p}.connect_unavailable"))) } }
            }
        }
    }

    /// The page: `body` with the words the live script needs and the script itself.
    pub fn render(&self, page: &Page, status: StatusCode, body: Markup) -> Response {
        let mut keys: Vec<String> = self.reasons.iter().map(|r| format!("{}.reason.{r}", self.provider)).collect();
        keys.push(format!("{}.action.fix_settings", self.provider));
        keys.extend(["resource.activate", "resource.pause"].map(String::from));
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let body = html! {
            div #live data-labels=(live_labels(page, &keys)) { (body) }
            script src="/static/js/resources_channel.js" defer {}
            script src=(format!("/static/js/{}", self.script)) defer {}
        };
        (status, page.render(&format!("{}.title", self.provider), body)).into_response()
    }

    /// Whether the connector runs: nothing when it does, else what that means.
    pub fn connector_notice(&self, page: &Page, provider: Option<&Provider>) -> Markup {
        match provider {
            None => notice("error", page.t(&format!("{}.not_running", self.provider))),
            Some(provider) if !provider.online => notice("error", page.t(&format!("{}.offline", self.provider))),
            Some(_) => html! {},
        }
    }

    /// A resource's state in words and, in error, what to do, each marked for the live script.
    pub fn state(&self, page: &Page, resource: &Resource) -> Markup {
        let view = StateView::from(resource);
        // The settings are not below but on the resource's own page: the generic words do not fit.
        let fix = view.state == ResourceState::Error && action_name(view.action) == Some("fix_settings");
        let action = if fix {
            Some(page.t(&format!("{}.action.fix_settings", self.provider)))
        } else {
            action_text(page, &view)
        };
        let key = format!("{}.reason.{}", self.provider, view.reason);
        let detail = if has_message(&key) { page.t(&key) } else { state_detail(page, &view) };
        html! {
            span.state-detail data-role="detail" { (detail) } " "
            strong.state-action data-role="action" hidden[action.is_none()] { (action.unwrap_or_default()) } " "
        }
    }

    /// A resource's name, linking to its page, and its state badge.
    pub fn heading(&self, page: &Page, resource: &Resource) -> Markup {
        html! {
            a href=(format!("/resources/{}", resource.id)) { (resource.name) } " "
            (state_badge(page, &StateView::from(resource))) " "
        }
    }

    /// The button that pauses or activates a resource and comes back to this page.
    pub fn toggle(&self, page: &Page, resource: &Resource) -> Markup {
        let paused = resource.desired_state() == ResourceDesiredState::Paused;
        let action = format!("/resources/{}/{}", resource.id, if paused { "activate" } else { "pause" });
        html! {
            form.inline method="post" action=(action) data-role="toggle" {
                (page.csrf_field())
                input type="hidden" name="back" value=(self.path);
                button type="submit" .secondary[!paused] { (page.t(if paused { "resource.activate" } else { "resource.pause" })) }
            }
        }
    }
}

/// The value the edge reported under `key`, if any.
pub fn info<'a>(resource: &'a Resource, key: &str) -> Option<&'a str> {
    resource.status_info.iter().find(|item| item.key == key).map(|item| item.value.as_str()).filter(|v| !v.is_empty())
}

/// The entries of a list typed in a text area: split at commas, spaces and line ends.
pub fn list_entries(text: &str) -> Vec<&str> {
    text.split(|c: char| c == ',' || c.is_whitespace()).filter(|entry| !entry.is_empty()).collect()
}
