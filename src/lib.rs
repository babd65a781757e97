//! Baton: design, run, watch and tune LLM orchestrations.
//!
//! # Layout
//! Dependencies point down this list: a module names only those above it (the screen and the
//! command line name anything; nothing names them).
//! - [`alloc`]: the global allocator every binary uses (mimalloc; the one module with `unsafe`).
//! - [`dates`]: UTC calendar dates from Unix time (recording names, price-table dates, history).
//! - [`diag`]: diagnostics with file:line:col and a hint, for every file Baton reads.
//! - [`money`]: exact money (picodollars), and the token usage, prices and costs every figure
//!   is made from.
//! - [`sanitize`]: text from outside made safe for a terminal, and keys redacted everywhere.
//! - [`flow`]: the agent DAG users declare in TOML, validated into indices.
//! - [`routing`]: the model catalog with prices, strategies and their rules, the router.
//! - [`tokens`]: the o200k token counter used to estimate input sizes before a call.
//! - [`event`]: `RunEvent`, the closed enum every source emits and every view folds.
//! - [`provider`]: the trait every model backend implements; the simulator; HTTP providers.
//! - [`engine`]: the tokio DAG executor that turns a flow and a strategy into events.
//! - [`state`]: the one fold over events that every view (live, replay, compare, headless) reads.
//! - [`cache`]: the content-keyed output cache (memory, disk) and the stores reruns read.
//! - [`record`]: recordings (versioned JSON lines): writer, reader, resume, re-price, export,
//!   OTLP push (as a run goes, or of a recording).
//! - [`config`]: the user's settings (config.toml, environment, flags), each with where its value
//!   came from.
//! - [`load`]: finding files by path or sample name; embedded samples; config and data dirs.
//! - [`progress`]: the hook long headless work reports through (tasks done, cost so far).
//! - [`quality`]: pass rates with Wilson intervals, whether two are distinguishable, and the
//!   checks a task set carries (equals, similar, json_schema, command, judge).
//! - [`headless`]: runs without a screen (one run, paced, a batch), folded into state.
//! - [`estimate`]: what a run will cost before it calls anything (`--dry-run`, live runs).
//! - [`report`]: the JSON report of a run, text tables, batch totals.
//! - [`compare`]: strategies side by side: ratios, frontier, breakdowns by kind and node.
//! - [`optimize`]: `baton optimize`, the search over model assignments for the frontier of
//!   cost, latency and quality, over outputs each computed once.
//! - [`tuning`]: edit previews and pinning (toml_edit, comments kept).
//! - [`shapes`]: synthetic DAG shapes for benchmarks.
//! - [`history`]: run history: every recording in the data directory, indexed in SQLite
//!   (`baton runs`, and the listing a run picker shows).
//! - [`watch`]: `baton watch`, an OTLP receiver that turns spans from other orchestrations into
//!   runs (a third source of events beside the engine and recordings).
//! - [`cli`]: the command line, a file per command family.
//! - `tui`: the terminal application; the only module besides `main.rs` that names ratatui or
//!   crossterm. `tui::traces` is `baton watch`'s screen (the traces arriving, each opening in
//!   the same live graph).
//!
//! The core never imports the TUI; `tests/files.rs` reads the sources to keep it that way.

pub mod alloc;
pub mod cache;
pub mod cli;
pub mod compare;
pub mod config;
pub mod dates;
pub mod diag;
pub mod engine;
pub mod estimate;
pub mod event;
pub mod flow;
pub mod headless;
pub mod history;
pub mod load;
pub mod money;
pub mod optimize;
pub mod progress;
pub mod provider;
pub mod quality;
pub mod record;
pub mod report;
pub mod routing;
pub mod sanitize;
pub mod shapes;
pub mod state;
pub mod tokens;
pub mod tui;
pub mod tuning;
pub mod watch;
