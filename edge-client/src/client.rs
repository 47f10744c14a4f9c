//! The attach loop: one stream to core at a time, each resource a task, and a fresh attach
//! after backoff whenever the stream breaks.

use std::{collections::HashMap, future::Future, sync::Arc, time::Duration};

use assistchat_proto::v1::{
    AttachRequest, EdgeHeartbeat, EdgeHello, EdgeResourceState, ResourceReport, attach_request, attach_response::Kind,
};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
    time::Instant,
};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Status, metadata::MetadataValue, transport::Endpoint};

use crate::{
    backoff::Backoff,
    config::EdgeConfig,
    provider::{CoreCalls, Provider, ResourceStart, Session},
    webhooks::WebhookServer,
};

/// How long a resource may take to stop before its task is ended.
const STOP_WAIT: Duration = Duration::from_secs(2);
/// How long core may take to welcome an attach.
const WELCOME_WAIT: Duration = Duration::from_secs(10);

/// Why the client could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// ASSISTCHAT_CORE_URL is not a URL.
    #[error("ASSISTCHAT_CORE_URL is not a URL such as http://127.0.0.1:50051: {0}")]
    CoreUrl(#[from] tonic::transport::Error),
    /// The credential cannot be sent as metadata.
    #[error("ASSISTCHAT_EDGE_TOKEN must be printable ASCII")]
    Token,
}

/// A provider edge's connection to core.
pub struct EdgeClient<P> {
    /// The provider's code.
    provider: Arc<P>,
    /// This instance's id.
    instance_id: String,
    /// Core, with the credential.
    core: CoreCalls,
    /// Whether a stream to core is open and welcomed now.
    attached: watch::Sender<bool>,
    /// The webhook server, served while the client runs.
    webhooks: Option<WebhookServer>,
}

/// How one attach ended.
enum Ended {
    /// The edge is shutting down.
    Shutdown,
    /// The stream broke; attach again.
    Broken(String),
}

/// A resource's task.
struct Running {
    generation: i64,
    cancel: CancellationToken,
    handle: JoinHandle<()>,
}

impl Running {
    /// Tells the task to stop and waits for it (ending it after [`STOP_WAIT`]).
    async fn finish(self) {
        self.cancel.cancel();
        let abort = self.handle.abort_handle();
        if tokio::time::timeout(STOP_WAIT, self.handle).await.is_err() {
            tracing::warn!("a resource did not stop within {STOP_WAIT:?}; its task was ended");
            abort.abort();
        }
    }
}

impl<P: Provider> EdgeClient<P> {
    /// A client of the core `config` names, running `provider`'s resources.
    pub fn new(config: &EdgeConfig, provider: P) -> Result<Self, ClientError> {
        let channel = Endpoint::from_shared(config.core_url.clone())?
            .connect_timeout(Duration::from_secs(3))
            .tcp_nodelay(true)
            .connect_lazy();
        let authorization =
            MetadataValue::try_from(format!("Bearer {}", config.edge_token)).map_err(|_| ClientError::Token)?;
        let hello = provider.hello();
        let instance_id = config.instance_id.clone().unwrap_or_else(|| {
            format!("{}-{}", hello.name, uuid::Uuid::new_v4().simple().to_string().get(..12).unwrap_or_default())
        });
        Ok(Self {
            provider: Arc::new(provider),
            instance_id,
            core: CoreCalls { channel, authorization },
            attached: watch::Sender::new(false),
            webhooks: None,
        })
    }

    /// The same client serving `server` while it runs, and stopping it once every resource has
    /// stopped.
    pub fn with_webhooks(mut self, server: WebhookServer) -> Self {
        self.webhooks = Some(server);
        self
    }

    /// This instance's id.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// Whether the edge is attached to core now, as it changes (for health checks, say).
    pub fn attached(&self) -> watch::Receiver<bool> {
        self.attached.subscribe()
    }

