//! The writer thread: group commit of every waiting write request.

use super::super::*;
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::mpsc;
use tokio::sync::oneshot;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

pub enum WriteOp {
    Ingest(Vec<IngestItem>, Reply<IngestResult>),
    /// Queued without a reply: see `Store::record_attempt`.
    Attempt(AttemptRecord),
    /// Answers once everything queued before it is committed.
    Flush(Reply<()>),
    FailPending {
        contact: String,
        reason: String,
        now_ms: i64,
        reply: Reply<u64>,
    },
    ConfigVersion {
        version: String,
        summary: String,
        now_ms: i64,
        reply: Reply<()>,
    },
    Prune {
        before_ms: i64,
        reply: Reply<u64>,
    },
    Fold {
        digest: NewMessage,
        folded: Vec<String>,
        now_ms: i64,
        reply: Reply<()>,
    },
    Create(Vec<NewMessage>, Reply<()>),
    /// A write defined beside its feature (the quarantine); committed with
    /// `synchronous=FULL`.
    Job(Box<dyn Job>),
}

/// The commit's result, shared by every op of the batch.
pub type Commit = Result<(), StoreError>;

/// What to do once the commit's result is known.
pub type Finish = Box<dyn FnOnce(&Commit) + Send>;

/// A write op defined outside this file.
pub trait Job: Send {
    /// Runs inside the batch's transaction, in a savepoint of its own.
    fn run(self: Box<Self>, conn: &Connection) -> Finish;
    /// The transaction could not begin: answer with this error.
    fn fail(self: Box<Self>, error: StoreError);
}

impl WriteOp {
    fn needs_full_sync(&self) -> bool {
        matches!(
            self,
            WriteOp::Ingest(..)
                | WriteOp::FailPending { .. }
                | WriteOp::ConfigVersion { .. }
                | WriteOp::Job(_)
        )
    }
}

/// The result of one op, held until the batch commits.
enum Done {
    Ingest(Reply<IngestResult>, Result<IngestResult, StoreError>),
    Unit(Reply<()>, Result<(), StoreError>),
    Count(Reply<u64>, Result<u64, StoreError>),
    /// An attempt record: nobody waits, so a failure is logged here.
    Attempt(String, Result<(), StoreError>),
    Job(Finish),
}

/// An op's own result, then the commit's: the first failure is the answer.
pub(super) fn settle<T>(r: Result<T, StoreError>, commit: &Commit) -> Result<T, StoreError> {
    match (r, commit) {
        (Ok(v), Ok(())) => Ok(v),
        (Err(e), _) => Err(e),
        (Ok(_), Err(c)) => Err(c.clone()),
    }
}

/// Keeps an error's class and says what failed.
pub(super) fn during(what: &str, e: StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(format!("{what}: {m}")),
        StoreError::Open(m) => StoreError::Open(format!("{what}: {m}")),
        StoreError::Corrupt(m) => StoreError::Corrupt(format!("{what}: {m}")),
        StoreError::Failed(m) => StoreError::Failed(format!("{what}: {m}")),
    }
}

impl Done {
    fn send(self, commit: &Commit) {
        fn finish<T>(reply: Reply<T>, r: Result<T, StoreError>, commit: &Commit) {
            let _ = reply.send(settle(r, commit));
        }
        match self {
            Done::Ingest(r, v) => finish(r, v, commit),
            Done::Unit(r, v) => finish(r, v, commit),
            Done::Count(r, v) => finish(r, v, commit),
            Done::Job(f) => f(commit),
            Done::Attempt(message, v) => {
                let Err(error) = settle(v, commit) else {
                    return;
                };
                tracing::error!(%message, %error, "could not record an attempt; the message stays pending and is sent again after a restart");
            }
        }
    }
}

