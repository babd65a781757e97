//! `baton watch`'s screen: the list of traces and a trace opened in the live graph, driven
//! through the update function with reports the watch service really produced (live snapshots
//! from the captured spans, then the settled runs) and drawn into TestBackend.

mod common;

use std::sync::Arc;
use std::time::Duration;

use baton::routing::Catalog;
use baton::tui::app::{Command, View};
use baton::tui::keymap::Keymap;
use baton::tui::theme::Theme;
use baton::tui::traces::{WatchMsg, Watching};
use baton::watch::decode::{Encoding, body_to_spans};
use baton::watch::server::ReceiverConfig;
use baton::watch::service::{Finished, Report, WatchConfig, serve};
use baton::watch::span::SpanRec;
use baton::watch::{AssemblerConfig, WatchedRun, reconstruct};
use common::otlp::{Capture, captures};
use common::screen::text;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn spans_of(c: &Capture) -> Vec<SpanRec> {
    let enc =
        if c.content_type == "application/grpc" { Encoding::Protobuf } else { Encoding::from_content_type(&c.content_type).expect("ct") };
    let ce = (!c.content_encoding.is_empty()).then_some(c.content_encoding.as_str());
    body_to_spans(&c.body, enc, ce, 64 << 20).expect("decodes").0
}

/// The sample's spans after its first `n` requests (all of them with `n` = usize::MAX), for
/// the orchestration trace only.
fn spans(sample: &str, n: usize) -> Vec<SpanRec> {
    let all: Vec<SpanRec> = captures(sample).iter().take(n).flat_map(spans_of).collect();
    // The orchestration is the trace with the most spans (s5 also has a health check).
    let mut count: std::collections::HashMap<_, usize> = std::collections::HashMap::new();
    for s in &all {
        *count.entry(s.trace).or_default() += 1;
    }
    let Some(trace) = count.into_iter().max_by_key(|(_, n)| *n).map(|(t, _)| t) else { return all };
    all.into_iter().filter(|s| s.trace == trace).collect()
}

fn snapshot(sample: &str, n: usize, catalog: &Arc<Catalog>) -> WatchedRun {
    reconstruct(&spans(sample, n), catalog.clone(), 0, "test", false).expect("converts").1
}

fn finished(sample: &str, catalog: &Arc<Catalog>) -> Report {
    let run = reconstruct(&spans(sample, usize::MAX), catalog.clone(), 1, "test", true).expect("converts").1;
    Report::Finished(Box::new(Finished { run, recording: None, forced: false }))
}

fn screen(w: u16, h: u16) -> Watching {
    let mut s = Watching::new(Theme::dark(), Keymap::default_map());
    s.update(WatchMsg::Term(Event::Resize(w, h)));
    s.update(WatchMsg::Report(Report::Listening { http: Some("127.0.0.1:4318".parse().expect("addr")), grpc: None }));
    s
}

fn draw(s: &Watching) -> String {
    let mut term = Terminal::new(TestBackend::new(s.size.0, s.size.1)).expect("terminal");
    term.draw(|f| baton::tui::traces_view::draw(f, s)).expect("draw");
    text(term.backend().buffer())
}

fn key(s: &mut Watching, code: KeyCode) -> Vec<Command> {
    let mods = if matches!(code, KeyCode::Char(c) if c.is_ascii_uppercase()) { KeyModifiers::SHIFT } else { KeyModifiers::NONE };
    s.update(WatchMsg::Term(Event::Key(KeyEvent::new(code, mods))))
}

fn line_with<'a>(t: &'a str, needle: &str) -> &'a str {
    t.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no line with {needle:?} in\n{t}"))
}

fn builtin() -> Arc<Catalog> {
    Arc::new(Catalog::builtin())
}

