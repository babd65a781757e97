//! Baton's side of the peer comparison: runs each DAG shape from a JSON description (the same
//! file the LangGraph script reads) with a zero-latency simulated model and prints one JSON line
//! per shape with the median time of a whole run and nodes per second.
//!
//!     cargo run --release --example peer_shapes -- bench/shapes.json [runs]

// The same allocator as the `baton` binary, so the figures are the ones users get.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use baton::engine::RunSpec;
use baton::provider::Providers;
use baton::shapes::{Shape, instant_catalog, strategy};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: peer_shapes SHAPES.json [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(21);
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("cannot read {path}: {e}");
        std::process::exit(2)
    });
    let shapes: Vec<Shape> = serde_json::from_str(&text).unwrap_or_else(|e| {
        eprintln!("{path} is not a list of shapes: {e}");
        std::process::exit(2)
    });
    baton::tokens::warm_up();
    let catalog = instant_catalog();
    let providers = Providers::simulated();
    for shape in shapes {
        let spec = RunSpec::new(shape.flow(1), strategy(&catalog, "instant"), catalog.clone(), "go".into(), 1);
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs + 2 {
            let t = Instant::now();
            let st = baton::headless::run_one(&spec, &providers).unwrap_or_else(|e| {
                eprintln!("run failed: {e}");
                std::process::exit(1)
            });
            times.push(t.elapsed().as_secs_f64());
            assert_eq!(st.totals.done, shape.nodes());
        }
        // The first two runs warm caches; the median of the rest is reported.
        let mut rest = times.split_off(2);
        rest.sort_by(f64::total_cmp);
        let median = rest[rest.len() / 2];
        println!(
            "{{\"shape\": \"{}\", \"nodes\": {}, \"seconds\": {median:.6}, \"nodes_per_second\": {:.0}}}",
            shape.name(),
            shape.nodes(),
            shape.nodes() as f64 / median
        );
    }
}
