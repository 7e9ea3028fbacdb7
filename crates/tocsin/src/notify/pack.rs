//! Packing a backlog into digests. Each event's digest line is rendered
//! once and costed in the platform's own measure (JSON-escaped where the
//! platform counts the JSON body); digests are then filled greedily up to the
//! platform's budget, and each built digest is measured once more, exactly,
//! so that the notifier's `fit` finds nothing to cut when it renders it.
//!
//! Dropping one line at a time and re-serializing the whole message after
//! each drop (what `fit` does) made a burst of 5,000 events cost minutes of
//! CPU; here a digest costs a few measurements whatever the backlog.

use super::render::{self, Doc};
use super::{MessageView, Notifier};
use crate::config::{Contact, Level};
use crate::domain::MessageKind;
use crate::event::Event;
use std::sync::Arc;

/// At most this many events in one digest: past that a digest is a wall of
/// text nobody reads, and one message carrying thousands of lines would also
/// be one very large request to re-render at each retry.
pub const MAX_DIGEST_EVENTS: usize = 200;

/// What one digest line (and the event's link, if any) adds to a message.
pub type LineCost<'m> = Box<dyn Fn(&str, Option<&str>) -> usize + 'm>;

/// How a platform measures a message, for packing digests.
pub struct Sizing<'m> {
    /// The largest size `measure` may return for a message to go out whole.
    pub budget: usize,
    /// The size of a doc as the platform counts it (what `fit` checks).
    pub measure: Box<dyn Fn(&Doc) -> usize + 'm>,
    /// What one more digest line (with the event's link, if any) adds to
    /// `measure`.
    pub line_cost: LineCost<'m>,
}

