//! The `assistchat-edge-web` binary: parses the configuration and serves the web edge.

use anyhow::Context;
use assistchat_edge_web::{Application, Config};
use clap::Parser;

/// AssistChat's web edge: HTML pages and JSON API over core's gRPC services.
#[derive(Parser)]
#[command(name = "assistchat-edge-web", version, about)]
struct Cli {
    /// The settings.
    #[command(flatten)]
    config: Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_target(false).init();
    let cli = Cli::parse();
    let app = Application::build(cli.config).await.context("web edge could not start")?;
    println!("AssistChat web: open http://{}/", app.local_addr());
    app.run_until_stopped(shutdown_signal()).await.context("web edge stopped with an error")
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        Some(()) = async { terminate.as_mut()?.recv().await } => {},
    }
}
