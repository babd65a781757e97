//! Where the engine's events go: a channel to another task (the live screen), or a function
//! called on the engine's own task (headless runs, where a channel would only add a hop).
//!
//! Emitting is never a wait. An event goes into a channel at once when there is room; when there
//! is not, it and every event after it queue on the engine's task until the scheduler hands them
//! over ([`Sink::flush`]) before it next waits for anything. So a full channel holds the run back
//! there and nowhere else, and nothing that emits keeps an event, or a send in progress, across
//! a wait.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use crate::event::RunEvent;

/// Receives the engine's events, in the order they happen.
pub(super) trait Sink {
    /// Whether the sink only reads each event, so that [`Sink::show`] may hand it over instead
    /// of [`Sink::send`] and the caller keeps what it carries.
    const SHOWS: bool = false;

    /// Takes one event; false once nobody listens any more.
    fn send(&self, ev: RunEvent) -> bool;

    /// Shows one event, when [`Sink::SHOWS`]; does nothing otherwise.
    fn show(&self, _ev: &RunEvent) {}

    /// Whether [`Sink::flush`] has something to do: events wait to be handed over, or the
    /// reader is gone and the run should learn it before it waits again.
    fn pending(&self) -> bool {
        false
    }

    /// Hands over every waiting event, waiting for room; false once nobody listens.
    fn flush(&self) -> impl Future<Output = bool> {
        std::future::ready(true)
    }
}

/// A channel to another task, with the events not yet handed over. (A lock rather than a
/// cell only so that the run's future may move between threads: one task uses it.)
pub(super) struct Channel {
    tx: mpsc::Sender<RunEvent>,
    queue: Mutex<VecDeque<RunEvent>>,
    closed: AtomicBool,
}

impl Channel {
    pub(super) fn new(tx: mpsc::Sender<RunEvent>) -> Channel {
        Channel { tx, queue: Mutex::new(VecDeque::new()), closed: AtomicBool::new(false) }
    }

    /// How many queued events' room is kept once the queue is empty.
    const KEEP: usize = 256;

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<RunEvent>> {
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Sink for Channel {
    fn send(&self, ev: RunEvent) -> bool {
        if self.closed.load(Ordering::Relaxed) {
            return false;
        }
        let mut queue = self.queue();
        // Behind queued events it waits its turn, so that the order holds.
        let ev = if queue.is_empty() {
            match self.tx.try_send(ev) {
                Ok(()) => return true,
                Err(TrySendError::Full(ev)) => ev,
                Err(TrySendError::Closed(_)) => {
                    self.closed.store(true, Ordering::Relaxed);
                    return false;
                }
            }
        } else {
            ev
        };
        queue.push_back(ev);
        true
    }

    fn pending(&self) -> bool {
        self.closed.load(Ordering::Relaxed) || !self.queue().is_empty()
    }

    async fn flush(&self) -> bool {
        loop {
            // Taken out before the wait: nothing holds the queue across it.
            let next = self.queue().pop_front();
            let Some(ev) = next else {
                // A burst (a fan-out's calls all streaming at once) is not kept for the run.
                self.queue().shrink_to(Self::KEEP);
                return !self.closed.load(Ordering::Relaxed);
            };
            if self.tx.send(ev).await.is_err() {
                self.closed.store(true, Ordering::Relaxed);
                self.queue().clear();
                return false;
            }
        }
    }
}

/// A sink that hands each event to a function as it is emitted.
pub(super) struct Inline<F>(pub(super) RefCell<F>);

impl<F: FnMut(RunEvent)> Sink for Inline<F> {
    #[inline]
    fn send(&self, ev: RunEvent) -> bool {
        (self.0.borrow_mut())(ev);
        true
    }
}

/// A sink that shows each event to a function as it is emitted, and drops it: for what only
/// reads events (a fold, a recording). The event is not moved again to get there: handing
/// it on by value took two copies of each event (`perf`: a tenth of a simulated node).
pub(super) struct Show<F>(pub(super) RefCell<F>);

impl<F: FnMut(&RunEvent)> Sink for Show<F> {
    const SHOWS: bool = true;

    #[inline]
    fn send(&self, ev: RunEvent) -> bool {
        self.show(&ev);
        true
    }

    #[inline]
    fn show(&self, ev: &RunEvent) {
        (self.0.borrow_mut())(ev);
    }
}
