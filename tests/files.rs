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

/// A flow of `n` nodes in a chain, every fifth line non-ASCII (so columns must be counted in
/// characters) and, with `dups`, every tenth id repeated (so validation reports thousands of
/// errors).
fn big_flow(n: usize, dups: bool) -> String {
    let mut text = String::from("[flow]\nname = \"big\"\n\n");
    let id = |i: usize| if dups && i % 10 == 9 { i - 1 } else { i };
    for i in 0..n {
        let after = if i == 0 { String::new() } else { format!("\"n{}\"", id(i - 1)) };
        let id = id(i);
        text.push_str(&format!(
            "[[node]]\nid = \"n{id}\"\nkind = \"generate\"\ncomplexity = 3\ndescription = \"étape {i}\"\nprompt = \"step\"\nafter = [{after}]\n\n"
        ));
    }
    text
}

/// Finding a node's line once counted newlines from the start of the file, so parsing read the
/// file once per node (11 s for 10,000 nodes). Positions now come from a line index built once;
/// the check counts the bytes lookups read instead of timing them.
#[test]
fn positions_cost_one_pass_over_the_file_however_many_nodes() {
    for dups in [false, true] {
        let text = big_flow(5_000, dups);
        let src = Source::new("big.toml", text.clone());
        let result = parse_flow(&src);
        assert_eq!(result.is_err(), dups, "{:?}", result.err().map(|d| d.0.len()));
        if let Err(d) = &result {
            // Each repeated id is a duplicate, and the repeat then lists "itself" in after.
            assert_eq!(d.errors().filter(|e| e.message.starts_with("duplicate node id")).count(), 500);
            assert_eq!(d.errors().count(), 1000);
            // Rendering reads each diagnostic's line through the same index.
            assert!(d.to_string().contains("duplicate node id 'n8'"));
        }
        let scanned = src.bytes_scanned();
        let size = text.len() as u64;
        assert!(scanned <= 2 * size, "lookups read {scanned} bytes of a {size}-byte file (dups: {dups})");
    }
}

#[test]
fn file_kind_reads_headers_and_falls_back_to_parsing() {
    use baton::load::file_kind;
    for (_, text) in baton::load::SAMPLE_FLOWS {
        assert_eq!(file_kind(text).ok(), Some(Some("flow")));
    }
    for (_, text) in baton::load::SAMPLE_STRATEGIES {
        assert_eq!(file_kind(text).ok(), Some(Some("strategy")));
    }
    assert_eq!(file_kind(baton::routing::catalog::BUILTIN_CATALOG).ok(), Some(Some("catalog")));
    // A header-looking line inside a string is not trusted: the document decides.
    assert_eq!(file_kind("[strategy]\nname = \"\"\"\n[flow]\n\"\"\"\n").ok(), Some(Some("strategy")));
    assert_eq!(file_kind("flow = { name = \"x\" }\n").ok(), Some(Some("flow")));
    assert_eq!(file_kind("[other]\n").ok(), Some(None));
    // A broken header still says what the file is; its parser then reports the syntax error.
    assert_eq!(file_kind("[strategy\n").ok(), Some(Some("strategy")));
    assert!(file_kind("x = [\n").is_err());
}

/// A numeric field outside its range is an error at the value, naming the field and the range.
#[track_caller]
fn out_of_range(text: &str, at: &str, field: &str, range: &str) {
    let src = Source::new("n.toml", text);
    let offset = text.find(at).unwrap_or_else(|| panic!("{at:?} not in {text:?}"));
    let line = text[..offset].matches('\n').count() + 1;
    let col = text[..offset].rsplit('\n').next().unwrap_or("").chars().count() + 1;
    let pos = format!("{line}:{col}");
    let err = parse_any(&src).expect_err("out of range");
    let d = err.first().expect("a diagnostic");
    let rendered = err.to_string();
    assert_eq!(format!("{}:{}", d.line, d.col), pos, "should point at {at:?}:\n{rendered}");
    assert!(d.message.contains(field), "message should name {field}:\n{rendered}");
    let help = d.help.clone().unwrap_or_default();
    assert!(help.contains(range) || d.message.contains(range), "should give the range {range}:\n{rendered}");
}

