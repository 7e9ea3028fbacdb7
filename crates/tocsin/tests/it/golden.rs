//! Golden payloads: the exact request each platform gets for a fixed event,
//! message id and clock (hostile content included), compared byte for byte
//! with files in tests/golden. `UPDATE_GOLDEN=1 cargo test golden` rewrites
//! them after a deliberate change; review the diff.

use std::sync::Arc;
use tocsin::config::load_str;
use tocsin::event::Event;
use tocsin::ingest::{DecodeContext, decode};
use tocsin::notify::{MessageView, notifier_for};
use tocsin::store::MessageKind;

const NOW_MS: i64 = 1_764_381_600_000; // 2025-11-29T02:00:00Z

fn hostile() -> Arc<Event> {
    let body = r#"{"id":"golden-1","product":"Sas","event_type":"Suspicious",
        "name":"Suspicious:UnusualLogon <at user_id=\"all\">x</at> @all <@U1> <!channel> [ours](https://tocsin.example.com/x) **b**",
        "level":"critical","resource":"acs:ecs:cn-hangzhou:1:instance/i-bp1abc","instance":"web-01","region":"cn-hangzhou",
        "time":"2026-11-29T02:00:00Z",
        "content":{"alarmUniqueInfo":"u1","alarmEventName":"Unusual Logon","alarmEventType":"Suspicious","intranetIp":"10.0.0.5",
        "internetIp":"203.0.113.5","desc":"login from 203.0.113.5\n# not a heading","details":[{"name":"Command line","type":"text","value":"curl x | sh `id`"}]}}"#;
    let map = tocsin::config::default_severity_map();
    let ctx = DecodeContext {
        severity_map: &map,
        received_ms: NOW_MS,
    };
    Arc::new(
        decode(tocsin::event::Format::Native, body.as_bytes(), &ctx)
            .unwrap()
            .remove(0),
    )
}

/// The issue's examples (10, defect 7) and more: adjacent values that would
/// form a link, a multi-line name drawing a fake "RESOLVED" quote, bare URLs,
/// bidi controls, every mention syntax.
fn links() -> Arc<Event> {
    let body = r#"{"id":"golden-links","product":"Sas","event_type":"Suspicious","name":"[Resolved - click here]",
        "level":"critical","instance":"http://evil.example/login","region":"cn-hangzhou","time":"2026-11-29T02:00:00Z",
        "content":{"alarmUniqueInfo":"u2","alarmEventName":"Brute force\n> *RESOLVED* by ~admin~ `ok`\n&gt; all clear <!here> @channel",
        "desc":"Visit https://evil.example/reset or www.evil.example now \u202egpj.exe\u2066 \u200fend\u061c",
        "details":[{"name":"Link","value":"<https://evil.example|Click to resolve> <http://evil.example>"},
        {"name":"Mention","value":"<at id=all></at> <at user_id=\"all\">x</at> <@all> @all @13800000000 <!channel> <!subteam^S1>"},
        {"name":"Ref","value":"[1]: http://evil.example ![i](http://evil.example/p.png)"}]}}"#;
    let map = tocsin::config::default_severity_map();
    let ctx = DecodeContext {
        severity_map: &map,
        received_ms: NOW_MS,
    };
    Arc::new(
        decode(tocsin::event::Format::Native, body.as_bytes(), &ctx)
            .unwrap()
            .remove(0),
    )
}

/// A template that puts values next to each other and next to its own
/// markup, plus Tocsin's own link (which stays a link).
const TEMPLATE: &str = "{{ event.name }}({{ event.instance }})\n{{ event.content.alarmEventName }}\n{{ event.content.desc }}\n[Open]({{ link }})";

fn huge() -> Arc<Event> {
    let mut e = (*hostile()).clone();
    e.id = "golden-huge".into();
    e.content = serde_json::json!({"desc": "登录失败 ".repeat(3000), "details": (0..200).map(|i| serde_json::json!({"name": format!("field {i}"), "value": "x".repeat(300)})).collect::<Vec<_>>()});
    Arc::new(e)
}

const CONTACTS: &str = r#"
server:
  public_url: https://tocsin.example.com
