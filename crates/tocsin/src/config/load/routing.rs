//! The `contact_groups` and `notification_policies` sections (digests, active hours).

use super::*;

impl Cx<'_> {
    pub(super) fn groups(&mut self, node: &Node) -> Vec<ContactGroup> {
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

    pub(super) fn policies(&mut self, node: &Node) -> Vec<NotificationPolicy> {
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
    pub(super) fn digest(&mut self, node: &Node, path: &str) -> Option<DigestSchedule> {
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
                if let Err(e) = crate::schedule::Cron::parse(&text) {
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
        let cron = crate::schedule::Cron::parse(&schedule).ok()?;
        // A schedule whose fields never meet (the 30th of February) would
        // collect events into a digest that never goes out. Loading stays
        // pure: the search starts at a fixed date, and years are searched
        // far enough for leap days.
        const SINCE_2026_MS: i64 = 1_767_225_600_000;
        let tz = jiff::tz::TimeZone::get(&timezone).unwrap_or(jiff::tz::TimeZone::UTC);
        if ok && cron.next_after(SINCE_2026_MS, &tz).is_none() {
            self.error(
                node.line,
                &join(path, "schedule"),
                format!("`{schedule}` never fires (its day of month and month never meet); events collected for it would never be sent"),
            );
            ok = false;
        }
        ok.then_some(DigestSchedule { cron, timezone })
    }

    /// `active_hours: { timezone, weekdays: [mon, tue], start: "09:00", end: "18:00" }`.
    pub(super) fn active_hours(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Option<crate::schedule::ActiveHours> {
        use crate::schedule::{parse_clock, parse_weekday};
        let entries = self.map(node, path, &["timezone", "weekdays", "start", "end"])?;
        let mut h = crate::schedule::ActiveHours {
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
}
