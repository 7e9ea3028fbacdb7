//! What the chat platforms receive for hostile or oversized events, as the
//! fakes saw it: the bot's keyword survives every cut (defect 1 of issue 10),
//! and no link, mention or fake line can be built from event content
//! (defect 7).

use crate::common::*;
use serde_json::Value;
use tocsin_fakes::{BotSettings, FakeBot};

/// A ~600-byte name whose only keyword sits past the title's 300-byte cut,
/// and a 30 KB description that forces every value to be shortened.
fn oversized(id: &str) -> String {
    let name = format!("Suspicious:{} alert", "x".repeat(585));
    assert!(name.len() > 590 && name.len() < 610);
    let desc = "登录失败 from 203.0.113.5 ".repeat(1200);
    assert!(desc.len() > 30_000);
    format!(
        r#"{{"id":"{id}","product":"Sas","event_type":"Suspicious","name":"{name}","level":"critical",
            "instance":"web-01","region":"cn-hangzhou","time":"2026-11-29T02:00:00Z",
            "content":{{"alarmUniqueInfo":"u-{id}","desc":"{desc}"}}}}"#
    )
}

async fn keyword_survives(channel: &str, bot: &FakeBot, settings: BotSettings, extra: &str) {
    bot.add_bot("kw", settings);
    let h = Harness::start(&platform_config(channel, &bot.url("kw"), extra)).await;
    let id = format!("kw-{channel}");
    let (s, v) = h.post("/api/v1/events", &oversized(&id)).await;
    assert_eq!(s, 202, "{v}");
    let ev = h.wait_status(&id, "bot", "delivered").await;
    let attempts = ev["deliveries"][0]["attempts"].as_array().unwrap().len();
    assert_eq!(attempts, 1, "{ev:#}");
    let got = bot.wait_for_accepted(1, WAIT).await;
    assert_eq!(got.len(), 1, "{:?}", bot.received());
    assert!(got[0].accepted(), "{}", got[0].answer);
    // The keyword is in what the group reads, not only in a link.
    let text = got[0].rendered_text();
    assert!(text.contains("· alert"), "{channel}: {text}");
    assert!(got[0].body.len() <= 20_000, "{}", got[0].body.len());
}

#[tokio::test]
async fn lark_keyword_survives_a_600_byte_name_and_a_30_kb_desc() {
    let bot = FakeBot::lark().await;
    let mut settings = BotSettings::with_secret("lark-signing-secret");
    settings.keywords = vec!["alert".into()];
    let extra = "    secret: lark-signing-secret\n    keywords: [alert]\n";
    keyword_survives("lark", &bot, settings, extra).await;
}

#[tokio::test]
async fn dingtalk_keyword_survives_a_600_byte_name_and_a_30_kb_desc() {
    let bot = FakeBot::dingtalk().await;
    let mut settings = BotSettings::with_secret("SECdingsecret");
    settings.keywords = vec!["alert".into()];
    let extra = "    secret: SECdingsecret\n    keywords: [alert]\n    lang: zh\n";
    keyword_survives("dingtalk", &bot, settings, extra).await;
}

/// The issue's examples (10, defect 7) and more: a name and an instance that
/// a template puts side by side as `[text](url)`, a multi-line alert name
/// drawing a fake "RESOLVED" quote, bare URLs, bidi controls, and every
/// platform's mention syntax.
fn hostile_links(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","product":"Sas","event_type":"Suspicious","name":"[Resolved - click here]","level":"critical",
            "instance":"http://evil.example/login","region":"cn-hangzhou","time":"2026-11-29T02:00:00Z",
            "content":{{"alarmUniqueInfo":"u-{id}","alarmEventName":"Brute force\n> *RESOLVED* by ~admin~\n&gt; all clear <!here> @channel @here",
            "desc":"Visit https://evil.example/reset or www.evil.example \u202egpj.exe\u2066 \u200fend",
            "details":[{{"name":"Link","value":"<https://evil.example|Click to resolve> <http://evil.example>"}},
            {{"name":"Mention","value":"<at id=all></at> <at user_id=\"all\">x</at> <@all> @all @13900000000 <!channel> <!subteam^S1>"}},
            {{"name":"Ref","value":"[1]: http://evil.example ![i](http://evil.example/p.png)"}}]}}}}"#
    )
}

const LINK_TEMPLATE: &str = "    template: |\n      {{ event.name }}({{ event.instance }})\n      {{ event.content.alarmEventName }}\n      {{ event.content.desc }}\n      [Open]({{ link }})\n";

