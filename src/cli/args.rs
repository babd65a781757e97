//! The command line's arguments: what each command takes, with the help text `--help` shows.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "baton",
    version,
    about = "Design, run, watch and tune LLM orchestrations in the terminal",
    long_about = "Design, run, watch and tune LLM orchestrations in the terminal.\n\n\
A flow is a DAG of agent nodes (TOML); a strategy routes each node to a model, decides what \
context it gets and how much runs in parallel. Baton runs flows on a deterministic simulator \
by default (no keys, no network) and shows where the money and the seconds go.\n\n\
With no command, opens the live screen on the research-assistant sample under the smart \
strategy.",
    after_help = "Examples:\n  \
baton                                                   watch the research-assistant sample run\n  \
baton run research-assistant --strategy naive           per-node table and totals\n  \
baton run support-triage --tasks support-triage -s smart   1000 tickets in seconds\n  \
baton validate my-flow.toml strategies/*.toml           check files, with file:line:col errors\n  \
baton compare research-assistant -s naive -s smart      side by side, with ratios and the frontier\n  \
baton models                                            the catalog with prices\n  \
baton replay ~/.local/share/baton/runs/<file>.jsonl     watch a recorded run again\n  \
baton reprice <recording> -s smart                      what it would have cost under smart\n  \
baton watch --format json                               OTLP receiver: other apps' traces as runs\n\n\
Exit status: 0 success, 1 the run did not complete (a node failed, budget), 2 bad input, \
130 interrupted by Ctrl-C (the summary of what finished is printed first)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub open: OpenArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the live screen on a flow (the default command).
    Open(OpenArgs),
    /// Run a flow headless and print a per-node table and totals (or a batch summary).
    Run(RunArgs),
    /// Check flow, strategy and catalog files; print every problem with file:line:col.
    Validate(ValidateArgs),
    /// List the model catalog with prices and simulation profiles.
    Models(ModelsArgs),
    /// Run strategies side by side on the same flow and inputs (or compare recordings).
    Compare(CompareArgs),
    /// Replay a recording in the live screen, or print its summary.
    Replay(ReplayArgs),
    /// What a recorded run would have cost under another strategy or other prices (no calls).
    Reprice(RepriceArgs),
    /// Export a recording, e.g. as OTLP/JSON traces for Phoenix, Langfuse or otel-tui.
    Export(ExportArgs),
    /// Which providers have keys, whether their servers answer (with --check), and the price date.
    Doctor(DoctorArgs),
    /// Receive OpenTelemetry traces (OTLP) from other orchestrations and record each as a run.
    Watch(super::WatchArgs),
    /// List recorded runs (flow, strategy, status, cost, tokens), with filters and totals by
    /// day, flow or model.
    Runs(super::RunsArgs),
    /// Price tables from elsewhere: `catalog import` turns LiteLLM's into catalog TOML.
    #[command(subcommand)]
    Catalog(super::catalog::CatalogCommand),
    /// Print the effective settings (config.toml, environment, flags) and where each came from.
    Config(super::config::ConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(super::shell::CompletionsArgs),
    /// Print the man page (roff) for baton and every command.
    Man,
    /// Search model assignments for the frontier of cost, latency and quality on a task set,
    /// and write the chosen point as a commented strategy.
    Optimize(OptimizeArgs),
}

#[derive(Args, Debug, Clone)]
pub struct DoctorArgs {
    /// Also call each server's model list with its key (this touches the network; it costs
    /// nothing). Exits 1 when any checked server is not ok.
    #[arg(long)]
    pub check: bool,
    /// Only the servers of this provider kind (openai, anthropic, gemini); repeatable.
    #[arg(long, value_name = "KIND")]
    pub provider: Vec<String>,
    /// Only the servers of the models this strategy can route to (its rules, default and
    /// fallbacks): "can this strategy run live?".
    #[arg(short, long, value_name = "S")]
    pub strategy: Option<String>,
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
}