/// The built-in catalog plus gpt-4o-mini, so part of a trace is priced and part is not.
fn with_mini() -> Arc<Catalog> {
    let extra = "[[model]]\nid = \"gpt-4o-mini\"\nprovider = \"openai\"\napi_model = \"gpt-4o-mini\"\ninput_per_mtok = 0.15\noutput_per_mtok = 0.60\ncontext_window = 128000\n";
    Arc::new(Catalog::parse(&baton::diag::Source::new("m.toml", extra), Some(&Catalog::builtin())).expect("parses").0)
}

#[test]
fn the_list_shows_each_trace_newest_first_filling_in_and_never_zero_for_unpriced() {
    let cat = builtin();
    let mut s = screen(120, 20);
    let t = draw(&s);
    assert!(t.contains("Waiting for traces."), "{t}");
    assert!(t.contains("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318"), "{t}");

    // s3 arrives a span at a time: the row is live and its figures grow.
    s.update(WatchMsg::Report(Report::Live(Box::new(snapshot("s3_openai_v2_fanout_grpc", 1, &cat)))));
    let t = draw(&s);
    let row = line_with(&t, "s3-openai-v2-fanout");
    assert!(row.trim_start().starts_with("live"), "{row}");
    let one: Vec<&str> = row.split_whitespace().collect();
    s.update(WatchMsg::Report(Report::Live(Box::new(snapshot("s3_openai_v2_fanout_grpc", 3, &cat)))));
    let t = draw(&s);
    let row = line_with(&t, "s3-openai-v2-fanout");
    let three: Vec<&str> = row.split_whitespace().collect();
    assert_ne!(one, three, "more spans, other figures: {row}");
    assert!(t.contains("1 traces (1 live)"), "{t}");

    // Settled: finished, with the fold's figures. No model of s3 is in the built-in catalog.
    s.update(WatchMsg::Report(finished("s3_openai_v2_fanout_grpc", &cat)));
    let t = draw(&s);
    let row = line_with(&t, "s3-openai-v2-fanout");
    assert!(row.trim_start().starts_with("finished"), "{row}");
    let st = &s.rows[0].state;
    let toks = st.totals.usage.total_input() + st.totals.usage.output;
    assert_eq!(toks, 226, "the expected.json totals: 178 in + 48 out");
    assert!(row.contains(" 226 ") && row.contains("unpriced") && !row.contains("$0"), "{row}");
    assert!(row.contains(&format!("{:>6}{:>6}", 5, 4)), "5 nodes, 4 calls: {row}");

    // A second trace goes on top.
    s.update(WatchMsg::Report(finished("s5_two_process_propagation", &cat)));
    let t = draw(&s);
    let a = t.find("s5-").expect("s5 row");
    let b = t.find("s3-openai").expect("s3 row");
    assert!(a < b, "newest first:\n{t}");
    // Keys from the keymap, with the list's words.
    let foot = t.lines().last().expect("footer");
    assert!(foot.contains("enter open") && foot.contains("f follow") && foot.contains("? help"), "{foot}");
}

#[test]
fn part_priced_traces_say_what_is_priced_and_that_the_rest_is_not() {
    let cat = with_mini();
    let mut s = screen(120, 20);
    s.update(WatchMsg::Report(finished("s3_openai_v2_fanout_grpc", &cat)));
    let t = draw(&s);
    let row = line_with(&t, "s3-openai");
    // gpt-4o-mini is priced now; o3-mini still is not.
    assert!(row.contains("+unpriced") && row.contains('$'), "{row}");
    assert!(!s.rows[0].state.totals.cost.total().is_zero());
    // The o3-mini node's panel says it has no price, rather than a cost of $0.
    s.update(WatchMsg::Term(Event::Resize(160, 48)));
    key(&mut s, KeyCode::Enter);
    let app = s.open.as_mut().expect("Enter opens the trace");
    let node = app.flow.nodes.iter().position(|n| n.id == "chat_o3-mini").expect("the node");
    app.selected = baton::tui::layout::BoxKey::Node(node);
    let t = draw(&s);
    assert!(t.contains("cost     unpriced: o3-mini") && !t.contains("cost     $0"), "{t}");
    assert!(t.contains("not reported by the source"), "a watched node's context: {t}");
}

