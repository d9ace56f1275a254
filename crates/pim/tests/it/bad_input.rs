//! Bad input: malformed JSON, wrong types, unknown fields, wrong media types, oversized bodies, bad
//! ids, scopes, actions, durations, windows, limits, cursors, times, enum values, settings, names,
//! passwords and duplicates. Each gets a 4xx problem+json with a code, a detail and the request id,
//! never a 5xx, and changes nothing in the database (a refusal may only add failure audit events).
//!
//! The raw HTTP client and the database snapshots defined here are shared with `authz.rs`.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{Column, Connection, Row};

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

/// The tables holding pim's state (everything but the audit history and bookkeeping).
pub(crate) const DATA_TABLES: [&str; 10] = [
    "principals",
    "credentials",
    "memberships",
    "roles",
    "role_settings",
    "resources",
    "assignments",
    "requests",
    "api_tokens",
    "meta",
];

/// Every row of the data tables, and the last audit sequence number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    tables: BTreeMap<&'static str, Vec<String>>,
    audit_seq: i64,
}

/// An audit event as far as refusals are concerned.
#[derive(Clone, Debug)]
pub(crate) struct EventBrief {
    pub action: String,
    pub outcome: String,
    pub error_code: Option<String>,
}

/// A direct connection to the test database, to see what calls changed.
pub(crate) struct Db {
    conn: sqlx::AnyConnection,
}

fn cell(row: &sqlx::any::AnyRow, i: usize) -> String {
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return format!("{v:?}");
    }
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return format!("{v:?}");
    }
    if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
        return format!("{v:?}");
    }
    if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
        return format!("{v:?}");
    }
    "<?>".into()
}

impl Db {
    pub async fn open(s: &TestServer) -> Db {
        sqlx::any::install_default_drivers();
        Db { conn: sqlx::AnyConnection::connect(&s.db.url).await.expect("connect to the test database") }
    }

    pub async fn snapshot(&mut self) -> Snapshot {
        let mut tables = BTreeMap::new();
        for t in DATA_TABLES {
            let rows = sqlx::query(&format!("SELECT * FROM {t}")).fetch_all(&mut self.conn).await.expect(t);
            let mut lines: Vec<String> = rows
                .iter()
                .map(|r| {
                    (0..r.columns().len())
                        .map(|i| format!("{}={}", r.columns()[i].name(), cell(r, i)))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            lines.sort();
            tables.insert(t, lines);
        }
        let audit_seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_events")
            .fetch_one(&mut self.conn)
            .await
            .expect("audit seq");
        Snapshot { tables, audit_seq }
    }

    /// The audit events written after `snap` was taken.
    pub async fn events_since(&mut self, snap: &Snapshot) -> Vec<EventBrief> {
        let sql =
            format!("SELECT action, outcome, error_code FROM audit_events WHERE seq > {} ORDER BY seq", snap.audit_seq);
        let rows = sqlx::query(&sql).fetch_all(&mut self.conn).await.expect("audit events");
        rows.iter()
            .map(|r| EventBrief {
                action: r.try_get::<String, _>(0).unwrap_or_default(),
                outcome: r.try_get::<String, _>(1).unwrap_or_default(),
                error_code: r.try_get::<Option<String>, _>(2).ok().flatten(),
            })
            .collect()
    }

    /// What changed since `before`: changed data tables (with the rows that differ) and audit events
    /// other than failures. Empty when a refused call behaved.
    pub async fn changes_since(&mut self, before: &Snapshot) -> Vec<String> {
        let after = self.snapshot().await;
        let mut out = Vec::new();
        for (t, rows) in &before.tables {
            let now = &after.tables[t];
            if rows != now {
                let gone: Vec<_> = rows.iter().filter(|r| !now.contains(r)).take(2).collect();
                let new: Vec<_> = now.iter().filter(|r| !rows.contains(r)).take(2).collect();
                out.push(format!(
                    "{t} changed ({} -> {} rows; removed/old {gone:?}; added/new {new:?})",
                    rows.len(),
                    now.len()
                ));
            }
        }
        for e in self.events_since(before).await {
            if e.outcome != "failure" {
                out.push(format!("audit event '{}' with outcome {}", e.action, e.outcome));
            }
        }
        out
    }
}