    /// Attaches and serves until `shutdown` completes, attaching again whenever the stream
    /// breaks. On shutdown every resource is stopped first, then the webhook server, letting
    /// the requests in flight finish.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) {
        let stop = CancellationToken::new();
        let server = self.webhooks.take().map(|server| tokio::spawn(server.serve(stop.clone().cancelled_owned())));
        self.attach_until(shutdown).await;
        stop.cancel();
        if let Some(server) = server {
            let _ = server.await;
        }
    }

    /// Attaches, again whenever the stream breaks, until `shutdown` completes.
    async fn attach_until(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = Backoff::default();
        loop {
            let ended = self.attach_once(&mut backoff, &mut shutdown).await;
            self.attached.send_replace(false);
            match ended {
                Ended::Shutdown => return,
                Ended::Broken(why) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(reason = %why, retry_in = ?delay, "detached from core; attaching again");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = &mut shutdown => return,
                    }
                }
            }
        }
    }

    fn hello(&self) -> AttachRequest {
        let hello = self.provider.hello();
        let hello = EdgeHello {
            provider: hello.name,
            instance_id: self.instance_id.clone(),
            version: hello.version,
            display_name: hello.display_name,
            description: hello.description,
            settings_schema_json: hello.settings_schema_json,
            secret_fields: hello.secret_fields,
            identity_fields: hello.identity_fields,
        };
        AttachRequest { kind: Some(attach_request::Kind::Hello(hello)) }
    }

    async fn attach_once(
        &self,
        backoff: &mut Backoff,
        shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Ended {
        let (outbound, requests) = mpsc::unbounded_channel();
        let _ = outbound.send(self.hello());
        let request = self.core.request(UnboundedReceiverStream::new(requests));
        let mut inbound = match self.core.client().attach(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => return Ended::Broken(describe(&status)),
        };
        let welcome = match tokio::time::timeout(WELCOME_WAIT, inbound.message()).await {
            Ok(Ok(Some(message))) => match message.kind {
                Some(Kind::Welcome(welcome)) => welcome,
                _ => return Ended::Broken("core's first message was not a welcome".into()),
            },
            Ok(Ok(None)) => return Ended::Broken("core ended the stream before welcoming".into()),
            Ok(Err(status)) => return Ended::Broken(describe(&status)),
            Err(_) => return Ended::Broken("core sent no welcome".into()),
        };
        backoff.reset();
        self.attached.send_replace(true);
        let interval = welcome
            .heartbeat_interval
            .and_then(|interval| Duration::try_from(interval).ok())
            .filter(|interval| !interval.is_zero())
            .unwrap_or(Duration::from_secs(2));
        tracing::info!(instance = %self.instance_id, core_version = %welcome.core_version, "attached to core");

        let mut running: HashMap<String, Running> = HashMap::new();
        let mut stopping: HashMap<String, JoinHandle<()>> = HashMap::new();
        let mut beats = tokio::time::interval(interval);
        let mut sequence = 0;
        let mut last_heard = Instant::now();
        let ended = loop {
            tokio::select! {
                () = &mut *shutdown => break Ended::Shutdown,
                _ = beats.tick() => {
                    sequence += 1;
                    let beat = EdgeHeartbeat { sequence };
                    let _ = outbound.send(AttachRequest { kind: Some(attach_request::Kind::Heartbeat(beat)) });
                }
                // Core answers every heartbeat: two intervals of silence mean it is gone.
                () = tokio::time::sleep_until(last_heard + interval * 2) => {
                    break Ended::Broken("core was silent for two heartbeat intervals".into());
                }
                message = inbound.message() => {
                    last_heard = Instant::now();
                    let kind = match message {
                        Ok(Some(message)) => message.kind,
                        Ok(None) => break Ended::Broken("core ended the stream".into()),
                        Err(status) => break Ended::Broken(describe(&status)),
                    };
                    match kind {
                        Some(Kind::StartResource(command)) => {
                            let start = ResourceStart {
                                resource_id: command.resource_id,
                                generation: command.generation,
                                owner_user_id: command.owner_user_id,
                                owner_display_name: command.owner_display_name,
                                owner_language_code: command.owner_language_code,
                                name: command.name,
                                settings_json: command.settings_json,
                                secrets: command.secrets,
                            };
                            self.start(start, &outbound, &mut running, &mut stopping);
                        }
                        Some(Kind::StopResource(command)) => {
                            let previous = running.remove(&command.resource_id);
                            let generation = previous.as_ref().map_or(0, |run| run.generation);
                            let report = ResourceReport {
                                resource_id: command.resource_id.clone(),
                                generation,
                                state: EdgeResourceState::Stopped.into(),
                                ..Default::default()
                            };
                            let outbound = outbound.clone();
                            let handle = tokio::spawn(async move {
                                if let Some(previous) = previous {
                                    previous.finish().await;
                                }
                                let _ = outbound.send(AttachRequest { kind: Some(attach_request::Kind::Report(report)) });
                            });
                            stopping.insert(command.resource_id, handle);
                        }
                        Some(Kind::Welcome(_) | Kind::HeartbeatAck(_)) | None => {}
                    }
                }
            }
        };
        // Whatever ended the stream, nothing may keep running: core may be starting these
        // resources on another instance already.
        let count = running.len();
        for run in running.values() {
            run.cancel.cancel();
        }
        for (_, run) in running {
            run.finish().await;
        }
        for (_, handle) in stopping {
            let _ = tokio::time::timeout(STOP_WAIT, handle).await;
        }
        tracing::info!(resources = count, "every resource stopped");
        ended
    }

    /// Starts a resource, or restarts it with a newer generation once its old run has ended.
    fn start(
        &self,
        start: ResourceStart,
        outbound: &mpsc::UnboundedSender<AttachRequest>,
        running: &mut HashMap<String, Running>,
        stopping: &mut HashMap<String, JoinHandle<()>>,
    ) {
        if running.get(&start.resource_id).is_some_and(|run| run.generation >= start.generation) {
            return;
        }
        let previous = running.remove(&start.resource_id);
        let still_stopping = stopping.remove(&start.resource_id);
        let cancel = CancellationToken::new();
        let session =
            Session::new(&start, self.instance_id.clone(), outbound.clone(), cancel.clone(), self.core.clone());
        let (resource_id, generation) = (start.resource_id.clone(), start.generation);
        let provider = self.provider.clone();
        let handle = tokio::spawn(async move {
            if let Some(previous) = previous {
                previous.finish().await;
            }
            if let Some(handle) = still_stopping {
                let _ = handle.await;
            }
            provider.run(start, session).await;
        });
        running.insert(resource_id, Running { generation, cancel, handle });
    }
}

fn describe(status: &Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}
