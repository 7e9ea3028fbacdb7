//! Prometheus metrics, on an explicit registry held in the app state.
//! Labels are bounded (format, outcome, channel, and the contact names of
//! the config): never per-event values.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

pub struct Metrics {
    registry: Registry,
    events_received: Family<Labels, Counter>,
    messages: Family<Labels, Counter>,
    attempts: Family<Labels, Counter>,
    pending: Gauge,
    latency: Family<Labels, Histogram>,
    ingest_requests: Family<Labels, Counter>,
    quarantined: Counter,
    quarantine_dropped: Counter,
    quarantine_bytes: Gauge,
    connections: Family<Labels, Gauge>,
    contact_messages: Family<Labels, Counter>,
    contact_folded: Family<Labels, Counter>,
    contact_rate_waits: Family<Labels, Counter>,
    contact_pending: Family<Labels, Gauge>,
    contact_oldest_pending: Family<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    store_bytes: Gauge,
    store_commit: Family<Labels, Histogram>,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
        300.0,
    ])
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tocsin");
        let events_received = Family::<Labels, Counter>::default();
        registry.register(
            "events_received",
            "Events accepted, by wire format and routing outcome",
            events_received.clone(),
        );
        let messages = Family::<Labels, Counter>::default();
        registry.register(
            "messages",
            "Messages that reached a final state, by channel and outcome",
            messages.clone(),
        );
        let attempts = Family::<Labels, Counter>::default();
        registry.register(
            "attempts",
            "Delivery attempts, by channel and outcome",
            attempts.clone(),
        );
        let pending = Gauge::default();
        registry.register(
            "pending_messages",
            "Messages waiting in the outbox",
            pending.clone(),
        );
        let latency = Family::<Labels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "delivery_latency_seconds",
            "From an event's arrival to the platform accepting the message that carried it",
            latency.clone(),
        );
        let ingest_requests = Family::<Labels, Counter>::default();
        registry.register(
            "ingest_requests",
            "Ingest requests, by HTTP status",
            ingest_requests.clone(),
        );
        let quarantined = Counter::default();
        registry.register(
            "quarantined",
            "Unreadable ingest requests kept in the quarantine (identical ones included)",
            quarantined.clone(),
        );
        let quarantine_dropped = Counter::default();
        registry.register(
            "quarantine_dropped",
            "Quarantined requests dropped (oldest first) to stay within store.quarantine_max, or not kept because larger than it",
            quarantine_dropped.clone(),
        );
        let quarantine_bytes = Gauge::default();
        registry.register(
            "quarantine_bytes",
            "Total size of the bodies kept in the quarantine",
            quarantine_bytes.clone(),
        );
        let connections = Family::<Labels, Gauge>::default();
        registry.register(
            "http_connections",
            "Open HTTP connections, by lane (regular, or the short lane that keeps /healthz reachable when the others are taken)",
            connections.clone(),
        );
        let contact_messages = Family::<Labels, Counter>::default();
        registry.register(
            "contact_messages",
            "Messages that reached a final state, by contact, channel and outcome",
            contact_messages.clone(),
        );
        let contact_folded = Family::<Labels, Counter>::default();
        registry.register(
            "contact_folded_messages",
            "Messages folded into digests because the contact's rate budget could not send them one by one",
            contact_folded.clone(),
        );
        let contact_rate_waits = Family::<Labels, Counter>::default();
        registry.register(
            "contact_rate_limit_waits",
            "Times a contact's sending paused until its rate budget had room",
            contact_rate_waits.clone(),
        );
        let contact_pending = Family::<Labels, Gauge>::default();
        registry.register(
            "contact_pending_messages",
            "Messages waiting in the outbox, by contact (read from the store at each scrape)",
            contact_pending.clone(),
        );
        let contact_oldest_pending =
            Family::<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "contact_oldest_pending_seconds",
            "Age of the oldest message waiting in the outbox, by contact",
            contact_oldest_pending.clone(),
        );
        let store_bytes = Gauge::default();
        registry.register(
            "store_bytes",
            "Disk the store takes (SQLite: the database file and its WAL)",
            store_bytes.clone(),
        );
        let store_commit = Family::<Labels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "store_commit_seconds",
            "How long the store took to commit, by operation (ingest: an ingest request's events, fsync'd before the 202)",
            store_commit.clone(),
        );
        Metrics {
            contact_messages,
            contact_folded,
            contact_rate_waits,
            contact_pending,
            contact_oldest_pending,
            store_bytes,
            store_commit,
            connections,
            quarantined,
            quarantine_dropped,
            quarantine_bytes,
            registry,
            events_received,
            messages,
            attempts,
            pending,
            latency,
            ingest_requests,
        }
    }
}

