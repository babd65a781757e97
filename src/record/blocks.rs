//! A recording's events read on two threads: the file is cut into blocks of whole lines, two
//! workers read the blocks' lines into events (alternate blocks each), and the caller folds
//! them in order. Reading the lines is nine tenths of a folded read (`replay --summary` of 1M
//! events); folding them is cheap. The result is exactly the sequential read's: the same
//! events in the same order, the same error for a bad line, the same note for a torn end.

use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::lines::Reading;
use crate::event::RunEvent;

/// About this much of the file a block (a block ends at a line's end).
const BLOCK: usize = 1 << 20;
/// Blocks read ahead of the fold, in all.
const AHEAD: usize = 4;

/// Some whole lines, and where they start in the file.
struct Block {
    at: u64,
    bytes: Vec<u8>,
}

/// A bad line, by its number within its block (from 1), and why.
type Bad = (usize, String);

/// What a read gives: the bad line that ends it, or the torn end's, if any.
type Outcome = Result<Option<Bad>, Bad>;

/// A block's lines read.
struct Parsed {
    /// The block's buffer, handed back to read the next block into (a fresh megabyte a block
    /// was a fifth of `export`'s time in page faults).
    bytes: Vec<u8>,
    /// Each event, where its line starts in the file and the line's length.
    events: Vec<(RunEvent, u64, usize)>,
    /// How many lines the block holds.
    lines: usize,
    /// Whether any line has content (is not blank).
    content: bool,
    /// A bad line followed by content in the block: the read's error.
    fatal: Option<Bad>,
    /// A bad line with no content after it in the block: a torn end, unless a later block
    /// has content.
    pending: Option<Bad>,
}

fn parse(reading: &Reading, b: Block) -> Parsed {
    // About 400 bytes a line (most are streamed chunks).
    let mut p =
        Parsed { bytes: Vec::new(), events: Vec::with_capacity(b.bytes.len() / 256), lines: 0, content: false, fatal: None, pending: None };
    parse_into(reading, &b, &mut p);
    p.bytes = b.bytes;
    p
}

fn parse_into(reading: &Reading, b: &Block, p: &mut Parsed) {
    let mut rest = &b.bytes[..];
    let mut at = b.at;
    while !rest.is_empty() {
        // A byte-at-a-time search for the line's end was a fifth of each worker's time (perf).
        let (line, took) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        rest = &rest[took..];
        let line_at = at;
        at += took as u64;
        p.lines += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        p.content = true;
        if let Some(bad) = p.pending.take() {
            p.fatal = Some(bad);
            return;
        }
        match reading.line(line) {
            Ok(e) => p.events.push((e, line_at, line.len())),
            Err(why) => p.pending = Some((p.lines, why)),
        }
    }
}

/// Reads every event after the header from `r` (which starts at `start` in the file) and hands
/// each to `on_event` in order, as `reader::read_events` does on one thread. `Err` holds the
/// bad line's number in the file (the header is line 1) and why; `Ok` the torn end's, if any.
pub(super) fn read(
    r: &mut impl Read,
    start: u64,
    reading: &Reading,
    on_event: impl FnMut(RunEvent, u64, usize),
) -> std::io::Result<Outcome> {
    read_in(r, start, reading, BLOCK, on_event)
}

/// [`read`] in blocks of about `block` bytes.
fn read_in(
    r: &mut impl Read,
    start: u64,
    reading: &Reading,
    block: usize,
    mut on_event: impl FnMut(RunEvent, u64, usize),
) -> std::io::Result<Outcome> {
    std::thread::scope(|s| {
        let mut to: Vec<SyncSender<Block>> = Vec::new();
        let mut from: Vec<Receiver<Parsed>> = Vec::new();
        for _ in 0..2 {
            let (tx, rx) = sync_channel::<Block>(AHEAD);
            let (ptx, prx) = sync_channel::<Parsed>(AHEAD);
            s.spawn(move || {
                for b in rx {
                    if ptx.send(parse(reading, b)).is_err() {
                        return;
                    }
                }
            });
            to.push(tx);
            from.push(prx);
        }
        let mut fold = Fold { lines: 0, pending: None };
        let (mut sent, mut folded) = (0usize, 0usize);
        let mut at = start;
        let mut carry: Vec<u8> = Vec::new();
        // Buffers the workers handed back.
        let mut free: Vec<Vec<u8>> = Vec::new();
        let mut end = false;
        while !end || folded < sent {
            if !end && sent - folded < AHEAD {
                // The rest of a line goes in front of the next block. A line longer than a
                // block is itself the buffer, read on: copied, it was copied again each block.
                let mut bytes = if carry.len() >= block {
                    std::mem::take(&mut carry)
                } else {
                    let mut bytes = free.pop().unwrap_or_default();
                    bytes.clear();
                    bytes.extend_from_slice(&carry);
                    carry.clear();
                    bytes
                };
                // Read into the spare room as it is: zeroed first, every block was written twice.
                bytes.reserve(block);
                let n = r.by_ref().take(block as u64).read_to_end(&mut bytes)?;
                if n == 0 {
                    end = true;
                } else if let Some(i) = memchr::memrchr(b'\n', &bytes) {
                    carry.extend_from_slice(&bytes[i + 1..]);
                    bytes.truncate(i + 1);
                } else {
                    // A line longer than a block: read on.
                    carry = bytes;
                    continue;
                }
                if bytes.is_empty() {
                    continue;
                }
                let len = bytes.len() as u64;
                // A closed channel means its worker panicked; the scope reports that.
                let _ = to[sent % 2].send(Block { at, bytes });
                at += len;
                sent += 1;
                continue;
            }
            let Ok(mut p) = from[folded % 2].recv() else { break };
            folded += 1;
            free.push(std::mem::take(&mut p.bytes));
            if let Some(bad) = fold.block(p, &mut on_event) {
                return Ok(Err(bad));
            }
        }
        drop(to);
        Ok(Ok(fold.pending))
    })
}

