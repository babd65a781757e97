//! Plays a tape of run events against a clock. A simulated run is computed in virtual time
//! (exactly as `baton run` computes it) and revealed at the playhead's pace, so what the screen
//! shows at the end equals the headless report; a live run's events arrive in real time and
//! are shown as they come. A recording will play through the same type.

use std::time::Duration;

use crate::event::{Event, Outcome, RunEvent};
use crate::state::RunState;

/// Playback speeds, slowest to fastest.
pub const SPEEDS: &[f64] = &[0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

#[derive(Debug, Clone)]
pub struct Player {
    /// Every event known so far.
    pub events: Vec<RunEvent>,
    /// `events[..cursor]` are applied to `state`.
    pub cursor: usize,
    /// The simulated time on screen.
    pub playhead: Duration,
    pub speed: f64,
    pub paused: bool,
    /// Events arrive in real time (a live provider); the playhead follows them.
    pub live: bool,
    /// The tape holds its RunFinished (or was stopped).
    pub complete: bool,
    pub state: RunState,
    empty: RunState,
    /// Folded states at regular event counts, so seeking back never refolds from the start.
    checkpoints: Vec<(usize, RunState)>,
}

/// A checkpoint every this many events at least; more on long tapes so there are at most
/// [`MAX_CHECKPOINTS`] of them.
const CHECKPOINT_EVERY: usize = 4096;
const MAX_CHECKPOINTS: usize = 64;

impl Player {
    pub fn new(state: RunState, speed: f64, live: bool) -> Player {
        Player {
            events: Vec::new(),
            cursor: 0,
            playhead: Duration::ZERO,
            speed,
            paused: false,
            live,
            complete: false,
            empty: state.clone(),
            state,
            checkpoints: Vec::new(),
        }
    }

    /// Adds events to the tape (they are shown when the playhead reaches them).
    pub fn push(&mut self, events: impl IntoIterator<Item = RunEvent>) {
        for e in events {
            if matches!(e.kind, Event::RunFinished { .. }) {
                self.complete = true;
            }
            self.events.push(e);
        }
        if self.live {
            self.apply_until(Duration::MAX);
        }
    }

    /// The tape holds all it ever will (a recording, read whole): a run it does not finish
    /// was interrupted, and the clock stops at its last event.
    pub fn all_loaded(&mut self) {
        self.complete = true;
    }

    /// The end of what is known.
    pub fn tape_end(&self) -> Duration {
        self.events.last().map_or(Duration::ZERO, |e| e.at)
    }

    /// Everything on the tape has been shown.
    pub fn at_end(&self) -> bool {
        self.complete && self.cursor >= self.events.len()
    }

    /// Whether the clock should keep ticking.
    pub fn wants_ticks(&self) -> bool {
        !self.paused && !self.at_end()
    }

    /// Moves the playhead by `real` wall time at the current speed. Returns whether anything
    /// on screen changed.
    pub fn advance(&mut self, real: Duration) -> bool {
        if self.paused || self.at_end() {
            return false;
        }
        let step = if self.live { real } else { real.mul_f64(self.speed) };
        let mut target = self.playhead + step;
        if self.complete {
            target = target.min(self.tape_end());
        }
        self.playhead = target;
        self.apply_until(target);
        true
    }

    fn every(&self) -> usize {
        CHECKPOINT_EVERY.max(self.events.len() / MAX_CHECKPOINTS + 1)
    }

    fn apply_until(&mut self, t: Duration) {
        let every = self.every();
        while let Some(e) = self.events.get(self.cursor) {
            if e.at > t && !self.live {
                break;
            }
            self.state.apply(e);
            self.cursor += 1;
            if self.cursor.is_multiple_of(every) && self.checkpoints.last().is_none_or(|(c, _)| *c < self.cursor) {
                self.checkpoints.push((self.cursor, self.state.clone()));
            }
        }
        if self.live {
            self.playhead = self.playhead.max(self.state.now);
        }
    }

    /// Shows everything at once (for tests and "skip to end").
    pub fn finish(&mut self) {
        self.apply_until(Duration::MAX);
        self.playhead = self.playhead.max(self.tape_end());
    }

    /// Stops at the playhead: later events are dropped and the run ends as cancelled there.
    pub fn stop(&mut self) {
        self.events.truncate(self.cursor);
        let (run, attempt) = (self.state.run_id, self.state.attempt);
        let end =
            RunEvent { run, attempt, at: self.playhead.max(self.state.now), kind: Event::RunFinished { outcome: Outcome::Cancelled } };
        self.events.push(end.clone());
        self.state.apply(&end);
        self.cursor = self.events.len();
        self.complete = true;
    }

    /// Moves the playhead to `t`: forward by applying events, back from the nearest checkpoint
    /// (never from the start of the tape).
    pub fn seek(&mut self, t: Duration) {
        let t = if self.complete { t.min(self.tape_end()) } else { t };
        // Events up to `t` are the first `target` ones (the tape is in time order).
        let target = self.events.partition_point(|e| e.at <= t);
        // The nearest checkpoint at or before the target: jump to it when going back, or when
        // it is further along than where we are.
        let nearest = self.checkpoints.iter().rev().find(|(c, _)| *c <= target);
        if target < self.cursor || nearest.is_some_and(|(c, _)| *c > self.cursor) {
            match nearest {
                Some((c, st)) => {
                    self.state = st.clone();
                    self.cursor = *c;
                }
                None => {
                    self.state = self.empty.clone();
                    self.cursor = 0;
                }
            }
        }
        self.playhead = t;
        self.apply_until(t);
    }

    /// Shows exactly one more event and stops there.
    pub fn step(&mut self) {
        if let Some(e) = self.events.get(self.cursor) {
            let at = e.at;
            self.state.apply(e);
            self.cursor += 1;
            self.playhead = at;
        }
        self.paused = true;
    }

    /// The state after every event on the tape (whatever the playhead shows).
    pub fn final_state(&self) -> RunState {
        let mut st = self.state.clone();
        for e in &self.events[self.cursor..] {
            st.apply(e);
        }
        st
    }

    /// Builds every checkpoint now (a replay does this once when it opens).
    pub fn index(&mut self) {
        let head = self.playhead;
        self.apply_until(Duration::MAX);
        self.seek(head);
    }

    pub fn faster(&mut self) {
        if let Some(s) = SPEEDS.iter().find(|&&s| s > self.speed + 1e-9) {
            self.speed = *s;
        }
    }

    pub fn slower(&mut self) {
        if let Some(s) = SPEEDS.iter().rev().find(|&&s| s < self.speed - 1e-9) {
            self.speed = *s;
        }
    }
}

/// Where the scrub bar's track starts and how wide it is: drawing and clicking share it.
pub fn scrub_track(area: ratatui::layout::Rect, player: &Player) -> (u16, u16) {
    use super::fmt::dur;
    let left = format!(" {} ", dur(player.playhead)).chars().count() as u16;
    let right = format!(" {}  {}/{} events ", dur(player.tape_end()), player.cursor, player.events.len()).chars().count() as u16;
    (area.x + left, area.width.saturating_sub(left + right + 1))
}

/// The time a click at column `x` of the scrub bar points to, if it is on the track.
pub fn scrub_time(area: ratatui::layout::Rect, player: &Player, x: u16) -> Option<Duration> {
    let (x0, w) = scrub_track(area, player);
    if w < 2 || x < x0 || x >= x0 + w {
        return None;
    }
    let frac = f64::from(x - x0) / f64::from(w - 1);
    Some(player.tape_end().mul_f64(frac.clamp(0.0, 1.0)))
}
