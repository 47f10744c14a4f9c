//! Configuration: defaults, overridden by environment variables, overridden by flags.
//!
//! Every setting has one name, documented here and in the README's table; `docker-compose.yml`
//! and operators rely on the environment variable names.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc, time::Duration};

use clap::{Args, ValueEnum};
use ipnet::IpNet;

use crate::edge::{EdgeReach, MIN_EDGE_TOKEN_LEN, credential_key};

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Who may make an account by registering (`ASSISTCHAT_REGISTRATION`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum RegistrationMode {
    /// Anyone.
    #[default]
    Open,
    /// Only emails at the domains of `ASSISTCHAT_REGISTRATION_DOMAINS`.
    Domains,
    /// Nobody: the operator makes accounts with `assistchat-core users create EMAIL`.
    Closed,
}

/// Settings of the core server.
#[derive(Clone, Args)]
#[group(id = "core")]
pub struct Config {
    /// Directory for the SQLite database and the generated secret key; created if missing.
    #[arg(long, env = "ASSISTCHAT_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Address (host:port) the gRPC, gRPC-web, health and reflection services listen on.
    #[arg(long, env = "ASSISTCHAT_CORE_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: String,

    /// Database URL: `postgres://...` for PostgreSQL; unset means SQLite in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// The platform secret key (32 bytes, base64) that seals stored secrets. Unset means a key
    /// generated into `<data dir>/secret.key` on first start.
    #[arg(long, env = "ASSISTCHAT_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Earlier platform secret keys (comma-separated, base64), still accepted for opening
    /// secrets sealed before a rotation.
    #[arg(long, env = "ASSISTCHAT_PREVIOUS_SECRET_KEYS", value_delimiter = ',', hide_env_values = true)]
    pub previous_secret_keys: Vec<String>,

    /// Log format: `text` or `json`.
    #[arg(long, env = "ASSISTCHAT_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// The longest a unary gRPC call may run before it ends with DEADLINE_EXCEEDED; the calls
    /// that wait for a model get ASSISTCHAT_AI_DEADLINE on top. Streams have no such limit.
    #[arg(long, env = "ASSISTCHAT_RPC_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub rpc_timeout: Duration,

    /// How many calls one gRPC connection may have open at once; a client opening more waits.
    /// The web edge carries every browser's calls (event streams included) on one connection.
    #[arg(long, env = "ASSISTCHAT_GRPC_MAX_STREAMS_PER_CONNECTION", default_value_t = crate::call_limits::MAX_STREAMS_PER_CONNECTION, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_streams_per_connection: u32,

    /// Browser origins allowed to call over gRPC-web (comma-separated, or `*` for any).
    /// Empty allows none: same-origin proxies and native clients need no CORS.
    #[arg(long, env = "ASSISTCHAT_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Peers whose `x-forwarded-for` metadata is believed (comma-separated IPs or networks such
    /// as `10.0.0.0/8`), such as the web edge's address; every per-address limit then counts the
    /// browser's address instead of theirs.
    #[arg(long, env = "ASSISTCHAT_TRUSTED_PROXIES", value_delimiter = ',', value_parser = crate::rpc::parse_proxy)]
    pub trusted_proxies: Vec<IpNet>,

    /// Who may make an account by registering (with a password, or by a first sign-in with an
    /// identity provider): `open`, `domains` (only emails at `ASSISTCHAT_REGISTRATION_DOMAINS`) or
    /// `closed` (accounts are made with `assistchat-core users create EMAIL`). Existing accounts
    /// always sign in.
    #[arg(long, env = "ASSISTCHAT_REGISTRATION", value_enum, default_value = "open")]
    pub registration: RegistrationMode,

    /// The email domains that may register when `ASSISTCHAT_REGISTRATION=domains`
    /// (comma-separated, such as `example.com,example.org`).
    #[arg(long, env = "ASSISTCHAT_REGISTRATION_DOMAINS", value_delimiter = ',')]
    pub registration_domains: Vec<String>,

    /// A session ends after this long without use (OWASP ASVS level 2: 30 minutes).
    #[arg(long, env = "ASSISTCHAT_SESSION_IDLE_TIMEOUT", default_value = "30m", value_parser = humantime::parse_duration)]
    pub session_idle_timeout: Duration,

    /// A session ends this long after sign-in however active it is (ASVS level 2: 12 hours).
    #[arg(long, env = "ASSISTCHAT_SESSION_LIFETIME", default_value = "12h", value_parser = humantime::parse_duration)]
    pub session_lifetime: Duration,

    /// QR codes one client address may build per minute (also the burst allowed); the QR tool
    /// is public, so this bounds what one client can spend of the server's CPU.
    #[arg(long, env = "ASSISTCHAT_QR_PER_MINUTE", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub qr_per_minute: u32,

    /// The platform's OpenAI key, which pays for the replies of users in managed mode. Unset
    /// means managed users are asked to add their own key.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub openai_api_key: Option<String>,

    /// The platform's OpenAI-compatible base URL: OpenAI itself, or a local server such as
    /// Ollama (http://localhost:11434/v1). Users in byok mode may set their own.
    #[arg(long, env = "ASSISTCHAT_OPENAI_BASE_URL", default_value = "https://api.openai.com/v1")]
    pub openai_base_url: String,

    /// The model asked when a user chose none.
    #[arg(long, env = "ASSISTCHAT_OPENAI_MODEL", default_value = "gpt-4o-mini")]
    pub openai_model: String,

    /// The models users in managed mode may choose for a conversation (comma-separated, such as
    /// `gpt-4o-mini,gpt-4o`), all paid with the platform's key; the platform's model is always
    /// among them. Unset offers the platform's model only.
    #[arg(long, env = "ASSISTCHAT_MANAGED_MODELS", value_delimiter = ',')]
    pub managed_models: Vec<String>,

    /// Whether a new conversation is titled by the model from its first exchange (a short call
    /// paid like a reply, within the same quota); `false` titles it with its first words.
    #[arg(long, env = "ASSISTCHAT_MODEL_TITLES", default_value_t = true, action = clap::ArgAction::Set)]
    pub model_titles: bool,

    /// Where users' own model servers may be although it is inside the server's network
    /// (comma-separated hosts, IP addresses and CIDR blocks, such as
    /// `127.0.0.1,10.0.0.0/8,ollama.internal`): for a model server on this machine or network.
    /// Unset refuses every base URL a user sets that leads to loopback, private, link-local
    /// (cloud metadata), CGNAT, unique-local or reserved addresses, when saved and on
    /// connection. The platform's own base URL is never checked.
    #[arg(long, env = "ASSISTCHAT_OUTBOUND_ALLOW", value_delimiter = ',')]
    pub outbound_allow: Vec<String>,

    /// Resolves the host names of users' own model servers instead of the system's resolver
    /// (for embedding and tests).
    #[arg(skip)]
    pub outbound_resolver: Option<Arc<dyn reqwest::dns::Resolve>>,

    /// The longest a reply may take, retries of rate limits and server errors included; each
    /// attempt gets half of it.
    #[arg(long, env = "ASSISTCHAT_AI_DEADLINE", default_value = "60s", value_parser = humantime::parse_duration)]
    pub ai_deadline: Duration,

    /// The most tokens a user in managed mode may use per day (UTC), prompts and replies
    /// together; 0 means no quota.
    #[arg(long, env = "ASSISTCHAT_DAILY_TOKEN_QUOTA", default_value_t = 200_000)]
    pub daily_token_quota: u64,

    /// The most tokens of a conversation sent to the model with each message (the system
    /// prompt, the message and as many recent turns as fit).
    #[arg(long, env = "ASSISTCHAT_HISTORY_TOKEN_BUDGET", default_value_t = 4000, value_parser = clap::value_parser!(u32).range(100..))]
    pub history_token_budget: u32,

    /// The most tokens the model may write in one reply, sent with every call; in managed mode
    /// it is also part of what a message reserves of the daily quota before the model is asked.
    #[arg(long, env = "ASSISTCHAT_MAX_REPLY_TOKENS", default_value_t = crate::ai::MAX_REPLY_TOKENS, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_reply_tokens: u32,

    /// The most model calls one user may have running at once, in all their channels and the
    /// browser together; more are refused with when to try again.
    #[arg(long, env = "ASSISTCHAT_MAX_CALLS_PER_USER", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_calls_per_user: u64,

    /// The most streams of each kind one user may have open at once: status watches (each open
    /// page listening for changes) and streamed chat replies, each counted on its own.
    #[arg(long, env = "ASSISTCHAT_MAX_STREAMS_PER_USER", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_streams_per_user: u64,

    /// The instructions given to the model where a resource sets none, and in the browser chat.
    #[arg(long, env = "ASSISTCHAT_SYSTEM_PROMPT", default_value = DEFAULT_SYSTEM_PROMPT)]
    pub system_prompt: String,

    /// The shared credential provider edges attach with, valid for every provider (at least 32
    /// characters; `openssl rand -hex 32`): for a single operator who runs every edge. Prefer one
    /// credential per provider, `ASSISTCHAT_EDGE_TOKEN_<PROVIDER>` (such as
    /// `ASSISTCHAT_EDGE_TOKEN_TELEGRAM`, each at least 32 characters), which attaches only as that
    /// provider and receives only its resources. With neither set, no edge can attach.
    #[arg(long, env = "ASSISTCHAT_EDGE_TOKEN", hide_env_values = true)]
    pub edge_token: Option<String>,

    /// Per-provider edge credentials set in code, by provider name, on top of the
    /// `ASSISTCHAT_EDGE_TOKEN_<PROVIDER>` ones of the environment (for embedding and tests).
    #[arg(skip)]
    pub provider_edge_tokens: BTreeMap<String, String>,

    /// How often attached edges send heartbeats; an edge silent for three intervals is
    /// detached and its resources are shown in error or moved.
    #[arg(long, env = "ASSISTCHAT_EDGE_HEARTBEAT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub edge_heartbeat: Duration,

    /// The web edge's address as browsers reach it; sign-in providers send people back to
    /// `<this>/auth/<provider>/callback`.
    #[arg(long, env = "ASSISTCHAT_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,

    /// "Sign in with Google": the OAuth client id from the Google Cloud console (Credentials, a
    /// "Web application" client whose redirect URI is `<public URL>/auth/google/callback`).
    #[arg(long, env = "ASSISTCHAT_GOOGLE_CLIENT_ID")]
    pub google_client_id: Option<String>,

    /// The secret of that Google OAuth client.
    #[arg(long, env = "ASSISTCHAT_GOOGLE_CLIENT_SECRET", hide_env_values = true)]
    pub google_client_secret: Option<String>,

    /// Google's OpenID Connect issuer, whose discovery document gives its endpoints.
    #[arg(long, env = "ASSISTCHAT_GOOGLE_ISSUER_URL", default_value = GOOGLE_ISSUER)]
    pub google_issuer_url: String,

    /// More OpenID Connect sign-in providers (Keycloak, GitLab, ...), by id, comma-separated.
    /// Each id `X` is configured by `ASSISTCHAT_OIDC_X_ISSUER_URL`, `ASSISTCHAT_OIDC_X_CLIENT_ID`,
    /// `ASSISTCHAT_OIDC_X_CLIENT_SECRET` and optionally `ASSISTCHAT_OIDC_X_NAME` (its button's
    /// name), with `X` upper-cased.
    #[arg(long, env = "ASSISTCHAT_OIDC_PROVIDERS", value_delimiter = ',')]
    pub oidc_providers: Vec<String>,

    /// Providers configured in code, after Google and the ones above (for embedding and tests).
    #[arg(skip)]
    pub extra_identity_providers: Vec<IdentityProviderConfig>,
}

/// The start of the variables that hold one provider's edge credential:
/// `ASSISTCHAT_EDGE_TOKEN_<PROVIDER>`, the provider's name upper-cased with `_` for `-`.
pub const EDGE_TOKEN_PREFIX: &str = "ASSISTCHAT_EDGE_TOKEN_";

/// Google's OpenID Connect issuer.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// One OpenID Connect sign-in provider.
#[derive(Clone)]
pub struct IdentityProviderConfig {
    /// Its id in addresses (`/auth/<id>`): lower-case letters, digits and `-`.
    pub id: String,
    /// The name on its button.
    pub display_name: String,
    /// Its issuer; endpoints and keys come from `<issuer>/.well-known/openid-configuration`.
    pub issuer_url: String,
    /// The OAuth client id the platform was given.
    pub client_id: String,
    /// That client's secret.
    pub client_secret: String,
}

impl std::fmt::Debug for IdentityProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProviderConfig")
            .field("id", &self.id)
            .field("display_name", &self.display_name)
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// The instructions given to the model where nobody set any.
pub const DEFAULT_SYSTEM_PROMPT: &str =
    "You are a helpful assistant. Answer in the language of the person's last message, briefly and clearly.";

impl Config {
    /// The configuration with every default and no environment, for tests and embedding.
    pub fn with_defaults(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            listen: "127.0.0.1:0".into(),
            database_url: None,
            secret_key: None,
            previous_secret_keys: Vec::new(),
            log_format: LogFormat::Text,
            rpc_timeout: crate::call_limits::RPC_TIMEOUT,
            max_streams_per_connection: crate::call_limits::MAX_STREAMS_PER_CONNECTION,
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            registration: RegistrationMode::Open,
            registration_domains: Vec::new(),
            session_idle_timeout: Duration::from_secs(30 * 60),
            session_lifetime: Duration::from_secs(12 * 60 * 60),
            qr_per_minute: 60,
            edge_token: None,
            provider_edge_tokens: BTreeMap::new(),
            edge_heartbeat: Duration::from_secs(2),
            openai_api_key: None,
            openai_base_url: "https://api.openai.com/v1".into(),
            openai_model: "gpt-4o-mini".into(),
            managed_models: Vec::new(),
            model_titles: true,
            outbound_allow: Vec::new(),
            outbound_resolver: None,
            ai_deadline: crate::ai::DEADLINE,
            daily_token_quota: 200_000,
            history_token_budget: 4000,
            max_reply_tokens: crate::ai::MAX_REPLY_TOKENS,
            max_calls_per_user: 4,
            max_streams_per_user: 8,
            system_prompt: DEFAULT_SYSTEM_PROMPT.into(),
            public_url: "http://127.0.0.1:8080".into(),
            google_client_id: None,
            google_client_secret: None,
            google_issuer_url: GOOGLE_ISSUER.into(),
            oidc_providers: Vec::new(),
            extra_identity_providers: Vec::new(),
        }
    }

    /// The sign-in providers configured: Google when its client id and secret are set, then
    /// each of `ASSISTCHAT_OIDC_PROVIDERS` from the environment, then the extra ones.
    pub fn identity_providers(&self) -> Result<Vec<IdentityProviderConfig>, String> {
        self.identity_providers_from(|name| std::env::var(name).ok())
    }

    /// [`Config::identity_providers`] with the environment read through `env`.
    fn identity_providers_from(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<IdentityProviderConfig>, String> {
        let set = |value: &Option<String>| value.clone().filter(|value| !value.trim().is_empty());
        let mut providers = Vec::new();
        match (set(&self.google_client_id), set(&self.google_client_secret)) {
            (Some(client_id), Some(client_secret)) => providers.push(IdentityProviderConfig {
                id: "google".into(),
                display_name: "Google".into(),
                issuer_url: self.google_issuer_url.clone(),
                client_id,
                client_secret,
            }),
            (None, None) => {}
            (Some(_), None) => {
                return Err(
                    "ASSISTCHAT_GOOGLE_CLIENT_SECRET is missing: Google sign-in needs the client id and its secret"
                        .into(),
                );
            }
            (None, Some(_)) => {
                return Err(
                    "ASSISTCHAT_GOOGLE_CLIENT_ID is missing: Google sign-in needs the client id and its secret".into(),
                );
            }
        }
        for id in self.oidc_providers.iter().map(|id| id.trim()).filter(|id| !id.is_empty()) {
            let prefix = format!("ASSISTCHAT_OIDC_{}_", id.to_uppercase().replace('-', "_"));
            let required = |suffix: &str| {
                env(&format!("{prefix}{suffix}")).filter(|value| !value.trim().is_empty()).ok_or_else(|| {
                    format!(
                        "{prefix}{suffix} is missing: sign-in provider {id:?} is listed in ASSISTCHAT_OIDC_PROVIDERS"
                    )
                })
            };
            providers.push(IdentityProviderConfig {
                id: id.to_lowercase(),
                display_name: env(&format!("{prefix}NAME"))
                    .filter(|name| !name.trim().is_empty())
                    .unwrap_or_else(|| id.to_owned()),
                issuer_url: required("ISSUER_URL")?,
                client_id: required("CLIENT_ID")?,
                client_secret: required("CLIENT_SECRET")?,
            });
        }
        providers.extend(self.extra_identity_providers.iter().cloned());
        for (index, provider) in providers.iter().enumerate() {
            let valid = !provider.id.is_empty()
                && provider.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid {
                return Err(format!("sign-in provider id {:?} must be lower-case letters, digits and -", provider.id));
            }
            if providers[..index].iter().any(|earlier| earlier.id == provider.id) {
                return Err(format!("sign-in provider {:?} is configured twice", provider.id));
            }
        }
        Ok(providers)
    }

    /// The edge credentials core accepts, each with what it may act as: one per provider from
    /// the environment's `ASSISTCHAT_EDGE_TOKEN_<PROVIDER>` and [`Config::provider_edge_tokens`],
    /// then the shared `ASSISTCHAT_EDGE_TOKEN`.
    pub fn edge_credentials(&self) -> Result<Vec<(String, EdgeReach)>, String> {
        self.edge_credentials_from(std::env::vars())
    }

    /// [`Config::edge_credentials`] with the environment's variables given as `vars`.
    fn edge_credentials_from(
        &self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Vec<(String, EdgeReach)>, String> {
        let from_env = vars.into_iter().filter_map(|(name, value)| {
            let provider = name.strip_prefix(EDGE_TOKEN_PREFIX)?.to_owned();
            Some((name, provider, value))
        });
        let in_code = self
            .provider_edge_tokens
            .iter()
            .map(|(provider, value)| (provider.clone(), provider.clone(), value.clone()));
        let mut credentials: Vec<(String, EdgeReach)> = Vec::new();
        for (name, provider, value) in from_env.chain(in_code) {
            let value = value.trim();
            // An empty value (`${X:-}` in a compose file) sets nothing.
            if value.is_empty() {
                continue;
            }
            let key = credential_key(&provider);
            let valid = key.starts_with(|c: char| c.is_ascii_lowercase())
                && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                return Err(format!("{name}: {provider:?} is not a provider name (letters, digits and _)"));
            }
            if value.len() < MIN_EDGE_TOKEN_LEN {
                return Err(format!(
                    "{name} must be at least {MIN_EDGE_TOKEN_LEN} characters; make one with `openssl rand -hex 32`"
                ));
            }
            let reach = EdgeReach::Provider(key);
            if credentials.iter().any(|(_, earlier)| *earlier == reach) {
                return Err(format!("{name}: the edge credential of this provider is set twice"));
            }
            credentials.push((value.to_owned(), reach));
        }
        if let Some(shared) = self.edge_token.as_deref().map(str::trim).filter(|token| !token.is_empty()) {
            if shared.len() < MIN_EDGE_TOKEN_LEN {
                return Err(format!(
                    "ASSISTCHAT_EDGE_TOKEN must be at least {MIN_EDGE_TOKEN_LEN} characters; make one with `openssl \
                     rand -hex 32`"
                ));
            }
            credentials.push((shared.to_owned(), EdgeReach::Any));
        }
        for (index, (token, _)) in credentials.iter().enumerate() {
            if credentials[..index].iter().any(|(earlier, _)| earlier == token) {
                return Err("two edge credentials have the same value; give each provider its own".into());
            }
        }
        Ok(credentials)
    }

    /// The platform's AI settings.
    pub fn platform_ai(&self) -> crate::ai::PlatformAi {
        crate::ai::PlatformAi {
            api_key: self.openai_api_key.clone().filter(|key| !key.is_empty()),
            base_url: self.openai_base_url.trim_end_matches('/').to_owned(),
            model: self.openai_model.clone(),
        }
    }

    /// The outbound policy for the servers users choose, with the operator's exceptions;
    /// an error names an entry of `ASSISTCHAT_OUTBOUND_ALLOW` that is not a host, an IP
    /// address or a CIDR block.
    pub fn outbound(&self) -> Result<crate::outbound::Policy, String> {
        crate::outbound::Policy::new(&self.outbound_allow, self.outbound_resolver.clone())
    }

    /// The database to open: `DATABASE_URL` when set, else the SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!("sqlite://{}?mode=rwc", self.data_dir.join("assistchat.db").display()),
        }
    }
}

