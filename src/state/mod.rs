//! The run state: one pure fold over [`RunEvent`]s. The live screen, replays, comparisons and
//! headless summaries all read this, so they cannot disagree. All arithmetic (cost from tokens
//! and prices, totals, the critical path) happens here, when an event is applied; views only
//! read.
//!
//! One file: `apply` is one match over every event and the accessors beside it read what it
//! keeps; split apart, a reader would have to hold two files to see how a figure is made.
//! The fold's unit tests are in `tests.rs`.

use std::sync::Arc;
use std::time::Duration;

use crate::event::{ContextPart, Event, Exchange, Origin, Outcome, RunEvent, SkipReason, Unit};
use crate::flow::{CheckResult, Flow};
use crate::money::Money;
use crate::routing::{Catalog, Cost, Decision, Strategy, Usage};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Waiting for its dependencies or a free slot.
    Queued,
    /// Started, but its call waits for a provider's slot or rate window (shown as `queued`).
    Waiting,
    Running,
    /// A call failed and the node is waiting to try again.
    Retrying,
    Done,
    /// Served from Baton's output cache.
    Cached,
    Skipped,
    Failed,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Queued | Status::Waiting => "queued",
            Status::Running => "running",
            Status::Retrying => "retrying",
            Status::Done => "done",
            Status::Cached => "cached",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
        }
    }

    pub fn is_settled(self) -> bool {
        matches!(self, Status::Done | Status::Cached | Status::Skipped | Status::Failed)
    }

    pub fn is_active(self) -> bool {
        matches!(self, Status::Waiting | Status::Running | Status::Retrying)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetryNote {
    pub at: Duration,
    pub model: String,
    pub try_no: u32,
    pub error: String,
    pub backoff: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FallbackNote {
    pub at: Duration,
    pub from: String,
    pub to: String,
    pub reason: String,
    /// Set when the move was an escalation after failed checks, with that call's cost.
    pub escalation_cost: Option<Money>,
}

/// One try's raw exchange with a provider, as the fold keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeNote {
    pub unit: Unit,
    /// When the try ended.
    pub at: Duration,
    pub exchange: Arc<Exchange>,
}

/// One unit: a node, or one instance of a fan-out node.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitState {
    pub unit: Unit,
    /// `searcher[2]` for instances, the node id otherwise.
    pub label: String,
    /// For instances, the item they were given.
    pub item: Option<Box<str>>,
    pub status: Status,
    pub decision: Option<Arc<Decision>>,
    /// The model that produced the output (differs from the decision's after a fallback).
    /// Shared with every unit of the run on the same model (the fold keeps each name once).
    pub model: Option<Arc<str>>,
    /// Whether the run's catalog prices `model`, when the fold has looked it up already
    /// (it does when the unit finishes, where it prices the call anyway).
    model_priced: Option<bool>,
    /// Whether [`Totals::unpriced`] counts this unit.
    counted_unpriced: bool,
    /// Whether [`Totals::uncounted_priced`] counts this unit.
    counted_uncounted: bool,
    /// The context the unit received (`None` before it starts: read it through
    /// [`UnitState::context`]). An `Option`, not a shared empty list: the reference counts of
    /// one were a few per cent of a simulated run's time.
    pub context: Option<Arc<[ContextPart]>>,
    pub input_tokens_estimate: u64,
    /// Usage of the call whose output was kept.
    pub usage: Usage,
    /// Usage of every call, abandoned escalations included.
    pub billed_usage: Usage,
    pub cost: Cost,
    pub estimated: bool,
    /// Some failed try was billed from Baton's token estimate (the provider sent no usage).
    pub billed_estimated: bool,
    /// The source reported no token counts for some of its calls (a watched call streamed
    /// without usage): its tokens and cost are lower bounds, not exact.
    pub unreported: bool,
    /// Reused from the recording a resumed run continues: counted at its recorded cost.
    /// Boxed: rare, and inline it was 72 of every unit's bytes.
    pub resumed: Option<Box<(Usage, Duration, Duration)>>,
    /// Time spent waiting for a provider's slot or rate window, over all tries.
    pub queued: Duration,
    /// While waiting: since when, and for what.
    /// Boxed: set only while waiting, and inline it was 40 of every unit's bytes.
    pub waiting: Option<Box<(Duration, String)>>,
    pub started: Option<Duration>,
    pub finished: Option<Duration>,
    pub ttft: Option<Duration>,
    /// When the current call's first token arrived (before the call finishes).
    pub first_token: Option<Duration>,
    pub latency: Option<Duration>,
    /// The output that was kept (shared with the event that carried it, so checkpoints of
    /// this state are cheap to clone).
    pub output: Option<Arc<str>>,
    /// The current call's output as it streams.
    pub streaming: String,
    pub streamed_tokens: u64,
    pub retries: Notes<RetryNote>,
    pub fallbacks: Notes<FallbackNote>,
    pub checks: Notes<CheckResult>,
    pub error: Option<Box<str>>,
    /// Boxed, like `waiting`: most units are not skipped.
    pub skip: Option<Box<SkipReason>>,
    /// Longest dependency chain ending here (sum of spans), and the unit before it on it.
    pub chain: Duration,
    pub chain_prev: Option<u32>,
}

