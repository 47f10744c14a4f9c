//! What pages and the API read and say alike of an account's settings.

use assistchat_proto::v1::OpenAiKeyCheck;

use crate::error::AppError;

/// The expiries the token form offers, in days, besides "never".
pub const TOKEN_EXPIRY_DAYS: [u32; 2] = [30, 90];

/// The token lifetime chosen in a form or a JSON body: `None` for never, or an error naming the
/// choices.
pub fn token_ttl(expire_days: &str) -> Result<Option<prost_types::Duration>, AppError> {
    match expire_days.trim() {
        "" | "never" | "0" => Ok(None),
        days => match days.parse::<u32>() {
            Ok(days) if (1..=3650).contains(&days) => {
                Ok(Some(prost_types::Duration { seconds: i64::from(days) * 86_400, nanos: 0 }))
            }
            _ => Err(AppError::Invalid {
                field: "expire_days".into(),
                message: "choose a number of days from 1 to 3650, or never".into(),
            }),
        },
    }
}

/// `accepted`, `rejected`, `unreachable` or `missing` (or `unknown`).
pub fn key_check_name(check: OpenAiKeyCheck) -> &'static str {
    match check {
        OpenAiKeyCheck::Accepted => "accepted",
        OpenAiKeyCheck::Rejected => "rejected",
        OpenAiKeyCheck::Unreachable => "unreachable",
        OpenAiKeyCheck::Missing => "missing",
        OpenAiKeyCheck::Unspecified => "unknown",
    }
}
