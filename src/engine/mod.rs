//! The engine: runs a flow under a strategy on tokio and emits [`RunEvent`]s.
//!
//! One task owns the scheduling state: which nodes wait for what, what is ready, what runs, what
//! has been spent. Calls run as futures polled by that task, so there is no shared mutable state
//! and no lock. Ready work is started in topological order, so with the same inputs and a paused
//! clock a run is reproducible event for event.

mod context;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::event::{ContextPart, Event, Outcome, RunEvent, SkipReason, Unit};
use crate::flow::{CheckResult, Flow, list_items};
use crate::money::Money;
use crate::provider::rng::{Rng, hash_str};
use crate::provider::{CallError, CallRequest, Chunk, ErrorKind, Providers};
use crate::routing::{Catalog, Decision, Strategy, Usage, route};

use context::build_context;

/// An output served without calling a model: from Baton's cache, or a recording being resumed
/// or forked.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    pub model: String,
    /// The original call's usage, kept for reference (a served output costs nothing now).
    pub usage: Usage,
    pub output: Arc<str>,
}

/// What identifies a unit's call when looking for an output to reuse.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub node: &'a str,
    pub item: Option<u32>,
    pub model: &'a str,
    /// A hash of everything the call depends on: model, resolved prompt and context, limits,
    /// and for the simulator the seed, input and node.
    pub key: u64,
}

