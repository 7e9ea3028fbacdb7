//! Per-bot rate budgets: a sliding-window log of send times per bot (the
//! normalized webhook URL, so two contacts on one bot share a budget). A
//! sliding window, unlike a token bucket, never lets a burst after an idle
//! period exceed the platform's per-window limit.

use crate::config::RateLimit;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

#[derive(Default)]
pub struct Budgets {
    bots: Mutex<HashMap<String, Bot>>,
}

#[derive(Default)]
struct Bot {
    /// Send times, oldest first.
    log: VecDeque<i64>,
    /// The platform said this bot is over its limit: nothing goes before this.
    blocked_until: i64,
}

/// The key of a bot: scheme, lowercased host, port, path and query of its URL.
pub fn bot_key(webhook: &str) -> String {
    match url::Url::parse(webhook) {
        Ok(mut u) => {
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => webhook.trim().to_string(),
    }
}

/// The budget key of a contact's bot. Most platforms limit a bot by its
/// webhook URL; PagerDuty limits each routing key, and every PagerDuty
/// contact posts to the same URL, so its key adds a hash of the routing key
/// (the key itself never sits in the map).
pub fn contact_bot_key(c: &crate::config::Contact) -> String {
    let url = bot_key(&c.webhook);
    if c.channel != crate::config::Channel::Pagerduty {
        return url;
    }
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(c.secret.as_bytes());
    format!("{url}#routing-key-{}", hex::encode(&h[..8]))
}

/// How long to wait before one more send fits every limit; 0 when it fits now.
pub fn wait_ms(log: &VecDeque<i64>, limits: &[RateLimit], now_ms: i64) -> i64 {
    let mut wait = 0;
    for l in limits {
        let window = crate::duration_ms(l.per);
        let in_window: Vec<i64> = log
            .iter()
            .copied()
            .filter(|t| *t > now_ms.saturating_sub(window))
            .collect();
        if in_window.len() >= l.count as usize {
            // The send that must leave the window first.
            let oldest_blocking = in_window[in_window.len() - l.count as usize];
            wait = wait.max(
                oldest_blocking
                    .saturating_add(window)
                    .saturating_sub(now_ms),
            );
        }
    }
    wait
}

impl Budgets {
    /// Takes one unit of the bot's budget if every limit allows it now;
    /// otherwise says how long to wait.
    pub fn try_take(&self, bot: &str, limits: &[RateLimit], now_ms: i64) -> Result<(), i64> {
        let mut bots = self.bots.lock().unwrap_or_else(|p| p.into_inner());
        let b = bots.entry(bot.to_string()).or_default();
        if b.blocked_until > now_ms {
            return Err(b.blocked_until - now_ms);
        }
        if limits.is_empty() {
            return Ok(());
        }
        trim(&mut b.log, limits, now_ms);
        match wait_ms(&b.log, limits, now_ms) {
            0 => {
                b.log.push_back(now_ms);
                Ok(())
            }
            w => Err(w),
        }
    }

    /// How long until one more send fits, without taking it (0: now).
    pub fn wait(&self, bot: &str, limits: &[RateLimit], now_ms: i64) -> i64 {
        let mut bots = self.bots.lock().unwrap_or_else(|p| p.into_inner());
        let b = bots.entry(bot.to_string()).or_default();
        if b.blocked_until > now_ms {
            return b.blocked_until - now_ms;
        }
        trim(&mut b.log, limits, now_ms);
        wait_ms(&b.log, limits, now_ms)
    }

    /// How many sends every limit still allows right now (usize::MAX: no limit).
    pub fn remaining(&self, bot: &str, limits: &[RateLimit], now_ms: i64) -> usize {
        let mut bots = self.bots.lock().unwrap_or_else(|p| p.into_inner());
        let b = bots.entry(bot.to_string()).or_default();
        if b.blocked_until > now_ms {
            return 0;
        }
        trim(&mut b.log, limits, now_ms);
        limits
            .iter()
            .map(|l| {
                let window = crate::duration_ms(l.per);
                let since = now_ms.saturating_sub(window);
                let used = b.log.iter().filter(|t| **t > since).count();
                (l.count as usize).saturating_sub(used)
            })
            .min()
            .unwrap_or(usize::MAX)
    }

    /// The platform answered "rate limited": hold every send to this bot.
    pub fn block(&self, bot: &str, until_ms: i64) {
        let mut bots = self.bots.lock().unwrap_or_else(|p| p.into_inner());
        let b = bots.entry(bot.to_string()).or_default();
        b.blocked_until = b.blocked_until.max(until_ms);
    }

    /// Records sends that happened before a restart (from the stored attempts).
    pub fn seed(&self, bot: &str, times: impl IntoIterator<Item = i64>) {
        let mut bots = self.bots.lock().unwrap_or_else(|p| p.into_inner());
        let b = bots.entry(bot.to_string()).or_default();
        b.log.extend(times);
        b.log.make_contiguous().sort_unstable();
    }
}

fn trim(log: &mut VecDeque<i64>, limits: &[RateLimit], now_ms: i64) {
    let longest = limits
        .iter()
        .map(|l| crate::duration_ms(l.per))
        .max()
        .unwrap_or(0);
    let since = now_ms.saturating_sub(longest);
    while log.front().is_some_and(|t| *t <= since) {
        log.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> Vec<RateLimit> {
        vec![
            RateLimit {
                count: 3,
                per: Duration::from_secs(60),
            },
            RateLimit {
                count: 2,
                per: Duration::from_secs(1),
            },
        ]
    }

    #[test]
    fn sliding_window_never_exceeds_any_limit() {
        let b = Budgets::default();
        assert!(b.try_take("bot", &limits(), 0).is_ok());
        assert!(b.try_take("bot", &limits(), 10).is_ok());
        assert_eq!(b.try_take("bot", &limits(), 20), Err(980));
        assert!(b.try_take("bot", &limits(), 1000).is_ok());
        // 3 in the minute: the next fits when the first leaves the window.
        assert_eq!(b.try_take("bot", &limits(), 2000), Err(58_000));
        assert!(b.try_take("bot", &limits(), 60_000).is_ok());
        // Another bot has its own budget.
        assert!(b.try_take("other", &limits(), 2000).is_ok());
    }

    #[test]
    fn remaining_block_and_seed() {
        let b = Budgets::default();
        assert_eq!(b.remaining("bot", &limits(), 0), 2);
        b.seed("bot", [-500, -100]);
        assert_eq!(b.remaining("bot", &limits(), 0), 0);
        assert_eq!(b.remaining("bot", &limits(), 1000), 1);
        assert_eq!(b.wait("bot", &limits(), 0), 500);
        assert_eq!(b.wait("bot", &limits(), 1000), 0);
        b.block("bot", 5000);
        assert_eq!(b.remaining("bot", &limits(), 1000), 0);
        assert_eq!(b.try_take("bot", &limits(), 1000), Err(4000));
        assert_eq!(b.wait("bot", &limits(), 1000), 4000);
        assert!(b.try_take("bot", &limits(), 5000).is_ok());
    }

    #[test]
    fn bot_key_normalizes() {
        assert_eq!(
            bot_key("HTTPS://Example.COM:443/hook?k=1#x"),
            "https://example.com/hook?k=1"
        );
    }

    fn pagerduty(name: &str, key: &str) -> crate::config::Contact {
        let yaml =
            format!("contacts:\n  - {{ name: {name}, channel: pagerduty, routing_key: {key} }}\n");
        let loaded = crate::config::load_str(&yaml, "t", &|_| None);
        loaded.config.expect("loads").contacts[0].clone()
    }

    /// PagerDuty limits each routing key, and every PagerDuty contact posts
    /// to the same URL: the budget is per routing key, without the key in it.
    #[test]
    fn pagerduty_budgets_are_per_routing_key() {
        let a = "R0UT1NGKEYA000000000000000000001";
        let b = "R0UT1NGKEYB000000000000000000001";
        let k1 = contact_bot_key(&pagerduty("one", a));
        let k2 = contact_bot_key(&pagerduty("two", a));
        let k3 = contact_bot_key(&pagerduty("three", b));
        assert_eq!(k1, k2);
        assert_ne!(k1, k3);
        assert!(k1.starts_with("https://events.pagerduty.com/v2/enqueue#routing-key-"));
        assert!(!k1.contains(a) && !k3.contains(b));
    }

    /// A burst held to PagerDuty's budget (120 a minute per key, with the
    /// margin) never puts more than 120 events in any 60 s window, however
    /// the sends are timed.
    #[test]
    fn a_pagerduty_burst_never_exceeds_120_a_minute() {
        let c = pagerduty("p", "R0UT1NGKEYC000000000000000000001");
        let limits = crate::notify::effective_rate(&c);
        let budgets = Budgets::default();
        let bot = contact_bot_key(&c);
        let mut sent = Vec::new();
        let mut now = 0i64;
        // Ten minutes of a sender retrying every 37 ms.
        while now < 600_000 {
            if budgets.try_take(&bot, &limits, now).is_ok() {
                sent.push(now);
            }
            now += 37;
        }
        assert!(sent.len() > 900, "{}", sent.len());
        for (i, t) in sent.iter().enumerate() {
            let in_window = sent[i..].iter().take_while(|x| **x < t + 60_000).count();
            assert!(in_window <= 120, "{in_window} sends in the minute from {t}");
        }
    }
}
