//! The raw exchange of a node: each try's request body as sent, the response as received and
//! the usage payload, from a loopback server through the engine, the recording, a replay and
//! the screen's overlay; keys nowhere; the simulator sends none.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use baton::diag::Source;
use baton::event::{Event, Exchange, RunEvent};
use baton::provider::Providers;
use baton::record::Recording;
use baton::routing::{Catalog, Strategy};
use baton::tui::app::Msg;
use baton::tui::keymap::Mode;
use baton::tui::layout::BoxKey;
use common::screen::{frame, key, text};
use common::server::{Reply, Server, transcript};
use common::*;
use crossterm::event::KeyCode;

const SECRET: &str = "sk-baton-exchange-SECRET-9191";

/// `b` receives `a`'s output: its request carries the context the engine assembled.
const FLOW: &str = r#"
[flow]
name = "pair"
input = "hello"

[[node]]
id = "a"
kind = "generate"
complexity = 2
prompt = "node a: {{input}}"

[[node]]
id = "b"
kind = "generate"
complexity = 2
prompt = "node b, go on from a"
after = ["a"]
context = ["a"]
"#;

/// What the provider keeps of a transcript: its events' names and data, without keep-alive
/// comments, one blank line after each.
fn as_kept(sse: &str) -> String {
    sse.replace(": keep-alive\n\n", "").replace("\r\n", "\n")
}

fn exchanges(events: &[RunEvent]) -> Vec<Arc<Exchange>> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            Event::NodeExchange { exchange, .. } => Some(exchange.clone()),
            _ => None,
        })
        .collect()
}

/// Answers node a's first try with a 500 whose body echoes the key it was sent (as some
/// servers do), then streams `ok` for every call.
fn echoing_server(provider: &'static str) -> Server {
    let calls = AtomicUsize::new(0);
    Server::func(move |seen| {
        if seen.body.contains("node a") && calls.fetch_add(1, Ordering::SeqCst) == 0 {
            let presented = ["authorization", "x-api-key", "x-goog-api-key"].iter().find_map(|h| seen.header(h)).unwrap_or("none");
            return Reply::status(500, &format!(r#"{{"error":{{"message":"overloaded, key {presented}"}}}}"#));
        }
        Reply::sse(ok(provider))
    })
}

fn ok(provider: &str) -> String {
    match provider {
        "anthropic" => transcript::anthropic(&["Hel", "lo"], 25, 15, 2000, 1000),
        "gemini" => transcript::gemini(&["Hel", "lo"], 1200, 40, 1000, 100),
        _ => transcript::openai(&["Hel", "lo"], 120, 30, 20, 5),
    }
}

/// The first message's text in a request body (Gemini calls messages `contents`).
fn first_message(provider: &str, body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).expect("the request is JSON");
    let text = if provider == "gemini" { &v["contents"][0]["parts"][0]["text"] } else { &v["messages"][0]["content"] };
    text.as_str().expect("text").to_string()
}

/// Runs FLOW through `baton run --live` against `server`, with the key in the environment and
/// a recording; returns the recording's path and everything the command printed.
fn run_baton(provider: &str, server: &Server) -> (std::path::PathBuf, String) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("exchange-{provider}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let cat = dir.join("catalog.toml");
    std::fs::write(
        &cat,
        format!(
            "[[model]]\nid = \"m1\"\nprovider = \"{provider}\"\napi_model = \"m1-api\"\nbase_url = \"{}/v1\"\nkey_env = \"BATON_EXCHANGE_KEY\"\ninput_per_mtok = 1\noutput_per_mtok = 4\ncontext_window = 100000\n",
            server.url()
        ),
    )
    .expect("catalog");
    let strategy = dir.join("s.toml");
    std::fs::write(
        &strategy,
        "[strategy]\nname = \"t\"\ndefault_model = \"m1\"\nschedule = \"sequential\"\n[retry]\nbackoff_ms = 10\nmax_backoff_ms = 20\n",
    )
    .expect("strategy");
    let flow = dir.join("pair.toml");
    std::fs::write(&flow, FLOW).expect("flow");
    let rec = dir.join("run.jsonl");
    let path = |p: &std::path::Path| p.to_str().expect("utf8").to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["run", &path(&flow), "-s", &path(&strategy), "--live", "--catalog", &path(&cat), "--record", &path(&rec)])
        .args(["--format", "json"])
        .env("BATON_EXCHANGE_KEY", SECRET)
        .env("BATON_DATA_DIR", &dir)
        .env("BATON_CONFIG_DIR", &dir)
        .output()
        .expect("runs");
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (rec, printed)
}

