//! The worker of one contact: sends its messages (up to `concurrency` at a
//! time, within the bot's rate budget), records every attempt, and schedules
//! retries.

use super::{OutboxMessage, Shared};
use crate::notify::{self, Disposition, MessageView, Verdict};
use crate::store::{AttemptOutcome, AttemptRecord};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// How long a worker waits for in-flight sends at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

struct Waiting {
    heap: BinaryHeap<Reverse<(i64, u64)>>,
    items: HashMap<u64, OutboxMessage>,
    seq: u64,
}

impl Waiting {
    fn push(&mut self, m: OutboxMessage) {
        self.seq += 1;
        self.heap.push(Reverse((m.next_attempt_ms, self.seq)));
        self.items.insert(self.seq, m);
    }
    fn next_due(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }
    fn pop_due(&mut self, now: i64, into: &mut VecDeque<OutboxMessage>) {
        while let Some(Reverse((t, seq))) = self.heap.peek().copied() {
            if t > now {
                break;
            }
            self.heap.pop();
            if let Some(m) = self.items.remove(&seq) {
                into.push_back(m);
            }
        }
    }
}

fn sleep_until_ms(at_ms: i64) -> tokio::time::Sleep {
    let wait = (at_ms - crate::now_ms()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait))
}

pub(super) async fn run(
    shared: Arc<Shared>,
    contact: String,
    mut rx: mpsc::UnboundedReceiver<OutboxMessage>,
) {
    let mut shutdown = shared.shutdown.clone();
    let mut ready: VecDeque<OutboxMessage> = VecDeque::new();
    let mut waiting = Waiting {
        heap: BinaryHeap::new(),
        items: HashMap::new(),
        seq: 0,
    };
    let mut in_flight: JoinSet<Option<OutboxMessage>> = JoinSet::new();
    // When the rate budget next has room (0 = now).
    let mut budget_free_at: i64 = 0;
    let mut open = true;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let now = crate::now_ms();
        waiting.pop_due(now, &mut ready);
        let snapshot = shared.snapshot.load_full();
        let Some(c) = snapshot.contact(&contact) else {
            // Removed by a reload; the dispatcher fails what is left.
            break;
        };
        let concurrency = c.concurrency.max(1);
        let bot = super::budget::bot_key(&c.webhook);
        while in_flight.len() < concurrency && budget_free_at <= now {
            let Some(m) = ready.pop_front() else { break };
            match shared.budgets.try_take(&bot, &c.rate_limit, now) {
                Ok(()) => {
                    in_flight.spawn(attempt(shared.clone(), m));
                }
                Err(wait) => {
                    ready.push_front(m);
                    budget_free_at = now + wait;
                }
            }
        }
        if !open && ready.is_empty() && in_flight.is_empty() && waiting.items.is_empty() {
            break;
        }
        let timer = if !ready.is_empty() && budget_free_at > now {
            Some(budget_free_at)
        } else {
            waiting.next_due()
        };
        tokio::select! {
            _ = shutdown.changed() => {}
            msg = rx.recv(), if open => match msg {
                Some(m) if m.next_attempt_ms <= crate::now_ms() => ready.push_back(m),
                Some(m) => waiting.push(m),
                None => open = false,
            },
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Ok(Some(retry)) = done {
                    waiting.push(retry);
                }
            }
            _ = sleep_until_ms(timer.unwrap_or(i64::MAX / 4)), if timer.is_some() => {
                if budget_free_at <= crate::now_ms() {
                    budget_free_at = 0;
                }
            }
        }
    }
    // Shutdown: give in-flight sends their grace, then leave the rest pending.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
}

/// One attempt: render, send, record. Returns the message when it is to be
/// retried.
async fn attempt(shared: Arc<Shared>, mut m: OutboxMessage) -> Option<OutboxMessage> {
    let snapshot = shared.snapshot.load_full();
    let contact = snapshot.contact(&m.contact)?;
    let notifier = notify::notifier_for(contact.channel);
    let channel = contact.channel.as_str();
    let delivery = &snapshot.config.delivery;
    let started = crate::now_ms();
    let clock = tokio::time::Instant::now();
    let view = MessageView {
        id: &m.id,
        kind: m.kind,
        contact,
        subscriptions: &m.subscriptions,
        events: &m.events,
    };
    let verdict = match notifier.render(&view, started) {
        Ok(out) => {
            let http = shared.http.load_full();
            notify::send(&http, notifier, out, delivery.timeout).await
        }
        Err(e) => Verdict::permanent(format!("the message could not be rendered: {e}")),
    };
    let duration_ms = clock.elapsed().as_millis() as i64;
    let now = started + duration_ms;
    m.attempts += 1;
    let policy = super::backoff::RetryPolicy {
        initial: delivery.backoff.initial,
        max: delivery.backoff.max,
        horizon: delivery.retry_horizon,
    };
    let (outcome, next, reason) = match &verdict.disposition {
        Disposition::Delivered => (AttemptOutcome::Delivered, None, verdict.reason.clone()),
        Disposition::Permanent => (AttemptOutcome::Failed, None, verdict.reason.clone()),
        Disposition::Retry { retry_after } => {
            match policy.next_attempt(
                m.attempts,
                m.created_ms,
                now,
                *retry_after,
                rand::random::<f64>(),
            ) {
                Some(at) => (AttemptOutcome::Retry, Some(at), verdict.reason.clone()),
                None => (
                    AttemptOutcome::Failed,
                    None,
                    format!(
                        "{} (gave up: the retry horizon of {} has passed)",
                        verdict.reason.trim_end_matches("; will retry"),
                        crate::notify::http::humanize(delivery.retry_horizon)
                    ),
                ),
            }
        }
    };
    let record = AttemptRecord {
        message_id: m.id.clone(),
        at_ms: started,
        duration_ms,
        http_status: verdict.http_status,
        platform_code: verdict.platform_code.clone(),
        platform_message: verdict.platform_message.clone(),
        reason: reason.clone(),
        outcome,
        next_attempt_ms: next,
    };
    shared.metrics.attempt(channel, outcome.as_str());
    match outcome {
        AttemptOutcome::Delivered => {
            tracing::debug!(contact = %m.contact, message = %m.id, "delivered");
            shared.metrics.message_finished(channel, "delivered");
            shared.metrics.add_pending(-1);
            for e in &m.events {
                shared
                    .metrics
                    .delivered_after(channel, (now - e.received_ms).max(0) as f64 / 1000.0);
            }
        }
        AttemptOutcome::Failed => {
            tracing::warn!(contact = %m.contact, message = %m.id, reason = %reason, "message failed");
            shared.metrics.message_finished(channel, "failed");
            shared.metrics.add_pending(-1);
        }
        AttemptOutcome::Retry => {
            tracing::info!(contact = %m.contact, message = %m.id, attempts = m.attempts, reason = %reason, "will retry");
        }
    }
    if let Err(e) = shared.store.record_attempt(record).await {
        // The attempt happened; the store will show the message pending and
        // it will be retried after a restart (receivers deduplicate on
        // X-Tocsin-Message-Id).
        tracing::error!(message = %m.id, error = %e, "could not record an attempt");
    }
    next.map(|at| {
        m.next_attempt_ms = at;
        m
    })
}
