//! `/resources/{id}`: one channel: its live state and what to do about an error, what its
//! provider reports, the edit form, activate or pause, and delete after a confirmation.

use std::collections::HashMap;

use assistchat_proto::v1::{DeleteResourceRequest, Resource, ResourceDesiredState, ResourceInfoItem, ResourceInfoKind};
use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};

use super::{Saved, channel::CHANNELS, signed_in_frame};
use crate::{
    error::AppError,
    http::{error::PageError, visitor::Visitor},
    state::AppState,
    view::{
        form::{self, Fields, form_field, kept_texts},
        layout::{Page, notice},
        resource::{StateView, settings_of},
        settings_form::{self, FormSpec, FormValues},
        states::{live, state_line},
    },
};

/// What to show on the page besides the resource.
enum Outcome {
    /// Nothing.
    None,
    /// A change was saved.
    Saved,
    /// The edit form failed: its values as typed (secrets dropped) and the error.
    Edit { name: String, texts: HashMap<String, String>, error: AppError },
    /// Delete was asked without the confirmation.
    Unconfirmed,
}

/// `GET /resources/{id}`.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(saved): Query<Saved>,
) -> Result<Response, PageError> {
    let outcome = if saved.saved.is_some() { Outcome::Saved } else { Outcome::None };
    render(&state, &visitor, id, outcome).await
}

async fn render(state: &AppState, visitor: &Visitor, id: String, outcome: Outcome) -> Result<Response, PageError> {
    let page = signed_in_frame(state, visitor, "/resources").await?;
    let loaded = state.core.resource_with_provider(&visitor.meta, id).await;
    let (resource, provider) = loaded.map_err(PageError::in_lang(page.lang))?;
    let view = StateView::from(&resource);
    let status = match &outcome {
        Outcome::Edit { error, .. } => error.status(),
        Outcome::Unconfirmed => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let settings = form::settings(&provider);
    let stored = form::form_texts(&settings_of(&resource));
    let (name, texts, error) = match &outcome {
        Outcome::Edit { name, texts, error } => (name.as_str(), texts, Some(error)),
        _ => (resource.name.as_str(), &stored, None),
    };
    let values = FormValues { name, texts, masks: &resource.secret_masks, error };
    let paused = resource.desired_state() == ResourceDesiredState::Paused;
    let base = format!("/resources/{}", resource.id);
    let body = html! {
        p { a href="/resources" { "← " (page.t("resources.title")) } }
        h1 { (resource.name) }
        @if matches!(outcome, Outcome::Saved) { (notice("ok", page.t("profile.saved"))) }
        section.card #state data-resource=(resource.id) {
            h2 { (page.t("resource.state")) }
            p { (provider_name(&provider.display_name, &resource.provider)) }
            p.state { (state_line(&page, &view)) }
            @if !resource.status_info.is_empty() { (info(&page, &resource.status_info)) }
            form.inline method="post" action=(format!("{base}/{}", if paused { "activate" } else { "pause" })) {
                (page.csrf_field())
                button type="submit" .secondary[!paused] { (page.t(if paused { "resource.activate" } else { "resource.pause" })) }
            }
        }
        section.card #edit {
            h2 { (page.t("resource.edit")) }
            form method="post" action=(base) {
                (page.csrf_field())
                (settings_form::fields(&page, &FormSpec { id: "edit", provider: &provider, settings: &settings }, &values))
                button type="submit" { (page.t("form.save")) }
            }
        }
        (delete_card(&page, &resource, matches!(outcome, Outcome::Unconfirmed)))
    };
    Ok((status, page.render("resources.title", live(&page, body))).into_response())
}

fn provider_name<'a>(display_name: &'a str, name: &'a str) -> &'a str {
    if display_name.is_empty() { name } else { display_name }
}

/// What the provider reported: links as links, values to copy with a copy button.
fn info(page: &Page, items: &[ResourceInfoItem]) -> Markup {
    html! {
        dl.status-info {
            @for (i, item) in items.iter().enumerate() {
                dt { (item.label) }
                dd {
                    @match item.kind() {
                        ResourceInfoKind::Link if item.value.starts_with("https://") || item.value.starts_with("http://") => {
                            a href=(item.value) rel="noopener noreferrer" target="_blank" { (item.value) }
                        },
                        ResourceInfoKind::Copyable => {
                            code id=(format!("info-{i}")) { (item.value) } " "
                            button.secondary type="button" data-copy=(format!("#info-{i}")) { (page.t("tokens.copy")) }
                        },
                        _ => span.text { (item.value) },
                    }
                }
            }
        }
    }
}

fn delete_card(page: &Page, resource: &Resource, unconfirmed: bool) -> Markup {
    html! {
        section.card #delete {
            h2 { (page.t("resource.delete")) }
            form method="post" action=(format!("/resources/{}/delete", resource.id)) {
                (page.csrf_field())
                label.inline {
                    input type="checkbox" name="confirm" value="yes" aria-describedby="delete-error" aria-invalid=[unconfirmed.then_some("true")];
                    (page.t("resource.delete_confirm"))
                }
                p.field-error #delete-error role="alert" hidden[!unconfirmed] { (page.t("resource.delete_unconfirmed")) }
                button.danger type="submit" { (page.t("resource.delete")) }
            }
        }
    }
}

/// `POST /resources/{id}`: saves the name and settings; a secret left empty keeps its value.
pub async fn update(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    visitor.check_csrf(Some(form_field(&fields, "csrf")))?;
    let name = form_field(&fields, "name").to_owned();
    let (_, provider) = state.core.resource_with_provider(&visitor.meta, id.clone()).await?;
    let settings = form::settings(&provider);
    let updated = match form::read(&settings, &form::submitted(&fields)) {
        Ok(values) => state.core.update_resource(&visitor.meta, id.clone(), Some(name.clone()), Some(values)).await,
        Err(err) => Err(err),
    };
    match updated {
        Ok(_) => Ok(Redirect::to(&format!("/resources/{id}?saved=1")).into_response()),
        Err(err) if err.is_unauthenticated() => Err(err.into()),
        Err(error) => {
            let outcome = Outcome::Edit { name, texts: kept_texts(&settings, &fields), error };
            render(&state, &visitor, id, outcome).await
        }
    }
}

/// `POST /resources/{id}/activate`, `.../pause` and `.../delete` (which needs the confirmation
/// ticked, or asks for it). Activate and pause go back to a channel's page when its form says
/// `back=/resources/telegram` (or another channel's), else to the resource's page.
pub async fn act(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, action)): Path<(String, String)>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    visitor.check_csrf(Some(form_field(&fields, "csrf")))?;
    let active = match action.as_str() {
        "activate" => true,
        "pause" => false,
        "delete" => return delete(&state, &visitor, id, &fields).await,
        _ => return Err(AppError::NotFound.into()),
    };
    // The channels' pages' buttons ask to come back to them; any other `back` is ignored.
    let back = CHANNELS.map(|channel| channel.path).into_iter().find(|path| form_field(&fields, "back") == *path);
    state.core.set_active(&visitor.meta, id.clone(), active).await?;
    Ok(Redirect::to(&back.map_or_else(|| format!("/resources/{id}"), str::to_owned)).into_response())
}

async fn delete(state: &AppState, visitor: &Visitor, id: String, fields: &Fields) -> Result<Response, PageError> {
    if form_field(fields, "confirm") != "yes" {
        return render(state, visitor, id, Outcome::Unconfirmed).await;
    }
    state.core.resources().delete_resource(visitor.meta.request(DeleteResourceRequest { id })).await?;
    Ok(Redirect::to("/resources").into_response())
}
