//! Comparing strategies on the same flow and inputs: totals and ratios to the first strategy,
//! breakdowns by node kind and by node, where input tokens came from (prompt, declared upstream
//! outputs, or the rest of the history), and which strategies are on the Pareto frontier of cost,
//! latency and quality. Built from folded runs (or batch aggregates) only.
//!
//! One file: the comparison's figures and the tables that print them change together.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::money::Money;
use crate::quality::{Rate, Verdict, verdict};
use crate::report::{BatchReport, ContextReport, Table, listed_units, ms, percent, thousands};
use crate::routing::Usage;
use crate::state::{RunState, Status};

/// One strategy's figures.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct SideSummary {
    pub strategy: String,
    /// A recording's path when comparing recordings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<String>,
    pub cost_usd: f64,
    pub cost_per_1000_usd: f64,
    /// Single run: simulated wall time. Batch: median task latency.
    pub latency_ms: f64,
    /// Batch only: 95th percentile task latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p95_ms: Option<f64>,
    /// Single run only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critical_path_ms: Option<f64>,
    pub tokens: Usage,
    pub context_tokens: ContextReport,
    pub checks_passed: usize,
    pub checks_total: usize,
    pub pass_rate: Option<f64>,
    /// Quality with its 95% Wilson interval: over tasks (each passes when its run completed
    /// with every check passed) for a task set, over checks for a single run.
    pub quality: Rate,
    /// `tasks` or `checks`: what `quality` counts.
    pub quality_unit: String,
    /// Against the baseline (the first strategy): better, worse, or not distinguishable on
    /// these tasks (Newcombe's interval for the difference contains zero). None for the baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality_vs_baseline: Option<Verdict>,
    /// What judging the task set's checks cost, apart from `cost_usd` (batches with judge checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_cost_usd: Option<f64>,
    pub cost_ratio: Option<f64>,
    pub latency_ratio: Option<f64>,
    /// No other strategy is at least as cheap, as fast and as good, and better at one.
    pub frontier: bool,
    /// Recordings only: nodes whose model the catalog does not price. Then `cost_usd` is the
    /// priced part, the side has no cost ratio and is not ranked on cost. Absent when 0.
    #[serde(skip_serializing_if = "crate::report::is_zero")]
    pub nodes_unpriced: usize,
    /// Recordings only: nodes some of whose calls reported no token counts (`cost_usd` is a
    /// floor), unpriced ones not counted again. Absent when 0.
    #[serde(skip_serializing_if = "crate::report::is_zero")]
    pub nodes_uncounted: usize,
}

