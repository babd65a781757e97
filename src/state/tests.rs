//! The fold on hand-written event sequences: each test says what a sequence must add up to.

use super::*;
use crate::diag::Source;
use crate::flow::parse_flow;

const NANO: &str = "gpt-5-nano";
const OPUS: &str = "claude-opus-4-1";
const SONNET: &str = "claude-sonnet-4-5";

/// `a` and `b` in a row, and `each` fanning out over `a`.
const FLOW: &str = include_str!("../../tests/fixtures/flows/fold.toml");

fn state() -> RunState {
    let flow = Arc::new(parse_flow(&Source::new("fold.toml", FLOW)).unwrap_or_else(|e| panic!("{e}")).0);
    let catalog = Arc::new(Catalog::builtin());
    let text = format!("[strategy]\nname = \"t\"\ndefault_model = \"{NANO}\"\n");
    let strategy = Arc::new(Strategy::parse(&Source::new("t.toml", &text), &catalog).unwrap_or_else(|e| panic!("{e}")).0);
    RunState::new(flow, strategy, catalog, 1, 1)
}

/// Applies `events` in order, the n-th at n seconds, each tagged with run 1, attempt 1.
fn fold(st: &mut RunState, events: impl IntoIterator<Item = Event>) {
    for kind in events {
        let at = Duration::from_secs(st.events + 1);
        assert!(st.apply(&RunEvent { run: 1, attempt: 1, at, kind }));
    }
}

fn usage(input: u64, output: u64) -> Usage {
    Usage { input, output, ..Usage::default() }
}

fn cost(st: &RunState, model: &str, u: Usage) -> Cost {
    let c = st.catalog.cost(model, &u);
    assert!(!c.total().is_zero(), "{model} is priced in the built-in catalog");
    c
}

fn sum(costs: &[Cost]) -> Cost {
    let mut t = Cost::default();
    for c in costs {
        t.add(c);
    }
    t
}

fn started(unit: Unit, model: &str) -> Event {
    let decision = Decision {
        rule: None,
        rule_label: "default".into(),
        reason: "test".into(),
        model: model.to_string(),
        fallbacks: Vec::new(),
        input_tokens: 10,
    };
    Event::NodeStarted { unit, decision: Arc::new(decision), context: Vec::new().into(), input_tokens: 10 }
}

fn finished(unit: Unit, model: &str, usage: Usage, cached: bool) -> Event {
    Event::NodeFinished {
        unit,
        model: model.into(),
        usage,
        estimated: false,
        ttft: Duration::from_millis(100),
        latency: Duration::from_millis(500),
        output: Arc::from("out"),
        checks: vec![CheckResult { check: "non-empty".into(), passed: true, detail: None }],
        cached,
        unreported: false,
    }
}

fn run_started() -> Event {
    Event::RunStarted { flow: "fold".into(), strategy: "t".into(), seed: 1, input: "q".into() }
}

#[test]
fn finished_calls_add_up_to_the_totals() {
    let mut st = state();
    let (ua, ub) = (usage(1000, 200), usage(300, 50));
    fold(
        &mut st,
        [
            run_started(),
            started(Unit::node(0), NANO),
            finished(Unit::node(0), NANO, ua, false),
            started(Unit::node(1), OPUS),
            finished(Unit::node(1), OPUS, ub, false),
        ],
    );
    let (ca, cb) = (cost(&st, NANO, ua), cost(&st, OPUS, ub));
    assert_eq!(st.units[0].cost, ca);
    assert_eq!(st.units[1].cost, cb);
    assert_eq!(st.node_cost(1), cb.total());
    assert_eq!(st.totals.cost, sum(&[ca, cb]));
    assert_eq!(st.totals.usage, usage(1300, 250));
    assert_eq!((st.totals.done, st.totals.running, st.totals.checks_passed, st.totals.checks_total), (2, 0, 2, 2));
    assert_eq!(st.units[1].status, Status::Done);
    assert_eq!(st.units[1].model.as_deref(), Some(OPUS));
}

