//! Big graphs on the screen: runs of sibling nodes folded into one box (and unfolded by `e` or
//! by a search that lands inside), the overview map and its clicks, panning that stops at the
//! graph's edge, and long names cut without losing their markers. Driven through the update
//! function, drawn into TestBackend.

mod common;

use baton::provider::Providers;
use baton::tui::app::{App, Msg};
use baton::tui::keymap::Keymap;
use baton::tui::layout::{BoxKey, FOLD_AT};
use baton::tui::theme::Theme;
use common::screen::*;
use crossterm::event::{Event, KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

fn node_toml(id: &str, kind: &str, after: &[String]) -> String {
    let a: Vec<String> = after.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "[[node]]\nid = \"{id}\"\nkind = \"{kind}\"\ncomplexity = 2\nprompt = \"{id}\"\nexpected_tokens = 8\nafter = [{}]\n",
        a.join(",")
    )
}

/// `src` → `n` workers → `sink`.
fn wide(n: usize) -> String {
    let mut t = "[flow]\nname = \"wide\"\ninput = \"x\"\n".to_string();
    t.push_str(&node_toml("src", "plan", &[]));
    let ws: Vec<String> = (0..n).map(|k| format!("w{k:03}")).collect();
    for w in &ws {
        t.push_str(&node_toml(w, "generate", &["src".to_string()]));
    }
    t.push_str(&node_toml("sink", "summarize", &ws));
    t
}

/// `layers` layers of `per` nodes, each waiting on the whole layer before.
fn layered(layers: usize, per: usize) -> String {
    let mut t = "[flow]\nname = \"layered\"\ninput = \"x\"\n".to_string();
    let mut prev: Vec<String> = Vec::new();
    for l in 0..layers {
        let ids: Vec<String> = (0..per).map(|k| format!("l{l:03}n{k}")).collect();
        for id in &ids {
            t.push_str(&node_toml(id, "generate", &prev));
        }
        prev = ids;
    }
    t
}

fn app_on(text: &str, size: (u16, u16), played: bool) -> App {
    let s = common::spec(common::flow(text), common::sample_strategy("smart"), 1);
    let mut app = App::new(&s, Theme::dark(), Keymap::default_map(), 1.0, true);
    app.update(Msg::Term(Event::Resize(size.0, size.1)));
    let (events, _) = common::run(&s, &Providers::simulated());
    app.update(Msg::Run(events));
    if played {
        app.player.finish();
    }
    app.refresh_layout();
    app
}

fn id(app: &App, id: &str) -> usize {
    app.flow.nodes.iter().position(|n| n.id == id).unwrap_or_else(|| panic!("no node {id}"))
}

fn visible(app: &App, key: BoxKey) -> bool {
    let a = app.areas().main;
    let (vw, vh) = (a.width - 2, a.height - 2);
    let b = app.layout.boxes[app.layout.index[&key]];
    b.x >= app.pan.0 && b.x + b.w <= app.pan.0 + vw + 1 && b.y >= app.pan.1 && b.y + b.h <= app.pan.1 + vh
}

#[test]
fn forty_siblings_fold_into_one_box_with_their_sum_and_e_opens_them() {
    let mut app = app_on(&wide(40), (160, 48), true);
    let group = BoxKey::Group(id(&app, "w000"), 0);
    assert_eq!(app.layout.boxes.len(), 3, "src, the folded run, sink");
    assert!(app.layout.index.contains_key(&group));
    let t = text(&frame(&mut app));
    assert!(t.contains("generate ×40"), "{t}");
    assert!(t.contains("40/40 done"), "{t}");

    // Its figures are the sum of its nodes', from the state.
    let st = app.state();
    let members: Vec<usize> = (0..40).map(|k| id(&app, &format!("w{k:03}"))).collect();
    let sum: baton::money::Money = members.iter().map(|&n| st.node_cost(n)).sum();
    assert_eq!(st.nodes_summary(&members).cost, sum);

    // Selecting it shows the run in the panel: what they wait on and a row per node.
    key(&mut app, KeyCode::Char('l'));
    assert_eq!(app.selected, group);
    let t = text(&frame(&mut app));
    assert!(t.contains("siblings, folded"), "{t}");
    assert!(t.contains("after    src"), "{t}");

    // `e` opens it: forty boxes, the first selected; `e` on any of them folds it again.
    key(&mut app, KeyCode::Char('e'));
    assert_eq!(app.layout.boxes.len(), 42);
    assert_eq!(app.selected, BoxKey::Node(id(&app, "w000")));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('e'));
    assert_eq!(app.layout.boxes.len(), 3);
    assert_eq!(app.selected, group);
}

