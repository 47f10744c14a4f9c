//! Requests to servers a user chose (their own model server's base URL): they may not reach
//! inside the server's network.
//!
//! A user-set URL is checked when it is saved ([`Policy::check`]: its host, or every address its
//! name resolves to) and again on every connection ([`Policy::client`]: an HTTP client whose
//! resolver hands on only the addresses that pass, with the IP literals that bypass resolvers
//! checked before sending), so that a name that later resolves inside (DNS rebinding) is refused
//! too. That client follows no redirects and ignores proxies of the environment. The operator
//! allows exceptions with `ASSISTCHAT_OUTBOUND_ALLOW` ([`Policy::new`]); the URLs the operator
//! configures are theirs and are not checked.
//!
//! Layout: [`address`] decides which addresses are inside; [`bounded`] is the HTTP service under
//! the AI client that applies the checks and bounds what a server answers.

pub mod address;
pub mod bounded;

use std::{
    net::{IpAddr, SocketAddr},
    str::FromStr,
    sync::Arc,
    time::Duration,
};

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use crate::words::Phrase;

/// The longest a host name's resolution may take when a URL is saved.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest an outside server's message is repeated to a person, in characters.
pub const MAX_DETAIL_CHARS: usize = 200;

/// Resolves host names to addresses: the system's resolver, or one a test or an embedding
/// application provides.
pub type Resolver = Arc<dyn Resolve>;

/// Why a destination a user chose is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The host is, or resolves to, an address inside the server's network.
    #[error("{}", inside_text(.host, .address))]
    Inside {
        /// The URL's host as written (the address itself for an IP literal).
        host: String,
        /// The address refused.
        address: IpAddr,
    },
    /// The host name resolves to no address.
    #[error("{host} does not resolve to any address")]
    Unresolved {
        /// The host name.
        host: String,
    },
}

fn inside_text(host: &str, address: &IpAddr) -> String {
    if host == address.to_string() {
        format!("{address} is an address inside the server's network")
    } else {
        format!("{host} leads to {address}, an address inside the server's network")
    }
}

impl Refusal {
    /// What the person is told, with what to do.
    pub fn phrase(&self) -> Phrase<'_> {
        match self {
            Self::Inside { host, address } => Phrase::AddressInside { host, address: *address },
            Self::Unresolved { host } => Phrase::HostUnresolved(host),
        }
    }
}

/// The exceptions the operator allows: host names, and addresses as CIDR blocks.
#[derive(Clone, Debug, Default)]
struct Allow {
    /// Host names allowed whatever they resolve to, lower-case without a trailing dot.
    hosts: Vec<String>,
    /// Address blocks allowed.
    nets: Vec<IpNet>,
}

impl Allow {
    fn parse(entries: &[String]) -> Result<Self, String> {
        let mut allow = Self::default();
        for entry in entries.iter().map(|entry| entry.trim()).filter(|entry| !entry.is_empty()) {
            if let Ok(net) = IpNet::from_str(entry) {
                allow.nets.push(net.trunc());
            } else if let Ok(ip) = entry.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                allow.nets.push(IpNet::from(ip));
            } else if is_host_name(entry) {
                allow.hosts.push(host_key(entry));
            } else {
                return Err(format!(
                    "{entry:?} is not a host name, an IP address or a CIDR block; list entries such as \
                     127.0.0.1,10.0.0.0/8,ollama.internal separated by commas"
                ));
            }
        }
        Ok(allow)
    }

    fn allows_ip(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip) || net.contains(&canonical))
    }

    fn allows_host(&self, host: &str) -> bool {
        let key = host_key(host);
        self.hosts.contains(&key)
    }
}

