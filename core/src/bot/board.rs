//! The bot manager's decisions, as a state machine over domain types with no I/O: which attached
//! edge instance runs which resource (at which generation), where a resource goes when it
//! should run, what it shows while it runs nowhere, where it stops when its settings no longer
//! fit or it is deleted, and whether an edge's report is still about the run it was started
//! for. The manager task ([`super::manager`]) reads the store, carries the decisions out and
//! tells edges; here everything can be tested alone.

use std::collections::{HashMap, HashSet};

use crate::{
    edge::EdgeReach,
    store::{
        resources::{ObservedState, ResourceRun},
        states::{Action, Desired, Reason, State, Switch},
    },
};

/// Why a resource is stopped where it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Its owner paused it.
    Paused,
    /// Its owner's bot was switched off.
    BotStopped,
    /// It was deleted.
    Deleted,
    /// Core can no longer start it (its settings no longer fit its provider).
    Unrunnable,
}

/// What a resource's reconciliation was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nudge {
    /// Make it match what its owner wants.
    Check,
    /// The same, and if it runs, start it again (new settings, or a retry after an error).
    Restart,
}

/// A resource that must not run: where to stop it, if it runs, and what it shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Halt {
    /// The connection it runs on, which must be told to stop it, and why.
    pub stop: Option<(u64, StopReason)>,
    /// What it shows.
    pub observed: ObservedState,
}

/// What to do with one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// It must not run: stop it where it runs and show it paused.
    Pause(Halt),
    /// It runs where it should: nothing to do.
    Keep,
    /// Start it (again) on this connection.
    Start {
        /// The instance's connection.
        connection: u64,
    },
    /// It should run but no instance of its provider is attached: show this.
    NowhereToRun(ObservedState),
}

/// What an edge reported a resource does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reported {
    /// Starting (checking credentials, say).
    Starting,
    /// Running.
    Ready,
    /// Failing, with what the owner can do.
    Error(Action),
    /// Stopped by itself, without being asked.
    Stopped,
}

/// An attached edge instance, as the decisions see it.
#[derive(Clone, Debug)]
pub struct Instance {
    /// Its provider.
    pub provider: String,
    /// Its id, as in its hello.
    pub instance_id: String,
    /// What the credential it attached with may act as.
    pub reach: EdgeReach,
    /// The resources started on it.
    pub resources: HashSet<String>,
}

/// Where a resource runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The instance's connection.
    pub connection: u64,
    /// The generation of its latest start.
    pub generation: i64,
}

/// The attached instances and the running resources.
#[derive(Debug)]
pub struct Board {
    /// Attached instances, by connection number.
    instances: HashMap<u64, Instance>,
    /// Running resources, by id.
    assignments: HashMap<String, Assignment>,
    next_connection: u64,
    /// Just after core starts: edges are still coming back, so no provider is called offline
    /// yet...
    in_grace: bool,
    /// ...unless an instance of it has attached since (and so is back, and may have gone again).
    seen_since_start: HashSet<String>,
}

impl Board {
    /// An empty board; `in_grace` while edges may still be coming back after a start of core.
    pub fn new(in_grace: bool) -> Self {
        Self {
            instances: HashMap::new(),
            assignments: HashMap::new(),
            next_connection: 1,
            in_grace,
            seen_since_start: HashSet::new(),
        }
    }

    /// Registers an instance; returns its connection number and the older connections of the
    /// same provider and instance id, which must end.
    pub fn attach(&mut self, provider: &str, instance_id: &str, reach: EdgeReach) -> (u64, Vec<u64>) {
        let older: Vec<u64> = self
            .instances
            .iter()
            .filter(|(_, instance)| instance.provider == provider && instance.instance_id == instance_id)
            .map(|(connection, _)| *connection)
            .collect();
        let connection = self.next_connection;
        self.next_connection += 1;
        self.seen_since_start.insert(provider.to_owned());
        let instance = Instance {
            provider: provider.to_owned(),
            instance_id: instance_id.to_owned(),
            reach,
            resources: HashSet::new(),
        };
        self.instances.insert(connection, instance);
        (connection, older)
    }

