//! Drawing the rules editor, its apply preview, and the model picker used to pin a node.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::tui::app::App;
use crate::tui::fmt::{clip, dur, money};
use crate::tuning::Preview;

pub fn draw_editor(f: &mut Frame, app: &App, area: Rect) {
    let Some(ed) = &app.editor else { return };
    let t = &app.theme;
    f.render_widget(Clear, area);
    let status_h = 3;
    let text_area = Rect::new(area.x, area.y, area.width, area.height.saturating_sub(status_h));
    let status_area = Rect::new(area.x, area.y + text_area.height, area.width, status_h.min(area.height));
    let mut ta = ed.area.clone();
    let dirty = if ed.dirty { " [modified]" } else { "" };
    let border = Style::default().fg(if ed.error.is_some() { t.failed } else { t.border_focus });
    ta.set_block(Block::bordered().title(format!(" Rules: {}{dirty} ", ed.name)).border_style(border));
    ta.set_cursor_line_style(Style::default().add_modifier(Modifier::UNDERLINED));
    f.render_widget(&ta, text_area);
    let lines = match &ed.error {
        Some(e) => vec![
            Line::from(Span::styled(
                format!(" ✗ line {}:{}: {}", e.line, e.col, e.message),
                Style::default().fg(t.failed).add_modifier(Modifier::BOLD),
            )),
            Line::from(Span::styled(
                format!("   {}  (ctrl-g jumps there; the working strategy is unchanged)", e.help.clone().unwrap_or_default()),
                t.dim(),
            )),
        ],
        None => vec![
            Line::from(Span::styled(" ✓ valid", Style::default().fg(t.done))),
            Line::from(Span::styled(" ctrl-r preview and apply · ctrl-s save · esc close (the draft is kept) · ctrl-u undo", t.dim())),
        ],
    };
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), status_area);
    if let Some(p) = &ed.preview {
        draw_preview(f, app, p, area);
    }
}

/// The preview lines, shared with the non-editor quick edits.
pub fn preview_lines(app: &App, p: &Preview) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines = Vec::new();
    if p.changes.is_empty() {
        lines.push(Line::from(" No node changes model; applying changes nothing that ran."));
    } else {
        lines.push(Line::from(Span::styled(
            format!(" {} node(s) change model:", p.changes.len()),
            Style::default().add_modifier(Modifier::BOLD),
        )));
    }
    for c in &p.changes {
        let d = c.cost_after - c.cost_before;
        let col = if d > crate::money::Money::ZERO { t.worse } else { t.better };
        lines.push(Line::from(vec![
            Span::raw(format!("  {:<14} {} → ", clip(&c.unit, 14), clip(&c.from, 22))),
            Span::styled(clip(&c.to, 22), Style::default().fg(t.accent)),
            Span::raw(format!("  {} → ", money(c.cost_before))),
            Span::styled(money(c.cost_after), Style::default().fg(col)),
            Span::styled(format!("  {} → ~{}", c.latency_before.map(dur).unwrap_or_else(|| "-".into()), dur(c.latency_after)), t.dim()),
        ]));
    }
    let d = p.cost_after - p.cost_before;
    let col = if d > crate::money::Money::ZERO { t.worse } else { t.better };
    let ratio = p.cost_after.ratio(p.cost_before).map(|r| format!(" ({r:.2}×)")).unwrap_or_default();
    lines.push(Line::default());
    lines.push(Line::from(vec![
        Span::raw(format!(" projected cost {} → ", p.cost_before)),
        Span::styled(format!("{} ({:+}){ratio}", p.cost_after, d), Style::default().fg(col).add_modifier(Modifier::BOLD)),
    ]));
    lines.push(Line::from(Span::styled(
        " from the last attempt's token counts at the new models' prices; latencies from their profiles",
        t.dim(),
    )));
    lines
}

fn draw_preview(f: &mut Frame, app: &App, p: &Preview, area: Rect) {
    let t = &app.theme;
    let mut lines = preview_lines(app, p);
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        " y apply (then r reruns the selected node and downstream, R the whole flow) · n keep editing",
        Style::default().fg(t.accent),
    )));
    let w = area.width.saturating_sub(4).min(110);
    let h = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let r = Rect::new(area.x + (area.width - w) / 2, area.y + (area.height.saturating_sub(h)) / 2, w, h);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(" Apply? ").border_style(Style::default().fg(t.border_focus)))
            .style(t.base_style()),
        r,
    );
}

pub fn draw_picker(f: &mut Frame, app: &App, area: Rect) {
    let Some(sel) = app.picker else { return };
    let t = &app.theme;
    let cat = &app.catalog;
    let node = &app.flow.nodes[app.selected.node()];
    let mut lines = vec![
        Line::from(Span::styled(
            format!(" Pin '{}' ({}, complexity {}) to:", node.id, node.kind, node.complexity),
            Style::default().add_modifier(Modifier::BOLD),
        )),
        Line::default(),
    ];
    for (i, m) in cat.models.iter().enumerate() {
        let row = format!(
            " {:<24} {:<9} in {:>7} out {:>7}  cap {:>4.1}  {:>5.0} tok/s",
            clip(&m.id, 24),
            m.provider.name(),
            m.prices.input.to_string(),
            m.prices.output.to_string(),
            m.sim.capability,
            m.sim.tokens_per_second
        );
        let style = if i == sel { t.selected() } else { Style::default() };
        lines.push(Line::from(Span::styled(row, style)));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(" j/k choose · enter pin (adds a rule at the top of the strategy) · esc cancel", t.dim())));
    let w = area.width.saturating_sub(4).min(84);
    let h = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let r = Rect::new(area.x + (area.width - w) / 2, area.y + (area.height.saturating_sub(h)) / 2, w, h);
    // Keep the selected model in view on short screens.
    let scroll = (sel as u16 + 3).saturating_sub(h.saturating_sub(4));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .scroll((scroll, 0))
            .block(Block::bordered().title(" Pin to a model ").border_style(Style::default().fg(t.border_focus)))
            .style(t.base_style()),
        r,
    );
}
