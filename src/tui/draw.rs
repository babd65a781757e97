//! Drawing: a pure read of the app state into a frame.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::app::{App, Focus, View, speed_label};
use super::fmt::{dur, tokens};
use super::graph::GraphView;
use super::log::LogView;
use super::panel::{PanelView, summary_lines};
use super::timeline::TimelineView;
use crate::state::RunStatus;

pub fn draw(f: &mut Frame, app: &App) {
    let size = f.area();
    let t = &app.theme;
    f.render_widget(Block::default().style(t.base_style()), size);
    let a = app.areas();
    if a.too_small {
        let msg = format!(
            "Baton needs at least {}×{}; this terminal is {}×{}.\nEnlarge it, or press q to quit.",
            super::app::MIN_W,
            super::app::MIN_H,
            size.width,
            size.height
        );
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }).alignment(Alignment::Center), size);
        return;
    }
    let head = if app.others.is_empty() { header(app) } else { super::compare_view::header_line(app) };
    f.render_widget(Paragraph::new(head), a.header);
    if let Some(tabs) = a.tabs {
        f.render_widget(Paragraph::new(tabs_line(app)), tabs);
    }
    let main_focus = app.focus == Focus::Main;
    if a.main.height > 0 {
        match app.view {
            View::Graph => f.render_widget(GraphView { app, focused: main_focus }, a.main),
            View::Timeline => f.render_widget(TimelineView { app, focused: main_focus }, a.main),
            View::Log => f.render_widget(LogView { app, focused: main_focus }, a.main),
            View::Compare => f.render_widget(super::compare_table::CompareView { app }, a.main),
            View::Frontier => f.render_widget(super::compare_view::FrontierView { app }, a.main),
        }
    }
    if let Some(p) = a.panel {
        f.render_widget(PanelView { app, focused: app.focus == Focus::Panel }, p);
    }
    if let Some(s) = a.summary {
        f.render_widget(Paragraph::new(summary_lines(app)), s);
    }
    if let Some(sc) = a.scrub {
        f.render_widget(Paragraph::new(scrub_line(app, sc)), sc);
    }
    if let Some(foot) = a.footer {
        f.render_widget(Paragraph::new(footer(app)), foot);
    }
    let body = Rect::new(0, a.main.y, size.width, a.panel.map_or(a.main.height, |p| p.height.max(a.main.height)));
    if app.editor_open {
        super::tuning::editor_view::draw_editor(f, app, body);
    }
    if let Some(p) = &app.preview {
        let mut lines = super::tuning::editor_view::preview_lines(app, p);
        lines.push(Line::from(Span::styled(" (any key closes this)", t.dim())));
        let h = (lines.len() as u16 + 2).min(body.height);
        let w = body.width.saturating_sub(4).min(110);
        let r = Rect::new((size.width - w) / 2, body.y + body.height.saturating_sub(h), w, h);
        f.render_widget(Clear, r);
        f.render_widget(
            Paragraph::new(lines)
                .block(Block::bordered().title(" What the change does ").border_style(Style::default().fg(t.border_focus)))
                .style(t.base_style()),
            r,
        );
    }
    if app.picker.is_some() {
        super::tuning::editor_view::draw_picker(f, app, body);
    }
    // The optimizer's pane and the run picker (their rooms: tuning/frontier_view.rs, picker.rs).
    if app.frontier.open && !app.editor_open {
        super::tuning::frontier_view::draw_pane(f, app, body);
    }
    if app.runs.is_some() {
        super::picker::draw(f, app, body);
    }
    if app.what_if.is_some() {
        what_if(f, app, size);
    }
    if app.inspect {
        super::inspect::draw(f, app, size);
    }
    if app.help {
        help(f, app, size);
    }
}

pub use super::player::scrub_track;

/// `5 done · 2 skipped · 1 failed / 8 nodes`, leaving out the kinds that did not happen.
pub fn node_counts(tot: &crate::state::Totals) -> String {
    let mut parts = vec![format!("{} done", tot.done + tot.cached)];
    if tot.cached > 0 {
        parts[0].push_str(&format!(" ({} cached)", tot.cached));
    }
    if tot.skipped > 0 {
        parts.push(format!("{} skipped", tot.skipped));
    }
    if tot.failed > 0 {
        parts.push(format!("{} failed", tot.failed));
    }
    format!("{} / {} nodes", parts.join(" · "), tot.units_total)
}

