//! The validated configuration. Everything here has passed validation:
//! references resolve, durations and sizes are parsed, names are unique.

use super::units::Cidr;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub delivery: DeliveryConfig,
    pub catalog: CatalogConfig,
    /// None when the file has no `sources` key: every event is forwarded.
    pub sources: Option<Vec<Source>>,
    pub contacts: Vec<Contact>,
    pub contact_groups: Vec<ContactGroup>,
    pub notification_policies: Vec<NotificationPolicy>,
    pub subscriptions: Vec<Subscription>,
    /// Silences: events they match are not sent while they are active.
    pub silences: Vec<Silence>,
    /// The file this config was read from (its text and name), so API-made
    /// objects can be merged into it and the whole validated again. None for
    /// the embedded defaults and configs built in code.
    pub document: FileText,
}

/// The config file a config was read from. Not part of what the config
/// means: two configs that differ only in it (comments, layout, the file's
/// name) are equal.
#[derive(Clone, Debug, Default)]
pub struct FileText(pub Option<std::sync::Arc<Document>>);

impl PartialEq for FileText {
    fn eq(&self, _: &FileText) -> bool {
        true
    }
}

impl FileText {
    pub fn get(&self) -> Option<&Document> {
        self.0.as_deref()
    }
}

/// The text of a config file, as it was read.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub file: String,
    pub text: String,
}

/// `silences: [{name, matchers: {products?, event_types?, event_names?,
/// levels?, resources?}, starts_at?, ends_at, comment?}]`: while active, an
/// event every given matcher matches is not sent (each covering
/// subscription's verdict is `silenced`).
#[derive(Clone, Debug, PartialEq)]
pub struct Silence {
    pub name: String,
    pub products: Vec<String>,
    pub event_types: Vec<String>,
    /// Glob patterns, as a subscription's `event_names`.
    pub event_names: Vec<String>,
    pub levels: Vec<Level>,
    /// Glob patterns, as a subscription's `resources`.
    pub resources: Vec<String>,
    /// Unix ms; None: from the start.
    pub starts_ms: Option<i64>,
    pub ends_ms: i64,
    pub comment: String,
    pub line: usize,
}

