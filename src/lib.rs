//! Baton: design, run, watch and tune LLM orchestrations.
//!
//! # Layout
//! - [`flow`]: the agent DAG users declare in TOML, validated into indices.
//! - [`routing`]: the model catalog with prices, strategies and their rules, the router.
//! - [`tokens`]: the o200k token counter used to estimate input sizes before a call.
//! - [`provider`]: the trait every model backend implements, and the deterministic simulator.
//! - [`engine`]: the tokio DAG executor that turns a flow and a strategy into [`event::RunEvent`]s.
//! - [`state`]: the one fold over events that every view (live, replay, compare, headless) reads.
//! - [`report`]: headless tables and JSON built from folded state.
//! - [`watch`]: `baton watch`, an OTLP receiver that turns spans from other orchestrations into
//!   runs.
//! - [`cli`]: the command line.
//! - `tui`: the terminal application; the only module besides `main.rs` that names ratatui or
//!   crossterm.
//!
//! The core (flow, routing, tokens, provider, engine, event, state, record) never imports the
//! TUI; a test reads the sources to keep it that way.

pub mod cache;
pub mod cli;
pub mod compare;
pub mod diag;
pub mod engine;
pub mod event;
pub mod flow;
pub mod headless;
pub mod load;
pub mod money;
pub mod provider;
pub mod record;
pub mod report;
pub mod routing;
pub mod shapes;
pub mod state;
pub mod tokens;
pub mod tui;
pub mod tuning;
pub mod watch;