fn live_exchange_through(provider: &'static str) {
    let server = echoing_server(provider);
    let (rec, printed) = run_baton(provider, &server);
    assert!(printed.contains("\"status\": \"completed\""), "{provider}: {printed}");
    // The key was sent, in a header...
    let sent = server.requests();
    let header = match provider {
        "anthropic" => "x-api-key",
        "gemini" => "x-goog-api-key",
        _ => "authorization",
    };
    assert!(sent.iter().all(|r| r.header(header).is_some_and(|v| v.contains(SECRET))), "{provider}");
    // ...and is nowhere in what Baton kept or printed.
    let file = std::fs::read_to_string(&rec).expect("recording");
    assert!(!file.contains(SECRET) && !printed.contains(SECRET), "{provider}: the key leaked");
    assert!(file.contains("\"ev\":\"node_exchange\""), "{provider}: the recording carries the exchanges");

    let recording = Recording::open(&rec).expect("reads");
    // A recording that may hold exchanges says version 2, so an older Baton asks to be upgraded
    // rather than failing on its first `node_exchange` line.
    assert_eq!(recording.header.version, 2, "{provider}");
    let xs = exchanges(&recording.events);
    assert_eq!(xs.len(), 3, "{provider}: a's failed try, a's retry, b");
    // The failed try: its error body is the response, the echoed key redacted.
    let failed = &xs[0];
    assert_eq!((failed.try_no, failed.status), (1, Some(500)), "{provider}");
    assert!(failed.error.as_deref().is_some_and(|e| e.contains("500")), "{provider}: {:?}", failed.error);
    assert!(failed.response.contains("overloaded, key") && failed.response.contains("[redacted]"), "{}", failed.response);
    // The request exactly as sent: the server saw these very bytes.
    assert_eq!(failed.request, sent[0].body, "{provider}: the body as sent");
    assert_eq!(first_message(provider, &xs[1].request), "node a: hello", "{provider}");
    // The raw response as received, and the usage payload as the provider sent it.
    assert_eq!((xs[1].try_no, xs[1].status, xs[1].error.as_deref()), (2, Some(200), None));
    assert_eq!(xs[1].response, as_kept(&ok(provider)), "{provider}: the stream as received");
    let usage: Vec<serde_json::Value> =
        xs[1].usage.as_deref().expect("usage").lines().map(|l| serde_json::from_str(l).expect("usage JSON")).collect();
    match provider {
        "anthropic" => {
            assert_eq!(usage[0]["cache_read_input_tokens"], 2000);
            assert_eq!(usage[1]["output_tokens"], 15);
        }
        "gemini" => assert_eq!(usage[0]["thoughtsTokenCount"], 100),
        _ => assert_eq!(usage[0]["prompt_tokens_details"]["cached_tokens"], 20),
    }
    // b's request carries the context assembled for it: a's output.
    let content = first_message(provider, &xs[2].request);
    assert!(content.contains("[a output]\nHello") && content.contains("node b, go on from a"), "{content}");

    // A replay of the recording shows them on the screen, and no key.
    let mut app = replay_app(recording);
    app.selected = BoxKey::Node(0);
    key(&mut app, KeyCode::Char('i'));
    assert!(app.inspect);
    assert_eq!(app.mode(), Mode::Inspect);
    let screen = text(&frame(&mut app));
    assert!(!screen.contains(SECRET));
    assert!(screen.contains("Raw exchange — a"), "{screen}");
    assert!(screen.contains("try 1 on m1 · HTTP 500"), "{screen}");
    assert!(screen.contains("failed: 500 from m1"), "{screen}");
    assert!(screen.contains("node a: hello"), "the message as a person reads it:\n{screen}");
    for section in ["Request — the body as sent", "Response — as received", "Usage — as the provider sent it"] {
        assert!(screen.contains(section), "{section}:\n{screen}");
    }
    assert!(screen.contains("[redacted]"), "{screen}");
    assert!(screen.contains("esc close"), "the footer says how to close it:\n{screen}");
    // Scrolled to its end, it stops there: the last try's usage is on screen.
    key(&mut app, KeyCode::Char('G'));
    let end = app.inspect_scroll;
    assert!(end > 0 && end == app.scroll_max.2, "{end} {:?}", app.scroll_max);
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::PageDown);
    assert_eq!(app.inspect_scroll, end, "scrolling stops at the end");
    let screen = text(&frame(&mut app));
    let last_usage = match provider {
        "anthropic" => "\"output_tokens\": 15",
        "gemini" => "\"thoughtsTokenCount\": 100",
        _ => "\"completion_tokens\": 30",
    };
    assert!(screen.contains(last_usage), "the end is the last try's usage:\n{screen}");
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(app.inspect_scroll, 0);
    assert!(!screen.contains(SECRET));
    key(&mut app, KeyCode::Esc);
    assert!(!app.inspect);
}

