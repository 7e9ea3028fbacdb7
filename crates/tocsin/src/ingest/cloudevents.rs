//! CloudEvents 1.0 over HTTP (`POST /api/v1/events/cloudevents`), in its
//! three modes (the HTTP protocol binding, spec v1.0.2):
//!
//! - structured, `Content-Type: application/cloudevents+json`: one event
//!   object with its attributes and `data` (or `data_base64`);
//! - batched, `application/cloudevents-batch+json`: a JSON array of them;
//! - binary: the attributes in `ce-*` headers (percent-encoded values), the
//!   body is `data` and its `Content-Type` the `datacontenttype`.
//!
//! Any other content type (plain `application/json` from a generic sender)
//! with no `ce-*` header is read as structured: one object or an array.
//!
//! `name` = `type`, `product` = the last path segment of `source`,
//! `resource` = `subject`, `time` = `time` (else arrival), `content` =
//! `data`. The level comes from an extension attribute `severity` (or
//! `level`) read like a native level or through the severity map; without
//! one, or with an unknown one, it is `warn`. The producer id is
//! `<source>#<id>` (the spec makes source + id unique). A missing `id`,
//! `source`, `type` or `specversion` (which must be `1.0`) is a 400 naming
//! the attribute (`ce-id`... in binary mode).

use super::{DecodeContext, DecodeError, RequestMeta, fields, parse_json};
use crate::config::Level;
use crate::event::{Event, EventState, Format};
use base64::Engine as _;
use serde_json::{Map, Value};

pub const STRUCTURED: &str = "application/cloudevents+json";
pub const BATCH: &str = "application/cloudevents-batch+json";

/// The level of an event that carries no readable severity.
pub const DEFAULT_LEVEL: Level = Level::Warn;

/// The attributes every event must have.
const REQUIRED: [&str; 4] = ["specversion", "id", "source", "type"];

/// The media type of a `Content-Type` value, lowercase, without parameters.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

pub fn decode(
    body: &[u8],
    meta: &RequestMeta,
    ctx: &DecodeContext,
) -> Result<Vec<Event>, DecodeError> {
    let media = meta.content_type.as_deref().map(media_type);
    match media.as_deref() {
        Some(BATCH) => match parse_json(body)? {
            Value::Array(items) if !items.is_empty() => structured_all(items, ctx),
            Value::Array(_) => Err(DecodeError::body("the batch holds no events")),
            _ => Err(DecodeError::body(format!(
                "a {BATCH} body must be a JSON array of events"
            ))),
        },
        Some(STRUCTURED) => match parse_json(body)? {
            item @ Value::Object(_) => Ok(vec![structured(0, item, ctx)?]),
            _ => Err(DecodeError::body(format!(
                "a {STRUCTURED} body must be one JSON object (use {BATCH} for an array)"
            ))),
        },
        _ if meta.headers.iter().any(|(n, _)| n.starts_with("ce-")) => {
            Ok(vec![binary(body, meta, ctx)?])
        }
        _ => match parse_json(body)? {
            Value::Array(items) if !items.is_empty() => structured_all(items, ctx),
            Value::Array(_) => Err(DecodeError::body("the array holds no events")),
            item @ Value::Object(_) => Ok(vec![structured(0, item, ctx)?]),
            _ => Err(DecodeError::body(
                "the body must be a CloudEvent (a JSON object), an array of them, or the data of a binary-mode event (ce-* headers)",
            )),
        },
    }
}

fn structured_all(items: Vec<Value>, ctx: &DecodeContext) -> Result<Vec<Event>, DecodeError> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| structured(i, item, ctx))
        .collect()
}

fn structured(i: usize, item: Value, ctx: &DecodeContext) -> Result<Event, DecodeError> {
    let Value::Object(m) = &item else {
        return Err(DecodeError::at(
            i,
            None,
            "each CloudEvent must be a JSON object",
        ));
    };
    let content = match (m.get("data"), m.get("data_base64")) {
        (Some(data), _) if !data.is_null() => data.clone(),
        (_, Some(Value::String(b64))) => {
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| {
                    DecodeError::at(i, Some("data_base64"), "`data_base64` must be base64")
                })?;
            serde_json::json!({ "data_base64": b64 })
        }
        (_, Some(v)) if !v.is_null() => {
            return Err(DecodeError::at(
                i,
                Some("data_base64"),
                "`data_base64` must be a string",
            ));
        }
        _ => Value::Object(Map::new()),
    };
    build(i, m, content, item.clone(), |a| a.to_string(), ctx)
}