#[test]
fn every_numeric_field_has_a_range_with_a_position() {
    let model = |sim: &str| format!("[[model]]\nid = \"claude-opus-4-1\"\nsim = {{ {sim} }}\n");
    out_of_range(&model("tokens_per_second = 1e-20"), "1e-20", "tokens_per_second", "0.01 to 1000000000");
    out_of_range(&model("prefill_tokens_per_second = 1e-320"), "1e-320", "prefill_tokens_per_second", "1 to 1000000000000");
    out_of_range(&model("tokens_per_second = -5.0"), "-5.0", "tokens_per_second", "use 0 (instant output)");
    out_of_range(&model("ttft_ms = 1e9"), "1e9", "ttft_ms", "0 to 600000");
    out_of_range(&model("capability = 11.0"), "11.0", "capability", "0 to 10");
    out_of_range(&model("error_rate = 1.5"), "1.5", "error_rate", "0 to 1");
    out_of_range("[[model]]\nid = \"claude-opus-4-1\"\noutput_per_mtok = 1e9\n", "1e9", "price", "0 to 100000");
    out_of_range("[[model]]\nid = \"claude-opus-4-1\"\ncontext_window = 12\n", "12", "context_window", "256 to 100000000");
    let provider = |kv: &str| format!("[provider.openai]\n{kv}\n\n[[model]]\nid = \"claude-opus-4-1\"\n");
    out_of_range(&provider("max_concurrent = -1"), "-1", "max_concurrent", "0 to 100000");
    out_of_range(&provider("requests_per_minute = 99999999999"), "999", "requests_per_minute", "0 to 10000000");
    out_of_range(&provider("tokens_per_minute = -3"), "-3", "tokens_per_minute", "0 to 10000000000");
    out_of_range(&provider("cooldown_after = 5000"), "5000", "cooldown_after", "0 to 1000");
    out_of_range(&provider("cooldown_seconds = 9223372036854775807"), "922", "cooldown_seconds", "0 to 86400");

    let strategy = |extra: &str| format!("[strategy]\nname = \"s\"\ndefault_model = \"claude-sonnet-4-5\"\n{extra}\n");
    out_of_range(&strategy("max_parallel = 0"), "0", "max_parallel", "1 to 1000000");
    out_of_range(&strategy("budget_usd = 1e300"), "1e300", "budget_usd", "at most 1000000");
    out_of_range(&strategy("budget_usd = -1.0"), "-1.0", "budget_usd", "above 0");
    out_of_range(&strategy("[retry]\nmax_attempts = 0"), "0", "max_attempts", "1 (no retries) to 20");
    out_of_range(&strategy("[retry]\nbackoff_ms = -1"), "-1", "backoff_ms", "0 to 3600000");
    out_of_range(&strategy("[retry]\nmax_backoff_ms = 9223372036854775807"), "922", "max_backoff_ms", "0 to 3600000");
    for t in ["first_token_timeout_ms", "idle_timeout_ms", "total_timeout_ms", "connect_timeout_ms"] {
        out_of_range(&strategy(&format!("[retry]\n{t} = 86400001")), "86400001", t, "0 to 86400000");
    }
    out_of_range(&strategy("[[rule]]\ncomplexity = -1\nmodel = \"gpt-5-nano\""), "-1", "complexity", "\"3..=6\"");
    out_of_range(&strategy("[[rule]]\ninput_tokens = \"< 0\"\nmodel = \"gpt-5-nano\""), "\"< 0\"", "input_tokens", "\"3..=6\"");

    let node = |extra: &str| {
        format!("[flow]\nname = \"f\"\n\n[[node]]\nid = \"a\"\nkind = \"generate\"\ncomplexity = 3\nprompt = \"p\"\n{extra}\n")
    };
    out_of_range(&node("").replace("complexity = 3", "complexity = 0"), "0", "complexity", "1 (trivial) to 10");
    out_of_range(&node("expected_tokens = 0"), "0\n", "expected_tokens", "1 to 1000000");
    out_of_range(&node("max_tokens = 2000000"), "2000000", "max_tokens", "300 to 1000000");
    let mapped = "\n[[node]]\nid = \"b\"\nkind = \"generate\"\ncomplexity = 3\nprompt = \"{{item}}\"\nafter = [\"a\"]\n";
    out_of_range(&format!("{}{mapped}map = {{ over = \"a\", limit = 0 }}\n", node("")), "0 }", "limit", "1 to 100000");
    out_of_range(&format!("{}{mapped}map = {{ over = \"a\", max_items = -4 }}\n", node("")), "-4", "max_items", "1 to 1000000");
    out_of_range(&node("checks = [{ max_chars = -1 }]"), "-1", "max_chars", "from 0 to");
    out_of_range(&node("sim = { labels = [\"x\"], weights = [-1.0] }"), "[-1.0]", "weights", "finite weight of 0 or more");
    out_of_range(&node("sim = { items = [5, 20000] }"), "[5, 20000]", "items", "0 ≤ min ≤ max ≤ 10000");
}

