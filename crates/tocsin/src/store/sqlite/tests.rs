use super::*;
use crate::config::Level;
use crate::event::{Event, Format};
use serde_json::json;
use std::sync::Arc;

fn event(id: &str, received_ms: i64) -> Arc<Event> {
    Arc::new(Event {
        id: id.into(),
        product: "Sas".into(),
        event_type: "Incident".into(),
        name: "Incident:DDoS".into(),
        level: Level::Critical,
        severity: Some("serious".into()),
        status: None,
        resource: Some("r".into()),
        instance: None,
        region: None,
        group: None,
        time_ms: received_ms,
        received_ms,
        content: json!({"k": "v"}),
        format: Format::Native,
        raw: json!({"id": id, "extra": true}),
        state: crate::event::EventState::Firing,
        identity_key: None,
    })
}

fn verdict(subscription: &str, code: &str) -> String {
    pack_verdicts([Verdict {
        subscription,
        code,
        arg: None,
    }])
    .unwrap()
}

fn routed(id: &str, received_ms: i64, message_id: &str) -> IngestItem {
    let event = event(id, received_ms);
    IngestItem {
        content_json: event.content.to_string(),
        raw_json: event.raw.to_string(),
        event,
        outcome: "routed",
        switch: None,
        notices: vec![NoticeWrite {
            contact: "c".into(),
            subscriptions: vec!["s".into()],
            window: None,
            digest: None,
            hold: None,
        }],
        verdicts_json: Some(verdict("s", "matched")),
        alert_identity: None,
        config_version: "v1".into(),
        messages: vec![NewMessage {
            id: message_id.into(),
            contact: "c".into(),
            kind: MessageKind::Single,
            subscriptions: vec!["s".into()],
            event_ids: vec![id.into()],
            created_ms: received_ms,
            note: None,
            not_before_ms: None,
        }],
    }
}

fn attempt(message_id: &str, outcome: AttemptOutcome, at_ms: i64) -> AttemptRecord {
    AttemptRecord {
        message_id: message_id.into(),
        at_ms,
        duration_ms: 5,
        http_status: Some(if outcome == AttemptOutcome::Delivered {
            200
        } else {
            503
        }),
        platform_code: None,
        platform_message: None,
        reason: format!("{outcome:?}"),
        outcome,
        next_attempt_ms: (outcome == AttemptOutcome::Retry).then_some(at_ms + 1000),
    }
}

#[tokio::test]
async fn ingest_is_idempotent_and_the_outbox_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let fresh: Vec<bool> = store
        .ingest(vec![routed("e1", 1000, "m1"), routed("e1", 1000, "m1b")])
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.new)
        .collect();
    assert_eq!(fresh, [true, false]);
    let fresh: Vec<bool> = store
        .ingest(vec![routed("e1", 2000, "m1c"), routed("e2", 2000, "m2")])
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.new)
        .collect();
    assert_eq!(fresh, [false, true]);

    let pending = store.pending_messages().await.unwrap();
    let ids: Vec<&str> = pending.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["m1", "m2"], "duplicates created no message");
    assert_eq!(pending[0].events[0].raw["extra"], true);
    assert_eq!(store.pending_count().await.unwrap(), 2);

    store.record_attempt(attempt("m1", AttemptOutcome::Retry, 1100));
    store.flush().await.unwrap();
    let p = store.pending_messages().await.unwrap();
    assert_eq!((p[0].attempts, p[0].next_attempt_ms), (1, 2100));
    store.record_attempt(attempt("m1", AttemptOutcome::Delivered, 2100));
    store.flush().await.unwrap();
    store.record_attempt(attempt("m2", AttemptOutcome::Failed, 2100));
    store.flush().await.unwrap();
    assert_eq!(store.pending_count().await.unwrap(), 0);

    let d = store.get_event("e1").await.unwrap().unwrap();
    assert_eq!(d.stored.event.name, "Incident:DDoS");
    assert_eq!(d.stored.config_version, "v1");
    assert_eq!(d.decisions[0].code, "matched");
    assert_eq!(d.deliveries[0].status, "delivered");
    let outcomes: Vec<&str> = d.deliveries[0]
        .attempts
        .iter()
        .map(|a| a.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["retry", "delivered"]);
    let d2 = store.get_event("e2").await.unwrap().unwrap();
    assert_eq!(d2.deliveries[0].status, "failed");
    assert_eq!(d2.deliveries[0].reason.as_deref(), Some("Failed"));
    assert!(store.get_event("nope").await.unwrap().is_none());
}

