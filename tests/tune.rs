//! Interactive tuning through the app's update function: edit the rules, preview, apply, rerun
//! downstream, and see exactly which nodes ran and which came from the cache.

mod common;

use baton::provider::Providers;
use baton::state::Status;
use baton::tui::app::{App, Command, Msg};
use baton::tui::keymap::Keymap;
use baton::tui::layout::BoxKey;
use baton::tui::theme::Theme;
use common::*;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

fn key(app: &mut App, code: KeyCode, mods: KeyModifiers) -> Vec<Command> {
    app.update(Msg::Term(Event::Key(KeyEvent::new(code, mods))))
}

/// Carries out commands the way the screen's loop does: run a spec and feed its events; do
/// the file effects through `effects::perform` and feed back what they report.
fn carry_out(app: &mut App, cmds: Vec<Command>) {
    let mut queue: std::collections::VecDeque<Command> = cmds.into();
    while let Some(c) = queue.pop_front() {
        if let Command::Start(spec, _) = &c {
            let (events, _) = run(spec, &Providers::simulated());
            app.update(Msg::Run(events));
            app.player.finish();
        } else if let Some(msg) = baton::tui::effects::perform(&c) {
            queue.extend(app.update(msg));
        }
    }
}

fn status(app: &App, label: &str) -> Status {
    app.state().units.iter().find(|u| u.label == label).unwrap_or_else(|| panic!("no {label}")).status
}

#[test]
fn route_search_to_premium_rerun_downstream_then_revert() {
    let s = spec(sample_flow("research-assistant"), sample_strategy("smart"), 1);
    let mut app = App::new(&s, Theme::dark(), Keymap::default_map(), 1.0, true);
    app.update(Msg::Term(Event::Resize(160, 48)));
    // The first run fills the session cache.
    let first = vec![Command::Start(Box::new(app.spec()), None)];
    carry_out(&mut app, first);
    let first_cost = app.state().totals.cost.total();
    assert_eq!(app.state().totals.done, 7);

    // Open the rules editor and route search to the premium model.
    key(&mut app, KeyCode::Char('E'), KeyModifiers::SHIFT);
    assert!(app.editor_open);
    let original = app.editor.as_ref().expect("editor").text();
    let edited = original.replacen(
        "kind = [\"search\", \"extract\"]\nmodel = \"gemini-2.5-flash-lite\"",
        "kind = [\"search\", \"extract\"]\nmodel = \"claude-opus-4-1\"",
        1,
    );
    assert_ne!(edited, original, "the sample's search rule was found");
    let catalog = app.catalog.clone();
    app.editor.as_mut().expect("editor").set_text(&edited, &catalog);
    assert!(app.editor.as_ref().expect("editor").error.is_none());

    // Preview: names the affected nodes and a cost rise.
    key(&mut app, KeyCode::Char('r'), KeyModifiers::CONTROL);
    let preview = app.editor.as_ref().and_then(|e| e.preview.clone()).expect("preview shown");
    let changed: Vec<&str> = preview.changes.iter().map(|c| c.unit.as_str()).collect();
    assert!(changed.contains(&"searcher[0]") && changed.contains(&"citations"), "{changed:?}");
    assert!(preview.changes.iter().all(|c| c.to == "claude-opus-4-1"));
    assert!(preview.cost_after > preview.cost_before, "premium search costs more");
    key(&mut app, KeyCode::Char('y'), KeyModifiers::NONE);
    assert!(!app.editor_open);
    assert_eq!(app.strategy.rules[2].model, "claude-opus-4-1");

    // Rerun downstream of the planner.
    app.selected = BoxKey::Node(0);
    let cmds = key(&mut app, KeyCode::Char('r'), KeyModifiers::NONE);
    assert!(cmds.iter().any(|c| matches!(c, Command::Start(s, _) if s.attempt == 2)));
    carry_out(&mut app, cmds);
    assert_eq!(status(&app, "planner"), Status::Cached, "the planner's key is unchanged");
    for l in ["searcher[0]", "searcher[1]", "searcher[2]", "analyzer", "citations", "synthesizer"] {
        assert_eq!(status(&app, l), Status::Done, "{l} reran");
    }
    assert_eq!(app.state().units[0].cost.total(), baton::money::Money::ZERO);
    let rerun_cost = app.state().totals.cost.total();
    assert!(rerun_cost > first_cost, "premium searchers cost more: {rerun_cost} vs {first_cost}");
    assert_eq!(app.previous.as_ref().map(|p| p.attempt), Some(1), "deltas are against attempt 1");
    let unit = app.state().units.iter().find(|u| u.label == "searcher[0]").expect("searcher");
    assert_eq!(unit.model.as_deref(), Some("claude-opus-4-1"));

    // Revert the edit; a second rerun is served entirely from the cache.
    key(&mut app, KeyCode::Char('E'), KeyModifiers::SHIFT);
    app.editor.as_mut().expect("editor").set_text(&original, &catalog);
    key(&mut app, KeyCode::Char('r'), KeyModifiers::CONTROL);
    key(&mut app, KeyCode::Char('y'), KeyModifiers::NONE);
    let cmds = key(&mut app, KeyCode::Char('r'), KeyModifiers::NONE);
    carry_out(&mut app, cmds);
    let st = app.state();
    assert_eq!(st.attempt, 3);
    assert_eq!(st.totals.cached, 7, "every node came from the cache");
    assert_eq!(st.totals.done, 0);
    assert_eq!(st.totals.cost.total(), baton::money::Money::ZERO);
    assert_eq!(st.totals.saved, first_cost, "what the cache saved is the first run's cost");
}

