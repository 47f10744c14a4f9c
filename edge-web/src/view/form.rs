//! The form model of a resource: a provider's settings schema (JSON Schema) as the fields of a
//! form, and a submitted form read back into settings. Forms name each setting
//! `settings.<name>`, as the JSON API's errors do.

use std::collections::HashMap;

use assistchat_proto::v1::Provider;
use serde_json::{Map, Value};

use crate::error::AppError;

/// Strings longer than this get a textarea.
const LONG_TEXT: u64 = 200;

/// How a setting is entered.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// One line of text.
    Text,
    /// Several lines of text.
    LongText,
    /// A secret: a password input, never prefilled.
    Secret,
    /// A checkbox.
    Bool,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// A list of strings, one per line or separated by commas.
    Lines,
    /// One of these values.
    Choice(Vec<Value>),
}

/// One setting of a provider, as a form field.
#[derive(Clone, Debug)]
pub struct Setting {
    /// Its name in the schema.
    pub name: String,
    /// How it is entered.
    pub kind: Kind,
    /// The schema's title, or the name.
    pub title: String,
    /// The schema's description, if any.
    pub description: Option<String>,
    /// Whether the schema requires it.
    pub required: bool,
    /// The schema's maxLength of a string, if any.
    pub max_length: Option<u64>,
    /// The schema's default, which a new form starts with.
    pub default: Option<Value>,
    /// The pattern each entry of a list must match, if the schema has one.
    pub item_pattern: Option<String>,
}

impl Setting {
    /// The form control's name.
    pub fn input_name(&self) -> String {
        format!("settings.{}", self.name)
    }

    /// The first entry of a list typed as `text` that the schema's item pattern refuses.
    pub fn refused_entry<'a>(&self, text: &'a str) -> Option<&'a str> {
        let pattern = regex::Regex::new(self.item_pattern.as_deref()?).ok()?;
        list_entries(text).into_iter().find(|entry| !pattern.is_match(entry))
    }
}

/// The settings of `provider` in the order of `first` (the settings it names, as a provider's
/// page says them), then the required ones, then the rest, each group by name.
pub fn settings_in_order(provider: &Provider, first: &[&str]) -> Vec<Setting> {
    let mut settings = settings(provider);
    let place = |setting: &Setting| first.iter().position(|name| *name == setting.name).unwrap_or(first.len());
    settings.sort_by_key(|setting| (place(setting), !setting.required));
    settings
}

