//! The simulated provider: Baton's embedded default. It needs no key and no network, and it is
//! deterministic: the same flow, strategy, input and seed give the same outputs, tokens,
//! latencies, check results and faults.
//!
//! What a node "is" (its list length, its label, how long its answer is, whether a good model
//! would get it right) is drawn from keys that leave the model out, so two strategies run on
//! the same task see the same branches and a more capable model passes wherever a weaker one
//! does. How a model behaves (its wording, speed and faults) is drawn from keys that include it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Semaphore;

use super::rng::{Mixed, Rng, hash_str};
use super::{CallError, CallRequest, Chunk, ChunkStream, ErrorKind, Provider};
use crate::flow::{Check, Node};
use crate::routing::{Model, ProviderKind, Usage};
use crate::tokens;

const SALT_TASK: u64 = 0x7461_736b;
const SALT_TEXT: u64 = 0x7465_7874;
const SALT_CALL: u64 = 0x6361_6c6c;

/// Simulated output is streamed in pieces of about this much simulated time.
const CHUNK_TIME: f64 = 0.1;

pub struct SimProvider;

impl Provider for SimProvider {
    fn call(&self, req: CallRequest<'_>) -> ChunkStream {
        limited(req, |req| play(plan(req), None))
    }
}

thread_local! {
    /// Each provider's concurrency slots, by provider and `max_concurrent`. Per thread: a
    /// simulated run is driven on one thread (its own virtual time), so the runs of one thread
    /// (a batch's tasks, one after another) share a provider's slots as a process's real calls
    /// do, and runs on other threads (the strategies of `compare`, each on its own clock) do
    /// not wait for each other.
    static SLOTS: std::cell::RefCell<std::collections::HashMap<(ProviderKind, u32), Arc<Semaphore>>> = Default::default();
}

/// Plays the call `make` plans once its provider has a free slot, as the HTTP providers do:
/// at most `max_concurrent` (the catalog's `[provider.NAME]` limit, 16 unless set) calls of
/// one provider at once. A call that finds every slot taken says so (`Chunk::Waiting`, shown as `queued`),
/// waits its turn, then is sent (`Chunk::Sent`); its answer is planned only then, so the
/// calls queued behind a wide fan-out hold nothing but their request. A call that gets a
/// slot at once streams exactly what it streamed before providers had limits.
fn limited(req: CallRequest<'_>, make: impl FnOnce(&CallRequest) -> Play + Send + 'static) -> ChunkStream {
    let provider = req.model().provider;
    // The `sim` provider stands for no real service: its calls are limited only when the
    // catalog gives it a `[provider.sim]` limit.
    let limit = match provider {
        ProviderKind::Sim => req.catalog.limits.get(&provider).map(|l| l.max_concurrent),
        _ => Some(req.catalog.limits(provider).max_concurrent),
    };
    let Some(limit) = limit.map(|l| l.max(1)) else { return Box::pin(make(&req)) };
    let slots = SLOTS.with(|s| s.borrow_mut().entry((provider, limit)).or_insert_with(|| Arc::new(Semaphore::new(limit as usize))).clone());
    if let Ok(permit) = slots.clone().try_acquire_owned() {
        return Box::pin(holding(make(&req), Some(permit)));
    }
    let why = format!("all {limit} {provider} slots are busy (max_concurrent)");
    let waiting = futures::stream::once(async move { Ok(Chunk::Waiting { why }) });
    let req = req.keep();
    let sent = futures::stream::once(async move {
        let permit = slots.acquire_owned().await.ok();
        futures::stream::once(async { Ok(Chunk::Sent) }).chain(holding(make(&req.request()), permit))
    })
    .flatten();
    Box::pin(waiting.chain(sent))
}

/// The call's chunks, its provider slot held until the last is out.
fn holding(play: Play, slot: Option<tokio::sync::OwnedSemaphorePermit>) -> impl futures::Stream<Item = Result<Chunk, CallError>> {
    play.map(move |c| {
        let _slot = &slot;
        c
    })
}

/// How a call ends early, if it does.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 before any output.
    RateLimited { retry_after: Duration },
    /// A 5xx, before any output or after `after_chunks` chunks.
    Server { after_chunks: usize },
    /// The stream goes silent after `after_chunks` chunks; the engine's timeout ends it.
    Stall { after_chunks: usize },
}

