//! The keys a k9s or lazygit user reaches for first: `/` search with `n`/`N`, `y` to copy, a
//! footer that names the focused mode's keys, scrolling that stops at the end, and the header's
//! like-for-like figures after a rerun. Driven through the update function, drawn into
//! TestBackend.

mod common;

use baton::tui::app::{Command, Msg, View};
use baton::tui::layout::BoxKey;
use common::screen::*;
use crossterm::event::{Event, KeyCode, KeyModifiers, MouseEvent, MouseEventKind};

fn node(app: &baton::tui::app::App, id: &str) -> usize {
    app.flow.nodes.iter().position(|n| n.id == id).unwrap_or_else(|| panic!("no node {id}"))
}

#[test]
fn slash_searches_as_you_type_and_esc_goes_back() {
    let mut app = finished((160, 48));
    let origin = app.selected;
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "synth");
    assert_eq!(app.selected, BoxKey::Node(node(&app, "synthesizer")), "the first match is selected while typing");
    let t = text(&frame(&mut app));
    assert!(t.contains("/synth▏ 1 of 1 · Enter keep · Esc back"), "{t}");
    // Typing more narrows; a query with no match keeps the selection and says so.
    type_text(&mut app, "zzz");
    assert!(text(&frame(&mut app)).contains("no match"));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.selected, origin, "Esc goes back to where the search began");
    assert!(app.search.is_none());

    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "cit");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.selected, BoxKey::Node(node(&app, "citations")), "Enter keeps the match");
    // Keys are keys again once the query is kept.
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Timeline);
}

#[test]
fn n_and_shift_n_walk_the_matches_in_reading_order_and_wrap() {
    let mut app = finished((160, 48));
    key(&mut app, KeyCode::Char('/'));
    // 'er' is in planner, searcher, analyzer, synthesizer.
    type_text(&mut app, "er");
    key(&mut app, KeyCode::Enter);
    let matches = app.search_matches();
    assert!(matches.len() >= 3, "{matches:?}");
    let first = app.selected;
    let mut seen = vec![first];
    for _ in 1..matches.len() {
        key(&mut app, KeyCode::Char('n'));
        seen.push(app.selected);
    }
    let want: Vec<BoxKey> = matches.iter().map(|&n| BoxKey::Node(n)).collect();
    let start = want.iter().position(|b| *b == first).expect("first is a match");
    let mut rotated = want[start..].to_vec();
    rotated.extend_from_slice(&want[..start]);
    assert_eq!(seen, rotated, "n visits every match once, in reading order");
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(app.selected, first, "and wraps");
    key(&mut app, KeyCode::Char('N'));
    assert_eq!(app.selected, *seen.last().expect("last"), "N goes back");
    assert!(app.message.as_deref().is_some_and(|m| m.contains(&format!("of {}", matches.len()))), "{:?}", app.message);
}

#[test]
fn a_search_on_a_thousand_node_flow_brings_the_node_into_view() {
    let flow = baton::shapes::Shape::Layered { layers: 25, width: 40 }.flow(10);
    let s = common::spec(flow, common::sample_strategy("smart"), 1);
    let mut app = baton::tui::app::App::new(&s, baton::tui::theme::Theme::dark(), baton::tui::keymap::Keymap::default_map(), 1.0, true);
    app.update(Msg::Term(Event::Resize(160, 48)));
    let target = &app.flow.nodes[987].id.clone();
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, target);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.selected, BoxKey::Node(987));
    let t = text(&frame(&mut app));
    assert!(t.contains(target.as_str()), "the found node is on screen:\n{t}");
}

