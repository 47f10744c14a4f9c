//! The models a person may choose: in managed mode those the operator offers
//! (`ASSISTCHAT_MANAGED_MODELS`), in byok mode those the person's server lists, kept a few
//! minutes so that opening a page does not ask the server every time.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use super::Conversations;
use crate::{
    error::{Error, Result},
    profile::AiMode,
    words::{Phrase, say},
};

/// How long a server's list of models is used before it is asked again.
pub const CACHE_FOR: Duration = Duration::from_secs(5 * 60);
/// The most models kept of one server's list.
const MAX_MODELS: usize = 1000;

/// The models a person may choose, sorted, and the one asked when they choose none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offered {
    /// Every model, by name.
    pub models: Vec<String>,
    /// The default.
    pub default: String,
}

/// Byok users' model lists, as their servers last gave them.
#[derive(Debug, Default)]
pub struct ModelCache {
    by_user: Mutex<HashMap<String, Listed>>,
}

#[derive(Clone, Debug)]
struct Listed {
    /// A hash of the server and key listed with: another server or key is asked again.
    source: u64,
    at: Instant,
    models: Vec<String>,
}

impl ModelCache {
    fn get(&self, user_id: &str, source: u64) -> Option<Vec<String>> {
        let cached = self.by_user.lock().unwrap_or_else(PoisonError::into_inner);
        let listed = cached.get(user_id)?;
        (listed.source == source && listed.at.elapsed() < CACHE_FOR).then(|| listed.models.clone())
    }

    fn put(&self, user_id: &str, source: u64, models: Vec<String>) {
        let mut cached = self.by_user.lock().unwrap_or_else(PoisonError::into_inner);
        cached.retain(|_, listed| listed.at.elapsed() < CACHE_FOR);
        cached.insert(user_id.to_owned(), Listed { source, at: Instant::now(), models });
    }
}

impl Conversations {
    /// The models the user may choose now.
    pub async fn offered_models(&self, user_id: &str) -> Result<Offered> {
        let profile = self.profiles.get(user_id).await?;
        if AiMode::from_stored(&profile.ai_mode) != Some(AiMode::Byok) {
            let default = self.profiles.platform_model().to_owned();
            return Ok(offered(self.settings.managed_models.clone(), default));
        }
        let route = self.profiles.ai_route(user_id).await?;
        let mut source = DefaultHasher::new();
        (&route.target.base_url, &route.target.api_key).hash(&mut source);
        let source = source.finish();
        let default = route.target.model.clone();
        if let Some(models) = self.models.get(user_id, source) {
            return Ok(offered(models, default));
        }
        let mut models = self.ai.list_models(&route.target).await.map_err(|err| {
            tracing::info!(error = ?err, "a user's model server did not list its models");
            Error::Unavailable(say(&route.language_code, &Phrase::ModelsUnavailable))
        })?;
        models.truncate(MAX_MODELS);
        self.models.put(user_id, source, models.clone());
        Ok(offered(models, default))
    }

    /// `INVALID_ARGUMENT` on `field` unless the user may choose `model` (empty: the default).
    pub async fn check_model(&self, user_id: &str, field: &'static str, model: &str) -> Result<()> {
        if model.is_empty() {
            return Ok(());
        }
        let offered = self.offered_models(user_id).await?;
        if offered.models.iter().any(|name| name == model) {
            return Ok(());
        }
        let phrase = Phrase::ModelNotOffered { model, offered: &offered.models.join(", ") };
        Err(Error::invalid(field, say(&self.language(user_id).await?, &phrase)))
    }
}

/// `models` sorted without repeats, with the default among them.
fn offered(mut models: Vec<String>, default: String) -> Offered {
    models.retain(|model| !model.is_empty());
    if !default.is_empty() {
        models.push(default.clone());
    }
    models.sort();
    models.dedup();
    Offered { models, default }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_always_offered_once() {
        let listed = offered(vec!["b".into(), "a".into(), "b".into(), String::new()], "c".into());
        assert_eq!(listed, Offered { models: vec!["a".into(), "b".into(), "c".into()], default: "c".into() });
        assert_eq!(offered(vec!["a".into()], "a".into()).models, ["a"]);
    }

    #[test]
    fn a_list_is_kept_for_its_server_and_key_only() {
        let cache = ModelCache::default();
        cache.put("u", 1, vec!["m".into()]);
        assert_eq!(cache.get("u", 1), Some(vec!["m".into()]));
        assert_eq!(cache.get("u", 2), None, "another server or key is asked again");
        assert_eq!(cache.get("v", 1), None);
    }
}
