//! The `profiles` table: personal data and AI settings of each user.

use sqlx::FromRow;

use super::{Store, StoreError};

/// A stored profile with the account's email.
#[derive(Clone, FromRow)]
pub struct ProfileRecord {
    /// The account's id.
    pub user_id: String,
    /// The account's normalised email.
    pub email: String,
    /// The name shown to the person.
    pub display_name: String,
    /// The interface language.
    pub language_code: String,
    /// `managed` or `byok`.
    pub ai_mode: String,
    /// The user's OpenAI key, sealed by the platform keyring; `None` when not set.
    pub openai_key_sealed: Option<String>,
    /// The key masked to its last characters, for display.
    pub openai_key_mask: String,
    /// `missing`, `set` or `rejected`.
    pub openai_key_state: String,
    /// An OpenAI-compatible base URL; empty for OpenAI itself.
    pub openai_base_url: String,
    /// The model to ask; empty for the platform's default.
    pub openai_model: String,
    /// Last change, in Unix milliseconds.
    pub update_time: i64,
}

// Even sealed, the key stays out of log lines: its mask says all a reader needs.
impl std::fmt::Debug for ProfileRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileRecord")
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .field("display_name", &self.display_name)
            .field("language_code", &self.language_code)
            .field("ai_mode", &self.ai_mode)
            .field("openai_key_sealed", &self.openai_key_sealed.as_ref().map(|_| "<redacted>"))
            .field("openai_key_mask", &self.openai_key_mask)
            .field("openai_key_state", &self.openai_key_state)
            .field("openai_base_url", &self.openai_base_url)
            .field("openai_model", &self.openai_model)
            .field("update_time", &self.update_time)
            .finish_non_exhaustive()
    }
}

/// The fields of a profile its owner edits directly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileSettings {
    /// The name shown to the person.
    pub display_name: String,
    /// The interface language.
    pub language_code: String,
    /// `managed` or `byok`.
    pub ai_mode: String,
    /// An OpenAI-compatible base URL; empty for OpenAI itself.
    pub openai_base_url: String,
    /// The model to ask; empty for the platform's default.
    pub openai_model: String,
}

impl Store {
    /// The profile of this user.
    pub async fn profile(&self, user_id: &str) -> Result<Option<ProfileRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT p.user_id, u.email, p.display_name, p.language_code, p.ai_mode, p.openai_key_sealed, \
             p.openai_key_mask, p.openai_key_state, p.openai_base_url, p.openai_model, p.update_time \
             FROM profiles p JOIN users u ON u.id = p.user_id WHERE p.user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Writes the directly edited fields of a profile.
    pub async fn update_profile_settings(
        &self,
        user_id: &str,
        settings: &ProfileSettings,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE profiles SET display_name = $1, language_code = $2, ai_mode = $3, openai_base_url = $4, \
             openai_model = $5, update_time = $6 WHERE user_id = $7",
        )
        .bind(&settings.display_name)
        .bind(&settings.language_code)
        .bind(&settings.ai_mode)
        .bind(&settings.openai_base_url)
        .bind(&settings.openai_model)
        .bind(now)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Stores (`Some`) or clears (`None`) the user's sealed OpenAI key and its mask.
    pub async fn set_openai_key(
        &self,
        user_id: &str,
        sealed_and_mask: Option<(&str, &str)>,
        now: i64,
    ) -> Result<(), StoreError> {
        let (sealed, mask, state) = match sealed_and_mask {
            Some((sealed, mask)) => (Some(sealed), mask, "set"),
            None => (None, "", "missing"),
        };
        sqlx::query(
            "UPDATE profiles SET openai_key_sealed = $1, openai_key_mask = $2, openai_key_state = $3, \
             update_time = $4 WHERE user_id = $5",
        )
        .bind(sealed)
        .bind(mask)
        .bind(state)
        .bind(now)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Marks the user's stored key as `set` (accepted) or `rejected`; a profile without a key
    /// is left alone.
    pub async fn set_openai_key_state(&self, user_id: &str, state: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE profiles SET openai_key_state = $1, update_time = $2 \
             WHERE user_id = $3 AND openai_key_sealed IS NOT NULL AND openai_key_state <> $1",
        )
        .bind(state)
        .bind(now)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
