//! One received span, reduced on arrival to what Baton needs: identity, timing, and what the
//! semantic conventions say about it (role, step name, model, tokens). Attributes are read
//! once here and dropped, so an open trace costs a few hundred bytes per span, whatever the
//! instrumentation attached.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::{Span, status::StatusCode};

pub type TraceId = [u8; 16];
pub type SpanId = [u8; 8];

/// What a span is, by the conventions it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A model call: OpenInference `LLM`/`EMBEDDING`, GenAI `chat`/`text_completion`/...,
    /// OpenLLMetry `llm.request.type`.
    Llm,
    /// A step the instrumentation names as one: OpenInference `CHAIN`/`AGENT`/`TOOL`...,
    /// OpenLLMetry `traceloop.span.kind`, GenAI `invoke_agent`/`execute_tool`.
    Step(StepKind),
    /// An HTTP client hop: not a step of its own, its server side is.
    Hop,
    /// Anything else (the application's own spans, servers).
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// Chains are often nested plumbing (prompt templates, parsers): inside another step
    /// they merge into it.
    Chain,
    Agent,
    Tool,
    Task,
    Workflow,
}

impl StepKind {
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Chain => "chain",
            StepKind::Agent => "agent",
            StepKind::Tool => "tool",
            StepKind::Task => "task",
            StepKind::Workflow => "workflow",
        }
    }
}

/// Token counts as the instrumentation reported them (OpenAI semantics: `input` includes
/// cache reads and writes, `output` includes reasoning). `None` means not reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: Option<u64>,
    pub output: Option<u64>,
    pub cache_read: Option<u64>,
    pub cache_write: Option<u64>,
    pub reasoning: Option<u64>,
}

impl Tokens {
    pub fn any(&self) -> bool {
        self.input.is_some() || self.output.is_some()
    }

    /// Baton's usage: input billed at the full price excludes what the cache served or stored.
    pub fn usage(&self) -> crate::routing::Usage {
        let cached = self.cache_read.unwrap_or(0);
        let cache_write = self.cache_write.unwrap_or(0);
        crate::routing::Usage {
            input: self.input.unwrap_or(0).saturating_sub(cached + cache_write),
            cached,
            cache_write,
            output: self.output.unwrap_or(0),
            reasoning: self.reasoning.unwrap_or(0),
        }
    }
}

/// LangGraph's per-node metadata (OpenInference `metadata` JSON, or OpenLLMetry's
/// `traceloop.association.properties.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LangGraph {
    pub node: String,
    pub step: u32,
    pub triggers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpanRec {
    pub trace: TraceId,
    pub id: SpanId,
    pub parent: Option<SpanId>,
    /// The span's name, sanitised.
    pub name: String,
    /// OTLP span kind (1 internal, 2 server, 3 client, 4 producer, 5 consumer).
    pub kind: i32,
    pub start_ns: u64,
    pub end_ns: u64,
    /// `service.name` of the resource that sent it.
    pub service: std::sync::Arc<str>,
    /// The instrumentation scope's name.
    pub scope: std::sync::Arc<str>,
    pub role: Role,
    /// The step's own name when a convention gives one (LangGraph node, agent, entity, route).
    pub step_name: Option<String>,
    pub langgraph: Option<LangGraph>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub tokens: Tokens,
    pub error: Option<String>,
    /// Spans of the same trace this one links to (OTLP span links), at most 256.
    pub links: Vec<SpanId>,
    /// The span says its child spans are a DAG whose edges are their links (`baton.dag =
    /// "links"`, as Baton's own export writes): it is the run, not a step.
    pub dag_by_links: bool,
    /// When a streamed call's first chunk came, where the instrumentation records it as a span
    /// event ([`FIRST_TOKEN_EVENTS`]).
    pub first_token_ns: Option<u64>,
}

