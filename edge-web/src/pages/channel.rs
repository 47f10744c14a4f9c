//! The pages of the providers that have one of their own (`/resources/telegram`,
//! `/resources/zoom`): how to get what the form asks for, the form to connect a resource (made
//! from the provider's settings schema), the user's resources of the provider, whether its
//! connector runs, each resource's state in the channel's own words, and the pause or activate
//! button that comes back to the page.
//!
//! [`CHANNELS`] lists them; the routes, the back links and the channel list of `/resources`
//! read it, so a new one is a module with its [`Channel`] plus its catalogue keys, all under
//! the provider's name, such as `zoom.reason.CREDENTIALS_REJECTED` (and the form's, as
//! [`crate::view::settings_form`] names them).
//!
//! Each form works without JavaScript and creates the resource the way `POST /resources` does.
//! The page loads the channel's script, which follows `/api/bot/events` and updates each
//! resource (marked `data-resource="<id>"`) in place; without it a reload shows the same.

use std::collections::HashMap;

use assistchat_proto::v1::{Provider, Resource, ResourceDesiredState, ResourceState};
use axum::{
    Form, Router,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{signed_in_frame, telegram, zoom};
use crate::{
    error::AppError,
    http::{error::PageError, visitor::Visitor},
    i18n::has_message,
    state::AppState,
    view::{
        bot,
        form::{self, Fields, form_field, kept_texts},
        layout::{Page, notice},
        resource::{StateView, action_name},
        settings_form::{self, FormSpec, FormValues},
        states::{action_text, live_labels, state_badge, state_detail},
    },
};

/// The providers with a page of their own.
pub const CHANNELS: [&Channel; 2] = [&telegram::CHANNEL, &zoom::CHANNEL];

/// The routes of every channel's page: `GET` shows it, `POST` connects a resource.
pub fn routes() -> Router<AppState> {
    CHANNELS.into_iter().fold(Router::new(), |router, channel| {
        let show = move |State(state): State<AppState>, visitor: Visitor, Query(query): Query<ShowQuery>| async move {
            channel.show(&state, &visitor, query.connected.is_some(), None).await
        };
        let connect = move |State(state): State<AppState>, visitor: Visitor, Form(fields): Form<Fields>| async move {
            channel.connect(&state, &visitor, &fields).await
        };
        router.route(channel.path, get(show).post(connect))
    })
}

/// The query of a channel's page.
#[derive(Debug, Deserialize)]
struct ShowQuery {
    /// Set after a resource was connected, to say so.
    connected: Option<String>,
}

/// The connect form as it was submitted, to show again with its error; secrets are never kept.
struct Draft {
    /// The name typed.
    name: String,
    /// The settings typed, secrets dropped, by setting name.
    texts: HashMap<String, String>,
    /// What went wrong.
    error: AppError,
}

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
    /// The settings in the order the steps mention them; the rest of the schema's follow.
    pub fields: &'static [&'static str],
    /// How to get what the form asks for.
    pub steps: fn(&Page) -> Markup,
    /// One resource in the list.
    pub item: fn(&Channel, &Page, &Resource) -> Markup,
}

/// What a channel's page is made of, loaded for the visitor.
struct Loaded {
    /// The page, for its words.
    page: Page,
    /// The provider, if its connector ever attached.
    provider: Option<Provider>,
    /// The user's resources of the provider.
    resources: Vec<Resource>,
    /// The bot's switch, if core could say.
    bot: Option<assistchat_proto::v1::BotStatus>,
}

impl Channel {
    /// Everything the page shows.
    async fn load(&self, state: &AppState, visitor: &Visitor) -> Result<Loaded, PageError> {
        let page = signed_in_frame(state, visitor, "/resources").await?;
        let provider = state.core.provider(&visitor.meta, self.provider).await;
        let provider = provider.map_err(PageError::in_lang(page.lang))?;
        let resources = state.core.list_resources(&visitor.meta, self.provider, MAX_LISTED).await;
        let resources = resources.map_err(PageError::in_lang(page.lang))?;
        let bot = state.core.bot_status(&visitor.meta).await;
        Ok(Loaded { page, provider, resources, bot })
    }

