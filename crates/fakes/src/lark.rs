//! Lark / Feishu custom-bot webhook (`/open-apis/bot/v2/hook/{token}`),
//! channels.md §1. Check order: unknown hook → 19001; body over 20,000 bytes
//! or not JSON → 9499 (HTTP 400); missing/unknown `msg_type` → 19002; wrong
//! shape for the type → 9499 (HTTP 400); signature/timestamp → 19021;
//! keywords → 19024; rate (100/min and 5/s, sliding) → 11232 (HTTP 200).

use crate::platform::{
    Answer, Ctx, Platform, Req, has_keyword, hmac_b64, join_lines, str_at, strings,
};
use serde_json::{Value, json};

pub use crate::platform::{BotSettings, Delivery, FakeBot, ScriptedAnswer};

pub const MAX_BODY_BYTES: usize = 20_000;
pub const CLOCK_WINDOW_SECS: i64 = 3600;

/// Lark's `sign`: Base64(HMAC-SHA256(key = "<ts>\n<secret>", message = "")).
pub fn expected_sign(secret: &str, timestamp_secs: i64) -> String {
    hmac_b64(format!("{timestamp_secs}\n{secret}").as_bytes(), b"")
}

pub(crate) fn error(code: i64, msg: &str) -> Answer {
    Answer::json(200, code, json!({"code": code, "data": {}, "msg": msg}))
}

fn bad_request(msg: &str) -> Answer {
    Answer::json(400, 9499, json!({"code": 9499, "data": {}, "msg": msg}))
}

pub(crate) fn rate_limited() -> Answer {
    error(
        11232,
        "frequency limited psm[lark.oapi.app_platform_runtime]appID[1500]",
    )
}

