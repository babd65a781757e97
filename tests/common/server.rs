//! A scripted HTTP server on 127.0.0.1 (a port the OS picks) for provider tests: each request
//! gets the next scripted reply, byte for byte, with pauses, resets and stalls where asked.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One scripted reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Body pieces, each sent after its pause.
    pub pieces: Vec<(Duration, Vec<u8>)>,
    /// After the pieces: reset the connection instead of closing it cleanly.
    pub reset: bool,
    /// After the pieces: keep the connection open and silent this long.
    pub stall: Option<Duration>,
}

impl Reply {
    pub fn sse(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "text/event-stream".into())],
            pieces: vec![(Duration::ZERO, body.into())],
            reset: false,
            stall: None,
        }
    }

    /// An SSE body sent in pieces with a pause before each.
    pub fn sse_slow(pieces: Vec<(Duration, String)>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "text/event-stream".into())],
            pieces: pieces.into_iter().map(|(d, s)| (d, s.into_bytes())).collect(),
            reset: false,
            stall: None,
        }
    }

    pub fn status(code: u16, body: &str) -> Reply {
        Reply {
            status: code,
            headers: vec![("Content-Type".into(), "application/json".into())],
            pieces: vec![(Duration::ZERO, body.as_bytes().to_vec())],
            reset: false,
            stall: None,
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type Script = Arc<dyn Fn(&Seen, usize) -> Reply + Send + Sync>;

pub struct Server {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    /// Replies from a queue in order; when it runs dry, `default` answers.
    pub fn queue(replies: Vec<Reply>, default: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Server {
        let q = Arc::new(Mutex::new(VecDeque::from(replies)));
        Server::start(Arc::new(move |seen, _| q.lock().expect("lock").pop_front().unwrap_or_else(|| default(seen))))
    }

    /// Every request answered by a function of the request.
    pub fn func(f: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Server {
        Server::start(Arc::new(move |seen, _| f(seen)))
    }

    fn start(script: Script) -> Server {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = seen.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                tx.send(listener.local_addr().expect("addr")).expect("send addr");
                let mut n = 0;
                loop {
                    let Ok((mut sock, _)) = listener.accept().await else { return };
                    let script = script.clone();
                    let log = log.clone();
                    let k = n;
                    n += 1;
                    tokio::spawn(async move {
                        let Some(req) = read_request(&mut sock).await else { return };
                        log.lock().expect("lock").push(req.clone());
                        let r = script(&req, k);
                        let mut head = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", r.status);
                        for (k, v) in &r.headers {
                            head.push_str(&format!("{k}: {v}\r\n"));
                        }
                        head.push_str("\r\n");
                        if sock.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        for (pause, bytes) in &r.pieces {
                            tokio::time::sleep(*pause).await;
                            if sock.write_all(bytes).await.is_err() {
                                return;
                            }
                            let _ = sock.flush().await;
                        }
                        if let Some(d) = r.stall {
                            tokio::time::sleep(d).await;
                        }
                        if r.reset {
                            // A zero linger makes the close an RST, as a crashed peer's would;
                            // with zero it never blocks (the deprecation is about non-zero).
                            #[allow(deprecated)]
                            let _ = sock.set_linger(Some(Duration::ZERO));
                            drop(sock);
                        } else {
                            let _ = sock.shutdown().await;
                        }
                    });
                }
            });
        });
        let addr = rx.recv().expect("server started");
        Server { addr, seen }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_string();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
    let len: usize = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..(head_end + len).min(buf.len())]).to_string();
    Some(Seen { path, headers, body })
}

/// SSE transcripts as the providers document them.
pub mod transcript {
    pub fn openai(text: &[&str], prompt: u64, completion: u64, cached: u64, reasoning: u64) -> String {
        let mut s = String::from(": keep-alive\n\n");
        s.push_str("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\r\n\r\n");
        for t in text {
            s.push_str(&format!(
                "data: {{\"id\":\"c\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{}}},\"finish_reason\":null}}]}}\n\n",
                serde_json::to_string(t).expect("json")
            ));
        }
        s.push_str("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
        s.push_str(&format!(
            "data: {{\"id\":\"c\",\"choices\":[],\"usage\":{{\"prompt_tokens\":{prompt},\"completion_tokens\":{completion},\"total_tokens\":{},\"prompt_tokens_details\":{{\"cached_tokens\":{cached}}},\"completion_tokens_details\":{{\"reasoning_tokens\":{reasoning}}}}}}}\n\n",
            prompt + completion
        ));
        s.push_str("data: [DONE]\n\n");
        s
    }

    pub fn anthropic(text: &[&str], input: u64, output: u64, cache_read: u64, cache_write: u64) -> String {
        let mut s = format!(
            "event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"usage\":{{\"input_tokens\":{input},\"cache_creation_input_tokens\":{cache_write},\"cache_read_input_tokens\":{cache_read},\"output_tokens\":1}}}}}}\n\n"
        );
        s.push_str("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
        s.push_str("event: ping\ndata: {\"type\":\"ping\"}\n\n");
        for t in text {
            s.push_str(&format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":{}}}}}\n\n", serde_json::to_string(t).expect("json")));
        }
        s.push_str("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n");
        s.push_str(&format!("event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\"}},\"usage\":{{\"output_tokens\":{output}}}}}\n\n"));
        s.push_str("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        s
    }

    pub fn gemini(text: &[&str], prompt: u64, candidates: u64, cached: u64, thoughts: u64) -> String {
        let mut s = String::new();
        for (i, t) in text.iter().enumerate() {
            // The last chunk carries the finish reason, as Gemini's do.
            let finish = if i + 1 == text.len() { ",\"finishReason\":\"STOP\"" } else { "" };
            let usage = if i + 1 == text.len() {
                format!(
                    ",\"usageMetadata\":{{\"promptTokenCount\":{prompt},\"candidatesTokenCount\":{candidates},\"cachedContentTokenCount\":{cached},\"thoughtsTokenCount\":{thoughts},\"totalTokenCount\":{}}}",
                    prompt + candidates + thoughts
                )
            } else {
                format!(",\"usageMetadata\":{{\"promptTokenCount\":{prompt}}}")
            };
            s.push_str(&format!(
                "data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":{}}}],\"role\":\"model\"}}{finish},\"index\":0}}]{usage}}}\r\n\r\n",
                serde_json::to_string(t).expect("json")
            ));
        }
        s
    }
}
