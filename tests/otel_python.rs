//! A real OpenTelemetry exporter against the real binary: tests/fixtures/otel/agent_dag.py
//! (the Python SDK with its OTLP/HTTP and OTLP/gRPC exporters) sends a small agent DAG with
//! OTel GenAI attributes and with OpenLLMetry attributes, over both transports, to
//! `baton watch --format json` on loopback; each trace must come back as the DAG, calls and
//! tokens the script sent.
//!
//! Python with the packages is found through BATON_PYTHON, else the venv `.ci/run` makes
//! (target/pyotel), else `python3`. Without them the test is skipped with a reason, except
//! when BATON_CI is set (`.ci/run` sets it): there it fails, so CI cannot pass without it.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const IMPORTS: &str = "import opentelemetry.sdk.trace, opentelemetry.exporter.otlp.proto.http.trace_exporter, opentelemetry.exporter.otlp.proto.grpc.trace_exporter";

fn python() -> Result<PathBuf, String> {
    let mut tried = Vec::new();
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyotel/bin/python");
    let candidates: Vec<PathBuf> =
        std::env::var_os("BATON_PYTHON").map(PathBuf::from).into_iter().chain([venv, PathBuf::from("python3")]).collect();
    for p in candidates {
        match Command::new(&p).args(["-c", IMPORTS]).stdout(Stdio::null()).stderr(Stdio::null()).status() {
            Ok(s) if s.success() => return Ok(p),
            Ok(_) => tried.push(format!("{} (packages missing)", p.display())),
            Err(e) => tried.push(format!("{} ({e})", p.display())),
        }
    }
    Err(format!(
        "no Python with opentelemetry-sdk and its OTLP exporters: tried {}; `.ci/run` installs them into target/pyotel, or set BATON_PYTHON",
        tried.join(", ")
    ))
}

/// Kills the receiver if the test fails before it exits.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_python_otel_exporter_over_http_and_grpc_with_genai_and_openllmetry_attributes() {
    let py = match python() {
        Ok(p) => p,
        Err(why) if std::env::var_os("BATON_CI").is_some() => panic!("BATON_CI is set: {why}"),
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let dir = std::env::temp_dir().join(format!("baton-otel-python-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["watch", "--format", "json", "--exit-after", "4", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--settle-ms", "300"])
        .arg("--record")
        .arg(&dir)
        .env("BATON_DATA_DIR", &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("baton starts");
    let stderr = child.stderr.take().expect("stderr");
    let stdout = child.stdout.take().expect("stdout");
    let mut guard = Guard(child);
    // The receivers print where they listen (port 0: the system chose).
    let mut lines = BufReader::new(stderr).lines();
    let (mut http, mut grpc) = (None, None);
    while http.is_none() || grpc.is_none() {
        let line = lines.next().expect("baton says where it listens").expect("utf-8");
        if let Some(rest) = line.strip_prefix("baton watch: OTLP/HTTP on ") {
            http = Some(rest.trim_end_matches("/v1/traces").to_string());
        } else if let Some(rest) = line.strip_prefix("baton watch: OTLP/gRPC on ") {
            grpc = Some(format!("http://{}", rest.trim()));
        }
    }
    let (http, grpc) = (http.expect("http"), grpc.expect("grpc"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/otel/agent_dag.py");
    let out = Command::new(&py).arg(&script).arg(&http).arg(&grpc).output().expect("python runs");
    assert!(out.status.success(), "the exporter script failed:\n{}", String::from_utf8_lossy(&out.stderr));

    // Four traces settle; baton exits after the fourth.
    let start = Instant::now();
    let status = loop {
        if let Some(s) = guard.0.try_wait().expect("wait") {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "baton watch did not finish four traces");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let text = std::io::read_to_string(stdout).expect("stdout");
    let runs: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let services: BTreeSet<&str> = runs.iter().map(|r| r["watch"]["services"][0].as_str().expect("service")).collect();
    assert_eq!(services, BTreeSet::from(["genai-grpc", "genai-http", "openllmetry-grpc", "openllmetry-http"]));

    for r in &runs {
        let service = r["watch"]["services"][0].as_str().expect("service");
        assert_eq!(r["status"], "completed", "{service}");
        assert_eq!(r["watch"]["calls"], 4, "{service}: one call per step");
        assert_eq!(r["watch"]["calls_without_usage"], 0, "{service}");
        // What the script sent, per step: input (incl. cached), cached read, output, reasoning.
        let want = [
            ("research_run", 0, 0, 0, 0),
            ("planner", 100, 0, 20, 0),
            ("researcher_a", 200, 64, 50, 0),
            ("researcher_b", 150, 0, 40, 0),
            ("writer", 400, 0, 120, 30),
        ];
        let nodes = r["nodes"].as_array().expect("nodes");
        let ids: Vec<&str> = nodes.iter().map(|n| n["id"].as_str().expect("id")).collect();
        assert_eq!(ids, want.iter().map(|w| w.0).collect::<Vec<_>>(), "{service}");
        for (n, (id, input, cached, output, reasoning)) in nodes.iter().zip(want) {
            let t = &n["tokens"];
            let got = |k: &str| t[k].as_u64().expect("count");
            assert_eq!(got("input") + got("cached") + got("cache_write"), input, "{service} {id}: input");
            assert_eq!((got("cached"), got("output"), got("reasoning")), (cached, output, reasoning), "{service} {id}");
        }
        // Time to first token: reported by OpenLLMetry's chunk events (25 ms into each step);
        // GenAI spans do not say, so the whole latency is the bound.
        for n in nodes.iter().filter(|n| n["id"] != "research_run") {
            let (ttft, latency) = (n["ttft_ms"].as_f64().expect("ttft"), n["latency_ms"].as_f64().expect("latency"));
            if service.starts_with("openllmetry") {
                assert!((ttft - 25.0).abs() < 0.01, "{service} {}: ttft {ttft}", n["id"]);
            } else {
                assert_eq!(ttft, latency, "{service} {}", n["id"]);
            }
        }
        let tot = &r["totals"]["tokens"];
        assert_eq!((tot["input"].as_u64(), tot["cached"].as_u64(), tot["output"].as_u64()), (Some(786), Some(64), Some(230)), "{service}");
        // Neither model is in the built-in catalog: unpriced, not $0.
        assert_eq!(r["totals"]["cost_usd"], Value::Null, "{service}");

        // The DAG, from the recording's flow: the run contains every step; the researchers run
        // in parallel after the planner and before the writer (inferred from timing, reduced).
        let rec = baton::record::Recording::open(Path::new(r["recording"].as_str().expect("recorded"))).expect("reads back");
        let flow = &rec.spec().flow;
        let edges: BTreeSet<(String, String)> =
            flow.nodes.iter().flat_map(|n| n.after.iter().map(move |&a| (flow.nodes[a].id.clone(), n.id.clone()))).collect();
        let e = |a: &str, b: &str| (a.to_string(), b.to_string());
        let want: BTreeSet<(String, String)> = [
            e("research_run", "planner"),
            e("research_run", "researcher_a"),
            e("research_run", "researcher_b"),
            e("research_run", "writer"),
            e("planner", "researcher_a"),
            e("planner", "researcher_b"),
            e("researcher_a", "writer"),
            e("researcher_b", "writer"),
        ]
        .into();
        assert_eq!(edges, want, "{service}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
