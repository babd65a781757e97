//! Every sample file loads; every bad fixture fails with the error its header expects.

use std::fs;
use std::path::{Path, PathBuf};

use baton::diag::{Diagnostics, Source};
use baton::flow::parse_flow;
use baton::routing::{Catalog, Strategy};

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

fn parse_any(src: &Source) -> Result<(), Diagnostics> {
    let catalog = Catalog::builtin();
    if src.text.contains("[strategy]") {
        Strategy::parse(src, &catalog).map(|_| ())
    } else if src.text.contains("[[model]]") {
        Catalog::parse(src, Some(&catalog)).map(|_| ())
    } else {
        parse_flow(src).map(|_| ())
    }
}

#[test]
fn every_sample_flow_and_strategy_loads_without_warnings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let flows = toml_files(&root.join("sample-flows"));
    let strategies = toml_files(&root.join("sample-flows/strategies"));
    assert!(flows.len() >= 4, "expected the four sample flows, found {flows:?}");
    assert!(strategies.len() >= 3, "expected naive, smart and one more, found {strategies:?}");
    for p in flows.iter().chain(&strategies).chain(&toml_files(&root.join("tests/fixtures/good"))) {
        let src = Source::read(p).expect("readable");
        let result = if p.starts_with(root.join("sample-flows/strategies")) {
            Strategy::parse(&src, &Catalog::builtin()).map(|(_, w)| w)
        } else {
            parse_flow(&src).map(|(_, w)| w)
        };
        match result {
            Ok(w) => assert!(w.0.is_empty(), "{} has warnings:\n{w}", p.display()),
            Err(e) => panic!("{} does not load:\n{e}", p.display()),
        }
    }
}

#[test]
fn embedded_samples_match_the_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, text) in baton::load::SAMPLE_FLOWS {
        let on_disk = fs::read_to_string(root.join(format!("sample-flows/{name}.toml"))).expect("sample exists");
        assert_eq!(&on_disk, text, "embedded {name} differs from the file");
    }
    for (name, text) in baton::load::SAMPLE_STRATEGIES {
        let on_disk = fs::read_to_string(root.join(format!("sample-flows/strategies/{name}.toml"))).expect("sample exists");
        assert_eq!(&on_disk, text, "embedded strategy {name} differs from the file");
    }
}

/// Each bad fixture starts with `# expect: LINE:COL message` and optionally `# help: text`.
#[test]
fn every_bad_fixture_fails_with_its_expected_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad");
    let files = toml_files(&dir);
    assert!(files.len() >= 12, "fixtures missing: {files:?}");
    for p in files {
        let text = fs::read_to_string(&p).expect("readable");
        let expect =
            text.lines().find_map(|l| l.strip_prefix("# expect: ")).unwrap_or_else(|| panic!("{} has no '# expect:' line", p.display()));
        let help = text.lines().find_map(|l| l.strip_prefix("# help: "));
        let (pos, message) = expect.split_once(' ').expect("expect line has position and message");
        let name = p.file_name().expect("name").to_string_lossy().to_string();
        let src = Source::new(name.clone(), text.clone());
        let err = match parse_any(&src) {
            Ok(()) => panic!("{name} parsed but should fail with: {expect}"),
            Err(e) => e,
        };
        let first = err.first().expect("at least one diagnostic");
        assert_eq!(format!("{}:{}", first.line, first.col), pos, "{name}: wrong position\n{err}");
        assert!(first.message.contains(message), "{name}: expected message containing {message:?}\n{err}");
        if let Some(h) = help {
            let got = first.help.clone().unwrap_or_default();
            assert!(got.contains(h), "{name}: expected help containing {h:?}, got {got:?}");
        }
        let rendered = err.to_string();
        assert!(rendered.starts_with(&format!("{name}:{pos}: error:")), "{name}: rendering\n{rendered}");
    }
}

#[test]
fn core_modules_never_import_the_tui() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("src readable") {
            let path = entry.expect("entry").path();
            let rel = path.strip_prefix(&src).expect("under src").to_string_lossy().replace('\\', "/");
            if path.is_dir() {
                if rel != "tui" && rel != "bin" {
                    stack.push(path);
                }
                continue;
            }
            if rel == "main.rs" || rel == "tui.rs" || !rel.ends_with(".rs") {
                continue;
            }
            let text = fs::read_to_string(&path).expect("readable");
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                assert!(
                    !code.contains("ratatui") && !code.contains("crossterm"),
                    "src/{rel}:{} names the TUI toolkit; only src/tui and main.rs may: {line}",
                    n + 1
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} files checked; did the layout change?");
}
