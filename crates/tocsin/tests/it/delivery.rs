use crate::common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn webhook_message_body_headers_and_signature() {
    let rx = WebhookReceiver::start().await;
    rx.require_signature("hmac-secret-1");
    let extra = "    secret: ${SIEM_HMAC}\n    headers: { X-Team: secops }\n";
    let h = Harness::start_env(
        &one_hook(&rx.url("/hook?k=1"), extra, ALL),
        &[("SIEM_HMAC", "hmac-secret-1")],
    )
    .await;
    h.post(
        "/api/v1/events",
        &native("sig-1", "Suspicious:UnusualLogon", "critical"),
    )
    .await;
    let ev = h.wait_status("sig-1", "hook", "delivered").await;
    let got = rx.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.status, 200, "the receiver accepted the signature");
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hook");
    assert_eq!(r.query.as_deref(), Some("k=1"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-team"), Some("secops"));
    let message_id = ev["deliveries"][0]["message_id"].as_str().unwrap();
    assert_eq!(r.header("x-tocsin-message-id"), Some(message_id));
    // Signature, checked independently of Tocsin's signer.
    let ts = r.header("x-tocsin-timestamp").unwrap();
    assert_eq!(
        r.header("x-tocsin-signature").unwrap(),
        tocsin_fakes::webhook::expected_signature("hmac-secret-1", ts, &r.body)
    );
    let body = r.json();
    assert_eq!(body["version"], 1);
    assert_eq!(body["message_id"], message_id);
    assert_eq!(body["kind"], "single");
    assert_eq!(body["contact"], "hook");
    assert_eq!(body["subscriptions"], json!(["all"]));
    let e = &body["events"][0];
    assert_eq!(e["id"], "sig-1");
    assert_eq!(e["product"], "Sas");
    assert_eq!(e["event_type"], "Suspicious");
    assert_eq!(e["name"], "Suspicious:UnusualLogon");
    assert_eq!(e["level"], "critical");
    assert_eq!(e["resource"], "acs:ecs:cn-hangzhou:1:instance/i-bp1abc");
    assert_eq!(e["time"], "2026-11-29T02:00:00.000Z");
    assert_eq!(e["content"]["alarmUniqueInfo"], "u-sig-1");
    let attempts = &ev["deliveries"][0]["attempts"];
    assert_eq!(attempts.as_array().unwrap().len(), 1);
    assert_eq!(attempts[0]["http_status"], 200);
    assert_eq!(attempts[0]["outcome"], "delivered");
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_receiver_and_fails() {
    let rx = WebhookReceiver::start().await;
    rx.require_signature("the-right-one");
    let h = Harness::start(&one_hook(
        &rx.url("/hook"),
        "    secret: not-the-right-one\n",
        ALL,
    ))
    .await;
    h.post("/api/v1/events", &native("sig-2", "x", "info"))
        .await;
    let ev = h.wait_status("sig-2", "hook", "failed").await;
    let a = &ev["deliveries"][0]["attempts"][0];
    assert_eq!(a["http_status"], 401);
    assert!(a["reason"].as_str().unwrap().contains("refused"), "{a}");
    assert_eq!(rx.received().len(), 1, "a permanent refusal is not retried");
}

#[tokio::test]
async fn retries_after_5xx_with_every_attempt_recorded() {
    let rx = WebhookReceiver::start().await;
    rx.script([
        Reply::Status(503),
        Reply::Full(500, vec![], "db down".into()),
    ]);
    let h = Harness::start(&one_hook(&rx.url("/hook"), "", ALL)).await;
    h.post("/api/v1/events", &native("retry-1", "x", "warn"))
        .await;
    let ev = h.wait_status("retry-1", "hook", "delivered").await;
    let attempts = ev["deliveries"][0]["attempts"].as_array().unwrap().clone();
    let statuses: Vec<i64> = attempts
        .iter()
        .map(|a| a["http_status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [503, 500, 200]);
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["retry", "retry", "delivered"]);
    assert_eq!(attempts[1]["platform_message"], "db down");
    assert!(attempts[0]["reason"].as_str().unwrap().contains("HTTP 503"));
    let got = rx.received();
    assert_eq!(got.len(), 3);
    // Stable message id across retries.
    let ids: Vec<_> = got
        .iter()
        .map(|r| r.header("x-tocsin-message-id").unwrap().to_string())
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]));
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let rx = WebhookReceiver::start().await;
    rx.script([Reply::Full(
        429,
        vec![("Retry-After".into(), "1".into())],
        "slow down".into(),
    )]);
    let h = Harness::start_manual(&one_hook(&rx.url("/hook"), "", ALL)).await;
    let clock = h.clock();
    let start = clock.now_ms();
    h.post("/api/v1/events", &native("ra-1", "x", "warn")).await;
    // The backoff alone would retry after 25-50 ms; Retry-After asked for 1 s.
    let pending = settled(&h, "hook", 1, 1).await;
    assert_eq!(pending[0].2, start + 1_000, "{pending:?}");
    clock.advance(Duration::from_millis(999));
    // Not yet due: a message for another identity goes out meanwhile, the
    // retry does not.
    h.post("/api/v1/events", &native("ra-2", "y", "warn")).await;
    h.wait_status("ra-2", "hook", "delivered").await;
    assert_eq!(rx.received().len(), 2);
    assert_eq!(settled(&h, "hook", 1, 1).await, pending);
    clock.advance(Duration::from_millis(1));
    let ev = h.wait_status("ra-1", "hook", "delivered").await;
    let attempts = ev["deliveries"][0]["attempts"].as_array().unwrap().clone();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["http_status"], 429);
    assert!(
        attempts[0]["reason"]
            .as_str()
            .unwrap()
            .contains("Retry-After: 1s")
    );
    let at =
        |a: &serde_json::Value| tocsin::timefmt::parse_rfc3339(a["at"].as_str().unwrap()).unwrap();
    assert_eq!(at(&attempts[0]), start);
    assert_eq!(at(&attempts[1]), start + 1_000, "{attempts:?}");
}

