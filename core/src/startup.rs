//! Building the core server from its configuration and running it until told to stop.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use assistchat_proto::{
    FILE_DESCRIPTOR_SET,
    v1::{
        auth_service_server::AuthServiceServer, bot_service_server::BotServiceServer,
        conversation_service_server::ConversationServiceServer, edge_service_server::EdgeServiceServer,
        profile_service_server::ProfileServiceServer, qr_service_server::QrServiceServer,
        resource_service_server::ResourceServiceServer,
    },
};
use http::{HeaderName, HeaderValue, Request};
use tokio::net::TcpListener;
use tonic::transport::{Server, server::TcpIncoming};
use tonic_health::ServingStatus;
use tonic_reflection::server::{
    v1::{ServerReflection, ServerReflectionServer},
    v1alpha::{ServerReflection as AlphaReflection, ServerReflectionServer as AlphaReflectionServer},
};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    ai::AiClient,
    auth::{self, Accounts, identities::Identities, registration::RegistrationPolicy, service::AuthApi},
    bot::{manager::BotManager, service::BotApi},
    call_limits::{self, UnaryTimeoutLayer},
    config::{Config, redact_url},
    conversations::{self, Conversations, service::ConversationApi},
    crypto::{Keyring, SecretError, keyring::KeySource},
    edge::{EdgeApi, EdgeReach},
    error::Error,
    health,
    profile::{Profiles, own_data::OwnData, service::ProfileApi},
    providers::Registry,
    qr::service::QrApi,
    resources::{Resources, service::ResourceApi},
    rpc::TrustedProxies,
    store::{Store, StoreError},
};

