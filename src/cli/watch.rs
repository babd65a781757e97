//! `baton watch`: receive OTLP traces and turn each finished trace into a recorded run.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::error::{Exit, Failure};
use super::{EXIT_OK, EXIT_RUN_FAILED, Format};
use crate::load;
use crate::report::RunReport;
use crate::watch::service::{Finished, Report, WatchConfig};
use crate::watch::{AssemblerConfig, WatchInfo, server::ReceiverConfig};

#[derive(Args, Debug, Clone)]
pub struct WatchArgs {
    /// OTLP/HTTP address (`POST /v1/traces`), or `off`. Port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4318")]
    pub http: String,
    /// OTLP/gRPC address (`TraceService/Export`), or `off`.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4317")]
    pub grpc: String,
    /// Allow listening on an address other than loopback (anyone who can reach it can send spans).
    #[arg(long)]
    pub allow_remote: bool,
    /// Require `Authorization: Bearer <value of VAR>` on every request.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Largest accepted request body in bytes (also after decompression).
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20)]
    pub max_body: usize,
    /// Quiet time after a complete trace's last span before it counts as finished.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub settle_ms: u64,
    /// Quiet time after which a trace still missing a parent span is closed anyway.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub max_wait_ms: u64,
    /// Output: a line per finished trace, or one JSON object per line (`baton run`'s schema
    /// plus a `watch` object). Without it, a terminal gets the screen (the traces as they
    /// arrive) and a pipe gets the lines.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Theme for the screen (as `baton run --theme`).
    #[arg(long, value_name = "NAME|FILE")]
    pub theme: Option<String>,
    /// Directory for the recordings (default: the data directory's runs/).
    #[arg(long, value_name = "DIR", conflicts_with = "no_record")]
    pub record: Option<PathBuf>,
    /// Do not record watched runs.
    #[arg(long)]
    pub no_record: bool,
    /// A model catalog whose entries override or add to the built-in one (for prices).
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Stop after this many finished runs (for scripts and tests).
    #[arg(long, value_name = "N")]
    pub exit_after: Option<u64>,
}

/// One line of `--format json`.
#[derive(Serialize)]
struct JsonLine<'a> {
    #[serde(flatten)]
    report: RunReport,
    watch: &'a WatchInfo,
    forced: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    recording: Option<String>,
}

fn addr(flag: &str, text: &str, allow_remote: bool) -> Result<Option<SocketAddr>, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let a: SocketAddr =
        text.parse().map_err(|_| format!("--{flag} '{text}' is not an address\n  help: give IP:PORT, e.g. 127.0.0.1:4318, or 'off'"))?;
    if !a.ip().is_loopback() {
        if !allow_remote {
            return Err(format!(
                "--{flag} {a} is not a loopback address; anyone who can reach it could send spans\n  help: add --allow-remote (and consider --token-env VAR) to listen there"
            ));
        }
        eprintln!("baton: warning: listening on {a}, reachable from other machines; spans from anyone who can reach it become runs");
    }
    Ok(Some(a))
}

/// The JSON line. The report already gives the cost of what could not be priced as `null`
/// rather than 0 (a model the catalog lacks has an unknown price, not a zero one), with
/// `priced_cost_usd` for the part that was priced.
fn json_line(j: &JsonLine<'_>) -> String {
    serde_json::to_string(j).unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
}

fn line(f: &Finished) -> String {
    let st = f.run.state();
    let t = &st.totals;
    let info = &f.run.info;
    // An unpriced call is never shown as $0: with nothing priced the figure is "unpriced".
    let n = info.unpriced.len();
    // Nor is a call that came without token counts: the figure is then a lower bound.
    let cost = if info.priced && info.calls_without_usage > 0 && t.cost.total().is_zero() {
        "cost unknown (calls without token counts)".to_string()
    } else if info.priced && info.calls_without_usage > 0 {
        format!("at least {}", t.cost.total())
    } else if info.priced {
        t.cost.total().to_string()
    } else if t.cost.total().is_zero() {
        format!("unpriced ({n} call{} not in the catalog)", if n == 1 { "" } else { "s" })
    } else {
        format!("{} priced + {n} unpriced call{}", t.cost.total(), if n == 1 { "" } else { "s" })
    };
    let mut s = format!(
        "{}  {}  {} nodes  {} calls  {} in / {} out tokens  {}",
        &info.trace_id[..info.trace_id.len().min(16)],
        crate::report::RunReport::new(&st).status,
        st.units.len(),
        info.calls,
        t.usage.total_input(),
        t.usage.output,
        cost
    );
    for u in &info.unpriced {
        s.push_str(&format!(
            "\n  unpriced: {} on '{}' ({} in, {} out tokens): not in the catalog",
            u.node,
            u.model,
            u.usage.total_input(),
            u.usage.output
        ));
    }
    if info.calls_without_usage > 0 {
        let n = info.calls_without_usage;
        s.push_str(&format!(
            "\n  {n} call{} reported no tokens: tokens and cost are at least the figures shown",
            if n == 1 { "" } else { "s" }
        ));
    }
    match &f.recording {
        Some(Ok(p)) => s.push_str(&format!("\n  recorded to {}", p.display())),
        Some(Err(e)) => s.push_str(&format!("\n  not recorded: {e}")),
        None => {}
    }
    s
}

