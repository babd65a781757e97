//! The search space: which parts of a flow get a model of their own (each node, or each kind),
//! what a part may be given (a model, or a model that escalates to a stronger one when its
//! checks fail), and the strategy an assignment of those choices is.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;

use crate::flow::Flow;
use crate::routing::strategy::Glob;
use crate::routing::{Catalog, Rule, Strategy, route};

/// What a model is chosen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    Node,
    Kind,
}

/// A part of the flow that gets one choice.
#[derive(Debug, Clone, Serialize)]
pub struct Slot {
    /// The node id, or the kind.
    pub label: String,
    pub per: Per,
    /// Node indices served.
    #[serde(skip)]
    pub nodes: Vec<usize>,
    /// Whether any of its nodes has checks, so escalating on failed checks means something.
    pub checked: bool,
    /// `classification, complexity 2` for a node; the node ids for a kind.
    pub about: String,
}

/// What a slot is given: a model, and the models it escalates to, in order, when the output
/// fails its checks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Choice {
    pub model: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub escalate: Vec<String>,
}

impl Choice {
    pub fn plain(model: &str) -> Choice {
        Choice { model: model.to_string(), escalate: Vec::new() }
    }

    /// `gpt-5-nano`, or `gpt-5-nano → claude-sonnet-4-5` for a cascade.
    pub fn label(&self) -> String {
        std::iter::once(self.model.as_str()).chain(self.escalate.iter().map(String::as_str)).collect::<Vec<_>>().join(" → ")
    }
}

/// One choice per slot, in slot order.
pub type Assignment = Vec<Choice>;

/// The slots of `flow`: one per node in flow order, or one per kind in order of first use.
pub fn slots(flow: &Flow, per: Per) -> Vec<Slot> {
    let mut out: Vec<Slot> = Vec::new();
    for (i, n) in flow.nodes.iter().enumerate() {
        let (label, about) = match per {
            Per::Node => (n.id.clone(), format!("{}, complexity {}", n.kind, n.complexity)),
            Per::Kind => (n.kind.clone(), n.id.clone()),
        };
        match out.iter_mut().find(|s| s.label == label) {
            Some(s) => {
                s.nodes.push(i);
                s.checked |= !n.checks.is_empty();
                s.about = format!("{}, {}", s.about, n.id);
            }
            None => out.push(Slot { label, per, nodes: vec![i], checked: !n.checks.is_empty(), about }),
        }
    }
    out
}

/// The strategy an assignment is: the base strategy's context, schedule, retries and budget,
/// and one rule per slot. Escalation is strategy-wide in Baton, so it is on when any slot
/// cascades, and then only cascading rules carry fallbacks.
pub fn strategy_for(a: &Assignment, slots: &[Slot], base: &Strategy, name: &str) -> Strategy {
    let rules = slots
        .iter()
        .zip(a)
        .map(|(s, c)| Rule {
            name: Some(format!("{} → {}", s.label, c.label())),
            kinds: if s.per == Per::Kind { vec![s.label.clone()] } else { Vec::new() },
            complexity: None,
            id: (s.per == Per::Node).then(|| Glob(s.label.clone())),
            tags: Vec::new(),
            input_tokens: None,
            model: c.model.clone(),
            fallbacks: c.escalate.clone(),
            line: 0,
        })
        .collect();
    Strategy {
        name: name.to_string(),
        description: "found by baton optimize".to_string(),
        default_model: a.first().map_or_else(|| base.default_model.clone(), |c| c.model.clone()),
        default_fallbacks: Vec::new(),
        escalate_on_failed_checks: a.iter().any(|c| !c.escalate.is_empty()),
        rules,
        source_name: format!("<optimized {name}>"),
        source_text: String::new(),
        ..base.clone()
    }
}

/// The assignment closest to what `strategy` does: each slot gets the model the strategy routes
/// its first node to (with its fallbacks as the escalation ladder when the strategy escalates).
pub fn derive(strategy: &Strategy, flow: &Flow, slots: &[Slot]) -> Assignment {
    slots
        .iter()
        .map(|s| {
            let d = route(strategy, &flow.nodes[s.nodes[0]], 0);
            let mut escalate = Vec::new();
            if strategy.escalate_on_failed_checks && s.checked {
                for f in d.fallbacks {
                    if f != d.model && !escalate.contains(&f) {
                        escalate.push(f);
                    }
                }
            }
            Choice { model: d.model, escalate }
        })
        .collect()
}

/// The assignments one step from `a`: one slot on another model, or (for a checked slot, when
/// cascades are searched) escalating to one stronger model.
pub fn neighbours(a: &Assignment, slots: &[Slot], models: &[String], catalog: &Catalog, cascade: bool) -> Vec<Assignment> {
    let capability = |m: &str| catalog.get(m).map_or(0.0, |m| m.sim.capability);
    let mut out = Vec::new();
    for (k, slot) in slots.iter().enumerate() {
        for m in models {
            let c = Choice::plain(m);
            if c != a[k] {
                let mut n = a.clone();
                n[k] = c;
                out.push(n);
            }
        }
        if cascade && slot.checked {
            for e in models.iter().filter(|e| capability(e) > capability(&a[k].model)) {
                let c = Choice { model: a[k].model.clone(), escalate: vec![e.clone()] };
                if c != a[k] {
                    let mut n = a.clone();
                    n[k] = c;
                    out.push(n);
                }
            }
        }
    }
    out
}

/// How many choices a slot has: every model, plus for a checked slot every (model, stronger
/// model) cascade.
pub fn choices_per_slot(slot: &Slot, models: &[String], catalog: &Catalog, cascade: bool) -> f64 {
    let plain = models.len() as f64;
    if !(cascade && slot.checked) {
        return plain;
    }
    let caps: Vec<f64> = models.iter().map(|m| catalog.get(m).map_or(0.0, |m| m.sim.capability)).collect();
    let pairs = caps.iter().map(|a| caps.iter().filter(|b| *b > a).count()).sum::<usize>();
    plain + pairs as f64
}

/// The models a search may use: the ones given, else every catalog model, in catalog order.
pub fn candidate_models(catalog: &Catalog, given: &[String]) -> Result<Vec<String>, String> {
    if given.is_empty() {
        return Ok(catalog.models.iter().map(|m| m.id.to_string()).collect());
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for m in given {
        if catalog.get(m).is_none() {
            let hint = catalog.suggest(m).map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default();
            return Err(format!("model '{m}' is not in the catalog{hint}\n  help: baton models lists them"));
        }
        if seen.insert(m.clone()) {
            out.push(m.clone());
        }
    }
    Ok(out)
}

/// A strategy in an `Arc`, as runs take it.
pub fn shared(s: Strategy) -> Arc<Strategy> {
    Arc::new(s)
}
