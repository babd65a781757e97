//! Provider health: how each model has been doing in this run, and when a model that keeps
//! failing rests so its fallbacks serve meanwhile.
//!
//! The run owns the map and every call of the run borrows it. The map sits behind a `Mutex`
//! for one reason: the live screen `tokio::spawn`s the run onto the multi-thread runtime, so
//! the run's future must be `Send`, which a `RefCell` shared between the calls would not be.
//! The lock is never contended: every call is a future polled by the scheduler's own task, one
//! at a time, and no guard is held across an `.await`. A poisoned lock (which cannot happen
//! without a panic in these few lines) reads as "all healthy".

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::routing::catalog::Limits;

/// How a model has been doing in this run: failures in a row, and when its rest ends.
#[derive(Debug, Default, Clone, Copy)]
struct Record {
    failures: u32,
    until: Option<Duration>,
}

/// The health of every model a run has seen fail.
#[derive(Debug, Default)]
pub(super) struct Health {
    /// Whether any call has failed yet: until one does, every model is healthy and nobody
    /// takes the lock (twice a call, 3% of a simulated node, `perf`).
    any: AtomicBool,
    map: Mutex<HashMap<String, Record>>,
}

impl Health {
    /// Until when `model` rests, if it was ever rested (the time may be past).
    pub(super) fn resting_until(&self, model: &str) -> Option<Duration> {
        if !self.any.load(Ordering::Relaxed) {
            return None;
        }
        self.map.lock().ok().and_then(|h| h.get(model).and_then(|x| x.until))
    }

    /// A call on `model` succeeded: its run of failures is over.
    pub(super) fn healthy(&self, model: &str) {
        if !self.any.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut h) = self.map.lock() {
            h.remove(model);
        }
    }

    /// `model` gave up on a call at `now`: count it, and when it has failed `cooldown_after`
    /// times in a row and is not resting already, rest it. Returns when a new rest ends.
    pub(super) fn failed(&self, model: &str, limits: Limits, now: Duration) -> Option<Duration> {
        self.any.store(true, Ordering::Relaxed);
        self.map.lock().ok().and_then(|mut h| {
            let entry = h.entry(model.to_string()).or_default();
            entry.failures += 1;
            if entry.failures >= limits.cooldown_after && entry.until.is_none_or(|u| u <= now) {
                entry.until = Some(now + limits.cooldown);
                entry.failures = 0;
                entry.until
            } else {
                None
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_rests_after_failing_in_a_row_and_a_success_forgives() {
        let limits = Limits { cooldown_after: 2, cooldown: Duration::from_secs(30), ..Limits::default() };
        let h = Health::default();
        let t = Duration::from_secs(1);
        assert_eq!(h.failed("m", limits, t), None);
        h.healthy("m");
        assert_eq!(h.failed("m", limits, t), None, "a success resets the count");
        assert_eq!(h.failed("m", limits, t), Some(t + limits.cooldown));
        assert_eq!(h.resting_until("m"), Some(t + limits.cooldown));
        // While resting, failures count but do not extend the rest.
        assert_eq!(h.failed("m", limits, t), None);
        assert_eq!(h.failed("m", limits, t), None);
        assert_eq!(h.resting_until("other"), None);
    }
}
