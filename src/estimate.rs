//! What a run will cost before it spends anything: `--dry-run`, and the note a live run or a
//! live compare prints before its first call.
//!
//! The flow runs once on the simulator (no call, no network, virtual time) under the same
//! strategy, without its budget, so every node is routed as the engine would route it: input
//! tokens are counted by the tokenizer over the prompt and the (simulated) upstream outputs
//! the node receives. Each call is then priced two ways:
//! - expected: the routed model, its input, and the node's `expected_tokens` of output;
//! - worst: the costliest of the model and its fallbacks, with `max_tokens` of output, on
//!   every try the strategy allows (`retry.max_attempts`), as if every try but the last
//!   failed after streaming everything.
//!
//! A live run's inputs depend on real outputs, so its routing can differ where a rule tests
//! input size; the estimate says so.

use std::sync::Arc;

use serde::Serialize;

use crate::engine::RunSpec;
use crate::money::Money;
use crate::provider::Providers;
use crate::routing::Catalog;
use crate::state::{RunState, Status};

fn usd<S: serde::Serializer>(m: &Money, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(m.usd())
}

fn usd_opt<S: serde::Serializer>(m: &Option<Money>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.serialize_some(&m.usd()),
        None => s.serialize_none(),
    }
}

/// One call the run would make.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CallEstimate {
    pub node: String,
    pub model: String,
    pub rule: String,
    pub fallbacks: Vec<String>,
    pub input_tokens: u64,
    pub expected_output_tokens: u64,
    pub max_output_tokens: u64,
    #[serde(rename = "expected_usd", serialize_with = "usd")]
    pub expected: Money,
    #[serde(rename = "worst_usd", serialize_with = "usd")]
    pub worst: Money,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Estimate {
    pub flow: String,
    pub strategy: String,
    /// How many runs (tasks) the figures cover.
    pub runs: usize,
    /// The calls of the first run (a batch lists one run's routing, and totals them all).
    pub calls: Vec<CallEstimate>,
    /// Nodes the simulated run skipped (conditions), which a live run may still reach.
    pub skipped: Vec<String>,
    #[serde(rename = "expected_usd", serialize_with = "usd")]
    pub expected: Money,
    #[serde(rename = "worst_usd", serialize_with = "usd")]
    pub worst: Money,
    /// The strategy's budget per run, if any.
    #[serde(rename = "budget_per_run_usd", serialize_with = "usd_opt")]
    pub budget_per_run: Option<Money>,
}

impl Estimate {
    /// Whether the expected cost of one run exceeds the strategy's budget.
    pub fn over_budget(&self) -> Option<(Money, Money)> {
        let per_run = self.expected.scale(1, self.runs.max(1) as i64);
        self.budget_per_run.filter(|b| per_run > *b).map(|b| (per_run, b))
    }

    /// One line for stderr before a live run calls anything.
    pub fn note(&self) -> String {
        let runs = if self.runs > 1 { format!(" over {} tasks", self.runs) } else { String::new() };
        let mut s = format!(
            "estimate for {} under {}{runs}: ~{} expected, at most {} if every try fails over to the costliest model",
            self.flow, self.strategy, self.expected, self.worst
        );
        if let Some((per_run, budget)) = self.over_budget() {
            s.push_str(&format!(
                "\n  note: ~{per_run} per run exceeds the strategy's budget {budget}; nodes past the budget will be skipped"
            ));
        }
        s
    }

    /// The table `--dry-run` prints.
    pub fn table(&self) -> String {
        let mut t = crate::report::Table::new(&[
            ("NODE", false),
            ("MODEL", false),
            ("RULE", false),
            ("FALLBACKS", false),
            ("~INPUT", true),
            ("EXP OUT", true),
            ("MAX OUT", true),
            ("EXPECTED", true),
            ("WORST", true),
        ]);
        for c in &self.calls {
            t.row(vec![
                c.node.clone(),
                c.model.clone(),
                c.rule.clone(),
                if c.fallbacks.is_empty() { "-".into() } else { c.fallbacks.join(" → ") },
                c.input_tokens.to_string(),
                c.expected_output_tokens.to_string(),
                c.max_output_tokens.to_string(),
                c.expected.to_string(),
                c.worst.to_string(),
            ]);
        }
        let mut out = format!("dry run of {} under {} (nothing was called)\n\n", self.flow, self.strategy);
        out.push_str(&t.render());
        if !self.skipped.is_empty() {
            out.push_str(&format!("\nnot reached in the simulated run (a live run may reach them): {}\n", self.skipped.join(", ")));
        }
        let runs = if self.runs > 1 { format!(" for {} tasks", self.runs) } else { String::new() };
        out.push_str(&format!("\nestimated cost{runs}: ~{} expected, at most {}\n", self.expected, self.worst));
        match (self.budget_per_run, self.over_budget()) {
            (_, Some((per_run, b))) => {
                out.push_str(&format!("budget: ~{per_run} per run EXCEEDS the strategy's {b}; a run skips the nodes past it\n"))
            }
            (Some(b), None) => out.push_str(&format!("budget: {b} per run, within it\n")),
            (None, None) => out.push_str("budget: none set (budget_usd in the strategy)\n"),
        }
        out.push_str("Expected: the routed model with the node's expected_tokens of output. Worst: max_tokens on the costliest of the model and its fallbacks, on every try. Input sizes are counted over simulated upstream outputs, so input-size rules may route differently live.\n");
        out
    }
}

