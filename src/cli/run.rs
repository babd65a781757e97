//! `baton` (the live screen on a flow) and `baton run` (headless: one run, a resume, or a batch
//! of tasks).

use std::path::Path;
use std::sync::Arc;

use super::error::Exit;
use super::output::{print_json, print_out, to_json};
use super::setup::{close_recorder, load_run, open_recorder, open_recording, providers_for, screen_setup};
use super::{EXIT_INTERRUPTED, EXIT_RUN_FAILED, Failure, Format, OpenArgs, RunArgs};
use crate::engine::{OutputStore, RunSpec};
use crate::event::Outcome;
use crate::load;
use crate::record::Header;
use crate::record::otlp::Trace;
use crate::record::stream::StreamPush;
use crate::report::{self, RunReportStream};
use crate::state::RunStatus;

/// The live screen on a flow.
pub fn open(args: OpenArgs) -> Exit {
    let flow = args.flow.clone().unwrap_or_else(|| "research-assistant".to_string());
    let loaded = load_run(&flow, args.strategy.strategy.as_deref(), &args.common)?;
    let no_terminal =
        format!("the live screen needs a terminal\n  help: for output a script can read, use `baton run {flow} --format json`");
    let (theme, keymap) = screen_setup(args.screen.theme.as_deref(), args.screen.speed, &no_terminal)?;
    let input = args.common.input.clone().unwrap_or_else(|| loaded.flow.input.clone());
    let flow_path = loaded.flow_origin.path().map(Path::to_path_buf);
    let strategy_path = loaded.strategy_origin.path().map(Path::to_path_buf);
    let spec = RunSpec::new(loaded.flow, loaded.strategy, loaded.catalog, input, args.common.seed);
    let providers = providers_for(args.common.live, &spec)?;
    // The task set is read (and its checks validated) before the screen opens, so a bad file
    // is an error on the command line, not a message on the screen.
    let tasks = match &args.tasks {
        Some(file) => {
            let tasks = load::load_tasks(file)?;
            crate::quality::checks::parse_all(&tasks, &spec.flow, file).map_err(Failure::bad_input)?;
            Some(crate::tui::tuning::frontier::TaskSet { name: file.clone(), tasks: Arc::new(tasks) })
        }
        None => None,
    };
    let opts = crate::tui::Options {
        spec,
        providers,
        theme,
        keymap,
        speed: args.screen.speed,
        replay: None,
        others: Vec::new(),
        events: None,
        flow_path,
        strategy_path,
        cache_dir: args.cache.clone(),
        tasks,
        pick_run: false,
    };
    crate::tui::run(opts).map_err(|e| Failure::failed(format!("the terminal failed: {e}")))
}

/// A directory cache for `--cache DIR`.
fn disk_cache(dir: &Path) -> Result<Arc<dyn OutputStore>, Failure> {
    match crate::cache::DiskCache::open(dir.to_path_buf()) {
        Ok(c) => Ok(Arc::new(c)),
        Err(e) => Err(Failure::bad_input(format!(
            "cannot use {} as a cache: {e}\n  help: give a directory Baton can create and write",
            dir.display()
        ))),
    }
}

