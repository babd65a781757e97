//! Virtual time: the executor simulated runs are driven on, and the timers they wait on.
//!
//! A simulated run waits only on simulated time, so nothing needs a clock, a timer wheel or a
//! reactor: [`block_on`] polls the run until it waits, then jumps to the earliest timer and
//! wakes every timer due then, in the order they were set. This replaced a tokio runtime with a
//! paused clock, which cost about a microsecond a timer (park, advance the clock, turn the
//! wheel, wake) where this costs an insert into an ordered map and a removal: a re-priced
//! recording of a million events waits on a million timers.
//!
//! Time is kept as tokio kept it, in whole milliseconds from the start: a timer of `d` is due
//! `d` rounded up to the next millisecond from now. So every simulated figure is what it was.
//! Timers due at the same millisecond fire in the order they were set, which does not depend
//! on a timer wheel's layout.
//!
//! [`sleep`] and [`Start`] work on either clock: on virtual time inside [`block_on`], on
//! tokio's clock anywhere else (real providers, and anything driven by a tokio runtime).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// The timers of the run being driven on this thread.
#[derive(Default)]
struct Timers {
    /// Who to wake, by due millisecond and the order the timer was set in. A timer dropped
    /// before it is due takes itself out: the engine's deadlines nearly all are, and left in,
    /// they were most of what the set held.
    due: BTreeMap<(u64, u64), Waker>,
    next: u64,
}

thread_local! {
    static TIMERS: RefCell<Option<Timers>> = const { RefCell::new(None) };
    /// Milliseconds since [`block_on`] began, for the run being driven: a `Cell` apart from
    /// the timers, so that reading the clock (several times a call) takes no borrow of them.
    static NOW: Cell<u64> = const { Cell::new(0) };
}

fn with<R>(f: impl FnOnce(&mut Timers) -> R) -> Option<R> {
    TIMERS.with(|t| t.borrow_mut().as_mut().map(f))
}

/// Virtual time since [`block_on`] began, if this thread is inside it.
#[cfg(test)]
fn now() -> Option<Duration> {
    with(|_| Duration::from_millis(NOW.get()))
}

/// Whole milliseconds, rounded up, as tokio's timers count them.
pub(crate) fn millis_up(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// Wakes the thread driving [`block_on`].
struct Flag {
    woken: AtomicBool,
    thread: std::thread::Thread,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Drives `fut` to its end on virtual time: polls it until it waits, then moves time to the
/// next timer. A future waiting on something other than a timer (a wake from another thread)
/// parks the thread until that comes.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    /// Puts back whatever this thread had (timers and time), panic or not.
    struct Restore(Option<Timers>, u64);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            NOW.set(self.1);
            TIMERS.with(|t| *t.borrow_mut() = outer);
        }
    }
    let _restore = Restore(TIMERS.with(|t| t.borrow_mut().replace(Timers::default())), NOW.replace(0));
    let flag = Arc::new(Flag { woken: AtomicBool::new(true), thread: std::thread::current() });
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    let mut due = Vec::new();
    loop {
        if flag.woken.swap(false, Ordering::Acquire)
            && let Poll::Ready(out) = fut.as_mut().poll(&mut cx)
        {
            return out;
        }
        if flag.woken.load(Ordering::Acquire) {
            continue;
        }
        with(|t| t.fire_next(&mut due));
        if due.is_empty() {
            // Nothing to wait for in virtual time: whatever comes, comes from elsewhere.
            while !flag.woken.load(Ordering::Acquire) {
                std::thread::park();
            }
        }
        // Woken outside the borrow: a waker may drop a timer.
        due.drain(..).for_each(Waker::wake);
    }
}

impl Timers {
    /// Moves time to the earliest live timer and takes every waker due then, in the order
    /// they were set.
    fn fire_next(&mut self, out: &mut Vec<Waker>) {
        let Some((&(at, _), _)) = self.due.first_key_value() else { return };
        while let Some(entry) = self.due.first_entry()
            && entry.key().0 == at
        {
            out.push(entry.remove());
        }
        NOW.set(NOW.get().max(at));
    }
}

/// A virtual timer: due at a millisecond, set when first polled.
#[derive(Debug)]
struct Virtual {
    due: u64,
    seq: Option<u64>,
}

