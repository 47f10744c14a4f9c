//! Which IP addresses are inside the server's network (or nowhere a server of the internet can
//! be): loopback, private, link-local (the cloud metadata address among them), shared (CGNAT),
//! unique-local, unspecified, multicast, broadcast, documentation, benchmarking and reserved
//! ranges, and the IPv6 forms that carry an IPv4 address inside (mapped, translated, NAT64,
//! 6to4) when the address they carry is one of those.
//!
//! IPv6 is judged deny-by-default: only global unicast (`2000::/3`) is outside, less the ranges
//! below; everything else is reserved by the IANA registry and no model server lives there.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 ranges refused: (first address, prefix length, what the range is).
const V4_INSIDE: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "this network (0.0.0.0/8)"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private (10.0.0.0/8)"),
    (Ipv4Addr::new(100, 64, 0, 0), 10, "shared address space (CGNAT, 100.64.0.0/10)"),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback (127.0.0.0/8)"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link-local (169.254.0.0/16, cloud metadata)"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private (172.16.0.0/12)"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, "IETF protocol assignments (192.0.0.0/24)"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation (192.0.2.0/24)"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, "6to4 relay anycast (192.88.99.0/24)"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private (192.168.0.0/16)"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking (198.18.0.0/15)"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation (198.51.100.0/24)"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation (203.0.113.0/24)"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast (224.0.0.0/4)"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved (240.0.0.0/4, with the broadcast address)"),
];

/// IPv6 ranges refused inside global unicast, or named for a clearer reason than "reserved".
const V6_INSIDE: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::UNSPECIFIED, 128, "unspecified (::)"),
    (Ipv6Addr::LOCALHOST, 128, "loopback (::1)"),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96, "IPv4-compatible (::/96, deprecated)"),
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, "local-use NAT64 (64:ff9b:1::/48)"),
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64, "discard-only (100::/64)"),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, "IETF protocol assignments and Teredo (2001::/23)"),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, "documentation (2001:db8::/32)"),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, "documentation (3fff::/20)"),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, "unique-local (fc00::/7)"),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "link-local (fe80::/10)"),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, "site-local (fec0::/10, deprecated)"),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "multicast (ff00::/8)"),
];

/// What range `ip` is in when it is inside the server's network or reserved; `None` for an
/// address of the internet.
pub fn inside(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => inside_v4(ip),
        IpAddr::V6(ip) => inside_v6(ip),
    }
}

fn inside_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let bits = u32::from(ip);
    V4_INSIDE
        .iter()
        .find(|(first, prefix, _)| bits >> (32 - prefix) == u32::from(*first) >> (32 - prefix))
        .map(|(_, _, what)| *what)
}

fn inside_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some((v4, form)) = embedded_v4(ip) {
        return inside_v4(v4).map(|_| form);
    }
    let bits = u128::from(ip);
    let named = V6_INSIDE
        .iter()
        .find(|(first, prefix, _)| bits >> (128 - prefix) == u128::from(*first) >> (128 - prefix))
        .map(|(_, _, what)| *what);
    // Global unicast is 2000::/3; the rest of the space is reserved.
    named.or((bits >> 125 != 1).then_some("reserved IPv6 (outside 2000::/3)"))
}