/// The metadata key that carries a call's request id, taken from the caller when given.
pub const REQUEST_ID: &str = "x-request-id";
/// How long calls in flight may run on after a stop was asked for (container runtimes kill
/// after 10 s by default).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}; set ASSISTCHAT_DATA_DIR to a writable place")]
    DataDir {
        /// The directory.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The secret key is unusable.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}; set ASSISTCHAT_CORE_LISTEN to a free host:port")]
    Listen {
        /// The address.
        address: String,
        /// What failed.
        source: std::io::Error,
    },
    /// An edge credential is too short to be safe, or otherwise wrong; the text says which.
    #[error("edge credentials: {0}")]
    EdgeToken(String),
    /// An exception to the outbound policy is not a host, an IP address or a CIDR block.
    #[error("ASSISTCHAT_OUTBOUND_ALLOW: {0}")]
    OutboundAllow(String),
    /// A sign-in provider's configuration is incomplete or wrong.
    #[error("sign-in providers: {0}")]
    IdentityProviders(String),
    /// The registration policy is incomplete or wrong.
    #[error("registration: {0}")]
    Registration(String),
    /// The domain could not be set up.
    #[error("{0}")]
    Domain(#[from] Error),
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// A core server, bound and ready to serve.
pub struct Application {
    /// The bound listener.
    listener: TcpListener,
    /// The address it is bound to (with the real port when 0 was asked for).
    local_addr: SocketAddr,
    /// The storage, closed on shutdown.
    store: Store,
    /// The account domain, also swept for expired sessions.
    accounts: Arc<Accounts>,
    /// Sign-in with identity providers, also swept for expired sign-ins.
    identities: Arc<Identities>,
    /// The profile domain.
    profiles: Arc<Profiles>,
    /// The providers edges described.
    registry: Arc<Registry>,
    /// The resource domain.
    resources: Arc<Resources>,
    /// The bot manager.
    manager: BotManager,
    /// The conversation domain.
    conversations: Arc<Conversations>,
    /// The edge credentials accepted, with what each may act as.
    edge_credentials: Vec<(String, EdgeReach)>,
    /// The configuration.
    config: Config,
}

impl Application {
    /// Opens the database (migrating it), loads the keys and binds the listen address.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|source| StartError::DataDir { path: config.data_dir.display().to_string(), source })?;
        let edge_credentials = config.edge_credentials().map_err(StartError::EdgeToken)?;
        let identity_providers = config.identity_providers().map_err(StartError::IdentityProviders)?;
        let outbound = config.outbound().map_err(StartError::OutboundAllow)?;
        let registration = RegistrationPolicy::new(config.registration, &config.registration_domains)
            .map_err(StartError::Registration)?;
        let keyring = Arc::new(open_keyring(&config)?);
        let url = config.database_url();
        let store = Store::open(&url).await?;
        tracing::info!(database = %redact_url(&url), backend = ?store.backend(), "database ready");

        let accounts = Accounts::new(store.clone(), config.session_idle_timeout, config.session_lifetime)?;
        let accounts = Arc::new(accounts.with_registration(registration));
        let identities = Identities::new(accounts.clone(), store.clone(), identity_providers, &config.public_url)
            .map_err(StartError::IdentityProviders)?;
        let identities = Arc::new(identities);
        let platform_ai = config.platform_ai();
        let profiles = Arc::new(
            Profiles::new(store.clone(), keyring.clone(), platform_ai.clone()).with_outbound(outbound.clone()),
        );
        let registry = Arc::new(Registry::load(&store).await?);
        let resources = Arc::new(Resources::new(store.clone(), keyring, registry.clone()));
        // Edges come back within a few heartbeats of a restart; until then nothing is offline.
        let grace = config.edge_heartbeat * 3;
        let manager = BotManager::start(store.clone(), resources.clone(), registry.clone(), grace).await?;
        let settings = conversations::Settings {
            history_budget: config.history_token_budget,
            daily_quota: config.daily_token_quota,
            default_system_prompt: config.system_prompt.clone(),
            max_calls_per_user: usize::try_from(config.max_calls_per_user).unwrap_or(usize::MAX),
            model_titles: config.model_titles,
            managed_models: config.managed_models.iter().map(|model| model.trim().to_owned()).collect(),
        };
        let ai = AiClient::new(config.ai_deadline, config.ai_deadline / 2)
            .with_outbound(outbound, &platform_ai.base_url)
            .with_max_reply_tokens(config.max_reply_tokens);
        let conversations = Arc::new(Conversations::new(store.clone(), profiles.clone(), ai, settings));
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|source| StartError::Listen { address: config.listen.clone(), source })?;
        let local_addr =
            listener.local_addr().map_err(|source| StartError::Listen { address: config.listen.clone(), source })?;
        Ok(Self {
            listener,
            local_addr,
            store,
            accounts,
            identities,
            profiles,
            registry,
            resources,
            manager,
            conversations,
            edge_credentials,
            config,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets calls in flight finish and
    /// closes the database.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), StartError> {
        let (health, health_service) = tonic_health::server::health_reporter();
        // `build` opened and migrated the database: from the first call on, every service serves.
        health::report(&health, ServingStatus::Serving).await;
        let trusted = TrustedProxies::new(self.config.trusted_proxies.iter().copied());
        let auth_api = AuthApi::new(self.accounts.clone(), self.identities.clone(), trusted.clone());
        let qr_api = QrApi::new(self.config.qr_per_minute, trusted);
        let own_data = OwnData::new(
            self.store.clone(),
            self.accounts.clone(),
            self.profiles.clone(),
            self.conversations.clone(),
            self.manager.clone(),
        );
        let profile_api = ProfileApi::new(self.accounts.clone(), self.profiles.clone(), Arc::new(own_data));
        let resource_api = ResourceApi::new(
            self.accounts.clone(),
            self.resources.clone(),
            self.registry.clone(),
            self.manager.clone(),
            self.conversations.clone(),
        );
        let max_streams = usize::try_from(self.config.max_streams_per_user).unwrap_or(usize::MAX);
        let bot_api =
            BotApi::new(self.accounts.clone(), self.store.clone(), self.manager.clone(), self.conversations.clone())
                .with_max_streams_per_user(max_streams);
        let conversation_api = ConversationApi::new(self.accounts.clone(), self.conversations.clone(), max_streams);
        let edge_api = EdgeApi::new(
            &self.edge_credentials,
            self.config.edge_heartbeat,
            self.registry.clone(),
            self.store.clone(),
            self.manager.clone(),
            self.conversations.clone(),
        );
        let manager = self.manager.clone();

        let request_id = HeaderName::from_static(REQUEST_ID);
        let trace = TraceLayer::new_for_grpc()
            .make_span_with(|request: &Request<_>| {
                let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default();
                tracing::info_span!("rpc", method = %request.uri().path(), request_id = %id)
            })
            .on_response(DefaultOnResponse::new().level(Level::INFO));
        let layers = tower::ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
            .layer(trace)
            .layer(PropagateRequestIdLayer::new(request_id))
            .layer(cors(&self.config.cors_origins))
            .layer(tonic_web::GrpcWebLayer::new())
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(call_limits::MAX_CONCURRENT_CALLS))
            .layer(unary_timeouts(&self.config));

        let sweeper = tokio::spawn(sweep_sessions(self.accounts.clone(), self.identities.clone()));
        let stopping = Arc::new(tokio::sync::Notify::new());
        let stopping_seen = stopping.clone();
        tracing::info!(address = %self.local_addr, "core listening (gRPC, gRPC-web, health, reflection)");
        let served = Server::builder()
            .accept_http1(true)
            .max_concurrent_streams(self.config.max_streams_per_connection)
            .http2_keepalive_interval(Some(call_limits::KEEPALIVE_INTERVAL))
            .http2_keepalive_timeout(Some(call_limits::KEEPALIVE_TIMEOUT))
            .layer(layers)
            .add_service(health_service)
            .add_service(reflection_v1())
            .add_service(reflection_v1alpha())
            .add_service(AuthServiceServer::new(auth_api))
            .add_service(ProfileServiceServer::new(profile_api))
            .add_service(QrServiceServer::new(qr_api))
            .add_service(ResourceServiceServer::new(resource_api))
            .add_service(BotServiceServer::new(bot_api))
            .add_service(ConversationServiceServer::new(conversation_api))
            .add_service(EdgeServiceServer::new(edge_api))
            .serve_with_incoming_shutdown(incoming(self.listener), async {
                shutdown.await;
                tracing::info!("shutting down: finishing calls in flight");
                // Health checks see the stop at once, so balancers send no new calls.
                health::report(&health, ServingStatus::NotServing).await;
                // Edges' streams end now, so they reattach to whichever core comes next.
                manager.close().await;
                stopping.notify_one();
            });
        // Calls in flight get a grace period; long-lived streams must not hold the stop forever.
        let served = tokio::select! {
            served = served => served,
            () = async {
                stopping_seen.notified().await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {
                tracing::warn!(grace = ?SHUTDOWN_GRACE, "calls still in flight after the grace period; stopping anyway");
                Ok(())
            }
        };
        sweeper.abort();
        self.store.close().await;
        tracing::info!("core stopped");
        Ok(served?)
    }
}

/// Accepted connections with Nagle's algorithm off: a gRPC answer is written in several small
/// pieces, and waiting to batch them costs each call a delayed-ACK round (about 40 ms). TCP
/// keep-alive finds peers gone without a word where HTTP/2 pings cannot (gRPC-web).
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true)).with_keepalive(Some(call_limits::TCP_KEEPALIVE))
}

