//! Profiles: a user's personal data and AI settings, with their own OpenAI key sealed at rest.
//!
//! Layout: [`Profiles`] is the domain; [`service`] is the thin tonic layer.

pub mod service;

use std::sync::Arc;

use crate::{
    ai::{PlatformAi, Target},
    crypto::Keyring,
    error::{Error, Result},
    fields::{Name, language_code},
    store::{
        Store, now_millis,
        profiles::{ProfileRecord, ProfileSettings},
        secrets::OPENAI_KEY,
    },
};

/// The AI mode of new accounts.
pub const DEFAULT_AI_MODE: &str = AiMode::Managed.as_str();
/// Shortest and longest OpenAI key accepted.
const KEY_LEN: std::ops::RangeInclusive<usize> = 8..=512;
/// Longest base URL accepted.
const MAX_BASE_URL_LEN: usize = 2048;
/// Longest model name accepted.
const MAX_MODEL_LEN: usize = 100;

/// Whose key pays for the answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AiMode {
    /// The platform's key.
    Managed,
    /// The user's own key.
    Byok,
}

impl AiMode {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Managed => "managed",
            Self::Byok => "byok",
        }
    }

    /// The mode of a stored name.
    pub fn from_stored(text: &str) -> Option<Self> {
        [Self::Managed, Self::Byok].into_iter().find(|mode| mode.as_str() == text)
    }
}

/// Changes to a profile; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ProfileChanges {
    /// A new display name.
    pub display_name: Option<String>,
    /// A new interface language.
    pub language_code: Option<String>,
    /// A new AI mode.
    pub ai_mode: Option<AiMode>,
    /// A new OpenAI-compatible base URL; empty for OpenAI itself.
    pub openai_base_url: Option<String>,
    /// A new model; empty for the platform's default.
    pub openai_model: Option<String>,
}

/// The profile domain.
pub struct Profiles {
    /// Where profiles live.
    store: Store,
    /// Seals users' keys.
    keyring: Arc<Keyring>,
}

impl Profiles {
    /// The domain over `store`, sealing keys with `keyring`.
    pub fn new(store: Store, keyring: Arc<Keyring>) -> Self {
        Self { store, keyring }
    }

    /// The profile of `user_id`.
    pub async fn get(&self, user_id: &str) -> Result<ProfileRecord> {
        self.store
            .profile(user_id)
            .await?
            .ok_or_else(|| Error::Unauthenticated("this account no longer exists; sign in again".into()))
    }

    /// Applies `changes` to the profile of `user_id`, all or nothing.
    pub async fn update(&self, user_id: &str, changes: &ProfileChanges) -> Result<ProfileRecord> {
        let current = self.get(user_id).await?;
        let mut settings = ProfileSettings {
            display_name: current.display_name,
            language_code: current.language_code,
            ai_mode: current.ai_mode,
            openai_base_url: current.openai_base_url,
            openai_model: current.openai_model,
        };
        if let Some(name) = &changes.display_name {
            settings.display_name = Name::parse("profile.display_name", name)?.as_str().to_owned();
        }
        if let Some(code) = &changes.language_code {
            settings.language_code = language_code("profile.language_code", code)?.to_owned();
        }
        if let Some(mode) = changes.ai_mode {
            settings.ai_mode = mode.as_str().to_owned();
        }
        if let Some(url) = &changes.openai_base_url {
            settings.openai_base_url = base_url(url)?;
        }
        if let Some(model) = &changes.openai_model {
            settings.openai_model = model_name(model)?;
        }
        self.store.update_profile_settings(user_id, &settings, now_millis()).await?;
        self.get(user_id).await
    }

