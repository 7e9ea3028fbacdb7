//! Egress rules: which addresses Tocsin may send to. Checked on the resolved
//! address at connect time (a DNS name cannot dodge it by resolving to a
//! private address), and on IP-literal hosts before sending.

use crate::config::{Cidr, DeliveryConfig};
use std::net::{IpAddr, Ipv4Addr};

/// Refused always: the cloud metadata services (IPv4-mapped forms included
/// through [`Cidr::contains`]).
const BUILT_IN: [&str; 3] = ["169.254.0.0/16", "100.100.100.200/32", "fd00:ec2::254/128"];

/// Private, loopback, link-local and other non-public ranges, refused unless
/// `allow_private_networks` is true.
const PRIVATE: [&str; 14] = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/3",
    "::/128",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

#[derive(Clone, Debug)]
pub struct EgressPolicy {
    allow_private: bool,
    built_in: Vec<Cidr>,
    private: Vec<Cidr>,
    deny: Vec<Cidr>,
}

/// Why an address was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("refused by the egress rules: {ip} {why}")]
pub struct EgressRefused {
    pub ip: IpAddr,
    pub why: String,
}

impl EgressPolicy {
    pub fn new(allow_private: bool, deny: Vec<Cidr>) -> EgressPolicy {
        let parse = |list: &[&str]| -> Vec<Cidr> {
            list.iter().filter_map(|c| Cidr::parse(c).ok()).collect()
        };
        EgressPolicy {
            allow_private,
            built_in: parse(&BUILT_IN),
            private: parse(&PRIVATE),
            deny,
        }
    }

    pub fn from_config(d: &DeliveryConfig) -> EgressPolicy {
        EgressPolicy::new(d.allow_private_networks, d.deny_cidrs.clone())
    }

    /// Checks `ip` and, for IPv6 forms that carry an IPv4 address
    /// (IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`),
    /// the embedded IPv4 address too: a relay or translator would deliver to
    /// that address, so the IPv4 rules apply to it.
    pub fn check(&self, ip: IpAddr) -> Result<(), EgressRefused> {
        self.check_one(ip, ip)?;
        if let Some(v4) = embedded_v4(ip) {
            self.check_one(ip, IpAddr::V4(v4))?;
        }
        Ok(())
    }

    /// `ip` is what is reported; `target` is the address the rules test.
    fn check_one(&self, ip: IpAddr, target: IpAddr) -> Result<(), EgressRefused> {
        let refuse = |why: String| {
            let why = if target == ip {
                why
            } else {
                format!("embeds {target}, which {why}")
            };
            Err(EgressRefused { ip, why })
        };
        let ip = target;
        if self.built_in.iter().any(|c| c.contains(ip)) {
            return refuse("is a cloud metadata address (always refused)".into());
        }
        if let Some(c) = self.deny.iter().find(|c| c.contains(ip)) {
            return refuse(format!(
                "is in delivery.deny_cidrs ({}/{})",
                c.addr, c.prefix
            ));
        }
        if !self.allow_private && self.private.iter().any(|c| c.contains(ip)) {
            return refuse(
                "is a private, loopback or link-local address (set delivery.allow_private_networks: true to allow it)"
                    .into(),
            );
        }
        Ok(())
    }
}

/// The IPv4 address inside an IPv6 address that carries one (IPv4-mapped
/// forms are already covered by [`Cidr::contains`]).
fn embedded_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else { return None };
    let bits = u128::from(v6);
    let low32 = |b: u128| Ipv4Addr::from((b & 0xffff_ffff) as u32);
    // IPv4-compatible `::a.b.c.d` (deprecated, still routed by some stacks);
    // `::` and `::1` are IPv6's own unspecified and loopback addresses.
    if bits >> 32 == 0 && bits > 1 {
        return Some(low32(bits));
    }
    // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052).
    if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        return Some(low32(bits));
    }
    // 6to4 2002::/16: the IPv4 address is bits 16 to 47 (RFC 3056).
    if bits >> 112 == 0x2002 {
        return Some(low32(bits >> 80));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn built_in_refusals_whatever_the_settings() {
        let p = EgressPolicy::new(true, vec![]);
        for a in [
            "169.254.169.254",
            "100.100.100.200",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "::ffff:100.100.100.200",
        ] {
            assert!(p.check(ip(a)).is_err(), "{a}");
        }
        assert!(p.check(ip("127.0.0.1")).is_ok());
        assert!(p.check(ip("10.1.2.3")).is_ok());
    }

    #[test]
    fn private_ranges_need_the_switch() {
        let p = EgressPolicy::new(false, vec![]);
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "::1",
            "fe80::1",
            "fd12::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
        ] {
            let e = p.check(ip(a)).unwrap_err();
            assert!(e.to_string().contains("allow_private_networks"), "{a}: {e}");
        }
        assert!(p.check(ip("203.0.113.7")).is_ok());
        assert!(p.check(ip("2001:db8::1")).is_ok());
    }

    #[test]
    fn deny_cidrs_add_to_the_list() {
        let p = EgressPolicy::new(true, vec![Cidr::parse("203.0.113.0/24").unwrap()]);
        assert!(
            p.check(ip("203.0.113.9"))
                .unwrap_err()
                .to_string()
                .contains("deny_cidrs")
        );
        assert!(p.check(ip("198.51.100.1")).is_ok());
    }

    #[test]
    fn ipv4_embedded_in_ipv6_gets_the_ipv4_rules() {
        // Metadata addresses: refused even with private networks allowed.
        let open = EgressPolicy::new(true, vec![]);
        for a in [
            "::169.254.169.254",
            "64:ff9b::169.254.169.254",
            "64:ff9b::100.100.100.200",
            "2002:a9fe:a9fe::1",
            "2002:6464:64c8::",
        ] {
            let e = open.check(ip(a)).unwrap_err();
            assert!(e.to_string().contains("metadata"), "{a}: {e}");
        }
        assert!(open.check(ip("64:ff9b::7f00:1")).is_ok());
        // Loopback and private ranges: refused unless allowed.
        let closed = EgressPolicy::new(false, vec![]);
        for a in [
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::192.168.1.1",
            "2002:7f00:1::1",
            "2002:c0a8:101::",
            "2002:0a00:0001:ffff::1",
        ] {
            let e = closed.check(ip(a)).unwrap_err();
            assert!(e.to_string().contains("allow_private_networks"), "{a}: {e}");
            assert!(e.to_string().contains("embeds"), "{a}: {e}");
        }
        // Public IPv4 inside: allowed.
        for a in ["64:ff9b::203.0.113.7", "2002:cb00:7107::1", "::203.0.113.7"] {
            assert!(closed.check(ip(a)).is_ok(), "{a}");
        }
        // deny_cidrs apply to the embedded address as well.
        let deny = EgressPolicy::new(true, vec![Cidr::parse("203.0.113.0/24").unwrap()]);
        assert!(deny.check(ip("2002:cb00:7107::1")).is_err());
    }
}
