//! Starting a real core for a test, on a fresh SQLite file or a fresh PostgreSQL database.

use std::{
    io::Write,
    net::SocketAddr,
    sync::{Arc, Once},
    time::Duration,
};

use assistchat_core::{Application, Config, StartError};
use assistchat_fakes::FakeOpenAi;
use assistchat_proto::v1::{
    Session, User, auth_service_client::AuthServiceClient, bot_service_client::BotServiceClient,
    profile_service_client::ProfileServiceClient, resource_service_client::ResourceServiceClient,
};
use assistchat_test_support::test_provider;
use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::transport::Channel;

/// Declares each listed test function once per backend: `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name($crate::helpers::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name($crate::helpers::Backend::Postgres).await })*
        }
    };
}

/// The database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests create their databases on.
fn postgres_admin_url() -> String {
    std::env::var("ASSISTCHAT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A throwaway PostgreSQL database, dropped with this value.
pub struct PostgresDatabase {
    pub url: String,
    name: String,
}

impl PostgresDatabase {
    /// A new empty database, or `None` (after a loud notice) when PostgreSQL is unreachable
    /// outside CI. Under `CI=true` an unreachable PostgreSQL fails the test.
    pub async fn create() -> Option<Self> {
        let admin_url = postgres_admin_url();
        let connect = tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(&admin_url)).await;
        let mut admin = match connect {
            Ok(Ok(conn)) => conn,
            Ok(Err(err)) => return unreachable_postgres(&admin_url, &err.to_string()),
            Err(_) => return unreachable_postgres(&admin_url, "timed out"),
        };
        let name = format!("assistchat_test_{}", uuid_simple());
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create a test database");
        let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
        Some(Self { url: format!("{base}/{name}"), name })
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (postgres_admin_url(), self.name.clone());
        // Drop runs outside async code: a short-lived runtime on its own thread does the drop.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let _ = admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
                }
            });
        })
        .join();
    }
}

fn unreachable_postgres<T>(url: &str, error: &str) -> Option<T> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("PostgreSQL at {url} is unreachable ({error}) and CI=true requires it: start PostgreSQL");
    }
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        // Written straight to stderr so the test harness does not swallow it.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPING the PostgreSQL half of the tests: {url} is unreachable ({error}).\n\
             *** Install and start PostgreSQL (apt-get install postgresql), or point \
             ASSISTCHAT_TEST_POSTGRES_URL at a server where the user may create databases.\n"
        );
    });
    None
}

pub fn uuid_simple() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The database URL and its guard for a fresh database of `backend` in `dir`.
pub async fn fresh_database(backend: Backend, dir: &TempDir) -> Option<(String, Option<PostgresDatabase>)> {
    match backend {
        Backend::Sqlite => Some((format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()), None)),
        Backend::Postgres => {
            let database = PostgresDatabase::create().await?;
            Some((database.url.clone(), Some(database)))
        }
    }
}

/// A running core and what it needs to be torn down.
pub struct TestApp {
    pub addr: SocketAddr,
    pub channel: Channel,
    pub config: Config,
    /// The operator's model server unless the test configured another: a fake on loopback, so
    /// that a key check or a reply never leaves this machine.
    pub openai: Arc<FakeOpenAi>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), StartError>>>,
    // Dropped last: the data directory and the database outlive the server.
    _database: Option<PostgresDatabase>,
    _data_dir: TempDir,
}

/// A core with the default configuration on a fresh database of `backend`.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// A core on a fresh database of `backend`, with the configuration changed by `configure`.
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let data_dir = TempDir::new().unwrap();
    let (url, database) = fresh_database(backend, &data_dir).await?;
    let openai = Arc::new(FakeOpenAi::start().await);
    let mut config = Config::with_defaults(data_dir.path().to_path_buf());
    // Titles by the model would add calls the fake model counts; the tests of titles turn them on.
    config.model_titles = false;
    config.database_url = Some(url);
    // Not the default https://api.openai.com/v1: no test talks to anything off this machine.
    config.openai_base_url = openai.base_url();
    configure(&mut config);
    Some(start(config, openai, database, data_dir).await)
}

