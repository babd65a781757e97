//! Strategies: ordered routing rules (first match wins), a default model, the context mode, the
//! schedule, retries and an optional budget.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::catalog::Catalog;
use crate::diag::{Diagnostics, Source, nearest};
use crate::flow::KNOWN_KINDS;
use crate::money::Money;

/// What context each node receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContextMode {
    /// Only the upstream outputs a node declares in `context`.
    Declared,
    /// The whole history so far, as a naive chain passes it.
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Ready nodes run at once, up to `limit` at a time (`None`: no limit).
    Parallel { limit: Option<usize> },
    /// One node at a time, in topological order.
    Sequential,
}

impl Schedule {
    pub fn limit(self) -> Option<usize> {
        match self {
            Schedule::Parallel { limit } => limit,
            Schedule::Sequential => Some(1),
        }
    }
}

/// An inclusive range of whole numbers, written `7`, `> 7`, `>= 7`, `< 3`, `<= 3`, `3..=6` or
/// `3..6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub lo: u64,
    pub hi: u64,
}

impl Range {
    pub fn contains(&self, v: u64) -> bool {
        self.lo <= v && v <= self.hi
    }

    pub fn parse(text: &str) -> Result<Range, String> {
        let t = text.trim();
        let num = |s: &str| s.trim().replace('_', "").parse::<u64>().map_err(|_| format!("'{}' is not a whole number", s.trim()));
        if let Some((a, b)) = t.split_once("..=") {
            return ordered(num(a)?, num(b)?);
        }
        if let Some((a, b)) = t.split_once("..") {
            let hi = num(b)?.checked_sub(1).ok_or("the range is empty")?;
            return ordered(num(a)?, hi);
        }
        if let Some(r) = t.strip_prefix(">=") {
            return Ok(Range { lo: num(r)?, hi: u64::MAX });
        }
        if let Some(r) = t.strip_prefix("<=") {
            return Ok(Range { lo: 0, hi: num(r)? });
        }
        if let Some(r) = t.strip_prefix('>') {
            return Ok(Range { lo: num(r)?.saturating_add(1), hi: u64::MAX });
        }
        if let Some(r) = t.strip_prefix('<') {
            let hi = num(r)?.checked_sub(1).ok_or("nothing is below 0")?;
            return Ok(Range { lo: 0, hi });
        }
        let v = num(t.strip_prefix("==").unwrap_or(t))?;
        Ok(Range { lo: v, hi: v })
    }
}

fn ordered(lo: u64, hi: u64) -> Result<Range, String> {
    if lo > hi { Err(format!("the range {lo}..={hi} is empty")) } else { Ok(Range { lo, hi }) }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.lo, self.hi) {
            (lo, hi) if lo == hi => write!(f, "= {lo}"),
            (0, hi) => write!(f, "≤ {hi}"),
            (lo, u64::MAX) => write!(f, "≥ {lo}"),
            (lo, hi) => write!(f, "{lo}..={hi}"),
        }
    }
}

/// A glob over node ids: `*` matches any run of characters, `?` one character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(pub String);

impl Glob {
    /// Whether the whole of `text` matches. Two pointers, no backtracking: at a mismatch the
    /// last `*` absorbs one more character and matching resumes after it, so the work is at
    /// most pattern length × text length. (The recursive matcher this replaced tried every split
    /// for every star: 24 stars before a missing letter took 20 seconds.)
    pub fn matches(&self, text: &str) -> bool {
        let p: Vec<char> = self.0.chars().collect();
        let t: Vec<char> = text.chars().collect();
        let (mut pi, mut ti) = (0, 0);
        // The pattern position just after the last star seen, and the text position it has
        // absorbed up to.
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            match p.get(pi) {
                Some('*') => {
                    pi += 1;
                    star = Some((pi, ti));
                }
                Some(&c) if c == '?' || c == t[ti] => {
                    pi += 1;
                    ti += 1;
                }
                _ => match star {
                    Some((after, absorbed)) => {
                        pi = after;
                        ti = absorbed + 1;
                        star = Some((after, ti));
                    }
                    None => return false,
                },
            }
        }
        p[pi..].iter().all(|&c| c == '*')
    }
}

/// One routing rule. Every criterion it sets must hold; unset criteria match anything.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: Option<String>,
    pub kinds: Vec<String>,
    pub complexity: Option<Range>,
    pub id: Option<Glob>,
    pub tags: Vec<String>,
    pub input_tokens: Option<Range>,
    pub model: String,
    pub fallbacks: Vec<String>,
    /// Line of the rule's table in the strategy file.
    pub line: usize,
}

