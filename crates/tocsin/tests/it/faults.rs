//! Faults: a store that cannot write makes ingest answer 503 (never 202)
//! and recovers; one broken contact never slows the others; a receiver that
//! closes the connection, or is down for a minute, gets its messages once it
//! answers, after a bounded number of backed-off tries. (5xx, timeouts,
//! refused connections and Retry-After are in `delivery.rs`, each platform's
//! rate-limit and permanent codes in `platforms.rs`.)

use crate::common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tocsin::server::{ServeOptions, Server};
use tocsin::store::*;

/// The real SQLite store, whose writes fail while `broken` is set.
struct FlakyStore {
    inner: sqlite::SqliteStore,
    broken: Arc<AtomicBool>,
}

fn injected() -> StoreError {
    StoreError::Unavailable("disk I/O error (injected)".into())
}

#[async_trait::async_trait]
impl Store for FlakyStore {
    async fn ingest(&self, items: Vec<IngestItem>) -> Result<IngestResult, StoreError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(injected());
        }
        self.inner.ingest(items).await
    }
    fn record_attempt(&self, a: AttemptRecord) {
        self.inner.record_attempt(a)
    }
    async fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush().await
    }
    async fn fold_into_digest(
        &self,
        d: NewMessage,
        f: Vec<String>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.inner.fold_into_digest(d, f, now).await
    }
    async fn create_messages(&self, m: Vec<NewMessage>) -> Result<(), StoreError> {
        self.inner.create_messages(m).await
    }
    async fn message_events(&self, id: &str) -> Result<Vec<tocsin::event::Event>, StoreError> {
        self.inner.message_events(id).await
    }
    async fn recent_attempts(&self, since: i64) -> Result<Vec<(String, i64)>, StoreError> {
        self.inner.recent_attempts(since).await
    }
    async fn fail_pending(&self, c: &str, r: &str, now: i64) -> Result<u64, StoreError> {
        self.inner.fail_pending(c, r, now).await
    }
    async fn save_config_version(&self, v: &str, s: &str, now: i64) -> Result<(), StoreError> {
        self.inner.save_config_version(v, s, now).await
    }
    async fn pending_messages(&self) -> Result<Vec<PendingMessage>, StoreError> {
        self.inner.pending_messages().await
    }
    async fn pending_count(&self) -> Result<u64, StoreError> {
        self.inner.pending_count().await
    }
    async fn pending_by_contact(&self) -> Result<Vec<tocsin::store::ContactBacklog>, StoreError> {
        self.inner.pending_by_contact().await
    }
    async fn size_bytes(&self) -> Result<u64, StoreError> {
        self.inner.size_bytes().await
    }
    async fn list_events(&self, f: EventFilter) -> Result<EventPage, StoreError> {
        self.inner.list_events(f).await
    }
    async fn get_event(&self, id: &str) -> Result<Option<EventDetail>, StoreError> {
        self.inner.get_event(id).await
    }
    async fn prune(&self, before: i64) -> Result<u64, StoreError> {
        self.inner.prune(before).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}

#[tokio::test]
async fn a_store_that_cannot_write_answers_503_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let broken = Arc::new(AtomicBool::new(true));
    let store = FlakyStore {
        inner: sqlite::SqliteStore::open(dir.path()).unwrap(),
        broken: broken.clone(),
    };
    let server = Server::start_with_store(
        config("", &[]),
        ServeOptions {
            config_path: None,
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().into()),
            clock: None,
        },
        Arc::new(store),
    )
    .await
    .unwrap();
    let c = client();
    let url = format!("{}/api/v1/events", server.base_url());
    let r = c
        .post(&url)
        .body(native("f-1", "x", "info"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers().get("retry-after").unwrap(), "1");
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("nothing was stored"),
        "{v}"
    );
    let r = c
        .get(format!("{}/api/v1/events/f-1", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    broken.store(false, Ordering::SeqCst);
    let r = c
        .post(&url)
        .body(native("f-1", "x", "info"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    server.shutdown().await;
}

#[tokio::test]
async fn one_broken_contact_never_slows_the_others() {
    let good = WebhookReceiver::start().await;
    let slow = WebhookReceiver::start().await;
    slow.script((0..50).map(|_| Reply::Hang(Duration::from_secs(30))));
    let yaml = format!(
        "delivery:\n  allow_private_networks: true\n  timeout: 20s\ncontacts:\n  - {{ name: good, channel: webhook, webhook: \"{}\" }}\n  - {{ name: slow, channel: webhook, webhook: \"{}\", concurrency: 1 }}\ncontact_groups:\n  - {{ name: g, contacts: [slow, good] }}\nnotification_policies:\n  - {{ name: p, contact_groups: [g] }}\nsubscriptions:\n  - {{ name: s, notification_policy: p }}\n",
        good.url("/g"),
        slow.url("/s")
    );
    let h = Harness::start(&yaml).await;
    let batch: Vec<String> = (0..20)
        .map(|i| native(&format!("bc-{i}"), "x", "info"))
        .collect();
    h.post("/api/v1/events", &format!("[{}]", batch.join(",")))
        .await;
    // Every message to the healthy contact arrives while the other hangs.
    let got = good.wait_for(20, WAIT).await;
    assert_eq!(got.len(), 20);
    assert_eq!(h.event("bc-0").await["deliveries"][0]["status"], "pending");
}

#[tokio::test]
async fn a_receiver_that_closes_the_connection_is_retried_until_it_answers() {
    let rx = WebhookReceiver::start().await;
    let cutter = tocsin_fakes::ConnectionCutter::start(rx.addr(), 2).await;
    let h = Harness::start(&one_hook(&cutter.url("/hook"), "", ALL)).await;
    h.post("/api/v1/events", &native("cut-1", "x", "warn"))
        .await;
    let ev = h.wait_status("cut-1", "hook", "delivered").await;
    assert_eq!(
        cutter.cut(),
        2,
        "both cut requests reached the receiver's door"
    );
    let attempts = ev["deliveries"][0]["attempts"].as_array().unwrap().clone();
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["retry", "retry", "delivered"], "{attempts:#?}");
    for a in &attempts[..2] {
        let reason = a["reason"].as_str().unwrap();
        assert!(a["http_status"].is_null(), "no answer, no status: {a}");
        assert!(reason.contains("closed"), "the true reason: {reason}");
        assert!(reason.ends_with("will retry"), "{reason}");
    }
    // Exactly one message reached the receiver, with the id every attempt carried.
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].header("x-tocsin-message-id"),
        ev["deliveries"][0]["message_id"].as_str()
    );
}

