//! The `users` table, with the profile row every user gets at registration, and the deletion of
//! an account with every row it owns.

use sqlx::FromRow;

use super::{Store, StoreError, identities::IdentityRecord};

/// A new account and the first values of its profile.
pub struct NewUser<'a> {
    /// The new account's id.
    pub id: &'a str,
    /// The normalised email.
    pub email: &'a str,
    /// The argon2id PHC string of the password; empty for an account made by an identity
    /// provider, which has none.
    pub password_hash: &'a str,
    /// The profile's display name.
    pub display_name: &'a str,
    /// The profile's interface language.
    pub language_code: &'a str,
    /// The profile's AI mode, as stored (`managed` or `byok`).
    pub ai_mode: &'a str,
    /// Creation time, in Unix milliseconds.
    pub create_time: i64,
}

/// An account as the rest of the platform sees it.
#[derive(Clone, Debug, FromRow)]
pub struct UserRecord {
    /// The account's id.
    pub id: String,
    /// The normalised email.
    pub email: String,
    /// The name shown to the person.
    pub display_name: String,
    /// The interface language.
    pub language_code: String,
    /// Creation time, in Unix milliseconds.
    pub create_time: i64,
}

/// What a password sign-in needs of an account.
#[derive(Clone, FromRow)]
pub struct Credentials {
    /// The account's id.
    pub id: String,
    /// The argon2id PHC string of the password; `None` when the account has no password.
    pub password_hash: Option<String>,
}

// A password hash can be attacked offline: it never reaches a log line.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("id", &self.id)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// What a password change ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Revoked {
    /// Sessions ended (all but the caller's).
    pub sessions: u64,
    /// Personal API tokens revoked (all of them).
    pub api_tokens: u64,
}

/// Every row an account owns, table by table, as the condition that finds them by the account's
/// id (`$1`), children before their parents; `users` itself comes after them. A table that holds
/// rows of an account belongs here: a test reads every table of both schemas for a column naming
/// one, so that none is forgotten.
const OWNED_ROWS: [(&str, &str); 12] = [
    // Found by conversation, the column the messages' index begins with (and the search index
    // follows the messages it indexes).
    ("messages", "conversation_id IN (SELECT id FROM conversations WHERE user_id = $1)"),
    ("conversations", "user_id = $1"),
    ("chats", "user_id = $1"),
    ("resources", "user_id = $1"),
    ("usage_days", "user_id = $1"),
    ("identities", "user_id = $1"),
    ("pending_links", "user_id = $1"),
    ("sign_in_flows", "user_id = $1"),
    ("sign_in_links", "user_id = $1"),
    ("api_tokens", "user_id = $1"),
    ("sessions", "user_id = $1"),
    ("profiles", "user_id = $1"),
];

const SELECT_USER: &str = "SELECT u.id, u.email, p.display_name, p.language_code, u.create_time \
     FROM users u JOIN profiles p ON p.user_id = u.id";

impl Store {
    /// Creates the account and its profile together, with the identity it was made by if any; a
    /// taken email (or identity) is [`StoreError::Conflict`].
    pub async fn create_user(&self, user: &NewUser<'_>, identity: Option<&IdentityRecord>) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO users (id, email, password_hash, create_time) VALUES ($1, $2, $3, $4)")
            .bind(user.id)
            .bind(user.email)
            .bind(user.password_hash)
            .bind(user.create_time)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO profiles (user_id, display_name, language_code, ai_mode, update_time) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user.id)
        .bind(user.display_name)
        .bind(user.language_code)
        .bind(user.ai_mode)
        .bind(user.create_time)
        .execute(&mut *tx)
        .await?;
        if let Some(identity) = identity {
            Self::insert_identity_in(&mut tx, identity).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The account with this id.
    pub async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("{SELECT_USER} WHERE u.id = $1");
        Ok(sqlx::query_as(&sql).bind(id).fetch_optional(self.pool()).await?)
    }

    /// The sign-in credentials of the account with this normalised email.
    pub async fn credentials_by_email(&self, email: &str) -> Result<Option<Credentials>, StoreError> {
        Ok(sqlx::query_as("SELECT id, NULLIF(password_hash, '') AS password_hash FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The sign-in credentials of the account with this id.
    pub async fn credentials_by_id(&self, id: &str) -> Result<Option<Credentials>, StoreError> {
        Ok(sqlx::query_as("SELECT id, NULLIF(password_hash, '') AS password_hash FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Takes the lock of one user's row for the rest of the transaction: a row lock on
    /// PostgreSQL (the same under READ COMMITTED), the database's write lock on SQLite. A check
    /// made after it (counting the user's rows, say) holds until the transaction ends, since
    /// every other transaction that takes it waits.
    pub(super) async fn lock_user(connection: &mut sqlx::AnyConnection, user_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET email = email WHERE id = $1").bind(user_id).execute(connection).await?;
        Ok(())
    }

    /// Replaces the password hash of an account, ends all its sessions but `keep_session` and
    /// revokes all its API tokens, in one transaction; returns what was ended.
    pub async fn change_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> Result<Revoked, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(user_id)
            .bind(keep_session.unwrap_or(""))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let api_tokens = sqlx::query("DELETE FROM api_tokens WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Revoked { sessions: ended, api_tokens })
    }

    /// Deletes the account `user_id` and every row it owns, in one transaction; whether it
    /// existed.
    pub async fn delete_user(&self, user_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        for (table, owned) in OWNED_ROWS {
            sqlx::query(&format!("DELETE FROM {table} WHERE {owned}")).bind(user_id).execute(&mut *tx).await?;
        }
        let deleted =
            sqlx::query("DELETE FROM users WHERE id = $1").bind(user_id).execute(&mut *tx).await?.rows_affected() > 0;
        tx.commit().await?;
        Ok(deleted)
    }
}
