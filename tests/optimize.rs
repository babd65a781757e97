//! `baton optimize`: the issue's acceptance claims, each a test. The search over support-triage's
//! 1,000 tasks finds a strategy at smart's quality that costs no more than smart; on
//! research-assistant the frontier dominates or equals naive, smart and cascade; a live search
//! calls each (task, node, model) at most once, counted at a loopback server; the written
//! strategy is the one measured.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton::diag::Source;
use baton::engine::RunSpec;
use baton::load::{Task, load_tasks};
use baton::optimize::{Config, Evaluator, Figures, Objective, Outcome, Per, Progress, optimize, split, write};
use baton::provider::Providers;
use baton::routing::{Catalog, Strategy, route};
use common::server::{Reply, Server, transcript};
use common::*;
use tokio_util::sync::CancellationToken;

fn config(flow: &str, tasks: Vec<Task>, starts: &[&str], base: &str) -> Config {
    Config {
        flow: sample_flow(flow),
        catalog: catalog(),
        base: sample_strategy(base),
        starts: starts.iter().map(|s| sample_strategy(s)).collect(),
        tasks,
        held_out: 0.3,
        models: Vec::new(),
        per: Per::Node,
        cascade: true,
        quality_floor: None,
        budget: None,
        objective: Objective::Cost,
        max_candidates: 400,
        seed: 1,
    }
}

/// `a` is at least as cheap, as fast and as good as `b`.
fn dominates_or_equals(a: &Figures, b: &Figures) -> bool {
    a.cost <= b.cost && a.latency_p50_ms <= b.latency_p50_ms && a.quality.rate >= b.quality.rate
}

fn report(name: &str, o: &Outcome, wall: Duration) {
    eprintln!(
        "{name}: {} candidates in {:.1} s · {} model calls ({} outputs) · exhaustive {:.3e} assignments ≈ {:.3e} calls",
        o.stats.candidates,
        wall.as_secs_f64(),
        o.stats.model_calls,
        o.stats.outputs,
        o.stats.exhaustive_assignments,
        o.stats.exhaustive_calls
    );
}

#[test]
fn support_triage_at_smarts_quality_costs_no_more_than_smart() {
    let tasks = load_tasks("sample-flows/tasks/support-triage.jsonl").expect("tasks");
    assert_eq!(tasks.len(), 1000);
    let mut cfg = config("support-triage", tasks.clone(), &["smart"], "smart");
    let (search, held) = split(&cfg.tasks, cfg.held_out, cfg.seed);
    assert_eq!(search.len() + held.len(), 1000);
    let smart = sample_strategy("smart");
    let ev = Evaluator::new(cfg.flow.clone(), cfg.catalog.clone(), 1, Providers::simulated()).expect("evaluator");
    let smart_figures = ev.evaluate(&smart, &search, &CancellationToken::new());
    cfg.quality_floor = Some(smart_figures.quality.rate);

    let t0 = Instant::now();
    let o = optimize(&cfg, Providers::simulated(), &CancellationToken::new(), |_| {}).expect("search");
    report("support-triage", &o, t0.elapsed());
    let i = o.best.expect("a strategy at smart's quality floor");
    let best = &o.frontier[i];
    assert!(best.search.quality.rate >= smart_figures.quality.rate, "{:?} vs {:?}", best.search.quality, smart_figures.quality);
    assert!(best.search.cost <= smart_figures.cost, "{} > smart's {}", best.search.cost, smart_figures.cost);
    assert!(best.held_out.is_some(), "the held-out set is measured");
    // The reference row is smart as written, on the same tasks.
    assert_eq!(o.references[0].strategy, "smart");
    assert_eq!(o.references[0].search.cost, smart_figures.cost);

    // Each output was computed once, and far fewer calls were made than an exhaustive search.
    assert_eq!(o.stats.model_calls as usize, o.stats.outputs);
    assert!(o.stats.exhaustive_calls > 1000.0 * o.stats.model_calls as f64, "{:?}", o.stats);

    // The file written is that strategy: a plain batch (no memo, fresh simulated calls) over all
    // 1,000 tasks costs no more than smart's.
    let text = write::strategy_toml(&o, i, "optimized", "test").expect("strategy text");
    let written = Arc::new(Strategy::parse(&Source::new("optimized.toml", text), &cfg.catalog).expect("parses").0);
    let batch = |s: &Arc<Strategy>| {
        let spec = RunSpec::new(cfg.flow.clone(), s.clone(), cfg.catalog.clone(), String::new(), 1);
        baton::headless::run_batch(&spec, &tasks, &Providers::simulated()).expect("batch")
    };
    let (ours, theirs) = (batch(&written), batch(&smart));
    assert!(ours.totals.cost_usd <= theirs.totals.cost_usd, "{} > {}", ours.totals.cost_usd, theirs.totals.cost_usd);
}

