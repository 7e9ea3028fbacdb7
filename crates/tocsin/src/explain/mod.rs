//! "Why did (or didn't) this alert reach that group?" Explain reads what the
//! store recorded when the event was handled (never re-running today's
//! config) and tells it as steps, each with a machine-readable `code`, a
//! sentence, and for failures what to do about it.

pub mod doctor;
pub mod dryrun;
pub mod sentences;

use crate::store::{DeliveryRecord, EventDetail};
use crate::timefmt::rfc3339;
use serde::Serialize;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Step {
    pub code: &'static str,
    pub sentence: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// What to do about it, when something went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Step {
    fn new(code: &'static str, sentence: String) -> Step {
        Step {
            code,
            sentence,
            subscription: None,
            contact: None,
            fix: None,
        }
    }
    fn sub(mut self, s: &str) -> Step {
        self.subscription = Some(s.to_string());
        self
    }
    fn contact(mut self, c: &str) -> Step {
        self.contact = Some(c.to_string());
        self
    }
    fn fix(mut self, f: impl Into<String>) -> Step {
        self.fix = Some(f.into());
        self
    }
}

/// Every step code explain can produce.
pub const STEP_CODES: [&str; 20] = [
    "received",
    "switch_off",
    "switch_passed",
    "no_subscription_covers",
    "subscription_matched",
    "subscription_not_matched",
    "subscription_denied",
    "subscription_excluded",
    "subscription_silenced",
    "no_contact",
    "routed",
    "delivered",
    "delivered_in_digest",
    "pending",
    "retrying",
    "failed",
    "contact_removed",
    "attempt",
    "folded_into_digest",
    "outcome",
];

