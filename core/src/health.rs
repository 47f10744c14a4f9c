//! Health as the standard `grpc.health.v1` service tells it, to balancers, orchestrators and the
//! web edge's readiness: every service served here by its full name, and the whole server as
//! "". All are SERVING from the moment core serves (its database opened and migrated before
//! that) and NOT_SERVING from the moment a stop is asked for; [`probe`] is the `healthcheck`
//! command's question.

use std::time::Duration;

use assistchat_proto::v1::{
    auth_service_server, bot_service_server, conversation_service_server, edge_service_server, profile_service_server,
    qr_service_server, resource_service_server,
};
use tonic::transport::Endpoint;
use tonic_health::{
    ServingStatus,
    pb::{HealthCheckRequest, health_check_response::ServingStatus as Answer, health_client::HealthClient},
    server::HealthReporter,
};

/// Every name health checks may ask about: the whole server (""), then each service.
pub const SERVICES: [&str; 8] = [
    "",
    auth_service_server::SERVICE_NAME,
    profile_service_server::SERVICE_NAME,
    resource_service_server::SERVICE_NAME,
    bot_service_server::SERVICE_NAME,
    conversation_service_server::SERVICE_NAME,
    qr_service_server::SERVICE_NAME,
    edge_service_server::SERVICE_NAME,
];

/// How long the `healthcheck` command waits for core's answer, connecting included.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Reports every one of [`SERVICES`] as `status`.
pub async fn report(reporter: &HealthReporter, status: ServingStatus) {
    for service in SERVICES {
        reporter.set_service_status(service, status).await;
    }
}

/// Asks the core listening on `listen` on this machine whether it serves, within `timeout`:
/// `Ok` when the whole server is SERVING, else what it answered or why it could not be asked.
pub async fn probe(listen: &str, timeout: Duration) -> Result<(), String> {
    let url = format!("http://{}", assistchat_http::local_address(listen));
    let asked = async {
        let endpoint = Endpoint::from_shared(url.clone()).map_err(|err| format!("{url}: {err}"))?;
        let channel = endpoint.connect().await.map_err(|err| format!("cannot connect to core at {url}: {err}"))?;
        let answer = HealthClient::new(channel)
            .check(HealthCheckRequest { service: String::new() })
            .await
            .map_err(|status| format!("core at {url} answered {:?}: {}", status.code(), status.message()))?;
        match answer.into_inner().status() {
            Answer::Serving => Ok(()),
            other => Err(format!("core at {url} is {}", other.as_str_name())),
        }
    };
    tokio::time::timeout(timeout, asked)
        .await
        .unwrap_or_else(|_| Err(format!("core at {url} did not answer within {} ms", timeout.as_millis())))
}
