//! The live screen rendered into ratatui's TestBackend: whole screens as reviewed snapshots,
//! colours checked cell by cell where they carry meaning, and keys and mouse driven through the
//! app's update function.

mod common;

use std::time::Duration;

use baton::event::Outcome;
use baton::provider::{ErrorKind, Providers};
use baton::state::RunStatus;
use baton::tui::app::{App, Command, Msg, View};
use baton::tui::keymap::Keymap;
use baton::tui::layout::BoxKey;
use baton::tui::theme::Theme;
use common::screen::*;
use common::*;
use crossterm::event::{Event, KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

#[test]
fn finished_run_at_160x48() {
    let app = finished((160, 48));
    insta::assert_snapshot!(text(&render(&app)));
}

#[test]
fn finished_run_at_80x24() {
    let app = finished((80, 24));
    insta::assert_snapshot!(text(&render(&app)));
}

#[test]
fn compact_view_at_40x12() {
    let app = finished((40, 12));
    let t = text(&render(&app));
    assert!(t.contains("Graph (compact)"), "{t}");
    insta::assert_snapshot!(t);
}

#[test]
fn mid_run_shows_streaming_nodes() {
    let mut app = app_with("research-assistant", "smart", 1, &Providers::simulated(), (160, 48));
    app.update(Msg::Tick(Duration::from_millis(4500)));
    assert_eq!(app.state().status, RunStatus::Running);
    let t = text(&render(&app));
    assert!(t.contains("running 4.5s"), "{t}");
    assert!(t.contains("searcher ×3"), "{t}");
    insta::assert_snapshot!(t);
}

#[test]
fn timeline_and_log_views() {
    let mut app = finished((160, 48));
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Timeline);
    insta::assert_snapshot!("timeline_160x48", text(&render(&app)));
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Log);
    let t = text(&render(&app));
    assert!(t.contains("finished: completed"), "{t}");
    insta::assert_snapshot!("log_160x48", t);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Graph);
}

#[test]
fn help_comes_from_the_keymap() {
    let mut app = finished((140, 60));
    key(&mut app, KeyCode::Char('?'));
    let t = text(&render(&app));
    for b in &app.keymap.bindings {
        assert!(t.contains(&b.desc), "help lacks {:?}\n{t}", b.desc);
    }
    key(&mut app, KeyCode::Esc);
    assert!(!app.help);
}

#[test]
fn too_small_says_so_and_no_size_panics() {
    let mut app = finished((20, 5));
    let t = text(&render(&app));
    assert!(t.contains("Baton needs at") && t.contains("20×5"), "{t}");
    for w in [1u16, 2, 10, 39, 40, 41, 59, 60, 79, 80, 109, 110, 111, 140, 160, 220] {
        for h in [1u16, 2, 5, 11, 12, 13, 15, 16, 19, 20, 24, 30, 48, 70] {
            app.update(Msg::Term(Event::Resize(w, h)));
            for v in [View::Graph, View::Timeline, View::Log] {
                app.view = v;
                let _ = render(&app);
            }
        }
    }
}

#[test]
fn totals_match_the_headless_run() {
    let app = finished((160, 48));
    let (_, headless) = sim(&spec(sample_flow("research-assistant"), sample_strategy("smart"), 1));
    assert_eq!(app.state().totals, headless.totals);
    assert_eq!(app.state().wall(), headless.wall());
    let t = text(&render(&app));
    assert!(t.contains(&headless.totals.cost.total().to_string()), "{t}");
}

