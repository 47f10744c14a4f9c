//! The `providers` table: each provider as its latest attached instance described it.

use sqlx::FromRow;

use super::{Store, StoreError};

/// A stored provider description. The field lists are JSON arrays of setting names.
#[derive(Clone, Debug, FromRow)]
pub struct ProviderRecord {
    /// The provider's name, such as "telegram".
    pub name: String,
    /// The name for people.
    pub display_name: String,
    /// What a resource of it connects.
    pub description: String,
    /// The latest edge version seen.
    pub version: String,
    /// The JSON Schema of a resource's settings.
    pub settings_schema_json: String,
    /// The secret settings, as a JSON array.
    pub secret_fields: String,
    /// The identity settings, as a JSON array.
    pub identity_fields: String,
    /// When a hello last described it, in Unix milliseconds.
    pub update_time: i64,
}

impl Store {
    /// Stores a provider's latest description, replacing the one before.
    pub async fn upsert_provider(&self, provider: &ProviderRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO providers (name, display_name, description, version, settings_schema_json, secret_fields, \
             identity_fields, update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO UPDATE SET \
             display_name = excluded.display_name, description = excluded.description, version = excluded.version, \
             settings_schema_json = excluded.settings_schema_json, secret_fields = excluded.secret_fields, \
             identity_fields = excluded.identity_fields, update_time = excluded.update_time",
        )
        .bind(&provider.name)
        .bind(&provider.display_name)
        .bind(&provider.description)
        .bind(&provider.version)
        .bind(&provider.settings_schema_json)
        .bind(&provider.secret_fields)
        .bind(&provider.identity_fields)
        .bind(provider.update_time)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every provider ever described, by name.
    pub async fn providers(&self) -> Result<Vec<ProviderRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT name, display_name, description, version, settings_schema_json, secret_fields, identity_fields, \
             update_time FROM providers ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?)
    }
}
