//! The security product's catalog: its notification items, the event types
//! each item carries and the product's aliases: pure vocabulary, imported by
//! the config (to check sources) and by routing (which applies the switches,
//! in `route::switch`).

/// The security product's code, and the aliases it also answers to.
pub const SAS: &str = "Sas";
const SAS_ALIASES: [&str; 3] = ["sas", "aegis", "securitycenter"];

/// The security product's notification items.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Item {
    Incident,
    Alert,
    Baseline,
    Cspm,
    Agentless,
    MaliciousFile,
    Vulnerability,
    Rasp,
}

impl Item {
    pub const ALL: [Item; 8] = [
        Item::Incident,
        Item::Alert,
        Item::Baseline,
        Item::Cspm,
        Item::Agentless,
        Item::MaliciousFile,
        Item::Vulnerability,
        Item::Rasp,
    ];
    pub fn key(self) -> &'static str {
        match self {
            Item::Incident => "incident",
            Item::Alert => "alert",
            Item::Baseline => "baseline",
            Item::Cspm => "cspm",
            Item::Agentless => "agentless",
            Item::MaliciousFile => "malicious_file",
            Item::Vulnerability => "vulnerability",
            Item::Rasp => "rasp",
        }
    }
    pub fn from_key(s: &str) -> Option<Item> {
        Item::ALL.into_iter().find(|i| i.key() == s)
    }
}

/// Whether an event is a single finding or a periodic summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PushKind {
    Details,
    Overview,
}

impl PushKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PushKind::Details => "details",
            PushKind::Overview => "overview",
        }
    }
}

/// Canonical product code: `aegis` and `SecurityCenter` are the security
/// product too. Other products keep their own spelling.
pub fn canonical_product(product: &str) -> &str {
    if SAS_ALIASES.iter().any(|a| product.eq_ignore_ascii_case(a)) {
        SAS
    } else {
        product
    }
}

/// Two product codes name the same product (aliases and case ignored).
pub fn same_product(a: &str, b: &str) -> bool {
    canonical_product(a).eq_ignore_ascii_case(canonical_product(b))
}

/// The item and push kind of a security-product event type, if it is one.
pub fn item_of(event_type: &str) -> Option<(Item, PushKind)> {
    use PushKind::*;
    Some(match event_type {
        "Incident" => (Item::Incident, Details),
        "Suspicious" => (Item::Alert, Details),
        "System-Baseline-cnt" => (Item::Baseline, Overview),
        "Cspm-cnt" => (Item::Cspm, Overview),
        "Agentless" => (Item::Agentless, Details),
        "mfd SDK" => (Item::MaliciousFile, Details),
        "Vulnerability" => (Item::Vulnerability, Details),
        "Vulnerability-cnt" => (Item::Vulnerability, Overview),
        "Rasp" => (Item::Rasp, Details),
        _ => return None,
    })
}

/// The event types the catalog knows for a product (used to infer a missing
/// `eventType` from the prefix of the event name).
pub fn is_known_event_type(product: &str, event_type: &str) -> bool {
    canonical_product(product) == SAS && item_of(event_type).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases() {
        assert_eq!(canonical_product("aegis"), "Sas");
        assert_eq!(canonical_product("SecurityCenter"), "Sas");
        assert_eq!(canonical_product("ecs"), "ecs");
        assert!(same_product("sas", "AEGIS"));
    }

    #[test]
    fn items() {
        assert_eq!(
            item_of("Vulnerability-cnt"),
            Some((Item::Vulnerability, PushKind::Overview))
        );
        assert_eq!(
            item_of("mfd SDK"),
            Some((Item::MaliciousFile, PushKind::Details))
        );
        assert_eq!(item_of("Instance"), None);
        assert!(is_known_event_type("aegis", "Incident"));
        assert!(!is_known_event_type("ecs", "Incident"));
    }
}