fn replay_app(recording: Recording) -> baton::tui::app::App {
    let mut app = common::screen::app_with("research-assistant", "smart", 1, &Providers::simulated(), (110, 30));
    app.update(Msg::RecordingOpened(Box::new(Ok(Arc::new(recording)))));
    app.player.finish();
    app.refresh_layout();
    frame(&mut app);
    app
}

#[test]
fn openai_exchanges_reach_the_recording_and_the_screen_without_the_key() {
    live_exchange_through("openai");
}

#[test]
fn anthropic_exchanges_reach_the_recording_and_the_screen_without_the_key() {
    live_exchange_through("anthropic");
}

#[test]
fn gemini_exchanges_reach_the_recording_and_the_screen_without_the_key() {
    live_exchange_through("gemini");
}

fn loopback_catalog(server: &Server) -> Arc<Catalog> {
    let text = format!(
        "[[model]]\nid = \"m1\"\nprovider = \"openai\"\napi_model = \"m1-api\"\nbase_url = \"{}/v1\"\nkey_env = \"\"\ninput_per_mtok = 1\noutput_per_mtok = 4\ncontext_window = 10000000\n",
        server.url()
    );
    Arc::new(Catalog::parse(&Source::new("c.toml", text), Some(&Catalog::builtin())).expect("catalog").0)
}

#[test]
fn a_try_the_engine_times_out_still_shows_what_it_sent() {
    let partial = "data: {\"choices\":[{\"delta\":{\"content\":\"PART\"}}]}\n\n";
    let mut stall = Reply::sse(partial);
    stall.stall = Some(std::time::Duration::from_secs(3));
    let server = Server::queue(vec![stall], |_| Reply::sse(transcript::openai(&["ok"], 5, 1, 0, 0)));
    let cat = loopback_catalog(&server);
    let text =
        "[strategy]\nname = \"t\"\ndefault_model = \"m1\"\nschedule = \"sequential\"\n[retry]\nbackoff_ms = 10\nidle_timeout_ms = 300\n";
    let strategy = Arc::new(Strategy::parse(&Source::new("s.toml", text), &cat).expect("strategy").0);
    let (events, st) = live(FLOW, cat, strategy);
    let xs = exchanges(&events);
    assert_eq!(xs.len(), 3);
    assert_eq!(xs[0].request, server.requests()[0].body);
    assert!(xs[0].error.as_deref().is_some_and(|e| e.contains("no data for 0.3 s")), "{:?}", xs[0].error);
    assert_eq!(xs[0].status, None, "the stream was cut before it ended: no response was reported");
    // The exchange comes before the retry it leads to, and the fold keeps it beside the units.
    let at = |name: &str| events.iter().position(|e| e.kind.name() == name).expect(name);
    assert!(at("node_exchange") < at("node_retry"));
    assert_eq!(st.exchanges.len(), 3);
    let a = st.units[0].unit;
    assert_eq!(st.exchanges_of(a).count(), 2);
    // A run without a screen keeps none: only the recording does.
    let mut quiet = baton::state::RunState::new(st.flow.clone(), st.strategy.clone(), st.catalog.clone(), st.run_id, st.attempt);
    quiet.live_text = false;
    let quiet = quiet.fold(&events);
    assert!(quiet.exchanges.is_empty());
    assert_eq!(quiet.totals, st.totals);
}

