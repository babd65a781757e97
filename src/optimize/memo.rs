//! The optimizer's memory of outputs: every (task, node instance, model) is called once, and
//! every later candidate that routes there gets the same output replayed with the same timing,
//! re-priced on what this candidate's call would read (its input tokens).
//!
//! It sits below the engine as a [`Provider`], so routing, escalation, billing and the fold
//! work exactly as in any run: a candidate's figures are a run's figures, made of known outputs.
//!
//! Simulated models are planned directly (the simulator decides a call before it plays it);
//! a simulated fault is not kept, since the search compares outputs, not luck. Live models are
//! called on a real-time runtime of their own while the search's virtual time waits (the call
//! says `Waiting`, so no timeout runs); their measured timing is then replayed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;

use crate::money::Money;
use crate::provider::{CallError, CallRequest, Chunk, ChunkStream, ErrorKind, Provider, Providers, sim};
use crate::routing::{ProviderKind, Usage};

/// What identifies an output: the seed, the task (a hash of its input), the node, the fan-out
/// instance and the model. Not the upstream outputs: an output computed once stands for every
/// candidate that routes this node of this task to this model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    seed: u64,
    task: u64,
    node: usize,
    item: Option<u32>,
    model: usize,
}

/// One known output and how it arrived.
#[derive(Debug, Clone)]
struct Entry {
    text: Arc<str>,
    usage: Usage,
    /// The input-token estimate of the call that produced it.
    estimate: u64,
    ttft: Duration,
    /// From the first token to the end of the stream.
    rest: Duration,
}

#[derive(Default)]
struct Known {
    entries: HashMap<Key, Entry>,
    /// Calls made to a model (a live failure counts: it was a request).
    calls: u64,
    spent: Money,
}

/// Calls so far and what they cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spend {
    pub calls: u64,
    pub outputs: usize,
    pub spent: Money,
}

/// The memoizing provider. Cheap to clone (shared memory).
#[derive(Clone)]
pub struct Memo {
    inner: Providers,
    known: Arc<Mutex<Known>>,
    live: Option<Arc<Background>>,
}

/// A real-time runtime for live calls, shut down without blocking when the memo goes.
struct Background(Option<tokio::runtime::Runtime>);

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl Memo {
    /// Wraps `inner`. When it calls real providers, a runtime is started for them.
    pub fn new(inner: Providers) -> std::io::Result<Memo> {
        let live = if inner.is_simulated() {
            None
        } else {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
            Some(Arc::new(Background(Some(rt))))
        };
        Ok(Memo { inner, known: Arc::new(Mutex::new(Known::default())), live })
    }

    pub fn spend(&self) -> Spend {
        let k = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        Spend { calls: k.calls, outputs: k.entries.len(), spent: k.spent }
    }

    fn lookup(&self, key: &Key) -> Option<Entry> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner).entries.get(key).cloned()
    }
}

fn remember(known: &Mutex<Known>, key: Key, entry: Option<Entry>, cost: Money) {
    let mut k = known.lock().unwrap_or_else(PoisonError::into_inner);
    k.calls += 1;
    k.spent += cost;
    if let Some(e) = entry {
        k.entries.insert(key, e);
    }
}

