//! `baton watch`'s screen: the traces arriving over OTLP, newest first, and one of them open in
//! the ordinary DAG view (the [`App`] every other run uses).
//!
//! The watch service sends a trace whole each time it changes (a snapshot converted from the
//! spans so far, then the settled run). A row keeps the latest one and its [`RunState`],
//! folded by `RunState::apply` like any run, so every figure on the list comes from the fold.
//! The open trace is an [`App`] rebuilt from the snapshot each time, carrying over what the
//! user did there (view, selection by node id, panel, zoom, search). Like [`App`], `update` does
//! no I/O: the loop in `watch_loop` feeds it and carries out the commands it returns.

use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, KeyEvent, KeyEventKind, MouseButton, MouseEventKind};

use super::app::{App, Command, Focus, Msg};
use super::keymap::{Action, Keymap, Mode};
use super::layout::BoxKey;
use super::theme::{BUILTIN, Theme};
use crate::event::Outcome;
use crate::state::{RunState, RunStatus};
use crate::watch::WatchedRun;
use crate::watch::service::Report;

/// Rows kept on the list (every trace is recorded whatever the list keeps); the oldest
/// settled row goes first.
pub const MAX_ROWS: usize = 500;

/// The list's first row on screen (a header line and the column names above it).
pub const FIRST_ROW_Y: u16 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    /// Spans are still arriving (the trace has not settled).
    Live,
    /// Settled: its root arrived and nothing came for the settle window.
    Finished,
    /// Closed though a parent never came (or for room): `running …` placeholders remain.
    Forced,
}

/// One trace: its latest snapshot and that snapshot's fold.
pub struct Row {
    pub trace: String,
    pub run: WatchedRun,
    pub state: RunState,
    pub status: RowStatus,
    /// Where the settled run was recorded, or why it could not be.
    pub recording: Option<Result<PathBuf, String>>,
}

impl Row {
    fn new(run: WatchedRun, status: RowStatus) -> Row {
        let state = run.state();
        Row { trace: run.info.trace_id.clone(), run, state, status, recording: None }
    }

    /// `live`, `finished`, `failed` (a span reported an error), `forced`.
    pub fn status_word(&self) -> &'static str {
        match self.status {
            RowStatus::Live => "live",
            RowStatus::Forced => "forced",
            RowStatus::Finished if self.state.status == RunStatus::Finished(Outcome::Failed) => "failed",
            RowStatus::Finished => "finished",
        }
    }

    /// The service and the trace's first step, as the trace named them (sanitised).
    pub fn name(&self) -> String {
        let flow = &self.run.spec.flow;
        let root = flow.order.first().and_then(|&i| flow.nodes.get(i)).map_or("-", |n| n.id.as_str());
        let root = self.run.info.labels.iter().find(|(id, _)| id == root).map_or(root, |(_, label)| label.as_str());
        let name = match self.run.info.services.first() {
            Some(s) => format!("{s} · {root}"),
            None => root.to_string(),
        };
        crate::sanitize::for_terminal(&name).into_owned()
    }

    /// Cost so far from the fold; a model the catalog lacks makes it "unpriced", never $0,
    /// and a call without token counts makes it a lower bound (`+?`).
    pub fn cost(&self) -> String {
        let c = self.state.totals.cost.total();
        match (self.run.info.priced, c.is_zero()) {
            (true, true) if self.run.info.calls_without_usage > 0 => "$?".into(),
            (true, false) if self.run.info.calls_without_usage > 0 => format!("{}+?", super::fmt::money(c)),
            (true, _) => super::fmt::money(c),
            (false, true) => "unpriced".into(),
            (false, false) => format!("{}+unpriced", super::fmt::money(c)),
        }
    }

    /// Input and output tokens so far.
    pub fn tokens(&self) -> u64 {
        let u = &self.state.totals.usage;
        u.total_input() + u.output
    }
}

/// What can happen to the watch screen.
pub enum WatchMsg {
    Report(Report),
    Term(TermEvent),
    Tick(Duration),
}

