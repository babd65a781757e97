//! Recordings at scale: load a 1,000,000-event recording (target ≤ 2 s) and seek anywhere in
//! it (target ≤ 16 ms per seek). Run with `cargo bench --bench recording`.

// The same allocator as the `baton` binary, so the figures are the ones users get.
#[global_allocator]
static GLOBAL: baton::alloc::Mimalloc = baton::alloc::Mimalloc;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton::event::{Event, Outcome, RunEvent, Unit};
use baton::provider::rng::Rng;
use baton::record::{Header, Recorder, Recording};
use baton::routing::{Usage, route};
use baton::shapes::{Shape, instant_catalog, strategy};
use baton::state::RunState;
use baton::tui::player::Player;

fn main() {
    // Build the file once, outside any timing.
    let path = fixture();
    divan::main();
    let _ = std::fs::remove_file(path);
}

const DELTAS: usize = 998;

fn fixture_path() -> PathBuf {
    std::env::temp_dir().join(format!("baton-bench-1m-{}.jsonl", std::process::id()))
}

/// 1000 nodes (10 layers of 100), each started, streaming 998 deltas, finished: 1,000,000
/// events plus the run's own.
fn fixture() -> PathBuf {
    let path = fixture_path();
    let catalog = instant_catalog();
    let spec = baton::engine::RunSpec::new(
        Shape::Layered { layers: 10, width: 100 }.flow(40),
        strategy(&catalog, "gemini-2.5-flash"),
        catalog,
        "go".into(),
        1,
    );
    let rec = Recorder::create(&path, &Header::new(&spec, "sim"), spec.flow.clone()).expect("recorder");
    let ev = |at_us: u64, kind: Event| RunEvent { run: 1, attempt: 1, at: Duration::from_micros(at_us), kind };
    rec.record(&ev(0, Event::RunStarted { flow: spec.flow.name.clone(), strategy: "bench".into(), seed: 1, input: "go".into() }));
    let mut t = 0u64;
    for layer in 0..10 {
        for w in 0..100 {
            let i = layer * 100 + w;
            let decision = Arc::new(route(&spec.strategy, &spec.flow.nodes[i], 12));
            rec.record(&ev(t, Event::NodeStarted { unit: Unit::node(i), decision, context: Vec::new().into(), input_tokens: 12 }));
        }
        for k in 0..DELTAS {
            for w in 0..100 {
                t += 1;
                rec.record(&ev(
                    t,
                    Event::NodeDelta { unit: Unit::node(layer * 100 + w), text: " token".into(), output_tokens: k as u64 + 1 },
                ));
            }
        }
        for w in 0..100 {
            t += 1;
            let usage = Usage { input: 12, output: DELTAS as u64, ..Usage::default() };
            let output: Arc<str> = Arc::from(" token".repeat(DELTAS));
            rec.record(&ev(
                t,
                Event::NodeFinished {
                    unit: Unit::node(layer * 100 + w),
                    model: "gemini-2.5-flash".into(),
                    usage,
                    estimated: false,
                    ttft: Duration::ZERO,
                    latency: Duration::from_micros(t),
                    output,
                    checks: Vec::new(),
                    cached: false,
                    unreported: false,
                },
            ));
        }
    }
    rec.record(&ev(t + 1, Event::RunFinished { outcome: Outcome::Completed }));
    rec.finish().expect("written")
}

#[divan::bench(sample_count = 5)]
fn load_1m_events() -> usize {
    let rec = Recording::open(&fixture_path()).expect("loads");
    assert!(rec.events.len() >= 1_000_000);
    rec.events.len()
}

#[divan::bench(sample_count = 100, sample_size = 1)]
fn seek_anywhere_in_1m_events(bencher: divan::Bencher) {
    let rec = Recording::open(&fixture_path()).expect("loads");
    let state = RunState::new(rec.flow.clone(), rec.strategy.clone(), rec.catalog.clone(), 1, 1);
    let mut player = Player::new(state, 1.0, false);
    player.push(rec.events.clone());
    let t0 = Instant::now();
    player.index();
    eprintln!("indexing (one full fold with checkpoints): {:?}", t0.elapsed());
    let end = player.tape_end();
    let mut rng = Rng::new(7);
    let player = std::cell::RefCell::new(player);
    bencher.with_inputs(|| end.mul_f64(rng.next_f64())).bench_local_values(|t| player.borrow_mut().seek(t));
}
