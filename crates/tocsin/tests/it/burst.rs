//! Bursts: a backlog far over a bot's rate limit is folded into digests
//! packed to the platform's size limit, each event in exactly one digest,
//! without one rate-limit answer; a critical alert posted behind the burst
//! takes the bot's next slot instead of waiting for the backlog. The server
//! and the fake bot run on one manual clock, so the fake's rate limit (the
//! real platform's) judges exactly the times the server sent at.

use crate::common::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use tocsin_fakes::{BotSettings, Delivery, FakeBot};

/// Lark's budget in Tocsin: 4 sends per 1.05 s (and 90 per 63 s).
const STEP: Duration = Duration::from_millis(1_050);
const PER_STEP: usize = 4;

fn burst_event(i: usize) -> Value {
    json!({"id": format!("burst-{i}"), "product": "Sas", "event_type": "Incident",
           "name": format!("Incident:Burst{i:04}"), "level": if i.is_multiple_of(2) { "warn" } else { "info" },
           "instance": format!("web-{i:04}"), "content": {"intranetIp": "10.0.0.7"}})
}

/// How many times each burst alert's name appears in what the bot accepted.
fn names_seen(accepted: &[Delivery], n: usize) -> Vec<usize> {
    let text: Vec<String> = accepted.iter().map(Delivery::rendered_text).collect();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for line in text.iter().flat_map(|t| t.lines()) {
        // A digest's line per alert ("WARN · name · asset · time"), or a
        // single alert's "Event: name" field; not the digest's summary.
        // (Discord and Slack bullet digest lines.)
        let line = line.trim_start_matches("• ");
        let name = match line.split(" · ").collect::<Vec<_>>()[..] {
            [level, name, ..] if ["CRITICAL", "WARN", "INFO"].contains(&level) => Some(name),
            _ => line.strip_prefix("Event: "),
        };
        if let Some(name) = name.filter(|n| n.starts_with("Incident:Burst")) {
            *counts.entry(name.to_string()).or_default() += 1;
        }
    }
    (0..n)
        .map(|i| {
            counts
                .get(&format!("Incident:Burst{i:04}"))
                .copied()
                .unwrap_or(0)
        })
        .collect()
}

