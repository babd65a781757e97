//! Reading recordings: the header, then every complete line. A torn last line (a run killed
//! mid-write) is reported and skipped; anything else that is not a recording is an error that
//! says what the file is and what to do.

use std::collections::HashMap;
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
        let not = |why: &str| ReadError::NotARecording { file: file.to_string(), why: why.to_string() };
        let all: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        let last_content = all.iter().rposition(|l| !l.iter().all(u8::is_ascii_whitespace)).unwrap_or(0);
        let first = all.first().copied().unwrap_or_default();
        if first.iter().all(u8::is_ascii_whitespace) {
            return Err(not("it is empty"));
        }
        let probe: serde_json::Value = serde_json::from_slice(first).map_err(|_| not("its first line is not JSON"))?;
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

        let index: HashMap<&str, u32> = flow.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i as u32)).collect();
        let lookup = |id: &str| index.get(id).copied();
        let mut events = Vec::new();
        let mut torn = None;
        for (n, raw) in all.iter().enumerate().skip(1) {
            let is_last = n == last_content;
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let parsed = serde_json::from_slice::<Line>(raw)
                .map_err(|e| e.to_string())
                .and_then(|l| l.into_event(header.run, header.attempt, &lookup));
            match parsed {
                Ok(e) => events.push(e),
                Err(why) if is_last => {
                    torn = Some(format!("line {} is incomplete and was skipped ({why}); the run was probably interrupted", n + 1));
                }
                Err(why) => return Err(ReadError::BadLine { file: file.to_string(), line: n + 1, why }),
            }
        }
        Ok(Recording {
            file: file.to_string(),
            header,
            flow: Arc::new(flow),
            strategy: Arc::new(strategy),
            catalog: Arc::new(catalog),
            events,
            torn,
        })
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
