//! A fake OpenID Connect provider, as Google's `accounts.google.com` or a Keycloak realm is one:
//! discovery at `GET /.well-known/openid-configuration`, the authorization code flow with PKCE
//! (`GET /authorize`, `POST /token`), ID tokens signed RS256 with a key made at start and
//! published at `GET /jwks`, and `GET /userinfo`. Errors are RFC 6749's: redirected to the client
//! with `error=...` when the client and redirect URI are known, a 400 page when they are not
//! (never a redirect to an unregistered URI), and JSON `{"error":"..."}` from the token endpoint.
//!
//! There is no login page: the test plays the person at the browser. It sets who is signed in
//! ([`FakeOidc::set_person`]) or that they refuse ([`FakeOidc::deny_consent`]), and `/authorize`
//! answers at once with the 302 the browser would follow back to the client. It can also make the
//! next ID token a forgery ([`Forgery`]) or the token endpoint fail; dropping the fake makes the
//! provider unreachable.
//!
//! ID token and userinfo claims follow the scopes asked for, as Google's do: `email` and
//! `email_verified` with the `email` scope, `name` with `profile`.
//!
//! ```no_run
//! # async fn example() {
//! use assistchat_fakes::oidc::{FakeOidc, Forgery, Person};
//!
//! let fake = FakeOidc::start_with_client("web-client", "s3cret", "http://127.0.0.1:8080/callback").await;
//! fake.set_person(Person {
//!     subject: "1234567890".into(),
//!     email: "alice@example.com".into(),
//!     email_verified: true,
//!     name: "Alice".into(),
//! });
//! fake.forge_next_id_token(Forgery::WrongAudience); // the next sign-in must be refused
//! let issuer = fake.issuer(); // give this, the client id and secret to the code under test
//! # }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::rand_core::{OsRng, RngCore};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::server::Server;

/// How long an authorization code can be redeemed after it was issued.
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// How long ID and access tokens are valid, in seconds: `expires_in` and `exp - iat`.
pub const TOKEN_LIFETIME_SECS: u64 = 3600;

/// The `kid` of the signing key in the ID token header and the JWK set.
pub const KEY_ID: &str = "fake-oidc-key-1";

/// The size of the RSA keys, in bits.
const KEY_BITS: usize = 2048;

/// The scopes discovery lists.
const SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// The claims discovery lists.
const CLAIMS: [&str; 10] = ["iss", "sub", "aud", "azp", "exp", "iat", "nonce", "email", "email_verified", "name"];

/// The person signed in at the provider, whose claims the ID token and userinfo carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// The stable, provider-wide id: the `sub` claim.
    pub subject: String,
    /// The `email` claim.
    pub email: String,
    /// The `email_verified` claim.
    pub email_verified: bool,
    /// The `name` claim.
    pub name: String,
}

impl Default for Person {
    /// Alice, with a verified address, signed in until a test says otherwise.
    fn default() -> Self {
        Person {
            subject: "108234567890123456789".into(),
            email: "alice@example.com".into(),
            email_verified: true,
            name: "Alice Example".into(),
        }
    }
}

/// What is wrong with a forged ID token, made by [`FakeOidc::forge_next_id_token`]. A client
/// that verifies ID tokens properly refuses each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forgery {
    /// Signed with another RSA key under the published key's `kid`.
    WrongSignature,
    /// `aud` and `azp` name another client.
    WrongAudience,
    /// `nonce` is not the one the authorization request sent.
    WrongNonce,
    /// `iss` names another provider.
    WrongIssuer,
    /// `exp` passed an hour ago.
    Expired,
}

/// A client registered with the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Client {
    /// Its secret, for `client_secret_basic` or `client_secret_post`.
    secret: String,
    /// The one redirect URI it may use, matched exactly.
    redirect_uri: String,
}

/// One request as the fake received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// The HTTP method, e.g. `POST`.
    pub method: String,
    /// The path, e.g. `/token`.
    pub path: String,
    /// The query parameters, then for a form body its fields, in the order sent.
    pub params: Vec<(String, String)>,
    /// The `Authorization` header as sent, e.g. `Basic ...`.
    pub authorization: Option<String>,
}

