//! Signing in with outside identity providers (OpenID Connect): beginning and finishing a
//! sign-in, the rules that tie identities to accounts, and the list of an account's sign-in
//! methods.
//!
//! An identity is known by (issuer, subject), never by its email. A new identity whose email
//! belongs to an existing account is never linked silently: the person proves that account's
//! password first ([`Identities::link_with_password`]), or links it from the signed-in account.

use std::{
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use super::{Accounts, Caller, NewSession, oidc::OidcProvider};
use crate::{
    config::IdentityProviderConfig,
    crypto::tokens::{self, TokenKind},
    error::{Error, Result},
    fields::{Email, Name, language_code},
    store::{
        Store, StoreError,
        identities::{IdentityRecord, PendingLinkRecord, SignInFlowRecord},
        new_id, now_millis,
        users::{NewUser, UserRecord},
    },
    throttle::{Throttle, client_key},
};

/// How long a begun sign-in can be finished.
const FLOW_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// How long a link token waits for the account's password.
const LINK_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Sign-ins one client address may begin in a burst: each stores a row until it is finished or
/// expires, and may make core read the provider's discovery document.
pub const SIGN_IN_START_BURST: f64 = 20.0;
/// One more begun sign-in per this long is allowed for a throttled address.
pub const SIGN_IN_START_DRAIN: Duration = Duration::from_secs(3);
/// The longest display name an account gets from a provider.
const MAX_NAME_CHARS: usize = 100;

/// A sign-in begun: where to send the browser.
pub struct Begun {
    /// The provider's authorization address.
    pub authorization_url: String,
    /// The state in it.
    pub state: String,
    /// When the sign-in must be finished by, in Unix milliseconds.
    pub expire_time: i64,
}

/// What the provider sent the browser back with.
pub struct Callback<'a> {
    /// The provider of the callback address.
    pub provider_id: &'a str,
    /// The `state` parameter.
    pub state: &'a str,
    /// The `code` parameter.
    pub code: &'a str,
    /// The `error` parameter.
    pub error: &'a str,
    /// The `error_description` parameter.
    pub error_description: &'a str,
    /// The language of an account this creates.
    pub language_code: &'a str,
}

/// How a finished sign-in ended.
pub enum Finished {
    /// Signed in, to a new account if `created`.
    SignedIn {
        /// The account.
        user: UserRecord,
        /// Its new session.
        session: NewSession,
        /// Whether this sign-in created it.
        created: bool,
    },
    /// The identity was added to the account that began a link.
    Linked(IdentityRecord),
    /// An account has the identity's email: its password must be proved to link them.
    LinkRequired {
        /// The email.
        email: String,
        /// The provider's name.
        provider_display_name: String,
        /// The token for [`Identities::link_with_password`].
        link_token: String,
        /// When it expires, in Unix milliseconds.
        expire_time: i64,
    },
}

/// How an account signs in.
pub struct SignInMethods {
    /// Whether it has a password.
    pub has_password: bool,
    /// Its linked identities, oldest first.
    pub identities: Vec<IdentityRecord>,
}

