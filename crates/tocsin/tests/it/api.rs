use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn tokens_guard_the_api_and_ingest() {
    let yaml = "server:\n  api_token: api-tok\n  ingest_token: ing-tok\n";
    let h = Harness::start(yaml).await;
    let body = native("t-1", "x", "info");
    let (s, v) = h.post("/api/v1/events", &body).await;
    assert_eq!(s, 401);
    assert!(v["error"].is_string());
    assert_eq!(
        h.post_with("/api/v1/events", &body, Some("wrong")).await.0,
        401
    );
    assert_eq!(
        h.post_with("/api/v1/events", &body, Some("ing-tok"))
            .await
            .0,
        202
    );
    assert_eq!(
        h.post_with(
            "/api/v1/events",
            &native("t-2", "x", "info"),
            Some("api-tok")
        )
        .await
        .0,
        202
    );
    let (s, _) = h
        .post(
            "/api/v1/events/aliyun?token=ing-tok",
            r#"{"product":"Sas","name":"n","level":"INFO"}"#,
        )
        .await;
    assert_eq!(s, 202);
    // The ingest token opens ingest only.
    assert_eq!(h.get_with("/api/v1/events", Some("ing-tok")).await.0, 401);
    assert_eq!(h.get("/api/v1/events").await.0, 401);
    assert_eq!(h.get("/api/v1/contacts").await.0, 401);
    let (s, v) = h.get_with("/api/v1/events", Some("api-tok")).await;
    assert_eq!(s, 200);
    assert_eq!(v["events"].as_array().unwrap().len(), 3);
    // Health and metrics are outside /api/.
    assert_eq!(h.get("/healthz").await.0, 200);
    assert_eq!(h.get("/readyz").await.0, 200);
}

#[tokio::test]
async fn history_filters_and_cursor_pagination() {
    let h = Harness::start("").await;
    let mut batch = Vec::new();
    for i in 0..7 {
        let level = if i % 2 == 0 { "critical" } else { "info" };
        batch.push(json!({"id": format!("p-{i}"), "product": if i < 5 { "Sas" } else { "ecs" }, "event_type": "Incident", "name": "n", "level": level}));
    }
    h.post("/api/v1/events", &json!(batch).to_string()).await;
    let (_, page1) = h.get("/api/v1/events?limit=3").await;
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&page1), ["p-6", "p-5", "p-4"]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = h
        .get(&format!("/api/v1/events?limit=3&cursor={cursor}"))
        .await;
    assert_eq!(ids(&page2), ["p-3", "p-2", "p-1"]);
    let cursor = page2["next_cursor"].as_str().unwrap();
    let (_, page3) = h
        .get(&format!("/api/v1/events?limit=3&cursor={cursor}"))
        .await;
    assert_eq!(ids(&page3), ["p-0"]);
    assert_eq!(page3["next_cursor"], serde_json::Value::Null);

    let (_, v) = h.get("/api/v1/events?product=Sas&level=CRITICAL").await;
    assert_eq!(ids(&v), ["p-4", "p-2", "p-0"]);
    let (_, v) = h.get("/api/v1/events?limit=100000").await;
    assert_eq!(ids(&v).len(), 7, "clamped, not refused");
    let (_, v) = h
        .get("/api/v1/events?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z")
        .await;
    assert_eq!(ids(&v).len(), 0);
    let (s, v) = h.get("/api/v1/events?level=loud").await;
    assert_eq!((s, v["field"].as_str()), (400, Some("level")));
    let (s, v) = h.get("/api/v1/events?since=yesterday").await;
    assert_eq!((s, v["field"].as_str()), (400, Some("since")));
    let (s, v) = h.get("/api/v1/events/nope").await;
    assert_eq!(s, 404);
    assert!(v["error"].is_string());
    let (s, v) = h.get("/api/v1/nothing-here").await;
    assert_eq!(s, 404);
    assert!(v["error"].is_string());
}

