//! Configuration: defaults, overridden by environment variables, overridden by flags.
//!
//! Every setting has one name, documented here and in the README's table; `docker-compose.yml`
//! and operators rely on the environment variable names.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use clap::{Args, ValueEnum};

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
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

    /// Browser origins allowed to call over gRPC-web (comma-separated, or `*` for any).
    /// Empty allows none: same-origin proxies and native clients need no CORS.
    #[arg(long, env = "ASSISTCHAT_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Peers whose `x-forwarded-for` metadata is believed (comma-separated IPs), such as the web
    /// edge's address; login throttling then counts the browser's address instead of theirs.
    #[arg(long, env = "ASSISTCHAT_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,

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

    /// The instructions given to the model where a resource sets none, and in the browser chat.
    #[arg(long, env = "ASSISTCHAT_SYSTEM_PROMPT", default_value = DEFAULT_SYSTEM_PROMPT)]
    pub system_prompt: String,

    /// The credential provider edges attach with (at least 32 characters; `openssl rand -hex
    /// 32`). Unset means no edge can attach.
    #[arg(long, env = "ASSISTCHAT_EDGE_TOKEN", hide_env_values = true)]
    pub edge_token: Option<String>,

    /// How often attached edges send heartbeats; an edge silent for three intervals is
    /// detached and its resources are shown in error or moved.
    #[arg(long, env = "ASSISTCHAT_EDGE_HEARTBEAT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub edge_heartbeat: Duration,
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
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            session_idle_timeout: Duration::from_secs(30 * 60),
            session_lifetime: Duration::from_secs(12 * 60 * 60),
            qr_per_minute: 60,
            edge_token: None,
            edge_heartbeat: Duration::from_secs(2),
            openai_api_key: None,
            openai_base_url: "https://api.openai.com/v1".into(),
            openai_model: "gpt-4o-mini".into(),
            ai_deadline: crate::ai::DEADLINE,
            daily_token_quota: 200_000,
            history_token_budget: 4000,
            system_prompt: DEFAULT_SYSTEM_PROMPT.into(),
        }
    }

    /// The platform's AI settings.
    pub fn platform_ai(&self) -> crate::ai::PlatformAi {
        crate::ai::PlatformAi {
            api_key: self.openai_api_key.clone().filter(|key| !key.is_empty()),
            base_url: self.openai_base_url.trim_end_matches('/').to_owned(),
            model: self.openai_model.clone(),
        }
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
            .field("cors_origins", &self.cors_origins)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("session_idle_timeout", &self.session_idle_timeout)
            .field("session_lifetime", &self.session_lifetime)
            .field("qr_per_minute", &self.qr_per_minute)
            .field("openai_api_key", &self.openai_api_key.as_ref().map(|_| "<redacted>"))
            .field("openai_base_url", &self.openai_base_url)
            .field("openai_model", &self.openai_model)
            .field("ai_deadline", &self.ai_deadline)
            .field("daily_token_quota", &self.daily_token_quota)
            .field("history_token_budget", &self.history_token_budget)
            .field("system_prompt", &self.system_prompt)
            .field("edge_token", &self.edge_token.as_ref().map(|_| "<redacted>"))
            .field("edge_heartbeat", &self.edge_heartbeat)
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
        let shown = format!("{config:?}{:?}", config.platform_ai());
        assert!(!shown.contains("c2VjcmV0") && !shown.contains("sk-platform") && !shown.contains("edge-credential"));
    }
}
