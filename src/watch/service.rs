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

/// Serves until `shutdown`, then closes every open trace and returns.
pub async fn run(cfg: WatchConfig, reports: mpsc::Sender<Report>, shutdown: CancellationToken) -> Result<(), ServeError> {
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
    loop {
        let closed = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            b = rx.recv() => match b {
                Some(batch) => asm.add(batch, Instant::now()),
                None => break,
            },
            _ = tick.tick() => asm.due(Instant::now()),
        };
        for r in out(closed, &mut next_run) {
            if reports.send(r).await.is_err() {
                return Ok(());
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
