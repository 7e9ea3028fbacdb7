//! The `silences` section: time-bounded mutes of the events their matchers
//! select (made by hand in the file, or through the management API, which
//! turns a `duration` into `ends_at`).

use super::*;

const KEYS: [&str; 6] = [
    "name",
    "matchers",
    "starts_at",
    "ends_at",
    "duration",
    "comment",
];
const MATCHERS: [&str; 5] = [
    "products",
    "event_types",
    "event_names",
    "levels",
    "resources",
];

impl Cx<'_> {
    pub(super) fn silences(&mut self, node: &Node) -> Vec<Silence> {
        let mut out = Vec::new();
        let mut names = Vec::new();
        for (i, item) in self.list_items(node, "silences").into_iter().enumerate() {
            let p = format!("silences[{i}]");
            let Some(entries) = self.map(item, &p, &KEYS) else {
                continue;
            };
            let (name, name_line) = self.name(&entries, item.line, &p);
            names.push((name.clone(), name_line, p.clone()));
            let mut s = Silence {
                name,
                products: Vec::new(),
                event_types: Vec::new(),
                event_names: Vec::new(),
                levels: Vec::new(),
                resources: Vec::new(),
                starts_ms: None,
                ends_ms: 0,
                comment: String::new(),
                line: item.line,
            };
            let mut ends: Option<(i64, usize)> = None;
            let mut duration: Option<(Duration, usize)> = None;
            let mut has_matchers = false;
            for (k, v) in &entries {
                let kp = join(&p, &k.text);
                match k.text.as_str() {
                    "matchers" => {
                        let Some(ms) = self.map(v, &kp, &MATCHERS) else {
                            has_matchers = true;
                            continue;
                        };
                        for (mk, mv) in ms {
                            let mp = join(&kp, &mk.text);
                            let list = |cx: &mut Self| -> Vec<String> {
                                cx.strings(mv, &mp).into_iter().map(|(x, _)| x).collect()
                            };
                            match mk.text.as_str() {
                                "products" => s.products = list(self),
                                "event_types" => s.event_types = list(self),
                                "event_names" => s.event_names = list(self),
                                "resources" => s.resources = list(self),
                                "levels" => s.levels = self.levels(mv, &mp),
                                _ => {}
                            }
                        }
                        has_matchers = !(s.products.is_empty()
                            && s.event_types.is_empty()
                            && s.event_names.is_empty()
                            && s.levels.is_empty()
                            && s.resources.is_empty());
                    }
                    "starts_at" => s.starts_ms = self.timestamp(v, &kp),
                    "ends_at" => ends = self.timestamp(v, &kp).map(|t| (t, v.line)),
                    "duration" => duration = self.duration(v, &kp).map(|d| (d, v.line)),
                    "comment" => s.comment = self.opt_string(v, &kp).unwrap_or_default(),
                    _ => {}
                }
            }
            if !has_matchers {
                self.error(
                    item.line,
                    &join(&p, "matchers"),
                    "a silence needs at least one matcher (products, event_types, event_names, levels or resources): one with none would silence every event",
                );
            }
            match (ends, duration, s.starts_ms) {
                (Some(_), Some((_, line)), _) => self.error(
                    line,
                    &join(&p, "duration"),
                    "give either `ends_at` or `duration`, not both",
                ),
                (Some((t, _)), None, _) => s.ends_ms = t,
                (None, Some((d, _)), Some(start)) => {
                    s.ends_ms = start.saturating_add(crate::duration_ms(d));
                }
                (None, Some((_, line)), None) => self.error(
                    line,
                    &join(&p, "duration"),
                    "a `duration` in the file needs `starts_at` (or give `ends_at`)",
                ),
                (None, None, _) => self.error(
                    item.line,
                    &join(&p, "ends_at"),
                    "`ends_at` or `duration` is required",
                ),
            }
            if let (Some(start), Some((end, line))) = (s.starts_ms, ends)
                && end <= start
            {
                self.error(line, &join(&p, "ends_at"), "must be after `starts_at`");
            }
            out.push(s);
        }
        self.unique("silence", &names);
        out
    }

    /// An RFC 3339 time (`2026-12-03T18:00:00Z`), as Unix ms.
    fn timestamp(&mut self, node: &Node, path: &str) -> Option<i64> {
        let s = self.string(node, path)?;
        match s.trim().parse::<jiff::Timestamp>() {
            Ok(t) => Some(t.as_millisecond()),
            Err(e) => {
                self.error(
                    node.line,
                    path,
                    format!("expected an RFC 3339 time like 2026-12-03T18:00:00Z: {e}"),
                );
                None
            }
        }
    }
}
