//! o200k_base's pre-tokenizer, written out by hand. The encoding splits text with this pattern
//! before merging byte pairs inside each piece:
//!
//! ```text
//! [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//! |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//! |\p{N}{1,3}
//! | ?[^\s\p{L}\p{N}]+[\r\n/]*
//! |\s*[\r\n]+
//! |\s+(?!\S)
//! |\s+
//! ```
//!
//! Compiled by a regex engine (with backtracking, for the lookahead) its Unicode classes take
//! about 17 MB; this matcher needs the classes' ranges (about 100 KB) and gives the same pieces,
//! which the tests check against the reference tokenizer. Each `alt_*` function follows one
//! alternative with the engine's semantics: alternatives tried in order, quantifiers greedy,
//! backtracking to the first way the rest can match.

use std::sync::LazyLock;

use regex_syntax::hir::{Class, HirKind};

const LU: u8 = 1;
const LL: u8 = 2;
const LT: u8 = 4;
const LM: u8 = 8;
const LO: u8 = 16;
const M: u8 = 32;
const N: u8 = 64;
const WS: u8 = 128;

const LETTER: u8 = LU | LL | LT | LM | LO;
/// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`: what may open a word.
const UPPER: u8 = LU | LT | LM | LO | M;
/// `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`: what may continue one.
const LOWER: u8 = LL | LM | LO | M;

/// The Unicode classes as one sorted list of (first code point, flags) steps.
struct Classes {
    ascii: [u8; 128],
    steps: Vec<(u32, u8)>,
}

static CLASSES: LazyLock<Classes> = LazyLock::new(Classes::build);

impl Classes {
    fn build() -> Classes {
        // The same tables the regex engines use, so the classes agree with theirs exactly.
        let mut events: Vec<(u32, i8, u8)> = Vec::new();
        for (class, flag) in
            [(r"\p{Lu}", LU), (r"\p{Ll}", LL), (r"\p{Lt}", LT), (r"\p{Lm}", LM), (r"\p{Lo}", LO), (r"\p{M}", M), (r"\p{N}", N), (r"\s", WS)]
        {
            for (start, end) in ranges(class) {
                events.push((start, 1, flag));
                events.push((end + 1, -1, flag));
            }
        }
        events.sort_unstable();
        let mut steps: Vec<(u32, u8)> = vec![(0, 0)];
        let mut flags = 0u8;
        for (at, kind, flag) in events {
            // The categories are disjoint and each one's ranges too, so a flag is on or off.
            if kind > 0 {
                flags |= flag;
            } else {
                flags &= !flag;
            }
            match steps.last_mut() {
                Some(last) if last.0 == at => last.1 = flags,
                _ => steps.push((at, flags)),
            }
        }
        steps.dedup_by(|b, a| a.1 == b.1);
        let mut c = Classes { ascii: [0; 128], steps };
        for b in 0..128u8 {
            c.ascii[usize::from(b)] = c.lookup(u32::from(b));
        }
        c
    }

    fn lookup(&self, cp: u32) -> u8 {
        let i = self.steps.partition_point(|&(start, _)| start <= cp);
        self.steps[i.saturating_sub(1)].1
    }

    fn flags(&self, c: char) -> u8 {
        match self.ascii.get(c as usize) {
            Some(&f) => f,
            None => self.lookup(u32::from(c)),
        }
    }
}

fn ranges(class: &str) -> Vec<(u32, u32)> {
    let hir = regex_syntax::parse(class).unwrap_or_else(|e| panic!("{class} is a valid class: {e}"));
    match hir.kind() {
        HirKind::Class(Class::Unicode(c)) => c.ranges().iter().map(|r| (u32::from(r.start()), u32::from(r.end()))).collect(),
        _ => panic!("{class} should parse to a Unicode class"),
    }
}

/// One character of the text: where it starts, what it is, and its classes.
#[derive(Clone, Copy)]
struct Ch {
    at: usize,
    c: char,
    flags: u8,
}

/// Calls `piece` with each piece of `text`, in order; together they are the whole text.
pub fn pieces(text: &str, mut piece: impl FnMut(&str)) {
    let classes = &*CLASSES;
    let cs: Vec<Ch> = text.char_indices().map(|(at, c)| Ch { at, c, flags: classes.flags(c) }).collect();
    let mut p = 0;
    while p < cs.len() {
        let end = alt_letters(&cs, p)
            .or_else(|| alt_digits(&cs, p))
            .or_else(|| alt_punctuation(&cs, p))
            .or_else(|| alt_newlines(&cs, p))
            .or_else(|| alt_spaces(&cs, p))
            // Every character starts one of the alternatives; this only guards the loop.
            .unwrap_or(p + 1)
            .max(p + 1);
        let to = cs.get(end).map_or(text.len(), |ch| ch.at);
        piece(&text[cs[p].at..to]);
        p = end;
    }
}

fn is(cs: &[Ch], i: usize, flags: u8) -> bool {
    cs.get(i).is_some_and(|ch| ch.flags & flags != 0)
}

/// How many characters from `i` on satisfy `f`.
fn run(cs: &[Ch], i: usize, f: impl Fn(&Ch) -> bool) -> usize {
    cs.get(i..).map_or(0, |rest| rest.iter().take_while(|ch| f(ch)).count())
}

/// `[^\r\n\p{L}\p{N}]`: what may lead a word (a space, punctuation, a mark).
fn is_lead(cs: &[Ch], i: usize) -> bool {
    cs.get(i).is_some_and(|ch| ch.c != '\r' && ch.c != '\n' && ch.flags & (LETTER | N) == 0)
}

