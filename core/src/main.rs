//! The `assistchat-core` binary: parses the configuration and runs the core.

use anyhow::Context;
use assistchat_core::{Application, Config, crypto::Keyring, rotation, store::Store, telemetry};
use clap::{Parser, Subcommand};

/// AssistChat core: every gRPC service, all state and all rules.
#[derive(Parser)]
#[command(name = "assistchat-core", version, about)]
struct Cli {
    /// The settings.
    #[command(flatten)]
    config: Config,
    /// What to do; serving is the default.
    #[command(subcommand)]
    command: Option<Command>,
}

/// What the binary does.
#[derive(Subcommand)]
enum Command {
    /// Serve gRPC, gRPC-web, health and reflection (the default).
    Serve,
    /// Re-seal every stored secret under the current ASSISTCHAT_SECRET_KEY. Keep the old key in
    /// ASSISTCHAT_PREVIOUS_SECRET_KEYS until this has run.
    RotateSecrets,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(cli.config).await.context("core could not start")?;
            println!("AssistChat core listening on {} (gRPC and gRPC-web)", app.local_addr());
            app.run_until_stopped(shutdown_signal()).await.context("core stopped with an error")?;
        }
        Command::RotateSecrets => {
            let config = cli.config;
            let key = config.secret_key.as_deref().context(
                "set ASSISTCHAT_SECRET_KEY to the new key and ASSISTCHAT_PREVIOUS_SECRET_KEYS to the old one",
            )?;
            let keyring = Keyring::from_keys(key, &config.previous_secret_keys)?;
            let store = Store::open(&config.database_url()).await?;
            let report = rotation::reseal_all(&store, &keyring).await?;
            store.close().await;
            println!(
                "re-sealed {} secrets under key {} ({} were current already); the previous keys may now be removed",
                report.resealed,
                keyring.current_key_id(),
                report.current
            );
        }
    }
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
