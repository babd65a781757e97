//! The optimizer on the screen (`F`): the search starts over the screen's task set, its
//! progress and frontier are drawn, `a` applies a point as the working strategy through the
//! rules editor (where ctrl-u undoes it), Esc stops it; and the compare screen's frontier
//! charts, where a strategy is picked and applied. Driven through the update function, drawn
//! into TestBackend; the search itself runs here as the loop's thread would run it.

mod common;

use std::sync::Arc;

use baton::optimize::Progress;
use baton::provider::Providers;
use baton::tui::app::{App, Command, Msg, View};
use baton::tui::keymap::Keymap;
use baton::tui::theme::Theme;
use baton::tui::tuning::frontier::{OptimizerMsg, TaskSet};
use common::screen::*;
use common::{sample_flow, sample_strategy, sim, spec};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use tokio_util::sync::CancellationToken;

/// Support triage under smart, finished, with the first `n` sample tickets as its task set.
fn triage(n: usize, size: (u16, u16)) -> App {
    let mut app = app_with("support-triage", "smart", 1, &Providers::simulated(), size);
    app.player.finish();
    let tasks = baton::load::load_tasks("support-triage").expect("sample tasks");
    app.frontier.tasks = Some(TaskSet { name: "support-triage (first tickets)".into(), tasks: Arc::new(tasks[..n].to_vec()) });
    app
}

/// Runs the search a `Command::Optimize` asks for, as the loop's thread does, and hands every
/// report to the app. Returns how many progress reports there were.
fn carry_out(app: &mut App, cmds: Vec<Command>, max_candidates: usize) -> usize {
    let Some(Command::Optimize(cfg, id)) = cmds.into_iter().find(|c| matches!(c, Command::Optimize(..))) else {
        panic!("F asks for a search")
    };
    let mut cfg = *cfg;
    cfg.max_candidates = max_candidates;
    let mut reports: Vec<Progress> = Vec::new();
    let outcome = baton::optimize::optimize(&cfg, Providers::simulated(), &CancellationToken::new(), |p| reports.push(p.clone()))
        .expect("the search runs");
    let n = reports.len();
    for p in reports {
        app.update(Msg::Optimizer(Box::new(OptimizerMsg::Progress(id, p))));
    }
    app.update(Msg::Optimizer(Box::new(OptimizerMsg::Done(id, Box::new(Ok(outcome))))));
    n
}

fn ctrl(app: &mut App, c: char) {
    app.update(Msg::Term(Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))));
}

#[test]
fn f_without_a_task_set_says_how_to_give_one() {
    let mut app = finished((120, 40));
    assert!(app.frontier.tasks.is_none());
    let cmds = key(&mut app, KeyCode::Char('F'));
    assert!(cmds.is_empty(), "nothing to search over, nothing started");
    let msg = app.message.clone().unwrap_or_default();
    assert!(msg.contains("no task set") && msg.contains("--tasks FILE"), "{msg}");
    assert!(!app.frontier.open);
}

