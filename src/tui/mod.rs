//! The terminal application. Only this module and `main.rs` name ratatui or crossterm.
//!
//! One loop `select!`s over terminal input, run events and a frame deadline. Run events are
//! drained before drawing, and a frame is drawn at most once per deadline and only when
//! something changed, so a burst of ten thousand tokens costs a few frames and an idle screen
//! costs nothing.

pub mod app;
pub mod areas;
pub mod compare_table;
pub mod compare_view;
pub mod draw;
pub mod effects;
pub mod fmt;
pub mod graph;
pub mod input;
pub mod inspect;
pub mod keymap;
pub mod layout;
pub mod log;
pub mod minimap;
pub mod nav;
pub mod panel;
pub mod picker;
pub mod playback;
pub mod player;
pub mod runs_list;
mod screen;
pub mod search;
pub mod search_thread;
pub mod siblings;
pub mod theme;
pub mod timeline;
pub mod traces;
pub mod traces_view;
pub mod tuning;
pub mod watch_loop;

use std::io::{self, Write};
use std::time::Duration;

use crossterm::event::EnableMouseCapture;
use crossterm::execute;
use crossterm::terminal::{Clear, ClearType, EnterAlternateScreen, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::engine::{self, RunSpec};
use crate::event::RunEvent;
use crate::provider::Providers;
use app::{App, Command, Msg};
use keymap::Keymap;
use theme::Theme;

pub struct Options {
    pub spec: RunSpec,
    pub providers: Providers,
    pub theme: Theme,
    pub keymap: Keymap,
    pub speed: f64,
    /// Open a recording instead of starting a run.
    pub replay: Option<Replay>,
    /// Compare mode: the other strategies (or recordings), side by side with `spec`.
    pub others: Vec<CompareSide>,
    /// Compare mode over recordings: the baseline's recorded events.
    pub events: Option<Vec<RunEvent>>,
    /// The files the flow and strategy came from, to edit and watch (None for samples).
    pub flow_path: Option<std::path::PathBuf>,
    pub strategy_path: Option<std::path::PathBuf>,
    /// A directory cache shared across runs (`--cache DIR`); the session's memory otherwise.
    pub cache_dir: Option<std::path::PathBuf>,
    /// The task set `F` searches over (`--tasks`); None: the sample set named like the flow.
    pub tasks: Option<tuning::frontier::TaskSet>,
    /// Open with the run picker showing (`baton replay` without a recording).
    pub pick_run: bool,
}

/// One side of a comparison: a run to compute, or a recorded run's events.
pub struct CompareSide {
    pub spec: RunSpec,
    pub events: Option<Vec<RunEvent>>,
}

/// Opens the compare screen: the first side is the baseline.
/// The compare screen: each side runs (or replays) under `providers`; the header says whether
/// they are live or simulated.
pub fn run_compare(mut sides: Vec<CompareSide>, providers: Providers, theme: Theme, keymap: Keymap, speed: f64) -> io::Result<u8> {
    if sides.is_empty() {
        return Ok(0);
    }
    let first = sides.remove(0);
    run(Options {
        spec: first.spec,
        providers,
        theme,
        keymap,
        speed,
        replay: None,
        others: sides,
        events: first.events,
        flow_path: None,
        strategy_path: None,
        cache_dir: None,
        tasks: None,
        pick_run: false,
    })
}

/// A recorded run to play back.
pub struct Replay {
    pub recording: std::sync::Arc<crate::record::Recording>,
}

/// Appends a line to Baton's log file (never the screen the TUI owns).
pub fn log_line(msg: &str) {
    let Some(dir) = crate::load::data_dir() else { return };
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("baton.log")) {
        let _ = writeln!(f, "{msg}");
    }
}

/// Runs the screen until the user quits (exit status 0) or a signal ends it: SIGTERM (143) or
/// SIGHUP, the terminal closing (129). Either way the terminal is restored and every run in
/// flight is cancelled with its recording flushed.
pub fn run(opts: Options) -> io::Result<u8> {
    screen::on_terminal(async |terminal| {
        let result = event_loop(terminal, opts).await;
        // Logged before the runtime closes, which waits for recordings still being finished.
        if let Err(e) = &result {
            log_line(&format!("error: {e}"));
        }
        result
    })
}

/// A run in progress: how to stop it, and how to wait until its recording is complete.
struct Running {
    cancel: CancellationToken,
    path: Option<String>,
    done: Done,
}

/// What finishes when a run's last event is recorded and its recording flushed.
enum Done {
    Thread(std::thread::JoinHandle<()>),
    Task(tokio::task::JoinHandle<()>),
}

