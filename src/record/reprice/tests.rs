//! Re-pricing's unit tests: the stash, and how a side's cost reads.

use super::*;
use crate::diag::Source;
use crate::event::{Event, RunEvent};
use std::time::Duration;

/// A side's cost reads "unknown" once for a node whose model has no price, though its
/// calls also came without token counts; "at least" (`+?`) is for priced nodes only.
#[test]
fn a_node_of_unknown_cost_is_not_also_counted_as_a_lower_bound() {
    let text = include_str!("../../../tests/fixtures/flows/fold.toml");
    let flow = Arc::new(crate::flow::parse_flow(&Source::new("fold.toml", text)).unwrap_or_else(|e| panic!("{e}")).0);
    let catalog = Arc::new(Catalog::builtin());
    let strategy = crate::shapes::strategy(&catalog, "gpt-5-nano");
    let mut st = RunState::new(flow, strategy, catalog, 1, 1);
    let (a, b) = (Unit::node(0), Unit::node(1));
    let uncounted = |unit, model: &str| Event::NodeFinished {
        unit,
        model: model.into(),
        usage: Usage { input: 10, ..Usage::default() },
        estimated: false,
        ttft: Duration::ZERO,
        latency: Duration::from_millis(5),
        output: Arc::from("out"),
        checks: Vec::new(),
        cached: false,
        unreported: true,
    };
    let fold = |st: &mut RunState, kind| assert!(st.apply(&RunEvent { run: 1, attempt: 1, at: Duration::from_secs(1), kind }));
    fold(&mut st, Event::RunStarted { flow: "fold".into(), strategy: "naive".into(), seed: 1, input: "q".into() });
    fold(&mut st, uncounted(a, "acme-7b"));
    let one = side(&st);
    assert_eq!((one.nodes_unpriced, one.nodes_unreported), (1, 1));
    assert_eq!(one.cost_text(), "unpriced (1)");
    // The run's table says the cost is unknown, and that the node's tokens are a floor.
    let table = crate::report::run_table(&st);
    assert!(table.contains("cost unknown: 1 node(s)") && table.contains("at least: 1 node(s)"), "{table}");
    // A priced node without counts makes what is priced a lower bound.
    fold(&mut st, uncounted(b, "gpt-5-nano"));
    let two = side(&st);
    assert_eq!((two.nodes_unpriced, two.nodes_unreported), (1, 2));
    assert!(two.cost_text().ends_with("+1 unpriced+?"), "{}", two.cost_text());
}