#[tokio::test]
async fn gives_up_at_the_retry_horizon_with_the_last_reason() {
    let rx = WebhookReceiver::start().await;
    rx.script((0..1000).map(|_| Reply::Status(502)));
    let yaml = one_hook(&rx.url("/hook"), "", ALL)
        .replace("timeout: 2s", "timeout: 2s\n  retry_horizon: 600ms");
    let h = Harness::start_manual(&yaml).await;
    let clock = h.clock();
    let start = clock.now_ms();
    h.post("/api/v1/events", &native("hz-1", "x", "warn")).await;
    // Move the clock to each scheduled retry until the message ends.
    let mut attempts = 1;
    loop {
        let pending = if attempts == 1 {
            settled(&h, "hook", 1, attempts).await
        } else {
            // The last retry may end the message instead.
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                let p = pending_of(&h, "hook");
                let ended = h.event("hz-1").await["deliveries"][0]["status"] == "failed";
                if ended || p.first().is_some_and(|m| m.1 == attempts) {
                    break p;
                }
                assert!(tokio::time::Instant::now() < deadline, "{p:?}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let Some(next) = pending.first() else { break };
        assert!(
            next.2 <= start + 600,
            "never scheduled past the horizon: {next:?}"
        );
        clock.set(next.2);
        attempts += 1;
    }
    let ev = h.wait_status("hz-1", "hook", "failed").await;
    let d = &ev["deliveries"][0];
    let attempts = d["attempts"].as_array().unwrap();
    assert!(attempts.len() >= 2, "retried before giving up");
    let last = attempts.last().unwrap();
    assert_eq!(last["outcome"], "failed");
    assert!(
        last["reason"].as_str().unwrap().contains("HTTP 502"),
        "{last}"
    );
    assert!(
        last["reason"].as_str().unwrap().contains("retry horizon"),
        "{last}"
    );
    assert_eq!(d["reason"], last["reason"]);
    // The last try is the one the horizon itself fell due for.
    let at =
        |a: &serde_json::Value| tocsin::timefmt::parse_rfc3339(a["at"].as_str().unwrap()).unwrap();
    assert_eq!(at(last), start + 600, "{attempts:?}");
    // Bounded: no more requests after giving up, however much time passes.
    // Barrier: a later event's first try shows the worker has acted on that
    // later instant; it is the only request since.
    let n = rx.received().len();
    assert_eq!(n, attempts.len());
    clock.advance(Duration::from_secs(3600));
    h.post("/api/v1/events", &native("hz-2", "y", "warn")).await;
    settled(&h, "hook", 1, 1).await;
    let got = rx.received();
    assert_eq!(got.len(), n + 1);
    assert_eq!(got[n].json()["events"][0]["id"], "hz-2");
}

#[tokio::test]
async fn timeouts_are_retried() {
    let rx = WebhookReceiver::start().await;
    rx.script([Reply::Hang(Duration::from_secs(3))]);
    let yaml = one_hook(&rx.url("/hook"), "", ALL).replace("timeout: 2s", "timeout: 300ms");
    let h = Harness::start(&yaml).await;
    h.post("/api/v1/events", &native("to-1", "x", "warn")).await;
    let ev = h.wait_status("to-1", "hook", "delivered").await;
    let a = &ev["deliveries"][0]["attempts"][0];
    assert_eq!(a["outcome"], "retry");
    assert_eq!(a["http_status"], serde_json::Value::Null);
    assert!(
        a["reason"]
            .as_str()
            .unwrap()
            .contains("no answer within 300ms"),
        "{a}"
    );
}

#[tokio::test]
async fn a_restart_resumes_pending_messages_and_never_resends_delivered_ones() {
    // Nothing listens on this port yet: every attempt fails to connect.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let yaml =
        one_hook(&format!("http://{addr}/hook"), "", ALL).replace("max: 200ms", "max: 300ms");
    let mut h = Harness::start(&yaml).await;
    h.post("/api/v1/events", &native("rs-1", "x", "critical"))
        .await;
    // Wait for a failed attempt, then stop with the message pending.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = h.event("rs-1").await;
        if !ev["deliveries"][0]["attempts"]
            .as_array()
            .unwrap()
            .is_empty()
        {
            assert_eq!(ev["deliveries"][0]["status"], "pending");
            assert!(
                ev["deliveries"][0]["attempts"][0]["reason"]
                    .as_str()
                    .unwrap()
                    .contains("could not connect")
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    h.stop().await;
    let message_id = {
        // The receiver comes up; a new server on the same data resumes.
        let rx = WebhookReceiver::start_on(&addr.to_string()).await;
        h.boot(config(&yaml, &[])).await;
        let ev = h.wait_status("rs-1", "hook", "delivered").await;
        let got = rx.wait_for(1, WAIT).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].json()["events"][0]["id"], "rs-1");
        let mid = ev["deliveries"][0]["message_id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(got[0].header("x-tocsin-message-id"), Some(mid.as_str()));
        h.stop().await;
        // Another restart: delivered stays delivered, nothing is re-sent.
        h.boot(config(&yaml, &[])).await;
        // Barrier: a fresh event delivered after the restart; the delivered
        // message was not sent again before or with it.
        h.post("/api/v1/events", &native("rs-2", "y", "critical"))
            .await;
        h.wait_status("rs-2", "hook", "delivered").await;
        let got = rx.received();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].json()["events"][0]["id"], "rs-2");
        mid
    };
    let ev = h.event("rs-1").await;
    assert_eq!(ev["deliveries"][0]["message_id"], message_id);
    assert_eq!(ev["deliveries"][0]["status"], "delivered");
}

#[tokio::test]
async fn egress_rules_refuse_metadata_and_private_targets_without_connecting() {
    // The metadata address is refused before any connection is attempted
    // (an IP literal is checked before sending), whatever the settings.
    let yaml = one_hook("http://169.254.169.254/latest/meta-data", "", ALL);
    let h = Harness::start(&yaml).await;
    h.post("/api/v1/events", &native("eg-1", "x", "critical"))
        .await;
    let ev = h.wait_status("eg-1", "hook", "failed").await;
    let a = &ev["deliveries"][0]["attempts"][0];
    assert!(
        a["reason"].as_str().unwrap().contains("cloud metadata"),
        "{a}"
    );
    assert_eq!(a["http_status"], serde_json::Value::Null);

    // A host name resolving to loopback, with private networks not allowed:
    // refused at resolution, so no connection is opened.
    let rx = WebhookReceiver::start().await;
    let url = format!("http://localhost:{}/hook", rx.addr().port());
    let yaml = one_hook(&url, "", ALL).replace(
        "allow_private_networks: true",
        "allow_private_networks: false",
    );
    let h = Harness::start(&yaml).await;
    h.post("/api/v1/events", &native("eg-2", "x", "critical"))
        .await;
    let ev = h.wait_status("eg-2", "hook", "failed").await;
    let reason = ev["deliveries"][0]["attempts"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("allow_private_networks"), "{reason}");
    assert!(rx.received().is_empty());
}

#[tokio::test]
async fn a_backlog_over_the_rate_limit_is_folded_into_one_digest() {
    let rx = WebhookReceiver::start().await;
    let h = Harness::start(&one_hook(&rx.url("/hook"), "    rate_limit: [2/1s]\n", ALL)).await;
    let batch: Vec<String> = (0..4)
        .map(|i| {
            native(
                &format!("rl-{i}"),
                "x",
                if i == 2 { "critical" } else { "info" },
            )
        })
        .collect();
    h.post("/api/v1/events", &format!("[{}]", batch.join(",")))
        .await;
    for i in 0..4 {
        h.wait_status(&format!("rl-{i}"), "hook", "delivered").await;
    }
    let got = rx.received();
    assert_eq!(
        got.len(),
        1,
        "one digest instead of four messages over the limit"
    );
    let body = got[0].json();
    assert_eq!(body["kind"], "digest");
    let ids: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["rl-2", "rl-0", "rl-1", "rl-3"], "critical first");
    let ev = h.event("rl-3").await;
    assert_eq!(ev["deliveries"][0]["message_kind"], "digest");
    assert_eq!(ev["deliveries"][0]["message_id"], body["message_id"]);
}
