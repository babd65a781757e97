//! The run picker (`ctrl-o`): the history's runs newest first with flow, strategy, source,
//! status, cost, tokens, wall and date; `/` filters; Enter replays the recording in the same
//! screens; an unreadable recording is listed as such and is not opened. Recordings are made by
//! the binary in a directory of this test's own; the list is read with `history::list` as the
//! effect does (the effect reads the data directory, which a test cannot point elsewhere
//! in-process).

mod common;

use std::path::{Path, PathBuf};

use baton::history::{Filter, list};
use baton::tui::app::{Command, Msg};
use common::screen::*;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

fn baton(args: &[&str], data: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("BATON_CONFIG_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-config"))
        .env("BATON_DATA_DIR", data)
        .output()
        .expect("runs")
}

/// A runs directory with a smart and a naive recording of the research assistant, a code
/// review, and a file that is not a recording.
fn history() -> PathBuf {
    let data = Path::new(env!("CARGO_TARGET_TMPDIR")).join("picker-data");
    let _ = std::fs::remove_dir_all(&data);
    let runs = data.join("runs");
    std::fs::create_dir_all(&runs).expect("dir");
    for (flow, s, name) in
        [("research-assistant", "naive", "a.jsonl"), ("code-review", "smart", "b.jsonl"), ("research-assistant", "smart", "c.jsonl")]
    {
        let f = runs.join(name);
        let out = baton(&["run", flow, "-s", s, "--record", f.to_str().expect("utf8")], &data);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        // Distinct start times: the list is newest first.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::fs::write(runs.join("broken.jsonl"), "this is not a recording\n").expect("write");
    runs
}

fn ctrl(c: char) -> Msg {
    Msg::Term(Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)))
}

#[test]
fn ctrl_o_lists_the_runs_filters_and_replays_the_chosen_one() {
    let runs = history();
    let mut app = finished((160, 48));
    let cmds = app.update(ctrl('o'));
    assert!(matches!(cmds.as_slice(), [Command::ListRuns]), "ctrl-o asks for the list");
    assert!(text(&render(&app)).contains("reading the history"));
    let listing = list(&Filter { dir: Some(runs.clone()), ..Filter::default() }).expect("lists");
    assert_eq!(listing.runs.len(), 4, "{:?}", listing.runs);
    app.update(Msg::RunsListed(Ok((listing.dir.clone(), listing.runs.clone()))));
    let t = text(&render(&app));
    for col in ["started (UTC)", "flow", "strategy", "source", "status", "cost", "tokens", "wall"] {
        assert!(t.contains(col), "{col}: {t}");
    }
    assert!(t.contains("Runs — 4 of 4 · newest first"), "{t}");
    assert!(t.contains("(unreadable)"), "the broken file is listed: {t}");
    let readable: Vec<_> = listing.runs.iter().filter(|e| e.error.is_none()).collect();
    for e in &readable {
        assert!(t.contains(&e.cost_text()) && t.contains(&e.tokens().to_string()), "{e:?}: {t}");
    }
    // The footer names the picker's keys.
    let footer = t.lines().last().unwrap_or_default().to_string();
    assert!(footer.contains("/ search") && footer.contains("esc back"), "{footer}");

    // `/` filters as you type: every word must match.
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "research naive");
    let shown: Vec<String> = app.runs.as_ref().expect("open").shown().iter().map(|e| e.path.clone()).collect();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(shown[0].ends_with("a.jsonl"));
    let t = text(&render(&app));
    assert!(t.contains("/research naive") && t.contains("Runs — 1 of 4"), "{t}");
    key(&mut app, KeyCode::Enter);
    // Enter replays it: the screen becomes the replay of that recording.
    let cmds = key(&mut app, KeyCode::Enter);
    let Some(Command::OpenRecording(path)) = cmds.first() else { panic!("Enter opens the recording: {:?}", app.message) };
    assert!(path.ends_with("a.jsonl"));
    let msg = baton::tui::effects::perform(&cmds[0]).expect("a message");
    let cmds = app.update(msg);
    assert!(matches!(cmds.as_slice(), [Command::Cancel]), "the run on screen is left");
    assert!(app.runs.is_none());
    assert!(app.replay.is_some());
    assert_eq!(app.strategy.name, "naive");
    assert_eq!(app.flow.name, "research-assistant");
    app.player.finish();
    let t = text(&render(&app));
    assert!(t.contains("naive"), "{t}");
    assert_eq!(
        app.player.state.totals.cost.total().to_string(),
        readable.iter().find(|e| e.path.ends_with("a.jsonl")).expect("a").cost_text()
    );
    // Late events of the run that was on screen do not reach the replay.
    let before = app.player.events.len();
    let s = common::spec(common::sample_flow("research-assistant"), common::sample_strategy("smart"), 1);
    app.update(Msg::Run(common::sim(&s).0));
    assert_eq!(app.player.events.len(), before);
}

