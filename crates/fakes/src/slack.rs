//! Slack incoming webhook (`/services/{token}`, the token may contain
//! slashes, e.g. `T000/B000/XXXX`), channels.md §4. Real HTTP statuses with a
//! plain-text body. Check order: unknown → 404 `no_service`; invalid JSON →
//! 400 `invalid_payload`; no `text`, `blocks` or `attachments` → 400
//! `no_text`; more than 50 blocks or a section text over 3,000 characters →
//! 400 `invalid_blocks`; more than 100 attachments → 400
//! `too_many_attachments`; rate (default 1 per second, sliding; set
//! `BotSettings::rate` for a burst allowance) → 429 `rate_limited` with
//! `Retry-After`; success → 200 `ok`.

use crate::platform::{Answer, Ctx, Platform, Req, join_lines, str_at};
use serde_json::Value;
use std::time::Duration;

pub use crate::platform::{BotSettings, Delivery, FakeBot, ScriptedAnswer};

pub const MAX_BLOCKS: usize = 50;
pub const MAX_SECTION_TEXT_CHARS: usize = 3000;
pub const MAX_ATTACHMENTS: usize = 100;

pub(crate) fn rate_limited(retry_after: Duration) -> Answer {
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let mut a = Answer::text(429, "rate_limited");
    a.headers
        .push(("Retry-After".into(), secs.max(1).to_string()));
    a
}

pub(crate) fn handle(ctx: &mut Ctx<'_>, req: &Req<'_>) -> Answer {
    let Some(bot) = req
        .token
        .filter(|t| !t.is_empty())
        .and_then(|t| ctx.bots.get_mut(t))
    else {
        return Answer::text(404, "no_service");
    };
    let body = match serde_json::from_slice::<Value>(req.body) {
        Ok(v) if v.is_object() => v,
        _ => return Answer::text(400, "invalid_payload"),
    };
    let text = str_at(&body, "/text");
    let blocks = body.get("blocks").and_then(Value::as_array);
    let attachments = body.get("attachments").and_then(Value::as_array);
    if text.trim().is_empty()
        && blocks.is_none_or(|b| b.is_empty())
        && attachments.is_none_or(|a| a.is_empty())
    {
        return Answer::text(400, "no_text");
    }
    if let Some(blocks) = blocks {
        let too_long = blocks.iter().any(|b| {
            str_at(b, "/type") == "section"
                && str_at(b, "/text/text").chars().count() > MAX_SECTION_TEXT_CHARS
        });
        if blocks.len() > MAX_BLOCKS || too_long {
            return Answer::text(400, "invalid_blocks");
        }
    }
    if attachments.is_some_and(|a| a.len() > MAX_ATTACHMENTS) {
        return Answer::text(400, "too_many_attachments");
    }
    if let Some(wait) = bot.over_rate(Platform::Slack, ctx.now) {
        return rate_limited(wait);
    }
    bot.record_sent(ctx.now);
    Answer::text(200, "ok")
}

