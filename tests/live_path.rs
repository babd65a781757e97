//! The live path billed exactly: each defect a user paying real money found, against a
//! scripted server on 127.0.0.1. Every test here failed before its fix.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use baton::diag::Source;
use baton::event::{Event, RunEvent};
use baton::money::Money;
use baton::routing::{Catalog, Strategy, Usage};
use baton::state::Status;
use common::server::{Reply, Server, transcript};
use common::*;

const ONE: &str = r#"
[flow]
name = "one"
input = "hello"

[[node]]
id = "a"
kind = "generate"
complexity = 2
prompt = "node a: {{input}}"
"#;

const THREE: &str = r#"
[flow]
name = "three"
input = "hello"

[[node]]
id = "a"
kind = "generate"
complexity = 2
prompt = "node a"

[[node]]
id = "b"
kind = "generate"
complexity = 2
prompt = "node b"

[[node]]
id = "c"
kind = "generate"
complexity = 2
prompt = "node c"
"#;

fn base(server: &Server, provider: &str) -> String {
    match provider {
        "gemini" => format!("{}/v1beta", server.url()),
        _ => format!("{}/v1", server.url()),
    }
}

/// m1 and m2 of `provider` at `server`, $1/M input, $4/M output, $0.10/M cache read, $1.25/M
/// cache write; `extra` goes first (limits, say).
fn catalog_text(server: &Server, provider: &str, key_env: &str, extra: &str) -> String {
    let mut text = extra.to_string();
    for id in ["m1", "m2"] {
        text.push_str(&format!(
            "[[model]]\nid = \"{id}\"\nprovider = \"{provider}\"\napi_model = \"{id}-api\"\nbase_url = \"{}\"\nkey_env = \"{key_env}\"\ninput_per_mtok = 1.0\noutput_per_mtok = 4.0\ncached_input_per_mtok = 0.1\ncache_write_per_mtok = 1.25\ncontext_window = 100000\n\n",
            base(server, provider)
        ));
    }
    text
}

fn catalog(server: &Server, provider: &str, extra: &str) -> Arc<Catalog> {
    let text = catalog_text(server, provider, "", extra);
    Arc::new(Catalog::parse(&Source::new("test-catalog.toml", text), Some(&Catalog::builtin())).expect("catalog").0)
}

fn strategy_for(cat: &Catalog, schedule: &str, retry: &str) -> Arc<Strategy> {
    let text = format!(
        "[strategy]\nname = \"t\"\ndefault_model = \"m1\"\nfallbacks = [\"m2\"]\nschedule = \"{schedule}\"\n\n[retry]\nbackoff_ms = 20\nmax_backoff_ms = 100\n{retry}\n"
    );
    Arc::new(Strategy::parse(&Source::new("test-strategy.toml", text), cat).expect("strategy").0)
}

fn named<'a>(events: &'a [RunEvent], name: &str) -> Vec<&'a Event> {
    events.iter().filter(|e| e.kind.name() == name).map(|e| &e.kind).collect()
}

fn money(input: u64, cached: u64, cache_write: u64, output: u64) -> Money {
    Money::from_usd(input as f64 * 1e-6 + cached as f64 * 0.1e-6 + cache_write as f64 * 1.25e-6 + output as f64 * 4e-6)
}

/// A scratch directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("live-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn baton(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_baton"));
    c.args(args).env("BATON_DATA_DIR", dir).env("BATON_CONFIG_DIR", dir).env_remove("NO_COLOR");
    // Built-in catalog entries must never be called from a test: without their keys they are
    // reported, not contacted.
    for k in ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"] {
        c.env_remove(k);
    }
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("runs")
}

