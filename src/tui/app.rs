//! The application state and its update function. Input, run events, clock ticks and the
//! results of effects come in as messages; every side effect (start or stop a run, write or read
//! a file, load a strategy, re-price a recording, open $EDITOR, quit) goes out as a
//! [`Command`] for the loop to carry out, so `update` does no I/O and a test can drive it with
//! keys and assert on what it asks for. Drawing reads this state and nothing else.
//!
//! The update is split by mode: `nav` (selection, scrolling, mouse), `playback` (start, stop,
//! speed, seek) and `tune` (editor, pin, strategies, reruns, what-if) each hold their keys;
//! `effects` carries out the commands that touch files.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, KeyEvent, KeyEventKind};

pub use super::areas::{Areas, Focus, MIN_H, MIN_W, SIDE_PANEL_W, View, areas};
use super::keymap::{Action, Keymap};
use super::layout::{BoxKey, Dims, Layout, Shape, Siblings, layout};
use super::player::Player;
use super::theme::{BUILTIN, Theme};
use crate::engine::RunSpec;
use crate::event::RunEvent;
use crate::flow::Flow;
use crate::routing::{Catalog, Strategy};
use crate::state::{RunState, Status};

/// What the loop must do after an update: the one closed set of side effects.
#[derive(Clone)]
pub enum Command {
    /// Start computing (or calling) a run; its events come back as `Msg::Run`. A fork names
    /// the recording it continues.
    Start(Box<RunSpec>, Option<crate::record::Parent>),
    /// Suspend the screen and open a file in $EDITOR; `Msg::FileRead` follows when it closes.
    EditFile(std::path::PathBuf),
    /// Write a file whole or not at all; `Msg::Wrote` says how it went.
    Write {
        path: std::path::PathBuf,
        text: String,
        then: Written,
    },
    /// Load the strategy after `current` in the list of choices next to the flow and the
    /// samples; `Msg::StrategyLoaded` brings it.
    LoadNextStrategy {
        current: String,
        flow_path: Option<std::path::PathBuf>,
        catalog: Arc<Catalog>,
    },
    /// Re-price a recording under the next strategy after `after` (an index into the choices);
    /// `Msg::Repriced` brings the report.
    Reprice {
        recording: Arc<crate::record::Recording>,
        after: Option<usize>,
    },
    /// Put text on the clipboard (OSC 52) and in a file, since a terminal may refuse OSC 52;
    /// `Msg::Copied` says where it went.
    Copy {
        what: String,
        text: String,
        file: Option<std::path::PathBuf>,
    },
    /// Start the optimizer's search (number N of the session) on its own thread;
    /// `Msg::Optimizer` brings its progress.
    Optimize(Box<crate::optimize::Config>, u64),
    /// Stop the search (what it found so far stays).
    StopOptimize,
    /// List the recorded runs for the picker; `Msg::RunsListed` brings them.
    ListRuns,
    /// Read a recording to replay; `Msg::RecordingOpened` brings it.
    OpenRecording(std::path::PathBuf),
    /// Cancel the run in progress.
    Cancel,
    Quit,
}

/// Why a file was written, so the app knows what to do once it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// The editor's strategy was saved (`sample`: it was a built-in sample until now).
    SavedStrategy { sample: bool },
    /// A pin rewrote the strategy file.
    Pinned { node: String, model: String },
    /// A built-in sample written out so $EDITOR can open it (`flow`: the flow, else the strategy).
    ThenEdit { flow: bool },
}

/// What an effect brought back.
pub type Loaded<T> = Result<T, String>;

