//! Discord "Execute Webhook" (`POST /api/webhooks/{id}/{token}`, also
//! `/api/v10/webhooks/…`), written from Discord's documentation:
//! <https://discord.com/developers/docs/resources/webhook#execute-webhook>,
//! <https://discord.com/developers/docs/resources/message#embed-object-embed-limits>,
//! <https://discord.com/developers/docs/topics/rate-limits> and
//! <https://discord.com/developers/docs/topics/opcodes-and-status-codes#json>
//! (channels.md §5). A bot is registered under `"{id}/{token}"`.
//!
//! Real HTTP statuses with JSON `{"code", "message"}`. Check order: an id
//! that is not a snowflake → 400 50035 (`webhook_id`); unknown id → 404
//! 10015 Unknown Webhook; known id, other token → 401 50027 Invalid Webhook
//! Token; not JSON → 400 50109; the form (content ≤ 2000 characters, ≤ 10
//! embeds, title ≤ 256, description ≤ 4096, ≤ 25 fields with name ≤ 256
//! and value ≤ 1024 both required, footer ≤ 2048, author ≤ 256, all embed
//! texts ≤ 6000, color 0..=0xFFFFFF, timestamp ISO 8601, urls http(s),
//! allowed_mentions `parse` of users/roles/everyone and not both `parse:
//! ["users"]` and `users`) → 400 50035 Invalid Form Body with an `errors`
//! tree naming each field; no content and no embeds → 400 50006; rate (5
//! per 2 s per webhook, 30 a minute per channel, sliding) → 429 `{"message":
//! "You are being rate limited.", "retry_after": <seconds, float>,
//! "global": false}` with `Retry-After` and `X-RateLimit-*`; success → 204
//! (200 and the message object with `?wait=true`). Characters are counted
//! as Unicode code points.

use crate::platform::{Answer, Ctx, Platform, Req, join_lines, query_param, str_at};
use serde_json::{Map, Value, json};
use std::time::Duration;

pub use crate::platform::{BotSettings, Delivery, FakeBot, ScriptedAnswer};

pub const MAX_CONTENT: usize = 2000;
pub const MAX_EMBEDS: usize = 10;
pub const MAX_TITLE: usize = 256;
pub const MAX_DESCRIPTION: usize = 4096;
pub const MAX_FIELDS: usize = 25;
pub const MAX_FIELD_NAME: usize = 256;
pub const MAX_FIELD_VALUE: usize = 1024;
pub const MAX_FOOTER: usize = 2048;
pub const MAX_AUTHOR: usize = 256;
pub const MAX_EMBED_TOTAL: usize = 6000;

/// `{"code", "message"}` at `status`.
pub(crate) fn error(status: u16, code: i64, message: &str) -> Answer {
    Answer::json(status, code, json!({"code": code, "message": message}))
}

/// The HTTP status Discord answers a JSON code with.
pub(crate) fn status_of(code: i64) -> u16 {
    match code {
        10015 => 404,
        50027 | 0 => 401,
        _ => 400,
    }
}

pub(crate) fn rate_limited(retry_after: Duration) -> Answer {
    let secs = (retry_after.as_secs_f64() * 1000.0).ceil() / 1000.0;
    let mut a = Answer::json(
        429,
        0,
        json!({"message": "You are being rate limited.", "retry_after": secs, "global": false}),
    );
    a.code = None;
    let whole = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    a.headers.extend([
        ("Retry-After".into(), whole.max(1).to_string()),
        ("X-RateLimit-Limit".into(), "5".into()),
        ("X-RateLimit-Remaining".into(), "0".into()),
        ("X-RateLimit-Reset-After".into(), format!("{secs:.3}")),
        ("X-RateLimit-Bucket".into(), "fake-webhook-bucket".into()),
        ("X-RateLimit-Scope".into(), "shared".into()),
    ]);
    a
}

