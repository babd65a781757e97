//! Pushing a run's spans while it runs: a thread owns its own fold of the run's events and an
//! HTTP client; the spans of units that have finished (done, cached, skipped or failed) go
//! out in a batch at most every [`StreamPush::INTERVAL`] (or as soon as 64 are waiting), and
//! the rest, with the workflow span, when the run ends. A push that fails stops the batches
//! (no hammering a receiver that is down); everything not yet delivered is tried once more at
//! the end. The run never waits on the network: events reach the thread over a channel.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::otlp::{Trace, document, root_span, unit_span};
use super::push::{PushConfig, PushError, client, send};
use crate::engine::RunSpec;
use crate::event::{Event, RunEvent};
use crate::state::{RunState, Status};

/// What a streamed push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamReport {
    /// Spans the receiver took.
    pub spans: usize,
    /// Requests that delivered them.
    pub requests: usize,
    /// Spans never delivered.
    pub undelivered: usize,
    /// The failures, in order (the last one is why spans were left undelivered).
    pub errors: Vec<PushError>,
}

enum Msg {
    Event(Box<RunEvent>),
    Finish,
}

/// The pushing thread's handle.
pub struct StreamPush {
    tx: SyncSender<Msg>,
    thread: Option<JoinHandle<StreamReport>>,
}

struct Pusher {
    state: RunState,
    trace: Trace,
    sent: Vec<bool>,
    cfg: PushConfig,
    report: StreamReport,
    /// A batch failed: send nothing more until the end.
    holding: bool,
}

impl Pusher {
    /// Units that ended and were not sent, as a report lists them: a fan-out node that
    /// expanded is its instances, not a unit of its own.
    fn finished(&self) -> Vec<usize> {
        let st = &self.state;
        (0..st.units.len())
            .filter(|&i| {
                let u = &st.units[i];
                !self.sent.get(i).copied().unwrap_or(false)
                    && matches!(u.status, Status::Done | Status::Cached | Status::Skipped | Status::Failed)
                    && (u.unit.item.is_some() || st.nodes[u.unit.index()].instances.is_empty())
            })
            .collect()
    }

    /// Sends the units' spans (and the workflow span at the end); marks them sent if taken.
    async fn flush(&mut self, http: &reqwest::Client, units: Vec<usize>, last: bool) {
        if units.is_empty() && !last {
            return;
        }
        let mut spans: Vec<_> = units.iter().map(|&i| unit_span(&self.state, &self.trace, i)).collect();
        if last {
            spans.push(root_span(&self.state, &self.trace));
        }
        let n = spans.len();
        match send(http, &self.cfg, &document(spans)).await {
            Ok(p) => {
                self.report.spans += p.spans;
                self.report.requests += 1;
                if self.sent.len() < self.state.units.len() {
                    self.sent.resize(self.state.units.len(), false);
                }
                for i in units {
                    self.sent[i] = true;
                }
            }
            Err(e) => {
                self.holding = true;
                if last {
                    self.report.undelivered = n;
                }
                self.report.errors.push(e);
            }
        }
    }
}

impl StreamPush {
    /// How often finished units' spans go out while the run goes.
    pub const INTERVAL: Duration = Duration::from_secs(1);
    const BATCH: usize = 64;

    /// Starts the thread for the run of `spec`, whose trace is `trace`.
    pub fn start(cfg: PushConfig, spec: &RunSpec, trace: Trace) -> std::io::Result<StreamPush> {
        StreamPush::start_every(cfg, spec, trace, StreamPush::INTERVAL)
    }

    /// [`StreamPush::start`] with batches at most every `interval`.
    pub fn start_every(cfg: PushConfig, spec: &RunSpec, trace: Trace, interval: Duration) -> std::io::Result<StreamPush> {
        let state = RunState { live_text: false, ..RunState::for_spec(spec) };
        let (tx, rx) = sync_channel(16_384);
        let thread = std::thread::Builder::new().name("baton-otlp-push".into()).spawn(move || {
            let p = Pusher { sent: vec![false; state.units.len()], state, trace, cfg, report: StreamReport::default(), holding: false };
            run(p, rx, interval)
        })?;
        Ok(StreamPush { tx, thread: Some(thread) })
    }

    /// Hands an event over (token deltas are not needed for spans and are not sent).
    pub fn event(&self, e: &RunEvent) {
        if !matches!(e.kind, Event::NodeDelta { .. }) {
            let _ = self.tx.send(Msg::Event(Box::new(e.clone())));
        }
    }

    /// Sends what is left, waits for the answer, and says what arrived.
    pub fn finish(mut self) -> StreamReport {
        let _ = self.tx.send(Msg::Finish);
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or_else(|| StreamReport {
            errors: vec![PushError::Encode("the push thread stopped early".into())],
            ..StreamReport::default()
        })
    }
}

fn run(mut p: Pusher, rx: Receiver<Msg>, interval: Duration) -> StreamReport {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            p.report.errors.push(PushError::Encode(format!("cannot start the runtime: {e}")));
            return p.report;
        }
    };
    let http = match client() {
        Ok(c) => c,
        Err(e) => {
            p.report.errors.push(e);
            return p.report;
        }
    };
    let mut due = Instant::now() + interval;
    // Units that ended since the last batch (looking for them is a scan; only look when it pays).
    let mut pending = 0;
    loop {
        let msg = rx.recv_timeout(due.saturating_duration_since(Instant::now()));
        match msg {
            Ok(Msg::Event(e)) => {
                if matches!(e.kind, Event::NodeFinished { .. } | Event::NodeFailed { .. } | Event::NodeSkipped { .. }) {
                    pending += 1;
                }
                p.state.apply(&e);
            }
            Ok(Msg::Finish) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if p.holding {
            continue;
        }
        let now = Instant::now();
        if pending >= StreamPush::BATCH || (now >= due && pending > 0) {
            pending = 0;
            let ready = p.finished();
            rt.block_on(p.flush(&http, ready, false));
        }
        if now >= due {
            due = now + interval;
        }
    }
    // Whatever is still queued, then everything not delivered, with the workflow span.
    while let Ok(Msg::Event(e)) = rx.try_recv() {
        p.state.apply(&e);
    }
    let rest = p.finished();
    rt.block_on(p.flush(&http, rest, true));
    p.report
}

impl Drop for StreamPush {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.tx.send(Msg::Finish);
            let _ = t.join();
        }
    }
}
