//! The checks a task set carries, per task, on the flow's final output or on one node's:
//!
//! - `{"equals": true}` (against the task's `expected`) or `{"equals": "faq"}`: equal after
//!   normalising (trimmed, case and runs of spaces folded, a trailing period dropped); when
//!   the expected value is JSON other than a string, the output must parse to equal JSON.
//! - `{"similar": 0.6}` (against `expected`, or `"to": "..."`), with `"method": "token-set"`
//!   (default) or `"rouge-l"`: the score must reach the threshold.
//! - `{"json_schema": {...}}`: the output parses as JSON and the schema holds (see `schema`).
//! - `{"command": "python3 check.py"}` (run by `sh -c`) or `{"command": ["prog", "arg"]}`: the
//!   output on stdin, `BATON_EXPECTED` and `BATON_TASK_ID` in the environment; exit 0 passes.
//!   `"timeout_s"` (default 30) ends it.
//! - `{"judge": "rubric", "model": "gpt-5.4-mini"}`: a catalog model grades the output (see
//!   `judge`); its calls are evaluation cost, apart from the flow's.
//! - and the flow's own kinds: `contains`, `not_contains`, `regex`, `json`, `max_chars`,
//!   `min_chars`.
//!
//! Every check takes `"node": "id"` to check that node's output instead of the final output
//! (the outputs of the flow's last nodes that ran, joined by a blank line).

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::Value;

use super::judge::Judge;
use super::schema;
use super::similar::{self, Method};
use crate::flow::{Check, CheckResult, Flow};
use crate::load::Task;
use crate::money::Money;
use crate::state::{RunState, Status};

/// One check of a task.
#[derive(Debug, Clone)]
pub struct TaskCheck {
    /// The node whose output is checked; `None` for the final output.
    pub node: Option<usize>,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Equals(Value),
    Similar {
        to: String,
        threshold: f64,
        method: Method,
    },
    JsonSchema(Value),
    Command {
        argv: Vec<String>,
        timeout: Duration,
    },
    Judge {
        rubric: String,
        model: String,
    },
    /// The flow's own output checks (contains, not_contains, regex, json, max/min chars).
    Output(Check),
}

/// The model a judge uses when the check names none.
pub const DEFAULT_JUDGE: &str = "gpt-5.4-mini";

impl TaskCheck {
    pub fn label(&self) -> String {
        match &self.kind {
            Kind::Equals(v) => format!("equals {}", short(&text_of(v))),
            Kind::Similar { threshold, method, .. } => format!("similar ≥ {threshold} ({})", method.name()),
            Kind::JsonSchema(_) => "json_schema".into(),
            Kind::Command { argv, .. } => format!("command '{}'", short(&argv.join(" "))),
            Kind::Judge { model, .. } => format!("judge ({model})"),
            Kind::Output(c) => c.label(),
        }
    }
}

fn short(s: &str) -> String {
    if s.chars().count() > 40 { format!("{}…", s.chars().take(40).collect::<String>()) } else { s.to_string() }
}

/// A JSON value as text: a string as itself, anything else as JSON.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Reads a task's checks against the flow, with a message that names what is wrong and how to
/// fix it.
pub fn parse(task: &Task, flow: &Flow) -> Result<Vec<TaskCheck>, String> {
    task.checks.iter().enumerate().map(|(i, raw)| parse_one(task, flow, raw).map_err(|e| format!("check {}: {e}", i + 1))).collect()
}

/// Reads every task's checks; the message names the file's line and the task.
pub fn parse_all(tasks: &[Task], flow: &Flow, file: &str) -> Result<Vec<Vec<TaskCheck>>, String> {
    tasks
        .iter()
        .map(|t| {
            parse(t, flow).map_err(|e| {
                format!(
                    "{file}:{}: task '{}': {e}\n  help: the README's 'Task sets' section lists the check kinds and their fields",
                    t.line, t.id
                )
            })
        })
        .collect()
}

/// Whether any task carries checks of its own.
pub fn any(tasks: &[Task]) -> bool {
    tasks.iter().any(|t| !t.checks.is_empty())
}

