//! The effective configuration: the config file plus the objects made
//! through the management API. The API's objects (JSON in the file's schema)
//! are turned into the same tree the YAML loader reads and appended to the
//! file's lists, and the whole document goes through the one loader, so a
//! change is checked against everything at once (dangling references, name
//! clashes between the file and the API, bad durations...).
//!
//! Also the export: the effective document written back as YAML, with
//! secrets replaced by `${VAR}` placeholders.

use super::yaml::{self, Key, Node, Value};
use super::{Config, Diagnostic, Document, load_tree};
use serde_json::Value as Json;

/// The kinds of object the management API manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    Contact,
    ContactGroup,
    NotificationPolicy,
    Subscription,
    Source,
    Silence,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 6] = [
        ObjectKind::Contact,
        ObjectKind::ContactGroup,
        ObjectKind::NotificationPolicy,
        ObjectKind::Subscription,
        ObjectKind::Source,
        ObjectKind::Silence,
    ];

    /// Its name in the API's paths and in the store: `contact-groups`.
    pub fn api_name(self) -> &'static str {
        match self {
            ObjectKind::Contact => "contacts",
            ObjectKind::ContactGroup => "contact-groups",
            ObjectKind::NotificationPolicy => "notification-policies",
            ObjectKind::Subscription => "subscriptions",
            ObjectKind::Source => "sources",
            ObjectKind::Silence => "silences",
        }
    }

    /// Its key in the config file: `contact_groups`.
    pub fn config_key(self) -> &'static str {
        match self {
            ObjectKind::Contact => "contacts",
            ObjectKind::ContactGroup => "contact_groups",
            ObjectKind::NotificationPolicy => "notification_policies",
            ObjectKind::Subscription => "subscriptions",
            ObjectKind::Source => "sources",
            ObjectKind::Silence => "silences",
        }
    }

    /// One of it, in words: `contact group`.
    pub fn singular(self) -> &'static str {
        match self {
            ObjectKind::Contact => "contact",
            ObjectKind::ContactGroup => "contact group",
            ObjectKind::NotificationPolicy => "notification policy",
            ObjectKind::Subscription => "subscription",
            ObjectKind::Source => "source",
            ObjectKind::Silence => "silence",
        }
    }

    pub fn from_api_name(s: &str) -> Option<ObjectKind> {
        ObjectKind::ALL.into_iter().find(|k| k.api_name() == s)
    }

    fn from_config_key(s: &str) -> Option<ObjectKind> {
        ObjectKind::ALL.into_iter().find(|k| k.config_key() == s)
    }

    /// The names of this kind in a config, in order.
    pub fn names(self, c: &Config) -> Vec<&str> {
        match self {
            ObjectKind::Contact => c.contacts.iter().map(|x| x.name.as_str()).collect(),
            ObjectKind::ContactGroup => c.contact_groups.iter().map(|x| x.name.as_str()).collect(),
            ObjectKind::NotificationPolicy => c
                .notification_policies
                .iter()
                .map(|x| x.name.as_str())
                .collect(),
            ObjectKind::Subscription => c.subscriptions.iter().map(|x| x.name.as_str()).collect(),
            ObjectKind::Source => c
                .sources
                .iter()
                .flatten()
                .map(|x| x.name.as_str())
                .collect(),
            ObjectKind::Silence => c.silences.iter().map(|x| x.name.as_str()).collect(),
        }
    }
}

/// One object made through the API: its body is JSON in the file's schema.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiObject {
    pub kind: ObjectKind,
    pub name: String,
    pub body: Json,
}

/// One problem of the effective configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The API object it is in (an index into the objects given), or None
    /// for the file.
    pub object: Option<usize>,
    /// Inside that object (`webhook`, `matchers.levels[0]`, empty for the
    /// object itself); for the file, the loader's path.
    pub path: String,
    /// The line in the file (0 for API objects).
    pub line: usize,
    pub message: String,
}

/// What merging the file and the API's objects gives.
#[derive(Clone, Debug)]
pub struct Effective {
    /// Some exactly when there is no problem.
    pub config: Option<Config>,
    pub problems: Vec<Problem>,
}

/// The file's name as diagnostics give it ("(built-in defaults)" without one).
pub fn document_name(doc: Option<&Document>) -> &str {
    doc.map_or("(built-in defaults)", |d| d.file.as_str())
}