impl Recorded {
    /// The first parameter by this name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// A fake OpenID Connect provider on `127.0.0.1`, served by a background task until dropped.
/// Every method takes `&self`, so tests can share the fake while the code under test calls it.
pub struct FakeOidc {
    /// The server; dropping it stops serving.
    server: Server,
    /// What the handlers and the test share.
    state: Shared,
}

impl FakeOidc {
    /// Starts a provider on a free loopback port with a fresh signing key, no client registered
    /// and [`Person::default`] signed in.
    ///
    /// # Panics
    /// If no loopback port can be bound or the key cannot be made.
    pub async fn start() -> Self {
        let key = tokio::task::spawn_blocking(new_key).await.expect("make the signing key");
        let state = Shared(Arc::new(Mutex::new(Inner::new(key))));
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/jwks", get(jwks))
            .route("/userinfo", get(userinfo).post(userinfo))
            .fallback(not_found)
            .with_state(state.clone());
        let server = Server::start(router).await;
        state.lock().issuer = format!("http://{}", server.addr());
        FakeOidc { server, state }
    }

    /// Starts a provider, as [`FakeOidc::start`], with one client registered.
    ///
    /// # Panics
    /// If no loopback port can be bound or the key cannot be made.
    pub async fn start_with_client(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        let fake = FakeOidc::start().await;
        fake.add_client(client_id, client_secret, redirect_uri);
        fake
    }

    /// The issuer, e.g. `http://127.0.0.1:PORT`: the `iss` of its tokens and the base under which
    /// discovery is found. What openidconnect's `IssuerUrl::new` takes.
    pub fn issuer(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Registers a client with its secret and the one redirect URI it may use; registering an id
    /// again replaces it.
    pub fn add_client(&self, client_id: &str, client_secret: &str, redirect_uri: &str) {
        let client = Client { secret: client_secret.into(), redirect_uri: redirect_uri.into() };
        self.state.lock().clients.insert(client_id.into(), client);
    }

    /// Signs this person in: the next authorizations are theirs, with consent given.
    pub fn set_person(&self, person: Person) {
        let mut inner = self.state.lock();
        inner.person = person;
        inner.deny = false;
    }

    /// Makes the person refuse: the next authorizations redirect with `error=access_denied`
    /// until [`FakeOidc::set_person`] is called.
    pub fn deny_consent(&self) {
        self.state.lock().deny = true;
    }

    /// Makes the next ID token the token endpoint issues a forgery of this kind.
    ///
    /// A [`Forgery::WrongSignature`] makes a second RSA key here, which takes a moment.
    pub fn forge_next_id_token(&self, forgery: Forgery) {
        let needs_key = forgery == Forgery::WrongSignature && self.state.lock().forger.is_none();
        // Made without the lock held: the handlers need it meanwhile.
        let other_key = needs_key.then(new_key);
        let mut inner = self.state.lock();
        if let Some(key) = other_key {
            inner.forger = Some(key);
        }
        inner.forgery = Some(forgery);
    }

    /// Makes every token request from now on fail with this status and an RFC 6749 JSON body
    /// (`server_error`, or `temporarily_unavailable` for 503); `None` heals it.
    pub fn fail_token_endpoint(&self, status: Option<StatusCode>) {
        self.state.lock().token_failure = status;
    }

    /// Makes every code issued so far and not yet redeemed expire now, as if
    /// [`CODE_LIFETIME`] had passed.
    pub fn expire_codes(&self) {
        let now = Instant::now();
        self.state.lock().codes.values_mut().for_each(|grant| grant.expires_at = now);
    }

    /// Every authorization code issued, in order, redeemed ones included.
    pub fn codes_issued(&self) -> Vec<String> {
        self.state.lock().issued.clone()
    }

    /// Every request the fake received, on any path, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().requests.clone()
    }

    /// The requests the fake received on this path, e.g. `/token`, in order.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.state.lock().requests.iter().filter(|request| request.path == path).cloned().collect()
    }
}