/// `"{id}/{token}"` from `/api/webhooks/{id}/{token}` or
/// `/api/v{n}/webhooks/{id}/{token}`.
pub(crate) fn token_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/api/")?;
    let rest = match rest.split_once('/') {
        Some((v, r)) if v.starts_with('v') && v[1..].bytes().all(|b| b.is_ascii_digit()) => r,
        _ => rest,
    };
    rest.strip_prefix("webhooks/")
        .map(|r| r.trim_end_matches('/').to_string())
}

/// Invalid Form Body with one error per `(path, code, message)`.
fn form_errors(problems: &[(Vec<String>, &str, String)]) -> Answer {
    let mut errors = Value::Object(Map::new());
    for (path, code, message) in problems {
        let mut at = &mut errors;
        for p in path {
            at = at
                .as_object_mut()
                .expect("an errors tree is objects")
                .entry(p.clone())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        let list = at
            .as_object_mut()
            .expect("an errors tree is objects")
            .entry("_errors")
            .or_insert_with(|| json!([]));
        if let Some(l) = list.as_array_mut() {
            l.push(json!({"code": code, "message": message}));
        }
    }
    Answer::json(
        400,
        50035,
        json!({"code": 50035, "message": "Invalid Form Body", "errors": errors}),
    )
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// A loose ISO 8601 check: `YYYY-MM-DDTHH:MM:SS` then an optional fraction
/// and a zone.
fn iso8601(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b' ')
        && b[13] == b':'
        && b[16] == b':'
        && s[19..]
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'Z' | '+' | '-' | ':'))
}

/// Every form problem of the body, as Discord's `errors` tree names them.
fn check_form(body: &Value) -> Vec<(Vec<String>, &'static str, String)> {
    let mut out = Vec::new();
    let p = |parts: &[&str]| parts.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let max_len = |n: usize| format!("Must be {n} or fewer in length.");
    match body.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            if chars(s) > MAX_CONTENT {
                out.push((
                    p(&["content"]),
                    "BASE_TYPE_MAX_LENGTH",
                    max_len(MAX_CONTENT),
                ));
            }
        }
        Some(_) => out.push((
            p(&["content"]),
            "BASE_TYPE_STRING",
            "Must be a string.".into(),
        )),
    }
    let embeds = body.get("embeds").and_then(Value::as_array);
    if let Some(list) = embeds {
        if list.len() > MAX_EMBEDS {
            out.push((p(&["embeds"]), "BASE_TYPE_MAX_LENGTH", max_len(MAX_EMBEDS)));
        }
        let mut total = 0;
        for (i, e) in list.iter().enumerate() {
            let i = i.to_string();
            // (path under the embed, limit, text)
            let mut parts: Vec<(Vec<String>, usize, &str)> = Vec::new();
            for (key, max, pointer) in [
                (&["title"][..], MAX_TITLE, "/title"),
                (&["description"][..], MAX_DESCRIPTION, "/description"),
                (&["footer", "text"][..], MAX_FOOTER, "/footer/text"),
                (&["author", "name"][..], MAX_AUTHOR, "/author/name"),
            ] {
                if let Some(s) = e.pointer(pointer).and_then(Value::as_str) {
                    parts.push((p(key), max, s));
                }
            }
            let fields = e.get("fields").and_then(Value::as_array);
            for (j, f) in fields.into_iter().flatten().enumerate() {
                let j = j.to_string();
                for (key, max) in [("name", MAX_FIELD_NAME), ("value", MAX_FIELD_VALUE)] {
                    match f.get(key).and_then(Value::as_str) {
                        Some(s) if !s.trim().is_empty() => {
                            parts.push((p(&["fields", &j, key]), max, s));
                        }
                        _ => out.push((
                            p(&["embeds", &i, "fields", &j, key]),
                            "BASE_TYPE_REQUIRED",
                            "This field is required".into(),
                        )),
                    }
                }
            }
            for (key, max, s) in parts {
                total += chars(s);
                if chars(s) > max {
                    let mut path = p(&["embeds", &i]);
                    path.extend(key);
                    out.push((path, "BASE_TYPE_MAX_LENGTH", max_len(max)));
                }
            }
            if fields.is_some_and(|f| f.len() > MAX_FIELDS) {
                out.push((
                    p(&["embeds", &i, "fields"]),
                    "BASE_TYPE_MAX_LENGTH",
                    max_len(MAX_FIELDS),
                ));
            }
            if let Some(c) = e.get("color")
                && c.as_u64().is_none_or(|c| c > 0xFF_FF_FF)
            {
                out.push((
                    p(&["embeds", &i, "color"]),
                    "NUMBER_TYPE_MAX",
                    "int value should be less than or equal to 16777215.".into(),
                ));
            }
            if let Some(t) = e.get("timestamp").and_then(Value::as_str)
                && !iso8601(t)
            {
                out.push((
                    p(&["embeds", &i, "timestamp"]),
                    "DATE_TYPE_PARSE",
                    format!("Could not parse {t}. Should be ISO8601."),
                ));
            }
            if let Some(u) = e.get("url").and_then(Value::as_str)
                && !(u.starts_with("http://") || u.starts_with("https://"))
            {
                out.push((
                    p(&["embeds", &i, "url"]),
                    "URL_TYPE_INVALID_SCHEME",
                    "Scheme must be one of ('http', 'https').".into(),
                ));
            }
        }
        if total > MAX_EMBED_TOTAL {
            out.push((
                p(&["embeds"]),
                "MAX_EMBED_SIZE_EXCEEDED",
                format!("Embed size exceeds maximum size of {MAX_EMBED_TOTAL}"),
            ));
        }
    }
    if let Some(am) = body.get("allowed_mentions") {
        let parse: Vec<&str> = am
            .get("parse")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for (n, x) in parse.iter().enumerate() {
            if !["users", "roles", "everyone"].contains(x) {
                out.push((
                    p(&["allowed_mentions", "parse", &n.to_string()]),
                    "BASE_TYPE_CHOICES",
                    "Value must be one of ('roles', 'users', 'everyone').".into(),
                ));
            }
        }
        for kind in ["users", "roles"] {
            let listed = am
                .get(kind)
                .and_then(Value::as_array)
                .is_some_and(|l| !l.is_empty());
            if listed && parse.contains(&kind) {
                out.push((
                    p(&["allowed_mentions"]),
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    format!("parse:[\"{kind}\"] and {kind}: [ids...] are mutually exclusive."),
                ));
            }
        }
    }
    out
}

