//! The node panel: why this model, what context, the streaming output, timings, retries,
//! fallbacks, checks, and the cost split into input, cached and output.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use super::app::App;
use super::fmt::{Unknown, dur, figures_text, money, open_cost};
use super::layout::BoxKey;
use super::theme::status_symbol;
use crate::event::Origin;
use crate::report::thousands;
use crate::state::{Status, UnitState};

pub struct PanelView<'a> {
    pub app: &'a App,
    pub focused: bool,
}

fn kv<'a>(app: &App, k: &'a str, v: String) -> Line<'a> {
    Line::from(vec![Span::styled(format!("{k:<9}"), app.theme.dim()), Span::raw(v)])
}

fn heading(app: &App, s: &str) -> Line<'static> {
    Line::from(Span::styled(s.to_string(), Style::default().fg(app.theme.accent).add_modifier(Modifier::BOLD)))
}

/// The lines for one unit.
pub fn unit_lines(app: &App, u: &UnitState) -> Vec<Line<'static>> {
    unit_lines_in(app, app.state(), u)
}

/// The lines for one unit of a given run (compare mode shows several runs).
pub fn unit_lines_in(app: &App, st: &crate::state::RunState, u: &UnitState) -> Vec<Line<'static>> {
    let t = &app.theme;
    let node = &st.flow.nodes[u.unit.index()];
    let idx = st.unit_index(u.unit).unwrap_or(0);
    let mut out: Vec<Line<'static>> = Vec::new();
    out.push(Line::from(vec![
        Span::styled(format!("{} {}", status_symbol(u.status), u.label), t.status(u.status).add_modifier(Modifier::BOLD)),
        Span::styled(format!("  {} · complexity {} · {}", node.kind, node.complexity, u.status.name()), t.dim()),
    ]));
    if let Some(item) = &u.item {
        out.push(kv(app, "item", item.to_string()));
    }
    if !node.description.is_empty() {
        out.push(Line::from(Span::styled(node.description.clone(), t.dim())));
    }

    out.push(Line::default());
    out.push(heading(app, "Routing"));
    match &u.decision {
        Some(d) => {
            out.push(kv(app, "rule", d.rule_label.to_string()));
            out.push(kv(app, "why", d.reason.to_string()));
            let served = u.model.as_deref().unwrap_or_default();
            let models =
                if served == d.model || served.is_empty() { d.model.clone() } else { format!("{} → served by {served}", d.model) };
            out.push(kv(app, "model", models));
            if !d.fallbacks.is_empty() {
                out.push(kv(app, "fallback", d.fallbacks.join(" → ")));
            }
            for (label, matched, why) in st.routing_trace(idx) {
                if !matched {
                    out.push(Line::from(Span::styled(format!("  ✗ {label}: {why}"), t.dim())));
                }
            }
        }
        None => {
            let est = st.routing_trace(idx);
            if let Some((label, _, why)) = est.last() {
                out.push(kv(app, "likely", format!("{label}: {why}")));
            }
        }
    }

    out.push(Line::default());
    out.push(heading(app, "Context"));
    if u.context().is_empty() {
        // A watched node's context is the application's, which spans do not carry.
        let why = if u.started.is_none() {
            "not started"
        } else if st.strategy.name == crate::record::reprice::WATCHED {
            "not reported by the source"
        } else {
            "none"
        };
        out.push(Line::from(Span::styled(why.to_string(), t.dim())));
    }
    for p in u.context() {
        let from = match p.origin {
            Origin::Prompt => "prompt".to_string(),
            Origin::Declared(n) => st.flow.nodes.get(n as usize).map_or("?".into(), |n| n.id.clone()),
            Origin::History => "history".to_string(),
        };
        out.push(kv(app, "", format!("{from:<18} {:>8} tok", thousands(p.tokens))));
    }
    if !u.context().is_empty() {
        let (pr, de, hi) = u.attribution();
        out.push(kv(
            app,
            "total",
            format!("{} tok (prompt {}, declared {}, history {})", thousands(pr + de + hi), thousands(pr), thousands(de), thousands(hi)),
        ));
    }

    out.push(Line::default());
    out.push(heading(app, "Timing"));
    let now = app.player.playhead;
    out.push(kv(app, "start", u.started.map(dur).unwrap_or_else(|| "-".into())));
    out.push(kv(app, "ttft", st.ttft_so_far(idx).map(dur).unwrap_or_else(|| "-".into())));
    let lat = match (u.latency, u.started, u.finished) {
        (Some(l), _, _) => dur(l),
        (None, Some(s), None) => format!("{} so far", dur(now.saturating_sub(s))),
        _ => "-".into(),
    };
    out.push(kv(app, "latency", lat));
    // Time spent waiting for a provider's slot: part of the latency, never of a timeout.
    match u.waiting.as_deref() {
        Some((since, why)) => out.push(kv(app, "queued", format!("{} so far: {why}", dur(u.queued + now.saturating_sub(*since))))),
        None if u.queued > std::time::Duration::ZERO => out.push(kv(app, "queued", format!("{} for a provider slot", dur(u.queued)))),
        None => {}
    }
    for r in &u.retries {
        out.push(Line::from(Span::styled(
            format!("  ↻ try {} on {} at {}: {} (waited {})", r.try_no, r.model, dur(r.at), r.error, dur(r.backoff)),
            Style::default().fg(t.retrying),
        )));
    }
    for f in &u.fallbacks {
        let extra = f.escalation_cost.map(|c| format!(", that call cost {}", money(c))).unwrap_or_default();
        out.push(Line::from(Span::styled(
            format!("  ⇢ {} → {} at {}: {}{extra}", f.from, f.to, dur(f.at), f.reason),
            Style::default().fg(t.retrying),
        )));
    }

    let tries = st.exchanges_of(u.unit).count();
    if tries > 0 {
        let key = app.keymap.key_for(super::keymap::Action::Inspect).unwrap_or("inspect");
        let what = if tries == 1 { "1 try" } else { &format!("{tries} tries") };
        out.push(kv(app, "wire", format!("{what} kept as sent and received: {key} shows the requests, responses and usage")));
    }

    out.push(Line::default());
    out.push(heading(app, "Tokens and cost"));
    if u.status.is_settled() && u.status != Status::Skipped {
        let b = if u.status == Status::Cached { &u.usage } else { &u.billed_usage };
        let note = if u.status == Status::Cached {
            " (the original call's, for reference)"
        } else if u.unreported {
            " (lower bounds: a call reported no tokens)"
        } else if u.estimated {
            " (estimated)"
        } else if u.billed_estimated {
            " (a failed try's tokens estimated)"
        } else {
            ""
        };
        let c = &u.cost;
        if u.unreported && b.total_input() + b.output == 0 {
            // Nothing was reported: unknown, not zero.
            out.push(kv(app, "tokens", "not reported by the source".to_string()));
            out.push(kv(app, "cost", "unknown without token counts".to_string()));
        } else {
            out.push(kv(
                app,
                "tokens",
                format!("in {} · cached {} · out {}{note}", thousands(b.input + b.cache_write), thousands(b.cached), thousands(b.output)),
            ));
            let least = if u.unreported { "at least " } else { "" };
            let cost = if st.unpriced(idx) {
                // A model the catalog lacks has an unknown price, not a zero one.
                format!("unpriced: {} is not in the catalog (add it with --catalog FILE)", u.model.as_deref().unwrap_or("the model"))
            } else {
                format!("{least}{} = input {} + cached {} + output {}", money(c.total()), money(c.input), money(c.cached), money(c.output))
            };
            out.push(kv(app, "cost", cost));
        }
        if u.status == Status::Cached {
            out.push(kv(app, "", format!("served from cache; the original call cost {}", money(st.unit_worth(idx)))));
        }
    } else if u.started.is_some() {
        out.push(kv(app, "tokens", format!("in ~{} · out {} so far", thousands(u.input_tokens_estimate), thousands(u.streamed_tokens))));
        out.push(kv(app, "cost", format!("~{} so far (estimated until the call reports its usage)", money(st.cost_so_far(idx)))));
    } else {
        out.push(Line::from(Span::styled("-".to_string(), t.dim())));
    }

    if !node.checks.is_empty() {
        out.push(Line::default());
        out.push(heading(app, "Checks"));
        if u.checks.is_empty() {
            for c in &node.checks {
                out.push(Line::from(Span::styled(format!("  · {}", c.label()), t.dim())));
            }
        }
        for c in &u.checks {
            let (sym, color) = if c.passed { ("✓", t.done) } else { ("✗", t.failed) };
            let detail = c.detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default();
            out.push(Line::from(vec![
                Span::styled(format!("  {sym} "), Style::default().fg(color)),
                Span::raw(format!("{}{detail}", c.check)),
            ]));
        }
    }
    if let Some(r) = &u.skip {
        out.push(Line::default());
        out.push(Line::from(Span::styled(format!("skipped: {r}"), t.status(Status::Skipped))));
    }
    if let Some(e) = &u.error {
        out.push(Line::default());
        out.push(Line::from(Span::styled(format!("failed: {e}"), t.status(Status::Failed))));
    }

    if let Some(prev) = app.previous.as_ref().filter(|_| app.others.is_empty())
        && let Some(pi) = prev.units.iter().position(|p| p.label == u.label)
    {
        let p = &prev.units[pi];
        out.push(Line::default());
        out.push(heading(app, &format!("Change from attempt {}", prev.attempt)));
        let was_cost = prev.unit_worth(pi);
        let dc = u.cost.total() - was_cost;
        let col = |better: bool, same: bool| {
            Style::default().fg(if same {
                t.dim
            } else if better {
                t.better
            } else {
                t.worse
            })
        };
        out.push(Line::from(vec![
            Span::styled(format!("{:<9}", "model"), t.dim()),
            Span::raw(format!("{} → {}", p.model.clone().unwrap_or_else(|| "-".into()), u.model.clone().unwrap_or_else(|| "-".into()))),
        ]));
        out.push(Line::from(vec![
            Span::styled(format!("{:<9}", "cost"), t.dim()),
            Span::styled(
                format!(
                    "{} → {} ({:+}){}",
                    money(was_cost),
                    money(u.cost.total()),
                    dc,
                    if u.status == Status::Cached { ", served from cache" } else { "" }
                ),
                col(dc < crate::money::Money::ZERO, dc.is_zero()),
            ),
        ]));
        if let (Some(a), Some(b)) = (p.latency, u.latency) {
            let d = b.as_secs_f64() - a.as_secs_f64();
            out.push(Line::from(vec![
                Span::styled(format!("{:<9}", "latency"), t.dim()),
                Span::styled(format!("{} → {} ({d:+.2}s)", dur(a), dur(b)), col(d < 0.0, d.abs() < 1e-9)),
            ]));
        }
        let (ta, tb) = (p.usage.total_input() + p.usage.output, u.usage.total_input() + u.usage.output);
        out.push(Line::from(vec![
            Span::styled(format!("{:<9}", "tokens"), t.dim()),
            Span::raw(format!("{} → {} ({:+})", thousands(ta), thousands(tb), tb as i64 - ta as i64)),
        ]));
        if !u.checks.is_empty() || !p.checks.is_empty() {
            let (pa, pb) = (p.checks_passed(), u.checks_passed());
            out.push(Line::from(vec![
                Span::styled(format!("{:<9}", "checks"), t.dim()),
                Span::styled(format!("{pa}/{} → {pb}/{}", p.checks.len(), u.checks.len()), col(pb > pa, pb == pa)),
            ]));
        }
    }

    out.push(Line::default());
    out.push(heading(app, if u.status.is_active() { "Output (streaming)" } else { "Output" }));
    if u.text().is_empty() {
        out.push(Line::from(Span::styled("-".to_string(), t.dim())));
    } else {
        for l in u.text().lines() {
            out.push(Line::raw(l.to_string()));
        }
    }
    out
}

