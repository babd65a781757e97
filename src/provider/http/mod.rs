//! Real providers over HTTP, all streaming: OpenAI-compatible chat completions (OpenAI,
//! OpenRouter, Groq, Together, vLLM, Ollama, LM Studio, LiteLLM), Anthropic Messages, and Gemini
//! streamGenerateContent. Server-sent events are parsed by eventsource-stream (keep-alive
//! comments, CRLF, `event:` lines), and each protocol's usage is mapped to Baton's [`Usage`]
//! exactly as the provider bills it. Timing, timeouts, retries, fallbacks and cooldowns are the
//! engine's, the same for every provider; this module only says what happened.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use eventsource_stream::{Event as Sse, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::{CallError, CallRequest, Chunk, ChunkStream, ErrorKind, OwnedRequest, Provider, Response};
use crate::event::Exchange;
use crate::routing::catalog::Limits;
use crate::routing::{Catalog, Model, ProviderKind, Usage};

/// Installs rustls' ring crypto provider once per process (reqwest is built without one).
pub fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Reads a model's key: from the file it names, else the environment variable. Keys are
/// never stored anywhere else and never appear in a message: each value read is registered
/// with [`crate::sanitize`], which replaces it wherever text is shown or kept.
pub fn key_for(m: &Model) -> Result<Option<String>, CallError> {
    if let Some(path) = &m.key_file {
        return std::fs::read_to_string(path)
            .map(|k| {
                crate::sanitize::register_secret(&k);
                Some(k.trim().to_string())
            })
            .map_err(|e| CallError::new(ErrorKind::Auth, format!("cannot read the key file {path} for {}: {e}", m.id)));
    }
    match &m.key_env {
        None => Ok(None),
        Some(var) => match std::env::var(var) {
            Ok(k) if !k.trim().is_empty() => {
                crate::sanitize::register_secret(&k);
                Ok(Some(k.trim().to_string()))
            }
            _ => Err(CallError::new(
                ErrorKind::Auth,
                format!("{var} is not set: export {var} with your {} key (keys are read from the environment only)", m.provider),
            )),
        },
    }
}

/// Concurrency and per-minute limits for one provider.
struct Limiter {
    slots: Arc<Semaphore>,
    window: Mutex<VecDeque<(Instant, u64)>>,
    limits: Limits,
}

/// Why a call cannot be sent at once.
enum Busy {
    Slots,
    Window,
}

impl Limiter {
    /// Takes a slot and a place in the per-minute window if both are free now.
    fn try_now(&self, tokens: u64) -> Result<Option<OwnedSemaphorePermit>, Busy> {
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(tokio::sync::TryAcquireError::Closed) => return Ok(None),
            Err(tokio::sync::TryAcquireError::NoPermits) => return Err(Busy::Slots),
        };
        match self.window_wait(tokens) {
            None => Ok(Some(permit)),
            Some(_) => Err(Busy::Window),
        }
    }

    /// How long until the per-minute window has room for `tokens`; `None` takes the room.
    fn window_wait(&self, tokens: u64) -> Option<Duration> {
        let Ok(mut w) = self.window.lock() else { return None };
        let now = Instant::now();
        while w.front().is_some_and(|(t, _)| now.duration_since(*t) >= Duration::from_secs(60)) {
            w.pop_front();
        }
        let reqs = w.len() as u64;
        let toks: u64 = w.iter().map(|(_, n)| n).sum();
        let over_r = self.limits.requests_per_minute.is_some_and(|r| reqs >= u64::from(r));
        let over_t = self.limits.tokens_per_minute.is_some_and(|t| toks + tokens > t && toks > 0);
        if over_r || over_t {
            w.front().map(|(t, _)| Duration::from_secs(60).saturating_sub(now.duration_since(*t)) + Duration::from_millis(5))
        } else {
            w.push_back((now, tokens));
            None
        }
    }

    async fn acquire(&self, tokens: u64) -> Option<OwnedSemaphorePermit> {
        let permit = self.slots.clone().acquire_owned().await.ok()?;
        while let Some(d) = self.window_wait(tokens) {
            tokio::time::sleep(d).await;
        }
        Some(permit)
    }

    fn busy_reason(&self, busy: &Busy, provider: ProviderKind) -> String {
        match busy {
            Busy::Slots => format!("all {} {provider} slots are busy (max_concurrent)", self.limits.max_concurrent),
            Busy::Window => format!("{provider}'s per-minute limit is reached (requests_per_minute / tokens_per_minute)"),
        }
    }
}

/// The HTTP providers, sharing one client and per-provider limits.
pub struct Http {
    client: reqwest::Client,
    limiters: HashMap<ProviderKind, Arc<Limiter>>,
}

