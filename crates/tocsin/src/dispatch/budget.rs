//! Per-bot rate budgets: a sliding-window log of send times per bot (the
//! normalized webhook URL, so two contacts on one bot share a budget). A
//! sliding window, unlike a token bucket, never lets a burst after an idle
//! period exceed the platform's per-window limit.

use crate::config::RateLimit;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

#[derive(Default)]
pub struct Budgets {
    bots: Mutex<HashMap<String, VecDeque<i64>>>,
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

/// How long to wait before one more send fits every limit; 0 when it fits now.
pub fn wait_ms(log: &VecDeque<i64>, limits: &[RateLimit], now_ms: i64) -> i64 {
    let mut wait = 0;
    for l in limits {
        let window = l.per.as_millis() as i64;
        let in_window: Vec<i64> = log
            .iter()
            .copied()
            .filter(|t| *t > now_ms - window)
            .collect();
        if in_window.len() >= l.count as usize {
            // The send that must leave the window first.
            let oldest_blocking = in_window[in_window.len() - l.count as usize];
            wait = wait.max(oldest_blocking + window - now_ms);
        }
    }
    wait
}

impl Budgets {
    /// Takes one unit of the bot's budget if every limit allows it now;
    /// otherwise says how long to wait.
    pub fn try_take(&self, bot: &str, limits: &[RateLimit], now_ms: i64) -> Result<(), i64> {
        if limits.is_empty() {
            return Ok(());
        }
        let mut bots = self.bots.lock().unwrap_or_else(|p| p.into_inner());
        let log = bots.entry(bot.to_string()).or_default();
        let longest = limits
            .iter()
            .map(|l| l.per.as_millis() as i64)
            .max()
            .unwrap_or(0);
        while log.front().is_some_and(|t| *t <= now_ms - longest) {
            log.pop_front();
        }
        match wait_ms(log, limits, now_ms) {
            0 => {
                log.push_back(now_ms);
                Ok(())
            }
            w => Err(w),
        }
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
    fn bot_key_normalizes() {
        assert_eq!(
            bot_key("HTTPS://Example.COM:443/hook?k=1#x"),
            "https://example.com/hook?k=1"
        );
    }
}
