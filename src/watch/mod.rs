//! `baton watch`: Baton as an OTLP trace receiver. Spans from other people's orchestrations
//! (LangGraph, the OpenAI SDK, their own code) become Baton runs, the third event source
//! beside the engine and recordings.
//!
//! # Layout
//! - [`decode`]: request bodies (protobuf, JSON, gzip) to spans.
//! - [`span`]: one span reduced to what the conventions say (OTel GenAI, OpenInference,
//!   OpenLLMetry), with attribute text sanitised for the terminal.
//! - [`assemble`]: open traces, orphans waiting for parents, the settle window, eviction.
//! - [`graph`]: a trace's spans to a DAG of steps with calls attached (the rules are there).
//! - [`models`]: reported model names to catalog entries.
//! - [`convert`]: a DAG to a Flow, a nominal strategy and RunEvents for the ordinary fold and
//!   recorder.
//! - [`server`]: the OTLP/HTTP and OTLP/gRPC receivers.
//! - [`service`]: the loop that joins receivers, assembler, recorder and output.
//!
//! Design: the fold needs a flow known up front, and a trace's nodes are discovered as its
//! spans arrive. Baton does not patch a flow in place: a trace is converted whole, from the
//! spans it has, into a fresh flow and event list, and folded from scratch. A settled trace is
//! converted once (headless output, recording). A view of a trace still arriving is meant to
//! convert its current spans again when they change (`to_run` with `finished: false`, missing
//! parents shown as `running` placeholders); at the measured ~60 µs per 19-span trace that is
//! cheap. `baton watch`'s screen gets such snapshots from [`service::serve`] with `live` on, at
//! most one per trace per tick. Like core modules, this one never names the TUI.

pub mod assemble;
pub mod convert;
pub mod decode;
pub mod graph;
pub mod models;
pub mod server;
pub mod service;
pub mod span;

pub use assemble::{Assembler, AssemblerConfig, ClosedTrace};
pub use convert::{Converter, WatchInfo, WatchedRun, to_run};
pub use graph::{TraceGraph, build};

use std::sync::Arc;

use crate::routing::Catalog;

/// A trace's DAG, with model names matched against `catalog` when deciding whether a step's
/// calls share one model.
pub fn graph(spans: &[span::SpanRec], catalog: &Catalog) -> TraceGraph {
    build(spans, &|m: &str| models::match_model(catalog, m).unwrap_or_else(|| models::normalize(m)))
}

/// Converts a trace's spans straight to a run.
pub fn reconstruct(
    spans: &[span::SpanRec],
    catalog: Arc<Catalog>,
    run_id: u64,
    receiver: &str,
    finished: bool,
) -> Result<(TraceGraph, WatchedRun), convert::ConvertError> {
    let mut conv = Converter::new(catalog);
    let g = conv.graph(spans);
    let run = conv.convert(&g, run_id, receiver, finished)?;
    Ok((g, run))
}

#[cfg(test)]
mod tests;
