//! Merge windows, thresholds and silences end to end: what the receiver got
//! and what the history says for every occurrence.

use crate::common::*;
use serde_json::json;
use std::time::Duration;

fn occurrence(id: &str, unique: &str) -> String {
    json!({"id": id, "product": "Sas", "event_type": "Suspicious", "name": "Suspicious:UnusualLogon",
           "level": "warn", "instance": "web-01", "content": {"alarmUniqueInfo": unique}})
    .to_string()
}

fn with_sub(rx: &WebhookReceiver, sub: &str) -> String {
    one_hook(
        &rx.url("/hook"),
        "",
        &format!("  - {{ name: s, notification_policy: policy, {sub} }}\n"),
    )
}

async fn delivery(h: &Harness, id: &str) -> serde_json::Value {
    h.event(id).await["deliveries"][0].clone()
}

#[tokio::test]
async fn merge_window_first_at_once_repeats_in_one_follow_up() {
    let rx = WebhookReceiver::start().await;
    let h = Harness::start_manual(&with_sub(&rx, "merge_window: 2s")).await;
    let clock = h.clock();
    h.post("/api/v1/events", &occurrence("m-0", "u1")).await;
    h.wait_status("m-0", "hook", "delivered").await;
    let batch = format!(
        "[{},{},{}]",
        occurrence("m-1", "u1"),
        occurrence("m-2", "u1"),
        occurrence("m-3", "u1")
    );
    h.post("/api/v1/events", &batch).await;
    // Another identity is not merged with these.
    h.post("/api/v1/events", &occurrence("other-0", "u2")).await;
    // The history's words, byte for byte (the store keeps a code; explain writes them).
    let merged = format!(
        "merged: a repeat of Sas | Suspicious | Suspicious:UnusualLogon | u1 inside the merge window; counted in the follow-up sent at {}",
        tocsin::timefmt::rfc3339(clock.now_ms() + 2_000)
    );
    for id in ["m-1", "m-2", "m-3"] {
        let d = delivery(&h, id).await;
        assert_eq!(d["status"], "merged", "{d}");
        assert_eq!(d["reason"], merged.as_str(), "{d}");
    }
    h.wait_status("other-0", "hook", "delivered").await;
    // The clock stands still: the follow-up is stored, waiting for the
    // window's end, and nothing else went out.
    let pending = settled(&h, "hook", 1, 0).await;
    assert_eq!(pending[0].2, clock.now_ms() + 2_000, "{pending:?}");
    assert_eq!(
        rx.received().len(),
        2,
        "nothing else before the window closes"
    );
    clock.advance(Duration::from_millis(1_999));
    h.post("/api/v1/events", &occurrence("m-x", "u3")).await;
    h.wait_status("m-x", "hook", "delivered").await;
    assert_eq!(rx.received().len(), 3, "still nothing 1 ms before the end");
    clock.advance(Duration::from_millis(1));
    let got = rx.wait_for(4, WAIT).await;
    let follow = got
        .iter()
        .find(|r| r.json()["kind"] == "follow_up")
        .expect("a follow-up");
    let body = follow.json();
    assert_eq!(body["repeats"]["count"], 3);
    let ids: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["m-1", "m-2", "m-3"]);
    let d = delivery(&h, "m-2").await;
    assert_eq!(d["status"], "merged");
    assert_eq!(d["message_id"], body["message_id"]);
    // After the window: a new first occurrence, at once.
    clock.advance(Duration::from_millis(200));
    h.post("/api/v1/events", &occurrence("m-4", "u1")).await;
    h.wait_status("m-4", "hook", "delivered").await;
    let singles = rx
        .received()
        .iter()
        .filter(|r| r.json()["kind"] == "single")
        .count();
    assert_eq!(singles, 4);
}

#[tokio::test]
async fn no_repeats_no_follow_up() {
    let rx = WebhookReceiver::start().await;
    let h = Harness::start_manual(&with_sub(&rx, "merge_window: 500ms")).await;
    h.post("/api/v1/events", &occurrence("n-0", "u1")).await;
    h.wait_status("n-0", "hook", "delivered").await;
    assert!(pending_of(&h, "hook").is_empty(), "no follow-up stored");
    // Past the window. Barrier: another identity's first occurrence, sent
    // after the worker saw the later instant; it is the only request since.
    h.clock().advance(Duration::from_millis(1_200));
    h.post("/api/v1/events", &occurrence("n-1", "u2")).await;
    h.wait_status("n-1", "hook", "delivered").await;
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].json()["events"][0]["id"], "n-1");
}

