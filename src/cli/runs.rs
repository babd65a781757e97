//! `baton runs`: the run history, a listing of every recording in the data directory with
//! filters and totals by day, flow or model.

use std::fmt::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::error::Exit;
use super::output::{print_out, to_json};
use super::{Failure, Format};
use crate::history::{self, By, Filter, Group, Listing, RunEntry};

#[derive(Args, Debug, Clone)]
pub struct RunsArgs {
    /// Only runs of this flow (a name, or a glob such as 'research*').
    #[arg(long, value_name = "NAME")]
    pub flow: Option<String>,
    /// Only runs under this strategy (a name or a glob).
    #[arg(short, long, value_name = "NAME")]
    pub strategy: Option<String>,
    /// Only runs from this source: sim, live or watch.
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    /// Only runs started since: a UTC date (2026-12-01), today, yesterday, or an age (12h, 7d, 2w).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only runs with this status: completed, failed, budget, cancelled, interrupted, unreadable.
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Only runs that cost at least this many dollars.
    #[arg(long, value_name = "USD")]
    pub min_cost: Option<String>,
    /// Totals grouped by day, flow or model instead of the list of runs.
    #[arg(long, value_enum, value_name = "GROUP")]
    pub by: Option<ByArg>,
    /// At most this many runs, newest first (0 for all). Default: 50 in a table, all in JSON.
    /// The totals always cover every match.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The recordings directory (default: the data directory's runs/).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByArg {
    Day,
    Flow,
    Model,
}

fn filter(args: &RunsArgs) -> Result<Filter, Failure> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let source = args.source.as_deref().map(str::to_ascii_lowercase);
    if let Some(s) = &source
        && !["sim", "live", "watch"].contains(&s.as_str())
    {
        return Err(Failure::bad_input(format!("--source '{s}' is not a source\n  help: use sim, live or watch")));
    }
    let limit = match (args.limit, args.format) {
        (Some(0), _) | (None, Format::Json) => None,
        (Some(n), _) => Some(n),
        (None, Format::Table) => Some(50),
    };
    Ok(Filter {
        dir: args.dir.clone(),
        flow: args.flow.clone(),
        strategy: args.strategy.clone(),
        source,
        status: args.status.as_deref().map(history::parse_status).transpose().map_err(Failure::bad_input)?,
        since_unix_ms: args.since.as_deref().map(|s| history::parse_since(s, now)).transpose().map_err(Failure::bad_input)?,
        min_cost: args.min_cost.as_deref().map(history::parse_cost).transpose().map_err(Failure::bad_input)?,
        limit,
    })
}

fn failure(e: history::HistoryError) -> Failure {
    match e {
        // A directory that cannot be read is the user's to fix.
        history::HistoryError::NoDataDir
        | history::HistoryError::NoDir(_)
        | history::HistoryError::NotADir(_)
        | history::HistoryError::Index(history::IndexError::Dir { .. }) => Failure::bad_input(e.to_string()),
        history::HistoryError::Index(history::IndexError::Sql(_)) => Failure::failed(e.to_string()),
    }
}

pub fn runs(args: RunsArgs) -> Exit {
    let f = filter(&args)?;
    if let Some(by) = args.by {
        let by = match by {
            ByArg::Day => By::Day,
            ByArg::Flow => By::Flow,
            ByArg::Model => By::Model,
        };
        let (groups, _) = history::totals_by(&f, by).map_err(failure)?;
        return Ok(print_out(&match args.format {
            Format::Json => to_json(&serde_json::json!({ "by": format!("{by:?}").to_ascii_lowercase(), "groups": groups })),
            Format::Table => groups_table(by, &groups),
        }));
    }
    let listing = history::list(&f).map_err(failure)?;
    if listing.refresh.in_memory {
        eprintln!("note: cannot write the run index in {}; it was built in memory for this listing", listing.dir.display());
    }
    Ok(print_out(&match args.format {
        Format::Json => to_json(&listing),
        Format::Table => table(&listing),
    }))
}

fn wall(ms: u64) -> String {
    if ms >= 60_000 { format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60) } else { format!("{:.1}s", ms as f64 / 1000.0) }
}

fn source(e: &RunEntry) -> String {
    match &e.relation {
        Some(r) => format!("{} {r}", e.source),
        None => e.source.clone(),
    }
}

