//! The front door's streaming paths give exactly what the whole-value paths gave: the JSON
//! report written node by node, recordings folded as they are read, the OTLP export written
//! span by span, and terminal output cleaned piece by piece. (Their speed and memory are measured by
//! `bench/front-door.sh`, not here.)

mod common;

use std::io::Write;
use std::path::PathBuf;

use baton::provider::Providers;
use baton::record::{Header, Recorder, Recording};
use baton::report::{RunReport, RunReportStream};
use baton::state::RunState;
use common::*;
use proptest::prelude::*;

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("front-door-tests");
    std::fs::create_dir_all(&dir).expect("tmp");
    dir.join(format!("{}-{name}", std::process::id()))
}

fn recorded(flow: &str, strategy: &str, name: &str) -> (PathBuf, RunState) {
    let s = spec(sample_flow(flow), sample_strategy(strategy), 1);
    let path = tmp(name);
    let rec = Recorder::create(&path, &Header::new(&s, "sim"), s.flow.clone()).expect("recorder");
    let state = baton::headless::run_one_with(&s, &Providers::simulated(), |e| rec.record(e)).expect("run");
    rec.finish().expect("flushed");
    (path, state)
}

fn same_state(a: &RunState, b: &RunState) {
    assert_eq!(a.units, b.units);
    assert_eq!(a.nodes, b.nodes);
    assert_eq!(a.totals, b.totals);
    assert_eq!(a.status, b.status);
    assert_eq!(a.events, b.events);
    assert_eq!(a.wall(), b.wall());
}

#[test]
fn the_streamed_report_is_the_report() {
    for (flow, strategy) in [("research-assistant", "smart"), ("doc-digest", "cascade"), ("code-review", "naive")] {
        let (_, state) = recorded(flow, strategy, &format!("report-{flow}.jsonl"));
        let whole = serde_json::to_string_pretty(&RunReport::new(&state)).expect("json");
        let streamed = serde_json::to_string_pretty(&RunReportStream::new(&state)).expect("json");
        assert_eq!(streamed, whole, "{flow} under {strategy}");
        assert!(whole.contains("\"nodes\": ["), "the report lists nodes");
    }
}

#[test]
fn a_recording_folded_as_read_is_the_recording_folded() {
    for (flow, strategy) in [("research-assistant", "smart"), ("doc-digest", "cascade"), ("support-triage", "smart")] {
        let (path, live) = recorded(flow, strategy, &format!("fold-{flow}.jsonl"));
        let whole = Recording::open(&path).expect("opens");
        let (folded, state) = Recording::open_folded(&path).expect("opens folded");
        assert!(folded.events.is_empty(), "no events are held");
        same_state(&state, &whole.state());
        same_state(&state, &live);
    }
}

#[test]
fn a_torn_or_broken_recording_reads_the_same_folded() {
    let (path, _) = recorded("research-assistant", "smart", "torn-src.jsonl");
    let bytes = std::fs::read(&path).expect("read");
    let torn = tmp("torn.jsonl");
    std::fs::write(&torn, &bytes[..bytes.len() - 20]).expect("write");
    let whole = Recording::open(&torn).expect("a torn end is not fatal");
    let (folded, state) = Recording::open_folded(&torn).expect("nor folded");
    assert!(whole.torn.is_some());
    assert_eq!(folded.torn, whole.torn);
    same_state(&state, &whole.state());

    // A bad line with content after it is an error, the same one both ways.
    let text = String::from_utf8(bytes).expect("utf-8");
    let mut lines: Vec<&str> = text.lines().collect();
    lines[3] = "{\"not\": \"an event\"}";
    let broken = tmp("broken.jsonl");
    std::fs::write(&broken, lines.join("\n")).expect("write");
    let a = Recording::open(&broken).map(|_| ()).expect_err("a bad line in the middle fails");
    let b = Recording::open_folded(&broken).map(|_| ()).expect_err("folded too");
    assert_eq!(a.to_string(), b.to_string());
    assert!(a.to_string().contains(":4:"), "{a}");
}

#[test]
fn the_streamed_export_is_the_export() {
    for (flow, strategy) in [("research-assistant", "smart"), ("doc-digest", "cascade"), ("code-review", "premium-parallel")] {
        let (path, _) = recorded(flow, strategy, &format!("export-{flow}.jsonl"));
        let whole = serde_json::to_string_pretty(&baton::record::otlp::export(&Recording::open(&path).expect("opens"))).expect("json");
        let (rec, state) = Recording::open_folded(&path).expect("opens folded");
        let mut streamed = Vec::new();
        let spans = baton::record::otlp::write_folded(&rec, &state, &mut streamed).expect("written");
        assert_eq!(String::from_utf8(streamed).expect("utf-8"), whole, "{flow} under {strategy}");
        assert_eq!(spans, baton::report::listed_units(&state).len() + 1, "the workflow span and one a unit");
        assert!(whole.contains("\"links\": ["), "unit spans carry their links");
    }
}