/// The settings of `provider`: the required ones first, each group by name.
pub fn settings(provider: &Provider) -> Vec<Setting> {
    let schema: Value = serde_json::from_str(&provider.settings_schema_json).unwrap_or_default();
    let required: Vec<&str> =
        schema["required"].as_array().map(|list| list.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else { return Vec::new() };
    let mut settings: Vec<Setting> = properties
        .iter()
        .map(|(name, property)| {
            let secret = provider.secret_fields.iter().any(|s| s == name);
            let max_length = property["maxLength"].as_u64();
            let kind = match (property["type"].as_str(), property["enum"].as_array()) {
                _ if secret => Kind::Secret,
                (_, Some(values)) => Kind::Choice(values.clone()),
                (Some("boolean"), _) => Kind::Bool,
                (Some("integer"), _) => Kind::Integer,
                (Some("number"), _) => Kind::Number,
                (Some("array"), _) => Kind::Lines,
                _ if name == "system_prompt" || max_length.is_some_and(|n| n > LONG_TEXT) => Kind::LongText,
                _ => Kind::Text,
            };
            Setting {
                name: name.clone(),
                kind,
                title: property["title"].as_str().unwrap_or(name).to_owned(),
                description: property["description"].as_str().map(str::to_owned),
                required: required.contains(&name.as_str()),
                max_length,
                default: property.get("default").cloned(),
                item_pattern: property["items"]["pattern"].as_str().map(str::to_owned),
            }
        })
        .collect();
    settings.sort_by_key(|setting| !setting.required);
    settings
}

/// The text a form shows for a stored value: lists one item per line, `on` for a true checkbox.
pub fn form_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Bool(true) => "on".into(),
        Value::Bool(false) | Value::Null => String::new(),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map_or_else(|| item.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

/// The texts a new form starts with: the schema's defaults.
pub fn default_texts(settings: &[Setting]) -> HashMap<String, String> {
    let defaults = settings.iter().filter_map(|s| Some((s.name.clone(), form_text(s.default.as_ref()?))));
    defaults.collect()
}

/// The form's texts of stored settings, by setting name.
pub fn form_texts(settings: &Map<String, Value>) -> HashMap<String, String> {
    settings.iter().map(|(name, value)| (name.clone(), form_text(value))).collect()
}

/// The submitted texts of the settings, by setting name, from a form's fields.
pub fn submitted(fields: &[(String, String)]) -> HashMap<String, String> {
    fields
        .iter()
        .filter_map(|(key, value)| key.strip_prefix("settings.").map(|name| (name.to_owned(), value.clone())))
        .collect()
}

/// The settings typed into a form, as JSON. An empty field is left out (core names it when it
/// is required); a number that is not one is an error at its field.
pub fn read(settings: &[Setting], texts: &HashMap<String, String>) -> Result<Map<String, Value>, AppError> {
    let mut out = Map::new();
    for setting in settings {
        let text = texts.get(&setting.name).map(String::as_str).unwrap_or_default();
        let invalid = |message: &str| AppError::Invalid { field: setting.input_name(), message: message.into() };
        let value = match &setting.kind {
            Kind::Bool => Value::Bool(!text.is_empty()),
            _ if text.trim().is_empty() => continue,
            Kind::Text => Value::String(text.trim().to_owned()),
            Kind::LongText => Value::String(text.replace("\r\n", "\n")),
            Kind::Secret => Value::String(text.trim().to_owned()),
            Kind::Integer => text.trim().parse::<i64>().map_err(|_| invalid("enter a whole number"))?.into(),
            Kind::Number => {
                let number = text.trim().parse::<f64>().map_err(|_| invalid("enter a number"))?;
                serde_json::Number::from_f64(number).map(Value::Number).ok_or_else(|| invalid("enter a number"))?
            }
            Kind::Lines => Value::Array(list_entries(text).into_iter().map(Value::from).collect()),
            Kind::Choice(values) => values
                .iter()
                .find(|v| form_text(v) == text)
                .cloned()
                .ok_or_else(|| invalid("choose one of the options"))?,
        };
        out.insert(setting.name.clone(), value);
    }
    Ok(out)
}

/// The fields of a submitted form, as sent.
pub type Fields = Vec<(String, String)>;

/// The value of the form field `name`.
pub fn form_field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields.iter().find(|(key, _)| key == name).map_or("", |(_, value)| value.as_str())
}

/// The settings texts of a submitted form to show again: every one but the secrets.
pub fn kept_texts(settings: &[Setting], fields: &Fields) -> HashMap<String, String> {
    let mut texts = submitted(fields);
    texts.retain(|name, _| settings.iter().any(|s| &s.name == name && s.kind != Kind::Secret));
    texts
}

/// The entries of a list typed in a text area: split at commas and line ends, trimmed.
pub fn list_entries(text: &str) -> Vec<&str> {
    text.split([',', '\n']).map(str::trim).filter(|entry| !entry.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn provider() -> Provider {
        let schema = json!({
            "type": "object",
            "properties": {
                "token": {"type": "string", "title": "Token"},
                "system_prompt": {"type": "string"},
                "greeting": {"type": "string", "maxLength": 500},
                "name": {"type": "string", "maxLength": 50, "description": "Shown to people"},
                "public": {"type": "boolean"},
                "limit": {"type": "integer"},
                "ratio": {"type": "number"},
                "users": {"type": "array", "items": {"type": "string"}},
                "mode": {"type": "string", "enum": ["fast", "slow"]}
            },
            "required": ["token"]
        });
        Provider { settings_schema_json: schema.to_string(), secret_fields: vec!["token".into()], ..Default::default() }
    }

    #[test]
    fn each_schema_type_gets_its_control() {
        let settings = settings(&provider());
        let kind = |name: &str| settings.iter().find(|s| s.name == name).unwrap().kind.clone();
        assert_eq!(kind("token"), Kind::Secret);
        assert_eq!(kind("system_prompt"), Kind::LongText);
        assert_eq!(kind("greeting"), Kind::LongText);
        assert_eq!(kind("name"), Kind::Text);
        assert_eq!(kind("public"), Kind::Bool);
        assert_eq!(kind("limit"), Kind::Integer);
        assert_eq!(kind("ratio"), Kind::Number);
        assert_eq!(kind("users"), Kind::Lines);
        assert_eq!(kind("mode"), Kind::Choice(vec![json!("fast"), json!("slow")]));
        assert!(settings.iter().find(|s| s.name == "token").unwrap().required);
    }

    #[test]
    fn a_form_reads_back_into_settings() {
        let settings = settings(&provider());
        let texts: HashMap<String, String> = [
            ("token", " abc "),
            ("users", "ann\r\n\r\nbob\n"),
            ("public", "on"),
            ("limit", "5"),
            ("mode", "slow"),
            ("name", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let read = read(&settings, &texts).unwrap();
        assert_eq!(
            Value::Object(read),
            json!({"token": "abc", "users": ["ann", "bob"], "public": true, "limit": 5, "mode": "slow"})
        );
        let bad = HashMap::from([("limit".to_owned(), "five".to_owned())]);
        assert_eq!(super::read(&settings, &bad).unwrap_err().field().as_deref(), Some("settings.limit"));
    }

    #[test]
    fn lists_split_at_commas_and_lines_and_their_entries_meet_the_item_pattern() {
        assert_eq!(list_entries("@ann, 12345\r\nbob_smith,,\n"), ["@ann", "12345", "bob_smith"]);
        let schema = json!({
            "type": "object",
            "properties": {
                "users": {"type": "array", "items": {"type": "string", "pattern": "^@?[a-z]{3,}$"}},
                "groups_only": {"type": "boolean", "default": true},
                "key": {"type": "string"},
                "label": {"type": "string"}
            },
            "required": ["key"]
        });
        let provider = Provider { settings_schema_json: schema.to_string(), ..Default::default() };
        let ordered = settings_in_order(&provider, &["users", "label"]);
        let names: Vec<&str> = ordered.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["users", "label", "key", "groups_only"], "the page's order, then required, then the rest");
        assert_eq!(ordered[0].refused_entry("@ann, bob\nx-y, zoe"), Some("x-y"));
        assert_eq!(ordered[0].refused_entry("@ann, bob"), None);
        assert_eq!(default_texts(&ordered), HashMap::from([("groups_only".to_owned(), "on".to_owned())]));
    }
}
