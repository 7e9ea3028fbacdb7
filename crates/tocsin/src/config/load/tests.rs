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
  - { name: s, deny_list: true, levels: [loud], notification_policy: missing, merge_window: soon }
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
        "t.yaml:12: subscriptions[0].merge_window: bad duration",
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

const CHAIN: &str = "\
contacts:
  - { name: c, channel: webhook, webhook: \"https://h.example/x\" }
contact_groups:
  - { name: g, contacts: [c] }
notification_policies:
  - { name: p, contact_groups: [g] }
";

#[test]
fn five_problems_in_one_run() {
    let text = format!(
        "{CHAIN}subscriptions:
  - name: s1
    levels: [critical, loud]
    notification_policy: p
  - name: s1
    notification_policy: nope
  - name: s3
    products: Sas
    notification_policy: p
    merge_windw: 1m
"
    );
    let e = errors(&text);
    assert_eq!(
        e,
        [
            "t.yaml:9: subscriptions[0].levels[1]: `loud` is not a level (critical, warn, info)",
            "t.yaml:11: subscriptions[1].name: duplicate subscription name `s1` (first at line 8)",
            "t.yaml:12: subscriptions[1].notification_policy: no notification policy named `nope`",
            "t.yaml:14: subscriptions[2].products: expected a list, found a string",
            "t.yaml:16: subscriptions[2].merge_windw: unknown key `merge_windw` (expected one of: name, products, event_types, event_names, levels, deny_list, groups, resources, content_keywords, exclude, notification_policy, merge_window, merge_by, min_occurrences, silence, digest, template)",
        ]
    );
    assert!(load(&text).config.is_none());
}

#[test]
fn dangling_references_at_the_list_item() {
    let text = "\
contacts:
  - { name: c, channel: webhook, webhook: \"https://h.example/x\" }
contact_groups:
  - name: g
    contacts:
      - c
      - lark-bt
notification_policies:
  - { name: p, contact_groups: [g, ops] }
subscriptions:
  - { name: s, notification_policy: p }
  - { name: t }
";
    let e = errors(text);
    assert_eq!(
        e,
        [
            "t.yaml:7: contact_groups[0].contacts[1]: no contact named `lark-bt`",
            "t.yaml:9: notification_policies[0].contact_groups[1]: no contact group named `ops`",
            "t.yaml:12: subscriptions[1]: `notification_policy` is required",
        ]
    );
}

#[test]
fn later_issue_keys_are_refused_where_they_belong() {
    let text = "\
delivery:
  on_failure: nobody
contacts:
  - { name: c, channel: webhook, webhook: \"https://h.example/x\", template: x }
notification_policies:
  - { name: p, active_hours: x }
merge_window: 1m
";
    let e = errors(text);
    assert_eq!(
        e[0],
        "t.yaml:2: delivery.on_failure: no contact group named `nobody`"
    );
    assert_eq!(
        e[1],
        "t.yaml:4: contacts[0].template: templates apply to chat platforms; the webhook sends Tocsin's JSON"
    );
    assert_eq!(
        e[2],
        "t.yaml:6: notification_policies[0].active_hours: expected a map, found a string"
    );
    assert!(
        e[3].starts_with("t.yaml:7: merge_window: unknown key `merge_window`"),
        "{e:?}"
    );
    assert_eq!(e.len(), 4);
}

#[test]
fn platform_contact_keys() {
    let text = "\
contacts:
  - name: l
    channel: lark
    webhook: \"https://open.feishu.cn/open-apis/bot/v2/hook/x\"
    keywords: [alert, Security Center]
    lang: zh
    timezone: Europe/Berlin
    mentions: { users: [ou_1], all: true, levels: [critical] }
  - { name: d, channel: dingtalk, webhook: \"https://oapi.dingtalk.com/robot/send?access_token=t\", mentions: { mobiles: [\"13800000000\"] } }
";
    let l = load(text);
    let c = l.config.expect("loads");
    assert_eq!(c.contacts[0].channel, Channel::Lark);
    assert_eq!(c.contacts[0].keywords, ["alert", "Security Center"]);
    assert_eq!(c.contacts[0].lang, Lang::Zh);
    assert_eq!(c.contacts[0].timezone, "Europe/Berlin");
    assert!(c.contacts[0].mentions.all);
    assert_eq!(c.contacts[0].mentions.levels, [Level::Critical]);
    assert_eq!(c.contacts[1].mentions.mobiles, ["13800000000"]);
    assert_eq!(c.contacts[1].timezone, "Asia/Shanghai");
    let e = errors(
        "contacts:\n  - { name: l, channel: slack, webhook: \"https://a/x\", lang: fr, timezone: Mars/Olympus, mentions: { users: [\"<at id=all>\"], mobiles: [abc] } }\n",
    );
    assert_eq!(e.len(), 4, "{e:#?}");
}

#[test]
fn channels() {
    let e = errors(
        "contacts:\n  - { name: l, channel: lark, webhook: \"https://open.feishu.cn/x\" }\n",
    );
    assert!(e.is_empty(), "{e:?}");
    // Feishu is Lark's name in mainland China: the same channel.
    let c = load("contacts:\n  - { name: f, channel: feishu, webhook: \"https://open.feishu.cn/open-apis/bot/v2/hook/x\" }\n")
        .config
        .unwrap();
    assert_eq!(c.contacts[0].channel, Channel::Lark);
    let e = errors("contacts:\n  - { name: l, channel: fax, webhook: \"https://a/x\" }\n");
    assert!(e[0].ends_with(
        "unknown channel `fax`; expected one of webhook, lark (or feishu), wecom, dingtalk, slack, discord, teams, telegram, pagerduty"
    ));
    let e = errors("contacts:\n  - { name: l, webhook: \"https://a/x\" }\n");
    assert!(e[0].contains("`channel` is required"), "{e:?}");
    let e = errors("contacts:\n  - { channel: webhook, webhook: \"https://a/x\" }\n");
    assert_eq!(e, ["t.yaml:2: contacts[0]: `name` is required"]);
}

#[test]
fn discord_mentions_are_user_ids_never_everyone() {
    let c = load("contacts:\n  - { name: d, channel: discord, webhook: \"https://discord.com/api/webhooks/1/t\", mentions: { users: [\"80351110224678912\"] } }\n")
        .config
        .unwrap();
    assert_eq!(c.contacts[0].channel, Channel::Discord);
    assert_eq!(c.contacts[0].mentions.users, ["80351110224678912"]);
    let e = errors(
        "contacts:\n  - name: d\n    channel: discord\n    webhook: \"https://discord.com/api/webhooks/1/t\"\n    mentions: { all: true, users: [\"U123\"], mobiles: [\"138\"] }\n",
    );
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(
        e[0].starts_with(
            "t.yaml:5: contacts[0].mentions.all: Discord messages never ping @everyone"
        ),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("t.yaml:5: contacts[0].mentions.mobiles: "),
        "{e:?}"
    );
    assert!(
        e[2].starts_with(
            "t.yaml:5: contacts[0].mentions.users[0]: `U123` is not a Discord user id"
        ),
        "{e:?}"
    );
}

#[test]
fn teams_mentions_are_upns_or_object_ids_never_everyone() {
    let c = load("contacts:\n  - { name: t, channel: teams, webhook: \"https://prod-01.westus.logic.azure.com/workflows/a/triggers/manual/paths/invoke?api-version=2016-06-01&sp=x&sv=1.0&sig=s\", mentions: { users: [\"alice@contoso.com\", \"8c8f2a4e-1b7e-4a3d-9c55-2f1a0d6e3b11\"] } }\n")
        .config
        .unwrap();
    assert_eq!(c.contacts[0].channel, Channel::Teams);
    assert_eq!(
        c.contacts[0].mentions.users,
        ["alice@contoso.com", "8c8f2a4e-1b7e-4a3d-9c55-2f1a0d6e3b11"]
    );
    let e = errors(
        "contacts:\n  - name: t\n    channel: teams\n    webhook: \"https://a.logic.azure.com/workflows/a/triggers/manual/paths/invoke?sig=s\"\n    mentions: { all: true, users: [\"Alice Smith\", \"U123\"], mobiles: [\"138\"] }\n",
    );
    assert_eq!(e.len(), 5, "{e:#?}");
    assert!(
        e[0].starts_with("t.yaml:5: contacts[0].mentions.users[0]: a user id has no spaces"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with(
            "t.yaml:5: contacts[0].mentions.all: Teams cards cannot mention the whole channel"
        ),
        "{e:?}"
    );
    assert!(
        e[2].starts_with("t.yaml:5: contacts[0].mentions.mobiles: "),
        "{e:?}"
    );
    assert!(
        e[4].starts_with("t.yaml:5: contacts[0].mentions.users[1]: `U123` is not a Teams user id"),
        "{e:?}"
    );
    // A UPN is no user id elsewhere.
    let e = errors(
        "contacts:\n  - { name: s, channel: slack, webhook: \"https://hooks.slack.com/services/T/B/x\", mentions: { users: [\"alice@contoso.com\"] } }\n",
    );
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].contains("contacts[0].mentions.users[0]: a user id has no spaces"),
        "{e:?}"
    );
}

#[test]
fn contact_details() {
    let text = "\
contacts:
  - name: c
    channel: webhook
    webhook: http://10.0.0.1:8080/hook
    headers:
      X-Team: secops
      x-team: again
      Host: evil
      \"Bad Name\": x
    concurrency: 0
    rate_limit: [10/1m, 0/1s, 5]
";
    let e = errors(text);
    assert_eq!(
        e,
        [
            "t.yaml:7: contacts[0].headers.x-team: header `X-Team` is given twice",
            "t.yaml:8: contacts[0].headers.Host: Tocsin sets this header itself",
            "t.yaml:9: contacts[0].headers.Bad Name: not a valid header name",
            "t.yaml:10: contacts[0].concurrency: must be a whole number from 1 to 256",
            "t.yaml:11: contacts[0].rate_limit[1]: `0/1s`: the count must be a whole number of at least 1",
            "t.yaml:11: contacts[0].rate_limit[2]: `5` is not COUNT/DURATION (e.g. 20/1m)",
        ]
    );
    let l = load(
        "contacts:\n  - { name: c, channel: webhook, webhook: \"https://a/x\", concurrency: ~ }\n",
    );
    assert_eq!(
        l.config.unwrap().contacts[0].concurrency,
        4,
        "null = absent = default"
    );
}

#[test]
fn sources() {
    let text = "\
sources:
  - name: a
    items:
      alert: { details: false }
      vulnerability: ~
  - name: b
    product: aegis
  - name: c
    product: 123
";
    let l = load(text);
    let e: Vec<String> = l.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        e,
        ["t.yaml:7: sources[1].product: product `aegis` already has a source (`a`)"]
    );
    let l = load("sources:\n  - name: a\n  - name: c\n    product: 123\n");
    let s = l.config.unwrap().sources.unwrap();
    assert_eq!(s[0].product, "Sas");
    assert_eq!(s[1].product, "123");
    assert!(s[0].items.is_empty());
    let c = load("sources: []\n").config.unwrap();
    assert_eq!(c.sources, Some(vec![]));
    assert_eq!(load("server: {}\n").config.unwrap().sources, None);
    let e = errors(
        "sources:\n  - name: a\n    items:\n      alert: { details: no, overview: \"false\" }\n",
    );
    assert_eq!(e.len(), 2, "{e:?}");
}

#[test]
fn server_and_delivery_values() {
    let text = "\
server:
  listen: \"[::1]:9000\"
  public_url: \"\"
  max_body: 512KiB
delivery:
  deny_cidrs: [10.0.0.0/8, fd00::/8, 1.2.3.4]
  proxy: socks5://127.0.0.1:1080
  allow_private_networks: \"${ALLOW:-true}\"
catalog:
  severity_map: { Serious: info, Urgent: CRITICAL }
";
    let c = load(text).config.unwrap();
    assert_eq!(c.server.listen, "[::1]:9000");
    assert_eq!(c.server.public_url, None);
    assert_eq!(c.server.max_body, 512 * 1024);
    assert_eq!(c.delivery.deny_cidrs.len(), 3);
    assert!(c.delivery.allow_private_networks);
    assert_eq!(c.catalog.severity_map["serious"], Level::Info);
    assert_eq!(c.catalog.severity_map["urgent"], Level::Critical);
    assert_eq!(c.catalog.severity_map["high"], Level::Critical);
    assert!(
        load("server: { listen: \"localhost:80\" }\n")
            .config
            .is_some()
    );
    let e = errors(
        "server:\n  listen: nohost\n  public_url: ftp://x\ndelivery:\n  deny_cidrs: [10.0.0.0/40]\n  backoff: { initial: 0s }\n  retry_horizon: 1y\n",
    );
    assert_eq!(e.len(), 5, "{e:?}");
    assert!(e[0].starts_with("t.yaml:2: server.listen:"));
    assert!(e[4].starts_with("t.yaml:7: delivery.retry_horizon: bad duration"));
}

#[test]
fn server_connection_limits() {
    let c = load("{}\n").config.unwrap();
    assert_eq!(c.server.header_timeout, Duration::from_secs(10));
    assert_eq!(c.server.body_timeout, Duration::from_secs(30));
    assert_eq!(c.server.idle_timeout, Duration::from_secs(60));
    assert_eq!(c.server.max_connections, None);
    assert_eq!(c.server.max_concurrent_ingest, 64);
    let c = load(
        "server:\n  header_timeout: 100ms\n  body_timeout: 1h\n  idle_timeout: 0s\n  \
         max_connections: 2\n  max_concurrent_ingest: \"${N:-10000}\"\n",
    )
    .config
    .unwrap();
    assert_eq!(c.server.header_timeout, Duration::from_millis(100));
    assert_eq!(c.server.body_timeout, Duration::from_secs(3600));
    assert_eq!(c.server.idle_timeout, Duration::ZERO);
    assert_eq!(c.server.max_connections, Some(2));
    assert_eq!(c.server.max_concurrent_ingest, 10_000);
    let e = errors(
        "server:\n  header_timeout: 99ms\n  body_timeout: 61m\n  idle_timeout: 2h\n  \
         max_connections: 1\n  max_concurrent_ingest: 0\n",
    );
    assert_eq!(
        e,
        [
            "t.yaml:2: server.header_timeout: must be at least 100ms",
            "t.yaml:3: server.body_timeout: must be at most 1h",
            "t.yaml:4: server.idle_timeout: must be at most 1h",
            "t.yaml:5: server.max_connections: must be at least 2",
            "t.yaml:6: server.max_concurrent_ingest: must be at least 1",
        ]
    );
    let e = errors(
        "server:\n  max_connections: 1000001\n  max_concurrent_ingest: many\n  \
         header_timeout: 0s\n",
    );
    assert_eq!(
        e,
        [
            "t.yaml:2: server.max_connections: must be at most 1000000",
            "t.yaml:3: server.max_concurrent_ingest: expected a whole number, found `many`",
            "t.yaml:4: server.header_timeout: must be at least 100ms",
        ]
    );
}

#[test]
fn deny_list_needs_something_to_deny() {
    let sub = "subscriptions:\n  - { name: s, deny_list: true, notification_policy: p }\n";
    let e = errors(&format!("{CHAIN}{sub}"));
    assert_eq!(
        e,
        ["t.yaml:8: subscriptions[0]: a deny list needs event_names or levels to deny"]
    );
    let ok = "subscriptions:\n  - { name: s, deny_list: true, event_names: ['Suspicious:*'], notification_policy: p }\n";
    let l = load(&format!("{CHAIN}{ok}"));
    assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
    assert!(l.config.unwrap().subscriptions[0].deny_list);
}

/// The first-hour user's subscription, exactly as they wrote it.
#[test]
fn deny_list_with_levels_warns_with_what_it_sends_and_the_exclude_rule() {
    let sub = "subscriptions:\n  - name: s\n    levels: [critical, warn]\n    deny_list: true\n    event_names: [\"Vulnerability:*\", \"Baseline:*\"]\n    notification_policy: p\n";
    let l = load(&format!("{CHAIN}{sub}"));
    let w: Vec<String> = l.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        w,
        [
            "warning: t.yaml:10: subscriptions[0].deny_list: deny_list: true with levels drops only critical and warn events whose name matches event_names and sends everything else (info events of every name included); to send critical and warn except those names, write `levels: [critical, warn]` and `exclude: [{event_names: [\"Vulnerability:*\", \"Baseline:*\"]}]` without deny_list"
        ]
    );
    // A warning: the config still loads.
    assert!(l.config.is_some());
    let levels_only = "subscriptions:\n  - { name: s, levels: [info], deny_list: true, notification_policy: p }\n";
    assert_eq!(
        warnings(&format!("{CHAIN}{levels_only}")),
        [
            "warning: t.yaml:8: subscriptions[0].deny_list: deny_list: true with levels [info] drops every info event and sends the rest (every critical and warn event); to send only critical and warn, drop deny_list and list those levels"
        ]
    );
    // The rule the warning suggests loads without a word.
    let meant = "subscriptions:\n  - name: s\n    levels: [critical, warn]\n    exclude: [{event_names: [\"Vulnerability:*\", \"Baseline:*\"]}]\n    notification_policy: p\n";
    let l = load(&format!("{CHAIN}{meant}"));
    assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
    let c = l.config.unwrap();
    assert_eq!(
        c.subscriptions[0].exclude[0].event_names,
        ["Vulnerability:*", "Baseline:*"]
    );
    assert_eq!(c.subscriptions[0].exclude[0].line, 10);
}

#[test]
fn exclude_entries_are_checked() {
    let sub = "subscriptions:\n  - name: s\n    exclude:\n      - {}\n      - { levels: [loud] }\n      - { names: [x] }\n      - [x]\n    notification_policy: p\n";
    let e = errors(&format!("{CHAIN}{sub}"));
    assert_eq!(
        e,
        [
            "t.yaml:10: subscriptions[0].exclude[0]: an exclude entry needs at least one of event_names, event_types, levels, resources, groups, content_keywords (an empty entry would drop every event)",
            "t.yaml:11: subscriptions[0].exclude[1].levels[0]: `loud` is not a level (critical, warn, info)",
            "t.yaml:12: subscriptions[0].exclude[2].names: unknown key `names` (expected one of: event_names, event_types, levels, resources, groups, content_keywords)",
            "t.yaml:13: subscriptions[0].exclude[3]: expected a map, found a list",
        ]
    );
}

#[test]
fn secrets_never_echoed_anywhere() {
    let env = |n: &str| (n == "HOOK").then(|| "MARKER-ENV".to_string());
    let text = "\
server:
  api_token: [MARKER-A]
  ingest_token: \"${MARKER-B}\"
delivery:
  proxy: \"gopher://MARKER-C@${HOOK}\"
contacts:
  - name: c
    channel: webhook
    webhook: \"https://MARKER-D:${HOOK} bad\"
    headers: { X-Key: \"MARKER-E\\n${HOOK}\" }
  - name: d
    channel: webhook
    webhook: \"mailto:MARKER-F${HOOK}\"
";
    let l = load_str(text, "t.yaml", &env);
    assert!(
        l.diagnostics.iter().filter(|d| !d.warning).count() >= 6,
        "{:#?}",
        l.diagnostics
    );
    for d in &l.diagnostics {
        assert!(!d.to_string().contains("MARKER"), "{d}");
    }
}

#[test]
fn anchors_and_documents() {
    let e = errors("a: &x { b: 1 }\nc: *x\n");
    assert!(e[0].contains("anchors"), "{e:?}");
    let e = errors("server: {}\n---\nstore: {}\n");
    assert!(e[0].starts_with("t.yaml:2: (file):"), "{e:?}");
    let e = errors("- a\n- b\n");
    assert!(
        e[0].starts_with("t.yaml:1: (root): expected a map"),
        "{e:?}"
    );
}

#[test]
fn load_file_reports_unreadable_files() {
    let l = load_file(Path::new("/nonexistent/tocsin.yaml"), &process_env);
    assert!(l.config.is_none());
    assert_eq!(l.diagnostics.len(), 1);
    assert_eq!(l.diagnostics[0].line, 0);
    assert!(
        l.diagnostics[0]
            .to_string()
            .starts_with("/nonexistent/tocsin.yaml:0: (file): cannot read")
    );
}

fn warnings(text: &str) -> Vec<String> {
    load(text)
        .diagnostics
        .iter()
        .filter(|d| d.warning)
        .map(|d| d.to_string())
        .collect()
}

#[test]
fn contact_templates() {
    let ok = "\
contacts:
  - name: w
    channel: wecom
    webhook: https://qyapi.example.com/cgi-bin/webhook/send?key=k
    template: |
      **{{ event.name }}** on {{ event.content.instanceName | default('-') }}
      {% if link %}[view]({{ link }}){% endif %}
";
    let l = load(ok);
    assert!(
        l.diagnostics
            .iter()
            .all(|d| d.warning && d.message.contains("no contact group")),
        "{:?}",
        l.diagnostics
    );
    let c = &l.config.unwrap().contacts[0];
    assert!(
        c.template
            .as_deref()
            .unwrap()
            .starts_with("**{{ event.name }}**")
    );

    // A syntax error: the file's line and the template's own line.
    let bad = "\
contacts:
  - name: w
    channel: wecom
    webhook: https://qyapi.example.com/cgi-bin/webhook/send?key=k
    template: |
      line one
      {{ event.name }}
      {% if event.level == 'critical' %}x{% endfi %}
";
    let e = errors(bad);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "t.yaml:8: contacts[0].template: syntax error in the template at its line 3: "
        ),
        "{e:?}"
    );

    // An inline template: its line 1 is the key's line.
    let inline = "contacts:\n  - { name: w, channel: slack, webhook: \"https://h.example/x\", template: \"{{ event.name }\" }\n";
    let e = errors(inline);
    assert!(
        e[0].starts_with(
            "t.yaml:2: contacts[0].template: syntax error in the template at its line 1"
        ),
        "{e:?}"
    );

    // A typo in a variable name fails on the sample alert.
    let typo = "\
contacts:
  - name: d
    channel: dingtalk
    webhook: https://oapi.example.com/robot/send?access_token=t
    template: |
      {{ event.name }}
      {{ event.nmae }}
";
    let e = errors(typo);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "t.yaml:7: contacts[0].template: the template fails on a sample alert: undefined"
        ),
        "{e:?}"
    );
    assert!(
        e[0].contains("event.nmae") && e[0].contains("at its line 2"),
        "{e:?}"
    );

    // Webhook contacts send Tocsin's JSON.
    let hook = "contacts:\n  - { name: h, channel: webhook, webhook: \"https://h.example/x\", template: \"{{ event.name }}\" }\n";
    assert_eq!(
        errors(hook),
        vec![
            "t.yaml:2: contacts[0].template: templates apply to chat platforms; the webhook sends Tocsin's JSON"
        ]
    );

    // Not a string.
    let list = "contacts:\n  - { name: h, channel: lark, webhook: \"https://h.example/x\", template: [a] }\n";
    assert!(
        errors(list)[0].contains("expected a string"),
        "{:?}",
        errors(list)
    );
}

