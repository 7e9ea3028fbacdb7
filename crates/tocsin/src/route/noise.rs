//! Noise reduction, decided purely: merge windows, thresholds and silences
//! per (contact, identity of the event). The store keeps the windows and
//! runs [`decide`] (handed to it with each notice, as a function it does not
//! know the rules of) inside the ingest transaction, so concurrent requests
//! and restarts see one consistent history. Decisions are codes with their
//! parameters ([`NoticeReason`]); explain writes the sentences.

/// The noise rules that apply to one contact for one event: the smallest of
/// the rules of every subscription that led there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoisePolicy {
    /// 0: no merge window.
    pub window_ms: i64,
    /// 0: no silence.
    pub silence_ms: i64,
    pub min_occurrences: u32,
    /// Hash of the event's identity under the chosen keys.
    pub identity: String,
    /// The identity in words, for the history.
    pub identity_text: String,
}

/// Whether these settings reduce noise at all (otherwise every event goes
/// out, and no window is kept).
pub fn has_rules(window_ms: i64, silence_ms: i64, min_occurrences: u32) -> bool {
    window_ms > 0 || silence_ms > 0 || min_occurrences > 1
}

// The identity of "the same event" lives beside the event: PagerDuty's
// `dedup_key` (notify) is built from it too, and route and notify share
// only domain types.
use crate::event::Event;
pub use crate::event::{DEFAULT_KEYS, identity};

/// The identity a resolve is matched to its firing alert by: the producer's
/// own key for the alert (Alertmanager's fingerprint) when the event has
/// one, else the merge identity under the default keys ([`identity`], the
/// same function noise windows key by).
pub fn alert_identity(e: &Event) -> String {
    match e.identity_key.as_deref().filter(|k| !k.is_empty()) {
        Some(key) => format!("key:{key}"),
        None => format!("merge:{}", identity(e, &[]).0),
    }
}

pub use crate::domain::{NoiseDecision, NoticeReason, Window};

