//! Accounts: registration, password sign-in, sessions, personal API tokens, and finding out
//! who is calling.
//!
//! Layout: [`Accounts`] is the domain (no gRPC in it); [`service`] is the thin tonic layer;
//! [`registration`] is who may make an account.
//!
//! # Throttling
//!
//! Every limit is counted *before* the work it limits, under one lock ([`Throttle::acquire`]),
//! so that attempts sent at once are treated like attempts sent one after another. A client is
//! its address as [`client_key`] gives it (IPv4, or the IPv6 /64), the browser's own when the
//! call comes through a trusted proxy. A refusal is `RESOURCE_EXHAUSTED` with when to try again.
//!
//! A password check (sign-in, linking an identity with the password, and the current password
//! of a password change) takes a slot in each of its buckets first; a correct password gives
//! them back, so only failures (and checks still running) count:
//! - per client address, across accounts: [`ADDRESS_BURST`], then one per [`ADDRESS_DRAIN`];
//! - per account *and* client address: [`ACCOUNT_BURST`], then one per [`ACCOUNT_DRAIN`]. This
//!   is the limit a guesser meets, and it is theirs alone: guesses from one address never lock
//!   the owner out from another;
//! - per account across all addresses, a ceiling: [`ACCOUNT_CEILING_BURST`], then one per
//!   [`ACCOUNT_CEILING_DRAIN`]. A full ceiling slows but never blocks the owner: an address that
//!   already failed on the account is refused until the ceiling drains, while the first attempt
//!   from an address that has not failed is still checked, after waiting its turn in the
//!   account's slow lane, where attempts are checked one per [`ACCOUNT_CEILING_DELAY`] at most.
//!   A wrong password there fills that address's bucket for the account, so each further
//!   guess over the ceiling needs yet another fresh address and waits its turn.
//!
//! A password change counts wrong current passwords per account ([`ACCOUNT_BURST`], then one
//! per [`ACCOUNT_DRAIN`]): its caller already holds a session. Registrations count per client
//! address ([`REGISTRATION_BURST`], then one per [`REGISTRATION_DRAIN`]), whether they make an
//! account or find its email taken.

pub mod identities;
pub mod oidc;
pub mod registration;
pub mod service;

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::{
    crypto::{
        passwords::PasswordHasher,
        tokens::{self, TokenKind},
    },
    error::{Error, Result},
    fields::{Email, Name, Password, language_code},
    pagination,
    store::{
        Store, StoreError,
        api_tokens::ApiTokenRecord,
        new_id, now_millis,
        sessions::SessionRecord,
        users::{NewUser, Revoked, UserRecord},
    },
    throttle::{Permit, Throttle, client_key},
};
use registration::RegistrationPolicy;

