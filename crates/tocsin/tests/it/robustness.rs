//! No input panics a decoder or the config loader: property tests over
//! arbitrary bytes and over JSON/YAML-shaped noise.

use proptest::prelude::*;
use std::collections::BTreeMap;
use tocsin::event::Format;
use tocsin::ingest::{DecodeContext, decode};

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        any::<f64>().prop_map(|n| serde_json::json!(n)),
        "[a-zA-Z0-9:\\-T+.$ ]{0,24}".prop_map(serde_json::Value::String),
        prop_oneof![
            Just("CRITICAL"),
            Just("warning"),
            Just("info"),
            Just("serious"),
            Just("20251210T101502.331+0800"),
            Just("2026-11-29T02:00:00Z"),
            Just("1764554400000"),
            Just("{\"a\":1}"),
            Just("Incident:DDoS")
        ]
        .prop_map(|s| serde_json::Value::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 32, 8, |inner| {
        let keys = prop_oneof![
            Just("id"),
            Just("product"),
            Just("name"),
            Just("level"),
            Just("event_type"),
            Just("eventType"),
            Just("time"),
            Just("eventTime"),
            Just("content"),
            Just("resourceId"),
            Just("instanceName"),
            Just("group"),
            Just("groupId"),
            Just("x")
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(keys, inner, 0..8).prop_map(|m| {
                serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decoders_never_panic_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let map = BTreeMap::new();
        let ctx = DecodeContext { severity_map: &map, received_ms: 0 };
        for format in Format::ALL {
            let _ = decode(format, &bytes, &ctx);
        }
        let _ = tocsin::ingest::detect_format(&bytes);
    }

    #[test]
    fn decoders_never_panic_on_json(v in json_value()) {
        let map = tocsin::config::default_severity_map();
        let ctx = DecodeContext { severity_map: &map, received_ms: 0 };
        let body = v.to_string();
        for format in Format::ALL {
            match decode(format, body.as_bytes(), &ctx) {
                Ok(events) => for e in events {
                    prop_assert!(!e.id.is_empty());
                    prop_assert!(!e.name.is_empty());
                    let _ = e.to_native_json();
                },
                Err(e) => prop_assert!(!e.message.is_empty()),
            }
        }
    }

    #[test]
    fn config_loader_never_panics(text in "[ -~\\n]{0,400}") {
        let _ = tocsin::config::load_str(&text, "fuzz.yaml", &|_| None);
    }

    #[test]
    fn config_loader_never_panics_on_yaml_shapes(
        lines in prop::collection::vec(
            (0usize..4, prop_oneof![
                Just("server:"), Just("contacts:"), Just("subscriptions:"), Just("- name: a"), Just("- { name: b, channel: webhook }"),
                Just("webhook: http://x/${Y:-z}"), Just("levels: [critical, loud]"), Just("deny_list: true"),
                Just("max_body: 4MiB"), Just("timeout: 1h30m"), Just("items: { alert: { details: false } }"),
                Just("notification_policy: p"), Just("contact_groups: [g]"), Just("&a x"), Just("*a"), Just("? complex"),
                Just("rate_limit: [1/0s]"), Just("deny_cidrs: [\"::ffff:1.2.3.4/200\"]"), Just("--- "), Just("'unterminated")
            ]),
            0..20,
        )
    ) {
        let text: String = lines.iter().map(|(indent, l)| format!("{}{}\n", "  ".repeat(*indent), l)).collect();
        let loaded = tocsin::config::load_str(&text, "fuzz.yaml", &|_| None);
        for d in &loaded.diagnostics {
            prop_assert!(d.line <= text.lines().count() + 1, "{d}");
        }
        prop_assert_eq!(loaded.config.is_some(), !loaded.diagnostics.iter().any(|d| !d.warning));
    }
}
