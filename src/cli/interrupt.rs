//! Ctrl-C for headless commands. The first one cancels the run: calls in flight are dropped,
//! the recording ends with a `cancelled` outcome, and the summary of what finished is printed
//! as usual, then Baton exits with [`super::EXIT_INTERRUPTED`]. A second Ctrl-C exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

pub struct Interrupt {
    /// Fires on the first Ctrl-C.
    pub token: CancellationToken,
    fired: Arc<AtomicBool>,
}

impl Interrupt {
    /// Whether Ctrl-C was pressed.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

/// Takes over SIGINT for the rest of the process. The listener lives on a thread of its own
/// with a small runtime, so it works whatever drives the run (virtual time or a runtime).
pub fn on_ctrl_c() -> Interrupt {
    let token = CancellationToken::new();
    let fired = Arc::new(AtomicBool::new(false));
    let (t, f) = (token.clone(), fired.clone());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().name("baton-ctrl-c".into()).spawn(move || {
        let Ok(rt) = crate::engine::runtime::build() else {
            let _ = ready_tx.send(());
            return;
        };
        rt.block_on(async move {
            // Register before the run starts, so an early Ctrl-C is not lost to the default
            // handler (which would end the process without a summary).
            let mut first = std::pin::pin!(tokio::signal::ctrl_c());
            // Polling once installs the handler.
            let _ = futures::poll!(first.as_mut());
            let _ = ready_tx.send(());
            if first.await.is_err() {
                return;
            }
            f.store(true, Ordering::SeqCst);
            t.cancel();
            eprintln!(
                "\nbaton: cancelling: calls in flight are dropped; the summary of what finished follows (Ctrl-C again quits at once)"
            );
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("baton: quit");
                std::process::exit(i32::from(super::EXIT_INTERRUPTED));
            }
        });
    });
    if spawned.is_ok() {
        let _ = ready_rx.recv_timeout(std::time::Duration::from_secs(2));
    }
    Interrupt { token, fired }
}
