//! The cost of one frame of the live screen on a 500-node DAG (10 layers of 50) and a
//! 5,000-node one (50 layers of 100) while 10,000 token events per simulated second stream in:
//! each sample applies one frame's worth of events (a 33 ms tick, about 333 deltas) and draws
//! the whole 160×48 screen into a TestBackend. Target: ≤ 2 ms per frame. And the first frame of
//! the 5,000-node flow: the screen built for it (layout included) and drawn once, target
//! ≤ 100 ms. Run with `cargo bench --bench frame`.

// The same allocator as the `baton` binary, so the figures are the ones users get.
#[global_allocator]
static GLOBAL: baton::alloc::Mimalloc = baton::alloc::Mimalloc;

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use baton::event::{Event, RunEvent, Unit};
use baton::routing::route;
use baton::shapes::{Shape, instant_catalog, strategy};
use baton::tui::app::{App, Msg};
use baton::tui::keymap::Keymap;
use baton::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    divan::main();
}

const EVENTS_PER_SECOND: usize = 10_000;

/// A tape where every node starts at once and then streams, round robin, 10,000 deltas per
/// simulated second for `seconds`.
fn tape(spec: &baton::engine::RunSpec, seconds: usize) -> Vec<RunEvent> {
    let nodes = spec.flow.nodes.len();
    let ev = |at: Duration, kind: Event| RunEvent { run: 1, attempt: 1, at, kind };
    let mut out =
        vec![ev(Duration::ZERO, Event::RunStarted { flow: spec.flow.name.clone(), strategy: "bench".into(), seed: 1, input: "go".into() })];
    for i in 0..nodes {
        out.push(ev(Duration::ZERO, Event::NodeQueued { unit: Unit::node(i) }));
        let decision = Arc::new(route(&spec.strategy, &spec.flow.nodes[i], 12));
        out.push(ev(Duration::ZERO, Event::NodeStarted { unit: Unit::node(i), decision, context: Vec::new().into(), input_tokens: 12 }));
    }
    for k in 0..seconds * EVENTS_PER_SECOND {
        let at = Duration::from_secs_f64(k as f64 / EVENTS_PER_SECOND as f64);
        let node = k % nodes;
        out.push(ev(at, Event::NodeDelta { unit: Unit::node(node), text: " token".into(), output_tokens: (k / nodes + 1) as u64 }));
    }
    out
}

/// Under `cargo test` (no `--bench`) each bench runs once, in a debug build: the 5,000-node
/// shapes shrink to 500 nodes there so the suite stays quick.
fn sized(shape: Shape) -> Shape {
    if std::env::args().any(|a| a == "--bench") {
        return shape;
    }
    match shape {
        Shape::Layered { layers, width } if layers * width > 500 => Shape::Layered { layers: 10, width: 50 },
        Shape::FanOutIn { width } if width > 500 => Shape::FanOutIn { width: 498 },
        s => s,
    }
}

fn spec(shape: Shape) -> baton::engine::RunSpec {
    let shape = sized(shape);
    let catalog = instant_catalog();
    baton::engine::RunSpec::new(shape.flow(40), strategy(&catalog, "gemini-2.5-flash"), catalog, "go".into(), 1)
}

/// 200 frames of 33 ms on a screen one second into the stream.
fn frames(bencher: divan::Bencher, shape: Shape) {
    let spec = spec(shape);
    let mut app = App::new(&spec, Theme::dark(), Keymap::default_map(), 1.0, true);
    app.update(Msg::Term(crossterm::event::Event::Resize(160, 48)));
    // 200 samples of 33 ms need 6.6 s of tape; one second in, every node is streaming.
    app.update(Msg::Run(tape(&spec, 9)));
    app.update(Msg::Tick(Duration::from_secs(1)));
    let app = RefCell::new(app);
    let term = RefCell::new(Terminal::new(TestBackend::new(160, 48)).expect("terminal"));
    bencher.bench_local(|| {
        let mut app = app.borrow_mut();
        let before = app.player.cursor;
        app.update(Msg::Tick(Duration::from_millis(33)));
        assert!(app.player.cursor - before >= 300, "a frame applies about 333 token events");
        term.borrow_mut().draw(|f| baton::tui::draw::draw(f, &app)).expect("draw");
    });
}

#[divan::bench(sample_count = 200, sample_size = 1)]
fn frame_500_nodes_10k_events_per_second(bencher: divan::Bencher) {
    frames(bencher, Shape::Layered { layers: 10, width: 50 });
}

#[divan::bench(sample_count = 200, sample_size = 1)]
fn frame_5000_nodes_10k_events_per_second(bencher: divan::Bencher) {
    frames(bencher, Shape::Layered { layers: 50, width: 100 });
}

/// A frame of a finished 5,000-node run (50 layers of 100), as one reviews it after the run or
/// in a replay: nothing new arrives, so the frame is the screen's own cost (header totals,
/// graph, timeline) over 5,000 settled nodes.
#[divan::bench(sample_count = 200, sample_size = 1)]
fn frame_5000_nodes_finished(bencher: divan::Bencher) {
    let spec = spec(Shape::Layered { layers: 50, width: 100 });
    let mut events = Vec::new();
    baton::headless::run_one_with(&spec, &baton::provider::Providers::simulated(), |ev| events.push(ev.clone())).expect("run");
    let mut app = App::new(&spec, Theme::dark(), Keymap::default_map(), 1.0, true);
    app.update(Msg::Term(crossterm::event::Event::Resize(160, 48)));
    let end = events.last().map_or(Duration::ZERO, |e| e.at);
    app.update(Msg::Run(events));
    app.update(Msg::Tick(end + Duration::from_secs(1)));
    assert!(app.state().totals.done > 0, "the run finished");
    let app = RefCell::new(app);
    let term = RefCell::new(Terminal::new(TestBackend::new(160, 48)).expect("terminal"));
    bencher.bench_local(|| {
        let mut app = app.borrow_mut();
        app.update(Msg::Tick(Duration::from_millis(33)));
        term.borrow_mut().draw(|f| baton::tui::draw::draw(f, &app)).expect("draw");
    });
}

/// From a parsed 5,000-node flow to its first frame on screen: the screen's state and layout
/// built, then drawn once. Three shapes: 50 layers of 100 (each node after the whole layer
/// before it: 490,000 edges), 500 layers of 10 (49,500 edges) and a 1 → 4,998 → 1 fan-out.
#[divan::bench(sample_count = 10, sample_size = 1, args = [
    Shape::Layered { layers: 50, width: 100 },
    Shape::Layered { layers: 500, width: 10 },
    Shape::FanOutIn { width: 4998 },
])]
fn first_frame_5000_nodes(bencher: divan::Bencher, shape: Shape) {
    let spec = spec(shape);
    bencher.bench_local(|| {
        let mut app = App::new(&spec, Theme::dark(), Keymap::default_map(), 1.0, true);
        app.update(Msg::Term(crossterm::event::Event::Resize(160, 48)));
        let mut term = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
        term.draw(|f| baton::tui::draw::draw(f, &app)).expect("draw");
    });
}
