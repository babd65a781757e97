//! Where the engine's events go: a channel to another task (the live screen), or a function
//! called on the engine's own task (headless runs, where a channel would only add a hop).

use std::future::Future;

use tokio::sync::mpsc;

use crate::event::RunEvent;

/// Receives the engine's events, in the order they happen.
pub(super) trait Sink {
    /// Whether the sink only reads each event, so that [`Sink::show`] may hand it over instead
    /// of [`Sink::send`] and the caller keeps what it carries.
    const SHOWS: bool = false;

    /// Hands one event over; false once nobody listens any more.
    fn send(&self, ev: RunEvent) -> impl Future<Output = bool>;

    /// Shows one event, when [`Sink::SHOWS`]; does nothing otherwise.
    fn show(&self, _ev: &RunEvent) {}
}

impl Sink for mpsc::Sender<RunEvent> {
    async fn send(&self, ev: RunEvent) -> bool {
        mpsc::Sender::send(self, ev).await.is_ok()
    }
}

/// A sink that hands each event to a function as it is emitted.
pub(super) struct Inline<F>(pub(super) std::cell::RefCell<F>);

impl<F: FnMut(RunEvent)> Sink for Inline<F> {
    /// Handled before returning, so the future holds no event: every in-flight call embeds
    /// this future, and a wide fan-out has thousands of them.
    fn send(&self, ev: RunEvent) -> impl Future<Output = bool> {
        (self.0.borrow_mut())(ev);
        std::future::ready(true)
    }
}

/// A sink that shows each event to a function as it is emitted, and drops it: for what only
/// reads events (a fold, a recording). The event is not moved again to get there: handing
/// it on by value took two copies of each event (`perf`: a tenth of a simulated node).
pub(super) struct Show<F>(pub(super) std::cell::RefCell<F>);

impl<F: FnMut(&RunEvent)> Sink for Show<F> {
    const SHOWS: bool = true;

    #[inline]
    fn send(&self, ev: RunEvent) -> impl Future<Output = bool> {
        self.show(&ev);
        std::future::ready(true)
    }

    #[inline]
    fn show(&self, ev: &RunEvent) {
        (self.0.borrow_mut())(ev);
    }
}
