//! Telegram Bot API `sendMessage` (`POST /bot<token>/sendMessage`), written
//! from Telegram's documentation: <https://core.telegram.org/bots/api#sendmessage>,
//! <https://core.telegram.org/bots/api#formatting-options> (HTML style),
//! <https://core.telegram.org/bots/api#making-requests> (the answer's
//! shape), <https://core.telegram.org/bots/api#responseparameters> and
//! <https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this>
//! (channels.md §5). A bot is registered under its token
//! (`123456789:AAH…`); [`BotSettings::chats`] lists the chats it is in
//! (empty: any chat).
//!
//! Every answer is JSON with the HTTP status equal to `error_code`:
//! `{"ok": true, "result": <Message>}` or `{"ok": false, "error_code",
//! "description", "parameters"?}`. Check order: a path that is not
//! `/bot<id>:<key>/<method>` → 404 Not Found; a method other than
//! sendMessage → 404 Not Found; unknown token → 401 Unauthorized; body not
//! JSON or no `chat_id` → 400 "Bad Request: chat_id is empty"; a chat the
//! bot is not in → 400 "Bad Request: chat not found"; no `text` → 400
//! "Bad Request: message text is empty"; `parse_mode` other than HTML (or
//! none) → 400 "Bad Request: unsupported parse_mode"; HTML that does not
//! parse (unknown tag, `a` without `href`, a tag left open or closed out of
//! order, an unknown `&entity;`, a bare `<`) → 400 "Bad Request: can't parse
//! entities: …" naming the byte offset; the text after entity parsing
//! empty → 400 "message text is empty", longer than 4096 UTF-16 code units
//! → 400 "Bad Request: message is too long"; rate (1 a second and 20 a
//! minute per bot here: the tests give each bot one chat) → 429
//! "Too Many Requests: retry after N" with `parameters.retry_after`.

use crate::platform::{Answer, Ctx, Platform, Req, str_at};
use serde_json::{Value, json};
use std::time::Duration;

pub use crate::platform::{BotSettings, Delivery, FakeBot, ScriptedAnswer};

pub const MAX_TEXT: usize = 4096;

const TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-spoiler",
    "span",
    "tg-emoji",
];

/// `{"ok": false, "error_code", "description"}` at that status.
pub(crate) fn error(code: i64, description: &str) -> Answer {
    let status = u16::try_from(code)
        .ok()
        .filter(|s| (400..600).contains(s))
        .unwrap_or(400);
    Answer::json(
        status,
        code,
        json!({"ok": false, "error_code": code, "description": description}),
    )
}

pub(crate) fn rate_limited(retry_after: Duration) -> Answer {
    let secs = (retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)).max(1);
    Answer::json(
        429,
        429,
        json!({"ok": false, "error_code": 429,
            "description": format!("Too Many Requests: retry after {secs}"),
            "parameters": {"retry_after": secs}}),
    )
}

/// The token of `/bot<token>/<method>`.
pub(crate) fn token_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/bot")?;
    let (token, _) = rest.split_once('/')?;
    Some(token.to_string())
}