/// At most this many rows of a folded run are listed (`/` finds any of them).
const RUN_ROWS: usize = 300;

/// Lines for a folded run of sibling nodes: what they share, their sum, and one row each.
fn run_lines(app: &App, st: &crate::state::RunState, g: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let members = &app.siblings.members[g];
    let first = &st.flow.nodes[members[0]];
    let units: Vec<usize> = members.iter().flat_map(|&n| st.work_units(n)).copied().collect();
    let sum = st.summary(&units);
    let mut out = vec![Line::from(vec![
        Span::styled(
            format!("{} {} ×{}", status_symbol(sum.status), first.kind, members.len()),
            t.status(sum.status).add_modifier(Modifier::BOLD),
        ),
        Span::styled("  siblings, folded".to_string(), t.dim()),
    ])];
    let after: Vec<&str> = first.after.iter().map(|&d| st.flow.nodes[d].id.as_str()).collect();
    out.push(kv(app, "after", if after.is_empty() { "nothing (they start the flow)".into() } else { after.join(", ") }));
    out.push(kv(app, "done", format!("{} of {} ({} failed, {} skipped)", sum.settled, sum.units, sum.failed, sum.skipped)));
    out.push(kv(app, "models", if sum.models.is_empty() { "-".into() } else { sum.models.join(", ") }));
    out.push(kv(app, "tokens", thousands(sum.tokens)));
    // Never $0 for what has no price or no counts.
    out.push(kv(app, "cost", format!("{}{}", if sum.active { "~" } else { "" }, open_cost(sum.cost, Unknown::of(st, &units)))));
    if let Some(s) = sum.start {
        out.push(kv(app, "span", format!("{} → {}", dur(s), sum.end.map(dur).unwrap_or_else(|| "…".into()))));
    }
    out.push(Line::default());
    out.push(heading(app, "Nodes (e unfolds them in the graph)"));
    for &n in members.iter().take(RUN_ROWS) {
        let Some(ns) = st.nodes.get(n) else { continue };
        let u = &st.units[ns.unit];
        let status = st.node_status(n);
        out.push(Line::from(vec![
            Span::styled(format!("{} ", status_symbol(status)), t.status(status)),
            Span::raw(format!(
                "{:<16} {:<18} {:>9} {:>7}",
                super::fmt::clip(&st.flow.nodes[n].id, 16),
                super::fmt::clip(u.model.as_deref().unwrap_or("-"), 18),
                open_cost(st.node_cost(n), Unknown::of(st, st.work_units(n))),
                u.latency.map(dur).unwrap_or_default()
            )),
        ]));
    }
    if members.len() > RUN_ROWS {
        out.push(Line::from(Span::styled(format!("… {} more: / finds one by name", members.len() - RUN_ROWS), t.dim())));
    }
    out
}

