//! OTLP push, checked two ways on loopback: against `baton watch` (a pushed run must come back
//! with the same DAG, tokens and cost, so export and receiver check each other), and against a
//! small server that records what arrives (headers, encodings) and answers what a test asks
//! (errors, partial success, retries).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton::provider::Providers;
use baton::record::otlp::{Trace, dependencies};
use baton::record::push::{Protocol, PushConfig, PushError, PushFlags, resolve, send_blocking};
use baton::record::stream::StreamPush;
use baton::record::{Header, Recorder, Recording};
use baton::routing::Catalog;
use baton::state::RunState;
use baton::watch::AssemblerConfig;
use baton::watch::server::ReceiverConfig;
use baton::watch::service::{Finished, Report, WatchConfig, run};
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("otlp-push-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp");
    d
}

fn config(url: &str, protocol: Protocol, headers: &[String], env: &[(&str, &str)]) -> PushConfig {
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    resolve(&PushFlags { endpoint: Some(url), protocol: Some(protocol), headers }, &|k| {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    })
    .expect("config")
}

/// A simulated run recorded into `dir`, its spans pushed as it goes when `push` is given.
fn run_pushed(
    flow: &str,
    strategy: &str,
    dir: &std::path::Path,
    push: Option<PushConfig>,
) -> (RunState, PathBuf, Option<baton::record::stream::StreamReport>) {
    let s = spec(sample_flow(flow), sample_strategy(strategy), 3);
    let path = dir.join(format!("{flow}-{strategy}.jsonl"));
    let rec = Recorder::create(&path, &Header::new(&s, "sim"), s.flow.clone()).expect("recorder");
    let pusher = push.map(|cfg| StreamPush::start(cfg, &s, Trace::new(&path.display().to_string(), rec.header())).expect("pusher"));
    let state = baton::headless::run_one_with(&s, &Providers::simulated(), |e| {
        rec.record(e);
        if let Some(p) = &pusher {
            p.event(e);
        }
    })
    .expect("run");
    rec.finish().expect("flushed");
    (state, path, pusher.map(StreamPush::finish))
}

/// `writer[2]` as `baton watch` names it: `writer_2`.
fn plain(label: &str) -> String {
    let mut id = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            id.push(c);
        } else if !id.ends_with('_') {
            id.push('_');
        }
    }
    id.trim_matches('_').to_string()
}

type Dag = BTreeMap<String, BTreeSet<String>>;

fn dag_of_run(st: &RunState) -> Dag {
    baton::report::listed_units(st)
        .into_iter()
        .map(|i| (plain(&st.units[i].label), dependencies(st, i).into_iter().map(|d| plain(&st.units[d].label)).collect()))
        .collect()
}

fn dag_of_watched(f: &Finished) -> Dag {
    let flow = &f.run.spec.flow;
    flow.nodes.iter().map(|n| (n.id.clone(), n.after.iter().map(|&d| flow.nodes[d].id.clone()).collect())).collect()
}

/// Tokens and cost by node.
fn figures(st: &RunState, ids: impl Fn(&str) -> String) -> BTreeMap<String, (u64, u64, u64, i64)> {
    baton::report::listed_units(st)
        .into_iter()
        .map(|i| {
            let u = &st.units[i];
            let us = &u.billed_usage;
            (ids(&u.label), (us.total_input(), us.cached, us.output, u.cost.total().picodollars()))
        })
        .collect()
}

struct Watch {
    rt: tokio::runtime::Runtime,
    http: SocketAddr,
    reports: tokio::sync::mpsc::Receiver<Report>,
    stop: tokio_util::sync::CancellationToken,
}

fn watch(dir: &std::path::Path) -> Watch {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let cfg = WatchConfig {
        receivers: ReceiverConfig { http: Some("127.0.0.1:0".parse().expect("addr")), grpc: None, max_body: 8 << 20, token: None },
        assembler: AssemblerConfig { settle: Duration::from_millis(200), max_wait: Duration::from_secs(10), ..AssemblerConfig::default() },
        catalog: Arc::new(Catalog::builtin()),
        record_dir: Some(dir.to_path_buf()),
    };
    let (tx, mut reports) = tokio::sync::mpsc::channel(64);
    let stop = tokio_util::sync::CancellationToken::new();
    rt.spawn(run(cfg, tx, stop.clone()));
    let http = match rt.block_on(reports.recv()) {
        Some(Report::Listening { http: Some(h), .. }) => h,
        _ => panic!("the receiver did not start"),
    };
    Watch { rt, http, reports, stop }
}

