//! Carrying out the commands that touch files: writing, loading the next strategy, re-pricing
//! a recording. The loop calls [`perform`] and feeds the message back to `App::update`; tests
//! do the same, so what the screen does to the disk is tested through the same path.

use std::path::Path;

use super::app::{Command, Msg};

/// Does a file-touching command and returns the message that reports it; `None` for the
/// commands the loop handles itself (runs, $EDITOR, quit).
pub fn perform(cmd: &Command) -> Option<Msg> {
    match cmd {
        Command::Write { path, text, then } => Some(Msg::Wrote {
            path: path.clone(),
            then: then.clone(),
            result: crate::load::write_atomically(path, text.as_bytes()).map_err(|e| e.to_string()),
        }),
        Command::LoadNextStrategy { current, flow_path, catalog } => {
            let source = flow_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            let names = strategy_choices(&source);
            let i = names.iter().position(|n| n == current).map_or(0, |i| (i + 1) % names.len().max(1));
            let name = names.get(i)?.clone();
            let dir = flow_path.as_deref().and_then(Path::parent);
            Some(Msg::StrategyLoaded(match crate::load::load_strategy(&name, dir, catalog) {
                Ok((s, origin, _)) => Ok((s, origin.path().map(Path::to_path_buf), name)),
                Err(d) => Err(format!("strategy {name}: {}", d.first().map(|x| x.to_string()).unwrap_or_default())),
            }))
        }
        Command::Reprice { recording, after } => {
            let names = strategy_choices(&recording.header.flow.source);
            let recorded = recording.strategy.name.clone();
            let mut next = after.map_or(0, |i| (i + 1) % names.len().max(1));
            // Pricing the run under its own strategy tells nothing new.
            if names.get(next) == Some(&recorded) && names.len() > 1 {
                next = (next + 1) % names.len();
            }
            let name = names.get(next)?.clone();
            let dir = Path::new(&recording.header.flow.source).parent();
            Some(Msg::Repriced(Box::new(match crate::load::load_strategy(&name, dir, &recording.catalog) {
                // Re-pricing drives the engine on virtual time, which would block a worker of
                // the screen's runtime: give it a thread.
                Ok((strategy, _, _)) => std::thread::scope(|s| {
                    s.spawn(|| crate::record::reprice::reprice(recording, strategy, recording.catalog.clone())).join()
                })
                .unwrap_or_else(|_| Err(std::io::Error::other("the re-pricing thread panicked")))
                .map(|(report, _)| (report, next))
                .map_err(|e| e.to_string()),
                Err(d) => Err(format!("strategy {name}: {}", d.first().map(|x| x.message.clone()).unwrap_or_default())),
            })))
        }
        Command::Copy { what, text, file } => {
            let file = file.clone().ok_or_else(|| "no data directory (set BATON_DATA_DIR)".to_string()).and_then(|p| {
                if let Some(dir) = p.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
                }
                crate::load::write_atomically(&p, text.as_bytes()).map(|()| p).map_err(|e| e.to_string())
            });
            Some(Msg::Copied { what: what.clone(), chars: text.chars().count(), file })
        }
        // The run picker's list, from the history index (brought up to date first).
        Command::ListRuns => Some(Msg::RunsListed(
            crate::history::list(&crate::history::Filter::default()).map(|l| (l.dir, l.runs)).map_err(|e| e.to_string()),
        )),
        Command::OpenRecording(path) => Some(Msg::RecordingOpened(Box::new(
            crate::record::Recording::open(path).map(std::sync::Arc::new).map_err(|e| format!("{}: {e}", path.display())),
        ))),
        Command::Start(..) | Command::EditFile(_) | Command::Optimize(..) | Command::StopOptimize | Command::Cancel | Command::Quit => None,
    }
}

/// Strategies to try next: those in `strategies/` next to the flow, then the samples.
pub fn strategy_choices(flow_source: &str) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(dir) = Path::new(flow_source).parent().map(|d| d.join("strategies"))
        && let Ok(rd) = std::fs::read_dir(dir)
    {
        let mut found: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().to_string()))
            .collect();
        found.sort();
        names.extend(found);
    }
    for (n, _) in crate::load::SAMPLE_STRATEGIES {
        if !names.iter().any(|x| x == n) {
            names.push(n.to_string());
        }
    }
    names
}

/// The OSC 52 sequence that asks the terminal to put `text` on the system clipboard (tmux
/// forwards it when `set-clipboard` is on; a terminal that refuses ignores it).
pub fn osc52(text: &str) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::from("\x1b]52;c;");
    for chunk in text.as_bytes().chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out.push('\x07');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn osc52_is_base64_in_the_clipboard_sequence() {
        assert_eq!(super::osc52(""), "\x1b]52;c;\x07");
        assert_eq!(super::osc52("f"), "\x1b]52;c;Zg==\x07");
        assert_eq!(super::osc52("fo"), "\x1b]52;c;Zm8=\x07");
        assert_eq!(super::osc52("foo"), "\x1b]52;c;Zm9v\x07");
        assert_eq!(super::osc52("foobar"), "\x1b]52;c;Zm9vYmFy\x07");
        assert_eq!(super::osc52("é"), "\x1b]52;c;w6k=\x07");
    }
}
