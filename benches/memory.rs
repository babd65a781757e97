//! Peak memory of a 10,000-node run, as `baton run` does it: simulated provider in virtual
//! time, every event folded into the run state (every output kept) and written to a recording.
//! Peak resident memory is the process's high-water mark (VmHWM in /proc/self/status), so this
//! bench runs alone in its own process. Target ≤ 100 MB.
//!
//! Run with `cargo bench --bench memory` (each shape in a fresh process). Under `cargo test`
//! (no `--bench`) it runs a 200-node chain, so the code keeps working without slowing the suite.

// The same allocator as the `baton` binary, so the figures are the ones users get.
#[global_allocator]
static GLOBAL: baton::alloc::Mimalloc = baton::alloc::Mimalloc;

use baton::engine::RunSpec;
use baton::provider::Providers;
use baton::record::{Header, Recorder};
use baton::shapes::{Shape, instant_catalog, strategy};

const TARGET_MB: f64 = 100.0;

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let arg = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let shape = match arg.as_deref() {
        Some("chain") => Shape::Chain { n: 10_000 },
        Some("fan") => Shape::FanOutIn { width: 9_998 },
        _ if !bench => Shape::Chain { n: 200 },
        _ => {
            // One fresh process per shape, so each high-water mark is that run's alone.
            let me = std::env::current_exe().expect("own path");
            for which in ["chain", "fan"] {
                let status = std::process::Command::new(&me).arg(which).status().expect("runs itself");
                assert!(status.success(), "the {which} run failed");
            }
            return;
        }
    };
    baton::tokens::warm_up();
    let before = high_water_mb();

    let catalog = instant_catalog();
    // A real model's simulated timing and ~200-token outputs, so the run holds real text.
    let spec = RunSpec::new(shape.flow(200), strategy(&catalog, "gpt-5.4-mini"), catalog, "go".into(), 1);
    let path = std::env::temp_dir().join(format!("baton-memory-bench-{}.jsonl", std::process::id()));
    let recorder = Recorder::create(&path, &Header::new(&spec, "sim"), spec.flow.clone()).expect("temporary recording");
    let st = baton::headless::run_one_with(&spec, &Providers::simulated(), |e| recorder.record(e)).expect("runtime");
    recorder.finish().expect("recording written");
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&path);
    assert_eq!(st.totals.done, shape.nodes());

    let peak = high_water_mb();
    let verdict = if peak <= TARGET_MB { "met" } else { "MISSED" };
    println!(
        "{:<16} {} nodes, {} events, recording {:.1} MB: peak resident {peak:.1} MB ({before:.1} MB before the run; target ≤ {TARGET_MB} MB): {verdict}",
        shape.name(),
        shape.nodes(),
        st.events,
        size as f64 / 1e6,
    );
}

/// The process's peak resident set so far, in MB.
fn high_water_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(f64::NAN);
    kb / 1024.0
}
