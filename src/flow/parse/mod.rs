//! Reading a flow file: TOML into raw spanned structs, then every semantic check with the span
//! of the offending value. The TOML is read in `read.rs`, the pieces of a node in `parts.rs`;
//! tests in `tests.rs`.

use std::collections::HashMap;
use std::ops::Range;

use toml::Spanned;

use super::template::{self, Piece, RawPiece};
use super::{FanOut, Flow, KNOWN_KINDS, Node};
use crate::diag::{Diagnostics, Source, nearest};

const DEFAULT_EXPECTED_TOKENS: u32 = 300;
const DEFAULT_MAP_LIMIT: usize = 8;
const DEFAULT_MAX_ITEMS: usize = 64;

/// Parses and validates a flow. On success the diagnostics hold warnings only.
pub fn parse_flow(src: &Source) -> Result<(Flow, Diagnostics), Diagnostics> {
    let (mut flow, warnings) = read_and_validate(src)?;
    flow.source_text = src.text.clone();
    Ok((flow, warnings))
}

/// [`parse_flow`] for a source the caller is done with: the flow takes its text rather than a
/// copy, so a large file is never held twice.
pub fn parse_flow_owned(src: Source) -> Result<(Flow, Diagnostics), Diagnostics> {
    let (mut flow, warnings) = read_and_validate(&src)?;
    flow.source_text = src.text;
    Ok((flow, warnings))
}

fn read_and_validate(src: &Source) -> Result<(Flow, Diagnostics), Diagnostics> {
    let raw = if src.text.len() > CHUNKED_ABOVE { read_in_chunks(&src.text) } else { None };
    let raw = match raw {
        Some(raw) => raw,
        None => toml::from_str(&src.text).map_err(|e| Diagnostics::from(src.toml_error(&e)))?,
    };
    validate(src, raw)
}

/// Where in a raw node a late error points.
enum At {
    Context(usize),
    Prompt,
    When,
    Map,
}