pub(crate) fn handle(ctx: &mut Ctx<'_>, req: &Req<'_>) -> Answer {
    let key = req.token.unwrap_or("");
    let (id, _) = key.split_once('/').unwrap_or((key, ""));
    if !id.is_empty() && !id.bytes().all(|b| b.is_ascii_digit()) {
        return form_errors(&[(
            vec!["webhook_id".into()],
            "NUMBER_TYPE_COERCE",
            format!("Value \"{id}\" is not snowflake."),
        )]);
    }
    if req.method != axum::http::Method::POST {
        return error(405, 0, "405: Method Not Allowed");
    }
    if !ctx.bots.contains_key(key) {
        let prefix = format!("{id}/");
        return if !id.is_empty() && ctx.bots.keys().any(|k| k.starts_with(&prefix)) {
            error(401, 50027, "Invalid Webhook Token")
        } else {
            error(404, 10015, "Unknown Webhook")
        };
    }
    let body = match serde_json::from_slice::<Value>(req.body) {
        Ok(v) if v.is_object() => v,
        _ => return error(400, 50109, "The request body contains invalid JSON."),
    };
    let problems = check_form(&body);
    if !problems.is_empty() {
        return form_errors(&problems);
    }
    let content = str_at(&body, "/content");
    let embeds = body
        .get("embeds")
        .and_then(Value::as_array)
        .is_some_and(|e| !e.is_empty());
    if content.trim().is_empty() && !embeds {
        return error(400, 50006, "Cannot send an empty message");
    }
    let Some(bot) = ctx.bots.get_mut(key) else {
        return error(404, 10015, "Unknown Webhook");
    };
    if let Some(wait) = bot.over_rate(Platform::Discord, ctx.now) {
        return rate_limited(wait);
    }
    bot.record_sent(ctx.now);
    let remaining = 5usize.saturating_sub(bot.sent_within(ctx.now, Duration::from_secs(2)));
    let limits = [
        ("X-RateLimit-Limit".to_string(), "5".to_string()),
        ("X-RateLimit-Remaining".to_string(), remaining.to_string()),
        ("X-RateLimit-Reset-After".to_string(), "2.000".to_string()),
        (
            "X-RateLimit-Bucket".to_string(),
            "fake-webhook-bucket".to_string(),
        ),
    ];
    let mut answer = if query_param(req.query, "wait").as_deref() == Some("true") {
        let mut m = body.clone();
        m["id"] = json!(ctx.request_id.clone());
        m["webhook_id"] = json!(id);
        m["type"] = json!(0);
        let mut a = Answer::json(200, 0, m);
        a.code = None;
        a
    } else {
        Answer {
            status: 204,
            headers: vec![],
            body: String::new(),
            code: None,
        }
    };
    answer.headers.extend(limits);
    answer
}