pub struct Watching {
    /// In arrival order (the list shows them newest first).
    pub rows: Vec<Row>,
    /// The selected row's trace id.
    pub selected: Option<String>,
    /// Open each new trace as it arrives.
    pub follow: bool,
    /// The trace open in the DAG view.
    pub open: Option<App>,
    pub help: bool,
    pub theme: Theme,
    pub keymap: Keymap,
    pub size: (u16, u16),
    pub message: Option<String>,
    /// Where the receivers listen, once they do.
    pub listening: Option<String>,
    pub http: Option<std::net::SocketAddr>,
    pub grpc: Option<std::net::SocketAddr>,
    /// Traces without a model call (not runs), and traces that could not be converted.
    pub not_runs: usize,
    pub failed: usize,
    /// Rows dropped from the list for room (still recorded).
    pub dropped: usize,
    pub quit: bool,
    /// Where copies go besides the clipboard (the loop sets the data directory's).
    pub clip_file: Option<PathBuf>,
}

impl Watching {
    pub fn new(theme: Theme, keymap: Keymap) -> Watching {
        Watching {
            rows: Vec::new(),
            selected: None,
            follow: false,
            open: None,
            help: false,
            theme,
            keymap,
            size: (80, 24),
            message: None,
            listening: None,
            http: None,
            grpc: None,
            not_runs: 0,
            failed: 0,
            dropped: 0,
            quit: false,
            clip_file: None,
        }
    }

