//! The Attach stream's frames in the bot manager's terms: its commands ([`ToEdge`]) as
//! `AttachResponse`s, and an edge's `ResourceReport` as a [`Report`], bounded on the way in.

use assistchat_proto::v1::{
    AttachResponse, EdgeResourceState, ResourceInfoItem, ResourceReport, ResourceStopReason, StartResourceCommand,
    StopResourceCommand, attach_response::Kind,
};
use tonic::Status;

use crate::bot::manager::{Report, Reported, StopReason, ToEdge};

/// The most status items kept per report, and the longest value.
const MAX_INFO_ITEMS: usize = 32;
const MAX_INFO_VALUE_CHARS: usize = 4096;
/// The longest state detail kept.
const MAX_DETAIL_CHARS: usize = 1000;

/// A command of the manager as the frame that carries it (or the status that ends the stream).
pub fn frame(command: ToEdge) -> Result<AttachResponse, Status> {
    let kind = match command {
        ToEdge::Start(start) => Kind::StartResource(StartResourceCommand {
            resource_id: start.resource_id,
            generation: start.generation,
            owner_user_id: start.owner_user_id,
            owner_display_name: start.owner_display_name,
            owner_language_code: start.owner_language_code,
            name: start.name,
            settings_json: start.settings_json,
            secrets: start.secrets.into_iter().collect(),
        }),
        ToEdge::Stop { resource_id, reason } => {
            let reason = match reason {
                StopReason::Paused => ResourceStopReason::Paused,
                StopReason::BotStopped => ResourceStopReason::BotStopped,
                StopReason::Deleted => ResourceStopReason::Deleted,
                StopReason::Unrunnable => ResourceStopReason::Unspecified,
            };
            Kind::StopResource(StopResourceCommand { resource_id, reason: reason.into() })
        }
        ToEdge::End(status) => return Err(status),
    };
    Ok(AttachResponse { kind: Some(kind) })
}

/// An edge's report, with its texts and items cut to what core keeps.
pub fn report(report: ResourceReport) -> Report {
    let reported = match report.state() {
        EdgeResourceState::Unspecified => None,
        EdgeResourceState::Starting => Some(Reported::Starting),
        EdgeResourceState::Ready => Some(Reported::Ready),
        EdgeResourceState::Error => Some(Reported::Error(report.action().into())),
        EdgeResourceState::Stopped => Some(Reported::Stopped),
    };
    Report {
        reported,
        detail: truncate(&report.detail, MAX_DETAIL_CHARS),
        status_info: status_info_json(&report.status_info),
        resource_id: report.resource_id,
        generation: report.generation,
        reason: report.reason,
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

fn status_info_json(items: &[ResourceInfoItem]) -> String {
    let items: Vec<serde_json::Value> = items
        .iter()
        .take(MAX_INFO_ITEMS)
        .map(|item| {
            serde_json::json!({
                "key": truncate(&item.key, 100),
                "label": truncate(&item.label, 100),
                "value": truncate(&item.value, MAX_INFO_VALUE_CHARS),
                "kind": item.kind,
            })
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_bounded_and_read_into_the_managers_terms() {
        let long = "x".repeat(5000);
        let items =
            (0..40).map(|n| ResourceInfoItem { key: format!("k{n}"), value: long.clone(), ..Default::default() });
        let report = ResourceReport {
            resource_id: "r1".into(),
            generation: 3,
            state: EdgeResourceState::Error.into(),
            detail: long.clone(),
            reason: "TOKEN".into(),
            action: assistchat_proto::v1::ResourceErrorAction::FixSettings.into(),
            status_info: items.collect(),
        };
        let read = super::report(report);
        assert_eq!(read.reported, Some(Reported::Error(crate::store::states::Action::FixSettings)));
        assert_eq!(read.detail.chars().count(), MAX_DETAIL_CHARS);
        let info: Vec<serde_json::Value> = serde_json::from_str(&read.status_info).unwrap();
        assert_eq!(info.len(), MAX_INFO_ITEMS);
        assert_eq!(info[0]["value"].as_str().unwrap().chars().count(), MAX_INFO_VALUE_CHARS);
    }

    #[test]
    fn commands_become_frames_and_an_end_ends_the_stream() {
        let stop = frame(ToEdge::Stop { resource_id: "r1".into(), reason: StopReason::BotStopped }).unwrap();
        let Some(Kind::StopResource(stop)) = stop.kind else { panic!("{stop:?}") };
        assert_eq!(stop.reason(), ResourceStopReason::BotStopped);
        let ended = frame(ToEdge::End(Status::aborted("again"))).unwrap_err();
        assert_eq!(ended.code(), tonic::Code::Aborted);
    }
}
