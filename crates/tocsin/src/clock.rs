//! The server's source of time. Everything on the server's path (ingest's
//! `received_at`, the workers' timers, backoff and budgets, pruning) reads
//! the time from one [`Clock`], so tests can drive noise windows, backoff and
//! schedules with a [`ManualClock`] instead of sleeping. Pure decision
//! functions keep taking `now` as a parameter.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A future that completes once the clock has reached an instant.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of wall-clock time and of timers on that time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Completes once `now_ms() >= at_ms` (at once when it already is).
    fn sleep_until(&self, at_ms: i64) -> Sleep;
}

/// A clock shared by the parts of one server.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock (what users run).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| crate::saturating_i64(d.as_millis()))
            .unwrap_or(0)
    }

    fn sleep_until(&self, at_ms: i64) -> Sleep {
        let wait = (at_ms - self.now_ms()).max(0) as u64;
        Box::pin(tokio::time::sleep(Duration::from_millis(wait)))
    }
}

/// The system clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that only moves when told to (tests). Sleepers wake exactly when
/// [`ManualClock::advance`] or [`ManualClock::set`] moves the time to or past
/// their instant, never on their own.
pub struct ManualClock {
    now: watch::Sender<i64>,
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now_ms", &*self.now.borrow())
            .finish()
    }
}

impl ManualClock {
    /// A clock standing at `start_ms`.
    pub fn new(start_ms: i64) -> Arc<ManualClock> {
        let (now, _) = watch::channel(start_ms);
        Arc::new(ManualClock { now })
    }

    /// A clock standing at the system clock's current time (signatures that
    /// platforms check against their own clock stay valid).
    pub fn starting_now() -> Arc<ManualClock> {
        ManualClock::new(SystemClock.now_ms())
    }

    /// The time it stands at.
    pub fn now_ms(&self) -> i64 {
        *self.now.borrow()
    }

    /// Moves the time forward by `by` and wakes every sleeper now due.
    pub fn advance(&self, by: Duration) {
        let by = crate::duration_ms(by);
        self.now.send_modify(|t| *t += by);
    }

    /// Moves the time to `at_ms` (never backwards) and wakes every sleeper now due.
    pub fn set(&self, at_ms: i64) {
        self.now.send_modify(|t| *t = (*t).max(at_ms));
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        ManualClock::now_ms(self)
    }

    fn sleep_until(&self, at_ms: i64) -> Sleep {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            if rx.wait_for(|now| *now >= at_ms).await.is_err() {
                // The clock is gone: its time never comes.
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_sleeper_wakes_only_when_the_clock_reaches_its_instant() {
        let clock = ManualClock::new(1_000);
        let mut sleep = clock.sleep_until(1_500);
        let poll_once = |s: &mut Sleep| {
            let waker = futures_noop_waker();
            let mut cx = std::task::Context::from_waker(&waker);
            s.as_mut().poll(&mut cx).is_ready()
        };
        assert!(!poll_once(&mut sleep));
        clock.advance(Duration::from_millis(499));
        assert!(!poll_once(&mut sleep));
        clock.advance(Duration::from_millis(1));
        assert!(poll_once(&mut sleep));
        assert_eq!(clock.now_ms(), 1_500);
        // Already due: at once.
        assert!(poll_once(&mut clock.sleep_until(1_200)));
        // Never backwards.
        clock.set(10);
        assert_eq!(clock.now_ms(), 1_500);
    }

    #[tokio::test]
    async fn advancing_wakes_a_waiting_task() {
        let clock = ManualClock::new(0);
        let sleep = clock.sleep_until(60_000);
        let woke = tokio::spawn(sleep);
        tokio::task::yield_now().await;
        assert!(!woke.is_finished());
        clock.advance(Duration::from_secs(60));
        woke.await.expect("the sleeper wakes");
    }

    fn futures_noop_waker() -> std::task::Waker {
        std::task::Waker::noop().clone()
    }
}
