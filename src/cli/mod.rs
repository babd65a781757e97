//! The command line. Headless commands share the core with the TUI; they print tables for
//! people and JSON for scripts.
//!
//! # Layout
//! - `args`: the clap definitions, one struct per command.
//! - `error`: [`Failure`], the one error type, which carries its exit status.
//! - `output`: stdout and stderr, both made safe for a terminal.
//! - `setup`: what several commands share: loading files, providers, the screen's
//!   preconditions, recorders.
//! - `run` (the screen and `run`), `compare`, `recording` (replay, reprice, export), `files`
//!   (validate, models, doctor): the commands, a file per family.
//! - `watch`: `baton watch`, the OTLP receiver's command.
//! - `runs`: `baton runs`, the run history.
//! - `otlp`: the OTLP push flags of `run` and `export`.
//! - `optimize`: `baton optimize`, the search over model assignments.
//! - `interrupt`: Ctrl-C for headless runs.
//! - `progress`: the indicatif bar on stderr behind the core's `progress::Progress` hook.
//! - `catalog` (`catalog import`, LiteLLM's price table), `config` (the effective settings),
//!   `shell` (completions and the man page): fitting the tools people already use.

/// `eprintln!` for the whole command line: the same, with the text made safe for a terminal
/// (text from servers, models and files can carry escape sequences) and keys redacted.
macro_rules! eprintln {
    ($($arg:tt)*) => {
        ::std::eprintln!("{}", $crate::sanitize::for_terminal(&::std::format!($($arg)*)))
    };
}

mod args;
mod catalog;
mod compare;
mod config;
mod error;
mod files;
mod interrupt;
mod optimize;
mod otlp;
mod output;
mod progress;
mod recording;
mod run;
mod runs;
mod setup;
mod shell;
mod watch;

use std::process::ExitCode;

use clap::Parser;

pub use args::*;
pub use error::Failure;
pub use otlp::{OtlpProtocol, OtlpPushArgs};
pub use runs::RunsArgs;
pub use watch::WatchArgs;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// The run did not complete (a node failed, the budget stopped it), or a check failed.
pub const EXIT_RUN_FAILED: u8 = 1;
/// Bad input: a file that does not parse or validate, an unknown name, a bad flag.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Ctrl-C stopped a headless run (after printing the summary of what finished), as shells
/// report a SIGINT: 128 + 2.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Parses arguments and runs the command. Each command returns its exit status, or a
/// [`Failure`] that says what went wrong and which status that means.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A bad config.toml stops every command but those that do not read it.
    if !matches!(cli.command, Some(Command::Completions(_) | Command::Man))
        && let Err(d) = crate::config::check()
    {
        let f = Failure::from(d);
        f.report();
        return ExitCode::from(f.code());
    }
    let result = match cli.command {
        None => run::open(cli.open),
        Some(Command::Open(a)) => run::open(a),
        Some(Command::Run(a)) => run::run(a),
        Some(Command::Validate(a)) => files::validate(a),
        Some(Command::Models(a)) => files::models(a),
        Some(Command::Compare(a)) => compare::compare(a),
        Some(Command::Replay(a)) => recording::replay(a),
        Some(Command::Reprice(a)) => recording::reprice(a),
        Some(Command::Export(a)) => recording::export(a),
        Some(Command::Doctor(a)) => files::doctor(a),
        Some(Command::Watch(a)) => watch::watch(a),
        Some(Command::Runs(a)) => runs::runs(a),
        Some(Command::Catalog(c)) => catalog::catalog(c),
        Some(Command::Config(a)) => config::config(a),
        Some(Command::Completions(a)) => shell::completions(a),
        Some(Command::Man) => shell::man(),
        Some(Command::Optimize(a)) => optimize::optimize(a),
    };
    ExitCode::from(match result {
        Ok(code) => code,
        Err(f) => {
            f.report();
            f.code()
        }
    })
}
