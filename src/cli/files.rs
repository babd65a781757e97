//! The files and the catalog: `validate` (flows, strategies, catalogs with file:line:col
//! errors), `models` (the catalog with prices), `doctor` (keys and servers).

use std::path::Path;

use super::error::Exit;
use super::output::{print_out, to_json, warn};
use super::{DoctorArgs, EXIT_BAD_INPUT, EXIT_OK, EXIT_RUN_FAILED, Failure, Format, ModelsArgs, ValidateArgs};
use crate::diag::{Diagnostics, Source};
use crate::flow::parse_flow;
use crate::load;
use crate::report::{self, Table};
use crate::routing::{Catalog, Strategy};

pub fn doctor(args: DoctorArgs) -> Exit {
    let (catalog, w) = load::load_catalog(args.catalog.as_deref())?;
    warn(&w);
    // With --strategy, only the models it can route to.
    let used: Option<std::collections::HashSet<String>> = match &args.strategy {
        None => None,
        Some(name) => match load::load_strategy(name, None, &catalog) {
            Ok((s, _, w)) => {
                warn(&w);
                let mut set: std::collections::HashSet<String> = std::iter::once(s.default_model.clone()).collect();
                set.extend(s.default_fallbacks.iter().cloned());
                for r in &s.rules {
                    set.insert(r.model.clone());
                    set.extend(r.fallbacks.iter().cloned());
                }
                Some(set)
            }
            Err(d) => return Err(d.into()),
        },
    };
    let mut out = format!("prices read {} ({})\n\n", catalog.prices_read, catalog.sources.join(", "));
    // One row per distinct server: provider, base URL and the key it needs.
    // Provider, base URL, key variable, key file, and the models it serves.
    type Server = (crate::routing::ProviderKind, String, Option<String>, Option<String>, Vec<String>);
    let mut servers: Vec<Server> = Vec::new();
    for m in &catalog.models {
        if m.provider == crate::routing::ProviderKind::Sim {
            continue;
        }
        if !args.provider.is_empty() && !args.provider.iter().any(|p| p.eq_ignore_ascii_case(m.provider.name())) {
            continue;
        }
        if used.as_ref().is_some_and(|u| !u.contains(&*m.id)) {
            continue;
        }
        let base = m.base_url.clone().or_else(|| m.provider.default_base_url().map(str::to_string)).unwrap_or_default();
        match servers.iter_mut().find(|s| s.0 == m.provider && s.1 == base && s.2 == m.key_env && s.3 == m.key_file) {
            Some(s) => s.4.push(m.id.to_string()),
            None => servers.push((m.provider, base, m.key_env.clone(), m.key_file.clone(), vec![m.id.to_string()])),
        }
    }
    let mut t = Table::new(&[("PROVIDER", false), ("BASE URL", false), ("KEY", false), ("MODELS", true), ("SERVER", false)]);
    let rt = crate::engine::runtime::build();
    let client = if args.check {
        crate::provider::http::install_crypto();
        reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(10))
            .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
            .build()
            .ok()
    } else {
        None
    };
    let mut failed = 0;
    for (kind, base, key_env, key_file, models) in &servers {
        // Only whether a key is there: its value is never printed.
        let key = match (key_file, key_env) {
            (Some(f), _) => {
                if Path::new(f).is_file() {
                    format!("file {f} (present)")
                } else {
                    format!("file {f} (MISSING)")
                }
            }
            (None, Some(v)) => {
                if std::env::var(v).is_ok_and(|k| !k.trim().is_empty()) {
                    format!("{v} set")
                } else {
                    format!("{v} not set")
                }
            }
            (None, None) => "none needed".to_string(),
        };
        let server = match (&client, &rt) {
            (Some(c), Ok(rt)) => {
                // Any model of this server stands for it: same URL, same key.
                let check = catalog
                    .models
                    .iter()
                    .find(|m| *m.id == *models[0])
                    .map(|m| rt.block_on(crate::provider::http::check_server(c, m)))
                    .unwrap_or(crate::provider::http::ServerCheck::Ok);
                if !check.is_ok() {
                    failed += 1;
                }
                check.to_string()
            }
            _ => "not checked (--check contacts it)".to_string(),
        };
        t.row(vec![kind.name().to_string(), base.clone(), key, models.len().to_string(), server]);
    }
    out.push_str(&t.render());
    out.push_str("\nKeys are read from the environment (or the key_file a catalog entry names) when a call is made; Baton never writes them anywhere.\nRun with --live to call these providers; without it every model is simulated.\n");
    if failed > 0 {
        out.push_str(&format!(
            "\n{failed} of {} server(s) not ok: fix the key or the URL above, or leave their models out of your catalog (--catalog).\n",
            servers.len()
        ));
    }
    let code = print_out(&out);
    Ok(if failed > 0 { EXIT_RUN_FAILED } else { code })
}

/// What kind of file a TOML document is, from its top-level tables; `Err` when it is not TOML.
fn file_kind(text: &str) -> Result<Option<&'static str>, ()> {
    load::file_kind(text).map_err(|_| ())
}

