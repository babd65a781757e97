//! The engine's behaviour: scheduling, determinism, conditions, fan-out, budget, cancellation,
//! retries, fallbacks, timeouts and escalation; and the acceptance figures of the samples.

mod common;

use std::sync::Arc;
use std::time::Duration;

use baton::event::{Event, Outcome, SkipReason};
use baton::money::Money;
use baton::provider::{ErrorKind, Providers};
use baton::routing::Usage;
use baton::state::{RunStatus, Status};
use common::*;

const TWO_BRANCH: &str = r#"
[flow]
name = "two"
input = "q"

[[node]]
id = "a"
kind = "generate"
complexity = 2
prompt = "a {{input}}"

[[node]]
id = "b"
kind = "generate"
complexity = 2
prompt = "b"
after = ["a"]

[[node]]
id = "c"
kind = "generate"
complexity = 2
prompt = "c {{input}}"
"#;

fn one_model(model: &str, extra: &str) -> String {
    format!("[strategy]\nname = \"t\"\ndefault_model = \"{model}\"\n{extra}\n")
}

#[test]
fn same_inputs_give_identical_events() {
    let s = spec(sample_flow("research-assistant"), sample_strategy("smart"), 7);
    let (a, _) = sim(&s);
    let (b, _) = sim(&s);
    assert!(a.len() > 20);
    assert_eq!(a, b);
    let (c, _) = sim(&spec(sample_flow("research-assistant"), sample_strategy("smart"), 8));
    assert_ne!(a, c, "another seed gives another run");
}

#[test]
fn smart_beats_naive_on_the_research_assistant() {
    let flow = sample_flow("research-assistant");
    let (_, naive) = sim(&spec(flow.clone(), sample_strategy("naive"), 1));
    let (_, smart) = sim(&spec(flow, sample_strategy("smart"), 1));
    assert_eq!(naive.status, RunStatus::Finished(Outcome::Completed));
    assert_eq!(smart.status, RunStatus::Finished(Outcome::Completed));
    let cost = smart.totals.cost.total().ratio(naive.totals.cost.total()).expect("naive costs something");
    let time = smart.wall().as_secs_f64() / naive.wall().as_secs_f64();
    assert!(cost <= 0.2, "smart/naive cost {cost:.3}");
    assert!(time <= 0.35, "smart/naive wall time {time:.3}");
    let (pn, ps) = (naive.totals.pass_rate().expect("checks"), smart.totals.pass_rate().expect("checks"));
    assert!(ps >= pn - 0.05, "pass rate naive {pn} smart {ps}");
    // The money is the catalog's prices times the tokens, not a constant.
    let recomputed: Money =
        smart.units.iter().map(|u| u.model.as_deref().map_or(Money::ZERO, |m| smart.catalog.cost(m, &u.billed_usage).total())).sum();
    assert_eq!(recomputed, smart.totals.cost.total());
}

#[test]
fn smart_costs_a_fraction_of_naive_over_the_support_batch() {
    let tasks = baton::load::load_tasks("support-triage").expect("sample tasks");
    assert_eq!(tasks.len(), 1000);
    let flow = sample_flow("support-triage");
    let mut totals = Vec::new();
    for s in ["naive", "smart"] {
        let mut acc = baton::report::BatchAccumulator::default();
        baton::headless::run_tasks(&spec(flow.clone(), sample_strategy(s), 1), &tasks, &Providers::simulated(), |_, st| acc.add(st))
            .expect("runs");
        totals.push(acc.finish());
    }
    let ratio = totals[1].totals.cost_usd / totals[0].totals.cost_usd;
    assert!(ratio <= 0.15, "smart/naive per 1000 tasks: {ratio:.3}");
    // About 80% of tickets are simple: classification plus the FAQ answer.
    let faq = totals[1].by_kind["generate"].calls as f64 / 1000.0;
    assert!((0.7..0.95).contains(&faq), "{faq}");
}

#[test]
fn unlimited_parallel_makespan_is_the_critical_path() {
    let (_, st) = sim(&spec(sample_flow("research-assistant"), sample_strategy("premium-parallel"), 3));
    let wall = st.wall().as_secs_f64();
    let cp = st.totals.critical_path.as_secs_f64();
    assert!(cp > 1.0);
    assert!(wall <= cp * 1.01, "makespan {wall} vs critical path {cp}");
    let path = st.critical_path();
    assert_eq!(st.units[path[0]].label, "planner");
}

