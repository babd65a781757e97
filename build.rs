//! Decodes the vendored tokenizer vocabulary (`src/tokens/o200k_base.tiktoken`: a base64 token
//! and its rank on each line, in rank order) into the two tables `src/tokens.rs` counts with:
//! every token's bytes back to back, and where each one starts (little-endian `u32`s). Decoding
//! 3.6 MB of base64 at run time cost about 30 ms at the start of every `baton run`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let src = "src/tokens/o200k_base.tiktoken";
    println!("cargo::rerun-if-changed={src}");
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
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("o200k_bytes.bin"), bytes)?;
    std::fs::write(out.join("o200k_starts.bin"), starts)?;
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
