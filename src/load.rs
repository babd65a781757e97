//! Finding and loading the files a command names: a path, or the name of a sample that ships
//! inside the binary; strategies also next to their flow (`<flow dir>/strategies/NAME.toml`).
//! And writing a file whole or not at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::{Diagnostic, Diagnostics, Source};
use crate::flow::{Flow, parse_flow_owned};
use crate::routing::{Catalog, Strategy};

/// Sample flows compiled into the binary, so `baton` works from any directory.
pub const SAMPLE_FLOWS: &[(&str, &str)] = &[
    ("research-assistant", include_str!("../sample-flows/research-assistant.toml")),
    ("support-triage", include_str!("../sample-flows/support-triage.toml")),
    ("code-review", include_str!("../sample-flows/code-review.toml")),
    ("doc-digest", include_str!("../sample-flows/doc-digest.toml")),
];

pub const SAMPLE_STRATEGIES: &[(&str, &str)] = &[
    ("naive", include_str!("../sample-flows/strategies/naive.toml")),
    ("smart", include_str!("../sample-flows/strategies/smart.toml")),
    ("cascade", include_str!("../sample-flows/strategies/cascade.toml")),
    ("premium-parallel", include_str!("../sample-flows/strategies/premium-parallel.toml")),
    ("local", include_str!("../sample-flows/strategies/local.toml")),
];

pub const SAMPLE_TASKS: &[(&str, &str)] = &[
    ("support-triage", include_str!("../sample-flows/tasks/support-triage.jsonl")),
    ("research-questions", include_str!("../sample-flows/tasks/research-questions.txt")),
];

/// Baton's configuration directory: `$BATON_CONFIG_DIR`, else `$XDG_CONFIG_HOME/baton` (or the
/// platform's equivalent).
pub fn config_dir() -> Option<PathBuf> {
    crate::config::config_dir()
}

/// Baton's data directory (recordings): `$BATON_DATA_DIR`, else `data_dir` in config.toml, else
/// `$XDG_DATA_HOME/baton`.
pub fn data_dir() -> Option<PathBuf> {
    crate::config::effective().data_dir.value
}

fn strip_toml(name: &str) -> &str {
    name.strip_suffix(".toml").unwrap_or(name)
}

fn not_found(kind: &str, arg: &str, samples: &[(&str, &str)], extra: &str) -> Diagnostics {
    let names: Vec<&str> = samples.iter().map(|(n, _)| *n).collect();
    let mut help = format!("give a path to a {kind} file, or one of the samples: {}", names.join(", "));
    if let Some(best) = crate::diag::nearest(strip_toml(arg), names.iter().copied()) {
        help = format!("did you mean '{best}'? ({help})");
    }
    if !extra.is_empty() {
        help.push_str(extra);
    }
    Diagnostic::file_error(arg, format!("no {kind} file '{arg}' and no sample {kind} by that name")).with_help(help).into()
}

/// Where a loaded file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Sample(&'static str),
}

impl Origin {
    pub fn path(&self) -> Option<&Path> {
        match self {
            Origin::File(p) => Some(p),
            Origin::Sample(_) => None,
        }
    }
}

/// What a file is by its top-level tables: `flow`, `strategy` or `catalog` (`[[model]]` or
/// `[catalog]`); `Ok(None)` when it has none of them, an error when it is not TOML.
///
/// Its table headers decide when they all agree: a full parse just to read the first header was
/// a third of `baton validate` on a 100,000-node flow. Anything unclear (a header it does not
/// know, which may be a line inside a multi-line string; no header; two kinds) gets the full
/// parse, so the answer is the same as reading the document.
pub fn file_kind(text: &str) -> Result<Option<&'static str>, toml::de::Error> {
    let mut found = None;
    for line in text.lines() {
        let Some(head) = line.trim_start().strip_prefix('[') else { continue };
        let name = head.trim_start_matches('[').split([']', '.']).next().unwrap_or("").trim();
        let kind = match name {
            "flow" => "flow",
            "strategy" => "strategy",
            "model" | "catalog" => "catalog",
            // Tables that only appear beside one of the above.
            "node" | "rule" | "retry" | "provider" => continue,
            _ => return file_kind_by_parsing(text),
        };
        match found {
            None => found = Some(kind),
            Some(k) if k == kind => {}
            Some(_) => return file_kind_by_parsing(text),
        }
    }
    match found {
        Some(k) => Ok(Some(k)),
        None => file_kind_by_parsing(text),
    }
}