/// Decides what to do with one occurrence at `at_ms`, given the window (if
/// any), and returns the window as it is afterwards.
pub fn decide(window: Option<&Window>, p: &NoisePolicy, at_ms: i64) -> (NoiseDecision, Window) {
    let open = window.filter(|w| at_ms < w.ends());
    let Some(w) = open else {
        let notify = p.min_occurrences <= 1;
        let w = Window {
            opened_ms: at_ms,
            merge_until: at_ms + p.window_ms,
            silence_until: if notify { at_ms + p.silence_ms } else { at_ms },
            count: 1,
            first_ms: at_ms,
            last_ms: at_ms,
            follow_up: None,
            notified: notify,
        };
        let d = if notify {
            NoiseDecision::Notify
        } else {
            NoiseDecision::Suppress(NoticeReason::BelowMinOccurrences {
                count: 1,
                min: p.min_occurrences,
                window_ms: p.window_ms,
            })
        };
        return (d, w);
    };
    let mut w = w.clone();
    w.count += 1;
    w.last_ms = at_ms;
    if !w.notified {
        if w.count >= p.min_occurrences {
            w.notified = true;
            w.silence_until = at_ms + p.silence_ms;
            return (NoiseDecision::Notify, w);
        }
        let reason = NoticeReason::BelowMinOccurrences {
            count: w.count,
            min: p.min_occurrences,
            window_ms: p.window_ms,
        };
        return (NoiseDecision::Suppress(reason), w);
    }
    if at_ms < w.merge_until {
        return (NoiseDecision::Merge { at: w.merge_until }, w);
    }
    let reason = NoticeReason::InsideSilence {
        silence_ms: p.silence_ms,
    };
    (NoiseDecision::Suppress(reason), w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    fn policy(window: i64, silence: i64, min: u32) -> NoisePolicy {
        NoisePolicy {
            window_ms: window,
            silence_ms: silence,
            min_occurrences: min,
            identity: "x".into(),
            identity_text: "x".into(),
        }
    }

    #[test]
    fn alert_identity_is_the_producer_key_else_the_default_merge_identity() {
        use crate::domain::Level;
        let mut e = Event::minimal("e1", "Sas", "Suspicious:UnusualLogon", Level::Warn);
        e.resource = Some("i-1".into());
        let mut again = e.clone();
        again.id = "e2".into();
        again.level = Level::Critical;
        assert_eq!(alert_identity(&e), alert_identity(&again));
        assert_eq!(alert_identity(&e), format!("merge:{}", identity(&e, &[]).0));
        again.resource = Some("i-2".into());
        assert_ne!(alert_identity(&e), alert_identity(&again));
        // The producer's key wins over every field.
        e.identity_key = Some("alertmanager:5f3c".into());
        again.identity_key = Some("alertmanager:5f3c".into());
        assert_eq!(alert_identity(&e), alert_identity(&again));
        assert_eq!(alert_identity(&e), "key:alertmanager:5f3c");
    }

    #[test]
    fn merge_window_boundaries() {
        let p = policy(60_000, 0, 1);
        let (d, w) = decide(None, &p, 1_000);
        assert_eq!(d, NoiseDecision::Notify);
        // 1 ms inside the window: merged into the follow-up at its close.
        let (d, w2) = decide(Some(&w), &p, 60_999);
        assert_eq!(d, NoiseDecision::Merge { at: 61_000 });
        assert_eq!(w2.count, 2);
        // Exactly at the close: a new window, notified at once.
        let (d, w3) = decide(Some(&w2), &p, 61_000);
        assert_eq!(d, NoiseDecision::Notify);
        assert_eq!((w3.opened_ms, w3.count), (61_000, 1));
    }

    #[test]
    fn threshold_reached_at_the_window_end() {
        let p = policy(10_000, 0, 3);
        let below = |count| {
            NoiseDecision::Suppress(NoticeReason::BelowMinOccurrences {
                count,
                min: 3,
                window_ms: 10_000,
            })
        };
        let (d, w) = decide(None, &p, 0);
        assert_eq!(d, below(1));
        let (d, w) = decide(Some(&w), &p, 5_000);
        assert_eq!(d, below(2));
        let (d, w) = decide(Some(&w), &p, 9_999);
        assert_eq!(d, NoiseDecision::Notify);
        assert!(w.notified);
        // One ms later the window is over: counting starts again.
        let (d, _) = decide(Some(&w), &p, 10_000);
        assert_eq!(d, below(1));
    }

    #[test]
    fn silence_after_a_notification() {
        let p = policy(0, 30_000, 1);
        let (_, w) = decide(None, &p, 0);
        let (d, w) = decide(Some(&w), &p, 29_999);
        assert_eq!(
            d,
            NoiseDecision::Suppress(NoticeReason::InsideSilence { silence_ms: 30_000 })
        );
        let (d, _) = decide(Some(&w), &p, 30_000);
        assert_eq!(d, NoiseDecision::Notify);
        // Merge window and silence together: merged first, then suppressed.
        let p = policy(10_000, 30_000, 1);
        let (_, w) = decide(None, &p, 0);
        let (d, w) = decide(Some(&w), &p, 9_000);
        assert_eq!(d, NoiseDecision::Merge { at: 10_000 });
        let (d, _) = decide(Some(&w), &p, 20_000);
        assert!(matches!(d, NoiseDecision::Suppress(_)));
    }

    #[test]
    fn identities() {
        let mut e = Event {
            event_type: "Suspicious".into(),
            resource: Some("r1".into()),
            instance: Some("web-1".into()),
            content: serde_json::json!({"alarmUniqueInfo": "u1", "a": {"b": 7}}),
            ..Event::minimal("1", "aegis", "Suspicious:X", crate::config::Level::Warn)
        };
        let (id1, text) = identity(&e, &[]);
        assert_eq!(text, "Sas | Suspicious | Suspicious:X | u1");
        e.resource = Some("r2".into());
        assert_eq!(
            identity(&e, &[]).0,
            id1,
            "alarmUniqueInfo wins over the resource"
        );
        e.content = serde_json::json!({"a": {"b": 7}});
        assert_eq!(identity(&e, &[]).1, "Sas | Suspicious | Suspicious:X | r2");
        assert_eq!(
            identity(&e, &["instance".into(), "content.a.b".into()]).1,
            "web-1 | 7"
        );
    }
}
