//! Accounts: registration, password sign-in, sessions, personal API tokens, and finding out
//! who is calling.
//!
//! Layout: [`Accounts`] is the domain (no gRPC in it); [`service`] is the thin tonic layer.
//! Password guessing is bounded by [`Throttle`]s per account and per client address.

pub mod identities;
pub mod oidc;
pub mod service;

use std::{net::IpAddr, time::Duration, time::Instant};

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
    throttle::Throttle,
};

/// Failures an account may have in a burst before it is throttled.
pub const ACCOUNT_BURST: f64 = 5.0;
/// One more failure per this long is allowed for a throttled account.
pub const ACCOUNT_DRAIN: Duration = Duration::from_secs(60);
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
/// A first password is set only from a session signed in this recently: a session left open
/// on a shared computer must not be enough to give the account a password.
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
                 API tokens or sign-in methods)"
                    .into(),
            )),
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
}

/// The account domain.
pub struct Accounts {
    /// Where accounts live.
    store: Store,
    /// Hashes and checks passwords.
    hasher: PasswordHasher,
    /// Failed sign-ins per normalised email.
    account_failures: Throttle<String>,
    /// Failed sign-ins per client address.
    address_failures: Throttle<IpAddr>,
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
            account_failures: Throttle::new(ACCOUNT_BURST, ACCOUNT_DRAIN),
            address_failures: Throttle::new(ADDRESS_BURST, ADDRESS_DRAIN),
            idle_timeout,
            lifetime,
        })
    }

    /// Creates an account with its profile and signs it in.
    pub async fn register(&self, input: &Registration<'_>) -> Result<(UserRecord, NewSession)> {
        let email = Email::parse("email", input.email)?;
        let password = Password::parse("password", input.password)?;
        let display_name = Name::parse("display_name", input.display_name)?;
        let language_code = language_code("language_code", input.language_code)?;
        let password_hash = self.hasher.hash(password.as_str()).await?;
        let id = new_id();
        let user = NewUser {
            id: &id,
            email: email.as_str(),
            password_hash: &password_hash,
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
        tracing::info!(user_id = %id, "account registered");
        self.sign_in(&id).await
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
    /// throttled per account and per client `address`.
    async fn check_password(&self, email: &str, password: &str, address: Option<IpAddr>) -> Result<String> {
        let wrong = || Error::Unauthenticated("the email or password is wrong; check both and try again".into());
        // An address that is not an email cannot belong to an account: same answer as a wrong
        // password, so the reply tells nothing about which accounts exist.
        let Ok(email) = Email::parse("email", email) else {
            return Err(wrong());
        };
        let now = Instant::now();
        let key = email.as_str().to_owned();
        let wait =
            [self.account_failures.check(&key, now), address.and_then(|addr| self.address_failures.check(&addr, now))]
                .into_iter()
                .flatten()
                .max();
        if let Some(retry_after) = wait {
            return Err(Error::ResourceExhausted {
                message: "too many failed sign-ins for this account or from this address".into(),
                retry_after,
            });
        }
        let credentials = self.store.credentials_by_email(email.as_str()).await?;
        let stored_hash = credentials.as_ref().and_then(|c| c.password_hash.as_deref());
        if !self.hasher.verify(password, stored_hash).await? {
            self.account_failures.record(key, now);
            if let Some(addr) = address {
                self.address_failures.record(addr, now);
            }
            tracing::info!("sign-in refused");
            return Err(wrong());
        }
        Ok(credentials.expect("a password matched, so the account exists").id)
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

    /// Replaces the caller's password, ends their other sessions and revokes every API token;
    /// returns what was ended. Needs a session, and a first password a fresh one.
    pub async fn change_password(&self, caller: &Caller, current: &str, new: &str) -> Result<Revoked> {
        let keep = caller.require_session()?;
        let new = Password::parse("new_password", new)?;
        let now = Instant::now();
        let key = caller.user_id.clone();
        if let Some(retry_after) = self.account_failures.check(&key, now) {
            return Err(Error::ResourceExhausted { message: "too many wrong current passwords".into(), retry_after });
        }
        let credentials = self.store.credentials_by_id(&caller.user_id).await?;
        let stored_hash = credentials.as_ref().and_then(|c| c.password_hash.as_deref());
        if stored_hash.is_none() && credentials.is_some() {
            // An account made by an identity provider sets its first password.
            if !current.is_empty() {
                return Err(Error::invalid(
                    "current_password",
                    "this account has no password yet; leave the current password empty to set one",
                ));
            }
        } else if !self.hasher.verify(current, stored_hash).await? {
            self.account_failures.record(key, now);
            return Err(Error::invalid(
                "current_password",
                "the current password is wrong; enter the one you sign in with",
            ));
        }
        if stored_hash.is_none() && now_millis().saturating_sub(caller.issue_time) >= millis(FRESH_SESSION) {
            return Err(Error::FailedPrecondition(format!(
                "a first password is set only within {} minutes of signing in; sign in again, then set it",
                FRESH_SESSION.as_secs() / 60
            )));
        }
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

    /// Deletes sessions that can no longer be used; returns how many.
    pub async fn sweep_expired_sessions(&self) -> Result<u64> {
        let now = now_millis();
        Ok(self.store.delete_expired_sessions(now, now.saturating_sub(millis(self.idle_timeout))).await?)
    }
}
