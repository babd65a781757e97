//! The optimizer in the tuning session, and the compare screen's frontier pick.
//!
//! `F` starts `baton optimize`'s search over the task set the screen was opened with (`--tasks`,
//! or the sample task set named like the flow), off the UI thread: the loop runs it on its own
//! thread and sends its progress back as [`Msg::Optimizer`]. A pane shows the candidates, calls,
//! spend and the frontier so far; `a` (or Enter) applies the highlighted point as the working
//! strategy. Applying is a rules edit: the point's commented strategy file replaces the editor's
//! text as an edit of the text area, so `E` then ctrl-u undoes it (and ctrl-r applies the old
//! text again), and the screen's run keeps the strategy it ran under until `r`/`R`.
//!
//! In the compare screen the strategies compared are the points of the frontier chart: arrows
//! (or a click) pick one, `a` makes it the working strategy and runs it on this screen.

use std::sync::Arc;

use crate::optimize::{Config, Objective, Per};
use crate::routing::Strategy;
use crate::tui::app::{App, Command, Msg, View};
use crate::tui::keymap::Action;

impl From<OptimizerMsg> for Msg {
    fn from(m: OptimizerMsg) -> Msg {
        Msg::Optimizer(Box::new(m))
    }
}

pub use super::frontier_state::{Frontier, OptimizerMsg, TaskSet, sample_tasks_for};

impl App {
    /// `F`: start the search (or show it again, or, after it finished, search again under the
    /// working strategy).
    pub(crate) fn optimize_action(&mut self) -> Vec<Command> {
        if !self.others.is_empty() {
            self.message = Some("the search runs on the live screen of one flow: baton FLOW --tasks FILE".into());
            return Vec::new();
        }
        let f = &mut self.frontier;
        if f.running {
            f.open = true;
            return Vec::new();
        }
        if (f.outcome.is_some() || f.error.is_some()) && !f.open {
            f.open = true;
            return Vec::new();
        }
        let Some(ts) = f.tasks.clone() else {
            self.message =
                Some(format!("no task set to search over: open the screen with --tasks FILE (baton {} --tasks FILE)", self.flow.name));
            return Vec::new();
        };
        if !self.simulated && !f.confirm_live {
            f.confirm_live = true;
            f.open = true;
            self.message = Some(format!(
                "a live search calls real models (each task × node × model at most once, {} tasks); F again starts it, esc does not",
                ts.tasks.len()
            ));
            return Vec::new();
        }
        f.confirm_live = false;
        let cfg = Config {
            flow: self.flow.clone(),
            catalog: self.catalog.clone(),
            base: self.strategy.clone(),
            starts: vec![self.strategy.clone()],
            tasks: ts.tasks.as_ref().clone(),
            held_out: 0.3,
            models: Vec::new(),
            per: Per::Node,
            cascade: true,
            quality_floor: None,
            budget: self.strategy.budget,
            objective: Objective::Cost,
            max_candidates: 1000,
            seed: self.seed,
        };
        f.open = true;
        f.running = true;
        f.progress = None;
        f.outcome = None;
        f.error = None;
        f.selected = 0;
        f.started_from = Some(self.strategy.name.clone());
        f.search_id += 1;
        let id = f.search_id;
        self.message = Some(format!("searching {} over {} ({} tasks, 30% held out)", self.flow.name, ts.name, ts.tasks.len()));
        vec![Command::Optimize(Box::new(cfg), id)]
    }

