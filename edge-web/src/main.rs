//! The `assistchat-edge-web` binary: parses the command line ([`assistchat_edge_web::cli`]) and
//! serves the web edge, or asks the running one whether it is ready.

use anyhow::Context;
use assistchat_edge_web::{
    Application,
    cli::{Cli, Command, healthcheck},
};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Healthcheck(args)) = &cli.command {
        if let Err(why) = healthcheck(&cli.config, args).await {
            eprintln!("not ready: {why}");
            std::process::exit(1);
        }
        return Ok(());
    }
    tracing_subscriber::fmt().with_target(false).init();
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
