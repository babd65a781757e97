//! Run history: the SQLite index over a directory of recordings gives the list the recordings
//! give, whether built from nothing, reused warm, or updated after files change.

mod common;

use std::path::{Path, PathBuf};

use baton::history::{self, By, Filter, INDEX_FILE};
use baton::money::Money;
use baton::provider::Providers;
use baton::record::{Header, Parent, Recorder};
use common::*;

fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("history-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp");
    d
}

/// Records a simulated run into `dir/name`; returns its state.
fn record(dir: &Path, name: &str, flow: &str, strategy: &str, seed: u64, parent: Option<Parent>) -> baton::state::RunState {
    let s = spec(sample_flow(flow), sample_strategy(strategy), seed);
    let mut header = Header::new(&s, "sim");
    header.parent = parent;
    let rec = Recorder::create(&dir.join(name), &header, s.flow.clone()).expect("recorder");
    let state = baton::headless::run_one_with(&s, &Providers::simulated(), |e| rec.record(e)).expect("run");
    rec.finish().expect("flushed");
    state
}

fn filter(d: &Path) -> Filter {
    Filter { dir: Some(d.to_path_buf()), ..Filter::default() }
}

/// A directory with three completed runs, a resumed one, an interrupted one (its recording cut
/// after a few lines) and two files that are not recordings.
fn populate(d: &Path) -> Vec<baton::state::RunState> {
    let a = record(d, "a.jsonl", "research-assistant", "naive", 1, None);
    let b = record(d, "b.jsonl", "research-assistant", "smart", 2, None);
    let c = record(d, "c.jsonl", "doc-digest", "smart", 1, None);
    let r =
        record(d, "r.jsonl", "doc-digest", "cascade", 3, Some(Parent { file: "x.jsonl".into(), relation: "resume".into(), node: None }));
    let text = std::fs::read_to_string(d.join("a.jsonl")).expect("a");
    let cut: Vec<&str> = text.lines().take(6).collect();
    std::fs::write(d.join("cut.jsonl"), format!("{}\n{{\"ev\":\"node_fin", cut.join("\n"))).expect("cut");
    std::fs::write(d.join("garbage.jsonl"), "not json at all\n").expect("garbage");
    std::fs::write(d.join("empty.jsonl"), "").expect("empty");
    std::fs::write(d.join("notes.txt"), "not a recording name").expect("txt");
    vec![a, b, c, r]
}

#[test]
fn the_index_lists_what_the_recordings_say_and_rebuilds_to_the_same_list() {
    let d = dir("rebuild");
    let states = populate(&d);
    let first = history::list(&filter(&d)).expect("lists");
    assert!(first.refresh.rebuilt, "a missing index is built");
    assert_eq!(first.refresh.read, 7, "every .jsonl file is read once, the .txt is not");
    assert_eq!(first.runs.len(), 7, "unreadable recordings are listed, not dropped");
    assert_eq!(first.totals.unreadable, 2);

    // Figures are the fold's.
    let by_name = |n: &str| first.runs.iter().find(|e| e.path.ends_with(n)).expect(n);
    let a = by_name("a.jsonl");
    assert_eq!(
        (a.flow.as_str(), a.strategy.as_str(), a.source.as_str(), a.status.as_str()),
        ("research-assistant", "naive", "sim", "completed")
    );
    assert_eq!(a.cost, states[0].totals.cost.total());
    assert_eq!(a.input_tokens, states[0].totals.usage.total_input());
    assert_eq!(a.output_tokens, states[0].totals.usage.output);
    assert_eq!(a.wall_ms, states[0].wall().as_millis() as u64);
    assert_eq!(by_name("r.jsonl").relation.as_deref(), Some("resume"));
    assert_eq!(by_name("cut.jsonl").status, "interrupted");
    let garbage = by_name("garbage.jsonl");
    assert_eq!(garbage.status, "unreadable");
    assert!(garbage.error.as_deref().is_some_and(|e| e.contains("not a Baton recording")), "{garbage:?}");
    let total: Money = states.iter().map(|s| s.totals.cost.total()).sum::<Money>() + by_name("cut.jsonl").cost;
    assert_eq!(first.totals.cost, total);

    // Warm: nothing is read again, and the list is the same.
    let warm = history::list(&filter(&d)).expect("lists");
    assert_eq!((warm.refresh.read, warm.refresh.rebuilt), (0, false));
    assert_eq!(warm.runs, first.runs);

    // Rebuilt from nothing: the same list.
    std::fs::remove_file(d.join(INDEX_FILE)).expect("rm index");
    let rebuilt = history::list(&filter(&d)).expect("lists");
    assert!(rebuilt.refresh.rebuilt);
    assert_eq!(rebuilt.runs, first.runs);
    assert_eq!(rebuilt.totals, first.totals);

    // A corrupt index is rebuilt, not an error.
    std::fs::write(d.join(INDEX_FILE), b"this is not sqlite, just junk bytes of some length................").expect("junk");
    let again = history::list(&filter(&d)).expect("lists");
    assert!(again.refresh.rebuilt);
    assert_eq!(again.runs, first.runs);
}

