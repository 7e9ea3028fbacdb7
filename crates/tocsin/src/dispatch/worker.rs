//! The worker of one contact: sends its messages (up to `concurrency` at a
//! time, within the bot's rate budget), records every attempt, schedules
//! retries, folds a backlog the budget cannot clear into digests, and reports
//! messages that failed for good to `delivery.on_failure`.

use super::{OutboxMessage, Shared};
use crate::config::{Contact, Level};
use crate::event::Event;
use crate::notify::pack::{self, MAX_DIGEST_EVENTS};
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

/// At most this many events are folded in one pass: a pass stays short
/// (the digests it built go out while the next pass folds the rest), and so
/// does the wait of a critical alert that came in behind a burst.
pub(super) const MAX_FOLD_EVENTS_PER_PASS: usize = 2_000;
/// After a fold could not be stored, messages go out as they are for this
/// long before folding is tried again.
const FOLD_PAUSE_MS: i64 = 5_000;

/// The highest level among a message's events.
fn level_of(m: &OutboxMessage) -> Level {
    m.events
        .iter()
        .map(|e| e.level)
        .max()
        .unwrap_or(Level::Info)
}

/// What a worker holds back from sending because a fold pass will take it.
#[derive(Clone, Copy, Default)]
struct Hold {
    /// Foldable messages below critical.
    below_critical: bool,
    /// Foldable critical messages (when there are several: one goes as is).
    critical: bool,
}

impl Hold {
    fn holds(self, m: &OutboxMessage) -> bool {
        foldable(m.kind)
            && if level_of(m) == Level::Critical {
                self.critical
            } else {
                self.below_critical
            }
    }
}

/// Which ready message goes out next. Critical and non-foldable messages
/// (failure reports, tests) come before everything else, fresh ones before
/// folded digests, so an alert posted behind a burst takes the bot's next
/// slot; the rest goes oldest first. Messages a fold pass is to take are
/// held back.
fn next_to_send(ready: &VecDeque<OutboxMessage>, hold: Hold) -> Option<usize> {
    ready
        .iter()
        .enumerate()
        .filter(|(_, m)| !hold.holds(m))
        .min_by_key(|(i, m)| {
            let urgent = !foldable(m.kind) && m.kind != MessageKind::Digest
                || level_of(m) == Level::Critical;
            (!urgent, urgent && m.kind == MessageKind::Digest, *i)
        })
        .map(|(i, _)| i)
}