/// The list of runs, one line each, and the totals of every match.
pub fn table(l: &Listing) -> String {
    let mut out = String::new();
    if l.runs.is_empty() {
        let _ = writeln!(out, "no runs recorded in {} match", l.dir.display());
        return out;
    }
    let cells: Vec<[String; 8]> = l
        .runs
        .iter()
        .map(|e| {
            [
                history::summary::minute(e.started_unix_ms),
                if e.error.is_some() { "(unreadable)".into() } else { e.flow.clone() },
                e.strategy.clone(),
                source(e),
                e.status.clone(),
                if e.error.is_some() { String::new() } else { e.cost_text() },
                if e.error.is_some() { String::new() } else { e.tokens().to_string() },
                if e.error.is_some() { String::new() } else { wall(e.wall_ms) },
            ]
        })
        .collect();
    let head = ["started (UTC)", "flow", "strategy", "source", "status", "cost", "tokens", "wall"];
    let mut width = head.map(str::len);
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |c: &[String; 8], out: &mut String| {
        let mut s = String::new();
        for (i, (cell, w)) in c.iter().zip(width).enumerate() {
            // Numbers right-aligned.
            if i >= 5 {
                let _ = write!(s, "{cell:>w$}  ");
            } else {
                let _ = write!(s, "{cell:<w$}  ");
            }
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(&head.map(String::from), &mut out);
    for (c, e) in cells.iter().zip(&l.runs) {
        line(c, &mut out);
        if let Some(err) = &e.error {
            let _ = writeln!(out, "  ! {}", err.lines().next().unwrap_or_default());
        }
    }
    let t = &l.totals;
    let shown = l.runs.len() as u64;
    let _ = write!(
        out,
        "\n{} run{} · {} · {} tokens ({} in / {} out) · {} wall",
        t.runs,
        if t.runs == 1 { "" } else { "s" },
        crate::report::cost_text(t.cost, t.unpriced_calls, t.uncounted_calls),
        t.input_tokens + t.output_tokens,
        t.input_tokens,
        t.output_tokens,
        wall(t.wall_ms)
    );
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    if t.unpriced_calls > 0 {
        let _ = write!(out, " · {} unpriced call{} (model not in the catalog)", t.unpriced_calls, plural(t.unpriced_calls));
    }
    if t.uncounted_calls > 0 {
        let _ = write!(out, " · {} call{} without token counts", t.uncounted_calls, plural(t.uncounted_calls));
    }
    if t.unreadable > 0 {
        let _ = write!(out, " · {} unreadable", t.unreadable);
    }
    let _ = writeln!(out);
    if shown < t.runs {
        let _ = writeln!(out, "showing the newest {shown}; --limit 0 shows all {}", t.runs);
    }
    out
}

/// Totals grouped by day, flow or model.
pub fn groups_table(by: By, groups: &[Group]) -> String {
    let mut out = String::new();
    if groups.is_empty() {
        out.push_str("no runs match\n");
        return out;
    }
    let key = match by {
        By::Day => "day (UTC)",
        By::Flow => "flow",
        By::Model => "model",
    };
    let kw = groups.iter().map(|g| g.key.chars().count()).max().unwrap_or(0).max(key.len());
    let calls = by == By::Model;
    let _ = write!(out, "{key:<kw$}  {:>6}", "runs");
    if calls {
        let _ = write!(out, "  {:>6}", "calls");
    }
    let _ = writeln!(out, "  {:>12}  {:>12}  {:>12}", "cost", "input tok", "output tok");
    let mut total = crate::money::Money::ZERO;
    let mut unknown = 0;
    let open = |cost: crate::money::Money, n: u64| if n > 0 { format!("{cost}+{n}?") } else { cost.to_string() };
    for g in groups {
        total += g.cost;
        let n = g.unpriced_calls + g.uncounted_calls;
        unknown += n;
        let cost = open(g.cost, n);
        let _ = write!(out, "{:<kw$}  {:>6}", g.key, g.runs);
        if calls {
            let _ = write!(out, "  {:>6}", g.calls.unwrap_or(0));
        }
        let _ = writeln!(out, "  {cost:>12}  {:>12}  {:>12}", g.input_tokens, g.output_tokens);
    }
    let _ = writeln!(out, "\ntotal {}", open(total, unknown));
    if unknown > 0 {
        let _ = writeln!(
            out,
            "N? = N calls whose cost is unknown, not zero (watched runs): a model the catalog does not price, or no token counts"
        );
    }
    out
}
