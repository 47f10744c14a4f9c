//! A provider's settings schema (JSON Schema) as the fields of a form, and a submitted form read
//! back into settings. Forms name each setting `settings.<name>`, as the JSON API's errors do.

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
    /// A list of strings, one per line.
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
}

impl Setting {
    /// The form control's name.
    pub fn input_name(&self) -> String {
        format!("settings.{}", self.name)
    }
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
            Kind::Text | Kind::LongText => Value::String(text.replace("\r\n", "\n")),
            Kind::Secret => Value::String(text.trim().to_owned()),
            Kind::Integer => text.trim().parse::<i64>().map_err(|_| invalid("enter a whole number"))?.into(),
            Kind::Number => {
                let number = text.trim().parse::<f64>().map_err(|_| invalid("enter a number"))?;
                serde_json::Number::from_f64(number).map(Value::Number).ok_or_else(|| invalid("enter a number"))?
            }
            Kind::Lines => Value::Array(
                text.lines().map(str::trim).filter(|line| !line.is_empty()).map(|l| Value::String(l.into())).collect(),
            ),
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
}
