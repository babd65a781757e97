//! Checks on a node's output (the quality signal), conditions that gate a node, and how a
//! fan-out node reads a list out of an upstream output.

use regex::Regex;
use serde::{Deserialize, Serialize};

/// A pass/fail test on a node's output.
#[derive(Debug, Clone)]
pub enum Check {
    Contains(String),
    NotContains(String),
    Regex(Regex),
    Json,
    MaxChars(usize),
    MinChars(usize),
}

/// The outcome of one check on one output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub check: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Check {
    /// A short label such as `contains 'Source:'`, used in tables and the node panel.
    pub fn label(&self) -> String {
        match self {
            Check::Contains(s) => format!("contains '{s}'"),
            Check::NotContains(s) => format!("not_contains '{s}'"),
            Check::Regex(r) => format!("regex '{}'", r.as_str()),
            Check::Json => "json".to_string(),
            Check::MaxChars(n) => format!("max_chars {n}"),
            Check::MinChars(n) => format!("min_chars {n}"),
        }
    }

    pub fn evaluate(&self, output: &str) -> CheckResult {
        let (passed, detail) = match self {
            Check::Contains(s) => (output.contains(s.as_str()), None),
            Check::NotContains(s) => (!output.contains(s.as_str()), None),
            Check::Regex(r) => (r.is_match(output), None),
            Check::Json => match serde_json::from_str::<serde_json::Value>(output.trim()) {
                Ok(_) => (true, None),
                Err(e) => (false, Some(format!("not valid JSON: {e}"))),
            },
            Check::MaxChars(n) => {
                let len = output.chars().count();
                (len <= *n, (len > *n).then(|| format!("{len} characters")))
            }
            Check::MinChars(n) => {
                let len = output.chars().count();
                (len >= *n, (len < *n).then(|| format!("{len} characters")))
            }
        };
        CheckResult { check: self.label(), passed, detail }
    }
}

/// What a condition tests about an upstream node's output.
#[derive(Debug, Clone)]
pub enum Test {
    Equals(String),
    Contains(String),
    NotContains(String),
    Matches(Regex),
    /// Whether every check of the upstream node passed.
    Passed(bool),
}

/// `when = { node = "x", contains = "..." }`: the node runs only if the test holds.
#[derive(Debug, Clone)]
pub struct Condition {
    pub node: usize,
    pub test: Test,
}

impl Condition {
    pub fn holds(&self, output: &str, checks_passed: bool) -> bool {
        match &self.test {
            Test::Equals(s) => output.trim() == s.trim(),
            Test::Contains(s) => output.contains(s.as_str()),
            Test::NotContains(s) => !output.contains(s.as_str()),
            Test::Matches(r) => r.is_match(output),
            Test::Passed(want) => checks_passed == *want,
        }
    }

    /// Human wording, with the upstream node's id supplied by the caller.
    pub fn describe(&self, node_id: &str) -> String {
        match &self.test {
            Test::Equals(s) => format!("{node_id} equals '{s}'"),
            Test::Contains(s) => format!("{node_id} contains '{s}'"),
            Test::NotContains(s) => format!("{node_id} does not contain '{s}'"),
            Test::Matches(r) => format!("{node_id} matches /{}/", r.as_str()),
            Test::Passed(true) => format!("{node_id} passed its checks"),
            Test::Passed(false) => format!("{node_id} failed a check"),
        }
    }
}

/// The items a fan-out node maps over: a JSON array's elements, or else the non-empty lines with
/// list bullets (`-`, `*`, `1.`) removed.
pub fn list_items(output: &str) -> Vec<String> {
    let trimmed = output.trim();
    if let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(trimmed) {
        return items
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .collect();
    }
    trimmed.lines().map(strip_bullet).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

fn strip_bullet(line: &str) -> &str {
    let l = line.trim();
    if let Some(rest) = l.strip_prefix("- ").or_else(|| l.strip_prefix("* ")) {
        return rest.trim();
    }
    let digits = l.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 {
        let rest = &l[digits..];
        if let Some(r) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return r.trim();
        }
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(c: Check, output: &str, passed: bool) {
        let r = c.evaluate(output);
        assert_eq!(r.passed, passed, "{} on {output:?}: {r:?}", c.label());
    }

    #[test]
    fn checks_evaluate() {
        check(Check::Contains("Source:".into()), "a Source: b", true);
        check(Check::Contains("Source:".into()), "a b", false);
        check(Check::NotContains("TODO".into()), "done", true);
        check(Check::Regex(Regex::new(r"^\d+$").expect("re")), "123", true);
        check(Check::Regex(Regex::new(r"^\d+$").expect("re")), "12a", false);
        check(Check::Json, " {\"a\": 1} ", true);
        check(Check::Json, "{\"a\": 1", false);
        check(Check::MaxChars(3), "abc", true);
        check(Check::MaxChars(3), "abcd", false);
        check(Check::MinChars(3), "ab", false);
        assert_eq!(Check::MaxChars(3).evaluate("é").detail, None);
        assert_eq!(Check::MinChars(3).evaluate("é").detail.as_deref(), Some("1 characters"));
    }

    #[test]
    fn items_from_json_or_lines() {
        assert_eq!(list_items(r#"["a", "b", 3]"#), vec!["a", "b", "3"]);
        assert_eq!(list_items("- one\n\n* two\n3. three\n4) four\nfive"), vec!["one", "two", "three", "four", "five"]);
        assert!(list_items("   ").is_empty());
    }

    #[test]
    fn conditions_hold() {
        let c = Condition { node: 0, test: Test::Equals("faq".into()) };
        assert!(c.holds(" faq\n", true));
        assert!(!c.holds("billing", true));
        let c = Condition { node: 0, test: Test::Passed(false) };
        assert!(c.holds("", false));
        assert_eq!(c.describe("a"), "a failed a check");
    }
}