#[tokio::test]
async fn fail_pending_and_prune() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store
        .ingest(vec![
            routed("old", 1_000, "m-old"),
            routed("new", 100_000, "m-new"),
        ])
        .await
        .unwrap();
    store.record_attempt(attempt("m-old", AttemptOutcome::Delivered, 1_500));
    store.flush().await.unwrap();
    assert_eq!(
        store
            .fail_pending("c", "contact removed from the configuration", 5)
            .await
            .unwrap(),
        1
    );
    let d = store.get_event("new").await.unwrap().unwrap();
    assert_eq!(d.deliveries[0].status, "failed");
    assert_eq!(
        d.deliveries[0].reason.as_deref(),
        Some("contact removed from the configuration")
    );
    store.prune(50_000).await.unwrap();
    assert!(store.get_event("old").await.unwrap().is_none());
    assert!(store.get_event("new").await.unwrap().is_some());
    let page = store
        .list_events(EventFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].deliveries, [("failed".to_string(), 1)]);
}

#[tokio::test]
async fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        store.ingest(vec![routed("e1", 1000, "m1")]).await.unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.pending_messages().await.unwrap().len(), 1);
}

#[test]
fn newer_schema_and_corrupt_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let c = Connection::open(dir.path().join("tocsin.db")).unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let err = SqliteStore::open(dir.path()).err().unwrap().to_string();
    assert!(err.contains("newer Tocsin"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tocsin.db"), vec![0x42u8; 8192]).unwrap();
    let err = SqliteStore::open(dir.path()).err().unwrap().to_string();
    assert!(err.contains("tocsin.db"), "{err}");
}

#[tokio::test]
async fn verdicts_are_packed_in_the_event_row_and_older_rows_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let mut item = routed("packed", 1000, "mp");
    let verdict = |subscription, code, arg| Verdict {
        subscription,
        code,
        arg,
    };
    // Runs of one verdict share their code; names with escapes survive.
    item.verdicts_json = pack_verdicts([
        verdict("crit-only", "level_not_matched", Some("critical, warn")),
        verdict("warn-only", "level_not_matched", Some("warn")),
        verdict("q\"uote", "name_not_matched", None),
        verdict("名前", "name_not_matched", None),
        verdict("s", "matched", None),
    ]);
    assert_eq!(
        item.verdicts_json.as_deref(),
        Some(
            r#"[["level_not_matched",["crit-only"],"critical, warn"],["level_not_matched",["warn-only"],"warn"],["name_not_matched",["q\"uote","名前"]],["matched",["s"]]]"#
        )
    );
    store.ingest(vec![item]).await.unwrap();
    let d = store.get_event("packed").await.unwrap().unwrap();
    let got: Vec<(&str, &str, Option<&str>, Option<&str>)> = d
        .decisions
        .iter()
        .map(|x| {
            (
                x.subscription.as_str(),
                x.code.as_str(),
                x.arg.as_deref(),
                x.detail.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "crit-only",
                "level_not_matched",
                Some("critical, warn"),
                None
            ),
            ("warn-only", "level_not_matched", Some("warn"), None),
            ("q\"uote", "name_not_matched", None, None),
            ("名前", "name_not_matched", None, None),
            ("s", "matched", None, None),
        ],
        "codes and parameters only: explain writes the sentences"
    );
    let rows: i64 = rusqlite::Connection::open(dir.path().join("tocsin.db"))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM route_decisions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0, "one row per event, not one per decision");

    // An event stored before schema 4 keeps its decision rows.
    let mut old = routed("old", 1000, "mo");
    old.verdicts_json = None;
    store.ingest(vec![old]).await.unwrap();
    store.flush().await.unwrap();
    rusqlite::Connection::open(dir.path().join("tocsin.db"))
        .unwrap()
        .execute(
            "INSERT INTO route_decisions (event_id, position, subscription, matched, code, detail) \
             VALUES ('old', 0, 's', 1, 'matched', 'matched s (as written by schema 3)')",
            [],
        )
        .unwrap();
    let d = store.get_event("old").await.unwrap().unwrap();
    assert_eq!(d.decisions.len(), 1);
    assert_eq!(
        d.decisions[0].detail.as_deref(),
        Some("matched s (as written by schema 3)")
    );
}

#[tokio::test]
async fn prune_never_uses_a_cut_off_later_than_now() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    // Received "in the future" (a clock step back since): still kept.
    let ahead = crate::now_ms() + 3_600_000;
    store
        .ingest(vec![routed("ahead", ahead, "m-ahead")])
        .await
        .unwrap();
    store.record_attempt(attempt("m-ahead", AttemptOutcome::Delivered, ahead));
    store.flush().await.unwrap();
    store.prune(i64::MAX).await.unwrap();
    assert!(store.get_event("ahead").await.unwrap().is_some());
}

