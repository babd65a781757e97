//! The model catalog: what each model costs and how the simulator makes it behave. A built-in
//! catalog ships with Baton; a user file overrides fields of existing models or adds new ones.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::diag::{Diagnostics, Source, nearest};
use crate::money::PerMillion;
// Usage, Cost and Prices live with Money; this keeps `routing::catalog::Usage` and friends.
pub use crate::money::{Cost, Prices, Usage};

/// Which wire protocol serves a model in a live run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI-compatible chat completions: OpenAI, OpenRouter, Groq, vLLM, Ollama, LM Studio...
    Openai,
    Anthropic,
    Gemini,
    /// Only ever simulated.
    Sim,
}

impl ProviderKind {
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Sim => "sim",
        }
    }

    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::Openai => Some("https://api.openai.com/v1"),
            ProviderKind::Anthropic => Some("https://api.anthropic.com/v1"),
            ProviderKind::Gemini => Some("https://generativelanguage.googleapis.com/v1beta"),
            ProviderKind::Sim => None,
        }
    }

    pub fn default_key_env(self) -> Option<&'static str> {
        match self {
            ProviderKind::Openai => Some("OPENAI_API_KEY"),
            ProviderKind::Anthropic => Some("ANTHROPIC_API_KEY"),
            ProviderKind::Gemini => Some("GEMINI_API_KEY"),
            ProviderKind::Sim => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the simulator makes a model behave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimProfile {
    /// Time to first token for an empty prompt.
    pub ttft: Duration,
    /// Output speed.
    pub tokens_per_second: f64,
    /// How fast the prompt is read; longer prompts wait longer for the first token.
    pub prefill_tokens_per_second: f64,
    /// 0–10, on the same scale as node complexity.
    pub capability: f64,
    /// Probability that a call fails with a retryable error.
    pub error_rate: f64,
}

impl Default for SimProfile {
    fn default() -> Self {
        SimProfile {
            ttft: Duration::from_millis(800),
            tokens_per_second: 80.0,
            prefill_tokens_per_second: 20_000.0,
            capability: 6.0,
            error_rate: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub id: std::sync::Arc<str>,
    pub provider: ProviderKind,
    /// The name the provider's API expects.
    pub api_model: String,
    pub base_url: Option<String>,
    /// The environment variable holding the API key; `None` for servers that need none.
    pub key_env: Option<String>,
    /// A file holding the key, read at call time (instead of the environment variable).
    pub key_file: Option<String>,
    pub prices: Prices,
    pub context_window: u32,
    /// The most output tokens one call can return, where the table says.
    pub max_output: Option<u32>,
    pub sim: SimProfile,
    pub description: String,
}

impl Model {
    pub fn cost(&self, u: &Usage) -> Cost {
        self.prices.cost(u)
    }
}

/// The models a run may use, with the date their prices were read.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    pub prices_read: String,
    pub sources: Vec<String>,
    pub models: Vec<Model>,
    /// Per-provider limits (missing providers get [`Limits::default`]).
    pub limits: HashMap<ProviderKind, Limits>,
    index: HashMap<String, usize, rustc_hash::FxBuildHasher>,
    /// The files the catalog was read from, in order (built-in first, then overrides), kept
    /// so a recording can rebuild exactly this catalog.
    pub layers: Vec<(String, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    catalog: Option<RawHeader>,
    /// `[provider.openai]` and so on: limits for everything served by that provider.
    #[serde(default)]
    provider: std::collections::BTreeMap<Spanned<String>, RawLimits>,
    #[serde(default)]
    model: Vec<RawModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_concurrent: Option<Spanned<i64>>,
    requests_per_minute: Option<Spanned<i64>>,
    tokens_per_minute: Option<Spanned<i64>>,
    /// Failures in a row before a model cools down, and for how long.
    cooldown_after: Option<Spanned<i64>>,
    cooldown_seconds: Option<Spanned<i64>>,
}

/// Limits on what Baton sends to one provider, and when a failing model is rested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_concurrent: u32,
    pub requests_per_minute: Option<u32>,
    pub tokens_per_minute: Option<u64>,
    pub cooldown_after: u32,
    pub cooldown: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_concurrent: 16,
            requests_per_minute: None,
            tokens_per_minute: None,
            cooldown_after: 3,
            cooldown: Duration::from_secs(30),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    prices_read: Option<String>,
    #[serde(default)]
    sources: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    id: Spanned<String>,
    provider: Option<ProviderKind>,
    api_model: Option<String>,
    base_url: Option<String>,
    key_env: Option<String>,
    key_file: Option<String>,
    input_per_mtok: Option<Spanned<f64>>,
    output_per_mtok: Option<Spanned<f64>>,
    cached_input_per_mtok: Option<Spanned<f64>>,
    cache_write_per_mtok: Option<Spanned<f64>>,
    /// Hidden reasoning tokens, where billed apart from output (default: the output price).
    reasoning_per_mtok: Option<Spanned<f64>>,
    context_window: Option<Spanned<i64>>,
    max_output: Option<Spanned<i64>>,
    description: Option<String>,
    sim: Option<Spanned<RawSim>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSim {
    ttft_ms: Option<Spanned<f64>>,
    tokens_per_second: Option<Spanned<f64>>,
    prefill_tokens_per_second: Option<Spanned<f64>>,
    capability: Option<Spanned<f64>>,
    error_rate: Option<Spanned<f64>>,
}

/// The catalog that ships with Baton.
pub const BUILTIN_CATALOG: &str = include_str!("models.toml");

impl Catalog {
    /// The built-in catalog.
    pub fn builtin() -> Catalog {
        // The built-in file is tested to parse; fall back to an empty catalog rather than panic.
        Catalog::parse(&Source::new("<built-in models.toml>", BUILTIN_CATALOG), None).map(|(c, _)| c).unwrap_or_else(|_| Catalog::empty())
    }

    pub fn empty() -> Catalog {
        Catalog {
            prices_read: String::new(),
            sources: Vec::new(),
            models: Vec::new(),
            limits: HashMap::new(),
            index: HashMap::default(),
            layers: Vec::new(),
        }
    }

    /// Parses a catalog file. With a `base`, entries whose id exists change only the fields they
    /// set, and new ids must give every required field.
    pub fn parse(src: &Source, base: Option<&Catalog>) -> Result<(Catalog, Diagnostics), Diagnostics> {
        let raw: RawCatalog = toml::from_str(&src.text).map_err(|e| Diagnostics::from(src.toml_error(&e)))?;
        let mut diags = Diagnostics::default();
        let mut cat = base.cloned().unwrap_or_else(Catalog::empty);
        if let Some(h) = raw.catalog {
            if let Some(d) = h.prices_read {
                cat.prices_read = d;
            }
            cat.sources.extend(h.sources);
        }
        for (spanned_name, l) in raw.provider {
            let name = spanned_name.get_ref().as_str();
            let kind = match name {
                "openai" => ProviderKind::Openai,
                "anthropic" => ProviderKind::Anthropic,
                "gemini" => ProviderKind::Gemini,
                "sim" => ProviderKind::Sim,
                other => {
                    const PROVIDERS: [&str; 4] = ["openai", "anthropic", "gemini", "sim"];
                    let help = match nearest(other, PROVIDERS) {
                        Some(best) => format!("did you mean [provider.{best}]? providers are openai, anthropic, gemini and sim"),
                        None => "providers are openai, anthropic, gemini and sim".to_string(),
                    };
                    diags.push(src.error(spanned_name.span(), format!("unknown provider '{other}' in [provider.{other}]")).with_help(help));
                    continue;
                }
            };
            let mut lim = cat.limits.get(&kind).copied().unwrap_or_default();
            // Every limit has a range: the engine turns them into instants and rates, where an
            // absurd value would overflow rather than mean "no limit".
            let mut whole = |v: &Option<Spanned<i64>>, lo: i64, hi: i64, what: &str, zero: &str| -> Option<u64> {
                let v = v.as_ref()?;
                let x = *v.get_ref();
                if (lo..=hi).contains(&x) {
                    return u64::try_from(x).ok();
                }
                diags.push(
                    src.error(v.span(), format!("{what} {x} is out of range in [provider.{name}]"))
                        .with_help(format!("use a whole number from {lo} to {hi}{zero}")),
                );
                None
            };
            if let Some(v) = whole(&l.max_concurrent, 0, 100_000, "max_concurrent", " (0 counts as 1)") {
                lim.max_concurrent = (v as u32).max(1);
            }
            if let Some(v) = whole(&l.requests_per_minute, 0, 10_000_000, "requests_per_minute", " (0: no limit)") {
                lim.requests_per_minute = Some(v as u32).filter(|v| *v > 0);
            }
            if let Some(v) = whole(&l.tokens_per_minute, 0, 10_000_000_000, "tokens_per_minute", " (0: no limit)") {
                lim.tokens_per_minute = Some(v).filter(|v| *v > 0);
            }
            if let Some(v) = whole(&l.cooldown_after, 0, 1_000, "cooldown_after", " (0 counts as 1)") {
                lim.cooldown_after = (v as u32).max(1);
            }
            if let Some(v) = whole(&l.cooldown_seconds, 0, 86_400, "cooldown_seconds", "") {
                lim.cooldown = Duration::from_secs(v);
            }
            cat.limits.insert(kind, lim);
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for m in raw.model {
            let id = m.id.get_ref().trim().to_string();
            if id.is_empty() {
                diags.push(src.error(m.id.span(), "model id is empty"));
                continue;
            }
            if let Some(line) = seen.get(&id) {
                diags.push(
                    src.error(m.id.span(), format!("model '{id}' is defined twice in this file"))
                        .with_help(format!("the first definition is at line {line}")),
                );
                continue;
            }
            seen.insert(id.clone(), src.locate(m.id.span().start).0);
            let existing = cat.index.get(&id).map(|&i| cat.models[i].clone());
            let is_new = existing.is_none();
            let mut model = existing.unwrap_or_else(|| Model {
                id: id.as_str().into(),
                provider: ProviderKind::Sim,
                api_model: id.clone(),
                base_url: None,
                key_env: None,
                key_file: None,
                prices: Prices::default(),
                context_window: 128_000,
                max_output: None,
                sim: SimProfile::default(),
                description: String::new(),
            });
            if is_new {
                let missing: Vec<&str> = [
                    ("provider", m.provider.is_none()),
                    ("input_per_mtok", m.input_per_mtok.is_none()),
                    ("output_per_mtok", m.output_per_mtok.is_none()),
                    ("context_window", m.context_window.is_none()),
                ]
                .into_iter()
                .filter_map(|(k, miss)| miss.then_some(k))
                .collect();
                if !missing.is_empty() {
                    let mut help = format!("a new model needs {}", missing.join(", "));
                    if let Some(best) = nearest(&id, cat.models.iter().map(|m| &*m.id)) {
                        help.push_str(&format!("; or did you mean to override '{best}'?"));
                    }
                    diags.push(src.error(m.id.span(), format!("model '{id}' is missing {}", missing.join(", "))).with_help(help));
                    continue;
                }
            }
            if let Some(p) = m.provider {
                model.provider = p;
                if is_new {
                    model.key_env = p.default_key_env().map(str::to_string);
                }
            }
            if let Some(a) = m.api_model {
                model.api_model = a;
            }
            if m.base_url.is_some() {
                model.base_url = m.base_url;
            }
            if let Some(f) = m.key_file {
                model.key_file = (!f.is_empty()).then_some(f);
            }
            if let Some(k) = m.key_env {
                // An empty key_env means "this server needs no key" (a local server).
                model.key_env = (!k.is_empty()).then_some(k);
            }
            if let Some(d) = m.description {
                model.description = d;
            }
            let mut price = |v: &Option<Spanned<f64>>, slot: &mut PerMillion| {
                if let Some(v) = v {
                    let x = *v.get_ref();
                    if !x.is_finite() || !(0.0..=100_000.0).contains(&x) {
                        diags.push(
                            src.error(v.span(), format!("price {x} is not a plausible USD per million tokens"))
                                .with_help("prices are USD per million tokens, e.g. 3.0; use a value from 0 to 100000"),
                        );
                    } else {
                        *slot = PerMillion::from_usd_per_million(x);
                    }
                }
            };
            price(&m.input_per_mtok, &mut model.prices.input);
            price(&m.output_per_mtok, &mut model.prices.output);
            price(&m.cached_input_per_mtok, &mut model.prices.cached_input);
            price(&m.cache_write_per_mtok, &mut model.prices.cache_write);
            if m.reasoning_per_mtok.is_some() {
                let mut r = model.prices.reasoning.unwrap_or(model.prices.output);
                price(&m.reasoning_per_mtok, &mut r);
                model.prices.reasoning = Some(r);
            }
            if is_new && m.cached_input_per_mtok.is_none() {
                model.prices.cached_input = model.prices.input;
            }
            if is_new && m.cache_write_per_mtok.is_none() {
                model.prices.cache_write = model.prices.input;
            }
            if let Some(w) = &m.context_window {
                match u32::try_from(*w.get_ref()) {
                    Ok(v) if (256..=100_000_000).contains(&v) => model.context_window = v,
                    _ => diags.push(
                        src.error(w.span(), format!("context_window {} is out of range", w.get_ref()))
                            .with_help("give the window in tokens, a whole number from 256 to 100000000"),
                    ),
                }
            }
            if let Some(w) = &m.max_output {
                match u32::try_from(*w.get_ref()) {
                    Ok(v) if (1..=100_000_000).contains(&v) => model.max_output = Some(v),
                    _ => diags.push(
                        src.error(w.span(), format!("max_output {} is out of range", w.get_ref()))
                            .with_help("give the most output tokens one call returns, a whole number from 1 to 100000000"),
                    ),
                }
            }
            if let Some(s) = &m.sim {
                let s = s.get_ref();
                // A speed of 0 means "instant" (or "no prefill"); a tiny positive one once passed
                // and then overflowed the simulator's durations (1e-20 tokens a second is 10^20
                // seconds a token), so positive speeds have a floor.
                let mut num = |v: &Option<Spanned<f64>>, lo: f64, hi: f64, what: &str, zero: Option<&str>| -> Option<f64> {
                    let v = v.as_ref()?;
                    let x = *v.get_ref();
                    if x.is_finite() && ((x >= lo && x <= hi) || (zero.is_some() && x == 0.0)) {
                        Some(x)
                    } else {
                        let help = match zero {
                            Some(z) => format!("use 0 ({z}) or a value from {lo} to {hi}"),
                            None => format!("use a value from {lo} to {hi}"),
                        };
                        // Debug keeps 1e-320 short where Display writes out 320 zeros.
                        diags.push(src.error(v.span(), format!("{what} {x:?} is out of range")).with_help(help));
                        None
                    }
                };
                if let Some(x) = num(&s.ttft_ms, 0.0, 600_000.0, "ttft_ms", None) {
                    model.sim.ttft = Duration::from_micros((x * 1000.0) as u64);
                }
                if let Some(x) = num(&s.tokens_per_second, 0.01, 1e9, "tokens_per_second", Some("instant output")) {
                    model.sim.tokens_per_second = x;
                }
                if let Some(x) = num(&s.prefill_tokens_per_second, 1.0, 1e12, "prefill_tokens_per_second", Some("no prefill time")) {
                    model.sim.prefill_tokens_per_second = x;
                }
                if let Some(x) = num(&s.capability, 0.0, 10.0, "capability", None) {
                    model.sim.capability = x;
                }
                if let Some(x) = num(&s.error_rate, 0.0, 1.0, "error_rate", None) {
                    model.sim.error_rate = x;
                }
            }
            match cat.index.get(&id) {
                Some(&i) => cat.models[i] = model,
                None => {
                    cat.index.insert(id, cat.models.len());
                    cat.models.push(model);
                }
            }
        }
        cat.layers.push((src.name.clone(), src.text.clone()));
        diags.into_result(cat)
    }

    /// Rebuilds a catalog from its layers (as a recording keeps them).
    pub fn from_layers(layers: &[(String, String)]) -> Result<Catalog, Diagnostics> {
        let mut cat: Option<Catalog> = None;
        for (name, text) in layers {
            let (c, _) = Catalog::parse(&Source::new(name.clone(), text.clone()), cat.as_ref())?;
            cat = Some(c);
        }
        Ok(cat.unwrap_or_else(Catalog::empty))
    }

    pub fn get(&self, id: &str) -> Option<&Model> {
        self.index.get(id).map(|&i| &self.models[i])
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The closest model id, for "did you mean" help.
    pub fn suggest(&self, id: &str) -> Option<&str> {
        nearest(id, self.models.iter().map(|m| &*m.id))
    }

    pub fn limits(&self, p: ProviderKind) -> Limits {
        self.limits.get(&p).copied().unwrap_or_default()
    }

    /// Cost of a usage on a model; zero for a model the catalog does not know.
    pub fn cost(&self, model: &str, usage: &Usage) -> Cost {
        self.get(model).map(|m| m.cost(usage)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;

    #[test]
    fn builtin_parses_and_has_the_seed_roles() {
        let (cat, warnings) = Catalog::parse(&Source::new("models.toml", BUILTIN_CATALOG), None).expect("built-in catalog parses");
        assert!(warnings.0.is_empty(), "{warnings}");
        assert!(!cat.prices_read.is_empty());
        for id in ["claude-opus-4-1", "gemini-2.5-flash-lite", "gpt-5-nano", "claude-sonnet-4-5"] {
            assert!(cat.get(id).is_some(), "missing {id}");
        }
    }

    #[test]
    fn cost_matches_hand_arithmetic() {
        let cat = Catalog::builtin();
        let opus = cat.get("claude-opus-4-1").expect("opus");
        // 1,000 input at $15/M + 200 cached at $1.50/M + 500 output at $75/M.
        let c = opus.cost(&Usage { input: 1000, cached: 200, cache_write: 0, output: 500, reasoning: 0 });
        assert_eq!(c.input, Money::from_usd(0.015));
        assert_eq!(c.cached, Money::from_usd(0.0003));
        assert_eq!(c.output, Money::from_usd(0.0375));
        assert_eq!(c.total(), Money::from_usd(0.0528));
    }

    #[test]
    fn user_file_overrides_and_adds() {
        let base = Catalog::builtin();
        let user = Source::new(
            "user.toml",
            r#"
[[model]]
id = "gpt-5-nano"
input_per_mtok = 0.10

[[model]]
id = "my-local"
provider = "openai"
base_url = "http://localhost:11434/v1"
key_env = ""
input_per_mtok = 0
output_per_mtok = 0
context_window = 32768
"#,
        );
        let (cat, _) = Catalog::parse(&user, Some(&base)).expect("override parses");
        let nano = cat.get("gpt-5-nano").expect("nano");
        assert_eq!(nano.prices.input, PerMillion::from_usd_per_million(0.10));
        // Fields the override did not set are kept.
        assert_eq!(nano.prices.output, base.get("gpt-5-nano").expect("nano").prices.output);
        let local = cat.get("my-local").expect("local");
        assert_eq!(local.key_env, None);
        assert_eq!(local.provider, ProviderKind::Openai);
    }

    #[test]
    fn new_model_without_prices_is_an_error() {
        let user = Source::new("user.toml", "[[model]]\nid = \"claude-opus-4-2\"\nprovider = \"anthropic\"\n");
        let err = Catalog::parse(&user, Some(&Catalog::builtin())).expect_err("incomplete");
        let text = err.to_string();
        assert!(text.contains("user.toml:2:6"), "{text}");
        assert!(text.contains("missing input_per_mtok, output_per_mtok, context_window"), "{text}");
        assert!(text.contains("did you mean to override 'claude-opus-4-1'"), "{text}");
    }
}
