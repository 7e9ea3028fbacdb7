//! Routing, decided purely: push switch → the subscriptions whose product and
//! event-type scope covers the event → their filters → policy → contact groups
//! → contacts. Every covering subscription's verdict is recorded ("matched" or
//! the first filter that failed) so that the history can say why.
//!
//! Subscriptions are compiled once per config snapshot and indexed by
//! (product, event type), so an event costs a few hash lookups however many
//! subscriptions there are.

pub mod glob;
pub mod noise;
pub mod switch;

use crate::catalog;
use crate::config::{Config, Level, Subscription};
use crate::event::Event;
pub use crate::schedule;
use glob::Pattern;
use std::collections::{BTreeMap, HashMap};
pub use switch::{SwitchStop, push_switch};

/// What became of an event at routing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Routed,
    Unmatched,
    StoppedBySwitch,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Routed => "routed",
            Outcome::Unmatched => "unmatched",
            Outcome::StoppedBySwitch => "stopped_by_switch",
        }
    }
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "routed" => Some(Outcome::Routed),
            "unmatched" => Some(Outcome::Unmatched),
            "stopped_by_switch" => Some(Outcome::StoppedBySwitch),
            _ => None,
        }
    }
}

/// The verdict of one covering subscription on one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub subscription: String,
    pub matched: bool,
    /// Machine-readable: `matched`, `name_not_matched`, `level_not_matched`,
    /// `group_not_matched`, `resource_not_matched`, `content_keyword_missing`,
    /// `denied_by_name`, `denied_by_level`, `denied`, `excluded`.
    pub code: &'static str,
    /// A sentence for people.
    pub detail: String,
}

/// A covering subscription's verdict as routing decides it: cheap to make
/// (a shared name and a code) for each of thousands of subscriptions; the
/// sentence of [`Decision::detail`] is built from it and the event when the
/// decision is recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteDecision {
    pub subscription: std::sync::Arc<str>,
    pub matched: bool,
    pub code: &'static str,
    /// The code's argument, for the sentence: for `level_not_matched` the
    /// levels the subscription takes; for `excluded` the entry that
    /// dropped the event, `exclude[i]: its keys`.
    pub arg: Option<std::sync::Arc<str>>,
}

/// One contact an event goes to, with every subscription that led there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticePlan {
    pub contact: String,
    pub subscriptions: Vec<String>,
    /// Merge window, threshold and silence for this contact (None: send each event).
    pub noise: Option<noise::NoisePolicy>,
    /// Collected into the subscription's scheduled digest: (subscription, firing time).
    pub digest: Option<(String, i64)>,
    /// Outside the policy's active hours: held until (policy, opening time).
    pub hold: Option<(String, i64)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteResult {
    pub outcome: Outcome,
    pub switch: Option<SwitchStop>,
    pub decisions: Vec<RouteDecision>,
    pub notices: Vec<NoticePlan>,
}

impl RouteResult {
    /// What routing decides for a resolved event: nothing. It is matched to
    /// its firing alert (by [`noise::alert_identity`]) where the store
    /// decides, and goes to the contacts that were told of it.
    pub fn resolve() -> RouteResult {
        RouteResult {
            outcome: Outcome::Unmatched,
            switch: None,
            decisions: Vec::new(),
            notices: Vec::new(),
        }
    }
}

struct CompiledSubscription {
    name: std::sync::Arc<str>,
    /// Its levels, as the `level_not_matched` sentence lists them.
    levels_text: std::sync::Arc<str>,
    deny_list: bool,
    names: Vec<Pattern>,
    levels: Vec<Level>,
    groups: Vec<String>,
    resources: Vec<Pattern>,
    content_keywords: Vec<String>,
    exclude: Vec<CompiledExclude>,
    /// Contacts reached through the policy, in config order, deduplicated.
    contacts: Vec<u32>,
    window_ms: i64,
    silence_ms: i64,
    min_occurrences: u32,
    merge_by: Vec<String>,
    digest: Option<(schedule::Cron, jiff::tz::TimeZone)>,
    policy: String,
    active_hours: Option<(schedule::ActiveHours, crate::config::OutsideHours)>,
}

