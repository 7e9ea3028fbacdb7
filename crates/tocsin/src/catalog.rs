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

/// The security product's event types, as [`item_of`] knows them.
pub const EVENT_TYPES: [&str; 9] = [
    "Incident",
    "Suspicious",
    "System-Baseline-cnt",
    "Cspm-cnt",
    "Agentless",
    "mfd SDK",
    "Vulnerability",
    "Vulnerability-cnt",
    "Rasp",
];

/// What the security product's event names start with (`PREFIX:Name`): its
/// event types, and the item names its overviews and file findings use.
pub const EVENT_NAME_PREFIXES: [&str; 10] = [
    "Incident",
    "Suspicious",
    "System-Baseline-cnt",
    "Cspm-cnt",
    "Agentless",
    "Vulnerability",
    "Rasp",
    "Baseline",
    "Cspm",
    "MaliciousFile",
];

/// Common event names of the security product, by prefix (the part after
/// `PREFIX:`). Not every name the product sends: no public list exists (see
/// the event model), so a name outside these is only questioned when it is
/// a near miss of one of them (`Incident:BruteForse`).
pub fn event_names_of(prefix: &str) -> &'static [&'static str] {
    match prefix {
        "Incident" => &[
            "BruteForce",
            "DDoS",
            "Ransomware",
            "WebAttack",
            "Mining",
            "Intrusion",
            "LateralMovement",
            "DataExfiltration",
        ],
        "Suspicious" => &[
            "UnusualLogon",
            "MaliciousProcess",
            "Webshell",
            "MaliciousSoftware",
            "ReverseShell",
            "AbnormalNetwork",
            "SensitiveFileTampering",
            "PersistenceBackdoor",
        ],
        "Vulnerability" => &[
            "CVE",
            "Application",
            "System",
            "Emergency",
            "WeeklyOverview",
        ],
        "Rasp" => &[
            "Deserialization",
            "SqlInjection",
            "CommandExecution",
            "FileUpload",
            "Ssrf",
            "Jndi",
        ],
        "MaliciousFile" => &["Webshell", "Detected"],
        "Agentless" => &[
            "MaliciousSample",
            "MaliciousFile",
            "Vulnerability",
            "Baseline",
        ],
        "Baseline" | "Cspm" => &["WeeklyOverview"],
        _ => &[],
    }
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
        assert!(EVENT_TYPES.iter().all(|t| item_of(t).is_some()));
    }
}
