//! Settings of the web edge, from flags and environment variables.

use clap::{Args, ValueEnum};

/// When the session cookie is marked `Secure` (and named with the `__Host-` prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SecureCookies {
    /// When the request came over HTTPS: directly, or through a proxy saying
    /// `X-Forwarded-Proto: https`. Plain-HTTP localhost keeps working.
    Auto,
    /// Always: the site is only ever served over HTTPS.
    Always,
    /// Never (plain-HTTP deployments behind a private network only).
    Never,
}

/// Settings of the web edge.
#[derive(Clone, Debug, Args)]
#[group(id = "web")]
pub struct Config {
    /// Address (host:port) the web pages and JSON API listen on.
    #[arg(long, env = "ASSISTCHAT_WEB_LISTEN", default_value = "127.0.0.1:8080")]
    pub web_listen: String,

    /// The core's gRPC address.
    #[arg(long, env = "ASSISTCHAT_CORE_URL", default_value = "http://127.0.0.1:50051")]
    pub core_url: String,

    /// When the session cookie is `Secure` with the `__Host-` prefix: auto, always or never.
    #[arg(long, env = "ASSISTCHAT_SECURE_COOKIES", value_enum, default_value = "auto")]
    pub secure_cookies: SecureCookies,
}

impl Config {
    /// The defaults, with core at `core_url`, listening on a free loopback port.
    pub fn with_core(core_url: impl Into<String>) -> Self {
        Self { web_listen: "127.0.0.1:0".into(), core_url: core_url.into(), secure_cookies: SecureCookies::Auto }
    }
}
