//! Reading a flow file: TOML into raw spanned structs, then every semantic check with the span
//! of the offending value. The pieces of a node are read in `parts.rs`; tests in `tests.rs`.

use std::collections::HashMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::template::{self, Piece, RawPiece};
use super::{FanOut, Flow, KNOWN_KINDS, Node};
use crate::diag::{Diagnostics, Source, nearest};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) flow: RawHeader,
    #[serde(default)]
    pub(super) node: Vec<RawNode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHeader {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) input: String,
    #[serde(default)]
    pub(super) strategy: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNode {
    pub(super) id: Spanned<String>,
    pub(super) kind: Spanned<String>,
    pub(super) complexity: Spanned<i64>,
    pub(super) prompt: Spanned<String>,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) after: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) context: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) expected_tokens: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) max_tokens: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
    // The rarely used tables are boxed: a 100,000-node flow holds every raw node at once, and
    // inline they made each one about 770 bytes (half of it absent options).
    #[serde(default)]
    pub(super) when: Option<Box<Spanned<RawCondition>>>,
    #[serde(default)]
    pub(super) map: Option<Box<Spanned<RawMap>>>,
    #[serde(default)]
    pub(super) checks: Vec<Spanned<RawCheck>>,
    #[serde(default)]
    pub(super) sim: Option<Box<Spanned<RawSim>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCondition {
    pub(super) node: Spanned<String>,
    pub(super) equals: Option<String>,
    pub(super) contains: Option<String>,
    pub(super) not_contains: Option<String>,
    pub(super) matches: Option<Spanned<String>>,
    pub(super) passed: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMap {
    pub(super) over: Spanned<String>,
    pub(super) limit: Option<Spanned<i64>>,
    pub(super) max_items: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCheck {
    pub(super) contains: Option<String>,
    pub(super) not_contains: Option<String>,
    pub(super) regex: Option<Spanned<String>>,
    pub(super) json: Option<bool>,
    pub(super) max_chars: Option<Spanned<i64>>,
    pub(super) min_chars: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSim {
    #[serde(default)]
    pub(super) labels: Vec<String>,
    #[serde(default)]
    pub(super) weights: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    pub(super) items: Option<Spanned<Vec<i64>>>,
    #[serde(default)]
    pub(super) sample: Option<String>,
}

const DEFAULT_EXPECTED_TOKENS: u32 = 300;
const DEFAULT_MAP_LIMIT: usize = 8;
const DEFAULT_MAX_ITEMS: usize = 64;

/// Files above this size are read one `[[node]]` table at a time (see [`read_in_chunks`]).
const CHUNKED_ABOVE: usize = 256 * 1024;

/// Parses and validates a flow. On success the diagnostics hold warnings only.
pub fn parse_flow(src: &Source) -> Result<(Flow, Diagnostics), Diagnostics> {
    let raw = if src.text.len() > CHUNKED_ABOVE { read_in_chunks(&src.text) } else { None };
    let raw = match raw {
        Some(raw) => raw,
        None => toml::from_str(&src.text).map_err(|e| Diagnostics::from(src.toml_error(&e)))?,
    };
    validate(src, raw)
}

/// Reads a large flow one `[[node]]` table at a time, shifting each value's span to its place
/// in the whole file. toml builds a token list, an event list and a table of the whole
/// document before deserializing it: for a 100,000-node flow that was half a gigabyte, and
/// faulting those pages in was 40% of the run. Chunks end at lines that are exactly
/// `[[node]]`; each must parse on its own, `[flow]` must appear once, and top-level values may
/// only come before the first chunk boundary. Anything else (a boundary line inside a
/// multi-line string leaves a chunk with an unterminated string; any error) returns `None` and
/// the caller reads the whole document, so results and errors are exactly the whole-document
/// ones.
fn read_in_chunks(text: &str) -> Option<RawFile> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawChunk {
        flow: Option<RawHeader>,
        #[serde(default)]
        node: Vec<RawNode>,
    }
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if offset > 0 && line.trim() == "[[node]]" {
            starts.push(offset);
        }
        offset += line.len();
    }
    let mut flow = None;
    let mut nodes = Vec::with_capacity(starts.len());
    for (k, &start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(text.len());
        let chunk: RawChunk = toml::from_str(text.get(start..end)?).ok()?;
        if let Some(h) = chunk.flow {
            if flow.is_some() {
                return None;
            }
            flow = Some(h.shifted(start));
        }
        // Before the first boundary, nodes could be an inline array that a later [[node]]
        // would conflict with; leave that to the whole-document parse.
        if k == 0 && starts.len() > 1 && !chunk.node.is_empty() {
            return None;
        }
        nodes.extend(chunk.node.into_iter().map(|n| n.shifted(start)));
    }
    Some(RawFile { flow: flow?, node: nodes })
}

fn shift<T>(v: Spanned<T>, by: usize) -> Spanned<T> {
    let span = v.span();
    Spanned::new(span.start + by..span.end + by, v.into_inner())
}

fn shift_opt<T>(v: Option<Spanned<T>>, by: usize) -> Option<Spanned<T>> {
    v.map(|v| shift(v, by))
}

impl RawHeader {
    fn shifted(self, by: usize) -> RawHeader {
        RawHeader { name: shift(self.name, by), strategy: shift_opt(self.strategy, by), ..self }
    }
}

impl RawNode {
    fn shifted(self, by: usize) -> RawNode {
        let list = |v: Vec<Spanned<String>>| v.into_iter().map(|a| shift(a, by)).collect::<Vec<_>>();
        RawNode {
            id: shift(self.id, by),
            kind: shift(self.kind, by),
            complexity: shift(self.complexity, by),
            prompt: shift(self.prompt, by),
            description: self.description,
            after: list(self.after),
            context: self.context.map(list),
            expected_tokens: shift_opt(self.expected_tokens, by),
            max_tokens: shift_opt(self.max_tokens, by),
            tags: self.tags,
            when: self.when.map(|w| {
                let w = shift(*w, by);
                let span = w.span();
                let c = w.into_inner();
                Box::new(Spanned::new(span, RawCondition { node: shift(c.node, by), matches: shift_opt(c.matches, by), ..c }))
            }),
            map: self.map.map(|m| {
                let m = shift(*m, by);
                let span = m.span();
                let r = m.into_inner();
                Box::new(Spanned::new(
                    span,
                    RawMap { over: shift(r.over, by), limit: shift_opt(r.limit, by), max_items: shift_opt(r.max_items, by) },
                ))
            }),
            checks: self
                .checks
                .into_iter()
                .map(|c| {
                    let c = shift(c, by);
                    let span = c.span();
                    let r = c.into_inner();
                    Spanned::new(
                        span,
                        RawCheck {
                            regex: shift_opt(r.regex, by),
                            max_chars: shift_opt(r.max_chars, by),
                            min_chars: shift_opt(r.min_chars, by),
                            ..r
                        },
                    )
                })
                .collect(),
            sim: self.sim.map(|s| {
                let s = shift(*s, by);
                let span = s.span();
                let r = s.into_inner();
                Box::new(Spanned::new(span, RawSim { weights: shift_opt(r.weights, by), items: shift_opt(r.items, by), ..r }))
            }),
        }
    }
}

/// Every check on a read flow, with the span of the offending value.
fn validate(src: &Source, raw: RawFile) -> Result<(Flow, Diagnostics), Diagnostics> {
    let mut diags = Diagnostics::default();
    // Keyed by the raw nodes' own ids, not copies (100,000 copies at 100k nodes).
    let mut ids: HashMap<&str, usize> = HashMap::with_capacity(raw.node.len());

    if raw.node.is_empty() {
        diags.push(
            src.error(raw.flow.name.span(), "the flow has no nodes")
                .with_help("add at least one [[node]] table with id, kind, complexity and prompt"),
        );
        return Err(diags);
    }
    if raw.flow.name.get_ref().trim().is_empty() {
        diags.push(
            src.error(raw.flow.name.span(), "the flow's name is empty")
                .with_help("give the flow a name, e.g. name = \"research-assistant\""),
        );
    }

    for (i, n) in raw.node.iter().enumerate() {
        let id = n.id.get_ref();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            diags.push(
                src.error(n.id.span(), format!("node id '{id}' is not a plain name"))
                    .with_help("use letters, digits, '-' and '_' only (ids appear in templates as {{id}})"),
            );
        }
        if matches!(id.as_str(), "input" | "item") {
            diags.push(src.error(n.id.span(), format!("'{id}' is reserved for templates")).with_help("choose another id"));
        }
        if let Some(&first) = ids.get(id.as_str()) {
            let (line, _) = src.locate(raw.node[first].id.span().start);
            diags.push(
                src.error(n.id.span(), format!("duplicate node id '{id}'"))
                    .with_help(format!("the first node with this id is at line {line}; rename one of them")),
            );
        } else {
            ids.insert(id.as_str(), i);
        }
    }

    let resolve = |name: &Spanned<String>, what: &str, diags: &mut Diagnostics| -> Option<usize> {
        let key = name.get_ref();
        if let Some(&i) = ids.get(key.as_str()) {
            return Some(i);
        }
        let help = match nearest(key, raw.node.iter().map(|n| n.id.get_ref().as_str())) {
            Some(best) => format!("did you mean '{best}'?"),
            None => format!("known nodes: {}", known_list(&raw.node)),
        };
        diags.push(src.error(name.span(), format!("unknown node '{key}' in {what}")).with_help(help));
        None
    };

    let mut nodes = Vec::with_capacity(raw.node.len());
    // `listed[u] == i + 1` when node i already lists u in its after: a set without a per-node
    // allocation (searching the list for each entry was quadratic in a wide fan-in).
    let mut listed = vec![0usize; raw.node.len()];
    for (i, n) in raw.node.iter().enumerate() {
        let id = n.id.get_ref().clone();
        let complexity = *n.complexity.get_ref();
        if !(1..=10).contains(&complexity) {
            diags.push(
                src.error(n.complexity.span(), format!("complexity {complexity} is out of range"))
                    .with_help("complexity runs from 1 (trivial) to 10 (hardest)"),
            );
        }
        let kind = n.kind.get_ref().trim().to_lowercase();
        if kind.is_empty() {
            diags.push(
                src.error(n.kind.span(), "the kind is empty")
                    .with_help(format!("use one of {}, or a word of your own", KNOWN_KINDS.join(", "))),
            );
        } else if !KNOWN_KINDS.contains(&kind.as_str())
            && let Some(best) = nearest(&kind, KNOWN_KINDS.iter().copied())
        {
            diags.push(
                src.warning(n.kind.span(), format!("kind '{kind}' is not a built-in kind"))
                    .with_help(format!("did you mean '{best}'? rules matching on '{best}' will not see this node")),
            );
        }

        let mut after = Vec::new();
        for a in &n.after {
            if a.get_ref() == &id {
                diags.push(
                    src.error(a.span(), format!("node '{id}' lists itself in after")).with_help("remove it; a node cannot wait for itself"),
                );
            } else if let Some(u) = resolve(a, &format!("the 'after' of node '{id}'"), &mut diags) {
                if listed[u] == i + 1 {
                    diags.push(src.warning(a.span(), format!("'{}' is listed twice in after", a.get_ref())));
                } else {
                    listed[u] = i + 1;
                    after.push(u);
                }
            }
        }
        let context = match &n.context {
            None => after.clone(),
            Some(list) => list.iter().filter_map(|c| resolve(c, &format!("the context of node '{id}'"), &mut diags)).collect(),
        };

        let expected_tokens = match &n.expected_tokens {
            None => DEFAULT_EXPECTED_TOKENS,
            Some(t) => match u32::try_from(*t.get_ref()) {
                Ok(v) if (1..=1_000_000).contains(&v) => v,
                _ => {
                    diags.push(
                        src.error(t.span(), format!("expected_tokens {} is out of range", t.get_ref()))
                            .with_help("use a number of output tokens from 1 to 1000000"),
                    );
                    DEFAULT_EXPECTED_TOKENS
                }
            },
        };
        let max_tokens = match &n.max_tokens {
            None => (expected_tokens.saturating_mul(4)).clamp(256, 32_768).max(expected_tokens),
            Some(t) => match u32::try_from(*t.get_ref()) {
                Ok(v) if v >= expected_tokens && v <= 1_000_000 => v,
                _ => {
                    diags.push(
                        src.error(t.span(), format!("max_tokens {} must be at least expected_tokens ({expected_tokens})", t.get_ref()))
                            .with_help(format!("use a number of tokens from {expected_tokens} to 1000000, or lower expected_tokens")),
                    );
                    expected_tokens
                }
            },
        };

        let template = match template::parse(n.prompt.get_ref()) {
            Ok(pieces) => pieces
                .into_iter()
                .filter_map(|p| match p {
                    RawPiece::Text(t) => Some(Piece::Text(t)),
                    RawPiece::Ref(name, _) if name == "input" => Some(Piece::Input),
                    RawPiece::Ref(name, _) if name == "item" => {
                        if n.map.is_none() {
                            diags.push(
                                src.error(n.prompt.span(), format!("node '{id}' uses {{{{item}}}} but has no map"))
                                    .with_help("add map = { over = \"<upstream node>\" } or remove {{item}}"),
                            );
                        }
                        Some(Piece::Item)
                    }
                    RawPiece::Ref(name, at) => match ids.get(name.as_str()) {
                        Some(&i) => Some(Piece::Node(i)),
                        None => {
                            let help = match nearest(&name, raw.node.iter().map(|n| n.id.get_ref().as_str())) {
                                Some(best) => format!("did you mean {{{{{best}}}}}?"),
                                None => "placeholders are {{input}}, {{item}} or a node id".to_string(),
                            };
                            let span = inner_span(src, &n.prompt, at, name.len() + 4);
                            diags.push(
                                src.error(span, format!("the prompt of node '{id}' uses unknown placeholder {{{{{name}}}}}"))
                                    .with_help(help),
                            );
                            None
                        }
                    },
                })
                .collect(),
            Err((at, msg)) => {
                diags.push(src.error(inner_span(src, &n.prompt, at, 2), format!("in the prompt of node '{id}': {msg}")));
                Vec::new()
            }
        };

        let when = n.when.as_ref().and_then(|w| parse_condition(src, w, &id, &resolve, &mut diags)).map(Box::new);
        let map = n.map.as_ref().and_then(|m| {
            let over = resolve(&m.get_ref().over, &format!("the map of node '{id}'"), &mut diags)?;
            let limit = positive(src, m.get_ref().limit.as_ref(), "limit", 100_000, DEFAULT_MAP_LIMIT, &mut diags);
            let max_items = positive(src, m.get_ref().max_items.as_ref(), "max_items", 1_000_000, DEFAULT_MAX_ITEMS, &mut diags);
            Some(FanOut { over, limit, max_items })
        });
        let checks = n.checks.iter().filter_map(|c| parse_check(src, c, &mut diags)).collect();
        let sim = Box::new(n.sim.as_ref().map(|s| parse_sim(src, s, &mut diags)).unwrap_or_default());

        nodes.push(Node {
            id,
            kind,
            description: n.description.clone(),
            complexity: complexity.clamp(1, 10) as u8,
            prompt: n.prompt.get_ref().clone(),
            template,
            after,
            context,
            expected_tokens,
            max_tokens,
            tags: n.tags.clone(),
            when,
            map,
            checks,
            sim,
            line: src.locate(n.id.span().start).0,
        });
    }

    if diags.has_errors() {
        return Err(diags);
    }

    let order = match topo_order(&nodes) {
        Ok(order) => order,
        Err(mut cycle) => {
            // Start the loop at the node that comes first in the file.
            if let Some(min_pos) = cycle.iter().enumerate().min_by_key(|(_, n)| **n).map(|(p, _)| p) {
                cycle.rotate_left(min_pos);
            }
            let names: Vec<&str> = cycle.iter().map(|&i| nodes[i].id.as_str()).collect();
            // Point at the `after` entry that closes the loop.
            let (first, last) = (cycle[0], cycle[cycle.len() - 1]);
            let span =
                raw.node[first].after.iter().find(|a| a.get_ref() == &nodes[last].id).map_or(raw.node[first].id.span(), |a| a.span());
            diags.push(
                src.error(span, format!("the flow has a cycle: {} → {}", names.join(" → "), names[0]))
                    .with_help("a flow must be a DAG; remove one of these dependencies"),
            );
            return Err(diags);
        }
    };
    let mut dependents = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for &d in &n.after {
            dependents[d].push(i);
        }
    }
    let mut flow = Flow {
        name: raw.flow.name.get_ref().clone(),
        description: raw.flow.description,
        input: raw.flow.input,
        strategy_span: raw.flow.strategy.as_ref().map(Spanned::span),
        strategy: raw.flow.strategy.map(Spanned::into_inner),
        nodes,
        order,
        dependents,
        source_name: src.name.clone(),
        // Filled in once the flow is known to be valid: an invalid one never needs a copy.
        source_text: String::new(),
    };

    // Everything a node reads must have finished before it starts.
    let mut walk = Ancestry::new(flow.nodes.len());
    for (i, (n, r)) in flow.nodes.iter().zip(&raw.node).enumerate() {
        let mut must_precede = |upstream: usize, span: Range<usize>, what: &str, diags: &mut Diagnostics| {
            if upstream != i && !walk.precedes(&flow.nodes, upstream, i) {
                let up = &flow.nodes[upstream].id;
                diags.push(
                    src.error(span, format!("node '{}' {what} '{up}' but does not run after it", n.id))
                        .with_help(format!("add '{up}' to the node's after list")),
                );
            }
        };
        if let Some(ctx) = &r.context {
            for (c, span) in n.context.iter().zip(ctx.iter().map(Spanned::span)) {
                must_precede(*c, span, "receives the output of", &mut diags);
            }
        }
        for p in &n.template {
            if let Piece::Node(u) = p {
                must_precede(*u, r.prompt.span(), "uses in its prompt", &mut diags);
            }
        }
        if let (Some(w), Some(rw)) = (&n.when, &r.when) {
            must_precede(w.node, rw.get_ref().node.span(), "has a condition on", &mut diags);
        }
        if let (Some(m), Some(rm)) = (&n.map, &r.map) {
            must_precede(m.over, rm.get_ref().over.span(), "maps over", &mut diags);
        }
    }
    // The raw document (every string twice, with spans) is not needed past this point; free it
    // before the copy of the text below rather than when the function returns.
    drop(raw.node);
    if diags.has_errors() {
        return Err(diags);
    }
    flow.source_text = src.text.clone();
    diags.into_result(flow)
}

