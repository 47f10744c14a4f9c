//! The bot manager: a controller that keeps each resource's observed state in line with what
//! its owner wants, over the attached edge instances.
//!
//! One task owns the assignments (which instance runs which resource, at which generation) and
//! handles every event in order: an edge attaching or going away, an edge's report, a user's
//! change. Desired states live in the database, so a restarted core loses nothing: edges attach
//! again and are handed their resources.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use assistchat_proto::v1::{
    AttachResponse, EdgeResourceState, ResourceInfoItem, ResourceReport, ResourceStopReason, StartResourceCommand,
    StopResourceCommand, attach_response::Kind,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tonic::Status;

use crate::{
    edge::EdgeReach,
    providers::{ProviderSpec, Registry},
    resources::{Resources, paused_state},
    store::{
        Store, StoreError, now_millis,
        resources::{ObservedState, ResourceRun},
        states::{Action, Desired, State, Switch},
    },
};

/// The most status items kept per report, and the longest value.
const MAX_INFO_ITEMS: usize = 32;
const MAX_INFO_VALUE_CHARS: usize = 4096;
/// The longest state detail kept.
const MAX_DETAIL_CHARS: usize = 1000;
/// Events kept for watchers that fall behind before they get a snapshot instead.
const EVENT_BUFFER: usize = 1024;

/// The sending half of an edge instance's Attach stream.
pub type EdgeSender = mpsc::UnboundedSender<Result<AttachResponse, Status>>;

/// Something a watcher of a user's bot must hear about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BotEvent {
    /// A resource was created or its state, info or name changed.
    Changed {
        /// Its owner.
        user_id: String,
        /// The resource.
        resource_id: String,
    },
    /// A resource was deleted.
    Deleted {
        /// Its owner.
        user_id: String,
        /// The resource.
        resource_id: String,
    },
    /// The user's bot was switched on or off.
    Switched {
        /// The user.
        user_id: String,
    },
}

impl BotEvent {
    /// The user it concerns.
    pub fn user_id(&self) -> &str {
        match self {
            Self::Changed { user_id, .. } | Self::Deleted { user_id, .. } | Self::Switched { user_id } => user_id,
        }
    }
}

/// What a resource's reconciliation was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nudge {
    /// Make it match what its owner wants.
    Check,
    /// The same, and if it runs, start it again (new settings, or a retry after an error).
    Restart,
}

enum Command {
    Attach {
        spec: ProviderSpec,
        instance_id: String,
        reach: EdgeReach,
        sender: EdgeSender,
        reply: oneshot::Sender<u64>,
    },
    Detach {
        connection: u64,
    },
    Report {
        connection: u64,
        report: ResourceReport,
    },
    Reconcile {
        resource_ids: Vec<String>,
        user_id: Option<String>,
        nudge: Nudge,
        reply: oneshot::Sender<()>,
    },
    Deleted {
        user_id: String,
        resource_id: String,
        reply: oneshot::Sender<()>,
    },
    GraceOver,
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// The handle every service holds.
#[derive(Clone, Debug)]
pub struct BotManager {
    /// The manager task's inbox.
    commands: mpsc::UnboundedSender<Command>,
    /// Changes, for watchers.
    events: broadcast::Sender<BotEvent>,
    /// Turns true when core shuts down, ending every watch.
    closing: Arc<watch::Sender<bool>>,
    /// Which instance runs each resource.
    placements: Placements,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl BotManager {
    /// Starts the manager task. Resources that should run wait `grace` for their edges to
    /// attach (after a restart of core, they come back within a few heartbeats) before they
    /// are shown as offline.
    pub async fn start(
        store: Store,
        resources: Arc<Resources>,
        registry: Arc<Registry>,
        grace: Duration,
    ) -> Result<Self, StoreError> {
        let (commands, inbox) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let placements = Placements::default();
        let mut task = Task {
            store,
            resources,
            registry,
            events: events.clone(),
            instances: HashMap::new(),
            assignments: Assignments { by_resource: HashMap::new(), placements: placements.clone() },
            next_connection: 1,
            in_grace: !grace.is_zero(),
            seen_since_start: HashSet::new(),
        };
        task.settle_after_start().await?;
        let handle = Self { commands, events, closing: Arc::new(watch::Sender::new(false)), placements };
        let grace_handle = handle.clone();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let _ = grace_handle.commands.send(Command::GraceOver);
        });
        tokio::spawn(task.run(inbox));
        Ok(handle)
    }

