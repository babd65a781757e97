//! Baton's output cache: every node output under a content key (the model, the resolved prompt
//! and context, the limits, and for the simulator the seed, input and node). A rerun serves a
//! node whose key is unchanged from here, at no cost, so only what an edit really changed runs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::engine::{OutputStore, Query, Served};
use crate::record::RecordedOutputs;
use crate::routing::Usage;

/// A cache that lives as long as the session (the live screen's reruns).
#[derive(Default)]
pub struct MemoryCache {
    map: Mutex<HashMap<u64, Served>>,
}

impl MemoryCache {
    pub fn new() -> Arc<MemoryCache> {
        Arc::new(MemoryCache::default())
    }

    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl OutputStore for MemoryCache {
    fn get(&self, q: &Query<'_>) -> Option<Served> {
        self.map.lock().ok()?.get(&q.key).cloned()
    }

    fn put(&self, q: &Query<'_>, s: &Served) {
        if let Ok(mut m) = self.map.lock() {
            m.insert(q.key, s.clone());
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Entry {
    /// For people browsing the directory.
    node: String,
    model: String,
    usage: Usage,
    output: String,
}

/// A cache in a directory, one JSON file per key, shared across runs (`--cache DIR`).
pub struct DiskCache {
    dir: PathBuf,
}

impl DiskCache {
    pub fn open(dir: PathBuf) -> std::io::Result<DiskCache> {
        std::fs::create_dir_all(&dir)?;
        Ok(DiskCache { dir })
    }

    fn path(&self, key: u64) -> PathBuf {
        self.dir.join(format!("{key:016x}.json"))
    }
}

impl OutputStore for DiskCache {
    fn get(&self, q: &Query<'_>) -> Option<Served> {
        let bytes = std::fs::read(self.path(q.key)).ok()?;
        // A damaged entry is a miss, never an error: the node simply runs.
        let e: Entry = serde_json::from_slice(&bytes).ok()?;
        Some(Served { model: e.model.into(), usage: e.usage, output: Arc::from(e.output), resumed: None })
    }

    fn put(&self, q: &Query<'_>, s: &Served) {
        let e = Entry { node: q.node.to_string(), model: s.model.to_string(), usage: s.usage, output: s.output.to_string() };
        if let Ok(bytes) = serde_json::to_vec(&e) {
            let tmp = self.dir.join(format!(".{:016x}.{}.tmp", q.key, std::process::id()));
            if std::fs::write(&tmp, bytes).is_ok() {
                let _ = std::fs::rename(&tmp, self.path(q.key));
            }
        }
    }
}

/// A rerun's store: nodes outside the rerun keep the previous attempt's outputs; nodes inside
/// it use the cache, so an unchanged key is served and a changed one runs.
pub struct Rerun {
    pub previous: RecordedOutputs,
    pub cache: Arc<dyn OutputStore>,
}

impl OutputStore for Rerun {
    fn get(&self, q: &Query<'_>) -> Option<Served> {
        self.previous.get(q).or_else(|| self.cache.get(q))
    }

    fn put(&self, q: &Query<'_>, s: &Served) {
        self.cache.put(q, s);
    }
}