impl Running {
    /// Whether its recording is closed (nothing left to wait for).
    fn is_finished(&self) -> bool {
        match &self.done {
            Done::Thread(h) => h.is_finished(),
            Done::Task(h) => h.is_finished(),
        }
    }

    /// Cancels the run and waits (a few seconds at most) until its recording is flushed, so
    /// quitting the screen never leaves a recording cut short.
    async fn stop_and_flush(self) {
        self.cancel.cancel();
        let wait = async {
            match self.done {
                Done::Thread(h) => drop(tokio::task::spawn_blocking(move || h.join()).await),
                Done::Task(h) => drop(h.await),
            }
        };
        if tokio::time::timeout(Duration::from_secs(5), wait).await.is_err() {
            log_line(&format!("the recording {} was still being written at exit", self.path.as_deref().unwrap_or("-")));
        }
    }
}

/// Starts a run. A simulated run is computed on its own thread on virtual time, exactly as
/// `baton run` computes it; its events go to the screen as they are produced and are revealed
/// at the playhead's pace. The channel is unbounded on purpose: a simulated run is finite, the
/// screen keeps every event anyway, and back-pressure would let virtual time advance while
/// the engine waits, which would change the run.
fn start_run(
    spec: RunSpec,
    providers: Providers,
    tx: mpsc::UnboundedSender<Vec<RunEvent>>,
    parent: Option<crate::record::Parent>,
) -> Running {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    // Every run is recorded; a recording that cannot be opened costs only the recording.
    let recorder = crate::record::start::default_path(&spec).and_then(|path| {
        match crate::record::start::recorder(&spec, !providers.is_simulated(), parent, &path) {
            Ok(r) => Some(r),
            Err(e) => {
                log_line(&format!("not recording to {}: {e}", path.display()));
                None
            }
        }
    });
    let path = recorder.as_ref().map(|r| r.path().display().to_string());
    let finish = move |r: Option<crate::record::Recorder>| {
        if let Some(r) = r {
            match r.finish() {
                Ok(p) => log_line(&format!("recorded {}", p.display())),
                Err(e) => log_line(&format!("recording incomplete: {e}")),
            }
        }
    };
    let done = if providers.is_simulated() {
        Done::Thread(std::thread::spawn(move || {
            engine::vtime::block_on(async {
                let (etx, mut erx) = mpsc::channel(1024);
                let engine = engine::run(&spec, &providers, etx, token);
                // The recording gets every event even once the screen is gone (quitting
                // cancels the run; its closing events still belong in the file).
                let forward = async {
                    let mut batch = Vec::with_capacity(512);
                    let mut screen = true;
                    while let Some(e) = erx.recv().await {
                        if let Some(r) = &recorder {
                            r.record(&e);
                        }
                        if screen {
                            batch.push(e);
                            if batch.len() >= 512 && tx.send(std::mem::take(&mut batch)).is_err() {
                                screen = false;
                            }
                        }
                    }
                    let _ = tx.send(batch);
                };
                tokio::join!(engine, forward);
            });
            finish(recorder);
        }))
    } else {
        Done::Task(tokio::spawn(async move {
            let (etx, mut erx) = mpsc::channel(1024);
            let engine = async { engine::run(&spec, &providers, etx, token).await };
            let forward = async {
                let mut screen = true;
                while let Some(e) = erx.recv().await {
                    let mut batch = vec![e];
                    while let Ok(more) = erx.try_recv() {
                        batch.push(more);
                    }
                    if let Some(r) = &recorder {
                        batch.iter().for_each(|e| r.record(e));
                    }
                    if screen && tx.send(batch).is_err() {
                        screen = false;
                    }
                }
            };
            tokio::join!(engine, forward);
            let _ = tokio::task::spawn_blocking(move || finish(recorder)).await;
        }))
    };
    Running { cancel, path, done }
}

