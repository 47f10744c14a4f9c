//! Profiles: a user's personal data and AI settings, with their own OpenAI key sealed at rest.
//!
//! Layout: [`Profiles`] is the domain; [`own_data`] is everything an account owns, exported or
//! deleted with it; [`service`] is the thin tonic layer.

pub mod own_data;
pub mod service;

use std::sync::Arc;

use crate::{
    ai::{AiClient, AiError, PlatformAi, Target},
    crypto::Keyring,
    error::{Error, Result},
    fields::{Name, language_code},
    outbound::Policy,
    store::{
        Store, now_millis,
        profiles::{ProfileRecord, ProfileSettings},
        secrets::OPENAI_KEY,
    },
    words::{Phrase, say},
};

/// The AI mode of new accounts.
pub const DEFAULT_AI_MODE: &str = AiMode::Managed.as_str();
/// Shortest and longest OpenAI key accepted.
const KEY_LEN: std::ops::RangeInclusive<usize> = 8..=512;
/// Longest base URL accepted.
const MAX_BASE_URL_LEN: usize = 2048;
/// Longest model name accepted.
const MAX_MODEL_LEN: usize = 100;
/// The longest a key check may take, retries included: a person waits for it.
const KEY_CHECK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(6);

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
    /// The platform's AI settings, for managed users and as byok defaults.
    platform: PlatformAi,
    /// Checks keys against their servers, briefly: a person waits for it.
    key_checker: AiClient,
    /// Where the servers users choose may be.
    outbound: Policy,
}

impl Profiles {
    /// The domain over `store`, sealing keys with `keyring`, with the platform's AI settings.
    /// Servers users choose are held to the default outbound policy (see [`Self::with_outbound`]).
    pub fn new(store: Store, keyring: Arc<Keyring>, platform: PlatformAi) -> Self {
        let outbound = Policy::default();
        let key_checker = Self::key_checker(&outbound, &platform);
        Self { store, keyring, platform, key_checker, outbound }
    }

    /// This domain with `outbound` as the policy for the base URLs users set, checked when
    /// they are saved and whenever a key is checked there.
    pub fn with_outbound(self, outbound: Policy) -> Self {
        Self { key_checker: Self::key_checker(&outbound, &self.platform), outbound, ..self }
    }

