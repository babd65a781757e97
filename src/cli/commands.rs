//! What each command does.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::{
    CompareArgs, CompareFormat, EXIT_BAD_INPUT, EXIT_OK, EXIT_RUN_FAILED, ExportArgs, Format, ModelsArgs, OpenArgs, ReplayArgs,
    RepriceArgs, RunArgs, ValidateArgs,
};
use crate::diag::{Diagnostics, Source};
use crate::engine::RunSpec;
use crate::event::Outcome;
use crate::flow::{Flow, parse_flow};
use crate::load;
use crate::provider::Providers;
use crate::record::{Header, RecordedOutputs, Recorder, Recording, default_name};
use crate::report::{self, RunReport, Table};
use crate::routing::{Catalog, Strategy};

/// The theme (with NO_COLOR applied) and keymap the screen uses.
/// Everything a screen needs before it opens: a playback speed in range, the theme and keymap
/// (with the user's files), and a terminal. `no_terminal` is the error when there is none.
fn screen_setup(theme: Option<&str>, speed: f64, no_terminal: &str) -> Result<(crate::tui::theme::Theme, crate::tui::keymap::Keymap), u8> {
    if !(0.25..=64.0).contains(&speed) {
        eprintln!("baton: --speed {speed} is out of range\n  help: use a speed from 0.25 to 64");
        return Err(EXIT_BAD_INPUT);
    }
    let config = load::config_dir();
    let theme = match crate::tui::theme::Theme::load(theme, config.as_ref().map(|d| d.join("themes")).as_deref()) {
        Ok(t) => t,
        Err(d) => {
            report_diags(&d);
            return Err(EXIT_BAD_INPUT);
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
                return Err(EXIT_BAD_INPUT);
            }
        },
    };
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        eprintln!("baton: {no_terminal}");
        return Err(EXIT_BAD_INPUT);
    }
    Ok((theme, keymap))
}

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
    pub flow_origin: load::Origin,
    pub strategy_origin: load::Origin,
}

pub fn load_run(flow: &str, common: &super::Common) -> Result<Loaded, Diagnostics> {
    let (catalog, w1) = load::load_catalog(common.catalog.as_deref())?;
    report_diags(&w1);
    let (flow, flow_origin, w2) = load::load_flow(flow)?;
    report_diags(&w2);
    let name = common.strategy.clone().or_else(|| flow.strategy.clone()).unwrap_or_else(|| "smart".to_string());
    let dir = flow_origin.path().and_then(Path::parent);
    let (strategy, strategy_origin, w3) = load::load_strategy(&name, dir, &catalog)
        .map_err(|d| if common.strategy.is_none() { load::point_at_flow_strategy(d, &flow) } else { d })?;
    report_diags(&w3);
    Ok(Loaded { flow, strategy, catalog, flow_origin, strategy_origin })
}

