//! Errors in words a person can act on: status codes, error bodies, send failures.

use super::*;

/// The message inside a JSON error value: `{"error": {"message": ...}}` (all three
/// providers), `{"error": "..."}` or `{"message": ...}`.
pub(super) fn json_error_message(v: &Value) -> Option<String> {
    v.pointer("/error/message")
        .or_else(|| v.get("error").filter(|e| e.is_string()))
        .or_else(|| v.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A provider's error message from an error body: JSON, or server-sent events whose `data:`
/// carries the JSON (some proxies answer a 503 as an SSE `error` event), else the body's
/// first 300 characters. Keys a server echoes are redacted here, before anything keeps it.
pub(super) fn error_message(body: &str) -> String {
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
pub(super) fn send_error(e: &reqwest::Error, base: &str) -> CallError {
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

pub(super) fn is_context_overflow(msg: &str) -> bool {
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
pub(super) fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
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
