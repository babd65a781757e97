//! The run's clock, read once per wake-up on the simulator's paused clock.
//!
//! tokio's paused clock takes a lock on every read, and a simulated node read it about eight
//! times (13% of the engine's time a node, `perf record` of `peer_shapes serve`). A paused clock
//! only moves while the runtime is parked, that is between two polls of the run, never inside
//! one: so within a poll the first reading is the reading, and the run forgets it when it is
//! polled next. On a real clock every read goes to the clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

pub(super) struct Clock {
    start: Instant,
    /// Only when the clock is paused (every model simulated): reuse a reading within a poll.
    reuse: bool,
    /// Nanoseconds since `start`, plus one, of this poll's reading; 0 when none was taken.
    /// Atomic rather than a `Cell` so the run's future stays `Send`.
    read: AtomicU64,
}

impl Clock {
    pub(super) fn new(paused: bool) -> Clock {
        Clock { start: Instant::now(), reuse: paused, read: AtomicU64::new(0) }
    }

    /// Time since the run started.
    pub(super) fn elapsed(&self) -> Duration {
        if !self.reuse {
            return self.start.elapsed();
        }
        match self.read.load(Ordering::Relaxed) {
            0 => {
                let e = self.start.elapsed();
                // Beyond 584 years of nanoseconds, just read again next time.
                if let Some(n) = u64::try_from(e.as_nanos()).ok().and_then(|n| n.checked_add(1)) {
                    self.read.store(n, Ordering::Relaxed);
                }
                e
            }
            n => Duration::from_nanos(n - 1),
        }
    }

    /// When the run started.
    pub(super) fn start(&self) -> Instant {
        self.start
    }

    /// The current instant, as [`Clock::elapsed`] reads it.
    pub(super) fn now(&self) -> Instant {
        self.start + self.elapsed()
    }

    /// The run is being polled again: the clock may have moved.
    pub(super) fn forget(&self) {
        self.read.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_paused_reading_is_kept_until_forgotten() {
        let clock = Clock::new(true);
        let first = clock.elapsed();
        tokio::time::advance(Duration::from_millis(5)).await;
        assert_eq!(clock.elapsed(), first, "read again within the poll");
        clock.forget();
        assert_eq!(clock.elapsed(), first + Duration::from_millis(5));
        assert_eq!(clock.now(), clock.start + first + Duration::from_millis(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_real_clock_is_read_every_time() {
        let clock = Clock::new(false);
        let first = clock.elapsed();
        tokio::time::advance(Duration::from_millis(5)).await;
        assert_eq!(clock.elapsed(), first + Duration::from_millis(5));
    }
}
