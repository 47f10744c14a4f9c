//! `/`: what AssistChat is and a way in; for a signed-in user, the dashboard.

use assistchat_proto::v1::{AiMode, BotStatus, OpenAiKeyState, Profile, Resource};
use axum::extract::{Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::frame;
use crate::{
    error::AppError,
    http::{error::PageError, visitor::Visitor},
    state::AppState,
    view::{
        bot,
        layout::{Page, notice},
        resource::StateView,
        states::{live, state_line},
    },
};

/// Query of `GET /`.
#[derive(Debug, Default, Deserialize)]
pub struct Farewell {
    /// Set right after the visitor's account was deleted.
    deleted: Option<String>,
}

/// `GET /`.
pub async fn index(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(farewell): Query<Farewell>,
) -> Result<Markup, PageError> {
    let page = frame(&state, &visitor, "/").await?;
    let Some(profile) = &page.user else {
        let body = html! {
            @if farewell.deleted.is_some() { div #account-deleted { (notice("ok", page.t("data.deleted"))) } }
            (landing(&page))
        };
        return Ok(page.render("index.title", body));
    };
    // Core's default page: the dashboard shows the first of them.
    let resources = state.core.list_resources(&visitor.meta, "", 0).await;
    let bot = state.core.bot_status(&visitor.meta).await;
    Ok(page.render("dashboard.title", live(&page, dashboard(&page, profile, bot, resources))))
}

fn landing(page: &Page) -> Markup {
    html! {
        section.hero {
            h1 { (page.t("index.headline")) }
            p.lead { (page.t("index.lead")) }
            p.actions {
                a.button href="/register" { (page.t("index.cta_register")) }
                a.button.secondary href="/login" { (page.t("nav.login")) }
            }
        }
        section.features {
            article { h2 { (page.t("index.channels_title")) } p { (page.t("index.channels_text")) } }
            article { h2 { (page.t("index.keys_title")) } p { (page.t("index.keys_text")) } }
            article { h2 { (page.t("index.tools_title")) } p { (page.t("index.tools_text")) " " a href="/qr" { (page.t("nav.qr")) } } }
        }
    }
}

fn dashboard(
    page: &Page,
    profile: &Profile,
    bot: Option<BotStatus>,
    resources: Result<Vec<Resource>, AppError>,
) -> Markup {
    let mode = if profile.ai_mode() == AiMode::Byok { page.t("ai.mode_byok") } else { page.t("ai.mode_managed") };
    let key_missing = profile.ai_mode() == AiMode::Byok && profile.openai_key_state() != OpenAiKeyState::Set;
    html! {
        h1 { (page.lang.format("dashboard.greeting", &[("name", &profile.display_name)])) }
        section.card {
            h2 { (page.t("dashboard.ai_title")) }
            p { (page.t("ai.mode")) ": " strong { (mode) } }
            @if key_missing { (notice("error", page.t("dashboard.key_missing"))) }
            p { a href="/profile#ai" { (page.t("dashboard.ai_settings")) } }
        }
        @if let Some(bot) = &bot { (bot::switch(page, bot, "/")) }
        section.card {
            h2 { (page.t("dashboard.resources_title")) }
            @match resources {
                Ok(list) if list.is_empty() => p { (page.t("resources.empty")) " " a href="/resources" { (page.t("resources.add")) } },
                Ok(list) => ul.resources {
                    @for resource in &list {
                        li data-resource=(resource.id) {
                            a href=(format!("/resources/{}", resource.id)) { (resource.name) } " " (state_line(page, &StateView::from(resource)))
                        }
                    }
                },
                Err(err) => (notice("info", &err.user_message(page.lang))),
            }
        }
        section.card {
            h2 { (page.t("dashboard.shortcuts")) }
            ul {
                li { a href="/chat" { (page.t("nav.chat")) } }
                li { a href="/profile" { (page.t("nav.profile")) } }
                li { a href="/resources" { (page.t("nav.resources")) } }
                li { a href="/qr" { (page.t("nav.qr")) } }
            }
        }
    }
}
