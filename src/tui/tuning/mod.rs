//! Tuning while watching: the rules editor, the model picker and pin, switching strategy,
//! reruns, the what-if re-pricing of a replay, and files edited in $EDITOR or on disk.

use std::sync::Arc;

use crossterm::event::KeyEvent;

use crate::routing::Strategy;
use crate::state::RunState;
use crate::tui::app::{App, Command, Loaded, Written};
use crate::tui::keymap::Action;
use crate::tui::layout::BoxKey;
use crate::tui::player::Player;

pub mod editor;
pub mod editor_view;
pub mod frontier;
pub mod frontier_state;
pub mod frontier_view;

impl App {
    /// Tuning keys: the rules editor, pin, switch strategy, what-if, reruns, $EDITOR.
    pub(super) fn tune_action(&mut self, action: Action) -> Vec<Command> {
        match action {
            Action::WhatIf => return self.what_if(),
            Action::EditRules => self.open_editor(),
            Action::Pin => {
                let idx = self.strategy_model_index();
                self.picker = Some(idx);
            }
            Action::NextStrategy => return self.next_strategy(),
            Action::Rerun | Action::RerunAll | Action::RerunNode => return self.rerun(action),
            Action::OpenStrategy => return self.open_external(false),
            Action::OpenFlow => return self.open_external(true),
            _ => {}
        }
        Vec::new()
    }

    /// The catalog row of the model the selected node got (the picker starts there).
    pub(super) fn strategy_model_index(&self) -> usize {
        let model = self.unit_for_box(self.selected).and_then(|u| self.player.state.units[u].model.clone());
        model.and_then(|m| self.catalog.index_of(&m)).unwrap_or(0)
    }

    /// The strategy's text as the user knows it: the editor's draft, or the file as loaded.
    pub(super) fn strategy_text(&self) -> String {
        match &self.editor {
            Some(e) => e.text(),
            None => self.strategy.source_text.clone(),
        }
    }

    pub(super) fn open_editor(&mut self) {
        if self.editor.is_none() {
            let name = self.strategy_path.as_ref().map_or_else(|| self.strategy.source_name.clone(), |p| p.display().to_string());
            self.editor = Some(editor::Editor::new(&name, &self.strategy.source_text, &self.catalog));
        }
        self.editor_open = true;
    }

