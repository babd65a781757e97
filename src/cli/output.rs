//! What commands print. Everything may carry text from outside (server errors, model output,
//! file contents), so stdout goes through [`print_out`] and stderr through the command line's
//! `eprintln!`, both of which pass it through [`crate::sanitize::for_terminal`].

use std::io::Write;

use super::{EXIT_OK, EXIT_RUN_FAILED};

/// Prints to stdout. Tables go through [`crate::sanitize::for_terminal`]; JSON keeps its
/// control characters escaped by the encoder, so it passes through unchanged but redacted.
pub fn print_out(text: &str) -> u8 {
    let text = crate::sanitize::for_terminal(text);
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => EXIT_OK,
        // A closed pipe (`| head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => {
            eprintln!("baton: cannot write the output: {e}");
            EXIT_RUN_FAILED
        }
    }
}

/// Prints `v` as pretty JSON with a final newline, exactly the bytes `print_out(&to_json(v))`
/// prints, without building the whole text first: a 100,000-node report is about 95 MB.
pub fn print_json<T: serde::Serialize>(v: &T) -> u8 {
    let mut out = TerminalWriter::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock()));
    let written = match serde_json::to_writer_pretty(&mut out, v) {
        Ok(()) => out.write_all(b"\n").and_then(|()| out.finish()),
        Err(e) if e.is_io() => Err(std::io::Error::from(e)),
        Err(e) => {
            // As `to_json` does: the error in place of the report (nothing is written before a
            // serialization error can occur in practice: reports hold no maps with odd keys).
            let text = format!("{{\"error\": \"{e}\"}}\n");
            out.write_all(text.as_bytes()).and_then(|()| out.finish())
        }
    };
    match written {
        Ok(()) => EXIT_OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => {
            eprintln!("baton: cannot write the output: {e}");
            EXIT_RUN_FAILED
        }
    }
}

/// Passes text through to `out` as [`crate::sanitize::for_terminal`] would change the whole of
/// it. Clean text (no control character but newline and tab, no key registered) goes out in
/// pieces ending at a newline; from the first piece that is not clean, the rest is held and
/// cleaned as one, which gives the same bytes because the cleaner starts afresh after text
/// it leaves unchanged.
struct TerminalWriter<W: Write> {
    out: W,
    pending: Vec<u8>,
    /// Set once some text needs cleaning: everything from there on, held until the end.
    held: Option<Vec<u8>>,
}

/// Whether bytes hold a character [`crate::sanitize::strip_controls`] would touch: a C0
/// control other than newline and tab, DEL, or a C1 control (UTF-8 `C2 80`..`C2 9F`).
fn needs_cleaning(b: &[u8]) -> bool {
    b.iter().enumerate().any(|(k, &c)| {
        (c < 0x20 && c != b'\n' && c != b'\t') || c == 0x7f || (c == 0xc2 && b.get(k + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
    })
}

impl<W: Write> TerminalWriter<W> {
    fn new(out: W) -> TerminalWriter<W> {
        // With a key registered, redaction needs the whole text (a key could span two pieces).
        let held = crate::sanitize::has_secrets().then(Vec::new);
        TerminalWriter { out, pending: Vec::new(), held }
    }

    /// Sends the clean part of `pending` up to its last newline.
    fn pass_on(&mut self) -> std::io::Result<()> {
        let Some(end) = self.pending.iter().rposition(|&c| c == b'\n') else { return Ok(()) };
        if needs_cleaning(&self.pending[..=end]) {
            self.held = Some(std::mem::take(&mut self.pending));
            return Ok(());
        }
        self.out.write_all(&self.pending[..=end])?;
        self.pending.drain(..=end);
        Ok(())
    }

    /// Writes what is left, cleaned, and flushes.
    fn finish(mut self) -> std::io::Result<()> {
        let rest = match self.held.take() {
            Some(mut held) => {
                held.extend_from_slice(&self.pending);
                held
            }
            None => std::mem::take(&mut self.pending),
        };
        let text = String::from_utf8_lossy(&rest);
        self.out.write_all(crate::sanitize::for_terminal(&text).as_bytes())?;
        self.out.flush()
    }
}

impl<W: Write> Write for TerminalWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.held {
            Some(held) => held.extend_from_slice(buf),
            None => {
                self.pending.extend_from_slice(buf);
                if self.pending.len() >= 1 << 16 {
                    self.pass_on()?;
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Pretty JSON with a final newline.
pub fn to_json<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_string_pretty(v) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        Err(e) => format!("{{\"error\": \"{e}\"}}\n"),
    }
}

/// Prints warnings (diagnostics that are not errors) to stderr.
pub fn warn(d: &crate::diag::Diagnostics) {
    if !d.0.is_empty() {
        eprintln!("{d}");
    }
}