/// Everything a simulated call will do, decided before it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub ttft: Duration,
    /// The whole output, streamed in `chunks`.
    pub text: String,
    /// Each chunk: the simulated time it takes to arrive after the previous one, where it ends
    /// in `text`, and its tokens. (Offsets rather than pieces: a wide fan-out holds thousands
    /// of plans at once.)
    pub chunks: Vec<(Duration, u32, u32)>,
    pub usage: Usage,
    pub fault: Option<Fault>,
}

/// Probability that a model of `capability` produces an output passing its checks on a node of
/// `complexity`: near-certain with two points to spare, a coin flip a point short.
pub fn pass_probability(capability: f64, complexity: u8) -> f64 {
    let margin = capability - f64::from(complexity);
    0.995 / (1.0 + (-1.1 * (margin + 1.2)).exp())
}

/// The keys all three of a call's streams begin with (seed, task, node, item), mixed once; its model's name, hashed; its stream.
#[inline(always)]
fn keys(req: &CallRequest, node: &Node) -> (Mixed, u64, Rng) {
    let keys = Mixed::of([req.seed, req.task, hash_str(&node.id), req.item.as_ref().map_or(0, |(i, _)| u64::from(*i) + 1)]);
    let model_key = hash_str(&req.model().id);
    (keys, model_key, keys.then(&[model_key, u64::from(req.try_no), SALT_CALL]).rng())
}

/// Streams a given text with the model's simulated timing and no faults: how a re-priced
/// recording replays a recorded output on another model. `output_tokens` is the text's count
/// when it is already known (the recording has it); counted here otherwise. With `whole`, the
/// pieces after the first come in as few as the caller's limits allow (see [`Whole`]).
pub fn stream_text(req: &CallRequest, text: String, output_tokens: Option<u64>, whole: Option<Whole>) -> ChunkStream {
    limited(*req, move |req| play(text_plan(req, text, output_tokens), whole))
}

/// A caller that reads a stream's text whole (the engine with deltas off), and the limits it
/// polices the stream with: its idle timeout (the longest gap between pieces) and its total
/// timeout (from the request). A fault-free stream may then join the pieces after the first
/// into one, arriving when the last of them would have: each gap fits the idle limit when their
/// sum does, and each piece is in time when the last is, so no timeout fires that would not
/// have and none is missed (a gap too long for the limit comes alone). The first piece keeps
/// its time to first token. This relies on the caller polling the stream at the request and as
/// soon as each piece arrives (the engine with an inline sink does).
///
/// Each call's times are the same; what can differ is the order in which two calls ending in
/// the same simulated millisecond are settled (timers due together fire in the order they were
/// set, and a joined wait is set earlier), and with it, where a budget, a schedule limit or a
/// provider's queue has room for one of their dependents only, which one starts. Re-pricing
/// uses this: a million pieces woke its calls a million times, nine in ten for nothing.
#[derive(Debug, Clone, Copy)]
pub struct Whole {
    pub idle: Duration,
    pub total: Duration,
}

fn text_plan(req: &CallRequest, text: String, output_tokens: Option<u64>) -> Plan {
    let node = &req.flow.nodes[req.node];
    let model = req.model();
    let (_, _, mut call) = keys(req, node);
    let output = output_tokens.unwrap_or_else(|| u64::from(tokens::count(&text)));
    let usage = Usage { input: req.input_tokens, cached: 0, cache_write: 0, output, reasoning: 0 };
    let (ttft, tps) = timing(req, model, &mut call);
    let chunks = split_stream(&text, usage.output, tps);
    Plan { ttft, text, chunks, usage, fault: None }
}

fn timing(req: &CallRequest, model: &Model, call: &mut Rng) -> (Duration, f64) {
    let p = &model.sim;
    let ttft_jitter = 0.85 + 0.3 * call.next_f64();
    let speed_jitter = 0.9 + 0.2 * call.next_f64();
    let prefill = if p.prefill_tokens_per_second > 0.0 { req.input_tokens as f64 / p.prefill_tokens_per_second } else { 0.0 };
    (seconds((p.ttft.as_secs_f64() + prefill) * ttft_jitter), p.tokens_per_second * speed_jitter)
}

/// The longest simulated wait: far beyond any real call, and far from where adding it to an
/// instant overflows.
const MAX_SIMULATED: Duration = Duration::from_secs(365 * 24 * 3600);

/// Seconds as a duration that never panics: `Duration::from_secs_f64` does on infinite, NaN or
/// huge values, which extreme catalog speeds produce (a prefill of 1e-320 tokens a second).
fn seconds(s: f64) -> Duration {
    if s.is_nan() || s <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(s).unwrap_or(MAX_SIMULATED).min(MAX_SIMULATED)
}

