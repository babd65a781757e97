//! One unit's calls: the model it was routed to, then its fallbacks; each model's tries with
//! their timeouts and backoff; escalation when checks fail; billing of every try. Everything
//! that happens is reported as an event.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::RunSpec;
use super::health::Health;
use super::sink::Sink;
use super::store::{Query, Served};
use super::vtime::{self, Start};
use crate::event::{Event, Exchange, Origin, RunEvent, Unit};
use crate::flow::CheckResult;
use crate::money::Money;
use crate::provider::rng::{Rng, hash_str};
use crate::provider::{CallError, CallRequest, Chunk, ErrorKind, Providers, Response};
use crate::routing::{Decision, Usage};
use futures::StreamExt;

/// What a finished unit hands back to the scheduler.
pub(super) struct Done {
    pub(super) unit: Unit,
    /// Billed cost of every call the unit made.
    pub(super) cost: Money,
    /// The estimate reserved against the budget when it started.
    pub(super) reserved: Money,
    pub(super) result: Result<Finished, ()>,
    /// The rendered prompt, for later nodes' history (kept only in the full-history mode).
    pub(super) prompt: Option<Arc<str>>,
}

/// A unit's kept output, and whether its checks passed.
pub(super) struct Finished {
    pub(super) output: Arc<str>,
    pub(super) passed: bool,
}

/// One unit's calls: retries, fallbacks and escalation, with every step reported.
pub(super) struct Call<'a, S> {
    pub(super) spec: &'a RunSpec,
    pub(super) providers: &'a Providers,
    pub(super) sink: &'a S,
    /// The run's clock: its start, on virtual or real time.
    pub(super) clock: &'a Start,
    pub(super) unit: Unit,
    pub(super) decision: Arc<Decision>,
    pub(super) parts: Arc<[(Origin, Arc<str>)]>,
    pub(super) input_tokens: u64,
    pub(super) item: Option<(u32, Arc<str>)>,
    pub(super) task: u64,
    pub(super) reserved: Money,
    pub(super) prompt: Option<Arc<str>>,
    /// An output to serve instead of calling (boxed: most calls have none, and the call is
    /// moved into its future's box whole).
    pub(super) hit: Option<Box<Served>>,
    pub(super) key: u64,
    pub(super) health: &'a Health,
}

/// One try's request body and, once it came, its response (HTTP providers only). Boxed: most
/// calls are simulated and never have one, and thousands of calls can be in flight.
type Wire = (String, Option<Box<Response>>);

/// A failed call, and what the provider bills for it (`true`: a tokenizer estimate).
type CallFailure = (CallError, Option<(Usage, bool)>);

struct Answer {
    text: String,
    usage: Usage,
    estimated: bool,
    ttft: Duration,
}

