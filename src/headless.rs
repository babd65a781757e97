//! Runs without a screen: one run or a batch of tasks, in virtual time, folded into state.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

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

/// Runs once on virtual time (when simulated) and returns the folded state.
pub fn run_one(spec: &RunSpec, providers: &Providers) -> std::io::Result<RunState> {
    run_one_with(spec, providers, |_| {})
}

/// Runs once on virtual time (when simulated), showing every event to `on_event` before
/// folding it.
pub fn run_one_with(spec: &RunSpec, providers: &Providers, on_event: impl FnMut(&RunEvent)) -> std::io::Result<RunState> {
    run_one_until(spec, providers, CancellationToken::new(), on_event)
}

/// [`run_one_with`] until `cancel` fires: in-flight calls are dropped, the run ends with a
/// `cancelled` outcome, and the state holds everything that finished before.
pub fn run_one_until(
    spec: &RunSpec,
    providers: &Providers,
    cancel: CancellationToken,
    mut on_event: impl FnMut(&RunEvent),
) -> std::io::Result<RunState> {
    let mut state = headless_state(spec);
    let fold = engine::run_show(spec, providers, cancel, |ev| {
        on_event(ev);
        state.apply(ev);
    });
    engine::runtime::drive(providers.is_simulated(), fold)?;
    Ok(state)
}

/// Runs on virtual time but hands events over at `speed` times real time, as the live
/// screen shows them: a run stopped half-way (Ctrl-C, a kill) leaves a recording cut at that
/// moment, exactly like an interrupted live run.
pub fn run_paced(
    spec: &RunSpec,
    providers: &Providers,
    speed: f64,
    cancel: CancellationToken,
    mut on_event: impl FnMut(&RunEvent),
) -> std::io::Result<RunState> {
    let (tx, rx) = std::sync::mpsc::channel::<RunEvent>();
    let (spec2, providers2) = (spec.clone(), providers.clone());
    // The engine runs ahead in virtual time; a cancel stops the pacing here, and the engine
    // is told to end so its closing events arrive at once.
    let engine_cancel = cancel.clone();
    let engine = std::thread::spawn(move || engine::run_blocking_until(&spec2, &providers2, engine_cancel, |ev| drop(tx.send(ev))));
    let mut state = headless_state(spec);
    let start = Instant::now();
    let mut last = Duration::ZERO;
    for ev in rx {
        if cancel.is_cancelled() {
            // The engine ran ahead of what was shown: what had not been shown did not happen
            // as far as this run is concerned. Close the run where the viewer was.
            break;
        }
        let due = Duration::from_secs_f64(ev.at.as_secs_f64() / speed.max(1e-6));
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            // Sleep in slices so a cancel is noticed promptly.
            let until = Instant::now() + wait;
            while !cancel.is_cancelled() && Instant::now() < until {
                std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
            }
            if cancel.is_cancelled() {
                break;
            }
        }
        last = ev.at;
        on_event(&ev);
        state.apply(&ev);
    }
    if cancel.is_cancelled() && !matches!(state.status, crate::state::RunStatus::Finished(_)) {
        let end = RunEvent {
            run: spec.run_id,
            attempt: spec.attempt,
            at: last,
            kind: crate::event::Event::RunFinished { outcome: crate::event::Outcome::Cancelled },
        };
        on_event(&end);
        state.apply(&end);
    }
    engine.join().map_err(|_| std::io::Error::other("the engine thread panicked"))??;
    Ok(state)
}

/// Runs every task in turn on one runtime (virtual time when simulated), handing each
/// folded run to `each`.
/// Deltas are off: a batch reports totals, not streams.
pub fn run_tasks(base: &RunSpec, tasks: &[Task], providers: &Providers, each: impl FnMut(&Task, &RunState)) -> std::io::Result<()> {
    run_tasks_until(base, tasks, providers, CancellationToken::new(), each)
}

/// [`run_tasks`] until `cancel` fires: the task in flight ends cancelled and is handed over;
/// later tasks do not start.
pub fn run_tasks_until(
    base: &RunSpec,
    tasks: &[Task],
    providers: &Providers,
    cancel: CancellationToken,
    mut each: impl FnMut(&Task, &RunState),
) -> std::io::Result<()> {
    engine::runtime::drive(providers.is_simulated(), async {
        for (k, task) in tasks.iter().enumerate() {
            if cancel.is_cancelled() {
                break;
            }
            let mut spec = base.clone();
            spec.input = task.input.clone();
            spec.run_id = k as u64 + 1;
            spec.options = Options { deltas: false };
            let mut state = headless_state(&spec);
            engine::run_show(&spec, providers, cancel.clone(), |ev| {
                state.apply(ev);
            })
            .await;
            each(task, &state);
        }
    })
}

/// Runs every task and totals them as the batch report does.
pub fn run_batch(base: &RunSpec, tasks: &[Task], providers: &Providers) -> std::io::Result<BatchReport> {
    run_batch_until(base, tasks, providers, CancellationToken::new())
}

/// [`run_batch`] until `cancel` fires; the report covers the tasks that ran.
pub fn run_batch_until(base: &RunSpec, tasks: &[Task], providers: &Providers, cancel: CancellationToken) -> std::io::Result<BatchReport> {
    run_batch_with(base, tasks, providers, cancel, &crate::progress::Silent)
}

/// [`run_batch_until`], telling `progress` each task's cost as it finishes (the caller calls
/// `begin` and `end`, so a compare can count every strategy's tasks on one bar).
pub fn run_batch_with(
    base: &RunSpec,
    tasks: &[Task],
    providers: &Providers,
    cancel: CancellationToken,
    progress: &dyn crate::progress::Progress,
) -> std::io::Result<BatchReport> {
    let mut acc = BatchAccumulator::default();
    run_tasks_until(base, tasks, providers, cancel, |_, s| {
        acc.add(s);
        progress.advance(s.totals.cost.total());
    })?;
    Ok(acc.finish())
}

/// [`run_batch_until`] with the task set's own checks (`checks[k]` for `tasks[k]`), judged by
/// `judge`; their evaluation cost is totalled apart from the flow's.
pub fn run_batch_checked(
    base: &RunSpec,
    tasks: &[Task],
    checks: &[Vec<crate::quality::checks::TaskCheck>],
    providers: &Providers,
    judge: &crate::quality::judge::Judge,
    cancel: CancellationToken,
    progress: &dyn crate::progress::Progress,
) -> std::io::Result<BatchReport> {
    let mut acc = BatchAccumulator::default();
    let mut k = 0;
    run_tasks_until(base, tasks, providers, cancel, |task, s| {
        let own = checks.get(k).map(|c| crate::quality::checks::evaluate(task, c, s, judge));
        acc.add_checked(s, own.as_ref());
        progress.advance(s.totals.cost.total());
        k += 1;
    })?;
    Ok(acc.finish())
}
