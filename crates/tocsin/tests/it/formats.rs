//! The peers' formats in (issue 12): Alertmanager and Grafana webhooks,
//! Falco and Falcosidekick, CloudEvents 1.0 in its three HTTP modes. The
//! fixtures are written from each vendor's published schema:
//!
//! - Alertmanager webhook v4: https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
//! - Grafana webhook notifier: https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/
//! - Falco / Falcosidekick (`types.FalcoPayload`): https://github.com/falcosecurity/falcosidekick
//! - CloudEvents HTTP binding: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md
//!
//! Stored events are checked field by field through the API; each format's
//! malformed example lands in the quarantine with its field; re-posting is a
//! duplicate; a subscription on product `falco` routes Falco events.

use crate::common::*;
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/formats/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// An event id as a path segment.
fn enc(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

async fn post_typed(h: &Harness, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    let resp = h
        .client
        .post(h.url(path))
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Posts a body that must be refused: checks the 400 names `index` and
/// `field`, and that the quarantine kept it under the format's path with
/// the same field. Returns the kept request.
async fn refused_and_kept(
    h: &Harness,
    path: &str,
    content_type: &str,
    body: &str,
    index: u64,
    field: &str,
) -> Value {
    let (status, v) = post_typed(h, path, content_type, body).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["field"], field, "{v}");
    assert_eq!(v["index"], index, "{v}");
    let qid = v["quarantine_id"].as_str().expect("quarantine_id");
    let (status, kept) = h.get(&format!("/api/v1/quarantine/{qid}")).await;
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["path"], path);
    assert_eq!(kept["field"], field);
    assert_eq!(kept["body"], body);
    kept
}

