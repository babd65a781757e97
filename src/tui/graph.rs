//! The DAG view: boxes with each node's model, tokens, cost and latency, edges in box-drawing
//! characters, the critical path marked, colour by status and cost heat. Renders only the
//! viewport, so a 500-node flow costs what the screen shows.

use std::collections::HashSet;
use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::Widget;

use super::app::App;
use super::fmt::{Unknown, clip, dur, figures_text, money, open_cost, spread, tokens};
use super::layout::{ARROW, BoxKey, centered, glyph, route_cells};
use super::theme::status_symbol;
use crate::money::Money;
use crate::state::{RunState, Status, UnitState};

pub struct GraphView<'a> {
    pub app: &'a App,
    pub focused: bool,
}

/// What one box says.
struct Content {
    title: String,
    /// A group's ` ×N`, or after a rerun ` ▲`, ` ▼` or ` =`: kept when a long title is cut.
    mark: String,
    status: Status,
    lines: [String; 3],
    cost: Option<Money>,
    /// Compare mode: what is not known of `cost` (the other side's, not the shown state's).
    cost_unknown: Option<Unknown>,
    critical: bool,
    /// Compare mode: the colour of the third line (the delta), and the status symbols.
    delta: Option<ratatui::style::Color>,
    symbols: Option<String>,
}

/// A, B, C... for the sides of a comparison.
pub fn side_letter(k: usize) -> char {
    (b'A' + (k as u8).min(25)) as char
}

/// The units a box stands for in a run: a folded run's nodes' work, a fan-out group's
/// instances, one instance, or the node's own unit.
fn box_units(app: &App, st: &RunState, key: BoxKey) -> Vec<usize> {
    match key {
        BoxKey::Group(_, g) => {
            app.siblings.members[g].iter().filter(|&&n| n < st.nodes.len()).flat_map(|&n| st.work_units(n)).copied().collect()
        }
        BoxKey::Node(n) => {
            if n < st.nodes.len() {
                st.work_units(n).to_vec()
            } else {
                Vec::new()
            }
        }
        BoxKey::Instance(n, k) => st.nodes.get(n).and_then(|ns| ns.instances.get(k).copied()).into_iter().collect(),
    }
}

/// "flash-lite", "3 models", or nothing yet.
fn models_text(models: &[String]) -> Option<String> {
    match models.len() {
        0 => None,
        1 => Some(short_model(&models[0]).to_string()),
        k => Some(format!("{k} models")),
    }
}

/// One side's figures in a compare box: status, model, cost so far, latency, and what is not
/// known of the cost.
struct Side {
    status: Status,
    model: Option<String>,
    cost: Money,
    latency: Option<Duration>,
    unknown: Unknown,
}

/// A side's view of a box.
fn side_figures(app: &App, st: &RunState, key: BoxKey, now: Duration) -> Side {
    let n = key.node();
    if st.nodes.get(n).is_none() {
        return Side { status: Status::Queued, model: None, cost: Money::ZERO, latency: None, unknown: Unknown::default() };
    }
    let units = box_units(app, st, key);
    let sum = st.summary(&units);
    let status = match key {
        BoxKey::Node(_) => st.node_status(n),
        BoxKey::Instance(..) | BoxKey::Group(..) => sum.status,
    };
    let latency = if units.len() == 1 {
        elapsed(&st.units[units[0]], now)
    } else {
        match (sum.start, sum.end) {
            (Some(s), Some(e)) => Some(e.saturating_sub(s)),
            (Some(s), None) => Some(now.saturating_sub(s)),
            _ => None,
        }
    };
    Side { status, model: models_text(&sum.models), cost: sum.cost, latency, unknown: Unknown::of(st, &units) }
}

