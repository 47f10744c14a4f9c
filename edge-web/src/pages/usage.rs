//! The profile's AI usage card: tokens per day over the last week and, in managed mode, what is
//! left of today's quota.

use assistchat_proto::v1::{AiMode, GetUsageRequest, GetUsageResponse};
use maud::{Markup, html};

use crate::{
    error::AppError,
    http::visitor::Visitor,
    state::AppState,
    view::{
        layout::{Page, notice},
        time::format_time,
    },
};

/// How many days the card shows, today included.
const DAYS_SHOWN: i32 = 7;

/// The caller's usage, or why it could not be had (the rest of the page is shown anyway).
pub async fn load(state: &AppState, visitor: &Visitor) -> Result<GetUsageResponse, AppError> {
    let request = visitor.meta.request(GetUsageRequest { day_count: DAYS_SHOWN });
    Ok(state.core.bot().get_usage(request).await?.into_inner())
}

/// The usage card.
pub fn card(page: &Page, usage: &Result<GetUsageResponse, AppError>) -> Markup {
    html! {
        section.card.usage #usage {
            h2 { (page.t("usage.title")) }
            @match usage {
                Ok(usage) => {
                    p { (page.t("usage.text")) }
                    (quota(page, usage))
                    (days(page, usage))
                },
                Err(err) => (notice("info", &err.user_message(page.lang))),
            }
        }
    }
}

/// The quota in managed mode: how much per day, how much is left, when it starts again.
fn quota(page: &Page, usage: &GetUsageResponse) -> Markup {
    let text = if usage.ai_mode() == AiMode::Byok {
        page.t("usage.own_key").to_owned()
    } else if usage.daily_token_quota == 0 {
        page.t("usage.no_quota").to_owned()
    } else {
        let reset = usage.quota_reset_time.as_ref().map(format_time).unwrap_or_default();
        let args = [
            ("quota", usage.daily_token_quota.to_string()),
            ("remaining", usage.remaining_tokens.to_string()),
            ("reset", reset),
        ];
        let args: Vec<(&str, &str)> = args.iter().map(|(name, value)| (*name, value.as_str())).collect();
        page.lang.format("usage.quota", &args)
    };
    html! { p.quota #quota { (text) } }
}

/// The table of days, newest first, with the days whose counts are partly estimated marked.
fn days(page: &Page, usage: &GetUsageResponse) -> Markup {
    let estimated = usage.days.iter().any(|day| day.estimated);
    html! {
        table #usage-days {
            thead {
                tr {
                    th { (page.t("usage.date")) }
                    th.number { (page.t("usage.prompt")) }
                    th.number { (page.t("usage.completion")) }
                    th.number { (page.t("usage.total")) }
                    th.number { (page.t("usage.requests")) }
                    th { (page.t("usage.note")) }
                }
            }
            tbody {
                @for day in &usage.days {
                    tr data-date=(day.date) {
                        td { (day.date) }
                        td.number { (day.prompt_tokens) }
                        td.number { (day.completion_tokens) }
                        td.number { (day.total_tokens) }
                        td.number { (day.request_count) }
                        td { @if day.estimated { span.estimated { (page.t("usage.estimated")) } } }
                    }
                }
            }
        }
        @if estimated { p { small { (page.t("usage.estimated_hint")) } } }
    }
}
