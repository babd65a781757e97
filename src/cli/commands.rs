//! What each command does.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::{EXIT_BAD_INPUT, EXIT_OK, EXIT_RUN_FAILED, Format, ModelsArgs, OpenArgs, RunArgs, ValidateArgs};
use crate::diag::{Diagnostics, Source};
use crate::engine::RunSpec;
use crate::event::Outcome;
use crate::flow::{Flow, parse_flow};
use crate::load;
use crate::provider::Providers;
use crate::report::{self, BatchAccumulator, RunReport, Table};
use crate::routing::{Catalog, Strategy};

/// Prints diagnostics to stderr; returns whether any was an error.
fn report_diags(d: &Diagnostics) -> bool {
    if !d.0.is_empty() {
        eprintln!("{d}");
    }
    d.has_errors()
}

/// A flow, strategy and catalog loaded for a run.
pub struct Loaded {
    pub flow: Arc<Flow>,
    pub strategy: Arc<Strategy>,
    pub catalog: Arc<Catalog>,
    /// Where the files came from, so the screen can edit and watch them.
    #[allow(dead_code)]
    pub flow_origin: load::Origin,
    #[allow(dead_code)]
    pub strategy_origin: load::Origin,
}

pub fn load_run(flow: &str, common: &super::Common) -> Result<Loaded, Diagnostics> {
    let (catalog, w1) = load::load_catalog(common.catalog.as_deref())?;
    report_diags(&w1);
    let (flow, flow_origin, w2) = load::load_flow(flow)?;
    report_diags(&w2);
    let name = common.strategy.clone().or_else(|| flow.strategy.clone()).unwrap_or_else(|| "smart".to_string());
    let dir = flow_origin.path().and_then(Path::parent);
    let (strategy, strategy_origin, w3) = load::load_strategy(&name, dir, &catalog)?;
    report_diags(&w3);
    Ok(Loaded { flow, strategy, catalog, flow_origin, strategy_origin })
}

pub fn open(args: OpenArgs) -> u8 {
    use std::io::IsTerminal;
    let flow = args.flow.clone().unwrap_or_else(|| "research-assistant".to_string());
    let loaded = match load_run(&flow, &args.common) {
        Ok(l) => l,
        Err(d) => {
            report_diags(&d);
            return EXIT_BAD_INPUT;
        }
    };
    if !(0.25..=64.0).contains(&args.speed) {
        eprintln!("baton: --speed {} is out of range\n  help: use a speed from 0.25 to 64", args.speed);
        return EXIT_BAD_INPUT;
    }
    let config = load::config_dir();
    let theme = match crate::tui::theme::Theme::load(args.theme.as_deref(), config.as_ref().map(|d| d.join("themes")).as_deref()) {
        Ok(t) => t,
        Err(d) => {
            report_diags(&d);
            return EXIT_BAD_INPUT;
        }
    };
    // https://no-color.org: any non-empty value turns colour off.
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme = if no_color { theme.monochrome() } else { theme };
    let keymap = match config.as_ref().map(|d| d.join("keymap.toml")).filter(|p| p.is_file()) {
        None => crate::tui::keymap::Keymap::default_map(),
        Some(p) => match Source::read(&p).and_then(|src| crate::tui::keymap::Keymap::with_user(&src)) {
            Ok(k) => k,
            Err(d) => {
                report_diags(&d);
                return EXIT_BAD_INPUT;
            }
        },
    };
    if !std::io::stdout().is_terminal() {
        eprintln!("baton: the live screen needs a terminal\n  help: for output a script can read, use `baton run {flow} --format json`");
        return EXIT_BAD_INPUT;
    }
    let input = args.common.input.clone().unwrap_or_else(|| loaded.flow.input.clone());
    let spec = RunSpec::new(loaded.flow, loaded.strategy, loaded.catalog, input, args.common.seed);
    let opts = crate::tui::Options { spec, providers: Providers::simulated(), theme, keymap, speed: args.speed };
    match crate::tui::run(opts) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("baton: the terminal failed: {e}");
            EXIT_RUN_FAILED
        }
    }
}

