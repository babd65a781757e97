//! What can be done with a recording: `replay` (the screen, or its summary), `reprice` under
//! another strategy or prices, `export` as OTLP/JSON traces.

use std::path::Path;
use std::sync::Arc;

use super::error::Exit;
use super::output::{print_json, print_out, warn};
use super::setup::{open_recording, open_recording_folded, screen_setup};
use super::{EXIT_OK, ExportArgs, Failure, Format, ReplayArgs, RepriceArgs};
use crate::diag::Source;
use crate::load;
use crate::provider::Providers;
use crate::record::Recording;
use crate::report::{self, RunReportStream};
use crate::routing::{Catalog, Strategy};

/// The newest readable recording in the history, for `baton replay` without one.
fn newest_recording() -> Result<std::path::PathBuf, Failure> {
    let listing = crate::history::list(&crate::history::Filter::default()).map_err(|e| Failure::bad_input(e.to_string()))?;
    listing.runs.iter().find(|e| e.error.is_none()).map(|e| std::path::PathBuf::from(&e.path)).ok_or_else(|| {
        Failure::bad_input(format!(
            "no readable recording in {}\n  help: `baton run FLOW` records one; `baton replay FILE` opens a file elsewhere",
            listing.dir.display()
        ))
    })
}

pub fn replay(args: ReplayArgs) -> Exit {
    use std::io::IsTerminal as _;
    let pick = args.file.is_none();
    let file = match &args.file {
        Some(f) => f.clone(),
        None if args.summary || !std::io::stdout().is_terminal() => {
            return Err(Failure::bad_input(
                "which recording? give one: baton replay FILE\n  help: `baton runs` lists them; on a terminal, `baton replay` alone opens a picker",
            ));
        }
        None => newest_recording()?,
    };
    if args.summary {
        let (_, state) = open_recording_folded(&file, Recording::open_folded_without_outputs)?;
        return Ok(match args.format {
            Format::Json => print_json(&RunReportStream::new(&state)),
            Format::Table => print_out(&report::run_table(&state)),
        });
    }
    let rec = open_recording(&file)?;
    let no_terminal =
        format!("the replay screen needs a terminal\n  help: `baton replay {} --summary` prints the run's table", file.display());
    let (theme, keymap) = screen_setup(args.screen.theme.as_deref(), args.screen.speed, &no_terminal)?;
    let spec = rec.spec();
    let opts = crate::tui::Options {
        spec,
        providers: Providers::simulated(),
        theme,
        keymap,
        speed: args.screen.speed,
        replay: Some(crate::tui::Replay { recording: Arc::new(rec) }),
        others: Vec::new(),
        events: None,
        flow_path: None,
        strategy_path: None,
        cache_dir: None,
        tasks: None,
        pick_run: pick,
    };
    crate::tui::run(opts).map_err(|e| Failure::failed(format!("the terminal failed: {e}")))
}

pub fn reprice(args: RepriceArgs) -> Exit {
    // Folded without the outputs, which are read from the file as the re-run serves them.
    let (rec, before, outputs) = open_indexed(&args.file)?;
    let catalog = match &args.catalog {
        None => rec.catalog.clone(),
        Some(path) => {
            let (c, w) = Source::read(path).and_then(|src| Catalog::parse(&src, Some(&rec.catalog)))?;
            warn(&w);
            Arc::new(c)
        }
    };
    let strategy = match &args.strategy {
        None => Arc::new(Strategy::parse(&Source::new(rec.header.strategy.source.clone(), rec.header.strategy.text.clone()), &catalog)?.0),
        Some(name) => {
            let dir = Path::new(&rec.header.flow.source).parent();
            let (s, _, w) = load::load_strategy(name, dir, &catalog)?;
            warn(&w);
            s
        }
    };
    let (report, _) = if rec.header.provider == "watch" {
        // A watched run is re-priced from its events (its reported counts): read it whole
        // (already read once: any torn end has been told).
        let whole = Recording::open(&args.file).map_err(|e| Failure::bad_input(e.to_string()))?;
        let before = whole.state();
        crate::record::reprice::reprice_folded(&whole, before, strategy, catalog)
    } else {
        crate::record::reprice::reprice_indexed(&rec, before, outputs, strategy, catalog)
    }
    .map_err(Failure::runtime)?;
    Ok(match args.format {
        Format::Json => print_json(&report),
        Format::Table => print_out(&crate::record::reprice::table(&report)),
    })
}

/// A recording folded without its outputs, and where they are (see
/// [`Recording::open_folded_indexed`]).
fn open_indexed(file: &Path) -> Result<(Recording, crate::state::RunState, crate::record::reader::OutputIndex), Failure> {
    let (rec, state, index) = Recording::open_folded_indexed(file).map_err(|e| Failure::bad_input(e.to_string()))?;
    if let Some(t) = &rec.torn {
        eprintln!("note: {}: {t}", rec.file);
    }
    Ok((rec, state, index))
}

