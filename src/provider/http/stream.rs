//! The three streaming protocols, one server-sent event at a time, into text and usage.

use super::*;

/// What the stream has said so far.
#[derive(Default)]
pub(super) struct StreamState {
    pub(super) usage: Usage,
    pub(super) has_usage: bool,
    /// The protocol's end marker arrived (`[DONE]`, `message_stop`).
    pub(super) finished: bool,
    /// The model finished its answer (a finish or stop reason, or OpenAI's closing usage
    /// chunk): the text is complete even if the connection drops before the end marker.
    pub(super) answered: bool,
    /// The events as received, for the try's exchange: up to [`Exchange::CAP`] bytes, then
    /// only a count of what was cut.
    pub(super) raw: String,
    pub(super) raw_cut: usize,
    /// The usage payloads as received: the latest (Anthropic: its start's, then its latest
    /// delta's).
    pub(super) usage_raw: [Option<String>; 2],
}

impl StreamState {
    /// Keeps an event's name and data as the server sent them.
    pub(super) fn keep(&mut self, ev: &Sse) {
        let named = !ev.event.is_empty() && ev.event != "message";
        let len = ev.data.len() + if named { ev.event.len() + 8 } else { 0 } + 8;
        if self.raw_cut > 0 || self.raw.len() + len > Exchange::CAP {
            self.raw_cut += len;
            return;
        }
        if named {
            self.raw.push_str("event: ");
            self.raw.push_str(&ev.event);
            self.raw.push('\n');
        }
        self.raw.push_str("data: ");
        self.raw.push_str(&ev.data);
        self.raw.push_str("\n\n");
    }

    /// What came back, for the exchange (redacted: a server may echo a key).
    pub(super) fn response(&mut self, status: u16) -> Response {
        let mut body = crate::sanitize::redact(&std::mem::take(&mut self.raw)).into_owned();
        if self.raw_cut > 0 {
            body.push_str(&format!("… {} bytes cut", self.raw_cut));
        }
        let usage: Vec<String> = self.usage_raw.iter_mut().filter_map(Option::take).collect();
        let usage = (!usage.is_empty()).then(|| crate::sanitize::redact(&usage.join("\n")).into_owned());
        Response { status: Some(status), body, usage }
    }

    pub(super) fn complete(&self) -> bool {
        self.finished || self.answered
    }
}

pub(super) fn n(v: &Value, p: &str) -> u64 {
    v.pointer(p).and_then(Value::as_u64).unwrap_or(0)
}

pub(super) fn protocol(kind: ProviderKind, data: &str, e: serde_json::Error) -> CallError {
    let head: String = data.chars().take(120).collect();
    CallError::new(ErrorKind::Protocol, format!("malformed {kind} stream chunk ({e}): {head}"))
}

/// Reads one event; returns the text it carries, if any.
pub(super) fn on_event(kind: ProviderKind, st: &mut StreamState, ev: &Sse) -> Result<Option<String>, CallError> {
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
                st.usage_raw[0] = Some(u.to_string());
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
                    st.usage_raw[0] = Some(u.to_string());
                    anthropic_usage(&mut st.usage, u);
                    st.has_usage = true;
                }
                Ok(None)
            }
            "content_block_delta" => Ok(v.pointer("/delta/text").and_then(Value::as_str).map(str::to_string)),
            "message_delta" => {
                if let Some(u) = v.get("usage") {
                    st.usage_raw[1] = Some(u.to_string());
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
                st.usage_raw[0] = Some(u.to_string());
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
pub(super) fn anthropic_usage(usage: &mut Usage, u: &Value) {
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
pub(super) fn cut_short(st: &StreamState, why: String) -> CallError {
    let mut e = CallError::new(ErrorKind::Network, why);
    e.usage = st.has_usage.then_some(st.usage);
    e
}
