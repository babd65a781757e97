//! Reading a flow's TOML into raw spanned structs: the whole document, or a large one a
//! `[[node]]` table at a time; `validate` in `mod.rs` checks what this reads.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::diag::Source;

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
    pub(super) after: Names,
    #[serde(default)]
    pub(super) context: Option<Names>,
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

/// Node ids as written in a list (`after`, `context`), each with its span, in one buffer. A
/// layered flow lists ten a node; as `Vec<Spanned<String>>` each took about 90 bytes (the
/// element, its string, the vector's spare room), 100 MB of a 100,000-node file's 210 MB peak
/// while it was read (heaptrack of `baton validate`).
#[derive(Default)]
pub(super) struct Names {
    text: String,
    /// Where each name ends in `text`.
    ends: Vec<u32>,
    spans: Vec<Range<usize>>,
}

impl Names {
    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Each name with its span in the file.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, Range<usize>)> {
        self.ends.iter().zip(&self.spans).scan(0, |start, (&end, span)| {
            let name = &self.text[*start..end as usize];
            *start = end as usize;
            Some((name, span.clone()))
        })
    }

    fn shifted(mut self, by: usize) -> Names {
        for s in &mut self.spans {
            *s = s.start + by..s.end + by;
        }
        self
    }
}

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Names, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Names;

            // What `Vec`'s visitor says, so a wrong type reads as it did.
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sequence")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Names, A::Error> {
                let mut names = Names::default();
                while let Some(name) = seq.next_element::<Spanned<String>>()? {
                    let span = name.span();
                    names.text.push_str(name.get_ref());
                    let end = u32::try_from(names.text.len()).map_err(|_| serde::de::Error::custom("a list of ids over 4 GB"))?;
                    names.ends.push(end);
                    names.spans.push(span);
                }
                names.text.shrink_to_fit();
                names.ends.shrink_to_fit();
                names.spans.shrink_to_fit();
                Ok(names)
            }
        }
        d.deserialize_seq(Visit)
    }
}

/// Files above this size are read one `[[node]]` table at a time (see [`read_in_chunks`]).
pub(super) const CHUNKED_ABOVE: usize = 256 * 1024;

/// Reads a large flow one `[[node]]` table at a time, shifting each value's span to its place
/// in the whole file. toml builds a token list, an event list and a table of the whole
/// document before deserializing it: for a 100,000-node flow that was half a gigabyte, and
/// faulting those pages in was 40% of the run. Chunks end at lines that are exactly
/// `[[node]]`; each must parse on its own, `[flow]` must appear once, and top-level values may
/// only come before the first chunk boundary. Anything else (a boundary line inside a
/// multi-line string leaves a chunk with an unterminated string; any error) returns `None` and
/// the caller reads the whole document, so results and errors are exactly the whole-document
/// ones.
pub(super) fn read_in_chunks(text: &str) -> Option<RawFile> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if offset > 0 && line.trim() == "[[node]]" {
            starts.push(offset);
        }
        offset += line.len();
    }
    // The chunks read on their own, so the later half is read on a second core where there is
    // one (the flow of a recording is read before anything else can start; 5 MB took 0.15 s).
    let n = starts.len();
    let half = if n >= 64 && std::thread::available_parallelism().is_ok_and(|c| c.get() > 1) { n / 2 } else { n };
    let (first, later) = std::thread::scope(|s| {
        let later = (half < n).then(|| s.spawn(|| read_chunks(text, &starts, half..n, Vec::with_capacity(n - half))));
        let first = read_chunks(text, &starts, 0..half, Vec::with_capacity(n));
        (first, later.map(|h| h.join().ok().flatten()))
    });
    let (mut flows, mut nodes) = first?;
    if let Some(later) = later {
        let (more_flows, more_nodes) = later?;
        flows.extend(more_flows);
        // No second copy: `nodes` has room for every node.
        nodes.extend(more_nodes);
    }
    // `[flow]` exactly once.
    let flow = flows.pop().filter(|_| flows.is_empty())?;
    Some(RawFile { flow, node: nodes })
}

/// Chunks `ks` of `text` (cut at `starts`), each read on its own with its spans shifted into
/// place: the `[flow]` tables and the nodes they hold. `None` when a chunk does not read or
/// breaks a rule of [`read_in_chunks`].
fn read_chunks(
    text: &str,
    starts: &[usize],
    ks: std::ops::Range<usize>,
    mut nodes: Vec<RawNode>,
) -> Option<(Vec<RawHeader>, Vec<RawNode>)> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawChunk {
        flow: Option<RawHeader>,
        #[serde(default)]
        node: Vec<RawNode>,
    }
    let mut flows = Vec::new();
    for k in ks {
        let start = starts[k];
        let end = starts.get(k + 1).copied().unwrap_or(text.len());
        let chunk: RawChunk = toml::from_str(text.get(start..end)?).ok()?;
        if let Some(h) = chunk.flow {
            flows.push(h.shifted(start));
        }
        // Before the first boundary, nodes could be an inline array that a later [[node]]
        // would conflict with; leave that to the whole-document parse.
        if k == 0 && starts.len() > 1 && !chunk.node.is_empty() {
            return None;
        }
        nodes.extend(chunk.node.into_iter().map(|n| n.shifted(start)));
    }
    Some((flows, nodes))
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
        let list = |v: Names| v.shifted(by);
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

/// The raw nodes again, for the spans of an error found once they are gone: the first read
/// succeeded, so this one does too (and gives the same spans, either way of reading).
pub(super) fn reread(src: &Source) -> Vec<RawNode> {
    let raw = if src.text.len() > CHUNKED_ABOVE { read_in_chunks(&src.text) } else { None };
    raw.or_else(|| toml::from_str::<RawFile>(&src.text).ok()).map(|r| r.node).unwrap_or_default()
}
