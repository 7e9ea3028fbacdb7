//! Loading: YAML tree → `${ENV}` interpolation → typed config, validated in
//! one pass that reports every problem with its line and path.

use super::model::*;
use super::units::{Cidr, parse_duration, parse_size};
use super::yaml::{self, Key, Node, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

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

const SEC: u64 = 1_000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

/// Lower and upper bounds (inclusive, in milliseconds) of a duration key.
/// Every value stays far below `i64::MAX` milliseconds, so time arithmetic on
/// them cannot wrap. README's "Bounds" table lists the same numbers.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub min_ms: u64,
    pub max_ms: u64,
}

pub const RETENTION: Bounds = Bounds {
    min_ms: HOUR,
    max_ms: 3650 * DAY,
};
pub const TIMEOUT: Bounds = Bounds {
    min_ms: 1,
    max_ms: 10 * MIN,
};
pub const RETRY_HORIZON: Bounds = Bounds {
    min_ms: 1,
    max_ms: 30 * DAY,
};
pub const BACKOFF: Bounds = Bounds {
    min_ms: 1,
    max_ms: DAY,
};
pub const REMOVED_CONTACT_GRACE: Bounds = Bounds {
    min_ms: 0,
    max_ms: 7 * DAY,
};
pub const MERGE_WINDOW: Bounds = Bounds {
    min_ms: 1,
    max_ms: 7 * DAY,
};
pub const SILENCE: Bounds = Bounds {
    min_ms: 1,
    max_ms: 365 * DAY,
};
pub const RATE_LIMIT_REST: Bounds = Bounds {
    min_ms: 1_000,
    max_ms: DAY,
};
pub const RATE_WINDOW: Bounds = Bounds {
    min_ms: 1,
    max_ms: DAY,
};
/// `server.max_body`, in bytes.
pub const MAX_BODY_MAX: u64 = 256 << 20;