#[test]
fn changed_new_and_removed_recordings_are_noticed() {
    let d = dir("stale");
    populate(&d);
    let before = history::list(&filter(&d)).expect("lists");
    // The garbage file becomes a real recording; one run is deleted; a new one appears.
    std::fs::copy(d.join("b.jsonl"), d.join("garbage.jsonl")).expect("copy");
    std::fs::remove_file(d.join("c.jsonl")).expect("rm");
    record(&d, "n.jsonl", "code-review", "smart", 1, None);
    let after = history::list(&filter(&d)).expect("lists");
    assert_eq!((after.refresh.read, after.refresh.removed), (2, 1));
    assert_eq!(after.runs.len(), before.runs.len());
    assert!(after.runs.iter().all(|e| !e.path.ends_with("/c.jsonl")));
    let g = after.runs.iter().find(|e| e.path.ends_with("garbage.jsonl")).expect("garbage");
    assert_eq!((g.status.as_str(), g.flow.as_str()), ("completed", "research-assistant"));
    // And the whole is what a fresh index says.
    std::fs::remove_file(d.join(INDEX_FILE)).expect("rm index");
    assert_eq!(history::list(&filter(&d)).expect("lists").runs, after.runs);
}

#[test]
fn filters_and_totals_by_flow_model_and_day() {
    let d = dir("filters");
    let states = populate(&d);
    let f = |g: &dyn Fn(&mut Filter)| {
        let mut x = filter(&d);
        g(&mut x);
        history::list(&x).expect("lists")
    };
    let only = f(&|x| x.flow = Some("doc-digest".into()));
    let readable: Vec<_> = only.runs.iter().filter(|e| e.error.is_none()).collect();
    assert_eq!(readable.len(), 2);
    assert!(readable.iter().all(|e| e.flow == "doc-digest"));
    assert_eq!(only.runs.len() - readable.len(), 2, "unreadable files cannot be ruled out by flow, so they stay");
    assert_eq!(f(&|x| x.flow = Some("doc*".into())).runs, only.runs, "globs");
    assert_eq!(f(&|x| x.status = Some("completed".into())).runs.len(), 4);
    assert_eq!(f(&|x| x.status = Some("unreadable".into())).runs.len(), 2);
    let naive = states[0].totals.cost.total();
    let dear = f(&|x| {
        x.min_cost = Some(naive);
        x.status = Some("completed".into());
    });
    assert_eq!(dear.runs.len(), 1);
    assert_eq!(dear.runs[0].strategy, "naive");
    assert_eq!(f(&|x| x.since_unix_ms = Some(u64::MAX / 4)).runs.len(), 0, "nothing started in the far future");
    let limited = f(&|x| x.limit = Some(2));
    assert_eq!(limited.runs.len(), 2);
    assert_eq!(limited.totals.runs, 7, "totals cover every match, not just the shown ones");

    let (flows, _) = history::totals_by(&filter(&d), By::Flow).expect("by flow");
    let ra = flows.iter().find(|g| g.key == "research-assistant").expect("ra");
    assert_eq!(ra.runs, 3, "naive, smart and the interrupted one");
    assert_eq!(flows.iter().find(|g| g.key == "(unreadable)").map(|g| g.runs), Some(2));
    let all: Money = flows.iter().map(|g| g.cost).sum();
    let (models, _) = history::totals_by(&filter(&d), By::Model).expect("by model");
    assert_eq!(models.iter().map(|g| g.cost).sum::<Money>(), all, "the money by model adds up to the money by flow");
    let calls: u64 = models.iter().filter_map(|g| g.calls).sum();
    let done: usize = states.iter().map(|s| s.totals.done + s.totals.cached).sum();
    assert!(calls as usize >= done, "{calls} calls, {done} finished units");
    let (days, _) = history::totals_by(&filter(&d), By::Day).expect("by day");
    assert_eq!(days.iter().map(|g| g.cost).sum::<Money>(), all);
    assert!(days.iter().all(|g| g.key == "(unreadable)" || g.key.len() == 10), "{days:?}");
}

