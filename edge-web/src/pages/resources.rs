//! `/resources`: the user's channels with their live states, the bot's switch, and a form per
//! provider to connect a new channel, generated from the provider's settings schema.
//!
//! Pages with states load `static/js/resources.js`, which follows `/api/bot/events` and updates
//! every element marked `data-resource="<id>"` in place; without it a reload shows the same.

use std::collections::HashMap;

use assistchat_proto::v1::Provider;
use axum::{
    Form,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};

use super::{channel::CHANNELS, signed_in_frame};
use crate::{
    error::AppError,
    http::{error::PageError, visitor::Visitor},
    state::AppState,
    view::{
        bot,
        form::{self, Fields, form_field, kept_texts},
        layout::{Page, notice},
        resource::StateView,
        settings_form::{self, FormSpec, FormValues},
        states::{live, state_line},
    },
};

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
pub async fn list(State(state): State<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    render(&state, &visitor, None).await
}

async fn render(state: &AppState, visitor: &Visitor, draft: Option<Draft>) -> Result<Response, PageError> {
    let page = signed_in_frame(state, visitor, "/resources").await?;
    let providers = state.core.providers(&visitor.meta).await.map_err(PageError::in_lang(page.lang))?;
    let resources = state.core.list_resources(&visitor.meta, "", 100).await.map_err(PageError::in_lang(page.lang))?;
    let bot = state.core.bot_status(&visitor.meta).await;
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
        @for channel in CHANNELS {
            @let p = channel.provider;
            p class=(format!("{p}-link")) {
                a href=(channel.path) { (page.t(&format!("resources.{p}_link"))) } " — " (page.t(&format!("resources.{p}_text")))
            }
        }
        @if providers.is_empty() { (notice("info", page.t("resources.no_providers"))) }
        @for provider in &providers {
            (connect_card(&page, provider, draft.as_ref().filter(|d| d.provider == provider.name)))
        }
    };
    Ok((status, page.render("resources.title", live(&page, body))).into_response())
}

/// The name to show for a provider.
fn display_name<'a>(providers: &'a [Provider], name: &'a str) -> &'a str {
    providers.iter().find(|p| p.name == name).map_or(name, |p| p.display_name.as_str())
}

/// A provider's card with its connect form, open when it holds a draft.
fn connect_card(page: &Page, provider: &Provider, draft: Option<&Draft>) -> Markup {
    let settings = form::settings(provider);
    let (defaults, no_masks) = (form::default_texts(&settings), HashMap::new());
    let values = FormValues {
        name: draft.map_or("", |d| d.name.as_str()),
        texts: draft.map_or(&defaults, |d| &d.texts),
        masks: &no_masks,
        error: draft.map(|d| &d.error),
    };
    let id = format!("connect-{}", provider.name);
    let form = FormSpec { id: &id, provider, settings: &settings };
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
                    (settings_form::fields(page, &form, &values))
                    button type="submit" { (page.t("resources.connect")) }
                }
            }
        }
    }
}

/// `POST /resources`: connects a channel, then shows its page; or the form again with what to
/// correct.
pub async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    visitor.check_csrf(Some(form_field(&fields, "csrf")))?;
    let provider_name = form_field(&fields, "provider").to_owned();
    let name = form_field(&fields, "name").to_owned();
    let provider = state.core.provider(&visitor.meta, &provider_name).await?.ok_or(AppError::NotFound)?;
    let settings = form::settings(&provider);
    let created = match form::read(&settings, &form::submitted(&fields)) {
        Ok(values) => {
            let meta = &visitor.meta;
            state.core.create_resource_of(meta, provider_name.clone(), Some(&provider), name.clone(), values).await
        }
        Err(err) => Err(err),
    };
    match created {
        Ok(resource) => Ok(Redirect::to(&format!("/resources/{}", resource.id)).into_response()),
        Err(err) if err.is_unauthenticated() => Err(err.into()),
        Err(error) => {
            let draft = Draft { provider: provider_name, name, texts: kept_texts(&settings, &fields), error };
            render(&state, &visitor, Some(draft)).await
        }
    }
}
