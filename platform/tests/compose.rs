//! docker-compose.yml and the Dockerfile, checked against the binaries: every service runs a
//! binary the image holds, and every variable it sets is one that binary reads; the image serves
//! on every interface, keeps its data on its volume, runs as a user of its own and checks its
//! health with a command its binary has; the health checks of compose are commands of their
//! binaries too, and services wait for what they need to be healthy. No container engine is
//! needed to run this: what only one could show (a build, a `docker run`) is not run here.

use std::{
    collections::{BTreeMap, BTreeSet},
    process::Output,
};

use clap::{Args, Command, CommandFactory};
use yaml_rust2::{Yaml, YamlLoader};

/// The environment variables a binary's settings read.
fn env_names<A: Args>() -> BTreeSet<String> {
    A::augment_args(Command::new("settings"))
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

/// Each binary the compose file may run, with the variables it reads.
fn binaries() -> BTreeMap<&'static str, BTreeSet<String>> {
    BTreeMap::from([
        ("assistchat-core", env_names::<assistchat_core::Config>()),
        ("assistchat-edge-web", env_names::<assistchat_edge_web::Config>()),
        ("assistchat-edge-telegram", env_names::<assistchat_edge_telegram::Config>()),
        ("assistchat-edge-zoom", env_names::<assistchat_edge_zoom::Config>()),
    ])
}

fn repo_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn every_service_runs_a_binary_of_the_image_with_variables_it_reads() {
    let compose = &YamlLoader::load_from_str(&repo_file("docker-compose.yml")).expect("valid YAML")[0];
    let dockerfile = repo_file("Dockerfile");
    let binaries = binaries();
    let services = compose["services"].as_hash().expect("a services map");
    let mut seen = BTreeSet::new();
    for (name, service) in services {
        let name = name.as_str().unwrap();
        let Some(command) = service["command"].as_vec() else {
            assert!(service["image"].as_str().is_some(), "{name}: neither an AssistChat command nor an image");
            continue;
        };
        let binary = command[0].as_str().unwrap();
        let reads =
            binaries.get(binary).unwrap_or_else(|| panic!("{name} runs {binary}, which is no AssistChat binary"));
        assert!(
            dockerfile.contains(&format!("target/release/{binary}")),
            "{name}: the Dockerfile does not put {binary} in the image"
        );
        for (variable, _) in service["environment"].as_hash().into_iter().flatten() {
            let variable = variable.as_str().unwrap();
            // Core reads one edge credential per provider, by the provider's name.
            let per_provider = binary == "assistchat-core"
                && variable.strip_prefix(assistchat_core::config::EDGE_TOKEN_PREFIX).is_some_and(|p| !p.is_empty());
            assert!(
                reads.contains(variable) || per_provider,
                "{name}: {binary} does not read {variable}; it reads {reads:?}"
            );
        }
        seen.insert(binary);
    }
    assert_eq!(seen, binaries.keys().copied().collect(), "every server binary has a service");
}

#[test]
fn the_web_edge_reaches_core_where_core_listens_and_is_trusted_by_it() {
    let compose = &YamlLoader::load_from_str(&repo_file("docker-compose.yml")).unwrap()[0];
    let core = &compose["services"]["core"];
    let web = &compose["services"]["web"];
    let listen = core["environment"]["ASSISTCHAT_CORE_LISTEN"].as_str().unwrap();
    let port = listen.rsplit(':').next().unwrap();
    assert_eq!(web["environment"]["ASSISTCHAT_CORE_URL"].as_str().unwrap(), format!("http://core:{port}"));
    let web_address = web["networks"]["assistchat"]["ipv4_address"].as_str().expect("a fixed address");
    assert_eq!(core["environment"]["ASSISTCHAT_TRUSTED_PROXIES"].as_str(), Some(web_address));
    let secret = core["environment"]["ASSISTCHAT_SECRET_KEY"].as_str().unwrap();
    assert!(secret.starts_with("${ASSISTCHAT_SECRET_KEY:?"), "the key is never written into the file: {secret}");
    assert!(matches!(core["environment"]["DATABASE_URL"].as_str(), Some(url) if url.contains("@postgres:5432/")));
}

