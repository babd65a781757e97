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

use super::{CallError, CallRequest, Chunk, ChunkStream, ErrorKind, Provider};
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

/// The request for one call.
fn request(client: &reqwest::Client, m: &Model, req: &CallRequest, key: Option<&str>) -> reqwest::RequestBuilder {
    let prompt = req.prompt_text();
    let base = base_url(m);
    match m.provider {
        ProviderKind::Anthropic => {
            let body = json!({
                "model": m.api_model,
                "max_tokens": req.max_tokens,
                "stream": true,
                "messages": [{"role": "user", "content": prompt}],
            });
            let mut r = client.post(format!("{base}/messages")).header("anthropic-version", "2023-06-01").json(&body);
            if let Some(k) = key {
                r = r.header("x-api-key", k);
            }
            r
        }
        ProviderKind::Gemini => {
            let body = json!({
                "contents": [{"role": "user", "parts": [{"text": prompt}]}],
                "generationConfig": {"maxOutputTokens": req.max_tokens},
            });
            let mut r = client.post(format!("{base}/models/{}:streamGenerateContent?alt=sse", m.api_model)).json(&body);
            if let Some(k) = key {
                r = r.header("x-goog-api-key", k);
            }
            r
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
            let mut r = client.post(format!("{base}/chat/completions")).json(&body);
            if let Some(k) = key {
                r = r.bearer_auth(k);
            }
            r
        }
    }
}

/// The message inside a JSON error value: `{"error": {"message": ...}}` (all three
/// providers), `{"error": "..."}` or `{"message": ...}`.
fn json_error_message(v: &Value) -> Option<String> {
    v.pointer("/error/message")
        .or_else(|| v.get("error").filter(|e| e.is_string()))
        .or_else(|| v.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A provider's error message from an error body: JSON, or server-sent events whose `data:`
/// carries the JSON (some proxies answer a 503 as an SSE `error` event), else the body's
/// first 300 characters. Keys a server echoes are redacted here, before anything keeps it.
fn error_message(body: &str) -> String {
    let v: Option<Value> = serde_json::from_str(body).ok();
    let msg = v.as_ref().and_then(json_error_message).or_else(|| {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find_map(|v| json_error_message(&v))
    });
    let mut m = msg.unwrap_or_else(|| body.trim().chars().take(300).collect());
    if m.is_empty() {
        m = "(no body)".to_string();
    }
    crate::sanitize::redact(&m).into_owned()
}

/// What went wrong sending a request, in words a person can act on: reqwest's own message is
/// "error sending request", so walk the error's sources for the cause.
fn send_error(e: &reqwest::Error, base: &str) -> CallError {
    let mut causes = Vec::new();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        causes.push(s.to_string());
        src = s.source();
    }
    let all = causes.join(": ").to_lowercase();
    let (kind, what) = if e.is_timeout() || all.contains("timed out") {
        (ErrorKind::Timeout, format!("timed out connecting to {base}"))
    } else if all.contains("connection refused") {
        (ErrorKind::Network, format!("connection refused: {base} — is the server running?"))
    } else if all.contains("dns") || all.contains("failed to lookup") || all.contains("name or service not known") {
        (ErrorKind::Network, format!("cannot resolve the host of {base} (DNS) — check base_url"))
    } else if all.contains("certificate") || all.contains("tls") {
        (ErrorKind::Network, format!("TLS failed with {base}: {}", causes.last().map_or("", String::as_str)))
    } else {
        let why = causes.last().cloned().unwrap_or_else(|| e.to_string());
        (ErrorKind::Network, format!("cannot reach {base}: {why}"))
    };
    CallError::new(kind, crate::sanitize::redact(&what).into_owned())
}

/// What `baton doctor --check` found for one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerCheck {
    Ok,
    /// The key is missing: the variable (or key file) to set.
    KeyMissing(String),
    /// 401 or 403 with the key: the status, the variable it came from, the server's message.
    KeyRejected {
        status: u16,
        variable: String,
        message: String,
    },
    /// Nothing answered: connection refused, timeout, DNS (with the URL).
    Unreachable(String),
    /// It answered, but not with success: the status and its message.
    Failed {
        status: u16,
        message: String,
    },
}

