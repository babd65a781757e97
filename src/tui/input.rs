//! Terminal input on a thread of its own that can be paused. crossterm's `EventStream` keeps
//! reading stdin after it is dropped, so while $EDITOR runs it would steal the editor's keys and
//! the terminal's answers to the editor's queries (the cursor position report, `ESC [ 1 ; 1 R`,
//! that then turned up at the shell prompt). This reader polls in short slices and, when
//! paused, stops touching stdin until resumed.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event};
use tokio::sync::mpsc;

/// How long one poll may block: the longest a pause waits for the reader to let go.
const SLICE: Duration = Duration::from_millis(20);

pub struct Input {
    pub rx: mpsc::UnboundedReceiver<io::Result<Event>>,
    paused: Arc<AtomicBool>,
    /// Set by the reader once it is between polls with the pause seen.
    idle: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Input {
    pub fn start() -> Input {
        let (tx, rx) = mpsc::unbounded_channel();
        let paused = Arc::new(AtomicBool::new(false));
        let idle = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, i, s) = (paused.clone(), idle.clone(), stop.clone());
        let _ = std::thread::Builder::new().name("baton-input".into()).spawn(move || {
            while !s.load(Ordering::SeqCst) {
                if p.load(Ordering::SeqCst) {
                    i.store(true, Ordering::SeqCst);
                    std::thread::sleep(SLICE);
                    continue;
                }
                i.store(false, Ordering::SeqCst);
                let next = match event::poll(SLICE) {
                    Ok(true) => event::read(),
                    Ok(false) => continue,
                    Err(e) => Err(e),
                };
                let failed = next.is_err();
                if tx.send(next).is_err() || failed {
                    return;
                }
            }
        });
        Input { rx, paused, idle, stop }
    }

    /// Stops reading stdin, and returns once the reader has let go of it (or after a second).
    pub fn pause(&self) {
        self.idle.store(false, Ordering::SeqCst);
        self.paused.store(true, Ordering::SeqCst);
        let start = Instant::now();
        while !self.idle.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(1) {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