/// The IPv4 address an IPv6 address stands for, and the form's name: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and
/// 6to4 (`2002:aabb:ccdd::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<(Ipv4Addr, &'static str)> {
    let s = ip.segments();
    let last = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some((last, "IPv4-mapped IPv6 of an inside address")),
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some((last, "IPv4-translated IPv6 of an inside address")),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some((last, "NAT64 of an inside address")),
        [0x2002, high, low, ..] => {
            Some((Ipv4Addr::from((u32::from(high) << 16) | u32::from(low)), "6to4 of an inside address"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        inside(text.parse().unwrap_or_else(|_| panic!("{text} is an address"))).is_some()
    }

    #[test]
    fn every_inside_ipv4_range_is_refused_at_both_ends() {
        let ranges = [
            ("0.0.0.0", "0.255.255.255"),
            ("10.0.0.0", "10.255.255.255"),
            ("100.64.0.0", "100.127.255.255"),
            ("127.0.0.0", "127.255.255.255"),
            ("169.254.0.0", "169.254.255.255"),
            ("172.16.0.0", "172.31.255.255"),
            ("192.0.0.0", "192.0.0.255"),
            ("192.0.2.0", "192.0.2.255"),
            ("192.88.99.0", "192.88.99.255"),
            ("192.168.0.0", "192.168.255.255"),
            ("198.18.0.0", "198.19.255.255"),
            ("198.51.100.0", "198.51.100.255"),
            ("203.0.113.0", "203.0.113.255"),
            ("224.0.0.0", "239.255.255.255"),
            ("240.0.0.0", "255.255.255.255"),
        ];
        for (first, last) in ranges {
            assert!(refused(first) && refused(last), "{first} - {last}");
        }
        for named in ["127.0.0.1", "169.254.169.254", "255.255.255.255", "0.0.0.0", "100.100.100.200"] {
            assert!(refused(named), "{named}");
        }
    }

    #[test]
    fn the_addresses_next_to_the_ranges_are_the_internets() {
        let neighbours = [
            "1.0.0.0",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "191.255.255.255",
            "192.0.1.0",
            "192.0.3.0",
            "192.88.98.255",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "203.0.112.255",
            "203.0.114.0",
            "223.255.255.255",
            "8.8.8.8",
            "93.184.216.34",
        ];
        for address in neighbours {
            assert!(!refused(address), "{address}");
        }
    }

    #[test]
    fn every_inside_ipv6_range_is_refused() {
        let inside = [
            "::",
            "::1",
            "::2",
            "::7f00:1",
            "::8.8.8.8",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:1ff:ffff::1",
            "2001:db8::1",
            "3fff::1",
            "3fff:fff::1",
            "fc00::1",
            "fd00::1",
            "fdff:ffff::1",
            "fe80::1",
            "febf:ffff::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            // Reserved space outside global unicast.
            "1::1",
            "4000::1",
            "e000::1",
            "1fff:ffff::1",
        ];
        for address in inside {
            assert!(refused(address), "{address}");
        }
        for outside in ["2000::1", "2001:200::1", "2606:4700:4700::1111", "2a00:1450:4001::1", "3fff:1000::1"] {
            assert!(!refused(outside), "{outside}");
        }
    }

    #[test]
    fn ipv6_forms_of_an_inside_ipv4_address_are_inside() {
        for inside_v4 in ["127.0.0.1", "10.1.2.3", "169.254.169.254", "192.168.1.1", "100.64.0.1", "0.0.0.0"] {
            for form in [
                format!("::ffff:{inside_v4}"),
                format!("::ffff:0:{inside_v4}"),
                format!("64:ff9b::{inside_v4}"),
                format!("::{inside_v4}"),
            ] {
                assert!(refused(&form), "{form}");
            }
        }
        // 6to4 carries the IPv4 address in its second and third groups.
        for inside_6to4 in ["2002:7f00:1::1", "2002:a9fe:a9fe::", "2002:c0a8:101::1", "2002:a00:1::"] {
            assert!(refused(inside_6to4), "{inside_6to4}");
        }
        // The same forms of an address of the internet lead to the internet.
        for outside in ["::ffff:8.8.8.8", "::ffff:0:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1"] {
            assert!(!refused(outside), "{outside}");
        }
    }

    #[test]
    fn the_reason_names_the_range() {
        assert_eq!(inside("127.0.0.1".parse().unwrap()), Some("loopback (127.0.0.0/8)"));
        assert!(inside("169.254.169.254".parse().unwrap()).unwrap().contains("metadata"));
        assert!(inside("::ffff:10.0.0.1".parse().unwrap()).unwrap().contains("IPv4-mapped"));
        assert_eq!(inside("8.8.8.8".parse().unwrap()), None);
    }
}