/// One `exclude` entry, compiled: empty lists match anything.
struct CompiledExclude {
    /// `exclude[i]: event_names: ...`, the verdict's argument.
    label: std::sync::Arc<str>,
    names: Vec<Pattern>,
    event_types: Vec<String>,
    levels: Vec<Level>,
    groups: Vec<String>,
    resources: Vec<Pattern>,
    content_keywords: Vec<String>,
}

impl CompiledExclude {
    fn new(i: usize, rule: &crate::config::ExcludeRule) -> CompiledExclude {
        CompiledExclude {
            label: format!("exclude[{i}]: {}", rule.describe()).into(),
            names: rule.event_names.iter().map(|n| Pattern::new(n)).collect(),
            event_types: rule.event_types.iter().map(|t| t.to_lowercase()).collect(),
            levels: rule.levels.clone(),
            groups: rule
                .groups
                .iter()
                .map(|g| g.trim().to_lowercase())
                .collect(),
            resources: rule.resources.iter().map(|r| Pattern::new(r)).collect(),
            content_keywords: rule
                .content_keywords
                .iter()
                .map(|k| k.to_lowercase())
                .collect(),
        }
    }

    /// Every key the entry gives matches the event.
    fn matches(&self, event: &Event, name: &str) -> bool {
        (self.names.is_empty() || self.names.iter().any(|p| p.matches(name)))
            && (self.event_types.is_empty()
                || self
                    .event_types
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(&event.event_type)))
            && (self.levels.is_empty() || self.levels.contains(&event.level))
            && (self.groups.is_empty() || groups_hit(&self.groups, event))
            && (self.resources.is_empty() || resources_hit(&self.resources, event))
            && (self.content_keywords.is_empty() || keywords_hit(&self.content_keywords, event))
    }
}

/// A silence, compiled: empty matcher lists match anything.
struct CompiledSilence {
    name: std::sync::Arc<str>,
    products: Vec<String>,
    event_types: Vec<String>,
    names: Vec<Pattern>,
    levels: Vec<Level>,
    resources: Vec<Pattern>,
    starts_ms: i64,
    ends_ms: i64,
}

impl CompiledSilence {
    fn new(s: &crate::config::Silence) -> CompiledSilence {
        CompiledSilence {
            name: s.name.as_str().into(),
            products: s.products.iter().map(|p| canonical_key(p)).collect(),
            event_types: s.event_types.iter().map(|t| t.to_lowercase()).collect(),
            names: s.event_names.iter().map(|n| Pattern::new(n)).collect(),
            levels: s.levels.clone(),
            resources: s.resources.iter().map(|r| Pattern::new(r)).collect(),
            starts_ms: s.starts_ms.unwrap_or(i64::MIN),
            ends_ms: s.ends_ms,
        }
    }

    /// Active when the event was received, and every matcher given matches.
    fn silences(&self, event: &Event, name: &str) -> bool {
        (self.starts_ms..self.ends_ms).contains(&event.received_ms)
            && (self.products.is_empty() || self.products.contains(&canonical_key(&event.product)))
            && (self.event_types.is_empty()
                || self
                    .event_types
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(&event.event_type)))
            && (self.names.is_empty() || self.names.iter().any(|p| p.matches(name)))
            && (self.levels.is_empty() || self.levels.contains(&event.level))
            && (self.resources.is_empty() || resources_hit(&self.resources, event))
    }
}

/// The compiled routing table of one config snapshot.
pub struct RoutingTable {
    subscriptions: Vec<CompiledSubscription>,
    silences: Vec<CompiledSilence>,
    contacts: Vec<String>,
    /// lowercased product ("" = any) → lowercased event type ("" = any) → subscription indexes.
    index: HashMap<String, HashMap<String, Vec<u32>>>,
}