pub fn validate(args: ValidateArgs) -> Exit {
    let (catalog, _) = load::load_catalog(args.catalog.as_deref())?;
    let mut failed = false;
    for path in &args.files {
        let src = match Source::read(path) {
            Ok(s) => s,
            Err(d) => {
                Failure::Diagnostics(d).report();
                failed = true;
                continue;
            }
        };
        let result: Result<(String, Diagnostics), Diagnostics> = match file_kind(&src.text) {
            Ok(Some("flow")) | Err(()) => parse_flow(&src).map(|(f, w)| (format!("flow '{}', {} nodes", f.name, f.nodes.len()), w)),
            Ok(Some("strategy")) => {
                Strategy::parse(&src, &catalog).map(|(s, w)| (format!("strategy '{}', {} rules", s.name, s.rules.len()), w))
            }
            Ok(Some("catalog")) => Catalog::parse(&src, Some(&catalog)).map(|(c, w)| (format!("catalog, {} models", c.models.len()), w)),
            Ok(_) => {
                // No known table: let the flow parser explain what a flow needs.
                parse_flow(&src).map(|(f, w)| (format!("flow '{}'", f.name), w)).map_err(|mut d| {
                    if let Some(first) = d.0.first_mut()
                        && first.help.is_none()
                    {
                        first.help = Some("a flow starts with [flow], a strategy with [strategy], a catalog with [[model]]".to_string());
                    }
                    d
                })
            }
        };
        match result {
            Ok((what, warnings)) => {
                warn(&warnings);
                print_out(&format!("ok  {}  ({what})\n", path.display()));
            }
            Err(d) => {
                Failure::Diagnostics(d).report();
                failed = true;
            }
        }
    }
    Ok(if failed { EXIT_BAD_INPUT } else { EXIT_OK })
}

pub fn models(args: ModelsArgs) -> Exit {
    let (catalog, w) = load::load_catalog(args.catalog.as_deref())?;
    warn(&w);
    if args.format == Format::Json {
        #[derive(serde::Serialize)]
        struct M<'a> {
            id: &'a str,
            provider: &'a str,
            api_model: &'a str,
            input_per_mtok: f64,
            cached_input_per_mtok: f64,
            cache_write_per_mtok: f64,
            output_per_mtok: f64,
            /// Only where reasoning is billed apart from output.
            #[serde(skip_serializing_if = "Option::is_none")]
            reasoning_per_mtok: Option<f64>,
            context_window: u32,
            #[serde(skip_serializing_if = "Option::is_none")]
            max_output: Option<u32>,
            sim_ttft_ms: f64,
            sim_tokens_per_second: f64,
            sim_capability: f64,
            sim_error_rate: f64,
        }
        #[derive(serde::Serialize)]
        struct Out<'a> {
            prices_read: &'a str,
            sources: &'a [String],
            models: Vec<M<'a>>,
        }
        let out = Out {
            prices_read: &catalog.prices_read,
            sources: &catalog.sources,
            models: catalog
                .models
                .iter()
                .map(|m| M {
                    id: &m.id,
                    provider: m.provider.name(),
                    api_model: &m.api_model,
                    input_per_mtok: m.prices.input.usd_per_million(),
                    cached_input_per_mtok: m.prices.cached_input.usd_per_million(),
                    cache_write_per_mtok: m.prices.cache_write.usd_per_million(),
                    output_per_mtok: m.prices.output.usd_per_million(),
                    reasoning_per_mtok: m.prices.reasoning.map(|r| r.usd_per_million()),
                    context_window: m.context_window,
                    max_output: m.max_output,
                    sim_ttft_ms: m.sim.ttft.as_secs_f64() * 1000.0,
                    sim_tokens_per_second: m.sim.tokens_per_second,
                    sim_capability: m.sim.capability,
                    sim_error_rate: m.sim.error_rate,
                })
                .collect(),
        };
        return Ok(print_out(&to_json(&out)));
    }
    let mut t = Table::new(&[
        ("MODEL", false),
        ("PROVIDER", false),
        ("IN $/M", true),
        ("CACHED $/M", true),
        ("OUT $/M", true),
        ("CONTEXT", true),
        ("TTFT", true),
        ("TOK/S", true),
        ("CAPABILITY", true),
    ]);
    for m in &catalog.models {
        t.row(vec![
            m.id.to_string(),
            m.provider.name().to_string(),
            m.prices.input.to_string(),
            m.prices.cached_input.to_string(),
            m.prices.output.to_string(),
            report::thousands(u64::from(m.context_window)),
            format!("{:.0}ms", m.sim.ttft.as_secs_f64() * 1000.0),
            format!("{:.0}", m.sim.tokens_per_second),
            format!("{:.1}", m.sim.capability),
        ]);
    }
    let mut text =
        format!("prices read {} · USD per million tokens · TTFT, speed and capability are the simulator's profile\n", catalog.prices_read);
    text.push_str(&t.render());
    Ok(print_out(&text))
}
