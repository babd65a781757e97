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

impl Widget for FrontierView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let c = comparison(app);
        let points: Vec<[(f64, f64); 1]> = c.strategies.iter().map(|s| [(s.cost_usd, s.pass_rate.unwrap_or(1.0) * 100.0)]).collect();
        let max_cost = c.strategies.iter().map(|s| s.cost_usd).fold(0.0, f64::max).max(1e-6) * 1.15;
        let min_q = c.strategies.iter().filter_map(|s| s.pass_rate).fold(1.0, f64::min) * 100.0;
        let lo = (min_q - 10.0).clamp(0.0, 90.0).floor();
        let datasets: Vec<Dataset> = c
            .strategies
            .iter()
            .zip(&points)
            .enumerate()
            .map(|(k, (s, p))| {
                let style =
                    if s.frontier { Style::default().fg(t.critical).add_modifier(Modifier::BOLD) } else { Style::default().fg(t.dim) };
                Dataset::default()
                    .name(format!(
                        "{} {} · {} · {}{}",
                        side_letter(k),
                        s.strategy,
                        money(crate::money::Money::from_usd(s.cost_usd)),
                        dur(std::time::Duration::from_secs_f64(s.latency_ms / 1000.0)),
                        if s.frontier { " ★" } else { "" }
                    ))
                    .marker(Marker::Block)
                    .graph_type(GraphType::Scatter)
                    .style(style)
                    .data(p)
            })
            .collect();
        let x_labels = vec![
            Span::raw("$0"),
            Span::raw(money(crate::money::Money::from_usd(max_cost / 2.0))),
            Span::raw(money(crate::money::Money::from_usd(max_cost))),
        ];
        let y_labels = vec![Span::raw(format!("{lo:.0}%")), Span::raw(format!("{:.0}%", (lo + 100.0) / 2.0)), Span::raw("100%")];
        Chart::new(datasets)
            .block(
                Block::bordered()
                    .title(" Frontier — cost (x) against check pass rate (y); ★ on the Pareto frontier of cost, latency and quality ")
                    .border_style(Style::default().fg(t.border_focus)),
            )
            .x_axis(Axis::default().title("cost").bounds([0.0, max_cost]).labels(x_labels).style(t.dim()))
            .y_axis(Axis::default().title("pass rate").bounds([lo, 100.0]).labels(y_labels).style(t.dim()))
            .legend_position(Some(ratatui::widgets::LegendPosition::BottomRight))
            .hidden_legend_constraints((Constraint::Percentage(90), Constraint::Percentage(60)))
            .render(area, buf);
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
