//! The SQLite index beside the recordings. The recordings stay the source of truth: each row
//! remembers the size and modification time of the file it was read from, and every listing
//! first brings the index up to date (new and changed files read, rows of removed files
//! dropped). An index that is missing, of another schema version or corrupt is rebuilt.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use rusqlite::{Connection, params};

use super::summary::{ModelUse, RunEntry, Summary, summarise};
use crate::money::Money;

/// The index's file name inside the recordings directory.
pub const INDEX_FILE: &str = "index.sqlite";

/// Bumped whenever the schema or what a row holds changes: an index of another version is
/// rebuilt from the recordings.
const SCHEMA_VERSION: i32 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    file TEXT PRIMARY KEY,
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    error TEXT,
    flow TEXT NOT NULL,
    strategy TEXT NOT NULL,
    source TEXT NOT NULL,
    relation TEXT,
    status TEXT NOT NULL,
    cost_pico INTEGER NOT NULL,
    unpriced INTEGER NOT NULL,
    uncounted INTEGER NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cached INTEGER NOT NULL,
    wall_ms INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    nodes INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_started ON runs(started_ms);
CREATE TABLE IF NOT EXISTS models (
    file TEXT NOT NULL,
    model TEXT NOT NULL,
    calls INTEGER NOT NULL,
    unpriced INTEGER NOT NULL,
    uncounted INTEGER NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cost_pico INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS models_file ON models(file);
";

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("cannot read the recordings directory {dir}: {source}\n  help: check the path (or BATON_DATA_DIR) and its permissions")]
    Dir { dir: String, source: std::io::Error },
    #[error("the run index failed: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// What bringing the index up to date did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Refresh {
    /// Recordings read because they were new or had changed.
    pub read: usize,
    /// Rows dropped because their recording is gone.
    pub removed: usize,
    /// Whether the index was built from nothing (missing, another version, corrupt).
    pub rebuilt: bool,
    /// Whether the index lives only in memory (its file could not be written).
    pub in_memory: bool,
}

/// The open index of one recordings directory.
pub struct Index {
    conn: Connection,
    dir: PathBuf,
    pub refresh: Refresh,
}

fn mtime_ns(m: &std::fs::Metadata) -> i64 {
    m.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as i64)
}

fn prepare(conn: &Connection) -> rusqlite::Result<bool> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let fresh = version != SCHEMA_VERSION;
    if fresh {
        conn.execute_batch("DROP TABLE IF EXISTS runs; DROP TABLE IF EXISTS models;")?;
    }
    conn.execute_batch(SCHEMA)?;
    if fresh {
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    // Rows of a run and its models are written in one transaction (the rollback journal is
    // kept while it runs, so a crash loses the transaction, not the index).
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(fresh)
}

impl Index {
    /// Opens (or creates, or rebuilds) the index of `dir` and brings it up to date.
    pub fn open(dir: &Path) -> Result<Index, IndexError> {
        let file = dir.join(INDEX_FILE);
        let (conn, rebuilt, in_memory) = match Connection::open(&file).and_then(|c| prepare(&c).map(|f| (c, f))) {
            Ok((c, fresh)) => (c, fresh, false),
            Err(_) => {
                // Corrupt, or not a database: the recordings hold everything, so start again.
                let _ = std::fs::remove_file(&file);
                for ext in ["-journal", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(dir.join(format!("{INDEX_FILE}{ext}")));
                }
                match Connection::open(&file).and_then(|c| prepare(&c).map(|_| c)) {
                    Ok(c) => (c, true, false),
                    // A directory Baton cannot write (read-only, another user's): list anyway.
                    Err(_) => {
                        let c = Connection::open_in_memory()?;
                        prepare(&c)?;
                        (c, true, true)
                    }
                }
            }
        };
        let mut index = Index { conn, dir: dir.to_path_buf(), refresh: Refresh { rebuilt, in_memory, ..Refresh::default() } };
        index.update()?;
        Ok(index)
    }

