//! Short figures for tight cells.

use std::time::Duration;

use crate::money::Money;

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

/// A settled unit whose model the catalog lacks, with tokens: its cost is unknown, not $0
/// (a watched run calls whatever models the application chose).
pub fn unpriced(st: &crate::state::RunState, unit: usize) -> bool {
    let u = &st.units[unit];
    u.status.is_settled()
        && u.model.as_deref().is_some_and(|m| m != "-" && st.catalog.get(m).is_none())
        && u.billed_usage.total_input() + u.billed_usage.output > 0
}

/// How many settled units are [`unpriced`].
pub fn unpriced_count(st: &crate::state::RunState) -> usize {
    (0..st.units.len()).filter(|&u| unpriced(st, u)).count()
}

/// Left text and right text in exactly `w` characters.
pub fn spread(left: &str, right: &str, w: usize) -> String {
    let r = right.chars().count();
    let l = clip(left, w.saturating_sub(r + 1));
    let pad = w.saturating_sub(l.chars().count() + r);
    format!("{l}{}{right}", " ".repeat(pad))
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
}