/// What a run is of, shared by the screen, `run` and `compare`: seed, input, catalog, and
/// whether it calls real providers.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Seed for the simulator: the same flow, strategy, input and seed give the same run.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Input for the run; defaults to the flow's `input`.
    #[arg(short, long, value_name = "TEXT")]
    pub input: Option<String>,
    /// A model catalog file whose entries override or add to the built-in one.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Call the real providers the catalog names (keys from the environment) instead of the
    /// simulator. The estimated cost is printed before the first call.
    #[arg(long)]
    pub live: bool,
}

/// The screen's playback speed and theme, shared by every command that opens it.
#[derive(Args, Debug, Clone)]
pub struct ScreenArgs {
    /// Playback speed of simulated time (0.25 to 64).
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    pub speed: f64,
    /// Theme: a name (dark, light, high-contrast, catppuccin-mocha, catppuccin-latte, gruvbox-dark,
    /// solarized-dark, solarized-light, tokyo-night, or a file in the user theme directory) or a path.
    #[arg(long, value_name = "NAME|FILE")]
    pub theme: Option<String>,
}

/// The strategy of a single run.
#[derive(Args, Debug, Clone)]
pub struct StrategyArg {
    /// Strategy: a file, a name next to the flow (strategies/NAME.toml), or a sample name
    /// (naive, smart, cascade, premium-parallel). Defaults to the flow's own choice, else smart.
    #[arg(short, long, value_name = "S")]
    pub strategy: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct OpenArgs {
    /// Flow: a file or a sample name (research-assistant, support-triage, code-review, doc-digest).
    #[arg(value_name = "FLOW")]
    pub flow: Option<String>,
    #[command(flatten)]
    pub strategy: StrategyArg,
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub screen: ScreenArgs,
    /// Keep node outputs in this directory across runs: unchanged nodes are served from it.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// The task set `F` (optimize) searches over on the screen; default: the sample set named
    /// like the flow, if there is one.
    #[arg(long, value_name = "FILE")]
    pub tasks: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Flow: a file or a sample name (not with --resume, which runs the recorded flow).
    #[arg(value_name = "FLOW", required_unless_present = "resume", conflicts_with = "resume")]
    pub flow: Option<String>,
    #[command(flatten)]
    pub strategy: StrategyArg,
    #[command(flatten)]
    pub common: Common,
    /// Run once per task: JSON lines with an "input" field, or one input per line.
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub tasks: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Where to record the run (default: a new file under the data directory's runs/).
    #[arg(long, value_name = "FILE", conflicts_with = "no_record")]
    pub record: Option<std::path::PathBuf>,
    /// Do not record the run.
    #[arg(long)]
    pub no_record: bool,
    /// Continue an interrupted recorded run: reuse every finished node's output, run the rest.
    #[arg(long, value_name = "RECORDING")]
    pub resume: Option<std::path::PathBuf>,
    /// Play simulated time at this many times real time instead of as fast as possible.
    #[arg(long, value_name = "X")]
    pub speed: Option<f64>,
    /// Keep node outputs in this directory: a node whose model, prompt and context are unchanged
    /// is served from it at no cost.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Print the routing each node would get and the estimated cost (expected and worst case),
    /// and call nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Spans of finished nodes are pushed in batches while the run goes, the rest at the end.
    #[command(flatten)]
    pub otlp: super::OtlpPushArgs,
    /// No progress bar (it shows on stderr for a batch that takes more than a second, and only
    /// when stderr is a terminal).
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// A flow (file or sample name), or two or more recordings of the same flow.
    #[arg(value_name = "FLOW|RECORDING", required = true)]
    pub inputs: Vec<String>,
    /// A strategy to compare; give two or more (the first is the baseline for ratios).
    #[arg(short, long = "strategy", value_name = "S")]
    pub strategies: Vec<String>,
    /// Run every strategy once per task over this set.
    #[arg(long, value_name = "FILE")]
    pub tasks: Option<String>,
    #[command(flatten)]
    pub common: Common,
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,
    /// Open the compare screen: the strategies run live side by side.
    #[arg(long)]
    pub screen: bool,
    /// Print each strategy's routing and estimated cost, and call nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// No progress bar (it shows on stderr for work that takes more than a second, and only
    /// when stderr is a terminal).
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub screen_args: ScreenArgs,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareFormat {
    Table,
    Markdown,
    Json,
    Csv,
}

#[derive(Args, Debug, Clone)]
pub struct ReplayArgs {
    /// A recording (.jsonl). Without one, on a terminal, the screen opens on the newest
    /// recording with the run picker over it.
    #[arg(value_name = "RECORDING")]
    pub file: Option<std::path::PathBuf>,
    /// Print the run's table (or JSON) instead of opening the screen.
    #[arg(long)]
    pub summary: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub screen: ScreenArgs,
}

#[derive(Args, Debug, Clone)]
pub struct RepriceArgs {
    /// A recording (.jsonl).
    #[arg(value_name = "RECORDING")]
    pub file: std::path::PathBuf,
    /// The strategy to price the run under (a file, a name next to the recorded flow's
    /// folder, or a sample name); defaults to the recorded one, to try other prices.
    #[arg(short, long, value_name = "S")]
    pub strategy: Option<String>,
    /// A catalog whose prices and profiles override the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<std::path::PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// A recording (.jsonl).
    #[arg(value_name = "RECORDING")]
    pub file: std::path::PathBuf,
    /// Write OTLP/JSON traces (GenAI and OpenInference attributes) to this file.
    #[arg(long, value_name = "OUT.json", required_unless_present = "otlp_endpoint")]
    pub otlp: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub push: super::OtlpPushArgs,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct ValidateArgs {
    /// Files to check; the kind (flow, strategy, catalog) is read from the file.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Catalog to check strategies against.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ModelsArgs {
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

// `baton optimize` (issue 16).

#[derive(Args, Debug, Clone)]
pub struct OptimizeArgs {
    /// Flow: a file or a sample name.
    #[arg(value_name = "FLOW")]
    pub flow: String,
    /// The task set: JSON lines with an "input" field (and optional expected, checks, tags),
    /// or one input per line.
    #[arg(long, value_name = "FILE", required = true)]
    pub tasks: String,
    #[command(flatten)]
    pub common: Common,
    /// A strategy to start from and to measure the result against; repeatable. Defaults to
    /// the flow's own strategy, else smart.
    #[arg(short = 's', long = "from", value_name = "S")]
    pub from: Vec<String>,
    /// The strategy whose context mode, schedule, retries and budget every candidate keeps
    /// (default: the first --from).
    #[arg(long, value_name = "S")]
    pub base: Option<String>,
    /// Choose a model per kind of node instead of per node.
    #[arg(long)]
    pub per_kind: bool,
    /// Only these models (comma-separated catalog ids; default: the whole catalog).
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub models: Vec<String>,
    /// Do not try cascades (a model that escalates to a stronger one when its checks fail).
    #[arg(long)]
    pub no_cascade: bool,
    /// The lowest share of tasks passing every check a result may have: 0.95 or 95%.
    #[arg(long, value_name = "Q")]
    pub quality_floor: Option<String>,
    /// The most the search may spend on model calls, in USD (it stops after the candidate that
    /// crosses it). Meant for --live.
    #[arg(long, value_name = "USD")]
    pub budget: Option<f64>,
    /// What the best point minimises (cost, latency) or maximises (quality) above the floor.
    #[arg(long, value_enum, default_value_t = ObjectiveArg::Cost)]
    pub objective: ObjectiveArg,
    /// Share of tasks held out of the search and measured afterwards.
    #[arg(long, value_name = "SHARE", default_value_t = 0.3)]
    pub held_out: f64,
    /// Stop after evaluating this many candidates.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_candidates: usize,
    /// Write the best point (or --pick N) as a strategy file with the reasons for each rule.
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// The frontier point to write, counting from 1 as the table does (default: the best).
    #[arg(long, value_name = "N")]
    pub pick: Option<usize>,
    #[arg(long, value_enum, default_value_t = OptimizeFormat::Table)]
    pub format: OptimizeFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectiveArg {
    Cost,
    Latency,
    Quality,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizeFormat {
    Table,
    Json,
}
