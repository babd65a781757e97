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
    let mut out = crate::sanitize::TerminalWriter::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock()));
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
