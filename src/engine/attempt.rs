//! One try of one model: the call's stream read to its end, the first token timed, the gaps
//! and the whole call policed, every piece reported, and the raw exchange (HTTP providers) told
//! before what the try leads to.
//!
//! Polled by hand from the unit's future (`tries::Tries`): it keeps no reference into itself,
//! so it lives inline there and is never boxed.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt;

use super::call::Call;
use super::sink::Sink;
use super::vtime::Sleep;
use crate::event::{Event, Exchange};
use crate::provider::{CallError, CallRequest, Chunk, ChunkStream, ErrorKind, Provider, Response};
use crate::routing::Usage;

/// A try's answer.
pub(super) struct Answer {
    pub(super) text: String,
    pub(super) usage: Usage,
    pub(super) estimated: bool,
    pub(super) ttft: Duration,
}

/// A failed try, and what the provider bills for it (`true`: a tokenizer estimate).
pub(super) type Failure = (CallError, Option<(Usage, bool)>);

/// One try's request body and, once it came, its response (HTTP providers only). Boxed: most
/// calls are simulated and never have one, and thousands of calls can be in flight.
type Wire = (String, Option<Box<Response>>);

/// A try under way: its stream and what it has told so far.
pub(super) struct Attempt {
    /// Gone once the try ends, before its exchange is reported.
    stream: Option<ChunkStream>,
    model: usize,
    try_no: u32,
    input_tokens: u64,
    /// When the request went out (after any wait for a provider's slot).
    t0: Duration,
    call_deadline: Duration,
    wire: Option<Box<Wire>>,
    text: String,
    streamed: u64,
    ttft: Option<Duration>,
    usage: Option<Usage>,
    /// Since when the call has waited for a provider's slot: no timeout runs meanwhile.
    waiting: Option<Duration>,
    /// The wait for the next chunk when it was not already there, and the gap's deadline:
    /// one timer, due at the gap's limit or the whole call's, whichever comes first.
    timer: Option<(Sleep, Duration)>,
}

impl Attempt {
    /// Sends the request. The request is not kept: the provider has what it needs.
    pub(super) fn start<S: Sink>(call: &Call<'_, S>, provider: &dyn Provider, req: CallRequest<'_>) -> Attempt {
        let (model, try_no, input_tokens) = (req.model, req.try_no, req.input_tokens);
        let t0 = call.clock.elapsed();
        let stream = Some(provider.call(req));
        Attempt {
            stream,
            model,
            try_no,
            input_tokens,
            t0,
            call_deadline: t0.saturating_add(call.spec.strategy.retry.total_timeout),
            wire: None,
            text: String::new(),
            streamed: 0,
            ttft: None,
            usage: None,
            waiting: None,
            timer: None,
        }
    }