/// Decides the call's output, usage, timing and fault.
pub fn plan(req: &CallRequest) -> Plan {
    let node = &req.flow.nodes[req.node];
    let model = req.model();
    let (sim_keys, model_key, mut call) = keys(req, node);
    let mut truth = sim_keys.then(&[SALT_TASK]).rng();

    let mut text = compose(req, node, model, sim_keys, model_key, &mut truth);
    // Held until the last chunk is out, by every call in flight at once: no more than an
    // eighth of slack (a copy of every short answer for a byte or two was not worth it).
    if text.capacity() - text.len() > text.len() / 8 + 16 {
        text.shrink_to_fit();
    }
    let usage = Usage { input: req.input_tokens, cached: 0, cache_write: 0, output: u64::from(tokens::count(&text)), reasoning: 0 };

    let p = &model.sim;
    let (ttft, tps) = timing(req, model, &mut call);
    let chunks = split_stream(&text, usage.output, tps);

    let fault = if call.next_f64() < p.error_rate {
        let r = call.next_f64();
        let mid = chunks.len() / 2;
        Some(if r < 0.55 {
            Fault::RateLimited { retry_after: Duration::from_secs(1 + call.below(2)) }
        } else if r < 0.85 {
            Fault::Server { after_chunks: if call.next_f64() < 0.5 { 0 } else { mid } }
        } else {
            Fault::Stall { after_chunks: mid }
        })
    } else {
        None
    };
    Plan { ttft, text, chunks, usage, fault }
}

