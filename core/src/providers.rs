//! Providers: what an edge's hello says about its resources, checked once, and the settings
//! check every resource of the provider passes (JSON Schema, through the jsonschema crate).

use std::{
    collections::{BTreeMap, HashMap},
    sync::RwLock,
};

use assistchat_proto::v1::EdgeHello;
use jsonschema::{Validator, error::ValidationErrorKind, paths::LocationSegment};
use serde_json::{Map, Value};

use crate::{
    error::{Error, Result},
    store::{Store, StoreError, now_millis, providers::ProviderRecord},
};

/// The provider name kept for the browser chat.
pub const RESERVED_PROVIDER: &str = "web";
/// The longest provider name.
const MAX_PROVIDER_LEN: usize = 32;
/// The longest instance id.
const MAX_INSTANCE_ID_LEN: usize = 100;
/// The longest display name and version.
const MAX_DISPLAY_NAME_LEN: usize = 100;
/// The longest description.
const MAX_DESCRIPTION_LEN: usize = 500;
/// The largest settings schema, in bytes.
const MAX_SCHEMA_LEN: usize = 64 * 1024;

/// A provider as its latest hello described it, with its schema compiled.
#[derive(Clone, Debug)]
pub struct ProviderSpec {
    /// The name, such as "telegram".
    pub name: String,
    /// The name for people.
    pub display_name: String,
    /// What a resource of it connects.
    pub description: String,
    /// The edge's version.
    pub version: String,
    /// The settings schema, as sent.
    pub schema_json: String,
    /// The settings that are secrets.
    pub secret_fields: Vec<String>,
    /// The settings that identify the external account.
    pub identity_fields: Vec<String>,
    /// The settings that the schema requires.
    pub required: Vec<String>,
    /// The compiled schema.
    validator: std::sync::Arc<Validator>,
}

impl ProviderSpec {
    /// Checks a hello's description of a provider, naming the field at fault.
    pub fn from_hello(hello: &EdgeHello) -> Result<Self> {
        check_provider_name(&hello.provider)?;
        if hello.instance_id.is_empty() || hello.instance_id.chars().count() > MAX_INSTANCE_ID_LEN {
            return Err(Error::invalid("hello.instance_id", "must be 1 to 100 characters"));
        }
        if hello.version.chars().count() > MAX_DISPLAY_NAME_LEN {
            return Err(Error::invalid("hello.version", "must be at most 100 characters"));
        }
        if hello.display_name.trim().is_empty() || hello.display_name.chars().count() > MAX_DISPLAY_NAME_LEN {
            return Err(Error::invalid("hello.display_name", "must be 1 to 100 characters"));
        }
        if hello.description.chars().count() > MAX_DESCRIPTION_LEN {
            return Err(Error::invalid("hello.description", "must be at most 500 characters"));
        }
        Self::new(
            &hello.provider,
            &hello.display_name,
            &hello.description,
            &hello.version,
            &hello.settings_schema_json,
            hello.secret_fields.clone(),
            hello.identity_fields.clone(),
        )
    }

    /// A provider from its parts, as stored or as sent in a hello.
    pub fn new(
        name: &str,
        display_name: &str,
        description: &str,
        version: &str,
        schema_json: &str,
        secret_fields: Vec<String>,
        identity_fields: Vec<String>,
    ) -> Result<Self> {
        const FIELD: &str = "hello.settings_schema_json";
        if schema_json.len() > MAX_SCHEMA_LEN {
            return Err(Error::invalid(FIELD, "is over 64 KiB"));
        }
        let schema: Value =
            serde_json::from_str(schema_json).map_err(|err| Error::invalid(FIELD, format!("is not JSON: {err}")))?;
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .filter(|_| schema.get("type").and_then(Value::as_str) == Some("object"))
            .ok_or_else(|| {
                Error::invalid(FIELD, "must be an object schema: {\"type\": \"object\", \"properties\": {...}}")
            })?;
        let validator = jsonschema::validator_for(&schema)
            .map_err(|err| Error::invalid(FIELD, format!("is not a valid JSON Schema: {err}")))?;
        for secret in &secret_fields {
            let is_string =
                properties.get(secret).and_then(|p| p.get("type")).and_then(Value::as_str) == Some("string");
            if !is_string {
                return Err(Error::invalid(
                    "hello.secret_fields",
                    format!("\"{secret}\" must be a string property of the settings schema"),
                ));
            }
        }
        if let Some(unknown) = identity_fields.iter().find(|field| !properties.contains_key(field.as_str())) {
            return Err(Error::invalid(
                "hello.identity_fields",
                format!("\"{unknown}\" is not a property of the settings schema"),
            ));
        }
        let required = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        Ok(Self {
            name: name.to_owned(),
            display_name: display_name.to_owned(),
            description: description.to_owned(),
            version: version.to_owned(),
            schema_json: schema_json.to_owned(),
            secret_fields,
            identity_fields,
            required,
            validator: std::sync::Arc::new(validator),
        })
    }

