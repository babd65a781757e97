//! Providers: the backends that serve model calls. Each turns a request into a stream of
//! chunks; the engine owns timing, timeouts, retries and fallbacks, so every provider gets the
//! same resilience and every delay is measured the same way.

pub mod http;
pub mod rng;
pub mod sim;

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;

use crate::event::Origin;
use crate::flow::Flow;
use crate::routing::{Catalog, Model, ProviderKind, Usage};

/// A piece of a streamed response.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    /// Output text; `tokens` is the provider's count for the piece when it gives one.
    Text { text: String, tokens: Option<u32> },
    /// The provider's own accounting of the call.
    Usage(Usage),
    /// The call waits for a concurrency slot or a rate-limit window before it is sent; the
    /// engine's timeouts do not run meanwhile. `why` says what it waits for.
    Waiting { why: String },
    /// The request has gone out: timeouts and time to first token count from here.
    Sent,
    /// The body of the request about to be sent (HTTP providers only, redacted): the first
    /// half of the try's [`crate::event::Exchange`], so a try the engine times out still shows
    /// what it asked.
    Request(String),
    /// What came back for the request (HTTP providers only, redacted and capped), sent as the
    /// try ends, before its error if it failed.
    Response(Box<Response>),
}

/// The raw answer to one request: see [`crate::event::Exchange`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    pub status: Option<u16>,
    pub body: String,
    pub usage: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 429: too many requests.
    RateLimited,
    /// 5xx, an overloaded server, a connection reset.
    Server,
    /// No first token, or a gap between chunks, longer than allowed.
    Timeout,
    /// The request could not be sent or the connection dropped.
    Network,
    /// The prompt does not fit the model's context window.
    ContextOverflow,
    /// 401/403: the key is missing or wrong.
    Auth,
    /// 400 and other requests the server will never accept.
    BadRequest,
    /// The server answered with something that is not the protocol.
    Protocol,
}

/// A failed call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    pub kind: ErrorKind,
    pub message: String,
    /// What the server asked for in Retry-After.
    pub retry_after: Option<Duration>,
    /// What the provider reported billing for the failed call before it failed (for example
    /// Anthropic's `message_start` usage before a cut stream), so the attempt is billed.
    pub usage: Option<Usage>,
}

impl CallError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> CallError {
        CallError { kind, message: message.into(), retry_after: None, usage: None }
    }

    /// Errors worth trying again on the same model.
    pub fn retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::RateLimited | ErrorKind::Server | ErrorKind::Timeout | ErrorKind::Network | ErrorKind::Protocol)
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Everything a provider needs for one call, borrowed from the run that makes it: a call
/// answered at once (the simulator, a replayed or remembered answer) takes no reference
/// counts. Cloning the catalog, the flow and the parts into every request, and dropping them
/// again, was an eighth of a simulated node's time (`perf annotate`: the atomic counts).
/// A provider that answers later keeps an [`OwnedRequest`].
#[derive(Clone, Copy)]
pub struct CallRequest<'a> {
    pub catalog: &'a Arc<Catalog>,
    pub model: usize,
    pub flow: &'a Arc<Flow>,
    pub node: usize,
    /// For a fan-out instance: its index and item text.
    pub item: Option<(u32, &'a Arc<str>)>,
    /// The input, in order, with where each part came from.
    pub parts: &'a Arc<[(Origin, Arc<str>)]>,
    pub input_tokens: u64,
    pub max_tokens: u32,
    /// Seeds for the simulator: the run's seed, a hash of the run's input, and the try number.
    pub seed: u64,
    pub task: u64,
    pub try_no: u32,
}

/// A [`CallRequest`] kept past the call that made it, by a provider that answers later.
pub struct OwnedRequest {
    catalog: Arc<Catalog>,
    model: usize,
    flow: Arc<Flow>,
    node: usize,
    item: Option<(u32, Arc<str>)>,
    parts: Arc<[(Origin, Arc<str>)]>,
    pub input_tokens: u64,
    pub max_tokens: u32,
    seed: u64,
    task: u64,
    try_no: u32,
}

impl CallRequest<'_> {
    pub fn model(&self) -> &Model {
        &self.catalog.models[self.model]
    }

    /// The input as one user message.
    pub fn prompt_text(&self) -> String {
        let mut s = String::new();
        for (i, (_, text)) in self.parts.iter().enumerate() {
            if i > 0 {
                s.push_str("\n\n");
            }
            s.push_str(text);
        }
        s
    }

    /// The request, kept: for a provider that answers after `call` has returned.
    pub fn keep(&self) -> OwnedRequest {
        OwnedRequest {
            catalog: self.catalog.clone(),
            model: self.model,
            flow: self.flow.clone(),
            node: self.node,
            item: self.item.map(|(k, t)| (k, t.clone())),
            parts: self.parts.clone(),
            input_tokens: self.input_tokens,
            max_tokens: self.max_tokens,
            seed: self.seed,
            task: self.task,
            try_no: self.try_no,
        }
    }
}

impl OwnedRequest {
    /// The kept request, to hand to what takes a [`CallRequest`].
    pub fn request(&self) -> CallRequest<'_> {
        CallRequest {
            catalog: &self.catalog,
            model: self.model,
            flow: &self.flow,
            node: self.node,
            item: self.item.as_ref().map(|(k, t)| (*k, t)),
            parts: &self.parts,
            input_tokens: self.input_tokens,
            max_tokens: self.max_tokens,
            seed: self.seed,
            task: self.task,
            try_no: self.try_no,
        }
    }
}

pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Chunk, CallError>> + Send>>;

pub trait Provider: Send + Sync {
    fn call(&self, req: CallRequest<'_>) -> ChunkStream;
}

/// Which provider serves which model.
#[derive(Clone)]
pub struct Providers {
    by_kind: HashMap<ProviderKind, Arc<dyn Provider>>,
    /// When set, serves every model (the simulator, or a test double).
    all: Option<Arc<dyn Provider>>,
}

impl Providers {
    /// Every model is simulated from its catalog profile.
    pub fn simulated() -> Providers {
        Providers::only(Arc::new(sim::SimProvider))
    }

    /// One provider for every model.
    pub fn only(p: Arc<dyn Provider>) -> Providers {
        Providers { by_kind: HashMap::new(), all: Some(p) }
    }

    pub fn with(mut self, kind: ProviderKind, p: Arc<dyn Provider>) -> Providers {
        self.by_kind.insert(kind, p);
        self
    }

    /// Real providers for every model whose catalog entry names one; `sim` models stay
    /// simulated.
    pub fn live(catalog: &crate::routing::Catalog, connect_timeout: Duration) -> Result<Providers, String> {
        let http: Arc<dyn Provider> = Arc::new(http::Http::new(catalog, connect_timeout)?);
        Ok(Providers::empty()
            .with(ProviderKind::Openai, http.clone())
            .with(ProviderKind::Anthropic, http.clone())
            .with(ProviderKind::Gemini, http)
            .with(ProviderKind::Sim, Arc::new(sim::SimProvider)))
    }

    pub fn empty() -> Providers {
        Providers { by_kind: HashMap::new(), all: None }
    }

    /// The provider that serves `m`, borrowed: a call takes no count of it (cloning it for
    /// every call was a tenth of the engine's own time on a simulated node, `perf annotate`).
    pub fn for_model(&self, m: &Model) -> Option<&Arc<dyn Provider>> {
        self.all.as_ref().or_else(|| self.by_kind.get(&m.provider))
    }

    pub fn is_simulated(&self) -> bool {
        self.all.is_some() && self.by_kind.is_empty()
    }
}
