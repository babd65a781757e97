//! Compare mode's own views: every node under every strategy with deltas against the baseline,
//! and the frontier chart of cost against quality.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Cell, Chart, Dataset, GraphType, Row, Table, Widget};

use super::app::App;
use super::fmt::{clip, dur, money};
use super::graph::side_letter;
use crate::compare::{Comparison, compare_runs};

/// The comparison of whatever has been played so far.
pub fn comparison(app: &App) -> Comparison {
    let runs: Vec<(&crate::state::RunState, Option<String>)> = app.players().map(|p| (&p.state, None)).collect();
    compare_runs(&runs)
}

pub struct CompareView<'a> {
    pub app: &'a App,
}

impl Widget for CompareView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let c = comparison(app);
        let n = c.strategies.len();
        // Narrow screens drop the times and the token split.
        let wide = area.width >= 120;
        let mut header = vec![Cell::from("NODE")];
        for (k, s) in c.strategies.iter().enumerate() {
            header.push(Cell::from(format!("{} {}", side_letter(k), clip(&s.strategy, 12))));
            header.push(Cell::from("cost"));
            if wide {
                header.push(Cell::from("time"));
            }
            if k > 0 {
                header.push(Cell::from(format!("Δ{}", side_letter(k))));
            }
        }
        if wide {
            header.push(Cell::from("in p/d/h (A)"));
        }
        let delta_style = |d: f64| {
            if d < 0.0 {
                Style::default().fg(t.better)
            } else if d > 0.0 {
                Style::default().fg(t.worse)
            } else {
                t.dim()
            }
        };
        let mut rows: Vec<Row> = c
            .nodes
            .iter()
            .map(|node| {
                let mut cells = vec![Cell::from(clip(&node.id, 16))];
                let base = &node.sides[0];
                for (k, side) in node.sides.iter().enumerate() {
                    cells.push(Cell::from(clip(side.model.as_deref().unwrap_or(side.status), 18)));
                    cells.push(Cell::from(money(crate::money::Money::from_usd(side.cost_usd))));
                    if wide {
                        cells.push(Cell::from(
                            side.latency_ms.map(|m| dur(std::time::Duration::from_secs_f64(m / 1000.0))).unwrap_or_default(),
                        ));
                    }
                    if k > 0 {
                        let d = side.cost_usd - base.cost_usd;
                        cells.push(Cell::from(format!("{:+}", crate::money::Money::from_usd(d))).style(delta_style(d)));
                    }
                }
                if wide {
                    // Every strategy's split, in column order: context modes differ by strategy.
                    let split: Vec<String> = node
                        .sides
                        .iter()
                        .map(|s| format!("{}/{}/{}", s.context_tokens.prompt, s.context_tokens.declared, s.context_tokens.history))
                        .collect();
                    cells.push(Cell::from(split.join(" · ")).style(t.dim()));
                }
                Row::new(cells)
            })
            .collect();
        // Totals.
        let mut total = vec![Cell::from("TOTAL").style(Style::default().add_modifier(Modifier::BOLD))];
        for (k, s) in c.strategies.iter().enumerate() {
            let pass = s.pass_rate.map(|p| format!(" {:.0}%", p * 100.0)).unwrap_or_default();
            total.push(Cell::from(format!("{}{}", if s.frontier { "★ " } else { "" }, pass.trim())).style(Style::default().fg(t.critical)));
            total.push(Cell::from(money(crate::money::Money::from_usd(s.cost_usd))).style(Style::default().add_modifier(Modifier::BOLD)));
            if wide {
                total.push(Cell::from(dur(std::time::Duration::from_secs_f64(s.latency_ms / 1000.0))));
            }
            if k > 0 {
                let r = s.cost_ratio.unwrap_or(1.0);
                total.push(Cell::from(format!("{r:.2}×")).style(delta_style(r - 1.0)));
            }
        }
        if wide {
            let split: Vec<String> = c
                .strategies
                .iter()
                .map(|s| format!("{}/{}/{}", s.context_tokens.prompt, s.context_tokens.declared, s.context_tokens.history))
                .collect();
            total.push(Cell::from(split.join(" · ")));
        }
        rows.push(Row::new(Vec::<Cell>::new()));
        rows.push(Row::new(total));
        let mut widths = vec![Constraint::Length(if wide { 16 } else { 12 })];
        for k in 0..n {
            widths.extend([Constraint::Length(if wide { 18 } else { 14 }), Constraint::Length(9)]);
            if wide {
                widths.push(Constraint::Length(6));
            }
            if k > 0 {
                widths.push(Constraint::Length(10));
            }
        }
        if wide {
            widths.push(Constraint::Min(12));
        }
        let block = Block::bordered()
            .title(" Compare — p/d/h: input tokens from prompt / declared context / history, per strategy in column order ")
            .border_style(Style::default().fg(t.border_focus));
        Table::new(rows, widths)
            .header(Row::new(header).style(Style::default().fg(t.accent).add_modifier(Modifier::BOLD)))
            .block(block)
            .render(area, buf);
    }
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