/// A fold pass under way: packing runs on the blocking pool.
type FoldJob = tokio::task::JoinHandle<(Vec<OutboxMessage>, Option<Vec<PlannedDigest>>)>;

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
    let mut folding: Option<FoldJob> = None;
    let mut fold_paused_until: i64 = 0;
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
            let bot = super::budget::contact_bot_key(c);
            (snapshot.clone(), bot, notify::effective_rate(c))
        });
        // A backlog: more ready than the budget lets out now. Its foldable
        // messages are held back (never sent one by one) and folded, one
        // bounded pass at a time, when the digests already built no longer
        // fill the budget's free room, or at once for a critical alert.
        let left = if limits.is_empty() {
            usize::MAX
        } else {
            shared.budgets.remaining(bot, limits, now)
        };
        let backlog = !limits.is_empty()
            && now >= fold_paused_until
            && ready.iter().filter(|m| foldable(m.kind)).count() >= 2
            && ready.len() > left;
        let critical_foldable = ready
            .iter()
            .filter(|m| foldable(m.kind) && level_of(m) == Level::Critical)
            .count();
        let mut fold_deferred = false;
        if backlog && folding.is_none() {
            let built = ready
                .iter()
                .filter(|m| m.kind == MessageKind::Digest)
                .count();
            if built < left {
                folding = Some(start_fold(&snapshot, c, &mut ready, Level::Info));
            } else if critical_foldable >= 2 {
                // Several critical alerts behind the backlog: a quick pass
                // of those alone, not one that waits for the rest.
                folding = Some(start_fold(&snapshot, c, &mut ready, Level::Critical));
            } else {
                fold_deferred = true;
            }
        }
        let hold = Hold {
            below_critical: backlog || folding.is_some(),
            critical: (backlog || folding.is_some()) && critical_foldable >= 2,
        };
        // The budget is charged at the time of sending, not at the top of
        // this turn: a turn that waited on the store must not send against
        // a budget that has moved on (Lark answered 11232 for that).
        let now = shared.clock.now_ms();
        while in_flight.len() < concurrency && budget_free_at <= now {
            let Some(i) = next_to_send(&ready, hold) else {
                break;
            };
            match shared.budgets.try_take(bot, limits, now) {
                Ok(()) => {
                    if let Some(m) = ready.remove(i) {
                        in_flight.spawn(attempt(shared.clone(), m));
                    }
                }
                Err(wait) => {
                    budget_free_at = now + wait;
                    shared
                        .metrics
                        .contact_rate_limit_wait(&contact, c.channel.as_str());
                }
            }
        }
        if !open
            && ready.is_empty()
            && in_flight.is_empty()
            && waiting.items.is_empty()
            && folding.is_none()
        {
            break;
        }
        let sendable = next_to_send(&ready, hold).is_some();
        let mut timer = if sendable && budget_free_at > now {
            Some(budget_free_at)
        } else {
            waiting.next_due()
        };
        if fold_deferred {
            // Fold when the budget has room again.
            let wait = shared.budgets.wait(bot, limits, now);
            if wait > 0 {
                let at = now.saturating_add(wait);
                timer = Some(timer.map_or(at, |t| t.min(at)));
            }
        }
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
            packed = async { folding.as_mut().expect("guarded by is_some").await }, if folding.is_some() => {
                folding = None;
                match packed {
                    Ok((taken, Some(plan))) => {
                        if !store_fold(&shared, c, taken, plan, &mut ready).await {
                            fold_paused_until = shared.clock.now_ms().saturating_add(FOLD_PAUSE_MS);
                        }
                    }
                    Ok((taken, None)) => {
                        tracing::error!(contact = %c.name, "could not pack the backlog into digests; sending one by one");
                        ready.extend(taken);
                        fold_paused_until = shared.clock.now_ms().saturating_add(FOLD_PAUSE_MS);
                    }
                    // Only when the runtime shuts down.
                    Err(e) => tracing::warn!(contact = %c.name, error = %e, "fold pass cancelled"),
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

/// One digest a fold pass built: its events and the messages it replaces.
struct PlannedDigest {
    id: String,
    events: Vec<Arc<Event>>,
    /// Messages with events in this digest (a message split over two
    /// digests is in both).
    folded: Vec<String>,
    /// Messages that end with this digest (counted once, for the metrics).
    first_folded: usize,
}

/// Takes the ready messages to fold in this pass (critical first, none
/// below `min_level`, at most [`MAX_FOLD_EVENTS_PER_PASS`] events) and packs them into digests on the
/// blocking pool, so that neither the runtime nor this worker's sends wait
/// on it.
fn start_fold(
    snapshot: &Arc<Snapshot>,
    contact: &Contact,
    ready: &mut VecDeque<OutboxMessage>,
    min_level: Level,
) -> FoldJob {
    let mut candidates: Vec<(usize, Level, i64)> = ready
        .iter()
        .enumerate()
        .filter(|(_, m)| foldable(m.kind) && level_of(m) >= min_level)
        .map(|(i, m)| (i, level_of(m), m.created_ms))
        .collect();
    candidates.sort_by_key(|(i, level, created)| (Reverse(*level), *created, *i));
    let mut take: Vec<usize> = Vec::new();
    let mut events = 0usize;
    for (i, ..) in candidates {
        let n = ready[i].events.len().max(1);
        if !take.is_empty() && events.saturating_add(n) > MAX_FOLD_EVENTS_PER_PASS {
            break;
        }
        events = events.saturating_add(n);
        take.push(i);
    }
    take.sort_unstable();
    let mut taken: Vec<OutboxMessage> = Vec::with_capacity(take.len());
    for i in take.into_iter().rev() {
        if let Some(m) = ready.remove(i) {
            taken.push(m);
        }
    }
    taken.reverse();
    let snapshot = snapshot.clone();
    let name = contact.name.clone();
    tokio::task::spawn_blocking(move || {
        let plan = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let contact = snapshot.contact(&name)?;
            Some(plan_digests(&snapshot, contact, &taken))
        }))
        .ok()
        .flatten();
        (taken, plan)
    })
}

/// Packs the events of `fold` into digests (critical first, then by time),
/// each as full as the platform's size limit and [`MAX_DIGEST_EVENTS`] allow.
fn plan_digests(
    snapshot: &Snapshot,
    contact: &Contact,
    fold: &[OutboxMessage],
) -> Vec<PlannedDigest> {
    let mut events: Vec<(Arc<Event>, usize)> = fold
        .iter()
        .enumerate()
        .flat_map(|(i, m)| m.events.iter().map(move |e| (e.clone(), i)))
        .collect();
    events.sort_by_key(|(e, _)| (Reverse(e.level), e.time_ms));
    let (events, carriers): (Vec<Arc<Event>>, Vec<usize>) = events.into_iter().unzip();
    let subscriptions = subscriptions_of(fold);
    let sizes = pack::pack(
        notify::notifier_for(contact.channel),
        contact,
        &subscriptions,
        snapshot.config.server.public_url.as_deref(),
        &events,
        MAX_DIGEST_EVENTS,
    );
    let mut counted = vec![false; fold.len()];
    let mut digests = Vec::with_capacity(sizes.len());
    let mut start = 0;
    for n in sizes {
        let mut folded: Vec<usize> = carriers[start..start + n].to_vec();
        folded.sort_unstable();
        folded.dedup();
        let first_folded = folded
            .iter()
            .filter(|&&i| !std::mem::replace(&mut counted[i], true))
            .count();
        digests.push(PlannedDigest {
            id: uuid::Uuid::now_v7().to_string(),
            events: events[start..start + n].to_vec(),
            folded: folded.into_iter().map(|i| fold[i].id.clone()).collect(),
            first_folded,
        });
        start += n;
    }
    digests
}

