//! The Telegram provider edge: a separate process that attaches to core as provider `telegram`
//! and answers in users' Telegram bots, many bots in one process, each its own task.
//!
//! Layout: [`provider`] checks a bot's token and hands it to [`polling`], which receives updates
//! with its own offset and answers through core; [`settings`] is a resource's settings schema,
//! [`split`] cuts long replies, [`words`] is what the bot says by itself.

pub mod polling;
pub mod provider;
pub mod settings;
pub mod split;
pub mod words;

pub use provider::Telegram;

/// The settings of the `assistchat-edge-telegram` process.
#[derive(Clone, Debug, clap::Parser)]
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

/// This edge's own settings, beside the edge client's.
#[derive(Clone, Debug, clap::Args)]
pub struct TelegramSettings {
    /// Telegram's Bot API, or a self-hosted Bot API server.
    #[arg(long, env = "ASSISTCHAT_TELEGRAM_API_URL", default_value = "https://api.telegram.org")]
    pub telegram_api_url: String,
}
