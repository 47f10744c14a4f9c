//! Every column that holds a sealed secret, so that key rotation re-seals all of them.

use super::{Store, StoreError};

/// A column of sealed secrets: `table.column`, with the row's key in `id_column`.
#[derive(Clone, Copy, Debug)]
pub struct SealedColumn {
    /// The table.
    pub table: &'static str,
    /// The column that identifies a row; it is also part of the seal's associated data.
    pub id_column: &'static str,
    /// The column with the sealed value (NULL when none).
    pub column: &'static str,
}

impl SealedColumn {
    /// The associated data a value of this column is sealed with: it binds the ciphertext to its
    /// place, so a value copied into another row or column does not open.
    pub fn associated_data(&self, row_id: &str) -> String {
        format!("{}.{}:{}", self.table, self.column, row_id)
    }
}

/// Every sealed column of the schema. A migration that adds one adds it here too.
pub const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn { table: "profiles", id_column: "user_id", column: "openai_key_sealed" },
    SealedColumn { table: "resources", id_column: "id", column: "secrets_sealed" },
];

/// The sealed column of users' own OpenAI keys.
pub const OPENAI_KEY: SealedColumn = SEALED_COLUMNS[0];
/// The sealed column of resources' secret settings.
pub const RESOURCE_SECRETS: SealedColumn = SEALED_COLUMNS[1];

impl Store {
    /// Every (row id, sealed value) of a column.
    pub async fn sealed_values(&self, column: &SealedColumn) -> Result<Vec<(String, String)>, StoreError> {
        let sql = format!(
            "SELECT {id}, {col} FROM {table} WHERE {col} IS NOT NULL",
            id = column.id_column,
            col = column.column,
            table = column.table
        );
        Ok(sqlx::query_as(&sql).fetch_all(self.pool()).await?)
    }

    /// Replaces a sealed value if it is still `old`; returns whether it was replaced. A value
    /// changed meanwhile by its owner is left alone: it was sealed under the current key.
    pub async fn reseal_value(
        &self,
        column: &SealedColumn,
        row_id: &str,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE {table} SET {col} = $1 WHERE {id} = $2 AND {col} = $3",
            id = column.id_column,
            col = column.column,
            table = column.table
        );
        let done = sqlx::query(&sql).bind(new).bind(row_id).bind(old).execute(self.pool()).await?;
        Ok(done.rows_affected() > 0)
    }
}