/// A source of outputs to reuse instead of calling a model.
pub trait OutputStore: Send + Sync {
    fn get(&self, q: &Query<'_>) -> Option<Served>;
    /// Offered every fresh output, for stores that cache.
    fn put(&self, _q: &Query<'_>, _s: &Served) {}
}

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

/// How a model has been doing in this run: failures in a row, and when its rest ends.
#[derive(Debug, Default, Clone, Copy)]
struct Health {
    failures: u32,
    until: Option<Duration>,
}

type HealthMap = Arc<std::sync::Mutex<std::collections::HashMap<String, Health>>>;

/// What a finished unit hands back to the scheduler.
struct Done {
    unit: Unit,
    /// Billed cost of every call the unit made.
    cost: Money,
    /// The estimate reserved against the budget when it started.
    reserved: Money,
    result: Result<Finished, ()>,
    /// The rendered prompt, for later nodes' history.
    prompt: Arc<str>,
}

struct Finished {
    output: Arc<str>,
    passed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Running,
    Done,
    Skipped,
    Failed,
}

/// A fan-out node's instances.
#[derive(Default)]
struct Group {
    items: Vec<Arc<str>>,
    outputs: Vec<Option<Arc<str>>>,
    pending: VecDeque<u32>,
    running: usize,
    finished: usize,
    failed: bool,
    all_passed: bool,
}

/// What one finished unit contributes to later nodes' context.
pub(crate) struct HistoryEntry {
    pub unit: Unit,
    pub prompt: Arc<str>,
    pub output: Arc<str>,
}

/// Where the engine's events go: a channel to another task (the live screen), or a function
/// called on the engine's own task (headless runs, where a channel would only add a hop).
trait Sink {
    /// Hands one event over; false once nobody listens any more.
    fn send(&self, ev: RunEvent) -> impl Future<Output = bool>;
}

impl Sink for mpsc::Sender<RunEvent> {
    async fn send(&self, ev: RunEvent) -> bool {
        mpsc::Sender::send(self, ev).await.is_ok()
    }
}

struct Inline<F>(std::cell::RefCell<F>);

impl<F: FnMut(RunEvent)> Sink for Inline<F> {
    /// Handled before returning, so the future holds no event: every in-flight call embeds
    /// this future, and a wide fan-out has thousands of them.
    fn send(&self, ev: RunEvent) -> impl Future<Output = bool> {
        (self.0.borrow_mut())(ev);
        std::future::ready(true)
    }
}

struct Exec<'a, S> {
    spec: &'a RunSpec,
    providers: &'a Providers,
    sink: &'a S,
    start: Instant,
    task: u64,
    rank: Vec<u32>,
    remaining: Vec<usize>,
    state: Vec<State>,
    outputs: Vec<Option<Arc<str>>>,
    passed: Vec<bool>,
    groups: Vec<Option<Group>>,
    ready: BinaryHeap<Reverse<(u32, u32, u32)>>,
    running: usize,
    limit: usize,
    spent: Money,
    reserved: Money,
    budget_hit: bool,
    any_failed: bool,
    history: Vec<HistoryEntry>,
    closed: bool,
    health: HealthMap,
}

/// Runs a flow to the end (or until cancelled), sending every event on `tx`. Returns how the
/// run ended. If the receiver goes away the run stops as if cancelled.
pub async fn run(spec: &RunSpec, providers: &Providers, tx: mpsc::Sender<RunEvent>, cancel: CancellationToken) -> Outcome {
    execute(spec, providers, &tx, cancel).await
}

async fn execute<S: Sink>(spec: &RunSpec, providers: &Providers, sink: &S, cancel: CancellationToken) -> Outcome {
    let flow = &spec.flow;
    let n = flow.nodes.len();
    let mut ex = Exec {
        spec,
        providers,
        sink,
        start: Instant::now(),
        task: hash_str(&spec.input),
        rank: flow.topo_rank(),
        remaining: flow.nodes.iter().map(|n| n.after.len()).collect(),
        state: vec![State::Waiting; n],
        outputs: vec![None; n],
        passed: vec![true; n],
        groups: (0..n).map(|_| None).collect(),
        ready: BinaryHeap::new(),
        running: 0,
        limit: spec.strategy.schedule.limit().unwrap_or(usize::MAX),
        spent: Money::ZERO,
        reserved: Money::ZERO,
        budget_hit: false,
        any_failed: false,
        history: Vec::new(),
        closed: false,
        health: HealthMap::default(),
    };
    ex.emit(Event::RunStarted {
        flow: flow.name.clone(),
        strategy: spec.strategy.name.clone(),
        seed: spec.seed,
        input: spec.input.clone(),
    })
    .await;
    for i in 0..n {
        ex.emit(Event::NodeQueued { unit: Unit::node(i) }).await;
    }
    let roots: Vec<usize> = (0..n).filter(|&i| flow.nodes[i].after.is_empty()).collect();
    for r in roots {
        ex.became_ready(r).await;
    }

    let mut inflight = FuturesUnordered::new();
    let cancelled = loop {
        while ex.running < ex.limit && !ex.closed {
            let Some(Reverse((_, node, item))) = ex.ready.pop() else { break };
            let unit = if item == u32::MAX { Unit::node(node as usize) } else { Unit::instance(node as usize, item as usize) };
            if let Some(call) = ex.start_unit(unit).await {
                // Poll the call once right here: an answer that is already there (a cache hit,
                // a zero-latency model) is settled without a trip through the in-flight set.
                // Anything that has to wait re-registers its waker when the set polls it.
                let mut fut = Box::pin(call.run());
                let first = fut.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
                match first {
                    std::task::Poll::Ready(done) => ex.finish_unit(done).await,
                    std::task::Poll::Pending => {
                        ex.running += 1;
                        inflight.push(fut);
                    }
                }
            }
        }
        if inflight.is_empty() || ex.closed {
            break ex.closed;
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break true,
            Some(done) = inflight.next() => {
                ex.running -= 1;
                ex.finish_unit(done).await;
            }
        }
    };
    drop(inflight);

    let outcome = if cancelled {
        for i in 0..n {
            if matches!(ex.state[i], State::Waiting | State::Running) {
                ex.state[i] = State::Skipped;
                ex.emit(Event::NodeSkipped { unit: Unit::node(i), reason: SkipReason::Cancelled }).await;
            }
        }
        Outcome::Cancelled
    } else if ex.any_failed {
        Outcome::Failed
    } else if ex.budget_hit {
        Outcome::BudgetExceeded
    } else {
        Outcome::Completed
    };
    ex.closed = false;
    ex.emit(Event::RunFinished { outcome }).await;
    outcome
}

impl<'a, S: Sink> Exec<'a, S> {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    async fn emit(&mut self, kind: Event) {
        if self.closed {
            return;
        }
        let ev = RunEvent { run: self.spec.run_id, attempt: self.spec.attempt, at: self.now(), kind };
        if !self.sink.send(ev).await {
            self.closed = true;
        }
    }

