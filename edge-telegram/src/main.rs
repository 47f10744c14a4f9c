//! `assistchat-edge-telegram`: attaches to core and serves every Telegram resource core starts on
//! it, until stopped (Ctrl-C or SIGTERM).

use assistchat_edge_telegram::Config;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into())).init();
    let config = Config::parse();
    let client = config.telegram.edge(&config.edge).await?;
    tracing::info!(instance_id = client.instance_id(), "telegram edge starting");
    client.run_until(assistchat_edge_client::shutdown::requested()).await;
    Ok(())
}
