use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn accepted_events_are_stored_and_listed() {
    let h = Harness::start("").await;
    let (status, v) = h
        .post(
            "/api/v1/events",
            &native("e1", "Suspicious:UnusualLogon", "WARNING"),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v, json!({"accepted": 1, "ids": ["e1"], "duplicates": 0}));
    let ev = h.event("e1").await;
    assert_eq!(ev["id"], "e1");
    assert_eq!(ev["level"], "warn");
    assert_eq!(ev["instance"], "web-01");
    assert_eq!(ev["time"], "2026-11-29T02:00:00.000Z");
    assert_eq!(ev["outcome"], "unmatched");
    assert_eq!(ev["content"]["desc"], "unusual login");
    assert_eq!(ev["deliveries"], json!([]));
    assert!(ev["received_at"].as_str().unwrap().ends_with('Z'));
    let (_, list) = h.get("/api/v1/events").await;
    assert_eq!(list["events"][0]["id"], "e1");
    assert_eq!(list["next_cursor"], serde_json::Value::Null);
}

#[tokio::test]
async fn generated_ids_are_uuid_v7() {
    let h = Harness::start("").await;
    let (status, v) =
        h.post("/api/v1/events", r#"[{"product":"Sas","name":"a","level":"info"},{"product":"Sas","name":"b","level":"info"}]"#).await;
    assert_eq!(status, 202);
    let ids: Vec<&str> = v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        let u = uuid_version(id);
        assert_eq!(u, Some('7'), "{id}");
    }
    assert_ne!(ids[0], ids[1]);
}

fn uuid_version(id: &str) -> Option<char> {
    (id.len() == 36).then(|| id.chars().nth(14)).flatten()
}

#[tokio::test]
async fn duplicate_ids_store_nothing_new_and_send_nothing() {
    let rx = WebhookReceiver::start().await;
    let h = Harness::start(&one_hook(&rx.url("/hook"), "", ALL)).await;
    let (s, v) = h
        .post(
            "/api/v1/events",
            &native("dup-1", "Suspicious:First", "critical"),
        )
        .await;
    assert_eq!((s, v["accepted"].as_u64()), (202, Some(1)));
    h.wait_status("dup-1", "hook", "delivered").await;
    // Same id again, in another format and with another body: the first wins.
    let aliyun = r#"{"id":"dup-1","product":"Sas","name":"Incident:Other","level":"INFO"}"#;
    let (s, v) = h.post("/api/v1/events/aliyun", aliyun).await;
    assert_eq!(s, 202);
    assert_eq!(v, json!({"accepted": 0, "ids": ["dup-1"], "duplicates": 1}));
    // Twice within one request too.
    let batch = format!(
        "[{},{}]",
        native("dup-2", "x", "info"),
        native("dup-2", "y", "info")
    );
    let (_, v) = h.post("/api/v1/events", &batch).await;
    assert_eq!(
        v,
        json!({"accepted": 1, "ids": ["dup-2", "dup-2"], "duplicates": 1})
    );
    h.wait_status("dup-2", "hook", "delivered").await;
    idle(&h).await;
    let got = rx.received();
    assert_eq!(got.len(), 2, "one message per distinct id");
    assert_eq!(h.event("dup-1").await["name"], "Suspicious:First");
    assert_eq!(h.event("dup-2").await["name"], "x");
}

#[tokio::test]
async fn a_rejected_batch_stores_nothing() {
    let h = Harness::start("").await;
    let batch = r#"[{"id":"ok-1","product":"Sas","name":"n","level":"info"},{"id":"bad","product":"Sas","level":"info"}]"#;
    let (status, v) = h.post("/api/v1/events", batch).await;
    assert_eq!(status, 400);
    assert_eq!(v["index"], 1);
    assert_eq!(v["field"], "name");
    assert!(v["error"].as_str().unwrap().contains("name"));
    let (status, _) = h.get("/api/v1/events/ok-1").await;
    assert_eq!(status, 404);
    let (_, list) = h.get("/api/v1/events").await;
    assert_eq!(list["events"], json!([]));

    let (status, v) = h.post("/api/v1/events", "{not json").await;
    assert_eq!(status, 400);
    assert_eq!(v["index"], serde_json::Value::Null);
    let (status, v) = h
        .post(
            "/api/v1/events/aliyun",
            r#"{"product":"Sas","name":"n","level":"INFO","eventTime":"tomorrow"}"#,
        )
        .await;
    assert_eq!((status, v["field"].as_str()), (400, Some("eventTime")));
}

