//! AssistChat's web edge: the HTML pages people use and the JSON API browser scripts call.
//!
//! It keeps no state and never opens the database: every page and API call becomes gRPC calls
//! to core, carrying the caller's session (from an HttpOnly cookie) or bearer token, the HTTP
//! request's id and the browser's address.
//!
//! Layers, each importing only those above it in this list:
//! - [`config`], [`i18n`] (the message catalogue) and [`error`] (what went wrong, in one type);
//! - [`core_client`]: the calls to core that pages and the API share, and [`state`], what every
//!   handler holds;
//! - [`view`]: what pages and the API show, as HTML or JSON: times, states, resources, the form
//!   of a provider's settings, the page frame;
//! - [`http`]: who is asking, the CSRF guard, the headers every response gets, and errors
//!   answered as pages or JSON;
//! - [`pages`] (HTML with maud) and [`api`] (JSON), which never import each other;
//! - this module, which puts the router together, with `/healthz` and `/readyz`; [`cli`], the
//!   binary's command line, serving or asking a running edge whether it is ready.

/// Writes `Debug` for a struct holding a secret: the fields before `;` are shown, those after
/// it (passwords, keys, session and CSRF tokens) only as `<redacted>`, so that no log line or
/// panic message can carry them.
macro_rules! redacted_debug {
    ($type:ident { $($shown:ident),* ; $($hidden:ident),+ }) => {
        impl std::fmt::Debug for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($type))
                    $(.field(stringify!($shown), &self.$shown))*
                    $(.field(stringify!($hidden), &"<redacted>"))+
                    .finish()
            }
        }
    };
}

pub mod api;
pub mod cli;
pub mod config;
pub mod core_client;
pub mod error;
pub mod http;
pub mod i18n;
pub mod pages;
pub mod state;
pub mod static_files;
pub mod view;

use std::{future::Future, net::SocketAddr, sync::Arc};

pub use crate::http::body::MAX_BODY_BYTES;
use crate::http::{security, visitor};
use axum::{
    Router,
    extract::{DefaultBodyLimit, Request, State},
    http::{HeaderName, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
pub use config::Config;
use core_client::Core;
pub use state::AppState;
use tokio::net::TcpListener;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

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
}

/// The whole router: pages, API, static files, 404s, and the layers every response passes,
/// with every body limited to [`MAX_BODY_BYTES`] unless its route says otherwise.
pub fn app(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
            tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id = %id)
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    Router::new()
        .merge(pages::routes(state.clone()))
        .merge(api::routes())
        .route("/static/{*path}", get(static_files::serve))
        .route("/healthz", get(|| async { "ok" }))
        .route(READY_PATH, get(ready))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(security::cross_site_check))
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::headers))
        .with_state(state)
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(trace)
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// The path of readiness: 200 only while core answers, where `/healthz` says only that this
/// process serves.
pub const READY_PATH: &str = "/readyz";

/// `GET /readyz`: 200 while core answers its health check as serving; 503 with why not, in plain
/// text, so that a balancer or a container's health check sends nobody to an edge whose core
/// is away.
async fn ready(State(state): State<AppState>) -> Response {
    match state.core.ready().await {
        Ok(()) => "ready".into_response(),
        Err(why) => {
            tracing::warn!(reason = %why, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, why).into_response()
        }
    }
}

async fn not_found(visitor: visitor::Visitor) -> Response {
    view::layout::error_page(visitor.lang, &error::AppError::NotFound)
}

/// A web edge, bound and ready to serve.
pub struct Application {
    /// The bound listener.
    listener: TcpListener,
    /// Its address.
    local_addr: SocketAddr,
    /// The router.
    router: Router,
    /// The limits every connection is held to.
    limits: assistchat_http::Limits,
}

impl Application {
    /// Binds the listen address and prepares the (lazy) channel to core.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let core = Core::connect_lazy(&config.core_url)?;
        let listen_error = |source| StartError::Listen { address: config.web_listen.clone(), source };
        let listener = TcpListener::bind(&config.web_listen).await.map_err(listen_error)?;
        let local_addr = listener.local_addr().map_err(listen_error)?;
        let router = app(AppState { core, config: Arc::new(config) });
        Ok(Self { listener, local_addr, router, limits: assistchat_http::Limits::default() })
    }

    /// The same edge holding its connections to `limits` instead of the defaults (tests use
    /// short timeouts).
    pub fn with_limits(mut self, limits: assistchat_http::Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, letting requests in flight finish; every connection
    /// is held to the limits of [`assistchat_http`] and carries the browser's address.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        tracing::info!(address = %self.local_addr, "web edge listening");
        assistchat_http::serve(self.listener, self.router, self.limits, shutdown).await;
        tracing::info!("web edge stopped");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::view::json::{ApiToken, NewApiToken, SignedIn, User};

    #[test]
    fn the_answers_carrying_a_token_never_show_it_in_debug_output() {
        let user = User {
            id: "u-1".into(),
            email: "ann@example.com".into(),
            display_name: "Ann".into(),
            language_code: "en".into(),
        };
        let signed_in = SignedIn { user, csrf_token: "csrf-secret-value-77".into() };
        let api_token =
            ApiToken { id: "t-1".into(), name: "ci".into(), create_time: None, last_use_time: None, expire_time: None };
        let created = NewApiToken { api_token, token: "act_secret-api-token-88".into() };
        for (shown, visible) in [(format!("{signed_in:?}"), "ann@example.com"), (format!("{created:#?}"), "\"ci\"")] {
            assert!(!shown.contains("secret") && shown.contains("<redacted>"), "{shown}");
            assert!(shown.contains(visible), "{shown}");
        }
    }
}
