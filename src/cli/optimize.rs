//! `baton optimize`: search model assignments for a flow on a task set; print the frontier and
//! write the chosen point as a commented strategy file.

use std::io::IsTerminal as _;
use std::path::Path;

use super::error::Exit;
use super::output::{print_out, to_json, warn};
use super::setup::providers_for;
use super::{EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED, Failure, ObjectiveArg, OptimizeArgs, OptimizeFormat};
use crate::engine::RunSpec;
use crate::load;
use crate::money::Money;
use crate::optimize::{Config, Objective, Per, Progress};

/// `0.986`, `98.6%` or `98.6` (a number above 1 is read as a percentage).
fn parse_floor(text: &str) -> Result<f64, Failure> {
    let t = text.trim();
    let (num, pct) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (t, false),
    };
    let v: f64 =
        num.parse().map_err(|_| Failure::bad_input(format!("--quality-floor '{text}' is not a number\n  help: write 0.95 or 95%")))?;
    let v = if pct || v > 1.0 { v / 100.0 } else { v };
    if !(0.0..=1.0).contains(&v) || v.is_nan() {
        return Err(Failure::bad_input(format!("--quality-floor '{text}' is outside 0..1 (0%..100%)\n  help: write 0.95 or 95%")));
    }
    Ok(v)
}

pub fn optimize(args: OptimizeArgs) -> Exit {
    let floor = args.quality_floor.as_deref().map(parse_floor).transpose()?;
    if !(0.0..1.0).contains(&args.held_out) {
        return Err(Failure::bad_input(format!(
            "--held-out {} must be at least 0 and below 1\n  help: --held-out 0.3 keeps 30% of the tasks out of the search",
            args.held_out
        )));
    }
    let budget = match args.budget {
        Some(b) if !(b > 0.0 && b < 1_000_000.0) => {
            return Err(Failure::bad_input(format!("--budget {b} must be above 0 and below 1000000 (USD)")));
        }
        b => b.map(Money::from_usd),
    };
    if args.max_candidates == 0 {
        return Err(Failure::bad_input("--max-candidates must be at least 1"));
    }
    let (catalog, w) = load::load_catalog(args.common.catalog.as_deref())?;
    warn(&w);
    let (flow, origin, w) = load::load_flow(&args.flow)?;
    warn(&w);
    let dir = origin.path().and_then(Path::parent);
    let names: Vec<String> =
        if args.from.is_empty() { vec![flow.strategy.clone().unwrap_or_else(|| "smart".into())] } else { args.from.clone() };
    let mut starts = Vec::new();
    for name in &names {
        let (s, _, w) = load::load_strategy(name, dir, &catalog)?;
        warn(&w);
        starts.push(s);
    }
    let base = match &args.base {
        Some(name) => load::load_strategy(name, dir, &catalog)?.0,
        None => starts[0].clone(),
    };
    let tasks = load::load_tasks(&args.tasks)?;
    crate::quality::checks::parse_all(&tasks, &flow, &args.tasks).map_err(Failure::bad_input)?;
    let models = crate::optimize::space::candidate_models(&catalog, &args.models).map_err(Failure::bad_input)?;
    if let Some(pick) = args.pick
        && pick == 0
    {
        return Err(Failure::bad_input("--pick counts frontier points from 1\n  help: --pick 1 is the first row of the frontier table"));
    }
    let spec = RunSpec::new(flow.clone(), base.clone(), catalog.clone(), flow.input.clone(), args.common.seed);
    let providers = providers_for(args.common.live, &spec)?;
    if args.common.live {
        eprintln!(
            "live search: every (task, node, model) is called at most once; {}",
            budget.map_or("no --budget: it may call every model on every node of every task".to_string(), |b| format!(
                "it stops once {b} is spent"
            ))
        );
    }
    let cfg = Config {
        flow,
        catalog,
        base,
        starts,
        tasks,
        held_out: args.held_out,
        models,
        per: if args.per_kind { Per::Kind } else { Per::Node },
        cascade: !args.no_cascade,
        quality_floor: floor,
        budget,
        objective: match args.objective {
            ObjectiveArg::Cost => Objective::Cost,
            ObjectiveArg::Latency => Objective::Latency,
            ObjectiveArg::Quality => Objective::Quality,
        },
        max_candidates: args.max_candidates,
        seed: args.common.seed,
    };
    let interrupt = super::interrupt::on_ctrl_c();
    let tty = std::io::stderr().is_terminal();
    let mut last = std::time::Instant::now();
    let outcome = crate::optimize::optimize(&cfg, providers, &interrupt.token, |p: &Progress| {
        // A line per second at most; on a terminal, one line rewritten.
        if last.elapsed().as_millis() < 1000 && p.candidates > 1 {
            return;
        }
        last = std::time::Instant::now();
        let best = p
            .frontier
            .first()
            .map(|b| format!(" · best so far {} per 1000 at {}", Money::from_usd(b.search.cost_per_1000_usd), b.search.quality.label()))
            .unwrap_or_default();
        let line = format!(
            "optimize: {} candidates · frontier {} · {} calls ({}) · {:.1}s{best}",
            p.candidates,
            p.frontier.len(),
            p.calls,
            p.spent,
            p.elapsed.as_secs_f64()
        );
        if tty {
            ::std::eprint!("\r\x1b[2K{}", crate::sanitize::for_terminal(&line));
        } else {
            eprintln!("{line}");
        }
    })
    .map_err(|e| Failure::failed(format!("the search failed: {e}")))?;
    if tty {
        ::std::eprintln!();
    }
    let chosen = match args.pick {
        Some(n) if n > outcome.frontier.len() => {
            return Err(Failure::bad_input(format!("--pick {n}: the frontier has {} points", outcome.frontier.len())));
        }
        Some(n) => Some(n - 1),
        None => outcome.best,
    };
    if let Some(path) = &args.write {
        match chosen {
            Some(i) => {
                let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("optimized").to_string();
                let command = std::env::args().collect::<Vec<_>>().join(" ");
                let text = crate::optimize::write::strategy_toml(&outcome, i, &name, &command).unwrap_or_default();
                load::write_atomically(path, text.as_bytes()).map_err(|e| {
                    Failure::bad_input(format!("cannot write {}: {e}\n  help: check the directory exists and is writable", path.display()))
                })?;
                eprintln!("wrote {} (frontier point {})", path.display(), i + 1);
            }
            None => eprintln!("nothing written to {}: no candidate reaches the quality floor", path.display()),
        }
    }
    print_out(&match args.format {
        OptimizeFormat::Table => crate::optimize::write::table(&outcome),
        OptimizeFormat::Json => to_json(&outcome),
    });
    if interrupt.fired() {
        return Ok(EXIT_INTERRUPTED);
    }
    Ok(if outcome.best.is_some() || floor.is_none() { EXIT_OK } else { EXIT_RUN_FAILED })
}