async fn event_loop<W: Write>(terminal: &mut Terminal<CrosstermBackend<W>>, opts: Options) -> io::Result<u8> {
    let simulated = opts.providers.is_simulated();
    let mut app = App::new(&opts.spec, opts.theme, opts.keymap, opts.speed, simulated);
    let size = terminal.size()?;
    app.size = (size.width, size.height);
    app.flow_path = opts.flow_path.clone();
    app.strategy_path = opts.strategy_path.clone();
    app.clip_file = crate::load::data_dir().map(|d| d.join("clipboard.txt"));
    if !simulated && opts.replay.is_none() && opts.events.is_none() {
        // Simulated in virtual time: a few milliseconds before the first frame. The simulator
        // drives virtual time, which would block a worker of this runtime: give it a thread.
        app.estimate = std::thread::scope(|s| s.spawn(|| crate::estimate::estimate(&opts.spec, None)).join())
            .ok()
            .and_then(Result::ok)
            .map(|e| e.expected);
    }
    if let Some(dir) = &opts.cache_dir {
        match crate::cache::DiskCache::open(dir.clone()) {
            Ok(c) => app.cache = std::sync::Arc::new(c),
            Err(e) => app.message = Some(format!("cannot use the cache {}: {e}; caching in memory", dir.display())),
        }
    }
    // Files are watched by their modification time, checked once a second.
    let mtime = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut watched: Vec<(std::path::PathBuf, Option<std::time::SystemTime>)> =
        [opts.flow_path.clone(), opts.strategy_path.clone()].into_iter().flatten().map(|p| (p.clone(), mtime(&p))).collect();
    let mut next_watch = Instant::now() + Duration::from_secs(1);
    let providers = opts.providers;
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<RunEvent>>();
    // The optimizer's search, on its own thread, reports here.
    app.frontier.tasks = opts.tasks.clone().or_else(|| tuning::frontier::sample_tasks_for(&app.flow.name));
    let (otx, mut orx) = mpsc::unbounded_channel::<Msg>();
    let mut optimizing: Option<CancellationToken> = None;
    let compare = !opts.others.is_empty();
    if compare {
        // Every side gets its own run id, so its events find their way to its player.
        let mut specs: Vec<RunSpec> = opts.others.iter().map(|o| o.spec.clone()).collect();
        if opts.events.is_none() {
            for (k, s) in specs.iter_mut().enumerate() {
                s.run_id = app.run_id + 1 + k as u64;
            }
        }
        app.compare_with(specs);
        app.view = app::View::Graph;
    }
    let mut others_running = Vec::new();
    for (k, side) in opts.others.into_iter().enumerate() {
        match side.events {
            Some(events) => {
                app.others[k].push(events);
                app.others[k].index();
            }
            None => others_running.push(start_run(app.other_specs[k].clone(), providers.clone(), tx.clone(), None)),
        }
    }
    let mut running = match (opts.replay, opts.events) {
        (Some(r), _) => {
            app.update(Msg::Run(r.recording.events.clone()));
            app.replay = Some(r.recording);
            app.player.all_loaded();
            app.player.index();
            None
        }
        (None, Some(events)) => {
            app.update(Msg::Run(events));
            app.player.index();
            None
        }
        (None, None) => {
            let r = start_run(app.spec(), providers.clone(), tx.clone(), None);
            app.recording = r.path.clone();
            Some(r)
        }
    };
    if opts.pick_run {
        app.runs = Some(picker::Picker::default());
        if let Some(m) = effects::perform(&Command::ListRuns) {
            app.update(m);
        }
    }
    let mut input = input::Input::start();
    // A kill or a closing terminal ends the screen like `q` does, then says which it was.
    let mut term_sig = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hup_sig = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut exit_code = 0u8;
    // Runs cancelled during the session, whose recordings may still be closing.
    let mut stopping: Vec<Running> = Vec::new();
    let mut frames = screen::Frames::new();

    loop {
        let now = Instant::now();
        if frames.due(now) {
            terminal.draw(|f| draw::draw(f, &app))?;
            app.scroll_max = draw::scroll_limits(&app);
        }
        if app.quit {
            break;
        }
        let (tick_at, draw_at) = frames.plan(app.wants_ticks(), now);
        let far = now + Duration::from_secs(3600);
        let watch_at = if watched.is_empty() && app.strategy_path.is_none() { far } else { next_watch };

        let cmds = tokio::select! {
            biased;
            _ = term_sig.recv() => {
                exit_code = 128 + 15;
                app.quit = true;
                Vec::new()
            },
            _ = hup_sig.recv() => {
                exit_code = 128 + 1;
                app.quit = true;
                Vec::new()
            },
            ev = input.rx.recv() => match ev {
                Some(Ok(e)) => {
                    frames.changed();
                    app.update(Msg::Term(e))
                }
                Some(Err(e)) => return Err(e),
                None => break,
            },
            Some(m) = orx.recv() => {
                frames.changed();
                app.update(m)
            },
            Some(batch) = rx.recv() => {
                let mut cmds = app.update(Msg::Run(batch));
                // Drain whatever else is waiting before the next frame.
                while let Ok(more) = rx.try_recv() {
                    cmds.extend(app.update(Msg::Run(more)));
                }
                frames.changed();
                cmds
            },
            _ = tokio::time::sleep_until(tick_at), if frames.ticking() => {
                let since = frames.tick();
                app.update(Msg::Tick(since))
            },
            _ = tokio::time::sleep_until(draw_at), if frames.dirty() => Vec::new(),
            _ = tokio::time::sleep_until(watch_at) => {
                next_watch = Instant::now() + Duration::from_secs(1);
                // Paths can appear (a sample saved to a file); watch whatever the app names now.
                for p in [app.flow_path.clone(), app.strategy_path.clone()].into_iter().flatten() {
                    if !watched.iter().any(|(w, _)| *w == p) {
                        let m = mtime(&p);
                        watched.push((p, m));
                    }
                }
                let mut cmds = Vec::new();
                for (p, seen) in watched.iter_mut() {
                    let now_m = mtime(p);
                    if now_m != *seen {
                        *seen = now_m;
                        cmds.extend(app.update(Msg::file_changed(p.clone())));
                        frames.changed();
                    }
                }
                cmds
            },
        };
        let mut pending: Vec<Command> = Vec::new();
        let mut queue: std::collections::VecDeque<Command> = cmds.into();
        while let Some(c) = queue.pop_front().or_else(|| {
            let p = std::mem::take(&mut pending);
            queue.extend(p);
            queue.pop_front()
        }) {
            match c {
                Command::Quit => app.quit = true,
                c @ (Command::Write { .. }
                | Command::LoadNextStrategy { .. }
                | Command::Reprice { .. }
                | Command::Copy { .. }
                | Command::ListRuns
                | Command::OpenRecording(_)) => {
                    if let Command::Copy { text, .. } = &c {
                        // Straight to the terminal, between frames: the clipboard request.
                        let w = terminal.backend_mut();
                        let _ = w.write_all(effects::osc52(text).as_bytes()).and_then(|()| w.flush());
                    }
                    if let Some(msg) = effects::perform(&c) {
                        pending.extend(app.update(msg));
                    }
                    frames.changed();
                }
                Command::Optimize(cfg, id) => {
                    if let Some(c) = optimizing.take() {
                        c.cancel();
                    }
                    let token = CancellationToken::new();
                    optimizing = Some(token.clone());
                    search_thread::spawn(*cfg, id, providers.clone(), token, otx.clone());
                }
                Command::StopOptimize => {
                    if let Some(c) = optimizing.take() {
                        c.cancel();
                    }
                }
                Command::Cancel => {
                    // Cancelled runs still finish their recordings; keep them to wait for.
                    stopping.retain(|r| !r.is_finished());
                    for r in running.take().into_iter().chain(others_running.drain(..)) {
                        r.cancel.cancel();
                        stopping.push(r);
                    }
                }
                Command::EditFile(path) => {
                    // Hand the terminal to the editor, then take it back.
                    // Stop reading stdin first: the editor owns the terminal until it exits.
                    input.pause();
                    screen::restore_terminal();
                    let editor = std::env::var("VISUAL").or_else(|_| std::env::var("EDITOR")).unwrap_or_else(|_| "vi".to_string());
                    let status = std::process::Command::new("sh").arg("-c").arg(format!("{editor} \"$1\"")).arg("sh").arg(&path).status();
                    enable_raw_mode()?;
                    // Clear without `Terminal::clear`, which asks the terminal where the
                    // cursor is and fails when the answer is late; then draw one blank frame
                    // so the next frame rewrites every cell.
                    execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture, Clear(ClearType::All))?;
                    terminal.draw(|f| f.render_widget(ratatui::widgets::Clear, f.area()))?;
                    input.resume();
                    match status {
                        Ok(s) if s.success() => {
                            let more = app.update(Msg::file_changed(path.clone()));
                            if let Some((_, seen)) = watched.iter_mut().find(|(w, _)| *w == path) {
                                *seen = mtime(&path);
                            }
                            pending.extend(more);
                        }
                        Ok(s) => app.message = Some(format!("{editor} exited with {s}; nothing reloaded")),
                        Err(e) => app.message = Some(format!("cannot start {editor}: {e} (set $EDITOR)")),
                    }
                    frames.changed();
                }
                Command::Start(spec, parent) => {
                    if spec.run_id != app.player.state.run_id {
                        // Another side of a comparison.
                        others_running.push(start_run(*spec, providers.clone(), tx.clone(), parent));
                        continue;
                    }
                    if let Some(r) = running.take() {
                        r.cancel.cancel();
                        stopping.push(r);
                    }
                    let r = start_run(*spec, providers.clone(), tx.clone(), parent);
                    app.recording = r.path.clone();
                    running = Some(r);
                }
            }
        }
    }
    // Quitting loses nothing: every run in flight is cancelled and its recording flushed
    // before the terminal is handed back. A search is only cancelled: it records nothing.
    if let Some(c) = optimizing {
        c.cancel();
    }
    for r in running.into_iter().chain(others_running).chain(stopping) {
        r.stop_and_flush().await;
    }
    Ok(exit_code)
}
