//! Figures for several units shown as one: a fan-out node's instances, or a folded run of
//! sibling nodes. They are summed here, beside the fold, so a view never adds money up itself.

use std::time::Duration;

use super::{RunState, Status};
use crate::money::Money;

/// What a set of units adds up to, so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub units: usize,
    pub settled: usize,
    pub failed: usize,
    pub skipped: usize,
    /// One status for the set: failed beats retrying beats running; settled when all are.
    pub status: Status,
    /// Cost so far (running calls at their estimate).
    pub cost: Money,
    /// Tokens so far (running calls' prompts and streamed tokens as estimates).
    pub tokens: u64,
    /// Whether any unit is still running (its cost is an estimate).
    pub active: bool,
    /// The distinct models that served them, in name order.
    pub models: Vec<String>,
    /// Earliest start, and latest finish once every started unit finished.
    pub start: Option<Duration>,
    pub end: Option<Duration>,
}

/// One status for several: what a person should notice first.
pub fn combined(sts: &[Status]) -> Status {
    if sts.is_empty() {
        Status::Queued
    } else if sts.contains(&Status::Retrying) {
        Status::Retrying
    } else if sts.iter().any(|s| s.is_active()) {
        Status::Running
    } else if sts.iter().all(|s| s.is_settled()) {
        if sts.contains(&Status::Failed) {
            Status::Failed
        } else if sts.iter().all(|s| *s == Status::Cached) {
            Status::Cached
        } else if sts.iter().all(|s| *s == Status::Skipped) {
            Status::Skipped
        } else {
            Status::Done
        }
    } else if sts.iter().any(|s| s.is_settled()) {
        Status::Running
    } else {
        Status::Queued
    }
}

impl RunState {
    /// A unit's tokens so far: billed once it settles, else its prompt estimate and what has
    /// streamed.
    pub fn unit_tokens(&self, idx: usize) -> u64 {
        let u = &self.units[idx];
        if u.status.is_settled() {
            u.billed_usage.total_input() + u.billed_usage.output
        } else {
            u.input_tokens_estimate + u.streamed_tokens
        }
    }

    /// A settled unit whose model the catalog does not price, though it used tokens or did
    /// not report them (a watched run's unknown model): its cost is unknown, never $0.
    pub fn unpriced(&self, idx: usize) -> bool {
        let u = &self.units[idx];
        u.status.is_settled() && (u.unreported || u.billed_usage.total_input() + u.billed_usage.output > 0) && self.model_unpriced(idx)
    }

    /// How many settled units are [`RunState::unpriced`] (counted by the fold).
    pub fn unpriced_count(&self) -> usize {
        self.totals.unpriced
    }

    /// A settled unit some of whose calls came without token counts (a watched call streamed
    /// without usage): its tokens and cost are at least what was reported, never a plain 0.
    pub fn unreported(&self, idx: usize) -> bool {
        let u = &self.units[idx];
        u.status.is_settled() && u.unreported
    }

    /// How many settled units are [`RunState::unreported`] (counted by the fold).
    pub fn unreported_count(&self) -> usize {
        self.totals.unreported
    }

    /// A unit [`RunState::unreported`] but priced: a unit whose cost is unknown is counted
    /// once, as unpriced when it is.
    pub fn uncounted_priced(&self, idx: usize) -> bool {
        self.unreported(idx) && !self.unpriced(idx)
    }

    /// How many settled units are [`RunState::uncounted_priced`] (counted by the fold).
    pub fn uncounted_priced_count(&self) -> usize {
        self.totals.uncounted_priced
    }

    /// The units that carry a node's work: its instances once it fanned out, else its own.
    pub fn work_units(&self, node: usize) -> &[usize] {
        let n = &self.nodes[node];
        if n.instances.is_empty() { std::slice::from_ref(&n.unit) } else { &n.instances }
    }

    /// The figures of `units` together.
    pub fn summary(&self, units: &[usize]) -> Summary {
        let sts: Vec<Status> = units.iter().map(|&i| self.units[i].status).collect();
        let mut models: Vec<&str> = units.iter().filter_map(|&i| self.units[i].model.as_deref()).collect();
        models.sort_unstable();
        models.dedup();
        let models: Vec<String> = models.into_iter().map(String::from).collect();
        let us = || units.iter().map(|&i| &self.units[i]);
        let all_done = us().all(|u| u.finished.is_some() || u.started.is_none());
        Summary {
            units: units.len(),
            settled: sts.iter().filter(|s| s.is_settled()).count(),
            failed: sts.iter().filter(|s| **s == Status::Failed).count(),
            skipped: sts.iter().filter(|s| **s == Status::Skipped).count(),
            status: combined(&sts),
            cost: units.iter().map(|&i| self.cost_so_far(i)).sum(),
            tokens: units.iter().map(|&i| self.unit_tokens(i)).sum(),
            active: sts.iter().any(|s| s.is_active()),
            models,
            start: us().filter_map(|u| u.started).min(),
            end: if all_done { us().filter_map(|u| u.finished).max() } else { None },
        }
    }

    /// The figures of several nodes together (each with its instances).
    pub fn nodes_summary(&self, nodes: &[usize]) -> Summary {
        let units: Vec<usize> = nodes.iter().flat_map(|&n| self.work_units(n)).copied().collect();
        self.summary(&units)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_status_for_many_puts_trouble_and_work_first() {
        use Status::*;
        assert_eq!(combined(&[Done, Retrying, Running]), Retrying);
        assert_eq!(combined(&[Done, Queued]), Running, "some settled, some not: under way");
        assert_eq!(combined(&[Done, Failed]), Failed);
        assert_eq!(combined(&[Cached, Cached]), Cached);
        assert_eq!(combined(&[Skipped, Skipped]), Skipped);
        assert_eq!(combined(&[Skipped, Done]), Done);
        assert_eq!(combined(&[Queued, Queued]), Queued);
        assert_eq!(combined(&[]), Queued);
    }
}
