//! Headless reports: a run's per-node table and totals, and a batch's aggregates, as text or as
//! JSON. Built only from folded [`RunState`]s, so they agree with every other view.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::event::Outcome;
use crate::flow::CheckResult;
use crate::money::Money;
use crate::routing::{Cost, Usage};
use crate::state::{RunState, RunStatus, Status, UnitState};

/// Milliseconds with one decimal, for JSON.
fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64 / 100.0).round() / 10.0
}

fn usd(m: Money) -> f64 {
    m.usd()
}

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

fn status_name(s: &RunState) -> &'static str {
    match s.status {
        RunStatus::NotStarted => "not started",
        RunStatus::Running => "running",
        RunStatus::Finished(o) => o.name(),
    }
}

/// The units a report lists, in topological order: each node, or each instance of a fan-out
/// node that expanded.
pub fn listed_units(s: &RunState) -> Vec<usize> {
    let mut out = Vec::with_capacity(s.units.len());
    for &n in &s.flow.order {
        let node = &s.nodes[n];
        if node.instances.is_empty() {
            out.push(node.unit);
        } else {
            out.extend(node.instances.iter().copied());
        }
    }
    out
}

fn context_of(u: &UnitState) -> ContextReport {
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

pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 100.0 {
        format!("{s:.0}s")
    } else if s >= 10.0 {
        format!("{s:.1}s")
    } else {
        format!("{s:.2}s")
    }
}

fn opt_secs(d: Option<Duration>) -> String {
    d.map(secs).unwrap_or_else(|| "-".to_string())
}

/// Thousands separators: 12,345.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn percent(r: Option<f64>) -> String {
    r.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "-".to_string())
}

/// A plain text table with left-aligned text and right-aligned numbers.
pub struct Table {
    header: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: &[(&str, bool)]) -> Table {
        Table { header: columns.iter().map(|c| c.0.to_string()).collect(), right: columns.iter().map(|c| c.1).collect(), rows: Vec::new() }
    }

    /// Adds a row. Cells may hold text from outside (errors, outputs, ids), so each is made
    /// safe for a terminal here, before its width is measured.
    pub fn row(&mut self, cells: Vec<String>) {
        let cells = cells
            .into_iter()
            .map(|c| match crate::sanitize::for_terminal(&c) {
                std::borrow::Cow::Borrowed(_) => c,
                std::borrow::Cow::Owned(o) => o,
            })
            .collect();
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let n = self.header.len();
        let mut w: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut l = String::new();
            for (i, &width) in w.iter().enumerate() {
                let c = cells.get(i).map(String::as_str).unwrap_or("");
                let pad = width.saturating_sub(c.chars().count());
                if i > 0 {
                    l.push_str("  ");
                }
                if self.right[i] {
                    l.push_str(&" ".repeat(pad));
                    l.push_str(c);
                } else {
                    l.push_str(c);
                    if i + 1 < n {
                        l.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(&self.header, &mut out);
        for r in &self.rows {
            line(r, &mut out);
        }
        out
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The human table for one run.
pub fn run_table(s: &RunState) -> String {
    let mut t = Table::new(&[
        ("NODE", false),
        ("KIND", false),
        ("MODEL", false),
        ("RULE", false),
        ("STATUS", false),
        ("IN", true),
        ("OUT", true),
        ("COST", true),
        ("START", true),
        ("TTFT", true),
        ("LATENCY", true),
        ("CHECKS", true),
    ]);
    for i in listed_units(s) {
        let u = &s.units[i];
        let node = &s.flow.nodes[u.unit.index()];
        let mut status = u.status.name().to_string();
        if !u.retries.is_empty() {
            status.push_str(&format!(" ↻{}", u.retries.len()));
        }
        if !u.fallbacks.is_empty() {
            status.push_str(&format!(" ⇢{}", u.fallbacks.len()));
        }
        let rule = u.decision.as_ref().map(|d| match d.rule {
            Some(r) => format!("#{}", r + 1),
            None => "default".to_string(),
        });
        let worked = matches!(u.status, Status::Done | Status::Cached);
        t.row(vec![
            clip(&u.label, 24),
            clip(&node.kind, 14),
            u.model.clone().unwrap_or_else(|| "-".into()),
            rule.unwrap_or_else(|| "-".into()),
            status,
            if worked { thousands(u.billed_usage.total_input()) } else { "-".into() },
            if worked { thousands(u.billed_usage.output) } else { "-".into() },
            if worked { u.cost.total().to_string() } else { "-".into() },
            opt_secs(u.started),
            opt_secs(u.ttft),
            opt_secs(u.latency),
            if u.checks.is_empty() { "-".into() } else { format!("{}/{}", u.checks_passed(), u.checks.len()) },
        ]);
    }
    let mut out = String::new();
    let _ = writeln!(out, "{} · {} · seed {} · {}", s.flow.name, s.strategy.name, s.seed, status_name(s));
    out.push_str(&t.render());
    let tot = &s.totals;
    let path: Vec<String> = s.critical_path().into_iter().map(|i| s.units[i].label.clone()).collect();
    let _ =
        writeln!(out, "\ncost {}  (input {}, cached {}, output {})", tot.cost.total(), tot.cost.input, tot.cost.cached, tot.cost.output);
    let _ = writeln!(out, "wall {}  critical path {}: {}", secs(s.wall()), secs(tot.critical_path), path.join(" → "));
    let _ = writeln!(
        out,
        "tokens in {} (cached {}) out {}  ·  checks {}/{} ({})  ·  nodes {} done, {} cached, {} skipped, {} failed of {}",
        thousands(tot.usage.total_input()),
        thousands(tot.usage.cached),
        thousands(tot.usage.output),
        tot.checks_passed,
        tot.checks_total,
        percent(tot.pass_rate()),
        tot.done,
        tot.cached,
        tot.skipped,
        tot.failed,
        tot.units_total
    );
    if !tot.saved.is_zero() {
        let _ = writeln!(out, "served from cache: {} node(s), saving {}", tot.cached, tot.saved);
    }
    if tot.retries + tot.fallbacks > 0 {
        let _ = writeln!(out, "retries {}  fallbacks {}", tot.retries, tot.fallbacks);
    }
    if let Some(b) = s.strategy.budget {
        let _ = writeln!(out, "budget {b} ({:.0}% used)", tot.cost.total().ratio(b).unwrap_or(0.0) * 100.0);
    }
    let notes: Vec<String> = listed_units(s)
        .into_iter()
        .filter_map(|i| {
            let u = &s.units[i];
            u.skip
                .as_ref()
                .map(|r| format!("  {} skipped: {r}", u.label))
                .or_else(|| u.error.as_ref().map(|e| format!("  {} failed: {e}", u.label)))
        })
        .collect();
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            out.push_str(&n);
            out.push('\n');
        }
    }
    out
}

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
    walls: Vec<Duration>,
    paths: Vec<Duration>,
    retries: usize,
    fallbacks: usize,
    kinds: BTreeMap<String, (Money, GroupReport)>,
    models: BTreeMap<String, (Money, GroupReport)>,
}

impl BatchAccumulator {
    pub fn add(&mut self, s: &RunState) {
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
            let model = u.model.clone().unwrap_or_default();
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
        "tokens in {} (cached {}) out {} · checks {}/{} ({}) · retries {} · fallbacks {}",
        thousands(t.tokens.total_input()),
        thousands(t.tokens.cached),
        thousands(t.tokens.output),
        t.checks.passed,
        t.checks.total,
        percent(t.checks.pass_rate),
        t.retries,
        t.fallbacks
    );
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
