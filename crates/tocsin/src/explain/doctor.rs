//! `tocsin doctor`: the "I'm not receiving alerts" checklist, walked over a
//! whole config (and, with `--live`, through every contact). Pure analysis
//! of the config; the live part goes through the same test message as
//! `test-contact`.

use crate::catalog;
use crate::config::{Channel, Config, Contact, Subscription};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Alerts would be lost or never sent.
    Error,
    /// Worth a look; nothing is lost.
    Warning,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Machine-readable: see [`FINDING_CODES`].
    pub code: &'static str,
    /// The object: `subscriptions[name]`, `contacts[name]`.
    pub object: String,
    pub message: String,
}

pub const FINDING_CODES: [&str; 12] = [
    "quarantined_requests",
    "rate_limit_exceeded",
    "switch_off_for_all_event_types",
    "levels_exclude_everything",
    "unknown_event_name",
    "unknown_event_type",
    "contact_unreachable",
    "keywords_unknown",
    "secret_looks_wrong",
    "secret_missing",
    "webhook_wrong_shape",
    "live_test_failed",
];

fn finding(severity: Severity, code: &'static str, object: String, message: String) -> Finding {
    Finding {
        severity,
        code,
        object,
        message,
    }
}

fn covers_sas(s: &Subscription) -> bool {
    s.products.is_empty()
        || s.products
            .iter()
            .any(|p| catalog::canonical_product(p) == catalog::SAS)
}

fn only_sas(s: &Subscription) -> bool {
    !s.products.is_empty()
        && s.products
            .iter()
            .all(|p| catalog::canonical_product(p) == catalog::SAS)
}

fn check_subscription(c: &Config, s: &Subscription, out: &mut Vec<Finding>) {
    let obj = format!("subscriptions[{}]", s.name);
    // Levels: an allow list always allows what it lists; a deny list with
    // every level and no names excludes everything.
    if s.deny_list && s.event_names.is_empty() && s.levels.len() == 3 {
        out.push(finding(
            Severity::Error,
            "levels_exclude_everything",
            obj.clone(),
            format!("{} denies every level (critical, warn, info) and names no event: it can never match", s.name),
        ));
    }
    if only_sas(s) {
        // Event types of items whose switch is off.
        let stopped: Vec<&str> = s
            .event_types
            .iter()
            .map(String::as_str)
            .filter(|t| crate::route::push_switch(c, catalog::SAS, t).is_some())
            .collect();
        if !s.event_types.is_empty() && stopped.len() == s.event_types.len() {
            out.push(finding(
                Severity::Error,
                "switch_off_for_all_event_types",
                obj.clone(),
                format!(
                    "{} only takes event types whose push switch is off ({}): it can never match; turn the switches on in `sources`",
                    s.name,
                    stopped.join(", ")
                ),
            ));
        } else if !stopped.is_empty() {
            out.push(finding(
                Severity::Warning,
                "switch_off_for_all_event_types",
                obj.clone(),
                format!(
                    "{}: the push switch is off for {}",
                    s.name,
                    stopped.join(", ")
                ),
            ));
        }
        for t in &s.event_types {
            if catalog::item_of(t).is_none() {
                out.push(finding(
                    Severity::Error,
                    "unknown_event_type",
                    obj.clone(),
                    format!(
                        "{}: event type {t:?} is not one the security product sends (Incident, Suspicious, System-Baseline-cnt, Cspm-cnt, Agentless, mfd SDK, Vulnerability, Vulnerability-cnt, Rasp)",
                        s.name
                    ),
                ));
            }
        }
    }
    if covers_sas(s) && only_sas(s) {
        for n in &s.event_names {
            let prefix = n.split(':').next().unwrap_or("");
            let known = n.starts_with('*')
                || catalog::item_of(prefix).is_some()
                || ["Baseline", "Cspm", "MaliciousFile"].contains(&prefix);
            if !known {
                out.push(finding(
                    Severity::Warning,
                    "unknown_event_name",
                    obj.clone(),
                    format!("{}: event name {n:?} does not look like one the security product sends (e.g. Incident:BruteForce)", s.name),
                ));
            }
        }
    }
}