/// Largest number of units running at once, from the events.
fn peak_concurrency(events: &[baton::event::RunEvent], only_node: Option<u32>) -> usize {
    let mut running = std::collections::HashSet::new();
    let mut peak = 0;
    for e in events {
        match &e.kind {
            Event::NodeStarted { unit, .. } if only_node.is_none_or(|n| unit.node == n) => {
                running.insert(*unit);
                peak = peak.max(running.len());
            }
            Event::NodeFinished { unit, .. } | Event::NodeFailed { unit, .. } => {
                running.remove(unit);
            }
            _ => {}
        }
    }
    peak
}

#[test]
fn sequential_runs_one_at_a_time_and_parallel_respects_its_limit() {
    let flow = sample_flow("code-review");
    let (ev, st) = sim(&spec(flow.clone(), sample_strategy("naive"), 1));
    assert_eq!(peak_concurrency(&ev, None), 1);
    let spans: f64 = st.units.iter().filter_map(|u| u.latency).map(|d| d.as_secs_f64()).sum();
    assert!((st.wall().as_secs_f64() - spans).abs() < 1e-3, "sequential wall {:?} vs sum {spans}", st.wall());

    let (ev, _) = sim(&spec(flow.clone(), strategy(&one_model("gemini-2.5-flash", "max_parallel = 2")), 1));
    assert_eq!(peak_concurrency(&ev, None), 2);
    let (ev, _) = sim(&spec(flow, strategy(&one_model("gemini-2.5-flash", "")), 1));
    assert_eq!(peak_concurrency(&ev, None), 5, "five reviewers at once");
}

#[test]
fn fan_out_expands_per_item_within_its_limit() {
    let flow = sample_flow("doc-digest");
    let (ev, st) = sim(&spec(flow.clone(), sample_strategy("smart"), 2));
    let idx = flow.node_index("summarize-section").expect("node");
    let items = ev.iter().find_map(|e| match &e.kind {
        Event::NodeExpanded { node, items, .. } if *node as usize == idx => Some(items.len()),
        _ => None,
    });
    let n = items.expect("expanded");
    assert!((6..=12).contains(&n), "{n}");
    assert_eq!(st.nodes[idx].instances.len(), n);
    assert_eq!(peak_concurrency(&ev, Some(idx as u32)), 4);
    assert_eq!(st.node_status(idx), Status::Done);
    // Each instance got its own item in its prompt.
    let split = &st.units[st.nodes[flow.node_index("split").expect("split")].unit].output();
    let listed = baton::flow::list_items(split);
    for (k, &u) in st.nodes[idx].instances.iter().enumerate() {
        assert_eq!(st.units[u].item.as_deref(), Some(listed[k].as_str()));
    }
}

#[test]
fn conditions_take_both_branches_across_seeds() {
    let flow = sample_flow("research-assistant");
    let synth = flow.node_index("synthesizer").expect("node");
    let mut ran = 0;
    let mut skipped = 0;
    for seed in 1..=20 {
        let (_, st) = sim(&spec(flow.clone(), sample_strategy("smart"), seed));
        match st.node_status(synth) {
            Status::Done => ran += 1,
            Status::Skipped => {
                skipped += 1;
                assert!(matches!(st.units[synth].skip.as_deref(), Some(SkipReason::Condition { .. })), "{:?}", st.units[synth].skip);
            }
            other => panic!("seed {seed}: synthesizer {other:?}"),
        }
    }
    assert!(ran > 0 && skipped > 0, "ran {ran} skipped {skipped}");
}

#[test]
fn budget_stops_scheduling_and_says_so_on_each_node() {
    let s = one_model("claude-opus-4-1", "budget_usd = 0.02");
    let (_, st) = sim(&spec(sample_flow("research-assistant"), strategy(&s), 1));
    assert_eq!(st.status, RunStatus::Finished(Outcome::BudgetExceeded));
    let budget_skips = st.units.iter().filter(|u| matches!(u.skip.as_deref(), Some(SkipReason::Budget { .. }))).count();
    assert!(budget_skips >= 1);
    assert!(st.totals.skipped >= budget_skips);
    assert!(st.totals.done >= 1, "the planner fits the budget");
    let text =
        st.units.iter().find_map(|u| u.skip.as_deref().filter(|r| matches!(r, SkipReason::Budget { .. }))).expect("reason").to_string();
    assert!(text.contains("would exceed $0.0200"), "{text}");
}

