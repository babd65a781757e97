//! Export to OTLP/JSON traces: one workflow span and one span per node, with the OpenTelemetry
//! GenAI attributes, their OpenInference mirrors, and Baton's routing decision under `baton.*`,
//! so Phoenix, Langfuse or otel-tui can open a Baton run.

use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use super::Recording;
use crate::event::Origin;
use crate::provider::rng::{hash_str, mix};
use crate::report::listed_units;
use crate::routing::ProviderKind;
use crate::state::{RunState, Status};

fn s(k: &str, v: impl Into<String>) -> Value {
    json!({"key": k, "value": {"stringValue": v.into()}})
}

fn i(k: &str, v: u64) -> Value {
    json!({"key": k, "value": {"intValue": v.to_string()}})
}

fn f(k: &str, v: f64) -> Value {
    json!({"key": k, "value": {"doubleValue": v}})
}

fn b(k: &str, v: bool) -> Value {
    json!({"key": k, "value": {"boolValue": v}})
}

fn provider_name(p: ProviderKind) -> &'static str {
    // The GenAI registry's well-known values.
    match p {
        ProviderKind::Openai => "openai",
        ProviderKind::Anthropic => "anthropic",
        ProviderKind::Gemini => "gcp.gemini",
        ProviderKind::Sim => "baton.sim",
    }
}

/// The OTLP/JSON document for a recording.
pub fn export(rec: &Recording) -> Value {
    let st = rec.state();
    let mut spans = Vec::new();
    each_span(rec, &st, |span| spans.push(span));
    json!({
        "resourceSpans": [{
            "resource": resource(),
            "scopeSpans": [{"scope": scope(), "spans": spans}],
        }]
    })
}

fn resource() -> Value {
    json!({"attributes": [s("service.name", "baton"), s("service.version", env!("CARGO_PKG_VERSION"))]})
}

fn scope() -> Value {
    json!({"name": "baton", "version": env!("CARGO_PKG_VERSION")})
}

/// Writes the OTLP/JSON document of a recording's folded state (see
/// [`Recording::open_folded`]) as pretty JSON, one span at a time: the same bytes as
/// `serde_json::to_writer_pretty(out, &export(rec))`, without a tree of every span (a
/// 50,000-node run's tree took 5.9 GB). Returns how many spans it wrote.
pub fn write_folded(rec: &Recording, st: &RunState, out: impl std::io::Write) -> std::io::Result<usize> {
    let spans = SpansOf { rec, st, count: std::cell::Cell::new(0) };
    // Keys in the order serde_json's (sorted) objects write them.
    let doc = json_map([(
        "resourceSpans",
        Single(json_map([
            ("resource", Either::A(resource())),
            ("scopeSpans", Either::B(Single(json_map([("scope", Either::A(scope())), ("spans", Either::B(&spans))])))),
        ])),
    )]);
    serde_json::to_writer_pretty(out, &doc).map_err(std::io::Error::from)?;
    Ok(spans.count.get())
}

