//! Tuning a strategy while watching: what an edit would change before it runs (a preview from
//! the last attempt's token counts and the catalog), pinning a node to a model by editing the
//! strategy file in place (comments and layout kept).

use std::time::Duration;

use crate::money::Money;
use crate::report::listed_units;
use crate::routing::{Model, Strategy, Usage, route};
use crate::state::{RunState, Status};

/// One node whose model an edit changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub unit: String,
    pub node: usize,
    pub from: String,
    pub to: String,
    pub rule_to: String,
    pub cost_before: Money,
    /// The same token counts at the new model's prices.
    pub cost_after: Money,
    pub latency_before: Option<Duration>,
    /// From the new model's profile.
    pub latency_after: Duration,
}

/// What applying a strategy would change, projected from the last attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub changes: Vec<Change>,
    pub cost_before: Money,
    pub cost_after: Money,
    /// Units that ran last time and keep their model.
    pub unchanged: usize,
}

fn projected_latency(m: &Model, u: &Usage) -> Duration {
    let p = &m.sim;
    let prefill = if p.prefill_tokens_per_second > 0.0 { u.total_input() as f64 / p.prefill_tokens_per_second } else { 0.0 };
    let writing = if p.tokens_per_second > 0.0 { u.output as f64 / p.tokens_per_second } else { 0.0 };
    Duration::from_secs_f64(p.ttft.as_secs_f64() + prefill + writing)
}

/// Routes every unit that ran in `last` under `next`, with the input tokens the router saw,
/// and prices the same usage on the model it would get.
pub fn preview(last: &RunState, next: &Strategy) -> Preview {
    let mut changes = Vec::new();
    let mut unchanged = 0;
    let mut cost_after = Money::ZERO;
    for i in listed_units(last) {
        let u = &last.units[i];
        let before = u.cost.total();
        let Some(d) = &u.decision else {
            cost_after += before;
            continue;
        };
        let node = &last.flow.nodes[u.unit.index()];
        let nd = route(next, node, d.input_tokens);
        let served = u.model.as_deref().map_or_else(|| d.model.clone(), String::from);
        if nd.model == d.model || !matches!(u.status, Status::Done | Status::Cached | Status::Failed) {
            unchanged += 1;
            cost_after += before;
            continue;
        }
        let usage = if u.billed_usage.total_input() > 0 {
            u.billed_usage
        } else {
            Usage { input: d.input_tokens, output: u64::from(node.expected_tokens), ..Usage::default() }
        };
        let Some(m) = last.catalog.get(&nd.model) else { continue };
        let after = m.cost(&usage).total();
        cost_after += after;
        changes.push(Change {
            unit: u.label.clone(),
            node: u.unit.index(),
            from: served,
            to: nd.model.clone(),
            rule_to: nd.rule_label.to_string(),
            cost_before: before,
            cost_after: after,
            latency_before: u.latency,
            latency_after: projected_latency(m, &usage),
        });
    }
    Preview { changes, cost_before: last.totals.cost.total(), cost_after, unchanged }
}

/// Adds (or updates) a first rule that routes `node` to `model`, editing the strategy's TOML in
/// place so every comment and the layout stay as the user wrote them.
pub fn pin(text: &str, node: &str, model: &str) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| e.to_string())?;
    let name = format!("pin {node}");
    let rules = doc.entry("rule").or_insert_with(|| toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new()));
    let Some(rules) = rules.as_array_of_tables_mut() else { return Err("'rule' is not a list of [[rule]] tables".into()) };
    let existing = rules.iter().position(|t| t.get("name").and_then(|v| v.as_str()) == Some(name.as_str()));
    if let Some(existing) = existing.and_then(|i| rules.get_mut(i)) {
        // Replace the value but keep its trailing comment.
        let decor = existing.get("model").and_then(|v| v.as_value()).map(|v| v.decor().clone());
        let mut v = toml_edit::Value::from(model);
        if let Some(d) = decor {
            *v.decor_mut() = d;
        }
        existing["model"] = toml_edit::Item::Value(v);
        return Ok(doc.to_string());
    }
    let mut t = toml_edit::Table::new();
    t["name"] = toml_edit::value(name);
    t["id"] = toml_edit::value(node);
    t["model"] = toml_edit::value(model);
    t.decor_mut().set_prefix("\n# Pinned from the live screen.\n");
    rules.insert(0, t);
    // New tables go where the document says; put the pin before the other rules.
    let first = rules.iter().skip(1).filter_map(|t| t.position()).min();
    if let (Some(first), Some(t)) = (first, rules.get_mut(0)) {
        t.set_position(Some(first.saturating_sub(1)));
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_keeps_comments_and_goes_first() {
        let text = "# my strategy\n[strategy]\nname = \"s\" # the name\ndefault_model = \"claude-sonnet-4-5\"\n\n# search is cheap\n[[rule]]\nkind = \"search\"\nmodel = \"gemini-2.5-flash-lite\" # cheap\n";
        let out = pin(text, "planner", "gpt-5-nano").expect("pins");
        assert!(
            out.contains("# my strategy") && out.contains("# the name") && out.contains("# search is cheap") && out.contains("# cheap"),
            "{out}"
        );
        let pin_at = out.find("id = \"planner\"").expect("pin rule");
        let search_at = out.find("kind = \"search\"").expect("old rule");
        assert!(pin_at < search_at, "the pin comes first:\n{out}");
        let s =
            Strategy::parse(&crate::diag::Source::new("s.toml", out.clone()), &crate::routing::Catalog::builtin()).expect("still valid").0;
        assert_eq!(s.rules[0].model, "gpt-5-nano");
        // Pinning again changes the same rule.
        let again = pin(&out, "planner", "claude-opus-4-1").expect("re-pins");
        assert_eq!(again.matches("pin planner").count(), 1, "{again}");
        assert!(again.contains("model = \"claude-opus-4-1\""));
    }
}