/// A folded run whose models have no price (a recording made with another catalog) says so in
/// the panel, for the run and for each row, never $0.
#[test]
fn a_folded_run_without_prices_says_unpriced_in_the_panel() {
    let priced = common::spec(common::flow(&wide(40)), common::sample_strategy("smart"), 1);
    let (events, _) = common::run(&priced, &Providers::simulated());
    let mut s = priced.clone();
    s.catalog = std::sync::Arc::new(baton::routing::Catalog::empty());
    let mut app = App::new(&s, Theme::dark(), Keymap::default_map(), 1.0, true);
    app.update(Msg::Term(Event::Resize(160, 48)));
    app.update(Msg::Run(events));
    app.player.finish();
    app.refresh_layout();
    key(&mut app, KeyCode::Char('l'));
    assert_eq!(app.selected, BoxKey::Group(id(&app, "w000"), 0));
    let t = text(&frame(&mut app));
    let cost = t.lines().find(|l| l.contains("cost ")).unwrap_or_else(|| panic!("a cost line: {t}"));
    assert!(cost.contains("unpriced") && !cost.contains("$0"), "{cost:?}");
    let row = t.lines().find(|l| l.contains("w001 ")).unwrap_or_else(|| panic!("a row for w001: {t}"));
    assert!(row.contains("unpriced") && !row.contains("$0"), "{row:?}");
}

#[test]
fn a_narrow_box_cuts_the_kind_but_keeps_the_count() {
    // At 80 columns boxes are 18 wide: "summarize_all_of_it ×998" cannot fit whole.
    let text = wide(998).replace("kind = \"generate\"", "kind = \"summarize_all_of_it\"");
    let mut app = app_on(&text, (80, 24), true);
    let t = text_of(&mut app);
    let line = t.lines().find(|l| l.contains("×998")).unwrap_or_else(|| panic!("the count is cut:\n{t}"));
    assert!(line.contains("summ") && line.contains('…'), "{line}");
    assert!(t.contains("998/998"), "{t}");
}

fn text_of(app: &mut App) -> String {
    text(&frame(app))
}

#[test]
fn a_short_run_of_siblings_stays_open_but_folds_on_e() {
    let small = FOLD_AT - 1;
    let mut app = app_on(&wide(small), (160, 48), true);
    assert_eq!(app.layout.boxes.len(), small + 2, "below FOLD_AT nothing folds by itself");
    app.selected = BoxKey::Node(id(&app, "w001"));
    key(&mut app, KeyCode::Char('e'));
    assert_eq!(app.layout.boxes.len(), 3);
    // A node with no siblings and no fan-out says why `e` does nothing.
    app.selected = BoxKey::Node(id(&app, "src"));
    key(&mut app, KeyCode::Char('e'));
    assert!(app.message.as_deref().is_some_and(|m| m.contains("no siblings")), "{:?}", app.message);
}

#[test]
fn a_search_that_lands_in_a_folded_run_opens_it_and_brings_the_node_into_view() {
    let mut app = app_on(&layered(100, 10), (160, 48), false);
    assert_eq!(app.layout.boxes.len(), 100, "each layer of ten is one folded box");
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "l055n7");
    key(&mut app, KeyCode::Enter);
    let want = BoxKey::Node(id(&app, "l055n7"));
    assert_eq!(app.selected, want);
    assert!(app.layout.index.contains_key(&want), "its run was unfolded");
    assert_eq!(app.layout.boxes.len(), 109, "only its run opened, not those the query passed through while typed");
    assert!(visible(&app, want), "the view went to it: pan {:?}", app.pan);
    let buf = frame(&mut app);
    assert!(find(&buf, "l055n7").is_some(), "{}", text(&buf));

    // Esc from a search puts back the folds it opened.
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "l070n1");
    assert_eq!(app.layout.boxes.len(), 118);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.layout.boxes.len(), 109);
    assert_eq!(app.selected, want);
}