impl SideSummary {
    /// Whether the side's cost is known exactly.
    pub fn cost_known(&self) -> bool {
        self.nodes_unpriced + self.nodes_uncounted == 0
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct KindCell {
    pub calls: usize,
    /// What the priced calls cost: not the kind's cost when `nodes_unpriced` or
    /// `nodes_uncounted` says so (as for a strategy's totals).
    pub cost_usd: f64,
    pub tokens: Usage,
    pub pass_rate: Option<f64>,
    /// Recordings only: nodes of this kind whose model the catalog does not price. Absent
    /// when 0.
    #[serde(skip_serializing_if = "crate::report::is_zero")]
    pub nodes_unpriced: usize,
    /// Recordings only: nodes of this kind some of whose calls reported no token counts,
    /// unpriced ones not counted again. Absent when 0.
    #[serde(skip_serializing_if = "crate::report::is_zero")]
    pub nodes_uncounted: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KindRow {
    pub kind: String,
    /// One cell per strategy, in order.
    pub sides: Vec<KindCell>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeCell {
    pub status: &'static str,
    pub model: Option<String>,
    pub rule: Option<String>,
    pub cost_usd: f64,
    pub latency_ms: Option<f64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub context_tokens: ContextReport,
    pub checks_passed: usize,
    pub checks_total: usize,
    /// The node's model has no price in the catalog: `cost_usd` is not its cost. Absent
    /// otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unpriced: bool,
    /// Some of the node's calls reported no token counts: its figures are floors. Absent
    /// otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub uncounted: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeRow {
    pub id: String,
    pub kind: String,
    pub sides: Vec<NodeCell>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Comparison {
    pub flow: String,
    /// Whether the runs called real providers: `simulated` or `live` (`mixed` for recordings
    /// of both kinds). Every output says it, so a simulated figure is never taken for a bill.
    pub provider: String,
    pub seed: u64,
    /// 1 for a single run.
    pub tasks: usize,
    pub strategies: Vec<SideSummary>,
    pub by_kind: Vec<KindRow>,
    /// Single runs only: per node, what each strategy did.
    pub nodes: Vec<NodeRow>,
}

/// Marks the Pareto frontier over (cost ↓, latency ↓, quality ↑).
fn mark_frontier(sides: &mut [SideSummary]) {
    let pts: Vec<(f64, f64, f64)> = sides.iter().map(|s| (s.cost_usd, s.latency_ms, s.pass_rate.unwrap_or(1.0))).collect();
    let known: Vec<bool> = sides.iter().map(SideSummary::cost_known).collect();
    for (i, s) in sides.iter_mut().enumerate() {
        let (c, l, q) = pts[i];
        // A side whose cost is unknown is neither cheap nor dear: it is not ranked on cost.
        s.frontier = known[i]
            && !pts
                .iter()
                .enumerate()
                .any(|(j, &(c2, l2, q2))| j != i && known[j] && c2 <= c && l2 <= l && q2 >= q && (c2 < c || l2 < l || q2 > q));
    }
}

/// Ratios to the baseline (the first side), quality against it, then the frontier.
fn rank(sides: &mut [SideSummary]) {
    ratios(sides);
    let base = sides[0].quality;
    for s in sides.iter_mut().skip(1) {
        s.quality_vs_baseline = Some(verdict(&s.quality, &base));
    }
    mark_frontier(sides);
}

fn ratios(sides: &mut [SideSummary]) {
    let (c0, l0) = (sides[0].cost_usd, sides[0].latency_ms);
    let base_known = sides[0].cost_known();
    for s in sides.iter_mut() {
        s.cost_ratio = (c0 > 0.0 && base_known && s.cost_known()).then(|| s.cost_usd / c0);
        s.latency_ratio = (l0 > 0.0).then(|| s.latency_ms / l0);
    }
}

fn context(st: &RunState) -> ContextReport {
    let mut c = ContextReport::default();
    for i in listed_units(st) {
        let (p, d, h) = st.units[i].attribution();
        c.prompt += p;
        c.declared += d;
        c.history += h;
    }
    c
}

/// Compares single runs of the same flow (one per strategy), first strategy as the baseline.
pub fn compare_runs(runs: &[(&RunState, Option<String>)]) -> Comparison {
    let mut sides: Vec<SideSummary> = runs
        .iter()
        .map(|(st, rec)| {
            let t = &st.totals;
            SideSummary {
                strategy: st.strategy.name.clone(),
                recording: rec.clone(),
                cost_usd: t.cost.total().usd(),
                cost_per_1000_usd: t.cost.total().scale(1000, 1).usd(),
                latency_ms: ms(st.wall()),
                latency_p95_ms: None,
                critical_path_ms: Some(ms(t.critical_path)),
                tokens: t.usage,
                context_tokens: context(st),
                checks_passed: t.checks_passed,
                checks_total: t.checks_total,
                pass_rate: t.pass_rate(),
                quality: Rate::new(t.checks_passed, t.checks_total),
                quality_unit: "checks".into(),
                nodes_unpriced: st.unpriced_count(),
                nodes_uncounted: st.uncounted_priced_count(),
                ..SideSummary::default()
            }
        })
        .collect();
    rank(&mut sides);

    let mut kinds: BTreeMap<String, Vec<KindCell>> = BTreeMap::new();
    for (k, (st, _)) in runs.iter().enumerate() {
        for i in listed_units(st) {
            let u = &st.units[i];
            if !matches!(u.status, Status::Done | Status::Cached) {
                continue;
            }
            let kind = st.flow.nodes[u.unit.index()].kind.clone();
            let cells = kinds.entry(kind).or_insert_with(|| vec![KindCell::default(); runs.len()]);
            let c = &mut cells[k];
            c.calls += 1;
            c.cost_usd = (Money::from_usd(c.cost_usd) + u.cost.total()).usd();
            c.tokens.add(&u.billed_usage);
            c.nodes_unpriced += usize::from(st.unpriced(i));
            c.nodes_uncounted += usize::from(st.uncounted_priced(i));
        }
        for (kind, cells) in kinds.iter_mut() {
            let (passed, total) = listed_units(st)
                .into_iter()
                .map(|i| &st.units[i])
                .filter(|u| &st.flow.nodes[u.unit.index()].kind == kind && matches!(u.status, Status::Done | Status::Cached))
                .fold((0, 0), |(p, t), u| (p + u.checks_passed(), t + u.checks.len()));
            cells[k].pass_rate = (total > 0).then(|| passed as f64 / total as f64);
        }
    }
    let by_kind = kinds.into_iter().map(|(kind, sides)| KindRow { kind, sides }).collect();

    // Nodes by label, in the first run's order, then any only the others ran.
    let mut labels: Vec<(String, String)> = Vec::new();
    for (st, _) in runs {
        for i in listed_units(st) {
            let u = &st.units[i];
            if !labels.iter().any(|(l, _)| *l == u.label) {
                labels.push((u.label.clone(), st.flow.nodes[u.unit.index()].kind.clone()));
            }
        }
    }
    let nodes = labels
        .into_iter()
        .map(|(label, kind)| NodeRow {
            sides: runs
                .iter()
                .map(|(st, _)| match listed_units(st).into_iter().find(|&i| st.units[i].label == label) {
                    Some(i) => {
                        let u = &st.units[i];
                        let (prompt, declared, history) = u.attribution();
                        NodeCell {
                            status: u.status.name(),
                            model: u.model.as_deref().map(String::from).filter(|_| matches!(u.status, Status::Done | Status::Cached)),
                            rule: u.decision.as_ref().map(|d| d.rule_label.to_string()),
                            cost_usd: u.cost.total().usd(),
                            latency_ms: u.latency.map(ms),
                            input_tokens: u.billed_usage.total_input(),
                            output_tokens: u.billed_usage.output,
                            context_tokens: ContextReport { prompt, declared, history },
                            checks_passed: u.checks_passed(),
                            checks_total: u.checks.len(),
                            unpriced: st.unpriced(i),
                            uncounted: u.unreported,
                        }
                    }
                    None => NodeCell {
                        status: "absent",
                        model: None,
                        rule: None,
                        cost_usd: 0.0,
                        latency_ms: None,
                        input_tokens: 0,
                        output_tokens: 0,
                        context_tokens: ContextReport::default(),
                        unpriced: false,
                        uncounted: false,
                        checks_passed: 0,
                        checks_total: 0,
                    },
                })
                .collect(),
            id: label,
            kind,
        })
        .collect();
    Comparison {
        flow: runs[0].0.flow.name.clone(),
        provider: SIMULATED.to_string(),
        seed: runs[0].0.seed,
        tasks: 1,
        strategies: sides,
        by_kind,
        nodes,
    }
}

/// Compares batches over the same tasks.
pub fn compare_batches(batches: &[BatchReport]) -> Comparison {
    let mut sides: Vec<SideSummary> = batches
        .iter()
        .map(|b| SideSummary {
            strategy: b.strategy.clone(),
            recording: None,
            cost_usd: b.totals.cost_usd,
            cost_per_1000_usd: b.totals.cost_per_1000_usd,
            latency_ms: b.totals.latency_ms.p50,
            latency_p95_ms: Some(b.totals.latency_ms.p95),
            critical_path_ms: None,
            tokens: b.totals.tokens,
            context_tokens: b.totals.context_tokens.clone(),
            checks_passed: b.totals.checks.passed,
            checks_total: b.totals.checks.total,
            pass_rate: b.totals.checks.pass_rate,
            quality: b.totals.quality,
            quality_unit: "tasks".into(),
            eval_cost_usd: b.totals.eval_cost_usd,
            ..SideSummary::default()
        })
        .collect();
    rank(&mut sides);
    let mut kinds: BTreeMap<String, Vec<KindCell>> = BTreeMap::new();
    for (k, b) in batches.iter().enumerate() {
        for (kind, g) in &b.by_kind {
            let cells = kinds.entry(kind.clone()).or_insert_with(|| vec![KindCell::default(); batches.len()]);
            // A batch's strategies are checked against its catalog: every model is priced.
            cells[k] = KindCell { calls: g.calls, cost_usd: g.cost_usd, tokens: g.tokens, pass_rate: g.pass_rate, ..KindCell::default() };
        }
    }
    Comparison {
        flow: batches.first().map(|b| b.flow.clone()).unwrap_or_default(),
        provider: SIMULATED.to_string(),
        seed: batches.first().map_or(0, |b| b.seed),
        tasks: batches.first().map_or(0, |b| b.tasks),
        strategies: sides,
        by_kind: kinds.into_iter().map(|(kind, sides)| KindRow { kind, sides }).collect(),
        nodes: Vec::new(),
    }
}

pub const SIMULATED: &str = "simulated";
pub const LIVE: &str = "live";

fn usd(v: f64) -> String {
    Money::from_usd(v).to_string()
}

fn ratio(r: Option<f64>) -> String {
    r.map(|x| format!("{x:.3}×")).unwrap_or_else(|| "-".into())
}

fn secs(ms: f64) -> String {
    if ms >= 10_000.0 { format!("{:.1}s", ms / 1000.0) } else { format!("{:.2}s", ms / 1000.0) }
}

/// A node's cost cell: "unpriced" for a model without a price, never $0.
fn cell_cost(c: &NodeCell) -> String {
    let none = c.input_tokens + c.output_tokens == 0;
    if c.unpriced { "unpriced".into() } else { crate::report::open_figure(usd(c.cost_usd), none, c.uncounted) }
}

fn signed_usd(v: f64) -> String {
    format!("{:+}", Money::from_usd(v))
}

impl Comparison {
    fn strategy_rows(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let batch = self.tasks > 1;
        let header = if batch {
            vec![
                "STRATEGY",
                "COST",
                "PER 1000",
                "×COST",
                "P50",
                "P95",
                "×LAT",
                "TOKENS IN",
                "PROMPT",
                "DECLARED",
                "HISTORY",
                "OUT",
                "CHECKS",
                "QUALITY [95%]",
                "FRONTIER",
            ]
        } else {
            vec![
                "STRATEGY",
                "COST",
                "×COST",
                "WALL",
                "×LAT",
                "CRITICAL",
                "TOKENS IN",
                "PROMPT",
                "DECLARED",
                "HISTORY",
                "OUT",
                "CHECKS",
                "QUALITY [95%]",
                "FRONTIER",
            ]
        };
        let rows = self
            .strategies
            .iter()
            .map(|s| {
                let c = &s.context_tokens;
                let cost = Money::from_usd(s.cost_usd);
                let mut r = vec![s.strategy.clone(), crate::report::cost_text(cost, s.nodes_unpriced as u64, s.nodes_uncounted as u64)];
                if batch {
                    r.extend([
                        usd(s.cost_per_1000_usd),
                        ratio(s.cost_ratio),
                        secs(s.latency_ms),
                        secs(s.latency_p95_ms.unwrap_or(0.0)),
                        ratio(s.latency_ratio),
                    ]);
                } else {
                    r.extend([ratio(s.cost_ratio), secs(s.latency_ms), ratio(s.latency_ratio), secs(s.critical_path_ms.unwrap_or(0.0))]);
                }
                r.extend([
                    thousands(s.tokens.total_input()),
                    thousands(c.prompt),
                    thousands(c.declared),
                    thousands(c.history),
                    thousands(s.tokens.output),
                    percent(s.pass_rate),
                    s.quality.label(),
                    if s.frontier { "★".into() } else { String::new() },
                ]);
                r
            })
            .collect();
        (header, rows)
    }

    fn kind_rows(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut header = vec!["KIND".to_string()];
        for s in &self.strategies {
            header.push(format!("{} COST", s.strategy));
            header.push(format!("{} CHECKS", s.strategy));
        }
        let rows = self
            .by_kind
            .iter()
            .map(|k| {
                let mut r = vec![k.kind.clone()];
                for c in &k.sides {
                    // Never $0 for a kind whose nodes have no price.
                    r.push(crate::report::cost_text(Money::from_usd(c.cost_usd), c.nodes_unpriced as u64, c.nodes_uncounted as u64));
                    r.push(percent(c.pass_rate));
                }
                r
            })
            .collect();
        (header, rows)
    }

    /// The human tables.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let what = if self.tasks > 1 { format!("{} tasks", self.tasks) } else { "single run".to_string() };
        let _ =
            writeln!(out, "{} · {} · seed {} · {what} · baseline {}\n", self.flow, self.provider, self.seed, self.strategies[0].strategy);
        let (header, rows) = self.strategy_rows();
        let cols: Vec<(&str, bool)> = header.iter().enumerate().map(|(i, h)| (*h, i > 0 && *h != "FRONTIER")).collect();
        let mut t = Table::new(&cols);
        rows.into_iter().for_each(|r| t.row(r));
        out.push_str(&t.render());
        let _ = writeln!(
            out,
            "\nPROMPT, DECLARED and HISTORY split the input tokens by origin: each node's own prompt, the upstream outputs it declares, and everything else a full-history strategy passes along."
        );
        out.push_str("★ marks the Pareto frontier of cost, latency and check pass rate.\n");
        out.push_str(&self.quality_notes());

        let (kh, krows) = self.kind_rows();
        let kcols: Vec<(&str, bool)> = kh.iter().enumerate().map(|(i, h)| (h.as_str(), i > 0)).collect();
        let mut kt = Table::new(&kcols);
        krows.into_iter().for_each(|r| kt.row(r));
        out.push_str("\nBY KIND\n");
        out.push_str(&kt.render());

        if !self.nodes.is_empty() {
            out.push_str("\nBY NODE");
            for (i, s) in self.strategies.iter().enumerate().skip(1) {
                let _ = writeln!(out, "\n{} → {}", self.strategies[0].strategy, s.strategy);
                let mut nt = Table::new(&[
                    ("NODE", false),
                    ("MODEL", false),
                    ("→ MODEL", false),
                    ("COST", true),
                    ("→ COST", true),
                    ("Δ COST", true),
                    ("LATENCY", true),
                    ("→", true),
                    ("IN P/D/H", true),
                    ("→ IN P/D/H", true),
                ]);
                for n in &self.nodes {
                    let (a, b) = (&n.sides[0], &n.sides[i]);
                    let pdh =
                        |c: &NodeCell| format!("{}/{}/{}", c.context_tokens.prompt, c.context_tokens.declared, c.context_tokens.history);
                    let lat = |c: &NodeCell| c.latency_ms.map(secs).unwrap_or_else(|| c.status.to_string());
                    nt.row(vec![
                        n.id.clone(),
                        a.model.clone().unwrap_or_else(|| a.status.to_string()),
                        b.model.clone().unwrap_or_else(|| b.status.to_string()),
                        cell_cost(a),
                        cell_cost(b),
                        if a.unpriced || b.unpriced || a.uncounted || b.uncounted {
                            "?".into()
                        } else {
                            signed_usd(b.cost_usd - a.cost_usd)
                        },
                        lat(a),
                        lat(b),
                        pdh(a),
                        pdh(b),
                    ]);
                }
                out.push_str(&nt.render());
            }
        }
        out
    }

    /// What QUALITY counts, whether it is simulated, and which strategies this task set cannot
    /// tell apart from the baseline.
    fn quality_notes(&self) -> String {
        let mut out = String::new();
        let unit = self.strategies.first().map_or("tasks", |s| s.quality_unit.as_str());
        let what = if unit == "tasks" {
            "QUALITY is the share of tasks whose run completed with every check passing"
        } else {
            "QUALITY is the share of checks passed in this one run"
        };
        let _ = writeln!(out, "{what}, with its 95% Wilson interval.");
        for s in self.strategies.iter().filter(|s| s.eval_cost_usd.is_some()) {
            let cost = Money::from_usd(s.eval_cost_usd.unwrap_or(0.0));
            let _ = writeln!(
                out,
                "{}: evaluation cost {cost} (judge calls, apart from COST; an output judged before is not judged again).",
                s.strategy
            );
        }
        if self.provider == SIMULATED {
            out.push_str(
                "Quality is simulated: the simulator's model of capability against complexity, not a measurement of real models.\n",
            );
        }
        let base = &self.strategies[0];
        for s in self.strategies.iter().skip(1) {
            if let Some(v) = s.quality_vs_baseline {
                let (lo, hi) = crate::quality::difference(&s.quality, &base.quality);
                let _ = writeln!(
                    out,
                    "{} vs {}: quality {} on these {} {unit} ({:+.1} points, 95% interval {:+.1} to {:+.1}).",
                    s.strategy,
                    base.strategy,
                    v.name(),
                    s.quality.total.max(base.quality.total),
                    (s.quality.rate - base.quality.rate) * 100.0,
                    lo * 100.0,
                    hi * 100.0
                );
            }
        }
        out
    }

    /// GitHub-flavoured Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let (header, rows) = self.strategy_rows();
        let _ = writeln!(
            out,
            "### {} ({}, {})\n",
            self.flow,
            if self.tasks > 1 { format!("{} tasks", self.tasks) } else { "single run".into() },
            self.provider
        );
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(out, "|{}|", header.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
        for r in rows {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
        let (kh, krows) = self.kind_rows();
        let _ = writeln!(out, "\n| {} |", kh.join(" | "));
        let _ = writeln!(out, "|{}|", kh.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
        for r in krows {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
        out
    }

    /// One row per strategy, with a header row.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "strategy,cost_usd,cost_per_1000_usd,cost_ratio,latency_ms,latency_p95_ms,latency_ratio,critical_path_ms,input_tokens,cached_tokens,output_tokens,prompt_tokens,declared_tokens,history_tokens,checks_passed,checks_total,pass_rate,quality,quality_low,quality_high,quality_unit,quality_vs_baseline,frontier,provider,nodes_unpriced,nodes_uncounted\n",
        );
        let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        for s in &self.strategies {
            let q = if s.strategy.contains([',', '"']) { format!("\"{}\"", s.strategy.replace('"', "\"\"")) } else { s.strategy.clone() };
            let _ = writeln!(
                out,
                "{q},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                s.cost_usd,
                s.cost_per_1000_usd,
                opt(s.cost_ratio),
                s.latency_ms,
                opt(s.latency_p95_ms),
                opt(s.latency_ratio),
                opt(s.critical_path_ms),
                s.tokens.total_input(),
                s.tokens.cached,
                s.tokens.output,
                s.context_tokens.prompt,
                s.context_tokens.declared,
                s.context_tokens.history,
                s.checks_passed,
                s.checks_total,
                opt(s.pass_rate),
                s.quality.rate,
                s.quality.low,
                s.quality.high,
                s.quality_unit,
                s.quality_vs_baseline.map_or("", Verdict::name),
                s.frontier,
                self.provider,
                // Not 0 when a cost is unknown: `cost_usd` is then the priced part.
                s.nodes_unpriced,
                s.nodes_uncounted
            );
        }
        out
    }
}
