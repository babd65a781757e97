//! The recorder: a thread that owns the recording file, appends each event as it comes, and
//! acknowledges the final flush. Lines are written with one `write` per batch straight to the
//! file (the batch is whatever arrived while the previous one was being written), so a crash
//! loses at most what was still waiting and at worst tears the last line, which the reader
//! reports and skips.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use super::format::{Header, Line};
use crate::event::RunEvent;
use crate::flow::Flow;

/// Lines waiting for the writer, appended by the run and taken in one piece by the writer.
/// A channel of one message per event woke the writer thread for nearly every event (a
/// quarter of a 100,000-node run went to futex calls and context switches). Now the writer
/// sleeps until the first bytes arrive, then lets a batch gather for up to [`GATHER`] (or
/// until [`BATCH`] bytes are waiting) and writes it in one go; the run signals it only when
/// it is waiting for exactly that.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    finish: Option<SyncSender<io::Result<()>>>,
    /// The recorder was dropped without `finish`: write what is there and stop.
    closed: bool,
    /// What the writer sleeps until, if it sleeps.
    waiting: Waiting,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// Busy writing: it looks again when done.
    #[default]
    No,
    /// For any bytes at all.
    Any,
    /// For a full batch (or the gathering time to pass).
    Batch,
}

/// How long a batch may gather after its first line: the most a recording lags the run.
const GATHER: std::time::Duration = std::time::Duration::from_millis(20);
/// A batch this large is written at once.
const BATCH: usize = 256 << 10;

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    /// Signalled when `pending` gains its first bytes, a finish request, or closes.
    ready: Condvar,
    /// Signalled when the writer takes the bytes (a run far ahead of the disk waits for it).
    room: Condvar,
}

/// How far the run may get ahead of the disk before it waits. Both buffers keep their
/// capacity, so this bounds what recording adds to a run's memory: at 8 MB a 100,000-node run
/// on a busy machine peaked 20-30 MB higher recorded than not; a write of 1 MB to the page
/// cache takes about a millisecond, so the run rarely waits.
const MAX_PENDING: usize = 1 << 20;

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub struct Recorder {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
    flow: Arc<Flow>,
    /// The file's identity when it was created, to notice at the end that the path no longer
    /// leads to it (directory deleted, file replaced): writes to an unlinked file succeed.
    identity: Option<FileId>,
    /// The header written first, without the embedded files' text, for whoever needs the
    /// run's identity (an OTLP push names its trace after it).
    header: Header,
}

/// Device and inode of a file (Unix); elsewhere the check is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId(u64, u64);

impl FileId {
    #[cfg(unix)]
    fn of(meta: &std::fs::Metadata) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        Some(FileId(meta.dev(), meta.ino()))
    }

    #[cfg(not(unix))]
    fn of(_meta: &std::fs::Metadata) -> Option<FileId> {
        None
    }
}

/// Removes a recording that could not even take its header, so no empty file is left behind;
/// only if the path is still the regular file this run created (never a device such as
/// /dev/full, never a file someone put there since).
fn remove_unstarted(path: &Path, file: &File) {
    let ours = file.metadata().ok().filter(std::fs::Metadata::is_file).and_then(|m| FileId::of(&m));
    let there = std::fs::symlink_metadata(path).ok().filter(std::fs::Metadata::is_file).and_then(|m| FileId::of(&m));
    if ours.is_some() && ours == there {
        let _ = std::fs::remove_file(path);
    }
}

fn writer(mut file: File, shared: &Shared) {
    let mut failed: Option<io::Error> = None;
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        let (finish, closed) = {
            let mut p = shared.lock();
            while p.bytes.is_empty() && p.finish.is_none() && !p.closed {
                p.waiting = Waiting::Any;
                p = shared.ready.wait(p).unwrap_or_else(PoisonError::into_inner);
            }
            if p.bytes.len() < BATCH && p.finish.is_none() && !p.closed {
                p.waiting = Waiting::Batch;
                p = shared.ready.wait_timeout(p, GATHER).unwrap_or_else(PoisonError::into_inner).0;
            }
            p.waiting = Waiting::No;
            // Everything that arrived while the last batch was written, in one go.
            std::mem::swap(&mut p.bytes, &mut buf);
            (p.finish.take(), p.closed)
        };
        shared.room.notify_all();
        if failed.is_none()
            && !buf.is_empty()
            && let Err(e) = file.write_all(&buf)
        {
            failed = Some(e);
        }
        buf.clear();
        if let Some(ack) = finish {
            let result = match failed.take() {
                Some(e) => Err(e),
                None => file.sync_all(),
            };
            let _ = ack.send(result);
            return;
        }
        if closed {
            return;
        }
    }
}

/// A header's copy without the text of the flow, strategy and catalog files it embeds.
fn without_texts(h: &Header) -> Header {
    let named =
        |e: &super::format::Embedded| super::format::Embedded { name: e.name.clone(), source: e.source.clone(), text: String::new() };
    Header {
        format: h.format.clone(),
        version: h.version,
        baton_version: h.baton_version.clone(),
        created_unix_ms: h.created_unix_ms,
        run: h.run,
        attempt: h.attempt,
        parent: h.parent.clone(),
        provider: h.provider.clone(),
        seed: h.seed,
        input: h.input.clone(),
        flow: named(&h.flow),
        strategy: named(&h.strategy),
        catalog: h.catalog.iter().map(named).collect(),
        prices_read: h.prices_read.clone(),
        prices: h.prices.clone(),
    }
}

