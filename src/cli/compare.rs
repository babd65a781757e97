//! `baton compare`: strategies side by side on one flow (single runs or a task set, simulated or
//! live), or recordings of the same flow; as a table, markdown, JSON, CSV or the screen.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::error::Exit;
use super::output::{print_out, to_json, warn};
use super::setup::{open_recording, providers_for, screen_setup};
use super::{CompareArgs, CompareFormat, EXIT_OK, Failure};
use crate::compare::{Comparison, LIVE, SIMULATED};
use crate::engine::RunSpec;
use crate::load;
use crate::provider::Providers;
use crate::record::Recording;
use crate::state::RunState;
use crate::tui::CompareSide;

pub fn compare(args: CompareArgs) -> Exit {
    let looks_recorded = |a: &str| a.ends_with(".jsonl") && Path::new(a).is_file();
    let (comparison, sides) = if args.inputs.iter().all(|a| looks_recorded(a)) { recordings(&args)? } else { strategies(&args)? };
    if args.screen && !args.dry_run {
        let no_terminal = "the compare screen needs a terminal\n  help: drop --screen for the table";
        let (theme, keymap) = screen_setup(args.screen_args.theme.as_deref(), args.screen_args.speed, no_terminal)?;
        let providers = match sides.first() {
            Some(first) if args.common.live && !sides.iter().any(|s| s.events.is_some()) => providers_for(true, &first.spec)?,
            _ => Providers::simulated(),
        };
        return crate::tui::run_compare(sides, providers, theme, keymap, args.screen_args.speed)
            .map_err(|e| Failure::failed(format!("the terminal failed: {e}")));
    }
    let Some(comparison) = comparison else { return Ok(EXIT_OK) };
    Ok(print_out(&match args.format {
        CompareFormat::Table => comparison.table(),
        CompareFormat::Markdown => comparison.markdown(),
        CompareFormat::Json => to_json(&comparison),
        CompareFormat::Csv => comparison.csv(),
    }))
}

/// Two or more recordings of the same flow.
fn recordings(args: &CompareArgs) -> Result<(Option<Comparison>, Vec<CompareSide>), Failure> {
    if args.inputs.len() < 2 {
        return Err(Failure::bad_input("compare needs two or more recordings\n  help: baton compare RUN_A.jsonl RUN_B.jsonl"));
    }
    let recs = args.inputs.iter().map(|a| open_recording(Path::new(a))).collect::<Result<Vec<Recording>, Failure>>()?;
    let first = &recs[0];
    for r in &recs[1..] {
        if r.flow.name != first.flow.name {
            return Err(Failure::bad_input(format!(
                "{} records flow '{}' but {} records '{}'\n  help: compare recordings of the same flow",
                r.file, r.flow.name, first.file, first.flow.name
            )));
        }
        if r.header.flow.text != first.header.flow.text {
            eprintln!("note: the flow '{}' changed between {} and {}; nodes are matched by id", r.flow.name, first.file, r.file);
        }
        if r.header.input != first.header.input || r.header.seed != first.header.seed {
            eprintln!("note: {} ran another input or seed than {}; the comparison is of different tasks", r.file, first.file);
        }
    }
    let states: Vec<RunState> = recs.iter().map(Recording::state).collect();
    let pairs: Vec<(&RunState, Option<String>)> = states.iter().zip(&recs).map(|(s, r)| (s, Some(r.file.clone()))).collect();
    let mut comparison = crate::compare::compare_runs(&pairs);
    let kinds: std::collections::BTreeSet<&str> = recs.iter().map(|r| r.header.provider.as_str()).collect();
    comparison.provider = match kinds.into_iter().collect::<Vec<_>>().as_slice() {
        ["live"] => LIVE.to_string(),
        ["sim"] => SIMULATED.to_string(),
        [one] => (*one).to_string(),
        _ => "mixed".to_string(),
    };
    let sides = recs.iter().map(|r| CompareSide { spec: r.spec(), events: Some(r.events.clone()) }).collect();
    Ok((Some(comparison), sides))
}

