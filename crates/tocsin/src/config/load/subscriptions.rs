//! The `subscriptions` section and the references between objects.

use super::*;

impl Cx<'_> {
    pub(super) fn subscriptions(&mut self, node: &Node) -> Vec<Subscription> {
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
            "exclude",
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
                exclude: Vec::new(),
                notification_policy: String::new(),
                merge_window: None,
                merge_by: Vec::new(),
                min_occurrences: 1,
                silence: None,
                digest: None,
                template: None,
                line: item.line,
                lines: entries
                    .iter()
                    .map(|(k, v)| (k.text.clone(), v.line))
                    .collect(),
            };
            let mut policy_seen = false;
            let mut deny_list_line = item.line;
            for (k, v) in &entries {
                let kp = join(&p, &k.text);
                // The items, each line kept as `KEY[j]`.
                let list = |cx: &mut Self, lines: &mut KeyLines| {
                    cx.strings(v, &kp)
                        .into_iter()
                        .enumerate()
                        .map(|(j, (x, line))| {
                            lines.insert(format!("{}[{j}]", k.text), line);
                            x
                        })
                        .collect::<Vec<_>>()
                };
                match k.text.as_str() {
                    "products" => s.products = list(self, &mut s.lines),
                    "event_types" => s.event_types = list(self, &mut s.lines),
                    "event_names" => s.event_names = list(self, &mut s.lines),
                    "groups" => s.groups = list(self, &mut s.lines),
                    "resources" => s.resources = list(self, &mut s.lines),
                    "content_keywords" => s.content_keywords = list(self, &mut s.lines),
                    "levels" => s.levels = self.levels(v, &kp),
                    "exclude" => s.exclude = self.exclude(v, &kp),
                    "deny_list" => {
                        deny_list_line = k.line;
                        s.deny_list = self.boolean(v, &kp).unwrap_or(false);
                    }
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
            if s.deny_list && !s.levels.is_empty() {
                self.deny_list_with_levels(&s, deny_list_line, &p);
            }
            out.push(s);
        }
        self.unique("subscription", &names);
        out
    }

    pub(super) fn levels(&mut self, v: &Node, kp: &str) -> Vec<Level> {
        let mut out = Vec::new();
        for (j, (l, line)) in self.strings(v, kp).into_iter().enumerate() {
            match Level::parse(&l) {
                Some(level) if !out.contains(&level) => out.push(level),
                Some(_) => {}
                None => self.error(
                    line,
                    &format!("{kp}[{j}]"),
                    format!("`{l}` is not a level (critical, warn, info)"),
                ),
            }
        }
        out
    }

    /// `exclude: [{event_names?, event_types?, levels?, resources?, groups?,
    /// content_keywords?}, ...]`.
    fn exclude(&mut self, node: &Node, path: &str) -> Vec<ExcludeRule> {
        const KEYS: [&str; 6] = [
            "event_names",
            "event_types",
            "levels",
            "resources",
            "groups",
            "content_keywords",
        ];
        let mut out = Vec::new();
        for (i, item) in self.list_items(node, path).into_iter().enumerate() {
            let p = format!("{path}[{i}]");
            let problems_before = self.diags.len();
            let Some(entries) = self.map(item, &p, &KEYS) else {
                continue;
            };
            let mut rule = ExcludeRule {
                line: item.line,
                ..Default::default()
            };
            for (k, v) in &entries {
                let kp = join(&p, &k.text);
                let list = |cx: &mut Self| {
                    cx.strings(v, &kp)
                        .into_iter()
                        .map(|x| x.0)
                        .collect::<Vec<_>>()
                };
                match k.text.as_str() {
                    "event_names" => rule.event_names = list(self),
                    "event_types" => rule.event_types = list(self),
                    "levels" => rule.levels = self.levels(v, &kp),
                    "resources" => rule.resources = list(self),
                    "groups" => rule.groups = list(self),
                    "content_keywords" => rule.content_keywords = list(self),
                    _ => {}
                }
            }
            // Empty, and not because a key was refused already.
            if rule.describe().is_empty() && self.diags.len() == problems_before {
                self.error(
                    item.line,
                    &p,
                    format!(
                        "an exclude entry needs at least one of {} (an empty entry would drop every event)",
                        KEYS.join(", ")
                    ),
                );
                continue;
            }
            out.push(rule);
        }
        out
    }

    /// The cloud monitor's blacklist semantics (deny when name and level
    /// both match) are rarely what `deny_list` plus `levels` is meant to
    /// say: name what the subscription will really send, and the rule that
    /// says "these levels, except these names".
    fn deny_list_with_levels(&mut self, s: &Subscription, line: usize, path: &str) {
        let levels: Vec<&str> = s.levels.iter().map(|l| l.as_str()).collect();
        let others: Vec<&str> = Level::ALL
            .iter()
            .filter(|l| !s.levels.contains(l))
            .map(|l| l.as_str())
            .collect();
        let message = if s.event_names.is_empty() {
            format!(
                "deny_list: true with levels [{}] drops every {} event and sends the rest ({}); to send only {}, drop deny_list and list those levels",
                levels.join(", "),
                levels.join(" and "),
                if others.is_empty() {
                    "nothing".to_string()
                } else {
                    format!("every {} event", others.join(" and "))
                },
                if others.is_empty() {
                    "some levels".to_string()
                } else {
                    others.join(" and ")
                },
            )
        } else {
            let names: Vec<String> = s.event_names.iter().map(|n| format!("{n:?}")).collect();
            format!(
                "deny_list: true with levels drops only {} events whose name matches event_names and sends everything else{}; to send {} except those names, write `levels: [{}]` and `exclude: [{{event_names: [{}]}}]` without deny_list",
                levels.join(" and "),
                if others.is_empty() {
                    String::new()
                } else {
                    format!(" ({} events of every name included)", others.join(" and "))
                },
                levels.join(" and "),
                levels.join(", "),
                names.join(", "),
            )
        };
        self.warn(line, &format!("{path}.deny_list"), message);
    }

    /// Dangling references are errors; unused objects are warnings.
    pub(super) fn references(&mut self, c: &Config) {
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
