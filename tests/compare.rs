//! Comparisons: ratios, the frontier, context attribution, formats, recordings, and the screen.

mod common;

use std::process::Command;

use baton::compare::{compare_batches, compare_runs};
use baton::provider::Providers;
use baton::report::BatchAccumulator;
use baton::tui::app::{App, Msg};
use baton::tui::keymap::Keymap;
use baton::tui::theme::Theme;
use common::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn baton(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("BATON_CONFIG_DIR", std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-config"))
        .env("BATON_DATA_DIR", std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("compare-data"))
        .output()
        .expect("runs")
}

#[test]
fn naive_against_smart_on_the_research_assistant() {
    let flow = sample_flow("research-assistant");
    let (_, naive) = sim(&spec(flow.clone(), sample_strategy("naive"), 1));
    let (_, smart) = sim(&spec(flow, sample_strategy("smart"), 1));
    let c = compare_runs(&[(&naive, None), (&smart, None)]);
    let (a, b) = (&c.strategies[0], &c.strategies[1]);
    assert_eq!(a.cost_ratio, Some(1.0));
    assert!(b.cost_ratio.expect("ratio") <= 0.2);
    assert!(b.latency_ratio.expect("ratio") <= 0.35);
    assert!(b.pass_rate.expect("checks") >= a.pass_rate.expect("checks") - 0.05);
    assert!(b.frontier && !a.frontier, "smart dominates naive");
    // Where naive's extra input tokens come from: the history it passes to every node.
    assert!(a.context_tokens.history > 1000 && b.context_tokens.history == 0);
    assert_eq!(a.tokens.total_input(), a.context_tokens.prompt + a.context_tokens.declared + a.context_tokens.history);
    assert_eq!(c.nodes.len(), 7);
    let planner = &c.nodes[0];
    assert_eq!(planner.sides[1].model.as_deref(), Some("claude-opus-4-1"));
    assert_eq!(c.nodes[1].sides[1].model.as_deref(), Some("gemini-2.5-flash-lite"));
    let table = c.table();
    assert!(table.contains("★") && table.contains("HISTORY") && table.contains("naive → smart"), "{table}");
}

/// A kind whose nodes ran on a model the catalog does not price is never summed to $0: its
/// cell says how many are unpriced, in the table and in the JSON.
#[test]
fn a_kind_of_unpriced_nodes_says_so_instead_of_zero() {
    let flow = sample_flow("research-assistant");
    let (events, priced) = sim(&spec(flow.clone(), sample_strategy("smart"), 1));
    // The same run folded against a catalog that prices none of its models.
    let catalog = std::sync::Arc::new(baton::routing::Catalog::empty());
    let unpriced = baton::state::RunState::new(flow, priced.strategy.clone(), catalog, priced.run_id, priced.attempt).fold(&events);
    assert!(unpriced.unpriced_count() > 0);
    let c = compare_runs(&[(&priced, None), (&unpriced, None)]);
    for row in &c.by_kind {
        let (a, b) = (&row.sides[0], &row.sides[1]);
        assert_eq!((a.nodes_unpriced, b.nodes_unpriced), (0, b.calls), "{}", row.kind);
        assert_eq!(b.cost_usd, 0.0);
    }
    let table = c.table();
    let kinds = table.split("BY KIND").nth(1).expect("a BY KIND table");
    let kinds = kinds.split("BY NODE").next().expect("text");
    for row in &c.by_kind {
        let line = kinds.lines().find(|l| l.starts_with(&row.kind)).unwrap_or_else(|| panic!("{}: {kinds}", row.kind));
        assert!(line.contains(&format!("unpriced ({})", row.sides[1].calls)), "{line}");
        assert!(!line.contains("$0.00 "), "{line}");
    }
    let json = serde_json::to_value(&c).expect("json");
    assert!(json["by_kind"][0]["sides"][1]["nodes_unpriced"].as_u64().is_some_and(|n| n > 0), "{json}");
    assert!(json["by_kind"][0]["sides"][0].get("nodes_unpriced").is_none(), "absent when none");
    // The CSV says how many nodes its cost leaves out.
    let csv = c.csv();
    let mut lines = csv.lines();
    assert!(lines.next().is_some_and(|h| h.ends_with(",nodes_unpriced,nodes_uncounted")), "{csv}");
    assert!(lines.next().is_some_and(|a| a.ends_with(",0,0")), "{csv}");
    let n = unpriced.unpriced_count();
    assert!(lines.next().is_some_and(|b| b.ends_with(&format!(",{n},0"))), "{csv}");
}

#[test]
fn batches_mark_the_frontier() {
    let tasks: Vec<baton::load::Task> = baton::load::load_tasks("support-triage").expect("tasks").into_iter().take(200).collect();
    let flow = sample_flow("support-triage");
    let mut batches = Vec::new();
    for s in ["naive", "smart", "cascade", "premium-parallel"] {
        let mut acc = BatchAccumulator::default();
        baton::headless::run_tasks(&spec(flow.clone(), sample_strategy(s), 1), &tasks, &Providers::simulated(), |_, st| acc.add(st))
            .expect("runs");
        batches.push(acc.finish());
    }
    let c = compare_batches(&batches);
    assert_eq!(c.tasks, 200);
    let by = |n: &str| c.strategies.iter().find(|s| s.strategy == n).expect("strategy");
    assert!(by("smart").cost_ratio.expect("ratio") <= 0.15);
    assert!(!by("naive").frontier, "naive is dominated by premium-parallel or smart");
    assert!(by("smart").frontier || by("cascade").frontier);
    assert!(by("smart").latency_p95_ms.expect("p95") >= by("smart").latency_ms);
    let csv = c.csv();
    assert!(csv.starts_with("strategy,cost_usd,cost_per_1000_usd"));
    assert_eq!(csv.lines().count(), 5);
    assert!(c.markdown().contains("| STRATEGY |"));
}

#[test]
fn the_command_compares_and_refuses_mismatched_recordings() {
    let out = baton(&["compare", "sample-flows/research-assistant.toml", "--strategy", "naive", "--strategy", "smart", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["strategies"][1]["frontier"], true);
    assert!(v["strategies"][1]["cost_ratio"].as_f64().expect("ratio") <= 0.2);

    let out = baton(&["compare", "research-assistant", "-s", "smart"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("two or more strategies"));

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let a = dir.join("cmp-a.jsonl");
    let b = dir.join("cmp-b.jsonl");
    let c = dir.join("cmp-c.jsonl");
    for (flow, s, f) in [("research-assistant", "naive", &a), ("research-assistant", "smart", &b), ("code-review", "smart", &c)] {
        let out = baton(&["run", flow, "-s", s, "--record", f.to_str().expect("utf8")]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = baton(&["compare", a.to_str().expect("utf8"), b.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(t.contains("naive") && t.contains("smart") && t.contains("0.067×"), "{t}");
    let out = baton(&["compare", a.to_str().expect("utf8"), c.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("records flow 'code-review' but") && err.contains("compare recordings of the same flow"), "{err}");
}

#[test]
fn the_compare_screen_shows_both_runs_with_coloured_deltas() {
    let flow = sample_flow("research-assistant");
    let a = spec(flow.clone(), sample_strategy("naive"), 1);
    let mut b = spec(flow, sample_strategy("smart"), 1);
    b.run_id = 2;
    let mut app = App::new(&a, Theme::dark(), Keymap::default_map(), 1.0, true);
    app.update(Msg::Term(crossterm::event::Event::Resize(160, 48)));
    app.compare_with(vec![b.clone()]);
    // Both runs' events arrive on one channel and find their player by run id.
    app.update(Msg::Run(sim(&a).0));
    app.update(Msg::Run(sim(&b).0));
    app.update(Msg::Tick(std::time::Duration::from_secs(600)));
    assert!(app.players().all(|p| p.at_end()));
    let mut term = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
    term.draw(|f| baton::tui::draw::draw(f, &app)).expect("draw");
    let buf = term.backend().buffer().clone();
    let text: String = (0..48).map(|y| (0..160).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>() + "\n").collect();
    let (na, sm) = (sim(&a).1.totals.cost.total(), sim(&b).1.totals.cost.total());
    assert!(
        text.contains(&format!("A naive {na}")) && text.contains(&format!("B smart {sm}")) && text.contains("cost ×0.07 · time ×0.24"),
        "{text}"
    );
    // A saving is drawn in the "better" colour.
    let (x, y) = (0..48)
        .find_map(|y| {
            let line: String = (0..160).map(|x| buf[(x, y)].symbol().chars().next().unwrap_or(' ')).collect();
            line.find("Δ -$0.0522").map(|p| (line[..p].chars().count() as u16, y))
        })
        .expect("the analyzer's delta");
    assert_eq!(buf[(x, y)].fg, app.theme.better);
    insta::assert_snapshot!(text);
}