    /// Registers an edge instance, attached with a credential of `reach`; returns its
    /// connection number. An older connection of the same provider and instance id is ended
    /// with `ABORTED`.
    pub async fn attach(&self, spec: ProviderSpec, instance_id: String, reach: EdgeReach, sender: EdgeSender) -> u64 {
        let (reply, answer) = oneshot::channel();
        let _ = self.commands.send(Command::Attach { spec, instance_id, reach, sender, reply });
        answer.await.unwrap_or_default()
    }

    /// Forgets an edge connection; its resources move to another instance or turn to error.
    pub fn detach(&self, connection: u64) {
        let _ = self.commands.send(Command::Detach { connection });
    }

    /// Hands over an edge's report.
    pub fn report(&self, connection: u64, report: ResourceReport) {
        let _ = self.commands.send(Command::Report { connection, report });
    }

    /// Brings these resources in line with what their owners want, and returns once done.
    pub async fn reconcile(&self, resource_ids: Vec<String>, nudge: Nudge) {
        self.ask(|reply| Command::Reconcile { resource_ids, user_id: None, nudge, reply }).await;
    }

    /// Brings every resource of a user in line (after the bot's switch moved).
    pub async fn reconcile_user(&self, user_id: &str) {
        let user = Some(user_id.to_owned());
        self.ask(|reply| Command::Reconcile { resource_ids: Vec::new(), user_id: user, nudge: Nudge::Check, reply })
            .await;
        let _ = self.events.send(BotEvent::Switched { user_id: user_id.to_owned() });
    }

    /// Stops a deleted resource wherever it runs.
    pub async fn deleted(&self, user_id: &str, resource_id: &str) {
        let (user_id, resource_id) = (user_id.to_owned(), resource_id.to_owned());
        self.ask(|reply| Command::Deleted { user_id, resource_id, reply }).await;
    }

    /// Tells every attached edge and every watcher that core is stopping, ending their streams.
    pub async fn close(&self) {
        self.closing.send_replace(true);
        self.ask(|reply| Command::Close { reply }).await;
    }

    /// Turns true when core shuts down.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Where the resource is started: the instance id (of its provider) and the reach of the
    /// credential that instance attached with; `None` when it runs nowhere.
    pub fn placement(&self, resource_id: &str) -> Option<Placement> {
        let placements = self.placements.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        placements.get(resource_id).cloned()
    }

    /// Whether the resource is started on the edge instance `instance_id` (of its provider),
    /// attached with a credential of `reach`.
    pub fn runs_on(&self, resource_id: &str, instance_id: &str, reach: &EdgeReach) -> bool {
        self.placement(resource_id).is_some_and(|placed| placed.instance_id == instance_id && placed.reach == *reach)
    }

    /// Changes to watch.
    pub fn subscribe(&self) -> broadcast::Receiver<BotEvent> {
        self.events.subscribe()
    }

    /// Tells watchers that a resource changed outside the manager (its name, say).
    pub fn changed(&self, user_id: &str, resource_id: &str) {
        let _ = self.events.send(BotEvent::Changed { user_id: user_id.into(), resource_id: resource_id.into() });
    }

    async fn ask(&self, command: impl FnOnce(oneshot::Sender<()>) -> Command) {
        let (reply, answer) = oneshot::channel();
        let _ = self.commands.send(command(reply));
        let _ = answer.await;
    }
}

/// An attached edge instance.
struct Instance {
    /// Its provider.
    provider: String,
    /// Its id, as in its hello.
    instance_id: String,
    /// What the credential it attached with may act as.
    reach: EdgeReach,
    /// Commands to it.
    sender: EdgeSender,
    /// The resources started on it.
    resources: HashSet<String>,
}

/// Where a running resource runs, as the conversation calls check it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The id of the instance it was started on.
    pub instance_id: String,
    /// What the credential that instance attached with may act as.
    pub reach: EdgeReach,
}

/// Where each running resource runs, shared with the conversation calls, which must not wait
/// behind the manager's queue to check who may answer for a resource.
type Placements = Arc<std::sync::RwLock<HashMap<String, Placement>>>;

/// The running resources, mirrored into [`Placements`] on every change.
struct Assignments {
    by_resource: HashMap<String, Assignment>,
    placements: Placements,
}

