//! The server itself: health, reflection, gRPC-web, request ids, start-up and shutdown.

use assistchat_core::{Application, Config};
use assistchat_proto::v1::{GetCurrentUserRequest, RegisterRequest, RegisterResponse};
use prost::Message;
use tokio_stream::StreamExt;
use tonic::Request;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

use crate::{
    both_backends,
    helpers::{Backend, authed, spawn_app, spawn_app_with, uuid_simple},
};

both_backends!(
    health_reports_every_service_serving,
    health_turns_not_serving_as_soon_as_a_stop_is_asked,
    reflection_describes_every_contract,
    grpc_web_calls_work_over_http1_with_cors,
    request_ids_are_taken_from_the_caller_or_made,
    shutdown_finishes_and_stops_listening,
);

async fn health_reports_every_service_serving(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut health = HealthClient::new(app.channel.clone());
    for service in EVERY_SERVICE {
        let status = health.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner();
        assert_eq!(status.status(), ServingStatus::Serving, "{service:?}");
    }
    let unknown = health.check(HealthCheckRequest { service: "nope.Service".into() }).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
}

/// The whole server (""), then every service of the contracts.
const EVERY_SERVICE: [&str; 8] = [
    "",
    "assistchat.v1.AuthService",
    "assistchat.v1.ProfileService",
    "assistchat.v1.ResourceService",
    "assistchat.v1.BotService",
    "assistchat.v1.ConversationService",
    "assistchat.v1.QrService",
    "assistchat.v1.EdgeService",
];

async fn health_turns_not_serving_as_soon_as_a_stop_is_asked(backend: Backend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let mut watches = Vec::new();
    for service in EVERY_SERVICE {
        let request = HealthCheckRequest { service: service.into() };
        let mut watch = HealthClient::new(app.channel.clone()).watch(request).await.unwrap().into_inner();
        let first = watch.message().await.unwrap().expect("the current status first");
        assert_eq!(first.status(), ServingStatus::Serving, "{service:?}");
        watches.push((service, watch));
    }
    app.ask_to_stop();
    for (service, watch) in &mut watches {
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), watch.message()).await;
        let next = next.expect("the change is told at once").unwrap().expect("a status");
        assert_eq!(next.status(), ServingStatus::NotServing, "{service:?}");
    }
    // The watches are streams in flight: once their callers let go, the stop completes.
    drop(watches);
    app.stop().await.expect("a clean stop");
}

#[tokio::test]
async fn the_healthcheck_command_exits_0_while_core_serves_and_1_otherwise() {
    let Some(mut app) = spawn_app(Backend::Sqlite).await else { return };
    let run = |listen: String| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_assistchat-core"))
                .env_clear()
                .env("ASSISTCHAT_CORE_LISTEN", listen)
                .args(["healthcheck", "--timeout", "3s"])
                .output()
                .expect("the binary runs")
        })
    };
    let serving = run(app.addr.to_string()).await.unwrap();
    assert!(serving.status.success(), "{}", String::from_utf8_lossy(&serving.stderr));
    // A core listening on every interface is asked on loopback.
    let everywhere = run(format!("0.0.0.0:{}", app.addr.port())).await.unwrap();
    assert!(everywhere.status.success(), "{}", String::from_utf8_lossy(&everywhere.stderr));
    app.stop().await.expect("a clean stop");
    let stopped = run(app.addr.to_string()).await.unwrap();
    assert_eq!(stopped.status.code(), Some(1));
    let why = String::from_utf8_lossy(&stopped.stderr);
    assert!(why.contains("not serving: cannot connect to core"), "{why}");
}