fn sqlite_error(code: std::ffi::c_int, message: &str) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(message.into()))
}

#[test]
fn sqlite_errors_are_classified_by_what_retrying_can_do() {
    use rusqlite::ffi;
    for (code, message) in [
        (ffi::SQLITE_BUSY, "database is locked"),
        (ffi::SQLITE_LOCKED, "database table is locked"),
        (ffi::SQLITE_IOERR, "disk I/O error"),
        (ffi::SQLITE_IOERR_FSYNC, "disk I/O error"),
        (ffi::SQLITE_FULL, "database or disk is full"),
        (ffi::SQLITE_NOMEM, "out of memory"),
        (ffi::SQLITE_SCHEMA, "database schema has changed"),
    ] {
        let e = classify(sqlite_error(code, message));
        assert!(
            matches!(&e, StoreError::Unavailable(m) if m.contains(message)),
            "{code}: {e:?}"
        );
        assert!(e.is_transient());
    }
    for (code, message) in [
        (ffi::SQLITE_ERROR, "no such table: notices"),
        (
            ffi::SQLITE_CONSTRAINT_UNIQUE,
            "UNIQUE constraint failed: events.id",
        ),
        (ffi::SQLITE_READONLY, "attempt to write a readonly database"),
        (ffi::SQLITE_MISMATCH, "datatype mismatch"),
    ] {
        let e = classify(sqlite_error(code, message));
        assert!(
            matches!(&e, StoreError::Failed(m) if m.contains(message)),
            "{code}: {e:?}"
        );
        assert!(!e.is_transient());
    }
    for code in [ffi::SQLITE_CORRUPT, ffi::SQLITE_NOTADB] {
        let e = classify(sqlite_error(code, "database disk image is malformed"));
        assert!(matches!(e, StoreError::Corrupt(_)), "{code}: {e:?}");
        assert!(!e.is_transient());
    }
    // Rusqlite's own errors repeat on every try.
    let e = classify(rusqlite::Error::QueryReturnedNoRows);
    assert!(matches!(e, StoreError::Failed(_)), "{e:?}");
    // A value that does not parse names its row and column.
    let e = classify(corrupt(15, "events", "e-1", "content", "not JSON (x)"));
    assert_eq!(
        e.to_string(),
        "corrupt record in the store: events row \"e-1\", column content: not JSON (x)"
    );
}

/// Rewrites one column of the store's file behind its back.
fn tamper(dir: &std::path::Path, sql: &str) {
    let c = rusqlite::Connection::open(dir.join("tocsin.db")).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    c.execute_batch(sql).unwrap();
}

#[tokio::test]
async fn a_stored_value_that_does_not_parse_is_an_error_naming_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store
        .ingest(vec![routed("e1", 1000, "m1"), routed("e2", 1000, "m2")])
        .await
        .unwrap();
    tamper(
        dir.path(),
        "UPDATE events SET content = '{not json' WHERE id = 'e1'",
    );
    let e = store.get_event("e1").await.unwrap_err();
    assert!(matches!(e, StoreError::Corrupt(_)), "{e:?}");
    assert!(
        e.to_string()
            .contains("events row \"e1\", column content: not JSON"),
        "{e}"
    );
    // The outbox and the history list read it too: an error, not a made-up event.
    let e = store.pending_messages().await.unwrap_err();
    assert!(e.to_string().contains("column content"), "{e}");
    let e = store
        .list_events(EventFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("column content"), "{e}");
    // The other event still reads.
    assert!(store.get_event("e2").await.unwrap().is_some());

    tamper(
        dir.path(),
        "UPDATE events SET verdicts = 'x' WHERE id = 'e2'",
    );
    let e = store.get_event("e2").await.unwrap_err();
    assert!(
        e.to_string().contains("events row \"e2\", column verdicts"),
        "{e}"
    );
    tamper(
        dir.path(),
        "UPDATE events SET verdicts = NULL, level = 'loud' WHERE id = 'e2'",
    );
    let e = store.get_event("e2").await.unwrap_err();
    assert!(
        e.to_string()
            .contains("column level: unknown value \"loud\""),
        "{e}"
    );
    tamper(
        dir.path(),
        "UPDATE events SET level = 'critical' WHERE id = 'e2'; \
         UPDATE notices SET subscriptions = '{' WHERE event_id = 'e2'",
    );
    let e = store.get_event("e2").await.unwrap_err();
    assert!(
        e.to_string()
            .contains("notices row \"e2/c\", column subscriptions"),
        "{e}"
    );
    tamper(
        dir.path(),
        "UPDATE events SET content = '{}' WHERE id = 'e1'; \
         UPDATE messages SET subscriptions = '7' WHERE id = 'm1'",
    );
    let e = store.pending_messages().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("messages row \"m1\", column subscriptions"),
        "{e}"
    );
}

