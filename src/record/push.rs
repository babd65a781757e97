//! OTLP/HTTP push: a run's spans (the document [`super::otlp`] builds) sent to a collector,
//! Phoenix, Langfuse or `baton watch`, as protobuf (the default) or JSON.
//!
//! Settings come from flags first, then the standard variables
//! (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` added,
//! `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`, `..._PROTOCOL`, `..._TIMEOUT`, `..._COMPRESSION`).
//! Header values often hold API keys: each is registered with [`crate::sanitize`] the moment
//! it is read, and no message here ever quotes one.

use std::time::Duration;

use serde_json::Value;

/// How the spans are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `http/protobuf`: `application/x-protobuf` (OTLP's default).
    Protobuf,
    /// `http/json`: `application/json`.
    Json,
}

impl Protocol {
    pub fn parse(text: &str) -> Option<Protocol> {
        match text.trim().to_ascii_lowercase().as_str() {
            "http/protobuf" => Some(Protocol::Protobuf),
            "http/json" => Some(Protocol::Json),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Protobuf => "http/protobuf",
            Protocol::Json => "http/json",
        }
    }
}

/// Where and how to push.
#[derive(Clone)]
pub struct PushConfig {
    /// The full traces URL (ending in `/v1/traces` unless given otherwise by
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
    pub url: String,
    pub protocol: Protocol,
    /// Header names and values; the values are secrets (never printed).
    headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub gzip: bool,
}

impl std::fmt::Debug for PushConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The header values stay out of every debug print.
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("PushConfig")
            .field("url", &self.url)
            .field("protocol", &self.protocol)
            .field("headers", &names)
            .field("timeout", &self.timeout)
            .field("gzip", &self.gzip)
            .finish()
    }
}

impl PushConfig {
    /// The names of the headers sent (their values are not shown anywhere).
    pub fn header_names(&self) -> Vec<&str> {
        self.headers.iter().map(|(k, _)| k.as_str()).collect()
    }
}

/// What the flags said. `endpoint: Some("")` is `--otlp-endpoint` without a value: the
/// endpoint then comes from the environment.
#[derive(Debug, Clone, Default)]
pub struct PushFlags<'a> {
    pub endpoint: Option<&'a str>,
    pub protocol: Option<Protocol>,
    pub headers: &'a [String],
}

/// `base` with `/v1/traces` appended unless its path already ends so.
fn traces_url(base: &str, what: &str) -> Result<String, String> {
    let url = checked_url(base, what)?;
    if url.path().trim_end_matches('/').ends_with("/v1/traces") {
        return Ok(url.to_string());
    }
    let mut u = url;
    let path = format!("{}/v1/traces", u.path().trim_end_matches('/'));
    u.set_path(&path);
    Ok(u.to_string())
}

fn checked_url(text: &str, what: &str) -> Result<reqwest::Url, String> {
    let hint = "give an http:// or https:// URL, e.g. http://localhost:4318 (a collector or `baton watch`), \
                http://localhost:6006/v1/traces (Phoenix) or https://cloud.langfuse.com/api/public/otel (Langfuse)";
    let url = reqwest::Url::parse(text.trim()).map_err(|e| format!("{what} '{text}' is not a URL ({e})\n  help: {hint}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{what} '{text}' is not an http:// or https:// URL\n  help: {hint} (gRPC is not pushed; use OTLP/HTTP)"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{what} holds a user name or password\n  help: send credentials as a header (--otlp-header Authorization=...), never in the URL"
        ));
    }
    Ok(url)
}

/// Percent-decodes a header value of `OTEL_EXPORTER_OTLP_HEADERS` (W3C baggage style).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Checks one header and registers its value as a secret. `what` names where it came from,
/// never its value.
fn header(key: &str, value: &str, what: &str) -> Result<(String, String), String> {
    let key = key.trim();
    let value = value.trim();
    crate::sanitize::register_secret(value);
    // A bearer or basic credential is a secret on its own too.
    if let Some((_, cred)) = value.split_once(' ') {
        crate::sanitize::register_secret(cred);
    }
    if reqwest::header::HeaderName::from_bytes(key.as_bytes()).is_err() || key.is_empty() {
        return Err(format!(
            "{what}: '{}' is not an HTTP header name\n  help: write KEY=VALUE, e.g. Authorization=Bearer%20<token>",
            crate::sanitize::for_terminal(key)
        ));
    }
    if reqwest::header::HeaderValue::from_str(value).is_err() {
        return Err(format!("{what}: the value of '{key}' is not a valid HTTP header value (it is not shown here)"));
    }
    Ok((key.to_ascii_lowercase(), value.to_string()))
}