fn ids(v: &Value) -> Vec<String> {
    v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn alertmanager_v4_alerts_become_events_field_by_field() {
    let rx = WebhookReceiver::start().await;
    let h = Harness::start(&one_hook(&rx.url("/hook"), "", ALL)).await;
    let body = fixture("alertmanager-v4.json");
    let (status, v) = h.post("/api/v1/events/alertmanager", &body).await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (Some(2), Some(0))
    );
    let got = ids(&v);
    assert_eq!(
        got[0],
        "alertmanager:5f3c0a1b2d4e6f70:2026-12-01T10:00:00.123Z"
    );

    let e = h.event(&enc(&got[0])).await;
    assert_eq!(e["format"], "alertmanager");
    assert_eq!(e["name"], "HostSshBruteForce");
    assert_eq!(e["level"], "critical");
    assert_eq!(e["severity"], "critical");
    assert_eq!(e["product"], "Hosts", "label product wins");
    assert_eq!(e["event_type"], "");
    assert_eq!(e["resource"], "web-01:9100");
    assert_eq!(e["time"], "2026-12-01T10:00:00.123Z");
    assert_eq!(e["state"], "firing");
    assert_eq!(e["identity_key"], "alertmanager:5f3c0a1b2d4e6f70");
    let c = &e["content"];
    assert_eq!(c["labels"]["job"], "node");
    assert_eq!(c["annotations"]["summary"], "SSH brute force on web-01");
    assert!(
        c["generatorURL"]
            .as_str()
            .unwrap()
            .starts_with("http://prometheus.example.com:9090/graph")
    );
    assert_eq!(c["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(c["fingerprint"], "5f3c0a1b2d4e6f70");
    assert_eq!(c["receiver"], "tocsin");
    assert_eq!(c["externalURL"], "http://alertmanager.example.com:9093");
    assert!(
        c["groupKey"]
            .as_str()
            .unwrap()
            .contains("HostSshBruteForce")
    );

    // The second alert has no annotations, no generatorURL, no fingerprint
    // and no product label: Alertmanager's own fingerprint of its labels.
    let labels = json!({"alertname": "HostSshBruteForce", "severity": "warning", "instance": "web-02:9100", "job": "node"});
    let fp = tocsin::ingest::alertmanager::fingerprint(labels.as_object().unwrap());
    assert_eq!(
        got[1],
        format!("alertmanager:{fp}:2026-12-01T10:01:00.000Z")
    );
    let e = h.event(&enc(&got[1])).await;
    assert_eq!(e["product"], "alertmanager");
    assert_eq!(e["level"], "warn");
    assert_eq!(e["resource"], "web-02:9100");
    assert_eq!(e["identity_key"], format!("alertmanager:{fp}"));
    assert_eq!(e["content"]["fingerprint"], fp.as_str());
    assert!(e["content"].get("annotations").is_none());

    // Alertmanager re-sends the group every repeat_interval: duplicates.
    let (status, v) = h.post("/api/v1/events/alertmanager", &body).await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(ids(&v), got);

    // The resolve of the first alert is its own event, with its state and
    // the same identity; re-sent, a duplicate too.
    let mut resolved: Value = serde_json::from_str(&body).unwrap();
    resolved["status"] = json!("resolved");
    resolved["alerts"] = json!([{
        "status": "resolved",
        "labels": resolved["alerts"][0]["labels"].clone(),
        "annotations": {"summary": "SSH brute force on web-01"},
        "startsAt": "2026-12-01T10:00:00.123Z",
        "endsAt": "2026-12-01T10:30:00Z",
        "fingerprint": "5f3c0a1b2d4e6f70"
    }]);
    let (status, v) = h
        .post("/api/v1/events/alertmanager", &resolved.to_string())
        .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["accepted"], 1);
    let rid = ids(&v).remove(0);
    assert_eq!(rid, format!("{}:resolved", got[0]));
    let e = h.event(&enc(&rid)).await;
    assert_eq!(e["state"], "resolved");
    assert_eq!(e["identity_key"], "alertmanager:5f3c0a1b2d4e6f70");
    assert_eq!(e["content"]["endsAt"], "2026-12-01T10:30:00Z");
    let (_, v) = h
        .post("/api/v1/events/alertmanager", &resolved.to_string())
        .await;
    assert_eq!(v["duplicates"], 1);

    // The list shows the state too.
    let (_, list) = h.get("/api/v1/events?limit=10").await;
    let states: Vec<&str> = list["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["resolved", "firing", "firing"]);
    // All three went to the hook; the resolve says so in its native form.
    let got = rx.wait_for(3, WAIT).await;
    let kinds: Vec<Value> = got
        .iter()
        .map(|r| r.json()["events"][0]["state"].clone())
        .collect();
    assert!(kinds.contains(&json!("resolved")), "{kinds:?}");
}

#[tokio::test]
async fn grafana_webhook_alerts_become_events() {
    let h = Harness::start("").await;
    let (status, v) = h
        .post("/api/v1/events/alertmanager", &fixture("grafana.json"))
        .await;
    assert_eq!(status, 202, "{v}");
    let got = ids(&v);
    assert_eq!(
        got,
        [
            "alertmanager:c6eadffa33fcdf37:2021-10-12T07:51:03.157Z",
            "alertmanager:bc97ff14869b13e3:2021-10-12T07:56:03.157Z"
        ]
    );
    let e = h.event(&enc(&got[0])).await;
    assert_eq!(e["name"], "High memory usage");
    assert_eq!(e["product"], "alertmanager");
    assert_eq!(e["level"], "warn", "no severity label: warn");
    assert!(e.get("severity").is_none());
    assert!(e.get("resource").is_none());
    assert_eq!(e["time"], "2021-10-12T07:51:03.157Z");
    assert_eq!(e["state"], "firing");
    assert_eq!(e["outcome"], "unmatched");
    let c = &e["content"];
    assert_eq!(c["labels"]["zone"], "us-1");
    assert_eq!(
        c["annotations"]["runbook_url"],
        "https://myrunbook.com/runbook/1234"
    );
    assert!(c["valueString"].as_str().unwrap().starts_with("[ var='B'"));
    assert_eq!(c["values"]["C"], 1);
    assert!(
        c["silenceURL"]
            .as_str()
            .unwrap()
            .contains("alertmanager=grafana")
    );
    assert_eq!(c["receiver"], "My Super Webhook");
    let e = h.event(&enc(&got[1])).await;
    assert_eq!(e["level"], "critical");
    assert_eq!(
        e["content"]["panelURL"],
        "https://play.grafana.org/d/z7Ua8Fa7z?viewPanel=2"
    );
}

#[tokio::test]
async fn falco_output_and_falcosidekick_batches_route_on_product_falco() {
    let rx = WebhookReceiver::start().await;
    let subs = "  - { name: falco-only, products: [falco], levels: [critical, warn], notification_policy: policy }\n  - { name: sas-only, products: [Sas], notification_policy: policy }\n";
    let h = Harness::start(&one_hook(&rx.url("/hook"), "", subs)).await;

    // Falco's own JSON output: one object, no uuid.
    let body = fixture("falco.json");
    let (status, v) = h.post("/api/v1/events/falco", &body).await;
    assert_eq!(status, 202, "{v}");
    let id = ids(&v).remove(0);
    assert!(id.starts_with("falco:"), "{id}");
    let e = h.event(&enc(&id)).await;
    assert_eq!(e["format"], "falco");
    assert_eq!(e["product"], "falco");
    assert_eq!(e["name"], "Terminal shell in container");
    assert_eq!(e["level"], "warn");
    assert_eq!(e["severity"], "Warning");
    assert_eq!(e["instance"], "k8s-node-3");
    assert_eq!(e["event_type"], "syscall");
    assert_eq!(e["time"], "2026-12-01T10:20:05.408Z");
    assert_eq!(e["state"], "firing");
    assert!(e.get("identity_key").is_none());
    assert_eq!(e["content"]["output_fields"]["container.name"], "nginx");
    assert_eq!(e["content"]["tags"][1], "mitre_execution");
    assert_eq!(e["outcome"], "routed");
    assert_eq!(e["subscriptions"], json!(["falco-only"]));
    // The same output again: a duplicate (its id is derived from it).
    let (_, v) = h.post("/api/v1/events/falco", &body).await;
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (Some(0), Some(1))
    );

    // Falcosidekick's webhook, an array; the second has no source, tags or
    // output_fields, and is Informational (info: not matched by falco-only).
    let body = fixture("falcosidekick.json");
    let (status, v) = h.post("/api/v1/events/falco", &body).await;
    assert_eq!(status, 202, "{v}");
    let got = ids(&v);
    assert_eq!(
        got,
        [
            "5c9d1b3e-8f0a-4d2c-9b71-2a6f4e8d0c11",
            "0b7a44a2-61b9-4f6e-a1de-98c2d3e4f5a6"
        ]
    );
    let e = h.event(&got[0]).await;
    assert_eq!(e["level"], "critical");
    assert_eq!(e["instance"], "k8s-node-1");
    assert_eq!(e["content"]["output_fields"]["proc.name"], "xmrig");
    assert_eq!(e["outcome"], "routed");
    let e = h.event(&got[1]).await;
    assert_eq!(e["level"], "info");
    assert_eq!(e["event_type"], "");
    assert_eq!(e["time"], "2026-12-01T10:21:30.000Z");
    assert_eq!(e["outcome"], "unmatched");
    let (_, v) = h.post("/api/v1/events/falco", &body).await;
    assert_eq!(v["duplicates"], 2);

    let got = rx.wait_for(2, WAIT).await;
    let mut names: Vec<String> = got
        .iter()
        .map(|r| r.json()["events"][0]["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "Detect crypto miners using the Stratum protocol",
            "Terminal shell in container"
        ]
    );
}

#[tokio::test]
async fn cloudevents_structured_batched_and_binary() {
    let h = Harness::start("").await;
    let path = "/api/v1/events/cloudevents";

    let (status, v) = post_typed(
        &h,
        path,
        "application/cloudevents+json; charset=utf-8",
        &fixture("cloudevents-structured.json"),
    )
    .await;
    assert_eq!(status, 202, "{v}");
    let id = ids(&v).remove(0);
    assert_eq!(
        id,
        "https://scanner.example.com/tenants/t1/vulnscan#C234-1234-1234"
    );
    let e = h.event(&enc(&id)).await;
    assert_eq!(e["format"], "cloudevents");
    assert_eq!(e["name"], "com.example.scanner.finding");
    assert_eq!(e["product"], "vulnscan");
    assert_eq!(e["resource"], "i-bp1abc");
    assert_eq!(e["level"], "critical");
    assert_eq!(e["time"], "2026-12-01T10:30:00.000Z");
    assert_eq!(e["state"], "firing");
    assert_eq!(
        e["content"],
        json!({"cve": "CVE-2026-0001", "package": "openssl", "fixed": "3.0.15"})
    );

    let batch = fixture("cloudevents-batch.json");
    let (status, v) = post_typed(&h, path, "application/cloudevents-batch+json", &batch).await;
    assert_eq!(status, 202, "{v}");
    let got = ids(&v);
    assert_eq!(
        got,
        [
            "/mycontext#A234-1234-1234",
            "/mycontext/subcontext#B234-1234-1234"
        ]
    );
    let e = h.event(&enc(&got[0])).await;
    assert_eq!(e["product"], "mycontext");
    assert_eq!(e["name"], "com.example.someevent");
    assert_eq!(e["level"], "warn", "no severity attribute: warn");
    assert!(e.get("resource").is_none(), "subject null");
    assert_eq!(e["content"]["appinfoB"], 123);
    assert_eq!(e["time"], "2018-04-05T17:31:00.000Z");
    let e = h.event(&enc(&got[1])).await;
    assert_eq!(e["product"], "subcontext");
    assert_eq!(e["content"], json!({}));
    let (_, v) = post_typed(&h, path, "application/cloudevents-batch+json", &batch).await;
    assert_eq!(v["duplicates"], 2);

    // Binary mode: the attributes in ce-* headers (percent-encoded), the
    // body is the data.
    let send_binary = |extra: &[(&str, &str)]| {
        let mut req = h
            .client
            .post(h.url(path))
            .header("content-type", "application/json; charset=utf-8")
            .header("ce-specversion", "1.0")
            .header("ce-id", "1234-1234-1234")
            .header("ce-source", "/mycontext/subcontext")
            .header("ce-time", "2018-04-05T03:56:24Z")
            .header("ce-subject", "web%2F01");
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        req.body(r#"{"finding":"open port 23"}"#)
    };
    let resp = send_binary(&[
        ("ce-type", "com.example.port%20scan"),
        ("ce-severity", "info"),
    ])
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let v: Value = resp.json().await.unwrap();
    let id = ids(&v).remove(0);
    assert_eq!(id, "/mycontext/subcontext#1234-1234-1234");
    let e = h.event(&enc(&id)).await;
    assert_eq!(e["name"], "com.example.port scan");
    assert_eq!(e["product"], "subcontext");
    assert_eq!(e["resource"], "web/01");
    assert_eq!(e["level"], "info");
    assert_eq!(e["time"], "2018-04-05T03:56:24.000Z");
    assert_eq!(e["content"], json!({"finding": "open port 23"}));

    // Missing ce-type: 400 naming it, kept with its headers, and a replay
    // reads them again (the same error, not a structured-mode one).
    let resp = send_binary(&[]).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["field"], "ce-type", "{v}");
    let qid = v["quarantine_id"].as_str().unwrap();
    let (_, kept) = h.get(&format!("/api/v1/quarantine/{qid}")).await;
    assert_eq!(
        kept["headers"]["ce-source"], "/mycontext/subcontext",
        "{kept}"
    );
    assert_eq!(kept["content_type"], "application/json; charset=utf-8");
    let (status, again) = h
        .post(&format!("/api/v1/quarantine/{qid}/replay"), "")
        .await;
    assert_eq!(status, 400, "{again}");
    assert_eq!(again["field"], "ce-type", "{again}");
}

#[tokio::test]
async fn a_malformed_example_of_each_format_is_quarantined_with_its_field() {
    let h = Harness::start("").await;
    // Alertmanager: the second alert has no alertname.
    let mut am: Value = serde_json::from_str(&fixture("alertmanager-v4.json")).unwrap();
    am["alerts"][1]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("alertname");
    refused_and_kept(
        &h,
        "/api/v1/events/alertmanager",
        "application/json",
        &am.to_string(),
        1,
        "alerts[1].labels.alertname",
    )
    .await;
    // Falco: the second Falcosidekick event has no rule.
    let mut falco: Value = serde_json::from_str(&fixture("falcosidekick.json")).unwrap();
    falco[1].as_object_mut().unwrap().remove("rule");
    refused_and_kept(
        &h,
        "/api/v1/events/falco",
        "application/json",
        &falco.to_string(),
        1,
        "rule",
    )
    .await;
    // CloudEvents: every required attribute, in a batch.
    for attr in ["id", "source", "type", "specversion"] {
        let mut ce: Value = serde_json::from_str(&fixture("cloudevents-batch.json")).unwrap();
        ce[1].as_object_mut().unwrap().remove(attr);
        refused_and_kept(
            &h,
            "/api/v1/events/cloudevents",
            "application/cloudevents-batch+json",
            &ce.to_string(),
            1,
            attr,
        )
        .await;
    }
    // Native: a state that is neither firing nor resolved.
    let mut native: Value = serde_json::from_str(&native("n1", "Suspicious:X", "warn")).unwrap();
    native["state"] = json!("ongoing");
    refused_and_kept(
        &h,
        "/api/v1/events",
        "application/json",
        &native.to_string(),
        0,
        "state",
    )
    .await;
    // Nothing of any of them was stored.
    let (_, list) = h.get("/api/v1/events").await;
    assert_eq!(list["events"], json!([]));
}

#[tokio::test]
async fn native_events_carry_their_state() {
    let h = Harness::start("").await;
    let mut ev: Value = serde_json::from_str(&native("r1", "Suspicious:X", "warn")).unwrap();
    ev["state"] = json!("resolved");
    let (status, v) = h.post("/api/v1/events", &ev.to_string()).await;
    assert_eq!(status, 202, "{v}");
    let (status, v) = h
        .post("/api/v1/events", &native("f1", "Suspicious:X", "warn"))
        .await;
    assert_eq!(status, 202, "{v}");
    let e = h.event("r1").await;
    assert_eq!(e["state"], "resolved");
    assert!(e.get("identity_key").is_none());
    assert_eq!(h.event("f1").await["state"], "firing");
}

/// Runs `tocsin ARGS` off the runtime (the server under test runs on it).
async fn tocsin_cli(args: Vec<String>) -> (Option<i32>, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .args(&args)
            .env_remove("TOCSIN_API_TOKEN")
            .env_remove("TOCSIN_SERVER")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn send_detects_the_new_formats() {
    let h = Harness::start("").await;
    let base = h.url("");
    let path = |file: &str| {
        format!(
            "{}/tests/fixtures/formats/{file}",
            env!("CARGO_MANIFEST_DIR")
        )
    };
    for (file, first_id) in [
        ("falcosidekick.json", "5c9d1b3e-8f0a-4d2c-9b71-2a6f4e8d0c11"),
        ("cloudevents-batch.json", "/mycontext#A234-1234-1234"),
        (
            "cloudevents-structured.json",
            "https://scanner.example.com/tenants/t1/vulnscan#C234-1234-1234",
        ),
        (
            "alertmanager-v4.json",
            "alertmanager:5f3c0a1b2d4e6f70:2026-12-01T10:00:00.123Z",
        ),
    ] {
        let (code, stdout, stderr) = tocsin_cli(vec![
            "send".into(),
            "--server".into(),
            base.clone(),
            path(file),
        ])
        .await;
        assert_eq!(code, Some(0), "{file}: {stdout} {stderr}");
        assert_eq!(stdout.lines().next(), Some(first_id), "{file}");
    }
    let (code, stdout, stderr) = tocsin_cli(vec![
        "send".into(),
        "--format".into(),
        "falco".into(),
        "--server".into(),
        base.clone(),
        path("falco.json"),
    ])
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("falco:"), "{stdout}");
}
