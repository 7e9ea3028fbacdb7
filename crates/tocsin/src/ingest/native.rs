//! Tocsin's native event form (`POST /api/v1/events`).

use super::{DecodeContext, DecodeError, fields};
use crate::event::{Event, EventState, Format};
use serde_json::{Map, Value};

pub fn decode_one(i: usize, item: Value, ctx: &DecodeContext) -> Result<Event, DecodeError> {
    let Value::Object(m) = &item else {
        return Err(DecodeError::at(i, None, "each event must be a JSON object"));
    };
    let id = fields::id(i, m, "id")?;
    let product = fields::required_str(i, m, "product")?;
    let name = fields::required_str(i, m, "name")?;
    let (level, mapped_from) = fields::level(i, m, "level", ctx.severity_map)?;
    let event_type = fields::optional_str(i, m, "event_type")?.unwrap_or_default();
    let time_ms = match m.get("time") {
        None | Some(Value::Null) => ctx.received_ms,
        Some(Value::String(s)) => crate::timefmt::parse_rfc3339(s).ok_or_else(|| {
            DecodeError::at(i, Some("time"), "`time` must be an RFC 3339 timestamp")
        })?,
        Some(v @ Value::Number(_)) => fields::epoch_ms(i, "time", v)?,
        Some(_) => {
            return Err(DecodeError::at(
                i,
                Some("time"),
                "`time` must be an RFC 3339 timestamp",
            ));
        }
    };
    let content = m
        .get("content")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    let severity = mapped_from.or_else(|| fields::content_severity(&content));
    let state = match fields::optional_str(i, m, "state")? {
        None => EventState::Firing,
        Some(s) => EventState::parse(&s).ok_or_else(|| {
            DecodeError::at(i, Some("state"), "`state` must be firing or resolved")
        })?,
    };
    Ok(Event {
        id: id.unwrap_or_else(fields::new_id),
        product,
        event_type,
        name,
        level,
        severity,
        status: fields::optional_str(i, m, "status")?,
        resource: fields::optional_str(i, m, "resource")?,
        instance: fields::optional_str(i, m, "instance")?,
        region: fields::optional_str(i, m, "region")?,
        group: fields::optional_str(i, m, "group")?,
        time_ms,
        received_ms: ctx.received_ms,
        content,
        format: Format::Native,
        raw: item.clone(),
        state,
        identity_key: None,
    })
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
            received_ms: 1_000,
        }
    }

    #[test]
    fn decodes_full_event() {
        let map = BTreeMap::new();
        let body = br#"{"id":"e1","product":"Sas","event_type":"Suspicious","name":"Suspicious:UnusualLogon",
            "level":"WARNING","status":"Pending","resource":"acs:ecs:cn-hangzhou:1:instance/i-bp1abc",
            "instance":"web-01","region":"cn-hangzhou","group":"prod-web","time":"2026-11-29T02:00:00Z",
            "content":{"level":"suspicious"},"extra":1}"#;
        let ev = &decode(Format::Native, body, &ctx(&map)).unwrap()[0];
        assert_eq!(ev.id, "e1");
        assert_eq!(ev.level, Level::Warn);
        assert_eq!(ev.severity.as_deref(), Some("suspicious"));
        assert_eq!(ev.instance.as_deref(), Some("web-01"));
        assert_eq!(
            crate::timefmt::rfc3339(ev.time_ms),
            "2026-11-29T02:00:00.000Z"
        );
        assert_eq!(ev.raw["extra"], 1);
    }

    #[test]
    fn defaults_and_generated_id() {
        let map = BTreeMap::new();
        let evs = decode(
            Format::Native,
            br#"[{"product":"Sas","name":"n","level":"info"},{"product":"Sas","name":"n","level":"info"}]"#,
            &ctx(&map),
        )
        .unwrap();
        assert_eq!(evs[0].time_ms, 1_000);
        assert_eq!(evs[0].event_type, "");
        assert_ne!(evs[0].id, evs[1].id);
        assert_eq!(evs[0].id.len(), 36);
        assert_eq!(evs[0].state, EventState::Firing);
    }

    #[test]
    fn state_resolved() {
        let map = BTreeMap::new();
        let ev = &decode(
            Format::Native,
            br#"{"product":"Sas","name":"n","level":"info","state":"resolved"}"#,
            &ctx(&map),
        )
        .unwrap()[0];
        assert_eq!(ev.state, EventState::Resolved);
        assert_eq!(ev.to_native_json()["state"], "resolved");
    }

    #[test]
    fn severity_map_levels() {
        let mut map = BTreeMap::new();
        map.insert("serious".to_string(), Level::Critical);
        let ev = &decode(
            Format::Native,
            br#"{"product":"Sas","name":"n","level":"Serious"}"#,
            &ctx(&map),
        )
        .unwrap()[0];
        assert_eq!(ev.level, Level::Critical);
        assert_eq!(ev.severity.as_deref(), Some("Serious"));
    }

    #[test]
    fn errors_name_index_and_field() {
        let map = BTreeMap::new();
        let cases: &[(&[u8], usize, Option<&str>)] = &[
            (
                br#"[{"product":"Sas","name":"n","level":"info"},{"name":"n","level":"info"}]"#,
                1,
                Some("product"),
            ),
            (br#"{"product":"Sas","level":"info"}"#, 0, Some("name")),
            (
                br#"{"product":"Sas","name":"n","level":"loud"}"#,
                0,
                Some("level"),
            ),
            (
                br#"{"product":"Sas","name":"n","level":"info","time":"soon"}"#,
                0,
                Some("time"),
            ),
            (
                br#"{"product":5,"name":"n","level":"info"}"#,
                0,
                Some("product"),
            ),
            (
                br#"{"id":"","product":"Sas","name":"n","level":"info"}"#,
                0,
                Some("id"),
            ),
            (br#"[1]"#, 0, None),
            (
                br#"{"product":"Sas","name":"n","level":"info","state":"gone"}"#,
                0,
                Some("state"),
            ),
            (
                br#"{"product":"Sas","name":"n","level":"info","state":1}"#,
                0,
                Some("state"),
            ),
        ];
        for (body, index, field) in cases {
            let e = decode(Format::Native, body, &ctx(&map)).unwrap_err();
            assert_eq!(e.index, Some(*index), "{e:?}");
            assert_eq!(e.field.as_deref(), *field, "{e:?}");
        }
    }
}
