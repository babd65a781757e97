//! The pieces of a node read one at a time, each with the span of what is wrong: conditions,
//! checks, simulation hints, bounded numbers, and the topological order.

use std::ops::Range;

use regex::Regex;
use toml::Spanned;

use super::super::check::{Check, Condition, Test};
use super::super::{Node, SimHints};
use super::{RawCheck, RawCondition, RawSim};
use crate::diag::{Diagnostics, Source};

pub(super) fn inner_span(src: &Source, value: &Spanned<String>, at: usize, len: usize) -> Range<usize> {
    let span = value.span();
    let raw = src.text.get(span.clone()).unwrap_or("");
    let v = value.get_ref();
    let open = if raw.starts_with("\"\"\"\n") && raw.get(4..raw.len().saturating_sub(3)) == Some(v.as_str()) {
        Some(4)
    } else if raw.starts_with("\"\"\"") && raw.get(3..raw.len().saturating_sub(3)) == Some(v.as_str()) {
        Some(3)
    } else if (raw.starts_with('"') || raw.starts_with('\'')) && raw.get(1..raw.len().saturating_sub(1)) == Some(v.as_str()) {
        Some(1)
    } else {
        None
    };
    match open {
        Some(o) => {
            let start = span.start + o + at;
            start..(start + len).min(span.end)
        }
        None => span,
    }
}

pub(super) fn known_list(names: &[String]) -> String {
    let ids: Vec<&str> = names.iter().take(12).map(String::as_str).collect();
    ids.join(", ")
}

pub(super) fn positive(src: &Source, v: Option<&Spanned<i64>>, what: &str, max: i64, default: usize, diags: &mut Diagnostics) -> usize {
    match v {
        None => default,
        Some(s) if (1..=max).contains(s.get_ref()) => *s.get_ref() as usize,
        Some(s) => {
            diags.push(
                src.error(s.span(), format!("{what} {} is out of range", s.get_ref()))
                    .with_help(format!("use a whole number from 1 to {max}")),
            );
            default
        }
    }
}

/// Looks a node name up, reporting an unknown one.
pub(super) type Resolve<'a> = dyn Fn(&str, std::ops::Range<usize>, &str, &mut Diagnostics) -> Option<usize> + 'a;

pub(super) fn parse_condition(
    src: &Source,
    w: &Spanned<RawCondition>,
    id: &str,
    resolve: &Resolve<'_>,
    diags: &mut Diagnostics,
) -> Option<Condition> {
    let c = w.get_ref();
    let node = resolve(c.node.get_ref(), c.node.span(), &format!("the condition of node '{id}'"), diags);
    let mut tests = Vec::new();
    if let Some(s) = &c.equals {
        tests.push(Test::Equals(s.clone()));
    }
    if let Some(s) = &c.contains {
        tests.push(Test::Contains(s.clone()));
    }
    if let Some(s) = &c.not_contains {
        tests.push(Test::NotContains(s.clone()));
    }
    if let Some(s) = &c.matches {
        match Regex::new(s.get_ref()) {
            Ok(r) => tests.push(Test::Matches(r)),
            Err(e) => {
                diags.push(src.error(s.span(), format!("invalid regex: {}", first_line(&e.to_string()))));
                return None;
            }
        }
    }
    if let Some(b) = c.passed {
        tests.push(Test::Passed(b));
    }
    if tests.len() != 1 {
        diags.push(
            src.error(w.span(), format!("the condition of node '{id}' needs exactly one test, found {}", tests.len()))
                .with_help("use one of equals, contains, not_contains, matches or passed"),
        );
        return None;
    }
    Some(Condition { node: node?, test: tests.remove(0) })
}

