//! Helpers every tonic service layer shares: who is calling, from where, and time stamps.

use std::net::IpAddr;

use tonic::{Request, Status};

use crate::auth::{Accounts, Caller};

/// The caller of `request`, from its `authorization` metadata.
pub async fn caller<T>(accounts: &Accounts, request: &Request<T>) -> Result<Caller, Status> {
    let header = request.metadata().get("authorization").and_then(|value| value.to_str().ok());
    Ok(accounts.authenticate(header).await?)
}

/// The client's address: the peer's, or, when the peer is a trusted proxy (such as the web
/// edge), the nearest `x-forwarded-for` hop that is not itself a trusted proxy. Hops are read
/// from the right, since everything left of the last trusted proxy's entry is what the client
/// claimed and may be forged.
pub fn client_address<T>(request: &Request<T>, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = request.remote_addr()?.ip();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = request.metadata().get_all("x-forwarded-for").iter().filter_map(|value| value.to_str().ok());
    let hops: Vec<IpAddr> =
        forwarded.flat_map(|list| list.split(',')).filter_map(|hop| hop.trim().parse().ok()).collect();
    hops.iter().rev().find(|hop| !trusted_proxies.contains(hop)).or(hops.first()).copied().or(Some(peer))
}

/// A protobuf timestamp for Unix milliseconds.
pub fn timestamp(millis: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: millis.div_euclid(1000),
        nanos: i32::try_from(millis.rem_euclid(1000) * 1_000_000).expect("below one second"),
    }
}
