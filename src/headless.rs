//! Runs without a screen: one run or a batch of tasks, in virtual time, folded into state.

use crate::engine::{self, Options, RunSpec};
use crate::load::Task;
use crate::provider::Providers;
use crate::state::RunState;

/// Runs once on a paused clock and returns the folded state.
pub fn run_one(spec: &RunSpec, providers: &Providers) -> std::io::Result<RunState> {
    let mut state = RunState::new(spec.flow.clone(), spec.strategy.clone(), spec.catalog.clone(), spec.run_id, spec.attempt);
    engine::run_virtual(spec, providers, |ev| {
        state.apply(&ev);
    })?;
    Ok(state)
}

/// Runs every task in turn on one paused-clock runtime, handing each folded run to `each`.
/// Deltas are off: a batch reports totals, not streams.
pub fn run_tasks(base: &RunSpec, tasks: &[Task], providers: &Providers, mut each: impl FnMut(&Task, &RunState)) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build()?;
    rt.block_on(async {
        for (k, task) in tasks.iter().enumerate() {
            let mut spec = base.clone();
            spec.input = task.input.clone();
            spec.run_id = k as u64 + 1;
            spec.options = Options { deltas: false };
            let mut state = RunState::new(spec.flow.clone(), spec.strategy.clone(), spec.catalog.clone(), spec.run_id, spec.attempt);
            engine::run_collect(&spec, providers, tokio_util::sync::CancellationToken::new(), |ev| {
                state.apply(&ev);
            })
            .await;
            each(task, &state);
        }
    });
    Ok(())
}