/// The title of a box and its count, which a narrow box keeps whole: a node's id, `id[k]` for
/// an instance, `id` and ` ×N` for a fan-out group, `kind` and ` ×N` for a folded run.
fn box_title(app: &App, key: BoxKey) -> (String, String) {
    let n = key.node();
    match key {
        BoxKey::Group(_, g) => (app.flow.nodes[n].kind.clone(), format!(" ×{}", app.siblings.members[g].len())),
        BoxKey::Node(_) if app.flow.nodes[n].map.is_some() => {
            (app.flow.nodes[n].id.clone(), format!(" ×{}", app.player.state.nodes.get(n).map_or(0, |x| x.instances.len())))
        }
        BoxKey::Node(_) => (app.flow.nodes[n].id.clone(), String::new()),
        BoxKey::Instance(_, k) => (format!("{}[{k}]", app.flow.nodes[n].id), String::new()),
    }
}

/// A box in compare mode: the baseline and the first other strategy, and the change.
fn compare_content(app: &App, key: BoxKey, critical: &HashSet<BoxKey>, w: usize) -> Content {
    let now = app.player.playhead;
    let sides: Vec<Side> = app.players().take(2).map(|p| side_figures(app, &p.state, key, now)).collect();
    let line = |k: usize| {
        let s = &sides[k];
        let m = s.model.clone().unwrap_or_else(|| s.status.name().to_string());
        // Never $0 for a side whose cost is not known.
        let c = open_cost(s.cost, s.unknown);
        // The side's letter only when the model still fits beside it.
        let left = if m.chars().count() + c.chars().count() + 3 <= w { format!("{} {m}", side_letter(k)) } else { m };
        spread(&left, &c, w)
    };
    let (dc, dl) = (
        sides[1].cost - sides[0].cost,
        match (sides[0].latency, sides[1].latency) {
            (Some(a), Some(b)) => Some(b.as_secs_f64() - a.as_secs_f64()),
            _ => None,
        },
    );
    let t = &app.theme;
    let settled = sides.iter().all(|s| s.status.is_settled());
    // The change in cost is not known when either side's cost is not.
    let open = sides.iter().any(|s| s.unknown.is_open());
    let delta = if settled {
        Some(if open {
            t.dim
        } else if dc < Money::ZERO {
            t.better
        } else if dc > Money::ZERO {
            t.worse
        } else {
            t.dim
        })
    } else {
        None
    };
    let lat = dl.map(|d| format!("{d:+.1}s")).unwrap_or_default();
    let dtext = if open {
        "?".to_string()
    } else if dc.abs() < Money::from_usd(0.001) && !dc.is_zero() {
        "≈$0".to_string()
    } else {
        signed_money(dc)
    };
    let left = if dtext.chars().count() + lat.chars().count() + 3 <= w { format!("Δ {dtext}") } else { dtext };
    let third = if settled { spread(&left, &lat, w) } else { "Δ …".to_string() };
    let status = if sides.iter().any(|s| s.status == Status::Failed) {
        Status::Failed
    } else if sides.iter().all(|s| s.status.is_settled()) {
        sides[0].status
    } else if sides.iter().any(|s| s.status.is_active()) {
        Status::Running
    } else {
        Status::Queued
    };
    let symbols: String = sides.iter().map(|s| status_symbol(s.status)).collect();
    let (title, mark) = box_title(app, key);
    Content {
        title,
        mark,
        status,
        lines: [line(0), line(1), third],
        cost: Some(sides[1].cost),
        cost_unknown: Some(sides[1].unknown),
        critical: critical.contains(&key),
        delta,
        symbols: Some(symbols),
    }
}

fn elapsed(u: &UnitState, now: Duration) -> Option<Duration> {
    match (u.started, u.finished, u.latency) {
        (_, _, Some(l)) => Some(l),
        (Some(s), None, None) => Some(now.saturating_sub(s)),
        _ => None,
    }
}

/// Tokens on the left, cost on the right; the word "tok" goes when space is short.
fn tok_line(toks: u64, right: &str, w: usize) -> String {
    count_line(tokens(toks), right, w)
}

