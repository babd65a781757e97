//! Honest quality: task-set checks (equals, similar, json_schema, a command run as a script, a
//! judge served by a loopback server), evaluation cost apart from the flow's, and compare's
//! intervals and "not distinguishable".

mod common;

use std::sync::Arc;
use std::time::Duration;

use baton::compare::compare_batches;
use baton::diag::Source;
use baton::engine::RunSpec;
use baton::flow::Flow;
use baton::load::{Task, load_tasks};
use baton::money::Money;
use baton::provider::Providers;
use baton::quality::checks::{self, Verdicts};
use baton::quality::judge::Judge;
use baton::quality::{Verdict, verdict};
use baton::routing::{Catalog, Strategy};
use baton::state::RunState;
use common::server::{Reply, Server, transcript};
use common::*;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const TWO: &str = r#"
[flow]
name = "two"
input = "hello"

[[node]]
id = "label"
kind = "classification"
complexity = 2
prompt = "label {{input}}"

[[node]]
id = "answer"
kind = "generate"
complexity = 3
after = ["label"]
prompt = "answer {{input}}"
"#;

/// Runs TWO with `label` answering `label_text` and `answer` answering `answer_text`.
fn scripted(label_text: &str, answer_text: &str) -> (Arc<Flow>, RunState) {
    let f = flow(TWO);
    let s = strategy("[strategy]\nname = \"s\"\ndefault_model = \"gpt-5-nano\"\n[[rule]]\nid = \"answer\"\nmodel = \"gemini-2.5-flash\"\n");
    let script = Script::new();
    script.push("gpt-5-nano", Step::answer(label_text));
    script.push("gemini-2.5-flash", Step::answer(answer_text));
    let (_, st) = run(&RunSpec::new(f.clone(), s, catalog(), "hello".into(), 1), &Providers::only(script));
    (f, st)
}

fn task(expected: Option<serde_json::Value>, checks: Vec<serde_json::Value>) -> Task {
    Task { expected, checks, line: 1, ..Task::new("t", "hello") }
}

fn verdicts(t: &Task, f: &Flow, st: &RunState) -> Verdicts {
    let parsed = checks::parse(t, f).unwrap_or_else(|e| panic!("{e}"));
    checks::evaluate(t, &parsed, st, &Judge::new(catalog(), Providers::simulated(), 1))
}

#[track_caller]
fn case(label: &str, answer: &str, expected: Option<serde_json::Value>, check: serde_json::Value, pass: bool) {
    let (f, st) = scripted(label, answer);
    let t = task(expected, vec![check.clone()]);
    let v = verdicts(&t, &f, &st);
    assert_eq!(v.passed(), pass, "{check} on label {label:?} / answer {answer:?}: {:?}", v.results);
}

#[test]
fn equals_similar_and_json_schema_on_nodes_and_the_final_output() {
    // equals: normalised, against expected or a given value, on a node or the final output.
    case(" FAQ.\n", "x", Some(json!("faq")), json!({"node": "label", "equals": true}), true);
    case("billing", "x", Some(json!("faq")), json!({"node": "label", "equals": true}), false);
    case("a", "The  Answer", None, json!({"equals": "the answer"}), true);
    case("a", "{\"n\": 1}", Some(json!({"n": 1})), json!({"equals": true}), true);
    case("a", "{\"n\": 2}", Some(json!({"n": 1})), json!({"equals": true}), false);
    // similar: token-set by default, ROUGE-L when asked.
    case("a", "the cat sat on the mat", Some(json!("the cat sat")), json!({"similar": 0.5}), true);
    case("a", "a dog ran", Some(json!("the cat sat")), json!({"similar": 0.5}), false);
    case("a", "mat the on sat cat the", Some(json!("the cat sat on the mat")), json!({"similar": 0.9, "method": "rouge-l"}), false);
    case("a", "mat the on sat cat the", Some(json!("the cat sat on the mat")), json!({"similar": 0.9}), true);
    // json_schema.
    let schema =
        json!({"json_schema": {"type": "object", "required": ["severity"], "properties": {"severity": {"enum": ["low", "high"]}}}});
    case("a", "{\"severity\": \"high\"}", None, schema.clone(), true);
    case("a", "{\"severity\": \"urgent\"}", None, schema.clone(), false);
    case("a", "not json", None, schema, false);
    // The flow's own kinds work on task checks too.
    case("a", "Resolution: refund", None, json!({"contains": "Resolution:"}), true);
}

