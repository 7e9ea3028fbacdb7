//! Microsoft Teams Workflows webhooks (the Power Automate flow "Post to a
//! channel when a webhook request is received", which replaces the
//! Office 365 connectors), written from Microsoft's documentation:
//! <https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook>,
//! <https://support.microsoft.com/en-us/office/create-incoming-webhooks-with-workflows-for-microsoft-teams-8ae491c7-0394-4861-ba59-055e33f75498>,
//! the Adaptive Card schema <https://adaptivecards.io/explorer/> (Teams
//! renders versions up to 1.5) and the connectors' rate table in
//! MicrosoftDocs/msteams-docs `connectors-using.md` (channels.md §5).
//!
//! A bot is registered as `"{workflow id}/{sig}"` and addressed at
//! `/workflows/{id}/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={sig}`
//! (also under `/powerautomate/automations/direct/workflows/…`).
//!
//! Errors are Logic Apps' `{"error": {"code", "message"}}` at a real HTTP
//! status. Check order: not a trigger path → 404 `TriggerNotFound`; no
//! `api-version` → 400 `MissingApiVersionParameter`; no `sp`, `sv` or `sig`
//! → 401 `AuthorizationFailed` (the message Logic Apps gives, observed in
//! Azure/logicapps#169); unknown workflow → 404 `WorkflowNotFound`; known
//! workflow, other `sig` → 401 `AuthorizationFailed` [UNVERIFIED message];
//! not POST → 405; over 28,000 bytes → 413 `RequestEntityTooLarge` (see
//! below); not JSON → 400 `InvalidRequestContent`; the envelope (`type:
//! "message"`, `attachments` with an Adaptive Card) → 400
//! `TriggerInputSchemaMismatch`; the card (version ≤ 1.5, known element
//! types, `TextBlock.text`, `FactSet` facts with `title` and `value`,
//! colours, sizes and weights of the schema, `Action.OpenUrl` with an
//! http(s) `url`, each `msteams.entities` mention with an `<at>` text that a
//! `TextBlock` shows and a `mentioned` id and name) → 400
//! `InvalidAdaptiveCard` naming the field; over 4 a second or 60 in 30
//! seconds → 429 `WorkflowRequestsThrottled` with `Retry-After`; accepted →
//! 202 with an empty body and `x-ms-workflow-run-id`.
//!
//! Two deliberate choices where Microsoft is vague. The real trigger
//! answers 202 before the flow posts the card, so a bad card fails in the
//! flow's run history, not in the HTTP answer; the fake answers 400 naming
//! the problem, so tests see it. The 28 KB limit is Teams' ("a message
//! over 28 KB fails"); the fake answers 413 Request Entity Too Large, the
//! status that names exactly that problem and the one Teams' bot service
//! (through which the flow posts) uses for oversized messages, and counts
//! 28,000 bytes (the smaller reading of "28 KB").

use crate::platform::{Answer, Ctx, Platform, Req, join_lines, query_param, str_at};
use serde_json::{Value, json};
use std::time::Duration;

pub use crate::platform::{BotSettings, Delivery, FakeBot, ScriptedAnswer};

/// Teams' message size limit, in bytes of the request body.
pub const MAX_BYTES: usize = 28_000;
pub const CARD_TYPE: &str = "application/vnd.microsoft.card.adaptive";

/// `{"error": {"code", "message"}}` at `status`.
pub(crate) fn error(status: u16, code: &str, message: &str) -> Answer {
    let mut a = Answer::json(
        status,
        0,
        json!({"error": {"code": code, "message": message}}),
    );
    a.code = None;
    a
}

/// A scripted numeric code: an HTTP status (else 400).
pub(crate) fn code_answer(code: i64, message: &str) -> Answer {
    let status = u16::try_from(code)
        .ok()
        .filter(|s| (400..600).contains(s))
        .unwrap_or(400);
    let name = match status {
        401 | 403 => "AuthorizationFailed",
        404 => "WorkflowNotFound",
        413 => "RequestEntityTooLarge",
        429 => "WorkflowRequestsThrottled",
        500..=599 => "InternalServerError",
        _ => "InvalidRequestContent",
    };
    error(status, name, message)
}

