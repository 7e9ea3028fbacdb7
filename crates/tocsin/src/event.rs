//! The normalized event every wire format decodes into.

use crate::domain::Level;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The wire format an event arrived in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Native,
    Aliyun,
    Alertmanager,
    Falco,
    CloudEvents,
}

impl Format {
    /// Every format, in the order the API lists them.
    pub const ALL: [Format; 5] = [
        Format::Native,
        Format::Aliyun,
        Format::Alertmanager,
        Format::Falco,
        Format::CloudEvents,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::Aliyun => "aliyun",
            Format::Alertmanager => "alertmanager",
            Format::Falco => "falco",
            Format::CloudEvents => "cloudevents",
        }
    }
    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }
    /// The path a producer posts this format to.
    pub fn ingest_path(self) -> &'static str {
        match self {
            Format::Native => "/api/v1/events",
            Format::Aliyun => "/api/v1/events/aliyun",
            Format::Alertmanager => "/api/v1/events/alertmanager",
            Format::Falco => "/api/v1/events/falco",
            Format::CloudEvents => "/api/v1/events/cloudevents",
        }
    }
}

/// Whether an event reports a problem (`firing`) or its end (`resolved`).
/// Formats without the notion send only firing events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EventState {
    #[default]
    Firing,
    Resolved,
}

impl EventState {
    pub fn as_str(self) -> &'static str {
        match self {
            EventState::Firing => "firing",
            EventState::Resolved => "resolved",
        }
    }
    /// `firing` or `resolved`, case-insensitive.
    pub fn parse(s: &str) -> Option<EventState> {
        if s.eq_ignore_ascii_case("firing") {
            Some(EventState::Firing)
        } else if s.eq_ignore_ascii_case("resolved") {
            Some(EventState::Resolved)
        } else {
            None
        }
    }
}

/// One accepted security event, normalized. `raw` keeps the object exactly as
/// the producer sent it (unknown fields included).
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub id: String,
    pub product: String,
    pub event_type: String,
    pub name: String,
    pub level: Level,
    /// The product's own severity (`serious`, `asap`, `high`...), when known.
    pub severity: Option<String>,
    pub status: Option<String>,
    pub resource: Option<String>,
    pub instance: Option<String>,
    pub region: Option<String>,
    /// Application group(s); comma-separated when several.
    pub group: Option<String>,
    pub time_ms: i64,
    pub received_ms: i64,
    pub content: Value,
    pub format: Format,
    pub raw: Value,
    /// Firing (the default) or resolved.
    pub state: EventState,
    /// The producer's own key for "the same alert" (Alertmanager's
    /// fingerprint), when the format has one: what a resolve is matched by.
    pub identity_key: Option<String>,
}

impl Event {
    /// An event with only its id, product, name and level: no event type,
    /// optional fields absent, empty content, time 0, native format. Tocsin's
    /// own test message and the tests build on it with `..Event::minimal(..)`.
    pub fn minimal(id: impl Into<String>, product: &str, name: &str, level: Level) -> Event {
        Event {
            id: id.into(),
            product: product.into(),
            event_type: String::new(),
            name: name.into(),
            level,
            severity: None,
            status: None,
            resource: None,
            instance: None,
            region: None,
            group: None,
            time_ms: 0,
            received_ms: 0,
            content: Value::Object(Map::new()),
            format: Format::Native,
            raw: Value::Object(Map::new()),
            state: EventState::Firing,
            identity_key: None,
        }
    }

