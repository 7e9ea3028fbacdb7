//! Wire formats in: each decoder turns one request body into validated
//! [`Event`]s, or an error naming the index and the field at fault. A request
//! is validated whole: one bad event rejects it all.

pub mod alertmanager;
pub mod aliyun;
pub mod cloudevents;
pub mod falco;
pub mod native;

use crate::config::Level;
use crate::event::{Event, Format};
use serde_json::Value;
use std::collections::BTreeMap;

/// Longest accepted producer id, in bytes.
pub const MAX_ID_LEN: usize = 256;

/// Why a request body was refused. `index` is the event's position in the
/// request (None when the body itself is unreadable); `field` uses the wire
/// format's own field name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    pub index: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

impl DecodeError {
    pub fn body(message: impl Into<String>) -> Self {
        DecodeError {
            index: None,
            field: None,
            message: message.into(),
        }
    }
    pub fn at(index: usize, field: Option<&str>, message: impl Into<String>) -> Self {
        DecodeError {
            index: Some(index),
            field: field.map(str::to_string),
            message: message.into(),
        }
    }
}

/// What a decoder needs besides the body.
pub struct DecodeContext<'a> {
    pub severity_map: &'a BTreeMap<String, Level>,
    pub received_ms: i64,
}

/// What a decoder may read of the request besides its body. Most formats
/// need nothing; CloudEvents tells its modes apart by the content type and
/// carries its attributes in `ce-*` headers in binary mode.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub content_type: Option<String>,
    /// The headers [`kept_header`] keeps, as (lowercase name, value).
    pub headers: Vec<(String, String)>,
}

impl RequestMeta {
    /// The value of a kept header (`name` lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Whether a request header is one a decoder reads, so the ingest handler
/// passes it (and the quarantine keeps it for a replay).
pub fn kept_header(format: Format, lowercase_name: &str) -> bool {
    format == Format::CloudEvents && lowercase_name.starts_with("ce-")
}

/// Decodes a body in the given format without request metadata.
pub fn decode(format: Format, body: &[u8], ctx: &DecodeContext) -> Result<Vec<Event>, DecodeError> {
    decode_request(format, body, &RequestMeta::default(), ctx)
}

/// Decodes one request in the given format.
pub fn decode_request(
    format: Format,
    body: &[u8],
    meta: &RequestMeta,
    ctx: &DecodeContext,
) -> Result<Vec<Event>, DecodeError> {
    match format {
        Format::Native => each_item(body, |i, item| native::decode_one(i, item, ctx)),
        Format::Aliyun => each_item(body, |i, item| aliyun::decode_one(i, item, ctx)),
        Format::Falco => each_item(body, |i, item| falco::decode_one(i, item, ctx)),
        Format::Alertmanager => alertmanager::decode(parse_json(body)?, ctx),
        Format::CloudEvents => cloudevents::decode(body, meta, ctx),
    }
}

pub(crate) fn parse_json(body: &[u8]) -> Result<Value, DecodeError> {
    serde_json::from_slice(body)
        .map_err(|e| DecodeError::body(format!("the body is not valid JSON: {e}")))
}

/// A body holding one object or an array of objects, each decoded alone.
fn each_item(
    body: &[u8],
    decode_one: impl Fn(usize, Value) -> Result<Event, DecodeError>,
) -> Result<Vec<Event>, DecodeError> {
    let items = match parse_json(body)? {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        _ => {
            return Err(DecodeError::body(
                "the body must be a JSON object or an array of objects",
            ));
        }
    };
    if items.is_empty() {
        return Err(DecodeError::body("the array holds no events"));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| decode_one(i, item))
        .collect()
}

/// Guesses the wire format of a body: an Alertmanager (or Grafana) webhook
/// has `alerts` and `groupKey` or `receiver`; a CloudEvent `specversion`;
/// Falco's output `rule`, `priority` and `output`; the cloud monitor's form
/// has camel-case keys (`eventTime`, `resourceId`, `regionId`, `eventType`,
/// `ver`) that the native form never uses.
pub fn detect_format(body: &[u8]) -> Format {
    const ALIYUN_KEYS: [&str; 7] = [
        "eventTime",
        "resourceId",
        "regionId",
        "eventType",
        "instanceName",
        "groupId",
        "ver",
    ];
    let first = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(a)) => a.into_iter().next(),
        Ok(v) => Some(v),
        Err(_) => None,
    };
    match first {
        Some(Value::Object(m))
            if m.contains_key("alerts")
                && (m.contains_key("groupKey") || m.contains_key("receiver")) =>
        {
            Format::Alertmanager
        }
        Some(Value::Object(m)) if m.contains_key("specversion") => Format::CloudEvents,
        Some(Value::Object(m))
            if ["rule", "priority", "output"]
                .iter()
                .all(|k| m.contains_key(*k)) =>
        {
            Format::Falco
        }
        Some(Value::Object(m)) if ALIYUN_KEYS.iter().any(|k| m.contains_key(*k)) => Format::Aliyun,
        _ => Format::Native,
    }
}

/// Helpers shared by the decoders.
pub(crate) mod fields {
    use super::*;
    use serde_json::Map;

