//! Runs one benchmark shape many times, for profilers: `cargo run --release --example
//! profile_engine -- chain 200 500` (shape, size, iterations).

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
        _ => Shape::Chain { n },
    };
    let catalog = instant_catalog();
    let spec = RunSpec::new(shape.flow(5), strategy(&catalog, "instant"), catalog, "go".into(), 1);
    let providers = Providers::simulated();
    baton::tokens::warm_up();
    let t = std::time::Instant::now();
    for _ in 0..iters {
        let st = baton::headless::run_one(&spec, &providers).expect("runtime");
        assert_eq!(st.totals.done, shape.nodes());
    }
    let per = t.elapsed().as_secs_f64() / iters as f64;
    println!("{}: {:.3} ms per run, {:.0} nodes/s", shape.name(), per * 1e3, shape.nodes() as f64 / per);
}
