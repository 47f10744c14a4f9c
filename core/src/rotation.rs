//! Re-sealing every stored secret under the current platform key, after a key rotation.

use crate::{
    crypto::Keyring,
    error::Result,
    store::{Store, secrets::SEALED_COLUMNS},
};

/// What a rotation did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Values re-sealed under the current key.
    pub resealed: u64,
    /// Values that were under the current key already.
    pub current: u64,
}

/// Re-seals every sealed value of every sealed column that is not under the current key.
///
/// Safe to run while the platform serves and to run again: each value is replaced only if it
/// is unchanged since it was read, and values already current are skipped.
pub async fn reseal_all(store: &Store, keyring: &Keyring) -> Result<RotationReport> {
    let mut report = RotationReport::default();
    for column in SEALED_COLUMNS {
        for (row_id, sealed) in store.sealed_values(column).await? {
            if keyring.is_current(&sealed) {
                report.current += 1;
                continue;
            }
            let place = column.associated_data(&row_id);
            let plain = keyring.open(&sealed, &place)?;
            if store.reseal_value(column, &row_id, &sealed, &keyring.seal(&plain, &place)).await? {
                report.resealed += 1;
            }
        }
    }
    Ok(report)
}