#[tokio::test]
async fn metrics_count_events_messages_and_attempts() {
    let rx = WebhookReceiver::start().await;
    let h = Harness::start(&one_hook(&rx.url("/hook"), "", ALL)).await;
    h.post("/api/v1/events", &native("mt-1", "x", "info")).await;
    h.wait_status("mt-1", "hook", "delivered").await;
    let (_, v) = h
        .post(
            "/api/v1/events/aliyun",
            r#"{"product":"ecs","name":"Instance:X","level":"INFO"}"#,
        )
        .await;
    h.wait_status(v["ids"][0].as_str().unwrap(), "hook", "delivered")
        .await;
    let text = h.metrics_text().await;
    assert!(
        text.contains(r#"tocsin_events_received_total{format="native",outcome="routed"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"tocsin_events_received_total{format="aliyun",outcome="routed"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"tocsin_attempts_total{channel="webhook",outcome="delivered"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"tocsin_messages_total{channel="webhook",outcome="delivered"} 2"#),
        "{text}"
    );
    assert!(
        text.contains("tocsin_delivery_latency_seconds_count{channel=\"webhook\"}"),
        "{text}"
    );
    assert!(text.contains("tocsin_pending_messages"), "{text}");
    assert!(
        text.contains(r#"tocsin_contact_messages_total{contact="hook",channel="webhook",outcome="delivered"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"tocsin_store_commit_seconds_count{operation="ingest"} 2"#),
        "{text}"
    );
    let store_bytes: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("tocsin_store_bytes ")?.parse().ok())
        .expect("tocsin_store_bytes");
    assert!(store_bytes > 4096, "{store_bytes}");
}

/// The outbox per contact, read from the store at each scrape: a contact
/// whose receiver is down shows its pending message and how old it is (on
/// the server's clock); one that delivered shows nothing pending.
#[tokio::test]
async fn metrics_show_each_contacts_backlog_and_its_age() {
    let rx = WebhookReceiver::start().await;
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = probe.local_addr().unwrap();
    drop(probe);
    let down = format!("  - {{ name: down, channel: webhook, webhook: \"http://{dead}/x\" }}\n");
    let yaml = one_hook(&rx.url("/hook"), &down, ALL)
        .replace("contacts: [hook]", "contacts: [hook, down]");
    let h = Harness::start_manual(&yaml).await;
    h.post("/api/v1/events", &native("bk-1", "x", "info")).await;
    h.wait_status("bk-1", "hook", "delivered").await;
    let ev = h.event("bk-1").await;
    assert_eq!(ev["deliveries"].as_array().unwrap().len(), 2, "{ev:#}");
    h.clock().advance(std::time::Duration::from_secs(90));
    let text = h.metrics_text().await;
    assert!(
        text.contains(r#"tocsin_contact_pending_messages{contact="down"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"tocsin_contact_oldest_pending_seconds{contact="down"} 90.0"#),
        "{text}"
    );
    assert!(
        !text.contains(r#"tocsin_contact_pending_messages{contact="hook"}"#),
        "{text}"
    );
}

#[tokio::test]
async fn the_admin_token_is_not_accepted_in_the_query_string() {
    // A URL ends up in proxy logs and shell history: only the ingest token
    // may travel in `?token=`, never the admin token.
    let yaml = "server:\n  api_token: api-tok\n  ingest_token: ing-tok\n";
    let h = Harness::start(yaml).await;
    let body = r#"{"product":"Sas","name":"n","level":"INFO"}"#;
    let (s, _) = h.post("/api/v1/events/aliyun?token=api-tok", body).await;
    assert_eq!(s, 401);
    let (s, _) = h.post("/api/v1/events/aliyun?token=ing-tok", body).await;
    assert_eq!(s, 202);
    // As a Bearer header the admin token still opens ingest.
    let (s, _) = h
        .post_with(
            "/api/v1/events",
            &native("q-1", "x", "info"),
            Some("api-tok"),
        )
        .await;
    assert_eq!(s, 202);
}

/// The contacts API shows what a contact really does: keywords, mentions,
/// language, time zone and template, and the rate limits in force (the
/// platform's, with Tocsin's margin, when the contact sets none), with the
/// secrets still masked.
#[tokio::test]
async fn contacts_show_keywords_mentions_and_the_effective_rate_limits() {
    let yaml = r#"
contacts:
  - name: wc
    channel: wecom
    webhook: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SEKRETKEY"
    keywords: [alert]
    mentions: { users: [zhangsan], all: true, levels: [critical] }
    lang: zh
    timezone: Asia/Shanghai
    template: "{{ event.name }}"
  - name: hook
    channel: webhook
    webhook: "https://siem.example.com/in"
    secret: SEKRETHMAC
    rate_limit: [100/1m]
"#;
    let h = Harness::start(yaml).await;
    let (s, v) = h.get("/api/v1/contacts").await;
    assert_eq!(s, 200);
    let wc = &v["contacts"][0];
    assert_eq!(wc["keywords"], json!(["alert"]));
    assert_eq!(
        wc["mentions"],
        json!({"users": ["zhangsan"], "mobiles": [], "all": true, "levels": ["critical"]})
    );
    assert_eq!(wc["lang"], "zh");
    assert_eq!(wc["timezone"], "Asia/Shanghai");
    assert_eq!(wc["template"], "{{ event.name }}");
    // WeCom allows 20 a minute; Tocsin keeps 90 % of it over a 5 % longer window.
    assert_eq!(wc["rate_limit"], json!(["18/63s"]));
    assert_eq!(wc["rate_limit_source"], "platform");
    assert_eq!(wc["webhook"], "https://qyapi.weixin.qq.com/***");
    let hook = &v["contacts"][1];
    assert_eq!(hook["rate_limit"], json!(["100/60s"]));
    assert_eq!(hook["rate_limit_source"], "contact");
    assert_eq!(hook["secret"], "***");
    assert!(!v.to_string().contains("SEKRET"), "{v}");
}