/// A DNS name: labels of letters, digits, `-` and `_`, separated by dots.
fn is_host_name(text: &str) -> bool {
    let name = text.strip_suffix('.').unwrap_or(text);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        && !name.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

fn host_key(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The outbound policy for servers users chose.
#[derive(Clone)]
pub struct Policy {
    /// The operator's exceptions.
    allow: Arc<Allow>,
    /// Resolves host names, before the addresses are checked.
    resolver: Resolver,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy").field("allow", &self.allow).finish_non_exhaustive()
    }
}

impl Default for Policy {
    /// No exceptions, and the system's resolver.
    fn default() -> Self {
        Self { allow: Arc::default(), resolver: Arc::new(SystemResolver) }
    }
}

impl Policy {
    /// The policy with the operator's exceptions `allow` (hosts, IP addresses and CIDR blocks,
    /// as `ASSISTCHAT_OUTBOUND_ALLOW` lists them), resolving names with `resolver` (the
    /// system's when `None`). An entry that is none of those is an error naming it.
    pub fn new(allow: &[String], resolver: Option<Resolver>) -> Result<Self, String> {
        Ok(Self {
            allow: Arc::new(Allow::parse(allow)?),
            resolver: resolver.unwrap_or_else(|| Arc::new(SystemResolver)),
        })
    }

    /// Whether a connection to `ip` is allowed: it is outside the server's network, or the
    /// operator allowed it.
    pub fn permits(&self, ip: IpAddr) -> bool {
        address::inside(ip).is_none() || self.allow.allows_ip(ip)
    }

    fn check_ip(&self, host: &str, address: IpAddr) -> Result<(), Refusal> {
        if self.permits(address) { Ok(()) } else { Err(Refusal::Inside { host: host.to_owned(), address }) }
    }

    /// Checks the destination of `url` when it is saved: its IP address, or every address its
    /// host name resolves to now (a name the operator allowed is not resolved).
    pub async fn check(&self, url: &Url) -> Result<(), Refusal> {
        let name = match url.host() {
            None => return Err(Refusal::Unresolved { host: String::new() }),
            Some(Host::Ipv4(ip)) => return self.check_ip(&ip.to_string(), ip.into()),
            Some(Host::Ipv6(ip)) => return self.check_ip(&ip.to_string(), ip.into()),
            Some(Host::Domain(name)) => name,
        };
        if self.allow.allows_host(name) {
            return Ok(());
        }
        let unresolved = || Refusal::Unresolved { host: name.to_owned() };
        let parsed = Name::from_str(name).map_err(|_| unresolved())?;
        let resolved = tokio::time::timeout(RESOLVE_TIMEOUT, self.resolver.resolve(parsed)).await;
        let addresses: Vec<IpAddr> = match resolved {
            Ok(Ok(addresses)) => addresses.map(|address| address.ip()).collect(),
            Ok(Err(_)) | Err(_) => return Err(unresolved()),
        };
        if addresses.is_empty() {
            return Err(unresolved());
        }
        addresses.into_iter().try_for_each(|address| self.check_ip(name, address))
    }

    /// Checks the host of `url` when it is an IP address, before a request is sent: HTTP
    /// clients connect to IP literals without asking their resolver. Names pass here and are
    /// checked by [`Policy::client`]'s resolver on connection.
    pub fn check_literal(&self, url: &Url) -> Result<(), Refusal> {
        match url.host() {
            Some(Host::Ipv4(ip)) => self.check_ip(&ip.to_string(), ip.into()),
            Some(Host::Ipv6(ip)) => self.check_ip(&ip.to_string(), ip.into()),
            Some(Host::Domain(_)) => Ok(()),
            None => Err(Refusal::Unresolved { host: String::new() }),
        }
    }

    /// An HTTP client for servers users chose: it connects only to addresses that pass this
    /// policy when it connects (after resolution), follows no redirect, and uses no proxy of
    /// the environment (a proxy would connect for it, past the checks).
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .dns_resolver(Guarded(self.clone()))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|err| panic!("the HTTP client for user-set servers cannot be built: {err}"))
    }
}

/// The resolver of [`Policy::client`]: resolves through the policy's resolver and hands on only
/// the addresses the policy permits.
struct Guarded(Policy);

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let allowed_name = policy.allow.allows_host(&host);
            let addresses: Vec<SocketAddr> = policy.resolver.resolve(name).await?.collect();
            let (kept, refused): (Vec<_>, Vec<_>) =
                addresses.into_iter().partition(|address| allowed_name || policy.permits(address.ip()));
            if let Some(first) = refused.first() {
                tracing::warn!(host = %host, address = %first.ip(), "a user-set server's name resolves inside; not connecting there");
            }
            if kept.is_empty() {
                let refusal = match refused.first() {
                    Some(first) => Refusal::Inside { host, address: first.ip() },
                    None => Refusal::Unresolved { host },
                };
                return Err(Box::new(refusal) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// The system's resolver (getaddrinfo, on a blocking thread).
struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// The refusal somewhere in the sources of `err`, if the policy refused the connection.
pub fn refusal_in<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refusal> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(refusal) = err.downcast_ref::<Refusal>() {
            return Some(refusal);
        }
        current = err.source();
    }
    None
}

