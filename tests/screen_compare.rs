//! The compare screen's key figures at the sizes people use: every side's total cost, its Δ
//! ratio and pass rate in the table, and every side's cost and ratios in the header, uncut at
//! 120 columns with three strategies and at 80×24 with two. Drawn into TestBackend.

mod common;

use baton::money::Money;
use baton::tui::app::{App, Msg, View};
use baton::tui::fmt::money;
use baton::tui::keymap::Keymap;
use baton::tui::theme::Theme;
use common::screen::*;
use common::{sample_flow, sample_strategy, sim, spec};
use crossterm::event::Event;

fn compared(strategies: &[&str], size: (u16, u16)) -> App {
    let flow = sample_flow("research-assistant");
    let specs: Vec<_> = strategies
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let mut sp = spec(flow.clone(), sample_strategy(s), 1);
            sp.run_id = 1 + k as u64;
            sp
        })
        .collect();
    let mut app = App::new(&specs[0], Theme::dark(), Keymap::default_map(), 1.0, true);
    app.update(Msg::Term(Event::Resize(size.0, size.1)));
    app.compare_with(specs[1..].to_vec());
    for s in &specs {
        app.update(Msg::Run(sim(s).0));
    }
    app.update(Msg::Tick(std::time::Duration::from_secs(600)));
    assert!(app.players().all(|p| p.at_end()));
    app
}

/// The table's TOTAL line and the header show every side's figures whole.
fn key_figures_whole(app: &mut App) {
    app.view = View::Compare;
    let t = text(&render(app));
    let c = baton::tui::compare_view::comparison(app);
    let total = t.lines().find(|l| l.contains("TOTAL")).unwrap_or_else(|| panic!("a TOTAL row: {t}"));
    let header = t.lines().next().unwrap_or_default();
    for (k, s) in c.strategies.iter().enumerate() {
        let cost = money(Money::from_usd(s.cost_usd));
        assert!(total.contains(&cost), "side {k}'s total {cost} whole in {total:?}\n{t}");
        if k > 0 {
            let ratio = format!("{:.2}×", s.cost_ratio.expect("a ratio"));
            assert!(total.contains(&ratio), "side {k}'s ratio {ratio} in {total:?}");
            let full = app.players().nth(k).expect("side").state.totals.cost.total().to_string();
            assert!(header.contains(&full), "side {k}'s cost {full} in the header {header:?}");
            assert!(header.contains(&format!("cost ×{:.2}", s.cost_ratio.expect("ratio"))), "{header:?}");
        }
        let pass = format!("{:.0}%", s.pass_rate.expect("checks ran") * 100.0);
        assert!(total.contains(&pass), "{total:?}");
    }
    for l in t.lines() {
        assert!(!l.contains("…$") && !l.contains("$…"), "a figure was clipped: {l:?}");
    }
}

#[test]
fn three_strategies_at_120_columns_keep_every_key_figure() {
    let mut app = compared(&["naive", "smart", "cascade"], (120, 40));
    key_figures_whole(&mut app);
    // What gave way is said.
    let t = text(&render(&app));
    assert!(t.contains("left out to fit"), "{t}");
}

#[test]
fn two_strategies_at_80_by_24_keep_every_key_figure() {
    let mut app = compared(&["naive", "smart"], (80, 24));
    key_figures_whole(&mut app);
}

#[test]
fn a_wide_screen_shows_times_and_the_token_split() {
    let mut app = compared(&["naive", "smart"], (200, 48));
    app.view = View::Compare;
    let t = text(&render(&app));
    assert!(t.contains("in p/d/h") && t.contains("time"), "{t}");
    assert!(!t.contains("left out to fit"), "{t}");
}

/// naive (A) against smart (B) played to the end, where B's side folds its run against a
/// catalog that prices none of its models (as a recording made with another catalog would).
fn without_prices_for_b(size: (u16, u16)) -> App {
    let flow = sample_flow("research-assistant");
    let a = spec(flow.clone(), sample_strategy("naive"), 1);
    let mut b = spec(flow, sample_strategy("smart"), 1);
    b.run_id = 2;
    let events = (sim(&a).0, sim(&b).0);
    b.catalog = std::sync::Arc::new(baton::routing::Catalog::empty());
    let mut app = App::new(&a, Theme::dark(), Keymap::default_map(), 1.0, true);
    app.update(Msg::Term(Event::Resize(size.0, size.1)));
    app.compare_with(vec![b]);
    app.update(Msg::Run(events.0));
    app.update(Msg::Run(events.1));
    app.update(Msg::Tick(std::time::Duration::from_secs(600)));
    assert!(app.players().all(|p| p.at_end()));
    app
}

/// A side whose models the catalog does not price (a recording made elsewhere) shows
/// `unpriced`, never $0, and no ratio or change in cost: in the header, the table and the
/// graph's boxes.
#[test]
fn a_side_without_prices_says_unpriced_and_has_no_ratio() {
    let mut app = without_prices_for_b((120, 40));

    app.view = View::Compare;
    let t = text(&render(&app));
    let header = t.lines().next().unwrap_or_default();
    assert!(header.contains("B smart unpriced") && header.contains("cost ×?"), "{header:?}");
    let total = t.lines().find(|l| l.contains("TOTAL")).unwrap_or_else(|| panic!("a TOTAL row: {t}"));
    assert!(total.contains("unpriced") && total.contains(" ?"), "{total:?}");
    let planner = t.lines().find(|l| l.contains("planner")).unwrap_or_else(|| panic!("a planner row: {t}"));
    assert!(planner.contains("unpriced") && planner.contains(" ?"), "{planner:?}");
    assert!(!t.contains("$0 ") && !t.contains("1.00×"), "{t}");

    // The graph's boxes, below the header: B's cost and the change in it.
    app.view = View::Graph;
    let g = text(&render(&app));
    let boxes: String = g.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert!(boxes.contains("unpriced") && boxes.contains("Δ ?"), "{g}");

    // The cost chart lists the side without plotting it at its priced part, and a click
    // cannot pick it there; the latency chart places it.
    app.view = View::Frontier;
    let f = text(&render(&app));
    assert!(f.contains("B smart · unpriced"), "{f}");
    let c = baton::tui::compare_view::comparison(&app);
    assert!(baton::tui::compare_view::plotted(&c, false)[1].is_none());
    assert!(baton::tui::compare_view::plotted(&c, true)[1].is_some());
}

/// The same on the narrow list the graph becomes on a small screen: the cost it shows is the
/// other side's, so what is unknown of it is that side's too.
#[test]
fn the_compact_list_says_unpriced_for_the_other_side() {
    let mut app = without_prices_for_b((56, 18));
    app.view = View::Graph;
    let g = text(&render(&app));
    let planner = g.lines().find(|l| l.contains("planner")).unwrap_or_else(|| panic!("a planner line: {g}"));
    assert!(planner.contains("unpriced") && !planner.contains("$0"), "{planner:?}\n{g}");
}
