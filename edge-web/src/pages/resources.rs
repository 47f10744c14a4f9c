//! `/resources` and `/resources/{provider}`: the user's channels with their states.
//!
//! Each provider may have its own page template, a function registered in [`TEMPLATES`] under
//! the provider's name, and its own script `static/js/resources_{provider}.js`; a provider
//! without a template gets the generic page. A new provider adds entries, not edits.

use assistchat_proto::v1::{ListProvidersRequest, ListResourcesRequest, Provider, Resource, ResourceState};
use axum::{
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use maud::{Markup, html};

use super::layout::{Page, notice, page_error};
use crate::{AppState, error::AppError, static_files, visitor::Visitor};

/// A provider's own page body: its description, then its resources.
type Template = fn(&Page, &Provider, &[Resource]) -> Markup;

/// The providers with a page of their own; every other provider gets [`generic`].
const TEMPLATES: &[(&str, Template)] = &[];

/// A state badge, coloured by state, with the state's detail as its title.
pub fn state_badge(page: &Page, resource: &Resource) -> Markup {
    let key = match resource.state() {
        ResourceState::Ready => "state.ready",
        ResourceState::Error => "state.error",
        ResourceState::Paused => "state.paused",
        ResourceState::Pending => "state.pending",
        ResourceState::Unspecified => "state.unknown",
    };
    let class = key.replace('.', "-");
    html! { span class=(format!("badge {class}")) title=(resource.state_detail) { (page.t(key)) } }
}

/// `GET /resources`.
pub async fn list(State(state): State<AppState>, visitor: Visitor) -> Response {
    let page = match Page::load(&state, &visitor, "/resources").await {
        Ok(page) if page.user.is_some() => page,
        Ok(_) => return crate::error::to_login(),
        Err(err) => return page_error(visitor.lang, err),
    };
    let providers = state.core.resources().list_providers(visitor.meta.request(ListProvidersRequest {})).await;
    let resources = state.core.resources().list_resources(visitor.meta.request(ListResourcesRequest::default())).await;
    let body = html! {
        h1 { (page.t("resources.title")) }
        p { (page.t("resources.text")) }
        @match (providers, resources) {
            (Ok(providers), Ok(resources)) => {
                @let resources = resources.into_inner().resources;
                @let providers = providers.into_inner().providers;
                @if providers.is_empty() { (notice("info", page.t("resources.no_providers"))) }
                ul.providers {
                    @for provider in &providers {
                        @let own: Vec<&Resource> = resources.iter().filter(|r| r.provider == provider.name).collect();
                        li {
                            a href=(format!("/resources/{}", provider.name)) { (provider.display_name) }
                            @if !provider.online { " " span.badge.state-error { (page.t("resources.provider_offline")) } }
                            ul.resources { @for resource in own { li { (resource.name) " " (state_badge(&page, resource)) } } }
                        }
                    }
                }
            },
            (Err(status), _) | (_, Err(status)) => (notice("info", &AppError::from(status).user_message(page.lang))),
        }
    };
    page.render("resources.title", body).into_response()
}

/// `GET /resources/{provider}`.
pub async fn provider(State(state): State<AppState>, visitor: Visitor, Path(name): Path<String>) -> Response {
    let page = match Page::load(&state, &visitor, "/resources").await {
        Ok(page) if page.user.is_some() => page,
        Ok(_) => return crate::error::to_login(),
        Err(err) => return page_error(visitor.lang, err),
    };
    let providers = match state.core.resources().list_providers(visitor.meta.request(ListProvidersRequest {})).await {
        Ok(response) => response.into_inner().providers,
        Err(status) => return page_error(page.lang, status.into()),
    };
    let Some(provider) = providers.into_iter().find(|p| p.name == name) else {
        return page_error(page.lang, AppError::NotFound);
    };
    let request = ListResourcesRequest { provider: provider.name.clone(), ..Default::default() };
    let resources = match state.core.resources().list_resources(visitor.meta.request(request)).await {
        Ok(response) => response.into_inner().resources,
        Err(status) => return page_error(page.lang, status.into()),
    };
    let template = TEMPLATES.iter().find(|(n, _)| *n == provider.name).map_or(generic as Template, |(_, t)| *t);
    let script = format!("js/resources_{}.js", provider.name);
    let body = html! {
        (template(&page, &provider, &resources))
        @if static_files::exists(&script) { script src=(format!("/static/{script}")) defer {} }
    };
    page.render("resources.title", body).into_response()
}

/// The page of a provider without a template of its own.
fn generic(page: &Page, provider: &Provider, resources: &[Resource]) -> Markup {
    html! {
        h1 { (provider.display_name) }
        @if !provider.description.is_empty() { p { (provider.description) } }
        @if resources.is_empty() { p { (page.t("resources.empty")) } }
        ul.resources { @for resource in resources { li { (resource.name) " " (state_badge(page, resource)) } } }
    }
}
