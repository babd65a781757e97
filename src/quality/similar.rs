//! Text similarity for the `similar` check: token-set overlap (Jaccard) and ROUGE-L (the F1 of
//! the longest common subsequence of tokens). Tokens are runs of letters and digits, lowercased.

/// How two texts are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// |A ∩ B| / |A ∪ B| over the sets of tokens: order and repetition do not matter.
    TokenSet,
    /// ROUGE-L F1: order matters, gaps do not.
    RougeL,
}

impl Method {
    pub fn parse(s: &str) -> Option<Method> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "token-set" | "jaccard" => Some(Method::TokenSet),
            "rouge-l" | "rougel" => Some(Method::RougeL),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Method::TokenSet => "token-set",
            Method::RougeL => "rouge-l",
        }
    }
}

/// The lowercased runs of letters and digits of `text`.
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_lowercase).collect()
}

/// A score from 0 (nothing shared) to 1 (the same tokens). Two empty texts score 1.
pub fn score(method: Method, a: &str, b: &str) -> f64 {
    let (ta, tb) = (tokens(a), tokens(b));
    if ta.is_empty() && tb.is_empty() {
        return 1.0;
    }
    match method {
        Method::TokenSet => {
            let sa: std::collections::BTreeSet<&str> = ta.iter().map(String::as_str).collect();
            let sb: std::collections::BTreeSet<&str> = tb.iter().map(String::as_str).collect();
            let inter = sa.intersection(&sb).count() as f64;
            let union = sa.union(&sb).count() as f64;
            inter / union
        }
        Method::RougeL => {
            let l = lcs(&ta, &tb) as f64;
            if l == 0.0 {
                return 0.0;
            }
            let (p, r) = (l / ta.len() as f64, l / tb.len() as f64);
            2.0 * p * r / (p + r)
        }
    }
}

/// Length of the longest common subsequence, in O(|a|·|b|) time and O(|b|) memory.
fn lcs(a: &[String], b: &[String]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y { prev[j] + 1 } else { prev[j + 1].max(cur[j]) };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }

    #[test]
    fn token_set_ignores_order_case_and_punctuation() {
        close(score(Method::TokenSet, "The cat sat.", "sat, the CAT"), 1.0);
        // {the, cat, sat} vs {the, dog, sat}: 2 shared of 4.
        close(score(Method::TokenSet, "the cat sat", "the dog sat"), 0.5);
        close(score(Method::TokenSet, "", ""), 1.0);
        close(score(Method::TokenSet, "a", ""), 0.0);
    }

    /// The ROUGE paper's example: "police killed the gunman" against "police kill the gunman"
    /// has an LCS of 3 of 4 tokens each way.
    #[test]
    fn rouge_l_is_the_f1_of_the_longest_common_subsequence() {
        close(score(Method::RougeL, "police kill the gunman", "police killed the gunman"), 0.75);
        // Order matters: "the gunman kill police" shares only "the gunman" in order (LCS 2).
        close(score(Method::RougeL, "the gunman kill police", "police killed the gunman"), 0.5);
        close(score(Method::RougeL, "x y", "a b"), 0.0);
        assert_eq!(Method::parse("ROUGE_L"), Some(Method::RougeL));
        assert_eq!(Method::parse("cosine"), None);
    }
}
