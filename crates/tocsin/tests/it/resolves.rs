//! Resolves end to end: a resolved event goes, as a `resolved` message, to
//! exactly the contacts that were told of its firing alert: across a
//! restart, through a merge window, after a silence began, by Alertmanager
//! fingerprint; never to a contact that did not hear of it.

use crate::common::*;
use serde_json::{Value, json};
use std::time::Duration;
use tocsin_fakes::{BotSettings, FakeBot};

/// An occurrence of the same alert (same product, type, name and unique
/// info), firing or resolved, at `time`.
fn alert(id: &str, state: &str, time: &str) -> String {
    json!({"id": id, "product": "Sas", "event_type": "Suspicious", "name": "Suspicious:UnusualLogon",
           "level": "critical", "instance": "web-01", "state": state, "time": time,
           "content": {"alarmUniqueInfo": "u-logon-1", "desc": "unusual login"}})
    .to_string()
}

/// Contacts a, b and c (webhooks at /a, /b, /c of `rx`); the group holds
/// `members`; `sub` adds keys to the one subscription.
fn contacts(rx: &WebhookReceiver, members: &str, sub: &str) -> String {
    format!(
        r#"
delivery:
  allow_private_networks: true
  backoff: {{ initial: 50ms, max: 200ms }}
  timeout: 2s
contacts:
  - {{ name: a, channel: webhook, webhook: "{}" }}
  - {{ name: b, channel: webhook, webhook: "{}" }}
  - {{ name: c, channel: webhook, webhook: "{}" }}
contact_groups:
  - {{ name: team, contacts: [{members}] }}
notification_policies:
  - {{ name: policy, contact_groups: [team] }}
subscriptions:
  - {{ name: s, notification_policy: policy{sub} }}
"#,
        rx.url("/a"),
        rx.url("/b"),
        rx.url("/c")
    )
}

/// The received bodies of kind `resolved`: (path, body).
fn resolved_bodies(rx: &WebhookReceiver) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = rx
        .received()
        .into_iter()
        .filter(|r| r.json()["kind"] == "resolved")
        .map(|r| (r.path.clone(), r.json()))
        .collect();
    out.sort_by(|x, y| x.0.cmp(&y.0));
    out
}

fn paths(v: &[(String, Value)]) -> Vec<&str> {
    v.iter().map(|(p, _)| p.as_str()).collect()
}

async fn accepted(h: &Harness, body: &str) {
    let (s, v) = h.post("/api/v1/events", body).await;
    assert_eq!(s, 202, "{v}");
}

