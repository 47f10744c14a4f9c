//! `assistchat.v1.QrService` over [`build`]: public, rate-limited per client address, with
//! the CPU work on the blocking pool and a bound on how many codes are built at once.

use std::{
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use assistchat_proto::v1::{BuildQrRequest, BuildQrResponse, qr_service_server::QrService};
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};

use super::{build, spec::QrSpec, spec::level_to_proto};
use crate::{
    error::Error,
    rpc::{TrustedProxies, client_address},
    throttle::{Throttle, client_key},
};

/// The gRPC face of the QR builder.
pub struct QrApi {
    /// Codes built per client address.
    per_address: Throttle<IpAddr>,
    /// Peers whose `x-forwarded-for` is believed.
    trusted_proxies: TrustedProxies,
    /// Builds running at once: each may hold a decoded logo of up to 128 MiB.
    building: Arc<Semaphore>,
}

impl QrApi {
    /// The service, allowing each client address `per_minute` codes a minute (and as many in a
    /// burst).
    pub fn new(per_minute: u32, trusted_proxies: TrustedProxies) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            per_address: Throttle::new(f64::from(per_minute), Duration::from_secs(60) / per_minute.max(1)),
            trusted_proxies,
            building: Arc::new(Semaphore::new(cores * 2)),
        }
    }
}

#[tonic::async_trait]
impl QrService for QrApi {
    #[tracing::instrument(skip_all)]
    async fn build_qr(&self, request: Request<BuildQrRequest>) -> Result<Response<BuildQrResponse>, Status> {
        let key = client_key(client_address(&request, &self.trusted_proxies));
        // Taken before the work, so that codes asked for at once count like codes asked for in turn.
        match self.per_address.acquire(key, Instant::now()) {
            Ok(permit) => permit.keep(),
            Err(retry_after) => {
                return Err(Error::ResourceExhausted {
                    message: "too many QR codes from this address".into(),
                    retry_after,
                }
                .into());
            }
        }
        let spec = QrSpec::from_request(request.into_inner())?;
        let _permit = self.building.clone().acquire_owned().await.expect("the semaphore is never closed");
        let code = tokio::task::spawn_blocking(move || build(&spec))
            .await
            .map_err(|err| Error::Internal(format!("QR build task: {err}")))??;
        Ok(Response::new(BuildQrResponse {
            content_type: code.format.content_type().into(),
            file_name: code.format.file_name().into(),
            image: code.image,
            version: i32::from(code.version),
            module_count: i32::try_from(code.module_count).expect("at most 177"),
            error_correction: level_to_proto(code.level).into(),
        }))
    }
}
