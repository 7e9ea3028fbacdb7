//! Dispatch: one worker per contact drains that contact's outbox. Workers are
//! woken by a channel when ingest commits new messages (no polling); on start
//! they are fed every pending message from the store. Each attempt is
//! recorded before the worker decides what comes next.

pub mod backoff;
pub mod budget;
mod worker;

use crate::clock::SharedClock;
use crate::event::Event;
use crate::metrics::Metrics;
use crate::notify::http::HttpContext;
use crate::route::Snapshot;
use crate::store::{MessageKind, PendingMessage, Store};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Why pending messages of a removed contact end.
pub const CONTACT_REMOVED: &str = "contact removed from the configuration";

/// A message in a worker's hands.
#[derive(Clone, Debug)]
pub struct OutboxMessage {
    pub id: String,
    pub contact: String,
    pub kind: MessageKind,
    pub subscriptions: Vec<String>,
    pub events: Vec<Arc<Event>>,
    pub created_ms: i64,
    pub next_attempt_ms: i64,
    /// Attempts made so far.
    pub attempts: u32,
    pub note: Option<String>,
}

impl From<PendingMessage> for OutboxMessage {
    fn from(p: PendingMessage) -> Self {
        OutboxMessage {
            id: p.id,
            contact: p.contact,
            kind: p.kind,
            subscriptions: p.subscriptions,
            events: p.events.into_iter().map(Arc::new).collect(),
            created_ms: p.created_ms,
            next_attempt_ms: p.next_attempt_ms,
            attempts: p.attempts,
            note: crate::explain::sentences::note(p.note, p.note_code.as_ref()),
        }
    }
}

/// What the workers share.
pub(crate) struct Shared {
    pub store: Arc<dyn Store>,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub http: ArcSwap<HttpContext>,
    pub metrics: Arc<Metrics>,
    pub budgets: budget::Budgets,
    /// The server's time: timers, backoff and budgets read it.
    pub clock: SharedClock,
    pub shutdown: watch::Receiver<bool>,
    workers: Mutex<HashMap<String, WorkerHandle>>,
    /// Contacts a reload removed whose pending messages wait out
    /// `delivery.removed_contact_grace`: the timer that fails them.
    removed: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl Shared {
    /// Hands messages to their contacts' workers, starting workers as needed.
    pub(crate) fn enqueue(self: &Arc<Self>, messages: Vec<OutboxMessage>) {
        if messages.is_empty() {
            return;
        }
        let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        for m in messages {
            let handle = workers.entry(m.contact.clone()).or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                let join = tokio::spawn(worker::run(self.clone(), m.contact.clone(), rx));
                WorkerHandle { tx, join }
            });
            // A worker only stops at shutdown; then the message stays pending in the store.
            let _ = handle.tx.send(m);
        }
    }

    /// Ends the pending messages of a contact that is gone for good.
    async fn fail_contact(&self, contact: &str) {
        match self
            .store
            .fail_pending(contact, CONTACT_REMOVED, self.clock.now_ms())
            .await
        {
            Ok(n) => {
                if n > 0 {
                    tracing::warn!(
                        contact,
                        messages = n,
                        "pending messages failed: {CONTACT_REMOVED}"
                    );
                    self.metrics
                        .add_pending(-i64::try_from(n).unwrap_or(i64::MAX));
                    for _ in 0..n {
                        self.metrics.message_finished("removed", "failed");
                    }
                }
            }
            Err(e) => {
                tracing::error!(contact, error = %e, "could not fail the pending messages of a removed contact")
            }
        }
    }

    /// Fails `contact`'s pending messages once `grace` has passed, unless a
    /// reload brought the contact back by then (which cancels this timer).
    fn fail_after_grace(self: &Arc<Self>, contact: String, grace: std::time::Duration) {
        let shared = self.clone();
        let name = contact.clone();
        let timer = tokio::spawn(async move {
            let until = shared
                .clock
                .now_ms()
                .saturating_add(crate::duration_ms(grace));
            shared.clock.sleep_until(until).await;
            if shared.snapshot.load().contact(&name).is_none() {
                shared.fail_contact(&name).await;
            }
            shared
                .removed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&name);
        });
        if let Some(old) = self
            .removed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(contact, timer)
        {
            old.abort();
        }
    }
}

struct WorkerHandle {
    tx: mpsc::UnboundedSender<OutboxMessage>,
    join: JoinHandle<()>,
}

