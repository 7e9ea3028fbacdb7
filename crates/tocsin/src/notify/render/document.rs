//! Builds a message's [`Doc`] from its events: fields, details and digest
//! lines in the contact's language and time zone, the contact's template,
//! and the footer with the bot's keyword.

use super::labels::{self, labels, level_word};
use super::{Doc, Section};
use crate::config::{Lang, Level};
use crate::domain::MessageKind;
use crate::event::Event;
use crate::notify::MessageView;
use serde_json::Value;
use std::sync::Arc;

pub use crate::event::event_link;
pub use crate::timefmt::local_time;

fn content_str<'a>(e: &'a Event, key: &str) -> Option<&'a str> {
    e.content
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The affected asset: instance name, else resource id.
pub fn asset(e: &Event) -> String {
    e.instance
        .as_deref()
        .or_else(|| content_str(e, "instanceName"))
        .or(e.resource.as_deref())
        .unwrap_or("-")
        .to_string()
}

fn ips(e: &Event) -> Option<String> {
    let parts: Vec<String> = [("intranetIp", ""), ("internetIp", " (public)")]
        .iter()
        .filter_map(|(k, suffix)| content_str(e, k).map(|ip| format!("{ip}{suffix}")))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The security product's alert name and type, when `content` has them.
fn alert_name(e: &Event) -> Option<String> {
    match (
        content_str(e, "alarmEventName"),
        content_str(e, "alarmEventType"),
    ) {
        (Some(n), Some(t)) => Some(format!("{n} ({t})")),
        (Some(n), None) => Some(n.to_string()),
        (None, Some(t)) => Some(t.to_string()),
        _ => None,
    }
}

/// Key details from `content`: the product's `details` list, `desc`, and a
/// few scalar fields.
fn details(e: &Event) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(desc) = content_str(e, "desc") {
        out.push(("desc".to_string(), desc.to_string()));
    }
    if let Some(list) = e.content.get("details").and_then(Value::as_array) {
        for d in list {
            let name = d
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let value = match d.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => continue,
            };
            if !name.is_empty() {
                out.push((name, value));
            }
        }
    }
    if out.is_empty()
        && let Some(obj) = e.content.as_object()
    {
        const SKIP: [&str; 9] = [
            "alarmUniqueInfo",
            "alarmEventName",
            "alarmEventType",
            "instanceName",
            "intranetIp",
            "internetIp",
            "uuid",
            "level",
            "details",
        ];
        for (k, v) in obj
            .iter()
            .filter(|(k, _)| !SKIP.contains(&k.as_str()))
            .take(8)
        {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => v.to_string(),
                _ => continue,
            };
            out.push((k.clone(), v));
        }
    }
    out
}

/// One line per event, for digests: level, name, asset, time.
pub fn digest_line(e: &Event, lang: Lang, timezone: &str) -> String {
    let ip = ips(e).map(|i| format!(" ({i})")).unwrap_or_default();
    format!(
        "{} · {} · {}{} · {}",
        level_word(e.level, lang),
        e.name,
        asset(e),
        ip,
        local_time(e.time_ms, timezone)
    )
}