/// JSON → the loader's tree. Strings are taken literally: `$` is written
/// `$$` so that the loader's `${ENV}` interpolation leaves them as given.
pub fn json_to_node(v: &Json) -> Node {
    let value = match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Str(n.to_string()),
        },
        Json::String(s) => Value::Str(s.replace('$', "$$")),
        Json::Array(items) => Value::Seq(items.iter().map(json_to_node).collect()),
        Json::Object(m) => Value::Map(
            m.iter()
                .map(|(k, v)| {
                    (
                        Key {
                            text: k.clone(),
                            line: 0,
                        },
                        json_to_node(v),
                    )
                })
                .collect(),
        ),
    };
    Node { value, line: 0 }
}

/// The file's tree with the API's objects appended to their lists, and how
/// many items each list had in the file.
pub fn merged_tree(
    doc: Option<&Document>,
    objects: &[ApiObject],
) -> Result<(Node, Vec<(ObjectKind, usize)>), Problem> {
    let mut root = match doc {
        None => Node {
            value: Value::Null,
            line: 1,
        },
        Some(d) => yaml::parse(&d.text).map_err(|e| Problem {
            object: None,
            path: "(file)".into(),
            line: e.line,
            message: format!("YAML syntax error: {}", e.message),
        })?,
    };
    if root.value == Value::Null {
        root.value = Value::Map(Vec::new());
    }
    let Value::Map(entries) = &mut root.value else {
        // Not a map: the loader says so.
        return Ok((root, Vec::new()));
    };
    let mut counts = Vec::new();
    for kind in ObjectKind::ALL {
        let key = kind.config_key();
        let mine: Vec<Node> = objects
            .iter()
            .filter(|o| o.kind == kind)
            .map(|o| json_to_node(&o.body))
            .collect();
        let pos = entries.iter().position(|(k, _)| k.text == key);
        let in_file = match pos.map(|i| &entries[i].1.value) {
            Some(Value::Seq(items)) => items.len(),
            _ => 0,
        };
        counts.push((kind, in_file));
        if mine.is_empty() {
            continue;
        }
        match pos {
            Some(i) => match &mut entries[i].1.value {
                Value::Seq(items) => items.extend(mine),
                // `contacts:` with nothing after it.
                v @ Value::Null => *v = Value::Seq(mine),
                // Not a list: the loader reports the file's own error.
                _ => {}
            },
            None => entries.push((
                Key {
                    text: key.into(),
                    line: 0,
                },
                Node {
                    value: Value::Seq(mine),
                    line: 0,
                },
            )),
        }
    }
    Ok((root, counts))
}

/// Validates the file and the API's objects together.
pub fn load_effective(
    doc: Option<&Document>,
    objects: &[ApiObject],
    env: &dyn Fn(&str) -> Option<String>,
) -> Effective {
    let (root, counts) = match merged_tree(doc, objects) {
        Ok(x) => x,
        Err(p) => {
            return Effective {
                config: None,
                problems: vec![p],
            };
        }
    };
    let text = doc.map_or("", |d| d.text.as_str());
    let loaded = load_tree(&root, text, document_name(doc), env);
    let problems: Vec<Problem> = loaded
        .diagnostics
        .iter()
        .filter(|d| !d.warning)
        .map(|d| locate(d, &counts, objects, document_name(doc)))
        .collect();
    let config = loaded.config.map(|mut c| {
        c.document = super::FileText(doc.map(|d| std::sync::Arc::new(d.clone())));
        c
    });
    Effective { config, problems }
}

/// Diagnostics found on an effective config (the offline doctor's, which
/// name paths like `contacts[3].webhook`) placed in the API object they are
/// about, as [`load_effective`]'s problems are.
pub fn locate_all(
    diagnostics: &[Diagnostic],
    config: &Config,
    objects: &[ApiObject],
    file_name: &str,
) -> Vec<Problem> {
    // The file's objects come first in each list, the API's after them.
    let counts: Vec<(ObjectKind, usize)> = ObjectKind::ALL
        .iter()
        .map(|k| {
            let api = objects.iter().filter(|o| o.kind == *k).count();
            (*k, k.names(config).len().saturating_sub(api))
        })
        .collect();
    diagnostics
        .iter()
        .map(|d| locate(d, &counts, objects, file_name))
        .collect()
}