/// The state behind a lock the handlers never hold across an await.
#[derive(Clone)]
struct Shared(Arc<Mutex<Inner>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock left nothing half-written worth refusing.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An authorization code's grant, until it is redeemed or expires.
struct Grant {
    /// The client it was issued to.
    client_id: String,
    /// The redirect URI of the authorization request, which the token request must repeat.
    redirect_uri: String,
    /// The PKCE S256 challenge.
    code_challenge: String,
    /// The nonce to put in the ID token.
    nonce: String,
    /// The scopes granted, space-separated as asked.
    scope: String,
    /// Who signed in.
    person: Person,
    /// When the code stops being redeemable.
    expires_at: Instant,
}

/// What an access token gives userinfo.
struct Access {
    /// Who signed in.
    person: Person,
    /// The scopes granted.
    scope: String,
}

struct Inner {
    /// The issuer URL, set once the server is bound.
    issuer: String,
    /// The key ID tokens are signed with, published at `/jwks`.
    key: RsaPrivateKey,
    /// The other key for [`Forgery::WrongSignature`], made when first needed.
    forger: Option<RsaPrivateKey>,
    /// Registered clients by id.
    clients: HashMap<String, Client>,
    /// Who is signed in.
    person: Person,
    /// Whether the person refuses consent.
    deny: bool,
    /// The forgery for the next ID token.
    forgery: Option<Forgery>,
    /// The status every token request fails with, if any.
    token_failure: Option<StatusCode>,
    /// Codes not yet redeemed.
    codes: HashMap<String, Grant>,
    /// Every code issued, in order.
    issued: Vec<String>,
    /// Access tokens issued.
    access_tokens: HashMap<String, Access>,
    /// Every request received.
    requests: Vec<Recorded>,
}

impl Inner {
    fn new(key: RsaPrivateKey) -> Self {
        Inner {
            issuer: String::new(),
            key,
            forger: None,
            clients: HashMap::new(),
            person: Person::default(),
            deny: false,
            forgery: None,
            token_failure: None,
            codes: HashMap::new(),
            issued: Vec::new(),
            access_tokens: HashMap::new(),
            requests: Vec::new(),
        }
    }

    fn record(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap, form: &[(String, String)]) {
        let mut params = parse_form(uri.query().unwrap_or_default().as_bytes());
        params.extend_from_slice(form);
        let authorization = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).map(Into::into);
        self.requests.push(Recorded { method: method.to_string(), path: uri.path().into(), params, authorization });
    }

    /// Signs the ID token for a redeemed grant, playing the forgery asked for.
    fn id_token(&mut self, client_id: &str, grant: &Grant) -> String {
        let now = unix_now();
        let mut claims = json!({
            "iss": self.issuer,
            "sub": grant.person.subject,
            "aud": client_id,
            "azp": client_id,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_SECS,
            "nonce": grant.nonce,
        });
        add_person_claims(&mut claims, &grant.person, &grant.scope);
        let forgery = self.forgery.take();
        match forgery {
            Some(Forgery::WrongAudience) => {
                claims["aud"] = json!("another-client");
                claims["azp"] = json!("another-client");
            }
            Some(Forgery::WrongNonce) => claims["nonce"] = json!(random_token()),
            Some(Forgery::WrongIssuer) => claims["iss"] = json!("https://accounts.example.invalid"),
            Some(Forgery::Expired) => {
                claims["iat"] = json!(now - 2 * TOKEN_LIFETIME_SECS);
                claims["exp"] = json!(now - TOKEN_LIFETIME_SECS);
            }
            Some(Forgery::WrongSignature) | None => {}
        }
        let key = match (forgery, &self.forger) {
            (Some(Forgery::WrongSignature), Some(forger)) => forger,
            _ => &self.key,
        };
        sign_jwt(key, &claims)
    }
}

/// The claims about the person the scopes allow, added to `claims`.
fn add_person_claims(claims: &mut Value, person: &Person, scope: &str) {
    let scopes: Vec<&str> = scope.split(' ').collect();
    if scopes.contains(&"email") {
        claims["email"] = json!(person.email);
        claims["email_verified"] = json!(person.email_verified);
    }
    if scopes.contains(&"profile") {
        claims["name"] = json!(person.name);
    }
}

