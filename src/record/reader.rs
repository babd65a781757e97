//! Reading recordings: the header, then every complete line. A torn last line (a run killed
//! mid-write) is reported and skipped; anything else that is not a recording is an error that
//! says what the file is and what to do.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use super::format::{FORMAT, Header, VERSION};
pub use super::lines::OutputIndex;
use super::lines::Reading;
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
        rec.torn = read_events(&rec, &mut lines, Read::Whole, Outputs::Keep, 0, |e, _, _| events.push(e))?;
        rec.events = events;
        Ok(rec)
    }

    /// Reads a recording and folds it as it goes, never holding its events or its text: what
    /// `reprice` and `export` need (a 1,000,000-event recording held whole took over 0.6 GB).
    /// The same checks and errors as [`Recording::open`]; the returned recording's `events` is
    /// empty, and the state is what [`Recording::state`] would give.
    pub fn open_folded(path: &Path) -> Result<(Recording, crate::state::RunState), ReadError> {
        Recording::fold_file(path, Outputs::Keep, |_, _, _| {})
    }

    /// [`Recording::open_folded`] without the nodes' outputs: every finished unit's `output`
    /// is empty, all else is the same. What `replay --summary` needs (its report reads no
    /// output): a 1M-event recording's outputs are about 160 MB.
    pub fn open_folded_without_outputs(path: &Path) -> Result<(Recording, crate::state::RunState), ReadError> {
        Recording::fold_file(path, Outputs::Drop, |_, _, _| {})
    }

    /// [`Recording::open_folded_without_outputs`], and where each unit's output is in the file
    /// ([`OutputIndex`]): for a command that writes the outputs one at a time (`export`) and
    /// need not hold them all.
    pub fn open_folded_indexed(path: &Path) -> Result<(Recording, crate::state::RunState, OutputIndex), ReadError> {
        let mut at = HashMap::new();
        let (rec, state) = Recording::fold_file(path, Outputs::Drop, |e, line, len| {
            if let crate::event::Event::NodeFinished { unit, .. } = &e.kind {
                // A unit's output is its last finish's.
                at.insert(*unit, (line, len));
            }
        })?;
        let index = OutputIndex::open(path, &rec, at).map_err(|source| ReadError::Io { file: rec.file.clone(), source })?;
        Ok((rec, state, index))
    }

    fn fold_file(
        path: &Path,
        outputs: Outputs,
        mut each: impl FnMut(&RunEvent, u64, usize),
    ) -> Result<(Recording, crate::state::RunState), ReadError> {
        use std::io::Seek as _;
        let file = path.display().to_string();
        let io = |source| ReadError::Io { file: file.clone(), source };
        let f = std::fs::File::open(path).map_err(io)?;
        let mut reader = std::io::BufReader::with_capacity(1 << 16, f);
        let mut rec = read_header(&file, &mut reader)?;
        let start = reader.stream_position().map_err(io)?;
        // Nothing headless reads a stream in progress: a node's deltas are counted, and their
        // text (most of a recording's bytes) is not gathered into a string that its finish
        // replaces anyway.
        let mut state = crate::state::RunState {
            live_text: false,
            recorded: true,
            ..crate::state::RunState::new(rec.flow.clone(), rec.strategy.clone(), rec.catalog.clone(), rec.header.run, rec.header.attempt)
        };
        rec.torn = read_events(&rec, &mut reader, Read::Folded, outputs, start, |e, line, len| {
            each(&e, line, len);
            state.apply(&e);
        })?;
        Ok((rec, state))
    }

    /// The run folded to its last event.
    pub fn state(&self) -> crate::state::RunState {
        let st = crate::state::RunState::new(
            self.flow.clone(),
            self.strategy.clone(),
            self.catalog.clone(),
            self.header.run,
            self.header.attempt,
        );
        crate::state::RunState { recorded: true, ..st }.fold(&self.events)
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

/// Whether a read keeps the nodes' outputs.
#[derive(Clone, Copy)]
enum Outputs {
    Keep,
    Drop,
}

/// How a read goes: every event kept, one thread; or folded as read (no streamed text is
/// kept, which a fold with `live_text` off ignores), on two threads when there are two cores.
#[derive(Clone, Copy)]
enum Read {
    Whole,
    Folded,
}

/// The next line without its newline into `buf`; how many bytes it took (0 at the end of the
/// input).
fn next_line(file: &str, r: &mut impl BufRead, buf: &mut Vec<u8>) -> Result<usize, ReadError> {
    buf.clear();
    let n = r.read_until(b'\n', buf).map_err(|source| ReadError::Io { file: file.to_string(), source })?;
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    Ok(n)
}

/// Reads and checks the first line, and the flow, strategy and catalog it embeds.
fn read_header(file: &str, r: &mut impl BufRead) -> Result<Recording, ReadError> {
    let not = |why: &str| ReadError::NotARecording { file: file.to_string(), why: why.to_string() };
    let mut first = Vec::new();
    next_line(file, r, &mut first)?;
    if first.iter().all(u8::is_ascii_whitespace) {
        return Err(not("it is empty"));
    }
    // The format and version first, to say what is wrong with a file that is not a recording
    // or is a newer one.
    let check = |format: Option<&serde_json::Value>, version: Option<&serde_json::Value>| {
        if format.and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(not("its first line does not say format \"baton-recording\""));
        }
        let version = version.and_then(|v| v.as_u64()).unwrap_or(0) as u32;
        if version > VERSION {
            return Err(ReadError::NewerVersion { file: file.to_string(), found: version, supported: VERSION });
        }
        Ok(())
    };
    // Read straight into the header: a tree of the whole line first (the flow's text is most
    // of it, 5 MB for 25,000 nodes) took as long as reading the header itself. Anything that
    // does not read so (not an object, a repeated key, a missing field) is read as a tree, as
    // before, and its errors are that reading's.
    #[derive(serde::Deserialize)]
    struct Probe {
        format: Option<serde_json::Value>,
        version: Option<serde_json::Value>,
    }
    // (Unknown keys are skipped unread this way: one holding a lone surrogate escape, which a
    // tree refuses, no longer makes the file unreadable. Anything else reads as before.)
    let object = first.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') && std::str::from_utf8(&first).is_ok();
    let direct = match serde_json::from_slice::<Probe>(&first) {
        Ok(p) if object && check(p.format.as_ref(), p.version.as_ref()).is_ok() => serde_json::from_slice::<Header>(&first).ok(),
        _ => None,
    };
    let header = match direct {
        Some(header) => header,
        None => {
            let probe: serde_json::Value = serde_json::from_slice(&first).map_err(|_| not("its first line is not JSON"))?;
            check(probe.get("format"), probe.get("version"))?;
            serde_json::from_value(probe).map_err(|e| not(&format!("its header is incomplete: {e}")))?
        }
    };
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

/// Hands every event after the header to `on_event`, in order, with where its line starts
/// (counting from `start`, where the events begin) and its length. A line that does not read is an
/// error, unless no line with content follows it: then it is a torn end (a run killed
/// mid-write), skipped and described in the result.
fn read_events(
    rec: &Recording,
    r: &mut impl BufRead,
    read: Read,
    outputs: Outputs,
    start: u64,
    mut on_event: impl FnMut(RunEvent, u64, usize),
) -> Result<Option<String>, ReadError> {
    let index: HashMap<&str, u32> = rec.flow.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i as u32)).collect();
    let lookup = |id: &str| index.get(id).copied();
    let (run, attempt) = (rec.header.run, rec.header.attempt);
    let drop_outputs = matches!(outputs, Outputs::Drop).then(|| Arc::from(""));
    let reading = Reading { run, attempt, lookup: &lookup, drop_outputs, drop_text: matches!(read, Read::Folded) };
    let torn =
        |(line, why): (usize, String)| format!("line {line} is incomplete and was skipped ({why}); the run was probably interrupted");
    if matches!(read, Read::Folded) && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1) {
        return match super::blocks::read(r, start, &reading, on_event) {
            Err(source) => Err(ReadError::Io { file: rec.file.clone(), source }),
            Ok(Err((line, why))) => Err(ReadError::BadLine { file: rec.file.clone(), line, why }),
            Ok(Ok(pending)) => Ok(pending.map(torn)),
        };
    }
    // A line that did not read, and its number: an error if any content follows.
    let mut failed: Option<(usize, String)> = None;
    let mut buf = Vec::new();
    let mut n = 0;
    let mut at = start;
    loop {
        let took = next_line(&rec.file, r, &mut buf)?;
        if took == 0 {
            break;
        }
        let line_at = at;
        at += took as u64;
        n += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let Some((line, why)) = failed.take() {
            return Err(ReadError::BadLine { file: rec.file.clone(), line, why });
        }
        match reading.line(&buf) {
            Ok(e) => on_event(e, line_at, buf.len()),
            Err(why) => failed = Some((n + 1, why)),
        }
    }
    Ok(failed.map(torn))
}