#[test]
fn a_recording_folded_without_outputs_differs_only_in_them() {
    for (flow, strategy) in [("research-assistant", "smart"), ("doc-digest", "cascade")] {
        let (path, live) = recorded(flow, strategy, &format!("lean-{flow}.jsonl"));
        let (_, mut kept) = Recording::open_folded(&path).expect("opens folded");
        let (_, lean) = Recording::open_folded_without_outputs(&path).expect("opens without outputs");
        let (_, indexed, _) = Recording::open_folded_indexed(&path).expect("opens indexed");
        assert!(live.units.iter().any(|u| !u.output().is_empty()), "the run has outputs");
        assert!(lean.units.iter().chain(&indexed.units).all(|u| u.output().is_empty()), "none is kept");
        for u in &mut kept.units {
            u.output = None;
        }
        same_state(&lean, &kept);
        same_state(&indexed, &kept);
        // The summary report reads no output.
        let report = |s: &RunState| serde_json::to_string_pretty(&RunReportStream::new(s)).expect("json");
        assert_eq!(report(&lean), report(&live), "{flow} under {strategy}");
    }
}

#[test]
fn the_export_with_outputs_read_from_the_recording_is_the_export() {
    for (flow, strategy) in [("research-assistant", "smart"), ("doc-digest", "cascade"), ("support-triage", "smart")] {
        let (path, _) = recorded(flow, strategy, &format!("indexed-{flow}.jsonl"));
        let whole = serde_json::to_string_pretty(&baton::record::otlp::export(&Recording::open(&path).expect("opens"))).expect("json");
        let (rec, state, outputs) = Recording::open_folded_indexed(&path).expect("opens indexed");
        let mut streamed = Vec::new();
        let spans = baton::record::otlp::write_indexed(&rec, &state, &outputs, &mut streamed).expect("written");
        assert_eq!(String::from_utf8(streamed).expect("utf-8"), whole, "{flow} under {strategy}");
        assert_eq!(spans, baton::report::listed_units(&state).len() + 1);
        assert!(whole.contains("output.value"), "outputs are exported");
    }
}

/// `text` as a JSON string escaped otherwise than serde_json escapes it: every character but
/// letters, digits and spaces as `\\uXXXX`, in capitals.
fn escaped_otherwise(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == ' ' {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04X}"));
            }
        }
    }
    out.push('"');
    out
}

/// The recording at `path` with every output given characters that JSON escapes, written
/// by `literal` (the output, and whether it is an odd-numbered one).
fn with_outputs_written(path: &std::path::Path, to: &str, literal: impl Fn(&str, bool) -> String) -> PathBuf {
    let text = std::fs::read_to_string(path).expect("read");
    let mut out = String::new();
    let mut k = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json line");
        let mut line = line.to_string();
        if v["ev"] == "node_finished" {
            let output = v["output"].as_str().expect("an output");
            let was = format!("\"output\":{}", serde_json::to_string(output).expect("json"));
            assert_eq!(line.matches(&was).count(), 1, "{line}");
            let spiced = format!("{output}\n\t\"quoted\" back\\slash \u{1} \u{7f} é/ \u{1F600}");
            line = line.replace(&was, &format!("\"output\":{}", literal(&spiced, k % 2 == 1)));
            k += 1;
        }
        out.push_str(&line);
        out.push('\n');
    }
    assert!(k > 2, "outputs to rewrite");
    let to = tmp(to);
    std::fs::write(&to, out).expect("write");
    to
}

fn indexed_export(path: &std::path::Path) -> String {
    let (rec, state, outputs) = Recording::open_folded_indexed(path).expect("opens indexed");
    let mut streamed = Vec::new();
    baton::record::otlp::write_indexed(&rec, &state, &outputs, &mut streamed).expect("written");
    String::from_utf8(streamed).expect("utf-8")
}