impl Config {
    /// What the configuration holds, in words: `2 contacts, 1 contact group,
    /// 1 notification policy, 3 subscriptions`. Logged at start and reload,
    /// so a user sees which file was read and that it is the one they meant.
    pub fn summary(&self) -> String {
        let count =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut parts = vec![
            count(self.contacts.len(), "contact", "contacts"),
            count(self.contact_groups.len(), "contact group", "contact groups"),
            count(
                self.notification_policies.len(),
                "notification policy",
                "notification policies",
            ),
            count(self.subscriptions.len(), "subscription", "subscriptions"),
        ];
        if let Some(sources) = &self.sources {
            parts.push(count(sources.len(), "source", "sources"));
        }
        parts.join(", ")
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    pub listen: String,
    pub data_dir: PathBuf,
    /// "" = none.
    pub api_token: String,
    /// "" = none.
    pub ingest_token: String,
    pub max_body: u64,
    pub public_url: Option<String>,
    /// From a connection's first byte (or its accept) to a complete request
    /// head.
    pub header_timeout: Duration,
    /// From a request's head to the end of its body.
    pub body_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Open connections at once. None: derived from the open-file limit.
    pub max_connections: Option<u32>,
    /// Ingest requests whose bodies are read and decoded at once.
    pub max_concurrent_ingest: u32,
    /// `server.tls`: None serves plain HTTP.
    pub tls: Option<crate::tls::TlsSettings>,
    /// Serve on a non-loopback address without `api_token` all the same.
    pub allow_unauthenticated: bool,
}

impl ServerConfig {
    /// Why this server must not start (or reload) as configured: it would
    /// listen beyond loopback with nothing guarding the API, so anyone who
    /// reaches the port could read the history and change the
    /// configuration. None when loopback, guarded, or explicitly allowed.
    pub fn unguarded_exposure(&self) -> Option<String> {
        if !self.api_token.is_empty()
            || self.allow_unauthenticated
            || listens_on_loopback(&self.listen)
        {
            return None;
        }
        Some(format!(
            "refusing to serve on {} without authentication: anyone who can reach that address could read \
             the event history and change the configuration. Set server.api_token (for example \
             `api_token: ${{TOCSIN_API_TOKEN}}`), listen on 127.0.0.1 behind a proxy that authenticates, \
             or set server.allow_unauthenticated: true to accept the risk",
            self.listen
        ))
    }
}

/// `127.0.0.1:9750`, `[::1]:9750`, `localhost:9750`: only this machine can connect.
pub fn listens_on_loopback(listen: &str) -> bool {
    if let Ok(addr) = listen.parse::<std::net::SocketAddr>() {
        return addr.ip().is_loopback();
    }
    listen
        .rsplit_once(':')
        .is_some_and(|(host, _)| host.eq_ignore_ascii_case("localhost"))
}

#[derive(Clone, Debug, PartialEq)]
pub struct StoreConfig {
    pub retention: Duration,
    /// Total size of the kept unreadable request bodies (0: keep none).
    pub quarantine_max: u64,
}

/// The largest `store.quarantine_max` accepted.
pub const QUARANTINE_MAX_LIMIT: u64 = 1 << 30;

#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryConfig {
    pub timeout: Duration,
    pub backoff: Backoff,
    pub retry_horizon: Duration,
    pub allow_private_networks: bool,
    pub deny_cidrs: Vec<Cidr>,
    /// "" = none (HTTPS_PROXY / HTTP_PROXY from the environment apply).
    pub proxy: String,
    /// A contact group told when a message fails for good (never the failing contact).
    pub on_failure: Option<String>,
    /// How long the pending messages of a contact a reload removes stay
    /// pending (delivered if it comes back under the same name) before they
    /// end `failed`.
    pub removed_contact_grace: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

pub use crate::domain::Level;

#[derive(Clone, Debug, PartialEq)]
pub struct CatalogConfig {
    /// Lowercased product severity → level.
    pub severity_map: BTreeMap<String, Level>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    pub name: String,
    pub product: String,
    pub items: BTreeMap<Item, ItemSwitch>,
    pub line: usize,
}

pub use crate::catalog::Item;

/// An absent key is true.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemSwitch {
    pub details: bool,
    pub overview: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Contact {
    pub name: String,
    pub channel: Channel,
    /// Where messages go. Telegram: `{api_base}/bot{bot_token}/sendMessage`,
    /// built from the contact's keys (the token sits in the path: shown and
    /// logged only redacted, like every webhook URL). PagerDuty: its `url`
    /// (default `https://events.pagerduty.com/v2/enqueue`).
    pub webhook: String,
    /// Telegram's `chat_id` (a number, or `@channelusername`); empty for
    /// the other channels.
    pub chat_id: String,
    pub headers: Vec<(String, String)>,
    /// "" = unsigned. Telegram: the bot token; PagerDuty: the routing key
    /// (both redacted like a secret).
    pub secret: String,
    pub concurrency: usize,
    /// How long the bot rests after the platform says it is over its rate
    /// limit; None: the platform's own word (DingTalk: its 10-minute block;
    /// others: Retry-After, else 60 s).
    pub rate_limit_rest: Option<std::time::Duration>,
    /// Empty: the channel's default limits.
    pub rate_limit: Vec<RateLimit>,
    /// At least one of these appears in every message (the bot's keywords).
    pub keywords: Vec<String>,
    pub mentions: Mentions,
    pub lang: Lang,
    /// IANA time zone for rendered times.
    pub timezone: String,
    /// A minijinja template for the body of single-alert messages (chat
    /// platforms only); checked at load.
    pub template: Option<String>,
    pub line: usize,
    /// Where its keys and list items are in the file (see [`KeyLines`]).
    pub lines: KeyLines,
}

/// The lines of an object's keys and list items, by their path inside the
/// object (`webhook`, `event_types[0]`), for messages that point into the
/// file (`tocsin check`, `doctor`). Empty for objects not read from a file.
pub type KeyLines = BTreeMap<String, usize>;

/// PagerDuty's Events API v2 endpoint, a PagerDuty contact's default `url`.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Channel {
    Webhook,
    Lark,
    Wecom,
    Dingtalk,
    Slack,
    Discord,
    Teams,
    Telegram,
    Pagerduty,
}