#[test]
fn template_without_keywords_warns() {
    let text = "\
contacts:
  - name: l
    channel: lark
    webhook: https://open.feishu.example/open-apis/bot/v2/hook/x
    keywords: [告警, alert]
    template: |
      {{ event.name }} on {{ event.instance }}
";
    let l = load(text);
    assert!(l.config.is_some(), "a warning, not an error");
    assert_eq!(
        warnings(text)[1..],
        [
            "warning: t.yaml:6: contacts[0].template: the template may produce messages without any of the keywords; Tocsin adds `告警` to the footer of such messages"
        ]
    );
    let with = text.replace("{{ event.name }}", "alert: {{ event.name }}");
    assert_eq!(warnings(&with).len(), 1, "{:?}", warnings(&with));
}

#[test]
fn noise_keys() {
    let base = "contacts:\n  - { name: c, channel: webhook, webhook: \"https://h/x\" }\ncontact_groups:\n  - { name: g, contacts: [c] }\n";
    let good = format!(
        "{base}notification_policies:\n  - {{ name: p, contact_groups: [g], active_hours: {{ timezone: UTC, weekdays: [mon, fri], start: \"09:00\", end: \"18:00\" }}, outside_hours: critical_only }}\nsubscriptions:\n  - {{ name: s, merge_window: 1m, merge_by: [instance, content.alarmUniqueInfo], min_occurrences: 2, silence: 1h, digest: {{ schedule: \"0 10 * * 4\" }}, notification_policy: p }}\n"
    );
    let c = load(&good).config.expect("loads");
    let s = &c.subscriptions[0];
    assert_eq!(s.merge_window, Some(Duration::from_secs(60)));
    assert_eq!(s.merge_by, ["instance", "content.alarmUniqueInfo"]);
    assert_eq!(s.min_occurrences, 2);
    assert_eq!(s.digest.as_ref().unwrap().timezone, "Asia/Shanghai");
    assert_eq!(
        c.notification_policies[0].outside_hours,
        OutsideHours::CriticalOnly
    );
    let bad = format!(
        "{base}notification_policies:\n  - {{ name: p, contact_groups: [g], active_hours: {{ weekdays: [someday], start: \"25:00\" }}, outside_hours: never }}\nsubscriptions:\n  - {{ name: s, merge_by: [nope], min_occurrences: 0, digest: {{ schedule: \"every thursday\" }}, notification_policy: p }}\n"
    );
    let e = errors(&bad);
    assert_eq!(e.len(), 6, "{e:#?}");
}