#[test]
fn status_colours_mean_what_they_say() {
    let script = Script::new();
    for _ in 0..3 {
        script.push("claude-sonnet-4-5", Step::fail(ErrorKind::Auth, "401 unauthorized: set ANTHROPIC_API_KEY"));
        script.push("claude-opus-4-1", Step::fail(ErrorKind::Auth, "401 unauthorized: set ANTHROPIC_API_KEY"));
    }
    // Planner (opus) fails, so everything downstream is skipped.
    let mut app = app_with("research-assistant", "smart", 1, &Providers::only(script), (160, 48));
    app.player.finish();
    app.refresh_layout();
    assert_eq!(app.state().status, RunStatus::Finished(Outcome::Failed));
    let buf = render(&app);
    let (x, y) = find(&buf, "planner").expect("planner box");
    assert_eq!(buf[(x, y)].fg, app.theme.failed, "a failed node's name is in the failed colour");
    let (x, y) = find(&buf, "analyzer").expect("analyzer box");
    assert_eq!(buf[(x, y)].fg, app.theme.skipped);
    let t = text(&render(&app));
    assert!(t.contains("failed"), "{t}");

    let ok = finished((160, 48));
    let buf = render(&ok);
    let (x, y) = find(&buf, "citations").expect("citations");
    assert_eq!(buf[(x, y)].fg, ok.theme.done);
    // The critical path is marked with its own colour.
    let (x, y) = find(&buf, "★analyzer").expect("analyzer on the critical path");
    assert_eq!(buf[(x, y)].fg, ok.theme.critical);
}

#[test]
fn keys_move_between_nodes_by_layer() {
    let mut app = finished((160, 48));
    assert_eq!(app.selected, BoxKey::Node(0));
    key(&mut app, KeyCode::Char('l'));
    assert_eq!(app.selected, BoxKey::Node(1), "planner → searcher");
    key(&mut app, KeyCode::Right);
    let third = app.selected;
    assert!(matches!(third, BoxKey::Node(2) | BoxKey::Node(3)), "{third:?}");
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('k'));
    key(&mut app, KeyCode::Char('j'));
    assert_ne!(app.selected, third, "j moves within the layer");
    key(&mut app, KeyCode::Char('h'));
    assert_eq!(app.selected, BoxKey::Node(1));
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(app.selected, BoxKey::Node(4), "last node is the synthesizer");
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(app.selected, BoxKey::Node(0));
    key(&mut app, KeyCode::Char('c'));
    assert_eq!(app.selected, BoxKey::Node(1), "c walks the critical path");
    key(&mut app, KeyCode::Char('c'));
    assert_eq!(app.selected, BoxKey::Node(2));
}

#[test]
fn fan_out_groups_expand_and_zoom_compacts() {
    let mut app = finished((160, 48));
    key(&mut app, KeyCode::Char('l'));
    key(&mut app, KeyCode::Char('e'));
    assert!(app.layout.index.contains_key(&BoxKey::Instance(1, 2)));
    assert_eq!(app.selected, BoxKey::Instance(1, 0));
    let t = text(&render(&app));
    assert!(t.contains("searcher[2]"), "{t}");
    key(&mut app, KeyCode::Char('e'));
    assert!(!app.layout.index.contains_key(&BoxKey::Instance(1, 0)));
    key(&mut app, KeyCode::Char('z'));
    assert!(app.layout.dims.list);
    assert!(text(&render(&app)).contains("Graph (compact)"));
}

#[test]
fn mouse_click_selects_a_node() {
    let mut app = finished((160, 48));
    let buf = render(&app);
    let (x, y) = find(&buf, "citations").expect("citations box");
    app.update(Msg::Term(Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: x + 2,
        row: y + 1,
        modifiers: KeyModifiers::NONE,
    })));
    assert_eq!(app.selected, BoxKey::Node(3));
}

#[test]
fn start_stop_speed_and_quit() {
    let mut app = app_with("research-assistant", "smart", 1, &Providers::simulated(), (120, 40));
    key(&mut app, KeyCode::Char('+'));
    assert_eq!(app.player.speed, 2.0);
    key(&mut app, KeyCode::Char('-'));
    key(&mut app, KeyCode::Char('-'));
    assert_eq!(app.player.speed, 0.5);
    app.update(Msg::Tick(Duration::from_secs(4)));
    // Stopping mid-run ends it as cancelled at the playhead.
    let cmds = key(&mut app, KeyCode::Char('s'));
    assert!(matches!(cmds.as_slice(), [Command::Cancel]));
    assert_eq!(app.state().status, RunStatus::Finished(Outcome::Cancelled));
    assert_eq!(app.state().totals.running, 0);
    // Again: a fresh run.
    let cmds = key(&mut app, KeyCode::Char('s'));
    assert!(matches!(cmds.as_slice(), [Command::Start(_, None)]));
    assert_eq!(app.run_id, 2);
    assert_eq!(app.state().status, RunStatus::NotStarted);
    let cmds = key(&mut app, KeyCode::Char('q'));
    assert!(cmds.iter().any(|c| matches!(c, Command::Quit)));
}

