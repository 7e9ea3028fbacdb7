//! Secrets configured in every place they can appear never show up in an
//! API answer (nor, in cli.rs, in the logs).

use crate::common::*;

pub const MARKS: [&str; 6] = [
    "SEKRETHOOKPATH",
    "SEKRETQUERY",
    "SEKRETHEADER",
    "SEKRETSIGN",
    "SEKRETAPI",
    "SEKRETINGEST",
];

pub fn secret_config(receiver_url: &str) -> String {
    format!(
        r#"
server:
  api_token: ${{API_TOKEN}}
  ingest_token: SEKRETINGEST
delivery:
  allow_private_networks: true
  backoff: {{ initial: 50ms, max: 100ms }}
  retry_horizon: 300ms
contacts:
  - name: hook
    channel: webhook
    webhook: "{receiver_url}/SEKRETHOOKPATH?key=SEKRETQUERY"
    headers: {{ Authorization: "Bearer SEKRETHEADER" }}
    secret: SEKRETSIGN
contact_groups:
  - {{ name: g, contacts: [hook] }}
notification_policies:
  - {{ name: p, contact_groups: [g] }}
subscriptions:
  - {{ name: s, notification_policy: p }}
"#
    )
}

#[tokio::test]
async fn no_secret_in_any_api_answer() {
    let rx = WebhookReceiver::start().await;
    rx.script((0..100).map(|_| Reply::Status(500)));
    let h = Harness::start_env(&secret_config(&rx.url("")), &[("API_TOKEN", "SEKRETAPI")]).await;
    let (s, _) = h
        .post_with(
            "/api/v1/events",
            &native("sec-1", "x", "critical"),
            Some("SEKRETINGEST"),
        )
        .await;
    assert_eq!(s, 202);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, v) = h.get_with("/api/v1/events/sec-1", Some("SEKRETAPI")).await;
        if v["deliveries"][0]["status"] == "failed" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{v}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut answers = String::new();
    for path in [
        "/api/v1/events",
        "/api/v1/events/sec-1",
        "/api/v1/contacts",
        "/api/v1/contact-groups",
        "/api/v1/notification-policies",
        "/api/v1/subscriptions",
        "/api/v1/sources",
        "/metrics",
        "/readyz",
    ] {
        let resp = h
            .client
            .get(h.url(path))
            .bearer_auth("SEKRETAPI")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        answers.push_str(&resp.text().await.unwrap());
    }
    for mark in MARKS {
        assert!(!answers.contains(mark), "{mark} leaked: {answers}");
    }
    let (_, contacts) = h.get_with("/api/v1/contacts", Some("SEKRETAPI")).await;
    let c = &contacts["contacts"][0];
    assert_eq!(c["webhook"], format!("http://{}/***", rx.addr()));
    assert_eq!(c["headers"]["Authorization"], "***");
    assert_eq!(c["secret"], "***");
    // The receiver did get the real thing.
    let got = rx.received();
    assert_eq!(got[0].path, "/SEKRETHOOKPATH");
    assert_eq!(got[0].header("authorization"), Some("Bearer SEKRETHEADER"));
}