fn well_formed(token: &str) -> bool {
    token.split_once(':').is_some_and(|(id, key)| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
            && !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

/// A piece of a parsed HTML message.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Text(String),
    /// A tag opened, with its `href` (links and `tg://user?id=` mentions).
    Open(String, Option<String>),
    Close(String),
}

fn attr_value(attrs: &str, name: &str) -> Option<String> {
    let i = attrs.find(&format!("{name}="))?;
    let rest = &attrs[i + name.len() + 1..];
    let v = if let Some(r) = rest.strip_prefix('"') {
        &r[..r.find('"')?]
    } else if let Some(r) = rest.strip_prefix('\'') {
        &r[..r.find('\'')?]
    } else {
        rest.split_whitespace().next().unwrap_or("")
    };
    Some(unentity(v))
}

fn entity(name: &str) -> Option<String> {
    match name {
        "lt" => Some("<".into()),
        "gt" => Some(">".into()),
        "amp" => Some("&".into()),
        "quot" => Some("\"".into()),
        _ => {
            let n = name.strip_prefix('#')?;
            let code = match n.strip_prefix(['x', 'X']) {
                Some(h) => u32::from_str_radix(h, 16).ok()?,
                None => n.parse().ok()?,
            };
            char::from_u32(code).map(String::from)
        }
    }
}

fn unentity(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after
            .find(';')
            .and_then(|e| entity(&after[..e]).map(|v| (e, v)))
        {
            Some((e, v)) => {
                out.push_str(&v);
                rest = &after[e + 1..];
            }
            // Telegram shows a lone `&` as is.
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses Telegram's HTML style as its parser does: the supported tags
/// only, properly nested, `<` only in tags, the four named entities and
/// numeric ones. The error is Telegram's description after "can't parse
/// entities: ".
pub fn parse_html(html: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut open: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    let b = html.as_bytes();
    while i < b.len() {
        match b[i] {
            b'<' => {
                let Some(len) = html[i..].find('>') else {
                    return Err(format!("Unclosed start tag at byte offset {i}"));
                };
                let tag = &html[i + 1..i + len];
                if tag.contains('<') {
                    return Err(format!("Unclosed start tag at byte offset {i}"));
                }
                if !text.is_empty() {
                    out.push(Piece::Text(unentity(&std::mem::take(&mut text))));
                }
                if let Some(name) = tag.strip_prefix('/') {
                    let name = name.trim().to_ascii_lowercase();
                    match open.pop() {
                        Some(o) if o == name => out.push(Piece::Close(name)),
                        Some(o) => {
                            return Err(format!(
                                "Can't find end tag corresponding to start tag \"{o}\""
                            ));
                        }
                        None => {
                            return Err(format!("Unexpected end tag at byte offset {i}"));
                        }
                    }
                } else {
                    let (name, attrs) = tag
                        .split_once(|c: char| c.is_whitespace())
                        .unwrap_or((tag, ""));
                    let name = name.to_ascii_lowercase();
                    if !TAGS.contains(&name.as_str()) {
                        return Err(format!(
                            "Unsupported start tag \"{name}\" at byte offset {i}"
                        ));
                    }
                    let href = if name == "a" {
                        match attr_value(attrs, "href") {
                            Some(h) if !h.is_empty() => Some(h),
                            _ => {
                                return Err(format!(
                                    "Can't find href attribute of start tag \"a\" at byte offset {i}"
                                ));
                            }
                        }
                    } else {
                        None
                    };
                    open.push(name.clone());
                    out.push(Piece::Open(name, href));
                }
                i += len + 1;
            }
            b'&' => {
                let after = &html[i + 1..];
                if let Some(e) = after.find(';')
                    && e <= 10
                    && after[..e]
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'#')
                    && !after[..e].is_empty()
                    && entity(&after[..e]).is_none()
                {
                    return Err(format!(
                        "Unsupported HTML entity \"&{};\" at byte offset {i}",
                        &after[..e]
                    ));
                }
                text.push('&');
                i += 1;
            }
            _ => {
                let c = html[i..].chars().next().unwrap_or('\u{FFFD}');
                text.push(c);
                i += c.len_utf8();
            }
        }
    }
    if let Some(o) = open.pop() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{o}\""
        ));
    }
    if !text.is_empty() {
        out.push(Piece::Text(unentity(&text)));
    }
    Ok(out)
}

