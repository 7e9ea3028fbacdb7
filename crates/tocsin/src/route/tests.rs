use super::*;
use crate::config::{Config, load_str};
use crate::event::Format;
use serde_json::json;

fn config(yaml: &str) -> Config {
    let loaded = load_str(yaml, "test.yaml", &|_| None);
    let errors: Vec<String> = loaded
        .diagnostics
        .iter()
        .filter(|d| !d.warning)
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    loaded.config.expect("config")
}

fn event(product: &str, event_type: &str, name: &str, level: Level) -> Event {
    Event {
        id: "e".into(),
        product: product.into(),
        event_type: event_type.into(),
        name: name.into(),
        level,
        severity: None,
        status: None,
        resource: Some("acs:ecs:cn-hangzhou:1:instance/i-bp1abc".into()),
        instance: Some("web-01".into()),
        region: None,
        group: Some("prod-web, db".into()),
        time_ms: 0,
        received_ms: 0,
        content: json!({"desc": "login from 203.0.113.9 via SSH"}),
        format: Format::Native,
        raw: json!({}),
        state: crate::event::EventState::Firing,
        identity_key: None,
    }
}

const BASE: &str = r#"
contacts:
  - { name: a, channel: webhook, webhook: "http://127.0.0.1:1/a" }
  - { name: b, channel: webhook, webhook: "http://127.0.0.1:1/b" }
contact_groups:
  - { name: ga, contacts: [a] }
  - { name: gab, contacts: [a, b] }
notification_policies:
  - { name: pa, contact_groups: [ga] }
  - { name: pab, contact_groups: [gab, ga] }
"#;

fn table(subs: &str) -> (Config, RoutingTable) {
    let c = config(&format!("{BASE}subscriptions:\n{subs}"));
    let t = RoutingTable::compile(&c);
    (c, t)
}

#[test]
fn every_filter_kind_and_first_failure() {
    let (c, t) = table(
        r#"
  - { name: crit-only, levels: [critical], notification_policy: pa }
  - { name: names, event_names: ["Incident:*"], notification_policy: pa }
  - { name: groups, groups: [staging], notification_policy: pa }
  - { name: res, resources: ["db-*"], notification_policy: pa }
  - { name: kw, content_keywords: [RDP], notification_policy: pa }
  - { name: all-ok, products: [Sas], event_types: [Suspicious], event_names: ["Suspicious:*"], levels: [warn], groups: [db], resources: ["web-*"], content_keywords: [ssh], notification_policy: pab }
  - { name: other-product, products: [ecs], notification_policy: pa }
"#,
    );
    let ev = event("Sas", "Suspicious", "Suspicious:UnusualLogon", Level::Warn);
    let r = t.route(&c, &ev);
    let codes: Vec<(&str, &str)> = r
        .decisions
        .iter()
        .map(|d| (&*d.subscription, d.code))
        .collect();
    assert_eq!(
        codes,
        [
            ("crit-only", "level_not_matched"),
            ("names", "name_not_matched"),
            ("groups", "group_not_matched"),
            ("res", "resource_not_matched"),
            ("kw", "content_keyword_missing"),
            ("all-ok", "matched"),
        ]
    );
    assert_eq!(
        r.decisions[0].detail(&ev),
        "level warn is not among critical in crit-only"
    );
    assert_eq!(r.outcome, Outcome::Routed);
    assert_eq!(
        r.notices,
        [
            NoticePlan {
                contact: "a".into(),
                subscriptions: vec!["all-ok".into()],
                noise: None,
                digest: None,
                hold: None,
            },
            NoticePlan {
                contact: "b".into(),
                subscriptions: vec!["all-ok".into()],
                noise: None,
                digest: None,
                hold: None,
            },
        ]
    );
}

#[test]
fn one_notice_per_contact_naming_every_subscription() {
    let (c, t) = table(
        r#"
  - { name: s1, notification_policy: pa }
  - { name: s2, notification_policy: pab }
"#,
    );
    let r = t.route(
        &c,
        &event("aegis", "Incident", "Incident:DDoS", Level::Info),
    );
    assert_eq!(r.notices.len(), 2);
    assert_eq!(r.notices[0].contact, "a");
    assert_eq!(r.notices[0].subscriptions, ["s1", "s2"]);
    assert_eq!(r.notices[1].subscriptions, ["s2"]);
}

