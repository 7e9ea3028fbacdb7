use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn filters_deny_lists_and_switches_end_to_end() {
    let rx = WebhookReceiver::start().await;
    let subs = r#"  - { name: crit-only, levels: [critical], notification_policy: policy }
  - { name: deny-ddos, products: [Sas], event_types: [Incident], event_names: ["Incident:DDoS"], deny_list: true, notification_policy: policy }
"#;
    let mut yaml = one_hook(&rx.url("/hook"), "", subs);
    yaml.push_str("sources:\n  - name: sc\n    items:\n      alert: { details: false }\n");
    let h = Harness::start(&yaml).await;
    let events = json!([
        {"id": "warn-1", "product": "Sas", "event_type": "Incident", "name": "Incident:DDoS", "level": "warn"},
        {"id": "brute-1", "product": "Sas", "event_type": "Incident", "name": "Incident:BruteForce", "level": "warn"},
        {"id": "crit-1", "product": "Sas", "event_type": "Incident", "name": "Incident:DDoS", "level": "critical"},
        {"id": "alert-1", "product": "Sas", "event_type": "Suspicious", "name": "Suspicious:X", "level": "critical"},
        {"id": "other-1", "product": "ecs", "name": "Instance:StateChange", "level": "info"}
    ]);
    let (status, v) = h.post("/api/v1/events", &events.to_string()).await;
    assert_eq!(status, 202, "{v}");

    // warn DDoS: excluded by both subscriptions.
    let ev = h.event("warn-1").await;
    assert_eq!(ev["outcome"], "unmatched");
    let route: Vec<(String, String)> = ev["route"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["subscription"].as_str().unwrap().into(),
                d["code"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        route,
        [
            ("crit-only".into(), "level_not_matched".into()),
            ("deny-ddos".into(), "denied_by_name".into())
        ]
    );
    assert_eq!(
        ev["route"][0]["detail"],
        "level warn is not among critical in crit-only"
    );

    // BruteForce: the deny list lets it through.
    let ev = h.wait_status("brute-1", "hook", "delivered").await;
    assert_eq!(ev["subscriptions"], json!(["deny-ddos"]));
    // Critical DDoS: crit-only matches; one notice naming that subscription.
    let ev = h.wait_status("crit-1", "hook", "delivered").await;
    assert_eq!(ev["deliveries"][0]["subscriptions"], json!(["crit-only"]));
    // Alert item switched off.
    let ev = h.event("alert-1").await;
    assert_eq!(ev["outcome"], "stopped_by_switch");
    assert_eq!(ev["stopped_by"]["item"], "alert");
    assert_eq!(ev["stopped_by"]["switch"], "details");
    assert_eq!(ev["route"], json!([]));
    // Another product: no subscription covers it.
    assert_eq!(h.event("other-1").await["outcome"], "unmatched");

    let got = rx.wait_for(2, WAIT).await;
    idle(&h).await;
    let got_now = rx.received();
    assert_eq!(got_now.len(), 2, "exactly the two routed events: {got:?}");
    let mut ids: Vec<String> = got_now
        .iter()
        .map(|r| r.json()["events"][0]["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["brute-1", "crit-1"]);

    let (_, stopped) = h.get("/api/v1/events?outcome=stopped_by_switch").await;
    assert_eq!(stopped["events"].as_array().unwrap().len(), 1);
    assert_eq!(stopped["events"][0]["id"], "alert-1");
    let (_, routed) = h.get("/api/v1/events?outcome=routed").await;
    for e in routed["events"].as_array().unwrap() {
        assert_eq!(e["deliveries"], json!({"delivered": 1}));
    }
}

#[tokio::test]
async fn several_subscriptions_one_contact_one_message() {
    let rx = WebhookReceiver::start().await;
    let subs = "  - { name: s1, notification_policy: policy }\n  - { name: s2, levels: [critical], notification_policy: policy }\n";
    let h = Harness::start(&one_hook(&rx.url("/hook"), "", subs)).await;
    h.post("/api/v1/events", &native("m-1", "Suspicious:X", "critical"))
        .await;
    let ev = h.wait_status("m-1", "hook", "delivered").await;
    assert_eq!(ev["subscriptions"], json!(["s1", "s2"]));
    assert_eq!(ev["deliveries"].as_array().unwrap().len(), 1);
    idle(&h).await;
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["subscriptions"], json!(["s1", "s2"]));
}