pub(crate) fn rate_limited(retry_after: Duration) -> Answer {
    let mut a = error(
        429,
        "WorkflowRequestsThrottled",
        "Number of requests for this workflow exceeded the limit; retry after the interval in the Retry-After header.",
    );
    let whole = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    a.headers
        .push(("Retry-After".into(), whole.max(1).to_string()));
    a
}

/// `"{id}/{sig}"` from a trigger URL (`sig` empty when missing).
pub(crate) fn token_of(path: &str, query: Option<&str>) -> Option<String> {
    let (_, rest) = path.split_once("/workflows/")?;
    let id = rest.split('/').next().unwrap_or("");
    let sig = query_param(query, "sig").unwrap_or_default();
    Some(format!("{id}/{sig}"))
}

pub(crate) fn url_path(token: &str) -> String {
    let (id, sig) = token.split_once('/').unwrap_or((token, ""));
    format!(
        "/workflows/{id}/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={sig}"
    )
}

fn trigger_path(path: &str) -> bool {
    let Some((_, rest)) = path.split_once("/workflows/") else {
        return false;
    };
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    matches!(parts.as_slice(), [id, "triggers", t, "paths", "invoke"] if !id.is_empty() && !t.is_empty())
}

const COLORS: [&str; 7] = [
    "default",
    "dark",
    "light",
    "accent",
    "good",
    "warning",
    "attention",
];
const SIZES: [&str; 5] = ["default", "small", "medium", "large", "extralarge"];
const WEIGHTS: [&str; 3] = ["default", "lighter", "bolder"];
const ELEMENTS: [&str; 9] = [
    "TextBlock",
    "FactSet",
    "Container",
    "ColumnSet",
    "Image",
    "RichTextBlock",
    "ActionSet",
    "ImageSet",
    "Table",
];
const ACTIONS: [&str; 5] = [
    "Action.OpenUrl",
    "Action.Submit",
    "Action.ShowCard",
    "Action.ToggleVisibility",
    "Action.Execute",
];

fn http_url(u: &str) -> bool {
    let l = u.to_ascii_lowercase();
    (l.starts_with("http://") || l.starts_with("https://")) && !u.contains(char::is_whitespace)
}

