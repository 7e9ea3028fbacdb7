//! The push switches: the security product's per-item "push" toggles, applied
//! before any subscription.

use crate::catalog::{Item, PushKind, SAS, canonical_product, item_of, same_product};
use crate::config::{Config, Source};

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