impl Channel {
    pub const ALL: [Channel; 9] = [
        Channel::Webhook,
        Channel::Lark,
        Channel::Wecom,
        Channel::Dingtalk,
        Channel::Slack,
        Channel::Discord,
        Channel::Teams,
        Channel::Telegram,
        Channel::Pagerduty,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Lark => "lark",
            Channel::Wecom => "wecom",
            Channel::Dingtalk => "dingtalk",
            Channel::Slack => "slack",
            Channel::Discord => "discord",
            Channel::Teams => "teams",
            Channel::Telegram => "telegram",
            Channel::Pagerduty => "pagerduty",
        }
    }
    /// `feishu` is Lark's name in mainland China (open.feishu.cn; Lark's
    /// international host is open.larksuite.com): the same bots, the same
    /// API, so the same channel.
    pub fn parse(s: &str) -> Option<Channel> {
        if s == "feishu" {
            return Some(Channel::Lark);
        }
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The language of message labels.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }
}

/// Who a contact's messages mention. Only ever from the config, never from
/// an event.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Mentions {
    /// Platform user ids (Lark open_id/user_id, WeCom userid, DingTalk userId, Slack member id, Discord user id, Teams user principal name or Entra object id, Telegram user id).
    pub users: Vec<String>,
    /// Mobile numbers (DingTalk; WeCom text messages).
    pub mobiles: Vec<String>,
    /// Everyone in the group.
    pub all: bool,
    /// Only for messages at these levels (empty: every level).
    pub levels: Vec<Level>,
}

impl Mentions {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.mobiles.is_empty() && !self.all
    }
    /// The mentions that apply to a message of this level.
    pub fn for_level(&self, level: Level) -> Option<&Mentions> {
        (!self.is_empty() && (self.levels.is_empty() || self.levels.contains(&level)))
            .then_some(self)
    }
}

/// The default time zone of rendered times.
pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";

/// At most `count` messages per `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub per: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ContactGroup {
    pub name: String,
    pub contacts: Vec<String>,
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NotificationPolicy {
    pub name: String,
    pub contact_groups: Vec<String>,
    /// Quiet hours: outside these, messages are held (or only critical ones go).
    pub active_hours: Option<crate::schedule::ActiveHours>,
    pub outside_hours: OutsideHours,
    pub line: usize,
}

/// What happens to messages outside a policy's active hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutsideHours {
    /// Held, then sent as one digest when the hours open.
    #[default]
    Hold,
    /// Critical ones go at once; the rest are held.
    CriticalOnly,
}

/// A subscription's scheduled digest: one summary per firing instead of each event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestSchedule {
    pub cron: crate::schedule::Cron,
    pub timezone: String,
}

/// The security product's own overview rhythm: weekly, Thursday 10:00.
pub const DEFAULT_DIGEST_SCHEDULE: &str = "0 10 * * 4";

#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    pub name: String,
    pub products: Vec<String>,
    pub event_types: Vec<String>,
    pub event_names: Vec<String>,
    pub levels: Vec<Level>,
    pub deny_list: bool,
    pub groups: Vec<String>,
    pub resources: Vec<String>,
    pub content_keywords: Vec<String>,
    /// After the allow filters match, an event matching any of these
    /// entries is dropped.
    pub exclude: Vec<ExcludeRule>,
    pub notification_policy: String,
    /// Repeats of the same event inside this window fold into one follow-up.
    pub merge_window: Option<Duration>,
    /// Identity keys instead of the default (product, event type, name,
    /// content.alarmUniqueInfo or resource).
    pub merge_by: Vec<String>,
    /// Notify only once the same event occurred this many times in the window.
    pub min_occurrences: u32,
    /// After a notification, the same event is suppressed for this long.
    pub silence: Option<Duration>,
    /// Instead of each event, one digest per schedule.
    pub digest: Option<DigestSchedule>,
    /// A message template for chat contacts reached through this
    /// subscription; overrides the contact's own.
    pub template: Option<String>,
    pub line: usize,
    /// Where its keys and list items are in the file (see [`KeyLines`]).
    pub lines: KeyLines,
}