#[tokio::test]
async fn a_missing_table_fails_the_write_as_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store.ingest(vec![routed("e1", 1000, "m1")]).await.unwrap();
    tamper(dir.path(), "DROP TABLE notices");
    let e = store
        .ingest(vec![routed("e2", 1000, "m2")])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Failed(m) if m.contains("no such table: notices")),
        "{e:?}"
    );
}

/// A window rule that merges every occurrence after the first into a window
/// of 1 s, counting how often the store ran it.
fn merging_rule(runs: Arc<std::sync::atomic::AtomicU32>) -> WindowRule {
    WindowRule {
        identity: "id-1".into(),
        identity_text: "Sas | x".into(),
        decide: Arc::new(move |window, at_ms| {
            runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut w = window.cloned().unwrap_or(Window {
                opened_ms: at_ms,
                merge_until: at_ms + 1_000,
                silence_until: at_ms,
                count: 0,
                first_ms: at_ms,
                last_ms: at_ms,
                follow_up: None,
                notified: true,
            });
            w.count += 1;
            let decision = if window.is_some() {
                NoiseDecision::Merge { at: w.merge_until }
            } else {
                NoiseDecision::Notify
            };
            (decision, w)
        }),
    }
}

fn column(dir: &std::path::Path, sql: &str) -> Option<String> {
    rusqlite::Connection::open(dir.join("tocsin.db"))
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn the_store_keeps_codes_and_runs_the_window_decision_it_is_handed() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut first = routed("w-0", 1_000, "m-w0");
    first.notices[0].window = Some(merging_rule(runs.clone()));
    let mut repeat = routed("w-1", 1_500, "m-w1");
    repeat.notices[0].window = Some(merging_rule(runs.clone()));
    let out = store.ingest(vec![first, repeat]).await.unwrap();
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
    // The repeat saw the window the first one wrote in the same transaction.
    let follow_up = &out[1].messages[0];
    assert_eq!(follow_up.kind, MessageKind::FollowUp);
    let d = store.get_event("w-1").await.unwrap().unwrap();
    assert_eq!(d.deliveries[0].status, "merged");
    assert_eq!(d.deliveries[0].reason, None);
    assert_eq!(
        d.deliveries[0].reason_code,
        Some(NoticeReason::Merged {
            identity: "Sas | x".into(),
            follow_up_ms: 2_000
        })
    );
    assert_eq!(
        column(
            dir.path(),
            "SELECT reason_code FROM notices WHERE event_id = 'w-1'"
        )
        .as_deref(),
        Some(r#"{"code":"merged","identity":"Sas | x","follow_up_ms":2000}"#)
    );

    // Held outside active hours: the notice and its digest keep codes.
    let mut held = routed("h-0", 1_000, "m-h0");
    held.notices[0].hold = Some(("office".into(), 9_000));
    let out = store.ingest(vec![held]).await.unwrap();
    let digest = &out[0].messages[0];
    assert_eq!(
        (digest.kind, digest.note.as_deref()),
        (MessageKind::Digest, None)
    );
    let note = MessageNote::Held {
        policy: "office".into(),
        opens_ms: 9_000,
    };
    assert_eq!(out[0].notes.get(&digest.id), Some(&note));
    let pending = store.pending_messages().await.unwrap();
    let p = pending.iter().find(|p| p.id == digest.id).unwrap();
    assert_eq!(
        (p.note.as_deref(), p.note_code.as_ref()),
        (None, Some(&note))
    );
    let sql = format!("SELECT note FROM messages WHERE id = '{}'", digest.id);
    assert_eq!(column(dir.path(), &sql), None, "no sentence stored");
    let d = store.get_event("h-0").await.unwrap().unwrap();
    assert_eq!(d.deliveries[0].status, "held");
    assert_eq!(
        d.deliveries[0].reason_code,
        Some(NoticeReason::Held {
            policy: "office".into(),
            opens_ms: 9_000
        })
    );
    // Delivered: the code goes with the status it explained.
    store.record_attempt(attempt(&digest.id, AttemptOutcome::Delivered, 9_000));
    store.flush().await.unwrap();
    let d = store.get_event("h-0").await.unwrap().unwrap();
    assert_eq!(d.deliveries[0].status, "delivered");
    assert_eq!(d.deliveries[0].reason_code, None);

    // A code this build does not know is a corrupt record, not a default.
    tamper(
        dir.path(),
        "UPDATE notices SET reason_code = '{\"code\":\"mystery\"}' WHERE event_id = 'w-1'",
    );
    let e = store.get_event("w-1").await.unwrap_err();
    assert!(
        e.to_string()
            .contains("notices row \"w-1/c\", column reason_code"),
        "{e}"
    );
    // A sentence stored before schema 6 still reads as it was.
    tamper(
        dir.path(),
        "UPDATE notices SET reason_code = NULL, reason = 'merged: as written by schema 5' WHERE event_id = 'w-1'",
    );
    let d = store.get_event("w-1").await.unwrap().unwrap();
    assert_eq!(
        d.deliveries[0].reason.as_deref(),
        Some("merged: as written by schema 5")
    );
}

#[tokio::test]
async fn a_message_split_over_two_digests_gives_each_only_its_own_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store
        .ingest(vec![routed("e1", 1000, "m1"), routed("e2", 1000, "m2")])
        .await
        .unwrap();
    // m1 carries both events, as a follow-up with a repeat does.
    let db = rusqlite::Connection::open(dir.path().join("tocsin.db")).unwrap();
    db.execute(
        "UPDATE notices SET message_id = 'm1' WHERE event_id = 'e2'",
        [],
    )
    .unwrap();
    let digest = |id: &str, event: &str| NewMessage {
        id: id.into(),
        contact: "c".into(),
        kind: MessageKind::Digest,
        subscriptions: vec!["s".into()],
        event_ids: vec![event.into()],
        created_ms: 1000,
        note: None,
        not_before_ms: None,
    };
    store
        .fold_into_digest(digest("d1", "e1"), vec!["m1".into()], 2000)
        .await
        .unwrap();
    store
        .fold_into_digest(digest("d2", "e2"), vec!["m1".into()], 2000)
        .await
        .unwrap();
    let ids = |events: Vec<Event>| events.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(store.message_events("d1").await.unwrap()), ["e1"]);
    assert_eq!(ids(store.message_events("d2").await.unwrap()), ["e2"]);
    assert!(store.message_events("m1").await.unwrap().is_empty());
}

