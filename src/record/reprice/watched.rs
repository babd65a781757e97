//! Re-pricing a watched recording. The ordinary reprice re-runs a flow from its prompts; a
//! watched run's prompts are unknown (its flow holds placeholders), but its token counts are
//! known exactly: the application's calls reported them. So a watched run is re-priced from
//! those counts: under its own nominal strategy every node keeps the model the application
//! called and only the prices change; under another strategy each node moves to the model
//! that strategy's rules pick for it, with the same counts.

use std::sync::Arc;

use super::{NodeRow, RepriceReport, unit_cost};
use crate::event::{Event, RunEvent};
use crate::record::Recording;
use crate::report::ms;
use crate::routing::{Catalog, Decision, Strategy, route};
use crate::state::RunState;

/// The name of the nominal strategy a watched run is recorded with.
pub const WATCHED: &str = "watched";

/// Re-prices a watched recording from its reported token counts (see the module).
pub fn reprice_reported(rec: &Recording, strategy: Arc<Strategy>, catalog: Arc<Catalog>) -> (RepriceReport, RunState) {
    reported(rec, rec.state(), strategy, catalog)
}

pub(super) fn reported(rec: &Recording, before: RunState, strategy: Arc<Strategy>, catalog: Arc<Catalog>) -> (RepriceReport, RunState) {
    let keep_models = strategy.name == WATCHED;
    let pick = |node: usize, input: u64| -> Option<Decision> { (!keep_models).then(|| route(&strategy, &rec.flow.nodes[node], input)) };
    // Models recorded unpriced (a dated name the recorded catalog lacked) may match this one.
    let matcher = std::cell::RefCell::new(crate::watch::models::Matcher::new(&catalog));
    // The catalog's own name where it has one: the units of the re-priced run share it.
    let named = |m: String| -> Arc<str> { catalog.get(&m).map_or_else(|| m.into(), |x| x.id.clone()) };
    let events: Vec<RunEvent> = rec
        .events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            match &mut e.kind {
                Event::NodeStarted { unit, decision, input_tokens, .. } => {
                    if let Some(d) = pick(unit.index(), *input_tokens) {
                        *decision = Arc::new(d);
                    }
                }
                // A step without model calls has nothing to move.
                Event::NodeFinished { unit, model, usage, .. } if &**model != crate::event::NO_MODEL => {
                    match pick(unit.index(), usage.total_input()) {
                        Some(d) => *model = named(d.model),
                        None => {
                            if let Some(m) = matcher.borrow_mut().get(model) {
                                *model = named(m);
                            }
                        }
                    }
                }
                _ => {}
            }
            e
        })
        .collect();
    let after = RunState::new(rec.flow.clone(), strategy.clone(), catalog.clone(), rec.header.run, rec.header.attempt).fold(&events);
    let nodes: Vec<NodeRow> = (0..after.units.len())
        .map(|i| {
            let (old, u) = (&before.units[i], &after.units[i]);
            let mut estimated = Vec::new();
            if old.model != u.model {
                estimated.push("tokens (the recorded counts; another model would read and write a different number)");
                estimated.push("latency (the recorded one)");
            }
            if after.unpriced(i) {
                estimated.push("cost (the model is not in the catalog: unpriced)");
            }
            NodeRow {
                id: u.label.clone(),
                recorded_model: old.model.as_deref().map(String::from),
                model: u.model.as_deref().map(String::from),
                rule: u.decision.as_ref().map(|d| d.rule_label.to_string()),
                recorded_input_tokens: old.billed_usage.total_input(),
                input_tokens: u.billed_usage.total_input(),
                output_tokens: u.billed_usage.output,
                recorded_cost_usd: unit_cost(&before, i),
                cost_usd: unit_cost(&after, i),
                tokens_unreported: u.unreported,
                recorded_latency_ms: old.latency.map(ms),
                latency_ms: u.latency.map(ms),
                status: u.status.name(),
                estimated,
            }
        })
        .collect();
    let unpriced = after.unpriced_count();
    let mut estimates = vec![
        "Token counts are the ones the watched application's calls reported, kept as they were: exact for the models it called."
            .to_string(),
        "Prices are the catalog's, applied to those counts.".to_string(),
    ];
    if keep_models {
        estimates.push("Every node keeps the model the application called; only prices change.".to_string());
    } else {
        estimates.push(format!(
            "Each node moves to the model '{}' picks for it, with the same token counts and latencies (another model would differ: estimate).",
            strategy.name
        ));
    }
    if unpriced > 0 {
        estimates.push(format!("{unpriced} node(s) use a model the catalog lacks: unpriced, their cost unknown and the total with it; add it with --catalog FILE."));
    }
    let uncounted = after.unreported_count();
    if uncounted > 0 {
        estimates.push(format!(
            "{uncounted} node(s) had calls that reported no token counts: their tokens (and the cost of those priced), and the totals, are lower bounds."
        ));
    }
    let report = RepriceReport::new(rec, &before, &after, nodes, estimates);
    (report, after)
}