    /// All of a node's dependencies have settled: skip it, expand it, or queue it.
    async fn became_ready(&mut self, first: usize) {
        let mut work = vec![first];
        let spec = self.spec;
        while let Some(i) = work.pop() {
            let node = &spec.flow.nodes[i];
            let blocked = node.after.iter().copied().find(|&d| self.state[d] != State::Done);
            let skip = if let Some(d) = blocked {
                Some(SkipReason::Upstream { node: self.spec.flow.nodes[d].id.clone(), failed: self.state[d] == State::Failed })
            } else if let Some(w) = &node.when {
                let out = self.outputs[w.node].clone().unwrap_or_default();
                (!w.holds(&out, self.passed[w.node])).then(|| SkipReason::Condition { test: w.describe(&self.spec.flow.nodes[w.node].id) })
            } else {
                None
            };
            if let Some(reason) = skip {
                self.state[i] = State::Skipped;
                self.emit(Event::NodeSkipped { unit: Unit::node(i), reason }).await;
                work.extend(self.settle(i));
                continue;
            }
            match &node.map {
                None => self.ready.push(Reverse((self.rank[i], i as u32, u32::MAX))),
                Some(m) => {
                    let source = self.outputs[m.over].clone().unwrap_or_default();
                    let mut items = list_items(&source);
                    let dropped = items.len().saturating_sub(m.max_items);
                    items.truncate(m.max_items);
                    self.emit(Event::NodeExpanded { node: i as u32, items: items.clone(), dropped: dropped as u32 }).await;
                    if items.is_empty() {
                        self.state[i] = State::Skipped;
                        self.emit(Event::NodeSkipped { unit: Unit::node(i), reason: SkipReason::NoItems }).await;
                        work.extend(self.settle(i));
                        continue;
                    }
                    self.state[i] = State::Running;
                    let mut g = Group { all_passed: true, ..Group::default() };
                    g.outputs = vec![None; items.len()];
                    g.items = items.into_iter().map(Arc::from).collect();
                    for k in 0..g.items.len() as u32 {
                        if (k as usize) < m.limit {
                            self.ready.push(Reverse((self.rank[i], i as u32, k)));
                            g.running += 1;
                        } else {
                            g.pending.push_back(k);
                        }
                    }
                    self.groups[i] = Some(g);
                }
            }
        }
    }

    /// A node reached Done, Skipped or Failed: returns the dependents that are now ready.
    fn settle(&mut self, i: usize) -> Vec<usize> {
        let mut ready = Vec::new();
        for &d in &self.spec.flow.dependents[i] {
            self.remaining[d] -= 1;
            if self.remaining[d] == 0 {
                ready.push(d);
            }
        }
        // Reverse so the work stack pops them in file order.
        ready.reverse();
        ready
    }

    /// Builds the unit's input, routes it, checks the budget and returns the call's future.
    async fn start_unit(&mut self, unit: Unit) -> Option<Call<'a, S>> {
        let spec = self.spec;
        let i = unit.index();
        let node = &spec.flow.nodes[i];
        let item = unit.item.and_then(|k| self.groups[i].as_ref().map(|g| (k, g.items[k as usize].clone())));
        let ctx = build_context(spec, i, item.as_ref().map(|(_, t)| &**t), &self.outputs, &self.history);
        let input_tokens: u64 = ctx.parts.iter().map(|p| p.tokens).sum();
        let decision = Arc::new(route(&spec.strategy, node, input_tokens));
        // The content key is only needed to look up or keep outputs.
        let key = if spec.store.is_some() {
            content_key(spec, i, &decision.model, &ctx.texts, self.providers.is_simulated(), self.task, unit.item)
        } else {
            0
        };
        let hit = spec.store.as_ref().and_then(|s| s.get(&Query { node: &node.id, item: unit.item, model: &decision.model, key }));

        let estimate = if hit.is_some() {
            Money::ZERO
        } else {
            spec.catalog
                .get(&decision.model)
                .map_or(Money::ZERO, |m| m.prices.input.cost(input_tokens) + m.prices.output.cost(u64::from(node.expected_tokens)))
        };
        if let Some(budget) = spec.strategy.budget
            && (self.budget_hit || self.spent + self.reserved + estimate > budget)
        {
            self.budget_hit = true;
            let reason = SkipReason::Budget { spent: self.spent + self.reserved, estimate, budget };
            self.unit_skipped(unit, reason).await;
            return None;
        }
        self.reserved += estimate;
        if unit.item.is_none() {
            self.state[i] = State::Running;
        }
        let parts: Vec<ContextPart> = ctx.parts.iter().map(|p| ContextPart { origin: p.origin, tokens: p.tokens }).collect();
        self.emit(Event::NodeStarted { unit, decision: decision.clone(), context: parts, input_tokens }).await;
        let prompt = ctx.prompt;