/// Every problem of one card element at `path`.
fn check_element(e: &Value, path: &str, out: &mut Vec<String>) {
    let Some(kind) = e.get("type").and_then(Value::as_str) else {
        out.push(format!("{path}.type: required"));
        return;
    };
    if !ELEMENTS.contains(&kind) {
        out.push(format!("{path}.type: unknown element type \"{kind}\""));
        return;
    }
    for (key, allowed) in [
        ("color", &COLORS[..]),
        ("size", &SIZES[..]),
        ("weight", &WEIGHTS[..]),
    ] {
        if let Some(v) = e.get(key) {
            let ok = v
                .as_str()
                .is_some_and(|s| allowed.contains(&s.to_ascii_lowercase().as_str()));
            if !ok {
                out.push(format!(
                    "{path}.{key}: {v} is not one of {}",
                    allowed.join(", ")
                ));
            }
        }
    }
    match kind {
        "TextBlock" if !e.get("text").is_some_and(Value::is_string) => {
            out.push(format!("{path}.text: required (a string)"));
        }
        "FactSet" => match e.get("facts").and_then(Value::as_array) {
            None => out.push(format!("{path}.facts: required (an array)")),
            Some(facts) => {
                for (i, f) in facts.iter().enumerate() {
                    for key in ["title", "value"] {
                        if !f.get(key).is_some_and(Value::is_string) {
                            out.push(format!("{path}.facts[{i}].{key}: required (a string)"));
                        }
                    }
                }
            }
        },
        "Container" => {
            for (i, x) in e
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                check_element(x, &format!("{path}.items[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Every text a `TextBlock` or `FactSet` shows, in order.
pub(crate) fn texts(body: &Value) -> Vec<&str> {
    fn walk<'a>(items: &'a Value, out: &mut Vec<&'a str>) {
        for e in items.as_array().into_iter().flatten() {
            match str_at(e, "/type") {
                "TextBlock" => out.push(str_at(e, "/text")),
                "FactSet" => {
                    for f in e
                        .get("facts")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        out.push(str_at(f, "/title"));
                        out.push(str_at(f, "/value"));
                    }
                }
                "Container" => walk(&e["items"], out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for a in cards(body) {
        walk(&a["body"], &mut out);
    }
    out
}

/// The Adaptive Cards of a message.
pub(crate) fn cards(body: &Value) -> Vec<&Value> {
    body.get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|a| str_at(a, "/contentType") == CARD_TYPE)
        .filter_map(|a| a.get("content"))
        .collect()
}

/// The card's mentions: `(text, id, name)` of each `msteams.entities`
/// mention.
pub(crate) fn entities(card: &Value) -> Vec<(&str, &str, &str)> {
    card.pointer("/msteams/entities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| str_at(e, "/type") == "mention")
        .map(|e| {
            (
                str_at(e, "/text"),
                str_at(e, "/mentioned/id"),
                str_at(e, "/mentioned/name"),
            )
        })
        .collect()
}

/// The envelope's problems (`TriggerInputSchemaMismatch`), then the
/// cards' (`InvalidAdaptiveCard`).
fn check(body: &Value) -> Result<(), (&'static str, String)> {
    let schema = |m: String| Err(("TriggerInputSchemaMismatch", m));
    if str_at(body, "/type") != "message" {
        return schema("type: must be \"message\"".into());
    }
    let Some(attachments) = body.get("attachments").and_then(Value::as_array) else {
        return schema("attachments: required (an array with one Adaptive Card)".into());
    };
    if attachments.is_empty() {
        return schema("attachments: must hold an Adaptive Card".into());
    }
    let mut problems = Vec::new();
    for (n, a) in attachments.iter().enumerate() {
        let at = format!("attachments[{n}]");
        if str_at(a, "/contentType") != CARD_TYPE {
            return schema(format!("{at}.contentType: must be \"{CARD_TYPE}\""));
        }
        let Some(card) = a.get("content").filter(|c| c.is_object()) else {
            return schema(format!("{at}.content: required (the card)"));
        };
        let at = format!("{at}.content");
        if str_at(card, "/type") != "AdaptiveCard" {
            problems.push(format!("{at}.type: must be \"AdaptiveCard\""));
        }
        let version = str_at(card, "/version");
        let ok = version
            .split_once('.')
            .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
            .is_some_and(|v| ((1, 0)..=(1, 5)).contains(&v));
        if !ok {
            problems.push(format!(
                "{at}.version: \"{version}\" is not a version Teams renders (1.0 to 1.5)"
            ));
        }
        match card.get("body") {
            None => {}
            Some(Value::Array(items)) => {
                for (i, e) in items.iter().enumerate() {
                    check_element(e, &format!("{at}.body[{i}]"), &mut problems);
                }
            }
            Some(_) => problems.push(format!("{at}.body: must be an array")),
        }
        for (i, x) in card
            .get("actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let kind = str_at(x, "/type");
            if !ACTIONS.contains(&kind) {
                problems.push(format!(
                    "{at}.actions[{i}].type: unknown action type \"{kind}\""
                ));
            } else if kind == "Action.OpenUrl" && !http_url(str_at(x, "/url")) {
                problems.push(format!(
                    "{at}.actions[{i}].url: required (an http or https URL)"
                ));
            }
        }
        let shown = texts(&json!({"attachments": [a]})).join("\n");
        for (i, (text, id, name)) in entities(card).into_iter().enumerate() {
            let p = format!("{at}.msteams.entities[{i}]");
            if !(text.starts_with("<at>") && text.ends_with("</at>")) {
                problems.push(format!("{p}.text: must be <at>name</at>"));
            } else if !shown.contains(text) {
                problems.push(format!("{p}.text: {text} is not in any TextBlock"));
            }
            if id.is_empty() || name.is_empty() {
                problems.push(format!("{p}.mentioned: id and name are required"));
            }
        }
    }
    match problems.first() {
        None => Ok(()),
        Some(_) => {
            problems.truncate(5);
            Err(("InvalidAdaptiveCard", problems.join("; ")))
        }
    }
}

pub(crate) fn handle(ctx: &mut Ctx<'_>, req: &Req<'_>) -> Answer {
    if !trigger_path(req.path) {
        return error(
            404,
            "TriggerNotFound",
            "The workflow trigger could not be found.",
        );
    }
    if query_param(req.query, "api-version").is_none() {
        return error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    }
    if ["sp", "sv", "sig"]
        .iter()
        .any(|p| query_param(req.query, p).is_none_or(|v| v.is_empty()))
    {
        return error(
            401,
            "AuthorizationFailed",
            "Required parameters for shared access URL are permissions ('sp'), version ('sv'), and signature ('sig').",
        );
    }
    let key = req.token.unwrap_or("");
    let (id, _) = key.split_once('/').unwrap_or((key, ""));
    if !ctx.bots.contains_key(key) {
        let prefix = format!("{id}/");
        return if ctx.bots.keys().any(|k| k.starts_with(&prefix)) {
            error(
                401,
                "AuthorizationFailed",
                "The authentication credentials are not valid.",
            )
        } else {
            error(
                404,
                "WorkflowNotFound",
                &format!("The workflow '{id}' could not be found."),
            )
        };
    }
    if req.method != axum::http::Method::POST {
        return error(
            405,
            "MethodNotAllowed",
            "The trigger only accepts POST requests.",
        );
    }
    if req.body.len() > MAX_BYTES {
        return error(
            413,
            "RequestEntityTooLarge",
            &format!(
                "The message is {} bytes; Teams posts messages of at most 28 KB ({MAX_BYTES} bytes).",
                req.body.len()
            ),
        );
    }
    let body = match serde_json::from_slice::<Value>(req.body) {
        Ok(v) if v.is_object() => v,
        _ => {
            return error(
                400,
                "InvalidRequestContent",
                "The request content is not valid and could not be deserialized: a JSON object is required.",
            );
        }
    };
    if let Err((code, message)) = check(&body) {
        return error(400, code, &message);
    }
    let Some(bot) = ctx.bots.get_mut(key) else {
        return error(404, "WorkflowNotFound", "The workflow could not be found.");
    };
    if let Some(wait) = bot.over_rate(Platform::Teams, ctx.now) {
        return rate_limited(wait);
    }
    bot.record_sent(ctx.now);
    Answer {
        status: 202,
        headers: vec![("x-ms-workflow-run-id".into(), ctx.request_id.clone())],
        body: String::new(),
        code: None,
    }
}

/// A text as Teams shows it: `<at>` mentions the card names as `@name`
/// (others as the literal text), bold markers hidden.
fn shown(text: &str, mentions: &[(&str, &str, &str)]) -> String {
    let mut t = text.to_string();
    for (at, _, name) in mentions {
        t = t.replace(at, &format!("@{name}"));
    }
    t.replace("**", "")
}

/// The message as the channel shows it.
pub(crate) fn render(body: &Value) -> String {
    let mut lines = Vec::new();
    for card in cards(body) {
        let m = entities(card);
        fn walk(items: &Value, m: &[(&str, &str, &str)], lines: &mut Vec<String>) {
            for e in items.as_array().into_iter().flatten() {
                match str_at(e, "/type") {
                    "TextBlock" => lines.push(shown(str_at(e, "/text"), m)),
                    "FactSet" => {
                        for f in e
                            .get("facts")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                        {
                            lines.push(format!(
                                "{}: {}",
                                shown(str_at(f, "/title"), m),
                                shown(str_at(f, "/value"), m)
                            ));
                        }
                    }
                    "Container" => walk(&e["items"], m, lines),
                    _ => {}
                }
            }
        }
        walk(&card["body"], &m, &mut lines);
        for a in card
            .get("actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            lines.push(format!("[{}]", str_at(a, "/title")));
        }
    }
    join_lines(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testutil::{post, post_json};

    const BOT: &str = "a1b2c3d4e5/sig-Secret_1";

    fn card(items: Value) -> Value {
        json!({"type": "message", "attachments": [{"contentType": CARD_TYPE, "contentUrl": null,
            "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard", "version": "1.4", "body": items, "msteams": {"width": "Full"}}}]})
    }

    fn simple() -> Value {
        card(json!([
            {"type": "TextBlock", "text": "**[CRITICAL] x**", "color": "attention", "size": "Large", "weight": "Bolder", "wrap": true},
            {"type": "FactSet", "facts": [{"title": "Asset", "value": "web-01 hxxp://e[.]vil"}]}
        ]))
    }

    #[tokio::test]
    async fn accepts_a_card_with_202_and_an_empty_body() {
        let fake = FakeBot::start(Platform::Teams).await;
        fake.add_bot(BOT, BotSettings::default());
        let url = fake.url(BOT);
        assert!(
            url.contains("/workflows/a1b2c3d4e5/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=sig-Secret_1"),
            "{url}"
        );
        let a = post_json(&url, &simple()).await;
        assert_eq!((a.status, a.body.as_str()), (202, ""));
        assert!(a.headers.get("x-ms-workflow-run-id").is_some());
        let acc = fake.wait_for_accepted(1, Duration::from_secs(2)).await;
        assert_eq!(acc[0].token, BOT);
        assert_eq!(
            acc[0].rendered_text(),
            "[CRITICAL] x\nAsset: web-01 hxxp://e[.]vil"
        );
        assert!(acc[0].links().is_empty(), "{:?}", acc[0].links());
    }

    #[tokio::test]
    async fn bad_sig_unknown_flow_missing_parameters_and_bad_json() {
        let fake = FakeBot::start(Platform::Teams).await;
        fake.add_bot(BOT, BotSettings::default());
        let a = post_json(&fake.url("a1b2c3d4e5/wrong"), &simple()).await;
        assert_eq!(a.status, 401);
        assert_eq!(a.json()["error"]["code"], "AuthorizationFailed");
        let a = post_json(&fake.url("ffff/sig"), &simple()).await;
        assert_eq!(a.status, 404);
        assert_eq!(
            a.json(),
            json!({"error": {"code": "WorkflowNotFound", "message": "The workflow 'ffff' could not be found."}})
        );
        let bare = fake.url(BOT).replace("&sig=sig-Secret_1", "");
        let a = post_json(&bare, &simple()).await;
        assert_eq!(a.status, 401);
        assert!(
            a.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("signature ('sig')"),
            "{}",
            a.body
        );
        let a = post_json(&fake.url(BOT).replace("api-version", "v"), &simple()).await;
        assert_eq!(
            (a.status, a.json()["error"]["code"].as_str()),
            (400, Some("MissingApiVersionParameter"))
        );
        let a = post(&fake.url(BOT), "{not json").await;
        assert_eq!(
            (a.status, a.json()["error"]["code"].as_str()),
            (400, Some("InvalidRequestContent"))
        );
        assert_eq!(
            fake.received()
                .iter()
                .map(|d| d.http_status)
                .collect::<Vec<_>>(),
            [401, 404, 401, 400, 400]
        );
        assert!(fake.accepted().is_empty());
    }

    #[tokio::test]
    async fn card_problems_are_400_naming_the_field_and_28kb_is_413() {
        let fake = FakeBot::start(Platform::Teams).await;
        fake.add_bot(
            BOT,
            BotSettings {
                rate: Some(vec![(100, Duration::from_secs(1))]),
                ..BotSettings::default()
            },
        );
        let url = fake.url(BOT);
        let refused = |a: &crate::platform::testutil::Answer| {
            (
                a.status,
                a.json()["error"]["code"].as_str().unwrap_or("").to_string(),
                a.json()["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        };
        let a = post_json(&url, &json!({"text": "legacy"})).await;
        assert_eq!(
            refused(&a),
            (
                400,
                "TriggerInputSchemaMismatch".into(),
                "type: must be \"message\"".into()
            )
        );
        let a = post_json(
            &url,
            &card(json!([{"type": "FactSet", "facts": [{"title": "a"}]}, {"type": "TextBlock", "color": "red", "text": "x"}])),
        )
        .await;
        assert_eq!(
            refused(&a),
            (
                400,
                "InvalidAdaptiveCard".into(),
                "attachments[0].content.body[0].facts[0].value: required (a string); attachments[0].content.body[1].color: \"red\" is not one of default, dark, light, accent, good, warning, attention".into()
            )
        );
        let mut v = simple();
        v["attachments"][0]["content"]["version"] = json!("1.6");
        v["attachments"][0]["content"]["actions"] =
            json!([{"type": "Action.OpenUrl", "title": "t", "url": "javascript:alert(1)"}]);
        v["attachments"][0]["content"]["msteams"]["entities"] = json!([{"type": "mention",
            "text": "<at>bob</at>", "mentioned": {"id": "bob@contoso.com", "name": "bob"}}]);
        let (status, code, message) = refused(&post_json(&url, &v).await);
        assert_eq!((status, code.as_str()), (400, "InvalidAdaptiveCard"));
        for part in [
            "content.version: \"1.6\" is not a version Teams renders",
            "content.actions[0].url: required",
            "content.msteams.entities[0].text: <at>bob</at> is not in any TextBlock",
        ] {
            assert!(message.contains(part), "{part}: {message}");
        }
        // 28,000 bytes pass, one more is 413.
        let pad = |n: usize| {
            let mut v = simple();
            let len = v.to_string().len();
            v["attachments"][0]["content"]["body"][0]["text"] =
                json!(format!("{}{}", "x".repeat(n - len), "**[CRITICAL] x**"));
            v
        };
        let a = post_json(&url, &pad(MAX_BYTES)).await;
        assert_eq!(a.status, 202, "{}", a.body);
        let a = post_json(&url, &pad(MAX_BYTES + 1)).await;
        assert_eq!(
            (a.status, a.json()["error"]["code"].as_str()),
            (413, Some("RequestEntityTooLarge"))
        );
        assert_eq!(fake.accepted().len(), 1);
    }

    #[tokio::test]
    async fn more_than_4_a_second_or_60_in_30_seconds_is_429() {
        let fake = FakeBot::start(Platform::Teams).await;
        fake.use_manual_clock();
        fake.add_bot(BOT, BotSettings::default());
        for _ in 0..4 {
            assert_eq!(post_json(&fake.url(BOT), &simple()).await.status, 202);
        }
        let a = post_json(&fake.url(BOT), &simple()).await;
        assert_eq!(a.status, 429);
        assert_eq!(a.json()["error"]["code"], "WorkflowRequestsThrottled");
        assert_eq!(a.headers.get("retry-after").unwrap(), "1");
        // 60 in 30 s: 4 a second for 14 more seconds reaches 60.
        for _ in 0..14 {
            fake.advance(Duration::from_secs(1));
            for _ in 0..4 {
                post_json(&fake.url(BOT), &simple()).await;
            }
        }
        assert_eq!(fake.accepted().len(), 60);
        fake.advance(Duration::from_secs(1));
        let a = post_json(&fake.url(BOT), &simple()).await;
        assert_eq!(a.status, 429);
    }

    #[test]
    fn mentions_need_an_entity() {
        let mut v = card(
            json!([{"type": "TextBlock", "text": "<at>alice@contoso.com</at> <at>everyone</at>"}]),
        );
        v["attachments"][0]["content"]["msteams"]["entities"] = json!([{"type": "mention",
            "text": "<at>alice@contoso.com</at>", "mentioned": {"id": "alice@contoso.com", "name": "alice@contoso.com"}}]);
        assert_eq!(
            crate::reading::mentions(Platform::Teams, &v),
            ["alice@contoso.com"]
        );
        assert_eq!(render(&v), "@alice@contoso.com <at>everyone</at>");
    }
}