/// A digest's summary: the period covered, counts by level, the most
/// frequent alerts and assets.
fn summary(events: &[Arc<Event>], lang: Lang, timezone: &str) -> Vec<String> {
    fn top(items: impl Iterator<Item = String>) -> String {
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for i in items {
            *counts.entry(i).or_default() += 1;
        }
        let mut v: Vec<(String, usize)> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.iter()
            .take(5)
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
    let first = events.iter().map(|e| e.time_ms).min().unwrap_or(0);
    let last = events.iter().map(|e| e.time_ms).max().unwrap_or(0);
    let count = |l: Level| events.iter().filter(|e| e.level == l).count();
    let (c, w, i) = (
        count(Level::Critical),
        count(Level::Warn),
        count(Level::Info),
    );
    let names = top(events.iter().map(|e| e.name.clone()));
    let assets = top(events.iter().map(|e| asset(e)));
    let (from, to) = (local_time(first, timezone), local_time(last, timezone));
    labels::summary_lines(lang, (&from, &to), (c, w, i), &names, &assets)
}

/// Builds the doc of a message.
pub fn document(msg: &MessageView<'_>) -> Doc {
    let c = msg.contact;
    let l = labels(c.lang);
    let level = msg
        .events
        .iter()
        .map(|e| e.level)
        .max()
        .unwrap_or(Level::Info);
    let subs = msg.subscriptions.join(", ");
    let mut footer = labels::brand(c.lang).to_string();
    // Only the fixed words count: titles and values are cut to fit and
    // escaped, so a keyword there may not reach the platform.
    let keyword = c
        .keywords
        .first()
        .filter(|_| !c.keywords.iter().any(|k| footer.contains(k.as_str())))
        .cloned();
    if !subs.is_empty() {
        footer.push_str(&format!(" · {}: {subs}", l.subscription));
    }
    let mut doc = Doc {
        title: String::new(),
        level,
        sections: Vec::new(),
        omitted: 0,
        shortened: false,
        footer,
        keyword,
        body: None,
        lang: c.lang,
        resolved: msg.kind == MessageKind::Resolved,
    };
    match (msg.kind, msg.events) {
        (MessageKind::Test, _) => {
            doc.title = labels::test_title(c.lang).to_string();
            doc.sections.push(Section {
                line: Some(labels::test_line(c.lang, &c.name)),
                fields: vec![],
                details: vec![],
                link: None,
            });
        }
        (MessageKind::FollowUp, events) if !events.is_empty() => {
            // The repeats of one alert inside its merge window.
            let e = &events[0];
            let first = events
                .iter()
                .map(|x| x.received_ms)
                .min()
                .unwrap_or(e.received_ms);
            let last = events
                .iter()
                .map(|x| x.received_ms)
                .max()
                .unwrap_or(e.received_ms);
            let n = events.len();
            doc.title = labels::follow_up_title(c.lang, level, &e.name, n);
            let line = labels::follow_up_line(
                c.lang,
                n,
                &local_time(first, &c.timezone),
                &local_time(last, &c.timezone),
                &asset(e),
            );
            doc.sections.push(Section {
                line: Some(line),
                fields: vec![],
                details: vec![],
                link: event_link(msg.public_url, e),
            });
        }
        (_, [e]) if msg.kind != MessageKind::Digest => {
            doc.title = if msg.kind == MessageKind::Resolved {
                format!("[{}] {}", labels::resolved_word(c.lang), e.name)
            } else {
                format!("[{}] {}", level_word(e.level, c.lang), e.name)
            };
            let mut fields = vec![
                (l.level.to_string(), level_word(e.level, c.lang).to_string()),
                (l.event.to_string(), e.name.clone()),
            ];
            if let Some(a) = alert_name(e) {
                fields.push((l.alert.to_string(), a));
            }
            fields.push((l.asset.to_string(), asset(e)));
            if let Some(ip) = ips(e) {
                fields.push((l.ip.to_string(), ip));
            }
            if let Some(r) = &e.region {
                fields.push((l.region.to_string(), r.clone()));
            }
            fields.push((l.time.to_string(), local_time(e.time_ms, &c.timezone)));
            if let Some(s) = &e.status {
                fields.push((l.status.to_string(), s.clone()));
            }
            doc.sections.push(Section {
                line: None,
                fields,
                details: details(e),
                link: event_link(msg.public_url, e),
            });
        }
        (_, events) => {
            let crit = events.iter().filter(|e| e.level == Level::Critical).count();
            doc.title = labels::digest_title(c.lang, level, events.len(), crit);
            if let Some(note) = msg.note {
                doc.sections.push(Section {
                    line: Some(note.to_string()),
                    fields: vec![],
                    details: vec![],
                    link: None,
                });
            }
            if events.len() > 1 {
                for line in summary(events, c.lang, &c.timezone) {
                    doc.sections.push(Section {
                        line: Some(line),
                        fields: vec![],
                        details: vec![],
                        link: None,
                    });
                }
            }
            // Critical first, then by time.
            let mut sorted: Vec<&Event> = events.iter().map(|e| e.as_ref()).collect();
            sorted.sort_by_key(|e| (std::cmp::Reverse(e.level), e.time_ms));
            for e in sorted {
                doc.sections.push(Section {
                    line: Some(digest_line(e, c.lang, &c.timezone)),
                    fields: vec![],
                    details: vec![],
                    link: event_link(msg.public_url, e),
                });
            }
        }
    }
    if let Some(note) = msg.note
        && msg.kind != MessageKind::Digest
    {
        doc.sections.insert(
            0,
            Section {
                line: Some(note.to_string()),
                fields: vec![],
                details: vec![],
                link: None,
            },
        );
    }
    // The subscription's (else the contact's) template replaces the body of
    // single alerts; when it fails, the built-in body stays and says why.
    if let Some(source) = msg.template.or(c.template.as_deref())
        && c.channel != crate::config::Channel::Webhook
        && crate::notify::template::applies(msg.kind, msg.events.len())
    {
        match crate::notify::template::render(source, msg) {
            Ok(text) => {
                doc.sections.clear();
                doc.body = Some(text);
            }
            Err(reason) => {
                tracing::warn!(contact = %c.name, %reason, "the contact's template failed; using the built-in message");
                doc.sections.push(Section {
                    line: Some(crate::notify::template::failure_line(&reason, c.lang)),
                    fields: vec![],
                    details: vec![],
                    link: None,
                });
            }
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Contact};

    fn event(id: &str, name: &str, level: Level, instance: &str, time_ms: i64) -> Arc<Event> {
        Arc::new(Event {
            id: id.into(),
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
            time_ms,
            received_ms: time_ms,
            content: serde_json::json!({}),
            format: crate::event::Format::Native,
            raw: serde_json::json!({}),
            state: crate::event::EventState::Firing,
            identity_key: None,
        })
    }

    fn contact() -> Contact {
        let yaml = "contacts:\n  - { name: c, channel: wecom, webhook: \"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k\", timezone: UTC }\n";
        let c: Config = crate::config::load_str(yaml, "t", &|_| None)
            .config
            .unwrap();
        c.contacts[0].clone()
    }

    #[test]
    fn digest_summary_period_levels_top_alerts_and_assets() {
        let c = contact();
        let events = [
            event(
                "1",
                "Incident:DDoS",
                Level::Warn,
                "web-1",
                1_764_381_600_000,
            ),
            event(
                "2",
                "Incident:BruteForce",
                Level::Critical,
                "web-2",
                1_764_381_660_000,
            ),
            event(
                "3",
                "Incident:DDoS",
                Level::Info,
                "web-1",
                1_764_385_200_000,
            ),
        ];
        let view = MessageView {
            id: "d",
            kind: MessageKind::Digest,
            contact: &c,
            subscriptions: &[],
            events: &events,
            public_url: None,
            note: None,
            template: None,
        };
        let doc = document(&view);
        assert_eq!(doc.title, "[CRITICAL] 3 alerts (1 critical)");
        let lines: Vec<&str> = doc
            .sections
            .iter()
            .filter_map(|s| s.line.as_deref())
            .collect();
        assert_eq!(
            lines[0],
            "Period: 2025-11-29 02:00:00 UTC to 2025-11-29 03:00:00 UTC"
        );
        assert_eq!(lines[1], "By level: critical 1 · warn 1 · info 1");
        assert_eq!(
            lines[2],
            "Top alerts: Incident:DDoS ×2, Incident:BruteForce ×1"
        );
        assert_eq!(lines[3], "Top assets: web-1 ×2, web-2 ×1");
        assert!(
            lines[4].starts_with("CRITICAL · Incident:BruteForce · web-2"),
            "{lines:?}"
        );
        assert_eq!(lines.len(), 7);
    }
}
