//! One broken setup per checklist cause; explain names the cause and the object.

use crate::common::*;
use serde_json::Value;
use tocsin_fakes::{BotSettings, FakeBot, ScriptedAnswer};

async fn explain(h: &Harness, id: &str) -> Vec<Value> {
    let (s, v) = h.get(&format!("/api/v1/events/{id}/explain")).await;
    assert_eq!(s, 200, "{v}");
    v["steps"].as_array().unwrap().clone()
}

fn step<'a>(steps: &'a [Value], code: &str) -> &'a Value {
    steps
        .iter()
        .find(|s| s["code"] == code)
        .unwrap_or_else(|| panic!("no {code} step in {steps:#?}"))
}

fn config(contact: &str, subs: &str, extra: &str) -> String {
    format!(
        "delivery:\n  allow_private_networks: true\n  backoff: {{ initial: 50ms, max: 100ms }}\n{extra}contacts:\n{contact}\ncontact_groups:\n  - {{ name: g, contacts: [bot] }}\nnotification_policies:\n  - {{ name: p, contact_groups: [g] }}\nsubscriptions:\n{subs}"
    )
}

#[tokio::test]
async fn switch_off_level_excluded_and_deny_list() {
    let rx = WebhookReceiver::start().await;
    let contact = format!(
        "  - {{ name: bot, channel: webhook, webhook: \"{}\" }}",
        rx.url("/x")
    );
    let subs = "  - { name: crit-only, levels: [critical], notification_policy: p }\n  - { name: deny-ddos, event_names: [\"Incident:DDoS\"], deny_list: true, notification_policy: p }\n";
    let extra = "sources:\n  - name: sc\n    items:\n      alert: { details: false }\n";
    let mut yaml = config(&contact, subs, "");
    yaml.push_str(extra);
    let h = Harness::start(&yaml).await;
    h.post("/api/v1/events", r#"[{"id":"sw","product":"Sas","event_type":"Suspicious","name":"Suspicious:X","level":"critical"},
        {"id":"lv","product":"Sas","event_type":"Incident","name":"Incident:DDoS","level":"warn"}]"#).await;

    let steps = explain(&h, "sw").await;
    let s = step(&steps, "switch_off");
    assert!(
        s["sentence"]
            .as_str()
            .unwrap()
            .contains("item alert/details is off in source sc"),
        "{s}"
    );
    assert!(
        s["fix"]
            .as_str()
            .unwrap()
            .contains("sources[sc].items.alert.details: true")
    );

    let steps = explain(&h, "lv").await;
    let s = steps
        .iter()
        .find(|s| s["subscription"] == "crit-only")
        .unwrap();
    assert_eq!(s["code"], "subscription_not_matched");
    assert!(
        s["sentence"]
            .as_str()
            .unwrap()
            .contains("Level warn is not among critical in crit-only"),
        "{s}"
    );
    let s = steps
        .iter()
        .find(|s| s["subscription"] == "deny-ddos")
        .unwrap();
    assert_eq!(s["code"], "subscription_denied");
    assert!(
        s["sentence"]
            .as_str()
            .unwrap()
            .contains("Incident:DDoS is on the deny list of deny-ddos"),
        "{s}"
    );
    assert_eq!(step(&steps, "outcome")["sentence"], "Outcome: unmatched.");
}