#[test]
fn deny_list_rule() {
    let (c, t) = table(
        r#"
  - { name: deny-ddos, products: [Sas], event_names: ["Incident:DDoS"], deny_list: true, notification_policy: pa }
  - { name: deny-info, levels: [info], deny_list: true, notification_policy: pa }
  - { name: deny-both, event_names: ["Incident:*"], levels: [critical], deny_list: true, notification_policy: pa }
"#,
    );
    let ev = event("Sas", "Incident", "Incident:DDoS", Level::Info);
    let r = t.route(&c, &ev);
    let codes: Vec<&str> = r.decisions.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["denied_by_name", "denied_by_level", "matched"]);
    assert_eq!(
        r.decisions[0].detail(&ev),
        "name Incident:DDoS is on the deny list of deny-ddos"
    );
    let r = t.route(
        &c,
        &event("Sas", "Incident", "Incident:BruteForce", Level::Critical),
    );
    let codes: Vec<&str> = r.decisions.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["matched", "matched", "denied"]);
}

/// The first-hour user's intent, "critical and warn, except these names":
/// with `exclude` it sends exactly that; the same filters as a deny list
/// (the cloud monitor's blacklist) send the opposite of what was meant.
#[test]
fn exclude_drops_what_the_deny_list_could_not() {
    let (c, t) = table(
        r#"
  - name: meant
    levels: [critical, warn]
    exclude: [{ event_names: ["Vulnerability:*", "Baseline:*"] }]
    notification_policy: pa
  - { name: as-written, levels: [critical, warn], deny_list: true, event_names: ["Vulnerability:*", "Baseline:*"], notification_policy: pa }
"#,
    );
    let verdicts = |product: &str, event_type: &str, name: &str, level: Level| {
        let r = t.route(&c, &event(product, event_type, name, level));
        (r.decisions[0].code, r.decisions[1].code)
    };
    // Critical and warn of other names: sent by the exclude rule.
    assert_eq!(
        verdicts("Sas", "Incident", "Incident:DDoS", Level::Critical),
        ("matched", "matched")
    );
    assert_eq!(
        verdicts("Sas", "Suspicious", "Suspicious:Login", Level::Warn),
        ("matched", "matched")
    );
    // A critical vulnerability: excluded, as meant; the deny list denies it too.
    assert_eq!(
        verdicts(
            "Sas",
            "Vulnerability",
            "Vulnerability:CVE-2024-1",
            Level::Critical
        ),
        ("excluded", "denied")
    );
    // Info of any name: the exclude rule never sends it; the deny list sends
    // every info event (name and level must both match to deny).
    assert_eq!(
        verdicts("Sas", "Incident", "Incident:DDoS", Level::Info),
        ("level_not_matched", "matched")
    );
    assert_eq!(
        verdicts(
            "Sas",
            "Vulnerability",
            "Vulnerability:CVE-2024-1",
            Level::Info
        ),
        ("level_not_matched", "matched")
    );
    let ev = event("Sas", "Baseline", "Baseline:WeakPassword", Level::Warn);
    let r = t.route(&c, &ev);
    assert_eq!(r.decisions[0].code, "excluded");
    assert_eq!(
        r.decisions[0].detail(&ev),
        "Baseline:WeakPassword at level warn matches the filters of meant but is dropped by its exclude[0]: event_names: Vulnerability:*, Baseline:*"
    );
}

#[test]
fn an_exclude_entry_needs_all_its_keys_to_match() {
    let (c, t) = table(
        r#"
  - name: s
    exclude:
      - { event_types: [Suspicious], levels: [warn], groups: [db] }
      - { resources: ["web-9*"] }
      - { content_keywords: [scanner] }
    notification_policy: pa
"#,
    );
    let code = |ev: &Event| t.route(&c, ev).decisions[0].code;
    let arg = |ev: &Event| {
        t.route(&c, ev).decisions[0]
            .arg
            .as_deref()
            .map(str::to_string)
    };
    let warn = event("Sas", "Suspicious", "Suspicious:Login", Level::Warn);
    // Type, level and group (one of "prod-web, db") all match: dropped.
    assert_eq!(code(&warn), "excluded");
    assert_eq!(
        arg(&warn).as_deref(),
        Some("exclude[0]: event_types: Suspicious; levels: warn; groups: db")
    );
    // One key off and the entry does not apply.
    assert_eq!(
        code(&event(
            "Sas",
            "Suspicious",
            "Suspicious:Login",
            Level::Critical
        )),
        "matched"
    );
    assert_eq!(
        code(&event("Sas", "Incident", "Incident:Login", Level::Warn)),
        "matched"
    );
    let mut other_group = warn.clone();
    other_group.group = Some("staging".into());
    assert_eq!(code(&other_group), "matched");
    let mut web9 = other_group.clone();
    web9.instance = Some("WEB-901".into());
    assert_eq!(arg(&web9).as_deref(), Some("exclude[1]: resources: web-9*"));
    let mut scanner = other_group.clone();
    scanner.content = json!({"desc": "Port SCANNER seen"});
    assert_eq!(code(&scanner), "excluded");
}

