//! Egress rules: which addresses Tocsin may send to. Checked on the resolved
//! address at connect time (a DNS name cannot dodge it by resolving to a
//! private address), and on IP-literal hosts before sending.

use crate::config::{Cidr, DeliveryConfig};
use std::net::IpAddr;

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

    pub fn check(&self, ip: IpAddr) -> Result<(), EgressRefused> {
        let refuse = |why: String| Err(EgressRefused { ip, why });
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
}