pub fn run(mut conn: Connection, rx: mpsc::Receiver<WriteOp>) {
    let mut full_sync = true;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        let mut want_full = batch[0].needs_full_sync();
        // Whatever is waiting joins this transaction: under load, attempt
        // records arrive faster than commits and group up on their own.
        while batch.len() < super::MAX_GROUP {
            let Ok(op) = rx.try_recv() else { break };
            want_full |= op.needs_full_sync();
            batch.push(op);
        }
        if want_full != full_sync {
            let mode = if want_full { "FULL" } else { "NORMAL" };
            if conn.pragma_update(None, "synchronous", mode).is_ok() {
                full_sync = want_full;
            }
        }
        let (done, commit) = apply_batch(&mut conn, batch);
        for d in done {
            d.send(&commit);
        }
    }
}

fn apply_batch(conn: &mut Connection, batch: Vec<WriteOp>) -> (Vec<Done>, Commit) {
    let mut done = Vec::with_capacity(batch.len());
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let e = during("cannot begin a transaction", super::classify(e));
            for op in batch {
                done.push(fail(op, &e));
            }
            return (done, Err(e));
        }
    };
    for op in batch {
        done.push(apply_one(&tx, op));
    }
    let commit = tx
        .commit()
        .map_err(|e| during("commit failed", super::classify(e)));
    (done, commit)
}

fn fail(op: WriteOp, e: &StoreError) -> Done {
    let err = || e.clone();
    match op {
        WriteOp::Ingest(_, r) => Done::Ingest(r, Err(err())),
        WriteOp::Attempt(a) => Done::Attempt(a.message_id, Err(err())),
        WriteOp::Flush(r)
        | WriteOp::ConfigVersion { reply: r, .. }
        | WriteOp::Fold { reply: r, .. }
        | WriteOp::Create(_, r) => Done::Unit(r, Err(err())),
        WriteOp::FailPending { reply, .. } | WriteOp::Prune { reply, .. } => {
            Done::Count(reply, Err(err()))
        }
        WriteOp::Job(job) => {
            job.fail(e.clone());
            Done::Job(Box::new(|_| {}))
        }
    }
}