#[test]
fn scope_index_only_records_covering_subscriptions() {
    let (c, t) = table(
        r#"
  - { name: ecs-only, products: [ecs], notification_policy: pa }
  - { name: sas-incident, products: [SecurityCenter], event_types: [Incident], notification_policy: pa }
  - { name: sas-any, products: [Sas], notification_policy: pa }
  - { name: any-incident, event_types: [incident], notification_policy: pa }
"#,
    );
    let r = t.route(&c, &event("Sas", "Incident", "x", Level::Info));
    let subs: Vec<&str> = r.decisions.iter().map(|d| &*d.subscription).collect();
    assert_eq!(subs, ["sas-incident", "sas-any", "any-incident"]);
    let r = t.route(&c, &event("rds", "", "x", Level::Info));
    assert!(r.decisions.is_empty());
    assert_eq!(r.outcome, Outcome::Unmatched);
}

#[test]
fn push_switch_stops_before_subscriptions() {
    let c = config(&format!(
        "{BASE}sources:\n  - name: sc\n    items:\n      alert: {{ details: false }}\n      baseline: {{ overview: false }}\nsubscriptions:\n  - {{ name: all, notification_policy: pa }}\n"
    ));
    let t = RoutingTable::compile(&c);
    let r = t.route(
        &c,
        &event("Sas", "Suspicious", "Suspicious:X", Level::Critical),
    );
    assert_eq!(r.outcome, Outcome::StoppedBySwitch);
    let stop = r.switch.unwrap();
    assert_eq!((stop.item.key(), stop.kind.as_str()), ("alert", "details"));
    let r = t.route(
        &c,
        &event(
            "Sas",
            "System-Baseline-cnt",
            "Baseline:WeeklyOverview",
            Level::Info,
        ),
    );
    assert_eq!(r.outcome, Outcome::StoppedBySwitch);
    // Incident is not listed: forwarded. Another product: forwarded.
    assert_eq!(
        t.route(&c, &event("Sas", "Incident", "x", Level::Info))
            .outcome,
        Outcome::Routed
    );
    assert_eq!(
        t.route(&c, &event("ecs", "Suspicious", "x", Level::Info))
            .outcome,
        Outcome::Routed
    );
}

#[test]
fn ten_thousand_subscriptions_cost_a_lookup() {
    let mut subs = String::new();
    for i in 0..10_000 {
        subs.push_str(&format!(
            "  - {{ name: s{i}, products: [p{}], event_types: [t{}], notification_policy: pa }}\n",
            i % 100,
            i % 7
        ));
    }
    let (c, t) = table(&subs);
    let r = t.route(&c, &event("p3", "t3", "x", Level::Info));
    // Only the subscriptions of (p3, t3) are even looked at.
    assert!(r.decisions.len() <= 15, "{}", r.decisions.len());
    assert!(r.decisions.iter().all(|d| d.matched));
}

#[test]
fn an_active_silence_turns_matches_into_silenced_and_sends_nothing() {
    let yaml = format!(
        "{BASE}subscriptions:\n  - {{ name: all, notification_policy: pa }}\nsilences:\n  - name: quiet\n    matchers: {{ event_names: [\"Brute*\"], levels: [critical] }}\n    starts_at: 1970-01-01T00:00:00Z\n    ends_at: 1970-01-01T01:00:00Z\n"
    );
    let c = config(&yaml);
    let t = RoutingTable::compile(&c);
    let mut e = event("Sas", "Suspicious", "Brute force", Level::Critical);
    let r = t.route(&c, &e);
    assert!(r.notices.is_empty());
    assert_eq!(r.decisions[0].code, "silenced");
    assert_eq!(r.decisions[0].arg.as_deref(), Some("quiet"));
    assert!(
        r.decisions[0]
            .detail(&e)
            .contains("silence quiet is active")
    );
    // Another level, or after the end: sent.
    let other = event("Sas", "Suspicious", "Brute force", Level::Warn);
    assert_eq!(t.route(&c, &other).decisions[0].code, "matched");
    e.received_ms = 3_600_000;
    assert_eq!(t.route(&c, &e).decisions[0].code, "matched");
}