fn file_kind_by_parsing(text: &str) -> Result<Option<&'static str>, toml::de::Error> {
    let doc: toml::Table = toml::from_str(text)?;
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

/// Reads a flow named by path or sample name.
pub fn flow_source(arg: &str) -> Result<(Source, Origin), Diagnostics> {
    let path = Path::new(arg);
    if path.is_file() {
        return Ok((Source::read(path)?, Origin::File(path.to_path_buf())));
    }
    if let Some((name, text)) = SAMPLE_FLOWS.iter().find(|(n, _)| *n == strip_toml(arg)) {
        return Ok((Source::new(format!("<sample {name}.toml>"), *text), Origin::Sample(name)));
    }
    // A path into the repository's sample folder works even from another directory.
    if let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        && arg.contains("sample-flows")
        && let Some((name, text)) = SAMPLE_FLOWS.iter().find(|(n, _)| *n == stem)
    {
        return Ok((Source::new(format!("<sample {name}.toml>"), *text), Origin::Sample(name)));
    }
    Err(not_found("flow", arg, SAMPLE_FLOWS, ""))
}

pub fn load_flow(arg: &str) -> Result<(Arc<Flow>, Origin, Diagnostics), Diagnostics> {
    let (src, origin) = flow_source(arg)?;
    let (flow, warnings) = parse_flow_owned(src)?;
    Ok((Arc::new(flow), origin, warnings))
}

/// Reads a strategy named by path, by a name next to the flow, or by sample name.
pub fn strategy_source(arg: &str, flow_dir: Option<&Path>) -> Result<(Source, Origin), Diagnostics> {
    let path = Path::new(arg);
    if path.is_file() {
        return Ok((Source::read(path)?, Origin::File(path.to_path_buf())));
    }
    let name = strip_toml(arg);
    if let Some(dir) = flow_dir {
        let beside = dir.join("strategies").join(format!("{name}.toml"));
        if beside.is_file() {
            return Ok((Source::read(&beside)?, Origin::File(beside)));
        }
    }
    if let Some((n, text)) = SAMPLE_STRATEGIES.iter().find(|(n, _)| *n == name) {
        return Ok((Source::new(format!("<sample strategies/{n}.toml>"), *text), Origin::Sample(n)));
    }
    let extra = flow_dir.map(|d| format!("; strategies next to the flow live in {}", d.join("strategies").display())).unwrap_or_default();
    Err(not_found("strategy", arg, SAMPLE_STRATEGIES, &extra))
}

pub fn load_strategy(arg: &str, flow_dir: Option<&Path>, catalog: &Catalog) -> Result<(Arc<Strategy>, Origin, Diagnostics), Diagnostics> {
    let (src, origin) = strategy_source(arg, flow_dir)?;
    let (s, warnings) = Strategy::parse(&src, catalog)?;
    Ok((Arc::new(s), origin, warnings))
}

/// Turns "no such strategy" for the name a flow's `strategy` field gave into an error at that
/// field of the flow's file: the name alone does not say where it came from. Other errors (a
/// strategy that was found but does not parse) already point into their own file.
pub fn point_at_flow_strategy(d: Diagnostics, flow: &Flow) -> Diagnostics {
    let (Some(name), Some(span)) = (&flow.strategy, &flow.strategy_span) else { return d };
    match d.0.as_slice() {
        [only] if only.line == 0 && only.file == *name => {
            let src = Source::new(flow.source_name.clone(), flow.source_text.clone());
            src.error(span.clone(), format!("the flow's strategy '{name}' is not a strategy file or a sample strategy"))
                .with_help_opt(only.help.clone())
                .into()
        }
        _ => d,
    }
}

