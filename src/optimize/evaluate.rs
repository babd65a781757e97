//! A candidate's figures on a set of tasks: each task is run by the engine under the candidate
//! strategy, on virtual time, over the memo; the runs are folded and totalled as a batch is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::memo::Memo;
use crate::engine::{self, Options, RunSpec};
use crate::flow::Flow;
use crate::load::Task;
use crate::money::Money;
use crate::provider::Providers;
use crate::quality::checks::TaskCheck;
use crate::quality::judge::Judge;
use crate::quality::{Rate, task_passed};
use crate::report::BatchAccumulator;
use crate::routing::{Catalog, Strategy};
use crate::state::RunState;

/// What a strategy did on a set of tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Figures {
    pub tasks: usize,
    #[serde(skip)]
    pub cost: Money,
    pub cost_usd: f64,
    pub cost_per_1000_usd: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    /// Tasks whose run completed with every check passed, with the 95% Wilson interval.
    pub quality: Rate,
    /// Checks passed over checks run (the compare table's CHECKS).
    pub checks_pass_rate: Option<f64>,
    /// Model calls whose output was kept, per task.
    pub calls_per_task: f64,
    /// What judging the task set's checks cost, apart from `cost_usd`.
    pub eval_cost_usd: f64,
}

/// Each task's checks, by its line and id.
type ChecksByTask = HashMap<(usize, String), Arc<Vec<TaskCheck>>>;

/// Runs candidates over tasks.
pub struct Evaluator {
    flow: Arc<Flow>,
    catalog: Arc<Catalog>,
    seed: u64,
    memo: Memo,
    providers: Providers,
    judge: Judge,
    /// Each task's own checks, read once (by task line and id).
    checks: Mutex<ChecksByTask>,
}

impl Evaluator {
    /// Every call goes through one memo over `providers`.
    pub fn new(flow: Arc<Flow>, catalog: Arc<Catalog>, seed: u64, providers: Providers) -> std::io::Result<Evaluator> {
        let memo = Memo::new(providers.clone())?;
        let judge = Judge::new(catalog.clone(), providers, seed);
        let providers = Providers::only(Arc::new(memo.clone()));
        Ok(Evaluator { flow, catalog, seed, memo, providers, judge, checks: Mutex::default() })
    }

    pub fn memo(&self) -> &Memo {
        &self.memo
    }

    /// What the judge has called, and spent.
    pub fn judge_spent(&self) -> (u64, Money) {
        self.judge.spent()
    }

    fn checks_of(&self, task: &Task) -> Arc<Vec<TaskCheck>> {
        if task.checks.is_empty() {
            return Arc::default();
        }
        let mut map = self.checks.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry((task.line, task.id.clone()))
            // A task whose checks do not read was refused before the search; here it has none.
            .or_insert_with(|| Arc::new(crate::quality::checks::parse(task, &self.flow).unwrap_or_default()))
            .clone()
    }

    /// Runs `strategy` on every task (until `cancel`) and folds the runs into figures.
    pub fn evaluate(&self, strategy: &Arc<Strategy>, tasks: &[Task], cancel: &CancellationToken) -> Figures {
        let mut acc = BatchAccumulator::default();
        let (mut passed, mut measured, mut calls) = (0, 0, 0usize);
        let mut cost = Money::ZERO;
        let mut eval = Money::ZERO;
        engine::vtime::block_on(async {
            for (k, task) in tasks.iter().enumerate() {
                if cancel.is_cancelled() {
                    break;
                }
                let mut spec = RunSpec::new(self.flow.clone(), strategy.clone(), self.catalog.clone(), task.input.clone(), self.seed);
                spec.run_id = k as u64 + 1;
                spec.options = Options { deltas: false };
                let mut state = RunState { live_text: false, ..RunState::for_spec(&spec) };
                engine::run_show(&spec, &self.providers, cancel.clone(), |ev| {
                    state.apply(ev);
                })
                .await;
                let own = self.checks_of(task);
                let verdicts = (!own.is_empty()).then(|| crate::quality::checks::evaluate(task, &own, &state, &self.judge));
                let run = task_passed(&state);
                let pass = match (run, &verdicts) {
                    (None, None) => None,
                    (r, v) => Some(r.unwrap_or(true) && v.as_ref().is_none_or(|v| v.passed())),
                };
                if let Some(p) = pass {
                    measured += 1;
                    passed += usize::from(p);
                }
                if let Some(v) = &verdicts {
                    eval += v.eval_cost;
                }
                calls += state.units.iter().filter(|u| matches!(u.status, crate::state::Status::Done)).count();
                cost += state.totals.cost.total();
                acc.add(&state);
            }
        });
        let b = acc.finish();
        let t = &b.totals;
        Figures {
            tasks: b.tasks,
            cost,
            cost_usd: cost.usd(),
            cost_per_1000_usd: cost.scale(1000, b.tasks.max(1) as i64).usd(),
            latency_p50_ms: t.latency_ms.p50,
            latency_p95_ms: t.latency_ms.p95,
            quality: Rate::new(passed, measured),
            checks_pass_rate: t.checks.pass_rate,
            calls_per_task: if b.tasks == 0 { 0.0 } else { calls as f64 / b.tasks as f64 },
            eval_cost_usd: eval.usd(),
        }
    }
}
