//! What several commands share: loading a run's files, the providers, the screen's
//! preconditions, and recordings opened or written.

use std::path::Path;
use std::sync::Arc;

use super::Failure;
use super::output::warn;
use crate::diag::{Diagnostics, Source};
use crate::engine::RunSpec;
use crate::flow::Flow;
use crate::load;
use crate::provider::Providers;
use crate::record::{Parent, Recorder, Recording};
use crate::routing::{Catalog, Strategy};
use crate::tui::keymap::Keymap;
use crate::tui::theme::Theme;

/// Everything a screen needs before it opens: a playback speed in range, the theme (with
/// NO_COLOR applied) and keymap (with the user's files), and a terminal. `no_terminal` is the
/// error when there is none.
pub fn screen_setup(theme: Option<&str>, speed: f64, no_terminal: &str) -> Result<(Theme, Keymap), Failure> {
    if !(0.25..=64.0).contains(&speed) {
        return Err(Failure::bad_input(format!("--speed {speed} is out of range\n  help: use a speed from 0.25 to 64")));
    }
    let config = load::config_dir();
    let settings = crate::config::effective();
    // --theme, else BATON_THEME or config.toml's theme.
    let theme = theme.or(settings.theme.value.as_deref());
    let theme = Theme::load(theme, config.as_ref().map(|d| d.join("themes")).as_deref())?;
    // https://no-color.org: any non-empty value turns colour off.
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme = if no_color { theme.monochrome() } else { theme };
    // BATON_KEYMAP or config.toml's keymap (which must exist), else <config>/keymap.toml if present.
    let keymap_file = match settings.keymap.value {
        Some(p) => Some(p),
        None => config.as_ref().map(|d| d.join("keymap.toml")).filter(|p| p.is_file()),
    };
    let keymap = match keymap_file {
        None => Keymap::default_map(),
        Some(p) => Source::read(&p).and_then(|src| Keymap::with_user(&src))?,
    };
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return Err(Failure::bad_input(no_terminal));
    }
    Ok((theme, keymap))
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

/// Loads a flow with the strategy named (else the flow's own, else `smart`) and the catalog
/// `common` names; warnings go to stderr.
pub fn load_run(flow: &str, strategy: Option<&str>, common: &super::Common) -> Result<Loaded, Diagnostics> {
    let (catalog, w1) = load::load_catalog(common.catalog.as_deref())?;
    warn(&w1);
    let (flow, flow_origin, w2) = load::load_flow(flow)?;
    warn(&w2);
    // The flag, else the flow's own choice, else BATON_STRATEGY or config.toml's, else smart.
    let name = strategy
        .map(str::to_string)
        .or_else(|| flow.strategy.clone())
        .or_else(|| crate::config::effective().strategy.value)
        .unwrap_or_else(|| "smart".to_string());
    let dir = flow_origin.path().and_then(Path::parent);
    // A strategy the flow names is reported against the flow's line that names it.
    let (strategy, strategy_origin, w3) = load::load_strategy(&name, dir, &catalog)
        .map_err(|d| if strategy.is_none() { load::point_at_flow_strategy(d, &flow) } else { d })?;
    warn(&w3);
    Ok(Loaded { flow, strategy, catalog, flow_origin, strategy_origin })
}

/// The simulator, or the real providers with `--live`.
pub fn providers_for(live: bool, spec: &RunSpec) -> Result<Providers, Failure> {
    if !live {
        return Ok(Providers::simulated());
    }
    Providers::live(&spec.catalog, spec.strategy.retry.connect_timeout).map_err(Failure::failed)
}

/// Opens a recorder at `--record FILE` or the default place, unless `--no-record`. An explicit
/// file that cannot be created is bad input; the default place failing only costs the
/// recording, which is said.
pub fn open_recorder(
    spec: &RunSpec,
    flow_text: Option<String>,
    explicit: Option<&Path>,
    off: bool,
    parent: Option<Parent>,
    live: bool,
) -> Result<Option<Recorder>, Failure> {
    if off {
        return Ok(None);
    }
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match crate::record::start::default_path(spec) {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    match crate::record::start::recorder_with_text(spec, flow_text, live, parent, &path) {
        Ok(r) => Ok(Some(r)),
        Err(e) if explicit.is_some() => Err(Failure::bad_input(format!(
            "cannot record to {}: {e}\n  help: choose another --record path, or --no-record",
            path.display()
        ))),
        Err(e) => {
            eprintln!("baton: not recording this run ({}: {e}); --no-record silences this", path.display());
            Ok(None)
        }
    }
}

/// Finishes a recording and says where it is, or that it is incomplete.
pub fn close_recorder(r: Option<Recorder>) {
    if let Some(r) = r {
        let path = r.path().to_path_buf();
        match r.finish() {
            Ok(p) => eprintln!("recorded to {}", p.display()),
            Err(e) => eprintln!("baton: the recording {} is incomplete: {e} (the results above are complete)", path.display()),
        }
    }
}

/// Reads a recording, noting a torn last line.
pub fn open_recording(file: &Path) -> Result<Recording, Failure> {
    let r = Recording::open(file).map_err(|e| Failure::bad_input(e.to_string()))?;
    if let Some(t) = &r.torn {
        eprintln!("note: {}: {t}", r.file);
    }
    Ok(r)
}

/// A way to read a recording folded (see [`Recording::open_folded`]).
pub type FoldedOpen = fn(&Path) -> Result<(Recording, crate::state::RunState), crate::record::ReadError>;

/// [`open_recording`] folded as it is read by `open` ([`Recording::open_folded`] or
/// [`Recording::open_folded_without_outputs`]), holding no events.
pub fn open_recording_folded(file: &Path, open: FoldedOpen) -> Result<(Recording, crate::state::RunState), Failure> {
    let (r, state) = open(file).map_err(|e| Failure::bad_input(e.to_string()))?;
    if let Some(t) = &r.torn {
        eprintln!("note: {}: {t}", r.file);
    }
    Ok((r, state))
}
