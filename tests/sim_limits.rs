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

/// Streams node `i` a text of `20 + 15·i` words, with the serving model's simulated timing,
/// piece by piece or (`Some`) joined as far as the caller's limits allow; counts the pieces.
struct Words(Option<baton::provider::sim::Whole>, Arc<std::sync::atomic::AtomicUsize>);

impl baton::provider::Provider for Words {
    fn call(&self, req: baton::provider::CallRequest<'_>) -> baton::provider::ChunkStream {
        use futures::StreamExt;
        let text = "word ".repeat(20 + 15 * req.node);
        let pieces = self.1.clone();
        Box::pin(baton::provider::sim::stream_text(&req, text, None, self.0).inspect(move |c| {
            if let Ok(baton::provider::Chunk::Text { .. }) = c {
                pieces.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }))
    }
}

/// A 1 -> 8 -> 1 fan-out on `speed` (simulated tokens a second) with deltas off, retried
/// once, its idle and total timeouts as given; its events, piece by piece or joined, and how
/// many pieces came.
fn run_words(speed: u32, idle_ms: u64, total_ms: u64, joined: bool) -> (Vec<RunEvent>, usize) {
    let model = format!(
        "[[model]]\nid = \"words\"\nprovider = \"sim\"\ninput_per_mtok = 1\noutput_per_mtok = 2\ncontext_window = 100000\nsim = {{ ttft_ms = 150, tokens_per_second = {speed}, prefill_tokens_per_second = 0, capability = 10, error_rate = 0 }}\n"
    );
    let catalog = catalog_with(&model);
    let text = format!(
        "[strategy]\nname = \"t\"\ndefault_model = \"words\"\nschedule = \"parallel\"\n[retry]\nmax_attempts = 2\nbackoff_ms = 40\nidle_timeout_ms = {idle_ms}\ntotal_timeout_ms = {total_ms}\n"
    );
    let strategy = Arc::new(baton::routing::Strategy::parse(&Source::new("t.toml", text), &catalog).expect("strategy").0);
    let whole = joined.then_some(baton::provider::sim::Whole { idle: strategy.retry.idle_timeout, total: strategy.retry.total_timeout });
    let mut spec = RunSpec::new(Shape::FanOutIn { width: 8 }.flow(50), strategy, catalog, "go".into(), 3);
    spec.options.deltas = false;
    let mut events = Vec::new();
    let pieces = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    baton::headless::run_one_with(&spec, &Providers::only(Arc::new(Words(whole, pieces.clone()))), |e| events.push(e.clone()))
        .expect("runs");
    (events, pieces.load(std::sync::atomic::Ordering::Relaxed))
}

#[test]
fn a_stream_read_whole_joins_its_pieces_without_changing_the_run() {
    let finished = |events: &[RunEvent]| events.iter().filter(|e| matches!(e.kind, Event::NodeFinished { .. })).count();
    let timeouts = |events: &[RunEvent]| {
        let timed_out = |error: &str| ["no first token", "no data", "took longer"].iter().any(|t| error.contains(t));
        events
            .iter()
            .filter(|e| matches!(&e.kind, Event::NodeRetry { error, .. } | Event::NodeFailed { error, .. } if timed_out(error)))
            .count()
    };
    // Pieces about 0.1 s apart: joined two by two under a 250 ms idle limit; the longer outputs
    // run past the 5 s limit mid-stream, are billed for what streamed, and are retried.
    let ((apart, n_apart), (joined, n_joined)) = (run_words(15, 250, 5_000, false), run_words(15, 250, 5_000, true));
    assert_eq!(joined, apart);
    assert!(n_joined < n_apart * 2 / 3, "pieces were joined: {n_joined} of {n_apart}");
    assert!(finished(&apart) >= 3 && timeouts(&apart) >= 2, "both kinds of ending are exercised: {apart:#?}");
    assert!(apart.iter().any(|e| matches!(e.kind, Event::NodeBilled { estimated: true, .. })), "a cut stream is billed");
    // A gap longer than the idle limit (a token a second: a character every 0.2 s) comes
    // alone and times the call out as before.
    let ((apart, _), (joined, _)) = (run_words(1, 150, 600_000, false), run_words(1, 150, 600_000, true));
    assert_eq!(joined, apart);
    assert!(finished(&apart) == 0 && timeouts(&apart) == 2, "the first node's tries went idle: {apart:#?}");
    // Within every limit: the first piece, then the rest in one.
    let ((apart, n_apart), (joined, n_joined)) = (run_words(40, 30_000, 600_000, false), run_words(40, 30_000, 600_000, true));
    assert_eq!(joined, apart);
    assert_eq!(n_joined, 2 * finished(&joined), "two pieces a call, of {n_apart}");
}