    fn key_checker(outbound: &Policy, platform: &PlatformAi) -> AiClient {
        AiClient::new(KEY_CHECK_DEADLINE, KEY_CHECK_DEADLINE / 2).with_outbound(outbound.clone(), &platform.base_url)
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
            self.check_destination(&settings.openai_base_url, &settings.language_code).await?;
        }
        if let Some(model) = &changes.openai_model {
            settings.openai_model = model_name(model)?;
        }
        self.store.update_profile_settings(user_id, &settings, now_millis()).await?;
        self.get(user_id).await
    }

    /// Checks the user's own OpenAI key against its server, then seals and stores it, replacing
    /// any before. A key the server rejects is not stored; one that could not be checked is,
    /// with a warning in words (empty when the key was accepted).
    pub async fn set_openai_key(&self, user_id: &str, key: &str) -> Result<(ProfileRecord, String)> {
        let key = key.trim();
        let valid = KEY_LEN.contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(Error::invalid(
                "api_key",
                "the key must be 8 to 512 visible characters without spaces; paste it again as your provider shows it",
            ));
        }
        let profile = self.get(user_id).await?;
        let (check, detail) = self.check_key(&profile, key).await;
        let warning = match check {
            KeyCheck::Rejected => return Err(Error::invalid("api_key", detail)),
            KeyCheck::Accepted => String::new(),
            KeyCheck::Unreachable | KeyCheck::Missing => detail,
        };
        let sealed = self.keyring.seal(key, &OPENAI_KEY.associated_data(user_id));
        self.store.set_openai_key(user_id, Some((&sealed, &mask(key))), now_millis()).await?;
        tracing::info!(user_id, checked = warning.is_empty(), "own OpenAI key set");
        Ok((self.get(user_id).await?, warning))
    }

    /// Deletes the user's own OpenAI key.
    pub async fn clear_openai_key(&self, user_id: &str) -> Result<ProfileRecord> {
        self.store.set_openai_key(user_id, None, now_millis()).await?;
        tracing::info!(user_id, "own OpenAI key cleared");
        self.get(user_id).await
    }

    /// The user's own OpenAI key in clear, for calling the model; `None` when not set.
    pub async fn openai_key(&self, user_id: &str) -> Result<Option<String>> {
        self.open_key(&self.get(user_id).await?)
    }

    /// The own key of a profile already read, in clear.
    fn open_key(&self, profile: &ProfileRecord) -> Result<Option<String>> {
        let Some(sealed) = &profile.openai_key_sealed else {
            return Ok(None);
        };
        Ok(Some(self.keyring.open(sealed, &OPENAI_KEY.associated_data(&profile.user_id))?))
    }

    /// Refuses a base URL a user set that leads inside the server's network, saying why and
    /// what to do. The platform's own base URL is the operator's, and so is not checked.
    async fn check_destination(&self, url: &str, language: &str) -> Result<()> {
        if url.is_empty() || url == self.platform.base_url {
            return Ok(());
        }
        let parsed = url::Url::parse(url).map_err(|_| bad_base_url("this is not a URL"))?;
        self.outbound.check(&parsed).await.map_err(|refusal| {
            tracing::info!(%refusal, "a base URL inside the server's network was refused");
            Error::invalid(BASE_URL_FIELD, say(language, &refusal.phrase()))
        })
    }

    /// The server a user's own key is used with: theirs, or the platform's.
    fn own_base_url<'a>(&'a self, profile: &'a ProfileRecord) -> &'a str {
        if profile.openai_base_url.is_empty() { &self.platform.base_url } else { &profile.openai_base_url }
    }

    /// The model asked where neither the user nor a conversation chose one.
    pub fn platform_model(&self) -> &str {
        &self.platform.model
    }

    /// Where the user's replies come from: the platform's key, base URL and model in managed
    /// mode; in byok mode the user's own key, with their base URL and model where they set
    /// them. Without a usable key, `FAILED_PRECONDITION` says what to do, in the user's language.
    pub async fn ai_route(&self, user_id: &str) -> Result<AiRoute> {
        let profile = self.get(user_id).await?;
        let refuse = |phrase: Phrase<'_>| Error::FailedPrecondition(say(&profile.language_code, &phrase));
        let platform = &self.platform;
        if AiMode::from_stored(&profile.ai_mode) != Some(AiMode::Byok) {
            let api_key = platform.api_key.clone().ok_or_else(|| refuse(Phrase::NoPlatformKey))?;
            let target = Target { api_key, base_url: platform.base_url.clone(), model: platform.model.clone() };
            return Ok(AiRoute { target, mode: AiMode::Managed, language_code: profile.language_code });
        }
        if profile.openai_key_state == "rejected" {
            return Err(refuse(Phrase::OwnKeyRejected));
        }
        let api_key = self.open_key(&profile)?.ok_or_else(|| refuse(Phrase::OwnKeyMissing))?;
        let model = if profile.openai_model.is_empty() { &platform.model } else { &profile.openai_model };
        let target = Target { api_key, base_url: self.own_base_url(&profile).to_owned(), model: model.clone() };
        Ok(AiRoute { target, mode: AiMode::Byok, language_code: profile.language_code })
    }

    /// Marks the user's own key as rejected by its server, so that they are told to replace it.
    pub async fn reject_openai_key(&self, user_id: &str) -> Result<()> {
        tracing::warn!(user_id, "the model's server rejected the user's own key");
        Ok(self.store.set_openai_key_state(user_id, "rejected", now_millis()).await?)
    }

    /// Checks `key` against the models endpoint of the base URL the user's own key is used
    /// with.
    async fn check_key(&self, profile: &ProfileRecord, key: &str) -> (KeyCheck, String) {
        let base_url = self.own_base_url(profile);
        let target = Target { api_key: key.to_owned(), base_url: base_url.to_owned(), model: String::new() };
        let language = &profile.language_code;
        match self.key_checker.check_key(&target).await {
            Ok(()) => (KeyCheck::Accepted, say(language, &Phrase::KeyAccepted(base_url))),
            Err(AiError::KeyRejected(detail)) => {
                (KeyCheck::Rejected, say(language, &Phrase::KeyRejected { url: base_url, detail: &detail }))
            }
            Err(AiError::Blocked(refusal)) => (KeyCheck::Unreachable, say(language, &refusal.phrase())),
            Err(AiError::QuotaSpent(detail) | AiError::Refused(detail) | AiError::Unavailable(detail)) => {
                (KeyCheck::Unreachable, say(language, &Phrase::KeyUnchecked { url: base_url, detail: &detail }))
            }
        }
    }

    /// Checks the user's stored own key now and keeps the outcome in the profile.
    pub async fn test_openai_key(&self, user_id: &str) -> Result<(KeyCheck, String, ProfileRecord)> {
        let profile = self.get(user_id).await?;
        let Some(key) = self.open_key(&profile)? else {
            return Ok((KeyCheck::Missing, say(&profile.language_code, &Phrase::KeyMissing), profile));
        };
        let (check, detail) = self.check_key(&profile, &key).await;
        let state = match check {
            KeyCheck::Accepted => Some("set"),
            KeyCheck::Rejected => Some("rejected"),
            KeyCheck::Unreachable | KeyCheck::Missing => None,
        };
        if let Some(state) = state {
            self.store.set_openai_key_state(user_id, state, now_millis()).await?;
        }
        Ok((check, detail, self.get(user_id).await?))
    }
}

