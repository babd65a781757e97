//! `baton watch` over real loopback sockets: the captured OTLP requests are posted byte for
//! byte, with their headers, over OTLP/HTTP protobuf, OTLP/HTTP JSON and OTLP/gRPC to a
//! receiver started on port 0, and each must reconstruct to its expected.json.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use baton::routing::Catalog;
use baton::watch::service::{Finished, Report, WatchConfig, run};
use baton::watch::{AssemblerConfig, server::ReceiverConfig};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod common;
use common::otlp::*;

/// The protobuf message of a capture, decompressed when it was sent gzipped.
fn protobuf(c: &Capture) -> Vec<u8> {
    if c.meta["content_encoding"] == "gzip" {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&c.body[..]), &mut out).expect("gunzip");
        out
    } else {
        c.body.clone()
    }
}

struct Receiver {
    http: SocketAddr,
    grpc: SocketAddr,
    reports: mpsc::Receiver<Report>,
    stop: CancellationToken,
    dir: PathBuf,
}

async fn start(name: &str, max_body: usize, token: Option<&str>) -> Receiver {
    let dir = std::env::temp_dir().join(format!("baton-watch-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = WatchConfig {
        receivers: ReceiverConfig {
            http: Some("127.0.0.1:0".parse().expect("addr")),
            grpc: Some("127.0.0.1:0".parse().expect("addr")),
            max_body,
            token: token.map(String::from),
        },
        assembler: AssemblerConfig { settle: Duration::from_millis(150), max_wait: Duration::from_secs(10), ..AssemblerConfig::default() },
        catalog: Arc::new(Catalog::builtin()),
        record_dir: Some(dir.clone()),
    };
    let (tx, mut reports) = mpsc::channel(64);
    let stop = CancellationToken::new();
    tokio::spawn(run(cfg, tx, stop.clone()));
    match reports.recv().await {
        Some(Report::Listening { http: Some(http), grpc: Some(grpc) }) => Receiver { http, grpc, reports, stop, dir },
        _ => panic!("the receiver did not start"),
    }
}

/// A raw HTTP/1.1 POST: exactly these bytes, these headers. Returns status and body.
async fn post(addr: SocketAddr, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    s.write_all(body).await.expect("write body");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.expect("read");
    let head_end = resp.windows(4).position(|w| w == b"\r\n\r\n").expect("headers end");
    let head = String::from_utf8_lossy(&resp[..head_end]).to_string();
    let status: u16 = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("status");
    let mut body = resp[head_end + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else { return out };
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + n]);
        b = &b[nl + 4 + n..];
    }
}

/// Posts a capture with the headers it was sent with.
async fn post_capture(addr: SocketAddr, c: &Capture) -> u16 {
    let mut headers = vec![("Content-Type", c.meta["content_type"].as_str().expect("ct"))];
    if c.meta["content_encoding"] == "gzip" {
        headers.push(("Content-Encoding", "gzip"));
    }
    if let Some(ua) = c.meta["user_agent"].as_str() {
        headers.push(("User-Agent", ua));
    }
    post(addr, &headers, &c.body).await.0
}

async fn next_finished(r: &mut Receiver, not_runs: &mut usize) -> Box<Finished> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), r.reports.recv()).await.expect("a trace settles in time").expect("open") {
            Report::Finished(f) => return f,
            Report::NotARun { .. } => *not_runs += 1,
            Report::Failed { error, .. } => panic!("{error}"),
            Report::Listening { .. } | Report::Live(_) => {}
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    HttpProtobuf,
    HttpJson,
    Grpc,
}

async fn send(r: &Receiver, sample: &str, t: Transport) {
    match t {
        Transport::HttpProtobuf => {
            for c in captures(sample) {
                if c.meta["transport_kind"] == "grpc" {
                    // Captured over gRPC: the same message, posted as OTLP/HTTP protobuf.
                    assert_eq!(post(r.http, &[("Content-Type", "application/x-protobuf")], &c.body).await.0, 200);
                } else {
                    assert_eq!(post_capture(r.http, &c).await, 200, "{sample}");
                }
            }
        }
        Transport::HttpJson => {
            for body in json_bodies(sample) {
                let (status, resp) = post(r.http, &[("Content-Type", "application/json")], &body).await;
                assert_eq!(status, 200, "{sample}: {}", String::from_utf8_lossy(&resp));
            }
        }
        Transport::Grpc => {
            let mut client = TraceServiceClient::connect(format!("http://{}", r.grpc)).await.expect("grpc connect");
            for c in captures(sample) {
                let raw = protobuf(&c);
                let req = ExportTraceServiceRequest::decode(&raw[..]).expect("decodes");
                // What goes on the wire is the captured message byte for byte.
                assert_eq!(req.encode_to_vec(), raw, "{sample}: re-encoding changes no byte");
                let resp = client.export(req).await.expect("export").into_inner();
                assert!(resp.partial_success.is_none());
            }
        }
    }
}

