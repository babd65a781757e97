//! No input makes a parser panic: arbitrary text, and valid files with lines dropped,
//! duplicated or cut.

use baton::diag::Source;
use baton::flow::parse_flow;
use baton::routing::{Catalog, Strategy};
use proptest::prelude::*;

fn all_parsers(text: &str) {
    let src = Source::new("fuzz.toml", text);
    let catalog = Catalog::builtin();
    let _ = parse_flow(&src);
    let _ = Strategy::parse(&src, &catalog);
    let _ = Catalog::parse(&src, Some(&catalog));
    let _ = baton::load::parse_tasks(&src);
    if let Err(d) = parse_flow(&src) {
        // Rendering a diagnostic must not panic either (spans at odd offsets, unicode).
        let _ = d.to_string();
    }
}

fn samples() -> Vec<&'static str> {
    baton::load::SAMPLE_FLOWS
        .iter()
        .chain(baton::load::SAMPLE_STRATEGIES)
        .map(|(_, t)| *t)
        .chain([baton::routing::catalog::BUILTIN_CATALOG])
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text(s in "\\PC{0,400}") {
        all_parsers(&s);
    }

    #[test]
    fn mutated_samples(which in 0usize..9, ops in proptest::collection::vec((0usize..200, 0u8..4, "\\PC{0,12}"), 1..6)) {
        let base = samples();
        let mut lines: Vec<String> = base[which % base.len()].lines().map(str::to_string).collect();
        for (at, op, junk) in ops {
            if lines.is_empty() { break; }
            let i = at % lines.len();
            match op {
                0 => { lines.remove(i); }
                1 => { let l = lines[i].clone(); lines.insert(i, l); }
                2 => { let cut = lines[i].char_indices().nth(lines[i].chars().count() / 2).map_or(0, |(b, _)| b); lines[i].truncate(cut); }
                _ => lines[i].push_str(&junk),
            }
        }
        all_parsers(&lines.join("\n"));
    }
}
