//! Who may make an account here: the operator's registration policy
//! (`ASSISTCHAT_REGISTRATION`), applied alike to registration with a password and to a first
//! sign-in with an identity provider that would make an account. Accounts already made always
//! sign in, and the operator makes accounts by command (`assistchat-core users create`) whatever
//! the policy.

use crate::{
    config::RegistrationMode,
    error::{Error, Result},
    fields::Email,
};

/// The operator's registration policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RegistrationPolicy {
    /// Anyone may register.
    #[default]
    Open,
    /// Only emails at these domains (lower-case, without `@`) may register.
    Domains(Vec<String>),
    /// Nobody registers; the operator makes accounts.
    Closed,
}

impl RegistrationPolicy {
    /// The policy of `mode` with `domains` (comma-separated entries of
    /// `ASSISTCHAT_REGISTRATION_DOMAINS`, with or without a leading `@`); `domains` mode needs
    /// at least one domain.
    pub fn new(mode: RegistrationMode, domains: &[String]) -> Result<Self, String> {
        let domains: Vec<String> = domains
            .iter()
            .map(|domain| domain.trim().trim_start_matches('@').to_lowercase())
            .filter(|domain| !domain.is_empty())
            .collect();
        if let Some(bad) = domains.iter().find(|domain| Email::parse("domain", &format!("a@{domain}")).is_err()) {
            return Err(format!("ASSISTCHAT_REGISTRATION_DOMAINS: {bad:?} is not a domain such as example.com"));
        }
        match mode {
            RegistrationMode::Open => Ok(Self::Open),
            RegistrationMode::Closed => Ok(Self::Closed),
            RegistrationMode::Domains if domains.is_empty() => Err(
                "ASSISTCHAT_REGISTRATION=domains needs ASSISTCHAT_REGISTRATION_DOMAINS, such as example.com,example.org"
                    .into(),
            ),
            RegistrationMode::Domains => Ok(Self::Domains(domains)),
        }
    }

    /// The domains whose emails may register (empty unless the policy is [`Self::Domains`]).
    pub fn domains(&self) -> &[String] {
        match self {
            Self::Domains(domains) => domains,
            Self::Open | Self::Closed => &[],
        }
    }

    /// Whether an account for `email` may be made by registering (with a password, or by a first
    /// sign-in with an identity provider); if not, what the person can do instead.
    pub fn allows(&self, email: &Email) -> Result<()> {
        match self {
            Self::Open => Ok(()),
            Self::Closed => Err(Error::PermissionDenied(
                "registration is closed on this server: ask its operator to make you an account; if you have one \
                 already, sign in with your password or with the sign-in provider you used before"
                    .into(),
            )),
            Self::Domains(domains) => {
                let domain = email.as_str().rsplit_once('@').map_or("", |(_, domain)| domain);
                if domains.iter().any(|allowed| allowed == domain) {
                    return Ok(());
                }
                Err(Error::PermissionDenied(format!(
                    "only emails at {} may register on this server: register with such an address, or ask the \
                     operator to make you an account; if you have one already, sign in instead",
                    domains.join(", ")
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(text: &str) -> Email {
        Email::parse("email", text).unwrap()
    }

    #[test]
    fn domains_are_matched_whole_and_in_any_letter_case() {
        let policy =
            RegistrationPolicy::new(RegistrationMode::Domains, &["@Example.com".into(), " b.org ".into()]).unwrap();
        assert_eq!(policy.domains(), ["example.com", "b.org"]);
        assert!(policy.allows(&email("Ann@EXAMPLE.com")).is_ok());
        assert!(policy.allows(&email("bob@b.org")).is_ok());
        let refused = policy.allows(&email("eve@notexample.com")).unwrap_err().to_string();
        assert!(refused.contains("example.com, b.org") && refused.contains("operator"), "{refused}");
        assert!(policy.allows(&email("eve@sub.example.com")).is_err(), "subdomains are other domains");
    }

    #[test]
    fn closed_says_whom_to_ask_and_domains_need_a_list() {
        let closed = RegistrationPolicy::new(RegistrationMode::Closed, &[]).unwrap();
        let refused = closed.allows(&email("ann@example.com")).unwrap_err().to_string();
        assert!(refused.contains("closed") && refused.contains("operator"), "{refused}");
        let missing = RegistrationPolicy::new(RegistrationMode::Domains, &[]).unwrap_err();
        assert!(missing.contains("ASSISTCHAT_REGISTRATION_DOMAINS"), "{missing}");
        assert!(RegistrationPolicy::new(RegistrationMode::Open, &["not a domain".into()]).is_err());
        assert_eq!(RegistrationPolicy::new(RegistrationMode::Open, &[]).unwrap(), RegistrationPolicy::Open);
    }
}