/// A strategy that routes everything to m1 (never to a built-in model, which would need the
/// network).
fn only_m1(dir: &Path) -> String {
    let p = dir.join("only-m1.toml");
    std::fs::write(&p, "[strategy]\nname = \"only-m1\"\ndefault_model = \"m1\"\n[retry]\nmax_attempts = 1\n").expect("strategy");
    p.display().to_string()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// Defect 1: LiteLLM's /v1/messages, byte for byte in shape: `message_start` says input_tokens 0; the
/// real input and cache counts come in `message_delta`, whose usage is cumulative.
const LITELLM_ANTHROPIC: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m1-api\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" there\"}}\n\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":1200,\"cache_read_input_tokens\":800,\"cache_creation_input_tokens\":300,\"output_tokens\":42}}\n\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\n";

#[test]
fn anthropic_usage_is_taken_from_the_latest_event_that_carries_each_field() {
    // Both shapes: LiteLLM's (counts in message_delta) and Anthropic's own (in message_start,
    // with message_delta repeating only output_tokens).
    let server = Server::queue(vec![Reply::sse(LITELLM_ANTHROPIC), Reply::sse(transcript::anthropic(&["Hi"], 25, 15, 2000, 1000))], |_| {
        Reply::status(500, "{}")
    });
    let cat = catalog(&server, "anthropic", "");
    let two = format!("{ONE}\n[[node]]\nid = \"b\"\nkind = \"generate\"\ncomplexity = 2\nprompt = \"b\"\nafter = [\"a\"]\n");
    let (_, st) = live(&two, cat.clone(), strategy_for(&cat, "sequential", ""));
    let a = unit(&st, "a");
    assert_eq!(a.output(), "Hello there");
    assert_eq!(a.usage, Usage { input: 1200, cached: 800, cache_write: 300, output: 42, reasoning: 0 });
    assert_eq!(a.cost.total(), money(1200, 800, 300, 42));
    let b = unit(&st, "b");
    assert_eq!(b.usage, Usage { input: 25, cached: 2000, cache_write: 1000, output: 15, reasoning: 0 });
    assert_eq!(st.totals.cost.total(), money(1225, 2800, 1300, 57));
}

/// Defect 3: Waiting for a slot is not waiting for a token: with one slot and a model slower than
/// half the first-token timeout, the queued calls used to time out before they were sent,
/// retry, and bill the server twice.
#[test]
fn time_queued_for_a_slot_never_times_a_call_out() {
    let slow = || Reply::sse_slow(vec![(Duration::from_millis(700), transcript::openai(&["ok"], 10, 2, 0, 0))]);
    let server = Server::func(move |_| slow());
    let cat = catalog(&server, "openai", "[provider.openai]\nmax_concurrent = 1\n\n");
    let strategy = strategy_for(&cat, "parallel", "first_token_timeout_ms = 1000\nidle_timeout_ms = 1000\n");
    let (events, st) = live(THREE, cat, strategy);
    assert_eq!(server.requests().len(), 3, "each node called once: {:?}", named(&events, "node_retry"));
    assert!(named(&events, "node_retry").is_empty());
    for id in ["a", "b", "c"] {
        assert_eq!(unit(&st, id).status, Status::Done, "{id}");
    }
    // Two of the three waited for the slot, and it shows.
    let waited: Vec<&baton::state::UnitState> = st.units.iter().filter(|u| u.queued > Duration::ZERO).collect();
    assert_eq!(waited.len(), 2, "{:?}", st.units.iter().map(|u| u.queued).collect::<Vec<_>>());
    assert!(waited.iter().any(|u| u.queued >= Duration::from_millis(1300)));
    assert_eq!(named(&events, "node_waiting").len(), 2);
    // A call's time to first token counts from when it was sent.
    assert!(st.units.iter().all(|u| u.ttft.is_some_and(|t| t < Duration::from_millis(1000))));
}

/// Defect 4: A stream cut before the model finished is a failure: retried, its partial text never
/// kept, and what it streamed billed to the attempt as an estimate.
#[test]
fn a_stream_that_ends_early_is_retried_and_its_tokens_billed_as_an_estimate() {
    let cut = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Partial answer that\"},\"finish_reason\":null}]}\n\n";
    let server = Server::queue(vec![Reply::sse(cut)], |_| Reply::sse(transcript::openai(&["Whole answer."], 10, 3, 0, 0)));
    let cat = catalog(&server, "openai", "");
    let (events, st) = live(ONE, cat.clone(), strategy_for(&cat, "sequential", ""));
    let a = unit(&st, "a");
    assert_eq!(a.output(), "Whole answer.");
    assert_eq!(server.requests().len(), 2);
    let retries = named(&events, "node_retry");
    assert!(matches!(retries[0], Event::NodeRetry { error, .. } if error.contains("ended before the model finished")), "{retries:?}");
    let billed = named(&events, "node_billed");
    let Event::NodeBilled { usage, estimated: true, .. } = billed[0] else { panic!("{billed:?}") };
    assert!(usage.output > 0 && usage.input > 0, "{usage:?}");
    // The node's cost is both attempts; the kept usage is the good one's.
    assert_eq!(a.usage, Usage { input: 10, output: 3, ..Usage::default() });
    assert_eq!(a.cost.total(), money(10, 0, 0, 3) + money(usage.input, 0, 0, usage.output));
    assert!(a.billed_estimated && !a.estimated);
    assert_eq!(st.totals.cost.total(), a.cost.total());

    // Anthropic: message_start's usage before the cut is the provider's own count.
    let start = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":70,\"output_tokens\":1}}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hal\"}}\n\n";
    let server = Server::queue(vec![Reply::sse(start)], |_| Reply::sse(transcript::anthropic(&["Done."], 70, 5, 0, 0)));
    let cat = catalog(&server, "anthropic", "");
    let (events, st) = live(ONE, cat.clone(), strategy_for(&cat, "sequential", ""));
    let billed = named(&events, "node_billed");
    assert!(matches!(billed[0], Event::NodeBilled { usage: Usage { input: 70, output: 1, .. }, estimated: false, .. }), "{billed:?}");
    assert_eq!(unit(&st, "a").output(), "Done.");

    // Gemini without a finishReason.
    let gem = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hal\"}],\"role\":\"model\"},\"index\":0}]}\r\n\r\n";
    let server = Server::queue(vec![Reply::sse(gem)], |_| Reply::sse(transcript::gemini(&["Done."], 20, 4, 0, 0)));
    let cat = catalog(&server, "gemini", "");
    let (_, st) = live(ONE, cat.clone(), strategy_for(&cat, "sequential", ""));
    assert_eq!(server.requests().len(), 2);
    assert_eq!(unit(&st, "a").output(), "Done.");
}

/// Defect 5: Once the answer and its usage are in, a connection reset loses nothing: no retry, no
/// second bill.
#[test]
fn a_reset_after_the_usage_arrived_is_not_retried() {
    let mut body = transcript::openai(&["Complete."], 40, 6, 0, 0);
    body = body.replace("data: [DONE]\n\n", "");
    let mut reply = Reply::sse(body);
    reply.reset = true;
    let server = Server::queue(vec![reply], |_| Reply::sse(transcript::openai(&["Again"], 40, 6, 0, 0)));
    let cat = catalog(&server, "openai", "");
    let (events, st) = live(ONE, cat.clone(), strategy_for(&cat, "sequential", ""));
    assert_eq!(server.requests().len(), 1);
    assert!(named(&events, "node_retry").is_empty() && named(&events, "node_billed").is_empty());
    let a = unit(&st, "a");
    assert_eq!(a.output(), "Complete.");
    assert_eq!(a.cost.total(), money(40, 0, 0, 6));
}

/// A failed try the provider billed (usage came, then an error event) is in the node's cost.
#[test]
fn every_billed_attempt_is_in_the_total() {
    let err = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":null}]}\n\n\
data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n";
    let server = Server::queue(vec![Reply::sse(err), Reply::sse(err)], |_| Reply::sse(transcript::openai(&["fine"], 30, 2, 0, 0)));
    let cat = catalog(&server, "openai", "");
    let (events, st) = live(ONE, cat.clone(), strategy_for(&cat, "sequential", "max_attempts = 3\n"));
    assert_eq!(server.requests().len(), 3);
    let billed: Money = named(&events, "node_billed")
        .iter()
        .map(|e| match e {
            Event::NodeBilled { usage, .. } => money(usage.input, usage.cached, usage.cache_write, usage.output),
            _ => Money::ZERO,
        })
        .sum();
    assert_eq!(named(&events, "node_billed").len(), 2);
    assert_eq!(st.totals.cost.total(), money(30, 0, 0, 2) + billed);
}

/// Defect 9: The provider's own words: an SSE error event in an error body, and a closed port.
#[test]
fn errors_say_what_happened_in_words_a_person_can_act_on() {
    let sse_503 = Reply {
        status: 503,
        headers: vec![("Content-Type".into(), "text/event-stream".into())],
        pieces: vec![(
            Duration::ZERO,
            b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded, try later\"}}\n\n"
                .to_vec(),
        )],
        reset: false,
        stall: None,
    };
    let server = Server::func(move |_| sse_503.clone());
    let cat = catalog(&server, "anthropic", "");
    let (events, _) = live(ONE, cat.clone(), strategy_for(&cat, "sequential", "max_attempts = 1\n"));
    let failed = named(&events, "node_failed");
    assert!(
        matches!(failed[0], Event::NodeFailed { error, .. } if error.contains("503") && error.contains("Overloaded, try later") && !error.contains("data:")),
        "{failed:?}"
    );

    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let text = format!(
        "[[model]]\nid = \"m1\"\nprovider = \"openai\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\nkey_env = \"\"\ninput_per_mtok = 1\noutput_per_mtok = 1\ncontext_window = 10000\n"
    );
    let cat = Arc::new(Catalog::parse(&Source::new("c.toml", text), Some(&Catalog::builtin())).expect("catalog").0);
    let s = Arc::new(
        Strategy::parse(&Source::new("s.toml", "[strategy]\nname = \"t\"\ndefault_model = \"m1\"\n[retry]\nmax_attempts = 1\n"), &cat)
            .expect("strategy")
            .0,
    );
    let (events, _) = live(ONE, cat, s);
    let failed = named(&events, "node_failed");
    let want = format!("connection refused: http://127.0.0.1:{port}/v1 — is the server running?");
    assert!(matches!(failed[0], Event::NodeFailed { error, .. } if error.contains(&want)), "{failed:?}");
}

const HOSTILE: &str = "\u{1b}]52;c;aGFja2Vk\u{07}\u{1b}[2J\u{1b}]0;pwned\u{07}bad things";

/// Defects 6 and 7: Escape sequences from a server never reach a terminal, in any output path; a key
/// a server echoes is redacted everywhere it could be kept or shown.
#[test]
fn hostile_error_text_and_echoed_keys_never_reach_a_terminal_or_a_file() {
    const SECRET: &str = "sk-live-path-ECHOED-9876";
    let body = format!(
        "{{\"error\":{{\"message\":\"{} Incorrect API key provided: {SECRET}\"}}}}",
        HOSTILE.replace('\u{1b}', "\\u001b").replace('\u{07}', "\\u0007")
    );
    let server = Server::func(move |_| Reply::status(401, &body));
    let dir = scratch("hostile");
    let cat = dir.join("catalog.toml");
    std::fs::write(&cat, catalog_text(&server, "openai", "BATON_ECHO_KEY", "")).expect("catalog");
    let flow_path = dir.join("one.toml");
    std::fs::write(&flow_path, ONE).expect("flow");
    let rec = dir.join("run.jsonl");
    let strat = only_m1(&dir);
    let env = [("BATON_ECHO_KEY", SECRET)];
    let (f, c, r, s) = (flow_path.to_str().expect("utf8"), cat.to_str().expect("utf8"), rec.to_str().expect("utf8"), strat.as_str());
    let mut outs = Vec::new();
    for args in [
        vec!["run", f, "-s", s, "--live", "--catalog", c, "--record", r],
        vec!["run", f, "-s", s, "--live", "--catalog", c, "--no-record", "--format", "json"],
        vec!["replay", r, "--summary"],
        vec!["replay", r, "--summary", "--format", "json"],
        vec!["doctor", "--check", "--catalog", c, "--strategy", s],
    ] {
        let o = baton(&dir, &args, &env);
        outs.push((args.join(" "), text(&o.stdout), text(&o.stderr)));
    }
    assert!(server.requests().iter().any(|r| r.header("authorization") == Some(&format!("Bearer {SECRET}"))), "the key was sent");
    for (cmd, out, err) in &outs {
        for (what, s) in [("stdout", out), ("stderr", err)] {
            assert!(!s.contains('\u{1b}') && !s.contains('\u{07}'), "{cmd} {what} carries a raw escape: {s:?}");
            assert!(!s.contains(SECRET), "{cmd} {what} leaks the key: {s}");
        }
    }
    // The table still says what went wrong, the key redacted.
    assert!(outs[0].1.contains("bad things") || outs[0].2.contains("bad things"), "{outs:?}");
    assert!(outs[0].1.contains("[redacted]") || outs[0].2.contains("[redacted]"), "{outs:?}");
    // JSON keeps the control characters, escaped by the encoder, and stays valid.
    let v: serde_json::Value = serde_json::from_str(&outs[1].1).expect("valid JSON");
    assert!(v.to_string().contains("bad things"));
    let recording = std::fs::read_to_string(&rec).expect("recording");
    assert!(!recording.contains(SECRET) && recording.contains("[redacted]"));
    assert!(!recording.contains('\u{1b}'), "raw ESC in the recording");
}

/// Defect 8: doctor --check tells a good key from a bad one and an unreachable server, and says so
/// in its exit status.
#[test]
fn doctor_check_calls_each_provider_with_its_key() {
    const GOOD: &str = "sk-doctor-good-123456";
    let server = Server::func(|seen| {
        let ok = seen.header("authorization") == Some(&format!("Bearer {GOOD}"))
            || seen.header("x-api-key") == Some(GOOD)
            || seen.header("x-goog-api-key") == Some(GOOD);
        if ok { Reply::status(200, "{\"data\":[]}") } else { Reply::status(401, "{\"error\":{\"message\":\"invalid x-api-key\"}}") }
    });
    let dir = scratch("doctor");
    let cat = dir.join("catalog.toml");
    let mut text = String::new();
    for p in ["openai", "anthropic", "gemini"] {
        text.push_str(&catalog_text(&server, p, "BATON_DOCTOR_KEY", "").replace("id = \"m", &format!("id = \"{p}-m")));
    }
    std::fs::write(&cat, &text).expect("catalog");
    let c = cat.to_str().expect("utf8");
    // The strategy routes to one model of each kind: only their servers are checked.
    let strat = dir.join("all-three.toml");
    std::fs::write(
        &strat,
        "[strategy]\nname = \"all-three\"\ndefault_model = \"openai-m1\"\nfallbacks = [\"anthropic-m1\", \"gemini-m1\"]\n",
    )
    .expect("strategy");
    let s = strat.to_str().expect("utf8");
    let good = baton(&dir, &["doctor", "--check", "--catalog", c, "--strategy", s], &[("BATON_DOCTOR_KEY", GOOD)]);
    let out = text_of(&good);
    assert_eq!(good.status.code(), Some(0), "{out}");
    assert_eq!(out.matches(" ok").count(), 3, "{out}");
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.contains(&"/v1/models".to_string()) && paths.contains(&"/v1beta/models".to_string()), "{paths:?}");
    assert!(server.requests().iter().any(|r| r.header("anthropic-version").is_some()));

    let bad = baton(&dir, &["doctor", "--check", "--catalog", c, "--strategy", s], &[("BATON_DOCTOR_KEY", "sk-doctor-wrong-000000")]);
    let out = text_of(&bad);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    assert!(out.contains("key rejected (401, variable BATON_DOCTOR_KEY)"), "{out}");

    // Unreachable: a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let far = dir.join("far.toml");
    std::fs::write(&far, format!("[[model]]\nid = \"far\"\nprovider = \"openai\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\nkey_env = \"\"\ninput_per_mtok = 1\noutput_per_mtok = 1\ncontext_window = 1000\n")).expect("write");
    // Only this catalog's servers matter here: the built-in entries need keys this test has
    // not set, so they are "key missing" and count as not ok too.
    let o = baton(&dir, &["doctor", "--check", "--catalog", far.to_str().expect("utf8")], &[]);
    let out = text_of(&o);
    assert_ne!(o.status.code(), Some(0));
    assert!(out.contains(&format!("unreachable (connection refused: http://127.0.0.1:{port}/v1")), "{out}");
}

