//! Routing decisions shared between the units that were routed alike. A decision is a few
//! strings (rule, reason, model, fallbacks) and the run state keeps one per unit: at 100,000
//! nodes, one copy each was about 33 MB, while a generated or real flow has a handful of
//! distinct decisions (same rule, same model, a few input sizes). Units now hold the same
//! `Arc` when their decisions are equal; what each unit reads is unchanged.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rustc_hash::{FxBuildHasher, FxHasher};

use crate::flow::Node;
use crate::routing::{Catalog, Decision, Strategy, route};

/// How many distinct decisions are remembered; past that (a flow whose every node is routed
/// differently) new ones are not shared, so the table never outgrows what it saves.
const MOST: usize = 4096;

#[derive(Default)]
pub(super) struct Decisions {
    by_hash: HashMap<u64, Vec<Arc<Decision>>, FxBuildHasher>,
    len: usize,
    /// The decision shared last: consecutive units are mostly routed alike, and comparing
    /// with it costs less than hashing (this runs once per unit).
    last: Option<Arc<Decision>>,
    /// The latest decisions made by a strategy without rules (a run has one strategy), one per
    /// input size, newest last, at most [`DEFAULTS`]: the units of a layered flow alternate
    /// between a few sizes.
    defaults: Vec<Arc<Decision>>,
    /// The decision whose model was looked up in the catalog last, and that model's index.
    indexed: Option<(Arc<Decision>, Option<usize>)>,
}

/// How many input sizes a strategy without rules remembers its decisions for.
const DEFAULTS: usize = 8;

impl Decisions {
    /// The shared decision for `node` under `strategy`. Without rules a strategy routes every
    /// unit alike but for its input size, so a decision made for the same size lately is
    /// reused without building a new one to compare with it (strings allocated and freed per
    /// unit).
    pub(super) fn route(&mut self, strategy: &Strategy, node: &Node, input_tokens: u64) -> Arc<Decision> {
        let ruleless = strategy.rules.is_empty();
        if ruleless && let Some(same) = self.defaults.iter().rev().find(|d| d.input_tokens == input_tokens) {
            return same.clone();
        }
        let d = self.share(route(strategy, node, input_tokens));
        if ruleless {
            if self.defaults.len() == DEFAULTS {
                self.defaults.remove(0);
            }
            self.defaults.push(d.clone());
        }
        d
    }

    /// The catalog index of `d`'s model. Units are mostly routed to the model the unit before
    /// was, so the name is compared with the last one looked up rather than hashed again (a
    /// hash lookup a unit was 2% of a simulated node, `perf`).
    pub(super) fn model_index(&mut self, catalog: &Catalog, d: &Arc<Decision>) -> Option<usize> {
        match &self.indexed {
            Some((last, k)) if last.model == d.model => *k,
            _ => {
                let k = catalog.index_of(&d.model);
                self.indexed = Some((d.clone(), k));
                k
            }
        }
    }

    /// The shared decision equal to `d`.
    pub(super) fn share(&mut self, d: Decision) -> Arc<Decision> {
        if let Some(last) = &self.last
            && **last == d
        {
            return last.clone();
        }
        let mut h = FxHasher::default();
        (d.rule, &d.rule_label, &d.reason, &d.model, &d.fallbacks, d.input_tokens).hash(&mut h);
        let bucket = self.by_hash.entry(h.finish()).or_default();
        let a = match bucket.iter().find(|a| ***a == d) {
            Some(same) => same.clone(),
            None => {
                let a = Arc::new(d);
                if self.len < MOST {
                    bucket.push(a.clone());
                    self.len += 1;
                }
                a
            }
        };
        self.last = Some(a.clone());
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(model: &str, tokens: u64) -> Decision {
        Decision {
            rule: Some(1),
            rule_label: "rule 2 'x'".into(),
            reason: "kind generate".into(),
            model: model.into(),
            fallbacks: vec!["b".into()],
            input_tokens: tokens,
        }
    }

    #[test]
    fn a_strategy_without_rules_reuses_its_decision_per_input_size_and_one_with_rules_does_not_skip_them() {
        use crate::diag::Source;
        let catalog = crate::routing::Catalog::builtin();
        let strategy = |rules: &str| {
            let text = format!("[strategy]\nname = \"t\"\ndefault_model = \"gpt-5-nano\"\n{rules}");
            Strategy::parse(&Source::new("t.toml", &text), &catalog).unwrap_or_else(|e| panic!("{e}")).0
        };
        let flow = "[flow]\nname = \"f\"\n[[node]]\nid = \"a\"\nkind = \"summarize\"\ncomplexity = 2\nprompt = \"p\"\n[[node]]\nid = \"b\"\nkind = \"code\"\ncomplexity = 8\nprompt = \"p\"\n";
        let flow = crate::flow::parse_flow(&Source::new("f.toml", flow)).unwrap_or_else(|e| panic!("{e}")).0;
        let (a, b) = (&flow.nodes[0], &flow.nodes[1]);
        for s in [strategy(""), strategy("[[rule]]\nkind = [\"code\"]\nmodel = \"claude-opus-4-1\"\n")] {
            let mut t = Decisions::default();
            let mut got = Vec::new();
            for (node, tokens) in [(a, 10), (b, 10), (a, 11), (b, 11), (a, 11), (b, 10)] {
                let shared = t.route(&s, node, tokens);
                assert_eq!(*shared, route(&s, node, tokens), "{} with {tokens} tokens", node.id);
                got.push(shared);
            }
            // Without rules, units of one input size share one decision.
            if s.rules.is_empty() {
                assert!(Arc::ptr_eq(&got[0], &got[1]) && Arc::ptr_eq(&got[2], &got[3]) && Arc::ptr_eq(&got[3], &got[4]));
            }
        }
    }

    #[test]
    fn equal_decisions_share_one_copy_and_different_ones_do_not() {
        let mut t = Decisions::default();
        let a = t.share(d("m", 10));
        let b = t.share(d("m", 10));
        assert!(Arc::ptr_eq(&a, &b));
        let c = t.share(d("m", 11));
        let e = t.share(d("n", 10));
        assert!(!Arc::ptr_eq(&a, &c) && !Arc::ptr_eq(&a, &e));
        assert_eq!(*c, d("m", 11));
        assert_eq!(*e, d("n", 10));
        // Back to an earlier one, past the last shared: the same copy again.
        assert!(Arc::ptr_eq(&t.share(d("m", 10)), &a));
        assert!(Arc::ptr_eq(&t.share(d("m", 11)), &c));
    }
}
