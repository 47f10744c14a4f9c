//! A Zoom resource's settings: the schema core validates them with, and their parsed form. The
//! values come from the Team Chat app's pages in the Zoom App Marketplace.

use serde::Deserialize;

/// The settings that are secrets: stored encrypted by core, never shown again.
pub const SECRET_FIELDS: [&str; 2] = ["client_secret", "webhook_secret_token"];

/// The JSON Schema of a Zoom resource's settings, sent to core in the hello; the file is
/// also the web edge's tests' fixture of this provider's form.
pub const SCHEMA: &str = include_str!("../settings.schema.json");

/// The plain settings, as the edge uses them (the secrets come separately).
#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    /// The app's client id.
    pub client_id: String,
    /// The chatbot's JID, which sends every reply.
    pub bot_jid: String,
    /// The account replies go to when an event does not name one.
    pub account_id: String,
    /// Zoom user ids (or user JIDs) that may talk to the chatbot, lower case; empty: all.
    #[serde(default)]
    allowed_users: Vec<String>,
}

impl Settings {
    /// The settings in a start command's JSON; core has validated them against the schema.
    pub fn parse(settings_json: &str) -> Result<Self, serde_json::Error> {
        let mut settings: Self = serde_json::from_str(settings_json)?;
        for user in &mut settings.allowed_users {
            *user = user.trim().to_lowercase();
        }
        Ok(settings)
    }

    /// Whether the person with this user id and JID may talk to the chatbot.
    pub fn allows(&self, user_id: &str, user_jid: &str) -> bool {
        self.allowed_users.is_empty()
            || self.allowed_users.iter().any(|allowed| {
                allowed.eq_ignore_ascii_case(user_id.trim()) || allowed.eq_ignore_ascii_case(user_jid.trim())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUIRED: &str = r#""client_id": "abcdefgh", "bot_jid": "v1bot@xmpp.zoom.us", "account_id": "acct-123""#;

    #[test]
    fn allow_lists_match_user_ids_and_jids_in_any_case() {
        let everyone = Settings::parse(&format!("{{{REQUIRED}}}")).unwrap();
        assert!(everyone.allows("anyone", ""));
        let some =
            Settings::parse(&format!(r#"{{{REQUIRED}, "allowed_users": ["KdYnimT4KPd8", "zoe@xmpp.zoom.us"]}}"#))
                .unwrap();
        assert!(some.allows("kdynimt4kpd8", "other@xmpp.zoom.us"));
        assert!(some.allows("someone", "Zoe@xmpp.zoom.us"));
        assert!(!some.allows("mallory", "mallory@xmpp.zoom.us"));
    }

    #[test]
    fn the_schema_is_json_and_requires_what_zoom_needs() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        assert_eq!(schema["required"].as_array().unwrap().len(), 5);
        for secret in SECRET_FIELDS {
            assert_eq!(schema["properties"][secret]["type"], "string");
        }
    }
}