/// Runs one op inside its own savepoint, so a failing op leaves the others intact.
fn apply_one(conn: &Connection, op: WriteOp) -> Done {
    fn scoped<T>(
        conn: &Connection,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        // Cached statements: most ops are small, and parsing these three
        // statements anew each time was a visible share of the writer's time.
        let run = |sql: &str| conn.prepare_cached(sql)?.execute([]).map(|_| ());
        let inner = || {
            run("SAVEPOINT op")?;
            match f(conn) {
                Ok(v) => {
                    run("RELEASE op")?;
                    Ok(v)
                }
                Err(e) => {
                    let _ = run("ROLLBACK TO op").and_then(|_| run("RELEASE op"));
                    Err(e)
                }
            }
        };
        inner().map_err(super::classify)
    }
    match op {
        WriteOp::Ingest(items, reply) => Done::Ingest(reply, scoped(conn, |c| ingest(c, &items))),
        WriteOp::Attempt(a) => {
            let r = scoped(conn, |c| attempt(c, &a));
            Done::Attempt(a.message_id, r)
        }
        WriteOp::Flush(reply) => Done::Unit(reply, Ok(())),
        WriteOp::FailPending {
            contact,
            reason,
            now_ms,
            reply,
        } => Done::Count(
            reply,
            scoped(conn, |c| fail_pending(c, &contact, &reason, now_ms)),
        ),
        WriteOp::ConfigVersion {
            version,
            summary,
            now_ms,
            reply,
        } => Done::Unit(
            reply,
            scoped(conn, |c| {
                c.prepare_cached(
                    "INSERT INTO config_versions (version, created_ms, summary) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (version) DO NOTHING",
                )?
                .execute(params![version, now_ms, summary])
                .map(|_| ())
            }),
        ),
        WriteOp::Prune { before_ms, reply } => {
            Done::Count(reply, scoped(conn, |c| prune(c, before_ms)))
        }
        WriteOp::Fold {
            digest,
            folded,
            now_ms,
            reply,
        } => Done::Unit(reply, scoped(conn, |c| fold(c, &digest, &folded, now_ms))),
        WriteOp::Job(job) => Done::Job(job.run(conn)),
        WriteOp::Create(messages, reply) => Done::Unit(
            reply,
            scoped(conn, |c| {
                for m in &messages {
                    insert_message(c, m)?;
                }
                Ok(())
            }),
        ),
    }
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// A code with its parameters, as JSON.
fn code_json(value: &impl serde::Serialize) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

fn ingest(c: &Connection, items: &[IngestItem]) -> rusqlite::Result<IngestResult> {
    let mut out = Vec::with_capacity(items.len());
    let mut insert_event = c.prepare_cached(
        "INSERT INTO events (id, format, product, event_type, name, level, severity, status, resource, \
         instance, region, grp, time_ms, received_ms, content, raw, outcome, switch_source, switch_item, \
         switch_kind, config_version, verdicts, state, identity_key, alert_identity) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, \
         ?23, ?24, ?25) \
         ON CONFLICT (id) DO NOTHING",
    )?;
    let mut insert_message = c.prepare_cached(
        "INSERT INTO messages (id, contact, kind, status, subscriptions, created_ms, next_attempt_ms) \
         VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?5) ON CONFLICT (id) DO NOTHING",
    )?;
    for item in items {
        let e = &item.event;
        let sw = item.switch.as_ref();
        let inserted = insert_event.execute(params![
            e.id,
            e.format.as_str(),
            e.product,
            e.event_type,
            e.name,
            e.level.as_str(),
            e.severity,
            e.status,
            e.resource,
            e.instance,
            e.region,
            e.group,
            e.time_ms,
            e.received_ms,
            item.content_json,
            item.raw_json,
            item.outcome,
            sw.map(|s| s.source.as_str()),
            sw.map(|s| s.item.as_str()),
            sw.map(|s| s.kind),
            item.config_version,
            item.verdicts_json,
            e.state.as_str(),
            e.identity_key,
            item.alert_identity,
        ])?;
        if inserted == 0 {
            out.push(IngestOutcome::default());
            continue;
        }
        let mut created = Vec::new();
        let mut notes = std::collections::HashMap::new();
        if e.state == crate::event::EventState::Resolved {
            resolve(c, item, &mut created, &mut notes)?;
            out.push(IngestOutcome {
                new: true,
                messages: created,
                notes,
            });
            continue;
        }
        for plan in &item.notices {
            let Some(planned) = item.messages.iter().find(|m| m.contact == plan.contact) else {
                continue;
            };
            let decision = match &plan.window {
                None => NoiseDecision::Notify,
                Some(rule) => noise_decision(c, &plan.contact, rule, e.received_ms)?,
            };
            // A digest collecting a period's events: its note is kept as a
            // code, written into words when it is read or sent.
            let mut scheduled_note = |kind, key: &str, at: i64, note: MessageNote| {
                let id = scheduled(c, kind, planned, key, at, &note, &mut created)?;
                if created.last().is_some_and(|m| m.id == id) {
                    notes.insert(id.clone(), note);
                }
                Ok::<_, rusqlite::Error>(id)
            };
            let (status, message_id, reason) = match decision {
                NoiseDecision::Notify => match (&plan.digest, &plan.hold) {
                    (Some((sub, at)), _) => {
                        let note = MessageNote::ScheduledDigest {
                            subscription: sub.clone(),
                            at_ms: *at,
                        };
                        let id = scheduled_note("digest", sub, *at, note)?;
                        ("pending", Some(id), None)
                    }
                    (None, Some((policy, at))) => {
                        let note = MessageNote::Held {
                            policy: policy.clone(),
                            opens_ms: *at,
                        };
                        let id = scheduled_note("held", policy, *at, note)?;
                        let reason = NoticeReason::Held {
                            policy: policy.clone(),
                            opens_ms: *at,
                        };
                        ("held", Some(id), Some(reason))
                    }
                    (None, None) => {
                        insert_message.execute(params![
                            planned.id,
                            planned.contact,
                            planned.kind.as_str(),
                            json_list(&planned.subscriptions),
                            planned.created_ms
                        ])?;
                        created.push(planned.clone());
                        ("pending", Some(planned.id.clone()), None)
                    }
                },
                NoiseDecision::Merge { at } => {
                    // Only a window can merge.
                    let Some(rule) = plan.window.as_ref() else {
                        return Err(rusqlite::Error::ToSqlConversionFailure(
                            "a merge decision without a merge window".into(),
                        ));
                    };
                    let follow_up = follow_up_for(c, planned, &rule.identity, at, &mut created)?;
                    let reason = NoticeReason::Merged {
                        identity: rule.identity_text.clone(),
                        follow_up_ms: at,
                    };
                    ("merged", Some(follow_up), Some(reason))
                }
                NoiseDecision::Suppress(reason) => ("suppressed", None, Some(reason)),
            };
            let reason_code = reason.as_ref().map(code_json).transpose()?;
            c.prepare_cached(
                "INSERT INTO notices (event_id, contact, status, subscriptions, message_id, reason_code) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (event_id, contact) DO NOTHING",
            )?
            .execute(params![
                e.id,
                plan.contact,
                status,
                json_list(&plan.subscriptions),
                message_id,
                reason_code
            ])?;
        }
        out.push(IngestOutcome {
            new: true,
            messages: created,
            notes,
        });
    }
    Ok(out)
}

/// A resolved event: matched by its alert identity to the firing events of
/// that alert not yet resolved, and sent, as one `resolved` message each, to
/// the contacts that were told of them (a notice pending, held, merged or
/// delivered; not failed nor suppressed). All read from the store, inside
/// the ingest transaction, so a restart or a silence begun since changes
/// nothing. The verdict records `resolve` (per subscription that told a
/// contact) or `resolve_no_told_contact`, with the firing ids as argument.
fn resolve(
    c: &Connection,
    item: &IngestItem,
    created: &mut Vec<NewMessage>,
    notes: &mut std::collections::HashMap<String, MessageNote>,
) -> rusqlite::Result<()> {
    let e = &item.event;
    let firing: Vec<(String, i64)> = match &item.alert_identity {
        None => Vec::new(),
        Some(identity) => c
            .prepare_cached(
                "SELECT id, time_ms FROM events WHERE alert_identity = ?1 AND state = 'firing' \
                 AND id NOT IN (SELECT firing_id FROM resolutions) ORDER BY seq",
            )?
            .query_map([identity], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?,
    };
    let firing_ids: Vec<String> = firing.iter().map(|(id, _)| id.clone()).collect();
    let ids_json = json_list(&firing_ids);
    for id in &firing_ids {
        c.prepare_cached(
            "INSERT INTO resolutions (resolved_id, firing_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?
        .execute(params![e.id, id])?;
    }
    // contact → the subscriptions that led to it, in first-told order.
    let mut told: Vec<(String, Vec<String>)> = Vec::new();
    let mut rows = c.prepare_cached(
        "SELECT n.contact, n.subscriptions FROM notices n JOIN events e ON e.id = n.event_id \
         WHERE n.event_id IN (SELECT value FROM json_each(?1)) \
         AND n.status IN ('pending', 'held', 'merged', 'delivered') ORDER BY e.seq, n.rowid",
    )?;
    let found = rows.query_map([&ids_json], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in found {
        let (contact, subs) = row?;
        let subs: Vec<String> = serde_json::from_str(&subs).unwrap_or_default();
        match told.iter_mut().find(|(c, _)| *c == contact) {
            Some((_, known)) => {
                for s in subs {
                    if !known.contains(&s) {
                        known.push(s);
                    }
                }
            }
            None => told.push((contact, subs)),
        }
    }
    let firing_ms = firing.iter().map(|(_, t)| *t).min().unwrap_or(e.time_ms);
    let note = MessageNote::Resolved {
        firing_ms,
        resolved_ms: e.time_ms,
    };
    let note_json = code_json(&note)?;
    for (contact, subs) in &told {
        let m = NewMessage {
            id: uuid::Uuid::now_v7().to_string(),
            contact: contact.clone(),
            kind: MessageKind::Resolved,
            subscriptions: subs.clone(),
            event_ids: vec![e.id.clone()],
            created_ms: e.received_ms,
            note: None,
            not_before_ms: None,
        };
        c.prepare_cached(
            "INSERT INTO messages (id, contact, kind, status, subscriptions, created_ms, next_attempt_ms, note_code) \
             VALUES (?1, ?2, 'resolved', 'pending', ?3, ?4, ?4, ?5)",
        )?
        .execute(params![m.id, m.contact, json_list(&m.subscriptions), m.created_ms, note_json])?;
        c.prepare_cached(
            "INSERT INTO notices (event_id, contact, status, subscriptions, message_id) \
             VALUES (?1, ?2, 'pending', ?3, ?4) ON CONFLICT (event_id, contact) DO NOTHING",
        )?
        .execute(params![e.id, m.contact, json_list(&m.subscriptions), m.id])?;
        notes.insert(m.id.clone(), note.clone());
        created.push(m);
    }
    let arg = firing_ids.join(", ");
    let mut verdicts: Vec<crate::store::Verdict<'_>> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (_, subs) in &told {
        for s in subs {
            if !seen.contains(&s.as_str()) {
                seen.push(s);
                verdicts.push(crate::store::Verdict {
                    subscription: s,
                    code: "resolve",
                    arg: Some(&arg),
                });
            }
        }
    }
    if verdicts.is_empty() {
        verdicts.push(crate::store::Verdict {
            subscription: "",
            code: "resolve_no_told_contact",
            arg: Some(&arg),
        });
    }
    let outcome = if told.is_empty() {
        "unmatched"
    } else {
        "routed"
    };
    c.prepare_cached("UPDATE events SET outcome = ?2, verdicts = ?3 WHERE id = ?1")?
        .execute(params![
            e.id,
            outcome,
            crate::store::pack_verdicts(verdicts)
        ])?;
    Ok(())
}

/// Reads the (contact, identity) window, runs the rule's decision on it, and
/// writes it back, all inside the ingest transaction.
fn noise_decision(
    c: &Connection,
    contact: &str,
    rule: &WindowRule,
    at_ms: i64,
) -> rusqlite::Result<NoiseDecision> {
    let current: Option<Window> = c
        .prepare_cached(
            "SELECT opened_ms, merge_until, silence_until, count, first_ms, last_ms, follow_up, notified \
             FROM windows WHERE contact = ?1 AND identity = ?2",
        )?
        .query_row(params![contact, rule.identity], |r| {
            Ok(Window {
                opened_ms: r.get(0)?,
                merge_until: r.get(1)?,
                silence_until: r.get(2)?,
                count: crate::stored_u32(r.get::<_, i64>(3)?),
                first_ms: r.get(4)?,
                last_ms: r.get(5)?,
                follow_up: r.get(6)?,
                notified: r.get(7)?,
            })
        })
        .optional()?;
    let (decision, w) = (rule.decide)(current.as_ref(), at_ms);
    c.prepare_cached(
        "INSERT INTO windows (contact, identity, opened_ms, merge_until, silence_until, count, first_ms, last_ms, \
         follow_up, notified) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT (contact, identity) DO UPDATE SET opened_ms = excluded.opened_ms, \
         merge_until = excluded.merge_until, silence_until = excluded.silence_until, count = excluded.count, \
         first_ms = excluded.first_ms, last_ms = excluded.last_ms, follow_up = excluded.follow_up, \
         notified = excluded.notified",
    )?
    .execute(params![
        contact,
        rule.identity,
        w.opened_ms,
        w.merge_until,
        w.silence_until,
        w.count as i64,
        w.first_ms,
        w.last_ms,
        w.follow_up,
        w.notified
    ])?;
    Ok(decision)
}

/// The digest message that collects a contact's events until `at` (a
/// scheduled digest, or the opening of quiet hours). Its id is derived from
/// (kind, contact, key, at), so every event of the period finds the same one.
fn scheduled(
    c: &Connection,
    kind: &str,
    planned: &NewMessage,
    key: &str,
    at: i64,
    note: &MessageNote,
    created: &mut Vec<NewMessage>,
) -> rusqlite::Result<String> {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(format!("{kind}\n{}\n{key}\n{at}", planned.contact).as_bytes());
    let id = format!("{kind}-{}", hex::encode(&hash[..12]));
    let inserted = c
        .prepare_cached(
            "INSERT INTO messages (id, contact, kind, status, subscriptions, created_ms, next_attempt_ms, note_code) \
             VALUES (?1, ?2, 'digest', 'pending', ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![
            id,
            planned.contact,
            json_list(&planned.subscriptions),
            planned.created_ms,
            at,
            code_json(note)?
        ])?;
    if inserted == 1 {
        created.push(NewMessage {
            id: id.clone(),
            contact: planned.contact.clone(),
            kind: MessageKind::Digest,
            subscriptions: planned.subscriptions.clone(),
            event_ids: Vec::new(),
            created_ms: planned.created_ms,
            note: None,
            not_before_ms: Some(at),
        });
    }
    Ok(id)
}

/// The window's follow-up message, created with the first repeat.
fn follow_up_for(
    c: &Connection,
    planned: &NewMessage,
    identity: &str,
    at: i64,
    created: &mut Vec<NewMessage>,
) -> rusqlite::Result<String> {
    let existing: Option<String> = c
        .prepare_cached("SELECT follow_up FROM windows WHERE contact = ?1 AND identity = ?2")?
        .query_row(params![planned.contact, identity], |r| r.get(0))?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let m = NewMessage {
        id: uuid::Uuid::now_v7().to_string(),
        contact: planned.contact.clone(),
        kind: MessageKind::FollowUp,
        subscriptions: planned.subscriptions.clone(),
        event_ids: Vec::new(),
        created_ms: planned.created_ms,
        note: None,
        not_before_ms: Some(at),
    };
    c.prepare_cached(
        "INSERT INTO messages (id, contact, kind, status, subscriptions, created_ms, next_attempt_ms) \
         VALUES (?1, ?2, 'follow_up', 'pending', ?3, ?4, ?5)",
    )?
    .execute(params![m.id, m.contact, json_list(&m.subscriptions), m.created_ms, at])?;
    c.prepare_cached("UPDATE windows SET follow_up = ?3 WHERE contact = ?1 AND identity = ?2")?
        .execute(params![m.contact, identity, m.id])?;
    created.push(m.clone());
    Ok(m.id)
}

fn attempt(c: &Connection, a: &AttemptRecord) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO attempts (message_id, at_ms, duration_ms, http_status, platform_code, platform_message, \
         reason, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        a.message_id,
        a.at_ms,
        a.duration_ms,
        a.http_status,
        a.platform_code,
        a.platform_message,
        a.reason,
        a.outcome.as_str()
    ])?;
    let finished = a.at_ms + a.duration_ms;
    match a.outcome {
        AttemptOutcome::Retry => {
            c.prepare_cached(
                "UPDATE messages SET attempts = attempts + 1, next_attempt_ms = ?2, last_reason = ?3 \
                 WHERE id = ?1 AND status = 'pending'",
            )?
            .execute(params![a.message_id, a.next_attempt_ms.unwrap_or(finished), a.reason])?;
        }
        AttemptOutcome::Delivered | AttemptOutcome::Failed => {
            let status = if a.outcome == AttemptOutcome::Delivered {
                "delivered"
            } else {
                "failed"
            };
            let reason = (a.outcome == AttemptOutcome::Failed).then_some(a.reason.as_str());
            c.prepare_cached(
                "UPDATE messages SET attempts = attempts + 1, status = ?2, last_reason = ?3, finished_ms = ?4 \
                 WHERE id = ?1",
            )?
            .execute(params![a.message_id, status, a.reason, finished])?;
            // Merged notices stay `merged`: the follow-up counts them.
            c.prepare_cached(
                "UPDATE notices SET status = ?2, reason = ?3, reason_code = NULL \
                 WHERE message_id = ?1 AND status <> 'merged'",
            )?
            .execute(params![a.message_id, status, reason])?;
        }
    }
    Ok(())
}