/// The URL shape each platform's webhooks have.
fn webhook_shape(contact: &Contact) -> Option<&'static str> {
    let u = url::Url::parse(&contact.webhook).ok()?;
    let path = u.path();
    let query = u.query().unwrap_or("");
    let ok = match contact.channel {
        Channel::Webhook => true,
        Channel::Lark => {
            path.starts_with("/open-apis/bot/v2/hook/")
                && path.len() > "/open-apis/bot/v2/hook/".len()
        }
        Channel::Wecom => path.ends_with("/cgi-bin/webhook/send") && query.contains("key="),
        Channel::Dingtalk => path.ends_with("/robot/send") && query.contains("access_token="),
        Channel::Slack => path.starts_with("/services/") && path.matches('/').count() >= 4,
    };
    (!ok).then_some(match contact.channel {
        Channel::Lark => "https://open.feishu.cn/open-apis/bot/v2/hook/<hook id>",
        Channel::Wecom => "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=<key>",
        Channel::Dingtalk => "https://oapi.dingtalk.com/robot/send?access_token=<token>",
        Channel::Slack => "https://hooks.slack.com/services/T…/B…/…",
        Channel::Webhook => "",
    })
}

fn check_contact(c: &Config, contact: &Contact, out: &mut Vec<Finding>) {
    let obj = format!("contacts[{}]", contact.name);
    if let Some(shape) = webhook_shape(contact) {
        out.push(finding(
            Severity::Error,
            "webhook_wrong_shape",
            obj.clone(),
            format!(
                "{}: the webhook URL does not have the shape of a {} bot ({shape})",
                contact.name,
                contact.channel.as_str()
            ),
        ));
    }
    match contact.channel {
        Channel::Dingtalk if !contact.secret.is_empty() && !contact.secret.starts_with("SEC") => out.push(finding(
            Severity::Warning,
            "secret_looks_wrong",
            obj.clone(),
            format!("{}: DingTalk signing secrets start with SEC; is this the robot's secret?", contact.name),
        )),
        Channel::Lark | Channel::Dingtalk if contact.secret.is_empty() && contact.keywords.is_empty() => out.push(finding(
            Severity::Warning,
            "secret_missing",
            obj.clone(),
            format!(
                "{}: no signing secret and no keywords: if the bot has either security setting on, every message will be refused",
                contact.name
            ),
        )),
        _ => {}
    }
    if matches!(contact.channel, Channel::Lark | Channel::Dingtalk) && contact.keywords.is_empty() {
        out.push(finding(
            Severity::Warning,
            "keywords_unknown",
            obj.clone(),
            format!(
                "{}: no `keywords`: if the bot has custom keywords, messages without one are refused (Lark 19024, DingTalk 310000); list the bot's keywords so every message carries one",
                contact.name
            ),
        ));
    }
    if contact.secret.chars().any(char::is_whitespace) {
        out.push(finding(
            Severity::Error,
            "secret_looks_wrong",
            obj.clone(),
            format!(
                "{}: the secret contains white space (a copy-paste slip?)",
                contact.name
            ),
        ));
    }
    // Reached by a subscription?
    let groups: Vec<&str> = c
        .contact_groups
        .iter()
        .filter(|g| g.contacts.contains(&contact.name))
        .map(|g| g.name.as_str())
        .collect();
    let policies: Vec<&str> = c
        .notification_policies
        .iter()
        .filter(|p| {
            p.contact_groups
                .iter()
                .any(|g| groups.contains(&g.as_str()))
        })
        .map(|p| p.name.as_str())
        .collect();
    let reached = c
        .subscriptions
        .iter()
        .any(|s| policies.contains(&s.notification_policy.as_str()));
    let on_failure = c
        .delivery
        .on_failure
        .as_deref()
        .is_some_and(|g| groups.contains(&g));
    if !reached && !on_failure {
        out.push(finding(
            Severity::Warning,
            "contact_unreachable",
            obj,
            format!("{}: no subscription leads to this contact", contact.name),
        ));
    }
}

