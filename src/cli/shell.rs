//! `baton completions SHELL` and `baton man`: scripts and a page generated from the same clap
//! definitions that parse the command line, so they never drift from it.

use clap::{Args, CommandFactory, ValueEnum};

use super::Cli;
use super::error::Exit;
use super::output::print_out;

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

#[derive(Args, Debug, Clone)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The completion script for a shell, on stdout.
pub fn completions(a: CompletionsArgs) -> Exit {
    use clap_complete::Shell as S;
    let shell = match a.shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Powershell => S::PowerShell,
        Shell::Elvish => S::Elvish,
    };
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "baton", &mut buf);
    Ok(print_out(&String::from_utf8_lossy(&buf)))
}

/// The man page (roff) for `baton` and every command, on stdout.
pub fn man() -> Exit {
    let cmd = Cli::command();
    let mut buf = Vec::new();
    let page = clap_mangen::Man::new(cmd.clone());
    page.render(&mut buf).map_err(|e| super::Failure::failed(format!("cannot render the man page: {e}")))?;
    // One section per command after the main page, as `git help`-style pages read.
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("baton-{}", sub.get_name());
        let sub = sub.clone().name(name.clone());
        let mut section = Vec::new();
        clap_mangen::Man::new(sub)
            .title(name)
            .render(&mut section)
            .map_err(|e| super::Failure::failed(format!("cannot render the man page: {e}")))?;
        buf.extend_from_slice(&section);
    }
    Ok(print_out(&String::from_utf8_lossy(&buf)))
}
