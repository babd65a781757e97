//! The optimizer pane's state (what `App` holds): the task set, the search's progress and
//! outcome, the highlighted point, and the compare screen's picked side. Its keys and drawing
//! are `frontier` and `frontier_view`; this file knows nothing of `App`.

use std::sync::Arc;

use crate::load::Task;
use crate::optimize::{Outcome, Point, Progress};

/// What the search thread says.
/// Each carries the number of the search it is about, so a stopped search's late reports
/// never land on the next one.
#[derive(Debug, Clone)]
pub enum OptimizerMsg {
    Progress(u64, Progress),
    Done(u64, Box<Result<Outcome, String>>),
}

/// A task set to search over: where it came from, and its tasks.
#[derive(Debug, Clone)]
pub struct TaskSet {
    pub name: String,
    pub tasks: Arc<Vec<Task>>,
}

/// The search's state on the screen, and the compare screen's picked point.
#[derive(Debug, Default)]
pub struct Frontier {
    /// The task set the screen was opened with, if any.
    pub tasks: Option<TaskSet>,
    /// The pane is showing.
    pub open: bool,
    /// A search is in flight.
    pub running: bool,
    /// A live search waits for a second `F` (it calls real models).
    pub confirm_live: bool,
    /// The latest progress report (candidates, calls, spend, frontier so far).
    pub progress: Option<Progress>,
    /// The finished search.
    pub outcome: Option<Arc<Outcome>>,
    /// Why the last search failed.
    pub error: Option<String>,
    /// The highlighted frontier point.
    pub selected: usize,
    /// The strategy the search started from, to measure the points against.
    pub started_from: Option<String>,
    /// How many points were applied this session (names them `found-N`).
    pub applied: usize,
    /// Compare mode: the picked side in the frontier chart.
    pub compare_pick: usize,
    /// The number of the latest search started.
    pub search_id: u64,
    /// The cheapest point at least as good as the strategy searched from (highlighted first).
    pub suggested: Option<usize>,
}

impl Frontier {
    /// The points to show: the finished search's frontier, else the latest progress's.
    pub fn points(&self) -> &[Point] {
        match (&self.outcome, &self.progress) {
            (Some(o), _) => &o.frontier,
            (None, Some(p)) => &p.frontier,
            (None, None) => &[],
        }
    }
}

/// The task set for a flow when the screen was not given one: the sample set of the same name.
pub fn sample_tasks_for(flow: &str) -> Option<TaskSet> {
    crate::load::SAMPLE_TASKS.iter().find(|(n, _)| *n == flow).and_then(|(n, _)| {
        crate::load::load_tasks(n).ok().map(|tasks| TaskSet { name: format!("sample tasks/{n}"), tasks: Arc::new(tasks) })
    })
}