/// Waits until the server has used its budget of this step (the fake has
/// `want` requests), or has nothing left to send.
async fn step_done(h: &Harness, bot: &FakeBot, want: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if bot.received().len() >= want || pending_of(h, "bot").is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server sent {} of {want} requests and still has {} pending",
            bot.received().len(),
            pending_of(h, "bot").len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_burst_of_3000_to_lark_arrives_in_full_packed_digests_and_a_later_critical_goes_first() {
    let bot = FakeBot::lark().await;
    bot.use_manual_clock();
    bot.add_bot("burst", BotSettings::default());
    let h = Harness::start_manual(&platform_config("lark", &bot.url("burst"), "")).await;
    const N: usize = 3_000;
    for chunk in (0..N).collect::<Vec<_>>().chunks(500) {
        let batch: Vec<Value> = chunk.iter().map(|i| burst_event(*i)).collect();
        let (s, v) = h.post("/api/v1/events", &json!(batch).to_string()).await;
        assert_eq!(s, 202, "{v}");
    }
    let (s, v) = h
        .post(
            "/api/v1/events",
            &json!({"id": "late-critical", "product": "Sas", "event_type": "Incident",
                    "name": "Incident:LateCritical", "level": "critical", "instance": "db-01"})
            .to_string(),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    // Each step frees the whole 1.05 s window: the server sends 4 more.
    let mut steps = 0;
    step_done(&h, &bot, PER_STEP).await;
    while !pending_of(&h, "bot").is_empty() {
        steps += 1;
        assert!(steps < 200, "the backlog never cleared");
        let before = bot.received().len();
        bot.advance(STEP);
        h.clock().advance(STEP);
        step_done(&h, &bot, before + PER_STEP).await;
    }
    idle(&h).await;
    let received = bot.received();
    let refused: Vec<(u16, Option<i64>)> = received
        .iter()
        .filter(|d| !d.accepted())
        .map(|d| (d.http_status, d.code))
        .collect();
    assert!(refused.is_empty(), "refused by Lark: {refused:?}");
    for d in &received {
        assert!(
            d.body.len() <= tocsin_fakes::lark::MAX_BODY_BYTES,
            "{} bytes",
            d.body.len()
        );
        let card = d.json();
        assert_eq!(card["msg_type"], "interactive");
        assert!(
            !d.rendered_text().contains("more not shown"),
            "a digest was cut: {}",
            d.rendered_text()
        );
    }
    // Every alert exactly once, inside digests of up to 200 alerts.
    let seen = names_seen(&received, N);
    let missing: Vec<usize> = (0..N).filter(|i| seen[*i] == 0).collect();
    let twice: Vec<usize> = (0..N).filter(|i| seen[*i] > 1).collect();
    assert!(
        missing.is_empty() && twice.is_empty(),
        "missing {missing:?}, twice {twice:?}"
    );
    let per_message: Vec<usize> = received
        .iter()
        .map(|d| names_seen(std::slice::from_ref(d), N).iter().sum())
        .collect();
    assert!(per_message.iter().all(|n| *n <= 200), "{per_message:?}");
    assert!(
        received.len() <= 30,
        "{} messages for {N} alerts: {per_message:?}",
        received.len()
    );
    // The critical alert posted after the burst (when the first window was
    // used up) went out in the next window, long before the backlog did.
    let critical = received
        .iter()
        .position(|d| d.rendered_text().contains("Incident:LateCritical"))
        .expect("the critical alert arrived");
    let last_backlog = per_message.iter().rposition(|n| *n > 0).unwrap();
    assert!(
        critical < 2 * PER_STEP && critical < last_backlog,
        "critical at {critical}, backlog done at {last_backlog}: {per_message:?}"
    );
    let ev = h.event("late-critical").await;
    assert_eq!(ev["deliveries"][0]["status"], "delivered", "{ev:#}");
    let ev = h.event("burst-1234").await;
    assert_eq!(ev["deliveries"][0]["status"], "delivered", "{ev:#}");
    assert_eq!(ev["deliveries"][0]["message_kind"], "digest", "{ev:#}");

    // The contact's metrics tell the same story: every message the bot
    // accepted counted as delivered, the backlog folded, the budget waited
    // on, and nothing left pending (the per-contact gauges drop out).
    let text = h.metrics_text().await;
    let folded = metric(
        &text,
        r#"tocsin_contact_folded_messages_total{contact="bot",channel="lark"}"#,
    );
    assert!(folded > 2_900.0 && folded <= 3_001.0, "folded {folded}");
    assert!(
        metric(
            &text,
            r#"tocsin_contact_rate_limit_waits_total{contact="bot",channel="lark"}"#
        ) >= 1.0
    );
    #[allow(clippy::cast_precision_loss)]
    let sent = received.len() as f64;
    assert_eq!(
        metric(
            &text,
            r#"tocsin_contact_messages_total{contact="bot",channel="lark",outcome="delivered"}"#
        ),
        sent
    );
    assert!(!text.contains("tocsin_contact_pending_messages{"), "{text}");
}

/// The value of one series in Prometheus' text format (0 when absent).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Discord's budget in Tocsin: 4 sends per 2.1 s (and 27 per 63 s), under
/// the documented 5 per 2 s per webhook and 30 a minute per channel.
const DISCORD_STEP: Duration = Duration::from_millis(2_100);

#[tokio::test]
async fn a_burst_of_400_to_discord_arrives_in_full_within_its_limits_without_a_429() {
    let bot = FakeBot::discord().await;
    bot.use_manual_clock();
    let hook = "123456789012345678/burst";
    bot.add_bot(hook, BotSettings::default());
    let h = Harness::start_manual(&platform_config("discord", &bot.url(hook), "")).await;
    const N: usize = 400;
    let batch: Vec<Value> = (0..N).map(burst_event).collect();
    let (s, v) = h.post("/api/v1/events", &json!(batch).to_string()).await;
    assert_eq!(s, 202, "{v}");
    let mut steps = 0;
    step_done(&h, &bot, PER_STEP).await;
    while !pending_of(&h, "bot").is_empty() {
        steps += 1;
        assert!(steps < 50, "the backlog never cleared");
        let before = bot.received().len();
        bot.advance(DISCORD_STEP);
        h.clock().advance(DISCORD_STEP);
        step_done(&h, &bot, before + PER_STEP).await;
    }
    idle(&h).await;
    let received = bot.received();
    let refused: Vec<(u16, String)> = received
        .iter()
        .filter(|d| !d.accepted())
        .map(|d| (d.http_status, d.answer.clone()))
        .collect();
    assert!(refused.is_empty(), "refused by Discord: {refused:?}");
    for d in &received {
        let e = &d.json()["embeds"][0];
        let description = e["description"].as_str().unwrap_or("");
        assert!(description.chars().count() <= tocsin_fakes::discord::MAX_DESCRIPTION);
        assert!(
            !d.rendered_text().contains("more not shown"),
            "a digest was cut: {}",
            d.rendered_text()
        );
    }
    let seen = names_seen(&received, N);
    let missing: Vec<usize> = (0..N).filter(|i| seen[*i] == 0).collect();
    let twice: Vec<usize> = (0..N).filter(|i| seen[*i] > 1).collect();
    assert!(
        missing.is_empty() && twice.is_empty(),
        "missing {missing:?}, twice {twice:?}"
    );
    // Packed to the description's 4096 characters: a handful of digests.
    assert!(received.len() <= 12, "{} messages", received.len());
    let ev = h.event("burst-321").await;
    assert_eq!(ev["deliveries"][0]["status"], "delivered", "{ev:#}");
    assert_eq!(ev["deliveries"][0]["message_kind"], "digest", "{ev:#}");
}

/// Teams' budget in Tocsin: 3 sends per 1.05 s (and 54 per 63 s), under
/// the assumed 4 a second and 60 a minute; the fake enforces the
/// connectors' documented 4 a second and 60 in 30 s.
const TEAMS_STEP: Duration = Duration::from_millis(1_050);
const TEAMS_PER_STEP: usize = 3;

#[tokio::test]
async fn a_burst_of_400_to_teams_arrives_in_full_within_its_limits_without_a_429() {
    let bot = FakeBot::teams().await;
    bot.use_manual_clock();
    let flow = "5e6f7a8b9c0d/burst-sig";
    bot.add_bot(flow, BotSettings::default());
    let h = Harness::start_manual(&platform_config("teams", &bot.url(flow), "")).await;
    const N: usize = 400;
    let batch: Vec<Value> = (0..N).map(burst_event).collect();
    let (s, v) = h.post("/api/v1/events", &json!(batch).to_string()).await;
    assert_eq!(s, 202, "{v}");
    let mut steps = 0;
    step_done(&h, &bot, TEAMS_PER_STEP).await;
    while !pending_of(&h, "bot").is_empty() {
        steps += 1;
        assert!(steps < 50, "the backlog never cleared");
        let before = bot.received().len();
        bot.advance(TEAMS_STEP);
        h.clock().advance(TEAMS_STEP);
        step_done(&h, &bot, before + TEAMS_PER_STEP).await;
    }
    idle(&h).await;
    let received = bot.received();
    let refused: Vec<(u16, String)> = received
        .iter()
        .filter(|d| !d.accepted())
        .map(|d| (d.http_status, d.answer.clone()))
        .collect();
    assert!(refused.is_empty(), "refused by Teams: {refused:?}");
    for d in &received {
        assert!(d.body.len() <= tocsin_fakes::teams::MAX_BYTES);
        assert!(
            !d.rendered_text().contains("more not shown"),
            "a digest was cut: {}",
            d.rendered_text()
        );
    }
    let seen = names_seen(&received, N);
    let missing: Vec<usize> = (0..N).filter(|i| seen[*i] == 0).collect();
    let twice: Vec<usize> = (0..N).filter(|i| seen[*i] > 1).collect();
    assert!(
        missing.is_empty() && twice.is_empty(),
        "missing {missing:?}, twice {twice:?}"
    );
    // Packed to 24,000 bytes: a handful of digests.
    assert!(received.len() <= 12, "{} messages", received.len());
    let sizes: Vec<usize> = received.iter().map(|d| d.body.len()).collect();
    eprintln!("teams burst: {} messages, bytes {sizes:?}", received.len());
    let ev = h.event("burst-321").await;
    assert_eq!(ev["deliveries"][0]["status"], "delivered", "{ev:#}");
    assert_eq!(ev["deliveries"][0]["message_kind"], "digest", "{ev:#}");
}

/// Telegram's budget in Tocsin: 1 send per 1.05 s (and 18 per 63 s), under
/// the published 1 a second per chat and 20 a minute per group.
const TELEGRAM_STEP: Duration = Duration::from_millis(1_050);

#[tokio::test]
async fn a_burst_of_400_to_telegram_arrives_in_full_within_its_limits_without_a_429() {
    let bot = FakeBot::telegram().await;
    bot.use_manual_clock();
    let token = "123456789:burst";
    bot.add_bot(token, BotSettings::default());
    let h = Harness::start_manual(&platform_config("telegram", &bot.url(token), "")).await;
    const N: usize = 400;
    let batch: Vec<Value> = (0..N).map(burst_event).collect();
    let (s, v) = h.post("/api/v1/events", &json!(batch).to_string()).await;
    assert_eq!(s, 202, "{v}");
    let mut steps = 0;
    step_done(&h, &bot, 1).await;
    while !pending_of(&h, "bot").is_empty() {
        steps += 1;
        assert!(steps < 120, "the backlog never cleared");
        let before = bot.received().len();
        bot.advance(TELEGRAM_STEP);
        h.clock().advance(TELEGRAM_STEP);
        step_done(&h, &bot, before + 1).await;
    }
    idle(&h).await;
    let received = bot.received();
    let refused: Vec<(u16, String)> = received
        .iter()
        .filter(|d| !d.accepted())
        .map(|d| (d.http_status, d.answer.clone()))
        .collect();
    assert!(refused.is_empty(), "refused by Telegram: {refused:?}");
    for d in &received {
        let text = d.rendered_text();
        assert!(text.encode_utf16().count() <= tocsin_fakes::telegram::MAX_TEXT);
        assert!(!text.contains("more not shown"), "a digest was cut: {text}");
    }
    let seen = names_seen(&received, N);
    let missing: Vec<usize> = (0..N).filter(|i| seen[*i] == 0).collect();
    let twice: Vec<usize> = (0..N).filter(|i| seen[*i] > 1).collect();
    assert!(
        missing.is_empty() && twice.is_empty(),
        "missing {missing:?}, twice {twice:?}"
    );
    // Packed to the 4096 characters: a handful of digests.
    assert!(received.len() <= 15, "{} messages", received.len());
}