impl Assignments {
    fn placements(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Placement>> {
        self.placements.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, resource_id: &str) -> Option<&Assignment> {
        self.by_resource.get(resource_id)
    }

    fn contains_key(&self, resource_id: &str) -> bool {
        self.by_resource.contains_key(resource_id)
    }

    fn insert(&mut self, resource_id: String, assignment: Assignment, placement: Placement) {
        self.placements().insert(resource_id.clone(), placement);
        self.by_resource.insert(resource_id, assignment);
    }

    fn remove(&mut self, resource_id: &str) -> Option<Assignment> {
        self.placements().remove(resource_id);
        self.by_resource.remove(resource_id)
    }

    fn clear(&mut self) {
        self.placements().clear();
        self.by_resource.clear();
    }
}

/// Where a resource runs.
#[derive(Clone, Copy, Debug)]
struct Assignment {
    /// The instance's connection.
    connection: u64,
    /// The generation of its latest start.
    generation: i64,
}

/// The manager task's state.
struct Task {
    store: Store,
    resources: Arc<Resources>,
    registry: Arc<Registry>,
    events: broadcast::Sender<BotEvent>,
    /// Attached instances, by connection number.
    instances: HashMap<u64, Instance>,
    /// Running resources, by id.
    assignments: Assignments,
    next_connection: u64,
    /// Just after start: edges are still coming back, so no provider is called offline yet...
    in_grace: bool,
    /// ...unless an instance of it has attached since (and so is back, and may have gone again).
    seen_since_start: HashSet<String>,
}

impl Task {
    async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Command>) {
        while let Some(command) = inbox.recv().await {
            if let Err(err) = self.handle(command).await {
                tracing::error!(error = %err, "bot manager: storage failed; the states shown may lag until the next change");
            }
        }
    }

    async fn handle(&mut self, command: Command) -> Result<(), StoreError> {
        match command {
            Command::Attach { spec, instance_id, reach, sender, reply } => {
                let provider = spec.name.clone();
                let connection = self.attach(spec, instance_id, reach, sender).await?;
                let _ = reply.send(connection);
                self.start_waiting(&provider).await?;
            }
            Command::Detach { connection } => self.detach(connection, None).await?,
            Command::Report { connection, report } => self.report(connection, report).await?,
            Command::Reconcile { resource_ids, user_id, nudge, reply } => {
                let runs = match user_id {
                    Some(user_id) => self.store.user_resource_runs(&user_id).await?,
                    None => {
                        let mut runs = Vec::with_capacity(resource_ids.len());
                        for id in &resource_ids {
                            runs.extend(self.store.resource_run(id).await?);
                        }
                        runs
                    }
                };
                for run in runs {
                    self.reconcile(&run, nudge).await?;
                }
                let _ = reply.send(());
            }
            Command::Deleted { user_id, resource_id, reply } => {
                self.stop(&resource_id, ResourceStopReason::Deleted);
                let _ = self.events.send(BotEvent::Deleted { user_id, resource_id });
                let _ = reply.send(());
            }
            Command::GraceOver => {
                self.in_grace = false;
                for run in self.store.resource_runs().await? {
                    if run.should_run() && !self.assignments.contains_key(&run.id) {
                        self.reconcile(&run, Nudge::Check).await?;
                    }
                }
            }
            Command::Close { reply } => {
                for instance in self.instances.values() {
                    let _ = instance.sender.send(Err(Status::unavailable("core is shutting down; attach again")));
                }
                self.instances.clear();
                self.assignments.clear();
                let _ = reply.send(());
            }
        }
        Ok(())
    }

    /// After core starts, nothing runs yet: every resource that should run waits for its edge,
    /// and every other one is shown paused.
    async fn settle_after_start(&mut self) -> Result<(), StoreError> {
        for run in self.store.resource_runs().await? {
            let observed = if run.should_run() { waiting(&run.provider) } else { paused_state(run.bot == Switch::Off) };
            self.observe(&run, &observed).await?;
        }
        Ok(())
    }

    async fn attach(
        &mut self,
        spec: ProviderSpec,
        instance_id: String,
        reach: EdgeReach,
        sender: EdgeSender,
    ) -> Result<u64, StoreError> {
        let older: Vec<u64> = self
            .instances
            .iter()
            .filter(|(_, instance)| instance.provider == spec.name && instance.instance_id == instance_id)
            .map(|(connection, _)| *connection)
            .collect();
        let connection = self.next_connection;
        self.next_connection += 1;
        self.registry.count_instance(&spec.name, 1);
        self.seen_since_start.insert(spec.name.clone());
        self.instances.insert(
            connection,
            Instance { provider: spec.name.clone(), instance_id, reach, sender, resources: HashSet::new() },
        );
        tracing::info!(provider = %spec.name, connection, "edge instance attached");
        for old in older {
            self.detach(old, Some(Status::aborted("another stream attached with the same instance id"))).await?;
        }
        Ok(connection)
    }

