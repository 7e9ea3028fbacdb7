//! Each chat platform end to end against its faithful fake: the payload as
//! the fake received it, signatures, keywords, hostile content, error codes,
//! rate limits without loss, on-failure reports and test-contact.

use crate::common::*;
use serde_json::{Value, json};
use std::time::Duration;
use tocsin_fakes::{BotSettings, FakeBot, ScriptedAnswer};

const HOSTILE_NAME: &str = r#"Suspicious:<at user_id=\"all\">x</at> @all <@U999> <!channel> [ours](https://tocsin.example.com/fake) **b**"#;

fn hostile_event(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","product":"Sas","event_type":"Suspicious","name":"{HOSTILE_NAME}","level":"critical",
            "instance":"web-<at id=all></at>","region":"cn-hangzhou","time":"2026-11-29T02:00:00Z",
            "content":{{"alarmEventName":"Unusual Logon","alarmEventType":"Suspicious","intranetIp":"10.0.0.5",
            "desc":"\"}}]}} <@all> \n# heading\n> quote","details":[{{"name":"Command line","type":"text","value":"curl x | sh"}}]}}}}"#
    )
}

async fn deliver_one(
    h: &Harness,
    bot: &FakeBot,
    id: &str,
    body: &str,
) -> (Value, tocsin_fakes::Delivery) {
    let (s, v) = h.post("/api/v1/events", body).await;
    assert_eq!(s, 202, "{v}");
    let ev = h.wait_status(id, "bot", "delivered").await;
    let got = bot.wait_for_accepted(1, WAIT).await;
    assert_eq!(got.len(), 1, "{:?}", bot.received());
    (ev, got[0].clone())
}

#[tokio::test]
async fn lark_card_signed_with_keywords_and_hostile_content_escaped() {
    let bot = FakeBot::lark().await;
    let mut settings = BotSettings::with_secret("lark-signing-secret");
    settings.keywords = vec!["alert".into(), "Security Center".into()];
    bot.add_bot("hook-1", settings);
    let extra = "    secret: lark-signing-secret\n    keywords: [alert, Security Center]\n    mentions: { users: [ou_admin], levels: [critical] }\n";
    let h = Harness::start(&platform_config("lark", &bot.url("hook-1"), extra)).await;
    let (ev, d) = deliver_one(&h, &bot, "lk-1", &hostile_event("lk-1")).await;
    assert!(d.accepted());
    assert_eq!(d.code, Some(0));
    let body = d.json();
    assert_eq!(body["msg_type"], "interactive");
    assert_eq!(body["card"]["header"]["template"], "red");
    let title = body["card"]["header"]["title"]["content"].as_str().unwrap();
    assert!(title.starts_with("[CRITICAL] Suspicious:"), "{title}");
    // Signed: the fake verified it; check the fields are there.
    assert!(body["timestamp"].is_string() && body["sign"].is_string());
    // Every event value sits in plain_text; the only lark_md is our mention.
    let mds: Vec<&Value> = find_tagged(&body["card"], "lark_md");
    assert_eq!(mds.len(), 1, "{body:#}");
    assert_eq!(mds[0]["content"], "<at id=ou_admin></at>");
    let text = d.rendered_text();
    assert!(text.contains("Unusual Logon (Suspicious)"), "{text}");
    assert!(
        text.contains("web-<at id=all></at>"),
        "shown verbatim as plain text: {text}"
    );
    assert!(
        text.contains("2026-11-29 10:00:00 CST"),
        "Asia/Shanghai time: {text}"
    );
    assert!(
        text.contains("sec-feed · alert"),
        "keyword added to the footer: {text}"
    );
    // The link to the event is ours, built from public_url.
    let urls = find_key(&body, "url");
    assert_eq!(
        urls,
        [json!("https://tocsin.example.com/api/v1/events/lk-1")]
    );
    assert_eq!(ev["deliveries"][0]["attempts"][0]["platform_code"], "0");
}

#[tokio::test]
async fn lark_wrong_secret_and_missing_keyword_fail_at_once_with_the_reason() {
    let bot = FakeBot::lark().await;
    bot.add_bot("signed", BotSettings::with_secret("right"));
    bot.add_bot("kw", BotSettings::with_keywords(&["magic-word"]));
    let h = Harness::start(&platform_config(
        "lark",
        &bot.url("signed"),
        "    secret: wrong\n",
    ))
    .await;
    h.post("/api/v1/events", &native("lk-2", "Suspicious:X", "warn"))
        .await;
    let ev = h.wait_status("lk-2", "bot", "failed").await;
    let a = &ev["deliveries"][0]["attempts"];
    assert_eq!(
        a.as_array().unwrap().len(),
        1,
        "a signature refusal is not retried"
    );
    assert_eq!(a[0]["platform_code"], "19021");
    assert_eq!(a[0]["http_status"], 200);
    assert!(a[0]["reason"].as_str().unwrap().contains("secret"), "{a}");

    let h = Harness::start(&platform_config(
        "lark",
        &bot.url("kw"),
        "    keywords: [alert]\n",
    ))
    .await;
    h.post("/api/v1/events", &native("lk-3", "Suspicious:X", "warn"))
        .await;
    let ev = h.wait_status("lk-3", "bot", "failed").await;
    let a = &ev["deliveries"][0]["attempts"][0];
    assert_eq!(a["platform_code"], "19024");
    assert!(a["reason"].as_str().unwrap().contains("keywords"), "{a}");
}

#[tokio::test]
async fn dingtalk_markdown_signed_in_the_query_with_mentions_from_config_only() {
    let bot = FakeBot::dingtalk().await;
    let mut settings = BotSettings::with_secret("SECdingsecret");
    settings.keywords = vec!["alert".into()];
    bot.add_bot("tok", settings);
    let extra = "    secret: SECdingsecret\n    keywords: [alert]\n    mentions: { mobiles: [\"13800000000\"] }\n    lang: zh\n";
    let h = Harness::start(&platform_config("dingtalk", &bot.url("tok"), extra)).await;
    let (_, d) = deliver_one(&h, &bot, "dt-1", &hostile_event("dt-1")).await;
    let q = d.query.clone().unwrap();
    assert!(q.contains("timestamp=") && q.contains("&sign="), "{q}");
    let body = d.json();
    assert_eq!(body["msgtype"], "markdown");
    assert_eq!(
        body["at"],
        json!({"atMobiles": ["13800000000"], "atUserIds": [], "isAtAll": false})
    );
    let text = body["markdown"]["text"].as_str().unwrap();
    assert!(text.contains("@13800000000"));
    // Hostile content cannot mention or link: no raw @, <, [ from the event.
    assert!(
        !text.contains("@all")
            && !text.contains("<@")
            && !text.contains("](https://tocsin.example.com/fake"),
        "{text}"
    );
    assert!(text.contains("级别"), "zh labels: {text}");
    assert!(text.contains("alert"), "keyword present: {text}");
}