fn text_of(o: &Output) -> String {
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

/// Defects 2 and 11: A live compare calls the real providers for every strategy, says it is live in
/// every format, and prints its estimate first; --dry-run calls nothing.
#[test]
fn compare_live_calls_the_providers_and_says_so() {
    let server = Server::func(|_| Reply::sse(transcript::openai(&["fine"], 30, 2, 0, 0)));
    let dir = scratch("compare");
    let cat = dir.join("catalog.toml");
    std::fs::write(&cat, catalog_text(&server, "openai", "", "")).expect("catalog");
    let flow_path = dir.join("three.toml");
    std::fs::write(&flow_path, THREE).expect("flow");
    for (name, model) in [("s1", "m1"), ("s2", "m2")] {
        std::fs::write(
            dir.join(format!("{name}.toml")),
            format!("[strategy]\nname = \"{name}\"\ndefault_model = \"{model}\"\nbudget_usd = 0.0000001\n"),
        )
        .expect("strategy");
    }
    let (f, c) = (flow_path.to_str().expect("utf8"), cat.to_str().expect("utf8"));
    let s1 = dir.join("s1.toml");
    let s2 = dir.join("s2.toml");
    let (s1, s2) = (s1.to_str().expect("utf8"), s2.to_str().expect("utf8"));

    let dry = baton(&dir, &["compare", f, "-s", s1, "-s", s2, "--live", "--catalog", c, "--dry-run"], &[]);
    assert_eq!(dry.status.code(), Some(0), "{}", text_of(&dry));
    assert!(server.requests().is_empty(), "a dry run calls nothing");
    let out = text(&dry.stdout);
    assert!(out.contains("dry run of three under s1") && out.contains("m2") && out.contains("EXCEEDS"), "{out}");

    // Without a budget the three nodes run under both strategies: six calls.
    for name in ["s1", "s2"] {
        let p = dir.join(format!("{name}.toml"));
        let t = std::fs::read_to_string(&p).expect("read").replace("budget_usd = 0.0000001\n", "");
        std::fs::write(&p, t).expect("write");
    }
    for (format, want) in [("json", "\"provider\": \"live\""), ("table", "three · live"), ("csv", ",live"), ("markdown", "live)")] {
        let before = server.requests().len();
        let o = baton(&dir, &["compare", f, "-s", s1, "-s", s2, "--live", "--catalog", c, "--format", format], &[]);
        assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
        assert_eq!(server.requests().len() - before, 6, "every node of both strategies called");
        assert!(text(&o.stdout).contains(want), "{format}: {}", text(&o.stdout));
        assert!(text(&o.stderr).contains("estimate for three under s1"), "{}", text(&o.stderr));
    }
    let models: Vec<String> = server
        .requests()
        .iter()
        .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.body).ok()?.get("model")?.as_str().map(String::from))
        .collect();
    assert!(models.contains(&"m1-api".to_string()) && models.contains(&"m2-api".to_string()));

    let sim = baton(&dir, &["compare", "research-assistant", "-s", "naive", "-s", "smart", "--format", "json"], &[]);
    assert!(text(&sim.stdout).contains("\"provider\": \"simulated\""));
}