impl UnitState {
    #[inline]
    fn new(unit: Unit, label: String, item: Option<String>) -> UnitState {
        UnitState {
            unit,
            label,
            item: item.map(String::into_boxed_str),
            status: Status::Queued,
            decision: None,
            model: None,
            model_priced: None,
            counted_unpriced: false,
            counted_uncounted: false,
            context: None,
            input_tokens_estimate: 0,
            usage: Usage::default(),
            billed_usage: Usage::default(),
            cost: Cost::default(),
            estimated: false,
            billed_estimated: false,
            unreported: false,
            resumed: None,
            queued: Duration::ZERO,
            waiting: None,
            started: None,
            finished: None,
            ttft: None,
            first_token: None,
            latency: None,
            output: None,
            streaming: String::new(),
            streamed_tokens: 0,
            retries: Notes::default(),
            fallbacks: Notes::default(),
            checks: Notes::default(),
            error: None,
            skip: None,
            chain: Duration::ZERO,
            chain_prev: None,
        }
    }

    /// What to show as the output: the kept one, or the stream so far.
    pub fn text(&self) -> &str {
        let kept = self.output();
        if kept.is_empty() { &self.streaming } else { kept }
    }

    /// The output that was kept; empty before the unit finishes (or when it was not kept).
    pub fn output(&self) -> &str {
        self.output.as_deref().unwrap_or("")
    }

    /// The kept output, shared: for a copy that outlives this state.
    pub fn output_shared(&self) -> Arc<str> {
        self.output.clone().unwrap_or_else(|| Arc::from(""))
    }

    /// The context the unit received, by origin; empty before it starts.
    pub fn context(&self) -> &[ContextPart] {
        self.context.as_deref().unwrap_or(&[])
    }

    pub fn checks_passed(&self) -> usize {
        self.checks.iter().filter(|c| c.passed).count()
    }

    /// Input tokens by origin: (prompt, declared upstream outputs, extra history).
    pub fn attribution(&self) -> (u64, u64, u64) {
        let mut a = (0, 0, 0);
        for p in self.context() {
            match p.origin {
                Origin::Prompt => a.0 += p.tokens,
                Origin::Declared(_) => a.1 += p.tokens,
                Origin::History => a.2 += p.tokens,
            }
        }
        a
    }
}

/// A flow node: its own unit, plus its instances if it fans out.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeState {
    /// Index into `RunState::units` of the node's own unit.
    pub unit: usize,
    /// Indices of the fan-out instances, in item order.
    pub instances: Vec<usize>,
    /// Items beyond the node's `max_items`.
    pub dropped: u32,
    /// How many instances have settled.
    pub settled: usize,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub cost: Cost,
    pub usage: Usage,
    pub checks_passed: usize,
    pub checks_total: usize,
    /// Units that did work (nodes and instances; fan-out groups are not counted twice).
    pub units_total: usize,
    pub done: usize,
    pub cached: usize,
    pub skipped: usize,
    pub failed: usize,
    pub running: usize,
    pub retries: usize,
    pub fallbacks: usize,
    /// Times a model was rested after failing repeatedly.
    pub cooldowns: usize,
    /// Cost an unchanged rerun saved by serving from the cache (the original calls' cost).
    pub saved: Money,
    pub critical_path: Duration,
    pub critical_end: Option<usize>,
    /// Settled units some of whose calls came without token counts ([`UnitState::unreported`]).
    pub unreported: usize,
    /// Settled units of unknown cost: their model is not in the catalog ([`RunState::unpriced`]).
    pub unpriced: usize,
    /// Settled units counted in [`Totals::unreported`] but not in [`Totals::unpriced`]: those
    /// that make a priced total a lower bound ([`RunState::uncounted_priced`]). A unit whose
    /// cost is unknown is counted once, as unpriced.
    pub uncounted_priced: usize,
}