#[tokio::test]
async fn wecom_markdown_within_4096_bytes_and_hostile_content() {
    let bot = FakeBot::wecom().await;
    bot.add_bot("key-1", BotSettings::default());
    let h = Harness::start(&platform_config(
        "wecom",
        &bot.url("key-1"),
        "    mentions: { users: [zhangsan] }\n",
    ))
    .await;
    // A huge event: the message is cut at the byte budget, keeping the title.
    let big = format!(
        r#"{{"id":"wc-1","product":"Sas","event_type":"Incident","name":"Incident:BruteForce","level":"warn",
            "content":{{"desc":"{}","details":[{{"name":"Command line","value":"{}"}}]}}}}"#,
        "登录失败".repeat(800),
        "<@all> ".repeat(400)
    );
    let (_, d) = deliver_one(&h, &bot, "wc-1", &big).await;
    let content = d.json()["markdown"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(content.len() <= 4096, "{}", content.len());
    assert!(
        content.starts_with("## <font color=\"comment\">[WARN] Incident:BruteForce</font>"),
        "{content}"
    );
    assert!(content.contains("<@zhangsan>"));
    assert_eq!(
        content.matches("<@").count(),
        1,
        "only the configured mention: {content}"
    );
    assert!(
        content.contains("shortened"),
        "says what was cut: {content}"
    );
}

#[tokio::test]
async fn slack_blocks_with_fallback_and_escaping() {
    let bot = FakeBot::slack().await;
    bot.add_bot("T000/B000/XXXX", BotSettings::default());
    let h = Harness::start(&platform_config(
        "slack",
        &bot.url("T000/B000/XXXX"),
        "    mentions: { all: true }\n",
    ))
    .await;
    let (_, d) = deliver_one(&h, &bot, "sl-1", &hostile_event("sl-1")).await;
    assert_eq!(d.http_status, 200);
    let body = d.json();
    assert!(body["text"].as_str().unwrap().contains("&lt;＠U999&gt;"));
    // mrkdwn is where Slack parses mentions and links (header is plain_text).
    let mrkdwn: Vec<String> = find_typed(&body["blocks"], "mrkdwn")
        .into_iter()
        .map(|t| t["text"].as_str().unwrap().to_string())
        .collect();
    assert!(mrkdwn.len() > 5);
    let all = mrkdwn.join("\n");
    assert_eq!(
        all.matches("<!channel>").count(),
        1,
        "only our own mention: {all}"
    );
    assert!(
        !all.contains("<@U999>") && all.contains("&lt;＠U999&gt;"),
        "{all}"
    );
    assert_eq!(body["blocks"][0]["type"], "header");
}

#[tokio::test]
async fn a_burst_of_45_to_a_20_a_minute_bot_arrives_in_full_without_a_rate_limit_answer() {
    for platform in ["wecom", "dingtalk"] {
        let bot = if platform == "wecom" {
            FakeBot::wecom().await
        } else {
            FakeBot::dingtalk().await
        };
        bot.add_bot("burst", BotSettings::default());
        let h = Harness::start(&platform_config(platform, &bot.url("burst"), "")).await;
        let batch: Vec<Value> = (0..45)
            .map(|i| {
                json!({"id": format!("b-{i}"), "product": "Sas", "event_type": "Incident",
                       "name": format!("Incident:Burst{i:02}"), "level": if i % 3 == 0 { "critical" } else { "warn" },
                       "instance": format!("host-{i}")})
            })
            .collect();
        let (s, _) = h.post("/api/v1/events", &json!(batch).to_string()).await;
        assert_eq!(s, 202);
        for i in 0..45 {
            h.wait_status(&format!("b-{i}"), "bot", "delivered").await;
        }
        let received = bot.received();
        assert!(
            received.iter().all(|d| d.accepted()),
            "{platform}: a rate-limit answer: {received:?}"
        );
        assert!(
            received.len() <= 18,
            "{platform}: {} messages",
            received.len()
        );
        let text: String = received.iter().map(|d| d.rendered_text()).collect();
        for i in 0..45 {
            assert!(
                text.contains(&format!("Incident:Burst{i:02}")),
                "{platform}: Burst{i:02} missing"
            );
            assert!(
                text.contains(&format!("host-{i}")),
                "{platform}: host-{i} missing"
            );
        }
        // Critical first.
        let first = text.find("Incident:Burst00").unwrap();
        assert!(first < text.find("Incident:Burst01").unwrap(), "{platform}");
        let ev = h.event("b-7").await;
        assert_eq!(ev["deliveries"][0]["message_kind"], "digest");
    }
}

