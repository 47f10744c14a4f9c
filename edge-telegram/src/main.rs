//! The Telegram provider edge: a separate process, a gRPC client of core. For now it connects to core and reports whether core is serving.

use anyhow::Context;
use clap::Parser;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

/// Settings of this edge.
#[derive(Parser)]
#[command(version, about)]
struct Config {
    /// The core's gRPC address.
    #[arg(long, env = "ASSISTCHAT_CORE_URL", default_value = "http://127.0.0.1:50051")]
    core_url: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_target(false).init();
    let config = Config::parse();
    let channel = tonic::transport::Endpoint::from_shared(config.core_url.clone())
        .context("ASSISTCHAT_CORE_URL is not a URL such as http://127.0.0.1:50051")?
        .connect()
        .await
        .with_context(|| format!("cannot reach core at {}; start it first", config.core_url))?;
    let status = HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await?.into_inner();
    let serving = status.status() == ServingStatus::Serving;
    tracing::info!(core = %config.core_url, serving, "connected to core");
    anyhow::ensure!(serving, "core at {} answers but is not serving", config.core_url);
    Ok(())
}