/// What to do about a platform's verdict, from its code and reason.
pub fn advice(platform_code: Option<&str>, reason: &str) -> Option<String> {
    let r = reason.to_lowercase();
    let code = platform_code.unwrap_or("");
    let fix = if r.starts_with("pagerduty refused the event") && r.contains("routing") {
        "PagerDuty does not take the routing key: copy the Integration Key of the service's Events API v2 integration (Service → Integrations → Events API V2) into the contact's `routing_key` (32 characters)"
    } else if r.starts_with("pagerduty refused the event") {
        "PagerDuty refused a field of the event (the reason names it); if the contact's `url` points at a relay, check that it forwards Events API v2 bodies unchanged to https://events.pagerduty.com/v2/enqueue"
    } else if r.starts_with("pagerduty is rate limiting") {
        "PagerDuty takes about 120 events a minute per routing key: send this service fewer events (merge windows, digests), or spread them over several integration keys"
    } else if r.starts_with("pagerduty")
        && matches!(code, "" | "invalid event")
        && r.contains("`url`")
    {
        "the contact's `url` is not PagerDuty's Events API v2 endpoint: remove `url` (the default is https://events.pagerduty.com/v2/enqueue) or point it at a relay that forwards there"
    } else if r.starts_with("teams workflows refused the webhook's signature") {
        "Teams Workflows refused the URL's `sig`: copy the flow's HTTP POST URL again (Teams → the channel's Workflows → the flow; it changes when the flow is re-created) into the contact's `webhook`"
    } else if r.starts_with("teams workflows does not know this flow") {
        "Teams Workflows does not know this flow: it was deleted or turned off; create a \"Post to a channel when a webhook request is received\" workflow in the channel and copy its URL into the contact's `webhook`"
    } else if r.starts_with("teams refused the message as too large") {
        "a Teams message is at most 28 KB: shorten the contact's template (Tocsin's own cards stay under 24,000 bytes)"
    } else if r.starts_with("teams workflows refused the card") {
        "Teams Workflows refused the card's shape (the reason names the field): check the contact's template, or whether the flow's trigger expects another schema"
    } else if matches!(code, "19024") || r.contains("keywords") {
        "add one of the bot's keywords to the contact's `keywords` (Tocsin then puts one in every message), or to the template"
    } else if matches!(code, "19021") || r.contains("signature") || r.contains("sign not match") {
        "the signing secret is wrong: copy the bot's secret into the contact's `secret`"
    } else if matches!(
        code,
        "19001" | "93000" | "300001" | "300005" | "400101" | "400106"
    ) || r.contains("does not know")
    {
        "the bot was removed from its group or the webhook URL is wrong: copy the webhook URL from the bot's settings again"
    } else if code == "10015" {
        "Discord does not know this webhook: it was deleted or the URL is wrong; create a webhook in the channel's settings (Integrations → Webhooks) and copy its URL into the contact's `webhook`"
    } else if code == "50027" {
        "Discord refused the webhook's token: copy the webhook's URL again (its last part is the token; it changes when the webhook is reset)"
    } else if code == "50035" {
        "Discord refused a field of the message (the reason names it): keep the contact's template within Discord's limits (description 4096, field 1024, 6000 characters in all)"
    } else if r.starts_with("telegram") && r.contains("chat not found") {
        "Telegram does not know the chat: check the contact's `chat_id` (groups are negative numbers, channels may be `@username`) and that the bot was added to that chat (as an admin of a channel)"
    } else if r.starts_with("telegram") && r.contains("supergroup") {
        "the Telegram group became a supergroup with a new id: set the contact's `chat_id` to the id the reason names"
    } else if r.starts_with("telegram") && r.contains("can't parse entities") {
        "Telegram could not parse the message's HTML: the contact's template must use only b, i, u, s, a href, code, pre, blockquote, each closed"
    } else if r.starts_with("telegram") && r.contains("too long") {
        "Telegram allows 4096 characters per message: shorten the contact's template"
    } else if r.starts_with("telegram") && code == "401" {
        "Telegram refused the bot token: copy the token from @BotFather (/token) into the contact's `bot_token`"
    } else if r.starts_with("telegram") && code == "403" {
        "Telegram forbids the bot to post there: add the bot to the chat again (or have the user unblock it)"
    } else if code == "400013" {
        "the group was disbanded: point the contact at a robot in another group"
    } else if r.contains("timestamp") || r.contains("clock") {
        "this machine's clock is off: fix its time (NTP)"
    } else if r.contains("ip address") || r.contains("allowlist") {
        "add this machine's egress IP address to the bot's IP allowlist"
    } else if r.contains("egress rules") {
        "the target address is refused by the egress rules: use a public address, or set delivery.allow_private_networks"
    } else if r.contains("rate limit") {
        "the bot is over its rate limit: Tocsin waits and retries; lower the volume (subscriptions, merge windows) if this repeats"
    } else if r.contains("retry horizon") {
        "the receiver was unreachable or failing until the retry horizon: check it is up, or raise delivery.retry_horizon"
    } else if r.contains("could not connect") || r.contains("no answer") {
        "the receiver is unreachable: check the webhook URL and that the receiver is up; Tocsin keeps retrying until the horizon"
    } else if r.contains("contact removed") {
        "the contact was removed from the configuration before the message went out"
    } else if r.contains("refused the message") || r.contains("too long") {
        "the receiver refused the message: check the contact's URL, headers and secret"
    } else {
        return None;
    };
    Some(fix.to_string())
}

