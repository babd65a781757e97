//! Runs one benchmark shape many times, for profilers: `cargo run --release --example
//! profile_engine -- chain 200 500` (shape: chain, fan, layered or sparse; size; iterations).

#[global_allocator]
static GLOBAL: baton::alloc::Mimalloc = baton::alloc::Mimalloc;

use baton::engine::RunSpec;
use baton::provider::Providers;
use baton::shapes::{Shape, instant_catalog, strategy};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let iters: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200);
    let shape = match args.get(1).map(String::as_str) {
        Some("fan") => Shape::FanOutIn { width: n },
        Some("layered") => Shape::Layered { layers: 10, width: n / 10 },
        Some("sparse") => Shape::Sparse { layers: 10, width: n / 10 },
        _ => Shape::Chain { n },
    };
    let catalog = instant_catalog();
    let tokens: u32 = std::env::var("TOKENS").ok().and_then(|t| t.parse().ok()).unwrap_or(5);
    let mut spec = RunSpec::new(shape.flow(tokens), strategy(&catalog, "instant"), catalog, "go".into(), 1);
    if std::env::var_os("NO_DELTAS").is_some() {
        spec.options.deltas = false;
    }
    let nofold = std::env::var_os("NO_FOLD").is_some();
    let providers = Providers::simulated();
    baton::tokens::warm_up();
    let t = std::time::Instant::now();
    for _ in 0..iters {
        if nofold {
            let mut n = 0;
            baton::engine::run_virtual(&spec, &providers, |_| n += 1).expect("runtime");
            assert!(n > shape.nodes());
        } else {
            let st = baton::headless::run_one(&spec, &providers).expect("runtime");
            assert_eq!(st.totals.done, shape.nodes());
        }
    }
    let per = t.elapsed().as_secs_f64() / iters as f64;
    println!("{}: {:.3} ms per run, {:.0} nodes/s", shape.name(), per * 1e3, shape.nodes() as f64 / per);
}
