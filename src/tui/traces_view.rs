//! Drawing `baton watch`'s screen: the list of traces, or the open trace through the ordinary
//! [`draw`](super::draw::draw). A pure read of [`Watching`]; every figure comes from a row's
//! fold.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::fmt::{clip, dur, tokens};
use super::keymap::Action;
use super::traces::{FIRST_ROW_Y, Row, RowStatus, Watching};
use crate::event::Outcome;
use crate::state::RunStatus;

pub fn draw(f: &mut Frame, w: &Watching) {
    if let Some(app) = &w.open {
        super::draw::draw(f, app);
        return;
    }
    let size = f.area();
    let t = &w.theme;
    f.render_widget(Block::default().style(t.base_style()), size);
    if size.width < super::app::MIN_W || size.height < 6 {
        let msg = format!("baton watch needs at least {}×6; this terminal is {}×{}.", super::app::MIN_W, size.width, size.height);
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }).alignment(Alignment::Center), size);
        return;
    }
    f.render_widget(Paragraph::new(header(w)), Rect::new(0, 0, size.width, 1));
    let cols = Columns::for_width(size.width);
    f.render_widget(
        Paragraph::new(Line::from(Span::styled(cols.heading(), t.dim().add_modifier(Modifier::BOLD)))),
        Rect::new(0, 1, size.width, 1),
    );
    let body = Rect::new(0, FIRST_ROW_Y, size.width, size.height.saturating_sub(FIRST_ROW_Y + 1));
    if w.rows.is_empty() {
        f.render_widget(Paragraph::new(waiting(w)).wrap(Wrap { trim: false }), body);
    } else {
        let sel = w.selected_index();
        let first = w.first_visible();
        let lines: Vec<Line> =
            w.ordered().enumerate().skip(first).take(body.height as usize).map(|(i, r)| row_line(w, r, &cols, sel == Some(i))).collect();
        f.render_widget(Paragraph::new(lines), body);
    }
    f.render_widget(Paragraph::new(footer(w)), Rect::new(0, size.height - 1, size.width, 1));
    if w.help {
        help(f, w, size);
    }
}

/// Column widths for a screen width: the name takes what is left; narrow screens drop the
/// trace id, then time to first token.
struct Columns {
    name: usize,
    id: bool,
    ttft: bool,
}

impl Columns {
    const STATUS: usize = 9;
    const FIXED: usize = 1 + Self::STATUS + 6 + 6 + 8 + 18 + 8;

    fn for_width(w: u16) -> Columns {
        let w = w as usize;
        let id = w >= 110;
        let ttft = w >= 90;
        let used = Self::FIXED + if id { 10 } else { 0 } + if ttft { 8 } else { 0 };
        Columns { name: w.saturating_sub(used + 1).max(8), id, ttft }
    }

    fn heading(&self) -> String {
        let mut s = format!(" {:<st$}", "status", st = Self::STATUS);
        if self.id {
            s.push_str(&format!("{:<10}", "trace"));
        }
        s.push_str(&format!(
            "{:<n$}{:>6}{:>6}{:>8}{:>18}{:>8}",
            "service · root",
            "nodes",
            "calls",
            "tokens",
            "cost",
            "time",
            n = self.name
        ));
        if self.ttft {
            s.push_str(&format!("{:>8}", "ttft"));
        }
        s
    }
}

fn row_line(w: &Watching, r: &Row, cols: &Columns, selected: bool) -> Line<'static> {
    let t = &w.theme;
    let colour = match (r.status, r.state.status) {
        (RowStatus::Live, _) => t.running,
        (RowStatus::Forced, _) => t.retrying,
        (RowStatus::Finished, RunStatus::Finished(Outcome::Failed)) => t.failed,
        (RowStatus::Finished, _) => t.done,
    };
    let open = if w.open_trace() == Some(r.trace.as_str()) { "▸" } else { " " };
    let mut spans = vec![
        Span::raw(open.to_string()),
        Span::styled(format!("{:<st$}", r.status_word(), st = Columns::STATUS), Style::default().fg(colour)),
    ];
    if cols.id {
        spans.push(Span::styled(format!("{:<10}", r.trace.get(..8).unwrap_or(&r.trace)), t.dim()));
    }
    let cost = r.cost();
    let unpriced = !r.run.info.priced;
    spans.push(Span::raw(format!("{:<n$}", clip(&r.name(), cols.name.saturating_sub(1)), n = cols.name)));
    spans.push(Span::raw(format!("{:>6}{:>6}{:>8}", r.state.units.len(), r.run.info.calls, tokens(r.tokens()))));
    spans.push(Span::styled(format!("{:>18}", clip(&cost, 17)), if unpriced { Style::default().fg(t.retrying) } else { Style::default() }));
    spans.push(Span::raw(format!("{:>8}", dur(r.state.wall()))));
    if cols.ttft {
        spans.push(Span::styled(format!("{:>8}", ttft(r)), t.dim()));
    }
    let line = Line::from(spans);
    if selected { line.style(t.selected()) } else { line }
}

