//! The command line of the `assistchat-edge-web` binary: its settings, and serving (the
//! default) or asking the edge running on this machine whether it is ready. It lives here rather
//! than in `main.rs` so that tests can read it, and so that the one-command platform's
//! `healthcheck` is this one.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::{READY_PATH, config::Config};

/// How long `healthcheck` waits for `/readyz` when not told otherwise: longer than the edge
/// waits for core ([`crate::core_client::READY_TIMEOUT`]), so that its answer arrives.
pub const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// AssistChat's web edge: HTML pages and JSON API over core's gRPC services.
#[derive(Parser)]
#[command(name = "assistchat-edge-web", version, about)]
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
    /// Serve the pages and the JSON API (the default).
    Serve,
    /// Ask the web edge listening on ASSISTCHAT_WEB_LISTEN on this machine whether it is ready
    /// (its /readyz answers 200, which it does only while core answers), for container health
    /// checks: exits 0 when it is, 1 with why not.
    Healthcheck(HealthcheckArgs),
}

/// The options of `healthcheck`.
#[derive(Args, Clone, Debug, Default)]
pub struct HealthcheckArgs {
    /// How long to wait for the answer, connecting included (such as `3s`, the default).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,
}

/// Whether the web edge listening on `config.web_listen` on this machine is ready: `Ok` when its
/// `/readyz` answers 200 within the timeout of `args`, else why not.
pub async fn healthcheck(config: &Config, args: &HealthcheckArgs) -> Result<(), String> {
    assistchat_http::probe(&config.web_listen, READY_PATH, args.timeout.unwrap_or(HEALTHCHECK_TIMEOUT)).await
}
