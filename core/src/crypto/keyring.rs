//! Sealing secrets at rest (users' OpenAI keys, resources' tokens) with XChaCha20-Poly1305.
//!
//! A sealed value is `v1.<key id>.<base64url(nonce ‖ ciphertext)>`. The key id is derived from
//! the key itself, so a value names the key that sealed it: after the platform key is replaced,
//! values sealed under a previous key still open (the previous key stays configured) until
//! `assistchat-core rotate-secrets` has re-sealed them all under the new one.

use std::{
    fs,
    io::{ErrorKind, Write},
    os::unix::fs::OpenOptionsExt,
    path::Path,
};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD},
};
use chacha20poly1305::{
    Key, KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use sha2::{Digest, Sha256};

use super::random_bytes;

/// The name of the generated key file in the data directory.
pub const KEY_FILE_NAME: &str = "secret.key";
const FORMAT_VERSION: &str = "v1";
const NONCE_LEN: usize = 24;

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// A configured key is not 32 bytes of base64.
    #[error("{0}")]
    BadKey(String),
    /// The key file could not be read or written.
    #[error("secret key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The value was sealed under a key that is not configured.
    #[error(
        "a stored secret was sealed under key {0}, which is not configured: add that key to ASSISTCHAT_PREVIOUS_SECRET_KEYS"
    )]
    UnknownKey(String),
    /// The value is damaged, or was moved from the place it was sealed for.
    #[error("a stored secret does not open: it is damaged or was sealed for another place")]
    Corrupt,
}

/// One 256-bit key and its id.
#[derive(Clone)]
struct SealingKey {
    /// The id written into every value this key seals.
    id: String,
    /// The cipher keyed with it.
    cipher: XChaCha20Poly1305,
}

impl SealingKey {
    fn new(bytes: &[u8; 32]) -> Self {
        let digest = Sha256::new().chain_update(b"assistchat key id\0").chain_update(bytes).finalize();
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Self { id, cipher: XChaCha20Poly1305::new(Key::from_slice(bytes)) }
    }

    fn parse(text: &str, name: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let bytes = [STANDARD, URL_SAFE]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .or_else(|| URL_SAFE_NO_PAD.decode(text).ok())
            .filter(|bytes| bytes.len() == 32)
            .ok_or_else(|| {
                SecretError::BadKey(format!(
                    "{name} must be 32 random bytes in base64 (make one with `openssl rand -base64 32`)"
                ))
            })?;
        Ok(Self::new(bytes.as_slice().try_into().expect("length checked above")))
    }
}

/// The platform's sealing keys: the current one seals, every one of them opens.
#[derive(Clone)]
pub struct Keyring {
    /// Seals new values.
    current: SealingKey,
    /// Still open values sealed before a rotation.
    previous: Vec<SealingKey>,
}

// Keys must never reach a log line: only their ids are shown.
impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let previous: Vec<&str> = self.previous.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring").field("current", &self.current.id).field("previous", &previous).finish()
    }
}

/// Where the current key came from, so start-up can warn about a generated one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// `ASSISTCHAT_SECRET_KEY`.
    Configured,
    /// The key file in the data directory, read as it was.
    KeyFile,
    /// A key generated into the data directory just now.
    Generated,
}

impl Keyring {
    /// A keyring from configured keys (base64 text).
    pub fn from_keys(current: &str, previous: &[String]) -> Result<Self, SecretError> {
        let current = SealingKey::parse(current, "ASSISTCHAT_SECRET_KEY")?;
        let previous = previous
            .iter()
            .filter(|text| !text.trim().is_empty())
            .map(|text| SealingKey::parse(text, "ASSISTCHAT_PREVIOUS_SECRET_KEYS"))
            .collect::<Result<_, _>>()?;
        Ok(Self { current, previous })
    }

    /// The configured key if there is one, else the key file in `data_dir`, generated (mode
    /// 0600) on first start.
    pub fn load(
        configured: Option<&str>,
        previous: &[String],
        data_dir: &Path,
    ) -> Result<(Self, KeySource), SecretError> {
        if let Some(key) = configured.filter(|k| !k.trim().is_empty()) {
            return Ok((Self::from_keys(key, previous)?, KeySource::Configured));
        }
        let path = data_dir.join(KEY_FILE_NAME);
        let file_error = |source| SecretError::KeyFile { path: path.display().to_string(), source };
        match fs::read_to_string(&path) {
            Ok(text) => Ok((Self::from_keys(&text, previous)?, KeySource::KeyFile)),
            Err(err) if err.kind() == ErrorKind::NotFound => {
                let text = STANDARD.encode(random_bytes::<32>());
                let mut file =
                    fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(file_error)?;
                file.write_all(format!("{text}\n").as_bytes()).and_then(|()| file.sync_all()).map_err(file_error)?;
                Ok((Self::from_keys(&text, previous)?, KeySource::Generated))
            }
            Err(err) => Err(file_error(err)),
        }
    }