impl Recorder {
    /// Creates (or replaces) the file, writes the header, and starts the writer.
    pub fn create(path: &Path, header: &Header, flow: Arc<Flow>) -> io::Result<Recorder> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = File::create(path)?;
        // Straight to the file: the header embeds the flow's text, and a line built first
        // held another copy of it (12 MB for a 100,000-node flow) at the run's start.
        let write_header = || -> io::Result<()> {
            let mut w = io::BufWriter::with_capacity(64 << 10, &file);
            serde_json::to_writer(&mut w, header).map_err(io::Error::other)?;
            w.write_all(b"\n")?;
            w.flush()?;
            drop(w);
            file.sync_data()
        };
        // A full disk fails here (or at the sync); leave nothing rather than an empty file.
        if let Err(e) = write_header() {
            remove_unstarted(path, &file);
            return Err(e);
        }
        let identity = file.metadata().ok().and_then(|m| FileId::of(&m));
        let shared = Arc::new(Shared::default());
        let theirs = shared.clone();
        let thread = std::thread::Builder::new().name("baton-recorder".into()).spawn(move || writer(file, &theirs))?;
        Ok(Recorder { shared, thread: Some(thread), path: path.to_path_buf(), flow, identity, header: without_texts(header) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header as written, less the text of the files it embeds (the flow, the strategy
    /// and the catalog are the run's own; a copy of the text for the whole run was 11-21 MB at
    /// 100,000 nodes).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Appends an event (the writer may still be writing the previous ones).
    pub fn record(&self, e: &RunEvent) {
        let mut p = self.shared.lock();
        while p.bytes.len() >= MAX_PENDING && !p.closed {
            // A writer that died (it never should) will not make room: drop, do not hang.
            if self.thread.as_ref().is_none_or(JoinHandle::is_finished) {
                p.bytes.clear();
                break;
            }
            p = self.shared.room.wait_timeout(p, std::time::Duration::from_millis(100)).unwrap_or_else(PoisonError::into_inner).0;
        }
        let start = p.bytes.len();
        if serde_json::to_writer(&mut p.bytes, &Line::from_event(&self.flow, e)).is_err() {
            p.bytes.truncate(start);
            return;
        }
        // A key a server echoed (in an error, in output) is never written down.
        if crate::sanitize::has_secrets()
            && let Ok(text) = std::str::from_utf8(&p.bytes[start..])
            && let std::borrow::Cow::Owned(clean) = crate::sanitize::redact(text)
        {
            p.bytes.truncate(start);
            p.bytes.extend_from_slice(clean.as_bytes());
        }
        p.bytes.push(b'\n');
        let wake = match p.waiting {
            Waiting::No => false,
            Waiting::Any => true,
            Waiting::Batch => p.bytes.len() >= BATCH,
        };
        if wake {
            p.waiting = Waiting::No;
        }
        drop(p);
        if wake {
            self.shared.ready.notify_one();
        }
    }

    /// Writes what is left, syncs the file, and says whether every write succeeded.
    pub fn finish(mut self) -> io::Result<PathBuf> {
        let (ack_tx, ack_rx) = sync_channel(1);
        self.shared.lock().finish = Some(ack_tx);
        self.shared.ready.notify_one();
        let stopped = || io::Error::other("the recorder stopped early");
        let result = loop {
            match ack_rx.recv_timeout(std::time::Duration::from_millis(100)) {
                Ok(r) => break r,
                // A writer that died (it never should) cannot answer: do not wait for it.
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if !self.thread.as_ref().is_some_and(JoinHandle::is_finished) => {}
                Err(_) => return Err(stopped()),
            }
        };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        result?;
        self.still_at_path()?;
        Ok(self.path.clone())
    }

    /// Every write can succeed on a file whose directory was deleted or whose name now leads to
    /// another file; then the recording is lost however well it was written.
    fn still_at_path(&self) -> io::Result<()> {
        let Some(ours) = self.identity else { return Ok(()) };
        match std::fs::metadata(&self.path) {
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("the file was removed while the run was writing it (is its directory gone?): {e}; the recording is lost"),
            )),
            Ok(m) if FileId::of(&m) != Some(ours) => Err(io::Error::other(
                "the path now leads to another file (it was replaced while the run was writing); this run's recording is lost",
            )),
            Ok(_) => Ok(()),
        }
    }
}

impl Drop for Recorder {
    /// Without `finish` (an early return, a panic): the writer writes what it has and stops.
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_one();
    }
}

/// `<flow>-<strategy>-<UTC time>-seed<N>.jsonl`, for the default recording location.
pub fn default_name(flow: &str, strategy: &str, seed: u64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::dates::civil(days);
    let clean = |s: &str| s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect::<String>();
    format!(
        "{}-{}-{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{:03}-seed{seed}.jsonl",
        clean(flow),
        clean(strategy),
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        now.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_file_this_run_created_is_removed() {
        let dir = std::env::temp_dir().join(format!("baton-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("r.jsonl");
        let file = File::create(&path).expect("create");
        remove_unstarted(&path, &file);
        assert!(!path.exists(), "our empty file is removed");

        let file = File::create(&path).expect("create");
        let other = dir.join("other.jsonl");
        std::fs::write(&other, b"someone else's").expect("write");
        std::fs::rename(&other, &path).expect("replace");
        remove_unstarted(&path, &file);
        assert!(path.exists(), "a file put there since is kept");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
