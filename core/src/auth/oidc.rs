//! One OpenID Connect provider as the platform, its relying party, sees it: the discovery
//! document (cached), the authorization address of a new sign-in, and the code exchange with
//! the ID token verified by the `openidconnect` crate (issuer, audience, expiry, nonce, and the
//! signature against the provider's published keys).

use std::time::{Duration, Instant};

use openidconnect::{
    AccessToken, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope, SubjectIdentifier,
    core::{
        CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreIdTokenClaims, CoreProviderMetadata,
        CoreUserInfoClaims,
    },
};
use tokio::sync::Mutex;

use crate::{
    config::IdentityProviderConfig,
    error::{Error, Result},
};

/// How long a discovery document (with the provider's signing keys) is used before it is read
/// again. A signature that fails against cached keys makes it read again at once: keys rotate.
const DISCOVERY_TTL: Duration = Duration::from_secs(60 * 60);
/// How long one request to a provider may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The client as a discovery document configures it.
type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// A new sign-in's address at the provider and the secrets it is checked with later.
pub struct Authorization {
    /// The provider's authorization endpoint with every parameter.
    pub url: String,
    /// The `state` parameter.
    pub state: String,
    /// The PKCE verifier whose S256 challenge is in the address.
    pub pkce_verifier: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
}

/// Who the provider says signed in, once its ID token checked out.
#[derive(Clone, Debug)]
pub struct VerifiedIdentity {
    /// The issuer, as the ID token names it.
    pub issuer: String,
    /// The person's stable id at the issuer.
    pub subject: String,
    /// Their email, if the provider shares it.
    pub email: Option<String>,
    /// Whether the provider says it verified that email.
    pub email_verified: bool,
    /// Their name, if shared.
    pub name: Option<String>,
}

/// One configured provider.
pub struct OidcProvider {
    /// Its configuration.
    settings: IdentityProviderConfig,
    /// Where it sends the browser back to.
    redirect_url: RedirectUrl,
    /// The HTTP client: no redirects followed (so a provider cannot point requests elsewhere).
    http: oidc_reqwest::Client,
    /// The discovery document and when it was read.
    discovery: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

impl OidcProvider {
    /// The provider of `settings`, sending the browser back to
    /// `{public_url}/auth/{id}/callback`. Nothing is fetched yet.
    pub fn new(settings: IdentityProviderConfig, public_url: &str) -> Result<Self, String> {
        let redirect = format!("{}/auth/{}/callback", public_url.trim_end_matches('/'), settings.id);
        let redirect_url =
            RedirectUrl::new(redirect).map_err(|err| format!("ASSISTCHAT_PUBLIC_URL is not a URL ({err})"))?;
        IssuerUrl::new(settings.issuer_url.clone())
            .map_err(|err| format!("the issuer of sign-in provider {:?} is not a URL ({err})", settings.id))?;
        let http = oidc_reqwest::Client::builder()
            .redirect(oidc_reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|err| format!("HTTP client: {err}"))?;
        Ok(Self { settings, redirect_url, http, discovery: Mutex::new(None) })
    }

    /// Its id in addresses, such as `google`.
    pub fn id(&self) -> &str {
        &self.settings.id
    }

    /// Its name on buttons, such as `Google`.
    pub fn display_name(&self) -> &str {
        &self.settings.display_name
    }