    /// Forgets an instance and the runs on it; returns it, whose resources must be placed again.
    pub fn detach(&mut self, connection: u64) -> Option<Instance> {
        let instance = self.instances.remove(&connection)?;
        for resource_id in &instance.resources {
            self.assignments.remove(resource_id);
        }
        Some(instance)
    }

    /// Forgets everything (core is stopping).
    pub fn clear(&mut self) {
        self.instances.clear();
        self.assignments.clear();
    }

    /// The attached instance on `connection`.
    pub fn instance(&self, connection: u64) -> Option<&Instance> {
        self.instances.get(&connection)
    }

    /// The connections of every attached instance.
    pub fn connections(&self) -> impl Iterator<Item = u64> + '_ {
        self.instances.keys().copied()
    }

    /// Where a resource runs, if it does.
    pub fn assignment(&self, resource_id: &str) -> Option<Assignment> {
        self.assignments.get(resource_id).copied()
    }

    /// Edges are back, or had their time: a provider with no instance is offline from now on.
    pub fn grace_over(&mut self) {
        self.in_grace = false;
    }

    /// Whether `run` should run and runs nowhere (after an edge attached, say).
    pub fn waits(&self, run: &ResourceRun) -> bool {
        run.should_run() && !self.assignments.contains_key(&run.id)
    }

    /// What to do with `run`, as its owner wants it now.
    pub fn decide(&self, run: &ResourceRun, nudge: Nudge) -> Decision {
        if !run.should_run() {
            let reason = if run.desired_state == Desired::Active { StopReason::BotStopped } else { StopReason::Paused };
            return Decision::Pause(Halt {
                stop: self.stop(&run.id, reason),
                observed: paused(run.bot == Switch::Off),
            });
        }
        let running_on = self.assignments.get(&run.id).map(|assignment| assignment.connection);
        if running_on.is_some() && nudge == Nudge::Check {
            return Decision::Keep;
        }
        match running_on.or_else(|| self.least_loaded(&run.provider)) {
            Some(connection) => Decision::Start { connection },
            None if self.in_grace && !self.seen_since_start.contains(&run.provider) => {
                Decision::NowhereToRun(waiting(&run.provider))
            }
            None => Decision::NowhereToRun(offline(&run.provider)),
        }
    }

    /// What to do with `run`, which was to start, once its settings turn out not to fit its
    /// provider any more (`why`): it cannot run, so it stops where it runs and shows that its
    /// settings need fixing.
    pub fn settings_unfit(&self, run: &ResourceRun, why: &str) -> Halt {
        Halt { stop: self.stop(&run.id, StopReason::Unrunnable), observed: unrunnable(why) }
    }

    /// Where a deleted resource must be stopped, if it runs.
    pub fn deleted(&self, resource_id: &str) -> Option<(u64, StopReason)> {
        self.stop(resource_id, StopReason::Deleted)
    }

    /// The connection to tell to stop a resource, for `reason`, if it runs.
    fn stop(&self, resource_id: &str, reason: StopReason) -> Option<(u64, StopReason)> {
        self.assignments.get(resource_id).map(|assignment| (assignment.connection, reason))
    }

    /// Records a start of a resource at `generation` on `connection`.
    pub fn started(&mut self, resource_id: &str, connection: u64, generation: i64) {
        if let Some(instance) = self.instances.get_mut(&connection) {
            instance.resources.insert(resource_id.to_owned());
            self.assignments.insert(resource_id.to_owned(), Assignment { connection, generation });
        }
    }

    /// Forgets where a resource runs; returns the connection to tell, if it ran.
    pub fn stopped(&mut self, resource_id: &str) -> Option<u64> {
        let assignment = self.assignments.remove(resource_id)?;
        if let Some(instance) = self.instances.get_mut(&assignment.connection) {
            instance.resources.remove(resource_id);
        }
        Some(assignment.connection)
    }

    /// What a report from `connection` about `generation` of a resource changes: `None` when
    /// it is stale (the resource was started again, elsewhere or later, or stopped). A resource
    /// the edge stopped by itself runs nowhere from now on.
    pub fn report(
        &mut self,
        connection: u64,
        resource_id: &str,
        generation: i64,
        reported: Reported,
        detail: &str,
        reason: &str,
    ) -> Option<ObservedState> {
        let current = self.assignments.get(resource_id)?;
        if current.connection != connection || current.generation != generation {
            return None;
        }
        let or = |default: &str| if detail.is_empty() { default.to_owned() } else { detail.to_owned() };
        let observed = match reported {
            Reported::Starting => observed(State::Pending, or("Starting."), reason, Action::Unstated),
            Reported::Ready => observed(State::Ready, or("Running."), reason, Action::Unstated),
            Reported::Error(action) => {
                observed(State::Error, or("The provider reported an error without saying why."), reason, action)
            }
            Reported::Stopped => {
                self.stopped(resource_id);
                stopped_by_provider()
            }
        };
        Some(observed)
    }

    /// The attached instance of `provider` running the fewest resources (the oldest among
    /// equals).
    fn least_loaded(&self, provider: &str) -> Option<u64> {
        self.instances
            .iter()
            .filter(|(_, instance)| instance.provider == provider)
            .min_by_key(|(connection, instance)| (instance.resources.len(), **connection))
            .map(|(connection, _)| *connection)
    }
}