#[tokio::test]
async fn resolve_reaches_exactly_the_told_contacts_across_a_restart() {
    let rx = WebhookReceiver::start().await;
    let mut h = Harness::start(&contacts(&rx, "a, b", "")).await;
    accepted(&h, &alert("f-1", "firing", "2026-11-29T02:00:00Z")).await;
    h.wait_status("f-1", "a", "delivered").await;
    h.wait_status("f-1", "b", "delivered").await;

    // Restart with a third contact in the group: it never heard of f-1.
    h.stop().await;
    h.boot(config(&contacts(&rx, "a, b, c", ""), &[])).await;
    accepted(&h, &alert("r-1", "resolved", "2026-11-29T05:12:00Z")).await;
    h.wait_status("r-1", "a", "delivered").await;
    h.wait_status("r-1", "b", "delivered").await;
    idle(&h).await;
    let got = resolved_bodies(&rx);
    assert_eq!(paths(&got), ["/a", "/b"], "{got:#?}");
    for (_, body) in &got {
        assert_eq!(body["kind"], "resolved");
        assert_eq!(body["events"][0]["id"], "r-1");
        assert_eq!(body["events"][0]["state"], "resolved");
        let note = body["note"].as_str().unwrap();
        assert!(note.starts_with("Resolved after 3h 12m"), "{note}");
    }

    // The history links both ways; the verdict is a code, explain says it.
    let r = h.event("r-1").await;
    assert_eq!(r["resolves"], json!(["f-1"]), "{r:#}");
    assert_eq!(r["route"][0]["code"], "resolve", "{r:#}");
    let contacts: Vec<&str> = r["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["contact"].as_str().unwrap())
        .collect();
    assert_eq!(contacts, ["a", "b"]);
    assert_eq!(r["deliveries"][0]["message_kind"], "resolved");
    let f = h.event("f-1").await;
    assert_eq!(f["resolved_by"], json!(["r-1"]), "{f:#}");
    let (_, ex) = h.get("/api/v1/events/r-1/explain").await;
    let step = ex["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "resolve")
        .cloned()
        .expect("a resolve step");
    let sentence = step["sentence"].as_str().unwrap();
    assert!(
        sentence.starts_with("A resolve of firing event(s) f-1: a resolved message goes to the contacts told of it (a, b)"),
        "{sentence}"
    );

    // A second resolve of the same alert sends nothing more.
    accepted(&h, &alert("r-2", "resolved", "2026-11-29T05:13:00Z")).await;
    let r2 = h.event("r-2").await;
    assert_eq!(r2["route"][0]["code"], "resolve_no_told_contact", "{r2:#}");
    assert_eq!(r2["resolves"], json!([]));
    assert!(r2["deliveries"].as_array().unwrap().is_empty(), "{r2:#}");

    // A new firing after the resolve is a new alert: all three hear of it,
    // and its resolve goes to all three.
    accepted(&h, &alert("f-2", "firing", "2026-11-29T06:00:00Z")).await;
    for c in ["a", "b", "c"] {
        h.wait_status("f-2", c, "delivered").await;
    }
    accepted(&h, &alert("r-3", "resolved", "2026-11-29T06:05:00Z")).await;
    for c in ["a", "b", "c"] {
        h.wait_status("r-3", c, "delivered").await;
    }
    idle(&h).await;
    assert_eq!(resolved_bodies(&rx).len(), 5, "{:#?}", resolved_bodies(&rx));
    assert_eq!(h.event("r-3").await["resolves"], json!(["f-2"]));
}

#[tokio::test]
async fn resolve_with_no_told_contact_is_stored_and_sends_nothing() {
    let rx = WebhookReceiver::start().await;
    let h = Harness::start(&contacts(&rx, "a", "")).await;
    accepted(&h, &alert("lone-r", "resolved", "2026-11-29T05:00:00Z")).await;
    let e = h.event("lone-r").await;
    assert_eq!(e["state"], "resolved");
    assert_eq!(e["outcome"], "unmatched");
    assert_eq!(e["route"][0]["code"], "resolve_no_told_contact", "{e:#}");
    let (_, ex) = h.get("/api/v1/events/lone-r/explain").await;
    assert!(
        ex.to_string()
            .contains("it matched no contact that was told of the alert"),
        "{ex:#}"
    );
    idle(&h).await;
    assert_eq!(rx.count(), 0);
}

#[tokio::test]
async fn one_resolve_for_a_merged_alert() {
    let rx = WebhookReceiver::start().await;
    let h = Harness::start_manual(&contacts(&rx, "a", ", merge_window: 10m")).await;
    let batch = format!(
        "[{},{},{}]",
        alert("m-1", "firing", "2026-11-29T02:00:00Z"),
        alert("m-2", "firing", "2026-11-29T02:00:01Z"),
        alert("m-3", "firing", "2026-11-29T02:00:02Z")
    );
    accepted(&h, &batch).await;
    h.wait_status("m-1", "a", "delivered").await;
    for id in ["m-2", "m-3"] {
        assert_eq!(h.event(id).await["deliveries"][0]["status"], "merged");
    }
    accepted(&h, &alert("m-r", "resolved", "2026-11-29T02:30:00Z")).await;
    let e = h.wait_status("m-r", "a", "delivered").await;
    assert_eq!(e["resolves"], json!(["m-1", "m-2", "m-3"]), "{e:#}");
    // The follow-up waits for its window; only one resolve went out.
    let got = rx.wait_for(2, WAIT).await;
    let resolved: Vec<&tocsin_fakes::webhook::Received> = got
        .iter()
        .filter(|r| r.json()["kind"] == "resolved")
        .collect();
    assert_eq!(resolved.len(), 1);
    assert!(
        resolved[0].json()["note"]
            .as_str()
            .unwrap()
            .starts_with("Resolved after 30m"),
        "{}",
        resolved[0].json()
    );
    h.clock().advance(Duration::from_secs(601));
    idle(&h).await;
    assert_eq!(resolved_bodies(&rx).len(), 1);
}

#[tokio::test]
async fn a_silence_begun_after_the_firing_does_not_stop_its_resolve() {
    let rx = WebhookReceiver::start().await;
    let h = Harness::start(&contacts(&rx, "a", "")).await;
    accepted(&h, &alert("s-1", "firing", "2026-11-29T02:00:00Z")).await;
    h.wait_status("s-1", "a", "delivered").await;
    let resp = h
        .client
        .post(h.url("/api/v1/silences"))
        .header("content-type", "application/json")
        .body(
            json!({"name": "hush", "matchers": {"event_names": ["Suspicious:*"]}, "duration": "2h"})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    // The silence holds for new firings...
    accepted(&h, &alert("s-2", "firing", "2026-11-29T02:10:00Z")).await;
    let e = h.event("s-2").await;
    assert_eq!(e["route"][0]["code"], "silenced", "{e:#}");
    // ...but the contact told of the alert hears of its end.
    accepted(&h, &alert("s-r", "resolved", "2026-11-29T03:00:00Z")).await;
    let e = h.wait_status("s-r", "a", "delivered").await;
    assert_eq!(e["resolves"], json!(["s-1", "s-2"]), "{e:#}");
    idle(&h).await;
    assert_eq!(paths(&resolved_bodies(&rx)), ["/a"]);
}

#[tokio::test]
async fn alertmanager_resolved_alert_resolves_by_fingerprint() {
    let rx = WebhookReceiver::start().await;
    let h = Harness::start(&one_hook(&rx.url("/hook"), "", ALL)).await;
    let group = |status: &str, ends: &str| {
        json!({"version": "4", "status": status, "receiver": "tocsin",
               "groupLabels": {"alertname": "HostSshBruteForce"}, "commonLabels": {}, "commonAnnotations": {},
               "externalURL": "http://alertmanager.example.com:9093",
               "alerts": [{"status": status,
                           "labels": {"alertname": "HostSshBruteForce", "severity": "critical", "instance": "web-01:9100"},
                           "annotations": {"summary": "SSH brute force on web-01"},
                           "startsAt": "2026-12-01T10:00:00Z", "endsAt": ends,
                           "fingerprint": "5f3c0a1b2d4e6f70"}]})
        .to_string()
    };
    let (s, v) = h
        .post(
            "/api/v1/events/alertmanager",
            &group("firing", "0001-01-01T00:00:00Z"),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let firing = v["ids"][0].as_str().unwrap().to_string();
    let enc =
        |id: &str| -> String { url::form_urlencoded::byte_serialize(id.as_bytes()).collect() };
    h.wait_status(&enc(&firing), "hook", "delivered").await;
    let (s, v) = h
        .post(
            "/api/v1/events/alertmanager",
            &group("resolved", "2026-12-01T12:05:00Z"),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let resolved = v["ids"][0].as_str().unwrap().to_string();
    let e = h.wait_status(&enc(&resolved), "hook", "delivered").await;
    assert_eq!(e["resolves"], json!([firing]), "{e:#}");
    let got = resolved_bodies(&rx);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1["events"][0]["state"], "resolved");
}

#[tokio::test]
async fn lark_shows_a_green_resolved_card_with_its_keyword() {
    let bot = FakeBot::lark().await;
    let settings = BotSettings {
        keywords: vec!["alert".into()],
        ..BotSettings::default()
    };
    bot.add_bot("hook-1", settings);
    let extra = "    keywords: [alert]\n";
    let h = Harness::start(&platform_config("lark", &bot.url("hook-1"), extra)).await;
    accepted(&h, &alert("lk-f", "firing", "2026-11-29T02:00:00Z")).await;
    h.wait_status("lk-f", "bot", "delivered").await;
    accepted(&h, &alert("lk-r", "resolved", "2026-11-29T05:12:00Z")).await;
    h.wait_status("lk-r", "bot", "delivered").await;
    let got = bot.wait_for_accepted(2, WAIT).await;
    assert_eq!(got.len(), 2);
    let d = &got[1];
    let body = d.json();
    assert_eq!(body["card"]["header"]["template"], "green", "{body:#}");
    let title = body["card"]["header"]["title"]["content"].as_str().unwrap();
    assert!(
        title.starts_with("[RESOLVED] Suspicious:UnusualLogon"),
        "{title}"
    );
    let text = d.rendered_text();
    assert!(text.contains("Resolved after 3h 12m"), "{text}");
    assert!(text.contains("sec-feed · alert"), "keyword kept: {text}");
}

#[tokio::test]
async fn a_contact_whose_firing_message_failed_gets_no_resolve() {
    let rx = WebhookReceiver::start().await;
    let refusing = WebhookReceiver::start().await;
    refusing.script([Reply::Status(400)]);
    let yaml = contacts(&rx, "a, b", "").replace(&rx.url("/b"), &refusing.url("/b"));
    let h = Harness::start(&yaml).await;
    accepted(&h, &alert("x-1", "firing", "2026-11-29T02:00:00Z")).await;
    h.wait_status("x-1", "a", "delivered").await;
    h.wait_status("x-1", "b", "failed").await;
    accepted(&h, &alert("x-r", "resolved", "2026-11-29T02:30:00Z")).await;
    let e = h.wait_status("x-r", "a", "delivered").await;
    let told: Vec<&str> = e["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["contact"].as_str().unwrap())
        .collect();
    assert_eq!(told, ["a"], "{e:#}");
    idle(&h).await;
    assert_eq!(refusing.count(), 1, "only the failed firing message");
}

#[tokio::test]
async fn a_resolve_of_an_alert_waiting_in_a_digest_reaches_its_contact() {
    let rx = WebhookReceiver::start().await;
    let h = Harness::start_manual(&contacts(
        &rx,
        "a",
        ", digest: { schedule: \"0 10 * * 4\", timezone: Asia/Shanghai }",
    ))
    .await;
    accepted(&h, &alert("d-1", "firing", "2026-11-29T02:00:00Z")).await;
    let f = h.event("d-1").await;
    assert_eq!(f["deliveries"][0]["status"], "pending", "{f:#}");
    assert_eq!(f["deliveries"][0]["message_kind"], "digest", "{f:#}");
    accepted(&h, &alert("d-r", "resolved", "2026-11-29T02:45:00Z")).await;
    let e = h.wait_status("d-r", "a", "delivered").await;
    assert_eq!(e["resolves"], json!(["d-1"]), "{e:#}");
    let got = resolved_bodies(&rx);
    assert_eq!(paths(&got), ["/a"]);
    assert_eq!(rx.count(), 1, "the digest still waits for its time");
}