/// Where a user's replies come from.
#[derive(Clone, Debug)]
pub struct AiRoute {
    /// The server, key and model.
    pub target: Target,
    /// Whose key it is.
    pub mode: AiMode,
    /// The user's interface language, for what they are told.
    pub language_code: String,
}

/// The outcome of checking a key against its server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyCheck {
    /// The server accepted it.
    Accepted,
    /// The server rejected it.
    Rejected,
    /// The server could not be reached or failed, so the key is unchecked.
    Unreachable,
    /// There is no key to check.
    Missing,
}

/// A key shown masked: a well-known prefix, then only the last 4 characters.
pub fn mask(key: &str) -> String {
    let prefix = if key.starts_with("sk-") { "sk-" } else { "" };
    let last4 = &key[key.len().saturating_sub(4)..];
    format!("{prefix}...{last4}")
}

/// The request field of the base URL.
const BASE_URL_FIELD: &str = "profile.openai_base_url";

/// An `INVALID_ARGUMENT` on the base URL: `why`, and an example.
fn bad_base_url(why: &str) -> Error {
    Error::invalid(BASE_URL_FIELD, format!("{why}; enter an address such as https://api.example.com/v1"))
}

/// A base URL as the user wrote it, trimmed, checked as the WHATWG URL parser (the one the
/// HTTP client uses) reads it: http or https, a host, and neither query nor fragment (a
/// fragment would swallow the paths appended to it, a query would carry anything).
fn base_url(text: &str) -> Result<String> {
    let url = text.trim().trim_end_matches('/');
    if url.is_empty() {
        return Ok(String::new());
    }
    if url.len() > MAX_BASE_URL_LEN {
        return Err(bad_base_url("the URL is too long"));
    }
    let parsed = url::Url::parse(url).map_err(|_| bad_base_url("this is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad_base_url("the URL must start with http:// or https://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad_base_url("the URL has no host"));
    }
    if parsed.query().is_some() {
        return Err(bad_base_url("the URL must not have a query (?...)"));
    }
    if parsed.fragment().is_some() {
        return Err(bad_base_url("the URL must not have a fragment (#...)"));
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
        let bad_urls = [
            "ftp://x/v1",
            "localhost:11434",
            "http://",
            "https://x/v1?key=1",
            "http://x/v1?",
            "not a url",
            "http://127.0.0.1:50051/#",
            "http://x/v1#/chat",
        ];
        for bad in bad_urls {
            assert!(base_url(bad).is_err(), "{bad}");
        }
        assert_eq!(model_name("llama3.1:8b").unwrap(), "llama3.1:8b");
        assert!(model_name("gpt 4").is_err());
    }
}
