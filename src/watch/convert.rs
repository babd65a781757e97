//! A trace's DAG to what every other source produces: a [`Flow`], a nominal strategy, and
//! [`RunEvent`]s that fold with [`RunState`] and record with the ordinary recorder. The flow
//! and strategy are written as TOML and parsed back by the ordinary parsers, so a watched
//! recording replays, reprices and exports exactly like any other.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::graph::TraceGraph;
use super::span::hex;
use crate::diag::Source;
use crate::engine::RunSpec;
use crate::event::{Event, Outcome, RunEvent, Unit};
use crate::flow::{Flow, Node, Piece, parse_flow};
use crate::record::Header;
use crate::record::reprice::WATCHED;
use crate::routing::{Catalog, Decision, Strategy, Usage};
use crate::state::RunState;

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("trace {trace}: the reconstructed {what} does not parse (a Baton bug; please report it with the trace):\n{diags}")]
    Invalid { trace: String, what: &'static str, diags: crate::diag::Diagnostics },
    #[error(
        "the catalog has no models, so no strategy can name one\n  help: use the built-in catalog or a --catalog file with at least one model"
    )]
    EmptyCatalog,
}

/// A call whose model the catalog does not know: shown with its tokens, never as $0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unpriced {
    pub node: String,
    pub model: String,
    pub usage: Usage,
}

/// What the watch knows about a trace beyond the run summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchInfo {
    pub trace_id: String,
    pub services: Vec<String>,
    pub spans: usize,
    /// Spans whose parent never arrived (their step is shown as `running …`).
    pub orphans: usize,
    pub calls: usize,
    /// Calls whose span carried no token counts (a stream without usage, say).
    pub calls_without_usage: usize,
    /// Whether every call was priced from the catalog.
    pub priced: bool,
    pub unpriced: Vec<Unpriced>,
    /// Flow node id → the name the trace gave it, where they differ.
    pub labels: Vec<(String, String)>,
}

/// A trace as a Baton run.
#[derive(Clone)]
pub struct WatchedRun {
    pub spec: RunSpec,
    pub events: Vec<RunEvent>,
    pub info: WatchInfo,
    /// When the trace started, for the recording's header.
    pub start_unix_ms: u64,
}

impl WatchedRun {
    /// The recording header (built on demand: it copies the catalog's files and prices, which
    /// only a recording needs).
    pub fn header(&self) -> Header {
        let mut h = Header::new(&self.spec, "watch");
        h.created_unix_ms = self.start_unix_ms;
        h
    }

    pub fn state(&self) -> RunState {
        RunState::new(self.spec.flow.clone(), self.spec.strategy.clone(), self.spec.catalog.clone(), self.spec.run_id, self.spec.attempt)
            .fold(&self.events)
    }
}

/// A node id the flow parser accepts: letters, digits, `-`, `_` (`writer#2` becomes `writer-2`).
fn plain_id(label: &str, taken: &mut std::collections::HashSet<String>) -> String {
    let mut id = String::with_capacity(label.len());
    for c in label.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            id.push(c);
        } else if c == '#' {
            id.push('-');
        } else if !id.ends_with('_') {
            id.push('_');
        }
    }
    let mut id = id.trim_matches('_').to_string();
    if id.is_empty() || matches!(id.as_str(), "input" | "item") {
        id.push_str("_step");
    }
    let mut cand = id.clone();
    let mut k = 2;
    while !taken.insert(cand.clone()) {
        cand = format!("{id}_{k}");
        k += 1;
    }
    cand
}

/// Kahn's algorithm taking the lowest index first: the parser's order (ties by file order).
fn topo_order(nodes: &[Node]) -> Option<Vec<usize>> {
    let mut indeg: Vec<usize> = nodes.iter().map(|n| n.after.len()).collect();
    let mut dependents = vec![Vec::new(); nodes.len()];
    for (k, n) in nodes.iter().enumerate() {
        for &d in &n.after {
            dependents[d].push(k);
        }
    }
    let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> =
        (0..nodes.len()).filter(|&k| indeg[k] == 0).map(std::cmp::Reverse).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(std::cmp::Reverse(k)) = ready.pop() {
        order.push(k);
        for &d in &dependents[k] {
            indeg[d] -= 1;
            if indeg[d] == 0 {
                ready.push(std::cmp::Reverse(d));
            }
        }
    }
    (order.len() == nodes.len()).then_some(order)
}