#[test]
fn a_cached_output_costs_nothing_and_adds_to_saved() {
    let mut st = state();
    let u = usage(1000, 200);
    fold(&mut st, [run_started(), started(Unit::node(0), NANO), finished(Unit::node(0), NANO, u, true)]);
    let unit = &st.units[0];
    assert_eq!(unit.status, Status::Cached);
    assert_eq!(unit.cost, Cost::default(), "a served output is not billed");
    assert_eq!(unit.usage, u, "the original call's usage is kept for reference");
    assert_eq!(unit.billed_usage, Usage::default());
    assert_eq!(st.totals.cost, Cost::default());
    assert_eq!(st.totals.usage, Usage::default());
    assert_eq!(st.totals.saved, cost(&st, NANO, u).total());
    assert_eq!((st.totals.cached, st.totals.done), (1, 0));
}

#[test]
fn billed_failed_tries_and_escalations_are_the_nodes_cost() {
    let mut st = state();
    let unit = Unit::node(0);
    let (tried, escalated, kept) = (usage(500, 20), usage(500, 300), usage(500, 250));
    fold(
        &mut st,
        [
            run_started(),
            started(unit, NANO),
            // A try that failed after streaming, billed from Baton's estimate.
            Event::NodeBilled { unit, model: NANO.into(), usage: tried, estimated: true },
            Event::NodeRetry { unit, model: NANO.into(), try_no: 1, error: "503".into(), backoff: Duration::from_secs(1) },
            // The retry answered but failed its checks: paid for, then escalated.
            Event::NodeEscalated { unit, from: NANO.into(), to: OPUS.into(), usage: escalated, failed: vec!["non-empty".into()] },
            finished(unit, OPUS, kept, false),
        ],
    );
    let parts = [cost(&st, NANO, tried), cost(&st, NANO, escalated), cost(&st, OPUS, kept)];
    let u = &st.units[0];
    assert_eq!(u.cost, sum(&parts));
    assert_eq!(u.usage, kept, "usage is the kept call's");
    assert_eq!(u.billed_usage, usage(1500, 570), "billed usage is every call's");
    assert!(u.billed_estimated);
    assert!(!u.estimated);
    assert_eq!(u.fallbacks.len(), 1);
    assert_eq!(u.fallbacks[0].escalation_cost, Some(parts[1].total()));
    assert_eq!(u.model.as_deref(), Some(OPUS));
    assert_eq!(st.totals.cost, sum(&parts));
    assert_eq!(st.totals.usage, usage(1500, 570));
    assert_eq!((st.totals.retries, st.totals.fallbacks, st.totals.done), (1, 1, 1));
}

#[test]
fn a_fallback_moves_the_model_and_bills_only_what_was_billed() {
    let mut st = state();
    let unit = Unit::node(0);
    let kept = usage(400, 100);
    fold(
        &mut st,
        [
            run_started(),
            started(unit, NANO),
            // A failure the provider did not bill (no usage, no tokens streamed).
            Event::NodeFallback { unit, from: NANO.into(), to: SONNET.into(), reason: "auth".into() },
            finished(unit, SONNET, kept, false),
        ],
    );
    assert_eq!(st.units[0].cost, cost(&st, SONNET, kept));
    assert_eq!(st.totals.cost, cost(&st, SONNET, kept));
    assert_eq!(st.units[0].fallbacks[0].escalation_cost, None);
    assert_eq!(st.totals.fallbacks, 1);
}

#[test]
fn skipped_nodes_count_as_skipped_not_done() {
    let mut st = state();
    fold(
        &mut st,
        [
            run_started(),
            started(Unit::node(0), NANO),
            Event::NodeFailed { unit: Unit::node(0), error: "boom".into() },
            Event::NodeSkipped { unit: Unit::node(1), reason: SkipReason::Upstream { node: "a".into(), failed: true } },
            Event::NodeSkipped { unit: Unit::node(2), reason: SkipReason::Upstream { node: "a".into(), failed: true } },
            Event::RunFinished { outcome: Outcome::Failed },
        ],
    );
    assert_eq!((st.totals.done, st.totals.skipped, st.totals.failed, st.totals.running), (0, 2, 1, 0));
    assert_eq!(st.units[1].status, Status::Skipped);
    assert!(st.units[1].finished.is_some());
    assert_eq!(st.totals.cost, Cost::default());
}

