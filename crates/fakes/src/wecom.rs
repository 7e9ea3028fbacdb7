//! WeCom group-bot webhook (`/cgi-bin/webhook/send?key={token}`),
//! channels.md §2. Always HTTP 200. Check order: missing/unknown key → 93000;
//! non-JSON body or missing/unknown `msgtype` → 40008; empty content → 44004;
//! `text.content` > 2048 bytes or `markdown(_v2).content` > 4096 bytes →
//! 40058; rate (20/min, sliding) → 45009. Error messages carry the real
//! `, hint: [..], from ip: .., more info at ..?e=<code>` suffix. No signing,
//! no keywords (settings' `secret`/`keywords` are ignored).

use crate::platform::{Answer, Ctx, Platform, Req, join_lines, str_at};
use serde_json::{Value, json};

pub use crate::platform::{BotSettings, Delivery, FakeBot, ScriptedAnswer};

pub const MAX_TEXT_BYTES: usize = 2048;
pub const MAX_MARKDOWN_BYTES: usize = 4096;

const MSGTYPES: [&str; 8] = [
    "text",
    "markdown",
    "markdown_v2",
    "image",
    "news",
    "file",
    "voice",
    "template_card",
];

/// `<msg>, hint: [<id>], from ip: <ip>, more info at …?e=<code>`.
pub(crate) fn error(ctx: &Ctx<'_>, code: i64, msg: &str) -> Answer {
    let errmsg = format!(
        "{msg}, hint: [{}], from ip: {}, more info at https://open.work.weixin.qq.com/devtool/query?e={code}",
        ctx.request_id, ctx.peer_ip
    );
    Answer::json(200, code, json!({"errcode": code, "errmsg": errmsg}))
}

pub(crate) fn rate_limited(ctx: &Ctx<'_>) -> Answer {
    error(ctx, 45009, "api freq out of limit")
}

pub(crate) fn handle(ctx: &mut Ctx<'_>, req: &Req<'_>) -> Answer {
    let known = req
        .token
        .filter(|t| !t.is_empty())
        .is_some_and(|t| ctx.bots.contains_key(t));
    if req.path != "/cgi-bin/webhook/send" || !known {
        return error(ctx, 93000, "invalid webhook url");
    }
    let Ok(body) = serde_json::from_slice::<Value>(req.body) else {
        return error(ctx, 40008, "invalid message type");
    };
    let msgtype = str_at(&body, "/msgtype");
    if !MSGTYPES.contains(&msgtype) {
        return error(ctx, 40008, "invalid message type");
    }
    let obj = body.get(msgtype).unwrap_or(&Value::Null);
    let nonempty = |p: &str| !str_at(obj, p).is_empty();
    let has_content = match msgtype {
        "text" | "markdown" | "markdown_v2" => nonempty("/content"),
        "image" => nonempty("/base64") && nonempty("/md5"),
        "news" => obj
            .get("articles")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty()),
        "file" | "voice" => nonempty("/media_id"),
        _ => obj.is_object(),
    };
    if !has_content {
        return error(ctx, 44004, "empty content");
    }
    let limit = if msgtype == "text" {
        MAX_TEXT_BYTES
    } else {
        MAX_MARKDOWN_BYTES
    };
    if matches!(msgtype, "text" | "markdown" | "markdown_v2")
        && str_at(obj, "/content").len() > limit
    {
        let msg = format!("{msgtype}.content exceed max length {limit}. invalid Request Parameter");
        return error(ctx, 40058, &msg);
    }
    let token = req.token.unwrap_or_default();
    let now = ctx.now;
    let Some(bot) = ctx.bots.get_mut(token) else {
        return error(ctx, 93000, "invalid webhook url");
    };
    if bot.over_rate(Platform::WeCom, now).is_some() {
        return rate_limited(ctx);
    }
    bot.record_sent(now);
    Answer::json(200, 0, json!({"errcode": 0, "errmsg": "ok"}))
}