#[test]
fn cancellation_ends_the_run_cleanly() {
    let s = spec(sample_flow("research-assistant"), sample_strategy("naive"), 1);
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("rt");
    let events = rt.block_on(async {
        let cancel = tokio_util::sync::CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            c2.cancel();
        });
        let mut events = Vec::new();
        let outcome = baton::engine::run_collect(&s, &Providers::simulated(), cancel, |e| events.push(e)).await;
        assert_eq!(outcome, Outcome::Cancelled);
        events
    });
    assert!(matches!(events.last().map(|e| &e.kind), Some(Event::RunFinished { outcome: Outcome::Cancelled })));
    let st = baton::state::RunState::new(s.flow.clone(), s.strategy.clone(), s.catalog.clone(), 1, 1).fold(&events);
    assert!(st.totals.done >= 1);
    assert!(st.units.iter().any(|u| u.skip.as_deref() == Some(&SkipReason::Cancelled)));
    assert_eq!(st.totals.running, 0);
}

/// The same on virtual time, as `baton run` drives a simulated run: cancelled from the event
/// callback once the run is ten simulated seconds in, it stops there.
#[test]
fn cancellation_on_virtual_time_ends_the_run_cleanly() {
    let s = spec(sample_flow("research-assistant"), sample_strategy("naive"), 1);
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut events = Vec::new();
    let outcome = baton::engine::run_blocking_until(&s, &Providers::simulated(), cancel.clone(), |e| {
        if e.at >= Duration::from_secs(10) {
            cancel.cancel();
        }
        events.push(e);
    })
    .expect("runs");
    assert_eq!(outcome, Outcome::Cancelled);
    assert!(matches!(events.last().map(|e| &e.kind), Some(Event::RunFinished { outcome: Outcome::Cancelled })));
    let first_late = events.iter().position(|e| e.at >= Duration::from_secs(10)).expect("the run reached 10 s");
    let end = events.last().map(|e| e.at).expect("events");
    assert_eq!(end, events[first_late].at, "simulated time went on after the cancel");
    let st = baton::state::RunState::new(s.flow.clone(), s.strategy.clone(), s.catalog.clone(), 1, 1).fold(&events);
    assert!(st.totals.done >= 1);
    assert!(st.units.iter().any(|u| u.skip.as_deref() == Some(&SkipReason::Cancelled)));
    assert_eq!(st.totals.running, 0);
}

#[test]
fn retries_honour_retry_after_then_succeed() {
    let script = Script::new();
    let mut e = baton::provider::CallError::new(ErrorKind::RateLimited, "429 slow down");
    e.retry_after = Some(Duration::from_secs(3));
    script.push("gpt-5-nano", Step::Fail { after: Duration::from_millis(20), error: e });
    let s = spec(flow(TWO_BRANCH), strategy(&one_model("gpt-5-nano", "max_parallel = 1")), 1);
    let (ev, st) = run(&s, &Providers::only(script.clone()));
    let a = events_for(&ev, &s.flow, "a");
    let backoff = a.iter().find_map(|e| if let Event::NodeRetry { backoff, try_no: 1, .. } = e { Some(*backoff) } else { None });
    assert!(backoff.expect("a retry") >= Duration::from_secs(3));
    assert_eq!(st.units[0].status, Status::Done);
    assert!(st.units[0].latency.expect("latency") >= Duration::from_secs(3));
    assert_eq!(st.totals.retries, 1);
    assert_eq!(script.calls().iter().filter(|c| c.1 == "a").count(), 2);
}

#[test]
fn exhausted_retries_walk_to_the_fallback() {
    let script = Script::new();
    for _ in 0..3 {
        script.push("gpt-5-nano", Step::fail(ErrorKind::Server, "500 boom"));
    }
    let s = spec(flow(TWO_BRANCH), strategy(&one_model("gpt-5-nano", "fallbacks = [\"gemini-2.5-flash\"]\nmax_parallel = 1")), 1);
    let (ev, st) = run(&s, &Providers::only(script.clone()));
    let a = events_for(&ev, &s.flow, "a");
    assert_eq!(a.iter().filter(|e| matches!(e, Event::NodeRetry { .. })).count(), 2);
    assert!(a.iter().any(|e| matches!(e, Event::NodeFallback { from, to, .. } if from == "gpt-5-nano" && to == "gemini-2.5-flash")));
    assert_eq!(st.units[0].model.as_deref(), Some("gemini-2.5-flash"));
    assert_eq!(st.units[0].status, Status::Done);
    assert_eq!(st.status, RunStatus::Finished(Outcome::Completed));
}