    /// Whether `name` is one of the secret settings.
    pub fn is_secret(&self, name: &str) -> bool {
        self.secret_fields.iter().any(|secret| secret == name)
    }

    /// Checks a resource's settings: `meta` holds the plain ones, `secrets` the secret ones.
    /// Errors name the setting as "resource.meta_json.<name>" or "resource.secrets.<name>"; a secret's value is
    /// never repeated in a message.
    pub fn check_settings(&self, meta: &Map<String, Value>, secrets: &BTreeMap<String, String>) -> Result<()> {
        if let Some(secret) = meta.keys().find(|key| self.is_secret(key)) {
            return Err(Error::invalid_owned(
                format!("resource.meta_json.{secret}"),
                format!("\"{secret}\" is a secret: send it in secrets, never in meta_json"),
            ));
        }
        if let Some(unknown) = secrets.keys().find(|key| !self.is_secret(key)) {
            return Err(Error::invalid_owned(
                format!("resource.secrets.{unknown}"),
                format!("\"{unknown}\" is not a secret of provider {}; put plain settings in meta_json", self.name),
            ));
        }
        let mut settings = meta.clone();
        settings.extend(secrets.iter().map(|(name, value)| (name.clone(), Value::String(value.clone()))));
        let settings = Value::Object(settings);
        let Some(error) = self.validator.iter_errors(&settings).next() else {
            return Ok(());
        };
        let setting = match error.kind() {
            ValidationErrorKind::Required { property } => property.as_str().map(str::to_owned),
            ValidationErrorKind::AdditionalProperties { unexpected } => unexpected.first().cloned(),
            _ => error.instance_path().iter().next().and_then(|segment| match segment {
                LocationSegment::Property(name) => Some(name.into_owned()),
                _ => None,
            }),
        };
        let Some(setting) = setting else {
            return Err(Error::invalid("resource.meta_json", format!("{}; fix the settings", error.masked())));
        };
        if self.is_secret(&setting) {
            Err(Error::invalid_owned(
                format!("resource.secrets.{setting}"),
                format!("{}; fix this secret", error.masked()),
            ))
        } else {
            Err(Error::invalid_owned(format!("resource.meta_json.{setting}"), format!("{error}; fix this setting")))
        }
    }
}

/// Every provider known, with how many of its instances are attached now.
#[derive(Debug, Default)]
pub struct Registry {
    /// By name.
    providers: RwLock<HashMap<String, (ProviderSpec, usize)>>,
}

impl Registry {
    /// The providers stored by earlier hellos, all offline. A stored schema that no longer
    /// compiles is skipped: the provider's next hello replaces it.
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        let mut providers = HashMap::new();
        for record in store.providers().await? {
            let fields = |json: &str| serde_json::from_str::<Vec<String>>(json).unwrap_or_default();
            match ProviderSpec::new(
                &record.name,
                &record.display_name,
                &record.description,
                &record.version,
                &record.settings_schema_json,
                fields(&record.secret_fields),
                fields(&record.identity_fields),
            ) {
                Ok(spec) => {
                    providers.insert(record.name, (spec, 0));
                }
                Err(err) => tracing::warn!(provider = %record.name, error = %err, "stored provider schema skipped"),
            }
        }
        Ok(Self { providers: RwLock::new(providers) })
    }

    /// Records a provider's latest description, in memory and in `store`.
    pub async fn describe(&self, store: &Store, spec: ProviderSpec) -> Result<(), StoreError> {
        let as_json = |fields: &[String]| serde_json::to_string(fields).expect("strings serialise");
        store
            .upsert_provider(&ProviderRecord {
                name: spec.name.clone(),
                display_name: spec.display_name.clone(),
                description: spec.description.clone(),
                version: spec.version.clone(),
                settings_schema_json: spec.schema_json.clone(),
                secret_fields: as_json(&spec.secret_fields),
                identity_fields: as_json(&spec.identity_fields),
                update_time: now_millis(),
            })
            .await?;
        let mut providers = self.providers.write().expect("registry lock");
        let instances = providers.get(&spec.name).map_or(0, |(_, count)| *count);
        providers.insert(spec.name.clone(), (spec, instances));
        Ok(())
    }

    /// Counts an instance of `provider` in (`+1`) or out (`-1`).
    pub fn count_instance(&self, provider: &str, delta: isize) {
        if let Some((_, count)) = self.providers.write().expect("registry lock").get_mut(provider) {
            *count = count.saturating_add_signed(delta);
        }
    }

    /// The provider named `name`.
    pub fn get(&self, name: &str) -> Option<ProviderSpec> {
        self.providers.read().expect("registry lock").get(name).map(|(spec, _)| spec.clone())
    }

    /// Every provider with its instance count, by name.
    pub fn list(&self) -> Vec<(ProviderSpec, usize)> {
        let mut all: Vec<_> = self.providers.read().expect("registry lock").values().cloned().collect();
        all.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        all
    }
}