#[tokio::test]
async fn a_platform_rate_limit_answer_backs_off_that_bot_and_retries() {
    let bot = FakeBot::wecom().await;
    bot.add_bot("rl", BotSettings::default());
    bot.script("rl", [ScriptedAnswer::RateLimited]);
    let h = Harness::start(&platform_config("wecom", &bot.url("rl"), "")).await;
    h.post("/api/v1/events", &native("rl-1", "Incident:X", "critical"))
        .await;
    // The first answer is 45009: the attempt says so and the message waits.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = h.event("rl-1").await;
        if let Some(a) = ev["deliveries"][0]["attempts"]
            .as_array()
            .and_then(|a| a.first())
        {
            assert_eq!(a["platform_code"], "45009");
            assert_eq!(a["outcome"], "retry");
            assert!(a["reason"].as_str().unwrap().contains("rate limiting"));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(h.event("rl-1").await["deliveries"][0]["status"], "pending");
}

#[tokio::test]
async fn a_broken_bot_is_reported_through_on_failure_never_through_itself() {
    let bot = FakeBot::lark().await; // no bot registered: every token is unknown (19001)
    let rx = WebhookReceiver::start().await;
    let yaml = format!(
        r#"
delivery:
  allow_private_networks: true
  on_failure: ops
contacts:
  - {{ name: bot, channel: lark, webhook: "{}" }}
  - {{ name: ops-hook, channel: webhook, webhook: "{}" }}
contact_groups:
  - {{ name: team, contacts: [bot] }}
  - {{ name: ops, contacts: [ops-hook, bot] }}
notification_policies:
  - {{ name: policy, contact_groups: [team] }}
subscriptions:
  - {{ name: all, notification_policy: policy }}
"#,
        bot.url("gone"),
        rx.url("/ops")
    );
    let h = Harness::start(&yaml).await;
    h.post("/api/v1/events", &native("of-1", "Incident:X", "critical"))
        .await;
    let ev = h.wait_status("of-1", "bot", "failed").await;
    assert_eq!(ev["deliveries"][0]["attempts"][0]["platform_code"], "19001");
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    let report = got[0].json();
    assert_eq!(report["kind"], "failure_report");
    assert!(
        report["note"].as_str().unwrap().contains("contact bot"),
        "{report}"
    );
    assert!(
        report["note"].as_str().unwrap().contains("19001"),
        "{report}"
    );
    assert_eq!(report["events"][0]["id"], "of-1");
    // The report ended and nothing else is pending: nothing more will come.
    idle(&h).await;
    // Exactly one try at the broken bot: the report did not go through it.
    assert_eq!(bot.received().len(), 1);
    assert_eq!(rx.received().len(), 1);
}

#[tokio::test]
async fn test_contact_reports_the_platforms_verdict() {
    let bot = FakeBot::dingtalk().await;
    bot.add_bot("good", BotSettings::with_keywords(&["alert"]));
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("t.yaml");
    let yaml = format!(
        "delivery:\n  allow_private_networks: true\ncontacts:\n  - {{ name: good, channel: dingtalk, webhook: \"{}\", keywords: [alert] }}\n  - {{ name: bad, channel: dingtalk, webhook: \"{}\" }}\n",
        bot.url("good"),
        bot.url("missing")
    );
    std::fs::write(&cfg, &yaml).unwrap();
    let exe = env!("CARGO_BIN_EXE_tocsin");
    let out = tokio::process::Command::new(exe)
        .args(["test-contact", "--config"])
        .arg(&cfg)
        .arg("good")
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
    let sent = bot.accepted();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].rendered_text().contains("alert"));
    let out = tokio::process::Command::new(exe)
        .args(["test-contact", "--config"])
        .arg(&cfg)
        .arg("bad")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("code 300005") && text.contains("access token"),
        "{text}"
    );

    // And over the API.
    let h = Harness::start(&yaml).await;
    let (s, v) = h.post("/api/v1/contacts/good/test", "").await;
    assert_eq!(s, 200);
    assert_eq!(v["ok"], true);
    assert_eq!(v["platform_code"], "0");
    let (_, v) = h.post("/api/v1/contacts/bad/test", "").await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["platform_code"], "300005");
    assert_eq!(h.post("/api/v1/contacts/nobody/test", "").await.0, 404);
}

fn find_tagged<'a>(v: &'a Value, tag: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    match v {
        Value::Object(m) => {
            if m.get("tag").and_then(Value::as_str) == Some(tag) {
                out.push(v);
            }
            for x in m.values() {
                out.extend(find_tagged(x, tag));
            }
        }
        Value::Array(a) => a.iter().for_each(|x| out.extend(find_tagged(x, tag))),
        _ => {}
    }
    out
}

fn find_key(v: &Value, key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == key {
                    out.push(x.clone());
                }
                out.extend(find_key(x, key));
            }
        }
        Value::Array(a) => a.iter().for_each(|x| out.extend(find_key(x, key))),
        _ => {}
    }
    out
}

fn find_typed<'a>(v: &'a Value, ty: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    match v {
        Value::Object(m) => {
            if m.get("type").and_then(Value::as_str) == Some(ty) {
                out.push(v);
            }
            for x in m.values() {
                out.extend(find_typed(x, ty));
            }
        }
        Value::Array(a) => a.iter().for_each(|x| out.extend(find_typed(x, ty))),
        _ => {}
    }
    out
}

#[tokio::test]
async fn dingtalk_wrong_secret_is_refused_with_310000() {
    let bot = FakeBot::dingtalk().await;
    bot.add_bot("tok", BotSettings::with_secret("SECright"));
    let h = Harness::start(&platform_config(
        "dingtalk",
        &bot.url("tok"),
        "    secret: SECwrong\n",
    ))
    .await;
    h.post(
        "/api/v1/events",
        &native("dt-bad", "Incident:X", "critical"),
    )
    .await;
    let ev = h.wait_status("dt-bad", "bot", "failed").await;
    let a = &ev["deliveries"][0]["attempts"][0];
    assert_eq!(a["platform_code"], "310000");
    assert_eq!(a["http_status"], 200);
    assert!(a["reason"].as_str().unwrap().contains("secret"), "{a}");
    assert_eq!(bot.received()[0].code, Some(310000));
    assert!(bot.accepted().is_empty());
}

/// DingTalk's x5 throttle (`{"status":1111,"wait":5,...}`, no errcode)
/// blocks the robot for about 10 minutes: the bot rests 10 minutes, not the
/// 5 s the body names (a retry into the block only extends it), and the
/// history quotes the platform's answer. `rate_limit_rest` overrides it.
#[tokio::test]
async fn dingtalk_x5_throttle_rests_the_robot_ten_minutes() {
    for (extra, rest_ms) in [("", 600_000), ("    rate_limit_rest: 2m", 120_000)] {
        let bot = FakeBot::dingtalk().await;
        bot.add_bot("t1", BotSettings::default());
        bot.script("t1", [tocsin_fakes::dingtalk::x5_throttle()]);
        let h = Harness::start_manual(&platform_config("dingtalk", &bot.url("t1"), extra)).await;
        let clock = h.clock.clone().unwrap();
        let t0 = clock.now_ms();
        let (s, _) = h
            .post(
                "/api/v1/events",
                &native("x5-1", "Suspicious:X", "critical"),
            )
            .await;
        assert_eq!(s, 202);
        let pending = settled(&h, "bot", 1, 1).await;
        assert!(
            pending[0].2 >= t0 + rest_ms,
            "retried after {} ms, not {rest_ms}",
            pending[0].2 - t0
        );
        let ev = h.event("x5-1").await;
        let attempt = &ev["deliveries"][0]["attempts"][0];
        assert_eq!(attempt["outcome"], "retry", "{attempt}");
        assert_eq!(attempt["platform_code"], "1111", "{attempt}");
        assert_eq!(
            attempt["platform_message"],
            tocsin_fakes::dingtalk::X5_THROTTLE_BODY,
            "{attempt}"
        );
        assert!(
            attempt["reason"].as_str().unwrap().contains("10 minutes"),
            "{attempt}"
        );
        // Once the rest is over the message goes out (the fake's script is
        // spent: it accepts now).
        clock.advance(Duration::from_millis(rest_ms as u64));
        let accepted = bot.wait_for_accepted(1, WAIT).await;
        assert_eq!(accepted.len(), 1);
        assert_eq!(bot.received().len(), 2);
    }
}

/// `channel: feishu` is Lark under its mainland name: the same card, signed.
#[tokio::test]
async fn feishu_is_an_alias_of_lark() {
    let bot = FakeBot::lark().await;
    bot.add_bot("hook-f", BotSettings::with_secret("feishu-secret"));
    let extra = "    secret: feishu-secret\n";
    let h = Harness::start(&platform_config("feishu", &bot.url("hook-f"), extra)).await;
    let (_, d) = deliver_one(
        &h,
        &bot,
        "fs-1",
        &native("fs-1", "Suspicious:X", "critical"),
    )
    .await;
    assert!(d.accepted(), "{:?}", d.code);
    assert_eq!(d.json()["msg_type"], "interactive");
    let (_, contacts) = h.get("/api/v1/contacts").await;
    assert_eq!(contacts["contacts"][0]["channel"], "lark", "{contacts}");
}