fn delivery_steps(d: &DeliveryRecord, steps: &mut Vec<Step>) {
    let via = d.subscriptions.join(", ");
    steps.push(
        Step::new(
            "routed",
            format!("Routed to contact {} through {via}.", d.contact),
        )
        .contact(&d.contact),
    );
    if d.message_kind.as_deref() == Some("digest") {
        steps.push(
            Step::new(
                "folded_into_digest",
                format!(
                    "The bot's rate budget could not take every pending message, so this alert was folded into digest {}.",
                    d.message_id.as_deref().unwrap_or("?")
                ),
            )
            .contact(&d.contact),
        );
    }
    // Attempts that ended the same way in a row (the same status, platform
    // code and reason: a retry loop against a down receiver) are one step
    // with their count, so the reason and its fix are said once.
    let first_step = steps.len();
    let mut i = 0;
    while i < d.attempts.len() {
        let a = &d.attempts[i];
        let same = |b: &&crate::store::AttemptRow| {
            b.outcome == a.outcome
                && b.http_status == a.http_status
                && b.platform_code == a.platform_code
                && b.reason == a.reason
        };
        let run = d.attempts[i..].iter().take_while(same).count();
        let status = a
            .http_status
            .map(|s| format!("HTTP {s}"))
            .unwrap_or_else(|| "no answer".into());
        let code = a
            .platform_code
            .as_deref()
            .map(|c| format!(", platform code {c}"))
            .unwrap_or_default();
        let sentence = if run == 1 {
            format!(
                "Attempt {} at {} ({} ms): {status}{code}: {}",
                i + 1,
                rfc3339(a.at_ms),
                a.duration_ms,
                a.reason
            )
        } else {
            let last = &d.attempts[i + run - 1];
            format!(
                "Attempts {} to {} ({run} attempts, {} to {}): each {status}{code}: {}",
                i + 1,
                i + run,
                rfc3339(a.at_ms),
                rfc3339(last.at_ms),
                a.reason
            )
        };
        let mut step = Step::new("attempt", sentence).contact(&d.contact);
        if a.outcome != "delivered"
            && let Some(f) = advice(a.platform_code.as_deref(), &a.reason)
        {
            step = step.fix(f);
        }
        steps.push(step);
        i += run;
    }
    let last = d.attempts.last();
    let step = match d.status.as_str() {
        "delivered" if d.message_kind.as_deref() == Some("digest") => Step::new(
            "delivered_in_digest",
            format!("Delivered to {} in a digest.", d.contact),
        ),
        "delivered" => Step::new("delivered", format!("Delivered to {}.", d.contact)),
        "failed" => {
            let reason = sentences::delivery_reason(d)
                .or_else(|| last.map(|a| a.reason.clone()))
                .unwrap_or_default();
            let code = if reason.contains("contact removed") {
                "contact_removed"
            } else {
                "failed"
            };
            let mut s = Step::new(code, format!("Not delivered to {}: {reason}", d.contact));
            if let Some(f) = advice(last.and_then(|a| a.platform_code.as_deref()), &reason) {
                s = s.fix(f);
            }
            s
        }
        _ if !d.attempts.is_empty() => Step::new(
            "retrying",
            format!(
                "Not delivered to {} yet: Tocsin is retrying ({} attempts so far; last: {}).",
                d.contact,
                d.attempts.len(),
                last.map(|a| a.reason.as_str()).unwrap_or("")
            ),
        ),
        other => Step::new(
            "pending",
            format!("Waiting to be sent to {} (status {other}).", d.contact),
        ),
    };
    // Each fix once: on the last step of this delivery that calls for it.
    let step = step.contact(&d.contact);
    let mut later: Vec<String> = step.fix.iter().cloned().collect();
    for s in steps[first_step..].iter_mut().rev() {
        if let Some(f) = &s.fix {
            if later.contains(f) {
                s.fix = None;
            } else {
                later.push(f.clone());
            }
        }
    }
    steps.push(step);
}

/// The recorded verdicts with their sentences: route's words for each code,
/// or the sentence stored with it by builds before schema 4.
pub fn decisions(d: &EventDetail) -> Vec<crate::route::Decision> {
    d.decisions
        .iter()
        .map(|x| {
            let code = crate::route::decision_code(&x.code);
            let detail = match &x.detail {
                Some(text) => text.clone(),
                None => crate::route::RouteDecision {
                    subscription: x.subscription.as_str().into(),
                    matched: code == "matched",
                    code,
                    arg: x.arg.as_deref().map(Into::into),
                }
                .detail(&d.stored.event),
            };
            crate::route::Decision {
                subscription: x.subscription.clone(),
                matched: code == "matched",
                code,
                detail,
            }
        })
        .collect()
}

