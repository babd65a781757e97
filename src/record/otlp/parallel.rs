//! [`super::write_indexed`] on two threads: the spans are built and written to bytes in chunks,
//! alternately by two workers (each reading its units' outputs from the recording on its own
//! handle), and the chunks are written in order. Building and writing the spans was most of
//! `export` once the recording was read (perf).
//!
//! Each span is written as pretty JSON on its own and then indented to its depth in the
//! document: in pretty JSON every newline is between tokens (a string's are escaped), so
//! indenting after each gives exactly the bytes the whole document would hold.

use std::io::Write;
use std::sync::mpsc::sync_channel;

use super::*;

/// Spans a chunk.
const CHUNK: usize = 128;
/// Where the spans sit in the document: six levels of two spaces.
const INDENT: &[u8] = b"            ";
/// Stands for the spans in the document written around them.
const MARK: &str = "\u{1}baton spans\u{1}";

pub(super) fn write(rec: &Recording, st: &RunState, outputs: &OutputIndex, mut out: impl Write) -> std::io::Result<usize> {
    let trace = Trace::of(rec);
    let doc = json_map([(
        "resourceSpans",
        Single(json_map([
            ("resource", Either::A(resource())),
            ("scopeSpans", Either::B(Single(json_map([("scope", Either::A(scope())), ("spans", Either::B(Single(MARK)))])))),
        ])),
    )]);
    let around = serde_json::to_vec_pretty(&doc)?;
    let mark = serde_json::to_vec(MARK)?;
    let broken = || std::io::Error::other("the export's document has no place for its spans");
    let at = around.windows(mark.len()).position(|w| w == mark).ok_or_else(broken)?;
    let head_end = at.checked_sub(INDENT.len() + 1).ok_or_else(broken)?;
    if around[head_end] != b'\n' || &around[head_end + 1..at] != INDENT {
        return Err(broken());
    }
    out.write_all(&around[..head_end])?;
    let mut scratch = Vec::new();
    serde_json::to_writer_pretty(&mut scratch, &root_span(st, &trace))?;
    let mut first = Vec::new();
    indented(&scratch, b"\n", &mut first);
    out.write_all(&first)?;

    let units = listed_units(st);
    let chunks: Vec<&[usize]> = units.chunks(CHUNK).collect();
    std::thread::scope(|s| -> std::io::Result<()> {
        let mut from = Vec::new();
        for k in 0..2 {
            let (tx, rx) = sync_channel::<std::io::Result<Vec<u8>>>(2);
            let (chunks, trace) = (&chunks, &trace);
            let outputs = outputs.reopen()?;
            s.spawn(move || {
                let mut scratch = Vec::new();
                for chunk in chunks.iter().skip(k).step_by(2) {
                    let mut bytes = Vec::with_capacity(chunk.len() * 8192);
                    let built = chunk.iter().try_for_each(|&idx| {
                        scratch.clear();
                        span(st, trace, &outputs, idx, &mut scratch)?;
                        indented(&scratch, b",\n", &mut bytes);
                        Ok(())
                    });
                    if tx.send(built.map(|()| bytes)).is_err() {
                        return;
                    }
                }
            });
            from.push(rx);
        }
        for c in 0..chunks.len() {
            let bytes = from[c % 2].recv().map_err(|_| std::io::Error::other("a thread building spans failed"))??;
            out.write_all(&bytes)?;
        }
        Ok(())
    })?;
    out.write_all(&around[at + mark.len()..])?;
    Ok(units.len() + 1)
}

/// A unit's span as pretty JSON, its output read from the recording.
fn span(st: &RunState, trace: &Trace, outputs: &OutputIndex, idx: usize, buf: &mut Vec<u8>) -> std::io::Result<()> {
    Ok(with_output(st, outputs, idx, |out| serde_json::to_writer_pretty(&mut *buf, &unit_span_of(st, trace, idx, out)))??)
}

/// `sep`, then `json` at the spans' depth.
fn indented(json: &[u8], sep: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(sep);
    out.extend_from_slice(INDENT);
    let mut lines = json.split(|&c| c == b'\n');
    if let Some(first) = lines.next() {
        out.extend_from_slice(first);
    }
    for line in lines {
        out.push(b'\n');
        out.extend_from_slice(INDENT);
        out.extend_from_slice(line);
    }
}
