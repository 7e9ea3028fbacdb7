//! DingTalk custom-robot webhook (`/robot/send?access_token={token}`),
//! channels.md §3. Always HTTP 200. Check order: GET → 43002; missing token →
//! 40035; unknown token → 300005; robot throttled (10 minutes after exceeding
//! the rate) → 130101; when signing is on, query `timestamp` (ms, ±1 h) →
//! 310000 `invalid timestamp` and `sign` → 310000 `sign not match`; body over
//! 20,000 bytes → 460101; non-JSON or unsupported `msgtype` → 400105;
//! keywords → 310000 `keywords not in content`; rate (20/min, sliding) →
//! 130101, and the robot then answers 130101 to everything for 10 minutes.
//!
//! The query is form-decoded like the real server's: a raw `+` in `sign`
//! becomes a space, so a sign that was not percent-encoded fails.

use crate::platform::{
    Answer, Ctx, Platform, Req, has_keyword, hmac_b64, join_lines, query_param, str_at, strings,
};
use serde_json::{Value, json};
use std::time::Duration;

pub use crate::platform::{BotSettings, Delivery, FakeBot, ScriptedAnswer};

pub const MAX_BODY_BYTES: usize = 20_000;
pub const CLOCK_WINDOW_MS: i64 = 3_600_000;
pub const BLOCK_FOR: Duration = Duration::from_secs(600);

const MSGTYPES: [&str; 5] = ["text", "markdown", "link", "actionCard", "feedCard"];

/// DingTalk's sign before URL-encoding:
/// Base64(HMAC-SHA256(key = secret, message = "<ts_ms>\n<secret>")).
pub fn expected_sign(secret: &str, timestamp_ms: i64) -> String {
    hmac_b64(
        secret.as_bytes(),
        format!("{timestamp_ms}\n{secret}").as_bytes(),
    )
}

pub(crate) fn error(code: i64, msg: &str) -> Answer {
    Answer::json(200, code, json!({"errcode": code, "errmsg": msg}))
}

/// The x5 anti-abuse throttle's answer, as captured: HTTP 200 with no
/// `errcode` (channels.md). Its `wait` of 5 s is not what happens: the robot
/// is blocked for about 10 minutes. Scripted with [`crate::FakeBot::script`].
pub fn x5_throttle() -> crate::ScriptedAnswer {
    crate::ScriptedAnswer::Http {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: X5_THROTTLE_BODY.into(),
    }
}

pub const X5_THROTTLE_BODY: &str = r#"{"status":1111,"wait":5,"source":"x5","punish":"deny","uuid":"0b8f3e5a-4c1d-4f2e-9a7b-1c2d3e4f5a6b"}"#;

pub(crate) fn rate_limited() -> Answer {
    error(130101, "send too fast, exceed 20 times per minute")
}

pub(crate) fn handle(ctx: &mut Ctx<'_>, req: &Req<'_>) -> Answer {
    if *req.method != axum::http::Method::POST {
        return error(43002, "需要POST请求");
    }
    if req.path != "/robot/send" {
        return Answer::text(404, "404 Not Found");
    }
    let Some(token) = req.token.filter(|t| !t.is_empty()) else {
        return error(40035, "缺少参数 access_token");
    };
    let now = ctx.now;
    let now_ms = ctx.now_ms;
    let Some(bot) = ctx.bots.get_mut(token) else {
        return error(300005, "token is not exist");
    };
    if bot.blocked_until.is_some_and(|until| now < until) {
        return rate_limited();
    }
    if let Some(secret) = &bot.settings.secret {
        let ts = query_param(req.query, "timestamp").and_then(|t| t.parse::<i64>().ok());
        let Some(ts) = ts.filter(|ts| (now_ms - ts).abs() <= CLOCK_WINDOW_MS) else {
            return error(310000, "invalid timestamp");
        };
        let sign = query_param(req.query, "sign").unwrap_or_default();
        if sign != expected_sign(secret, ts) {
            return error(310000, "sign not match");
        }
    }
    if req.body.len() > MAX_BODY_BYTES {
        return error(460101, "message too long, exceed 20000 bytes");
    }
    let body = serde_json::from_slice::<Value>(req.body).unwrap_or(Value::Null);
    let msgtype = str_at(&body, "/msgtype");
    let Some(obj) = body.get(msgtype).filter(|_| MSGTYPES.contains(&msgtype)) else {
        return error(400105, "不支持的消息类型");
    };
    let mut texts = Vec::new();
    strings(obj, &|_| false, &mut texts);
    if !has_keyword(&bot.settings.keywords, &texts) {
        return error(310000, "keywords not in content");
    }
    if bot.over_rate(Platform::DingTalk, now).is_some() {
        bot.blocked_until = Some(now + BLOCK_FOR);
        return rate_limited();
    }
    bot.record_sent(now);
    error(0, "ok")
}

