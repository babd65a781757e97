//! `baton watch` throughput: spans decoded from OTLP protobuf bodies and folded into runs, per
//! second (target ≥ 100,000 spans/s). The bodies are the captured LangGraph export (19 spans,
//! 8 model calls), copied under 1000 distinct trace ids. Run with `cargo bench --bench watch`.

// The same allocator as the `baton` binary, so the figures are the ones users get.
#[global_allocator]
static GLOBAL: baton::alloc::Mimalloc = baton::alloc::Mimalloc;

use std::sync::{Arc, LazyLock};
use std::time::Instant;

use baton::routing::Catalog;
use baton::watch::decode::{Encoding, body_to_spans};
use baton::watch::{Assembler, AssemblerConfig, Converter};
use divan::counter::ItemsCount;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

const TRACES: usize = 1000;

/// One request body per trace, each the s1 capture with its own trace id.
static BODIES: LazyLock<(Vec<Vec<u8>>, usize)> = LazyLock::new(|| {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/otlp/s1_langgraph_openinference/raw/000001.http-protobuf.bin");
    let gz = std::fs::read(path).expect("the s1 capture");
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut raw).expect("gunzip");
    let req = ExportTraceServiceRequest::decode(&raw[..]).expect("decodes");
    let mut bodies = Vec::with_capacity(TRACES);
    let mut spans = 0;
    for k in 0..TRACES {
        let mut r = req.clone();
        for rs in &mut r.resource_spans {
            for ss in &mut rs.scope_spans {
                for s in &mut ss.spans {
                    s.trace_id[12..16].copy_from_slice(&(k as u32).to_be_bytes());
                    spans += 1;
                }
            }
        }
        bodies.push(r.encode_to_vec());
    }
    (bodies, spans)
});

static CATALOG: LazyLock<Arc<Catalog>> = LazyLock::new(|| Arc::new(Catalog::builtin()));

fn main() {
    // Under `cargo test` (no `--bench`) only divan's single pass runs, to keep the suite fast.
    if !std::env::args().any(|a| a == "--bench") {
        divan::main();
        return;
    }
    // A plain timing first (cold: the first pass pays page faults and lazy setup), so the
    // figure needs no reading of divan's table.
    let (bodies, spans) = &*BODIES;
    let t = Instant::now();
    let runs = pipeline(bodies);
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(runs, TRACES);
    println!(
        "decode + assemble + reconstruct + fold: {spans} spans in {:.1} ms = {:.0} spans/s (one cold pass; target ≥ 100000)",
        secs * 1e3,
        *spans as f64 / secs
    );
    stages(bodies);
    divan::main();
}

/// Decode every body, assemble, close every trace, convert it and fold it; returns runs.
fn pipeline(bodies: &[Vec<u8>]) -> usize {
    let mut asm = Assembler::new(AssemblerConfig::default());
    let now = Instant::now();
    for b in bodies {
        let (spans, _) = body_to_spans(b, Encoding::Protobuf, None, 8 << 20).expect("decodes");
        asm.add(spans, now);
    }
    let mut runs = 0;
    let mut conv = Converter::new(CATALOG.clone());
    for closed in asm.drain() {
        let g = conv.graph(&closed.spans);
        let run = conv.convert(&g, 1, "bench", true).expect("converts");
        let st = run.state();
        divan::black_box(st.totals.usage);
        runs += 1;
    }
    runs
}

/// Where the time goes, stage by stage.
fn stages(bodies: &[Vec<u8>]) {
    let t = Instant::now();
    let decoded: Vec<_> = bodies.iter().map(|b| body_to_spans(b, Encoding::Protobuf, None, 8 << 20).expect("decodes").0).collect();
    let t_decode = t.elapsed();
    let t = Instant::now();
    let mut asm = Assembler::new(AssemblerConfig::default());
    let now = Instant::now();
    for d in decoded {
        asm.add(d, now);
    }
    let closed = asm.drain();
    let t_asm = t.elapsed();
    let mut conv = Converter::new(CATALOG.clone());
    let t = Instant::now();
    let graphs: Vec<_> = closed.iter().map(|c| conv.graph(&c.spans)).collect();
    let t_graph = t.elapsed();
    let t = Instant::now();
    let runs: Vec<_> = graphs.iter().map(|g| conv.convert(g, 1, "bench", true).expect("converts")).collect();
    let t_convert = t.elapsed();
    let t = Instant::now();
    for r in &runs {
        divan::black_box(r.state().totals.usage);
    }
    let t_fold = t.elapsed();
    println!(
        "stages: decode {t_decode:?}, assemble {t_asm:?}, graph {t_graph:?}, convert (flow, strategy, events) {t_convert:?}, fold {t_fold:?}"
    );
}

#[divan::bench(sample_count = 10)]
fn decode_only(bencher: divan::Bencher) {
    let (bodies, spans) = &*BODIES;
    bencher.counter(ItemsCount::new(*spans)).bench(|| {
        let mut n = 0;
        for b in bodies {
            n += body_to_spans(b, Encoding::Protobuf, None, 8 << 20).expect("decodes").0.len();
        }
        n
    });
}

#[divan::bench(sample_count = 10)]
fn decode_assemble_reconstruct_fold(bencher: divan::Bencher) {
    let (bodies, spans) = &*BODIES;
    bencher.counter(ItemsCount::new(*spans)).bench(|| pipeline(bodies));
}