    /// Starts everything of `provider` that should run and does not (offline, or waiting).
    async fn start_waiting(&mut self, provider: &str) -> Result<(), StoreError> {
        for run in self.store.provider_resource_runs(provider).await? {
            if run.should_run() && !self.assignments.contains_key(&run.id) {
                self.reconcile(&run, Nudge::Check).await?;
            }
        }
        Ok(())
    }

    async fn detach(&mut self, connection: u64, ending: Option<Status>) -> Result<(), StoreError> {
        let Some(instance) = self.instances.remove(&connection) else {
            return Ok(());
        };
        if let Some(status) = ending {
            let _ = instance.sender.send(Err(status));
        }
        self.registry.count_instance(&instance.provider, -1);
        tracing::info!(provider = %instance.provider, connection, resources = instance.resources.len(), "edge instance detached");
        for resource_id in &instance.resources {
            self.assignments.remove(resource_id);
        }
        let moving = std::time::Instant::now();
        let count = instance.resources.len();
        for resource_id in instance.resources {
            if let Some(run) = self.store.resource_run(&resource_id).await? {
                self.reconcile(&run, Nudge::Check).await?;
            }
        }
        tracing::debug!(resources = count, elapsed = ?moving.elapsed(), "resources of a detached instance moved or marked");
        Ok(())
    }

    async fn reconcile(&mut self, run: &ResourceRun, nudge: Nudge) -> Result<(), StoreError> {
        if !run.should_run() {
            let reason = if run.desired_state == Desired::Active {
                ResourceStopReason::BotStopped
            } else {
                ResourceStopReason::Paused
            };
            self.stop(&run.id, reason);
            return self.observe(run, &paused_state(run.bot == Switch::Off)).await;
        }
        let running_on = self.assignments.get(&run.id).map(|a| a.connection);
        if running_on.is_some() && nudge == Nudge::Check {
            return Ok(());
        }
        let Some(connection) = running_on.or_else(|| self.least_loaded(&run.provider)) else {
            let coming_back = self.in_grace && !self.seen_since_start.contains(&run.provider);
            let observed = if coming_back { waiting(&run.provider) } else { offline(&run.provider) };
            return self.observe(run, &observed).await;
        };
        let Some(record) = self.store.resource_by_id(&run.id).await? else {
            return Ok(());
        };
        let (_, secrets) = match self.resources.settings_for_start(&record) {
            Ok(settings) => settings,
            Err(err) => {
                self.stop(&run.id, ResourceStopReason::Unspecified);
                let observed = ObservedState {
                    state: State::Error,
                    detail: format!(
                        "The settings no longer fit what the provider asks for ({err}). Edit the resource to fix them."
                    ),
                    reason: "SETTINGS_INVALID".into(),
                    action: Action::FixSettings,
                };
                return self.observe(run, &observed).await;
            }
        };
        let Some(generation) = self.store.next_generation(&run.id).await? else {
            return Ok(());
        };
        let owner = self.store.profile(&run.user_id).await?;
        let (display_name, language) =
            owner.map(|profile| (profile.display_name, profile.language_code)).unwrap_or_default();
        let start = StartResourceCommand {
            resource_id: run.id.clone(),
            generation,
            owner_user_id: run.user_id.clone(),
            owner_display_name: display_name,
            owner_language_code: language,
            name: record.name,
            settings_json: record.meta_json,
            secrets: secrets.into_iter().collect(),
        };
        let instance = self.instances.get_mut(&connection).expect("chosen among attached instances");
        instance.resources.insert(run.id.clone());
        let _ = instance.sender.send(Ok(AttachResponse { kind: Some(Kind::StartResource(start)) }));
        let placement = Placement { instance_id: instance.instance_id.clone(), reach: instance.reach.clone() };
        self.assignments.insert(run.id.clone(), Assignment { connection, generation }, placement);
        let observed = ObservedState {
            state: State::Pending,
            detail: "Starting.".into(),
            reason: "STARTING".into(),
            action: Action::Unstated,
        };
        self.observe(run, &observed).await
    }