    pub fn required_str(
        i: usize,
        m: &Map<String, Value>,
        key: &str,
    ) -> Result<String, DecodeError> {
        match m.get(key) {
            None | Some(Value::Null) => Err(DecodeError::at(
                i,
                Some(key),
                format!("`{key}` is required"),
            )),
            Some(Value::String(s)) if s.trim().is_empty() => Err(DecodeError::at(
                i,
                Some(key),
                format!("`{key}` must not be empty"),
            )),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(DecodeError::at(
                i,
                Some(key),
                format!("`{key}` must be a string"),
            )),
        }
    }

    pub fn optional_str(
        i: usize,
        m: &Map<String, Value>,
        key: &str,
    ) -> Result<Option<String>, DecodeError> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(DecodeError::at(
                i,
                Some(key),
                format!("`{key}` must be a string"),
            )),
        }
    }

    pub fn id(i: usize, m: &Map<String, Value>, key: &str) -> Result<Option<String>, DecodeError> {
        let id = match m.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s.clone(),
            // Some producers send numeric ids; keep their text.
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => {
                return Err(DecodeError::at(
                    i,
                    Some(key),
                    format!("`{key}` must be a string"),
                ));
            }
        };
        if id.trim().is_empty() {
            return Err(DecodeError::at(
                i,
                Some(key),
                format!("`{key}` must not be empty"),
            ));
        }
        if id.len() > MAX_ID_LEN {
            return Err(DecodeError::at(
                i,
                Some(key),
                format!("`{key}` is longer than {MAX_ID_LEN} bytes"),
            ));
        }
        if id.chars().any(char::is_control) {
            return Err(DecodeError::at(
                i,
                Some(key),
                format!("`{key}` must not contain control characters"),
            ));
        }
        Ok(Some(id))
    }

    /// Resolves a level: the three levels (and `WARNING`), or a product
    /// severity from the severity map, which is then kept as `severity`.
    pub fn level(
        i: usize,
        m: &Map<String, Value>,
        key: &str,
        severity_map: &BTreeMap<String, Level>,
    ) -> Result<(Level, Option<String>), DecodeError> {
        let raw = required_str(i, m, key)?;
        if let Some(level) = Level::parse(&raw) {
            return Ok((level, None));
        }
        if let Some(level) = severity_map.get(&raw.to_ascii_lowercase()) {
            return Ok((*level, Some(raw)));
        }
        Err(DecodeError::at(
            i,
            Some(key),
            format!(
                "`{key}` must be one of critical, warn, info (or a severity of the catalog's severity_map)"
            ),
        ))
    }

    /// The product's own severity from `content.level`, when it is a string.
    pub fn content_severity(content: &Value) -> Option<String> {
        content
            .get("level")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    pub fn epoch_ms(i: usize, key: &str, v: &Value) -> Result<i64, DecodeError> {
        let n = match v {
            // A float → integer cast saturates; out-of-range times are
            // refused by the caller's range check.
            #[allow(clippy::cast_possible_truncation)]
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        n.filter(|n| (0..=253_402_300_799_999).contains(n))
            .ok_or_else(|| {
                DecodeError::at(i, Some(key), format!("`{key}` must be epoch milliseconds"))
            })
    }

    pub fn new_id() -> String {
        uuid::Uuid::now_v7().to_string()
    }

    /// A stable id for an event whose producer gave none, so the same
    /// object posted again is a duplicate: `prefix` and the SHA-256 of the
    /// object's JSON text (keys as sent).
    pub fn derived_id(prefix: &str, item: &Value) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(item.to_string().as_bytes());
        format!("{prefix}{}", hex::encode(&digest[..16]))
    }

    /// A string value's text when it is a non-empty string.
    pub fn str_of<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
        m.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
    }

    /// Checks an id a decoder composed (length and control characters),
    /// reporting it under `field`.
    pub fn composed_id(i: usize, field: &str, id: String) -> Result<String, DecodeError> {
        if id.chars().any(char::is_control) {
            return Err(DecodeError::at(
                i,
                Some(field),
                format!("`{field}` must not contain control characters"),
            ));
        }
        if id.len() > MAX_ID_LEN {
            // Still stable and unique: the producer's key, hashed.
            use sha2::{Digest, Sha256};
            return Ok(format!(
                "sha256:{}",
                hex::encode(Sha256::digest(id.as_bytes()))
            ));
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_format() {
        assert_eq!(detect_format(br#"[{"eventTime":"x"}]"#), Format::Aliyun);
        assert_eq!(detect_format(br#"{"product":"Sas"}"#), Format::Native);
        assert_eq!(detect_format(b"garbage"), Format::Native);
        assert_eq!(
            detect_format(br#"{"receiver":"r","alerts":[]}"#),
            Format::Alertmanager
        );
        assert_eq!(
            detect_format(br#"[{"specversion":"1.0"}]"#),
            Format::CloudEvents
        );
        assert_eq!(
            detect_format(br#"{"rule":"r","priority":"Warning","output":"o"}"#),
            Format::Falco
        );
    }

    #[test]
    fn body_errors() {
        let map = BTreeMap::new();
        let ctx = DecodeContext {
            severity_map: &map,
            received_ms: 0,
        };
        let e = decode(Format::Native, b"{nope", &ctx).unwrap_err();
        assert_eq!(e.index, None);
        assert!(e.message.contains("not valid JSON"));
        assert!(decode(Format::Native, b"[]", &ctx).is_err());
        assert!(decode(Format::Native, b"42", &ctx).is_err());
    }
}