        Some(Call {
            spec,
            providers: self.providers,
            sink: self.sink,
            start: self.start,
            unit,
            decision,
            parts: ctx.texts,
            input_tokens,
            item,
            task: self.task,
            reserved: estimate,
            prompt,
            hit,
            key,
            health: self.health.clone(),
        })
    }

    /// A budget skip of one unit: instances are skipped inside their group.
    async fn unit_skipped(&mut self, unit: Unit, reason: SkipReason) {
        let i = unit.index();
        self.emit(Event::NodeSkipped { unit, reason }).await;
        match unit.item {
            None => {
                self.state[i] = State::Skipped;
                let next = self.settle(i);
                for d in next.into_iter().rev() {
                    self.became_ready(d).await;
                }
            }
            Some(_) => {
                if let Some(g) = self.groups[i].as_mut() {
                    g.failed = true;
                    g.running -= 1;
                    g.finished += 1;
                }
                self.after_instance(i, false).await;
            }
        }
    }

    async fn finish_unit(&mut self, done: Done) {
        self.spent += done.cost;
        self.reserved = self.reserved - done.reserved;
        let i = done.unit.index();
        let prompt = done.prompt;
        match done.unit.item {
            None => {
                match done.result {
                    Ok(f) => {
                        self.state[i] = State::Done;
                        self.passed[i] = f.passed;
                        self.outputs[i] = Some(f.output.clone());
                        self.history.push(HistoryEntry { unit: done.unit, prompt, output: f.output });
                    }
                    Err(()) => {
                        self.state[i] = State::Failed;
                        self.any_failed = true;
                    }
                }
                let next = self.settle(i);
                for d in next.into_iter().rev() {
                    self.became_ready(d).await;
                }
            }
            Some(k) => {
                let ok = done.result.is_ok();
                if let Some(g) = self.groups[i].as_mut() {
                    g.running -= 1;
                    g.finished += 1;
                    match done.result {
                        Ok(f) => {
                            g.all_passed &= f.passed;
                            g.outputs[k as usize] = Some(f.output.clone());
                            self.history.push(HistoryEntry { unit: done.unit, prompt, output: f.output });
                        }
                        Err(()) => {
                            g.failed = true;
                            self.any_failed = true;
                        }
                    }
                }
                self.after_instance(i, ok).await;
            }
        }
    }

    /// An instance settled: start the next pending one, or settle the group.
    async fn after_instance(&mut self, i: usize, _ok: bool) {
        let rank = self.rank[i];
        let Some(g) = self.groups[i].as_mut() else { return };
        if let Some(k) = g.pending.pop_front() {
            g.running += 1;
            self.ready.push(Reverse((rank, i as u32, k)));
            return;
        }
        if g.finished < g.items.len() {
            return;
        }
        let failed = g.failed;
        let passed = g.all_passed;
        let joined: String = g.outputs.iter().flatten().map(|s| &**s).collect::<Vec<_>>().join("\n\n");
        if failed {
            self.state[i] = State::Failed;
            self.emit(Event::NodeFailed { unit: Unit::node(i), error: "an instance failed or was skipped".to_string() }).await;
        } else {
            self.state[i] = State::Done;
            self.passed[i] = passed;
            self.outputs[i] = Some(Arc::from(joined));
        }
        let next = self.settle(i);
        for d in next.into_iter().rev() {
            self.became_ready(d).await;
        }
    }
}

/// One unit's calls: retries, fallbacks and escalation, with every step reported.
struct Call<'a, S> {
    spec: &'a RunSpec,
    providers: &'a Providers,
    sink: &'a S,
    start: Instant,
    unit: Unit,
    decision: Arc<Decision>,
    parts: Arc<[(crate::event::Origin, Arc<str>)]>,
    input_tokens: u64,
    item: Option<(u32, Arc<str>)>,
    task: u64,
    reserved: Money,
    prompt: Arc<str>,
    /// An output to serve instead of calling.
    hit: Option<Served>,
    key: u64,
    health: HealthMap,
}

/// A failed call, and what the provider bills for it (`true`: a tokenizer estimate).
type CallFailure = (CallError, Option<(Usage, bool)>);

struct Answer {
    text: String,
    usage: Usage,
    estimated: bool,
    ttft: Duration,
}

