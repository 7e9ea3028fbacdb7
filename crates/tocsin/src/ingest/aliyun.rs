//! The cloud monitor's system-event form (`POST /api/v1/events/aliyun`):
//! camel-case keys, `eventTime` as `yyyyMMdd'T'HHmmss.SSSZ` or `time` as
//! epoch ms, `WARN`/`WARNING`, `content` as an object or a string holding JSON;
//! the producer id from `traceId`, then `id`.

use super::{DecodeContext, DecodeError, fields};
use crate::catalog;
use crate::event::{Event, Format};
use serde_json::{Map, Value};

pub fn decode_one(i: usize, item: Value, ctx: &DecodeContext) -> Result<Event, DecodeError> {
    let Value::Object(m) = &item else {
        return Err(DecodeError::at(i, None, "each event must be a JSON object"));
    };
    // The legacy callback carries `traceId` (repeated on each retry) and no
    // `id`: without it, every retry would be a new event and a new message.
    let id = match fields::id(i, m, "traceId")? {
        Some(trace) => Some(trace),
        None => fields::id(i, m, "id")?,
    };
    let product = fields::required_str(i, m, "product")?;
    let name = fields::required_str(i, m, "name")?;
    let (level, mapped_from) = fields::level(i, m, "level", ctx.severity_map)?;
    let event_type = match fields::optional_str(i, m, "eventType")? {
        Some(t) => t,
        None => infer_event_type(&product, &name),
    };
    let time_ms = match (m.get("eventTime"), m.get("time")) {
        (Some(Value::String(s)), _) => crate::timefmt::parse_compact(s)
            .or_else(|| crate::timefmt::parse_rfc3339(s))
            .ok_or_else(|| {
                DecodeError::at(
                    i,
                    Some("eventTime"),
                    "`eventTime` must look like 20251210T101502.331+0800",
                )
            })?,
        (Some(v), _) if !v.is_null() => {
            return Err(DecodeError::at(
                i,
                Some("eventTime"),
                "`eventTime` must be a string",
            ));
        }
        (_, Some(v)) if !v.is_null() => fields::epoch_ms(i, "time", v)?,
        _ => ctx.received_ms,
    };
    let content = match m.get("content") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        // The cloud monitor sometimes sends content as a string holding JSON.
        Some(Value::String(s)) => serde_json::from_str::<Value>(s)
            .ok()
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::String(s.clone())),
        Some(v) => v.clone(),
    };
    let severity = mapped_from.or_else(|| fields::content_severity(&content));
    let instance = fields::optional_str(i, m, "instanceName")?.or_else(|| {
        content
            .get("instanceName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    });
    Ok(Event {
        id: id.unwrap_or_else(fields::new_id),
        product,
        event_type,
        name,
        level,
        severity,
        status: fields::optional_str(i, m, "status")?,
        resource: fields::optional_str(i, m, "resourceId")?,
        instance,
        region: fields::optional_str(i, m, "regionId")?,
        group: fields::optional_str(i, m, "groupId")?,
        time_ms,
        received_ms: ctx.received_ms,
        content,
        format: Format::Aliyun,
        raw: item.clone(),
        state: crate::event::EventState::Firing,
        identity_key: None,
    })
}

/// A missing `eventType` is the part of the name before the first `:` when
/// the catalog knows it as an event type of that product, else empty.
fn infer_event_type(product: &str, name: &str) -> String {
    match name.split_once(':') {
        Some((prefix, _)) if catalog::is_known_event_type(product, prefix) => prefix.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Level;
    use crate::ingest::decode;
    use std::collections::BTreeMap;

    fn ctx(map: &BTreeMap<String, Level>) -> DecodeContext<'_> {
        DecodeContext {
            severity_map: map,
            received_ms: 5,
        }
    }

    #[test]
    fn decodes_sample_file() {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/samples/aliyun-security-center.json"
        ));
        let Ok(body) = body else { return };
        let map = BTreeMap::new();
        let evs = decode(Format::Aliyun, &body, &ctx(&map)).unwrap();
        assert!(!evs.is_empty());
        assert_eq!(evs[0].id, "11e20b8f-6b0d-549b-6f03-675a1600a35a");
        assert_eq!(evs[0].level, Level::Critical);
        assert_eq!(evs[0].severity.as_deref(), Some("serious"));
        assert_eq!(evs[0].instance.as_deref(), Some("web-334"));
        assert_eq!(
            crate::timefmt::rfc3339(evs[0].time_ms),
            "2026-11-26T02:00:00.000Z"
        );
    }

    #[test]
    fn time_forms_levels_and_content_string() {
        let map = BTreeMap::new();
        let body = br#"[{"product":"Sas","name":"Incident:DDoS","level":"WARNING","time":"1764554400000",
              "content":"{\"alarmUniqueInfo\":\"u1\"}","userId":"42","groupId":"g1,g2"},
             {"product":"Sas","name":"Other:Thing","level":"WARN","time":1764554400000,"content":"plain text"}]"#;
        let evs = decode(Format::Aliyun, body, &ctx(&map)).unwrap();
        assert_eq!(evs[0].event_type, "Incident");
        assert_eq!(evs[0].level, Level::Warn);
        assert_eq!(evs[0].time_ms, 1_764_554_400_000);
        assert_eq!(evs[0].content["alarmUniqueInfo"], "u1");
        assert_eq!(evs[0].raw["userId"], "42");
        assert_eq!(evs[0].groups().collect::<Vec<_>>(), ["g1", "g2"]);
        assert_eq!(evs[1].event_type, "");
        assert_eq!(evs[1].content, Value::String("plain text".into()));
    }

    #[test]
    fn bad_event_time_names_field() {
        let map = BTreeMap::new();
        let e = decode(
            Format::Aliyun,
            br#"{"product":"Sas","name":"n","level":"INFO","eventTime":"yesterday"}"#,
            &ctx(&map),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("eventTime"));
        let e = decode(
            Format::Aliyun,
            br#"{"product":"Sas","name":"n","level":"INFO","time":"x"}"#,
            &ctx(&map),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("time"));
    }
}
