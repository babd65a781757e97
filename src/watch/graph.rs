//! From a trace's spans to a DAG of steps with the model calls attached.
//!
//! The rules, in order (the README repeats them):
//! 1. Steps are the spans the conventions name as steps (LangGraph nodes by their
//!    `langgraph_node` metadata, OpenInference AGENT/TOOL/CHAIN, OpenLLMetry workflow/task/agent/
//!    tool, GenAI `invoke_agent`/`execute_tool`) and the application's own spans. HTTP client
//!    hops are transparent (their server span is the step). A framework span that only wraps
//!    LangGraph nodes (the graph itself) is the run, not a step. A chain inside another step is
//!    plumbing and merges into it, as does a span carrying the same LangGraph node and step.
//! 2. A model call attaches to its nearest framework step. Under an application span (which
//!    says nothing about its calls), each call is a node of its own, so parallel calls show as
//!    parallel nodes. A framework step whose calls used different models is split the same way,
//!    so each call is priced at its own model.
//!    A span that declares its children a DAG (`baton.dag = "links"`, Baton's own export) is
//!    the run, not a step; each model call under it is a node.
//! 3. Edges: a node whose parent span declared a DAG depends on the nodes its span links to,
//!    and on nothing else. LangGraph executions follow `langgraph_step` (an execution depends on the
//!    executions of the previous step, narrowed to the sources of a `join:` trigger when one is
//!    given). Otherwise a step depends on the step that contains it, and siblings depend on the
//!    siblings that ended before they started (the transitive reduction of "ended before").
//! 4. A node name seen more than once is numbered by start time: `writer#1`, `writer#2`.
//! 5. Tokens are counted once: a span's tokens count only if no span below it carries tokens or
//!    is a model call (the innermost report wins), so a chain repeating its LLM's usage, or two
//!    instrumentations wrapping one call, are not summed.

use std::collections::HashMap;
use std::sync::Arc;