#[test]
fn queued_time_accumulates_over_tries() {
    let mut st = state();
    let unit = Unit::node(0);
    fold(&mut st, [run_started(), started(unit, NANO), Event::NodeWaiting { unit, why: "rate limit".into() }]);
    assert_eq!(st.units[0].status, Status::Waiting);
    assert_eq!(st.units[0].waiting.as_deref().map(|(_, why)| why.as_str()), Some("rate limit"));
    assert_eq!(st.totals.running, 1, "a waiting unit has started");
    fold(
        &mut st,
        [
            Event::NodeSent { unit, queued: Duration::from_secs(2) },
            Event::NodeRetry { unit, model: NANO.into(), try_no: 1, error: "503".into(), backoff: Duration::ZERO },
            Event::NodeWaiting { unit, why: "slot".into() },
            Event::NodeSent { unit, queued: Duration::from_millis(3500) },
        ],
    );
    let u = &st.units[0];
    assert_eq!(u.status, Status::Running);
    assert_eq!(u.waiting, None);
    assert_eq!(u.queued, Duration::from_millis(5500));
    fold(&mut st, [finished(unit, NANO, usage(10, 10), false)]);
    assert_eq!(st.units[0].queued, Duration::from_millis(5500), "finishing keeps the queued time");
    assert_eq!((st.totals.running, st.totals.done), (0, 1));
}

#[test]
fn cancelling_turns_running_units_into_skipped() {
    let mut st = state();
    let each = |k| Unit::instance(2, k);
    fold(
        &mut st,
        [
            run_started(),
            started(Unit::node(0), NANO),
            finished(Unit::node(0), NANO, usage(10, 10), false),
            started(Unit::node(1), NANO),
            Event::NodeExpanded { node: 2, items: vec!["x".into(), "y".into()], dropped: 0 },
            started(each(0), NANO),
            finished(each(0), NANO, usage(10, 10), false),
            started(each(1), NANO),
            Event::NodeWaiting { unit: each(1), why: "slot".into() },
        ],
    );
    assert_eq!(st.totals.units_total, 4, "a fan-out counts its instances, not itself");
    assert_eq!((st.totals.running, st.totals.done), (2, 2));
    fold(&mut st, [Event::RunFinished { outcome: Outcome::Cancelled }]);
    assert_eq!(st.status, RunStatus::Finished(Outcome::Cancelled));
    for u in [Unit::node(1), each(1)] {
        let us = st.unit(u).expect("unit");
        assert_eq!(us.status, Status::Skipped, "{}", us.label);
        assert_eq!(us.skip.as_deref(), Some(&SkipReason::Cancelled));
    }
    assert_eq!((st.totals.running, st.totals.skipped, st.totals.done, st.totals.failed), (0, 2, 2, 0));
}

#[test]
fn a_run_that_ends_under_a_running_unit_fails_it() {
    let mut st = state();
    fold(&mut st, [run_started(), started(Unit::node(0), NANO), Event::RunFinished { outcome: Outcome::Failed }]);
    assert_eq!(st.units[0].status, Status::Failed);
    assert_eq!(st.units[0].error.as_deref(), Some("the run ended first"));
    assert_eq!((st.totals.running, st.totals.failed, st.totals.skipped), (0, 1, 0));
}

#[test]
fn another_runs_or_attempts_events_change_nothing() {
    let mut st = state();
    fold(&mut st, [run_started()]);
    for (run, attempt) in [(2, 1), (1, 2)] {
        let kind = finished(Unit::node(0), NANO, usage(1000, 1000), false);
        assert!(!st.apply(&RunEvent { run, attempt, at: Duration::from_secs(9), kind }));
    }
    assert_eq!(st.totals, Totals { units_total: 3, ..Totals::default() });
    assert_eq!(st.events, 1);
    assert_eq!(st.now, Duration::from_secs(1));
}