impl Virtual {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let ready = with(|t| {
            if NOW.get() >= self.due {
                if let Some(seq) = self.seq.take() {
                    t.due.remove(&(self.due, seq));
                }
                return true;
            }
            match self.seq {
                Some(seq) => {
                    if let Some(w) = t.due.get_mut(&(self.due, seq))
                        && !w.will_wake(cx.waker())
                    {
                        w.clone_from(cx.waker());
                    }
                }
                None => {
                    let seq = t.next;
                    t.next += 1;
                    t.due.insert((self.due, seq), cx.waker().clone());
                    self.seq = Some(seq);
                }
            }
            false
        });
        // Outside `block_on` nothing would ever fire it: as good as due.
        if ready.unwrap_or(true) { Poll::Ready(()) } else { Poll::Pending }
    }
}

impl Drop for Virtual {
    fn drop(&mut self) {
        if let Some(seq) = self.seq {
            // The thread-local is gone only when the thread ends.
            let _ = TIMERS.try_with(|t| {
                if let Ok(mut t) = t.try_borrow_mut()
                    && let Some(t) = t.as_mut()
                {
                    t.due.remove(&(self.due, seq));
                }
            });
        }
    }
}

/// A wait on whichever clock drives this thread.
#[derive(Debug)]
pub struct Sleep(Wait);

#[derive(Debug)]
enum Wait {
    Virtual(Virtual),
    Tokio(Pin<Box<tokio::time::Sleep>>),
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.0 {
            Wait::Virtual(v) => v.poll(cx),
            Wait::Tokio(s) => s.as_mut().poll(cx),
        }
    }
}

/// Waits `d`: on virtual time in a simulated run, on tokio's clock elsewhere. A provider that
/// simulates a wait must wait with this: a simulated run is driven on virtual time, where a
/// tokio timer has no runtime to fire it.
pub fn sleep(d: Duration) -> Sleep {
    match with(|_| NOW.get().saturating_add(millis_up(d))) {
        Some(due) => Sleep(Wait::Virtual(Virtual { due, seq: None })),
        None => Sleep(Wait::Tokio(Box::pin(tokio::time::sleep(d)))),
    }
}

/// When a run started, on whichever clock drives it: the engine's clock. Every time the run
/// reports or waits for is measured from here. On virtual time the start is a whole
/// millisecond, so a moment `at` after it is due at `start + at` rounded up, as on tokio's.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Start {
    /// Milliseconds of virtual time at the run's start.
    Virtual(u64),
    Tokio(tokio::time::Instant),
}

impl Start {
    /// Now, on whichever clock drives this thread.
    pub(crate) fn now() -> Start {
        match with(|_| NOW.get()) {
            Some(ms) => Start::Virtual(ms),
            None => Start::Tokio(tokio::time::Instant::now()),
        }
    }

    /// Time since this start.
    #[inline]
    pub(crate) fn elapsed(&self) -> Duration {
        match self {
            // A virtual start is only made inside `block_on`, whose time `NOW` is.
            Start::Virtual(ms) => Duration::from_millis(NOW.get().saturating_sub(*ms)),
            Start::Tokio(i) => i.elapsed(),
        }
    }

