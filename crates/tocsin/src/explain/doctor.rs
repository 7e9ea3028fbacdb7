//! `tocsin doctor`: the "I'm not receiving alerts" checklist, walked over a
//! whole config (and, with `--live`, through every contact). Pure analysis
//! of the config; the live part goes through the same test message as
//! `test-contact`. `tocsin check` runs the same offline findings, each at
//! its place in the file (see [`diagnostics`]).

use crate::catalog;
use crate::config::{Channel, Config, Contact, Diagnostic, KeyLines, Subscription};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Alerts would be lost or never sent.
    Error,
    /// Worth a look; nothing is lost.
    Warning,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Machine-readable: see [`FINDING_CODES`].
    pub code: &'static str,
    /// The object: `subscriptions[name]`, `contacts[name]`.
    pub object: String,
    pub message: String,
    /// Where in the config file: its line (0: not a place in the file) and
    /// its path in the file's own form (`contacts[3].webhook`,
    /// `subscriptions[2].event_types[0]`).
    pub line: usize,
    pub path: String,
    /// The config certainly cannot work here: every send fails, whatever
    /// the platform's or the bot's settings. `tocsin check` reports only
    /// these as errors; the rest are warnings there (the config works, and
    /// the finding may be what the user meant).
    pub certain: bool,
}

pub const FINDING_CODES: [&str; 14] = [
    "quarantined_requests",
    "rate_limit_exceeded",
    "switch_off_for_all_event_types",
    "levels_exclude_everything",
    "unknown_event_name",
    "unknown_event_type",
    "contact_unreachable",
    "keywords_unknown",
    "secret_looks_wrong",
    "secret_missing",
    "webhook_wrong_shape",
    "webhook_other_platform",
    "webhook_address_refused",
    "live_test_failed",
];

fn finding(severity: Severity, code: &'static str, object: String, message: String) -> Finding {
    Finding {
        severity,
        code,
        object,
        message,
        line: 0,
        path: String::new(),
        certain: false,
    }
}

impl Finding {
    /// The place in the file.
    pub fn at(mut self, line: usize, path: String) -> Finding {
        self.line = line;
        self.path = path;
        self
    }

    fn certain(mut self) -> Finding {
        self.certain = true;
        self
    }
}

/// The line of `key` inside an object (its own line when the key is absent).
fn line_of(lines: &KeyLines, key: &str, object_line: usize) -> usize {
    lines.get(key).copied().unwrap_or(object_line)
}

fn covers_sas(s: &Subscription) -> bool {
    s.products.is_empty()
        || s.products
            .iter()
            .any(|p| catalog::canonical_product(p) == catalog::SAS)
}

fn only_sas(s: &Subscription) -> bool {
    !s.products.is_empty()
        && s.products
            .iter()
            .all(|p| catalog::canonical_product(p) == catalog::SAS)
}

