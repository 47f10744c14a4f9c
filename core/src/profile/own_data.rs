//! A person's own data: all of it as one archive to take away ([`OwnData::export`]), and all of
//! it gone with the account ([`OwnData::delete_account`]).
//!
//! The archive holds what the person gave and what the platform made of it, never a secret: the
//! own OpenAI key shows only as whether one is set, a channel's secret settings only by name,
//! and neither passwords, sessions nor tokens are in it (API tokens by name and dates only).

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::Profiles;
use crate::{
    auth::{Accounts, Caller, MAX_API_TOKENS_PER_USER, OwnerChange},
    bot::manager::BotManager,
    conversations::{
        Conversations,
        export::{self, JsonExport, rfc3339},
    },
    error::{Error, Result},
    resources::MAX_RESOURCES_PER_USER,
    store::{Store, now_millis, resources::ResourceRecord, states::Switch},
};

/// The archive's media type.
const CONTENT_TYPE: &str = "application/json";

/// A written archive.
#[derive(Clone, Debug)]
pub struct Archive {
    /// A name for it, with the day it was made.
    pub name: String,
    /// Its media type.
    pub content_type: &'static str,
    /// Its content, UTF-8 JSON.
    pub content: Vec<u8>,
}

/// Everything an account owns, across the domains that keep it.
pub struct OwnData {
    /// Where it all lives.
    store: Store,
    /// The account, and who may delete it.
    accounts: Arc<Accounts>,
    /// The profile.
    profiles: Arc<Profiles>,
    /// Every conversation with its messages.
    conversations: Arc<Conversations>,
    /// Stops the account's channels before they go.
    manager: BotManager,
}

/// The archive, as JSON.
#[derive(Serialize)]
struct ArchiveJson<'a> {
    /// When it was made.
    export_time: String,
    profile: ProfileJson<'a>,
    sign_in_methods: Vec<SignInMethodJson>,
    api_tokens: Vec<ApiTokenJson>,
    conversations: Vec<JsonExport<'a>>,
    channels: Vec<ChannelJson>,
    usage: Vec<UsageJson>,
}

/// The profile, its key shown only as whether there is one.
#[derive(Serialize)]
struct ProfileJson<'a> {
    user_id: &'a str,
    email: &'a str,
    display_name: &'a str,
    language_code: &'a str,
    ai_mode: &'a str,
    /// `missing`, `set` or `rejected`: never the key, nor its mask.
    openai_key_state: &'a str,
    openai_base_url: &'a str,
    openai_model: &'a str,
    bot_enabled: bool,
    create_time: String,
    update_time: String,
}

/// A sign-in method: an outside identity linked to the account.
#[derive(Serialize)]
struct SignInMethodJson {
    provider_id: String,
    email: String,
    create_time: String,
}

/// A personal API token, by name and dates: never the token.
#[derive(Serialize)]
struct ApiTokenJson {
    name: String,
    create_time: String,
    last_use_time: Option<String>,
    expire_time: Option<String>,
}

/// A channel with its plain settings; its secret settings by name only.
#[derive(Serialize)]
struct ChannelJson {
    id: String,
    provider: String,
    name: String,
    settings: Value,
    secret_settings: Vec<String>,
    desired_state: &'static str,
    state: &'static str,
    state_detail: String,
    create_time: String,
    update_time: String,
}

/// The AI usage of one day.
#[derive(Serialize)]
struct UsageJson {
    day: String,
    prompt_tokens: i64,
    completion_tokens: i64,
    managed_tokens: i64,
    request_count: i64,
    estimated: bool,
}

impl OwnData {
    /// The account data over `store`, with the domains that keep it.
    pub fn new(
        store: Store,
        accounts: Arc<Accounts>,
        profiles: Arc<Profiles>,
        conversations: Arc<Conversations>,
        manager: BotManager,
    ) -> Self {
        Self { store, accounts, profiles, conversations, manager }
    }