/// The checklist over a whole config.
pub fn check(c: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in &c.subscriptions {
        check_subscription(c, s, &mut out);
    }
    for contact in &c.contacts {
        check_contact(c, contact, &mut out);
    }
    out
}

/// Rate limits the recent history would have exceeded: routes the stored
/// events with this config and finds, per contact, the busiest window of
/// each of its bot's limits.
pub fn rate_findings(c: &Config, events: &[crate::event::Event]) -> Vec<Finding> {
    let table = crate::route::RoutingTable::compile(c);
    let mut times: std::collections::HashMap<String, Vec<i64>> = Default::default();
    for e in events {
        for n in table.route(c, e).notices {
            times.entry(n.contact).or_default().push(e.received_ms);
        }
    }
    let mut out = Vec::new();
    for contact in &c.contacts {
        let Some(ts) = times.get_mut(&contact.name) else {
            continue;
        };
        ts.sort_unstable();
        for limit in crate::notify::effective_rate(contact) {
            let window = crate::duration_ms(limit.per);
            let (mut peak, mut peak_at, mut lo) = (0usize, 0i64, 0usize);
            for hi in 0..ts.len() {
                while ts[hi] - ts[lo] >= window {
                    lo += 1;
                }
                if hi + 1 - lo > peak {
                    peak = hi + 1 - lo;
                    peak_at = ts[lo];
                }
            }
            if peak > limit.count as usize {
                out.push(finding(
                    Severity::Warning,
                    "rate_limit_exceeded",
                    format!("contacts[{}]", contact.name),
                    format!(
                        "{}: {peak} events within {} from {} — over its bot's budget of {} ({}); Tocsin folds such bursts into digests; a merge_window or stricter subscription would send fewer",
                        contact.name,
                        crate::domain::humanize(limit.per),
                        crate::timefmt::rfc3339(peak_at),
                        limit.count,
                        contact.channel.as_str()
                    ),
                ));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;

    fn findings(yaml: &str) -> Vec<(Severity, &'static str, String)> {
        let l = load_str(yaml, "d.yaml", &|_| None);
        let c = l.config.unwrap_or_else(|| panic!("{:?}", l.diagnostics));
        check(&c)
            .into_iter()
            .map(|f| (f.severity, f.code, f.object))
            .collect()
    }

    const BASE: &str = "contacts:\n  - { name: a, channel: webhook, webhook: \"https://h/x\" }\ncontact_groups:\n  - { name: g, contacts: [a] }\nnotification_policies:\n  - { name: p, contact_groups: [g] }\n";

    #[test]
    fn subscriptions_that_can_never_match() {
        let f = findings(&format!(
            "{BASE}sources:\n  - name: sc\n    items:\n      alert: {{ details: false }}\nsubscriptions:\n  - {{ name: alerts, products: [Sas], event_types: [Suspicious], notification_policy: p }}\n  - {{ name: deny-all, levels: [critical, warn, info], deny_list: true, notification_policy: p }}\n  - {{ name: typo, products: [Sas], event_types: [Incidnt], event_names: [\"Incidnt:*\"], notification_policy: p }}\n"
        ));
        assert!(
            f.contains(&(
                Severity::Error,
                "switch_off_for_all_event_types",
                "subscriptions[alerts]".into()
            )),
            "{f:?}"
        );
        assert!(
            f.contains(&(
                Severity::Error,
                "levels_exclude_everything",
                "subscriptions[deny-all]".into()
            )),
            "{f:?}"
        );
        assert!(
            f.contains(&(
                Severity::Error,
                "unknown_event_type",
                "subscriptions[typo]".into()
            )),
            "{f:?}"
        );
        assert!(
            f.contains(&(
                Severity::Warning,
                "unknown_event_name",
                "subscriptions[typo]".into()
            )),
            "{f:?}"
        );
    }

    #[test]
    fn contacts() {
        let f = findings(
            "contacts:\n  - { name: l, channel: lark, webhook: \"https://open.feishu.cn/x\" }\n  - { name: d, channel: dingtalk, webhook: \"https://oapi.dingtalk.com/robot/send?access_token=t\", secret: nope, keywords: [alert] }\n  - { name: w, channel: wecom, webhook: \"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k\" }\ncontact_groups:\n  - { name: g, contacts: [l, d] }\nnotification_policies:\n  - { name: p, contact_groups: [g] }\nsubscriptions:\n  - { name: s, notification_policy: p }\n",
        );
        assert!(
            f.contains(&(Severity::Error, "webhook_wrong_shape", "contacts[l]".into())),
            "{f:?}"
        );
        assert!(
            f.contains(&(Severity::Warning, "keywords_unknown", "contacts[l]".into())),
            "{f:?}"
        );
        assert!(
            f.contains(&(
                Severity::Warning,
                "secret_looks_wrong",
                "contacts[d]".into()
            )),
            "{f:?}"
        );
        assert!(
            f.contains(&(
                Severity::Warning,
                "contact_unreachable",
                "contacts[w]".into()
            )),
            "{f:?}"
        );
        assert!(
            !f.iter()
                .any(|x| x.2 == "contacts[w]" && x.1 == "webhook_wrong_shape"),
            "{f:?}"
        );
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    #[test]
    fn a_burst_over_the_bots_budget_is_reported() {
        let yaml = "contacts:\n  - { name: w, channel: wecom, webhook: \"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k\" }\ncontact_groups:\n  - { name: g, contacts: [w] }\nnotification_policies:\n  - { name: p, contact_groups: [g] }\nsubscriptions:\n  - { name: s, notification_policy: p }\n";
        let c = crate::config::load_str(yaml, "d", &|_| None)
            .config
            .unwrap();
        let event = |i: i64| crate::event::Event {
            id: i.to_string(),
            product: "Sas".into(),
            event_type: "Incident".into(),
            name: "Incident:X".into(),
            level: crate::config::Level::Warn,
            severity: None,
            status: None,
            resource: None,
            instance: None,
            region: None,
            group: None,
            time_ms: i,
            received_ms: i,
            content: serde_json::json!({}),
            format: crate::event::Format::Native,
            raw: serde_json::json!({}),
        };
        // 18 within the window: within the budget (18 per 63 s).
        let calm: Vec<_> = (0..18).map(|i| event(i * 1000)).collect();
        assert!(rate_findings(&c, &calm).is_empty());
        let burst: Vec<_> = (0..30).map(|i| event(i * 1000)).collect();
        let f = rate_findings(&c, &burst);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "rate_limit_exceeded");
        assert!(
            f[0].message.contains("30 events within 63s"),
            "{}",
            f[0].message
        );
    }
}

/// Requests the server could not read (kept in the quarantine), per ingest
/// path: their alerts reached nobody.
pub fn quarantine_findings(requests: &[crate::store::QuarantinedRequest]) -> Vec<Finding> {
    // path → (requests, error → requests)
    let mut by_path: std::collections::BTreeMap<
        &str,
        (u64, std::collections::BTreeMap<&str, u64>),
    > = Default::default();
    for r in requests {
        let (total, errors) = by_path.entry(r.path.as_str()).or_default();
        *total += r.count;
        *errors.entry(r.error.as_str()).or_default() += r.count;
    }
    by_path
        .into_iter()
        .map(|(path, (total, errors))| {
            let (common, _) = errors
                .iter()
                .max_by_key(|(e, n)| (**n, std::cmp::Reverse(**e)))
                .map(|(e, n)| (*e, *n))
                .unwrap_or(("", 0));
            let others = match errors.len() - 1 {
                0 => String::new(),
                1 => " (and 1 other error)".into(),
                n => format!(" (and {n} other errors)"),
            };
            let noun = if total == 1 { "request" } else { "requests" };
            finding(
                Severity::Error,
                "quarantined_requests",
                format!("quarantine[{path}]"),
                format!(
                    "{total} {noun} to {path} could not be read in the last 24 h: {common}{others} \
                     — see `tocsin quarantine list`, and `tocsin quarantine replay ID` once the config reads them"
                ),
            )
        })
        .collect()
}