use super::span::{Role, SpanId, SpanRec, StepKind, Tokens, TraceId};

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub span: SpanId,
    pub name: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub tokens: Tokens,
    pub start_ns: u64,
    pub end_ns: u64,
    pub scope: Arc<str>,
    pub error: Option<String>,
    /// When its stream's first chunk came, if the instrumentation said.
    pub first_token_ns: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// LangGraph said so (`langgraph_step`, triggers).
    Step,
    /// The child runs inside its parent step.
    Contains,
    /// Inferred: the source ended before the target started.
    Timing,
    /// The target's span links to the source's (a DAG declared by the sender).
    Declared,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GNode {
    /// `writer#2` when `writer` ran more than once, else `writer`.
    pub label: String,
    pub base: String,
    pub execution: u32,
    /// `chain`, `agent`, `tool`, `task`, `workflow`, `llm`, `span`, or `running` for a parent
    /// known only from its children.
    pub kind: &'static str,
    pub span: Option<SpanId>,
    pub service: Arc<str>,
    pub start_ns: u64,
    /// `None` while the step runs: its span has not arrived (a span is exported when it ends).
    pub end_ns: Option<u64>,
    pub calls: Vec<Call>,
    pub error: Option<String>,
    pub langgraph_step: Option<u32>,
    triggers: Vec<String>,
    framework: bool,
    parent: Option<usize>,
    /// The spans its span links to, when its parent span declared a DAG; `None` otherwise.
    declared: Option<Vec<SpanId>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TraceGraph {
    pub trace: TraceId,
    pub start_ns: u64,
    pub end_ns: u64,
    pub nodes: Vec<GNode>,
    pub edges: Vec<(usize, usize, EdgeKind)>,
    pub services: Vec<String>,
    pub spans: usize,
    /// Spans whose parent never arrived.
    pub orphans: usize,
}

impl TraceGraph {
    pub fn calls(&self) -> impl Iterator<Item = (&GNode, &Call)> {
        self.nodes.iter().flat_map(|n| n.calls.iter().map(move |c| (n, c)))
    }

    /// The labels of a node's dependencies.
    pub fn after(&self, node: usize) -> Vec<&str> {
        self.edges.iter().filter(|e| e.1 == node).map(|e| self.nodes[e.0].label.as_str()).collect()
    }

    /// Whether the trace holds any model call (the others, like health checks, are not runs).
    pub fn is_orchestration(&self) -> bool {
        self.nodes.iter().any(|n| !n.calls.is_empty())
    }
}

/// Builds the DAG of one trace. Spans whose parent has not arrived become children of a
/// `running` placeholder for that parent, since a span is exported only when it ends.
pub fn build(spans: &[SpanRec], model_key: &dyn Fn(&str) -> String) -> TraceGraph {
    let n = spans.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (spans[i].start_ns, spans[i].end_ns));
    let index: HashMap<SpanId, usize> = spans.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    let mut missing: Vec<(SpanId, Vec<usize>)> = Vec::new();
    for &i in &order {
        match spans[i].parent {
            Some(p) if p != spans[i].id => match index.get(&p) {
                Some(&pi) => children[pi].push(i),
                None => match missing.iter_mut().find(|(m, _)| *m == p) {
                    Some((_, v)) => v.push(i),
                    None => missing.push((p, vec![i])),
                },
            },
            _ => roots.push(i),
        }
    }

    // Post-order facts: does anything below a span carry tokens or call a model; does anything
    // below it carry LangGraph metadata.
    let mut below_call = vec![false; n];
    let mut below_lg = vec![false; n];
    let mut post = Vec::with_capacity(n);
    let mut stack: Vec<(usize, bool)> = roots.iter().chain(missing.iter().flat_map(|m| m.1.iter())).map(|&r| (r, false)).collect();
    let mut seen = vec![false; n];
    while let Some((i, done)) = stack.pop() {
        if done {
            post.push(i);
            continue;
        }
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        stack.push((i, true));
        stack.extend(children[i].iter().map(|&c| (c, false)));
    }
    for &i in &post {
        for &c in &children[i] {
            let s = &spans[c];
            below_call[i] |= below_call[c] || s.role == Role::Llm || s.tokens.any();
            below_lg[i] |= below_lg[c] || s.langgraph.is_some();
        }
    }

    let mut g = TraceGraph {
        trace: spans.first().map_or([0; 16], |s| s.trace),
        start_ns: spans.iter().map(|s| s.start_ns).min().unwrap_or(0),
        end_ns: spans.iter().map(|s| s.end_ns).max().unwrap_or(0),
        nodes: Vec::new(),
        edges: Vec::new(),
        services: Vec::new(),
        spans: n,
        orphans: missing.iter().map(|m| m.1.len()).sum(),
    };
    for s in spans {
        if !g.services.iter().any(|x| **x == *s.service) {
            g.services.push(s.service.to_string());
        }
    }
    let prefix = g.services.len() > 1;
    let name_of = |s: &SpanRec| {
        let base = s.step_name.clone().unwrap_or_else(|| s.name.clone());
        if prefix { format!("{}:{base}", s.service) } else { base }
    };

    let mut walk: Vec<(usize, Option<usize>)> = roots.iter().rev().map(|&r| (r, None)).collect();
    for (p, kids) in missing.iter().rev() {
        let first = &spans[kids[0]];
        let placeholder = GNode {
            label: String::new(),
            base: format!("running {}", &super::span::hex(p)[..8]),
            execution: 1,
            kind: "running",
            span: None,
            service: first.service.clone(),
            start_ns: kids.iter().map(|&k| spans[k].start_ns).min().unwrap_or(0),
            end_ns: None,
            calls: Vec::new(),
            error: None,
            langgraph_step: None,
            triggers: Vec::new(),
            framework: false,
            parent: None,
            declared: None,
        };
        let idx = g.nodes.len();
        g.nodes.push(placeholder);
        walk.extend(kids.iter().rev().map(|&k| (k, Some(idx))));
    }

    let new_node = |g: &mut TraceGraph, s: &SpanRec, kind: &'static str, framework: bool, parent: Option<usize>| {
        g.nodes.push(GNode {
            label: String::new(),
            base: name_of(s),
            execution: 1,
            kind,
            span: Some(s.id),
            service: s.service.clone(),
            start_ns: s.start_ns,
            end_ns: Some(s.end_ns),
            calls: Vec::new(),
            error: s.error.clone(),
            langgraph_step: s.langgraph.as_ref().map(|l| l.step),
            triggers: s.langgraph.as_ref().map(|l| l.triggers.clone()).unwrap_or_default(),
            framework,
            parent,
            declared: s.parent.and_then(|p| index.get(&p)).is_some_and(|&pi| spans[pi].dag_by_links).then(|| s.links.clone()),
        });
        g.nodes.len() - 1
    };
    let call_of = |s: &SpanRec| Call {
        span: s.id,
        name: s.name.clone(),
        model: s.model.clone(),
        provider: s.provider.clone(),
        tokens: s.tokens,
        start_ns: s.start_ns,
        end_ns: s.end_ns,
        scope: s.scope.clone(),
        error: s.error.clone(),
        first_token_ns: s.first_token_ns,
    };

    while let Some((i, ctx)) = walk.pop() {
        let s = &spans[i];
        let ctx_fw = ctx.is_some_and(|c| g.nodes[c].framework);
        let mut here = ctx;
        match s.role {
            Role::Hop => {}
            Role::Llm => {
                if !below_call[i] {
                    let target = match ctx {
                        Some(c) if ctx_fw => c,
                        _ => new_node(&mut g, s, "llm", false, ctx),
                    };
                    g.nodes[target].calls.push(call_of(s));
                    here = Some(target);
                }
            }
            Role::Step(kind) => {
                let node = if let Some(lg) = &s.langgraph {
                    let same = ctx.is_some_and(|c| {
                        let cn = &g.nodes[c];
                        cn.framework && cn.langgraph_step == Some(lg.step) && cn.base == name_of(s)
                    });
                    !same
                } else if below_lg[i] || s.dag_by_links {
                    false // the graph itself
                } else {
                    !(kind == StepKind::Chain && ctx_fw)
                };
                if node {
                    here = Some(new_node(&mut g, s, kind.name(), true, ctx));
                }
            }
            Role::Plain => {
                let same_lg = s
                    .langgraph
                    .as_ref()
                    .is_some_and(|lg| ctx.is_some_and(|c| g.nodes[c].langgraph_step == Some(lg.step) && g.nodes[c].base == name_of(s)));
                if !ctx_fw && !same_lg && !s.dag_by_links {
                    here = Some(new_node(&mut g, s, "span", s.langgraph.is_some(), ctx));
                }
            }
        }
        // A step that reports tokens itself, with no call below it to report them instead.
        if s.role != Role::Llm && s.tokens.any() && !below_call[i] {
            let target = match here {
                Some(h) => h,
                None => new_node(&mut g, s, "llm", false, None),
            };
            g.nodes[target].calls.push(call_of(s));
            here = Some(target);
        }
        for &c in children[i].iter().rev() {
            walk.push((c, here));
        }
    }

    split_mixed_models(&mut g, model_key);
    name_executions(&mut g);
    g.edges = edges(&g);
    g
}