#[test]
fn auth_errors_are_not_retried_and_failures_skip_only_dependents() {
    let script = Script::new();
    script.push("gpt-5-nano", Step::fail(ErrorKind::Auth, "401: set OPENAI_API_KEY"));
    let s = spec(flow(TWO_BRANCH), strategy(&one_model("gpt-5-nano", "max_parallel = 1")), 1);
    let (ev, st) = run(&s, &Providers::only(script.clone()));
    assert!(!ev.iter().any(|e| matches!(e.kind, Event::NodeRetry { .. })));
    let a = &st.units[0];
    assert_eq!(a.status, Status::Failed);
    assert!(a.error.as_deref().is_some_and(|e| e.contains("OPENAI_API_KEY")), "{:?}", a.error);
    assert_eq!(st.units[1].skip.as_deref(), Some(&SkipReason::Upstream { node: "a".into(), failed: true }));
    // The independent branch still ran and kept its output.
    assert_eq!(st.units[2].status, Status::Done);
    assert_eq!(st.units[2].output(), "ok");
    assert_eq!(st.status, RunStatus::Finished(Outcome::Failed));
}

#[test]
fn stalls_time_out_and_are_retried() {
    let script = Script::new();
    script.push("gpt-5-nano", Step::Stall);
    let s = spec(
        flow(TWO_BRANCH),
        strategy(&one_model("gpt-5-nano", "max_parallel = 1\n[retry]\nfirst_token_timeout_ms = 5000\nbackoff_ms = 100")),
        1,
    );
    let (ev, st) = run(&s, &Providers::only(script));
    let err = ev.iter().find_map(|e| if let Event::NodeRetry { error, .. } = &e.kind { Some(error.clone()) } else { None });
    assert_eq!(err.as_deref(), Some("no first token for 5.0 s"));
    assert_eq!(st.units[0].status, Status::Done);
    assert!(st.units[0].latency.expect("latency") >= Duration::from_secs(5));
}

#[test]
fn context_overflow_falls_back_to_a_larger_window() {
    let big = "word ".repeat(3000);
    let f = flow(&format!(
        "[flow]\nname = \"big\"\ninput = \"{big}\"\n[[node]]\nid = \"a\"\nkind = \"summarize\"\ncomplexity = 2\nprompt = \"{{{{input}}}}\"\n"
    ));
    let mut cat = baton::routing::Catalog::builtin();
    let small = baton::diag::Source::new(
        "c.toml",
        "[[model]]\nid = \"tiny\"\nprovider = \"openai\"\ninput_per_mtok = 1\noutput_per_mtok = 1\ncontext_window = 1024\n",
    );
    cat = baton::routing::Catalog::parse(&small, Some(&cat)).expect("catalog").0;
    let st_text = "[strategy]\nname = \"t\"\ndefault_model = \"tiny\"\nfallbacks = [\"gemini-2.5-flash\"]\n";
    let strat = Arc::new(baton::routing::Strategy::parse(&baton::diag::Source::new("s.toml", st_text), &cat).expect("strategy").0);
    let mut s = spec(f, strat, 1);
    s.catalog = Arc::new(cat);
    let (ev, st) = sim(&s);
    let reason = ev.iter().find_map(|e| if let Event::NodeFallback { reason, .. } = &e.kind { Some(reason.clone()) } else { None });
    assert!(reason.expect("fell back").contains("1024-token window of tiny"));
    assert_eq!(st.units[0].model.as_deref(), Some("gemini-2.5-flash"));
}

#[test]
fn escalation_pays_for_both_calls() {
    let f = flow(
        "[flow]\nname = \"e\"\n[[node]]\nid = \"a\"\nkind = \"generate\"\ncomplexity = 2\nprompt = \"x\"\nchecks = [{ contains = \"DONE\" }]\n",
    );
    let script = Script::new();
    script.push("gpt-5-nano", Step::answer("not finished"));
    script.push("claude-opus-4-1", Step::answer("DONE well"));
    let s = spec(f, strategy(&one_model("gpt-5-nano", "fallbacks = [\"claude-opus-4-1\"]\nescalate_on_failed_checks = true")), 1);
    let (ev, st) = run(&s, &Providers::only(script));
    assert!(ev.iter().any(|e| matches!(&e.kind, Event::NodeEscalated { failed, .. } if failed == &vec!["contains 'DONE'".to_string()])));
    let u = &st.units[0];
    assert_eq!(u.model.as_deref(), Some("claude-opus-4-1"));
    assert_eq!(u.checks_passed(), 1);
    // 100 in + 50 out on each model: nano $0.05/$0.40 per M, opus $15/$75 per M.
    let expect = Money::from_usd(100.0 * 0.05e-6 + 50.0 * 0.40e-6 + 100.0 * 15e-6 + 50.0 * 75e-6);
    assert_eq!(u.cost.total(), expect);
    assert_eq!(st.totals.cost.total(), expect);
}

