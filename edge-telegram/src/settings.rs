//! A Telegram resource's settings: the schema core validates them with, and their parsed form.

use serde::Deserialize;
use serde_json::json;

/// The JSON Schema of a Telegram resource's settings, sent to core in the hello.
pub fn schema() -> String {
    json!({
        "type": "object",
        "properties": {
            "bot_token": {
                "type": "string",
                "title": "Bot token",
                "description": "The token @BotFather gave you, such as 123456789:AAE-example-token.",
                "pattern": "^[0-9]{3,20}:[A-Za-z0-9_-]{30,64}$"
            },
            "system_prompt": {
                "type": "string",
                "title": "Instructions for the assistant",
                "description": "How the assistant should answer in this bot; empty for the platform's default.",
                "maxLength": 4000
            },
            "allowed_users": {
                "type": "array",
                "title": "Who may talk to the bot",
                "description": "Telegram user ids or @usernames; empty means everyone.",
                "items": {"type": "string", "pattern": "^(@?[A-Za-z][A-Za-z0-9_]{3,31}|[0-9]{1,20})$"},
                "maxItems": 500
            },
            "groups_mentions_only": {
                "type": "boolean",
                "title": "In groups, answer only when mentioned or replied to",
                "default": true
            }
        },
        "required": ["bot_token"],
        "additionalProperties": false
    })
    .to_string()
}

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
        let schema: serde_json::Value = serde_json::from_str(&schema()).unwrap();
        assert_eq!(schema["required"][0], "bot_token");
    }
}
