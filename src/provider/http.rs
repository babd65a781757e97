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
/// never stored anywhere else and never appear in a message.
pub fn key_for(m: &Model) -> Result<Option<String>, CallError> {
    if let Some(path) = &m.key_file {
        return std::fs::read_to_string(path)
            .map(|k| Some(k.trim().to_string()))
            .map_err(|e| CallError::new(ErrorKind::Auth, format!("cannot read the key file {path} for {}: {e}", m.id)));
    }
    match &m.key_env {
        None => Ok(None),
        Some(var) => match std::env::var(var) {
            Ok(k) if !k.trim().is_empty() => Ok(Some(k.trim().to_string())),
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

impl Limiter {
    async fn acquire(&self, tokens: u64) -> Option<OwnedSemaphorePermit> {
        let permit = self.slots.clone().acquire_owned().await.ok()?;
        loop {
            let wait = {
                let Ok(mut w) = self.window.lock() else { break };
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
            };
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => break,
            }
        }
        Some(permit)
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

/// A provider's error message from a JSON body (`{"error": {"message": ...}}` in all three).
fn error_message(body: &str) -> String {
    let v: Option<Value> = serde_json::from_str(body).ok();
    let msg = v.as_ref().and_then(|v| v.pointer("/error/message").or_else(|| v.get("message")).and_then(Value::as_str).map(str::to_string));
    let mut m = msg.unwrap_or_else(|| body.trim().chars().take(300).collect());
    if m.is_empty() {
        m = "(no body)".to_string();
    }
    m
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
    finished: bool,
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
        return Err(CallError::new(kind_of, format!("error in the stream: {msg}")));
    }
    match kind {
        ProviderKind::Openai | ProviderKind::Sim => {
            if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
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
            "message_start" => {
                let u = v.pointer("/message/usage").cloned().unwrap_or(Value::Null);
                st.usage.input = n(&u, "/input_tokens");
                st.usage.cached = n(&u, "/cache_read_input_tokens");
                st.usage.cache_write = n(&u, "/cache_creation_input_tokens");
                st.usage.output = n(&u, "/output_tokens");
                st.has_usage = true;
                Ok(None)
            }
            "content_block_delta" => Ok(v.pointer("/delta/text").and_then(Value::as_str).map(str::to_string)),
            "message_delta" => {
                // Cumulative output tokens for the message so far.
                if let Some(o) = v.pointer("/usage/output_tokens").and_then(Value::as_u64) {
                    st.usage.output = o;
                    st.has_usage = true;
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

type Events = std::pin::Pin<Box<dyn Stream<Item = Result<Sse, EventStreamError<reqwest::Error>>> + Send>>;

enum Step {
    Start(Box<(reqwest::Client, Arc<Limiter>, Model, CallRequest)>),
    Streaming { events: Events, st: StreamState, kind: ProviderKind, _permit: Option<OwnedSemaphorePermit> },
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
                        let (client, limiter, model, req) = *ctx;
                        let key = match key_for(&model) {
                            Ok(k) => k,
                            Err(e) => return Some((Err(e), Step::Done)),
                        };
                        let permit = limiter.acquire(req.input_tokens + u64::from(req.max_tokens)).await;
                        let resp = match request(&client, &model, &req, key.as_deref()).send().await {
                            Ok(r) => r,
                            Err(e) => {
                                let kind = if e.is_timeout() { ErrorKind::Timeout } else { ErrorKind::Network };
                                // reqwest's message names the URL, never the headers the key is in.
                                return Some((Err(CallError::new(kind, format!("cannot reach {}: {e}", base_url(&model)))), Step::Done));
                            }
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
                        None => {
                            // The stream ended, with or without [DONE]: hand over the usage.
                            if st.has_usage {
                                let u = st.usage;
                                return Some((Ok(Chunk::Usage(u)), Step::Done));
                            }
                            return None;
                        }
                        Some(Err(EventStreamError::Transport(e))) => {
                            return Some((
                                Err(CallError::new(ErrorKind::Network, format!("the connection broke mid-stream: {e}"))),
                                Step::Done,
                            ));
                        }
                        Some(Err(e)) => {
                            return Some((Err(CallError::new(ErrorKind::Protocol, format!("not a valid event stream: {e}"))), Step::Done));
                        }
                        Some(Ok(ev)) => match on_event(kind, &mut st, &ev) {
                            Err(e) => return Some((Err(e), Step::Done)),
                            Ok(Some(text)) => {
                                return Some((Ok(Chunk::Text { text, tokens: None }), Step::Streaming { events, st, kind, _permit }));
                            }
                            Ok(None) if st.finished => {
                                let u = st.usage;
                                let has = st.has_usage;
                                return has.then_some((Ok(Chunk::Usage(u)), Step::Done));
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