/// A `--dir` that is not there, or is a file, is the user's mistake to hear about, not an
/// empty history (the default directory, created by the first recording, may be missing).
#[test]
fn a_dir_given_that_is_missing_or_a_file_is_an_error() {
    let d = dir("none").join("missing");
    let e = history::list(&filter(&d)).expect_err("a missing --dir").to_string();
    assert!(e.contains("no such directory") && e.contains("missing"), "{e}");
    assert!(history::totals_by(&filter(&d), By::Day).is_err());
    assert!(!d.exists(), "listing creates nothing");
    let file = dir("file").join("run.jsonl");
    std::fs::write(&file, "").expect("writes");
    let e = history::list(&filter(&file)).expect_err("a file as --dir").to_string();
    assert!(e.contains("is a file, not a directory") && e.contains("baton replay"), "{e}");
}

#[test]
fn a_watched_run_is_listed_as_watched_and_an_unpriced_call_is_not_zero() {
    use baton::watch::decode::{Encoding, body_to_spans};
    let d = dir("watched");
    let body =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/otlp/s1_langgraph_openinference/otlp_json/000001.json"))
            .expect("fixture");
    let (spans, _) = body_to_spans(&body, Encoding::Json, None, 8 << 20).expect("decodes");
    // The built-in catalog does not price the fixture's gpt-4o-mini.
    let catalog = std::sync::Arc::new(baton::routing::Catalog::builtin());
    let (_, run) = baton::watch::reconstruct(&spans, catalog, 1, "test", true).expect("converts");
    assert!(!run.info.priced);
    let l = recorded_and_listed(&d, &run);
    let e = &l.runs[0];
    assert_eq!((e.source.as_str(), e.status.as_str()), ("watch", "completed"));
    assert_eq!(e.unpriced_calls as usize, run.info.unpriced.len());
    assert!(e.cost_text().starts_with("unpriced"), "{}", e.cost_text());
    assert_eq!(l.totals.unpriced_calls, e.unpriced_calls);
    assert_eq!(e.input_tokens + e.output_tokens, run.state().totals.usage.total_input() + run.state().totals.usage.output);
}

/// s3's third call streamed without usage: the listing never shows that run's cost as exact,
/// even with every model priced.
#[test]
fn a_watched_call_without_token_counts_leaves_the_cost_open() {
    use baton::watch::decode::{Encoding, body_to_spans};
    let d = dir("uncounted");
    let bodies = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/otlp/s3_openai_v2_fanout_grpc/otlp_json");
    let mut files: Vec<_> = std::fs::read_dir(&bodies).expect("fixture").map(|e| e.expect("entry").path()).collect();
    files.sort();
    let spans: Vec<_> = files
        .iter()
        .flat_map(|f| body_to_spans(&std::fs::read(f).expect("body"), Encoding::Json, None, 8 << 20).expect("decodes").0)
        .collect();
    let extra = "[[model]]\nid = \"gpt-4o-mini\"\nprovider = \"openai\"\napi_model = \"gpt-4o-mini\"\ninput_per_mtok = 0.15\noutput_per_mtok = 0.60\ncontext_window = 128000\n\n[[model]]\nid = \"o3-mini\"\nprovider = \"openai\"\napi_model = \"o3-mini\"\ninput_per_mtok = 1.10\noutput_per_mtok = 4.40\ncontext_window = 200000\n";
    let base = baton::routing::Catalog::builtin();
    let catalog = baton::routing::Catalog::parse(&baton::diag::Source::new("m.toml", extra), Some(&base)).expect("parses").0;
    let (_, run) = baton::watch::reconstruct(&spans, std::sync::Arc::new(catalog), 1, "test", true).expect("converts");
    assert!(run.info.priced && run.info.calls_without_usage == 1);
    let l = recorded_and_listed(&d, &run);
    let e = &l.runs[0];
    // Every model is priced: the call is uncounted, not unpriced, and the cost is a floor.
    assert_eq!((e.unpriced_calls, e.uncounted_calls), (0, 1));
    assert!(!e.cost.is_zero() && e.cost_text() == format!("{}+?", e.cost), "{}", e.cost_text());
    assert_eq!(l.totals.uncounted_calls, 1);
    let (models, _) = history::totals_by(&filter(&d), By::Model).expect("by model");
    assert_eq!(models.iter().map(|g| g.uncounted_calls).sum::<u64>(), 1, "{models:?}");
    assert!(models.iter().all(|g| g.key != baton::event::NO_MODEL), "the workflow span is not a call: {models:?}");
}

/// Records a watched run into `d` and lists `d`.
fn recorded_and_listed(d: &Path, run: &baton::watch::WatchedRun) -> history::Listing {
    let rec = Recorder::create(&d.join("w.jsonl"), &run.header(), run.spec.flow.clone()).expect("recorder");
    for e in &run.events {
        rec.record(e);
    }
    rec.finish().expect("flushed");
    history::list(&filter(d)).expect("lists")
}
