//! Time parsing and formatting shared by the wire formats and the API.
//! Timestamps are kept as i64 milliseconds since the Unix epoch everywhere.

use jiff::{Timestamp, fmt::strtime};

/// Formats epoch-ms as RFC 3339 in UTC with millisecond precision.
pub fn rfc3339(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => format!("{ts:.3}"),
        Err(_) => String::from("1970-01-01T00:00:00.000Z"),
    }
}

/// Parses an RFC 3339 timestamp (any offset) to epoch-ms.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    s.trim()
        .parse::<Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// Parses the cloud monitor's `eventTime`: `yyyyMMdd'T'HHmmss.SSSZ`, e.g.
/// `20251210T101502.331+0800` (milliseconds optional).
pub fn parse_compact(s: &str) -> Option<i64> {
    let s = s.trim();
    for fmt in ["%Y%m%dT%H%M%S%.f%z", "%Y%m%dT%H%M%S%z"] {
        if let Ok(tm) = strtime::parse(fmt, s)
            && let Ok(ts) = tm.to_timestamp()
        {
            return Some(ts.as_millisecond());
        }
    }
    None
}

/// `ms` in the time zone `timezone` (UTC when unknown), as messages show
/// it: `2026-11-29 10:00:00 CST`.
pub fn local_time(ms: i64, timezone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.to_zoned(tz).strftime("%Y-%m-%d %H:%M:%S %Z").to_string(),
        Err(_) => rfc3339(ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_event_time() {
        let ms = parse_compact("20251210T101502.331+0800").unwrap();
        assert_eq!(rfc3339(ms), "2025-12-10T02:15:02.331Z");
        let ms = parse_compact("20251210T101502+0000").unwrap();
        assert_eq!(rfc3339(ms), "2025-12-10T10:15:02.000Z");
        assert!(parse_compact("2025-12-10").is_none());
    }

    #[test]
    fn rfc3339_roundtrip() {
        let ms = parse_rfc3339("2026-11-26T10:00:00+08:00").unwrap();
        assert_eq!(rfc3339(ms), "2026-11-26T02:00:00.000Z");
        assert!(parse_rfc3339("yesterday").is_none());
    }
}
