//! Drawing the optimizer's pane: what the search has done so far (candidates, model calls and
//! their cost, time), the strategy it started from as measured, and the frontier, one row per
//! point, cheapest first, with the highlighted point's assignment spelled out.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::money::Money;
use crate::optimize::{Figures, Point};
use crate::tui::app::App;
use crate::tui::fmt::{clip, dur};

/// One figure line: cost per 1000 tasks, quality with its interval, median latency.
fn figures(f: &Figures) -> String {
    format!(
        "{:>10}/1000 · {:<22} · p50 {}",
        Money::from_usd(f.cost_per_1000_usd).to_string(),
        f.quality.label(),
        dur(std::time::Duration::from_secs_f64(f.latency_p50_ms / 1000.0))
    )
}

/// The pane's three parts: the head (task set, progress, the starting strategy as measured,
/// the column titles), one row per frontier point, and the highlighted point's assignment.
pub struct PaneLines {
    pub head: Vec<Line<'static>>,
    pub rows: Vec<Line<'static>>,
    pub detail: Vec<Line<'static>>,
}

pub fn pane_lines(app: &App, width: u16) -> PaneLines {
    let t = &app.theme;
    let f = &app.frontier;
    let w = usize::from(width.saturating_sub(2));
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut head = Vec::new();
    let mut rows = Vec::new();
    let mut detail = Vec::new();
    let tasks = f.tasks.as_ref().map_or_else(|| "no task set".to_string(), |ts| format!("{} ({} tasks)", ts.name, ts.tasks.len()));
    head.push(Line::from(vec![Span::styled(" tasks ", t.dim()), Span::raw(clip(&tasks, w.saturating_sub(7)))]));
    if f.confirm_live && !f.running {
        head.push(Line::from(Span::styled(
            " A live search calls the real models of the catalog: each task × node × model at most once.",
            Style::default().fg(t.worse),
        )));
        head.push(Line::from(Span::styled(" F starts it · esc closes this", t.dim())));
        return PaneLines { head, rows, detail };
    }
    let state = if f.running {
        Span::styled(" searching ", Style::default().fg(t.running).add_modifier(Modifier::BOLD))
    } else if f.error.is_some() {
        Span::styled(" failed ", Style::default().fg(t.failed).add_modifier(Modifier::BOLD))
    } else if f.outcome.is_some() {
        Span::styled(" done ", Style::default().fg(t.done).add_modifier(Modifier::BOLD))
    } else {
        Span::styled(" not started ", t.dim())
    };
    let mut status = vec![state];
    match (&f.outcome, &f.progress) {
        (Some(o), _) => {
            let s = &o.stats;
            status.push(Span::raw(clip(
                &format!(
                    "{} candidates · frontier {} · {} model calls ({}, {}) · {}",
                    s.candidates,
                    o.frontier.len(),
                    s.model_calls,
                    Money::from_usd(s.spent_usd),
                    o.provider,
                    dur(std::time::Duration::from_secs_f64(s.wall_ms / 1000.0)),
                ),
                w.saturating_sub(12),
            )));
        }
        (None, Some(p)) => status.push(Span::raw(clip(
            &format!(
                "{} candidates · frontier {} · {} model calls ({}) · {}",
                p.candidates,
                p.frontier.len(),
                p.calls,
                p.spent,
                dur(p.elapsed)
            ),
            w.saturating_sub(12),
        ))),
        (None, None) => {}
    }
    head.push(Line::from(status));
    if let Some(e) = &f.error {
        head.push(Line::from(Span::styled(format!(" {}", clip(e, w.saturating_sub(1))), Style::default().fg(t.failed))));
    }
    if let Some(o) = &f.outcome {
        let s = &o.stats;
        head.push(Line::from(Span::styled(
            clip(
                &format!(
                    " {} search tasks, {} held out · exhaustive: {:.1e} assignments, ~{:.1e} calls{}",
                    o.search_tasks,
                    o.held_out_tasks,
                    s.exhaustive_assignments,
                    s.exhaustive_calls,
                    s.stopped.as_ref().map(|x| format!(" · stopped: {x}")).unwrap_or_default()
                ),
                w,
            ),
            t.dim(),
        )));
        for r in &o.references {
            head.push(Line::from(vec![
                Span::styled(format!(" {} as written ", clip(&r.strategy, 20)), Style::default().fg(t.accent)),
                Span::raw(clip(&figures(&r.search), w.saturating_sub(r.strategy.chars().count().min(20) + 12))),
            ]));
        }
    } else if let Some(from) = &f.started_from {
        head.push(Line::from(Span::styled(format!(" from {from}; the frontier so far:"), t.dim())));
    }
    head.push(Line::from(Span::styled(
        clip(&format!("   {:>3} {:>15} · {:<22} · {:<8} {}", "#", "cost", "quality (search set)", "latency", "held out"), w),
        Style::default().fg(t.accent).add_modifier(Modifier::BOLD),
    )));
    let points: &[Point] = f.points();
    if points.is_empty() {
        rows.push(Line::from(Span::styled(if f.running { "   (the first candidates are being measured)" } else { "   (none)" }, t.dim())));
    }
    for (i, p) in points.iter().enumerate() {
        let sel = i == f.selected;
        let held = p.held_out.as_ref().map(|h| h.quality.label()).unwrap_or_default();
        let mark = if f.suggested == Some(i) && f.outcome.is_some() {
            format!("  ◆ the cheapest at least as good as {}", f.started_from.as_deref().unwrap_or("the start"))
        } else {
            String::new()
        };
        let text = format!(" {} {:>3} {} {}{}", if sel { "▶" } else { " " }, i + 1, figures(&p.search), held, mark);
        let style = if sel { Style::default().fg(t.selection).add_modifier(Modifier::BOLD) } else { Style::default() };
        rows.push(Line::from(Span::styled(clip(&text, w), style)));
    }
    if let Some(p) = points.get(f.selected) {
        detail.push(Line::from(Span::styled(format!(" point {} ({}):", f.selected + 1, p.origin), bold)));
        let slots =
            f.outcome.as_ref().map_or_else(|| crate::optimize::space::slots(&app.flow, crate::optimize::Per::Node), |o| o.slots.clone());
        let parts: Vec<String> = p
            .assignment
            .iter()
            .enumerate()
            .map(|(k, c)| format!("{} → {}", slots.get(k).map_or_else(|| format!("#{}", k + 1), |s| s.label.clone()), c.label()))
            .collect();
        // As many per line as fit.
        let mut line = String::from("  ");
        for part in parts {
            if line.chars().count() + part.chars().count() + 3 > w && !line.trim().is_empty() {
                detail.push(Line::from(std::mem::replace(&mut line, String::from("  "))));
            }
            line.push_str(&format!(" {part} ·"));
        }
        detail.push(Line::from(clip(line.trim_end_matches('·').trim_end(), w)));
    }
    PaneLines { head, rows, detail }
}

