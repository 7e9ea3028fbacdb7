//! The `contacts` section: chat bots and webhooks, their templates and rate limits.

use super::*;

impl Cx<'_> {
    pub(super) fn contacts(&mut self, node: &Node) -> Vec<Contact> {
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
            "bot_token",
            "chat_id",
            "api_base",
            "routing_key",
            "url",
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
                chat_id: String::new(),
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
                lines: entries
                    .iter()
                    .map(|(k, v)| (k.text.clone(), v.line))
                    .collect(),
            };
            let mut template_node: Option<(usize, &Node)> = None;
            let mut has_channel = false;
            let mut has_webhook = false;
            // Telegram's keys: (line, value).
            let mut bot_token: Option<(usize, String)> = None;
            let mut chat_id: Option<(usize, String)> = None;
            let mut api_base: Option<(usize, String)> = None;
            // PagerDuty's keys: (line, value).
            let mut routing_key: Option<(usize, String)> = None;
            let mut pd_url: Option<(usize, String)> = None;
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
                                    format!("unknown channel `{ch}`; expected one of webhook, lark (or feishu), wecom, dingtalk, slack, discord, teams, telegram, pagerduty"),
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
                    "routing_key" => {
                        if let Some(t) = self.string(v, &kp) {
                            routing_key = Some((v.line, t.trim().to_string()));
                        }
                    }
                    "url" => {
                        if let Some(u) = self.string(v, &kp) {
                            match http_url(&u) {
                                Some(_) => pd_url = Some((v.line, u.trim().to_string())),
                                None => self.error(
                                    v.line,
                                    &kp,
                                    "must be an http:// or https:// URL with a host (default https://events.pagerduty.com/v2/enqueue)",
                                ),
                            }
                        }
                    }
                    "bot_token" => {
                        if let Some(t) = self.string(v, &kp) {
                            bot_token = Some((v.line, t));
                        }
                    }
                    // A string or a bare YAML number (group ids are negative).
                    "chat_id" => {
                        if let Some(t) = self.string(v, &kp) {
                            chat_id = Some((v.line, t.trim().to_string()));
                        }
                    }
                    "api_base" => {
                        if let Some(u) = self.string(v, &kp) {
                            match http_url(&u) {
                                Some(_) => api_base = Some((v.line, u.trim().to_string())),
                                None => self.error(
                                    v.line,
                                    &kp,
                                    "must be an http:// or https:// URL with a host (default https://api.telegram.org)",
                                ),
                            }
                        }
                    }
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
                            // `@` only in a Teams user principal name
                            // (checked against the channel below).
                            if u.chars().any(|ch| {
                                ch.is_whitespace()
                                    || "<>\"&|".contains(ch)
                                    || (ch == '@' && !teams_user_id(u))
                            }) {
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
                    "`channel` is required (webhook, lark (or feishu), wecom, dingtalk, slack, discord, teams, telegram, pagerduty)",
                );
            }
            if c.channel != Channel::Pagerduty {
                for (key, given) in [
                    ("routing_key", routing_key.is_some()),
                    ("url", pd_url.is_some()),
                ] {
                    if given {
                        let line = c.lines.get(key).copied().unwrap_or(item.line);
                        self.error(
                            line,
                            &join(&p, key),
                            format!("`{key}` belongs to `channel: pagerduty` contacts"),
                        );
                    }
                }
            }
            if c.channel == Channel::Pagerduty {
                self.pagerduty(&mut c, &p, item.line, has_webhook, routing_key, pd_url);
                for (key, given) in [
                    ("bot_token", bot_token.is_some()),
                    ("chat_id", chat_id.is_some()),
                    ("api_base", api_base.is_some()),
                ] {
                    if given {
                        let line = c.lines.get(key).copied().unwrap_or(item.line);
                        self.error(
                            line,
                            &join(&p, key),
                            format!("`{key}` belongs to `channel: telegram` contacts"),
                        );
                    }
                }
            } else if c.channel == Channel::Telegram {
                self.telegram(
                    &mut c,
                    &p,
                    item.line,
                    has_webhook,
                    bot_token,
                    chat_id,
                    api_base,
                );
            } else {
                if !has_webhook {
                    self.error(item.line, &p, "`webhook` is required");
                }
                for (key, given) in [
                    ("bot_token", bot_token.is_some()),
                    ("chat_id", chat_id.is_some()),
                    ("api_base", api_base.is_some()),
                ] {
                    if given {
                        let line = c.lines.get(key).copied().unwrap_or(item.line);
                        self.error(
                            line,
                            &join(&p, key),
                            format!("`{key}` belongs to `channel: telegram` contacts"),
                        );
                    }
                }
            }
            if c.channel == Channel::Discord {
                let line = c.lines.get("mentions").copied().unwrap_or(item.line);
                let mp = join(&p, "mentions");
                if c.mentions.all {
                    self.error(
                        line,
                        &join(&mp, "all"),
                        "Discord messages never ping @everyone or @here (Tocsin sends `allowed_mentions: {parse: []}`); list the user ids to ping in `users`",
                    );
                }
                if !c.mentions.mobiles.is_empty() {
                    self.error(
                        line,
                        &join(&mp, "mobiles"),
                        "Discord has no mobile mentions; list user ids in `users`",
                    );
                }
                for (j, u) in c.mentions.users.iter().enumerate() {
                    if u.is_empty() || u.len() > 20 || !u.bytes().all(|b| b.is_ascii_digit()) {
                        self.error(
                            line,
                            &format!("{mp}.users[{j}]"),
                            format!("`{u}` is not a Discord user id: a number such as 80351110224678912 (Developer Mode → Copy User ID)"),
                        );
                    }
                }
            }
            if c.channel != Channel::Teams {
                let line = c.lines.get("mentions").copied().unwrap_or(item.line);
                for (j, u) in c.mentions.users.iter().enumerate() {
                    if u.contains('@') && teams_user_id(u) {
                        self.error(
                            line,
                            &format!("{}.users[{j}]", join(&p, "mentions")),
                            "a user id has no spaces or <>\"&|@ (write `all: true` for everyone)",
                        );
                    }
                }
            }
            if c.channel == Channel::Teams {
                let line = c.lines.get("mentions").copied().unwrap_or(item.line);
                let mp = join(&p, "mentions");
                if c.mentions.all {
                    self.error(
                        line,
                        &join(&mp, "all"),
                        "Teams cards cannot mention the whole channel from a webhook; list the people to mention in `users` (user principal names or Entra object ids)",
                    );
                }
                if !c.mentions.mobiles.is_empty() {
                    self.error(
                        line,
                        &join(&mp, "mobiles"),
                        "Teams has no mobile mentions; list user principal names or Entra object ids in `users`",
                    );
                }
                for (j, u) in c.mentions.users.iter().enumerate() {
                    if !teams_user_id(u) {
                        self.error(
                            line,
                            &format!("{mp}.users[{j}]"),
                            format!("`{u}` is not a Teams user id: a user principal name such as alice@contoso.com, or an Entra object id such as 8c8f2a4e-1b7e-4a3d-9c55-2f1a0d6e3b11"),
                        );
                    }
                }
            }
            if let Some((key_line, v)) = template_node {
                self.template(&c, key_line, v, &join(&p, "template"));
            }
            out.push(c);
        }
        self.unique("contact", &names);
        out
    }

    /// A Telegram contact: `bot_token` and `chat_id` required, `api_base`
    /// optional (default <https://api.telegram.org>); its URL is
    /// `{api_base}/bot{bot_token}/sendMessage` and the token is kept as its
    /// secret (redacted wherever secrets are).
    #[allow(clippy::too_many_arguments)]
    fn telegram(
        &mut self,
        c: &mut Contact,
        p: &str,
        line: usize,
        has_webhook: bool,
        bot_token: Option<(usize, String)>,
        chat_id: Option<(usize, String)>,
        api_base: Option<(usize, String)>,
    ) {
        if has_webhook {
            let l = c.lines.get("webhook").copied().unwrap_or(line);
            self.error(
                l,
                &join(p, "webhook"),
                "Telegram contacts take `bot_token` and `chat_id` (and `api_base` to change the API host), not `webhook`",
            );
        }
        if !c.secret.is_empty() {
            let l = c.lines.get("secret").copied().unwrap_or(line);
            self.error(
                l,
                &join(p, "secret"),
                "Telegram bots sign nothing: the bot's token goes in `bot_token`",
            );
        }
        match &bot_token {
            None => self.error(
                line,
                p,
                "`bot_token` is required (the token @BotFather gave, like 123456789:AAH…)",
            ),
            Some((l, t)) => {
                // `<bot id>:<secret>`; the path carries it as is.
                let ok = t.split_once(':').is_some_and(|(id, key)| {
                    !id.is_empty()
                        && id.bytes().all(|b| b.is_ascii_digit())
                        && !key.is_empty()
                        && key
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                });
                if ok {
                    c.secret = t.clone();
                } else {
                    // Never echo the token.
                    self.error(
                        *l,
                        &join(p, "bot_token"),
                        "not a Telegram bot token: it is `<bot id>:<key>` as @BotFather gives it (digits, a colon, then letters, digits, `_` or `-`)",
                    );
                }
            }
        }
        match &chat_id {
            None => self.error(
                line,
                p,
                "`chat_id` is required (a chat's number such as -1001234567890, or `@channelusername`)",
            ),
            Some((l, id)) => {
                let numeric = id.strip_prefix('-').unwrap_or(id);
                let number = !numeric.is_empty()
                    && numeric.len() <= 20
                    && numeric.bytes().all(|b| b.is_ascii_digit())
                    && id.parse::<i64>().is_ok();
                let username = id.strip_prefix('@').is_some_and(|u| {
                    (4..=32).contains(&u.len())
                        && u.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                });
                if number || username {
                    c.chat_id = id.clone();
                } else {
                    self.error(
                        *l,
                        &join(p, "chat_id"),
                        format!("`{id}` is not a Telegram chat id: a number (groups are negative, like -1001234567890) or `@channelusername`"),
                    );
                }
            }
        }
        let base = api_base
            .map(|(_, b)| b)
            .unwrap_or_else(|| "https://api.telegram.org".to_string());
        if !c.secret.is_empty() {
            c.webhook = format!("{}/bot{}/sendMessage", base.trim_end_matches('/'), c.secret);
        }
        let ml = c.lines.get("mentions").copied().unwrap_or(line);
        let mp = join(p, "mentions");
        if c.mentions.all {
            self.error(
                ml,
                &join(&mp, "all"),
                "Telegram has no mention of everyone; list the user ids to mention in `users`",
            );
        }
        if !c.mentions.mobiles.is_empty() {
            self.error(
                ml,
                &join(&mp, "mobiles"),
                "Telegram has no mobile mentions; list user ids in `users`",
            );
        }
        for (j, u) in c.mentions.users.iter().enumerate() {
            let id = u.split_once(':').map_or(u.as_str(), |(id, _)| id);
            if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
                self.error(
                    ml,
                    &format!("{mp}.users[{j}]"),
                    format!("`{u}` is not a Telegram user id: a number such as 123456789, optionally with a name to show (`123456789:Alice`)"),
                );
            }
        }
    }

    /// A PagerDuty contact: `routing_key` required (an Events API v2
    /// integration key: 32 characters), `url` optional (default
    /// <https://events.pagerduty.com/v2/enqueue>). The key goes in every
    /// event's body, so it is kept as the contact's secret (redacted wherever
    /// secrets are) and never echoed in a finding. An incident carries no
    /// chat markup, mentions or keywords: those keys are refused.
    fn pagerduty(
        &mut self,
        c: &mut Contact,
        p: &str,
        line: usize,
        has_webhook: bool,
        routing_key: Option<(usize, String)>,
        url: Option<(usize, String)>,
    ) {
        if has_webhook {
            let l = c.lines.get("webhook").copied().unwrap_or(line);
            self.error(
                l,
                &join(p, "webhook"),
                "PagerDuty contacts take `routing_key` (and `url` to change the Events API endpoint), not `webhook`",
            );
        }
        if !c.secret.is_empty() {
            let l = c.lines.get("secret").copied().unwrap_or(line);
            self.error(
                l,
                &join(p, "secret"),
                "PagerDuty events are not signed: the service's integration key goes in `routing_key`",
            );
            c.secret.clear();
        }
        match &routing_key {
            None => self.error(
                line,
                p,
                "`routing_key` is required (the Integration Key of the service's Events API v2 integration: 32 characters)",
            ),
            Some((l, k)) => {
                if k.len() == 32 && k.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    c.secret = k.clone();
                } else {
                    // Never echo the key.
                    self.error(
                        *l,
                        &join(p, "routing_key"),
                        format!(
                            "not a PagerDuty routing key: an Events API v2 integration key is 32 letters and digits (this one has {} characters); copy it from the service's Integrations tab",
                            k.chars().count()
                        ),
                    );
                }
            }
        }
        c.webhook = url
            .map(|(_, u)| u)
            .unwrap_or_else(|| PAGERDUTY_URL.to_string());
        for (key, refused) in [
            ("mentions", c.mentions != Mentions::default()),
            ("keywords", !c.keywords.is_empty()),
            ("template", c.template.is_some()),
            ("headers", !c.headers.is_empty()),
        ] {
            if refused {
                let l = c.lines.get(key).copied().unwrap_or(line);
                self.error(
                    l,
                    &join(p, key),
                    format!("PagerDuty contacts take no `{key}`: the incident's responders are the service's escalation policy, and Tocsin writes the event's summary and details itself"),
                );
            }
        }
        c.template = None;
    }

    /// Checks a contact's template: chat platforms only, compiles, renders
    /// a sample alert; warns when it may leave out every keyword.
    pub(super) fn template(&mut self, c: &Contact, key_line: usize, v: &Node, path: &str) {
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
}

/// A chat contact that only serves to check a subscription's template.
pub(super) fn probe_contact(template: String) -> Contact {
    Contact {
        name: "(subscription template)".into(),
        channel: Channel::Lark,
        webhook: String::new(),
        chat_id: String::new(),
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
        lines: KeyLines::new(),
    }
}

pub(super) fn http_url(s: &str) -> Option<url::Url> {
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

/// A Teams user a card can mention: a user principal name
/// (`alice@contoso.com`) or an Entra object id (a GUID). Neither can carry
/// markup (`<`, `>`, `&`, quotes, spaces).
pub(crate) fn teams_user_id(u: &str) -> bool {
    let guid = u.len() == 36
        && u.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    let upn = u.len() <= 113
        && u.split_once('@').is_some_and(|(name, domain)| {
            !name.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
        });
    guid || upn
}
