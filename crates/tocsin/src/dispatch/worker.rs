//! The worker of one contact: sends its messages (up to `concurrency` at a
//! time, within the bot's rate budget), records every attempt, schedules
//! retries, folds a backlog the budget cannot clear into digests, and reports
//! messages that failed for good to `delivery.on_failure`.

use super::{OutboxMessage, Shared};
use crate::config::Contact;
use crate::event::Event;
use crate::notify::{self, Disposition, MessageView, Verdict};
use crate::route::Snapshot;
use crate::store::{AttemptOutcome, AttemptRecord, MessageKind, NewMessage};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// How long a worker waits for in-flight sends at shutdown (a backstop: the
/// dispatcher stops every worker at the shutdown's one deadline).
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(4_500);
/// How long a bot rests after a rate-limit answer that named no delay.
const RATE_LIMIT_REST: Duration = Duration::from_secs(60);

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

fn foldable(kind: MessageKind) -> bool {
    matches!(kind, MessageKind::Single | MessageKind::FollowUp)
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
    // The contact's bot key and rate limits, worked out once per config
    // snapshot rather than on every turn of the loop (one per message).
    let mut limits_of: Option<(Arc<Snapshot>, String, Vec<crate::config::RateLimit>)> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let now = shared.clock.now_ms();
        waiting.pop_due(now, &mut ready);
        let snapshot = shared.snapshot.load_full();
        let Some(c) = snapshot.contact(&contact) else {
            // Removed by a reload; the dispatcher fails what is left.
            break;
        };
        let concurrency = c.concurrency.max(1);
        if !limits_of
            .as_ref()
            .is_some_and(|(s, ..)| Arc::ptr_eq(s, &snapshot))
        {
            limits_of = None;
        }
        let (_, bot, limits) = limits_of.get_or_insert_with(|| {
            let bot = super::budget::bot_key(&c.webhook);
            (snapshot.clone(), bot, notify::effective_rate(c))
        });
        if !limits.is_empty() && ready.iter().filter(|m| foldable(m.kind)).count() >= 2 {
            let left = shared.budgets.remaining(bot, limits, now);
            if ready.len() > left {
                fold_backlog(&shared, &snapshot, c, &mut ready, now).await;
            }
        }
        while in_flight.len() < concurrency && budget_free_at <= now {
            let Some(m) = ready.pop_front() else { break };
            match shared.budgets.try_take(bot, limits, now) {
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
                Some(first) => {
                    // Take everything already queued, so a burst is seen
                    // (and folded, if need be) as a whole.
                    let now = shared.clock.now_ms();
                    let mut next = Some(first);
                    while let Some(m) = next {
                        if m.next_attempt_ms <= now {
                            ready.push_back(m);
                        } else {
                            waiting.push(m);
                        }
                        next = rx.try_recv().ok();
                    }
                }
                None => open = false,
            },
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Ok(Some(retry)) = done {
                    waiting.push(retry);
                }
            }
            _ = shared.clock.sleep_until(timer.unwrap_or(i64::MAX / 4)), if timer.is_some() => {
                if budget_free_at <= shared.clock.now_ms() {
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

/// Folds every ready single message into as few digests as the platform's
/// size limit allows (critical first), so the backlog clears within one
/// window instead of overrunning the bot's rate limit. Each digest lists every
/// alert it carries by name, level and asset.
async fn fold_backlog(
    shared: &Arc<Shared>,
    snapshot: &Snapshot,
    contact: &Contact,
    ready: &mut VecDeque<OutboxMessage>,
    now: i64,
) {
    let (fold, keep): (Vec<OutboxMessage>, Vec<OutboxMessage>) =
        ready.drain(..).partition(|m| foldable(m.kind));
    let mut events: Vec<Arc<Event>> = fold.iter().flat_map(|m| m.events.iter().cloned()).collect();
    events.sort_by_key(|e| (Reverse(e.level), e.time_ms));
    let mut subscriptions: Vec<String> = Vec::new();
    for s in fold.iter().flat_map(|m| m.subscriptions.iter()) {
        if !subscriptions.contains(s) {
            subscriptions.push(s.clone());
        }
    }
    // Which folded message carried which event, to move notices along.
    let carrier: HashMap<&str, &str> = fold
        .iter()
        .flat_map(|m| m.events.iter().map(move |e| (e.id.as_str(), m.id.as_str())))
        .collect();
    let created = fold.iter().map(|m| m.created_ms).min().unwrap_or(now);
    let notifier = notify::notifier_for(contact.channel);
    let public_url = snapshot.config.server.public_url.as_deref();
    let mut digests: Vec<OutboxMessage> = Vec::new();
    let mut rest: &[Arc<Event>] = &events;
    let mut failed = false;
    while !rest.is_empty() {
        let id = uuid::Uuid::now_v7().to_string();
        // The most events that fit one message.
        let mut take = rest.len();
        loop {
            let view = MessageView {
                id: &id,
                kind: MessageKind::Digest,
                contact,
                subscriptions: &subscriptions,
                events: &rest[..take],
                public_url,
                note: None,
                template: None,
            };
            match notifier.render(&view, now) {
                Ok(r) if r.omitted == 0 || take == 1 => break,
                Ok(r) => take = (take - r.omitted).max(1).min(take - 1),
                Err(_) => break,
            }
        }
        let chunk = &rest[..take];
        rest = &rest[take..];
        let folded: Vec<String> = {
            let mut ids: Vec<String> = Vec::new();
            for e in chunk {
                if let Some(m) = carrier.get(e.id.as_str())
                    && !ids.iter().any(|x| x == m)
                {
                    ids.push(m.to_string());
                }
            }
            ids
        };
        let digest = NewMessage {
            id: id.clone(),
            contact: contact.name.clone(),
            kind: MessageKind::Digest,
            subscriptions: subscriptions.clone(),
            event_ids: chunk.iter().map(|e| e.id.clone()).collect(),
            created_ms: created,
            note: None,
            not_before_ms: None,
        };
        if let Err(e) = shared
            .store
            .fold_into_digest(digest, folded.clone(), now)
            .await
        {
            tracing::error!(contact = %contact.name, error = %e, "could not fold the backlog into a digest; sending one by one");
            failed = true;
            break;
        }
        shared
            .metrics
            .add_pending(1 - crate::saturating_i64(folded.len()));
        digests.push(OutboxMessage {
            id,
            contact: contact.name.clone(),
            kind: MessageKind::Digest,
            subscriptions: subscriptions.clone(),
            events: chunk.to_vec(),
            created_ms: created,
            next_attempt_ms: now,
            attempts: 0,
            note: None,
        });
    }
    if failed {
        // Whatever was not folded goes out as it was.
        let done: std::collections::HashSet<&str> = digests
            .iter()
            .flat_map(|d| d.events.iter().map(|e| e.id.as_str()))
            .collect();
        let unfolded: Vec<OutboxMessage> = fold
            .iter()
            .filter(|m| m.events.iter().any(|e| !done.contains(e.id.as_str())))
            .cloned()
            .collect();
        ready.extend(digests);
        ready.extend(unfolded);
    } else {
        tracing::info!(
            contact = %contact.name,
            messages = fold.len(),
            digests = digests.len(),
            "backlog over the rate budget folded into digests"
        );
        ready.extend(digests);
    }
    ready.extend(keep);
}

/// One attempt: render, send, record. Returns the message when it is to be
/// retried.
async fn attempt(shared: Arc<Shared>, mut m: OutboxMessage) -> Option<OutboxMessage> {
    // Follow-ups and scheduled digests gain events until they go out.
    if matches!(m.kind, MessageKind::FollowUp | MessageKind::Digest) {
        match shared.store.message_events(&m.id).await {
            Ok(mut events) if !events.is_empty() => {
                if m.kind == MessageKind::Digest {
                    // Critical first, then by time.
                    events.sort_by_key(|e| (Reverse(e.level), e.time_ms));
                }
                m.events = events.into_iter().map(Arc::new).collect();
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(message = %m.id, error = %e, "could not read a follow-up's events")
            }
        }
    }
    let snapshot = shared.snapshot.load_full();
    let contact = snapshot.contact(&m.contact)?;
    let notifier = notify::notifier_for(contact.channel);
    let channel = contact.channel.as_str();
    let delivery = &snapshot.config.delivery;
    let started = shared.clock.now_ms();
    let clock = tokio::time::Instant::now();
    let view = MessageView {
        id: &m.id,
        kind: m.kind,
        contact,
        subscriptions: &m.subscriptions,
        events: &m.events,
        public_url: snapshot.config.server.public_url.as_deref(),
        note: m.note.as_deref(),
        template: snapshot.subscription_template(&m.subscriptions),
    };
    let verdict = match notifier.render(&view, started) {
        Ok(r) => {
            let http = shared.http.load_full();
            notify::send(&http, notifier, r.out, delivery.timeout).await
        }
        Err(e) => Verdict::permanent(format!("the message could not be rendered: {e}")),
    };
    let duration_ms = crate::duration_ms(clock.elapsed());
    let now = shared.clock.now_ms().max(started);
    m.attempts += 1;
    let policy = super::backoff::RetryPolicy {
        initial: delivery.backoff.initial,
        max: delivery.backoff.max,
        horizon: delivery.retry_horizon,
    };
    let retry = |retry_after: Option<Duration>| match policy.next_attempt(
        m.attempts,
        m.created_ms,
        now,
        retry_after,
        rand::random::<f64>(),
    ) {
        Some(at) => (AttemptOutcome::Retry, Some(at), verdict.reason.clone()),
        None => (
            AttemptOutcome::Failed,
            None,
            format!(
                "{} (gave up: the retry horizon of {} has passed)",
                verdict.reason.trim_end_matches("; will retry"),
                notify::http::humanize(delivery.retry_horizon)
            ),
        ),
    };
    let (outcome, next, reason) = match &verdict.disposition {
        Disposition::Delivered => (AttemptOutcome::Delivered, None, verdict.reason.clone()),
        Disposition::Permanent => (AttemptOutcome::Failed, None, verdict.reason.clone()),
        Disposition::Retry { retry_after } => retry(*retry_after),
        Disposition::RateLimited { retry_after } => {
            // The whole bot rests, not just this message.
            let rest = contact
                .rate_limit_rest
                .or(*retry_after)
                .unwrap_or(RATE_LIMIT_REST);
            shared.budgets.block(
                &super::budget::bot_key(&contact.webhook),
                now.saturating_add(crate::duration_ms(rest)),
            );
            retry(Some(rest))
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
    // Not awaited: the store commits attempt records many at a time. Should
    // this one be lost, the message stays pending and goes out again after a
    // restart with the same X-Tocsin-Message-Id, for receivers to deduplicate.
    shared.store.record_attempt(record);
    if outcome == AttemptOutcome::Failed {
        report_failure(&shared, &snapshot, &m, &reason).await;
    }
    next.map(|at| {
        m.next_attempt_ms = at;
        m
    })
}

/// Tells `delivery.on_failure`'s contact group that a message failed for
/// good: never through the failing contact, and never about a report (no loops).
async fn report_failure(
    shared: &Arc<Shared>,
    snapshot: &Snapshot,
    m: &OutboxMessage,
    reason: &str,
) {
    if m.kind == MessageKind::FailureReport || m.kind == MessageKind::Test {
        return;
    }
    let Some(group) = &snapshot.config.delivery.on_failure else {
        return;
    };
    let Some(group) = snapshot
        .config
        .contact_groups
        .iter()
        .find(|g| &g.name == group)
    else {
        return;
    };
    let note = format!(
        "Tocsin could not deliver a message to contact {}: {reason}",
        m.contact
    );
    let now = shared.clock.now_ms();
    let messages: Vec<NewMessage> = group
        .contacts
        .iter()
        .filter(|c| **c != m.contact)
        .map(|c| NewMessage {
            id: uuid::Uuid::now_v7().to_string(),
            contact: c.clone(),
            kind: MessageKind::FailureReport,
            subscriptions: m.subscriptions.clone(),
            event_ids: m.events.iter().map(|e| e.id.clone()).collect(),
            created_ms: now,
            note: Some(note.clone()),
            not_before_ms: None,
        })
        .collect();
    if messages.is_empty() {
        return;
    }
    if let Err(e) = shared.store.create_messages(messages.clone()).await {
        tracing::error!(error = %e, "could not store the failure report");
        return;
    }
    shared
        .metrics
        .add_pending(crate::saturating_i64(messages.len()));
    shared.enqueue(
        messages
            .into_iter()
            .map(|n| OutboxMessage {
                id: n.id,
                contact: n.contact,
                kind: n.kind,
                subscriptions: n.subscriptions,
                events: m.events.clone(),
                created_ms: n.created_ms,
                next_attempt_ms: n.created_ms,
                attempts: 0,
                note: n.note,
            })
            .collect(),
    );
}