/// A framework step whose calls used different models: each call becomes a node of its own
/// inside it, so the fold prices every call at its own model.
fn split_mixed_models(g: &mut TraceGraph, model_key: &dyn Fn(&str) -> String) {
    for i in 0..g.nodes.len() {
        let keys: Vec<String> = g.nodes[i].calls.iter().map(|c| c.model.as_deref().map(model_key).unwrap_or_default()).collect();
        if keys.windows(2).all(|w| w[0] == w[1]) {
            continue;
        }
        let calls = std::mem::take(&mut g.nodes[i].calls);
        for c in calls {
            let n = GNode {
                label: String::new(),
                base: c.name.clone(),
                execution: 1,
                kind: "llm",
                span: Some(c.span),
                service: g.nodes[i].service.clone(),
                start_ns: c.start_ns,
                end_ns: Some(c.end_ns),
                error: c.error.clone(),
                calls: vec![c],
                langgraph_step: None,
                triggers: Vec::new(),
                framework: false,
                parent: Some(i),
                declared: None,
            };
            g.nodes.push(n);
        }
    }
}

fn name_executions(g: &mut TraceGraph) {
    let mut order: Vec<usize> = (0..g.nodes.len()).collect();
    order.sort_by_key(|&i| g.nodes[i].start_ns);
    let mut count: HashMap<String, u32> = HashMap::new();
    for &i in &order {
        *count.entry(g.nodes[i].base.clone()).or_default() += 1;
    }
    let mut seen: HashMap<String, u32> = HashMap::new();
    for &i in &order {
        let base = g.nodes[i].base.clone();
        let k = seen.entry(base.clone()).or_default();
        *k += 1;
        g.nodes[i].execution = *k;
        g.nodes[i].label = if count[&base] > 1 { format!("{base}#{k}") } else { base };
    }
}

