//! The application state and its update function. Input, run events and clock ticks come in as
//! messages; side effects (start or stop a run, quit) go out as commands for the loop to carry
//! out. Drawing reads this state and nothing else.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

use super::keymap::{Action, Keymap};
use super::layout::{BoxKey, Dims, Layout, layout};
use super::player::Player;
use super::theme::{BUILTIN, Theme};
use crate::engine::RunSpec;
use crate::event::RunEvent;
use crate::flow::Flow;
use crate::routing::{Catalog, Strategy};
use crate::state::{RunState, RunStatus, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Graph,
    Timeline,
    Log,
    /// Compare mode: every node under every strategy, with deltas.
    Compare,
    /// Compare mode: cost against quality, one point per strategy.
    Frontier,
}

impl View {
    pub const ALL: [View; 3] = [View::Graph, View::Timeline, View::Log];
    pub const COMPARE: [View; 3] = [View::Graph, View::Compare, View::Frontier];

    pub fn title(self) -> &'static str {
        match self {
            View::Graph => "Graph",
            View::Timeline => "Timeline",
            View::Log => "Log",
            View::Compare => "Compare",
            View::Frontier => "Frontier",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Main,
    Panel,
}

/// What the loop must do after an update.
#[derive(Clone)]
pub enum Command {
    /// Start computing (or calling) a run; its events come back as `Msg::Run`. A fork names
    /// the recording it continues.
    Start(Box<RunSpec>, Option<crate::record::Parent>),
    /// Suspend the screen and open a file in $EDITOR.
    EditFile(std::path::PathBuf),
    /// Cancel the run in progress.
    Cancel,
    Quit,
}

/// Everything that can happen to the app.
#[derive(Debug, Clone)]
pub enum Msg {
    Term(TermEvent),
    Run(Vec<RunEvent>),
    /// Real time passed.
    Tick(Duration),
    /// A watched file changed on disk (or an external editor closed).
    FileChanged(std::path::PathBuf),
}

/// The screen regions, from the terminal size alone; drawing and mouse hit-testing share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    pub header: Rect,
    pub tabs: Option<Rect>,
    pub main: Rect,
    pub panel: Option<Rect>,
    /// A short summary of the selection under the main area on narrow screens.
    pub summary: Option<Rect>,
    /// The playhead over the whole tape (seek by clicking it).
    pub scrub: Option<Rect>,
    pub footer: Option<Rect>,
    pub too_small: bool,
}

pub const MIN_W: u16 = 40;
pub const MIN_H: u16 = 12;
/// From this width up the panel sits beside the main view.
pub const SIDE_PANEL_W: u16 = 110;

pub struct App {
    pub flow: Arc<Flow>,
    pub strategy: Arc<Strategy>,
    pub catalog: Arc<Catalog>,
    pub input: String,
    pub seed: u64,
    pub theme: Theme,
    pub keymap: Keymap,
    pub player: Player,
    /// Compare mode: the other strategies' runs, played on the same clock as `player`.
    pub others: Vec<Player>,
    /// Compare mode: their specs, to run them again.
    pub other_specs: Vec<RunSpec>,
    pub run_id: u64,
    pub view: View,
    pub focus: Focus,
    pub help: bool,
    pub help_scroll: u16,
    pub selected: BoxKey,
    /// Selected row of the timeline.
    pub timeline_row: usize,
    pub expanded: Vec<bool>,
    pub compact: bool,
    pub layout: Layout,
    layout_key: (Vec<usize>, Vec<bool>, Dims),
    /// How many layers the flow has (for choosing box widths).
    layer_count: usize,
    /// Viewport offset into the graph.
    pub pan: (u16, u16),
    pub panel_scroll: u16,
    /// Lines from the bottom of the log.
    pub log_scroll: usize,
    pub size: (u16, u16),
    pub message: Option<String>,
    pub quit: bool,
    /// The run is computed by the simulator (speed applies) rather than called live.
    pub simulated: bool,
    /// The recording being replayed.
    pub replay: Option<Arc<crate::record::Recording>>,
    /// A what-if re-pricing shown over a replay, and which strategy it used.
    pub what_if: Option<(crate::record::reprice::RepriceReport, usize)>,
    /// Where the current run is being recorded.
    pub recording: Option<String>,
    /// The rules editor, kept (with its draft) while closed.
    pub editor: Option<super::editor::Editor>,
    pub editor_open: bool,
    /// The model picker for pinning: the highlighted catalog row.
    pub picker: Option<usize>,
    /// The files the flow and strategy came from (None for built-in samples).
    pub flow_path: Option<std::path::PathBuf>,
    pub strategy_path: Option<std::path::PathBuf>,
    /// Every output this session produced, by content key: what reruns reuse.
    pub cache: Arc<dyn crate::engine::OutputStore>,
    /// The previous attempt's final state, for deltas after a rerun.
    pub previous: Option<RunState>,
    /// What a quick edit changed, shown until the next key.
    pub preview: Option<crate::tuning::Preview>,
    /// A live run's expected cost, estimated before its first call; the header shows it until
    /// the first node settles and real figures replace it.
    pub estimate: Option<crate::money::Money>,
}