    /// Keys while the pane is open; `None` lets the key through to the screen.
    pub(crate) fn frontier_pane_action(&mut self, action: Action) -> Option<Vec<Command>> {
        let n = self.frontier.points().len();
        let f = &mut self.frontier;
        match action {
            Action::Up => f.selected = f.selected.saturating_sub(1),
            Action::Down => f.selected = (f.selected + 1).min(n.saturating_sub(1)),
            Action::First => f.selected = 0,
            Action::Last => f.selected = n.saturating_sub(1),
            Action::Apply | Action::Focus => return Some(self.apply_frontier_point()),
            Action::Back => {
                if f.running {
                    f.running = false;
                    self.message = Some("search stopped; the frontier found so far stays (a applies a point, F searches again)".into());
                    return Some(vec![Command::StopOptimize]);
                }
                f.open = false;
                f.confirm_live = false;
            }
            Action::Optimize => {
                if f.running {
                    return Some(Vec::new());
                }
                f.open = false;
                f.outcome = None;
                f.error = None;
                f.progress = None;
                return Some(self.optimize_action());
            }
            _ => return None,
        }
        Some(Vec::new())
    }

    /// A report from the search thread.
    pub(crate) fn optimizer_msg(&mut self, m: OptimizerMsg) {
        let f = &mut self.frontier;
        let id = match &m {
            OptimizerMsg::Progress(id, _) | OptimizerMsg::Done(id, _) => *id,
        };
        if id != f.search_id {
            return;
        }
        match m {
            OptimizerMsg::Progress(_, p) => {
                if f.running {
                    f.progress = Some(p);
                    f.selected = f.selected.min(f.points().len().saturating_sub(1));
                }
            }
            OptimizerMsg::Done(_, r) if r.is_ok() => {
                let Ok(o) = *r else { return };
                f.running = false;
                // Start on the cheapest point at least as good as the strategy searched from.
                let reference = o.references.first().map(|r| r.search.quality.rate);
                f.selected =
                    reference.and_then(|q| o.frontier.iter().position(|p| p.search.quality.rate + 1e-12 >= q)).or(o.best).unwrap_or(0);
                f.suggested = Some(f.selected);
                let why = o.stats.stopped.as_ref().map(|s| format!(" (stopped: {s})")).unwrap_or_default();
                self.message = Some(format!(
                    "search done: {} candidates, {} on the frontier, {} model calls{why} · ▶ {} is the cheapest at least as good as {} · a applies it",
                    o.stats.candidates,
                    o.frontier.len(),
                    o.stats.model_calls,
                    f.selected + 1,
                    f.started_from.as_deref().unwrap_or("the start"),
                ));
                f.outcome = Some(Arc::new(o));
            }
            OptimizerMsg::Done(_, r) => {
                let Err(e) = *r else { return };
                f.running = false;
                self.message = Some(format!("the search failed: {e}"));
                f.error = Some(e);
            }
        }
    }

    /// Applies the highlighted point of a finished search (or the frontier so far) as the
    /// working strategy, through the rules editor so it can be undone there.
    pub(crate) fn apply_frontier_point(&mut self) -> Vec<Command> {
        let i = self.frontier.selected;
        let name = format!("found-{}", self.frontier.applied + 1);
        let text = match &self.frontier.outcome {
            Some(o) => crate::optimize::write::strategy_toml(o, i, &name, "F (search) on the screen"),
            None => None,
        };
        let Some(text) = text else {
            self.message = Some(if self.frontier.running {
                "the search is still going; a point can be applied once it finishes (esc stops it and keeps what it found)".into()
            } else {
                "no frontier point to apply yet: F searches".into()
            });
            return Vec::new();
        };
        self.frontier.applied += 1;
        self.frontier.open = false;
        self.replace_rules(&text, &format!("applied frontier point {} as {name}", i + 1));
        Vec::new()
    }

    /// Makes `text` the strategy, as an edit of the rules editor's text (E then ctrl-u undoes
    /// it), and says what applying it changes.
    pub(crate) fn replace_rules(&mut self, text: &str, what: &str) {
        self.open_editor();
        self.editor_open = false;
        let catalog = self.catalog.clone();
        let Some(ed) = self.editor.as_mut() else { return };
        ed.area.select_all();
        ed.area.insert_str(text.trim_end_matches('\n'));
        ed.dirty = true;
        ed.validate(&catalog);
        match ed.candidate.clone() {
            Some(s) => {
                self.preview = Some(self.apply_strategy(s));
                self.message = Some(format!("{what} · R reruns the flow under it · E shows its rules (ctrl-u there undoes, ctrl-s saves)"));
            }
            None => {
                let e = ed.error.as_ref().map(|e| e.to_string()).unwrap_or_default();
                self.message = Some(format!("{what} did not validate ({e}); the working strategy is unchanged"));
            }
        }
    }