/// Defect 11: A live run says what it will cost before its first call, and when that exceeds the
/// budget.
#[test]
fn a_live_run_prints_its_estimate_before_calling() {
    let server = Server::func(|_| Reply::sse(transcript::openai(&["fine"], 30, 2, 0, 0)));
    let dir = scratch("estimate");
    let cat = dir.join("catalog.toml");
    std::fs::write(&cat, catalog_text(&server, "openai", "", "")).expect("catalog");
    let flow_path = dir.join("three.toml");
    std::fs::write(&flow_path, THREE).expect("flow");
    let strat = dir.join("tight.toml");
    std::fs::write(&strat, "[strategy]\nname = \"tight\"\ndefault_model = \"m1\"\nbudget_usd = 0.0000001\n").expect("strategy");
    let args = [
        "run",
        flow_path.to_str().expect("utf8"),
        "-s",
        strat.to_str().expect("utf8"),
        "--catalog",
        cat.to_str().expect("utf8"),
        "--live",
        "--no-record",
    ];
    let dry = baton(&dir, &[&args[..], &["--dry-run", "--format", "json"]].concat(), &[]);
    assert!(server.requests().is_empty());
    let v: serde_json::Value = serde_json::from_str(&text(&dry.stdout)).expect("json");
    assert_eq!(v["calls"].as_array().map(Vec::len), Some(3), "{v}");
    assert!(v["expected_usd"].as_f64().is_some_and(|x| x > 0.0));
    let o = baton(&dir, &args, &[]);
    assert!(text(&o.stderr).contains("exceeds the strategy's budget"), "{}", text(&o.stderr));
}

