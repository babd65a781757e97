//! Exact money. Prices and costs are integers of picodollars (10⁻¹² USD) so that sums over a
//! million calls are exact and two runs of the same usage always agree to the last digit.
//!
//! Everything a figure of money is made from lives here: [`Usage`] (tokens as billed),
//! [`Prices`] (per million tokens) and their product, [`Cost`].

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub};

use serde::{Deserialize, Serialize};

/// An amount of US dollars, stored as picodollars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(i64);

const PICO_PER_USD: i64 = 1_000_000_000_000;

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_picodollars(p: i64) -> Money {
        Money(p)
    }

    pub const fn picodollars(self) -> i64 {
        self.0
    }

    /// Converts from a decimal dollar amount, rounding to the nearest picodollar.
    pub fn from_usd(usd: f64) -> Money {
        Money((usd * PICO_PER_USD as f64).round() as i64)
    }

    pub fn usd(self) -> f64 {
        self.0 as f64 / PICO_PER_USD as f64
    }

    /// Cost of `tokens` at a per-token price.
    pub fn per_token(self, tokens: u64) -> Money {
        Money(self.0.saturating_mul(tokens as i64))
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn abs(self) -> Money {
        Money(self.0.abs())
    }

    /// Ratio of two amounts, `None` when the denominator is zero.
    pub fn ratio(self, other: Money) -> Option<f64> {
        (other.0 != 0).then(|| self.0 as f64 / other.0 as f64)
    }

    /// Scales an amount, for "per 1000 tasks" style figures.
    pub fn scale(self, num: i64, den: i64) -> Money {
        if den == 0 {
            return Money::ZERO;
        }
        Money(((self.0 as i128 * num as i128) / den as i128) as i64)
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0.saturating_sub(rhs.0))
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

/// Prints with enough digits to tell cheap calls apart: `$0.4975`, `$0.000012`, `$12.34`.
impl Money {
    /// In at most about 8 characters, for tight cells, with enough significant digits for a
    /// sub-cent call: `$0`, `$0.0077`, `$0.00012`, `$3.4e-6`, `$12.35`, `$120`.
    pub fn compact(self) -> String {
        let v = self.usd();
        let (sign, a) = if v < 0.0 { ("-", -v) } else { ("", v) };
        if self.0 == 0 {
            "$0".to_string()
        } else if a >= 100.0 {
            format!("{sign}${a:.0}")
        } else if a >= 1.0 {
            format!("{sign}${a:.2}")
        } else if a >= 0.001 {
            format!("{sign}${a:.4}")
        } else if a >= 0.00001 {
            format!("{sign}${a:.5}")
        } else {
            format!("{sign}${a:.1e}")
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let usd = self.usd();
        let mag = usd.abs();
        let digits = if mag == 0.0 || mag >= 10.0 {
            2
        } else if mag >= 0.01 {
            4
        } else if mag >= 0.00001 {
            6
        } else {
            8
        };
        let sign = if usd < 0.0 {
            "-"
        } else if f.sign_plus() {
            "+"
        } else {
            ""
        };
        let digits = f.precision().unwrap_or(digits);
        write!(f, "{sign}${mag:.digits$}")
    }
}

/// A price per million tokens, stored as picodollars per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PerMillion(Money);

impl PerMillion {
    /// `usd` is dollars per million tokens, as price pages quote them.
    pub fn from_usd_per_million(usd: f64) -> PerMillion {
        // $1 per million tokens is 10⁻⁶ $ per token, 10⁶ picodollars.
        PerMillion(Money((usd * 1_000_000.0).round() as i64))
    }

    pub fn usd_per_million(self) -> f64 {
        self.0.0 as f64 / 1_000_000.0
    }

    pub fn cost(self, tokens: u64) -> Money {
        self.0.per_token(tokens)
    }
}

impl fmt::Display for PerMillion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.usd_per_million();
        if v == v.trunc() {
            write!(f, "${v:.2}")
        } else {
            // Up to four decimals, trailing zeros trimmed: $0.075, $0.0025.
            let s = format!("{v:.4}");
            let s = s.trim_end_matches('0');
            write!(f, "${s}")
        }
    }
}

