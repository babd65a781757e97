//! Engine overhead per node on the four standard DAG shapes, with a zero-latency simulated
//! model: everything measured is Baton's own work (scheduling, routing, token counting, context,
//! events, and the fold every view uses). Run with `cargo bench --bench engine`.

use baton::engine::RunSpec;
use baton::provider::Providers;
use baton::shapes::{STANDARD, Shape, instant_catalog, strategy};
use divan::counter::ItemsCount;

fn main() {
    // Build the tokenizer tables before timing anything.
    baton::tokens::warm_up();
    divan::main();
}

#[divan::bench(args = STANDARD, sample_count = 20)]
fn run_shape(bencher: divan::Bencher, shape: Shape) {
    let catalog = instant_catalog();
    let spec = RunSpec::new(shape.flow(5), strategy(&catalog, "instant"), catalog, "go".into(), 1);
    let providers = Providers::simulated();
    bencher.counter(ItemsCount::new(shape.nodes())).bench(|| {
        let st = baton::headless::run_one(&spec, &providers).expect("runtime");
        assert_eq!(st.totals.done, shape.nodes());
        st
    });
}