#[test]
fn y_copies_the_output_and_shift_y_the_id() {
    let mut app = finished((160, 48));
    app.selected = BoxKey::Node(node(&app, "synthesizer"));
    let cmds = key(&mut app, KeyCode::Char('y'));
    let out = app.state().units.iter().find(|u| u.label == "synthesizer").expect("unit").output().to_string();
    assert!(!out.is_empty());
    match cmds.as_slice() {
        [Command::Copy { what, text, .. }] => {
            assert_eq!(text, &out);
            assert_eq!(what, "output of synthesizer");
        }
        _ => panic!("y asks for a copy of the output"),
    }
    match key(&mut app, KeyCode::Char('Y')).as_slice() {
        [Command::Copy { text, .. }] => assert_eq!(text, "synthesizer"),
        _ => panic!("Y asks for a copy of the id"),
    }
    // Carried out: the text lands in the clipboard file too (the loop sets where: the data
    // directory), and the footer says both places.
    let dir = std::env::temp_dir().join(format!("baton-copy-{}", std::process::id()));
    let file = dir.join("clipboard.txt");
    app.clip_file = Some(file.clone());
    let cmds = key(&mut app, KeyCode::Char('y'));
    assert!(matches!(cmds.as_slice(), [Command::Copy { file: Some(f), .. }] if *f == file));
    let msg = baton::tui::effects::perform(&cmds[0]).expect("a message");
    app.update(msg);
    assert_eq!(std::fs::read_to_string(&file).expect("clipboard file"), out);
    let m = app.message.clone().unwrap_or_default();
    assert!(m.contains("clipboard (OSC 52)") && m.contains("clipboard.txt"), "{m}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_footer_names_the_focused_modes_keys_from_the_keymap() {
    let mut app = finished((160, 48));
    let last = |app: &mut baton::tui::app::App| text(&frame(app)).lines().last().unwrap_or("").to_string();
    let graph = last(&mut app);
    for hint in ["? help", "q quit", "/ search", "e fold", "enter panel"] {
        assert!(graph.contains(hint), "graph footer lacks {hint:?}: {graph}");
    }
    key(&mut app, KeyCode::Enter);
    let panel = last(&mut app);
    for hint in ["esc back", "y copy", "Y copy id", "p pin"] {
        assert!(panel.contains(hint), "panel footer lacks {hint:?}: {panel}");
    }
    assert!(!panel.contains("/ search"), "{panel}");
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Tab);
    let timeline = last(&mut app);
    assert!(timeline.contains("pagedown page") && timeline.contains("G end"), "{timeline}");
    key(&mut app, KeyCode::Char('?'));
    assert!(last(&mut app).contains("? help"));
}

#[test]
fn the_panel_and_help_stop_scrolling_at_their_end() {
    let mut app = finished((160, 48));
    app.selected = BoxKey::Node(node(&app, "synthesizer"));
    key(&mut app, KeyCode::Enter);
    frame(&mut app);
    let max = app.scroll_max.0;
    assert!(max > 0, "the synthesizer's panel is longer than the screen");
    for _ in 0..50 {
        key(&mut app, KeyCode::PageDown);
    }
    assert_eq!(app.panel_scroll, max, "PageDown stops at the last line");
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(app.panel_scroll, max - 1, "one line back is one key");
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(app.panel_scroll, 0);
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(app.panel_scroll, max);

    let mut app = finished((100, 20));
    key(&mut app, KeyCode::Char('?'));
    frame(&mut app);
    let max = app.scroll_max.1;
    assert!(max > 0);
    for _ in 0..100 {
        key(&mut app, KeyCode::Char('j'));
    }
    assert_eq!(app.help_scroll, max, "help stops at its last row");
    let t = text(&frame(&mut app));
    let last_desc = app.keymap.bindings.iter().rev().find(|b| b.action.is_some()).expect("a binding").desc.clone();
    assert!(t.contains(&last_desc[..20]), "the last row is on screen:\n{t}");
}

#[test]
fn the_timeline_pages_jumps_and_follows_the_wheel() {
    let mut app = finished((160, 24));
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Timeline);
    frame(&mut app);
    let rows = baton::report::listed_units(app.state()).len();
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(app.timeline_row, rows - 1, "G goes to the last row");
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(app.timeline_row, 0);
    key(&mut app, KeyCode::PageDown);
    let page = app.timeline_row;
    assert!(page > 1 && page < rows, "a page is several rows: {page}");
    key(&mut app, KeyCode::PageUp);
    assert_eq!(app.timeline_row, 0);
    let wheel = |kind| Msg::Term(Event::Mouse(MouseEvent { kind, column: 10, row: 6, modifiers: KeyModifiers::NONE }));
    app.update(wheel(MouseEventKind::ScrollDown));
    assert_eq!(app.timeline_row, 3, "the wheel moves three rows");
    app.update(wheel(MouseEventKind::ScrollUp));
    assert_eq!(app.timeline_row, 0);
}