#[test]
fn research_assistant_frontier_dominates_or_equals_naive_smart_and_cascade() {
    let tasks = load_tasks("sample-flows/tasks/research-questions.txt").expect("tasks");
    let mut cfg = config("research-assistant", tasks, &["naive", "smart", "cascade"], "smart");
    cfg.held_out = 0.0;
    let t0 = Instant::now();
    let o = optimize(&cfg, Providers::simulated(), &CancellationToken::new(), |_| {}).expect("search");
    report("research-assistant", &o, t0.elapsed());
    assert_eq!(o.held_out_tasks, 0);
    assert_eq!(o.references.len(), 3);
    for r in &o.references {
        assert!(
            o.frontier.iter().any(|p| dominates_or_equals(&p.search, &r.search)),
            "nothing on the frontier dominates or equals {}: {:?}",
            r.strategy,
            r.search
        );
    }
    // Naive is strictly beaten: the same models with declared context, in parallel.
    let naive = &o.references[0].search;
    assert!(o.frontier.iter().any(|p| p.search.cost < naive.cost && p.search.quality.rate >= naive.quality.rate));
    // The frontier is non-dominated.
    for a in &o.frontier {
        for b in &o.frontier {
            let strictly = dominates_or_equals(&a.search, &b.search)
                && (a.search.cost < b.search.cost
                    || a.search.latency_p50_ms < b.search.latency_p50_ms
                    || a.search.quality.rate > b.search.quality.rate);
            assert!(!strictly, "{:?} dominates {:?}", a.assignment, b.assignment);
        }
    }
}

#[test]
fn the_written_strategy_routes_as_measured_and_says_why() {
    let tasks = load_tasks("sample-flows/tasks/research-questions.txt").expect("tasks");
    let mut cfg = config("research-assistant", tasks, &["smart"], "smart");
    cfg.max_candidates = 150;
    cfg.quality_floor = Some(0.5);
    let o = optimize(&cfg, Providers::simulated(), &CancellationToken::new(), |_| {}).expect("search");
    let i = o.best.expect("a point above 50%");
    let text = write::strategy_toml(&o, i, "found", "baton optimize research-assistant").expect("text");
    let s = Strategy::parse(&Source::new("found.toml", text.clone()), &cfg.catalog).expect("parses").0;
    assert_eq!(s.name, "found");
    assert_eq!(s.context, cfg.base.context);
    let p = &o.frontier[i];
    for (k, node) in cfg.flow.nodes.iter().enumerate() {
        let d = route(&s, node, 0);
        assert_eq!(d.model, p.assignment[k].model, "{}", node.id);
        assert_eq!(d.fallbacks, p.assignment[k].escalate, "{}", node.id);
    }
    assert_eq!(s.escalate_on_failed_checks, p.assignment.iter().any(|c| !c.escalate.is_empty()));
    // Every rule has its reasons above it: what it measured and the quality interval.
    let rules: Vec<&str> = text.split("\n[[rule]]").collect();
    assert_eq!(rules.len(), cfg.flow.nodes.len() + 1, "{text}");
    for head in &rules[..rules.len() - 1] {
        let comment = head.rsplit("\n\n").next().expect("a comment block");
        assert!(comment.starts_with("# ") && comment.contains("chosen:") && comment.contains('['), "{comment}");
    }
    assert!(text.contains("simulated"), "simulated quality is labelled: {text}");
}

#[test]
fn progress_is_reported_and_a_cancel_stops_the_search() {
    let tasks = load_tasks("sample-flows/tasks/research-questions.txt").expect("tasks");
    let cfg = config("research-assistant", tasks, &["smart"], "smart");
    let cancel = CancellationToken::new();
    let mut seen: Vec<usize> = Vec::new();
    let o = optimize(&cfg, Providers::simulated(), &cancel, |p: &Progress| {
        seen.push(p.candidates);
        assert!(!p.frontier.is_empty());
        if p.candidates == 7 {
            cancel.cancel();
        }
    })
    .expect("search");
    assert_eq!(seen, (1..=7).collect::<Vec<_>>());
    assert_eq!(o.stats.candidates, 7);
    assert_eq!(o.stats.stopped.as_deref(), Some("cancelled"));
}

