//! Checking a resource's credentials with its service before serving it: told to the owner as
//! it goes, refused credentials end the run, and a service that cannot be reached is asked again
//! until it answers or the resource is stopped.

use std::{future::Future, time::Duration};

use assistchat_proto::v1::ResourceErrorAction;

use crate::provider::Session;

/// How long to wait before asking a service that could not be reached again.
pub const RETRY_CHECK: Duration = Duration::from_secs(5);

/// What one check found.
pub enum Checked<T> {
    /// The credentials work; what the service said about the account.
    Accepted(T),
    /// The service refused them: the owner must fix the settings.
    Rejected,
    /// The service could not be reached, and why.
    Unreachable(String),
}

/// How a check is told on the resource's page.
pub struct CheckWords<'a> {
    /// While checking, such as "Checking the token with Telegram."
    pub starting: &'a str,
    /// The service's name, such as "Telegram".
    pub service: &'a str,
    /// What to do about refused credentials, and its reason code.
    pub rejected: (&'a str, &'a str),
    /// The reason code of a service that cannot be reached, such as "TELEGRAM_UNREACHABLE".
    pub unreachable: &'a str,
}

impl Session {
    /// Runs `check` until the service answers: `Some` with what it said once the credentials
    /// are accepted, `None` when they were refused (reported) or the resource was stopped.
    pub async fn check_credentials<T, Fut>(&self, words: &CheckWords<'_>, mut check: impl FnMut() -> Fut) -> Option<T>
    where
        Fut: Future<Output = Checked<T>>,
    {
        self.starting(words.starting);
        loop {
            let checked = tokio::select! {
                checked = check() => checked,
                () = self.cancelled() => return None,
            };
            match checked {
                Checked::Accepted(answer) => return Some(answer),
                Checked::Rejected => {
                    let (detail, reason) = words.rejected;
                    self.error(detail, reason, ResourceErrorAction::FixSettings);
                    return None;
                }
                Checked::Unreachable(why) => {
                    let detail = format!("{} cannot be reached ({why}). Trying again by itself.", words.service);
                    self.error(&detail, words.unreachable, ResourceErrorAction::None);
                    tokio::select! {
                        () = tokio::time::sleep(RETRY_CHECK) => {}
                        () = self.cancelled() => return None,
                    }
                }
            }
        }
    }
}
