//! `baton optimize`: a search over model assignments for a flow's nodes (or kinds, with
//! cascades where nodes have checks) for the Pareto frontier of cost, latency and quality on a
//! task set, and the strategy file a person can read.
//!
//! The search is a consumer of outputs, not a second engine: every (task, node instance, model)
//! output is computed once ([`memo`]) and every candidate is then an ordinary engine run over
//! known outputs, folded like any batch ([`evaluate`]). The tasks are split into a search set,
//! which picks the frontier, and a held-out set, on which the frontier is measured again.
//!
//! The search itself is a Pareto local search: it starts from the assignments the given
//! strategies make and from one model everywhere, then repeatedly takes the frontier member best
//! under the objective that it has not yet expanded and tries every assignment one step away
//! (one slot on another model, or escalating to a stronger one), until none is left, the
//! candidate limit or the budget is reached, or it is cancelled.
//!
//! For the screen: [`optimize`] runs the search on the calling thread and reports [`Progress`]
//! through a callback (send it down a channel to watch it from elsewhere); [`Outcome::frontier`]
//! is the data to plot, and [`Outcome::strategy`] is the strategy of a chosen point.
//!
//! # Layout
//! - `memo`: the provider that calls each (task, node, model) once and replays it.
//! - `evaluate`: a candidate's figures on a set of tasks.
//! - `space`: slots, choices, neighbours, and the strategy an assignment is.
//! - `write`: the strategy file with the reasons for each rule, and the tables.

pub mod evaluate;
pub mod memo;
pub mod space;
pub mod write;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use evaluate::{Evaluator, Figures};
pub use space::{Assignment, Choice, Per, Slot};

use crate::flow::Flow;
use crate::load::Task;
use crate::money::Money;
use crate::provider::Providers;
use crate::provider::rng::hash_str;
use crate::routing::{Catalog, Strategy};

/// What the search optimises for, among candidates at or above the quality floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// The cheapest (ties: better quality, then faster).
    Cost,
    /// The fastest median task (ties: cheaper).
    Latency,
    /// The best quality (ties: cheaper).
    Quality,
}

/// Everything a search needs.
#[derive(Clone)]
pub struct Config {
    pub flow: Arc<Flow>,
    pub catalog: Arc<Catalog>,
    /// Context mode, schedule, retries and budget of every candidate.
    pub base: Arc<Strategy>,
    /// Strategies to start from (their assignments seed the search) and to measure against.
    pub starts: Vec<Arc<Strategy>>,
    pub tasks: Vec<Task>,
    /// Share of tasks held out of the search (0 to below 1).
    pub held_out: f64,
    /// Models the search may use (empty: the whole catalog).
    pub models: Vec<String>,
    pub per: Per,
    /// Also try escalating from a model to a stronger one on failed checks.
    pub cascade: bool,
    /// The lowest task pass rate (0 to 1) a result may have.
    pub quality_floor: Option<f64>,
    /// The most the search may spend on calls; it stops after the candidate that crosses it.
    pub budget: Option<Money>,
    pub objective: Objective,
    pub max_candidates: usize,
    pub seed: u64,
}

/// A candidate the search kept.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// One choice per slot.
    pub assignment: Assignment,
    /// Where the search found it: `from smart`, `uniform gpt-5-nano`, or `step`.
    pub origin: String,
    pub search: Figures,
    /// The same strategy on the held-out tasks (none when nothing is held out).
    pub held_out: Option<Figures>,
}

/// A strategy as written, measured on the same tasks.
#[derive(Debug, Clone, Serialize)]
pub struct Reference {
    pub strategy: String,
    pub search: Figures,
    pub held_out: Option<Figures>,
}

/// What the search cost and how far it got.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Stats {
    pub candidates: usize,
    /// Requests made to models (memo misses; a failed live call counts).
    pub model_calls: u64,
    /// Distinct (task, node instance, model) outputs known.
    pub outputs: usize,
    pub spent_usd: f64,
    /// Assignments in the whole space.
    pub exhaustive_assignments: f64,
    /// Calls an exhaustive search would make running every assignment on the search tasks with
    /// no reuse (assignments × search tasks × the mean calls a candidate made per task).
    pub exhaustive_calls: f64,
    pub wall_ms: f64,
    /// Judge calls made for the task set's `judge` checks, and their cost: evaluation cost,
    /// apart from `spent_usd`.
    pub judge_calls: u64,
    pub eval_spent_usd: f64,
    /// Why the search stopped before running out of candidates, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// The search's progress, after every candidate.