impl<S: Sink> Call<'_, S> {
    fn emit(&self, kind: Event) -> impl Future<Output = ()> + '_ {
        self.emit_at(self.start.elapsed(), kind)
    }

    /// Emits with a time already read: reading the clock is not free (a paused clock takes a
    /// lock), so a moment read for a measurement is reused for its event.
    ///
    /// Not an `async fn`: the event goes to the sink before the future is returned, so a call
    /// waiting here holds only the sink's future (nothing, for a headless run) rather than a
    /// copy of the event at every place it emits.
    fn emit_at(&self, at: Duration, kind: Event) -> impl Future<Output = ()> + '_ {
        let ev = RunEvent { run: self.spec.run_id, attempt: self.spec.attempt, at, kind };
        // A closed channel means nobody is listening; the scheduler notices and stops.
        futures::FutureExt::map(self.sink.send(ev), drop)
    }

    async fn run(self) -> Done {
        let (cost, result) = self.drive().await;
        Done { unit: self.unit, cost, reserved: self.reserved, result, prompt: self.prompt }
    }

    async fn drive(&self) -> (Money, Result<Finished, ()>) {
        let spec = self.spec;
        let node = &spec.flow.nodes[self.unit.index()];
        if let Some(hit) = &self.hit {
            let checks: Vec<CheckResult> = node.checks.iter().map(|c| c.evaluate(&hit.output)).collect();
            let passed = checks.iter().all(|c| c.passed);
            self.emit(Event::NodeFinished {
                unit: self.unit,
                model: hit.model.clone(),
                usage: hit.usage,
                estimated: false,
                ttft: Duration::ZERO,
                latency: Duration::ZERO,
                output: hit.output.clone(),
                checks,
                cached: true,
            })
            .await;
            return (Money::ZERO, Ok(Finished { output: hit.output.clone(), passed }));
        }
        let retry = spec.strategy.retry;
        let started = self.start.elapsed();
        let mut candidate = next_candidate(&self.decision, 0);
        let mut cost = Money::ZERO;
        let mut last_error = String::from("no model could serve the node");
        'models: while let Some((k, model_id)) = candidate {
            // Move on up front: every way out of this model continues with the next one.
            candidate = next_candidate(&self.decision, k + 1);
            let next = candidate.map(|(_, m)| m);
            let Some(model_idx) = spec.catalog.index_of(model_id) else {
                last_error = format!("model '{model_id}' is not in the catalog");
                continue;
            };
            let model = &spec.catalog.models[model_idx];
            let need = self.input_tokens + u64::from(node.max_tokens);
            if need > u64::from(model.context_window) {
                last_error = format!(
                    "~{} input + {} output tokens exceed the {}-token window of {model_id}",
                    self.input_tokens, node.max_tokens, model.context_window
                );
                if let Some(to) = next {
                    self.emit(Event::NodeFallback {
                        unit: self.unit,
                        from: model_id.to_string(),
                        to: to.to_string(),
                        reason: last_error.clone(),
                    })
                    .await;
                }
                continue;
            }
            // A model that keeps failing rests; its fallbacks serve meanwhile (the last
            // candidate is tried all the same: better a tired model than none).
            let resting = self.health.lock().ok().and_then(|h| h.get(model_id).and_then(|x| x.until));
            let now = if resting.is_some() { self.start.elapsed() } else { Duration::ZERO };
            if let (Some(until), Some(to)) = (resting.filter(|u| *u > now), next) {
                last_error = format!("{model_id} is resting after repeated failures");
                self.emit(Event::NodeFallback {
                    unit: self.unit,
                    from: model_id.to_string(),
                    to: to.to_string(),
                    reason: format!("{model_id} is cooling down for another {:.1} s", (until - now).as_secs_f64()),
                })
                .await;
                continue;
            }
            let Some(provider) = self.providers.for_model(model) else {
                last_error = format!("no provider for '{}' models is configured", model.provider);
                if let Some(to) = next {
                    self.emit(Event::NodeFallback {
                        unit: self.unit,
                        from: model_id.to_string(),
                        to: to.to_string(),
                        reason: last_error.clone(),
                    })
                    .await;
                }
                continue;
            };
            for try_no in 1..=retry.max_attempts {
                let req = CallRequest {
                    catalog: spec.catalog.clone(),
                    model: model_idx,
                    flow: spec.flow.clone(),
                    node: self.unit.index(),
                    item: self.item.clone(),
                    parts: self.parts.clone(),
                    input_tokens: self.input_tokens,
                    max_tokens: node.max_tokens,
                    seed: spec.seed,
                    task: self.task,
                    try_no,
                };
                match self.call_once(provider.as_ref(), req).await {
                    Ok(answer) => {
                        self.healthy(model_id);
                        let checks: Vec<CheckResult> = node.checks.iter().map(|c| c.evaluate(&answer.text)).collect();
                        let passed = checks.iter().all(|c| c.passed);
                        let call_cost = model.cost(&answer.usage).total();
                        if !passed
                            && spec.strategy.escalate_on_failed_checks
                            && let Some(to) = next
                        {
                            cost += call_cost;
                            let failed = checks.iter().filter(|c| !c.passed).map(|c| c.check.clone()).collect();
                            self.emit(Event::NodeEscalated {
                                unit: self.unit,
                                from: model_id.to_string(),
                                to: to.to_string(),
                                usage: answer.usage,
                                failed,
                            })
                            .await;
                            continue 'models;
                        }
                        cost += call_cost;
                        let finished = self.start.elapsed();
                        let latency = finished.saturating_sub(started);
                        let output: Arc<str> = Arc::from(answer.text);
                        if let Some(store) = &spec.store {
                            let q = Query { node: &node.id, item: self.unit.item, model: model_id, key: self.key };
                            if model_id == self.decision.model {
                                store.put(&q, &Served { model: model_id.to_string(), usage: answer.usage, output: output.clone() });
                            }
                        }
                        self.emit_at(
                            finished,
                            Event::NodeFinished {
                                unit: self.unit,
                                model: model_id.to_string(),
                                usage: answer.usage,
                                estimated: answer.estimated,
                                ttft: answer.ttft,
                                latency,
                                output: output.clone(),
                                checks,
                                cached: false,
                            },
                        )
                        .await;
                        return (cost, Ok(Finished { output, passed }));
                    }
                    Err((e, billed)) => {
                        // What the provider bills for the failed try is the node's cost too:
                        // the run's total is what the invoice will say.
                        if let Some((usage, estimated)) = billed {
                            cost += model.cost(&usage).total();
                            self.emit(Event::NodeBilled { unit: self.unit, model: model_id.to_string(), usage, estimated }).await;
                        }
                        last_error = format!("{model_id}: {e}");
                        if e.retryable() && try_no < retry.max_attempts {
                            let backoff = self.backoff(&e, try_no, model_id);
                            self.emit(Event::NodeRetry {
                                unit: self.unit,
                                model: model_id.to_string(),
                                try_no,
                                error: e.message.clone(),
                                backoff,
                            })
                            .await;
                            tokio::time::sleep(backoff).await;
                            continue;
                        }
                        if e.retryable() || e.kind == ErrorKind::Auth {
                            self.failed(model_id, model.provider, &e).await;
                        }
                        if let Some(to) = next {
                            let why = if e.retryable() { format!("{} tries failed; last: {e}", try_no) } else { e.message.clone() };
                            self.emit(Event::NodeFallback { unit: self.unit, from: model_id.to_string(), to: to.to_string(), reason: why })
                                .await;
                        }
                        continue 'models;
                    }
                }
            }
        }
        self.emit(Event::NodeFailed { unit: self.unit, error: last_error }).await;
        (cost, Err(()))
    }

    fn healthy(&self, model: &str) {
        if let Ok(mut h) = self.health.lock() {
            // Nearly always empty: only failures put a model here.
            if !h.is_empty() {
                h.remove(model);
            }
        }
    }

    /// A model gave up on a call: count it, and rest the model when it keeps failing.
    async fn failed(&self, model: &str, provider: crate::routing::ProviderKind, e: &CallError) {
        let limits = self.spec.catalog.limits(provider);
        let now = self.start.elapsed();
        let rest = self.health.lock().ok().and_then(|mut h| {
            let entry = h.entry(model.to_string()).or_default();
            entry.failures += 1;
            if entry.failures >= limits.cooldown_after && entry.until.is_none_or(|u| u <= now) {
                entry.until = Some(now + limits.cooldown);
                entry.failures = 0;
                entry.until
            } else {
                None
            }
        });
        if let Some(until) = rest {
            let reason = format!("{} calls in a row failed (last: {e})", limits.cooldown_after);
            self.emit(Event::ModelCooldown { model: model.to_string(), until, reason }).await;
        }
    }

    /// Exponential backoff with jitter, never shorter than the server's Retry-After. The jitter
    /// is seeded so simulated runs stay reproducible.
    fn backoff(&self, e: &CallError, try_no: u32, model: &str) -> Duration {
        let r = self.spec.strategy.retry;
        let exp = r.backoff.saturating_mul(1u32 << (try_no - 1).min(16)).min(r.max_backoff);
        let item = self.unit.item.map_or(0, |k| u64::from(k) + 1);
        let mut rng = Rng::keyed(&[self.spec.seed, self.task, u64::from(self.unit.node), item, hash_str(model), u64::from(try_no)]);
        let jittered = exp.mul_f64(0.5 + 0.5 * rng.next_f64());
        jittered.max(e.retry_after.unwrap_or(Duration::ZERO))
    }

    /// One call: stream it, timing the first token and policing the gaps. A failure comes with
    /// what the provider will bill for it: its reported usage, else (when tokens streamed) the
    /// tokenizer's estimate of the prompt and the streamed output.
    async fn call_once(&self, provider: &dyn crate::provider::Provider, req: CallRequest) -> Result<Answer, CallFailure> {
        let retry = self.spec.strategy.retry;
        let deltas = self.spec.options.deltas;
        let input_tokens = req.input_tokens;
        let mut t0 = Instant::now();
        let mut call_deadline = t0 + retry.total_timeout;
        let mut stream = provider.call(req);
        let mut text = String::new();
        let mut streamed: u64 = 0;
        let mut ttft = None;
        let mut usage = None;
        // Waiting for a provider's slot: no timeout runs until the request is sent.
        let mut waiting: Option<Instant> = None;
        let billed = |e: CallError, ttft: Option<Duration>, text: &str| -> CallFailure {
            let usage = e.usage.map(|u| (u, false)).or_else(|| {
                ttft.map(|_| (Usage { input: input_tokens, output: u64::from(crate::tokens::count(text)), ..Usage::default() }, true))
            });
            (e, usage)
        };
        loop {
            let limit = if ttft.is_none() { retry.first_token_timeout } else { retry.idle_timeout };
            // Most chunks are already there; only arm a timer when we would have to wait. The
            // whole call's limit is folded into the same timer rather than a second one.
            let next = match futures::FutureExt::now_or_never(stream.next()) {
                Some(next) => next,
                None if waiting.is_some() => stream.next().await,
                None => {
                    let gap_deadline = Instant::now() + limit;
                    let deadline = gap_deadline.min(call_deadline);
                    match tokio::time::timeout_at(deadline, stream.next()).await {
                        Ok(next) => next,
                        Err(_) if call_deadline < gap_deadline => {
                            let total = retry.total_timeout.as_secs_f64();
                            let e = CallError::new(ErrorKind::Timeout, format!("the call took longer than {total:.1} s"));
                            return Err(billed(e, ttft, &text));
                        }
                        Err(_) => {
                            let what = if ttft.is_none() { "no first token" } else { "no data" };
                            let e = CallError::new(ErrorKind::Timeout, format!("{what} for {:.1} s", limit.as_secs_f64()));
                            return Err(billed(e, ttft, &text));
                        }
                    }
                }
            };
            match next {
                None => break,
                Some(Err(e)) => return Err(billed(e, ttft, &text)),
                Some(Ok(Chunk::Usage(u))) => usage = Some(u),
                Some(Ok(Chunk::Waiting { why })) => {
                    if waiting.is_none() {
                        waiting = Some(Instant::now());
                        self.emit(Event::NodeWaiting { unit: self.unit, why }).await;
                    }
                }
                Some(Ok(Chunk::Sent)) => {
                    // The call's clocks start now; time spent queued is the node's, not the call's.
                    t0 = Instant::now();
                    call_deadline = t0 + retry.total_timeout;
                    if let Some(since) = waiting.take() {
                        self.emit_at(t0 - self.start, Event::NodeSent { unit: self.unit, queued: t0 - since }).await;
                    }
                }
                Some(Ok(Chunk::Text { text: piece, tokens })) => {
                    // One clock read serves both the first token's time and its event's; a
                    // later chunk nobody streams needs none.
                    let now = (ttft.is_none() || deltas).then(Instant::now);
                    if ttft.is_none() {
                        ttft = now.map(|n| n - t0);
                    }
                    streamed += u64::from(tokens.unwrap_or_else(|| crate::tokens::count(&piece)));
                    // Grow by a quarter rather than double: thousands of calls can be
                    // mid-stream at once, and each one's slack adds up.
                    if text.capacity() - text.len() < piece.len() {
                        text.reserve_exact(piece.len().max(text.len() / 4));
                    }
                    text.push_str(&piece);
                    if let (true, Some(now)) = (deltas, now) {
                        self.emit_at(now - self.start, Event::NodeDelta { unit: self.unit, text: piece, output_tokens: streamed }).await;
                    }
                }
            }
        }
        let (usage, estimated) = match usage {
            Some(u) => (u, false),
            None => (Usage { input: input_tokens, output: u64::from(crate::tokens::count(&text)), ..Usage::default() }, true),
        };
        Ok(Answer { ttft: ttft.unwrap_or_else(|| t0.elapsed()), text, usage, estimated })
    }
}