fn edges(g: &TraceGraph) -> Vec<(usize, usize, EdgeKind)> {
    let mut out = Vec::new();
    let by_span: HashMap<SpanId, usize> = g.nodes.iter().enumerate().filter_map(|(i, n)| Some((n.span?, i))).collect();
    let mut groups: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        groups.entry(n.parent).or_default().push(i);
    }
    let mut keys: Vec<Option<usize>> = groups.keys().copied().collect();
    keys.sort();
    for parent in keys {
        let members = &groups[&parent];
        let (declared, members): (Vec<usize>, Vec<usize>) = members.iter().partition(|&&i| g.nodes[i].declared.is_some());
        for &b in &declared {
            for link in g.nodes[b].declared.iter().flatten() {
                if let Some(&a) = by_span.get(link) {
                    out.push((a, b, EdgeKind::Declared));
                }
            }
        }
        let (lg, other): (Vec<usize>, Vec<usize>) = members.iter().partition(|&&i| g.nodes[i].langgraph_step.is_some());
        for &e in &lg {
            let step = g.nodes[e].langgraph_step.unwrap_or(0);
            let prev = lg.iter().filter_map(|&o| g.nodes[o].langgraph_step).filter(|&s| s < step).max();
            let Some(prev) = prev else {
                if let Some(p) = parent {
                    out.push((p, e, EdgeKind::Contains));
                }
                continue;
            };
            let at_prev: Vec<usize> = lg.iter().copied().filter(|&o| g.nodes[o].langgraph_step == Some(prev)).collect();
            // `join:a+b+c:writer` names the sources the join waited for.
            let sources: Vec<&str> = g.nodes[e]
                .triggers
                .iter()
                .filter_map(|t| t.strip_prefix("join:"))
                .flat_map(|t| t.rsplit_once(':').map_or(t, |(s, _)| s).split('+'))
                .collect();
            let joined: Vec<usize> = at_prev.iter().copied().filter(|&o| sources.iter().any(|s| g.nodes[o].base.ends_with(s))).collect();
            for o in if joined.is_empty() { at_prev } else { joined } {
                out.push((o, e, EdgeKind::Step));
            }
        }
        if let Some(p) = parent {
            for &c in &other {
                out.push((p, c, EdgeKind::Contains));
            }
        }
        // Interval order among siblings, reduced: A → B when A ended before B started and no
        // sibling fits entirely between them.
        for &b in &other {
            let bs = g.nodes[b].start_ns;
            let before: Vec<usize> = other.iter().copied().filter(|&c| c != b && g.nodes[c].end_ns.is_some_and(|e| e <= bs)).collect();
            // The two latest starts among them: enough to ask "does another one start after A ends".
            let mut top: [Option<(u64, usize)>; 2] = [None, None];
            for &c in &before {
                let k = (g.nodes[c].start_ns, c);
                if top[0].is_none_or(|t| k > t) {
                    top[1] = top[0];
                    top[0] = Some(k);
                } else if top[1].is_none_or(|t| k > t) {
                    top[1] = Some(k);
                }
            }
            for &a in &before {
                let ae = g.nodes[a].end_ns.unwrap_or(u64::MAX);
                let other_latest = top.iter().flatten().find(|t| t.1 != a).map(|t| t.0);
                if other_latest.is_none_or(|m| m < ae) {
                    out.push((a, b, EdgeKind::Timing));
                }
            }
        }
    }
    out
}