/// Lines for a collapsed fan-out group: its totals and one row per instance.
fn group_lines(app: &App, n: usize) -> Vec<Line<'static>> {
    let st = app.state();
    let t = &app.theme;
    let node = &st.flow.nodes[n];
    let ns = &st.nodes[n];
    let mut out = vec![Line::from(vec![
        Span::styled(
            format!("{} {} ×{}", status_symbol(st.node_status(n)), node.id, ns.instances.len()),
            t.status(st.node_status(n)).add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!("  {} · complexity {} · fan-out", node.kind, node.complexity), t.dim()),
    ])];
    if let Some(m) = &node.map {
        out.push(kv(app, "maps", format!("each item of '{}', {} at a time", st.flow.nodes[m.over].id, m.limit)));
    }
    if ns.dropped > 0 {
        out.push(kv(app, "dropped", format!("{} items beyond max_items", ns.dropped)));
    }
    let u = st.node_usage(n);
    out.push(kv(app, "tokens", format!("in {} · out {}", thousands(u.total_input()), thousands(u.output))));
    out.push(kv(app, "cost", money(st.node_cost(n))));
    if let (Some(s), e) = st.node_span(n) {
        out.push(kv(app, "span", format!("{} → {}", dur(s), e.map(dur).unwrap_or_else(|| "…".into()))));
    }
    out.push(Line::default());
    out.push(heading(app, "Instances (e expands them in the graph)"));
    for &i in &ns.instances {
        let iu = &st.units[i];
        out.push(Line::from(vec![
            Span::styled(format!("{} ", status_symbol(iu.status)), t.status(iu.status)),
            Span::raw(format!("{:<14} {:>8} {:>7}  ", iu.label, money(iu.cost.total()), iu.latency.map(dur).unwrap_or_default())),
            Span::styled(iu.item.as_deref().unwrap_or_default().to_string(), t.dim()),
        ]));
    }
    if ns.instances.is_empty() {
        if let Some(r) = &st.units[ns.unit].skip {
            out.push(Line::from(Span::styled(format!("skipped: {r}"), t.status(Status::Skipped))));
        } else {
            out.push(Line::from(Span::styled("waiting for the list to map over".to_string(), t.dim())));
        }
    }
    out
}

