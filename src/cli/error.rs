//! One error type for every command, carrying the exit status it means, so no command writes
//! an exit code by hand on its error paths.

use crate::diag::Diagnostics;

/// What ends a command early.
#[derive(Debug)]
pub enum Failure {
    /// Bad input (exit 2): what is wrong and, on a `\n  help:` line, how to fix it.
    BadInput(String),
    /// Files that do not parse or validate (exit 2), each with file:line:col.
    Diagnostics(Diagnostics),
    /// The work could not be done (exit 1): a runtime that did not start, a write that failed.
    Failed(String),
}

impl Failure {
    pub fn bad_input(msg: impl Into<String>) -> Failure {
        Failure::BadInput(msg.into())
    }

    pub fn failed(msg: impl Into<String>) -> Failure {
        Failure::Failed(msg.into())
    }

    /// The runtime a run needs could not be built.
    pub fn runtime(e: std::io::Error) -> Failure {
        Failure::Failed(format!("cannot start the runtime: {e}"))
    }

    /// The exit status this failure means.
    pub fn code(&self) -> u8 {
        match self {
            Failure::BadInput(_) | Failure::Diagnostics(_) => super::EXIT_BAD_INPUT,
            Failure::Failed(_) => super::EXIT_RUN_FAILED,
        }
    }

    /// Says it on stderr.
    pub fn report(&self) {
        match self {
            Failure::BadInput(m) | Failure::Failed(m) => eprintln!("baton: {m}"),
            Failure::Diagnostics(d) => {
                if !d.0.is_empty() {
                    eprintln!("{d}");
                }
            }
        }
    }
}

impl From<Diagnostics> for Failure {
    fn from(d: Diagnostics) -> Failure {
        Failure::Diagnostics(d)
    }
}

/// A command's result: its exit status, or the failure that ended it.
pub type Exit = Result<u8, Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_carries_its_exit_status() {
        assert_eq!(Failure::bad_input("x").code(), 2);
        assert_eq!(Failure::Diagnostics(Diagnostics::default()).code(), 2);
        assert_eq!(Failure::failed("x").code(), 1);
        assert_eq!(Failure::runtime(std::io::Error::other("no")).code(), 1);
    }
}
