//! What the load runs (the examples that measure core or an edge under many resources) share: a
//! core started for the run, how many of the owners' resources are ready or in error, and the
//! memory and CPU of the process measured.

use std::{
    process::Child,
    time::{Duration, Instant},
};

use assistchat_core::{Application, Config};
use tempfile::TempDir;
use tonic::transport::Channel;

use crate::{Owner, poll};

/// How long a load run waits for its resources' states: far longer than a run of the default
/// size takes, so that only a broken run gives up.
pub const PATIENCE: Duration = Duration::from_secs(300);

/// How often a load run looks at its owners' bot statuses: often enough to time a change to a
/// twentieth of a second, seldom enough not to weigh on what is measured.
pub const EVERY: Duration = Duration::from_millis(50);

/// The clock ticks a second in /proc's CPU times (Linux's `USER_HZ`).
const TICKS_PER_SECOND: f64 = 100.0;

/// A core started for a load run, on a data directory of its own.
pub struct LoadCore {
    /// Its gRPC address, as edges are told it.
    pub url: String,
    /// A channel to it.
    pub channel: Channel,
    /// Its data directory (with the SQLite database), removed with this value.
    _data_dir: TempDir,
}

impl LoadCore {
    /// Core accepting edges with `edge_token`, with its configuration changed by `configure`
    /// (see [`answer_with`]). It asks the model for no titles, which would add to the calls a
    /// fake model counts.
    pub async fn start(edge_token: &str, configure: impl FnOnce(&mut Config)) -> Self {
        let data_dir = TempDir::new().expect("a data directory");
        let mut config = Config::with_defaults(data_dir.path().to_path_buf());
        config.model_titles = false;
        config.edge_token = Some(edge_token.into());
        configure(&mut config);
        let app = Application::build(config).await.expect("core starts");
        let url = format!("http://{}", app.local_addr());
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        let channel = Channel::from_shared(url.clone()).expect("a URL").connect().await.expect("connect to core");
        Self { url, channel, _data_dir: data_dir }
    }

    /// `count` accounts, `user0@example.com` and on.
    pub async fn owners(&self, count: usize) -> Vec<Owner> {
        let mut owners = Vec::with_capacity(count);
        for user in 0..count {
            owners.push(Owner::sign_up(self.channel.clone(), &format!("user{user}@example.com")).await);
        }
        owners
    }
}

/// Has core answer with the model at `base_url` (a fake's), with no daily quota to run out.
pub fn answer_with(config: &mut Config, base_url: String) {
    config.openai_api_key = Some("sk-load".into());
    config.openai_base_url = base_url;
    config.daily_token_quota = 0;
}

/// How many resources of some accounts are ready and in error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Ready.
    pub ready: usize,
    /// In error.
    pub error: usize,
}

/// The sum of `owners`' bot statuses.
pub async fn counts(owners: &[Owner]) -> Counts {
    let mut counts = Counts::default();
    for owner in owners {
        let status = owner.bot_status().await;
        counts.ready += usize::try_from(status.ready_count).expect("a count");
        counts.error += usize::try_from(status.error_count).expect("a count");
    }
    counts
}

/// Waits, looking every [`EVERY`] for at most `within`, until `done` holds for `owners`' counts;
/// the counts last seen, as `Ok` once it holds and as `Err` when the time ran out.
pub async fn until_counts(owners: &[Owner], within: Duration, done: impl Fn(Counts) -> bool) -> Result<Counts, Counts> {
    poll(within, EVERY, || async {
        let counts = counts(owners).await;
        if done(counts) { Ok(counts) } else { Err(counts) }
    })
    .await
}

/// Waits until `done` holds for `owners`' counts, within [`PATIENCE`]; fails saying `what` did not
/// happen, with the counts last seen, when it never does.
pub async fn counts_become(owners: &[Owner], what: &str, done: impl Fn(Counts) -> bool) -> Counts {
    until_counts(owners, PATIENCE, done)
        .await
        .unwrap_or_else(|seen| panic!("{what} did not happen within {PATIENCE:?}; last seen: {seen:?}"))
}

/// A process's resident memory and the CPU time it used so far, read from /proc.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    /// Resident memory, in kB.
    pub resident_kb: u64,
    /// CPU time used so far, in user and system mode, in clock ticks.
    ticks: u64,
    /// When it was read.
    at: Instant,
}

impl Usage {
    /// What `process` uses now.
    pub fn of(process: &Child) -> Self {
        let status = std::fs::read_to_string(format!("/proc/{}/status", process.id())).expect("/proc status");
        let resident_kb = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", process.id())).expect("/proc stat");
        // The fields after the command's name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat.rsplit_once(')').expect("a stat line").1.split_whitespace().collect();
        let ticks = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        Self { resident_kb, ticks, at: Instant::now() }
    }

    /// Resident memory, in MB.
    pub fn resident_mb(&self) -> u64 {
        self.resident_kb / 1024
    }

    /// The CPU used from `earlier` until this reading, in percent of one core.
    pub fn cpu_percent_since(&self, earlier: &Usage) -> f64 {
        let seconds = self.at.duration_since(earlier.at).as_secs_f64();
        (self.ticks - earlier.ticks) as f64 / TICKS_PER_SECOND / seconds * 100.0
    }
}