impl Rule {
    /// `rule 2 'search is cheap'` or `rule 2`, numbering from 1 as users count.
    pub fn label(&self, index: usize) -> String {
        match &self.name {
            Some(n) => format!("rule {} '{n}'", index + 1),
            None => format!("rule {}", index + 1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Calls per model before walking to the next fallback.
    pub max_attempts: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Time allowed before the first token, and between two chunks.
    pub first_token_timeout: Duration,
    pub idle_timeout: Duration,
    /// Time allowed for a whole call, and for connecting.
    pub total_timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            first_token_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Strategy {
    pub name: String,
    pub description: String,
    pub default_model: String,
    pub default_fallbacks: Vec<String>,
    pub context: ContextMode,
    pub schedule: Schedule,
    pub budget: Option<Money>,
    /// When a node's checks fail, call it again on its next fallback model.
    pub escalate_on_failed_checks: bool,
    pub retry: RetryPolicy,
    pub rules: Vec<Rule>,
    pub source_name: String,
    pub source_text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    strategy: RawHeader,
    #[serde(default)]
    retry: Option<RawRetry>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    default_model: Spanned<String>,
    #[serde(default)]
    fallbacks: Vec<Spanned<String>>,
    #[serde(default = "declared")]
    context: ContextMode,
    #[serde(default)]
    schedule: Option<Spanned<String>>,
    #[serde(default)]
    max_parallel: Option<Spanned<i64>>,
    #[serde(default)]
    budget_usd: Option<Spanned<f64>>,
    #[serde(default)]
    escalate_on_failed_checks: bool,
}

/// Bounds on strategy numbers: beyond them a value is a typo, and money or time would overflow.
const MAX_PARALLEL: i64 = 1_000_000;
/// Money is counted in picodollars in an i64, which holds about 9.2 million USD.
const MAX_BUDGET_USD: f64 = 1_000_000.0;

fn declared() -> ContextMode {
    ContextMode::Declared
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    max_attempts: Option<Spanned<i64>>,
    backoff_ms: Option<Spanned<i64>>,
    max_backoff_ms: Option<Spanned<i64>>,
    first_token_timeout_ms: Option<Spanned<i64>>,
    idle_timeout_ms: Option<Spanned<i64>>,
    total_timeout_ms: Option<Spanned<i64>>,
    connect_timeout_ms: Option<Spanned<i64>>,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText {
    Num(i64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    kind: Option<Spanned<OneOrMany>>,
    complexity: Option<Spanned<NumOrText>>,
    id: Option<String>,
    tag: Option<OneOrMany>,
    input_tokens: Option<Spanned<NumOrText>>,
    model: Spanned<String>,
    #[serde(default)]
    fallbacks: Vec<Spanned<String>>,
}

impl Strategy {
    /// Parses a strategy and checks every model it names against the catalog.
    pub fn parse(src: &Source, catalog: &Catalog) -> Result<(Strategy, Diagnostics), Diagnostics> {
        let raw: RawFile = toml::from_str(&src.text).map_err(|e| Diagnostics::from(src.toml_error(&e)))?;
        let mut diags = Diagnostics::default();
        let model = |m: &Spanned<String>, diags: &mut Diagnostics| -> String {
            let id = m.get_ref().trim();
            if catalog.get(id).is_none() {
                let help = match catalog.suggest(id) {
                    Some(best) => format!("did you mean '{best}'? (`baton models` lists the catalog)"),
                    None => "`baton models` lists the catalog; add a model with --catalog FILE".to_string(),
                };
                diags.push(src.error(m.span(), format!("unknown model '{id}'")).with_help(help));
            }
            id.to_string()
        };

        let h = raw.strategy;
        let default_model = model(&h.default_model, &mut diags);
        let default_fallbacks = h.fallbacks.iter().map(|f| model(f, &mut diags)).collect();
        let limit = match &h.max_parallel {
            None => None,
            Some(v) if (1..=MAX_PARALLEL).contains(v.get_ref()) => Some(*v.get_ref() as usize),
            Some(v) => {
                diags.push(
                    src.error(v.span(), format!("max_parallel {} is out of range", v.get_ref()))
                        .with_help(format!("use a whole number from 1 to {MAX_PARALLEL}, or leave it out for no limit")),
                );
                None
            }
        };
        let schedule = match h.schedule.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
            None | Some(("parallel", _)) => Schedule::Parallel { limit },
            Some(("sequential", _)) => Schedule::Sequential,
            Some((other, span)) => {
                let help = match nearest(other, ["parallel", "sequential"]) {
                    Some(b) => format!("did you mean '{b}'?"),
                    None => "use 'parallel' or 'sequential'".to_string(),
                };
                diags.push(src.error(span, format!("unknown schedule '{other}'")).with_help(help));
                Schedule::Parallel { limit }
            }
        };
        let budget = h.budget_usd.as_ref().and_then(|b| {
            let v = *b.get_ref();
            if v.is_finite() && v > 0.0 && v <= MAX_BUDGET_USD {
                Some(Money::from_usd(v))
            } else {
                diags.push(
                    src.error(b.span(), format!("budget_usd must be a positive amount up to {MAX_BUDGET_USD}, not {v}"))
                        .with_help(format!("use an amount in USD above 0 and at most {MAX_BUDGET_USD}, or leave it out for no budget")),
                );
                None
            }
        });
        let mut retry = RetryPolicy::default();
        if let Some(r) = raw.retry {
            if let Some(a) = &r.max_attempts {
                match u32::try_from(*a.get_ref()) {
                    Ok(v) if (1..=20).contains(&v) => retry.max_attempts = v,
                    _ => diags.push(
                        src.error(a.span(), format!("max_attempts {} is out of range", a.get_ref())).with_help("use 1 (no retries) to 20"),
                    ),
                }
            }
            // The engine adds these to instants; a bound keeps that from overflowing.
            let mut millis = |v: &Option<Spanned<i64>>, hi: i64, what: &str, zero: &str| -> Option<Duration> {
                let v = v.as_ref()?;
                let x = *v.get_ref();
                match u64::try_from(x) {
                    Ok(ms) if x <= hi => Some(Duration::from_millis(ms)),
                    _ => {
                        diags.push(
                            src.error(v.span(), format!("{what} {x} is out of range"))
                                .with_help(format!("use a whole number of milliseconds from 0 to {hi}{zero}")),
                        );
                        None
                    }
                }
            };
            const HOUR_MS: i64 = 3_600_000;
            const DAY_MS: i64 = 86_400_000;
            if let Some(d) = millis(&r.backoff_ms, HOUR_MS, "backoff_ms", "") {
                retry.backoff = d;
            }
            if let Some(d) = millis(&r.max_backoff_ms, HOUR_MS, "max_backoff_ms", "") {
                retry.max_backoff = d;
            }
            let at_least_1ms = |d: Duration| d.max(Duration::from_millis(1));
            if let Some(d) = millis(&r.first_token_timeout_ms, DAY_MS, "first_token_timeout_ms", " (0 counts as 1)") {
                retry.first_token_timeout = at_least_1ms(d);
            }
            if let Some(d) = millis(&r.idle_timeout_ms, DAY_MS, "idle_timeout_ms", " (0 counts as 1)") {
                retry.idle_timeout = at_least_1ms(d);
            }
            if let Some(d) = millis(&r.total_timeout_ms, DAY_MS, "total_timeout_ms", " (0 counts as 1)") {
                retry.total_timeout = at_least_1ms(d);
            }
            if let Some(d) = millis(&r.connect_timeout_ms, DAY_MS, "connect_timeout_ms", " (0 counts as 1)") {
                retry.connect_timeout = at_least_1ms(d);
            }
        }

        let mut rules = Vec::new();
        for r in &raw.rule {
            let span = r.span();
            let r = r.get_ref();
            let mut kinds = Vec::new();
            if let Some(k) = &r.kind {
                let kspan = k.span();
                let list = match k.get_ref() {
                    OneOrMany::One(s) => vec![s.clone()],
                    OneOrMany::Many(v) => v.clone(),
                };
                for kind in list {
                    let kind = kind.trim().to_lowercase();
                    if !KNOWN_KINDS.contains(&kind.as_str())
                        && let Some(best) = nearest(&kind, KNOWN_KINDS.iter().copied())
                    {
                        diags.push(
                            src.warning(kspan.clone(), format!("kind '{kind}' is not a built-in kind"))
                                .with_help(format!("did you mean '{best}'?")),
                        );
                    }
                    kinds.push(kind);
                }
            }
            let range = |v: &Option<Spanned<NumOrText>>, what: &str, diags: &mut Diagnostics| -> Option<Range> {
                let v = v.as_ref()?;
                let parsed = match v.get_ref() {
                    NumOrText::Num(n) if *n >= 0 => Ok(Range { lo: *n as u64, hi: *n as u64 }),
                    NumOrText::Num(n) => Err(format!("{n} is negative")),
                    NumOrText::Text(t) => Range::parse(t),
                };
                match parsed {
                    Ok(r) => Some(r),
                    Err(e) => {
                        diags.push(
                            src.error(v.span(), format!("invalid {what}: {e}"))
                                .with_help("write e.g. 7, \"> 7\", \">= 7\", \"< 3\" or \"3..=6\""),
                        );
                        None
                    }
                }
            };
            let complexity = range(&r.complexity, "complexity", &mut diags);
            if let (Some(c), Some(v)) = (complexity, &r.complexity)
                && c.lo > 10
            {
                diags.push(src.error(v.span(), format!("complexity {c} can never match")).with_help("node complexity runs from 1 to 10"));
            }
            let input_tokens = range(&r.input_tokens, "input_tokens", &mut diags);
            rules.push(Rule {
                name: r.name.clone(),
                kinds,
                complexity,
                id: r.id.clone().map(Glob),
                tags: r.tag.clone().map(OneOrMany::into_vec).unwrap_or_default(),
                input_tokens,
                model: model(&r.model, &mut diags),
                fallbacks: r.fallbacks.iter().map(|f| model(f, &mut diags)).collect(),
                line: src.locate(span.start).0,
            });
        }

        let strategy = Strategy {
            name: h.name.get_ref().clone(),
            description: h.description,
            default_model,
            default_fallbacks,
            context: h.context,
            schedule,
            budget,
            escalate_on_failed_checks: h.escalate_on_failed_checks,
            retry,
            rules,
            source_name: src.name.clone(),
            source_text: src.text.clone(),
        };
        diags.into_result(strategy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn range(text: &str, lo: u64, hi: u64) {
        assert_eq!(Range::parse(text), Ok(Range { lo, hi }), "{text}");
    }

    #[test]
    fn ranges_parse() {
        range("7", 7, 7);
        range("== 7", 7, 7);
        range("> 7", 8, u64::MAX);
        range(">= 7", 7, u64::MAX);
        range("< 3", 0, 2);
        range("<= 3", 0, 3);
        range("3..=6", 3, 6);
        range("3..6", 3, 5);
        range(" > 8_000 ", 8001, u64::MAX);
        assert!(Range::parse("6..=3").is_err());
        assert!(Range::parse("< 0").is_err());
        assert!(Range::parse("big").is_err());
    }

    #[test]
    fn globs_match() {
        assert!(Glob("search*".into()).matches("searcher"));
        assert!(Glob("*er".into()).matches("planner"));
        assert!(Glob("a?c".into()).matches("abc"));
        assert!(!Glob("a?c".into()).matches("ac"));
        assert!(Glob("*".into()).matches(""));
        assert!(!Glob("plan".into()).matches("planner"));
        assert!(Glob("a*b*c".into()).matches("aXbYbZc"));
        assert!(!Glob("a*b*c".into()).matches("aXbYbZ"));
        assert!(Glob("*?".into()).matches("x"));
        assert!(!Glob("?*".into()).matches(""));
        assert!(Glob("é?ü*".into()).matches("éaü"));
    }

    /// A thousand stars before a letter the text lacks once took longer than anyone waits
    /// (every star tried every split); the answers must be right and come back at all.
    #[test]
    fn globs_with_a_thousand_stars() {
        let stars = "*".repeat(1000);
        let id = "b".repeat(200);
        assert!(!Glob(format!("{stars}a")).matches(&id));
        assert!(Glob(format!("{stars}a")).matches(&format!("{id}a")));
        assert!(Glob(format!("{stars}b{stars}")).matches(&id));
        assert!(Glob(stars.clone()).matches(""));
        assert!(!Glob(format!("{}a", "*b".repeat(500))).matches(&id));
        assert!(Glob(format!("{}a", "*b".repeat(100))).matches(&format!("{id}a")));
    }

    /// The same language as a regular expression written from the glob.
    fn glob_by_regex(glob: &str, text: &str) -> bool {
        let mut re = String::from("^");
        for c in glob.chars() {
            match c {
                '*' => re.push_str("(?s:.*)"),
                '?' => re.push_str("(?s:.)"),
                c => re.push_str(&regex::escape(&c.to_string())),
            }
        }
        re.push('$');
        regex::Regex::new(&re).map(|r| r.is_match(text)).unwrap_or(false)
    }

    proptest::proptest! {
        #[test]
        fn globs_agree_with_regex(glob in "[ab*?é]{0,12}", text in "[abé]{0,12}") {
            proptest::prop_assert_eq!(Glob(glob.clone()).matches(&text), glob_by_regex(&glob, &text), "{} vs {}", glob, text);
        }
    }
}