impl RoutingTable {
    pub fn compile(config: &Config) -> RoutingTable {
        let contacts: Vec<String> = config.contacts.iter().map(|c| c.name.clone()).collect();
        let contact_idx: HashMap<&str, u32> = contacts
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        let groups: HashMap<&str, Vec<u32>> = config
            .contact_groups
            .iter()
            .map(|g| {
                let members = g
                    .contacts
                    .iter()
                    .filter_map(|c| contact_idx.get(c.as_str()).copied())
                    .collect();
                (g.name.as_str(), members)
            })
            .collect();
        let policies: HashMap<&str, Vec<u32>> = config
            .notification_policies
            .iter()
            .map(|p| {
                let mut members: Vec<u32> = Vec::new();
                for g in &p.contact_groups {
                    for c in groups.get(g.as_str()).into_iter().flatten() {
                        if !members.contains(c) {
                            members.push(*c);
                        }
                    }
                }
                (p.name.as_str(), members)
            })
            .collect();

        let mut index: HashMap<String, HashMap<String, Vec<u32>>> = HashMap::new();
        let policy_by_name: HashMap<&str, &crate::config::NotificationPolicy> = config
            .notification_policies
            .iter()
            .map(|p| (p.name.as_str(), p))
            .collect();
        let mut subscriptions = Vec::with_capacity(config.subscriptions.len());
        for (i, s) in config.subscriptions.iter().enumerate() {
            let products: Vec<String> = if s.products.is_empty() {
                vec![String::new()]
            } else {
                s.products.iter().map(|p| canonical_key(p)).collect()
            };
            let types: Vec<String> = if s.event_types.is_empty() {
                vec![String::new()]
            } else {
                s.event_types.iter().map(|t| t.to_lowercase()).collect()
            };
            for p in &products {
                for t in &types {
                    let slot = index
                        .entry(p.clone())
                        .or_default()
                        .entry(t.clone())
                        .or_default();
                    let i = u32::try_from(i).unwrap_or(u32::MAX);
                    if slot.last() != Some(&i) {
                        slot.push(i);
                    }
                }
            }
            let mut compiled =
                compile_subscription(s, policies.get(s.notification_policy.as_str()));
            if let Some(p) = policy_by_name.get(s.notification_policy.as_str()) {
                compiled.active_hours = p.active_hours.clone().map(|h| (h, p.outside_hours));
            }
            subscriptions.push(compiled);
        }
        RoutingTable {
            subscriptions,
            silences: config.silences.iter().map(CompiledSilence::new).collect(),
            contacts,
            index,
        }
    }

    pub fn subscription_count(&self) -> usize {
        self.subscriptions.len()
    }

