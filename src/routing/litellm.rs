//! LiteLLM's price table (`model_prices_and_context_window.json`, which the litellm package
//! ships and Phoenix, Langfuse and others derive from) turned into catalog TOML.
//!
//! What maps: chat models of the providers Baton can call (OpenAI, Anthropic, Gemini, and the
//! OpenAI-compatible servers in [`PROVIDERS`]) with per-token prices and a context window.
//! Prices become USD per million tokens through integer picodollars, so the TOML holds the
//! table's figures exactly. Everything else is listed with the reason it was not imported
//! ([`Imported::skipped`], and in the TOML's closing comment), never dropped silently.
//!
//! Tiers: LiteLLM lists higher prices for prompts above a size (`*_above_200k_tokens`, or a
//! `tiered_pricing` array). The catalog prices a model at one rate, so the import takes the base
//! tier and writes each higher tier as a comment beside the model ([`Imported::tier_notes`]).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use crate::diag::{Diagnostic, Diagnostics, Source, nearest};

/// LiteLLM provider name → (catalog provider kind, base URL, key variable). `None` base URL or
/// key means the kind's default; `Some("")` for the key means the server needs none.
pub const PROVIDERS: &[(&str, &str, Option<&str>, Option<&str>)] = &[
    ("openai", "openai", None, None),
    ("anthropic", "anthropic", None, None),
    ("gemini", "gemini", None, None),
    ("groq", "openai", Some("https://api.groq.com/openai/v1"), Some("GROQ_API_KEY")),
    ("deepseek", "openai", Some("https://api.deepseek.com/v1"), Some("DEEPSEEK_API_KEY")),
    ("mistral", "openai", Some("https://api.mistral.ai/v1"), Some("MISTRAL_API_KEY")),
    ("xai", "openai", Some("https://api.x.ai/v1"), Some("XAI_API_KEY")),
    ("together_ai", "openai", Some("https://api.together.xyz/v1"), Some("TOGETHER_API_KEY")),
    ("fireworks_ai", "openai", Some("https://api.fireworks.ai/inference/v1"), Some("FIREWORKS_API_KEY")),
    ("openrouter", "openai", Some("https://openrouter.ai/api/v1"), Some("OPENROUTER_API_KEY")),
    ("deepinfra", "openai", Some("https://api.deepinfra.com/v1/openai"), Some("DEEPINFRA_API_KEY")),
    ("cerebras", "openai", Some("https://api.cerebras.ai/v1"), Some("CEREBRAS_API_KEY")),
    ("perplexity", "openai", Some("https://api.perplexity.ai"), Some("PERPLEXITY_API_KEY")),
    ("moonshot", "openai", Some("https://api.moonshot.ai/v1"), Some("MOONSHOT_API_KEY")),
    ("ollama", "openai", Some("http://localhost:11434/v1"), Some("")),
];

/// What to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Only these LiteLLM providers (`litellm_provider`); empty: all.
    pub providers: Vec<String>,
    /// Only keys matching one of these globs (`*`, `?`; case-insensitive); empty: all.
    pub patterns: Vec<String>,
    /// The date the table's prices were read (YYYY-MM-DD), for the catalog header.
    pub date: String,
}

/// An entry that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub key: String,
    /// A short class for summaries: "mode", "provider", "prices", "context window", "alias",
    /// "duplicate id", "not a model".
    pub kind: &'static str,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Imported {
    /// Catalog TOML: a header with the date and source, one `[[model]]` per imported entry,
    /// and the skipped entries as a closing comment.
    pub toml: String,
    pub models: usize,
    pub skipped: Vec<Skipped>,
    /// Entries the filters left out (not listed: they were asked to be left out).
    pub filtered_out: usize,
    /// Imported models with a higher tier that is noted but not modelled.
    pub tier_notes: usize,
}

pub use crate::dates::utc_date;

/// The date a table's prices were read when none is given: the file's modification date, or
/// today when that is older than LiteLLM's table (a wheel stores 1980 for every file).
pub fn table_date(path: &std::path::Path) -> String {
    let secs = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).map_or(0, secs);
    // 2023-01-01: older dates are not when anyone read these prices.
    utc_date(if modified >= 1_672_531_200 { modified } else { secs(std::time::SystemTime::now()) })
}