/// Edit distance (Levenshtein, ASCII case ignored).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest of `known` to `word` when it is a near miss (a typo or a
/// case slip): at most 1 edit for words of up to 4 letters, 2 beyond.
fn near_miss<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let limit = if word.chars().count() <= 4 { 1 } else { 2 };
    known
        .iter()
        .copied()
        .filter(|k| *k != word)
        .map(|k| (distance(word, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn check_subscription(c: &Config, i: usize, s: &Subscription, out: &mut Vec<Finding>) {
    let obj = format!("subscriptions[{}]", s.name);
    let at = |key: &str| {
        let path = format!("subscriptions[{i}]");
        match key {
            "" => (s.line, path),
            _ => (line_of(&s.lines, key, s.line), format!("{path}.{key}")),
        }
    };
    let place = |f: Finding, key: &str| {
        let (line, path) = at(key);
        f.at(line, path)
    };
    // Levels: an allow list always allows what it lists; a deny list with
    // every level and no names excludes everything.
    if s.deny_list && s.event_names.is_empty() && s.levels.len() == 3 {
        out.push(place(finding(
            Severity::Error,
            "levels_exclude_everything",
            obj.clone(),
            format!("{} denies every level (critical, warn, info) and names no event: it can never match; remove a level or `deny_list: true`", s.name),
        ), "levels"));
    }
    if only_sas(s) {
        // Event types of items whose switch is off. An error for doctor
        // (certain: routing applies exactly this switch, so none of the
        // events the subscription asks for is ever sent) but not `certain`
        // for `check`: the switch is an explicit setting in the same file,
        // often a deliberate pause of an item, the config works as written
        // and each stopped event is recorded with its reason in the history.
        let stopped: Vec<&str> = s
            .event_types
            .iter()
            .map(String::as_str)
            .filter(|t| crate::route::push_switch(c, catalog::SAS, t).is_some())
            .collect();
        if !s.event_types.is_empty() && stopped.len() == s.event_types.len() {
            out.push(place(finding(
                Severity::Error,
                "switch_off_for_all_event_types",
                obj.clone(),
                format!(
                    "{} only takes event types whose push switch is off ({}): it can never match; turn the switches on in `sources`",
                    s.name,
                    stopped.join(", ")
                ),
            ), "event_types"));
        } else if !stopped.is_empty() {
            out.push(place(
                finding(
                    Severity::Warning,
                    "switch_off_for_all_event_types",
                    obj.clone(),
                    format!(
                        "{}: the push switch is off for {}; turn it on in `sources` to receive them",
                        s.name,
                        stopped.join(", ")
                    ),
                ),
                "event_types",
            ));
        }
    }
    let types = catalog::EVENT_TYPES;
    for (j, t) in s.event_types.iter().enumerate() {
        if catalog::item_of(t).is_some() {
            continue;
        }
        let key = format!("event_types[{j}]");
        let hint = near_miss(t, &types);
        // A subscription of the security product alone: a type outside the
        // catalog; of every product: only a near miss of a catalog type (other
        // products have types of their own).
        let message = match (hint, only_sas(s)) {
            (Some(h), _) => format!(
                "{}: event type {t:?} is not one the security product sends; did you mean {h:?}?",
                s.name
            ),
            (None, true) => format!(
                "{}: event type {t:?} is not one the security product sends; use one of {}",
                s.name,
                types.join(", ")
            ),
            (None, false) => continue,
        };
        let severity = if only_sas(s) {
            Severity::Error
        } else {
            Severity::Warning
        };
        out.push(place(
            finding(severity, "unknown_event_type", obj.clone(), message),
            &key,
        ));
    }
    if covers_sas(s) {
        for (j, n) in s.event_names.iter().enumerate() {
            let key = format!("event_names[{j}]");
            if n.starts_with('*') {
                continue;
            }
            let (prefix, suffix) = n.split_once(':').unwrap_or((n, ""));
            let prefixes = catalog::EVENT_NAME_PREFIXES;
            let message = if !prefixes.contains(&prefix) {
                match (near_miss(prefix, &prefixes), only_sas(s)) {
                    (Some(h), _) => format!(
                        "{}: event name {n:?} does not look like one the security product sends; did you mean {:?}?",
                        s.name,
                        format!("{h}:{suffix}")
                    ),
                    (None, true) if !is_glob(prefix) => format!(
                        "{}: event name {n:?} does not look like one the security product sends (e.g. Incident:BruteForce); names start with one of {}",
                        s.name,
                        prefixes.join(", ")
                    ),
                    _ => continue,
                }
            } else if suffix.is_empty() || is_glob(suffix) {
                continue;
            } else {
                // The catalog's names are the common ones, not all: a name
                // outside it is only reported when it is a near miss.
                let names = catalog::event_names_of(prefix);
                if names.contains(&suffix) {
                    continue;
                }
                match near_miss(suffix, names) {
                    Some(h) => format!(
                        "{}: event name {n:?} is not in the catalog; did you mean {:?}?",
                        s.name,
                        format!("{prefix}:{h}")
                    ),
                    None => continue,
                }
            };
            out.push(place(
                finding(
                    Severity::Warning,
                    "unknown_event_name",
                    obj.clone(),
                    message,
                ),
                &key,
            ));
        }
    }
}

/// The official host of each chat platform's webhooks.
fn platform_host(host: &str) -> Option<Channel> {
    match host.to_ascii_lowercase().as_str() {
        "open.feishu.cn" | "open.larksuite.com" => Some(Channel::Lark),
        "qyapi.weixin.qq.com" => Some(Channel::Wecom),
        "oapi.dingtalk.com" => Some(Channel::Dingtalk),
        "hooks.slack.com" => Some(Channel::Slack),
        "discord.com" | "discordapp.com" | "ptb.discord.com" | "canary.discord.com" => {
            Some(Channel::Discord)
        }
        "api.telegram.org" => Some(Channel::Telegram),
        "events.pagerduty.com" | "events.eu.pagerduty.com" => Some(Channel::Pagerduty),
        _ => None,
    }
}

/// The platform a webhook URL belongs to: by its host, else by a path only
/// that platform's webhooks have.
fn platform_of(u: &url::Url) -> Option<Channel> {
    if let Some(p) = u.host_str().and_then(platform_host) {
        return Some(p);
    }
    let path = u.path();
    let query = u.query().unwrap_or("");
    if path.starts_with("/open-apis/bot/v2/hook/") {
        Some(Channel::Lark)
    } else if path.ends_with("/cgi-bin/webhook/send") && query.contains("key=") {
        Some(Channel::Wecom)
    } else if path.ends_with("/robot/send") && query.contains("access_token=") {
        Some(Channel::Dingtalk)
    } else if discord_webhook_path(path) {
        Some(Channel::Discord)
    } else if teams_workflow_path(path) && query.contains("sig=") {
        Some(Channel::Teams)
    } else if telegram_path(path) {
        Some(Channel::Telegram)
    } else {
        None
    }
}

/// The hosts of Teams Workflows webhooks: Logic Apps' regional hosts and
/// Power Platform environments (both also serve flows that are not
/// Teams').
fn teams_host(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h.ends_with(".logic.azure.com") || h.ends_with(".api.powerplatform.com")
}

/// The retired Office 365 connector webhooks' hosts.
fn teams_connector_host(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h.ends_with(".webhook.office.com") || h == "outlook.office.com" || h == "outlook.office365.com"
}

/// `…/workflows/{id}/triggers/{trigger}/paths/invoke` (Logic Apps'
/// `/workflows/…` or Power Platform's
/// `/powerautomate/automations/direct/workflows/…`).
fn teams_workflow_path(path: &str) -> bool {
    let Some((_, rest)) = path.split_once("/workflows/") else {
        return false;
    };
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    matches!(parts.as_slice(), [id, "triggers", trigger, "paths", "invoke"] if !id.is_empty() && !trigger.is_empty())
}

/// `/api/webhooks/{id}/{token}`, also with an API version
/// (`/api/v10/webhooks/…`); the id is a number.
fn discord_webhook_path(path: &str) -> bool {
    let rest = path.strip_prefix("/api/").unwrap_or("");
    let rest = match rest.split_once('/') {
        Some((v, r))
            if v.len() > 1 && v.starts_with('v') && v[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            r
        }
        _ => rest,
    };
    let mut parts = rest.trim_end_matches('/').split('/');
    parts.next() == Some("webhooks")
        && parts
            .next()
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        && parts.next().is_some_and(|t| !t.is_empty())
        && parts.next().is_none()
}

/// `/bot<bot id>:<key>/sendMessage`, under any prefix (an `api_base` with
/// a path, such as a local Bot API server's).
fn telegram_path(path: &str) -> bool {
    let Some(rest) = path.strip_suffix("/sendMessage") else {
        return false;
    };
    let last = rest.rsplit('/').next().unwrap_or("");
    last.strip_prefix("bot")
        .and_then(|t| t.split_once(':'))
        .is_some_and(|(id, key)| {
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && !key.is_empty()
        })
}

/// The URL shape each platform's webhooks have.
fn webhook_shape(channel: Channel, u: &url::Url) -> Option<&'static str> {
    let path = u.path();
    let query = u.query().unwrap_or("");
    let ok = match channel {
        Channel::Webhook => true,
        Channel::Lark => {
            path.starts_with("/open-apis/bot/v2/hook/")
                && path.len() > "/open-apis/bot/v2/hook/".len()
        }
        Channel::Wecom => path.ends_with("/cgi-bin/webhook/send") && query.contains("key="),
        Channel::Dingtalk => path.ends_with("/robot/send") && query.contains("access_token="),
        Channel::Slack => path.starts_with("/services/") && path.matches('/').count() >= 4,
        Channel::Discord => discord_webhook_path(path),
        Channel::Teams => teams_workflow_path(path) && query.contains("sig="),
        Channel::Telegram => telegram_path(path),
        // The Events API v2 endpoint (its path is the same under a relay).
        Channel::Pagerduty => path.trim_end_matches('/').ends_with("/v2/enqueue"),
    };
    (!ok).then_some(match channel {
        Channel::Lark => "https://open.feishu.cn/open-apis/bot/v2/hook/<hook id>",
        Channel::Wecom => "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=<key>",
        Channel::Dingtalk => "https://oapi.dingtalk.com/robot/send?access_token=<token>",
        Channel::Slack => "https://hooks.slack.com/services/T…/B…/…",
        Channel::Discord => "https://discord.com/api/webhooks/<id>/<token>",
        Channel::Teams => {
            "https://<region>.logic.azure.com/workflows/<id>/triggers/manual/paths/invoke?api-version=2016-06-01&sp=…&sv=1.0&sig=<signature>"
        }
        Channel::Telegram => "https://api.telegram.org/bot<token>/sendMessage",
        Channel::Pagerduty => "https://events.pagerduty.com/v2/enqueue",
        Channel::Webhook => "",
    })
}

/// Why every send to this webhook is refused by the egress rules, judged on
/// the URL alone (a literal address, or `localhost`); names are checked at
/// connect time only.
fn refused_address(c: &Config, u: &url::Url) -> Option<String> {
    let ip = match u.host()? {
        url::Host::Ipv4(v4) => std::net::IpAddr::V4(v4),
        url::Host::Ipv6(v6) => std::net::IpAddr::V6(v6),
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            let loopback = d == "localhost" || d.ends_with(".localhost");
            return (loopback && !c.delivery.allow_private_networks).then(|| {
                format!(
                    "the host `{d}` is a loopback name and delivery.allow_private_networks is false: every send to this webhook is refused; set delivery.allow_private_networks: true or use the bot's public URL"
                )
            });
        }
    };
    let refused = crate::notify::egress::EgressPolicy::from_config(&c.delivery)
        .check(ip)
        .err()?;
    // The private-range refusal names its own fix.
    let fix = if refused.why.contains("allow_private_networks") {
        ""
    } else {
        "; point the webhook at the bot's own address"
    };
    Some(format!(
        "every send to this webhook is refused: {ip} {}{fix}",
        refused.why
    ))
}

fn check_contact(c: &Config, i: usize, contact: &Contact, out: &mut Vec<Finding>) {
    let obj = format!("contacts[{}]", contact.name);
    let place = |f: Finding, key: &str| {
        let path = format!("contacts[{i}]");
        match key {
            "" => f.at(contact.line, path),
            _ => f.at(
                line_of(&contact.lines, key, contact.line),
                format!("{path}.{key}"),
            ),
        }
    };
    let ch = contact.channel.as_str();
    // Telegram's URL is built from `api_base` (and the token); PagerDuty's
    // is its `url`.
    let url_key = match contact.channel {
        Channel::Telegram => "api_base",
        Channel::Pagerduty => "url",
        _ => "webhook",
    };
    if let Ok(u) = url::Url::parse(&contact.webhook) {
        if let Some(why) = refused_address(c, &u) {
            out.push(
                place(
                    finding(
                        Severity::Error,
                        "webhook_address_refused",
                        obj.clone(),
                        format!("{}: {why}", contact.name),
                    ),
                    url_key,
                )
                .certain(),
            );
        }
        let connector =
            contact.channel == Channel::Teams && u.host_str().is_some_and(teams_connector_host);
        match platform_of(&u) {
            // A generic webhook may well feed a flow of its own.
            Some(Channel::Teams) if contact.channel == Channel::Webhook => {}
            _ if connector => out.push(place(
                finding(
                    Severity::Warning,
                    "webhook_connector_retired",
                    obj.clone(),
                    format!(
                        "{}: this is an Office 365 connector webhook, which Microsoft is retiring; create a Teams Workflows webhook (\"Post to a channel when a webhook request is received\") and use its URL",
                        contact.name
                    ),
                ),
                "webhook",
            )),
            Some(p) if p != contact.channel => out.push(
                place(
                    finding(
                        Severity::Error,
                        "webhook_other_platform",
                        obj.clone(),
                        format!(
                            "{}: the webhook URL is a {} bot's but the contact says `channel: {ch}`, so the platform refuses every message; set `channel: {}` or use the {ch} bot's URL",
                            contact.name,
                            p.as_str(),
                            p.as_str()
                        ),
                    ),
                    url_key,
                )
                .certain(),
            ),
            _ => {
                if let Some(shape) = webhook_shape(contact.channel, &u) {
                    // On the platform's own host a wrong path certainly
                    // fails; elsewhere (a relay, a test bot) it may not.
                    let own_host = u.host_str().and_then(platform_host) == Some(contact.channel)
                        || (contact.channel == Channel::Teams
                            && u.host_str().is_some_and(teams_host));
                    let f = place(
                        finding(
                            Severity::Error,
                            "webhook_wrong_shape",
                            obj.clone(),
                            format!(
                                "{}: the webhook URL does not have the shape of a {ch} bot ({shape}); copy the URL from the bot's settings",
                                contact.name,
                            ),
                        ),
                        url_key,
                    );
                    out.push(if own_host { f.certain() } else { f });
                }
            }
        }
    }
    match contact.channel {
        Channel::Dingtalk if !contact.secret.is_empty() && !contact.secret.starts_with("SEC") => out.push(place(finding(
            Severity::Warning,
            "secret_looks_wrong",
            obj.clone(),
            format!("{}: DingTalk signing secrets start with SEC; is this the robot's secret?", contact.name),
        ), "secret")),
        Channel::Lark | Channel::Dingtalk if contact.secret.is_empty() && contact.keywords.is_empty() => out.push(place(finding(
            Severity::Warning,
            "secret_missing",
            obj.clone(),
            format!(
                "{}: no signing secret and no keywords: if the bot has either security setting on, every message will be refused",
                contact.name
            ),
        ), "")),
        _ => {}
    }
    if matches!(contact.channel, Channel::Lark | Channel::Dingtalk) && contact.keywords.is_empty() {
        out.push(place(finding(
            Severity::Warning,
            "keywords_unknown",
            obj.clone(),
            format!(
                "{}: no `keywords`: if the bot has custom keywords, messages without one are refused (Lark 19024, DingTalk 310000); list the bot's keywords so every message carries one",
                contact.name
            ),
        ), ""));
    }
    if contact.secret.chars().any(char::is_whitespace) {
        out.push(place(
            finding(
                Severity::Error,
                "secret_looks_wrong",
                obj.clone(),
                format!(
                    "{}: the secret contains white space (a copy-paste slip?); copy it again from the bot's settings",
                    contact.name
                ),
            ),
            "secret",
        ));
    }
    // Reached by a subscription?
    let groups: Vec<&str> = c
        .contact_groups
        .iter()
        .filter(|g| g.contacts.contains(&contact.name))
        .map(|g| g.name.as_str())
        .collect();
    let policies: Vec<&str> = c
        .notification_policies
        .iter()
        .filter(|p| {
            p.contact_groups
                .iter()
                .any(|g| groups.contains(&g.as_str()))
        })
        .map(|p| p.name.as_str())
        .collect();
    let reached = c
        .subscriptions
        .iter()
        .any(|s| policies.contains(&s.notification_policy.as_str()));
    let on_failure = c
        .delivery
        .on_failure
        .as_deref()
        .is_some_and(|g| groups.contains(&g));
    if !reached && !on_failure {
        out.push(place(
            finding(
                Severity::Warning,
                "contact_unreachable",
                obj,
                format!(
                    "{}: no subscription leads to this contact; add it to a contact group of a subscription's policy",
                    contact.name
                ),
            ),
            "",
        ));
    }
}

/// The checklist over a whole config, in file order of the objects.
pub fn check(c: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, s) in c.subscriptions.iter().enumerate() {
        check_subscription(c, i, s, &mut out);
    }
    for (i, contact) in c.contacts.iter().enumerate() {
        check_contact(c, i, contact, &mut out);
    }
    out
}