/// The text a reader sees (after entity parsing).
pub fn visible(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

/// The message's pieces as Telegram reads them: HTML when `parse_mode` is
/// HTML, else the text as is.
pub fn pieces(body: &Value) -> Vec<Piece> {
    let text = str_at(body, "/text");
    if str_at(body, "/parse_mode").eq_ignore_ascii_case("html") {
        parse_html(text).unwrap_or_else(|_| vec![Piece::Text(text.to_string())])
    } else {
        vec![Piece::Text(text.to_string())]
    }
}

/// Who the message notifies: `tg://user?id=N` links (as `N`) and every
/// `@username` Telegram detects in the visible text (as `@username`).
pub fn notified(body: &Value) -> Vec<String> {
    let ps = pieces(body);
    let mut out = Vec::new();
    for p in &ps {
        if let Piece::Open(_, Some(h)) = p
            && let Some(id) = h.strip_prefix("tg://user?id=")
        {
            out.push(id.to_string());
        }
    }
    out.extend(usernames(&visible(&ps)));
    out
}

/// `@username` (5–32 of `[A-Za-z0-9_]`) not inside a word.
pub fn usernames(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c != '@' || (i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')) {
            continue;
        }
        let name: String = chars[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
            .collect();
        if name.len() >= 5 {
            out.push(format!("@{name}"));
        }
    }
    out
}

/// The links a reader could click: `<a href>` and what Telegram auto-links.
pub fn hrefs(body: &Value) -> Vec<String> {
    pieces(body)
        .iter()
        .filter_map(|p| match p {
            Piece::Open(_, Some(h)) if !h.starts_with("tg://user") => Some(h.clone()),
            _ => None,
        })
        .collect()
}

pub(crate) fn handle(ctx: &mut Ctx<'_>, req: &Req<'_>) -> Answer {
    let token = req.token.unwrap_or("");
    let method = req.path.rsplit('/').next().unwrap_or("");
    if !well_formed(token) || req.path.matches('/').count() != 2 {
        return error(404, "Not Found");
    }
    if !method.eq_ignore_ascii_case("sendMessage") {
        return error(404, "Not Found");
    }
    if !ctx.bots.contains_key(token) {
        return error(401, "Unauthorized");
    }
    let body = serde_json::from_slice::<Value>(req.body)
        .ok()
        .filter(Value::is_object)
        .unwrap_or(Value::Null);
    let chat = match body.get("chat_id") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return error(400, "Bad Request: chat_id is empty"),
    };
    let Some(bot) = ctx.bots.get_mut(token) else {
        return error(401, "Unauthorized");
    };
    if !bot.settings.chats.is_empty() && !bot.settings.chats.contains(&chat) {
        return error(400, "Bad Request: chat not found");
    }
    let Some(text) = body.get("text").and_then(Value::as_str) else {
        return error(400, "Bad Request: message text is empty");
    };
    let pieces = match body.get("parse_mode").and_then(Value::as_str) {
        None | Some("") => vec![Piece::Text(text.to_string())],
        Some(m) if m.eq_ignore_ascii_case("html") => match parse_html(text) {
            Ok(p) => p,
            Err(e) => return error(400, &format!("Bad Request: can't parse entities: {e}")),
        },
        Some(_) => return error(400, "Bad Request: unsupported parse_mode"),
    };
    let shown = visible(&pieces);
    if shown.trim().is_empty() {
        return error(400, "Bad Request: message text is empty");
    }
    if shown.encode_utf16().count() > MAX_TEXT {
        return error(400, "Bad Request: message is too long");
    }
    if let Some(wait) = bot.over_rate(Platform::Telegram, ctx.now) {
        return rate_limited(wait);
    }
    bot.record_sent(ctx.now);
    let chat_json = match chat.parse::<i64>() {
        Ok(n) => json!({"id": n, "type": if n < 0 { "supergroup" } else { "private" }}),
        Err(_) => {
            json!({"id": -1_001_000_000_000_i64, "type": "channel", "username": chat.trim_start_matches('@')})
        }
    };
    let mut a = Answer::json(
        200,
        0,
        json!({"ok": true, "result": {
            "message_id": ctx.request_id.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))) % 1_000_000,
            "date": ctx.now_ms / 1000,
            "chat": chat_json,
            "text": shown,
        }}),
    );
    a.code = None;
    a
}

