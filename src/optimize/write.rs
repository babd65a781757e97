//! What the search shows: the frontier as a table, and a chosen point as a strategy file whose
//! comments say why each rule exists (the measured cost and quality that chose it, against the
//! alternatives one step away).

use std::fmt::Write as _;

use super::{Figures, Outcome, Point, alternatives, feasible};
use crate::money::Money;
use crate::report::{Table, thousands};
use crate::routing::ContextMode;

fn per_1000(f: &Figures) -> String {
    Money::from_usd(f.cost_per_1000_usd).to_string()
}

fn secs(ms: f64) -> String {
    format!("{:.2}s", ms / 1000.0)
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn figures_line(f: &Figures) -> String {
    format!(
        "{} per 1000 tasks · p50 {} · {} of {} tasks pass every check",
        per_1000(f),
        secs(f.latency_p50_ms),
        f.quality.label(),
        thousands(f.quality.total as u64)
    )
}

/// Why slot `k` of `p` is what it is, from the candidates one step away in that slot.
fn reasons(o: &Outcome, p: &Point, k: usize) -> Vec<String> {
    let alts = alternatives(&o.evaluated, &p.assignment, k);
    let chosen = &p.search;
    let mut cheaper: Vec<_> = alts.iter().filter(|(_, f)| f.cost < chosen.cost).collect();
    cheaper.sort_by_key(|a| std::cmp::Reverse(a.1.cost));
    let mut better: Vec<_> = alts.iter().filter(|(_, f)| f.cost >= chosen.cost && f.quality.rate > chosen.quality.rate).collect();
    better.sort_by(|a, b| b.1.quality.rate.total_cmp(&a.1.quality.rate).then(a.1.cost.cmp(&b.1.cost)));
    let mut out = Vec::new();
    let floor = o.quality_floor;
    for (a, f) in cheaper.iter().take(2) {
        let why = if !feasible(f, floor) {
            format!("cheaper, but below the quality floor of {:.1}%", floor.unwrap_or(0.0) * 100.0)
        } else if f.quality.rate < chosen.quality.rate {
            "cheaper, but fewer tasks pass".to_string()
        } else if f.latency_p50_ms > chosen.latency_p50_ms {
            "cheaper, but slower".to_string()
        } else {
            "cheaper, and not worse: a later step may find it".to_string()
        };
        out.push(format!("{} here: {} — {why}", a[k].label(), figures_line(f)));
    }
    if let Some((a, f)) = better.first() {
        let points = (f.quality.rate - chosen.quality.rate) * 100.0;
        let verdict = crate::quality::verdict(&f.quality, &chosen.quality);
        out.push(format!(
            "{} here: {} — {:+.1} points for {:+} per 1000 tasks ({} on this task set)",
            a[k].label(),
            figures_line(f),
            points,
            Money::from_usd(f.cost_per_1000_usd - chosen.cost_per_1000_usd),
            verdict.name()
        ));
    }
    if out.is_empty() {
        out.push(if alts.is_empty() {
            "no alternative for this part was measured (the search stopped before it got here)".to_string()
        } else {
            format!("every other choice measured here ({}) costs more and is no better", alts.len())
        });
    }
    out
}

/// The strategy of frontier point `i` as a file a person can read and edit: a header with what
/// was measured, then one commented rule per slot.
pub fn strategy_toml(o: &Outcome, i: usize, name: &str, command: &str) -> Option<String> {
    let p = o.frontier.get(i)?;
    let s = o.strategy(i, name)?;
    let mut out = String::new();
    let _ = writeln!(out, "# Found by: {command}");
    let _ = writeln!(
        out,
        "# Measured on {} search tasks (seed {}), {}{}.",
        o.search_tasks,
        o.seed,
        o.provider,
        if o.provider == "simulated" { ": quality is the simulator's model of it, not a real model's" } else { "" }
    );
    let _ = writeln!(out, "# Search set: {}.", figures_line(&p.search));
    if let Some(h) = &p.held_out {
        let _ = writeln!(out, "# Held out:   {}.", figures_line(h));
    }
    for r in &o.references {
        let _ = writeln!(out, "# For comparison, '{}' as written: {}.", r.strategy, figures_line(&r.search));
    }
    let _ = writeln!(
        out,
        "# Each rule serves one {}; the comment above it says what the search measured there.",
        match o.slots.first().map(|s| s.per) {
            Some(super::Per::Kind) => "kind of node",
            _ => "node",
        }
    );
    out.push('\n');
    out.push_str("[strategy]\n");
    let _ = writeln!(out, "name = {}", quoted(name));
    let _ = writeln!(out, "description = {}", quoted(&format!("found by baton optimize ({:?} objective)", o.objective).to_lowercase()));
    let _ = writeln!(out, "default_model = {}", quoted(&s.default_model));
    let _ = writeln!(out, "context = {}", quoted(if s.context == ContextMode::Full { "full" } else { "declared" }));
    match s.schedule {
        crate::routing::Schedule::Sequential => out.push_str("schedule = \"sequential\"\n"),
        crate::routing::Schedule::Parallel { limit } => {
            out.push_str("schedule = \"parallel\"\n");
            if let Some(l) = limit {
                let _ = writeln!(out, "max_parallel = {l}");
            }
        }
    }
    if let Some(b) = s.budget {
        let _ = writeln!(out, "budget_usd = {}", b.usd());
    }
    if s.escalate_on_failed_checks {
        out.push_str("# A node whose output fails its checks is asked again on the next model of its rule.\n");
        out.push_str("escalate_on_failed_checks = true\n");
    }
    for (k, (slot, rule)) in o.slots.iter().zip(&s.rules).enumerate() {
        out.push('\n');
        let c = &p.assignment[k];
        let _ = writeln!(out, "# {} ({}) → {}", slot.label, slot.about, c.label());
        let _ = writeln!(out, "#   chosen: {}", figures_line(&p.search));
        for r in reasons(o, p, k) {
            let _ = writeln!(out, "#   {r}");
        }
        out.push_str("[[rule]]\n");
        let _ = writeln!(out, "name = {}", quoted(rule.name.as_deref().unwrap_or_default()));
        if let Some(g) = &rule.id {
            let _ = writeln!(out, "id = {}", quoted(&g.0));
        }
        if let Some(kind) = rule.kinds.first() {
            let _ = writeln!(out, "kind = {}", quoted(kind));
        }
        let _ = writeln!(out, "model = {}", quoted(&rule.model));
        if !rule.fallbacks.is_empty() {
            let list: Vec<String> = rule.fallbacks.iter().map(|f| quoted(f)).collect();
            let _ = writeln!(out, "fallbacks = [{}]", list.join(", "));
        }
    }
    Some(out)
}

/// The frontier, the strategies measured beside it, and what the search cost.
pub fn table(o: &Outcome) -> String {
    let mut out = String::new();
    let floor = o.quality_floor.map(|q| format!(" · quality floor {:.1}%", q * 100.0)).unwrap_or_default();
    let _ = writeln!(
        out,
        "{} · {} · seed {} · {} search tasks · {} held out · objective {:?}{floor}\n",
        o.flow, o.provider, o.seed, o.search_tasks, o.held_out_tasks, o.objective
    );
    let slots: Vec<&str> = o.slots.iter().map(|s| s.label.as_str()).collect();
    let _ = writeln!(out, "FRONTIER (cost, median latency and tasks passing, on the search set; then on the held-out set)");
    let mut t = Table::new(&[
        ("#", true),
        ("PER 1000", true),
        ("P50", true),
        ("QUALITY [95%]", true),
        ("HELD-OUT PER 1000", true),
        ("HELD-OUT QUALITY", true),
        ("BEST", false),
    ]);
    for (i, p) in o.frontier.iter().enumerate() {
        let (hc, hq) = p.held_out.as_ref().map_or(("-".to_string(), "-".to_string()), |h| (per_1000(h), h.quality.label()));
        t.row(vec![
            (i + 1).to_string(),
            per_1000(&p.search),
            secs(p.search.latency_p50_ms),
            p.search.quality.label(),
            hc,
            hq,
            if o.best == Some(i) { "★".into() } else { String::new() },
        ]);
    }
    out.push_str(&t.render());
    let _ = writeln!(out, "\nASSIGNMENTS ({})", slots.join(" · "));
    for (i, p) in o.frontier.iter().enumerate() {
        let list: Vec<String> = p.assignment.iter().map(|c| c.label()).collect();
        let _ = writeln!(out, "{:>3}  {}   ({})", i + 1, list.join(" · "), p.origin);
    }
    if !o.references.is_empty() {
        out.push_str("\nAS WRITTEN (the strategies the search started from, measured on the same tasks)\n");
        let mut r =
            Table::new(&[("STRATEGY", false), ("PER 1000", true), ("P50", true), ("QUALITY [95%]", true), ("HELD-OUT QUALITY", true)]);
        for x in &o.references {
            r.row(vec![
                x.strategy.clone(),
                per_1000(&x.search),
                secs(x.search.latency_p50_ms),
                x.search.quality.label(),
                x.held_out.as_ref().map_or("-".to_string(), |h| h.quality.label()),
            ]);
        }
        out.push_str(&r.render());
    }
    match o.best {
        Some(_) => {}
        None => out.push_str("\nNo candidate reaches the quality floor on the search set.\n"),
    }
    let st = &o.stats;
    let _ = writeln!(
        out,
        "\nsearch: {} candidates in {:.1} s · {} model calls for {} distinct outputs ({} {}) · exhaustive: {:.3e} assignments, ≈ {:.3e} calls",
        st.candidates,
        st.wall_ms / 1000.0,
        thousands(st.model_calls),
        thousands(st.outputs as u64),
        Money::from_usd(st.spent_usd),
        o.provider,
        st.exhaustive_assignments,
        st.exhaustive_calls
    );
    if st.judge_calls > 0 {
        let _ = writeln!(
            out,
            "evaluation: {} judge calls, {} (apart from the flows' cost; each output is judged once)",
            thousands(st.judge_calls),
            Money::from_usd(st.eval_spent_usd)
        );
    }
    if let Some(why) = &st.stopped {
        let _ = writeln!(out, "stopped early: {why}; the frontier is what was found so far.");
    }
    out.push_str("Quality: the share of tasks whose run completed with every check passing, with its 95% Wilson interval.\n");
    out
}
