//! Storage: one [`Store`] over SQLite or PostgreSQL, through sqlx's `Any` driver.
//!
//! Every query is written once in SQL that both databases accept (`$1` parameters, `RETURNING`,
//! integers for times), so there is one implementation and one contract test suite for both
//! backends. Each backend keeps its own migrations in `migrations/<backend>/`, embedded into the
//! binary and applied at start-up.
//!
//! Layout: one module per table group: [`users`], [`sessions`], [`api_tokens`], [`identities`], [`profiles`],
//! [`providers`], [`resources`], [`conversations`], [`messages`], [`usage`]; [`secrets`] lists every sealed column for key rotation.

pub mod api_tokens;
pub mod conversations;
pub mod identities;
pub mod messages;
pub mod profiles;
pub mod providers;
pub mod resources;
pub mod secrets;
pub mod sessions;
pub mod sign_in_links;
pub mod states;
pub mod usage;
pub mod users;

use std::{str::FromStr, time::Duration};

use sqlx::{
    AnyPool, Executor,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::{MigrateError, Migrator},
};

/// Connections kept open at most; SQLite serialises writes anyway.
const MAX_CONNECTIONS: u32 = 16;
/// How long a query waits for a free connection before the call fails as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (the default).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::Config(format!(
                "DATABASE_URL must start with postgres:// or sqlite://, got {:?}",
                url.split(':').next().unwrap_or_default()
            )))
        }
    }

    /// The migrations of this backend, embedded at build time.
    pub fn migrations(self) -> &'static Migrator {
        match self {
            Self::Sqlite => &SQLITE_MIGRATIONS,
            Self::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// The database cannot be reached or timed out.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A migration failed; the database was left as it was before that migration.
    #[error("database migration failed, the database is unchanged by it: {0}")]
    Migration(#[from] MigrateError),
    /// A unique key already holds this value.
    #[error("unique key violated: {0}")]
    Conflict(String),
    /// Stored data is not what the code expects.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict(db.message().to_owned()),
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                Self::Unavailable(err.to_string())
            }
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => Self::Corrupt(err.to_string()),
            _ => Self::Database(err),
        }
    }
}

/// The platform's storage.
#[derive(Clone, Debug)]
pub struct Store {
    /// The connection pool, shared by every clone.
    pool: AnyPool,
    /// Which database the pool talks to.
    backend: Backend,
}

impl Store {
    /// Opens the database at `url` (creating an SQLite file if needed) without migrating it.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let options = AnyConnectOptions::from_str(url).map_err(|e| StoreError::Config(format!("DATABASE_URL: {e}")))?;
        let pool = AnyPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run while one writer writes; NORMAL sync is safe in WAL.
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self { pool, backend })
    }

    /// Opens the database and applies every pending migration.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let store = Self::connect(url).await?;
        store.migrate(store.backend.migrations()).await?;
        Ok(store)
    }

    /// Applies `migrator`'s pending migrations, each in its own transaction.
    pub async fn migrate(&self, migrator: &Migrator) -> Result<(), StoreError> {
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool, for queries of the submodules and for tests.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that will write: on SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so that concurrent writers wait their turn (within `busy_timeout`) instead of
    /// failing as "database is locked" when one would upgrade a read to a write.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Waits for queries in flight and closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Milliseconds since the Unix epoch, the unit of every stored time.
pub fn now_millis() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

/// A fresh, time-ordered id for a new row.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::{profiles::ProfileRecord, resources::ResourceRecord, users::Credentials};

    const SEALED: &str = "v1.key-1.c2VhbGVkLXNlY3JldC12YWx1ZQ";

    #[test]
    fn sealed_secrets_and_password_hashes_never_show_in_debug_output() {
        let credentials = Credentials { id: "u1".into(), password_hash: Some(format!("$argon2id$v=19${SEALED}")) };
        let profile = ProfileRecord {
            user_id: "u1".into(),
            email: "ann@example.com".into(),
            display_name: "Ann".into(),
            language_code: "en".into(),
            ai_mode: "byok".into(),
            openai_key_sealed: Some(SEALED.into()),
            openai_key_mask: "...wxyz".into(),
            openai_key_state: "set".into(),
            openai_base_url: String::new(),
            openai_model: String::new(),
            update_time: 0,
        };
        let resource = ResourceRecord {
            id: "r1".into(),
            user_id: "u1".into(),
            provider: "telegram".into(),
            name: "Bot".into(),
            meta_json: "{}".into(),
            secrets_sealed: Some(SEALED.into()),
            secret_masks: r#"{"bot_token":"...wxyz"}"#.into(),
            identity_hash: None,
            desired_state: super::states::Desired::Active,
            generation: 1,
            state: super::states::State::Ready,
            state_detail: String::new(),
            state_reason: String::new(),
            state_action: super::states::Action::Unstated,
            state_change_time: 0,
            status_info: "[]".into(),
            create_time: 0,
            update_time: 0,
        };
        for shown in [format!("{credentials:?}"), format!("{profile:?}"), format!("{resource:?}")] {
            assert!(!shown.contains(SEALED), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        assert!(format!("{profile:?}").contains("...wxyz"), "the mask still shows");
    }
}