/// The steps for one stored event.
pub fn explain(d: &EventDetail) -> Vec<Step> {
    let decisions = decisions(d);
    let s = &d.stored;
    let e = &s.event;
    let mut steps = vec![Step::new(
        "received",
        format!(
            "Received at {} in the {} format (event time {}), handled with config version {}.",
            rfc3339(e.received_ms),
            e.format.as_str(),
            rfc3339(e.time_ms),
            &s.config_version[..s.config_version.len().min(12)]
        ),
    )];
    if e.state == crate::event::EventState::Resolved {
        resolve_steps(d, &decisions, &mut steps);
        return steps;
    }
    if let (Some(item), Some(kind)) = (&s.switch_item, &s.switch_kind) {
        let source = s.switch_source.as_deref().unwrap_or("?");
        steps.push(
            Step::new(
                "switch_off",
                format!(
                    "Stopped at the push switch: item {item}/{kind} is off in source {source}."
                ),
            )
            .fix(format!(
                "set sources[{source}].items.{item}.{kind}: true to forward these events"
            )),
        );
        return steps;
    }
    steps.push(Step::new(
        "switch_passed",
        format!(
            "Push switch: nothing stops product {} / event type {:?}.",
            e.product, e.event_type
        ),
    ));
    if decisions.is_empty() {
        steps.push(
            Step::new(
                "no_subscription_covers",
                format!(
                    "No subscription covers product {} with event type {:?}.",
                    e.product, e.event_type
                ),
            )
            .fix("add a subscription whose products and event_types include this event (or leave them empty for any)"),
        );
    }
    for x in &decisions {
        let step = if x.matched {
            Step::new(
                "subscription_matched",
                format!("Subscription {} matched.", x.subscription),
            )
        } else if x.code == "excluded" {
            let entry = d
                .decisions
                .iter()
                .find(|r| r.subscription == x.subscription)
                .and_then(|r| r.arg.as_deref())
                .and_then(|a| a.split(':').next())
                .unwrap_or("exclude")
                .to_string();
            Step::new(
                "subscription_excluded",
                format!("{} ({}).", capitalize(&x.detail), x.code),
            )
            .fix(format!(
                "if this event should reach its contacts, narrow or remove subscriptions[{}].{entry}",
                x.subscription
            ))
        } else if x.code == "silenced" {
            let silence = d
                .decisions
                .iter()
                .find(|r| r.subscription == x.subscription)
                .and_then(|r| r.arg.clone())
                .unwrap_or_default();
            Step::new(
                "subscription_silenced",
                format!("{} ({}).", capitalize(&x.detail), x.code),
            )
            .fix(format!(
                "if this event should be sent, end silence {silence} (DELETE /api/v1/silences/{silence})"
            ))
        } else if x.code.starts_with("denied") {
            Step::new(
                "subscription_denied",
                format!("{} ({}).", capitalize(&x.detail), x.code),
            )
        } else {
            Step::new(
                "subscription_not_matched",
                format!("{} ({}).", capitalize(&x.detail), x.code),
            )
        };
        steps.push(step.sub(&x.subscription));
    }
    if decisions.iter().any(|x| x.matched) && d.deliveries.is_empty() {
        steps.push(
            Step::new(
                "no_contact",
                "The matching subscriptions' policies lead to no contact.".into(),
            )
            .fix("give the notification policy a contact group with contacts"),
        );
    }
    for del in &d.deliveries {
        delivery_steps(del, &mut steps);
    }
    steps.push(Step::new("outcome", format!("Outcome: {}.", s.outcome)));
    steps
}