/// Failures an account may have from one client address in a burst before that address is
/// throttled for it.
pub const ACCOUNT_BURST: f64 = 5.0;
/// One more failure per this long is allowed for a throttled account and address.
pub const ACCOUNT_DRAIN: Duration = Duration::from_secs(60);
/// Failures an account may have from all addresses together in a burst before its ceiling is
/// full and further attempts go through its slow lane.
pub const ACCOUNT_CEILING_BURST: f64 = 20.0;
/// One more failure per this long drains from a full ceiling.
pub const ACCOUNT_CEILING_DRAIN: Duration = Duration::from_secs(60);
/// While an account's ceiling is full, its password is checked at most once per this long, and
/// each check waits at least this long.
pub const ACCOUNT_CEILING_DELAY: Duration = Duration::from_secs(2);
/// How long a one-time sign-in link made by the operator works.
pub const SIGN_IN_LINK_LIFETIME: Duration = Duration::from_secs(72 * 60 * 60);
/// Above this many accounts in slow lanes, lanes whose turns are all past are dropped.
const PRUNE_SLOW_LANES_ABOVE: usize = 1_000;
/// Registrations one client address may make in a burst (a family or a small office at once).
pub const REGISTRATION_BURST: f64 = 10.0;
/// One more registration per this long is allowed for a throttled address.
pub const REGISTRATION_DRAIN: Duration = Duration::from_secs(6 * 60);
/// Failures one client address may have in a burst (it may serve many people).
pub const ADDRESS_BURST: f64 = 30.0;
/// One more failure per this long is allowed for a throttled address.
pub const ADDRESS_DRAIN: Duration = Duration::from_secs(10);
/// A stored last-use time is refreshed at most this often (or a quarter of the idle timeout, if
/// that is shorter), so that authenticating a call is usually a read only.
const TOUCH_INTERVAL_MS: i64 = 60_000;
/// How often expired sessions are swept from the database.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(10 * 60);
/// The most personal API tokens one account may have.
pub const MAX_API_TOKENS_PER_USER: i64 = 50;
/// The longest an API token may be made to last (a token meant to last longer is made without
/// an expiry).
const MAX_API_TOKEN_TTL: Duration = Duration::from_secs(10 * 366 * 24 * 60 * 60);
/// The shortest an API token may be made to last.
const MIN_API_TOKEN_TTL: Duration = Duration::from_secs(60);
/// A first password is set, and an account without a password deleted, only from a session
/// signed in this recently: a session left open on a shared computer must not be enough to give
/// the account a password or to take it away.
pub const FRESH_SESSION: Duration = Duration::from_secs(10 * 60);

/// Who is calling, once their bearer token checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The account acted for.
    pub user_id: String,
    /// The credential the call was made with.
    pub credential: Credential,
    /// When that credential was issued (a session's sign-in, a token's creation), in Unix
    /// milliseconds.
    pub issue_time: i64,
}

impl Caller {
    /// Refuses a call made with a personal API token: what changes how the account is reached
    /// (passwords, tokens, sign-in methods) needs a person signed in, so that a token leaked
    /// from a script cannot take the account over.
    pub fn require_session(&self) -> Result<&str> {
        match &self.credential {
            Credential::Session(id) => Ok(id),
            Credential::ApiToken(_) => Err(Error::PermissionDenied(
                "this needs a browser session: sign in on the web (personal API tokens cannot change passwords, \
                 API tokens or sign-in methods, nor delete the account)"
                    .into(),
            )),
        }
    }
}

/// A change only the account's owner in person may make ([`Accounts::confirm_owner`]), with
/// the words that explain its refusals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerChange {
    /// Changing the password, or setting a first one.
    Password,
    /// Deleting the account with everything it owns.
    Deletion,
}

impl OwnerChange {
    /// The request field that carries the account's password.
    fn password_field(self) -> &'static str {
        match self {
            Self::Password => "current_password",
            Self::Deletion => "password",
        }
    }

    /// That field as people call it.
    fn password_name(self) -> &'static str {
        match self {
            Self::Password => "current password",
            Self::Deletion => "password",
        }
    }

    /// What an account without a password sends instead of one.
    fn without_password(self) -> &'static str {
        match self {
            Self::Password => "this account has no password yet; leave the current password empty to set one",
            Self::Deletion => "this account has no password; leave the password empty",
        }
    }

    /// Why an account without a password may not make the change from its session, and what to do.
    fn stale_session(self) -> String {
        let minutes = FRESH_SESSION.as_secs() / 60;
        match self {
            Self::Password => {
                format!(
                    "a first password is set only within {minutes} minutes of signing in; sign in again, then set it"
                )
            }
            Self::Deletion => format!(
                "an account without a password is deleted only within {minutes} minutes of signing in; sign in again, \
                 then delete it"
            ),
        }
    }
}

/// The kind of credential a call was made with, and its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// A session, by id.
    Session(String),
    /// A personal API token, by id.
    ApiToken(String),
}

/// A new session's bearer token.
#[derive(Clone)]
pub struct NewSession {
    /// The token, to give to the client once.
    pub token: String,
    /// When it ends however active it is, in Unix milliseconds.
    pub expire_time: i64,
}

