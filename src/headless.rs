//! Runs without a screen: one run or a batch of tasks, in virtual time, folded into state.

use std::time::{Duration, Instant};

use crate::engine::{self, Options, RunSpec};
use crate::event::RunEvent;
use crate::load::Task;
use crate::provider::Providers;
use crate::report::{BatchAccumulator, BatchReport};
use crate::state::RunState;

/// A fold for a run no screen shows: it keeps outputs, not the text still streaming.
fn headless_state(spec: &RunSpec) -> RunState {
    RunState { live_text: false, ..RunState::for_spec(spec) }
}

/// Runs once on a paused clock and returns the folded state.
pub fn run_one(spec: &RunSpec, providers: &Providers) -> std::io::Result<RunState> {
    run_one_with(spec, providers, |_| {})
}

/// Runs once on a paused clock, showing every event to `on_event` before folding it.
pub fn run_one_with(spec: &RunSpec, providers: &Providers, mut on_event: impl FnMut(&RunEvent)) -> std::io::Result<RunState> {
    let mut state = headless_state(spec);
    engine::run_blocking(spec, providers, |ev| {
        on_event(&ev);
        state.apply(&ev);
    })?;
    Ok(state)
}

/// Runs on a paused clock but hands events over at `speed` times real time, as the live
/// screen shows them: a run stopped half-way (Ctrl-C, a kill) leaves a recording cut at that
/// moment, exactly like an interrupted live run.
pub fn run_paced(spec: &RunSpec, providers: &Providers, speed: f64, mut on_event: impl FnMut(&RunEvent)) -> std::io::Result<RunState> {
    let (tx, rx) = std::sync::mpsc::channel::<RunEvent>();
    let (spec2, providers2) = (spec.clone(), providers.clone());
    let engine = std::thread::spawn(move || engine::run_blocking(&spec2, &providers2, |ev| drop(tx.send(ev))));
    let mut state = headless_state(spec);
    let start = Instant::now();
    for ev in rx {
        let due = Duration::from_secs_f64(ev.at.as_secs_f64() / speed.max(1e-6));
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        on_event(&ev);
        state.apply(&ev);
    }
    engine.join().map_err(|_| std::io::Error::other("the engine thread panicked"))??;
    Ok(state)
}

/// Runs every task in turn on one paused-clock runtime, handing each folded run to `each`.
/// Deltas are off: a batch reports totals, not streams.
pub fn run_tasks(base: &RunSpec, tasks: &[Task], providers: &Providers, mut each: impl FnMut(&Task, &RunState)) -> std::io::Result<()> {
    let rt = if providers.is_simulated() {
        tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build()?
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    };
    rt.block_on(async {
        for (k, task) in tasks.iter().enumerate() {
            let mut spec = base.clone();
            spec.input = task.input.clone();
            spec.run_id = k as u64 + 1;
            spec.options = Options { deltas: false };
            let mut state = headless_state(&spec);
            engine::run_collect(&spec, providers, tokio_util::sync::CancellationToken::new(), |ev| {
                state.apply(&ev);
            })
            .await;
            each(task, &state);
        }
    });
    Ok(())
}

/// Runs every task and totals them as the batch report does.
pub fn run_batch(base: &RunSpec, tasks: &[Task], providers: &Providers) -> std::io::Result<BatchReport> {
    let mut acc = BatchAccumulator::default();
    run_tasks(base, tasks, providers, |_, s| acc.add(s))?;
    Ok(acc.finish())
}