    /// The event in Tocsin's native JSON form (what webhooks and the API show).
    pub fn to_native_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("product".into(), json!(self.product));
        m.insert("event_type".into(), json!(self.event_type));
        m.insert("name".into(), json!(self.name));
        m.insert("level".into(), json!(self.level.as_str()));
        let opt = |m: &mut Map<String, Value>, k: &str, v: &Option<String>| {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        };
        opt(&mut m, "severity", &self.severity);
        opt(&mut m, "status", &self.status);
        opt(&mut m, "resource", &self.resource);
        opt(&mut m, "instance", &self.instance);
        opt(&mut m, "region", &self.region);
        opt(&mut m, "group", &self.group);
        m.insert("time".into(), json!(crate::timefmt::rfc3339(self.time_ms)));
        m.insert(
            "received_at".into(),
            json!(crate::timefmt::rfc3339(self.received_ms)),
        );
        m.insert("content".into(), self.content.clone());
        // Only resolves say so: firing events keep the form they always had.
        if self.state == EventState::Resolved {
            m.insert("state".into(), json!(self.state.as_str()));
        }
        Value::Object(m)
    }

    /// The same native form, serialized straight from the event (no JSON
    /// tree in between): what the webhook sender uses on its hot path.
    pub fn native(&self) -> NativeEvent<'_> {
        NativeEvent(self)
    }

    /// The groups of the event, split on commas and trimmed.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.group
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
    }
}

/// An event serialized in its native form; the same keys, in the same order,
/// as [`Event::to_native_json`].
pub struct NativeEvent<'a>(&'a Event);

impl serde::Serialize for NativeEvent<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let e = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &e.id)?;
        m.serialize_entry("product", &e.product)?;
        m.serialize_entry("event_type", &e.event_type)?;
        m.serialize_entry("name", &e.name)?;
        m.serialize_entry("level", e.level.as_str())?;
        for (k, v) in [
            ("severity", &e.severity),
            ("status", &e.status),
            ("resource", &e.resource),
            ("instance", &e.instance),
            ("region", &e.region),
            ("group", &e.group),
        ] {
            if let Some(v) = v {
                m.serialize_entry(k, v)?;
            }
        }
        m.serialize_entry("time", &crate::timefmt::rfc3339(e.time_ms))?;
        m.serialize_entry("received_at", &crate::timefmt::rfc3339(e.received_ms))?;
        m.serialize_entry("content", &e.content)?;
        if e.state == EventState::Resolved {
            m.serialize_entry("state", e.state.as_str())?;
        }
        m.end()
    }
}

/// The event in Tocsin's API under `server.public_url` (the id
/// percent-encoded), when one is set.
pub fn event_link(public_url: Option<&str>, e: &Event) -> Option<String> {
    public_url.map(|u| {
        let id: String = url::form_urlencoded::byte_serialize(e.id.as_bytes()).collect();
        format!("{}/api/v1/events/{id}", u.trim_end_matches('/'))
    })
}

/// The default identity keys of "the same event".
pub const DEFAULT_KEYS: [&str; 4] = ["product", "event_type", "name", "alarmUniqueInfo|resource"];

fn field(e: &Event, key: &str) -> String {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    match key {
        "product" => crate::catalog::canonical_product(&e.product).to_string(),
        "event_type" => e.event_type.clone(),
        "name" => e.name.clone(),
        "level" => e.level.as_str().to_string(),
        "resource" => s(&e.resource),
        "instance" => s(&e.instance),
        "region" => s(&e.region),
        "group" => s(&e.group),
        "status" => s(&e.status),
        "alarmUniqueInfo|resource" => {
            match e.content.get("alarmUniqueInfo").and_then(Value::as_str) {
                Some(u) if !u.is_empty() => u.to_string(),
                _ => s(&e.resource),
            }
        }
        other => match other.strip_prefix("content.") {
            Some(path) => {
                let mut v = &e.content;
                for seg in path.split('.') {
                    match v.get(seg) {
                        Some(x) => v = x,
                        None => return String::new(),
                    }
                }
                match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }
            }
            None => String::new(),
        },
    }
}

/// The identity of an event under `keys` (the default keys when empty):
/// a hash, and the values joined for people.
pub fn identity(e: &Event, keys: &[String]) -> (String, String) {
    let values: Vec<String> = if keys.is_empty() {
        DEFAULT_KEYS.iter().map(|k| field(e, k)).collect()
    } else {
        keys.iter().map(|k| field(e, k)).collect()
    };
    let text = values.join(" | ");
    let mut h = Sha256::new();
    for v in &values {
        h.update(v.len().to_le_bytes());
        h.update(v.as_bytes());
    }
    (hex::encode(&h.finalize()[..16]), text)
}