/// Span events that mark a stream's first chunk: OpenInference's `First Token Stream Event`
/// (added on the first chunk) and OpenLLMetry's `llm.content.completion.chunk` (one per chunk;
/// the earliest counts). No GenAI span attribute carries time to first token.
pub const FIRST_TOKEN_EVENTS: [&str; 2] = ["First Token Stream Event", "llm.content.completion.chunk"];

/// Removes what could drive a terminal: control characters (ESC, so CSI and OSC sequences
/// lose their introducer; BEL and C1 controls too) and bidirectional overrides; caps length.
pub fn sanitize(s: &str) -> String {
    const MAX: usize = 200;
    let mut out = String::with_capacity(s.len().min(MAX));
    for c in s.chars() {
        if out.len() >= MAX {
            out.push('…');
            break;
        }
        let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            if c == '\n' || c == '\t' {
                out.push(' ');
            }
            continue;
        }
        out.push(c);
    }
    out
}

fn as_str(v: &AnyValue) -> Option<&str> {
    match v.value.as_ref()? {
        Value::StringValue(s) => Some(s),
        _ => None,
    }
}

fn as_u64(v: &AnyValue) -> Option<u64> {
    match v.value.as_ref()? {
        Value::IntValue(i) => u64::try_from(*i).ok(),
        Value::DoubleValue(d) if *d >= 0.0 && d.is_finite() => Some(*d as u64),
        Value::StringValue(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Which token field an attribute feeds, in order of precedence within a field (a span that
/// carries both the new and the old GenAI names is counted once, from the first).
/// This table is the README's attribute table.
pub const TOKEN_ATTRIBUTES: &[(&str, Field)] = &[
    // OTel GenAI (current, then older names).
    ("gen_ai.usage.input_tokens", Field::Input),
    ("gen_ai.usage.prompt_tokens", Field::Input),
    ("gen_ai.usage.output_tokens", Field::Output),
    ("gen_ai.usage.completion_tokens", Field::Output),
    ("gen_ai.usage.cache_read.input_tokens", Field::CacheRead),
    ("gen_ai.usage.cache_read_input_tokens", Field::CacheRead),
    ("gen_ai.usage.cache_creation.input_tokens", Field::CacheWrite),
    ("gen_ai.usage.cache_creation_input_tokens", Field::CacheWrite),
    ("gen_ai.usage.reasoning.output_tokens", Field::Reasoning),
    ("gen_ai.usage.reasoning_tokens", Field::Reasoning),
    // OpenInference.
    ("llm.token_count.prompt", Field::Input),
    ("llm.token_count.completion", Field::Output),
    ("llm.token_count.prompt_details.cache_read", Field::CacheRead),
    ("llm.token_count.prompt_details.cache_write", Field::CacheWrite),
    ("llm.token_count.completion_details.reasoning", Field::Reasoning),
    // OpenLLMetry (Traceloop).
    ("llm.usage.prompt_tokens", Field::Input),
    ("llm.usage.completion_tokens", Field::Output),
    ("llm.usage.cache_read_input_tokens", Field::CacheRead),
    ("llm.usage.cache_creation_input_tokens", Field::CacheWrite),
    ("llm.usage.reasoning_tokens", Field::Reasoning),
];

/// Model attributes, most specific first: the response model names the exact version billed.
pub const MODEL_ATTRIBUTES: &[&str] =
    &["gen_ai.response.model", "llm.response.model", "llm.model_name", "gen_ai.request.model", "llm.request.model"];

const PROVIDER_ATTRIBUTES: &[&str] = &["gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Input,
    Output,
    CacheRead,
    CacheWrite,
    Reasoning,
}

/// Index of the attribute in a small fixed table, for precedence.
fn rank(table: &[&str], key: &str) -> Option<usize> {
    table.iter().position(|k| *k == key)
}

/// Reads the conventions off one OTLP span. `None` when its ids are malformed (the caller
/// counts it as rejected).
pub fn from_otlp(span: &Span, service: &std::sync::Arc<str>, scope: &std::sync::Arc<str>) -> Option<SpanRec> {
    let trace: TraceId = span.trace_id.as_slice().try_into().ok()?;
    let id: SpanId = span.span_id.as_slice().try_into().ok()?;
    if trace == [0; 16] || id == [0; 8] {
        return None;
    }
    let parent = match span.parent_span_id.len() {
        0 => None,
        8 => span.parent_span_id.as_slice().try_into().ok().filter(|p: &SpanId| *p != [0; 8]),
        _ => return None,
    };

    let mut oi_kind: Option<&str> = None;
    let mut gen_ai_op: Option<&str> = None;
    let mut traceloop_kind: Option<&str> = None;
    let mut llm_request_type = false;
    let mut agent_name: Option<&str> = None;
    let mut entity_name: Option<&str> = None;
    let mut route: Option<&str> = None;
    let mut http = false;
    let mut metadata: Option<&str> = None;
    let mut dag_by_links = false;
    let mut tl_lg_node: Option<&str> = None;
    let mut tl_lg_step: Option<u64> = None;
    let mut model: Option<(usize, &str)> = None;
    let mut provider: Option<(usize, &str)> = None;
    let mut tokens = Tokens::default();
    let mut token_rank = [usize::MAX; 5];

    for KeyValue { key, value, .. } in &span.attributes {
        let Some(v) = value.as_ref() else { continue };
        let k = key.as_str();
        // Cheap prefix dispatch first: most attributes are neither GenAI nor LLM ones.
        if k.starts_with("gen_ai.") || k.starts_with("llm.") {
            if let Some(r) = TOKEN_ATTRIBUTES.iter().position(|(a, _)| *a == k) {
                let field = TOKEN_ATTRIBUTES[r].1;
                let slot = field as usize;
                if r < token_rank[slot]
                    && let Some(n) = as_u64(v)
                {
                    token_rank[slot] = r;
                    let target = match field {
                        Field::Input => &mut tokens.input,
                        Field::Output => &mut tokens.output,
                        Field::CacheRead => &mut tokens.cache_read,
                        Field::CacheWrite => &mut tokens.cache_write,
                        Field::Reasoning => &mut tokens.reasoning,
                    };
                    *target = Some(n);
                }
                continue;
            }
            if let Some(r) = rank(MODEL_ATTRIBUTES, k) {
                if let Some(s) = as_str(v).filter(|s| !s.is_empty())
                    && model.is_none_or(|(best, _)| r < best)
                {
                    model = Some((r, s));
                }
                continue;
            }
            if let Some(r) = rank(PROVIDER_ATTRIBUTES, k) {
                if let Some(s) = as_str(v).filter(|s| !s.is_empty())
                    && provider.is_none_or(|(best, _)| r < best)
                {
                    provider = Some((r, s));
                }
                continue;
            }
            match k {
                "gen_ai.operation.name" => gen_ai_op = as_str(v),
                "gen_ai.agent.name" => agent_name = as_str(v),
                "llm.request.type" => llm_request_type = true,
                _ => {}
            }
            continue;
        }
        match k {
            "openinference.span.kind" => oi_kind = as_str(v),
            "traceloop.span.kind" => traceloop_kind = as_str(v),
            "traceloop.entity.name" => entity_name = as_str(v),
            "traceloop.association.properties.langgraph_node" => tl_lg_node = as_str(v),
            "traceloop.association.properties.langgraph_step" => tl_lg_step = as_u64(v),
            "metadata" => metadata = as_str(v),
            "baton.dag" => dag_by_links = as_str(v) == Some("links"),
            "http.route" => route = as_str(v),
            "http.method" | "http.request.method" => http = true,
            _ => {}
        }
    }

    let role = match (oi_kind.map(str::to_ascii_uppercase).as_deref(), gen_ai_op, traceloop_kind) {
        (Some("LLM" | "EMBEDDING"), _, _) => Role::Llm,
        (_, Some("chat" | "text_completion" | "generate_content" | "completion" | "embeddings"), _) => Role::Llm,
        (_, _, Some("llm")) => Role::Llm,
        (Some("AGENT"), _, _) | (_, Some("invoke_agent" | "create_agent"), _) | (_, _, Some("agent")) => Role::Step(StepKind::Agent),
        (Some("TOOL"), _, _) | (_, Some("execute_tool"), _) | (_, _, Some("tool")) => Role::Step(StepKind::Tool),
        (_, _, Some("workflow")) | (_, Some("invoke_workflow"), _) => Role::Step(StepKind::Workflow),
        (_, _, Some("task")) => Role::Step(StepKind::Task),
        (Some("CHAIN" | "RETRIEVER" | "RERANKER" | "GUARDRAIL" | "EVALUATOR"), _, _) => Role::Step(StepKind::Chain),
        _ if llm_request_type => Role::Llm,
        _ if span.kind == 3 && http => Role::Hop,
        _ => Role::Plain,
    };

    let langgraph = metadata
        .and_then(langgraph_from_metadata)
        .or_else(|| Some(LangGraph { node: sanitize(tl_lg_node?), step: tl_lg_step.unwrap_or(0) as u32, triggers: Vec::new() }));
    let step_name = langgraph
        .as_ref()
        .map(|l| l.node.clone())
        .or_else(|| agent_name.map(sanitize))
        .or_else(|| entity_name.map(sanitize))
        .or_else(|| if span.kind == 2 { route.map(sanitize) } else { None });
    let error = span
        .status
        .as_ref()
        .filter(|s| s.code == StatusCode::Error as i32)
        .map(|s| if s.message.is_empty() { "the span's status is ERROR".to_string() } else { sanitize(&s.message) });
    Some(SpanRec {
        trace,
        id,
        parent,
        name: sanitize(&span.name),
        kind: span.kind,
        start_ns: span.start_time_unix_nano,
        end_ns: span.end_time_unix_nano.max(span.start_time_unix_nano),
        service: service.clone(),
        scope: scope.clone(),
        role,
        step_name,
        langgraph,
        model: model.map(|(_, m)| sanitize(m)),
        provider: provider.map(|(_, p)| sanitize(p)),
        tokens,
        error,
        links: span
            .links
            .iter()
            .filter(|l| l.trace_id == span.trace_id)
            .filter_map(|l| l.span_id.as_slice().try_into().ok())
            .take(256)
            .collect(),
        dag_by_links,
        first_token_ns: span
            .events
            .iter()
            .filter(|e| FIRST_TOKEN_EVENTS.contains(&e.name.as_str()) && e.time_unix_nano >= span.start_time_unix_nano)
            .map(|e| e.time_unix_nano)
            .min(),
    })
}

/// LangGraph's metadata JSON: `{"langgraph_step": 3, "langgraph_node": "writer",
/// "langgraph_triggers": [...]}`.
fn langgraph_from_metadata(text: &str) -> Option<LangGraph> {
    if !text.contains("langgraph_node") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let node = v.get("langgraph_node")?.as_str()?;
    let step = v.get("langgraph_step").and_then(serde_json::Value::as_u64).unwrap_or(0) as u32;
    let triggers = v
        .get("langgraph_triggers")
        .and_then(serde_json::Value::as_array)
        .map(|a| a.iter().filter_map(|t| t.as_str().map(sanitize)).collect())
        .unwrap_or_default();
    Some(LangGraph { node: sanitize(node), step, triggers })
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_strips_escape_sequences_and_controls() {
        assert_eq!(sanitize("a\u{1b}]0;pwned\u{7}b"), "a]0;pwnedb");
        assert_eq!(sanitize("x\u{1b}[31mred"), "x[31mred");
        assert_eq!(sanitize("\u{9b}2Jline\nnext"), "2Jline next");
        assert_eq!(sanitize("ab\u{202E}cd"), "abcd");
        assert!(sanitize(&"x".repeat(1000)).chars().count() <= 201);
    }

    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};

    fn kv(k: &str, v: Value) -> KeyValue {
        KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
    }

    fn s(k: &str, v: &str) -> KeyValue {
        kv(k, Value::StringValue(v.into()))
    }

    fn i(k: &str, v: i64) -> KeyValue {
        kv(k, Value::IntValue(v))
    }

    #[track_caller]
    fn read(kind: i32, attrs: Vec<KeyValue>) -> SpanRec {
        let span = Span { trace_id: vec![1; 16], span_id: vec![2; 8], name: "x".into(), kind, attributes: attrs, ..Default::default() };
        from_otlp(&span, &"svc".into(), &"scope".into()).expect("valid ids")
    }

    #[track_caller]
    fn tokens(t: Tokens, want: [Option<u64>; 5]) {
        assert_eq!([t.input, t.output, t.cache_read, t.cache_write, t.reasoning], want);
    }

    #[test]
    fn each_convention_family_is_read() {
        // OTel GenAI, current names, Anthropic-style cache counts.
        let r = read(
            3,
            vec![
                s("gen_ai.operation.name", "chat"),
                s("gen_ai.request.model", "claude-sonnet-4-5"),
                s("gen_ai.response.model", "claude-sonnet-4-5-20250929"),
                i("gen_ai.usage.input_tokens", 1000),
                i("gen_ai.usage.output_tokens", 200),
                i("gen_ai.usage.cache_read.input_tokens", 600),
                i("gen_ai.usage.cache_creation.input_tokens", 100),
            ],
        );
        assert_eq!(r.role, Role::Llm);
        assert_eq!(r.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
        tokens(r.tokens, [Some(1000), Some(200), Some(600), Some(100), None]);
        assert_eq!(r.tokens.usage().input, 300);

        // OTel GenAI, older names; the newer one wins when both are present.
        let r = read(
            3,
            vec![
                s("gen_ai.system", "openai"),
                i("gen_ai.usage.prompt_tokens", 7),
                i("gen_ai.usage.completion_tokens", 3),
                s("llm.request.type", "chat"),
            ],
        );
        assert_eq!(r.role, Role::Llm);
        tokens(r.tokens, [Some(7), Some(3), None, None, None]);
        let r = read(3, vec![i("gen_ai.usage.prompt_tokens", 7), i("gen_ai.usage.input_tokens", 9), s("gen_ai.operation.name", "chat")]);
        assert_eq!(r.tokens.input, Some(9));

        // OpenInference, with details.
        let r = read(
            1,
            vec![
                s("openinference.span.kind", "LLM"),
                s("llm.model_name", "gpt-4o-mini"),
                i("llm.token_count.prompt", 190),
                i("llm.token_count.completion", 120),
                i("llm.token_count.prompt_details.cache_read", 128),
                i("llm.token_count.prompt_details.cache_write", 2),
                i("llm.token_count.completion_details.reasoning", 32),
            ],
        );
        assert_eq!(r.role, Role::Llm);
        tokens(r.tokens, [Some(190), Some(120), Some(128), Some(2), Some(32)]);

        // OpenLLMetry: llm.usage.* on an LLM span, workflow/task/agent/tool spans as steps.
        let r = read(
            3,
            vec![
                s("traceloop.span.kind", "llm"),
                s("llm.request.model", "gpt-4o"),
                i("llm.usage.prompt_tokens", 50),
                i("llm.usage.completion_tokens", 5),
                i("llm.usage.cache_read_input_tokens", 10),
                i("llm.usage.reasoning_tokens", 2),
            ],
        );
        assert_eq!(r.role, Role::Llm);
        tokens(r.tokens, [Some(50), Some(5), Some(10), None, Some(2)]);
        for (k, want) in [("workflow", StepKind::Workflow), ("task", StepKind::Task), ("agent", StepKind::Agent), ("tool", StepKind::Tool)]
        {
            let r = read(1, vec![s("traceloop.span.kind", k), s("traceloop.entity.name", "plan_trip")]);
            assert_eq!(r.role, Role::Step(want));
            assert_eq!(r.step_name.as_deref(), Some("plan_trip"));
        }
        let r = read(
            1,
            vec![
                s("traceloop.span.kind", "task"),
                s("traceloop.association.properties.langgraph_node", "writer"),
                i("traceloop.association.properties.langgraph_step", 3),
            ],
        );
        assert_eq!(r.langgraph.as_ref().map(|l| (l.node.as_str(), l.step)), Some(("writer", 3)));

        // GenAI agents and tools; HTTP client hops; plain spans.
        assert_eq!(
            read(1, vec![s("gen_ai.operation.name", "invoke_agent"), s("gen_ai.agent.name", "triage")]).step_name.as_deref(),
            Some("triage")
        );
        assert_eq!(read(1, vec![s("gen_ai.operation.name", "execute_tool")]).role, Role::Step(StepKind::Tool));
        assert_eq!(read(3, vec![s("http.request.method", "POST")]).role, Role::Hop);
        assert_eq!(read(2, vec![s("http.route", "/answer")]).step_name.as_deref(), Some("/answer"));
        assert_eq!(read(1, vec![]).role, Role::Plain);
    }

    #[test]
    fn hostile_text_is_sanitised_on_arrival() {
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "evil\u{1b}]52;c;cGF5bG9hZA==\u{7}name".into(),
            attributes: vec![s("gen_ai.operation.name", "chat"), s("gen_ai.request.model", "gpt\u{1b}[2J-4o")],
            ..Default::default()
        };
        let r = from_otlp(&span, &"svc\u{1b}[31m".into(), &"scope".into()).expect("valid");
        assert!(!r.name.contains('\u{1b}') && !r.name.contains('\u{7}'));
        assert_eq!(r.model.as_deref(), Some("gpt[2J-4o"));
        let bad = Span { trace_id: vec![1; 3], span_id: vec![2; 8], ..Default::default() };
        assert!(from_otlp(&bad, &"s".into(), &"s".into()).is_none());
        let zero = Span { trace_id: vec![0; 16], span_id: vec![2; 8], ..Default::default() };
        assert!(from_otlp(&zero, &"s".into(), &"s".into()).is_none());
    }

    #[test]
    fn openai_semantics_become_baton_usage() {
        let t = Tokens { input: Some(190), output: Some(120), cache_read: Some(128), cache_write: None, reasoning: Some(32) };
        let u = t.usage();
        assert_eq!((u.input, u.cached, u.output, u.reasoning), (62, 128, 120, 32));
        assert_eq!(u.total_input(), 190);
    }

    #[test]
    fn the_first_chunk_event_gives_time_to_first_token() {
        use opentelemetry_proto::tonic::trace::v1::span::Event;
        let ev = |name: &str, t: u64| Event { name: name.into(), time_unix_nano: t, ..Default::default() };
        let mut span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "x".into(),
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 9_000,
            ..Default::default()
        };
        let read = |s: &Span| from_otlp(s, &"svc".into(), &"scope".into()).expect("valid").first_token_ns;
        assert_eq!(read(&span), None, "nothing reported");
        // OpenInference: one event on the first chunk.
        span.events = vec![ev("First Token Stream Event", 3_000)];
        assert_eq!(read(&span), Some(3_000));
        // OpenLLMetry: an event per chunk; the earliest counts, whatever the order sent.
        span.events = vec![ev("llm.content.completion.chunk", 5_000), ev("llm.content.completion.chunk", 4_000), ev("other", 2_000)];
        assert_eq!(read(&span), Some(4_000));
        // An event stamped before the span began is not believed.
        span.events = vec![ev("First Token Stream Event", 500)];
        assert_eq!(read(&span), None);
    }
}