#[test]
fn a_bad_edit_never_replaces_the_working_strategy() {
    let s = spec(sample_flow("research-assistant"), sample_strategy("smart"), 1);
    let mut app = App::new(&s, Theme::dark(), Keymap::default_map(), 1.0, true);
    app.update(Msg::Term(Event::Resize(120, 40)));
    key(&mut app, KeyCode::Char('E'), KeyModifiers::SHIFT);
    let catalog = app.catalog.clone();
    let text = app.editor.as_ref().expect("editor").text().replacen("claude-opus-4-1", "claude-opus-41", 1);
    app.editor.as_mut().expect("editor").set_text(&text, &catalog);
    let err = app.editor.as_ref().and_then(|e| e.error.clone()).expect("an error");
    assert!(err.message.contains("unknown model 'claude-opus-41'"), "{}", err.message);
    assert!(err.line > 0);
    key(&mut app, KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert!(app.editor.as_ref().is_some_and(|e| e.preview.is_none()));
    assert_eq!(app.strategy.rules[0].model, "claude-opus-4-1", "the working strategy is unchanged");
    // Typing goes into the editor, not to the app's keys.
    key(&mut app, KeyCode::Char('q'), KeyModifiers::NONE);
    assert!(!app.quit);
    assert!(app.editor.as_ref().expect("editor").text().contains('q'));
    // Closing keeps the draft.
    key(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    assert!(!app.editor_open);
    key(&mut app, KeyCode::Char('E'), KeyModifiers::SHIFT);
    assert!(app.editor.as_ref().expect("editor").text().contains("claude-opus-41"));
}

#[test]
fn pin_and_save_keep_the_file_and_its_comments() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tune-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("smart.toml");
    let original = baton::load::SAMPLE_STRATEGIES.iter().find(|(n, _)| *n == "smart").expect("smart").1;
    std::fs::write(&path, original).expect("write");
    let (strategy, _, _) =
        baton::load::load_strategy(path.to_str().expect("utf8"), None, &baton::routing::Catalog::builtin()).expect("loads");
    let s = spec(sample_flow("research-assistant"), strategy, 1);
    let mut app = App::new(&s, Theme::dark(), Keymap::default_map(), 1.0, true);
    app.strategy_path = Some(path.clone());
    app.update(Msg::Term(Event::Resize(120, 40)));
    let first = vec![Command::Start(Box::new(app.spec()), None)];
    carry_out(&mut app, first);
    app.selected = BoxKey::Node(2);
    key(&mut app, KeyCode::Char('p'), KeyModifiers::NONE);
    assert!(app.picker.is_some());
    app.picker = app.catalog.index_of("gpt-5-nano");
    let cmds = key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    // The pin is applied at once; writing the file is the loop's job.
    assert!(matches!(cmds.as_slice(), [Command::Write { path: p, .. }] if *p == path), "a write of the strategy file");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), original, "update itself writes nothing");
    carry_out(&mut app, cmds);
    assert_eq!(app.strategy.rules[0].model, "gpt-5-nano");
    let preview = app.preview.clone().expect("a preview of the pin");
    assert_eq!(preview.changes.len(), 1);
    assert_eq!(preview.changes[0].unit, "analyzer");
    let saved = std::fs::read_to_string(&path).expect("saved");
    assert!(saved.contains("pin analyzer") && saved.contains("# The seed's routing"), "comments kept:\n{saved}");

    // A file that cannot be written is reported and the edit stays in the editor.
    let ro = dir.join("no-such-dir").join("x.toml");
    app.strategy_path = Some(ro);
    key(&mut app, KeyCode::Char('E'), KeyModifiers::SHIFT);
    let cmds = key(&mut app, KeyCode::Char('s'), KeyModifiers::CONTROL);
    carry_out(&mut app, cmds);
    assert!(app.message.as_deref().is_some_and(|m| m.contains("cannot save") && m.contains("stays in the editor")), "{:?}", app.message);
    assert!(app.editor.as_ref().expect("editor").text().contains("pin analyzer"));
}

