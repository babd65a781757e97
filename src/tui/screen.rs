//! What both full screens (`baton run`'s and `baton watch`'s) share: taking the terminal and
//! handing it back on every way out, a panic included, and the frame clock that draws at most
//! once a frame and ticks only while something moves.

use std::io::{self, Stdout};
use std::time::Duration;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::time::Instant;

/// The shortest time between two frames, and between two ticks.
pub(super) const FRAME: Duration = Duration::from_millis(33);

/// Hands the terminal back: cooked mode, the main screen, no mouse reports, the cursor shown.
pub(super) fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), DisableMouseCapture, LeaveAlternateScreen, crossterm::cursor::Show);
}

/// Takes the terminal (raw mode, the alternate screen, mouse reports), runs `body` on it on
/// the serving runtime, and hands the terminal back however `body` ends: returning, failing or
/// panicking (the panic is logged and then reported as before).
pub(super) fn on_terminal<T>(body: impl AsyncFnOnce(&mut Terminal<CrosstermBackend<Stdout>>) -> io::Result<T>) -> io::Result<T> {
    // Panic hook order: take the old hook, restore the terminal, then let the old hook report.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        super::log_line(&format!("panic: {info}"));
        previous(info);
    }));
    let rt = crate::engine::runtime::serving()?;
    enable_raw_mode()?;
    if let Err(e) = execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture) {
        restore_terminal();
        return Err(e);
    }
    let result = match Terminal::new(CrosstermBackend::new(io::stdout())) {
        Ok(mut terminal) => rt.block_on(body(&mut terminal)),
        Err(e) => Err(e),
    };
    restore_terminal();
    result
}

/// When to draw and when to tick. A change asks for a frame, drawn once [`FRAME`] has passed
/// since the last one, so a burst of events costs one frame. Ticks (playback, spinners) come a
/// frame apart, and only while the screen wants them: an idle screen sleeps.
pub(super) struct Frames {
    dirty: bool,
    next_frame: Instant,
    last_tick: Instant,
    ticking: bool,
}

impl Frames {
    /// The first frame is due at once.
    pub(super) fn new() -> Frames {
        let now = Instant::now();
        Frames { dirty: true, next_frame: now, last_tick: now, ticking: false }
    }

    /// Something on the screen changed: draw it at the next frame.
    pub(super) fn changed(&mut self) {
        self.dirty = true;
    }

    /// Whether a frame is due at `now`; if so it counts as drawn.
    pub(super) fn due(&mut self, now: Instant) -> bool {
        if !self.dirty || now < self.next_frame {
            return false;
        }
        self.dirty = false;
        self.next_frame = now + FRAME;
        true
    }

    /// Starts or stops the ticks as the screen wants them, and says when the next tick and the
    /// next frame are due (an hour away when none is).
    pub(super) fn plan(&mut self, wants_ticks: bool, now: Instant) -> (Instant, Instant) {
        if wants_ticks && !self.ticking {
            self.last_tick = Instant::now();
        }
        self.ticking = wants_ticks;
        let far = now + Duration::from_secs(3600);
        (if self.ticking { self.last_tick + FRAME } else { far }, if self.dirty { self.next_frame } else { far })
    }

    pub(super) fn ticking(&self) -> bool {
        self.ticking
    }

    pub(super) fn dirty(&self) -> bool {
        self.dirty
    }

    /// A tick came: the time since the one before, and a frame to draw what it moved.
    pub(super) fn tick(&mut self) -> Duration {
        let now = Instant::now();
        let since = now - self.last_tick;
        self.last_tick = now;
        self.dirty = true;
        since
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Changes within a frame share one; a screen that wants no ticks waits for nothing.
    #[tokio::test(start_paused = true)]
    async fn a_burst_of_changes_is_one_frame_and_an_idle_screen_sleeps() {
        let mut f = Frames::new();
        let t0 = Instant::now();
        assert!(f.due(t0), "the first frame is due at once");
        f.changed();
        f.changed();
        assert!(!f.due(t0 + FRAME / 2), "a second frame within the same frame time");
        let (tick_at, draw_at) = f.plan(false, t0 + FRAME / 2);
        assert_eq!(draw_at, t0 + FRAME);
        assert!(tick_at > t0 + Duration::from_secs(60), "ticks while nothing moves");
        assert!(f.due(t0 + FRAME));
        assert!(!f.due(t0 + 3 * FRAME), "nothing changed since");
        let (tick_at, draw_at) = f.plan(false, t0 + 3 * FRAME);
        assert!(tick_at > t0 + Duration::from_secs(60) && draw_at > t0 + Duration::from_secs(60), "an idle screen woke up");
        // Ticks start a frame after they are wanted, and each tick asks for a frame.
        tokio::time::advance(4 * FRAME).await;
        let now = Instant::now();
        let (tick_at, _) = f.plan(true, now);
        assert_eq!(tick_at, now + FRAME);
        tokio::time::advance(FRAME).await;
        assert_eq!(f.tick(), FRAME);
        assert!(f.dirty() && f.ticking());
        // The next tick is a frame after this one, however often the loop plans meanwhile.
        let ticked = Instant::now();
        assert_eq!(f.plan(true, ticked).0, ticked + FRAME);
        tokio::time::advance(FRAME / 2).await;
        assert_eq!(f.plan(true, Instant::now()).0, ticked + FRAME, "planning again moved the tick");
        // Ticks stop when nothing moves any more.
        let (tick_at, _) = f.plan(false, Instant::now());
        assert!(!f.ticking() && tick_at > Instant::now() + Duration::from_secs(60));
    }
}
