//! `baton catalog import` end to end: LiteLLM's table (a fixture with the real file's shapes,
//! and the whole table when `BATON_LITELLM_TABLE` names a copy) becomes a catalog `baton
//! validate` accepts, and a live run against loopback servers is priced from it exactly as
//! tokens × the table's per-token prices. The table is layered both ways a user would: through
//! config.toml's `catalogs` and through `--catalog`, each under the user's models.toml.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use baton::routing::Usage;
use common::server::{Reply, Server, transcript};

const FIXTURE: &str = "tests/fixtures/litellm/model_prices_sample.json";

const ONE: &str = "[flow]\nname = \"one\"\ninput = \"hello\"\n\n[[node]]\nid = \"a\"\nkind = \"generate\"\ncomplexity = 2\nprompt = \"node a: {{input}}\"\n";

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("import-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn baton(config: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_baton"));
    c.args(args).current_dir(env!("CARGO_MANIFEST_DIR")).env("BATON_CONFIG_DIR", config).env("BATON_DATA_DIR", config.join("data"));
    for k in ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "BATON_THEME", "BATON_STRATEGY", "BATON_KEYMAP"] {
        c.env_remove(k);
    }
    c.output().expect("runs")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A USD-per-token price from the table itself.
fn per_token(table: &serde_json::Value, key: &str, field: &str) -> f64 {
    table[key][field].as_f64().unwrap_or_else(|| panic!("{key}.{field} in the table"))
}

/// Imports `table`, validates the result, and runs one live call on gpt-4o (cached tokens) and
/// one on claude-sonnet-4-5 (cache writes), returning each node's (tokens, cost).
fn import_validate_and_run(table: &Path, name: &str) -> [(Usage, f64); 2] {
    let dir = scratch(name);
    let out = dir.join("litellm.toml");
    let imported = baton(&dir, &["catalog", "import", table.to_str().expect("utf8"), "-o", out.to_str().expect("utf8")]);
    assert_eq!(imported.status.code(), Some(0), "{}", text(&imported));
    let err = String::from_utf8_lossy(&imported.stderr).to_string();
    assert!(err.contains("imported ") && err.contains("not imported: "), "{err}");
    let valid = baton(&dir, &["validate", out.to_str().expect("utf8")]);
    assert_eq!(valid.status.code(), Some(0), "{}", text(&valid));

    // The user's overrides point the two models at loopback servers and need no key.
    let openai = Server::func(|_| Reply::sse(transcript::openai(&["hi"], 2000, 300, 1500, 0)));
    let anthropic = Server::func(|_| Reply::sse(transcript::anthropic(&["hi"], 100, 300, 200, 4000)));
    std::fs::write(
        dir.join("models.toml"),
        format!(
            "[[model]]\nid = \"gpt-4o\"\nbase_url = \"{}/v1\"\nkey_env = \"\"\n\n[[model]]\nid = \"claude-sonnet-4-5\"\nbase_url = \"{}/v1\"\nkey_env = \"\"\n",
            openai.url(),
            anthropic.url()
        ),
    )
    .expect("models.toml");
    std::fs::write(dir.join("one.toml"), ONE).expect("flow");
    let mut results = Vec::new();
    for (model, layering) in [("gpt-4o", "config"), ("claude-sonnet-4-5", "flag")] {
        let strategy = dir.join(format!("{model}.toml"));
        std::fs::write(&strategy, format!("[strategy]\nname = \"only\"\ndefault_model = \"{model}\"\n[retry]\nmax_attempts = 1\n"))
            .expect("strategy");
        let mut args = vec!["run", "one.toml", "-s", strategy.to_str().expect("utf8"), "--live", "--format", "json", "--no-record"];
        let table = table.canonicalize().expect("table path");
        if layering == "config" {
            std::fs::write(dir.join("config.toml"), format!("catalogs = [{:?}]\n", table.display().to_string())).expect("config");
        } else {
            let _ = std::fs::remove_file(dir.join("config.toml"));
            args.extend(["--catalog", table.to_str().expect("utf8")]);
        }
        let mut c = Command::new(env!("CARGO_BIN_EXE_baton"));
        c.args(&args).current_dir(&dir).env("BATON_CONFIG_DIR", &dir).env("BATON_DATA_DIR", dir.join("data"));
        for k in ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "BATON_STRATEGY"] {
            c.env_remove(k);
        }
        let run = c.output().expect("runs");
        let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&run)));
        assert_eq!(v["status"], "completed", "{}", text(&run));
        let node = &v["nodes"][0];
        assert_eq!(node["model"], model);
        results.push((serde_json::from_value(node["tokens"].clone()).expect("tokens"), node["cost_usd"].as_f64().expect("cost")));
    }
    assert_eq!(openai.requests().len(), 1);
    assert_eq!(anthropic.requests().len(), 1);
    [results[0], results[1]]
}

