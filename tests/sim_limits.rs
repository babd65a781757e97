//! The simulator honours each provider's `max_concurrent` as the HTTP providers do: at most that
//! many calls of one provider are sent at once, the rest say they wait (`node_waiting`) and are
//! sent in turn (`node_sent`, with the time they queued), and a simulated run stays
//! deterministic. The `sim` provider is limited only when the catalog says so.

use std::sync::Arc;

use baton::diag::Source;
use baton::engine::RunSpec;
use baton::event::{Event, RunEvent};
use baton::provider::Providers;
use baton::routing::Catalog;
use baton::shapes::{Shape, strategy};
use baton::state::{RunState, Status};

fn catalog_with(extra: &str) -> Arc<Catalog> {
    Arc::new(Catalog::parse(&Source::new("<limits>", extra), Some(&Catalog::builtin())).expect("catalog").0)
}

/// A 1 -> 40 -> 1 fan-out on one model, the strategy parallel with no limit of its own; the
/// events, and the most units of that model's provider ever sending at one moment.
fn run(catalog: Arc<Catalog>, model: &str) -> (Vec<RunEvent>, RunState, usize) {
    let spec = RunSpec::new(Shape::FanOutIn { width: 40 }.flow(50), strategy(&catalog, model), catalog, "go".into(), 7);
    let mut events = Vec::new();
    let state = baton::headless::run_one_with(&spec, &Providers::simulated(), |e| events.push(e.clone())).expect("runs");
    // Replay the fold and count running units whenever time moves on (within one moment a
    // unit starts and then says it waits).
    let mut st = RunState::for_spec(&spec);
    let mut most = 0;
    for e in &events {
        if e.at > st.now {
            most = most.max(st.units.iter().filter(|u| u.status == Status::Running).count());
        }
        st.apply(e);
    }
    (events, state, most)
}

fn waits(events: &[RunEvent]) -> usize {
    events.iter().filter(|e| matches!(e.kind, Event::NodeWaiting { .. })).count()
}

#[test]
fn a_provider_limit_queues_the_calls_beyond_it() {
    let (events, state, most) = run(catalog_with("[provider.openai]\nmax_concurrent = 4\n"), "gpt-5.4-mini");
    assert_eq!(state.totals.done, 42, "every node ran");
    assert!(most <= 4, "at most 4 openai calls at once, saw {most}");
    assert!(most >= 3, "the limit is used, not undercut: {most}");
    assert!(waits(&events) >= 30, "the fan-out's calls beyond the limit waited: {}", waits(&events));
    let sent = events.iter().filter(|e| matches!(e.kind, Event::NodeSent { .. })).count();
    assert_eq!(sent, waits(&events), "every waiting call is sent in the end");
    assert!(state.units.iter().any(|u| !u.queued.is_zero()), "queued time is reported");

    // The same run again gives the same events: the queue is deterministic.
    let (again, _, _) = run(catalog_with("[provider.openai]\nmax_concurrent = 4\n"), "gpt-5.4-mini");
    assert_eq!(again, events);
}

#[test]
fn a_run_within_the_limit_is_unchanged() {
    // The default limit (16) queues a 40-wide fan-out; a limit above its width never does.
    let (_, _, most) = run(Arc::new(Catalog::builtin()), "gpt-5.4-mini");
    assert!(most <= 16, "the default limit of 16 applies: {most}");
    let (events, _, most) = run(catalog_with("[provider.openai]\nmax_concurrent = 100\n"), "gpt-5.4-mini");
    assert_eq!(waits(&events), 0);
    assert!(most > 16, "nothing holds the fan-out back: {most}");
}

#[test]
fn the_sim_provider_is_limited_only_when_the_catalog_says_so() {
    let instant = "[[model]]\nid = \"slow-sim\"\nprovider = \"sim\"\ninput_per_mtok = 1\noutput_per_mtok = 1\ncontext_window = 100000\nsim = { ttft_ms = 200, tokens_per_second = 100, prefill_tokens_per_second = 0, capability = 10, error_rate = 0 }\n";
    let (events, _, most) = run(catalog_with(instant), "slow-sim");
    assert_eq!(waits(&events), 0, "no limit on sim by default");
    assert_eq!(most, 40);
    let (events, _, most) = run(catalog_with(&format!("{instant}[provider.sim]\nmax_concurrent = 5\n")), "slow-sim");
    assert!(most <= 5 && waits(&events) > 0, "{most}");
}
