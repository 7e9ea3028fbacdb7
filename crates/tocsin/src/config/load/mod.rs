//! Loading: YAML tree → `${ENV}` interpolation → typed config, validated in
//! one pass that reports every problem with its line and path.

use super::model::*;
use super::units::{Cidr, parse_duration, parse_size};
use super::yaml::{self, Key, Node, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod bounds;
mod contacts;
mod routing;
mod settings;
mod silences;
mod sources;
mod subscriptions;

use bounds::out_of_bounds;
pub use bounds::*;
use contacts::{http_url, probe_contact};

/// One problem in a config file. Displayed as `FILE:LINE: PATH: message`
/// (warnings prefixed with `warning: `).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub path: String,
    pub message: String,
    pub warning: bool,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.warning {
            write!(f, "warning: ")?;
        }
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.path, self.message
        )
    }
}

/// The result of loading: `config` is Some exactly when there is no error.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub config: Option<Config>,
    pub diagnostics: Vec<Diagnostic>,
}

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Loads a file named on the command line. Unlike [`load_str`], a file with
/// no configuration in it (empty, blank, comments only) is an error: it is
/// almost always a truncated or half-written file, and running on the
/// embedded defaults would drop the tokens, the contacts and the routing.
pub fn load_file(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Loaded {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let name = path.display().to_string();
            if yaml::parse(&text).is_ok_and(|root| root.value == Value::Null) {
                return Loaded {
                    config: None,
                    diagnostics: vec![Diagnostic {
                        file: name,
                        line: 1,
                        path: "(file)".into(),
                        message: "the file is empty (no settings, only blanks or comments): \
                                  refused rather than running on the built-in defaults"
                            .into(),
                        warning: false,
                    }],
                };
            }
            load_str(&text, &name, env)
        }
        Err(e) => Loaded {
            config: None,
            diagnostics: vec![Diagnostic {
                file: path.display().to_string(),
                line: 0,
                path: "(file)".into(),
                message: format!("cannot read the file: {e}"),
                warning: false,
            }],
        },
    }
}

pub fn load_str(text: &str, file_name: &str, env: &dyn Fn(&str) -> Option<String>) -> Loaded {
    let root = match yaml::parse(text) {
        Ok(n) => n,
        Err(e) => {
            return Loaded {
                config: None,
                diagnostics: vec![Diagnostic {
                    file: file_name.to_string(),
                    line: e.line,
                    path: "(file)".into(),
                    message: format!("YAML syntax error: {}", e.message),
                    warning: false,
                }],
            };
        }
    };
    let mut loaded = load_tree(&root, text, file_name, env);
    if let Some(c) = &mut loaded.config {
        c.document = FileText(Some(std::sync::Arc::new(Document {
            file: file_name.to_string(),
            text: text.to_string(),
        })));
    }
    loaded
}