#[track_caller]
fn check(sample: &str, f: &Finished) {
    let exp = expected(sample);
    let st = f.run.state();
    let tot = &exp["totals"];
    let info = &f.run.info;
    assert_eq!(info.calls as u64, tot["llm_calls"].as_u64().expect("n"), "{sample}: calls");
    assert_eq!((info.calls - info.calls_without_usage) as u64, tot["llm_calls_with_usage"].as_u64().expect("n"));
    assert_eq!(st.totals.usage.total_input(), tot["input_tokens"].as_u64().expect("n"), "{sample}: input");
    assert_eq!(st.totals.usage.output, tot["output_tokens"].as_u64().expect("n"), "{sample}: output");
    let nodes = exp.get("executions").unwrap_or(&exp["graph"]["nodes"]).as_array().expect("nodes").len();
    assert_eq!(st.units.len(), nodes, "{sample}: nodes");
    // The built-in catalog has none of these OpenAI models: unpriced, listed with tokens.
    assert!(!info.priced);
    assert_eq!(info.unpriced.iter().map(|u| u.usage.output).sum::<u64>(), tot["output_tokens"].as_u64().expect("n"));
    let path = f.recording.as_ref().expect("recorded").as_ref().expect("recording written");
    let rec = baton::record::Recording::open(path).expect("the recording reads back");
    assert_eq!(rec.header.provider, "watch");
    assert_eq!(rec.state().totals.usage, st.totals.usage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_reconstructs_over_every_transport() {
    for t in [Transport::HttpProtobuf, Transport::HttpJson, Transport::Grpc] {
        let mut r = start(&format!("{t:?}"), 8 << 20, None).await;
        for sample in SAMPLES {
            send(&r, sample, t).await;
            let exp = expected(sample);
            let mut not_runs = 0;
            let f = next_finished(&mut r, &mut not_runs).await;
            check(sample, &f);
            // The s5 health check closes before the run (its single span settles first).
            assert_eq!(not_runs as u64, exp["other_traces"].as_u64().expect("n"), "{sample} over {t:?}");
        }
        r.stop.cancel();
        let _ = std::fs::remove_dir_all(&r.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_spec_answers_and_the_receiver_carries_on() {
    let s1 = &captures("s1_langgraph_openinference")[0];
    let mut r = start("bad", s1.body.len() + 100, None).await;
    let pb = [("Content-Type", "application/x-protobuf")];
    let (st, body) = post(r.http, &[("Content-Type", "text/plain")], b"hello").await;
    assert_eq!(st, 415, "{}", String::from_utf8_lossy(&body));
    let (st, _) = post(r.http, &pb, b"\xff\xff\xff not protobuf").await;
    assert_eq!(st, 400);
    let (st, body) = post(r.http, &[("Content-Type", "application/json")], br#"{"resource_spans":[{"scope_spans":[]}]}"#).await;
    assert_eq!(st, 400);
    assert!(String::from_utf8_lossy(&body).contains("camelCase"));
    let (st, _) = post(r.http, &[("Content-Type", "application/x-protobuf"), ("Content-Encoding", "br")], b"x").await;
    assert_eq!(st, 400);
    // Over the limit before and after decompression.
    let big = vec![0u8; s1.body.len() + 200];
    assert_eq!(post(r.http, &pb, &big).await.0, 413);
    let uncompressed = protobuf(s1);
    assert!(uncompressed.len() > s1.body.len() + 100);
    assert_eq!(
        post(r.http, &[("Content-Type", "application/x-protobuf"), ("Content-Encoding", "gzip")], &{
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(&[uncompressed.clone(), uncompressed.clone(), uncompressed.clone()].concat()).expect("gz");
            e.finish().expect("gz")
        })
        .await
        .0,
        413
    );

    // A span with a malformed trace id is rejected, the rest accepted: partial success.
    let mut req = ExportTraceServiceRequest::decode(&captures("s5_two_process_propagation")[0].body[..]).expect("pb");
    let mut bad = req.resource_spans[0].scope_spans[0].spans[0].clone();
    bad.trace_id = vec![1, 2, 3];
    req.resource_spans[0].scope_spans[0].spans.push(bad);
    let (st, body) = post(r.http, &pb, &req.encode_to_vec()).await;
    assert_eq!(st, 200);
    let resp = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(&body[..]).expect("response");
    assert_eq!(resp.partial_success.expect("partial").rejected_spans, 1);
    // The same over gRPC, gzip-compressed as `OTEL_EXPORTER_OTLP_COMPRESSION=gzip` sends it.
    let mut client = TraceServiceClient::connect(format!("http://{}", r.grpc))
        .await
        .expect("connect")
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let resp = client.export(req).await.expect("export").into_inner();
    assert_eq!(resp.partial_success.expect("partial").rejected_spans, 1);

    // Still serving: a real sample (each body under the limit) goes through.
    for c in captures("s5_two_process_propagation") {
        assert_eq!(post_capture(r.http, &c).await, 200);
    }
    let mut not_runs = 0;
    let f = next_finished(&mut r, &mut not_runs).await;
    check("s5_two_process_propagation", &f);
    r.stop.cancel();
    let _ = std::fs::remove_dir_all(&r.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_when_configured() {
    let mut r = start("token", 8 << 20, Some("s3cret")).await;
    let c = &captures("s5_two_process_propagation")[0];
    let ct = ("Content-Type", "application/x-protobuf");
    assert_eq!(post(r.http, &[ct], &c.body).await.0, 401);
    assert_eq!(post(r.http, &[ct, ("Authorization", "Bearer wrong")], &c.body).await.0, 401);
    let mut client = TraceServiceClient::connect(format!("http://{}", r.grpc)).await.expect("connect");
    let req = ExportTraceServiceRequest::decode(&c.body[..]).expect("pb");
    let e = client.export(req.clone()).await.expect_err("no token");
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    let mut authed = tonic::Request::new(req);
    authed.metadata_mut().insert("authorization", "Bearer s3cret".parse().expect("meta"));
    client.export(authed).await.expect("with the token");
    for c in captures("s5_two_process_propagation").iter().skip(1) {
        assert_eq!(post(r.http, &[ct, ("Authorization", "Bearer s3cret")], &c.body).await.0, 200);
    }
    let mut not_runs = 0;
    let f = next_finished(&mut r, &mut not_runs).await;
    check("s5_two_process_propagation", &f);
    r.stop.cancel();
    let _ = std::fs::remove_dir_all(&r.dir);
}

fn post_sync(addr: &str, c: &Capture) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let mut req = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\nContent-Type: {}\r\n",
        c.body.len(),
        c.meta["content_type"].as_str().expect("ct")
    );
    if c.meta["content_encoding"] == "gzip" {
        req.push_str("Content-Encoding: gzip\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    s.write_all(&c.body).expect("write");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("status")
}

fn baton(args: &[&str], data: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_baton")).args(args).env("BATON_DATA_DIR", data).output().expect("baton runs")
}

/// The command as a user runs it: JSON per finished trace, priced from a catalog that knows
/// the models by their undated names, recorded; the recording then replays, reprices and
/// exports like any other.
#[test]
fn the_command_prints_json_records_and_the_recording_replays_reprices_exports() {
    let dir = std::env::temp_dir().join(format!("baton-watch-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let catalog = dir.join("models.toml");
    std::fs::write(
        &catalog,
        "[[model]]\nid = \"gpt-4o-mini\"\nprovider = \"openai\"\napi_model = \"gpt-4o-mini\"\ninput_per_mtok = 0.15\noutput_per_mtok = 0.60\ncached_input_per_mtok = 0.075\ncontext_window = 128000\n\n\
         [[model]]\nid = \"gpt-4o\"\nprovider = \"openai\"\napi_model = \"gpt-4o\"\ninput_per_mtok = 2.50\noutput_per_mtok = 10.0\ncached_input_per_mtok = 1.25\ncontext_window = 128000\n",
    )
    .expect("catalog");
    let runs = dir.join("runs");
    let (runs_s, catalog_s) = (runs.to_str().expect("utf8"), catalog.to_str().expect("utf8"));
    let (child, addr) = spawn_watch(&["--format", "json", "--record", runs_s, "--catalog", catalog_s], &dir);
    for c in captures("s5_two_process_propagation") {
        assert_eq!(post_sync(&addr, &c), 200);
    }
    let out = child.wait_with_output().expect("exits after one run");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = stdout.lines().next().expect("one JSON line");
    let v: Value = serde_json::from_str(first).expect("JSON");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["watch"]["priced"], true, "{first}");
    assert_eq!(v["watch"]["trace_id"], "a28eae44a0e47f6a6393ec67655c43d5");
    assert_eq!(v["totals"]["tokens"]["cached"], 32);
    // b1: 44 in, 11 out on gpt-4o-mini; b2: 55 in (32 cached), 13 out on gpt-4o.
    let want = (44.0 * 0.15 + 11.0 * 0.60 + 23.0 * 2.50 + 32.0 * 1.25 + 13.0 * 10.0) / 1e6;
    assert!((v["totals"]["cost_usd"].as_f64().expect("cost") - want).abs() < 1e-12, "{first}");
    let rec = v["recording"].as_str().expect("recorded").to_string();
    assert!(rec.starts_with(runs.to_str().expect("utf8")));

    let replay = baton(&["replay", &rec, "--summary", "--format", "json"], &dir);
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    let r: Value = serde_json::from_slice(&replay.stdout).expect("json");
    assert_eq!(r["totals"]["cost_usd"], v["totals"]["cost_usd"]);
    let reprice = baton(&["reprice", &rec, "--catalog", catalog.to_str().expect("utf8")], &dir);
    assert!(reprice.status.success(), "{}", String::from_utf8_lossy(&reprice.stderr));
    // Re-priced from its reported counts at the prices it was recorded with: the same cost
    // (a watched run is re-priced from its events, which a folded read does not keep).
    let reprice = baton(&["reprice", &rec, "--catalog", catalog.to_str().expect("utf8"), "--format", "json"], &dir);
    let p: Value = serde_json::from_slice(&reprice.stdout).expect("json");
    assert_eq!(p["repriced"]["cost_usd"], v["totals"]["cost_usd"], "{p}");
    assert_eq!(p["repriced"]["tokens"]["cached"], 32, "{p}");
    let otlp = dir.join("out.json");
    let export = baton(&["export", &rec, "--otlp", otlp.to_str().expect("utf8")], &dir);
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    assert!(std::fs::read_to_string(&otlp).expect("exported").contains("gpt-4o"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn other_addresses_need_an_explicit_flag() {
    let dir = std::env::temp_dir();
    let out = baton(&["watch", "--http", "0.0.0.0:0", "--grpc", "off"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"));
}

/// A trace whose models the catalog lacks is never summed to $0 on the human line.
#[test]
fn an_unpriced_trace_says_so_instead_of_zero() {
    let dir = std::env::temp_dir().join(format!("baton-watch-unpriced-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (child, addr) = spawn_watch(&["--no-record"], &dir);
    for c in captures("s5_two_process_propagation") {
        assert_eq!(post_sync(&addr, &c), 200);
    }
    let out = child.wait_with_output().expect("exits after one run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = stdout.lines().next().expect("a line");
    assert!(first.contains("unpriced (2 calls not in the catalog)"), "{first}");
    assert!(!first.contains("$0"), "{first}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts `baton watch` on a free loopback port (HTTP only, one run, 150 ms settle) with `extra`
/// arguments, and returns it with the address it says it listens on.
fn spawn_watch(extra: &[&str], dir: &std::path::Path) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["watch", "--http", "127.0.0.1:0", "--grpc", "off", "--settle-ms", "150", "--exit-after", "1"])
        .args(extra)
        .env("BATON_DATA_DIR", dir)
        .env("BATON_CONFIG_DIR", dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufReader::new(stderr).lines();
    let addr = loop {
        let l = lines.next().expect("a listening line").expect("utf8");
        if let Some(rest) = l.strip_prefix("baton watch: OTLP/HTTP on http://") {
            break rest.trim_end_matches("/v1/traces").to_string();
        }
    };
    // Keep reading stderr, or the receiver's next message would hit a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}
