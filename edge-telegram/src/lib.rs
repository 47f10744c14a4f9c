//! The Telegram provider edge: a separate process that attaches to core as provider `telegram`
//! and answers in users' Telegram bots, many bots in one process, each its own task.
//!
//! Layout: [`provider`] checks a bot's token and hands it to [`polling`] (getUpdates with its own
//! offset) or [`webhook`] (Telegram posts to this edge); both give each update to [`chatbot`],
//! which answers it through core. [`settings`] is a resource's settings schema, [`format`] writes
//! replies in Telegram's HTML and cuts long ones. What every chatbot channel shares (the credential check, the turn of a
//! chatbot, webhooks) is `assistchat-edge-client`'s.

pub mod chatbot;
pub mod format;
pub mod polling;
pub mod provider;
pub mod reason;
pub mod settings;
pub mod webhook;

use assistchat_edge_client::{EdgeClient, EdgeConfig, WebhookServer};
pub use provider::Telegram;

/// The settings of the `assistchat-edge-telegram` process.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "assistchat-edge-telegram", version, about)]
pub struct Config {
    /// Where core is and how to attach to it.
    #[command(flatten)]
    pub edge: EdgeConfig,

    /// The Telegram settings.
    #[command(flatten)]
    pub telegram: TelegramSettings,
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
    /// The edge these settings describe, attaching as `edge` says; in webhook mode its webhook
    /// server is bound now and served while the edge runs.
    pub async fn edge(&self, edge: &EdgeConfig) -> anyhow::Result<EdgeClient<Telegram>> {
        let Some(public_url) = self.telegram_public_url.as_deref().filter(|url| !url.is_empty()) else {
            return Ok(EdgeClient::new(edge, Telegram::new(&self.telegram_api_url)?)?);
        };
        let (provider, router) = Telegram::with_webhooks(&self.telegram_api_url, public_url)?;
        let server = WebhookServer::bind(&self.telegram_listen, "ASSISTCHAT_TELEGRAM_LISTEN", router).await?;
        tracing::info!(listen = %self.telegram_listen, public_url, "Telegram webhooks served");
        Ok(EdgeClient::new(edge, provider)?.with_webhooks(server))
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
        assert_eq!(config.edge.edge_token, token, "the edge client's setting, flattened");
        let shown = format!("{config:?}");
        assert!(!shown.contains(token), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("core_url"), "{shown}");
    }
}