const DISCORD_HOOK: &str = "123456789012345678/hook-token_1";

#[tokio::test]
async fn discord_embed_escaped_with_allowed_mentions_parse_none() {
    let bot = FakeBot::discord().await;
    bot.add_bot(DISCORD_HOOK, BotSettings::default());
    let h = Harness::start(&platform_config(
        "discord",
        &bot.url(DISCORD_HOOK),
        "    mentions: { users: [\"80351110224678912\"], levels: [critical] }\n",
    ))
    .await;
    let (ev, d) = deliver_one(&h, &bot, "dc-1", &hostile_event("dc-1")).await;
    assert_eq!((d.http_status, d.answer.as_str()), (204, ""));
    assert_eq!(d.path, "/api/webhooks/123456789012345678/hook-token_1");
    assert_eq!(d.header("content-type"), Some("application/json"));
    let body = d.json();
    assert_eq!(
        body["allowed_mentions"],
        json!({"parse": [], "users": ["80351110224678912"]})
    );
    assert_eq!(body["content"], "<@80351110224678912>");
    let embed = &body["embeds"][0];
    assert_eq!(embed["color"], 0xD9_30_25);
    assert_eq!(
        embed["url"],
        "https://tocsin.example.com/api/v1/events/dc-1"
    );
    assert_eq!(embed["timestamp"], "2026-11-29T02:00:00Z");
    let title = embed["title"].as_str().unwrap();
    assert!(
        title.starts_with("\\[CRITICAL\\] Suspicious:\\<at user\\_id=\"all\"\\>"),
        "{title}"
    );
    // As the channel shows it: the text reads as it came, nothing pings
    // but our user, nothing links but our event.
    let text = d.rendered_text();
    assert!(text.contains("Alert: Unusual Logon (Suspicious)"), "{text}");
    assert!(text.contains("Asset: web-<at id=all></at>"), "{text}");
    assert!(text.contains("2026-11-29 10:00:00 CST"), "{text}");
    assert_eq!(d.mentions(), ["80351110224678912"], "{body:#}");
    assert_eq!(tocsin_fakes::discord::pings(&body), ["80351110224678912"]);
    assert_eq!(
        d.links(),
        ["https://tocsin.example.com/api/v1/events/dc-1"],
        "{body:#}"
    );
    assert_eq!(ev["deliveries"][0]["attempts"][0]["http_status"], 204);
    assert_eq!(
        ev["deliveries"][0]["attempts"][0]["reason"],
        "delivered (Discord answered HTTP 204)"
    );
}

#[tokio::test]
async fn discord_429_waits_retry_after_then_delivers() {
    let bot = FakeBot::discord().await;
    bot.add_bot(DISCORD_HOOK, BotSettings::default());
    bot.script(DISCORD_HOOK, [ScriptedAnswer::RateLimited]);
    let h = Harness::start(&platform_config("discord", &bot.url(DISCORD_HOOK), "")).await;
    h.post("/api/v1/events", &native("dc-rl", "Incident:X", "critical"))
        .await;
    let ev = h.wait_status("dc-rl", "bot", "delivered").await;
    let attempts = ev["deliveries"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{ev:#}");
    assert_eq!(attempts[0]["http_status"], 429);
    assert_eq!(attempts[0]["outcome"], "retry");
    let reason = attempts[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("rate limiting this webhook") && reason.contains("for 0.5 s"),
        "{reason}"
    );
    assert_eq!(attempts[1]["http_status"], 204);
    let r = bot.received();
    assert_eq!(
        r.iter().map(|d| d.http_status).collect::<Vec<_>>(),
        [429, 204]
    );
    let answer: Value = serde_json::from_str(&r[0].answer).unwrap();
    assert_eq!(answer["retry_after"], 0.5);
}

#[tokio::test]
async fn discord_test_contact_speaks_discords_codes() {
    let bot = FakeBot::discord().await;
    bot.add_bot(DISCORD_HOOK, BotSettings::default());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("t.yaml");
    let yaml = format!(
        "delivery:\n  allow_private_networks: true\ncontacts:\n  - {{ name: good, channel: discord, webhook: \"{}\" }}\n  - {{ name: gone, channel: discord, webhook: \"{}\" }}\n  - {{ name: token, channel: discord, webhook: \"{}\" }}\n",
        bot.url(DISCORD_HOOK),
        bot.url("999999999999999999/x"),
        bot.url("123456789012345678/wrong")
    );
    std::fs::write(&cfg, &yaml).unwrap();
    let exe = env!("CARGO_BIN_EXE_tocsin");
    let run = |name: &'static str| {
        let cfg = cfg.clone();
        async move {
            let out = tokio::process::Command::new(exe)
                .args(["test-contact", "--config"])
                .arg(&cfg)
                .arg(name)
                .output()
                .await
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        }
    };
    assert_eq!(run("good").await, (Some(0), "ok\n".to_string()));
    let test = &bot.accepted()[0];
    assert!(
        test.rendered_text().contains("good"),
        "{}",
        test.rendered_text()
    );
    let (code, text) = run("gone").await;
    assert_eq!(code, Some(1));
    assert!(
        text.contains("HTTP 404 (code 10015)")
            && text.contains("Unknown Webhook")
            && text.contains("Integrations"),
        "{text}"
    );
    let (code, text) = run("token").await;
    assert_eq!(code, Some(1));
    assert!(
        text.contains("HTTP 401 (code 50027)") && text.contains("copy its URL again"),
        "{text}"
    );
    // And over the API.
    let h = Harness::start(&yaml).await;
    let (s, v) = h.post("/api/v1/contacts/good/test", "").await;
    assert_eq!(
        (s, v["ok"].clone(), v["http_status"].clone()),
        (200, json!(true), json!(204))
    );
    let (_, v) = h.post("/api/v1/contacts/gone/test", "").await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["platform_code"], "10015");
    assert_eq!(v["platform_message"], "Unknown Webhook");
}