#[test]
fn an_output_escaped_otherwise_exports_as_the_same_text_escaped_alike() {
    let (path, _) = recorded("research-assistant", "smart", "escapes.jsonl");
    // One file name for both (the trace's ids come from it).
    let canonical = with_outputs_written(&path, "escapes-spiced.jsonl", |t, _| serde_json::to_string(t).expect("json"));
    // Outputs copied as the recording holds them are the outputs escaped again.
    let whole = serde_json::to_string_pretty(&baton::record::otlp::export(&Recording::open(&canonical).expect("opens"))).expect("json");
    let exported = indexed_export(&canonical);
    assert_eq!(exported, whole);
    assert!(exported.contains("\\n\\t\\\"quoted\\\" back\\\\slash \\u0001 \u{7f} é/ \u{1F600}"), "the outputs are in the export");
    // Escaped otherwise, the same texts export the same.
    let otherwise = with_outputs_written(&path, "escapes-spiced.jsonl", |t, odd| {
        if odd { escaped_otherwise(t) } else { serde_json::to_string(t).expect("json") }
    });
    assert!(std::fs::read_to_string(&otherwise).expect("read").contains("\\u002F"), "escaped otherwise");
    assert_eq!(indexed_export(&otherwise), exported);
}

#[test]
fn an_output_whose_line_changed_since_it_was_read_is_an_error() {
    let (path, _) = recorded("research-assistant", "smart", "changed.jsonl");
    let (rec, state, outputs) = Recording::open_folded_indexed(&path).expect("opens indexed");
    // Every line moves by one byte: no finish is where it was.
    let text = std::fs::read_to_string(&path).expect("read");
    let (header, events) = text.split_once('\n').expect("lines");
    std::fs::write(&path, format!("{header}\n\n{events}")).expect("write");
    let err = baton::record::otlp::write_indexed(&rec, &state, &outputs, &mut Vec::new()).expect_err("the file changed");
    assert!(err.to_string().contains("changed while it was read"), "{err}");
}

#[test]
fn a_reprice_with_outputs_read_from_the_recording_is_the_reprice() {
    for (flow, recorded_under, under) in
        [("research-assistant", "smart", "naive"), ("doc-digest", "cascade", "cascade"), ("code-review", "naive", "premium-parallel")]
    {
        let (path, _) = recorded(flow, recorded_under, &format!("reprice-{flow}.jsonl"));
        let whole = Recording::open(&path).expect("opens");
        let strategy = sample_strategy(under);
        let (want, want_state) = baton::record::reprice::reprice(&whole, strategy.clone(), whole.catalog.clone()).expect("reprices");
        let (rec, before, outputs) = Recording::open_folded_indexed(&path).expect("opens indexed");
        let (got, got_state) =
            baton::record::reprice::reprice_indexed(&rec, before, outputs, strategy, rec.catalog.clone()).expect("reprices");
        assert_eq!(got, want, "{flow} recorded under {recorded_under}, re-priced under {under}");
        same_state(&got_state, &want_state);
    }
}

/// Text through the terminal writer, in pieces of the given sizes.
fn through_writer(text: &str, pieces: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = baton::sanitize::TerminalWriter::new(&mut out);
    let mut rest = text.as_bytes();
    let mut k = 0;
    while !rest.is_empty() {
        let n = pieces.get(k % pieces.len().max(1)).copied().unwrap_or(rest.len()).clamp(1, rest.len());
        w.write_all(&rest[..n]).expect("write");
        rest = &rest[n..];
        k += 1;
    }
    w.finish().expect("finish");
    out
}

#[test]
fn the_terminal_writer_cleans_like_for_terminal_across_pieces() {
    let line = "{\"id\": \"n1\", \"text\": \"plain words\"}\n";
    let clean = line.repeat(5000);
    // Escape sequences and C1 controls far past the first 64 KB, one spanning lines.
    let dirty = format!("{clean}\u{1b}[31mred\u{1b}[0m\n\u{9d}0;title\nstill title\u{9c} after\n{clean}\u{9b}2J\n\u{7f}");
    for text in [clean.as_str(), dirty.as_str(), "", "no newline at the end"] {
        let want = baton::sanitize::for_terminal(text).into_owned();
        for pieces in [&[1usize][..], &[7, 300, 70_000], &[usize::MAX]] {
            assert_eq!(String::from_utf8(through_writer(text, pieces)).expect("utf-8"), want);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any text, cut anywhere, comes out as `for_terminal` of the whole.
    #[test]
    fn any_text_cleans_the_same_in_pieces(
        parts in prop::collection::vec(prop_oneof![
            Just("\n".to_string()),
            Just("\u{1b}[".to_string()),
            Just("\u{9d}".to_string()),
            Just("\u{9c}".to_string()),
            Just("\u{7}".to_string()),
            "[a-z ]{0,40}",
            ".{0,8}",
        ], 0..200),
        repeat in 1usize..2000,
        pieces in prop::collection::vec(1usize..100_000, 1..4),
    ) {
        let text = parts.concat().repeat(repeat.min(50_000 / (parts.concat().len() + 1) + 1));
        let want = baton::sanitize::for_terminal(&text).into_owned();
        prop_assert_eq!(String::from_utf8(through_writer(&text, &pieces)).expect("utf-8"), want);
    }
}