pub struct Dispatcher {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        snapshot: Arc<ArcSwap<Snapshot>>,
        metrics: Arc<Metrics>,
        clock: SharedClock,
    ) -> Result<Dispatcher, String> {
        let http = HttpContext::new(&snapshot.load().config.delivery)?;
        let (stop, shutdown) = watch::channel(false);
        Ok(Dispatcher {
            shared: Arc::new(Shared {
                store,
                snapshot,
                http: ArcSwap::from_pointee(http),
                metrics,
                budgets: budget::Budgets::default(),
                clock,
                shutdown,
                workers: Mutex::new(HashMap::new()),
                removed: Mutex::new(HashMap::new()),
            }),
            stop,
        })
    }

    /// Loads every pending message from the store and hands it to its worker.
    /// Messages of contacts that no longer exist end `failed` after
    /// `delivery.removed_contact_grace`.
    pub async fn resume(&self) -> Result<usize, crate::store::StoreError> {
        let pending = self.shared.store.pending_messages().await?;
        let n = pending.len();
        self.shared.metrics.set_pending(crate::saturating_i64(n));
        let snapshot = self.shared.snapshot.load_full();
        // Rate budgets survive a restart: seed them from the stored attempts.
        let longest = snapshot
            .config
            .contacts
            .iter()
            .flat_map(crate::notify::effective_rate)
            .map(|l| crate::duration_ms(l.per))
            .max()
            .unwrap_or(0);
        if longest > 0 {
            let sends = self
                .shared
                .store
                .recent_attempts(self.shared.clock.now_ms() - longest)
                .await?;
            let mut by_bot: HashMap<String, Vec<i64>> = HashMap::new();
            for (contact, at) in sends {
                if let Some(c) = snapshot.contact(&contact) {
                    by_bot
                        .entry(budget::contact_bot_key(c))
                        .or_default()
                        .push(at);
                }
            }
            for (bot, times) in by_bot {
                self.shared.budgets.seed(&bot, times);
            }
        }
        let mut orphans: Vec<String> = Vec::new();
        let mut live = Vec::new();
        for p in pending {
            if snapshot.contact(&p.contact).is_some() {
                live.push(OutboxMessage::from(p));
            } else if !orphans.contains(&p.contact) {
                orphans.push(p.contact);
            }
        }
        // Gone while the server was down: the same grace as on a reload.
        let grace = snapshot.config.delivery.removed_contact_grace;
        for contact in orphans {
            if grace.is_zero() {
                self.shared.fail_contact(&contact).await;
            } else {
                self.shared.fail_after_grace(contact, grace);
            }
        }
        self.enqueue(live);
        Ok(n)
    }

    /// Hands freshly committed messages to their workers.
    /// The HTTP client deliveries use (test messages go through it too).
    pub fn http(&self) -> Arc<HttpContext> {
        self.shared.http.load_full()
    }

    pub fn enqueue(&self, messages: Vec<OutboxMessage>) {
        self.shared.enqueue(messages);
    }

    /// Applies a new snapshot: rebuilds the HTTP client when the delivery
    /// settings changed; stops the workers of removed contacts, whose pending
    /// messages end `failed` after `delivery.removed_contact_grace` unless the
    /// contact comes back by then (its pending messages are then resumed).
    pub async fn reconcile(&self, old: &Snapshot) -> Result<(), String> {
        let snapshot = self.shared.snapshot.load_full();
        if snapshot.config.delivery != old.config.delivery {
            self.shared
                .http
                .store(Arc::new(HttpContext::new(&snapshot.config.delivery)?));
        }
        let removed: Vec<String> = old
            .config
            .contacts
            .iter()
            .filter(|c| snapshot.contact(&c.name).is_none())
            .map(|c| c.name.clone())
            .collect();
        for contact in removed {
            let handle = self
                .shared
                .workers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&contact);
            if let Some(h) = handle {
                drop(h.tx);
                h.join.abort();
            }
            let grace = snapshot.config.delivery.removed_contact_grace;
            if grace.is_zero() {
                self.shared.fail_contact(&contact).await;
            } else {
                tracing::warn!(
                    contact,
                    "contact removed: its pending messages fail in {grace:?} unless it comes back"
                );
                self.shared.fail_after_grace(contact, grace);
            }
        }
        // Back within the grace: cancel the timer and resume what is pending.
        let returned: Vec<String> = {
            let mut removed = self
                .shared
                .removed
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let back: Vec<String> = removed
                .keys()
                .filter(|name| snapshot.contact(name).is_some())
                .cloned()
                .collect();
            for name in &back {
                if let Some(timer) = removed.remove(name) {
                    timer.abort();
                }
            }
            back
        };
        if !returned.is_empty() {
            let pending = self
                .shared
                .store
                .pending_messages()
                .await
                .map_err(|e| format!("cannot resume the messages of returned contacts: {e}"))?;
            self.enqueue(
                pending
                    .into_iter()
                    .filter(|p| returned.contains(&p.contact))
                    .map(OutboxMessage::from)
                    .collect(),
            );
        }
        Ok(())
    }

    /// Stops the workers: no new sends; in-flight sends have until
    /// `deadline` to finish, the rest stay pending in the store.
    pub async fn shutdown(&self, deadline: tokio::time::Instant) {
        let _ = self.stop.send(true);
        // Messages of removed contacts stay pending; the next start decides.
        for (_, timer) in self
            .shared
            .removed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
        {
            timer.abort();
        }
        let handles: Vec<WorkerHandle> = self
            .shared
            .workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, h)| h)
            .collect();
        for h in handles {
            drop(h.tx);
            let mut join = h.join;
            if tokio::time::timeout_at(deadline, &mut join).await.is_err() {
                join.abort();
            }
        }
        // The workers' last attempt records are queued, not yet committed.
        if let Err(e) = self.shared.store.flush().await {
            tracing::error!(error = %e, "could not commit the last attempt records");
        }
    }
}
