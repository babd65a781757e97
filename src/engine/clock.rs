//! The run's clock: virtual time for a simulated run (`vtime`), tokio's clock otherwise. Every
//! time the engine reports or waits for is measured from the run's start.

use std::time::Duration;

use super::vtime::{self, Sleep, Start};

pub(super) struct Clock {
    start: Start,
}

impl Clock {
    pub(super) fn new() -> Clock {
        Clock { start: Start::now() }
    }

    /// Time since the run started.
    pub(super) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// A wait of `d` from now.
    pub(super) fn sleep(&self, d: Duration) -> Sleep {
        vtime::sleep(d)
    }

    /// A wait until `at` after the run's start.
    pub(super) fn sleep_until(&self, at: Duration) -> Sleep {
        self.start.sleep_until(at)
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn on_tokio_the_clock_is_tokios() {
        let clock = Clock::new();
        tokio::time::advance(Duration::from_millis(5)).await;
        assert_eq!(clock.elapsed(), Duration::from_millis(5));
        clock.sleep_until(Duration::from_millis(9)).await;
        assert_eq!(clock.elapsed(), Duration::from_millis(9));
    }

    #[test]
    fn on_virtual_time_the_clock_is_virtual() {
        let seen = super::vtime::block_on(async {
            super::vtime::sleep(Duration::from_millis(3)).await;
            let clock = Clock::new();
            clock.sleep(Duration::from_micros(1200)).await;
            let a = clock.elapsed();
            clock.sleep_until(Duration::from_millis(7)).await;
            (a, clock.elapsed())
        });
        assert_eq!(seen, (Duration::from_millis(2), Duration::from_millis(7)));
    }
}
