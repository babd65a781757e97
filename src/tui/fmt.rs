//! Short figures for tight cells.

use std::time::Duration;

use crate::money::Money;
use crate::report::open_figure;

/// `850ms`, `3.8s`, `1m05s`.
pub fn dur(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{:.0}ms", s * 1000.0)
    } else if s < 60.0 {
        format!("{s:.1}s")
    } else {
        let m = (s / 60.0).floor();
        format!("{m:.0}m{:02.0}s", s - m * 60.0)
    }
}

/// `950`, `1.2k`, `34k`, `1.5M`.
pub fn tokens(n: u64) -> String {
    if n < 1000 {
        n.to_string()
    } else if n < 10_000 {
        format!("{:.1}k", n as f64 / 1000.0)
    } else if n < 1_000_000 {
        format!("{:.0}k", n as f64 / 1000.0)
    } else {
        format!("{:.1}M", n as f64 / 1e6)
    }
}

/// Money in tight cells: [`Money::compact`], the one compact form.
pub fn money(m: Money) -> String {
    m.compact()
}

pub use crate::report::clip;

/// Left text and right text in exactly `w` characters.
pub fn spread(left: &str, right: &str, w: usize) -> String {
    let r = right.chars().count();
    let l = clip(left, w.saturating_sub(r + 1));
    let pad = w.saturating_sub(l.chars().count() + r);
    format!("{l}{}{right}", " ".repeat(pad))
}

/// What is not known about a box's settled figures: some call came without token counts
/// (`uncounted`), or some model has no price (`unpriced`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unknown {
    pub uncounted: bool,
    pub unpriced: bool,
}

impl Unknown {
    /// Whether anything is unknown: the figure is then incomplete.
    pub fn is_open(self) -> bool {
        self.uncounted || self.unpriced
    }

    /// A compared node's cell.
    pub fn of_cell(c: &crate::compare::NodeCell) -> Unknown {
        Unknown { uncounted: c.uncounted, unpriced: c.unpriced }
    }

    /// A compared strategy's totals.
    pub fn of_side(s: &crate::compare::SideSummary) -> Unknown {
        Unknown { uncounted: s.nodes_uncounted > 0, unpriced: s.nodes_unpriced > 0 }
    }

    pub fn of(st: &crate::state::RunState, units: &[usize]) -> Unknown {
        Unknown { uncounted: units.iter().any(|&i| st.unreported(i)), unpriced: units.iter().any(|&i| st.unpriced(i)) }
    }
}

/// Tokens and cost as text, never a plain 0 for what is not known: `?` or `N+?` tokens when
/// some call came without counts; `unpriced`, `$?` or `$X+?` when the cost is incomplete.
pub fn figures_text(toks: u64, cost: Money, unknown: Unknown) -> (String, String) {
    (open_figure(tokens(toks), toks == 0, unknown.uncounted), open_cost(cost, unknown))
}

/// A cost as text, never a plain 0 for what is not known: `unpriced`, `$?` or `$X+?` when it
/// is incomplete.
pub fn open_cost(cost: Money, unknown: Unknown) -> String {
    match (unknown.uncounted, cost.is_zero()) {
        (false, true) if unknown.unpriced => "unpriced".to_string(),
        (_, true) if unknown.is_open() => "$?".to_string(),
        _ => open_figure(money(cost), false, unknown.is_open()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures() {
        assert_eq!(dur(Duration::from_millis(850)), "850ms");
        assert_eq!(dur(Duration::from_millis(3800)), "3.8s");
        assert_eq!(dur(Duration::from_secs(65)), "1m05s");
        assert_eq!(tokens(950), "950");
        assert_eq!(tokens(1234), "1.2k");
        assert_eq!(money(Money::from_usd(0.0077)), "$0.0077");
        assert_eq!(money(Money::from_usd(0.00012)), "$0.00012");
        assert_eq!(clip("searcher", 5), "sear…");
        assert_eq!(spread("ab", "9", 5), "ab  9");
        assert_eq!(spread("abcdef", "9", 5), "ab… 9");
    }

    fn known(uncounted: bool, unpriced: bool) -> Unknown {
        Unknown { uncounted, unpriced }
    }

    #[test]
    fn figures_never_show_a_plain_zero_for_what_is_not_known() {
        let cost = Money::from_usd(0.0031);
        let text = |toks, cost, u| {
            let (t, c) = figures_text(toks, cost, u);
            format!("{t} {c}")
        };
        assert_eq!(text(1204, cost, Unknown::default()), "1.2k $0.0031");
        // Some calls came without counts: what was reported, and a `?` for the rest.
        assert_eq!(text(0, Money::ZERO, known(true, false)), "? $?");
        assert_eq!(text(1204, cost, known(true, false)), "1.2k+? $0.0031+?");
        // A model without a price.
        assert_eq!(text(1204, Money::ZERO, known(false, true)), "1.2k unpriced");
        assert_eq!(text(1204, cost, known(false, true)), "1.2k $0.0031+?");
        // Both at once.
        assert_eq!(text(0, Money::ZERO, known(true, true)), "? $?");
        assert_eq!(text(7, cost, known(true, true)), "7+? $0.0031+?");
    }
}