fn count_line(count: String, right: &str, w: usize) -> String {
    let long = format!("{count} tok");
    let left = if long.chars().count() + right.chars().count() < w { long } else { count };
    spread(&left, right, w)
}

/// Model ids without the vendor prefix or a leading version, which a box has no room for:
/// `claude-opus-4-1` → `opus-4-1`, `gemini-2.5-flash-lite` → `flash-lite`.
fn short_model(m: &str) -> &str {
    let m = m.strip_prefix("claude-").or_else(|| m.strip_prefix("gemini-")).unwrap_or(m);
    match m.split_once('-') {
        Some((head, rest)) if !rest.is_empty() && head.chars().all(|c| c.is_ascii_digit() || c == '.') => rest,
        _ => m,
    }
}

/// A signed amount in a box's width: `+$0.0012`, `-$0.052`.
fn signed_money(m: Money) -> String {
    let sign = if m < Money::ZERO { "-" } else { "+" };
    format!("{sign}{}", money(m.abs()))
}

fn unit_content(st: &RunState, ui: usize, now: Duration, w: usize) -> [String; 3] {
    let u = &st.units[ui];
    let node = &st.flow.nodes[u.unit.index()];
    let model = u.model.as_deref().map(short_model).unwrap_or("");
    let line1 = match u.status {
        Status::Queued => format!("{} · cx {}", node.kind, node.complexity),
        Status::Skipped => "skipped".to_string(),
        _ if !u.fallbacks.is_empty() => format!("⇢ {model}"),
        _ => model.to_string(),
    };
    let toks = st.unit_tokens(ui);
    let line2 = match u.status {
        Status::Queued | Status::Skipped => String::new(),
        Status::Waiting => {
            format!("queued {}", crate::tui::fmt::dur(u.waiting.as_ref().map_or(Duration::ZERO, |w| now.saturating_sub(w.0))))
        }
        Status::Cached => tok_line(u.usage.output, "cached", w),
        _ if u.status.is_active() => tok_line(toks, &format!("~{}", money(st.cost_so_far(ui))), w),
        _ if st.unreported(ui) || st.unpriced(ui) => {
            let (count, cost) = figures_text(toks, u.cost.total(), Unknown::of(st, &[ui]));
            count_line(count, &cost, w)
        }
        _ => tok_line(toks, &money(u.cost.total()), w),
    };
    let line3 = match (u.status, elapsed(u, now)) {
        (Status::Skipped, _) => clip(&u.skip.as_ref().map(|r| r.to_string()).unwrap_or_default(), w),
        (Status::Failed, _) => clip(u.error.as_deref().unwrap_or("failed"), w),
        (_, Some(e)) => {
            let right = if !u.retries.is_empty() {
                format!("↻{}", u.retries.len())
            } else {
                st.ttft_so_far(ui).map(|t| format!("ttft {}", dur(t))).unwrap_or_default()
            };
            spread(&dur(e), &right, w)
        }
        _ => String::new(),
    };
    [line1, line2, line3]
}

