//! Compare mode's own views: every node under every strategy with deltas against the baseline,
//! and the frontier chart of cost against quality.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Widget};

use super::app::App;
use super::fmt::{Unknown, clip, dur, money, open_cost};
use super::graph::side_letter;
use crate::compare::{Comparison, compare_runs};

/// The comparison of whatever has been played so far.
pub fn comparison(app: &App) -> Comparison {
    let runs: Vec<(&crate::state::RunState, Option<String>)> = app.players().map(|p| (&p.state, None)).collect();
    compare_runs(&runs)
}

pub struct FrontierView<'a> {
    pub app: &'a App,
}

/// The two charts' areas: cost against quality, then latency against quality; side by side
/// when there is room for both, one above the other otherwise.
pub fn chart_areas(area: Rect) -> [Rect; 2] {
    if area.width >= 120 || area.height < 16 {
        let w = area.width / 2;
        [Rect { width: w, ..area }, Rect { x: area.x + w, width: area.width - w, ..area }]
    } else {
        let h = area.height / 2;
        [Rect { height: h, ..area }, Rect { y: area.y + h, height: area.height - h, ..area }]
    }
}

/// Each side's (x, quality) for a chart: x is cost, or latency in seconds.
fn values(c: &Comparison, latency: bool) -> Vec<(f64, f64)> {
    c.strategies.iter().map(|s| (if latency { s.latency_ms / 1000.0 } else { s.cost_usd }, s.pass_rate.unwrap_or(1.0) * 100.0)).collect()
}

/// A chart's x and quality bounds.
type Bounds = ([f64; 2], [f64; 2]);

/// The chart's bounds: x from 0 to a little past the largest, quality from a little below the
/// lowest to 100%.
fn bounds(v: &[(f64, f64)]) -> Bounds {
    let max_x = v.iter().map(|p| p.0).fold(0.0, f64::max).max(1e-6) * 1.15;
    let min_q = v.iter().map(|p| p.1).fold(100.0, f64::min);
    let lo = (min_q - 10.0).clamp(0.0, 90.0).floor();
    ([0.0, max_x], [lo, 100.0])
}

/// Each side's (x, quality) on a chart, `None` for a side the chart leaves out, and the
/// chart's bounds over the rest. The cost chart leaves out a side whose cost is not known: at
/// its priced part it would look cheap.
fn placed(c: &Comparison, latency: bool) -> (Vec<Option<(f64, f64)>>, Bounds) {
    let v: Vec<Option<(f64, f64)>> =
        values(c, latency).into_iter().zip(&c.strategies).map(|(p, s)| (latency || s.cost_known()).then_some(p)).collect();
    let shown: Vec<(f64, f64)> = v.iter().flatten().copied().collect();
    let b = bounds(&shown);
    (v, b)
}

/// Where each side sits in a chart, as fractions of its width (from the left) and height (from
/// the bottom), for picking a point with the mouse; `None` for a side the chart leaves out.
pub fn plotted(c: &Comparison, latency: bool) -> Vec<Option<(f64, f64)>> {
    let (v, (bx, by)) = placed(c, latency);
    v.iter().map(|p| p.map(|p| (p.0 / bx[1], (p.1 - by[0]) / (by[1] - by[0]).max(1e-9)))).collect()
}

/// The points no other beats on both this chart's x (lower is better) and quality, cheapest
/// first: the chart's own Pareto frontier, drawn as a line.
fn frontier_line(v: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut front: Vec<(f64, f64)> =
        v.iter().filter(|&&(x, q)| !v.iter().any(|&(x2, q2)| x2 <= x && q2 >= q && (x2 < x || q2 > q))).copied().collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    front.dedup();
    front
}

impl FrontierView<'_> {
    fn chart(&self, c: &Comparison, latency: bool, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let pick = app.frontier.compare_pick;
        // A side left out is listed in the legend, with no point.
        let (v, (bx, by)) = placed(c, latency);
        let shown: Vec<(f64, f64)> = v.iter().flatten().copied().collect();
        let line = frontier_line(&shown);
        let points: Vec<Vec<(f64, f64)>> = v.iter().map(|p| p.iter().copied().collect()).collect();
        let mut datasets: Vec<Dataset> = vec![
            Dataset::default()
                .name("── Pareto frontier")
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(t.critical))
                .data(&line),
        ];
        datasets.extend(c.strategies.iter().zip(&points).enumerate().map(|(k, (s, p))| {
            let mut style =
                if s.frontier { Style::default().fg(t.critical).add_modifier(Modifier::BOLD) } else { Style::default().fg(t.dim) };
            if k == pick {
                style = Style::default().fg(t.selection).add_modifier(Modifier::BOLD | Modifier::REVERSED);
            }
            let x = if latency {
                dur(std::time::Duration::from_secs_f64(s.latency_ms / 1000.0))
            } else {
                open_cost(crate::money::Money::from_usd(s.cost_usd), Unknown::of_side(s))
            };
            Dataset::default()
                .name(format!(
                    "{}{} {} · {}{}",
                    if k == pick { "▶ " } else { "" },
                    side_letter(k),
                    clip(&s.strategy, 16),
                    x,
                    if s.frontier { " ★" } else { "" }
                ))
                .marker(if k == pick { Marker::Block } else { Marker::Dot })
                .graph_type(GraphType::Scatter)
                .style(style)
                .data(p)
        }));
        let label = |x: f64| if latency { dur(std::time::Duration::from_secs_f64(x)) } else { money(crate::money::Money::from_usd(x)) };
        let x_labels = vec![Span::raw(label(0.0)), Span::raw(label(bx[1] / 2.0)), Span::raw(label(bx[1]))];
        let lo = by[0];
        let y_labels = vec![Span::raw(format!("{lo:.0}%")), Span::raw(format!("{:.0}%", (lo + 100.0) / 2.0)), Span::raw("100%")];
        let title = if latency { " Latency (x) against pass rate (y) " } else { " Cost (x) against pass rate (y) " };
        Chart::new(datasets)
            .block(Block::bordered().title(title).border_style(Style::default().fg(t.border_focus)))
            .x_axis(Axis::default().title(if latency { "time" } else { "cost" }).bounds(bx).labels(x_labels).style(t.dim()))
            .y_axis(Axis::default().title("pass").bounds(by).labels(y_labels).style(t.dim()))
            .legend_position(Some(ratatui::widgets::LegendPosition::BottomRight))
            .hidden_legend_constraints((Constraint::Percentage(90), Constraint::Percentage(70)))
            .render(area, buf);
    }
}