#[test]
fn the_search_runs_shows_its_progress_and_a_applies_a_point_that_ctrl_u_undoes() {
    let mut app = triage(40, (120, 40));
    let before = app.strategy.source_text.clone();
    let cmds = key(&mut app, KeyCode::Char('F'));
    assert!(app.frontier.open && app.frontier.running);
    // The search is of this flow, from the working strategy, over the screen's task set.
    let Some(Command::Optimize(cfg, _)) = cmds.iter().find(|c| matches!(c, Command::Optimize(..))) else { panic!("a search") };
    assert_eq!(cfg.flow.name, "support-triage");
    assert_eq!(cfg.base.name, "smart");
    assert_eq!(cfg.tasks.len(), 40);
    // While it runs the pane shows the candidates, the calls and the frontier so far.
    let mut cfg2 = (**cfg).clone();
    cfg2.max_candidates = 3;
    let first = baton::optimize::optimize(&cfg2, Providers::simulated(), &CancellationToken::new(), |_| {}).expect("runs");
    let progress = Progress {
        candidates: 3,
        frontier: first.frontier.clone(),
        calls: first.stats.model_calls,
        spent: baton::money::Money::from_usd(first.stats.spent_usd),
        elapsed: std::time::Duration::from_millis(1500),
    };
    let id = app.frontier.search_id;
    app.update(Msg::Optimizer(Box::new(OptimizerMsg::Progress(id, progress))));
    let t = text(&render(&app));
    assert!(
        t.contains("searching") && t.contains("3 candidates") && t.contains(&format!("{} model calls", first.stats.model_calls)),
        "{t}"
    );
    assert!(t.contains("Search — support-triage") && t.contains("esc stops it"), "{t}");
    assert!(t.contains("▶   1"), "the first point is highlighted: {t}");
    // Applying before the search finishes says why it cannot.
    key(&mut app, KeyCode::Char('a'));
    assert!(app.message.as_deref().unwrap_or_default().contains("still going"), "{:?}", app.message);
    assert_eq!(app.strategy.name, "smart");

    // The search finishes: the pane shows the frontier and what the search cost.
    app.frontier.progress = None;
    let reports = carry_out(&mut app, cmds, 40);
    assert!(reports >= 10);
    assert!(!app.frontier.running);
    let o = app.frontier.outcome.clone().expect("an outcome");
    assert!(!o.frontier.is_empty());
    let t = text(&render(&app));
    assert!(t.contains("done") && t.contains(&format!("{} candidates", o.stats.candidates)), "{t}");
    assert!(t.contains("smart as written"), "the starting strategy measured beside the points: {t}");
    assert!(t.contains("held out"), "{t}");
    // The highlighted point starts as the cheapest at least as good as smart.
    let smart_q = o.references[0].search.quality.rate;
    let sel = app.frontier.selected;
    assert!(o.frontier[sel].search.quality.rate + 1e-12 >= smart_q);
    assert!(o.frontier[..sel].iter().all(|p| p.search.quality.rate < smart_q));
    // j/k move the highlight, and the footer names the pane's keys.
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(app.frontier.selected, 0);
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.frontier.selected, 1.min(o.frontier.len() - 1));
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(app.frontier.selected, 0);
    let footer = text(&render(&app)).lines().last().unwrap_or_default().to_string();
    assert!(footer.contains("a apply") && footer.contains("esc back"), "{footer}");

    // a applies point 1: the working strategy is its assignment, the pane closes, and the
    // editor holds the commented file.
    key(&mut app, KeyCode::Char('a'));
    assert!(!app.frontier.open);
    assert_eq!(app.strategy.name, "found-1");
    assert!(app.message.as_deref().unwrap_or_default().contains("applied frontier point 1"), "{:?}", app.message);
    let want = o.strategy(0, "found-1").expect("the point's strategy");
    let node_models = |s: &baton::routing::Strategy| -> Vec<String> {
        app.flow.nodes.iter().map(|n| baton::routing::route(s, n, 1000).model.to_string()).collect()
    };
    assert_eq!(node_models(&app.strategy), node_models(&want));
    assert!(app.strategy.source_text.contains("# Found by: F (search) on the screen"));
    // The run on screen keeps the strategy it ran under until a rerun.
    assert_eq!(app.player.state.strategy.name, "smart");

    // Undo like any rules edit: E, ctrl-u (the insert, then the replaced text), ctrl-r, y.
    key(&mut app, KeyCode::Char('E'));
    assert!(app.editor_open);
    ctrl(&mut app, 'u');
    ctrl(&mut app, 'u');
    assert_eq!(app.editor.as_ref().expect("editor").text().trim_end(), before.trim_end());
    ctrl(&mut app, 'r');
    key(&mut app, KeyCode::Char('y'));
    assert_eq!(app.strategy.name, "smart");
    assert_eq!(app.strategy.source_text.trim_end(), before.trim_end());
}

#[test]
fn esc_stops_the_search_and_a_stopped_searchs_late_reports_are_ignored() {
    let mut app = triage(20, (80, 24));
    let cmds = key(&mut app, KeyCode::Char('F'));
    assert!(matches!(cmds.as_slice(), [Command::Optimize(..)]));
    let old = app.frontier.search_id;
    let cmds = key(&mut app, KeyCode::Esc);
    assert!(matches!(cmds.as_slice(), [Command::StopOptimize]), "esc stops it");
    assert!(!app.frontier.running && app.frontier.open, "the pane stays with what was found");
    // Esc again closes the pane; F shows it again without starting anything.
    key(&mut app, KeyCode::Esc);
    assert!(!app.frontier.open);
    // A new search, then the stopped one's last words arrive: they are not this search's.
    app.frontier.progress = None;
    let cmds = key(&mut app, KeyCode::Char('F'));
    assert!(matches!(cmds.as_slice(), [Command::Optimize(..)]));
    assert_ne!(app.frontier.search_id, old);
    app.update(Msg::Optimizer(Box::new(OptimizerMsg::Done(old, Box::new(Err("stale".into()))))));
    assert!(app.frontier.running && app.frontier.error.is_none());
    // A failure of the current one is shown.
    let id = app.frontier.search_id;
    app.update(Msg::Optimizer(Box::new(OptimizerMsg::Done(id, Box::new(Err("no models left".into()))))));
    assert!(!app.frontier.running);
    assert!(text(&render(&app)).contains("no models left"));
}