fn content(app: &App, key: BoxKey, critical: &HashSet<BoxKey>, w: usize) -> Content {
    if !app.others.is_empty() {
        return compare_content(app, key, critical, w);
    }
    let st = app.state();
    let now = app.player.playhead;
    let n = key.node();
    let status = app.box_status(key);
    let fanned = matches!(key, BoxKey::Node(_)) && app.flow.nodes[n].map.is_some() && !st.nodes[n].instances.is_empty();
    if fanned || matches!(key, BoxKey::Group(..)) {
        // Several units as one box: their sum, from the state.
        let units = box_units(app, st, key);
        let sum = st.summary(&units);
        let unknown = Unknown::of(st, &units);
        let (count, cost_text) = figures_text(sum.tokens, sum.cost, unknown);
        let cost_text = if sum.active { format!("~{cost_text}") } else { cost_text };
        let span = match (sum.start, sum.end) {
            (Some(s), Some(e)) => dur(e.saturating_sub(s)),
            (Some(s), None) => dur(now.saturating_sub(s)),
            _ => String::new(),
        };
        let line1 = match (models_text(&sum.models), key) {
            (Some(m), _) => m,
            (None, BoxKey::Group(..)) => format!("{} folded", sum.units),
            (None, _) => String::new(),
        };
        let (title, mark) = box_title(app, key);
        // "154/998 done", or without "done" where the box is narrow.
        let done = format!("{}/{}", sum.settled, sum.units);
        let done = if span.chars().count() + done.chars().count() + 6 <= w { format!("{done} done") } else { done };
        return Content {
            title,
            mark,
            status,
            lines: [line1, count_line(count, &cost_text, w), spread(&span, &done, w)],
            cost: Some(sum.cost),
            cost_unknown: None,
            critical: critical.contains(&key),
            delta: None,
            symbols: None,
        };
    }
    let Some(ui) = app.unit_for_box(key) else {
        return Content {
            title: format!("{}[?]", app.flow.nodes[n].id),
            mark: String::new(),
            status,
            lines: Default::default(),
            cost: None,
            cost_unknown: None,
            critical: false,
            delta: None,
            symbols: None,
        };
    };
    let u = &st.units[ui];
    let title = if app.flow.nodes[n].map.is_some() && matches!(key, BoxKey::Node(_)) {
        format!("{} ×?", app.flow.nodes[n].id)
    } else {
        u.label.clone()
    };
    // After a rerun: did this node get dearer or cheaper than last attempt?
    let mut mark = String::new();
    if let Some(prev) = &app.previous
        && u.status == Status::Done
        && let Some(pi) = prev.units.iter().position(|p| p.label == u.label && p.status.is_settled())
    {
        let was = prev.unit_worth(pi);
        let now_cost = u.cost.total();
        mark = if now_cost > was {
            " ▲"
        } else if now_cost < was {
            " ▼"
        } else {
            " ="
        }
        .to_string();
    }
    Content {
        title,
        mark,
        status,
        lines: unit_content(st, ui, now, w),
        cost: Some(st.cost_so_far(ui)),
        cost_unknown: None,
        critical: critical.contains(&key),
        delta: None,
        symbols: None,
    }
}

/// A title cut to `w` columns with its rerun mark kept whole.
fn titled(c: &Content, w: usize) -> String {
    let mark_w = c.mark.chars().count();
    format!("{}{}", clip(&c.title, w.saturating_sub(mark_w)), c.mark)
}

/// One line for a node in the compact list: status, name, then model, tokens, cost and
/// latency as the width allows.
fn compact_line(app: &App, key: BoxKey, c: &Content, w: usize) -> String {
    let st = app.state();
    let now = app.player.playhead;
    let sym = status_symbol(c.status);
    let (model, toks, lat, unknown) =
        match app.unit_for_box(key).filter(|_| !matches!(key, BoxKey::Node(n) if !st.nodes[n].instances.is_empty())) {
            Some(ui) => {
                let u = &st.units[ui];
                (
                    u.model.as_deref().map(short_model).unwrap_or("").to_string(),
                    st.unit_tokens(ui),
                    elapsed(u, now).map(dur).unwrap_or_default(),
                    Unknown::of(st, &[ui]),
                )
            }
            None => {
                let units = box_units(app, st, key);
                let sum = st.summary(&units);
                let lat = match (sum.start, sum.end) {
                    (Some(s), Some(e)) => dur(e.saturating_sub(s)),
                    (Some(s), None) => dur(now.saturating_sub(s)),
                    _ => String::new(),
                };
                (models_text(&sum.models).unwrap_or_default(), sum.tokens, lat, Unknown::of(st, &units))
            }
        };
    let (toks, cost) = match c.cost {
        // In compare mode the cost is the other side's, and so is what is unknown of it.
        Some(cost) => (figures_text(toks, cost, unknown).0, open_cost(cost, c.cost_unknown.unwrap_or(unknown))),
        None => (tokens(toks), String::new()),
    };
    let name_w = 16.min(w.saturating_sub(4));
    let mut right = format!("{cost:>9} {lat:>6}");
    if w >= 48 {
        right = format!("{toks:>6} {right}");
    }
    if w >= 64 {
        right = format!("{:<16} {right}", clip(&model, 16));
    }
    let head = format!("{sym} {}", titled(c, name_w));
    spread(&head, &right, w)
}