/// A core that accepts the test edge's credential and wants heartbeats every 200 ms, so that
/// a silent edge is noticed within a second; returned once its start-up grace for edges to
/// come back is over, so that what tests see of edges going away is their doing.
pub async fn spawn_app_with_edges(backend: Backend) -> Option<TestApp> {
    spawn_app_with_edges_and(backend, |_| {}).await
}

/// [`spawn_app_with_edges`] with the configuration further changed by `configure`.
pub async fn spawn_app_with_edges_and(backend: Backend, configure: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let app = spawn_app_with(backend, |config| {
        test_provider::accept_test_edges(config);
        configure(config);
    })
    .await?;
    test_provider::past_start_up_grace().await;
    Some(app)
}

/// Fails the test when its core could reach anything off this machine: the operator's model
/// server and every sign-in provider (the environment's included) must be on loopback.
fn assert_stays_on_this_machine(config: &Config) {
    let mut urls = vec![("the operator's model server", config.openai_base_url.clone())];
    // A configuration that does not parse stops core before it reaches anything.
    for provider in config.identity_providers().unwrap_or_default() {
        urls.push(("a sign-in provider", provider.issuer_url));
    }
    for (what, address) in urls {
        let host = url::Url::parse(&address).ok().and_then(|url| url.host().map(|host| host.to_owned()));
        let on_loopback = match host {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name == "localhost",
            None => false,
        };
        assert!(on_loopback, "{what} is {address}, off this machine: point the test at a fake on 127.0.0.1");
    }
}

async fn start(
    config: Config,
    openai: Arc<FakeOpenAi>,
    database: Option<PostgresDatabase>,
    data_dir: TempDir,
) -> TestApp {
    assert_stays_on_this_machine(&config);
    let app = Application::build(config.clone()).await.expect("core starts");
    let addr = app.local_addr();
    let (tx, rx) = oneshot::channel();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.expect("connect to core");
    TestApp {
        addr,
        channel,
        config,
        openai,
        shutdown: Some(tx),
        server: Some(server),
        _database: database,
        _data_dir: data_dir,
    }
}

impl TestApp {
    pub fn auth(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::new(self.channel.clone())
    }

    pub fn profile(&self) -> ProfileServiceClient<Channel> {
        ProfileServiceClient::new(self.channel.clone())
    }

    pub fn resources(&self) -> ResourceServiceClient<Channel> {
        ResourceServiceClient::new(self.channel.clone())
    }

    pub fn bot(&self) -> BotServiceClient<Channel> {
        BotServiceClient::new(self.channel.clone())
    }

    /// Stops this core and starts a new one on the same database and configuration, as an
    /// operator's restart does.
    pub async fn restart(mut self) -> TestApp {
        self.stop().await.expect("core stops cleanly");
        let (database, data_dir) =
            (self._database.take(), std::mem::replace(&mut self._data_dir, TempDir::new().unwrap()));
        start(self.config.clone(), self.openai.clone(), database, data_dir).await
    }

    /// [`TestApp::restart`] with the configuration changed by `configure` first.
    pub async fn restart_with(mut self, configure: impl FnOnce(&mut Config)) -> TestApp {
        configure(&mut self.config);
        self.restart().await
    }

    /// Registers a new account named `name` with a unique email; returns the user and its
    /// session.
    pub async fn register(&self, name: &str) -> (User, Session) {
        let email = format!("{name}.{}@example.com", &uuid_simple()[..8]);
        let registered = assistchat_test_support::sign_up(self.channel.clone(), &email, name).await;
        (registered.user.unwrap(), registered.session.unwrap())
    }

    /// Asks the server to stop, without waiting for it (see [`TestApp::stop`]).
    pub fn ask_to_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(&mut self) -> Result<(), StartError> {
        self.ask_to_stop();
        match self.server.take() {
            Some(server) => server.await.expect("server task"),
            None => Ok(()),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub use assistchat_test_support::{authed, eventually};

/// Waits until `check` holds, failing with `what` when it never does.
pub async fn until(what: &str, mut check: impl FnMut() -> bool) {
    eventually(what, || {
        let held = check();
        async move { if held { Ok(()) } else { Err("not yet") } }
    })
    .await;
}

/// The field a status's BadRequest detail names.
pub fn violated_field(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    let bad_request = details.bad_request().unwrap_or_else(|| panic!("no BadRequest detail in {status:?}"));
    bad_request.field_violations[0].field.clone()
}