    /// Seals and stores the user's own OpenAI key, replacing any before.
    pub async fn set_openai_key(&self, user_id: &str, key: &str) -> Result<ProfileRecord> {
        let key = key.trim();
        let valid = KEY_LEN.contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(Error::invalid(
                "api_key",
                "the key must be 8 to 512 visible characters without spaces; paste it again as your provider shows it",
            ));
        }
        let sealed = self.keyring.seal(key, &OPENAI_KEY.associated_data(user_id));
        self.store.set_openai_key(user_id, Some((&sealed, &mask(key))), now_millis()).await?;
        tracing::info!(user_id, "own OpenAI key set");
        self.get(user_id).await
    }

    /// Deletes the user's own OpenAI key.
    pub async fn clear_openai_key(&self, user_id: &str) -> Result<ProfileRecord> {
        self.store.set_openai_key(user_id, None, now_millis()).await?;
        tracing::info!(user_id, "own OpenAI key cleared");
        self.get(user_id).await
    }

    /// The user's own OpenAI key in clear, for calling the model; `None` when not set.
    pub async fn openai_key(&self, user_id: &str) -> Result<Option<String>> {
        let profile = self.get(user_id).await?;
        let Some(sealed) = profile.openai_key_sealed else {
            return Ok(None);
        };
        Ok(Some(self.keyring.open(&sealed, &OPENAI_KEY.associated_data(user_id))?))
    }

    /// Where the user's replies come from: the platform's key, base URL and model in managed
    /// mode; in byok mode the user's own key, with their base URL and model where they set
    /// them. Without a usable key, `FAILED_PRECONDITION` says what to do.
    pub async fn ai_target(&self, user_id: &str, platform: &PlatformAi) -> Result<Target> {
        let profile = self.get(user_id).await?;
        let or_platform = |own: &str, platform: &str| if own.is_empty() { platform.to_owned() } else { own.to_owned() };
        match AiMode::from_stored(&profile.ai_mode) {
            Some(AiMode::Byok) => {
                if profile.openai_key_state == "rejected" {
                    return Err(Error::FailedPrecondition(
                        "the model's server rejected your own key; replace it in Profile, or switch to the platform's \
                         key"
                        .into(),
                    ));
                }
                let api_key = self.openai_key(user_id).await?.ok_or_else(|| {
                    Error::FailedPrecondition(
                        "you chose your own key but have not added one; add your OpenAI key in Profile, or switch to \
                         the platform's key"
                            .into(),
                    )
                })?;
                Ok(Target {
                    api_key,
                    base_url: or_platform(&profile.openai_base_url, &platform.base_url),
                    model: or_platform(&profile.openai_model, &platform.model),
                })
            }
            _ => {
                let api_key = platform.api_key.clone().ok_or_else(|| {
                    Error::FailedPrecondition(
                        "this platform has no AI key of its own; add your own OpenAI key in Profile and choose it, or \
                         ask the platform's operator to set one"
                            .into(),
                    )
                })?;
                Ok(Target { api_key, base_url: platform.base_url.clone(), model: platform.model.clone() })
            }
        }
    }
}

/// A key shown masked: a well-known prefix, then only the last 4 characters.
pub fn mask(key: &str) -> String {
    let prefix = if key.starts_with("sk-") { "sk-" } else { "" };
    let last4 = &key[key.len().saturating_sub(4)..];
    format!("{prefix}...{last4}")
}

fn base_url(text: &str) -> Result<String> {
    let url = text.trim().trim_end_matches('/');
    if url.is_empty() {
        return Ok(String::new());
    }
    let bad = |why: &str| {
        Error::invalid("profile.openai_base_url", format!("{why}; enter an address such as http://localhost:11434/v1"))
    };
    if url.len() > MAX_BASE_URL_LEN {
        return Err(bad("the URL is too long"));
    }
    let uri: http::Uri = url.parse().map_err(|_| bad("this is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(bad("the URL must start with http:// or https://"));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("the URL has no host"));
    }
    if uri.query().is_some() {
        return Err(bad("the URL must not have a query (?...)"));
    }
    Ok(url.to_owned())
}

fn model_name(text: &str) -> Result<String> {
    let model = text.trim();
    let valid =
        model.len() <= MAX_MODEL_LEN && model.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:/@+".contains(c));
    if !valid {
        return Err(Error::invalid(
            "profile.openai_model",
            "a model name has at most 100 letters, digits and - _ . : / @ +, such as gpt-4o-mini or llama3.1:8b",
        ));
    }
    Ok(model.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_show_only_the_last_four() {
        assert_eq!(mask("sk-proj-abcdefghijklmnop1234"), "sk-...1234");
        assert_eq!(mask("ollama-key-wxyz"), "...wxyz");
    }

    #[test]
    fn base_urls_and_models_are_checked() {
        assert_eq!(base_url(" http://localhost:11434/v1/ ").unwrap(), "http://localhost:11434/v1");
        assert_eq!(base_url("").unwrap(), "");
        for bad in ["ftp://x/v1", "localhost:11434", "http://", "https://x/v1?key=1", "not a url"] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
        assert_eq!(model_name("llama3.1:8b").unwrap(), "llama3.1:8b");
        assert!(model_name("gpt 4").is_err());
    }
}
