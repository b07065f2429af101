//! Time, injected: the system clock, or a clock tests move forward.

use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time (epoch seconds).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in seconds since the Unix epoch.
    fn now(&self) -> i64;
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

/// Seconds since the epoch from the system clock.
pub fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        system_now()
    }
}

/// The system clock plus an offset that tests advance.
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset: AtomicI64,
}

impl OffsetClock {
    /// A clock at the system time.
    pub fn new() -> OffsetClock {
        OffsetClock::default()
    }

    /// Moves the clock forward.
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> i64 {
        system_now() + self.offset.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_clock_advances() {
        let c = OffsetClock::new();
        let t = c.now();
        c.advance(3600);
        assert!(c.now() >= t + 3600);
    }
}
