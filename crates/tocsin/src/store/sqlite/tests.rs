use super::*;
use crate::config::Level;
use crate::event::{Event, Format};
use crate::route::{NoticePlan, Outcome, RouteDecision, RouteResult};
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
    })
}

fn routed(id: &str, received_ms: i64, message_id: &str) -> IngestItem {
    IngestItem::new(
        event(id, received_ms),
        RouteResult {
            outcome: Outcome::Routed,
            switch: None,
            decisions: vec![RouteDecision {
                subscription: "s".into(),
                matched: true,
                code: "matched",
                levels: None,
            }],
            notices: vec![NoticePlan {
                contact: "c".into(),
                subscriptions: vec!["s".into()],
                noise: None,
                digest: None,
                hold: None,
            }],
        },
        "v1".into(),
        vec![NewMessage {
            id: message_id.into(),
            contact: "c".into(),
            kind: MessageKind::Single,
            subscriptions: vec!["s".into()],
            event_ids: vec![id.into()],
            created_ms: received_ms,
            note: None,
            not_before_ms: None,
        }],
    )
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
    let verdict = |name: &str, code: &'static str, levels: Option<&str>| RouteDecision {
        subscription: name.into(),
        matched: code == "matched",
        code,
        levels: levels.map(Into::into),
    };
    // Runs of one verdict share their code; names with escapes survive.
    let front = [
        verdict("crit-only", "level_not_matched", Some("critical, warn")),
        verdict("warn-only", "level_not_matched", Some("warn")),
        verdict("q\"uote", "name_not_matched", None),
        verdict("名前", "name_not_matched", None),
    ];
    item.route.decisions.splice(0..0, front);
    let item = IngestItem::new(item.event, item.route, item.config_version, item.messages);
    store.ingest(vec![item]).await.unwrap();
    let d = store.get_event("packed").await.unwrap().unwrap();
    let got: Vec<(&str, bool, &str, &str)> = d
        .decisions
        .iter()
        .map(|x| {
            (
                x.subscription.as_str(),
                x.matched,
                x.code,
                x.detail.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "crit-only",
                false,
                "level_not_matched",
                "level critical is not among critical, warn in crit-only"
            ),
            (
                "warn-only",
                false,
                "level_not_matched",
                "level critical is not among warn in warn-only"
            ),
            (
                "q\"uote",
                false,
                "name_not_matched",
                "name Incident:DDoS is not among the event names of q\"uote"
            ),
            (
                "名前",
                false,
                "name_not_matched",
                "name Incident:DDoS is not among the event names of 名前"
            ),
            ("s", true, "matched", "matched s"),
        ]
    );
    let rows: i64 = rusqlite::Connection::open(dir.path().join("tocsin.db"))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM route_decisions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0, "one row per event, not one per decision");

    // An event stored before schema 4 keeps its decision rows.
    let mut old = routed("old", 1000, "mo");
    old.route.decisions.clear();
    let old = IngestItem::new(old.event, old.route, old.config_version, old.messages);
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
    assert_eq!(d.decisions[0].detail, "matched s (as written by schema 3)");
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