/// Which object a loader diagnostic is in: `contacts[3].webhook` with two
/// contacts in the file is the second API-made contact's `webhook`.
fn locate(
    d: &Diagnostic,
    counts: &[(ObjectKind, usize)],
    objects: &[ApiObject],
    file_name: &str,
) -> Problem {
    let file = Problem {
        object: None,
        path: d.path.clone(),
        line: d.line,
        message: d.message.clone(),
    };
    let Some((key, rest)) = d.path.split_once('[') else {
        return file;
    };
    let Some((index, rest)) = rest.split_once(']') else {
        return file;
    };
    let (Some(kind), Ok(index)) = (ObjectKind::from_config_key(key), index.parse::<usize>()) else {
        return file;
    };
    let in_file = counts
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(0, |(_, n)| *n);
    let Some(nth) = index.checked_sub(in_file) else {
        return file;
    };
    let Some((i, _)) = objects
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind == kind)
        .nth(nth)
    else {
        return file;
    };
    // A name the file has too: the first is the file's (file objects come
    // first), so say where it is.
    let message = match d.message.split_once(" (first at line ") {
        Some((head, tail))
            if tail
                .trim_end_matches(')')
                .parse::<usize>()
                .is_ok_and(|l| l > 0) =>
        {
            format!(
                "{head}: the config file {file_name} has it too (line {}); rename one of them",
                tail.trim_end_matches(')')
            )
        }
        _ => d.message.clone(),
    };
    Problem {
        object: Some(i),
        path: rest.strip_prefix('.').unwrap_or(rest).to_string(),
        line: 0,
        message,
    }
}

/// What a secret is shown as.
pub const MASK: &str = "***";

/// `https://open.feishu.cn/***`: scheme, host and port, the rest masked
/// (webhook paths and queries carry the bot's key).
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{host}{port}/{MASK}", u.scheme())
        }
        Err(_) => MASK.to_string(),
    }
}

/// Keys whose string values are secrets wherever they appear (contacts,
/// server, delivery): never shown, exported as `${VAR}` placeholders.
pub const SECRET_KEYS: &[&str] = &[
    "secret",
    "webhook",
    "bot_token",
    "api_token",
    "ingest_token",
    "proxy",
    "token",
    "routing_key",
    "app_secret",
    "password",
];

/// Keys whose every value is a secret (a map of header values).
pub const SECRET_MAPS: &[&str] = &["headers"];

/// The effective configuration as YAML in the file's schema: the file's own
/// settings and objects (as written, `${VAR}` references kept), then the
/// API-made objects. Every secret that is not already a `${VAR}` reference
/// becomes `${TOCSIN_SECRET_<WHERE>:-<masked>}`: `tocsin check` accepts the
/// export as it is, and running it needs those variables set.
pub fn export_yaml(doc: Option<&Document>, objects: &[ApiObject]) -> Result<String, Problem> {
    let (mut root, _) = merged_tree(doc, objects)?;
    mask_secrets(&mut root, "TOCSIN_SECRET", false);
    let mut out = String::from(
        "# Tocsin configuration exported from the running server (GET /api/v1/config/export):\n\
         # the config file's settings and objects, then the objects made through the API.\n\
         # Secrets are not exported: each is a ${TOCSIN_SECRET_...} placeholder whose\n\
         # default (after :-) is the masked value, which no platform accepts. Set those\n\
         # variables (or write the secrets in) before serving this file.\n",
    );
    emit(&root, 0, &mut out);
    Ok(out)
}

fn env_name(prefix: &str, part: &str) -> String {
    let part: String = part
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{prefix}_{part}")
}

/// The placeholder default: the URL's scheme and host, or `***`.
fn masked(key: &str, value: &str) -> String {
    if key == "webhook" {
        redact_url(value)
    } else {
        "***".into()
    }
}

fn mask_secrets(node: &mut Node, prefix: &str, all: bool) {
    match &mut node.value {
        Value::Map(entries) => {
            // A named object's placeholders carry its name.
            let name = entries
                .iter()
                .find(|(k, _)| k.text == "name")
                .and_then(|(_, v)| match &v.value {
                    Value::Str(s) => Some(s.replace("$$", "$")),
                    _ => None,
                });
            let prefix = match name {
                Some(n) => env_name(prefix, &n),
                None => prefix.to_string(),
            };
            for (k, v) in entries.iter_mut() {
                let here = env_name(&prefix, &k.text);
                let secret = all || SECRET_KEYS.contains(&k.text.as_str());
                match &mut v.value {
                    Value::Str(s) if secret => {
                        let plain = s.trim();
                        let is_reference = plain.starts_with("${") && plain.ends_with('}');
                        if !is_reference && !plain.is_empty() {
                            let shown = masked(&k.text, &s.replace("$$", "$")).replace('$', "$$");
                            *s = format!("${{{here}:-{shown}}}");
                        }
                    }
                    Value::Int(_) if secret => {
                        *v = Node {
                            value: Value::Str(format!("${{{here}:-***}}")),
                            line: v.line,
                        };
                    }
                    _ => mask_secrets(v, &here, SECRET_MAPS.contains(&k.text.as_str())),
                }
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let here = if matches!(item.value, Value::Map(_)) {
                    prefix.to_string()
                } else {
                    format!("{prefix}_{i}")
                };
                mask_secrets(item, &here, all);
            }
        }
        _ => {}
    }
}