/// Discord hides a backslash before any ASCII punctuation and shows the
/// character itself.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(n) = chars.peek().copied()
            && n.is_ascii_punctuation()
        {
            out.push(n);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// Text for syntax detection: every escaped character (`\X`) becomes U+FFFC,
/// which opens nothing.
pub(crate) fn inert_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(n) = chars.peek().copied()
            && n.is_ascii_punctuation()
        {
            out.push('\u{FFFC}');
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// Every text Discord shows: `content`, then each embed's author, title,
/// description, fields and footer, as `(parses markdown links, text)`.
pub(crate) fn texts(body: &Value) -> Vec<(bool, &str)> {
    let mut out = vec![(true, str_at(body, "/content"))];
    for e in body
        .get("embeds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push((false, str_at(e, "/author/name")));
        out.push((false, str_at(e, "/title")));
        out.push((true, str_at(e, "/description")));
        for f in e
            .get("fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push((false, str_at(f, "/name")));
            out.push((true, str_at(f, "/value")));
        }
        out.push((false, str_at(e, "/footer/text")));
    }
    out
}

/// Who Discord actually pings: mentions in `content` only (never in
/// embeds), as `allowed_mentions` permits (absent: everything parses).
pub fn pings(body: &Value) -> Vec<String> {
    let am = body.get("allowed_mentions");
    let parse: Vec<&str> = match am {
        None => vec!["users", "roles", "everyone"],
        Some(a) => a
            .get("parse")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect(),
    };
    let listed = |kind: &str, id: &str| {
        am.and_then(|a| a.get(kind))
            .and_then(Value::as_array)
            .is_some_and(|l| l.iter().any(|x| x.as_str() == Some(id)))
    };
    let mut out = Vec::new();
    for m in crate::reading::discord_mentions(&inert_escapes(str_at(body, "/content"))) {
        let ok = match m.as_str() {
            "everyone" | "here" => parse.contains(&"everyone"),
            role if role.starts_with('&') => {
                parse.contains(&"roles") || listed("roles", &role[1..])
            }
            user => parse.contains(&"users") || listed("users", user),
        };
        if ok {
            out.push(m);
        }
    }
    out
}

/// The message as the channel shows it (escapes hidden).
pub(crate) fn render(body: &Value) -> String {
    let mut lines = vec![unescape(str_at(body, "/content"))];
    for e in body
        .get("embeds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        lines.push(str_at(e, "/author/name").to_string());
        lines.push(unescape(str_at(e, "/title")));
        lines.push(unescape(str_at(e, "/description")));
        for f in e
            .get("fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            lines.push(format!(
                "{}: {}",
                unescape(str_at(f, "/name")),
                unescape(str_at(f, "/value"))
            ));
        }
        lines.push(str_at(e, "/footer/text").to_string());
    }
    join_lines(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testutil::{post, post_json};

    const BOT: &str = "123456789012345678/tok-en_1";

    fn embed(description: &str) -> Value {
        json!({"embeds": [{"title": "t", "description": description, "color": 14233637,
            "timestamp": "2026-11-29T02:00:00Z", "footer": {"text": "Tocsin"}}],
            "allowed_mentions": {"parse": []}})
    }

    #[tokio::test]
    async fn accepts_an_embed_with_204_or_200_with_wait() {
        let fake = FakeBot::discord().await;
        fake.add_bot(BOT, BotSettings::default());
        let url = fake.url(BOT);
        assert!(
            url.ends_with("/api/webhooks/123456789012345678/tok-en_1"),
            "{url}"
        );
        let a = post_json(&url, &embed("a \\*b\\* \\[x\\]\\(y\\)")).await;
        assert_eq!((a.status, a.body.as_str()), (204, ""));
        assert_eq!(a.headers.get("x-ratelimit-limit").unwrap(), "5");
        assert_eq!(a.headers.get("x-ratelimit-remaining").unwrap(), "4");
        let a = post_json(&format!("{url}?wait=true"), &embed("second")).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.json()["webhook_id"], "123456789012345678");
        assert_eq!(a.json()["embeds"][0]["description"], "second");
        let acc = fake.wait_for_accepted(2, Duration::from_secs(2)).await;
        assert_eq!(acc.len(), 2);
        assert_eq!(acc[0].token, BOT);
        assert_eq!(acc[0].code, None);
        assert_eq!(acc[0].rendered_text(), "t\na *b* [x](y)\nTocsin");
        // Escaped, the brackets make no link.
        assert!(acc[0].links().is_empty(), "{:?}", acc[0].links());
    }

    #[tokio::test]
    async fn unknown_webhook_wrong_token_bad_id_and_bad_json() {
        let fake = FakeBot::discord().await;
        fake.add_bot(BOT, BotSettings::default());
        let a = post_json(&fake.url("999/x"), &embed("x")).await;
        assert_eq!(a.status, 404);
        assert_eq!(
            a.json(),
            json!({"code": 10015, "message": "Unknown Webhook"})
        );
        let a = post_json(&fake.url("123456789012345678/wrong"), &embed("x")).await;
        assert_eq!(a.status, 401);
        assert_eq!(
            a.json(),
            json!({"code": 50027, "message": "Invalid Webhook Token"})
        );
        let a = post_json(&fake.url("abc/x"), &embed("x")).await;
        assert_eq!((a.status, a.json()["code"].as_i64()), (400, Some(50035)));
        assert_eq!(
            a.json()["errors"]["webhook_id"]["_errors"][0]["message"],
            "Value \"abc\" is not snowflake."
        );
        let a = post(&fake.url(BOT), "{not json").await;
        assert_eq!((a.status, a.json()["code"].as_i64()), (400, Some(50109)));
        let a = post_json(&fake.url(BOT), &json!({"content": "  "})).await;
        assert_eq!(a.status, 400);
        assert_eq!(
            a.json(),
            json!({"code": 50006, "message": "Cannot send an empty message"})
        );
        let r = fake.received();
        assert_eq!(
            r.iter()
                .map(|d| (d.http_status, d.code))
                .collect::<Vec<_>>(),
            [
                (404, Some(10015)),
                (401, Some(50027)),
                (400, Some(50035)),
                (400, Some(50109)),
                (400, Some(50006))
            ]
        );
        assert!(fake.accepted().is_empty());
    }

    #[tokio::test]
    async fn limits_answer_50035_naming_the_field() {
        let fake = FakeBot::discord().await;
        fake.add_bot(
            BOT,
            BotSettings {
                rate: Some(vec![(100, Duration::from_secs(1))]),
                ..BotSettings::default()
            },
        );
        let url = fake.url(BOT);
        // 4096 characters (8192 bytes) is fine: the limit counts characters.
        let a = post_json(&url, &embed(&"é".repeat(4096))).await;
        assert_eq!(a.status, 204, "{}", a.body);
        let a = post_json(&url, &embed(&"é".repeat(4097))).await;
        assert_eq!(a.status, 400);
        assert_eq!(
            a.json()["errors"]["embeds"]["0"]["description"]["_errors"][0],
            json!({"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 4096 or fewer in length."})
        );
        let fields: Vec<Value> = (0..2)
            .map(|_| json!({"name": "n", "value": "v".repeat(1025)}))
            .collect();
        let a = post_json(&url, &json!({"embeds": [{"title": "t", "fields": fields}]})).await;
        assert!(
            a.json()["errors"]["embeds"]["0"]["fields"]["1"]["value"]["_errors"].is_array(),
            "{}",
            a.body
        );
        // Each part within its limit, 6001 in all.
        let fields: Vec<Value> = (0..2)
            .map(|_| json!({"name": "n", "value": "v".repeat(1000)}))
            .collect();
        let big = json!({"embeds": [{"title": "t".repeat(3), "description": "d".repeat(3996), "fields": fields}]});
        let a = post_json(&url, &big).await;
        assert_eq!(
            a.json()["errors"]["embeds"]["_errors"][0]["code"],
            "MAX_EMBED_SIZE_EXCEEDED",
            "{}",
            a.body
        );
        let a = post_json(&url, &json!({"content": "x".repeat(2001)})).await;
        assert!(
            a.json()["errors"]["content"]["_errors"].is_array(),
            "{}",
            a.body
        );
        let a = post_json(
            &url,
            &json!({"content": "x", "allowed_mentions": {"parse": ["users"], "users": ["1"]}}),
        )
        .await;
        assert_eq!(a.json()["code"], 50035, "{}", a.body);
        let a = post_json(
            &url,
            &json!({"embeds": [{"title": "t", "timestamp": "yesterday", "color": 16777216}]}),
        )
        .await;
        let e = &a.json()["errors"]["embeds"]["0"];
        assert!(
            e["timestamp"]["_errors"].is_array() && e["color"]["_errors"].is_array(),
            "{}",
            a.body
        );
        assert_eq!(fake.accepted().len(), 1);
    }

    #[tokio::test]
    async fn more_than_5_in_2_seconds_is_429_with_retry_after() {
        let fake = FakeBot::discord().await;
        fake.use_manual_clock();
        fake.add_bot(BOT, BotSettings::default());
        for _ in 0..5 {
            assert_eq!(post_json(&fake.url(BOT), &embed("x")).await.status, 204);
        }
        let a = post_json(&fake.url(BOT), &embed("x")).await;
        assert_eq!(a.status, 429);
        assert_eq!(
            a.json(),
            json!({"message": "You are being rate limited.", "retry_after": 2.0, "global": false})
        );
        assert_eq!(a.headers.get("retry-after").unwrap(), "2");
        assert_eq!(a.headers.get("x-ratelimit-remaining").unwrap(), "0");
        fake.advance(Duration::from_millis(1500));
        let a = post_json(&fake.url(BOT), &embed("x")).await;
        assert_eq!(a.json()["retry_after"], 0.5);
        fake.advance(Duration::from_millis(500));
        assert_eq!(post_json(&fake.url(BOT), &embed("x")).await.status, 204);
        // 30 a minute into the channel.
        for _ in 0..12 {
            fake.advance(Duration::from_secs(2));
            for _ in 0..2 {
                post_json(&fake.url(BOT), &embed("x")).await;
            }
        }
        assert_eq!(fake.accepted().len(), 30);
        fake.advance(Duration::from_secs(2));
        assert_eq!(post_json(&fake.url(BOT), &embed("x")).await.status, 429);
    }

    #[test]
    fn pings_follow_allowed_mentions_and_content_only() {
        let body = json!({"content": "<@1> <@&2> @everyone \\<@3>",
            "embeds": [{"description": "<@4>"}], "allowed_mentions": {"parse": [], "users": ["1"]}});
        assert_eq!(pings(&body), ["1"]);
        let body = json!({"content": "<@1> <@&2> @here"});
        assert_eq!(pings(&body), ["1", "&2", "here"]);
    }
}
