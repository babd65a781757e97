//! Export to OTLP/JSON traces: one workflow span and one span per node, with the OpenTelemetry
//! GenAI attributes, their OpenInference mirrors, and Baton's routing decision under `baton.*`,
//! so Phoenix, Langfuse or otel-tui can open a Baton run.

use std::borrow::Cow;

use serde::{Serialize, Serializer};
use serde_json::{Value, json};

mod parallel;

use super::Recording;
use super::reader::OutputIndex;
use crate::event::Unit;
use crate::event::{NO_MODEL, Origin};
use crate::provider::rng::{hash_str, mix};
use crate::report::listed_units;
use crate::routing::ProviderKind;
use crate::state::{RunState, Status};

/// One span attribute, `{"key": k, "value": {"<type>Value": v}}` in OTLP/JSON. Strings are
/// borrowed where they can be: a unit's output is most of an export's bytes, and building a
/// `Value` tree per attribute (then copying the output into it) was most of `export`'s time.
struct Attr<'a> {
    key: &'static str,
    value: AttrValue<'a>,
}

enum AttrValue<'a> {
    Str(Cow<'a, str>),
    /// A string as JSON already, written as it is.
    Json(&'a serde_json::value::RawValue),
    /// OTLP/JSON writes 64-bit integers as strings.
    Int(u64),
    Double(f64),
    Bool(bool),
}

impl Serialize for Attr<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Typed<'b, 'a>(&'b AttrValue<'a>);
        impl Serialize for Typed<'_, '_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = serializer.serialize_map(Some(1))?;
                match self.0 {
                    AttrValue::Str(v) => m.serialize_entry("stringValue", v)?,
                    AttrValue::Json(v) => m.serialize_entry("stringValue", v)?,
                    AttrValue::Int(v) => m.serialize_entry("intValue", &Decimal(*v))?,
                    AttrValue::Double(v) => m.serialize_entry("doubleValue", v)?,
                    AttrValue::Bool(v) => m.serialize_entry("boolValue", v)?,
                }
                m.end()
            }
        }
        let mut m = serializer.serialize_map(Some(2))?;
        m.serialize_entry("key", self.key)?;
        m.serialize_entry("value", &Typed(&self.value))?;
        m.end()
    }
}

/// A number written as a JSON string.
struct Decimal(u64);

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

fn s<'a>(key: &'static str, v: impl Into<Cow<'a, str>>) -> Attr<'a> {
    Attr { key, value: AttrValue::Str(v.into()) }
}

