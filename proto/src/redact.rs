//! `Debug` for the messages that carry a password, a token or a key: every other field is shown,
//! the secret only as `<redacted>` (or `""` when it is empty), so that no log line, panic or test
//! failure can print it. Messages holding these (such as `LoginResponse`, with its `Session`)
//! keep prost's `Debug`, which uses these for the parts that are secret.
//!
//! `build.rs` lists the same messages for prost to skip; the compiler keeps the two lists
//! together, since every prost message must have exactly one `Debug`.

use std::{
    collections::{BTreeSet, HashMap},
    fmt,
};

use crate::v1;

/// Writes `Debug` for messages of [`v1`]: the fields in the first braces are shown as they are,
/// those after `enums` by their enum's name, and those after `hides` redacted. Every field must
/// be named, so that a field added to a message is a compile error here until someone decides
/// whether it may be shown.
macro_rules! redacted_debug {
    ($($message:ident { $($shown:ident),* $(,)? } $(enums { $($enum:ident),+ $(,)? })? hides { $($hidden:ident),+ $(,)? })+) => {
        $(impl fmt::Debug for v1::$message {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let v1::$message { $($shown,)* $($($enum: _,)+)? $($hidden,)+ } = self;
                f.debug_struct(stringify!($message))
                    $(.field(stringify!($shown), $shown))*
                    $($(.field(stringify!($enum), &self.$enum()))+)?
                    $(.field(stringify!($hidden), &Hidden($hidden)))+
                    .finish()
            }
        })+
    };
}

redacted_debug! {
    Session { expire_time } hides { token }
    RegisterRequest { email, display_name, language_code } hides { password }
    LoginRequest { email } hides { password }
    ChangePasswordRequest {} hides { current_password, new_password }
    CreateApiTokenResponse { api_token } hides { token }
    // The authorization address carries the state too.
    BeginIdentitySignInResponse { expire_time } hides { authorization_url, state }
    FinishIdentitySignInRequest { provider_id, error, error_description, language_code } hides { state, code }
    IdentityLinkRequired { email, provider_display_name, expire_time } hides { link_token }
    LinkIdentityWithPasswordRequest {} hides { link_token, password }
    RedeemSignInLinkRequest {} hides { token }
    SetOpenAiKeyRequest {} hides { api_key }
    DeleteAccountRequest {} hides { password }
    Resource {
        id, provider, name, meta_json, secret_masks, state_detail, state_reason, state_change_time, status_info,
        create_time, update_time,
    } enums { desired_state, state, state_action } hides { secrets }
    StartResourceCommand {
        resource_id, generation, owner_user_id, owner_display_name, owner_language_code, name, settings_json,
    } hides { secrets }
}

/// A secret field, as `Debug` shows it.
struct Hidden<'a, T>(&'a T);

/// What stands for a secret's value.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Debug for Hidden<'_, String> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Whether a secret was given at all is often what a reader needs, and tells nothing of it.
        if self.0.is_empty() { f.write_str("\"\"") } else { Redacted.fmt(f) }
    }
}

impl fmt::Debug for Hidden<'_, HashMap<String, String>> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The names of the secrets are not secret; sorted, so that the output is the same each time.
        f.debug_map().entries(self.0.keys().collect::<BTreeSet<_>>().into_iter().map(|name| (name, Redacted))).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cret-value-7f2c";

    fn secrets() -> HashMap<String, String> {
        HashMap::from([("bot_token".to_owned(), SECRET.to_owned())])
    }

    fn session() -> v1::Session {
        v1::Session {
            token: SECRET.into(),
            expire_time: Some(prost_types::Timestamp { seconds: 1_800_000_000, nanos: 0 }),
        }
    }

    /// Each message holding a secret, formatted plainly and pretty, with a field that stays shown.
    fn formatted() -> Vec<(String, &'static str)> {
        let show = |message: &dyn fmt::Debug, visible: &'static str| {
            [(format!("{message:?}"), visible), (format!("{message:#?}"), visible)]
        };
        [
            show(&session(), "1800000000"),
            show(
                &v1::RegisterRequest {
                    email: "ann@example.com".into(),
                    password: SECRET.into(),
                    display_name: "Ann".into(),
                    language_code: "en".into(),
                },
                "ann@example.com",
            ),
            show(&v1::LoginRequest { email: "ann@example.com".into(), password: SECRET.into() }, "ann@example.com"),
            show(&v1::LoginResponse { user: None, session: Some(session()) }, "LoginResponse"),
            show(
                &v1::ChangePasswordRequest { current_password: SECRET.into(), new_password: format!("{SECRET}-new") },
                "ChangePasswordRequest",
            ),
            show(
                &v1::CreateApiTokenResponse {
                    api_token: Some(v1::ApiToken { name: "ci".into(), ..Default::default() }),
                    token: SECRET.into(),
                },
                "\"ci\"",
            ),
            show(
                &v1::BeginIdentitySignInResponse {
                    authorization_url: format!("https://id.example.com/authorize?state={SECRET}"),
                    state: SECRET.into(),
                    expire_time: None,
                },
                "BeginIdentitySignInResponse",
            ),
            show(
                &v1::FinishIdentitySignInRequest {
                    provider_id: "google".into(),
                    state: SECRET.into(),
                    code: format!("{SECRET}-code"),
                    ..Default::default()
                },
                "google",
            ),
            show(
                &v1::IdentityLinkRequired {
                    email: "ann@example.com".into(),
                    link_token: SECRET.into(),
                    ..Default::default()
                },
                "ann@example.com",
            ),
            show(
                &v1::LinkIdentityWithPasswordRequest { link_token: SECRET.into(), password: format!("{SECRET}-pw") },
                "LinkIdentityWithPasswordRequest",
            ),
            show(&v1::RedeemSignInLinkRequest { token: SECRET.into() }, "RedeemSignInLinkRequest"),
            show(&v1::SetOpenAiKeyRequest { api_key: SECRET.into() }, "SetOpenAiKeyRequest"),
            show(&v1::DeleteAccountRequest { password: SECRET.into() }, "DeleteAccountRequest"),
            show(
                &v1::Resource {
                    name: "Family bot".into(),
                    secrets: secrets(),
                    state: v1::ResourceState::Ready.into(),
                    ..Default::default()
                },
                "Family bot",
            ),
            show(
                &v1::CreateResourceRequest {
                    resource: Some(v1::Resource { secrets: secrets(), ..Default::default() }),
                },
                "bot_token",
            ),
            show(
                &v1::StartResourceCommand { resource_id: "r-1".into(), secrets: secrets(), ..Default::default() },
                "bot_token",
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        for (shown, visible) in formatted() {
            assert!(!shown.contains(SECRET), "a secret shows: {shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
            assert!(shown.contains(visible), "{visible} should show: {shown}");
        }
    }

    #[test]
    fn the_rest_of_a_message_still_shows() {
        let resource = v1::Resource { state: v1::ResourceState::Ready.into(), ..Default::default() };
        assert!(format!("{resource:?}").contains("state: Ready"), "{resource:?}");
        let empty = v1::LoginRequest { email: "ann@example.com".into(), password: String::new() };
        assert_eq!(format!("{empty:?}"), r#"LoginRequest { email: "ann@example.com", password: "" }"#);
    }
}