impl<'a, S: Sink> Call<'a, S> {
    fn emit(&self, kind: Event) -> impl Future<Output = ()> + '_ {
        self.emit_at(self.clock.elapsed(), kind)
    }

    /// This unit's event at `at`, as every emit makes it.
    #[inline(always)]
    fn event(&self, at: Duration, kind: Event) -> RunEvent {
        RunEvent { run: self.spec.run_id, attempt: self.spec.attempt, at, kind }
    }

    /// Emits with a time already read, so a moment read for a measurement is its event's too.
    ///
    /// Not an `async fn`: the event goes to the sink before the future is returned, so a call
    /// waiting here holds only the sink's future (nothing, for a headless run) rather than a
    /// copy of the event at every place it emits. (A streamed piece shown to a sink that only
    /// reads events is handed over in `call_once` instead.)
    #[inline(always)]
    fn emit_at(&self, at: Duration, kind: Event) -> impl Future<Output = ()> + '_ {
        let ev = self.event(at, kind);
        // A closed channel means nobody is listening; the scheduler notices and stops.
        futures::FutureExt::map(self.sink.send(ev), drop)
    }

    /// The unit gives up on `from`: reports the move to the next candidate, if there is one
    /// (the last candidate's failure is reported as the unit's).
    fn fall_back(&self, from: &str, next: Option<&str>, reason: String) -> impl Future<Output = ()> + '_ {
        let emit = next.map(|to| self.emit(Event::NodeFallback { unit: self.unit, from: from.to_string(), to: to.to_string(), reason }));
        async move {
            if let Some(emit) = emit {
                emit.await;
            }
        }
    }

    /// The unit's calls, to their end. An `async` block rather than an `async fn`: the
    /// function's future kept the call twice (its argument, and the local it is moved into),
    /// and every call's future is moved into its box before its first poll.
    #[expect(clippy::manual_async_fn, reason = "the async fn's future held the call twice")]
    pub(super) fn run(self) -> impl Future<Output = Done> + 'a {
        async move {
            let (cost, result) = self.drive().await;
            Done { unit: self.unit, cost, reserved: self.reserved, result, prompt: self.prompt }
        }
    }

    async fn drive(&self) -> (Money, Result<Finished, ()>) {
        let spec = self.spec;
        let node = &spec.flow.nodes[self.unit.index()];
        if let Some(hit) = &self.hit {
            if let Some((billed, ttft, latency)) = hit.resumed {
                self.emit(Event::NodeResumed { unit: self.unit, billed, ttft, latency }).await;
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
            })
            .await;
            return (Money::ZERO, Ok(Finished { output: hit.output.clone(), passed }));
        }
        let max_attempts = spec.strategy.retry.max_attempts;
        let started = self.clock.elapsed();
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
                self.fall_back(model_id, next, last_error.clone()).await;
                continue;
            }
            // A model that keeps failing rests; its fallbacks serve meanwhile (the last
            // candidate is tried all the same: better a tired model than none).
            let resting = self.health.resting_until(model_id);
            let now = if resting.is_some() { self.clock.elapsed() } else { Duration::ZERO };
            if let (Some(until), Some(_)) = (resting.filter(|u| *u > now), next) {
                last_error = format!("{model_id} is resting after repeated failures");
                let reason = format!("{model_id} is cooling down for another {:.1} s", (until - now).as_secs_f64());
                self.fall_back(model_id, next, reason).await;
                continue;
            }
            let Some(provider) = self.providers.for_model(model) else {
                last_error = format!("no provider for '{}' models is configured", model.provider);
                self.fall_back(model_id, next, last_error.clone()).await;
                continue;
            };
            for try_no in 1..=max_attempts {
                let req = CallRequest {
                    catalog: &spec.catalog,
                    model: model_idx,
                    flow: &spec.flow,
                    node: self.unit.index(),
                    item: self.item.as_ref().map(|(k, t)| (*k, t)),
                    parts: &self.parts,
                    input_tokens: self.input_tokens,
                    max_tokens: node.max_tokens,
                    seed: spec.seed,
                    task: self.task,
                    try_no,
                };
                // Boxed on its own: inside this future it made every call's box larger than
                // mimalloc's small sizes, and those take its slow, over-allocating path.
                match Box::pin(self.call_once(provider.as_ref(), req)).await {
                    Ok(answer) => {
                        self.health.healthy(model_id);
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
                        let finished = self.clock.elapsed();
                        let latency = finished.saturating_sub(started);
                        let output: Arc<str> = Arc::from(answer.text);
                        if let Some(store) = &spec.store {
                            let q = Query { node: &node.id, item: self.unit.item, model: model_id, key: self.key };
                            if model_id == self.decision.model {
                                store.put(
                                    &q,
                                    &Served { model: model.id.clone(), usage: answer.usage, output: output.clone(), resumed: None },
                                );
                            }
                        }
                        self.emit_at(
                            finished,
                            Event::NodeFinished {
                                unit: self.unit,
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
                        )
                        .await;
                        return (cost, Ok(Finished { output, passed }));
                    }
                    Err((e, billed)) => {
                        // Boxed: it is kept across the waits below, and inline it made every
                        // call's future a hundred bytes larger.
                        let e = Box::new(e);
                        // What the provider bills for the failed try is the node's cost too:
                        // the run's total is what the invoice will say.
                        if let Some((usage, estimated)) = billed {
                            cost += model.cost(&usage).total();
                            self.emit(Event::NodeBilled { unit: self.unit, model: model_id.to_string(), usage, estimated }).await;
                        }
                        last_error = format!("{model_id}: {e}");
                        if e.retryable() && try_no < max_attempts {
                            let backoff = self.backoff(&e, try_no, model_id);
                            self.emit(Event::NodeRetry {
                                unit: self.unit,
                                model: model_id.to_string(),
                                try_no,
                                error: e.message.clone(),
                                backoff,
                            })
                            .await;
                            vtime::sleep(backoff).await;
                            continue;
                        }
                        if e.retryable() || e.kind == ErrorKind::Auth {
                            self.failed(model_id, model.provider, &e).await;
                        }
                        let why = if e.retryable() { format!("{} tries failed; last: {e}", try_no) } else { e.message.clone() };
                        self.fall_back(model_id, next, why).await;
                        continue 'models;
                    }
                }
            }
        }
        self.emit(Event::NodeFailed { unit: self.unit, error: last_error }).await;
        (cost, Err(()))
    }

    /// A model gave up on a call: count it, and rest the model when it keeps failing.
    async fn failed(&self, model: &str, provider: crate::routing::ProviderKind, e: &CallError) {
        let limits = self.spec.catalog.limits(provider);
        let now = self.clock.elapsed();
        if let Some(until) = self.health.failed(model, limits, now) {
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

    /// One call, and its raw exchange when the provider reports one (HTTP providers: the body
    /// they sent and what came back), as its own event before what the try leads to.
    ///
    /// Streams the call, timing the first token and policing the gaps. A failure comes with
    /// what the provider will bill for it: its reported usage, else (when tokens streamed) the
    /// tokenizer's estimate of the prompt and the streamed output.
    ///
    /// Not an `async fn`, and one future rather than two: the call is started before the
    /// future is made, so the request is not kept in it, and nothing inside is a future of its
    /// own that has to be built and then moved in. Those moves (the request, a future for the
    /// exchange and one for the stream) were the largest copies of a node, `perf record`.
    fn call_once<'s>(
        &'s self,
        provider: &dyn crate::provider::Provider,
        req: CallRequest<'_>,
    ) -> impl Future<Output = Result<Answer, CallFailure>> + 's {
        let (model, try_no, input_tokens) = (req.model, req.try_no, req.input_tokens);
        let retry = &self.spec.strategy.retry;
        let deltas = self.spec.options.deltas;
        let t0 = self.clock.elapsed();
        let mut stream = provider.call(req);
        // Baton's count of a call the provider sent no usage for.
        let counted = move |text: &str| Usage { input: input_tokens, output: u64::from(crate::tokens::count(text)), ..Usage::default() };
        let billed = move |e: CallError, ttft: Option<Duration>, text: &str| -> CallFailure {
            let usage = e.usage.map(|u| (u, false)).or_else(|| ttft.map(|_| (counted(text), true)));
            (e, usage)
        };
        async move {
            let mut t0 = t0;
            let mut call_deadline = t0.saturating_add(retry.total_timeout);
            // The request's body and the raw response, as the provider reports them.
            let mut wire: Option<Box<Wire>> = None;
            let mut text = String::new();
            let mut streamed: u64 = 0;
            let mut ttft = None;
            let mut usage = None;
            // Waiting for a provider's slot: no timeout runs until the request is sent.
            let mut waiting: Option<Duration> = None;
            let result = 'call: loop {
                let limit = if ttft.is_none() { retry.first_token_timeout } else { retry.idle_timeout };
                // Most chunks are already there; only arm a timer when we would have to wait. The
                // whole call's limit is folded into the same timer rather than a second one.
                let next = match futures::FutureExt::now_or_never(stream.next()) {
                    Some(next) => next,
                    None if waiting.is_some() => stream.next().await,
                    None => {
                        let gap_deadline = self.clock.elapsed().saturating_add(limit);
                        let deadline = gap_deadline.min(call_deadline);
                        match vtime::timeout(self.clock.sleep_until(deadline), stream.next()).await {
                            Ok(next) => next,
                            Err(_) if call_deadline < gap_deadline => {
                                let total = retry.total_timeout.as_secs_f64();
                                let e = CallError::new(ErrorKind::Timeout, format!("the call took longer than {total:.1} s"));
                                break 'call Err(billed(e, ttft, &text));
                            }
                            Err(_) => {
                                let what = if ttft.is_none() { "no first token" } else { "no data" };
                                let e = CallError::new(ErrorKind::Timeout, format!("{what} for {:.1} s", limit.as_secs_f64()));
                                break 'call Err(billed(e, ttft, &text));
                            }
                        }
                    }
                };
                match next {
                    None => {
                        let (usage, estimated) = match usage {
                            Some(u) => (u, false),
                            None => (counted(&text), true),
                        };
                        let ttft = ttft.unwrap_or_else(|| self.clock.elapsed().saturating_sub(t0));
                        break 'call Ok(Answer { ttft, text, usage, estimated });
                    }
                    Some(Err(e)) => break 'call Err(billed(e, ttft, &text)),
                    Some(Ok(Chunk::Usage(u))) => usage = Some(u),
                    Some(Ok(Chunk::Request(body))) => wire = Some(Box::new((body, None))),
                    Some(Ok(Chunk::Response(r))) => {
                        if let Some(w) = &mut wire {
                            w.1 = Some(r);
                        }
                    }
                    Some(Ok(Chunk::Waiting { why })) => {
                        if waiting.is_none() {
                            waiting = Some(self.clock.elapsed());
                            self.emit(Event::NodeWaiting { unit: self.unit, why }).await;
                        }
                    }
                    Some(Ok(Chunk::Sent)) => {
                        // The call's clocks start now; time spent queued is the node's, not the call's.
                        t0 = self.clock.elapsed();
                        call_deadline = t0.saturating_add(retry.total_timeout);
                        if let Some(since) = waiting.take() {
                            self.emit_at(t0, Event::NodeSent { unit: self.unit, queued: t0.saturating_sub(since) }).await;
                        }
                    }
                    Some(Ok(Chunk::Text { text: piece, tokens })) => {
                        // One clock read serves both the first token's time and its event's; a
                        // later chunk nobody streams needs none.
                        let now = (ttft.is_none() || deltas).then(|| self.clock.elapsed());
                        if ttft.is_none() {
                            ttft = now.map(|n| n.saturating_sub(t0));
                        }
                        streamed += u64::from(tokens.unwrap_or_else(|| crate::tokens::count(&piece)));
                        let Some(now) = now.filter(|_| deltas) else {
                            // Nobody else wants the piece.
                            append(&mut text, piece);
                            continue;
                        };
                        if S::SHOWS {
                            // A sink that only reads the event leaves the piece here: a first
                            // piece becomes the text rather than a copy of it.
                            let ev = self.event(now, Event::NodeDelta { unit: self.unit, text: piece, output_tokens: streamed });
                            self.sink.show(&ev);
                            // Always a delta: it was made just above.
                            if let Event::NodeDelta { text: piece, .. } = ev.kind {
                                append(&mut text, piece);
                            }
                        } else {
                            push(&mut text, &piece);
                            self.emit_at(now, Event::NodeDelta { unit: self.unit, text: piece, output_tokens: streamed }).await;
                        }
                    }
                }
            };
            drop(stream);
            if let Some(w) = wire {
                let (request, response) = *w;
                let response = response.unwrap_or_default();
                let exchange = Exchange {
                    model: self.spec.catalog.models[model].id.to_string(),
                    try_no,
                    request,
                    status: response.status,
                    response: response.body,
                    usage: response.usage,
                    error: result.as_ref().err().map(|(e, _)| e.message.clone()),
                };
                self.emit(Event::NodeExchange { unit: self.unit, exchange: Arc::new(exchange) }).await;
            }
            result
        }
    }
}

/// Adds a streamed piece to the text so far: the piece itself when it is the first.
fn append(text: &mut String, piece: String) {
    if text.is_empty() {
        *text = piece;
    } else {
        push(text, &piece);
    }
}

/// Copies a streamed piece onto the text so far. Grows by a quarter rather than doubling:
/// thousands of calls can be mid-stream at once, and each one's slack adds up.
fn push(text: &mut String, piece: &str) {
    if text.capacity() - text.len() < piece.len() {
        text.reserve_exact(piece.len().max(text.len() / 4));
    }
    text.push_str(piece);
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
