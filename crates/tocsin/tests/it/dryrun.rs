//! Dry-run checked against a real replay of the same events.

use crate::common::*;
use serde_json::{Value, json};

fn events(prefix: &str) -> String {
    let mut out = Vec::new();
    for round in 0..3 {
        for u in 0..4 {
            out.push(json!({"id": format!("{prefix}-{u}-{round}"), "product": "Sas", "event_type": "Incident",
                "name": format!("Incident:Kind{u}"), "level": if u < 2 { "critical" } else { "warn" },
                "content": {"alarmUniqueInfo": format!("u{u}")}}));
        }
    }
    Value::Array(out).to_string()
}

#[tokio::test]
async fn dry_run_matches_a_real_replay() {
    let rx = WebhookReceiver::start().await;
    // The running config: the contact exists, no subscription yet.
    let base = one_hook(&rx.url("/hook"), "", "");
    let h = Harness::start(&base).await;
    assert_eq!(h.post("/api/v1/events", &events("a")).await.0, 202);
    let candidate = json!({"name": "crit", "levels": ["critical"], "merge_window": "1s", "notification_policy": "policy"});
    let (s, f) = h
        .post(
            "/api/v1/subscriptions/dry-run",
            &json!({"subscription": candidate}).to_string(),
        )
        .await;
    assert_eq!(s, 200, "{f}");
    assert_eq!(f["scanned"], 12);
    assert_eq!(f["matched"], 6);
    let c = &f["contacts"]["hook"];
    assert_eq!(
        (
            c["notifications"].as_u64(),
            c["merged"].as_u64(),
            c["follow_ups"].as_u64()
        ),
        (Some(2), Some(4), Some(2))
    );
    assert_eq!(c["messages"], 4);
    assert!(rx.received().is_empty(), "a dry run sends nothing");

    // The replay: the same events through the candidate as a real subscription.
    let rx2 = WebhookReceiver::start().await;
    let real = one_hook(
        &rx2.url("/hook"),
        "",
        "  - { name: crit, levels: [critical], merge_window: 1s, notification_policy: policy }\n",
    );
    let h2 = Harness::start(&real).await;
    assert_eq!(h2.post("/api/v1/events", &events("b")).await.0, 202);
    let got = rx2.wait_for(4, WAIT).await;
    // Every message ended (follow-ups too): nothing more will come.
    idle(&h2).await;
    assert_eq!(
        rx2.received().len() as u64,
        c["messages"].as_u64().unwrap(),
        "{got:?}"
    );

    // Bad candidates are refused with the field at fault.
    let (s, v) = h
        .post("/api/v1/subscriptions/dry-run", &json!({"subscription": {"name": "x", "levels": ["loud"], "notification_policy": "policy"}}).to_string())
        .await;
    assert_eq!(s, 400);
    assert_eq!(v["field"], "subscriptions[0].levels[0]");
    let (s, _) = h
        .post(
            "/api/v1/subscriptions/dry-run",
            &json!({"subscription": {"name": "x", "notification_policy": "nope"}}).to_string(),
        )
        .await;
    assert_eq!(s, 400);
}
