use super::*;

/// Reading one `[[node]]` at a time must give what reading the whole document gives: the
/// same flow, and the same errors and warnings at the same places.
#[track_caller]
fn same_both_ways(text: &str) {
    let src = Source::new("f.toml", text);
    let chunked = read_in_chunks(text).expect("reads in chunks");
    let whole: RawFile = toml::from_str(text).expect("reads whole");
    let a = validate(&src, chunked).map(|(f, w)| (format!("{f:?}"), w));
    let b = validate(&src, whole).map(|(f, w)| (format!("{f:?}"), w));
    if let (Err(a), Err(b)) = (&a, &b) {
        for (x, y) in a.0.iter().zip(&b.0) {
            assert_eq!(x, y);
        }
    }
    assert_eq!(a, b);
}

#[test]
fn chunked_reading_matches_whole_reading() {
    for (_, text) in crate::load::SAMPLE_FLOWS {
        same_both_ways(text);
    }
    // Every spanned field, each wrong, across several chunks.
    same_both_ways(
        r#"
[flow]
name = "bad"
strategy = "nowhere"

[[node]]
id = "a"
kind = "reasonng"
complexity = 11
prompt = "uses {{nope}} and {{b}}"
expected_tokens = 0
max_tokens = 5
after = ["a", "zz"]
context = ["b"]
checks = [{ regex = "(" }, { max_chars = -1 }]
sim = { labels = ["x"], weights = [-1.0], items = [9, 1] }

[[node]]
id = "b"
kind = "generate"
complexity = 3
prompt = "{{item}}"
after = ["a", "a"]
when = { node = "a", matches = "[" }
map = { over = "q", limit = 0, max_items = -1 }

[[node]]
id = "b"
kind = "generate"
complexity = 3
prompt = "p"
[node.sim]
items = [1, 2]
"#,
    );
}

#[test]
fn unclear_chunks_fall_back_to_the_whole_document() {
    // A [[node]] line inside a multi-line string is not a boundary.
    let text = "[flow]\nname = \"f\"\n\n[[node]]\nid = \"a\"\nkind = \"generate\"\ncomplexity = 3\nprompt = \"\"\"\n[[node]]\n\"\"\"\n";
    assert!(read_in_chunks(text).is_none());
    // An inline node array before a [[node]] table is an error of the whole document.
    let text = "node = []\n[flow]\nname = \"f\"\n[[node]]\nid = \"a\"\n";
    assert!(read_in_chunks(text).is_none());
    // Two [flow] tables in different chunks.
    let text = "[flow]\nname = \"f\"\n[[node]]\nid = \"a\"\nkind = \"k\"\ncomplexity = 1\nprompt = \"p\"\n[flow]\nname = \"g\"\n";
    assert!(read_in_chunks(text).is_none());
}

/// A flow of `n` chained nodes, node `k` given `extra` lines.
fn chained(n: usize, extra: impl Fn(usize) -> String) -> String {
    let mut text = String::from("[flow]\nname = \"long\"\n");
    for k in 0..n {
        let after = if k == 0 { String::new() } else { format!("after = [\"n{}\"]\n", k - 1) };
        text.push_str(&format!("\n[[node]]\nid = \"n{k}\"\nkind = \"generate\"\ncomplexity = 3\nprompt = \"p\"\n{after}{}", extra(k)));
    }
    text
}

#[test]
fn chunks_read_on_two_threads_match_whole_reading_and_fall_back_alike() {
    // Enough chunks to be read in two halves: the halves' nodes in order, errors and their
    // places in either half.
    same_both_ways(&chained(300, |_| String::new()));
    same_both_ways(&chained(300, |k| match k {
        20 => "max_tokens = 0\n".into(),
        250 => "checks = [{ regex = \"(\" }]\n".into(),
        290 => "context = [\"nowhere\"]\n".into(),
        _ => String::new(),
    }));
    // A second [flow] in the later half; a boundary inside a multi-line string in either.
    assert!(read_in_chunks(&chained(300, |k| if k == 280 { "[flow]\nname = \"again\"\n".into() } else { String::new() })).is_none());
    for at in [10, 280] {
        let text = chained(300, |k| if k == at { "description = \"\"\"\n[[node]]\n\"\"\"\n".into() } else { String::new() });
        assert!(read_in_chunks(&text).is_none(), "string at node {at}");
    }
}

/// Errors found after the raw nodes are dropped (a node reading what does not run before it,
/// a cycle) take their spans from a second read; in a file large enough to be read in chunks
/// they still point at the right line.
#[test]
fn late_errors_in_a_large_file_point_at_their_lines() {
    let mut text = String::from("[flow]\nname = \"big\"\n");
    for i in 0..4000 {
        let after = if i == 0 { String::new() } else { format!("\"n{}\"", i - 1) };
        text += &format!("\n[[node]]\nid = \"n{i}\"\nkind = \"generate\"\ncomplexity = 2\nprompt = \"step {i}\"\nafter = [{after}]\n");
    }
    assert!(text.len() > CHUNKED_ABOVE);
    let line_of = |text: &str, needle: &str| text[..text.find(needle).expect("in the text")].lines().count() + 1;

    // n10 declares a context from n3000, which runs after it.
    let late = text.replace("prompt = \"step 10\"\n", "prompt = \"step 10\"\ncontext = [\"n3000\"]\n");
    let err = parse_flow(&Source::new("big.toml", late.clone())).expect_err("n3000 runs after n10");
    let d = err.first().expect("an error");
    assert!(d.message.contains("node 'n10' receives the output of 'n3000' but does not run after it"), "{}", d.message);
    assert_eq!(d.line, line_of(&late, "context = [\"n3000\"]"), "{d}");

    // n5 waits for n3500, which waits (through the chain) for n5.
    let cycle = text.replace("after = [\"n4\"]", "after = [\"n4\", \"n3500\"]");
    let err = parse_flow(&Source::new("big.toml", cycle.clone())).expect_err("a cycle");
    let d = err.first().expect("an error");
    assert!(d.message.contains("the flow has a cycle"), "{}", d.message);
    assert_eq!(d.line, line_of(&cycle, "after = [\"n4\", \"n3500\"]"), "{d}");
}