impl Totals {
    pub fn pass_rate(&self) -> Option<f64> {
        (self.checks_total > 0).then(|| self.checks_passed as f64 / self.checks_total as f64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    NotStarted,
    Running,
    Finished(Outcome),
}

/// Everything known about a run after some prefix of its events.
#[derive(Debug, Clone)]
pub struct RunState {
    pub flow: Arc<Flow>,
    pub strategy: Arc<Strategy>,
    pub catalog: Arc<Catalog>,
    pub run_id: u64,
    pub attempt: u32,
    pub seed: u64,
    pub input: String,
    pub status: RunStatus,
    /// Time of the latest event.
    pub now: Duration,
    /// When RunFinished arrived.
    pub finished_at: Option<Duration>,
    pub nodes: Vec<NodeState>,
    pub units: Vec<UnitState>,
    pub totals: Totals,
    pub events: u64,
    /// Whether running units keep the text streamed so far (the screen shows it). Runs without
    /// a screen turn this off: the kept outputs are all they report, and a wide fan-out would
    /// otherwise hold every in-flight output twice, once here and once in the engine.
    pub live_text: bool,
    /// Folded from a recording, which will not grow: a run whose end it lacks was
    /// interrupted, not running.
    pub recorded: bool,
    /// Every try's raw exchange with an HTTP provider, in order (kept while `live_text` is on).
    /// A side table rather than a field of each unit: most runs have none, and a unit's state
    /// is what a 100,000-node run holds 100,000 of.
    pub exchanges: Vec<ExchangeNote>,
    /// The model names units of this run have had, each kept once and shared by every unit
    /// on it (a name copied at each start was a sixth of a simulated node's allocations). A
    /// run names a handful; past [`RunState::SHARED_NAMES`] (a watched trace can name any
    /// number) further names are not looked for here, so that a unit's model costs at most
    /// that many comparisons. Each with its index in the catalog, if the catalog has it: a
    /// finished call's event carries one of these names, found by pointer, so pricing it needs
    /// no lookup by name.
    pub(crate) model_names: Vec<(Arc<str>, Option<u32>)>,
}

impl RunState {
    pub fn new(flow: Arc<Flow>, strategy: Arc<Strategy>, catalog: Arc<Catalog>, run_id: u64, attempt: u32) -> RunState {
        let units: Vec<UnitState> = flow.nodes.iter().enumerate().map(|(i, n)| UnitState::new(Unit::node(i), n.id.clone(), None)).collect();
        let nodes = (0..flow.nodes.len()).map(|i| NodeState { unit: i, instances: Vec::new(), dropped: 0, settled: 0 }).collect();
        let totals = Totals { units_total: flow.nodes.len(), ..Totals::default() };
        RunState {
            flow,
            strategy,
            catalog,
            run_id,
            attempt,
            seed: 0,
            input: String::new(),
            status: RunStatus::NotStarted,
            now: Duration::ZERO,
            finished_at: None,
            nodes,
            units,
            totals,
            events: 0,
            live_text: true,
            recorded: false,
            exchanges: Vec::new(),
            model_names: Vec::new(),
        }
    }

    /// The state before any of `spec`'s events.
    pub fn for_spec(spec: &crate::engine::RunSpec) -> RunState {
        RunState::new(spec.flow.clone(), spec.strategy.clone(), spec.catalog.clone(), spec.run_id, spec.attempt)
    }

    /// A unit's raw exchanges, oldest first.
    pub fn exchanges_of(&self, u: Unit) -> impl Iterator<Item = &ExchangeNote> {
        self.exchanges.iter().filter(move |x| x.unit == u)
    }

    /// Index of a unit's state.
    pub fn unit_index(&self, u: Unit) -> Option<usize> {
        let node = self.nodes.get(u.index())?;
        match u.item {
            None => Some(node.unit),
            Some(k) => node.instances.get(k as usize).copied(),
        }
    }

    pub fn unit(&self, u: Unit) -> Option<&UnitState> {
        self.unit_index(u).map(|i| &self.units[i])
    }

    /// The simulated wall time: RunFinished's time, or the latest event's while running.
    pub fn wall(&self) -> Duration {
        self.finished_at.unwrap_or(self.now)
    }

    /// Units on the critical path, from first to last.
    pub fn critical_path(&self) -> Vec<usize> {
        let mut path = Vec::new();
        let mut cur = self.totals.critical_end;
        while let Some(i) = cur {
            path.push(i);
            cur = self.units[i].chain_prev.map(|p| p as usize);
        }
        path.reverse();
        path
    }

    /// A unit's cost so far: exact once it settles; while it runs, its prompt and the tokens
    /// streamed so far at its model's prices (an estimate until the provider's usage arrives).
    pub fn cost_so_far(&self, idx: usize) -> Money {
        let u = &self.units[idx];
        if !u.status.is_active() {
            return u.cost.total();
        }
        let Some(m) = u.model.as_deref().and_then(|m| self.catalog.get(m)) else { return u.cost.total() };
        u.cost.total() + m.prices.input.cost(u.input_tokens_estimate) + m.prices.output.cost(u.streamed_tokens)
    }

    /// What a unit's kept output is worth at this run's prices: what it cost for a fresh call,
    /// and for one served from the cache what the original call cost (spent before, not now).
    pub fn unit_worth(&self, idx: usize) -> Money {
        let u = &self.units[idx];
        if u.status == Status::Cached { self.call_cost(u.model.as_deref().unwrap_or(""), &u.usage) } else { u.cost.total() }
    }

    /// The price of one call at this run's prices: the one place a view gets a call's cost.
    pub fn call_cost(&self, model: &str, usage: &Usage) -> Money {
        self.catalog.cost(model, usage).total()
    }

    /// The rules this attempt's strategy tried for a unit, in order, each with whether it
    /// matched and why: the decision that was taken, not one the edited strategy would take.
    pub fn routing_trace(&self, idx: usize) -> Vec<(String, bool, String)> {
        let u = &self.units[idx];
        let tokens = u.decision.as_ref().map_or(0, |d| d.input_tokens);
        crate::routing::explain(&self.strategy, &self.flow.nodes[u.unit.index()], tokens)
    }

    /// What the run is worth from scratch: what it spent plus what its cached nodes' original
    /// calls cost. Two attempts compare like for like on this, however much each reused.
    pub fn from_scratch(&self) -> Money {
        self.totals.cost.total() + self.totals.saved
    }

    /// Tokens so far: every settled call's, plus the running calls' prompts and the tokens
    /// they have streamed (estimates until their usage arrives).
    pub fn tokens_so_far(&self) -> u64 {
        let live: u64 = self.units.iter().filter(|u| u.status.is_active()).map(|u| u.input_tokens_estimate + u.streamed_tokens).sum();
        self.totals.usage.total_input() + self.totals.usage.output + live
    }

    /// Spend over time: what each unit's calls cost, put in the slice of `[0, until]` where the
    /// unit settled, for `n` equal slices (a unit still running counts once it settles).
    pub fn spend_over_time(&self, until: Duration, n: usize) -> Vec<Money> {
        let mut out = vec![Money::ZERO; n];
        if n == 0 {
            return out;
        }
        let total = until.as_secs_f64().max(1e-9);
        for u in &self.units {
            let (Some(at), cost) = (u.finished, u.cost.total()) else { continue };
            if !cost.is_zero() {
                let i = ((at.as_secs_f64() / total) * (n as f64 - 1.0)).round() as usize;
                out[i.min(n - 1)] += cost;
            }
        }
        out
    }

    /// Time to first token, known as soon as the first token streams in.
    pub fn ttft_so_far(&self, idx: usize) -> Option<Duration> {
        let u = &self.units[idx];
        u.ttft.or_else(|| Some(u.first_token?.saturating_sub(u.retries.last().map_or(u.started?, |r| r.at + r.backoff))))
    }

    /// Whether the units are fan-out groups (whose work is in their instances).
    pub fn is_group(&self, idx: usize) -> bool {
        let u = self.units[idx].unit;
        u.item.is_none() && self.flow.nodes[u.index()].map.is_some()
    }

    /// Status of a node as a whole: for a fan-out node, summarised from its instances.
    pub fn node_status(&self, node: usize) -> Status {
        let own = self.units[self.nodes[node].unit].status;
        let inst = &self.nodes[node].instances;
        if inst.is_empty() || matches!(own, Status::Skipped | Status::Failed) {
            return own;
        }
        let sts: Vec<Status> = inst.iter().map(|&i| self.units[i].status).collect();
        summary::combined(&sts)
    }

    /// Cost of a node, its instances included.
    pub fn node_cost(&self, node: usize) -> Money {
        let n = &self.nodes[node];
        self.units[n.unit].cost.total() + n.instances.iter().map(|&i| self.units[i].cost.total()).sum::<Money>()
    }

    /// Usage of a node, its instances included.
    pub fn node_usage(&self, node: usize) -> Usage {
        let n = &self.nodes[node];
        let mut u = self.units[n.unit].usage;
        for &i in &n.instances {
            u.add(&self.units[i].usage);
        }
        u
    }

    /// A node's span: earliest start to latest finish over its units.
    pub fn node_span(&self, node: usize) -> (Option<Duration>, Option<Duration>) {
        let n = &self.nodes[node];
        let idx = std::iter::once(n.unit).chain(n.instances.iter().copied());
        let us: Vec<&UnitState> = idx.map(|i| &self.units[i]).collect();
        let start = us.iter().filter_map(|u| u.started).min();
        let end =
            if us.iter().all(|u| u.finished.is_some() || u.started.is_none()) { us.iter().filter_map(|u| u.finished).max() } else { None };
        (start, end)
    }

    /// Applies one event. Events of another run or attempt are ignored (returns false), so a
    /// superseded attempt's late tokens never land on the current one.
    pub fn apply(&mut self, ev: &RunEvent) -> bool {
        if ev.run != self.run_id || ev.attempt != self.attempt {
            return false;
        }
        if let Some(i) = self.apply_kind(ev) {
            self.count_unknown(i);
        }
        true
    }

    /// Keeps [`Totals::unpriced`] and [`Totals::uncounted_priced`] in step with unit `i`:
    /// counted here so that the header need not look every unit's model up in the catalog on
    /// every frame.
    fn count_unknown(&mut self, i: usize) {
        let unpriced = self.unpriced(i);
        let uncounted = !unpriced && self.unreported(i);
        let u = &mut self.units[i];
        recount(&mut u.counted_unpriced, unpriced, &mut self.totals.unpriced);
        recount(&mut u.counted_uncounted, uncounted, &mut self.totals.uncounted_priced);
    }

    /// Applies the event; returns the unit whose status, model or billed usage it may have
    /// changed.
    fn apply_kind(&mut self, ev: &RunEvent) -> Option<usize> {
        self.events += 1;
        let mut touched = None;
        self.now = self.now.max(ev.at);
        match &ev.kind {
            Event::RunStarted { seed, input, .. } => {
                self.seed = *seed;
                self.input = input.clone();
                self.status = RunStatus::Running;
            }
            Event::RunFinished { outcome } => {
                self.status = RunStatus::Finished(*outcome);
                self.finished_at = Some(ev.at);
                // Anything still running was cut off: by a stop, or by the end of the run.
                for i in 0..self.units.len() {
                    if self.units[i].status.is_active() {
                        if *outcome == Outcome::Cancelled {
                            self.set_status(i, Status::Skipped);
                            self.units[i].skip = Some(Box::new(SkipReason::Cancelled));
                        } else {
                            self.set_status(i, Status::Failed);
                            self.units[i].error.get_or_insert_with(|| "the run ended first".into());
                        }
                        self.count_unknown(i);
                    }
                }
            }
            Event::NodeQueued { .. } => {}
            Event::ModelCooldown { .. } => self.totals.cooldowns += 1,
            Event::NodeExpanded { node, items, dropped } => {
                let n = *node as usize;
                if n >= self.nodes.len() || !self.nodes[n].instances.is_empty() {
                    return None;
                }
                for (k, item) in items.iter().enumerate() {
                    let idx = self.units.len();
                    let unit = Unit::instance(n, k);
                    self.units.push(UnitState::new(unit, unit.label(&self.flow), Some(item.clone())));
                    self.nodes[n].instances.push(idx);
                }
                self.nodes[n].dropped = *dropped;
                let own = self.nodes[n].unit;
                self.set_status(own, Status::Running);
                self.count_unknown(own);
                // The group's work is its instances.
                self.totals.units_total += items.len();
                self.totals.units_total -= 1;
            }
            Event::NodeStarted { unit, decision, context, input_tokens } => {
                let i = self.unit_index(*unit)?;
                touched = Some(i);
                self.set_status(i, Status::Running);
                let u = &mut self.units[i];
                u.decision = Some(decision.clone());
                self.set_model(i, &decision.model, None, None);
                let u = &mut self.units[i];
                u.context = Some(context.clone());
                u.input_tokens_estimate = *input_tokens;
                u.started = Some(ev.at);
                u.streaming.clear();
                u.streamed_tokens = 0;
            }
            Event::NodeDelta { unit, text, output_tokens } => {
                let i = self.unit_index(*unit)?;
                let u = &mut self.units[i];
                if u.status == Status::Retrying {
                    // A new try streams from scratch.
                    u.status = Status::Running;
                    u.streaming.clear();
                }
                u.first_token.get_or_insert(ev.at);
                if self.live_text {
                    u.streaming.push_str(text);
                }
                u.streamed_tokens = *output_tokens;
            }
            Event::NodeResumed { unit, billed, ttft, latency } => {
                let i = self.unit_index(*unit)?;
                touched = Some(i);
                self.units[i].resumed = Some(Box::new((*billed, *ttft, *latency)));
            }
            Event::NodeWaiting { unit, why } => {
                let i = self.unit_index(*unit)?;
                touched = Some(i);
                self.set_status(i, Status::Waiting);
                self.units[i].waiting = Some(Box::new((ev.at, why.clone())));
            }
            Event::NodeSent { unit, queued } => {
                let i = self.unit_index(*unit)?;
                touched = Some(i);
                self.set_status(i, Status::Running);
                let u = &mut self.units[i];
                u.queued += *queued;
                u.waiting = None;
            }
            Event::NodeBilled { unit, model, usage, estimated } => {
                let i = self.unit_index(*unit)?;
                touched = Some(i);
                let cost = self.catalog.cost(model, usage);
                let u = &mut self.units[i];
                u.billed_usage.add(usage);
                u.cost.add(&cost);
                u.billed_estimated |= *estimated;
                self.totals.cost.add(&cost);
                self.totals.usage.add(usage);
            }
            Event::NodeRetry { unit, model, try_no, error, backoff } => {
                let i = self.unit_index(*unit)?;
                touched = Some(i);
                self.set_status(i, Status::Retrying);
                let u = &mut self.units[i];
                u.retries.push(RetryNote { at: ev.at, model: model.clone(), try_no: *try_no, error: error.clone(), backoff: *backoff });
                u.first_token = None;
                u.streaming.clear();
                u.streamed_tokens = 0;
                self.totals.retries += 1;
            }
            Event::NodeFallback { unit, from, to, reason } => {
                let i = self.unit_index(*unit)?;
                touched = Some(i);
                self.set_status(i, Status::Running);
                let u = &mut self.units[i];
                u.fallbacks.push(FallbackNote {
                    at: ev.at,
                    from: from.clone(),
                    to: to.clone(),
                    reason: reason.clone(),
                    escalation_cost: None,
                });
                self.set_model(i, to, None, None);
                let u = &mut self.units[i];
                u.first_token = None;
                u.streaming.clear();
                u.streamed_tokens = 0;
                self.totals.fallbacks += 1;
            }
            Event::NodeEscalated { unit, from, to, usage, failed } => {
                let i = self.unit_index(*unit)?;
                touched = Some(i);
                let cost = self.catalog.cost(from, usage);
                let u = &mut self.units[i];
                u.billed_usage.add(usage);
                u.cost.add(&cost);
                u.fallbacks.push(FallbackNote {
                    at: ev.at,
                    from: from.clone(),
                    to: to.clone(),
                    reason: format!("checks failed: {}", failed.join(", ")),
                    escalation_cost: Some(cost.total()),
                });
                self.set_model(i, to, None, None);
                let u = &mut self.units[i];
                u.streaming.clear();
                u.streamed_tokens = 0;
                self.totals.cost.add(&cost);
                self.totals.usage.add(usage);
                self.totals.fallbacks += 1;
            }
            Event::NodeFinished { unit, model, usage, estimated, ttft, latency, output, checks, cached, unreported } => {
                let i = self.unit_index(*unit)?;
                touched = Some(i);
                // Work a resumed run reuses was paid for before the interruption: it counts at
                // its recorded cost and times, not as a cache hit.
                let resumed = self.units[i].resumed.as_deref().copied().filter(|_| *cached);
                let cached = &(*cached && resumed.is_none());
                let billed = resumed.map_or(*usage, |r| r.0);
                let (ttft, latency) = resumed.map_or((*ttft, *latency), |r| (r.1, r.2));
                let (ttft, latency) = (&ttft, &latency);
                let (cost, priced) = match self.catalog_model(model) {
                    Some(m) => (if *cached { Cost::default() } else { m.cost(&billed) }, true),
                    None => (Cost::default(), false),
                };
                let chain_from = self.chain_before(unit.index());
                self.set_status(i, if *cached { Status::Cached } else { Status::Done });
                self.set_model(i, model, Some(model), Some(priced));
                let u = &mut self.units[i];
                u.usage = *usage;
                if !*cached {
                    u.billed_usage.add(&billed);
                    u.cost.add(&cost);
                }
                u.estimated = *estimated;
                self.totals.unreported += usize::from(*unreported && !u.unreported);
                u.unreported = *unreported;
                u.ttft = Some(*ttft);
                u.latency = Some(*latency);
                u.finished = Some(ev.at);
                u.started.get_or_insert(ev.at.saturating_sub(*latency));
                u.output = (!output.is_empty()).then(|| output.clone());
                u.streaming = String::new();
                u.streamed_tokens = usage.output;
                u.checks = checks.clone().into();
                let span = ev.at.saturating_sub(u.started.unwrap_or(ev.at));
                u.chain = chain_from.0 + span;
                u.chain_prev = chain_from.1.map(|p| p as u32);
                if u.chain >= self.totals.critical_path {
                    self.totals.critical_path = u.chain;
                    self.totals.critical_end = Some(i);
                }
                self.totals.checks_total += checks.len();
                self.totals.checks_passed += checks.iter().filter(|c| c.passed).count();
                if *cached {
                    self.totals.saved += self.call_cost(model, usage);
                } else {
                    self.totals.cost.add(&cost);
                    self.totals.usage.add(&billed);
                }
            }
            Event::NodeSkipped { unit, reason } => {
                let i = self.unit_index(*unit)?;
                touched = Some(i);
                self.set_status(i, Status::Skipped);
                let u = &mut self.units[i];
                u.skip = Some(Box::new(reason.clone()));
                if u.finished.is_none() {
                    u.finished = Some(ev.at);
                }
            }
            Event::NodeExchange { unit, exchange } => {
                if self.live_text {
                    self.exchanges.push(ExchangeNote { unit: *unit, at: ev.at, exchange: exchange.clone() });
                }
            }
            Event::NodeFailed { unit, error } => {
                let i = self.unit_index(*unit)?;
                touched = Some(i);
                self.set_status(i, Status::Failed);
                let u = &mut self.units[i];
                u.error = Some(error.as_str().into());
                u.finished = Some(ev.at);
            }
        }
        if let Some(u) = ev.kind.unit() {
            // A fan-out group is done when all its instances are.
            let n = u.index();
            if u.item.is_some() && n < self.nodes.len() && self.nodes[n].settled == self.nodes[n].instances.len() {
                let st = self.node_status(n);
                let own = self.nodes[n].unit;
                if st.is_settled() && !self.units[own].status.is_settled() {
                    self.units[own].status = st;
                    self.units[own].finished = self.node_span(n).1;
                    self.count_unknown(own);
                }
            }
        }
        touched
    }

    /// Longest chain ending at any dependency of `node`, and the unit it ends at.
    fn chain_before(&self, node: usize) -> (Duration, Option<usize>) {
        let mut best = (Duration::ZERO, None);
        for &d in &self.flow.nodes[node].after {
            let n = &self.nodes[d];
            let units = if n.instances.is_empty() { std::slice::from_ref(&n.unit) } else { &n.instances[..] };
            for &i in units {
                let u = &self.units[i];
                if u.finished.is_some() && u.status != Status::Skipped && (best.1.is_none() || u.chain > best.0) {
                    best = (u.chain, Some(i));
                }
            }
        }
        best
    }

    /// How many model names a run shares at most (see [`RunState::model_names`]).
    const SHARED_NAMES: usize = 16;

    /// The unit's model is now `model` (the event's own copy in `shared`, where it carries
    /// one), and `priced` says whether the catalog prices it, if the caller looked it up.
    fn set_model(&mut self, i: usize, model: &str, shared: Option<&Arc<str>>, priced: Option<bool>) {
        let u = &mut self.units[i];
        // The engine's events carry the catalog's name, which is the one kept here.
        let same = match (&u.model, shared) {
            (Some(m), Some(s)) if Arc::ptr_eq(m, s) => true,
            (m, _) => m.as_deref() == Some(model),
        };
        if !same {
            let name = match self.model_names.iter().find(|(m, _)| &**m == model) {
                Some((m, _)) => m.clone(),
                None => {
                    let at = self.catalog.index_of(model);
                    let known = || at.map(|k| self.catalog.models[k].id.clone());
                    let m = shared.cloned().or_else(known).unwrap_or_else(|| Arc::from(model));
                    if self.model_names.len() < Self::SHARED_NAMES {
                        self.model_names.push((m.clone(), at.map(|k| k as u32)));
                    }
                    m
                }
            };
            u.model = Some(name);
            u.model_priced = priced;
        } else if priced.is_some() {
            u.model_priced = priced;
        }
    }

    /// The catalog's entry for a model an event names: by pointer among the names this run
    /// shares (the engine's events carry the catalog's own), else by name.
    /// The index kept is checked against the catalog's entry (a caller may have given the
    /// state another catalog since), and a name the catalog lacked is looked up again.
    fn catalog_model(&self, model: &Arc<str>) -> Option<&crate::routing::Model> {
        let kept = self.model_names.iter().find(|(m, _)| Arc::ptr_eq(m, model)).and_then(|(_, at)| *at);
        kept.and_then(|k| self.catalog.models.get(k as usize))
            .filter(|m| Arc::ptr_eq(&m.id, model) || *m.id == **model)
            .or_else(|| self.catalog.get(model))
    }

    /// Whether unit `i` has a model the catalog does not price.
    pub(super) fn model_unpriced(&self, i: usize) -> bool {
        let u = &self.units[i];
        u.model.as_deref().is_some_and(|m| m != crate::event::NO_MODEL && !u.model_priced.unwrap_or_else(|| self.catalog.get(m).is_some()))
    }

    /// Moves a unit to a new status, keeping the totals' counts in step. Expanded fan-out
    /// groups are not counted; their instances are.
    fn set_status(&mut self, i: usize, new: Status) {
        let old = self.units[i].status;
        self.units[i].status = new;
        let n = self.units[i].unit.index();
        if self.units[i].unit.item.is_some() && new.is_settled() != old.is_settled() {
            if new.is_settled() {
                self.nodes[n].settled += 1;
            } else {
                self.nodes[n].settled -= 1;
            }
        }
        if self.units[i].unit.item.is_none() && !self.nodes[n].instances.is_empty() {
            return;
        }
        let t = &mut self.totals;
        for (st, delta) in [(old, -1i64), (new, 1)] {
            let slot = match st {
                Status::Done => &mut t.done,
                Status::Cached => &mut t.cached,
                Status::Skipped => &mut t.skipped,
                Status::Failed => &mut t.failed,
                Status::Waiting | Status::Running | Status::Retrying => &mut t.running,
                Status::Queued => continue,
            };
            *slot = (*slot as i64 + delta).max(0) as usize;
        }
    }

    /// Applies every event in order.
    pub fn fold<'a>(mut self, events: impl IntoIterator<Item = &'a RunEvent>) -> RunState {
        for e in events {
            self.apply(e);
        }
        self
    }
}

/// Keeps a total in step with one unit's flag: counted once while `now` holds.
fn recount(counted: &mut bool, now: bool, total: &mut usize) {
    if *counted != now {
        *counted = now;
        if now {
            *total += 1;
        } else {
            *total -= 1;
        }
    }
}

mod notes;
mod summary;

pub use notes::Notes;
pub use summary::Summary;

#[cfg(test)]
mod tests;