async fn reflection_describes_every_contract(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut reflection = ServerReflectionClient::new(app.channel.clone());
    let ask = |request: MessageRequest| {
        tokio_stream::once(ServerReflectionRequest { host: String::new(), message_request: Some(request) })
    };
    let mut answers =
        reflection.server_reflection_info(ask(MessageRequest::ListServices(String::new()))).await.unwrap().into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) = answers.next().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "assistchat.v1.AuthService",
        "assistchat.v1.ProfileService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} not in {names:?}");
    }
    let mut answers = reflection
        .server_reflection_info(ask(MessageRequest::FileContainingSymbol("assistchat.v1.AuthService".into())))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::FileDescriptorResponse(files)) = answers.next().await.unwrap().unwrap().message_response
    else {
        panic!("expected file descriptors");
    };
    let file = prost_types::FileDescriptorProto::decode(files.file_descriptor_proto[0].as_slice()).unwrap();
    assert_eq!(file.package(), "assistchat.v1");
    let methods: Vec<&str> = file.service[0].method.iter().map(|m| m.name()).collect();
    for rpc in ["Register", "Login", "Logout", "GetCurrentUser", "CreateApiToken", "ListApiTokens", "DeleteApiToken"] {
        assert!(methods.contains(&rpc), "{rpc} not in {methods:?}");
    }
}

/// A gRPC-web frame holding one message.
fn grpc_web_frame(message: &impl Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&body);
    frame
}

async fn grpc_web_calls_work_over_http1_with_cors(backend: Backend) {
    let origin = "https://app.example.com";
    let Some(app) = spawn_app_with(backend, |config| config.cors_origins = vec![origin.into()]).await else {
        return;
    };
    let client = reqwest::Client::builder().http1_only().build().unwrap();
    let url = format!("http://{}/assistchat.v1.AuthService/Register", app.addr);

    let preflight = client
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-grpc-web,authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], origin);
    let refused = client
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://evil.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());

    let request = RegisterRequest {
        email: format!("web.{}@example.com", &uuid_simple()[..8]),
        password: "a long enough passphrase".into(),
        display_name: "Web".into(),
        language_code: String::new(),
    };
    let response = client
        .post(&url)
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("origin", origin)
        .body(grpc_web_frame(&request))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    let body = response.bytes().await.unwrap();
    assert_eq!(body[0], 0, "a data frame comes first");
    let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
    let registered = RegisterResponse::decode(&body[5..5 + len]).unwrap();
    assert_eq!(registered.user.unwrap().email, request.email);
    let trailers = String::from_utf8_lossy(&body[5 + len + 5..]).to_lowercase();
    assert!(trailers.contains("grpc-status:0"), "{trailers}");

    // The session works over native gRPC too.
    let token = registered.session.unwrap().token;
    app.auth().get_current_user(authed(GetCurrentUserRequest {}, &token)).await.unwrap();
}

async fn request_ids_are_taken_from_the_caller_or_made(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut request = Request::new(GetCurrentUserRequest {});
    request.metadata_mut().insert("x-request-id", "edge-web-42".parse().unwrap());
    let status = app.auth().get_current_user(request).await.unwrap_err();
    assert_eq!(status.metadata().get("x-request-id").unwrap(), "edge-web-42");
    let status = app.auth().get_current_user(Request::new(GetCurrentUserRequest {})).await.unwrap_err();
    let made = status.metadata().get("x-request-id").expect("an id is made when none is given");
    assert!(made.len() >= 32, "{made:?}");
}

async fn shutdown_finishes_and_stops_listening(backend: Backend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.register("ann").await;
    app.stop().await.expect("a clean stop");
    let reconnect = tonic::transport::Endpoint::from_shared(format!("http://{}", app.addr)).unwrap().connect().await;
    assert!(reconnect.is_err(), "nothing listens after shutdown");
}

#[tokio::test]
async fn starts_with_no_configuration_on_sqlite_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("fresh");
    let app = Application::build(Config::with_defaults(data_dir.clone())).await.expect("starts with defaults");
    assert!(app.port() > 0);
    assert!(data_dir.join("assistchat.db").exists(), "database created in the data dir");
    assert!(data_dir.join("secret.key").exists(), "secret key generated in the data dir");
    let url = format!("sqlite://{}", data_dir.join("assistchat.db").display());
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut conn).await.unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn a_taken_port_is_a_clear_start_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = Config::with_defaults(dir.path().to_path_buf());
    config.listen = taken.local_addr().unwrap().to_string();
    let err = Application::build(config).await.err().expect("the port is taken");
    assert!(err.to_string().contains("ASSISTCHAT_CORE_LISTEN"), "{err}");
}