/// The identity sign-in domain.
pub struct Identities {
    /// Accounts and sessions.
    accounts: Arc<Accounts>,
    /// Where flows, identities and pending links live.
    store: Store,
    /// The configured providers, in configuration order.
    providers: Vec<OidcProvider>,
    /// Sign-ins begun per client address.
    starts: Throttle<IpAddr>,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Identities {
    /// The domain over `accounts`, with the configured `providers` sending people back to
    /// `public_url`.
    pub fn new(
        accounts: Arc<Accounts>,
        store: Store,
        providers: Vec<IdentityProviderConfig>,
        public_url: &str,
    ) -> Result<Self, String> {
        let providers =
            providers.into_iter().map(|settings| OidcProvider::new(settings, public_url)).collect::<Result<_, _>>()?;
        Ok(Self { accounts, store, providers, starts: Throttle::new(SIGN_IN_START_BURST, SIGN_IN_START_DRAIN) })
    }

    /// The configured providers.
    pub fn providers(&self) -> &[OidcProvider] {
        &self.providers
    }

    /// The name shown for a provider id (the id itself once it is no longer configured).
    pub fn display_name<'a>(&'a self, provider_id: &'a str) -> &'a str {
        self.provider(provider_id).map_or(provider_id, OidcProvider::display_name)
    }

    fn provider(&self, id: &str) -> Option<&OidcProvider> {
        self.providers.iter().find(|provider| provider.id() == id)
    }

    fn configured(&self, id: &str) -> Result<&OidcProvider> {
        self.provider(id).ok_or_else(|| {
            Error::NotFound(format!(
                "no sign-in provider {id:?} is configured here; sign in with your email and password instead"
            ))
        })
    }

    /// Begins a sign-in with `provider_id` from client `address`; with `link_to`, one that
    /// links the identity to that signed-in caller instead. Sign-ins begun are throttled per
    /// client address.
    pub async fn begin(&self, provider_id: &str, link_to: Option<&Caller>, address: Option<IpAddr>) -> Result<Begun> {
        if let Some(caller) = link_to {
            caller.require_session()?;
        }
        let provider = self.configured(provider_id)?;
        let slot = self.starts.acquire(client_key(address), Instant::now()).map_err(|retry_after| {
            Error::ResourceExhausted {
                message: "too many sign-ins were begun from this address; finish one you began".into(),
                retry_after,
            }
        })?;
        slot.keep();
        let authorization = provider.authorize().await?;
        let expire_time = now_millis().saturating_add(millis(FLOW_LIFETIME));
        let flow = SignInFlowRecord {
            provider_id: provider_id.to_owned(),
            pkce_verifier: authorization.pkce_verifier,
            nonce: authorization.nonce,
            user_id: link_to.map(|caller| caller.user_id.clone()),
            expire_time,
        };
        self.store.insert_sign_in_flow(&tokens::hash(&authorization.state), &flow).await?;
        Ok(Begun { authorization_url: authorization.url, state: authorization.state, expire_time })
    }

    /// Finishes a sign-in from what the provider sent back; `caller` is who calls (needed when
    /// the sign-in links an identity).
    pub async fn finish(&self, callback: &Callback<'_>, caller: Option<&Caller>) -> Result<Finished> {
        let language = language_code("language_code", callback.language_code)?;
        if callback.state.is_empty() {
            return Err(Error::invalid("state", "the provider's answer has no state; start the sign-in again"));
        }
        // The state is spent by this first use, whatever comes of it: a replay finds nothing.
        let expired = || {
            Error::FailedPrecondition(
                "this sign-in has expired or was already used, so nobody was signed in; start again".into(),
            )
        };
        let flow = self.store.take_sign_in_flow(&tokens::hash(callback.state)).await?.ok_or_else(expired)?;
        if flow.expire_time <= now_millis() {
            return Err(expired());
        }
        if flow.provider_id != callback.provider_id {
            tracing::warn!(begun = %flow.provider_id, returned = %callback.provider_id, "sign-in came back from another provider");
            return Err(Error::FailedPrecondition(
                "this sign-in was begun with another provider, so nobody was signed in; start again".into(),
            ));
        }
        let provider = self.configured(&flow.provider_id)?;
        let name = provider.display_name();
        if !callback.error.is_empty() {
            return Err(provider_refusal(name, callback.error, callback.error_description));
        }
        if callback.code.is_empty() {
            return Err(Error::invalid("code", "the provider's answer has no code; start the sign-in again"));
        }
        let identity = provider.redeem(callback.code, &flow.pkce_verifier, &flow.nonce).await?;
        let Some(email) = identity.email.as_deref() else {
            return Err(Error::FailedPrecondition(format!(
                "{name} did not share your email address; allow it and sign in again"
            )));
        };
        if !identity.email_verified {
            return Err(Error::FailedPrecondition(format!(
                "{name} has not verified your email address {email}; verify it with {name}, then sign in again"
            )));
        }
        let email = Email::parse("email", email)
            .map_err(|_| Error::FailedPrecondition(format!("{name} gave {email:?}, which is not an email address")))?;
        let record = IdentityRecord {
            id: new_id(),
            user_id: String::new(),
            provider_id: flow.provider_id.clone(),
            issuer: identity.issuer,
            subject: identity.subject,
            email: email.as_str().to_owned(),
            create_time: now_millis(),
        };
        if let Some(user_id) = flow.user_id {
            return self.link_to_caller(name, IdentityRecord { user_id, ..record }, caller).await;
        }
        let display_name = identity.name.unwrap_or_default();
        self.sign_in_or_create(name, record, &display_name, language).await
    }

    /// Adds the identity to the account that began the link, if that account is still the
    /// caller.
    async fn link_to_caller(&self, name: &str, identity: IdentityRecord, caller: Option<&Caller>) -> Result<Finished> {
        if caller.is_none_or(|caller| caller.user_id != identity.user_id) {
            return Err(Error::FailedPrecondition(format!(
                "linking {name} was begun by another session; sign in to that account and start again"
            )));
        }
        if let Some(caller) = caller {
            caller.require_session()?;
        }
        self.add_identity(name, identity).await.map(Finished::Linked)
    }

    /// Links an identity to its `user_id` account; an identity of another account is refused,
    /// one already linked to this account is returned as it is.
    async fn add_identity(&self, name: &str, identity: IdentityRecord) -> Result<IdentityRecord> {
        match self.store.insert_identity(&identity).await {
            Ok(()) => {
                tracing::info!(user_id = %identity.user_id, provider = %identity.provider_id, "identity linked");
                Ok(identity)
            }
            Err(StoreError::Conflict(_)) => {
                match self.store.identity_by_subject(&identity.issuer, &identity.subject).await? {
                    Some(existing) if existing.user_id == identity.user_id => Ok(existing),
                    _ => Err(Error::FailedPrecondition(format!(
                        "this {name} account is already linked to another account here; unlink it there first"
                    ))),
                }
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Signs a known identity in, or creates its account, or asks for the password of the
    /// account that has its email.
    async fn sign_in_or_create(
        &self,
        name: &str,
        identity: IdentityRecord,
        display_name: &str,
        language: &str,
    ) -> Result<Finished> {
        // Two first sign-ins of one person at once: the second insert conflicts, and its
        // second round finds the account the first made.
        for _ in 0..2 {
            if let Some(known) = self.store.identity_by_subject(&identity.issuer, &identity.subject).await? {
                if known.email != identity.email {
                    self.store.set_identity_email(&known.id, &identity.email).await?;
                }
                tracing::info!(user_id = %known.user_id, provider = %known.provider_id, "signed in with a provider");
                let (user, session) = self.accounts.sign_in(&known.user_id).await?;
                return Ok(Finished::SignedIn { user, session, created: false });
            }
            if let Some(account) = self.store.credentials_by_email(&identity.email).await? {
                return self.ask_for_password(name, account.id, identity).await;
            }
            // Only a new account is the registration policy's to refuse; the sign-in did not
            // finish, so FAILED_PRECONDITION, with the policy's words of what to do.
            if let Err(refusal) = self.accounts.registration().allows(&Email::parse("email", &identity.email)?) {
                tracing::info!(provider = %identity.provider_id, "a new account refused by the registration policy");
                return Err(Error::FailedPrecondition(format!(
                    "there is no account for {} here yet, and {refusal}",
                    identity.email
                )));
            }
            let user_id = new_id();
            let user = NewUser {
                id: &user_id,
                email: &identity.email,
                password_hash: "",
                display_name: &account_name(display_name, &identity.email),
                language_code: language,
                ai_mode: crate::profile::DEFAULT_AI_MODE,
                create_time: now_millis(),
            };
            let identity = IdentityRecord { user_id: user_id.clone(), ..identity.clone() };
            match self.store.create_user(&user, Some(&identity)).await {
                Ok(()) => {
                    tracing::info!(user_id = %user_id, provider = %identity.provider_id, "account made by a provider");
                    let (user, session) = self.accounts.sign_in(&user_id).await?;
                    return Ok(Finished::SignedIn { user, session, created: true });
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(Error::Unavailable("the sign-in collided with another one; try again".into()))
    }

    /// Keeps the identity waiting for the password of account `user_id`.
    async fn ask_for_password(&self, name: &str, user_id: String, identity: IdentityRecord) -> Result<Finished> {
        let (link_token, token_hash) = tokens::generate(TokenKind::IdentityLink);
        let expire_time = now_millis().saturating_add(millis(LINK_LIFETIME));
        let link = PendingLinkRecord {
            user_id,
            provider_id: identity.provider_id,
            issuer: identity.issuer,
            subject: identity.subject,
            email: identity.email.clone(),
            expire_time,
        };
        self.store.insert_pending_link(&token_hash, &link).await?;
        tracing::info!(user_id = %link.user_id, provider = %link.provider_id, "identity waits for the account's password");
        Ok(Finished::LinkRequired {
            email: identity.email,
            provider_display_name: name.to_owned(),
            link_token,
            expire_time,
        })
    }

    /// Links the identity waiting under `link_token` once `password` is its account's, and
    /// signs that account in. A wrong password leaves the token usable (and is throttled as a
    /// sign-in is).
    pub async fn link_with_password(
        &self,
        link_token: &str,
        password: &str,
        address: Option<IpAddr>,
    ) -> Result<(UserRecord, NewSession, IdentityRecord)> {
        let spent = || {
            Error::FailedPrecondition(
                "this link has expired or was already used; sign in with the provider again".into(),
            )
        };
        let token_hash = tokens::hash(link_token);
        let link = self.store.pending_link(&token_hash).await?.filter(|link| link.expire_time > now_millis());
        let link = link.ok_or_else(spent)?;
        let user_id = self.accounts.check_password(&link.email, password, address).await?;
        if user_id != link.user_id || !self.store.delete_pending_link(&token_hash).await? {
            return Err(spent());
        }
        let name = self.display_name(&link.provider_id).to_owned();
        let identity = IdentityRecord {
            id: new_id(),
            user_id: link.user_id,
            provider_id: link.provider_id,
            issuer: link.issuer,
            subject: link.subject,
            email: link.email,
            create_time: now_millis(),
        };
        let identity = self.add_identity(&name, identity).await?;
        let (user, session) = self.accounts.sign_in(&identity.user_id).await?;
        Ok((user, session, identity))
    }

    /// How the caller's account signs in.
    pub async fn sign_in_methods(&self, caller: &Caller) -> Result<SignInMethods> {
        let credentials = self.store.credentials_by_id(&caller.user_id).await?;
        Ok(SignInMethods {
            has_password: credentials.is_some_and(|c| c.password_hash.is_some()),
            identities: self.store.identities_of(&caller.user_id).await?,
        })
    }

    /// Unlinks one of the caller's identities, unless the account would have no way left to
    /// sign in.
    pub async fn unlink(&self, caller: &Caller, id: &str) -> Result<()> {
        caller.require_session()?;
        let identities = self.store.identities_of(&caller.user_id).await?;
        if !identities.iter().any(|identity| identity.id == id) {
            return Err(Error::NotFound(format!(
                "no linked sign-in {id:?} of yours; list your sign-in methods to see their ids"
            )));
        }
        if !self.store.delete_identity_if_not_last(&caller.user_id, id).await? {
            return Err(Error::FailedPrecondition(
                "this is the only way to sign in to your account; set a password or link another provider first".into(),
            ));
        }
        tracing::info!(user_id = %caller.user_id, identity_id = %id, "identity unlinked");
        Ok(())
    }

    /// Deletes sign-ins and link tokens that expired; returns how many.
    pub async fn sweep_expired(&self) -> Result<u64> {
        Ok(self.store.delete_expired_sign_in_flows(now_millis()).await?)
    }
}

/// The error for a provider that sent the browser back with `error` instead of a code.
fn provider_refusal(name: &str, error: &str, description: &str) -> Error {
    if error == "access_denied" {
        return Error::FailedPrecondition(format!(
            "you did not allow {name} to share your account, so nobody was signed in; start again and allow it, or \
             sign in with your email and password"
        ));
    }
    let detail = if description.is_empty() { error.to_owned() } else { format!("{error}: {description}") };
    let detail: String = detail.chars().take(200).collect();
    Error::FailedPrecondition(format!("{name} refused the sign-in ({detail}), so nobody was signed in; start again"))
}

/// The display name of an account made by a provider: the name it gave, else the email's local
/// part.
fn account_name(given: &str, email: &str) -> String {
    let name: String = given.trim().chars().take(MAX_NAME_CHARS).collect();
    if Name::parse("display_name", &name).is_ok() {
        return name;
    }
    email.split('@').next().unwrap_or(email).chars().take(MAX_NAME_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_named_after_the_person_or_else_their_email() {
        assert_eq!(account_name("  Alice Liddell ", "alice@example.com"), "Alice Liddell");
        assert_eq!(account_name("", "alice@example.com"), "alice");
        assert_eq!(account_name(&"x".repeat(300), "a@b.c").chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn a_refused_consent_says_what_to_do() {
        let denied = provider_refusal("Google", "access_denied", "");
        assert!(denied.to_string().contains("did not allow Google"), "{denied}");
        let other = provider_refusal("GitLab", "invalid_scope", "no such scope");
        assert!(other.to_string().contains("invalid_scope: no such scope"), "{other}");
    }
}
