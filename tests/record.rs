//! Recordings: round trips, torn and foreign files, resume, re-price, export, and seeking.

mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use baton::event::{Event, Outcome, RunEvent};
use baton::provider::Providers;
use baton::record::{Header, ReadError, RecordedOutputs, Recorder, Recording};
use baton::state::{RunState, RunStatus};
use common::*;
use proptest::prelude::*;

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("record-tests");
    std::fs::create_dir_all(&dir).expect("tmp");
    dir.join(format!("{}-{name}", std::process::id()))
}

/// Runs a sample and records it; returns the events and the path.
fn recorded(flow: &str, strategy: &str, name: &str) -> (Vec<RunEvent>, PathBuf, RunState) {
    recorded_with(flow, strategy, 1, name)
}

/// [`recorded`] with another seed.
fn recorded_with(flow: &str, strategy: &str, seed: u64, name: &str) -> (Vec<RunEvent>, PathBuf, RunState) {
    let s = spec(sample_flow(flow), sample_strategy(strategy), seed);
    let path = tmp(name);
    let rec = Recorder::create(&path, &Header::new(&s, "sim"), s.flow.clone()).expect("recorder");
    let mut events = Vec::new();
    let state = baton::headless::run_one_with(&s, &Providers::simulated(), |e| {
        rec.record(e);
        events.push(e.clone());
    })
    .expect("run");
    rec.finish().expect("flushed");
    (events, path, state)
}

#[test]
fn a_recording_replays_to_the_same_events_and_totals() {
    let (events, path, live) = recorded("research-assistant", "smart", "roundtrip.jsonl");
    let rec = Recording::open(&path).expect("opens");
    assert!(rec.torn.is_none());
    assert_eq!(rec.events, events, "every event comes back as it was");
    let replayed = rec.state();
    assert_eq!(replayed.totals, live.totals);
    assert_eq!(replayed.wall(), live.wall());
    assert_eq!(rec.header.prices_read, "2026-11-28");
    assert!(rec.header.prices.contains_key("claude-opus-4-1"));
}

#[test]
fn a_torn_last_line_is_reported_not_fatal() {
    let (events, path, _) = recorded("research-assistant", "smart", "torn.jsonl");
    let mut bytes = std::fs::read(&path).expect("read");
    // Cut the file in the middle of its last line, as a kill during a write would.
    let last_nl = bytes[..bytes.len() - 1].iter().rposition(|b| *b == b'\n').expect("lines");
    bytes.truncate(last_nl + 10);
    let rec = Recording::parse("torn.jsonl", &bytes).expect("still replays");
    assert!(rec.torn.as_deref().is_some_and(|t| t.contains("incomplete")), "{:?}", rec.torn);
    assert_eq!(rec.events.len(), events.len() - 1);
    // Its run never finished, and the file will not grow: interrupted, as `baton runs` says,
    // not running; and not a success in an export.
    let st = rec.state();
    assert_eq!(baton::report::RunReport::new(&st).status, "interrupted");
    let table = baton::report::run_table(&st);
    assert!(table.lines().next().is_some_and(|l| l.ends_with("interrupted")), "{table}");
    let root = baton::record::otlp::root_span(&st, &baton::record::otlp::Trace::of(&rec));
    assert_eq!(root["status"]["code"], 2, "{root}");
}