impl ServerCheck {
    pub fn is_ok(&self) -> bool {
        *self == ServerCheck::Ok
    }
}

impl std::fmt::Display for ServerCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerCheck::Ok => f.write_str("ok"),
            ServerCheck::KeyMissing(v) => write!(f, "key missing ({v})"),
            ServerCheck::KeyRejected { status, variable, message } => {
                write!(f, "key rejected ({status}, variable {variable}): {message}")
            }
            ServerCheck::Unreachable(why) => write!(f, "unreachable ({why})"),
            ServerCheck::Failed { status, message } => write!(f, "answered {status}: {message}"),
        }
    }
}

/// Calls a provider's cheapest authenticated endpoint (its model list) with the key the way a
/// real call sends it: OpenAI-compatible `GET /models` with a bearer token, Anthropic
/// `GET /v1/models` with `x-api-key` and `anthropic-version`, Gemini `GET /models` with
/// `x-goog-api-key`. Costs nothing at any provider.
pub async fn check_server(client: &reqwest::Client, m: &Model) -> ServerCheck {
    let key = match key_for(m) {
        Ok(k) => k,
        Err(_) => {
            let what = m.key_file.clone().map(|f| format!("key file {f}")).or_else(|| m.key_env.clone()).unwrap_or_default();
            return ServerCheck::KeyMissing(what);
        }
    };
    let base = base_url(m);
    let mut r = client.get(format!("{base}/models"));
    if let Some(k) = key.as_deref() {
        r = match m.provider {
            ProviderKind::Anthropic => r.header("x-api-key", k),
            ProviderKind::Gemini => r.header("x-goog-api-key", k),
            ProviderKind::Openai | ProviderKind::Sim => r.bearer_auth(k),
        };
    }
    if m.provider == ProviderKind::Anthropic {
        r = r.header("anthropic-version", "2023-06-01");
    }
    let resp = match r.send().await {
        Ok(r) => r,
        Err(e) => {
            let msg = send_error(&e, &base).message;
            // "connection refused: URL — is the server running?" reads better without the prefix.
            return ServerCheck::Unreachable(msg);
        }
    };
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return ServerCheck::Ok;
    }
    let message = error_message(&resp.text().await.unwrap_or_default());
    match status {
        401 | 403 => ServerCheck::KeyRejected {
            status,
            variable: m
                .key_file
                .clone()
                .map(|f| format!("key file {f}"))
                .or_else(|| m.key_env.clone())
                .unwrap_or_else(|| "none set".into()),
            message,
        },
        _ => ServerCheck::Failed { status, message },
    }
}

