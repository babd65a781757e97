//! Headless reports: a run's per-node table and totals, and a batch's aggregates, as text or as
//! JSON. Built only from folded [`RunState`]s, so they agree with every other view.
//!
//! - `json`: the JSON report of one run ([`RunReport`]), the schema `baton run --format json`
//!   prints.
//! - `table`: text tables for people ([`Table`], [`run_table`]) and the number formats they share.
//! - `batch`: many runs of one flow totalled ([`BatchAccumulator`] into a [`BatchReport`]).

mod batch;
mod json;
mod table;

use std::time::Duration;

use crate::money::Money;
use crate::state::RunState;

pub use batch::*;
pub use json::*;
pub use table::*;

/// Milliseconds with one decimal, for JSON (every report uses this one).
pub fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64 / 100.0).round() / 10.0
}

pub(crate) fn usd(m: Money) -> f64 {
    m.usd()
}

/// For serde's `skip_serializing_if`: a count that is zero is left out of every JSON report.
pub(crate) fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

/// The units a report lists, in topological order: each node, or each instance of a fan-out
/// node that expanded.
pub fn listed_units(s: &RunState) -> Vec<usize> {
    let mut out = Vec::with_capacity(s.units.len());
    for &n in &s.flow.order {
        let node = &s.nodes[n];
        if node.instances.is_empty() {
            out.push(node.unit);
        } else {
            out.extend(node.instances.iter().copied());
        }
    }
    out
}