#[test]
fn durations_and_sizes_have_upper_bounds() {
    // Each of these once passed and wrapped when turned into i64 milliseconds.
    let cases = [
        (
            "store:\n  retention: 150000000000d\n",
            "t.yaml:2: store.retention: ",
        ),
        (
            "store:\n  retention: 3651d\n",
            "t.yaml:2: store.retention: ",
        ),
        (
            "delivery:\n  retry_horizon: 150000000000d\n",
            "t.yaml:2: delivery.retry_horizon: ",
        ),
        (
            "delivery:\n  retry_horizon: 31d\n",
            "t.yaml:2: delivery.retry_horizon: ",
        ),
        (
            "delivery:\n  timeout: 11m\n",
            "t.yaml:2: delivery.timeout: ",
        ),
        (
            "delivery:\n  backoff: { initial: 1s, max: 2d }\n",
            "t.yaml:2: delivery.backoff.max: ",
        ),
        (
            "server:\n  max_body: 257MiB\n",
            "t.yaml:2: server.max_body: ",
        ),
        (
            "delivery:\n  removed_contact_grace: 8d\n",
            "t.yaml:2: delivery.removed_contact_grace: ",
        ),
        (
            "contacts:\n  - { name: c, channel: webhook, webhook: \"https://a/b\", rate_limit: [5/2d] }\n",
            "t.yaml:2: contacts[0].rate_limit[0]: ",
        ),
        (
            "subscriptions:\n  - { name: s, merge_window: 8d }\n",
            "t.yaml:2: subscriptions[0].merge_window: ",
        ),
        (
            "subscriptions:\n  - { name: s, silence: 366d }\n",
            "t.yaml:2: subscriptions[0].silence: ",
        ),
    ];
    for (text, want) in cases {
        let errs = errors(text);
        assert!(
            errs.iter()
                .any(|e| e.starts_with(want) && e.contains("at most")),
            "{text}: {errs:?}"
        );
    }
    // The bounds themselves are accepted.
    let c = load(
        "store:\n  retention: 3650d\ndelivery:\n  retry_horizon: 30d\n  timeout: 10m\n  \
         backoff: { initial: 1d, max: 1d }\nserver:\n  max_body: 256MiB\n",
    )
    .config
    .unwrap();
    assert_eq!(c.store.retention, Duration::from_secs(3650 * 86400));
    assert_eq!(c.server.max_body, 256 << 20);
    // A number too large for any unit is an error naming the key, not a wrap.
    let errs = errors("store:\n  retention: 99999999999999999999999999999999999999999d\n");
    assert!(
        errs.iter()
            .any(|e| e.starts_with("t.yaml:2: store.retention: ")),
        "{errs:?}"
    );
}

