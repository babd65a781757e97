//! Run history: every recording in the data directory's `runs/`, listed and totalled without
//! reading them all each time.
//!
//! # Layout
//! - `summary`: one recording folded into a [`RunEntry`] (and its cost per model).
//! - `index`: the SQLite index beside the recordings, brought up to date on every listing.
//!
//! The recordings are the source of truth; the index (`runs/index.sqlite`) only remembers
//! what each file said at a given size and modification time. It is updated lazily: every
//! [`list`] or [`totals_by`] first reads the recordings that are new or changed and drops the
//! rows of those that are gone, so a run recorded by any means (the screen, `run`, `watch`,
//! another Baton version, a copied file) is listed without any writer having to tell the
//! index. A recording that cannot be read is listed with its error, never dropped.
//!
//! # Use from a view
//! ```no_run
//! let listing = baton::history::list(&baton::history::Filter::default())?;
//! for run in &listing.runs {
//!     println!("{} {} {}", run.flow, run.status, run.cost_text());
//! }
//! # Ok::<(), baton::history::HistoryError>(())
//! ```

pub mod index;
pub mod summary;

use std::path::PathBuf;

use rusqlite::ToSql;

pub use index::{INDEX_FILE, Index, IndexError, Refresh};
pub use summary::{ModelUse, RunEntry, Summary};

use crate::money::Money;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("there is no data directory to find recordings in\n  help: set BATON_DATA_DIR, or give --dir")]
    NoDataDir,
    #[error(
        "--dir {0}: no such directory\n  help: give the directory recordings are written to (`baton runs` alone reads the default one)"
    )]
    NoDir(String),
    #[error(
        "--dir {0} is a file, not a directory\n  help: `baton replay {0} --summary` shows one recording; --dir takes the directory that holds them"
    )]
    NotADir(String),
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl From<rusqlite::Error> for HistoryError {
    fn from(e: rusqlite::Error) -> HistoryError {
        HistoryError::Index(IndexError::Sql(e))
    }
}

/// The statuses a run can have in the history.
pub const STATUSES: &[&str] = &["completed", "failed", "budget exceeded", "cancelled", "interrupted", "unreadable"];

/// Which runs to list. Every field narrows; the default lists everything in the data
/// directory's `runs/`, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// The recordings directory; `None` is the data directory's `runs/`.
    pub dir: Option<PathBuf>,
    /// A flow name, exactly, or a glob with `*` and `?`.
    pub flow: Option<String>,
    /// A strategy name, exactly, or a glob.
    pub strategy: Option<String>,
    /// `sim`, `live` or `watch`.
    pub source: Option<String>,
    /// One of [`STATUSES`].
    pub status: Option<String>,
    /// Runs started at or after this time (Unix milliseconds).
    pub since_unix_ms: Option<u64>,
    /// Runs that cost at least this much.
    pub min_cost: Option<Money>,
    /// At most this many runs (the newest); the totals still cover every match.
    pub limit: Option<usize>,
}

/// Totals over the runs a filter matched.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub runs: u64,
    pub unreadable: u64,
    #[serde(rename = "cost_usd", serialize_with = "usd")]
    pub cost: Money,
    /// Calls of a model the catalog does not price.
    pub unpriced_calls: u64,
    /// Calls of a priced model that came without token counts. Absent when there are none.
    #[serde(skip_serializing_if = "crate::report::is_zero")]
    pub uncounted_calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub wall_ms: u64,
}

fn usd<S: serde::Serializer>(m: &Money, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(m.usd())
}

/// A listing: the runs (newest first, up to the limit) and the totals of every match.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Listing {
    pub dir: PathBuf,
    pub runs: Vec<RunEntry>,
    pub totals: Totals,
    pub refresh: Refresh,
}

/// What totals are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// The UTC day the run started.
    Day,
    Flow,
    /// Each model the runs called (a run with several models counts under each).
    Model,
}

/// One group's totals.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Group {
    pub key: String,
    pub runs: u64,
    /// For [`By::Model`], the calls of that model; `None` for days and flows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls: Option<u64>,
    #[serde(rename = "cost_usd", serialize_with = "usd")]
    pub cost: Money,
    /// Calls of a model the catalog does not price.
    pub unpriced_calls: u64,
    /// Calls of a priced model that came without token counts. Absent when there are none.
    #[serde(skip_serializing_if = "crate::report::is_zero")]
    pub uncounted_calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// The recordings directory a filter reads.
pub fn dir_of(filter: &Filter) -> Result<PathBuf, HistoryError> {
    match &filter.dir {
        Some(d) => Ok(d.clone()),
        None => crate::load::data_dir().map(|d| d.join("runs")).ok_or(HistoryError::NoDataDir),
    }
}