fn print_out(text: &str) -> u8 {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => EXIT_OK,
        // A closed pipe (`| head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => {
            eprintln!("baton: cannot write the output: {e}");
            EXIT_RUN_FAILED
        }
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_string_pretty(v) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        Err(e) => format!("{{\"error\": \"{e}\"}}\n"),
    }
}

pub fn run(args: RunArgs) -> u8 {
    let loaded = match load_run(&args.flow, &args.common) {
        Ok(l) => l,
        Err(d) => {
            report_diags(&d);
            return EXIT_BAD_INPUT;
        }
    };
    let input = args.common.input.clone().unwrap_or_else(|| loaded.flow.input.clone());
    let spec = RunSpec::new(loaded.flow.clone(), loaded.strategy.clone(), loaded.catalog.clone(), input, args.common.seed);
    let providers = Providers::simulated();

    if let Some(tasks_arg) = &args.tasks {
        let tasks = match load::load_tasks(tasks_arg) {
            Ok(t) => t,
            Err(d) => {
                report_diags(&d);
                return EXIT_BAD_INPUT;
            }
        };
        let mut acc = BatchAccumulator::default();
        if let Err(e) = crate::headless::run_tasks(&spec, &tasks, &providers, |_, s| acc.add(s)) {
            eprintln!("baton: cannot start the runtime: {e}");
            return EXIT_RUN_FAILED;
        }
        let b = acc.finish();
        let text = match args.format {
            Format::Json => to_json(&b),
            Format::Table => report::batch_table(&b),
        };
        return print_out(&text);
    }

    let state = match crate::headless::run_one(&spec, &providers) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("baton: cannot start the runtime: {e}");
            return EXIT_RUN_FAILED;
        }
    };
    let text = match args.format {
        Format::Json => to_json(&RunReport::new(&state)),
        Format::Table => report::run_table(&state),
    };
    let code = print_out(&text);
    match state.status {
        crate::state::RunStatus::Finished(Outcome::Completed) => code,
        _ => EXIT_RUN_FAILED,
    }
}

/// What kind of file a TOML document is, from its top-level tables; `Err` when it is not TOML.
fn file_kind(text: &str) -> Result<Option<&'static str>, ()> {
    let doc: toml::Table = toml::from_str(text).map_err(|_| ())?;
    Ok(if doc.contains_key("flow") {
        Some("flow")
    } else if doc.contains_key("strategy") {
        Some("strategy")
    } else if doc.contains_key("model") || doc.contains_key("catalog") {
        Some("catalog")
    } else {
        None
    })
}

pub fn validate(args: ValidateArgs) -> u8 {
    let catalog = match load::load_catalog(args.catalog.as_deref()) {
        Ok((c, _)) => c,
        Err(d) => {
            report_diags(&d);
            return EXIT_BAD_INPUT;
        }
    };
    let mut failed = false;
    for path in &args.files {
        let src = match Source::read(path) {
            Ok(s) => s,
            Err(d) => {
                report_diags(&d);
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
                report_diags(&warnings);
                println!("ok  {}  ({what})", path.display());
            }
            Err(d) => {
                report_diags(&d);
                failed = true;
            }
        }
    }
    if failed { EXIT_BAD_INPUT } else { EXIT_OK }
}

pub fn models(args: ModelsArgs) -> u8 {
    let catalog = match load::load_catalog(args.catalog.as_deref()) {
        Ok((c, w)) => {
            report_diags(&w);
            c
        }
        Err(d) => {
            report_diags(&d);
            return EXIT_BAD_INPUT;
        }
    };
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
            context_window: u32,
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
                    context_window: m.context_window,
                    sim_ttft_ms: m.sim.ttft.as_secs_f64() * 1000.0,
                    sim_tokens_per_second: m.sim.tokens_per_second,
                    sim_capability: m.sim.capability,
                    sim_error_rate: m.sim.error_rate,
                })
                .collect(),
        };
        return print_out(&to_json(&out));
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
            m.id.clone(),
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
    print_out(&text)
}