/// The pane, over the body of the screen: the head and the highlighted point's assignment stay
/// put; the rows scroll to keep the highlighted one in view.
pub fn draw_pane(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let w = area.width.saturating_sub(2).clamp(20, 120);
    let r = Rect::new(area.x + (area.width.saturating_sub(w)) / 2, area.y, w.min(area.width), area.height);
    let PaneLines { head, rows, detail } = pane_lines(app, r.width);
    f.render_widget(Clear, r);
    let title = format!(
        " Search — {} · {} ",
        app.flow.name,
        if app.frontier.running { "esc stops it (keeps the frontier so far)" } else { "a applies the highlighted point · esc closes" }
    );
    let block =
        Block::bordered().title(clip(&title, usize::from(r.width.saturating_sub(2)))).border_style(Style::default().fg(t.border_focus));
    let inner = block.inner(r);
    f.render_widget(block.style(t.base_style()), r);
    let head_h = (head.len() as u16).min(inner.height);
    let detail_h = (detail.len() as u16).min(inner.height.saturating_sub(head_h + 3));
    let rows_h = inner.height.saturating_sub(head_h + detail_h);
    f.render_widget(Paragraph::new(head), Rect { height: head_h, ..inner });
    let sel = app.frontier.selected;
    let scroll = (sel + 1).saturating_sub(usize::from(rows_h)) as u16;
    f.render_widget(Paragraph::new(rows).scroll((scroll, 0)), Rect { y: inner.y + head_h, height: rows_h, ..inner });
    f.render_widget(Paragraph::new(detail), Rect { y: inner.y + head_h + rows_h, height: detail_h, ..inner });
}