pub fn open(args: OpenArgs) -> u8 {
    let flow = args.flow.clone().unwrap_or_else(|| "research-assistant".to_string());
    let loaded = match load_run(&flow, &args.common) {
        Ok(l) => l,
        Err(d) => {
            report_diags(&d);
            return EXIT_BAD_INPUT;
        }
    };
    let no_terminal =
        format!("the live screen needs a terminal\n  help: for output a script can read, use `baton run {flow} --format json`");
    let (theme, keymap) = match screen_setup(args.theme.as_deref(), args.speed, &no_terminal) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let input = args.common.input.clone().unwrap_or_else(|| loaded.flow.input.clone());
    let flow_path = loaded.flow_origin.path().map(Path::to_path_buf);
    let strategy_path = loaded.strategy_origin.path().map(Path::to_path_buf);
    let spec = RunSpec::new(loaded.flow, loaded.strategy, loaded.catalog, input, args.common.seed);
    let providers = match providers_for(args.common.live, &spec) {
        Ok(p) => p,
        Err(c) => return c,
    };
    let opts = crate::tui::Options {
        spec,
        providers,
        theme,
        keymap,
        speed: args.speed,
        replay: None,
        others: Vec::new(),
        events: None,
        flow_path,
        strategy_path,
        cache_dir: args.cache.clone(),
    };
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

/// The simulator, or the real providers with `--live`.
fn providers_for(live: bool, spec: &RunSpec) -> Result<Providers, u8> {
    if !live {
        return Ok(Providers::simulated());
    }
    Providers::live(&spec.catalog, spec.strategy.retry.connect_timeout).map_err(|e| {
        eprintln!("baton: {e}");
        EXIT_RUN_FAILED
    })
}

pub fn doctor(args: super::DoctorArgs) -> u8 {
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
    let mut out = format!("prices read {} ({})\n\n", catalog.prices_read, catalog.sources.join(", "));
    // One row per distinct server: provider, base URL and the key it needs.
    // Provider, base URL, key variable, key file, and the models it serves.
    type Server = (crate::routing::ProviderKind, String, Option<String>, Option<String>, Vec<String>);
    let mut servers: Vec<Server> = Vec::new();
    for m in &catalog.models {
        if m.provider == crate::routing::ProviderKind::Sim {
            continue;
        }
        let base = m.base_url.clone().or_else(|| m.provider.default_base_url().map(str::to_string)).unwrap_or_default();
        match servers.iter_mut().find(|s| s.0 == m.provider && s.1 == base && s.2 == m.key_env && s.3 == m.key_file) {
            Some(s) => s.4.push(m.id.clone()),
            None => servers.push((m.provider, base, m.key_env.clone(), m.key_file.clone(), vec![m.id.clone()])),
        }
    }
    let mut t = Table::new(&[("PROVIDER", false), ("BASE URL", false), ("KEY", false), ("MODELS", true), ("SERVER", false)]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let client = if args.check {
        crate::provider::http::install_crypto();
        reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .ok()
    } else {
        None
    };
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
                let _ = kind;
                let url = format!("{}/models", base.trim_end_matches('/'));
                match rt.block_on(async { c.get(&url).send().await }) {
                    Ok(r) => format!("answers ({})", r.status()),
                    Err(e) => format!(
                        "unreachable: {}",
                        if e.is_timeout() {
                            "timed out".to_string()
                        } else if e.is_connect() {
                            "cannot connect".to_string()
                        } else {
                            e.to_string()
                        }
                    ),
                }
            }
            _ => "not checked (--check contacts it)".to_string(),
        };
        t.row(vec![kind.name().to_string(), base.clone(), key, models.len().to_string(), server]);
    }
    out.push_str(&t.render());
    out.push_str("\nKeys are read from the environment (or the key_file a catalog entry names) when a call is made; Baton never writes them anywhere.\nRun with --live to call these providers; without it every model is simulated.\n");
    print_out(&out)
}

/// Opens a recorder at `--record FILE` or the default place, unless `--no-record`. An explicit
/// file that cannot be created is bad input; the default place failing only costs the
/// recording, which is said.
fn open_recorder(
    spec: &RunSpec,
    explicit: Option<&Path>,
    off: bool,
    parent: Option<crate::record::Parent>,
    live: bool,
) -> Result<Option<Recorder>, u8> {
    if off {
        return Ok(None);
    }
    let mut header = Header::new(spec, if live { "live" } else { "sim" });
    header.parent = parent;
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match load::data_dir() {
            Some(d) => d.join("runs").join(default_name(&spec.flow.name, &spec.strategy.name, spec.seed)),
            None => return Ok(None),
        },
    };
    match Recorder::create(&path, &header, spec.flow.clone()) {
        Ok(r) => Ok(Some(r)),
        Err(e) if explicit.is_some() => {
            eprintln!("baton: cannot record to {}: {e}\n  help: choose another --record path, or --no-record", path.display());
            Err(EXIT_BAD_INPUT)
        }
        Err(e) => {
            eprintln!("baton: not recording this run ({}: {e}); --no-record silences this", path.display());
            Ok(None)
        }
    }
}

fn close_recorder(r: Option<Recorder>) {
    if let Some(r) = r {
        let path = r.path().to_path_buf();
        match r.finish() {
            Ok(p) => eprintln!("recorded to {}", p.display()),
            Err(e) => eprintln!("baton: the recording {} is incomplete: {e} (the results above are complete)", path.display()),
        }
    }
}