#[tokio::test]
async fn keyword_missing_wrong_secret_unknown_token_and_rate_limit() {
    // Keyword missing: the bot has a keyword the contact does not list.
    let lark = FakeBot::lark().await;
    lark.add_bot("kw", BotSettings::with_keywords(&["SecOps"]));
    lark.add_bot("signed", BotSettings::with_secret("right"));
    let wecom = FakeBot::wecom().await;
    wecom.add_bot("rl", BotSettings::default());
    wecom.script("rl", [ScriptedAnswer::RateLimited]);
    let all = "  - { name: all, notification_policy: p }\n";
    let cases = [
        (
            format!(
                "  - {{ name: bot, channel: lark, webhook: \"{}\" }}",
                lark.url("kw")
            ),
            "failed",
            "keywords",
        ),
        (
            format!(
                "  - {{ name: bot, channel: lark, webhook: \"{}\", secret: wrong }}",
                lark.url("signed")
            ),
            "failed",
            "signing secret is wrong",
        ),
        (
            format!(
                "  - {{ name: bot, channel: wecom, webhook: \"{}\" }}",
                wecom.url("unknown-key")
            ),
            "failed",
            "removed from its group",
        ),
        (
            format!(
                "  - {{ name: bot, channel: wecom, webhook: \"{}\" }}",
                wecom.url("rl")
            ),
            "retrying",
            "rate limit",
        ),
    ];
    for (i, (contact, code, fix)) in cases.iter().enumerate() {
        let h = Harness::start(&config(contact, all, "")).await;
        let id = format!("c{i}");
        h.post("/api/v1/events", &native(&id, "Incident:X", "critical"))
            .await;
        let deadline = tokio::time::Instant::now() + WAIT;
        let steps = loop {
            let steps = explain(&h, &id).await;
            if steps.iter().any(|s| s["code"] == *code) {
                break steps;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "case {i}: {steps:#?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        };
        assert_eq!(step(&steps, "routed")["contact"], "bot");
        // The fix is said once, on the last step it applies to (the
        // conclusion when the message failed, else the attempt).
        let fixes: Vec<&str> = steps.iter().filter_map(|s| s["fix"].as_str()).collect();
        assert_eq!(fixes.len(), 1, "case {i}: {steps:#?}");
        assert!(fixes[0].contains(fix), "case {i}: {fixes:?}");
    }
}

#[test]
fn cli_explain_prints_steps_and_exit_codes() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let h = rt.block_on(async {
        let h = Harness::start("").await;
        h.post("/api/v1/events", &native("cli-x", "Incident:X", "info"))
            .await;
        h
    });
    let base = h.url("");
    let exe = env!("CARGO_BIN_EXE_tocsin");
    let out = std::process::Command::new(exe)
        .args(["explain", "--server", &base, "cli-x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Event cli-x\n 1. Received at "), "{text}");
    assert!(
        text.contains("No subscription covers product Sas"),
        "{text}"
    );
    assert!(text.contains("→ add a subscription"), "{text}");
    let out = std::process::Command::new(exe)
        .args(["explain", "--server", &base, "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    drop(h);
}

#[tokio::test]
async fn doctor_names_the_cause_and_the_object() {
    let lark = FakeBot::lark().await;
    lark.add_bot("kw", BotSettings::with_keywords(&["SecOps"]));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.yaml");
    // Writes the config (one contact, `extra` top-level keys) and runs
    // `tocsin doctor` on it: its exit code and what it printed.
    let doctor = async |contact: &str, extra: &str, live: bool| {
        std::fs::write(
            &path,
            format!(
                "delivery:\n  allow_private_networks: true\ncontacts:\n{contact}\ncontact_groups:\n  - {{ name: g, contacts: [bot] }}\nnotification_policies:\n  - {{ name: p, contact_groups: [g] }}\nsubscriptions:\n  - {{ name: s, products: [Sas], event_types: [Suspicious], notification_policy: p }}\n{extra}"
            ),
        )
        .unwrap();
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"));
        cmd.arg("doctor");
        if live {
            cmd.arg("--live");
        }
        let out = cmd.arg("--config").arg(&path).output().await.unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let without_keyword = format!(
        "  - {{ name: bot, channel: lark, webhook: \"{}\" }}",
        lark.url("kw")
    );
    let with_keyword = format!(
        "  - {{ name: bot, channel: lark, webhook: \"{}\", keywords: [SecOps] }}",
        lark.url("kw")
    );
    // Keyword missing, found live.
    let (code, text) = doctor(&without_keyword, "", true).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("error: contacts[bot] [live_test_failed]") && text.contains("19024"),
        "{text}"
    );
    assert!(
        text.contains("warning: contacts[bot] [keywords_unknown]"),
        "{text}"
    );
    // The same contact with the bot's keyword: healthy.
    let (code, text) = doctor(&with_keyword, "", true).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("live: contacts[bot]: test message delivered"),
        "{text}"
    );
    // A switch that is off for the only event type: the subscription can never match.
    let (code, text) = doctor(
        &with_keyword,
        "sources:\n  - name: sc\n    items:\n      alert: { details: false }\n",
        false,
    )
    .await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("error: subscriptions[s] [switch_off_for_all_event_types]"),
        "{text}"
    );
}
