//! Token counting with a real tokenizer (o200k_base, the encoding of current OpenAI models; a
//! close estimate for other vendors' models), memoised because flows count the same upstream
//! outputs and prompt templates again and again.
//!
//! Counting needs only half of a tokenizer: the pre-tokenizing pattern and the merge ranks. So
//! the vocabulary (vendored in `src/tokens/`, see its README) is turned at build time into one
//! byte arena, its offsets and a rank table, about 5 MB in the binary, where a full
//! encoder/decoder keeps about 50 MB on the heap; that difference is half of a 10,000-node run's
//! memory budget.

use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::{LazyLock, Mutex, OnceLock};

use rustc_hash::FxBuildHasher;

mod slot;
mod split;

const CACHE_LIMIT: usize = 100_000;

type Memo = HashMap<u64, u32, FxBuildHasher>;

fn cache() -> &'static Mutex<Memo> {
    static CACHE: OnceLock<Mutex<Memo>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Memo::default()))
}

fn key(text: &str) -> u64 {
    // A fast fixed-key hasher: the memo only needs to be consistent within a process, and a
    // 64-bit collision between two texts of the same length is not a practical concern.
    let mut h = rustc_hash::FxHasher::default();
    h.write(text.as_bytes());
    h.write_usize(text.len());
    h.finish()
}

/// Number of tokens in `text`.
pub fn count(text: &str) -> u32 {
    if text.is_empty() {
        return 0;
    }
    let k = key(text);
    if let Some(&n) = cache().lock().ok().and_then(|c| c.get(&k).copied()).as_ref() {
        return n;
    }
    let n = VOCABULARY.count(text);
    if let Ok(mut c) = cache().lock() {
        if c.len() >= CACHE_LIMIT {
            c.clear();
        }
        c.insert(k, n);
    }
    n
}

/// Remembers that `text` has `n` tokens, as counted before (a recording's own counts), so that
/// counting it again is a lookup. Only for counts this tokenizer made: a wrong one would be
/// believed.
pub fn remember(text: &str, n: u32) {
    if text.is_empty() {
        return;
    }
    let k = key(text);
    if let Ok(mut c) = cache().lock() {
        if c.len() >= CACHE_LIMIT {
            c.clear();
        }
        c.entry(k).or_insert(n);
    }
}

/// Gets the tokenizer ready now rather than on the first count (its pre-tokenizing pattern takes
/// a moment to build).
pub fn warm_up() {
    VOCABULARY.count("warm up");
}

static VOCABULARY: LazyLock<Vocabulary> = LazyLock::new(Vocabulary::load);

/// The merge ranks of o200k_base, decoded from the vendored file at build time (see `build.rs`):
/// every token's bytes back to back in rank order, where each starts, and a hash table from a
/// token's bytes to its rank. Nothing is built at run time, so a run's first count is as cheap
/// as any other (it was 40 ms of every `baton run`).
struct Vocabulary {
    bytes: &'static [u8],
    /// Where token `r` starts in `bytes` (little-endian `u32` number `r`); it ends where `r + 1`
    /// starts.
    starts: &'static [u8],
    /// 2^[`slot::BITS`] little-endian `u32`s: a token's rank + 1 at or after its
    /// [`slot::home`] slot (linear probing), 0 for an empty slot.
    table: &'static [u8],
}

static BYTES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_bytes.bin"));
static STARTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_starts.bin"));
static TABLE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_table.bin"));