fn is_context_overflow(msg: &str) -> bool {
    let m = msg.to_lowercase();
    [
        "context_length_exceeded",
        "maximum context length",
        "context window",
        "prompt is too long",
        "too many tokens",
        "exceeds the maximum",
        "input is too long",
        "input token count",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// Retry-After in seconds (or retry-after-ms); an HTTP date is read as "soon".
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(ms) = h.get("retry-after-ms").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    Some(v.parse::<f64>().map(Duration::from_secs_f64).unwrap_or(Duration::from_secs(1)))
}

/// Maps an HTTP error status to a call error, naming the key variable for auth failures.
pub fn status_error(m: &Model, status: u16, body: &str, retry_after: Option<Duration>) -> CallError {
    let msg = error_message(body);
    let who = format!("{} ({})", m.id, m.provider);
    let mut e = match status {
        401 | 403 => {
            let fix = match &m.key_env {
                Some(var) => format!("check {var}"),
                None => "this server needs a key: set key_env for the model in your catalog".to_string(),
            };
            CallError::new(ErrorKind::Auth, format!("{status} from {who}: {msg}; {fix}"))
        }
        429 => CallError::new(ErrorKind::RateLimited, format!("429 rate limited by {who}: {msg}")),
        408 | 500..=599 => CallError::new(ErrorKind::Server, format!("{status} from {who}: {msg}")),
        400 | 404 | 413 | 422 if is_context_overflow(&msg) => {
            CallError::new(ErrorKind::ContextOverflow, format!("{status} from {who}: the prompt does not fit: {msg}"))
        }
        _ => CallError::new(ErrorKind::BadRequest, format!("{status} from {who}: {msg}")),
    };
    e.retry_after = retry_after;
    e
}

/// What the stream has said so far.
#[derive(Default)]
struct StreamState {
    usage: Usage,
    has_usage: bool,
    /// The protocol's end marker arrived (`[DONE]`, `message_stop`).
    finished: bool,
    /// The model finished its answer (a finish or stop reason, or OpenAI's closing usage
    /// chunk): the text is complete even if the connection drops before the end marker.
    answered: bool,
}

impl StreamState {
    fn complete(&self) -> bool {
        self.finished || self.answered
    }
}

fn n(v: &Value, p: &str) -> u64 {
    v.pointer(p).and_then(Value::as_u64).unwrap_or(0)
}

fn protocol(kind: ProviderKind, data: &str, e: serde_json::Error) -> CallError {
    let head: String = data.chars().take(120).collect();
    CallError::new(ErrorKind::Protocol, format!("malformed {kind} stream chunk ({e}): {head}"))
}

/// Reads one event; returns the text it carries, if any.
fn on_event(kind: ProviderKind, st: &mut StreamState, ev: &Sse) -> Result<Option<String>, CallError> {
    let data = ev.data.trim();
    if data.is_empty() {
        return Ok(None);
    }
    if data == "[DONE]" {
        st.finished = true;
        return Ok(None);
    }
    let v: Value = serde_json::from_str(data).map_err(|e| protocol(kind, data, e))?;
    if let Some(err) = v.get("error") {
        let msg = err.get("message").and_then(Value::as_str).unwrap_or("error inside the stream").to_string();
        let t = err.get("type").and_then(Value::as_str).unwrap_or("");
        let kind_of = if t.contains("rate") {
            ErrorKind::RateLimited
        } else if is_context_overflow(&msg) {
            ErrorKind::ContextOverflow
        } else {
            ErrorKind::Server
        };
        let mut e = CallError::new(kind_of, format!("error in the stream: {}", crate::sanitize::redact(&msg)));
        e.usage = st.has_usage.then_some(st.usage);
        return Err(e);
    }
    match kind {
        ProviderKind::Openai | ProviderKind::Sim => {
            let choices = v.get("choices").and_then(Value::as_array);
            if choices.is_some_and(|cs| cs.iter().any(|c| c.get("finish_reason").is_some_and(|f| f.is_string()))) {
                st.answered = true;
            }
            if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
                // The closing usage chunk has no choices; servers that report usage on every
                // chunk (vLLM's continuous stats) send it beside choices, which is not the end.
                if choices.is_none_or(|cs| cs.is_empty()) {
                    st.answered = true;
                }
                // prompt_tokens includes the cached ones; reasoning is part of completion.
                let cached = n(u, "/prompt_tokens_details/cached_tokens");
                st.usage = Usage {
                    input: n(u, "/prompt_tokens").saturating_sub(cached),
                    cached,
                    cache_write: 0,
                    output: n(u, "/completion_tokens"),
                    reasoning: n(u, "/completion_tokens_details/reasoning_tokens"),
                };
                st.has_usage = true;
            }
            let text: String = v
                .get("choices")
                .and_then(Value::as_array)
                .map(|cs| cs.iter().filter_map(|c| c.pointer("/delta/content").and_then(Value::as_str)).collect())
                .unwrap_or_default();
            Ok((!text.is_empty()).then_some(text))
        }
        ProviderKind::Anthropic => match v.get("type").and_then(Value::as_str).unwrap_or(ev.event.as_str()) {
            // Each usage field comes from the latest event that carries it: message_start
            // first, then every message_delta (cumulative, as Anthropic documents). Proxies
            // such as LiteLLM send input_tokens 0 at the start and the real input and cache
            // counts in message_delta; taking the latest value never counts a field twice.
            "message_start" => {
                if let Some(u) = v.pointer("/message/usage") {
                    anthropic_usage(&mut st.usage, u);
                    st.has_usage = true;
                }
                Ok(None)
            }
            "content_block_delta" => Ok(v.pointer("/delta/text").and_then(Value::as_str).map(str::to_string)),
            "message_delta" => {
                if let Some(u) = v.get("usage") {
                    anthropic_usage(&mut st.usage, u);
                    st.has_usage = true;
                }
                if v.pointer("/delta/stop_reason").is_some_and(|r| r.is_string()) {
                    st.answered = true;
                }
                Ok(None)
            }
            "message_stop" => {
                st.finished = true;
                Ok(None)
            }
            _ => Ok(None),
        },
        ProviderKind::Gemini => {
            if v.pointer("/candidates/0/finishReason").is_some_and(|r| r.is_string()) {
                st.answered = true;
            }
            if let Some(u) = v.get("usageMetadata") {
                // promptTokenCount includes cached content; thoughts are billed as output.
                let cached = n(u, "/cachedContentTokenCount");
                let thoughts = n(u, "/thoughtsTokenCount");
                st.usage = Usage {
                    input: n(u, "/promptTokenCount").saturating_sub(cached),
                    cached,
                    cache_write: 0,
                    output: n(u, "/candidatesTokenCount") + thoughts,
                    reasoning: thoughts,
                };
                st.has_usage = true;
            }
            let text: String = v
                .pointer("/candidates/0/content/parts")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .filter(|p| !p.get("thought").and_then(Value::as_bool).unwrap_or(false))
                        .filter_map(|p| p.get("text").and_then(Value::as_str))
                        .collect()
                })
                .unwrap_or_default();
            Ok((!text.is_empty()).then_some(text))
        }
    }
}

