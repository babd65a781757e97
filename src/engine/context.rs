//! What a node receives: its rendered prompt plus, depending on the strategy's context mode,
//! only the upstream outputs it declares or the whole history so far. Each part keeps its
//! origin so the cost of passing everything to everyone can be shown as its own number.

use std::sync::Arc;

use super::RunSpec;
use crate::event::{ContextPart, Origin, Unit};
use crate::flow::Piece;
use crate::routing::ContextMode;
use crate::tokens;

/// What one finished unit contributes to later nodes' context.
pub(crate) struct HistoryEntry {
    pub unit: Unit,
    pub prompt: Arc<str>,
    pub output: Arc<str>,
}

/// Each part's text with its origin, in order: concatenated they are the message sent.
pub type Texts = Arc<[(Origin, Arc<str>)]>;

pub struct Context {
    /// Each part's origin and tokens, as the `NodeStarted` event carries them.
    pub parts: Arc<[ContextPart]>,
    /// The same parts' text, in order; concatenated they are the message sent.
    pub texts: Texts,
    /// The rendered template alone, for later nodes' history (when asked for: a copy kept
    /// for every node was a reference count taken and dropped for nothing).
    pub prompt: Option<Arc<str>>,
}

/// Token counts of each node's declared-output part (`[id output]` and its output), counted
/// once: in a layered flow every output is passed to each node of the next layer, and
/// counting it again for each was most of the tokenizer's work. It also keeps the buffers
/// [`build_context`] reuses from node to node.
pub(crate) struct DeclaredCounts {
    counts: Vec<u32>,
    /// The declared parts built last, each in the slot of its node's index modulo
    /// [`Self::RECENT`], shared with the next receivers of the same output. Receivers mostly
    /// start close together: a fan-out's nodes one after another (one text each was most of
    /// what 100,000 waiting calls held), a layer that takes the whole previous layer (building
    /// each of ten 1,000-token parts again for every receiver was a fifth of re-pricing a
    /// layered recording, `perf record`).
    recent: Vec<Option<(usize, Arc<str>)>>,
    /// Buffers [`build_context`] reuses from node to node: its parts and their known counts
    /// as they are gathered, and the prompt as it is rendered. Fresh ones for every node were
    /// three of its dozen allocations.
    texts: Vec<(Origin, Arc<str>)>,
    known: Vec<(usize, u64)>,
    prompt: String,
    /// The last context that was a rendered prompt alone (no upstream output, no history): the
    /// next unit whose prompt renders the same shares its parts, counted once. A fan-out's
    /// workers, or a generated flow's nodes, have one prompt between thousands of units, and
    /// each unit's copy was three allocations and a count.
    prompt_only: Option<(Arc<[ContextPart]>, Texts)>,
}

impl DeclaredCounts {
    const UNKNOWN: u32 = u32::MAX;
    /// How many recent parts are kept at most.
    const RECENT: usize = 64;

    pub fn new(nodes: usize) -> DeclaredCounts {
        DeclaredCounts {
            counts: vec![Self::UNKNOWN; nodes],
            recent: vec![None; nodes.clamp(1, Self::RECENT)],
            texts: Vec::new(),
            known: Vec::new(),
            prompt: String::new(),
            prompt_only: None,
        }
    }

    fn count(&mut self, node: usize, text: &str) -> u64 {
        match self.counts.get(node).copied() {
            Some(n) if n != Self::UNKNOWN => u64::from(n),
            _ => {
                let n = tokens::count(text);
                if let Some(slot) = self.counts.get_mut(node) {
                    *slot = n;
                }
                u64::from(n)
            }
        }
    }

    /// Node `node`'s output as a declared part: `[id output]`, the output, a blank line.
    fn part(&mut self, node: usize, id: &str, output: &str) -> Arc<str> {
        let at = node % self.recent.len();
        let slot = &mut self.recent[at];
        if let Some((n, text)) = slot
            && *n == node
        {
            return text.clone();
        }
        let text: Arc<str> = Arc::from(output_part(id, output));
        *slot = Some((node, text.clone()));
        text
    }
}

/// The context part that passes a unit's output on, as declared context or as history:
/// `label` is the node's id, with `[item]` for a fan-out's instance. (Re-pricing counts these
/// ahead of the engine on another thread.)
pub fn output_part(label: &str, output: &str) -> String {
    format!("[{label} output]\n{output}\n\n")
}

