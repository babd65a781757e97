//! The tokio runtime a run is driven on, built in one place.

use std::io;

use tokio::runtime::{Builder, Runtime};

/// A current-thread runtime for driving runs on this thread. For the simulator (`simulated`)
/// its clock is paused: simulated seconds cost no wall time and every reported time is the
/// simulated one. Otherwise it runs in real time with I/O enabled, since a paused clock would
/// fire timeouts while waiting on the network.
pub fn build(simulated: bool) -> io::Result<Runtime> {
    if simulated {
        Builder::new_current_thread().enable_time().start_paused(true).build()
    } else {
        Builder::new_current_thread().enable_all().build()
    }
}

/// A two-worker runtime with I/O, for what serves while something else draws or reads: the
/// screen's runs and providers, and `baton watch`'s receivers.
pub fn serving() -> io::Result<Runtime> {
    Builder::new_multi_thread().worker_threads(2).enable_all().build()
}