/// The message as the client shows it: the visible text.
pub(crate) fn render(body: &Value) -> String {
    visible(&pieces(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testutil::{post, post_json};

    const BOT: &str = "123456789:AAHfake-token_1";

    fn msg(chat: Value, text: &str) -> Value {
        json!({"chat_id": chat, "text": text, "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true}})
    }

    fn bot(fake: &FakeBot) {
        fake.add_bot(
            BOT,
            BotSettings {
                chats: vec!["-1001234567890".into(), "@secops".into()],
                ..BotSettings::default()
            },
        );
    }

    #[tokio::test]
    async fn accepts_html_and_answers_the_message() {
        let fake = FakeBot::telegram().await;
        bot(&fake);
        let url = fake.url(BOT);
        assert!(
            url.ends_with("/bot123456789:AAHfake-token_1/sendMessage"),
            "{url}"
        );
        let a = post_json(
            &url,
            &msg(json!(-1001234567890_i64), "<b>a &amp; b</b> <a href=\"https://x.example/e\">view</a> <a href=\"tg://user?id=42\">Al</a>"),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.json()["ok"], true);
        assert_eq!(a.json()["result"]["text"], "a & b view Al");
        assert_eq!(a.json()["result"]["chat"]["id"], -1001234567890_i64);
        let acc = fake.wait_for_accepted(1, Duration::from_secs(2)).await;
        assert_eq!(acc[0].token, BOT);
        assert_eq!(acc[0].rendered_text(), "a & b view Al");
        assert_eq!(acc[0].links(), ["https://x.example/e"]);
        assert_eq!(acc[0].mentions(), ["42"]);
    }

    #[tokio::test]
    async fn refuses_as_telegram_does() {
        let fake = FakeBot::telegram().await;
        bot(&fake);
        let url = fake.url(BOT);
        let base = url
            .trim_end_matches(&format!("/bot{BOT}/sendMessage"))
            .to_string();
        let cases: Vec<(String, Value, u16, &str)> = vec![
            (
                format!("{base}/botnot-a-token/sendMessage"),
                msg(json!(1), "x"),
                404,
                "Not Found",
            ),
            (
                format!("{base}/bot{BOT}/getMe"),
                msg(json!(1), "x"),
                404,
                "Not Found",
            ),
            (
                format!("{base}/bot1:other/sendMessage"),
                msg(json!(1), "x"),
                401,
                "Unauthorized",
            ),
            (
                url.clone(),
                json!({"text": "x"}),
                400,
                "Bad Request: chat_id is empty",
            ),
            (
                url.clone(),
                msg(json!(-5), "x"),
                400,
                "Bad Request: chat not found",
            ),
            (
                url.clone(),
                json!({"chat_id": "@secops"}),
                400,
                "Bad Request: message text is empty",
            ),
            (
                url.clone(),
                msg(json!("@secops"), "<b>x"),
                400,
                "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
            ),
            (
                url.clone(),
                msg(json!("@secops"), "a <div>x</div>"),
                400,
                "Bad Request: can't parse entities: Unsupported start tag \"div\" at byte offset 2",
            ),
            (
                url.clone(),
                msg(json!("@secops"), "1 < 2"),
                400,
                "Bad Request: can't parse entities: Unclosed start tag at byte offset 2",
            ),
            (
                url.clone(),
                msg(json!("@secops"), "<a>x</a>"),
                400,
                "Bad Request: can't parse entities: Can't find href attribute of start tag \"a\" at byte offset 0",
            ),
            (
                url.clone(),
                msg(json!("@secops"), "&nbsp;"),
                400,
                "Bad Request: can't parse entities: Unsupported HTML entity \"&nbsp;\" at byte offset 0",
            ),
            (
                url.clone(),
                msg(json!("@secops"), "<b> </b>"),
                400,
                "Bad Request: message text is empty",
            ),
            (
                url.clone(),
                msg(json!("@secops"), &"é".repeat(4097)),
                400,
                "Bad Request: message is too long",
            ),
        ];
        for (u, body, status, description) in cases {
            let a = post_json(&u, &body).await;
            assert_eq!(a.status, status, "{u} {body}: {}", a.body);
            assert_eq!(a.json()["ok"], false);
            assert_eq!(a.json()["error_code"], status);
            assert_eq!(a.json()["description"], description, "{body}");
        }
        // 4096 characters after entity parsing are fine, tags and entities
        // not counted; an emoji counts two (UTF-16).
        let long = format!("<b>{}</b>&amp;", "x".repeat(4095));
        assert_eq!(
            post_json(&url, &msg(json!("@secops"), &long)).await.status,
            200
        );
        let a = post(&url, b"not json".to_vec()).await;
        assert_eq!(a.status, 400);
    }

    #[tokio::test]
    async fn rate_limit_answers_retry_after() {
        let fake = FakeBot::telegram().await;
        bot(&fake);
        let url = fake.url(BOT);
        assert_eq!(
            post_json(&url, &msg(json!("@secops"), "one")).await.status,
            200
        );
        let a = post_json(&url, &msg(json!("@secops"), "two")).await;
        assert_eq!(a.status, 429);
        assert_eq!(a.json()["parameters"]["retry_after"], 1);
        assert_eq!(a.json()["description"], "Too Many Requests: retry after 1");
    }

    #[test]
    fn usernames_and_defanged_ats() {
        assert_eq!(
            usernames("hi @admin1 a@bcdef @\u{200D}admin1 @abc"),
            ["@admin1"]
        );
        let body =
            json!({"text": "<a href=\"tg://user?id=7\">x</a> @everyone", "parse_mode": "HTML"});
        assert_eq!(notified(&body), ["7", "@everyone"]);
    }
}
