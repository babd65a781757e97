//! Quality you can measure: pass rates with confidence intervals, and whether two rates can be
//! told apart on the tasks measured; and the checks a task set carries (see `checks`).
//!
//! A pass rate over n tasks is an estimate. Its interval is the Wilson score interval at 95%,
//! which stays inside [0, 1] and behaves at 0 and n passes, where the textbook normal interval
//! does not. Two rates are "not distinguishable" when Newcombe's interval for their difference
//! (built from the two Wilson intervals) contains zero.

pub mod checks;
pub mod judge;
pub mod schema;
pub mod similar;

use serde::Serialize;

use crate::event::Outcome;
use crate::state::{RunState, RunStatus};

/// z for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// A pass rate with its 95% Wilson interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Rate {
    pub passed: usize,
    pub total: usize,
    /// `passed / total`; 0 when nothing was measured.
    pub rate: f64,
    pub low: f64,
    pub high: f64,
}

impl Rate {
    pub fn new(passed: usize, total: usize) -> Rate {
        let (low, high) = wilson(passed, total);
        Rate { passed, total, rate: if total == 0 { 0.0 } else { passed as f64 / total as f64 }, low, high }
    }

    /// `98.6% [97.7–99.2]`, or `-` when nothing was measured.
    pub fn label(&self) -> String {
        if self.total == 0 {
            return "-".to_string();
        }
        format!("{:.1}% [{:.1}–{:.1}]", self.rate * 100.0, self.low * 100.0, self.high * 100.0)
    }
}

/// The 95% Wilson score interval of `passed` out of `total` (`(0, 1)` when `total` is 0: nothing
/// is known).
pub fn wilson(passed: usize, total: usize) -> (f64, f64) {
    if total == 0 {
        return (0.0, 1.0);
    }
    let n = total as f64;
    let p = passed.min(total) as f64 / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// How rate `a` stands against rate `b` on the tasks measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Better,
    Worse,
    /// The 95% interval of the difference contains zero: this task set cannot tell them apart.
    NotDistinguishable,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NotDistinguishable => "not distinguishable",
        }
    }
}

/// Newcombe's hybrid score interval (method 10) for `a.rate - b.rate`, at 95%.
pub fn difference(a: &Rate, b: &Rate) -> (f64, f64) {
    let d = a.rate - b.rate;
    let lo = d - ((a.rate - a.low).powi(2) + (b.high - b.rate).powi(2)).sqrt();
    let hi = d + ((a.high - a.rate).powi(2) + (b.rate - b.low).powi(2)).sqrt();
    (lo, hi)
}

/// Whether `a` is better, worse, or not distinguishable from `b`.
pub fn verdict(a: &Rate, b: &Rate) -> Verdict {
    if a.total == 0 || b.total == 0 {
        return Verdict::NotDistinguishable;
    }
    let (lo, hi) = difference(a, b);
    if lo > 0.0 {
        Verdict::Better
    } else if hi < 0.0 {
        Verdict::Worse
    } else {
        Verdict::NotDistinguishable
    }
}

/// Whether a folded run passes as a task: it completed and every check on it passed. `None`
/// when it completed with nothing checked (it says nothing about quality); a run that did not
/// complete fails.
pub fn task_passed(s: &RunState) -> Option<bool> {
    let completed = matches!(s.status, RunStatus::Finished(Outcome::Completed));
    if !completed {
        return Some(false);
    }
    (s.totals.checks_total > 0).then_some(s.totals.checks_passed == s.totals.checks_total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 5e-4, "{a} vs {b}");
    }

    /// Reference values from Newcombe (1998), table I and table II.
    #[test]
    fn wilson_matches_published_values() {
        let (l, h) = wilson(81, 263);
        close(l, 0.2553);
        close(h, 0.3662);
        let (l, h) = wilson(15, 148);
        close(l, 0.0624);
        close(h, 0.1605);
        let (l, h) = wilson(0, 20);
        close(l, 0.0);
        close(h, 0.1611);
        let (l, h) = wilson(29, 29);
        close(l, 0.8830);
        close(h, 1.0);
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }

    /// Newcombe (1998), table II, example (a): 56/70 against 48/80 gives 0.0524 to 0.3339.
    #[test]
    fn newcombe_difference_matches_published_values() {
        let (lo, hi) = difference(&Rate::new(56, 70), &Rate::new(48, 80));
        close(lo, 0.0524);
        close(hi, 0.3339);
        assert_eq!(verdict(&Rate::new(56, 70), &Rate::new(48, 80)), Verdict::Better);
        assert_eq!(verdict(&Rate::new(48, 80), &Rate::new(56, 70)), Verdict::Worse);
    }

    #[test]
    fn close_rates_on_few_tasks_are_not_distinguishable() {
        assert_eq!(verdict(&Rate::new(9, 10), &Rate::new(8, 10)), Verdict::NotDistinguishable);
        // The same rates on many tasks are.
        assert_eq!(verdict(&Rate::new(900, 1000), &Rate::new(800, 1000)), Verdict::Better);
        assert_eq!(verdict(&Rate::new(1, 1), &Rate::new(0, 0)), Verdict::NotDistinguishable);
        assert_eq!(Rate::new(986, 1000).label(), "98.6% [97.7–99.2]");
        assert_eq!(Rate::new(0, 0).label(), "-");
    }
}
