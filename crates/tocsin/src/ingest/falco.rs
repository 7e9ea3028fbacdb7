//! Falco's JSON output (`json_output: true`, through `http_output`) and
//! Falcosidekick's webhook output (`POST /api/v1/events/falco`), one object
//! or an array of them.
//!
//! - `name` = `rule`, `product` = `falco`, `instance` = `hostname`,
//!   `event_type` = `source` (`syscall`, `k8s_audit`...), `time` = `time`;
//! - `level` from `priority` (case-insensitive): emergency, alert, critical,
//!   error → critical; warning, notice → warn; informational, debug and any
//!   other → info. The priority is kept as `severity`;
//! - the producer id is Falcosidekick's `uuid`; plain Falco sends none, so it
//!   is `falco:` and a hash of the object (the same output posted again is a
//!   duplicate);
//! - `content`: the object as sent (`output`, `output_fields`, `tags`...).

use super::{DecodeContext, DecodeError, fields};
use crate::config::Level;
use crate::event::{Event, EventState, Format};
use serde_json::Value;

/// A Falco priority's level.
pub fn priority_level(priority: &str) -> Level {
    match priority.to_ascii_lowercase().as_str() {
        "emergency" | "alert" | "critical" | "error" => Level::Critical,
        "warning" | "notice" => Level::Warn,
        _ => Level::Info,
    }
}

pub fn decode_one(i: usize, item: Value, ctx: &DecodeContext) -> Result<Event, DecodeError> {
    let Value::Object(m) = &item else {
        return Err(DecodeError::at(
            i,
            None,
            "each Falco event must be a JSON object",
        ));
    };
    let rule = fields::required_str(i, m, "rule")?;
    let priority = fields::required_str(i, m, "priority")?;
    let time_ms = match m.get("time") {
        None | Some(Value::Null) => ctx.received_ms,
        Some(Value::String(s)) => crate::timefmt::parse_rfc3339(s).ok_or_else(|| {
            DecodeError::at(i, Some("time"), "`time` must be an RFC 3339 timestamp")
        })?,
        Some(_) => {
            return Err(DecodeError::at(
                i,
                Some("time"),
                "`time` must be an RFC 3339 timestamp",
            ));
        }
    };
    let hostname = fields::optional_str(i, m, "hostname")?;
    let source = fields::optional_str(i, m, "source")?;
    fields::optional_str(i, m, "output")?;
    match m.get("output_fields") {
        None | Some(Value::Null | Value::Object(_)) => {}
        Some(_) => {
            return Err(DecodeError::at(
                i,
                Some("output_fields"),
                "`output_fields` must be an object",
            ));
        }
    }
    match m.get("tags") {
        None | Some(Value::Null | Value::Array(_)) => {}
        Some(_) => {
            return Err(DecodeError::at(i, Some("tags"), "`tags` must be an array"));
        }
    }
    let id = match fields::id(i, m, "uuid")? {
        Some(uuid) => uuid,
        None => fields::derived_id("falco:", &item),
    };
    Ok(Event {
        id,
        product: "falco".to_string(),
        event_type: source.unwrap_or_default(),
        name: rule,
        level: priority_level(&priority),
        severity: Some(priority),
        status: None,
        resource: None,
        instance: hostname,
        region: None,
        group: None,
        time_ms,
        received_ms: ctx.received_ms,
        content: item.clone(),
        format: Format::Falco,
        raw: item,
        state: EventState::Firing,
        identity_key: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::decode;
    use std::collections::BTreeMap;

    #[test]
    fn priorities() {
        for (p, l) in [
            ("Emergency", Level::Critical),
            ("ALERT", Level::Critical),
            ("Critical", Level::Critical),
            ("Error", Level::Critical),
            ("Warning", Level::Warn),
            ("Notice", Level::Warn),
            ("Informational", Level::Info),
            ("Debug", Level::Info),
            ("whatever", Level::Info),
        ] {
            assert_eq!(priority_level(p), l, "{p}");
        }
    }

    #[test]
    fn derived_id_is_stable_and_errors_name_fields() {
        let map = BTreeMap::new();
        let ctx = DecodeContext {
            severity_map: &map,
            received_ms: 3,
        };
        let body = br#"{"rule":"R","priority":"Notice","output":"o","time":"2026-12-01T10:00:00.123456789Z"}"#;
        let a = decode(Format::Falco, body, &ctx).unwrap();
        let b = decode(Format::Falco, body, &ctx).unwrap();
        assert_eq!(a[0].id, b[0].id);
        assert!(a[0].id.starts_with("falco:"));
        assert_eq!(
            crate::timefmt::rfc3339(a[0].time_ms),
            "2026-12-01T10:00:00.123Z"
        );
        let cases: [(&[u8], &str); 5] = [
            (br#"{"priority":"Notice"}"#, "rule"),
            (br#"{"rule":"R"}"#, "priority"),
            (br#"{"rule":"R","priority":"Notice","time":"now"}"#, "time"),
            (
                br#"{"rule":"R","priority":"Notice","output_fields":[]}"#,
                "output_fields",
            ),
            (br#"{"rule":"R","priority":"Notice","uuid":""}"#, "uuid"),
        ];
        for (body, field) in cases {
            let e = decode(Format::Falco, body, &ctx).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{e:?}");
        }
    }
}