/// The message as the group shows it.
pub(crate) fn render(body: &Value) -> String {
    let msgtype = str_at(body, "/msgtype");
    let obj = body.get(msgtype).unwrap_or(&Value::Null);
    match msgtype {
        "text" => str_at(obj, "/content").to_string(),
        "markdown" | "link" => join_lines([str_at(obj, "/title"), str_at(obj, "/text")]),
        "actionCard" => {
            let mut lines = vec![
                str_at(obj, "/title").to_string(),
                str_at(obj, "/text").to_string(),
                str_at(obj, "/singleTitle").to_string(),
            ];
            for b in obj
                .get("btns")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                lines.push(format!("[{}]", str_at(b, "/title")));
            }
            join_lines(lines)
        }
        "feedCard" => join_lines(
            obj.get("links")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|l| str_at(l, "/title")),
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testutil::{post, post_json};

    const VECTOR: &str = "1hLl2KkRX3rps9FaitIUwaac+CtAFEaP345jvdrTL7c=";
    const VECTOR_Q: &str = "1hLl2KkRX3rps9FaitIUwaac%2BCtAFEaP345jvdrTL7c%3D";

    fn text(s: &str) -> Value {
        json!({"msgtype":"text","text":{"content":s}})
    }

    fn signed_url(fake: &FakeBot, token: &str, ts: i64, sign: &str) -> String {
        format!("{}&timestamp={ts}&sign={sign}", fake.url(token))
    }

    #[test]
    fn sign_vector() {
        assert_eq!(expected_sign("SEC000test", 1_700_000_000_000), VECTOR);
        assert_ne!(
            expected_sign("SEC000test", 1_700_000_000),
            "Y+DQk62M4QSCM/rfDnu0q/V2PF0cZ2dAbUZwXv7rCgA="
        );
        assert_eq!(
            query_param(Some(&format!("sign={VECTOR_Q}")), "sign").as_deref(),
            Some(VECTOR)
        );
    }

    #[tokio::test]
    async fn accepts_a_signed_markdown_with_keyword() {
        let fake = FakeBot::dingtalk().await;
        fake.add_bot(
            "t1",
            BotSettings {
                secret: Some("SEC000test".into()),
                keywords: vec!["FIRING".into()],
                rate: None,
                chats: Vec::new(),
            },
        );
        fake.set_clock_offset_ms(1_700_000_000_000 - crate::platform::wall_ms());
        let body = json!({"msgtype":"markdown","markdown":{"title":"[FIRING] Disk","text":"#### Disk\n> 95% on db-1"}});
        let a = post_json(&signed_url(&fake, "t1", 1_700_000_000_000, VECTOR_Q), &body).await;
        assert_eq!(
            (a.status, a.json()),
            (200, json!({"errcode":0,"errmsg":"ok"}))
        );
        let acc = fake.wait_for_accepted(1, Duration::from_secs(2)).await;
        assert_eq!(acc.len(), 1);
        assert_eq!(acc[0].token, "t1");
        assert_eq!(
            acc[0].rendered_text(),
            "[FIRING] Disk\n#### Disk\n> 95% on db-1"
        );
    }

    #[tokio::test]
    async fn missing_and_unknown_token_and_get() {
        let fake = FakeBot::dingtalk().await;
        fake.add_bot("t1", BotSettings::default());
        let base = format!("http://{}/robot/send", fake.addr());
        let a = post_json(&base, &text("hi")).await;
        assert_eq!((a.status, a.json()["errcode"].as_i64()), (200, Some(40035)));
        let a = post_json(&fake.url("nope"), &text("hi")).await;
        assert_eq!(
            (a.status, a.json()),
            (200, json!({"errcode":300005,"errmsg":"token is not exist"}))
        );
        let a = crate::platform::testutil::get(&fake.url("t1")).await;
        assert_eq!(a.json()["errcode"], 43002);
        let a = post_json(&fake.url("t1"), &json!({"msgtype":"card","card":{"x":"y"}})).await;
        assert_eq!(a.json()["errcode"], 400105);
        let r = fake.received();
        assert_eq!(r.len(), 4);
        assert_eq!(r[1].token, "nope");
        assert!(fake.accepted().is_empty());
    }

    #[tokio::test]
    async fn bad_signatures_are_310000() {
        let fake = FakeBot::dingtalk().await;
        fake.add_bot("t1", BotSettings::with_secret("SEC000test"));
        fake.set_clock_offset_ms(1_700_000_000_000 - crate::platform::wall_ms());
        let ts = 1_700_000_000_000;
        let cases = [
            // unencoded '+' turns into a space
            (signed_url(&fake, "t1", ts, VECTOR), "sign not match"),
            // the Lark construction
            (
                signed_url(
                    &fake,
                    "t1",
                    ts,
                    "Y%2BDQk62M4QSCM%2FrfDnu0q%2FV2PF0cZ2dAbUZwXv7rCgA%3D",
                ),
                "sign not match",
            ),
            // double-encoded (the Apprise bug)
            (
                signed_url(
                    &fake,
                    "t1",
                    ts,
                    "1hLl2KkRX3rps9FaitIUwaac%252BCtAFEaP345jvdrTL7c%253D",
                ),
                "sign not match",
            ),
            // seconds instead of ms
            (
                signed_url(
                    &fake,
                    "t1",
                    1_700_000_000,
                    "1zXipzbBesby%2FF8W94Uc5f0VRpYeWW4TrIncFB6eUbI%3D",
                ),
                "invalid timestamp",
            ),
            (fake.url("t1"), "invalid timestamp"),
            (
                format!("{}&timestamp={ts}", fake.url("t1")),
                "sign not match",
            ),
        ];
        for (url, msg) in &cases {
            let a = post_json(url, &text("hi")).await;
            assert_eq!(a.status, 200);
            assert_eq!(a.json(), json!({"errcode":310000,"errmsg":msg}), "{url}");
        }
        // The right sign, but the fake's clock is two hours later.
        fake.set_clock_offset_ms(1_700_000_000_000 + 7_200_000 - crate::platform::wall_ms());
        let a = post_json(&signed_url(&fake, "t1", ts, VECTOR_Q), &text("hi")).await;
        assert_eq!(a.json()["errmsg"], "invalid timestamp");
        assert_eq!(fake.received().len(), cases.len() + 1);
        assert!(fake.accepted().is_empty());
    }

    #[tokio::test]
    async fn keywords_scan_the_message_object() {
        let fake = FakeBot::dingtalk().await;
        fake.add_bot("t1", BotSettings::with_keywords(&["告警", "alert"]));
        let a = post_json(&fake.url("t1"), &text("disk full")).await;
        assert_eq!(
            a.json(),
            json!({"errcode":310000,"errmsg":"keywords not in content"})
        );
        // The `at` object is outside the message object.
        let a = post_json(
            &fake.url("t1"),
            &json!({"msgtype":"text","text":{"content":"disk"},"at":{"atUserIds":["alert"]}}),
        )
        .await;
        assert_eq!(a.json()["errcode"], 310000);
        let a = post_json(&fake.url("t1"), &text("磁盘告警")).await;
        assert_eq!(a.json()["errcode"], 0);
        assert_eq!(fake.received().len(), 3);
        assert_eq!(fake.accepted().len(), 1);
        assert_eq!(fake.accepted()[0].rendered_text(), "磁盘告警");
    }

    #[tokio::test]
    async fn oversized_is_460101() {
        let fake = FakeBot::dingtalk().await;
        fake.add_bot("t1", BotSettings::default());
        let a = post_json(&fake.url("t1"), &text(&"x".repeat(MAX_BODY_BYTES))).await;
        assert_eq!(
            (a.status, a.json()),
            (
                200,
                json!({"errcode":460101,"errmsg":"message too long, exceed 20000 bytes"})
            )
        );
        let a = post(&fake.url("t1"), "not json").await;
        assert_eq!(a.json()["errcode"], 400105);
        assert_eq!(fake.received()[0].code, Some(460101));
        assert!(fake.accepted().is_empty());
    }

    #[tokio::test]
    async fn exceeding_20_per_minute_blocks_for_10_minutes() {
        let fake = FakeBot::dingtalk().await;
        fake.add_bot("t1", BotSettings::default());
        fake.add_bot(
            "t2",
            BotSettings {
                rate: Some(vec![(1, Duration::from_millis(500))]),
                ..BotSettings::default()
            },
        );
        for _ in 0..20 {
            assert_eq!(
                post_json(&fake.url("t1"), &text("hi")).await.json()["errcode"],
                0
            );
        }
        let a = post_json(&fake.url("t1"), &text("hi")).await;
        assert_eq!(
            (a.status, a.json()),
            (
                200,
                json!({"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"})
            )
        );
        // Blocked even once the window has room again (short window on t2).
        assert_eq!(
            post_json(&fake.url("t2"), &text("a")).await.json()["errcode"],
            0
        );
        assert_eq!(
            post_json(&fake.url("t2"), &text("b")).await.json()["errcode"],
            130101
        );
        fake.advance(Duration::from_millis(550));
        assert_eq!(
            post_json(&fake.url("t2"), &text("c")).await.json()["errcode"],
            130101
        );
        // Even a request that would otherwise be refused for another reason.
        assert_eq!(
            post(&fake.url("t2"), "junk").await.json()["errcode"],
            130101
        );
        fake.reset_rate("t2");
        assert_eq!(
            post_json(&fake.url("t2"), &text("d")).await.json()["errcode"],
            0
        );
        assert_eq!(fake.received().len(), 26);
        assert_eq!(fake.accepted().len(), 22);
    }
}