#[test]
fn the_overview_map_shows_where_the_view_is_and_a_click_moves_it() {
    let mut app = app_on(&wide(40), (160, 48), true);
    // Opened, forty boxes are far taller than the view: the map appears.
    app.selected = BoxKey::Group(id(&app, "w000"), 0);
    key(&mut app, KeyCode::Char('e'));
    let buf = frame(&mut app);
    let (mx, my) = find(&buf, " map ").unwrap_or_else(|| panic!("no map:\n{}", text(&buf)));
    assert_eq!(app.pan.1, 0);
    // Click the map's bottom row: the view moves down the graph.
    let a = app.areas().main;
    let inner = ratatui::layout::Rect::new(a.x + 1, a.y + 1, a.width - 2, a.height - 2);
    let map = baton::tui::minimap::minimap_rect(inner, app.layout.width, app.layout.height).expect("map rect");
    assert_eq!((map.x + 2, map.y), (mx, my), "the title sits on the map's top border");
    app.update(Msg::Term(Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: map.x + map.width / 2,
        row: map.y + map.height - 2,
        modifiers: KeyModifiers::NONE,
    })));
    assert!(app.pan.1 > 100, "the view moved to the bottom of the graph: {:?}", app.pan);
    assert!(app.pan.1 <= app.pan_limit().1);

    // Folded again, the graph fits: no map.
    key(&mut app, KeyCode::Char('e'));
    let buf = frame(&mut app);
    assert!(find(&buf, " map ").is_none(), "{}", text(&buf));
}

#[test]
fn panning_stops_at_the_graph_edge_and_a_graph_that_fits_does_not_pan() {
    let mut app = finished((160, 48));
    for _ in 0..50 {
        key(&mut app, KeyCode::Char('L'));
        key(&mut app, KeyCode::Char('J'));
    }
    assert_eq!(app.pan_limit(), (0, 0), "the research assistant fits at 160x48");
    assert_eq!(app.pan, (0, 0));

    let mut app = app_on(&layered(100, 10), (160, 48), true);
    for _ in 0..1000 {
        key(&mut app, KeyCode::Char('L'));
    }
    let (lx, _) = app.pan_limit();
    assert!(lx > 0);
    assert_eq!(app.pan.0, lx, "stops where the graph's right edge meets the view's");
    let buf = frame(&mut app);
    assert!(find(&buf, "generate ×10").is_some(), "the last boxes are still on screen:\n{}", text(&buf));
}

/// A chain of 3,000 nodes is wider than the canvas's coordinates reach: it is shown as the
/// list, and the title says why rather than calling it a graph.
#[test]
fn a_graph_too_large_to_draw_is_listed_and_says_so() {
    let mut app = app_on(&layered(3000, 1), (160, 48), true);
    assert!(app.layout.dims.list);
    let buf = frame(&mut app);
    let t = text(&buf);
    assert!(t.contains("Graph (list: too large to draw)"), "{t}");
    assert!(find(&buf, "l000n0").is_some(), "the first node is on screen:\n{t}");
    // A graph that fits keeps its plain title.
    let mut app = finished((160, 48));
    let t = text(&frame(&mut app));
    assert!(t.contains("┌ Graph ─"), "{t}");
}

#[test]
fn box_style_fits_any_number_of_layers() {
    use baton::tui::layout::{Dims, fit_dims};
    assert_eq!(fit_dims(5, 200), Dims::FULL);
    assert_eq!(fit_dims(50, 200), Dims::NARROW);
    // 2,185 full columns are 65,550 cells: wrapped to u16 that was 14, and "fitted".
    assert_eq!(fit_dims(2185, 200), Dims::NARROW);
    assert_eq!(fit_dims(usize::MAX, u16::MAX), Dims::NARROW);
}

#[test]
fn a_long_name_is_cut_but_keeps_its_status_and_rerun_mark() {
    let long = "a_node_with_a_very_long_name_that_cannot_fit";
    let text_flow = format!("[flow]\nname = \"long\"\ninput = \"x\"\n{}", node_toml(long, "generate", &[]));
    let mut app = app_on(&text_flow, (160, 48), true);
    // The attempt before cost more: the box says ▼.
    let mut prev = app.state().clone();
    let u = prev.nodes[0].unit;
    prev.units[u].cost.output += baton::money::Money::from_usd(1.0);
    app.previous = Some(prev);
    let t = text(&frame(&mut app));
    // (The panel beside it names the node in full on its first row.)
    let line = t.lines().find(|l| l.contains("a_node_with") && l.contains('…')).unwrap_or_else(|| panic!("{t}"));
    assert!(line.contains('…') && line.contains(" ▼") && line.contains('✓'), "{line}");

    // The compact list too.
    key(&mut app, KeyCode::Char('z'));
    let t = text(&frame(&mut app));
    let line = t.lines().find(|l| l.contains("a_node_with") && l.contains('…')).unwrap_or_else(|| panic!("{t}"));
    assert!(line.contains('…') && line.contains(" ▼") && line.contains('✓'), "{line}");
}
