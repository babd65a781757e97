//! Fuzzing that stays: every parser (flow, strategy, catalog, keymap, theme, task list,
//! recording) gets arbitrary bytes and mutated copies of the real files (bytes flipped, inserted
//! and deleted; lines dropped, duplicated, cut, swapped and extended). None may panic, and a
//! TOML parser's errors must say where (line and column).
//!
//! CI runs a small slice (`BATON_FUZZ_CASES` unset: 256 cases per target, about 5 s in
//! debug). The long run: `BATON_FUZZ_CASES=100000 cargo test --profile bench --test parsers_never_panic`
//! (optimised like `--release`, without its whole-program link, which takes minutes).
//! Inputs that once broke a parser are kept in `regressions_stay_fixed` below.

mod common;

use baton::diag::{Diagnostics, Source};
use baton::flow::parse_flow;
use baton::record::{Header, Recorder, Recording};
use baton::routing::{Catalog, Strategy as RoutingStrategy};
use baton::tui::keymap::Keymap;
use baton::tui::theme::Theme;
use common::*;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("BATON_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

/// Errors from a TOML file must name a line and column; a few are about the file as a whole.
#[track_caller]
fn positioned(kind: &str, src: &Source, result: Result<(), Diagnostics>) {
    let Err(d) = result else { return };
    // Rendering must not panic either (spans at odd offsets, unicode, long lines).
    let rendered = d.to_string();
    for e in d.errors() {
        let whole_file = e.message.contains("missing field") || e.message.contains("has no tasks");
        assert!(
            e.line > 0 || whole_file,
            "{kind} error without a position for input {:?}:\n{rendered}",
            src.text.chars().take(400).collect::<String>()
        );
    }
}

/// Runs every text parser on the same input.
fn all_parsers(src: &Source) {
    let catalog = Catalog::builtin();
    positioned("flow", src, parse_flow(src).map(|_| ()));
    positioned("strategy", src, RoutingStrategy::parse(src, &catalog).map(|_| ()));
    positioned("catalog", src, Catalog::parse(src, Some(&catalog)).map(|_| ()));
    positioned("keymap", src, Keymap::with_user(src).map(|_| ()));
    positioned("theme", src, Theme::parse(src).map(|_| ()));
    positioned("tasks", src, baton::load::parse_tasks(src).map(|_| ()));
    let _ = baton::load::file_kind(&src.text);
}

/// Bytes of any kind: not UTF-8 is itself an error with a position.
fn from_bytes(bytes: Vec<u8>) {
    match Source::from_bytes("fuzz.toml".into(), bytes.clone()) {
        Ok(src) => all_parsers(&src),
        Err(d) => assert!(d.first().is_some_and(|e| e.line > 0), "{d}"),
    }
    let _ = Recording::parse("fuzz.jsonl", &bytes);
}

fn text_samples() -> Vec<String> {
    let mut v: Vec<String> = baton::load::SAMPLE_FLOWS
        .iter()
        .chain(baton::load::SAMPLE_STRATEGIES)
        .map(|(_, t)| t.to_string())
        .chain([baton::routing::catalog::BUILTIN_CATALOG.to_string(), baton::tui::keymap::DEFAULT.to_string()])
        .collect();
    let themes = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("themes");
    for name in ["dark", "light", "high-contrast"] {
        v.push(std::fs::read_to_string(themes.join(format!("{name}.toml"))).expect("theme"));
    }
    v.push(baton::load::SAMPLE_TASKS[0].1.lines().take(40).collect::<Vec<_>>().join("\n"));
    v
}

/// A real recording of a sample run, made once.
fn recording_sample() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        let s = spec(sample_flow("research-assistant"), sample_strategy("smart"), 1);
        let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-{}.jsonl", std::process::id()));
        let rec = Recorder::create(&path, &Header::new(&s, "sim"), s.flow.clone()).expect("recorder");
        baton::headless::run_one_with(&s, &baton::provider::Providers::simulated(), |e| rec.record(e)).expect("run");
        rec.finish().expect("recorded");
        let bytes = std::fs::read(&path).expect("read");
        let _ = std::fs::remove_file(&path);
        bytes
    })
}