fn scrub_line(app: &App, area: Rect) -> Line<'static> {
    let t = &app.theme;
    let p = &app.player;
    let (_, w) = scrub_track(area, p);
    let total = p.tape_end().max(std::time::Duration::from_millis(1));
    let pos = ((p.playhead.as_secs_f64() / total.as_secs_f64()).clamp(0.0, 1.0) * f64::from(w.saturating_sub(1))).round() as usize;
    let w = w as usize;
    let done: String = "━".repeat(pos);
    let rest: String = "─".repeat(w.saturating_sub(pos + 1));
    Line::from(vec![
        Span::styled(format!(" {} ", dur(p.playhead)), Style::default().fg(t.title)),
        Span::styled(done, Style::default().fg(t.accent)),
        Span::styled(if w > 0 { "●" } else { "" }, Style::default().fg(t.accent).add_modifier(Modifier::BOLD)),
        Span::styled(rest, t.dim()),
        Span::styled(format!(" {}  {}/{} events ", dur(p.tape_end()), p.cursor, p.events.len()), t.dim()),
    ])
}

fn what_if(f: &mut Frame, app: &App, size: Rect) {
    let Some((r, _)) = &app.what_if else { return };
    let t = &app.theme;
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!(" recorded under {}", r.recorded.strategy), t.dim()),
            Span::raw(" → "),
            Span::styled(r.repriced.strategy.clone(), Style::default().fg(t.accent).add_modifier(Modifier::BOLD)),
        ]),
        Line::default(),
        Line::from(format!(
            " cost      {} → {}{}",
            r.recorded.cost_text(),
            r.repriced.cost_text(),
            r.cost_ratio.map(|x| format!("  ({x:.3}×)")).unwrap_or_default()
        )),
        Line::from(format!(
            " critical  {:.2}s → {:.2}s (estimate)",
            r.recorded.critical_path_ms / 1000.0,
            r.repriced.critical_path_ms / 1000.0
        )),
        Line::from(format!(" wall      {:.2}s → {:.2}s (estimate)", r.recorded.wall_ms / 1000.0, r.repriced.wall_ms / 1000.0)),
        Line::default(),
    ];
    for n in &r.nodes {
        let mark = if n.estimated.iter().any(|e| e.starts_with("output")) { "*" } else { " " };
        lines.push(Line::from(format!(
            " {mark}{:<16} {:<22} → {:<22} {:>10} → {:>10}",
            super::fmt::clip(&n.id, 16),
            super::fmt::clip(n.recorded_model.as_deref().unwrap_or("-"), 22),
            super::fmt::clip(n.model.as_deref().unwrap_or("-"), 22),
            n.cost_text(n.recorded_cost_usd),
            n.cost_text(n.cost_usd)
        )));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        " Tokens in are recounted under the new context mode; output length, latency and checks are estimates.",
        t.dim(),
    )));
    lines.push(Line::from(Span::styled(" * output written by another model in the recording. w: next strategy · Esc: close", t.dim())));
    let w = 96.min(size.width.saturating_sub(2));
    let h = (lines.len() as u16 + 2).min(size.height.saturating_sub(2));
    let area = Rect::new((size.width - w) / 2, (size.height - h) / 2, w, h);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(" What if ").border_style(Style::default().fg(t.border_focus)))
            .style(t.base_style()),
        area,
    );
}

