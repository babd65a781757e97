//! Token counting with a real tokenizer (o200k_base, the encoding of current OpenAI models; a
//! close estimate for other vendors' models), memoised because flows count the same upstream
//! outputs and prompt templates again and again.

use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::{Mutex, OnceLock};

const CACHE_LIMIT: usize = 100_000;

type Memo = HashMap<u64, u32, rustc_hash::FxBuildHasher>;

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
    let n = tiktoken_rs::o200k_base_singleton().encode_ordinary(text).len() as u32;
    if let Ok(mut c) = cache().lock() {
        if c.len() >= CACHE_LIMIT {
            c.clear();
        }
        c.insert(k, n);
    }
    n
}

/// Loads the tokenizer tables now rather than on the first count (they take a moment to build).
pub fn warm_up() {
    let _ = tiktoken_rs::o200k_base_singleton();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_like_the_tokenizer() {
        assert_eq!(count(""), 0);
        assert_eq!(count("hello world"), 2);
        // Memoised answers agree with fresh ones.
        let s = "The quick brown fox jumps over the lazy dog.";
        assert_eq!(count(s), count(s));
        assert_eq!(count(s), 10);
    }
}