/// Checks a provider name: 1 to 32 lower-case letters, digits, "-" and "_", starting with a
/// letter, and not the reserved "web".
pub fn check_provider_name(name: &str) -> Result<()> {
    let well_formed = name.len() <= MAX_PROVIDER_LEN
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(Error::invalid(
            "hello.provider",
            "must be 1 to 32 lower-case letters, digits, \"-\" and \"_\", starting with a letter",
        ));
    }
    if name == RESERVED_PROVIDER {
        return Err(Error::invalid("hello.provider", "\"web\" is reserved for the browser chat; choose another name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn telegram() -> ProviderSpec {
        let schema = json!({
            "type": "object",
            "properties": {
                "bot_token": {"type": "string", "pattern": "^[0-9]+:[A-Za-z0-9_-]{30,}$"},
                "system_prompt": {"type": "string", "maxLength": 4000},
                "allowed_users": {"type": "array", "items": {"type": "string"}}
            },
            "required": ["bot_token"],
            "additionalProperties": false
        });
        ProviderSpec::new(
            "telegram",
            "Telegram",
            "A Telegram bot.",
            "0.1.0",
            &schema.to_string(),
            vec!["bot_token".into()],
            vec!["bot_token".into()],
        )
        .unwrap()
    }

    fn field(result: Result<()>) -> (String, String) {
        match result {
            Err(Error::InvalidArgument { field, message }) => (field.into_owned(), message),
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    #[test]
    fn settings_errors_name_the_setting_and_hide_secret_values() {
        let spec = telegram();
        let token = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef".to_owned();
        let secrets = BTreeMap::from([("bot_token".to_owned(), token.clone())]);
        let meta = |value: Value| value.as_object().unwrap().clone();
        assert!(spec.check_settings(&meta(json!({"system_prompt": "Be brief."})), &secrets).is_ok());

        let (name, _) = field(spec.check_settings(&meta(json!({"allowed_users": [1]})), &secrets));
        assert_eq!(name, "resource.meta_json.allowed_users");
        let (name, _) = field(spec.check_settings(&meta(json!({"colour": "red"})), &secrets));
        assert_eq!(name, "resource.meta_json.colour");
        let (name, _) = field(spec.check_settings(&meta(json!({})), &BTreeMap::new()));
        assert_eq!(name, "resource.secrets.bot_token");
        let bad = BTreeMap::from([("bot_token".to_owned(), "not-a-token-secret-value".to_owned())]);
        let (name, message) = field(spec.check_settings(&meta(json!({})), &bad));
        assert_eq!(name, "resource.secrets.bot_token");
        assert!(!message.contains("not-a-token-secret-value"), "{message}");
        let (name, _) = field(spec.check_settings(&meta(json!({"bot_token": token})), &BTreeMap::new()));
        assert_eq!(name, "resource.meta_json.bot_token");
    }

    #[test]
    fn hellos_with_bad_schemas_are_refused() {
        let bad = [
            ("not json", "hello.settings_schema_json"),
            ("{\"type\": \"string\"}", "hello.settings_schema_json"),
            ("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": 5}}}", "hello.settings_schema_json"),
            ("{\"type\": \"object\", \"properties\": {\"bot_token\": {\"type\": \"integer\"}}}", "hello.secret_fields"),
        ];
        for (schema, expected) in bad {
            let result = ProviderSpec::new("p", "P", "", "1", schema, vec!["bot_token".into()], vec![]);
            let (name, _) = field(result.map(|_| ()));
            assert_eq!(name, expected, "{schema}");
        }
        for name in ["", "Telegram", "9lives", "web", "a b", &"x".repeat(33)] {
            assert!(check_provider_name(name).is_err(), "{name}");
        }
        assert!(check_provider_name("zoom-team_chat2").is_ok());
    }
}