/// Defect 10: Ctrl-C in a headless run: calls in flight are cancelled, the recording ends
/// `cancelled`, the summary of what finished is printed, and the exit status is 130.
#[test]
fn ctrl_c_prints_the_summary_and_exits_130() {
    let server = Server::func(|seen| {
        if seen.body.contains("node a") {
            Reply::sse(transcript::openai(&["quick"], 10, 2, 0, 0))
        } else {
            Reply::sse_slow(vec![(Duration::from_secs(30), transcript::openai(&["slow"], 10, 2, 0, 0))])
        }
    });
    let dir = scratch("ctrlc");
    let cat = dir.join("catalog.toml");
    std::fs::write(&cat, catalog_text(&server, "openai", "", "")).expect("catalog");
    let flow_path = dir.join("three.toml");
    std::fs::write(&flow_path, THREE).expect("flow");
    let rec = dir.join("run.jsonl");
    let strat = only_m1(&dir);
    let child = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["run", flow_path.to_str().expect("utf8"), "-s", &strat, "--live", "--catalog", cat.to_str().expect("utf8"), "--record"])
        .arg(&rec)
        .env("BATON_DATA_DIR", &dir)
        .env("BATON_CONFIG_DIR", &dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait until all three calls are in flight (bounded).
    for _ in 0..200 {
        if server.requests().len() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    std::thread::sleep(Duration::from_millis(200));
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("waits");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(stdout.contains("cancelled") && stdout.contains("done"), "{stdout}");
    let last = std::fs::read_to_string(&rec).expect("recording").lines().last().unwrap_or_default().to_string();
    assert!(last.contains("\"run_finished\"") && last.contains("cancelled"), "{last}");
}

/// Acceptance: a live run and a live compare of research-assistant through a local
/// OpenAI-compatible server and an Anthropic-compatible one: per-node tokens are the servers'
/// usage, cost is tokens × catalog prices, the total is the sum over billed tries.
#[test]
fn research_assistant_live_run_and_compare_bill_what_the_servers_report() {
    let answer = |seen: &common::server::Seen| -> Vec<String> {
        if seen.body.contains("research planner") {
            vec!["[\"q1\", \"q2\"]".into()]
        } else {
            vec!["Evidence: solid. Source: https://x.test References. VERDICT: answerable".into()]
        }
    };
    let openai = Server::func(move |seen| {
        let t = answer(seen);
        Reply::sse(transcript::openai(&t.iter().map(String::as_str).collect::<Vec<_>>(), 120, 30, 20, 0))
    });
    let anthropic = Server::func(move |seen| {
        let t = answer(seen);
        Reply::sse(transcript::anthropic(&t.iter().map(String::as_str).collect::<Vec<_>>(), 90, 25, 40, 10))
    });
    let dir = scratch("ra-live");
    let builtin = Catalog::builtin();
    let mut cat_text = String::new();
    for m in &builtin.models {
        let (kind, url) = if m.provider.name() == "anthropic" { ("anthropic", anthropic.url()) } else { ("openai", openai.url()) };
        cat_text.push_str(&format!("[[model]]\nid = \"{}\"\nprovider = \"{kind}\"\nbase_url = \"{url}/v1\"\nkey_env = \"\"\n\n", m.id));
    }
    let cat = dir.join("catalog.toml");
    std::fs::write(&cat, cat_text).expect("catalog");
    let c = cat.to_str().expect("utf8");
    // OpenAI counts cached tokens inside prompt_tokens; Anthropic apart from input_tokens.
    let usage_of = |model: &str| {
        if builtin.get(model).is_some_and(|m| m.provider.name() == "anthropic") {
            Usage { input: 90, cached: 40, cache_write: 10, output: 25, reasoning: 0 }
        } else {
            Usage { input: 100, cached: 20, cache_write: 0, output: 30, reasoning: 0 }
        }
    };
    let check_nodes = |nodes: &serde_json::Value| -> f64 {
        let mut sum = 0.0;
        for n in nodes.as_array().expect("nodes") {
            let Some(model) = n["model"].as_str() else { continue };
            let want = usage_of(model);
            let tokens: Usage = serde_json::from_value(n["tokens"].clone()).expect("tokens");
            assert_eq!(tokens, want, "{}: tokens are the server's usage", n["id"]);
            let cost = builtin.cost(model, &want).total().usd();
            assert!((n["cost_usd"].as_f64().expect("cost") - cost).abs() < 1e-12, "{}: {} vs {cost}", n["id"], n["cost_usd"]);
            sum += cost;
        }
        sum
    };
    let run = baton(&dir, &["run", "research-assistant", "-s", "smart", "--live", "--catalog", c, "--format", "json", "--no-record"], &[]);
    let v: serde_json::Value = serde_json::from_str(&text(&run.stdout)).unwrap_or_else(|e| panic!("{e}: {}", text_of(&run)));
    assert_eq!(v["status"], "completed", "{v}");
    let sum = check_nodes(&v["nodes"]);
    assert!((v["totals"]["cost_usd"].as_f64().expect("total") - sum).abs() < 1e-12);
    let calls = openai.requests().len() + anthropic.requests().len();
    assert_eq!(calls, v["nodes"].as_array().map_or(0, |n| n.iter().filter(|n| n["model"].is_string()).count()));
    assert!(!openai.requests().is_empty() && !anthropic.requests().is_empty(), "both kinds served");

    let cmp =
        baton(&dir, &["compare", "research-assistant", "-s", "naive", "-s", "smart", "--live", "--catalog", c, "--format", "json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&text(&cmp.stdout)).unwrap_or_else(|e| panic!("{e}: {}", text_of(&cmp)));
    assert_eq!(v["provider"], "live");
    for (k, side) in v["strategies"].as_array().expect("sides").iter().enumerate() {
        let node_sum: f64 = v["nodes"].as_array().expect("nodes").iter().map(|n| n["sides"][k]["cost_usd"].as_f64().unwrap_or(0.0)).sum();
        assert!((side["cost_usd"].as_f64().expect("cost") - node_sum).abs() < 1e-9, "{side}");
    }
}
