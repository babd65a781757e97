//! The captured OTLP export requests in tests/fixtures/otlp: raw bodies with their headers,
//! the OTLP/JSON form, and the ground truth. Shared by the receiver's unit tests (through
//! `#[path]`) and the loopback tests, so it names nothing of the crate.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The three captures: LangGraph with OpenInference, the openai SDK fanning out over gRPC, and
/// a trace that crosses two processes.
pub const SAMPLES: [&str; 3] = ["s1_langgraph_openinference", "s3_openai_v2_fanout_grpc", "s5_two_process_propagation"];

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/otlp")
}

/// A sample's ground truth (derived from the script that produced it, not from its spans).
pub fn expected(sample: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join(sample).join("expected.json")).expect("expected")).expect("json")
}

/// One captured request: its body as sent and the headers it came with.
pub struct Capture {
    pub body: Vec<u8>,
    pub meta: Value,
    pub recv_ns: u64,
    pub content_type: String,
    pub content_encoding: String,
}

/// A sample's captured requests, in the order they were received.
pub fn captures(sample: &str) -> Vec<Capture> {
    let dir = fixtures().join(sample).join("raw");
    let mut metas: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("raw dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".meta.json"))
        .collect();
    metas.sort();
    metas
        .into_iter()
        .map(|m| {
            let meta: Value = serde_json::from_slice(&std::fs::read(&m).expect("meta")).expect("meta json");
            let stem = m.file_name().expect("name").to_string_lossy().replace(".meta.json", "");
            let kind = meta["transport_kind"].as_str().expect("kind");
            let body = std::fs::read(dir.join(format!("{stem}.{kind}.bin"))).expect("body");
            Capture {
                body,
                recv_ns: meta["recv_unix_nano"].as_u64().expect("recv"),
                content_type: meta["content_type"].as_str().unwrap_or("").to_string(),
                content_encoding: meta["content_encoding"].as_str().unwrap_or("").to_string(),
                meta,
            }
        })
        .collect()
}

/// A sample's requests in OTLP/JSON form, in order.
pub fn json_bodies(sample: &str) -> Vec<Vec<u8>> {
    let dir = fixtures().join(sample).join("otlp_json");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).expect("dir").map(|e| e.expect("e").path()).collect();
    files.sort();
    files.into_iter().map(|f| std::fs::read(f).expect("read")).collect()
}