    /// Reads the stream on as far as it goes; ready with the answer, or the failure with what
    /// the provider will bill for it: its reported usage, else (when tokens streamed) the
    /// tokenizer's estimate of the prompt and the streamed output.
    pub(super) fn poll<S: Sink>(&mut self, call: &Call<'_, S>, cx: &mut Context<'_>) -> Poll<Result<Answer, Failure>> {
        let deltas = call.spec.options.deltas;
        let result = loop {
            let next = match self.next_item(call, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(next)) => next,
                Poll::Ready(Err(timeout)) => break Err(self.billed(timeout)),
            };
            match next {
                None => {
                    let (usage, estimated) = match self.usage {
                        Some(u) => (u, false),
                        None => (self.counted(&self.text), true),
                    };
                    let ttft = self.ttft.unwrap_or_else(|| call.clock.elapsed().saturating_sub(self.t0));
                    break Ok(Answer { ttft, text: std::mem::take(&mut self.text), usage, estimated });
                }
                Some(Err(e)) => break Err(self.billed(e)),
                Some(Ok(Chunk::Usage(u))) => self.usage = Some(u),
                Some(Ok(Chunk::Request(body))) => self.wire = Some(Box::new((body, None))),
                Some(Ok(Chunk::Response(r))) => {
                    if let Some(w) = &mut self.wire {
                        w.1 = Some(r);
                    }
                }
                Some(Ok(Chunk::Waiting { why })) => {
                    if self.waiting.is_none() {
                        self.waiting = Some(call.clock.elapsed());
                        call.emit(Event::NodeWaiting { unit: call.unit, why });
                    }
                }
                Some(Ok(Chunk::Sent)) => {
                    // The call's clocks start now; time spent queued is the node's, not the call's.
                    self.t0 = call.clock.elapsed();
                    self.call_deadline = self.t0.saturating_add(call.spec.strategy.retry.total_timeout);
                    if let Some(since) = self.waiting.take() {
                        call.emit_at(self.t0, Event::NodeSent { unit: call.unit, queued: self.t0.saturating_sub(since) });
                    }
                }
                Some(Ok(Chunk::Text { text: piece, tokens })) => {
                    // One clock read serves both the first token's time and its event's; a
                    // later chunk nobody streams needs none.
                    let now = (self.ttft.is_none() || deltas).then(|| call.clock.elapsed());
                    if self.ttft.is_none() {
                        self.ttft = now.map(|n| n.saturating_sub(self.t0));
                    }
                    self.streamed += u64::from(tokens.unwrap_or_else(|| crate::tokens::count(&piece)));
                    let Some(now) = now.filter(|_| deltas) else {
                        // Nobody else wants the piece.
                        append(&mut self.text, piece);
                        continue;
                    };
                    if S::SHOWS {
                        // A sink that only reads the event leaves the piece here: a first
                        // piece becomes the text rather than a copy of it.
                        let ev = call.event(now, Event::NodeDelta { unit: call.unit, text: piece, output_tokens: self.streamed });
                        call.sink.show(&ev);
                        // Always a delta: it was made just above.
                        if let Event::NodeDelta { text: piece, .. } = ev.kind {
                            append(&mut self.text, piece);
                        }
                    } else {
                        push(&mut self.text, &piece);
                        call.emit_at(now, Event::NodeDelta { unit: call.unit, text: piece, output_tokens: self.streamed });
                    }
                }
            }
        };
        self.stream = None;
        if let Some(w) = self.wire.take() {
            let (request, response) = *w;
            let response = response.unwrap_or_default();
            let exchange = Exchange {
                model: call.spec.catalog.models[self.model].id.to_string(),
                try_no: self.try_no,
                request,
                status: response.status,
                response: response.body,
                usage: response.usage,
                error: result.as_ref().err().map(|(e, _)| e.message.clone()),
            };
            call.emit(Event::NodeExchange { unit: call.unit, exchange: std::sync::Arc::new(exchange) });
        }
        Poll::Ready(result)
    }

    /// The stream's next item, or `Err` when a limit ran out first. Most chunks are already
    /// there; a timer is armed only when the call has to wait, and the answer wins when both
    /// are ready.
    fn next_item<S: Sink>(
        &mut self,
        call: &Call<'_, S>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Result<Chunk, CallError>>, CallError>> {
        let Some(stream) = &mut self.stream else { return Poll::Ready(Ok(None)) };
        if let Poll::Ready(next) = stream.poll_next_unpin(cx) {
            self.timer = None;
            return Poll::Ready(Ok(next));
        }
        if self.waiting.is_some() {
            return Poll::Pending;
        }
        let retry = &call.spec.strategy.retry;
        let limit = if self.ttft.is_none() { retry.first_token_timeout } else { retry.idle_timeout };
        let (timer, gap_deadline) = self.timer.get_or_insert_with(|| {
            let gap_deadline = call.clock.elapsed().saturating_add(limit);
            (call.clock.sleep_until(gap_deadline.min(self.call_deadline)), gap_deadline)
        });
        if Pin::new(timer).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let gap_deadline = *gap_deadline;
        self.timer = None;
        Poll::Ready(Err(if self.call_deadline < gap_deadline {
            let total = retry.total_timeout.as_secs_f64();
            CallError::new(ErrorKind::Timeout, format!("the call took longer than {total:.1} s"))
        } else {
            let what = if self.ttft.is_none() { "no first token" } else { "no data" };
            CallError::new(ErrorKind::Timeout, format!("{what} for {:.1} s", limit.as_secs_f64()))
        }))
    }

    /// Baton's count of a call the provider sent no usage for.
    fn counted(&self, text: &str) -> Usage {
        Usage { input: self.input_tokens, output: u64::from(crate::tokens::count(text)), ..Usage::default() }
    }

    fn billed(&self, e: CallError) -> Failure {
        let usage = e.usage.map(|u| (u, false)).or_else(|| self.ttft.map(|_| (self.counted(&self.text), true)));
        (e, usage)
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