/// The chart's bounds: x from 0 to a little past the largest, quality from a little below the
/// lowest to 100%.
fn bounds(v: &[(f64, f64)]) -> ([f64; 2], [f64; 2]) {
    let max_x = v.iter().map(|p| p.0).fold(0.0, f64::max).max(1e-6) * 1.15;
    let min_q = v.iter().map(|p| p.1).fold(100.0, f64::min);
    let lo = (min_q - 10.0).clamp(0.0, 90.0).floor();
    ([0.0, max_x], [lo, 100.0])
}

/// Where each side sits in a chart, as fractions of its width (from the left) and height (from
/// the bottom), for picking a point with the mouse.
pub fn plotted(c: &Comparison, latency: bool) -> Vec<(f64, f64)> {
    let v = values(c, latency);
    let (bx, by) = bounds(&v);
    v.iter().map(|p| (p.0 / bx[1], (p.1 - by[0]) / (by[1] - by[0]).max(1e-9))).collect()
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
        let v = values(c, latency);
        let (bx, by) = bounds(&v);
        let line = frontier_line(&v);
        let points: Vec<[(f64, f64); 1]> = v.iter().map(|p| [*p]).collect();
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
                money(crate::money::Money::from_usd(s.cost_usd))
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
                " ★ on the Pareto frontier of cost, latency and quality; the line joins each chart's own · ▶ {} {picked} · ←/→ or a click picks, a applies and runs it",
                side_letter(k)
            );
            buf.set_string(area.x, area.y + area.height - 1, clip(&note, usize::from(area.width)), t.dim());
        }
    }
}

/// The header's comparison: each strategy's cost and time, and the ratio to the baseline.
pub fn header_line(app: &App) -> Line<'static> {
    let t = &app.theme;
    let mut spans = vec![Span::styled(format!(" {} ", app.flow.name), Style::default().fg(t.title).add_modifier(Modifier::BOLD))];
    let base = app.player.state.totals.cost.total();
    let base_t = app.player.state.wall();
    for (k, p) in app.players().enumerate() {
        let st = &p.state;
        let cost = st.totals.cost.total();
        let time = if p.at_end() { st.wall() } else { app.player.playhead };
        spans.push(Span::styled(" │ ", t.dim()));
        spans.push(Span::styled(format!("{} {} ", side_letter(k), st.strategy.name), Style::default().fg(t.accent)));
        spans.push(Span::raw(format!("{cost} {}", dur(time))));
        if k > 0 && p.at_end() && app.player.at_end() {
            let rc = cost.ratio(base).unwrap_or(1.0);
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
            spans.push(Span::styled(format!(" cost ×{rc:.2}"), col(rc)));
            spans.push(Span::styled(" · ".to_string(), t.dim()));
            spans.push(Span::styled(format!("time ×{rt:.2}"), col(rt)));
        }
    }
    Line::from(spans)
}