fn header(app: &App) -> Line<'static> {
    let t = &app.theme;
    let st = app.state();
    let (status, style) = match st.status {
        RunStatus::NotStarted => ("waiting".to_string(), t.dim()),
        // The whole recording is shown and its run never finished.
        RunStatus::Running if app.player.at_end() => {
            ("interrupted".to_string(), Style::default().fg(t.failed).add_modifier(Modifier::BOLD))
        }
        RunStatus::Running if app.player.paused => ("paused".to_string(), Style::default().fg(t.retrying)),
        RunStatus::Running => ("running".to_string(), Style::default().fg(t.running).add_modifier(Modifier::BOLD)),
        RunStatus::Finished(o) => {
            let c = match o {
                crate::event::Outcome::Completed => t.done,
                crate::event::Outcome::Cancelled => t.retrying,
                _ => t.failed,
            };
            (o.name().to_string(), Style::default().fg(c).add_modifier(Modifier::BOLD))
        }
    };
    let tot = &st.totals;
    let elapsed = if app.player.at_end() { st.wall() } else { app.player.playhead };
    let toks = st.tokens_so_far();
    let budget = match st.strategy.budget {
        Some(b) => format!("budget {:.0}% of {b}", tot.cost.total().ratio(b).unwrap_or(0.0) * 100.0),
        None => "no budget".to_string(),
    };
    let settled = tot.done + tot.cached + tot.skipped + tot.failed;
    let source = match &app.replay {
        Some(r) => {
            format!(" · replay {}", std::path::Path::new(&r.file).file_name().map_or(r.file.clone(), |n| n.to_string_lossy().to_string()))
        }
        None if app.simulated => format!(" · sim seed {}", app.seed),
        None => " · live".to_string(),
    };
    let bold = Style::default().fg(t.title).add_modifier(Modifier::BOLD);
    // A strategy applied since this attempt ran: its figures are not these. On a narrow line
    // the mark shortens before anything else gives way, and never disappears before the name.
    let stale = app.others.is_empty() && !std::sync::Arc::ptr_eq(&app.strategy, &st.strategy);
    let strategy = |long: bool| {
        let mut v = vec![Span::styled(st.strategy.name.clone(), t.dim())];
        if stale {
            let what_if = app.projection.map(|c| format!("what-if {c} · ")).unwrap_or_default();
            let mark = if long {
                format!(" (→ {} applied, not run: {what_if}R reruns)", app.strategy.name)
            } else {
                format!(" → {} not run", app.strategy.name)
            };
            v.push(Span::styled(mark, Style::default().fg(t.retrying)));
        }
        v
    };
    // Segments in order of importance; the least important go first when the line is short.
    let segments: Vec<(u8, Vec<Span<'static>>)> = vec![
        (0, vec![Span::styled(st.flow.name.clone(), bold)]),
        (3, strategy(true)),
        (7, vec![Span::styled(source, t.dim())]),
        (1, vec![Span::styled(status, style), Span::raw(format!(" {}", dur(elapsed)))]),
        (2, {
            let mut v = vec![Span::styled(format!("{}", tot.cost.total()), bold)];
            // A model the catalog lacks is unpriced, never $0.
            let unpriced = st.unpriced_count();
            match unpriced {
                0 => {}
                n if tot.cost.total().is_zero() => v[0] = Span::styled(format!("unpriced ({n} nodes)"), Style::default().fg(t.retrying)),
                n => v.push(Span::styled(format!(" + {n} unpriced"), Style::default().fg(t.retrying))),
            }
            // Nor is a node whose calls came without token counts (one already counted as
            // unpriced is not counted twice; the fold keeps both counts).
            let uncounted = st.uncounted_priced_count();
            match uncounted {
                0 => {}
                n if tot.cost.total().is_zero() && unpriced == 0 => {
                    v[0] = Span::styled(format!("cost unknown ({n} uncounted)"), Style::default().fg(t.retrying));
                }
                n => v.push(Span::styled(format!(" + {n} uncounted"), Style::default().fg(t.retrying))),
            }
            // Until a node settles, a live run's header shows what it expects to spend.
            if let (Some(e), 0) = (app.estimate, settled) {
                v.push(Span::styled(format!(" (est. ~{e})"), t.dim()));
            }
            // After a rerun, like against like: what this attempt spent, and what the whole run
            // is worth from scratch (cached nodes at their original cost) against the same
            // figure for the attempt before.
            if let (Some(prev), true) = (&app.previous, app.player.at_end()) {
                let worth = st.from_scratch();
                if tot.cached > 0 {
                    v.push(Span::styled(format!(" spent · {worth} from scratch"), t.dim()));
                }
                let d = worth - prev.from_scratch();
                let col = if d < crate::money::Money::ZERO {
                    t.better
                } else if d > crate::money::Money::ZERO {
                    t.worse
                } else {
                    t.dim
                };
                v.push(Span::styled(format!(" (Δ {:+} vs attempt {} from scratch)", d, prev.attempt), Style::default().fg(col)));
            }
            v
        }),
        // Done, skipped and failed are different outcomes; "7/7" when three were skipped hid that.
        (4, vec![Span::raw(node_counts(tot))]),
        (5, vec![Span::raw(format!("{} tok", tokens(toks)))]),
        (5, vec![Span::raw(budget)]),
    ];
    let badge = Span::styled(" baton ", Style::default().fg(t.bg).bg(t.accent).add_modifier(Modifier::BOLD));
    let width = app.size.0 as usize;
    let len =
        |segs: &[&(u8, Vec<Span>)]| segs.iter().map(|(_, s)| s.iter().map(|x| x.content.chars().count()).sum::<usize>() + 3).sum::<usize>();
    // The strategy's short form, for when the long one does not fit.
    let short = (3u8, strategy(false));
    // Each segment's form on the line, by its place in `segments`; `None` when it gave way.
    let mut forms: Vec<Option<&(u8, Vec<Span>)>> = segments.iter().map(Some).collect();
    fn shown<'a, 'b>(forms: &[Option<&'a (u8, Vec<Span<'b>>)>]) -> Vec<&'a (u8, Vec<Span<'b>>)> {
        forms.iter().flatten().copied().collect()
    }
    let mut with_badge = true;
    while len(&shown(&forms)) + if with_badge { 8 } else { 0 } > width {
        if with_badge {
            with_badge = false;
            continue;
        }
        let worst = forms.iter().enumerate().filter_map(|(i, f)| f.map(|f| (i, f.0))).filter(|(_, p)| *p > 0).max_by_key(|(_, p)| *p);
        let Some((worst, _)) = worst else { break };
        forms[worst] = None;
    }
    // What gave way may come back, most important first, where it now fits: a long strategy
    // mark going can leave room for the counts that went before it, or for its short form.
    let mut gone: Vec<usize> = (0..segments.len()).filter(|&i| forms[i].is_none()).collect();
    gone.sort_by_key(|&i| segments[i].0);
    for i in gone {
        // `segments[1]` is the strategy's.
        forms[i] = Some(if i == 1 { &short } else { &segments[i] });
        if len(&shown(&forms)) + if with_badge { 8 } else { 0 } > width {
            forms[i] = None;
        }
    }
    let keep = shown(&forms);
    // Still too long: the flow's name gives way.
    let over = len(&keep).saturating_sub(width);
    let mut keep: Vec<(u8, Vec<Span<'static>>)> = keep.into_iter().cloned().collect();
    if over > 0
        && let Some(name) = keep.first_mut().and_then(|s| s.1.first_mut())
    {
        let n = name.content.chars().count();
        name.content = super::fmt::clip(&name.content, n.saturating_sub(over).max(6)).into();
    }
    let mut spans = Vec::new();
    if with_badge {
        spans.push(badge);
        spans.push(Span::raw(" "));
    }
    for (i, (prio, seg)) in keep.into_iter().enumerate() {
        if i > 0 && prio != 7 {
            spans.push(Span::styled(" │ ", t.dim()));
        }
        spans.extend(seg);
    }
    Line::from(spans)
}

