//! docker-compose.yml and the Dockerfile, checked against the binaries: every service runs a
//! binary the image holds, and every variable it sets is one that binary reads. (No container
//! engine is needed to run this.)

use std::collections::{BTreeMap, BTreeSet};

use clap::{Args, Command};
use yaml_rust2::YamlLoader;

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