/// The fold's side: numbers lines across blocks and keeps a bad line until it is known to be
/// the last with content.
struct Fold {
    lines: usize,
    pending: Option<Bad>,
}

impl Fold {
    /// Hands a block's events on; the read's error, if the block shows one.
    fn block(&mut self, p: Parsed, on_event: &mut impl FnMut(RunEvent, u64, usize)) -> Option<Bad> {
        // Line 1 is the header.
        let base = self.lines + 1;
        let global = |(line, why): Bad| (base + line, why);
        if p.content
            && let Some(bad) = self.pending.take()
        {
            return Some(bad);
        }
        for (e, at, len) in p.events {
            on_event(e, at, len);
        }
        if let Some(bad) = p.fatal {
            return Some(global(bad));
        }
        if let Some(bad) = p.pending {
            self.pending = Some(global(bad));
        }
        self.lines += p.lines;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-thread read (`reader::read_events`' loop): the reference.
    fn one_thread(text: &[u8], start: u64, reading: &Reading) -> (Vec<(RunEvent, u64, usize)>, Outcome) {
        let mut events = Vec::new();
        let mut failed: Option<Bad> = None;
        let (mut n, mut at) = (0, start);
        for line in text.split_inclusive(|&c| c == b'\n') {
            let took = line.len();
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            let line_at = at;
            at += took as u64;
            n += 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if let Some(bad) = failed.take() {
                return (events, Err(bad));
            }
            match reading.line(line) {
                Ok(e) => events.push((e, line_at, line.len())),
                Err(why) => failed = Some((n + 1, why)),
            }
        }
        (events, Ok(failed))
    }

    #[test]
    fn blocks_read_as_one_thread_does() {
        let lookup = |id: &str| ["a", "b"].iter().position(|n| *n == id).map(|i| i as u32);
        let reading = Reading { run: 1, attempt: 1, lookup: &lookup, drop_outputs: None, drop_text: false };
        let delta = |i: usize| {
            format!(
                r#"{{"ev":"node_delta","t":{i},"node":"{}","text":"piece {i} \n","tokens":{i}}}"#,
                if i.is_multiple_of(3) { "a" } else { "b" }
            )
        };
        let finished = r#"{"ev":"node_finished","t":9,"node":"a","model":"m","usage":{"input":1,"output":2},"estimated":false,"ttft_us":1,"latency_us":2,"output":"out","checks":[],"cached":false}"#;
        let good: Vec<String> = (0..40)
            .map(|i| {
                if i % 7 == 6 {
                    finished.to_string()
                } else if i % 11 == 5 {
                    "  ".into()
                } else {
                    delta(i)
                }
            })
            .collect();
        let mut texts: Vec<String> = vec![good.join("\n"), format!("{}\n", good.join("\n")), String::new(), "\n\n".into()];
        for bad_at in [0, 1, 17, 38, 39] {
            let mut lines = good.clone();
            lines[bad_at] = "{\"ev\":\"node_delta\",\"t\":1".into();
            texts.push(lines.join("\n"));
            // Torn: nothing with content after it.
            lines.truncate(bad_at + 1);
            texts.push(lines.join("\n"));
            texts.push(format!("{}\n \n\n", lines.join("\n")));
        }
        for text in &texts {
            let want = one_thread(text.as_bytes(), 100, &reading);
            for block in [1, 2, 7, 64, 300, 1 << 20] {
                let mut got = Vec::new();
                let result = read_in(&mut text.as_bytes(), 100, &reading, block, |e, at, len| got.push((e, at, len))).expect("reads");
                assert_eq!(result, want.1, "block {block}: {text}");
                // An error ends the read: what came before it was handed on.
                if result.is_ok() {
                    assert_eq!(got, want.0, "block {block}");
                } else {
                    assert_eq!(&got[..], &want.0[..got.len()], "block {block}");
                }
            }
        }
    }
}