pub fn run(args: RunArgs) -> Exit {
    if let Some(s) = args.speed
        && !(0.25..=1_000_000.0).contains(&s)
    {
        return Err(Failure::bad_input(format!(
            "--speed {s} is out of range\n  help: use a speed from 0.25 to 1000000, e.g. 1 (real time) or 8"
        )));
    }
    let cache = args.cache.as_deref().map(disk_cache).transpose()?;
    let push = super::otlp::config(&args.otlp)?;
    if push.is_some() && args.tasks.is_some() {
        return Err(Failure::bad_input(
            "--otlp-endpoint pushes one run; a batch is many\n  help: run one input with --input, or push recordings with `baton export FILE --otlp-endpoint URL`",
        ));
    }
    let (mut spec, parent, reused) = if let Some(file) = &args.resume {
        let rec = open_recording(file)?;
        let before = rec.state();
        if before.status == RunStatus::Finished(Outcome::Completed) {
            eprintln!("note: {} finished completely; nothing to resume. Its summary:", rec.file);
            return Ok(print_out(&report::run_table(&before)));
        }
        // Resuming: the recording first, then the cache.
        let r = crate::record::start::resume(&rec, cache.clone());
        (r.spec, Some(r.parent), Some((r.reused, rec.file.clone())))
    } else {
        let flow = args.flow.clone().unwrap_or_default();
        let loaded = load_run(&flow, args.strategy.strategy.as_deref(), &args.common)?;
        let input = args.common.input.clone().unwrap_or_else(|| loaded.flow.input.clone());
        (RunSpec::new(loaded.flow.clone(), loaded.strategy.clone(), loaded.catalog.clone(), input, args.common.seed), None, None)
    };
    if args.resume.is_none() {
        spec.store = cache;
    }
    let tasks = args.tasks.as_deref().map(load::load_tasks).transpose()?;
    let inputs: Option<Vec<String>> = tasks.as_ref().map(|ts| ts.iter().map(|t| t.input.clone()).collect());
    if args.dry_run || args.common.live {
        let est = crate::estimate::estimate(&spec, inputs.as_deref()).map_err(Failure::runtime)?;
        if args.dry_run {
            return Ok(print_out(&match args.format {
                Format::Json => to_json(&est),
                Format::Table => est.table(),
            }));
        }
        // Before the first call, so a run that would blow the budget is known to.
        eprintln!("{}", est.note());
    }
    let providers = providers_for(args.common.live, &spec)?;

    if let Some(tasks) = &tasks {
        if args.record.is_some() {
            return Err(Failure::bad_input(
                "--record records one run; a batch is many\n  help: drop --record (batches report totals), or run one input with --input",
            ));
        }
        let interrupt = super::interrupt::on_ctrl_c();
        let file = args.tasks.as_deref().unwrap_or_default();
        let checks = crate::quality::checks::parse_all(tasks, &spec.flow, file).map_err(Failure::bad_input)?;
        let judge = crate::quality::judge::Judge::new(spec.catalog.clone(), providers.clone(), args.common.seed);
        let progress = super::progress::for_stderr(args.quiet);
        progress.begin(&format!("{} tasks", spec.strategy.name), tasks.len() as u64);
        let b = crate::headless::run_batch_checked(&spec, tasks, &checks, &providers, &judge, interrupt.token.clone(), progress.as_ref());
        progress.end();
        let b = b.map_err(Failure::runtime)?;
        let code = print_out(&match args.format {
            Format::Json => to_json(&b),
            Format::Table => report::batch_table(&b),
        });
        return Ok(if interrupt.fired() { EXIT_INTERRUPTED } else { code });
    }

    // The flow's text goes into the recording's header and nowhere else in this command:
    // moved there, it is neither copied nor held while the run goes (22 MB of a
    // 100,000-node file).
    let flow_text = Arc::get_mut(&mut spec.flow).map(|f| std::mem::take(&mut f.source_text));
    let recorder = open_recorder(&spec, flow_text, args.record.as_deref(), args.no_record, parent, args.common.live)?;
    let pusher = push.as_ref().and_then(|cfg| {
        // The trace is named after the recording, so pushing the recording again later gives
        // the same trace.
        let trace = match &recorder {
            Some(r) => Trace::new(&r.path().display().to_string(), r.header()),
            None => Trace::new("", &Header::new(&spec, if args.common.live { "live" } else { "sim" })),
        };
        match StreamPush::start(cfg.clone(), &spec, trace) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("baton: warning: cannot start the OTLP push ({e}); the run goes on without it");
                None
            }
        }
    });
    let on_event = |e: &crate::event::RunEvent| {
        if let Some(r) = &recorder {
            r.record(e);
        }
        if let Some(p) = &pusher {
            p.event(e);
        }
    };
    let interrupt = super::interrupt::on_ctrl_c();
    let result = match args.speed {
        Some(speed) => crate::headless::run_paced(&spec, &providers, speed, interrupt.token.clone(), on_event),
        None => crate::headless::run_one_until(&spec, &providers, interrupt.token.clone(), on_event),
    };
    let state = result.map_err(Failure::runtime)?;
    let recorded = recorder.as_ref().map(|r| r.path().to_path_buf());
    close_recorder(recorder);
    if let (Some(p), Some(cfg)) = (pusher, &push) {
        super::otlp::tell_stream(cfg, &p.finish(), recorded.as_deref());
    }
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
    let code = match args.format {
        Format::Json => print_json(&RunReportStream::new(&state)),
        Format::Table => print_out(&report::run_table(&state)),
    };
    Ok(match state.status {
        _ if interrupt.fired() => EXIT_INTERRUPTED,
        RunStatus::Finished(Outcome::Completed) => code,
        _ => EXIT_RUN_FAILED,
    })
}
