//! Faults: a store that cannot write makes ingest answer 503 (never 202)
//! and recovers; one broken contact never slows the others.

use crate::common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    async fn record_attempt(&self, a: AttemptRecord) -> Result<(), StoreError> {
        self.inner.record_attempt(a).await
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
    slow.script((0..50).map(|_| Reply::Hang(std::time::Duration::from_secs(30))));
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
