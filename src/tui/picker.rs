//! The run picker (`ctrl-o`): the runs `baton runs` lists, newest first — flow, strategy,
//! source, status, cost, tokens, wall time, date — with `/` to filter as you type and Enter to
//! replay the highlighted recording in the same screens. A recording that cannot be read is
//! listed as such (with why) and cannot be opened.
//!
//! Listing reads the history index and opening reads a recording: both are effects
//! ([`Command::ListRuns`], [`Command::OpenRecording`]) whose results come back as messages.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::app::{App, Command, Loaded};
use super::fmt::clip;
use super::keymap::Action;
use crate::history::RunEntry;

pub use super::runs_list::{Picker, cells};

impl App {
    /// `ctrl-o`: open the picker and ask for the list.
    pub(crate) fn open_runs(&mut self) -> Vec<Command> {
        self.runs = Some(Picker::default());
        vec![Command::ListRuns]
    }

    /// The list arrived.
    pub(crate) fn runs_listed(&mut self, r: Loaded<(std::path::PathBuf, Vec<RunEntry>)>) {
        let Some(p) = self.runs.as_mut() else { return };
        match r {
            Ok((dir, runs)) => {
                p.dir = Some(dir);
                p.runs = Some(Ok(runs));
            }
            Err(e) => p.runs = Some(Err(e)),
        }
        p.selected = 0;
    }

    /// Keys while the picker is open.
    pub(crate) fn runs_key(&mut self, k: KeyEvent) -> Vec<Command> {
        let Some(p) = self.runs.as_mut() else { return Vec::new() };
        if p.typing {
            match k.code {
                KeyCode::Enter => p.typing = false,
                KeyCode::Esc => {
                    p.typing = false;
                    p.filter.clear();
                }
                KeyCode::Backspace => {
                    p.filter.pop();
                }
                KeyCode::Char(c) => p.filter.push(c),
                _ => {}
            }
            p.selected = 0;
            return Vec::new();
        }
        let n = p.shown().len();
        let action = if k.code == KeyCode::Enter { Some(Action::Focus) } else { self.keymap.action(&k) };
        let Some(p) = self.runs.as_mut() else { return Vec::new() };
        match action {
            Some(Action::Down) => p.selected = (p.selected + 1).min(n.saturating_sub(1)),
            Some(Action::Up) => p.selected = p.selected.saturating_sub(1),
            Some(Action::PageDown) => p.selected = (p.selected + 10).min(n.saturating_sub(1)),
            Some(Action::PageUp) => p.selected = p.selected.saturating_sub(10),
            Some(Action::First) => p.selected = 0,
            Some(Action::Last) => p.selected = n.saturating_sub(1),
            Some(Action::Search) => {
                p.typing = true;
                p.filter.clear();
                p.selected = 0;
            }
            Some(Action::Back) => {
                if p.filter.is_empty() {
                    self.runs = None;
                } else {
                    p.filter.clear();
                    p.selected = 0;
                }
            }
            Some(Action::Runs) => self.runs = None,
            Some(Action::Quit) => {
                self.quit = true;
                return vec![Command::Cancel, Command::Quit];
            }
            Some(Action::Focus) => {
                let Some(e) = p.shown().get(p.selected).map(|e| (*e).clone()) else { return Vec::new() };
                if let Some(err) = &e.error {
                    self.message = Some(format!("{} cannot be read: {}", e.path, err.lines().next().unwrap_or_default()));
                    return Vec::new();
                }
                self.message = Some(format!("opening {}", e.path));
                return vec![Command::OpenRecording(std::path::PathBuf::from(e.path))];
            }
            _ => {}
        }
        Vec::new()
    }

    /// A recording chosen in the picker was read: replay it here, in place of what was on
    /// screen (whose run, if one is going, is cancelled and its recording closed).
    pub(crate) fn recording_opened(&mut self, r: Loaded<Arc<crate::record::Recording>>) -> Vec<Command> {
        let rec = match r {
            Ok(rec) => rec,
            Err(e) => {
                self.message = Some(e);
                return Vec::new();
            }
        };
        let spec = rec.spec();
        let mut next = App::new(&spec, self.theme.clone(), self.keymap.clone(), self.player.speed, self.simulated);
        next.size = self.size;
        next.clip_file = self.clip_file.take();
        next.cache = self.cache.clone();
        // Late events of the run being left never reach the replay.
        next.retired = self.players().map(|p| p.state.run_id).chain(self.retired.iter().copied()).collect();
        next.player.push(rec.events.iter().cloned());
        next.player.all_loaded();
        next.player.index();
        next.message = Some(format!("replaying {} · ctrl-o picks another · space plays", rec.file));
        next.replay = Some(rec);
        *self = next;
        self.refresh_layout();
        vec![Command::Cancel]
    }
}

