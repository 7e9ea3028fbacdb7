//! Dry-run a candidate subscription over the stored events: which events it
//! would have matched, and how many messages each contact would have got
//! after merge windows, thresholds and rate limits. Nothing is sent and
//! nothing is stored.

use crate::config::{self, Config, Diagnostic, RateLimit, Subscription};
use crate::route::RoutingTable;
use crate::route::noise::{self, NoiseDecision, Window};
use crate::store::{EventFilter, Store, StoreError};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// Most events a dry-run scans.
pub const MAX_SCAN: usize = 200_000;

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ContactForecast {
    /// Events that would have reached this contact.
    pub events: u64,
    /// Messages sent for them at once (first occurrences, thresholds reached).
    pub notifications: u64,
    /// Follow-up messages closing merge windows.
    pub follow_ups: u64,
    pub merged: u64,
    pub suppressed: u64,
    /// Events collected into scheduled digests or held for quiet hours.
    pub scheduled_events: u64,
    /// Scheduled digests and quiet-hours digests.
    pub scheduled: u64,
    /// After the bot's rate budget: digests replace what the budget could not take.
    pub messages: u64,
    pub digests: u64,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Forecast {
    pub scanned: u64,
    /// scanned = matched + stopped_by_switch + not_covered + the sum of
    /// not_matched.
    pub matched: u64,
    /// Stopped by a push switch before any subscription looked at them.
    pub stopped_by_switch: u64,
    /// Outside the subscription's products and event types.
    pub not_covered: u64,
    /// Inside its scope but not matched, by verdict code (`excluded`,
    /// `level_not_matched`, ...; `no_contact` when its policy reaches no
    /// contact).
    pub not_matched: BTreeMap<String, u64>,
    /// Of `not_matched.excluded`: how many each exclude entry dropped.
    pub excluded_by: BTreeMap<String, u64>,
    /// The first matched event ids (at most 100), oldest first.
    pub events: Vec<String>,
    pub contacts: BTreeMap<String, ContactForecast>,
}

/// YAML (or JSON, which is YAML) text of one subscription → JSON.
pub fn yaml_to_json(text: &str) -> Result<Value, String> {
    use config::yaml::Value as Y;
    fn conv(n: &config::yaml::Node) -> Value {
        match &n.value {
            Y::Null => Value::Null,
            Y::Bool(b) => json!(b),
            Y::Int(i) => json!(i),
            Y::Str(s) => json!(s),
            Y::Seq(items) => Value::Array(items.iter().map(conv).collect()),
            Y::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.text.clone(), conv(v)))
                    .collect(),
            ),
        }
    }
    config::yaml::parse(text)
        .map(|n| conv(&n))
        .map_err(|e| format!("line {}: {}", e.line, e.message))
}

/// A candidate's problem, with its path inside the candidate
/// (`levels[0]`, `exclude[1].event_names`; empty for the whole object).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Problem {
    pub path: String,
    pub message: String,
    pub warning: bool,
}

impl From<Diagnostic> for Problem {
    fn from(d: Diagnostic) -> Problem {
        let path = d
            .path
            .strip_prefix("subscriptions[0]")
            .map(|p| p.strip_prefix('.').unwrap_or(p).to_string())
            .unwrap_or(d.path);
        Problem {
            path,
            message: d.message,
            warning: d.warning,
        }
    }
}

/// Validates a candidate subscription (the config file's schema) against the
/// running config's objects: the subscription and its warnings, or its
/// errors.
pub fn candidate(
    config: &Config,
    subscription: &Value,
) -> Result<(Subscription, Vec<Problem>), Vec<Problem>> {
    let skeleton = json!({
        "contacts": config.contacts.iter().map(|c| json!({"name": c.name, "channel": "webhook", "webhook": "http://placeholder.invalid/"})).collect::<Vec<_>>(),
        "contact_groups": config.contact_groups.iter().map(|g| json!({"name": g.name, "contacts": g.contacts})).collect::<Vec<_>>(),
        "notification_policies": config.notification_policies.iter().map(|p| json!({"name": p.name, "contact_groups": p.contact_groups})).collect::<Vec<_>>(),
        "subscriptions": [subscription],
    });
    let loaded = config::load_str(&skeleton.to_string(), "subscription", &|_| None);
    // Only what is about the candidate: the skeleton's own objects may be
    // unused (a warning about them says nothing about the candidate).
    let (errors, warnings): (Vec<Problem>, Vec<Problem>) = loaded
        .diagnostics
        .into_iter()
        .filter(|d| !d.warning || d.path.starts_with("subscriptions[0]"))
        .map(Problem::from)
        .partition(|p| !p.warning);
    match loaded.config {
        Some(mut c) if errors.is_empty() => Ok((c.subscriptions.remove(0), warnings)),
        _ => Err(errors),
    }
}

/// Simulates one contact's sends under its rate limits: a message goes when
/// the sliding window has room; otherwise it waits with the backlog, and a
/// backlog larger than the room left is folded into one digest.
fn rate_limited(sends: &[i64], limits: &[RateLimit]) -> (u64, u64) {
    if limits.is_empty() {
        return (sends.len() as u64, 0);
    }
    let budgets = crate::dispatch::budget::Budgets::default();
    let (mut messages, mut digests) = (0u64, 0u64);
    let mut backlog: Vec<i64> = Vec::new();
    for &t in sends {
        // The backlog goes first when the window has room again.
        if !backlog.is_empty() && budgets.remaining("bot", limits, t) > 0 {
            let _ = budgets.try_take("bot", limits, t);
            messages += 1;
            if backlog.len() > 1 {
                digests += 1;
            }
            backlog.clear();
        }
        if backlog.is_empty() && budgets.try_take("bot", limits, t).is_ok() {
            messages += 1;
        } else {
            backlog.push(t);
        }
    }
    if !backlog.is_empty() {
        messages += 1;
        if backlog.len() > 1 {
            digests += 1;
        }
    }
    (messages, digests)
}

