//! Text tables for people, and the number formats the screen shares.

use std::fmt::Write as _;
use std::time::Duration;

use crate::money::Money;
use crate::state::{RunState, Status};

use super::json::status_name;
use super::listed_units;

pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 100.0 {
        format!("{s:.0}s")
    } else if s >= 10.0 {
        format!("{s:.1}s")
    } else {
        format!("{s:.2}s")
    }
}

fn opt_secs(d: Option<Duration>) -> String {
    d.map(secs).unwrap_or_else(|| "-".to_string())
}

/// Thousands separators: 12,345.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn percent(r: Option<f64>) -> String {
    r.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "-".to_string())
}

/// A plain text table with left-aligned text and right-aligned numbers.
pub struct Table {
    header: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: &[(&str, bool)]) -> Table {
        Table { header: columns.iter().map(|c| c.0.to_string()).collect(), right: columns.iter().map(|c| c.1).collect(), rows: Vec::new() }
    }

    /// Adds a row. Cells may hold text from outside (errors, outputs, ids), so each is made
    /// safe for a terminal here, before its width is measured.
    pub fn row(&mut self, cells: Vec<String>) {
        let cells = cells
            .into_iter()
            .map(|c| match crate::sanitize::for_terminal(&c) {
                std::borrow::Cow::Borrowed(_) => c,
                std::borrow::Cow::Owned(o) => o,
            })
            .collect();
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let n = self.header.len();
        let mut w: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut l = String::new();
            for (i, &width) in w.iter().enumerate() {
                let c = cells.get(i).map(String::as_str).unwrap_or("");
                let pad = width.saturating_sub(c.chars().count());
                if i > 0 {
                    l.push_str("  ");
                }
                if self.right[i] {
                    l.push_str(&" ".repeat(pad));
                    l.push_str(c);
                } else {
                    l.push_str(c);
                    if i + 1 < n {
                        l.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(&self.header, &mut out);
        for r in &self.rows {
            line(r, &mut out);
        }
        out
    }
}

/// Cuts to `n` characters with an ellipsis (nothing at all for `n` = 0). The screen and the
/// tables share this one.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    if n == 0 {
        return String::new();
    }
    let mut t: String = s.chars().take(n - 1).collect();
    t.push('…');
    t
}

/// A cost as a person should read it, in one short cell: a call of unknown price is never
/// shown as $0 (`unpriced (N)`, or `$X+N unpriced`), and calls that came without token counts
/// make the figure a floor (`+?`, or `?` when nothing at all was priced). `unpriced` and
/// `uncounted` count different calls.
pub fn cost_text(cost: Money, unpriced: u64, uncounted: u64) -> String {
    let mut s = match (unpriced, cost.is_zero()) {
        (0, true) if uncounted > 0 => return "?".to_string(),
        (0, _) => cost.to_string(),
        (n, true) => format!("unpriced ({n})"),
        (n, false) => format!("{cost}+{n} unpriced"),
    };
    if uncounted > 0 {
        s.push_str("+?");
    }
    s
}

/// A figure that may be a lower bound (`open`: some call came without token counts): as it
/// is; `?` when nothing was counted (`none`); what was counted and `+?` otherwise.
pub fn open_figure(text: String, none: bool, open: bool) -> String {
    match (open, none) {
        (false, _) => text,
        (true, true) => "?".to_string(),
        (true, false) => format!("{text}+?"),
    }
}