#[derive(Debug, Clone)]
pub struct Progress {
    pub candidates: usize,
    pub frontier: Vec<Point>,
    pub calls: u64,
    pub spent: Money,
    pub elapsed: Duration,
}

/// The result.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub flow: String,
    pub seed: u64,
    pub objective: Objective,
    pub quality_floor: Option<f64>,
    pub slots: Vec<Slot>,
    pub models: Vec<String>,
    pub search_tasks: usize,
    pub held_out_tasks: usize,
    /// Cheapest first.
    pub frontier: Vec<Point>,
    /// Index into `frontier` of the best point under the objective and floor.
    pub best: Option<usize>,
    pub references: Vec<Reference>,
    pub stats: Stats,
    #[serde(skip)]
    pub base: Option<Arc<Strategy>>,
    /// Every candidate evaluated, in order, with its search figures.
    #[serde(skip)]
    pub evaluated: Vec<(Assignment, Figures)>,
    /// `simulated` or `live`.
    pub provider: String,
}

impl Outcome {
    /// The strategy of frontier point `i`, named `name`.
    pub fn strategy(&self, i: usize, name: &str) -> Option<Strategy> {
        let base = self.base.as_ref()?;
        self.frontier.get(i).map(|p| space::strategy_for(&p.assignment, &self.slots, base, name))
    }
}

/// Splits tasks into (search, held out) by a hash of each task's id and the seed, so the split
/// does not follow the file's order and is the same every time.
pub fn split(tasks: &[Task], held_out: f64, seed: u64) -> (Vec<Task>, Vec<Task>) {
    let cut = (held_out.clamp(0.0, 0.99) * 1_000_000.0) as u64;
    let (held, search): (Vec<Task>, Vec<Task>) =
        tasks.iter().cloned().partition(|t| (hash_str(&t.id) ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)) % 1_000_000 < cut);
    if search.is_empty() { (held, Vec::new()) } else { (search, held) }
}

/// `a` is at least as good as `b` everywhere and better somewhere.
fn dominates(a: &Figures, b: &Figures) -> bool {
    let (ca, cb) = (a.cost, b.cost);
    let (la, lb) = (a.latency_p50_ms, b.latency_p50_ms);
    let (qa, qb) = (a.quality.rate, b.quality.rate);
    ca <= cb && la <= lb && qa >= qb && (ca < cb || la < lb || qa > qb)
}

fn feasible(f: &Figures, floor: Option<f64>) -> bool {
    floor.is_none_or(|q| f.quality.rate + 1e-12 >= q)
}

/// Orders candidates best first under the objective, those meeting the floor before the rest.
fn rank(objective: Objective, floor: Option<f64>) -> impl Fn(&Figures, &Figures) -> std::cmp::Ordering {
    move |a, b| {
        let fa = feasible(a, floor);
        let fb = feasible(b, floor);
        let q = |f: &Figures| std::cmp::Reverse(ordered(f.quality.rate));
        fb.cmp(&fa).then_with(|| match objective {
            Objective::Cost => (a.cost, q(a), ordered(a.latency_p50_ms)).cmp(&(b.cost, q(b), ordered(b.latency_p50_ms))),
            Objective::Latency => (ordered(a.latency_p50_ms), a.cost, q(a)).cmp(&(ordered(b.latency_p50_ms), b.cost, q(b))),
            Objective::Quality => (q(a), a.cost, ordered(a.latency_p50_ms)).cmp(&(q(b), b.cost, ordered(b.latency_p50_ms))),
        })
    }
}

/// A float that sorts (figures are never NaN; a NaN would sort last).
fn ordered(v: f64) -> i64 {
    if v.is_nan() { i64::MAX } else { (v * 1e6).round() as i64 }
}