/// Bytes of `s` as a JSON string's content (without the quotes).
pub fn json_len(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

/// Splits `events` (in the order the digests list them: critical first,
/// then by time) into consecutive digests, returning how many events each
/// one takes. Every digest of more than one event fits the platform's budget
/// with nothing cut; one event alone that does not fit goes alone (and `fit`
/// shortens it). No digest has more than `max_events` events.
pub fn pack(
    notifier: &dyn Notifier,
    contact: &Contact,
    subscriptions: &[String],
    public_url: Option<&str>,
    events: &[Arc<Event>],
    max_events: usize,
) -> Vec<usize> {
    let max_events = max_events.max(1);
    let view = |range: std::ops::Range<usize>| MessageView {
        id: "",
        kind: MessageKind::Digest,
        contact,
        subscriptions,
        events: &events[range],
        public_url,
        note: None,
        template: None,
    };
    // Each line rendered once.
    let lines: Vec<(String, Option<String>)> = events
        .iter()
        .map(|e| {
            (
                render::digest_line(e, contact.lang, &contact.timezone),
                render::event_link(public_url, e),
            )
        })
        .collect();
    let mut sizes = Vec::new();
    let mut start = 0;
    // Line costs under the sizing of the digest level they were costed for
    // (WeCom measures critical digests as text when they mention everyone).
    let mut costed: Option<(Level, Vec<usize>)> = None;
    while start < events.len() {
        let rest = events.len() - start;
        let probe = view(start..start + rest.min(2));
        // Sorted critical first: the first event's level is the digest's.
        let first_level = events[start].level;
        let Some(sizing) = notifier.sizing(&probe, first_level) else {
            // No size budget (the generic webhook): only the count caps.
            let take = rest.min(max_events);
            sizes.push(take);
            start += take;
            continue;
        };
        if costed.as_ref().is_none_or(|(l, _)| *l != first_level) {
            costed = Some((
                first_level,
                lines
                    .iter()
                    .map(|(line, link)| (sizing.line_cost)(line, link.as_deref()))
                    .collect(),
            ));
        }
        let costs = costed.as_ref().map(|(_, c)| c.as_slice()).unwrap_or(&[]);
        // The fixed frame (title, summary, footer), from the first two events.
        let probe_doc = render::document(&probe);
        let probe_lines: usize = costs[start..start + rest.min(2)].iter().sum();
        let frame = (sizing.measure)(&probe_doc).saturating_sub(probe_lines);
        let mut end = start;
        let mut used = frame;
        while end < events.len()
            && end - start < max_events
            && used.saturating_add(costs[end]) <= sizing.budget
        {
            used += costs[end];
            end += 1;
        }
        end = end.max(start + 1);
        // The summary grows with the events (counts, top alerts and assets):
        // measure the built digest and give back lines while it is over.
        loop {
            if end - start == 1 {
                break;
            }
            let chunk = view(start..end);
            let doc = render::document(&chunk);
            let size = match notifier.sizing(&chunk, doc.level) {
                Some(s) => (s.measure)(&doc),
                None => break,
            };
            if size <= sizing.budget {
                break;
            }
            let over = size - sizing.budget;
            let mut freed = 0;
            while end - start > 1 && freed < over {
                end -= 1;
                freed += costs[end].max(1);
            }
        }
        sizes.push(end - start);
        start = end;
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::notify::notifier_for;
    use proptest::prelude::*;

    fn event(i: usize, name: &str, level: Level, instance: &str) -> Arc<Event> {
        Arc::new(Event {
            id: format!("ev-{i}"),
            product: "Sas".into(),
            event_type: "Incident".into(),
            name: name.into(),
            level,
            severity: None,
            status: None,
            resource: None,
            instance: Some(instance.into()),
            region: None,
            group: None,
            time_ms: 1_764_381_600_000 + crate::saturating_i64(i) * 1000,
            received_ms: 1_764_381_600_000,
            content: serde_json::json!({"intranetIp": "10.0.0.1"}),
            format: crate::event::Format::Native,
            raw: serde_json::json!({}),
            state: crate::event::EventState::Firing,
            identity_key: None,
        })
    }

    fn contact(channel: &str, extra: &str) -> Contact {
        let url = match channel {
            "lark" => "https://open.feishu.cn/open-apis/bot/v2/hook/t",
            "wecom" => "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
            "dingtalk" => "https://oapi.dingtalk.com/robot/send?access_token=t",
            "slack" => "https://hooks.slack.com/services/T/B/x",
            "discord" => "https://discord.com/api/webhooks/1/x",
            "teams" => {
                "https://prod-01.westus.logic.azure.com/workflows/a/triggers/manual/paths/invoke?api-version=2016-06-01&sp=x&sv=1.0&sig=s"
            }
            _ => "https://siem.example.com/hook",
        };
        let target = match channel {
            "telegram" => "bot_token: \"1:x\", chat_id: -100".to_string(),
            _ => format!("webhook: \"{url}\""),
        };
        let yaml = format!(
            "contacts:\n  - {{ name: c, channel: {channel}, {target}, timezone: Asia/Shanghai{extra} }}\n"
        );
        let loaded = crate::config::load_str(&yaml, "t", &|_| None);
        let c: Config = loaded
            .config
            .unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
        c.contacts[0].clone()
    }

    fn sorted(mut events: Vec<Arc<Event>>) -> Vec<Arc<Event>> {
        events.sort_by_key(|e| (std::cmp::Reverse(e.level), e.time_ms));
        events
    }

    /// Every digest: within the count cap, and rendered whole (nothing
    /// omitted or shortened) unless it is one event alone.
    fn check(contact: &Contact, public_url: Option<&str>, events: &[Arc<Event>]) -> Vec<usize> {
        let notifier = notifier_for(contact.channel);
        let subs = vec!["sec-feed".to_string()];
        let sizes = pack(
            notifier,
            contact,
            &subs,
            public_url,
            events,
            MAX_DIGEST_EVENTS,
        );
        assert_eq!(sizes.iter().sum::<usize>(), events.len(), "{sizes:?}");
        let mut start = 0;
        for &n in &sizes {
            assert!((1..=MAX_DIGEST_EVENTS).contains(&n), "{sizes:?}");
            let chunk = &events[start..start + n];
            let view = MessageView {
                id: "d",
                kind: MessageKind::Digest,
                contact,
                subscriptions: &subs,
                events: chunk,
                public_url,
                note: None,
                template: None,
            };
            let doc = render::document(&view);
            let sizing = notifier.sizing(&view, doc.level);
            if let Some(s) = sizing {
                let size = (s.measure)(&doc);
                assert!(
                    n == 1 || size <= s.budget,
                    "{:?}: {n} events measure {size} > {}",
                    contact.channel,
                    s.budget
                );
            }
            let r = notifier.render(&view, 0).unwrap();
            if n > 1 {
                assert_eq!(r.omitted, 0, "{:?}: {sizes:?}", contact.channel);
            }
            start += n;
        }
        sizes
    }

    #[test]
    fn a_burst_fills_digests_to_the_budget_or_the_cap() {
        let events: Vec<Arc<Event>> = (0..1000)
            .map(|i| {
                event(
                    i,
                    &format!("Incident:Burst{}", i % 40),
                    [Level::Critical, Level::Warn, Level::Info][i % 3],
                    &format!("web-{}", i % 300),
                )
            })
            .collect();
        let events = sorted(events);
        for channel in [
            "lark", "wecom", "dingtalk", "slack", "discord", "teams", "telegram", "webhook",
        ] {
            let c = contact(channel, "");
            let sizes = check(&c, Some("https://tocsin.example.com"), &events);
            // Packed tight: every digest but the last is full (by size or count).
            let notifier = notifier_for(c.channel);
            let mut start = 0;
            for &n in &sizes[..sizes.len() - 1] {
                if n < MAX_DIGEST_EVENTS {
                    let one_more = &events[start..start + n + 1];
                    let view = MessageView {
                        id: "d",
                        kind: MessageKind::Digest,
                        contact: &c,
                        subscriptions: &["sec-feed".to_string()],
                        events: one_more,
                        public_url: Some("https://tocsin.example.com"),
                        note: None,
                        template: None,
                    };
                    let doc = render::document(&view);
                    let s = notifier.sizing(&view, doc.level).unwrap();
                    // Within a few lines of the budget: the greedy pass
                    // gives back a little for the summary's growth.
                    assert!(
                        (s.measure)(&doc) + 6 * 200 > s.budget,
                        "{channel}: {n} events leave room: {sizes:?}"
                    );
                }
                start += n;
            }
            match channel {
                "lark" | "dingtalk" => assert!(sizes.len() <= 12, "{channel}: {sizes:?}"),
                "webhook" => assert_eq!(sizes, [200; 5]),
                _ => {}
            }
        }
    }

    #[test]
    fn wecom_text_mode_for_critical_digests_that_mention_everyone() {
        let c = contact("wecom", ", mentions: { all: true, levels: [critical] }");
        let events = sorted(
            (0..300)
                .map(|i| {
                    event(
                        i,
                        "Incident:<@all> \"quoted\"",
                        if i < 100 {
                            Level::Critical
                        } else {
                            Level::Info
                        },
                        "web-<1>",
                    )
                })
                .collect(),
        );
        check(&c, None, &events);
    }

    #[test]
    fn one_huge_event_goes_alone() {
        let c = contact("wecom", "");
        let mut events = vec![event(0, &"x".repeat(6000), Level::Critical, "a")];
        events.extend((1..50).map(|i| event(i, "Incident:Small", Level::Warn, "b")));
        let sizes = check(&c, None, &events);
        assert_eq!(sizes[0], 1);
    }

    #[test]
    fn json_len_matches_serde() {
        for s in ["plain", "q\"uote\\", "新\n行\t\u{1}\u{7f}", ""] {
            assert_eq!(
                json_len(s),
                serde_json::to_string(s).unwrap().len() - 2,
                "{s:?}"
            );
        }
    }

    fn arb_event() -> impl Strategy<Value = (String, String, u8, u8)> {
        (
            prop::string::string_regex("[a-zA-Z0-9:_ <>\"\\\\*#\\[\\]()@`\n\t登录失败]{1,120}")
                .unwrap(),
            prop::string::string_regex("[a-z0-9<>&\"-]{1,60}").unwrap(),
            0u8..3,
            0u8..4,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn every_packed_digest_fits_and_no_event_is_lost_or_duplicated(
            raw in prop::collection::vec(arb_event(), 1..450),
            channel in prop::sample::select(vec!["lark", "wecom", "dingtalk", "slack", "discord", "teams", "telegram", "webhook"]),
            mention_all in any::<bool>(),
            link in any::<bool>(),
        ) {
            let extra = match (mention_all, channel) {
                // Discord never pings everyone: its mentions are user ids.
                (true, "discord") => ", mentions: { users: [\"80351110224678912\"], levels: [critical] }",
                (true, "teams") => ", mentions: { users: [\"alice@contoso.com\"], levels: [critical] }",
                (true, "telegram") => ", mentions: { users: [\"42:Alice\"], levels: [critical] }",
                (true, _) => ", mentions: { all: true, levels: [critical] }",
                _ => "",
            };
            let c = contact(channel, extra);
            let events = sorted(raw.iter().enumerate().map(|(i, (name, asset, level, _))| {
                event(i, name, [Level::Critical, Level::Warn, Level::Info][usize::from(*level)], asset)
            }).collect());
            let sizes = check(&c, link.then_some("https://tocsin.example.com/"), &events);
            // Consecutive chunks: each event exactly once, in order.
            let mut seen: Vec<&str> = Vec::new();
            let mut start = 0;
            for n in sizes {
                seen.extend(events[start..start + n].iter().map(|e| e.id.as_str()));
                start += n;
            }
            let want: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
            prop_assert_eq!(seen, want);
        }
    }

    /// Every platform shows a resolve as one: the title prefix, the
    /// "resolved after" line, green where it has colours, the keyword kept.
    #[test]
    fn every_platform_renders_a_resolve() {
        let e = event(1, "Suspicious:UnusualLogon", Level::Critical, "web-01");
        let events = [e];
        let subs = vec!["sec-feed".to_string()];
        for channel in [
            "lark", "wecom", "dingtalk", "slack", "discord", "teams", "telegram", "webhook",
        ] {
            let c = contact(channel, ", keywords: [alert]");
            let view = MessageView {
                id: "r",
                kind: MessageKind::Resolved,
                contact: &c,
                subscriptions: &subs,
                events: &events,
                public_url: None,
                note: Some("Resolved after 3h 12m (firing since 2026-11-29T02:00:00.000Z)"),
                template: None,
            };
            let doc = render::document(&view);
            assert!(doc.resolved);
            let out = notifier_for(c.channel).render(&view, 0).unwrap().out;
            let body = String::from_utf8(out.body).unwrap();
            assert!(body.contains("Resolved after 3h 12m"), "{channel}: {body}");
            if channel == "webhook" {
                assert!(body.contains(r#""kind":"resolved""#), "{body}");
                continue;
            }
            assert!(
                doc.title.starts_with("[RESOLVED] Suspicious:UnusualLogon"),
                "{channel}"
            );
            assert!(body.contains("RESOLVED"), "{channel}: {body}");
            assert!(
                body.contains("alert"),
                "{channel} keeps the keyword: {body}"
            );
            let green = match channel {
                "lark" => r#""template":"green""#,
                "discord" => "\"color\":3055683",
                "teams" => r#""color":"good""#,
                "slack" => ":large_green_circle:",
                "telegram" => "🟢",
                "wecom" => r#"<font color=\"info\">"#,
                _ => "",
            };
            assert!(body.contains(green), "{channel}: {body}");
        }
    }
}