    /// The page, with the form holding `draft` and its error when there is one.
    async fn show(
        &self,
        state: &AppState,
        visitor: &Visitor,
        connected: bool,
        draft: Option<Draft>,
    ) -> Result<Response, PageError> {
        let loaded = self.load(state, visitor).await?;
        let status = draft.as_ref().map_or(StatusCode::OK, |d| d.error.status());
        Ok(self.render(&loaded.page, status, self.body(&loaded, connected, draft.as_ref())))
    }

    /// Connects a resource, then shows the page with it listed; or the form again with what to
    /// correct.
    async fn connect(&self, state: &AppState, visitor: &Visitor, fields: &Fields) -> Result<Response, PageError> {
        visitor.check_csrf(Some(form_field(fields, "csrf")))?;
        let name = form_field(fields, "name").to_owned();
        // Without the provider core refuses the resource, saying its connector is not running.
        let provider = state.core.provider(&visitor.meta, self.provider).await?;
        let settings = provider.as_ref().map(|p| form::settings_in_order(p, self.fields)).unwrap_or_default();
        let created = match form::read(&settings, &form::submitted(fields)) {
            Ok(values) => {
                let (known, meta) = (provider.as_ref(), &visitor.meta);
                state.core.create_resource_of(meta, self.provider.into(), known, name.clone(), values).await
            }
            Err(err) => Err(err),
        };
        match created {
            Ok(resource) => Ok(Redirect::to(&format!("{}?connected={}", self.path, resource.id)).into_response()),
            Err(err) if err.is_unauthenticated() => Err(err.into()),
            Err(error) => {
                let draft = Draft { name, texts: kept_texts(&settings, fields), error };
                self.show(state, visitor, false, Some(draft)).await
            }
        }
    }

    /// The page's body: its title, whether a resource was just connected, whether the connector
    /// runs, the bot's switch, the steps, the resources, and the form to connect one while the
    /// connector is known.
    fn body(&self, loaded: &Loaded, connected: bool, draft: Option<&Draft>) -> Markup {
        let (page, p, list) = (&loaded.page, self.provider, self.list);
        html! {
            p { a href="/resources" { "← " (page.t("resources.title")) } }
            h1 { (page.t(&format!("{p}.title"))) }
            p { (page.t(&format!("{p}.text"))) }
            @if connected { (notice("ok", page.t(&format!("{p}.connected")))) }
            (self.connector_notice(page, loaded.provider.as_ref()))
            @if let Some(bot) = &loaded.bot { (bot::switch(page, bot, self.path)) }
            ((self.steps)(page))
            section.card id=(list) {
                h2 { (page.t(&format!("{p}.{list}_title"))) }
                @if loaded.resources.is_empty() { p { (page.t(&format!("{p}.{list}_empty"))) } }
                ul class=(format!("resources {p}-{list}")) {
                    @for resource in &loaded.resources { ((self.item)(self, page, resource)) }
                }
            }
            section.card #connect {
                h2 { (page.t(&format!("{p}.connect_title"))) }
                @match &loaded.provider {
                    Some(provider) => (self.connect_form(page, provider, draft)),
                    None => p { (page.t(&format!("{p}.connect_unavailable"))) },
                }
            }
        }
    }

    /// The form to connect a resource, holding what was typed (but the secrets) and its error.
    fn connect_form(&self, page: &Page, provider: &Provider, draft: Option<&Draft>) -> Markup {
        let settings = form::settings_in_order(provider, self.fields);
        let defaults = form::default_texts(&settings);
        let no_masks = HashMap::new();
        let values = FormValues {
            name: draft.map_or("", |d| d.name.as_str()),
            texts: draft.map_or(&defaults, |d| &d.texts),
            masks: &no_masks,
            error: draft.map(|d| &d.error),
        };
        let form = FormSpec { id: self.provider, provider, settings: &settings };
        html! {
            form method="post" action=(self.path) {
                (page.csrf_field())
                (settings_form::fields(page, &form, &values))
                button type="submit" { (page.t(&format!("{}.connect", self.provider))) }
            }
        }
    }

    /// The page: `body` with the words the live script needs and the script itself.
    fn render(&self, page: &Page, status: StatusCode, body: Markup) -> Response {
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
    fn connector_notice(&self, page: &Page, provider: Option<&Provider>) -> Markup {
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
