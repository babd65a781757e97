//! One unit's tries, to their end: the candidates in order, each one's tries with their
//! backoff, escalation when checks fail, billing of every try.
//!
//! Written out by hand as a [`Future`] rather than as an `async fn`: it holds no reference
//! into itself, so the scheduler polls it first where it was made and moves it into the
//! in-flight set only if it has to wait. A cache hit or an instant model is then settled with
//! no allocation for its future. (The compiler's state machine for the same code was 776 bytes,
//! copied into two boxes a call; `perf` put those copies at a tenth of a simulated node.)
//! Emitting never waits (see `sink`), so the only waits are a try's stream, its timer and a
//! backoff.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::attempt::{Answer, Attempt, Failure};
use super::call::{Call, Done, Finished, candidate_at, next_candidate};
use super::sink::Sink;
use super::store::{Query, Served};
use super::vtime::{self, Sleep};
use crate::event::Event;
use crate::flow::CheckResult;
use crate::money::Money;
use crate::provider::{CallRequest, ErrorKind, Provider};

/// One unit's calls, to their end: a [`Future`] for [`Done`].
pub(super) struct Tries<'a, S> {
    call: Call<'a, S>,
    /// Billed cost of every try so far.
    cost: Money,
    /// When the calls began, for the latency.
    started: Duration,
    /// Why the last candidate could not serve, once one could not.
    last_error: Option<String>,
    /// The next candidate to look at (a position among the decision's models).
    candidate: Option<usize>,
    /// The candidate being tried (its position among the decision's models).
    at: usize,
    /// Its catalog index.
    model: usize,
    step: Step<'a>,
}

/// Where a unit's calls are.
#[expect(clippy::large_enum_variant, reason = "one a unit, inline in its future: a boxed try would be an allocation a try")]
enum Step<'a> {
    /// Not begun: a served output, or the first candidate.
    Begin,
    /// The next candidate is to be looked at.
    Model,
    /// A try of the current candidate is under way.
    Try { try_no: u32, attempt: Attempt, provider: &'a dyn Provider },
    /// Waiting before a try.
    Backoff { try_no: u32, sleep: Sleep, provider: &'a dyn Provider },
    /// Handed back.
    Over,
}

impl<'a, S: Sink> Call<'a, S> {
    /// The unit's calls, as a future that has not begun.
    pub(super) fn run(self) -> Tries<'a, S> {
        Tries {
            call: self,
            cost: Money::ZERO,
            started: Duration::ZERO,
            last_error: None,
            candidate: None,
            at: 0,
            model: 0,
            step: Step::Begin,
        }
    }

    /// Serves a stored output: its events, and the unit's result.
    fn serve(&self, hit: &Served) -> Result<Finished, ()> {
        let node = &self.spec.flow.nodes[self.unit.index()];
        if let Some((billed, ttft, latency)) = hit.resumed {
            self.emit(Event::NodeResumed { unit: self.unit, billed, ttft, latency });
        }
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
            unreported: false,
        });
        Ok(Finished { output: hit.output.clone(), passed })
    }
}

impl<'a, S: Sink> Future for Tries<'a, S> {
    type Output = Done;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Done> {
        let run = self.get_mut();
        loop {
            let result = match &mut run.step {
                Step::Begin => match &run.call.hit {
                    Some(hit) => run.call.serve(hit),
                    None => {
                        run.started = run.call.clock.elapsed();
                        run.candidate = next_candidate(&run.call.decision, 0);
                        run.step = Step::Model;
                        continue;
                    }
                },
                Step::Model => match run.candidate {
                    Some(k) => {
                        run.next_model(k);
                        continue;
                    }
                    None => {
                        let error = run.last_error.take().unwrap_or_else(|| "no model could serve the node".to_string());
                        run.call.emit(Event::NodeFailed { unit: run.call.unit, error });
                        Err(())
                    }
                },
                Step::Try { try_no, attempt, provider } => {
                    let (try_no, provider) = (*try_no, *provider);
                    match attempt.poll(&run.call, cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(answer)) => match run.answered(answer) {
                            Some(result) => result,
                            None => continue,
                        },
                        Poll::Ready(Err(failure)) => {
                            run.failed(try_no, provider, failure);
                            continue;
                        }
                    }
                }
                Step::Backoff { try_no, sleep, provider } => {
                    if Pin::new(sleep).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    let (try_no, provider) = (*try_no, *provider);
                    run.try_model(try_no, provider);
                    continue;
                }
                // Neither the scheduler nor the in-flight set polls a finished unit again; if
                // something did, it would get nothing rather than a second result (and no panic).
                Step::Over => return Poll::Pending,
            };
            run.step = Step::Over;
            let call = &mut run.call;
            return Poll::Ready(Done { unit: call.unit, cost: run.cost, reserved: call.reserved, result, prompt: call.prompt.take() });
        }
    }
}