#[test]
fn no_color_keeps_meaning_without_colour() {
    let mut app = finished((160, 48));
    app.theme = Theme::dark().monochrome();
    let buf = render(&app);
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            assert_eq!(buf[(x, y)].fg, ratatui::style::Color::Reset, "colour at {x},{y}");
        }
    }
    // Status survives as a symbol.
    let t = text(&buf);
    assert!(t.contains("★planner") && t.contains("✓┐"), "{t}");
}

/// A live run's header shows its estimate until the first node settles; a node waiting for a
/// provider slot shows `queued`.
#[test]
fn a_live_header_shows_the_estimate_until_real_figures_arrive() {
    let s = spec(sample_flow("research-assistant"), sample_strategy("smart"), 1);
    let mut app = App::new(&s, Theme::dark(), Keymap::default_map(), 1.0, false);
    app.update(Msg::Term(Event::Resize(160, 48)));
    app.estimate = Some(baton::money::Money::from_usd(0.0218));
    let (events, _) = run(&s, &Providers::simulated());
    // Up to the first NodeStarted: nothing settled yet.
    let first_start = events.iter().position(|e| e.kind.name() == "node_started").expect("starts");
    let mut early: Vec<_> = events[..=first_start].to_vec();
    let unit = early[first_start].kind.unit().expect("unit");
    let at = early[first_start].at;
    early.push(baton::event::RunEvent {
        run: 1,
        attempt: 1,
        at,
        kind: baton::event::Event::NodeWaiting { unit, why: "all 1 openai slots are busy (max_concurrent)".into() },
    });
    app.update(Msg::Run(early));
    app.player.finish();
    app.refresh_layout();
    let screen = text(&render(&app));
    let header = screen.lines().next().unwrap_or_default().to_string();
    assert!(header.contains("est. ~$0.0218"), "{header}");
    assert!(screen.contains("queued"), "{screen}");
    let (rest, _) = run(&s, &Providers::simulated());
    app.update(Msg::Run(rest[first_start + 1..].to_vec()));
    app.player.finish();
    let header = text(&render(&app)).lines().next().unwrap_or_default().to_string();
    assert!(!header.contains("est."), "real figures replace the estimate: {header}");
}

/// Clicking the scrub bar seeks there; the header tells done, skipped and failed apart.
#[test]
fn the_scrub_bar_seeks_and_the_header_counts_outcomes() {
    let mut app = finished((160, 48));
    let sc = app.areas().scrub.expect("a scrub bar at 160×48");
    let (x0, w) = baton::tui::player::scrub_track(sc, &app.player);
    let end = app.player.tape_end();
    app.update(Msg::Term(Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: x0 + (w - 1) / 2,
        row: sc.y,
        modifiers: KeyModifiers::NONE,
    })));
    let half = end.as_secs_f64() / 2.0;
    assert!((app.player.playhead.as_secs_f64() - half).abs() < end.as_secs_f64() / 20.0, "{:?} of {end:?}", app.player.playhead);
    // support-triage routes one ticket: the other agents are skipped, and the header says so.
    let mut app = app_with("support-triage", "smart", 1, &Providers::simulated(), (200, 48));
    app.player.finish();
    let header = text(&render(&app)).lines().next().unwrap_or_default().to_string();
    assert!(header.contains("skipped") && header.contains("done"), "{header}");
    assert!(!header.contains("7/7"), "{header}");
}