#[test]
fn missing_usage_is_estimated_with_the_tokenizer() {
    let script = Script::new();
    script.push(
        "gpt-5-nano",
        Step::Answer { text: "hello world".into(), ttft: Duration::from_millis(5), gap: Duration::ZERO, pieces: 1, usage: None },
    );
    let s = spec(flow(TWO_BRANCH), strategy(&one_model("gpt-5-nano", "max_parallel = 1")), 1);
    let (_, st) = run(&s, &Providers::only(script));
    let a = &st.units[0];
    assert!(a.estimated);
    assert_eq!(a.usage.output, 2);
    assert_eq!(a.usage.input, a.input_tokens_estimate);
}

#[test]
fn full_context_carries_history_that_declared_does_not() {
    let flow = sample_flow("research-assistant");
    let (_, naive) = sim(&spec(flow.clone(), sample_strategy("naive"), 1));
    let (_, smart) = sim(&spec(flow, sample_strategy("smart"), 1));
    let history = |st: &baton::state::RunState| st.units.iter().map(|u| u.attribution().2).sum::<u64>();
    assert_eq!(history(&smart), 0);
    assert!(history(&naive) > 1000, "{}", history(&naive));
    // Searchers declare no context: in smart mode they see only their prompt.
    let s0 = &smart.units[smart.nodes[1].instances[0]];
    assert_eq!(s0.attribution().1, 0);
}

#[test]
fn stale_attempts_never_land_on_the_current_one() {
    let s = spec(flow(TWO_BRANCH), strategy(&one_model("gpt-5-nano", "")), 1);
    let (events, _) = sim(&s);
    let mut st = baton::state::RunState::new(s.flow.clone(), s.strategy.clone(), s.catalog.clone(), 1, 2);
    for e in &events {
        assert!(!st.apply(e), "attempt 1 events must not apply to attempt 2");
    }
    assert_eq!(st.events, 0);
    assert_eq!(st.totals.cost.total(), Money::ZERO);
}

#[test]
fn usage_is_priced_by_the_catalog() {
    let script = Script::new();
    script.push(
        "claude-opus-4-1",
        Step::Answer {
            text: "x".into(),
            ttft: Duration::ZERO,
            gap: Duration::ZERO,
            pieces: 1,
            usage: Some(Usage { input: 1000, cached: 200, cache_write: 100, output: 500, reasoning: 0 }),
        },
    );
    let f = flow("[flow]\nname = \"p\"\n[[node]]\nid = \"a\"\nkind = \"generate\"\ncomplexity = 2\nprompt = \"x\"\n");
    let s = spec(f, strategy(&one_model("claude-opus-4-1", "")), 1);
    let (_, st) = run(&s, &Providers::only(script));
    let c = st.units[0].cost;
    // $15/M input, $1.50/M cache read, $18.75/M cache write, $75/M output.
    assert_eq!(c.input, Money::from_usd(0.015));
    assert_eq!(c.cached, Money::from_usd(0.0003 + 0.001875));
    assert_eq!(c.output, Money::from_usd(0.0375));
}

#[test]
fn makespan_matches_the_critical_path_on_every_standard_shape() {
    let catalog = baton::shapes::instant_catalog();
    for shape in baton::shapes::STANDARD {
        let mut s = baton::engine::RunSpec::new(
            shape.flow(40),
            baton::shapes::strategy(&catalog, "gemini-2.5-flash"),
            catalog.clone(),
            "go".into(),
            1,
        );
        s.options.deltas = false;
        let st = baton::headless::run_one(&s, &Providers::simulated()).expect("runs");
        assert_eq!(st.totals.done, shape.nodes(), "{shape}");
        let (wall, cp) = (st.wall().as_secs_f64(), st.totals.critical_path.as_secs_f64());
        assert!(cp > 0.0 && wall <= cp * 1.01, "{shape}: makespan {wall:.3}s, critical path {cp:.3}s");
    }
}

