//! Open traces: spans gathered by trace id until the trace settles. A trace settles when its
//! root has arrived, no span waits for a parent, and nothing new came for the settle window;
//! one that never completes is closed anyway after `max_wait` of quiet, its orphans shown
//! under `running` placeholders. Settled traces leave memory at once (the caller records
//! and reports them); the number of open traces and spans per trace is bounded.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::span::{SpanId, SpanRec, TraceId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssemblerConfig {
    /// Quiet time after the last span before a complete trace closes. Remote spans were seen
    /// arriving 150 ms to 1.5 s after their children.
    pub settle: Duration,
    /// Quiet time after which an incomplete trace (a parent never came) closes anyway.
    pub max_wait: Duration,
    /// Open traces beyond this close the oldest first.
    pub max_open_traces: usize,
    /// Spans beyond this in one trace are dropped (and counted).
    pub max_spans_per_trace: usize,
}

impl Default for AssemblerConfig {
    fn default() -> Self {
        AssemblerConfig {
            settle: Duration::from_secs(2),
            max_wait: Duration::from_secs(30),
            max_open_traces: 1000,
            max_spans_per_trace: 10_000,
        }
    }
}

#[derive(Debug)]
pub struct OpenTrace {
    pub spans: Vec<SpanRec>,
    ids: HashSet<SpanId>,
    pub first_seen: Instant,
    pub last_seen: Instant,
    /// Sequence number of the trace's first arrival, for newest-first lists.
    pub seq: u64,
}

impl OpenTrace {
    /// Whether the root is here and every parent named has arrived.
    pub fn complete(&self) -> bool {
        let mut root = false;
        for s in &self.spans {
            match s.parent {
                None => root = true,
                Some(p) if !self.ids.contains(&p) => return false,
                Some(_) => {}
            }
        }
        root
    }
}

/// A closed trace, handed over with its spans.
#[derive(Debug)]
pub struct ClosedTrace {
    pub trace: TraceId,
    pub spans: Vec<SpanRec>,
    pub seq: u64,
    /// Closed for lack of time or room rather than because it was complete.
    pub forced: bool,
}

#[derive(Debug, Default)]
pub struct Assembler {
    cfg: AssemblerConfig,
    open: HashMap<TraceId, OpenTrace>,
    next_seq: u64,
    /// Spans dropped: duplicates resent by an exporter, or beyond the per-trace limit.
    pub dropped: u64,
}

impl Assembler {
    pub fn new(cfg: AssemblerConfig) -> Assembler {
        Assembler { cfg, ..Assembler::default() }
    }

    pub fn open(&self) -> impl Iterator<Item = (&TraceId, &OpenTrace)> {
        self.open.iter()
    }

    pub fn get(&self, t: &TraceId) -> Option<&OpenTrace> {
        self.open.get(t)
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Adds spans; returns traces pushed out because too many were open.
    pub fn add(&mut self, spans: Vec<SpanRec>, now: Instant) -> Vec<ClosedTrace> {
        for s in spans {
            let seq = self.next_seq;
            let t = self.open.entry(s.trace).or_insert_with(|| OpenTrace {
                spans: Vec::new(),
                ids: HashSet::new(),
                first_seen: now,
                last_seen: now,
                seq,
            });
            if t.seq == seq {
                self.next_seq += 1;
            }
            t.last_seen = now;
            if t.spans.len() >= self.cfg.max_spans_per_trace || !t.ids.insert(s.id) {
                self.dropped += 1;
                continue;
            }
            t.spans.push(s);
        }
        let mut out = Vec::new();
        while self.open.len() > self.cfg.max_open_traces {
            let Some(oldest) = self.open.iter().min_by_key(|(_, t)| t.last_seen).map(|(k, _)| *k) else { break };
            out.extend(self.close(oldest, true));
        }
        out
    }

    fn close(&mut self, t: TraceId, forced: bool) -> Option<ClosedTrace> {
        self.open.remove(&t).map(|o| ClosedTrace { trace: t, spans: o.spans, seq: o.seq, forced })
    }

    /// Closes every trace that has settled by `now`, oldest first.
    pub fn due(&mut self, now: Instant) -> Vec<ClosedTrace> {
        let mut ready: Vec<(u64, TraceId, bool)> = Vec::new();
        for (k, t) in &self.open {
            let quiet = now.saturating_duration_since(t.last_seen);
            if quiet >= self.cfg.max_wait {
                ready.push((t.seq, *k, !t.complete()));
            } else if quiet >= self.cfg.settle && t.complete() {
                ready.push((t.seq, *k, false));
            }
        }
        ready.sort();
        ready.into_iter().filter_map(|(_, k, forced)| self.close(k, forced)).collect()
    }

    /// Closes everything (at shutdown).
    pub fn drain(&mut self) -> Vec<ClosedTrace> {
        let mut keys: Vec<(u64, TraceId)> = self.open.iter().map(|(k, t)| (t.seq, *k)).collect();
        keys.sort();
        keys.into_iter()
            .filter_map(|(_, k)| {
                let forced = self.open.get(&k).is_some_and(|t| !t.complete());
                self.close(k, forced)
            })
            .collect()
    }
}