#[tokio::test]
async fn discord_invalid_form_body_fails_at_once_naming_the_field() {
    let bot = FakeBot::discord().await;
    bot.add_bot(DISCORD_HOOK, BotSettings::default());
    bot.script(
        DISCORD_HOOK,
        [ScriptedAnswer::Http {
            status: 400,
            headers: vec![("content-type".into(), "application/json".into())],
            body: r#"{"code": 50035, "message": "Invalid Form Body", "errors": {"embeds": {"0": {"description": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 4096 or fewer in length."}]}}}}}"#.into(),
        }],
    );
    let h = Harness::start(&platform_config("discord", &bot.url(DISCORD_HOOK), "")).await;
    h.post("/api/v1/events", &native("dc-form", "Incident:X", "warn"))
        .await;
    let ev = h.wait_status("dc-form", "bot", "failed").await;
    let a = &ev["deliveries"][0]["attempts"][0];
    assert_eq!(a["platform_code"], "50035");
    let reason = a["reason"].as_str().unwrap();
    assert!(
        reason.contains("embeds.0.description: Must be 4096 or fewer in length."),
        "{reason}"
    );
    assert_eq!(ev["deliveries"][0]["attempts"].as_array().unwrap().len(), 1);
}

const TEAMS_FLOW: &str = "8d2f5c1e0a9b4c7d/sig-SEKRET_1";

#[tokio::test]
async fn teams_adaptive_card_escaped_with_mentions_from_config_only() {
    let bot = FakeBot::teams().await;
    bot.add_bot(TEAMS_FLOW, BotSettings::default());
    let h = Harness::start(&platform_config(
        "teams",
        &bot.url(TEAMS_FLOW),
        "    mentions: { users: [\"alice@contoso.com\"], levels: [critical] }\n",
    ))
    .await;
    let (ev, d) = deliver_one(&h, &bot, "tm-1", &hostile_event("tm-1")).await;
    assert_eq!((d.http_status, d.answer.as_str()), (202, ""));
    assert_eq!(
        d.path,
        "/workflows/8d2f5c1e0a9b4c7d/triggers/manual/paths/invoke"
    );
    assert_eq!(d.header("content-type"), Some("application/json"));
    let body = d.json();
    assert_eq!(body["type"], "message");
    let a = &body["attachments"][0];
    assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
    assert_eq!(a["contentUrl"], Value::Null);
    let card = &a["content"];
    assert_eq!(
        (&card["type"], &card["version"], &card["msteams"]["width"]),
        (&json!("AdaptiveCard"), &json!("1.4"), &json!("Full"))
    );
    let title = &card["body"][0];
    assert_eq!(
        (&title["color"], &title["weight"], &title["wrap"]),
        (&json!("attention"), &json!("Bolder"), &json!(true))
    );
    assert!(
        title["text"]
            .as_str()
            .unwrap()
            .starts_with("［CRITICAL］ Suspicious:＜at user＿id=\"all\"＞x＜/at＞"),
        "{title}"
    );
    assert_eq!(card["body"][1]["text"], "<at>alice@contoso.com</at>");
    assert_eq!(
        card["msteams"]["entities"],
        json!([{"type": "mention", "text": "<at>alice@contoso.com</at>",
            "mentioned": {"id": "alice@contoso.com", "name": "alice@contoso.com"}}])
    );
    assert_eq!(
        card["actions"],
        json!([{"type": "Action.OpenUrl", "title": "View in Tocsin",
            "url": "https://tocsin.example.com/api/v1/events/tm-1"}])
    );
    // As the channel shows it: the text reads as it came, only our user is
    // mentioned, only our event is linked.
    let text = d.rendered_text();
    assert!(text.contains("Alert: Unusual Logon (Suspicious)"), "{text}");
    assert!(text.contains("Asset: web-＜at id=all＞＜/at＞"), "{text}");
    assert!(text.contains("2026-11-29 10:00:00 CST"), "{text}");
    assert_eq!(d.mentions(), ["alice@contoso.com"], "{body:#}");
    assert_eq!(
        d.links(),
        ["https://tocsin.example.com/api/v1/events/tm-1"],
        "{body:#}"
    );
    let attempt = &ev["deliveries"][0]["attempts"][0];
    assert_eq!(attempt["http_status"], 202);
    assert_eq!(
        attempt["reason"],
        "delivered (Teams Workflows answered HTTP 202: the flow took the card and posts it to the channel)"
    );
    // The `sig` never shows: the contact's URL keeps its host only.
    let (_, contacts) = h.get("/api/v1/contacts").await;
    assert!(!contacts.to_string().contains("SEKRET"), "{contacts}");
    assert!(!ev.to_string().contains("SEKRET"), "{ev}");
}