fn q(s: &str) -> String {
    // A JSON string is a valid TOML basic string (same escapes, \uXXXX for controls).
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Converts traces under one catalog, parsing the nominal strategy once per default model
/// rather than once per trace.
pub struct Converter {
    pub catalog: Arc<Catalog>,
    strategies: std::collections::HashMap<String, Arc<Strategy>>,
    models: super::models::Matcher,
}

impl Converter {
    pub fn new(catalog: Arc<Catalog>) -> Converter {
        let models = super::models::Matcher::new(&catalog);
        Converter { catalog, strategies: std::collections::HashMap::new(), models }
    }

    /// A trace's DAG, deciding whether a step's calls share a model by their catalog entry.
    pub fn graph(&mut self, spans: &[super::span::SpanRec]) -> TraceGraph {
        let models = std::cell::RefCell::new(&mut self.models);
        super::graph::build(spans, &|m: &str| {
            let mut mm = models.borrow_mut();
            mm.get(m).unwrap_or_else(|| super::models::normalize(m))
        })
    }

    fn strategy(&mut self, default_model: &str) -> Result<Arc<Strategy>, crate::diag::Diagnostics> {
        if let Some(s) = self.strategies.get(default_model) {
            return Ok(s.clone());
        }
        let text = format!(
            "# Nominal: Baton did not route this run; each node shows the model the application called.\n[strategy]\nname = \"{WATCHED}\"\ndescription = \"models as the watched application called them, observed over OTLP\"\ndefault_model = {}\n",
            q(default_model)
        );
        let s = Arc::new(Strategy::parse(&Source::new("<watched strategy>", text), &self.catalog)?.0);
        // A few default models at most in practice; bound it anyway.
        if self.strategies.len() < 64 {
            self.strategies.insert(default_model.to_string(), s.clone());
        }
        Ok(s)
    }

    /// Converts a trace. `finished` adds the run's end; without it the run is still running
    /// (a view of a trace that has not settled).
    pub fn convert(&mut self, g: &TraceGraph, run_id: u64, receiver: &str, finished: bool) -> Result<WatchedRun, ConvertError> {
        convert(self, g, run_id, receiver, finished)
    }
}

/// Converts one trace (see [`Converter`] to convert many).
pub fn to_run(g: &TraceGraph, catalog: Arc<Catalog>, run_id: u64, receiver: &str, finished: bool) -> Result<WatchedRun, ConvertError> {
    Converter::new(catalog).convert(g, run_id, receiver, finished)
}

fn convert(conv: &mut Converter, g: &TraceGraph, run_id: u64, receiver: &str, finished: bool) -> Result<WatchedRun, ConvertError> {
    let catalog = conv.catalog.clone();
    let trace = hex(&g.trace);
    let mut order: Vec<usize> = (0..g.nodes.len()).collect();
    order.sort_by_key(|&i| (g.nodes[i].start_ns, i));
    let mut taken = std::collections::HashSet::new();
    let mut ids = vec![String::new(); g.nodes.len()];
    for &i in &order {
        ids[i] = plain_id(&g.nodes[i].label, &mut taken);
    }
    let position: Vec<usize> = {
        let mut p = vec![0; g.nodes.len()];
        for (k, &i) in order.iter().enumerate() {
            p[i] = k;
        }
        p
    };

    let services = g.services.join(", ");
    let flow_name = format!("watch-{}", &trace[..trace.len().min(8)]);
    let flow_description = format!("watched trace {trace} from {services}");
    let mut text = String::new();
    let _ = writeln!(text, "# Reconstructed by `baton watch` from OTLP spans ({receiver}); not written by hand.");
    let _ = writeln!(text, "[flow]\nname = {}", q(&flow_name));
    let _ = writeln!(text, "description = {}", q(&flow_description));
    let mut nodes: Vec<Node> = Vec::with_capacity(order.len());
    for &i in &order {
        let n = &g.nodes[i];
        let mut after_idx: Vec<usize> = g.edges.iter().filter(|e| e.1 == i).map(|e| position[e.0]).collect();
        after_idx.sort_unstable();
        after_idx.dedup();
        let after: Vec<String> = after_idx.iter().map(|&a| q(&ids[order[a]])).collect();
        let _ = writeln!(text, "\n[[node]]");
        let line = text.matches('\n').count() + 1;
        let description = format!("{} ({} span, {} model calls)", n.label, n.kind, n.calls.len());
        // No braces: the prompt is a template, and this one has nothing to fill in.
        let prompt = format!("watched step '{}'", n.label.replace(['{', '}'], ""));
        let _ = writeln!(text, "id = {}\nkind = {}\ncomplexity = 5", q(&ids[i]), q(n.kind));
        let _ = writeln!(text, "description = {}", q(&description));
        let _ = writeln!(text, "prompt = {}", q(&prompt));
        if !after.is_empty() {
            let _ = writeln!(text, "after = [{}]", after.join(", "));
        }
        nodes.push(Node {
            id: ids[i].clone(),
            kind: n.kind.to_string(),
            description,
            complexity: 5,
            template: vec![Piece::Text(prompt.clone())],
            prompt,
            declared_context: None,
            after: after_idx,
            // The parser's defaults for a node that names none.
            expected_tokens: 300,
            max_tokens: 1200,
            tags: Vec::new(),
            when: None,
            map: None,
            checks: Vec::new(),
            sim: crate::flow::SimHints::none(),
            line,
        });
    }
    let src = Source::new(format!("<watched trace {trace}>"), text);
    // Parsing the text back gives this same flow (a test holds them equal); building it
    // directly saves the TOML parse on every trace. A graph the fast path cannot order is
    // left to the parser, which says what is wrong.
    let flow = match topo_order(&nodes) {
        Some(order) => {
            let mut dependents = vec![Vec::new(); nodes.len()];
            for (k, n) in nodes.iter().enumerate() {
                for &d in &n.after {
                    dependents[d].push(k);
                }
            }
            Flow {
                name: flow_name.clone(),
                description: flow_description,
                input: String::new(),
                strategy: None,
                strategy_span: None,
                nodes,
                order,
                dependents,
                source_name: src.name.clone(),
                source_text: src.text.clone(),
            }
        }
        None => parse_flow(&src).map_err(|diags| ConvertError::Invalid { trace: trace.clone(), what: "flow", diags })?.0,
    };

    let matched: Vec<Vec<Option<String>>> =
        g.nodes.iter().map(|n| n.calls.iter().map(|c| c.model.as_deref().and_then(|m| conv.models.get(m))).collect()).collect();
    let default_model = matched
        .iter()
        .flatten()
        .flatten()
        .next()
        .cloned()
        .or_else(|| catalog.models.first().map(|m| m.id.to_string()))
        .ok_or(ConvertError::EmptyCatalog)?;
    let strategy =
        conv.strategy(&default_model).map_err(|diags| ConvertError::Invalid { trace: trace.clone(), what: "strategy", diags })?;

    let mut spec = RunSpec::new(Arc::new(flow), strategy, catalog.clone(), String::new(), 0);
    spec.run_id = run_id;

    let at = |ns: u64| Duration::from_nanos(ns.saturating_sub(g.start_ns));
    let mut evs: Vec<(Duration, u8, RunEvent)> = Vec::new();
    let ev = |t: Duration, kind: Event| RunEvent { run: spec.run_id, attempt: spec.attempt, at: t, kind };
    evs.push((
        Duration::ZERO,
        0,
        ev(Duration::ZERO, Event::RunStarted { flow: flow_name.clone(), strategy: WATCHED.into(), seed: 0, input: String::new() }),
    ));

    let mut info = WatchInfo {
        trace_id: trace.clone(),
        services: g.services.clone(),
        spans: g.spans,
        orphans: g.orphans,
        calls: 0,
        calls_without_usage: 0,
        priced: true,
        unpriced: Vec::new(),
        labels: Vec::new(),
    };
    let mut failed = false;
    for &i in &order {
        let n = &g.nodes[i];
        if ids[i] != n.label {
            info.labels.push((ids[i].clone(), n.label.clone()));
        }
        let unit = Unit::node(position[i]);
        let mut usage = Usage::default();
        let mut notes = Vec::new();
        let mut model: Option<String> = None;
        let mut scopes: Vec<&str> = Vec::new();
        // A call without token counts makes the node's figures a lower bound, never a zero.
        let mut unreported = false;
        for (c, m) in n.calls.iter().zip(&matched[i]) {
            info.calls += 1;
            let u = c.tokens.usage();
            usage.add(&u);
            let raw = c.model.clone().unwrap_or_else(|| "unknown model".into());
            if !scopes.contains(&&*c.scope) {
                scopes.push(&c.scope);
            }
            let mut line = format!("{} · {raw}", c.name);
            if c.tokens.any() {
                let _ = write!(line, " · in {} (cached {}) · out {} (reasoning {})", u.total_input(), u.cached, u.output, u.reasoning);
            } else {
                info.calls_without_usage += 1;
                unreported = true;
                line.push_str(" · tokens not reported by the instrumentation");
            }
            if m.is_none() {
                line.push_str(" · model not in the catalog: unpriced");
                if c.tokens.any() {
                    info.priced = false;
                    info.unpriced.push(Unpriced { node: ids[i].clone(), model: raw.clone(), usage: u });
                }
            }
            notes.push(line);
            model = model.or_else(|| Some(m.clone().unwrap_or(raw)));
        }
        let model = model.unwrap_or_else(|| crate::event::NO_MODEL.into());
        let reason =
            if n.calls.is_empty() { format!("{} span with no model call", n.kind) } else { format!("reported by {}", scopes.join(", ")) };
        let name: Arc<str> = Arc::from(model.as_str());
        let decision = Arc::new(Decision {
            rule: None,
            rule_label: "watched".into(),
            reason: reason.into(),
            model,
            fallbacks: Vec::new(),
            input_tokens: usage.total_input(),
        });
        let start = at(n.start_ns);
        evs.push((
            start,
            1,
            ev(start, Event::NodeStarted { unit, decision, context: Vec::new().into(), input_tokens: usage.total_input() }),
        ));
        let Some(end_ns) = n.end_ns else { continue };
        let end = at(end_ns);
        let error = n.error.clone().or_else(|| n.calls.iter().find_map(|c| c.error.clone()));
        if let Some(error) = error {
            failed = true;
            evs.push((end, 2, ev(end, Event::NodeFailed { unit, error })));
            continue;
        }
        let latency = end.saturating_sub(start);
        // Time to first token where a span event says when the first chunk came; else the
        // whole latency is the bound (spans only say when a call ended).
        let ttft = n.calls.iter().filter_map(|c| c.first_token_ns).min().map(|t| at(t).saturating_sub(start)).filter(|t| *t <= latency);
        let output: Arc<str> = Arc::from(notes.join("\n"));
        evs.push((
            end,
            2,
            ev(
                end,
                Event::NodeFinished {
                    unit,
                    model: name,
                    usage,
                    estimated: false,
                    ttft: ttft.unwrap_or(latency),
                    latency,
                    output,
                    checks: Vec::new(),
                    cached: false,
                    unreported,
                },
            ),
        ));
    }
    if finished {
        let end = at(g.end_ns);
        let outcome = if failed { Outcome::Failed } else { Outcome::Completed };
        evs.push((end, 3, ev(end, Event::RunFinished { outcome })));
    }
    evs.sort_by_key(|e| (e.0, e.1));
    Ok(WatchedRun { spec, events: evs.into_iter().map(|e| e.2).collect(), info, start_unix_ms: g.start_ns / 1_000_000 })
}
