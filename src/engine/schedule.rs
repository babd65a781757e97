//! Scheduling: the one task that owns a run's state (which nodes wait for what, what is ready,
//! what runs, what has been spent), starts ready work in topological order within the
//! strategy's limit and budget, and settles each unit when its call hands back a [`Done`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio_util::sync::CancellationToken;

use super::RunSpec;
use super::call::{Call, Done};
use super::context::{DeclaredCounts, HistoryEntry, build_context};
use super::decisions::Decisions;
use super::health::Health;
use super::sink::Sink;
use super::store::{Query, content_key};
use super::vtime::Start;
use crate::event::{Event, Outcome, RunEvent, SkipReason, Unit};
use crate::flow::list_items;
use crate::money::Money;
use crate::provider::Providers;
use crate::provider::rng::hash_str;

/// Where a node is in the schedule.
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

/// The scheduler's state, owned by the one task running [`execute`].
struct Exec<'a, S> {
    spec: &'a RunSpec,
    providers: &'a Providers,
    sink: &'a S,
    clock: &'a Start,
    task: u64,
    rank: Vec<u32>,
    remaining: Vec<usize>,
    state: Vec<State>,
    outputs: Vec<Option<Arc<str>>>,
    passed: Vec<bool>,
    /// Boxed: most nodes are not fan-outs, and an empty group inline was 104 bytes a node.
    groups: Vec<Option<Box<Group>>>,
    ready: BinaryHeap<Reverse<(u32, u32, u32)>>,
    running: usize,
    limit: usize,
    spent: Money,
    reserved: Money,
    budget_hit: bool,
    any_failed: bool,
    /// Every finished unit's prompt and output, in order: only the full context mode reads it.
    history: Vec<HistoryEntry>,
    keep_history: bool,
    declared: DeclaredCounts,
    /// Equal decisions share one copy.
    decisions: Decisions,
    closed: bool,
    health: &'a Health,
    /// Nodes whose dependencies have all settled, not yet looked at (a stack, reused so that
    /// settling a node allocates nothing).
    work: Vec<usize>,
}

/// Runs a flow to the end, or until `cancel` fires or nobody listens, handing every event to
/// `sink`. Returns how the run ended.
pub(super) async fn execute<S: Sink>(spec: &RunSpec, providers: &Providers, sink: &S, cancel: CancellationToken) -> Outcome {
    // Every time the run reports or waits for is measured from here.
    let clock = Start::now();
    let health = Health::default();
    run_on(spec, providers, sink, cancel, &clock, &health).await
}

