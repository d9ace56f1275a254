//! Plain HTTP to the test server, and its answers read as RFC 9457 problems.

use reqwest::Method;
use serde_json::Value;

use crate::harness::prelude::*;

/// A body to send.
#[derive(Clone, Debug)]
pub(crate) enum Body {
    /// No body.
    Empty,
    /// JSON with `Content-Type: application/json`.
    Json(Value),
    /// Raw bytes with the given content type (or none).
    Bytes(Option<&'static str>, Vec<u8>),
}

/// The answer to a raw call.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub content_type: String,
    pub header_request_id: Option<String>,
    pub text: String,
    pub json: Value,
}

impl Answer {
    /// The problem `code`, or "".
    pub fn code(&self) -> &str {
        self.json.get("code").and_then(Value::as_str).unwrap_or("")
    }
    /// The problem `detail`, or "".
    pub fn detail(&self) -> &str {
        self.json.get("detail").and_then(Value::as_str).unwrap_or("")
    }
    /// `status code: detail`, for messages.
    pub fn brief(&self) -> String {
        let d: String = self.detail().chars().take(140).collect();
        if self.code().is_empty() {
            let t: String = self.text.chars().take(140).collect();
            format!("{} {t}", self.status)
        } else {
            format!("{} {}: {d}", self.status, self.code())
        }
    }
    /// What is wrong with this answer as an RFC 9457 problem (empty when it is a good one).
    pub fn problem_defects(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.content_type != PROBLEM_JSON {
            out.push(format!("content type is '{}', not {PROBLEM_JSON}", self.content_type));
        }
        if self.code().is_empty() {
            out.push("no 'code'".into());
        }
        if self.detail().trim().is_empty() {
            out.push("no 'detail'".into());
        }
        if self.json.get("status").and_then(Value::as_u64) != Some(u64::from(self.status)) {
            out.push("'status' does not match the HTTP status".into());
        }
        match (self.json.get("requestId").and_then(Value::as_str), &self.header_request_id) {
            (Some(b), Some(h)) if b == h => {}
            (b, h) => out.push(format!("'requestId' {b:?} does not match the x-request-id header {h:?}")),
        }
        out
    }
}

/// Percent-encodes a query-string value.
pub(crate) fn enc(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Plain HTTP to the test server, for requests the typed client cannot (or should not) make.
pub(crate) struct Raw {
    http: reqwest::Client,
    base: String,
}

impl Raw {
    pub fn new(s: &TestServer) -> Raw {
        Raw { http: reqwest::Client::new(), base: s.url.clone() }
    }

    /// Sends `method path` with `Authorization: Bearer token` when a token is given.
    pub async fn send(&self, method: &Method, path: &str, token: Option<&str>, body: &Body) -> Answer {
        let auth = token.map(|t| format!("Bearer {t}"));
        self.send_auth(method, path, auth.as_deref(), body).await
    }

    /// Sends `method path` with the given `Authorization` header value, if any.
    pub async fn send_auth(&self, method: &Method, path: &str, authorization: Option<&str>, body: &Body) -> Answer {
        let mut rb = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(a) = authorization {
            rb = rb.header("authorization", a);
        }
        rb = match body {
            Body::Empty => rb,
            Body::Json(v) => rb.header("content-type", "application/json").body(v.to_string()),
            Body::Bytes(ct, bytes) => {
                let rb = match ct {
                    Some(ct) => rb.header("content-type", *ct),
                    None => rb,
                };
                rb.body(bytes.clone())
            }
        };
        let resp = rb.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let content_type = header("content-type").unwrap_or_default();
        let header_request_id = header("x-request-id");
        let text = resp.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, content_type, header_request_id, text, json }
    }
}