/// Splits `text` into pieces of about [`CHUNK_TIME`] each at `tps`, cutting at spaces.
fn split_stream(text: &str, out_tokens: u64, tps: f64) -> Vec<(Duration, u32, u32)> {
    if text.is_empty() {
        return Vec::new();
    }
    if tps <= 0.0 || !tps.is_finite() {
        return vec![(Duration::ZERO, text.len() as u32, out_tokens as u32)];
    }
    let total_time = out_tokens as f64 / tps;
    let pieces = ((total_time / CHUNK_TIME).ceil() as usize).clamp(1, 10_000);
    let total_chars = text.len();
    let target = total_chars.div_ceil(pieces);
    let mut out = Vec::with_capacity(pieces);
    let mut start = 0;
    while start < total_chars {
        let mut end = (start + target).min(total_chars);
        while end < total_chars && !text.is_char_boundary(end) {
            end += 1;
        }
        // Prefer to cut just before a space so tokens are not split.
        if end < total_chars
            && let Some(sp) = text[start..end].rfind(' ')
            && sp > 0
        {
            end = start + sp;
        }
        let piece = &text[start..end];
        let share = piece.len() as f64 / total_chars as f64;
        let toks = (out_tokens as f64 * share).round() as u32;
        out.push((seconds(total_time * share), end as u32, toks.max(1)));
        start = end;
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Ttft,
    Chunk(usize),
    Usage,
    Done,
}

/// A plan, played: its first chunk after its time to first token, each later one after its
/// gap, then its usage, or its fault where it strikes. Hand-written: an `unfold` moved the
/// whole plan in and out of a new future at every chunk.
struct Play {
    plan: Plan,
    step: Step,
    /// The wait under way, if any.
    wait: Option<crate::engine::vtime::Sleep>,
    /// Set when the caller reads the text whole: pieces are joined within its limits.
    whole: Option<Whole>,
    /// Whole milliseconds waited so far, as the timers count them.
    waited_ms: u64,
}

fn play(plan: Plan, whole: Option<Whole>) -> Play {
    Play { plan, step: Step::Ttft, wait: None, whole, waited_ms: 0 }
}

impl Play {
    /// Waits `d` (nothing for zero); ready once it has passed.
    fn waited(&mut self, d: Duration, cx: &mut std::task::Context<'_>) -> bool {
        if d.is_zero() {
            return true;
        }
        let wait = self.wait.get_or_insert_with(|| crate::engine::vtime::sleep(d));
        if std::pin::Pin::new(wait).poll(cx).is_pending() {
            return false;
        }
        self.wait = None;
        self.waited_ms = self.waited_ms.saturating_add(crate::engine::vtime::millis_up(d));
        true
    }

    /// The pieces from piece `i` (not the first) that come next: up to which one, after what
    /// wait, with what tokens. One, unless [`Whole`] allows more and no fault is planned.
    fn next_pieces(&self, i: usize) -> (usize, Duration, u32) {
        let (delay, _, tokens) = self.plan.chunks[i];
        let Some(w) = self.whole.filter(|_| self.plan.fault.is_none()) else { return (i, delay, tokens) };
        use crate::engine::vtime::millis_up;
        // A deadline due in the same millisecond as the answer it guards loses (`vtime`).
        let (idle, total) = (millis_up(w.idle), millis_up(w.total));
        let (mut last, mut sum, mut toks) = (i, millis_up(delay), tokens);
        for (k, &(d, _, t)) in self.plan.chunks.iter().enumerate().skip(i + 1) {
            let s = sum.saturating_add(millis_up(d));
            if s > idle || self.waited_ms.saturating_add(s) > total {
                break;
            }
            (last, sum, toks) = (k, s, toks.saturating_add(t));
        }
        if last == i { (i, delay, tokens) } else { (last, Duration::from_millis(sum), toks) }
    }

    /// Chunk `i`, or what ends the stream there.
    fn chunk(&mut self, i: usize, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Result<Chunk, CallError>>> {
        use std::task::Poll;
        match &self.plan.fault {
            Some(Fault::Server { after_chunks }) if *after_chunks == i => {
                let msg = if i == 0 { "503 Service Unavailable (simulated)" } else { "connection reset mid-stream (simulated)" };
                self.step = Step::Done;
                return Poll::Ready(Some(Err(CallError::new(ErrorKind::Server, msg))));
            }
            // Silence; the engine's first-token or idle timeout ends the call.
            Some(Fault::Stall { after_chunks }) if *after_chunks == i => return Poll::Pending,
            _ => {}
        }
        let Some(&(_, end, tokens)) = self.plan.chunks.get(i) else {
            self.step = Step::Done;
            return Poll::Ready(Some(Ok(Chunk::Usage(self.plan.usage))));
        };
        let (last, end, tokens) = if i == 0 {
            (i, end, tokens)
        } else {
            let (last, wait, tokens) = self.next_pieces(i);
            if !self.waited(wait, cx) {
                return Poll::Pending;
            }
            (last, self.plan.chunks[last].1, tokens)
        };
        let start = if i == 0 { 0 } else { self.plan.chunks[i - 1].1 as usize };
        let text = if start == 0 && end as usize == self.plan.text.len() {
            // The whole text in one piece (a short answer): nothing else reads it, so it moves
            // rather than being copied.
            std::mem::take(&mut self.plan.text)
        } else {
            self.plan.text.get(start..end as usize).unwrap_or_default().to_string()
        };
        self.step = if last + 1 < self.plan.chunks.len() || matches!(self.plan.fault, Some(Fault::Server { .. } | Fault::Stall { .. })) {
            Step::Chunk(last + 1)
        } else {
            Step::Usage
        };
        Poll::Ready(Some(Ok(Chunk::Text { text, tokens: Some(tokens) })))
    }
}

impl futures::Stream for Play {
    type Item = Result<Chunk, CallError>;

    fn poll_next(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let this = &mut *self;
        match this.step {
            Step::Ttft => {
                if !this.waited(this.plan.ttft, cx) {
                    return Poll::Pending;
                }
                if let Some(Fault::RateLimited { retry_after }) = &this.plan.fault {
                    let mut e = CallError::new(ErrorKind::RateLimited, "429 Too Many Requests (simulated)");
                    e.retry_after = Some(*retry_after);
                    this.step = Step::Done;
                    return Poll::Ready(Some(Err(e)));
                }
                this.step = Step::Chunk(0);
                this.chunk(0, cx)
            }
            Step::Chunk(i) => this.chunk(i, cx),
            Step::Usage => {
                this.step = Step::Done;
                Poll::Ready(Some(Ok(Chunk::Usage(this.plan.usage))))
            }
            Step::Done => Poll::Ready(None),
        }
    }
}

/// Common words that are single tokens with a leading space.
const WORDS: &[&str] = &[
    "the", "model", "data", "result", "source", "system", "cost", "time", "energy", "storage", "battery", "grid", "report", "study",
    "market", "price", "value", "risk", "level", "rate", "power", "design", "test", "case", "plan", "team", "user", "answer", "question",
    "review", "change", "support", "service", "network", "policy", "process", "research", "analysis", "evidence", "claim", "trend",
    "growth", "demand", "supply", "capacity", "safety", "quality", "speed", "scale", "project", "issue", "option", "factor", "effect",
    "impact", "benefit", "limit", "range", "share", "total", "average", "high", "low", "new", "old", "main", "key", "clear", "strong",
    "weak", "early", "late", "local", "global", "public", "private", "current", "recent", "shows", "finds", "suggests", "reports", "notes",
    "makes", "uses", "needs", "gives", "takes", "keeps", "adds", "cuts", "meets", "costs", "runs", "and", "with", "for", "from", "over",
    "under", "than", "more", "less", "most", "both", "each", "per", "about", "across", "between", "within", "while", "because", "since",
    "when", "where", "which", "that", "this", "these", "those", "their", "its", "our", "can", "may", "will", "should",
];

/// Appends a sentence of `words` words to `out`.
fn sentence_into(out: &mut String, rng: &mut Rng, words: usize) {
    for i in 0..words.max(1) {
        let w = WORDS[rng.below(WORDS.len() as u64) as usize];
        if i == 0 {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                out.extend(f.to_uppercase());
                out.push_str(c.as_str());
            }
        } else {
            out.push(' ');
            out.push_str(w);
        }
    }
    out.push('.');
}

fn sentence(rng: &mut Rng, words: usize) -> String {
    let mut s = String::with_capacity(words * 7);
    sentence_into(&mut s, rng, words);
    s
}

/// About `tokens` tokens of prose.
fn prose(rng: &mut Rng, tokens: u32) -> String {
    let mut out = String::with_capacity(tokens as usize * 7);
    let mut left = i64::from(tokens);
    while left > 0 {
        // A word is about one token; the period is one more.
        let n = (6 + rng.below(9) as i64).min((left - 1).max(1));
        if !out.is_empty() {
            out.push(' ');
        }
        sentence_into(&mut out, rng, n as usize);
        left -= n + 1;
    }
    out
}

fn truncate_chars(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The output text: a list, or prose that ends with a label, shaped to pass the node's checks
/// or, when the model gets this node wrong, to fail one of them.
fn compose(req: &CallRequest, node: &Node, model: &Model, keys: Mixed, model_key: u64, truth: &mut Rng) -> String {
    // The wording depends on the model and on what the node was given: change an upstream
    // output and this node writes something else, as a real model would. What the node *is*
    // (length, label, list size, right or wrong) does not.
    let given = req.parts.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, (_, t)| h ^ hash_str(t).rotate_left(7));
    let mut words = keys.then(&[model_key, given, SALT_TEXT]).rng();

    let spread = 0.8 + 0.4 * truth.next_f64();
    let target = ((f64::from(node.expected_tokens) * spread).round() as u32).clamp(1, node.max_tokens.max(1));
    let u = truth.next_f64();
    let failing = if node.checks.is_empty() || u < pass_probability(model.sim.capability, node.complexity) {
        None
    } else {
        Some(truth.below(node.checks.len() as u64) as usize)
    };
    let label = (!node.sim.labels.is_empty()).then(|| node.sim.labels[truth.weighted(node.sim.labels.len(), &node.sim.weights)].clone());
    // A model that misses a required phrase that is part of its label forgets the label too
    // (an analyzer without its verdict), which is what sends a weak answer down the wrong branch.
    let label = label.filter(|l| !failing.is_some_and(|i| matches!(&node.checks[i], Check::Contains(s) if l.contains(s.as_str()))));
    let items = node.sim.items.map(|(lo, hi)| truth.between(u64::from(lo), u64::from(hi)) as u32);
    let wants_json = node.checks.iter().any(|c| matches!(c, Check::Json));
    let fails = |i: usize| failing == Some(i);

    if let Some(k) = items {
        let per = (target / k.max(1)).saturating_sub(1).max(2);
        let list: Vec<String> = (0..k).map(|_| sentence(&mut words, per as usize).trim_end_matches('.').to_string()).collect();
        let mut text = serde_json::to_string(&list).unwrap_or_default();
        if let Some(i) = failing {
            match &node.checks[i] {
                Check::Json => {
                    text.pop();
                }
                Check::Contains(_) | Check::Regex(_) | Check::MinChars(_) => text = truncate_chars(&text, text.len() / 3),
                Check::NotContains(s) => text.push_str(s),
                Check::MaxChars(n) => text.push_str(&" ".repeat(n + 1)),
            }
        }
        return text;
    }

    let label_tokens = label.as_deref().map_or(0, |l| tokens::count(l) + 1);
    let body_tokens = target.saturating_sub(label_tokens);
    let mut body = if body_tokens >= 3 { prose(&mut words, body_tokens) } else { String::new() };

    for (i, c) in node.checks.iter().enumerate() {
        match c {
            Check::Contains(s) if !fails(i) => body = if body.is_empty() { s.clone() } else { format!("{s} {body}") },
            Check::NotContains(s) if fails(i) => body = format!("{s} {body}"),
            Check::Regex(_) if !fails(i) => {
                if let Some(sample) = &node.sim.sample {
                    body = format!("{sample} {body}");
                }
            }
            Check::Contains(s) if fails(i) => body = body.replace(s.as_str(), ""),
            _ => {}
        }
    }

    let assemble = |body: &str| -> String {
        if wants_json {
            let mut obj = serde_json::Map::new();
            obj.insert("answer".into(), serde_json::Value::String(body.to_string()));
            if let Some(l) = &label {
                obj.insert("label".into(), serde_json::Value::String(l.clone()));
            }
            serde_json::Value::Object(obj).to_string()
        } else {
            match (&label, body.is_empty()) {
                (Some(l), true) => l.clone(),
                (Some(l), false) => format!("{body}\n\n{l}"),
                (None, _) => body.to_string(),
            }
        }
    };

    // Length checks: fit or, when this is the check that fails, miss.
    for (i, c) in node.checks.iter().enumerate() {
        match c {
            Check::MaxChars(n) => {
                let len = assemble(&body).chars().count();
                if fails(i) {
                    if len <= *n {
                        body.push(' ');
                        body.push_str(&prose(&mut words, ((n - len) / 4 + 8) as u32));
                    }
                } else if len > *n {
                    let keep = body.chars().count().saturating_sub(len - n);
                    body = truncate_chars(&body, keep);
                }
            }
            Check::MinChars(n) => {
                let len = assemble(&body).chars().count();
                if fails(i) {
                    body = truncate_chars(&body, body.chars().count().saturating_sub(len.saturating_sub(n / 2)));
                } else if len < *n {
                    body.push(' ');
                    body.push_str(&prose(&mut words, ((n - len) / 4 + 4) as u32));
                }
            }
            _ => {}
        }
    }

    let mut text = assemble(&body);
    if let Some(i) = failing
        && matches!(node.checks[i], Check::Json)
    {
        text.pop();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Extreme speeds turn into extreme seconds; none of them may panic the simulator.
    #[test]
    fn durations_saturate_instead_of_panicking() {
        assert_eq!(seconds(f64::INFINITY), MAX_SIMULATED);
        assert_eq!(seconds(1e300), MAX_SIMULATED);
        assert_eq!(seconds(f64::NAN), Duration::ZERO);
        assert_eq!(seconds(-1.0), Duration::ZERO);
        assert_eq!(seconds(1.5), Duration::from_millis(1500));
        for tps in [1e-320, 1e-20, f64::MIN_POSITIVE, 1e300, f64::INFINITY, f64::NAN] {
            let chunks = split_stream("a few words of output", 5, tps);
            assert!(!chunks.is_empty() && chunks.iter().all(|c| c.0 <= MAX_SIMULATED), "{tps}: {chunks:?}");
        }
    }

    #[test]
    fn pass_probability_rises_with_margin() {
        assert!(pass_probability(9.5, 3) > 0.99);
        assert!(pass_probability(9.5, 8) > 0.93);
        assert!((0.75..0.85).contains(&pass_probability(7.0, 7)), "{}", pass_probability(7.0, 7));
        assert!(pass_probability(5.0, 8) < 0.3);
        assert!(pass_probability(6.0, 5) > pass_probability(5.0, 5));
    }

    #[test]
    fn split_stream_covers_text_and_time() {
        let text = "one two three four five six seven eight nine ten";
        let chunks = split_stream(text, 10, 20.0);
        let joined: String =
            chunks.iter().scan(0, |at, c| Some(std::mem::replace(at, c.1 as usize)..c.1 as usize)).map(|r| &text[r]).collect();
        assert_eq!(joined, text);
        let total: f64 = chunks.iter().map(|c| c.0.as_secs_f64()).sum();
        assert!((total - 0.5).abs() < 1e-9, "{total}");
        assert!((5..=8).contains(&chunks.len()), "{}", chunks.len());
        let instant = split_stream(text, 10, 0.0);
        assert_eq!(instant.len(), 1);
        assert_eq!(instant[0].0, Duration::ZERO);
    }
}
