//! Password hashing with argon2id at OWASP's recommended parameters.
//!
//! Hashing is deliberately slow and memory-hungry, so it runs on the blocking pool, and a
//! semaphore bounds how many run at once: a flood of logins cannot exhaust memory.

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier, Version, password_hash::SaltString,
};
use tokio::sync::Semaphore;

use super::random_bytes;
use crate::error::{Error, Result};

/// OWASP Password Storage Cheat Sheet: argon2id with 19 MiB of memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;
/// Hashes computed at once at most (each holds `MEMORY_KIB`).
const MAX_CONCURRENT_HASHES: usize = 8;

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct PasswordHasher {
    /// Bounds the hashes running at once.
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against when an email is unknown so that the
    /// answer takes as long as for a known one.
    dummy_hash: Arc<str>,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).map_err(|e| Error::Internal(e.to_string()))?;
    let hash = argon2().hash_password(password.as_bytes(), &salt).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(hash.to_string())
}

fn verify_blocking(password: &str, stored: &str) -> bool {
    // Parameters come from the stored PHC string, so hashes made under older parameters verify.
    PasswordHash::new(stored).is_ok_and(|hash| argon2().verify_password(password.as_bytes(), &hash).is_ok())
}

impl PasswordHasher {
    /// A hasher, with its dummy hash computed now.
    pub fn new() -> Result<Self> {
        let dummy = hash_blocking(&String::from_utf8_lossy(&random_bytes::<16>()))?;
        Ok(Self { permits: Arc::new(Semaphore::new(MAX_CONCURRENT_HASHES)), dummy_hash: dummy.into() })
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) of a new salted hash of `password`.
    pub async fn hash(&self, password: &str) -> Result<String> {
        let _permit = self.permits.acquire().await.map_err(|e| Error::Internal(e.to_string()))?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
    }

    /// Whether `password` matches `stored`; with `None` (an unknown account) it does the same
    /// work against the dummy hash and answers false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool> {
        let _permit = self.permits.acquire().await.map_err(|e| Error::Internal(e.to_string()))?;
        let known = stored.is_some();
        let password = password.to_owned();
        let stored = stored.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let matches = tokio::task::spawn_blocking(move || verify_blocking(&password, &stored))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_argon2id_owasp_parameters_and_verifies() {
        let hasher = PasswordHasher::new().unwrap();
        let hash = hasher.hash("correct horse battery staple").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hasher.verify("correct horse battery staple", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("correct horse battery stapl", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("correct horse battery staple", None).await.unwrap());
        // A fresh salt every time.
        assert_ne!(hash, hasher.hash("correct horse battery staple").await.unwrap());
    }
}