/// The message as the channel shows it: the blocks when there are any
/// (`text` is then only the notification fallback), else `text`; then the
/// attachments.
pub(crate) fn render(body: &Value) -> String {
    let mut lines = Vec::new();
    match body.get("blocks").and_then(Value::as_array) {
        Some(blocks) if !blocks.is_empty() => {
            for b in blocks {
                lines.push(str_at(b, "/text/text").to_string());
                for f in b
                    .get("fields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    lines.push(str_at(f, "/text").to_string());
                }
                for e in b
                    .get("elements")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    lines.push(str_at(e, "/text").to_string());
                    lines.push(str_at(e, "/text/text").to_string());
                }
            }
        }
        _ => lines.push(str_at(body, "/text").to_string()),
    }
    for a in body
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        lines.push(str_at(a, "/pretext").to_string());
        lines.push(str_at(a, "/title").to_string());
        match str_at(a, "/text") {
            "" => lines.push(str_at(a, "/fallback").to_string()),
            t => lines.push(t.to_string()),
        }
        for f in a
            .get("fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            lines.push(format!("{}: {}", str_at(f, "/title"), str_at(f, "/value")));
        }
    }
    join_lines(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testutil::{post, post_json};
    use serde_json::json;

    const TOKEN: &str = "T000/B000/XXXX";

    #[tokio::test]
    async fn accepts_blocks_and_renders_them() {
        let fake = FakeBot::slack().await;
        fake.add_bot(TOKEN, BotSettings::default());
        assert!(fake.url(TOKEN).ends_with("/services/T000/B000/XXXX"));
        let body = json!({"text":"fallback","blocks":[
            {"type":"header","text":{"type":"plain_text","text":"[FIRING] DiskFull"}},
            {"type":"section","text":{"type":"mrkdwn","text":"*host* db-1"}}]});
        let a = post_json(&fake.url(TOKEN), &body).await;
        assert_eq!((a.status, a.body.as_str()), (200, "ok"));
        let acc = fake.wait_for_accepted(1, Duration::from_secs(2)).await;
        assert_eq!(acc.len(), 1);
        assert_eq!(acc[0].token, TOKEN);
        assert_eq!(acc[0].code, None);
        assert_eq!(acc[0].rendered_text(), "[FIRING] DiskFull\n*host* db-1");
    }

    #[tokio::test]
    async fn unknown_invalid_and_no_text() {
        let fake = FakeBot::slack().await;
        fake.add_bot(TOKEN, BotSettings::default());
        let a = post_json(&fake.url("T000/B000/YYYY"), &json!({"text":"hi"})).await;
        assert_eq!((a.status, a.body.as_str()), (404, "no_service"));
        let a = post(&fake.url(TOKEN), "payload=%7B%7D").await;
        assert_eq!((a.status, a.body.as_str()), (400, "invalid_payload"));
        let a = post_json(&fake.url(TOKEN), &json!({"username":"x","text":""})).await;
        assert_eq!((a.status, a.body.as_str()), (400, "no_text"));
        let r = fake.received();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].token, "T000/B000/YYYY");
        assert_eq!(
            r.iter().map(|d| d.http_status).collect::<Vec<_>>(),
            [404, 400, 400]
        );
        assert!(fake.accepted().is_empty());
    }

    #[tokio::test]
    async fn oversized_blocks_are_invalid_blocks() {
        let fake = FakeBot::slack().await;
        fake.add_bot(
            TOKEN,
            BotSettings {
                rate: Some(vec![(100, Duration::from_secs(1))]),
                ..BotSettings::default()
            },
        );
        let section =
            |n: usize| json!({"type":"section","text":{"type":"mrkdwn","text":"é".repeat(n)}});
        let a = post_json(
            &fake.url(TOKEN),
            &json!({"text":"t","blocks":[section(3001)]}),
        )
        .await;
        assert_eq!((a.status, a.body.as_str()), (400, "invalid_blocks"));
        let many: Vec<Value> = (0..51).map(|_| section(1)).collect();
        let a = post_json(&fake.url(TOKEN), &json!({"text":"t","blocks":many})).await;
        assert_eq!((a.status, a.body.as_str()), (400, "invalid_blocks"));
        // 3000 characters (6000 bytes) is fine: the limit counts characters.
        let a = post_json(
            &fake.url(TOKEN),
            &json!({"text":"t","blocks":[section(3000)]}),
        )
        .await;
        assert_eq!((a.status, a.body.as_str()), (200, "ok"));
        assert_eq!(fake.received().len(), 3);
        assert_eq!(fake.accepted().len(), 1);
    }

    #[tokio::test]
    async fn more_than_one_per_second_is_429_with_retry_after() {
        let fake = FakeBot::slack().await;
        fake.add_bot(TOKEN, BotSettings::default());
        let a = post_json(&fake.url(TOKEN), &json!({"text":"one"})).await;
        assert_eq!(a.status, 200);
        let a = post_json(&fake.url(TOKEN), &json!({"text":"two"})).await;
        assert_eq!((a.status, a.body.as_str()), (429, "rate_limited"));
        assert_eq!(a.headers.get("retry-after").unwrap(), "1");
        let r = fake.received();
        assert_eq!((r.len(), r[1].http_status), (2, 429));
        assert_eq!(fake.accepted().len(), 1);
        fake.advance(Duration::from_millis(1050));
        assert_eq!(
            post_json(&fake.url(TOKEN), &json!({"text":"three"}))
                .await
                .status,
            200
        );
        // Scripted: a 500 and a scripted business code.
        fake.script(
            TOKEN,
            [
                ScriptedAnswer::status(500),
                ScriptedAnswer::code(403, "invalid_token"),
            ],
        );
        assert_eq!(
            post_json(&fake.url(TOKEN), &json!({"text":"x"}))
                .await
                .status,
            500
        );
        let a = post_json(&fake.url(TOKEN), &json!({"text":"x"})).await;
        assert_eq!((a.status, a.body.as_str()), (403, "invalid_token"));
        assert_eq!(fake.accepted().len(), 2);
    }
}
