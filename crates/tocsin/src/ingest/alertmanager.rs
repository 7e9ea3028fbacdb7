//! Prometheus Alertmanager's webhook (version 4) and Grafana's webhook, which
//! extends it (`POST /api/v1/events/alertmanager`): one event per alert.
//!
//! - `name` = label `alertname` (required), `product` = label `product`
//!   else `alertmanager`, `resource` = label `instance`;
//! - `level` from label `severity`: the three levels (and `warning`), then
//!   the catalog's severity map; an unknown or absent severity is `warn`
//!   (an alert nobody classified is not quietly treated as info);
//! - `state` from the alert's `status` (else the group's), `firing` or
//!   `resolved`; `time` = `startsAt`;
//! - the producer id is `alertmanager:<fingerprint>:<startsAt>`, with
//!   `:resolved` for a resolve: a re-sent batch (Alertmanager repeats a group
//!   every `repeat_interval`) is a duplicate, a new firing after a resolve is
//!   a new event, and the resolve of a firing is stored beside it.
//!   `identity_key` = `alertmanager:<fingerprint>`. An absent fingerprint is
//!   computed from the labels the way Alertmanager does (FNV-1a 64).
//! - `content`: the alert as sent (labels, annotations, `generatorURL`,
//!   Grafana's `valueString`, `dashboardURL`, `panelURL`, `silenceURL`...)
//!   plus the group's `receiver`, `groupKey` and `externalURL`.
//!
//! The body is one webhook payload or an array of them; `index` counts alerts
//! across the request, `field` names the alert inside its payload
//! (`alerts[2].labels.alertname`).

use super::{DecodeContext, DecodeError, fields};
use crate::config::Level;
use crate::event::{Event, EventState, Format};
use serde_json::{Map, Value};

/// The level of an alert whose severity label is missing or unknown.
pub const DEFAULT_LEVEL: Level = Level::Warn;

/// Group fields copied into each alert's content.
const GROUP_FIELDS: [&str; 3] = ["receiver", "groupKey", "externalURL"];

pub fn decode(value: Value, ctx: &DecodeContext) -> Result<Vec<Event>, DecodeError> {
    let payloads = match value {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        _ => {
            return Err(DecodeError::body(
                "the body must be an Alertmanager webhook payload (a JSON object with `alerts`) or an array of them",
            ));
        }
    };
    if payloads.is_empty() {
        return Err(DecodeError::body("the array holds no webhook payloads"));
    }
    let mut events = Vec::new();
    for payload in &payloads {
        let i = events.len();
        let Value::Object(p) = payload else {
            return Err(DecodeError::at(
                i,
                None,
                "each webhook payload must be a JSON object",
            ));
        };
        let alerts = match p.get("alerts") {
            Some(Value::Array(a)) if !a.is_empty() => a,
            Some(Value::Array(_)) => {
                return Err(DecodeError::at(
                    i,
                    Some("alerts"),
                    "`alerts` holds no alerts",
                ));
            }
            None | Some(Value::Null) => {
                return Err(DecodeError::at(i, Some("alerts"), "`alerts` is required"));
            }
            Some(_) => {
                return Err(DecodeError::at(
                    i,
                    Some("alerts"),
                    "`alerts` must be an array",
                ));
            }
        };
        let group_status = match p.get("status") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(EventState::parse(s).ok_or_else(|| {
                DecodeError::at(i, Some("status"), "`status` must be firing or resolved")
            })?),
            Some(_) => {
                return Err(DecodeError::at(
                    i,
                    Some("status"),
                    "`status` must be a string",
                ));
            }
        };
        for (j, alert) in alerts.iter().enumerate() {
            let event = decode_alert(events.len(), j, alert, p, group_status, ctx)?;
            events.push(event);
        }
    }
    Ok(events)
}

