//! The `assistchat-core` binary: parses the command line ([`assistchat_core::cli`]) and runs the
//! core, or one of its commands.

use anyhow::Context;
use assistchat_core::{
    Application,
    auth::Accounts,
    cli::{Cli, Command, UsersCommand},
    crypto::Keyring,
    health, rotation,
    store::Store,
    telemetry,
};
use clap::Parser;

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
        Command::Healthcheck { timeout } => {
            if let Err(why) = health::probe(&cli.config.listen, timeout.unwrap_or(health::PROBE_TIMEOUT)).await {
                eprintln!("not serving: {why}");
                std::process::exit(1);
            }
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
        Command::Users { command: UsersCommand::Create { email, name } } => {
            let config = cli.config;
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
            let store = Store::open(&config.database_url()).await?;
            let accounts = Accounts::new(store.clone(), config.session_idle_timeout, config.session_lifetime)?;
            let name = name.unwrap_or_else(|| email.trim().split('@').next().unwrap_or_default().to_owned());
            let made = accounts.create_by_operator(&email, &name).await;
            store.close().await;
            let (user, link) = made.with_context(|| format!("no account was made for {email:?}"))?;
            let hours = assistchat_core::auth::SIGN_IN_LINK_LIFETIME.as_secs() / 3600;
            println!("Made the account {} (id {}).", user.email, user.id);
            println!("One-time sign-in link: {}/welcome?token={}", config.public_url.trim_end_matches('/'), link.token);
            println!(
                "Give the link to the account's owner: it signs them in once, within {hours} hours, and takes them \
                 to Profile to set their password. If it expires, make a new one with `assistchat-core users \
                 sign-in-link {}`.",
                user.email
            );
        }
        Command::Users { command: UsersCommand::SignInLink { email } } => {
            let config = cli.config;
            let store = Store::open(&config.database_url()).await?;
            let accounts = Accounts::new(store.clone(), config.session_idle_timeout, config.session_lifetime)?;
            let made = accounts.sign_in_link_for(&email).await;
            store.close().await;
            let link = made.with_context(|| format!("no sign-in link was made for {email:?}"))?;
            let hours = assistchat_core::auth::SIGN_IN_LINK_LIFETIME.as_secs() / 3600;
            println!("One-time sign-in link: {}/welcome?token={}", config.public_url.trim_end_matches('/'), link.token);
            println!(
                "It signs the account's owner in once, within {hours} hours; earlier links still work until used."
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