/// A port below the kernel's ephemeral range that nothing listens on, so no
/// outgoing connection of another test can take it while the receiver is down.
async fn free_fixed_port() -> u16 {
    for _ in 0..200 {
        let port = rand::random_range(20_000..30_000u16);
        if tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return port;
        }
    }
    panic!("no free port in 20000..30000");
}

#[tokio::test]
async fn a_receiver_down_for_a_minute_gets_everything_once_it_is_back() {
    let port = free_fixed_port().await;
    let url = format!("http://127.0.0.1:{port}/hook");
    let yaml = format!(
        "delivery:\n  allow_private_networks: true\n  timeout: 2s\n  backoff: {{ initial: 1s, max: 8s }}\n  retry_horizon: 10m\n\
         contacts:\n  - {{ name: hook, channel: webhook, webhook: \"{url}\" }}\n  - {{ name: up, channel: webhook, webhook: \"URL_UP\" }}\n\
         contact_groups:\n  - {{ name: g, contacts: [hook, up] }}\nnotification_policies:\n  - {{ name: p, contact_groups: [g] }}\n\
         subscriptions:\n  - {{ name: s, notification_policy: p }}\n"
    );
    let up = WebhookReceiver::start().await;
    // The minute passes on a manual clock: each retry happens when the clock
    // is moved to the instant the worker scheduled it for, nothing sleeps.
    let h = Harness::start_manual(&yaml.replace("URL_UP", &up.url("/up"))).await;
    let clock = h.clock();
    let start = clock.now_ms();
    let batch: Vec<String> = (0..5)
        .map(|i| native(&format!("down-{i}"), "x", "warn"))
        .collect();
    h.post("/api/v1/events", &format!("[{}]", batch.join(",")))
        .await;
    // The healthy contact is not held up by the one that is down.
    assert_eq!(up.wait_for(5, WAIT).await.len(), 5);
    // Every message tried once at the start; then, over a minute, move the
    // clock to the earliest scheduled retry and wait for the store to show
    // that retry before moving on.
    let mut attempts = 5;
    let mut pending = settled(&h, "hook", 5, attempts).await;
    loop {
        let next = pending.iter().map(|m| m.2).min().unwrap();
        assert!(
            next > clock.now_ms(),
            "a retry is scheduled ahead: {pending:?}"
        );
        if next > start + 60_000 {
            break;
        }
        clock.set(next);
        attempts += tocsin::saturating_i64(pending.iter().filter(|m| m.2 == next).count());
        pending = settled(&h, "hook", 5, attempts).await;
    }
    let rx = WebhookReceiver::start_on(&format!("127.0.0.1:{port}")).await;
    // Up again: every message's next retry falls due.
    clock.set(pending.iter().map(|m| m.2).max().unwrap());
    let got = rx.wait_for(5, WAIT).await;
    assert_eq!(
        got.len(),
        5,
        "every message arrives once the receiver is back"
    );
    for i in 0..5 {
        let ev = h
            .wait_status(&format!("down-{i}"), "hook", "delivered")
            .await;
        let d = ev["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["contact"] == "hook")
            .unwrap()
            .clone();
        let attempts = d["attempts"].as_array().unwrap();
        let at = |a: &serde_json::Value| {
            tocsin::timefmt::parse_rfc3339(a["at"].as_str().unwrap()).unwrap()
        };
        // Backed off (1 s doubling to 8 s, with jitter: half to all of each
        // delay), so a minute takes a bounded number of tries, not hundreds.
        assert!(
            (6..=20).contains(&attempts.len()),
            "{} attempts: {attempts:#?}",
            attempts.len()
        );
        for a in &attempts[..attempts.len() - 1] {
            let reason = a["reason"].as_str().unwrap();
            assert!(reason.contains("could not connect"), "{reason}");
        }
        assert_eq!(at(&attempts[0]), start, "the first try at once");
        // Each retry ran at the instant it was scheduled for, so every gap
        // but the last is the backoff itself: after n failures, between half
        // and all of min(1 s * 2^(n-1), 8 s).
        let gaps: Vec<i64> = attempts.windows(2).map(|w| at(&w[1]) - at(&w[0])).collect();
        for (n, gap) in gaps[..gaps.len() - 1].iter().enumerate() {
            let base = (1_000i64 << n).min(8_000);
            assert!(
                (base / 2..=base).contains(gap),
                "gap after {} failures: {gap} ms, not within [{}, {base}]: {gaps:?}",
                n + 1,
                base / 2
            );
        }
        assert!(*gaps.last().unwrap() >= 4_000, "{gaps:?}");
        assert!(at(attempts.last().unwrap()) > start + 60_000);
        assert_eq!(attempts.last().unwrap()["outcome"], "delivered");
    }
}

#[tokio::test]
async fn a_quarantine_that_cannot_be_written_still_answers_the_400() {
    // FlakyStore keeps no quarantine (the trait's defaults answer
    // Unavailable): the producer gets its 400, without a quarantine id.
    let dir = tempfile::tempdir().unwrap();
    let store = FlakyStore {
        inner: sqlite::SqliteStore::open(dir.path()).unwrap(),
        broken: Arc::new(AtomicBool::new(false)),
    };
    let server = Server::start_with_store(
        config("", &[]),
        ServeOptions {
            config_path: None,
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().into()),
            ..Default::default()
        },
        Arc::new(store),
    )
    .await
    .unwrap();
    let r = client()
        .post(format!("{}/api/v1/events", server.base_url()))
        .body(r#"{"product":"Sas","level":"info"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["field"], "name");
    assert_eq!(v.get("quarantine_id"), None, "{v}");
    server.shutdown().await;
}

/// Opens the running server's store file behind its back.
fn behind_its_back(h: &Harness) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(h.dir.path().join("tocsin.db")).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Option<String>, serde_json::Value) {
    let r = req.send().await.unwrap();
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (r.status().as_u16(), retry_after, r.json().await.unwrap())
}

