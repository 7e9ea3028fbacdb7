//! The `server`, `store`, `delivery` and `catalog` sections.

use super::*;

impl Cx<'_> {
    pub(super) fn server(&mut self, node: &Node, s: &mut ServerConfig) {
        let keys = [
            "listen",
            "data_dir",
            "api_token",
            "ingest_token",
            "max_body",
            "public_url",
            "header_timeout",
            "body_timeout",
            "idle_timeout",
            "max_connections",
            "max_concurrent_ingest",
            "tls",
            "allow_unauthenticated",
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
                "header_timeout" => {
                    if let Some(d) = self.bounded_duration(v, &p, HEADER_TIMEOUT) {
                        s.header_timeout = d;
                    }
                }
                "body_timeout" => {
                    if let Some(d) = self.bounded_duration(v, &p, BODY_TIMEOUT) {
                        s.body_timeout = d;
                    }
                }
                "idle_timeout" => {
                    if let Some(d) = self.bounded_duration(v, &p, IDLE_TIMEOUT) {
                        s.idle_timeout = d;
                    }
                }
                "max_connections" => {
                    if let Some(n) = self.bounded_count(v, &p, MAX_CONNECTIONS) {
                        s.max_connections = Some(n);
                    }
                }
                "max_concurrent_ingest" => {
                    if let Some(n) = self.bounded_count(v, &p, MAX_CONCURRENT_INGEST) {
                        s.max_concurrent_ingest = n;
                    }
                }
                "tls" => s.tls = self.tls(v, &p, k.line),
                "allow_unauthenticated" => {
                    if let Some(b) = self.boolean(v, &p) {
                        s.allow_unauthenticated = b;
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

    /// `server.tls: {cert, key, client_ca?}`: the files are read here, so
    /// `check` and a reload find a missing or broken one at its key.
    fn tls(&mut self, node: &Node, path: &str, key_line: usize) -> Option<crate::tls::TlsSettings> {
        let entries = self.map(node, path, &["cert", "key", "client_ca"])?;
        let mut files: HashMap<&str, (PathBuf, usize)> = HashMap::new();
        for (k, v) in entries {
            let p = join(path, &k.text);
            if let Some(f) = self.string(v, &p) {
                if f.trim().is_empty() {
                    self.error(v.line, &p, "must name a PEM file");
                } else {
                    files.insert(k.text.as_str(), (PathBuf::from(f), v.line));
                }
            }
        }
        let mut missing = false;
        for required in ["cert", "key"] {
            if !files.contains_key(required) {
                self.error(
                    key_line,
                    path,
                    format!("`{required}` is required (a PEM file)"),
                );
                missing = true;
            }
        }
        if missing {
            return None;
        }
        let (cert, key) = (&files["cert"].0, &files["key"].0);
        let client_ca = files.get("client_ca").map(|(f, _)| f.as_path());
        match crate::tls::load(cert, key, client_ca) {
            Ok(t) => Some(t),
            Err(e) => {
                let line = files.get(e.key).map_or(key_line, |(_, l)| *l);
                self.error(line, &join(path, e.key), e.message);
                None
            }
        }
    }

    pub(super) fn store(&mut self, node: &Node, s: &mut StoreConfig) {
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

    pub(super) fn delivery(&mut self, node: &Node, d: &mut DeliveryConfig) {
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

    pub(super) fn catalog(&mut self, node: &Node, c: &mut CatalogConfig) {
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
