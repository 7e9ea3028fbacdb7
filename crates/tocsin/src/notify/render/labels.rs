//! The words of Tocsin's built-in messages, in each contact language.

use super::Doc;
use crate::config::{Lang, Level};

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

/// The title prefix of a resolve.
pub fn resolved_word(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "RESOLVED",
        Lang::Zh => "已恢复",
    }
}

/// The footer's fixed words (a bot keyword found here needs no addition).
pub fn brand(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Tocsin",
        Lang::Zh => "Tocsin 告警路由",
    }
}

/// The title of a test message.
pub fn test_title(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Tocsin test message",
        Lang::Zh => "Tocsin 测试消息",
    }
}

/// The line of a test message.
pub fn test_line(lang: Lang, contact: &str) -> String {
    match lang {
        Lang::En => format!("If you can read this, contact {contact} works."),
        Lang::Zh => format!("看到这条消息说明联系人 {contact} 配置正确。"),
    }
}

/// The title of a follow-up: `n` more repeats of alert `name`.
pub fn follow_up_title(lang: Lang, level: Level, name: &str, n: usize) -> String {
    match lang {
        Lang::En => format!(
            "[{}] {name} — repeated {n} more times",
            level_word(level, lang)
        ),
        Lang::Zh => format!("[{}] {name} — 又重复了 {n} 次", level_word(level, lang)),
    }
}

/// The line of a follow-up: when and where the repeats happened.
pub fn follow_up_line(lang: Lang, n: usize, first: &str, last: &str, asset: &str) -> String {
    match lang {
        Lang::En => format!("repeated {n} more times between {first} and {last} on {asset}"),
        Lang::Zh => format!("在 {first} 至 {last} 之间于 {asset} 又重复了 {n} 次"),
    }
}

/// The title of a digest of `n` alerts, `crit` of them critical.
pub fn digest_title(lang: Lang, level: Level, n: usize, crit: usize) -> String {
    match lang {
        Lang::En => format!("[{}] {n} alerts ({crit} critical)", level_word(level, lang)),
        Lang::Zh => format!("[{}] {n} 条告警（{crit} 条严重）", level_word(level, lang)),
    }
}

/// A digest's summary lines: period, counts by level (critical, warn,
/// info), the most frequent alerts and assets.
pub fn summary_lines(
    lang: Lang,
    (from, to): (&str, &str),
    (c, w, i): (usize, usize, usize),
    names: &str,
    assets: &str,
) -> Vec<String> {
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