pub(super) fn parse_check(src: &Source, c: &Spanned<RawCheck>, diags: &mut Diagnostics) -> Option<Check> {
    let r = c.get_ref();
    let mut found = Vec::new();
    if let Some(s) = &r.contains {
        found.push(Check::Contains(s.clone()));
    }
    if let Some(s) = &r.not_contains {
        found.push(Check::NotContains(s.clone()));
    }
    if let Some(s) = &r.regex {
        match Regex::new(s.get_ref()) {
            Ok(re) => found.push(Check::Regex(re)),
            Err(e) => {
                diags.push(src.error(s.span(), format!("invalid regex: {}", first_line(&e.to_string()))));
                return None;
            }
        }
    }
    match r.json {
        Some(true) => found.push(Check::Json),
        Some(false) => {
            diags.push(src.error(c.span(), "json = false checks nothing").with_help("remove the check, or use json = true"));
            return None;
        }
        None => {}
    }
    for (v, ctor, name) in
        [(&r.max_chars, Check::MaxChars as fn(usize) -> Check, "max_chars"), (&r.min_chars, Check::MinChars, "min_chars")]
    {
        if let Some(v) = v {
            let Ok(n) = usize::try_from(*v.get_ref()) else {
                diags.push(
                    src.error(v.span(), format!("{name} {} is out of range", v.get_ref()))
                        .with_help(format!("use a whole number of characters from 0 to {}", i64::MAX)),
                );
                return None;
            };
            found.push(ctor(n));
        }
    }
    if found.len() != 1 {
        diags.push(
            src.error(c.span(), format!("each check needs exactly one test, found {}", found.len()))
                .with_help("write one table per check, e.g. checks = [{ contains = \"Source:\" }, { json = true }]"),
        );
        return None;
    }
    found.pop()
}

pub(super) fn parse_sim(src: &Source, s: &Spanned<RawSim>, diags: &mut Diagnostics) -> SimHints {
    let r = s.get_ref();
    let mut hints = SimHints { labels: r.labels.clone(), weights: Vec::new(), items: None, sample: r.sample.clone() };
    if let Some(w) = &r.weights {
        let ws = w.get_ref();
        if ws.len() != r.labels.len() {
            diags.push(
                src.error(w.span(), format!("{} weights for {} labels", ws.len(), r.labels.len())).with_help("give one weight per label"),
            );
        } else if ws.iter().any(|x| !x.is_finite() || *x < 0.0) || ws.iter().sum::<f64>() <= 0.0 {
            diags.push(
                src.error(w.span(), "weights must be non-negative and not all zero")
                    .with_help("give each label a finite weight of 0 or more, e.g. weights = [3, 1]"),
            );
        } else {
            hints.weights = ws.clone();
        }
    }
    if let Some(items) = &r.items {
        match items.get_ref().as_slice() {
            [lo, hi] if *lo >= 0 && lo <= hi && *hi <= 10_000 => hints.items = Some((*lo as u32, *hi as u32)),
            _ => {
                diags.push(src.error(items.span(), "items must be [min, max] with 0 ≤ min ≤ max ≤ 10000").with_help("e.g. items = [3, 5]"))
            }
        }
    }
    if hints.items.is_some() && !hints.labels.is_empty() {
        diags.push(src.error(s.span(), "a node's simulated output is either a list (items) or ends with a label (labels), not both"));
    }
    hints
}

pub(super) fn first_line(s: &str) -> &str {
    s.lines().last().unwrap_or(s).trim()
}

/// Kahn's algorithm, taking ready nodes in file order. On a cycle, returns the nodes of one
/// cycle in dependency order.
pub(super) fn topo_order(nodes: &[Node]) -> Result<Vec<usize>, Vec<usize>> {
    let n = nodes.len();
    let mut indegree: Vec<usize> = nodes.iter().map(|n| n.after.len()).collect();
    let mut dependents = vec![Vec::new(); n];
    for (i, node) in nodes.iter().enumerate() {
        for &d in &node.after {
            dependents[d].push(i);
        }
    }
    let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> =
        (0..n).filter(|&i| indegree[i] == 0).map(std::cmp::Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(std::cmp::Reverse(i)) = ready.pop() {
        order.push(i);
        for &d in &dependents[i] {
            indegree[d] -= 1;
            if indegree[d] == 0 {
                ready.push(std::cmp::Reverse(d));
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Every node left has an unfinished dependency; walk dependencies until one repeats.
    let stuck: Vec<bool> = (0..n).map(|i| indegree[i] > 0).collect();
    let start = (0..n).find(|&i| stuck[i]).unwrap_or(0);
    let mut path = vec![start];
    let mut pos = vec![usize::MAX; n];
    pos[start] = 0;
    let mut cur = start;
    loop {
        let Some(&next) = nodes[cur].after.iter().find(|&&d| stuck[d]) else {
            return Err(path);
        };
        if pos[next] != usize::MAX {
            let mut cycle = path[pos[next]..].to_vec();
            // `after` edges point upstream; reverse so the cycle reads in run order.
            cycle.reverse();
            return Err(cycle);
        }
        pos[next] = path.len();
        path.push(next);
        cur = next;
    }
}
