//! The engine: runs a flow under a strategy, as one future (on virtual time when every model is
//! simulated, on tokio otherwise), and emits [`RunEvent`]s.
//!
//! One task owns the scheduling state: which nodes wait for what, what is ready, what runs, what
//! has been spent. Calls run as futures polled by that task, so the scheduling state needs no
//! lock; the one shared piece, provider health, is explained in `health`. Ready work is started
//! in topological order, so with the same inputs on virtual time a run is reproducible event
//! for event.
//!
//! # Layout
//!
//! - `schedule`: the task that owns ready, running and spent state, and settles each unit.
//! - `decisions`: equal routing decisions shared by the units routed alike.
//! - `context`: what a node receives (its prompt and upstream outputs or the whole history).
//! - `call`: one unit's calls: what they were given, how they report, the rules they follow.
//! - `tries`: a unit's tries run to their end: fallbacks, retries with backoff, escalation,
//!   billing; a future written by hand, polled first where it is made.
//! - `attempt`: one try of one model: its stream read, timed and policed.
//! - `health`: how each model has been doing, and when a failing model rests.
//! - `store`: output reuse ([`OutputStore`], [`Query`], [`Served`]) and the content key.
//! - `sink`: where events go (a channel, or a function on the engine's task).
//! - [`runtime`]: what a run is driven on: virtual time for the simulator, tokio otherwise.
//! - `vtime`: virtual time, its executor and its timers.
//!
//! This file holds what callers use: [`RunSpec`] and the `run*` entry points.

mod attempt;
mod call;
mod context;
pub(crate) use context::output_part;
mod decisions;
mod health;
pub mod runtime;
mod schedule;
mod sink;
mod store;
mod tries;
pub(crate) mod vtime;

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::event::{Outcome, RunEvent};
use crate::flow::Flow;
use crate::provider::Providers;
use crate::routing::{Catalog, Strategy};

pub use store::{OutputStore, Query, Served};
pub use vtime::{Sleep, sleep};

use schedule::execute;
use sink::{Channel, Inline, Show};

/// Everything that defines a run.
#[derive(Clone)]
pub struct RunSpec {
    pub flow: Arc<Flow>,
    pub strategy: Arc<Strategy>,
    pub catalog: Arc<Catalog>,
    pub input: String,
    pub seed: u64,
    pub run_id: u64,
    pub attempt: u32,
    pub options: Options,
    /// Outputs to reuse (cache, resume, fork).
    pub store: Option<Arc<dyn OutputStore>>,
}

/// How a run reports itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Emit a NodeDelta per streamed chunk. Batch runs turn this off; nothing they report
    /// needs the pieces.
    pub deltas: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { deltas: true }
    }
}

impl RunSpec {
    pub fn new(flow: Arc<Flow>, strategy: Arc<Strategy>, catalog: Arc<Catalog>, input: String, seed: u64) -> RunSpec {
        RunSpec { flow, strategy, catalog, input, seed, run_id: 1, attempt: 1, options: Options::default(), store: None }
    }
}

/// Runs a flow to the end (or until cancelled), sending every event on `tx`. Returns how the
/// run ended. If the receiver goes away the run stops as if cancelled.
pub async fn run(spec: &RunSpec, providers: &Providers, tx: mpsc::Sender<RunEvent>, cancel: CancellationToken) -> Outcome {
    execute(spec, providers, &Channel::new(tx), cancel).await
}

/// Runs a flow on virtual time: simulated seconds cost no wall time, and every reported time
/// is the simulated one. Events go to `on_event` as they come.
pub fn run_virtual(spec: &RunSpec, providers: &Providers, on_event: impl FnMut(RunEvent)) -> std::io::Result<Outcome> {
    runtime::drive(true, run_collect(spec, providers, CancellationToken::new(), on_event))
}

/// Runs a flow to the end on this thread: on virtual time when every model is simulated, in
/// real time when any real provider is involved (virtual time would fire timeouts while
/// waiting on the network).
pub fn run_blocking(spec: &RunSpec, providers: &Providers, on_event: impl FnMut(RunEvent)) -> std::io::Result<Outcome> {
    run_blocking_until(spec, providers, CancellationToken::new(), on_event)
}

/// [`run_blocking`] until `cancel` fires (a Ctrl-C, say): the run then ends `cancelled`.
pub fn run_blocking_until(
    spec: &RunSpec,
    providers: &Providers,
    cancel: CancellationToken,
    on_event: impl FnMut(RunEvent),
) -> std::io::Result<Outcome> {
    runtime::drive(providers.is_simulated(), run_collect(spec, providers, cancel, on_event))
}

/// Runs the engine and hands each event to `on_event` on the same task.
pub async fn run_collect(spec: &RunSpec, providers: &Providers, cancel: CancellationToken, on_event: impl FnMut(RunEvent)) -> Outcome {
    execute(spec, providers, &Inline(std::cell::RefCell::new(on_event)), cancel).await
}

/// Runs the engine and shows each event to `on_event` on the same task: for what only reads
/// them (a fold, a recording), which [`run_collect`] would hand each event by value.
pub async fn run_show(spec: &RunSpec, providers: &Providers, cancel: CancellationToken, on_event: impl FnMut(&RunEvent)) -> Outcome {
    execute(spec, providers, &Show(std::cell::RefCell::new(on_event)), cancel).await
}