fn tabs_line(app: &App) -> Line<'static> {
    let t = &app.theme;
    let mut spans = vec![Span::raw(" ")];
    for (i, v) in app.views().iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" │ ", t.dim()));
        }
        let style =
            if *v == app.view { Style::default().fg(t.accent).add_modifier(Modifier::BOLD | Modifier::UNDERLINED) } else { t.dim() };
        spans.push(Span::styled(v.title().to_string(), style));
    }
    let speed = if app.simulated { format!("   {}", speed_label(app.player.speed)) } else { String::new() };
    spans.push(Span::styled(speed, Style::default().fg(t.title)));
    if app.player.paused {
        spans.push(Span::styled("  ⏸ paused", Style::default().fg(t.retrying)));
    }
    spans.into_iter().collect::<Vec<_>>().into()
}

fn footer(app: &App) -> Line<'static> {
    let t = &app.theme;
    if let Some(m) = &app.message {
        return Line::from(Span::styled(format!(" {m}"), Style::default().fg(t.accent)));
    }
    if let Some(line) = app.search_line() {
        return Line::from(Span::styled(format!(" {line}"), Style::default().fg(t.accent)));
    }
    // The focused mode's keys, from the keymap: a rebinding shows here at once.
    let spans = hint_spans(&app.keymap, app.mode(), t, app.size.0);
    Line::from(spans)
}