/// Runs the search with `providers` (simulated or live), reporting after every candidate.
pub fn optimize(
    cfg: &Config,
    providers: Providers,
    cancel: &CancellationToken,
    mut on_progress: impl FnMut(&Progress),
) -> std::io::Result<Outcome> {
    let started = Instant::now();
    let models = space::candidate_models(&cfg.catalog, &cfg.models).map_err(std::io::Error::other)?;
    let slots = space::slots(&cfg.flow, cfg.per);
    let (search, held) = split(&cfg.tasks, cfg.held_out, cfg.seed);
    let simulated = providers.is_simulated();
    let ev = Evaluator::new(cfg.flow.clone(), cfg.catalog.clone(), cfg.seed, providers)?;
    let mut s =
        Search { cfg, ev: &ev, search: &search, slots: &slots, seen: HashMap::new(), order: Vec::new(), stopped: None, started, cancel };
    // Seeds: what the given strategies do, then one model everywhere.
    for st in &cfg.starts {
        s.eval(space::derive(st, &cfg.flow, &slots), format!("from {}", st.name), &mut on_progress);
    }
    for m in &models {
        s.eval(vec![Choice::plain(m); slots.len()], format!("uniform {m}"), &mut on_progress);
    }
    let mut expanded: HashSet<Assignment> = HashSet::new();
    // Descent: from the best point so far, take the first step that is better under the
    // objective (cheapest steps first when cost is the objective), until no step is.
    let r = rank(cfg.objective, cfg.quality_floor);
    if let Some(mut current) = s.order.iter().min_by(|a, b| r(&s.seen[*a].0, &s.seen[*b].0)).cloned() {
        'descent: loop {
            let mut steps = space::neighbours(&current, &slots, &models, &cfg.catalog, cfg.cascade);
            if cfg.objective == Objective::Cost {
                steps.sort_by_cached_key(|a| price(a, &cfg.catalog));
            }
            let here = s.seen[&current].0.clone();
            for n in steps {
                let Some(f) = s.eval(n.clone(), "step".into(), &mut on_progress) else { break 'descent };
                if r(&f, &here) == std::cmp::Ordering::Less {
                    current = n;
                    continue 'descent;
                }
            }
            expanded.insert(current);
            break;
        }
    }
    // Then the frontier: expand its members, every step of each, taking in turn the best
    // unexpanded member under the objective and under each single figure, so the whole
    // frontier grows rather than only its cheap end.
    let turns = [cfg.objective, Objective::Quality, cfg.objective, Objective::Latency, cfg.objective, Objective::Cost];
    for turn in 0.. {
        if s.stopped.is_some() {
            break;
        }
        let by = rank(turns[turn % turns.len()], if turn % 2 == 0 { cfg.quality_floor } else { None });
        let mut front = frontier(&s.seen, &s.order, cfg);
        front.retain(|p| !expanded.contains(&p.assignment));
        let Some(next) = front.into_iter().min_by(|a, b| by(&a.search, &b.search)) else { break };
        expanded.insert(next.assignment.clone());
        for n in space::neighbours(&next.assignment, &slots, &models, &cfg.catalog, cfg.cascade) {
            if s.eval(n, "step".into(), &mut on_progress).is_none() {
                break;
            }
        }
    }
    let Search { seen, order, stopped, .. } = s;

    let mut front = frontier(&seen, &order, cfg);
    front.sort_by(|a, b| a.search.cost.cmp(&b.search.cost).then(ordered(b.search.quality.rate).cmp(&ordered(a.search.quality.rate))));
    let best =
        front.iter().enumerate().min_by(|(_, a), (_, b)| rank(cfg.objective, cfg.quality_floor)(&a.search, &b.search)).map(|(i, _)| i);
    let best = best.filter(|&i| feasible(&front[i].search, cfg.quality_floor));
    if !held.is_empty() {
        for p in &mut front {
            let strategy = Arc::new(space::strategy_for(&p.assignment, &slots, &cfg.base, "candidate"));
            p.held_out = Some(ev.evaluate(&strategy, &held, cancel));
        }
    }
    let references = cfg
        .starts
        .iter()
        .map(|s| Reference {
            strategy: s.name.clone(),
            search: ev.evaluate(s, &search, cancel),
            held_out: (!held.is_empty()).then(|| ev.evaluate(s, &held, cancel)),
        })
        .collect();
    let spend = ev.memo().spend();
    let assignments: f64 = slots.iter().map(|s| space::choices_per_slot(s, &models, &cfg.catalog, cfg.cascade)).product();
    // Summed in the order the candidates were tried: a float sum in a hash map's order came out
    // different in its last digits from one run to the next.
    let per_task = if order.is_empty() {
        0.0
    } else {
        order.iter().filter_map(|a| seen.get(a)).map(|(f, _)| f.calls_per_task).sum::<f64>() / seen.len() as f64
    };
    let stats = Stats {
        candidates: order.len(),
        model_calls: spend.calls,
        outputs: spend.outputs,
        spent_usd: spend.spent.usd(),
        exhaustive_assignments: assignments,
        exhaustive_calls: assignments * search.len() as f64 * per_task,
        wall_ms: started.elapsed().as_secs_f64() * 1000.0,
        judge_calls: ev.judge_spent().0,
        eval_spent_usd: ev.judge_spent().1.usd(),
        stopped,
    };
    Ok(Outcome {
        flow: cfg.flow.name.clone(),
        seed: cfg.seed,
        objective: cfg.objective,
        quality_floor: cfg.quality_floor,
        slots,
        models,
        search_tasks: search.len(),
        held_out_tasks: held.len(),
        frontier: front,
        best,
        references,
        stats,
        base: Some(cfg.base.clone()),
        evaluated: order.iter().map(|a| (a.clone(), seen[a].0.clone())).collect(),
        provider: if simulated { "simulated" } else { "live" }.to_string(),
    })
}

