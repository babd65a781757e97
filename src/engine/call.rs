//! One unit's calls: what it was given (its routing decision, its input, an output to serve
//! instead), how it reports what happens as events, and the rules its tries follow (the
//! candidates in order, backoff with jitter, resting a failing model). `tries` runs them.

use std::sync::Arc;
use std::time::Duration;

use super::RunSpec;
use super::health::Health;
use super::sink::Sink;
use super::store::Served;
use super::vtime::Start;
use crate::event::{Event, Origin, RunEvent, Unit};
use crate::money::Money;
use crate::provider::CallError;
use crate::provider::Providers;
use crate::provider::rng::{Rng, hash_str};
use crate::routing::Decision;

/// What a finished unit hands back to the scheduler.
pub(super) struct Done {
    pub(super) unit: Unit,
    /// Billed cost of every call the unit made.
    pub(super) cost: Money,
    /// The estimate reserved against the budget when it started.
    pub(super) reserved: Money,
    pub(super) result: Result<Finished, ()>,
    /// The rendered prompt, for later nodes' history (kept only in the full-history mode).
    pub(super) prompt: Option<Arc<str>>,
}

/// A unit's kept output, and whether its checks passed.
pub(super) struct Finished {
    pub(super) output: Arc<str>,
    pub(super) passed: bool,
}

/// What one unit's calls were given, and how they report; `Tries` runs them.
pub(super) struct Call<'a, S> {
    pub(super) spec: &'a RunSpec,
    pub(super) providers: &'a Providers,
    pub(super) sink: &'a S,
    /// The run's clock: its start, on virtual or real time.
    pub(super) clock: &'a Start,
    pub(super) unit: Unit,
    pub(super) decision: Arc<Decision>,
    /// The catalog index of the decision's model, if the catalog has it.
    pub(super) model_index: Option<usize>,
    pub(super) parts: Arc<[(Origin, Arc<str>)]>,
    pub(super) input_tokens: u64,
    pub(super) item: Option<(u32, Arc<str>)>,
    pub(super) task: u64,
    pub(super) reserved: Money,
    pub(super) prompt: Option<Arc<str>>,
    /// An output to serve instead of calling (boxed: most calls have none).
    pub(super) hit: Option<Box<Served>>,
    pub(super) key: u64,
    pub(super) health: &'a Health,
}

impl<'a, S: Sink> Call<'a, S> {
    pub(super) fn emit(&self, kind: Event) {
        self.emit_at(self.clock.elapsed(), kind)
    }

    /// This unit's event at `at`, as every emit makes it.
    #[inline(always)]
    pub(super) fn event(&self, at: Duration, kind: Event) -> RunEvent {
        RunEvent { run: self.spec.run_id, attempt: self.spec.attempt, at, kind }
    }

    /// Emits with a time already read, so a moment read for a measurement is its event's too.
    /// (A streamed piece shown to a sink that only reads events is handed over in `attempt`
    /// instead.)
    #[inline(always)]
    pub(super) fn emit_at(&self, at: Duration, kind: Event) {
        // A closed sink means nobody is listening: the scheduler notices when it next emits or
        // hands events over, and stops.
        self.sink.send(self.event(at, kind));
    }

    /// The unit gives up on `from`: reports the move to the next candidate, if there is one
    /// (the last candidate's failure is reported as the unit's).
    pub(super) fn fall_back(&self, from: &str, next: Option<&str>, reason: String) {
        if let Some(to) = next {
            self.emit(Event::NodeFallback { unit: self.unit, from: from.to_string(), to: to.to_string(), reason });
        }
    }

    /// A model gave up on a call: count it, and rest the model when it keeps failing.
    pub(super) fn gave_up(&self, model: &str, provider: crate::routing::ProviderKind, e: &CallError) {
        let limits = self.spec.catalog.limits(provider);
        let now = self.clock.elapsed();
        if let Some(until) = self.health.failed(model, limits, now) {
            let reason = format!("{} calls in a row failed (last: {e})", limits.cooldown_after);
            self.emit(Event::ModelCooldown { model: model.to_string(), until, reason });
        }
    }

    /// Exponential backoff with jitter, never shorter than the server's Retry-After. The jitter
    /// is seeded so simulated runs stay reproducible.
    pub(super) fn backoff(&self, e: &CallError, try_no: u32, model: &str) -> Duration {
        let r = self.spec.strategy.retry;
        let exp = r.backoff.saturating_mul(1u32 << (try_no - 1).min(16)).min(r.max_backoff);
        let item = self.unit.item.map_or(0, |k| u64::from(k) + 1);
        let mut rng = Rng::keyed(&[self.spec.seed, self.task, u64::from(self.unit.node), item, hash_str(model), u64::from(try_no)]);
        let jittered = exp.mul_f64(0.5 + 0.5 * rng.next_f64());
        jittered.max(e.retry_after.unwrap_or(Duration::ZERO))
    }
}

/// The decision's model at position `k`: the decided one (0), else fallback `k - 1`.
pub(super) fn candidate_at(d: &Decision, k: usize) -> &str {
    if k == 0 { &d.model } else { &d.fallbacks[k - 1] }
}

/// The models a unit may try, in order: the decided one (position 0), then each fallback not
/// already tried. Returns the position of the first candidate at `from` or later (its model:
/// [`candidate_at`]).
pub(super) fn next_candidate(d: &Decision, from: usize) -> Option<usize> {
    (from..=d.fallbacks.len()).find(|&k| {
        if k == 0 {
            return true;
        }
        let f = &d.fallbacks[k - 1];
        *f != d.model && !d.fallbacks[..k - 1].contains(f)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(model: &str, fallbacks: &[&str]) -> Decision {
        Decision {
            rule: None,
            rule_label: "default".into(),
            reason: "test".into(),
            model: model.to_string(),
            fallbacks: fallbacks.iter().map(|f| f.to_string()).collect(),
            input_tokens: 0,
        }
    }

    fn candidates(d: &Decision) -> Vec<&str> {
        let mut out = Vec::new();
        let mut c = next_candidate(d, 0);
        while let Some(k) = c {
            out.push(candidate_at(d, k));
            c = next_candidate(d, k + 1);
        }
        out
    }

    #[test]
    fn candidates_are_the_model_then_new_fallbacks_in_order() {
        assert_eq!(candidates(&decision("a", &[])), ["a"]);
        assert_eq!(candidates(&decision("a", &["b", "c"])), ["a", "b", "c"]);
        // Repeats of the model or of an earlier fallback are tried once.
        assert_eq!(candidates(&decision("a", &["a", "b", "b", "c", "a"])), ["a", "b", "c"]);
    }
}