fn fail_pending(c: &Connection, contact: &str, reason: &str, now_ms: i64) -> rusqlite::Result<u64> {
    c.prepare_cached(
        "UPDATE notices SET status = 'failed', reason = ?2, reason_code = NULL WHERE message_id IN \
         (SELECT id FROM messages WHERE contact = ?1 AND status = 'pending')",
    )?
    .execute(params![contact, reason])?;
    let n = c
        .prepare_cached(
            "UPDATE messages SET status = 'failed', last_reason = ?2, finished_ms = ?3 \
             WHERE contact = ?1 AND status = 'pending'",
        )?
        .execute(params![contact, reason, now_ms])?;
    Ok(n as u64)
}

fn prune(c: &Connection, before_ms: i64) -> rusqlite::Result<u64> {
    let old_messages = "SELECT id FROM messages WHERE created_ms < ?1 AND status <> 'pending'";
    c.execute(
        &format!("DELETE FROM attempts WHERE message_id IN ({old_messages})"),
        [before_ms],
    )?;
    c.execute(
        &format!("DELETE FROM messages WHERE id IN ({old_messages})"),
        [before_ms],
    )?;
    let old_events = "SELECT id FROM events WHERE received_ms < ?1";
    c.execute(
        &format!(
            "DELETE FROM notices WHERE event_id IN ({old_events}) AND (message_id IS NULL OR message_id NOT IN \
             (SELECT id FROM messages WHERE status = 'pending'))"
        ),
        [before_ms],
    )?;
    c.execute(
        &format!("DELETE FROM route_decisions WHERE event_id IN ({old_events})"),
        [before_ms],
    )?;
    c.execute(
        "DELETE FROM windows WHERE merge_until < ?1 AND silence_until < ?1",
        [before_ms],
    )?;
    // An event whose notice still waits on a pending message is kept.
    let n = c.execute(
        "DELETE FROM events WHERE received_ms < ?1 AND id NOT IN (SELECT event_id FROM notices)",
        [before_ms],
    )?;
    // A link whose firing event is gone links nothing; one whose firing
    // event stays keeps it resolved.
    c.execute(
        "DELETE FROM resolutions WHERE NOT EXISTS (SELECT 1 FROM events WHERE id = resolutions.firing_id)",
        [],
    )?;
    Ok(n as u64)
}

