//! When to try again: exponential backoff with jitter, `Retry-After` when the
//! receiver asks for longer, never past the retry horizon. Pure.

use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
    pub horizon: Duration,
}

impl RetryPolicy {
    /// The delay before attempt `n + 1` after `n` failed attempts (n >= 1),
    /// before jitter: initial · 2^(n-1), capped at max.
    pub fn base_delay(&self, failed_attempts: u32) -> Duration {
        let shift = failed_attempts.saturating_sub(1).min(40);
        let initial = u64::try_from(self.initial.as_millis()).unwrap_or(u64::MAX);
        let max = u64::try_from(self.max.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(initial.saturating_mul(1u64 << shift).min(max))
    }

    /// When to try next, or None when the horizon has passed (give up).
    /// `jitter` in [0, 1): "equal jitter", the delay is between half and all
    /// of the base delay, so retries of many messages spread out but never
    /// collapse to zero.
    pub fn next_attempt(
        &self,
        failed_attempts: u32,
        created_ms: i64,
        now_ms: i64,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<i64> {
        let deadline = created_ms.saturating_add(crate::duration_ms(self.horizon));
        if now_ms >= deadline {
            return None;
        }
        let base = self.base_delay(failed_attempts).as_millis() as f64;
        // A float → integer cast saturates (no wrap), and `base` is bounded.
        #[allow(clippy::cast_possible_truncation)]
        let mut delay = (base / 2.0 + base / 2.0 * jitter.clamp(0.0, 1.0)) as i64;
        if let Some(after) = retry_after {
            delay = delay.max(crate::duration_ms(after));
        }
        Some(now_ms.saturating_add(delay.max(1)).min(deadline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
            horizon: Duration::from_secs(3600),
        }
    }

    #[test]
    fn exponential_and_capped() {
        let p = policy();
        assert_eq!(p.base_delay(1), Duration::from_secs(1));
        assert_eq!(p.base_delay(2), Duration::from_secs(2));
        assert_eq!(p.base_delay(5), Duration::from_secs(16));
        assert_eq!(p.base_delay(20), Duration::from_secs(300));
        assert_eq!(p.base_delay(1000), Duration::from_secs(300));
    }

    #[test]
    fn jitter_bounds() {
        let p = policy();
        assert_eq!(p.next_attempt(3, 0, 10_000, None, 0.0), Some(12_000));
        assert_eq!(p.next_attempt(3, 0, 10_000, None, 0.999_999), Some(13_999));
    }

    #[test]
    fn retry_after_wins_when_longer() {
        let p = policy();
        assert_eq!(
            p.next_attempt(1, 0, 0, Some(Duration::from_secs(30)), 0.5),
            Some(30_000)
        );
        assert_eq!(
            p.next_attempt(9, 0, 0, Some(Duration::from_millis(10)), 0.0),
            Some(128_000)
        );
    }

    #[test]
    fn a_huge_horizon_does_not_wrap_into_giving_up() {
        let p = RetryPolicy {
            horizon: Duration::from_millis(u64::MAX),
            ..policy()
        };
        let now = 1_700_000_000_000;
        assert_eq!(p.next_attempt(1, now, now, None, 0.0), Some(now + 500));
        let p = RetryPolicy {
            initial: Duration::from_millis(u64::MAX),
            max: Duration::from_millis(u64::MAX),
            ..policy()
        };
        assert!(p.next_attempt(3, now, now, None, 0.5).is_some());
    }

    #[test]
    fn horizon() {
        let p = policy();
        // Just inside: the next try is clamped to the horizon itself.
        assert_eq!(p.next_attempt(20, 0, 3_599_999, None, 0.5), Some(3_600_000));
        assert_eq!(p.next_attempt(1, 0, 3_600_000, None, 0.5), None);
        assert_eq!(
            p.next_attempt(1, 0, 3_500_000, Some(Duration::from_secs(7200)), 0.0),
            Some(3_600_000)
        );
    }
}
