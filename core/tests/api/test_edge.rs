//! A provider edge for tests, written against the proto alone: it attaches over real gRPC,
//! answers each start with a report (ready, or error when the settings ask for one) and keeps
//! every command it got.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use assistchat_proto::v1::{
    AttachRequest, EdgeHeartbeat, EdgeHello, EdgeResourceState, ResourceErrorAction, ResourceInfoItem,
    ResourceInfoKind, ResourceReport, StartResourceCommand, StopResourceCommand, attach_request, attach_response,
    edge_service_client::EdgeServiceClient,
};
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Status, transport::Channel};

pub use assistchat_test_support::test_provider::{EDGE_TOKEN, hello};

/// A command the edge received.
#[derive(Clone, Debug)]
pub enum Seen {
    Start(StartResourceCommand),
    Stop(StopResourceCommand),
}

/// A running test edge.
pub struct TestEdge {
    /// Everything core sent, in order.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// How the stream ended, once it has.
    pub ended: Arc<Mutex<Option<Status>>>,
    /// Set, the edge keeps its stream open but sends nothing more: a hung process.
    silent: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl TestEdge {
    /// Attaches as `provider`/`instance_id` and runs until killed or until core ends the stream.
    pub async fn attach(channel: Channel, provider: &str, instance_id: &str) -> Self {
        Self::attach_with(channel, hello(provider, instance_id), EDGE_TOKEN).await.expect("the edge attaches")
    }

    /// Attaches with this hello and credential; the error is core's answer to the attach.
    pub async fn attach_with(channel: Channel, hello: EdgeHello, token: &str) -> Result<Self, Status> {
        let (outbound, rx) = mpsc::channel(64);
        outbound.send(AttachRequest { kind: Some(attach_request::Kind::Hello(hello)) }).await.unwrap();
        let mut request = Request::new(ReceiverStream::new(rx));
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        let mut inbound = EdgeServiceClient::new(channel).attach(request).await?.into_inner();
        let welcome = inbound.message().await?.and_then(|message| message.kind);
        let Some(attach_response::Kind::Welcome(welcome)) = welcome else {
            panic!("core's first message is a welcome, got {welcome:?}");
        };
        let interval: Duration = welcome.heartbeat_interval.unwrap().try_into().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let ended = Arc::new(Mutex::new(None));
        let silent = Arc::new(AtomicBool::new(false));
        let (seen_by_task, ended_by_task, silent_in_task) = (seen.clone(), ended.clone(), silent.clone());
        let task = tokio::spawn(async move {
            let mut beats = tokio::time::interval(interval);
            let mut sequence = 0;
            loop {
                tokio::select! {
                    _ = beats.tick() => {
                        if silent_in_task.load(Ordering::Relaxed) {
                            continue;
                        }
                        sequence += 1;
                        let beat = attach_request::Kind::Heartbeat(EdgeHeartbeat { sequence });
                        let _ = outbound.send(AttachRequest { kind: Some(beat) }).await;
                    }
                    message = inbound.message() => {
                        let kind = match message {
                            Ok(Some(message)) => message.kind,
                            Ok(None) => { *ended_by_task.lock().unwrap() = Some(Status::ok("")); return; }
                            Err(status) => { *ended_by_task.lock().unwrap() = Some(status); return; }
                        };
                        let report = match kind {
                            Some(attach_response::Kind::StartResource(start)) => {
                                let report = answer(&start);
                                seen_by_task.lock().unwrap().push(Seen::Start(start));
                                report
                            }
                            Some(attach_response::Kind::StopResource(stop)) => {
                                let report = ResourceReport {
                                    resource_id: stop.resource_id.clone(),
                                    state: EdgeResourceState::Stopped.into(),
                                    ..Default::default()
                                };
                                seen_by_task.lock().unwrap().push(Seen::Stop(stop));
                                report
                            }
                            _ => continue,
                        };
                        let _ = outbound.send(AttachRequest { kind: Some(attach_request::Kind::Report(report)) }).await;
                    }
                }
            }
        });
        Ok(Self { seen, ended, silent, task })
    }

    /// Ends the edge as a crash would: its stream simply closes.
    pub fn kill(&self) {
        self.task.abort();
    }

    /// Stops sending anything while keeping the stream open, as a hung process does.
    pub fn hang(&self) {
        self.silent.store(true, Ordering::Relaxed);
    }

    /// The starts received for a resource.
    pub fn starts(&self, resource_id: &str) -> Vec<StartResourceCommand> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter_map(|seen| match seen {
                Seen::Start(start) if start.resource_id == resource_id => Some(start.clone()),
                _ => None,
            })
            .collect()
    }

    /// The stops received for a resource.
    pub fn stops(&self, resource_id: &str) -> Vec<StopResourceCommand> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter_map(|seen| match seen {
                Seen::Stop(stop) if stop.resource_id == resource_id => Some(stop.clone()),
                _ => None,
            })
            .collect()
    }
}

impl Drop for TestEdge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The report for a start: ready with the account's name, or the error the settings ask for.
fn answer(start: &StartResourceCommand) -> ResourceReport {
    let settings: serde_json::Value = serde_json::from_str(&start.settings_json).unwrap();
    let base =
        ResourceReport { resource_id: start.resource_id.clone(), generation: start.generation, ..Default::default() };
    match settings.get("fail_with").and_then(|value| value.as_str()) {
        Some(detail) => ResourceReport {
            state: EdgeResourceState::Error.into(),
            detail: detail.into(),
            reason: "TOKEN_REJECTED".into(),
            action: ResourceErrorAction::FixSettings.into(),
            ..base
        },
        None => ResourceReport {
            state: EdgeResourceState::Ready.into(),
            detail: "Connected.".into(),
            status_info: vec![ResourceInfoItem {
                key: "account".into(),
                label: "Account".into(),
                value: format!("@{}", start.name.to_lowercase().replace(' ', "_")),
                kind: ResourceInfoKind::Text.into(),
            }],
            ..base
        },
    }
}