fn decode_alert(
    i: usize,
    j: usize,
    alert: &Value,
    payload: &Map<String, Value>,
    group_status: Option<EventState>,
    ctx: &DecodeContext,
) -> Result<Event, DecodeError> {
    let field = |name: &str| format!("alerts[{j}].{name}");
    let err = |name: &str, problem: &str| {
        let f = field(name);
        let message = format!("`{f}` {problem}");
        DecodeError::at(i, Some(&f), message)
    };
    let Value::Object(a) = alert else {
        return Err(DecodeError::at(
            i,
            Some(&format!("alerts[{j}]")),
            format!("`alerts[{j}]` must be a JSON object"),
        ));
    };
    let labels = match a.get("labels") {
        Some(Value::Object(l)) => l,
        None | Some(Value::Null) => return Err(err("labels", "is required")),
        Some(_) => return Err(err("labels", "must be an object")),
    };
    if let Some((k, _)) = labels.iter().find(|(_, v)| !v.is_string()) {
        return Err(err(&format!("labels.{k}"), "must be a string"));
    }
    match a.get("annotations") {
        None | Some(Value::Null | Value::Object(_)) => {}
        Some(_) => return Err(err("annotations", "must be an object")),
    }
    let label = |k: &str| fields::str_of(labels, k).map(str::to_string);
    let name = label("alertname").ok_or_else(|| {
        err(
            "labels.alertname",
            "is required (the alert's name) and must not be empty",
        )
    })?;
    let state = match a.get("status") {
        None | Some(Value::Null) => group_status.unwrap_or_default(),
        Some(Value::String(s)) => {
            EventState::parse(s).ok_or_else(|| err("status", "must be firing or resolved"))?
        }
        Some(_) => return Err(err("status", "must be a string")),
    };
    let starts_at = match a.get("startsAt") {
        Some(Value::String(s)) => crate::timefmt::parse_rfc3339(s)
            .ok_or_else(|| err("startsAt", "must be an RFC 3339 timestamp"))?,
        None | Some(Value::Null) => return Err(err("startsAt", "is required")),
        Some(_) => return Err(err("startsAt", "must be an RFC 3339 timestamp")),
    };
    for key in ["endsAt", "generatorURL"] {
        if a.get(key).is_some_and(|v| !v.is_string() && !v.is_null()) {
            return Err(err(key, "must be a string"));
        }
    }
    let fingerprint = match a.get("fingerprint") {
        None | Some(Value::Null) => fingerprint(labels),
        Some(Value::String(s)) if s.trim().is_empty() => fingerprint(labels),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(err("fingerprint", "must be a string")),
    };
    let (level, severity) = match label("severity") {
        None => (DEFAULT_LEVEL, None),
        Some(raw) => {
            let level = Level::parse(&raw)
                .or_else(|| ctx.severity_map.get(&raw.to_ascii_lowercase()).copied())
                .unwrap_or(DEFAULT_LEVEL);
            (level, Some(raw))
        }
    };
    let since = crate::timefmt::rfc3339(starts_at);
    let id = match state {
        EventState::Firing => format!("alertmanager:{fingerprint}:{since}"),
        EventState::Resolved => format!("alertmanager:{fingerprint}:{since}:resolved"),
    };
    let id = fields::composed_id(i, &field("fingerprint"), id)?;
    let identity_key = fields::composed_id(
        i,
        &field("fingerprint"),
        format!("alertmanager:{fingerprint}"),
    )?;
    let mut content = a.clone();
    content
        .entry("fingerprint")
        .or_insert_with(|| Value::String(fingerprint.clone()));
    for key in GROUP_FIELDS {
        if let Some(v) = payload.get(key).filter(|v| !v.is_null())
            && !content.contains_key(key)
        {
            content.insert(key.to_string(), v.clone());
        }
    }
    Ok(Event {
        id,
        product: label("product").unwrap_or_else(|| "alertmanager".to_string()),
        event_type: String::new(),
        name,
        level,
        severity,
        status: None,
        resource: label("instance"),
        instance: None,
        region: None,
        group: None,
        time_ms: starts_at,
        received_ms: ctx.received_ms,
        content: Value::Object(content),
        format: Format::Alertmanager,
        raw: alert.clone(),
        state,
        identity_key: Some(identity_key),
    })
}

/// Alertmanager's fingerprint of a label set (Prometheus'
/// `LabelSet.Fingerprint`): FNV-1a 64 over the labels sorted by name, each
/// name and value followed by the byte 0xff; 16 hex digits.
pub fn fingerprint(labels: &Map<String, Value>) -> String {
    format!("{:016x}", fingerprint_u64(labels))
}