#[test]
fn the_selected_nodes_edges_stand_out() {
    let mut app = finished((160, 48));
    let sel = BoxKey::Node(node(&app, "analyzer"));
    app.selected = sel;
    app.refresh_layout();
    let buf = frame(&mut app);
    let lay = &app.layout;
    let me = lay.index[&sel];
    let a = app.areas().main;
    let inner = baton::tui::layout::centered(ratatui::layout::Rect::new(a.x + 1, a.y + 1, a.width - 2, a.height - 2), lay.height);
    let (px, py) = app.pan;
    let at = |x: u16, y: u16| &buf[(inner.x + x - px, inner.y + y - py)];
    let mine: Vec<_> = lay.routes.iter().filter(|r| r.to == me || r.from == me).collect();
    assert!(mine.iter().any(|r| r.to == me) && mine.iter().any(|r| r.from == me), "analyzer has inputs and outputs");
    for r in &mine {
        for (x, y) in baton::tui::layout::route_cells(&r.points) {
            assert_eq!(at(x, y).fg, app.theme.accent, "edge cell ({x},{y}) of the selection is highlighted");
        }
    }
    // An edge that neither starts nor ends at the selection, and shares no cell with one that
    // does, keeps the plain edge colour.
    let lit: std::collections::HashSet<(u16, u16)> = mine.iter().flat_map(|r| baton::tui::layout::route_cells(&r.points)).collect();
    let other = lay
        .routes
        .iter()
        .filter(|r| r.to != me && r.from != me)
        .flat_map(|r| baton::tui::layout::route_cells(&r.points))
        .find(|c| !lit.contains(c))
        .expect("another edge");
    assert_ne!(at(other.0, other.1).fg, app.theme.accent);
}

#[test]
fn the_timeline_plots_spend_over_time_and_it_adds_up() {
    let mut app = finished((160, 48));
    let st = app.state();
    let slices = st.spend_over_time(st.wall(), 50);
    let sum = slices.iter().copied().fold(baton::money::Money::ZERO, |a, b| a + b);
    assert_eq!(sum, st.totals.cost.total(), "every dollar lands in some slice");
    assert!(slices.iter().filter(|m| !m.is_zero()).count() > 1, "spend is spread over time");
    key(&mut app, KeyCode::Tab);
    let t = text(&frame(&mut app));
    let row = t.lines().find(|l| l.contains(" spend $")).unwrap_or_else(|| panic!("a spend row:\n{t}"));
    assert!(row.contains('█'), "the busiest slice is a full bar: {row}");
}

/// Stop mid-run, then start again: what had completed on screen is reused, everything else
/// (cancelled or never started) runs again, and the footer says which.
#[test]
fn a_restart_after_stop_reuses_only_what_completed_on_screen() {
    use baton::provider::Providers;
    use baton::state::{RunStatus, Status};
    let s = common::spec(common::sample_flow("research-assistant"), common::sample_strategy("smart"), 1);
    let mut app = baton::tui::app::App::new(&s, baton::tui::theme::Theme::dark(), baton::tui::keymap::Keymap::default_map(), 1.0, true);
    app.update(Msg::Term(Event::Resize(160, 48)));
    let start = |app: &mut baton::tui::app::App, cmds: Vec<Command>| {
        for c in cmds {
            if let Command::Start(spec, _) = c {
                let (events, _) = common::run(&spec, &Providers::simulated());
                app.update(Msg::Run(events));
            }
        }
    };
    let cmds = key(&mut app, KeyCode::Char('s'));
    start(&mut app, cmds);
    // Four and a half simulated seconds in: the planner is done, the searchers are running.
    app.update(Msg::Tick(std::time::Duration::from_millis(4500)));
    let done_before: Vec<String> = app.state().units.iter().filter(|u| u.status == Status::Done).map(|u| u.label.clone()).collect();
    assert_eq!(done_before, ["planner"], "only the planner finished on screen");
    assert!(matches!(key(&mut app, KeyCode::Char('s')).as_slice(), [Command::Cancel]));
    assert_eq!(app.state().status, RunStatus::Finished(baton::event::Outcome::Cancelled));

    let cmds = key(&mut app, KeyCode::Char('s'));
    assert!(app.message.as_deref().is_some_and(|m| m.contains("1 node(s) that completed before the stop are reused")), "{:?}", app.message);
    start(&mut app, cmds);
    app.player.finish();
    let st = app.state();
    assert_eq!(st.status, RunStatus::Finished(baton::event::Outcome::Completed));
    for u in &st.units {
        let want = if u.label == "planner" { Status::Cached } else { Status::Done };
        assert_eq!(u.status, want, "{}", u.label);
    }
    assert!(st.totals.cost.total() > baton::money::Money::ZERO, "the rest was paid for again");
}
