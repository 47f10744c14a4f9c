//! The `identities`, `sign_in_flows` and `pending_links` tables: sign-in with outside identity
//! providers.

use sqlx::FromRow;

use super::{Store, StoreError};

/// An outside identity linked to an account.
#[derive(Clone, Debug, FromRow)]
pub struct IdentityRecord {
    /// The link's id.
    pub id: String,
    /// The account it signs in.
    pub user_id: String,
    /// The configured provider it came through, such as `google`.
    pub provider_id: String,
    /// The provider's issuer URL.
    pub issuer: String,
    /// The person's id at the issuer.
    pub subject: String,
    /// The email the provider gave when it was last used.
    pub email: String,
    /// When it was linked, in Unix milliseconds.
    pub create_time: i64,
}

/// A sign-in begun with a provider, kept until it is finished or expires.
#[derive(Clone, Debug, FromRow)]
pub struct SignInFlowRecord {
    /// The provider it was begun with.
    pub provider_id: String,
    /// The PKCE verifier whose challenge went to the provider.
    pub pkce_verifier: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The account to link the identity to, when it is not a sign-in.
    pub user_id: Option<String>,
    /// When it can no longer be finished, in Unix milliseconds.
    pub expire_time: i64,
}

/// An identity waiting for the password of the account with its email.
#[derive(Clone, Debug, FromRow)]
pub struct PendingLinkRecord {
    /// The account with the identity's email.
    pub user_id: String,
    /// The provider it came through.
    pub provider_id: String,
    /// The provider's issuer URL.
    pub issuer: String,
    /// The person's id at the issuer.
    pub subject: String,
    /// The email the provider gave.
    pub email: String,
    /// When the link token expires, in Unix milliseconds.
    pub expire_time: i64,
}

const SELECT_IDENTITY: &str = "SELECT id, user_id, provider_id, issuer, subject, email, create_time FROM identities";

impl Store {
    /// Stores a sign-in begun, under the hash of its state.
    pub async fn insert_sign_in_flow(&self, state_hash: &str, flow: &SignInFlowRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sign_in_flows (state_hash, provider_id, pkce_verifier, nonce, user_id, expire_time) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(state_hash)
        .bind(&flow.provider_id)
        .bind(&flow.pkce_verifier)
        .bind(&flow.nonce)
        .bind(flow.user_id.as_deref())
        .bind(flow.expire_time)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Removes and returns the sign-in with this state hash, expired or not: a state is spent
    /// by its first use, whatever comes of it.
    pub async fn take_sign_in_flow(&self, state_hash: &str) -> Result<Option<SignInFlowRecord>, StoreError> {
        Ok(sqlx::query_as(
            "DELETE FROM sign_in_flows WHERE state_hash = $1 \
             RETURNING provider_id, pkce_verifier, nonce, user_id, expire_time",
        )
        .bind(state_hash)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The identity with this issuer and subject.
    pub async fn identity_by_subject(&self, issuer: &str, subject: &str) -> Result<Option<IdentityRecord>, StoreError> {
        let sql = format!("{SELECT_IDENTITY} WHERE issuer = $1 AND subject = $2");
        Ok(sqlx::query_as(&sql).bind(issuer).bind(subject).fetch_optional(self.pool()).await?)
    }

    /// Records the email an identity came with this time.
    pub async fn set_identity_email(&self, id: &str, email: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE identities SET email = $1 WHERE id = $2").bind(email).bind(id).execute(self.pool()).await?;
        Ok(())
    }

    /// Links an identity; one already linked (to anyone) is [`StoreError::Conflict`].
    pub async fn insert_identity(&self, identity: &IdentityRecord) -> Result<(), StoreError> {
        let mut connection = self.pool().acquire().await?;
        Self::insert_identity_in(&mut connection, identity).await
    }

    /// [`Store::insert_identity`] on a given connection or transaction.
    pub(super) async fn insert_identity_in(
        connection: &mut sqlx::AnyConnection,
        identity: &IdentityRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO identities (id, user_id, provider_id, issuer, subject, email, create_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&identity.id)
        .bind(&identity.user_id)
        .bind(&identity.provider_id)
        .bind(&identity.issuer)
        .bind(&identity.subject)
        .bind(&identity.email)
        .bind(identity.create_time)
        .execute(connection)
        .await?;
        Ok(())
    }

    /// The identities linked to an account, oldest first.
    pub async fn identities_of(&self, user_id: &str) -> Result<Vec<IdentityRecord>, StoreError> {
        let sql = format!("{SELECT_IDENTITY} WHERE user_id = $1 ORDER BY create_time, id");
        Ok(sqlx::query_as(&sql).bind(user_id).fetch_all(self.pool()).await?)
    }

    /// Unlinks one of an account's identities unless it is the account's last way to sign in
    /// (no password and no other identity); returns whether it was unlinked. The account's row
    /// is locked first, so two unlinks (on PostgreSQL under READ COMMITTED too, where one
    /// statement alone would let both see the other's identity) are checked one after another.
    pub async fn delete_identity_if_not_last(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        Self::lock_user(&mut tx, user_id).await?;
        let done = sqlx::query(
            "DELETE FROM identities WHERE id = $1 AND user_id = $2 AND ( \
                 EXISTS (SELECT 1 FROM users WHERE id = $2 AND password_hash <> '') \
                 OR (SELECT COUNT(*) FROM identities WHERE user_id = $2) > 1)",
        )
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores an identity waiting for a password, under the hash of its link token.
    pub async fn insert_pending_link(&self, token_hash: &str, link: &PendingLinkRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pending_links (token_hash, user_id, provider_id, issuer, subject, email, expire_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token_hash)
        .bind(&link.user_id)
        .bind(&link.provider_id)
        .bind(&link.issuer)
        .bind(&link.subject)
        .bind(&link.email)
        .bind(link.expire_time)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The identity waiting under this link token hash, expired or not.
    pub async fn pending_link(&self, token_hash: &str) -> Result<Option<PendingLinkRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT user_id, provider_id, issuer, subject, email, expire_time FROM pending_links WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Spends a link token; returns whether it was still there (a token links once).
    pub async fn delete_pending_link(&self, token_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM pending_links WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes sign-ins and pending links that expired by `now`; returns how many.
    pub async fn delete_expired_sign_in_flows(&self, now: i64) -> Result<u64, StoreError> {
        let flows = sqlx::query("DELETE FROM sign_in_flows WHERE expire_time <= $1").bind(now).execute(self.pool());
        let flows = flows.await?.rows_affected();
        let links = sqlx::query("DELETE FROM pending_links WHERE expire_time <= $1").bind(now).execute(self.pool());
        Ok(flows + links.await?.rows_affected())
    }
}