/// One event in binary mode: its attributes from the `ce-*` headers.
fn binary(body: &[u8], meta: &RequestMeta, ctx: &DecodeContext) -> Result<Event, DecodeError> {
    let mut attrs = Map::new();
    for (name, value) in &meta.headers {
        let Some(attr) = name.strip_prefix("ce-") else {
            continue;
        };
        let decoded = percent_decode(value).ok_or_else(|| {
            DecodeError::at(
                0,
                Some(name.as_str()),
                format!("`{name}` must be percent-encoded UTF-8"),
            )
        })?;
        attrs.insert(attr.to_string(), Value::String(decoded));
    }
    let media = meta.content_type.as_deref().map(media_type);
    let is_json = media
        .as_deref()
        .is_none_or(|m| m == "application/json" || m == "text/json" || m.ends_with("+json"));
    let content = if body.is_empty() {
        Value::Object(Map::new())
    } else if is_json {
        serde_json::from_slice(body).map_err(|e| {
            DecodeError::at(
                0,
                Some("data"),
                format!("the body (the event's data) is not valid JSON although its Content-Type says so: {e}"),
            )
        })?
    } else {
        match std::str::from_utf8(body) {
            Ok(text) => Value::String(text.to_string()),
            Err(_) => serde_json::json!({
                "data_base64": base64::engine::general_purpose::STANDARD.encode(body)
            }),
        }
    };
    if let Some(ct) = &meta.content_type {
        attrs
            .entry("datacontenttype")
            .or_insert_with(|| Value::String(ct.clone()));
    }
    // What the producer sent, as the structured form would carry it.
    let mut raw = attrs.clone();
    raw.insert("data".into(), content.clone());
    build(
        0,
        &attrs,
        content,
        Value::Object(raw),
        |a| format!("ce-{a}"),
        ctx,
    )
}

fn build(
    i: usize,
    m: &Map<String, Value>,
    content: Value,
    raw: Value,
    wire_name: impl Fn(&str) -> String,
    ctx: &DecodeContext,
) -> Result<Event, DecodeError> {
    let err = |attr: &str, problem: &str| {
        let field = wire_name(attr);
        let message = format!("`{field}` {problem}");
        DecodeError::at(i, Some(&field), message)
    };
    let mut required = Vec::with_capacity(REQUIRED.len());
    for attr in REQUIRED {
        match m.get(attr) {
            Some(Value::String(s)) if !s.trim().is_empty() => required.push(s.clone()),
            Some(Value::String(_)) => return Err(err(attr, "must not be empty")),
            None | Some(Value::Null) => {
                return Err(err(attr, "is required (a CloudEvents 1.0 attribute)"));
            }
            Some(_) => return Err(err(attr, "must be a string")),
        }
    }
    let [specversion, id, source, kind] = <[String; 4]>::try_from(required)
        .unwrap_or_else(|_| unreachable!("four required attributes"));
    if specversion != "1.0" {
        return Err(err("specversion", "must be 1.0"));
    }
    let optional = |attr: &str| match m.get(attr) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(err(attr, "must be a string")),
    };
    let time_ms = match optional("time")? {
        None => ctx.received_ms,
        Some(t) => crate::timefmt::parse_rfc3339(&t)
            .ok_or_else(|| err("time", "must be an RFC 3339 timestamp"))?,
    };
    let subject = optional("subject")?;
    let severity = ["severity", "level"]
        .iter()
        .find_map(|a| fields::str_of(m, a))
        .map(str::to_string);
    let level = severity
        .as_deref()
        .and_then(|s| {
            Level::parse(s).or_else(|| ctx.severity_map.get(&s.to_ascii_lowercase()).copied())
        })
        .unwrap_or(DEFAULT_LEVEL);
    let producer_id = fields::composed_id(i, &wire_name("id"), format!("{source}#{id}"))?;
    Ok(Event {
        id: producer_id,
        product: source_product(&source),
        event_type: String::new(),
        name: kind,
        level,
        severity,
        status: None,
        resource: subject,
        instance: None,
        region: None,
        group: None,
        time_ms,
        received_ms: ctx.received_ms,
        content,
        format: Format::CloudEvents,
        raw,
        state: EventState::Firing,
        identity_key: None,
    })
}

