//! Settings of the web edge, from flags and environment variables.

use std::net::IpAddr;

use clap::{Args, ValueEnum};
use ipnet::IpNet;

/// When the session cookie is marked `Secure` (and named with the `__Host-` prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SecureCookies {
    /// When the request came over HTTPS: directly, or through a proxy saying
    /// `X-Forwarded-Proto: https` (only a trusted proxy, once `ASSISTCHAT_TRUSTED_PROXIES` is
    /// set). Plain-HTTP localhost keeps working.
    Auto,
    /// Always: the site is only ever served over HTTPS.
    Always,
    /// Never (plain-HTTP deployments behind a private network only).
    Never,
}

/// Settings of the web edge.
#[derive(Clone, Debug, Args)]
#[group(id = "web")]
pub struct Config {
    /// Address (host:port) the web pages and JSON API listen on.
    #[arg(long, env = "ASSISTCHAT_WEB_LISTEN", default_value = "127.0.0.1:8080")]
    pub web_listen: String,

    /// The core's gRPC address.
    #[arg(long, env = "ASSISTCHAT_CORE_URL", default_value = "http://127.0.0.1:50051")]
    pub core_url: String,

    /// When the session cookie is `Secure` with the `__Host-` prefix: auto, always or never.
    #[arg(long, env = "ASSISTCHAT_SECURE_COOKIES", value_enum, default_value = "auto")]
    pub secure_cookies: SecureCookies,

    /// Proxies in front of the web edge (a TLS terminator, a load balancer) whose
    /// `X-Forwarded-For` and `X-Forwarded-Proto` are believed: comma-separated IPs or networks
    /// such as `10.0.0.0/8`. A request from one of them is counted by core as the browser's
    /// address (the rightmost `X-Forwarded-For` hop that is not a trusted proxy); from anyone
    /// else the header is ignored. The same variable as core's, which the one-command platform
    /// reads for both.
    #[arg(
        id = "web_trusted_proxies",
        long = "web-trusted-proxies",
        env = "ASSISTCHAT_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_proxy
    )]
    pub trusted_proxies: Vec<IpNet>,
}

/// A trusted proxy: an IP address (`10.0.0.5`, one host) or a network (`10.0.0.0/8`).
pub fn parse_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is neither an IP address nor a network such as 10.0.0.0/8"))
}

impl Config {
    /// The defaults, with core at `core_url`, listening on a free loopback port.
    pub fn with_core(core_url: impl Into<String>) -> Self {
        Self {
            web_listen: "127.0.0.1:0".into(),
            core_url: core_url.into(),
            secure_cookies: SecureCookies::Auto,
            trusted_proxies: Vec::new(),
        }
    }

    /// Whether `address` is a trusted proxy (an IPv4-mapped IPv6 address counts as its IPv4
    /// address).
    pub fn is_trusted_proxy(&self, address: &IpAddr) -> bool {
        let address = address.to_canonical();
        self.trusted_proxies.iter().any(|network| network.contains(&address))
    }

    /// The browser's address for a request whose connection came from `peer` with these
    /// `X-Forwarded-For` values: `peer` itself unless it is a trusted proxy; else the rightmost
    /// forwarded hop that is not a trusted proxy (everything left of it is what the client
    /// claimed and may be forged), the leftmost when all are trusted, `peer` when there is none.
    pub fn client_address<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        if !self.is_trusted_proxy(&peer) {
            return peer;
        }
        let hops: Vec<IpAddr> =
            forwarded.flat_map(|list| list.split(',')).filter_map(|hop| hop.trim().parse().ok()).collect();
        hops.iter().rev().find(|hop| !self.is_trusted_proxy(hop)).or(hops.first()).copied().unwrap_or(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_is_the_rightmost_hop_that_is_no_trusted_proxy() {
        let mut config = Config::with_core("http://127.0.0.1:50051");
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        let peer = ip("10.0.0.2");
        assert_eq!(config.client_address(peer, ["198.51.100.7"].into_iter()), peer, "no proxy is trusted");
        config.trusted_proxies = ["10.0.0.0/8", "192.0.2.1"].iter().map(|p| parse_proxy(p).unwrap()).collect();
        let forged = "203.0.113.66, 198.51.100.7, 192.0.2.1";
        assert_eq!(config.client_address(peer, [forged].into_iter()), ip("198.51.100.7"));
        assert_eq!(config.client_address(peer, ["10.1.1.1", "10.2.2.2"].into_iter()), ip("10.1.1.1"));
        assert_eq!(config.client_address(peer, std::iter::empty()), peer);
        assert_eq!(config.client_address(ip("198.51.100.9"), [forged].into_iter()), ip("198.51.100.9"));
        assert!(parse_proxy("nonsense").is_err());
    }
}