impl Provider for Memo {
    fn call(&self, req: CallRequest<'_>) -> ChunkStream {
        let key = Key { seed: req.seed, task: req.task, node: req.node, item: req.item.as_ref().map(|(i, _)| *i), model: req.model };
        if let Some(e) = self.lookup(&key) {
            return replay(e, req.input_tokens);
        }
        let model = req.model();
        if self.live.is_none() || model.provider == ProviderKind::Sim {
            let plan = sim::plan(&req);
            let ttft = plan.ttft;
            let rest = plan.chunks.iter().skip(1).map(|c| c.0).sum();
            let cost = model.cost(&plan.usage).total();
            let entry = Entry { text: Arc::from(plan.text), usage: plan.usage, estimate: req.input_tokens, ttft, rest };
            remember(&self.known, key, Some(entry.clone()), cost);
            return replay(entry, req.input_tokens);
        }
        let (Some(bg), Some(provider)) = (self.live.as_ref().and_then(|b| b.0.as_ref()), self.inner.for_model(model).cloned()) else {
            let e = CallError::new(ErrorKind::BadRequest, format!("no provider for '{}' models is configured", model.provider));
            return Box::pin(futures::stream::once(async move { Err(e) }));
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let known = self.known.clone();
        let estimate = req.input_tokens;
        let price = model.clone();
        let req = req.keep();
        bg.spawn(async move {
            let result = collect(provider.call(req.request()), estimate).await;
            let (entry, usage) = match &result {
                Ok(e) => (Some(e.clone()), Some(e.usage)),
                Err(e) => (None, e.usage),
            };
            remember(&known, key, entry, usage.map_or(Money::ZERO, |u| price.cost(&u).total()));
            drop(tx.send(result));
        });
        let waiting = futures::stream::once(async { Ok(Chunk::Waiting { why: "the optimizer is calling the model".into() }) });
        let answer = futures::stream::once(rx).flat_map(move |r| -> ChunkStream {
            let sent = futures::stream::once(async { Ok(Chunk::Sent) });
            match r {
                Ok(Ok(entry)) => Box::pin(sent.chain(replay(entry, estimate))),
                Ok(Err(e)) => Box::pin(sent.chain(futures::stream::once(async move { Err(e) }))),
                Err(_) => Box::pin(futures::stream::once(async { Err(CallError::new(ErrorKind::Network, "the call was dropped")) })),
            }
        });
        Box::pin(waiting.chain(answer))
    }
}

/// Reads a live call to its end on the real clock.
async fn collect(mut stream: ChunkStream, estimate: u64) -> Result<Entry, CallError> {
    let mut t0 = tokio::time::Instant::now();
    let mut first = None;
    let mut text = String::new();
    let mut usage = None;
    while let Some(chunk) = stream.next().await {
        match chunk? {
            Chunk::Sent => t0 = tokio::time::Instant::now(),
            // The raw exchange is the first call's: a replayed answer sends nothing.
            Chunk::Waiting { .. } | Chunk::Request(_) | Chunk::Response(_) => {}
            Chunk::Usage(u) => usage = Some(u),
            Chunk::Text { text: piece, .. } => {
                first.get_or_insert_with(tokio::time::Instant::now);
                text.push_str(&piece);
            }
        }
    }
    let end = tokio::time::Instant::now();
    let first = first.unwrap_or(end);
    let usage = usage.unwrap_or(Usage { input: estimate, output: u64::from(crate::tokens::count(&text)), ..Usage::default() });
    Ok(Entry { text: Arc::from(text), usage, estimate, ttft: first - t0, rest: end - first })
}

/// Plays a known output: its first token after its time to first token, the end after the rest.
/// The input is re-counted on this call's estimate, so a candidate that sends more context pays
/// for it.
fn replay(e: Entry, input_tokens: u64) -> ChunkStream {
    let mut usage = e.usage;
    if input_tokens != e.estimate {
        usage.input = (usage.input + input_tokens).saturating_sub(e.estimate);
        usage.cached = usage.cached.min(usage.input);
    }
    let out = u32::try_from(usage.output).unwrap_or(u32::MAX);
    let (ttft, rest, text) = (e.ttft, e.rest, e.text);
    let first = futures::stream::once(async move {
        crate::engine::vtime::sleep(ttft).await;
        Ok(Chunk::Text { text: text.to_string(), tokens: Some(out) })
    });
    let end = futures::stream::once(async move {
        crate::engine::vtime::sleep(rest).await;
        Ok(Chunk::Usage(usage))
    });
    Box::pin(first.chain(end))
}
