//! Compare mode's table: every node under every strategy, with deltas against the baseline and
//! the totals, laid out so the key figures (cost, Δ, ratio, pass rate) are never cut: columns
//! take the width their content needs, and when the screen is narrower the token split goes
//! first, then the times, then model and node names are shortened.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Cell, Row, Table, Widget};

use super::app::App;
use super::compare_view::comparison;
use super::fmt::{Unknown, clip, dur, open_cost};
use super::graph::side_letter;
use crate::money::Money;

pub struct CompareView<'a> {
    pub app: &'a App,
}

/// One column: its title, its cells (one per node row, then the totals row), and how it gives
/// way when space is short.
struct Col {
    head: String,
    cells: Vec<(String, Style)>,
    /// 0: always shown; higher goes first when the screen is too narrow.
    drop: u8,
    /// The narrowest it may be clipped to (its full width when it may not be clipped).
    min: usize,
}

impl Col {
    fn new(head: impl Into<String>, drop: u8) -> Col {
        Col { head: head.into(), cells: Vec::new(), drop, min: usize::MAX }
    }
    fn clippable(mut self, min: usize) -> Col {
        self.min = min;
        self
    }
    fn width(&self) -> usize {
        self.cells.iter().map(|(c, _)| c.chars().count()).chain(std::iter::once(self.head.chars().count())).max().unwrap_or(0)
    }
}

/// Which columns to show and how wide, for `avail` cells (one space between columns).
fn fit(cols: &[Col], avail: usize) -> Vec<(usize, usize)> {
    let mut shown: Vec<(usize, usize)> = cols.iter().enumerate().map(|(i, c)| (i, c.width())).collect();
    let total = |s: &[(usize, usize)]| s.iter().map(|(_, w)| w).sum::<usize>() + s.len().saturating_sub(1);
    // The token split goes first; then names are shortened to a dozen cells before the times
    // go; then names are shortened as far as they may be.
    if total(&shown) > avail {
        shown.retain(|(i, _)| cols[*i].drop != 1);
    }
    shrink(cols, &mut shown, avail, 12);
    if total(&shown) > avail {
        shown.retain(|(i, _)| cols[*i].drop != 2);
    }
    shrink(cols, &mut shown, avail, 0);
    shown
}

/// Shortens the clippable columns, the widest first, a cell at a time, to no less than `floor`
/// (or their own minimum), until the row fits.
fn shrink(cols: &[Col], shown: &mut [(usize, usize)], avail: usize, floor: usize) {
    let total = |s: &[(usize, usize)]| s.iter().map(|(_, w)| w).sum::<usize>() + s.len().saturating_sub(1);
    while total(shown) > avail {
        let Some(k) = (0..shown.len()).filter(|&k| shown[k].1 > cols[shown[k].0].min.max(floor)).max_by_key(|&k| shown[k].1) else {
            break;
        };
        shown[k].1 -= 1;
    }
}