#[test]
fn the_fold_counts_units_of_unknown_cost_as_they_settle() {
    // A model the built-in catalog does not price, as a watched run reports one.
    const ACME: &str = "acme-7b";
    let walk = |st: &RunState| (0..st.units.len()).filter(|&i| st.unpriced(i)).count();
    for (outcome, left) in [(Outcome::Failed, Status::Failed), (Outcome::Cancelled, Status::Skipped)] {
        let mut st = state();
        let each = |k| Unit::instance(2, k);
        let mut counts = Vec::new();
        for kind in [
            run_started(),
            started(Unit::node(0), ACME),
            finished(Unit::node(0), ACME, usage(10, 10), false),
            started(Unit::node(1), ACME),
            Event::NodeBilled { unit: Unit::node(1), model: ACME.into(), usage: usage(5, 0), estimated: false },
            Event::NodeExpanded { node: 2, items: vec!["x".into(), "y".into()], dropped: 0 },
            started(each(0), ACME),
            finished(each(0), ACME, usage(10, 10), false),
            started(each(1), NANO),
            finished(each(1), NANO, usage(10, 10), false),
            Event::RunFinished { outcome },
        ] {
            fold(&mut st, [kind]);
            assert_eq!(st.unpriced_count(), walk(&st), "after event {}", st.events);
            counts.push(st.unpriced_count());
        }
        // `a` on settling, the instance on settling, and `b`, cut off with billed tokens, at
        // the end; the priced instance never.
        assert_eq!(counts, [0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 3], "{outcome:?}");
        assert_eq!(st.units[1].status, left);
    }
}

#[test]
fn a_unit_of_unknown_cost_is_counted_once_as_unpriced_not_also_as_uncounted() {
    // Watched calls that streamed without usage: one on a model the catalog lacks, one on a
    // priced model, and one counted call on the model the catalog lacks.
    const ACME: &str = "acme-7b";
    let uncounted = |unit, model: &str| match finished(unit, model, usage(0, 0), false) {
        Event::NodeFinished { unit, model, usage, estimated, ttft, latency, output, checks, cached, .. } => {
            Event::NodeFinished { unit, model, usage, estimated, ttft, latency, output, checks, cached, unreported: true }
        }
        other => other,
    };
    let walk = |st: &RunState| (0..st.units.len()).filter(|&i| st.uncounted_priced(i)).count();
    let mut st = state();
    let (a, b, each) = (Unit::node(0), Unit::node(1), |k| Unit::instance(2, k));
    let mut counts = Vec::new();
    for kind in [
        run_started(),
        started(a, ACME),
        uncounted(a, ACME),
        started(b, NANO),
        uncounted(b, NANO),
        Event::NodeExpanded { node: 2, items: vec!["x".into()], dropped: 0 },
        started(each(0), ACME),
        finished(each(0), ACME, usage(10, 10), false),
        // `b` again, on the model without a price: now unknown rather than a lower bound.
        uncounted(b, ACME),
        Event::RunFinished { outcome: Outcome::Completed },
    ] {
        fold(&mut st, [kind]);
        assert_eq!(st.uncounted_priced_count(), walk(&st), "after event {}", st.events);
        counts.push((st.unreported_count(), st.unpriced_count(), st.uncounted_priced_count()));
    }
    // `a` is unreported and unpriced: unknown, counted once, as unpriced. `b` makes the priced
    // total a lower bound until it too has no price. The instance has no price but reported its
    // counts.
    assert_eq!(counts[2], (1, 1, 0), "{counts:?}");
    assert_eq!(counts[4], (2, 1, 1), "{counts:?}");
    assert_eq!(counts[7], (2, 2, 1), "{counts:?}");
    assert_eq!(counts.last(), Some(&(2, 3, 0)), "{counts:?}");
}