/// Every span of the export, root first, in order.
fn each_span(rec: &Recording, st: &RunState, mut emit: impl FnMut(Value)) {
    let h = &rec.header;
    let base_ns = u128::from(h.created_unix_ms) * 1_000_000;
    let ns = |d: std::time::Duration| (base_ns + d.as_nanos()).to_string();
    let seed = mix(&[hash_str(&rec.file), h.created_unix_ms, h.run, u64::from(h.attempt)]);
    let trace_id = format!("{:016x}{:016x}", seed, mix(&[seed, 1]));
    let span_id = |k: u64| format!("{:016x}", mix(&[seed, k]).max(1));
    let root = span_id(0);
    let tot = &st.totals;

    emit(json!({
        "traceId": trace_id,
        "spanId": root,
        "parentSpanId": "",
        "name": format!("invoke_workflow {}", st.flow.name),
        "kind": 1,
        "startTimeUnixNano": ns(std::time::Duration::ZERO),
        "endTimeUnixNano": ns(st.wall()),
        "attributes": [
            s("gen_ai.operation.name", "invoke_workflow"),
            s("gen_ai.agent.name", st.flow.name.clone()),
            i("gen_ai.usage.input_tokens", tot.usage.total_input()),
            i("gen_ai.usage.output_tokens", tot.usage.output),
            s("openinference.span.kind", "CHAIN"),
            i("llm.token_count.prompt", tot.usage.total_input()),
            i("llm.token_count.completion", tot.usage.output),
            i("llm.token_count.total", tot.usage.total_input() + tot.usage.output),
            f("llm.cost.total", tot.cost.total().usd()),
            s("graph.node.id", st.flow.name.clone()),
            s("baton.flow", st.flow.name.clone()),
            s("baton.strategy", st.strategy.name.clone()),
            i("baton.seed", h.seed),
            s("baton.provider", h.provider.clone()),
            f("baton.cost_usd", tot.cost.total().usd()),
            f("baton.critical_path_ms", st.totals.critical_path.as_secs_f64() * 1000.0),
            i("baton.checks.passed", tot.checks_passed as u64),
            i("baton.checks.total", tot.checks_total as u64),
            s("baton.prices_read", h.prices_read.clone()),
        ],
        "status": {"code": if tot.failed > 0 { 2 } else { 1 }},
    }));

    for (k, idx) in listed_units(st).into_iter().enumerate() {
        let u = &st.units[idx];
        let node = &st.flow.nodes[u.unit.index()];
        let start = u.started.or(u.finished).unwrap_or_default();
        let end = u.finished.unwrap_or(start).max(start);
        let parent_node = node.after.first().map_or_else(|| st.flow.name.clone(), |&d| st.flow.nodes[d].id.clone());
        let mut attrs = vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.agent.name", u.label.clone()),
            i("gen_ai.request.max_tokens", u64::from(node.max_tokens)),
            s("openinference.span.kind", "LLM"),
            s("graph.node.id", u.label.clone()),
            s("graph.node.parent_id", parent_node),
            s("baton.node.kind", node.kind.clone()),
            i("baton.node.complexity", u64::from(node.complexity)),
            s("baton.status", u.status.name()),
            i("baton.retries", u.retries.len() as u64),
            b("baton.cached", u.status == Status::Cached),
        ];
        if let Some(d) = &u.decision {
            let requested = st.catalog.get(&d.model);
            attrs.push(s("gen_ai.request.model", requested.map_or(d.model.clone(), |m| m.api_model.clone())));
            attrs.push(s("baton.rule", d.rule_label.clone()));
            attrs.push(s("baton.reason", d.reason.clone()));
            attrs.push(s("baton.requested_model", d.model.clone()));
        }
        if let Some(model) = u.model.as_deref().and_then(|m| st.catalog.get(m)) {
            attrs.push(s("gen_ai.provider.name", provider_name(model.provider)));
            attrs.push(s("gen_ai.response.model", model.api_model.clone()));
            attrs.push(s("llm.provider", provider_name(model.provider)));
            attrs.push(s("llm.model_name", model.api_model.clone()));
            attrs.push(s("baton.model", model.id.clone()));
        }
        if matches!(u.status, Status::Done | Status::Cached) {
            let us = &u.billed_usage;
            attrs.extend([
                i("gen_ai.usage.input_tokens", us.total_input()),
                i("gen_ai.usage.output_tokens", us.output),
                i("gen_ai.usage.cache_read.input_tokens", us.cached),
                i("gen_ai.usage.cache_creation.input_tokens", us.cache_write),
                i("gen_ai.usage.reasoning.output_tokens", us.reasoning),
                i("llm.token_count.prompt", us.total_input()),
                i("llm.token_count.completion", us.output),
                i("llm.token_count.total", us.total_input() + us.output),
                i("llm.token_count.prompt_details.cache_read", us.cached),
                i("llm.token_count.completion_details.reasoning", us.reasoning),
                f("llm.cost.prompt", (u.cost.input + u.cost.cached).usd()),
                f("llm.cost.completion", u.cost.output.usd()),
                f("llm.cost.total", u.cost.total().usd()),
                s("output.value", u.output.to_string()),
                i("baton.checks.passed", u.checks_passed() as u64),
                i("baton.checks.total", u.checks.len() as u64),
            ]);
            if let Some(t) = u.ttft {
                attrs.push(f("baton.ttft_ms", t.as_secs_f64() * 1000.0));
            }
            let (p, d, hist) = u.attribution();
            attrs.extend([
                i("baton.context.prompt_tokens", p),
                i("baton.context.declared_tokens", d),
                i("baton.context.history_tokens", hist),
            ]);
            let sources: Vec<String> = u
                .context
                .iter()
                .filter_map(|c| if let Origin::Declared(n) = c.origin { st.flow.nodes.get(n as usize).map(|x| x.id.clone()) } else { None })
                .collect();
            if !sources.is_empty() {
                attrs.push(s("baton.context.sources", sources.join(",")));
            }
        }
        if let Some(r) = &u.skip {
            attrs.push(s("baton.skip_reason", r.to_string()));
        }
        let status = match u.status {
            Status::Failed => json!({"code": 2, "message": u.error.clone().unwrap_or_default()}),
            Status::Done | Status::Cached => json!({"code": 1}),
            _ => json!({"code": 0}),
        };
        emit(json!({
            "traceId": trace_id,
            "spanId": span_id(k as u64 + 1),
            "parentSpanId": root,
            "name": format!("chat {}", u.label),
            "kind": 3,
            "startTimeUnixNano": ns(start),
            "endTimeUnixNano": ns(end),
            "attributes": attrs,
            "status": status,
        }));
    }
}

/// A one-element JSON array.
struct Single<T>(T);

impl<T: Serialize> Serialize for Single<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(std::iter::once(&self.0))
    }
}

/// One of two serializable things.
enum Either<A, B> {
    A(A),
    B(B),
}

impl<A: Serialize, B: Serialize> Serialize for Either<A, B> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Either::A(a) => a.serialize(serializer),
            Either::B(b) => b.serialize(serializer),
        }
    }
}

/// A JSON object with its keys in the given order.
struct JsonMap<const N: usize, V>([(&'static str, V); N]);

fn json_map<const N: usize, V>(entries: [(&'static str, V); N]) -> JsonMap<N, V> {
    JsonMap(entries)
}

impl<const N: usize, V: Serialize> Serialize for JsonMap<N, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// The spans, built and written one at a time.
struct SpansOf<'a> {
    rec: &'a Recording,
    st: &'a RunState,
    count: std::cell::Cell<usize>,
}

impl Serialize for SpansOf<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(None)?;
        let mut failed = None;
        each_span(self.rec, self.st, |span| {
            if failed.is_none() {
                match seq.serialize_element(&span) {
                    Ok(()) => self.count.set(self.count.get() + 1),
                    Err(e) => failed = Some(e),
                }
            }
        });
        match failed {
            Some(e) => Err(e),
            None => seq.end(),
        }
    }
}
