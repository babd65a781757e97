//! Reading recordings: the header, then every complete line. A torn last line (a run killed
//! mid-write) is reported and skipped; anything else that is not a recording is an error that
//! says what the file is and what to do.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use super::format::{FORMAT, Header, Line, VERSION};
use crate::diag::Source;
use crate::event::RunEvent;
use crate::flow::{Flow, parse_flow};
use crate::routing::{Catalog, Strategy};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{file}: cannot read the file: {source}")]
    Io { file: String, source: std::io::Error },
    #[error("{file}: not a Baton recording ({why})\n  help: recordings are the .jsonl files `baton run` and the live screen write")]
    NotARecording { file: String, why: String },
    #[error(
        "{file}: recording format version {found} is newer than this Baton reads (version {supported})\n  help: upgrade Baton to replay it"
    )]
    NewerVersion { file: String, found: u32, supported: u32 },
    #[error("{file}:{line}: not a recorded event: {why}")]
    BadLine { file: String, line: usize, why: String },
    #[error("{file}: the recorded {what} no longer parses:\n{diags}")]
    Embedded { file: String, what: &'static str, diags: crate::diag::Diagnostics },
}

/// A recording, read and checked.
#[derive(Debug, Clone)]
pub struct Recording {
    pub file: String,
    pub header: Header,
    pub flow: Arc<Flow>,
    pub strategy: Arc<Strategy>,
    pub catalog: Arc<Catalog>,
    pub events: Vec<RunEvent>,
    /// Set when the last line was cut short (and skipped).
    pub torn: Option<String>,
}

impl Recording {
    pub fn open(path: &Path) -> Result<Recording, ReadError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| ReadError::Io { file: file.clone(), source })?;
        Recording::parse(&file, &bytes)
    }

    pub fn parse(file: &str, bytes: &[u8]) -> Result<Recording, ReadError> {
        let mut lines = bytes;
        let mut rec = read_header(file, &mut lines)?;
        let mut events = Vec::new();
        rec.torn = read_events(&rec, &mut lines, |e| events.push(e))?;
        rec.events = events;
        Ok(rec)
    }

    /// Reads a recording and folds it as it goes, never holding its events or its text: what
    /// `replay --summary`, `reprice` and `export` need (a 1,000,000-event recording held whole
    /// took over 0.6 GB). The same checks and errors as [`Recording::open`]; the returned
    /// recording's `events` is empty, and the state is what [`Recording::state`] would give.
    pub fn open_folded(path: &Path) -> Result<(Recording, crate::state::RunState), ReadError> {
        let file = path.display().to_string();
        let f = std::fs::File::open(path).map_err(|source| ReadError::Io { file: file.clone(), source })?;
        let mut reader = std::io::BufReader::with_capacity(1 << 16, f);
        let mut rec = read_header(&file, &mut reader)?;
        // Nothing headless reads a stream in progress: a node's deltas are counted, and their
        // text (most of a recording's bytes) is not gathered into a string that its finish
        // replaces anyway.
        let mut state = crate::state::RunState {
            live_text: false,
            ..crate::state::RunState::new(rec.flow.clone(), rec.strategy.clone(), rec.catalog.clone(), rec.header.run, rec.header.attempt)
        };
        rec.torn = read_events(&rec, &mut reader, |e| {
            state.apply(&e);
        })?;
        Ok((rec, state))
    }

    /// The run folded to its last event.
    pub fn state(&self) -> crate::state::RunState {
        crate::state::RunState::new(self.flow.clone(), self.strategy.clone(), self.catalog.clone(), self.header.run, self.header.attempt)
            .fold(&self.events)
    }

    /// The spec that reproduces this run (same flow, strategy, catalog, seed and input).
    pub fn spec(&self) -> crate::engine::RunSpec {
        let mut s = crate::engine::RunSpec::new(
            self.flow.clone(),
            self.strategy.clone(),
            self.catalog.clone(),
            self.header.input.clone(),
            self.header.seed,
        );
        s.run_id = self.header.run;
        s.attempt = self.header.attempt;
        s
    }
}