async fn discovery(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let mut inner = state.lock();
    inner.record(&method, &uri, &headers, &[]);
    let issuer = &inner.issuer;
    json_response(
        StatusCode::OK,
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "userinfo_endpoint": format!("{issuer}/userinfo"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": SCOPES,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code"],
            "claims_supported": CLAIMS,
        }),
    )
}

async fn jwks(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let mut inner = state.lock();
    inner.record(&method, &uri, &headers, &[]);
    let key = &inner.key;
    json_response(
        StatusCode::OK,
        json!({"keys": [{
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": KEY_ID,
            "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
        }]}),
    )
}

async fn authorize(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let mut inner = state.lock();
    inner.record(&method, &uri, &headers, &[]);
    let params = parse_form(query.unwrap_or_default().as_bytes());
    let param = |name: &str| params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());

    // Without a known client and its exact redirect URI there is nowhere safe to send an error.
    let client_id = param("client_id").unwrap_or_default();
    let Some(client) = inner.clients.get(client_id) else {
        return error_page(&format!("The OAuth client was not found: {client_id:?}."));
    };
    let redirect_uri = param("redirect_uri").unwrap_or_default();
    if redirect_uri != client.redirect_uri {
        return error_page(&format!("redirect_uri_mismatch: {redirect_uri:?} is not registered for this client."));
    }

    let state_param = param("state");
    let refuse = |error: &str, description: &str| {
        let mut answer = vec![("error", error), ("error_description", description)];
        answer.extend(state_param.map(|state| ("state", state)));
        redirect(redirect_uri, &answer)
    };
    if param("response_type") != Some("code") {
        return refuse("unsupported_response_type", "only response_type=code is supported");
    }
    let scope = param("scope").unwrap_or_default();
    if !scope.split(' ').any(|scope| scope == "openid") {
        return refuse("invalid_scope", "the scope must include openid");
    }
    let Some(code_challenge) = param("code_challenge").filter(|challenge| !challenge.is_empty()) else {
        return refuse("invalid_request", "code_challenge is required");
    };
    if param("code_challenge_method") != Some("S256") {
        return refuse("invalid_request", "code_challenge_method must be S256");
    }
    let Some(state_value) = state_param.filter(|state| !state.is_empty()) else {
        return refuse("invalid_request", "state is required");
    };
    let Some(nonce) = param("nonce").filter(|nonce| !nonce.is_empty()) else {
        return refuse("invalid_request", "nonce is required");
    };
    if inner.deny {
        return refuse("access_denied", "the user refused access");
    }

    let code = random_token();
    let grant = Grant {
        client_id: client_id.into(),
        redirect_uri: redirect_uri.into(),
        code_challenge: code_challenge.into(),
        nonce: nonce.into(),
        scope: scope.into(),
        person: inner.person.clone(),
        expires_at: Instant::now() + CODE_LIFETIME,
    };
    inner.codes.insert(code.clone(), grant);
    inner.issued.push(code.clone());
    redirect(redirect_uri, &[("code", &code), ("state", state_value), ("scope", scope)])
}

async fn token(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let form = parse_form(&body);
    let mut inner = state.lock();
    inner.record(&method, &uri, &headers, &form);
    if let Some(status) = inner.token_failure {
        let error = if status == StatusCode::SERVICE_UNAVAILABLE { "temporarily_unavailable" } else { "server_error" };
        return token_error(status, error, "the token endpoint is failing");
    }
    let param = |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());

    // Client authentication: Basic (RFC 6749 2.3.1, each part form-urlencoded) or in the body.
    let basic = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).and_then(parse_basic);
    let (client_id, secret, used_basic) = match (basic, param("client_id"), param("client_secret")) {
        (Some(_), _, Some(_)) => {
            return token_error(StatusCode::BAD_REQUEST, "invalid_request", "more than one client authentication");
        }
        (Some((id, secret)), _, None) => (id, secret, true),
        (None, Some(id), Some(secret)) => (id.to_owned(), secret.to_owned(), false),
        (None, _, _) => return invalid_client(false),
    };
    if inner.clients.get(&client_id).is_none_or(|client| client.secret != secret) {
        return invalid_client(used_basic);
    }
    if param("client_id").is_some_and(|id| id != client_id) {
        return token_error(StatusCode::BAD_REQUEST, "invalid_request", "client_id does not match the authentication");
    }

    if param("grant_type") != Some("authorization_code") {
        return token_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "only authorization_code is supported");
    }
    let Some(code) = param("code") else {
        return token_error(StatusCode::BAD_REQUEST, "invalid_request", "code is required");
    };
    // A code is spent by any attempt to redeem it, good or bad.
    let Some(grant) = inner.codes.remove(code) else {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant", "the code is unknown or was already used");
    };
    if Instant::now() >= grant.expires_at {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant", "the code has expired");
    }
    if grant.client_id != client_id {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant", "the code was issued to another client");
    }
    if param("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant", "redirect_uri does not match");
    }
    let Some(verifier) = param("code_verifier") else {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant", "code_verifier is required");
    };
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != grant.code_challenge {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant", "code_verifier does not match the challenge");
    }

    let id_token = inner.id_token(&client_id, &grant);
    let access_token = random_token();
    let answer = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
        "id_token": id_token,
        "scope": grant.scope,
    });
    inner.access_tokens.insert(access_token, Access { person: grant.person, scope: grant.scope });
    json_response(StatusCode::OK, answer)
}

