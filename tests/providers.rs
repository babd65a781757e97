//! Real providers against a scripted server on 127.0.0.1: every stream variant and fault the
//! issue lists, the usage each protocol reports turned into exact money, cooldowns, and keys
//! that never leak.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use baton::diag::Source;
use baton::engine::{RunSpec, run_blocking};
use baton::event::{Event, RunEvent};
use baton::money::Money;
use baton::provider::Providers;
use baton::routing::{Catalog, Strategy, Usage};
use baton::state::{RunState, Status};
use common::server::{Reply, Server, transcript};
use common::*;

const FLOW: &str = r#"
[flow]
name = "two"
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
prompt = "node b"
after = ["a"]

[[node]]
id = "c"
kind = "generate"
complexity = 2
prompt = "node c: {{input}}"
"#;

fn key_file(secret: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "key-{}-{}",
        std::process::id(),
        baton::provider::rng::hash_str(secret)
    ));
    std::fs::write(&p, secret).expect("key file");
    p.display().to_string()
}

/// Two models (m1, m2) of `provider` served by `server`.
fn catalog(server: &Server, provider: &str, key: Option<&str>, extra: &str) -> Arc<Catalog> {
    let base = match provider {
        "gemini" => format!("{}/v1beta", server.url()),
        _ => format!("{}/v1", server.url()),
    };
    let key_line = match key {
        Some(k) => format!("key_env = \"BATON_TEST_KEY\"\nkey_file = \"{}\"\n", key_file(k)),
        None => "key_env = \"\"\n".to_string(),
    };
    let mut text = extra.to_string();
    for id in ["m1", "m2"] {
        text.push_str(&format!(
            "[[model]]\nid = \"{id}\"\nprovider = \"{provider}\"\napi_model = \"{id}-api\"\nbase_url = \"{base}\"\n{key_line}input_per_mtok = 1.0\noutput_per_mtok = 4.0\ncached_input_per_mtok = 0.1\ncache_write_per_mtok = 1.25\ncontext_window = 100000\n\n"
        ));
    }
    Arc::new(Catalog::parse(&Source::new("test-catalog.toml", text), Some(&Catalog::builtin())).expect("catalog").0)
}

fn strategy_for(cat: &Catalog, extra: &str) -> Arc<Strategy> {
    let text = format!(
        "[strategy]\nname = \"t\"\ndefault_model = \"m1\"\nfallbacks = [\"m2\"]\nschedule = \"sequential\"\n{extra}\n[retry]\nbackoff_ms = 20\nmax_backoff_ms = 100\nfirst_token_timeout_ms = 2000\nidle_timeout_ms = 400\n"
    );
    Arc::new(Strategy::parse(&Source::new("test-strategy.toml", text), cat).expect("strategy").0)
}

fn ok_openai() -> Reply {
    Reply::sse(transcript::openai(&["Hel", "lo"], 120, 30, 20, 5))
}

#[test]
fn openai_stream_variants_and_exact_money() {
    // Keep-alive comments, CRLF, a usage chunk with empty choices, [DONE]; then a usage chunk
    // without `choices` at all and no [DONE].
    let no_done =
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: {\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2}}\n\n";
    let server = Server::queue(vec![ok_openai(), Reply::sse(no_done)], |_| ok_openai());
    let cat = catalog(&server, "openai", None, "");
    let (_, st) = live(FLOW, cat.clone(), strategy_for(&cat, ""));
    let a = unit(&st, "a");
    assert_eq!(a.status, Status::Done);
    assert_eq!(a.output(), "Hello");
    assert!(!a.estimated);
    assert_eq!(a.usage, Usage { input: 100, cached: 20, cache_write: 0, output: 30, reasoning: 5 });
    // 100 × $1/M + 20 × $0.10/M + 30 × $4/M
    assert_eq!(a.cost.total(), Money::from_usd(100e-6 + 20.0 * 0.1e-6 + 30.0 * 4e-6));
    let b = unit(&st, "b");
    assert_eq!(b.output(), "Hi");
    assert_eq!(b.usage, Usage { input: 10, output: 2, ..Usage::default() });
    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1/chat/completions");
    assert!(
        req.body.contains("\"stream\":true") && req.body.contains("\"include_usage\":true") && req.body.contains("\"max_tokens\""),
        "{}",
        req.body
    );
    assert!(req.body.contains("m1-api"));
    assert!(req.header("authorization").is_none(), "a keyless local server gets no key");
}