/// Everything that can happen to the app.
#[derive(Debug, Clone)]
pub enum Msg {
    Term(TermEvent),
    Run(Vec<RunEvent>),
    /// Real time passed.
    Tick(Duration),
    /// A watched file changed on disk (or an external editor closed), read by the loop.
    FileRead(std::path::PathBuf, Result<crate::diag::Source, crate::diag::Diagnostics>),
    /// A `Command::Write` finished.
    Wrote {
        path: std::path::PathBuf,
        then: Written,
        result: Loaded<()>,
    },
    /// A `Command::LoadNextStrategy` finished: the strategy, the file it came from, its name.
    StrategyLoaded(Loaded<(Arc<Strategy>, Option<std::path::PathBuf>, String)>),
    /// A `Command::Reprice` finished: the report and the index of the strategy it used.
    Repriced(Box<Loaded<(crate::record::reprice::RepriceReport, usize)>>),
    /// A `Command::ListRuns` finished: the directory and its runs, newest first.
    RunsListed(Loaded<(std::path::PathBuf, Vec<crate::history::RunEntry>)>),
    /// A `Command::OpenRecording` finished.
    RecordingOpened(Box<Loaded<Arc<crate::record::Recording>>>),
    /// The optimizer's search reported progress or finished.
    Optimizer(Box<super::tuning::frontier_state::OptimizerMsg>),
    /// A `Command::Copy` finished: what was copied, how long, and the file it is also in.
    Copied {
        what: String,
        chars: usize,
        file: Loaded<std::path::PathBuf>,
    },
}

impl Msg {
    /// Reads a changed file into the message the app expects (I/O: for the loop and tests).
    pub fn file_changed(path: std::path::PathBuf) -> Msg {
        let src = crate::diag::Source::read(&path);
        Msg::FileRead(path, src)
    }
}

/// The search line: what is typed, and where the selection was when it began (Esc goes back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub query: String,
    /// Still typing: keys go to the query.
    pub typing: bool,
    pub origin: BoxKey,
    /// Sibling runs this search unfolded to show a match, folded again when it moves on.
    pub opened: Vec<usize>,
}

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
    /// The raw exchange overlay for the selected node is open, and how far it is scrolled.
    pub inspect: bool,
    pub inspect_scroll: u16,
    pub selected: BoxKey,
    /// Selected row of the timeline.
    pub timeline_row: usize,
    pub expanded: Vec<bool>,
    /// The flow's runs of sibling nodes, and which are folded into one box.
    pub siblings: Siblings,
    pub folded: Vec<bool>,
    pub compact: bool,
    pub layout: Layout,
    pub(super) layout_key: (Vec<usize>, Vec<bool>, Vec<bool>, Dims),
    /// How many layers the flow has (for choosing box widths).
    pub(super) layer_count: usize,
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
    pub editor: Option<super::tuning::editor::Editor>,
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
    /// The `/` search, while it is on.
    pub search: Option<Search>,
    /// How far the panel, the help and the raw exchange overlay can scroll (set by the loop
    /// after each frame).
    pub scroll_max: (u16, u16, u16),
    /// Where `y` also writes what it copies (the loop sets the data directory's).
    pub clip_file: Option<std::path::PathBuf>,
    /// A trace watched over OTLP (`baton watch`), read-only: the footer offers its keys.
    pub watched: bool,
    /// The optimizer's search and pane, and the compare screen's frontier pick.
    pub frontier: super::tuning::frontier_state::Frontier,
    /// Runs whose late events are dropped (the sides of a comparison left for one strategy).
    pub retired: Vec<u64>,
    /// The run picker, while it is open.
    pub runs: Option<super::runs_list::Picker>,
    /// What the attempt on the screen would have cost under the applied strategy, while that
    /// strategy has not run (see [`App::apply_strategy`]).
    pub projection: Option<crate::money::Money>,
}