/// A one-time sign-in link's token.
pub struct SignInLink {
    /// The token, to give to the account's owner once (in a link to the web edge's
    /// `/welcome?token=...`).
    pub token: String,
    /// When it stops working, in Unix milliseconds.
    pub expire_time: i64,
}

/// Input of [`Accounts::register`], as received.
pub struct Registration<'a> {
    /// The email, not yet checked.
    pub email: &'a str,
    /// The password, not yet checked.
    pub password: &'a str,
    /// The display name, not yet checked.
    pub display_name: &'a str,
    /// The language code, not yet checked.
    pub language_code: &'a str,
    /// Where the registration comes from, for its throttle.
    pub address: Option<IpAddr>,
}

/// The slots a password check took ([`Accounts::admit_password_check`]): given back when
/// dropped (a correct password), kept by [`SignInSlots::failed`].
struct SignInSlots<'a> {
    /// The client address's slot.
    address: Permit<'a, IpAddr>,
    /// The slot of the account from this address.
    account_address: Permit<'a, (String, IpAddr)>,
    /// The account's ceiling slot; `None` when the check came through the slow lane.
    ceiling: Option<Permit<'a, String>>,
}

impl SignInSlots<'_> {
    /// Keeps every slot: the password was wrong.
    fn failed(self) {
        self.address.keep();
        self.account_address.keep();
        if let Some(ceiling) = self.ceiling {
            ceiling.keep();
        }
    }
}

