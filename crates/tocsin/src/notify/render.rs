//! What a chat message says, before any platform's markup: a [`Doc`] built
//! from the message's events in the contact's language and time zone. Each
//! platform turns a `Doc` into its own payload, escaping every value that
//! came from an event (see `markup`), and [`fit`] shrinks it to the
//! platform's byte budget.

use super::MessageView;
use crate::config::{Lang, Level};
use crate::domain::MessageKind;
use crate::event::Event;
use serde_json::Value;
use std::sync::Arc;

/// A platform-neutral message.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc {
    /// Always kept whole (bar a hard cap), so a cut message still says what it is.
    pub title: String,
    pub level: Level,
    /// Single messages: one section with fields. Digests: one line per event.
    pub sections: Vec<Section>,
    /// Events left out to fit the size budget.
    pub omitted: usize,
    /// Something was shortened to fit (values, details).
    pub shortened: bool,
    pub footer: String,
    /// The bot's keyword, shown verbatim after the footer when the footer's
    /// fixed words lack one. Never cut or escaped: the platform searches the
    /// final text for it (Lark 19024, DingTalk 310000 otherwise).
    pub keyword: Option<String>,
    /// The contact's template, rendered and escaped for the platform: it
    /// replaces the sections (there are none then).
    pub body: Option<String>,
    /// Labels in the contact's language.
    pub lang: Lang,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    /// A compact one-line summary (digests), or None for a single alert.
    pub line: Option<String>,
    pub fields: Vec<(String, String)>,
    pub details: Vec<(String, String)>,
    /// A link to the event in Tocsin (when `server.public_url` is set).
    pub link: Option<String>,
}

pub struct Labels {
    pub level: &'static str,
    pub event: &'static str,
    pub alert: &'static str,
    pub asset: &'static str,
    pub ip: &'static str,
    pub region: &'static str,
    pub time: &'static str,
    pub subscription: &'static str,
    pub details: &'static str,
    pub view: &'static str,
    pub status: &'static str,
}

pub fn labels(lang: Lang) -> &'static Labels {
    const EN: Labels = Labels {
        level: "Level",
        event: "Event",
        alert: "Alert",
        asset: "Asset",
        ip: "IP",
        region: "Region",
        time: "Time",
        subscription: "Subscription",
        details: "Details",
        view: "View in Tocsin",
        status: "Status",
    };
    const ZH: Labels = Labels {
        level: "级别",
        event: "事件",
        alert: "告警",
        asset: "资产",
        ip: "IP",
        region: "地域",
        time: "时间",
        subscription: "订阅",
        details: "详情",
        view: "在 Tocsin 中查看",
        status: "状态",
    };
    match lang {
        Lang::En => &EN,
        Lang::Zh => &ZH,
    }
}

pub fn level_word(level: Level, lang: Lang) -> &'static str {
    match (lang, level) {
        (Lang::En, Level::Critical) => "CRITICAL",
        (Lang::En, Level::Warn) => "WARN",
        (Lang::En, Level::Info) => "INFO",
        (Lang::Zh, Level::Critical) => "严重",
        (Lang::Zh, Level::Warn) => "警告",
        (Lang::Zh, Level::Info) => "提示",
    }
}

/// The event's time in the contact's time zone.
pub fn local_time(ms: i64, timezone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.to_zoned(tz).strftime("%Y-%m-%d %H:%M:%S %Z").to_string(),
        Err(_) => crate::timefmt::rfc3339(ms),
    }
}

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