pub fn run(args: RunArgs) -> u8 {
    if let Some(s) = args.speed
        && !(s > 0.0 && s <= 1_000_000.0)
    {
        eprintln!("baton: --speed {s} is out of range\n  help: use a positive speed, e.g. 1 (real time) or 8");
        return EXIT_BAD_INPUT;
    }
    let (spec, parent, reused) = if let Some(file) = &args.resume {
        let rec = match Recording::open(file) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("baton: {e}");
                return EXIT_BAD_INPUT;
            }
        };
        if let Some(t) = &rec.torn {
            eprintln!("note: {}: {t}", rec.file);
        }
        let before = rec.state();
        if before.status == crate::state::RunStatus::Finished(Outcome::Completed) {
            eprintln!("note: {} finished completely; nothing to resume. Its summary:", rec.file);
            return print_out(&report::run_table(&before));
        }
        let store = RecordedOutputs::from_state(&before, &std::collections::HashSet::new());
        let reused = store.len();
        let mut spec = rec.spec();
        spec.run_id = rec.header.run + 1;
        spec.store = Some(Arc::new(crate::cache::Rerun { previous: store, cache: crate::cache::MemoryCache::new() }));
        let parent = crate::record::Parent { file: rec.file.clone(), relation: "resume".into(), node: None };
        (spec, Some(parent), Some((reused, rec.file.clone())))
    } else {
        let flow = args.flow.clone().unwrap_or_default();
        let loaded = match load_run(&flow, &args.common) {
            Ok(l) => l,
            Err(d) => {
                report_diags(&d);
                return EXIT_BAD_INPUT;
            }
        };
        let input = args.common.input.clone().unwrap_or_else(|| loaded.flow.input.clone());
        (RunSpec::new(loaded.flow.clone(), loaded.strategy.clone(), loaded.catalog.clone(), input, args.common.seed), None, None)
    };
    let mut spec = spec;
    if let Some(dir) = &args.cache {
        let disk: Arc<dyn crate::engine::OutputStore> = match crate::cache::DiskCache::open(dir.clone()) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                eprintln!("baton: cannot use {} as a cache: {e}\n  help: give a directory Baton can create and write", dir.display());
                return EXIT_BAD_INPUT;
            }
        };
        spec.store = Some(match spec.store.take() {
            // Resuming: the recording first, then the cache.
            Some(_) if args.resume.is_some() => {
                let rec = match Recording::open(args.resume.as_deref().unwrap_or(Path::new(""))) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("baton: {e}");
                        return EXIT_BAD_INPUT;
                    }
                };
                Arc::new(crate::cache::Rerun {
                    previous: RecordedOutputs::from_state(&rec.state(), &std::collections::HashSet::new()),
                    cache: disk,
                })
            }
            _ => disk,
        });
    }
    let providers = match providers_for(args.common.live, &spec) {
        Ok(p) => p,
        Err(c) => return c,
    };

    if let Some(tasks_arg) = &args.tasks {
        if args.record.is_some() {
            eprintln!(
                "baton: --record records one run; a batch is many\n  help: drop --record (batches report totals), or run one input with --input"
            );
            return EXIT_BAD_INPUT;
        }
        let tasks = match load::load_tasks(tasks_arg) {
            Ok(t) => t,
            Err(d) => {
                report_diags(&d);
                return EXIT_BAD_INPUT;
            }
        };
        let b = match crate::headless::run_batch(&spec, &tasks, &providers) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("baton: cannot start the runtime: {e}");
                return EXIT_RUN_FAILED;
            }
        };
        let text = match args.format {
            Format::Json => to_json(&b),
            Format::Table => report::batch_table(&b),
        };
        return print_out(&text);
    }

    let recorder = match open_recorder(&spec, args.record.as_deref(), args.no_record, parent, args.common.live) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let on_event = |e: &crate::event::RunEvent| {
        if let Some(r) = &recorder {
            r.record(e);
        }
    };
    let result = match args.speed {
        Some(speed) => crate::headless::run_paced(&spec, &providers, speed, on_event),
        None => crate::headless::run_one_with(&spec, &providers, on_event),
    };
    let state = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("baton: cannot start the runtime: {e}");
            return EXIT_RUN_FAILED;
        }
    };
    close_recorder(recorder);
    if args.cache.is_some() && state.totals.cached > 0 {
        eprintln!(
            "cache: {} node(s) served from {} (saved {}), {} called",
            state.totals.cached,
            args.cache.as_deref().map(|p| p.display().to_string()).unwrap_or_default(),
            state.totals.saved,
            state.totals.done
        );
    }
    if let Some((reused, file)) = reused {
        let called = state.totals.done;
        eprintln!(
            "resumed {file}: {reused} node(s) reused from the recording, {called} called now, {} skipped, {} failed",
            state.totals.skipped, state.totals.failed
        );
    }
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