/// Timeouts for the unary calls of every service served here; their streams have none.
fn unary_timeouts(config: &Config) -> UnaryTimeoutLayer {
    let streaming = call_limits::streaming_methods(&[
        FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ]);
    UnaryTimeoutLayer::new(streaming, config.rpc_timeout, config.ai_deadline + config.rpc_timeout)
}

/// A reflection builder describing every contract (comments included) and the health service.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

/// Server reflection as `grpc.reflection.v1`.
fn reflection_v1() -> ServerReflectionServer<impl ServerReflection> {
    reflection().build_v1().expect("the embedded descriptor sets are valid")
}

/// The same for clients that only speak the older `grpc.reflection.v1alpha`.
fn reflection_v1alpha() -> AlphaReflectionServer<impl AlphaReflection> {
    reflection().build_v1alpha().expect("the embedded descriptor sets are valid")
}

fn open_keyring(config: &Config) -> Result<Keyring, SecretError> {
    let (keyring, source) =
        Keyring::load(config.secret_key.as_deref(), &config.previous_secret_keys, &config.data_dir)?;
    if source == KeySource::Generated {
        tracing::warn!(
            key_file = %config.data_dir.join(crate::crypto::keyring::KEY_FILE_NAME).display(),
            "no ASSISTCHAT_SECRET_KEY set: generated a secret key into the data directory; \
             back it up, since stored secrets cannot be opened without it"
        );
    }
    tracing::info!(key_id = keyring.current_key_id(), "secret key loaded");
    Ok(keyring)
}

/// CORS for gRPC-web from browsers: the configured origins, the headers gRPC-web needs.
fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|origin| HeaderValue::from_str(origin.trim()).ok()))
    };
    let header = HeaderName::from_static;
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([http::Method::POST, http::Method::OPTIONS])
        .allow_headers([
            header("authorization"),
            header("content-type"),
            header("x-grpc-web"),
            header("x-user-agent"),
            header("grpc-timeout"),
            header(REQUEST_ID),
        ])
        .expose_headers([
            header("grpc-status"),
            header("grpc-message"),
            header("grpc-status-details-bin"),
            header(REQUEST_ID),
        ])
}

async fn sweep_sessions(accounts: Arc<Accounts>, identities: Arc<Identities>) {
    let mut ticks = tokio::time::interval(auth::SWEEP_INTERVAL);
    loop {
        ticks.tick().await;
        match identities.sweep_expired().await {
            Ok(0) => {}
            Ok(swept) => tracing::info!(swept, "expired sign-ins deleted"),
            Err(err) => tracing::warn!(error = %err, "sweeping expired sign-ins failed"),
        }
        match accounts.sweep_expired_sessions().await {
            Ok(0) => {}
            Ok(swept) => tracing::info!(swept, "expired sessions deleted"),
            Err(err) => tracing::warn!(error = %err, "sweeping expired sessions failed"),
        }
    }
}