/// The message as the group shows it.
pub(crate) fn render(body: &Value) -> String {
    let msgtype = str_at(body, "/msgtype");
    let obj = body.get(msgtype).unwrap_or(&Value::Null);
    match msgtype {
        "text" | "markdown" | "markdown_v2" => str_at(obj, "/content").to_string(),
        "news" => join_lines(
            obj.get("articles")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|a| [str_at(a, "/title"), str_at(a, "/description")]),
        ),
        "template_card" => join_lines([
            str_at(obj, "/main_title/title"),
            str_at(obj, "/main_title/desc"),
            str_at(obj, "/sub_title_text"),
        ]),
        "image" => "[image]".into(),
        "file" => "[file]".into(),
        "voice" => "[voice]".into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testutil::{post, post_json};
    use std::time::Duration;

    const SUFFIX_START: &str = ", hint: [";

    fn assert_error(a: &crate::platform::testutil::Answer, code: i64, prefix: &str) {
        assert_eq!(a.status, 200, "{}", a.body);
        let j = a.json();
        assert_eq!(j["errcode"], code, "{}", a.body);
        let msg = j["errmsg"].as_str().unwrap();
        assert!(msg.starts_with(&format!("{prefix}{SUFFIX_START}")), "{msg}");
        assert!(msg.contains("from ip: 127.0.0.1, more info at"), "{msg}");
        assert!(
            msg.ends_with(&format!(
                "https://open.work.weixin.qq.com/devtool/query?e={code}"
            )),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn accepts_markdown_and_renders_it() {
        let fake = FakeBot::wecom().await;
        fake.add_bot("k1", BotSettings::default());
        assert!(fake.url("k1").ends_with("/cgi-bin/webhook/send?key=k1"));
        let body = json!({"msgtype":"markdown","markdown":{"content":"**Alert** <font color=\"warning\">CPU 95%</font>"}});
        let a = post_json(&fake.url("k1"), &body).await;
        assert_eq!(
            (a.status, a.json()),
            (200, json!({"errcode":0,"errmsg":"ok"}))
        );
        let acc = fake.wait_for_accepted(1, Duration::from_secs(2)).await;
        assert_eq!(acc.len(), 1);
        assert_eq!(acc[0].token, "k1");
        assert_eq!(acc[0].code, Some(0));
        assert_eq!(
            acc[0].rendered_text(),
            "**Alert** <font color=\"warning\">CPU 95%</font>"
        );
    }

    #[tokio::test]
    async fn unknown_key_bad_type_and_empty_content() {
        let fake = FakeBot::wecom().await;
        fake.add_bot("k1", BotSettings::default());
        let text = json!({"msgtype":"text","text":{"content":"hi"}});
        assert_error(
            &post_json(&fake.url("nope"), &text).await,
            93000,
            "invalid webhook url",
        );
        let no_key = format!("http://{}/cgi-bin/webhook/send", fake.addr());
        assert_error(
            &post_json(&no_key, &text).await,
            93000,
            "invalid webhook url",
        );
        assert_error(
            &post(&fake.url("k1"), "content=hi").await,
            40008,
            "invalid message type",
        );
        let bad = json!({"msgtype":"card","card":{}});
        assert_error(
            &post_json(&fake.url("k1"), &bad).await,
            40008,
            "invalid message type",
        );
        let empty = json!({"msgtype":"text","text":{"content":""}});
        assert_error(
            &post_json(&fake.url("k1"), &empty).await,
            44004,
            "empty content",
        );
        let r = fake.received();
        assert_eq!(r.len(), 5);
        assert_eq!(
            r.iter().map(|d| d.code.unwrap()).collect::<Vec<_>>(),
            [93000, 93000, 40008, 40008, 44004]
        );
        assert!(fake.accepted().is_empty());
    }

    #[tokio::test]
    async fn length_limits_are_bytes() {
        let fake = FakeBot::wecom().await;
        fake.add_bot("k1", BotSettings::default());
        // 1366 CJK characters = 4098 bytes: over the markdown limit.
        let md = json!({"msgtype":"markdown","markdown":{"content":"警".repeat(1366)}});
        assert_error(
            &post_json(&fake.url("k1"), &md).await,
            40058,
            "markdown.content exceed max length 4096. invalid Request Parameter",
        );
        let md2 = json!({"msgtype":"markdown_v2","markdown_v2":{"content":"x".repeat(4097)}});
        assert_error(
            &post_json(&fake.url("k1"), &md2).await,
            40058,
            "markdown_v2.content exceed max length 4096. invalid Request Parameter",
        );
        // 683 CJK characters = 2049 bytes: over the text limit.
        let text = json!({"msgtype":"text","text":{"content":"警".repeat(683)}});
        assert_eq!(
            post_json(&fake.url("k1"), &text).await.json()["errcode"],
            40058
        );
        let ok = json!({"msgtype":"markdown","markdown":{"content":"x".repeat(4096)}});
        assert_eq!(post_json(&fake.url("k1"), &ok).await.json()["errcode"], 0);
        assert_eq!(fake.received().len(), 4);
        assert_eq!(fake.accepted().len(), 1);
    }

    #[tokio::test]
    async fn the_21st_message_in_a_minute_is_45009() {
        let fake = FakeBot::wecom().await;
        fake.add_bot("k1", BotSettings::default());
        let text = json!({"msgtype":"text","text":{"content":"hi"}});
        for _ in 0..20 {
            assert_eq!(post_json(&fake.url("k1"), &text).await.json()["errcode"], 0);
        }
        assert_error(
            &post_json(&fake.url("k1"), &text).await,
            45009,
            "api freq out of limit",
        );
        assert_eq!(fake.received().len(), 21);
        assert_eq!(fake.accepted().len(), 20);
        // A configurable window.
        fake.add_bot(
            "k2",
            BotSettings {
                rate: Some(vec![(1, Duration::from_millis(500))]),
                ..BotSettings::default()
            },
        );
        assert_eq!(post_json(&fake.url("k2"), &text).await.json()["errcode"], 0);
        assert_eq!(
            post_json(&fake.url("k2"), &text).await.json()["errcode"],
            45009
        );
        fake.advance(Duration::from_millis(550));
        assert_eq!(post_json(&fake.url("k2"), &text).await.json()["errcode"], 0);
    }
}
