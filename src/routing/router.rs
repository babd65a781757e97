//! The router: first matching rule wins, else the strategy's default. The decision says which
//! rule matched and why, because "why did this node get that model" is the first question a
//! person tuning a flow asks.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::strategy::{Rule, Strategy};
use crate::flow::Node;

/// Which model serves a node, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Index of the matching rule; `None` when the default model serves.
    pub rule: Option<u32>,
    /// `rule 2 'search is cheap'`, or `default`.
    pub rule_label: Cow<'static, str>,
    /// The criteria that matched, e.g. `kind search; complexity 3 ≤ 4`.
    pub reason: Cow<'static, str>,
    pub model: String,
    pub fallbacks: Vec<String>,
    /// The input-token estimate the rules saw.
    pub input_tokens: u64,
}

/// Whether `rule` matches the node, with the matched criteria or the first one that failed.
fn test(rule: &Rule, node: &Node, input_tokens: u64) -> Result<String, String> {
    let mut why = Vec::new();
    if !rule.kinds.is_empty() {
        if rule.kinds.contains(&node.kind) {
            why.push(format!("kind {}", node.kind));
        } else {
            return Err(format!("kind {} not in [{}]", node.kind, rule.kinds.join(", ")));
        }
    }
    if let Some(r) = rule.complexity {
        if r.contains(u64::from(node.complexity)) {
            why.push(format!("complexity {} {r}", node.complexity));
        } else {
            return Err(format!("complexity {} not {r}", node.complexity));
        }
    }
    if let Some(g) = &rule.id {
        if g.matches(&node.id) {
            why.push(format!("id matches '{}'", g.0));
        } else {
            return Err(format!("id does not match '{}'", g.0));
        }
    }
    if !rule.tags.is_empty() {
        match rule.tags.iter().find(|t| node.tags.contains(t)) {
            Some(t) => why.push(format!("tag {t}")),
            None => return Err(format!("no tag in [{}]", rule.tags.join(", "))),
        }
    }
    if let Some(r) = rule.input_tokens {
        if r.contains(input_tokens) {
            why.push(format!("~{input_tokens} input tokens {r}"));
        } else {
            return Err(format!("~{input_tokens} input tokens not {r}"));
        }
    }
    if why.is_empty() {
        why.push("matches every node".to_string());
    }
    Ok(why.join("; "))
}

/// Picks the model for a node given the estimated input tokens of its call. Without rules,
/// the decision depends on the strategy and the input tokens alone (the engine relies on it).
pub fn route(strategy: &Strategy, node: &Node, input_tokens: u64) -> Decision {
    for (i, rule) in strategy.rules.iter().enumerate() {
        if let Ok(reason) = test(rule, node, input_tokens) {
            return Decision {
                rule: Some(i as u32),
                rule_label: rule.label(i).into(),
                reason: reason.into(),
                model: rule.model.clone(),
                fallbacks: rule.fallbacks.clone(),
                input_tokens,
            };
        }
    }
    Decision {
        rule: None,
        rule_label: Cow::Borrowed("default"),
        reason: Cow::Borrowed("no rule matched"),
        model: strategy.default_model.clone(),
        fallbacks: strategy.default_fallbacks.clone(),
        input_tokens,
    }
}

/// One line per rule up to the one that matched: what matched or what did not.
pub fn explain(strategy: &Strategy, node: &Node, input_tokens: u64) -> Vec<(String, bool, String)> {
    let mut lines = Vec::new();
    for (i, rule) in strategy.rules.iter().enumerate() {
        match test(rule, node, input_tokens) {
            Ok(why) => {
                lines.push((rule.label(i), true, why));
                return lines;
            }
            Err(why) => lines.push((rule.label(i), false, why)),
        }
    }
    lines.push(("default".to_string(), true, format!("model {}", strategy.default_model)));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Source;
    use crate::routing::Catalog;

    fn strategy() -> Strategy {
        let src = Source::new(
            "s.toml",
            r#"
[strategy]
name = "t"
default_model = "claude-sonnet-4-5"

[[rule]]
name = "hard reasoning"
kind = ["reasoning", "code"]
complexity = ">= 7"
model = "claude-opus-4-1"
fallbacks = ["claude-sonnet-4-5"]

[[rule]]
kind = "search"
model = "gemini-2.5-flash-lite"

[[rule]]
input_tokens = "> 50000"
model = "gemini-2.5-flash"

[[rule]]
tag = "cheap"
id = "sum*"
model = "gpt-5-nano"
"#,
        );
        Strategy::parse(&src, &Catalog::builtin()).expect("strategy parses").0
    }

    fn node(id: &str, kind: &str, complexity: u8, tags: &[&str]) -> Node {
        Node {
            id: id.into(),
            kind: kind.into(),
            description: String::new(),
            complexity,
            prompt: String::new(),
            template: Vec::new(),
            after: Vec::new(),
            declared_context: None,
            expected_tokens: 100,
            max_tokens: 400,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            when: None,
            map: None,
            checks: Vec::new(),
            sim: Default::default(),
            line: 1,
        }
    }

    #[track_caller]
    fn routes(n: Node, tokens: u64, model: &str, rule: Option<u32>) {
        let d = route(&strategy(), &n, tokens);
        assert_eq!((d.model.as_str(), d.rule), (model, rule), "{d:?}");
    }

    #[test]
    fn first_match_wins() {
        routes(node("planner", "reasoning", 8, &[]), 100, "claude-opus-4-1", Some(0));
        routes(node("planner", "reasoning", 6, &[]), 100, "claude-sonnet-4-5", None);
        routes(node("s", "search", 9, &[]), 100, "gemini-2.5-flash-lite", Some(1));
        routes(node("big", "generate", 3, &[]), 60_000, "gemini-2.5-flash", Some(2));
        routes(node("summary", "generate", 3, &["cheap"]), 10, "gpt-5-nano", Some(3));
        routes(node("other", "generate", 3, &["cheap"]), 10, "claude-sonnet-4-5", None);
    }

    #[test]
    fn decision_says_why() {
        let d = route(&strategy(), &node("planner", "reasoning", 8, &[]), 120);
        assert_eq!(d.rule_label, "rule 1 'hard reasoning'");
        assert_eq!(d.reason, "kind reasoning; complexity 8 ≥ 7");
        assert_eq!(d.fallbacks, vec!["claude-sonnet-4-5"]);
        let lines = explain(&strategy(), &node("x", "generate", 3, &[]), 10);
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0].2, "kind generate not in [reasoning, code]");
        assert_eq!(lines[4].0, "default");
    }
}
