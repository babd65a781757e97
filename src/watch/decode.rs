//! OTLP request bodies to spans: protobuf or JSON, plain or gzip. Every failure says what was
//! wrong with the body and how to send it right; the receiver answers it as a 400 and carries on.

use std::io::Read;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::span::{SpanRec, from_otlp, sanitize};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// From a Content-Type header; `None` for a type OTLP/HTTP does not define (answer 415).
    pub fn from_content_type(ct: &str) -> Option<Encoding> {
        let base = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match base.as_str() {
            "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
            "application/json" => Some(Encoding::Json),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("content-encoding '{0}' is not supported\n  help: send the body uncompressed or with gzip")]
    Encoding(String),
    #[error("the gzip body does not decompress: {0}")]
    Gzip(String),
    #[error(
        "the body is larger than the limit of {limit} bytes once decompressed\n  help: lower the exporter's batch size, or raise --max-body"
    )]
    TooLarge { limit: usize },
    #[error("not an OTLP ExportTraceServiceRequest in protobuf: {0}")]
    Protobuf(String),
    #[error(
        "not an OTLP/JSON ExportTraceServiceRequest: {0}\n  help: OTLP/JSON uses camelCase keys (resourceSpans, scopeSpans, traceId) and lowercase hex ids, not base64"
    )]
    Json(String),
    #[error(
        "the JSON body uses snake_case keys ('resource_spans'), which OTLP/JSON does not: no span would be read\n  help: send camelCase keys (resourceSpans, scopeSpans, traceId, spanId) as the OTLP/JSON spec says"
    )]
    SnakeCase,
}

/// Undoes the content encoding, refusing to inflate past `limit` bytes (a small gzip body can
/// expand to gigabytes).
pub fn decompress<'a>(body: &'a [u8], content_encoding: Option<&str>, limit: usize) -> Result<std::borrow::Cow<'a, [u8]>, DecodeError> {
    match content_encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "identity") => Ok(std::borrow::Cow::Borrowed(body)),
        Some("gzip" | "x-gzip") => {
            let mut out = Vec::with_capacity(body.len() * 4);
            let mut dec = flate2::read::GzDecoder::new(body).take(limit as u64 + 1);
            dec.read_to_end(&mut out).map_err(|e| DecodeError::Gzip(e.to_string()))?;
            if out.len() > limit {
                return Err(DecodeError::TooLarge { limit });
            }
            Ok(std::borrow::Cow::Owned(out))
        }
        Some(other) => Err(DecodeError::Encoding(sanitize(other))),
    }
}

/// Decodes a (decompressed) body.
pub fn decode(body: &[u8], enc: Encoding) -> Result<ExportTraceServiceRequest, DecodeError> {
    match enc {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body).map_err(|e| DecodeError::Protobuf(e.to_string())),
        Encoding::Json => {
            let req: ExportTraceServiceRequest = serde_json::from_slice(body).map_err(|e| DecodeError::Json(sanitize(&e.to_string())))?;
            // serde's defaults make a snake_case body an empty request without complaint.
            if req.resource_spans.is_empty() && memchr_snake(body) {
                return Err(DecodeError::SnakeCase);
            }
            Ok(req)
        }
    }
}

fn memchr_snake(body: &[u8]) -> bool {
    body.windows(b"\"resource_spans\"".len()).any(|w| w == b"\"resource_spans\"")
}

/// The spans of a request, and how many were rejected for malformed ids.
pub fn spans(req: &ExportTraceServiceRequest) -> (Vec<SpanRec>, u64) {
    let mut out = Vec::new();
    let mut rejected = 0;
    for rs in &req.resource_spans {
        let service: Arc<str> = rs
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s) => Some(sanitize(s)),
                _ => None,
            })
            .unwrap_or_else(|| "unknown_service".to_string())
            .into();
        for ss in &rs.scope_spans {
            let scope: Arc<str> = sanitize(ss.scope.as_ref().map_or("", |s| s.name.as_str())).into();
            out.reserve(ss.spans.len());
            for sp in &ss.spans {
                match from_otlp(sp, &service, &scope) {
                    Some(s) => out.push(s),
                    None => rejected += 1,
                }
            }
        }
    }
    (out, rejected)
}

/// Decompresses, decodes and reduces a body in one go.
pub fn body_to_spans(body: &[u8], enc: Encoding, content_encoding: Option<&str>, limit: usize) -> Result<(Vec<SpanRec>, u64), DecodeError> {
    let raw = decompress(body, content_encoding, limit)?;
    let req = decode(&raw, enc)?;
    Ok(spans(&req))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(Encoding::from_content_type("application/x-protobuf"), Some(Encoding::Protobuf));
        assert_eq!(Encoding::from_content_type("application/json; charset=utf-8"), Some(Encoding::Json));
        assert_eq!(Encoding::from_content_type("text/plain"), None);
    }

    #[test]
    fn snake_case_json_is_refused_not_read_as_empty() {
        let body = br#"{"resource_spans":[{"scope_spans":[]}]}"#;
        assert_eq!(decode(body, Encoding::Json), Err(DecodeError::SnakeCase));
        let ok = br#"{"resourceSpans":[]}"#;
        assert!(decode(ok, Encoding::Json).is_ok());
    }

    #[test]
    fn base64_ids_are_refused_with_a_hint() {
        let body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"OWhuvoXkOODFEQeLosS8+Q==","spanId":"sIp8RE9wwFo=","name":"x"}]}]}]}"#;
        let e = decode(body, Encoding::Json).expect_err("base64 ids");
        assert!(e.to_string().contains("hex"), "{e}");
    }

    #[test]
    fn gzip_bombs_stop_at_the_limit() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 1 << 20]).expect("write");
        let gz = enc.finish().expect("finish");
        assert_eq!(decompress(&gz, Some("gzip"), 1000).map(|_| ()), Err(DecodeError::TooLarge { limit: 1000 }));
        assert!(matches!(decompress(b"nope", Some("br"), 10), Err(DecodeError::Encoding(_))));
        assert!(matches!(decompress(b"nope", Some("gzip"), 10), Err(DecodeError::Gzip(_))));
    }
}