/// s3's third call streamed without usage: its span carries no token counts. Its node reads
/// as uncounted everywhere, never as `0 tok $0`; the calls that reported read as before.
#[test]
fn a_call_without_token_counts_is_never_shown_as_zero() {
    // Every model of s3 priced, so only the missing counts make a figure uncertain.
    let extra = "[[model]]\nid = \"o3-mini\"\nprovider = \"openai\"\napi_model = \"o3-mini\"\ninput_per_mtok = 1.10\noutput_per_mtok = 4.40\ncontext_window = 200000\n";
    let cat = Arc::new(Catalog::parse(&baton::diag::Source::new("m.toml", extra), Some(&with_mini())).expect("parses").0);
    let mut s = screen(160, 48);
    s.update(WatchMsg::Report(finished("s3_openai_v2_fanout_grpc", &cat)));
    let row = draw(&s);
    let row = line_with(&row, "s3-openai");
    assert!(row.contains("+?"), "a priced part and an uncounted call: {row}");
    key(&mut s, KeyCode::Enter);
    let app = s.open.as_mut().expect("Enter opens the trace");
    let st = app.state();
    let quiet: Vec<usize> = (0..st.units.len()).filter(|&i| st.unreported(i)).collect();
    assert_eq!(quiet.len(), 1, "one node's call came without usage");
    assert_eq!(st.units[quiet[0]].label, "chat_gpt-4o-mini-3");
    let node = app.flow.nodes.iter().position(|n| n.id == "chat_gpt-4o-mini-3").expect("the node");
    app.selected = baton::tui::layout::BoxKey::Node(node);
    let t = draw(&s);
    let box_line = line_with(&t, "? tok");
    assert!(box_line.contains("$?"), "tokens and cost unknown, priced model: {box_line}");
    // The calls that reported keep their figures and prices.
    assert!(t.contains("38 tok"), "{t}");
    // The header counts it; the panel says the figures are lower bounds.
    let head = t.lines().next().expect("header");
    assert!(head.contains("+ 1 uncounted"), "{head}");
    assert!(t.contains("tokens   not reported by the source"), "{t}");
    assert!(t.contains("cost     unknown without token counts"), "{t}");
    // The timeline's spend is a floor; the log says so too, rather than "0 in / 0 out, $0".
    key(&mut s, KeyCode::Tab);
    let t = draw(&s);
    let spend = line_with(&t, " spend $");
    assert!(spend.contains("+?"), "{spend}");
    key(&mut s, KeyCode::Tab);
    let t = draw(&s);
    assert!(t.contains("gpt-4o-mini: tokens not reported, cost unknown"), "{t}");
    // On a narrow screen: the compact list's line and the summary under it.
    key(&mut s, KeyCode::Tab);
    s.update(WatchMsg::Term(Event::Resize(58, 24)));
    let t = draw(&s);
    let row = line_with(&t, "258ms");
    assert!(row.contains(" ? ") && row.contains(" $? "), "the uncounted node's list line: {row}");
    assert!(t.contains("· ? tok · $? · Enter"), "{t}");
}

