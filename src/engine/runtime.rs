//! What a run is driven on, chosen in one place: virtual time for the simulator, a tokio
//! runtime in real time for anything that calls a real provider.

use std::future::Future;
use std::io;

use tokio::runtime::{Builder, Runtime};

/// Drives `fut` on this thread: on virtual time when every model is simulated (`simulated`):
/// simulated seconds cost no wall time and every reported time is the simulated one.
/// Otherwise on a current-thread tokio runtime in real time with I/O, since virtual time would
/// fire timeouts while waiting on the network.
pub fn drive<F: Future>(simulated: bool, fut: F) -> io::Result<F::Output> {
    if simulated { Ok(super::vtime::block_on(fut)) } else { Ok(build()?.block_on(fut)) }
}

/// A current-thread runtime in real time, with I/O.
pub fn build() -> io::Result<Runtime> {
    Builder::new_current_thread().enable_all().build()
}

/// A two-worker runtime with I/O, for what serves while something else draws or reads: the
/// screen's runs and providers, and `baton watch`'s receivers.
pub fn serving() -> io::Result<Runtime> {
    Builder::new_multi_thread().worker_threads(2).enable_all().build()
}
