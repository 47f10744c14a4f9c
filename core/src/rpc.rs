//! Helpers every tonic service layer shares: who is calling, from where, and time stamps.

use std::{net::IpAddr, sync::Arc};

use ipnet::IpNet;
use tonic::{Request, Status};

use crate::auth::{Accounts, Caller};

/// The caller of `request`, from its `authorization` metadata.
pub async fn caller<T>(accounts: &Accounts, request: &Request<T>) -> Result<Caller, Status> {
    let header = request.metadata().get("authorization").and_then(|value| value.to_str().ok());
    Ok(accounts.authenticate(header).await?)
}

/// The peers whose `x-forwarded-for` is believed: addresses and networks (CIDRs), such as the
/// web edge's address.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// The proxies in `networks`.
    pub fn new(networks: impl IntoIterator<Item = IpNet>) -> Self {
        Self(networks.into_iter().collect())
    }

    /// Whether `address` is one of them (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains(&self, address: &IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|network| network.contains(&address))
    }
}

/// A trusted proxy from the command line or environment: an IP address (`10.0.0.5`, one host) or
/// a network (`10.0.0.0/8`, `fd00::/8`).
pub fn parse_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is neither an IP address nor a network such as 10.0.0.0/8"))
}

/// The client's address: the peer's, or, when the peer is a trusted proxy (such as the web
/// edge), the nearest `x-forwarded-for` hop that is not itself a trusted proxy. Hops are read
/// from the right, since everything left of the last trusted proxy's entry is what the client
/// claimed and may be forged.
pub fn client_address<T>(request: &Request<T>, trusted_proxies: &TrustedProxies) -> Option<IpAddr> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_are_addresses_or_networks() {
        let proxies = TrustedProxies::new(["10.0.0.0/8", "192.0.2.7", "fd00::/8"].map(|p| parse_proxy(p).unwrap()));
        for inside in ["10.1.2.3", "192.0.2.7", "fd12::1", "::ffff:10.9.9.9"] {
            assert!(proxies.contains(&inside.parse().unwrap()), "{inside}");
        }
        for outside in ["11.0.0.1", "192.0.2.8", "fe80::1"] {
            assert!(!proxies.contains(&outside.parse().unwrap()), "{outside}");
        }
        assert!(parse_proxy("proxy.internal").unwrap_err().contains("neither"));
    }
}