/// One `exclude` entry of a subscription: an event matches it when every
/// key the entry gives matches (an absent key matches anything). Name,
/// resource and group matching are as in the subscription's own filters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExcludeRule {
    pub event_names: Vec<String>,
    pub event_types: Vec<String>,
    pub levels: Vec<Level>,
    pub resources: Vec<String>,
    pub groups: Vec<String>,
    pub content_keywords: Vec<String>,
    pub line: usize,
}

impl ExcludeRule {
    /// The entry in the config's own words, as explain and dry-run name it:
    /// `event_names: Vulnerability:*, Baseline:*; levels: info`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut add = |key: &str, values: Vec<&str>| {
            if !values.is_empty() {
                parts.push(format!("{key}: {}", values.join(", ")));
            }
        };
        add(
            "event_names",
            self.event_names.iter().map(String::as_str).collect(),
        );
        add(
            "event_types",
            self.event_types.iter().map(String::as_str).collect(),
        );
        add("levels", self.levels.iter().map(|l| l.as_str()).collect());
        add(
            "resources",
            self.resources.iter().map(String::as_str).collect(),
        );
        add("groups", self.groups.iter().map(String::as_str).collect());
        add(
            "content_keywords",
            self.content_keywords.iter().map(String::as_str).collect(),
        );
        parts.join("; ")
    }
}