/// The last path segment of a `source` URI-reference (query and fragment
/// cut, trailing slashes ignored); the whole source when it has none.
pub fn source_product(source: &str) -> String {
    let path = source.split(['?', '#']).next().unwrap_or(source);
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(last) if !last.is_empty() => last.to_string(),
        _ => source.to_string(),
    }
}

/// Decodes `%XX` escapes (the binding percent-encodes header values); None
/// when the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut k = 0;
    while k < bytes.len() {
        if bytes[k] == b'%'
            && k + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[k + 1..k + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            k += 3;
        } else {
            out.push(bytes[k]);
            k += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn meta(content_type: Option<&str>, headers: &[(&str, &str)]) -> RequestMeta {
        RequestMeta {
            content_type: content_type.map(str::to_string),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn products_and_percent_decoding() {
        assert_eq!(
            source_product("https://github.com/cloudevents/spec/pull"),
            "pull"
        );
        assert_eq!(source_product("/sensors/tn-1234567/alerts/"), "alerts");
        assert_eq!(
            source_product("urn:event:from:myapi"),
            "urn:event:from:myapi"
        );
        assert_eq!(source_product("/a/b?x=1#f"), "b");
        assert_eq!(percent_decode("a%20b%C3%A9").as_deref(), Some("a bé"));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn modes_and_required_attributes() {
        let map = BTreeMap::new();
        let ctx = DecodeContext {
            severity_map: &map,
            received_ms: 9,
        };
        let one = br#"{"specversion":"1.0","id":"1","source":"/a/scanner","type":"t","severity":"critical","data":{"k":1}}"#;
        let ev = &decode(
            one,
            &meta(Some("application/cloudevents+json; charset=utf-8"), &[]),
            &ctx,
        )
        .unwrap()[0];
        assert_eq!(
            (ev.id.as_str(), ev.product.as_str(), ev.name.as_str()),
            ("/a/scanner#1", "scanner", "t")
        );
        assert_eq!(ev.level, Level::Critical);
        assert_eq!(ev.content["k"], 1);
        let bin = decode(
            b"{\"k\":2}",
            &meta(
                Some("application/json"),
                &[
                    ("ce-id", "2"),
                    ("ce-source", "/x/y"),
                    ("ce-type", "t%20x"),
                    ("ce-specversion", "1.0"),
                ],
            ),
            &ctx,
        )
        .unwrap();
        assert_eq!(bin[0].name, "t x");
        assert_eq!(bin[0].level, DEFAULT_LEVEL);
        assert_eq!(bin[0].raw["data"]["k"], 2);
        let e = decode(
            b"{}",
            &meta(
                Some("application/json"),
                &[
                    ("ce-id", "2"),
                    ("ce-source", "/x/y"),
                    ("ce-specversion", "1.0"),
                ],
            ),
            &ctx,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("ce-type"));
        for attr in REQUIRED {
            let mut v: Value = serde_json::from_slice(one).unwrap();
            v.as_object_mut().unwrap().remove(attr);
            let body =
                serde_json::to_vec(&Value::Array(vec![serde_json::from_slice(one).unwrap(), v]))
                    .unwrap();
            let e = decode(&body, &meta(Some(BATCH), &[]), &ctx).unwrap_err();
            assert_eq!((e.index, e.field.as_deref()), (Some(1), Some(attr)));
        }
        let e = decode(
            br#"{"specversion":"0.3","id":"1","source":"s","type":"t"}"#,
            &meta(None, &[]),
            &ctx,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("specversion"));
        assert!(decode(one, &meta(Some(BATCH), &[]), &ctx).is_err());
    }
}