fn observed(state: State, detail: String, reason: &str, action: Action) -> ObservedState {
    ObservedState { state, detail, reason: reason.to_owned(), action }
}

/// What a resource stopped on purpose shows.
pub fn paused(bot_off: bool) -> ObservedState {
    let (detail, reason) = if bot_off { ("The bot is off.", Reason::BotStopped) } else { ("Paused.", Reason::Paused) };
    observed(State::Paused, detail.into(), reason.as_str(), Action::Unstated)
}

/// What a resource waiting for its provider's edge to come back shows.
pub fn waiting(provider: &str) -> ObservedState {
    observed(
        State::Pending,
        format!("Waiting for the {provider} provider to connect."),
        Reason::ProviderConnecting.as_str(),
        Action::Unstated,
    )
}

/// What a resource whose provider has no edge attached shows.
pub fn offline(provider: &str) -> ObservedState {
    let detail = format!(
        "The {provider} provider is offline, so this resource cannot run. It starts by itself as soon as the \
         provider is back; if it stays offline, tell the platform's operator."
    );
    observed(State::Error, detail, Reason::ProviderOffline.as_str(), Action::WaitForProvider)
}

/// What a resource just sent to its edge shows.
pub fn starting() -> ObservedState {
    observed(State::Pending, "Starting.".into(), Reason::Starting.as_str(), Action::Unstated)
}

/// What a resource whose settings no longer fit its provider shows.
fn unrunnable(why: &str) -> ObservedState {
    let detail =
        format!("The settings no longer fit what the provider asks for ({why}). Edit the resource to fix them.");
    observed(State::Error, detail, Reason::SettingsInvalid.as_str(), Action::FixSettings)
}

