//! The quarantine: an authenticated request that cannot be read is kept
//! (bounded, identical ones counted once), listed, shown, replayed once the
//! config reads it, and deleted; 401 and 413 are never kept.

use crate::common::*;
use base64::Engine as _;
use serde_json::{Value, json};
use tocsin::server::{ServeOptions, Server};

const URGENT: &str = r#"{"traceId":"trace-urgent-1","product":"Sas","name":"Incident:Ransomware","level":"urgent","resourceId":"acs:ecs:cn-hangzhou:1:instance/i-q1","content":{"desc":"files encrypted"}}"#;

fn tocsin_cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(args)
        .env_remove("TOCSIN_API_TOKEN")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn send(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
) -> (u16, Value) {
    let mut req = c.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_request_is_kept_listed_shown_and_replayed_after_a_reload() {
    let rx = WebhookReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tocsin.yaml");
    let write = |severity_map: &str| {
        std::fs::write(
            &path,
            format!(
                "server:\n  api_token: admin-secret\n{severity_map}{}",
                one_hook(&rx.url("/hook"), "", ALL)
            ),
        )
        .unwrap()
    };
    write("");
    let server = Server::start(ServeOptions {
        config_path: Some(path.clone()),
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.path().join("data")),
        ..Default::default()
    })
    .await
    .unwrap();
    let base = server.base_url();
    let c = client();
    let token = Some("admin-secret");

    // `urgent` is no level this config knows: 400, and the request is kept.
    let r = c
        .post(format!("{base}/api/v1/events/aliyun"))
        .bearer_auth("admin-secret")
        .header("content-type", "application/json; charset=utf-8")
        .body(URGENT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let refused: Value = r.json().await.unwrap();
    assert_eq!(refused["index"], 0);
    assert_eq!(refused["field"], "level");
    let qid = refused["quarantine_id"]
        .as_str()
        .expect("quarantine_id")
        .to_string();
    let mut keys: Vec<&String> = refused.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["error", "field", "index", "quarantine_id"]);

    // The quarantine is an admin call.
    let (s, _) = send(
        &c,
        reqwest::Method::GET,
        format!("{base}/api/v1/quarantine"),
        None,
    )
    .await;
    assert_eq!(s, 401);
    let (s, list) = send(
        &c,
        reqwest::Method::GET,
        format!("{base}/api/v1/quarantine"),
        token,
    )
    .await;
    assert_eq!(s, 200, "{list}");
    let requests = list["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1, "{list:#}");
    let q = &requests[0];
    assert_eq!(q["id"], qid.as_str());
    assert_eq!(q["path"], "/api/v1/events/aliyun");
    assert_eq!(q["content_type"], "application/json; charset=utf-8");
    assert_eq!(q["size"], URGENT.len());
    assert_eq!(q["count"], 1);
    assert_eq!(q["index"], 0);
    assert_eq!(q["field"], "level");
    assert_eq!(q["error"], refused["error"]);
    assert!(q["received_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(q.get("body"), None, "the list carries no bodies");
    assert_eq!(list["next_cursor"], Value::Null);

    let (s, shown) = send(
        &c,
        reqwest::Method::GET,
        format!("{base}/api/v1/quarantine/{qid}"),
        token,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(shown["body"], URGENT, "the body byte for byte");
    assert_eq!(shown.get("body_encoding"), None);

    // The CLI wraps the same calls.
    let (code, out, err) = tocsin_cli(&[
        "quarantine",
        "list",
        "--server",
        &base,
        "--token",
        "admin-secret",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(&qid) && out.contains("/api/v1/events/aliyun"),
        "{out}"
    );
    let (code, out, err) = tocsin_cli(&[
        "quarantine",
        "show",
        &qid,
        "--server",
        &base,
        "--token",
        "admin-secret",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(URGENT), "{out}");

    // `tocsin doctor` on the store sees it.
    let (code, out, _) = tocsin_cli(&[
        "doctor",
        "--config",
        path.to_str().unwrap(),
        "--data",
        dir.path().join("data").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("error: quarantine[/api/v1/events/aliyun] [quarantined_requests]: 1 request to /api/v1/events/aliyun could not be read")
            && out.contains("see `tocsin quarantine list`"),
        "{out}"
    );

    // Replayed with the same config: the same 400, and it stays.
    let replay = format!("{base}/api/v1/quarantine/{qid}/replay");
    let (s, again) = send(&c, reqwest::Method::POST, replay.clone(), token).await;
    assert_eq!(s, 400, "{again}");
    assert_eq!(again["field"], "level");
    assert_eq!(again["quarantine_id"], qid.as_str());
    let (code, _, err) = tocsin_cli(&[
        "quarantine",
        "replay",
        &qid,
        "--server",
        &base,
        "--token",
        "admin-secret",
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("still unreadable"), "{err}");
    assert_eq!(rx.count(), 0);

    // A reload teaches the severity map `urgent`: the replay is accepted,
    // answered like ingest, delivered, and leaves the quarantine.
    write("catalog:\n  severity_map: { urgent: critical }\n");
    server.app.reload().await.expect("reload");
    let (s, accepted) = send(&c, reqwest::Method::POST, replay.clone(), token).await;
    assert_eq!(s, 202, "{accepted}");
    assert_eq!(
        accepted,
        json!({"accepted": 1, "ids": ["trace-urgent-1"], "duplicates": 0})
    );
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    let msg = got[0].json();
    assert_eq!(msg["events"][0]["id"], "trace-urgent-1");
    assert_eq!(msg["events"][0]["level"], "critical");
    assert_eq!(msg["events"][0]["content"]["desc"], "files encrypted");
    let (_, list) = send(
        &c,
        reqwest::Method::GET,
        format!("{base}/api/v1/quarantine"),
        token,
    )
    .await;
    assert_eq!(list["requests"], json!([]), "{list:#}");
    let (s, gone) = send(&c, reqwest::Method::POST, replay, token).await;
    assert_eq!(s, 404);
    assert!(gone["error"].as_str().unwrap().contains(&qid), "{gone}");
    server.shutdown().await;
}

#[tokio::test]
async fn identical_bodies_are_kept_once_with_a_count() {
    let h = Harness::start("").await;
    let bad = r#"{"product":"Sas","level":"info"}"#;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (s, v) = h.post("/api/v1/events", bad).await;
        assert_eq!(s, 400);
        ids.push(v["quarantine_id"].as_str().unwrap().to_string());
    }
    assert!(ids.iter().all(|i| i == &ids[0]), "{ids:?}");
    // The same body to another path, and another body: kept apart.
    let (_, other_path) = h.post("/api/v1/events/aliyun", bad).await;
    let (_, other_body) = h
        .post(
            "/api/v1/events",
            r#"{"product":"Sas","level":"info","x":1}"#,
        )
        .await;
    let (_, list) = h.get("/api/v1/quarantine").await;
    let requests = list["requests"].as_array().unwrap();
    let got: Vec<(&str, u64)> = requests
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            (other_body["quarantine_id"].as_str().unwrap(), 1),
            (other_path["quarantine_id"].as_str().unwrap(), 1),
            (ids[0].as_str(), 3),
        ],
        "newest first"
    );
    // Pages, like the events list.
    let (_, page) = h.get("/api/v1/quarantine?limit=2").await;
    assert_eq!(page["requests"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = h
        .get(&format!("/api/v1/quarantine?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(rest["requests"][0]["id"], ids[0].as_str());
    assert_eq!(rest["next_cursor"], Value::Null);
}

#[tokio::test]
async fn the_size_bound_drops_the_oldest_first() {
    let h = Harness::start("store:\n  quarantine_max: 1KiB\n").await;
    // Four distinct bodies of 400 bytes: only the two newest fit in 1 KiB.
    let body = |n: usize| {
        let head = format!(r#"{{"product":"Sas","level":"info","n":{n},"pad":""#);
        let pad = 400 - head.len() - 2;
        format!("{head}{}\"}}", "x".repeat(pad))
    };
    let mut ids = Vec::new();
    for n in 0..4 {
        let b = body(n);
        assert_eq!(b.len(), 400);
        let (s, v) = h.post("/api/v1/events", &b).await;
        assert_eq!(s, 400);
        ids.push(v["quarantine_id"].as_str().unwrap().to_string());
    }
    let (_, list) = h.get("/api/v1/quarantine").await;
    let kept: Vec<&str> = list["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(kept, [ids[3].as_str(), ids[2].as_str()]);
    let (s, _) = h.get(&format!("/api/v1/quarantine/{}", ids[0])).await;
    assert_eq!(s, 404);
    // A body larger than the whole bound is not kept: still the same 400.
    let big = format!(
        r#"{{"product":"Sas","level":"info","pad":"{}"}}"#,
        "y".repeat(2000)
    );
    let (s, v) = h.post("/api/v1/events", &big).await;
    assert_eq!((s, v["field"].as_str()), (400, Some("name")));
    assert_eq!(v.get("quarantine_id"), None);
    let metrics = h.metrics_text().await;
    assert!(
        metrics.contains("tocsin_quarantine_dropped_total 3\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tocsin_quarantine_bytes 800\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tocsin_quarantined_total 4\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_shown_as_base64() {
    let h = Harness::start("").await;
    let raw: &[u8] = b"\xff\xfe{\"product\":\"Sas\"}\x00";
    let r = h
        .client
        .post(h.url("/api/v1/events"))
        .header("content-type", "application/octet-stream")
        .body(raw.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["index"], Value::Null);
    let id = v["quarantine_id"].as_str().unwrap();
    let (s, shown) = h.get(&format!("/api/v1/quarantine/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(shown["body_encoding"], "base64");
    assert_eq!(shown["content_type"], "application/octet-stream");
    assert_eq!(shown["size"], raw.len());
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(shown["body"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, raw);
}

#[tokio::test]
async fn unauthorized_and_oversized_requests_are_counted_not_kept() {
    let h = Harness::start("server:\n  api_token: t0ken\n  max_body: 200B\n").await;
    let bad = r#"{"product":"Sas","level":"info"}"#;
    let (s, v) = h.post("/api/v1/events", bad).await;
    assert_eq!(s, 401);
    assert_eq!(v.get("quarantine_id"), None);
    let (s, _) = h.post_with("/api/v1/events", bad, Some("wrong")).await;
    assert_eq!(s, 401);
    let big = format!(r#"{{"product":"Sas","pad":"{}"}}"#, "z".repeat(300));
    let (s, v) = h.post_with("/api/v1/events", &big, Some("t0ken")).await;
    assert_eq!(s, 413);
    assert_eq!(v.get("quarantine_id"), None);
    let (s, list) = h.get_with("/api/v1/quarantine", Some("t0ken")).await;
    assert_eq!(s, 200);
    assert_eq!(list["requests"], json!([]));
    let metrics = h.metrics_text().await;
    assert!(
        metrics.contains("tocsin_ingest_requests_total{status=\"401\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tocsin_ingest_requests_total{status=\"413\"} 1\n"),
        "{metrics}"
    );
    // The same body with the token and within the bound is kept.
    let (s, v) = h.post_with("/api/v1/events", bad, Some("t0ken")).await;
    assert_eq!(s, 400);
    assert!(v["quarantine_id"].is_string(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_are_404_and_delete_removes() {
    let h = Harness::start("").await;
    let c = &h.client;
    let (s, v) = send(
        c,
        reqwest::Method::POST,
        h.url("/api/v1/quarantine/no-such-id/replay"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert!(v["error"].as_str().unwrap().contains("no-such-id"), "{v}");
    let (s, v) = send(
        c,
        reqwest::Method::DELETE,
        h.url("/api/v1/quarantine/no-such-id"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert!(v["error"].is_string());
    let (s, v) = h.get("/api/v1/quarantine/no-such-id").await;
    assert_eq!(s, 404);
    assert!(v["error"].is_string());

    let (_, v) = h.post("/api/v1/events", "{nope").await;
    let id = v["quarantine_id"].as_str().unwrap().to_string();
    let r = c
        .delete(h.url(&format!("/api/v1/quarantine/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (s, _) = h.get(&format!("/api/v1/quarantine/{id}")).await;
    assert_eq!(s, 404);
    let base = h.url("");
    let (code, _, err) = tocsin_cli(&["quarantine", "delete", &id, "--server", &base]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no quarantined request"), "{err}");
}