fn i(key: &'static str, v: u64) -> Attr<'static> {
    Attr { key, value: AttrValue::Int(v) }
}

fn f(key: &'static str, v: f64) -> Attr<'static> {
    Attr { key, value: AttrValue::Double(v) }
}

fn b(key: &'static str, v: bool) -> Attr<'static> {
    Attr { key, value: AttrValue::Bool(v) }
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

/// What names a run's trace: its recording file, start time, run id and attempt. The same
/// recording always gives the same trace and span ids, so a run pushed as it ran and pushed
/// again later from its recording is one trace to a viewer, not two.
#[derive(Debug, Clone)]
pub struct Trace {
    seed: u64,
    /// The recording header's start time (spans are placed from it).
    pub created_unix_ms: u64,
    /// `sim`, `live` or `watch`.
    pub provider: String,
    pub prices_read: String,
    pub run_seed: u64,
}

impl Trace {
    /// From the recording's path (only its file name counts, so a relative and an absolute
    /// path give the same ids) and header.
    pub fn new(file: &str, header: &super::Header) -> Trace {
        let name = std::path::Path::new(file).file_name().map_or(file.to_string(), |n| n.to_string_lossy().into_owned());
        Trace {
            seed: mix(&[hash_str(&name), header.created_unix_ms, header.run, u64::from(header.attempt)]),
            created_unix_ms: header.created_unix_ms,
            provider: header.provider.clone(),
            prices_read: header.prices_read.clone(),
            run_seed: header.seed,
        }
    }

    pub fn of(rec: &Recording) -> Trace {
        Trace::new(&rec.file, &rec.header)
    }

    /// 32 lowercase hex digits, as OTLP/JSON writes trace ids.
    pub fn trace_id(&self) -> String {
        format!("{:016x}{:016x}", self.seed, mix(&[self.seed, 1]))
    }

    /// The workflow span's id.
    pub fn root_id(&self) -> String {
        format!("{:016x}", mix(&[self.seed, 0]).max(1))
    }

    /// A unit's span id, from the unit itself (not its place in a list), so spans sent while
    /// the run goes keep their ids.
    pub fn unit_id(&self, u: Unit) -> String {
        format!("{:016x}", mix(&[self.seed, 2, u64::from(u.node) + 1, u.item.map_or(0, |i| u64::from(i) + 1)]).max(1))
    }

    fn ns(&self, d: std::time::Duration) -> String {
        (u128::from(self.created_unix_ms) * 1_000_000 + d.as_nanos()).to_string()
    }
}

/// The OTLP/JSON document for a recording: the workflow span and one span per unit.
pub fn export(rec: &Recording) -> Value {
    export_folded(rec, &rec.state())
}

/// [`export`] from a recording's folded state (see [`Recording::open_folded`]), so the
/// recording's events need not be held.
pub fn export_folded(rec: &Recording, st: &RunState) -> Value {
    let trace = Trace::of(rec);
    let mut spans = vec![root_span(st, &trace)];
    spans.extend(listed_units(st).into_iter().map(|idx| unit_span(st, &trace, idx)));
    document(spans)
}

/// Spans wrapped in an ExportTraceServiceRequest (OTLP/JSON), with Baton as the resource.
pub fn document(spans: Vec<Value>) -> Value {
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

/// Writes [`export_folded`]'s document as pretty JSON one span at a time: the same bytes as
/// `serde_json::to_writer_pretty(out, &export_folded(rec, st))` without a tree of every span
/// (a 1M-event recording's tree took 4.1 GB). Returns how many spans it wrote.
pub fn write_folded(rec: &Recording, st: &RunState, out: impl std::io::Write) -> std::io::Result<usize> {
    write_spans(SpansOf { st, trace: Trace::of(rec), outputs: None, count: std::cell::Cell::new(0) }, out)
}

/// [`write_folded`] from a state folded without outputs, each unit's output read from the
/// recording as its span is written (see [`Recording::open_folded_indexed`]): the same bytes.
/// With a core to spare, the spans are built on two threads (see `parallel`).
pub fn write_indexed(rec: &Recording, st: &RunState, outputs: &OutputIndex, out: impl std::io::Write) -> std::io::Result<usize> {
    if std::thread::available_parallelism().is_ok_and(|n| n.get() > 1) {
        return parallel::write(rec, st, outputs, out);
    }
    write_spans(SpansOf { st, trace: Trace::of(rec), outputs: Some(outputs), count: std::cell::Cell::new(0) }, out)
}

fn write_spans(spans: SpansOf, out: impl std::io::Write) -> std::io::Result<usize> {
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

/// How many spans a document holds.
pub fn span_count(doc: &Value) -> usize {
    doc["resourceSpans"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["scopeSpans"].as_array().into_iter().flatten())
        .map(|s| s["spans"].as_array().map_or(0, Vec::len))
        .sum()
}

/// The same document as OTLP protobuf bytes: the JSON form is the one span builder, and
/// opentelemetry-proto's serde reading of OTLP/JSON turns it into the protobuf message.
pub fn to_protobuf(doc: &Value) -> Result<Vec<u8>, String> {
    use prost::Message;
    let req: opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest =
        serde_json::from_value(doc.clone()).map_err(|e| format!("cannot encode the spans as protobuf: {e}"))?;
    Ok(req.encode_to_vec())
}

/// The workflow span: the run's totals. Its `baton.dag` attribute says that the unit spans
/// under it are the run's DAG and their links its edges (`baton watch` reads it back so).
pub fn root_span(st: &RunState, trace: &Trace) -> Value {
    let tot = &st.totals;
    let total = tot.cost.total().usd();
    // Some node's model has no price: the run's cost is unknown, and a total would read as the
    // whole of it. What was priced is kept under its own name.
    let unpriced = st.unpriced_count();
    let cost = |key| (unpriced == 0).then(|| f(key, total));
    let mut attrs: Vec<Attr<'_>> = [
        Some(s("gen_ai.operation.name", "invoke_workflow")),
        Some(s("gen_ai.agent.name", st.flow.name.clone())),
        Some(i("gen_ai.usage.input_tokens", tot.usage.total_input())),
        Some(i("gen_ai.usage.output_tokens", tot.usage.output)),
        Some(s("openinference.span.kind", "CHAIN")),
        Some(i("llm.token_count.prompt", tot.usage.total_input())),
        Some(i("llm.token_count.completion", tot.usage.output)),
        Some(i("llm.token_count.total", tot.usage.total_input() + tot.usage.output)),
        cost("llm.cost.total"),
        Some(s("graph.node.id", st.flow.name.clone())),
        Some(s("baton.flow", st.flow.name.clone())),
        Some(s("baton.strategy", st.strategy.name.clone())),
        Some(s("baton.dag", DAG_BY_LINKS)),
        Some(i("baton.seed", trace.run_seed)),
        Some(s("baton.provider", trace.provider.clone())),
        cost("baton.cost_usd"),
        Some(f("baton.critical_path_ms", st.totals.critical_path.as_secs_f64() * 1000.0)),
        Some(i("baton.checks.passed", tot.checks_passed as u64)),
        Some(i("baton.checks.total", tot.checks_total as u64)),
        Some(s("baton.prices_read", trace.prices_read.clone())),
    ]
    .into_iter()
    .flatten()
    .collect();
    if unpriced > 0 {
        attrs.extend([i("baton.nodes_unpriced", unpriced as u64), f("baton.priced_cost_usd", total)]);
    }
    json!({
        "traceId": trace.trace_id(),
        "spanId": trace.root_id(),
        "parentSpanId": "",
        "name": format!("invoke_workflow {}", st.flow.name),
        "kind": 1,
        "startTimeUnixNano": trace.ns(std::time::Duration::ZERO),
        "endTimeUnixNano": trace.ns(st.wall()),
        "attributes": attrs,
        "status": match st.status {
            crate::state::RunStatus::Finished(_) => json!({"code": if tot.failed > 0 { 2 } else { 1 }}),
            // The run did not finish (a recording cut short, a push of a run still going).
            _ => json!({"code": 2, "message": "the run did not finish"}),
        },
    })
}

/// The value of `baton.dag` on a workflow span whose unit spans link to the units they
/// depended on.
pub const DAG_BY_LINKS: &str = "links";

/// The units a unit waited for: every unit of each node it comes after (each instance of a
/// fan-out).
pub fn dependencies(st: &RunState, idx: usize) -> Vec<usize> {
    let node = &st.flow.nodes[st.units[idx].unit.index()];
    node.after
        .iter()
        .flat_map(|&d| {
            let n = &st.nodes[d];
            if n.instances.is_empty() { vec![n.unit] } else { n.instances.clone() }
        })
        .collect()
}

/// A unit's span (its model call), linked to the spans of the units it depended on.
pub fn unit_span(st: &RunState, trace: &Trace, idx: usize) -> Value {
    serde_json::to_value(unit_span_of(st, trace, idx, AttrValue::Str(Cow::Borrowed(st.units[idx].output())))).unwrap_or_default()
}

/// A unit's span as written: fields in the order serde_json's sorted objects give them, so
/// writing it and writing its [`Value`] give the same bytes.
#[derive(Serialize)]
struct UnitSpan<'a> {
    attributes: Vec<Attr<'a>>,
    #[serde(rename = "endTimeUnixNano")]
    end: String,
    kind: u8,
    links: Vec<Link>,
    name: String,
    #[serde(rename = "parentSpanId")]
    parent: String,
    #[serde(rename = "spanId")]
    span: String,
    #[serde(rename = "startTimeUnixNano")]
    start: String,
    status: SpanStatus<'a>,
    #[serde(rename = "traceId")]
    trace: String,
}

#[derive(Serialize)]
struct Link {
    #[serde(rename = "spanId")]
    span: String,
    #[serde(rename = "traceId")]
    trace: String,
}

#[derive(Serialize)]
struct SpanStatus<'a> {
    code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

/// `output` is the unit's output (its own, or read from the recording).
fn unit_span_of<'a>(st: &'a RunState, trace: &Trace, idx: usize, output: AttrValue<'a>) -> UnitSpan<'a> {
    let u = &st.units[idx];
    let node = &st.flow.nodes[u.unit.index()];
    let start = u.started.or(u.finished).unwrap_or_default();
    let end = u.finished.unwrap_or(start).max(start);
    let parent_node = node.after.first().map_or_else(|| st.flow.name.clone(), |&d| st.flow.nodes[d].id.clone());
    // A watched step that made no model call (a framework's wrapper span) is exported as the
    // step it was, not as a call of model "-".
    let call = u.decision.as_ref().is_none_or(|d| d.model != NO_MODEL);
    let mut attrs = if call {
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.agent.name", u.label.as_str()),
            i("gen_ai.request.max_tokens", u64::from(node.max_tokens)),
            s("openinference.span.kind", "LLM"),
        ]
    } else {
        vec![s("gen_ai.agent.name", u.label.as_str()), s("openinference.span.kind", "CHAIN")]
    };
    attrs.extend([
        s("graph.node.id", u.label.as_str()),
        s("graph.node.parent_id", parent_node),
        s("baton.node.kind", node.kind.as_str()),
        i("baton.node.complexity", u64::from(node.complexity)),
        s("baton.status", u.status.name()),
        i("baton.retries", u.retries.len() as u64),
        b("baton.cached", u.status == Status::Cached),
    ]);
    if u.unreported {
        // The token counts below, if any, are what was reported: lower bounds.
        attrs.push(b("baton.tokens_unreported", true));
    }
    if let Some(d) = u.decision.as_ref().filter(|_| call) {
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
        attrs.push(s("baton.model", model.id.to_string()));
    }
    if matches!(u.status, Status::Done | Status::Cached) {
        let us = &u.billed_usage;
        // A node whose calls reported no counts at all has no usage to state: zeros would read
        // as a free call in any tool the spans go to.
        if call && !(u.unreported && us.total_input() + us.output == 0) {
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
            ]);
            if st.unpriced(idx) {
                // The model has no price: no cost at all, rather than a cost of 0.
                attrs.push(b("baton.unpriced", true));
            } else {
                attrs.extend([
                    f("llm.cost.prompt", (u.cost.input + u.cost.cached).usd()),
                    f("llm.cost.completion", u.cost.output.usd()),
                    f("llm.cost.total", u.cost.total().usd()),
                ]);
            }
        }
        attrs.extend([
            Attr { key: "output.value", value: output },
            i("baton.checks.passed", u.checks_passed() as u64),
            i("baton.checks.total", u.checks.len() as u64),
        ]);
        if let Some(t) = u.ttft {
            attrs.push(f("baton.ttft_ms", t.as_secs_f64() * 1000.0));
        }
        let (p, d, hist) = u.attribution();
        attrs.extend([i("baton.context.prompt_tokens", p), i("baton.context.declared_tokens", d), i("baton.context.history_tokens", hist)]);
        let sources: Vec<String> = u
            .context()
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
        Status::Failed => SpanStatus { code: 2, message: Some(u.error.as_deref().unwrap_or_default()) },
        Status::Done | Status::Cached => SpanStatus { code: 1, message: None },
        _ => SpanStatus { code: 0, message: None },
    };
    let trace_id = trace.trace_id();
    let links =
        dependencies(st, idx).into_iter().map(|d| Link { span: trace.unit_id(st.units[d].unit), trace: trace_id.clone() }).collect();
    UnitSpan {
        attributes: attrs,
        end: trace.ns(end),
        kind: 3,
        links,
        name: if call { format!("chat {}", u.label) } else { u.label.clone() },
        parent: trace.root_id(),
        span: trace.unit_id(u.unit),
        start: trace.ns(start),
        status,
        trace: trace_id,
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

/// The spans of [`export_folded`], each built, written and dropped in turn.
struct SpansOf<'a> {
    st: &'a RunState,
    trace: Trace,
    /// Where the outputs are when the state holds none.
    outputs: Option<&'a OutputIndex>,
    count: std::cell::Cell<usize>,
}

/// Hands unit `idx`'s output to `f` as a span attribute's value: a finished unit's read from
/// the recording (the state was folded without outputs), its JSON string copied as the
/// recording holds it where that is how it would be written anyway; any other's from the state.
fn with_output<T>(st: &RunState, outputs: &OutputIndex, idx: usize, mut f: impl FnMut(AttrValue<'_>) -> T) -> std::io::Result<T> {
    let u = &st.units[idx];
    if !matches!(u.status, Status::Done | Status::Cached) {
        return Ok(f(AttrValue::Str(Cow::Borrowed(u.output()))));
    }
    let read = outputs.with_output_json(u.unit, |out| match out {
        Ok(json) => f(AttrValue::Json(json)),
        Err(text) => f(AttrValue::Str(Cow::Borrowed(text))),
    })?;
    // A unit done without a finish of its own (a fan-out's group) has no output.
    Ok(match read {
        Some(r) => r,
        None => f(AttrValue::Str(Cow::Borrowed(""))),
    })
}

impl Serialize for SpansOf<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(None)?;
        seq.serialize_element(&root_span(self.st, &self.trace))?;
        self.count.set(1);
        for idx in listed_units(self.st) {
            let mut element = |out: AttrValue| seq.serialize_element(&unit_span_of(self.st, &self.trace, idx, out));
            match self.outputs {
                Some(outputs) => with_output(self.st, outputs, idx, &mut element).map_err(serde::ser::Error::custom)??,
                None => element(AttrValue::Str(Cow::Borrowed(self.st.units[idx].output())))?,
            }
            self.count.set(self.count.get() + 1);
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The OTLP/JSON shapes of the four kinds of attribute, as the `Value` helpers wrote them
    /// before attributes were written straight to the output.
    #[test]
    fn attributes_keep_their_otlp_json_form() {
        let cases = [
            (s("a.b", "x \"y\"\n"), json!({"key": "a.b", "value": {"stringValue": "x \"y\"\n"}})),
            (i("n", u64::MAX), json!({"key": "n", "value": {"intValue": "18446744073709551615"}})),
            (f("c", 0.1 + 0.2), json!({"key": "c", "value": {"doubleValue": 0.1 + 0.2}})),
            (f("nan", f64::NAN), json!({"key": "nan", "value": {"doubleValue": null}})),
            (b("t", true), json!({"key": "t", "value": {"boolValue": true}})),
        ];
        for (attr, want) in cases {
            assert_eq!(serde_json::to_value(&attr).expect("value"), want);
            assert_eq!(serde_json::to_string_pretty(&attr).expect("text"), serde_json::to_string_pretty(&want).expect("text"));
        }
    }
}