/// Every check on a read flow, with the span of the offending value.
fn validate(src: &Source, mut raw: RawFile) -> Result<(Flow, Diagnostics), Diagnostics> {
    let mut diags = Diagnostics::default();
    // Each raw node is dropped as soon as its node is built, so a large flow is never held
    // twice (the raw nodes were the larger half of a 100,000-node file's peak). Errors found
    // after that take their spans from `reread`. The ids are taken out first: the map below
    // borrows them.
    let names: Vec<String> = raw.node.iter_mut().map(|n| std::mem::take(n.id.get_mut())).collect();
    let id_spans: Vec<Range<usize>> = raw.node.iter().map(|n| n.id.span()).collect();
    let mut ids: HashMap<&str, usize> = HashMap::with_capacity(names.len());

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

    for (i, (id, span)) in names.iter().zip(&id_spans).enumerate() {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            diags.push(
                src.error(span.clone(), format!("node id '{id}' is not a plain name"))
                    .with_help("use letters, digits, '-' and '_' only (ids appear in templates as {{id}})"),
            );
        }
        if matches!(id.as_str(), "input" | "item") {
            diags.push(src.error(span.clone(), format!("'{id}' is reserved for templates")).with_help("choose another id"));
        }
        if let Some(&first) = ids.get(id.as_str()) {
            let (line, _) = src.locate(id_spans[first].start);
            diags.push(
                src.error(span.clone(), format!("duplicate node id '{id}'"))
                    .with_help(format!("the first node with this id is at line {line}; rename one of them")),
            );
        } else {
            ids.insert(id.as_str(), i);
        }
    }

    let resolve = |key: &str, span: Range<usize>, what: &str, diags: &mut Diagnostics| -> Option<usize> {
        if let Some(&i) = ids.get(key) {
            return Some(i);
        }
        let help = match nearest(key, names.iter().map(String::as_str)) {
            Some(best) => format!("did you mean '{best}'?"),
            None => format!("known nodes: {}", known_list(&names)),
        };
        diags.push(src.error(span, format!("unknown node '{key}' in {what}")).with_help(help));
        None
    };

    let mut nodes = Vec::with_capacity(names.len());
    // `listed[u] == i + 1` when node i already lists u in its after: a set without a per-node
    // allocation (searching the list for each entry was quadratic in a wide fan-in).
    let mut listed = vec![0usize; names.len()];
    for (i, n) in raw.node.into_iter().enumerate() {
        let id = names[i].clone();
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

        let mut after = Vec::with_capacity(n.after.len());
        for (a, span) in n.after.iter() {
            if a == id {
                diags.push(
                    src.error(span, format!("node '{id}' lists itself in after")).with_help("remove it; a node cannot wait for itself"),
                );
            } else if let Some(u) = resolve(a, span.clone(), &format!("the 'after' of node '{id}'"), &mut diags) {
                if listed[u] == i + 1 {
                    diags.push(src.warning(span, format!("'{a}' is listed twice in after")));
                } else {
                    listed[u] = i + 1;
                    after.push(u);
                }
            }
        }
        let declared_context = n
            .context
            .as_ref()
            .map(|list| list.iter().filter_map(|(c, span)| resolve(c, span, &format!("the context of node '{id}'"), &mut diags)).collect());

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
                            let help = match nearest(&name, names.iter().map(String::as_str)) {
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
                // Not collected in place: that kept the raw pieces' larger buffer, 128 bytes a
                // node of a 100,000-node flow for what is usually one piece.
                .collect::<Box<[Piece]>>()
                .into_vec(),
            Err((at, msg)) => {
                diags.push(src.error(inner_span(src, &n.prompt, at, 2), format!("in the prompt of node '{id}': {msg}")));
                Vec::new()
            }
        };

        let when = n.when.as_ref().and_then(|w| parse_condition(src, w, &id, &resolve, &mut diags)).map(Box::new);
        let map = n.map.as_ref().and_then(|m| {
            let over = resolve(m.get_ref().over.get_ref(), m.get_ref().over.span(), &format!("the map of node '{id}'"), &mut diags)?;
            let limit = positive(src, m.get_ref().limit.as_ref(), "limit", 100_000, DEFAULT_MAP_LIMIT, &mut diags);
            let max_items = positive(src, m.get_ref().max_items.as_ref(), "max_items", 1_000_000, DEFAULT_MAX_ITEMS, &mut diags);
            Some(FanOut { over, limit, max_items })
        });
        let checks = n.checks.iter().filter_map(|c| parse_check(src, c, &mut diags)).collect();
        let sim = n.sim.as_ref().map_or_else(super::SimHints::none, |s| std::sync::Arc::new(parse_sim(src, s, &mut diags)));

        // The raw node's strings move into the node rather than being copied.
        let line = src.locate(n.id.span().start).0;
        nodes.push(Node {
            id,
            kind,
            description: n.description,
            complexity: complexity.clamp(1, 10) as u8,
            prompt: n.prompt.into_inner(),
            template,
            after,
            declared_context,
            expected_tokens,
            max_tokens,
            tags: n.tags,
            when,
            map,
            checks,
            sim,
            line,
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
            let again = reread(src);
            let span = again
                .get(first)
                .and_then(|r| r.after.iter().find(|(a, _)| *a == nodes[last].id))
                .map_or_else(|| id_spans[first].clone(), |(_, span)| span);
            diags.push(
                src.error(span, format!("the flow has a cycle: {} → {}", names.join(" → "), names[0]))
                    .with_help("a flow must be a DAG; remove one of these dependencies"),
            );
            return Err(diags);
        }
    };
    // Sized before filling: grown a push at a time they kept up to twice their room.
    let mut count = vec![0usize; nodes.len()];
    for n in &nodes {
        for &d in &n.after {
            count[d] += 1;
        }
    }
    let mut dependents: Vec<Vec<usize>> = count.into_iter().map(Vec::with_capacity).collect();
    for (i, n) in nodes.iter().enumerate() {
        for &d in &n.after {
            dependents[d].push(i);
        }
    }
    let flow = Flow {
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

    // Everything a node reads must have finished before it starts (its after list does, by
    // construction).
    let mut walk = Ancestry::new(flow.nodes.len());
    let mut late: Vec<(usize, usize, At, &str)> = Vec::new();
    for (i, n) in flow.nodes.iter().enumerate() {
        let mut must_precede = |upstream: usize, at: At, what: &'static str| {
            if upstream != i && !walk.precedes(&flow.nodes, upstream, i) {
                late.push((i, upstream, at, what));
            }
        };
        if let Some(context) = &n.declared_context {
            for (k, c) in context.iter().enumerate() {
                must_precede(*c, At::Context(k), "receives the output of");
            }
        }
        for p in &n.template {
            if let Piece::Node(u) = p {
                must_precede(*u, At::Prompt, "uses in its prompt");
            }
        }
        if let Some(w) = &n.when {
            must_precede(w.node, At::When, "has a condition on");
        }
        if let Some(m) = &n.map {
            must_precede(m.over, At::Map, "maps over");
        }
    }
    if !late.is_empty() {
        let again = reread(src);
        for (i, upstream, at, what) in late {
            let r = again.get(i);
            let span = match at {
                At::Context(k) => r.and_then(|r| r.context.as_ref()?.iter().nth(k)).map(|(_, span)| span),
                At::Prompt => r.map(|r| r.prompt.span()),
                At::When => r.and_then(|r| Some(r.when.as_ref()?.get_ref().node.span())),
                At::Map => r.and_then(|r| Some(r.map.as_ref()?.get_ref().over.span())),
            };
            let up = &flow.nodes[upstream].id;
            diags.push(
                src.error(
                    span.unwrap_or_else(|| id_spans[i].clone()),
                    format!("node '{}' {what} '{up}' but does not run after it", flow.nodes[i].id),
                )
                .with_help(format!("add '{up}' to the node's after list")),
            );
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
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
mod read;
#[cfg(test)]
mod tests;

use parts::*;
use read::*;