impl Watch {
    fn next(&mut self) -> Box<Finished> {
        loop {
            let r = self.rt.block_on(async { tokio::time::timeout(Duration::from_secs(15), self.reports.recv()).await });
            match r.expect("a pushed trace settles in time").expect("open") {
                Report::Finished(f) => return f,
                Report::Failed { error, .. } => panic!("{error}"),
                Report::NotARun { trace, .. } => panic!("trace {trace} was not read as a run"),
                Report::Listening { .. } | Report::Live(_) => {}
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[track_caller]
fn same_run(original: &RunState, f: &Finished) {
    assert_eq!(dag_of_watched(f), dag_of_run(original), "nodes and edges");
    let back = f.run.state();
    assert_eq!(back.totals.usage, original.totals.usage, "tokens");
    assert_eq!(back.totals.cost.total(), original.totals.cost.total(), "cost");
    assert!(f.run.info.priced, "every call priced: {:?}", f.run.info.unpriced);
    let by_label = |l: &str| {
        // The watched run's units are labelled by node id.
        l.to_string()
    };
    assert_eq!(figures(&back, by_label), figures(original, plain), "tokens and cost per node");
}

#[test]
fn a_run_pushed_as_it_goes_to_baton_watch_comes_back_with_the_same_dag_tokens_and_cost() {
    let dir = tmp("watch");
    let mut w = watch(&dir.join("watched"));
    let url = format!("http://{}", w.http);
    // A fan-out (research-assistant) and nodes skipped by a condition (support-triage), each
    // over both encodings.
    for (flow, strategy, protocol) in [
        ("research-assistant", "smart", Protocol::Protobuf),
        ("support-triage", "smart", Protocol::Json),
        ("code-review", "cascade", Protocol::Protobuf),
    ] {
        let (state, _, report) = run_pushed(flow, strategy, &dir, Some(config(&url, protocol, &[], &[])));
        let report = report.expect("pushed");
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(report.spans, 1 + baton::report::listed_units(&state).len());
        let f = w.next();
        same_run(&state, &f);
        assert!(!state.totals.cost.total().is_zero());
    }
}

#[test]
fn spans_of_finished_nodes_go_out_while_the_run_goes() {
    let dir = tmp("paced");
    let mut w = watch(&dir.join("watched"));
    let s = spec(sample_flow("research-assistant"), sample_strategy("smart"), 3);
    let cfg = config(&format!("http://{}", w.http), Protocol::Protobuf, &[], &[]);
    let header = Header::new(&s, "sim");
    let pusher = StreamPush::start_every(cfg, &s, Trace::new("paced.jsonl", &header), Duration::from_millis(20)).expect("pusher");
    // About a second of real time: the simulated 16 s at 16× speed.
    let state =
        baton::headless::run_paced(&s, &Providers::simulated(), 16.0, tokio_util::sync::CancellationToken::new(), |e| pusher.event(e))
            .expect("run");
    let report = pusher.finish();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.requests >= 3, "batches while running, then the rest: {report:?}");
    same_run(&state, &w.next());
}

/// The command line end to end: `baton run --otlp-endpoint` against `baton watch`, with a
/// header whose value must never be printed.
#[test]
fn baton_run_with_otlp_endpoint_pushes_to_baton_watch_and_never_prints_the_header() {
    let dir = tmp("cli");
    let mut w = watch(&dir.join("watched"));
    let rec = dir.join("cli.jsonl");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["run", "research-assistant", "-s", "cascade", "--format", "json", "--record"])
        .arg(&rec)
        .args(["--otlp-endpoint", &format!("http://{}", w.http), "--otlp-header", "x-api-key=cli-secret-value-42"])
        .env("BATON_CONFIG_DIR", dir.join("no-config"))
        .env("BATON_DATA_DIR", dir.join("data"))
        .output()
        .expect("baton runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("pushed 8 spans to http://"), "{stderr}");
    assert!(!stderr.contains("cli-secret-value-42") && !String::from_utf8_lossy(&out.stdout).contains("cli-secret-value-42"));
    let recording = Recording::open(&rec).expect("recorded");
    same_run(&recording.state(), &w.next());
}

/// A bare `--otlp-endpoint` sends where config.toml's `otlp_endpoint` says when no OTEL_*
/// variable is set: set once, used by every push.
#[test]
fn a_bare_otlp_endpoint_flag_uses_the_config_files_endpoint() {
    let dir = tmp("config");
    let mut w = watch(&dir.join("watched"));
    let conf = dir.join("conf");
    std::fs::create_dir_all(&conf).expect("config dir");
    std::fs::write(conf.join("config.toml"), format!("otlp_endpoint = \"http://{}\"\n", w.http)).expect("config");
    let rec = dir.join("configured.jsonl");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["run", "research-assistant", "-s", "smart", "--format", "json", "--record"])
        .arg(&rec)
        .arg("--otlp-endpoint")
        .env("BATON_CONFIG_DIR", &conf)
        .env("BATON_DATA_DIR", dir.join("data"))
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .output()
        .expect("baton runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&format!("to http://{}/v1/traces", w.http)), "{stderr}");
    same_run(&Recording::open(&rec).expect("recorded").state(), &w.next());
}

#[test]
fn a_recording_pushed_later_comes_back_the_same_and_as_the_same_trace() {
    let dir = tmp("export");
    let mut w = watch(&dir.join("watched"));
    let url = format!("http://{}", w.http);
    let (state, path, report) = run_pushed("research-assistant", "naive", &dir, Some(config(&url, Protocol::Protobuf, &[], &[])));
    assert!(report.expect("pushed").errors.is_empty());
    let live = w.next();
    let rec = Recording::open(&path).expect("recording");
    let doc = baton::record::otlp::export(&rec);
    let pushed = send_blocking(&config(&url, Protocol::Json, &[], &[]), &doc).expect("pushed");
    assert_eq!(pushed.spans, baton::record::otlp::span_count(&doc));
    let again = w.next();
    same_run(&state, &again);
    assert_eq!(again.run.info.trace_id, live.run.info.trace_id, "the run's trace, whether pushed as it ran or from its recording");
}

// ---- a loopback server that records requests ----

#[derive(Debug, Clone)]
struct Request {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, k: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_str())
    }
}

struct Answer {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

struct Recorder2 {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Request>>>,
}

/// Serves the answers in order (the last one repeats), recording every request.
fn server(answers: Vec<Answer>) -> Recorder2 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut n = 0;
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let head_end = loop {
                let Ok(k) = s.read(&mut chunk) else { break None };
                if k == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..k]);
                if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(p);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let mut lines = head.split("\r\n");
            let path = lines.next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("").to_string();
            let headers: Vec<(String, String)> =
                lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
            let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
            let mut body = buf[head_end + 4..].to_vec();
            while body.len() < len {
                let Ok(k) = s.read(&mut chunk) else { break };
                if k == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..k]);
            }
            log.lock().expect("log").push(Request { path, headers, body });
            let a = &answers[n.min(answers.len() - 1)];
            n += 1;
            let _ = write!(
                s,
                "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                a.status,
                a.content_type,
                a.body.len()
            );
            let _ = s.write_all(&a.body);
        }
    });
    Recorder2 { addr, seen }
}

