use super::*;

fn feed(kind: ProviderKind, events: &[&str]) -> (String, StreamState) {
    let mut st = StreamState::default();
    let mut text = String::new();
    for e in events {
        if let Some(t) = on_event(kind, &mut st, &Sse { data: e.to_string(), ..Sse::default() }).expect("event parses") {
            text.push_str(&t);
        }
    }
    (text, st)
}

/// OpenAI's documented shape: the final chunk has empty choices and the usage, with cached
/// prompt tokens and reasoning tokens in the details.
#[test]
fn openai_usage_with_cache_and_reasoning() {
    let (text, st) = feed(
        ProviderKind::Openai,
        &[
            r#"{"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"#,
            r#"{"id":"c1","choices":[],"usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920},"completion_tokens_details":{"reasoning_tokens":192}}}"#,
            "[DONE]",
        ],
    );
    assert_eq!(text, "Hello");
    assert!(st.finished);
    assert_eq!(st.usage, Usage { input: 86, cached: 1920, cache_write: 0, output: 300, reasoning: 192 });
    // gpt-5: $1.25/M input, $0.125/M cached, $10/M output (reasoning billed as output).
    let p = crate::routing::Prices {
        input: crate::money::PerMillion::from_usd_per_million(1.25),
        cached_input: crate::money::PerMillion::from_usd_per_million(0.125),
        cache_write: crate::money::PerMillion::from_usd_per_million(1.25),
        output: crate::money::PerMillion::from_usd_per_million(10.0),
        reasoning: None,
    };
    // 86 × 1.25e-6 + 1920 × 0.125e-6 + 300 × 10e-6 = 0.0001075 + 0.00024 + 0.003
    assert_eq!(p.cost(&st.usage).total(), crate::money::Money::from_usd(0.0033475));
}

/// Anthropic's documented stream: usage in message_start (cache read and creation apart
/// from input_tokens), cumulative output in message_delta.
#[test]
fn anthropic_usage_with_cache_read_and_write() {
    let (text, st) = feed(
        ProviderKind::Anthropic,
        &[
            r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":1000,"cache_read_input_tokens":2000,"output_tokens":1}}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"ping"}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
            r#"{"type":"message_stop"}"#,
        ],
    );
    assert_eq!(text, "Hello!");
    assert_eq!(st.usage, Usage { input: 25, cached: 2000, cache_write: 1000, output: 15, reasoning: 0 });
    // Sonnet 4.5: $3/M input, $0.30/M cache read, $3.75/M cache write, $15/M output.
    let cat = Catalog::builtin();
    let c = cat.cost("claude-sonnet-4-5", &st.usage);
    // 25 × 3e-6 = 0.000075; 2000 × 0.3e-6 + 1000 × 3.75e-6 = 0.0006 + 0.00375; 15 × 15e-6 = 0.000225
    assert_eq!(c.input, crate::money::Money::from_usd(0.000075));
    assert_eq!(c.cached, crate::money::Money::from_usd(0.00435));
    assert_eq!(c.output, crate::money::Money::from_usd(0.000225));
}

/// Gemini's usageMetadata: promptTokenCount includes cached content, thoughts are output.
#[test]
fn gemini_usage_with_cache_and_thoughts() {
    let (text, st) = feed(
        ProviderKind::Gemini,
        &[
            r#"{"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":1200,"totalTokenCount":1200},"modelVersion":"gemini-2.5-flash"}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":"lo"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":1200,"candidatesTokenCount":40,"cachedContentTokenCount":1000,"thoughtsTokenCount":100,"totalTokenCount":1340}}"#,
        ],
    );
    assert_eq!(text, "Hello");
    assert_eq!(st.usage, Usage { input: 200, cached: 1000, cache_write: 0, output: 140, reasoning: 100 });
    // 2.5 Flash: $0.30/M input, $0.03/M cached, $2.50/M output.
    let c = Catalog::builtin().cost("gemini-2.5-flash", &st.usage);
    assert_eq!(c.total(), crate::money::Money::from_usd(200.0 * 0.30e-6 + 1000.0 * 0.03e-6 + 140.0 * 2.50e-6));
}

#[test]
fn errors_map_to_what_the_engine_does_next() {
    let cat = Catalog::builtin();
    let m = cat.get("gpt-5-nano").expect("model");
    let e = status_error(m, 401, r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#, None);
    assert_eq!(e.kind, ErrorKind::Auth);
    assert!(e.message.contains("check OPENAI_API_KEY"), "{}", e.message);
    assert!(!e.retryable());
    let e = status_error(
        m,
        400,
        r#"{"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded"}}"#,
        None,
    );
    assert_eq!(e.kind, ErrorKind::ContextOverflow);
    let e = status_error(m, 429, "{}", Some(Duration::from_secs(7)));
    assert!(e.retryable() && e.retry_after == Some(Duration::from_secs(7)));
    assert_eq!(status_error(m, 503, "overloaded", None).kind, ErrorKind::Server);
    assert_eq!(status_error(m, 400, r#"{"error":{"message":"bad temperature"}}"#, None).kind, ErrorKind::BadRequest);
    let mut st = StreamState::default();
    let e = on_event(ProviderKind::Openai, &mut st, &Sse { data: "{not json".into(), ..Sse::default() }).expect_err("malformed");
    assert_eq!(e.kind, ErrorKind::Protocol);
    let e = on_event(
        ProviderKind::Anthropic,
        &mut st,
        &Sse { data: r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#.into(), ..Sse::default() },
    )
    .expect_err("error event");
    assert_eq!(e.kind, ErrorKind::Server);
}
