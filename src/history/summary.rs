//! One recording summarised for the history: what `baton runs` shows of it, read by folding the
//! recording with the one fold every view uses, so the figures are the report's figures.

use std::path::Path;

use crate::money::Money;
use crate::record::Recording;
use crate::state::{RunStatus, Status};

/// A run as the history lists it. A recording that cannot be read is listed too, with
/// `error` set and only what the file system knows (its name, size and time).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunEntry {
    /// The recording's path.
    pub path: String,
    /// Why the recording cannot be read; the other fields are then empty or zero.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub flow: String,
    pub strategy: String,
    /// `sim`, `live` or `watch` (the recording header's provider).
    pub source: String,
    /// `resume` or `fork` when the run continues another recording.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    /// `completed`, `failed`, `budget exceeded`, `cancelled`, `interrupted` (the recording
    /// stops before the run finished) or `unreadable`.
    pub status: String,
    #[serde(rename = "cost_usd", serialize_with = "usd")]
    pub cost: Money,
    /// Calls whose cost is unknown, not zero (watched runs): their model is not in the
    /// recorded catalog.
    pub unpriced_calls: u64,
    /// Calls of a priced model that came without token counts (watched runs): their tokens
    /// and cost are unknown, so the run's figures are lower bounds. A call that is both is
    /// counted once, as unpriced. Absent when there are none.
    #[serde(default, skip_serializing_if = "crate::report::is_zero")]
    pub uncounted_calls: u64,
    /// Input tokens, cache reads and writes included.
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub wall_ms: u64,
    /// When the run started (the header), or the file's modification time when unreadable.
    pub started_unix_ms: u64,
    pub nodes: u64,
}

fn usd<S: serde::Serializer>(m: &Money, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(m.usd())
}

impl RunEntry {
    pub fn tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }

    /// The cost as a person should read it (see [`crate::report::cost_text`]).
    pub fn cost_text(&self) -> String {
        crate::report::cost_text(self.cost, self.unpriced_calls, self.uncounted_calls)
    }
}

/// What one model cost in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelUse {
    pub model: String,
    pub calls: u64,
    /// Calls of a model the catalog does not price.
    pub unpriced: u64,
    /// Calls that came without token counts.
    pub uncounted: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost: Money,
}

/// A recording's entry and its per-model breakdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub entry: RunEntry,
    pub models: Vec<ModelUse>,
}

/// Reads and folds the recording at `path`; an unreadable one becomes an entry that says why.
pub fn summarise(path: &Path, mtime_ms: u64) -> Summary {
    match Recording::open(path) {
        Ok(rec) => of_recording(&rec),
        Err(e) => Summary {
            entry: RunEntry {
                path: path.display().to_string(),
                error: Some(crate::sanitize::for_terminal(&e.to_string()).into_owned()),
                flow: String::new(),
                strategy: String::new(),
                source: String::new(),
                relation: None,
                status: "unreadable".into(),
                cost: Money::ZERO,
                unpriced_calls: 0,
                uncounted_calls: 0,
                input_tokens: 0,
                output_tokens: 0,
                cached_tokens: 0,
                wall_ms: 0,
                started_unix_ms: mtime_ms,
                nodes: 0,
            },
            models: Vec::new(),
        },
    }
}

/// The summary of a recording already read.
pub fn of_recording(rec: &Recording) -> Summary {
    let st = rec.state();
    let t = &st.totals;
    let status = match st.status {
        RunStatus::Finished(o) => o.name(),
        RunStatus::NotStarted | RunStatus::Running => "interrupted",
    };
    let mut models: Vec<ModelUse> = Vec::new();
    let (mut unpriced, mut uncounted) = (0, 0);
    for (k, u) in st.units.iter().enumerate().filter(|(_, u)| matches!(u.status, Status::Done | Status::Cached)) {
        // A watched step that made no model call is not a call.
        let Some(m) = u.model.as_deref().filter(|m| *m != crate::event::NO_MODEL) else { continue };
        // A call of unknown price and without counts is counted once, as unpriced.
        let no_price = st.unpriced(k);
        let no_counts = u.unreported && !no_price;
        unpriced += u64::from(no_price);
        uncounted += u64::from(no_counts);
        let i = match models.iter().position(|x| x.model == m) {
            Some(i) => i,
            None => {
                models.push(ModelUse {
                    model: m.to_string(),
                    calls: 0,
                    unpriced: 0,
                    uncounted: 0,
                    input_tokens: 0,
                    output_tokens: 0,
                    cost: Money::ZERO,
                });
                models.len() - 1
            }
        };
        let x = &mut models[i];
        x.calls += 1;
        x.unpriced += u64::from(no_price);
        x.uncounted += u64::from(no_counts);
        x.input_tokens += u.billed_usage.total_input();
        x.output_tokens += u.billed_usage.output;
        x.cost += u.cost.total();
    }
    let h = &rec.header;
    Summary {
        entry: RunEntry {
            path: rec.file.clone(),
            error: None,
            flow: h.flow.name.clone(),
            strategy: h.strategy.name.clone(),
            source: h.provider.clone(),
            relation: h.parent.as_ref().map(|p| p.relation.clone()),
            status: status.into(),
            cost: t.cost.total(),
            unpriced_calls: unpriced,
            uncounted_calls: uncounted,
            input_tokens: t.usage.total_input(),
            output_tokens: t.usage.output,
            cached_tokens: t.usage.cached,
            wall_ms: st.wall().as_millis() as u64,
            started_unix_ms: h.created_unix_ms,
            nodes: st.units.len() as u64,
        },
        models,
    }
}

pub use crate::dates::{civil, days_from_civil};

/// `2026-12-02` (UTC) for a time in Unix milliseconds.
pub fn day(unix_ms: u64) -> String {
    let (y, m, d) = civil((unix_ms / 86_400_000) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `2026-12-02 09:31` (UTC).
pub fn minute(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    format!("{} {:02}:{:02}", day(unix_ms), (secs % 86_400) / 3600, (secs % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_days() {
        for days in [-1000, 0, 59, 365, 11_016, 20_789, 20_790, 30_000] {
            let (y, m, d) = civil(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(day(0), "1970-01-01");
        assert_eq!(minute(1_796_204_700_000), "2026-12-02 09:45");
    }
}