#[test]
fn a_long_response_is_cut_at_the_cap_and_says_so() {
    // Words, not one long run of a letter: the tokenizer is slow on the latter.
    let piece = "lorem ipsum dolor sit amet ".repeat(37);
    let pieces: Vec<&str> = std::iter::repeat_n(piece.as_str(), 300).collect();
    let long = transcript::openai(&pieces, 10, 300, 0, 0);
    let server = Server::func(move |_| Reply::sse(long.clone()));
    let cat = loopback_catalog(&server);
    let strategy =
        Arc::new(Strategy::parse(&Source::new("s.toml", "[strategy]\nname = \"t\"\ndefault_model = \"m1\"\n"), &cat).expect("s").0);
    let (events, st) = live(FLOW, cat, strategy);
    let x = &exchanges(&events)[0];
    assert!(x.response.len() <= Exchange::CAP + 40, "{}", x.response.len());
    assert!(x.response.ends_with(" bytes cut"), "{}", &x.response[x.response.len() - 60..]);
    assert!(x.usage.as_deref().is_some_and(|u| u.contains("\"completion_tokens\":300")), "usage is kept beside the cut stream");
    // The node's output is whole: only the exchange is capped.
    assert_eq!(common::unit(&st, "a").output().len(), piece.len() * 300);
    // b's request carries all of it as context, so the request is cut at the cap too.
    let b = &exchanges(&events)[1];
    assert!(b.request.len() <= Exchange::CAP + 40 && b.request.ends_with(" bytes cut"), "{}", b.request.len());
}

#[test]
fn the_events_never_hold_the_key() {
    const KEY: &str = "sk-baton-exchange-INPROCESS-5150";
    let server = Server::func(|seen| {
        let presented = seen.header("authorization").unwrap_or("none").to_string();
        if seen.body.contains("node a") {
            Reply::status(401, &format!(r#"{{"error":{{"message":"bad key {presented}"}}}}"#))
        } else {
            Reply::sse(transcript::openai(&["ok"], 5, 1, 0, 0))
        }
    });
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("exchange-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let kf = dir.join("key");
    std::fs::write(&kf, KEY).expect("key");
    let text = format!(
        "[[model]]\nid = \"m1\"\nprovider = \"openai\"\nbase_url = \"{}/v1\"\nkey_env = \"BATON_EXCHANGE_UNSET\"\nkey_file = \"{}\"\ninput_per_mtok = 1\noutput_per_mtok = 4\ncontext_window = 100000\n",
        server.url(),
        kf.display()
    );
    let cat = Arc::new(Catalog::parse(&Source::new("c.toml", text), Some(&Catalog::builtin())).expect("catalog").0);
    let strategy =
        Arc::new(Strategy::parse(&Source::new("s.toml", "[strategy]\nname = \"t\"\ndefault_model = \"m1\"\n"), &cat).expect("s").0);
    let (events, _) = live(FLOW, cat, strategy);
    assert!(server.requests().iter().all(|r| r.header("authorization") == Some(&format!("Bearer {KEY}"))));
    let xs = exchanges(&events);
    assert_eq!(xs.len(), 1, "a failed once (401 is not retried); b was skipped");
    assert_eq!(xs[0].status, Some(401));
    assert!(xs[0].response.contains("bad key Bearer [redacted]"), "{}", xs[0].response);
    assert!(!format!("{events:?}").contains(KEY), "no event holds the key");
}

#[test]
fn simulated_runs_send_no_exchange_and_the_overlay_says_what_it_knows() {
    let s = spec(sample_flow("research-assistant"), sample_strategy("smart"), 1);
    let (events, _) = sim(&s);
    assert!(exchanges(&events).is_empty(), "the simulator reports no exchange");
    let mut app = common::screen::finished((110, 60));
    // The analyzer receives the searchers' outputs.
    let analyzer = app.flow.nodes.iter().position(|n| n.id == "analyzer").expect("analyzer");
    app.selected = BoxKey::Node(analyzer);
    frame(&mut app);
    key(&mut app, KeyCode::Char('i'));
    let screen = text(&frame(&mut app));
    assert!(screen.contains("simulated"), "{screen}");
    assert!(screen.contains("nothing went over the wire"), "{screen}");
    assert!(screen.contains("template"), "{screen}");
    assert!(screen.contains("[searcher output]"), "the context it was given:\n{screen}");
    assert!(!screen.contains("HTTP"), "{screen}");
    key(&mut app, KeyCode::Char('G'));
    let screen = text(&frame(&mut app));
    assert!(screen.contains("Usage — from the run's figures"), "{screen}");
    // Other keys wait while it is open; Esc closes it.
    let before = app.selected;
    key(&mut app, KeyCode::Char('l'));
    assert_eq!(app.selected, before);
    key(&mut app, KeyCode::Esc);
    assert!(!app.inspect);
}