fn success() -> Answer {
    Answer::json(
        200,
        0,
        json!({"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}),
    )
}

const SIGN_FAIL: &str = "sign match fail or timestamp is not within one hour from current time";

pub(crate) fn handle(ctx: &mut Ctx<'_>, req: &Req<'_>) -> Answer {
    let Some(token) = req.token.filter(|t| !t.is_empty()) else {
        return Answer::text(404, "404 page not found");
    };
    let Some(bot) = ctx.bots.get_mut(token) else {
        return error(
            19001,
            "param invalid: incoming webhook access token invalid",
        );
    };
    if req.body.len() > MAX_BODY_BYTES {
        return bad_request("Bad Request");
    }
    let Ok(body) = serde_json::from_slice::<Value>(req.body) else {
        return bad_request("Bad Request");
    };
    if !body.is_object() {
        return bad_request("Bad Request");
    }
    let msg_type = match body.get("msg_type") {
        Some(Value::String(t)) if !t.is_empty() => t.as_str(),
        _ => return error(19002, "params error, msg_type need"),
    };
    let shape_ok = match msg_type {
        "text" => body.pointer("/content/text").is_some_and(Value::is_string),
        "post" => body
            .pointer("/content/post")
            .and_then(Value::as_object)
            .is_some_and(|o| !o.is_empty()),
        "image" => body
            .pointer("/content/image_key")
            .is_some_and(Value::is_string),
        "share_chat" => body
            .pointer("/content/share_chat_id")
            .is_some_and(Value::is_string),
        "interactive" => body.get("card").is_some_and(Value::is_object),
        _ => return error(19002, "param invalid: msg_type"),
    };
    if !shape_ok {
        return bad_request("Bad Request: fail to parse content");
    }
    if let Some(secret) = &bot.settings.secret {
        let ts = match body.get("timestamp") {
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            Some(Value::Number(n)) => n.as_i64(),
            _ => None,
        };
        let Some(ts) = ts else {
            return error(19021, SIGN_FAIL);
        };
        let fresh = (ctx.now_ms / 1000 - ts).abs() <= CLOCK_WINDOW_SECS;
        let sign = body.get("sign").and_then(Value::as_str).unwrap_or("");
        if !fresh || sign != expected_sign(secret, ts) {
            return error(19021, SIGN_FAIL);
        }
    }
    if !has_keyword(&bot.settings.keywords, &keyword_texts(&body)) {
        return error(19024, "Key Words Not Found");
    }
    if bot.over_rate(Platform::Lark, ctx.now).is_some() {
        return rate_limited();
    }
    bot.record_sent(ctx.now);
    success()
}

/// Key names whose values are not text a person reads.
fn not_text(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k == "href"
        || k.ends_with("url")
        || matches!(
            k.as_str(),
            "tag"
                | "image_key"
                | "img_key"
                | "user_id"
                | "open_id"
                | "template"
                | "template_id"
                | "schema"
                | "id"
        )
}

/// The text-valued fields the keyword check reads: every string in
/// `content` and `card` except links and structural values.
fn keyword_texts(body: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    for field in ["content", "card"] {
        if let Some(v) = body.get(field) {
            strings(v, &not_text, &mut out);
        }
    }
    out
}

/// The message as the group shows it.
pub(crate) fn render(body: &Value) -> String {
    match str_at(body, "/msg_type") {
        "text" => str_at(body, "/content/text").to_string(),
        "post" => {
            let Some(post) = body.pointer("/content/post").and_then(Value::as_object) else {
                return String::new();
            };
            let Some(locale) = post.get("zh_cn").or_else(|| post.values().next()) else {
                return String::new();
            };
            let mut lines = vec![str_at(locale, "/title").to_string()];
            for para in locale
                .get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let mut line = String::new();
                for el in para.as_array().into_iter().flatten() {
                    match str_at(el, "/tag") {
                        "at" => {
                            let name = match str_at(el, "/user_name") {
                                "" => str_at(el, "/user_id"),
                                n => n,
                            };
                            line.push('@');
                            line.push_str(name);
                        }
                        "img" => line.push_str("[image]"),
                        _ => line.push_str(str_at(el, "/text")),
                    }
                }
                lines.push(line);
            }
            join_lines(lines)
        }
        "interactive" => {
            let card = body.get("card").cloned().unwrap_or(Value::Null);
            if str_at(&card, "/type") == "template" {
                return format!("[template card {}]", str_at(&card, "/data/template_id"));
            }
            let mut lines = vec![str_at(&card, "/header/title/content").to_string()];
            let elements = card
                .pointer("/body/elements")
                .or_else(|| card.get("elements"));
            if let Some(elements) = elements {
                card_texts(elements, &mut lines);
            }
            join_lines(lines)
        }
        "image" => "[image]".into(),
        "share_chat" => "[shared chat]".into(),
        _ => String::new(),
    }
}

/// Texts of card elements: `content`/`text` strings and nested ones.
fn card_texts(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| card_texts(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                match x {
                    Value::String(s) if k == "content" || k == "text" => out.push(s.clone()),
                    Value::Object(_) | Value::Array(_) if !not_text(k) => card_texts(x, out),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testutil::post_json;
    use std::time::Duration;

    fn now_s() -> i64 {
        crate::platform::wall_ms() / 1000
    }

    #[test]
    fn sign_vectors() {
        assert_eq!(
            expected_sign("SEC000test", 1_700_000_000),
            "VJoDIs2fdNFeN6NS/KG4L8NIxm+bN/FYQRhY2lP3Mf8="
        );
        assert_eq!(
            expected_sign("demo", 1_599_360_473),
            "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="
        );
        assert_eq!(
            expected_sign("xxx", 1_661_860_880),
            "QnWVTSBe6FmQDE0bG6X0mURbI+DnvVyu1h+j5dHOjrU="
        );
        // The DingTalk construction is wrong for Lark.
        assert_ne!(
            expected_sign("SEC000test", 1_700_000_000),
            "1zXipzbBesby/F8W94Uc5f0VRpYeWW4TrIncFB6eUbI="
        );
    }

    #[tokio::test]
    async fn accepts_a_signed_card_with_keyword_and_renders_it() {
        let fake = FakeBot::lark().await;
        fake.add_bot(
            "hook1",
            BotSettings {
                secret: Some("SEC000test".into()),
                keywords: vec!["FIRING".into()],
                rate: None,
                chats: Vec::new(),
            },
        );
        let ts = now_s();
        let body = json!({
            "timestamp": ts.to_string(),
            "sign": expected_sign("SEC000test", ts),
            "msg_type": "interactive",
            "card": {"header": {"title": {"tag": "plain_text", "content": "[FIRING] DiskFull"}, "template": "red"},
                     "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": "**host** db-1"}}]}
        });
        let a = post_json(&fake.url("hook1"), &body).await;
        assert_eq!(a.status, 200);
        assert_eq!(
            a.json(),
            json!({"StatusCode":0,"StatusMessage":"success","code":0,"data":{},"msg":"success"})
        );
        // A numeric timestamp works too.
        let mut body2 = body.clone();
        body2["timestamp"] = json!(ts);
        assert_eq!(
            post_json(&fake.url("hook1"), &body2).await.json()["code"],
            0
        );
        let acc = fake.wait_for_accepted(2, Duration::from_secs(2)).await;
        assert_eq!(acc.len(), 2);
        assert_eq!(acc[0].token, "hook1");
        assert_eq!(acc[0].code, Some(0));
        assert_eq!(acc[0].rendered_text(), "[FIRING] DiskFull\n**host** db-1");
        let page = crate::sandbox_page(&[&fake]);
        assert!(page.contains("[FIRING] DiskFull"), "{page}");
        let got = crate::platform::testutil::get(&fake.sandbox_url()).await;
        assert!(got.body.contains("**host** db-1"), "{}", got.body);
    }

    #[tokio::test]
    async fn unknown_token_unparsable_and_missing_msg_type() {
        let fake = FakeBot::lark().await;
        fake.add_bot("hook1", BotSettings::default());
        let a = post_json(
            &fake.url("nope"),
            &json!({"msg_type":"text","content":{"text":"hi"}}),
        )
        .await;
        assert_eq!((a.status, a.json()["code"].as_i64()), (200, Some(19001)));
        assert_eq!(
            a.json()["msg"],
            "param invalid: incoming webhook access token invalid"
        );
        let a = crate::platform::testutil::post(&fake.url("hook1"), "msg_type=text").await;
        assert_eq!((a.status, a.json()["code"].as_i64()), (400, Some(9499)));
        let a = post_json(&fake.url("hook1"), &json!({"content":{"text":"hi"}})).await;
        assert_eq!((a.status, a.json()["code"].as_i64()), (200, Some(19002)));
        // content given as a string (a common bug) is refused
        let a = post_json(
            &fake.url("hook1"),
            &json!({"msg_type":"interactive","content":"{}"}),
        )
        .await;
        assert_eq!((a.status, a.json()["code"].as_i64()), (400, Some(9499)));
        let r = fake.received();
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].token, "nope");
        assert_eq!(r[0].code, Some(19001));
        assert!(fake.accepted().is_empty());
    }

    #[tokio::test]
    async fn bad_signature_stale_timestamp_and_dingtalk_construction_are_refused() {
        let fake = FakeBot::lark().await;
        fake.add_bot("h", BotSettings::with_secret("SEC000test"));
        let ts = now_s();
        let text = json!({"text": "hello"});
        let cases = [
            json!({"msg_type":"text","content":text}),
            json!({"msg_type":"text","content":text,"timestamp":ts,"sign":"AAAA"}),
            json!({"msg_type":"text","content":text,"timestamp":ts.to_string(),
                   "sign": hmac_b64(b"SEC000test", format!("{ts}\nSEC000test").as_bytes())}),
            json!({"msg_type":"text","content":text,"timestamp":ts - 3700,
                   "sign": expected_sign("SEC000test", ts - 3700)}),
            json!({"msg_type":"text","content":text,"timestamp":1_700_000_000,
                   "sign":"VJoDIs2fdNFeN6NS/KG4L8NIxm+bN/FYQRhY2lP3Mf8="}),
        ];
        for c in &cases {
            let a = post_json(&fake.url("h"), c).await;
            assert_eq!(a.status, 200);
            assert_eq!(a.json()["code"], 19021, "{c}");
            assert_eq!(a.json()["msg"], SIGN_FAIL);
        }
        // The known vector passes when the fake's clock is at 1700000000.
        fake.set_clock_offset_ms(1_700_000_000_000 - crate::platform::wall_ms());
        let a = post_json(&fake.url("h"), &cases[4]).await;
        assert_eq!(a.json()["code"], 0);
        assert_eq!(fake.received().len(), 6);
        assert_eq!(fake.accepted().len(), 1);
    }

    #[tokio::test]
    async fn keywords_read_text_but_not_links() {
        let fake = FakeBot::lark().await;
        fake.add_bot("h", BotSettings::with_keywords(&["alert"]));
        let link_only = json!({"msg_type":"post","content":{"post":{"zh_cn":{"title":"CPU","content":[[
            {"tag":"a","text":"node-1","href":"https://example/alert"}]]}}}});
        let a = post_json(&fake.url("h"), &link_only).await;
        assert_eq!((a.status, a.json()["code"].as_i64()), (200, Some(19024)));
        assert_eq!(a.json()["msg"], "Key Words Not Found");
        let in_title = json!({"msg_type":"post","content":{"post":{"zh_cn":{"title":"alert: CPU","content":[[
            {"tag":"text","text":"high on "},{"tag":"a","text":"node-1","href":"https://x"},
            {"tag":"at","user_id":"all","user_name":"everyone"}]]}}}});
        let a = post_json(&fake.url("h"), &in_title).await;
        assert_eq!(a.json()["code"], 0);
        assert_eq!(fake.received().len(), 2);
        let acc = fake.accepted();
        assert_eq!(acc.len(), 1);
        assert_eq!(
            acc[0].rendered_text(),
            "alert: CPU\nhigh on node-1@everyone"
        );
    }

    #[tokio::test]
    async fn oversized_body_is_9499_with_http_400() {
        let fake = FakeBot::lark().await;
        fake.add_bot("h", BotSettings::default());
        let big = json!({"msg_type":"text","content":{"text":"x".repeat(MAX_BODY_BYTES)}});
        let a = post_json(&fake.url("h"), &big).await;
        assert_eq!((a.status, a.json()["code"].as_i64()), (400, Some(9499)));
        let just = json!({"msg_type":"text","content":{"text":"x".repeat(MAX_BODY_BYTES - 60)}});
        assert!(just.to_string().len() <= MAX_BODY_BYTES);
        assert_eq!(post_json(&fake.url("h"), &just).await.json()["code"], 0);
        let r = fake.received();
        assert_eq!((r[0].http_status, r[0].code), (400, Some(9499)));
        assert!(!r[0].accepted());
        assert_eq!(fake.accepted().len(), 1);
    }

    #[tokio::test]
    async fn more_than_five_per_second_is_11232_with_http_200() {
        let fake = FakeBot::lark().await;
        fake.add_bot("h", BotSettings::default());
        let msg = json!({"msg_type":"text","content":{"text":"hi"}});
        let mut codes = vec![];
        for _ in 0..6 {
            let a = post_json(&fake.url("h"), &msg).await;
            assert_eq!(a.status, 200);
            codes.push(a.json()["code"].as_i64().unwrap());
        }
        assert_eq!(codes, [0, 0, 0, 0, 0, 11232]);
        assert!(fake.received()[5].answer.contains("frequency limited"));
        assert_eq!(fake.accepted().len(), 5);
        // Scripted answers come before the normal checks.
        fake.script(
            "h",
            [ScriptedAnswer::status(500), ScriptedAnswer::RateLimited],
        );
        let a = post_json(&fake.url("h"), &msg).await;
        assert_eq!(a.status, 500);
        let a = post_json(&fake.url("h"), &msg).await;
        assert_eq!(a.json()["code"], 11232);
        assert_eq!(fake.received().len(), 8);
    }
}