/// Answers "must `upstream` finish before `node` starts" for every pair a flow asks about,
/// reusing one visited table (a fresh one per question made each answer cost the whole flow).
struct Ancestry {
    /// `direct[u] == current` when u is in the after list of the node being asked about.
    direct: Vec<usize>,
    current: usize,
    /// `seen[n] == stamp` when n was visited during the current question.
    seen: Vec<u32>,
    stamp: u32,
    stack: Vec<usize>,
}

impl Ancestry {
    fn new(len: usize) -> Ancestry {
        Ancestry { direct: vec![0; len], current: 0, seen: vec![0; len], stamp: 0, stack: Vec::new() }
    }

    fn precedes(&mut self, nodes: &[Node], upstream: usize, node: usize) -> bool {
        // Most questions are about a direct dependency; mark them once per node (a fan-in's sink
        // asks about each of its 100,000 inputs).
        if self.current != node + 1 {
            self.current = node + 1;
            for &d in &nodes[node].after {
                self.direct[d] = node + 1;
            }
        }
        if self.direct[upstream] == node + 1 {
            return true;
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.seen.fill(0);
            self.stamp = 1;
        }
        self.stack.clear();
        self.stack.extend_from_slice(&nodes[node].after);
        while let Some(n) = self.stack.pop() {
            if n == upstream {
                return true;
            }
            if self.seen[n] != self.stamp {
                self.seen[n] = self.stamp;
                self.stack.extend_from_slice(&nodes[n].after);
            }
        }
        false
    }
}

/// The span of `len` bytes at offset `at` inside a string value, when the value is written
/// without escapes (so source and value bytes line up); else the whole value's span.
mod parts;
#[cfg(test)]
mod tests;

use parts::*;