    pub(super) fn editor_key(&mut self, k: KeyEvent) -> Vec<Command> {
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
            (KeyCode::Char('s'), true) => return self.save_strategy(),
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

    /// Makes `s` the working strategy: the next run or rerun routes with it. The run on the
    /// screen keeps the strategy it ran under, so its figures and its routing explanations are
    /// of the decisions that were made; the header marks the new one as not yet run.
    /// Until then the header also shows what the attempt on the screen would have cost under
    /// it: the same token counts routed and priced by the new strategy (a what-if, labelled so).
    /// Returns that preview, for the callers that show what the switch changes.
    pub fn apply_strategy(&mut self, s: Arc<Strategy>) -> crate::tuning::Preview {
        let shown = self.player.final_state();
        let preview = crate::tuning::preview(&shown, &s);
        self.projection = (self.others.is_empty() && shown.totals.done + shown.totals.cached > 0).then_some(preview.cost_after);
        self.strategy = s;
        preview
    }

    /// Asks for the editor's text to be written to the strategy's file (a sample is saved
    /// beside the current directory under its name). A failed write leaves the text in the
    /// editor; [`App::wrote`] says how it went.
    pub(super) fn save_strategy(&mut self) -> Vec<Command> {
        let Some(ed) = self.editor.as_ref() else { return Vec::new() };
        let path = self.strategy_path.clone().unwrap_or_else(|| std::path::PathBuf::from(format!("{}.toml", self.strategy.name)));
        vec![Command::Write { path, text: ed.text(), then: Written::SavedStrategy { sample: self.strategy_path.is_none() } }]
    }

    /// A file was written (or not): finish what asked for it.
    pub(super) fn wrote(&mut self, path: std::path::PathBuf, then: Written, result: Loaded<()>) -> Vec<Command> {
        match (then, result) {
            (Written::SavedStrategy { sample }, Ok(())) => {
                if let Some(ed) = self.editor.as_mut() {
                    ed.dirty = false;
                    ed.name = path.display().to_string();
                }
                self.strategy_path = Some(path.clone());
                self.message = Some(if sample {
                    format!("saved {} (the built-in sample is unchanged; run with -s {})", path.display(), path.display())
                } else {
                    format!("saved {}", path.display())
                });
            }
            (Written::SavedStrategy { .. }, Err(e)) => {
                self.message = Some(format!("cannot save {}: {e}; your edit stays in the editor", path.display()))
            }
            (Written::Pinned { node, model }, result) => {
                let saved = match result {
                    Ok(()) => format!(", saved to {}", path.display()),
                    Err(e) => {
                        if let Some(ed) = self.editor.as_mut() {
                            ed.dirty = true;
                        }
                        format!(", but {} could not be written ({e}); E shows the edit", path.display())
                    }
                };
                self.message = Some(format!("pinned {node} to {model}{saved} · r reruns it and downstream"));
            }
            (Written::ThenEdit { flow }, Ok(())) => {
                if flow {
                    self.flow_path = Some(path.clone());
                } else {
                    self.strategy_path = Some(path.clone());
                }
                return vec![Command::EditFile(path)];
            }
            (Written::ThenEdit { .. }, Err(e)) => self.message = Some(format!("cannot write {}: {e}", path.display())),
        }
        Vec::new()
    }

    pub(super) fn picker_key(&mut self, k: KeyEvent) -> Vec<Command> {
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
                return self.pin(&node, &model);
            }
            _ => {}
        }
        Vec::new()
    }

    /// Routes `node` to `model` with a first rule in the strategy, keeping the file's comments,
    /// and applies it; when the strategy is a file, asks for it to be saved.
    pub fn pin(&mut self, node: &str, model: &str) -> Vec<Command> {
        let text = match crate::tuning::pin(&self.strategy_text(), node, model) {
            Ok(t) => t,
            Err(e) => {
                self.message = Some(format!("cannot pin: {e}"));
                return Vec::new();
            }
        };
        let name = self.strategy_path.as_ref().map_or_else(|| self.strategy.source_name.clone(), |p| p.display().to_string());
        match Strategy::parse(&crate::diag::Source::new(name.clone(), text.clone()), &self.catalog) {
            Ok((s, _)) => {
                let s = Arc::new(s);
                self.preview = Some(self.apply_strategy(s));
                self.editor = Some(editor::Editor::new(&name, &text, &self.catalog));
                if let Some(ed) = self.editor.as_mut() {
                    ed.dirty = self.strategy_path.is_none();
                }
                match &self.strategy_path {
                    Some(p) => {
                        return vec![Command::Write {
                            path: p.clone(),
                            text,
                            then: Written::Pinned { node: node.to_string(), model: model.to_string() },
                        }];
                    }
                    None => self.message = Some(format!("pinned {node} to {model} · r reruns it and downstream")),
                }
            }
            Err(d) => {
                self.message = Some(format!("the pin does not validate: {}", d.first().map(|x| x.message.clone()).unwrap_or_default()))
            }
        }
        Vec::new()
    }

    /// Asks for the next strategy in the list (next to the flow, then the samples).
    pub(super) fn next_strategy(&self) -> Vec<Command> {
        vec![Command::LoadNextStrategy {
            current: self.strategy.name.clone(),
            flow_path: self.flow_path.clone(),
            catalog: self.catalog.clone(),
        }]
    }

    /// The next strategy arrived: preview what it changes and make it the working one.
    pub(super) fn strategy_loaded(&mut self, r: Loaded<(Arc<Strategy>, Option<std::path::PathBuf>, String)>) {
        match r {
            Ok((s, path, name)) => {
                self.strategy_path = path;
                self.editor = None;
                self.preview = Some(self.apply_strategy(s));
                self.message = Some(format!("strategy {name} · R reruns the flow under it"));
            }
            Err(e) => self.message = Some(e),
        }
    }

    /// Reruns as a new attempt: nodes outside the rerun keep the previous attempt's outputs,
    /// nodes inside it are served from the cache when their key is unchanged and run when not.
    pub(super) fn rerun(&mut self, action: Action) -> Vec<Command> {
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
    pub(super) fn open_external(&mut self, flow: bool) -> Vec<Command> {
        let (path, text, name) = if flow {
            (self.flow_path.clone(), self.flow.source_text.clone(), self.flow.name.clone())
        } else {
            (self.strategy_path.clone(), self.strategy_text(), self.strategy.name.clone())
        };
        match path {
            Some(p) => vec![Command::EditFile(p)],
            None => vec![Command::Write { path: std::path::PathBuf::from(format!("{name}.toml")), text, then: Written::ThenEdit { flow } }],
        }
    }

    /// A watched file changed: reload it; an invalid file is reported with its line and the
    /// last valid version stays in use.
    pub(super) fn file_read(&mut self, path: &std::path::Path, src: Result<crate::diag::Source, crate::diag::Diagnostics>) -> Vec<Command> {
        let src = match src {
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
                    self.preview = Some(self.apply_strategy(s));
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
                    self.siblings = super::layout::Siblings::of_flow(&self.flow);
                    self.folded = self.siblings.default_folds();
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

    /// Asks for the replayed run re-priced under the next strategy in the list.
    pub(super) fn what_if(&mut self) -> Vec<Command> {
        let Some(rec) = self.replay.clone() else {
            self.message = Some("what-if works on replays: baton replay FILE".into());
            return Vec::new();
        };
        vec![Command::Reprice { recording: rec, after: self.what_if.as_ref().map(|(_, i)| *i) }]
    }
}