/// The models a unit may try, in order: the decided one (position 0), then each fallback not
/// already tried. Returns the first candidate at position `from` or later.
fn next_candidate(d: &Decision, from: usize) -> Option<(usize, &str)> {
    (from..=d.fallbacks.len()).find_map(|k| {
        if k == 0 {
            return Some((0, d.model.as_str()));
        }
        let f = &d.fallbacks[k - 1];
        (*f != d.model && !d.fallbacks[..k - 1].contains(f)).then_some((k, f.as_str()))
    })
}

/// The content key of a call: what must be equal for an earlier output to stand in for it.
/// FNV-1a over tagged fields, stable across processes and releases (the disk cache keys on it).
fn content_key(
    spec: &RunSpec,
    node: usize,
    model: &str,
    texts: &[(crate::event::Origin, Arc<str>)],
    simulated: bool,
    task: u64,
    item: Option<u32>,
) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes.iter().chain(&[0xff]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(b"baton-call-v1");
    feed(model.as_bytes());
    feed(&spec.flow.nodes[node].max_tokens.to_le_bytes());
    for (_, t) in texts {
        feed(t.as_bytes());
    }
    if simulated {
        // The simulator's answer also depends on the seed, the run's input, and which node and
        // item is asking.
        feed(&spec.seed.to_le_bytes());
        feed(&task.to_le_bytes());
        feed(spec.flow.nodes[node].id.as_bytes());
        feed(&item.map_or(u64::MAX, u64::from).to_le_bytes());
    }
    h
}

