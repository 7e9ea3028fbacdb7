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
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Single => "single",
            MessageKind::FollowUp => "follow_up",
            MessageKind::Digest => "digest",
            MessageKind::Test => "test",
            MessageKind::FailureReport => "failure_report",
        }
    }
    pub fn parse(s: &str) -> Option<MessageKind> {
        Some(match s {
            "single" => MessageKind::Single,
            "follow_up" => MessageKind::FollowUp,
            "digest" => MessageKind::Digest,
            "test" => MessageKind::Test,
            "failure_report" => MessageKind::FailureReport,
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