/// Sets each Anthropic usage field the value carries, leaving the others as they were.
fn anthropic_usage(usage: &mut Usage, u: &Value) {
    let take = |field: &str, slot: &mut u64| {
        if let Some(x) = u.get(field).and_then(Value::as_u64) {
            *slot = x;
        }
    };
    take("input_tokens", &mut usage.input);
    take("cache_read_input_tokens", &mut usage.cached);
    take("cache_creation_input_tokens", &mut usage.cache_write);
    take("output_tokens", &mut usage.output);
}

/// The stream stopped (cleanly or not) before the model finished: a retryable failure. The
/// usage reported so far, if any, goes with it so the attempt is billed.
fn cut_short(st: &StreamState, why: String) -> CallError {
    let mut e = CallError::new(ErrorKind::Network, why);
    e.usage = st.has_usage.then_some(st.usage);
    e
}

type Events = std::pin::Pin<Box<dyn Stream<Item = Result<Sse, EventStreamError<reqwest::Error>>> + Send>>;

type Call = Box<(reqwest::Client, Arc<Limiter>, Model, CallRequest)>;

enum Step {
    Start(Call),
    /// Waiting for a slot or the rate window; nothing has been sent.
    Acquire(Call),
    /// A slot is held; the engine is told the request goes out, then it does.
    Send(Call, Option<OwnedSemaphorePermit>),
    Request(Call, Option<OwnedSemaphorePermit>),
    Streaming {
        events: Events,
        st: StreamState,
        kind: ProviderKind,
        _permit: Option<OwnedSemaphorePermit>,
    },
    Done,
}

