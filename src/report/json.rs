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
    /// `null` when some node's model is not in the catalog: the cost is unknown, not the
    /// priced part (`priced_cost_usd`).
    pub cost_usd: Option<f64>,
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
    /// Nodes some of whose calls came without token counts (`nodes[].tokens_unreported`):
    /// when present, `tokens` and the cost are lower bounds. Absent when there are none.
    #[serde(skip_serializing_if = "crate::report::is_zero")]
    pub nodes_unreported: usize,
    /// Nodes whose model the catalog does not price (`nodes[].priced` false). Absent when
    /// there are none.
    #[serde(skip_serializing_if = "crate::report::is_zero")]
    pub nodes_unpriced: usize,
    /// The cost of what could be priced, when `cost_usd` is `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priced_cost_usd: Option<f64>,
}

fn is_true(b: &bool) -> bool {
    *b
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
    /// Some of the node's calls came without token counts (a watched call streamed without
    /// usage): `tokens` and the cost are lower bounds. Absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tokens_unreported: bool,
    pub context_tokens: ContextReport,
    /// `null` when the node's model is not in the catalog (then `priced` is false).
    pub cost_usd: Option<f64>,
    pub cost: CostReport,
    /// False when the node's model is not in the catalog: its cost is unknown, not 0.
    /// Absent otherwise.
    #[serde(skip_serializing_if = "is_true")]
    pub priced: bool,
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
        // A recording that ends before its run did (a kill, a crash, a run still writing it).
        RunStatus::NotStarted | RunStatus::Running if s.recorded => "interrupted",
        RunStatus::NotStarted => "not started",
        RunStatus::Running => "running",
        RunStatus::Finished(o) => o.name(),
    }
}

pub(super) fn context_of(u: &UnitState) -> ContextReport {
    let (prompt, declared, history) = u.attribution();
    ContextReport { prompt, declared, history }
}

/// One listed unit's line in the report.
fn node_report(s: &RunState, i: usize) -> NodeReport {
    let u = &s.units[i];
    let priced = !s.unpriced(i);
    let node = &s.flow.nodes[u.unit.index()];
    NodeReport {
        id: u.label.clone(),
        node: node.id.clone(),
        item: u.unit.item,
        kind: node.kind.clone(),
        status: u.status.name(),
        model: u.model.as_deref().map(String::from).filter(|_| matches!(u.status, Status::Done | Status::Cached)),
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
        tokens_unreported: u.unreported,
        context_tokens: context_of(u),
        cost_usd: priced.then(|| usd(u.cost.total())),
        cost: CostReport::from(&u.cost),
        priced,
        checks: u.checks.to_vec(),
        retries: u.retries.len(),
        fallbacks: u.fallbacks.iter().map(|f| format!("{} → {}: {}", f.from, f.to, f.reason)).collect(),
        skipped: u.skip.as_ref().map(ToString::to_string),
        error: u.error.as_deref().map(str::to_string),
    }
}

/// The run's totals, given the listed units' context tokens summed.
fn totals_report(s: &RunState, ctx: ContextReport) -> TotalsReport {
    let t = &s.totals;
    let unpriced = s.unpriced_count();
    TotalsReport {
        cost_usd: (unpriced == 0).then(|| usd(t.cost.total())),
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
        nodes_unreported: s.unreported_count(),
        nodes_unpriced: unpriced,
        priced_cost_usd: (unpriced > 0).then(|| usd(t.cost.total())),
    }
}

/// The listed units' context tokens, summed.
fn context_total(s: &RunState, units: &[usize]) -> ContextReport {
    let mut ctx = ContextReport::default();
    for &i in units {
        let c = context_of(&s.units[i]);
        ctx.prompt += c.prompt;
        ctx.declared += c.declared;
        ctx.history += c.history;
    }
    ctx
}

impl RunReport {
    pub fn new(s: &RunState) -> RunReport {
        let units = listed_units(s);
        let ctx = context_total(s, &units);
        let nodes: Vec<NodeReport> = units.into_iter().map(|i| node_report(s, i)).collect();
        RunReport {
            flow: s.flow.name.clone(),
            strategy: s.strategy.name.clone(),
            seed: s.seed,
            input: s.input.clone(),
            status: status_name(s),
            prices_read: s.catalog.prices_read.clone(),
            totals: totals_report(s, ctx),
            nodes,
        }
    }
}

/// The same JSON as [`RunReport`], serialized straight from the state: each node's report is
/// built as it is written, so a 100,000-node run never holds them all (48 MB) at once.
pub struct RunReportStream<'a> {
    state: &'a RunState,
    units: Vec<usize>,
}

impl<'a> RunReportStream<'a> {
    pub fn new(state: &'a RunState) -> RunReportStream<'a> {
        RunReportStream { state, units: listed_units(state) }
    }
}

/// The `nodes` array of a [`RunReportStream`].
struct NodesStream<'a>(&'a RunState, &'a [usize]);

impl Serialize for NodesStream<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.1.iter().map(|&i| node_report(self.0, i)))
    }
}

impl Serialize for RunReportStream<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let s = self.state;
        // Field for field what `#[derive(Serialize)]` on RunReport writes, in the same order.
        let mut out = serializer.serialize_struct("RunReport", 8)?;
        out.serialize_field("flow", &s.flow.name)?;
        out.serialize_field("strategy", &s.strategy.name)?;
        out.serialize_field("seed", &s.seed)?;
        out.serialize_field("input", &s.input)?;
        out.serialize_field("status", status_name(s))?;
        out.serialize_field("prices_read", &s.catalog.prices_read)?;
        out.serialize_field("totals", &totals_report(s, context_total(s, &self.units)))?;
        out.serialize_field("nodes", &NodesStream(s, &self.units))?;
        out.end()
    }
}