#[test]
fn enter_opens_the_trace_in_the_graph_filling_in_and_esc_comes_back() {
    let cat = builtin();
    let mut s = screen(160, 48);
    s.update(WatchMsg::Report(Report::Live(Box::new(snapshot("s3_openai_v2_fanout_grpc", 2, &cat)))));
    key(&mut s, KeyCode::Enter);
    let app = s.open.as_ref().expect("Enter opens the trace");
    let nodes_before = app.flow.nodes.len();
    let t = draw(&s);
    assert!(t.contains("Graph") && t.contains("watched"), "{t}");
    assert!(t.contains("esc traces"), "the footer offers the way back: {t}");
    assert!(t.contains("running"), "a trace still arriving is running: {t}");

    // Move in the graph, switch to the timeline; more spans arrive and the view keeps both.
    key(&mut s, KeyCode::Tab);
    // Select a step that has arrived (a `running_…` placeholder gives way to its span).
    let selected_id = {
        let app = s.open.as_mut().expect("open");
        let i = app.flow.nodes.iter().position(|n| !n.id.starts_with("running")).expect("a real step");
        app.selected = baton::tui::layout::BoxKey::Node(i);
        app.flow.nodes[i].id.clone()
    };
    s.update(WatchMsg::Report(finished("s3_openai_v2_fanout_grpc", &cat)));
    let app = s.open.as_ref().expect("still open");
    assert!(app.flow.nodes.len() > nodes_before, "new nodes appear: {} → {}", nodes_before, app.flow.nodes.len());
    assert_eq!(app.view, View::Timeline, "the view stays");
    assert_eq!(app.flow.nodes[app.selected.node()].id, selected_id, "the selection follows its node");
    assert_eq!(app.state().totals.usage.output, s.rows[0].state.totals.usage.output, "the graph and the list fold the same events");
    key(&mut s, KeyCode::Tab);
    key(&mut s, KeyCode::Tab);
    let t = draw(&s);
    assert!(t.contains("completed") && t.contains("unpriced"), "{t}");
    assert!(t.contains("chat_o3-mini") || t.contains("chat o3-mini"), "{t}");

    // Keys that would change a run are not for someone else's trace.
    let cmds = key(&mut s, KeyCode::Char('s'));
    assert!(cmds.is_empty());
    assert!(s.open.as_ref().and_then(|a| a.message.as_deref()).is_some_and(|m| m.contains("read-only")));

    // Enter focuses the panel; Esc leaves it first, then goes back to the list.
    key(&mut s, KeyCode::Enter);
    key(&mut s, KeyCode::Esc);
    assert!(s.open.is_some(), "the first Esc leaves the panel");
    key(&mut s, KeyCode::Backspace);
    assert!(s.open.is_none(), "back to the list");
    assert!(draw(&s).contains("finished"));
}

#[test]
fn list_keys_move_follow_help_and_quit() {
    let cat = builtin();
    let mut s = screen(100, 24);
    for sample in ["s3_openai_v2_fanout_grpc", "s5_two_process_propagation", "s1_langgraph_openinference"] {
        s.update(WatchMsg::Report(finished(sample, &cat)));
    }
    assert_eq!(s.selected_index(), Some(0), "the selection stays on the newest as the list grows");
    key(&mut s, KeyCode::Char('j'));
    assert_eq!(s.selected_index(), Some(1));
    key(&mut s, KeyCode::Down);
    key(&mut s, KeyCode::Down);
    assert_eq!(s.selected_index(), Some(2), "stops at the end");
    key(&mut s, KeyCode::Char('k'));
    assert_eq!(s.selected_index(), Some(1));
    key(&mut s, KeyCode::Char('g'));
    assert_eq!(s.selected_index(), Some(0));
    key(&mut s, KeyCode::Char('G'));
    assert_eq!(s.selected_index(), Some(2));
    // The selection stays on its trace when another arrives above it.
    let sel = s.selected.clone();
    s.update(WatchMsg::Report(Report::Live(Box::new(snapshot("s3_openai_v2_fanout_grpc", 1, &with_mini())))));
    assert_eq!(s.selected, sel);

    // Mouse: a click selects a row, a second click opens it.
    let click = |row: u16| {
        WatchMsg::Term(Event::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: 5,
            row,
            modifiers: KeyModifiers::NONE,
        }))
    };
    s.update(click(baton::tui::traces::FIRST_ROW_Y + 1));
    assert_eq!(s.selected_index(), Some(1));
    assert!(s.open.is_none());
    s.update(click(baton::tui::traces::FIRST_ROW_Y + 1));
    assert!(s.open.is_some(), "a click on the selected row opens it");
    key(&mut s, KeyCode::Esc);

    // Help lists the list's keys from the keymap.
    key(&mut s, KeyCode::Char('?'));
    let t = draw(&s);
    assert!(t.contains("Watch keys") && t.contains("follow: open each new trace"), "{t}");
    key(&mut s, KeyCode::Esc);
    assert!(!s.help);

    // Follow: the newest opens at once and each new trace opens as it arrives.
    key(&mut s, KeyCode::Char('f'));
    assert!(s.follow);
    let newest = s.rows.last().expect("rows").trace.clone();
    assert_eq!(s.open_trace(), Some(newest.as_str()));
    let t = draw(&s);
    assert!(t.contains("follow on"), "{t}");
    // A trace that is not on the list yet: s5 under another id is not possible, so use the
    // same capture with the trace id changed.
    let mut other = snapshot("s1_langgraph_openinference", usize::MAX, &cat);
    other.info.trace_id = "00112233445566778899aabbccddeeff".into();
    s.update(WatchMsg::Report(Report::Live(Box::new(other))));
    assert_eq!(s.open_trace(), Some("00112233445566778899aabbccddeeff"), "follow opens the new trace");
    // Back to the list stops following (else the next trace would pull the view away again).
    key(&mut s, KeyCode::Esc);
    assert!(s.open.is_none() && !s.follow);

    assert!(matches!(key(&mut s, KeyCode::Char('q')).as_slice(), [Command::Quit]));
    assert!(s.quit);
}