#[test]
fn an_open_store_holds_the_data_dir_lock_shared() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    // A second store (doctor beside the server) opens; a restore is refused.
    let second = SqliteStore::open(dir.path()).unwrap();
    assert!(matches!(
        backup::DirLock::exclusive(dir.path()),
        Err(backup::LockError::Held)
    ));
    drop(second);
    drop(store);
    let restoring = backup::DirLock::exclusive(dir.path()).unwrap();
    let err = SqliteStore::open(dir.path())
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("is being restored") && err.contains("tocsin.lock"),
        "{err}"
    );
    drop(restoring);
    SqliteStore::open(dir.path()).unwrap();
}

#[tokio::test]
async fn state_and_identity_key_round_trip_and_older_rows_read_as_firing() {
    let dir = tempfile::tempdir().unwrap();
    // A store at schema 6 with one event, as a build before this one left it.
    {
        let mut c = Connection::open(dir.path().join("tocsin.db")).unwrap();
        for (i, sql) in MIGRATIONS[..6].iter().enumerate() {
            let tx = c.transaction().unwrap();
            tx.execute_batch(sql).unwrap();
            tx.pragma_update(None, "user_version", crate::saturating_i64(i + 1))
                .unwrap();
            tx.commit().unwrap();
        }
        c.execute(
            "INSERT INTO events (id, format, product, event_type, name, level, time_ms, received_ms, \
             content, raw, outcome, config_version) \
             VALUES ('old', 'native', 'Sas', '', 'n', 'info', 1, 1, '{}', '{}', 'unmatched', 'v0')",
            [],
        )
        .unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    let old = store.get_event("old").await.unwrap().unwrap();
    assert_eq!(old.stored.event.state, crate::event::EventState::Firing);
    assert_eq!(old.stored.event.identity_key, None);

    let mut resolved = (*event("am1", 10)).clone();
    resolved.state = crate::event::EventState::Resolved;
    resolved.identity_key = Some("alertmanager:5f3c0a1b2d4e6f70".into());
    let mut item = routed("am1", 10, "m-am1");
    item.event = Arc::new(resolved);
    store.ingest(vec![item]).await.unwrap();
    let got = store.get_event("am1").await.unwrap().unwrap();
    assert_eq!(got.stored.event.state, crate::event::EventState::Resolved);
    assert_eq!(
        got.stored.event.identity_key.as_deref(),
        Some("alertmanager:5f3c0a1b2d4e6f70")
    );
}
