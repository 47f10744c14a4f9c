//! A Telegram resource's settings: the schema core validates them with, and their parsed form.

use serde::Deserialize;

/// The JSON Schema of a Telegram resource's settings, sent to core in the hello; the file is
/// also the web edge's tests' fixture of this provider's form.
pub const SCHEMA: &str = include_str!("../settings.schema.json");

/// The settings other than the token, as the edge uses them.
#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    /// User ids and usernames (without "@", lower case) that may talk to the bot; empty: all.
    #[serde(default)]
    allowed_users: Vec<String>,
    /// In groups, whether to answer only messages that mention the bot or reply to it.
    #[serde(default = "yes")]
    pub groups_mentions_only: bool,
}

fn yes() -> bool {
    true
}

impl Settings {
    /// The settings in a start command's JSON; core has validated them against the schema.
    pub fn parse(settings_json: &str) -> Result<Self, serde_json::Error> {
        let mut settings: Self = serde_json::from_str(settings_json)?;
        for user in &mut settings.allowed_users {
            *user = user.trim_start_matches('@').to_lowercase();
        }
        Ok(settings)
    }

    /// Whether the person with this id and username may talk to the bot.
    pub fn allows(&self, user_id: u64, username: Option<&str>) -> bool {
        if self.allowed_users.is_empty() {
            return true;
        }
        let id = user_id.to_string();
        let username = username.map(str::to_lowercase);
        self.allowed_users.iter().any(|allowed| *allowed == id || Some(allowed) == username.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_match_ids_and_usernames_in_any_case() {
        let everyone = Settings::parse("{}").unwrap();
        assert!(everyone.allows(1, None));
        assert!(everyone.groups_mentions_only);
        let some = Settings::parse(r#"{"allowed_users": ["12345", "@Zoe_Smith"]}"#).unwrap();
        assert!(some.allows(12345, None));
        assert!(some.allows(7, Some("zoe_smith")));
        assert!(!some.allows(7, Some("bob_jones")));
        assert!(!some.allows(7, None));
    }

    #[test]
    fn the_schema_is_json() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        assert_eq!(schema["required"][0], "bot_token");
    }
}