    /// Indexes of the subscriptions whose product/event-type scope covers the event, in config order.
    fn covering(&self, event: &Event) -> Vec<u32> {
        let product = canonical_key(&event.product);
        let event_type = event.event_type.to_lowercase();
        let mut out: Vec<u32> = Vec::new();
        for p in [product.as_str(), ""] {
            let Some(by_type) = self.index.get(p) else {
                continue;
            };
            for t in [event_type.as_str(), ""] {
                if let Some(subs) = by_type.get(t) {
                    out.extend_from_slice(subs);
                }
                if event_type.is_empty() {
                    break;
                }
            }
            if product.is_empty() {
                break;
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Routes one event. Pure: the result depends only on the event, the
    /// config and the table.
    pub fn route(&self, config: &Config, event: &Event) -> RouteResult {
        if let Some(stop) = push_switch(config, &event.product, &event.event_type) {
            return RouteResult {
                outcome: Outcome::StoppedBySwitch,
                switch: Some(stop),
                decisions: Vec::new(),
                notices: Vec::new(),
            };
        }
        let name = event.name.to_lowercase();
        let mut decisions = Vec::new();
        // contact index → subscriptions, kept in first-reached order.
        let mut reached: BTreeMap<u32, Vec<&CompiledSubscription>> = BTreeMap::new();
        let mut order: Vec<u32> = Vec::new();
        // An active silence that matches: what the subscriptions match is not sent.
        let silence = self.silences.iter().find(|s| s.silences(event, &name));
        for i in self.covering(event) {
            let sub = &self.subscriptions[i as usize];
            let mut decision = evaluate(sub, event, &name);
            if let (true, Some(s)) = (decision.matched, silence) {
                decision.matched = false;
                decision.code = "silenced";
                decision.arg = Some(s.name.clone());
            }
            if decision.matched {
                for c in &sub.contacts {
                    let subs = reached.entry(*c).or_insert_with(|| {
                        order.push(*c);
                        Vec::new()
                    });
                    subs.push(sub);
                }
            }
            decisions.push(decision);
        }
        let notices: Vec<NoticePlan> = order
            .into_iter()
            .map(|c| {
                let subs = reached.remove(&c).unwrap_or_default();
                NoticePlan {
                    contact: self.contacts[c as usize].clone(),
                    noise: combined_noise(&subs, event),
                    digest: combined_digest(&subs, event),
                    hold: combined_hold(&subs, event),
                    subscriptions: subs.iter().map(|s| s.name.to_string()).collect(),
                }
            })
            .collect();
        RouteResult {
            outcome: if notices.is_empty() {
                Outcome::Unmatched
            } else {
                Outcome::Routed
            },
            switch: None,
            decisions,
            notices,
        }
    }
}

fn canonical_key(product: &str) -> String {
    catalog::canonical_product(product).to_lowercase()
}

fn compile_subscription(s: &Subscription, contacts: Option<&Vec<u32>>) -> CompiledSubscription {
    CompiledSubscription {
        name: s.name.as_str().into(),
        levels_text: level_list(&s.levels).into(),
        deny_list: s.deny_list,
        names: s.event_names.iter().map(|n| Pattern::new(n)).collect(),
        levels: s.levels.clone(),
        groups: s.groups.iter().map(|g| g.trim().to_lowercase()).collect(),
        resources: s.resources.iter().map(|r| Pattern::new(r)).collect(),
        content_keywords: s
            .content_keywords
            .iter()
            .map(|k| k.to_lowercase())
            .collect(),
        exclude: s
            .exclude
            .iter()
            .enumerate()
            .map(|(i, rule)| CompiledExclude::new(i, rule))
            .collect(),
        contacts: contacts.cloned().unwrap_or_default(),
        window_ms: s.merge_window.map_or(0, crate::duration_ms),
        silence_ms: s.silence.map_or(0, crate::duration_ms),
        min_occurrences: s.min_occurrences.max(1),
        merge_by: s.merge_by.clone(),
        digest: s.digest.as_ref().map(|d| {
            (
                d.cron.clone(),
                jiff::tz::TimeZone::get(&d.timezone).unwrap_or(jiff::tz::TimeZone::UTC),
            )
        }),
        policy: s.notification_policy.clone(),
        active_hours: None,
    }
}

/// Scheduled digest: when every subscription leading to the contact has one
/// (the earliest firing wins). The product's own overview events keep going
/// out on their own.
fn combined_digest(subs: &[&CompiledSubscription], event: &Event) -> Option<(String, i64)> {
    if matches!(
        catalog::item_of(&event.event_type),
        Some((_, catalog::PushKind::Overview))
    ) {
        return None;
    }
    let mut best: Option<(String, i64)> = None;
    for s in subs {
        let (cron, tz) = s.digest.as_ref()?;
        let at = cron.next_after(event.received_ms, tz)?;
        if best.as_ref().is_none_or(|(_, b)| at < *b) {
            best = Some((s.name.to_string(), at));
        }
    }
    best
}

/// Quiet hours: held only when every policy leading to the contact is
/// closed (and, for `critical_only`, the event is not critical).
fn combined_hold(subs: &[&CompiledSubscription], event: &Event) -> Option<(String, i64)> {
    let mut best: Option<(String, i64)> = None;
    for s in subs {
        let (hours, outside) = s.active_hours.as_ref()?;
        let open_at = hours.next_open(event.received_ms)?;
        if *outside == crate::config::OutsideHours::CriticalOnly && event.level == Level::Critical {
            return None;
        }
        if best.as_ref().is_none_or(|(_, b)| open_at < *b) {
            best = Some((s.policy.clone(), open_at));
        }
    }
    best
}

/// The noise rules for one contact reached by several subscriptions: the
/// smallest window, silence and threshold apply (a subscription without a
/// window wants every event).
fn combined_noise(subs: &[&CompiledSubscription], event: &Event) -> Option<noise::NoisePolicy> {
    let governing = subs
        .iter()
        .min_by_key(|s| (s.window_ms, s.silence_ms, s.min_occurrences))?;
    let window_ms = subs.iter().map(|s| s.window_ms).min().unwrap_or(0);
    let silence_ms = subs.iter().map(|s| s.silence_ms).min().unwrap_or(0);
    let min_occurrences = subs.iter().map(|s| s.min_occurrences).min().unwrap_or(1);
    // Without any rule there is no window to key, so no identity to compute.
    if !noise::has_rules(window_ms, silence_ms, min_occurrences) {
        return None;
    }
    let (identity, identity_text) = noise::identity(event, &governing.merge_by);
    Some(noise::NoisePolicy {
        window_ms,
        silence_ms,
        min_occurrences,
        identity,
        identity_text,
    })
}

fn level_list(levels: &[Level]) -> String {
    levels
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn evaluate(sub: &CompiledSubscription, event: &Event, name: &str) -> RouteDecision {
    // Only the verdict is decided here, for every covering subscription of
    // every event; the sentence is written when someone records or reads it.
    let verdict = |code: &'static str, arg: Option<&std::sync::Arc<str>>| RouteDecision {
        subscription: sub.name.clone(),
        matched: code == "matched",
        code,
        arg: arg.cloned(),
    };
    // Scope filters, in both modes.
    if !sub.groups.is_empty() && !groups_hit(&sub.groups, event) {
        return verdict("group_not_matched", None);
    }
    if !sub.resources.is_empty() && !resources_hit(&sub.resources, event) {
        return verdict("resource_not_matched", None);
    }
    if !sub.content_keywords.is_empty() && !keywords_hit(&sub.content_keywords, event) {
        return verdict("content_keyword_missing", None);
    }
    let name_hit = sub.names.is_empty() || sub.names.iter().any(|p| p.matches(name));
    let level_hit = sub.levels.is_empty() || sub.levels.contains(&event.level);
    if sub.deny_list {
        if name_hit && level_hit {
            return verdict(
                match (sub.names.is_empty(), sub.levels.is_empty()) {
                    (false, true) => "denied_by_name",
                    (true, false) => "denied_by_level",
                    _ => "denied",
                },
                None,
            );
        }
    } else {
        if !name_hit {
            return verdict("name_not_matched", None);
        }
        if !level_hit {
            return verdict("level_not_matched", Some(&sub.levels_text));
        }
    }
    // The allow filters matched: the first exclude entry the event matches
    // drops it.
    if let Some(x) = sub.exclude.iter().find(|x| x.matches(event, name)) {
        return verdict("excluded", Some(&x.label));
    }
    verdict("matched", None)
}

/// The event carries one of these groups (lowercased, trimmed).
fn groups_hit(groups: &[String], event: &Event) -> bool {
    event
        .groups()
        .any(|g| groups.iter().any(|s| s.eq_ignore_ascii_case(g)))
}

/// The event's resource or instance matches one of these patterns.
fn resources_hit(patterns: &[Pattern], event: &Event) -> bool {
    [event.resource.as_deref(), event.instance.as_deref()]
        .iter()
        .flatten()
        .any(|r| {
            let r = r.to_lowercase();
            patterns.iter().any(|p| p.matches(&r))
        })
}

/// The content holds one of these (lowercased) keywords.
fn keywords_hit(keywords: &[String], event: &Event) -> bool {
    let text = content_text(&event.content).to_lowercase();
    keywords.iter().any(|k| text.contains(k.as_str()))
}

impl RouteDecision {
    /// The sentence for people, from the verdict and the event it was about.
    pub fn detail(&self, event: &Event) -> String {
        let sub = &self.subscription;
        match self.code {
            "matched" => format!("matched {sub}"),
            "group_not_matched" => format!(
                "group {} is not among the groups of {sub}",
                event.group.as_deref().unwrap_or("(none)")
            ),
            "resource_not_matched" => format!(
                "resource {} is not among the resources of {sub}",
                event
                    .instance
                    .as_deref()
                    .or(event.resource.as_deref())
                    .unwrap_or("(none)")
            ),
            "content_keyword_missing" => {
                format!("the content holds none of the keywords of {sub}")
            }
            "denied_by_name" => format!("name {} is on the deny list of {sub}", event.name),
            "denied_by_level" => format!(
                "level {} is on the deny list of {sub}",
                event.level.as_str()
            ),
            "denied" => format!(
                "name {} at level {} is on the deny list of {sub}",
                event.name,
                event.level.as_str()
            ),
            "name_not_matched" => {
                format!("name {} is not among the event names of {sub}", event.name)
            }
            "level_not_matched" => format!(
                "level {} is not among {} in {sub}",
                event.level.as_str(),
                self.arg.as_deref().unwrap_or("")
            ),
            "excluded" => format!(
                "{} at level {} matches the filters of {sub} but is dropped by its {}",
                event.name,
                event.level.as_str(),
                self.arg.as_deref().unwrap_or("exclude list")
            ),
            "silenced" => format!(
                "{} at level {} matches {sub} but silence {} is active: not sent",
                event.name,
                event.level.as_str(),
                self.arg.as_deref().unwrap_or("?")
            ),
            "resolve" => format!(
                "resolves {}: sent to the contacts {sub} told of it",
                self.arg.as_deref().unwrap_or("?")
            ),
            "resolve_no_told_contact" => match self.arg.as_deref().filter(|a| !a.is_empty()) {
                Some(ids) => format!("resolves {ids}, but no contact was told of it: nothing sent"),
                None => "resolves no firing alert still open: nothing sent".to_string(),
            },
            other => format!("{other} ({sub})"),
        }
    }
}

/// The text content keywords are searched in: a string content as is, any
/// other JSON as its compact serialization.
fn content_text(content: &serde_json::Value) -> std::borrow::Cow<'_, str> {
    match content {
        serde_json::Value::String(s) => std::borrow::Cow::Borrowed(s),
        other => std::borrow::Cow::Owned(other.to_string()),
    }
}

#[cfg(test)]
mod tests;

/// Every decision code routing can record (the store keeps them as text).
pub const DECISION_CODES: [&str; 13] = [
    "matched",
    "name_not_matched",
    "level_not_matched",
    "group_not_matched",
    "resource_not_matched",
    "content_keyword_missing",
    "denied_by_name",
    "denied_by_level",
    "denied",
    "excluded",
    "silenced",
    "resolve",
    "resolve_no_told_contact",
];

/// The static code for a stored code string (unknown ones read as `denied`
/// never happens for records this build wrote; older codes map to "unknown").
pub fn decision_code(code: &str) -> &'static str {
    DECISION_CODES
        .iter()
        .find(|c| **c == code)
        .copied()
        .unwrap_or("unknown")
}

/// One immutable, compiled config: what ingest routes with and what the
/// dispatchers send with. Reload builds a new one and swaps it in.
pub struct Snapshot {
    pub config: Config,
    pub routing: RoutingTable,
    /// Hash of the config; stored with every event it routed.
    pub version: String,
    /// Contact name → index, for the per-message lookups of the dispatchers.
    contacts: HashMap<String, usize>,
    /// Subscription name → its template, for the subscriptions that have one.
    templates: HashMap<String, String>,
}

impl Snapshot {
    pub fn new(config: Config) -> Snapshot {
        let routing = RoutingTable::compile(&config);
        let version = config.version();
        let contacts = config
            .contacts
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        let templates = config
            .subscriptions
            .iter()
            .filter_map(|s| Some((s.name.clone(), s.template.clone()?)))
            .collect();
        Snapshot {
            config,
            routing,
            version,
            contacts,
            templates,
        }
    }

    pub fn contact(&self, name: &str) -> Option<&crate::config::Contact> {
        self.contacts.get(name).map(|i| &self.config.contacts[*i])
    }

    /// The template of the first of these subscriptions that has one.
    pub fn subscription_template(&self, subscriptions: &[String]) -> Option<&str> {
        subscriptions
            .iter()
            .find_map(|s| self.templates.get(s).map(String::as_str))
    }
}