/// The first sentence of what an outside server said, without control characters, at most
/// [`MAX_DETAIL_CHARS`] characters: enough to tell a person what it meant, too little to carry
/// anything else it might send.
pub fn one_sentence(text: &str) -> String {
    let text = text.trim_start();
    let mut end = text.len();
    for (index, c) in text.char_indices() {
        let next = text[index + c.len_utf8()..].chars().next();
        if c == '\n' || c == '\r' || (matches!(c, '.' | '!' | '?') && next.is_none_or(char::is_whitespace)) {
            end = if c == '\n' || c == '\r' { index } else { index + c.len_utf8() };
            break;
        }
    }
    let sentence: String = text[..end].chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let sentence = sentence.trim_end();
    if sentence.chars().count() <= MAX_DETAIL_CHARS {
        return sentence.to_owned();
    }
    let mut cut: String = sentence.chars().take(MAX_DETAIL_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use std::{collections::HashMap, sync::Mutex};

    use super::*;

    /// Resolves the names it was given, and nothing else.
    #[derive(Default)]
    struct Names(Mutex<HashMap<String, Vec<IpAddr>>>);

    impl Resolve for Names {
        fn resolve(&self, name: Name) -> Resolving {
            let found = self.0.lock().unwrap().get(name.as_str()).cloned().unwrap_or_default();
            Box::pin(async move { Ok(Box::new(found.into_iter().map(|ip| SocketAddr::new(ip, 0))) as Addrs) })
        }
    }

    fn policy(allow: &[&str], names: &[(&str, &[&str])]) -> Policy {
        let resolver = Names::default();
        for (name, addresses) in names {
            let addresses = addresses.iter().map(|a| a.parse().unwrap()).collect();
            resolver.0.lock().unwrap().insert((*name).to_owned(), addresses);
        }
        let allow: Vec<String> = allow.iter().map(|entry| (*entry).to_owned()).collect();
        Policy::new(&allow, Some(Arc::new(resolver))).unwrap()
    }

    /// The URL parser is the WHATWG one reqwest also uses: numeric spellings of an address
    /// are that address, whatever is checked is what is connected to.
    #[test]
    fn numeric_spellings_are_the_addresses_they_spell() {
        let spellings = [
            ("http://2130706433/v1", "127.0.0.1"),
            ("http://0x7f000001/v1", "127.0.0.1"),
            ("http://0x7F.0.0.1/", "127.0.0.1"),
            ("http://0177.0.0.1/", "127.0.0.1"),
            ("http://0177.0000.0000.0001/", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://127.0.1/", "127.0.0.1"),
            ("http://0/", "0.0.0.0"),
            ("http://017700000001/", "127.0.0.1"),
            ("http://0xa9fea9fe/", "169.254.169.254"),
            ("http://169.254.43518/", "169.254.169.254"),
            ("http://0x0a.0.0.1/", "10.0.0.1"),
            ("http://127.0.0.1./", "127.0.0.1"),
            ("http://[::1]/", "::1"),
            ("http://[0:0:0:0:0:0:0:1]/", "::1"),
            ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
            ("http://[::ffff:7f00:1]/", "::ffff:127.0.0.1"),
            ("http://[fd00::1]/", "fd00::1"),
            ("http://[FE80::1]/", "fe80::1"),
        ];
        let strict = Policy::default();
        for (url, address) in spellings {
            let parsed = Url::parse(url).unwrap();
            let host = match parsed.host().unwrap() {
                Host::Ipv4(ip) => IpAddr::from(ip),
                Host::Ipv6(ip) => IpAddr::from(ip),
                Host::Domain(name) => panic!("{url} parsed as the name {name}"),
            };
            assert_eq!(host, address.parse::<IpAddr>().unwrap(), "{url}");
            assert!(strict.check_literal(&parsed).is_err(), "{url}");
        }
    }

    #[tokio::test]
    async fn names_are_refused_when_any_address_is_inside_or_none_resolves() {
        let policy = policy(&[], &[("evil.example", &["127.0.0.1"]), ("mixed.example", &["8.8.8.8", "10.0.0.1"])]);
        let check = |url: &str| {
            let (policy, url) = (policy.clone(), Url::parse(url).unwrap());
            async move { policy.check(&url).await }
        };
        let inside = check("http://evil.example:8080/v1").await.unwrap_err();
        assert_eq!(inside, Refusal::Inside { host: "evil.example".into(), address: "127.0.0.1".parse().unwrap() });
        assert_eq!(inside.to_string(), "evil.example leads to 127.0.0.1, an address inside the server's network");
        assert!(check("http://mixed.example/v1").await.is_err());
        let unresolved = check("http://nowhere.example/v1").await.unwrap_err();
        assert_eq!(unresolved.to_string(), "nowhere.example does not resolve to any address");
        let literal = check("http://0x7f000001/v1").await.unwrap_err();
        assert_eq!(literal.to_string(), "127.0.0.1 is an address inside the server's network");
    }

    #[tokio::test]
    async fn the_operators_exceptions_allow_addresses_blocks_and_names() {
        let policy = policy(
            &[" 127.0.0.1", "10.0.0.0/8", "Ollama.Internal", "fd00::/8", ""],
            &[("evil.example", &["127.0.0.1"]), ("ollama.internal", &["192.168.1.9"])],
        );
        for url in [
            "http://127.0.0.1:11434/v1",
            "http://2130706433:11434/v1",
            "http://[::ffff:127.0.0.1]/",
            "http://10.200.0.1/",
            "http://[fd12::1]/",
            "http://evil.example/",
            "http://ollama.internal:11434/v1",
            "http://OLLAMA.internal./v1",
        ] {
            assert_eq!(policy.check(&Url::parse(url).unwrap()).await, Ok(()), "{url}");
        }
        for url in ["http://127.0.0.2/", "http://[::1]/", "http://192.168.1.9/", "http://169.254.169.254/"] {
            assert!(policy.check(&Url::parse(url).unwrap()).await.is_err(), "{url}");
        }
        assert!(policy.permits("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn a_bad_exception_is_named() {
        for bad in ["10.0.0.0/33", "http://x", "a b", "-x.example", "300.1.2.3"] {
            let err = Allow::parse(&[bad.to_owned()]).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")) && err.contains("10.0.0.0/8"), "{err}");
        }
        let allow = Allow::parse(&["[::1]".into(), "192.168.0.7/16".into()]).unwrap();
        assert!(allow.allows_ip("::1".parse().unwrap()) && allow.allows_ip("192.168.200.1".parse().unwrap()));
    }

    #[tokio::test]
    async fn the_guarded_resolver_hands_on_only_what_passes() {
        let policy =
            policy(&["10.0.0.0/8"], &[("split.example", &["127.0.0.1", "10.0.0.5"]), ("evil.example", &["::1"])]);
        let guarded = Guarded(policy);
        let kept: Vec<SocketAddr> = guarded.resolve(Name::from_str("split.example").unwrap()).await.unwrap().collect();
        assert_eq!(kept, ["10.0.0.5:0".parse().unwrap()]);
        let err = guarded.resolve(Name::from_str("evil.example").unwrap()).await.err().unwrap();
        assert_eq!(
            refusal_in(err.as_ref()),
            Some(&Refusal::Inside { host: "evil.example".into(), address: "::1".parse().unwrap() })
        );
        let err = guarded.resolve(Name::from_str("nowhere.example").unwrap()).await.err().unwrap();
        assert_eq!(refusal_in(err.as_ref()), Some(&Refusal::Unresolved { host: "nowhere.example".into() }));
    }

    #[test]
    fn an_outside_message_is_cut_to_one_sentence() {
        assert_eq!(
            one_sentence("Incorrect API key provided: sk-***1234. You can find your API key at https://x.y/z."),
            "Incorrect API key provided: sk-***1234."
        );
        assert_eq!(one_sentence("The model gpt-4.1 does not exist"), "The model gpt-4.1 does not exist");
        assert_eq!(one_sentence("first line\nsecret second line"), "first line");
        assert_eq!(one_sentence("a\u{7}b! c"), "a b!");
        let long = one_sentence(&"x".repeat(5000));
        assert_eq!(long.chars().count(), MAX_DETAIL_CHARS);
        assert!(long.ends_with('…'));
        assert_eq!(one_sentence(""), "");
    }
}
