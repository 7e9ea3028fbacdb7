//! The security product's catalog: its notification items, the event types
//! each item carries, and the push switches that stop an item's events.

use crate::config::{Config, Item, Source};

/// The security product's code, and the aliases it also answers to.
pub const SAS: &str = "Sas";
const SAS_ALIASES: [&str; 3] = ["sas", "aegis", "securitycenter"];

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

/// Which push switch stopped an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchStop {
    pub source: String,
    pub item: Item,
    pub kind: PushKind,
}

impl SwitchStop {
    pub fn sentence(&self) -> String {
        format!(
            "push switch off for item {}/{} in source {}",
            self.item.key(),
            self.kind.as_str(),
            self.source
        )
    }
}

/// Applies the push switches: `Some` when a switch that is off stops the
/// event. No `sources` section, a product without a source, an event type
/// outside the catalog or an unlisted item: forwarded.
pub fn push_switch(config: &Config, product: &str, event_type: &str) -> Option<SwitchStop> {
    let sources: &[Source] = config.sources.as_deref()?;
    let (item, kind) = item_of(event_type)?;
    let source = sources.iter().find(|s| same_product(&s.product, product))?;
    // Items of the catalog belong to the security product only.
    if canonical_product(&source.product) != SAS {
        return None;
    }
    let switch = source.items.get(&item)?;
    let on = match kind {
        PushKind::Details => switch.details,
        PushKind::Overview => switch.overview,
    };
    (!on).then(|| SwitchStop {
        source: source.name.clone(),
        item,
        kind,
    })
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
