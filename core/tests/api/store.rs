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
