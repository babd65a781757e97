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

/// No two files of `src/` import each other, directly or through others: each module's
/// dependencies point one way (a module naming its own parent or children does not count).
#[test]
fn no_import_circle_among_source_files() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("src").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let name = |p: &Path| -> String {
        let rel = p.strip_prefix(&root).expect("under src").with_extension("");
        let s = rel.to_string_lossy().replace('/', "::");
        s.strip_suffix("::mod").map(str::to_string).unwrap_or(s)
    };
    let mods: std::collections::BTreeSet<String> = files.iter().map(|p| name(p)).collect();
    let mut edges: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    for p in &files {
        let cur = name(p);
        let text = std::fs::read_to_string(p).expect("read");
        // Tests may reach anywhere.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (i, _) in text.match_indices("crate::").chain(text.match_indices("super::")) {
            let path: String = text[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':').collect();
            let mut parts: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let mut base: Vec<&str> = Vec::new();
            match parts.first() {
                Some(&"crate") => {}
                Some(&"super") => base = cur.split("::").collect::<Vec<_>>()[..cur.matches("::").count()].to_vec(),
                _ => continue,
            }
            parts.remove(0);
            let mut target = None;
            for k in 1..=parts.len() {
                let cand = base.iter().chain(&parts[..k]).copied().collect::<Vec<_>>().join("::");
                if mods.contains(&cand) {
                    target = Some(cand);
                }
            }
            if let Some(t) = target
                && t != cur
                && !cur.starts_with(&format!("{t}::"))
                && !t.starts_with(&format!("{cur}::"))
            {
                edges.entry(cur.clone()).or_default().insert(t);
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        v: &str,
        edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        state: &mut std::collections::BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(v.to_string(), 1);
        path.push(v.to_string());
        for w in edges.get(v).into_iter().flatten() {
            match state.get(w.as_str()) {
                Some(1) => {
                    let from = path.iter().position(|x| x == w).unwrap_or(0);
                    let mut cycle = path[from..].to_vec();
                    cycle.push(w.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(w, edges, state, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        state.insert(v.to_string(), 2);
        None
    }
    let mut state = std::collections::BTreeMap::new();
    for m in &mods {
        if !state.contains_key(m.as_str())
            && let Some(cycle) = visit(m, &edges, &mut state, &mut Vec::new())
        {
            panic!("an import circle: {}", cycle.join(" → "));
        }
    }
    assert!(edges.len() > 20, "the import graph was read ({} modules with imports)", edges.len());
}
