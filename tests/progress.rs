//! The progress bar of a long batch: on a terminal it shows tasks done of total, cost so far and
//! an ETA; with `--quiet`, or with stderr piped, nothing. The batch is a live one against a
//! loopback server that answers each call after a pause, so it takes more than the second the
//! bar waits for; `script` gives stderr a terminal.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::server::{Reply, Server, transcript};

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("progress-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

const ONE: &str = "[flow]\nname = \"one\"\ninput = \"hello\"\n\n[[node]]\nid = \"a\"\nkind = \"generate\"\ncomplexity = 2\nprompt = \"node a: {{input}}\"\n";

/// A flow, a catalog with one model on `server`, a strategy on it, and four tasks.
fn setup(dir: &Path, server: &Server) {
    std::fs::write(dir.join("one.toml"), ONE).expect("flow");
    std::fs::write(
        dir.join("cat.toml"),
        format!(
            "[[model]]\nid = \"m1\"\nprovider = \"openai\"\nbase_url = \"{}/v1\"\nkey_env = \"\"\ninput_per_mtok = 1.0\noutput_per_mtok = 4.0\ncontext_window = 100000\n",
            server.url()
        ),
    )
    .expect("catalog");
    std::fs::write(dir.join("s.toml"), "[strategy]\nname = \"only-m1\"\ndefault_model = \"m1\"\n[retry]\nmax_attempts = 1\n")
        .expect("strategy");
    std::fs::write(dir.join("tasks.txt"), "one\ntwo\nthree\nfour\n").expect("tasks");
}

const ARGS: &str = "run one.toml -s s.toml --catalog cat.toml --live --tasks tasks.txt --format json";

fn slow_server() -> Server {
    Server::func(|_| Reply::sse_slow(vec![(Duration::from_millis(450), transcript::openai(&["ok"], 1000, 250, 0, 0))]))
}

/// Runs baton with stderr on a terminal (`script`), returning what the terminal got.
fn on_a_terminal(dir: &Path, extra: &str) -> Option<String> {
    let bin = env!("CARGO_BIN_EXE_baton");
    let typescript = dir.join("typescript");
    let cmd = format!("'{bin}' {ARGS} {extra} > out.json");
    let out = Command::new("script")
        .args(["-qec", &cmd, typescript.to_str().expect("utf8")])
        .current_dir(dir)
        .env("BATON_CONFIG_DIR", dir)
        .env("BATON_DATA_DIR", dir)
        .env("TERM", "xterm")
        .env_remove("OPENAI_API_KEY")
        .output()
        .ok()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("out.json")).expect("out")).expect("json");
    assert_eq!(v["tasks"], 4, "the report is on stdout, whole");
    Some(String::from_utf8_lossy(&std::fs::read(&typescript).expect("typescript")).to_string())
}

#[test]
fn a_long_batch_shows_a_bar_on_a_terminal_and_nothing_otherwise() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("no `script` here: the terminal half of this test did not run");
        return;
    }
    let server = slow_server();
    let dir = scratch("bar");
    setup(&dir, &server);
    let Some(term) = on_a_terminal(&dir, "") else { return };
    // $1/M × 1,000 input + $4/M × 250 output = $0.002 a task.
    assert!(term.contains("only-m1 tasks ["), "{term}");
    assert!(term.contains("/4 · $0.00"), "{term}");
    assert!(term.contains(" so far · ETA "), "{term}");

    let quiet = on_a_terminal(&dir, "--quiet").expect("script ran before");
    assert!(!quiet.contains("so far"), "--quiet: {quiet}");

    // stderr piped: not a terminal, no bar.
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(ARGS.split(' '))
        .current_dir(&dir)
        .env("BATON_CONFIG_DIR", &dir)
        .env("BATON_DATA_DIR", &dir)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("so far") && !err.contains('\r'), "{err}");
}

/// The core hook: a batch tells it each task's cost as the task finishes, and the costs add up
/// to the batch report's total.
#[test]
fn a_batch_reports_every_task_and_its_cost_to_the_hook() {
    use baton::money::Money;
    use baton::progress::Progress;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Tally(Mutex<(u64, Money)>);
    impl Progress for Tally {
        fn advance(&self, cost: Money) {
            let mut t = self.0.lock().expect("lock");
            t.0 += 1;
            t.1 += cost;
        }
    }
    let spec = baton::engine::RunSpec::new(
        common::sample_flow("support-triage"),
        common::sample_strategy("smart"),
        common::catalog(),
        String::new(),
        1,
    );
    let tasks = baton::load::load_tasks("support-triage").expect("tasks");
    let tally = Tally::default();
    let report = baton::headless::run_batch_with(
        &spec,
        &tasks[..50],
        &baton::provider::Providers::simulated(),
        tokio_util::sync::CancellationToken::new(),
        &tally,
    )
    .expect("runs");
    let (n, cost) = *tally.0.lock().expect("lock");
    assert_eq!(n, 50);
    assert!((cost.usd() - report.totals.cost_usd).abs() < 1e-12, "{cost} vs {}", report.totals.cost_usd);
    assert!(cost > Money::ZERO);
}
