//! Resources: each user's connections of outside channels, their settings checked against the
//! provider's schema and their secrets sealed at rest.
//!
//! Layout: [`Resources`] is the domain (the stored side); whether a resource runs is the bot
//! manager's business ([`crate::bot`]); [`service`] is the thin tonic layer.

pub mod service;
use std::{collections::BTreeMap, sync::Arc};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::{
    bot::board,
    crypto::Keyring,
    error::{Error, Result},
    fields::Name,
    pagination,
    providers::{ProviderSpec, Registry},
    store::{
        Store, StoreError, new_id, now_millis, resources::ResourceRecord, secrets::RESOURCE_SECRETS, states::Desired,
    },
};

/// The largest meta_json accepted, in bytes.
const MAX_META_LEN: usize = 64 * 1024;
/// The longest secret accepted, in characters.
const MAX_SECRET_CHARS: usize = 4096;
/// Secrets shorter than this show no characters at all in their mask.
const MIN_CHARS_TO_SHOW: usize = 12;
/// The most resources one account may have: each may hold a connection to an outside service
/// and a share of an edge, so that one account cannot take the whole platform's.
pub const MAX_RESOURCES_PER_USER: i64 = 100;

/// A resource to create.
#[derive(Clone, Default)]
pub struct NewResource {
    /// Its provider's name.
    pub provider: String,
    /// The name its owner gives it.
    pub name: String,
    /// The plain settings, a JSON object; empty means none.
    pub meta_json: String,
    /// The secret settings; empty values are left out.
    pub secrets: BTreeMap<String, String>,
    /// Whether it starts paused.
    pub paused: bool,
}

// The secrets' values must never reach a log line: only their names are shown.
impl std::fmt::Debug for NewResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewResource")
            .field("provider", &self.provider)
            .field("name", &self.name)
            .field("meta_json", &self.meta_json)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("paused", &self.paused)
            .finish()
    }
}

/// Changes to a resource; `None` leaves a field as it is.
#[derive(Clone, Default)]
pub struct ResourceChanges {
    /// A new name.
    pub name: Option<String>,
    /// New plain settings, replacing the old as a whole.
    pub meta_json: Option<String>,
    /// New secret values; empty ones keep the stored value.
    pub secrets: Option<BTreeMap<String, String>>,
    /// Optional secrets to delete.
    pub clear_secrets: Vec<String>,
}

// The same: names of the changed secrets, never their values.
impl std::fmt::Debug for ResourceChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceChanges")
            .field("name", &self.name)
            .field("meta_json", &self.meta_json)
            .field("secrets", &self.secrets.as_ref().map(|secrets| secrets.keys().collect::<Vec<_>>()))
            .field("clear_secrets", &self.clear_secrets)
            .finish()
    }
}

/// The resource domain.
pub struct Resources {
    /// Where resources live.
    store: Store,
    /// Seals their secrets.
    keyring: Arc<Keyring>,
    /// The providers and their schemas.
    registry: Arc<Registry>,
}

impl Resources {
    /// The domain over `store`.
    pub fn new(store: Store, keyring: Arc<Keyring>, registry: Arc<Registry>) -> Self {
        Self { store, keyring, registry }
    }

    /// Connects a new resource for `user_id`. It is stored paused or pending; the bot manager
    /// decides next.
    pub async fn create(&self, user_id: &str, new: NewResource) -> Result<ResourceRecord> {
        let spec = self.registry.get(&new.provider).ok_or_else(|| {
            Error::invalid(
                "resource.provider",
                format!("\"{}\" is not a known provider; ListProviders lists the ones you can use", new.provider),
            )
        })?;
        let name = Name::parse("resource.name", &new.name)?;
        let meta = parse_meta(&new.meta_json)?;
        let secrets: BTreeMap<String, String> =
            new.secrets.into_iter().filter(|(_, value)| !value.is_empty()).collect();
        check_secret_lengths(&secrets)?;
        spec.check_settings(&meta, &secrets)?;
        let id = new_id();
        let now = now_millis();
        // It shows what a paused resource, or one just sent to its edge, shows until the bot
        // manager decides.
        let shown = if new.paused { board::paused(false) } else { board::starting() };
        let record = ResourceRecord {
            id: id.clone(),
            user_id: user_id.to_owned(),
            provider: spec.name.clone(),
            name: name.as_str().to_owned(),
            meta_json: Value::Object(meta.clone()).to_string(),
            secrets_sealed: self.seal(&id, &secrets),
            secret_masks: masks(&secrets),
            identity_hash: identity_hash(&spec, &meta, &secrets),
            desired_state: Desired::active(!new.paused),
            generation: 0,
            state: shown.state,
            state_detail: shown.detail,
            state_reason: shown.reason,
            state_action: shown.action,
            state_change_time: now,
            status_info: "[]".into(),
            create_time: now,
            update_time: now,
        };
        if !self.store.insert_resource(&record, MAX_RESOURCES_PER_USER).await.map_err(|err| same_account(err, &spec))? {
            return Err(Error::QuotaSpent(format!(
                "you have {MAX_RESOURCES_PER_USER} resources, the most one account may have; delete some you no \
                 longer use first"
            )));
        }
        Ok(record)
    }

