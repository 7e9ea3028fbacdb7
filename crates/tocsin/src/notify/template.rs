//! Rendering user message templates (minijinja) for a platform. A
//! contact's `template` replaces the body of its single-alert messages; the
//! title and footer stay Tocsin's. The sandbox, the variables and the
//! load-time check live in [`crate::template_check`] (a leaf `config` can
//! use); here every value the template prints goes through the platform's
//! escape, so a template can use markup but an event value can never add a
//! mention, a link or markup.

use super::MessageView;
use crate::config::{Channel, Lang};
use crate::domain::MessageKind;
use crate::template_check::{Vars, describe, sandbox, values};

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
        Channel::Discord => super::markup::discord,
        Channel::Teams => super::markup::teams,
        Channel::Telegram => super::markup::telegram,
        Channel::Webhook => str::to_string,
        // PagerDuty contacts take no template (refused at load).
        Channel::Pagerduty => super::markup::neutral,
    }
}

/// Whether a message of this kind uses the contact's template (single
/// alerts and their follow-ups; digests, tests and failure reports keep the
/// built-in rendering).
pub fn applies(kind: MessageKind, events: usize) -> bool {
    matches!(kind, MessageKind::Single | MessageKind::FollowUp) && events == 1
}

/// Renders the contact's template for a message, escaped for the platform.
pub fn render(source: &str, msg: &MessageView<'_>) -> Result<String, String> {
    let env = sandbox(escaper(msg.contact.channel));
    let vars = Vars {
        kind: msg.kind,
        contact: &msg.contact.name,
        lang: msg.contact.lang.as_str(),
        timezone: &msg.contact.timezone,
        subscriptions: msg.subscriptions,
        events: msg.events,
        public_url: msg.public_url,
    };
    env.render_str(source, values(&vars))
        .map(|s| s.trim_end().to_string())
        .map_err(|e| describe(&e, source))
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
    use super::super::render;
    use super::*;
    use crate::config::{Contact, Mentions};
    use crate::event::Event;
    use crate::template_check::sample_event;
    use serde_json::Value;
    use std::sync::Arc;

    fn contact(channel: Channel, template: &str) -> Contact {
        Contact {
            name: "c".into(),
            channel,
            webhook: "http://127.0.0.1:1/x".into(),
            chat_id: String::new(),
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
            lines: Default::default(),
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
            // Telegram: no tag, every `@` defanged.
            let out = render_for(Channel::Telegram, t, hostile()).unwrap();
            assert!(
                !out.contains('<') && !out.contains('>'),
                "telegram {t}: {out}"
            );
            assert_eq!(
                out.matches('@').count(),
                out.matches("@\u{200D}").count(),
                "telegram {t}: {out}"
            );
            // Discord: every markup character escaped, every `@` defanged.
            let out = render_for(Channel::Discord, t, hostile()).unwrap();
            let bare: Vec<char> = out.chars().collect();
            for (i, c) in bare.iter().enumerate() {
                if "<[]()`".contains(*c) {
                    let run = bare[..i].iter().rev().take_while(|b| **b == '\\').count();
                    assert!(run % 2 == 1, "discord {t}: {out}");
                }
            }
            assert_eq!(
                out.matches('@').count(),
                out.matches("@\u{200D}").count(),
                "discord {t}: {out}"
            );
            // Teams: no markup character of the card's markdown survives.
            // (The first template's own `**` stays.)
            let out = render_for(Channel::Teams, t, hostile()).unwrap();
            let values = out
                .strip_prefix("**")
                .and_then(|o| o.strip_suffix("**"))
                .unwrap_or(&out);
            assert!(
                !values.contains(['<', '>', '[', ']', '*', '_', '`', '&']),
                "teams {t}: {out}"
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
            Channel::Discord,
            Channel::Teams,
            Channel::Telegram,
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
            (Channel::Discord, 20_000),
            (Channel::Teams, 24_000),
            (Channel::Telegram, 20_000),
        ] {
            let mut c = contact(ch, t);
            c.keywords = vec!["告警".into()];
            let (_, body) = view_render(&c, sample_event());
            assert!(body.len() <= max, "{ch:?}: {}", body.len());
            let v: Value = serde_json::from_slice(&body).unwrap();
            let text = v.to_string();
            assert!(text.contains("the message was cut"), "{ch:?}: {text}");
            assert!(text.contains("告警"), "keyword kept: {ch:?}");
            if ch == Channel::Discord {
                let d = v["embeds"][0]["description"].as_str().unwrap();
                assert!(d.chars().count() <= 4096, "{}", d.chars().count());
            }
            if ch == Channel::Telegram {
                let t = v["text"].as_str().unwrap();
                assert!(
                    super::super::telegram::visible_len(t) <= 4096,
                    "{}",
                    super::super::telegram::visible_len(t)
                );
            }
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