fn parse_one(task: &Task, flow: &Flow, raw: &Value) -> Result<TaskCheck, String> {
    let Value::Object(map) = raw else { return Err("a check is an object such as {\"equals\": true}".into()) };
    let node = match map.get("node") {
        None => None,
        Some(Value::String(id)) => {
            Some(flow.nodes.iter().position(|n| &n.id == id).ok_or_else(|| format!("node '{id}' is not in flow '{}'", flow.name))?)
        }
        Some(_) => return Err("\"node\" must be a node id".into()),
    };
    let expected = || -> Result<Value, String> {
        task.expected.clone().ok_or_else(|| "it compares with \"expected\", which this task does not have".to_string())
    };
    let kinds =
        ["equals", "similar", "json_schema", "command", "judge", "contains", "not_contains", "regex", "json", "max_chars", "min_chars"];
    let present: Vec<&str> = kinds.iter().copied().filter(|k| map.contains_key(*k)).collect();
    let [k] = present.as_slice() else {
        return Err(format!("give exactly one check kind of: {}", kinds.join(", ")));
    };
    let v = &map[*k];
    let str_of = |v: &Value| v.as_str().map(str::to_string).ok_or_else(|| format!("\"{k}\" takes a string"));
    let count = |v: &Value| v.as_u64().map(|n| n as usize).ok_or_else(|| format!("\"{k}\" takes a whole number"));
    let kind = match *k {
        "equals" => Kind::Equals(if v == &Value::Bool(true) { expected()? } else { v.clone() }),
        "similar" => {
            let threshold = v.as_f64().filter(|t| (0.0..=1.0).contains(t)).ok_or("\"similar\" takes a threshold from 0 to 1")?;
            let method = match map.get("method") {
                None => Method::TokenSet,
                Some(m) => m.as_str().and_then(Method::parse).ok_or("\"method\" is \"token-set\" or \"rouge-l\"")?,
            };
            let to = match map.get("to") {
                Some(t) => str_of(t)?,
                None => text_of(&expected()?),
            };
            Kind::Similar { to, threshold, method }
        }
        "json_schema" => {
            schema::check_schema(v)?;
            Kind::JsonSchema(v.clone())
        }
        "command" => {
            let argv = match v {
                Value::String(s) => vec!["sh".to_string(), "-c".to_string(), s.clone()],
                Value::Array(a) => a.iter().map(|x| x.as_str().map(str::to_string)).collect::<Option<Vec<_>>>().unwrap_or_default(),
                _ => Vec::new(),
            };
            if argv.is_empty() || argv[0].is_empty() {
                return Err("\"command\" is a shell line or a non-empty list of strings".into());
            }
            let secs = map.get("timeout_s").map_or(Some(30.0), Value::as_f64).filter(|s| *s > 0.0 && *s <= 3600.0);
            let timeout = Duration::from_secs_f64(secs.ok_or("\"timeout_s\" is a number of seconds from 0 to 3600")?);
            Kind::Command { argv, timeout }
        }
        "judge" => Kind::Judge {
            rubric: str_of(v)?,
            model: map.get("model").map(str_of).transpose()?.unwrap_or_else(|| DEFAULT_JUDGE.to_string()),
        },
        "contains" => Kind::Output(Check::Contains(str_of(v)?)),
        "not_contains" => Kind::Output(Check::NotContains(str_of(v)?)),
        "regex" => Kind::Output(Check::Regex(Regex::new(&str_of(v)?).map_err(|e| format!("not a valid regex: {e}"))?)),
        "json" => Kind::Output(Check::Json),
        "max_chars" => Kind::Output(Check::MaxChars(count(v)?)),
        _ => Kind::Output(Check::MinChars(count(v)?)),
    };
    Ok(TaskCheck { node, kind })
}

/// The checked output: one node's (its instances joined), or the final output, the outputs of
/// the nodes nothing depends on that finished, joined by a blank line. `None` when there is none.
pub fn output_of(state: &RunState, node: Option<usize>) -> Option<String> {
    let flow = &state.flow;
    let wanted = |i: usize| match node {
        Some(n) => i == n,
        None => !flow.nodes.iter().any(|other| other.after.contains(&i)),
    };
    let texts: Vec<&str> = (0..state.units.len())
        .filter(|&i| !state.is_group(i))
        .map(|i| &state.units[i])
        .filter(|u| matches!(u.status, Status::Done | Status::Cached) && wanted(u.unit.index()))
        .map(|u| u.output())
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n\n"))
}