/// The human table for one run.
pub fn run_table(s: &RunState) -> String {
    let mut t = Table::new(&[
        ("NODE", false),
        ("KIND", false),
        ("MODEL", false),
        ("RULE", false),
        ("STATUS", false),
        ("IN", true),
        ("OUT", true),
        ("COST", true),
        ("START", true),
        ("TTFT", true),
        ("LATENCY", true),
        ("CHECKS", true),
    ]);
    for i in listed_units(s) {
        let u = &s.units[i];
        let node = &s.flow.nodes[u.unit.index()];
        let mut status = if u.resumed.is_some() { "resumed".to_string() } else { u.status.name().to_string() };
        if !u.retries.is_empty() {
            status.push_str(&format!(" ↻{}", u.retries.len()));
        }
        if !u.fallbacks.is_empty() {
            status.push_str(&format!(" ⇢{}", u.fallbacks.len()));
        }
        let rule = u.decision.as_ref().map(|d| match d.rule {
            Some(r) => format!("#{}", r + 1),
            None => "default".to_string(),
        });
        let worked = matches!(u.status, Status::Done | Status::Cached);
        // Counts a call did not report are not zeros.
        let none_counted = u.billed_usage.total_input() + u.billed_usage.output == 0;
        let unknown = |text: String| open_figure(text, none_counted, u.unreported);
        t.row(vec![
            clip(&u.label, 24),
            clip(&node.kind, 14),
            u.model.as_deref().unwrap_or("-").to_string(),
            rule.unwrap_or_else(|| "-".into()),
            status,
            if worked { unknown(thousands(u.billed_usage.total_input())) } else { "-".into() },
            if worked { unknown(thousands(u.billed_usage.output)) } else { "-".into() },
            if worked && s.unpriced(i) {
                "unpriced".into()
            } else if worked {
                unknown(u.cost.total().to_string())
            } else {
                "-".into()
            },
            opt_secs(u.started),
            opt_secs(u.ttft),
            opt_secs(u.latency),
            if u.checks.is_empty() { "-".into() } else { format!("{}/{}", u.checks_passed(), u.checks.len()) },
        ]);
    }
    let mut out = String::new();
    let _ = writeln!(out, "{} · {} · seed {} · {}", s.flow.name, s.strategy.name, s.seed, status_name(s));
    out.push_str(&t.render());
    let tot = &s.totals;
    let path: Vec<String> = s.critical_path().into_iter().map(|i| s.units[i].label.clone()).collect();
    let unpriced = s.unpriced_count();
    if unpriced == 0 {
        let _ = writeln!(
            out,
            "\ncost {}  (input {}, cached {}, output {})",
            tot.cost.total(),
            tot.cost.input,
            tot.cost.cached,
            tot.cost.output
        );
    } else {
        // A model the catalog lacks has an unknown price, never a zero one.
        let cost =
            if tot.cost.total().is_zero() { "unknown:".to_string() } else { format!("{} priced, and unknown for", tot.cost.total()) };
        let _ = writeln!(out, "\ncost {cost} {unpriced} node(s) whose model the catalog lacks (add it with --catalog FILE)");
    }
    // Every node whose calls came without counts, priced or not: its tokens are lower bounds.
    let uncounted = s.unreported_count();
    if uncounted > 0 {
        let _ = writeln!(out, "     at least: {uncounted} node(s) had calls that reported no token counts");
    }
    let _ = writeln!(out, "wall {}  critical path {}: {}", secs(s.wall()), secs(tot.critical_path), path.join(" → "));
    let _ = writeln!(
        out,
        "tokens in {} (cached {}) out {}  ·  checks {}/{} ({})  ·  nodes {} done, {} cached, {} skipped, {} failed of {}",
        thousands(tot.usage.total_input()),
        thousands(tot.usage.cached),
        thousands(tot.usage.output),
        tot.checks_passed,
        tot.checks_total,
        percent(tot.pass_rate()),
        tot.done,
        tot.cached,
        tot.skipped,
        tot.failed,
        tot.units_total
    );
    if !tot.saved.is_zero() {
        let _ = writeln!(out, "served from cache: {} node(s), saving {}", tot.cached, tot.saved);
    }
    if tot.retries + tot.fallbacks > 0 {
        let _ = writeln!(out, "retries {}  fallbacks {}", tot.retries, tot.fallbacks);
    }
    if let Some(b) = s.strategy.budget {
        let _ = writeln!(out, "budget {b} ({:.0}% used)", tot.cost.total().ratio(b).unwrap_or(0.0) * 100.0);
    }
    let notes: Vec<String> = listed_units(s)
        .into_iter()
        .filter_map(|i| {
            let u = &s.units[i];
            u.skip
                .as_ref()
                .map(|r| format!("  {} skipped: {r}", u.label))
                .or_else(|| u.error.as_ref().map(|e| format!("  {} failed: {e}", u.label)))
        })
        .collect();
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            out.push_str(&n);
            out.push('\n');
        }
    }
    out
}
