//! The recorded line types: a versioned header, then one line per event. These are separate
//! from the in-memory [`RunEvent`] on purpose: the file format changes only with its version,
//! whatever happens to the engine's types. Nodes are named by id, not index, so a recording
//! reads the same whatever order a later edit puts the nodes in.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::{ContextPart, Event, Exchange, Origin, Outcome, RunEvent, SkipReason, Unit};
use crate::flow::{CheckResult, Flow};
use crate::routing::{Catalog, Decision, Usage};

pub const FORMAT: &str = "baton-recording";
/// The newest format version this Baton reads. Version 2 added `node_exchange` lines (what a
/// live call sent and received); only live runs write them, so only their recordings say 2, and
/// an older Baton given one says to upgrade instead of failing on the first such line.
/// Simulated and watched runs still write version 1, which every Baton reads.
pub const VERSION: u32 = 2;

/// The version a run of `provider` is recorded as (see [`VERSION`]).
fn version_for(provider: &str) -> u32 {
    if provider == "live" { 2 } else { 1 }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedded {
    pub name: String,
    /// Where it was read from (a path or `<sample ...>`).
    pub source: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceRow {
    pub input_per_mtok: f64,
    pub cached_input_per_mtok: f64,
    pub cache_write_per_mtok: f64,
    pub output_per_mtok: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parent {
    /// The recording this run continues or forks.
    pub file: String,
    /// `resume`, or `fork` with the node it reran from.
    pub relation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// The first line of every recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub baton_version: String,
    pub created_unix_ms: u64,
    pub run: u64,
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Parent>,
    /// `sim` or `live`.
    pub provider: String,
    pub seed: u64,
    pub input: String,
    pub flow: Embedded,
    pub strategy: Embedded,
    /// The catalog's files in the order they were layered (built-in first).
    pub catalog: Vec<Embedded>,
    pub prices_read: String,
    /// The price table the run was costed with, USD per million tokens.
    pub prices: BTreeMap<String, PriceRow>,
}

impl Header {
    pub fn new(spec: &crate::engine::RunSpec, provider: &str) -> Header {
        let c = &spec.catalog;
        let prices = c
            .models
            .iter()
            .map(|m| {
                let p = &m.prices;
                (
                    m.id.to_string(),
                    PriceRow {
                        input_per_mtok: p.input.usd_per_million(),
                        cached_input_per_mtok: p.cached_input.usd_per_million(),
                        cache_write_per_mtok: p.cache_write.usd_per_million(),
                        output_per_mtok: p.output.usd_per_million(),
                    },
                )
            })
            .collect();
        Header {
            format: FORMAT.to_string(),
            version: version_for(provider),
            baton_version: env!("CARGO_PKG_VERSION").to_string(),
            created_unix_ms: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
            run: spec.run_id,
            attempt: spec.attempt,
            parent: None,
            provider: provider.to_string(),
            seed: spec.seed,
            input: spec.input.clone(),
            flow: Embedded { name: spec.flow.name.clone(), source: spec.flow.source_name.clone(), text: spec.flow.source_text.clone() },
            strategy: Embedded {
                name: spec.strategy.name.clone(),
                source: spec.strategy.source_name.clone(),
                text: spec.strategy.source_text.clone(),
            },
            catalog: c.layers.iter().map(|(n, t)| Embedded { name: "catalog".into(), source: n.clone(), text: t.clone() }).collect(),
            prices_read: c.prices_read.clone(),
            prices,
        }
    }

    /// The catalog as it was.
    pub fn catalog(&self) -> Result<Catalog, crate::diag::Diagnostics> {
        let layers: Vec<(String, String)> = self.catalog.iter().map(|e| (e.source.clone(), e.text.clone())).collect();
        Catalog::from_layers(&layers)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecContext {
    /// `prompt`, `history`, or the id of the upstream node.
    pub from: String,
    pub tokens: u64,
}

/// One event line. `t` is microseconds since the run started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum Line {
    RunStarted {
        t: u64,
        flow: String,
        strategy: String,
        seed: u64,
        input: String,
    },
    NodeQueued {
        t: u64,
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<u32>,
    },
    NodeExpanded {
        t: u64,
        node: String,
        items: Vec<String>,
        dropped: u32,
    },
    NodeStarted {
        t: u64,
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<u32>,
        decision: Decision,
        context: Vec<RecContext>,
        input_tokens: u64,
    },
    NodeDelta {
        t: u64,
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<u32>,
        text: String,
        tokens: u64,
    },
    NodeWaiting {
        t: u64,
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<u32>,
        why: String,
    },
    NodeSent {
        t: u64,
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<u32>,
        queued_us: u64,
    },
    NodeBilled {
        t: u64,
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<u32>,
        model: String,
        usage: Usage,
        estimated: bool,
    },
    NodeResumed {
        t: u64,
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<u32>,
        billed: Usage,
        ttft_us: u64,
        latency_us: u64,
    },
    NodeRetry {
        t: u64,
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<u32>,
        model: String,
        try_no: u32,
        error: String,
        backoff_us: u64,
    },
    NodeFallback {
        t: u64,
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<u32>,
        from: String,
        to: String,
        reason: String,
    },
    NodeEscalated {
        t: u64,
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<u32>,
        from: String,
        to: String,
        usage: Usage,
        failed: Vec<String>,
    },
    NodeFinished {
        t: u64,
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<u32>,
        model: String,
        usage: Usage,
        estimated: bool,
        ttft_us: u64,
        latency_us: u64,
        output: String,
        checks: Vec<CheckResult>,
        cached: bool,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        unreported: bool,
    },
    NodeSkipped {
        t: u64,
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<u32>,
        reason: SkipReason,
    },
    NodeFailed {
        t: u64,
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<u32>,
        error: String,
    },
    /// One try's raw exchange with an HTTP provider (never written for simulated calls).
    NodeExchange {
        t: u64,
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<u32>,
        model: String,
        try_no: u32,
        request: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        response: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    ModelCooldown {
        t: u64,
        model: String,
        until_us: u64,
        reason: String,
    },
    RunFinished {
        t: u64,
        outcome: Outcome,
    },
}

fn us(d: Duration) -> u64 {
    d.as_micros() as u64
}

fn id(flow: &Flow, u: Unit) -> (String, Option<u32>) {
    (flow.nodes.get(u.index()).map_or_else(|| format!("#{}", u.node), |n| n.id.clone()), u.item)
}

impl Line {
    pub fn from_event(flow: &Flow, e: &RunEvent) -> Line {
        let t = us(e.at);
        match &e.kind {
            Event::RunStarted { flow: f, strategy, seed, input } => {
                Line::RunStarted { t, flow: f.clone(), strategy: strategy.clone(), seed: *seed, input: input.clone() }
            }
            Event::NodeQueued { unit } => {
                let (node, item) = id(flow, *unit);
                Line::NodeQueued { t, node, item }
            }
            Event::NodeExpanded { node, items, dropped } => {
                Line::NodeExpanded { t, node: id(flow, Unit { node: *node, item: None }).0, items: items.clone(), dropped: *dropped }
            }
            Event::NodeStarted { unit, decision, context, input_tokens } => {
                let (node, item) = id(flow, *unit);
                let context = context
                    .iter()
                    .map(|p| RecContext {
                        from: match p.origin {
                            Origin::Prompt => "prompt".into(),
                            Origin::History => "history".into(),
                            Origin::Declared(n) => id(flow, Unit { node: n, item: None }).0,
                        },
                        tokens: p.tokens,
                    })
                    .collect();
                Line::NodeStarted { t, node, item, decision: (**decision).clone(), context, input_tokens: *input_tokens }
            }
            Event::NodeDelta { unit, text, output_tokens } => {
                let (node, item) = id(flow, *unit);
                Line::NodeDelta { t, node, item, text: text.clone(), tokens: *output_tokens }
            }
            Event::NodeWaiting { unit, why } => {
                let (node, item) = id(flow, *unit);
                Line::NodeWaiting { t, node, item, why: why.clone() }
            }
            Event::NodeSent { unit, queued } => {
                let (node, item) = id(flow, *unit);
                Line::NodeSent { t, node, item, queued_us: us(*queued) }
            }
            Event::NodeBilled { unit, model, usage, estimated } => {
                let (node, item) = id(flow, *unit);
                Line::NodeBilled { t, node, item, model: model.clone(), usage: *usage, estimated: *estimated }
            }
            Event::NodeResumed { unit, billed, ttft, latency } => {
                let (node, item) = id(flow, *unit);
                Line::NodeResumed { t, node, item, billed: *billed, ttft_us: us(*ttft), latency_us: us(*latency) }
            }
            Event::NodeRetry { unit, model, try_no, error, backoff } => {
                let (node, item) = id(flow, *unit);
                Line::NodeRetry { t, node, item, model: model.clone(), try_no: *try_no, error: error.clone(), backoff_us: us(*backoff) }
            }
            Event::NodeFallback { unit, from, to, reason } => {
                let (node, item) = id(flow, *unit);
                Line::NodeFallback { t, node, item, from: from.clone(), to: to.clone(), reason: reason.clone() }
            }
            Event::NodeEscalated { unit, from, to, usage, failed } => {
                let (node, item) = id(flow, *unit);
                Line::NodeEscalated { t, node, item, from: from.clone(), to: to.clone(), usage: *usage, failed: failed.clone() }
            }
            Event::NodeFinished { unit, model, usage, estimated, ttft, latency, output, checks, cached, unreported } => {
                let (node, item) = id(flow, *unit);
                Line::NodeFinished {
                    t,
                    node,
                    item,
                    model: model.to_string(),
                    usage: *usage,
                    estimated: *estimated,
                    ttft_us: us(*ttft),
                    latency_us: us(*latency),
                    output: output.to_string(),
                    checks: checks.clone(),
                    cached: *cached,
                    unreported: *unreported,
                }
            }
            Event::NodeSkipped { unit, reason } => {
                let (node, item) = id(flow, *unit);
                Line::NodeSkipped { t, node, item, reason: reason.clone() }
            }
            Event::NodeFailed { unit, error } => {
                let (node, item) = id(flow, *unit);
                Line::NodeFailed { t, node, item, error: error.clone() }
            }
            Event::NodeExchange { unit, exchange } => {
                let (node, item) = id(flow, *unit);
                let x = &**exchange;
                Line::NodeExchange {
                    t,
                    node,
                    item,
                    model: x.model.clone(),
                    try_no: x.try_no,
                    request: x.request.clone(),
                    status: x.status,
                    response: x.response.clone(),
                    usage: x.usage.clone(),
                    error: x.error.clone(),
                }
            }
            Event::ModelCooldown { model, until, reason } => {
                Line::ModelCooldown { t, model: model.clone(), until_us: us(*until), reason: reason.clone() }
            }
            Event::RunFinished { outcome } => Line::RunFinished { t, outcome: *outcome },
        }
    }

    /// Back to an event; `node` looks a node id up. `None` when the line names a node the flow
    /// does not have.
    pub fn into_event(self, run: u64, attempt: u32, node: &dyn Fn(&str) -> Option<u32>) -> Result<RunEvent, String> {
        let unit = |n: &str, item: Option<u32>| -> Result<Unit, String> {
            node(n).map(|node| Unit { node, item }).ok_or_else(|| format!("the flow has no node '{n}'"))
        };
        let at = |t: u64| Duration::from_micros(t);
        let (t, kind) = match self {
            Line::RunStarted { t, flow, strategy, seed, input } => (t, Event::RunStarted { flow, strategy, seed, input }),
            Line::NodeQueued { t, node, item } => (t, Event::NodeQueued { unit: unit(&node, item)? }),
            Line::NodeExpanded { t, node, items, dropped } => (t, Event::NodeExpanded { node: unit(&node, None)?.node, items, dropped }),
            Line::NodeStarted { t, node, item, decision, context, input_tokens } => {
                let mut parts = Vec::with_capacity(context.len());
                for c in context {
                    let origin = match c.from.as_str() {
                        "prompt" => Origin::Prompt,
                        "history" => Origin::History,
                        other => Origin::Declared(unit(other, None)?.node),
                    };
                    parts.push(ContextPart { origin, tokens: c.tokens });
                }
                (t, Event::NodeStarted { unit: unit(&node, item)?, decision: Arc::new(decision), context: parts.into(), input_tokens })
            }
            Line::NodeDelta { t, node, item, text, tokens } => {
                (t, Event::NodeDelta { unit: unit(&node, item)?, text, output_tokens: tokens })
            }
            Line::NodeWaiting { t, node, item, why } => (t, Event::NodeWaiting { unit: unit(&node, item)?, why }),
            Line::NodeSent { t, node, item, queued_us } => (t, Event::NodeSent { unit: unit(&node, item)?, queued: at(queued_us) }),
            Line::NodeBilled { t, node, item, model, usage, estimated } => {
                (t, Event::NodeBilled { unit: unit(&node, item)?, model, usage, estimated })
            }
            Line::NodeResumed { t, node, item, billed, ttft_us, latency_us } => {
                (t, Event::NodeResumed { unit: unit(&node, item)?, billed, ttft: at(ttft_us), latency: at(latency_us) })
            }
            Line::NodeRetry { t, node, item, model, try_no, error, backoff_us } => {
                (t, Event::NodeRetry { unit: unit(&node, item)?, model, try_no, error, backoff: at(backoff_us) })
            }
            Line::NodeFallback { t, node, item, from, to, reason } => {
                (t, Event::NodeFallback { unit: unit(&node, item)?, from, to, reason })
            }
            Line::NodeEscalated { t, node, item, from, to, usage, failed } => {
                (t, Event::NodeEscalated { unit: unit(&node, item)?, from, to, usage, failed })
            }
            Line::NodeFinished { t, node, item, model, usage, estimated, ttft_us, latency_us, output, checks, cached, unreported } => (
                t,
                Event::NodeFinished {
                    unit: unit(&node, item)?,
                    model: model.into(),
                    usage,
                    estimated,
                    ttft: at(ttft_us),
                    latency: at(latency_us),
                    output: Arc::from(output),
                    checks,
                    cached,
                    unreported,
                },
            ),
            Line::NodeSkipped { t, node, item, reason } => (t, Event::NodeSkipped { unit: unit(&node, item)?, reason }),
            Line::NodeFailed { t, node, item, error } => (t, Event::NodeFailed { unit: unit(&node, item)?, error }),
            Line::NodeExchange { t, node, item, model, try_no, request, status, response, usage, error } => {
                let exchange = Exchange { model, try_no, request, status, response, usage, error };
                (t, Event::NodeExchange { unit: unit(&node, item)?, exchange: Arc::new(exchange) })
            }
            Line::ModelCooldown { t, model, until_us, reason } => (t, Event::ModelCooldown { model, until: at(until_us), reason }),
            Line::RunFinished { t, outcome } => (t, Event::RunFinished { outcome }),
        };
        Ok(RunEvent { run, attempt, at: at(t), kind })
    }
}