impl Widget for FrontierView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let c = comparison(self.app);
        let t = &self.app.theme;
        // One line under the charts says what is marked and how to pick.
        let note_h = u16::from(area.height > 8);
        let charts = Rect { height: area.height - note_h, ..area };
        let [a, b] = chart_areas(charts);
        self.chart(&c, false, a, buf);
        self.chart(&c, true, b, buf);
        if note_h > 0 {
            let k = self.app.frontier.compare_pick.min(c.strategies.len().saturating_sub(1));
            let picked = c.strategies.get(k).map(|s| s.strategy.clone()).unwrap_or_default();
            let note = format!(
                " ▶ {} {picked} · ←/→ or a click picks, a applies and runs it · ★ Pareto frontier of cost, latency and quality; the line: each chart's own",
                side_letter(k)
            );
            buf.set_string(area.x, area.y + area.height - 1, clip(&note, usize::from(area.width)), t.dim());
        }
    }
}

/// The header's comparison: each strategy's cost and time, and the ratio to the baseline. When
/// it does not fit the screen it gives way in steps: the flow's name goes, then the time ratio
/// is shortened, then strategy names are clipped, so every side's cost stays in view.
pub fn header_line(app: &App) -> Line<'static> {
    let width = usize::from(app.size.0);
    let mut line = Line::default();
    for step in 0..4 {
        line = header_at(app, step);
        if line.width() <= width {
            break;
        }
    }
    line
}

fn header_at(app: &App, step: u8) -> Line<'static> {
    let t = &app.theme;
    let mut spans = Vec::new();
    if step == 0 {
        spans.push(Span::styled(format!(" {} ", app.flow.name), Style::default().fg(t.title).add_modifier(Modifier::BOLD)));
    }
    let base = app.player.state.totals.cost.total();
    let base_t = app.player.state.wall();
    // The fold's counts, kept as events arrive: no pass over the units.
    let base_open = app.player.state.totals.unpriced + app.player.state.totals.unreported > 0;
    for (k, p) in app.players().enumerate() {
        let st = &p.state;
        let cost = st.totals.cost.total();
        let time = if p.at_end() { st.wall() } else { app.player.playhead };
        spans.push(Span::styled(if k == 0 && step > 0 { " " } else { " │ " }, t.dim()));
        let name = if step >= 3 { clip(&st.strategy.name, 8) } else { st.strategy.name.clone() };
        spans.push(Span::styled(format!("{} {name} ", side_letter(k)), Style::default().fg(t.accent)));
        // Never $0 for a side whose cost is not known (worded as the command's reports do),
        // nor a ratio to one.
        // Counted once: a unit whose cost is not known is unpriced or uncounted, not both.
        let (unpriced, uncounted) = (st.unpriced_count() as u64, st.uncounted_priced_count() as u64);
        let open = base_open || unpriced + uncounted > 0;
        spans.push(Span::raw(format!("{} {}", crate::report::cost_text(cost, unpriced, uncounted), dur(time))));
        if k > 0 && p.at_end() && app.player.at_end() {
            let rc = if open { None } else { cost.ratio(base) };
            let rt = st.wall().as_secs_f64() / base_t.as_secs_f64().max(1e-9);
            let col = |r: f64| {
                Style::default().fg(if r < 1.0 {
                    t.better
                } else if r > 1.0 {
                    t.worse
                } else {
                    t.dim
                })
            };
            match rc {
                Some(rc) => spans.push(Span::styled(format!(" cost ×{rc:.2}"), col(rc))),
                // Unknown, or a baseline that cost nothing.
                None => spans.push(Span::styled(if open { " cost ×?" } else { " cost ×-" }.to_string(), t.dim())),
            }
            if step >= 2 {
                spans.push(Span::styled(format!(" t×{rt:.2}"), col(rt)));
            } else {
                spans.push(Span::styled(" · ".to_string(), t.dim()));
                spans.push(Span::styled(format!("time ×{rt:.2}"), col(rt)));
            }
        }
    }
    Line::from(spans)
}