/// The picker, over the body of the screen.
pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let Some(p) = &app.runs else { return };
    let t = &app.theme;
    let w = usize::from(area.width.saturating_sub(2));
    let mut lines: Vec<Line> = Vec::new();
    let filter = if p.typing || !p.filter.is_empty() {
        format!(" /{}{}", p.filter, if p.typing { "▏" } else { "" })
    } else {
        " / filters (every word, any column) · Enter replays · esc closes".into()
    };
    lines.push(Line::from(Span::styled(clip(&filter, w), Style::default().fg(t.accent))));
    let shown = p.shown();
    match &p.runs {
        None => lines.push(Line::from(Span::styled(" reading the history…", t.dim()))),
        Some(Err(e)) => lines.push(Line::from(Span::styled(format!(" {}", clip(e, w.saturating_sub(1))), Style::default().fg(t.failed)))),
        Some(Ok(all)) if all.is_empty() => lines.push(Line::from(Span::styled(
            format!(" no runs recorded in {} yet", p.dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default()),
            t.dim(),
        ))),
        Some(Ok(_)) => {}
    }
    let mut head = ["started (UTC)", "flow", "strategy", "source", "status", "cost", "tokens", "wall"];
    let mut rows: Vec<[String; 8]> = shown.iter().map(|e| cells(e)).collect();
    let widths = |head: &[&str; 8], rows: &[[String; 8]]| {
        let mut width = head.map(|h| h.chars().count());
        for r in rows {
            for (wd, c) in width.iter_mut().zip(r) {
                *wd = (*wd).max(c.chars().count());
            }
        }
        width
    };
    let mut gap = 2;
    let total = |wd: &[usize; 8], gap: usize| wd.iter().sum::<usize>() + gap * 8 + 2;
    let mut width = widths(&head, &rows);
    // Narrow: the year goes, then names give way (to a floor each) so the figures stay whole.
    if total(&width, gap) > w {
        gap = 1;
    }
    if total(&width, gap) > w {
        head[0] = "UTC";
        for r in &mut rows {
            r[0] = r[0].chars().skip(5).collect();
        }
        width = widths(&head, &rows);
    }
    let floor = [0, 12, 8, 4, 9];
    while total(&width, gap) > w {
        let Some(k) = [1usize, 2, 3, 4].into_iter().filter(|&k| width[k] > floor[k]).max_by_key(|&k| width[k] - floor[k]) else { break };
        width[k] -= 1;
    }
    let fmt_row = |r: &[String; 8]| -> String {
        let mut s = String::from("  ");
        for (i, (c, wd)) in r.iter().zip(width).enumerate() {
            let c = clip(c, wd);
            if i >= 5 {
                s.push_str(&format!("{c:>wd$}{:gap$}", ""));
            } else {
                s.push_str(&format!("{c:<wd$}{:gap$}", ""));
            }
        }
        s
    };
    if p.runs.as_ref().is_some_and(|r| r.as_ref().is_ok_and(|v| !v.is_empty())) {
        lines.push(Line::from(Span::styled(
            clip(&fmt_row(&head.map(String::from)), w),
            Style::default().fg(t.accent).add_modifier(Modifier::BOLD),
        )));
        if shown.is_empty() {
            lines.push(Line::from(Span::styled(format!(" nothing matches '{}'", p.filter), t.dim())));
        }
    }
    let head_h = lines.len();
    let rows_h = usize::from(area.height.saturating_sub(2)).saturating_sub(head_h + 1).max(1);
    let first = (p.selected + 1).saturating_sub(rows_h);
    for (i, (r, e)) in rows.iter().zip(&shown).enumerate().skip(first).take(rows_h) {
        let sel = i == p.selected;
        let mut text = fmt_row(r);
        if sel {
            text.replace_range(0..1, "▶");
        }
        let style = if e.error.is_some() {
            Style::default().fg(t.failed)
        } else if sel {
            Style::default().fg(t.selection).add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        lines.push(Line::from(Span::styled(clip(&text, w), if sel { style.add_modifier(Modifier::BOLD) } else { style })));
    }
    if let Some(e) = shown.get(p.selected) {
        let about = match &e.error {
            Some(err) => format!(" ! {}: {}", e.path, err.lines().next().unwrap_or_default()),
            None => format!(" {}", e.path),
        };
        lines.push(Line::from(Span::styled(clip(&about, w), t.dim())));
    }
    let count = match &p.runs {
        Some(Ok(all)) => format!(" Runs — {} of {} · newest first ", shown.len(), all.len()),
        _ => " Runs ".to_string(),
    };
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(count).border_style(Style::default().fg(t.border_focus))).style(t.base_style()),
        area,
    );
}
