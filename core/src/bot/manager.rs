//! The bot manager: a controller that keeps each resource's observed state in line with what
//! its owner wants, over the attached edge instances.
//!
//! One task owns the [`Board`] (which instance runs which resource, at which generation) and
//! handles every event in order: an edge attaching or going away, an edge's report, a user's
//! change. The board decides; the task reads the store, carries the decisions out and tells the
//! edges what to do in domain terms ([`ToEdge`]), which the edge module turns into frames.
//! Desired states live in the database, so a restarted core loses nothing: edges attach again
//! and are handed their resources.

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tonic::Status;

use super::board::{self, Board, Decision, Halt};
pub use super::board::{Nudge, Reported, StopReason};
use crate::{
    edge::EdgeReach,
    providers::{ProviderSpec, Registry},
    resources::Resources,
    store::{
        Store, StoreError, now_millis,
        resources::{ObservedState, ResourceRun},
        states::Switch,
    },
};

/// Events kept for watchers that fall behind before they get a snapshot instead.
const EVENT_BUFFER: usize = 1024;

/// What core tells an attached edge instance.
#[derive(Debug)]
pub enum ToEdge {
    /// Run this resource; a new generation replaces the run of an older one.
    Start(Start),
    /// Stop running this resource.
    Stop {
        /// The resource.
        resource_id: String,
        /// Why.
        reason: StopReason,
    },
    /// The stream ends, with this status.
    End(Status),
}

/// A resource to run, with what its edge needs.
pub struct Start {
    /// The resource.
    pub resource_id: String,
    /// This start's generation.
    pub generation: i64,
    /// Its owner.
    pub owner_user_id: String,
    /// Its owner's name.
    pub owner_display_name: String,
    /// Its owner's language.
    pub owner_language_code: String,
    /// The name its owner gave it.
    pub name: String,
    /// Its plain settings, a JSON object.
    pub settings_json: String,
    /// Its secrets, opened.
    pub secrets: std::collections::BTreeMap<String, String>,
}