    /// Everything the platform keeps about `user_id`, secrets left out, as one JSON file.
    pub async fn export(&self, user_id: &str) -> Result<Archive> {
        let user = self.accounts.current_user(user_id).await?;
        let profile = self.profiles.get(user_id).await?;
        let bot_enabled = self.store.bot_switch(user_id).await?.is_some_and(|(switch, _)| switch == Switch::On);
        let identities = self.store.identities_of(user_id).await?;
        let tokens = self.store.list_api_tokens(user_id, None, MAX_API_TOKENS_PER_USER).await?;
        let conversations = self.conversations.read_everything(user_id).await?;
        let resources = self.store.list_resources(user_id, "", None, MAX_RESOURCES_PER_USER).await?;
        let usage = self.store.usage_since(user_id, "").await?;
        let archive = ArchiveJson {
            export_time: rfc3339(now_millis()),
            profile: ProfileJson {
                user_id: &profile.user_id,
                email: &profile.email,
                display_name: &profile.display_name,
                language_code: &profile.language_code,
                ai_mode: &profile.ai_mode,
                openai_key_state: &profile.openai_key_state,
                openai_base_url: &profile.openai_base_url,
                openai_model: &profile.openai_model,
                bot_enabled,
                create_time: rfc3339(user.create_time),
                update_time: rfc3339(profile.update_time),
            },
            sign_in_methods: identities
                .into_iter()
                .map(|identity| SignInMethodJson {
                    provider_id: identity.provider_id,
                    email: identity.email,
                    create_time: rfc3339(identity.create_time),
                })
                .collect(),
            api_tokens: tokens
                .into_iter()
                .map(|token| ApiTokenJson {
                    name: token.name,
                    create_time: rfc3339(token.create_time),
                    last_use_time: token.last_use_time.map(rfc3339),
                    expire_time: token.expire_time.map(rfc3339),
                })
                .collect(),
            conversations: conversations
                .iter()
                .map(|(conversation, messages)| export::json(conversation, messages))
                .collect(),
            channels: resources.into_iter().map(channel).collect::<Result<_>>()?,
            usage: usage
                .into_iter()
                .map(|day| UsageJson {
                    day: day.day,
                    prompt_tokens: day.prompt_tokens,
                    completion_tokens: day.completion_tokens,
                    managed_tokens: day.managed_tokens,
                    request_count: day.request_count,
                    estimated: day.estimated != 0,
                })
                .collect(),
        };
        let content = serde_json::to_vec_pretty(&archive).map_err(|err| Error::Internal(format!("archive: {err}")))?;
        let today = OffsetDateTime::now_utc().date();
        tracing::info!(user_id, bytes = content.len(), "own data exported");
        Ok(Archive { name: format!("assistchat-data-{today}.json"), content_type: CONTENT_TYPE, content })
    }

    /// Deletes the caller's account with everything it owns, once they showed they are its
    /// owner in person ([`Accounts::confirm_owner`]): its bot is switched off and its channels
    /// stopped first, so that no edge answers for an account that is gone, then every row goes in
    /// one transaction.
    pub async fn delete_account(&self, caller: &Caller, password: &str) -> Result<()> {
        self.accounts.confirm_owner(caller, OwnerChange::Deletion, password).await?;
        let user_id = caller.user_id.as_str();
        if self.store.set_bot_switch(user_id, Switch::Off, now_millis()).await? {
            self.manager.reconcile_user(user_id).await;
        }
        let resources = self.store.user_resource_runs(user_id).await?;
        if !self.store.delete_user(user_id).await? {
            return Err(Error::Unauthenticated("this account no longer exists; sign in again".into()));
        }
        // Stopped wherever one still ran, and gone from every watcher's view.
        for resource in resources {
            self.manager.deleted(user_id, &resource.id).await;
        }
        tracing::info!(user_id, "account deleted with everything it owned");
        Ok(())
    }
}

/// A channel as the archive shows it: its secrets by name only.
fn channel(record: ResourceRecord) -> Result<ChannelJson> {
    let corrupt = |what: &str| Error::Internal(format!("stored {what} of resource {}", record.id));
    let settings: Value = serde_json::from_str(&record.meta_json).map_err(|_| corrupt("meta_json"))?;
    let masks: serde_json::Map<String, Value> =
        serde_json::from_str(&record.secret_masks).map_err(|_| corrupt("secret_masks"))?;
    Ok(ChannelJson {
        secret_settings: masks.into_iter().map(|(name, _)| name).collect(),
        settings,
        desired_state: record.desired_state.as_str(),
        state: record.state.as_str(),
        state_detail: record.state_detail,
        create_time: rfc3339(record.create_time),
        update_time: rfc3339(record.update_time),
        id: record.id,
        provider: record.provider,
        name: record.name,
    })
}
