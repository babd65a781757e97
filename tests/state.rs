//! Properties of the fold, the one place every figure is computed: whatever events arrive, in
//! whatever order, the run's totals are the sums over its units and nodes. (The fold's rules,
//! event by event, are unit-tested in `src/state.rs`; replay and re-pricing in `tests/record.rs`.)

mod common;

use std::sync::Arc;
use std::time::Duration;

use baton::event::{Event, Outcome, RunEvent, SkipReason, Unit};
use baton::flow::CheckResult;
use baton::money::Money;
use baton::routing::{Cost, Usage};
use baton::state::{RunState, Status};
use common::*;
use proptest::prelude::*;

const FLOWS: [&str; 4] = ["research-assistant", "code-review", "doc-digest", "support-triage"];
const STRATEGIES: [&str; 5] = ["naive", "smart", "cascade", "local", "premium-parallel"];

/// `a` and `b` in a row, and `each` fanning out over `a`.
const FLOW: &str = include_str!("fixtures/flows/fold.toml");

const MODELS: [&str; 4] = ["gpt-5-nano", "claude-opus-4-1", "gemini-2.5-flash-lite", "not-in-the-catalog"];

/// The units an event may name once `each` has expanded into two instances (its own unit
/// included: the engine fails or skips a group as a whole).
const UNITS: [Unit; 5] = [
    Unit { node: 0, item: None },
    Unit { node: 1, item: None },
    Unit { node: 2, item: None },
    Unit { node: 2, item: Some(0) },
    Unit { node: 2, item: Some(1) },
];

fn usage() -> impl Strategy<Value = Usage> {
    (0u64..5000, 0u64..500, 0u64..500, 0u64..2000).prop_map(|(input, cached, cache_write, output)| Usage {
        input,
        cached,
        cache_write,
        output,
        reasoning: output / 4,
    })
}