pub fn event_link(public_url: Option<&str>, e: &Event) -> Option<String> {
    public_url.map(|u| {
        let id: String = url::form_urlencoded::byte_serialize(e.id.as_bytes()).collect();
        format!("{}/api/v1/events/{id}", u.trim_end_matches('/'))
    })
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
    match lang {
        Lang::En => vec![
            format!("Period: {from} to {to}"),
            format!("By level: critical {c} · warn {w} · info {i}"),
            format!("Top alerts: {names}"),
            format!("Top assets: {assets}"),
        ],
        Lang::Zh => vec![
            format!("时段：{from} 至 {to}"),
            format!("按级别：严重 {c} · 警告 {w} · 提示 {i}"),
            format!("最多的告警：{names}"),
            format!("最多的资产：{assets}"),
        ],
    }
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
    let mut footer = match c.lang {
        Lang::En => "Tocsin".to_string(),
        Lang::Zh => "Tocsin 告警路由".to_string(),
    };
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
    };
    match (msg.kind, msg.events) {
        (MessageKind::Test, _) => {
            doc.title = match c.lang {
                Lang::En => "Tocsin test message".into(),
                Lang::Zh => "Tocsin 测试消息".into(),
            };
            doc.sections.push(Section {
                line: Some(match c.lang {
                    Lang::En => format!("If you can read this, contact {} works.", c.name),
                    Lang::Zh => format!("看到这条消息说明联系人 {} 配置正确。", c.name),
                }),
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
            doc.title = match c.lang {
                Lang::En => format!(
                    "[{}] {} — repeated {n} more times",
                    level_word(level, c.lang),
                    e.name
                ),
                Lang::Zh => format!(
                    "[{}] {} — 又重复了 {n} 次",
                    level_word(level, c.lang),
                    e.name
                ),
            };
            let line = match c.lang {
                Lang::En => format!(
                    "repeated {n} more times between {} and {} on {}",
                    local_time(first, &c.timezone),
                    local_time(last, &c.timezone),
                    asset(e)
                ),
                Lang::Zh => format!(
                    "在 {} 至 {} 之间于 {} 又重复了 {n} 次",
                    local_time(first, &c.timezone),
                    local_time(last, &c.timezone),
                    asset(e)
                ),
            };
            doc.sections.push(Section {
                line: Some(line),
                fields: vec![],
                details: vec![],
                link: event_link(msg.public_url, e),
            });
        }
        (_, [e]) if msg.kind != MessageKind::Digest => {
            doc.title = format!("[{}] {}", level_word(e.level, c.lang), e.name);
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
            doc.title = match c.lang {
                Lang::En => format!(
                    "[{}] {} alerts ({crit} critical)",
                    level_word(level, c.lang),
                    events.len()
                ),
                Lang::Zh => format!(
                    "[{}] {} 条告警（{crit} 条严重）",
                    level_word(level, c.lang),
                    events.len()
                ),
            };
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
        && super::template::applies(msg.kind, msg.events.len())
    {
        match super::template::render(source, msg) {
            Ok(text) => {
                doc.sections.clear();
                doc.body = Some(text);
            }
            Err(reason) => {
                tracing::warn!(contact = %c.name, %reason, "the contact's template failed; using the built-in message");
                doc.sections.push(Section {
                    line: Some(super::template::failure_line(&reason, c.lang)),
                    fields: vec![],
                    details: vec![],
                    link: None,
                });
            }
        }
    }
    doc
}

/// Cuts `s` to at most `max` bytes at a character boundary, marking the cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The note added when something was cut to fit.
pub fn cut_note(doc: &Doc) -> Option<String> {
    match (doc.omitted, doc.shortened, doc.lang) {
        (0, false, _) => None,
        (0, true, Lang::En) if doc.body.is_some() => {
            Some("(the message was cut to fit the platform's size limit)".into())
        }
        (0, true, Lang::Zh) if doc.body.is_some() => Some("（消息因平台长度限制被截断）".into()),
        (0, true, Lang::En) => {
            Some("(some values were shortened to fit the platform's size limit)".into())
        }
        (0, true, Lang::Zh) => Some("（部分内容因平台长度限制被截断）".into()),
        (n, _, Lang::En) => Some(format!(
            "… and {n} more not shown (size limit); see the Tocsin history"
        )),
        (n, _, Lang::Zh) => Some(format!(
            "…… 另有 {n} 条未显示（长度限制），请在 Tocsin 历史中查看"
        )),
    }
}

/// The footer as shown: `escape`d, then the keyword verbatim.
pub fn footer(doc: &Doc, escape: impl Fn(&str) -> String) -> String {
    let mut out = escape(&doc.footer);
    if let Some(k) = &doc.keyword {
        out.push_str(" · ");
        out.push_str(k);
    }
    out
}

/// The strings of a rendered payload a platform's keyword rule reads:
/// every text value except links and structural tags.
pub fn texts(v: &Value) -> Vec<&str> {
    fn walk<'a>(v: &'a Value, key: &str, out: &mut Vec<&'a str>) {
        match v {
            Value::String(s) => {
                let k = key.to_ascii_lowercase();
                if !(k.ends_with("url") || k == "href" || k == "tag" || k == "template") {
                    out.push(s);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, key, out)),
            Value::Object(o) => o.iter().for_each(|(k, x)| walk(x, k, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out
}

/// The last check before sending to a bot with keywords: one of them is in
/// the final, cut, escaped text the platform searches.
pub fn check_keywords(keywords: &[String], texts: &[&str]) -> Result<(), super::RenderError> {
    if keywords.is_empty()
        || texts
            .iter()
            .any(|t| keywords.iter().any(|k| t.contains(k.as_str())))
    {
        return Ok(());
    }
    Err(super::RenderError(format!(
        "none of the contact's keywords ({}) is left in the rendered message",
        keywords.join(", ")
    )))
}

/// Shrinks `doc` until `size(doc) <= budget`: fewer details, shorter values,
/// then fewer digest lines (counted in `omitted`). The title is kept.
pub fn fit(mut doc: Doc, budget: usize, size: impl Fn(&Doc) -> usize) -> Doc {
    doc.title = cut(&doc.title, 300);
    if size(&doc) <= budget {
        return doc;
    }
    // A template's output: the longest cut (at a character boundary) that
    // fits, found by bisection.
    if let Some(body) = doc.body.clone() {
        // Measured with the note that says it was cut.
        let was_shortened = doc.shortened;
        doc.shortened = true;
        let (mut lo, mut hi) = (0, body.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            doc.body = Some(cut(&body, mid));
            if size(&doc) <= budget {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        doc.body = Some(cut(&body, lo));
        doc.shortened = was_shortened || lo < body.len();
        if size(&doc) <= budget {
            return doc;
        }
    }
    for s in &mut doc.sections {
        if s.details.len() > 4 {
            s.details.truncate(4);
            doc.shortened = true;
        }
    }
    for max in [512, 200, 80] {
        if size(&doc) <= budget {
            return doc;
        }
        for s in &mut doc.sections {
            for (_, v) in s.fields.iter_mut().chain(s.details.iter_mut()) {
                if v.len() > max {
                    *v = cut(v, max);
                    doc.shortened = true;
                }
            }
            if let Some(line) = &mut s.line
                && line.len() > max
            {
                *line = cut(line, max);
                doc.shortened = true;
            }
        }
    }
    // Drop whole digest lines from the end, then details of a single alert.
    while size(&doc) > budget && doc.sections.len() > 1 {
        doc.sections.pop();
        doc.omitted += 1;
    }
    while size(&doc) > budget {
        let Some(s) = doc.sections.first_mut() else {
            break;
        };
        if s.details.pop().is_some() || s.fields.pop().is_some() {
            doc.shortened = true;
            continue;
        }
        doc.sections.clear();
        doc.shortened = true;
        break;
    }
    if size(&doc) > budget {
        doc.title = cut(&doc.title, 80);
        // The fixed words come first; the keyword is kept apart, uncut.
        doc.footer = cut(&doc.footer, 80);
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

    #[test]
    fn cuts_keep_utf8() {
        assert_eq!(cut("登录失败", 7), "登…");
        let s = "é".repeat(100);
        for max in 0..60 {
            assert!(cut(&s, max).len() <= max.max(3));
        }
    }
}