    /// One of the user's resources.
    pub async fn get(&self, user_id: &str, id: &str) -> Result<ResourceRecord> {
        self.store.resource(user_id, id).await?.ok_or_else(|| not_found(id))
    }

    /// A page of the user's resources, oldest first, and the token of the next page.
    pub async fn list(
        &self,
        user_id: &str,
        provider: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<ResourceRecord>, String)> {
        let limit = pagination::page_size(page_size)?;
        let list = format!("resources:{provider}");
        let after = pagination::decode_token(&list, page_token)?;
        let records = self.store.list_resources(user_id, provider, after.as_deref(), limit + 1).await?;
        Ok(pagination::paginate(records, limit, &list, |record| &record.id))
    }

    /// Changes a resource; returns it and whether its settings or secrets changed (so that a
    /// running resource must be started again). On any error nothing is changed.
    pub async fn update(&self, user_id: &str, id: &str, changes: ResourceChanges) -> Result<(ResourceRecord, bool)> {
        let mut record = self.get(user_id, id).await?;
        let spec = self.registry.get(&record.provider).ok_or_else(|| {
            Error::FailedPrecondition(format!(
                "provider \"{}\" has never attached to this server, so its settings cannot be checked; try again \
                 when it is online",
                record.provider
            ))
        })?;
        if let Some(name) = &changes.name {
            record.name = Name::parse("resource.name", name)?.as_str().to_owned();
        }
        let meta = match &changes.meta_json {
            Some(meta_json) => parse_meta(meta_json)?,
            None => parse_meta(&record.meta_json).map_err(|_| Error::Internal(format!("stored meta_json of {id}")))?,
        };
        let mut secrets = self.open_secrets(&record)?;
        let old_secrets = secrets.clone();
        if let Some(new) = changes.secrets {
            let new: BTreeMap<_, _> = new.into_iter().filter(|(_, value)| !value.is_empty()).collect();
            check_secret_lengths(&new)?;
            secrets.extend(new);
        }
        for name in &changes.clear_secrets {
            if !spec.is_secret(name) {
                return Err(Error::invalid_owned(
                    format!("clear_secrets.{name}"),
                    format!("\"{name}\" is not a secret of provider {}", spec.name),
                ));
            }
            if spec.required.contains(name) {
                return Err(Error::invalid_owned(
                    format!("clear_secrets.{name}"),
                    format!("\"{name}\" is required; replace it with a new value instead"),
                ));
            }
            secrets.remove(name);
        }
        spec.check_settings(&meta, &secrets)?;
        let meta_json = Value::Object(meta.clone()).to_string();
        let settings_changed = meta_json != record.meta_json || secrets != old_secrets;
        record.meta_json = meta_json;
        if secrets != old_secrets {
            record.secrets_sealed = self.seal(&record.id, &secrets);
            record.secret_masks = masks(&secrets);
        }
        record.identity_hash = identity_hash(&spec, &meta, &secrets);
        record.update_time = now_millis();
        self.store.update_resource_settings(&record).await.map_err(|err| same_account(err, &spec))?;
        Ok((record, settings_changed))
    }

    /// Deletes one of the user's resources with its secrets.
    pub async fn delete(&self, user_id: &str, id: &str) -> Result<()> {
        if self.store.delete_resource(user_id, id).await? { Ok(()) } else { Err(not_found(id)) }
    }

    /// Sets whether one of the user's resources should run.
    pub async fn set_active(&self, user_id: &str, id: &str, active: bool) -> Result<()> {
        if self.store.set_desired_state(user_id, id, Desired::active(active), now_millis()).await? {
            Ok(())
        } else {
            Err(not_found(id))
        }
    }

    /// A resource's secrets, opened.
    pub fn open_secrets(&self, record: &ResourceRecord) -> Result<BTreeMap<String, String>> {
        let Some(sealed) = &record.secrets_sealed else {
            return Ok(BTreeMap::new());
        };
        let json = self.keyring.open(sealed, &RESOURCE_SECRETS.associated_data(&record.id))?;
        serde_json::from_str(&json).map_err(|err| Error::Internal(format!("secrets of {}: {err}", record.id)))
    }

