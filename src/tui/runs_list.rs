//! The run picker's state (what `App` holds) and its rows: the history's runs, the `/` filter
//! and the highlighted row. Keys and drawing are `picker`'s; this file knows nothing of `App`.

use crate::history::RunEntry;

/// The picker's state.
#[derive(Debug, Default)]
pub struct Picker {
    /// The runs, newest first (`None` while they are being listed), or why they cannot be.
    pub runs: Option<Result<Vec<RunEntry>, String>>,
    /// Where they were found.
    pub dir: Option<std::path::PathBuf>,
    /// The `/` filter: every word must appear in the row (any case).
    pub filter: String,
    pub typing: bool,
    /// Index into the filtered rows.
    pub selected: usize,
}

/// A row's text for filtering and drawing: date, flow, strategy, source, status, cost, tokens,
/// wall.
pub fn cells(e: &RunEntry) -> [String; 8] {
    let unreadable = e.error.is_some();
    let source = match &e.relation {
        Some(r) => format!("{} {r}", e.source),
        None => e.source.clone(),
    };
    let wall = if e.wall_ms >= 60_000 {
        format!("{}m{:02}s", e.wall_ms / 60_000, (e.wall_ms / 1000) % 60)
    } else {
        format!("{:.1}s", e.wall_ms as f64 / 1000.0)
    };
    [
        crate::history::summary::minute(e.started_unix_ms),
        if unreadable { "(unreadable)".into() } else { e.flow.clone() },
        e.strategy.clone(),
        source,
        e.status.clone(),
        if unreadable { String::new() } else { e.cost_text() },
        if unreadable { String::new() } else { e.tokens().to_string() },
        if unreadable { String::new() } else { wall },
    ]
}

impl Picker {
    /// The rows the filter lets through, in order.
    pub fn shown(&self) -> Vec<&RunEntry> {
        let words: Vec<String> = self.filter.split_whitespace().map(str::to_lowercase).collect();
        match &self.runs {
            Some(Ok(runs)) => runs
                .iter()
                .filter(|e| {
                    let hay = format!("{} {}", cells(e).join(" "), e.path).to_lowercase();
                    words.iter().all(|w| hay.contains(w.as_str()))
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}