    /// A wait until `at` after this start.
    pub(crate) fn sleep_until(&self, at: Duration) -> Sleep {
        match self {
            Start::Virtual(ms) => Sleep(Wait::Virtual(Virtual { due: ms.saturating_add(millis_up(at)), seq: None })),
            Start::Tokio(i) => Sleep(Wait::Tokio(Box::pin(tokio::time::sleep_until(*i + at)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_jumps_to_each_timer_rounded_up_to_the_millisecond() {
        let seen = block_on(async {
            let mut seen = Vec::new();
            sleep(Duration::from_micros(1500)).await;
            seen.push(now().expect("inside block_on"));
            sleep(Duration::ZERO).await;
            seen.push(now().expect("inside block_on"));
            sleep(Duration::from_millis(3)).await;
            seen.push(now().expect("inside block_on"));
            seen
        });
        assert_eq!(seen, [Duration::from_millis(2), Duration::from_millis(2), Duration::from_millis(5)]);
        assert_eq!(now(), None, "the thread's timers are gone after block_on");
    }

    #[test]
    fn timers_due_together_fire_in_the_order_they_were_set() {
        use futures::StreamExt;
        let order = block_on(async {
            let mut set = futures::stream::FuturesUnordered::new();
            // Set in this order; all due at 10 ms except the first, due at 11.
            for (k, us) in [(0u32, 10_200u64), (1, 9_500), (2, 10_000), (3, 9_001)] {
                set.push(async move {
                    sleep(Duration::from_micros(us)).await;
                    (k, now().expect("inside block_on"))
                });
            }
            let mut out = Vec::new();
            while let Some(x) = set.next().await {
                out.push(x);
            }
            out
        });
        let ms = Duration::from_millis;
        assert_eq!(order, [(1, ms(10)), (2, ms(10)), (3, ms(10)), (0, ms(11))]);
    }

    #[test]
    fn a_dropped_timer_never_fires_and_the_answer_beats_a_deadline_due_with_it() {
        // The race a try runs for its next chunk (`attempt::Attempt::next_item`; through the
        // engine, `tests/engine.rs`): the answer is asked first.
        async fn timeout<F: Future + Unpin>(mut deadline: Sleep, mut fut: F) -> Result<F::Output, ()> {
            std::future::poll_fn(move |cx| {
                if let Poll::Ready(v) = Pin::new(&mut fut).poll(cx) {
                    return Poll::Ready(Ok(v));
                }
                Pin::new(&mut deadline).poll(cx).map(Err)
            })
            .await
        }
        let (late, tie, early) = block_on(async {
            let start = Start::now();
            // Dropped before it is due: time does not stop there.
            let _ = futures::FutureExt::now_or_never(sleep(Duration::from_millis(1)));
            let late = timeout(start.sleep_until(Duration::from_millis(5)), Box::pin(sleep(Duration::from_millis(7)))).await;
            let late = late.map(|_| start.elapsed()).map_err(|_| start.elapsed());
            let t = start.elapsed();
            let tie = timeout(start.sleep_until(t + Duration::from_millis(4)), Box::pin(sleep(Duration::from_millis(4)))).await;
            let early = timeout(start.sleep_until(Duration::from_millis(100)), Box::pin(sleep(Duration::from_millis(1)))).await;
            (late, tie.is_ok(), early.map(|_| start.elapsed()))
        });
        assert_eq!(late, Err(Duration::from_millis(5)), "the deadline ended the wait at 5 ms");
        assert!(tie, "both due at 9 ms: the answer wins");
        assert_eq!(early, Ok(Duration::from_millis(10)));
    }

    /// A run's clock (its `Start`) on tokio's clock, as a run with a real provider has it.
    #[tokio::test(start_paused = true)]
    async fn on_tokio_the_start_is_tokios() {
        let start = Start::now();
        tokio::time::advance(Duration::from_millis(5)).await;
        assert_eq!(start.elapsed(), Duration::from_millis(5));
        start.sleep_until(Duration::from_millis(9)).await;
        assert_eq!(start.elapsed(), Duration::from_millis(9));
    }

    #[test]
    fn on_virtual_time_the_start_is_virtual() {
        let seen = block_on(async {
            sleep(Duration::from_millis(3)).await;
            let start = Start::now();
            sleep(Duration::from_micros(1200)).await;
            let a = start.elapsed();
            start.sleep_until(Duration::from_millis(7)).await;
            (a, start.elapsed())
        });
        assert_eq!(seen, (Duration::from_millis(2), Duration::from_millis(7)));
    }

    #[test]
    fn a_run_driven_inside_another_leaves_the_outer_clock_as_it_was() {
        let (inner, outer) = block_on(async {
            sleep(Duration::from_millis(3)).await;
            let start = Start::now();
            let inner = block_on(async {
                let start = Start::now();
                sleep(Duration::from_millis(10)).await;
                start.elapsed()
            });
            (inner, start.elapsed())
        });
        assert_eq!(inner, Duration::from_millis(10));
        assert_eq!(outer, Duration::ZERO, "the inner run's time leaked into the outer clock");
    }

    #[test]
    fn a_wake_from_another_thread_is_waited_for() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let _ = tx.send(7);
        });
        assert_eq!(block_on(rx).ok(), Some(7));
        let _ = t.join();
    }
}
