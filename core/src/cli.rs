//! The command line of the `assistchat-core` binary: its settings and what it does with them.
//! It lives here rather than in `main.rs` so that tests can read it (every command a compose
//! file runs exists).

use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::Config;

/// AssistChat core: every gRPC service, all state and all rules.
#[derive(Parser)]
#[command(name = "assistchat-core", version, about)]
pub struct Cli {
    /// The settings.
    #[command(flatten)]
    pub config: Config,
    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What the binary does.
#[derive(Subcommand)]
pub enum Command {
    /// Serve gRPC, gRPC-web, health and reflection (the default).
    Serve,
    /// Ask the core listening on ASSISTCHAT_CORE_LISTEN on this machine whether it serves (its
    /// grpc.health.v1 check), for container health checks: exits 0 when it does, 1 with why not.
    Healthcheck {
        /// How long to wait for the answer, connecting included (such as `3s`, the default).
        #[arg(long, value_parser = humantime::parse_duration)]
        timeout: Option<Duration>,
    },
    /// Re-seal every stored secret under the current ASSISTCHAT_SECRET_KEY. Keep the old key in
    /// ASSISTCHAT_PREVIOUS_SECRET_KEYS until this has run.
    RotateSecrets,
    /// Manage accounts (for a server whose ASSISTCHAT_REGISTRATION is `closed` or `domains`).
    Users {
        /// What to do with accounts.
        #[command(subcommand)]
        command: UsersCommand,
    },
}

/// What `users` does.
#[derive(Subcommand)]
pub enum UsersCommand {
    /// Make an account for EMAIL, whatever the registration policy, and print a one-time
    /// sign-in link to give its owner, who opens it and sets a password in Profile.
    Create {
        /// The account's email.
        email: String,
        /// The name shown for the account; the email's part before @ when not given.
        #[arg(long)]
        name: Option<String>,
    },
    /// Print a new one-time sign-in link for the existing account EMAIL (when the first expired,
    /// or its owner lost every way in).
    SignInLink {
        /// The account's email.
        email: String,
    },
}
