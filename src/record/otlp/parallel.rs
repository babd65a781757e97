//! [`super::write_indexed`] on two threads: the spans are built and written to bytes in chunks,
//! alternately by two workers (each reading its units' outputs from the recording on its own
//! handle), and the chunks are written in order. Building and writing the spans was most of
//! `export` once the recording was read (perf).
//!
//! Each span is written as pretty JSON on its own, already at its depth in the document
//! ([`AtDepth`]), so it holds exactly the bytes the whole document would.

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
    let mut first = Vec::new();
    at_depth(&root_span(st, &trace), b"\n", &mut first)?;
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
                for chunk in chunks.iter().skip(k).step_by(2) {
                    // About 15 KB a span with 1,000-token outputs.
                    let mut bytes = Vec::with_capacity(chunk.len() * 16384);
                    let built = chunk.iter().try_for_each(|&idx| span(st, trace, &outputs, idx, &mut bytes));
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

/// A unit's span, after `,` and a newline, at the spans' depth, its output read from the
/// recording.
fn span(st: &RunState, trace: &Trace, outputs: &OutputIndex, idx: usize, buf: &mut Vec<u8>) -> std::io::Result<()> {
    with_output(st, outputs, idx, |out| at_depth(&unit_span_of(st, trace, idx, out), b",\n", buf))?
}

/// `sep`, then `value` as pretty JSON at the spans' depth.
fn at_depth(value: &impl Serialize, sep: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
    out.extend_from_slice(sep);
    out.extend_from_slice(INDENT);
    let mut ser = serde_json::Serializer::with_formatter(out, AtDepth { depth: 0, has_value: false });
    value.serialize(&mut ser).map_err(std::io::Error::from)
}

/// serde_json's pretty layout (two spaces a level) for a value that starts [`INDENT`] deep:
/// each line it begins is indented that much more. Written this way rather than pretty and
/// then indented: that copied every span once more and searched it for newlines, a quarter of
/// each builder's time.
struct AtDepth {
    depth: usize,
    has_value: bool,
}

impl AtDepth {
    /// `sep` (a newline, after a comma or not), then the line's indent.
    fn line<W: ?Sized + Write>(&self, w: &mut W, sep: &[u8]) -> std::io::Result<()> {
        const SPACES: &[u8; 64] = &[b' '; 64];
        w.write_all(sep)?;
        let mut width = INDENT.len() + 2 * self.depth;
        while width > 0 {
            let n = width.min(SPACES.len());
            w.write_all(&SPACES[..n])?;
            width -= n;
        }
        Ok(())
    }

    /// An array or object opens: one level deeper.
    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    /// It closes: on a line of its own unless it is empty.
    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line(w, b"\n")?;
        }
        w.write_all(bracket)
    }
}

impl serde_json::ser::Formatter for AtDepth {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.line(w, if first { b"\n" } else { b",\n" })
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.line(w, if first { b"\n" } else { b",\n" })
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}