impl App {
    pub fn new(spec: &RunSpec, theme: Theme, keymap: Keymap, speed: f64, simulated: bool) -> App {
        let state = RunState::for_spec(spec);
        let n = spec.flow.nodes.len();
        let compact = false;
        let lay = layout(&spec.flow, &vec![0; n], &vec![false; n], Dims::FULL);
        App {
            flow: spec.flow.clone(),
            strategy: spec.strategy.clone(),
            catalog: spec.catalog.clone(),
            input: spec.input.clone(),
            seed: spec.seed,
            theme,
            keymap,
            player: Player::new(state, speed, !simulated),
            others: Vec::new(),
            other_specs: Vec::new(),
            run_id: spec.run_id,
            view: View::Graph,
            focus: Focus::Main,
            help: false,
            help_scroll: 0,
            selected: BoxKey::Node(spec.flow.order.first().copied().unwrap_or(0)),
            timeline_row: 0,
            expanded: vec![false; n],
            compact,
            layout: lay,
            layout_key: (vec![0; n], vec![false; n], Dims::FULL),
            layer_count: super::layout::layers_of(&spec.flow).1,
            pan: (0, 0),
            panel_scroll: 0,
            log_scroll: 0,
            size: (80, 24),
            message: None,
            quit: false,
            simulated,
            replay: None,
            what_if: None,
            recording: None,
            editor: None,
            editor_open: false,
            picker: None,
            flow_path: None,
            strategy_path: None,
            cache: crate::cache::MemoryCache::new(),
            previous: None,
            preview: None,
            estimate: None,
        }
    }