/// The `u32` number `i` of a little-endian table, 0 past its end.
fn word(table: &[u8], i: usize) -> u32 {
    table.get(4 * i..4 * i + 4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

impl Vocabulary {
    fn load() -> Vocabulary {
        Vocabulary { bytes: BYTES, starts: STARTS, table: TABLE }
    }

    /// Number of tokens.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.starts.len() / 4 - 1
    }

    fn token(&self, rank: u32) -> &[u8] {
        let r = rank as usize;
        &self.bytes[word(self.starts, r) as usize..word(self.starts, r + 1) as usize]
    }

    fn rank(&self, bytes: &[u8]) -> u32 {
        let mask = (1usize << slot::BITS) - 1;
        let mut i = slot::home(bytes);
        loop {
            match word(self.table, i) {
                0 => return u32::MAX,
                r if self.token(r - 1) == bytes => return r - 1,
                _ => i = (i + 1) & mask,
            }
        }
    }

    fn count(&self, text: &str) -> u32 {
        let mut n = 0;
        split::pieces(text, |piece| n += self.count_piece(piece.as_bytes()));
        n
    }

    /// Tokens in one pre-tokenized piece: byte-pair merging, lowest rank first, until no
    /// adjacent pair is a token.
    fn count_piece(&self, piece: &[u8]) -> u32 {
        if piece.is_empty() {
            return 0;
        }
        if piece.len() == 1 || self.rank(piece) != u32::MAX {
            return 1;
        }
        // parts[i] = (where part i starts, rank of part i merged with part i+1).
        let mut parts: Vec<(usize, u32)> = Vec::with_capacity(piece.len() + 1);
        for i in 0..piece.len() - 1 {
            parts.push((i, self.rank(&piece[i..i + 2])));
        }
        parts.push((piece.len() - 1, u32::MAX));
        parts.push((piece.len(), u32::MAX));
        // The rank of part i merged with the part after next (what i becomes once i+1 joins it).
        let merged = |parts: &[(usize, u32)], i: usize| {
            if i + 3 < parts.len() { self.rank(&piece[parts[i].0..parts[i + 3].0]) } else { u32::MAX }
        };
        loop {
            let (i, rank) = parts[..parts.len() - 1]
                .iter()
                .enumerate()
                .fold((0, u32::MAX), |best, (i, &(_, r))| if r < best.1 { (i, r) } else { best });
            if rank == u32::MAX {
                break;
            }
            if i > 0 {
                parts[i - 1].1 = merged(&parts, i - 1);
            }
            parts[i].1 = merged(&parts, i);
            parts.remove(i + 1);
        }
        (parts.len() - 1) as u32
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn reference(text: &str) -> u32 {
        tiktoken_rs::o200k_base_singleton().encode_ordinary(text).len() as u32
    }

    #[test]
    fn counts_like_the_tokenizer() {
        assert_eq!(count(""), 0);
        assert_eq!(count("hello world"), 2);
        // Memoised answers agree with fresh ones.
        let s = "The quick brown fox jumps over the lazy dog.";
        assert_eq!(count(s), count(s));
        assert_eq!(count(s), 10);
    }

    #[test]
    fn the_whole_vocabulary_is_loaded() {
        // 199,998 ordinary tokens, ranks 0 to 199,997, each a distinct byte string.
        let file = include_str!("tokens/o200k_base.tiktoken");
        assert!(file.lines().enumerate().all(|(i, l)| l.split(' ').nth(1) == Some(i.to_string().as_str())), "ranks in line order");
        let v = &*VOCABULARY;
        assert_eq!(v.table.len(), 4 << slot::BITS);
        assert_eq!(v.len(), 199_998);
        assert!((0..199_998).all(|r| v.rank(v.token(r)) == r));
        assert_eq!(v.rank(b"hello"), 24912);
        assert_eq!(v.rank(b"no such token at all"), u32::MAX);
    }

    #[test]
    fn agrees_with_tiktoken_on_real_text() {
        let mut corpus: Vec<String> = vec![
            "Hello, world! How's it going? I'm fine; they'll see, we've won, you'd know.".into(),
            "  leading spaces, trailing spaces   \n\n\tand tabs\r\n".into(),
            "12345678901234 3.14159 1,000,000 0x1F -42".into(),
            "CamelCaseIdentifiers and snake_case_names and SHOUTING".into(),
            "fn main() {\n    println!(\"{}\", x.iter().map(|v| v * 2).sum::<u64>());\n}\n".into(),
            "日本語のテキストと中文文本，한국어 텍스트".into(),
            "emoji 🎉🚀👩‍👩‍👧‍👦 and accents: café naïve Ünïcödé; combining e\u{301}".into(),
            "Supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis".into(),
            "a/b/c\n/path/to/file.rs:12:7 -> https://example.com/a?b=c&d=e#f".into(),
            "\n\n\n   \n \t \u{a0}\u{2003} x".into(),
        ];
        for f in ["research-assistant", "code-review", "doc-digest", "support-triage"] {
            corpus.push(std::fs::read_to_string(format!("{}/sample-flows/{f}.toml", env!("CARGO_MANIFEST_DIR"))).expect("sample flow"));
        }
        corpus.push(std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR"))).expect("readme"));
        for text in &corpus {
            assert_eq!(VOCABULARY.count(text), reference(text), "{text:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn agrees_with_tiktoken_on_any_text(text in "(?s).{0,80}") {
            prop_assert_eq!(VOCABULARY.count(&text), reference(&text));
        }

        #[test]
        fn agrees_with_tiktoken_on_wordy_text(text in "[a-zA-Z0-9 '\n.,!?-]{0,200}") {
            prop_assert_eq!(VOCABULARY.count(&text), reference(&text));
        }
    }
}