/// The offline findings as `check` prints them: `FILE:LINE: PATH: message`,
/// errors only for what certainly cannot work (see [`Finding::certain`]).
pub fn diagnostics(file: &str, c: &Config) -> Vec<Diagnostic> {
    check(c)
        .into_iter()
        .map(|f| Diagnostic {
            file: file.to_string(),
            line: f.line,
            path: f.path,
            message: f.message,
            warning: !f.certain,
        })
        .collect()
}

/// `serve` starts and reloads with such configs (the egress rules refuse
/// the sends, and the history says so): the findings are logged once, all as
/// warnings.
pub fn log_findings(file: &str, c: &Config) {
    for mut d in diagnostics(file, c) {
        d.warning = true;
        tracing::warn!("{d}");
    }
}

/// Rate limits the recent history would have exceeded: routes the stored
/// events with this config and finds, per contact, the busiest window of
/// each of its bot's limits.
pub fn rate_findings(c: &Config, events: &[crate::event::Event]) -> Vec<Finding> {
    let table = crate::route::RoutingTable::compile(c);
    let mut times: std::collections::HashMap<String, Vec<i64>> = Default::default();
    for e in events {
        for n in table.route(c, e).notices {
            times.entry(n.contact).or_default().push(e.received_ms);
        }
    }
    let mut out = Vec::new();
    for (i, contact) in c.contacts.iter().enumerate() {
        let Some(ts) = times.get_mut(&contact.name) else {
            continue;
        };
        ts.sort_unstable();
        for limit in crate::notify::effective_rate(contact) {
            let window = crate::duration_ms(limit.per);
            let (mut peak, mut peak_at, mut lo) = (0usize, 0i64, 0usize);
            for hi in 0..ts.len() {
                while ts[hi] - ts[lo] >= window {
                    lo += 1;
                }
                if hi + 1 - lo > peak {
                    peak = hi + 1 - lo;
                    peak_at = ts[lo];
                }
            }
            if peak > limit.count as usize {
                out.push(finding(
                    Severity::Warning,
                    "rate_limit_exceeded",
                    format!("contacts[{}]", contact.name),
                    format!(
                        "{}: {peak} events within {} from {} — over its bot's budget of {} ({}); Tocsin folds such bursts into digests; a merge_window or stricter subscription would send fewer",
                        contact.name,
                        crate::domain::humanize(limit.per),
                        crate::timefmt::rfc3339(peak_at),
                        limit.count,
                        contact.channel.as_str()
                    ),
                ).at(contact.line, format!("contacts[{i}]")));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;

    fn findings(yaml: &str) -> Vec<(Severity, &'static str, String)> {
        let l = load_str(yaml, "d.yaml", &|_| None);
        let c = l.config.unwrap_or_else(|| panic!("{:?}", l.diagnostics));
        check(&c)
            .into_iter()
            .map(|f| (f.severity, f.code, f.object))
            .collect()
    }

    const BASE: &str = "contacts:\n  - { name: a, channel: webhook, webhook: \"https://h/x\" }\ncontact_groups:\n  - { name: g, contacts: [a] }\nnotification_policies:\n  - { name: p, contact_groups: [g] }\n";

    #[test]
    fn subscriptions_that_can_never_match() {
        let f = findings(&format!(
            "{BASE}sources:\n  - name: sc\n    items:\n      alert: {{ details: false }}\nsubscriptions:\n  - {{ name: alerts, products: [Sas], event_types: [Suspicious], notification_policy: p }}\n  - {{ name: deny-all, levels: [critical, warn, info], deny_list: true, notification_policy: p }}\n  - {{ name: typo, products: [Sas], event_types: [Incidnt], event_names: [\"Incidnt:*\"], notification_policy: p }}\n"
        ));
        assert!(
            f.contains(&(
                Severity::Error,
                "switch_off_for_all_event_types",
                "subscriptions[alerts]".into()
            )),
            "{f:?}"
        );
        assert!(
            f.contains(&(
                Severity::Error,
                "levels_exclude_everything",
                "subscriptions[deny-all]".into()
            )),
            "{f:?}"
        );
        assert!(
            f.contains(&(
                Severity::Error,
                "unknown_event_type",
                "subscriptions[typo]".into()
            )),
            "{f:?}"
        );
        assert!(
            f.contains(&(
                Severity::Warning,
                "unknown_event_name",
                "subscriptions[typo]".into()
            )),
            "{f:?}"
        );
    }

    #[test]
    fn contacts() {
        let f = findings(
            "contacts:\n  - { name: l, channel: lark, webhook: \"https://open.feishu.cn/x\" }\n  - { name: d, channel: dingtalk, webhook: \"https://oapi.dingtalk.com/robot/send?access_token=t\", secret: nope, keywords: [alert] }\n  - { name: w, channel: wecom, webhook: \"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k\" }\ncontact_groups:\n  - { name: g, contacts: [l, d] }\nnotification_policies:\n  - { name: p, contact_groups: [g] }\nsubscriptions:\n  - { name: s, notification_policy: p }\n",
        );
        assert!(
            f.contains(&(Severity::Error, "webhook_wrong_shape", "contacts[l]".into())),
            "{f:?}"
        );
        assert!(
            f.contains(&(Severity::Warning, "keywords_unknown", "contacts[l]".into())),
            "{f:?}"
        );
        assert!(
            f.contains(&(
                Severity::Warning,
                "secret_looks_wrong",
                "contacts[d]".into()
            )),
            "{f:?}"
        );
        assert!(
            f.contains(&(
                Severity::Warning,
                "contact_unreachable",
                "contacts[w]".into()
            )),
            "{f:?}"
        );
        assert!(
            !f.iter()
                .any(|x| x.2 == "contacts[w]" && x.1 == "webhook_wrong_shape"),
            "{f:?}"
        );
    }
}

#[cfg(test)]
mod located_tests {
    use super::*;
    use crate::config::load_str;

    /// (certain, code, line, path, message) of each finding.
    fn located(yaml: &str) -> Vec<(bool, &'static str, usize, String, String)> {
        let l = load_str(yaml, "c.yaml", &|_| None);
        let c = l.config.unwrap_or_else(|| panic!("{:?}", l.diagnostics));
        check(&c)
            .into_iter()
            .map(|f| (f.certain, f.code, f.line, f.path, f.message))
            .collect()
    }

    fn one<'f>(
        f: &'f [(bool, &'static str, usize, String, String)],
        code: &str,
        path: &str,
    ) -> &'f (bool, &'static str, usize, String, String) {
        f.iter()
            .find(|x| x.1 == code && x.3 == path)
            .unwrap_or_else(|| panic!("no {code} at {path} in {f:#?}"))
    }

    const ROUTES: &str = "contact_groups:\n  - { name: g, contacts: [a] }\nnotification_policies:\n  - { name: p, contact_groups: [g] }\nsubscriptions:\n  - { name: s, notification_policy: p }\n";

    fn contact(webhook: &str, channel: &str, delivery: &str) -> String {
        format!(
            "{delivery}contacts:\n  - name: a\n    channel: {channel}\n    keywords: [k]\n    webhook: \"{webhook}\"\n{ROUTES}"
        )
    }

    #[test]
    fn literal_private_and_loopback_addresses_are_certain_failures() {
        for (url, shown) in [
            ("http://127.0.0.1:9/x", "127.0.0.1"),
            ("http://10.0.0.5/x", "10.0.0.5"),
            ("http://192.168.1.1/x", "192.168.1.1"),
            ("http://[::1]:8080/x", "::1"),
            ("http://[fe80::1]/x", "fe80::1"),
            ("http://[fd12::1]/x", "fd12::1"),
            ("http://[::ffff:127.0.0.1]/x", "::ffff:127.0.0.1"),
            ("http://[::ffff:10.0.0.5]/x", "::ffff:10.0.0.5"),
            ("http://2130706433/x", "127.0.0.1"),
        ] {
            let f = located(&contact(url, "webhook", ""));
            let x = one(&f, "webhook_address_refused", "contacts[0].webhook");
            assert!(x.0, "{url}: {x:?}");
            assert_eq!(x.2, 5, "{url}");
            assert!(
                x.4.contains(shown) && x.4.contains("allow_private_networks: true"),
                "{url}: {}",
                x.4
            );
        }
        let f = located(&contact("http://localhost:8080/x", "webhook", ""));
        let x = one(&f, "webhook_address_refused", "contacts[0].webhook");
        assert!(x.4.contains("`localhost`"), "{}", x.4);
        // Allowed: no finding. A public address or a name: none either.
        let open = "delivery:\n  allow_private_networks: true\n";
        for url in [
            "http://127.0.0.1:9/x",
            "http://10.0.0.5/x",
            "http://[::1]/x",
            "http://localhost/x",
        ] {
            let f = located(&contact(url, "webhook", open));
            assert!(
                !f.iter().any(|x| x.1 == "webhook_address_refused"),
                "{url}: {f:?}"
            );
        }
        for url in ["http://203.0.113.7/x", "https://hooks.internal.example/x"] {
            let f = located(&contact(url, "webhook", ""));
            assert!(
                !f.iter().any(|x| x.1 == "webhook_address_refused"),
                "{url}: {f:?}"
            );
        }
    }

    #[test]
    fn metadata_addresses_are_refused_whatever_the_setting() {
        let open = "delivery:\n  allow_private_networks: true\n";
        for url in [
            "http://169.254.169.254/latest",
            "http://100.100.100.200/x",
            "http://[::ffff:169.254.169.254]/x",
        ] {
            let f = located(&contact(url, "webhook", open));
            let x = one(&f, "webhook_address_refused", "contacts[0].webhook");
            assert!(x.0 && x.4.contains("metadata"), "{url}: {x:?}");
        }
        let deny = "delivery:\n  allow_private_networks: true\n  deny_cidrs: [203.0.113.0/24]\n";
        let f = located(&contact("http://203.0.113.9/x", "webhook", deny));
        let x = one(&f, "webhook_address_refused", "contacts[0].webhook");
        assert!(x.4.contains("deny_cidrs"), "{}", x.4);
    }

    #[test]
    fn a_url_of_another_platform_names_both_channels() {
        for (url, channel, belongs) in [
            (
                "https://open.feishu.cn/open-apis/bot/v2/hook/abc",
                "wecom",
                "lark",
            ),
            (
                "https://open.larksuite.com/open-apis/bot/v2/hook/abc",
                "dingtalk",
                "lark",
            ),
            (
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
                "lark",
                "wecom",
            ),
            (
                "https://oapi.dingtalk.com/robot/send?access_token=t",
                "slack",
                "dingtalk",
            ),
            (
                "https://hooks.slack.com/services/T1/B2/c3",
                "webhook",
                "slack",
            ),
            (
                "https://discord.com/api/webhooks/123/tok",
                "slack",
                "discord",
            ),
            (
                "https://relay.example/api/v10/webhooks/123/tok",
                "webhook",
                "discord",
            ),
            (
                "https://prod-01.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=s",
                "slack",
                "teams",
            ),
            (
                "https://api.telegram.org/bot1:x/sendMessage",
                "webhook",
                "telegram",
            ),
            // A relay keeping Telegram's path.
            (
                "https://relay.example/tg/bot123:AAH/sendMessage",
                "slack",
                "telegram",
            ),
            // A relay keeping Lark's path: Lark's shape, not WeCom's.
            (
                "https://relay.example/open-apis/bot/v2/hook/abc",
                "wecom",
                "lark",
            ),
        ] {
            let f = located(&contact(url, channel, ""));
            let x = one(&f, "webhook_other_platform", "contacts[0].webhook");
            assert!(x.0, "{url}");
            assert_eq!(x.2, 5);
            assert!(
                x.4.contains(&format!("a {belongs} bot's"))
                    && x.4.contains(&format!("`channel: {channel}`")),
                "{url}: {}",
                x.4
            );
            // One finding for the URL, not a wrong shape besides.
            assert!(!f.iter().any(|x| x.1 == "webhook_wrong_shape"), "{f:?}");
        }
        // `feishu` is Lark: its own URL is fine.
        let f = located(&contact(
            "https://open.feishu.cn/open-apis/bot/v2/hook/abc",
            "feishu",
            "",
        ));
        assert!(!f.iter().any(|x| x.1.starts_with("webhook_")), "{f:?}");
    }

    #[test]
    fn a_wrong_path_is_certain_only_on_the_platforms_own_host() {
        let f = located(&contact(
            "https://open.feishu.cn/open-apis/bot/v2/hook/",
            "lark",
            "",
        ));
        let x = one(&f, "webhook_wrong_shape", "contacts[0].webhook");
        assert!(x.0, "{x:?}");
        let f = located(&contact("https://relay.example/lark", "lark", ""));
        let x = one(&f, "webhook_wrong_shape", "contacts[0].webhook");
        assert!(!x.0, "{x:?}");
        // Discord: `/api/webhooks/{numeric id}/{token}`, with or without
        // an API version.
        for bad in [
            "https://discord.com/api/webhooks/123",
            "https://discord.com/api/webhooks/abc/tok",
            "https://discord.com/channels/1/2",
        ] {
            let f = located(&contact(bad, "discord", ""));
            let x = one(&f, "webhook_wrong_shape", "contacts[0].webhook");
            assert!(
                x.0 && x.4.contains("/api/webhooks/<id>/<token>"),
                "{bad}: {x:?}"
            );
        }
        // Teams Workflows: `…/workflows/<id>/triggers/<t>/paths/invoke?…&sig=`.
        for bad in [
            "https://prod-01.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01",
            "https://default1.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/abc?sig=s",
        ] {
            let f = located(&contact(bad, "teams", ""));
            let x = one(&f, "webhook_wrong_shape", "contacts[0].webhook");
            assert!(
                x.0 && x.4.contains("/triggers/manual/paths/invoke"),
                "{bad}: {x:?}"
            );
        }
        for good in [
            "https://prod-01.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=s",
            "https://default1.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=s",
        ] {
            let f = located(&contact(good, "teams", ""));
            assert!(
                !f.iter().any(|x| x.1.starts_with("webhook_")),
                "{good}: {f:?}"
            );
            // A generic webhook may feed a flow: no finding either.
            let f = located(&contact(good, "webhook", ""));
            assert!(
                !f.iter().any(|x| x.1.starts_with("webhook_")),
                "{good}: {f:?}"
            );
        }
        let f = located(&contact(
            "https://contoso.webhook.office.com/webhookb2/a/IncomingWebhook/b/c",
            "teams",
            "",
        ));
        let x = one(&f, "webhook_connector_retired", "contacts[0].webhook");
        assert!(!x.0, "{x:?}");
        for good in [
            "https://discord.com/api/webhooks/123/tok",
            "https://discord.com/api/v10/webhooks/123/tok",
            "https://discordapp.com/api/webhooks/123/tok",
        ] {
            let f = located(&contact(good, "discord", ""));
            assert!(
                !f.iter().any(|x| x.1.starts_with("webhook_")),
                "{good}: {f:?}"
            );
        }
    }

    #[test]
    fn subscription_findings_point_at_their_list_item() {
        let yaml = "contacts:\n  - { name: a, channel: webhook, webhook: \"https://h/x\" }\ncontact_groups:\n  - { name: g, contacts: [a] }\nnotification_policies:\n  - { name: p, contact_groups: [g] }\nsources:\n  - name: sc\n    items:\n      alert: { details: false }\nsubscriptions:\n  - { name: first, notification_policy: p }\n  - name: typos\n    notification_policy: p\n    event_types:\n      - Incident\n      - Incidents\n    event_names:\n      - \"Incident:BruteForse\"\n      - \"Incident:SomethingNew\"\n      - \"Incident:*\"\n      - \"Suspicous:UnusualLogon\"\n  - { name: stopped, products: [Sas], event_types: [Suspicious], notification_policy: p }\n  - { name: none, products: [aegis], event_types: [Bogus], notification_policy: p }\n";
        let f = located(yaml);
        let x = one(&f, "unknown_event_type", "subscriptions[1].event_types[1]");
        assert_eq!(x.2, 17);
        assert!(
            !x.0 && x.4.contains("did you mean \"Incident\"?"),
            "{}",
            x.4
        );
        let x = one(&f, "unknown_event_name", "subscriptions[1].event_names[0]");
        assert_eq!(x.2, 19);
        assert!(
            x.4.contains("\"Incident:BruteForse\"")
                && x.4.contains("did you mean \"Incident:BruteForce\"?"),
            "{}",
            x.4
        );
        let x = one(&f, "unknown_event_name", "subscriptions[1].event_names[3]");
        assert_eq!(x.2, 22);
        assert!(x.4.contains("\"Suspicious:UnusualLogon\""), "{}", x.4);
        // A name the catalog does not have and that is no near miss, a
        // pattern, a known type: nothing.
        for quiet in [
            "subscriptions[1].event_names[1]",
            "subscriptions[1].event_names[2]",
            "subscriptions[1].event_types[0]",
        ] {
            assert!(!f.iter().any(|x| x.3 == quiet), "{quiet}: {f:#?}");
        }
        let x = one(
            &f,
            "switch_off_for_all_event_types",
            "subscriptions[2].event_types",
        );
        assert_eq!(x.2, 23);
        assert!(!x.0 && x.4.contains("turn the switches on"), "{}", x.4);
        // Only the security product: any type outside the catalog, with the list.
        let x = one(&f, "unknown_event_type", "subscriptions[3].event_types[0]");
        assert_eq!(x.2, 24);
        assert!(x.4.contains("Suspicious, System-Baseline-cnt"), "{}", x.4);
        // Every finding of a loaded file has a place.
        assert!(f.iter().all(|x| x.2 > 0 && !x.3.is_empty()), "{f:#?}");
        // `check`'s form: all warnings here.
        let c = load_str(yaml, "c.yaml", &|_| None).config.unwrap();
        let d = diagnostics("c.yaml", &c);
        assert!(d.iter().all(|d| d.warning), "{d:#?}");
        assert!(
            d.iter().any(|d| d.to_string()
                == "warning: c.yaml:19: subscriptions[1].event_names[0]: typos: event name \"Incident:BruteForse\" is not in the catalog; did you mean \"Incident:BruteForce\"?"),
            "{d:#?}"
        );
    }

    #[test]
    fn contact_findings_point_at_their_key() {
        let f = located(
            "contacts:\n  - name: d\n    channel: dingtalk\n    webhook: \"https://oapi.dingtalk.com/robot/send?access_token=t\"\n    secret: \"SEC a\"\n  - { name: w, channel: wecom, webhook: \"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k\" }\n",
        );
        let x = one(&f, "secret_looks_wrong", "contacts[0].secret");
        assert_eq!(x.2, 5);
        assert_eq!(one(&f, "keywords_unknown", "contacts[0]").2, 2);
        assert_eq!(one(&f, "contact_unreachable", "contacts[1]").2, 6);
    }

    #[test]
    fn near_misses() {
        assert_eq!(distance("BruteForse", "bruteforce"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(
            near_miss("BruteForse", &["DDoS", "BruteForce"]),
            Some("BruteForce")
        );
        assert_eq!(near_miss("ddos", &["DDoS"]), Some("DDoS"));
        assert_eq!(near_miss("DDoS", &["DDoS"]), None);
        assert_eq!(near_miss("X", &["DDoS", "CVE"]), None);
        assert_eq!(near_miss("Burst", &["BruteForce", "DDoS"]), None);
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    #[test]
    fn a_burst_over_the_bots_budget_is_reported() {
        let yaml = "contacts:\n  - { name: w, channel: wecom, webhook: \"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k\" }\ncontact_groups:\n  - { name: g, contacts: [w] }\nnotification_policies:\n  - { name: p, contact_groups: [g] }\nsubscriptions:\n  - { name: s, notification_policy: p }\n";
        let c = crate::config::load_str(yaml, "d", &|_| None)
            .config
            .unwrap();
        let event = |i: i64| crate::event::Event {
            event_type: "Incident".into(),
            time_ms: i,
            received_ms: i,
            ..crate::event::Event::minimal(
                i.to_string(),
                "Sas",
                "Incident:X",
                crate::config::Level::Warn,
            )
        };
        // 18 within the window: within the budget (18 per 63 s).
        let calm: Vec<_> = (0..18).map(|i| event(i * 1000)).collect();
        assert!(rate_findings(&c, &calm).is_empty());
        let burst: Vec<_> = (0..30).map(|i| event(i * 1000)).collect();
        let f = rate_findings(&c, &burst);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "rate_limit_exceeded");
        assert!(
            f[0].message.contains("30 events within 63s"),
            "{}",
            f[0].message
        );
    }
}

/// Requests the server could not read (kept in the quarantine), per ingest
/// path: their alerts reached nobody.
pub fn quarantine_findings(requests: &[crate::store::QuarantinedRequest]) -> Vec<Finding> {
    // path → (requests, error → requests)
    let mut by_path: std::collections::BTreeMap<
        &str,
        (u64, std::collections::BTreeMap<&str, u64>),
    > = Default::default();
    for r in requests {
        let (total, errors) = by_path.entry(r.path.as_str()).or_default();
        *total += r.count;
        *errors.entry(r.error.as_str()).or_default() += r.count;
    }
    by_path
        .into_iter()
        .map(|(path, (total, errors))| {
            let (common, _) = errors
                .iter()
                .max_by_key(|(e, n)| (**n, std::cmp::Reverse(**e)))
                .map(|(e, n)| (*e, *n))
                .unwrap_or(("", 0));
            let others = match errors.len() - 1 {
                0 => String::new(),
                1 => " (and 1 other error)".into(),
                n => format!(" (and {n} other errors)"),
            };
            let noun = if total == 1 { "request" } else { "requests" };
            finding(
                Severity::Error,
                "quarantined_requests",
                format!("quarantine[{path}]"),
                format!(
                    "{total} {noun} to {path} could not be read in the last 24 h: {common}{others} \
                     — see `tocsin quarantine list`, and `tocsin quarantine replay ID` once the config reads them"
                ),
            )
        })
        .collect()
}
