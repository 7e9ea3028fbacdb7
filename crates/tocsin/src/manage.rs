//! Changes through the management API: each one builds the whole next
//! configuration (the file plus every API-made object, with the change),
//! validates it with the file's loader, stores the object and its audit
//! entry in one transaction and installs the new configuration as a reload
//! does. Objects from the config file are read-only here ("provisioned").

use crate::app::App;
use crate::config::merge::{SECRET_KEYS, SECRET_MAPS};
use crate::config::{self, ApiObject, Config, MASK, ObjectKind, Problem, redact_url};
use crate::store::{AuditRecord, ChangeOutcome, ObjectChange, StoreError, StoredObject};
use serde_json::{Map, Value, json};

/// What a client asked for.
#[derive(Clone, Debug)]
pub enum Request {
    Create(Value),
    /// The whole object; `if_match`: only when its ETag is this one.
    Update {
        name: String,
        body: Value,
        if_match: Option<String>,
    },
    Delete {
        name: String,
        if_match: Option<String>,
    },
}

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("the change makes the configuration invalid")]
    Invalid(Vec<Problem>),
    #[error("a {kind} named `{name}` already exists{where_}")]
    Exists {
        kind: &'static str,
        name: String,
        /// ` (provisioned by FILE)` for a file object.
        where_: String,
    },
    #[error("no {kind} named `{name}`")]
    Missing { kind: &'static str, name: String },
    #[error("{kind} `{name}` is provisioned by the config file {file}: change it there")]
    Provisioned {
        kind: &'static str,
        name: String,
        file: String,
    },
    #[error("{kind} `{name}` is referenced: change or delete those first")]
    Referenced {
        kind: &'static str,
        name: String,
        by: Vec<(ObjectKind, String)>,
    },
    #[error("the object changed since it was read (its ETag is now {current})")]
    Stale { current: String },
    /// The running config was built in code, not read from a file or the
    /// built-in defaults: there is no document to merge API objects into.
    #[error(
        "this server's configuration was not read from a file: the management API cannot change it"
    )]
    NoDocument,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A change that was made.
#[derive(Clone, Debug)]
pub struct Changed {
    /// The object as stored (None after a delete).
    pub object: Option<StoredObject>,
    pub version: String,
}

/// An ETag as a header carries it, quoted.
pub fn etag_header(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// `If-Match` as the store compares it: quotes and a weak `W/` removed;
/// `*` (any) is no condition.
pub fn parse_if_match(raw: &str) -> Option<String> {
    let t = raw.trim();
    if t == "*" {
        return None;
    }
    let t = t.strip_prefix("W/").unwrap_or(t);
    Some(t.trim_matches('"').to_string())
}

/// An API-made object as the API shows it: its body with every secret
/// masked (webhook URLs keep scheme and host).
pub fn redacted(body: &Value) -> Value {
    redact_in(body, false)
}

fn redact_in(v: &Value, all: bool) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let secret = all || SECRET_KEYS.contains(&k.as_str());
                    let shown = match v {
                        Value::String(s) if secret && !s.is_empty() => {
                            if k == "webhook" {
                                json!(redact_url(s))
                            } else {
                                json!(MASK)
                            }
                        }
                        Value::Number(_) if secret => json!(MASK),
                        _ => redact_in(v, SECRET_MAPS.contains(&k.as_str())),
                    };
                    (k.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|x| redact_in(x, all)).collect()),
        Value::String(s) if all && !s.is_empty() => json!(MASK),
        other => other.clone(),
    }
}

/// Secrets are write-only: a PUT that sends a secret back as shown (`***`,
/// or the masked webhook URL) or leaves it out keeps the stored one. `null`
/// removes it.
pub fn keep_secrets(new: &mut Value, old: &Value) {
    keep_in(new, old, false);
}

fn keep_in(new: &mut Value, old: &Value, all: bool) {
    let (Value::Object(n), Value::Object(o)) = (new, old) else {
        return;
    };
    for (k, ov) in o {
        let secret = all || SECRET_KEYS.contains(&k.as_str());
        if secret {
            match n.get(k) {
                None => {
                    n.insert(k.clone(), ov.clone());
                }
                Some(Value::String(s)) => {
                    let shown = ov.as_str().map(redact_url);
                    if s == MASK || shown.as_deref() == Some(s.as_str()) {
                        n.insert(k.clone(), ov.clone());
                    }
                }
                _ => {}
            }
        } else if let Some(nv) = n.get_mut(k) {
            keep_in(nv, ov, SECRET_MAPS.contains(&k.as_str()));
        }
    }
}