#[test]
fn an_invalid_file_on_disk_keeps_the_last_valid_strategy() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("watch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("s.toml");
    std::fs::write(&path, "[strategy]\nname = \"s\"\ndefault_model = \"gpt-5-nano\"\n").expect("write");
    let (strategy, _, _) =
        baton::load::load_strategy(path.to_str().expect("utf8"), None, &baton::routing::Catalog::builtin()).expect("loads");
    let s = spec(sample_flow("research-assistant"), strategy, 1);
    let mut app = App::new(&s, Theme::dark(), Keymap::default_map(), 1.0, true);
    app.strategy_path = Some(path.clone());
    std::fs::write(&path, "[strategy]\nname = \"s\"\ndefault_model = \"gpt-5-nanoo\"\n").expect("write");
    app.update(Msg::file_changed(path.clone()));
    assert_eq!(app.strategy.default_model, "gpt-5-nano");
    let m = app.message.clone().unwrap_or_default();
    assert!(m.contains("s.toml:3:17") && m.contains("unknown model 'gpt-5-nanoo'") && m.contains("last valid"), "{m}");
    std::fs::write(&path, "[strategy]\nname = \"s\"\ndefault_model = \"claude-haiku-4-5\"\n").expect("write");
    app.update(Msg::file_changed(path));
    assert_eq!(app.strategy.default_model, "claude-haiku-4-5");
}