impl Http {
    pub fn new(catalog: &Catalog, connect_timeout: Duration) -> Result<Http, String> {
        install_crypto();
        // Every configured key is known from the start, so a server that echoes any of them
        // (some put the presented key in a 401 body) is redacted before anything keeps it.
        for m in &catalog.models {
            let _ = key_for(m);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let limiters = [ProviderKind::Openai, ProviderKind::Anthropic, ProviderKind::Gemini]
            .into_iter()
            .map(|k| {
                let limits = catalog.limits(k);
                (
                    k,
                    Arc::new(Limiter {
                        slots: Arc::new(Semaphore::new(limits.max_concurrent as usize)),
                        window: Mutex::new(VecDeque::new()),
                        limits,
                    }),
                )
            })
            .collect();
        Ok(Http { client, limiters })
    }
}

fn base_url(m: &Model) -> String {
    m.base_url.clone().or_else(|| m.provider.default_base_url().map(str::to_string)).unwrap_or_default().trim_end_matches('/').to_string()
}

/// The request for one call, and its body's text (what is sent, byte for byte).
fn request(client: &reqwest::Client, m: &Model, req: &CallRequest, key: Option<&str>) -> (reqwest::RequestBuilder, String) {
    let prompt = req.prompt_text();
    let base = base_url(m);
    // The body goes out as the very text the exchange keeps.
    let json = |r: reqwest::RequestBuilder, body: &Value| {
        let text = body.to_string();
        (r.header(reqwest::header::CONTENT_TYPE, "application/json").body(text.clone()), text)
    };
    let (r, text) = match m.provider {
        ProviderKind::Anthropic => {
            let body = json!({
                "model": m.api_model,
                "max_tokens": req.max_tokens,
                "stream": true,
                "messages": [{"role": "user", "content": prompt}],
            });
            let (mut r, text) = json(client.post(format!("{base}/messages")).header("anthropic-version", "2023-06-01"), &body);
            if let Some(k) = key {
                r = r.header("x-api-key", k);
            }
            (r, text)
        }
        ProviderKind::Gemini => {
            let body = json!({
                "contents": [{"role": "user", "parts": [{"text": prompt}]}],
                "generationConfig": {"maxOutputTokens": req.max_tokens},
            });
            let (mut r, text) = json(client.post(format!("{base}/models/{}:streamGenerateContent?alt=sse", m.api_model)), &body);
            if let Some(k) = key {
                r = r.header("x-goog-api-key", k);
            }
            (r, text)
        }
        ProviderKind::Openai | ProviderKind::Sim => {
            // OpenAI's own API wants max_completion_tokens (its reasoning models refuse
            // max_tokens); other OpenAI-compatible servers know max_tokens.
            let limit_field = if base.contains("api.openai.com") { "max_completion_tokens" } else { "max_tokens" };
            let mut body = json!({
                "model": m.api_model,
                "stream": true,
                "stream_options": {"include_usage": true},
                "messages": [{"role": "user", "content": prompt}],
            });
            body[limit_field] = json!(req.max_tokens);
            let (mut r, text) = json(client.post(format!("{base}/chat/completions")), &body);
            if let Some(k) = key {
                r = r.bearer_auth(k);
            }
            (r, text)
        }
    };
    // Keys travel in headers, never in the body; a prompt that quotes one is redacted all the same.
    (r, Exchange::capped(crate::sanitize::redact(&text).into_owned()))
}

type Events = std::pin::Pin<Box<dyn Stream<Item = Result<Sse, EventStreamError<reqwest::Error>>> + Send>>;

type Call = Box<(reqwest::Client, Arc<Limiter>, Model, OwnedRequest)>;

enum Step {
    Start(Call),
    /// Waiting for a slot or the rate window; nothing has been sent.
    Acquire(Call),
    /// A slot is held; the engine is told the request goes out, then it does.
    Send(Call, Option<OwnedSemaphorePermit>),
    Request(Call, Option<OwnedSemaphorePermit>),
    /// The engine has the body; now it goes out.
    Post(Box<(reqwest::RequestBuilder, Model)>, Option<OwnedSemaphorePermit>),
    Streaming {
        events: Events,
        st: StreamState,
        kind: ProviderKind,
        status: u16,
        _permit: Option<OwnedSemaphorePermit>,
    },
    /// The try's response has been reported; what ends the stream follows, if anything.
    Finish(Option<Result<Chunk, CallError>>),
    Done,
}

/// Ends a try: first what came back (for the exchange), then `last`.
fn finish(st: &mut StreamState, status: u16, last: Option<Result<Chunk, CallError>>) -> Option<(Result<Chunk, CallError>, Step)> {
    Some((Ok(Chunk::Response(Box::new(st.response(status)))), Step::Finish(last)))
}

impl Provider for Http {
    fn call(&self, req: CallRequest<'_>) -> ChunkStream {
        let model = req.model().clone();
        let Some(limiter) = self.limiters.get(&model.provider).cloned() else {
            return Box::pin(futures::stream::once(async move {
                Err(CallError::new(ErrorKind::BadRequest, format!("{} models are not served over HTTP", model.provider)))
            }));
        };
        let start = Step::Start(Box::new((self.client.clone(), limiter, model, req.keep())));
        Box::pin(futures::stream::unfold(start, |step| async move {
            let mut step = step;
            loop {
                match step {
                    Step::Done => return None,
                    Step::Finish(last) => return last.map(|x| (x, Step::Done)),
                    Step::Start(ctx) => {
                        let tokens = ctx.3.input_tokens + u64::from(ctx.3.max_tokens);
                        match ctx.1.try_now(tokens) {
                            Ok(permit) => step = Step::Send(ctx, permit),
                            Err(busy) => {
                                // Say so before waiting: the engine stops its clocks until
                                // the request is sent, so a queue never times a call out.
                                let why = ctx.1.busy_reason(&busy, ctx.2.provider);
                                return Some((Ok(Chunk::Waiting { why }), Step::Acquire(ctx)));
                            }
                        }
                    }
                    Step::Acquire(ctx) => {
                        let tokens = ctx.3.input_tokens + u64::from(ctx.3.max_tokens);
                        let permit = ctx.1.acquire(tokens).await;
                        step = Step::Send(ctx, permit);
                    }
                    // From here the first-token timeout runs.
                    Step::Send(ctx, permit) => return Some((Ok(Chunk::Sent), Step::Request(ctx, permit))),
                    Step::Request(ctx, permit) => {
                        let (client, _, model, req) = *ctx;
                        let key = match key_for(&model) {
                            Ok(k) => k,
                            Err(e) => return Some((Err(e), Step::Done)),
                        };
                        let (r, body) = request(&client, &model, &req.request(), key.as_deref());
                        return Some((Ok(Chunk::Request(body)), Step::Post(Box::new((r, model)), permit)));
                    }
                    Step::Post(ctx, permit) => {
                        let (r, model) = *ctx;
                        let resp = match r.send().await {
                            Ok(r) => r,
                            // reqwest's messages name the URL, never the headers the key is in.
                            Err(e) => return Some((Err(send_error(&e, &base_url(&model))), Step::Done)),
                        };
                        let status = resp.status().as_u16();
                        if !(200..300).contains(&status) {
                            let after = retry_after(resp.headers());
                            let body = resp.text().await.unwrap_or_default();
                            let e = status_error(&model, status, &body, after);
                            let raw = Response {
                                status: Some(status),
                                body: Exchange::capped(crate::sanitize::redact(&body).into_owned()),
                                usage: None,
                            };
                            return Some((Ok(Chunk::Response(Box::new(raw))), Step::Finish(Some(Err(e)))));
                        }
                        step = Step::Streaming {
                            events: Box::pin(resp.bytes_stream().eventsource()),
                            st: StreamState::default(),
                            kind: model.provider,
                            status,
                            _permit: permit,
                        };
                    }
                    Step::Streaming { mut events, mut st, kind, status, _permit } => match events.next().await {
                        None if st.complete() => {
                            let usage = st.has_usage.then_some(Ok(Chunk::Usage(st.usage)));
                            return finish(&mut st, status, usage);
                        }
                        None => {
                            let e = cut_short(&st, "the stream ended before the model finished (no finish reason or end marker)".into());
                            return finish(&mut st, status, Some(Err(e)));
                        }
                        // The answer and its usage are all there: a connection that drops now
                        // loses nothing, and retrying would bill the call twice.
                        Some(Err(_)) if st.complete() => {
                            let usage = st.has_usage.then_some(Ok(Chunk::Usage(st.usage)));
                            return finish(&mut st, status, usage);
                        }
                        Some(Err(EventStreamError::Transport(e))) => {
                            let why = format!("the connection broke mid-stream before the model finished: {e}");
                            let e = cut_short(&st, crate::sanitize::redact(&why).into_owned());
                            return finish(&mut st, status, Some(Err(e)));
                        }
                        Some(Err(e)) => {
                            let mut err = CallError::new(ErrorKind::Protocol, format!("not a valid event stream: {e}"));
                            err.usage = st.has_usage.then_some(st.usage);
                            return finish(&mut st, status, Some(Err(err)));
                        }
                        Some(Ok(ev)) => {
                            st.keep(&ev);
                            match on_event(kind, &mut st, &ev) {
                                Err(e) => return finish(&mut st, status, Some(Err(e))),
                                Ok(Some(text)) => {
                                    let text = crate::sanitize::redact(&text).into_owned();
                                    let next = Step::Streaming { events, st, kind, status, _permit };
                                    return Some((Ok(Chunk::Text { text, tokens: None }), next));
                                }
                                Ok(None) if st.finished => {
                                    let usage = st.has_usage.then_some(Ok(Chunk::Usage(st.usage)));
                                    return finish(&mut st, status, usage);
                                }
                                Ok(None) => step = Step::Streaming { events, st, kind, status, _permit },
                            }
                        }
                    },
                }
            }
        }))
    }
}

mod doctor;
mod errors;
mod stream;
#[cfg(test)]
mod tests;

pub use doctor::{ServerCheck, check_server};
pub use errors::status_error;
use errors::*;
use stream::*;