#[test]
fn units_on_one_model_share_its_name() {
    let mut st = state();
    let (a, b) = (Unit::node(0), Unit::node(1));
    fold(&mut st, [run_started(), started(a, NANO), finished(a, NANO, usage(10, 5), false), started(b, NANO)]);
    let (ua, ub) = (st.units[0].model.clone(), st.units[1].model.clone());
    assert_eq!(ua.as_deref(), Some(NANO));
    assert!(ua.clone().zip(ub).is_some_and(|(x, y)| Arc::ptr_eq(&x, &y)), "each unit holds its own copy of {NANO}");
    // The name kept is the catalog's, which the engine's events carry too.
    let catalogs = st.catalog.get(NANO).map(|m| m.id.clone());
    assert!(ua.zip(catalogs).is_some_and(|(x, y)| Arc::ptr_eq(&x, &y)), "the fold made its own copy of {NANO}");
    // A fallback moves a unit to another name, kept once as well.
    fold(&mut st, [finished(b, OPUS, usage(10, 5), false)]);
    assert_eq!(st.units[1].model.as_deref(), Some(OPUS));
    assert_eq!(st.model_names.len(), 2);
}

#[test]
fn a_finished_call_is_priced_by_its_name_whichever_copy_it_carries() {
    // The engine's events carry the catalog's own name (found by pointer); a recording's carry
    // their own copy; a watched trace can name a model the catalog lacks.
    let mut st = state();
    let (a, b, c) = (Unit::node(0), Unit::node(1), Unit::instance(2, 0));
    let catalogs = st.catalog.get(NANO).map(|m| m.id.clone()).expect("nano in the catalog");
    let own = |unit, model: Arc<str>| match finished(unit, NANO, usage(10, 5), false) {
        Event::NodeFinished { unit, usage, estimated, ttft, latency, output, checks, cached, unreported, .. } => {
            Event::NodeFinished { unit, model, usage, estimated, ttft, latency, output, checks, cached, unreported }
        }
        other => other,
    };
    fold(&mut st, [run_started(), started(a, NANO), own(a, catalogs.clone()), started(b, NANO), own(b, Arc::from(NANO))]);
    let priced = cost(&st, NANO, usage(10, 5));
    assert_eq!((st.units[0].cost.total(), st.units[1].cost.total()), (priced.total(), priced.total()));
    fold(&mut st, [Event::NodeExpanded { node: 2, items: vec!["x".into()], dropped: 0 }, started(c, "acme-7b")]);
    let acme = st.units[3].model.clone().expect("a model");
    fold(&mut st, [own(c, acme)]);
    assert!(st.units[3].cost.total().is_zero() && st.unpriced(3));
    // Given another catalog, the state prices by what that catalog says.
    let model = |id: &str| {
        format!(
            "[[model]]\nid = \"{id}\"\nprovider = \"openai\"\napi_model = \"{id}\"\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\ncontext_window = 128000\n\n"
        )
    };
    let three: String = ["m-0", "m-1", "m-2"].iter().map(|id| model(id)).collect();
    st.catalog = Arc::new(Catalog::parse(&Source::new("three.toml", &three), None).unwrap_or_else(|e| panic!("{e}")).0);
    assert_eq!(st.catalog.index_of("m-2"), Catalog::builtin().index_of(NANO), "the kept index names another model now");
    fold(&mut st, [started(c, NANO), own(c, catalogs)]);
    assert!(st.unpriced(3), "priced from a catalog the state no longer has");
}

#[test]
fn a_run_naming_many_models_shares_only_the_first_few() {
    // A watched trace can name any number of models: finding a unit's must not grow with them.
    let mut st = state();
    let a = Unit::node(0);
    fold(&mut st, [run_started(), started(a, NANO)]);
    let names: Vec<String> = (0..40).map(|k| format!("model-{k}")).collect();
    let hops = names.iter().map(|to| Event::NodeFallback { unit: a, from: "x".into(), to: to.clone(), reason: "r".into() });
    fold(&mut st, hops);
    assert_eq!(st.units[0].model.as_deref(), Some("model-39"));
    assert_eq!(st.model_names.len(), RunState::SHARED_NAMES);
    assert_eq!(st.totals.fallbacks, 40);
}
