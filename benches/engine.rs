//! Engine overhead per node on the four standard DAG shapes, with a zero-latency simulated
//! model: everything measured is Baton's own work (scheduling, routing, token counting, context,
//! events, and the fold every view uses). And a 1000-task batch in virtual time, as
//! `baton run support-triage --tasks … --strategy smart` runs it (target ≤ 1 s).
//! Run with `cargo bench --bench engine`.

// The same allocator as the `baton` binary, so the figures are the ones users get.
#[global_allocator]
static GLOBAL: baton::alloc::Mimalloc = baton::alloc::Mimalloc;

use baton::engine::RunSpec;
use baton::load;
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
    let spec = RunSpec::new(shape.flow(1), strategy(&catalog, "instant"), catalog, "go".into(), 1);
    let providers = Providers::simulated();
    bencher.counter(ItemsCount::new(shape.nodes())).bench(|| {
        let st = baton::headless::run_one(&spec, &providers).expect("runtime");
        assert_eq!(st.totals.done, shape.nodes());
        st
    });
}

/// The support-triage sample over its 1000 tickets under the smart strategy, on the simulated
/// provider in virtual time, folded and totalled as the batch report does.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn batch_1000_tasks(bencher: divan::Bencher) {
    let (catalog, _) = load::load_catalog(None).expect("built-in catalog");
    let (flow, origin, _) = load::load_flow("support-triage").expect("sample flow");
    let (strategy, _, _) =
        load::load_strategy("smart", origin.path().and_then(std::path::Path::parent), &catalog).expect("sample strategy");
    let tasks = load::load_tasks("sample-flows/tasks/support-triage.jsonl").expect("sample tasks");
    assert_eq!(tasks.len(), 1000);
    let spec = RunSpec::new(flow, strategy, catalog, String::new(), 1);
    let providers = Providers::simulated();
    bencher.counter(ItemsCount::new(tasks.len())).bench(|| baton::headless::run_batch(&spec, &tasks, &providers).expect("runtime"));
}