/// The search's state: what was evaluated, in order, and why it stopped.
struct Search<'a> {
    cfg: &'a Config,
    ev: &'a Evaluator,
    search: &'a [Task],
    slots: &'a [Slot],
    seen: HashMap<Assignment, (Figures, String)>,
    order: Vec<Assignment>,
    stopped: Option<String>,
    started: Instant,
    cancel: &'a CancellationToken,
}

impl Search<'_> {
    /// The figures of `a`, evaluating it if it is new; `None` once the search has stopped.
    fn eval(&mut self, a: Assignment, origin: String, on_progress: &mut impl FnMut(&Progress)) -> Option<Figures> {
        if self.stopped.is_some() {
            return None;
        }
        if let Some((f, _)) = self.seen.get(&a) {
            return Some(f.clone());
        }
        if self.cancel.is_cancelled() {
            self.stopped = Some("cancelled".into());
        } else if self.order.len() >= self.cfg.max_candidates {
            self.stopped = Some(format!("the candidate limit ({}) was reached", self.cfg.max_candidates));
        } else if let Some(b) = self.cfg.budget
            && self.ev.memo().spend().spent >= b
        {
            self.stopped = Some(format!("the budget ({b}) is spent"));
        }
        if self.stopped.is_some() {
            return None;
        }
        let strategy = Arc::new(space::strategy_for(&a, self.slots, &self.cfg.base, "candidate"));
        let figures = self.ev.evaluate(&strategy, self.search, self.cancel);
        self.seen.insert(a.clone(), (figures.clone(), origin));
        self.order.push(a);
        let spend = self.ev.memo().spend();
        on_progress(&Progress {
            candidates: self.order.len(),
            frontier: frontier(&self.seen, &self.order, self.cfg),
            calls: spend.calls,
            spent: spend.spent,
            elapsed: self.started.elapsed(),
        });
        Some(figures)
    }
}

/// A rough price of an assignment, to try cheap steps first: the list prices of its models (an
/// escalation counts a tenth, as it serves only the failures).
fn price(a: &Assignment, catalog: &Catalog) -> u64 {
    let p = |m: &str| catalog.get(m).map_or(0.0, |m| m.prices.input.usd_per_million() + m.prices.output.usd_per_million());
    let total: f64 = a.iter().map(|c| p(&c.model) + c.escalate.iter().map(|e| p(e) / 10.0).sum::<f64>()).sum();
    (total * 1000.0) as u64
}

/// The non-dominated candidates, best under the objective first (evaluation order breaks ties).
fn frontier(seen: &HashMap<Assignment, (Figures, String)>, order: &[Assignment], cfg: &Config) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    for a in order {
        let (f, origin) = &seen[a];
        let dominated = order.iter().any(|b| b != a && dominates(&seen[b].0, f));
        let duplicate =
            out.iter().any(|p| p.search.cost == f.cost && p.search.latency_p50_ms == f.latency_p50_ms && p.search.quality == f.quality);
        if !dominated && !duplicate {
            out.push(Point { assignment: a.clone(), origin: origin.clone(), search: f.clone(), held_out: None });
        }
    }
    let r = rank(cfg.objective, cfg.quality_floor);
    out.sort_by(|a, b| r(&a.search, &b.search));
    out
}

/// The figures of every candidate that differs from `a` in slot `k` only, for the reasons the
/// written strategy gives.
pub fn alternatives<'a>(seen: &'a [(Assignment, Figures)], a: &Assignment, k: usize) -> Vec<&'a (Assignment, Figures)> {
    seen.iter().filter(|(b, _)| b.len() == a.len() && b[k] != a[k] && (0..a.len()).all(|j| j == k || b[j] == a[j])).collect()
}