    /// Whether a stored resource still fits its provider's current schema, and its secrets.
    pub fn settings_for_start(&self, record: &ResourceRecord) -> Result<(ProviderSpec, BTreeMap<String, String>)> {
        let spec = self.registry.get(&record.provider).ok_or_else(|| Error::NotFound(record.provider.clone()))?;
        let secrets = self.open_secrets(record)?;
        let meta = parse_meta(&record.meta_json)?;
        spec.check_settings(&meta, &secrets)?;
        Ok((spec, secrets))
    }

    fn seal(&self, id: &str, secrets: &BTreeMap<String, String>) -> Option<String> {
        if secrets.is_empty() {
            return None;
        }
        let json = serde_json::to_string(secrets).expect("strings serialise");
        Some(self.keyring.seal(&json, &RESOURCE_SECRETS.associated_data(id)))
    }
}

fn parse_meta(meta_json: &str) -> Result<Map<String, Value>> {
    if meta_json.trim().is_empty() {
        return Ok(Map::new());
    }
    if meta_json.len() > MAX_META_LEN {
        return Err(Error::invalid("resource.meta_json", "is over 64 KiB; keep settings short"));
    }
    match serde_json::from_str(meta_json) {
        Ok(Value::Object(meta)) => Ok(meta),
        Ok(_) => Err(Error::invalid(
            "resource.meta_json",
            "must be a JSON object, such as {\"system_prompt\": \"Be brief.\"}",
        )),
        Err(err) => Err(Error::invalid("resource.meta_json", format!("is not JSON ({err}); send a JSON object"))),
    }
}

fn check_secret_lengths(secrets: &BTreeMap<String, String>) -> Result<()> {
    match secrets.iter().find(|(_, value)| value.chars().count() > MAX_SECRET_CHARS) {
        Some((name, _)) => Err(Error::invalid_owned(
            format!("resource.secrets.{name}"),
            format!("is over {MAX_SECRET_CHARS} characters; check what was pasted"),
        )),
        None => Ok(()),
    }
}

/// A secret masked for display: its last 4 characters when it is long enough to spare them.
pub fn mask_secret(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < MIN_CHARS_TO_SHOW {
        return "...".into();
    }
    format!("...{}", chars[chars.len() - 4..].iter().collect::<String>())
}

fn masks(secrets: &BTreeMap<String, String>) -> String {
    let masks: BTreeMap<&str, String> =
        secrets.iter().map(|(name, value)| (name.as_str(), mask_secret(value))).collect();
    serde_json::to_string(&masks).expect("strings serialise")
}

/// A hash of the external account a resource drives: the provider and the values of its
/// identity fields. High-entropy credentials make a plain hash safe to store.
fn identity_hash(spec: &ProviderSpec, meta: &Map<String, Value>, secrets: &BTreeMap<String, String>) -> Option<String> {
    if spec.identity_fields.is_empty() {
        return None;
    }
    let mut hasher = Sha256::new();
    hasher.update(b"assistchat resource identity\0");
    hasher.update(spec.name.as_bytes());
    for field in &spec.identity_fields {
        let value = match secrets.get(field) {
            Some(secret) => secret.clone(),
            None => meta.get(field).map(Value::to_string).unwrap_or_default(),
        };
        hasher.update(b"\0");
        hasher.update(value.trim().as_bytes());
    }
    Some(hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect())
}

fn same_account(err: StoreError, spec: &ProviderSpec) -> Error {
    match err {
        StoreError::Conflict(_) => Error::AlreadyExists(format!(
            "another resource already uses this {} account (the same {}); one account can run in one place only, \
             so delete that resource or use another account",
            spec.display_name,
            spec.identity_fields.join(", ")
        )),
        other => other.into(),
    }
}

fn not_found(id: &str) -> Error {
    Error::NotFound(format!("no resource {id}; ListResources lists yours"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_show_four_characters_of_long_secrets_only() {
        assert_eq!(mask_secret("123456:ABCDEFGHIJKLMNOPwxyz"), "...wxyz");
        assert_eq!(mask_secret("short-secr"), "...");
        assert_eq!(mask_secret("ключ-секрет-длинный"), "...нный");
    }

    #[test]
    fn secret_values_never_show_in_debug_output() {
        let secrets =
            BTreeMap::from([("bot_token".to_owned(), "7000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw".to_owned())]);
        let new = NewResource { provider: "telegram".into(), secrets: secrets.clone(), ..Default::default() };
        let changes = ResourceChanges { secrets: Some(secrets), ..Default::default() };
        for shown in [format!("{new:?}"), format!("{changes:?}")] {
            assert!(!shown.contains("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"), "{shown}");
            assert!(shown.contains("bot_token"), "the secret's name still shows: {shown}");
        }
    }
}
