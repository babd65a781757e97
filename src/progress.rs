//! Progress of long headless work (a batch's tasks, a compare's runs, later a search's trials),
//! reported as it goes so a command can show it. The core only calls the hook; how it is shown
//! (a bar on stderr, nothing when piped) is the command line's business.

use crate::money::Money;

/// What long work reports. Every method has a do-nothing default; `&self` so one hook can be
/// shared by work that runs on several threads.
pub trait Progress: Send + Sync {
    /// `total` units of work (tasks, runs, trials) are about to run; `what` names them.
    fn begin(&self, _what: &str, _total: u64) {}
    /// One more unit finished; `cost` is what it cost (zero when nothing was billed).
    fn advance(&self, _cost: Money) {}
    /// The work is over: done, cancelled or failed. The hook clears what it showed.
    fn end(&self) {}
}

/// Shows nothing.
pub struct Silent;

impl Progress for Silent {}