#[test]
fn each_provider_edge_attaches_with_its_own_credential() {
    let compose = &YamlLoader::load_from_str(&repo_file("docker-compose.yml")).unwrap()[0];
    let core = &compose["services"]["core"]["environment"];
    assert!(core["ASSISTCHAT_EDGE_TOKEN"].is_badvalue(), "no shared edge credential: each provider has its own");
    let mut credentials = BTreeSet::new();
    for (service, provider) in [("telegram", "TELEGRAM"), ("zoom", "ZOOM")] {
        let variable = format!("{}{provider}", assistchat_core::config::EDGE_TOKEN_PREFIX);
        let on_core = core[variable.as_str()].as_str().unwrap_or_else(|| panic!("core has no {variable}"));
        let on_edge = compose["services"][service]["environment"]["ASSISTCHAT_EDGE_TOKEN"].as_str().unwrap();
        assert_eq!(on_edge, on_core, "{service} attaches with core's {variable}");
        assert!(on_core.starts_with(&format!("${{{variable}:?")), "never written into the file: {on_core}");
        credentials.insert(on_core.to_owned());
    }
    assert_eq!(credentials.len(), 2, "the edges' credentials differ");
}

/// The command line of each binary the image holds, as the binary itself parses it.
fn command_line(binary: &str) -> Option<Command> {
    Some(match binary {
        "assistchat-core" => assistchat_core::cli::Cli::command(),
        "assistchat-edge-web" => assistchat_edge_web::cli::Cli::command(),
        "assistchat-edge-telegram" => assistchat_edge_telegram::Config::command(),
        "assistchat-edge-zoom" => assistchat_edge_zoom::Config::command(),
        _ => return None,
    })
}

/// The settings of the all-in-one `assistchat`: every component's, as its command line
/// flattens them.
fn all_in_one_settings() -> Vec<clap::Arg> {
    fn of<A: Args>() -> Vec<clap::Arg> {
        A::augment_args(Command::new("settings")).get_arguments().cloned().collect()
    }
    [
        of::<assistchat_core::Config>(),
        of::<assistchat_edge_web::Config>(),
        of::<assistchat_edge_telegram::TelegramSettings>(),
        of::<assistchat_edge_zoom::ZoomSettings>(),
    ]
    .concat()
}

/// The instructions of the Dockerfile's last stage (the image shipped), each as its keyword and
/// its arguments, with continued lines joined and comments left out.
fn image_instructions() -> Vec<(String, String)> {
    let mut instructions: Vec<(String, String)> = Vec::new();
    let mut pending = String::new();
    for line in repo_file("Dockerfile").lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && pending.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(continued) => pending.push_str(continued),
            None => {
                pending.push_str(line);
                let joined = std::mem::take(&mut pending);
                let (keyword, arguments) = joined.trim().split_once(char::is_whitespace).unwrap_or((joined.trim(), ""));
                instructions.push((keyword.to_uppercase(), arguments.trim().to_owned()));
            }
        }
    }
    let last_stage = instructions.iter().rposition(|(keyword, _)| keyword == "FROM").expect("a FROM");
    instructions.split_off(last_stage)
}

/// The arguments of the image's instructions named `keyword`, in order.
fn image(keyword: &str) -> Vec<String> {
    image_instructions().into_iter().filter(|(k, _)| k == keyword).map(|(_, arguments)| arguments).collect()
}

/// The image's environment, from its `ENV key=value ...` instructions.
fn image_env() -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for arguments in image("ENV") {
        for pair in arguments.split_whitespace() {
            let (name, value) = pair.split_once('=').unwrap_or_else(|| panic!("ENV {pair}: write it as key=value"));
            env.insert(name.to_owned(), value.trim_matches('"').to_owned());
        }
    }
    env
}

/// The one volume the image declares.
fn image_volume() -> String {
    let volumes = image("VOLUME");
    assert_eq!(volumes.len(), 1, "one VOLUME, for the data: {volumes:?}");
    volumes[0].trim_matches(['[', ']', '"']).to_owned()
}

/// The command of the image's HEALTHCHECK, in exec form.
fn image_health_check() -> Vec<String> {
    let checks = image("HEALTHCHECK");
    assert_eq!(checks.len(), 1, "one HEALTHCHECK: {checks:?}");
    let (_, command) = checks[0].split_once("CMD ").expect("HEALTHCHECK [options] CMD [...]");
    serde_json::from_str(command.trim()).expect("the exec form, a JSON array: no shell is needed")
}

/// Runs the all-in-one `assistchat` with nothing in its environment but `env`.
async fn run_assistchat(args: Vec<String>, env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_assistchat"))
            .env_clear()
            .envs(env)
            .args(args)
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap()
}