fn env_headers(text: &str, var: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (n, entry) in text.split(',').enumerate().filter(|(_, e)| !e.trim().is_empty()) {
        let Some((k, v)) = entry.split_once('=') else {
            return Err(format!("{var}: entry {} is not key=value\n  help: write key1=value1,key2=value2", n + 1));
        };
        let Some(v) = percent_decode(v.trim()) else {
            return Err(format!("{var}: the value of entry {} has a bad %-escape (it is not shown here)", n + 1));
        };
        out.push(header(k, &v, var)?);
    }
    Ok(out)
}

/// Resolves the push settings: flags first, then the environment (read through `env`).
pub fn resolve(flags: &PushFlags<'_>, env: &dyn Fn(&str) -> Option<String>) -> Result<PushConfig, String> {
    let var = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let url = match flags.endpoint.filter(|e| !e.trim().is_empty()) {
        Some(e) => traces_url(e, "--otlp-endpoint")?,
        None => match (var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), var("OTEL_EXPORTER_OTLP_ENDPOINT")) {
            (Some(t), _) => checked_url(&t, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")?.to_string(),
            (None, Some(b)) => traces_url(&b, "OTEL_EXPORTER_OTLP_ENDPOINT")?,
            (None, None) => {
                return Err("--otlp-endpoint was given without a URL and neither OTEL_EXPORTER_OTLP_TRACES_ENDPOINT nor \
                            OTEL_EXPORTER_OTLP_ENDPOINT is set\n  help: give the URL, e.g. --otlp-endpoint http://localhost:4318"
                    .into());
            }
        },
    };
    let protocol = match flags.protocol {
        Some(p) => p,
        None => match var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").map(|v| ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", v)).or_else(|| {
            var("OTEL_EXPORTER_OTLP_PROTOCOL").map(|v| ("OTEL_EXPORTER_OTLP_PROTOCOL", v))
        }) {
            None => Protocol::Protobuf,
            Some((name, v)) => Protocol::parse(&v).ok_or_else(|| {
                format!(
                    "{name}='{}' is not a protocol Baton pushes\n  help: use http/protobuf or http/json (Baton pushes OTLP/HTTP, not gRPC), or give --otlp-protocol",
                    crate::sanitize::for_terminal(&v)
                )
            })?,
        },
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    let put = |h: (String, String), headers: &mut Vec<(String, String)>| {
        headers.retain(|(k, _)| *k != h.0);
        headers.push(h);
    };
    for name in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"] {
        if let Some(v) = var(name) {
            for h in env_headers(&v, name)? {
                put(h, &mut headers);
            }
        }
    }
    for (n, f) in flags.headers.iter().enumerate() {
        let what = format!("--otlp-header number {}", n + 1);
        let Some((k, v)) = f.split_once('=') else {
            crate::sanitize::register_secret(f);
            return Err(format!(
                "{what} is not KEY=VALUE (it is not shown here)\n  help: write --otlp-header 'Authorization=Bearer <token>'"
            ));
        };
        put(header(k, v, &what)?, &mut headers);
    }
    let timeout = match var("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT").or_else(|| var("OTEL_EXPORTER_OTLP_TIMEOUT")) {
        None => Duration::from_secs(10),
        Some(ms) => Duration::from_millis(ms.trim().parse().map_err(|_| {
            format!(
                "OTEL_EXPORTER_OTLP_TIMEOUT='{}' is not a number of milliseconds\n  help: e.g. 10000",
                crate::sanitize::for_terminal(&ms)
            )
        })?),
    };
    let gzip = match var("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION").or_else(|| var("OTEL_EXPORTER_OTLP_COMPRESSION")) {
        None => false,
        Some(c) => match c.trim().to_ascii_lowercase().as_str() {
            "gzip" => true,
            "none" => false,
            _ => {
                return Err(format!("OTEL_EXPORTER_OTLP_COMPRESSION='{}' is not gzip or none", crate::sanitize::for_terminal(&c)));
            }
        },
    };
    Ok(PushConfig { url, protocol, headers, timeout, gzip })
}

/// What a receiver said to a push that it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub spans: usize,
    pub status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error(
        "cannot push to {url}: {why}\n  help: is the collector running and listening there? (`baton watch` listens on http://127.0.0.1:4318)"
    )]
    Connect { url: String, why: String },
    #[error("{url} answered {status}: {message}{help}")]
    Status { url: String, status: u16, message: String, help: &'static str },
    #[error("{url} accepted the request but rejected {rejected} of {spans} spans: {message}")]
    Partial { url: String, spans: usize, rejected: i64, message: String },
    #[error("cannot encode the spans: {0}")]
    Encode(String),
}