pub fn panel_lines(app: &App) -> Vec<Line<'static>> {
    let st = app.state();
    if !app.others.is_empty() {
        // Compare mode: the selected node under every strategy.
        let mut out = Vec::new();
        for (k, p) in std::iter::once(&app.player).chain(app.others.iter()).enumerate() {
            let sst = &p.state;
            let idx = match app.selected {
                BoxKey::Node(n) => sst.nodes.get(n).map(|x| x.unit),
                BoxKey::Instance(n, i) => sst.nodes.get(n).and_then(|x| x.instances.get(i).copied()),
                BoxKey::Group(..) => None,
            };
            out.push(Line::from(Span::styled(
                format!("━━ {} {} ━━", super::graph::side_letter(k), sst.strategy.name),
                Style::default().fg(app.theme.title).add_modifier(Modifier::BOLD),
            )));
            if let BoxKey::Group(_, g) = app.selected {
                out.extend(run_lines(app, sst, g));
                out.push(Line::default());
                continue;
            }
            match idx {
                Some(i) => out.extend(unit_lines_in(app, sst, &sst.units[i])),
                None => out.push(Line::raw("not reached")),
            }
            out.push(Line::default());
        }
        return out;
    }
    if let Some(u) = app.timeline_unit() {
        return unit_lines(app, &st.units[u]);
    }
    match app.selected {
        BoxKey::Group(_, g) => run_lines(app, st, g),
        BoxKey::Node(n) if st.flow.nodes[n].map.is_some() => group_lines(app, n),
        key => match app.unit_for_box(key) {
            Some(u) => unit_lines(app, &st.units[u]),
            None => vec![Line::raw("nothing selected")],
        },
    }
}