#[test]
fn the_image_serves_on_every_interface_with_its_data_on_its_volume() {
    let env = image_env();
    let settings = all_in_one_settings();
    let reads: BTreeSet<String> =
        settings.iter().filter_map(|arg| Some(arg.get_env()?.to_string_lossy().into_owned())).collect();
    for variable in env.keys() {
        assert!(reads.contains(variable), "the image sets {variable}, which assistchat does not read");
    }
    let exposed: BTreeSet<String> =
        image("EXPOSE").iter().flat_map(|ports| ports.split_whitespace()).map(str::to_owned).collect();
    // Every server the all-in-one runs by default listens on all interfaces, on a port exposed.
    let listens: Vec<&clap::Arg> = settings
        .iter()
        .filter(|arg| arg.get_env().is_some_and(|name| name.to_string_lossy().ends_with("_LISTEN")))
        .filter(|arg| !arg.get_default_values().is_empty())
        .collect();
    assert!(listens.len() >= 4, "core, the web edge and both webhook servers: {listens:?}");
    for arg in listens {
        let variable = arg.get_env().unwrap().to_string_lossy().into_owned();
        let listen = env.get(&variable).unwrap_or_else(|| panic!("the image leaves {variable} on loopback"));
        let address: std::net::SocketAddr = listen.parse().unwrap_or_else(|_| panic!("{variable}={listen}"));
        assert!(address.ip().is_unspecified(), "{variable}={listen} is not every interface");
        assert!(exposed.contains(&address.port().to_string()), "{variable}'s port is not exposed: {exposed:?}");
    }
    assert_eq!(env["ASSISTCHAT_WEB_LISTEN"], "0.0.0.0:8080", "the README's docker run -p 8080:8080");

    // The data directory is the volume, and the database is in it: nothing is lost with the
    // container.
    let volume = image_volume();
    assert_eq!(env.get("ASSISTCHAT_DATA_DIR"), Some(&volume), "the data directory is the volume");
    let database = match env.get("DATABASE_URL") {
        Some(url) => url.clone(),
        None => assistchat_core::Config::with_defaults(volume.clone().into()).database_url(),
    };
    assert!(database.starts_with(&format!("sqlite://{volume}/")), "{database} is not on the volume {volume}");
    // Made (and given to its user) before it is declared a volume: changes after VOLUME are lost.
    let instructions = image_instructions();
    let declared = instructions.iter().position(|(keyword, _)| keyword == "VOLUME").unwrap();
    let made = instructions.iter().position(|(keyword, arguments)| {
        keyword == "RUN" && arguments.contains(&format!("mkdir -p {volume}")) && arguments.contains("chown ")
    });
    assert!(made.is_some_and(|made| made < declared), "the volume's directory is made and owned before VOLUME");
}

#[test]
fn the_image_runs_as_an_unprivileged_user_of_its_own_who_owns_the_data() {
    let users = image("USER");
    assert_eq!(users.len(), 1, "{users:?}");
    let user = users[0].split(':').next().unwrap().to_owned();
    assert!(user != "root" && user != "0", "the image runs as root");
    let made = image("RUN").into_iter().find(|run| run.contains("useradd")).expect("a user is made");
    let words: Vec<&str> = made.split_whitespace().collect();
    let option = |name: &str| words.iter().position(|word| *word == name).map(|at| words[at + 1]);
    let uid = option("--uid").expect("a fixed uid");
    let at = words.iter().position(|word| *word == "useradd").unwrap();
    let name = words[at + 1..].iter().take_while(|word| **word != "&&").last().unwrap();
    assert!(user == uid || user == *name, "USER {user} is the user made ({name}, uid {uid})");
    assert_ne!(uid, "0");
    let volume = image_volume();
    assert!(made.contains(&format!("chown {name}:{name} {volume}")), "{name} owns {volume}: {made}");
}

#[tokio::test]
async fn the_images_health_check_is_a_command_of_the_binary_it_runs() {
    let check = image_health_check();
    let binary = check[0].as_str();
    assert!(repo_file("Dockerfile").contains(&format!("target/release/{binary} ")), "the image holds {binary}");
    let run = image("CMD");
    assert_eq!(run, [format!("[\"{binary}\"]")], "the health check asks the binary the image runs");
    // The command really is one of the binary's: its help says what it does.
    let mut help = check[1..].to_vec();
    help.push("--help".into());
    let helped = run_assistchat(help, Vec::new()).await;
    assert!(helped.status.success(), "{}", String::from_utf8_lossy(&helped.stderr));
    assert!(String::from_utf8_lossy(&helped.stdout).contains("ready"), "{}", String::from_utf8_lossy(&helped.stdout));
}

