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