fn ok() -> Answer {
    Answer { status: 200, content_type: "application/x-protobuf", body: Vec::new() }
}

fn recording(dir: &std::path::Path) -> (RunState, Recording) {
    let (state, path, _) = run_pushed("research-assistant", "smart", dir, None);
    (state, Recording::open(&path).expect("recording"))
}

#[test]
fn headers_arrive_and_the_protobuf_decodes_with_both_conventions_and_links() {
    let dir = tmp("headers");
    let (state, rec) = recording(&dir);
    let srv = server(vec![ok()]);
    let headers = vec!["Authorization=Bearer flag-secret-value-1".to_string(), "x-project=baton-tests".to_string()];
    let cfg = config(&format!("http://{}", srv.addr), Protocol::Protobuf, &headers, &[("OTEL_EXPORTER_OTLP_HEADERS", "x-env=from%20env")]);
    let pushed = send_blocking(&cfg, &baton::record::otlp::export(&rec)).expect("pushed");
    let seen = srv.seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.path, "/v1/traces");
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(r.header("authorization"), Some("Bearer flag-secret-value-1"));
    assert_eq!(r.header("x-project"), Some("baton-tests"));
    assert_eq!(r.header("x-env"), Some("from env"), "percent-decoded from OTEL_EXPORTER_OTLP_HEADERS");
    let req = ExportTraceServiceRequest::decode(&r.body[..]).expect("protobuf decodes");
    let spans: Vec<_> = req.resource_spans.iter().flat_map(|rs| &rs.scope_spans).flat_map(|ss| &ss.spans).collect();
    assert_eq!(spans.len(), pushed.spans);
    assert_eq!(spans.len(), 1 + baton::report::listed_units(&state).len());
    let keys = |i: usize| spans[i].attributes.iter().map(|kv| kv.key.clone()).collect::<BTreeSet<_>>();
    for k in [
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "llm.token_count.prompt",
        "llm.token_count.completion",
        "openinference.span.kind",
        "gen_ai.operation.name",
    ] {
        assert!(keys(1).contains(k), "{k} on a node span");
    }
    let analyzer = spans.iter().find(|s| s.name == "chat analyzer").expect("analyzer span");
    assert_eq!(analyzer.links.len(), 3, "linked to the three searcher instances");
    assert!(analyzer.links.iter().all(|l| l.trace_id == analyzer.trace_id));
    // The secret never shows in what a failure says either.
    let bad =
        server(vec![Answer { status: 401, content_type: "application/json", body: br#"{"code":16,"message":"bad token"}"#.to_vec() }]);
    let cfg = config(&format!("http://{}", bad.addr), Protocol::Protobuf, &headers, &[]);
    let e = send_blocking(&cfg, &baton::record::otlp::export(&rec)).expect_err("401");
    assert!(matches!(&e, PushError::Status { status: 401, message, .. } if message == "bad token"), "{e:?}");
    assert!(!e.to_string().contains("flag-secret-value-1") && !format!("{cfg:?}").contains("flag-secret-value-1"));
    assert!(e.to_string().contains("--otlp-header Authorization"), "{e}");
}

#[test]
fn json_and_gzip_bodies_are_what_the_settings_say() {
    let dir = tmp("json");
    let (_, rec) = recording(&dir);
    let srv = server(vec![ok()]);
    let cfg = config(&format!("http://{}/v1/traces", srv.addr), Protocol::Json, &[], &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")]);
    send_blocking(&cfg, &baton::record::otlp::export(&rec)).expect("pushed");
    let r = srv.seen.lock().expect("log")[0].clone();
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&r.body[..]).read_to_string(&mut text).expect("gunzip");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert!(v["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"].as_str().is_some_and(|t| t.len() == 32));
}

#[test]
fn refused_error_answers_partial_success_and_retries_are_told_apart() {
    let dir = tmp("errors");
    let (_, rec) = recording(&dir);
    let doc = baton::record::otlp::export(&rec);
    // Nothing listens on a port just released.
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let e = send_blocking(&config(&format!("http://127.0.0.1:{port}"), Protocol::Protobuf, &[], &[]), &doc).expect_err("refused");
    assert!(matches!(&e, PushError::Connect { why, .. } if why.to_ascii_lowercase().contains("refused")), "{e}");

    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    let status = RpcStatus { code: 3, message: "span 7 has no name".into() }.encode_to_vec();
    let srv = server(vec![Answer { status: 400, content_type: "application/x-protobuf", body: status }]);
    let e = send_blocking(&config(&format!("http://{}", srv.addr), Protocol::Protobuf, &[], &[]), &doc).expect_err("400");
    assert!(matches!(&e, PushError::Status { status: 400, message, .. } if message == "span 7 has no name"), "{e:?}");

    let partial = br#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"two spans too old"}}"#.to_vec();
    let srv = server(vec![Answer { status: 200, content_type: "application/json", body: partial }]);
    let e = send_blocking(&config(&format!("http://{}", srv.addr), Protocol::Json, &[], &[]), &doc).expect_err("partial");
    assert!(matches!(&e, PushError::Partial { rejected: 2, message, .. } if message == "two spans too old"), "{e:?}");

    let busy = || Answer { status: 503, content_type: "text/plain", body: b"busy".to_vec() };
    let srv = server(vec![busy(), busy(), ok()]);
    send_blocking(&config(&format!("http://{}", srv.addr), Protocol::Protobuf, &[], &[]), &doc).expect("third time");
    assert_eq!(srv.seen.lock().expect("log").len(), 3, "two retries on 503");
}

#[test]
fn a_failed_push_during_a_run_loses_nothing_of_the_run() {
    let dir = tmp("failed-run");
    let srv = server(vec![Answer { status: 500, content_type: "text/plain", body: b"collector exploded".to_vec() }]);
    let (state, path, report) =
        run_pushed("research-assistant", "smart", &dir, Some(config(&format!("http://{}", srv.addr), Protocol::Protobuf, &[], &[])));
    let report = report.expect("report");
    assert_eq!(report.spans, 0);
    assert!(report.undelivered > 0);
    assert!(report.errors.iter().any(|e| e.to_string().contains("collector exploded")), "{:?}", report.errors);
    let rec = Recording::open(&path).expect("the recording is whole");
    assert_eq!(rec.state().totals, state.totals);
}