/// Two or more strategies on one flow: single runs, or a task set.
fn strategies(args: &CompareArgs) -> Result<(Option<Comparison>, Vec<CompareSide>), Failure> {
    if args.inputs.len() != 1 {
        return Err(Failure::bad_input(
            "give one flow, or two or more recordings (.jsonl)\n  help: baton compare research-assistant -s naive -s smart",
        ));
    }
    if args.strategies.len() < 2 {
        return Err(Failure::bad_input(format!(
            "compare needs two or more strategies\n  help: baton compare {} -s naive -s smart",
            args.inputs[0]
        )));
    }
    let (catalog, w) = load::load_catalog(args.common.catalog.as_deref())?;
    warn(&w);
    let (flow, origin, w) = load::load_flow(&args.inputs[0])?;
    warn(&w);
    let mut strategies = Vec::new();
    for name in &args.strategies {
        let (s, _, w) = load::load_strategy(name, origin.path().and_then(Path::parent), &catalog)?;
        warn(&w);
        strategies.push(s);
    }
    let input = args.common.input.clone().unwrap_or_else(|| flow.input.clone());
    let specs: Vec<RunSpec> =
        strategies.iter().map(|s| RunSpec::new(flow.clone(), s.clone(), catalog.clone(), input.clone(), args.common.seed)).collect();
    let tasks = args.tasks.as_deref().map(load::load_tasks).transpose()?;
    if tasks.is_some() && args.screen {
        return Err(Failure::bad_input(
            "the compare screen shows single runs\n  help: drop --tasks to watch, or --screen to get the batch table",
        ));
    }
    if args.dry_run || args.common.live {
        let inputs: Option<Vec<String>> = tasks.as_ref().map(|ts| ts.iter().map(|t| t.input.clone()).collect());
        let estimates = specs
            .iter()
            .map(|spec| crate::estimate::estimate(spec, inputs.as_deref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Failure::runtime)?;
        if args.dry_run {
            // Nothing to compare: the estimates are the output.
            print_out(&match args.format {
                CompareFormat::Json => to_json(&estimates),
                _ => estimates.iter().map(crate::estimate::Estimate::table).collect::<Vec<_>>().join("\n"),
            });
            return Ok((None, Vec::new()));
        }
        // Before any strategy spends anything.
        let total: crate::money::Money = estimates.iter().map(|e| e.expected).sum();
        for e in &estimates {
            eprintln!("{}", e.note());
        }
        eprintln!("live compare: ~{total} expected over {} strategies; calling providers now", estimates.len());
    }
    let provider = if args.common.live { LIVE } else { SIMULATED };
    if args.screen {
        // The screen runs the strategies itself: running them here too would call (and, live,
        // bill) every node twice.
        return Ok((None, specs.into_iter().map(|spec| CompareSide { spec, events: None }).collect()));
    }
    let providers = providers_for(args.common.live, &specs[0])?;
    // One bar over every strategy's runs.
    let progress = super::progress::for_stderr(args.quiet);
    let per_side = tasks.as_ref().map_or(1, Vec::len) as u64;
    let what = if tasks.is_some() { "strategy × task runs" } else { "strategy runs" };
    progress.begin(what, per_side * specs.len() as u64);
    let mut comparison = if let Some(tasks) = &tasks {
        let file = args.tasks.as_deref().unwrap_or_default();
        let checks = crate::quality::checks::parse_all(tasks, &specs[0].flow, file).map_err(Failure::bad_input)?;
        let judge = crate::quality::judge::Judge::new(specs[0].catalog.clone(), providers.clone(), args.common.seed);
        let run = |spec| {
            crate::headless::run_batch_checked(spec, tasks, &checks, &providers, &judge, CancellationToken::new(), progress.as_ref())
        };
        let batches = if args.common.live {
            specs.iter().map(run).collect::<Result<Vec<_>, _>>()
        } else {
            // Simulated strategies share nothing but the (immutable) flow and catalog, and each
            // runs on its own virtual time: one thread each gives the same reports sooner.
            std::thread::scope(|scope| {
                let running: Vec<_> = specs.iter().map(|spec| scope.spawn(|| run(spec))).collect();
                running
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|_| Err(std::io::Error::other("a strategy's batch panicked"))))
                    .collect::<Result<Vec<_>, _>>()
            })
        };
        progress.end();
        crate::compare::compare_batches(&batches.map_err(Failure::runtime)?)
    } else {
        let states = specs
            .iter()
            .map(|spec| {
                let st = crate::headless::run_one(spec, &providers);
                if let Ok(s) = &st {
                    progress.advance(s.totals.cost.total());
                }
                st
            })
            .collect::<Result<Vec<_>, _>>();
        progress.end();
        let states = states.map_err(Failure::runtime)?;
        let pairs: Vec<(&RunState, Option<String>)> = states.iter().map(|s| (s, None)).collect();
        crate::compare::compare_runs(&pairs)
    };
    comparison.provider = provider.to_string();
    Ok((Some(comparison), Vec::new()))
}
