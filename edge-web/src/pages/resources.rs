//! `/resources`: the user's channels with their live states, the bot's switch, and a form per
//! provider to connect a new channel, generated from the provider's settings schema.
//!
//! Pages with states load `static/js/resources.js`, which follows `/api/bot/events` and updates
//! every element marked `data-resource="<id>"` in place; without it a reload shows the same.

use std::collections::HashMap;

use assistchat_proto::v1::{ListResourcesRequest, Provider, ResourceState};
use axum::{
    Form,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde_json::{Map, Value};

use super::{
    bot,
    layout::{Page, notice, page_error},
    settings_form::{self, FormValues},
};
use crate::{
    AppState,
    error::AppError,
    i18n::has_message,
    resource::{StateView, action_name, create_resource, providers, state_name},
    schema,
    visitor::Visitor,
};

/// The reasons core gives whose words the catalogue has in every language (as `reason.<code>`).
const REASONS: [&str; 5] = ["STARTING", "PAUSED", "BOT_STOPPED", "PROVIDER_OFFLINE", "PROVIDER_CONNECTING"];

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
    let key = format!("reason.{}", view.reason);
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
        .chain(REASONS.map(|r| format!("reason.{r}")))
        .chain(ACTIONS.map(|a| format!("action.{a}")))
        .chain(["bot.on", "bot.off", "bot.start", "bot.stop"].map(String::from))
        .chain(extra.iter().map(|key| (*key).to_owned()));
    let labels: Map<String, Value> = keys.map(|key| (key.clone(), Value::String(page.t(&key).into()))).collect();
    Value::Object(labels).to_string()
}

/// A connect form as it was submitted, to show again with its error.
pub struct Draft {
    /// The provider's name.
    provider: String,
    /// The name typed.
    name: String,
    /// The settings typed, secrets dropped.
    texts: HashMap<String, String>,
    /// What went wrong.
    error: AppError,
}

/// `GET /resources`.
pub async fn list(State(state): State<AppState>, visitor: Visitor) -> Response {
    render(&state, &visitor, None).await
}

async fn render(state: &AppState, visitor: &Visitor, draft: Option<Draft>) -> Response {
    let page = match Page::load(state, visitor, "/resources").await {
        Ok(page) if page.user.is_some() => page,
        Ok(_) => return crate::error::to_login(),
        Err(err) => return page_error(visitor.lang, err),
    };
    let loaded = async {
        let providers = providers(state, &visitor.meta).await?;
        let request = ListResourcesRequest { page_size: 100, ..Default::default() };
        let resources = state.core.resources().list_resources(visitor.meta.request(request)).await?;
        Ok::<_, AppError>((providers, resources.into_inner().resources))
    };
    let (providers, resources) = match loaded.await {
        Ok(loaded) => loaded,
        Err(err) => return page_error(page.lang, err),
    };
    let bot = bot::status(state, visitor).await;
    let status = draft.as_ref().map_or(StatusCode::OK, |d| d.error.status());
    let body = html! {
        h1 { (page.t("resources.title")) }
        p { (page.t("resources.text")) }
        @if let Some(bot) = &bot { (bot::switch(&page, bot, "/resources")) }
        section.card #channels {
            h2 { (page.t("dashboard.resources_title")) }
            @if resources.is_empty() { p { (page.t("resources.empty")) } }
            ul.resources {
                @for resource in &resources {
                    @let view = StateView::from(resource);
                    li data-resource=(resource.id) {
                        a href=(format!("/resources/{}", resource.id)) { (resource.name) } " "
                        span.provider { (display_name(&providers, &resource.provider)) } " "
                        (state_line(&page, &view))
                    }
                }
            }
        }
        h2 { (page.t("resources.add")) }
        p.telegram-link {
            a href=(super::telegram::PATH) { (page.t("resources.telegram_link")) } " — " (page.t("resources.telegram_text"))
        }
        p.zoom-link {
            a href=(super::zoom::PATH) { (page.t("resources.zoom_link")) } " — " (page.t("resources.zoom_text"))
        }
        @if providers.is_empty() { (notice("info", page.t("resources.no_providers"))) }
        @for provider in &providers {
            (connect_card(&page, provider, draft.as_ref().filter(|d| d.provider == provider.name)))
        }
    };
    (status, page.render("resources.title", live(&page, body))).into_response()
}

