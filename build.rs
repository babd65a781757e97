//! Decodes the vendored tokenizer vocabulary (`src/tokens/o200k_base.tiktoken`: a base64 token
//! and its rank on each line, in rank order) into the three tables `src/tokens.rs` counts with,
//! all little-endian `u32`s but the first: every token's bytes back to back, where each one
//! starts, and a hash table from a token's bytes to its rank (rank + 1 in its slot, 0 for an
//! empty slot; see `src/tokens/slot.rs`). Decoding 3.6 MB of base64 and building the hash table
//! at run time cost about 40 ms at the start of every `baton run` that counts tokens.

use std::path::PathBuf;

#[path = "src/tokens/slot.rs"]
mod slot;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let src = "src/tokens/o200k_base.tiktoken";
    println!("cargo::rerun-if-changed={src}");
    println!("cargo::rerun-if-changed=src/tokens/slot.rs");
    let text = std::fs::read_to_string(src)?;
    let mut bytes = Vec::with_capacity(text.len() * 3 / 8);
    let mut starts = Vec::with_capacity(200_001 * 4);
    for (rank, line) in text.lines().enumerate() {
        let mut words = line.split(' ');
        let token = words.next().unwrap_or_default();
        if words.next() != Some(rank.to_string().as_str()) {
            return Err(format!("{src}:{}: expected rank {rank}", rank + 1).into());
        }
        starts.extend_from_slice(&u32::try_from(bytes.len())?.to_le_bytes());
        decode_base64(token.as_bytes(), &mut bytes).ok_or_else(|| format!("{src}:{}: bad base64", rank + 1))?;
    }
    starts.extend_from_slice(&u32::try_from(bytes.len())?.to_le_bytes());
    let start = |r: usize| u32::from_le_bytes([starts[4 * r], starts[4 * r + 1], starts[4 * r + 2], starts[4 * r + 3]]) as usize;
    let mask = (1usize << slot::BITS) - 1;
    let mut table = vec![0u32; 1 << slot::BITS];
    for r in 0..starts.len() / 4 - 1 {
        let mut i = slot::home(&bytes[start(r)..start(r + 1)]);
        while table[i] != 0 {
            i = (i + 1) & mask;
        }
        table[i] = u32::try_from(r + 1)?;
    }
    let table: Vec<u8> = table.iter().flat_map(|r| r.to_le_bytes()).collect();
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("o200k_bytes.bin"), bytes)?;
    std::fs::write(out.join("o200k_starts.bin"), starts)?;
    std::fs::write(out.join("o200k_table.bin"), table)?;
    Ok(())
}

/// Standard base64 with `=` padding appended to `out`; `None` for any other byte.
fn decode_base64(src: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in src.iter().filter(|&&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(())
}
