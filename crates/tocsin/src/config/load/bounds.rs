//! The bounds of every duration and size key (README's "Bounds" table),
//! and how a value outside them is reported.

use std::time::Duration;

pub(super) const SEC: u64 = 1_000;
pub(super) const MIN: u64 = 60 * SEC;
pub(super) const HOUR: u64 = 60 * MIN;
pub(super) const DAY: u64 = 24 * HOUR;

/// Lower and upper bounds (inclusive, in milliseconds) of a duration key.
/// Every value stays far below `i64::MAX` milliseconds, so time arithmetic on
/// them cannot wrap. README's "Bounds" table lists the same numbers.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub min_ms: u64,
    pub max_ms: u64,
}

pub const RETENTION: Bounds = Bounds {
    min_ms: HOUR,
    max_ms: 3650 * DAY,
};
pub const TIMEOUT: Bounds = Bounds {
    min_ms: 1,
    max_ms: 10 * MIN,
};
pub const RETRY_HORIZON: Bounds = Bounds {
    min_ms: 1,
    max_ms: 30 * DAY,
};
pub const BACKOFF: Bounds = Bounds {
    min_ms: 1,
    max_ms: DAY,
};
pub const REMOVED_CONTACT_GRACE: Bounds = Bounds {
    min_ms: 0,
    max_ms: 7 * DAY,
};
pub const MERGE_WINDOW: Bounds = Bounds {
    min_ms: 1,
    max_ms: 7 * DAY,
};
pub const SILENCE: Bounds = Bounds {
    min_ms: 1,
    max_ms: 365 * DAY,
};
pub const RATE_LIMIT_REST: Bounds = Bounds {
    min_ms: 1_000,
    max_ms: DAY,
};
pub const RATE_WINDOW: Bounds = Bounds {
    min_ms: 1,
    max_ms: DAY,
};
/// `server.max_body`, in bytes.
pub const MAX_BODY_MAX: u64 = 256 << 20;
pub const HEADER_TIMEOUT: Bounds = Bounds {
    min_ms: 100,
    max_ms: 10 * MIN,
};
pub const BODY_TIMEOUT: Bounds = Bounds {
    min_ms: 100,
    max_ms: HOUR,
};
pub const IDLE_TIMEOUT: Bounds = Bounds {
    min_ms: 0,
    max_ms: HOUR,
};

/// Inclusive limits of a count key.
#[derive(Clone, Copy, Debug)]
pub struct CountBounds {
    pub min: u32,
    pub max: u32,
}

/// `server.max_connections`: one regular slot and one for the short lane
/// at least (see server/http.rs).
pub const MAX_CONNECTIONS: CountBounds = CountBounds {
    min: 2,
    max: 1_000_000,
};
pub const MAX_CONCURRENT_INGEST: CountBounds = CountBounds {
    min: 1,
    max: 10_000,
};

/// `90d`, `10m`, `1500ms`: the largest unit that divides the value evenly.
pub(super) fn show_ms(ms: u64) -> String {
    for (unit, size) in [("d", DAY), ("h", HOUR), ("m", MIN), ("s", SEC)] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// None when `d` is within `b`, else what is wrong with it.
pub(super) fn out_of_bounds(d: Duration, b: Bounds) -> Option<String> {
    let ms = d.as_millis();
    if ms > u128::from(b.max_ms) {
        Some(format!("must be at most {}", show_ms(b.max_ms)))
    } else if ms < u128::from(b.min_ms) {
        Some(if b.min_ms == 1 {
            "must be longer than 0".to_string()
        } else {
            format!("must be at least {}", show_ms(b.min_ms))
        })
    } else {
        None
    }
}