#[test]
fn the_split_is_stable_disjoint_and_about_the_share_asked() {
    let tasks = load_tasks("sample-flows/tasks/support-triage.jsonl").expect("tasks");
    let (a, b) = split(&tasks, 0.3, 1);
    let (a2, b2) = split(&tasks, 0.3, 1);
    assert_eq!((a.len(), b.len()), (a2.len(), b2.len()));
    assert!((250..350).contains(&b.len()), "{}", b.len());
    let ids: std::collections::HashSet<&str> = a.iter().map(|t| t.id.as_str()).collect();
    assert!(b.iter().all(|t| !ids.contains(t.id.as_str())));
    let (all, none) = split(&tasks, 0.0, 1);
    assert_eq!((all.len(), none.len()), (1000, 0));
}

const TWO: &str = r#"
[flow]
name = "two"
input = "hello"

[[node]]
id = "draft"
kind = "generate"
complexity = 3
prompt = "DRAFT for {{input}}"

[[node]]
id = "review"
kind = "reasoning"
complexity = 6
after = ["draft"]
prompt = "REVIEW for {{input}}"
checks = [{ contains = "approved" }]
"#;

/// A live search (m1 cheap and wrong on review, m2 dear and right) against an OpenAI-compatible
/// server on 127.0.0.1: the server sees each (task, node, model) at most once.
#[test]
fn a_live_search_calls_each_task_node_and_model_at_most_once() {
    let server = Server::func(|seen| {
        let text = if seen.body.contains("m2-api") { "approved" } else { "rejected" };
        Reply::sse(transcript::openai(&[text], 20, 3, 0, 0))
    });
    let mut text = String::new();
    for (id, price) in [("m1", 1.0), ("m2", 10.0)] {
        text.push_str(&format!(
            "[[model]]\nid = \"{id}\"\nprovider = \"openai\"\napi_model = \"{id}-api\"\nbase_url = \"{}/v1\"\nkey_env = \"\"\ninput_per_mtok = {price}\noutput_per_mtok = {price}\ncontext_window = 100000\n\n",
            server.url()
        ));
    }
    let cat = Arc::new(Catalog::parse(&Source::new("live.toml", text), Some(&Catalog::builtin())).expect("catalog").0);
    let base = Arc::new(
        Strategy::parse(
            &Source::new("base.toml", "[strategy]\nname = \"base\"\ndefault_model = \"m1\"\n[retry]\nmax_attempts = 1\n"),
            &cat,
        )
        .expect("strategy")
        .0,
    );
    let tasks: Vec<Task> = ["alpha", "beta", "gamma", "delta"].iter().map(|t| Task::new(*t, *t)).collect();
    let cfg = Config {
        flow: flow(TWO),
        catalog: cat.clone(),
        base: base.clone(),
        starts: vec![base],
        tasks,
        held_out: 0.25,
        models: vec!["m1".into(), "m2".into()],
        per: Per::Node,
        cascade: true,
        quality_floor: Some(1.0),
        budget: None,
        objective: Objective::Cost,
        max_candidates: 100,
        seed: 1,
    };
    let providers = Providers::live(&cat, Duration::from_secs(2)).expect("providers");
    let o = optimize(&cfg, providers, &CancellationToken::new(), |_| {}).expect("search");
    let mut per_key: HashMap<(String, String, String), usize> = HashMap::new();
    for r in server.requests() {
        let node = if r.body.contains("DRAFT") { "draft" } else { "review" };
        let task = ["alpha", "beta", "gamma", "delta"].iter().find(|t| r.body.contains(*t)).expect("a task").to_string();
        let model = if r.body.contains("m2-api") { "m2" } else { "m1" };
        *per_key.entry((task, node.to_string(), model.to_string())).or_default() += 1;
    }
    assert!(per_key.values().all(|&n| n == 1), "{per_key:?}");
    // Every task's nodes on both models were needed by some candidate: 4 × 2 × 2.
    assert_eq!(per_key.len(), 16, "{per_key:?}");
    assert_eq!(o.stats.model_calls, 16);
    // The best at a floor of 100%: review escalates from m1 to m2, or runs on m2.
    let best = &o.frontier[o.best.expect("review on m2 passes")];
    assert_eq!(best.search.quality.rate, 1.0);
    assert_eq!(best.assignment[0].model, "m1");
    assert!(best.assignment[1].model == "m2" || best.assignment[1].escalate == ["m2"], "{:?}", best.assignment);
    assert_eq!(o.provider, "live");
}