impl<'a, S: Sink> Tries<'a, S> {
    /// Looks at candidate `k`: tries it, or reports why not and leaves the next to be looked at.
    fn next_model(&mut self, k: usize) {
        let call = &self.call;
        let spec = call.spec;
        let node = &spec.flow.nodes[call.unit.index()];
        // Move on up front: every way out of this model continues with the next one.
        self.candidate = next_candidate(&call.decision, k + 1);
        let next = self.candidate.map(|k| candidate_at(&call.decision, k));
        let model_id = candidate_at(&call.decision, k);
        let index = if k == 0 { call.model_index } else { spec.catalog.index_of(model_id) };
        let Some(model_idx) = index else {
            self.last_error = Some(format!("model '{model_id}' is not in the catalog"));
            return;
        };
        let model = &spec.catalog.models[model_idx];
        let need = call.input_tokens + u64::from(node.max_tokens);
        if need > u64::from(model.context_window) {
            let why = format!(
                "~{} input + {} output tokens exceed the {}-token window of {model_id}",
                call.input_tokens, node.max_tokens, model.context_window
            );
            call.fall_back(model_id, next, why.clone());
            self.last_error = Some(why);
            return;
        }
        // A model that keeps failing rests; its fallbacks serve meanwhile (the last
        // candidate is tried all the same: better a tired model than none).
        let resting = call.health.resting_until(model_id);
        let now = if resting.is_some() { call.clock.elapsed() } else { Duration::ZERO };
        if let (Some(until), Some(_)) = (resting.filter(|u| *u > now), next) {
            self.last_error = Some(format!("{model_id} is resting after repeated failures"));
            let reason = format!("{model_id} is cooling down for another {:.1} s", (until - now).as_secs_f64());
            call.fall_back(model_id, next, reason);
            return;
        }
        let Some(provider) = call.providers.for_model(model) else {
            let why = format!("no provider for '{}' models is configured", model.provider);
            call.fall_back(model_id, next, why.clone());
            self.last_error = Some(why);
            return;
        };
        self.at = k;
        self.model = model_idx;
        if spec.strategy.retry.max_attempts >= 1 {
            self.try_model(1, provider.as_ref());
        }
    }

    /// Starts try `try_no` of the current candidate.
    fn try_model(&mut self, try_no: u32, provider: &'a dyn Provider) {
        let call = &self.call;
        let spec = call.spec;
        let node = &spec.flow.nodes[call.unit.index()];
        let req = CallRequest {
            catalog: &spec.catalog,
            model: self.model,
            flow: &spec.flow,
            node: call.unit.index(),
            item: call.item.as_ref().map(|(k, t)| (*k, t)),
            parts: &call.parts,
            input_tokens: call.input_tokens,
            max_tokens: node.max_tokens,
            seed: spec.seed,
            task: call.task,
            try_no,
        };
        self.step = Step::Try { try_no, attempt: Attempt::start(call, provider, req), provider };
    }

    /// The current candidate answered: the unit's result, or `None` when the answer failed its
    /// checks and the unit escalates to the next candidate.
    fn answered(&mut self, answer: Answer) -> Option<Result<Finished, ()>> {
        let call = &self.call;
        let spec = call.spec;
        let node = &spec.flow.nodes[call.unit.index()];
        let model = &spec.catalog.models[self.model];
        let model_id = candidate_at(&call.decision, self.at);
        call.health.healthy(model_id);
        let checks: Vec<CheckResult> = node.checks.iter().map(|c| c.evaluate(&answer.text)).collect();
        let passed = checks.iter().all(|c| c.passed);
        self.cost += model.cost(&answer.usage).total();
        if !passed
            && spec.strategy.escalate_on_failed_checks
            && let Some(to) = self.candidate.map(|k| candidate_at(&call.decision, k))
        {
            let failed = checks.iter().filter(|c| !c.passed).map(|c| c.check.clone()).collect();
            call.emit(Event::NodeEscalated {
                unit: call.unit,
                from: model_id.to_string(),
                to: to.to_string(),
                usage: answer.usage,
                failed,
            });
            self.step = Step::Model;
            return None;
        }
        let finished = call.clock.elapsed();
        let latency = finished.saturating_sub(self.started);
        let output: Arc<str> = Arc::from(answer.text);
        if let Some(store) = &spec.store
            && model_id == call.decision.model
        {
            let q = Query { node: &node.id, item: call.unit.item, model: model_id, key: call.key };
            store.put(&q, &Served { model: model.id.clone(), usage: answer.usage, output: output.clone(), resumed: None });
        }
        call.emit_at(
            finished,
            Event::NodeFinished {
                unit: call.unit,
                model: model.id.clone(),
                usage: answer.usage,
                estimated: answer.estimated,
                ttft: answer.ttft,
                latency,
                output: output.clone(),
                checks,
                cached: false,
                unreported: false,
            },
        );
        Some(Ok(Finished { output, passed }))
    }

    /// Try `try_no` of the current candidate failed: bill it, then try again after a backoff,
    /// or leave the next candidate to be looked at.
    fn failed(&mut self, try_no: u32, provider: &'a dyn Provider, (e, billed): Failure) {
        let call = &self.call;
        let model = &call.spec.catalog.models[self.model];
        let model_id = candidate_at(&call.decision, self.at);
        // What the provider bills for the failed try is the node's cost too: the run's total
        // is what the invoice will say.
        if let Some((usage, estimated)) = billed {
            self.cost += model.cost(&usage).total();
            call.emit(Event::NodeBilled { unit: call.unit, model: model_id.to_string(), usage, estimated });
        }
        self.last_error = Some(format!("{model_id}: {e}"));
        if e.retryable() && try_no < call.spec.strategy.retry.max_attempts {
            let backoff = call.backoff(&e, try_no, model_id);
            call.emit(Event::NodeRetry { unit: call.unit, model: model_id.to_string(), try_no, error: e.message.clone(), backoff });
            self.step = Step::Backoff { try_no: try_no + 1, sleep: vtime::sleep(backoff), provider };
            return;
        }
        if e.retryable() || e.kind == ErrorKind::Auth {
            call.gave_up(model_id, model.provider, &e);
        }
        let why = if e.retryable() { format!("{try_no} tries failed; last: {e}") } else { e.message.clone() };
        let next = self.candidate.map(|k| candidate_at(&call.decision, k));
        call.fall_back(model_id, next, why);
        self.step = Step::Model;
    }
}
