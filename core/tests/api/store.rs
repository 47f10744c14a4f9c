//! Storage on both backends: migrations that fail change nothing, and key rotation re-seals
//! every stored secret.

use std::sync::Arc;

use assistchat_core::{
    Application, Config,
    crypto::Keyring,
    profile::Profiles,
    providers::{ProviderSpec, Registry},
    resources::{NewResource, Resources},
    rotation,
    store::{Store, users::NewUser},
};
use base64::Engine;
use sqlx::{Executor, migrate::Migrator};
use tempfile::TempDir;

use crate::{
    both_backends,
    helpers::{Backend, fresh_database},
};

both_backends!(
    a_failed_migration_leaves_the_database_as_it_was,
    a_failed_start_up_migration_stops_the_start_with_a_clear_message,
    rotation_reseals_every_secret_under_the_new_key,
    messages_stored_before_conversations_became_objects_are_kept_and_searchable,
);

async fn table_exists(store: &Store, table: &str) -> bool {
    // Selecting from a missing table fails on both backends.
    sqlx::query(&format!("SELECT 1 FROM {table} LIMIT 1")).fetch_optional(store.pool()).await.is_ok()
}

async fn a_failed_migration_leaves_the_database_as_it_was(backend: Backend) {
    let dir = TempDir::new().unwrap();
    let Some((url, _guard)) = fresh_database(backend, &dir).await else {
        return;
    };
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(migrations.join("1_first.sql"), "CREATE TABLE first_table (id TEXT);").unwrap();
    std::fs::write(
        migrations.join("2_broken.sql"),
        "CREATE TABLE half_done (id TEXT);\nINSERT INTO no_such_table (id) VALUES ('x');",
    )
    .unwrap();
    let store = Store::connect(&url).await.unwrap();
    let migrator = Migrator::new(migrations.as_path()).await.unwrap();
    let err = store.migrate(&migrator).await.unwrap_err();
    assert!(err.to_string().contains("migration failed"), "{err}");
    assert!(table_exists(&store, "first_table").await, "the migration before stays applied");
    assert!(!table_exists(&store, "half_done").await, "the failed migration left nothing behind");
}

async fn a_failed_start_up_migration_stops_the_start_with_a_clear_message(backend: Backend) {
    let dir = TempDir::new().unwrap();
    let Some((url, _guard)) = fresh_database(backend, &dir).await else {
        return;
    };
    // A table in the way of the first migration, holding data that must survive.
    let store = Store::connect(&url).await.unwrap();
    store.pool().execute("CREATE TABLE users (precious TEXT)").await.unwrap();
    store.pool().execute("INSERT INTO users (precious) VALUES ('keep me')").await.unwrap();
    let mut config = Config::with_defaults(dir.path().to_path_buf());
    config.database_url = Some(url);
    let err = Application::build(config).await.err().expect("the start stops");
    assert!(err.to_string().contains("migration failed"), "{err}");
    let kept: String = sqlx::query_scalar("SELECT precious FROM users").fetch_one(store.pool()).await.unwrap();
    assert_eq!(kept, "keep me");
    assert!(!table_exists(&store, "profiles").await, "the failed migration left nothing behind");
}

fn new_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(assistchat_core::crypto::random_bytes::<32>())
}

async fn rotation_reseals_every_secret_under_the_new_key(backend: Backend) {
    let dir = TempDir::new().unwrap();
    let Some((url, _guard)) = fresh_database(backend, &dir).await else {
        return;
    };
    let store = Store::open(&url).await.unwrap();
    let (old, new) = (new_key(), new_key());
    let old_ring = Arc::new(Keyring::from_keys(&old, &[]).unwrap());
    let fake = assistchat_fakes::FakeOpenAi::start().await;
    let platform = assistchat_core::ai::PlatformAi { api_key: None, base_url: fake.base_url(), model: "m".into() };
    for (id, key) in [("u1", "sk-first-user-key-1111"), ("u2", "sk-second-user-key-2222")] {
        store
            .create_user(
                &NewUser {
                    id,
                    email: &format!("{id}@example.com"),
                    password_hash: "x",
                    display_name: id,
                    language_code: "en",
                    ai_mode: "byok",
                    create_time: 0,
                },
                None,
            )
            .await
            .unwrap();
        Profiles::new(store.clone(), old_ring.clone(), platform.clone()).set_openai_key(id, key).await.unwrap();
    }
    // A resource's secrets are sealed like the keys, and rotate with them.
    let registry = Arc::new(Registry::default());
    let schema = r#"{"type": "object", "properties": {"token": {"type": "string"}}}"#;
    let spec = ProviderSpec::new("chan", "Chan", "", "1", schema, vec!["token".into()], vec![]).unwrap();
    registry.describe(&store, spec).await.unwrap();
    let new_resource = NewResource {
        provider: "chan".into(),
        name: "R".into(),
        secrets: [("token".to_owned(), "resource-token-3333".to_owned())].into(),
        ..Default::default()
    };
    let resource =
        Resources::new(store.clone(), old_ring.clone(), registry.clone()).create("u1", new_resource).await.unwrap();

    let rotated = Keyring::from_keys(&new, std::slice::from_ref(&old)).unwrap();
    let report = rotation::reseal_all(&store, &rotated).await.unwrap();
    assert_eq!((report.resealed, report.current), (3, 0));
    let again = rotation::reseal_all(&store, &rotated).await.unwrap();
    assert_eq!((again.resealed, again.current), (0, 3), "running it again changes nothing");

    // The old key can go now: every secret opens under the new key alone.
    let new_only = Profiles::new(store.clone(), Arc::new(Keyring::from_keys(&new, &[]).unwrap()), platform.clone());
    assert_eq!(new_only.openai_key("u1").await.unwrap().as_deref(), Some("sk-first-user-key-1111"));
    assert_eq!(new_only.openai_key("u2").await.unwrap().as_deref(), Some("sk-second-user-key-2222"));
    let new_ring = Arc::new(Keyring::from_keys(&new, &[]).unwrap());
    let resources = Resources::new(store.clone(), new_ring, registry.clone());
    let stored = resources.get("u1", &resource.id).await.unwrap();
    assert_eq!(resources.open_secrets(&stored).unwrap()["token"], "resource-token-3333");
    let old_only = Profiles::new(store.clone(), old_ring.clone(), platform);
    assert!(old_only.openai_key("u1").await.is_err(), "values are no longer under the old key");
    assert!(Resources::new(store.clone(), old_ring, registry).open_secrets(&stored).is_err());
}