#[tokio::test]
async fn aliyun_sample_file_is_accepted() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/samples/aliyun-security-center.json"
    );
    let Ok(body) = std::fs::read_to_string(path) else {
        return;
    };
    let h = Harness::start("").await;
    let (status, v) = h.post("/api/v1/events/aliyun", &body).await;
    assert_eq!(status, 202, "{v}");
    let first = v["ids"][0].as_str().unwrap().to_string();
    let ev = h.event(&first).await;
    assert_eq!(ev["format"], "aliyun");
    assert_eq!(ev["event_type"], "Incident");
    assert_eq!(ev["severity"], "serious");
    assert_eq!(ev["raw"]["userId"], "1234567890123456");
}

#[tokio::test]
async fn oversized_bodies_get_413_json() {
    let h = Harness::start("server:\n  max_body: 1KiB\n").await;
    let big = format!(
        r#"{{"product":"Sas","name":"n","level":"info","content":{{"pad":"{}"}}}}"#,
        "x".repeat(2000)
    );
    let (status, v) = h.post("/api/v1/events", &big).await;
    assert_eq!(status, 413);
    assert!(v["error"].as_str().unwrap().contains("max_body"));
    // Chunked (no Content-Length) is caught too.
    let stream = futures_body(big.into_bytes());
    let resp = h
        .client
        .post(h.url("/api/v1/events"))
        .body(stream)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    let (_, list) = h.get("/api/v1/events").await;
    assert_eq!(list["events"], json!([]));
}

fn futures_body(bytes: Vec<u8>) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(100).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures::stream::iter(chunks))
}

#[tokio::test]
async fn cloud_monitor_retries_carry_trace_id_and_are_sent_once() {
    // The cloud monitor's callback has `traceId` and no `id`; it retries the
    // same callback when we are slow. Each retry must be a duplicate.
    let rx = WebhookReceiver::start().await;
    let h = Harness::start(&one_hook(&rx.url("/hook"), "", ALL)).await;
    let callback = r#"{"traceId":"8f3c1e2a-trace-0001","product":"Sas","name":"Incident:DDoS",
        "level":"CRITICAL","eventTime":"20261129T100000.000+0800","resourceId":"acs:ecs:cn-hangzhou:1:instance/i-1"}"#;
    let mut answers = Vec::new();
    for _ in 0..3 {
        let (s, v) = h.post("/api/v1/events/aliyun", callback).await;
        assert_eq!(s, 202, "{v}");
        answers.push(v);
    }
    assert_eq!(
        answers[0],
        json!({"accepted": 1, "ids": ["8f3c1e2a-trace-0001"], "duplicates": 0})
    );
    for v in &answers[1..] {
        assert_eq!(
            v,
            &json!({"accepted": 0, "ids": ["8f3c1e2a-trace-0001"], "duplicates": 1})
        );
    }
    let (_, list) = h.get("/api/v1/events").await;
    assert_eq!(list["events"].as_array().unwrap().len(), 1, "{list:#}");
    h.wait_status("8f3c1e2a-trace-0001", "hook", "delivered")
        .await;
    // A later event on the same contact: once it is delivered too, every
    // message queued before it has had its turn.
    let (s, _) = h
        .post(
            "/api/v1/events",
            &native("after-1", "Suspicious:Later", "info"),
        )
        .await;
    assert_eq!(s, 202);
    h.wait_status("after-1", "hook", "delivered").await;
    let got = rx.received();
    assert_eq!(
        got.len(),
        2,
        "one message per callback, one for the later event"
    );
    let carried: Vec<String> = got
        .iter()
        .map(|r| {
            r.json()["events"][0]["id"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert!(
        carried.contains(&"8f3c1e2a-trace-0001".to_string()),
        "{carried:?}"
    );

    // `id` is the fallback when there is no `traceId`.
    let (s, v) = h
        .post(
            "/api/v1/events/aliyun",
            r#"{"id":"plain-id-1","product":"Sas","name":"n","level":"INFO"}"#,
        )
        .await;
    assert_eq!((s, &v["ids"]), (202, &json!(["plain-id-1"])));
}
