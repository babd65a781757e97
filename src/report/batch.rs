//! Many runs of one flow under one strategy, totalled as they finish.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::event::Outcome;
use crate::money::Money;
use crate::routing::Usage;
use crate::state::{RunState, RunStatus, Status};

use super::json::{ChecksReport, ContextReport, context_of};
use super::table::*;
use super::{listed_units, ms, usd};

/// Aggregates of many runs of one flow under one strategy.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BatchReport {
    pub flow: String,
    pub strategy: String,
    pub seed: u64,
    pub tasks: usize,
    pub outcomes: BTreeMap<&'static str, usize>,
    pub totals: BatchTotals,
    pub by_kind: BTreeMap<String, GroupReport>,
    pub by_model: BTreeMap<String, GroupReport>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BatchTotals {
    pub cost_usd: f64,
    pub cost_per_task_usd: f64,
    pub cost_per_1000_usd: f64,
    pub tokens: Usage,
    pub context_tokens: ContextReport,
    pub checks: ChecksReport,
    /// Tasks whose run completed with every check passed, with the 95% Wilson interval
    /// (tasks with nothing checked are left out).
    pub quality: crate::quality::Rate,
    /// The task set's own checks (equals, similar, json_schema, command, judge ...), when it
    /// has any; they count in `quality`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_checks: Option<ChecksReport>,
    /// What judging cost, apart from the flow's cost (`cost_usd`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_cost_usd: Option<f64>,
    /// Simulated wall time per task.
    pub latency_ms: Percentiles,
    pub critical_path_ms: Percentiles,
    pub retries: usize,
    pub fallbacks: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub mean: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct GroupReport {
    /// Calls that produced the kept output.
    pub calls: usize,
    pub cost_usd: f64,
    pub share_of_cost: f64,
    pub tokens: Usage,
    pub checks_passed: usize,
    pub checks_total: usize,
    pub pass_rate: Option<f64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, usize>,
}

/// Accumulates runs one at a time, so a batch never holds more than one run's state.
#[derive(Default)]
pub struct BatchAccumulator {
    flow: String,
    strategy: String,
    seed: u64,
    tasks: usize,
    outcomes: BTreeMap<&'static str, usize>,
    cost: Money,
    usage: Usage,
    ctx: ContextReport,
    checks: (usize, usize),
    /// Tasks passed, tasks measured.
    tasks_passed: (usize, usize),
    task_checks: (usize, usize),
    eval_cost: Money,
    walls: Vec<Duration>,
    paths: Vec<Duration>,
    retries: usize,
    fallbacks: usize,
    kinds: BTreeMap<String, (Money, GroupReport)>,
    models: BTreeMap<String, (Money, GroupReport)>,
}

impl BatchAccumulator {
    pub fn add(&mut self, s: &RunState) {
        self.add_checked(s, None);
    }

    /// Adds a run with what the task's own checks found (a task passes when its run passes
    /// and every one of them does).
    pub fn add_checked(&mut self, s: &RunState, task: Option<&crate::quality::checks::Verdicts>) {
        self.flow = s.flow.name.clone();
        self.strategy = s.strategy.name.clone();
        self.seed = s.seed;
        self.tasks += 1;
        let outcome = match s.status {
            RunStatus::Finished(o) => o,
            _ => Outcome::Cancelled,
        };
        *self.outcomes.entry(outcome.name()).or_default() += 1;
        let t = &s.totals;
        self.cost += t.cost.total();
        self.usage.add(&t.usage);
        self.checks.0 += t.checks_passed;
        self.checks.1 += t.checks_total;
        let own = task.filter(|v| !v.results.is_empty());
        if let Some(v) = own {
            self.task_checks.0 += v.results.iter().filter(|r| r.passed).count();
            self.task_checks.1 += v.results.len();
            self.eval_cost += v.eval_cost;
        }
        let run = crate::quality::task_passed(s);
        let passed = match (run, own) {
            (None, None) => None,
            (r, v) => Some(r.unwrap_or(true) && v.is_none_or(|v| v.passed())),
        };
        if let Some(p) = passed {
            self.tasks_passed.0 += usize::from(p);
            self.tasks_passed.1 += 1;
        }
        self.walls.push(s.wall());
        self.paths.push(t.critical_path);
        self.retries += t.retries;
        self.fallbacks += t.fallbacks;
        for i in listed_units(s) {
            let u = &s.units[i];
            let c = context_of(u);
            self.ctx.prompt += c.prompt;
            self.ctx.declared += c.declared;
            self.ctx.history += c.history;
            if !matches!(u.status, Status::Done | Status::Cached) {
                continue;
            }
            let kind = s.flow.nodes[u.unit.index()].kind.clone();
            let model = u.model.as_deref().unwrap_or_default().to_string();
            for (key, map, with_model) in [(kind, &mut self.kinds, true), (model.clone(), &mut self.models, false)] {
                let (money, g) = map.entry(key).or_default();
                *money += u.cost.total();
                g.calls += 1;
                g.tokens.add(&u.billed_usage);
                g.checks_passed += u.checks_passed();
                g.checks_total += u.checks.len();
                if with_model {
                    *g.models.entry(model.clone()).or_default() += 1;
                }
            }
        }
    }

    pub fn finish(mut self) -> BatchReport {
        let n = self.tasks.max(1) as i64;
        let total = self.cost;
        let groups = |m: BTreeMap<String, (Money, GroupReport)>| -> BTreeMap<String, GroupReport> {
            m.into_iter()
                .map(|(k, (money, mut g))| {
                    g.cost_usd = usd(money);
                    g.share_of_cost = money.ratio(total).unwrap_or(0.0);
                    g.pass_rate = (g.checks_total > 0).then(|| g.checks_passed as f64 / g.checks_total as f64);
                    (k, g)
                })
                .collect()
        };
        BatchReport {
            flow: self.flow,
            strategy: self.strategy,
            seed: self.seed,
            tasks: self.tasks,
            outcomes: self.outcomes,
            totals: BatchTotals {
                cost_usd: usd(total),
                cost_per_task_usd: usd(total.scale(1, n)),
                cost_per_1000_usd: usd(total.scale(1000, n)),
                tokens: self.usage,
                context_tokens: self.ctx,
                checks: ChecksReport {
                    passed: self.checks.0,
                    total: self.checks.1,
                    pass_rate: (self.checks.1 > 0).then(|| self.checks.0 as f64 / self.checks.1 as f64),
                },
                quality: crate::quality::Rate::new(self.tasks_passed.0, self.tasks_passed.1),
                task_checks: (self.task_checks.1 > 0).then(|| ChecksReport {
                    passed: self.task_checks.0,
                    total: self.task_checks.1,
                    pass_rate: Some(self.task_checks.0 as f64 / self.task_checks.1 as f64),
                }),
                eval_cost_usd: (self.task_checks.1 > 0).then(|| usd(self.eval_cost)),
                latency_ms: percentiles(&mut self.walls),
                critical_path_ms: percentiles(&mut self.paths),
                retries: self.retries,
                fallbacks: self.fallbacks,
            },
            by_kind: groups(self.kinds),
            by_model: groups(self.models),
        }
    }
}

/// Nearest-rank percentiles.
pub fn percentiles(v: &mut [Duration]) -> Percentiles {
    if v.is_empty() {
        return Percentiles::default();
    }
    v.sort();
    let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    let mean = v.iter().map(|d| d.as_secs_f64()).sum::<f64>() / v.len() as f64;
    Percentiles { p50: ms(rank(0.50)), p95: ms(rank(0.95)), mean: (mean * 10_000.0).round() / 10.0, max: ms(v[v.len() - 1]) }
}

/// The human summary of a batch.
pub fn batch_table(b: &BatchReport) -> String {
    let mut out = String::new();
    let t = &b.totals;
    let _ = writeln!(out, "{} · {} · seed {} · {} tasks", b.flow, b.strategy, b.seed, b.tasks);
    let outcomes: Vec<String> = b.outcomes.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let _ = writeln!(out, "outcomes: {}", outcomes.join(", "));
    let _ =
        writeln!(out, "cost ${:.4} total · ${:.6} per task · ${:.4} per 1000 tasks", t.cost_usd, t.cost_per_task_usd, t.cost_per_1000_usd);
    let _ = writeln!(
        out,
        "latency per task p50 {:.2}s · p95 {:.2}s · mean {:.2}s · max {:.2}s",
        t.latency_ms.p50 / 1000.0,
        t.latency_ms.p95 / 1000.0,
        t.latency_ms.mean / 1000.0,
        t.latency_ms.max / 1000.0
    );
    let _ = writeln!(
        out,
        "tokens in {} (cached {}) out {} · checks {}/{} ({}) · tasks passing {} · retries {} · fallbacks {}",
        thousands(t.tokens.total_input()),
        thousands(t.tokens.cached),
        thousands(t.tokens.output),
        t.checks.passed,
        t.checks.total,
        percent(t.checks.pass_rate),
        t.quality.label(),
        t.retries,
        t.fallbacks
    );
    if let Some(tc) = &t.task_checks {
        let _ = writeln!(
            out,
            "task checks {}/{} ({}) · evaluation cost {} (judging, apart from the flow's cost)",
            tc.passed,
            tc.total,
            percent(tc.pass_rate),
            Money::from_usd(t.eval_cost_usd.unwrap_or(0.0))
        );
    }
    out.push('\n');
    let mut table = Table::new(&[
        ("KIND", false),
        ("CALLS", true),
        ("COST", true),
        ("SHARE", true),
        ("IN", true),
        ("OUT", true),
        ("CHECKS", true),
        ("MODELS", false),
    ]);
    for (k, g) in &b.by_kind {
        let models: Vec<String> = g.models.iter().map(|(m, c)| format!("{m}×{c}")).collect();
        table.row(vec![
            k.clone(),
            thousands(g.calls as u64),
            Money::from_usd(g.cost_usd).to_string(),
            format!("{:.1}%", g.share_of_cost * 100.0),
            thousands(g.tokens.total_input()),
            thousands(g.tokens.output),
            percent(g.pass_rate),
            models.join(", "),
        ]);
    }
    out.push_str(&table.render());
    out
}