/// The live screen's path: events go down a channel. Each reaches the reader at the moment it
/// happens, not when something later wakes the engine (its queue is handed over before the
/// engine waits), and the reader gets the same events a function on the engine's task gets.
#[test]
fn a_channel_gets_every_event_when_it_happens() {
    let s = spec(sample_flow("research-assistant"), sample_strategy("naive"), 1);
    let providers = Providers::simulated();
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("rt");
    let (received, direct) = rt.block_on(async {
        // Room for one: every event waits for the reader.
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let start = tokio::time::Instant::now();
        let engine = baton::engine::run(&s, &providers, tx, tokio_util::sync::CancellationToken::new());
        let read = async {
            let mut got = Vec::new();
            while let Some(e) = rx.recv().await {
                got.push((start.elapsed(), e));
            }
            got
        };
        let (outcome, received) = tokio::join!(engine, read);
        assert_eq!(outcome, Outcome::Completed);
        let mut direct = Vec::new();
        baton::engine::run_collect(&s, &providers, tokio_util::sync::CancellationToken::new(), |e| direct.push(e)).await;
        (received, direct)
    });
    assert!(received.iter().any(|(_, e)| matches!(e.kind, Event::NodeDelta { .. })), "the run streams");
    for (seen, e) in &received {
        assert_eq!(*seen, e.at, "{:?} reached the reader late", e.kind);
    }
    let received: Vec<_> = received.into_iter().map(|(_, e)| e).collect();
    assert_eq!(received, direct);
}

/// A reader that goes away stops the run as a cancel would, rather than leaving it running
/// for nobody.
#[test]
fn a_run_whose_reader_is_gone_stops() {
    let s = spec(sample_flow("research-assistant"), sample_strategy("naive"), 1);
    let providers = Providers::simulated();
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("rt");
    let (outcome, read, ran_for) = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let start = tokio::time::Instant::now();
        let engine = baton::engine::run(&s, &providers, tx, tokio_util::sync::CancellationToken::new());
        let read = async move {
            let mut n = 0;
            while let Some(e) = rx.recv().await {
                n += 1;
                if matches!(e.kind, Event::NodeDelta { .. }) {
                    break;
                }
            }
            n
        };
        let (outcome, read) = tokio::join!(engine, read);
        (outcome, read, start.elapsed())
    });
    assert_eq!(outcome, Outcome::Cancelled);
    // It stops at its next event, before the unit that was streaming finishes.
    let all = sim(&s).0;
    let first_delta = all.iter().position(|e| matches!(e.kind, Event::NodeDelta { .. })).expect("a delta");
    let next = all[first_delta + 1..].iter().find(|e| e.at > all[first_delta].at).map(|e| e.at).expect("a later event");
    let finished = all.iter().find(|e| matches!(e.kind, Event::NodeFinished { .. })).map(|e| e.at).expect("a node finishes");
    assert!(read > 1 && ran_for <= next && next < finished, "read {read} events; the run went on for {ran_for:?} (next event at {next:?})");
}

/// A first token due in the same millisecond as its timeout wins (the answer is asked first);
/// one a millisecond later is too late, and the try is retried.
#[test]
fn a_first_token_due_with_its_timeout_wins() {
    for (ttft_ms, late) in [(5000, false), (5001, true)] {
        let script = Script::new();
        let answer = Step::Answer {
            text: "done".into(),
            ttft: Duration::from_millis(ttft_ms),
            gap: Duration::from_millis(10),
            pieces: 1,
            usage: None,
        };
        script.push("gpt-5-nano", answer);
        let retry = "max_parallel = 1\n[retry]\nfirst_token_timeout_ms = 5000\nbackoff_ms = 100";
        let s = spec(flow(TWO_BRANCH), strategy(&one_model("gpt-5-nano", retry)), 1);
        let (ev, st) = run(&s, &Providers::only(script));
        let retries: Vec<&str> =
            ev.iter().filter_map(|e| if let Event::NodeRetry { error, .. } = &e.kind { Some(error.as_str()) } else { None }).collect();
        let expected: &[&str] = if late { &["no first token for 5.0 s"] } else { &[] };
        assert_eq!(retries, expected, "a first token after {ttft_ms} ms");
        assert_eq!(st.units[0].status, Status::Done);
    }
}