pub fn compare(args: CompareArgs) -> u8 {
    let looks_recorded = |a: &str| a.ends_with(".jsonl") && Path::new(a).is_file();
    let sides: Vec<crate::tui::CompareSide>;
    let comparison;
    if args.inputs.iter().all(|a| looks_recorded(a)) {
        if args.inputs.len() < 2 {
            eprintln!("baton: compare needs two or more recordings\n  help: baton compare RUN_A.jsonl RUN_B.jsonl");
            return EXIT_BAD_INPUT;
        }
        let mut recs = Vec::new();
        for a in &args.inputs {
            match open_recording(Path::new(a)) {
                Ok(r) => recs.push(r),
                Err(c) => return c,
            }
        }
        let first = &recs[0];
        for r in &recs[1..] {
            if r.flow.name != first.flow.name {
                eprintln!(
                    "baton: {} records flow '{}' but {} records '{}'\n  help: compare recordings of the same flow",
                    r.file, r.flow.name, first.file, first.flow.name
                );
                return EXIT_BAD_INPUT;
            }
            if r.header.flow.text != first.header.flow.text {
                eprintln!("note: the flow '{}' changed between {} and {}; nodes are matched by id", r.flow.name, first.file, r.file);
            }
            if r.header.input != first.header.input || r.header.seed != first.header.seed {
                eprintln!("note: {} ran another input or seed than {}; the comparison is of different tasks", r.file, first.file);
            }
        }
        let states: Vec<crate::state::RunState> = recs.iter().map(Recording::state).collect();
        let pairs: Vec<(&crate::state::RunState, Option<String>)> =
            states.iter().zip(&recs).map(|(s, r)| (s, Some(r.file.clone()))).collect();
        comparison = crate::compare::compare_runs(&pairs);
        sides = recs.iter().map(|r| crate::tui::CompareSide { spec: r.spec(), events: Some(r.events.clone()) }).collect();
    } else {
        if args.inputs.len() != 1 {
            eprintln!(
                "baton: give one flow, or two or more recordings (.jsonl)\n  help: baton compare research-assistant -s naive -s smart"
            );
            return EXIT_BAD_INPUT;
        }
        if args.strategies.len() < 2 {
            eprintln!("baton: compare needs two or more strategies\n  help: baton compare {} -s naive -s smart", args.inputs[0]);
            return EXIT_BAD_INPUT;
        }
        let (catalog, w) = match load::load_catalog(args.catalog.as_deref()) {
            Ok(c) => c,
            Err(d) => {
                report_diags(&d);
                return EXIT_BAD_INPUT;
            }
        };
        report_diags(&w);
        let (flow, origin, w) = match load::load_flow(&args.inputs[0]) {
            Ok(f) => f,
            Err(d) => {
                report_diags(&d);
                return EXIT_BAD_INPUT;
            }
        };
        report_diags(&w);
        let mut strategies = Vec::new();
        for name in &args.strategies {
            match load::load_strategy(name, origin.path().and_then(Path::parent), &catalog) {
                Ok((s, _, w)) => {
                    report_diags(&w);
                    strategies.push(s);
                }
                Err(d) => {
                    report_diags(&d);
                    return EXIT_BAD_INPUT;
                }
            }
        }
        let input = args.input.clone().unwrap_or_else(|| flow.input.clone());
        let specs: Vec<RunSpec> =
            strategies.iter().map(|s| RunSpec::new(flow.clone(), s.clone(), catalog.clone(), input.clone(), args.seed)).collect();
        let providers = Providers::simulated();
        if let Some(tasks_arg) = &args.tasks {
            if args.screen {
                eprintln!("baton: the compare screen shows single runs\n  help: drop --tasks to watch, or --screen to get the batch table");
                return EXIT_BAD_INPUT;
            }
            let tasks = match load::load_tasks(tasks_arg) {
                Ok(t) => t,
                Err(d) => {
                    report_diags(&d);
                    return EXIT_BAD_INPUT;
                }
            };
            let mut batches = Vec::new();
            for spec in &specs {
                match crate::headless::run_batch(spec, &tasks, &providers) {
                    Ok(b) => batches.push(b),
                    Err(e) => {
                        eprintln!("baton: cannot start the runtime: {e}");
                        return EXIT_RUN_FAILED;
                    }
                }
            }
            comparison = crate::compare::compare_batches(&batches);
            sides = Vec::new();
        } else {
            let mut states = Vec::new();
            for spec in &specs {
                match crate::headless::run_one(spec, &providers) {
                    Ok(s) => states.push(s),
                    Err(e) => {
                        eprintln!("baton: cannot start the runtime: {e}");
                        return EXIT_RUN_FAILED;
                    }
                }
            }
            let pairs: Vec<(&crate::state::RunState, Option<String>)> = states.iter().map(|s| (s, None)).collect();
            comparison = crate::compare::compare_runs(&pairs);
            sides = specs.into_iter().map(|spec| crate::tui::CompareSide { spec, events: None }).collect();
        }
    }
    if args.screen {
        let no_terminal = "the compare screen needs a terminal\n  help: drop --screen for the table";
        let (theme, keymap) = match screen_setup(args.theme.as_deref(), args.speed, no_terminal) {
            Ok(x) => x,
            Err(c) => return c,
        };
        return match crate::tui::run_compare(sides, theme, keymap, args.speed) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("baton: the terminal failed: {e}");
                EXIT_RUN_FAILED
            }
        };
    }
    print_out(&match args.format {
        CompareFormat::Table => comparison.table(),
        CompareFormat::Markdown => comparison.markdown(),
        CompareFormat::Json => to_json(&comparison),
        CompareFormat::Csv => comparison.csv(),
    })
}

