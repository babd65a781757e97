//! Where a token's rank is kept in the vocabulary's hash table: shared by `build.rs`, which lays
//! the table out, and `src/tokens.rs`, which reads it, so the two cannot disagree.

/// The table has 2^BITS slots: 524,288 for 199,998 tokens, 38% full, so a lookup probes one or
/// two slots (linear probing).
pub const BITS: u32 = 19;

/// The first slot to probe for a token's bytes: FNV-1a, then a multiplicative mix so the top
/// bits depend on every byte.
pub fn home(bytes: &[u8]) -> usize {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BITS)) as usize
}