contacts:
  - { name: webhook, channel: webhook, webhook: "https://siem.example.com/hook", secret: s3cret, headers: { X-Team: secops } }
  - { name: lark, channel: lark, webhook: "https://open.feishu.cn/open-apis/bot/v2/hook/h", secret: SEC000test, keywords: [alert], mentions: { users: [ou_1] } }
  - { name: wecom, channel: wecom, webhook: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", mentions: { users: [zhangsan] } }
  - { name: dingtalk, channel: dingtalk, webhook: "https://oapi.dingtalk.com/robot/send?access_token=t", secret: SEC000test, keywords: [alert], lang: zh, mentions: { mobiles: ["13800000000"] } }
  - { name: slack, channel: slack, webhook: "https://hooks.slack.com/services/T0/B0/X", mentions: { all: true } }
  - { name: discord, channel: discord, webhook: "https://discord.com/api/webhooks/123456789012345678/tok", mentions: { users: ["80351110224678912"] } }
  - { name: teams, channel: teams, webhook: "https://prod-01.westus.logic.azure.com:443/workflows/0f1e2d3c4b5a/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=golden-sig", mentions: { users: ["alice@contoso.com"] } }
  - { name: telegram, channel: telegram, bot_token: "123456789:AAHgolden", chat_id: -1001234567890, mentions: { users: ["42:Alice"] } }
  - { name: pagerduty, channel: pagerduty, routing_key: R0UT1NGKEYG0LDEN0000000000000001 }
"#;

fn check(name: &str, actual: &str) {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {path}: run with UPDATE_GOLDEN=1"));
    assert_eq!(actual, expected, "{name} differs from the golden file");
}

#[test]
fn every_platform_payload_is_exactly_the_golden_one() {
    let loaded = load_str(CONTACTS, "golden.yaml", &|_| None);
    let config = loaded
        .config
        .unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    for contact in &config.contacts {
        for (case, event, template) in [
            ("hostile", hostile(), None),
            ("huge", huge(), None),
            ("links", links(), None),
            ("template", links(), Some(TEMPLATE)),
        ] {
            if template.is_some()
                && matches!(
                    contact.channel,
                    tocsin::config::Channel::Webhook | tocsin::config::Channel::Pagerduty
                )
            {
                // Templates are for chat platforms; the webhook sends data.
                continue;
            }
            let events = [event];
            let subs = ["sec-feed".to_string()];
            let view = MessageView {
                id: "0193aaaa-bbbb-7ccc-8ddd-eeeeffff0000",
                kind: MessageKind::Single,
                contact,
                subscriptions: &subs,
                events: &events,
                public_url: config.server.public_url.as_deref(),
                note: None,
                template,
            };
            let notifier = notifier_for(contact.channel);
            let r = notifier.render(&view, NOW_MS).unwrap();
            let body = String::from_utf8(r.out.body.clone()).unwrap();
            // Never over the platform's size budget.
            // No bidi control reaches any platform raw (the webhook's JSON
            // carries them as \u escapes).
            assert!(
                !body.chars().any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')),
                "{} {case}: {body}",
                contact.name
            );
            let limit = notifier.limits().max_bytes;
            let measured = match contact.channel {
                tocsin::config::Channel::Wecom => {
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    v["markdown"]["content"]
                        .as_str()
                        .or(v["text"]["content"].as_str())
                        .unwrap()
                        .len()
                }
                // Discord counts the characters of the embed's texts.
                tocsin::config::Channel::Discord => {
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    discord_limits(&v, case);
                    discord_embed_chars(&v)
                }
                tocsin::config::Channel::Teams => {
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    teams_promises(&v, case);
                    body.len()
                }
                // Telegram counts the text after entity parsing, in UTF-16.
                tocsin::config::Channel::Telegram => {
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    telegram_checks(&v, case);
                    let pieces = tocsin_fakes::telegram::parse_html(v["text"].as_str().unwrap())
                        .unwrap_or_else(|e| panic!("{case}: {e}"));
                    tocsin_fakes::telegram::visible(&pieces)
                        .encode_utf16()
                        .count()
                }
                tocsin::config::Channel::Pagerduty => {
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    pagerduty_checks(&v, case);
                    body.len()
                }
                _ => body.len(),
            };
            assert!(
                measured <= limit,
                "{} {case}: {measured} > {limit}",
                contact.name
            );
            let mut golden = format!("POST {}\n", r.out.url);
            for (k, v) in &r.out.headers {
                golden.push_str(&format!("{k}: {v}\n"));
            }
            let pretty = serde_json::to_string_pretty(
                &serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            )
            .unwrap();
            golden.push('\n');
            golden.push_str(&pretty);
            golden.push('\n');
            check(&format!("{}-{case}.txt", contact.name), &golden);
        }
    }
}

/// Characters Discord counts against an embed's 6000: title, description,
/// field names and values, footer, author.
fn discord_embed_chars(v: &serde_json::Value) -> usize {
    let e = &v["embeds"][0];
    let c = |p: &str| {
        e.pointer(p)
            .and_then(|x| x.as_str())
            .map_or(0, |s| s.chars().count())
    };
    let fields: usize = e["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            f["name"].as_str().unwrap().chars().count()
                + f["value"].as_str().unwrap().chars().count()
        })
        .sum();
    c("/title") + c("/description") + c("/footer/text") + c("/author/name") + fields
}