    /// The id of the key that seals new values.
    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `plaintext` for the place named by `associated_data`.
    pub fn seal(&self, plaintext: &str, associated_data: &str) -> String {
        let nonce = random_bytes::<NONCE_LEN>();
        let payload = Payload { msg: plaintext.as_bytes(), aad: associated_data.as_bytes() };
        let ciphertext = self
            .current
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("XChaCha20-Poly1305 encrypts any length the platform stores");
        let mut body = nonce.to_vec();
        body.extend_from_slice(&ciphertext);
        format!("{FORMAT_VERSION}.{}.{}", self.current.id, URL_SAFE_NO_PAD.encode(body))
    }

    /// Opens a value sealed for the place named by `associated_data`, under any configured key.
    pub fn open(&self, sealed: &str, associated_data: &str) -> Result<String, SecretError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(FORMAT_VERSION), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SecretError::Corrupt);
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == key_id)
            .ok_or_else(|| SecretError::UnknownKey(key_id.to_owned()))?;
        let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| SecretError::Corrupt)?;
        if body.len() < NONCE_LEN {
            return Err(SecretError::Corrupt);
        }
        let (nonce, ciphertext) = body.split_at(NONCE_LEN);
        let payload = Payload { msg: ciphertext, aad: associated_data.as_bytes() };
        let plaintext = key.cipher.decrypt(XNonce::from_slice(nonce), payload).map_err(|_| SecretError::Corrupt)?;
        String::from_utf8(plaintext).map_err(|_| SecretError::Corrupt)
    }

    /// Whether a sealed value is under the current key already.
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed.split('.').nth(1) == Some(self.current.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        STANDARD.encode(random_bytes::<32>())
    }

    #[test]
    fn seals_and_opens_only_in_its_place() {
        let ring = Keyring::from_keys(&key(), &[]).unwrap();
        let sealed = ring.seal("sk-secret-value", "profiles.openai_key_sealed:u1");
        assert!(!sealed.contains("sk-secret-value"));
        assert_eq!(ring.open(&sealed, "profiles.openai_key_sealed:u1").unwrap(), "sk-secret-value");
        assert!(matches!(ring.open(&sealed, "profiles.openai_key_sealed:u2"), Err(SecretError::Corrupt)));
        let mut tampered = sealed.clone();
        tampered.push('A');
        assert!(ring.open(&tampered, "profiles.openai_key_sealed:u1").is_err());
        // A fresh nonce every time.
        assert_ne!(sealed, ring.seal("sk-secret-value", "profiles.openai_key_sealed:u1"));
    }

    #[test]
    fn previous_keys_open_old_values_until_resealed() {
        let (old, new) = (key(), key());
        let old_ring = Keyring::from_keys(&old, &[]).unwrap();
        let sealed = old_ring.seal("v", "t.c:1");
        let rotated = Keyring::from_keys(&new, std::slice::from_ref(&old)).unwrap();
        assert!(!rotated.is_current(&sealed));
        assert_eq!(rotated.open(&sealed, "t.c:1").unwrap(), "v");
        let resealed = rotated.seal(&rotated.open(&sealed, "t.c:1").unwrap(), "t.c:1");
        assert!(rotated.is_current(&resealed));
        let without_old = Keyring::from_keys(&new, &[]).unwrap();
        let err = without_old.open(&sealed, "t.c:1").unwrap_err();
        assert!(err.to_string().contains("ASSISTCHAT_PREVIOUS_SECRET_KEYS"), "{err}");
    }

    #[test]
    fn bad_keys_say_how_to_make_a_good_one() {
        let err = Keyring::from_keys("too-short", &[]).unwrap_err();
        assert!(err.to_string().contains("openssl rand -base64 32"), "{err}");
    }

    #[test]
    fn generates_a_private_key_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let (first, source) = Keyring::load(None, &[], dir.path()).unwrap();
        assert_eq!(source, KeySource::Generated);
        let mode = fs::metadata(dir.path().join(KEY_FILE_NAME)).unwrap().permissions();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o600);
        let (second, source) = Keyring::load(None, &[], dir.path()).unwrap();
        assert_eq!(source, KeySource::KeyFile);
        assert_eq!(first.current_key_id(), second.current_key_id());
    }
}
