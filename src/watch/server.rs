//! The OTLP receivers: HTTP (`POST /v1/traces`, protobuf or JSON, gzip) and gRPC
//! (`TraceService/Export`). Both decode a request into spans and hand them to the watch loop
//! over a bounded channel (a full channel makes exporters wait, which bounds memory). Answers
//! follow the OTLP spec: 200 with an empty or partial-success body, 400 with a status message
//! for a malformed body, 413 for an oversized one, 415 for an unknown content type, 401 without
//! the bearer token when one is required. A bad request never stops a receiver.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::decode::{DecodeError, Encoding, body_to_spans, spans};
use super::span::SpanRec;

/// Where and how to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// OTLP/HTTP address; `None` turns the HTTP receiver off.
    pub http: Option<SocketAddr>,
    /// OTLP/gRPC address; `None` turns the gRPC receiver off.
    pub grpc: Option<SocketAddr>,
    /// Largest request body, compressed or not, in bytes.
    pub max_body: usize,
    /// When set, every request must carry `Authorization: Bearer <token>`.
    pub token: Option<String>,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            http: Some(SocketAddr::from(([127, 0, 0, 1], 4318))),
            grpc: Some(SocketAddr::from(([127, 0, 0, 1], 4317))),
            max_body: 8 << 20,
            token: None,
        }
    }
}

/// A batch of spans from one request.
pub type Batch = Vec<SpanRec>;

/// The bound receivers (with the ports the system chose for port 0).
#[derive(Debug)]
pub struct Receivers {
    pub http: Option<SocketAddr>,
    pub grpc: Option<SocketAddr>,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "cannot listen for OTLP/{what} on {addr}: {source}\n  help: another collector may hold the port; choose another with --{flag} ADDR, or port 0 for any"
    )]
    Bind { what: &'static str, flag: &'static str, addr: SocketAddr, source: std::io::Error },
}

/// google.rpc.Status, the body OTLP/HTTP errors carry: the push's own type.
use crate::record::push::RpcStatus;

struct HttpState {
    tx: mpsc::Sender<Batch>,
    token: Option<String>,
    max_body: usize,
}

fn authorized(token: Option<&str>, value: Option<&str>) -> bool {
    let Some(token) = token else { return true };
    let Some(v) = value.and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer "))) else { return false };
    // Compare without an early exit, so timing does not reveal how much of a guess was right.
    v.len() == token.len() && v.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

fn error(status: StatusCode, enc: Encoding, message: String) -> Response {
    // gRPC code 3 is INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 16 UNAUTHENTICATED, 14 UNAVAILABLE.
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => 8,
        StatusCode::UNAUTHORIZED => 16,
        StatusCode::SERVICE_UNAVAILABLE => 14,
        _ => 3,
    };
    let (ct, body) = match enc {
        Encoding::Protobuf => ("application/x-protobuf", RpcStatus { code, message }.encode_to_vec()),
        Encoding::Json => ("application/json", serde_json::json!({ "code": code, "message": message }).to_string().into_bytes()),
    };
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(ct))], body).into_response()
}

fn success(enc: Encoding, rejected: u64) -> Response {
    let partial = (rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: rejected as i64,
        error_message: format!("{rejected} spans had a trace id that is not 16 bytes or a span id that is not 8 bytes, or all zeros"),
    });
    let (ct, body) = match enc {
        Encoding::Protobuf => ("application/x-protobuf", ExportTraceServiceResponse { partial_success: partial }.encode_to_vec()),
        Encoding::Json => (
            "application/json",
            match partial {
                Some(p) => serde_json::json!({"partialSuccess": {"rejectedSpans": p.rejected_spans, "errorMessage": p.error_message}}),
                None => serde_json::json!({}),
            }
            .to_string()
            .into_bytes(),
        ),
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static(ct))], body).into_response()
}