/// Sends the hostile event to `channel`'s fake, with the built-in layout and
/// with a template, and checks what the platform would make of it.
async fn nothing_built_from_content(channel: &str, bot: &FakeBot, extra: &str, mentions: &[&str]) {
    for (n, (case, template)) in [("layout", ""), ("template", LINK_TEMPLATE)]
        .into_iter()
        .enumerate()
    {
        // A Discord webhook is `{id}/{token}`, the id a number.
        let token = match channel {
            "discord" => format!("112233445566778899/{channel}-{case}"),
            // A Teams flow is `{workflow id}/{sig}`.
            "teams" => format!("{channel}{case}/sig-{case}"),
            // A Telegram token is `{bot id}:{key}`.
            "telegram" => format!("{}:{channel}-{case}", 700 + n),
            _ => format!("{channel}-{case}"),
        };
        bot.add_bot(&token, BotSettings::default());
        let h = Harness::start(&platform_config(
            channel,
            &bot.url(&token),
            &format!("{extra}{template}"),
        ))
        .await;
        let id = format!("ln-{channel}-{case}");
        let (s, v) = h.post("/api/v1/events", &hostile_links(&id)).await;
        assert_eq!(s, 202, "{v}");
        h.wait_status(&id, "bot", "delivered").await;
        let got = bot.wait_for_accepted(n + 1, WAIT).await;
        let d = got
            .iter()
            .find(|d| {
                d.token == token
                    || d.path.contains(&token)
                    || d.query.as_deref().is_some_and(|q| q.contains(&token))
            })
            .unwrap_or_else(|| panic!("{channel} {case}: {:?}", bot.received()));
        let ours = format!("https://tocsin.example.com/api/v1/events/{id}");
        let links = d.links();
        assert!(
            links.iter().all(|l| *l == ours),
            "{channel} {case}: a link from content: {links:?}\n{}",
            String::from_utf8_lossy(&d.body)
        );
        if channel != "slack" {
            // Tocsin's own link (the button, or the template's) still works.
            assert_eq!(links, std::slice::from_ref(&ours), "{channel} {case}");
        }
        assert_eq!(d.mentions(), mentions, "{channel} {case}");
        let raw = String::from_utf8(d.body.clone()).unwrap();
        for bidi in ['\u{202E}', '\u{2066}', '\u{200F}'] {
            assert!(!raw.contains(bidi), "{channel} {case}: {bidi:?} in {raw}");
        }
        // No line of the message is drawn by content: "RESOLVED" never
        // starts a line or a quote.
        let text = d.rendered_text();
        for line in text.lines() {
            let start = line.trim_start_matches(['>', ' ', '-', '*', '•']);
            assert!(
                !start.starts_with("&gt;") && !start.starts_with("RESOLVED"),
                "{channel} {case}: {line:?} in\n{text}"
            );
        }
        assert!(!text.contains("\n> *RESOLVED*"), "{channel} {case}: {text}");
    }
}

#[tokio::test]
async fn wecom_gets_no_link_or_mention_built_from_content() {
    let bot = FakeBot::wecom().await;
    nothing_built_from_content(
        "wecom",
        &bot,
        "    mentions: { users: [zhangsan] }\n",
        &["zhangsan"],
    )
    .await;
}

#[tokio::test]
async fn dingtalk_gets_no_link_or_mention_built_from_content() {
    let bot = FakeBot::dingtalk().await;
    let extra = "    mentions: { mobiles: [\"13800000000\"] }\n";
    nothing_built_from_content("dingtalk", &bot, extra, &["13800000000"]).await;
}

#[tokio::test]
async fn lark_gets_no_link_or_mention_built_from_content() {
    let bot = FakeBot::lark().await;
    nothing_built_from_content(
        "lark",
        &bot,
        "    mentions: { users: [ou_admin] }\n",
        &["ou_admin"],
    )
    .await;
}

#[tokio::test]
async fn slack_gets_no_link_mention_or_fake_line_built_from_content() {
    let bot = FakeBot::slack().await;
    nothing_built_from_content("slack", &bot, "    mentions: { all: true }\n", &["channel"]).await;
    // Every mrkdwn object carrying event text is verbatim.
    for d in bot.received() {
        let body = d.json();
        let mut stack = vec![&body];
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(o) => {
                    if o.get("type") == Some(&Value::from("mrkdwn")) {
                        assert_eq!(o.get("verbatim"), Some(&Value::Bool(true)), "{v}");
                    }
                    stack.extend(o.values());
                }
                Value::Array(a) => stack.extend(a),
                _ => {}
            }
        }
    }
}

#[tokio::test]
async fn discord_gets_no_link_mention_or_fake_line_built_from_content() {
    let bot = FakeBot::discord().await;
    nothing_built_from_content(
        "discord",
        &bot,
        "    mentions: { users: [\"80351110224678912\"] }\n",
        &["80351110224678912"],
    )
    .await;
    // Nobody but the contact's user is pinged, and every body says so.
    for d in bot.received() {
        let body = d.json();
        assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
        assert_eq!(
            tocsin_fakes::discord::pings(&body),
            ["80351110224678912"],
            "{body:#}"
        );
    }
}

#[tokio::test]
async fn teams_gets_no_link_mention_or_fake_line_built_from_content() {
    let bot = FakeBot::teams().await;
    nothing_built_from_content(
        "teams",
        &bot,
        "    mentions: { users: [\"alice@contoso.com\"] }\n",
        &["alice@contoso.com"],
    )
    .await;
    // The only `<at>` is the contact's, and it is the only entity.
    for d in bot.received() {
        let body = d.json();
        let raw = body.to_string();
        assert_eq!(raw.matches("<at>").count(), 2, "{body:#}");
        assert_eq!(
            body["attachments"][0]["content"]["msteams"]["entities"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
    }
}

#[tokio::test]
async fn telegram_gets_no_link_mention_or_fake_line_built_from_content() {
    let bot = FakeBot::telegram().await;
    nothing_built_from_content(
        "telegram",
        &bot,
        "    mentions: { users: [\"42:Alice\"] }\n",
        &["42"],
    )
    .await;
    // Only Tocsin's own tags; no `@username` Telegram would link.
    for d in bot.received() {
        let body = d.json();
        assert!(d.accepted(), "{}", d.answer);
        assert_eq!(tocsin_fakes::telegram::notified(&body), ["42"], "{body:#}");
    }
}