    /// Compare mode, the frontier chart: arrows pick a strategy, `a` applies it.
    pub(crate) fn compare_pick_action(&mut self, action: Action) -> Option<Vec<Command>> {
        if self.others.is_empty() {
            return None;
        }
        let n = self.others.len() + 1;
        let f = &mut self.frontier;
        match action {
            Action::Apply if self.view != View::Frontier => {
                self.view = View::Frontier;
                self.message = Some("pick a strategy with the arrows (or a click), then a applies it".into());
            }
            Action::Apply => return Some(self.apply_compare_pick()),
            _ if self.view != View::Frontier => return None,
            Action::Left | Action::Up => f.compare_pick = (f.compare_pick + n - 1) % n,
            Action::Right | Action::Down => f.compare_pick = (f.compare_pick + 1) % n,
            _ => return None,
        }
        Some(Vec::new())
    }

    /// Leaves the comparison for the live screen of the picked strategy and runs it (live or
    /// simulated, as the comparison was).
    pub(crate) fn apply_compare_pick(&mut self) -> Vec<Command> {
        let k = self.frontier.compare_pick.min(self.others.len());
        let strategy: Arc<Strategy> = if k == 0 { self.strategy.clone() } else { self.other_specs[k - 1].strategy.clone() };
        // Later events of the runs being cancelled must not reach the new run's player.
        let last = self.players().map(|p| p.state.run_id).max().unwrap_or(self.run_id);
        let ids: Vec<u64> = self.players().map(|p| p.state.run_id).collect();
        self.retired.extend(ids);
        self.others.clear();
        self.other_specs.clear();
        self.view = View::Graph;
        self.replay = None;
        self.editor = None;
        self.apply_strategy(strategy.clone());
        self.run_id = last + 1;
        let spec = self.spec();
        let speed = self.player.speed;
        self.player = crate::tui::player::Player::new(crate::state::RunState::for_spec(&spec), speed, !self.simulated);
        self.previous = None;
        self.message =
            Some(format!("{} is the working strategy; running it {}", strategy.name, if self.simulated { "simulated" } else { "live" }));
        vec![Command::Cancel, Command::Start(Box::new(spec), None)]
    }

    /// A click in the compare screen's frontier chart picks the nearest point.
    pub(crate) fn compare_click(&mut self, column: u16, row: u16) -> bool {
        if self.others.is_empty() || self.view != View::Frontier {
            return false;
        }
        let a = self.areas().main;
        let charts = crate::tui::compare_view::chart_areas(a);
        let c = crate::tui::compare_view::comparison(self);
        for (chart, latency) in charts.into_iter().zip([false, true]) {
            let inside = column >= chart.x && column < chart.x + chart.width && row >= chart.y && row < chart.y + chart.height;
            if !inside {
                continue;
            }
            let pts = crate::tui::compare_view::plotted(&c, latency);
            let (px, py) = (
                f64::from(column - chart.x) / f64::from(chart.width.max(1)),
                1.0 - f64::from(row - chart.y) / f64::from(chart.height.max(1)),
            );
            // Only the points drawn can be picked.
            let nearest = pts
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.map(|p| (i, p)))
                .min_by(|(_, a), (_, b)| {
                    let d = |p: &(f64, f64)| (p.0 - px).powi(2) + (p.1 - py).powi(2);
                    d(a).total_cmp(&d(b))
                })
                .map(|(i, _)| i);
            if let Some(i) = nearest {
                self.frontier.compare_pick = i;
                self.message = Some(format!("picked {} · a applies it and runs it", c.strategies[i].strategy));
                return true;
            }
        }
        false
    }
}