/// How far the node panel, the help overlay and the raw exchange overlay can scroll on this
/// screen: their content's height (wrapped) less what fits. The loop stores it after each
/// frame so scrolling stops at the end instead of running past it.
pub fn scroll_limits(app: &App) -> (u16, u16, u16) {
    let a = app.areas();
    let panel = a.panel.map_or(0, |r| {
        let (w, h) = (r.width.saturating_sub(2), r.height.saturating_sub(2));
        let n = Paragraph::new(super::panel::panel_lines(app)).wrap(Wrap { trim: false }).line_count(w);
        u16::try_from(n).unwrap_or(u16::MAX).saturating_sub(h)
    });
    let rows = app.keymap.bindings.iter().filter(|b| b.action.is_some() && !b.keys.is_empty()).count() as u16 + 2;
    let h = (rows + 2).min(app.size.1.saturating_sub(2));
    let inspect = super::inspect::scroll_limit(app, Rect::new(0, 0, app.size.0, app.size.1));
    (panel, rows.saturating_sub(h.saturating_sub(2)), inspect)
}

fn help(f: &mut Frame, app: &App, size: Rect) {
    let t = &app.theme;
    let rows: Vec<(String, String)> = app
        .keymap
        .bindings
        .iter()
        .filter(|b| b.action.is_some() && !b.keys.is_empty())
        .map(|b| (b.keys.join(" / "), b.desc.clone()))
        .collect();
    let kw = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(8);
    let dw = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(20);
    let w = (kw + dw + 6).max(76).min(size.width as usize - 2).max(10) as u16;
    let h = (rows.len() as u16 + 4).min(size.height - 2);
    let area = Rect::new((size.width - w) / 2, (size.height - h) / 2, w, h);
    let mut lines = key_rows(rows, kw, t);
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(" keys come from keymap.toml; rebind them in ~/.config/baton/keymap.toml", t.dim())));
    f.render_widget(Clear, area);
    let title = if lines.len() as u16 + 2 > h { " Keys — j/k scroll, ? closes " } else { " Keys — ? or Esc to close " };
    f.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(title).border_style(Style::default().fg(t.border_focus)))
            .style(t.base_style())
            .scroll((app.help_scroll, 0)),
        area,
    );
}

/// A mode's key hints as footer spans, as many as fit in `width`.
pub fn hint_spans(keymap: &super::keymap::Keymap, mode: super::keymap::Mode, t: &super::theme::Theme, width: u16) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut used = 0;
    for (k, what) in keymap.hints(mode) {
        let w = k.chars().count() + what.chars().count() + 3;
        if used + w > width as usize {
            break;
        }
        used += w;
        spans.push(Span::styled(format!(" {k}"), Style::default().fg(t.accent)));
        spans.push(Span::styled(format!(" {what} "), t.dim()));
    }
    spans
}

/// Help rows: each key, padded to `kw`, then what it does.
pub fn key_rows<D: Into<std::borrow::Cow<'static, str>>>(rows: Vec<(String, D)>, kw: usize, t: &super::theme::Theme) -> Vec<Line<'static>> {
    rows.into_iter()
        .map(|(k, d)| {
            Line::from(vec![Span::styled(format!(" {k:<kw$}  "), Style::default().fg(t.accent).add_modifier(Modifier::BOLD)), Span::raw(d)])
        })
        .collect()
}