/// google.rpc.Status, the body of an OTLP/HTTP error answer in protobuf (read here, written by
/// `baton watch`'s receiver).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// The body to send and its content type; the text is redacted first (a key a server echoed
/// into an output or an error never leaves the machine).
pub fn encode(doc: &Value, cfg: &PushConfig) -> Result<(Vec<u8>, &'static str), PushError> {
    let text = serde_json::to_string(doc).map_err(|e| PushError::Encode(e.to_string()))?;
    let text = crate::sanitize::redact(&text);
    let (body, ct) = match cfg.protocol {
        Protocol::Json => (text.into_owned().into_bytes(), "application/json"),
        Protocol::Protobuf => {
            let clean: Value = serde_json::from_str(&text).map_err(|e| PushError::Encode(e.to_string()))?;
            (super::otlp::to_protobuf(&clean).map_err(PushError::Encode)?, "application/x-protobuf")
        }
    };
    if !cfg.gzip {
        return Ok((body, ct));
    }
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&body).and_then(|()| gz.finish()).map(|b| (b, ct)).map_err(|e| PushError::Encode(e.to_string()))
}

/// The innermost causes of an error, which say what happened ("Connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.last().cloned().unwrap_or_default()
}

/// The message of an error answer, whatever it is encoded as.
fn answer_message(ct: &str, body: &[u8]) -> String {
    use prost::Message;
    let msg = if ct.contains("protobuf") {
        RpcStatus::decode(body).ok().map(|s| s.message)
    } else if ct.contains("json") {
        serde_json::from_slice::<Value>(body).ok().and_then(|v| v.get("message").and_then(Value::as_str).map(String::from))
    } else {
        None
    };
    let msg = msg.unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_string());
    let msg = crate::sanitize::for_terminal(&msg).into_owned();
    if msg.is_empty() { "(no message)".into() } else { msg }
}

/// The client pushes use.
pub fn client() -> Result<reqwest::Client, PushError> {
    crate::provider::http::install_crypto();
    reqwest::Client::builder().build().map_err(|e| PushError::Encode(format!("cannot build the HTTP client: {}", chain(&e))))
}

/// Sends one document. Retries twice on 429, 502, 503 and 504 (honouring a short
/// Retry-After), as the OTLP spec asks; everything else is answered at once.
pub async fn send(client: &reqwest::Client, cfg: &PushConfig, doc: &Value) -> Result<Pushed, PushError> {
    let spans = super::otlp::span_count(doc);
    let (body, ct) = encode(doc, cfg)?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut req = client.post(&cfg.url).timeout(cfg.timeout).header(reqwest::header::CONTENT_TYPE, ct).body(body.clone());
        if cfg.gzip {
            req = req.header(reqwest::header::CONTENT_ENCODING, "gzip");
        }
        for (k, v) in &cfg.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let why = if e.is_timeout() { format!("no answer within {} ms", cfg.timeout.as_millis()) } else { chain(&e) };
                return Err(PushError::Connect { url: cfg.url.clone(), why: crate::sanitize::for_terminal(&why).into_owned() });
            }
        };
        let status = resp.status().as_u16();
        let rct = resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        let retry_after =
            resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = resp.bytes().await.unwrap_or_default();
        if (200..300).contains(&status) {
            return match partial(&rct, &bytes) {
                Some((rejected, message)) if rejected > 0 => Err(PushError::Partial { url: cfg.url.clone(), spans, rejected, message }),
                _ => Ok(Pushed { spans, status }),
            };
        }
        if matches!(status, 429 | 502 | 503 | 504) && attempt < 3 {
            let wait = retry_after.map_or(Duration::from_millis(250 * attempt), |s| Duration::from_secs(s.min(5)));
            tokio::time::sleep(wait).await;
            continue;
        }
        let help = match status {
            401 | 403 => "\n  help: the receiver wants credentials: --otlp-header Authorization=... or OTEL_EXPORTER_OTLP_HEADERS",
            404 => "\n  help: check the path; Baton adds /v1/traces to the endpoint unless it ends with it",
            413 => "\n  help: the receiver limits request size (for `baton watch`, raise --max-body)",
            415 => "\n  help: try the other encoding with --otlp-protocol http/json or http/protobuf",
            _ => "",
        };
        return Err(PushError::Status { url: cfg.url.clone(), status, message: answer_message(&rct, &bytes), help });
    }
}