/// Builds node `i`'s input from the outputs so far. A node's output does not change once it
/// is there, so neither does the count of its declared part, which `counts` remembers. The
/// rendered prompt alone is returned only with `keep_prompt` (for the full-history mode).
pub(crate) fn build_context(
    spec: &RunSpec,
    i: usize,
    item: Option<&str>,
    outputs: &[Option<Arc<str>>],
    history: &[HistoryEntry],
    counts: &mut DeclaredCounts,
    keep_prompt: bool,
) -> Context {
    let node = &spec.flow.nodes[i];
    let mut texts = std::mem::take(&mut counts.texts);
    // Counts already known, by position in `texts`.
    let mut known = std::mem::take(&mut counts.known);
    let mut prompt = std::mem::take(&mut counts.prompt);
    texts.clear();
    known.clear();
    prompt.clear();
    let inlined = |u: usize| node.template.iter().any(|p| matches!(p, Piece::Node(x) if *x == u));
    let declared = |u: usize| node.context().contains(&u) || inlined(u);

    match spec.strategy.context {
        ContextMode::Declared => {
            for &c in node.context() {
                if inlined(c) {
                    continue;
                }
                if let Some(out) = &outputs[c] {
                    let text = counts.part(c, &spec.flow.nodes[c].id, out);
                    known.push((texts.len(), counts.count(c, &text)));
                    texts.push((Origin::Declared(c as u32), text));
                }
            }
        }
        ContextMode::Full => {
            if !spec.input.is_empty() {
                texts.push((Origin::History, Arc::from(format!("[input]\n{}\n\n", spec.input))));
            }
            for e in history {
                let l = e.unit.label(&spec.flow);
                texts.push((Origin::History, Arc::from(format!("[{l} prompt]\n{}\n\n", e.prompt))));
                let origin = if declared(e.unit.index()) { Origin::Declared(e.unit.node) } else { Origin::History };
                texts.push((origin, Arc::from(output_part(&l, &e.output))));
            }
        }
    }

    let has_refs = node.template.iter().any(|p| matches!(p, Piece::Node(_)));
    if has_refs {
        let mut pending = String::new();
        for p in &node.template {
            match p {
                Piece::Text(t) => pending.push_str(t),
                Piece::Input => pending.push_str(&spec.input),
                Piece::Item => pending.push_str(item.unwrap_or("")),
                Piece::Node(u) => {
                    let out = outputs[*u].clone().unwrap_or_default();
                    // The prompt alone is only read as history.
                    if keep_prompt {
                        prompt.push_str(&pending);
                        prompt.push_str(&out);
                    }
                    if !pending.is_empty() {
                        texts.push((Origin::Prompt, Arc::from(std::mem::take(&mut pending))));
                    }
                    // In full mode the history already holds this output; inline it all the
                    // same, as the template asks, and count it where it came from.
                    texts.push((Origin::Declared(*u as u32), out));
                }
            }
        }
        if keep_prompt {
            prompt.push_str(&pending);
        }
        if !pending.is_empty() {
            texts.push((Origin::Prompt, Arc::from(pending)));
        }
    } else {
        for p in &node.template {
            match p {
                Piece::Text(t) => prompt.push_str(t),
                Piece::Input => prompt.push_str(&spec.input),
                Piece::Item => prompt.push_str(item.unwrap_or("")),
                Piece::Node(_) => {}
            }
        }
    }
    let prompt_only = !has_refs && texts.is_empty() && !keep_prompt && !prompt.is_empty();
    if prompt_only
        && let Some((parts, shared)) = &counts.prompt_only
        && shared.first().is_some_and(|(_, t)| **t == *prompt)
    {
        let ctx = Context { parts: parts.clone(), texts: shared.clone(), prompt: None };
        (counts.texts, counts.known, counts.prompt) = (texts, known, prompt);
        return ctx;
    }
    let mut kept = None;
    if !has_refs && !prompt.is_empty() {
        let rendered: Arc<str> = Arc::from(prompt.as_str());
        kept = keep_prompt.then(|| rendered.clone());
        texts.push((Origin::Prompt, rendered));
    } else if keep_prompt {
        kept = Some(Arc::from(prompt.as_str()));
    }

    let mut next_known = known.iter().copied().peekable();
    let parts = texts
        .iter()
        .enumerate()
        .map(|(k, (origin, t))| {
            let tokens = match next_known.next_if(|&(at, _)| at == k) {
                Some((_, n)) => n,
                None => u64::from(tokens::count(t)),
            };
            ContextPart { origin: *origin, tokens }
        })
        .collect::<Arc<[ContextPart]>>();
    let shared: Texts = texts.drain(..).collect();
    if prompt_only {
        counts.prompt_only = Some((parts.clone(), shared.clone()));
    }
    (counts.texts, counts.known, counts.prompt) = (texts, known, prompt);
    Context { parts, texts: shared, prompt: kept }
}