/// One structure-aware edit.
#[derive(Debug, Clone)]
enum Edit {
    FlipByte(usize, u8),
    InsertBytes(usize, Vec<u8>),
    DeleteBytes(usize, usize),
    DropLine(usize),
    DuplicateLine(usize),
    CutLine(usize),
    SwapLines(usize, usize),
    AppendToLine(usize, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::FlipByte(i, b)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Edit::InsertBytes(i, b)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Edit::DeleteBytes(i, n)),
        any::<usize>().prop_map(Edit::DropLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        any::<usize>().prop_map(Edit::CutLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (
            any::<usize>(),
            prop_oneof![
                "\\PC{0,12}",
                Just(" = 1e-320".to_string()),
                Just(" = [[[[[[[[".to_string()),
                Just(".a.a.a.a.a.a.a.a = 1".to_string()),
                Just("\"\"\"".to_string()),
                Just(" = 99999999999999999999".to_string()),
            ]
        )
            .prop_map(|(i, s)| Edit::AppendToLine(i, s)),
    ]
}

fn apply(bytes: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for e in edits {
        let n = b.len().max(1);
        match e {
            Edit::FlipByte(i, x) => {
                if let Some(c) = b.get_mut(i % n) {
                    *c ^= x | 1;
                }
            }
            Edit::InsertBytes(i, x) => {
                let at = (i % n).min(b.len());
                b.splice(at..at, x.iter().copied());
            }
            Edit::DeleteBytes(i, len) => {
                let at = (i % n).min(b.len());
                let end = (at + len).min(b.len());
                b.drain(at..end);
            }
            _ => {
                let mut lines: Vec<Vec<u8>> = b.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
                let m = lines.len();
                match e {
                    Edit::DropLine(i) => {
                        lines.remove(i % m);
                    }
                    Edit::DuplicateLine(i) => {
                        let l = lines[i % m].clone();
                        lines.insert(i % m, l);
                    }
                    Edit::CutLine(i) => {
                        let l = &mut lines[i % m];
                        l.truncate(l.len() / 2);
                    }
                    Edit::SwapLines(a, c) => lines.swap(a % m, c % m),
                    Edit::AppendToLine(i, s) => lines[i % m].extend_from_slice(s.as_bytes()),
                    _ => {}
                }
                b = lines.join(&b'\n');
            }
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        from_bytes(bytes);
    }

    #[test]
    fn arbitrary_text(s in "\\PC{0,400}") {
        from_bytes(s.into_bytes());
    }

    #[test]
    fn mutated_text_files(which in any::<usize>(), edits in proptest::collection::vec(edit(), 1..6)) {
        let samples = text_samples();
        let base = &samples[which % samples.len()];
        from_bytes(apply(base.as_bytes(), &edits));
    }

    #[test]
    fn mutated_recordings(edits in proptest::collection::vec(edit(), 1..6)) {
        let _ = Recording::parse("mutated.jsonl", &apply(recording_sample(), &edits));
    }
}

/// Inputs that once panicked, hung or lost their position; each stays a test.
#[test]
fn regressions_stay_fixed() {
    let cases: &[&[u8]] = &[
        // The simulator panicked on these speeds after validation let them through.
        b"[[model]]\nid = \"gpt-5-nano\"\nsim = { tokens_per_second = 1e-20 }\n",
        b"[[model]]\nid = \"gpt-5-nano\"\nsim = { prefill_tokens_per_second = 1e-320 }\n",
        // No position: a dotted key past toml's nesting limit, an unknown provider, bad UTF-8.
        b"[flow]\nname = \"x\"\na.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a = 1\n",
        b"[provider.nope]\nmax_concurrent = 2\n",
        b"[flow]\nname = \"\xff\xfe\"\n",
        // Exponential glob: must answer, not hang.
        b"[strategy]\nname = \"s\"\ndefault_model = \"gpt-5-nano\"\n[[rule]]\nid = \"************************a\"\nmodel = \"gpt-5-nano\"\n",
    ];
    for bytes in cases {
        from_bytes(bytes.to_vec());
    }
}