/// `90d`, `10m`, `1500ms`: the largest unit that divides the value evenly.
fn show_ms(ms: u64) -> String {
    for (unit, size) in [("d", DAY), ("h", HOUR), ("m", MIN), ("s", SEC)] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// None when `d` is within `b`, else what is wrong with it.
fn out_of_bounds(d: Duration, b: Bounds) -> Option<String> {
    let ms = d.as_millis();
    if ms > u128::from(b.max_ms) {
        Some(format!("must be at most {}", show_ms(b.max_ms)))
    } else if ms < u128::from(b.min_ms) {
        Some(if b.min_ms == 1 {
            "must be longer than 0".to_string()
        } else {
            format!("must be at least {}", show_ms(b.min_ms))
        })
    } else {
        None
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
    let mut cx = Cx {
        file: file_name.to_string(),
        text,
        env,
        diags: Vec::new(),
        refs: Vec::new(),
    };
    let root = match yaml::parse(text) {
        Ok(n) => n,
        Err(e) => {
            cx.error(
                e.line,
                "(file)",
                format!("YAML syntax error: {}", e.message),
            );
            return Loaded {
                config: None,
                diagnostics: cx.diags,
            };
        }
    };
    let config = cx.config(&root);
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
                _ => {}
            }
        }
        self.references(&c);
        c
    }

    fn server(&mut self, node: &Node, s: &mut ServerConfig) {
        let keys = [
            "listen",
            "data_dir",
            "api_token",
            "ingest_token",
            "max_body",
            "public_url",
        ];
        let Some(entries) = self.map(node, "server", &keys) else {
            return;
        };
        for (k, v) in entries {
            let p = join("server", &k.text);
            match k.text.as_str() {
                "listen" => {
                    if let Some(l) = self.string(v, &p) {
                        if valid_listen(&l) {
                            s.listen = l;
                        } else {
                            self.error(
                                v.line,
                                &p,
                                format!("`{l}` is not host:port (e.g. 127.0.0.1:9750)"),
                            );
                        }
                    }
                }
                "data_dir" => {
                    if let Some(d) = self.string(v, &p) {
                        if d.trim().is_empty() {
                            self.error(v.line, &p, "must not be empty");
                        } else {
                            s.data_dir = PathBuf::from(d);
                        }
                    }
                }
                "api_token" => s.api_token = self.opt_string(v, &p).unwrap_or_default(),
                "ingest_token" => s.ingest_token = self.opt_string(v, &p).unwrap_or_default(),
                "max_body" => {
                    if let Some(t) = self.string(v, &p) {
                        match parse_size(&t) {
                            Ok(0) => self.error(v.line, &p, "must be larger than 0"),
                            Ok(n) if n > MAX_BODY_MAX => {
                                self.error(v.line, &p, "must be at most 256MiB")
                            }
                            Ok(n) => s.max_body = n,
                            Err(e) => self.error(v.line, &p, format!("bad size: {e}")),
                        }
                    }
                }
                "public_url" => {
                    if let Some(u) = self.opt_string(v, &p) {
                        if u.is_empty() {
                            s.public_url = None;
                        } else if http_url(&u).is_some() {
                            s.public_url = Some(u.trim_end_matches('/').to_string());
                        } else {
                            self.error(v.line, &p, "must be an http:// or https:// URL");
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn store(&mut self, node: &Node, s: &mut StoreConfig) {
        let Some(entries) = self.map(node, "store", &["retention", "quarantine_max"]) else {
            return;
        };
        for (k, v) in entries {
            match k.text.as_str() {
                "retention" => {
                    if let Some(d) = self.bounded_duration(v, "store.retention", RETENTION) {
                        s.retention = d;
                    }
                }
                "quarantine_max" => {
                    let p = "store.quarantine_max";
                    if let Some(t) = self.string(v, p) {
                        match parse_size(&t) {
                            Ok(n) if n > QUARANTINE_MAX_LIMIT => self.error(
                                v.line,
                                p,
                                format!("must be at most 1GiB ({QUARANTINE_MAX_LIMIT} bytes)"),
                            ),
                            Ok(n) => s.quarantine_max = n,
                            Err(e) => self.error(v.line, p, format!("bad size: {e}")),
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn delivery(&mut self, node: &Node, d: &mut DeliveryConfig) {
        let keys = [
            "timeout",
            "backoff",
            "retry_horizon",
            "removed_contact_grace",
            "allow_private_networks",
            "deny_cidrs",
            "proxy",
            "on_failure",
        ];
        let Some(entries) = self.map(node, "delivery", &keys) else {
            return;
        };
        for (k, v) in entries {
            let p = join("delivery", &k.text);
            match k.text.as_str() {
                "timeout" => {
                    if let Some(t) = self.bounded_duration(v, &p, TIMEOUT) {
                        d.timeout = t;
                    }
                }
                "on_failure" => {
                    if let Some(g) = self.opt_string(v, &p).filter(|g| !g.is_empty()) {
                        self.refs.push(Ref {
                            kind: RefKind::Group,
                            name: g.clone(),
                            line: v.line,
                            path: p.clone(),
                        });
                        d.on_failure = Some(g);
                    }
                }
                "removed_contact_grace" => {
                    if let Some(t) = self.bounded_duration(v, &p, REMOVED_CONTACT_GRACE) {
                        d.removed_contact_grace = t;
                    }
                }
                "retry_horizon" => {
                    if let Some(t) = self.bounded_duration(v, &p, RETRY_HORIZON) {
                        d.retry_horizon = t;
                    }
                }
                "allow_private_networks" => {
                    if let Some(b) = self.boolean(v, &p) {
                        d.allow_private_networks = b;
                    }
                }
                "deny_cidrs" => {
                    d.deny_cidrs = Vec::new();
                    for (i, (s, line)) in self.strings(v, &p).into_iter().enumerate() {
                        match Cidr::parse(&s) {
                            Ok(c) => d.deny_cidrs.push(c),
                            Err(e) => self.error(line, &format!("{p}[{i}]"), e),
                        }
                    }
                }
                "proxy" => {
                    if let Some(u) = self.opt_string(v, &p) {
                        let ok = u.is_empty()
                            || url::Url::parse(&u).is_ok_and(|x| {
                                matches!(x.scheme(), "http" | "https" | "socks5" | "socks5h")
                                    && x.host().is_some()
                            });
                        if ok {
                            d.proxy = u;
                        } else {
                            self.error(v.line, &p, "must be an http://, https:// or socks5:// URL");
                        }
                    }
                }
                "backoff" => {
                    let Some(entries) = self.map(v, &p, &["initial", "max"]) else {
                        continue;
                    };
                    for (bk, bv) in entries {
                        let bp = join(&p, &bk.text);
                        if let Some(t) = self.bounded_duration(bv, &bp, BACKOFF) {
                            if bk.text == "initial" {
                                d.backoff.initial = t;
                            } else {
                                d.backoff.max = t;
                            }
                        }
                    }
                    if d.backoff.initial > d.backoff.max {
                        self.error(v.line, &p, "backoff.initial is longer than backoff.max");
                    }
                }
                _ => {}
            }
        }
    }

    fn catalog(&mut self, node: &Node, c: &mut CatalogConfig) {
        let Some(entries) = self.map(node, "catalog", &["severity_map"]) else {
            return;
        };
        for (_, v) in entries {
            let Value::Map(pairs) = &v.value else {
                self.error(
                    v.line,
                    "catalog.severity_map",
                    format!("expected a map, found {}", v.kind()),
                );
                continue;
            };
            for (k, lv) in pairs {
                let p = format!("catalog.severity_map.{}", k.text);
                if let Some(s) = self.string(lv, &p) {
                    match Level::parse(&s) {
                        Some(l) => {
                            c.severity_map.insert(k.text.to_ascii_lowercase(), l);
                        }
                        None => self.error(
                            lv.line,
                            &p,
                            format!("`{s}` is not a level (critical, warn, info)"),
                        ),
                    }
                }
            }
        }
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

    fn sources(&mut self, node: &Node) -> Vec<Source> {
        let mut out: Vec<Source> = Vec::new();
        let mut names = Vec::new();
        for (i, item) in self.list_items(node, "sources").into_iter().enumerate() {
            let p = format!("sources[{i}]");
            let Some(entries) = self.map(item, &p, &["name", "product", "items"]) else {
                continue;
            };
            let (name, name_line) = self.name(&entries, item.line, &p);
            names.push((name.clone(), name_line, p.clone()));
            let mut src = Source {
                name,
                product: "Sas".into(),
                items: BTreeMap::new(),
                line: item.line,
            };
            let mut product_line = item.line;
            for (k, v) in entries {
                let kp = join(&p, &k.text);
                match k.text.as_str() {
                    "product" => {
                        product_line = v.line;
                        if let Some(s) = self.string(v, &kp) {
                            if s.trim().is_empty() {
                                self.error(v.line, &kp, "must not be empty");
                            } else {
                                src.product = s;
                            }
                        }
                    }
                    "items" => {
                        let Value::Map(pairs) = &v.value else {
                            if v.value != Value::Null {
                                self.error(
                                    v.line,
                                    &kp,
                                    format!("expected a map, found {}", v.kind()),
                                );
                            }
                            continue;
                        };
                        for (ik, iv) in pairs {
                            let ip = join(&kp, &ik.text);
                            let Some(it) = Item::from_key(&ik.text) else {
                                let valid: Vec<&str> = Item::ALL.iter().map(|i| i.key()).collect();
                                self.error(
                                    ik.line,
                                    &ip,
                                    format!(
                                        "unknown item `{}` (items: {})",
                                        ik.text,
                                        valid.join(", ")
                                    ),
                                );
                                continue;
                            };
                            let mut sw = ItemSwitch {
                                details: true,
                                overview: true,
                            };
                            if let Some(switches) = self.map(iv, &ip, &["details", "overview"]) {
                                for (sk, sv) in switches {
                                    if let Some(b) = self.boolean(sv, &join(&ip, &sk.text)) {
                                        if sk.text == "details" {
                                            sw.details = b;
                                        } else {
                                            sw.overview = b;
                                        }
                                    }
                                }
                            }
                            src.items.insert(it, sw);
                        }
                    }
                    _ => {}
                }
            }
            if let Some(first) = out
                .iter()
                .find(|s| crate::catalog::same_product(&s.product, &src.product))
            {
                self.error(
                    product_line,
                    &join(&p, "product"),
                    format!(
                        "product `{}` already has a source (`{}`)",
                        src.product, first.name
                    ),
                );
            }
            out.push(src);
        }
        self.unique("source", &names);
        out
    }

    fn contacts(&mut self, node: &Node) -> Vec<Contact> {
        let mut out = Vec::new();
        let mut names = Vec::new();
        let keys = [
            "name",
            "channel",
            "webhook",
            "headers",
            "secret",
            "concurrency",
            "rate_limit",
            "rate_limit_rest",
            "keywords",
            "mentions",
            "lang",
            "timezone",
            "template",
        ];
        for (i, item) in self.list_items(node, "contacts").into_iter().enumerate() {
            let p = format!("contacts[{i}]");
            let Some(entries) = self.map(item, &p, &keys) else {
                continue;
            };
            let (name, name_line) = self.name(&entries, item.line, &p);
            names.push((name.clone(), name_line, p.clone()));
            let mut c = Contact {
                name,
                channel: Channel::Webhook,
                webhook: String::new(),
                headers: Vec::new(),
                secret: String::new(),
                concurrency: 4,
                rate_limit_rest: None,
                rate_limit: Vec::new(),
                keywords: Vec::new(),
                mentions: Mentions::default(),
                lang: Lang::En,
                timezone: DEFAULT_TIMEZONE.to_string(),
                template: None,
                line: item.line,
            };
            let mut template_node: Option<(usize, &Node)> = None;
            let mut has_channel = false;
            let mut has_webhook = false;
            for (k, v) in &entries {
                let kp = join(&p, &k.text);
                match k.text.as_str() {
                    "channel" => {
                        has_channel = true;
                        if let Some(ch) = self.string(v, &kp) {
                            match Channel::parse(&ch) {
                                Some(channel) => c.channel = channel,
                                None => self.error(
                                    v.line,
                                    &kp,
                                    format!("unknown channel `{ch}`; expected one of webhook, lark, wecom, dingtalk, slack"),
                                ),
                            }
                        }
                    }
                    "webhook" => {
                        has_webhook = true;
                        if let Some(u) = self.string(v, &kp) {
                            match http_url(&u) {
                                Some(_) => c.webhook = u,
                                None => self.error(
                                    v.line,
                                    &kp,
                                    "must be an http:// or https:// URL with a host",
                                ),
                            }
                        }
                    }
                    "secret" => c.secret = self.opt_string(v, &kp).unwrap_or_default(),
                    "template" => match &v.value {
                        Value::Str(t) if !t.trim().is_empty() => {
                            c.template = Some(t.clone());
                            template_node = Some((k.line, v));
                        }
                        Value::Str(_) => self.error(v.line, &kp, "the template is empty"),
                        _ => self.error(
                            v.line,
                            &kp,
                            format!(
                                "expected a string (a YAML block scalar `|`), found {}",
                                v.kind()
                            ),
                        ),
                    },
                    "headers" => {
                        let Value::Map(pairs) = &v.value else {
                            if v.value != Value::Null {
                                self.error(
                                    v.line,
                                    &kp,
                                    format!("expected a map, found {}", v.kind()),
                                );
                            }
                            continue;
                        };
                        for (hk, hv) in pairs {
                            let hp = join(&kp, &hk.text);
                            let Some(val) = self.string(hv, &hp) else {
                                continue;
                            };
                            let lower = hk.text.to_ascii_lowercase();
                            if reqwest::header::HeaderName::from_bytes(hk.text.as_bytes()).is_err()
                            {
                                self.error(hk.line, &hp, "not a valid header name");
                            } else if ["content-type", "content-length", "host"]
                                .contains(&lower.as_str())
                                || lower.starts_with("x-tocsin-")
                            {
                                self.error(hk.line, &hp, "Tocsin sets this header itself");
                            } else if let Some((first, _)) = c
                                .headers
                                .iter()
                                .find(|(n, _)| n.eq_ignore_ascii_case(&hk.text))
                            {
                                self.error(
                                    hk.line,
                                    &hp,
                                    format!("header `{first}` is given twice"),
                                );
                            } else if reqwest::header::HeaderValue::from_str(&val).is_err() {
                                self.error(
                                    hv.line,
                                    &hp,
                                    "not a valid header value (control characters?)",
                                );
                            } else {
                                c.headers.push((hk.text.clone(), val));
                            }
                        }
                    }
                    "concurrency" => match &v.value {
                        Value::Int(n) if (1..=256).contains(n) => {
                            c.concurrency = usize::try_from(*n).unwrap_or(1)
                        }
                        _ => self.error(v.line, &kp, "must be a whole number from 1 to 256"),
                    },
                    "rate_limit_rest" => {
                        c.rate_limit_rest = self.bounded_duration(v, &kp, RATE_LIMIT_REST);
                    }
                    "rate_limit" => {
                        for (j, (s, line)) in self.strings(v, &kp).into_iter().enumerate() {
                            match parse_rate(&s) {
                                Ok(r) => c.rate_limit.push(r),
                                Err(e) => self.error(line, &format!("{kp}[{j}]"), e),
                            }
                        }
                    }
                    "keywords" => {
                        c.keywords = self.strings(v, &kp).into_iter().map(|k| k.0).collect();
                        if c.keywords.len() > 10 {
                            self.error(v.line, &kp, "at most 10 keywords (the platforms allow 10)");
                        }
                    }
                    "lang" => {
                        if let Some(l) = self.string(v, &kp) {
                            match l.as_str() {
                                "en" => c.lang = Lang::En,
                                "zh" => c.lang = Lang::Zh,
                                _ => self.error(
                                    v.line,
                                    &kp,
                                    format!("`{l}` is not a language (en, zh)"),
                                ),
                            }
                        }
                    }
                    "timezone" => {
                        if let Some(tz) = self.string(v, &kp) {
                            if jiff::tz::TimeZone::get(&tz).is_ok() {
                                c.timezone = tz;
                            } else {
                                self.error(v.line, &kp, format!("`{tz}` is not a known IANA time zone (e.g. Asia/Shanghai, UTC)"));
                            }
                        }
                    }
                    "mentions" => {
                        let Some(ms) = self.map(v, &kp, &["users", "mobiles", "all", "levels"])
                        else {
                            continue;
                        };
                        for (mk, mv) in ms {
                            let mp = join(&kp, &mk.text);
                            match mk.text.as_str() {
                                "users" => {
                                    c.mentions.users =
                                        self.strings(mv, &mp).into_iter().map(|x| x.0).collect()
                                }
                                "mobiles" => {
                                    for (j, (m, line)) in
                                        self.strings(mv, &mp).into_iter().enumerate()
                                    {
                                        if m.chars()
                                            .all(|ch| ch.is_ascii_digit() || ch == '+' || ch == '-')
                                        {
                                            c.mentions.mobiles.push(m);
                                        } else {
                                            self.error(
                                                line,
                                                &format!("{mp}[{j}]"),
                                                "a mobile number has only digits, + and -",
                                            );
                                        }
                                    }
                                }
                                "all" => c.mentions.all = self.boolean(mv, &mp).unwrap_or(false),
                                "levels" => {
                                    for (j, (l, line)) in
                                        self.strings(mv, &mp).into_iter().enumerate()
                                    {
                                        match Level::parse(&l) {
                                            Some(level) => c.mentions.levels.push(level),
                                            None => self.error(
                                                line,
                                                &format!("{mp}[{j}]"),
                                                format!(
                                                    "`{l}` is not a level (critical, warn, info)"
                                                ),
                                            ),
                                        }
                                    }
                                }
                                _ => {}
                            }
                        }
                        for (j, u) in c.mentions.users.iter().enumerate() {
                            if u.chars()
                                .any(|ch| ch.is_whitespace() || "<>\"&|@".contains(ch))
                            {
                                let line = v.line;
                                self.error(line, &format!("{kp}.users[{j}]"), "a user id has no spaces or <>\"&|@ (write `all: true` for everyone)");
                            }
                        }
                    }
                    _ => {}
                }
            }
            if !has_channel {
                self.error(
                    item.line,
                    &p,
                    "`channel` is required (webhook, lark, wecom, dingtalk, slack)",
                );
            }
            if !has_webhook {
                self.error(item.line, &p, "`webhook` is required");
            }
            if let Some((key_line, v)) = template_node {
                self.template(&c, key_line, v, &join(&p, "template"));
            }
            out.push(c);
        }
        self.unique("contact", &names);
        out
    }

    /// Checks a contact's template: chat platforms only, compiles, renders
    /// a sample alert; warns when it may leave out every keyword.
    fn template(&mut self, c: &Contact, key_line: usize, v: &Node, path: &str) {
        let Some(source) = &c.template else {
            return;
        };
        if c.channel == Channel::Webhook {
            self.error(
                key_line,
                path,
                "templates apply to chat platforms; the webhook sends Tocsin's JSON",
            );
            return;
        }
        if let Err(p) = crate::template_check::check(source, &c.name, c.lang.as_str(), &c.timezone)
        {
            // A block scalar (`|`, `>`) starts on the line after its key.
            let block = self
                .text
                .lines()
                .nth(key_line.saturating_sub(1))
                .and_then(|l| l.split_once(':').map(|(_, rest)| rest.trim_start()))
                .is_some_and(|rest| rest.starts_with('|') || rest.starts_with('>'));
            let line = match p.line {
                Some(l) if block => key_line + l,
                Some(l) => v.line + l - 1,
                None => key_line,
            };
            self.error(line, path, p.message);
            return;
        }
        if let Some(first) = c.keywords.first()
            && !c.keywords.iter().any(|k| source.contains(k.as_str()))
        {
            self.warn(
                key_line,
                path,
                format!("the template may produce messages without any of the keywords; Tocsin adds `{first}` to the footer of such messages"),
            );
        }
    }

    fn groups(&mut self, node: &Node) -> Vec<ContactGroup> {
        let mut out = Vec::new();
        let mut names = Vec::new();
        for (i, item) in self
            .list_items(node, "contact_groups")
            .into_iter()
            .enumerate()
        {
            let p = format!("contact_groups[{i}]");
            let Some(entries) = self.map(item, &p, &["name", "contacts"]) else {
                continue;
            };
            let (name, name_line) = self.name(&entries, item.line, &p);
            names.push((name.clone(), name_line, p.clone()));
            let contacts = entries
                .iter()
                .find(|(k, _)| k.text == "contacts")
                .map(|(_, v)| self.strings(v, &join(&p, "contacts")))
                .unwrap_or_default();
            out.push((
                ContactGroup {
                    name,
                    contacts: contacts.iter().map(|c| c.0.clone()).collect(),
                    line: item.line,
                },
                contacts,
            ));
        }
        self.unique("contact group", &names);
        self.refs.extend(
            out.iter()
                .enumerate()
                .flat_map(|(i, (_, refs))| {
                    refs.iter().enumerate().map(move |(j, (name, line))| Ref {
                        kind: RefKind::Contact,
                        name: name.clone(),
                        line: *line,
                        path: format!("contact_groups[{i}].contacts[{j}]"),
                    })
                })
                .collect::<Vec<_>>(),
        );
        out.into_iter().map(|(g, _)| g).collect()
    }

    fn policies(&mut self, node: &Node) -> Vec<NotificationPolicy> {
        let mut out = Vec::new();
        let mut names = Vec::new();
        for (i, item) in self
            .list_items(node, "notification_policies")
            .into_iter()
            .enumerate()
        {
            let p = format!("notification_policies[{i}]");
            let Some(entries) = self.map(
                item,
                &p,
                &["name", "contact_groups", "active_hours", "outside_hours"],
            ) else {
                continue;
            };
            let mut active_hours = None;
            let mut outside_hours = OutsideHours::Hold;
            for (k, v) in &entries {
                let kp = join(&p, &k.text);
                match k.text.as_str() {
                    "active_hours" => active_hours = self.active_hours(v, &kp),
                    "outside_hours" => match self.string(v, &kp).as_deref() {
                        Some("hold") => outside_hours = OutsideHours::Hold,
                        Some("critical_only") => outside_hours = OutsideHours::CriticalOnly,
                        Some(other) => self.error(
                            v.line,
                            &kp,
                            format!("`{other}` is not one of hold, critical_only"),
                        ),
                        None => {}
                    },
                    _ => {}
                }
            }
            let (name, name_line) = self.name(&entries, item.line, &p);
            names.push((name.clone(), name_line, p.clone()));
            let groups = entries
                .iter()
                .find(|(k, _)| k.text == "contact_groups")
                .map(|(_, v)| self.strings(v, &join(&p, "contact_groups")))
                .unwrap_or_default();
            for (j, (g, line)) in groups.iter().enumerate() {
                self.refs.push(Ref {
                    kind: RefKind::Group,
                    name: g.clone(),
                    line: *line,
                    path: format!("{p}.contact_groups[{j}]"),
                });
            }
            out.push(NotificationPolicy {
                name,
                contact_groups: groups.into_iter().map(|g| g.0).collect(),
                active_hours,
                outside_hours,
                line: item.line,
            });
        }
        self.unique("notification policy", &names);
        out
    }

    /// `digest: { schedule: "0 10 * * 4", timezone: Asia/Shanghai }` (both optional).
    fn digest(&mut self, node: &Node, path: &str) -> Option<DigestSchedule> {
        let entries = self.map(node, path, &["schedule", "timezone"])?;
        let mut schedule = DEFAULT_DIGEST_SCHEDULE.to_string();
        let mut timezone = DEFAULT_TIMEZONE.to_string();
        let mut ok = true;
        for (k, v) in entries {
            let kp = join(path, &k.text);
            let Some(text) = self.string(v, &kp) else {
                ok = false;
                continue;
            };
            if k.text == "schedule" {
                if let Err(e) = crate::route::schedule::Cron::parse(&text) {
                    self.error(v.line, &kp, e);
                    ok = false;
                }
                schedule = text;
            } else if jiff::tz::TimeZone::get(&text).is_ok() {
                timezone = text;
            } else {
                self.error(
                    v.line,
                    &kp,
                    format!("`{text}` is not a known IANA time zone"),
                );
                ok = false;
            }
        }
        let cron = crate::route::schedule::Cron::parse(&schedule).ok()?;
        ok.then_some(DigestSchedule { cron, timezone })
    }

    /// `active_hours: { timezone, weekdays: [mon, tue], start: "09:00", end: "18:00" }`.
    fn active_hours(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Option<crate::route::schedule::ActiveHours> {
        use crate::route::schedule::{parse_clock, parse_weekday};
        let entries = self.map(node, path, &["timezone", "weekdays", "start", "end"])?;
        let mut h = crate::route::schedule::ActiveHours {
            timezone: DEFAULT_TIMEZONE.to_string(),
            weekdays: Vec::new(),
            start_min: 0,
            end_min: 24 * 60,
        };
        let mut ok = true;
        for (k, v) in entries {
            let kp = join(path, &k.text);
            match k.text.as_str() {
                "timezone" => match self.string(v, &kp) {
                    Some(tz) if jiff::tz::TimeZone::get(&tz).is_ok() => h.timezone = tz,
                    Some(tz) => {
                        self.error(v.line, &kp, format!("`{tz}` is not a known IANA time zone"));
                        ok = false;
                    }
                    None => ok = false,
                },
                "weekdays" => {
                    for (j, (d, line)) in self.strings(v, &kp).into_iter().enumerate() {
                        match parse_weekday(&d) {
                            Some(w) => h.weekdays.push(w),
                            None => {
                                self.error(
                                    line,
                                    &format!("{kp}[{j}]"),
                                    format!("`{d}` is not a weekday (mon, tue, ...)"),
                                );
                                ok = false;
                            }
                        }
                    }
                }
                "start" | "end" => match self
                    .string(v, &kp)
                    .as_deref()
                    .map(|t| (t.to_string(), parse_clock(t)))
                {
                    Some((_, Some(m))) if k.text == "start" && m < 24 * 60 => h.start_min = m,
                    Some((_, Some(m))) if k.text == "end" => h.end_min = m,
                    Some((t, _)) => {
                        self.error(v.line, &kp, format!("`{t}` is not a time of day (HH:MM)"));
                        ok = false;
                    }
                    None => ok = false,
                },
                _ => {}
            }
        }
        if h.start_min == h.end_min {
            self.error(
                node.line,
                path,
                "start and end are the same: the hours would never open",
            );
            ok = false;
        }
        ok.then_some(h)
    }

    fn subscriptions(&mut self, node: &Node) -> Vec<Subscription> {
        let mut out = Vec::new();
        let mut names = Vec::new();
        let keys = [
            "name",
            "products",
            "event_types",
            "event_names",
            "levels",
            "deny_list",
            "groups",
            "resources",
            "content_keywords",
            "notification_policy",
            "merge_window",
            "merge_by",
            "min_occurrences",
            "silence",
            "digest",
            "template",
        ];
        for (i, item) in self
            .list_items(node, "subscriptions")
            .into_iter()
            .enumerate()
        {
            let p = format!("subscriptions[{i}]");
            let Some(entries) = self.map(item, &p, &keys) else {
                continue;
            };
            let (name, name_line) = self.name(&entries, item.line, &p);
            names.push((name.clone(), name_line, p.clone()));
            let mut s = Subscription {
                name,
                products: Vec::new(),
                event_types: Vec::new(),
                event_names: Vec::new(),
                levels: Vec::new(),
                deny_list: false,
                groups: Vec::new(),
                resources: Vec::new(),
                content_keywords: Vec::new(),
                notification_policy: String::new(),
                merge_window: None,
                merge_by: Vec::new(),
                min_occurrences: 1,
                silence: None,
                digest: None,
                template: None,
                line: item.line,
            };
            let mut policy_seen = false;
            for (k, v) in &entries {
                let kp = join(&p, &k.text);
                let list = |cx: &mut Self| {
                    cx.strings(v, &kp)
                        .into_iter()
                        .map(|x| x.0)
                        .collect::<Vec<_>>()
                };
                match k.text.as_str() {
                    "products" => s.products = list(self),
                    "event_types" => s.event_types = list(self),
                    "event_names" => s.event_names = list(self),
                    "groups" => s.groups = list(self),
                    "resources" => s.resources = list(self),
                    "content_keywords" => s.content_keywords = list(self),
                    "levels" => {
                        for (j, (l, line)) in self.strings(v, &kp).into_iter().enumerate() {
                            match Level::parse(&l) {
                                Some(level) if !s.levels.contains(&level) => s.levels.push(level),
                                Some(_) => {}
                                None => self.error(
                                    line,
                                    &format!("{kp}[{j}]"),
                                    format!("`{l}` is not a level (critical, warn, info)"),
                                ),
                            }
                        }
                    }
                    "deny_list" => s.deny_list = self.boolean(v, &kp).unwrap_or(false),
                    "notification_policy" => {
                        policy_seen = true;
                        if let Some(name) = self.string(v, &kp) {
                            self.refs.push(Ref {
                                kind: RefKind::Policy,
                                name: name.clone(),
                                line: v.line,
                                path: kp.clone(),
                            });
                            s.notification_policy = name;
                        }
                    }
                    "merge_window" => s.merge_window = self.bounded_duration(v, &kp, MERGE_WINDOW),
                    "digest" => s.digest = self.digest(v, &kp),
                    "template" => match &v.value {
                        Value::Str(t) if !t.trim().is_empty() => {
                            // Checked like a chat contact's template.
                            let probe = probe_contact(t.clone());
                            self.template(&probe, k.line, v, &kp);
                            s.template = Some(t.clone());
                        }
                        _ => self.error(v.line, &kp, "expected a template (a non-empty string)"),
                    },
                    "silence" => s.silence = self.bounded_duration(v, &kp, SILENCE),
                    "min_occurrences" => match &v.value {
                        Value::Int(n) if (1..=1_000_000).contains(n) => {
                            s.min_occurrences = u32::try_from(*n).unwrap_or(u32::MAX)
                        }
                        _ => self.error(v.line, &kp, "must be a whole number of at least 1"),
                    },
                    "merge_by" => {
                        let keys = self.strings(v, &kp);
                        if keys.len() > 5 {
                            self.error(v.line, &kp, "at most 5 keys");
                        }
                        for (j, (key, line)) in keys.into_iter().enumerate() {
                            if is_identity_key(&key) {
                                s.merge_by.push(key);
                            } else {
                                self.error(
                                    line,
                                    &format!("{kp}[{j}]"),
                                    format!("`{key}` is not an event field (product, event_type, name, level, resource, instance, region, group, status) or content.<path>"),
                                );
                            }
                        }
                    }
                    _ => {}
                }
            }
            if !policy_seen {
                self.error(item.line, &p, "`notification_policy` is required");
            }
            if s.deny_list && s.event_names.is_empty() && s.levels.is_empty() {
                self.error(
                    item.line,
                    &p,
                    "a deny list needs event_names or levels to deny",
                );
            }
            out.push(s);
        }
        self.unique("subscription", &names);
        out
    }

    /// Dangling references are errors; unused objects are warnings.
    fn references(&mut self, c: &Config) {
        let refs = std::mem::take(&mut self.refs);
        for r in &refs {
            let (exists, what) = match r.kind {
                RefKind::Contact => (c.contacts.iter().any(|x| x.name == r.name), "contact"),
                RefKind::Group => (
                    c.contact_groups.iter().any(|x| x.name == r.name),
                    "contact group",
                ),
                RefKind::Policy => (
                    c.notification_policies.iter().any(|x| x.name == r.name),
                    "notification policy",
                ),
            };
            if !exists {
                self.error(r.line, &r.path, format!("no {what} named `{}`", r.name));
            }
        }
        let used =
            |kind: RefKind, name: &str| refs.iter().any(|r| r.kind == kind && r.name == name);
        for (i, x) in c.contacts.iter().enumerate() {
            if !used(RefKind::Contact, &x.name) {
                self.warn(
                    x.line,
                    &format!("contacts[{i}]"),
                    format!("contact `{}` is in no contact group", x.name),
                );
            }
        }
        for (i, x) in c.contact_groups.iter().enumerate() {
            if !used(RefKind::Group, &x.name) {
                self.warn(
                    x.line,
                    &format!("contact_groups[{i}]"),
                    format!(
                        "contact group `{}` is used by no notification policy",
                        x.name
                    ),
                );
            }
        }
        for (i, x) in c.notification_policies.iter().enumerate() {
            if !used(RefKind::Policy, &x.name) {
                self.warn(
                    x.line,
                    &format!("notification_policies[{i}]"),
                    format!(
                        "notification policy `{}` is used by no subscription",
                        x.name
                    ),
                );
            }
        }
    }
}

/// A `merge_by` key: an event field, or `content.<path>` (dots between keys).
pub fn is_identity_key(key: &str) -> bool {
    const FIELDS: [&str; 9] = [
        "product",
        "event_type",
        "name",
        "level",
        "resource",
        "instance",
        "region",
        "group",
        "status",
    ];
    FIELDS.contains(&key)
        || key
            .strip_prefix("content.")
            .is_some_and(|p| !p.is_empty() && p.split('.').all(|seg| !seg.is_empty()))
}

/// A chat contact that only serves to check a subscription's template.
fn probe_contact(template: String) -> Contact {
    Contact {
        name: "(subscription template)".into(),
        channel: Channel::Lark,
        webhook: String::new(),
        headers: Vec::new(),
        secret: String::new(),
        concurrency: 1,
        rate_limit_rest: None,
        rate_limit: Vec::new(),
        keywords: Vec::new(),
        mentions: Mentions::default(),
        lang: Lang::En,
        timezone: DEFAULT_TIMEZONE.to_string(),
        template: Some(template),
        line: 0,
    }
}

fn valid_listen(s: &str) -> bool {
    if s.parse::<std::net::SocketAddr>().is_ok() {
        return true;
    }
    match s.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && port.parse::<u16>().is_ok()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        }
        None => false,
    }
}

fn http_url(s: &str) -> Option<url::Url> {
    url::Url::parse(s.trim()).ok().filter(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// `100/1m`, `5/1s`.
fn parse_rate(s: &str) -> Result<RateLimit, String> {
    let (count, per) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not COUNT/DURATION (e.g. 20/1m)"))?;
    let count: u32 = count
        .trim()
        .parse()
        .ok()
        .filter(|c| *c >= 1)
        .ok_or_else(|| format!("`{s}`: the count must be a whole number of at least 1"))?;
    let per = parse_duration(per.trim()).map_err(|e| format!("`{s}`: {e}"))?;
    if per.is_zero() {
        return Err(format!("`{s}`: the window must be longer than 0"));
    }
    if let Some(problem) = out_of_bounds(per, RATE_WINDOW) {
        return Err(format!("`{s}`: the window {problem}"));
    }
    Ok(RateLimit { count, per })
}

#[cfg(test)]
mod tests;