    /// Reads what changed on disk since the index last looked.
    fn update(&mut self) -> Result<(), IndexError> {
        let mut on_disk: Vec<(String, i64, i64)> = Vec::new();
        let entries = std::fs::read_dir(&self.dir).map_err(|source| IndexError::Dir { dir: self.dir.display().to_string(), source })?;
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.ends_with(".jsonl") {
                continue;
            }
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_file() {
                on_disk.push((name.to_string(), mtime_ns(&meta), meta.len() as i64));
            }
        }
        let mut known: HashMap<String, (i64, i64)> = HashMap::new();
        {
            let mut st = self.conn.prepare("SELECT file, mtime_ns, size FROM runs")?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?))))?;
            for row in rows {
                let (k, v) = row?;
                known.insert(k, v);
            }
        }
        let mut stale: Vec<(String, i64, i64)> = Vec::new();
        for (name, mt, size) in on_disk {
            if known.remove(&name) != Some((mt, size)) {
                stale.push((name, mt, size));
            }
        }
        let gone: Vec<String> = known.into_keys().collect();
        if stale.is_empty() && gone.is_empty() {
            return Ok(());
        }
        let summaries = read_all(&self.dir, &stale);
        let tx = self.conn.transaction()?;
        for name in &gone {
            tx.execute("DELETE FROM runs WHERE file = ?1", [name])?;
            tx.execute("DELETE FROM models WHERE file = ?1", [name])?;
        }
        for ((name, mt, size), s) in stale.iter().zip(&summaries) {
            insert(&tx, name, *mt, *size, s)?;
        }
        tx.commit()?;
        self.refresh.read = stale.len();
        self.refresh.removed = gone.len();
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The entry of a row, its path rebuilt from the directory.
    pub(super) fn entry(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<RunEntry> {
        let file: String = r.get("file")?;
        Ok(RunEntry {
            path: self.dir.join(&file).display().to_string(),
            error: r.get("error")?,
            flow: r.get("flow")?,
            strategy: r.get("strategy")?,
            source: r.get("source")?,
            relation: r.get("relation")?,
            status: r.get("status")?,
            cost: Money::from_picodollars(r.get("cost_pico")?),
            unpriced_calls: r.get::<_, i64>("unpriced")? as u64,
            uncounted_calls: r.get::<_, i64>("uncounted")? as u64,
            input_tokens: r.get::<_, i64>("input")? as u64,
            output_tokens: r.get::<_, i64>("output")? as u64,
            cached_tokens: r.get::<_, i64>("cached")? as u64,
            wall_ms: r.get::<_, i64>("wall_ms")? as u64,
            started_unix_ms: r.get::<_, i64>("started_ms")? as u64,
            nodes: r.get::<_, i64>("nodes")? as u64,
        })
    }
}

/// Summarises the files in parallel (a rebuild reads every recording; each is a fold).
fn read_all(dir: &Path, files: &[(String, i64, i64)]) -> Vec<Summary> {
    let one = |(name, mt, _): &(String, i64, i64)| summarise(&dir.join(name), (*mt / 1_000_000).max(0) as u64);
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).min(8);
    if files.len() < 16 || workers == 1 {
        return files.iter().map(one).collect();
    }
    let chunk = files.len().div_ceil(workers);
    std::thread::scope(|s| {
        let handles: Vec<_> = files.chunks(chunk).map(|c| s.spawn(move || c.iter().map(one).collect::<Vec<_>>())).collect();
        // A worker that panicked leaves its files for the next listing to read again.
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

fn insert(tx: &rusqlite::Transaction<'_>, file: &str, mtime: i64, size: i64, s: &Summary) -> rusqlite::Result<()> {
    let e = &s.entry;
    tx.execute("DELETE FROM models WHERE file = ?1", [file])?;
    tx.execute(
        "INSERT OR REPLACE INTO runs (file, mtime_ns, size, error, flow, strategy, source, relation, status, cost_pico, unpriced,
         uncounted, input, output, cached, wall_ms, started_ms, nodes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        params![
            file,
            mtime,
            size,
            e.error,
            e.flow,
            e.strategy,
            e.source,
            e.relation,
            e.status,
            e.cost.picodollars(),
            e.unpriced_calls as i64,
            e.uncounted_calls as i64,
            e.input_tokens as i64,
            e.output_tokens as i64,
            e.cached_tokens as i64,
            e.wall_ms as i64,
            e.started_unix_ms as i64,
            e.nodes as i64
        ],
    )?;
    for m in &s.models {
        insert_model(tx, file, m)?;
    }
    Ok(())
}

fn insert_model(tx: &rusqlite::Transaction<'_>, file: &str, m: &ModelUse) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO models (file, model, calls, unpriced, uncounted, input, output, cost_pico) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            file,
            m.model,
            m.calls as i64,
            m.unpriced as i64,
            m.uncounted as i64,
            m.input_tokens as i64,
            m.output_tokens as i64,
            m.cost.picodollars()
        ],
    )?;
    Ok(())
}