fn stopped_by_provider() -> ObservedState {
    let detail = "The provider stopped the resource by itself. Pause and activate it to start it again.";
    observed(State::Error, detail.into(), Reason::StoppedByProvider.as_str(), Action::Reconnect)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, provider: &str, desired: Desired, bot: Switch) -> ResourceRun {
        ResourceRun { id: id.into(), user_id: "u1".into(), provider: provider.into(), desired_state: desired, bot }
    }

    fn active(id: &str) -> ResourceRun {
        run(id, "telegram", Desired::Active, Switch::On)
    }

    fn reach() -> EdgeReach {
        EdgeReach::Provider("telegram".into())
    }

    #[test]
    fn a_resource_goes_to_the_least_loaded_instance_of_its_provider() {
        let mut board = Board::new(false);
        let (first, _) = board.attach("telegram", "a", reach());
        let (second, _) = board.attach("telegram", "b", reach());
        board.attach("zoom", "z", EdgeReach::Provider("zoom".into()));
        assert_eq!(
            board.decide(&active("r1"), Nudge::Check),
            Decision::Start { connection: first },
            "the oldest first"
        );
        board.started("r1", first, 1);
        assert_eq!(board.decide(&active("r2"), Nudge::Check), Decision::Start { connection: second });
        board.started("r2", second, 1);
        assert_eq!(board.decide(&active("r3"), Nudge::Check), Decision::Start { connection: first });
    }

    #[test]
    fn a_running_resource_is_kept_on_a_check_and_started_again_where_it_runs_on_a_restart() {
        let mut board = Board::new(false);
        let (first, _) = board.attach("telegram", "a", reach());
        board.started("r1", first, 1);
        board.attach("telegram", "b", reach());
        assert_eq!(board.decide(&active("r1"), Nudge::Check), Decision::Keep);
        assert_eq!(board.decide(&active("r1"), Nudge::Restart), Decision::Start { connection: first });
        board.started("r1", first, 2);
        assert_eq!(board.assignment("r1"), Some(Assignment { connection: first, generation: 2 }));
    }

    #[test]
    fn a_paused_resource_or_a_switched_off_bot_stops_it_where_it_runs() {
        let mut board = Board::new(false);
        let (connection, _) = board.attach("telegram", "a", reach());
        board.started("r1", connection, 1);
        let paused_run = run("r1", "telegram", Desired::Paused, Switch::On);
        let Decision::Pause(Halt { stop, observed }) = board.decide(&paused_run, Nudge::Check) else { panic!() };
        assert_eq!(stop, Some((connection, StopReason::Paused)));
        assert_eq!((observed.state, observed.reason.as_str()), (State::Paused, Reason::Paused.as_str()));
        let bot_off = run("r1", "telegram", Desired::Active, Switch::Off);
        let Decision::Pause(Halt { stop, observed }) = board.decide(&bot_off, Nudge::Check) else { panic!() };
        assert_eq!(stop, Some((connection, StopReason::BotStopped)));
        assert_eq!(observed.reason, Reason::BotStopped.as_str());
        assert_eq!(board.stopped("r1"), Some(connection));
        assert!(board.instance(connection).unwrap().resources.is_empty());
        let Decision::Pause(Halt { stop, .. }) = board.decide(&paused_run, Nudge::Check) else { panic!() };
        assert_eq!(stop, None, "nothing to stop once it runs nowhere");
    }

    #[test]
    fn without_an_instance_a_resource_waits_during_the_grace_and_is_offline_after_it() {
        let mut board = Board::new(true);
        let Decision::NowhereToRun(observed) = board.decide(&active("r1"), Nudge::Check) else { panic!() };
        assert_eq!((observed.state, observed.reason.as_str()), (State::Pending, Reason::ProviderConnecting.as_str()));
        // An instance that came back and went again is offline even within the grace.
        let (connection, _) = board.attach("telegram", "a", reach());
        board.detach(connection);
        let Decision::NowhereToRun(observed) = board.decide(&active("r1"), Nudge::Check) else { panic!() };
        assert_eq!((observed.state, observed.action), (State::Error, Action::WaitForProvider));
        let mut board = Board::new(true);
        board.grace_over();
        let Decision::NowhereToRun(observed) = board.decide(&active("r1"), Nudge::Check) else { panic!() };
        assert_eq!(observed.reason, Reason::ProviderOffline.as_str());
    }

    #[test]
    fn a_detached_instance_gives_its_resources_to_another() {
        let mut board = Board::new(false);
        let (first, _) = board.attach("telegram", "a", reach());
        board.started("r1", first, 1);
        board.started("r2", first, 1);
        let (second, _) = board.attach("telegram", "b", reach());
        let gone = board.detach(first).expect("it was attached");
        assert_eq!(gone.resources, HashSet::from(["r1".to_owned(), "r2".to_owned()]));
        assert!(board.waits(&active("r1")), "it runs nowhere now");
        assert_eq!(board.decide(&active("r1"), Nudge::Check), Decision::Start { connection: second });
        assert!(board.detach(first).is_none(), "detached once");
    }

    #[test]
    fn an_instance_attaching_again_ends_its_older_stream() {
        let mut board = Board::new(false);
        let (old, none) = board.attach("telegram", "a", reach());
        assert!(none.is_empty());
        let (new, older) = board.attach("telegram", "a", reach());
        assert_eq!(older, [old]);
        assert_ne!(new, old);
        let (_, other) = board.attach("zoom", "a", EdgeReach::Provider("zoom".into()));
        assert!(other.is_empty(), "the same instance id of another provider is another instance");
    }

    #[test]
    fn a_report_about_an_older_run_or_from_another_instance_is_ignored() {
        let mut board = Board::new(false);
        let (first, _) = board.attach("telegram", "a", reach());
        let (second, _) = board.attach("telegram", "b", reach());
        board.started("r1", first, 2);
        assert_eq!(board.report(first, "r1", 1, Reported::Ready, "", ""), None, "an older generation");
        assert_eq!(board.report(second, "r1", 2, Reported::Ready, "", ""), None, "another instance");
        assert_eq!(board.report(first, "r9", 2, Reported::Ready, "", ""), None, "a resource not running");
        let ready = board.report(first, "r1", 2, Reported::Ready, "", "").unwrap();
        assert_eq!((ready.state, ready.detail.as_str()), (State::Ready, "Running."));
        let failing =
            board.report(first, "r1", 2, Reported::Error(Action::FixSettings), "Bad token.", "TOKEN").unwrap();
        assert_eq!(failing, observed(State::Error, "Bad token.".into(), "TOKEN", Action::FixSettings));
        let starting = board.report(first, "r1", 2, Reported::Starting, "Checking.", "").unwrap();
        assert_eq!((starting.state, starting.detail.as_str()), (State::Pending, "Checking."));
    }

    #[test]
    fn a_resource_its_edge_stopped_by_itself_runs_nowhere() {
        let mut board = Board::new(false);
        let (connection, _) = board.attach("telegram", "a", reach());
        board.started("r1", connection, 1);
        let observed = board.report(connection, "r1", 1, Reported::Stopped, "", "").unwrap();
        assert_eq!((observed.state, observed.action), (State::Error, Action::Reconnect));
        assert_eq!(observed.reason, Reason::StoppedByProvider.as_str());
        assert_eq!(board.assignment("r1"), None);
        assert!(board.waits(&active("r1")));
        assert_eq!(board.report(connection, "r1", 1, Reported::Ready, "", ""), None, "later reports are stale");
    }

    #[test]
    fn a_resource_whose_settings_no_longer_fit_stops_where_it_runs_and_asks_for_new_settings() {
        let mut board = Board::new(false);
        let (connection, _) = board.attach("telegram", "a", reach());
        board.started("r1", connection, 1);
        let Halt { stop, observed } = board.settings_unfit(&active("r1"), "bot_token is required");
        assert_eq!(stop, Some((connection, StopReason::Unrunnable)));
        assert_eq!(
            (observed.state, observed.reason.as_str(), observed.action),
            (State::Error, Reason::SettingsInvalid.as_str(), Action::FixSettings)
        );
        assert!(observed.detail.contains("(bot_token is required)"), "{}", observed.detail);
        let waiting = board.settings_unfit(&active("r2"), "bot_token is required");
        assert_eq!(waiting.stop, None, "nothing to stop where it runs nowhere");
        assert_eq!(waiting.observed, observed, "it shows the same");
    }

    #[test]
    fn a_deleted_resource_is_stopped_where_it_runs_and_only_there() {
        let mut board = Board::new(false);
        let (first, _) = board.attach("telegram", "a", reach());
        board.attach("telegram", "b", reach());
        board.started("r1", first, 1);
        assert_eq!(board.deleted("r1"), Some((first, StopReason::Deleted)));
        assert_eq!(board.stopped("r1"), Some(first));
        assert_eq!(board.deleted("r1"), None, "stopped once");
        assert_eq!(board.deleted("r9"), None, "a resource that never ran");
        assert_eq!(board.report(first, "r1", 1, Reported::Ready, "", ""), None, "later reports are stale");
    }
}