fn subscriptions_of(fold: &[OutboxMessage]) -> Vec<String> {
    let mut subscriptions: Vec<String> = Vec::new();
    for s in fold.iter().flat_map(|m| m.subscriptions.iter()) {
        if !subscriptions.contains(s) {
            subscriptions.push(s.clone());
        }
    }
    subscriptions
}

/// Stores the digests a pass built in place of the messages they fold and
/// queues them. When the store fails, whatever was not folded goes out as it
/// was; returns false then.
async fn store_fold(
    shared: &Arc<Shared>,
    contact: &Contact,
    taken: Vec<OutboxMessage>,
    plan: Vec<PlannedDigest>,
    ready: &mut VecDeque<OutboxMessage>,
) -> bool {
    let created = taken.iter().map(|m| m.created_ms).min().unwrap_or(0);
    let subscriptions = subscriptions_of(&taken);
    let now = shared.clock.now_ms();
    let mut done: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut digests: Vec<OutboxMessage> = Vec::with_capacity(plan.len());
    let mut failed = false;
    for d in &plan {
        let digest = NewMessage {
            id: d.id.clone(),
            contact: contact.name.clone(),
            kind: MessageKind::Digest,
            subscriptions: subscriptions.clone(),
            event_ids: d.events.iter().map(|e| e.id.clone()).collect(),
            created_ms: created,
            note: None,
            not_before_ms: None,
        };
        if let Err(e) = shared
            .store
            .fold_into_digest(digest, d.folded.clone(), now)
            .await
        {
            tracing::error!(contact = %contact.name, error = %e, "could not fold the backlog into a digest; sending one by one");
            failed = true;
            break;
        }
        shared
            .metrics
            .add_pending(1 - crate::saturating_i64(d.first_folded));
        done.extend(d.events.iter().map(|e| e.id.as_str()));
        digests.push(OutboxMessage {
            id: d.id.clone(),
            contact: contact.name.clone(),
            kind: MessageKind::Digest,
            subscriptions: subscriptions.clone(),
            events: d.events.clone(),
            created_ms: created,
            next_attempt_ms: now,
            attempts: 0,
            note: None,
        });
    }
    if failed {
        // Whatever was not folded goes out as it was.
        let unfolded: Vec<OutboxMessage> = taken
            .iter()
            .filter(|m| m.events.iter().any(|e| !done.contains(e.id.as_str())))
            .cloned()
            .collect();
        ready.extend(digests);
        ready.extend(unfolded);
    } else {
        tracing::info!(
            contact = %contact.name,
            messages = taken.len(),
            digests = digests.len(),
            "backlog over the rate budget folded into digests"
        );
        shared
            .metrics
            .contact_folded(&contact.name, contact.channel.as_str(), taken.len() as u64);
        ready.extend(digests);
    }
    !failed
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
    // A digest of a few hundred lines is rendered on the blocking pool, off
    // the runtime threads that answer ingest and health checks.
    let rendered = if m.kind == MessageKind::Digest {
        let (snap, msg) = (snapshot.clone(), m.clone());
        tokio::task::spawn_blocking(move || render_message(&snap, &msg, started))
            .await
            .unwrap_or_else(|e| Err(notify::RenderError(e.to_string())))
    } else {
        render_message(&snapshot, &m, started)
    };
    let verdict = match rendered {
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
                &super::budget::contact_bot_key(contact),
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
            shared
                .metrics
                .contact_message_finished(&m.contact, channel, "delivered");
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
            shared
                .metrics
                .contact_message_finished(&m.contact, channel, "failed");
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

/// Renders a message for its contact's platform.
fn render_message(
    snapshot: &Snapshot,
    m: &OutboxMessage,
    now_ms: i64,
) -> Result<notify::Rendered, notify::RenderError> {
    let contact = snapshot
        .contact(&m.contact)
        .ok_or_else(|| notify::RenderError(format!("contact {} is gone", m.contact)))?;
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
    notify::notifier_for(contact.channel).render(&view, now_ms)
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
