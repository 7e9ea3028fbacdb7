//! What the chat platforms receive for hostile or oversized events, as the
//! fakes saw it: the bot's keyword survives every cut (defect 1 of issue 10),
//! and no link, mention or fake line can be built from event content
//! (defect 7).

use crate::common::*;
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