/// Runs the candidate over stored events received in [since, until).
pub async fn dry_run(
    store: &dyn Store,
    config: &Config,
    sub: Subscription,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
) -> Result<Forecast, StoreError> {
    let mut cfg = config.clone();
    cfg.subscriptions = vec![sub];
    // Oldest first, as they happened.
    let mut events = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_events(EventFilter {
                since_ms,
                until_ms,
                limit: 1000,
                cursor,
                ..Default::default()
            })
            .await?;
        events.extend(page.events.into_iter().map(|s| s.stored.event));
        match page.next_cursor {
            Some(c) if events.len() < MAX_SCAN => cursor = Some(c),
            _ => break,
        }
    }
    events.reverse();
    Ok(forecast(&events, config, cfg.subscriptions.remove(0)))
}

/// The forecast for events (oldest first) through one subscription: pure,
/// shared by the dry-run and `tocsin bench --noise`.
pub fn forecast(events: &[crate::event::Event], config: &Config, sub: Subscription) -> Forecast {
    let mut cfg = config.clone();
    cfg.subscriptions = vec![sub];
    let table = RoutingTable::compile(&cfg);
    let mut f = Forecast {
        scanned: events.len() as u64,
        ..Default::default()
    };
    let mut windows: HashMap<(String, String), Window> = HashMap::new();
    let mut sends: HashMap<String, Vec<i64>> = HashMap::new();
    let mut periods: std::collections::HashSet<(String, &'static str, String, i64)> =
        Default::default();
    for e in events {
        let r = table.route(&cfg, e);
        if r.notices.is_empty() {
            match r.decisions.first() {
                _ if r.switch.is_some() => f.stopped_by_switch += 1,
                None => f.not_covered += 1,
                Some(d) => {
                    let code = if d.matched { "no_contact" } else { d.code };
                    *f.not_matched.entry(code.to_string()).or_default() += 1;
                    if let (true, Some(entry)) = (d.code == "excluded", d.arg.as_deref()) {
                        *f.excluded_by.entry(entry.to_string()).or_default() += 1;
                    }
                }
            }
            continue;
        }
        f.matched += 1;
        if f.events.len() < 100 {
            f.events.push(e.id.clone());
        }
        for plan in r.notices {
            let c = f.contacts.entry(plan.contact.clone()).or_default();
            c.events += 1;
            let decision = match &plan.noise {
                None => None,
                Some(p) => {
                    let key = (plan.contact.clone(), p.identity.clone());
                    let (d, w) = noise::decide(windows.get(&key), p, e.received_ms);
                    Some((d, w, key))
                }
            };
            let (d, mut w, key) = match decision {
                Some(x) => (x.0, Some(x.1), Some(x.2)),
                None => (NoiseDecision::Notify, None, None),
            };
            match d {
                NoiseDecision::Notify => {
                    // A scheduled digest or quiet hours collect it into one
                    // message per period; otherwise it goes at once.
                    let scheduled = plan
                        .digest
                        .as_ref()
                        .map(|x| ("digest", &x.0, x.1))
                        .or(plan.hold.as_ref().map(|x| ("held", &x.0, x.1)));
                    match scheduled {
                        Some((kind, key, at)) => {
                            c.scheduled_events += 1;
                            if periods.insert((plan.contact.clone(), kind, key.clone(), at)) {
                                c.scheduled += 1;
                                sends.entry(plan.contact.clone()).or_default().push(at);
                            }
                        }
                        None => {
                            c.notifications += 1;
                            sends
                                .entry(plan.contact.clone())
                                .or_default()
                                .push(e.received_ms);
                        }
                    }
                }
                NoiseDecision::Merge { at } => {
                    c.merged += 1;
                    if let Some(w) = w.as_mut()
                        && w.follow_up.is_none()
                    {
                        w.follow_up = Some("planned".into());
                        c.follow_ups += 1;
                        sends.entry(plan.contact.clone()).or_default().push(at);
                    }
                }
                NoiseDecision::Suppress(_) => c.suppressed += 1,
            }
            if let (Some(key), Some(w)) = (key, w) {
                windows.insert(key, w);
            }
        }
    }
    for (contact, mut times) in sends {
        times.sort_unstable();
        let limits = cfg
            .contacts
            .iter()
            .find(|c| c.name == contact)
            .map(crate::notify::effective_rate)
            .unwrap_or_default();
        let (messages, digests) = rate_limited(&times, &limits);
        if let Some(c) = f.contacts.get_mut(&contact) {
            c.messages = messages;
            c.digests = digests;
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rate_limit_simulation() {
        let limits = [RateLimit {
            count: 2,
            per: Duration::from_secs(60),
        }];
        // 5 sends in a second: 2 go, 3 fold into one digest.
        assert_eq!(rate_limited(&[0, 1, 2, 3, 4], &limits), (3, 1));
        assert_eq!(rate_limited(&[0, 1, 2, 3, 4], &[]), (5, 0));
        // Spread out: all go.
        assert_eq!(rate_limited(&[0, 61_000, 122_000], &limits), (3, 0));
    }

    #[test]
    fn yaml_and_json_candidates() {
        let v = yaml_to_json("name: c\nlevels: [critical]\nnotification_policy: p\n").unwrap();
        assert_eq!(
            v,
            json!({"name": "c", "levels": ["critical"], "notification_policy": "p"})
        );
        let v = yaml_to_json(r#"{"name": "c", "merge_window": "1m"}"#).unwrap();
        assert_eq!(v["merge_window"], "1m");
    }
}