fn check_against_the_table(table_path: &Path, runs: [(Usage, f64); 2]) {
    let table: serde_json::Value = serde_json::from_slice(&std::fs::read(table_path).expect("table")).expect("json");
    let [(gpt, gpt_cost), (claude, claude_cost)] = runs;
    // OpenAI counts cached tokens inside prompt_tokens: 2,000 prompt of which 1,500 cached.
    assert_eq!(gpt, Usage { input: 500, cached: 1500, cache_write: 0, output: 300, reasoning: 0 });
    let want = 500.0 * per_token(&table, "gpt-4o", "input_cost_per_token")
        + 1500.0 * per_token(&table, "gpt-4o", "cache_read_input_token_cost")
        + 300.0 * per_token(&table, "gpt-4o", "output_cost_per_token");
    assert!((gpt_cost - want).abs() < 1e-12, "gpt-4o: {gpt_cost} vs {want}");
    // Anthropic reports cache reads and writes apart from input_tokens.
    assert_eq!(claude, Usage { input: 100, cached: 200, cache_write: 4000, output: 300, reasoning: 0 });
    let k = "claude-sonnet-4-5";
    let want = 100.0 * per_token(&table, k, "input_cost_per_token")
        + 200.0 * per_token(&table, k, "cache_read_input_token_cost")
        + 4000.0 * per_token(&table, k, "cache_creation_input_token_cost")
        + 300.0 * per_token(&table, k, "output_cost_per_token");
    assert!((claude_cost - want).abs() < 1e-12, "{k}: {claude_cost} vs {want}");
}

#[test]
fn the_fixture_imports_validates_and_prices_a_live_run_by_hand_arithmetic() {
    let runs = import_validate_and_run(Path::new(FIXTURE), "fixture");
    check_against_the_table(Path::new(FIXTURE), runs);
    // The same by hand, in the prices the fixture holds: gpt-4o $2.50 / $1.25 cached / $10 per M;
    // claude-sonnet-4-5 $3 / $0.30 read / $3.75 write / $15 per M.
    assert!((runs[0].1 - (500.0 * 2.5 + 1500.0 * 1.25 + 300.0 * 10.0) / 1e6).abs() < 1e-12);
    assert!((runs[1].1 - (100.0 * 3.0 + 200.0 * 0.3 + 4000.0 * 3.75 + 300.0 * 15.0) / 1e6).abs() < 1e-12);
}

/// The whole table the litellm package ships, when a copy is at hand (it is 3.5 MB and not
/// committed): `pip download litellm --no-deps`, unzip the wheel, and set BATON_LITELLM_TABLE
/// to litellm/model_prices_and_context_window_backup.json.
#[test]
fn the_full_table_imports_validates_and_prices_a_live_run_when_present() {
    let Some(path) = std::env::var_os("BATON_LITELLM_TABLE").map(PathBuf::from) else {
        eprintln!("BATON_LITELLM_TABLE not set: the full-table check did not run");
        return;
    };
    let runs = import_validate_and_run(&path, "full");
    check_against_the_table(&path, runs);
}

#[test]
fn filters_and_bad_input() {
    let dir = scratch("filters");
    let o = baton(&dir, &["catalog", "import", FIXTURE, "--provider", "anthropic", "--date", "2026-12-01"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let toml = String::from_utf8_lossy(&o.stdout);
    assert!(toml.contains("prices_read = \"2026-12-01\""), "{toml}");
    assert_eq!(toml.matches("[[model]]").count(), 1, "{toml}");
    let o = baton(&dir, &["catalog", "import", FIXTURE, "--match", "no-such-*"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to import"), "{}", text(&o));
    let o = baton(&dir, &["catalog", "import", FIXTURE, "--date", "December"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\n  \"gpt-4o\": {\"mode\": chat}\n}\n").expect("bad");
    let o = baton(&dir, &["catalog", "import", bad.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.json:2:"), "{}", text(&o));
}

/// `--catalog` takes the JSON table itself; `baton models` shows what it brought.
#[test]
fn models_lists_an_imported_table_with_its_new_fields() {
    let dir = scratch("models");
    let o = baton(&dir, &["models", "--catalog", FIXTURE, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let model = |id: &str| v["models"].as_array().and_then(|m| m.iter().find(|m| m["id"] == id).cloned()).unwrap_or_else(|| panic!("{id}"));
    assert_eq!(model("gpt-4o")["max_output"], 16384);
    assert_eq!(model("gpt-4o")["cached_input_per_mtok"], 1.25);
    assert_eq!(model("perplexity/sonar-deep-research")["reasoning_per_mtok"], 3.0);
    assert!(model("claude-opus-4-1").get("reasoning_per_mtok").is_none(), "a built-in model bills reasoning as output");
    assert!(v["sources"].as_array().expect("sources").iter().any(|s| s.as_str().is_some_and(|s| s.starts_with("LiteLLM "))));
}
