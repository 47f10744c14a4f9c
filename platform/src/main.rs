//! `assistchat`: the whole platform in one process, for a first start with no set-up: core on an
//! SQLite file in the data directory, the web edge, the Telegram edge and the Zoom edge, talking
//! gRPC over loopback exactly as they do as separate processes; `assistchat healthcheck` asks the
//! running one whether it is ready.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::Context;
use assistchat_core::telemetry;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, parser::ValueSource};
use tokio::sync::watch;

/// AssistChat: core, the web edge, the Telegram edge and the Zoom edge in one process.
#[derive(Parser)]
#[command(name = "assistchat", version, about)]
struct Cli {
    /// Core's settings.
    #[command(flatten)]
    core: assistchat_core::Config,
    /// The web edge's settings; its core URL is ignored, since core runs here.
    #[command(flatten)]
    web: assistchat_edge_web::Config,
    /// The Telegram edge's settings.
    #[command(flatten)]
    telegram: assistchat_edge_telegram::TelegramSettings,
    /// The Zoom edge's settings.
    #[command(flatten)]
    zoom: assistchat_edge_zoom::ZoomSettings,
    /// What to do; running the platform is the default.
    #[command(subcommand)]
    command: Option<Command>,
}

/// What the binary does.
#[derive(Subcommand)]
enum Command {
    /// Run the platform (the default).
    Run,
    /// Ask the platform running on this machine whether it is ready: its web edge's /readyz on
    /// ASSISTCHAT_WEB_LISTEN answers 200, which it does only while core answers too. For the
    /// container's health check: exits 0 when it is, 1 with why not.
    Healthcheck(assistchat_edge_web::cli::HealthcheckArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let matches = Cli::command().get_matches();
    let Cli { mut core, mut web, telegram, zoom, command } =
        Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    if let Some(Command::Healthcheck(args)) = &command {
        if let Err(why) = assistchat_edge_web::cli::healthcheck(&web, args).await {
            eprintln!("not ready: {why}");
            std::process::exit(1);
        }
        return Ok(());
    }
    telemetry::init(core.log_format);
    // Sign-in providers send browsers back to the web edge: here, where it listens, unless the
    // public address was set.
    if matches.value_source("public_url") == Some(ValueSource::DefaultValue) {
        core.public_url = format!("http://{}", web.web_listen.replace("0.0.0.0", "127.0.0.1"));
    }
    // The web edge calls core from loopback on behalf of browsers: believe its forwarded address
    // (the browser's, which it found behind the proxies of ASSISTCHAT_TRUSTED_PROXIES, if any).
    for loopback in [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)] {
        if !core.trusted_proxies.iter().any(|proxy| proxy.contains(&loopback)) {
            core.trusted_proxies.push(loopback.into());
        }
    }
    // Each edge here attaches with a credential of its own provider, made by this process unless
    // one is set, so that none of them can act as another.
    let mut edge_token = |provider: &str| {
        let variable = format!("{}{}", assistchat_core::config::EDGE_TOKEN_PREFIX, provider.to_uppercase());
        match std::env::var(&variable).ok().filter(|token| !token.trim().is_empty()) {
            Some(token) => token.trim().to_owned(),
            None => core.provider_edge_tokens.entry(provider.into()).or_insert_with(random_credential).clone(),
        }
    };
    let telegram_token = edge_token("telegram");
    let zoom_token = edge_token("zoom");
    let core_app = assistchat_core::Application::build(core).await.context("core could not start")?;
    // Core may listen on every interface (in a container); its neighbours here reach it on
    // loopback, which it trusts.
    let core_url = format!("http://{}", assistchat_http::local_address(&core_app.local_addr().to_string()));
    web.core_url = core_url.clone();
    let web_app = assistchat_edge_web::Application::build(web).await.context("web edge could not start")?;
    let web_url = format!("http://{}/", assistchat_http::local_address(&web_app.local_addr().to_string()));
    println!("AssistChat is running: open {web_url} (core gRPC on {})", core_app.local_addr());

    let (stop, stopped) = watch::channel(false);
    let wait = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let edge = |instance: &str, edge_token: &str| assistchat_edge_client::EdgeConfig {
        core_url: core_url.clone(),
        edge_token: edge_token.to_owned(),
        instance_id: Some(instance.into()),
    };
    let telegram_edge = telegram.edge(&edge("telegram-builtin", &telegram_token)).await?;
    // Zoom posts to this edge's own web server: a port taken by something else costs the Zoom
    // channel only, not the platform.
    let zoom_edge = match zoom.edge(&edge("zoom-builtin", &zoom_token)).await {
        Ok(edge) => Some(edge),
        Err(err) => {
            tracing::warn!(error = %err, "the Zoom edge did not start; Zoom chatbots stay offline");
            None
        }
    };
    let core_task = tokio::spawn(core_app.run_until_stopped(wait(stopped.clone())));
    let telegram_task = tokio::spawn(telegram_edge.run_until(wait(stopped.clone())));
    let zoom_task = zoom_edge.map(|edge| tokio::spawn(edge.run_until(wait(stopped.clone()))));
    let web_task = tokio::spawn(web_app.run_until_stopped(wait(stopped)));
    shutdown_signal().await;
    let _ = stop.send(true);
    web_task.await?.context("web edge stopped with an error")?;
    telegram_task.await?;
    if let Some(zoom_task) = zoom_task {
        zoom_task.await?;
    }
    core_task.await?.context("core stopped with an error")?;
    Ok(())
}

/// A fresh edge credential: 32 random bytes in hex.
fn random_credential() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the system's random source works");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        Some(()) = async { terminate.as_mut()?.recv().await } => {},
    }
}
