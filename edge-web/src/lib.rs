//! AssistChat's web edge: the HTML pages people use and the JSON API browser scripts call.
//!
//! It keeps no state and never opens the database: every page and API call becomes gRPC calls
//! to core, carrying the caller's session (from an HttpOnly cookie) or bearer token, the HTTP
//! request's id and the browser's address.
//!
//! Layout: [`pages`] renders HTML with maud; [`api`] is the JSON API; [`qr`] is the QR tool's
//! form, which both serve; [`resource`] and [`schema`] turn resources and their settings into
//! what both show and read back; [`chat`] does the same for the browser chat's messages;
//! [`visitor`] reads who is asking and guards changes against CSRF; [`i18n`] holds the message
//! catalogue; [`security`] adds the headers and the cross-site check every response gets.

pub mod api;
pub mod chat;
pub mod config;
pub mod core_client;
pub mod error;
pub mod i18n;
pub mod pages;
pub mod qr;
pub mod resource;
pub mod schema;
pub mod security;
pub mod static_files;
pub mod visitor;

use std::{future::Future, net::SocketAddr, sync::Arc};

use axum::{Router, extract::Request, http::HeaderName, response::Response, routing::get, serve::ListenerExt};
pub use config::Config;
use core_client::Core;
use tokio::net::TcpListener;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Clients of core.
    pub core: Core,
    /// The settings.
    pub config: Arc<Config>,
}

/// Why the web edge could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `ASSISTCHAT_CORE_URL` is not a URL.
    #[error("ASSISTCHAT_CORE_URL is not a URL such as http://127.0.0.1:50051: {0}")]
    CoreUrl(#[from] tonic::transport::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}; set ASSISTCHAT_WEB_LISTEN to a free host:port")]
    Listen {
        /// The address.
        address: String,
        /// What failed.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("web server: {0}")]
    Serve(std::io::Error),
}

/// The whole router: pages, API, static files, 404s, and the layers every response passes.
pub fn app(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
            tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id = %id)
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    Router::new()
        .merge(pages::routes())
        .merge(api::routes())
        .route("/static/{*path}", get(static_files::serve))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn(security::cross_site_check))
        .layer(axum::middleware::from_fn(security::headers))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(trace)
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

async fn not_found(visitor: visitor::Visitor) -> Response {
    pages::layout::error_page(visitor.lang, &error::AppError::NotFound)
}

/// A web edge, bound and ready to serve.
pub struct Application {
    /// The bound listener.
    listener: TcpListener,
    /// Its address.
    local_addr: SocketAddr,
    /// The router.
    router: Router,
}

impl Application {
    /// Binds the listen address and prepares the (lazy) channel to core.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let core = Core::connect_lazy(&config.core_url)?;
        let listen_error = |source| StartError::Listen { address: config.web_listen.clone(), source };
        let listener = TcpListener::bind(&config.web_listen).await.map_err(listen_error)?;
        let local_addr = listener.local_addr().map_err(listen_error)?;
        let router = app(AppState { core, config: Arc::new(config) });
        Ok(Self { listener, local_addr, router })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, letting requests in flight finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        tracing::info!(address = %self.local_addr, "web edge listening");
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        // Nagle's algorithm would hold small answers back for a delayed ACK (about 40 ms).
        let listener = self.listener.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
        axum::serve(listener, service).with_graceful_shutdown(shutdown).await.map_err(StartError::Serve)?;
        tracing::info!("web edge stopped");
        Ok(())
    }
}