/// The next line without its newline into `buf`; false at the end of the input.
fn next_line(file: &str, r: &mut impl BufRead, buf: &mut Vec<u8>) -> Result<bool, ReadError> {
    buf.clear();
    let n = r.read_until(b'\n', buf).map_err(|source| ReadError::Io { file: file.to_string(), source })?;
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    Ok(n > 0)
}

/// Reads and checks the first line, and the flow, strategy and catalog it embeds.
fn read_header(file: &str, r: &mut impl BufRead) -> Result<Recording, ReadError> {
    let not = |why: &str| ReadError::NotARecording { file: file.to_string(), why: why.to_string() };
    let mut first = Vec::new();
    next_line(file, r, &mut first)?;
    if first.iter().all(u8::is_ascii_whitespace) {
        return Err(not("it is empty"));
    }
    let probe: serde_json::Value = serde_json::from_slice(&first).map_err(|_| not("its first line is not JSON"))?;
    if probe.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(not("its first line does not say format \"baton-recording\""));
    }
    let version = probe.get("version").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
    if version > VERSION {
        return Err(ReadError::NewerVersion { file: file.to_string(), found: version, supported: VERSION });
    }
    let header: Header = serde_json::from_value(probe).map_err(|e| not(&format!("its header is incomplete: {e}")))?;
    let embedded = |what: &'static str, diags| ReadError::Embedded { file: file.to_string(), what, diags };
    let catalog = header.catalog().map_err(|d| embedded("catalog", d))?;
    let flow = parse_flow(&Source::new(format!("{file} (recorded flow {})", header.flow.source), header.flow.text.clone()))
        .map_err(|d| embedded("flow", d))?
        .0;
    let strategy = Strategy::parse(
        &Source::new(format!("{file} (recorded strategy {})", header.strategy.source), header.strategy.text.clone()),
        &catalog,
    )
    .map_err(|d| embedded("strategy", d))?
    .0;
    Ok(Recording {
        file: file.to_string(),
        header,
        flow: Arc::new(flow),
        strategy: Arc::new(strategy),
        catalog: Arc::new(catalog),
        events: Vec::new(),
        torn: None,
    })
}

/// A streamed piece of output as the recorder writes it, borrowed from the line.
#[derive(serde::Deserialize)]
struct DeltaLine<'a> {
    #[serde(borrow)]
    ev: &'a str,
    t: u64,
    #[serde(borrow)]
    node: Cow<'a, str>,
    #[serde(default)]
    item: Option<u32>,
    #[serde(borrow)]
    text: Cow<'a, str>,
    tokens: u64,
}

/// Reads a `node_delta` line (nine lines in ten of a recording) straight into its event.
/// Through [`Line`], serde first copies every field of an internally tagged enum into a tree
/// of owned values and then reads the variant from that: `perf` put that at a third of
/// `replay --summary`. `None` for any other line, or any this cannot read (a missing field,
/// a node the flow lacks): the general path reads those and reports their errors, so a line
/// reads to the same event, or fails with the same message, either way.
fn delta(buf: &[u8], run: u64, attempt: u32, lookup: &dyn Fn(&str) -> Option<u32>) -> Option<RunEvent> {
    if !buf.starts_with(br#"{"ev":"node_delta","#) {
        return None;
    }
    let d: DeltaLine = serde_json::from_slice(buf).ok()?;
    if d.ev != "node_delta" {
        return None;
    }
    let unit = crate::event::Unit { node: lookup(&d.node)?, item: d.item };
    Some(RunEvent {
        run,
        attempt,
        at: std::time::Duration::from_micros(d.t),
        kind: crate::event::Event::NodeDelta { unit, text: d.text.into_owned(), output_tokens: d.tokens },
    })
}