/// Discord's per-part limits, and the promises every Discord body keeps:
/// nobody pings but the contact's user ids; no event `@` is left bare.
fn discord_limits(v: &serde_json::Value, case: &str) {
    let e = &v["embeds"][0];
    let c = |p: &str| {
        e.pointer(p)
            .and_then(|x| x.as_str())
            .map_or(0, |s| s.chars().count())
    };
    assert!(
        c("/title") <= 256 && c("/description") <= 4096 && c("/footer/text") <= 2048,
        "{case}: {v:#}"
    );
    let fields = e["fields"].as_array().map_or(0, Vec::len);
    assert!(fields <= 25, "{case}");
    for f in e["fields"].as_array().into_iter().flatten() {
        assert!(f["name"].as_str().unwrap().chars().count() <= 256, "{case}");
        assert!(
            f["value"].as_str().unwrap().chars().count() <= 1024,
            "{case}"
        );
    }
    assert!(v["content"].as_str().map_or(0, |s| s.chars().count()) <= 2000);
    assert_eq!(
        v["allowed_mentions"]["parse"],
        serde_json::json!([]),
        "{case}"
    );
    assert_eq!(
        v["allowed_mentions"]["users"],
        serde_json::json!(["80351110224678912"]),
        "{case}"
    );
    assert_eq!(v["content"], "<@80351110224678912>", "{case}");
    let texts = tocsin_fakes::discord::pings(v);
    assert_eq!(texts, ["80351110224678912"], "{case}");
    let all = v["embeds"].to_string();
    for bare in ["@everyone", "@here", "@all", "@channel", "<@U1>"] {
        assert!(!all.contains(bare), "{case}: {bare} in {all}");
    }
    // The only link a reader can click is Tocsin's own.
    let links = tocsin_fakes::reading::links(tocsin_fakes::Platform::Discord, v);
    assert!(
        links
            .iter()
            .all(|l| l.starts_with("https://tocsin.example.com/api/v1/events/golden-")),
        "{case}: {links:?}"
    );
    assert_eq!(
        tocsin_fakes::reading::mentions(tocsin_fakes::Platform::Discord, v),
        ["80351110224678912"],
        "{case}"
    );
}

/// What every Teams body keeps: the Workflows envelope with one Adaptive
/// Card the fake accepts, no link but ours, no mention but the contact's.
fn teams_promises(v: &serde_json::Value, case: &str) {
    assert_eq!(v["type"], "message", "{case}");
    let card = &v["attachments"][0]["content"];
    assert_eq!(card["version"], "1.4", "{case}");
    let texts = serde_json::to_string(&card["body"]).unwrap();
    assert_eq!(texts.matches("<at>").count(), 1, "{case}: {texts}");
    let links = tocsin_fakes::reading::links(tocsin_fakes::Platform::Teams, v);
    assert!(
        links
            .iter()
            .all(|l| l.starts_with("https://tocsin.example.com/")),
        "{case}: {links:?}"
    );
    assert_eq!(
        tocsin_fakes::reading::mentions(tocsin_fakes::Platform::Teams, v),
        ["alice@contoso.com"],
        "{case}"
    );
    assert!(
        serde_json::to_string(v).unwrap().len() <= tocsin_fakes::teams::MAX_BYTES,
        "{case}"
    );
}

/// The promises every Telegram body keeps: it parses as Telegram's HTML,
/// notifies nobody but the contact's user, links only to Tocsin.
fn telegram_checks(v: &serde_json::Value, case: &str) {
    assert_eq!(v["parse_mode"], "HTML", "{case}");
    assert_eq!(v["chat_id"], -1001234567890_i64, "{case}");
    assert_eq!(tocsin_fakes::telegram::notified(v), ["42"], "{case}: {v:#}");
    let links = tocsin_fakes::reading::links(tocsin_fakes::Platform::Telegram, v);
    assert!(
        links
            .iter()
            .all(|l| l.starts_with("https://tocsin.example.com/api/v1/events/golden-")),
        "{case}: {links:?}"
    );
}

/// What PagerDuty's event promises: a summary within 1024 characters, a
/// known severity, the only link Tocsin's own, no live URL or line break
/// from the event anywhere in the payload.
fn pagerduty_checks(v: &serde_json::Value, case: &str) {
    let p = &v["payload"];
    let summary = p["summary"].as_str().unwrap();
    assert!(summary.chars().count() <= 1024, "{case}");
    assert_eq!(p["severity"], "critical", "{case}");
    assert_eq!(v["event_action"], "trigger", "{case}");
    assert!(
        v["dedup_key"].as_str().unwrap().starts_with("tocsin-"),
        "{case}"
    );
    let links = tocsin_fakes::pagerduty::hrefs(v);
    assert!(
        links
            .iter()
            .all(|l| l.starts_with("https://tocsin.example.com")),
        "{case}: {links:?}"
    );
    let text = p.to_string();
    for bad in ["http://evil", "https://evil", "www.evil", "\\n"] {
        assert!(!text.contains(bad), "{case}: {bad} in {text}");
    }
}