/// Opens the index of the filter's directory, up to date. A directory that does not exist yet
/// (nothing was ever recorded) is an empty history.
fn open(filter: &Filter) -> Result<Option<Index>, HistoryError> {
    let dir = dir_of(filter)?;
    if !dir.is_dir() {
        // A directory named on the command line must be there; the default one is created
        // by the first recording, so its absence is an empty history.
        return match &filter.dir {
            Some(d) if d.exists() => Err(HistoryError::NotADir(d.display().to_string())),
            Some(d) => Err(HistoryError::NoDir(d.display().to_string())),
            None => Ok(None),
        };
    }
    Ok(Some(Index::open(&dir)?))
}

/// The WHERE clause of a filter over `runs` (aliased `r`), with its parameters. A recording
/// that cannot be read has no flow, strategy, source or cost to compare, so only the status
/// and the date can leave it out.
fn clause(f: &Filter) -> (String, Vec<Box<dyn ToSql>>) {
    let mut parts: Vec<String> = Vec::new();
    let mut params: Vec<Box<dyn ToSql>> = Vec::new();
    let mut text = |col: &str, v: &Option<String>, parts: &mut Vec<String>| {
        if let Some(v) = v {
            let op = if v.contains(['*', '?', '[']) { "GLOB" } else { "=" };
            params.push(Box::new(v.clone()));
            parts.push(format!("(r.error IS NOT NULL OR r.{col} {op} ?{})", params.len()));
        }
    };
    text("flow", &f.flow, &mut parts);
    text("strategy", &f.strategy, &mut parts);
    text("source", &f.source, &mut parts);
    if let Some(s) = &f.status {
        params.push(Box::new(s.clone()));
        parts.push(format!("r.status = ?{}", params.len()));
    }
    if let Some(t) = f.since_unix_ms {
        params.push(Box::new(t as i64));
        parts.push(format!("r.started_ms >= ?{}", params.len()));
    }
    if let Some(m) = f.min_cost {
        params.push(Box::new(m.picodollars()));
        parts.push(format!("(r.error IS NOT NULL OR r.cost_pico >= ?{})", params.len()));
    }
    let sql = if parts.is_empty() { String::new() } else { format!("WHERE {}", parts.join(" AND ")) };
    (sql, params)
}

fn as_u64(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(r.get::<_, Option<i64>>(i)?.unwrap_or(0).max(0) as u64)
}

/// The runs a filter matches, newest first, with their totals.
pub fn list(filter: &Filter) -> Result<Listing, HistoryError> {
    let dir = dir_of(filter)?;
    let Some(index) = open(filter)? else {
        return Ok(Listing { dir, runs: Vec::new(), totals: Totals::default(), refresh: Refresh::default() });
    };
    let (sql, params) = clause(filter);
    let p: Vec<&dyn ToSql> = params.iter().map(|b| &**b as &dyn ToSql).collect();
    let limit = filter.limit.map_or(String::new(), |n| format!(" LIMIT {n}"));
    let mut st = index.conn().prepare(&format!("SELECT * FROM runs r {sql} ORDER BY r.started_ms DESC, r.file DESC{limit}"))?;
    let runs = st.query_map(&p[..], |r| index.entry(r))?.collect::<rusqlite::Result<Vec<_>>>()?;
    let totals = index.conn().query_row(
        &format!(
            "SELECT COUNT(*), SUM(r.error IS NOT NULL), SUM(r.cost_pico), SUM(r.unpriced), SUM(r.input), SUM(r.output), SUM(r.wall_ms),
             SUM(r.uncounted) FROM runs r {sql}"
        ),
        &p[..],
        |r| {
            Ok(Totals {
                runs: as_u64(r, 0)?,
                unreadable: as_u64(r, 1)?,
                cost: Money::from_picodollars(r.get::<_, Option<i64>>(2)?.unwrap_or(0)),
                unpriced_calls: as_u64(r, 3)?,
                input_tokens: as_u64(r, 4)?,
                output_tokens: as_u64(r, 5)?,
                wall_ms: as_u64(r, 6)?,
                uncounted_calls: as_u64(r, 7)?,
            })
        },
    )?;
    Ok(Listing { dir, runs, totals, refresh: index.refresh })
}

