//! Baton's side of the LangGraph comparison (`bench/peer-langgraph.sh`).
//!
//!     peer_shapes emit SHAPES.json DIR
//!         writes, for each shape, DIR/NAME.toml (the flow for `baton run`) and DIR/NAME.json
//!         (the same graph for the LangGraph script), plus DIR/instant-catalog.toml and
//!         DIR/instant-strategy.toml (a zero-latency simulated model on every node).
//!     peer_shapes serve SHAPES.json
//!         builds every shape's run once, then answers lines `INDEX MIN_SECONDS` on stdin with
//!         one line `RUNS SECONDS`: back-to-back whole runs of shape INDEX until MIN_SECONDS
//!         have passed (at least one), so the driver can interleave rounds with LangGraph's.
//!
//! A run is `headless::run_one`, what `baton run` does after parsing: routing, context
//! building, token counting with the real tokenizer, the simulated model's output, and every
//! event folded into the run state.

// The same allocator as the `baton` binary, so the figures are the ones users get.
#[global_allocator]
static GLOBAL: baton::alloc::Mimalloc = baton::alloc::Mimalloc;

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Instant;

use baton::engine::RunSpec;
use baton::provider::Providers;
use baton::shapes::{INSTANT_MODEL_TOML, Shape, instant_catalog, strategy, strategy_toml};

fn fail(msg: String) -> ! {
    eprintln!("{msg}");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = || fail("usage: peer_shapes emit SHAPES.json DIR | peer_shapes serve SHAPES.json".into());
    let (Some(mode), Some(path)) = (args.get(1), args.get(2)) else { usage() };
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| fail(format!("cannot read {path}: {e}")));
    let shapes: Vec<Shape> = serde_json::from_str(&text).unwrap_or_else(|e| fail(format!("{path} is not a list of shapes: {e}")));
    match mode.as_str() {
        "emit" => emit(&shapes, Path::new(args.get(3).unwrap_or_else(|| usage()))),
        "serve" => serve(&shapes),
        _ => usage(),
    }
}

fn emit(shapes: &[Shape], dir: &Path) {
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).unwrap_or_else(|e| fail(format!("cannot write {name}: {e}")));
    };
    std::fs::create_dir_all(dir).unwrap_or_else(|e| fail(format!("cannot create {}: {e}", dir.display())));
    write("instant-catalog.toml", INSTANT_MODEL_TOML);
    write("instant-strategy.toml", &strategy_toml("instant"));
    for shape in shapes {
        write(&format!("{}.toml", shape.name()), &shape.flow_toml(1));
        write(&format!("{}.json", shape.name()), &shape.graph_json());
    }
}

fn serve(shapes: &[Shape]) {
    baton::tokens::warm_up();
    let catalog = instant_catalog();
    let providers = Providers::simulated();
    let specs: Vec<RunSpec> =
        shapes.iter().map(|shape| RunSpec::new(shape.flow(1), strategy(&catalog, "instant"), catalog.clone(), "go".into(), 1)).collect();
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap_or_else(|e| fail(format!("stdin: {e}")));
        let mut words = line.split_whitespace();
        let index: usize = words.next().and_then(|w| w.parse().ok()).unwrap_or_else(|| fail(format!("bad request '{line}'")));
        let min_seconds: f64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0.0);
        let (Some(spec), Some(shape)) = (specs.get(index), shapes.get(index)) else { fail(format!("no shape {index}")) };
        let t = Instant::now();
        let mut runs = 0u64;
        loop {
            let st = baton::headless::run_one(spec, &providers).unwrap_or_else(|e| fail(format!("run failed: {e}")));
            assert_eq!(st.totals.done, shape.nodes(), "{shape}");
            runs += 1;
            if t.elapsed().as_secs_f64() >= min_seconds {
                break;
            }
        }
        let seconds = t.elapsed().as_secs_f64();
        writeln!(out, "{runs} {seconds:.9}").and_then(|()| out.flush()).unwrap_or_else(|e| fail(format!("stdout: {e}")));
    }
}