/// Prices per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prices {
    pub input: PerMillion,
    pub output: PerMillion,
    pub cached_input: PerMillion,
    pub cache_write: PerMillion,
    /// Hidden reasoning tokens, where a provider bills them apart from output (a few do, as
    /// LiteLLM's table records); `None` bills them as output, which they are part of.
    pub reasoning: Option<PerMillion>,
}

/// Token counts of one call, as a provider bills them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens billed at the full input price (not read from or written to a cache).
    pub input: u64,
    /// Input tokens read from the provider's prompt cache.
    #[serde(default)]
    pub cached: u64,
    /// Input tokens written to the provider's prompt cache (Anthropic bills these separately).
    #[serde(default)]
    pub cache_write: u64,
    /// Output tokens, reasoning included.
    pub output: u64,
    /// Of `output`, how many were hidden reasoning.
    #[serde(default)]
    pub reasoning: u64,
}

impl Usage {
    pub fn total_input(&self) -> u64 {
        self.input + self.cached + self.cache_write
    }

    pub fn add(&mut self, o: &Usage) {
        self.input += o.input;
        self.cached += o.cached;
        self.cache_write += o.cache_write;
        self.output += o.output;
        self.reasoning += o.reasoning;
    }
}

/// A cost split the way the node panel shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cost {
    pub input: Money,
    /// Cache reads and cache writes.
    pub cached: Money,
    pub output: Money,
}

impl Cost {
    pub fn total(&self) -> Money {
        self.input + self.cached + self.output
    }

    pub fn add(&mut self, o: &Cost) {
        self.input += o.input;
        self.cached += o.cached;
        self.output += o.output;
    }
}