#[test]
fn an_empty_file_named_on_the_command_line_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.yaml");
    for text in ["", "   \n\n", "# only\n# comments\n", "---\n"] {
        std::fs::write(&path, text).unwrap();
        let l = load_file(&path, &|_| None);
        assert!(l.config.is_none(), "{text:?}");
        let shown = l.diagnostics[0].to_string();
        assert!(
            shown.starts_with(&format!("{}:1: (file): the file is empty", path.display())),
            "{shown}"
        );
    }
    // Not a mapping: refused with the file name too.
    std::fs::write(&path, "- a\n- b\n").unwrap();
    let l = load_file(&path, &|_| None);
    assert!(l.config.is_none());
    assert!(l.diagnostics[0].to_string().contains("cut.yaml"));
    // An explicit empty mapping is a deliberate choice: the defaults.
    std::fs::write(&path, "{}\n").unwrap();
    assert_eq!(
        load_file(&path, &|_| None).config,
        Some(Config::embedded_default())
    );
}

#[test]
fn a_digest_schedule_that_never_fires_is_refused() {
    let base = "contacts:\n  - { name: c, channel: webhook, webhook: \"https://h/x\" }\ncontact_groups:\n  - { name: g, contacts: [c] }\nnotification_policies:\n  - { name: p, contact_groups: [g] }\nsubscriptions:\n";
    let never = format!(
        "{base}  - {{ name: s, digest: {{ schedule: \"0 0 30 2 *\" }}, notification_policy: p }}\n"
    );
    assert_eq!(
        errors(&never),
        [
            "t.yaml:8: subscriptions[0].digest.schedule: `0 0 30 2 *` never fires (its day of month and month never meet); events collected for it would never be sent"
        ]
    );
    // The 29th of February fires in leap years: fine.
    let leap = format!(
        "{base}  - {{ name: s, digest: {{ schedule: \"0 0 29 2 *\" }}, notification_policy: p }}\n"
    );
    assert!(errors(&leap).is_empty());
}