#[tokio::test]
async fn min_occurrences_suppresses_until_the_threshold() {
    let rx = WebhookReceiver::start().await;
    let h = Harness::start(&with_sub(&rx, "merge_window: 3s, min_occurrences: 3")).await;
    for i in 0..2 {
        h.post("/api/v1/events", &occurrence(&format!("t-{i}"), "u1"))
            .await;
    }
    let d = delivery(&h, "t-1").await;
    assert_eq!(d["status"], "suppressed");
    assert_eq!(
        d["reason"], "below min_occurrences: 2 of 3 occurrences within 3s",
        "{d}"
    );
    h.post("/api/v1/events", &occurrence("t-2", "u1")).await;
    h.wait_status("t-2", "hook", "delivered").await;
    h.post("/api/v1/events", &occurrence("t-3", "u1")).await;
    assert_eq!(delivery(&h, "t-3").await["status"], "merged");
    assert_eq!(delivery(&h, "t-0").await["status"], "suppressed");
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["events"][0]["id"], "t-2");
}

#[tokio::test]
async fn silence_after_a_notification() {
    let rx = WebhookReceiver::start().await;
    let h = Harness::start(&with_sub(&rx, "silence: 1h")).await;
    h.post("/api/v1/events", &occurrence("s-0", "u1")).await;
    h.wait_status("s-0", "hook", "delivered").await;
    h.post("/api/v1/events", &occurrence("s-1", "u1")).await;
    let d = delivery(&h, "s-1").await;
    assert_eq!(d["status"], "suppressed");
    assert_eq!(
        d["reason"], "inside the silence of 3600s after the notification of this event",
        "{d}"
    );
    // merge_by picks other keys: another instance is another event.
    assert_eq!(rx.received().len(), 1);
}

#[tokio::test]
async fn merge_by_chooses_the_identity() {
    let rx = WebhookReceiver::start().await;
    let h = Harness::start(&with_sub(&rx, "merge_window: 1h, merge_by: [instance]")).await;
    let e = |id: &str, inst: &str| {
        json!({"id": id, "product": "Sas", "name": format!("Any:{id}"), "level": "info", "instance": inst}).to_string()
    };
    h.post("/api/v1/events", &e("mb-0", "web-1")).await;
    h.post("/api/v1/events", &e("mb-1", "web-1")).await;
    h.post("/api/v1/events", &e("mb-2", "web-2")).await;
    assert_eq!(
        delivery(&h, "mb-1").await["status"],
        "merged",
        "same instance, other name"
    );
    h.wait_status("mb-2", "hook", "delivered").await;
}

#[tokio::test]
async fn a_restart_mid_window_keeps_the_follow_up_and_sends_the_first_once() {
    let rx = WebhookReceiver::start().await;
    let yaml = with_sub(&rx, "merge_window: 4s");
    let mut h = Harness::start_manual(&yaml).await;
    h.post("/api/v1/events", &occurrence("r-0", "u1")).await;
    h.wait_status("r-0", "hook", "delivered").await;
    h.post("/api/v1/events", &occurrence("r-1", "u1")).await;
    h.stop().await;
    h.boot(config(&yaml, &[])).await;
    // A repeat after the restart still joins the open window.
    h.post("/api/v1/events", &occurrence("r-2", "u1")).await;
    assert_eq!(delivery(&h, "r-2").await["status"], "merged");
    assert_eq!(rx.received().len(), 1, "the window is still open");
    h.clock().advance(Duration::from_secs(4));
    let got = rx.wait_for(2, WAIT).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].json()["kind"], "follow_up");
    assert_eq!(got[1].json()["repeats"]["count"], 2);
    // Barrier: a later event of another identity goes out; the first
    // occurrence was not sent again before it.
    h.post("/api/v1/events", &occurrence("r-3", "u2")).await;
    h.wait_status("r-3", "hook", "delivered").await;
    let got = rx.received();
    assert_eq!(got.len(), 3, "the first occurrence was not sent again");
    assert_eq!(got[2].json()["events"][0]["id"], "r-3");
}

/// Moves every pending scheduled message's time into the past, as if the
/// server had been down while it fell due.
fn make_due(h: &Harness) {
    let db = rusqlite::Connection::open(h.dir.path().join("tocsin.db")).unwrap();
    let n = db
        .execute(
            "UPDATE messages SET next_attempt_ms = 0 WHERE status = 'pending' AND kind = 'digest'",
            [],
        )
        .unwrap();
    assert!(n > 0, "no scheduled message to make due");
}