#[test]
fn foreign_newer_and_broken_files_say_what_they_are() {
    let err = Recording::parse("x.toml", b"[flow]\nname = \"x\"\n").expect_err("not a recording");
    assert!(matches!(err, ReadError::NotARecording { .. }), "{err}");
    assert!(err.to_string().contains("not a Baton recording"));
    assert!(Recording::parse("e.jsonl", b"").is_err());

    let (_, path, _) = recorded("research-assistant", "smart", "newer.jsonl");
    let text = std::fs::read_to_string(&path).expect("read");
    let newer = text.replacen("\"version\":1", "\"version\":7", 1);
    let err = Recording::parse("newer.jsonl", newer.as_bytes()).expect_err("newer");
    assert!(err.to_string().contains("version 7 is newer than this Baton reads (version 2)"), "{err}");
    // A simulated run holds no exchanges and is written as version 1, which every Baton reads.
    assert!(text.starts_with("{\"format\":\"baton-recording\",\"version\":1,"), "{}", &text[..60]);

    // A header as an array (every field, in order), with a format that is not a string, or
    // without its seed.
    let (header, rest) = text.split_once('\n').expect("lines");
    let h = Recording::parse("once.jsonl", text.as_bytes()).expect("reads").header;
    let fields = serde_json::json!([
        h.format,
        h.version,
        h.baton_version,
        h.created_unix_ms,
        h.run,
        h.attempt,
        h.parent,
        h.provider,
        h.seed,
        h.input,
        h.flow,
        h.strategy,
        h.catalog,
        h.prices_read,
        h.prices
    ]);
    for (first, why) in [
        (fields.to_string(), "does not say format"),
        (header.replacen("\"format\":\"baton-recording\"", "\"format\":5", 1), "does not say format"),
        (header.replacen("\"seed\":", "\"sown\":", 1), "header is incomplete: missing field `seed`"),
    ] {
        let err = Recording::parse("odd.jsonl", format!("{first}\n{rest}").as_bytes()).expect_err("not read");
        assert!(err.to_string().contains(why), "{first}: {err}");
    }
    // A key given twice counts once, its last value (as any JSON object read whole).
    let once = Recording::parse("once.jsonl", text.as_bytes()).expect("reads");
    for (key, first) in [("format", "\"other\""), ("seed", "999")] {
        let twice = header.replacen(&format!("\"{key}\":"), &format!("\"{key}\":{first},\"{key}\":"), 1);
        assert!(twice.contains(first), "{twice}");
        let rec = Recording::parse("twice.jsonl", format!("{twice}\n{rest}").as_bytes()).expect("reads");
        assert_eq!((rec.events.len(), rec.header.seed), (once.events.len(), once.header.seed), "{key}");
    }

    let mut lines: Vec<&str> = text.lines().collect();
    lines[3] = "{\"ev\":\"node_started\",\"t\":\"soon\"}";
    let err = Recording::parse("broken.jsonl", lines.join("\n").as_bytes()).expect_err("bad line");
    assert!(err.to_string().starts_with("broken.jsonl:4: not a recorded event"), "{err}");
}

#[test]
fn resume_reuses_what_finished_and_runs_the_rest() {
    let (events, path, full) = recorded("doc-digest", "smart", "resume.jsonl");
    // Keep the first half of the lines: an interrupted run.
    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    let half = lines[..lines.len() / 2].join("\n");
    let rec = Recording::parse("half.jsonl", half.as_bytes()).expect("half");
    let before = rec.state();
    assert_eq!(before.status, RunStatus::Running);
    let finished = before.totals.done;
    assert!(finished > 0 && finished < full.totals.done, "{finished} of {}", full.totals.done);

    let store = RecordedOutputs::from_state(&before, &HashSet::new());
    assert_eq!(store.len(), finished);
    let mut s = rec.spec();
    s.store = Some(Arc::new(store));
    let (_, after) = sim(&s);
    assert_eq!(after.status, RunStatus::Finished(Outcome::Completed));
    assert_eq!(after.totals.cached, finished, "every finished node is reused");
    assert_eq!(after.totals.done, full.totals.done - finished, "only the rest is called");
    // The interrupted run's spending plus the resumed run's equals the whole run's.
    assert_eq!(before.totals.cost.total() + after.totals.cost.total(), full.totals.cost.total());
    assert!(events.len() > 10);
}