#[test]
fn digest_schedules_take_names_ranges_and_lists() {
    let base = "contacts:\n  - { name: c, channel: webhook, webhook: \"https://h/x\" }\ncontact_groups:\n  - { name: g, contacts: [c] }\nnotification_policies:\n  - { name: p, contact_groups: [g] }\nsubscriptions:\n";
    for schedule in [
        "0 10 * * MON",
        "0 9 * * MON-FRI",
        "30 8 * * tue,thu",
        "0 */6 1-7 JAN-MAR *",
        "0 10 * * 4",
    ] {
        let text = format!(
            "{base}  - {{ name: s, digest: {{ schedule: \"{schedule}\", timezone: Europe/Berlin }}, notification_policy: p }}\n"
        );
        let c = load(&text)
            .config
            .unwrap_or_else(|| panic!("{schedule}: {:?}", errors(&text)));
        assert_eq!(
            c.subscriptions[0].digest.as_ref().unwrap().cron.source(),
            schedule
        );
    }
    let bad = format!(
        "{base}  - {{ name: s, digest: {{ schedule: \"0 10 * * FUNDAY\" }}, notification_policy: p }}\n"
    );
    let e = errors(&bad);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].starts_with(
            "t.yaml:8: subscriptions[0].digest.schedule: `0 10 * * FUNDAY` is not a cron schedule"
        ),
        "{e:#?}"
    );
}

