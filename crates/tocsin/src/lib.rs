//! Tocsin: a self-hosted security-alert router.
//!
//! The modules follow the journey of an alert:
//! [`ingest`] (wire formats in) → [`route`] (push switches, subscriptions) →
//! [`dispatch`] (per-contact outbox workers, retries, rate budgets) →
//! [`notify`] (one module per channel behind the [`notify::Notifier`] trait),
//! with [`store`] (history and outbox) beside them and [`api`] / [`cli`] on top.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod domain;
pub mod event;
pub mod explain;
// The checklist and the forecasts live beside explain; these keep their short paths.
pub use explain::{doctor, dryrun};
pub mod ingest;
pub mod manage;
pub mod metrics;
pub mod notify;
pub mod route;
pub mod schedule;
pub mod server;
pub mod store;
pub mod template_check;
pub mod timefmt;
pub mod tls;

/// What `tocsin --version` prints after the name: the crate version, the
/// commit it was built from and that commit's date (see build.rs; "unknown"
/// outside a git checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("TOCSIN_COMMIT"),
    ", built ",
    env!("TOCSIN_BUILD_DATE"),
    ")"
);

/// Installs the process-wide TLS crypto provider (ring). Must run before any
/// TLS client is built; calling it twice is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Milliseconds since the Unix epoch, from the system clock: for the CLI's
/// edges and platform answers only. The server reads its [`clock::Clock`]
/// (from [`app::ServeOptions::clock`]); pure code takes `now` as a parameter.
pub fn now_ms() -> i64 {
    use clock::Clock as _;
    clock::SystemClock.now_ms()
}

/// A count or size as the i64 the store and the metrics use, saturating at
/// `i64::MAX` instead of wrapping into negative numbers.
pub fn saturating_i64<T: TryInto<i64>>(n: T) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// A count read back from the store (never negative there), as a u32.
pub fn stored_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// A duration in whole milliseconds as the i64 the store and the clocks use,
/// saturating at `i64::MAX` instead of wrapping into negative numbers.
pub fn duration_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// How long in-flight requests and sends get at shutdown, together. What is
/// left of the README's 5 s after it commits the last attempt records and
/// stops the runtime.
pub fn dispatch_grace() -> std::time::Duration {
    std::time::Duration::from_millis(4_500)
}