    /// Sends a stop to wherever the resource runs, and forgets the assignment.
    fn stop(&mut self, resource_id: &str, reason: ResourceStopReason) {
        let Some(assignment) = self.assignments.remove(resource_id) else {
            return;
        };
        if let Some(instance) = self.instances.get_mut(&assignment.connection) {
            instance.resources.remove(resource_id);
            let stop = StopResourceCommand { resource_id: resource_id.to_owned(), reason: reason.into() };
            let _ = instance.sender.send(Ok(AttachResponse { kind: Some(Kind::StopResource(stop)) }));
        }
    }

    /// The attached instance of `provider` running the fewest resources.
    fn least_loaded(&self, provider: &str) -> Option<u64> {
        self.instances
            .iter()
            .filter(|(_, instance)| instance.provider == provider)
            .min_by_key(|(connection, instance)| (instance.resources.len(), **connection))
            .map(|(connection, _)| *connection)
    }

    async fn report(&mut self, connection: u64, report: ResourceReport) -> Result<(), StoreError> {
        let current = self.assignments.get(&report.resource_id);
        if !current.is_some_and(|a| a.connection == connection && a.generation == report.generation) {
            return Ok(());
        }
        let Some(run) = self.store.resource_run(&report.resource_id).await? else {
            return Ok(());
        };
        let detail = truncate(&report.detail, MAX_DETAIL_CHARS);
        let observed = match report.state() {
            EdgeResourceState::Unspecified => return Ok(()),
            EdgeResourceState::Starting => ObservedState {
                state: State::Pending,
                detail: if detail.is_empty() { "Starting.".into() } else { detail },
                reason: report.reason.clone(),
                action: Action::Unstated,
            },
            EdgeResourceState::Ready => ObservedState {
                state: State::Ready,
                detail: if detail.is_empty() { "Running.".into() } else { detail },
                reason: report.reason.clone(),
                action: Action::Unstated,
            },
            EdgeResourceState::Error => ObservedState {
                state: State::Error,
                detail: if detail.is_empty() {
                    "The provider reported an error without saying why.".into()
                } else {
                    detail
                },
                reason: report.reason.clone(),
                action: report.action().into(),
            },
            EdgeResourceState::Stopped => {
                // Stopped without being asked: it no longer runs anywhere.
                self.assignments.remove(&report.resource_id);
                if let Some(instance) = self.instances.get_mut(&connection) {
                    instance.resources.remove(&report.resource_id);
                }
                ObservedState {
                    state: State::Error,
                    detail: "The provider stopped the resource by itself. Pause and activate it to start it again."
                        .into(),
                    reason: "STOPPED_BY_PROVIDER".into(),
                    action: Action::Reconnect,
                }
            }
        };
        let info = status_info_json(&report.status_info);
        self.store.set_status_info(&run.id, &info).await?;
        // Announced even when the state stayed: the info may have moved.
        self.store.set_observed_state(&run.id, &observed, now_millis()).await?;
        self.announce(&run);
        Ok(())
    }

    async fn observe(&mut self, run: &ResourceRun, observed: &ObservedState) -> Result<(), StoreError> {
        if self.store.set_observed_state(&run.id, observed, now_millis()).await? {
            self.announce(run);
        }
        Ok(())
    }

    fn announce(&self, run: &ResourceRun) {
        let _ = self.events.send(BotEvent::Changed { user_id: run.user_id.clone(), resource_id: run.id.clone() });
    }
}

fn waiting(provider: &str) -> ObservedState {
    ObservedState {
        state: State::Pending,
        detail: format!("Waiting for the {provider} provider to connect."),
        reason: "PROVIDER_CONNECTING".into(),
        action: Action::Unstated,
    }
}

fn offline(provider: &str) -> ObservedState {
    ObservedState {
        state: State::Error,
        detail: format!(
            "The {provider} provider is offline, so this resource cannot run. It starts by itself as soon as the \
             provider is back; if it stays offline, tell the platform's operator."
        ),
        reason: "PROVIDER_OFFLINE".into(),
        action: Action::WaitForProvider,
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

fn status_info_json(items: &[ResourceInfoItem]) -> String {
    let items: Vec<serde_json::Value> = items
        .iter()
        .take(MAX_INFO_ITEMS)
        .map(|item| {
            serde_json::json!({
                "key": truncate(&item.key, 100),
                "label": truncate(&item.label, 100),
                "value": truncate(&item.value, MAX_INFO_VALUE_CHARS),
                "kind": item.kind,
            })
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}