#[test]
fn telegram_takes_a_token_and_a_chat_never_echoing_the_token() {
    let c = load("contacts:\n  - { name: t, channel: telegram, bot_token: \"123456789:AAH-x_y\", chat_id: \"@secops\", api_base: \"https://tg.example.com/\" }\n  - { name: u, channel: telegram, bot_token: \"1:k\", chat_id: -1001234567890 }\n")
        .config
        .unwrap();
    assert_eq!(c.contacts[0].channel, Channel::Telegram);
    assert_eq!(
        c.contacts[0].webhook,
        "https://tg.example.com/bot123456789:AAH-x_y/sendMessage"
    );
    assert_eq!(c.contacts[0].chat_id, "@secops");
    assert_eq!(c.contacts[0].secret, "123456789:AAH-x_y");
    assert_eq!(
        c.contacts[1].webhook,
        "https://api.telegram.org/bot1:k/sendMessage"
    );
    assert_eq!(c.contacts[1].chat_id, "-1001234567890");
    // The version hashes no token.
    let mut other = c.clone();
    other.contacts[0].secret = "999:other".into();
    other.contacts[0].webhook = "https://tg.example.com/bot999:other/sendMessage".into();
    assert_eq!(c.version(), other.version());
    let e = errors(
        "contacts:\n  - name: t\n    channel: telegram\n    bot_token: \"SECRETVALUE\"\n    chat_id: \"secops\"\n    webhook: \"https://x.example/hook\"\n    mentions: { all: true, users: [\"alice\"] }\n",
    );
    assert_eq!(e.len(), 5, "{e:#?}");
    assert!(e.iter().all(|l| !l.contains("SECRETVALUE")), "{e:#?}");
    assert!(
        e.iter()
            .any(|l| l.starts_with("t.yaml:4: contacts[0].bot_token: not a Telegram bot token")),
        "{e:#?}"
    );
    assert!(
        e.iter()
            .any(|l| l
                .starts_with("t.yaml:5: contacts[0].chat_id: `secops` is not a Telegram chat id")),
        "{e:#?}"
    );
    assert!(
        e.iter()
            .any(|l| l
                .starts_with("t.yaml:6: contacts[0].webhook: Telegram contacts take `bot_token`")),
        "{e:#?}"
    );
    assert!(
        e.iter()
            .any(|l| l.starts_with("t.yaml:7: contacts[0].mentions.all: ")),
        "{e:#?}"
    );
    assert!(
        e.iter().any(|l| l.starts_with(
            "t.yaml:7: contacts[0].mentions.users[0]: `alice` is not a Telegram user id"
        )),
        "{e:#?}"
    );
    let e = errors("contacts:\n  - { name: t, channel: telegram }\n");
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(e[0].contains("`bot_token` is required"), "{e:?}");
    assert!(e[1].contains("`chat_id` is required"), "{e:?}");
    let e = errors(
        "contacts:\n  - { name: s, channel: slack, webhook: \"https://hooks.slack.com/services/T/B/x\", chat_id: 1 }\n",
    );
    assert_eq!(
        e,
        ["t.yaml:2: contacts[0].chat_id: `chat_id` belongs to `channel: telegram` contacts"]
    );
}