// Secrets must never reach a log line, so Debug is written by hand.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("database_url", &self.database_url.as_deref().map(redact_url))
            .field("secret_key", &self.secret_key.as_ref().map(|_| "<redacted>"))
            .field("previous_secret_keys", &self.previous_secret_keys.len())
            .field("log_format", &self.log_format)
            .field("rpc_timeout", &self.rpc_timeout)
            .field("max_streams_per_connection", &self.max_streams_per_connection)
            .field("cors_origins", &self.cors_origins)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("registration", &self.registration)
            .field("registration_domains", &self.registration_domains)
            .field("session_idle_timeout", &self.session_idle_timeout)
            .field("session_lifetime", &self.session_lifetime)
            .field("qr_per_minute", &self.qr_per_minute)
            .field("openai_api_key", &self.openai_api_key.as_ref().map(|_| "<redacted>"))
            .field("openai_base_url", &self.openai_base_url)
            .field("openai_model", &self.openai_model)
            .field("managed_models", &self.managed_models)
            .field("model_titles", &self.model_titles)
            .field("outbound_allow", &self.outbound_allow)
            .field("outbound_resolver", &self.outbound_resolver.as_ref().map(|_| "<custom>"))
            .field("ai_deadline", &self.ai_deadline)
            .field("daily_token_quota", &self.daily_token_quota)
            .field("history_token_budget", &self.history_token_budget)
            .field("max_reply_tokens", &self.max_reply_tokens)
            .field("max_calls_per_user", &self.max_calls_per_user)
            .field("max_streams_per_user", &self.max_streams_per_user)
            .field("system_prompt", &self.system_prompt)
            .field("edge_token", &self.edge_token.as_ref().map(|_| "<redacted>"))
            .field("provider_edge_tokens", &self.provider_edge_tokens.keys().collect::<Vec<_>>())
            .field("edge_heartbeat", &self.edge_heartbeat)
            .field("public_url", &self.public_url)
            .field("google_client_id", &self.google_client_id)
            .field("google_client_secret", &self.google_client_secret.as_ref().map(|_| "<redacted>"))
            .field("google_issuer_url", &self.google_issuer_url)
            .field("oidc_providers", &self.oidc_providers)
            .field("extra_identity_providers", &self.extra_identity_providers)
            .finish()
    }
}

