//! `baton doctor --check`: one authenticated, free request per server.

use super::*;

/// What `baton doctor --check` found for one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerCheck {
    Ok,
    /// The key is missing: the variable (or key file) to set.
    KeyMissing(String),
    /// 401 or 403 with the key: the status, the variable it came from, the server's message.
    KeyRejected {
        status: u16,
        variable: String,
        message: String,
    },
    /// Nothing answered: connection refused, timeout, DNS (with the URL).
    Unreachable(String),
    /// It answered, but not with success: the status and its message.
    Failed {
        status: u16,
        message: String,
    },
}

impl ServerCheck {
    pub fn is_ok(&self) -> bool {
        *self == ServerCheck::Ok
    }
}

impl std::fmt::Display for ServerCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerCheck::Ok => f.write_str("ok"),
            ServerCheck::KeyMissing(v) => write!(f, "key missing ({v})"),
            ServerCheck::KeyRejected { status, variable, message } => {
                write!(f, "key rejected ({status}, variable {variable}): {message}")
            }
            ServerCheck::Unreachable(why) => write!(f, "unreachable ({why})"),
            ServerCheck::Failed { status, message } => write!(f, "answered {status}: {message}"),
        }
    }
}

/// Calls a provider's cheapest authenticated endpoint (its model list) with the key the way a
/// real call sends it: OpenAI-compatible `GET /models` with a bearer token, Anthropic
/// `GET /v1/models` with `x-api-key` and `anthropic-version`, Gemini `GET /models` with
/// `x-goog-api-key`. Costs nothing at any provider.
pub async fn check_server(client: &reqwest::Client, m: &Model) -> ServerCheck {
    let key = match key_for(m) {
        Ok(k) => k,
        Err(_) => {
            let what = m.key_file.clone().map(|f| format!("key file {f}")).or_else(|| m.key_env.clone()).unwrap_or_default();
            return ServerCheck::KeyMissing(what);
        }
    };
    let base = base_url(m);
    let mut r = client.get(format!("{base}/models"));
    if let Some(k) = key.as_deref() {
        r = match m.provider {
            ProviderKind::Anthropic => r.header("x-api-key", k),
            ProviderKind::Gemini => r.header("x-goog-api-key", k),
            ProviderKind::Openai | ProviderKind::Sim => r.bearer_auth(k),
        };
    }
    if m.provider == ProviderKind::Anthropic {
        r = r.header("anthropic-version", "2023-06-01");
    }
    let resp = match r.send().await {
        Ok(r) => r,
        Err(e) => {
            let msg = send_error(&e, &base).message;
            // "connection refused: URL — is the server running?" reads better without the prefix.
            return ServerCheck::Unreachable(msg);
        }
    };
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return ServerCheck::Ok;
    }
    let message = error_message(&resp.text().await.unwrap_or_default());
    match status {
        401 | 403 => ServerCheck::KeyRejected {
            status,
            variable: m
                .key_file
                .clone()
                .map(|f| format!("key file {f}"))
                .or_else(|| m.key_env.clone())
                .unwrap_or_else(|| "none set".into()),
            message,
        },
        _ => ServerCheck::Failed { status, message },
    }
}