/// Time to first token, where the instrumentation reported it: the first call's, from the
/// fold. Spans without it show a dash (the converter then sets it to the whole latency).
fn ttft(r: &Row) -> String {
    let reported = r.state.units.iter().filter_map(|u| Some((u.ttft?, u.latency?))).find(|(f, l)| f < l);
    reported.map_or_else(|| "—".to_string(), |(f, _)| dur(f))
}

fn header(w: &Watching) -> Line<'static> {
    let t = &w.theme;
    let live = w.rows.iter().filter(|r| r.status == RowStatus::Live).count();
    let mut spans = vec![
        Span::styled(" baton ", Style::default().fg(t.bg).bg(t.accent).add_modifier(Modifier::BOLD)),
        Span::styled(" watch", Style::default().fg(t.title).add_modifier(Modifier::BOLD)),
        Span::styled(" │ ", t.dim()),
        Span::raw(format!("{} traces", w.rows.len() + w.dropped)),
    ];
    if live > 0 {
        spans.push(Span::styled(format!(" ({live} live)"), Style::default().fg(t.running)));
    }
    if w.follow {
        spans.push(Span::styled(" │ ", t.dim()));
        spans.push(Span::styled("following", Style::default().fg(t.accent).add_modifier(Modifier::BOLD)));
    }
    spans.push(Span::styled(" │ ", t.dim()));
    spans.push(Span::styled(w.listening.clone().unwrap_or_else(|| "starting the receivers…".into()), t.dim()));
    Line::from(spans)
}

fn waiting(w: &Watching) -> Vec<Line<'static>> {
    let t = &w.theme;
    let mut lines = vec![Line::default(), Line::from(Span::styled(" Waiting for traces.", Style::default().fg(t.title)))];
    lines.push(Line::default());
    lines.push(Line::from(" Point your application's OpenTelemetry exporter here, then run it:"));
    if w.listening.is_none() {
        lines.push(Line::from(Span::styled("   (starting the receivers…)", t.dim())));
    }
    if let Some(h) = w.http {
        lines.push(Line::from(Span::styled(
            format!("   OTEL_EXPORTER_OTLP_ENDPOINT=http://{h} python app.py"),
            Style::default().fg(t.accent),
        )));
    }
    if let Some(g) = w.grpc {
        lines.push(Line::from(Span::styled(format!("   (gRPC exporters: OTEL_EXPORTER_OTLP_ENDPOINT=http://{g})"), t.dim())));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        " Each trace appears here as its spans arrive; Enter opens it in the graph, f follows the newest.",
        t.dim(),
    )));
    if w.not_runs > 0 {
        lines.push(Line::from(Span::styled(format!(" {} traces without a model call were ignored.", w.not_runs), t.dim())));
    }
    lines
}

fn footer(w: &Watching) -> Line<'static> {
    let t = &w.theme;
    if let Some(m) = &w.message {
        return Line::from(Span::styled(format!(" {m}"), Style::default().fg(t.accent)));
    }
    let mut spans = super::draw::hint_spans(&w.keymap, w.mode(), t, w.size.0);
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    if w.not_runs + w.failed > 0 {
        let note = format!(" {} ignored · {} failed", w.not_runs, w.failed);
        if used + note.len() <= w.size.0 as usize {
            spans.push(Span::styled(note, t.dim()));
        }
    }
    Line::from(spans)
}

/// The list's keys: each from the keymap, described as the list uses it.
const LIST_KEYS: &[(Action, &str)] = &[
    (Action::Down, "next trace (older)"),
    (Action::Up, "previous trace (newer)"),
    (Action::First, "newest trace"),
    (Action::Last, "oldest trace"),
    (Action::Focus, "open the trace in the graph, filling in as spans arrive"),
    (Action::Back, "from a trace: back to this list"),
    (Action::Follow, "follow: open each new trace as it arrives (f again: off)"),
    (Action::Theme, "next built-in theme"),
    (Action::Help, "show or hide this help"),
    (Action::Quit, "quit (every settled trace is already recorded; open ones are recorded now)"),
];

fn help(f: &mut Frame, w: &Watching, size: Rect) {
    let t = &w.theme;
    let rows: Vec<(String, &str)> = LIST_KEYS
        .iter()
        .filter_map(|(a, d)| {
            let b = w.keymap.bindings.iter().find(|b| b.action == Some(*a) && !b.keys.is_empty())?;
            Some((b.keys.join(" / "), *d))
        })
        .collect();
    let kw = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(8);
    let mut lines = super::draw::key_rows(rows, kw, t);
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(" Mouse: wheel moves, click selects, click again opens.", t.dim())));
    lines.push(Line::from(Span::styled(" Costs come from the catalog; a model it lacks shows as unpriced, never $0.", t.dim())));
    let wd = 88.min(size.width.saturating_sub(2));
    let inner = wd.saturating_sub(2);
    let h = (Paragraph::new(lines.clone()).wrap(Wrap { trim: false }).line_count(inner) as u16 + 2).min(size.height.saturating_sub(2));
    let area = Rect::new((size.width - wd) / 2, (size.height - h) / 2, wd, h);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Watch keys — ? or Esc to close ").border_style(Style::default().fg(t.border_focus)))
            .style(t.base_style()),
        area,
    );
}