/// The migrations of `backend` up to (not including) the one named `before`, in a directory.
fn migrations_before(backend: Backend, before: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(name);
    let target = dir.join("early-migrations");
    std::fs::create_dir(&target).unwrap();
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_owned();
        if file.as_str() < before {
            std::fs::copy(&path, target.join(file)).unwrap();
        }
    }
    target
}

async fn messages_stored_before_conversations_became_objects_are_kept_and_searchable(backend: Backend) {
    let dir = TempDir::new().unwrap();
    let Some((url, _guard)) = fresh_database(backend, &dir).await else {
        return;
    };
    let store = Store::connect(&url).await.unwrap();
    let early = Migrator::new(migrations_before(backend, "20261203000001", dir.path()).as_path()).await.unwrap();
    store.migrate(&early).await.unwrap();
    // One browser chat, reset once: two conversations. Ids are hex, as the store makes them.
    for statement in [
        "INSERT INTO users (id, email, password_hash, create_time) VALUES ('u1', 'ann@example.com', 'x', 1)",
        "INSERT INTO chats (id, user_id, resource_id, chat_key, conversation, create_time) \
         VALUES ('c1', 'u1', NULL, 'browser', 2, 1)",
        "INSERT INTO messages VALUES ('a1', 'c1', 1, 'user', 'Planning a trip to Lisbon', 'u1', '', NULL, 'a2', \
         '', '', 1, 0, 0, 10)",
        "INSERT INTO messages VALUES ('a2', 'c1', 1, 'assistant', 'Lisbon is lovely', '', '', NULL, NULL, \
         '', '', 0, 5, 7, 11)",
        "INSERT INTO messages VALUES ('a3', 'c1', 2, 'user', 'Рецепт борща', 'u1', '', NULL, NULL, \
         'MODEL_UNAVAILABLE', 'try again', 1, 0, 0, 20)",
    ] {
        store.pool().execute(statement).await.unwrap();
    }
    store.migrate(backend_migrations(backend)).await.unwrap();

    let words = |text: &str| assistchat_core::store::conversations::search_words(text);
    let any = assistchat_core::store::conversations::ChannelFilter::Any;
    let listed = store.list_conversations("u1", &any, None, 10).await.unwrap();
    let summary: Vec<_> =
        listed.iter().map(|c| (c.number, c.title.as_str(), c.message_count, c.is_current())).collect();
    assert_eq!(summary, [(2, "Рецепт борща", 1, true), (1, "Planning a trip to Lisbon", 2, false)]);
    let first = &listed[1];
    let messages = store.conversation_messages(&first.id, None, 10).await.unwrap();
    let kept: Vec<_> = messages.iter().map(|m| (m.id.as_str(), m.text.as_str(), m.completion_tokens)).collect();
    assert_eq!(kept, [("a2", "Lisbon is lovely", 7), ("a1", "Planning a trip to Lisbon", 0)]);
    let hits = store.search_conversations("u1", &words("lisbon"), &any, 0, 10).await.unwrap();
    assert_eq!((hits.len(), hits[0].match_id.as_str()), (1, "a2"), "the index holds what was stored before");
    let hits = store.search_conversations("u1", &words("борща"), &any, 0, 10).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert!(store.search_conversations("u2", &words("lisbon"), &any, 0, 10).await.unwrap().is_empty());
}

fn backend_migrations(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => assistchat_core::store::Backend::Sqlite.migrations(),
        Backend::Postgres => assistchat_core::store::Backend::Postgres.migrations(),
    }
}