/// A string as a YAML double-quoted scalar (JSON's escapes are YAML's).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("~".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i) => Some(i.to_string()),
        Value::Str(s) => Some(quoted(s)),
        Value::Seq(items) if items.is_empty() => Some("[]".into()),
        Value::Map(entries) if entries.is_empty() => Some("{}".into()),
        _ => None,
    }
}

/// Block-style YAML of a tree; every string quoted, so none is read back as
/// a number or a boolean.
fn emit(node: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match &node.value {
        Value::Map(entries) if !entries.is_empty() => {
            for (k, v) in entries {
                out.push_str(&pad);
                out.push_str(&quoted(&k.text));
                match scalar(&v.value) {
                    Some(s) => {
                        out.push_str(": ");
                        out.push_str(&s);
                        out.push('\n');
                    }
                    None => {
                        out.push_str(":\n");
                        emit(v, indent + 2, out);
                    }
                }
            }
        }
        Value::Seq(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&pad);
                out.push_str("- ");
                match scalar(&item.value) {
                    Some(s) => {
                        out.push_str(&s);
                        out.push('\n');
                    }
                    None => {
                        // The item's first line follows the dash.
                        let mut inner = String::new();
                        emit(item, indent + 2, &mut inner);
                        out.push_str(inner.trim_start());
                    }
                }
            }
        }
        v => {
            out.push_str(&pad);
            out.push_str(&scalar(v).unwrap_or_default());
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        Document {
            file: "t.yaml".into(),
            text: text.into(),
        }
    }

    const FILE: &str = "contacts:\n  - name: a\n    channel: webhook\n    webhook: http://127.0.0.1:9/x\n    secret: s3cret\ncontact_groups:\n  - name: g\n    contacts: [a]\n";

    #[test]
    fn api_objects_join_the_file_and_problems_point_into_them() {
        let objects = vec![
            ApiObject {
                kind: ObjectKind::NotificationPolicy,
                name: "p".into(),
                body: serde_json::json!({"name": "p", "contact_groups": ["nope"]}),
            },
            ApiObject {
                kind: ObjectKind::Subscription,
                name: "s".into(),
                body: serde_json::json!({"name": "s", "notification_policy": "p", "merge_window": "soon"}),
            },
        ];
        let e = load_effective(Some(&doc(FILE)), &objects, &|_| None);
        assert!(e.config.is_none());
        assert!(
            e.problems
                .iter()
                .any(|p| p.object == Some(0) && p.path == "contact_groups[0]"),
            "{:?}",
            e.problems
        );
        assert!(
            e.problems
                .iter()
                .any(|p| p.object == Some(1) && p.path == "merge_window"),
            "{:?}",
            e.problems
        );
    }

    #[test]
    fn api_strings_are_literal_and_export_masks_secrets() {
        let objects = vec![ApiObject {
            kind: ObjectKind::Contact,
            name: "b".into(),
            body: serde_json::json!({"name": "b", "channel": "webhook", "webhook": "http://127.0.0.1:9/${KEY}", "secret": "${NOT_ENV}"}),
        }];
        let e = load_effective(Some(&doc(FILE)), &objects, &|_| None);
        let c = e.config.expect("valid");
        assert_eq!(c.contacts[1].secret, "${NOT_ENV}");
        let y = export_yaml(Some(&doc(FILE)), &objects).unwrap();
        assert!(!y.contains("s3cret"), "{y}");
        assert!(!y.contains("/x"), "{y}");
        assert!(y.contains("TOCSIN_SECRET_CONTACTS_A_SECRET"), "{y}");
        let back = super::super::load_str(&y, "export.yaml", &|_| None);
        assert!(back.config.is_some(), "{:?}", back.diagnostics);
        assert_eq!(back.config.unwrap().contacts.len(), 2);
    }

    #[test]
    fn silences_in_the_file_are_checked() {
        let text = "silences:\n  - name: s\n    ends_at: tomorrow\n  - name: t\n    matchers: { levels: [loud] }\n    duration: 2h\n";
        let loaded = super::super::load_str(text, "t.yaml", &|_| None);
        let errors: Vec<String> = loaded
            .diagnostics
            .iter()
            .filter(|d| !d.warning)
            .map(|d| d.path.clone())
            .collect();
        for p in [
            "silences[0].matchers",
            "silences[0].ends_at",
            "silences[1].matchers.levels[0]",
            "silences[1].duration",
        ] {
            assert!(errors.iter().any(|e| e == p), "{p}: {errors:?}");
        }
    }
}
