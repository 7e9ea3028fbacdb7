//! The domain's shared vocabulary: the types and words every stage of an
//! alert's journey uses (ingest, route, dispatch, notify, store, explain).
//! It depends on nothing else in the crate, so any module may import it
//! without creating a cycle.

use std::time::Duration;

/// An event's level, in the order of importance (`Critical` is the largest).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Level {
    Info,
    Warn,
    Critical,
}

impl Level {
    /// Every level, most severe first.
    pub const ALL: [Level; 3] = [Level::Critical, Level::Warn, Level::Info];

    /// Case-insensitive: critical, warn, warning, info.
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "critical" => Some(Level::Critical),
            "warn" | "warning" => Some(Level::Warn),
            "info" => Some(Level::Info),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Critical => "critical",
            Level::Warn => "warn",
            Level::Info => "info",
        }
    }
}

/// What kind of message a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    Single,
    FollowUp,
    Digest,
    Test,
    /// Tells a contact group that a message to another contact failed for good.
    FailureReport,
    /// Tells a contact that an alert it was told of has been resolved (an
    /// event with `state: resolved`); PagerDuty resolves the incident of the
    /// same `dedup_key`.
    Resolved,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Single => "single",
            MessageKind::FollowUp => "follow_up",
            MessageKind::Digest => "digest",
            MessageKind::Test => "test",
            MessageKind::FailureReport => "failure_report",
            MessageKind::Resolved => "resolved",
        }
    }
    pub fn parse(s: &str) -> Option<MessageKind> {
        Some(match s {
            "single" => MessageKind::Single,
            "follow_up" => MessageKind::FollowUp,
            "digest" => MessageKind::Digest,
            "test" => MessageKind::Test,
            "failure_report" => MessageKind::FailureReport,
            "resolved" => MessageKind::Resolved,
            _ => return None,
        })
    }
}

/// A duration as a person writes it in the config: `1500ms`, `30s`.
pub fn humanize(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else {
        format!("{}s", ms / 1000)
    }
}

/// What the store remembers per (contact, identity of an event): the merge
/// window, threshold count and silence that noise reduction decides on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub opened_ms: i64,
    pub merge_until: i64,
    pub silence_until: i64,
    pub count: u32,
    pub first_ms: i64,
    pub last_ms: i64,
    /// The follow-up message that collects repeats, once there is one.
    pub follow_up: Option<String>,
    /// A notification went out for this window.
    pub notified: bool,
}

impl Window {
    pub fn ends(&self) -> i64 {
        self.merge_until.max(self.silence_until)
    }
}

/// What noise reduction decided for one occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoiseDecision {
    /// Send a message for this event now.
    Notify,
    /// Fold into the window's follow-up, sent when the window closes at `at`.
    Merge { at: i64 },
    /// Do not send; the reason says why.
    Suppress(NoticeReason),
}

/// Why a notice is held, merged or suppressed, as the store keeps it: a code
/// and its parameters (JSON `{"code": ..., ...}`); explain writes the sentence.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum NoticeReason {
    /// Outside the active hours of `policy`; goes out in the digest at `opens_ms`.
    Held { policy: String, opens_ms: i64 },
    /// A repeat inside the merge window of the event identified by
    /// `identity` (in words), counted in the follow-up at `follow_up_ms`.
    Merged { identity: String, follow_up_ms: i64 },
    /// `count` of `min` occurrences within `window_ms` so far.
    BelowMinOccurrences {
        count: u32,
        min: u32,
        window_ms: i64,
    },
    /// Inside the silence of `silence_ms` after this event's notification.
    InsideSilence { silence_ms: i64 },
}

/// What a message Tocsin scheduled itself is, as the store keeps it (a code
/// and its parameters); the note shown above its events is written from it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum MessageNote {
    /// The scheduled digest of `subscription`, firing at `at_ms`.
    ScheduledDigest { subscription: String, at_ms: i64 },
    /// What `policy` held outside its active hours, sent when they open at `opens_ms`.
    Held { policy: String, opens_ms: i64 },
    /// A resolve of the alert that first fired at `firing_ms`, resolved at
    /// `resolved_ms` (the resolve's own time).
    Resolved { firing_ms: i64, resolved_ms: i64 },
}
