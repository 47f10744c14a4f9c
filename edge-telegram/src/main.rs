//! `assistchat-edge-telegram`: attaches to core and serves every Telegram resource core starts on
//! it, until stopped (Ctrl-C or SIGTERM).

use assistchat_edge_client::{EdgeClient, EdgeConfig};
use assistchat_edge_telegram::Telegram;
use clap::Parser;

/// Settings of this edge.
#[derive(Parser)]
#[command(version, about)]
struct Config {
    /// Core's gRPC address.
    #[arg(long, env = "ASSISTCHAT_CORE_URL", default_value = "http://127.0.0.1:50051")]
    core_url: String,

    /// The credential edges attach with: the same as core's.
    #[arg(long, env = "ASSISTCHAT_EDGE_TOKEN", hide_env_values = true)]
    edge_token: String,

    /// This instance's id, stable across restarts of the same instance; a random one by default.
    #[arg(long, env = "ASSISTCHAT_EDGE_INSTANCE_ID")]
    instance_id: Option<String>,

    /// Telegram's Bot API, or a self-hosted Bot API server.
    #[arg(long, env = "ASSISTCHAT_TELEGRAM_API_URL", default_value = "https://api.telegram.org")]
    telegram_api_url: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into())).init();
    let config = Config::parse();
    let provider = Telegram::new(&config.telegram_api_url)?;
    let edge = EdgeConfig { core_url: config.core_url, edge_token: config.edge_token, instance_id: config.instance_id };
    let client = EdgeClient::new(&edge, provider)?;
    tracing::info!(instance_id = client.instance_id(), "telegram edge starting");
    client.run_until(shutdown()).await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signals");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
