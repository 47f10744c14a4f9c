//! The fake OpenID provider driven by the real `openidconnect` client: discovery, the code flow
//! with PKCE and nonce, ID token verification against the published keys, and the ways a
//! sign-in must fail.

use assistchat_fakes::oidc::{FakeOidc, Forgery, Person};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreProviderMetadata, CoreTokenResponse,
    CoreUserInfoClaims,
};
use openidconnect::url;
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope,
};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::Value;

const CLIENT_ID: &str = "assistchat-web.apps.example";
const CLIENT_SECRET: &str = "s3cret+with/odd=chars";
const REDIRECT_URI: &str = "http://127.0.0.1:9/auth/callback";

/// The client as discovery configures it.
type Rp = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// A relying party set up against a fake, as the code under test would be.
struct Relying {
    client: Rp,
    http: reqwest::Client,
}

/// One trip through `/authorize`, as the browser saw it.
struct Authorized {
    /// The status `/authorize` answered.
    status: StatusCode,
    /// Where it redirected, if it did.
    location: Option<url::Url>,
    /// The state the client sent.
    state: CsrfToken,
    /// The nonce the client sent.
    nonce: Nonce,
    /// The PKCE verifier the client kept.
    verifier: PkceCodeVerifier,
}

impl Authorized {
    fn param(&self, name: &str) -> Option<String> {
        let location = self.location.as_ref()?;
        location.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
    }

    fn code(&self) -> AuthorizationCode {
        AuthorizationCode::new(self.param("code").expect("a code in the redirect"))
    }
}

async fn relying(fake: &FakeOidc) -> Relying {
    // As openidconnect asks: no redirects followed, so no SSRF through the provider.
    let http = reqwest::ClientBuilder::new().redirect(Policy::none()).build().expect("an HTTP client");
    let issuer = IssuerUrl::new(fake.issuer()).expect("an issuer URL");
    let metadata = CoreProviderMetadata::discover_async(issuer, &http).await.expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(CLIENT_ID.into()),
        Some(ClientSecret::new(CLIENT_SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).expect("a redirect URL"));
    Relying { client, http }
}

impl Relying {
    /// Sends the browser to `/authorize` with PKCE, state, nonce and the email and profile scopes.
    async fn authorize(&self) -> Authorized {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = self
            .client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let (status, location) = self.follow(url.as_str()).await;
        Authorized { status, location, state, nonce, verifier }
    }

    /// Gets `url` as a browser would, without following the redirect.
    async fn follow(&self, url: &str) -> (StatusCode, Option<url::Url>) {
        let response = self.http.get(url).send().await.expect("the fake answers");
        let location = response.headers().get(reqwest::header::LOCATION).map(|location| {
            url::Url::parse(location.to_str().expect("an ASCII location")).expect("an absolute location")
        });
        (response.status(), location)
    }

    async fn exchange(
        &self,
        code: AuthorizationCode,
        verifier: PkceCodeVerifier,
    ) -> Result<CoreTokenResponse, CoreErrorResponseType> {
        let request = self.client.exchange_code(code).expect("a token endpoint").set_pkce_verifier(verifier);
        match request.request_async(&self.http).await {
            Ok(tokens) => Ok(tokens),
            Err(RequestTokenError::ServerResponse(error)) => Err(error.error().clone()),
            Err(other) => panic!("the token endpoint's answer could not be read: {other:?}"),
        }
    }

    /// The whole flow up to the tokens, for tests about what comes after.
    async fn sign_in(&self) -> (CoreTokenResponse, Nonce) {
        let authorized = self.authorize().await;
        assert_eq!(authorized.status, StatusCode::FOUND);
        assert_eq!(authorized.param("state").as_deref(), Some(authorized.state.secret().as_str()));
        let tokens = self.exchange(authorized.code(), authorized.verifier).await.expect("tokens");
        (tokens, authorized.nonce)
    }
}

async fn fake() -> FakeOidc {
    FakeOidc::start_with_client(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI).await
}

fn bob() -> Person {
    Person {
        subject: "2222".into(),
        email: "bob@example.org".into(),
        email_verified: false,
        name: "Bob Builder".into(),
    }
}