/// Totals of the matched runs grouped by day, flow or model: "where did the money go".
/// Days newest first; flows and models by cost, highest first. Unreadable recordings form
/// their own group, `(unreadable)`.
pub fn totals_by(filter: &Filter, by: By) -> Result<(Vec<Group>, Refresh), HistoryError> {
    let Some(index) = open(filter)? else { return Ok((Vec::new(), Refresh::default())) };
    let (sql, params) = clause(filter);
    let p: Vec<&dyn ToSql> = params.iter().map(|b| &**b as &dyn ToSql).collect();
    let unreadable = "CASE WHEN r.error IS NOT NULL THEN '(unreadable)'";
    let query = match by {
        By::Day | By::Flow => {
            let key = if by == By::Day { "date(r.started_ms / 1000, 'unixepoch')" } else { "r.flow" };
            let order = if by == By::Day { "k DESC" } else { "SUM(r.cost_pico) DESC, k" };
            format!(
                "SELECT {unreadable} ELSE {key} END AS k, COUNT(*), NULL, SUM(r.cost_pico), SUM(r.unpriced), SUM(r.input), SUM(r.output),
                 SUM(r.uncounted) FROM runs r {sql} GROUP BY k ORDER BY {order}"
            )
        }
        By::Model => format!(
            "SELECT {unreadable} ELSE m.model END AS k, COUNT(DISTINCT r.file), SUM(m.calls), SUM(m.cost_pico), SUM(m.unpriced), SUM(m.input),
             SUM(m.output), SUM(m.uncounted) FROM runs r LEFT JOIN models m ON m.file = r.file {sql}
             GROUP BY k HAVING k IS NOT NULL ORDER BY SUM(m.cost_pico) DESC, k"
        ),
    };
    let mut st = index.conn().prepare(&query)?;
    let groups = st
        .query_map(&p[..], |r| {
            Ok(Group {
                key: r.get(0)?,
                runs: as_u64(r, 1)?,
                calls: r.get::<_, Option<i64>>(2)?.map(|c| c.max(0) as u64),
                cost: Money::from_picodollars(r.get::<_, Option<i64>>(3)?.unwrap_or(0)),
                unpriced_calls: as_u64(r, 4)?,
                input_tokens: as_u64(r, 5)?,
                output_tokens: as_u64(r, 6)?,
                uncounted_calls: as_u64(r, 7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((groups, index.refresh))
}

/// A `--status` value: one of [`STATUSES`] (`budget` for `budget exceeded`).
pub fn parse_status(text: &str) -> Result<String, String> {
    let t = text.trim().to_ascii_lowercase();
    let t = if t == "budget" || t == "budget-exceeded" { "budget exceeded".to_string() } else { t };
    if STATUSES.contains(&t.as_str()) {
        Ok(t)
    } else {
        Err(format!("'{text}' is not a run status\n  help: use one of: completed, failed, budget, cancelled, interrupted, unreadable"))
    }
}

/// A `--since` value: a UTC date (`2026-12-01`), `today`, `yesterday`, or an age
/// (`30m`, `12h`, `7d`, `2w`). Returns Unix milliseconds.
pub fn parse_since(text: &str, now_unix_ms: u64) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let bad = || {
        format!(
            "--since '{text}' is not a date or an age\n  help: give a UTC date like 2026-12-01, 'today', 'yesterday', or an age like 30m, 12h, 7d, 2w"
        )
    };
    let midnight = now_unix_ms - now_unix_ms % 86_400_000;
    match t.as_str() {
        "today" => return Ok(midnight),
        "yesterday" => return Ok(midnight.saturating_sub(86_400_000)),
        _ => {}
    }
    if let Some(unit) = t.chars().last().filter(char::is_ascii_alphabetic) {
        let n: u64 = t[..t.len() - 1].parse().map_err(|_| bad())?;
        let ms = match unit {
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            'w' => 7 * 86_400_000,
            _ => return Err(bad()),
        };
        return Ok(now_unix_ms.saturating_sub(n.saturating_mul(ms)));
    }
    let parts: Vec<&str> = t.split('-').collect();
    let [y, m, d] = parts[..] else { return Err(bad()) };
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i64>(), m.parse::<i64>(), d.parse::<i64>()) else { return Err(bad()) };
    if y < 1970 || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Ok(summary::days_from_civil(y, m, d) as u64 * 86_400_000)
}

/// A `--min-cost` value in US dollars (`0.05`, `$0.05`).
pub fn parse_cost(text: &str) -> Result<Money, String> {
    match text.trim().trim_start_matches('$').parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Money::from_usd(v)),
        _ => Err(format!("--min-cost '{text}' is not an amount of dollars\n  help: give a number like 0.05 or $1.50")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_dates_ages_and_words() {
        let now = 1_796_204_700_000; // 2026-12-02 09:45 UTC
        assert_eq!(parse_since("2026-12-02", now), Ok(now - (9 * 3600 + 45 * 60) * 1000));
        assert_eq!(parse_since("today", now), parse_since("2026-12-02", now));
        assert_eq!(parse_since("yesterday", now), parse_since("2026-12-01", now));
        assert_eq!(parse_since("7d", now), Ok(now - 7 * 86_400_000));
        assert_eq!(parse_since("30m", now), Ok(now - 1_800_000));
        for bad in ["last week", "7y", "2026-13-01", "d", ""] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn statuses_and_costs() {
        assert_eq!(parse_status("Budget").as_deref(), Ok("budget exceeded"));
        assert!(parse_status("done").is_err());
        assert_eq!(parse_cost("$0.05"), Ok(Money::from_usd(0.05)));
        assert!(parse_cost("-1").is_err());
        assert!(parse_cost("lots").is_err());
    }
}