#[test]
fn reprice_of_naive_under_smart_is_close_to_a_real_smart_run() {
    let (_, path, naive) = recorded("research-assistant", "naive", "reprice.jsonl");
    let rec = Recording::open(&path).expect("opens");
    let (report, after) = baton::record::reprice::reprice(&rec, sample_strategy("smart"), rec.catalog.clone()).expect("reprices");
    let (_, smart) = sim(&spec(sample_flow("research-assistant"), sample_strategy("smart"), 1));
    let est = after.totals.cost.total().usd();
    let real = smart.totals.cost.total().usd();
    assert!((est - real).abs() / real <= 0.10, "re-priced {est} vs real smart {real}");
    assert!((report.recorded.cost_usd.expect("a simulated run is priced") - naive.totals.cost.total().usd()).abs() < 1e-12);
    assert!(report.estimates.iter().any(|e| e.contains("estimate")));
    assert!(report.nodes.iter().any(|n| n.estimated.iter().any(|e| e.starts_with("output length"))));
    // Declared context sends less than full history: input tokens were recounted.
    let planner = &report.nodes[0];
    assert!(planner.input_tokens < planner.recorded_input_tokens);
}

#[test]
fn otlp_export_has_a_workflow_span_and_one_per_node() {
    let (_, path, state) = recorded("research-assistant", "smart", "otlp.jsonl");
    let rec = Recording::open(&path).expect("opens");
    let doc = baton::record::otlp::export(&rec);
    let spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 1 + baton::report::listed_units(&state).len());
    let root = &spans[0];
    assert_eq!(root["traceId"].as_str().map(str::len), Some(32));
    assert_eq!(root["spanId"].as_str().map(str::len), Some(16));
    let attr = |span: &serde_json::Value, key: &str| {
        span["attributes"].as_array().and_then(|a| a.iter().find(|x| x["key"] == key)).map(|x| x["value"].clone())
    };
    assert_eq!(attr(root, "gen_ai.operation.name").expect("op")["stringValue"], "invoke_workflow");
    let planner = &spans[1];
    assert_eq!(planner["parentSpanId"], root["spanId"]);
    assert_eq!(attr(planner, "gen_ai.operation.name").expect("op")["stringValue"], "chat");
    assert_eq!(attr(planner, "gen_ai.provider.name").expect("provider")["stringValue"], "anthropic");
    assert_eq!(attr(planner, "gen_ai.agent.name").expect("agent")["stringValue"], "planner");
    assert_eq!(attr(planner, "graph.node.id").expect("node")["stringValue"], "planner");
    assert_eq!(attr(planner, "baton.rule").expect("rule")["stringValue"], "rule 1 'hard reasoning → premium'");
    let tokens: u64 =
        attr(planner, "gen_ai.usage.input_tokens").expect("tokens")["intValue"].as_str().and_then(|s| s.parse().ok()).expect("int");
    assert_eq!(tokens, state.units[0].billed_usage.total_input());
    for key in [
        "gen_ai.request.model",
        "gen_ai.response.model",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.reasoning.output_tokens",
        "llm.token_count.prompt",
        "llm.cost.total",
        "graph.node.parent_id",
    ] {
        assert!(attr(planner, key).is_some(), "{key} missing");
    }
    let searcher = &spans[2];
    assert_eq!(attr(searcher, "graph.node.parent_id").expect("parent")["stringValue"], "planner");
}

