//! Validated input: each newtype's `parse` checks one kind of field once, and a parsed value is
//! valid everywhere after. Errors name the proto field and say what to send instead.

use std::{collections::HashSet, sync::LazyLock};

use crate::error::{Error, Result};

/// Longest email accepted (RFC 5321's path limit less the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;
/// Shortest password accepted, in characters (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in characters; longer ones are refused, never truncated.
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Longest display name or token name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The interface languages.
pub const LANGUAGES: &[&str] = &["en", "ru"];

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("auth/common_passwords.txt").lines().filter(|line| !line.starts_with('#')).collect());

/// A normalised email address: trimmed and lower-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Checks and normalises `text` given in request field `field`.
    pub fn parse(field: &'static str, text: &str) -> Result<Self> {
        let email = text.trim().to_lowercase();
        let bad = |why: &str| Error::invalid(field, format!("{why}; enter an address such as name@example.com"));
        if email.is_empty() {
            return Err(bad("the email is empty"));
        }
        if email.chars().count() > MAX_EMAIL_LEN {
            return Err(bad(&format!("the email is longer than {MAX_EMAIL_LEN} characters")));
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err(bad("the email has no @"));
        };
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && local.chars().all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[]\\,;:\"".contains(c));
        if !local_ok || !domain_ok {
            return Err(bad("this is not an email address"));
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password fit to be set: 8 to 128 characters, and not a common one.
pub struct Password(String);

impl Password {
    /// Checks `text` given in request field `field`.
    pub fn parse(field: &'static str, text: &str) -> Result<Self> {
        let chars = text.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(Error::invalid(
                field,
                format!("the password is shorter than {MIN_PASSWORD_CHARS} characters; choose a longer one"),
            ));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(Error::invalid(
                field,
                format!("the password is longer than {MAX_PASSWORD_CHARS} characters; choose a shorter one"),
            ));
        }
        if COMMON_PASSWORDS.contains(text.to_lowercase().as_str()) {
            return Err(Error::invalid(
                field,
                "this password is among the most common ones and easily guessed; choose another",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The password.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// A password must never reach a log line.
impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A human-given name (display name, token name): trimmed, 1 to 100 characters, no control
/// characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// Checks and trims `text` given in request field `field`.
    pub fn parse(field: &'static str, text: &str) -> Result<Self> {
        let name = text.trim();
        if name.is_empty() {
            return Err(Error::invalid(field, "the name is empty; enter one"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(Error::invalid(
                field,
                format!("the name is longer than {MAX_NAME_CHARS} characters; shorten it"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::invalid(field, "the name contains control characters; use plain text"));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An interface language code: one of [`LANGUAGES`]; empty means the first.
pub fn language_code(field: &'static str, text: &str) -> Result<&'static str> {
    let code = text.trim();
    if code.is_empty() {
        return Ok(LANGUAGES[0]);
    }
    LANGUAGES
        .iter()
        .copied()
        .find(|lang| lang.eq_ignore_ascii_case(code))
        .ok_or_else(|| Error::invalid(field, format!("unknown language {code:?}; use one of {}", LANGUAGES.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("email", "  Ann.Lee@Example.COM ").unwrap().as_str(), "ann.lee@example.com");
        for bad in
            ["", "ann", "ann@", "@example.com", "ann@example", "ann lee@example.com", "ann@exa mple.com", "ann@-x.com"]
        {
            let err = Email::parse("email", bad).unwrap_err();
            assert!(matches!(&err, Error::InvalidArgument { field, .. } if field == "email"), "{bad:?}: {err:?}");
        }
    }

    #[test]
    fn passwords_are_counted_in_characters_and_common_ones_refused() {
        assert!(Password::parse("password", "пароль-из-юникода").is_ok());
        assert!(Password::parse("password", "ääääääää").is_ok(), "8 characters, 16 bytes");
        assert!(Password::parse("password", "äääääää").is_err(), "7 characters");
        assert!(Password::parse("password", &"x".repeat(128)).is_ok());
        assert!(Password::parse("password", &"x".repeat(129)).is_err());
        for common in ["password", "12345678", "Password1", "qwertyuiop", "iloveyou"] {
            assert!(Password::parse("password", common).is_err(), "{common}");
        }
        assert_eq!(format!("{:?}", Password::parse("p", "s3cret-enough!").unwrap()), "Password(<redacted>)");
    }

    #[test]
    fn names_and_languages() {
        assert_eq!(Name::parse("display_name", "  Ann  ").unwrap().as_str(), "Ann");
        assert!(Name::parse("display_name", " ").is_err());
        assert!(Name::parse("display_name", &"n".repeat(101)).is_err());
        assert!(Name::parse("display_name", "a\u{7}b").is_err());
        assert_eq!(language_code("language_code", "").unwrap(), "en");
        assert_eq!(language_code("language_code", "RU").unwrap(), "ru");
        assert!(language_code("language_code", "de").is_err());
    }
}