/// The partial success an OTLP answer reports, if any.
fn partial(ct: &str, body: &[u8]) -> Option<(i64, String)> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    use prost::Message;
    if body.is_empty() {
        return None;
    }
    if ct.contains("json") {
        let v: Value = serde_json::from_slice(body).ok()?;
        let p = v.get("partialSuccess")?;
        let rejected = p.get("rejectedSpans").and_then(|r| r.as_i64().or_else(|| r.as_str()?.parse().ok())).unwrap_or(0);
        let msg = p.get("errorMessage").and_then(Value::as_str).unwrap_or("").to_string();
        return Some((rejected, crate::sanitize::for_terminal(&msg).into_owned()));
    }
    let p = ExportTraceServiceResponse::decode(body).ok()?.partial_success?;
    Some((p.rejected_spans, crate::sanitize::for_terminal(&p.error_message).into_owned()))
}

/// [`send`] on a runtime of its own, for commands that have none.
pub fn send_blocking(cfg: &PushConfig, doc: &Value) -> Result<Pushed, PushError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PushError::Encode(format!("cannot start the runtime: {e}")))?;
    let client = client()?;
    rt.block_on(send(&client, cfg, doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_string())
    }

    #[test]
    fn endpoints_from_flags_and_variables() {
        let none = env(&[]);
        let url = |e: &str| resolve(&PushFlags { endpoint: Some(e), ..PushFlags::default() }, &none).map(|c| c.url);
        assert_eq!(url("http://localhost:4318").as_deref(), Ok("http://localhost:4318/v1/traces"));
        assert_eq!(url("http://localhost:6006/v1/traces").as_deref(), Ok("http://localhost:6006/v1/traces"));
        assert_eq!(
            url("https://cloud.langfuse.com/api/public/otel/").as_deref(),
            Ok("https://cloud.langfuse.com/api/public/otel/v1/traces")
        );
        assert!(url("localhost:4318").is_err());
        assert!(url("grpc://localhost:4317").is_err());
        assert!(url("http://user:pw@localhost:4318").is_err_and(|e| !e.contains("pw")));

        let flags = PushFlags { endpoint: Some(""), ..PushFlags::default() };
        let both = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"), ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/custom")]);
        assert_eq!(resolve(&flags, &both).map(|c| c.url).as_deref(), Ok("http://t:1/custom"), "the signal's own variable is used as is");
        let base = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318/")]);
        assert_eq!(resolve(&flags, &base).map(|c| c.url).as_deref(), Ok("http://base:4318/v1/traces"));
        assert!(resolve(&flags, &none).is_err());
        let flag_wins = PushFlags { endpoint: Some("http://flag:9"), ..PushFlags::default() };
        assert_eq!(resolve(&flag_wins, &both).map(|c| c.url).as_deref(), Ok("http://flag:9/v1/traces"));
    }

    #[test]
    fn protocols_headers_and_their_precedence() {
        let e = env(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20env-secret-123,x-team=blue"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ]);
        let hs = vec!["x-team=red".to_string()];
        let flags = PushFlags { endpoint: Some("http://h:1"), protocol: None, headers: &hs };
        let c = resolve(&flags, &e).expect("resolves");
        assert_eq!(c.protocol, Protocol::Json);
        assert!(c.gzip);
        assert_eq!(c.headers, vec![("authorization".into(), "Bearer env-secret-123".into()), ("x-team".into(), "red".into())]);
        assert!(!format!("{c:?}").contains("env-secret-123"), "debug prints never show header values");
        assert_eq!(crate::sanitize::redact("key env-secret-123"), "key [redacted]");
        let flags = PushFlags { endpoint: Some("http://h:1"), protocol: Some(Protocol::Protobuf), headers: &[] };
        assert_eq!(resolve(&flags, &e).map(|c| c.protocol), Ok(Protocol::Protobuf), "the flag beats the variable");
        let grpc = env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
        let flags = PushFlags { endpoint: Some("http://h:1"), ..PushFlags::default() };
        assert!(resolve(&flags, &grpc).is_err_and(|m| m.contains("not gRPC")));
        let bad = vec!["no-equals-sign-secret-value".to_string()];
        let flags = PushFlags { endpoint: Some("http://h:1"), protocol: None, headers: &bad };
        assert!(resolve(&flags, &env(&[])).is_err_and(|m| !m.contains("no-equals-sign-secret-value")));
    }
}