pub fn default_severity_map() -> BTreeMap<String, Level> {
    [
        ("serious", Level::Critical),
        ("asap", Level::Critical),
        ("high", Level::Critical),
        ("suspicious", Level::Warn),
        ("later", Level::Warn),
        ("medium", Level::Warn),
        ("remind", Level::Info),
        ("nntf", Level::Info),
        ("low", Level::Info),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

impl Config {
    /// `tocsin serve` without `--config`.
    pub fn embedded_default() -> Config {
        Config {
            server: ServerConfig {
                listen: "127.0.0.1:9750".into(),
                data_dir: PathBuf::from("./tocsin-data"),
                api_token: String::new(),
                ingest_token: String::new(),
                max_body: 4 << 20,
                public_url: None,
                header_timeout: Duration::from_secs(10),
                body_timeout: Duration::from_secs(30),
                idle_timeout: Duration::from_secs(60),
                max_connections: None,
                max_concurrent_ingest: 64,
                tls: None,
                allow_unauthenticated: false,
            },
            store: StoreConfig {
                retention: Duration::from_secs(30 * 86_400),
                quarantine_max: 64 << 20,
            },
            delivery: DeliveryConfig {
                timeout: Duration::from_secs(10),
                backoff: Backoff {
                    initial: Duration::from_secs(1),
                    max: Duration::from_secs(300),
                },
                retry_horizon: Duration::from_secs(86_400),
                removed_contact_grace: Duration::from_secs(3_600),
                allow_private_networks: false,
                deny_cidrs: Vec::new(),
                proxy: String::new(),
                on_failure: None,
            },
            catalog: CatalogConfig {
                severity_map: default_severity_map(),
            },
            sources: None,
            contacts: Vec::new(),
            contact_groups: Vec::new(),
            notification_policies: Vec::new(),
            subscriptions: Vec::new(),
            silences: Vec::new(),
            document: FileText::default(),
        }
    }

    /// A stable hash of the whole config (every field, secrets included, so
    /// a rotated secret is a new version; only the hash is shown).
    pub fn version(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut copy = self.clone();
        // Line numbers are not part of what the config means.
        for c in &mut copy.contacts {
            c.line = 0;
            c.lines.clear();
        }
        for g in &mut copy.contact_groups {
            g.line = 0;
        }
        for p in &mut copy.notification_policies {
            p.line = 0;
        }
        for s in &mut copy.subscriptions {
            s.line = 0;
            s.lines.clear();
        }
        for s in copy.sources.iter_mut().flatten() {
            s.line = 0;
        }
        for s in &mut copy.silences {
            s.line = 0;
        }
        // Comments and layout of the file are not part of what it means.
        copy.document = FileText::default();
        // The version is shown unauthenticated (/readyz): hash the config with
        // its secrets replaced, so the version cannot confirm a guessed secret.
        // A change to a secret alone therefore keeps the version.
        let redact = |v: &mut String| {
            if !v.is_empty() {
                *v = "<secret>".into();
            }
        };
        redact(&mut copy.server.api_token);
        redact(&mut copy.server.ingest_token);
        redact(&mut copy.delivery.proxy);
        for c in &mut copy.contacts {
            redact(&mut c.secret);
            // Webhook keys sit in the path or the query: keep the host only.
            c.webhook = match url::Url::parse(&c.webhook) {
                Ok(u) => format!("{}://{}/<secret>", u.scheme(), u.host_str().unwrap_or("")),
                Err(_) => "<secret>".into(),
            };
        }
        hex::encode(Sha256::digest(format!("{copy:?}").as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_summary_counts_in_words_singular_and_plural() {
        let mut c = super::Config::embedded_default();
        assert_eq!(
            c.summary(),
            "0 contacts, 0 contact groups, 0 notification policies, 0 subscriptions"
        );
        c.sources = Some(Vec::new());
        c.contact_groups.push(super::ContactGroup {
            name: "g".into(),
            contacts: vec![],
            line: 1,
        });
        assert_eq!(
            c.summary(),
            "0 contacts, 1 contact group, 0 notification policies, 0 subscriptions, 0 sources"
        );
    }

    use super::*;

    #[test]
    fn the_version_cannot_confirm_a_secret() {
        let base = Config::embedded_default();
        let mut other = base.clone();
        other.server.api_token = "guess-1".into();
        let mut guess = base.clone();
        guess.server.api_token = "guess-2".into();
        assert_eq!(other.version(), guess.version());
        other.server.ingest_token = "x".into();
        guess.server.ingest_token = "y".into();
        assert_eq!(other.version(), guess.version());
        // A change that is not a secret still changes it.
        guess.server.max_body += 1;
        assert_ne!(other.version(), guess.version());
    }

    #[test]
    fn levels() {
        assert_eq!(Level::parse("CRITICAL"), Some(Level::Critical));
        assert_eq!(Level::parse("Warning"), Some(Level::Warn));
        assert_eq!(Level::parse("warn"), Some(Level::Warn));
        assert_eq!(Level::parse("info"), Some(Level::Info));
        assert_eq!(Level::parse("loud"), None);
        assert!(Level::Critical > Level::Warn && Level::Warn > Level::Info);
        for l in [Level::Info, Level::Warn, Level::Critical] {
            assert_eq!(Level::parse(l.as_str()), Some(l));
        }
    }

    #[test]
    fn items() {
        for i in Item::ALL {
            assert_eq!(Item::from_key(i.key()), Some(i));
        }
        assert_eq!(Item::MaliciousFile.key(), "malicious_file");
        assert_eq!(Item::from_key("alerts"), None);
        assert_eq!(Channel::Webhook.as_str(), "webhook");
    }

    #[test]
    fn defaults_and_version() {
        let c = Config::embedded_default();
        assert_eq!(c.server.listen, "127.0.0.1:9750");
        assert_eq!(c.server.max_body, 4 * 1024 * 1024);
        assert_eq!(c.catalog.severity_map.len(), 9);
        assert!(c.sources.is_none());
        let v = c.version();
        assert_eq!(v.len(), 64);
        assert_eq!(v, Config::embedded_default().version());
        let mut d = c.clone();
        d.server.api_token = "t".into();
        assert_ne!(d.version(), v);
    }
}