/// The account domain.
pub struct Accounts {
    /// Where accounts live.
    store: Store,
    /// Hashes and checks passwords.
    hasher: PasswordHasher,
    /// Failed sign-ins per normalised email and client address.
    account_address_failures: Throttle<(String, IpAddr)>,
    /// Failed sign-ins per normalised email, from all addresses: the ceiling.
    account_failures: Throttle<String>,
    /// When each account over its ceiling may next have its password checked.
    slow_lanes: Mutex<HashMap<String, Instant>>,
    /// Failed sign-ins per client address.
    address_failures: Throttle<IpAddr>,
    /// Wrong current passwords of password changes, per account id.
    password_change_failures: Throttle<String>,
    /// Registrations per client address.
    registrations: Throttle<IpAddr>,
    /// Who may register.
    registration: RegistrationPolicy,
    /// A session ends after this long unused.
    idle_timeout: Duration,
    /// A session ends this long after it began.
    lifetime: Duration,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Accounts {
    /// The domain over `store`, with sessions ending after `idle_timeout` unused or `lifetime`.
    pub fn new(store: Store, idle_timeout: Duration, lifetime: Duration) -> Result<Self> {
        Ok(Self {
            store,
            hasher: PasswordHasher::new()?,
            account_address_failures: Throttle::new(ACCOUNT_BURST, ACCOUNT_DRAIN),
            account_failures: Throttle::new(ACCOUNT_CEILING_BURST, ACCOUNT_CEILING_DRAIN),
            slow_lanes: Mutex::new(HashMap::new()),
            address_failures: Throttle::new(ADDRESS_BURST, ADDRESS_DRAIN),
            password_change_failures: Throttle::new(ACCOUNT_BURST, ACCOUNT_DRAIN),
            registrations: Throttle::new(REGISTRATION_BURST, REGISTRATION_DRAIN),
            registration: RegistrationPolicy::Open,
            idle_timeout,
            lifetime,
        })
    }

    /// The domain with `policy` deciding who may register.
    #[must_use]
    pub fn with_registration(mut self, policy: RegistrationPolicy) -> Self {
        self.registration = policy;
        self
    }

    /// Who may register.
    pub fn registration(&self) -> &RegistrationPolicy {
        &self.registration
    }

    /// Creates an account with its profile and signs it in, if the registration policy lets
    /// this email register; registrations are throttled per client address.
    pub async fn register(&self, input: &Registration<'_>) -> Result<(UserRecord, NewSession)> {
        let email = Email::parse("email", input.email)?;
        let password = Password::parse("password", input.password)?;
        let display_name = Name::parse("display_name", input.display_name)?;
        let language_code = language_code("language_code", input.language_code)?;
        self.registration.allows(&email)?;
        let slot = self.registrations.acquire(client_key(input.address), Instant::now()).map_err(|retry_after| {
            Error::ResourceExhausted {
                message: "too many accounts were registered from this address".into(),
                retry_after,
            }
        })?;
        let password_hash = self.hasher.hash(password.as_str()).await?;
        let made = self.create_account(&email, &password_hash, &display_name, language_code).await;
        // Made, or found taken (which tells that the email has an account): either counts.
        if matches!(made, Ok(_) | Err(Error::AlreadyExists(_))) {
            slot.keep();
        }
        let id = made?;
        tracing::info!(user_id = %id, "account registered");
        self.sign_in(&id).await
    }

    /// Makes an account for `email` as the operator does (`assistchat-core users create`),
    /// whatever the registration policy: without a password, with a one-time sign-in link
    /// ([`Accounts::redeem_sign_in_link`]) for its owner, who then sets a password.
    pub async fn create_by_operator(&self, email: &str, display_name: &str) -> Result<(UserRecord, SignInLink)> {
        let email = Email::parse("email", email)?;
        let display_name = Name::parse("display_name", display_name)?;
        let id = self.create_account(&email, "", &display_name, language_code("language_code", "")?).await?;
        tracing::info!(user_id = %id, "account made by the operator");
        let link = self.create_sign_in_link(&id).await?;
        Ok((self.current_user(&id).await?, link))
    }

    /// A new one-time sign-in link for the existing account with `email`.
    pub async fn sign_in_link_for(&self, email: &str) -> Result<SignInLink> {
        let email = Email::parse("email", email)?;
        let account = self.store.credentials_by_email(email.as_str()).await?.ok_or_else(|| {
            Error::NotFound(format!("no account has the email {}; make one with `users create`", email.as_str()))
        })?;
        self.create_sign_in_link(&account.id).await
    }

    /// A new one-time sign-in link for account `user_id`.
    pub async fn create_sign_in_link(&self, user_id: &str) -> Result<SignInLink> {
        // Not a bearer credential: a link token is refused by `authenticate` as every
        // single-use token is.
        let (token, token_hash) = tokens::generate(TokenKind::IdentityLink);
        let expire_time = now_millis().saturating_add(millis(SIGN_IN_LINK_LIFETIME));
        self.store.insert_sign_in_link(&token_hash, user_id, expire_time).await?;
        Ok(SignInLink { token, expire_time })
    }

    /// Spends a one-time sign-in link and signs its account in.
    pub async fn redeem_sign_in_link(&self, token: &str) -> Result<(UserRecord, NewSession)> {
        let spent = || {
            Error::FailedPrecondition(
                "this sign-in link has expired or was already used; ask the operator for a new one, or sign in with \
                 your password if you set one"
                    .into(),
            )
        };
        let (user_id, expire_time) =
            self.store.take_sign_in_link(&tokens::hash(token.trim())).await?.ok_or_else(spent)?;
        if expire_time <= now_millis() {
            return Err(spent());
        }
        tracing::info!(user_id = %user_id, "signed in with a one-time link");
        self.sign_in(&user_id).await
    }

    /// Stores a new account with its profile; returns its id. A taken email is
    /// `ALREADY_EXISTS`.
    async fn create_account(
        &self,
        email: &Email,
        password_hash: &str,
        display_name: &Name,
        language_code: &str,
    ) -> Result<String> {
        let id = new_id();
        let user = NewUser {
            id: &id,
            email: email.as_str(),
            password_hash,
            display_name: display_name.as_str(),
            language_code,
            ai_mode: crate::profile::DEFAULT_AI_MODE,
            create_time: now_millis(),
        };
        match self.store.create_user(&user, None).await {
            Err(StoreError::Conflict(_)) => {
                return Err(Error::AlreadyExists("an account with this email exists already; sign in instead".into()));
            }
            other => other?,
        }
        Ok(id)
    }

    /// Checks an email and password from `address` and starts a new session.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        address: Option<IpAddr>,
    ) -> Result<(UserRecord, NewSession)> {
        let user_id = self.check_password(email, password, address).await?;
        tracing::info!(user_id = %user_id, "signed in");
        self.sign_in(&user_id).await
    }