async fn post_traces(State(st): State<Arc<HttpState>>, headers: HeaderMap, body: Bytes) -> Response {
    let text = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    let ct = text(header::CONTENT_TYPE).unwrap_or("");
    let Some(enc) = Encoding::from_content_type(ct) else {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Encoding::Json,
            format!("content-type '{}' is not OTLP; send application/x-protobuf or application/json", super::span::sanitize(ct)),
        );
    };
    if !authorized(st.token.as_deref(), text(header::AUTHORIZATION)) {
        let mut r = error(StatusCode::UNAUTHORIZED, enc, "this receiver needs 'Authorization: Bearer <token>' (see --token-env)".into());
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    match body_to_spans(&body, enc, text(header::CONTENT_ENCODING), st.max_body) {
        Ok((batch, rejected)) => {
            if !batch.is_empty() && st.tx.send(batch).await.is_err() {
                return error(StatusCode::SERVICE_UNAVAILABLE, enc, "the receiver is shutting down".into());
            }
            success(enc, rejected)
        }
        Err(e @ DecodeError::TooLarge { .. }) => error(StatusCode::PAYLOAD_TOO_LARGE, enc, e.to_string()),
        Err(e) => error(StatusCode::BAD_REQUEST, enc, e.to_string()),
    }
}

async fn wrong_path() -> Response {
    error(StatusCode::NOT_FOUND, Encoding::Json, "Baton receives traces only, at POST /v1/traces".into())
}

struct GrpcService {
    tx: mpsc::Sender<Batch>,
    token: Option<String>,
}

#[tonic::async_trait]
impl TraceService for GrpcService {
    async fn export(
        &self,
        req: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let auth = req.metadata().get("authorization").and_then(|v| v.to_str().ok());
        if !authorized(self.token.as_deref(), auth) {
            return Err(tonic::Status::unauthenticated("this receiver needs 'authorization: Bearer <token>' metadata (see --token-env)"));
        }
        let (batch, rejected) = spans(req.get_ref());
        if !batch.is_empty() && self.tx.send(batch).await.is_err() {
            return Err(tonic::Status::unavailable("the receiver is shutting down"));
        }
        let partial_success = (rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: rejected as i64,
            error_message: format!("{rejected} spans had malformed trace or span ids"),
        });
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success }))
    }
}

/// Binds the receivers and serves until `shutdown`.
pub async fn start(cfg: &ReceiverConfig, tx: mpsc::Sender<Batch>, shutdown: CancellationToken) -> Result<Receivers, ServeError> {
    let mut out = Receivers { http: None, grpc: None, tasks: Vec::new() };
    if let Some(addr) = cfg.http {
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { what: "HTTP", flag: "http", addr, source })?;
        out.http = listener.local_addr().ok();
        let st = Arc::new(HttpState { tx: tx.clone(), token: cfg.token.clone(), max_body: cfg.max_body });
        let app = Router::new()
            .route("/v1/traces", axum::routing::post(post_traces))
            .fallback(wrong_path)
            .layer(DefaultBodyLimit::max(cfg.max_body))
            .with_state(st);
        let stop = shutdown.clone();
        out.tasks.push(tokio::spawn(async move {
            // Errors on single connections are handled inside; serve returns only at shutdown.
            let _ = axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await }).await;
        }));
    }
    if let Some(addr) = cfg.grpc {
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { what: "gRPC", flag: "grpc", addr, source })?;
        out.grpc = listener.local_addr().ok();
        let svc = TraceServiceServer::new(GrpcService { tx: tx.clone(), token: cfg.token.clone() })
            .max_decoding_message_size(cfg.max_body)
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let stop = shutdown.clone();
        out.tasks.push(tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming_shutdown(incoming, async move { stop.cancelled().await })
                .await;
        }));
    }
    Ok(out)
}

/// Whether an address is loopback (the default; anything else needs an explicit flag).
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        assert!(authorized(None, None));
        assert!(authorized(Some("s3cret"), Some("Bearer s3cret")));
        assert!(!authorized(Some("s3cret"), Some("Bearer s3cre")));
        assert!(!authorized(Some("s3cret"), Some("s3cret")));
        assert!(!authorized(Some("s3cret"), None));
    }
}