impl Widget for PanelView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = &self.app.theme;
        let border = Style::default().fg(if self.focused { t.border_focus } else { t.border });
        let block = Block::bordered().title(" Node ").border_style(border);
        Paragraph::new(panel_lines(self.app)).block(block).wrap(Wrap { trim: false }).scroll((self.app.panel_scroll, 0)).render(area, buf);
    }
}

/// Two lines about the selection, for narrow screens where the panel is hidden.
pub fn summary_lines(app: &App) -> Vec<Line<'static>> {
    let lines = panel_lines(app);
    let mut out: Vec<Line<'static>> = lines.into_iter().take(1).collect();
    let st = app.state();
    if let Some(i) = app.unit_for_box(app.selected) {
        let u = &st.units[i];
        let model = u.model.clone().unwrap_or_else(|| "-".into());
        let rule = u.decision.as_ref().map(|d| d.rule_label.to_string()).unwrap_or_default();
        // Unpriced or uncounted figures are never shown as plain zeros.
        let (toks, cost) = figures_text(u.billed_usage.total_input() + u.billed_usage.output, u.cost.total(), Unknown::of(st, &[i]));
        out.push(Line::from(Span::styled(format!("  {model} · {rule} · {toks} tok · {cost} · Enter for details"), app.theme.dim())));
    }
    out
}