/// Prices one routed call, expected and worst case.
fn price(catalog: &Catalog, model: &str, fallbacks: &[String], input: u64, expected: u64, max: u64, tries: u32) -> (Money, Money) {
    let cost = |m: &str, out: u64| catalog.get(m).map_or(Money::ZERO, |m| m.prices.input.cost(input) + m.prices.output.cost(out));
    let exp = cost(model, expected);
    let worst = std::iter::once(model).chain(fallbacks.iter().map(String::as_str)).map(|m| cost(m, max)).max().unwrap_or(Money::ZERO);
    (exp, Money::from_picodollars(worst.picodollars().saturating_mul(i64::from(tries.max(1)))))
}

/// The calls one simulated run made, priced.
fn calls_of(st: &RunState, spec: &RunSpec) -> (Vec<CallEstimate>, Vec<String>) {
    let mut calls = Vec::new();
    let mut skipped = Vec::new();
    let tries = spec.strategy.retry.max_attempts;
    for (i, u) in st.units.iter().enumerate() {
        if st.is_group(i) {
            continue;
        }
        let node = &spec.flow.nodes[u.unit.index()];
        let Some(d) = &u.decision else {
            if u.status == Status::Skipped {
                skipped.push(u.label.clone());
            }
            continue;
        };
        let (expected, worst) = price(
            &spec.catalog,
            &d.model,
            &d.fallbacks,
            u.input_tokens_estimate,
            u64::from(node.expected_tokens),
            u64::from(node.max_tokens),
            tries,
        );
        calls.push(CallEstimate {
            node: u.label.clone(),
            model: d.model.clone(),
            rule: d.rule_label.to_string(),
            fallbacks: d.fallbacks.clone(),
            input_tokens: u.input_tokens_estimate,
            expected_output_tokens: u64::from(node.expected_tokens),
            max_output_tokens: u64::from(node.max_tokens),
            expected,
            worst,
        });
    }
    (calls, skipped)
}

/// The spec as the estimate runs it: simulated, without a budget (to see every node), without
/// reused outputs.
fn dry_spec(spec: &RunSpec) -> RunSpec {
    let mut strategy = (*spec.strategy).clone();
    strategy.budget = None;
    let mut s = spec.clone();
    s.strategy = Arc::new(strategy);
    s.store = None;
    s.options.deltas = false;
    s
}

/// Estimates one run of `spec`, or one per input in `inputs` when given.
pub fn estimate(spec: &RunSpec, inputs: Option<&[String]>) -> std::io::Result<Estimate> {
    let dry = dry_spec(spec);
    let sim = Providers::simulated();
    let mut first = None;
    let (mut expected, mut worst) = (Money::ZERO, Money::ZERO);
    let one = [dry.input.clone()];
    let inputs = inputs.unwrap_or(&one);
    for input in inputs {
        let mut s = dry.clone();
        s.input = input.clone();
        let st = crate::headless::run_one(&s, &sim)?;
        let (calls, skipped) = calls_of(&st, &dry);
        for c in &calls {
            expected += c.expected;
            worst += c.worst;
        }
        first.get_or_insert((calls, skipped));
    }
    let (calls, skipped) = first.unwrap_or_default();
    Ok(Estimate {
        flow: spec.flow.name.clone(),
        strategy: spec.strategy.name.clone(),
        runs: inputs.len(),
        calls,
        skipped,
        expected,
        worst,
        budget_per_run: spec.strategy.budget,
    })
}