    /// The id of the account with this email, if `password` is its password; failures are
    /// throttled as the module's docs say.
    async fn check_password(&self, email: &str, password: &str, address: Option<IpAddr>) -> Result<String> {
        let wrong = || Error::Unauthenticated("the email or password is wrong; check both and try again".into());
        // An address that is not an email cannot belong to an account: same answer as a wrong
        // password, so the reply tells nothing about which accounts exist.
        let Ok(email) = Email::parse("email", email) else {
            return Err(wrong());
        };
        let account = email.as_str().to_owned();
        let client = client_key(address);
        let (slots, turn) = self.admit_password_check(&account, client, Instant::now())?;
        if let Some(turn) = turn {
            tokio::time::sleep_until(turn.into()).await;
        }
        let credentials = self.store.credentials_by_email(email.as_str()).await?;
        let stored_hash = credentials.as_ref().and_then(|c| c.password_hash.as_deref());
        if !self.hasher.verify(password, stored_hash).await? {
            if slots.ceiling.is_none() {
                // A guess over the ceiling: this address waits a whole burst before its next.
                self.account_address_failures.fill((account, client), Instant::now());
            }
            slots.failed();
            tracing::info!("sign-in refused");
            return Err(wrong());
        }
        Ok(credentials.expect("a password matched, so the account exists").id)
    }

    /// Takes the slots of a password check of `account` from `client` at `now`, or refuses it
    /// with when to try again; with the account's ceiling full, also the turn in its slow lane
    /// to wait for.
    fn admit_password_check(
        &self,
        account: &str,
        client: IpAddr,
        now: Instant,
    ) -> Result<(SignInSlots<'_>, Option<Instant>)> {
        let refused = |retry_after| Error::ResourceExhausted {
            message: "too many failed sign-ins for this account or from this address".into(),
            retry_after,
        };
        let address = self.address_failures.acquire(client, now).map_err(refused)?;
        let pair = (account.to_owned(), client);
        let fresh = self.account_address_failures.is_empty(&pair, now);
        let account_address = self.account_address_failures.acquire(pair.clone(), now).map_err(refused)?;
        let ceiling_wait = match self.account_failures.acquire(account.to_owned(), now) {
            Ok(ceiling) => return Ok((SignInSlots { address, account_address, ceiling: Some(ceiling) }, None)),
            Err(wait) => wait,
        };
        if !fresh {
            drop(account_address);
            let fresh_in = self.account_address_failures.until_empty(&pair, now);
            return Err(refused(ceiling_wait.min(fresh_in)));
        }
        let mut lanes = self.slow_lanes.lock().expect("slow lane lock poisoned");
        if lanes.len() > PRUNE_SLOW_LANES_ABOVE {
            lanes.retain(|_, next| *next > now);
        }
        let next = lanes.entry(account.to_owned()).or_insert(now);
        let turn = (*next).max(now) + ACCOUNT_CEILING_DELAY;
        *next = turn;
        Ok((SignInSlots { address, account_address, ceiling: None }, Some(turn)))
    }

    async fn sign_in(&self, user_id: &str) -> Result<(UserRecord, NewSession)> {
        let now = now_millis();
        let (token, token_hash) = tokens::generate(TokenKind::Session);
        let session = SessionRecord {
            id: new_id(),
            user_id: user_id.to_owned(),
            create_time: now,
            last_seen_time: now,
            expire_time: now.saturating_add(millis(self.lifetime)),
        };
        self.store.insert_session(&session, &token_hash).await?;
        let user = self.current_user(user_id).await?;
        Ok((user, NewSession { token, expire_time: session.expire_time }))
    }