fn insert_message(c: &Connection, m: &NewMessage) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO messages (id, contact, kind, status, subscriptions, created_ms, next_attempt_ms, note, event_ids) \
         VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        m.id,
        m.contact,
        m.kind.as_str(),
        json_list(&m.subscriptions),
        m.created_ms,
        m.not_before_ms.unwrap_or(m.created_ms),
        m.note,
        json_list(&m.event_ids)
    ])?;
    Ok(())
}

fn fold(
    c: &Connection,
    digest: &NewMessage,
    folded: &[String],
    now_ms: i64,
) -> rusqlite::Result<()> {
    insert_message(c, digest)?;
    let reason = format!("folded into digest {}", digest.id);
    let events = json_list(&digest.event_ids);
    for id in folded {
        // Only the digest's own events: a message whose events are split
        // over two digests keeps the rest for the next one.
        c.prepare_cached(
            "UPDATE notices SET message_id = ?2 WHERE message_id = ?1 \
             AND event_id IN (SELECT value FROM json_each(?3))",
        )?
        .execute(params![id, digest.id, events])?;
        c.prepare_cached(
            "UPDATE messages SET status = 'folded', last_reason = ?2, finished_ms = ?3 WHERE id = ?1 AND status = 'pending'",
        )?
        .execute(params![id, reason, now_ms])?;
    }
    Ok(())
}