#[test]
fn tls_files_are_read_at_load_and_each_problem_names_its_key() {
    // Unit tests run in the crate's directory.
    let dir = "tests/fixtures/tls";
    let ok = load(&format!(
        "server:\n  tls:\n    cert: {dir}/server.pem\n    key: {dir}/server.key\n    client_ca: {dir}/ca.pem\n"
    ));
    let tls = ok.config.expect("loads").server.tls.expect("tls on");
    assert_eq!(
        tls.client_ca.as_deref(),
        Some(Path::new("tests/fixtures/tls/ca.pem"))
    );

    assert_eq!(
        errors("server:\n  tls:\n    cert: x.pem\n"),
        ["t.yaml:2: server.tls: `key` is required (a PEM file)"]
    );
    let missing = errors(&format!(
        "server:\n  tls:\n    cert: {dir}/gone.pem\n    key: {dir}/server.key\n"
    ));
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(
        missing[0].starts_with(&format!("t.yaml:3: server.tls.cert: {dir}/gone.pem: ")),
        "{missing:?}"
    );
    let mismatch = errors(&format!(
        "server:\n  tls:\n    cert: {dir}/server.pem\n    key: {dir}/client.key\n"
    ));
    assert_eq!(
        mismatch,
        [format!(
            "t.yaml:4: server.tls.key: {dir}/client.key: is not the key of the certificate in {dir}/server.pem"
        )]
    );
    let bad_ca = errors(&format!(
        "server:\n  tls:\n    cert: {dir}/server.pem\n    key: {dir}/server.key\n    client_ca: {dir}/server.key\n"
    ));
    assert!(
        bad_ca[0].starts_with("t.yaml:5: server.tls.client_ca: "),
        "{bad_ca:?}"
    );
}

