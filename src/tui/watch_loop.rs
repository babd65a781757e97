//! The loop behind `baton watch`'s screen: the watch service (receivers, assembler, recorder)
//! runs as a task and reports every trace, live snapshots included; terminal input and a frame
//! clock come in as for `baton run`'s screen. Quitting stops the service, which closes and
//! records every trace still open before the terminal is handed back.

use std::io::{self, Write};
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::app::Command;
use super::keymap::Keymap;
use super::theme::Theme;
use super::traces::{WatchMsg, Watching};
use crate::watch::service::{Report, WatchConfig, serve};

/// How the screen ended.
#[derive(Debug, Default)]
pub struct Outcome {
    /// 0, or 1 when a trace could not be converted, or 128 + the signal that ended it.
    pub code: u8,
    /// The receivers could not start (an address in use, say).
    pub serve_error: Option<String>,
    /// Runs recorded, and recordings that failed (with why).
    pub recorded: Vec<std::path::PathBuf>,
    pub not_recorded: Vec<String>,
}

impl Outcome {
    fn note(&mut self, r: &Report) {
        match r {
            Report::Finished(f) => match &f.recording {
                Some(Ok(p)) => self.recorded.push(p.clone()),
                Some(Err(e)) => self.not_recorded.push(e.clone()),
                None => {}
            },
            Report::Failed { .. } => self.code = 1,
            _ => {}
        }
    }
}

/// Runs the screen until the user quits or a signal ends it; the terminal is restored on every
/// way out, a panic included.
pub fn run(cfg: WatchConfig, theme: Theme, keymap: Keymap) -> io::Result<Outcome> {
    super::screen::on_terminal(async |terminal| event_loop(terminal, cfg, theme, keymap).await)
}

async fn event_loop<W: Write>(
    terminal: &mut Terminal<CrosstermBackend<W>>,
    cfg: WatchConfig,
    theme: Theme,
    keymap: Keymap,
) -> io::Result<Outcome> {
    let mut w = Watching::new(theme, keymap);
    let size = terminal.size()?;
    w.size = (size.width, size.height);
    w.clip_file = crate::load::data_dir().map(|d| d.join("clipboard.txt"));
    let shutdown = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel::<Report>(256);
    let mut server = tokio::spawn(serve(cfg, true, tx, shutdown.clone()));
    let mut server_done = false;
    let mut input = super::input::Input::start();
    let mut term_sig = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hup_sig = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut out = Outcome::default();
    let mut frames = super::screen::Frames::new();
    loop {
        let now = Instant::now();
        if frames.due(now) {
            terminal.draw(|f| super::traces_view::draw(f, &w))?;
            if let Some(app) = &mut w.open {
                app.scroll_max = super::draw::scroll_limits(app);
            }
        }
        if w.quit {
            break;
        }
        let (tick_at, draw_at) = frames.plan(w.wants_ticks(), now);
        let cmds = tokio::select! {
            biased;
            _ = term_sig.recv() => {
                out.code = 128 + 15;
                break;
            },
            _ = hup_sig.recv() => {
                out.code = 128 + 1;
                break;
            },
            ev = input.rx.recv() => match ev {
                Some(Ok(e)) => {
                    frames.changed();
                    w.update(WatchMsg::Term(e))
                }
                Some(Err(e)) => {
                    shutdown.cancel();
                    return Err(e);
                }
                None => break,
            },
            Some(r) = rx.recv() => {
                out.note(&r);
                w.update(WatchMsg::Report(r));
                while let Ok(more) = rx.try_recv() {
                    out.note(&more);
                    w.update(WatchMsg::Report(more));
                }
                frames.changed();
                Vec::new()
            },
            done = &mut server, if !server_done => {
                server_done = true;
                out.serve_error = Some(match done {
                    Ok(Ok(())) => "the receivers stopped".to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => format!("the receiver stopped: {e}"),
                });
                break;
            },
            _ = tokio::time::sleep_until(tick_at), if frames.ticking() => {
                let since = frames.tick();
                w.update(WatchMsg::Tick(since))
            },
            _ = tokio::time::sleep_until(draw_at), if frames.dirty() => Vec::new(),
        };
        for c in cmds {
            match c {
                Command::Quit => w.quit = true,
                c @ Command::Copy { .. } => {
                    if let Command::Copy { text, .. } = &c {
                        let b = terminal.backend_mut();
                        let _ = b.write_all(super::effects::osc52(text).as_bytes()).and_then(|()| b.flush());
                    }
                    if let (Some(msg), Some(app)) = (super::effects::perform(&c), &mut w.open) {
                        app.update(msg);
                    }
                    frames.changed();
                }
                _ => {}
            }
        }
    }
    // The service closes and records every trace still open as it stops; wait for it (a few
    // seconds at most) so quitting never leaves a recording cut short.
    shutdown.cancel();
    if !server_done {
        let drain = async {
            while let Some(r) = rx.recv().await {
                out.note(&r);
            }
            let _ = server.await;
        };
        if tokio::time::timeout(Duration::from_secs(5), drain).await.is_err() {
            super::log_line("baton watch: the receivers were still closing at exit");
        }
    }
    Ok(out)
}
