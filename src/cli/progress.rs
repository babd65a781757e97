//! The progress bar on stderr for batches and compares: tasks done of total, cost so far, ETA.
//! It appears only for work that takes more than a moment (a second), only when stderr is a
//! terminal, and never with `--quiet`; it clears itself when the work ends, so the report that
//! follows is all that stays on screen.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::money::Money;
use crate::progress::{Progress, Silent};

/// How long work runs before the bar shows: quicker work finishes without one.
const DELAY: Duration = Duration::from_secs(1);

/// The bar's text after the counts.
fn message(cost: Money) -> String {
    format!("{} so far", cost.compact())
}

pub struct Bar {
    bar: ProgressBar,
    /// Cost so far, and whether the work has ended (the bar never shows after that).
    state: Arc<Mutex<(Money, bool)>>,
    target: fn() -> ProgressDrawTarget,
    delay: Duration,
}

impl Bar {
    fn new(target: fn() -> ProgressDrawTarget, delay: Duration) -> Bar {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template("{prefix} [{bar:24}] {pos}/{len} · {msg} · ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        Bar { bar, state: Arc::new(Mutex::new((Money::ZERO, false))), target, delay }
    }
}

/// The progress hook for a command: a bar on stderr when it is a terminal and not `quiet`,
/// else nothing at all.
pub fn for_stderr(quiet: bool) -> Box<dyn Progress> {
    if quiet || !std::io::stderr().is_terminal() {
        return Box::new(Silent);
    }
    Box::new(Bar::new(ProgressDrawTarget::stderr, DELAY))
}

/// Puts the bar on its target, unless the work has ended.
fn show(bar: &ProgressBar, state: &Mutex<(Money, bool)>, target: fn() -> ProgressDrawTarget) {
    let st = state.lock().unwrap_or_else(|e| e.into_inner());
    if !st.1 {
        bar.set_draw_target(target());
        bar.enable_steady_tick(Duration::from_millis(250));
    }
}

impl Progress for Bar {
    fn begin(&self, what: &str, total: u64) {
        self.bar.set_length(total);
        self.bar.set_prefix(crate::sanitize::for_terminal(what).into_owned());
        self.bar.set_message(message(Money::ZERO));
        self.bar.reset_eta();
        let (bar, state, target, delay) = (self.bar.clone(), self.state.clone(), self.target, self.delay);
        // Shown after the delay, unless the work is over by then.
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            show(&bar, &state, target);
        });
    }

    fn advance(&self, cost: Money) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.0 += cost;
        self.bar.set_message(message(st.0));
        self.bar.inc(1);
    }

    fn end(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.1 = true;
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::InMemoryTerm;

    #[test]
    fn the_bar_shows_tasks_done_of_total_cost_so_far_and_eta() {
        static TERM: std::sync::OnceLock<InMemoryTerm> = std::sync::OnceLock::new();
        let term = TERM.get_or_init(|| InMemoryTerm::new(4, 120));
        fn target() -> ProgressDrawTarget {
            ProgressDrawTarget::term_like(Box::new(TERM.get().cloned().unwrap_or_else(|| InMemoryTerm::new(4, 120))))
        }
        // The delay is not waited for here: `show` is what the delayed thread calls.
        let bar = Bar::new(target, Duration::from_secs(3600));
        bar.begin("smart: tasks", 4);
        bar.advance(Money::from_usd(0.25));
        assert_eq!(term.contents(), "", "hidden until shown");
        show(&bar.bar, &bar.state, target);
        bar.advance(Money::from_usd(0.5));
        bar.bar.force_draw();
        let text = term.contents();
        assert!(text.contains("2/4"), "{text}");
        assert!(text.contains("smart: tasks"), "{text}");
        assert!(text.contains("$0.7500 so far"), "{text}");
        assert!(text.contains("ETA"), "{text}");
        bar.end();
        assert!(!term.contents().contains("2/4"), "cleared at the end: {:?}", term.contents());
    }

    #[test]
    fn work_over_before_the_delay_never_shows() {
        static TERM: std::sync::OnceLock<InMemoryTerm> = std::sync::OnceLock::new();
        let term = TERM.get_or_init(|| InMemoryTerm::new(4, 120));
        fn target() -> ProgressDrawTarget {
            ProgressDrawTarget::term_like(Box::new(TERM.get().cloned().unwrap_or_else(|| InMemoryTerm::new(4, 120))))
        }
        let bar = Bar::new(target, Duration::from_secs(3600));
        bar.begin("tasks", 2);
        bar.advance(Money::ZERO);
        bar.advance(Money::ZERO);
        bar.end();
        // The delayed thread, waking after the end, leaves it hidden.
        show(&bar.bar, &bar.state, target);
        bar.bar.force_draw();
        assert_eq!(term.contents(), "");
    }
}
