//! The interface languages and the one message catalogue (`locales/messages.toml`).
//!
//! Every string shown to a person comes from the catalogue, in English and Russian. A page asks
//! `lang.t("key")`; a key missing from the catalogue is a bug, caught by the tests in debug
//! builds and shown as the key itself in release builds.

use std::{collections::HashMap, sync::LazyLock};

use serde::Deserialize;

/// One catalogue entry, in every language.
#[derive(Debug, Deserialize)]
struct Entry {
    /// English.
    en: String,
    /// Russian.
    ru: String,
}

static CATALOGUE: LazyLock<HashMap<String, Entry>> =
    LazyLock::new(|| toml::from_str(include_str!("../locales/messages.toml")).expect("locales/messages.toml is valid"));

/// An interface language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    /// English, the default.
    #[default]
    En,
    /// Russian.
    Ru,
}

impl Lang {
    /// Every language, in the order the switcher shows them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ru];

    /// The BCP 47 code, as core stores it and `<html lang>` wants it.
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ru => "ru",
        }
    }

    /// The language of a code, if it is one of ours.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|lang| lang.code().eq_ignore_ascii_case(code.trim()))
    }

    /// The first of ours in an `Accept-Language` header, by the client's preference.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut ranges: Vec<(f32, &str)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.trim().split(';');
                let range = pieces.next()?.trim();
                let quality =
                    pieces.find_map(|p| p.trim().strip_prefix("q=")).map_or(Some(1.0), |q| q.parse::<f32>().ok())?;
                Some((quality, range))
            })
            .collect();
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranges.into_iter().filter(|(q, _)| *q > 0.0).find_map(|(_, range)| Self::from_code(range.split('-').next()?))
    }

    /// The text of `key` in this language.
    pub fn t(self, key: &str) -> &'static str {
        match CATALOGUE.get(key) {
            Some(entry) => match self {
                Self::En => &entry.en,
                Self::Ru => &entry.ru,
            },
            None => {
                debug_assert!(false, "message {key:?} is missing from locales/messages.toml");
                tracing::error!(key, "message missing from the catalogue");
                // Leaked once per missing key at most: a release build shows the key.
                Box::leak(key.to_owned().into_boxed_str())
            }
        }
    }

    /// The text of `key` with `{name}` placeholders filled in.
    pub fn format(self, key: &str, args: &[(&str, &str)]) -> String {
        args.iter().fold(self.t(key).to_owned(), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
    }
}

/// Whether the catalogue has `key`.
pub fn has_message(key: &str) -> bool {
    CATALOGUE.contains_key(key)
}

/// The catalogue's keys that begin with `prefix`, in no particular order.
pub fn message_keys(prefix: &str) -> impl Iterator<Item = &'static str> {
    CATALOGUE.keys().filter(move |key| key.starts_with(prefix)).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_both_languages_and_the_same_placeholders() {
        let placeholders = |text: &str| {
            let mut names: Vec<String> =
                text.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(n, _)| n.to_owned())).collect();
            names.sort();
            names
        };
        assert!(CATALOGUE.len() > 20);
        for (key, entry) in CATALOGUE.iter() {
            assert!(!entry.en.trim().is_empty() && !entry.ru.trim().is_empty(), "{key}");
            assert_eq!(placeholders(&entry.en), placeholders(&entry.ru), "{key}");
        }
    }

    #[test]
    fn accept_language_picks_our_best_match() {
        assert_eq!(Lang::from_accept_language("ru-RU,ru;q=0.9,en;q=0.8"), Some(Lang::Ru));
        assert_eq!(Lang::from_accept_language("de-DE, en;q=0.5, ru;q=0.7"), Some(Lang::Ru));
        assert_eq!(Lang::from_accept_language("de, fr"), None);
        assert_eq!(Lang::from_accept_language("ru;q=0, en"), Some(Lang::En));
    }
}