    /// Rows newest first, as the list shows them.
    pub fn ordered(&self) -> std::iter::Rev<std::slice::Iter<'_, Row>> {
        self.rows.iter().rev()
    }

    /// The selected row's place on the list (newest first).
    pub fn selected_index(&self) -> Option<usize> {
        let id = self.selected.as_deref()?;
        self.ordered().position(|r| r.trace == id)
    }

    fn row(&self, trace: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.trace == trace)
    }

    /// The trace open in the DAG view.
    pub fn open_trace(&self) -> Option<&str> {
        self.open.as_ref().and(self.selected.as_deref())
    }

    /// What has the keys, for the footer.
    pub fn mode(&self) -> Mode {
        match &self.open {
            Some(app) => app.mode(),
            None => Mode::Traces,
        }
    }

    /// Whether the loop should keep a frame clock running (a live trace's clock on screen).
    pub fn wants_ticks(&self) -> bool {
        self.open.as_ref().is_some_and(App::wants_ticks)
    }

    pub fn update(&mut self, msg: WatchMsg) -> Vec<Command> {
        match msg {
            WatchMsg::Report(r) => {
                self.report(r);
                Vec::new()
            }
            WatchMsg::Tick(dt) => match &mut self.open {
                Some(app) => app.update(Msg::Tick(dt)),
                None => Vec::new(),
            },
            WatchMsg::Term(TermEvent::Resize(w, h)) => {
                self.size = (w, h);
                match &mut self.open {
                    Some(app) => app.update(Msg::Term(TermEvent::Resize(w, h))),
                    None => Vec::new(),
                }
            }
            WatchMsg::Term(TermEvent::Key(k)) if k.kind != KeyEventKind::Release => {
                if self.open.is_some() {
                    self.open_key(k)
                } else {
                    self.list_key(k)
                }
            }
            WatchMsg::Term(TermEvent::Mouse(m)) => {
                if let Some(app) = &mut self.open {
                    return keep(app.update(Msg::Term(TermEvent::Mouse(m))));
                }
                match m.kind {
                    MouseEventKind::ScrollDown => self.move_by(1),
                    MouseEventKind::ScrollUp => self.move_by(-1),
                    MouseEventKind::Down(MouseButton::Left) if m.row >= FIRST_ROW_Y => {
                        let first = self.first_visible();
                        let i = first + usize::from(m.row - FIRST_ROW_Y);
                        if let Some(t) = self.ordered().nth(i).map(|r| r.trace.clone()) {
                            // A click selects; a click on the selected row opens it.
                            if self.selected.as_deref() == Some(t.as_str()) {
                                self.open_selected();
                            } else {
                                self.selected = Some(t);
                            }
                        }
                    }
                    _ => {}
                }
                Vec::new()
            }
            WatchMsg::Term(_) => Vec::new(),
        }
    }

    /// How many rows fit between the column names and the footer.
    pub fn visible_rows(&self) -> usize {
        usize::from(self.size.1.saturating_sub(FIRST_ROW_Y + 1))
    }

    /// The first row on screen: the list scrolls just enough to show the selection.
    pub fn first_visible(&self) -> usize {
        let sel = self.selected_index().unwrap_or(0);
        sel.saturating_sub(self.visible_rows().saturating_sub(1))
    }

    fn report(&mut self, r: Report) {
        match r {
            Report::Listening { http, grpc } => {
                let mut parts = Vec::new();
                if let Some(h) = http {
                    parts.push(format!("OTLP/HTTP {h}"));
                }
                if let Some(g) = grpc {
                    parts.push(format!("gRPC {g}"));
                }
                self.listening = Some(parts.join(" · "));
                (self.http, self.grpc) = (http, grpc);
            }
            Report::Live(run) => self.upsert(*run, RowStatus::Live, None),
            Report::Finished(f) => {
                let status = if f.forced { RowStatus::Forced } else { RowStatus::Finished };
                self.upsert(f.run, status, f.recording);
            }
            Report::NotARun { .. } => self.not_runs += 1,
            Report::Failed { trace, error } => {
                self.failed += 1;
                self.message = Some(crate::sanitize::for_terminal(&format!("trace {trace}: {error}")).into_owned());
            }
        }
    }

    /// Puts a trace's latest snapshot on the list (and on screen when it is open).
    fn upsert(&mut self, run: WatchedRun, status: RowStatus, recording: Option<Result<PathBuf, String>>) {
        let row = Row { recording, ..Row::new(run, status) };
        let trace = row.trace.clone();
        // A selection on the newest row stays on the newest, as the list grows at the top.
        let at_top = self.open.is_none() && self.selected_index() == Some(0);
        let is_new = match self.rows.iter().position(|r| r.trace == trace) {
            Some(i) => {
                self.rows[i] = row;
                false
            }
            None => {
                self.rows.push(row);
                self.evict();
                true
            }
        };
        if self.selected.is_none() || (is_new && (self.follow || at_top)) {
            self.selected = Some(trace.clone());
            if self.follow {
                self.open_selected();
                return;
            }
        }
        if self.open_trace() == Some(trace.as_str()) {
            self.reopen();
        }
    }

    /// Keeps the list bounded: the oldest settled row that is not selected goes.
    fn evict(&mut self) {
        while self.rows.len() > MAX_ROWS {
            let sel = self.selected.as_deref();
            let Some(i) = self.rows.iter().position(|r| r.status != RowStatus::Live && Some(r.trace.as_str()) != sel) else { break };
            self.rows.remove(i);
            self.dropped += 1;
        }
    }

    fn move_by(&mut self, d: isize) {
        let n = self.rows.len();
        if n == 0 {
            return;
        }
        let i = self.selected_index().unwrap_or(0) as isize;
        let j = (i + d).clamp(0, n as isize - 1) as usize;
        let t = self.ordered().nth(j).map(|r| r.trace.clone());
        self.selected = t;
    }

    fn open_selected(&mut self) {
        let Some(row) = self.selected.as_deref().and_then(|t| self.row(t)) else {
            self.message = Some("no trace yet: point an OTLP exporter at the receiver".into());
            return;
        };
        let app = self.build(row, None);
        self.open = Some(app);
    }

    /// Rebuilds the open trace from its row's latest snapshot, keeping what the user did.
    fn reopen(&mut self) {
        let Some(old) = self.open.take() else { return };
        let Some(row) = self.selected.as_deref().and_then(|t| self.row(t)) else { return };
        let app = self.build(row, Some(&old));
        self.open = Some(app);
    }

    fn build(&self, row: &Row, old: Option<&App>) -> App {
        let theme = old.map_or_else(|| self.theme.clone(), |o| o.theme.clone());
        let mut app = App::new(&row.run.spec, theme, self.keymap.clone(), 1.0, false);
        app.watched = true;
        app.clip_file = self.clip_file.clone();
        app.size = self.size;
        app.recording = match &row.recording {
            Some(Ok(p)) => Some(p.display().to_string()),
            _ => None,
        };
        app.update(Msg::Run(row.run.events.clone()));
        if let Some(old) = old {
            carry(old, &mut app);
        }
        app.refresh_layout();
        app
    }

    fn list_key(&mut self, k: KeyEvent) -> Vec<Command> {
        let Some(action) = self.keymap.action(&k) else { return Vec::new() };
        self.message = None;
        if self.help {
            match action {
                Action::Help | Action::Back => self.help = false,
                Action::Quit => return self.quit(),
                _ => {}
            }
            return Vec::new();
        }
        match action {
            Action::Quit => return self.quit(),
            Action::Help => self.help = true,
            Action::Down => self.move_by(1),
            Action::Up => self.move_by(-1),
            Action::PageDown => self.move_by(self.visible_rows().max(1) as isize),
            Action::PageUp => self.move_by(-(self.visible_rows().max(1) as isize)),
            Action::First => self.move_by(isize::MIN / 2),
            Action::Last => self.move_by(isize::MAX / 2),
            Action::Focus => self.open_selected(),
            Action::Follow => self.toggle_follow(),
            Action::Theme => {
                let i = BUILTIN.iter().position(|(n, _)| *n == self.theme.name).map_or(0, |i| (i + 1) % BUILTIN.len());
                if let Some(t) = Theme::builtin(BUILTIN[i].0) {
                    self.theme = if self.theme.mono { t.monochrome() } else { t };
                    self.message = Some(format!("theme {}", BUILTIN[i].0));
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn quit(&mut self) -> Vec<Command> {
        self.quit = true;
        vec![Command::Quit]
    }

    fn toggle_follow(&mut self) {
        self.follow = !self.follow;
        if self.follow {
            self.message = Some("follow on: each new trace opens as it arrives (f again: off)".into());
            if let Some(newest) = self.rows.last() {
                self.selected = Some(newest.trace.clone());
                self.open_selected();
            }
        } else {
            self.message = Some("follow off".into());
        }
        if let (Some(app), Some(m)) = (&mut self.open, &self.message) {
            app.message = Some(m.clone());
        }
    }

    fn open_key(&mut self, k: KeyEvent) -> Vec<Command> {
        let Some(app) = &mut self.open else { return Vec::new() };
        let typing = app.search.as_ref().is_some_and(|s| s.typing) || app.editor_open || app.picker.is_some();
        if typing {
            return keep(app.update(Msg::Term(TermEvent::Key(k))));
        }
        match self.keymap.action(&k) {
            Some(Action::Quit) => self.quit(),
            Some(Action::Follow) => {
                self.toggle_follow();
                Vec::new()
            }
            Some(Action::Back)
                if !app.help && !app.inspect && app.search.is_none() && app.what_if.is_none() && app.focus == Focus::Main =>
            {
                // Back to the list; following would open the next trace at once, so it stops.
                self.theme = app.theme.clone();
                self.open = None;
                if self.follow {
                    self.follow = false;
                    self.message = Some("follow off".into());
                }
                Vec::new()
            }
            Some(a) if read_only(a) && !app.help => {
                app.message = Some(
                    "a watched trace is read-only here; once it settles its recording replays, reprices and exports (baton replay FILE)"
                        .into(),
                );
                Vec::new()
            }
            _ => keep(app.update(Msg::Term(TermEvent::Key(k)))),
        }
    }
}

/// Keys of `baton run`'s screen that change or restart a run: not for a trace someone else runs.
fn read_only(a: Action) -> bool {
    use Action::*;
    matches!(
        a,
        StartStop
            | Pause
            | Faster
            | Slower
            | Step
            | SeekBack
            | SeekForward
            | NodeStart
            | NodeEnd
            | WhatIf
            | EditRules
            | Pin
            | NextStrategy
            | Rerun
            | RerunAll
            | RerunNode
            | OpenStrategy
            | OpenFlow
    )
}

/// The commands a watched trace may ask for: copying, and quitting.
fn keep(cmds: Vec<Command>) -> Vec<Command> {
    cmds.into_iter().filter(|c| matches!(c, Command::Copy { .. } | Command::Quit)).collect()
}

/// Carries what the user did on the old snapshot over to the new one. Node indices can move
/// (a parent that arrives late sorts first), so the selection and the expanded groups follow
/// node ids.
fn carry(old: &App, new: &mut App) {
    new.view = old.view;
    new.focus = old.focus;
    new.help = old.help;
    new.help_scroll = old.help_scroll;
    new.inspect = old.inspect;
    new.inspect_scroll = old.inspect_scroll;
    new.compact = old.compact;
    new.pan = old.pan;
    new.panel_scroll = old.panel_scroll;
    new.log_scroll = old.log_scroll;
    new.timeline_row = old.timeline_row;
    new.message = old.message.clone();
    new.search = old.search.clone();
    new.scroll_max = old.scroll_max;
    let id_of = |i: usize| old.flow.nodes.get(i).map(|n| n.id.as_str());
    let index_of = |id: &str| new.flow.nodes.iter().position(|n| n.id == id);
    if let Some(i) = id_of(old.selected.node()).and_then(index_of) {
        new.selected = BoxKey::Node(i);
    }
    for (i, on) in old.expanded.iter().enumerate() {
        if *on
            && let Some(j) = id_of(i).and_then(index_of)
            && j < new.expanded.len()
        {
            new.expanded[j] = true;
        }
    }
}