#[tokio::test]
async fn a_deterministic_store_error_answers_500_naming_it_not_503_forever() {
    let h = Harness::start("").await;
    assert_eq!(
        h.post("/api/v1/events", &native("d-1", "x", "info"))
            .await
            .0,
        202
    );
    // A stored JSON column that no longer parses: the same answer on every
    // try, so 500 naming the row and column, without Retry-After.
    behind_its_back(&h)
        .execute(
            "UPDATE events SET content = '{not json' WHERE id = 'd-1'",
            [],
        )
        .unwrap();
    for path in [
        "/api/v1/events/d-1",
        "/api/v1/events/d-1/explain",
        "/api/v1/events",
    ] {
        let (status, retry_after, v) = send(h.client.get(h.url(path))).await;
        assert_eq!(status, 500, "{path}: {v}");
        assert_eq!(retry_after, None, "{path}");
        let error = v["error"].as_str().unwrap();
        assert!(
            error.contains(
                "corrupt record in the store: events row \"d-1\", column content: not JSON"
            ),
            "{path}: {v}"
        );
        assert!(error.contains("retrying will not help"), "{path}: {v}");
    }
    // A missing table: ingest answers 500 with SQLite's words, not 503.
    behind_its_back(&h)
        .execute_batch("DROP TABLE events")
        .unwrap();
    let (status, retry_after, v) = send(
        h.client
            .post(h.url("/api/v1/events"))
            .body(native("d-2", "x", "info")),
    )
    .await;
    assert_eq!(status, 500, "{v}");
    assert_eq!(retry_after, None);
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("no such table: events"), "{v}");
    assert!(error.contains("nothing was stored"), "{v}");
}

#[tokio::test]
async fn a_store_locked_past_its_busy_timeout_answers_503_with_retry_after() {
    let h = Harness::start("").await;
    // Another process holds the write lock: the writer waits its busy
    // timeout, then gives up; the same request succeeds once the lock is gone.
    let other = behind_its_back(&h);
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (status, retry_after, v) = send(
        h.client
            .post(h.url("/api/v1/events"))
            .body(native("l-1", "x", "info")),
    )
    .await;
    assert_eq!(status, 503, "{v}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("database is locked"), "{v}");
    assert!(error.contains("nothing was stored"), "{v}");
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        h.post("/api/v1/events", &native("l-1", "x", "info"))
            .await
            .0,
        202
    );
}
