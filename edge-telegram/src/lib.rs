//! The Telegram provider edge: a separate process that attaches to core as provider `telegram`
//! and answers in users' Telegram bots, many bots in one process, each its own task.
//!
//! Layout: [`provider`] checks a bot's token and hands it to [`polling`] (getUpdates with its own
//! offset) or [`webhook`] (Telegram posts to this edge); both give each update to [`chatbot`],
//! which answers it through core. [`settings`] is a resource's settings schema, [`split`] cuts
//! long replies, [`words`] is what the bot says by itself.

pub mod chatbot;
pub mod polling;
pub mod provider;
pub mod settings;
pub mod split;
pub mod webhook;
pub mod words;

pub use provider::Telegram;

/// The settings of the `assistchat-edge-telegram` process.
#[derive(Clone, clap::Parser)]
#[command(name = "assistchat-edge-telegram", version, about)]
pub struct Config {
    /// Core's gRPC address.
    #[arg(long, env = "ASSISTCHAT_CORE_URL", default_value = "http://127.0.0.1:50051")]
    pub core_url: String,

    /// The credential edges attach with: the same as core's.
    #[arg(long, env = "ASSISTCHAT_EDGE_TOKEN", hide_env_values = true)]
    pub edge_token: String,

    /// This instance's id, stable across restarts of the same instance; a random one by default.
    #[arg(long, env = "ASSISTCHAT_EDGE_INSTANCE_ID")]
    pub instance_id: Option<String>,

    /// The Telegram settings.
    #[command(flatten)]
    pub telegram: TelegramSettings,
}

// The credential must never reach a log line.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("core_url", &self.core_url)
            .field("edge_token", &"<redacted>")
            .field("instance_id", &self.instance_id)
            .field("telegram", &self.telegram)
            .finish()
    }
}

/// This edge's own settings, beside the edge client's.
#[derive(Clone, Debug, clap::Args)]
pub struct TelegramSettings {
    /// Telegram's Bot API, or a self-hosted Bot API server.
    #[arg(long, env = "ASSISTCHAT_TELEGRAM_API_URL", default_value = "https://api.telegram.org")]
    pub telegram_api_url: String,

    /// The public https base URL at which Telegram reaches this edge's webhook server; unset
    /// means the bots poll Telegram instead.
    #[arg(long, env = "ASSISTCHAT_TELEGRAM_PUBLIC_URL")]
    pub telegram_public_url: Option<String>,

    /// host:port the webhook server listens on, behind the public URL.
    #[arg(long, env = "ASSISTCHAT_TELEGRAM_LISTEN", default_value = "127.0.0.1:8090")]
    pub telegram_listen: String,
}

impl TelegramSettings {
    /// The provider these settings describe; in webhook mode, its webhook server is started
    /// too, and runs until the process ends.
    pub async fn provider(&self) -> anyhow::Result<Telegram> {
        let Some(public_url) = self.telegram_public_url.as_deref().filter(|url| !url.is_empty()) else {
            return Telegram::new(&self.telegram_api_url);
        };
        let (provider, router) = Telegram::with_webhooks(&self.telegram_api_url, public_url)?;
        let listener = tokio::net::TcpListener::bind(&self.telegram_listen).await.map_err(|err| {
            anyhow::anyhow!(
                "cannot listen on {} ({err}); set ASSISTCHAT_TELEGRAM_LISTEN to a free host:port",
                self.telegram_listen
            )
        })?;
        tracing::info!(listen = %self.telegram_listen, public_url, "Telegram webhooks served");
        // Limits as on every public server: Telegram and Zoom are not the only ones who can
        // reach this port.
        tokio::spawn(assistchat_http::serve(
            listener,
            router,
            assistchat_http::Limits::default(),
            std::future::pending(),
        ));
        Ok(provider)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Config;

    #[test]
    fn the_edge_credential_never_shows_in_debug_output() {
        let token = "telegram-edge-credential-that-must-stay-secret";
        let config = Config::parse_from(["assistchat-edge-telegram", "--edge-token", token]);
        let shown = format!("{config:?}");
        assert!(!shown.contains(token), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("core_url"), "{shown}");
    }
}