impl Metrics {
    pub fn event_received(&self, format: &str, outcome: &str) {
        self.events_received
            .get_or_create(&vec![
                ("format", format.to_string()),
                ("outcome", outcome.to_string()),
            ])
            .inc();
    }
    pub fn ingest_request(&self, status: u16) {
        self.ingest_requests
            .get_or_create(&vec![("status", status.to_string())])
            .inc();
    }
    pub fn quarantined(&self, kept: bool, dropped: u64) {
        if kept {
            self.quarantined.inc();
        }
        self.quarantine_dropped.inc_by(dropped);
    }
    pub fn set_quarantine_bytes(&self, bytes: u64) {
        self.quarantine_bytes.set(crate::saturating_i64(bytes));
    }
    pub fn attempt(&self, channel: &str, outcome: &str) {
        self.attempts
            .get_or_create(&vec![
                ("channel", channel.to_string()),
                ("outcome", outcome.to_string()),
            ])
            .inc();
    }
    pub fn message_finished(&self, channel: &str, outcome: &str) {
        self.messages
            .get_or_create(&vec![
                ("channel", channel.to_string()),
                ("outcome", outcome.to_string()),
            ])
            .inc();
    }
    pub fn delivered_after(&self, channel: &str, seconds: f64) {
        self.latency
            .get_or_create(&vec![("channel", channel.to_string())])
            .observe(seconds);
    }
    /// The gauge of open connections in one lane (`regular`, `short`): the
    /// serve loop holds it for each connection it serves.
    pub fn connections(&self, lane: &str) -> Gauge {
        self.connections
            .get_or_create(&vec![("lane", lane.to_string())])
            .clone()
    }
    /// A message of `contact` reached its final state.
    pub fn contact_message_finished(&self, contact: &str, channel: &str, outcome: &str) {
        self.contact_messages
            .get_or_create(&vec![
                ("contact", contact.to_string()),
                ("channel", channel.to_string()),
                ("outcome", outcome.to_string()),
            ])
            .inc();
    }
    pub fn contact_folded(&self, contact: &str, channel: &str, messages: u64) {
        self.contact_folded
            .get_or_create(&vec![
                ("contact", contact.to_string()),
                ("channel", channel.to_string()),
            ])
            .inc_by(messages);
    }
    pub fn contact_rate_limit_wait(&self, contact: &str, channel: &str) {
        self.contact_rate_waits
            .get_or_create(&vec![
                ("contact", contact.to_string()),
                ("channel", channel.to_string()),
            ])
            .inc();
    }
    /// Replaces the per-contact outbox gauges with the store's figures
    /// (contacts with nothing pending drop out, rather than showing 0
    /// forever after they are removed from the config).
    pub fn set_contact_backlogs(&self, backlogs: &[crate::store::ContactBacklog], now_ms: i64) {
        self.contact_pending.clear();
        self.contact_oldest_pending.clear();
        for b in backlogs {
            let labels = vec![("contact", b.contact.clone())];
            self.contact_pending
                .get_or_create(&labels)
                .set(crate::saturating_i64(b.messages));
            #[allow(clippy::cast_precision_loss)] // ages far below 2^52 ms
            let age = now_ms.saturating_sub(b.oldest_created_ms).max(0) as f64 / 1000.0;
            self.contact_oldest_pending.get_or_create(&labels).set(age);
        }
    }
    pub fn set_store_bytes(&self, bytes: u64) {
        self.store_bytes.set(crate::saturating_i64(bytes));
    }
    pub fn store_committed(&self, operation: &str, seconds: f64) {
        self.store_commit
            .get_or_create(&vec![("operation", operation.to_string())])
            .observe(seconds);
    }
    pub fn set_pending(&self, n: i64) {
        self.pending.set(n);
    }
    pub fn add_pending(&self, n: i64) {
        self.pending.inc_by(n);
    }
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }
}