#[test]
fn a_live_search_asks_before_calling_real_models() {
    let s = spec(sample_flow("support-triage"), sample_strategy("smart"), 1);
    let mut app = App::new(&s, Theme::dark(), Keymap::default_map(), 1.0, false);
    app.update(Msg::Term(Event::Resize(120, 40)));
    let tasks = baton::load::load_tasks("support-triage").expect("sample tasks");
    app.frontier.tasks = Some(TaskSet { name: "t".into(), tasks: Arc::new(tasks[..5].to_vec()) });
    assert!(key(&mut app, KeyCode::Char('F')).is_empty(), "the first F only asks");
    assert!(text(&render(&app)).contains("A live search calls the real models"));
    let cmds = key(&mut app, KeyCode::Char('F'));
    assert!(matches!(cmds.as_slice(), [Command::Optimize(..)]), "the second starts it");
}

/// A comparison of naive against smart, both played to the end.
fn compared(size: (u16, u16)) -> App {
    let flow = sample_flow("research-assistant");
    let a = spec(flow.clone(), sample_strategy("naive"), 1);
    let mut b = spec(flow, sample_strategy("smart"), 1);
    b.run_id = 2;
    let mut app = App::new(&a, Theme::dark(), Keymap::default_map(), 1.0, true);
    app.update(Msg::Term(Event::Resize(size.0, size.1)));
    app.compare_with(vec![b.clone()]);
    app.update(Msg::Run(sim(&a).0));
    app.update(Msg::Run(sim(&b).0));
    app.update(Msg::Tick(std::time::Duration::from_secs(600)));
    app
}

#[test]
fn compare_plots_cost_and_latency_against_quality_and_a_picked_point_runs() {
    let mut app = compared((160, 48));
    // `a` outside the frontier view goes there first.
    assert!(key(&mut app, KeyCode::Char('a')).is_empty());
    assert_eq!(app.view, View::Frontier);
    let t = text(&render(&app));
    assert!(t.contains("Cost (x) against pass rate") && t.contains("Latency (x) against pass rate"), "{t}");
    assert!(t.contains("▶ A naive"), "the baseline starts picked: {t}");
    assert!(t.contains("Pareto frontier"), "{t}");
    // → picks smart; the legend says so.
    key(&mut app, KeyCode::Right);
    assert_eq!(app.frontier.compare_pick, 1);
    let t = text(&render(&app));
    assert!(t.contains("▶ B smart") && !t.contains("▶ A naive"), "{t}");
    // ← wraps back, and a click near a point picks it.
    key(&mut app, KeyCode::Left);
    assert_eq!(app.frontier.compare_pick, 0);
    let c = baton::tui::compare_view::comparison(&app);
    let [cost_chart, _] = baton::tui::compare_view::chart_areas(app.areas().main);
    let (fx, fy) = baton::tui::compare_view::plotted(&c, false)[1].expect("plotted");
    let col = cost_chart.x + (fx * f64::from(cost_chart.width)) as u16;
    let row = cost_chart.y + ((1.0 - fy) * f64::from(cost_chart.height)) as u16;
    app.update(Msg::Term(Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: col.min(cost_chart.x + cost_chart.width - 1),
        row: row.min(cost_chart.y + cost_chart.height - 1),
        modifiers: KeyModifiers::NONE,
    })));
    assert_eq!(app.frontier.compare_pick, 1, "{:?}", app.message);
    // a: smart becomes the working strategy, the comparison ends and smart runs here.
    let cmds = key(&mut app, KeyCode::Char('a'));
    assert!(app.others.is_empty());
    assert_eq!(app.strategy.name, "smart");
    assert!(matches!(cmds.first(), Some(Command::Cancel)));
    let Some(Command::Start(s, None)) = cmds.get(1) else { panic!("a run starts") };
    assert_eq!(s.strategy.name, "smart");
    assert_eq!(s.run_id, app.player.state.run_id);
    assert!(s.run_id > 2, "a new run id: the cancelled sides' late events are told apart");
    // A late batch of a cancelled side does not reach the new run.
    let b = {
        let mut b = spec(sample_flow("research-assistant"), sample_strategy("smart"), 1);
        b.run_id = 2;
        b
    };
    app.update(Msg::Run(sim(&b).0));
    assert!(app.player.events.is_empty());
}

#[test]
fn compare_frontier_fits_80_by_24() {
    let mut app = compared((80, 24));
    key(&mut app, KeyCode::Char('a'));
    let t = text(&render(&app));
    assert!(t.contains("Cost (x)") && t.contains("Latency (x)"), "{t}");
}