#[test]
fn seeking_anywhere_matches_folding_up_to_that_time() {
    let (events, _, _) = recorded("doc-digest", "naive", "seek.jsonl");
    let s = spec(sample_flow("doc-digest"), sample_strategy("naive"), 1);
    let fresh = || RunState::new(s.flow.clone(), s.strategy.clone(), s.catalog.clone(), 1, 1);
    let mut player = baton::tui::player::Player::new(fresh(), 1.0, false);
    player.push(events.clone());
    player.index();
    let end = player.tape_end();
    for frac in [0.9, 0.1, 0.5, 0.0, 1.0, 0.33, 0.34, 0.2] {
        let t = end.mul_f64(frac);
        player.seek(t);
        let expect = fresh().fold(events.iter().filter(|e| e.at <= t));
        assert_eq!(player.state.totals, expect.totals, "at {t:?}");
        assert_eq!(player.state.events, expect.events, "at {t:?}");
    }
    player.seek(Duration::ZERO);
    let at_zero = events.iter().filter(|e| e.at.is_zero()).count();
    assert_eq!(player.cursor, at_zero);
    player.step();
    assert_eq!(player.cursor, at_zero + 1);
    assert!(player.paused);
}

const FLOWS: [&str; 4] = ["research-assistant", "code-review", "doc-digest", "support-triage"];
const STRATEGIES: [&str; 5] = ["naive", "smart", "cascade", "local", "premium-parallel"];

/// An event as a recording keeps it: every duration to the microsecond (the format's `_us`
/// fields). A live retry's backoff carries nanoseconds, so this is the precision a replay can
/// promise.
fn at_recorded_precision(e: &RunEvent) -> RunEvent {
    let us = |d: Duration| Duration::from_micros(d.as_micros() as u64);
    let kind = match e.kind.clone() {
        Event::NodeRetry { unit, model, try_no, error, backoff } => Event::NodeRetry { unit, model, try_no, error, backoff: us(backoff) },
        Event::NodeSent { unit, queued } => Event::NodeSent { unit, queued: us(queued) },
        Event::NodeFinished { unit, model, usage, estimated, ttft, latency, output, checks, cached, unreported } => {
            Event::NodeFinished { unit, model, usage, estimated, ttft: us(ttft), latency: us(latency), output, checks, cached, unreported }
        }
        Event::ModelCooldown { model, until, reason } => Event::ModelCooldown { model, until: us(until), reason },
        other => other,
    };
    RunEvent { at: us(e.at), kind, ..*e }
}

/// Asserts that two folds agree on everything a view reads: every unit and node, the totals,
/// the status and the clock.
#[track_caller]
fn assert_same_fold(replayed: &RunState, live: &RunState) {
    assert_eq!(replayed.units, live.units);
    assert_eq!(replayed.nodes, live.nodes);
    assert_eq!(replayed.totals, live.totals);
    assert_eq!(replayed.status, live.status);
    assert_eq!((replayed.now, replayed.finished_at, replayed.events), (live.now, live.finished_at, live.events));
    assert_eq!((replayed.seed, &replayed.input), (live.seed, &live.input));
}