#[test]
fn anthropic_and_gemini_streams_report_their_usage() {
    let server = Server::func(|_| Reply::sse(transcript::anthropic(&["Hello", "!"], 25, 15, 2000, 1000)));
    let cat = catalog(&server, "anthropic", Some("sk-ant-test"), "");
    let (_, st) = live(FLOW, cat.clone(), strategy_for(&cat, ""));
    let a = unit(&st, "a");
    assert_eq!(a.output(), "Hello!");
    assert_eq!(a.usage, Usage { input: 25, cached: 2000, cache_write: 1000, output: 15, reasoning: 0 });
    assert_eq!(a.cost.total(), Money::from_usd(25e-6 + 2000.0 * 0.1e-6 + 1000.0 * 1.25e-6 + 15.0 * 4e-6));
    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1/messages");
    assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(req.header("x-api-key"), Some("sk-ant-test"));

    let server = Server::func(|_| Reply::sse(transcript::gemini(&["Hel", "lo"], 1200, 40, 1000, 100)));
    let cat = catalog(&server, "gemini", Some("g-test"), "");
    let (_, st) = live(FLOW, cat.clone(), strategy_for(&cat, ""));
    let a = unit(&st, "a");
    assert_eq!(a.output(), "Hello");
    assert_eq!(a.usage, Usage { input: 200, cached: 1000, cache_write: 0, output: 140, reasoning: 100 });
    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1beta/models/m1-api:streamGenerateContent?alt=sse");
    assert_eq!(req.header("x-goog-api-key"), Some("g-test"));
}

/// Replies for m1 from `m1`, in order (then success); m2 always succeeds.
fn by_model(m1: Vec<Reply>) -> (Server, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let q = std::sync::Mutex::new(std::collections::VecDeque::from(m1));
    let server = Server::func(move |seen| {
        if seen.body.contains("\"m1-api\"") {
            c.fetch_add(1, Ordering::SeqCst);
            if let Some(r) = q.lock().expect("lock").pop_front() {
                return r;
            }
        }
        Reply::sse(transcript::openai(&["ok"], 10, 1, 0, 0))
    });
    (server, calls)
}

fn events_of(events: &[RunEvent], name: &str) -> Vec<Event> {
    events.iter().filter(|e| e.kind.name() == name).map(|e| e.kind.clone()).collect()
}

#[test]
fn rate_limits_are_retried_after_retry_after() {
    let (server, _) = by_model(vec![
        Reply::status(429, r#"{"error":{"message":"slow down"}}"#).header("retry-after-ms", "150"),
        Reply::status(429, "{}"),
    ]);
    let cat = catalog(&server, "openai", None, "");
    let (events, st) = live(FLOW, cat.clone(), strategy_for(&cat, ""));
    let retries = events_of(&events, "node_retry");
    assert_eq!(retries.len(), 2);
    let Event::NodeRetry { backoff, error, .. } = &retries[0] else { panic!() };
    assert!(*backoff >= Duration::from_millis(150), "Retry-After honoured: {backoff:?}");
    assert!(error.contains("429"));
    assert_eq!(unit(&st, "a").status, Status::Done);
    assert_eq!(unit(&st, "a").model.as_deref(), Some("m1"));
}

#[test]
fn server_errors_exhaust_retries_then_fall_back() {
    let (server, calls) = by_model(vec![Reply::status(500, "boom"), Reply::status(503, "overloaded"), Reply::status(503, "overloaded")]);
    let cat = catalog(&server, "openai", None, "");
    let (events, st) = live(FLOW, cat.clone(), strategy_for(&cat, ""));
    assert_eq!(calls.load(Ordering::SeqCst), 5, "3 tries for a, then b and c succeed on m1");
    let fb = events_of(&events, "node_fallback");
    assert!(
        matches!(&fb[0], Event::NodeFallback { from, to, reason, .. } if from == "m1" && to == "m2" && reason.contains("3 tries failed"))
    );
    assert_eq!(unit(&st, "a").model.as_deref(), Some("m2"));
    assert_eq!(unit(&st, "a").output(), "ok");
}

#[test]
fn resets_stalls_and_malformed_chunks_are_retried_without_losing_output() {
    let partial = "data: {\"choices\":[{\"delta\":{\"content\":\"PARTIAL\"}}]}\n\n";
    let mut reset = Reply::sse(partial);
    reset.reset = true;
    let mut stall = Reply::sse(partial);
    stall.stall = Some(Duration::from_secs(3));
    let malformed = Reply::sse("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}\n\ndata: {not json}\n\n");
    let in_stream_error = Reply::sse("data: {\"error\":{\"message\":\"upstream overloaded\",\"type\":\"server_error\"}}\n\n");
    let (server, _) = by_model(vec![reset, stall, malformed, in_stream_error]);
    let cat = catalog(&server, "openai", None, "");
    let strategy = strategy_for(&cat, "").as_ref().clone();
    let mut s = strategy;
    s.retry.max_attempts = 5;
    let (events, st) = live(FLOW, cat, Arc::new(s));
    let errors: Vec<String> = events_of(&events, "node_retry")
        .into_iter()
        .map(|e| if let Event::NodeRetry { error, .. } = e { error } else { String::new() })
        .collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].contains("mid-stream"), "{errors:?}");
    assert!(errors[1].contains("no data for 0.4 s"), "{errors:?}");
    assert!(errors[2].contains("malformed"), "{errors:?}");
    assert!(errors[3].contains("upstream overloaded"), "{errors:?}");
    let a = unit(&st, "a");
    assert_eq!(a.output(), "ok", "only the successful try's text is kept");
    assert!(st.units.iter().all(|u| u.status == Status::Done));
}

