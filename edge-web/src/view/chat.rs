//! The browser chat as the page and the JSON API both show it: the ids that make a resent
//! message safe, and what to tell a person when a message got no reply.

use assistchat_proto::v1::ChatMessageRole;
use tonic::Code;

use crate::{error::AppError, i18n::Lang};

/// The longest message core takes, in characters.
pub const MAX_TEXT_CHARS: usize = 32_768;

/// How many messages a page of the history shows: core's default page.
pub const HISTORY_PAGE_SIZE: i32 = 50;

/// The gRPC codes whose status messages core writes for the person, in their language, with
/// what to do: for these the page shows core's words as they are.
const CORE_WORDS: [Code; 4] =
    [Code::InvalidArgument, Code::FailedPrecondition, Code::ResourceExhausted, Code::Unavailable];

/// A fresh id for one message, so that sending it again (a reload, a retry after a lost answer)
/// returns the stored reply instead of asking the model twice.
pub fn new_client_message_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `user` or `assistant` (or `unknown`).
pub fn role_name(role: ChatMessageRole) -> &'static str {
    match role {
        ChatMessageRole::User => "user",
        ChatMessageRole::Assistant => "assistant",
        ChatMessageRole::Unspecified => "unknown",
    }
}

/// What to tell a person whose message got no reply: core's own words for the chat's failures,
/// our catalogue's when the call failed on the way to core or back.
pub fn failure_message(err: &AppError, lang: Lang) -> String {
    match err {
        AppError::Core(status) if err.from_core() && CORE_WORDS.contains(&status.code()) => {
            let detail = err.detail();
            if detail.trim().is_empty() { err.user_message(lang) } else { detail }
        }
        // Our own deadline ran out (core answers within it unless something is stuck).
        AppError::Core(status) if matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded) => {
            lang.t("chat.too_slow").into()
        }
        _ => err.user_message(lang),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn core_words_are_shown_and_transport_failures_explained() {
        let quota = AppError::Core(tonic::Status::resource_exhausted("Today's AI quota is spent."));
        assert_eq!(failure_message(&quota, Lang::En), "Today's AI quota is spent.");

        let mut lost = tonic::Status::unavailable("tcp connect error");
        lost.set_source(Arc::new(std::io::Error::other("connection refused")));
        let lost = AppError::Core(lost);
        assert!(!lost.from_core());
        assert_eq!(failure_message(&lost, Lang::En), Lang::En.t("error.core_unavailable"));

        let slow = AppError::Core(tonic::Status::cancelled("Timeout expired"));
        assert_eq!(failure_message(&slow, Lang::Ru), Lang::Ru.t("chat.too_slow"));
    }

    #[test]
    fn ids_are_unique() {
        assert_ne!(new_client_message_id(), new_client_message_id());
        assert!(new_client_message_id().len() <= 100);
    }
}
