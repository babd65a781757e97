//! The timeline: a waterfall of node spans over simulated time, time queued for a provider's
//! slot dotted, time to first token shaded, the critical path marked, the playhead drawn.

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Widget};

use super::app::App;
use super::fmt::{clip, dur};
use super::theme::status_symbol;
use crate::report::listed_units;

pub struct TimelineView<'a> {
    pub app: &'a App,
    pub focused: bool,
}

/// A tick step that gives about `want` ticks over `total`.
fn tick_step(total: Duration, want: u32) -> Duration {
    let raw = total.as_secs_f64() / f64::from(want.max(1));
    let steps = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];
    Duration::from_secs_f64(steps.iter().copied().find(|s| *s >= raw).unwrap_or(3600.0))
}

impl Widget for TimelineView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let st = app.state();
        let border = Style::default().fg(if self.focused { t.border_focus } else { t.border });
        let block = Block::bordered().title(" Timeline ").border_style(border);
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.width < 20 || inner.height < 3 {
            return;
        }
        let rows = listed_units(st);
        let label_w: u16 = 18;
        let bar_x = inner.x + label_w + 1;
        let bar_w = inner.width.saturating_sub(label_w + 1);
        let total = st.wall().max(app.player.playhead).max(Duration::from_millis(1));
        // Leave room after the longest bar for its latency label.
        let span_w = bar_w.saturating_sub(8).max(1);
        let scale = |d: Duration| -> u16 { ((d.as_secs_f64() / total.as_secs_f64()) * f64::from(span_w.saturating_sub(1))).round() as u16 };

        // Axis with ticks.
        let step = tick_step(total, u32::from(bar_w / 12).max(1));
        let mut tick = Duration::ZERO;
        while tick <= total {
            let x = bar_x + scale(tick);
            let label = dur(tick);
            buf.set_string(x, inner.y, "┬", t.dim());
            if x + 1 + label.len() as u16 <= inner.x + inner.width {
                buf.set_string(x + 1, inner.y, &label, t.dim());
            }
            tick += step;
        }

        let crit: Vec<usize> = st.critical_path();
        let sel_rows: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, u)| app.box_for_unit(**u) == app.selected || Some(**u) == app.timeline_unit())
            .map(|(k, _)| k)
            .collect();
        // The last row: spend over time on the same axis (a sparkline), when there is room.
        let spend_row = inner.height >= 8;
        let visible = inner.height.saturating_sub(if spend_row { 2 } else { 1 }) as usize;
        if spend_row {
            let y = inner.y + inner.height - 1;
            let slices = st.spend_over_time(total, usize::from(span_w));
            let peak = slices.iter().copied().max().unwrap_or(crate::money::Money::ZERO);
            const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
            // A node of unknown cost (unpriced, or without token counts) makes the sum a floor.
            let open = if st.unreported_count() > 0 || st.unpriced_count() > 0 { "+?" } else { "" };
            buf.set_string(
                inner.x,
                y,
                format!("{:<w$}", format!(" spend {}{open}", st.totals.cost.total().compact()), w = label_w as usize),
                t.dim(),
            );
            for (k, m) in slices.iter().enumerate() {
                if m.is_zero() {
                    continue;
                }
                let level = m.ratio(peak).map_or(0, |r| ((r * 7.0).round() as usize).min(7));
                buf.set_string(bar_x + k as u16, y, BARS[level].to_string(), Style::default().fg(t.accent));
            }
        }
        let first_sel = sel_rows.first().copied().unwrap_or(0);
        let offset = first_sel.saturating_sub(visible.saturating_sub(1) / 2).min(rows.len().saturating_sub(visible));
        let now = app.player.playhead;
        for (k, &ui) in rows.iter().enumerate().skip(offset).take(visible) {
            let y = inner.y + 1 + (k - offset) as u16;
            let u = &st.units[ui];
            let on_path = crit.contains(&ui);
            let selected = sel_rows.contains(&k);
            let mark = if on_path { "★" } else { " " };
            let label = format!("{}{mark}{}", status_symbol(u.status), clip(&u.label, label_w as usize - 2));
            let mut lstyle = t.status(u.status);
            if selected {
                lstyle = lstyle.patch(t.selected());
            }
            buf.set_string(inner.x, y, format!("{label:<w$}", w = label_w as usize), lstyle);
            if on_path {
                buf.set_string(inner.x + 1, y, "★", t.critical().patch(if selected { t.selected() } else { Style::default() }));
            }
            let Some(start) = u.started else { continue };
            let end = u.finished.unwrap_or(now).max(start);
            let (x0, x1) = (scale(start), scale(end).max(scale(start)));
            // Queued for a slot (never part of a timeout), then waiting for the first token.
            let queued = u.queued + u.waiting.as_ref().map_or(Duration::ZERO, |w| now.saturating_sub(w.0));
            let q = scale(start + queued).min(x1);
            let first = u.ttft.map(|f| scale(start + queued + f).min(x1)).unwrap_or(if u.finished.is_some() { x0 } else { x1 });
            let color = if on_path { t.critical } else { t.status_color(u.status) };
            for x in x0..=x1 {
                let (ch, style) = if x < q {
                    ('·', t.dim())
                } else if x < first {
                    ('░', Style::default().fg(color))
                } else {
                    ('█', Style::default().fg(color))
                };
                buf.set_string(bar_x + x, y, ch.to_string(), style);
            }
            if let Some(l) = u.latency {
                let text = format!(" {}", dur(l));
                let tx = bar_x + x1 + 1;
                if tx + text.len() as u16 <= inner.x + inner.width {
                    buf.set_string(tx, y, &text, t.dim());
                }
            }
        }
        // The playhead.
        if !app.player.at_end() {
            let x = bar_x + scale(now);
            for y in inner.y + 1..inner.y + 1 + visible as u16 {
                if let Some(c) = buf.cell_mut((x, y))
                    && c.symbol() == " "
                {
                    c.set_char('┊').set_style(Style::default().fg(t.accent).add_modifier(Modifier::DIM));
                }
            }
        }
    }
}