fn fingerprint_u64(labels: &Map<String, Value>) -> u64 {
    const OFFSET: u64 = 14_695_981_039_346_656_037;
    const PRIME: u64 = 1_099_511_628_211;
    let mut names: Vec<&String> = labels.keys().collect();
    names.sort();
    let mut h = OFFSET;
    let mut add = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    };
    for name in names {
        add(name.as_bytes());
        add(&[0xff]);
        add(labels[name].as_str().unwrap_or("").as_bytes());
        add(&[0xff]);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::decode;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn ctx(map: &BTreeMap<String, Level>) -> DecodeContext<'_> {
        DecodeContext {
            severity_map: map,
            received_ms: 7,
        }
    }

    #[test]
    fn fingerprint_is_prometheus_one() {
        // prometheus/common model/signature_test.go: TestMetricToFingerprint.
        let Value::Object(empty) = json!({}) else {
            unreachable!()
        };
        assert_eq!(fingerprint_u64(&empty), 14_695_981_039_346_656_037);
        let Value::Object(labels) =
            json!({"name": "garland, briggs", "fear": "love is not enough"})
        else {
            unreachable!()
        };
        assert_eq!(fingerprint_u64(&labels), 5_799_056_148_416_392_346);
        assert_eq!(fingerprint(&labels).len(), 16);
    }

    #[test]
    fn levels_and_defaults() {
        let mut map = BTreeMap::new();
        map.insert("high".to_string(), Level::Critical);
        let body = br#"{"status":"firing","alerts":[
            {"labels":{"alertname":"A","severity":"warning"},"startsAt":"2026-12-01T10:00:00Z"},
            {"labels":{"alertname":"B","severity":"high"},"startsAt":"2026-12-01T10:00:00Z"},
            {"labels":{"alertname":"C","severity":"page"},"startsAt":"2026-12-01T10:00:00Z"},
            {"labels":{"alertname":"D"},"startsAt":"2026-12-01T10:00:00Z","status":"resolved"}]}"#;
        let evs = decode(Format::Alertmanager, body, &ctx(&map)).unwrap();
        let levels: Vec<_> = evs.iter().map(|e| e.level).collect();
        assert_eq!(
            levels,
            [Level::Warn, Level::Critical, Level::Warn, Level::Warn]
        );
        assert_eq!(evs[2].severity.as_deref(), Some("page"));
        assert_eq!(evs[3].severity, None);
        assert_eq!(evs[0].state, EventState::Firing);
        assert_eq!(evs[3].state, EventState::Resolved);
        assert!(evs[3].id.ends_with(":resolved"));
        assert_eq!(evs[0].product, "alertmanager");
    }

    #[test]
    fn errors_name_the_alert_field() {
        let map = BTreeMap::new();
        let ok = r#"{"labels":{"alertname":"A"},"startsAt":"2026-12-01T10:00:00Z"}"#;
        let cases = [
            (format!(r#"{{"alerts":[{ok},{{"labels":{{}},"startsAt":"2026-12-01T10:00:00Z"}}]}}"#), 1, "alerts[1].labels.alertname"),
            (format!(r#"{{"alerts":[{ok},{{"labels":{{"alertname":"B"}}}}]}}"#), 1, "alerts[1].startsAt"),
            (r#"{"alerts":[{"labels":{"alertname":"A","n":1},"startsAt":"2026-12-01T10:00:00Z"}]}"#.to_string(), 0, "alerts[0].labels.n"),
            (r#"{"alerts":[{"labels":{"alertname":"A"},"startsAt":"2026-12-01T10:00:00Z","status":"gone"}]}"#.to_string(), 0, "alerts[0].status"),
            (r#"{"alerts":[{"labels":{"alertname":"A"},"startsAt":"yesterday"}]}"#.to_string(), 0, "alerts[0].startsAt"),
            (r#"{"alerts":[{"startsAt":"2026-12-01T10:00:00Z"}]}"#.to_string(), 0, "alerts[0].labels"),
            (r#"{"receiver":"r"}"#.to_string(), 0, "alerts"),
            (r#"{"alerts":[]}"#.to_string(), 0, "alerts"),
            (format!(r#"[{{"alerts":[{ok}]}},{{"alerts":5}}]"#), 1, "alerts"),
        ];
        for (body, index, field) in cases {
            let e = decode(Format::Alertmanager, body.as_bytes(), &ctx(&map)).unwrap_err();
            assert_eq!(e.index, Some(index), "{body}: {e:?}");
            assert_eq!(e.field.as_deref(), Some(field), "{body}: {e:?}");
        }
    }
}
