//! Bearer tokens: 256 random bits, shown to their owner once and stored only as a SHA-256 hash.
//!
//! A plain hash is right here (unlike passwords): the tokens are uniformly random and long, so
//! nothing can be guessed from a leaked hash.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use super::random_bytes;

/// The kind of a bearer token, told by its prefix (which also lets secret scanners spot it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A session from Register or Login.
    Session,
    /// A personal API token.
    ApiToken,
    /// A single-use token that authenticates no call: one that links an outside identity once
    /// the account's password is given, or a one-time sign-in link made by the operator.
    IdentityLink,
}

impl TokenKind {
    const fn prefix(self) -> &'static str {
        match self {
            Self::Session => "acs_",
            Self::ApiToken => "acp_",
            Self::IdentityLink => "acl_",
        }
    }

    /// The kind a presented token claims by its prefix.
    pub fn of(token: &str) -> Option<Self> {
        [Self::Session, Self::ApiToken, Self::IdentityLink].into_iter().find(|kind| token.starts_with(kind.prefix()))
    }
}

/// A new token of `kind` and the hash to store.
pub fn generate(kind: TokenKind) -> (String, String) {
    let token = format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(random_bytes::<32>()));
    let hash = hash(&token);
    (token, hash)
}

/// The stored form of a token: lowercase hex SHA-256.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_prefixed_and_stored_by_hash() {
        let (a, hash_a) = generate(TokenKind::Session);
        let (b, _) = generate(TokenKind::ApiToken);
        assert_ne!(a, b);
        assert_eq!(TokenKind::of(&a), Some(TokenKind::Session));
        assert_eq!(TokenKind::of(&b), Some(TokenKind::ApiToken));
        assert_eq!(TokenKind::of("Bearer x"), None);
        // 4 prefix characters and 43 of base64 for 32 bytes.
        assert_eq!(a.len(), 47);
        assert_eq!(hash_a, hash(&a));
        assert_eq!(hash_a.len(), 64);
        assert!(!hash_a.contains(&a[4..]));
    }
}