/// Errors that used to name only the file now have a line, a column and a hint.
#[test]
fn errors_that_had_no_position_have_one() {
    // Invalid UTF-8: the first bad byte's line and column.
    let bytes = b"[flow]\nname = \"caf\xe9\"\n".to_vec();
    let err = Source::from_bytes("latin1.toml".into(), bytes).expect_err("not UTF-8");
    let d = err.first().expect("diagnostic");
    assert_eq!((d.line, d.col), (2, 12), "{err}");
    assert!(d.message.contains("not valid UTF-8") && d.message.contains("0xe9"), "{err}");
    assert!(d.help.as_deref().unwrap_or("").contains("UTF-8"), "{err}");
    let dir = std::env::temp_dir().join(format!("baton-utf8-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("latin1.toml");
    fs::write(&path, b"[strategy]\n\xff = 1\n").expect("write");
    let err = Source::read(&path).expect_err("not UTF-8");
    assert_eq!(err.first().map(|d| (d.line, d.col)), Some((2, 1)), "{err}");
    let _ = fs::remove_dir_all(&dir);

    // A dotted key deeper than toml allows.
    let deep = format!("[flow]\nname = \"x\"\n{} = 1\n", vec!["a"; 100].join("."));
    let err = parse_flow(&Source::new("deep.toml", deep)).expect_err("too deep");
    let d = err.first().expect("diagnostic");
    assert_eq!((d.line, d.col), (3, 1), "{err}");
    assert!(d.message.contains("recursion limit") && d.help.is_some(), "{err}");
    // Deep arrays were already placed by toml; check they still are.
    let deep = format!("[flow]\nname = \"x\"\nx = {}{}\n", "[".repeat(200), "]".repeat(200));
    let err = parse_flow(&Source::new("deep.toml", deep)).expect_err("too deep");
    assert_eq!(err.first().map(|d| d.line), Some(3), "{err}");

    // An unknown provider table: at its name, with a suggestion.
    let cat = "[provider.opnai]\nmax_concurrent = 4\n";
    let err = Catalog::parse(&Source::new("c.toml", cat), Some(&Catalog::builtin())).expect_err("unknown provider");
    let d = err.first().expect("diagnostic");
    assert_eq!((d.line, d.col), (1, 11), "{err}");
    assert!(d.help.as_deref().unwrap_or("").contains("did you mean [provider.openai]"), "{err}");

    // A flow whose strategy names nothing: at the flow's strategy line.
    let text = "[flow]\nname = \"f\"\nstrategy = \"smrt\"\n\n[[node]]\nid = \"a\"\nkind = \"generate\"\ncomplexity = 3\nprompt = \"p\"\n";
    let (flow, _) = parse_flow(&Source::new("f.toml", text)).expect("valid flow");
    let name = flow.strategy.clone().expect("strategy");
    let err = baton::load::load_strategy(&name, None, &Catalog::builtin()).map(|_| ()).expect_err("no such strategy");
    let err = baton::load::point_at_flow_strategy(err, &flow);
    let d = err.first().expect("diagnostic");
    assert_eq!((d.file.as_str(), d.line, d.col), ("f.toml", 3, 12), "{err}");
    assert!(d.message.contains("'smrt'") && d.help.as_deref().unwrap_or("").contains("did you mean 'smart'"), "{err}");
}

/// The README's architecture section and lib.rs's map name every module that exists: a
/// newcomer reading either finds every room, and a new module without a line fails here.
#[test]
fn the_code_maps_name_every_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let start = readme.find("| path | what |").expect("README has the architecture table");
    let table = &readme[start..start + readme[start..].find("\n\n").expect("the table ends")];
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).expect("lib.rs");
    let mut missing = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(root.join("src")).expect("src").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_stem().expect("name").to_string_lossy().to_string();
        if name == "lib" || name == "main" {
            continue;
        }
        if !table.contains(&format!("`src/{name}")) {
            missing.push(format!("README's table has no row for src/{name}"));
        }
        if !lib.contains(&format!("[`{name}`]")) && !lib.contains(&format!("`{name}`")) {
            missing.push(format!("lib.rs's map does not name {name}"));
        }
        if p.is_dir() {
            let row = table.lines().find(|l| l.contains(&format!("`src/{name}/`"))).unwrap_or("");
            let mut kids: Vec<_> = std::fs::read_dir(&p).expect("dir").map(|e| e.expect("entry").path()).collect();
            kids.sort();
            for k in kids {
                let file = k.file_name().expect("name").to_string_lossy().to_string();
                let stem = k.file_stem().expect("stem").to_string_lossy().to_string();
                if matches!(stem.as_str(), "mod" | "tests") || !(k.is_dir() || file.ends_with(".rs")) {
                    continue;
                }
                if !row.contains(&format!("`{file}`")) && !row.contains(&format!("`{stem}/`")) && !row.contains(&format!("`{stem}.rs`")) {
                    missing.push(format!("README's row for src/{name}/ does not name {file}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "the code maps are out of date:\n{}", missing.join("\n"));
}

/// The crate denies `unsafe` code (Cargo.toml); the global allocator is the one module that
/// may lift that, because implementing `GlobalAlloc` is unsafe by definition.
#[test]
fn only_the_allocator_allows_unsafe_code() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (mut stack, mut allowed) = (vec![src.clone()], Vec::new());
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("src readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs")
                && fs::read_to_string(&path).expect("readable").contains(concat!("allow(", "unsafe_code)"))
            {
                allowed.push(path.strip_prefix(&src).expect("under src").to_string_lossy().replace('\\', "/"));
            }
        }
    }
    assert_eq!(allowed, ["alloc.rs"], "only src/alloc.rs may allow unsafe code");
    let manifest = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).expect("Cargo.toml");
    assert!(manifest.contains("unsafe_code = \"deny\""), "the crate must deny unsafe code");
}

/// A file in src/ past 600 lines says in its header why it is one file (a `//! One file:`
/// line), so size is a decision rather than drift.
#[test]
fn long_source_files_say_why_they_are_one_file() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let mut long = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let lines = text.lines().count();
        let header: Vec<&str> = text.lines().take_while(|l| l.starts_with("//!")).collect();
        if lines > 600 && !header.iter().any(|l| l.starts_with("//! One file:")) {
            long.push(format!("{} ({lines} lines)", f.display()));
        }
    }
    assert!(long.is_empty(), "split these or say why in a `//! One file:` header line:\n{}", long.join("\n"));
}