/// The URL with any password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{}:<redacted>{}", &url[..scheme_end + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password_in_database_url() {
        assert_eq!(redact_url("postgres://app:hunter2@db:5432/x"), "postgres://app:<redacted>@db:5432/x");
        assert_eq!(redact_url("sqlite://data/a.db?mode=rwc"), "sqlite://data/a.db?mode=rwc");
    }

    #[test]
    fn debug_never_shows_the_secret_key() {
        let mut config = Config::with_defaults("d".into());
        config.secret_key = Some("c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXk=".into());
        config.openai_api_key = Some("sk-platform-key-abcd".into());
        config.edge_token = Some("edge-credential-0123456789abcdef0123".into());
        config.google_client_id = Some("id.apps.googleusercontent.com".into());
        config.google_client_secret = Some("GOCSPX-google-secret".into());
        let shown = format!("{config:?}{:?}{:?}", config.platform_ai(), config.identity_providers_from(|_| None));
        assert!(!shown.contains("c2VjcmV0") && !shown.contains("sk-platform") && !shown.contains("edge-credential"));
        assert!(!shown.contains("GOCSPX") && shown.contains("id.apps.googleusercontent.com"));
    }

    #[test]
    fn each_provider_edge_credential_names_its_provider() {
        let mut config = Config::with_defaults("d".into());
        assert!(config.edge_credentials_from([]).unwrap().is_empty(), "nothing set, no edge attaches");
        let telegram = "t".repeat(MIN_EDGE_TOKEN_LEN);
        let zoom = "z".repeat(MIN_EDGE_TOKEN_LEN);
        config.edge_token = Some("s".repeat(MIN_EDGE_TOKEN_LEN));
        config.provider_edge_tokens.insert("my-chan".into(), "m".repeat(MIN_EDGE_TOKEN_LEN));
        let vars = [
            ("ASSISTCHAT_EDGE_TOKEN_TELEGRAM".to_owned(), telegram.clone()),
            ("ASSISTCHAT_EDGE_TOKEN_ZOOM".to_owned(), zoom.clone()),
            ("ASSISTCHAT_EDGE_TOKEN_SLACK".to_owned(), String::new()),
            ("ASSISTCHAT_EDGE_HEARTBEAT".to_owned(), "2s".to_owned()),
        ];
        let credentials = config.edge_credentials_from(vars.clone()).unwrap();
        let reaches: Vec<_> = credentials.iter().map(|(_, reach)| reach.clone()).collect();
        assert_eq!(
            reaches,
            [
                EdgeReach::Provider("telegram".into()),
                EdgeReach::Provider("zoom".into()),
                EdgeReach::Provider("my_chan".into()),
                EdgeReach::Any
            ]
        );
        assert!(reaches[2].allows("my-chan") && !reaches[0].allows("zoom") && reaches[3].allows("zoom"));
        let short = [("ASSISTCHAT_EDGE_TOKEN_ZOOM".to_owned(), "short".to_owned())];
        assert!(config.edge_credentials_from(short).unwrap_err().contains("ASSISTCHAT_EDGE_TOKEN_ZOOM"));
        let same = [("ASSISTCHAT_EDGE_TOKEN_ZOOM".to_owned(), telegram.clone()), vars[0].clone()];
        assert!(config.edge_credentials_from(same).unwrap_err().contains("same value"));
        let bad = [("ASSISTCHAT_EDGE_TOKEN_1X".to_owned(), zoom)];
        assert!(config.edge_credentials_from(bad).is_err());
        assert!(!format!("{config:?}").contains(&"m".repeat(MIN_EDGE_TOKEN_LEN)), "credentials stay out of logs");
    }

    #[test]
    fn google_needs_only_its_client_and_more_providers_are_one_block_each() {
        let mut config = Config::with_defaults("d".into());
        assert!(config.identity_providers_from(|_| None).unwrap().is_empty(), "nothing configured, no button");
        config.google_client_id = Some("id".into());
        let missing = config.identity_providers_from(|_| None).unwrap_err();
        assert!(missing.contains("ASSISTCHAT_GOOGLE_CLIENT_SECRET"), "{missing}");
        config.google_client_secret = Some("secret".into());
        config.oidc_providers = vec!["work-sso".into()];
        let env = |name: &str| match name {
            "ASSISTCHAT_OIDC_WORK_SSO_ISSUER_URL" => Some("https://sso.example.com/realms/staff".to_owned()),
            "ASSISTCHAT_OIDC_WORK_SSO_CLIENT_ID" => Some("assistchat".to_owned()),
            "ASSISTCHAT_OIDC_WORK_SSO_CLIENT_SECRET" => Some("s".to_owned()),
            "ASSISTCHAT_OIDC_WORK_SSO_NAME" => Some("Work SSO".to_owned()),
            _ => None,
        };
        let providers = config.identity_providers_from(env).unwrap();
        let shown: Vec<_> =
            providers.iter().map(|p| (p.id.as_str(), p.display_name.as_str(), p.issuer_url.as_str())).collect();
        assert_eq!(
            shown,
            [("google", "Google", GOOGLE_ISSUER), ("work-sso", "Work SSO", "https://sso.example.com/realms/staff")]
        );
        let missing =
            config.identity_providers_from(|name| env(name).filter(|_| !name.ends_with("CLIENT_ID"))).unwrap_err();
        assert!(missing.contains("ASSISTCHAT_OIDC_WORK_SSO_CLIENT_ID"), "{missing}");
        config.oidc_providers = vec!["Google".into()];
        let twice = config.identity_providers_from(|name| Some(name.to_owned())).unwrap_err();
        assert!(twice.contains("twice"), "{twice}");
    }
}