#[tokio::test]
async fn teams_429_waits_retry_after_then_delivers() {
    let bot = FakeBot::teams().await;
    bot.add_bot(TEAMS_FLOW, BotSettings::default());
    bot.script(TEAMS_FLOW, [ScriptedAnswer::RateLimited]);
    let h = Harness::start(&platform_config("teams", &bot.url(TEAMS_FLOW), "")).await;
    h.post("/api/v1/events", &native("tm-rl", "Incident:X", "critical"))
        .await;
    let ev = h.wait_status("tm-rl", "bot", "delivered").await;
    let attempts = ev["deliveries"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{ev:#}");
    assert_eq!(attempts[0]["http_status"], 429);
    assert_eq!(attempts[0]["outcome"], "retry");
    assert_eq!(attempts[0]["platform_code"], "WorkflowRequestsThrottled");
    let reason = attempts[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("throttling this flow") && reason.contains("for 1.0 s"),
        "{reason}"
    );
    assert_eq!(attempts[1]["http_status"], 202);
    assert_eq!(
        bot.received()
            .iter()
            .map(|d| d.http_status)
            .collect::<Vec<_>>(),
        [429, 202]
    );
}

#[tokio::test]
async fn teams_test_contact_speaks_workflows_codes() {
    let bot = FakeBot::teams().await;
    bot.add_bot(TEAMS_FLOW, BotSettings::default());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("t.yaml");
    let yaml = format!(
        "delivery:\n  allow_private_networks: true\ncontacts:\n  - {{ name: good, channel: teams, webhook: \"{}\" }}\n  - {{ name: gone, channel: teams, webhook: \"{}\" }}\n  - {{ name: sig, channel: teams, webhook: \"{}\" }}\n",
        bot.url(TEAMS_FLOW),
        bot.url("ffffffffffffffff/sig-x"),
        bot.url("8d2f5c1e0a9b4c7d/sig-WRONG")
    );
    std::fs::write(&cfg, &yaml).unwrap();
    let exe = env!("CARGO_BIN_EXE_tocsin");
    let run = |name: &'static str| {
        let cfg = cfg.clone();
        async move {
            let out = tokio::process::Command::new(exe)
                .args(["test-contact", "--config"])
                .arg(&cfg)
                .arg(name)
                .output()
                .await
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    let (code, text, _) = run("good").await;
    assert_eq!((code, text.as_str()), (Some(0), "ok\n"));
    let test = &bot.accepted()[0];
    assert!(
        test.rendered_text().contains("good"),
        "{}",
        test.rendered_text()
    );
    let (code, text, err) = run("gone").await;
    assert_eq!(code, Some(1));
    assert!(
        text.contains("HTTP 404 (code WorkflowNotFound)")
            && text.contains("does not know this flow")
            && text.contains("Post to a channel when a webhook request is received"),
        "{text}"
    );
    let (code, text, err2) = run("sig").await;
    assert_eq!(code, Some(1));
    assert!(
        text.contains("HTTP 401 (code AuthorizationFailed)") && text.contains("`sig`"),
        "{text}"
    );
    // The signatures are secrets: never printed.
    for out in [&text, &err, &err2] {
        assert!(
            !out.contains("sig-WRONG") && !out.contains("SEKRET"),
            "{out}"
        );
    }
    // And over the API.
    let h = Harness::start(&yaml).await;
    let (s, v) = h.post("/api/v1/contacts/good/test", "").await;
    assert_eq!(
        (s, v["ok"].clone(), v["http_status"].clone()),
        (200, json!(true), json!(202))
    );
    let (_, v) = h.post("/api/v1/contacts/sig/test", "").await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["platform_code"], "AuthorizationFailed");
    assert!(!v.to_string().contains("sig-WRONG"), "{v}");
}

#[tokio::test]
async fn teams_refused_card_fails_at_once_naming_the_field() {
    let bot = FakeBot::teams().await;
    bot.add_bot(TEAMS_FLOW, BotSettings::default());
    bot.script(
        TEAMS_FLOW,
        [ScriptedAnswer::Http {
            status: 400,
            headers: vec![("content-type".into(), "application/json".into())],
            body: r#"{"error":{"code":"InvalidAdaptiveCard","message":"attachments[0].content.body[2].facts[0].value: required (a string)"}}"#.into(),
        }],
    );
    let h = Harness::start(&platform_config("teams", &bot.url(TEAMS_FLOW), "")).await;
    h.post("/api/v1/events", &native("tm-card", "Incident:X", "warn"))
        .await;
    let ev = h.wait_status("tm-card", "bot", "failed").await;
    let a = &ev["deliveries"][0]["attempts"][0];
    assert_eq!(a["platform_code"], "InvalidAdaptiveCard");
    let reason = a["reason"].as_str().unwrap();
    assert!(
        reason.contains("refused the card")
            && reason.contains("attachments[0].content.body[2].facts[0].value: required"),
        "{reason}"
    );
    assert_eq!(ev["deliveries"][0]["attempts"].as_array().unwrap().len(), 1);
}

const TELEGRAM_BOT: &str = "123456789:AAH-telegram_token1";

fn telegram_bot_settings() -> BotSettings {
    BotSettings {
        chats: vec![TELEGRAM_CHAT.to_string()],
        ..BotSettings::default()
    }
}

#[tokio::test]
async fn telegram_html_escaped_mentions_only_from_the_config() {
    let bot = FakeBot::telegram().await;
    bot.add_bot(TELEGRAM_BOT, telegram_bot_settings());
    let h = Harness::start(&platform_config(
        "telegram",
        &bot.url(TELEGRAM_BOT),
        "    mentions: { users: [\"42:Alice\"], levels: [critical] }\n",
    ))
    .await;
    let (ev, d) = deliver_one(&h, &bot, "tg-1", &hostile_event("tg-1")).await;
    assert_eq!(d.http_status, 200, "{}", d.answer);
    assert_eq!(d.path, format!("/bot{TELEGRAM_BOT}/sendMessage"));
    assert_eq!(d.header("content-type"), Some("application/json"));
    let body = d.json();
    assert_eq!(body["chat_id"], TELEGRAM_CHAT);
    assert_eq!(body["parse_mode"], "HTML");
    assert_eq!(body["link_preview_options"], json!({"is_disabled": true}));
    assert_eq!(body["disable_notification"], false);
    let html = body["text"].as_str().unwrap();
    assert!(
        html.starts_with("🔴 <b>[CRITICAL] Suspicious:&lt;at user_id=&quot;all&quot;&gt;x&lt;/at&gt; @\u{200D}all"),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"tg://user?id=42\">Alice</a>"),
        "{html}"
    );
    // As the chat shows it: the text reads as it came, nobody is notified
    // but our user, nothing links but our event.
    let text = d.rendered_text();
    assert!(text.contains("Alert: Unusual Logon (Suspicious)"), "{text}");
    assert!(text.contains("Asset: web-<at id=all></at>"), "{text}");
    assert!(text.contains("2026-11-29 10:00:00 CST"), "{text}");
    assert_eq!(d.mentions(), ["42"], "{html}");
    assert_eq!(
        d.links(),
        ["https://tocsin.example.com/api/v1/events/tg-1"],
        "{html}"
    );
    let a = &ev["deliveries"][0]["attempts"][0];
    assert_eq!(a["http_status"], 200);
    assert_eq!(
        a["reason"],
        "delivered (Telegram answered HTTP 200, ok: true)"
    );
}

#[tokio::test]
async fn telegram_429_waits_retry_after_then_delivers() {
    let bot = FakeBot::telegram().await;
    bot.add_bot(TELEGRAM_BOT, telegram_bot_settings());
    bot.script(TELEGRAM_BOT, [ScriptedAnswer::RateLimited]);
    let h = Harness::start(&platform_config("telegram", &bot.url(TELEGRAM_BOT), "")).await;
    h.post("/api/v1/events", &native("tg-rl", "Incident:X", "critical"))
        .await;
    let ev = h.wait_status("tg-rl", "bot", "delivered").await;
    let attempts = ev["deliveries"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{ev:#}");
    assert_eq!(attempts[0]["http_status"], 429);
    assert_eq!(attempts[0]["outcome"], "retry");
    assert_eq!(attempts[0]["platform_code"], "429");
    assert_eq!(
        attempts[0]["platform_message"],
        "Too Many Requests: retry after 1"
    );
    let reason = attempts[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("Telegram is rate limiting this bot") && reason.contains("for 1 s"),
        "{reason}"
    );
    assert_eq!(attempts[1]["http_status"], 200);
    let answer: Value = serde_json::from_str(&bot.received()[0].answer).unwrap();
    assert_eq!(answer["parameters"]["retry_after"], 1);
}

#[tokio::test]
async fn telegram_test_contact_speaks_telegrams_terms_and_never_shows_the_token() {
    let bot = FakeBot::telegram().await;
    bot.use_manual_clock();
    bot.add_bot(TELEGRAM_BOT, telegram_bot_settings());
    let base = bot
        .url(TELEGRAM_BOT)
        .replace(&format!("/bot{TELEGRAM_BOT}/sendMessage"), "");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("t.yaml");
    let yaml = format!(
        "delivery:\n  allow_private_networks: true\ncontacts:\n  - {{ name: good, channel: telegram, bot_token: \"{TELEGRAM_BOT}\", chat_id: {TELEGRAM_CHAT}, api_base: \"{base}\" }}\n  - {{ name: chat, channel: telegram, bot_token: \"{TELEGRAM_BOT}\", chat_id: \"@nowhere\", api_base: \"{base}\" }}\n  - {{ name: token, channel: telegram, bot_token: \"987654321:AAHrevoked\", chat_id: {TELEGRAM_CHAT}, api_base: \"{base}\" }}\n"
    );
    std::fs::write(&cfg, &yaml).unwrap();
    let exe = env!("CARGO_BIN_EXE_tocsin");
    let run = |name: &'static str| {
        let cfg = cfg.clone();
        async move {
            let out = tokio::process::Command::new(exe)
                .args(["test-contact", "--config"])
                .arg(&cfg)
                .arg(name)
                .output()
                .await
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr),
            )
        }
    };
    let (code, text) = run("good").await;
    assert_eq!((code, text.as_str()), (Some(0), "ok\n"));
    let test = &bot.accepted()[0];
    assert!(
        test.rendered_text().contains("good"),
        "{}",
        test.rendered_text()
    );
    let (code, text) = run("chat").await;
    assert_eq!(code, Some(1));
    assert!(
        text.contains("HTTP 400 (code 400)")
            && text.contains("Bad Request: chat not found")
            && text.contains("`chat_id` is wrong"),
        "{text}"
    );
    let (code, text) = run("token").await;
    assert_eq!(code, Some(1));
    assert!(
        text.contains("HTTP 401 (code 401)")
            && text.contains("Unauthorized")
            && text.contains("@BotFather"),
        "{text}"
    );
    assert!(!text.contains("AAHrevoked"), "{text}");
    // And over the API (a second later: a test message is not budgeted,
    // and Telegram allows one a second per chat); the contact list shows
    // no token.
    bot.advance(Duration::from_secs(2));
    let h = Harness::start(&yaml).await;
    let (s, v) = h.post("/api/v1/contacts/good/test", "").await;
    assert_eq!(
        (s, v["ok"].clone(), v["http_status"].clone()),
        (200, json!(true), json!(200))
    );
    let (_, v) = h.post("/api/v1/contacts/chat/test", "").await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["platform_code"], "400");
    assert_eq!(v["platform_message"], "Bad Request: chat not found");
    let (_, contacts) = h.get("/api/v1/contacts").await;
    let all = contacts.to_string();
    assert!(
        !all.contains("AAH-telegram_token1") && !all.contains("AAHrevoked"),
        "{all}"
    );
    assert_eq!(
        contacts["contacts"][0]["channel"], "telegram",
        "{contacts:#}"
    );
}