async fn userinfo(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut inner = state.lock();
    inner.record(&method, &uri, &headers, &parse_form(&body));
    let bearer = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    let token = bearer.and_then(|value| value.strip_prefix("Bearer "));
    let Some(access) = token.and_then(|token| inner.access_tokens.get(token)) else {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        let challenge = HeaderValue::from_static("Bearer error=\"invalid_token\"");
        response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        return response;
    };
    let mut claims = json!({"sub": access.person.subject});
    add_person_claims(&mut claims, &access.person, &access.scope);
    json_response(StatusCode::OK, claims)
}

async fn not_found(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    state.lock().record(&method, &uri, &headers, &[]);
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

fn json_response(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(status, json!({"error": error, "error_description": description}))
}

/// 401 `invalid_client`, with the Basic challenge RFC 6749 asks for when the client used Basic.
fn invalid_client(used_basic: bool) -> Response {
    let mut response = token_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed");
    if used_basic {
        let challenge = HeaderValue::from_static("Basic realm=\"token\"");
        response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

/// The page a browser shows when the client or redirect URI is wrong: nothing is redirected.
fn error_page(message: &str) -> Response {
    let escaped = message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let page = format!("<!DOCTYPE html><html><body><h1>Error 400: invalid_request</h1><p>{escaped}</p></body></html>");
    (StatusCode::BAD_REQUEST, axum::response::Html(page)).into_response()
}

/// A 302 to `uri` with these parameters added to its query.
fn redirect(uri: &str, params: &[(&str, &str)]) -> Response {
    let query = serde_urlencoded::to_string(params).expect("string pairs encode");
    let separator = if uri.contains('?') { '&' } else { '?' };
    let location = format!("{uri}{separator}{query}");
    let mut response = StatusCode::FOUND.into_response();
    match HeaderValue::from_str(&location) {
        Ok(location) => {
            response.headers_mut().insert(header::LOCATION, location);
            response
        }
        Err(_) => error_page("the redirect URI cannot be used"),
    }
}

/// A form or query's pairs; an unparseable one gives none.
fn parse_form(bytes: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(bytes).unwrap_or_default()
}

/// The client id and secret of a `Basic` authorization, each form-urldecoded.
fn parse_basic(value: &str) -> Option<(String, String)> {
    let decoded = STANDARD.decode(value.strip_prefix("Basic ")?).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |part: &str| -> Option<String> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={part}")).ok()?;
        pairs.into_iter().next().map(|(_, value)| value)
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// A compact JWS, RS256 under [`KEY_ID`].
fn sign_jwt(key: &RsaPrivateKey, claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": KEY_ID});
    let signing_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let digest = Sha256::digest(signing_input.as_bytes());
    let signature = key.sign(Pkcs1v15Sign::new::<Sha256>(), &digest).expect("RS256 signing with a fresh key");
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn new_key() -> RsaPrivateKey {
    RsaPrivateKey::new(&mut OsRng, KEY_BITS).expect("make an RSA key")
}

/// 32 random bytes, base64url: codes, access tokens and wrong nonces.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}