#[cfg(test)]
mod tests {
    use super::{DeclaredCounts, build_context};
    use crate::engine::RunSpec;
    use crate::shapes::{Shape, instant_catalog, strategy};
    use std::sync::Arc;

    #[test]
    fn units_with_one_prompt_and_nothing_else_share_their_context() {
        let catalog = instant_catalog();
        // Every node's prompt is "step", and none reads another's output.
        let spec = RunSpec::new(Shape::Chain { n: 3 }.flow(1), strategy(&catalog, "instant"), catalog, "go".into(), 1);
        let outputs: Vec<Option<Arc<str>>> = vec![Some(Arc::from("done")); 3];
        let mut counts = DeclaredCounts::new(3);
        let ctx: Vec<_> = (0..3).map(|i| build_context(&spec, i, None, &outputs, &[], &mut counts, false)).collect();
        assert!(Arc::ptr_eq(&ctx[0].parts, &ctx[2].parts) && Arc::ptr_eq(&ctx[0].texts, &ctx[2].texts), "each unit built its own");
        // What is shared is what each would have been given.
        let fresh = build_context(&spec, 2, None, &outputs, &[], &mut DeclaredCounts::new(3), false);
        assert_eq!((&*ctx[2].parts, &*ctx[2].texts), (&*fresh.parts, &*fresh.texts));
        assert_eq!(&*ctx[2].texts[0].1, "step");
        // Kept for history, the prompt is a unit's own: nothing is shared then.
        let mut counts = DeclaredCounts::new(3);
        let kept: Vec<_> = (0..2).map(|i| build_context(&spec, i, None, &outputs, &[], &mut counts, true)).collect();
        assert!(!Arc::ptr_eq(&kept[0].texts, &kept[1].texts));
        assert_eq!(kept[1].prompt.as_deref(), Some("step"));
    }

    /// Reuse by a unit's item, a miss after a hit, and a build with upstream outputs between
    /// reuses: every context is what a fresh build gives.
    #[test]
    fn a_shared_context_is_always_what_the_unit_would_have_been_given() {
        let text = r#"
[flow]
name = "items"
[[node]]
id = "plan"
kind = "generate"
complexity = 1
prompt = "plan it"
[[node]]
id = "work"
kind = "generate"
complexity = 1
prompt = "do {{item}}"
after = ["plan"]
map = { over = "plan" }
[[node]]
id = "join"
kind = "generate"
complexity = 1
prompt = "join"
after = ["plan", "work"]
"#;
        let flow = Arc::new(crate::flow::parse_flow(&crate::diag::Source::new("items.toml", text)).expect("parses").0);
        let catalog = instant_catalog();
        let spec = RunSpec::new(flow, strategy(&catalog, "instant"), catalog, "go".into(), 1);
        let outputs: Vec<Option<Arc<str>>> = vec![Some(Arc::from("a, b")), Some(Arc::from("did it")), None];
        let mut counts = DeclaredCounts::new(3);
        for (i, item) in [(1, Some("x")), (1, Some("x")), (1, Some("y")), (2, None), (1, Some("y")), (0, None), (1, Some("x"))] {
            let got = build_context(&spec, i, item, &outputs, &[], &mut counts, false);
            let fresh = build_context(&spec, i, item, &outputs, &[], &mut DeclaredCounts::new(3), false);
            assert_eq!((&*got.parts, &*got.texts), (&*fresh.parts, &*fresh.texts), "node {i}, item {item:?}");
        }
    }

    #[test]
    fn consecutive_receivers_of_one_output_share_its_part() {
        let mut counts = DeclaredCounts::new(3);
        let a = counts.part(0, "plan", "three steps");
        let b = counts.part(0, "plan", "three steps");
        assert_eq!(&*a, "[plan output]\nthree steps\n\n");
        assert!(Arc::ptr_eq(&a, &b), "the second receiver got its own copy");
        let c = counts.part(1, "draft", "text");
        assert_eq!(&*c, "[draft output]\ntext\n\n");
        assert!(!Arc::ptr_eq(&a, &c));
        // A layer's receivers each take both, one after the other: still one copy of each.
        assert!(Arc::ptr_eq(&counts.part(0, "plan", "three steps"), &a), "the output of plan was built again");
        assert!(Arc::ptr_eq(&counts.part(1, "draft", "text"), &c));
    }
}