#[tokio::test]
async fn scheduled_digest_collects_events_and_goes_out_after_downtime() {
    let rx = WebhookReceiver::start().await;
    let yaml = with_sub(
        &rx,
        "digest: { schedule: \"0 10 * * 4\", timezone: Asia/Shanghai }",
    );
    let mut h = Harness::start(&yaml).await;
    h.post(
        "/api/v1/events",
        &format!("[{},{}]", occurrence("d-0", "u1"), occurrence("d-1", "u2")),
    )
    .await;
    // The product's own overview events keep going out on their own.
    let overview = json!({"id": "ov-1", "product": "Sas", "event_type": "Cspm-cnt", "name": "Cspm:WeeklyOverview", "level": "info"});
    h.post("/api/v1/events", &overview.to_string()).await;
    h.wait_status("ov-1", "hook", "delivered").await;
    let d0 = delivery(&h, "d-0").await;
    assert_eq!(d0["status"], "pending");
    assert_eq!(d0["message_kind"], "digest");
    assert_eq!(
        d0["message_id"],
        delivery(&h, "d-1").await["message_id"],
        "one digest for the period"
    );
    assert_eq!(rx.received().len(), 1);
    let fires = pending_of(&h, "hook")[0].2;
    // Down while the digest fell due; it goes out when the server is back.
    h.stop().await;
    make_due(&h);
    h.boot(config(&yaml, &[])).await;
    h.wait_status("d-1", "hook", "delivered").await;
    let got = rx.wait_for(2, WAIT).await;
    let digest = got[1].json();
    assert_eq!(digest["kind"], "digest");
    assert_eq!(digest["events"].as_array().unwrap().len(), 2);
    // The note as read back from the store after the restart, byte for byte.
    assert_eq!(
        digest["note"],
        format!(
            "Scheduled digest of subscription s, sent at {}",
            tocsin::timefmt::rfc3339(fires)
        )
        .as_str(),
        "{digest}"
    );
}

#[tokio::test]
async fn quiet_hours_hold_and_critical_only() {
    let rx = WebhookReceiver::start().await;
    // Hours that are never open today: on a weekday that is not today.
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::UTC)
        .weekday()
        .to_sunday_zero_offset();
    let other = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][((today + 3) % 7) as usize];
    let yaml = format!(
        "delivery:\n  allow_private_networks: true\ncontacts:\n  - {{ name: hook, channel: webhook, webhook: \"{}\" }}\ncontact_groups:\n  - {{ name: g, contacts: [hook] }}\nnotification_policies:\n  - name: office\n    contact_groups: [g]\n    active_hours: {{ timezone: UTC, weekdays: [{other}], start: \"09:00\", end: \"17:00\" }}\n    outside_hours: critical_only\nsubscriptions:\n  - {{ name: s, notification_policy: office }}\n",
        rx.url("/hook")
    );
    let h = Harness::start_manual(&yaml).await;
    h.post("/api/v1/events", &native("q-warn", "Incident:X", "warn"))
        .await;
    h.post(
        "/api/v1/events",
        &native("q-crit", "Incident:Y", "critical"),
    )
    .await;
    h.wait_status("q-crit", "hook", "delivered").await;
    let notice = delivery(&h, "q-warn").await;
    assert_eq!(notice["status"], "held");
    assert_eq!(rx.received().len(), 1, "only the critical one went out");
    // Held until the hours open: at 09:00 UTC on that weekday, three days
    // from now. When the clock gets there, the held ones go out as one digest.
    let held = settled(&h, "hook", 1, 0).await;
    let opens_at = tocsin::timefmt::rfc3339(held[0].2);
    assert_eq!(
        notice["reason"],
        format!("held: outside the active hours of office; goes out in one digest when they open at {opens_at}").as_str(),
        "{notice}"
    );
    let opens = jiff::Timestamp::from_millisecond(held[0].2).unwrap();
    let opens_utc = opens.to_zoned(jiff::tz::TimeZone::UTC);
    assert_eq!(
        (
            opens_utc.hour(),
            opens_utc.minute(),
            opens_utc.weekday().to_sunday_zero_offset()
        ),
        (9, 0, (today + 3) % 7),
        "{opens_utc}"
    );
    h.clock().set(held[0].2 - 1);
    h.post(
        "/api/v1/events",
        &native("q-crit2", "Incident:Z", "critical"),
    )
    .await;
    h.wait_status("q-crit2", "hook", "delivered").await;
    assert_eq!(rx.received().len(), 2, "not a millisecond early");
    h.clock().set(held[0].2);
    h.wait_status("q-warn", "hook", "delivered").await;
    let got = rx.wait_for(3, WAIT).await;
    assert_eq!(got[2].json()["kind"], "digest");
    assert_eq!(
        got[2].json()["note"],
        format!("Held outside the active hours of notification policy office; sent when they opened at {opens_at}").as_str()
    );
}