#[test]
fn an_unreadable_recording_says_why_and_esc_clears_the_filter_then_closes() {
    let mut app = finished((80, 24));
    app.update(ctrl('o'));
    let broken = baton::history::RunEntry {
        path: "/tmp/x/broken.jsonl".into(),
        error: Some("line 1: not a recording".into()),
        flow: String::new(),
        strategy: String::new(),
        source: String::new(),
        relation: None,
        status: "unreadable".into(),
        cost: baton::money::Money::ZERO,
        unpriced_calls: 0,
        uncounted_calls: 0,
        input_tokens: 0,
        output_tokens: 0,
        cached_tokens: 0,
        wall_ms: 0,
        started_unix_ms: 0,
        nodes: 0,
    };
    app.update(Msg::RunsListed(Ok((PathBuf::from("/tmp/x"), vec![broken]))));
    let t = text(&render(&app));
    assert!(t.contains("(unreadable)") && t.contains("not a recording"), "{t}");
    assert!(key(&mut app, KeyCode::Enter).is_empty(), "nothing to open");
    assert!(app.message.as_deref().unwrap_or_default().contains("cannot be read"));
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "zzz");
    key(&mut app, KeyCode::Enter);
    assert!(text(&render(&app)).contains("nothing matches 'zzz'"));
    key(&mut app, KeyCode::Esc);
    assert!(app.runs.as_ref().is_some_and(|p| p.filter.is_empty()), "esc clears the filter first");
    key(&mut app, KeyCode::Esc);
    assert!(app.runs.is_none(), "then closes");
    // An empty history says where it looked.
    app.update(ctrl('o'));
    app.update(Msg::RunsListed(Ok((PathBuf::from("/tmp/none/runs"), Vec::new()))));
    assert!(text(&render(&app)).contains("no runs recorded in /tmp/none/runs"));
}

/// A recording cut before its run finished (a kill, a crash): replayed to its end, the header
/// says interrupted, as `baton runs` does, and the clock stops at its last event.
#[test]
fn a_recording_cut_short_replays_as_interrupted_and_its_clock_stops() {
    let data = Path::new(env!("CARGO_TARGET_TMPDIR")).join("picker-cut");
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).expect("dir");
    let f = data.join("cut.jsonl");
    let out = baton(&["run", "research-assistant", "-s", "smart", "--record", f.to_str().expect("utf8")], &data);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Drop the last line, the run's end.
    let text_of = std::fs::read_to_string(&f).expect("reads");
    let mut lines: Vec<&str> = text_of.lines().collect();
    assert!(lines.pop().is_some_and(|l| l.contains("\"run_finished\"")), "the last line ends the run");
    std::fs::write(&f, lines.join("\n") + "\n").expect("writes");
    let rec = baton::record::Recording::open(&f).expect("opens");
    let mut app = finished((160, 48));
    app.update(Msg::RecordingOpened(Box::new(Ok(std::sync::Arc::new(rec)))));
    assert!(app.replay.is_some());
    app.player.finish();
    let t = text(&render(&app));
    let head = t.lines().next().unwrap_or_default().to_string();
    assert!(head.contains("interrupted") && !head.contains("running"), "{head}");
    assert!(!app.player.wants_ticks(), "nothing more will come: the clock stops");
}