fn open_recording(file: &Path) -> Result<Recording, u8> {
    match Recording::open(file) {
        Ok(r) => {
            if let Some(t) = &r.torn {
                eprintln!("note: {}: {t}", r.file);
            }
            Ok(r)
        }
        Err(e) => {
            eprintln!("baton: {e}");
            Err(EXIT_BAD_INPUT)
        }
    }
}

pub fn replay(args: ReplayArgs) -> u8 {
    let rec = match open_recording(&args.file) {
        Ok(r) => r,
        Err(c) => return c,
    };
    if args.summary {
        let state = rec.state();
        let text = match args.format {
            Format::Json => to_json(&RunReport::new(&state)),
            Format::Table => report::run_table(&state),
        };
        return print_out(&text);
    }
    let no_terminal =
        format!("the replay screen needs a terminal\n  help: `baton replay {} --summary` prints the run's table", args.file.display());
    let (theme, keymap) = match screen_setup(args.theme.as_deref(), args.speed, &no_terminal) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let spec = rec.spec();
    let opts = crate::tui::Options {
        spec,
        providers: Providers::simulated(),
        theme,
        keymap,
        speed: args.speed,
        replay: Some(crate::tui::Replay { recording: Arc::new(rec) }),
        others: Vec::new(),
        events: None,
        flow_path: None,
        strategy_path: None,
        cache_dir: None,
    };
    match crate::tui::run(opts) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("baton: the terminal failed: {e}");
            EXIT_RUN_FAILED
        }
    }
}

pub fn reprice(args: RepriceArgs) -> u8 {
    let rec = match open_recording(&args.file) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let catalog = match &args.catalog {
        None => rec.catalog.clone(),
        Some(path) => match Source::read(path).and_then(|src| Catalog::parse(&src, Some(&rec.catalog))) {
            Ok((c, w)) => {
                report_diags(&w);
                Arc::new(c)
            }
            Err(d) => {
                report_diags(&d);
                return EXIT_BAD_INPUT;
            }
        },
    };
    let strategy = match &args.strategy {
        None => match Strategy::parse(&Source::new(rec.header.strategy.source.clone(), rec.header.strategy.text.clone()), &catalog) {
            Ok((s, _)) => Arc::new(s),
            Err(d) => {
                report_diags(&d);
                return EXIT_BAD_INPUT;
            }
        },
        Some(name) => {
            let dir = Path::new(&rec.header.flow.source).parent();
            match load::load_strategy(name, dir, &catalog) {
                Ok((s, _, w)) => {
                    report_diags(&w);
                    s
                }
                Err(d) => {
                    report_diags(&d);
                    return EXIT_BAD_INPUT;
                }
            }
        }
    };
    let (report, _) = match crate::record::reprice::reprice(&rec, strategy, catalog) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("baton: cannot start the runtime: {e}");
            return EXIT_RUN_FAILED;
        }
    };
    print_out(&match args.format {
        Format::Json => to_json(&report),
        Format::Table => crate::record::reprice::table(&report),
    })
}

pub fn export(args: ExportArgs) -> u8 {
    let rec = match open_recording(&args.file) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let doc = crate::record::otlp::export(&rec);
    let text = match serde_json::to_string_pretty(&doc) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("baton: cannot encode the traces: {e}");
            return EXIT_RUN_FAILED;
        }
    };
    match load::write_atomically(&args.otlp, text.as_bytes()) {
        Ok(()) => {
            let spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().map_or(0, Vec::len);
            eprintln!("wrote {spans} spans to {}", args.otlp.display());
            EXIT_OK
        }
        Err(e) => {
            eprintln!("baton: cannot write {}: {e}", args.otlp.display());
            EXIT_RUN_FAILED
        }
    }
}

/// What kind of file a TOML document is, from its top-level tables; `Err` when it is not TOML.
fn file_kind(text: &str) -> Result<Option<&'static str>, ()> {
    load::file_kind(text).map_err(|_| ())
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