    /// The views Tab cycles through.
    pub fn views(&self) -> &'static [View] {
        if self.others.is_empty() { &View::ALL } else { &View::COMPARE }
    }

    /// Every side's player, baseline first (just the one outside compare mode).
    pub fn players(&self) -> impl Iterator<Item = &Player> {
        std::iter::once(&self.player).chain(self.others.iter())
    }

    /// Turns this app into a comparison of its strategy (the baseline) against `others`.
    pub fn compare_with(&mut self, others: Vec<RunSpec>) {
        let speed = self.player.speed;
        self.others = others.iter().map(|s| Player::new(RunState::for_spec(s), speed, !self.simulated)).collect();
        self.other_specs = others;
    }

    /// The spec for a fresh run of the current flow and strategy.
    pub fn spec(&self) -> RunSpec {
        let mut s = RunSpec::new(self.flow.clone(), self.strategy.clone(), self.catalog.clone(), self.input.clone(), self.seed);
        s.run_id = self.run_id;
        // Every run fills the session's cache, so a later rerun can reuse what did not change.
        s.store = Some(self.cache.clone());
        s
    }

    pub fn state(&self) -> &RunState {
        &self.player.state
    }

    pub fn areas(&self) -> Areas {
        areas(self.size.0, self.size.1, self.focus, self.view)
    }

    /// Whether the graph uses one line per node (by choice, or because the screen is small).
    pub fn is_compact(&self) -> bool {
        self.compact || self.size.1 < 20 || self.size.0 < 60
    }

    /// Recomputes the layout when the set of boxes changed (a group expanded into instances,
    /// an expand toggle, or the zoom level).
    pub fn refresh_layout(&mut self) {
        let st = &self.player.state;
        let inst: Vec<usize> = st.nodes.iter().map(|n| n.instances.len()).collect();
        let view_w = self.areas().main.width.saturating_sub(2);
        let dims = if self.is_compact() { Dims::compact(view_w) } else { super::layout::fit_dims(self.layer_count, view_w) };
        let key = (inst, self.expanded.clone(), dims);
        if key != self.layout_key {
            self.layout = layout(&self.flow, &key.0, &key.1, dims);
            self.layout_key = key;
            if !self.layout.index.contains_key(&self.selected) {
                self.selected = BoxKey::Node(self.selected.node());
            }
            self.keep_selection_in_view();
        }
    }

    /// Handles one message; returns the commands to carry out.
    pub fn update(&mut self, msg: Msg) -> Vec<Command> {
        let cmds = match msg {
            Msg::Tick(dt) => {
                self.player.advance(dt);
                for p in &mut self.others {
                    p.advance(dt);
                }
                Vec::new()
            }
            Msg::Run(events) => {
                // Each run has its own id; in compare mode that says which side it is.
                let mine = self.player.state.run_id;
                if self.others.is_empty() || events.first().is_none_or(|e| e.run == mine) {
                    self.player.push(events);
                } else if let Some(p) = events.first().and_then(|e| self.others.iter_mut().find(|p| p.state.run_id == e.run)) {
                    p.push(events);
                }
                Vec::new()
            }
            Msg::FileChanged(path) => self.file_changed(&path),
            Msg::Term(TermEvent::Key(k)) => self.on_key(k),
            Msg::Term(TermEvent::Mouse(m)) => {
                self.on_mouse(m);
                Vec::new()
            }
            Msg::Term(TermEvent::Resize(w, h)) => {
                self.size = (w, h);
                self.keep_selection_in_view();
                Vec::new()
            }
            Msg::Term(_) => Vec::new(),
        };
        self.refresh_layout();
        cmds
    }

    fn on_key(&mut self, k: KeyEvent) -> Vec<Command> {
        if k.kind == KeyEventKind::Release {
            return Vec::new();
        }
        if self.picker.is_some() {
            return self.picker_key(k);
        }
        if self.editor_open {
            return self.editor_key(k);
        }
        self.preview = None;
        let Some(action) = self.keymap.action(&k) else { return Vec::new() };
        self.message = None;
        if self.help && !matches!(action, Action::Help | Action::Back | Action::Quit) {
            // The overlay scrolls; everything else waits until it closes.
            match action {
                Action::Down | Action::PageDown => {
                    self.help_scroll = self.help_scroll.saturating_add(if action == Action::Down { 1 } else { 8 })
                }
                Action::Up | Action::PageUp => self.help_scroll = self.help_scroll.saturating_sub(if action == Action::Up { 1 } else { 8 }),
                _ => {}
            }
            return Vec::new();
        }
        match action {
            Action::Quit => {
                self.quit = true;
                return vec![Command::Cancel, Command::Quit];
            }
            Action::Help => {
                self.help = !self.help;
                self.help_scroll = 0;
            }
            Action::Back => {
                if self.help {
                    self.help = false;
                } else if self.what_if.is_some() {
                    self.what_if = None;
                } else {
                    self.focus = Focus::Main;
                }
            }
            Action::Focus => self.focus = if self.focus == Focus::Panel { Focus::Main } else { Focus::Panel },
            Action::NextView | Action::PrevView => {
                let views = self.views();
                let i = views.iter().position(|v| *v == self.view).unwrap_or(0);
                let n = views.len();
                self.view = views[if action == Action::NextView { (i + 1) % n } else { (i + n - 1) % n }];
                self.focus = Focus::Main;
            }
            Action::Up | Action::Down if self.focus == Focus::Panel => self.scroll_panel(if action == Action::Up { -1 } else { 1 }),
            Action::Up | Action::Down if self.view == View::Timeline => {
                let rows = crate::report::listed_units(&self.player.state);
                let d: i32 = if action == Action::Up { -1 } else { 1 };
                self.timeline_row = (self.timeline_row as i32 + d).clamp(0, rows.len() as i32 - 1) as usize;
                if let Some(&u) = rows.get(self.timeline_row) {
                    self.selected = self.box_for_unit(u);
                }
            }
            Action::Up => self.move_in_layer(-1),
            Action::Down => self.move_in_layer(1),
            Action::Left => self.move_layer(-1),
            Action::Right => self.move_layer(1),
            Action::First | Action::Last => {
                let order = self.box_order();
                let pick = if action == Action::First { order.first() } else { order.last() };
                if let Some(&b) = pick {
                    self.selected = b;
                }
            }
            Action::PageUp | Action::PageDown => {
                let d: i32 = if action == Action::PageUp { -1 } else { 1 };
                match self.view {
                    View::Log if self.focus == Focus::Main => {
                        let page = self.size.1.saturating_sub(6) as usize;
                        self.log_scroll = if d < 0 { self.log_scroll + page } else { self.log_scroll.saturating_sub(page) };
                    }
                    _ => self.scroll_panel(d * 10),
                }
            }
            Action::StartStop => return self.start_stop(),
            Action::Pause => {
                self.player.paused = !self.player.paused;
                let paused = self.player.paused;
                self.others.iter_mut().for_each(|p| p.paused = paused);
                self.message = Some(if self.player.paused { "paused".into() } else { "playing".into() });
            }
            Action::Faster | Action::Slower => {
                if self.simulated {
                    if action == Action::Faster {
                        self.player.faster();
                    } else {
                        self.player.slower();
                    }
                    let speed = self.player.speed;
                    self.others.iter_mut().for_each(|p| p.speed = speed);
                    self.message = Some(format!("speed {}", speed_label(self.player.speed)));
                } else {
                    self.message = Some("a live run plays in real time".into());
                }
            }
            Action::Zoom => self.compact = !self.compact,
            Action::Expand => {
                let n = self.selected.node();
                if self.flow.nodes[n].map.is_some() {
                    self.expanded[n] = !self.expanded[n];
                    self.selected = BoxKey::Node(n);
                    if self.expanded[n] && !self.player.state.nodes[n].instances.is_empty() {
                        self.selected = BoxKey::Instance(n, 0);
                    }
                } else {
                    self.message = Some(format!("'{}' does not fan out", self.flow.nodes[n].id));
                }
            }
            Action::PanLeft => self.pan.0 = self.pan.0.saturating_sub(8),
            Action::PanRight => self.pan.0 = (self.pan.0 + 8).min(self.layout.width.saturating_sub(1)),
            Action::PanUp => self.pan.1 = self.pan.1.saturating_sub(4),
            Action::PanDown => self.pan.1 = (self.pan.1 + 4).min(self.layout.height.saturating_sub(1)),
            Action::Critical => self.next_on_critical_path(),
            Action::Step => {
                self.player.step();
                self.message = Some(format!(
                    "event {} of {} at {}",
                    self.player.cursor,
                    self.player.events.len(),
                    super::fmt::dur(self.player.playhead)
                ));
            }
            Action::SeekBack | Action::SeekForward => {
                let step = (self.player.tape_end() / 20).max(Duration::from_millis(100));
                let t = if action == Action::SeekBack { self.player.playhead.saturating_sub(step) } else { self.player.playhead + step };
                self.player.seek(t);
            }
            Action::NodeStart | Action::NodeEnd => {
                let n = self.selected.node();
                let item = match self.selected {
                    BoxKey::Instance(_, k) => Some(k as u32),
                    BoxKey::Node(_) => None,
                };
                let matches = |u: crate::event::Unit| u.node as usize == n && (item.is_none() || u.item == item);
                let found = if action == Action::NodeStart {
                    self.player
                        .events
                        .iter()
                        .find(|e| matches!(&e.kind, crate::event::Event::NodeStarted { unit, .. } if matches(*unit)))
                        .map(|e| e.at)
                } else {
                    self.player
                        .events
                        .iter()
                        .filter(|e| {
                            matches!(&e.kind, crate::event::Event::NodeFinished { unit, .. } | crate::event::Event::NodeSkipped { unit, .. } | crate::event::Event::NodeFailed { unit, .. } if matches(*unit))
                        })
                        .map(|e| e.at)
                        .max()
                };
                match found {
                    Some(t) => {
                        self.player.seek(t);
                        self.player.paused = true;
                        self.message = Some(format!(
                            "at {} ({})",
                            super::fmt::dur(t),
                            if action == Action::NodeStart { "node start" } else { "node end" }
                        ));
                    }
                    None => {
                        self.message = Some(format!(
                            "'{}' has no {} on this tape",
                            self.flow.nodes[n].id,
                            if action == Action::NodeStart { "start" } else { "end" }
                        ))
                    }
                }
            }
            Action::WhatIf => self.what_if(),
            Action::EditRules => self.open_editor(),
            Action::Pin => {
                let idx = self.strategy_model_index();
                self.picker = Some(idx);
            }
            Action::NextStrategy => self.next_strategy(),
            Action::Rerun | Action::RerunAll | Action::RerunNode => return self.rerun(action),
            Action::OpenStrategy => return self.open_external(false),
            Action::OpenFlow => return self.open_external(true),
            Action::Theme => {
                let i = BUILTIN.iter().position(|(n, _)| *n == self.theme.name).map_or(0, |i| (i + 1) % BUILTIN.len());
                if let Some(t) = Theme::builtin(BUILTIN[i].0) {
                    self.theme = if self.theme.mono { t.monochrome() } else { t };
                    self.message = Some(format!("theme {}", BUILTIN[i].0));
                }
            }
        }
        if matches!(action, Action::Up | Action::Down | Action::Left | Action::Right | Action::First | Action::Last | Action::Critical) {
            self.panel_scroll = 0;
            self.keep_selection_in_view();
        }
        Vec::new()
    }

    fn start_stop(&mut self) -> Vec<Command> {
        if self.replay.is_some() {
            self.player.seek(Duration::ZERO);
            self.player.paused = false;
            self.message = Some("replaying from the start".into());
            return Vec::new();
        }
        if !self.others.is_empty() {
            if self.players().all(Player::at_end) {
                // Run every side again, each under a fresh run id.
                let speed = self.player.speed;
                let n = self.others.len() as u64 + 1;
                self.run_id += n;
                let mut cmds = Vec::new();
                let mut spec = self.spec();
                spec.run_id = self.run_id;
                self.player = Player::new(
                    RunState::new(spec.flow.clone(), spec.strategy.clone(), spec.catalog.clone(), spec.run_id, 1),
                    speed,
                    !self.simulated,
                );
                cmds.push(Command::Start(Box::new(spec), None));
                for (k, s) in self.other_specs.iter_mut().enumerate() {
                    s.run_id = self.run_id + 1 + k as u64;
                    self.others[k] = Player::new(
                        RunState::new(s.flow.clone(), s.strategy.clone(), s.catalog.clone(), s.run_id, 1),
                        speed,
                        !self.simulated,
                    );
                    cmds.push(Command::Start(Box::new(s.clone()), None));
                }
                self.message = Some("comparison started again".into());
                return cmds;
            }
            for p in std::iter::once(&mut self.player).chain(self.others.iter_mut()) {
                if !p.at_end() {
                    p.stop();
                }
            }
            self.message = Some("stopped; s to run again".into());
            return vec![Command::Cancel];
        }
        if self.player.at_end() || self.player.state.status == RunStatus::NotStarted && self.player.events.is_empty() {
            // Finished, stopped or never started: run again from scratch.
            self.run_id += 1;
            let spec = self.spec();
            let state = RunState::for_spec(&spec);
            let speed = self.player.speed;
            self.player = Player::new(state, speed, !self.simulated);
            self.message = Some(format!("run {} started", self.run_id));
            return vec![Command::Start(Box::new(spec), None)];
        }
        self.player.stop();
        self.message = Some("run stopped; s to run again".into());
        vec![Command::Cancel]
    }

    /// The catalog row of the model the selected node got (the picker starts there).
    fn strategy_model_index(&self) -> usize {
        let model = self.unit_for_box(self.selected).and_then(|u| self.player.state.units[u].model.clone());
        model.and_then(|m| self.catalog.index_of(&m)).unwrap_or(0)
    }

    /// The strategy's text as the user knows it: the editor's draft, or the file as loaded.
    fn strategy_text(&self) -> String {
        match &self.editor {
            Some(e) => e.text(),
            None => self.strategy.source_text.clone(),
        }
    }

    fn open_editor(&mut self) {
        if self.editor.is_none() {
            let name = self.strategy_path.as_ref().map_or_else(|| self.strategy.source_name.clone(), |p| p.display().to_string());
            self.editor = Some(super::editor::Editor::new(&name, &self.strategy.source_text, &self.catalog));
        }
        self.editor_open = true;
    }

    fn editor_key(&mut self, k: KeyEvent) -> Vec<Command> {
        use crossterm::event::{KeyCode, KeyModifiers};
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let catalog = self.catalog.clone();
        let Some(ed) = self.editor.as_mut() else {
            self.editor_open = false;
            return Vec::new();
        };
        if ed.preview.is_some() {
            match k.code {
                KeyCode::Char('y') | KeyCode::Enter => {
                    if let Some(c) = ed.candidate.clone() {
                        ed.preview = None;
                        self.apply_strategy(c);
                        self.editor_open = false;
                        self.message = Some("strategy applied · r reruns the selected node and downstream, R the whole flow".into());
                    }
                }
                KeyCode::Char('n') | KeyCode::Esc => ed.preview = None,
                KeyCode::Char('r') if ctrl => {
                    if let Some(c) = ed.candidate.clone() {
                        ed.preview = None;
                        self.apply_strategy(c);
                        self.editor_open = false;
                    }
                }
                _ => {}
            }
            return Vec::new();
        }
        match (k.code, ctrl) {
            (KeyCode::Esc, _) => {
                self.editor_open = false;
                if ed.dirty {
                    self.message = Some("editor closed; the draft is kept (E reopens it)".into());
                }
            }
            (KeyCode::Char('s'), true) => self.save_strategy(),
            (KeyCode::Char('g'), true) => ed.jump_to_error(),
            (KeyCode::Char('r'), true) => match ed.candidate.clone() {
                Some(c) => ed.preview = Some(crate::tuning::preview(&self.player.final_state(), &c)),
                None => self.message = Some("fix the error first; the working strategy is unchanged".into()),
            },
            _ => {
                if ed.area.input(k) {
                    ed.dirty = true;
                    ed.validate(&catalog);
                }
            }
        }
        Vec::new()
    }

    /// Makes `s` the working strategy: the next run or rerun routes with it.
    pub fn apply_strategy(&mut self, s: Arc<Strategy>) {
        self.strategy = s;
        if self.others.is_empty() {
            self.player.state.strategy = self.strategy.clone();
        }
    }

    /// Writes the editor's text to the strategy's file (a sample is saved beside the current
    /// directory under its name). A failed write leaves the text in the editor.
    fn save_strategy(&mut self) {
        let Some(ed) = self.editor.as_mut() else { return };
        let text = ed.text();
        let path = self.strategy_path.clone().unwrap_or_else(|| std::path::PathBuf::from(format!("{}.toml", self.strategy.name)));
        match crate::load::write_atomically(&path, text.as_bytes()) {
            Ok(()) => {
                ed.dirty = false;
                ed.name = path.display().to_string();
                let was_sample = self.strategy_path.is_none();
                self.strategy_path = Some(path.clone());
                self.message = Some(if was_sample {
                    format!("saved {} (the built-in sample is unchanged; run with -s {})", path.display(), path.display())
                } else {
                    format!("saved {}", path.display())
                });
            }
            Err(e) => self.message = Some(format!("cannot save {}: {e}; your edit stays in the editor", path.display())),
        }
    }

    fn picker_key(&mut self, k: KeyEvent) -> Vec<Command> {
        use crossterm::event::KeyCode;
        let n = self.catalog.models.len();
        let Some(sel) = self.picker else { return Vec::new() };
        match k.code {
            KeyCode::Esc | KeyCode::Char('q') => self.picker = None,
            KeyCode::Char('j') | KeyCode::Down => self.picker = Some((sel + 1).min(n.saturating_sub(1))),
            KeyCode::Char('k') | KeyCode::Up => self.picker = Some(sel.saturating_sub(1)),
            KeyCode::Enter => {
                self.picker = None;
                let model = self.catalog.models[sel].id.clone();
                let node = self.flow.nodes[self.selected.node()].id.clone();
                self.pin(&node, &model);
            }
            _ => {}
        }
        Vec::new()
    }

    /// Routes `node` to `model` with a first rule in the strategy, keeping the file's comments,
    /// and applies it (saving it when the strategy is a file).
    pub fn pin(&mut self, node: &str, model: &str) {
        let text = match crate::tuning::pin(&self.strategy_text(), node, model) {
            Ok(t) => t,
            Err(e) => {
                self.message = Some(format!("cannot pin: {e}"));
                return;
            }
        };
        let name = self.strategy_path.as_ref().map_or_else(|| self.strategy.source_name.clone(), |p| p.display().to_string());
        match Strategy::parse(&crate::diag::Source::new(name.clone(), text.clone()), &self.catalog) {
            Ok((s, _)) => {
                let s = Arc::new(s);
                self.preview = Some(crate::tuning::preview(&self.player.final_state(), &s));
                self.apply_strategy(s);
                self.editor = Some(super::editor::Editor::new(&name, &text, &self.catalog));
                let saved = match &self.strategy_path {
                    Some(p) => match crate::load::write_atomically(p, text.as_bytes()) {
                        Ok(()) => format!(", saved to {}", p.display()),
                        Err(e) => format!(", but {} could not be written ({e}); E shows the edit", p.display()),
                    },
                    None => String::new(),
                };
                if let Some(ed) = self.editor.as_mut() {
                    ed.dirty = self.strategy_path.is_none();
                }
                self.message = Some(format!("pinned {node} to {model}{saved} · r reruns it and downstream"));
            }
            Err(d) => {
                self.message = Some(format!("the pin does not validate: {}", d.first().map(|x| x.message.clone()).unwrap_or_default()))
            }
        }
    }

    fn next_strategy(&mut self) {
        let source = self.flow_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        let names = strategy_choices(&source);
        let i = names.iter().position(|n| *n == self.strategy.name).map_or(0, |i| (i + 1) % names.len().max(1));
        let Some(name) = names.get(i) else { return };
        let dir = self.flow_path.as_ref().and_then(|p| p.parent());
        match crate::load::load_strategy(name, dir, &self.catalog) {
            Ok((s, origin, _)) => {
                self.preview = Some(crate::tuning::preview(&self.player.final_state(), &s));
                self.strategy_path = origin.path().map(std::path::Path::to_path_buf);
                self.editor = None;
                self.apply_strategy(s);
                self.message = Some(format!("strategy {name} · R reruns the flow under it"));
            }
            Err(d) => self.message = Some(format!("strategy {name}: {}", d.first().map(|x| x.to_string()).unwrap_or_default())),
        }
    }

    /// Reruns as a new attempt: nodes outside the rerun keep the previous attempt's outputs,
    /// nodes inside it are served from the cache when their key is unchanged and run when not.
    fn rerun(&mut self, action: Action) -> Vec<Command> {
        if !self.others.is_empty() {
            self.message = Some("reruns work on a single run; open the flow with `baton FLOW -s S`".into());
            return Vec::new();
        }
        let prev = self.player.final_state();
        let node = self.selected.node();
        let scope: std::collections::HashSet<usize> = match action {
            Action::RerunAll => (0..self.flow.nodes.len()).collect(),
            Action::RerunNode => std::iter::once(node).collect(),
            _ => {
                let mut set: std::collections::HashSet<usize> = std::iter::once(node).collect();
                for &i in &self.flow.order {
                    if self.flow.nodes[i].after.iter().any(|d| set.contains(d)) {
                        set.insert(i);
                    }
                }
                set
            }
        };
        let store = crate::cache::Rerun { previous: crate::record::RecordedOutputs::from_state(&prev, &scope), cache: self.cache.clone() };
        let mut spec = self.spec();
        spec.attempt = prev.attempt + 1;
        spec.store = Some(Arc::new(store));
        let relation = if self.replay.is_some() { "fork" } else { "rerun" };
        let parent = self.replay.as_ref().map(|r| r.file.clone()).or_else(|| self.recording.clone()).map(|file| crate::record::Parent {
            file,
            relation: relation.into(),
            node: Some(self.flow.nodes[node].id.clone()),
        });
        let what = match action {
            Action::RerunAll => "the whole flow".to_string(),
            Action::RerunNode => format!("{} alone", self.flow.nodes[node].id),
            _ => format!("{} and downstream", self.flow.nodes[node].id),
        };
        self.message = Some(format!("attempt {}: rerunning {what}", spec.attempt));
        self.previous = Some(prev);
        let speed = self.player.speed;
        let state = RunState::for_spec(&spec);
        self.player = Player::new(state, speed, !self.simulated);
        self.replay = None;
        vec![Command::Cancel, Command::Start(Box::new(spec), parent)]
    }

    /// Opens the strategy (or flow) in $EDITOR; a built-in sample is first written to a file.
    fn open_external(&mut self, flow: bool) -> Vec<Command> {
        let (path, text, name) = if flow {
            (self.flow_path.clone(), self.flow.source_text.clone(), self.flow.name.clone())
        } else {
            (self.strategy_path.clone(), self.strategy_text(), self.strategy.name.clone())
        };
        let path = match path {
            Some(p) => p,
            None => {
                let p = std::path::PathBuf::from(format!("{name}.toml"));
                if let Err(e) = crate::load::write_atomically(&p, text.as_bytes()) {
                    self.message = Some(format!("cannot write {}: {e}", p.display()));
                    return Vec::new();
                }
                if flow {
                    self.flow_path = Some(p.clone());
                } else {
                    self.strategy_path = Some(p.clone());
                }
                p
            }
        };
        vec![Command::EditFile(path)]
    }

    /// A watched file changed: reload it; an invalid file is reported with its line and the
    /// last valid version stays in use.
    fn file_changed(&mut self, path: &std::path::Path) -> Vec<Command> {
        let src = match crate::diag::Source::read(path) {
            Ok(s) => s,
            Err(d) => {
                self.message = Some(d.to_string());
                return Vec::new();
            }
        };
        if self.strategy_path.as_deref() == Some(path) {
            if self.editor.as_ref().is_some_and(|e| e.text() == src.text) && self.strategy.source_text == src.text {
                return Vec::new();
            }
            match Strategy::parse(&src, &self.catalog) {
                Ok((s, _)) => {
                    let s = Arc::new(s);
                    self.preview = Some(crate::tuning::preview(&self.player.final_state(), &s));
                    self.apply_strategy(s);
                    self.editor = None;
                    self.message = Some(format!("reloaded {} · r/R rerun under it", path.display()));
                }
                Err(d) => {
                    self.message = Some(format!(
                        "{} (still using the last valid version)",
                        d.first().map(|x| x.to_string().lines().next().unwrap_or("").to_string()).unwrap_or_default()
                    ))
                }
            }
        } else if self.flow_path.as_deref() == Some(path) {
            if self.flow.source_text == src.text {
                return Vec::new();
            }
            match crate::flow::parse_flow(&src) {
                Ok((f, _)) => {
                    self.flow = Arc::new(f);
                    self.expanded = vec![false; self.flow.nodes.len()];
                    self.layer_count = super::layout::layers_of(&self.flow).1;
                    self.selected = BoxKey::Node(self.flow.order.first().copied().unwrap_or(0));
                    self.previous = None;
                    // A new flow is a new run; unchanged nodes still come from the cache.
                    self.run_id += 1;
                    let spec = self.spec();
                    let speed = self.player.speed;
                    self.player = Player::new(RunState::for_spec(&spec), speed, !self.simulated);
                    self.layout_key.0.clear();
                    self.message = Some(format!("reloaded {}; running it (unchanged nodes come from the cache)", path.display()));
                    return vec![Command::Cancel, Command::Start(Box::new(spec), None)];
                }
                Err(d) => {
                    self.message = Some(format!(
                        "{} (still using the last valid version)",
                        d.first().map(|x| x.to_string().lines().next().unwrap_or("").to_string()).unwrap_or_default()
                    ))
                }
            }
        }
        Vec::new()
    }

    /// Re-prices the replayed run under the next strategy in the list.
    fn what_if(&mut self) {
        let Some(rec) = self.replay.clone() else {
            self.message = Some("what-if works on replays: baton replay FILE".into());
            return;
        };
        let names = strategy_choices(&rec.header.flow.source);
        let recorded = rec.strategy.name.clone();
        let mut next = self.what_if.as_ref().map_or(0, |(_, i)| (i + 1) % names.len().max(1));
        // Pricing the run under its own strategy tells nothing new.
        if names.get(next) == Some(&recorded) && names.len() > 1 {
            next = (next + 1) % names.len();
        }
        let Some(name) = names.get(next) else { return };
        let dir = std::path::Path::new(&rec.header.flow.source).parent();
        match crate::load::load_strategy(name, dir, &rec.catalog) {
            // Re-pricing runs the engine on its own paused runtime, which must not start inside
            // the screen's runtime: give it a thread.
            Ok((strategy, _, _)) => {
                match std::thread::scope(|s| s.spawn(|| crate::record::reprice::reprice(&rec, strategy, rec.catalog.clone())).join())
                    .unwrap_or_else(|_| Err(std::io::Error::other("the re-pricing thread panicked")))
                {
                    Ok((report, _)) => self.what_if = Some((report, next)),
                    Err(e) => self.message = Some(format!("what-if failed: {e}")),
                }
            }
            Err(d) => self.message = Some(format!("strategy {name}: {}", d.first().map(|x| x.message.clone()).unwrap_or_default())),
        }
    }

    fn scroll_panel(&mut self, d: i32) {
        self.panel_scroll = (i32::from(self.panel_scroll) + d).max(0) as u16;
    }

    /// Boxes in reading order: layer by layer, top to bottom.
    fn box_order(&self) -> Vec<BoxKey> {
        self.layout.layers.iter().flat_map(|l| l.iter().map(|&i| self.layout.boxes[i].key)).collect()
    }

    fn current(&self) -> Option<usize> {
        self.layout.index.get(&self.selected).copied()
    }

    fn move_in_layer(&mut self, d: i32) {
        let Some(i) = self.current() else { return };
        let layer = &self.layout.layers[self.layout.boxes[i].layer];
        let pos = layer.iter().position(|&b| b == i).unwrap_or(0) as i32;
        let next = (pos + d).clamp(0, layer.len() as i32 - 1) as usize;
        self.selected = self.layout.boxes[layer[next]].key;
    }

    fn move_layer(&mut self, d: i32) {
        let Some(i) = self.current() else { return };
        let b = self.layout.boxes[i];
        let target = b.layer as i32 + d;
        if target < 0 || target as usize >= self.layout.layers.len() {
            return;
        }
        let layer = &self.layout.layers[target as usize];
        // The box nearest in height, preferring a neighbour on an edge.
        let linked: Vec<usize> = self
            .layout
            .routes
            .iter()
            .filter_map(|r| {
                if d > 0 && r.from == i {
                    Some(r.to)
                } else if d < 0 && r.to == i {
                    Some(r.from)
                } else {
                    None
                }
            })
            .collect();
        let pool: Vec<usize> = if linked.is_empty() { layer.clone() } else { linked };
        if let Some(&best) = pool.iter().min_by_key(|&&c| (i32::from(self.layout.boxes[c].mid_y()) - i32::from(b.mid_y())).abs()) {
            self.selected = self.layout.boxes[best].key;
        }
    }

    fn next_on_critical_path(&mut self) {
        let st = &self.player.state;
        let path: Vec<BoxKey> = st.critical_path().into_iter().map(|u| self.box_for_unit(u)).collect();
        if path.is_empty() {
            self.message = Some("no critical path yet".into());
            return;
        }
        let pos = path.iter().position(|b| *b == self.selected);
        self.selected = path[pos.map_or(0, |p| (p + 1) % path.len())];
    }

    /// In the timeline, the unit of the selected row.
    pub fn timeline_unit(&self) -> Option<usize> {
        if self.view != View::Timeline {
            return None;
        }
        crate::report::listed_units(&self.player.state).get(self.timeline_row).copied()
    }

    /// The box that shows a unit (its group's box when the group is collapsed).
    pub fn box_for_unit(&self, unit_idx: usize) -> BoxKey {
        let u = self.player.state.units[unit_idx].unit;
        let n = u.index();
        match u.item {
            Some(k) if self.expanded[n] => BoxKey::Instance(n, k as usize),
            _ => BoxKey::Node(n),
        }
    }

    /// The unit a box shows (a collapsed group shows its own unit).
    pub fn unit_for_box(&self, key: BoxKey) -> Option<usize> {
        let st = &self.player.state;
        match key {
            BoxKey::Node(n) => Some(st.nodes[n].unit),
            BoxKey::Instance(n, k) => st.nodes[n].instances.get(k).copied(),
        }
    }

    /// Scrolls the graph so the selected box is visible.
    pub fn keep_selection_in_view(&mut self) {
        let Some(i) = self.current() else { return };
        let b = self.layout.boxes[i];
        let view = self.areas().main;
        let (vw, vh) = (view.width.saturating_sub(2), view.height.saturating_sub(2));
        if vw == 0 || vh == 0 {
            return;
        }
        if b.x < self.pan.0 {
            self.pan.0 = b.x.saturating_sub(1);
        } else if b.x + b.w > self.pan.0 + vw {
            self.pan.0 = (b.x + b.w).saturating_sub(vw) + 1;
        }
        if b.y < self.pan.1 {
            self.pan.1 = b.y;
        } else if b.y + b.h > self.pan.1 + vh {
            self.pan.1 = (b.y + b.h).saturating_sub(vh);
        }
    }

    fn on_mouse(&mut self, m: MouseEvent) {
        let a = self.areas();
        let inside = |r: Rect| m.column >= r.x && m.column < r.x + r.width && m.row >= r.y && m.row < r.y + r.height;
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if let Some(t) = a.tabs
                    && inside(t)
                {
                    // Tabs are drawn as " Graph │ Timeline │ Log ": pick by position.
                    let mut x = t.x + 1;
                    for v in View::ALL {
                        let w = v.title().len() as u16 + 3;
                        if m.column >= x && m.column < x + w {
                            self.view = v;
                        }
                        x += w;
                    }
                    return;
                }
                if self.view == View::Graph && inside(a.main) {
                    let inner = Rect::new(a.main.x + 1, a.main.y + 1, a.main.width.saturating_sub(2), a.main.height.saturating_sub(2));
                    let view = super::graph::centered(inner, self.layout.height);
                    if m.row < view.y || m.column < view.x {
                        return;
                    }
                    let wx = m.column - view.x + self.pan.0;
                    let wy = m.row - view.y + self.pan.1;
                    if let Some(i) = self.layout.box_at(wx, wy) {
                        self.selected = self.layout.boxes[i].key;
                        self.panel_scroll = 0;
                    }
                } else if let Some(p) = a.panel
                    && inside(p)
                {
                    self.focus = Focus::Panel;
                }
            }
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let down = m.kind == MouseEventKind::ScrollDown;
                if a.panel.is_some_and(inside) {
                    self.scroll_panel(if down { 3 } else { -3 });
                } else if self.view == View::Log {
                    self.log_scroll = if down { self.log_scroll.saturating_sub(3) } else { self.log_scroll + 3 };
                } else if self.view == View::Graph {
                    self.pan.1 =
                        if down { (self.pan.1 + 3).min(self.layout.height.saturating_sub(1)) } else { self.pan.1.saturating_sub(3) };
                }
            }
            _ => {}
        }
    }

    /// Whether the loop should keep a frame clock running.
    pub fn wants_ticks(&self) -> bool {
        self.players().any(Player::wants_ticks)
    }

    /// Status of a box: the node's summary for a group, the unit's for anything else.
    pub fn box_status(&self, key: BoxKey) -> Status {
        let st = &self.player.state;
        match key {
            BoxKey::Node(n) => st.node_status(n),
            BoxKey::Instance(..) => self.unit_for_box(key).map_or(Status::Queued, |u| st.units[u].status),
        }
    }
}