impl Widget for CompareView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let c = comparison(app);
        let delta_style = |d: f64| {
            if d < 0.0 {
                Style::default().fg(t.better)
            } else if d > 0.0 {
                Style::default().fg(t.worse)
            } else {
                t.dim()
            }
        };
        let plain = Style::default();
        let bold = Style::default().add_modifier(Modifier::BOLD);
        let mut cols = vec![Col::new("NODE", 0).clippable(8)];
        for n in &c.nodes {
            cols[0].cells.push((n.id.clone(), plain));
        }
        cols[0].cells.push(("TOTAL".into(), bold));
        for (k, s) in c.strategies.iter().enumerate() {
            let mut model = Col::new(format!("{} {}", side_letter(k), s.strategy), 0).clippable(7);
            let mut cost = Col::new("cost", 0);
            let mut time = Col::new("time", 2);
            let mut delta = Col::new(format!("Δ{}", side_letter(k)), 0);
            for n in &c.nodes {
                let side = &n.sides[k];
                model.cells.push((side.model.clone().unwrap_or_else(|| side.status.to_string()), plain));
                // Never $0 for a node whose cost is not known, nor a change in it.
                let unknown = Unknown::of_cell(side);
                cost.cells.push((open_cost(Money::from_usd(side.cost_usd), unknown), plain));
                time.cells.push((side.latency_ms.map(|m| dur(std::time::Duration::from_secs_f64(m / 1000.0))).unwrap_or_default(), plain));
                if unknown.is_open() || Unknown::of_cell(&n.sides[0]).is_open() {
                    delta.cells.push(("?".into(), t.dim()));
                } else {
                    let d = side.cost_usd - n.sides[0].cost_usd;
                    delta.cells.push((format!("{:+}", Money::from_usd(d)), delta_style(d)));
                }
            }
            let pass = s.pass_rate.map(|p| format!("{:.0}%", p * 100.0)).unwrap_or_default();
            model.cells.push((format!("{}{pass}", if s.frontier { "★ " } else { "" }), Style::default().fg(t.critical)));
            cost.cells.push((open_cost(Money::from_usd(s.cost_usd), Unknown::of_side(s)), bold));
            time.cells.push((dur(std::time::Duration::from_secs_f64(s.latency_ms / 1000.0)), plain));
            // No ratio when either cost is not known (`?`) or the baseline's is zero (`-`).
            match s.cost_ratio {
                Some(r) => delta.cells.push((format!("{r:.2}×"), delta_style(r - 1.0))),
                None if s.cost_known() && c.strategies[0].cost_known() => delta.cells.push(("-".into(), t.dim())),
                None => delta.cells.push(("?".into(), t.dim())),
            }
            cols.extend([model, cost, time]);
            if k > 0 {
                cols.push(delta);
            }
        }
        // Every strategy's split, in column order: context modes differ by strategy.
        let mut split = Col::new("in p/d/h", 1).clippable(8);
        let fmt_split = |r: &crate::report::ContextReport| format!("{}/{}/{}", r.prompt, r.declared, r.history);
        for n in &c.nodes {
            split.cells.push((n.sides.iter().map(|s| fmt_split(&s.context_tokens)).collect::<Vec<_>>().join(" · "), t.dim()));
        }
        split.cells.push((c.strategies.iter().map(|s| fmt_split(&s.context_tokens)).collect::<Vec<_>>().join(" · "), plain));
        cols.push(split);

        let shown = fit(&cols, usize::from(area.width.saturating_sub(2)));
        let rows_n = c.nodes.len() + 1;
        let mut rows: Vec<Row> = (0..rows_n)
            .map(|r| {
                Row::new(shown.iter().map(|&(i, w)| {
                    let (text, style) = &cols[i].cells[r];
                    Cell::from(clip(text, w)).style(*style)
                }))
            })
            .collect();
        // A blank line before the totals.
        let total = rows.pop();
        rows.push(Row::new(Vec::<Cell>::new()));
        rows.extend(total);
        let header = Row::new(shown.iter().map(|&(i, w)| Cell::from(clip(&cols[i].head, w))))
            .style(Style::default().fg(t.accent).add_modifier(Modifier::BOLD));
        let widths: Vec<Constraint> = shown.iter().map(|&(_, w)| Constraint::Length(w as u16)).collect();
        let dropped: Vec<&str> = [(2u8, "times"), (1, "token split")]
            .into_iter()
            .filter(|(rank, _)| cols.iter().any(|c| c.drop == *rank) && !shown.iter().any(|&(i, _)| cols[i].drop == *rank))
            .map(|(_, what)| what)
            .collect();
        let title = if dropped.is_empty() {
            " Compare — p/d/h: input tokens from prompt / declared context / history, per strategy in column order ".to_string()
        } else {
            format!(" Compare — {} left out to fit; a wider terminal shows them ", dropped.join(" and "))
        };
        let block = Block::bordered()
            .title(clip(&title, usize::from(area.width.saturating_sub(2))))
            .border_style(Style::default().fg(t.border_focus));
        Table::new(rows, widths).header(header).column_spacing(1).block(block).render(area, buf);
    }
}