    /// The caller behind an `authorization` header value, or why there is none.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller> {
        let Some(header) = authorization else {
            return Err(Error::Unauthenticated(
                "sign in first: send the metadata `authorization: Bearer <session or API token>`".into(),
            ));
        };
        let token = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| Error::Unauthenticated("the authorization metadata must be `Bearer <token>`".into()))?;
        let invalid = || Error::Unauthenticated("the token is not valid or was revoked; sign in again".into());
        let now = now_millis();
        let hash = tokens::hash(token);
        match TokenKind::of(token).ok_or_else(invalid)? {
            TokenKind::Session => {
                let session = self.store.session_by_token_hash(&hash).await?.ok_or_else(invalid)?;
                let idle_end = session.last_seen_time.saturating_add(millis(self.idle_timeout));
                if now >= session.expire_time || now >= idle_end {
                    self.store.delete_session(&session.id).await?;
                    return Err(Error::Unauthenticated("the session has expired; sign in again".into()));
                }
                if now - session.last_seen_time >= TOUCH_INTERVAL_MS.min(millis(self.idle_timeout) / 4) {
                    self.store.touch_session(&session.id, now).await?;
                }
                Ok(Caller {
                    user_id: session.user_id,
                    credential: Credential::Session(session.id),
                    issue_time: session.create_time,
                })
            }
            TokenKind::IdentityLink => Err(invalid()),
            TokenKind::ApiToken => {
                let token = self.store.api_token_by_hash(&hash).await?.ok_or_else(invalid)?;
                if token.expire_time.is_some_and(|end| now >= end) {
                    return Err(Error::Unauthenticated(
                        "this API token has expired; create a new one on your profile page".into(),
                    ));
                }
                if token.last_use_time.is_none_or(|last| now - last >= TOUCH_INTERVAL_MS) {
                    self.store.touch_api_token(&token.id, now).await?;
                }
                Ok(Caller {
                    user_id: token.user_id,
                    credential: Credential::ApiToken(token.id),
                    issue_time: token.create_time,
                })
            }
        }
    }

    /// Ends the session the caller is using.
    pub async fn logout(&self, caller: &Caller) -> Result<()> {
        match &caller.credential {
            Credential::Session(id) => {
                self.store.delete_session(id).await?;
                Ok(())
            }
            Credential::ApiToken(_) => Err(Error::FailedPrecondition(
                "this call was made with an API token, not a session; revoke API tokens with DeleteApiToken".into(),
            )),
        }
    }

    /// The account with this id.
    pub async fn current_user(&self, user_id: &str) -> Result<UserRecord> {
        // A caller authenticated a moment ago: a missing row means the account was deleted since.
        self.store
            .user(user_id)
            .await?
            .ok_or_else(|| Error::Unauthenticated("this account no longer exists; sign in again".into()))
    }

    /// Checks that the caller is the account's owner in person, before `change`: on a session
    /// (an API token is refused), with `password` the account's password, wrong ones counted per
    /// account ([`ACCOUNT_BURST`], then one per [`ACCOUNT_DRAIN`]). An account without a
    /// password (made by an identity provider) leaves it empty and must have signed in within
    /// [`FRESH_SESSION`] instead: a session left open on a shared computer is not enough.
    /// Returns the caller's session id.
    pub async fn confirm_owner<'a>(&self, caller: &'a Caller, change: OwnerChange, password: &str) -> Result<&'a str> {
        let session = caller.require_session()?;
        let field = change.password_field();
        let slot =
            self.password_change_failures.acquire(caller.user_id.clone(), Instant::now()).map_err(|retry_after| {
                Error::ResourceExhausted { message: "too many wrong passwords".into(), retry_after }
            })?;
        let credentials = self.store.credentials_by_id(&caller.user_id).await?;
        let stored_hash = credentials.as_ref().and_then(|c| c.password_hash.as_deref());
        if stored_hash.is_none() && credentials.is_some() {
            if !password.is_empty() {
                return Err(Error::invalid(field, change.without_password()));
            }
        } else if !self.hasher.verify(password, stored_hash).await? {
            slot.keep();
            return Err(Error::invalid(
                field,
                format!("the {} is wrong; enter the one you sign in with", change.password_name()),
            ));
        }
        if stored_hash.is_none() && now_millis().saturating_sub(caller.issue_time) >= millis(FRESH_SESSION) {
            return Err(Error::FailedPrecondition(change.stale_session()));
        }
        Ok(session)
    }

    /// Replaces the caller's password, ends their other sessions and revokes every API token;
    /// returns what was ended. Needs a session, and a first password a fresh one.
    pub async fn change_password(&self, caller: &Caller, current: &str, new: &str) -> Result<Revoked> {
        caller.require_session()?;
        let new = Password::parse("new_password", new)?;
        let keep = self.confirm_owner(caller, OwnerChange::Password, current).await?;
        let hash = self.hasher.hash(new.as_str()).await?;
        let ended = self.store.change_password(&caller.user_id, &hash, Some(keep)).await?;
        tracing::info!(
            user_id = %caller.user_id,
            ended_sessions = ended.sessions,
            revoked_api_tokens = ended.api_tokens,
            "password changed"
        );
        Ok(ended)
    }

    /// Issues a personal API token, working for `ttl` if given (else until deleted); returns its
    /// record and the token itself. Needs a session.
    pub async fn create_api_token(
        &self,
        caller: &Caller,
        name: &str,
        ttl: Option<Duration>,
    ) -> Result<(ApiTokenRecord, String)> {
        caller.require_session()?;
        let name = Name::parse("name", name)?;
        let ttl = ttl.filter(|ttl| !ttl.is_zero());
        if ttl.is_some_and(|ttl| !(MIN_API_TOKEN_TTL..=MAX_API_TOKEN_TTL).contains(&ttl)) {
            return Err(Error::invalid("ttl", "choose between a minute and ten years, or none for no expiry"));
        }
        let (token, hash) = tokens::generate(TokenKind::ApiToken);
        let now = now_millis();
        let record = ApiTokenRecord {
            id: new_id(),
            user_id: caller.user_id.clone(),
            name: name.as_str().to_owned(),
            create_time: now,
            last_use_time: None,
            expire_time: ttl.map(|ttl| now.saturating_add(millis(ttl))),
        };
        if !self.store.insert_api_token(&record, &hash, MAX_API_TOKENS_PER_USER).await? {
            return Err(Error::QuotaSpent(format!(
                "you have {MAX_API_TOKENS_PER_USER} API tokens, the most one account may have; delete some you no \
                 longer use first"
            )));
        }
        tracing::info!(user_id = %caller.user_id, token_id = %record.id, "API token created");
        Ok((record, token))
    }

    /// A page of the caller's API tokens, newest first, and the next page's token.
    pub async fn list_api_tokens(
        &self,
        caller: &Caller,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<ApiTokenRecord>, String)> {
        const LIST: &str = "api_tokens";
        let limit = pagination::page_size(page_size)?;
        let after = pagination::decode_token(LIST, page_token)?;
        let items = self.store.list_api_tokens(&caller.user_id, after.as_deref(), limit + 1).await?;
        Ok(pagination::paginate(items, limit, LIST, |token| &token.id))
    }

    /// Revokes one of the caller's API tokens. Needs a session.
    pub async fn delete_api_token(&self, caller: &Caller, id: &str) -> Result<()> {
        caller.require_session()?;
        if !self.store.delete_api_token(&caller.user_id, id).await? {
            return Err(Error::NotFound(format!("no API token {id:?} of yours; list your tokens to see their ids")));
        }
        tracing::info!(user_id = %caller.user_id, token_id = %id, "API token deleted");
        Ok(())
    }

    /// Deletes sessions and sign-in links that can no longer be used; returns how many.
    pub async fn sweep_expired_sessions(&self) -> Result<u64> {
        let now = now_millis();
        let links = self.store.delete_expired_sign_in_links(now).await?;
        Ok(links + self.store.delete_expired_sessions(now, now.saturating_sub(millis(self.idle_timeout))).await?)
    }
}
