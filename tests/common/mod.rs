//! Shared test helpers: loading samples, parsing inline flows, and a scripted provider.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton::diag::Source;
use baton::engine::{self, RunSpec};
use baton::event::{Event, RunEvent};
use baton::flow::{Flow, parse_flow};
use baton::provider::{CallError, CallRequest, Chunk, ChunkStream, Provider, Providers};
use baton::routing::{Catalog, Strategy, Usage};
use baton::state::RunState;

pub fn catalog() -> Arc<Catalog> {
    Arc::new(Catalog::builtin())
}

pub fn sample_flow(name: &str) -> Arc<Flow> {
    baton::load::load_flow(name).unwrap_or_else(|e| panic!("{e}")).0
}

pub fn sample_strategy(name: &str) -> Arc<Strategy> {
    baton::load::load_strategy(name, None, &Catalog::builtin()).unwrap_or_else(|e| panic!("{e}")).0
}

pub fn flow(text: &str) -> Arc<Flow> {
    Arc::new(parse_flow(&Source::new("test-flow.toml", text)).unwrap_or_else(|e| panic!("{e}")).0)
}

pub fn strategy(text: &str) -> Arc<Strategy> {
    Arc::new(Strategy::parse(&Source::new("test-strategy.toml", text), &Catalog::builtin()).unwrap_or_else(|e| panic!("{e}")).0)
}

pub fn spec(flow: Arc<Flow>, strategy: Arc<Strategy>, seed: u64) -> RunSpec {
    let input = flow.input.clone();
    RunSpec::new(flow, strategy, catalog(), input, seed)
}

/// Runs in virtual time and returns every event and the folded state.
pub fn run(spec: &RunSpec, providers: &Providers) -> (Vec<RunEvent>, RunState) {
    let mut events = Vec::new();
    engine::run_virtual(spec, providers, |e| events.push(e)).expect("runtime");
    let state = RunState::for_spec(spec).fold(&events);
    (events, state)
}

pub fn sim(spec: &RunSpec) -> (Vec<RunEvent>, RunState) {
    run(spec, &Providers::simulated())
}

/// Runs a flow against the live providers of `cat` (loopback servers in these tests) in real
/// time, with the input "hello" and seed 1, and returns every event and the folded state.
pub fn live(flow_text: &str, cat: Arc<Catalog>, strategy: Arc<Strategy>) -> (Vec<RunEvent>, RunState) {
    let spec = RunSpec::new(flow(flow_text), strategy, cat.clone(), "hello".into(), 1);
    let providers = Providers::live(&cat, Duration::from_secs(2)).expect("providers");
    let mut events = Vec::new();
    engine::run_blocking(&spec, &providers, |e| events.push(e)).expect("runs");
    let st = RunState::for_spec(&spec).fold(&events);
    (events, st)
}

/// The unit labelled `label` (`node`, or `node[2]` for an instance).
pub fn unit<'a>(st: &'a RunState, label: &str) -> &'a baton::state::UnitState {
    st.units.iter().find(|u| u.label == label).unwrap_or_else(|| panic!("no {label}"))
}

/// What a scripted call does.
#[derive(Clone, Debug)]
pub enum Step {
    /// Streams `text` in `pieces` after `ttft`, `gap` between pieces, then reports `usage`.
    Answer { text: String, ttft: Duration, gap: Duration, pieces: usize, usage: Option<Usage> },
    /// Fails after `after`.
    Fail { after: Duration, error: CallError },
    /// Never sends anything.
    Stall,
}

impl Step {
    pub fn answer(text: &str) -> Step {
        Step::Answer {
            text: text.to_string(),
            ttft: Duration::from_millis(100),
            gap: Duration::from_millis(10),
            pieces: 2,
            usage: Some(Usage { input: 100, output: 50, ..Usage::default() }),
        }
    }

    pub fn fail(kind: baton::provider::ErrorKind, msg: &str) -> Step {
        Step::Fail { after: Duration::from_millis(50), error: CallError::new(kind, msg) }
    }
}

/// A provider whose calls follow a script per model; unscripted calls answer "ok". Records
/// every call as (model, node label, try number).
#[derive(Default)]
pub struct Script {
    pub steps: Mutex<HashMap<String, VecDeque<Step>>>,
    pub calls: Mutex<Vec<(String, String, u32)>>,
}

impl Script {
    pub fn new() -> Arc<Script> {
        Arc::new(Script::default())
    }

    pub fn push(&self, model: &str, step: Step) {
        self.steps.lock().expect("lock").entry(model.to_string()).or_default().push_back(step);
    }

    pub fn calls(&self) -> Vec<(String, String, u32)> {
        self.calls.lock().expect("lock").clone()
    }
}

impl Provider for Script {
    fn call(&self, req: CallRequest<'_>) -> ChunkStream {
        let model = req.model().id.to_string();
        let node = req.flow.nodes[req.node].id.clone();
        self.calls.lock().expect("lock").push((model.clone(), node, req.try_no));
        let step = self.steps.lock().expect("lock").get_mut(&model).and_then(VecDeque::pop_front).unwrap_or_else(|| Step::answer("ok"));
        Box::pin(futures::stream::unfold(Some(step), |step| async move {
            match step? {
                Step::Stall => {
                    std::future::pending::<()>().await;
                    None
                }
                Step::Fail { after, error } => {
                    baton::engine::sleep(after).await;
                    Some((Err(error), None))
                }
                Step::Answer { text, ttft, gap, pieces, usage } => {
                    baton::engine::sleep(ttft).await;
                    let n = pieces.max(1);
                    let chars: Vec<char> = text.chars().collect();
                    let per = chars.len().div_ceil(n).max(1);
                    let chunks: Vec<String> = chars.chunks(per).map(|c| c.iter().collect()).collect();
                    let first = chunks.first().cloned().unwrap_or_default();
                    let rest = Step::Answer {
                        text: chunks.get(1..).map(|c| c.concat()).unwrap_or_default(),
                        ttft: gap,
                        gap,
                        pieces: n.saturating_sub(1),
                        usage,
                    };
                    if first.is_empty() {
                        return usage.map(|u| (Ok(Chunk::Usage(u)), None));
                    }
                    let next = if chunks.len() > 1 {
                        Some(rest)
                    } else {
                        usage.map(|u| Step::Answer { text: String::new(), ttft: Duration::ZERO, gap, pieces: 0, usage: Some(u) })
                    };
                    Some((Ok(Chunk::Text { text: first, tokens: None }), next))
                }
            }
        }))
    }
}

/// The events about one node, by id.
pub fn events_for<'a>(events: &'a [RunEvent], flow: &Flow, id: &str) -> Vec<&'a Event> {
    let idx = flow.node_index(id).expect("node exists") as u32;
    events.iter().filter(|e| e.kind.unit().is_some_and(|u| u.node == idx)).map(|e| &e.kind).collect()
}

pub mod otlp;
pub mod screen;
pub mod server;
