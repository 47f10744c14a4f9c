//! `assistchat.v1.QrService` over [`build`]: public, rate-limited per client address, with
//! the CPU work on the blocking pool and a bound on how many codes are built at once.

use std::{
    net::{IpAddr, Ipv6Addr},
    sync::Arc,
    time::{Duration, Instant},
};

use assistchat_proto::v1::{BuildQrRequest, BuildQrResponse, qr_service_server::QrService};
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};

use super::{build, spec::QrSpec, spec::level_to_proto};
use crate::{error::Error, rpc::client_address, throttle::Throttle};

/// The gRPC face of the QR builder.
pub struct QrApi {
    /// Codes built per client address.
    per_address: Throttle<IpAddr>,
    /// Peers whose `x-forwarded-for` is believed.
    trusted_proxies: Arc<[IpAddr]>,
    /// Builds running at once: each may hold a decoded logo of up to 128 MiB.
    building: Arc<Semaphore>,
}

impl QrApi {
    /// The service, allowing each client address `per_minute` codes a minute (and as many in a
    /// burst).
    pub fn new(per_minute: u32, trusted_proxies: Arc<[IpAddr]>) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            per_address: Throttle::new(f64::from(per_minute), Duration::from_secs(60) / per_minute.max(1)),
            trusted_proxies,
            building: Arc::new(Semaphore::new(cores * 2)),
        }
    }
}

/// The key a client is limited by: its IPv4 address, or its IPv6 /64 (one subscriber's usual
/// allocation, which it can spread requests across at will).
fn rate_key(address: Option<IpAddr>) -> IpAddr {
    match address {
        Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        Some(IpAddr::V6(v6)) => IpAddr::V4(v6.to_ipv4_mapped().expect("checked")),
        Some(v4) => v4,
        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

#[tonic::async_trait]
impl QrService for QrApi {
    #[tracing::instrument(skip_all)]
    async fn build_qr(&self, request: Request<BuildQrRequest>) -> Result<Response<BuildQrResponse>, Status> {
        let key = rate_key(client_address(&request, &self.trusted_proxies));
        let now = Instant::now();
        if let Some(retry_after) = self.per_address.check(&key, now) {
            return Err(Error::ResourceExhausted {
                message: "too many QR codes from this address".into(),
                retry_after,
            }
            .into());
        }
        self.per_address.record(key, now);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_limited_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(rate_key(Some(a)), rate_key(Some(b)));
        assert_ne!(rate_key(Some(a)), rate_key(Some(c)));
        assert_eq!(rate_key(Some("::ffff:10.0.0.1".parse().unwrap())), rate_key(Some("10.0.0.1".parse().unwrap())));
    }
}