/// The name to show for a provider.
fn display_name<'a>(providers: &'a [Provider], name: &'a str) -> &'a str {
    providers.iter().find(|p| p.name == name).map_or(name, |p| p.display_name.as_str())
}

/// A provider's card with its connect form, open when it holds a draft.
fn connect_card(page: &Page, provider: &Provider, draft: Option<&Draft>) -> Markup {
    let empty = HashMap::new();
    let values = FormValues {
        name: draft.map_or("", |d| d.name.as_str()),
        texts: draft.map_or(&empty, |d| &d.texts),
        masks: &empty,
        error: draft.map(|d| &d.error),
    };
    let id = format!("connect-{}", provider.name);
    html! {
        section.card.provider id=(id) data-provider=(provider.name) {
            h3 {
                (provider.display_name)
                @if !provider.online { " " span.badge.state-error { (page.t("resources.provider_offline")) } }
            }
            @if !provider.description.is_empty() { p { (provider.description) } }
            @if !provider.online { p.hint { (page.t("resources.offline_hint")) } }
            details open[draft.is_some()] {
                summary { (page.t("resources.connect")) }
                form method="post" action="/resources" {
                    (page.csrf_field())
                    input type="hidden" name="provider" value=(provider.name);
                    (settings_form::fields(page, &id, &schema::settings(provider), &values))
                    button type="submit" { (page.t("resources.connect")) }
                }
            }
        }
    }
}

/// The fields of a submitted resource form, as sent.
pub type Fields = Vec<(String, String)>;

/// The value of the form field `name`.
pub fn form_field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields.iter().find(|(key, _)| key == name).map_or("", |(_, value)| value.as_str())
}

/// The settings texts of a submitted form to show again: every one but the secrets.
pub fn kept_texts(settings: &[schema::Setting], fields: &Fields) -> HashMap<String, String> {
    let mut texts = schema::submitted(fields);
    texts.retain(|name, _| settings.iter().any(|s| &s.name == name && s.kind != schema::Kind::Secret));
    texts
}

/// `POST /resources`: connects a channel, then shows its page; or the form again with what to
/// correct.
pub async fn create(State(state): State<AppState>, visitor: Visitor, Form(fields): Form<Fields>) -> Response {
    if let Err(err) = visitor.check_csrf(Some(form_field(&fields, "csrf"))) {
        return page_error(visitor.lang, err);
    }
    let provider_name = form_field(&fields, "provider").to_owned();
    let name = form_field(&fields, "name").to_owned();
    let provider = match providers(&state, &visitor.meta).await {
        Ok(list) => list.into_iter().find(|p| p.name == provider_name),
        Err(err) => return page_error(visitor.lang, err),
    };
    let Some(provider) = provider else { return page_error(visitor.lang, AppError::NotFound) };
    let settings = schema::settings(&provider);
    let created = match schema::read(&settings, &schema::submitted(&fields)) {
        Ok(values) => create_resource(&state, &visitor.meta, provider_name.clone(), name.clone(), values).await,
        Err(err) => Err(err),
    };
    match created {
        Ok(resource) => Redirect::to(&format!("/resources/{}", resource.id)).into_response(),
        Err(err) if err.is_unauthenticated() => crate::error::to_login(),
        Err(error) => {
            let draft = Draft { provider: provider_name, name, texts: kept_texts(&settings, &fields), error };
            render(&state, &visitor, Some(draft)).await
        }
    }
}