impl App {
    pub fn new(spec: &RunSpec, theme: Theme, keymap: Keymap, speed: f64, simulated: bool) -> App {
        let state = RunState::for_spec(spec);
        let n = spec.flow.nodes.len();
        let compact = false;
        let siblings = Siblings::of_flow(&spec.flow);
        let folded = siblings.default_folds();
        let shape = Shape { instances: &vec![0; n], expanded: &vec![false; n], siblings: &siblings, folded: &folded };
        let lay = layout(&spec.flow, &shape, Dims::FULL);
        let mut app = App {
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
            inspect: false,
            inspect_scroll: 0,
            selected: BoxKey::Node(spec.flow.order.first().copied().unwrap_or(0)),
            timeline_row: 0,
            expanded: vec![false; n],
            layout_key: (vec![0; n], vec![false; n], folded.clone(), Dims::FULL),
            siblings,
            folded,
            compact,
            layout: lay,
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
            search: None,
            scroll_max: (u16::MAX, u16::MAX, u16::MAX),
            clip_file: None,
            watched: false,
            frontier: Default::default(),
            retired: Vec::new(),
            runs: None,
            projection: None,
        };
        app.selected = app.shown_box(app.selected.node());
        app
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
        let key = (inst, self.expanded.clone(), self.folded.clone(), dims);
        if key != self.layout_key {
            let shape = Shape { instances: &key.0, expanded: &key.1, siblings: &self.siblings, folded: &key.2 };
            self.layout = layout(&self.flow, &shape, dims);
            self.layout_key = key;
            if !self.layout.index.contains_key(&self.selected) {
                // A box that went away: its node's own box, or the folded run it is now in.
                let n = self.selected.node();
                self.selected = match self.siblings.of[n] {
                    Some(g) if self.folded[g] => BoxKey::Group(self.siblings.members[g][0], g),
                    _ => BoxKey::Node(n),
                };
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
                if events.first().is_some_and(|e| self.retired.contains(&e.run) && (e.run != mine || self.replay.is_some())) {
                    // A run that was left: a side of a comparison, or the run before a replay.
                } else if self.others.is_empty() || events.first().is_none_or(|e| e.run == mine) {
                    self.player.push(events);
                } else if let Some(p) = events.first().and_then(|e| self.others.iter_mut().find(|p| p.state.run_id == e.run)) {
                    p.push(events);
                }
                Vec::new()
            }
            Msg::FileRead(path, src) => self.file_read(&path, src),
            Msg::Wrote { path, then, result } => self.wrote(path, then, result),
            Msg::StrategyLoaded(r) => {
                self.strategy_loaded(r);
                Vec::new()
            }
            Msg::Repriced(r) => {
                match *r {
                    Ok(x) => self.what_if = Some(x),
                    Err(e) => self.message = Some(format!("what-if failed: {e}")),
                }
                Vec::new()
            }
            Msg::RunsListed(r) => {
                self.runs_listed(r);
                Vec::new()
            }
            Msg::RecordingOpened(r) => self.recording_opened(*r),
            Msg::Optimizer(m) => {
                self.optimizer_msg(*m);
                Vec::new()
            }
            Msg::Copied { what, chars, file } => {
                self.message = Some(match file {
                    Ok(p) => format!("copied the {what} ({chars} chars) to the clipboard (OSC 52) and to {}", p.display()),
                    Err(e) => format!("copied the {what} ({chars} chars) to the clipboard (OSC 52); the file copy failed: {e}"),
                });
                Vec::new()
            }
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
        if self.runs.is_some() {
            return self.runs_key(k);
        }
        if self.editor_open {
            return self.editor_key(k);
        }
        if self.search.as_ref().is_some_and(|s| s.typing) {
            return self.search_key(k);
        }
        self.preview = None;
        let Some(action) = self.keymap.action(&k) else { return Vec::new() };
        self.message = None;
        if self.help && !matches!(action, Action::Help | Action::Back | Action::Quit) {
            // The overlay scrolls; everything else waits until it closes.
            self.scroll_overlay(action);
            return Vec::new();
        }
        if self.inspect && !matches!(action, Action::Help | Action::Back | Action::Quit | Action::Inspect) {
            self.scroll_overlay(action);
            return Vec::new();
        }
        // The optimizer's pane and the compare screen's frontier pick take their keys first.
        if self.frontier.open
            && let Some(cmds) = self.frontier_pane_action(action)
        {
            return cmds;
        }
        if let Some(cmds) = self.compare_pick_action(action) {
            return cmds;
        }
        // The screen's own keys here; each mode's in its room.
        match action {
            Action::Quit => {
                self.quit = true;
                vec![Command::Cancel, Command::Quit]
            }
            Action::Help => {
                self.help = !self.help;
                self.help_scroll = 0;
                Vec::new()
            }
            Action::Back => {
                if self.help {
                    self.help = false;
                } else if self.inspect {
                    self.inspect = false;
                } else if self.search.is_some() {
                    self.search = None;
                } else if self.what_if.is_some() {
                    self.what_if = None;
                } else {
                    self.focus = Focus::Main;
                }
                Vec::new()
            }
            Action::Focus => {
                self.focus = if self.focus == Focus::Panel { Focus::Main } else { Focus::Panel };
                Vec::new()
            }
            Action::NextView | Action::PrevView => {
                let views = self.views();
                let i = views.iter().position(|v| *v == self.view).unwrap_or(0);
                let n = views.len();
                self.view = views[if action == Action::NextView { (i + 1) % n } else { (i + n - 1) % n }];
                self.focus = Focus::Main;
                Vec::new()
            }
            Action::Theme => {
                let i = BUILTIN.iter().position(|(n, _)| *n == self.theme.name).map_or(0, |i| (i + 1) % BUILTIN.len());
                if let Some(t) = Theme::builtin(BUILTIN[i].0) {
                    self.theme = if self.theme.mono { t.monochrome() } else { t };
                    self.message = Some(format!("theme {}", BUILTIN[i].0));
                }
                Vec::new()
            }
            Action::StartStop
            | Action::Pause
            | Action::Faster
            | Action::Slower
            | Action::Step
            | Action::SeekBack
            | Action::SeekForward
            | Action::NodeStart
            | Action::NodeEnd => self.playback_action(action),
            Action::WhatIf
            | Action::EditRules
            | Action::Pin
            | Action::NextStrategy
            | Action::Rerun
            | Action::RerunAll
            | Action::RerunNode
            | Action::OpenStrategy
            | Action::OpenFlow => self.tune_action(action),
            // `baton watch`'s screen handles it around the app.
            Action::Follow => Vec::new(),
            Action::Optimize => self.optimize_action(),
            Action::Apply => {
                self.message = Some("a applies a frontier point: F opens the search, or compare's frontier view".into());
                Vec::new()
            }
            Action::Runs => self.open_runs(),
            Action::Search | Action::SearchNext | Action::SearchPrev | Action::Copy | Action::CopyId => self.search_action(action),
            Action::Up
            | Action::Down
            | Action::Left
            | Action::Right
            | Action::First
            | Action::Last
            | Action::PageUp
            | Action::PageDown
            | Action::Zoom
            | Action::Expand
            | Action::PanLeft
            | Action::PanRight
            | Action::PanUp
            | Action::PanDown
            | Action::Critical
            | Action::Inspect => {
                self.nav_action(action);
                Vec::new()
            }
        }
    }

    /// What has the keys now, for the footer's hints.
    pub fn mode(&self) -> super::keymap::Mode {
        use super::keymap::Mode;
        if self.help {
            Mode::Help
        } else if self.inspect {
            Mode::Inspect
        } else if self.runs.is_some() {
            Mode::Runs
        } else if self.frontier.open {
            Mode::Optimize
        } else if self.focus == Focus::Panel {
            Mode::Panel
        } else if !self.others.is_empty() {
            Mode::Compare
        } else {
            match self.view {
                View::Timeline => Mode::Timeline,
                View::Log => Mode::Log,
                _ if self.replay.is_some() => Mode::Replay,
                _ if self.watched => Mode::Watched,
                _ => Mode::Graph,
            }
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
            BoxKey::Group(_, g) => st.nodes_summary(&self.siblings.members[g]).status,
        }
    }
}

pub fn speed_label(s: f64) -> String {
    if s >= 1.0 { format!("{s:.0}×") } else { format!("{s}×") }
}