/// Validates an already parsed tree (`text` is the file it came from, for
/// the lines of block scalars): the one validator behind the file, the
/// management API and `tocsin check`. The config it returns has no
/// [`Document`]; the caller knows which file it belongs to.
pub fn load_tree(
    root: &Node,
    text: &str,
    file_name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Loaded {
    let mut cx = Cx {
        file: file_name.to_string(),
        text,
        env,
        diags: Vec::new(),
        refs: Vec::new(),
    };
    let config = cx.config(root);
    // In file order; problems on one line keep the order they were found.
    cx.diags.sort_by_key(|d| d.line);
    let has_error = cx.diags.iter().any(|d| !d.warning);
    Loaded {
        config: if has_error { None } else { Some(config) },
        diagnostics: cx.diags,
    }
}

/// Keys of later issues, by where they go: recognized and refused with a
/// clear message (elsewhere they are plain unknown keys).
fn not_yet(path: &str, key: &str) -> bool {
    let object = |kind: &str| {
        path.strip_prefix(kind)
            .and_then(|r| r.strip_prefix('['))
            .and_then(|r| r.strip_suffix(']'))
            .is_some_and(|i| i.chars().all(|c| c.is_ascii_digit()))
    };
    let keys: &[&str] = if object("subscriptions") {
        &["digest"]
    } else {
        &[]
    };
    keys.contains(&key)
}

struct Cx<'a> {
    file: String,
    /// The file's text (to tell a block scalar from an inline one).
    text: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    diags: Vec<Diagnostic>,
    /// References to check once every object is known.
    refs: Vec<Ref>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RefKind {
    Contact,
    Group,
    Policy,
}

struct Ref {
    kind: RefKind,
    name: String,
    line: usize,
    path: String,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() || path == "(root)" {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Cx<'_> {
    fn error(&mut self, line: usize, path: &str, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            file: self.file.clone(),
            line,
            path: path.to_string(),
            message: message.into(),
            warning: false,
        });
    }

    fn warn(&mut self, line: usize, path: &str, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            file: self.file.clone(),
            line,
            path: path.to_string(),
            message: message.into(),
            warning: true,
        });
    }

    /// The entries of a map node, after checking its keys. Null = empty.
    fn map<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        allowed: &[&str],
    ) -> Option<Vec<(&'n Key, &'n Node)>> {
        match &node.value {
            Value::Null => Some(Vec::new()),
            Value::Map(entries) => {
                let mut seen: HashMap<&str, usize> = HashMap::new();
                let mut out = Vec::new();
                for (k, v) in entries {
                    let p = join(path, &k.text);
                    if let Some(first) = seen.insert(k.text.as_str(), k.line) {
                        self.error(k.line, &p, format!("duplicate key (first at line {first})"));
                        continue;
                    }
                    if allowed.contains(&k.text.as_str()) {
                        // `null` / `~` for an optional key = absent.
                        if v.value != Value::Null {
                            out.push((k, v));
                        }
                    } else if not_yet(path, &k.text) {
                        self.error(
                            k.line,
                            &p,
                            format!("`{}` is not supported by this build yet", k.text),
                        );
                    } else {
                        self.error(
                            k.line,
                            &p,
                            format!(
                                "unknown key `{}` (expected one of: {})",
                                k.text,
                                allowed.join(", ")
                            ),
                        );
                    }
                }
                Some(out)
            }
            _ => {
                self.error(
                    node.line,
                    path,
                    format!("expected a map, found {}", node.kind()),
                );
                None
            }
        }
    }

    fn interpolate(&mut self, raw: &str, line: usize, path: &str) -> Option<String> {
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            rest = &rest[pos..];
            if let Some(r) = rest.strip_prefix("$$") {
                out.push('$');
                rest = r;
            } else if let Some(r) = rest.strip_prefix("${") {
                let Some(end) = r.find('}') else {
                    self.error(
                        line,
                        path,
                        "unterminated `${` (write `$$` for a literal `$`)",
                    );
                    return None;
                };
                let inner = &r[..end];
                let (name, default) = match inner.split_once(":-") {
                    Some((n, d)) => (n, Some(d)),
                    None => (inner, None),
                };
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    // Not echoed: it may be a pasted secret.
                    self.error(
                        line,
                        path,
                        "`${...}` must name a variable (letters, digits and _)",
                    );
                    return None;
                }
                match ((self.env)(name), default) {
                    (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
                    (Some(v), _) => out.push_str(&v),
                    (None, Some(d)) => out.push_str(d),
                    (None, None) => {
                        self.error(
                            line,
                            path,
                            format!("environment variable `{name}` is not set (use ${{{name}:-default}} for a default)"),
                        );
                        return None;
                    }
                }
                rest = &r[end + 1..];
            } else {
                out.push('$');
                rest = &rest[1..];
            }
        }
        out.push_str(rest);
        Some(out)
    }

    /// A string value (interpolated). Plain YAML numbers are taken as their text.
    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => self.interpolate(s, node.line, path),
            Value::Int(i) => Some(i.to_string()),
            _ => {
                self.error(
                    node.line,
                    path,
                    format!("expected a string, found {}", node.kind()),
                );
                None
            }
        }
    }

    fn opt_string(&mut self, node: &Node, path: &str) -> Option<String> {
        if node.value == Value::Null {
            Some(String::new())
        } else {
            self.string(node, path)
        }
    }

    fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            // A quoted string only when it interpolates (`${ALLOW:-false}`):
            // `yes`, `on` or `"true"` are not booleans.
            Value::Str(s) if s.contains("${") => {
                let s = self.interpolate(s, node.line, path)?;
                match s.trim() {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => {
                        self.error(node.line, path, "expected true or false");
                        None
                    }
                }
            }
            _ => {
                self.error(
                    node.line,
                    path,
                    format!("expected true or false, found {}", node.kind()),
                );
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        let s = self.string(node, path)?;
        match parse_duration(&s) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(node.line, path, format!("bad duration: {e}"));
                None
            }
        }
    }

    /// A duration within `bounds` (see [`Bounds`]).
    fn bounded_duration(&mut self, node: &Node, path: &str, bounds: Bounds) -> Option<Duration> {
        let d = self.duration(node, path)?;
        if let Some(problem) = out_of_bounds(d, bounds) {
            self.error(node.line, path, problem);
            return None;
        }
        Some(d)
    }

    /// A whole number within `bounds` (a YAML number, or a string that
    /// interpolates to one).
    fn bounded_count(&mut self, node: &Node, path: &str, bounds: CountBounds) -> Option<u32> {
        let text = self.string(node, path)?;
        let Ok(n) = text.trim().parse::<u64>() else {
            self.error(
                node.line,
                path,
                format!("expected a whole number, found `{}`", text.trim()),
            );
            return None;
        };
        if n > u64::from(bounds.max) {
            self.error(node.line, path, format!("must be at most {}", bounds.max));
            None
        } else if n < u64::from(bounds.min) {
            self.error(node.line, path, format!("must be at least {}", bounds.min));
            None
        } else {
            u32::try_from(n).ok()
        }
    }

    /// A list of strings (each interpolated). Null or absent = empty.
    fn strings(&mut self, node: &Node, path: &str) -> Vec<(String, usize)> {
        match &node.value {
            Value::Null => Vec::new(),
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    let p = format!("{path}[{i}]");
                    let s = self.string(item, &p)?;
                    if s.trim().is_empty() {
                        self.error(item.line, &p, "must not be empty");
                        return None;
                    }
                    Some((s, item.line))
                })
                .collect(),
            _ => {
                self.error(
                    node.line,
                    path,
                    format!("expected a list, found {}", node.kind()),
                );
                Vec::new()
            }
        }
    }

    fn list_items<'n>(&mut self, node: &'n Node, path: &str) -> Vec<&'n Node> {
        match &node.value {
            Value::Null => Vec::new(),
            Value::Seq(items) => items.iter().collect(),
            _ => {
                self.error(
                    node.line,
                    path,
                    format!("expected a list, found {}", node.kind()),
                );
                Vec::new()
            }
        }
    }

    /// The object's `name` and the line it is on.
    fn name(&mut self, entries: &[(&Key, &Node)], line: usize, path: &str) -> (String, usize) {
        match entries.iter().find(|(k, _)| k.text == "name") {
            None => {
                self.error(line, path, "`name` is required");
                (String::new(), line)
            }
            Some((_, v)) => {
                let p = join(path, "name");
                let name = match self.string(v, &p) {
                    Some(s) if s.trim().is_empty() => {
                        self.error(v.line, &p, "must not be empty");
                        String::new()
                    }
                    Some(s) => s,
                    None => String::new(),
                };
                (name, v.line)
            }
        }
    }

    fn config(&mut self, root: &Node) -> Config {
        let mut c = Config::embedded_default();
        let top = [
            "server",
            "store",
            "delivery",
            "catalog",
            "sources",
            "contacts",
            "contact_groups",
            "notification_policies",
            "subscriptions",
            "silences",
        ];
        let Some(entries) = self.map(root, "(root)", &top) else {
            return c;
        };
        for (k, v) in entries {
            match k.text.as_str() {
                "server" => self.server(v, &mut c.server),
                "store" => self.store(v, &mut c.store),
                "delivery" => self.delivery(v, &mut c.delivery),
                "catalog" => self.catalog(v, &mut c.catalog),
                "sources" => c.sources = Some(self.sources(v)),
                "contacts" => c.contacts = self.contacts(v),
                "contact_groups" => c.contact_groups = self.groups(v),
                "notification_policies" => c.notification_policies = self.policies(v),
                "subscriptions" => c.subscriptions = self.subscriptions(v),
                "silences" => c.silences = self.silences(v),
                _ => {}
            }
        }
        self.references(&c);
        c
    }

    /// Checks names are unique within a kind.
    fn unique(&mut self, kind: &str, names: &[(String, usize, String)]) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (name, line, path) in names {
            if name.is_empty() {
                continue;
            }
            if let Some(first) = seen.insert(name.as_str(), *line) {
                self.error(
                    *line,
                    &format!("{path}.name"),
                    format!("duplicate {kind} name `{name}` (first at line {first})"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