impl Provider for Http {
    fn call(&self, req: CallRequest) -> ChunkStream {
        let model = req.model().clone();
        let Some(limiter) = self.limiters.get(&model.provider).cloned() else {
            return Box::pin(futures::stream::once(async move {
                Err(CallError::new(ErrorKind::BadRequest, format!("{} models are not served over HTTP", model.provider)))
            }));
        };
        let start = Step::Start(Box::new((self.client.clone(), limiter, model, req)));
        Box::pin(futures::stream::unfold(start, |step| async move {
            let mut step = step;
            loop {
                match step {
                    Step::Done => return None,
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
                        let resp = match request(&client, &model, &req, key.as_deref()).send().await {
                            Ok(r) => r,
                            // reqwest's messages name the URL, never the headers the key is in.
                            Err(e) => return Some((Err(send_error(&e, &base_url(&model))), Step::Done)),
                        };
                        let status = resp.status().as_u16();
                        if !(200..300).contains(&status) {
                            let after = retry_after(resp.headers());
                            let body = resp.text().await.unwrap_or_default();
                            return Some((Err(status_error(&model, status, &body, after)), Step::Done));
                        }
                        step = Step::Streaming {
                            events: Box::pin(resp.bytes_stream().eventsource()),
                            st: StreamState::default(),
                            kind: model.provider,
                            _permit: permit,
                        };
                    }
                    Step::Streaming { mut events, mut st, kind, _permit } => match events.next().await {
                        None if st.complete() => {
                            return st.has_usage.then_some((Ok(Chunk::Usage(st.usage)), Step::Done));
                        }
                        None => {
                            let e = cut_short(&st, "the stream ended before the model finished (no finish reason or end marker)".into());
                            return Some((Err(e), Step::Done));
                        }
                        // The answer and its usage are all there: a connection that drops now
                        // loses nothing, and retrying would bill the call twice.
                        Some(Err(_)) if st.complete() => {
                            return st.has_usage.then_some((Ok(Chunk::Usage(st.usage)), Step::Done));
                        }
                        Some(Err(EventStreamError::Transport(e))) => {
                            let why = format!("the connection broke mid-stream before the model finished: {e}");
                            return Some((Err(cut_short(&st, crate::sanitize::redact(&why).into_owned())), Step::Done));
                        }
                        Some(Err(e)) => {
                            let mut err = CallError::new(ErrorKind::Protocol, format!("not a valid event stream: {e}"));
                            err.usage = st.has_usage.then_some(st.usage);
                            return Some((Err(err), Step::Done));
                        }
                        Some(Ok(ev)) => match on_event(kind, &mut st, &ev) {
                            Err(e) => return Some((Err(e), Step::Done)),
                            Ok(Some(text)) => {
                                let text = crate::sanitize::redact(&text).into_owned();
                                return Some((Ok(Chunk::Text { text, tokens: None }), Step::Streaming { events, st, kind, _permit }));
                            }
                            Ok(None) if st.finished => {
                                return st.has_usage.then_some((Ok(Chunk::Usage(st.usage)), Step::Done));
                            }
                            Ok(None) => step = Step::Streaming { events, st, kind, _permit },
                        },
                    },
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(kind: ProviderKind, events: &[&str]) -> (String, StreamState) {
        let mut st = StreamState::default();
        let mut text = String::new();
        for e in events {
            if let Some(t) = on_event(kind, &mut st, &Sse { data: e.to_string(), ..Sse::default() }).expect("event parses") {
                text.push_str(&t);
            }
        }
        (text, st)
    }

    /// OpenAI's documented shape: the final chunk has empty choices and the usage, with cached
    /// prompt tokens and reasoning tokens in the details.
    #[test]
    fn openai_usage_with_cache_and_reasoning() {
        let (text, st) = feed(
            ProviderKind::Openai,
            &[
                r#"{"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#,
                r#"{"id":"c1","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}],"usage":null}"#,
                r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"#,
                r#"{"id":"c1","choices":[],"usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920},"completion_tokens_details":{"reasoning_tokens":192}}}"#,
                "[DONE]",
            ],
        );
        assert_eq!(text, "Hello");
        assert!(st.finished);
        assert_eq!(st.usage, Usage { input: 86, cached: 1920, cache_write: 0, output: 300, reasoning: 192 });
        // gpt-5: $1.25/M input, $0.125/M cached, $10/M output (reasoning billed as output).
        let p = crate::routing::Prices {
            input: crate::money::PerMillion::from_usd_per_million(1.25),
            cached_input: crate::money::PerMillion::from_usd_per_million(0.125),
            cache_write: crate::money::PerMillion::from_usd_per_million(1.25),
            output: crate::money::PerMillion::from_usd_per_million(10.0),
            reasoning: None,
        };
        // 86 × 1.25e-6 + 1920 × 0.125e-6 + 300 × 10e-6 = 0.0001075 + 0.00024 + 0.003
        assert_eq!(p.cost(&st.usage).total(), crate::money::Money::from_usd(0.0033475));
    }

    /// Anthropic's documented stream: usage in message_start (cache read and creation apart
    /// from input_tokens), cumulative output in message_delta.
    #[test]
    fn anthropic_usage_with_cache_read_and_write() {
        let (text, st) = feed(
            ProviderKind::Anthropic,
            &[
                r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":1000,"cache_read_input_tokens":2000,"output_tokens":1}}}"#,
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
                r#"{"type":"ping"}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}"#,
                r#"{"type":"content_block_stop","index":0}"#,
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
                r#"{"type":"message_stop"}"#,
            ],
        );
        assert_eq!(text, "Hello!");
        assert_eq!(st.usage, Usage { input: 25, cached: 2000, cache_write: 1000, output: 15, reasoning: 0 });
        // Sonnet 4.5: $3/M input, $0.30/M cache read, $3.75/M cache write, $15/M output.
        let cat = Catalog::builtin();
        let c = cat.cost("claude-sonnet-4-5", &st.usage);
        // 25 × 3e-6 = 0.000075; 2000 × 0.3e-6 + 1000 × 3.75e-6 = 0.0006 + 0.00375; 15 × 15e-6 = 0.000225
        assert_eq!(c.input, crate::money::Money::from_usd(0.000075));
        assert_eq!(c.cached, crate::money::Money::from_usd(0.00435));
        assert_eq!(c.output, crate::money::Money::from_usd(0.000225));
    }

    /// Gemini's usageMetadata: promptTokenCount includes cached content, thoughts are output.
    #[test]
    fn gemini_usage_with_cache_and_thoughts() {
        let (text, st) = feed(
            ProviderKind::Gemini,
            &[
                r#"{"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":1200,"totalTokenCount":1200},"modelVersion":"gemini-2.5-flash"}"#,
                r#"{"candidates":[{"content":{"parts":[{"text":"lo"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":1200,"candidatesTokenCount":40,"cachedContentTokenCount":1000,"thoughtsTokenCount":100,"totalTokenCount":1340}}"#,
            ],
        );
        assert_eq!(text, "Hello");
        assert_eq!(st.usage, Usage { input: 200, cached: 1000, cache_write: 0, output: 140, reasoning: 100 });
        // 2.5 Flash: $0.30/M input, $0.03/M cached, $2.50/M output.
        let c = Catalog::builtin().cost("gemini-2.5-flash", &st.usage);
        assert_eq!(c.total(), crate::money::Money::from_usd(200.0 * 0.30e-6 + 1000.0 * 0.03e-6 + 140.0 * 2.50e-6));
    }

    #[test]
    fn errors_map_to_what_the_engine_does_next() {
        let cat = Catalog::builtin();
        let m = cat.get("gpt-5-nano").expect("model");
        let e = status_error(m, 401, r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#, None);
        assert_eq!(e.kind, ErrorKind::Auth);
        assert!(e.message.contains("check OPENAI_API_KEY"), "{}", e.message);
        assert!(!e.retryable());
        let e = status_error(
            m,
            400,
            r#"{"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded"}}"#,
            None,
        );
        assert_eq!(e.kind, ErrorKind::ContextOverflow);
        let e = status_error(m, 429, "{}", Some(Duration::from_secs(7)));
        assert!(e.retryable() && e.retry_after == Some(Duration::from_secs(7)));
        assert_eq!(status_error(m, 503, "overloaded", None).kind, ErrorKind::Server);
        assert_eq!(status_error(m, 400, r#"{"error":{"message":"bad temperature"}}"#, None).kind, ErrorKind::BadRequest);
        let mut st = StreamState::default();
        let e = on_event(ProviderKind::Openai, &mut st, &Sse { data: "{not json".into(), ..Sse::default() }).expect_err("malformed");
        assert_eq!(e.kind, ErrorKind::Protocol);
        let e = on_event(
            ProviderKind::Anthropic,
            &mut st,
            &Sse { data: r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#.into(), ..Sse::default() },
        )
        .expect_err("error event");
        assert_eq!(e.kind, ErrorKind::Server);
    }
}