/// Whether every call the run paid for is one whose output it kept: no billed failed try, no
/// escalation, no fallback. A recording keeps only the kept outputs, so only such a run can be
/// re-priced call for call.
fn only_kept_calls(st: &RunState) -> bool {
    st.totals.fallbacks == 0 && st.units.iter().all(|u| u.status == baton::state::Status::Cached || u.billed_usage == u.usage)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The recording of any sample run, under any sample strategy and seed, folds to exactly
    /// the state the live screen folded from the events as they came (to the microsecond, the
    /// recording's precision for times).
    #[test]
    fn replaying_a_recording_folds_to_the_live_state(flow in 0usize..4, strategy in 0usize..5, seed in 1u64..1000) {
        let name = format!("replay-{flow}-{strategy}-{seed}.jsonl");
        let (events, path, _) = recorded_with(FLOWS[flow], STRATEGIES[strategy], seed, &name);
        let events: Vec<RunEvent> = events.iter().map(at_recorded_precision).collect();
        let live = RunState::for_spec(&spec(sample_flow(FLOWS[flow]), sample_strategy(STRATEGIES[strategy]), seed)).fold(&events);
        let rec = Recording::open(&path).expect("opens");
        prop_assert_eq!(&rec.events, &events);
        assert_same_fold(&rec.state(), &live);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Re-pricing a recording under its own strategy and prices gives back what it cost: the
    /// same tokens and the same money, unit for unit and in total. (Runs that paid for calls
    /// whose output was not kept are left out: the recording cannot replay those calls.)
    #[test]
    fn repricing_under_the_same_prices_is_the_identity(flow in 0usize..4, strategy in 0usize..5, seed in 1u64..1000) {
        let name = format!("reprice-id-{flow}-{strategy}-{seed}.jsonl");
        let (_, path, _) = recorded_with(FLOWS[flow], STRATEGIES[strategy], seed, &name);
        let rec = Recording::open(&path).expect("opens");
        let before = rec.state();
        prop_assume!(only_kept_calls(&before));
        let (report, after) = baton::record::reprice::reprice(&rec, rec.strategy.clone(), rec.catalog.clone()).expect("reprices");
        prop_assert_eq!(after.status, before.status);
        prop_assert_eq!(after.totals.cost, before.totals.cost);
        prop_assert_eq!(after.totals.usage, before.totals.usage);
        prop_assert_eq!(after.units.len(), before.units.len());
        for (a, b) in after.units.iter().zip(&before.units) {
            prop_assert_eq!(&a.label, &b.label);
            prop_assert_eq!(&a.model, &b.model, "{}", a.label);
            prop_assert_eq!(a.cost, b.cost, "{}", a.label);
            prop_assert_eq!(a.billed_usage, b.billed_usage, "{}", a.label);
        }
        prop_assert_eq!(report.cost_ratio.unwrap_or(1.0), 1.0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn the_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = Recording::parse("fuzz.jsonl", &bytes);
    }

    #[test]
    fn any_cut_of_a_real_recording_reads_or_errors_cleanly(cut in 0usize..20_000, flip in 0usize..20_000) {
        let (_, text) = base_recording();
        let mut bytes = text[..cut.min(text.len())].to_vec();
        if !bytes.is_empty() {
            let i = flip % bytes.len();
            bytes[i] ^= 0x20;
        }
        let _ = Recording::parse("cut.jsonl", &bytes);
    }

    /// A recording cut anywhere (a kill mid-write) replays what it kept exactly: its events are
    /// the first events of the run, and they fold to the live fold of that prefix.
    #[test]
    fn a_cut_recording_replays_to_the_live_fold_of_what_it_kept(cut in any::<proptest::sample::Index>()) {
        let (events, text) = base_recording();
        let bytes = &text[..cut.index(text.len() + 1)];
        let Ok(rec) = Recording::parse("cut.jsonl", bytes) else {
            // Only a cut inside the header (the first line) may refuse to read.
            prop_assert!(bytes.iter().filter(|b| **b == b'\n').count() <= 1);
            return Ok(());
        };
        let kept: Vec<RunEvent> = events[..rec.events.len()].iter().map(at_recorded_precision).collect();
        let kept = &kept[..];
        prop_assert_eq!(&rec.events[..], kept);
        let live = RunState::new(rec.flow.clone(), rec.strategy.clone(), rec.catalog.clone(), rec.header.run, rec.header.attempt).fold(kept);
        assert_same_fold(&rec.state(), &live);
    }
}

/// One real recording and the events it was written from, shared by the cut properties.
fn base_recording() -> &'static (Vec<RunEvent>, Vec<u8>) {
    static BASE: std::sync::OnceLock<(Vec<RunEvent>, Vec<u8>)> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let (events, path, _) = recorded("research-assistant", "smart", "fuzz-base.jsonl");
        (events, std::fs::read(path).expect("read"))
    })
}

