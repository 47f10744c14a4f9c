//! The platform's cryptography, each piece from a well-kept crate: argon2id password hashes
//! ([`passwords`]), XChaCha20-Poly1305 sealing of secrets at rest ([`keyring`]) and random
//! bearer tokens stored as SHA-256 hashes ([`tokens`]).

pub mod keyring;
pub mod passwords;
pub mod tokens;

pub use keyring::{Keyring, SecretError};

/// `N` bytes from the operating system's secure random generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS generator failing means the machine cannot do any cryptography: stop loudly.
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    bytes
}