#[tokio::test]
async fn the_healthcheck_command_exits_0_for_a_ready_platform_and_1_otherwise() {
    let data = tempfile::tempdir().unwrap();
    let core = assistchat_core::Application::build(assistchat_core::Config::with_defaults(data.path().into()))
        .await
        .expect("core starts");
    let core_url = format!("http://{}", core.local_addr());
    let (stop_core, core_stopped) = tokio::sync::oneshot::channel::<()>();
    let core = tokio::spawn(core.run_until_stopped(async {
        let _ = core_stopped.await;
    }));
    let web = assistchat_edge_web::Application::build(assistchat_edge_web::Config::with_core(core_url))
        .await
        .expect("the web edge starts");
    let port = web.local_addr().port();
    let (stop_web, web_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(web.run_until_stopped(async {
        let _ = web_stopped.await;
    }));
    let check = || image_health_check()[1..].to_vec();
    let listening = |listen: String| vec![("ASSISTCHAT_WEB_LISTEN", listen)];

    let ready = run_assistchat(check(), listening(format!("127.0.0.1:{port}"))).await;
    assert!(ready.status.success(), "{}", String::from_utf8_lossy(&ready.stderr));
    // As in the container: the web edge on every interface is asked on loopback.
    let everywhere = run_assistchat(check(), listening(format!("0.0.0.0:{port}"))).await;
    assert!(everywhere.status.success(), "{}", String::from_utf8_lossy(&everywhere.stderr));

    // Core gone, the web edge still serves but is not ready.
    let _ = stop_core.send(());
    core.await.unwrap().expect("core stops cleanly");
    let not_ready = run_assistchat(check(), listening(format!("127.0.0.1:{port}"))).await;
    assert_eq!(not_ready.status.code(), Some(1));
    let why = String::from_utf8_lossy(&not_ready.stderr);
    assert!(why.contains("not ready") && why.contains("503"), "{why}");

    // Nothing listening at all.
    let _ = stop_web.send(());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let nothing = run_assistchat(check(), listening(closed.to_string())).await;
    assert_eq!(nothing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("cannot connect"));
}

/// The services of the compose file, by name.
fn services(compose: &Yaml) -> Vec<(String, &Yaml)> {
    let services = compose["services"].as_hash().expect("a services map");
    services.iter().map(|(name, service)| (name.as_str().unwrap().to_owned(), service)).collect()
}

#[test]
fn health_checks_in_compose_are_commands_of_their_binaries_and_services_wait_for_health() {
    let compose = &YamlLoader::load_from_str(&repo_file("docker-compose.yml")).unwrap()[0];
    let image_runs = image_health_check()[0].clone();
    let mut checked = BTreeSet::new();
    for (name, service) in services(compose) {
        let check = &service["healthcheck"];
        if let Some(command) = service["command"].as_vec() {
            let binary = command[0].as_str().unwrap();
            // The image's own check asks the all-in-one's web edge: a service running another
            // binary says what its health is instead.
            assert!(
                binary == image_runs || !check.is_badvalue(),
                "{name} runs {binary} but inherits the image's health check of {image_runs}"
            );
        }
        if check["disable"].as_bool() == Some(true) {
            continue;
        }
        let Some(test) = check["test"].as_vec() else { continue };
        let test: Vec<&str> = test.iter().map(|word| word.as_str().unwrap()).collect();
        assert_eq!(test[0], "CMD", "{name}: the exec form, no shell: {test:?}");
        if service["command"].is_badvalue() {
            continue; // Another project's image (PostgreSQL) with its own tools.
        }
        let binary = test[1];
        let mut line =
            command_line(binary).unwrap_or_else(|| panic!("{name}'s health check runs {binary}, no AssistChat binary"));
        assert!(repo_file("Dockerfile").contains(&format!("target/release/{binary} ")), "the image holds {binary}");
        let matches = line
            .try_get_matches_from_mut(&test[1..])
            .unwrap_or_else(|err| panic!("{name}: {binary} has no command {:?}: {err}", &test[2..]));
        assert_eq!(matches.subcommand_name(), Some("healthcheck"), "{name}: {test:?} checks, it does not serve");
        checked.insert(name);
    }
    assert_eq!(checked, BTreeSet::from(["core".to_owned(), "web".to_owned()]), "core and the web edge are checked");

    for (name, service) in services(compose) {
        for (dependency, condition) in service["depends_on"].as_hash().into_iter().flatten() {
            let dependency = dependency.as_str().unwrap();
            assert_eq!(
                condition["condition"].as_str(),
                Some("service_healthy"),
                "{name} waits for {dependency} to be healthy"
            );
            let theirs = &compose["services"][dependency]["healthcheck"];
            assert!(!theirs["test"].is_badvalue(), "{name} waits for {dependency}, which has no health check");
        }
        if name != "postgres" {
            assert!(
                service["depends_on"].as_hash().is_some(),
                "{name} starts in order: depends_on as a map with conditions"
            );
        }
    }
}

#[test]
fn core_keeps_its_data_on_the_images_volume() {
    let compose = &YamlLoader::load_from_str(&repo_file("docker-compose.yml")).unwrap()[0];
    let volumes: Vec<&str> =
        compose["services"]["core"]["volumes"].as_vec().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let volume = image_volume();
    assert!(volumes.iter().any(|mount| mount.ends_with(&format!(":{volume}"))), "{volumes:?} mount {volume}");
}
