//! The binary as a user meets it: exit codes, messages, formats.

use std::path::Path;
use std::process::{Command, Output};

fn baton(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("BATON_CONFIG_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-config"))
        .env("BATON_DATA_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("data"))
        .output()
        .expect("binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

#[test]
fn json_run_is_byte_identical_and_documented_fields_exist() {
    let args = ["run", "sample-flows/research-assistant.toml", "--strategy", "smart", "--format", "json", "--seed", "3"];
    let a = baton(&args);
    let b = baton(&args);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).expect("json");
    for key in ["cost_usd", "wall_ms", "critical_path_ms", "critical_path", "tokens", "context_tokens", "checks", "nodes"] {
        assert!(v["totals"].get(key).is_some(), "totals.{key} missing");
    }
    let nodes = v["nodes"].as_array().expect("nodes");
    assert!(nodes.len() >= 6);
    for key in ["id", "kind", "status", "model", "rule", "reason", "latency_ms", "ttft_ms", "tokens", "cost_usd", "checks"] {
        assert!(nodes[0].get(key).is_some(), "nodes[].{key} missing");
    }
    let sum: f64 = nodes.iter().map(|n| n["cost_usd"].as_f64().expect("cost")).sum();
    assert!((sum - v["totals"]["cost_usd"].as_f64().expect("total")).abs() < 1e-9);
}

#[test]
fn batch_reports_per_1000_and_percentiles() {
    let out = baton(&["run", "support-triage", "--tasks", "sample-flows/tasks/support-triage.jsonl", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["tasks"], 1000);
    assert!(v["totals"]["cost_per_1000_usd"].as_f64().expect("per 1000") > 0.0);
    let p50 = v["totals"]["latency_ms"]["p50"].as_f64().expect("p50");
    let p95 = v["totals"]["latency_ms"]["p95"].as_f64().expect("p95");
    assert!(p50 > 0.0 && p95 >= p50);
    assert!(v["by_kind"]["classification"]["calls"] == 1000);
}

#[test]
fn validate_points_at_the_line_and_exits_2() {
    let out = baton(&["validate", "tests/fixtures/bad/unknown-dependency.toml", "sample-flows/research-assistant.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("tests/fixtures/bad/unknown-dependency.toml:17:10: error: unknown node 'plannr'"), "{err}");
    assert!(err.contains("help: did you mean 'planner'?"), "{err}");
    let ok = text(&out.stdout);
    assert!(ok.contains("ok  sample-flows/research-assistant.toml  (flow 'research-assistant', 5 nodes)"), "{ok}");
}

#[test]
fn run_rejects_bad_input_with_exit_2() {
    let out = baton(&["run", "tests/fixtures/bad/cycle.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("the flow has a cycle: a → b → c → a"));

    let out = baton(&["run", "research-assistant", "--strategy", "smrt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("did you mean 'smart'?"), "{}", text(&out.stderr));

    let out = baton(&["run", "no-such-flow"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("research-assistant, support-triage, code-review, doc-digest"));

    let tasks = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bad-tasks.jsonl");
    std::fs::write(&tasks, "{\"input\": \"fine\"}\n{\"inptu\": \"typo\"}\n").expect("write");
    let out = baton(&["run", "research-assistant", "--tasks", tasks.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("bad-tasks.jsonl:2:1: error: not a task: missing field `input`"), "{err}");
}

#[test]
fn strategies_are_found_next_to_the_flow() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("beside");
    std::fs::create_dir_all(dir.join("strategies")).expect("mkdir");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/good/minimal.toml"), dir.join("flow.toml")).expect("copy");
    std::fs::write(dir.join("strategies/mine.toml"), "[strategy]\nname = \"mine\"\ndefault_model = \"gpt-5-nano\"\n").expect("write");
    let flow = dir.join("flow.toml");
    let out = baton(&["run", flow.to_str().expect("utf8"), "-s", "mine"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("minimal · mine · seed 1 · completed"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("gpt-5-nano"));
}

#[test]
fn models_lists_prices_and_their_date() {
    let out = baton(&["models"]);
    assert_eq!(out.status.code(), Some(0));
    let t = text(&out.stdout);
    assert!(t.starts_with("prices read 2026-11-28"), "{t}");
    assert!(t.contains("claude-opus-4-1") && t.contains("$15.00") && t.contains("$75.00"), "{t}");
    let out = baton(&["models", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["models"].as_array().expect("models").len() >= 10);
}

#[test]
fn help_answers() {
    let out = baton(&["--help"]);
    let t = text(&out.stdout);
    for s in ["run", "validate", "models", "Examples", "Exit status"] {
        assert!(t.contains(s), "--help lacks {s}:\n{t}");
    }
    let out = baton(&["run", "--help"]);
    assert!(text(&out.stdout).contains("--tasks"));
}

/// Command-line gaps from the reliability audit: each is bad input (exit 2) with a message
/// that says what to do, instead of being ignored, hanging or exiting 1.
#[test]
fn conflicting_or_impossible_arguments_are_bad_input() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-gaps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let rec = dir.join("r.jsonl");
    let made = baton(&["run", "research-assistant", "--record", rec.to_str().expect("utf8")]);
    assert_eq!(made.status.code(), Some(0), "{}", text(&made.stderr));
    // A flow with --resume would be silently ignored: refuse it.
    let o = baton(&["run", "research-assistant", "--resume", rec.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("cannot be used with"), "{}", text(&o.stderr));
    // A speed that would never finish.
    let o = baton(&["run", "research-assistant", "--speed", "1e-300"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("use a speed from 0.25"), "{}", text(&o.stderr));
    // An export onto a path that cannot be written is the user's input.
    let o = baton(&["export", rec.to_str().expect("utf8"), "--otlp", "/nonexistent-dir/out.json"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("help: give a path"), "{}", text(&o.stderr));
}

/// README's exit-code table is what the binary does: every row with an example is run.
#[test]
fn the_readme_exit_code_table_is_true() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README");
    let start = readme.find("<!-- exit-codes -->").expect("the table's start marker");
    let end = readme.find("<!-- /exit-codes -->").expect("the table's end marker");
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("exit-codes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("tmp");
    let mut checked = 0;
    for row in readme[start..end].lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (status, example) = (cells[2], cells[4]);
        let Some(cmd) = example.strip_prefix("`baton").and_then(|c| c.strip_suffix('`')) else { continue };
        let want: i32 = status.parse().unwrap_or_else(|_| panic!("a status in {row}"));
        let args: Vec<String> = cmd.split_whitespace().map(|a| a.replace("$TMP", &tmp.display().to_string())).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = baton(&args);
        assert_eq!(out.status.code(), Some(want), "`baton{cmd}` (README row: {row})\n{}", text(&out.stderr));
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} rows run; did the table move?");
}

#[test]
fn a_recording_of_a_flow_file_embeds_the_files_text() {
    // `baton run` moves the flow's text into the header instead of holding it through the run;
    // the recording must still carry it whole, or replay and resume cannot rebuild the flow.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("embeds-text");
    std::fs::create_dir_all(&dir).expect("dir");
    let flow = dir.join("two.toml");
    let src = "[flow]\nname = \"two\"\n\n[[node]]\nid = \"a\"\nkind = \"generate\"\ncomplexity = 2\nprompt = \"say hi\"\n\n[[node]]\nid = \"b\"\nkind = \"summarize\"\ncomplexity = 3\nprompt = \"shorten {{a}}\"\nafter = [\"a\"]\n";
    std::fs::write(&flow, src).expect("write flow");
    let rec = dir.join("two.jsonl");
    let o = baton(&["run", flow.to_str().expect("utf-8"), "--record", rec.to_str().expect("utf-8"), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let recorded = std::fs::read_to_string(&rec).expect("recording");
    let header: serde_json::Value = serde_json::from_str(recorded.lines().next().expect("header")).expect("json");
    assert_eq!(header["flow"]["text"].as_str(), Some(src));
    let r = baton(&["replay", rec.to_str().expect("utf-8"), "--summary", "--format", "json"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
}