#[tokio::test]
async fn telegram_unparsable_entities_fail_at_once_with_advice() {
    let bot = FakeBot::telegram().await;
    bot.add_bot(TELEGRAM_BOT, telegram_bot_settings());
    // A template writing a tag Telegram does not know: the fake refuses it
    // as Telegram does, once; nothing is retried.
    let h = Harness::start(&platform_config(
        "telegram",
        &bot.url(TELEGRAM_BOT),
        "    template: \"<div>{{ event.name }}</div>\"\n",
    ))
    .await;
    h.post("/api/v1/events", &native("tg-ent", "Incident:X", "warn"))
        .await;
    let ev = h.wait_status("tg-ent", "bot", "delivered").await;
    // Tocsin shows unknown tags as text: the message goes out.
    let d = &bot.accepted()[0];
    assert!(
        d.rendered_text().contains("<div>Incident:X</div>"),
        "{}",
        d.rendered_text()
    );
    assert_eq!(ev["deliveries"][0]["attempts"].as_array().unwrap().len(), 1);
    // A refusal Telegram gives is final and explained.
    bot.script(
        TELEGRAM_BOT,
        [ScriptedAnswer::code(
            400,
            "Bad Request: can't parse entities: Unsupported start tag \"div\" at byte offset 0",
        )],
    );
    h.post("/api/v1/events", &native("tg-ent2", "Incident:Y", "warn"))
        .await;
    let ev = h.wait_status("tg-ent2", "bot", "failed").await;
    let a = &ev["deliveries"][0]["attempts"][0];
    assert_eq!(a["platform_code"], "400");
    let reason = a["reason"].as_str().unwrap();
    assert!(
        reason.contains("could not parse the message's HTML"),
        "{reason}"
    );
    assert_eq!(ev["deliveries"][0]["attempts"].as_array().unwrap().len(), 1);
    let (_, explain) = h.get("/api/v1/events/tg-ent2/explain").await;
    let all = explain.to_string();
    assert!(all.contains("b, i, u, s, a href"), "{explain:#}");
    assert!(!all.contains(TELEGRAM_BOT), "{explain:#}");
}

#[tokio::test]
async fn pagerduty_trigger_then_resolve_with_the_same_dedup_key() {
    let pd = FakeBot::pagerduty().await;
    pd.add_bot(PAGERDUTY_KEY, BotSettings::default());
    let yaml = platform_config("pagerduty", &pd.url(PAGERDUTY_KEY), "");
    let h = Harness::start(&yaml).await;
    let (ev, d) = deliver_one(&h, &pd, "pd-1", &hostile_event("pd-1")).await;
    assert_eq!(d.http_status, 202, "{}", d.answer);
    assert_eq!(d.path, "/v2/enqueue");
    assert_eq!(d.header("content-type"), Some("application/json"));
    let body = d.json();
    assert_eq!(body["routing_key"], PAGERDUTY_KEY);
    assert_eq!(body["event_action"], "trigger");
    assert_eq!(body["payload"]["severity"], "critical");
    assert_eq!(body["payload"]["source"], "web-<at id=all></at>");
    assert_eq!(body["client"], "Tocsin");
    // Nothing from the event links or mentions anyone; the only link is ours.
    assert_eq!(
        d.links(),
        [
            "https://tocsin.example.com/api/v1/events/pd-1",
            "https://tocsin.example.com"
        ]
    );
    assert!(d.mentions().is_empty());
    let key = body["dedup_key"].as_str().unwrap().to_string();
    assert!(key.starts_with("tocsin-"), "{key}");
    let a = &ev["deliveries"][0]["attempts"][0];
    assert_eq!(a["http_status"], 202);
    assert_eq!(a["platform_code"], "success");
    assert_eq!(
        a["reason"],
        format!("delivered (PagerDuty answered HTTP 202, Event processed, dedup_key {key})")
    );
    let incidents = pd.incidents(PAGERDUTY_KEY);
    assert_eq!(incidents.len(), 1);
    assert_eq!(
        (
            incidents[0].status.as_str(),
            incidents[0].dedup_key.as_str()
        ),
        ("triggered", key.as_str())
    );
    // The resolve of the same alert (another occurrence, as a resolved
    // event is) closes that incident: the same dedup_key, nothing else.
    let loaded = tocsin::config::load_str(&yaml, "t.yaml", &|_| None);
    let config = loaded.config.unwrap();
    let event: tocsin::event::Event = {
        let map = tocsin::config::default_severity_map();
        let ctx = tocsin::ingest::DecodeContext {
            severity_map: &map,
            received_ms: 0,
        };
        tocsin::ingest::decode(
            tocsin::event::Format::Native,
            hostile_event("pd-1-resolved").as_bytes(),
            &ctx,
        )
        .unwrap()
        .remove(0)
    };
    let events = [std::sync::Arc::new(event)];
    let view = tocsin::notify::MessageView {
        id: "resolve-1",
        kind: tocsin::store::MessageKind::Resolved,
        contact: &config.contacts[0],
        subscriptions: &[],
        events: &events,
        public_url: None,
        note: None,
        template: None,
    };
    let n = tocsin::notify::notifier_for(config.contacts[0].channel);
    let r = n.render(&view, 0).unwrap();
    let answer = client()
        .post(&r.out.url)
        .header("content-type", "application/json")
        .body(r.out.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let sent = pd.received().last().unwrap().json();
    assert_eq!(
        sent,
        json!({"routing_key": PAGERDUTY_KEY, "event_action": "resolve", "dedup_key": key})
    );
    let incidents = pd.incidents(PAGERDUTY_KEY);
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].status, "resolved");
}