#[test]
fn span_text_is_sanitised_before_it_reaches_the_screen() {
    let cat = builtin();
    let mut s = screen(120, 20);
    let mut run = snapshot("s3_openai_v2_fanout_grpc", usize::MAX, &cat);
    run.info.services = vec!["evil\u{1b}]52;c;aGk=\u{7}svc".into()];
    s.update(WatchMsg::Report(Report::Live(Box::new(run))));
    let t = draw(&s);
    assert!(!t.contains('\u{1b}') && !t.contains('\u{7}'), "{t:?}");
    assert!(t.contains("evil"), "{t}");
}

/// The service's live snapshots over a real loopback gRPC connection, then the settled run,
/// all through the screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_sends_snapshots_while_a_trace_arrives_and_the_screen_shows_them() {
    let cfg = WatchConfig {
        receivers: ReceiverConfig { http: None, grpc: Some("127.0.0.1:0".parse().expect("addr")), max_body: 8 << 20, token: None },
        assembler: AssemblerConfig { settle: Duration::from_millis(400), max_wait: Duration::from_secs(10), ..AssemblerConfig::default() },
        catalog: builtin(),
        record_dir: None,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(serve(cfg, true, tx, stop.clone()));
    let Some(Report::Listening { grpc: Some(grpc), .. }) = rx.recv().await else { panic!("the receiver did not start") };
    let mut client = TraceServiceClient::connect(format!("http://{grpc}")).await.expect("connect");
    let mut s = screen(120, 20);
    let mut lives = Vec::new();
    for c in captures("s3_openai_v2_fanout_grpc") {
        client.export(ExportTraceServiceRequest::decode(&c.body[..]).expect("decodes")).await.expect("export");
        // Each request is its own change: wait for its snapshot before the next.
        loop {
            let r = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("a snapshot in time").expect("open");
            if let Report::Live(run) = &r {
                lives.push((run.info.spans, run.events.iter().any(|e| matches!(e.kind, baton::event::Event::RunFinished { .. }))));
                s.update(WatchMsg::Report(r));
                break;
            }
            s.update(WatchMsg::Report(r));
        }
    }
    assert_eq!(lives.iter().map(|l| l.0).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5], "one snapshot per request, growing");
    assert!(lives.iter().all(|l| !l.1), "a snapshot is not finished");
    assert!(line_with(&draw(&s), "s3-openai").trim_start().starts_with("live"));
    let r = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("settles").expect("open");
    assert!(matches!(r, Report::Finished(_)), "then the settled run");
    s.update(WatchMsg::Report(r));
    assert_eq!(s.rows.len(), 1, "the same row");
    assert!(line_with(&draw(&s), "s3-openai").trim_start().starts_with("finished"));
    stop.cancel();
}
