//! Time, injected: the engine never reads the system clock itself, so tests move time and
//! hosts pass their own (a Keycloak-style server's clock with its test offset, WASI's clock).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The earliest time the engine accepts from a clock: 2020-01-01T00:00:00Z.
pub const MIN_CLOCK: u64 = 1_577_836_800;
/// The latest time the engine accepts from a clock: 9999-12-31T23:59:59Z. Every sum of a time
/// and a policy span (at most a year) then stays far below `u64::MAX`.
pub const MAX_CLOCK: u64 = 253_402_300_799;

/// Seconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// The current time in Unix seconds.
    fn now(&self) -> u64;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }
}

/// A clock that moves only when told to: for tests and for hosts with their own notion of time.
/// Clones share one time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: u64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(now)))
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The clock's time if it is in the range the engine accepts ([`MIN_CLOCK`]..=[`MAX_CLOCK`]):
/// a host clock that is unset (0), wrapped or corrupt is an error, not a time to compute with.
pub(crate) fn checked_now(clock: &dyn Clock) -> Result<u64, crate::Error> {
    let now = clock.now();
    if (MIN_CLOCK..=MAX_CLOCK).contains(&now) {
        Ok(now)
    } else {
        Err(crate::Error::ClockOutOfRange)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_clones_share_time() {
        let c = ManualClock::new(100);
        let d = c.clone();
        c.advance(5);
        assert_eq!(d.now(), 105);
        d.set(7);
        assert_eq!(c.now(), 7);
        assert!(SystemClock.now() > 1_700_000_000);
    }

    #[test]
    fn times_outside_2020_to_9999_are_errors() {
        for bad in [0, MIN_CLOCK - 1, MAX_CLOCK + 1, u64::MAX] {
            assert_eq!(checked_now(&ManualClock::new(bad)), Err(crate::Error::ClockOutOfRange), "{bad}");
        }
        for good in [MIN_CLOCK, 1_800_000_000, MAX_CLOCK] {
            assert_eq!(checked_now(&ManualClock::new(good)), Ok(good));
        }
    }
}
