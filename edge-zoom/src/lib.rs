//! The Zoom Team Chat provider edge: a separate process that attaches to core as provider `zoom`
//! and answers in users' Zoom chatbots, many chatbots in one process, each its own task.
//!
//! Zoom posts what people write to a chatbot to a webhook, so this edge runs one HTTP server
//! whose paths are the running resources' (`/zoom/<resource id>`).
//!
//! Layout: [`provider`] checks a chatbot's client id and secret and serves it; [`webhook`] takes
//! Zoom's posts, checked by [`signature`], and hands each [`event`] to [`chatbot`], which answers
//! it through core and sends the reply with [`messages`], using the chatbot token [`token`]
//! keeps; [`format`] writes the reply in Zoom's Markdown and cuts a long one. [`settings`] is a resource's settings schema. What every chatbot channel shares (the
//! credential check, the turn of a chatbot, webhooks) is `assistchat-edge-client`'s.

pub mod chatbot;
pub mod event;
pub mod format;
pub mod messages;
pub mod provider;
pub mod reason;
pub mod settings;
pub mod signature;
pub mod token;
pub mod webhook;

use assistchat_edge_client::{EdgeClient, EdgeConfig, WebhookServer};
pub use provider::Zoom;

/// The settings of the `assistchat-edge-zoom` process.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "assistchat-edge-zoom", version, about)]
pub struct Config {
    /// Where core is and how to attach to it.
    #[command(flatten)]
    pub edge: EdgeConfig,

    /// The Zoom settings.
    #[command(flatten)]
    pub zoom: ZoomSettings,
}

/// This edge's own settings, beside the edge client's.
#[derive(Clone, Debug, clap::Args)]
pub struct ZoomSettings {
    /// Zoom's OAuth server, where chatbot tokens come from.
    #[arg(long, env = "ASSISTCHAT_ZOOM_OAUTH_URL", default_value = "https://zoom.us")]
    pub zoom_oauth_url: String,

    /// Zoom's API, where chatbot messages are sent.
    #[arg(long, env = "ASSISTCHAT_ZOOM_API_URL", default_value = "https://api.zoom.us")]
    pub zoom_api_url: String,

    /// The public https base URL at which Zoom reaches this edge's webhook server; unset means
    /// http://<ASSISTCHAT_ZOOM_LISTEN>, which Zoom can reach only through a proxy of your own.
    #[arg(long, env = "ASSISTCHAT_ZOOM_PUBLIC_URL")]
    pub zoom_public_url: Option<String>,

    /// host:port the webhook server listens on, behind the public URL.
    #[arg(long, env = "ASSISTCHAT_ZOOM_LISTEN", default_value = "127.0.0.1:8091")]
    pub zoom_listen: String,
}

impl ZoomSettings {
    /// The edge these settings describe, attaching as `edge` says, with its webhook server bound
    /// now and served while the edge runs.
    pub async fn edge(&self, edge: &EdgeConfig) -> anyhow::Result<EdgeClient<Zoom>> {
        let public_url = match self.zoom_public_url.as_deref().filter(|url| !url.is_empty()) {
            Some(url) => url.to_owned(),
            None => format!("http://{}", self.zoom_listen),
        };
        let (provider, router) = Zoom::new(&self.zoom_oauth_url, &self.zoom_api_url, &public_url)?;
        let server = WebhookServer::bind(&self.zoom_listen, "ASSISTCHAT_ZOOM_LISTEN", router).await?;
        tracing::info!(listen = %self.zoom_listen, public_url, "Zoom webhooks served");
        Ok(EdgeClient::new(edge, provider)?.with_webhooks(server))
    }
}