/// The screen's update function does no I/O: every key that would touch the disk, load a
/// strategy, re-price or open an editor comes back as a command, and nothing on disk changed.
#[test]
fn update_performs_no_io_it_returns_effects() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pure-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let cwd_sample = std::path::Path::new("smart.toml");
    let existed = cwd_sample.exists();
    let s = spec(sample_flow("research-assistant"), sample_strategy("smart"), 1);
    let mut app = App::new(&s, Theme::dark(), Keymap::default_map(), 1.0, true);
    app.update(Msg::Term(Event::Resize(120, 40)));
    let first = vec![Command::Start(Box::new(app.spec()), None)];
    carry_out(&mut app, first);

    // o on a built-in sample: write it out first, then $EDITOR.
    let cmds = key(&mut app, KeyCode::Char('o'), KeyModifiers::NONE);
    assert!(matches!(cmds.as_slice(), [Command::Write { then: baton::tui::app::Written::ThenEdit { flow: false }, .. }]), "{}", cmds.len());
    assert_eq!(cwd_sample.exists(), existed, "nothing written by update");
    // The write's report asks for the editor.
    let after =
        app.update(Msg::Wrote { path: dir.join("smart.toml"), then: baton::tui::app::Written::ThenEdit { flow: false }, result: Ok(()) });
    assert!(matches!(after.as_slice(), [Command::EditFile(p)] if *p == dir.join("smart.toml")));

    // S: the next strategy is loaded by the loop.
    let cmds = key(&mut app, KeyCode::Char('S'), KeyModifiers::SHIFT);
    assert!(matches!(cmds.as_slice(), [Command::LoadNextStrategy { current, .. }] if current == "smart"));
    let before = app.strategy.name.clone();
    let msg = baton::tui::effects::perform(&cmds[0]).expect("a strategy message");
    assert_eq!(app.strategy.name, before, "nothing applied until the message comes back");
    app.update(msg);
    assert_ne!(app.strategy.name, before);

    // ctrl-s in the editor: a write, not a file.
    key(&mut app, KeyCode::Char('E'), KeyModifiers::SHIFT);
    let target = std::path::PathBuf::from(format!("{}.toml", app.strategy.name));
    let existed = target.exists();
    let cmds = key(&mut app, KeyCode::Char('s'), KeyModifiers::CONTROL);
    assert!(
        matches!(cmds.as_slice(), [Command::Write { path, then: baton::tui::app::Written::SavedStrategy { sample: true }, .. }] if *path == target)
    );
    assert_eq!(target.exists(), existed, "update wrote {}", target.display());
}

/// Switching strategy does not relabel the run on the screen: its figures and its routing
/// explanations stay those of the strategy it ran under, and the header says the new one has
/// not run yet, until a rerun does.
#[test]
fn a_switched_strategy_is_marked_not_run_until_rerun() {
    let s = spec(sample_flow("research-assistant"), sample_strategy("smart"), 1);
    let mut app = App::new(&s, Theme::dark(), Keymap::default_map(), 1.0, true);
    app.update(Msg::Term(Event::Resize(200, 48)));
    let first = vec![Command::Start(Box::new(app.spec()), None)];
    carry_out(&mut app, first);
    let cmds = key(&mut app, KeyCode::Char('S'), KeyModifiers::SHIFT);
    carry_out(&mut app, cmds);
    assert_ne!(app.strategy.name, "smart");
    assert_eq!(app.state().strategy.name, "smart", "the run shown is still smart's");
    let header_at = |app: &mut App, w: u16| {
        app.update(Msg::Term(Event::Resize(w, 48)));
        let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, 48)).expect("terminal");
        term.draw(|f| baton::tui::draw::draw(f, app)).expect("draw");
        let buf = term.backend().buffer().clone();
        (0..buf.area.width).map(|x| buf[(x, 0)].symbol().to_string()).collect::<String>()
    };
    // On a narrow line the mark shortens rather than going (it went whole before, and the node
    // counts with it), and the figures it qualifies stay.
    let narrow = header_at(&mut app, 80);
    assert!(narrow.contains("smart → ") && narrow.contains(" not run") && narrow.contains(" │ $"), "{narrow}");
    let h = header_at(&mut app, 200);
    assert!(h.contains("smart") && h.contains("applied, not run"), "{h}");
    // Beside it, what this attempt would have cost under the new strategy, labelled a what-if.
    let projected = baton::tuning::preview(&app.player.final_state(), &app.strategy).cost_after;
    assert_eq!(app.projection, Some(projected));
    assert!(h.contains(&format!("what-if {projected} · R reruns")), "{h}");
    assert_ne!(projected, app.state().totals.cost.total(), "the new strategy routes differently, so the projection differs");
    let cmds = key(&mut app, KeyCode::Char('R'), KeyModifiers::SHIFT);
    carry_out(&mut app, cmds);
    let h = header_at(&mut app, 200);
    assert!(!h.contains("applied, not run") && h.contains(&app.strategy.name), "{h}");
}
