//! The optimizer's search off the UI thread: `optimize::optimize` drives its runs on virtual
//! time, which would block a worker of the screen's runtime, so it gets a plain thread; its progress comes back to the loop as messages, at
//! most ten a second (and always the last), so a fast search does not flood the screen.

use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::app::Msg;
use super::tuning::frontier::OptimizerMsg;
use crate::optimize::{Config, Progress};
use crate::provider::Providers;

const EVERY: Duration = Duration::from_millis(100);

/// Runs the search on a new thread until it finishes or `cancel` fires; sends `Progress`
/// reports and then `Done` down `tx`.
pub fn spawn(cfg: Config, id: u64, providers: Providers, cancel: CancellationToken, tx: UnboundedSender<Msg>) {
    std::thread::spawn(move || {
        let mut last: Option<Instant> = None;
        let result = crate::optimize::optimize(&cfg, providers, &cancel, |p: &Progress| {
            if last.is_none_or(|t| t.elapsed() >= EVERY) {
                last = Some(Instant::now());
                let _ = tx.send(OptimizerMsg::Progress(id, p.clone()).into());
            }
        });
        let _ = tx.send(OptimizerMsg::Done(id, Box::new(result.map_err(|e| e.to_string()))).into());
    });
}