#[test]
fn bad_checks_are_refused_with_what_to_fix() {
    let f = flow(TWO);
    let refuse = |t: Task, says: &str| {
        let e = checks::parse_all(&[t], &f, "tasks.jsonl").expect_err("refused");
        assert!(e.contains("tasks.jsonl:1") && e.contains(says), "{e}");
    };
    refuse(task(None, vec![json!({"node": "nope", "equals": "a"})]), "node 'nope' is not in flow 'two'");
    refuse(task(None, vec![json!({"equals": true})]), "does not have");
    refuse(task(None, vec![json!({"similar": 2.0, "to": "x"})]), "threshold from 0 to 1");
    refuse(task(None, vec![json!({"equals": "a", "contains": "b"})]), "exactly one check kind");
    refuse(task(None, vec![json!({"json_schema": {"anyOf": []}})]), "'anyOf'");
    refuse(task(None, vec![json!({"command": []})]), "non-empty list");
}

/// The command check, with a script: the output arrives on stdin, the expected value and task
/// id in the environment; exit 0 passes, and what the script said is the detail.
#[test]
fn a_command_check_runs_a_script_on_the_output() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("quality-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let script = dir.join("check.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nout=$(cat)\ncase \"$out\" in\n  *\"$BATON_EXPECTED\"*) echo \"found in $BATON_TASK_ID\"; exit 0;;\n  *) echo \"no '$BATON_EXPECTED' here\" >&2; exit 3;;\nesac\n",
    )
    .expect("script");
    let sh = script.display().to_string();
    let check = json!({"command": ["sh", sh]});
    let (f, st) = scripted("a", "Resolution: refund issued");
    let v = verdicts(&task(Some(json!("refund")), vec![check.clone()]), &f, &st);
    assert!(v.passed(), "{:?}", v.results);
    assert_eq!(v.results[0].detail.as_deref(), Some("found in t"));
    let v = verdicts(&task(Some(json!("credit")), vec![check]), &f, &st);
    assert!(!v.passed());
    assert_eq!(v.results[0].detail.as_deref(), Some("exit 3: no 'credit' here"));
    // A shell line, and a program that overstays its timeout.
    let v = verdicts(&task(None, vec![json!({"command": "grep -q Resolution"})]), &f, &st);
    assert!(v.passed(), "{:?}", v.results);
    let v = verdicts(&task(None, vec![json!({"command": ["sleep", "5"], "timeout_s": 0.2})]), &f, &st);
    assert!(!v.passed() && v.results[0].detail.as_deref().is_some_and(|d| d.contains("did not finish")), "{:?}", v.results);
    let v = verdicts(&task(None, vec![json!({"command": ["/no/such/program"]})]), &f, &st);
    assert!(!v.passed() && v.results[0].detail.as_deref().is_some_and(|d| d.contains("cannot start")), "{:?}", v.results);
}

