//! `assistchat-edge-telegram`: attaches to core and serves every Telegram resource core starts on
//! it, until stopped (Ctrl-C or SIGTERM).

use assistchat_edge_client::{EdgeClient, EdgeConfig};
use assistchat_edge_telegram::Config;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into())).init();
    let config = Config::parse();
    let provider = config.telegram.provider().await?;
    let edge = EdgeConfig { core_url: config.core_url, edge_token: config.edge_token, instance_id: config.instance_id };
    let client = EdgeClient::new(&edge, provider)?;
    tracing::info!(instance_id = client.instance_id(), "telegram edge starting");
    client.run_until(assistchat_edge_client::shutdown::requested()).await;
    Ok(())
}