/// Boxes on the critical path, as shown (groups when collapsed).
pub fn critical_boxes(app: &App) -> Vec<BoxKey> {
    let mut out: Vec<BoxKey> = Vec::new();
    for u in app.state().critical_path() {
        let b = app.box_for_unit(u);
        if out.last() != Some(&b) {
            out.push(b);
        }
    }
    out
}

impl Widget for GraphView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let lay = &app.layout;
        let border = Style::default().fg(if self.focused { t.border_focus } else { t.border });
        let title = if app.is_compact() {
            " Graph (compact) "
        } else if lay.dims.list {
            // Too wide or tall for the canvas's coordinates: the layout fell back to the list.
            " Graph (list: too large to draw) "
        } else {
            " Graph "
        };
        ratatui::widgets::Block::bordered().title(title).border_style(border).render(area, buf);
        let inner = Rect::new(area.x + 1, area.y + 1, area.width.saturating_sub(2), area.height.saturating_sub(2));
        if inner.width == 0 || inner.height == 0 {
            return;
        }
        let (px, py) = app.pan;
        let whole = inner;
        // A graph shorter than the view sits in its middle.
        let inner = centered(inner, lay.height);
        let edge = t.dim();

        // Edges.
        for dy in 0..inner.height {
            for dx in 0..inner.width {
                let bits = lay.cell(px + dx, py + dy);
                if bits == 0 {
                    continue;
                }
                let ch = if bits & ARROW != 0 { '▶' } else { glyph(bits) };
                if let Some(c) = buf.cell_mut((inner.x + dx, inner.y + dy)) {
                    c.set_char(ch).set_style(edge);
                }
            }
        }
        // The critical path's edges, drawn over the rest.
        let path = critical_boxes(app);
        let crit: HashSet<BoxKey> = path.iter().copied().collect();
        let cstyle = t.critical();
        for pair in path.windows(2) {
            let (Some(&a), Some(&b)) = (lay.index.get(&pair[0]), lay.index.get(&pair[1])) else { continue };
            for &ri in &lay.incoming[b] {
                let r = &lay.routes[ri];
                if r.from != a {
                    continue;
                }
                for (x, y) in route_cells(&r.points) {
                    if x < px || y < py || x - px >= inner.width || y - py >= inner.height {
                        continue;
                    }
                    if let Some(c) = buf.cell_mut((inner.x + x - px, inner.y + y - py)) {
                        c.set_style(cstyle);
                    }
                }
            }
        }

        // The selection's own edges, over everything: what feeds it and what it feeds, so a
        // node's links stay readable where many edges merge.
        if let Some(&sel) = lay.index.get(&app.selected) {
            let hl = Style::default().fg(t.accent).add_modifier(ratatui::style::Modifier::BOLD);
            for r in lay.routes.iter().filter(|r| r.from == sel || r.to == sel) {
                for (x, y) in route_cells(&r.points) {
                    if x < px || y < py || x - px >= inner.width || y - py >= inner.height {
                        continue;
                    }
                    if let Some(c) = buf.cell_mut((inner.x + x - px, inner.y + y - py)) {
                        c.set_style(hl);
                    }
                }
            }
        }

        // Boxes, visible ones only.
        let max_cost = app.state().units.iter().map(|u| u.cost.total()).max().unwrap_or(Money::ZERO);
        for b in &lay.boxes {
            if b.x + b.w <= px || b.y + b.h <= py || b.x >= px + inner.width || b.y >= py + inner.height {
                continue;
            }
            let w = b.w as usize;
            let c = content(app, b.key, &crit, w.saturating_sub(2));
            let selected = b.key == app.selected;
            let status = t.status(c.status);
            let heat = c.cost.and_then(|m| m.ratio(max_cost)).map(|s| t.heat(s));
            let put = |buf: &mut Buffer, x: u16, y: u16, s: &str, style: Style| {
                // World to screen, clipped to the viewport.
                if y < py || y - py >= inner.height {
                    return;
                }
                for (k, ch) in s.chars().enumerate() {
                    let wx = x + k as u16;
                    if wx < px || wx - px >= inner.width {
                        continue;
                    }
                    if let Some(cell) = buf.cell_mut((inner.x + wx - px, inner.y + y - py)) {
                        cell.set_char(ch).set_style(style);
                    }
                }
            };
            let sel = if selected { t.selected() } else { Style::default() };
            if b.h == 1 {
                put(buf, b.x, b.y, &compact_line(app, b.key, &c, w), status.patch(sel));
                if c.critical {
                    put(buf, b.x + 1, b.y, "★", t.critical().patch(sel));
                }
                if let (Some(h), Some(cost)) = (heat, c.cost) {
                    let r = money(cost);
                    if let Some(pos) = compact_line(app, b.key, &c, w).find(&r).filter(|_| !cost.is_zero()) {
                        let col = compact_line(app, b.key, &c, w)[..pos].chars().count() as u16;
                        put(buf, b.x + col, b.y, &r, Style::default().fg(h).patch(sel));
                    }
                }
                continue;
            }
            let bstyle = if selected {
                Style::default().fg(t.border_focus).add_modifier(Modifier::BOLD)
            } else {
                Style::default().fg(t.status_color(c.status))
            };
            let inner_w = w - 2;
            let head = titled(&c, inner_w.saturating_sub(4));
            let sym = c.symbols.clone().unwrap_or_else(|| status_symbol(c.status).to_string());
            let sym_w = sym.chars().count();
            let fill = inner_w.saturating_sub(head.chars().count() + 2 + sym_w);
            let top = format!("┌{}{head}{}{sym}┐", if c.critical { "★" } else { "─" }, "─".repeat(fill + 1));
            put(buf, b.x, b.y, &top, bstyle);
            put(buf, b.x + 2, b.y, &head, status.add_modifier(Modifier::BOLD).patch(sel));
            if c.critical {
                put(buf, b.x + 1, b.y, "★", t.critical());
            }
            put(buf, b.x + b.w - 1 - sym_w as u16, b.y, &sym, status);
            for (k, line) in c.lines.iter().enumerate() {
                let y = b.y + 1 + k as u16;
                if y >= b.y + b.h - 1 {
                    break;
                }
                put(buf, b.x, y, "│", bstyle);
                let text = format!("{:<inner_w$}", clip(line, inner_w));
                let style = if k == 0 { Style::default().fg(t.fg) } else { t.dim() };
                let style = match (k, c.delta) {
                    (2, Some(color)) => Style::default().fg(color),
                    (1, _) => Style::default().fg(t.fg),
                    _ => style,
                };
                put(buf, b.x + 1, y, &text, style.patch(sel));
                put(buf, b.x + b.w - 1, y, "│", bstyle);
                // The cost at the end of line 2 in its heat colour.
                if k == 1
                    && let (Some(h), Some(cost)) = (heat, c.cost)
                {
                    let r = money(cost);
                    if line.ends_with(&r) && !cost.is_zero() && !line.ends_with(&format!("~{r}")) {
                        put(buf, b.x + 1 + inner_w as u16 - r.chars().count() as u16, y, &r, Style::default().fg(h).patch(sel));
                    }
                }
            }
            let bottom = format!("└{}┘", "─".repeat(inner_w));
            put(buf, b.x, b.y + b.h - 1, &bottom, bstyle);
        }
        super::minimap::draw(app, whole, buf);
    }
}