#[test]
fn unauthorized_is_not_retried_and_names_the_key_variable() {
    let server = Server::func(|seen| {
        if seen.body.contains("node a") {
            Reply::status(401, r#"{"error":{"message":"invalid x-api-key"}}"#)
        } else {
            Reply::sse(transcript::openai(&["fine"], 5, 1, 0, 0))
        }
    });
    let cat = catalog(&server, "openai", Some("sk-wrong"), "");
    let text = "[strategy]\nname = \"t\"\ndefault_model = \"m1\"\n[retry]\nbackoff_ms = 10\n";
    let s = Arc::new(Strategy::parse(&Source::new("s.toml", text), &cat).expect("s").0);
    let (events, st) = live(FLOW, cat, s);
    assert!(events_of(&events, "node_retry").is_empty());
    let a = unit(&st, "a");
    assert_eq!(a.status, Status::Failed);
    let err = a.error.clone().unwrap_or_default();
    assert!(err.contains("401") && err.contains("check BATON_TEST_KEY"), "{err}");
    assert!(!err.contains("sk-wrong"));
    // The independent branch kept its output.
    assert_eq!(unit(&st, "c").output(), "fine");
    assert_eq!(unit(&st, "b").status, Status::Skipped);
}

#[test]
fn a_missing_key_says_which_variable_to_set() {
    let server = Server::func(|_| ok_openai());
    let text = format!(
        "[[model]]\nid = \"needs-key\"\nprovider = \"openai\"\nbase_url = \"{}/v1\"\nkey_env = \"BATON_TEST_UNSET_KEY_VAR\"\ninput_per_mtok = 1\noutput_per_mtok = 1\ncontext_window = 10000\n",
        server.url()
    );
    let cat = Arc::new(Catalog::parse(&Source::new("c.toml", text), Some(&Catalog::builtin())).expect("c").0);
    let s =
        Arc::new(Strategy::parse(&Source::new("s.toml", "[strategy]\nname = \"t\"\ndefault_model = \"needs-key\"\n"), &cat).expect("s").0);
    let (_, st) = live(FLOW, cat, s);
    let err = unit(&st, "a").error.clone().unwrap_or_default();
    assert!(err.contains("BATON_TEST_UNSET_KEY_VAR is not set"), "{err}");
    assert!(server.requests().is_empty(), "no request without a key");
}

#[test]
fn context_overflow_walks_to_the_next_fallback_at_once() {
    let (server, calls) = by_model(vec![Reply::status(
        400,
        r#"{"error":{"message":"This model's maximum context length is 4096 tokens","code":"context_length_exceeded"}}"#,
    )]);
    let cat = catalog(&server, "openai", None, "");
    let (events, st) = live(FLOW, cat.clone(), strategy_for(&cat, ""));
    assert!(events_of(&events, "node_retry").is_empty());
    assert!(
        events_of(&events, "node_fallback")
            .iter()
            .any(|e| matches!(e, Event::NodeFallback { reason, .. } if reason.contains("does not fit")))
    );
    assert_eq!(unit(&st, "a").model.as_deref(), Some("m2"));
    assert_eq!(calls.load(Ordering::SeqCst), 3, "one try for a on m1; b and c on m1");
}

#[test]
fn a_model_that_keeps_failing_cools_down() {
    let server = Server::func(|seen| {
        if seen.body.contains("\"m1-api\"") { Reply::status(503, "down") } else { Reply::sse(transcript::openai(&["ok"], 3, 1, 0, 0)) }
    });
    let cat = catalog(&server, "openai", None, "[provider.openai]\ncooldown_after = 2\ncooldown_seconds = 60\n\n");
    let mut s = strategy_for(&cat, "").as_ref().clone();
    s.retry.max_attempts = 1;
    let (events, st) = live(FLOW, cat, Arc::new(s));
    let cooldowns = events_of(&events, "model_cooldown");
    assert_eq!(cooldowns.len(), 1);
    assert!(matches!(&cooldowns[0], Event::ModelCooldown { model, .. } if model == "m1"));
    let m1_calls = server.requests().iter().filter(|r| r.body.contains("\"m1-api\"")).count();
    assert_eq!(m1_calls, 2, "after two failures m1 rests and is not called again");
    assert!(
        events_of(&events, "node_fallback")
            .iter()
            .any(|e| matches!(e, Event::NodeFallback { reason, .. } if reason.contains("cooling down")))
    );
    assert!(st.units.iter().all(|u| u.status == Status::Done && u.model.as_deref() == Some("m2")));
    assert_eq!(st.totals.cooldowns, 1);
}

/// The research assistant through one provider kind: every model the smart strategy uses is
/// served by the scripted server, which answers each call with fixed usage.
fn research_assistant_through(provider: &str) {
    let server = Server::func(move |seen| {
        let planner = seen.body.contains("research planner");
        let text: Vec<&str> = if planner {
            vec!["[\"q1\", \"q2\",", " \"q3\"]"]
        } else {
            vec!["Evidence: solid. Source: https://x.test ", "References. VERDICT: answerable"]
        };
        Reply::sse(match seen.path.as_str() {
            p if p.ends_with("/messages") => transcript::anthropic(&text, 100, 40, 0, 0),
            p if p.contains("streamGenerateContent") => transcript::gemini(&text, 100, 40, 0, 0),
            _ => transcript::openai(&text, 100, 40, 0, 0),
        })
    });
    let base = if provider == "gemini" { format!("{}/v1beta", server.url()) } else { format!("{}/v1", server.url()) };
    let mut text = String::new();
    for m in &Catalog::builtin().models {
        text.push_str(&format!("[[model]]\nid = \"{}\"\nprovider = \"{provider}\"\nbase_url = \"{base}\"\nkey_env = \"\"\n\n", m.id));
    }
    let cat = Arc::new(Catalog::parse(&Source::new("c.toml", text), Some(&Catalog::builtin())).expect("c").0);
    let strategy = Arc::new(Strategy::parse(&Source::new("smart.toml", baton::load::SAMPLE_STRATEGIES[1].1), &cat).expect("smart").0);
    let spec = RunSpec::new(sample_flow("research-assistant"), strategy, cat.clone(), "q".into(), 1);
    let providers = Providers::live(&cat, Duration::from_secs(2)).expect("providers");
    let mut events = Vec::new();
    run_blocking(&spec, &providers, |e| events.push(e)).expect("runs");
    let st = RunState::new(spec.flow.clone(), spec.strategy.clone(), cat.clone(), 1, 1).fold(&events);
    assert_eq!(st.totals.done, 7, "{provider}: planner, 3 searchers, analyzer, citations, synthesizer");
    let per_call = Usage { input: 100, output: 40, ..Usage::default() };
    let mut expect = Money::ZERO;
    for (i, u) in st.units.iter().enumerate() {
        if u.status == Status::Done && !st.is_group(i) {
            assert_eq!(u.usage, per_call, "{provider}: {} has the usage the server sent", u.label);
            expect += cat.cost(u.model.as_deref().expect("model"), &per_call).total();
        }
    }
    assert_eq!(st.totals.usage.output, 7 * 40);
    assert_eq!(st.totals.cost.total(), expect, "{provider}: money is the server's usage at catalog prices");
    assert_eq!(server.requests().len(), 7);
}

#[test]
fn the_research_assistant_runs_end_to_end_through_each_provider_kind() {
    for p in ["openai", "anthropic", "gemini"] {
        research_assistant_through(p);
    }
}

#[test]
fn keys_never_reach_a_recording_log_export_or_the_screen() {
    const SECRET: &str = "sk-baton-test-SECRET-4242";
    let server = Server::func(|seen| {
        let planner = seen.body.contains("research planner");
        let text: Vec<&str> = if planner { vec!["[\"q1\",\"q2\"]"] } else { vec!["Evidence: Source: References VERDICT: answerable"] };
        Reply::sse(transcript::openai(&text, 50, 20, 0, 0))
    });
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let kf = dir.join("key.txt");
    std::fs::write(&kf, SECRET).expect("key");
    let mut cat = String::new();
    for m in &Catalog::builtin().models {
        cat.push_str(&format!(
            "[[model]]\nid = \"{}\"\nprovider = \"openai\"\nbase_url = \"{}/v1\"\nkey_env = \"BATON_TEST_KEY\"\nkey_file = \"{}\"\n\n",
            m.id,
            server.url(),
            kf.display()
        ));
    }
    let cat_path = dir.join("catalog.toml");
    std::fs::write(&cat_path, cat).expect("catalog");
    let rec = dir.join("run.jsonl");
    let otlp = dir.join("otlp.json");
    let baton = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(args)
            .env("BATON_DATA_DIR", &dir)
            .env("BATON_CONFIG_DIR", &dir)
            .output()
            .expect("runs")
    };
    let mut outputs = Vec::new();
    for args in [
        vec![
            "run",
            "research-assistant",
            "--live",
            "--catalog",
            cat_path.to_str().expect("utf8"),
            "--record",
            rec.to_str().expect("utf8"),
            "--format",
            "json",
        ],
        vec!["run", "research-assistant", "--live", "--catalog", cat_path.to_str().expect("utf8"), "--no-record"],
        vec!["export", rec.to_str().expect("utf8"), "--otlp", otlp.to_str().expect("utf8")],
        vec!["replay", rec.to_str().expect("utf8"), "--summary"],
        vec!["doctor", "--catalog", cat_path.to_str().expect("utf8")],
    ] {
        let out = baton(&args);
        outputs.push(String::from_utf8_lossy(&out.stdout).to_string());
        outputs.push(String::from_utf8_lossy(&out.stderr).to_string());
    }
    assert!(outputs[0].contains("\"status\": \"completed\""), "{}\n{}", outputs[0], outputs[1]);
    // The key was used...
    assert!(server.requests().iter().all(|r| r.header("authorization") == Some(&format!("Bearer {SECRET}"))));
    // ...and is nowhere else.
    for (i, o) in outputs.iter().enumerate() {
        assert!(!o.contains(SECRET), "output {i} leaks the key");
    }
    for entry in std::fs::read_dir(&dir).expect("dir").flatten() {
        let p = entry.path();
        if p == kf || p.is_dir() {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        assert!(!text.contains(SECRET), "{} contains the key", p.display());
    }
    assert!(std::fs::read_to_string(&rec).expect("recording").contains("\"provider\":\"live\""));
}

#[test]
fn doctor_reports_keys_and_checks_servers_only_when_asked() {
    let server = Server::func(|_| Reply::status(200, "{\"data\":[]}"));
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("doctor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cat = dir.join("c.toml");
    std::fs::write(&cat, format!("[[model]]\nid = \"here\"\nprovider = \"openai\"\nbase_url = \"{}/v1\"\nkey_env = \"BATON_DOCTOR_UNSET\"\ninput_per_mtok = 1\noutput_per_mtok = 1\ncontext_window = 1000\n", server.url())).expect("write");
    let run = |extra: &[&str]| {
        let mut args = vec!["doctor", "--catalog", cat.to_str().expect("utf8")];
        args.extend_from_slice(extra);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(&args)
            .env("BATON_CONFIG_DIR", &dir)
            .env("BATON_DOCTOR_SET", "sk-doctor-123456")
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("GEMINI_API_KEY")
            .output()
            .expect("runs");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let plain = run(&[]);
    assert!(
        plain.contains("prices read 2026-11-28") && plain.contains("BATON_DOCTOR_UNSET not set") && plain.contains("not checked"),
        "{plain}"
    );
    assert!(server.requests().is_empty(), "no network without --check");
    // A missing key is reported without a call.
    let checked = run(&["--check", "--provider", "openai"]);
    assert!(checked.contains("key missing (BATON_DOCTOR_UNSET)"), "{checked}");
    assert!(server.requests().is_empty(), "no call without the key");
    std::fs::write(&cat, std::fs::read_to_string(&cat).expect("read").replace("BATON_DOCTOR_UNSET", "BATON_DOCTOR_SET")).expect("write");
    let checked = run(&["--check", "--provider", "openai"]);
    assert!(checked.contains(" ok"), "{checked}");
    assert_eq!(server.requests()[0].path, "/v1/models");
    assert_eq!(server.requests()[0].header("authorization"), Some("Bearer sk-doctor-123456"));
}