/// Any event about one of [`UNITS`], in any order: what the fold must survive even when the
/// engine would never send it so.
fn event() -> impl Strategy<Value = Event> {
    let unit = (0usize..UNITS.len()).prop_map(|i| UNITS[i]);
    let model = (0usize..MODELS.len()).prop_map(|i| MODELS[i].to_string());
    prop_oneof![
        (unit.clone(), model.clone()).prop_map(|(unit, model)| {
            let decision = baton::routing::Decision {
                rule: None,
                rule_label: "default".into(),
                reason: "test".into(),
                model,
                fallbacks: Vec::new(),
                input_tokens: 0,
            };
            Event::NodeStarted { unit, decision: Arc::new(decision), context: Vec::new().into(), input_tokens: 100 }
        }),
        (unit.clone(), model.clone(), usage(), any::<bool>()).prop_map(|(unit, model, usage, estimated)| Event::NodeBilled {
            unit,
            model,
            usage,
            estimated
        }),
        (unit.clone(), model.clone(), model.clone(), usage()).prop_map(|(unit, from, to, usage)| Event::NodeEscalated {
            unit,
            from,
            to,
            usage,
            failed: vec!["check".into()]
        }),
        (unit.clone(), model.clone(), usage(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(unit, model, usage, cached, passed, unreported)| {
                Event::NodeFinished {
                    unit,
                    model: model.into(),
                    usage,
                    estimated: false,
                    ttft: Duration::from_millis(50),
                    latency: Duration::from_millis(300),
                    output: Arc::from("out"),
                    checks: vec![CheckResult { check: "check".into(), passed, detail: None }],
                    cached,
                    unreported,
                }
            }
        ),
        (unit.clone(), model.clone()).prop_map(|(unit, model)| Event::NodeRetry {
            unit,
            model,
            try_no: 1,
            error: "503".into(),
            backoff: Duration::from_millis(200)
        }),
        (unit.clone(), model.clone(), model.clone()).prop_map(|(unit, from, to)| Event::NodeFallback {
            unit,
            from,
            to,
            reason: "down".into()
        }),
        unit.clone().prop_map(|unit| Event::NodeWaiting { unit, why: "slot".into() }),
        (unit.clone(), 0u64..5000).prop_map(|(unit, ms)| Event::NodeSent { unit, queued: Duration::from_millis(ms) }),
        (unit.clone(), 0u64..100).prop_map(|(unit, n)| Event::NodeDelta { unit, text: "x".into(), output_tokens: n }),
        unit.clone().prop_map(|unit| Event::NodeSkipped { unit, reason: SkipReason::Upstream { node: "a".into(), failed: true } }),
        unit.prop_map(|unit| Event::NodeFailed { unit, error: "boom".into() }),
        prop_oneof![Just(Outcome::Completed), Just(Outcome::Failed), Just(Outcome::Cancelled)]
            .prop_map(|outcome| Event::RunFinished { outcome }),
    ]
}

/// Asserts that the totals are the sums over the units: money and billed tokens, and each
/// status count (a fan-out group counts through its instances, never itself).
#[track_caller]
fn assert_totals_are_sums(st: &RunState) {
    let mut cost = Cost::default();
    let mut usage = Usage::default();
    for u in &st.units {
        cost.add(&u.cost);
        usage.add(&u.billed_usage);
    }
    assert_eq!(st.totals.cost, cost, "cost is the sum over units");
    assert_eq!(st.totals.usage, usage, "tokens are the sum of every unit's billed tokens");
    let by_node: Money = (0..st.nodes.len()).map(|n| st.node_cost(n)).sum();
    assert_eq!(st.totals.cost.total(), by_node, "cost is the sum over nodes");
    let counted: Vec<Status> =
        st.units.iter().filter(|u| u.unit.item.is_some() || st.nodes[u.unit.index()].instances.is_empty()).map(|u| u.status).collect();
    let count = |f: fn(Status) -> bool| counted.iter().filter(|s| f(**s)).count();
    let t = &st.totals;
    assert_eq!(t.units_total, counted.len());
    assert_eq!(t.done, count(|s| s == Status::Done));
    assert_eq!(t.cached, count(|s| s == Status::Cached));
    assert_eq!(t.skipped, count(|s| s == Status::Skipped));
    assert_eq!(t.failed, count(|s| s == Status::Failed));
    assert_eq!(t.running, count(Status::is_active));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// After any sequence of events, the totals are the sums over units and nodes, and what
    /// cached outputs saved is what their calls had cost.
    #[test]
    fn totals_are_the_sums_over_units_after_any_events(events in proptest::collection::vec(event(), 0..40)) {
        let mut st = RunState::new(flow(FLOW), strategy("[strategy]\nname = \"t\"\ndefault_model = \"gpt-5-nano\"\n"), catalog(), 1, 1);
        let start = [
            Event::RunStarted { flow: "fold".into(), strategy: "t".into(), seed: 1, input: "q".into() },
            Event::NodeExpanded { node: 2, items: vec!["x".into(), "y".into()], dropped: 0 },
        ];
        let mut saved = Money::ZERO;
        for (k, kind) in start.into_iter().chain(events).enumerate() {
            if let Event::NodeFinished { model, usage, cached: true, .. } = &kind {
                saved += st.catalog.cost(model, usage).total();
            }
            st.apply(&RunEvent { run: 1, attempt: 1, at: Duration::from_millis(100 * k as u64), kind });
            assert_totals_are_sums(&st);
            prop_assert_eq!(st.totals.saved, saved);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Every sample run, under every sample strategy and any seed, adds up: the run's cost and
    /// tokens are the sums over its nodes and units, at every step of the run.
    #[test]
    fn a_sample_runs_totals_are_the_sums_over_its_nodes(flow in 0usize..4, strategy in 0usize..5, seed in 1u64..1000) {
        let s = spec(sample_flow(FLOWS[flow]), sample_strategy(STRATEGIES[strategy]), seed);
        let (events, end) = sim(&s);
        let mut st = RunState::for_spec(&s);
        for e in &events {
            st.apply(e);
            assert_totals_are_sums(&st);
        }
        prop_assert!(!end.totals.cost.total().is_zero() || STRATEGIES[strategy] == "local");
    }
}