async fn run_on<S: Sink>(
    spec: &RunSpec,
    providers: &Providers,
    sink: &S,
    cancel: CancellationToken,
    clock: &Start,
    health: &Health,
) -> Outcome {
    let flow = &spec.flow;
    let n = flow.nodes.len();
    let mut ex = Exec {
        spec,
        providers,
        sink,
        clock,
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
        keep_history: spec.strategy.context == crate::routing::ContextMode::Full,
        declared: DeclaredCounts::new(n),
        decisions: Decisions::default(),
        closed: false,
        health,
        work: Vec::new(),
    };
    ex.emit(Event::RunStarted {
        flow: flow.name.clone(),
        strategy: spec.strategy.name.clone(),
        seed: spec.seed,
        input: spec.input.clone(),
    });
    for i in 0..n {
        ex.emit(Event::NodeQueued { unit: Unit::node(i) });
        ex.flush().await;
    }
    let mut roots: Vec<usize> = (0..n).filter(|&i| flow.nodes[i].after.is_empty()).collect();
    roots.reverse();
    ex.became_ready(roots);

    let mut inflight = FuturesUnordered::new();
    // One wait for the cancellation, for the whole run: a new one each time round the loop
    // took the token's lock twice a wake-up (3% of a re-priced run, perf).
    let stop = cancel.cancelled();
    tokio::pin!(stop);
    let cancelled = loop {
        while ex.running < ex.limit && !ex.closed {
            let Some(Reverse((_, node, item))) = ex.ready.pop() else { break };
            let unit = if item == u32::MAX { Unit::node(node as usize) } else { Unit::instance(node as usize, item as usize) };
            if let Some(call) = ex.start_unit(unit) {
                // Poll the unit's calls once right here, where they were made: an answer that is
                // already there (a cache hit, a zero-latency model) is settled without a trip
                // through the in-flight set. Anything that has to wait is moved there (the
                // future holds no reference into itself) and re-registers its waker when the
                // set polls it.
                let mut run = call.run();
                match Pin::new(&mut run).poll(&mut Context::from_waker(Waker::noop())) {
                    Poll::Ready(done) => ex.finish_unit(done),
                    Poll::Pending => {
                        ex.running += 1;
                        inflight.push(run);
                    }
                }
            }
            ex.flush().await;
        }
        if inflight.is_empty() || ex.closed {
            break ex.closed;
        }
        // The next call to finish; or, when the calls polled meanwhile left events waiting in
        // the sink, none yet: those go out first, before anything waits.
        let sink = ex.sink;
        let woke = std::future::poll_fn(|cx| match inflight.poll_next_unpin(cx) {
            Poll::Pending if sink.pending() => Poll::Ready(None),
            next => next,
        });
        tokio::select! {
            biased;
            _ = &mut stop => break true,
            done = woke => {
                if let Some(done) = done {
                    ex.running -= 1;
                    ex.finish_unit(done);
                }
                ex.flush().await;
            }
        }
    };
    drop(inflight);

    let outcome = if cancelled {
        for i in 0..n {
            if matches!(ex.state[i], State::Waiting | State::Running) {
                ex.state[i] = State::Skipped;
                ex.emit(Event::NodeSkipped { unit: Unit::node(i), reason: SkipReason::Cancelled });
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
    ex.emit(Event::RunFinished { outcome });
    ex.flush().await;
    outcome
}

impl<'a, S: Sink> Exec<'a, S> {
    fn now(&self) -> Duration {
        self.clock.elapsed()
    }

    /// Hands the event to the sink: never a wait (see `sink`).
    #[inline(always)]
    fn emit(&mut self, kind: Event) {
        if !self.closed && !self.sink.send(RunEvent { run: self.spec.run_id, attempt: self.spec.attempt, at: self.now(), kind }) {
            self.closed = true;
        }
    }

    /// Hands over the events waiting in the sink (a channel's), waiting for room.
    async fn flush(&mut self) {
        if self.sink.pending() && !self.sink.flush().await {
            self.closed = true;
        }
    }

    /// Node `i` settled: every dependent that no longer waits is skipped, expanded or queued.
    fn settled(&mut self, i: usize) {
        let mut work = std::mem::take(&mut self.work);
        self.settle(i, &mut work);
        self.became_ready(work);
    }

    /// All of these nodes' dependencies have settled (`work` is a stack: the last is looked at
    /// first): skip each, expand it, or queue it. A skip settles its dependents in turn, which
    /// are looked at before the rest of `work`.
    fn became_ready(&mut self, mut work: Vec<usize>) {
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
                self.emit(Event::NodeSkipped { unit: Unit::node(i), reason });
                self.settle(i, &mut work);
                continue;
            }
            match &node.map {
                None => self.ready.push(Reverse((self.rank[i], i as u32, u32::MAX))),
                Some(m) => {
                    let source = self.outputs[m.over].clone().unwrap_or_default();
                    let mut items = list_items(&source);
                    let dropped = items.len().saturating_sub(m.max_items);
                    items.truncate(m.max_items);
                    self.emit(Event::NodeExpanded { node: i as u32, items: items.clone(), dropped: dropped as u32 });
                    if items.is_empty() {
                        self.state[i] = State::Skipped;
                        self.emit(Event::NodeSkipped { unit: Unit::node(i), reason: SkipReason::NoItems });
                        self.settle(i, &mut work);
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
                    self.groups[i] = Some(Box::new(g));
                }
            }
        }
        self.work = work;
    }

    /// A node reached Done, Skipped or Failed: pushes the dependents that are now ready onto
    /// the `work` stack, last first, so that it pops them in file order.
    fn settle(&mut self, i: usize, work: &mut Vec<usize>) {
        let from = work.len();
        for &d in &self.spec.flow.dependents[i] {
            self.remaining[d] -= 1;
            if self.remaining[d] == 0 {
                work.push(d);
            }
        }
        work[from..].reverse();
    }

    /// Builds the unit's input, routes it, checks the budget and returns what its calls need.
    fn start_unit(&mut self, unit: Unit) -> Option<Call<'a, S>> {
        let spec = self.spec;
        let i = unit.index();
        let node = &spec.flow.nodes[i];
        let item = unit.item.and_then(|k| self.groups[i].as_ref().map(|g| (k, g.items[k as usize].clone())));
        let item_text = item.as_ref().map(|(_, t)| &**t);
        let ctx = build_context(spec, i, item_text, &self.outputs, &self.history, &mut self.declared, self.keep_history);
        let input_tokens: u64 = ctx.parts.iter().map(|p| p.tokens).sum();
        let decision = self.decisions.route(&spec.strategy, node, input_tokens);
        let model_index = self.decisions.model_index(&spec.catalog, &decision);
        // The content key is only needed to look up or keep outputs.
        let key = if spec.store.is_some() {
            content_key(spec, i, &decision.model, &ctx.texts, self.providers.is_simulated(), self.task, unit.item)
        } else {
            0
        };
        let hit =
            spec.store.as_ref().and_then(|s| s.get(&Query { node: &node.id, item: unit.item, model: &decision.model, key })).map(Box::new);

        // Reserved against the budget only.
        let estimate = if hit.is_some() || spec.strategy.budget.is_none() {
            Money::ZERO
        } else {
            model_index
                .map(|k| &spec.catalog.models[k])
                .map_or(Money::ZERO, |m| m.prices.input.cost(input_tokens) + m.prices.output.cost(u64::from(node.expected_tokens)))
        };
        if let Some(budget) = spec.strategy.budget
            && (self.budget_hit || self.spent + self.reserved + estimate > budget)
        {
            self.budget_hit = true;
            let reason = SkipReason::Budget { spent: self.spent + self.reserved, estimate, budget };
            self.unit_skipped(unit, reason);
            return None;
        }
        self.reserved += estimate;
        if unit.item.is_none() {
            self.state[i] = State::Running;
        }
        self.emit(Event::NodeStarted { unit, decision: decision.clone(), context: ctx.parts, input_tokens });
        let prompt = ctx.prompt;

        Some(Call {
            spec,
            providers: self.providers,
            sink: self.sink,
            clock: self.clock,
            unit,
            decision,
            model_index,
            parts: ctx.texts,
            input_tokens,
            item,
            task: self.task,
            reserved: estimate,
            prompt,
            hit,
            key,
            health: self.health,
        })
    }

    /// A budget skip of one unit: instances are skipped inside their group.
    fn unit_skipped(&mut self, unit: Unit, reason: SkipReason) {
        let i = unit.index();
        self.emit(Event::NodeSkipped { unit, reason });
        match unit.item {
            None => {
                self.state[i] = State::Skipped;
                self.settled(i);
            }
            Some(_) => {
                if let Some(g) = self.groups[i].as_mut() {
                    g.failed = true;
                    g.running -= 1;
                    g.finished += 1;
                }
                self.after_instance(i, false);
            }
        }
    }

    fn finish_unit(&mut self, done: Done) {
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
                        if let Some(prompt) = prompt {
                            self.history.push(HistoryEntry { unit: done.unit, prompt, output: f.output.clone() });
                        }
                        self.outputs[i] = Some(f.output);
                    }
                    Err(()) => {
                        self.state[i] = State::Failed;
                        self.any_failed = true;
                    }
                }
                self.settled(i);
            }
            Some(k) => {
                let ok = done.result.is_ok();
                if let Some(g) = self.groups[i].as_mut() {
                    g.running -= 1;
                    g.finished += 1;
                    match done.result {
                        Ok(f) => {
                            g.all_passed &= f.passed;
                            if let Some(prompt) = prompt {
                                self.history.push(HistoryEntry { unit: done.unit, prompt, output: f.output.clone() });
                            }
                            g.outputs[k as usize] = Some(f.output);
                        }
                        Err(()) => {
                            g.failed = true;
                            self.any_failed = true;
                        }
                    }
                }
                self.after_instance(i, ok);
            }
        }
    }

    /// An instance settled: start the next pending one, or settle the group.
    fn after_instance(&mut self, i: usize, _ok: bool) {
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
            self.emit(Event::NodeFailed { unit: Unit::node(i), error: "an instance failed or was skipped".to_string() });
        } else {
            self.state[i] = State::Done;
            self.passed[i] = passed;
            self.outputs[i] = Some(Arc::from(joined));
        }
        self.settled(i);
    }
}