/// A judge served by an OpenAI-compatible server on 127.0.0.1 (the flow's model too): judge
/// calls are evaluation cost, apart from the flow's cost, and an output is judged once.
#[test]
fn a_judge_grades_on_a_loopback_server_and_its_cost_is_kept_apart() {
    let server = Server::func(|seen| {
        if seen.body.contains("You are grading") {
            let verdict = if seen.body.contains("refund") { "Names the fix.\nPASS" } else { "No fix.\nFAIL" };
            Reply::sse(transcript::openai(&[verdict], 200, 10, 0, 0))
        } else if seen.body.contains("alpha") {
            Reply::sse(transcript::openai(&["refund issued"], 10, 5, 0, 0))
        } else {
            Reply::sse(transcript::openai(&["sorry"], 10, 5, 0, 0))
        }
    });
    let mut text = String::new();
    for (id, price) in [("flowm", 1.0), ("judgem", 100.0)] {
        text.push_str(&format!(
            "[[model]]\nid = \"{id}\"\nprovider = \"openai\"\napi_model = \"{id}-api\"\nbase_url = \"{}/v1\"\nkey_env = \"\"\ninput_per_mtok = {price}\noutput_per_mtok = {price}\ncontext_window = 100000\n\n",
            server.url()
        ));
    }
    let cat = Arc::new(Catalog::parse(&Source::new("judge.toml", text), Some(&Catalog::builtin())).expect("catalog").0);
    let f = flow(
        "[flow]\nname = \"one\"\ninput = \"x\"\n\n[[node]]\nid = \"a\"\nkind = \"generate\"\ncomplexity = 2\nprompt = \"reply to {{input}}\"\n",
    );
    let s = Arc::new(
        Strategy::parse(&Source::new("s.toml", "[strategy]\nname = \"s\"\ndefault_model = \"flowm\"\n[retry]\nmax_attempts = 1\n"), &cat)
            .expect("strategy")
            .0,
    );
    let judge_check = json!({"judge": "The reply names a fix.", "model": "judgem"});
    let tasks: Vec<Task> =
        ["alpha", "beta"].iter().map(|i| Task { checks: vec![judge_check.clone()], line: 1, ..Task::new(*i, *i) }).collect();
    let parsed = checks::parse_all(&tasks, &f, "t.jsonl").expect("checks");
    let providers = Providers::live(&cat, Duration::from_secs(2)).expect("providers");
    let judge = Judge::new(cat.clone(), providers.clone(), 1);
    let spec = RunSpec::new(f.clone(), s, cat.clone(), String::new(), 1);
    let b =
        baton::headless::run_batch_checked(&spec, &tasks, &parsed, &providers, &judge, CancellationToken::new(), &baton::progress::Silent)
            .expect("batch");
    // alpha's reply names the refund: PASS; beta's does not: FAIL.
    assert_eq!((b.totals.quality.passed, b.totals.quality.total), (1, 2));
    let tc = b.totals.task_checks.as_ref().expect("task checks");
    assert_eq!((tc.passed, tc.total), (1, 2));
    // The flow's cost is its two calls at $1/M; judging is two calls at $100/M, kept apart.
    let flow_cost = Money::from_usd(2.0 * 15.0 * 1e-6);
    let eval_cost = Money::from_usd(2.0 * 210.0 * 100e-6);
    assert_eq!(Money::from_usd(b.totals.cost_usd), flow_cost);
    assert_eq!(Money::from_usd(b.totals.eval_cost_usd.expect("eval cost")), eval_cost);
    assert_eq!(judge.spent(), (2, eval_cost));
    let judged = |s: &Server| s.requests().iter().filter(|r| r.body.contains("You are grading")).count();
    assert_eq!(judged(&server), 2);
    // Again: the same outputs are not judged again (cached), so no evaluation cost.
    let again =
        baton::headless::run_batch_checked(&spec, &tasks, &parsed, &providers, &judge, CancellationToken::new(), &baton::progress::Silent)
            .expect("batch");
    assert_eq!(judged(&server), 2);
    assert_eq!(again.totals.eval_cost_usd, Some(0.0));
    assert_eq!(again.totals.quality, b.totals.quality);
}

#[test]
fn compare_shows_intervals_and_what_the_task_set_cannot_tell_apart() {
    let tasks = load_tasks("sample-flows/tasks/support-triage.jsonl").expect("tasks");
    let f = sample_flow("support-triage");
    let batches: Vec<_> = ["naive", "smart", "cascade"]
        .iter()
        .map(|s| {
            let spec = RunSpec::new(f.clone(), sample_strategy(s), catalog(), String::new(), 1);
            baton::headless::run_batch(&spec, &tasks, &Providers::simulated()).expect("batch")
        })
        .collect();
    let mut c = compare_batches(&batches);
    c.provider = "simulated".into();
    for s in &c.strategies {
        assert_eq!(s.quality_unit, "tasks");
        assert!(s.quality.total > 900 && s.quality.low <= s.quality.rate && s.quality.rate <= s.quality.high, "{:?}", s.quality);
    }
    assert_eq!(c.strategies[0].quality_vs_baseline, None);
    for s in &c.strategies[1..] {
        assert_eq!(s.quality_vs_baseline, Some(verdict(&s.quality, &c.strategies[0].quality)));
    }
    let table = c.table();
    assert!(table.contains("QUALITY [95%]") && table.contains("Quality is simulated"), "{table}");
    let not = c.strategies.iter().filter(|s| s.quality_vs_baseline == Some(Verdict::NotDistinguishable)).count();
    assert!(not > 0, "cascade and naive pass the same share of support tickets");
    assert!(table.contains("not distinguishable on these"), "{table}");
    let json = serde_json::to_value(&c).expect("json");
    assert!(json["strategies"][1]["quality"]["low"].is_number() && json["strategies"][1]["quality_vs_baseline"].is_string());
}
