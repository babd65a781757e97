//! The OTLP push flags `run` and `export` share, and how their outcome is told.

use std::path::Path;

use clap::{Args, ValueEnum};

use super::Failure;
use crate::record::push::{Protocol, PushConfig, PushFlags, resolve};
use crate::record::stream::StreamReport;

#[derive(Args, Debug, Clone, Default)]
pub struct OtlpPushArgs {
    /// Push the run's spans over OTLP/HTTP to a collector, Phoenix, Langfuse or `baton watch`:
    /// a base URL (`/v1/traces` is added unless the path ends with it). Without a value, from
    /// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT, else config.toml's
    /// `otlp_endpoint`.
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub otlp_endpoint: Option<String>,
    /// Encoding of the push (default: OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf).
    #[arg(long, value_enum, value_name = "PROTOCOL", requires = "otlp_endpoint")]
    pub otlp_protocol: Option<OtlpProtocol>,
    /// A header to send with the push, KEY=VALUE (repeatable; beats OTEL_EXPORTER_OTLP_HEADERS).
    /// Values are treated as secrets: never printed, logged or recorded.
    #[arg(long, value_name = "K=V", requires = "otlp_endpoint")]
    pub otlp_header: Vec<String>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    #[value(name = "http/protobuf")]
    HttpProtobuf,
    #[value(name = "http/json")]
    HttpJson,
}

/// The push settings, or `None` without `--otlp-endpoint`. The OTEL_* variables configure a
/// push; only the flag turns it on (a run's prompts and outputs never leave the machine
/// because a variable meant for another program was set).
pub fn config(a: &OtlpPushArgs) -> Result<Option<PushConfig>, Failure> {
    let Some(endpoint) = a.otlp_endpoint.as_deref() else { return Ok(None) };
    let flags = PushFlags {
        endpoint: Some(endpoint),
        protocol: a.otlp_protocol.map(|p| match p {
            OtlpProtocol::HttpProtobuf => Protocol::Protobuf,
            OtlpProtocol::HttpJson => Protocol::Json,
        }),
        headers: &a.otlp_header,
    };
    // config.toml's `otlp_endpoint` is where a bare `--otlp-endpoint` sends when the standard
    // variables are not set: the variables (set for a session) beat the file (set once).
    let configured = crate::config::effective().otlp_endpoint;
    let from_file = (!matches!(configured.from, crate::config::SetBy::Default)).then_some(configured.value).flatten();
    let env = |k: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| (k == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| from_file.clone()).flatten())
    };
    resolve(&flags, &env).map(Some).map_err(Failure::bad_input)
}

/// Says how a push during a run went. A failed push never changes the run's exit status:
/// the run is recorded, and can be pushed again from its recording.
pub fn tell_stream(cfg: &PushConfig, r: &StreamReport, recording: Option<&Path>) {
    if r.errors.is_empty() {
        eprintln!(
            "pushed {} spans to {} ({}, {} request{})",
            r.spans,
            cfg.url,
            cfg.protocol.name(),
            r.requests,
            if r.requests == 1 { "" } else { "s" }
        );
        return;
    }
    for e in &r.errors {
        eprintln!("baton: warning: OTLP push: {e}");
    }
    let again = match recording {
        Some(p) => format!("push it again with `baton export {} --otlp-endpoint {}`", p.display(), cfg.url),
        None => "it was not recorded (--no-record), so it cannot be pushed again".into(),
    };
    eprintln!("baton: warning: {} spans delivered, {} not; the run's result is unaffected; {again}", r.spans, r.undelivered);
}