#[tokio::test]
async fn discovery_document_is_complete() {
    let fake = fake().await;
    let url = format!("{}/.well-known/openid-configuration", fake.issuer());
    let document: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let issuer = fake.issuer();
    assert_eq!(document["issuer"], issuer.as_str());
    assert_eq!(document["authorization_endpoint"], format!("{issuer}/authorize"));
    assert_eq!(document["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(document["userinfo_endpoint"], format!("{issuer}/userinfo"));
    assert_eq!(document["jwks_uri"], format!("{issuer}/jwks"));
    assert_eq!(document["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(document["subject_types_supported"], serde_json::json!(["public"]));
    assert_eq!(document["id_token_signing_alg_values_supported"], serde_json::json!(["RS256"]));
    assert_eq!(document["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(
        document["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    assert!(document["scopes_supported"].as_array().unwrap().contains(&"openid".into()));
    assert!(document["claims_supported"].as_array().unwrap().contains(&"email".into()));

    let keys: Value = reqwest::get(format!("{issuer}/jwks")).await.unwrap().json().await.unwrap();
    let key = &keys["keys"][0];
    assert_eq!((&key["kty"], &key["alg"], &key["use"]), (&"RSA".into(), &"RS256".into(), &"sig".into()));
    assert_eq!(key["e"], "AQAB");
}

#[tokio::test]
async fn a_sign_in_yields_an_id_token_the_client_verifies() {
    let fake = fake().await;
    fake.set_person(bob());
    let rp = relying(&fake).await;
    let (tokens, nonce) = rp.sign_in().await;

    let id_token = tokens.extra_fields().id_token().expect("an ID token");
    let claims = id_token.claims(&rp.client.id_token_verifier(), &nonce).expect("a valid ID token");
    assert_eq!(claims.subject().as_str(), "2222");
    assert_eq!(claims.email().map(|email| email.as_str()), Some("bob@example.org"));
    assert_eq!(claims.email_verified(), Some(false));
    assert_eq!(claims.name().and_then(|name| name.get(None)).map(|name| name.as_str()), Some("Bob Builder"));
    assert_eq!(claims.issuer().as_str(), fake.issuer());
    assert_eq!(claims.audiences(), &[openidconnect::Audience::new(CLIENT_ID.into())]);

    let scopes: Vec<String> = tokens.scopes().unwrap().iter().map(|scope| scope.to_string()).collect();
    assert_eq!(scopes, ["openid", "email", "profile"]);
    let info: CoreUserInfoClaims = rp
        .client
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .expect("a userinfo endpoint")
        .request_async(&rp.http)
        .await
        .expect("userinfo");
    assert_eq!(info.email().map(|email| email.as_str()), Some("bob@example.org"));

    // The client authenticated with Basic and sent the verifier and redirect URI.
    let token_requests = fake.requests_to("/token");
    assert_eq!(token_requests.len(), 1);
    assert!(token_requests[0].authorization.as_deref().unwrap().starts_with("Basic "));
    assert!(token_requests[0].param("code_verifier").is_some());
    assert_eq!(token_requests[0].param("redirect_uri"), Some(REDIRECT_URI));
    assert_eq!(fake.codes_issued().len(), 1);
}

#[tokio::test]
async fn client_secret_post_is_accepted_and_a_wrong_secret_is_not() {
    let fake = fake().await;
    let mut rp = relying(&fake).await;
    rp.client = rp.client.set_auth_type(AuthType::RequestBody);
    rp.sign_in().await;
    assert_eq!(fake.requests_to("/token")[0].param("client_secret"), Some(CLIENT_SECRET));

    fake.add_client(CLIENT_ID, "another secret", REDIRECT_URI);
    let authorized = rp.authorize().await;
    assert_eq!(
        rp.exchange(authorized.code(), authorized.verifier).await.unwrap_err(),
        CoreErrorResponseType::InvalidClient
    );
}

#[tokio::test]
async fn every_forgery_is_refused_by_the_verifier() {
    let fake = fake().await;
    let rp = relying(&fake).await;
    for forgery in
        [Forgery::WrongSignature, Forgery::WrongAudience, Forgery::WrongNonce, Forgery::WrongIssuer, Forgery::Expired]
    {
        fake.forge_next_id_token(forgery);
        let (tokens, nonce) = rp.sign_in().await;
        let id_token = tokens.extra_fields().id_token().expect("an ID token");
        let refusal = id_token.claims(&rp.client.id_token_verifier(), &nonce).expect_err("a forgery");
        let for_the_right_reason = match forgery {
            Forgery::WrongSignature => matches!(refusal, ClaimsVerificationError::SignatureVerification(_)),
            Forgery::WrongAudience => matches!(refusal, ClaimsVerificationError::InvalidAudience(_)),
            Forgery::WrongNonce => matches!(refusal, ClaimsVerificationError::InvalidNonce(_)),
            Forgery::WrongIssuer => matches!(refusal, ClaimsVerificationError::InvalidIssuer(_)),
            Forgery::Expired => matches!(refusal, ClaimsVerificationError::Expired(_)),
        };
        assert!(for_the_right_reason, "{forgery:?} was refused as {refusal:?}");
    }
    // Forgeries are one-off: the next token is genuine again.
    let (tokens, nonce) = rp.sign_in().await;
    tokens.extra_fields().id_token().unwrap().claims(&rp.client.id_token_verifier(), &nonce).expect("genuine");
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused() {
    let fake = fake().await;
    let rp = relying(&fake).await;
    let authorized = rp.authorize().await;
    let wrong = PkceCodeVerifier::new("a-verifier-that-is-not-the-one-whose-hash-was-sent-0123456789".into());
    assert_eq!(rp.exchange(authorized.code(), wrong).await.unwrap_err(), CoreErrorResponseType::InvalidGrant);
}

#[tokio::test]
async fn a_code_is_redeemed_once() {
    let fake = fake().await;
    let rp = relying(&fake).await;
    let authorized = rp.authorize().await;
    let (code, verifier) = (authorized.code(), PkceCodeVerifier::new(authorized.verifier.secret().clone()));
    rp.exchange(authorized.code(), authorized.verifier).await.expect("the first redemption");
    assert_eq!(rp.exchange(code, verifier).await.unwrap_err(), CoreErrorResponseType::InvalidGrant);
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let fake = fake().await;
    let rp = relying(&fake).await;
    let authorized = rp.authorize().await;
    fake.expire_codes();
    assert_eq!(
        rp.exchange(authorized.code(), authorized.verifier).await.unwrap_err(),
        CoreErrorResponseType::InvalidGrant
    );
}

#[tokio::test]
async fn a_refusal_comes_back_as_access_denied() {
    let fake = fake().await;
    fake.deny_consent();
    let rp = relying(&fake).await;
    let authorized = rp.authorize().await;
    assert_eq!(authorized.status, StatusCode::FOUND);
    assert!(authorized.location.as_ref().unwrap().as_str().starts_with(REDIRECT_URI));
    assert_eq!(authorized.param("error").as_deref(), Some("access_denied"));
    assert_eq!(authorized.param("state").as_deref(), Some(authorized.state.secret().as_str()));
    assert!(fake.codes_issued().is_empty());
}

#[tokio::test]
async fn an_unknown_client_or_redirect_uri_gets_a_page_not_a_redirect() {
    let fake = fake().await;
    let rp = relying(&fake).await;
    let base = format!(
        "{}/authorize?response_type=code&scope=openid&state=s&nonce=n&code_challenge=c&code_challenge_method=S256",
        fake.issuer()
    );
    let unknown = format!("{base}&client_id=nobody&redirect_uri={}", urlencode(REDIRECT_URI));
    let elsewhere = format!("{base}&client_id={CLIENT_ID}&redirect_uri={}", urlencode("http://evil.example/cb"));
    for url in [unknown, elsewhere] {
        let (status, location) = rp.follow(&url).await;
        assert_eq!((status, location), (StatusCode::BAD_REQUEST, None));
    }
}

#[tokio::test]
async fn an_authorization_without_pkce_is_refused() {
    let fake = fake().await;
    let rp = relying(&fake).await;
    let (url, _, _) = rp
        .client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .url();
    let (status, location) = rp.follow(url.as_str()).await;
    assert_eq!(status, StatusCode::FOUND);
    let error = location.unwrap().query_pairs().find(|(key, _)| key == "error").map(|(_, value)| value.into_owned());
    assert_eq!(error.as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn a_failing_token_endpoint_is_seen_as_an_error() {
    let fake = fake().await;
    let rp = relying(&fake).await;
    let authorized = rp.authorize().await;
    fake.fail_token_endpoint(Some(axum::http::StatusCode::SERVICE_UNAVAILABLE));
    let error = rp.exchange(authorized.code(), authorized.verifier).await.unwrap_err();
    assert_eq!(error, CoreErrorResponseType::Extension("temporarily_unavailable".into()));
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