/// Whether a catalog file is a LiteLLM price table (JSON) rather than catalog TOML.
pub fn is_price_table(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// A LiteLLM price table imported whole, as a catalog layer named after the file.
fn price_table_layer(path: &Path) -> Result<Source, Diagnostics> {
    let src = Source::read(path)?;
    let opts = crate::routing::litellm::ImportOptions { date: crate::routing::litellm::table_date(path), ..Default::default() };
    let imported = crate::routing::litellm::import(&src, &opts)?;
    Ok(Source::new(format!("<{} imported>", path.display()), imported.toml))
}

/// The catalog a run uses, in layers: the built-in catalog; LiteLLM price tables (`.json`, from
/// config.toml's `catalogs` then `extra`); the user's `<config dir>/models.toml`; catalog TOML
/// files (config.toml's `catalogs`, then `extra`). Price tables sit under the user's own
/// overrides; files the user names sit over them, in the order given.
pub fn load_catalog(extra: Option<&Path>) -> Result<(Arc<Catalog>, Diagnostics), Diagnostics> {
    let mut files = crate::config::effective().catalogs.value;
    files.extend(extra.map(Path::to_path_buf));
    let (tables, own): (Vec<PathBuf>, Vec<PathBuf>) = files.into_iter().partition(|p| is_price_table(p));
    let mut sources = Vec::new();
    for t in &tables {
        sources.push(price_table_layer(t)?);
    }
    if let Some(user) = config_dir().map(|d| d.join("models.toml")).filter(|p| p.is_file()) {
        sources.push(Source::read(&user)?);
    }
    for f in &own {
        sources.push(Source::read(f)?);
    }
    let mut cat = Catalog::builtin();
    let mut warnings = Diagnostics::default();
    for src in &sources {
        let (c, w) = Catalog::parse(src, Some(&cat))?;
        cat = c;
        warnings.extend(w);
    }
    Ok((Arc::new(cat), warnings))
}

/// A batch of inputs: JSON lines with an `input` field (and optional `id`), or plain text with
/// one input per line. Blank lines and lines starting with `#` are ignored.
pub fn load_tasks(arg: &str) -> Result<Vec<Task>, Diagnostics> {
    let path = Path::new(arg);
    let src = if path.is_file() {
        Source::read(path)?
    } else if let Some((name, text)) =
        SAMPLE_TASKS.iter().find(|(n, _)| *n == arg || Path::new(arg).file_stem().and_then(|s| s.to_str()) == Some(n))
    {
        Source::new(format!("<sample tasks/{name}>"), *text)
    } else {
        return Err(not_found("task", arg, SAMPLE_TASKS, ""));
    };
    parse_tasks(&src)
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Task {
    pub id: String,
    pub input: String,
    /// What a right answer is (text or JSON), for `equals`, `similar` and `judge` checks.
    pub expected: Option<serde_json::Value>,
    pub tags: Vec<String>,
    /// The task's own checks, as written; `quality::checks` reads and validates them.
    pub checks: Vec<serde_json::Value>,
    /// The task's line in its file (1-based), for messages.
    pub line: usize,
}

impl Task {
    pub fn new(id: impl Into<String>, input: impl Into<String>) -> Task {
        Task { id: id.into(), input: input.into(), ..Task::default() }
    }
}

pub fn parse_tasks(src: &Source) -> Result<Vec<Task>, Diagnostics> {
    let mut tasks = Vec::new();
    let mut diags = Diagnostics::default();
    let mut offset = 0;
    for (n, line) in src.text.split('\n').enumerate() {
        let start = offset;
        offset += line.len() + 1;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.starts_with('{') {
            #[derive(serde::Deserialize)]
            struct Line {
                #[serde(default)]
                id: Option<String>,
                input: String,
                #[serde(default)]
                expected: Option<serde_json::Value>,
                #[serde(default)]
                tags: Vec<String>,
                #[serde(default)]
                checks: Vec<serde_json::Value>,
            }
            match serde_json::from_str::<Line>(t) {
                Ok(l) => tasks.push(Task {
                    id: l.id.unwrap_or_else(|| format!("line {}", n + 1)),
                    input: l.input,
                    expected: l.expected,
                    tags: l.tags,
                    checks: l.checks,
                    line: n + 1,
                }),
                Err(e) => diags.push(
                    src.error(start..start + line.len(), format!("not a task: {e}"))
                        .with_help("write one JSON object per line with an \"input\" field (and optionally id, expected, tags, checks), or plain text lines"),
                ),
            }
        } else {
            tasks.push(Task { line: n + 1, ..Task::new(format!("line {}", n + 1), t) });
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    if tasks.is_empty() {
        return Err(Diagnostic::file_error(&src.name, "the task file has no tasks")
            .with_help("write one input per line, or JSON lines with an \"input\" field")
            .into());
    }
    Ok(tasks)
}

/// Writes a whole file or nothing: a temporary file beside it, synced, then renamed over.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    write_atomically_with(path, |f| f.write_all(bytes))
}

/// [`write_atomically`] with the content written by `write` (through a buffer), for output
/// too large to build in memory first.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(&tmp)?);
        write(&mut f)?;
        let f = f.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