#[tokio::test]
async fn pagerduty_429_backs_off_then_delivers() {
    let pd = FakeBot::pagerduty().await;
    pd.add_bot(PAGERDUTY_KEY, BotSettings::default());
    pd.script(PAGERDUTY_KEY, [ScriptedAnswer::RateLimited]);
    let h = Harness::start(&platform_config(
        "pagerduty",
        &pd.url(PAGERDUTY_KEY),
        "    rate_limit_rest: 1s\n",
    ))
    .await;
    h.post("/api/v1/events", &native("pd-rl", "Incident:X", "critical"))
        .await;
    let ev = h.wait_status("pd-rl", "bot", "delivered").await;
    let attempts = ev["deliveries"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{ev:#}");
    assert_eq!(attempts[0]["http_status"], 429);
    assert_eq!(attempts[0]["outcome"], "retry");
    let reason = attempts[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("PagerDuty is rate limiting this routing key"),
        "{reason}"
    );
    assert_eq!(attempts[1]["http_status"], 202);
}

#[tokio::test]
async fn pagerduty_test_contact_speaks_pagerdutys_terms_and_never_shows_the_key() {
    let pd = FakeBot::pagerduty().await;
    pd.add_bot(PAGERDUTY_KEY, BotSettings::default());
    let url = pd.url(PAGERDUTY_KEY);
    let unknown = "R0UT1NGKEYUNKNOWN000000000000009";
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("t.yaml");
    let yaml = format!(
        "delivery:\n  allow_private_networks: true\ncontacts:\n  - {{ name: good, channel: pagerduty, routing_key: {PAGERDUTY_KEY}, url: \"{url}\" }}\n  - {{ name: unknown, channel: pagerduty, routing_key: {unknown}, url: \"{url}\" }}\n"
    );
    std::fs::write(&cfg, &yaml).unwrap();
    let run = |name: &'static str| {
        let cfg = cfg.clone();
        async move {
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
                .args(["test-contact", "--config"])
                .arg(&cfg)
                .arg(name)
                .output()
                .await
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr),
            )
        }
    };
    let (code, text) = run("good").await;
    assert_eq!((code, text.as_str()), (Some(0), "ok\n"));
    // The test is a resolve for a key no incident has: no one is paged.
    let test = pd.accepted()[0].json();
    assert_eq!(test["event_action"], "resolve");
    assert!(pd.incidents(PAGERDUTY_KEY).is_empty());
    let (code, text) = run("unknown").await;
    assert_eq!(code, Some(1));
    assert!(
        text.contains("HTTP 400")
            && text.contains("Invalid routing key")
            && text.contains("Integration Key"),
        "{text}"
    );
    assert!(!text.contains("R0UT1NGKEY"), "{text}");
    // Over the API too; the contact list shows no key.
    let h = Harness::start(&yaml).await;
    let (s, v) = h.post("/api/v1/contacts/good/test", "").await;
    assert_eq!(
        (s, v["ok"].clone(), v["http_status"].clone()),
        (200, json!(true), json!(202))
    );
    assert!(
        v["reason"].as_str().unwrap().contains("no one was paged"),
        "{v}"
    );
    let (_, v) = h.post("/api/v1/contacts/unknown/test", "").await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["platform_code"], "invalid event");
    let (_, contacts) = h.get("/api/v1/contacts").await;
    assert!(!contacts.to_string().contains("R0UT1NGKEY"), "{contacts}");
}

/// End to end through ingest: a firing alert opens a PagerDuty incident, the
/// same alert posted with `state: resolved` (issue 12's resolves) closes it
/// with the same `dedup_key`, and the history links the two.
#[tokio::test]
async fn pagerduty_incident_opened_by_a_firing_alert_is_closed_by_its_resolve() {
    let pd = FakeBot::pagerduty().await;
    pd.add_bot(PAGERDUTY_KEY, BotSettings::default());
    let h = Harness::start(&platform_config("pagerduty", &pd.url(PAGERDUTY_KEY), "")).await;
    let alert = |id: &str, state: &str| {
        json!({"id": id, "product": "Sas", "event_type": "Incident", "name": "Incident:BruteForce",
               "level": "critical", "resource": "i-bp1", "state": state})
        .to_string()
    };
    let (s, v) = h.post("/api/v1/events", &alert("pd-fire", "firing")).await;
    assert_eq!(s, 202, "{v}");
    h.wait_status("pd-fire", "bot", "delivered").await;
    let (s, v) = h
        .post("/api/v1/events", &alert("pd-resolve", "resolved"))
        .await;
    assert_eq!(s, 202, "{v}");
    h.wait_status("pd-resolve", "bot", "delivered").await;
    let sent: Vec<Value> = pd.received().iter().map(|d| d.json()).collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0]["event_action"], "trigger");
    assert_eq!(
        sent[1],
        json!({"routing_key": PAGERDUTY_KEY, "event_action": "resolve", "dedup_key": sent[0]["dedup_key"]})
    );
    let incidents = pd.incidents(PAGERDUTY_KEY);
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].status, "resolved");
    let resolve = h.event("pd-resolve").await;
    assert_eq!(resolve["resolves"], json!(["pd-fire"]), "{resolve:#}");
    assert_eq!(
        resolve["deliveries"][0]["message_kind"], "resolved",
        "{resolve:#}"
    );
}
