//! `baton catalog import`: LiteLLM's price table as catalog TOML, with every entry that could
//! not be mapped listed (on stderr by reason, and in the file's closing comment).

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::Failure;
use super::error::Exit;
use super::output::print_out;
use crate::diag::Source;
use crate::routing::litellm::{ImportOptions, import, table_date};

#[derive(Subcommand, Debug)]
pub enum CatalogCommand {
    /// Turn LiteLLM's model_prices_and_context_window.json into catalog TOML: prices per
    /// million tokens, context window, max output, provider and base URL where known.
    Import(ImportArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// LiteLLM's model_prices_and_context_window.json (the litellm package ships a copy).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Write the catalog here (whole or not at all) instead of stdout.
    #[arg(short, long, value_name = "OUT.toml")]
    pub output: Option<PathBuf>,
    /// Only entries of this LiteLLM provider (openai, anthropic, gemini, groq...); repeatable.
    #[arg(long, value_name = "NAME")]
    pub provider: Vec<String>,
    /// Only entries whose name matches this pattern (`*` and `?`, case-insensitive); repeatable.
    #[arg(long = "match", value_name = "PATTERN")]
    pub patterns: Vec<String>,
    /// The date the table's prices were read (YYYY-MM-DD); default: the file's modification
    /// date, or today when the file carries none (as in a wheel).
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
}

fn valid_date(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && d.char_indices().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&d[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&d[8..10].parse::<u32>().unwrap_or(0))
}

pub fn catalog(cmd: CatalogCommand) -> Exit {
    match cmd {
        CatalogCommand::Import(a) => import_table(a),
    }
}

fn import_table(a: ImportArgs) -> Exit {
    let date = match a.date {
        Some(d) if valid_date(&d) => d,
        Some(d) => return Err(Failure::bad_input(format!("--date '{d}' is not a date\n  help: give it as YYYY-MM-DD, e.g. 2026-12-01"))),
        None => table_date(&a.file),
    };
    let src = Source::read(&a.file)?;
    let opts = ImportOptions { providers: a.provider, patterns: a.patterns, date };
    let out = import(&src, &opts)?;
    if out.models == 0 {
        return Err(Failure::bad_input(format!(
            "nothing to import from {}: {} entries matched no model Baton can call ({} left out by the filters)\n  help: loosen --provider / --match; `baton catalog import {}` without filters lists why each entry is left out",
            a.file.display(),
            out.skipped.len(),
            out.filtered_out,
            a.file.display()
        )));
    }
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &out.skipped {
        *by_kind.entry(s.kind).or_default() += 1;
    }
    let kinds: Vec<String> = by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let code = match &a.output {
        Some(path) => {
            crate::load::write_atomically(path, out.toml.as_bytes())
                .map_err(|e| Failure::bad_input(format!("cannot write {}: {e}\n  help: choose another --output path", path.display())))?;
            super::EXIT_OK
        }
        None => print_out(&out.toml),
    };
    let place = a.output.as_ref().map_or("the output".to_string(), |p| p.display().to_string());
    eprintln!(
        "imported {} models from {}{}{}",
        out.models,
        a.file.display(),
        if out.tier_notes > 0 { format!(" ({} with a higher price tier noted, not modelled)", out.tier_notes) } else { String::new() },
        if out.filtered_out > 0 { format!("; {} entries left out by the filters", out.filtered_out) } else { String::new() },
    );
    if !out.skipped.is_empty() {
        eprintln!("not imported: {} entries ({}), each listed with its reason at the end of {place}", out.skipped.len(), kinds.join(", "));
    }
    Ok(code)
}