// The secrets stay out of log lines.
impl std::fmt::Debug for Start {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Start")
            .field("resource_id", &self.resource_id)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// An edge's report about one run of a resource, read and bounded by the edge module.
#[derive(Clone, Debug)]
pub struct Report {
    /// The resource.
    pub resource_id: String,
    /// The run's generation.
    pub generation: i64,
    /// What it does; `None` for a report that says nothing.
    pub reported: Option<Reported>,
    /// The state in words; empty for the default words.
    pub detail: String,
    /// The reason code.
    pub reason: String,
    /// What the edge reported about it, a JSON array.
    pub status_info: String,
}

/// The sending half of an edge instance's Attach stream.
pub type EdgeSender = mpsc::UnboundedSender<ToEdge>;

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
        report: Report,
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
            board: Board::new(!grace.is_zero()),
            senders: HashMap::new(),
            placements: placements.clone(),
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
    pub fn report(&self, connection: u64, report: Report) {
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

/// The manager task's state.
struct Task {
    store: Store,
    resources: Arc<Resources>,
    registry: Arc<Registry>,
    events: broadcast::Sender<BotEvent>,
    /// The decisions' state: instances and running resources.
    board: Board,
    /// Each attached instance's stream, by connection number.
    senders: HashMap<u64, EdgeSender>,
    /// Where each running resource runs, mirrored from the board for the conversation calls.
    placements: Placements,
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
                let connection = self.attach(&spec, &instance_id, reach, sender).await?;
                let _ = reply.send(connection);
                self.start_waiting(&spec.name).await?;
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
                if let Some(stop) = self.board.deleted(&resource_id) {
                    self.stop(&resource_id, stop);
                }
                let _ = self.events.send(BotEvent::Deleted { user_id, resource_id });
                let _ = reply.send(());
            }
            Command::GraceOver => {
                self.board.grace_over();
                for run in self.store.resource_runs().await? {
                    if self.board.waits(&run) {
                        self.reconcile(&run, Nudge::Check).await?;
                    }
                }
            }
            Command::Close { reply } => {
                for sender in self.senders.values() {
                    let _ = sender.send(ToEdge::End(Status::unavailable("core is shutting down; attach again")));
                }
                self.senders.clear();
                self.board.clear();
                self.placements().clear();
                let _ = reply.send(());
            }
        }
        Ok(())
    }

    fn placements(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Placement>> {
        self.placements.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// After core starts, nothing runs yet: every resource that should run waits for its edge,
    /// and every other one is shown paused.
    async fn settle_after_start(&mut self) -> Result<(), StoreError> {
        for run in self.store.resource_runs().await? {
            let observed =
                if run.should_run() { board::waiting(&run.provider) } else { board::paused(run.bot == Switch::Off) };
            self.observe(&run, &observed).await?;
        }
        Ok(())
    }

    async fn attach(
        &mut self,
        spec: &ProviderSpec,
        instance_id: &str,
        reach: EdgeReach,
        sender: EdgeSender,
    ) -> Result<u64, StoreError> {
        let (connection, older) = self.board.attach(&spec.name, instance_id, reach);
        self.senders.insert(connection, sender);
        self.registry.count_instance(&spec.name, 1);
        tracing::info!(provider = %spec.name, connection, "edge instance attached");
        for old in older {
            self.detach(old, Some(Status::aborted("another stream attached with the same instance id"))).await?;
        }
        Ok(connection)
    }

    /// Starts everything of `provider` that should run and does not (offline, or waiting).
    async fn start_waiting(&mut self, provider: &str) -> Result<(), StoreError> {
        for run in self.store.provider_resource_runs(provider).await? {
            if self.board.waits(&run) {
                self.reconcile(&run, Nudge::Check).await?;
            }
        }
        Ok(())
    }

    async fn detach(&mut self, connection: u64, ending: Option<Status>) -> Result<(), StoreError> {
        let Some(instance) = self.board.detach(connection) else {
            return Ok(());
        };
        if let Some(sender) = self.senders.remove(&connection)
            && let Some(status) = ending
        {
            let _ = sender.send(ToEdge::End(status));
        }
        self.registry.count_instance(&instance.provider, -1);
        tracing::info!(provider = %instance.provider, connection, resources = instance.resources.len(), "edge instance detached");
        {
            let mut placements = self.placements();
            for resource_id in &instance.resources {
                placements.remove(resource_id);
            }
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
        match self.board.decide(run, nudge) {
            Decision::Keep => Ok(()),
            Decision::Pause(halt) => self.halt(run, halt).await,
            Decision::NowhereToRun(observed) => self.observe(run, &observed).await,
            Decision::Start { connection } => self.start(run, connection).await,
        }
    }

    /// Starts `run` on `connection` with its settings and secrets, at its next generation.
    async fn start(&mut self, run: &ResourceRun, connection: u64) -> Result<(), StoreError> {
        let Some(record) = self.store.resource_by_id(&run.id).await? else {
            return Ok(());
        };
        let (_, secrets) = match self.resources.settings_for_start(&record) {
            Ok(settings) => settings,
            Err(err) => return self.halt(run, self.board.settings_unfit(run, &err.to_string())).await,
        };
        let Some(generation) = self.store.next_generation(&run.id).await? else {
            return Ok(());
        };
        let owner = self.store.profile(&run.user_id).await?;
        let (owner_display_name, owner_language_code) =
            owner.map(|profile| (profile.display_name, profile.language_code)).unwrap_or_default();
        let start = Start {
            resource_id: run.id.clone(),
            generation,
            owner_user_id: run.user_id.clone(),
            owner_display_name,
            owner_language_code,
            name: record.name,
            settings_json: record.meta_json,
            secrets,
        };
        let Some(instance) = self.board.instance(connection) else { return Ok(()) };
        let placement = Placement { instance_id: instance.instance_id.clone(), reach: instance.reach.clone() };
        if let Some(sender) = self.senders.get(&connection) {
            let _ = sender.send(ToEdge::Start(start));
        }
        self.board.started(&run.id, connection, generation);
        self.placements().insert(run.id.clone(), placement);
        self.observe(run, &board::starting()).await
    }

    /// Carries out a halt the board decided: the stop, if the resource runs, then what it shows.
    async fn halt(&mut self, run: &ResourceRun, halt: Halt) -> Result<(), StoreError> {
        if let Some(stop) = halt.stop {
            self.stop(&run.id, stop);
        }
        self.observe(run, &halt.observed).await
    }

    /// Carries out a stop the board decided: tells the connection, and forgets where the resource
    /// ran.
    fn stop(&mut self, resource_id: &str, (connection, reason): (u64, StopReason)) {
        self.board.stopped(resource_id);
        self.placements().remove(resource_id);
        if let Some(sender) = self.senders.get(&connection) {
            let _ = sender.send(ToEdge::Stop { resource_id: resource_id.to_owned(), reason });
        }
    }

    async fn report(&mut self, connection: u64, report: Report) -> Result<(), StoreError> {
        let Some(reported) = report.reported else { return Ok(()) };
        let changed = self.board.report(
            connection,
            &report.resource_id,
            report.generation,
            reported,
            &report.detail,
            &report.reason,
        );
        let Some(observed) = changed else { return Ok(()) };
        if self.board.assignment(&report.resource_id).is_none() {
            // Stopped by the edge itself: it runs nowhere now.
            self.placements().remove(&report.resource_id);
        }
        let Some(run) = self.store.resource_run(&report.resource_id).await? else {
            return Ok(());
        };
        self.store.set_status_info(&run.id, &report.status_info).await?;
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