#[test]
fn pagerduty_takes_a_routing_key_never_echoing_it() {
    let key = "R0UT1NGKEY0000000000000000000001";
    let c = load(&format!("contacts:\n  - {{ name: p, channel: pagerduty, routing_key: {key} }}\n  - {{ name: q, channel: pagerduty, routing_key: {key}, url: \"https://relay.example.com/v2/enqueue\" }}\n"))
        .config
        .unwrap();
    assert_eq!(c.contacts[0].channel, Channel::Pagerduty);
    assert_eq!(
        c.contacts[0].webhook,
        "https://events.pagerduty.com/v2/enqueue"
    );
    assert_eq!(c.contacts[0].secret, key);
    assert_eq!(
        c.contacts[1].webhook,
        "https://relay.example.com/v2/enqueue"
    );
    // The API's view and the stored config never show the key.
    let shown = crate::api::objects::redacted_config(&c).to_string();
    assert!(!shown.contains(key), "{shown}");
    let secret_key = "NOTAKEY-but-secret-123";
    let e = errors(&format!(
        "contacts:\n  - {{ name: p, channel: pagerduty, routing_key: \"{secret_key}\", webhook: \"https://a/x\", mentions: {{ users: [u1] }}, keywords: [alert] }}\n  - {{ name: r, channel: pagerduty }}\n  - {{ name: s, channel: slack, webhook: \"https://a/x\", routing_key: {key}, url: \"https://a/y\" }}\n"
    ));
    let all = e.join("\n");
    assert!(!all.contains(secret_key) && !all.contains(key), "{all}");
    for words in [
        "contacts[0].routing_key: not a PagerDuty routing key",
        "contacts[0].webhook: PagerDuty contacts take `routing_key`",
        "contacts[0].mentions: PagerDuty contacts take no `mentions`",
        "contacts[0].keywords: PagerDuty contacts take no `keywords`",
        "contacts[1]: `routing_key` is required",
        "contacts[2].routing_key: `routing_key` belongs to `channel: pagerduty` contacts",
        "contacts[2].url: `url` belongs to `channel: pagerduty` contacts",
    ] {
        assert!(all.contains(words), "{words}: {all}");
    }
}