pub fn export(args: ExportArgs) -> Exit {
    // Settings first: a bad endpoint or header is known before anything is read or written.
    let push = super::otlp::config(&args.push)?;
    // Folded as read: the recording's events are never all held, and the file is written one
    // span at a time. Without a push, not even the outputs are held: each is read from the
    // recording as its span is written.
    let (rec, state, index) = match push {
        Some(_) => {
            let (rec, state) = open_recording_folded(&args.file, Recording::open_folded)?;
            (rec, state, None)
        }
        None => {
            let (rec, state, index) = open_indexed(&args.file)?;
            (rec, state, Some(index))
        }
    };
    if let Some(out) = &args.otlp {
        let mut spans = 0;
        // The output path is the user's: one that cannot be written is bad input.
        load::write_atomically_with(out, |w| {
            spans = handed_off(w.get_ref(), |w| match &index {
                Some(index) => crate::record::otlp::write_indexed(&rec, &state, index, w),
                None => crate::record::otlp::write_folded(&rec, &state, w),
            })?;
            Ok(())
        })
        .map_err(|e| {
            Failure::bad_input(format!(
                "cannot write {}: {e}\n  help: give a path in a directory that exists and that you can write",
                out.display()
            ))
        })?;
        eprintln!("wrote {spans} spans to {}", out.display());
    }
    if let Some(cfg) = push {
        let doc = crate::record::otlp::export_folded(&rec, &state);
        // Delivery failing (refused, an error answer, spans rejected) is exit 1.
        let pushed = crate::record::push::send_blocking(&cfg, &doc).map_err(|e| Failure::failed(e.to_string()))?;
        eprintln!("pushed {} spans to {} ({}, answer {})", pushed.spans, cfg.url, cfg.protocol.name(), pushed.status);
    }
    Ok(EXIT_OK)
}

/// Runs `write` with a writer that hands what it is given, a megabyte at a time, to another
/// thread that writes it to `file`, while a third has it written back to disk every 32 MB as
/// it goes. An export (360 MB for a 1M-event recording) is built on this thread while the file
/// takes it on that one, and the sync that makes the file whole before it is renamed into place
/// finds little left to write (it took 0.22 s of a 1.5 s export, with 0.1 s in `write` calls).
/// The writer does not wait for those syncs: when it did, each (20 ms, `strace`) held up
/// building as well, and they added up to half of the spans' writing.
fn handed_off<T>(file: &std::fs::File, write: impl FnOnce(&mut Handoff) -> std::io::Result<T>) -> std::io::Result<T> {
    use std::io::Write as _;
    const SYNC_EVERY: usize = 32 << 20;
    let mut f = file.try_clone()?;
    let to_sync = file.try_clone()?;
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let (back, spare) = std::sync::mpsc::channel::<Vec<u8>>();
        let (dirty, written_back) = std::sync::mpsc::channel::<()>();
        let syncer = s.spawn(move || -> std::io::Result<()> {
            while written_back.recv().is_ok() {
                // Whatever was written meanwhile goes with this sync.
                while written_back.try_recv().is_ok() {}
                to_sync.sync_data()?;
            }
            Ok(())
        });
        let writer = s.spawn(move || -> std::io::Result<()> {
            let mut unsynced = 0;
            for buf in rx {
                f.write_all(&buf)?;
                unsynced += buf.len();
                if unsynced >= SYNC_EVERY {
                    // A syncer that stopped has failed; its error is reported below.
                    let _ = dirty.send(());
                    unsynced = 0;
                }
                let _ = back.send(buf);
            }
            Ok(())
        });
        let mut h = Handoff { buf: Vec::with_capacity(Handoff::SIZE), to: Some(tx), spare };
        let wrote = write(&mut h);
        let sent = h.send();
        h.to = None;
        let failed = |what: &str| std::io::Error::other(format!("the thread {what} the file failed"));
        let written = writer.join().unwrap_or_else(|_| Err(failed("writing")));
        let synced = syncer.join().unwrap_or_else(|_| Err(failed("syncing")));
        // The file's own errors first: a send fails only because the writer stopped.
        written.and(synced).and(sent).and(wrote)
    })
}

/// The writing side of [`handed_off`].
struct Handoff {
    buf: Vec<u8>,
    to: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    /// Buffers the writer is done with.
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl Handoff {
    const SIZE: usize = 1 << 20;

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut next = self.spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(Self::SIZE));
        next.clear();
        let full = std::mem::replace(&mut self.buf, next);
        let stopped = || std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the file's writer stopped");
        self.to.as_ref().ok_or_else(stopped)?.send(full).map_err(|_| stopped())
    }
}

impl std::io::Write for Handoff {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= Self::SIZE {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