/// The objects that name `name` (of `kind`) in a config.
pub fn referenced_by(c: &Config, kind: ObjectKind, name: &str) -> Vec<(ObjectKind, String)> {
    match kind {
        ObjectKind::Contact => c
            .contact_groups
            .iter()
            .filter(|g| g.contacts.iter().any(|x| x == name))
            .map(|g| (ObjectKind::ContactGroup, g.name.clone()))
            .collect(),
        ObjectKind::ContactGroup => c
            .notification_policies
            .iter()
            .filter(|p| p.contact_groups.iter().any(|x| x == name))
            .map(|p| (ObjectKind::NotificationPolicy, p.name.clone()))
            .collect(),
        ObjectKind::NotificationPolicy => c
            .subscriptions
            .iter()
            .filter(|s| s.notification_policy == name)
            .map(|s| (ObjectKind::Subscription, s.name.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

fn problem(path: &str, message: impl Into<String>) -> ChangeError {
    ChangeError::Invalid(vec![Problem {
        object: None,
        path: path.into(),
        line: 0,
        message: message.into(),
    }])
}

/// A silence's `duration` becomes `ends_at` (from `starts_at`, or now), and
/// one without a name gets one.
fn normalize_silence(body: &mut Map<String, Value>, now_ms: i64) -> Result<(), ChangeError> {
    if !body.contains_key("name") {
        let id = uuid::Uuid::now_v7().simple().to_string();
        body.insert(
            "name".into(),
            json!(format!("silence-{}", &id[id.len() - 12..])),
        );
    }
    let Some(d) = body.get("duration").cloned() else {
        return Ok(());
    };
    if body.contains_key("ends_at") {
        return Err(problem(
            "duration",
            "give either `ends_at` or `duration`, not both",
        ));
    }
    let Some(text) = d.as_str() else {
        return Err(problem("duration", "expected a duration like \"2h\""));
    };
    let d = config::parse_duration(text)
        .map_err(|e| problem("duration", format!("bad duration: {e}")))?;
    let start = match body.get("starts_at").and_then(Value::as_str) {
        Some(s) => s
            .parse::<jiff::Timestamp>()
            .map_err(|e| problem("starts_at", format!("expected an RFC 3339 time: {e}")))?,
        None => {
            let now = jiff::Timestamp::from_millisecond(now_ms)
                .map_err(|e| problem("starts_at", e.to_string()))?;
            body.insert("starts_at".into(), json!(now.to_string()));
            now
        }
    };
    let end_ms = start.as_millisecond().saturating_add(crate::duration_ms(d));
    let end = jiff::Timestamp::from_millisecond(end_ms)
        .map_err(|e| problem("duration", format!("too long: {e}")))?;
    body.remove("duration");
    body.insert("ends_at".into(), json!(end.to_string()));
    Ok(())
}

impl App {
    /// Makes one change through the management API (see the module doc).
    pub async fn change(
        &self,
        kind: ObjectKind,
        request: Request,
        actor: &str,
    ) -> Result<Changed, ChangeError> {
        let _guard = self.reload_lock.lock().await;
        let snap = self.config();
        let doc = snap.config.document.0.clone();
        let file = config::merge::document_name(doc.as_deref()).to_string();
        let c = &snap.config;
        let stored = self.store.api_objects().await?;
        // Without a file, the running config is the built-in defaults plus
        // the API's objects (fine), or was built in code (tests, benches):
        // then it holds objects the API did not make, which a change would
        // silently drop.
        let objects_in_config = c.contacts.len()
            + c.contact_groups.len()
            + c.notification_policies.len()
            + c.subscriptions.len()
            + c.sources.as_ref().map_or(0, Vec::len)
            + c.silences.len();
        let built_in_code = doc.is_none() && objects_in_config > stored.len();
        if built_in_code {
            return Err(ChangeError::NoDocument);
        }
        let mut objects = crate::app::stored_objects(self.store.as_ref()).await?;
        let now_ms = self.clock.now_ms();
        let is_api = |name: &str| {
            stored
                .iter()
                .find(|o| o.kind == kind.api_name() && o.name == name)
        };
        let in_config = |name: &str| kind.names(&snap.config).contains(&name);
        let singular = kind.singular();
        let new_etag = uuid::Uuid::now_v7().simple().to_string();
        let (change, action, name, before, after) = match request {
            Request::Create(body) => {
                let mut body = object_body(body)?;
                if kind == ObjectKind::Silence {
                    normalize_silence(&mut body, now_ms)?;
                }
                let name = body_name(&body)?;
                if is_api(&name).is_some() {
                    return Err(ChangeError::Exists {
                        kind: singular,
                        name,
                        where_: String::new(),
                    });
                }
                if in_config(&name) {
                    return Err(ChangeError::Exists {
                        kind: singular,
                        name,
                        where_: format!(" (provisioned by the config file {file})"),
                    });
                }
                let body = Value::Object(body);
                objects.push(ApiObject {
                    kind,
                    name: name.clone(),
                    body: body.clone(),
                });
                let change = ObjectChange::Create {
                    kind: kind.api_name().into(),
                    name: name.clone(),
                    body: body.to_string(),
                    etag: new_etag,
                };
                (change, "create", name, Value::Null, body)
            }
            Request::Update {
                name,
                body,
                if_match,
            } => {
                let Some(old) = is_api(&name) else {
                    return Err(self.not_api(kind, name, in_config, &file));
                };
                if let Some(e) = &if_match
                    && *e != old.etag
                {
                    return Err(ChangeError::Stale {
                        current: old.etag.clone(),
                    });
                }
                let mut body = object_body(body)?;
                if kind == ObjectKind::Silence {
                    body.entry("name").or_insert_with(|| json!(name));
                    normalize_silence(&mut body, now_ms)?;
                }
                match body.get("name") {
                    None => {
                        body.insert("name".into(), json!(name));
                    }
                    Some(Value::String(n)) if *n == name => {}
                    Some(_) => {
                        return Err(problem(
                            "name",
                            format!(
                                "must be `{name}` (the name in the path); to rename, create the new object and delete this one"
                            ),
                        ));
                    }
                }
                let old_body: Value = serde_json::from_str(&old.body).unwrap_or(Value::Null);
                let mut body = Value::Object(body);
                keep_secrets(&mut body, &old_body);
                for o in objects.iter_mut() {
                    if o.kind == kind && o.name == name {
                        o.body = body.clone();
                    }
                }
                let change = ObjectChange::Update {
                    kind: kind.api_name().into(),
                    name: name.clone(),
                    body: body.to_string(),
                    etag: new_etag,
                    if_etag: if_match,
                };
                (change, "update", name, old_body, body)
            }
            Request::Delete { name, if_match } => {
                let Some(old) = is_api(&name) else {
                    return Err(self.not_api(kind, name, in_config, &file));
                };
                if let Some(e) = &if_match
                    && *e != old.etag
                {
                    return Err(ChangeError::Stale {
                        current: old.etag.clone(),
                    });
                }
                let by = referenced_by(&snap.config, kind, &name);
                if !by.is_empty() {
                    return Err(ChangeError::Referenced {
                        kind: singular,
                        name,
                        by,
                    });
                }
                let old_body: Value = serde_json::from_str(&old.body).unwrap_or(Value::Null);
                objects.retain(|o| !(o.kind == kind && o.name == name));
                let change = ObjectChange::Delete {
                    kind: kind.api_name().into(),
                    name: name.clone(),
                    if_etag: if_match,
                };
                (change, "delete", name, old_body, Value::Null)
            }
        };
        // The one validator: the whole resulting configuration.
        let doc_for_load = doc.clone();
        let objects_for_load = objects.clone();
        let effective = tokio::task::spawn_blocking(move || {
            config::load_effective(
                doc_for_load.as_deref(),
                &objects_for_load,
                &config::process_env,
            )
        })
        .await
        .map_err(|e| StoreError::Failed(format!("the config loader stopped: {e}")))?;
        let Some(new) = effective.config else {
            return Err(ChangeError::Invalid(relative_problems(
                effective.problems,
                &objects,
                kind,
                &name,
            )));
        };
        // What `tocsin check` calls certain to fail (a literal private
        // address while allow_private_networks is false, another platform's
        // URL...) is refused too, when it is in the object sent: the file's
        // own findings are the file's to fix, and never block a change.
        let findings = crate::doctor::diagnostics(&file, &new);
        let certain: Vec<config::Diagnostic> =
            findings.into_iter().filter(|d| !d.warning).collect();
        let sent = objects
            .iter()
            .position(|o| o.kind == kind && o.name == name);
        let refused: Vec<Problem> = config::merge::locate_all(&certain, &new, &objects, &file)
            .into_iter()
            .filter(|p| p.object.is_some() && p.object == sent)
            .collect();
        if !refused.is_empty() {
            return Err(ChangeError::Invalid(relative_problems(
                refused, &objects, kind, &name,
            )));
        }
        let version = snapshot_version(&new, &self.options_for_version());
        let audit = AuditRecord {
            at_ms: now_ms,
            actor: actor.to_string(),
            action: action.into(),
            kind: kind.api_name().into(),
            name: name.clone(),
            version: Some(version),
            diff: Some(json!({"before": redacted(&before), "after": redacted(&after)}).to_string()),
        };
        let object = match self.store.change_object(change, audit).await? {
            ChangeOutcome::Done(o) => o,
            ChangeOutcome::Exists => {
                return Err(ChangeError::Exists {
                    kind: singular,
                    name,
                    where_: String::new(),
                });
            }
            ChangeOutcome::Missing => {
                return Err(ChangeError::Missing {
                    kind: singular,
                    name,
                });
            }
            ChangeOutcome::Stale(current) => return Err(ChangeError::Stale { current }),
        };
        let version = self.install(new).await;
        tracing::info!(kind = kind.api_name(), %name, action, "configuration changed through the API");
        Ok(Changed { object, version })
    }

    fn not_api(
        &self,
        kind: ObjectKind,
        name: String,
        in_config: impl Fn(&str) -> bool,
        file: &str,
    ) -> ChangeError {
        if in_config(&name) {
            ChangeError::Provisioned {
                kind: kind.singular(),
                name,
                file: file.to_string(),
            }
        } else {
            ChangeError::Missing {
                kind: kind.singular(),
                name,
            }
        }
    }

    /// The overrides a new config is installed with (for its version).
    fn options_for_version(&self) -> crate::app::ServeOptions {
        self.options.clone()
    }
}

/// The version `install` will give `config` (overrides applied as there).
fn snapshot_version(config: &Config, options: &crate::app::ServeOptions) -> String {
    let mut c = config.clone();
    crate::app::apply_overrides(&mut c, options);
    c.version()
}

fn object_body(body: Value) -> Result<Map<String, Value>, ChangeError> {
    match body {
        Value::Object(mut m) => {
            // What the API adds to its answers is not part of the object.
            m.remove("provisioned");
            Ok(m)
        }
        other => Err(problem(
            "",
            format!(
                "the body must be one object (a JSON map), found {}",
                match other {
                    Value::Array(_) => "a list",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    Value::Bool(_) => "a boolean",
                    _ => "null",
                }
            ),
        )),
    }
}

fn body_name(body: &Map<String, Value>) -> Result<String, ChangeError> {
    match body.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => Ok(n.clone()),
        Some(Value::String(_)) => Err(problem("name", "must not be empty")),
        Some(_) => Err(problem("name", "expected a string")),
        None => Err(problem("name", "`name` is required")),
    }
}

/// Problems as the client sees them: inside the object it sent, paths are
/// relative to it (`webhook`); elsewhere `KIND/NAME.path`, or the file's path.
fn relative_problems(
    problems: Vec<Problem>,
    objects: &[ApiObject],
    kind: ObjectKind,
    name: &str,
) -> Vec<Problem> {
    problems
        .into_iter()
        .map(|mut p| {
            if let Some(o) = p.object.and_then(|i| objects.get(i))
                && !(o.kind == kind && o.name == name)
            {
                p.path = if p.path.is_empty() {
                    format!("{}/{}", o.kind.api_name(), o.name)
                } else {
                    format!("{}/{}.{}", o.kind.api_name(), o.name, p.path)
                };
            }
            p
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_kept_when_sent_back() {
        let stored = json!({"name": "c", "channel": "webhook", "webhook": "https://h.example/hook/KEY",
            "secret": "S3", "headers": {"X-Key": "H1"}});
        let shown = redacted(&stored);
        let text = shown.to_string();
        assert!(
            !text.contains("KEY") && !text.contains("S3") && !text.contains("H1"),
            "{text}"
        );
        let mut back = shown.clone();
        keep_secrets(&mut back, &stored);
        assert_eq!(back, stored);
        // Left out: kept. A new value: taken.
        let mut partial =
            json!({"name": "c", "channel": "webhook", "webhook": "https://h.example/new"});
        keep_secrets(&mut partial, &stored);
        assert_eq!(partial["secret"], "S3");
        assert_eq!(partial["webhook"], "https://h.example/new");
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(parse_if_match("\"abc\""), Some("abc".into()));
        assert_eq!(parse_if_match("W/\"abc\""), Some("abc".into()));
        assert_eq!(parse_if_match("*"), None);
    }
}
