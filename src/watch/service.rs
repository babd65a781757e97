//! The watch loop: receivers feed spans into the assembler; a tick closes settled traces,
//! which are converted, recorded and reported, then dropped. One task owns the assembler, so
//! no lock is shared with the receivers or a view.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::assemble::{Assembler, AssemblerConfig, ClosedTrace};
use super::convert::{Converter, WatchedRun};
use super::server::{Batch, ReceiverConfig, ServeError, start};
use super::span::hex;
use crate::routing::Catalog;

#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub receivers: ReceiverConfig,
    pub assembler: AssemblerConfig,
    pub catalog: Arc<Catalog>,
    /// Where recordings go; `None` records nothing.
    pub record_dir: Option<PathBuf>,
}

/// A settled trace, as a run.
pub struct Finished {
    pub run: WatchedRun,
    /// The recording written, or why it could not be.
    pub recording: Option<Result<PathBuf, String>>,
    /// Closed because a parent never came (or for room), not because it was complete.
    pub forced: bool,
}

/// What the loop tells its caller.
pub enum Report {
    Listening {
        http: Option<SocketAddr>,
        grpc: Option<SocketAddr>,
    },
    Finished(Box<Finished>),
    /// A trace without any model call (a health check, a plain request): not a run.
    NotARun {
        trace: String,
        spans: usize,
    },
    /// A trace that could not be converted (a bug; the message says so).
    Failed {
        trace: String,
        error: String,
    },
    /// A trace still arriving, converted from the spans it has so far (`to_run` with
    /// `finished: false`), sent at most once a tick while it changes; only from [`serve`] with
    /// `live` on, for a screen that shows traces filling in.
    Live(Box<WatchedRun>),
}

/// Converts and records one closed trace.
pub fn finish(closed: ClosedTrace, conv: &mut Converter, record_dir: Option<&std::path::Path>, run_id: u64, receiver: &str) -> Report {
    let trace = hex(&closed.trace);
    let g = conv.graph(&closed.spans);
    if !g.is_orchestration() {
        return Report::NotARun { trace, spans: closed.spans.len() };
    }
    let run = match conv.convert(&g, run_id, receiver, true) {
        Ok(r) => r,
        Err(e) => return Report::Failed { trace, error: e.to_string() },
    };
    let recording = record_dir.map(|dir| record(&run, dir));
    Report::Finished(Box::new(Finished { run, recording, forced: closed.forced }))
}

fn record(run: &WatchedRun, dir: &std::path::Path) -> Result<PathBuf, String> {
    let name = crate::record::default_name(&run.spec.flow.name, "watched", 0);
    let path = dir.join(name);
    let rec =
        crate::record::Recorder::create(&path, &run.header(), run.spec.flow.clone()).map_err(|e| format!("{}: {e}", path.display()))?;
    for e in &run.events {
        rec.record(e);
    }
    rec.finish().map_err(|e| format!("{}: {e}", path.display()))
}

/// A snapshot of an open trace, when it is already a run (it has a model call).
fn snapshot(spans: &[super::span::SpanRec], conv: &mut Converter, receiver: &str) -> Option<WatchedRun> {
    let g = conv.graph(spans);
    if !g.is_orchestration() {
        return None;
    }
    conv.convert(&g, 0, receiver, false).ok()
}

/// Serves until `shutdown`, then closes every open trace and returns.
pub async fn run(cfg: WatchConfig, reports: mpsc::Sender<Report>, shutdown: CancellationToken) -> Result<(), ServeError> {
    serve(cfg, false, reports, shutdown).await
}

/// [`run`], and with `live` also a [`Report::Live`] snapshot of every open trace that changed
/// since the last tick (a tick is a quarter of the settle window, 10 to 250 ms).
pub async fn serve(cfg: WatchConfig, live: bool, reports: mpsc::Sender<Report>, shutdown: CancellationToken) -> Result<(), ServeError> {
    let (tx, mut rx) = mpsc::channel::<Batch>(256);
    let receivers = start(&cfg.receivers, tx, shutdown.clone()).await?;
    let receiver = format!(
        "OTLP/HTTP {} · OTLP/gRPC {} · settle {} ms",
        receivers.http.map_or("off".into(), |a| a.to_string()),
        receivers.grpc.map_or("off".into(), |a| a.to_string()),
        cfg.assembler.settle.as_millis()
    );
    let _ = reports.send(Report::Listening { http: receivers.http, grpc: receivers.grpc }).await;
    let mut asm = Assembler::new(cfg.assembler);
    let mut tick = tokio::time::interval((cfg.assembler.settle / 4).clamp(Duration::from_millis(10), Duration::from_millis(250)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_run = 1u64;
    let mut conv = Converter::new(cfg.catalog.clone());
    let mut conv_live = Converter::new(cfg.catalog.clone());
    let mut out = |closed: Vec<ClosedTrace>, next_run: &mut u64| -> Vec<Report> {
        closed
            .into_iter()
            .map(|c| {
                let id = *next_run;
                *next_run += 1;
                finish(c, &mut conv, cfg.record_dir.as_deref(), id, &receiver)
            })
            .collect()
    };
    // Traces changed since the last tick, for the live snapshots.
    let mut changed: std::collections::HashSet<super::span::TraceId> = std::collections::HashSet::new();
    loop {
        let (closed, ticked) = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            b = rx.recv() => match b {
                Some(batch) => {
                    if live {
                        changed.extend(batch.iter().map(|s| s.trace));
                    }
                    (asm.add(batch, Instant::now()), false)
                }
                None => break,
            },
            _ = tick.tick() => (asm.due(Instant::now()), true),
        };
        for r in out(closed, &mut next_run) {
            if reports.send(r).await.is_err() {
                return Ok(());
            }
        }
        if ticked && !changed.is_empty() {
            let mut snaps = Vec::new();
            for t in changed.drain() {
                if let Some(o) = asm.get(&t)
                    && let Some(run) = snapshot(&o.spans, &mut conv_live, &receiver)
                {
                    snaps.push((o.seq, run));
                }
            }
            snaps.sort_by_key(|s| s.0);
            for (_, run) in snaps {
                if reports.send(Report::Live(Box::new(run))).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
    // Spans already received still count.
    while let Ok(batch) = rx.try_recv() {
        let closed = asm.add(batch, Instant::now());
        for r in out(closed, &mut next_run) {
            let _ = reports.send(r).await;
        }
    }
    for r in out(asm.drain(), &mut next_run) {
        let _ = reports.send(r).await;
    }
    for t in receivers.tasks {
        let _ = t.await;
    }
    Ok(())
}
