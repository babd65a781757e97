//! Playback: starting and stopping runs, pause, speed, stepping and seeking over the tape.

use std::time::Duration;

use super::app::{App, Command, speed_label};
use super::keymap::Action;
use super::layout::BoxKey;
use super::player::Player;
use crate::state::{RunState, RunStatus};

impl App {
    /// Playback keys: start and stop, pause, speed, step, seek.
    pub(super) fn playback_action(&mut self, action: Action) -> Vec<Command> {
        match action {
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
                    BoxKey::Node(_) | BoxKey::Group(..) => None,
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
            _ => {}
        }
        Vec::new()
    }

    pub(super) fn start_stop(&mut self) -> Vec<Command> {
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
            // Finished, stopped or never started: run again. After a stop, only what had
            // completed on screen is reused: a simulated run computes ahead of the playhead,
            // and the session cache must not hand back what the user never saw finish.
            let stopped = self.player.state.status == RunStatus::Finished(crate::event::Outcome::Cancelled);
            self.run_id += 1;
            let mut spec = self.spec();
            let mut note = String::new();
            if stopped {
                let kept = crate::record::RecordedOutputs::from_state(&self.player.state, &Default::default());
                note = format!(": the {} node(s) that completed before the stop are reused, the rest run again", kept.len());
                spec.store = Some(std::sync::Arc::new(kept));
            }
            let state = RunState::for_spec(&spec);
            let speed = self.player.speed;
            self.player = Player::new(state, speed, !self.simulated);
            self.message = Some(format!("run {} started{note}", self.run_id));
            return vec![Command::Start(Box::new(spec), None)];
        }
        self.player.stop();
        self.message = Some("run stopped; s to run again".into());
        vec![Command::Cancel]
    }
}
