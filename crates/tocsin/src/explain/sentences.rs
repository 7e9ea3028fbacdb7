//! The sentences for what the store keeps as codes and parameters: why a
//! notice was held, merged or suppressed, and the note of a message Tocsin
//! scheduled itself. The history, explain and the messages themselves show
//! these words; the store never writes them.

use crate::domain::{MessageNote, NoticeReason};
use crate::store::DeliveryRecord;
use crate::timefmt::rfc3339;

fn human(ms: i64) -> String {
    crate::domain::humanize(std::time::Duration::from_millis(
        u64::try_from(ms).unwrap_or(0),
    ))
}

/// Why a notice is held, merged or suppressed, for people.
pub fn notice_reason(r: &NoticeReason) -> String {
    match r {
        NoticeReason::Held { policy, opens_ms } => format!(
            "held: outside the active hours of {policy}; goes out in one digest when they open at {}",
            rfc3339(*opens_ms)
        ),
        NoticeReason::Merged {
            identity,
            follow_up_ms,
        } => format!(
            "merged: a repeat of {identity} inside the merge window; counted in the follow-up sent at {}",
            rfc3339(*follow_up_ms)
        ),
        NoticeReason::BelowMinOccurrences {
            count,
            min,
            window_ms,
        } => format!(
            "below min_occurrences: {count} of {min} occurrences within {}",
            human(*window_ms)
        ),
        NoticeReason::InsideSilence { silence_ms } => format!(
            "inside the silence of {} after the notification of this event",
            human(*silence_ms)
        ),
    }
}

/// The note shown above the events of a message Tocsin scheduled itself.
pub fn message_note(n: &MessageNote) -> String {
    match n {
        MessageNote::ScheduledDigest {
            subscription,
            at_ms,
        } => format!(
            "Scheduled digest of subscription {subscription}, sent at {}",
            rfc3339(*at_ms)
        ),
        MessageNote::Held { policy, opens_ms } => format!(
            "Held outside the active hours of notification policy {policy}; sent when they opened at {}",
            rfc3339(*opens_ms)
        ),
        MessageNote::Resolved {
            firing_ms,
            resolved_ms,
        } => format!(
            "Resolved after {} (firing since {})",
            span(resolved_ms.saturating_sub(*firing_ms)),
            rfc3339(*firing_ms)
        ),
    }
}

/// A span of time as people say it: `3h 12m`, `5m 3s`, `2d 4h`, `40s`.
pub fn span(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) if sec > 0 => format!("{m}m {sec}s"),
        (0, 0, _) => format!("{m}m"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// A message's note: the text it was given (failure reports), else the
/// sentence of its code.
pub fn note(text: Option<String>, code: Option<&MessageNote>) -> Option<String> {
    text.or_else(|| code.map(message_note))
}

/// The reason a delivery shows: the text recorded on the notice (a platform's
/// verdict, a failure), else the sentence of its code, else, while its
/// message is pending, the message's last reason (a retry).
pub fn delivery_reason(d: &DeliveryRecord) -> Option<String> {
    d.reason
        .clone()
        .or_else(|| d.reason_code.as_ref().map(notice_reason))
        .or_else(|| d.pending_reason.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_of_the_codes() {
        let at = 1_764_806_400_000; // 2025-12-04T00:00:00Z
        assert_eq!(
            notice_reason(&NoticeReason::Held {
                policy: "office".into(),
                opens_ms: at
            }),
            "held: outside the active hours of office; goes out in one digest when they open at 2025-12-04T00:00:00.000Z"
        );
        assert_eq!(
            notice_reason(&NoticeReason::Merged {
                identity: "Sas | X".into(),
                follow_up_ms: at
            }),
            "merged: a repeat of Sas | X inside the merge window; counted in the follow-up sent at 2025-12-04T00:00:00.000Z"
        );
        assert_eq!(
            notice_reason(&NoticeReason::BelowMinOccurrences {
                count: 2,
                min: 3,
                window_ms: 600_000
            }),
            "below min_occurrences: 2 of 3 occurrences within 600s"
        );
        assert_eq!(
            notice_reason(&NoticeReason::InsideSilence {
                silence_ms: 3_600_000
            }),
            "inside the silence of 3600s after the notification of this event"
        );
        assert_eq!(
            message_note(&MessageNote::ScheduledDigest {
                subscription: "s".into(),
                at_ms: at
            }),
            "Scheduled digest of subscription s, sent at 2025-12-04T00:00:00.000Z"
        );
        assert_eq!(
            message_note(&MessageNote::Held {
                policy: "p".into(),
                opens_ms: at
            }),
            "Held outside the active hours of notification policy p; sent when they opened at 2025-12-04T00:00:00.000Z"
        );
    }

    #[test]
    fn resolve_notes_say_how_long_the_alert_fired() {
        let h = 3_600_000;
        let note = message_note(&MessageNote::Resolved {
            firing_ms: 1_764_900_000_000,
            resolved_ms: 1_764_900_000_000 + 3 * h + 12 * 60_000,
        });
        assert!(
            note.starts_with("Resolved after 3h 12m (firing since "),
            "{note}"
        );
        assert_eq!(span(0), "0s");
        assert_eq!(span(40_000), "40s");
        assert_eq!(span(5 * 60_000 + 3_000), "5m 3s");
        assert_eq!(span(30 * 60_000), "30m");
        assert_eq!(span(2 * 24 * h + 4 * h + 59_000), "2d 4h");
        assert_eq!(span(-5), "0s");
        let code = serde_json::to_string(&MessageNote::Resolved {
            firing_ms: 1,
            resolved_ms: 2,
        })
        .unwrap();
        assert_eq!(code, r#"{"code":"resolved","firing_ms":1,"resolved_ms":2}"#);
    }

    #[test]
    fn stored_codes_are_json_with_a_code() {
        let r = NoticeReason::InsideSilence { silence_ms: 5 };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"code":"inside_silence","silence_ms":5}"#);
        assert_eq!(serde_json::from_str::<NoticeReason>(&text).unwrap(), r);
    }
}