/// Where a word at `p` may start its letters: after a lead character first, then at `p`
/// itself (the optional lead is greedy).
fn starts(cs: &[Ch], p: usize) -> impl Iterator<Item = usize> {
    let lead = is_lead(cs, p);
    [lead.then_some(p + 1), Some(p)].into_iter().flatten()
}

/// The first two alternatives: a word, with its lead and contraction.
fn alt_letters(cs: &[Ch], p: usize) -> Option<usize> {
    // UPPER* LOWER+ contraction?
    for s in starts(cs, p) {
        let upper = run(cs, s, |ch| ch.flags & UPPER != 0);
        // Give back upper-run characters until a LOWER one can start the second run.
        if let Some(q) = (s..=s + upper).rev().find(|&q| is(cs, q, LOWER)) {
            let end = q + run(cs, q, |ch| ch.flags & LOWER != 0);
            return Some(end + contraction(cs, end));
        }
    }
    // UPPER+ LOWER* contraction?
    for s in starts(cs, p) {
        let upper = run(cs, s, |ch| ch.flags & UPPER != 0);
        if upper > 0 {
            let end = s + upper + run(cs, s + upper, |ch| ch.flags & LOWER != 0);
            return Some(end + contraction(cs, end));
        }
    }
    None
}

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)?` at `i`: its length in characters, 0 when absent.
fn contraction(cs: &[Ch], i: usize) -> usize {
    if cs.get(i).map(|ch| ch.c) != Some('\'') {
        return 0;
    }
    let at = |k: usize| cs.get(i + k).map_or('\0', |ch| ch.c);
    // Case-insensitive as the regex engines fold case: 's' also matches 'ſ' (U+017F).
    let folds = |c: char, lower: char| c == lower || c == lower.to_ascii_uppercase() || (lower == 's' && c == 'ſ');
    let second = at(1);
    if ['s', 't', 'm', 'd'].iter().any(|&l| folds(second, l)) {
        2
    } else if (folds(second, 'r') || folds(second, 'v')) && folds(at(2), 'e') || folds(second, 'l') && folds(at(2), 'l') {
        3
    } else {
        0
    }
}

/// `\p{N}{1,3}`
fn alt_digits(cs: &[Ch], p: usize) -> Option<usize> {
    is(cs, p, N).then(|| p + run(cs, p, |ch| ch.flags & N != 0).min(3))
}

/// ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
fn alt_punctuation(cs: &[Ch], p: usize) -> Option<usize> {
    let other = |ch: &Ch| ch.flags & (WS | LETTER | N) == 0;
    let s = if cs[p].c == ' ' && cs.get(p + 1).is_some_and(other) {
        p + 1
    } else if other(&cs[p]) {
        p
    } else {
        return None;
    };
    let end = s + run(cs, s, other);
    Some(end + run(cs, end, |ch| matches!(ch.c, '\r' | '\n' | '/')))
}

/// `\s*[\r\n]+`: whitespace up to and including its last line break.
fn alt_newlines(cs: &[Ch], p: usize) -> Option<usize> {
    let spaces = run(cs, p, |ch| ch.flags & WS != 0);
    (p..p + spaces).rev().find(|&j| matches!(cs[j].c, '\r' | '\n')).map(|j| j + 1)
}

/// `\s+(?!\S)` then `\s+`: a run of whitespace, leaving its last character to the word after.
fn alt_spaces(cs: &[Ch], p: usize) -> Option<usize> {
    let spaces = run(cs, p, |ch| ch.flags & WS != 0);
    match spaces {
        0 => None,
        n if p + n == cs.len() || n == 1 => Some(p + n),
        n => Some(p + n - 1),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The pattern as the reference tokenizer compiles it.
    const PATTERN: &str = concat!(
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"|\p{N}{1,3}",
        r"| ?[^\s\p{L}\p{N}]+[\r\n/]*",
        r"|\s*[\r\n]+",
        r"|\s+(?!\S)",
        r"|\s+",
    );

    fn reference(text: &str) -> Vec<String> {
        static RE: LazyLock<fancy_regex::Regex> = LazyLock::new(|| fancy_regex::Regex::new(PATTERN).expect("pattern"));
        RE.find_iter(text).map(|m| m.expect("match").as_str().to_string()).collect()
    }

    fn ours(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        pieces(text, |p| out.push(p.to_string()));
        out
    }

    #[test]
    fn splits_like_the_pattern_on_examples() {
        for text in [
            "",
            "Hello world",
            "HELLO World's end, they'RE here; I'M ſure it'ſ fine 'LL 'Ve",
            "  two spaces\n\n\tthen tabs  \r\n  and a trailing run   ",
            "1234567 12 ½Ⅻ٣٤٥٦",
            "a/b//c\n/x ...!!! -->",
            "中文字符和ǅungla ʰmodifier e\u{301}\u{302} \u{301}x",
            "\u{a0}\u{2003}x \u{85}y",
        ] {
            assert_eq!(ours(text), reference(text), "{text:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Strings over an alphabet with a member of every class the pattern tells apart.
        #[test]
        fn splits_like_the_pattern(text in "[Aaǅʰ中\u{301}5٣½Ⅻ \t\n\r\u{a0}\u{2003}\u{85}'sSſtTrReEvVmMlLdD/.!\\-🎉]{0,40}") {
            prop_assert_eq!(ours(&text), reference(&text));
        }

        #[test]
        fn splits_any_text_like_the_pattern(text in "(?s).{0,60}") {
            prop_assert_eq!(ours(&text), reference(&text));
        }
    }
}