impl Prices {
    pub fn cost(&self, u: &Usage) -> Cost {
        Cost {
            input: self.input.cost(u.input),
            cached: self.cached_input.cost(u.cached) + self.cache_write.cost(u.cache_write),
            output: match self.reasoning {
                None => self.output.cost(u.output),
                // Reasoning is counted inside output; the rest of output is visible text.
                Some(r) => {
                    let reasoning = u.reasoning.min(u.output);
                    self.output.cost(u.output - reasoning) + r.cost(reasoning)
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn compact_keeps_sub_cent_digits() {
        assert_eq!(Money::ZERO.compact(), "$0");
        assert_eq!(Money::from_usd(0.0077).compact(), "$0.0077");
        assert_eq!(Money::from_usd(0.00012).compact(), "$0.00012");
        assert_eq!(Money::from_usd(0.0000034).compact(), "$3.4e-6");
        assert_eq!(Money::from_usd(12.345).compact(), "$12.35");
        assert_eq!(Money::from_usd(-0.0219).compact(), "-$0.0219");
        assert_ne!(Money::from_picodollars(1).compact(), "$0.00000", "never a zero for money spent");
    }
    use super::*;

    #[test]
    fn prices_are_exact_per_token() {
        let opus_in = PerMillion::from_usd_per_million(15.0);
        assert_eq!(opus_in.cost(1_000_000), Money::from_usd(15.0));
        assert_eq!(opus_in.cost(1), Money::from_picodollars(15_000_000));
        let nano_cached = PerMillion::from_usd_per_million(0.005);
        assert_eq!(nano_cached.cost(1), Money::from_picodollars(5_000));
        // A sum of many small costs is exact, unlike float accumulation.
        let total: Money = (0..1_000_000).map(|_| nano_cached.cost(1)).sum();
        assert_eq!(total, Money::from_usd(0.005));
    }

    #[track_caller]
    fn shows(m: Money, expect: &str) {
        assert_eq!(m.to_string(), expect);
    }

    #[test]
    fn display_keeps_significant_digits() {
        shows(Money::ZERO, "$0.00");
        shows(Money::from_usd(0.4975), "$0.4975");
        shows(Money::from_usd(0.000012), "$0.000012");
        shows(Money::from_usd(12.345), "$12.35");
        shows(Money::from_usd(-0.25), "-$0.2500");
        assert_eq!(format!("{:+}", Money::from_usd(0.5)), "+$0.5000");
        assert_eq!(PerMillion::from_usd_per_million(0.075).to_string(), "$0.075");
        assert_eq!(PerMillion::from_usd_per_million(15.0).to_string(), "$15.00");
    }

    #[test]
    fn scale_and_ratio() {
        let m = Money::from_usd(0.92);
        assert_eq!(m.scale(1000, 1000), m);
        assert_eq!(Money::from_usd(1.0).scale(1, 4), Money::from_usd(0.25));
        assert_eq!(Money::from_usd(1.0).ratio(Money::from_usd(4.0)), Some(0.25));
        assert_eq!(Money::from_usd(1.0).ratio(Money::ZERO), None);
    }

    #[test]
    fn cost_is_usage_times_prices_split_as_the_panel_shows_it() {
        let p = |usd| PerMillion::from_usd_per_million(usd);
        let prices = Prices { input: p(15.0), output: p(75.0), cached_input: p(1.5), cache_write: p(18.75), reasoning: None };
        // 1,000 input at $15/M + 200 cache reads at $1.50/M + 100 cache writes at $18.75/M +
        // 500 output at $75/M.
        let u = Usage { input: 1000, cached: 200, cache_write: 100, output: 500, reasoning: 40 };
        let c = prices.cost(&u);
        assert_eq!(c.input, Money::from_usd(0.015));
        assert_eq!(c.cached, Money::from_usd(0.002175));
        assert_eq!(c.output, Money::from_usd(0.0375));
        assert_eq!(c.total(), c.input + c.cached + c.output);
        assert_eq!(u.total_input(), 1300);
        assert_eq!(prices.cost(&Usage::default()), Cost::default());
    }

    #[test]
    fn a_reasoning_price_bills_reasoning_apart_from_the_rest_of_output() {
        let p = |usd| PerMillion::from_usd_per_million(usd);
        let plain = Prices { input: p(0.4), output: p(1.2), cached_input: p(0.4), cache_write: p(0.4), reasoning: None };
        let apart = Prices { reasoning: Some(p(4.0)), ..plain };
        // 1,000 output of which 600 reasoning: 400 at $1.20/M + 600 at $4/M.
        let u = Usage { input: 0, cached: 0, cache_write: 0, output: 1000, reasoning: 600 };
        assert_eq!(plain.cost(&u).output, Money::from_usd(0.0012));
        assert_eq!(apart.cost(&u).output, Money::from_usd(0.00048 + 0.0024));
        // A reasoning count above output (a provider's odd report) is capped at output.
        let odd = Usage { output: 10, reasoning: 50, ..u };
        assert_eq!(apart.cost(&odd).output, Money::from_usd(0.00004));
    }

    #[test]
    fn usage_and_cost_add_field_by_field() {
        let mut u = Usage { input: 1, cached: 2, cache_write: 3, output: 4, reasoning: 5 };
        u.add(&Usage { input: 10, cached: 20, cache_write: 30, output: 40, reasoning: 50 });
        assert_eq!(u, Usage { input: 11, cached: 22, cache_write: 33, output: 44, reasoning: 55 });
        let m = Money::from_picodollars;
        let mut c = Cost { input: m(1), cached: m(2), output: m(3) };
        c.add(&Cost { input: m(10), cached: m(20), output: m(30) });
        assert_eq!(c, Cost { input: m(11), cached: m(22), output: m(33) });
        assert_eq!(c.total(), m(66));
    }
}