/// Picodollars per token from LiteLLM's USD per token; `Err` says what is wrong.
fn pico(v: &Value, field: &str) -> Result<i64, String> {
    let Some(x) = v.as_f64() else { return Err(format!("{field} is not a number")) };
    // $100,000 per million tokens is the catalog's ceiling: 10⁸ picodollars a token.
    if !x.is_finite() || !(0.0..=1e-1).contains(&x) {
        return Err(format!("{field} {x} is not a plausible USD price per token"));
    }
    Ok((x * 1e12).round() as i64)
}

/// Picodollars per token as USD per million tokens, exactly: 2500000 → "2.5".
fn per_mtok(p: i64) -> String {
    let (whole, frac) = (p / 1_000_000, p % 1_000_000);
    let frac = format!("{frac:06}");
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() { format!("{whole}.0") } else { format!("{whole}.{frac}") }
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text safe inside a TOML comment (a key from the file could hold a line break).
fn comment_safe(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// `*` any run of characters, `?` one character; case-insensitive.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The byte offset of a 1-based line and column (serde_json's error position).
fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let start: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
    (start + col.saturating_sub(1)).min(text.len())
}

/// One model's TOML, or why it cannot be imported. `notes` gets the tiers it leaves out.
fn model_toml(key: &str, e: &Map<String, Value>, notes: &mut Vec<String>) -> Result<(String, String), (&'static str, String)> {
    let provider = match e.get("litellm_provider").and_then(Value::as_str) {
        Some(p) => p,
        None if e.contains_key("alias_of") => {
            let of = e.get("alias_of").and_then(Value::as_str).unwrap_or("?");
            return Err(("alias", format!("an alias of '{}' (import that entry instead)", comment_safe(of))));
        }
        None => return Err(("provider", "no litellm_provider".into())),
    };
    match e.get("mode").and_then(Value::as_str) {
        None | Some("chat") => {}
        Some("responses") => {
            return Err(("mode", "mode 'responses': served only by OpenAI's Responses API, which Baton does not call".into()));
        }
        Some(m) => return Err(("mode", format!("mode '{}': Baton calls chat models only", comment_safe(m)))),
    }
    let Some(&(_, kind, base_url, key_env)) = PROVIDERS.iter().find(|(n, ..)| *n == provider) else {
        return Err((
            "provider",
            format!(
                "provider '{}' is not one Baton calls (OpenAI-compatible servers it knows, anthropic, gemini); add it by hand with provider = \"openai\" and its base_url if it speaks OpenAI's API",
                comment_safe(provider)
            ),
        ));
    };
    // The base tier: the flat fields, else the first range of `tiered_pricing`.
    let tiers = e.get("tiered_pricing").and_then(Value::as_array);
    let base = match (e.get("input_cost_per_token"), e.get("output_cost_per_token"), tiers.and_then(|t| t.first())) {
        (Some(_), Some(_), _) => e,
        (_, _, Some(Value::Object(t))) if t.contains_key("input_cost_per_token") && t.contains_key("output_cost_per_token") => t,
        _ => {
            let mut other: Vec<&str> = e.keys().filter(|k| k.contains("cost_per") && !k.ends_with("_token")).map(String::as_str).collect();
            other.truncate(3);
            let missing = if e.contains_key("input_cost_per_token") { "output_cost_per_token" } else { "input_cost_per_token" };
            return Err((
                "prices",
                if other.is_empty() { format!("no {missing}") } else { format!("no {missing} (priced by {})", other.join(", ")) },
            ));
        }
    };
    let price = |m: &Map<String, Value>, f: &str| m.get(f).map(|v| pico(v, f)).transpose().map_err(|r| ("prices", r));
    let input = price(base, "input_cost_per_token")?.unwrap_or(0);
    let output = price(base, "output_cost_per_token")?.unwrap_or(0);
    let cached = price(base, "cache_read_input_token_cost")?.or(price(e, "cache_read_input_token_cost")?);
    let write = price(e, "cache_creation_input_token_cost")?;
    let reasoning = price(base, "output_cost_per_reasoning_token")?.or(price(e, "output_cost_per_reasoning_token")?);
    let window = e.get("max_input_tokens").or_else(|| e.get("max_tokens")).and_then(Value::as_f64);
    let window = match window {
        None => return Err(("context window", "no context window (max_input_tokens)".into())),
        Some(w) if !(256.0..=100_000_000.0).contains(&w) => {
            return Err(("context window", format!("context window {w} is out of range (256 to 100000000)")));
        }
        Some(w) => w as u64,
    };
    let max_output = e.get("max_output_tokens").and_then(Value::as_f64).filter(|m| (1.0..=100_000_000.0).contains(m)).map(|m| m as u64);

    // Higher tiers: `<field>_above_<N>k_tokens` with no further suffix (batch, flex, priority
    // prices are other services, not tiers), and `tiered_pricing` ranges after the first.
    let mut above: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (f, v) in e {
        let Some((field, rest)) = f.split_once("_above_") else { continue };
        let Some(n) = rest.strip_suffix("k_tokens").and_then(|n| n.parse::<u64>().ok()) else { continue };
        let label = match field {
            "input_cost_per_token" => "input",
            "output_cost_per_token" => "output",
            "cache_read_input_token_cost" => "cache read",
            "cache_creation_input_token_cost" => "cache write",
            _ => continue,
        };
        if let Ok(p) = pico(v, f) {
            above.entry(n * 1000).or_default().push(format!("{label} ${}", per_mtok(p)));
        }
    }
    for t in tiers.into_iter().flatten().skip(1) {
        let from = t.get("range").and_then(Value::as_array).and_then(|r| r.first()).and_then(Value::as_f64);
        if let (Some(from), Some(t)) = (from, t.as_object()) {
            for (f, label) in [("input_cost_per_token", "input"), ("output_cost_per_token", "output")] {
                if let Some(Ok(p)) = t.get(f).map(|v| pico(v, f)) {
                    above.entry(from as u64).or_default().push(format!("{label} ${}", per_mtok(p)));
                }
            }
        }
    }
    for (n, prices) in &above {
        notes.push(format!(
            "above {} prompt tokens LiteLLM lists {} per M: not modelled, every call is priced at the base tier",
            n,
            prices.join(", ")
        ));
    }

    // The catalog id: the key, without the provider prefix of a provider Baton names itself
    // (`gemini/gemini-2.5-pro` → `gemini-2.5-pro`); the API gets the key without its prefix.
    let bare = key.strip_prefix(provider).and_then(|k| k.strip_prefix('/')).unwrap_or(key);
    let id = if ["openai", "anthropic", "gemini"].contains(&provider) { bare } else { key };
    let mut t = String::new();
    t.push_str(&format!("[[model]]\nid = {}\nprovider = \"{kind}\"\napi_model = {}\n", quoted(id), quoted(bare)));
    if let Some(u) = base_url {
        t.push_str(&format!("base_url = {}\n", quoted(u)));
    }
    if let Some(k) = key_env {
        t.push_str(&format!("key_env = {}\n", quoted(k)));
    }
    t.push_str(&format!("input_per_mtok = {}\noutput_per_mtok = {}\n", per_mtok(input), per_mtok(output)));
    if let Some(c) = cached {
        t.push_str(&format!("cached_input_per_mtok = {}\n", per_mtok(c)));
    }
    if let Some(w) = write {
        t.push_str(&format!("cache_write_per_mtok = {}\n", per_mtok(w)));
    }
    if let Some(r) = reasoning.filter(|&r| r != output) {
        t.push_str(&format!("reasoning_per_mtok = {}\n", per_mtok(r)));
    }
    t.push_str(&format!("context_window = {window}\n"));
    if let Some(m) = max_output {
        t.push_str(&format!("max_output = {m}\n"));
    }
    Ok((id.to_string(), t))
}

/// Turns LiteLLM's table into catalog TOML. The whole file must be a JSON object of entries; a
/// file that is not is an error with its line.
pub fn import(src: &Source, opts: &ImportOptions) -> Result<Imported, Diagnostics> {
    let table: Map<String, Value> = match serde_json::from_str(&src.text) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return Err(Diagnostic::file_error(&src.name, "not LiteLLM's price table: the file is JSON but not an object of models")
                .with_help("give model_prices_and_context_window.json (the litellm package ships it)")
                .into());
        }
        Err(e) => {
            let at = offset_of(&src.text, e.line(), e.column());
            return Err(src
                .error(at..at + 1, format!("not valid JSON: {e}"))
                .with_help("give LiteLLM's model_prices_and_context_window.json as the package ships it")
                .into());
        }
    };
    let known: Vec<&str> = {
        let mut v: Vec<&str> = table.values().filter_map(|e| e.get("litellm_provider").and_then(Value::as_str)).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    for p in &opts.providers {
        if !known.contains(&p.as_str()) {
            let mut help = "give a litellm_provider name from the table, e.g. openai, anthropic, gemini, groq".to_string();
            if let Some(best) = nearest(p, known.iter().copied()) {
                help = format!("did you mean '{best}'? ({help})");
            }
            return Err(Diagnostic::file_error(&src.name, format!("no entry in the table has provider '{p}'")).with_help(help).into());
        }
    }
    let mut out = Imported { toml: String::new(), models: 0, skipped: Vec::new(), filtered_out: 0, tier_notes: 0 };
    let mut models = String::new();
    let mut ids: HashMap<String, String> = HashMap::new();
    for (key, entry) in &table {
        let provider = entry.get("litellm_provider").and_then(Value::as_str).unwrap_or("");
        if (!opts.providers.is_empty() && !opts.providers.iter().any(|p| p == provider))
            || (!opts.patterns.is_empty() && !opts.patterns.iter().any(|p| glob(p, key)))
        {
            out.filtered_out += 1;
            continue;
        }
        if key == "sample_spec" {
            out.skipped.push(Skipped {
                key: key.clone(),
                kind: "not a model",
                reason: "LiteLLM's description of the fields, not a model".into(),
            });
            continue;
        }
        let Value::Object(e) = entry else {
            out.skipped.push(Skipped { key: key.clone(), kind: "not a model", reason: "not an object".into() });
            continue;
        };
        let mut notes = Vec::new();
        match model_toml(key, e, &mut notes) {
            Err((kind, reason)) => out.skipped.push(Skipped { key: key.clone(), kind, reason }),
            Ok((id, _)) if ids.contains_key(&id) => {
                let first = ids.get(&id).cloned().unwrap_or_default();
                let reason = format!("same catalog id '{id}' as the entry '{first}', which was imported");
                out.skipped.push(Skipped { key: key.clone(), kind: "duplicate id", reason });
            }
            Ok((id, text)) => {
                models.push('\n');
                for n in &notes {
                    models.push_str(&format!("# {}\n", comment_safe(n)));
                }
                out.tier_notes += usize::from(!notes.is_empty());
                models.push_str(&text);
                ids.insert(id, key.clone());
                out.models += 1;
            }
        }
    }
    let mut filters = Vec::new();
    if !opts.providers.is_empty() {
        filters.push(format!("provider {}", opts.providers.join(", ")));
    }
    if !opts.patterns.is_empty() {
        filters.push(format!("name {}", opts.patterns.join(", ")));
    }
    let name = comment_safe(&src.name);
    let t = &mut out.toml;
    t.push_str("# Imported by `baton catalog import` from LiteLLM's model_prices_and_context_window.json\n");
    t.push_str(&format!(
        "# ({name}: {} entries; {} imported, {} not imported and listed at the end{}{}).\n",
        table.len(),
        out.models,
        out.skipped.len(),
        if out.filtered_out > 0 { format!(", {} left out by the filters", out.filtered_out) } else { String::new() },
        if filters.is_empty() { String::new() } else { format!(": {}", filters.join("; ")) },
    ));
    t.push_str("# Prices are USD per million tokens for standard requests (LiteLLM's batch, flex and priority\n");
    t.push_str("# prices are not imported). Models new to Baton get the simulator's default profile.\n");
    t.push_str("# Layer it under your own overrides: --catalog FILE, or `catalogs` in config.toml.\n\n");
    t.push_str(&format!("[catalog]\nprices_read = {}\nsources = [{}]\n", quoted(&opts.date), quoted(&format!("LiteLLM {}", src.name))));
    t.push_str(&models);
    if !out.skipped.is_empty() {
        t.push_str(&format!("\n# Not imported ({}):\n", out.skipped.len()));
        for s in &out.skipped {
            t.push_str(&format!("#   {}: {}\n", comment_safe(&s.key), comment_safe(&s.reason)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Money, PerMillion, Usage};
    use crate::routing::{Catalog, ProviderKind};

    const FIXTURE: &str = include_str!("../../tests/fixtures/litellm/model_prices_sample.json");

    fn imported(opts: &ImportOptions) -> (Imported, Catalog) {
        let out = import(&Source::new("prices.json", FIXTURE), opts).expect("imports");
        let (cat, warnings) = Catalog::parse(&Source::new("imported.toml", out.toml.clone()), Some(&Catalog::builtin()))
            .unwrap_or_else(|e| panic!("{e}\n{}", out.toml));
        assert!(warnings.0.is_empty(), "{warnings}");
        (out, cat)
    }

    fn opts() -> ImportOptions {
        ImportOptions { date: "2026-12-01".into(), ..ImportOptions::default() }
    }

    #[test]
    fn per_token_prices_become_exact_prices_per_million() {
        assert_eq!(per_mtok(2_500_000), "2.5");
        assert_eq!(per_mtok(10_000_000), "10.0");
        assert_eq!(per_mtok(125_000), "0.125");
        assert_eq!(per_mtok(30), "0.00003");
        let (_, cat) = imported(&opts());
        let m = cat.get("gpt-4o").expect("gpt-4o");
        assert_eq!(m.prices.input, PerMillion::from_usd_per_million(2.5));
        assert_eq!(m.prices.cached_input, PerMillion::from_usd_per_million(1.25));
        assert_eq!(m.prices.output, PerMillion::from_usd_per_million(10.0));
        assert_eq!(m.context_window, 128_000);
        assert_eq!(m.max_output, Some(16_384));
        assert_eq!(cat.prices_read, "2026-12-01");
    }

    #[test]
    fn cache_reads_and_writes_are_priced_as_the_table_says() {
        let (_, cat) = imported(&opts());
        // gpt-4o: 1,000 input at $2.50/M, 3,000 cached at $1.25/M, 500 output at $10/M.
        let gpt = cat.get("gpt-4o").expect("gpt-4o");
        let c = gpt.cost(&Usage { input: 1000, cached: 3000, cache_write: 0, output: 500, reasoning: 0 });
        assert_eq!(c.total(), Money::from_usd(0.0025 + 0.00375 + 0.005));
        // claude-sonnet-4-5: $3/M input, $0.30/M cache read, $3.75/M cache write, $15/M output.
        let sonnet = cat.get("claude-sonnet-4-5").expect("sonnet");
        assert_eq!(sonnet.provider, ProviderKind::Anthropic);
        let c = sonnet.cost(&Usage { input: 100, cached: 2000, cache_write: 4000, output: 300, reasoning: 0 });
        assert_eq!(c.input, Money::from_usd(0.0003));
        assert_eq!(c.cached, Money::from_usd(0.0006 + 0.015));
        assert_eq!(c.output, Money::from_usd(0.0045));
    }

    #[test]
    fn tiers_above_200k_are_noted_and_the_base_tier_is_priced() {
        let (out, cat) = imported(&opts());
        let pro = cat.get("gemini-2.5-pro").expect("prefix stripped");
        assert_eq!(pro.api_model, "gemini-2.5-pro");
        assert_eq!(pro.provider, ProviderKind::Gemini);
        assert_eq!(pro.prices.input, PerMillion::from_usd_per_million(1.25));
        assert!(
            out.toml.contains("# above 200000 prompt tokens LiteLLM lists cache read $0.25, input $2.5, output $15.0 per M: not modelled"),
            "{}",
            out.toml
        );
        assert!(out.tier_notes >= 1);
        // A reasoning price apart from output is kept; one equal to output is not written.
        assert_eq!(cat.get("gemini-2.5-flash").expect("flash").prices.reasoning, None);
        let deep = cat.get("perplexity/sonar-deep-research").expect("perplexity");
        assert_eq!(deep.prices.reasoning, Some(PerMillion::from_usd_per_million(3.0)));
        let oss = cat.get("groq/openai/gpt-oss-20b").expect("groq");
        assert_eq!(oss.base_url.as_deref(), Some("https://api.groq.com/openai/v1"));
        assert_eq!(oss.key_env.as_deref(), Some("GROQ_API_KEY"));
        assert_eq!(oss.api_model, "openai/gpt-oss-20b");
    }

    #[test]
    fn a_tiered_pricing_array_gives_its_first_range_as_the_base() {
        let json = r#"{"deepseek/tiered": {"litellm_provider": "deepseek", "mode": "chat", "max_input_tokens": 997952,
            "tiered_pricing": [{"input_cost_per_token": 5e-08, "output_cost_per_token": 4e-07, "range": [0, 256000.0]},
                               {"input_cost_per_token": 2.5e-07, "output_cost_per_token": 2e-06, "range": [256000.0, 1000000.0]}]}}"#;
        let out = import(&Source::new("t.json", json), &opts()).expect("imports");
        let (cat, _) = Catalog::parse(&Source::new("t.toml", out.toml.clone()), None).expect("parses");
        let m = cat.get("deepseek/tiered").expect("imported");
        assert_eq!(m.prices.input, PerMillion::from_usd_per_million(0.05));
        assert_eq!(m.prices.output, PerMillion::from_usd_per_million(0.4));
        assert!(out.toml.contains("# above 256000 prompt tokens LiteLLM lists input $0.25, output $2.0 per M"), "{}", out.toml);
    }

    #[test]
    fn what_cannot_be_mapped_is_listed_with_its_reason() {
        let (out, cat) = imported(&opts());
        let reason =
            |k: &str| out.skipped.iter().find(|s| s.key == k).map(|s| s.reason.clone()).unwrap_or_else(|| panic!("{k} not listed"));
        assert!(reason("text-embedding-3-small").contains("mode 'embedding'"));
        assert!(reason("bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0").contains("provider 'bedrock'"));
        assert!(reason("twelvelabs.pegasus-1-2-v1:0").contains("provider 'bedrock'"));
        assert!(reason("openai/container").contains("no input_cost_per_token (priced by code_interpreter_cost_per_session)"));
        assert!(reason("gpt-5.5-cyber").contains("no context window"));
        assert!(reason("sample_spec").contains("not a model"));
        assert!(reason("openai/gpt-4o").contains("same catalog id 'gpt-4o'"));
        assert!(reason("bedrock/claude-opus-latest").contains("alias"));
        assert!(reason("dashscope/qwen-flash").contains("provider 'dashscope'"));
        // Every entry is either imported or listed.
        let table: Map<String, Value> = serde_json::from_str(FIXTURE).expect("json");
        assert_eq!(out.models + out.skipped.len(), table.len());
        assert!(cat.get("ollama/llama3.1").is_some_and(|m| m.key_env.is_none()));
        for s in &out.skipped {
            assert!(out.toml.contains(&format!("#   {}: ", s.key)), "{} not in the TOML", s.key);
        }
    }

    #[test]
    fn filters_by_provider_and_name() {
        let o = ImportOptions { providers: vec!["anthropic".into()], ..opts() };
        let (out, _) = imported(&o);
        assert_eq!(out.models, 1);
        assert!(out.skipped.is_empty());
        let o = ImportOptions { patterns: vec!["GPT-4*".into()], ..opts() };
        let (out, cat) = imported(&o);
        assert!(cat.get("gpt-4o").is_some());
        assert_eq!(out.models, 1, "gpt-4o; openai/gpt-4o is a duplicate");
        let bad = ImportOptions { providers: vec!["antropic".into()], ..opts() };
        let e = import(&Source::new("prices.json", FIXTURE), &bad).expect_err("unknown provider");
        assert!(e.to_string().contains("did you mean 'anthropic'?"), "{e}");
    }

    #[test]
    fn bad_json_is_an_error_with_its_line() {
        let e = import(&Source::new("p.json", "{\n  \"gpt-4o\": {\n    \"mode\": chat\n  }\n}\n"), &opts()).expect_err("bad");
        assert!(e.to_string().starts_with("p.json:3:"), "{e}");
        let e = import(&Source::new("p.json", "[1, 2]"), &opts()).expect_err("not an object");
        assert!(e.to_string().contains("not an object of models"), "{e}");
    }

    #[test]
    fn dates_are_utc_calendar_days() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(1_795_000_000), "2026-11-18");
    }

    #[test]
    fn glob_matches_like_a_shell() {
        assert!(glob("claude-*", "claude-sonnet-4-5"));
        assert!(glob("*4o*", "openai/gpt-4o-mini"));
        assert!(glob("gpt-?o", "gpt-4o"));
        assert!(!glob("gpt-?o", "gpt-4o-mini"));
        assert!(!glob("claude-*", "anthropic/claude"));
    }
}