/// A resolved event is not routed: it is matched to its firing alert and
/// goes to the contacts that were told of it.
fn resolve_steps(d: &EventDetail, decisions: &[crate::route::Decision], steps: &mut Vec<Step>) {
    let firing = if d.resolves.is_empty() {
        "no firing event still open".to_string()
    } else {
        format!("firing event(s) {}", d.resolves.join(", "))
    };
    if d.deliveries.is_empty() {
        steps.push(
            Step::new(
                "resolve_unmatched",
                format!(
                    "A resolve of {firing}: it matched no contact that was told of the alert, so nothing is sent (resolve_no_told_contact)."
                ),
            )
            .fix("a resolve goes only to contacts told of the firing event: check the firing event's deliveries, and that the resolve carries the same identity (fingerprint, or product, event type, name and resource)"),
        );
    } else {
        let subs: Vec<&str> = decisions
            .iter()
            .filter(|x| x.code == "resolve")
            .map(|x| x.subscription.as_str())
            .collect();
        let contacts: Vec<&str> = d.deliveries.iter().map(|x| x.contact.as_str()).collect();
        steps.push(Step::new(
            "resolve",
            format!(
                "A resolve of {firing}: a resolved message goes to the contacts told of it ({}), through subscription(s) {} (resolve).",
                contacts.join(", "),
                subs.join(", ")
            ),
        ));
    }
    for del in &d.deliveries {
        delivery_steps(del, steps);
    }
    steps.push(Step::new(
        "outcome",
        format!("Outcome: {}.", d.stored.outcome),
    ));
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Readable text for the CLI.
pub fn as_text(event_id: &str, steps: &[serde_json::Value]) -> String {
    let mut out = format!("Event {event_id}\n");
    for (i, s) in steps.iter().enumerate() {
        out.push_str(&format!(
            "{:>2}. {}\n",
            i + 1,
            s["sentence"].as_str().unwrap_or("")
        ));
        if let Some(f) = s["fix"].as_str() {
            out.push_str(&format!("    → {f}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RecordedDecision, StoredEvent};

    #[test]
    fn recorded_codes_get_route_sentences_and_old_sentences_stay() {
        let recorded =
            |subscription: &str, code: &str, levels: Option<&str>, detail: Option<&str>| {
                RecordedDecision {
                    subscription: subscription.into(),
                    code: code.into(),
                    arg: levels.map(Into::into),
                    detail: detail.map(Into::into),
                }
            };
        let d = EventDetail {
            stored: stored_event(),
            decisions: vec![
                recorded(
                    "crit-only",
                    "level_not_matched",
                    Some("critical, warn"),
                    None,
                ),
                recorded("q\"uote", "name_not_matched", None, None),
                recorded("s", "matched", None, None),
                recorded(
                    "old",
                    "matched",
                    None,
                    Some("matched old (as written by schema 3)"),
                ),
            ],
            deliveries: vec![],
            resolves: vec![],
            resolved_by: vec![],
        };
        let got: Vec<(String, bool, &str, String)> = decisions(&d)
            .into_iter()
            .map(|x| (x.subscription, x.matched, x.code, x.detail))
            .collect();
        let row = |s: &str, m, c, t: &str| (s.to_string(), m, c, t.to_string());
        assert_eq!(
            got,
            [
                row(
                    "crit-only",
                    false,
                    "level_not_matched",
                    "level critical is not among critical, warn in crit-only"
                ),
                row(
                    "q\"uote",
                    false,
                    "name_not_matched",
                    "name Incident:DDoS is not among the event names of q\"uote"
                ),
                row("s", true, "matched", "matched s"),
                row(
                    "old",
                    true,
                    "matched",
                    "matched old (as written by schema 3)"
                ),
            ]
        );
    }

    fn stored_event() -> StoredEvent {
        StoredEvent {
            seq: 1,
            event: crate::event::Event {
                event_type: "Incident".into(),
                ..crate::event::Event::minimal(
                    "e",
                    "Sas",
                    "Incident:DDoS",
                    crate::domain::Level::Critical,
                )
            },
            outcome: "routed".into(),
            switch_item: None,
            switch_kind: None,
            switch_source: None,
            config_version: "v".into(),
        }
    }

    /// Teams' verdicts get Teams' fixes (not the signing-secret or
    /// bot-removed advice of the other platforms, whose words they share).
    #[test]
    fn teams_failures_get_teams_advice() {
        use crate::notify::Notifier;
        let n = crate::notify::teams::TeamsNotifier;
        let h = reqwest::header::HeaderMap::new();
        for (status, body, words) in [
            (
                401,
                r#"{"error":{"code":"AuthorizationFailed","message":"x"}}"#,
                "copy the flow's HTTP POST URL again",
            ),
            (
                404,
                r#"{"error":{"code":"WorkflowNotFound","message":"x"}}"#,
                "Post to a channel when a webhook request is received",
            ),
            (413, "", "at most 28 KB"),
            (
                400,
                r#"{"error":{"code":"InvalidAdaptiveCard","message":"x"}}"#,
                "refused the card's shape",
            ),
        ] {
            let v = n.classify(status, &h, body.as_bytes());
            let fix = advice(v.platform_code.as_deref(), &v.reason).unwrap_or_default();
            assert!(fix.contains(words), "{status}: {fix}");
            assert!(!fix.contains("signing secret"), "{status}: {fix}");
        }
    }

    /// PagerDuty's verdicts get PagerDuty's fixes, each naming the key to change.
    #[test]
    fn pagerduty_failures_get_pagerduty_advice() {
        use crate::notify::Notifier;
        let n = crate::notify::pagerduty::PagerdutyNotifier;
        let h = reqwest::header::HeaderMap::new();
        for (status, body, words) in [
            (
                400,
                r#"{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]}"#,
                "`routing_key` (32 characters)",
            ),
            (
                400,
                r#"{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing or blank"]}"#,
                "the reason names it",
            ),
            (429, "", "120 events a minute per routing key"),
            (404, "Not Found", "remove `url`"),
        ] {
            let v = n.classify(status, &h, body.as_bytes());
            let fix = advice(v.platform_code.as_deref(), &v.reason).unwrap_or_default();
            assert!(fix.contains(words), "{status}: {fix}");
            assert!(!fix.contains("signing secret"), "{status}: {fix}");
        }
    }

    #[test]
    fn retries_that_failed_alike_are_one_step_and_each_fix_is_said_once() {
        let attempt = |at_ms: i64, status: Option<u16>, reason: &str, outcome: &str| {
            crate::store::AttemptRow {
                at_ms,
                duration_ms: 3,
                http_status: status,
                platform_code: None,
                platform_message: None,
                reason: reason.into(),
                outcome: outcome.into(),
            }
        };
        let down = "could not connect: connection refused";
        let mut attempts: Vec<_> = (0..6)
            .map(|i| attempt(i * 1000, None, down, "retry"))
            .collect();
        attempts.push(attempt(7000, Some(503), "HTTP 503", "retry"));
        attempts.push(attempt(8000, None, down, "retry"));
        attempts.push(attempt(9000, None, down, "failed"));
        let d = EventDetail {
            stored: stored_event(),
            decisions: vec![RecordedDecision {
                subscription: "s".into(),
                code: "matched".into(),
                arg: None,
                detail: None,
            }],
            deliveries: vec![crate::store::DeliveryRecord {
                contact: "hook".into(),
                status: "failed".into(),
                subscriptions: vec!["s".into()],
                message_id: Some("m".into()),
                message_kind: Some("single".into()),
                reason: Some(down.into()),
                reason_code: None,
                pending_reason: None,
                attempts,
            }],
            resolves: vec![],
            resolved_by: vec![],
        };
        let steps = explain(&d);
        let attempts: Vec<&str> = steps
            .iter()
            .filter(|s| s.code == "attempt")
            .map(|s| s.sentence.as_str())
            .collect();
        assert_eq!(
            attempts,
            [
                "Attempts 1 to 6 (6 attempts, 1970-01-01T00:00:00.000Z to 1970-01-01T00:00:05.000Z): each no answer: could not connect: connection refused",
                "Attempt 7 at 1970-01-01T00:00:07.000Z (3 ms): HTTP 503: HTTP 503",
                "Attempt 8 at 1970-01-01T00:00:08.000Z (3 ms): no answer: could not connect: connection refused",
                "Attempt 9 at 1970-01-01T00:00:09.000Z (3 ms): no answer: could not connect: connection refused",
            ]
        );
        // The receiver-unreachable fix: once, on the conclusion.
        let fixes: Vec<(&str, &str)> = steps
            .iter()
            .filter_map(|s| Some((s.code, s.fix.as_deref()?)))
            .collect();
        assert_eq!(fixes.len(), 1, "{fixes:?}");
        assert_eq!(fixes[0].0, "failed");
        assert!(
            fixes[0].1.contains("the receiver is unreachable"),
            "{fixes:?}"
        );
    }
}
