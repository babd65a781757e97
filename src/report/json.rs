//! The JSON report of one run: what `baton run --format json` and `replay --summary --format json`
//! print.

use serde::Serialize;

use crate::flow::CheckResult;
use crate::routing::{Cost, Usage};
use crate::state::{RunState, RunStatus, Status, UnitState};

use super::{listed_units, ms, usd};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CostReport {
    pub input_usd: f64,
    pub cached_usd: f64,
    pub output_usd: f64,
}

impl From<&Cost> for CostReport {
    fn from(c: &Cost) -> Self {
        CostReport { input_usd: usd(c.input), cached_usd: usd(c.cached), output_usd: usd(c.output) }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct ContextReport {
    pub prompt: u64,
    pub declared: u64,
    pub history: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChecksReport {
    pub passed: usize,
    pub total: usize,
    pub pass_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CountsReport {
    pub total: usize,
    pub done: usize,
    pub cached: usize,
    pub skipped: usize,
    pub failed: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TotalsReport {
    pub cost_usd: f64,
    pub cost: CostReport,
    /// Simulated (or, for live runs, measured) time from start to finish.
    pub wall_ms: f64,
    /// Longest chain of dependent node spans: the bound no scheduler can beat.
    pub critical_path_ms: f64,
    pub critical_path: Vec<String>,
    pub tokens: Usage,
    pub context_tokens: ContextReport,
    pub checks: ChecksReport,
    pub nodes: CountsReport,
    pub retries: usize,
    pub fallbacks: usize,
    pub budget_usd: Option<f64>,
    /// What an unchanged rerun saved by serving nodes from the cache.
    pub saved_usd: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeReport {
    pub id: String,
    pub node: String,
    pub item: Option<u32>,
    pub kind: String,
    pub status: &'static str,
    /// The model whose output was kept.
    pub model: Option<String>,
    /// The model the routing decision asked for.
    pub requested_model: Option<String>,
    pub rule: Option<String>,
    pub reason: Option<String>,
    pub start_ms: Option<f64>,
    pub end_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub latency_ms: Option<f64>,
    /// Time spent waiting for a provider's concurrency slot or rate window (part of the
    /// latency, never of a timeout); absent when the node never waited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued_ms: Option<f64>,
    /// Reused from the recording a resumed run continues, at its recorded cost and times.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
    pub tokens: Usage,
    /// Some of `tokens` are Baton's tokenizer estimate: the provider reported no usage for the
    /// kept call, or for a failed try it bills all the same.
    pub tokens_estimated: bool,
    pub context_tokens: ContextReport,
    pub cost_usd: f64,
    pub cost: CostReport,
    pub checks: Vec<CheckResult>,
    pub retries: usize,
    pub fallbacks: Vec<String>,
    pub skipped: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunReport {
    pub flow: String,
    pub strategy: String,
    pub seed: u64,
    pub input: String,
    pub status: &'static str,
    pub prices_read: String,
    pub totals: TotalsReport,
    pub nodes: Vec<NodeReport>,
}

pub(super) fn status_name(s: &RunState) -> &'static str {
    match s.status {
        RunStatus::NotStarted => "not started",
        RunStatus::Running => "running",
        RunStatus::Finished(o) => o.name(),
    }
}

pub(super) fn context_of(u: &UnitState) -> ContextReport {
    let (prompt, declared, history) = u.attribution();
    ContextReport { prompt, declared, history }
}

impl RunReport {
    pub fn new(s: &RunState) -> RunReport {
        let mut ctx = ContextReport::default();
        let nodes: Vec<NodeReport> = listed_units(s)
            .into_iter()
            .map(|i| {
                let u = &s.units[i];
                let node = &s.flow.nodes[u.unit.index()];
                let c = context_of(u);
                ctx.prompt += c.prompt;
                ctx.declared += c.declared;
                ctx.history += c.history;
                NodeReport {
                    id: u.label.clone(),
                    node: node.id.clone(),
                    item: u.unit.item,
                    kind: node.kind.clone(),
                    status: u.status.name(),
                    model: u.model.clone().filter(|_| matches!(u.status, Status::Done | Status::Cached)),
                    requested_model: u.decision.as_ref().map(|d| d.model.clone()),
                    rule: u.decision.as_ref().map(|d| d.rule_label.to_string()),
                    reason: u.decision.as_ref().map(|d| d.reason.to_string()),
                    start_ms: u.started.map(ms),
                    end_ms: u.finished.map(ms),
                    ttft_ms: u.ttft.map(ms),
                    latency_ms: u.latency.map(ms),
                    queued_ms: (u.queued > std::time::Duration::ZERO).then(|| ms(u.queued)),
                    resumed: u.resumed.is_some(),
                    tokens: u.billed_usage,
                    tokens_estimated: u.estimated || u.billed_estimated,
                    context_tokens: c,
                    cost_usd: usd(u.cost.total()),
                    cost: CostReport::from(&u.cost),
                    checks: u.checks.clone(),
                    retries: u.retries.len(),
                    fallbacks: u.fallbacks.iter().map(|f| format!("{} → {}: {}", f.from, f.to, f.reason)).collect(),
                    skipped: u.skip.as_ref().map(ToString::to_string),
                    error: u.error.clone(),
                }
            })
            .collect();
        let t = &s.totals;
        RunReport {
            flow: s.flow.name.clone(),
            strategy: s.strategy.name.clone(),
            seed: s.seed,
            input: s.input.clone(),
            status: status_name(s),
            prices_read: s.catalog.prices_read.clone(),
            totals: TotalsReport {
                cost_usd: usd(t.cost.total()),
                cost: CostReport::from(&t.cost),
                wall_ms: ms(s.wall()),
                critical_path_ms: ms(t.critical_path),
                critical_path: s.critical_path().into_iter().map(|i| s.units[i].label.clone()).collect(),
                tokens: t.usage,
                context_tokens: ctx,
                checks: ChecksReport { passed: t.checks_passed, total: t.checks_total, pass_rate: t.pass_rate() },
                nodes: CountsReport { total: t.units_total, done: t.done, cached: t.cached, skipped: t.skipped, failed: t.failed },
                retries: t.retries,
                fallbacks: t.fallbacks,
                budget_usd: s.strategy.budget.map(usd),
                saved_usd: usd(t.saved),
            },
            nodes,
        }
    }
}
