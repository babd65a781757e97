//! Model names as instrumentations report them, matched to catalog entries. Responses name the
//! dated version (`gpt-4o-2024-08-06`), routers prefix the provider (`openai/gpt-4o`), Gemini
//! prefixes `models/`, Bedrock writes `anthropic.claude-…-v1:0`. Matching strips exactly those
//! decorations and never guesses further: a name that still does not match is unpriced, shown
//! with its tokens, never costed at $0.

use crate::routing::Catalog;

/// The name without provider prefixes, version suffixes or release dates, lowercased.
pub fn normalize(raw: &str) -> String {
    let mut s = raw.trim().to_ascii_lowercase();
    if let Some((_, tail)) = s.rsplit_once('/') {
        s = tail.to_string();
    }
    // Bedrock: `anthropic.claude-3-5-sonnet-20241022-v2:0`, `us.anthropic.…`.
    for p in ["us.", "eu.", "apac.", "global."] {
        if let Some(t) = s.strip_prefix(p) {
            s = t.to_string();
        }
    }
    for p in ["anthropic.", "meta.", "mistral.", "amazon.", "cohere.", "ai21.", "openai.", "google."] {
        if let Some(t) = s.strip_prefix(p) {
            s = t.to_string();
        }
    }
    if let Some((head, tail)) = s.rsplit_once(':')
        && tail.chars().all(|c| c.is_ascii_digit())
    {
        s = head.to_string();
    }
    if let Some((head, tail)) = s.rsplit_once("-v")
        && !tail.is_empty()
        && tail.chars().all(|c| c.is_ascii_digit())
    {
        s = head.to_string();
    }
    strip_date(&s).to_string()
}

/// `-2024-08-06`, `-20241022`, `@20241022`, `-latest`, `-001` at the end.
fn strip_date(s: &str) -> &str {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    let n = b.len();
    if n > 11
        && (b[n - 11] == b'-' || b[n - 11] == b'@')
        && digits(n - 10..n - 6)
        && b[n - 6] == b'-'
        && digits(n - 5..n - 3)
        && b[n - 3] == b'-'
        && digits(n - 2..n)
    {
        return &s[..n - 11];
    }
    if n > 9 && (b[n - 9] == b'-' || b[n - 9] == b'@') && digits(n - 8..n) && b[n - 8] == b'2' {
        return &s[..n - 9];
    }
    for suffix in ["-latest", "-001", "-002"] {
        if let Some(t) = s.strip_suffix(suffix) {
            return t;
        }
    }
    s
}

/// The catalog's names, normalised once, with the answers given so far remembered: a watch
/// sees the same few model names over and over.
pub struct Matcher {
    /// (lowercased id, lowercased API model, normalised id, normalised API model, id)
    names: Vec<(String, String, String, String, String)>,
    memo: std::collections::HashMap<String, Option<String>>,
}

impl Matcher {
    pub fn new(catalog: &Catalog) -> Matcher {
        let names = catalog
            .models
            .iter()
            .map(|m| {
                (m.id.to_ascii_lowercase(), m.api_model.to_ascii_lowercase(), normalize(&m.id), normalize(&m.api_model), m.id.to_string())
            })
            .collect();
        Matcher { names, memo: std::collections::HashMap::new() }
    }

    /// The same answer as [`match_model`].
    pub fn get(&mut self, raw: &str) -> Option<String> {
        if let Some(hit) = self.memo.get(raw) {
            return hit.clone();
        }
        let lower = raw.trim().to_ascii_lowercase();
        let norm = normalize(raw);
        let mut found = None;
        for key in [lower.as_str(), norm.as_str()] {
            found = self.names.iter().find(|n| n.0 == key || n.1 == key).or_else(|| self.names.iter().find(|n| n.2 == key || n.3 == key));
            if found.is_some() {
                break;
            }
        }
        let found = found.map(|n| n.4.clone());
        // Bounded: names come from spans, which anyone reaching the receiver can send.
        if self.memo.len() < 4096 {
            self.memo.insert(raw.to_string(), found.clone());
        }
        found
    }
}

/// The catalog id a reported model name prices as: an id or API model name equal to the name,
/// or to the name without its decorations.
pub fn match_model(catalog: &Catalog, raw: &str) -> Option<String> {
    if let Some(m) = catalog.get(raw) {
        return Some(m.id.to_string());
    }
    let lower = raw.trim().to_ascii_lowercase();
    let norm = normalize(raw);
    for key in [lower.as_str(), norm.as_str()] {
        if let Some(m) = catalog.models.iter().find(|m| m.id.eq_ignore_ascii_case(key) || m.api_model.eq_ignore_ascii_case(key)) {
            return Some(m.id.to_string());
        }
        // A catalog entry that itself names a dated API model.
        if let Some(m) = catalog.models.iter().find(|m| normalize(&m.api_model) == key || normalize(&m.id) == key) {
            return Some(m.id.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn norm(raw: &str, want: &str) {
        assert_eq!(normalize(raw), want, "{raw}");
    }

    #[test]
    fn decorations_are_stripped() {
        norm("gpt-4o-2024-08-06", "gpt-4o");
        norm("gpt-4o-mini-2024-07-18", "gpt-4o-mini");
        norm("openai/gpt-4o", "gpt-4o");
        norm("models/gemini-2.5-flash", "gemini-2.5-flash");
        norm("claude-3-5-sonnet-20241022", "claude-3-5-sonnet");
        norm("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet");
        norm("claude-3-5-sonnet@20241022", "claude-3-5-sonnet");
        norm("o3-mini-2025-01-31", "o3-mini");
        norm("gpt-5.4", "gpt-5.4");
        norm("gemini-1.5-pro-002", "gemini-1.5-pro");
    }

    #[test]
    fn matches_the_builtin_catalog_and_refuses_to_guess() {
        let c = Catalog::builtin();
        assert_eq!(match_model(&c, "gpt-5-nano").as_deref(), Some("gpt-5-nano"));
        assert_eq!(match_model(&c, "openai/gpt-5-nano-2025-08-07").as_deref(), Some("gpt-5-nano"));
        assert_eq!(match_model(&c, "models/gemini-2.5-flash").as_deref(), Some("gemini-2.5-flash"));
        assert_eq!(match_model(&c, "claude-opus-4-1-20250805").as_deref(), Some("claude-opus-4-1"));
        // A prefix of a known name is another model.
        assert_eq!(match_model(&c, "gpt-5"), None);
        assert_eq!(match_model(&c, "totally-unknown-model"), None);
        let mut m = Matcher::new(&c);
        for raw in ["gpt-5-nano", "openai/gpt-5-nano-2025-08-07", "models/gemini-2.5-flash", "claude-opus-4-1-20250805", "gpt-5", "x"] {
            assert_eq!(m.get(raw), match_model(&c, raw), "{raw}");
            assert_eq!(m.get(raw), match_model(&c, raw), "{raw} (remembered)");
        }
    }
}