/// Runs a flow on a current-thread runtime with a paused clock: simulated seconds cost no wall
/// time, and every reported time is the simulated one. Events go to `on_event` as they come.
pub fn run_virtual(spec: &RunSpec, providers: &Providers, on_event: impl FnMut(RunEvent)) -> std::io::Result<Outcome> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build()?;
    Ok(rt.block_on(run_collect(spec, providers, CancellationToken::new(), on_event)))
}

/// Runs a flow to the end on this thread: on a paused clock when every model is simulated,
/// in real time when any real provider is involved (a paused clock would fire timeouts while
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
    let rt = if providers.is_simulated() {
        tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build()?
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    };
    Ok(rt.block_on(run_collect(spec, providers, cancel, on_event)))
}

/// Runs the engine and hands each event to `on_event` on the same task.
pub async fn run_collect(spec: &RunSpec, providers: &Providers, cancel: CancellationToken, on_event: impl FnMut(RunEvent)) -> Outcome {
    execute(spec, providers, &Inline(std::cell::RefCell::new(on_event)), cancel).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(model: &str, fallbacks: &[&str]) -> Decision {
        Decision {
            rule: None,
            rule_label: "default".into(),
            reason: "test".into(),
            model: model.to_string(),
            fallbacks: fallbacks.iter().map(|f| f.to_string()).collect(),
            input_tokens: 0,
        }
    }

    fn candidates(d: &Decision) -> Vec<&str> {
        let mut out = Vec::new();
        let mut c = next_candidate(d, 0);
        while let Some((k, m)) = c {
            out.push(m);
            c = next_candidate(d, k + 1);
        }
        out
    }

    #[test]
    fn candidates_are_the_model_then_new_fallbacks_in_order() {
        assert_eq!(candidates(&decision("a", &[])), ["a"]);
        assert_eq!(candidates(&decision("a", &["b", "c"])), ["a", "b", "c"]);
        // Repeats of the model or of an earlier fallback are tried once.
        assert_eq!(candidates(&decision("a", &["a", "b", "b", "c", "a"])), ["a", "b", "c"]);
    }
}