pub fn watch(args: WatchArgs) -> Exit {
    let http = addr("http", &args.http, args.allow_remote).map_err(Failure::BadInput)?;
    let grpc = addr("grpc", &args.grpc, args.allow_remote).map_err(Failure::BadInput)?;
    if http.is_none() && grpc.is_none() {
        return Err(Failure::bad_input("both receivers are off\n  help: leave --http or --grpc on"));
    }
    let token = match &args.token_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
            _ => {
                return Err(Failure::bad_input(format!(
                    "--token-env {var}: the variable is not set or empty\n  help: export {var}=<token> before starting"
                )));
            }
        },
    };
    let (catalog, warnings) = load::load_catalog(args.catalog.as_deref())?;
    if !warnings.0.is_empty() {
        eprintln!("{warnings}");
    }
    let record_dir = if args.no_record { None } else { args.record.clone().or_else(|| load::data_dir().map(|d| d.join("runs"))) };
    let cfg = WatchConfig {
        receivers: ReceiverConfig { http, grpc, max_body: args.max_body, token },
        assembler: AssemblerConfig {
            settle: Duration::from_millis(args.settle_ms),
            max_wait: Duration::from_millis(args.max_wait_ms.max(args.settle_ms)),
            ..AssemblerConfig::default()
        },
        catalog: Arc::clone(&catalog),
        record_dir,
    };
    // No --format and a terminal: the screen.
    if args.format.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout()) && args.exit_after.is_none() {
        return screen(cfg, &args);
    }
    let format = args.format.unwrap_or(Format::Table);
    let rt = crate::engine::runtime::serving().map_err(Failure::runtime)?;
    rt.block_on(async move {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let server = tokio::spawn(crate::watch::service::run(cfg, tx, shutdown.clone()));
        let stop = shutdown.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.cancel();
            }
        });
        let mut finished = 0u64;
        let mut code = EXIT_OK;
        while let Some(r) = rx.recv().await {
            match r {
                Report::Listening { http, grpc } => {
                    if let Some(h) = http {
                        eprintln!("baton watch: OTLP/HTTP on http://{h}/v1/traces");
                        eprintln!(
                            "  point your app at it: OTEL_EXPORTER_OTLP_ENDPOINT=http://{h} OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
                        );
                    }
                    if let Some(g) = grpc {
                        eprintln!("baton watch: OTLP/gRPC on {g}");
                    }
                }
                Report::NotARun { trace, spans } => {
                    eprintln!("baton watch: trace {trace}: {spans} spans and no model call; not a run, not recorded");
                }
                Report::Failed { trace, error } => {
                    eprintln!("baton watch: trace {trace}: {error}");
                    code = EXIT_RUN_FAILED;
                }
                // Only the screen asks for snapshots of traces still arriving.
                Report::Live(_) => {}
                Report::Finished(f) => {
                    let text = match format {
                        Format::Table => line(&f),
                        Format::Json => {
                            let st = f.run.state();
                            let j = JsonLine {
                                report: RunReport::new(&st),
                                watch: &f.run.info,
                                forced: f.forced,
                                recording: f.recording.as_ref().and_then(|r| r.as_ref().ok()).map(|p| p.display().to_string()),
                            };
                            json_line(&j)
                        }
                    };
                    let mut out = std::io::stdout().lock();
                    if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
                        shutdown.cancel();
                    }
                    if let Some(Err(e)) = &f.recording
                        && format == Format::Json
                    {
                        eprintln!("baton watch: not recorded: {e}");
                    }
                    finished += 1;
                    if args.exit_after.is_some_and(|n| finished >= n) {
                        shutdown.cancel();
                    }
                }
            }
        }
        match server.await {
            Ok(Ok(())) => Ok(code),
            // The receivers could not start (an address in use, say): the user's to fix.
            Ok(Err(e)) => Err(Failure::bad_input(e.to_string())),
            Err(e) => Err(Failure::failed(format!("the receiver stopped: {e}"))),
        }
    })
}

/// The screen: the traces as they arrive, each openable in the live graph. After it closes,
/// stderr says what was recorded.
fn screen(cfg: WatchConfig, args: &WatchArgs) -> Exit {
    let (theme, keymap) = super::setup::screen_setup(args.theme.as_deref(), 1.0, "the watch screen needs a terminal")?;
    let dir = cfg.record_dir.clone();
    let out = crate::tui::watch_loop::run(cfg, theme, keymap).map_err(|e| Failure::failed(format!("the terminal failed: {e}")))?;
    if let Some(e) = out.serve_error {
        return Err(Failure::bad_input(e));
    }
    match (&dir, out.recorded.len()) {
        (None, _) => eprintln!("baton watch: recording was off (--no-record)"),
        (Some(d), n) => eprintln!("baton watch: {n} run{} recorded under {}", if n == 1 { "" } else { "s" }, d.display()),
    }
    for e in &out.not_recorded {
        eprintln!("baton watch: not recorded: {e}");
    }
    Ok(out.code)
}