/// Runs research-assistant into a recorder at `path`, calling `fault` half-way through.
fn record_with_fault(path: &std::path::Path, fault: impl FnOnce()) -> std::io::Result<PathBuf> {
    let s = spec(sample_flow("research-assistant"), sample_strategy("smart"), 1);
    let rec = Recorder::create(path, &Header::new(&s, "sim"), s.flow.clone()).expect("recorder");
    let mut n = 0;
    let mut fault = Some(fault);
    baton::headless::run_one_with(&s, &Providers::simulated(), |e| {
        rec.record(e);
        n += 1;
        if n == 20
            && let Some(f) = fault.take()
        {
            f();
        }
    })
    .expect("run");
    rec.finish()
}

#[test]
fn a_recording_deleted_or_replaced_mid_run_is_reported_lost() {
    let dir = tmp("gone");
    let path = dir.join("run.jsonl");
    let err = record_with_fault(&path, || std::fs::remove_dir_all(&dir).expect("delete the directory")).expect_err("lost");
    assert!(err.to_string().contains("removed") && err.to_string().contains("lost"), "{err}");

    let path = tmp("replaced.jsonl");
    let other = tmp("other.jsonl");
    let err = record_with_fault(&path, || {
        std::fs::write(&other, b"{}\n").expect("write");
        std::fs::rename(&other, &path).expect("replace");
    })
    .expect_err("lost");
    assert!(err.to_string().contains("replaced"), "{err}");
    assert_eq!(std::fs::read(&path).expect("the other file"), b"{}\n", "the file put there is left alone");

    // Untouched, the same run records normally.
    let path = tmp("fine.jsonl");
    assert_eq!(record_with_fault(&path, || {}).expect("recorded"), path);
}

/// A full disk at the start: an error, and no empty file left behind (and /dev/full itself,
/// which is not a regular file this run created, is never removed).
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_at_the_start_is_an_error() {
    let full = std::path::Path::new("/dev/full");
    if !full.exists() {
        return;
    }
    let s = spec(sample_flow("research-assistant"), sample_strategy("smart"), 1);
    assert!(Recorder::create(full, &Header::new(&s, "sim"), s.flow.clone()).is_err());
    assert!(full.exists());
}

/// A resumed run reports the whole run: reused nodes at their recorded cost and tokens,
/// labelled resumed, so its total is the uninterrupted run's; `saved` is only for cache hits;
/// and its recording folds to the same.
#[test]
fn a_resumed_run_reports_the_whole_runs_totals() {
    let (_, path, full) = recorded("doc-digest", "naive", "resume-totals.jsonl");
    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    let half = lines[..lines.len() / 2].join("\n");
    let rec = Recording::parse("half.jsonl", half.as_bytes()).expect("half");
    let before = rec.state();
    let reused = before.totals.done;
    assert!(reused > 0 && reused < full.totals.done);
    let r = baton::record::start::resume(&rec, None);
    let (events, after) = sim(&r.spec);
    assert_eq!(after.status, RunStatus::Finished(Outcome::Completed));
    assert_eq!(after.totals.cost.total(), full.totals.cost.total(), "the whole run's cost");
    assert_eq!(after.totals.usage, full.totals.usage, "the whole run's tokens");
    assert_eq!(after.totals.saved, baton::money::Money::ZERO, "nothing was saved: it was spent before");
    assert_eq!(after.totals.cached, 0);
    assert_eq!(after.units.iter().filter(|u| u.resumed.is_some()).count(), reused);
    // Reused units keep their recorded latency.
    for u in after.units.iter().filter(|u| u.resumed.is_some()) {
        let orig = full.units.iter().find(|o| o.label == u.label).expect("same unit");
        assert_eq!(u.latency, orig.latency, "{}", u.label);
    }
    // The resumed run's recording folds to the same totals.
    let refold = baton::state::RunState::for_spec(&r.spec).fold(&events);
    assert_eq!(refold.totals.cost, after.totals.cost);
    let report = baton::report::RunReport::new(&after);
    let json = serde_json::to_value(&report).expect("json");
    assert!(json["nodes"].as_array().expect("nodes").iter().any(|n| n["resumed"] == true), "labelled resumed");
}