/// Strategies to try in a what-if: those next to the flow, then the samples.
pub fn strategy_choices(flow_source: &str) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(dir) = std::path::Path::new(flow_source).parent().map(|d| d.join("strategies"))
        && let Ok(rd) = std::fs::read_dir(dir)
    {
        let mut found: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().to_string()))
            .collect();
        found.sort();
        names.extend(found);
    }
    for (n, _) in crate::load::SAMPLE_STRATEGIES {
        if !names.iter().any(|x| x == n) {
            names.push(n.to_string());
        }
    }
    names
}

pub fn speed_label(s: f64) -> String {
    if s >= 1.0 { format!("{s:.0}×") } else { format!("{s}×") }
}

/// Splits the screen. Wide screens put the node panel beside the main view; narrow ones show a
/// summary line and give the whole body to the panel when it has focus.
pub fn areas(w: u16, h: u16, focus: Focus, view: View) -> Areas {
    if w < MIN_W || h < MIN_H {
        return Areas { too_small: true, ..Areas::default() };
    }
    let mut y = 0;
    let header = Rect::new(0, y, w, 1);
    y += 1;
    let tabs = (h >= 16).then(|| {
        let r = Rect::new(0, y, w, 1);
        y += 1;
        r
    });
    let footer_h = u16::from(h >= 14);
    let scrub_h = u16::from(h >= 18);
    let body_h = h - y - footer_h - scrub_h;
    let footer = (footer_h > 0).then(|| Rect::new(0, h - 1, w, 1));
    let scrub = (scrub_h > 0).then(|| Rect::new(0, h - footer_h - 1, w, 1));
    let body = Rect::new(0, y, w, body_h);
    let with_panel = matches!(view, View::Graph | View::Timeline);
    if w >= SIDE_PANEL_W && with_panel {
        let pw = (w * 38 / 100).clamp(44, 72);
        let main = Rect::new(0, body.y, w - pw, body.height);
        let panel = Rect::new(w - pw, body.y, pw, body.height);
        return Areas { header, tabs, main, panel: Some(panel), summary: None, scrub, footer, too_small: false };
    }
    if focus == Focus::Panel && with_panel {
        return Areas { header, tabs, main: Rect::new(0, body.y, w, 0), panel: Some(body), summary: None, scrub, footer, too_small: false };
    }
    let sum_h = if with_panel && body.height >= 10 { 2 } else { 0 };
    let main = Rect::new(0, body.y, w, body.height - sum_h);
    let summary = (sum_h > 0).then(|| Rect::new(0, body.y + body.height - sum_h, w, sum_h));
    Areas { header, tabs, main, panel: None, summary, scrub, footer, too_small: false }
}