/// What a task's checks found, and what the judging cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdicts {
    pub results: Vec<CheckResult>,
    /// Evaluation cost (judge calls), apart from the flow's cost.
    pub eval_cost: Money,
}

impl Verdicts {
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }
}

/// Runs `checks` on a finished run of `task`.
pub fn evaluate(task: &Task, checks: &[TaskCheck], state: &RunState, judge: &Judge) -> Verdicts {
    let mut out = Verdicts::default();
    for c in checks {
        let (passed, detail) = match output_of(state, c.node) {
            None => (false, Some("no output to check (the node did not finish)".to_string())),
            Some(text) => match &c.kind {
                Kind::Judge { rubric, model } => {
                    let (passed, detail, cost) = judge.grade(task, rubric, model, &text);
                    out.eval_cost += cost;
                    (passed, detail)
                }
                kind => run(kind, task, &text),
            },
        };
        out.results.push(CheckResult { check: c.label(), passed, detail });
    }
    out
}

fn normalise(s: &str) -> String {
    let folded = s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    folded.trim_end_matches('.').trim().to_string()
}

fn run(kind: &Kind, task: &Task, text: &str) -> (bool, Option<String>) {
    match kind {
        Kind::Equals(Value::String(want)) => {
            let ok = normalise(text) == normalise(want);
            (ok, (!ok).then(|| format!("'{}' is not '{}'", short(text.trim()), short(want))))
        }
        Kind::Equals(want) => match serde_json::from_str::<Value>(text.trim()) {
            Ok(got) => (got == *want, (got != *want).then(|| format!("{} is not {want}", short(&got.to_string())))),
            Err(e) => (false, Some(format!("not valid JSON: {e}"))),
        },
        Kind::Similar { to, threshold, method } => {
            let s = similar::score(*method, text, to);
            (s >= *threshold, Some(format!("{} {s:.3}", method.name())))
        }
        Kind::JsonSchema(schema) => match serde_json::from_str::<Value>(text.trim()) {
            Ok(v) => match schema::validate(schema, &v) {
                Ok(()) => (true, None),
                Err(e) => (false, Some(e)),
            },
            Err(e) => (false, Some(format!("not valid JSON: {e}"))),
        },
        Kind::Command { argv, timeout } => command(argv, *timeout, task, text),
        Kind::Output(c) => {
            let r = c.evaluate(text);
            (r.passed, r.detail)
        }
        Kind::Judge { .. } => (false, Some("a judge needs a model".into())),
    }
}

/// Runs a user's program with the output on stdin: exit 0 passes. What it printed last (stderr,
/// else stdout) is the detail.
fn command(argv: &[String], timeout: Duration, task: &Task, text: &str) -> (bool, Option<String>) {
    let expected = task.expected.as_ref().map(text_of).unwrap_or_default();
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .env("BATON_EXPECTED", expected)
        .env("BATON_TASK_ID", &task.id)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return (false, Some(format!("cannot start '{}': {e}", argv[0]))),
    };
    // Write and read on threads: a program that does not read its input, or writes much
    // before it exits, must not block us.
    let input = text.to_string();
    let stdin = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let Some(mut s) = stdin {
            let _ = s.write_all(input.as_bytes());
        }
    });
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut s);
            }
            String::from_utf8_lossy(&s).to_string()
        })
    };
    let out_reader = drain(child.stdout.take().map(|o| Box::new(o) as Box<dyn std::io::Read + Send>));
    let err_reader = drain(child.stderr.take().map(|e| Box::new(e) as Box<dyn std::io::Read + Send>));
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break None,
        }
    };
    let Some(status) = status else {
        // Not joined: a grandchild may still hold the pipes open.
        return (false, Some(format!("'{}' did not finish within {:.0} s", argv[0], timeout.as_secs_f64())));
    };
    let _ = writer.join();
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    let said = err.lines().chain(out.lines()).rfind(|l| !l.trim().is_empty()).map(|l| short(l.trim()));
    match (status.success(), status.code()) {
        (true, _) => (true, said),
        (false, Some(code)) => (false, Some(said.map_or(format!("exit {code}"), |s| format!("exit {code}: {s}")))),
        (false, None) => (false, Some("killed by a signal".into())),
    }
}
