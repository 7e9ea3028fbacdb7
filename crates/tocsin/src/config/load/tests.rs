use super::*;

fn load(text: &str) -> Loaded {
    load_str(text, "t.yaml", &|name| match name {
        "LARK_HOOK" => Some("hook-123".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    })
}

fn errors(text: &str) -> Vec<String> {
    load(text)
        .diagnostics
        .iter()
        .filter(|d| !d.warning)
        .map(|d| d.to_string())
        .collect()
}

const EXAMPLE: &str = r#"
server:
  listen: 127.0.0.1:9750
  data_dir: ./tocsin-data
  api_token: ${TOCSIN_API_TOKEN:-}
  ingest_token: ${TOCSIN_INGEST_TOKEN:-}
  max_body: 4MiB
  public_url: https://tocsin.example.com
store:
  retention: 30d
delivery:
  timeout: 10s
  backoff: { initial: 1s, max: 5m }
  retry_horizon: 24h
  allow_private_networks: false
  deny_cidrs: []
  proxy: ""
catalog:
  severity_map: { serious: critical, suspicious: warn, remind: info }
sources:
  - name: security-center
    product: Sas
    items:
      incident:       { details: true }
      alert:          { details: true }
      baseline:       { overview: true }
      cspm:           { overview: true }
      agentless:      { details: true }
      malicious_file: { details: true }
      vulnerability:  { details: true, overview: true }
      rasp:           { details: false }
contacts:
  - name: siem-hook
    channel: webhook
    webhook: https://siem.example.com/tocsin/${LARK_HOOK}
    headers: { X-Team: secops }
    secret: ${SIEM_HMAC:-}
    concurrency: 32
    rate_limit: [100/1m, 5/1s]
contact_groups:
  - name: sec-team
    contacts: [siem-hook]
notification_policies:
  - name: security-center-alerts
    contact_groups: [sec-team]
subscriptions:
  - name: Security-Center-Alerts
    products: [Sas]
    event_types: [Suspicious, Incident]
    event_names: []
    levels: [critical, warn]
    deny_list: false
    groups: []
    resources: []
    content_keywords: []
    notification_policy: security-center-alerts
"#;

#[test]
fn the_contract_example_loads() {
    let l = load(EXAMPLE);
    assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
    let c = l.config.unwrap();
    assert_eq!(c.server.max_body, 4 << 20);
    assert_eq!(
        c.server.public_url.as_deref(),
        Some("https://tocsin.example.com")
    );
    assert_eq!(
        c.contacts[0].webhook,
        "https://siem.example.com/tocsin/hook-123"
    );
    assert_eq!(
        c.contacts[0].rate_limit[1],
        RateLimit {
            count: 5,
            per: Duration::from_secs(1)
        }
    );
    assert_eq!(
        c.contacts[0].headers,
        [("X-Team".to_string(), "secops".to_string())]
    );
    assert_eq!(c.subscriptions[0].levels, [Level::Critical, Level::Warn]);
    let sw = c.sources.as_ref().unwrap()[0].items[&Item::Rasp];
    assert!(!sw.details && sw.overview);
    assert_eq!(
        c.catalog.severity_map["asap"],
        Level::Critical,
        "defaults kept under the file's entries"
    );
    assert_eq!(c.delivery.backoff.max, Duration::from_secs(300));
    assert_eq!(c.version(), load(EXAMPLE).config.unwrap().version());
}

#[test]
fn empty_file_is_the_embedded_defaults() {
    let l = load("");
    assert_eq!(l.config.unwrap(), Config::embedded_default());
    assert!(load("# only a comment\n").config.is_some());
}

#[test]
fn every_problem_at_once_with_line_and_path() {
    let text = "\
server:
  max_body: lots
delivery:
  timeout: 10
  retyr_horizon: 1h
contacts:
  - { name: a, channel: webhook, webhook: \"http://x/y\" }
  - { name: a, channel: carrier-pigeon, webhook: \"ftp://x\" }
contact_groups:
  - { name: g, contacts: [a, b] }
subscriptions:
  - { name: s, deny_list: true, levels: [loud], notification_policy: missing, merge_window: 1m }
";
    let e = errors(text);
    let expect = [
        "t.yaml:2: server.max_body: bad size",
        "t.yaml:4: delivery.timeout: bad duration: `10` has no unit",
        "t.yaml:5: delivery.retyr_horizon: unknown key `retyr_horizon`",
        "t.yaml:8: contacts[1].channel: unknown channel `carrier-pigeon`",
        "t.yaml:8: contacts[1].webhook: must be an http:// or https:// URL",
        "t.yaml:8: contacts[1].name: duplicate contact name `a` (first at line 7)",
        "t.yaml:10: contact_groups[0].contacts[1]: no contact named `b`",
        "t.yaml:12: subscriptions[0].merge_window: `merge_window` is not supported by this build yet",
        "t.yaml:12: subscriptions[0].levels[0]: `loud` is not a level",
        "t.yaml:12: subscriptions[0]: a deny list needs event_names or levels to deny",
        "t.yaml:12: subscriptions[0].notification_policy: no notification policy named `missing`",
    ];
    for x in expect {
        assert!(
            e.iter().any(|l| l.starts_with(x)),
            "missing `{x}` in {e:#?}"
        );
    }
    assert_eq!(e.len(), expect.len(), "{e:#?}");
}

#[test]
fn warnings_for_unused_objects() {
    let l = load("contacts:\n  - { name: lonely, channel: webhook, webhook: \"https://x/y\" }\n");
    assert!(l.config.is_some());
    let w: Vec<String> = l.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        w,
        ["warning: t.yaml:2: contacts[0]: contact `lonely` is in no contact group"]
    );
}

#[test]
fn interpolation() {
    let l = load("server:\n  api_token: \"a$$b${EMPTY:-dflt}${LARK_HOOK}$x\"\n");
    assert_eq!(l.config.unwrap().server.api_token, "a$bdflthook-123$x");
    let e = errors("server:\n  api_token: ${NOPE}\n");
    assert_eq!(
        e,
        [
            "t.yaml:2: server.api_token: environment variable `NOPE` is not set (use ${NOPE:-default} for a default)"
        ]
    );
    assert!(errors("server:\n  api_token: \"${OPEN\"\n")[0].contains("unterminated"));
}

#[test]
fn secrets_never_echoed() {
    let text = "contacts:\n  - name: c\n    channel: webhook\n    webhook: \"nota url MARKER-SECRET\"\n    secret: [1]\n    headers: { \"X-A\": \"MARKER-SECRET\\u0001\" }\n";
    let all: Vec<String> = load(text)
        .diagnostics
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert!(all.len() >= 3, "{all:#?}");
    for d in &all {
        assert!(!d.contains("MARKER-SECRET"), "{d}");
    }
}

#[test]
fn syntax_errors_and_wrong_shapes() {
    let e = errors("server: [1\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("t.yaml:2: (file): YAML syntax error"),
        "{e:?}"
    );
    let e = errors("contacts: {a: 1}\n");
    assert!(
        e[0].starts_with("t.yaml:1: contacts: expected a list"),
        "{e:?}"
    );
    let e = errors("sources:\n  - name: s\n    items:\n      alerts: { details: false }\n");
    assert!(e[0].contains("unknown item `alerts`"), "{e:?}");
    let e = errors("delivery:\n  allow_private_networks: yes\n");
    assert!(e[0].contains("expected true or false"), "{e:?}");
    let e = errors("delivery:\n  backoff: { initial: 10m, max: 1m }\n");
    assert!(e[0].contains("longer than backoff.max"), "{e:?}");
    let e = errors(
        "contacts:\n  - { name: c, channel: webhook, webhook: \"https://a/b\", headers: { X-Tocsin-Signature: x } }\n",
    );
    assert!(e[0].contains("sets this header itself"), "{e:?}");
    let e = errors(
        "contacts:\n  - { name: c, channel: webhook, webhook: \"https://a/b\", rate_limit: [20/0s, x] }\n",
    );
    assert_eq!(e.len(), 2, "{e:?}");
}