    /// A new sign-in: the address to send the browser to, asking for the `email` and `profile`
    /// scopes, with a fresh state, PKCE S256 challenge and nonce.
    pub async fn authorize(&self) -> Result<Authorization> {
        let client = self.client(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Authorization {
            url: url.into(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
        })
    }

    /// Exchanges an authorization code and verifies the ID token that comes with it; the
    /// email comes from the userinfo endpoint when the ID token has none.
    pub async fn redeem(&self, code: &str, pkce_verifier: &str, nonce: &str) -> Result<VerifiedIdentity> {
        let name = self.display_name();
        let client = self.client(false).await?;
        let request = client.exchange_code(AuthorizationCode::new(code.into())).map_err(|_| {
            Error::Unavailable(format!(
                "{name} publishes no token endpoint; the platform's operator must check its issuer"
            ))
        })?;
        let tokens = request
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.into()))
            .request_async(&self.http)
            .await
            .map_err(|err| self.token_error(err))?;
        let refused = |what: String| {
            tracing::warn!(provider = %self.id(), check = %what, "ID token refused");
            Error::PermissionDenied(format!(
                "{name}'s answer failed a check ({what}), so nobody was signed in; start again"
            ))
        };
        let id_token = tokens.extra_fields().id_token().ok_or_else(|| refused("it sent no ID token".into()))?;
        let nonce = Nonce::new(nonce.into());
        let claims: CoreIdTokenClaims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            // Keys rotate: read them again once before refusing a signature.
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                let client = self.client(true).await?;
                id_token.claims(&client.id_token_verifier(), &nonce).map_err(|err| refused(err.to_string()))?.clone()
            }
            Err(err) => return Err(refused(err.to_string())),
        };
        let mut identity = VerifiedIdentity {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            email: claims.email().map(|email| email.to_string()),
            email_verified: claims.email_verified() == Some(true),
            name: claims.name().and_then(|name| name.get(None)).map(|name| name.to_string()),
        };
        if identity.email.is_none() {
            self.read_userinfo(&client, tokens.access_token(), &mut identity).await?;
        }
        Ok(identity)
    }

    /// Fills the email (and name) from the userinfo endpoint, if the provider has one; its
    /// subject must be the ID token's.
    async fn read_userinfo(&self, client: &Client, token: &AccessToken, identity: &mut VerifiedIdentity) -> Result<()> {
        let subject = SubjectIdentifier::new(identity.subject.clone());
        let Ok(request) = client.user_info(token.clone(), Some(subject)) else { return Ok(()) };
        let claims: CoreUserInfoClaims = request.request_async(&self.http).await.map_err(|err| {
            tracing::warn!(provider = %self.id(), error = %err, "userinfo failed");
            Error::Unavailable(format!(
                "{} did not say which email address you use; try again in a minute",
                self.display_name()
            ))
        })?;
        identity.email = claims.email().map(|email| email.to_string());
        identity.email_verified = claims.email_verified() == Some(true);
        identity.name = identity.name.take().or_else(|| claims.name().and_then(|n| n.get(None)).map(|n| n.to_string()));
        Ok(())
    }

    /// The error a failed code exchange is to the person.
    fn token_error<E: std::error::Error>(
        &self,
        err: RequestTokenError<E, openidconnect::StandardErrorResponse<CoreErrorResponseType>>,
    ) -> Error {
        let name = self.display_name();
        tracing::warn!(provider = %self.id(), error = %err, "code exchange failed");
        match err {
            RequestTokenError::ServerResponse(response) => match response.error() {
                CoreErrorResponseType::Extension(code)
                    if code == "server_error" || code == "temporarily_unavailable" =>
                {
                    Error::Unavailable(format!("{name} is having trouble signing people in; try again in a minute"))
                }
                refusal => Error::PermissionDenied(format!(
                    "{name} refused the sign-in ({refusal}), so nobody was signed in; start again"
                )),
            },
            RequestTokenError::Request(_) => {
                Error::Unavailable(format!("{name} cannot be reached to finish the sign-in; try again in a minute"))
            }
            RequestTokenError::Parse(..) | RequestTokenError::Other(_) => {
                Error::Unavailable(format!("{name} gave an answer that is not a sign-in; try again in a minute"))
            }
        }
    }

    /// The client configured from the discovery document, read again when older than
    /// [`DISCOVERY_TTL`] or when `refresh` asks.
    async fn client(&self, refresh: bool) -> Result<Client> {
        let metadata = {
            let mut cached = self.discovery.lock().await;
            match cached.as_ref() {
                Some((read, metadata)) if !refresh && read.elapsed() < DISCOVERY_TTL => metadata.clone(),
                _ => {
                    let metadata = self.discover().await?;
                    *cached = Some((Instant::now(), metadata.clone()));
                    metadata
                }
            }
        };
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect_url.clone()))
    }

    async fn discover(&self) -> Result<CoreProviderMetadata> {
        let issuer =
            IssuerUrl::new(self.settings.issuer_url.clone()).map_err(|err| Error::Internal(err.to_string()))?;
        CoreProviderMetadata::discover_async(issuer, &self.http).await.map_err(|err| {
            tracing::warn!(provider = %self.id(), issuer = %self.settings.issuer_url, error = %err, "discovery failed");
            Error::Unavailable(format!(
                "{} cannot be reached to sign in right now; try again in a minute, or sign in with your email and \
                 password",
                self.display_name()
            ))
        })
    }
}