/// Hands every event after the header to `on_event`, in order. A line that does not read is an
/// error, unless no line with content follows it: then it is a torn end (a run killed
/// mid-write), skipped and described in the result.
fn read_events(rec: &Recording, r: &mut impl BufRead, mut on_event: impl FnMut(RunEvent)) -> Result<Option<String>, ReadError> {
    let index: HashMap<&str, u32> = rec.flow.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i as u32)).collect();
    let lookup = |id: &str| index.get(id).copied();
    let (run, attempt) = (rec.header.run, rec.header.attempt);
    // A line that did not read, and its number: an error if any content follows.
    let mut failed: Option<(usize, String)> = None;
    let mut buf = Vec::new();
    let mut n = 0;
    while next_line(&rec.file, r, &mut buf)? {
        n += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let Some((line, why)) = failed.take() {
            return Err(ReadError::BadLine { file: rec.file.clone(), line, why });
        }
        if let Some(e) = delta(&buf, run, attempt, &lookup) {
            on_event(e);
            continue;
        }
        match serde_json::from_slice::<Line>(&buf).map_err(|e| e.to_string()).and_then(|l| l.into_event(run, attempt, &lookup)) {
            Ok(e) => on_event(e),
            Err(why) => failed = Some((n + 1, why)),
        }
    }
    Ok(failed.map(|(line, why)| format!("line {line} is incomplete and was skipped ({why}); the run was probably interrupted")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn general(line: &str, lookup: &dyn Fn(&str) -> Option<u32>) -> Result<RunEvent, String> {
        serde_json::from_str::<Line>(line).map_err(|e| e.to_string()).and_then(|l| l.into_event(7, 2, lookup))
    }

    #[test]
    fn a_delta_reads_to_the_same_event_by_either_path() {
        let lookup = |id: &str| ["a", "b"].iter().position(|n| *n == id).map(|i| i as u32);
        let lines = [
            r#"{"ev":"node_delta","t":256000,"node":"b","text":"Needs than late","tokens":28}"#,
            r#"{"ev":"node_delta","t":1,"node":"a","item":3,"text":"","tokens":0}"#,
            // Escapes are decoded, not borrowed.
            r#"{"ev":"node_delta","t":9,"node":"a","text":"say \"hi\"\n\u00e9\u001b[2J","tokens":4}"#,
            // Fields in another order, and one the reader does not know.
            r#"{"ev":"node_delta","tokens":5,"text":"x","node":"b","t":3,"extra":true}"#,
        ];
        for line in lines {
            let fast = delta(line.as_bytes(), 7, 2, &lookup).expect("the fast path reads it");
            assert_eq!(fast, general(line, &lookup).expect("the general path reads it"), "{line}");
        }
        assert!(matches!(&delta(lines[2].as_bytes(), 7, 2, &lookup).expect("reads").kind,
            crate::event::Event::NodeDelta { text, .. } if text == "say \"hi\"\n\u{e9}\u{1b}[2J"));
    }

    #[test]
    fn a_delta_the_fast_path_cannot_read_is_left_to_the_general_one() {
        let lookup = |id: &str| (id == "a").then_some(0);
        for line in [
            r#"{"ev":"node_delta","t":1,"node":"zz","text":"","tokens":0}"#,
            r#"{"ev":"node_delta","t":1,"node":"a","tokens":0}"#,
            r#"{"ev":"node_delta","t":"soon","node":"a","text":"","tokens":0}"#,
            r#"{"ev":"node_delta","ev":"node_failed","t":1,"node":"a","text":"","tokens":0}"#,
            r#"{"ev":"node_delta","t":1,"node":"a","text":"","tokens":0"#,
            r#"{"ev":"node_queued","t":1,"node":"a"}"#,
        ] {
            assert_eq!(delta(line.as_bytes(), 7, 2, &lookup), None, "{line}");
        }
        // And the general path still says what is wrong with them.
        assert!(
            general(r#"{"ev":"node_delta","t":1,"node":"zz","text":"","tokens":0}"#, &lookup)
                .expect_err("no such node")
                .contains("no node 'zz'")
        );
        assert!(general(r#"{"ev":"node_delta","t":1,"node":"a","tokens":0}"#, &lookup).expect_err("no text").contains("text"));
    }
}
