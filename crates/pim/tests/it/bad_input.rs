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
pub(crate) const DATA_TABLES: [&str; 20] = [
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
    "mfa_totp_factors",
    "mfa_recovery_codes",
    "outbox",
    "settings_changes",
    "break_glass_reviews",
    "alert_rules",
    "alerts",
    "access_reviews",
    "access_review_instances",
    "access_review_items",
];

/// Bookkeeping that any authenticated call may touch (token use, sign-in time): not a change. A
/// wrong MFA code is refused and must count toward the lockout (`mfa.rs` checks the count).
const VOLATILE_COLUMNS: [&str; 3] = ["last_used_at", "last_sign_in_at", "failed_attempts"];

/// Every row of the data tables, and the last audit sequence number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    tables: BTreeMap<&'static str, Vec<String>>,
    audit_seq: i64,
}

impl Snapshot {
    /// Cells the snapshot could not read (it would then miss changes to them).
    pub fn undecoded(&self) -> usize {
        self.tables.values().flatten().filter(|r| r.contains("<?>")).count()
    }
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
                        .filter(|&i| !VOLATILE_COLUMNS.contains(&r.columns()[i].name()))
                        .map(|i| format!("{}={}", r.columns()[i].name(), cell(r, i)))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            lines.sort();
            tables.insert(t, lines);
        }
        let audit_seq = self.audit_seq().await;
        Snapshot { tables, audit_seq }
    }

    /// The sequence number of the last audit event.
    pub async fn audit_seq(&mut self) -> i64 {
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_events")
            .fetch_one(&mut self.conn)
            .await
            .expect("audit seq")
    }

    /// The audit events written after `snap` was taken.
    pub async fn events_since(&mut self, snap: &Snapshot) -> Vec<EventBrief> {
        self.events_after(snap.audit_seq).await
    }

    /// The audit events after sequence number `seq`.
    pub async fn events_after(&mut self, seq: i64) -> Vec<EventBrief> {
        let sql = format!("SELECT action, outcome, error_code FROM audit_events WHERE seq > {seq} ORDER BY seq");
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
    /// other than failures (empty when a refused call behaved), and the state now.
    pub async fn changes_since(&mut self, before: &Snapshot) -> (Vec<String>, Snapshot) {
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
        (out, after)
    }
}

// ---------------------------------------------------------------------------------------------
// The cases.

/// Who makes a call.
#[derive(Clone, Debug)]
enum Who {
    Admin,
    Alice,
    Nobody,
    Header(String),
}

/// One bad call and the refusal it must get.
struct Case {
    label: String,
    method: Method,
    path: String,
    who: Who,
    body: Body,
    want: u16,
    codes: Vec<&'static str>,
    mentions: Option<String>,
    /// The server bug (found and fixed) this case guards against.
    bug: Option<&'static str>,
}

fn case(
    label: impl Into<String>,
    method: &str,
    path: impl Into<String>,
    body: Body,
    want: u16,
    codes: &[&'static str],
) -> Case {
    Case {
        label: label.into(),
        method: Method::from_bytes(method.as_bytes()).expect("method"),
        path: path.into(),
        who: Who::Admin,
        body,
        want,
        codes: codes.to_vec(),
        mentions: None,
        bug: None,
    }
}

impl Case {
    fn by(mut self, who: Who) -> Case {
        self.who = who;
        self
    }
    /// The detail must mention this (case-insensitive), so the message is clear about what is wrong.
    fn mentions(mut self, what: impl Into<String>) -> Case {
        self.mentions = Some(what.into());
        self
    }
    /// Marks the case as guarding against a server bug that was found and fixed.
    fn bug(mut self, why: &'static str) -> Case {
        self.bug = Some(why);
        self
    }
}

/// Which cases a test runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Every case: must pass.
    Regular,
}

/// Array bodies are deserialized into structs positionally (serde's sequence form).
const ARRAY_BODIES: &str = "JSON arrays are accepted as bodies: serde fills struct fields from them by position";

fn raw_json(text: impl Into<String>) -> Body {
    Body::Bytes(Some("application/json"), text.into().into_bytes())
}

/// The fixtures every bad-input test works on.
struct Fx {
    ops: RoleId,
    alice: PrincipalId,
    alice_token: String,
    grp: PrincipalId,
    robot: PrincipalId,
    /// alice's permanent eligibility for Ops at /a.
    a_elig: AssignmentId,
    /// alice's eligibility for Ops at /b, ending in 7 days.
    b_elig: AssignmentId,
    now: Timestamp,
    /// The bootstrap administrator.
    admin: PrincipalId,
    /// An access review of Ops at /a, reviewed by the administrator with a reason required, its
    /// instance in progress (for 7 days) and the item of alice's eligibility at /a.
    review: ReviewId,
    instance: ReviewInstanceId,
    item: ReviewItemId,
}

/// A one-time review of `role` at `scope` by the administrator, starting now, for 7 days, with a
/// reason required.
fn review_by_admin(s: &TestServer, name: &str, role: RoleId, scope: &str) -> CreateReview {
    CreateReview {
        name: name.into(),
        description: None,
        target: ReviewTarget::Roles { role_ids: vec![role], scope: sp(scope) },
        kinds: ReviewedKinds::Both,
        inactive_days: None,
        reviewers: Reviewers::Selected { reviewers: vec![ApproverRef { kind: PrincipalKind::User, id: s.admin_id }] },
        schedule: ReviewScheduleInput {
            start: None,
            recurrence: Recurrence::OneTime,
            duration_days: 7,
            end: ReviewEnd::Never,
        },
        auto_apply: false,
        if_no_response: IfNoResponse::NoChange,
        reason_required: true,
    }
}

/// Creates `review` as the administrator: the review and the instance that started with it.
async fn start_review(s: &TestServer, review: &CreateReview) -> (ReviewId, ReviewInstanceId) {
    let def = s.admin.create_review(review).await.expect("create review");
    let detail = s.admin.get_review(def.id).await.expect("get review");
    (def.id, detail.instances.first().expect("an instance started").id)
}

async fn fixture(s: &TestServer) -> Fx {
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    s.without_mfa(ops).await;
    s.custom_role("Target", &["target.*"]).await;
    let (alice, client) = s.user("alice").await;
    let grp = s.group("grp").await;
    s.admin.add_member(grp, alice).await.expect("member");
    let robot = s
        .admin
        .create_service_principal(&CreateServicePrincipal {
            name: "robot".into(),
            display_name: None,
            description: None,
        })
        .await
        .expect("robot")
        .id;
    s.admin
        .create_resource(&CreateResource { scope: sp("/a"), name: "A".into(), kind: "subscription".into() })
        .await
        .expect("resource");
    let a_elig = s.assign(alice, ops, "/a", AssignmentKind::Eligible, None).await.id;
    let now = s.engine.now();
    let b_elig = s.assign(alice, ops, "/b", AssignmentKind::Eligible, Some(now.plus_millis(7 * DAY_MS))).await.id;
    let (review, instance) = start_review(s, &review_by_admin(s, "fixture", ops, "/a")).await;
    let items = s.admin.review_results(instance).await.expect("results").items;
    let item = items.iter().find(|i| i.assignment_id == Some(a_elig)).expect("alice's eligibility is reviewed").id;
    Fx {
        ops,
        alice,
        alice_token: client.token().expect("token").to_owned(),
        grp,
        robot,
        a_elig,
        b_elig,
        now,
        admin: s.admin_id,
        review,
        instance,
        item,
    }
}

/// Sends every case and checks: the status and code, a well-formed problem (content type, code,
/// detail, status, requestId), never a 5xx, and no change in the database (failure audit events aside).
async fn run(s: &TestServer, fx: &Fx, mode: Mode, cases: Vec<Case>) {
    // Cases marked with a bug guard against one found and fixed; all run in both modes.
    let _ = mode;
    let raw = Raw::new(s);
    let mut db = Db::open(s).await;
    let admin_token = s.admin.token().expect("admin token").to_owned();
    let mut before = db.snapshot().await;
    let mut failures = Vec::new();
    let n = cases.len();
    for c in cases {
        let answer = match &c.who {
            Who::Admin => raw.send(&c.method, &c.path, Some(&admin_token), &c.body).await,
            Who::Alice => raw.send(&c.method, &c.path, Some(&fx.alice_token), &c.body).await,
            Who::Nobody => raw.send(&c.method, &c.path, None, &c.body).await,
            Who::Header(h) => raw.send_auth(&c.method, &c.path, Some(h), &c.body).await,
        };
        let mut problems = Vec::new();
        if answer.status >= 500 {
            problems.push("5xx: the server failed on bad input".to_owned());
        } else if answer.status != c.want {
            problems.push(format!("status {} (want {})", answer.status, c.want));
        }
        if !c.codes.is_empty() && !c.codes.contains(&answer.code()) {
            problems.push(format!("code '{}' (want {})", answer.code(), c.codes.join(" or ")));
        }
        if let Some(m) = &c.mentions
            && !answer.detail().to_lowercase().contains(&m.to_lowercase())
        {
            problems.push(format!("the detail does not mention '{m}'"));
        }
        if c.want >= 400 {
            problems.extend(answer.problem_defects());
        }
        let (changes, after) = db.changes_since(&before).await;
        problems.extend(changes.into_iter().map(|c| format!("CHANGED: {c}")));
        before = after;
        if !problems.is_empty() {
            let path: String = c.path.chars().take(90).collect();
            let bug = c.bug.map(|b| format!(" [regression: {b}]")).unwrap_or_default();
            failures.push(format!(
                "{}{bug} ({} {path})\n    got:  {}\n    fix:  {}",
                c.label,
                c.method,
                answer.brief(),
                problems.join("; ")
            ));
        }
    }
    if !failures.is_empty() {
        let report = failures.join("\n");
        eprintln!("{report}");
        panic!("{} of {n} bad inputs were not refused properly:\n{report}", failures.len());
    }
    eprintln!("{n} bad inputs ({mode:?}) refused properly");
}

/// The endpoints that take a JSON body, each with a body that would be accepted.
fn json_endpoints(fx: &Fx) -> Vec<(&'static str, String, Value)> {
    vec![
        ("POST", "/api/v1/setup".into(), json!({"setupSecret": "s", "username": "x", "password": "password-123"})),
        ("POST", "/api/v1/auth/login".into(), json!({"username": "admin", "password": "admin-password-123"})),
        ("POST", "/api/v1/tokens".into(), json!({"name": "t", "expiresInDays": 30})),
        ("POST", "/api/v1/users".into(), json!({"name": "newuser", "password": "password-123"})),
        ("PATCH", format!("/api/v1/users/{}", fx.alice), json!({"displayName": "Alice"})),
        ("POST", "/api/v1/groups".into(), json!({"name": "newgroup", "description": "d"})),
        ("PATCH", format!("/api/v1/groups/{}", fx.grp), json!({"displayName": "Group"})),
        ("POST", "/api/v1/service-principals".into(), json!({"name": "newsp"})),
        ("PATCH", format!("/api/v1/service-principals/{}", fx.robot), json!({"displayName": "Robot"})),
        ("POST", "/api/v1/resources".into(), json!({"scope": "/new", "name": "n", "type": "db"})),
        ("POST", "/api/v1/scopes/validate".into(), json!({"scope": "/a"})),
        ("POST", "/api/v1/roles".into(), json!({"name": "NewRole", "permissions": {"actions": ["new.*"]}})),
        ("PUT", "/api/v1/roles/Target".into(), json!({"name": "Target", "permissions": {"actions": ["t.*"]}})),
        ("PUT", format!("/api/v1/roles/{}/settings?scope=%2Fnew", fx.ops), json!({"activationMaxMinutes": 60})),
        (
            "POST",
            "/api/v1/requests".into(),
            json!({"action": "adminAssign", "principalId": fx.alice, "roleId": fx.ops, "scope": "/new",
                "kind": "eligible", "justification": "j"}),
        ),
        ("POST", "/api/v1/check".into(), json!({"principal": "alice", "action": "ops.read", "scope": "/a"})),
        ("POST", "/api/v1/auth/mfa".into(), json!({"code": "123456"})),
        ("POST", "/api/v1/me/mfa/totp/confirm".into(), json!({"code": "123456"})),
        ("POST", "/api/v1/reviews".into(), review_json(fx, json!({}))),
        (
            "POST",
            format!("/api/v1/review-instances/{}/decisions", fx.instance),
            json!({"itemIds": [fx.item], "verdict": "approve", "reason": "still needed"}),
        ),
        (
            "POST",
            format!("/api/v1/review-instances/{}/items/{}/decision", fx.instance, fx.item),
            json!({"verdict": "approve", "reason": "still needed"}),
        ),
    ]
}

/// A `CreateReview` body the server accepts (a review of Ops at /n by the administrator), with the
/// top-level fields of `patch` set over it (`null` removes one).
fn review_json(fx: &Fx, patch: Value) -> Value {
    let mut v = json!({
        "name": "quarterly",
        "target": {"type": "roles", "roleIds": [fx.ops], "scope": "/n"},
        "reviewers": {"type": "selected", "reviewers": [{"kind": "user", "id": fx.admin}]},
        "schedule": {"durationDays": 7},
    });
    if let (Some(o), Some(p)) = (v.as_object_mut(), patch.as_object()) {
        for (k, x) in p {
            if x.is_null() {
                o.remove(k);
            } else {
                o.insert(k.clone(), x.clone());
            }
        }
    }
    v
}

/// Malformed JSON, wrong types, unknown, duplicate and missing fields, wrong media types, oversized
/// and deeply nested bodies, on every endpoint that takes a body.
async fn malformed_bodies(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let mut cases = Vec::new();
    let big = "x".repeat(1024 * 1024 + 10);
    for (m, path, base) in json_endpoints(&fx) {
        let text = base.to_string();
        let l = |what: &str| format!("{m} {path}: {what}");
        let bad = ["invalid_input"];
        cases.push(case(l("truncated JSON"), m, &path, raw_json(&text[..text.len() - 1]), 400, &bad));
        cases.push(case(l("trailing garbage"), m, &path, raw_json(format!("{text} x")), 400, &bad));
        cases.push(case(l("single quotes"), m, &path, raw_json(text.replace('"', "'")), 400, &bad));
        let empty_array = case(l("an empty array"), m, &path, raw_json("[]"), 400, &bad);
        let all_optional = m == "PATCH" || path.contains("/settings");
        cases.push(if all_optional { empty_array.bug(ARRAY_BODIES) } else { empty_array });
        cases.push(case(l("a string"), m, &path, raw_json("\"hello\""), 400, &bad));
        cases.push(case(l("a number"), m, &path, raw_json("42"), 400, &bad));
        cases.push(case(l("null"), m, &path, raw_json("null"), 400, &bad));
        cases.push(case(l("empty body"), m, &path, raw_json(""), 400, &bad));
        let mut utf8 = text.clone().into_bytes();
        let at = utf8.iter().rposition(|&c| c == b'"').expect("a string") - 1;
        utf8[at] = 0xff;
        cases.push(case(l("invalid UTF-8"), m, &path, Body::Bytes(Some("application/json"), utf8), 400, &bad));
        cases.push(case(l("lone surrogate"), m, &path, raw_json(text.replacen("\":", "\\ud800\":", 1)), 400, &bad));
        let mut unknown = base.clone();
        unknown["bogus"] = json!(1);
        cases.push(case(l("unknown field"), m, &path, Body::Json(unknown), 400, &bad).mentions("bogus"));
        let (k, v) = base.as_object().and_then(|o| o.iter().next()).expect("a field");
        let dup = format!("{{\"{k}\":{v},{}", &text[1..]);
        cases.push(case(l("duplicate field"), m, &path, raw_json(dup), 400, &bad));
        let deep = format!("{{\"{k}\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
        cases.push(case(l("5000 levels of nesting"), m, &path, raw_json(deep), 400, &bad));
        let mut typed = base.clone();
        typed[k] = json!({"nested": [1, 2]});
        cases.push(case(l(&format!("object for '{k}'")), m, &path, Body::Json(typed), 400, &bad));
        let media = ["unsupported_media_type"];
        cases.push(case(l("no content type"), m, &path, Body::Bytes(None, text.clone().into_bytes()), 415, &media));
        cases.push(case(
            l("text/plain"),
            m,
            &path,
            Body::Bytes(Some("text/plain"), text.clone().into_bytes()),
            415,
            &media,
        ));
        let form = Body::Bytes(Some("application/x-www-form-urlencoded"), b"name=x".to_vec());
        cases.push(case(l("a form"), m, &path, form, 415, &media));
        let mut huge = base.clone();
        huge[k] = json!(big);
        cases
            .push(case(l("a body over 1 MiB"), m, &path, Body::Json(huge), 413, &["body_too_large"]).mentions("1 MiB"));
    }
    // Wrong types and missing fields, endpoint by endpoint.
    let bad = ["invalid_input"];
    let a = fx.alice;
    let wrong: Vec<(&str, String, Value)> = vec![
        ("POST", "/api/v1/auth/login".into(), json!({"username": 1, "password": "p"})),
        ("POST", "/api/v1/tokens".into(), json!({"name": "t", "expiresInDays": "30"})),
        ("POST", "/api/v1/tokens".into(), json!({"name": ["t"]})),
        ("POST", "/api/v1/users".into(), json!({"name": 123})),
        ("POST", "/api/v1/users".into(), json!({"name": "u", "emergencyAccess": "yes"})),
        ("PATCH", format!("/api/v1/users/{a}"), json!({"enabled": "false"})),
        ("PATCH", format!("/api/v1/users/{a}"), json!({"enabled": 0})),
        ("PATCH", format!("/api/v1/users/{a}"), json!({"managerId": 5})),
        ("POST", "/api/v1/groups".into(), json!({"name": null})),
        ("PATCH", format!("/api/v1/groups/{}", fx.grp), json!({"enabled": "no"})),
        ("POST", "/api/v1/resources".into(), json!({"scope": 5, "name": "n", "type": "db"})),
        ("POST", "/api/v1/resources".into(), json!({"scope": ["/a"], "name": "n", "type": "db"})),
        ("POST", "/api/v1/scopes/validate".into(), json!({"scope": 5})),
        ("POST", "/api/v1/roles".into(), json!({"name": "R", "permissions": {"actions": "x.*"}})),
        ("POST", "/api/v1/roles".into(), json!({"name": "R", "permissions": ["x.*"]})),
        ("PUT", format!("/api/v1/roles/{}/settings?scope=%2Fn", fx.ops), json!({"activationMaxMinutes": "60"})),
        ("PUT", format!("/api/v1/roles/{}/settings?scope=%2Fn", fx.ops), json!({"requireMfaOnActivation": "true"})),
        ("PUT", format!("/api/v1/roles/{}/settings?scope=%2Fn", fx.ops), json!({"approvalStages": {}})),
        (
            "POST",
            "/api/v1/requests".into(),
            json!({"action": "selfActivate", "roleId": fx.ops, "scope": "/a", "durationMinutes": "60"}),
        ),
        (
            "POST",
            "/api/v1/requests".into(),
            json!({"action": "selfActivate", "roleId": fx.ops, "scope": 5, "durationMinutes": 60}),
        ),
        (
            "POST",
            "/api/v1/requests".into(),
            json!({"action": "selfActivate", "roleId": 5, "scope": "/a", "durationMinutes": 60}),
        ),
        ("POST", "/api/v1/requests".into(), json!({"action": 1})),
        (
            "POST",
            "/api/v1/requests".into(),
            json!({"action": "adminUpdate", "assignmentId": fx.b_elig, "permanent": "yes"}),
        ),
        (
            "POST",
            "/api/v1/requests".into(),
            json!({"action": "selfActivate", "roleId": fx.ops, "scope": "/a", "durationMinutes": 60, "ticket": "JIRA-1"}),
        ),
        (
            "POST",
            "/api/v1/requests".into(),
            json!({"action": "selfActivate", "roleId": fx.ops, "scope": "/a", "durationMinutes": 60, "validateOnly": "true"}),
        ),
        ("POST", "/api/v1/check".into(), json!({"principal": "alice", "action": 5, "scope": "/a"})),
        (
            "POST",
            "/api/v1/check".into(),
            json!({"principal": "alice", "action": "a.b", "scope": "/a", "at": 1767603600000_i64}),
        ),
    ];
    // Access reviews: the definition (and what is nested in it) and the decisions.
    let decisions = format!("/api/v1/review-instances/{}/decisions", fx.instance);
    let decision = format!("/api/v1/review-instances/{}/items/{}/decision", fx.instance, fx.item);
    let mut wrong = wrong;
    for patch in [
        json!({"name": 5}),
        json!({"name": ["q"]}),
        json!({"description": 1}),
        json!({"target": "roles"}),
        json!({"target": {"type": "roles", "roleIds": fx.ops, "scope": "/n"}}),
        json!({"target": {"type": "roles", "roleIds": [fx.ops], "scope": 5}}),
        json!({"target": {"type": "groupMembership", "groupId": [fx.grp]}}),
        json!({"kinds": 1}),
        json!({"inactiveDays": "30"}),
        json!({"inactiveDays": 1.5}),
        json!({"reviewers": [{"kind": "user", "id": fx.admin}]}),
        json!({"reviewers": {"type": "selected", "reviewers": {"kind": "user", "id": fx.admin}}}),
        json!({"reviewers": {"type": "managers", "fallback": "admin"}}),
        json!({"schedule": 7}),
        json!({"schedule": {"durationDays": "7"}}),
        json!({"schedule": {"durationDays": 7.5}}),
        json!({"schedule": {"durationDays": 7, "start": 1_767_603_600_000_i64}}),
        json!({"schedule": {"durationDays": 7, "recurrence": "weekly", "end": "never"}}),
        json!({"schedule": {"durationDays": 7, "recurrence": "weekly", "end": {"type": "afterOccurrences", "count": "3"}}}),
        json!({"autoApply": "yes"}),
        json!({"autoApply": 1}),
        json!({"reasonRequired": "false"}),
        json!({"ifNoResponse": true}),
    ] {
        wrong.push(("POST", "/api/v1/reviews".into(), review_json(&fx, patch)));
    }
    for body in [
        json!({"itemIds": fx.item, "verdict": "approve", "reason": "r"}),
        json!({"itemIds": [fx.item], "verdict": true, "reason": "r"}),
        json!({"itemIds": [fx.item], "acceptRecommendations": "yes", "reason": "r"}),
        json!({"itemIds": [fx.item], "verdict": "approve", "reason": 5}),
        json!({"itemIds": [[fx.item]], "verdict": "approve", "reason": "r"}),
    ] {
        wrong.push(("POST", decisions.clone(), body));
    }
    for body in [
        json!({"verdict": 1, "reason": "r"}),
        json!({"verdict": ["approve"]}),
        json!({"verdict": "approve", "reason": []}),
    ] {
        wrong.push(("POST", decision.clone(), body));
    }
    for (m, path, body) in wrong {
        cases.push(case(format!("{m} {path}: wrong type in {body}"), m, &path, Body::Json(body), 400, &bad));
    }
    let missing: Vec<(&str, &str, Value)> = vec![
        ("POST", "/api/v1/setup", json!({"username": "x", "password": "password-123"})),
        ("POST", "/api/v1/auth/login", json!({"username": "admin"})),
        ("POST", "/api/v1/tokens", json!({"expiresInDays": 3})),
        ("POST", "/api/v1/users", json!({})),
        ("POST", "/api/v1/users", json!({"displayName": "No Name"})),
        ("POST", "/api/v1/groups", json!({})),
        ("POST", "/api/v1/service-principals", json!({})),
        ("POST", "/api/v1/resources", json!({"scope": "/n", "name": "n"})),
        ("POST", "/api/v1/resources", json!({"name": "n", "type": "db"})),
        ("POST", "/api/v1/scopes/validate", json!({})),
        ("POST", "/api/v1/roles", json!({"name": "R"})),
        ("POST", "/api/v1/roles", json!({"permissions": {"actions": ["x.*"]}})),
        ("POST", "/api/v1/roles", json!({"name": "R", "permissions": {}})),
        ("PUT", "/api/v1/roles/Target", json!({"name": "Target"})),
        ("POST", "/api/v1/requests", json!({})),
        ("POST", "/api/v1/requests", json!({"roleId": fx.ops, "scope": "/a", "durationMinutes": 60})),
        ("POST", "/api/v1/check", json!({"principal": "alice", "action": "a.b"})),
        ("POST", "/api/v1/check", json!({"action": "a.b", "scope": "/"})),
    ];
    for (m, path, body) in missing {
        cases.push(case(format!("{m} {path}: missing field in {body}"), m, path, Body::Json(body), 400, &bad));
    }
    for (patch, field) in [
        (json!({"name": null}), "name"),
        (json!({"target": null}), "target"),
        (json!({"reviewers": null}), "reviewers"),
        (json!({"schedule": null}), "schedule"),
        (json!({"schedule": {}}), "durationDays"),
        (json!({"schedule": {"durationDays": 7, "end": {"type": "onDate"}}}), "at"),
        (json!({"schedule": {"durationDays": 7, "end": {"type": "afterOccurrences"}}}), "count"),
        (json!({"target": {"type": "roles", "scope": "/n"}}), "roleIds"),
        (json!({"target": {"type": "roles", "roleIds": [fx.ops]}}), "scope"),
        (json!({"target": {"type": "groupMembership"}}), "groupId"),
        (json!({"target": {"roleIds": [fx.ops], "scope": "/n"}}), "type"),
        (json!({"reviewers": {"type": "selected"}}), "reviewers"),
        (json!({"reviewers": {"type": "managers"}}), "fallback"),
        (json!({"reviewers": {"reviewers": [{"kind": "user", "id": fx.admin}]}}), "type"),
        (json!({"reviewers": {"type": "selected", "reviewers": [{"id": fx.admin}]}}), "kind"),
        (json!({"reviewers": {"type": "selected", "reviewers": [{"kind": "user"}]}}), "id"),
    ] {
        let l = format!("POST /api/v1/reviews: without {field} ({patch})");
        cases.push(case(l, "POST", "/api/v1/reviews", Body::Json(review_json(&fx, patch)), 400, &bad).mentions(field));
    }
    cases.push(
        case(
            "POST .../items/{itemId}/decision: without a verdict",
            "POST",
            &decision,
            Body::Json(json!({"reason": "r"})),
            400,
            &bad,
        )
        .mentions("verdict"),
    );
    // Fields a request needs for its action.
    let needs: Vec<(Value, &str)> = vec![
        (json!({"action": "adminAssign", "roleId": fx.ops, "scope": "/n", "kind": "eligible"}), "principalId"),
        (json!({"action": "adminAssign", "principalId": a, "scope": "/n", "kind": "eligible"}), "roleId"),
        (json!({"action": "adminAssign", "principalId": a, "roleId": fx.ops, "kind": "eligible"}), "scope"),
        (json!({"action": "adminAssign", "principalId": a, "roleId": fx.ops, "scope": "/n"}), "kind"),
        (json!({"action": "adminUpdate", "end": fx.now.plus_millis(DAY_MS)}), "assignmentId"),
        (json!({"action": "adminRemove"}), "assignmentId"),
        (json!({"action": "adminExtend", "assignmentId": fx.b_elig}), "end"),
        (json!({"action": "adminRenew"}), "assignmentId"),
        (json!({"action": "selfExtend"}), "assignmentId"),
        (json!({"action": "selfRenew"}), "assignmentId"),
        (json!({"action": "selfDeactivate"}), "assignmentId"),
    ];
    for (body, field) in needs {
        let l = format!("POST /api/v1/requests: {} without {field}", body["action"]);
        cases.push(case(l, "POST", "/api/v1/requests", Body::Json(body), 400, &bad).mentions(field));
    }
    for (body, field) in [
        (json!({"action": "selfActivate", "scope": "/a", "durationMinutes": 60}), "roleId"),
        (json!({"action": "selfActivate", "roleId": fx.ops, "durationMinutes": 60}), "scope"),
        (json!({"action": "selfActivate", "roleId": fx.ops, "scope": "/a"}), "durationMinutes"),
    ] {
        let l = format!("POST /api/v1/requests: selfActivate without {field}");
        cases.push(case(l, "POST", "/api/v1/requests", Body::Json(body), 400, &bad).mentions(field).by(Who::Alice));
    }
    // Positional bodies: arrays filled into the fields in declaration order.
    let positional: Vec<(&str, String, Value)> = vec![
        ("POST", "/api/v1/users".into(), json!(["mallory"])),
        ("POST", "/api/v1/groups".into(), json!(["gang"])),
        ("POST", "/api/v1/service-principals".into(), json!(["bot2"])),
        ("POST", "/api/v1/resources".into(), json!(["/positional", "n", "db"])),
        ("POST", "/api/v1/roles".into(), json!(["Positional", null, {"actions": ["p.*"]}])),
        ("POST", "/api/v1/tokens".into(), json!(["positional"])),
        ("POST", "/api/v1/scopes/validate".into(), json!(["/a"])),
        ("POST", "/api/v1/check".into(), json!(["alice", "ops.read", "/a"])),
        ("POST", "/api/v1/auth/login".into(), json!(["admin", "admin-password-123"])),
        ("PATCH", format!("/api/v1/users/{a}"), json!(["Renamed"])),
        ("PUT", format!("/api/v1/roles/{}/settings?scope=%2Fpos", fx.ops), json!([60, false])),
        (
            "POST",
            "/api/v1/requests".into(),
            json!(["adminAssign", a, fx.ops, "/positional", "eligible", null, null, null, null, null, "j"]),
        ),
    ];
    for (m, path, body) in positional {
        let l = format!("{m} {path}: positional array {body}");
        cases.push(case(l, m, &path, Body::Json(body), 400, &bad).bug(ARRAY_BODIES));
    }
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn malformed_bodies_are_refused(b: Backend) {
    malformed_bodies(b, Mode::Regular).await;
}

/// Unknown fields deep inside bodies are refused too.
const NESTED_UNKNOWN: &str = "role permissions accept unknown fields (Permissions lacks deny_unknown_fields)";

/// Non-UUID ids (400), unknown ids (404) on every `{id}` route, and unknown ids inside bodies and queries.
async fn bad_ids(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let (a, g, r, ops) = (fx.alice, fx.grp, fx.robot, fx.ops);
    let u = uuid::Uuid::now_v7();
    let mut cases = Vec::new();
    let bad = ["invalid_input"];
    let nf = ["not_found"];
    let name = json!({"displayName": "x"});
    let (ri, item) = (fx.instance, fx.item);
    let decide_all = json!({"verdict": "approve", "reason": "r"});
    let decide_one = json!({"itemIds": [item], "verdict": "approve", "reason": "r"});
    for id in ["not-a-uuid", "123", "01234567-89ab", "01a202ab-c693-71fd-a6d7-0e530eef9e3g", &"f".repeat(5000)] {
        let id = enc(id);
        let routes: Vec<(&str, String, Body)> = vec![
            ("GET", format!("/api/v1/users/{id}"), Body::Empty),
            ("PATCH", format!("/api/v1/users/{id}"), Body::Json(name.clone())),
            ("GET", format!("/api/v1/groups/{id}"), Body::Empty),
            ("PATCH", format!("/api/v1/groups/{id}"), Body::Json(name.clone())),
            ("GET", format!("/api/v1/groups/{id}/members"), Body::Empty),
            ("PUT", format!("/api/v1/groups/{id}/members/{a}"), Body::Empty),
            ("PUT", format!("/api/v1/groups/{g}/members/{id}"), Body::Empty),
            ("DELETE", format!("/api/v1/groups/{id}/members/{a}"), Body::Empty),
            ("DELETE", format!("/api/v1/groups/{g}/members/{id}"), Body::Empty),
            ("GET", format!("/api/v1/service-principals/{id}"), Body::Empty),
            ("PATCH", format!("/api/v1/service-principals/{id}"), Body::Json(name.clone())),
            ("GET", format!("/api/v1/resources/{id}"), Body::Empty),
            ("GET", format!("/api/v1/assignments/{id}"), Body::Empty),
            ("GET", format!("/api/v1/requests/{id}"), Body::Empty),
            ("POST", format!("/api/v1/requests/{id}/cancel"), Body::Empty),
            ("DELETE", format!("/api/v1/tokens/{id}"), Body::Empty),
            ("GET", format!("/api/v1/tokens?principalId={id}"), Body::Empty),
            ("GET", format!("/api/v1/assignments?principalId={id}"), Body::Empty),
            ("GET", format!("/api/v1/assignments?roleId={id}"), Body::Empty),
            ("GET", format!("/api/v1/requests?principalId={id}"), Body::Empty),
            ("GET", format!("/api/v1/settings?roleId={id}"), Body::Empty),
            ("GET", format!("/api/v1/reviews/{id}"), Body::Empty),
            ("POST", format!("/api/v1/reviews/{id}/stop"), Body::Empty),
            ("GET", format!("/api/v1/review-instances/{id}"), Body::Empty),
            ("GET", format!("/api/v1/review-instances/{id}/items"), Body::Empty),
            ("GET", format!("/api/v1/review-instances/{id}/items?format=csv"), Body::Empty),
            ("POST", format!("/api/v1/review-instances/{id}/reset"), Body::Empty),
            ("POST", format!("/api/v1/review-instances/{id}/stop"), Body::Empty),
            ("POST", format!("/api/v1/review-instances/{id}/apply"), Body::Empty),
            ("POST", format!("/api/v1/review-instances/{id}/decisions"), Body::Json(decide_all.clone())),
            ("POST", format!("/api/v1/review-instances/{id}/items/{item}/decision"), Body::Json(decide_all.clone())),
            ("POST", format!("/api/v1/review-instances/{ri}/items/{id}/decision"), Body::Json(decide_all.clone())),
        ];
        for (m, path, body) in routes {
            cases.push(case(format!("non-UUID id in {m} {path}"), m, &path, body, 400, &bad));
        }
    }
    for (field, body) in [
        (
            "principalId",
            json!({"action": "adminAssign", "principalId": "x", "roleId": ops, "scope": "/n", "kind": "active"}),
        ),
        (
            "roleId",
            json!({"action": "adminAssign", "principalId": a, "roleId": "Ops", "scope": "/n", "kind": "active"}),
        ),
        ("assignmentId", json!({"action": "adminRemove", "assignmentId": "x"})),
    ] {
        cases.push(case(
            format!("non-UUID {field} in a request"),
            "POST",
            "/api/v1/requests",
            Body::Json(body),
            400,
            &bad,
        ));
    }
    for (what, body) in [
        ("roleIds", review_json(&fx, json!({"target": {"type": "roles", "roleIds": ["Ops"], "scope": "/n"}}))),
        ("groupId", review_json(&fx, json!({"target": {"type": "groupMembership", "groupId": "grp"}}))),
        (
            "reviewer id",
            review_json(
                &fx,
                json!({"reviewers": {"type": "selected", "reviewers": [{"kind": "user", "id": "admin"}]}}),
            ),
        ),
        (
            "fallback reviewer id",
            review_json(&fx, json!({"reviewers": {"type": "managers", "fallback": [{"kind": "group", "id": "x"}]}})),
        ),
    ] {
        cases.push(case(
            format!("non-UUID {what} in a review"),
            "POST",
            "/api/v1/reviews",
            Body::Json(body),
            400,
            &bad,
        ));
    }
    for ids in [json!(["x"]), json!([item, "01234567-89ab"])] {
        cases.push(case(
            format!("non-UUID itemIds {ids}"),
            "POST",
            format!("/api/v1/review-instances/{ri}/decisions"),
            Body::Json(json!({"itemIds": ids, "verdict": "deny", "reason": "r"})),
            400,
            &bad,
        ));
    }
    cases.push(case(
        "non-UUID principalId for a token",
        "POST",
        "/api/v1/tokens",
        Body::Json(json!({"name": "t", "principalId": "x"})),
        400,
        &bad,
    ));
    cases.push(case(
        "non-UUID managerId",
        "POST",
        "/api/v1/users",
        Body::Json(json!({"name": "m1", "managerId": "boss"})),
        400,
        &bad,
    ));
    cases.push(case(
        "non-UUID approver",
        "PUT",
        format!("/api/v1/roles/{ops}/settings?scope=%2Fn"),
        Body::Json(json!({"approvalStages": [{"approvers": [{"kind": "user", "id": "x"}]}]})),
        400,
        &bad,
    ));
    // Unknown but well-formed ids and names: 404 on every route that takes one.
    let routes: Vec<(&str, String, Body)> = vec![
        ("GET", format!("/api/v1/principals/{u}"), Body::Empty),
        ("GET", "/api/v1/principals/nobody".into(), Body::Empty),
        ("GET", format!("/api/v1/users/{u}"), Body::Empty),
        ("GET", format!("/api/v1/users/{g}"), Body::Empty),
        ("PATCH", format!("/api/v1/users/{u}"), Body::Json(name.clone())),
        ("PATCH", format!("/api/v1/users/{r}"), Body::Json(name.clone())),
        ("GET", format!("/api/v1/groups/{u}"), Body::Empty),
        ("GET", format!("/api/v1/groups/{a}"), Body::Empty),
        ("PATCH", format!("/api/v1/groups/{u}"), Body::Json(name.clone())),
        ("GET", format!("/api/v1/groups/{u}/members"), Body::Empty),
        ("GET", format!("/api/v1/groups/{a}/members"), Body::Empty),
        ("PUT", format!("/api/v1/groups/{u}/members/{a}"), Body::Empty),
        ("PUT", format!("/api/v1/groups/{a}/members/{a}"), Body::Empty),
        ("PUT", format!("/api/v1/groups/{g}/members/{u}"), Body::Empty),
        ("DELETE", format!("/api/v1/groups/{u}/members/{a}"), Body::Empty),
        ("DELETE", format!("/api/v1/groups/{g}/members/{u}"), Body::Empty),
        ("DELETE", format!("/api/v1/groups/{g}/members/{r}"), Body::Empty),
        ("GET", format!("/api/v1/service-principals/{u}"), Body::Empty),
        ("GET", format!("/api/v1/service-principals/{a}"), Body::Empty),
        ("PATCH", format!("/api/v1/service-principals/{u}"), Body::Json(name.clone())),
        ("GET", format!("/api/v1/resources/{u}"), Body::Empty),
        ("GET", format!("/api/v1/roles/{u}"), Body::Empty),
        ("GET", "/api/v1/roles/NoSuchRole".into(), Body::Empty),
        ("PUT", format!("/api/v1/roles/{u}"), Body::Json(json!({"name": "X", "permissions": {"actions": ["x.*"]}}))),
        ("DELETE", format!("/api/v1/roles/{u}"), Body::Empty),
        ("DELETE", "/api/v1/roles/NoSuchRole".into(), Body::Empty),
        ("GET", format!("/api/v1/roles/{u}/settings?scope=%2Fa"), Body::Empty),
        ("PUT", format!("/api/v1/roles/{u}/settings?scope=%2Fa"), Body::Json(json!({"activationMaxMinutes": 60}))),
        ("DELETE", format!("/api/v1/roles/{u}/settings?scope=%2Fa"), Body::Empty),
        ("DELETE", format!("/api/v1/roles/{ops}/settings?scope=%2Fnothing%2Fhere"), Body::Empty),
        ("GET", format!("/api/v1/assignments/{u}"), Body::Empty),
        ("GET", format!("/api/v1/requests/{u}"), Body::Empty),
        ("POST", format!("/api/v1/requests/{u}/cancel"), Body::Empty),
        ("DELETE", format!("/api/v1/tokens/{u}"), Body::Empty),
        ("GET", "/api/v1/audit?actor=nobody".into(), Body::Empty),
        ("GET", "/api/v1/audit?principal=nobody".into(), Body::Empty),
        ("GET", "/api/v1/audit?role=NoSuchRole".into(), Body::Empty),
        ("GET", "/api/v1/audit/export?format=csv&role=NoSuchRole".into(), Body::Empty),
        ("GET", format!("/api/v1/reviews/{u}"), Body::Empty),
        ("GET", format!("/api/v1/reviews/{ri}"), Body::Empty),
        ("POST", format!("/api/v1/reviews/{u}/stop"), Body::Empty),
        ("POST", format!("/api/v1/reviews/{ri}/stop"), Body::Empty),
        ("GET", format!("/api/v1/review-instances/{u}"), Body::Empty),
        ("GET", format!("/api/v1/review-instances/{}", fx.review), Body::Empty),
        ("GET", format!("/api/v1/review-instances/{u}/items"), Body::Empty),
        ("GET", format!("/api/v1/review-instances/{u}/items?format=csv"), Body::Empty),
        ("GET", format!("/api/v1/review-instances/{}/items", fx.review), Body::Empty),
        ("POST", format!("/api/v1/review-instances/{u}/reset"), Body::Empty),
        ("POST", format!("/api/v1/review-instances/{u}/stop"), Body::Empty),
        ("POST", format!("/api/v1/review-instances/{}/stop", fx.review), Body::Empty),
        ("POST", format!("/api/v1/review-instances/{u}/apply"), Body::Empty),
        ("POST", format!("/api/v1/review-instances/{u}/decisions"), Body::Json(decide_one.clone())),
        ("POST", format!("/api/v1/review-instances/{u}/decisions"), Body::Json(decide_all.clone())),
        (
            "POST",
            format!("/api/v1/review-instances/{ri}/decisions"),
            Body::Json(json!({"itemIds": [u], "verdict": "deny", "reason": "r"})),
        ),
        (
            "POST",
            format!("/api/v1/review-instances/{ri}/decisions"),
            Body::Json(json!({"itemIds": [item, u], "verdict": "deny", "reason": "r"})),
        ),
        ("POST", format!("/api/v1/review-instances/{u}/items/{item}/decision"), Body::Json(decide_all.clone())),
        ("POST", format!("/api/v1/review-instances/{ri}/items/{u}/decision"), Body::Json(decide_all.clone())),
        ("POST", format!("/api/v1/review-instances/{ri}/items/{ri}/decision"), Body::Json(decide_all.clone())),
    ];
    for (m, path, body) in routes {
        cases.push(case(format!("unknown id in {m} {path}"), m, &path, body, 404, &nf));
    }
    let in_body: Vec<(&str, &str, Value, Who)> = vec![
        (
            "unknown principal to assign",
            "/api/v1/requests",
            json!({"action": "adminAssign", "principalId": u, "roleId": ops, "scope": "/n", "kind": "eligible"}),
            Who::Admin,
        ),
        (
            "unknown role to assign",
            "/api/v1/requests",
            json!({"action": "adminAssign", "principalId": a, "roleId": u, "scope": "/n", "kind": "eligible"}),
            Who::Admin,
        ),
        (
            "unknown assignment to update",
            "/api/v1/requests",
            json!({"action": "adminUpdate", "assignmentId": u, "permanent": true}),
            Who::Admin,
        ),
        (
            "unknown assignment to remove",
            "/api/v1/requests",
            json!({"action": "adminRemove", "assignmentId": u}),
            Who::Admin,
        ),
        (
            "unknown assignment to extend",
            "/api/v1/requests",
            json!({"action": "adminExtend", "assignmentId": u, "end": fx.now.plus_millis(DAY_MS)}),
            Who::Admin,
        ),
        (
            "unknown assignment to renew",
            "/api/v1/requests",
            json!({"action": "adminRenew", "assignmentId": u}),
            Who::Admin,
        ),
        (
            "unknown role to activate",
            "/api/v1/requests",
            json!({"action": "selfActivate", "roleId": u, "scope": "/a", "durationMinutes": 60, "justification": "j"}),
            Who::Alice,
        ),
        (
            "unknown assignment to deactivate",
            "/api/v1/requests",
            json!({"action": "selfDeactivate", "assignmentId": u}),
            Who::Alice,
        ),
        (
            "unknown assignment to extend",
            "/api/v1/requests",
            json!({"action": "selfExtend", "assignmentId": u, "justification": "j"}),
            Who::Alice,
        ),
        ("unknown principal for a token", "/api/v1/tokens", json!({"name": "t", "principalId": u}), Who::Admin),
        ("unknown manager", "/api/v1/users", json!({"name": "managed", "managerId": u}), Who::Admin),
        ("a group as manager", "/api/v1/users", json!({"name": "managed", "managerId": g}), Who::Admin),
        (
            "unknown principal name to check",
            "/api/v1/check",
            json!({"principal": "nobody", "action": "a.b", "scope": "/"}),
            Who::Admin,
        ),
    ];
    for (label, path, body, who) in in_body {
        cases.push(case(label, "POST", path, Body::Json(body), 404, &nf).by(who));
    }
    let check = json!({"principal": u, "action": "a.b", "scope": "/"});
    let why = "a check about an unknown principal id answers 200 {allowed: false}; an unknown name answers 404";
    cases.push(case("unknown principal id to check", "POST", "/api/v1/check", Body::Json(check), 404, &nf).bug(why));
    cases.push(case(
        "unknown manager in a PATCH",
        "PATCH",
        format!("/api/v1/users/{a}"),
        Body::Json(json!({"managerId": u})),
        404,
        &nf,
    ));
    cases.push(case(
        "unknown approver",
        "PUT",
        format!("/api/v1/roles/{ops}/settings?scope=%2Fn"),
        Body::Json(json!({"approvalStages": [{"approvers": [{"kind": "user", "id": u}]}]})),
        400,
        &["invalid_settings"],
    ));
    cases.push(case(
        "an approver of the wrong kind",
        "PUT",
        format!("/api/v1/roles/{ops}/settings?scope=%2Fn"),
        Body::Json(json!({"approvalStages": [{"approvers": [{"kind": "group", "id": a}]}]})),
        400,
        &["invalid_settings"],
    ));
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn bad_ids_are_refused(b: Backend) {
    bad_ids(b, Mode::Regular).await;
}

/// The invalid scopes of SPEC section 2, and what each must be called in messages.
fn invalid_scopes() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("no leading slash", "a/b".into()),
        ("a '..' segment", "/a/../b".into()),
        ("a '.' segment", "/a/./b".into()),
        ("an empty segment", "/a//b".into()),
        ("a trailing slash", "/a/".into()),
        ("too deep", "/x".repeat(17)),
        ("too long", format!("/{}", vec!["y".repeat(100); 6].join("/"))),
        ("a segment too long", format!("/{}", "z".repeat(129))),
        ("a space", "/a b".into()),
        ("a star", "/a/*".into()),
        ("a non-ASCII letter", "/café".into()),
        ("a backslash", "/a\\b".into()),
    ]
}

/// Invalid scopes in every place a scope is accepted.
async fn invalid_scopes_everywhere(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let ops = fx.ops;
    let mut cases = Vec::new();
    let codes = ["invalid_scope", "invalid_input"];
    for (what, scope) in invalid_scopes() {
        let q = enc(&scope);
        let l = |place: &str| format!("scope with {what} ({scope:.40}) in {place}");
        let json_places: Vec<(&str, &str, Value, Who)> = vec![
            (
                "adminAssign",
                "/api/v1/requests",
                json!({"action": "adminAssign", "principalId": fx.alice, "roleId": ops, "scope": scope, "kind": "eligible", "justification": "j"}),
                Who::Admin,
            ),
            (
                "selfActivate",
                "/api/v1/requests",
                json!({"action": "selfActivate", "roleId": ops, "scope": scope, "durationMinutes": 60, "justification": "j"}),
                Who::Alice,
            ),
            ("a new resource", "/api/v1/resources", json!({"scope": scope, "name": "n", "type": "db"}), Who::Admin),
            (
                "a check",
                "/api/v1/check",
                json!({"principal": "alice", "action": "ops.read", "scope": scope}),
                Who::Admin,
            ),
            (
                "a check about oneself",
                "/api/v1/check",
                json!({"principal": "alice", "action": "ops.read", "scope": scope}),
                Who::Alice,
            ),
            (
                "a review's target",
                "/api/v1/reviews",
                review_json(&fx, json!({"target": {"type": "roles", "roleIds": [ops], "scope": scope}})),
                Who::Admin,
            ),
        ];
        for (place, path, body, who) in json_places {
            cases.push(case(l(place), "POST", path, Body::Json(body), 400, &codes).mentions("scope").by(who));
        }
        let validate = case(
            l("scopes/validate"),
            "POST",
            "/api/v1/scopes/validate",
            Body::Json(json!({"scope": scope})),
            400,
            &["invalid_scope"],
        );
        cases.push(validate.mentions("scope"));
        let settings = format!("/api/v1/roles/{ops}/settings?scope={q}");
        let queries: Vec<(&str, &str, String, Body)> = vec![
            ("GET settings", "GET", settings.clone(), Body::Empty),
            ("PUT settings", "PUT", settings.clone(), Body::Json(json!({"activationMaxMinutes": 60}))),
            ("DELETE settings", "DELETE", settings, Body::Empty),
            ("assignments?scope", "GET", format!("/api/v1/assignments?scope={q}"), Body::Empty),
            ("assignments?under", "GET", format!("/api/v1/assignments?under={q}"), Body::Empty),
            ("resources?under", "GET", format!("/api/v1/resources?under={q}"), Body::Empty),
            ("audit?scope", "GET", format!("/api/v1/audit?scope={q}"), Body::Empty),
            ("audit/export?scope", "GET", format!("/api/v1/audit/export?format=json&scope={q}"), Body::Empty),
        ];
        for (place, m, path, body) in queries {
            // An empty parameter is refused by name (`under` is a scope too).
            let param = place.split_once('?').map_or("scope", |(_, p)| p);
            let mention = if q.is_empty() { param } else { "scope" };
            cases.push(case(l(place), m, &path, body, 400, &codes).mentions(mention));
        }
    }
    // Scopes that parse but are not allowed where they are used.
    cases.push(case(
        "a resource at /",
        "POST",
        "/api/v1/resources",
        Body::Json(json!({"scope": "/", "name": "n", "type": "db"})),
        400,
        &["invalid_scope"],
    ));
    for scope in ["/", "/a", "/groups", "/groups/not-a-uuid", "/groups/x/y"] {
        let body = json!({"action": "adminAssign", "principalId": fx.alice, "roleId": role::GROUP_MEMBER, "scope": scope, "kind": "eligible"});
        cases.push(case(
            format!("group membership at {scope}"),
            "POST",
            "/api/v1/requests",
            Body::Json(body),
            400,
            &["invalid_scope"],
        ));
    }
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn invalid_scopes_are_refused_everywhere(b: Backend) {
    invalid_scopes_everywhere(b, Mode::Regular).await;
}

/// Invalid action names and patterns, out-of-range durations, bad windows, bad times, unknown enum values.
async fn actions_durations_windows_times_and_enums(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let (a, ops, now) = (fx.alice, fx.ops, fx.now);
    let mut cases = Vec::new();
    let bad = ["invalid_input"];
    // Action names in checks, patterns in custom roles.
    let long = "a".repeat(201);
    let many = ["a"; 11].join(".");
    for action in
        ["", "a..b", "a b", "*", "ops.*", ".a", "a.", "ops/read", "ops.réad", "a\tb", long.as_str(), many.as_str()]
    {
        let body = json!({"principal": "alice", "action": action, "scope": "/a"});
        cases.push(case(
            format!("check with action {action:.30?}"),
            "POST",
            "/api/v1/check",
            Body::Json(body),
            400,
            &["invalid_action"],
        ));
    }
    let patterns = ["", "a..b", "a b", "ops.**", "*x", "x*", ".a", "a/b", long.as_str(), many.as_str()];
    let codes = ["invalid_action", "invalid_input"];
    for p in patterns {
        let body = json!({"name": "Bad", "permissions": {"actions": [p]}});
        cases.push(case(format!("role with pattern {p:.30?}"), "POST", "/api/v1/roles", Body::Json(body), 400, &codes));
        let body = json!({"name": "Target", "permissions": {"actions": ["t.*"], "notActions": [p]}});
        cases.push(case(
            format!("role update with notAction {p:.30?}"),
            "PUT",
            "/api/v1/roles/Target",
            Body::Json(body),
            400,
            &codes,
        ));
    }
    let hundred_one: Vec<String> = (0..101).map(|i| format!("p{i}.read")).collect();
    cases.push(case(
        "a role with 101 actions",
        "POST",
        "/api/v1/roles",
        Body::Json(json!({"name": "Big", "permissions": {"actions": hundred_one}})),
        400,
        &codes,
    ));
    let nested = json!({"name": "Nested", "permissions": {"actions": ["x.*"], "bogus": true}});
    cases.push(
        case("unknown field inside permissions", "POST", "/api/v1/roles", Body::Json(nested), 400, &bad)
            .bug(NESTED_UNKNOWN),
    );
    let nested = json!({"name": "Target", "permissions": {"actions": ["x.*"], "notaction": ["x.write"]}});
    cases.push(
        case("misspelt notActions inside permissions", "PUT", "/api/v1/roles/Target", Body::Json(nested), 400, &bad)
            .bug(NESTED_UNKNOWN),
    );
    let activate = |minutes: Value| json!({"action": "selfActivate", "roleId": ops, "scope": "/a", "durationMinutes": minutes, "justification": "j"});
    // Durations: out of range for the role, or not a u32 at all.
    for m in [0, 1, 29, 481, 1441, 100_000, u32::MAX as i64] {
        let c = case(
            format!("activation of {m} minutes"),
            "POST",
            "/api/v1/requests",
            Body::Json(activate(json!(m))),
            422,
            &["duration_out_of_range"],
        );
        cases.push(c.by(Who::Alice).mentions("minutes"));
    }
    for m in [
        json!(-1),
        json!(99_999_999_999_i64),
        json!(4_294_967_296_i64),
        json!(60.5),
        json!(1e10),
        json!("60"),
        json!(true),
    ] {
        let c =
            case(format!("activation of {m} minutes"), "POST", "/api/v1/requests", Body::Json(activate(m)), 400, &bad);
        cases.push(c.by(Who::Alice));
    }
    for d in [json!(0), json!(366), json!(-1), json!(99_999_999_999_i64), json!("30")] {
        cases.push(case(
            format!("token valid {d} days"),
            "POST",
            "/api/v1/tokens",
            Body::Json(json!({"name": "t", "expiresInDays": d})),
            400,
            &bad,
        ));
    }
    // Windows.
    let t = |ms: i64| now.plus_millis(ms).to_rfc3339();
    let assign = |start: Option<String>, end: Option<String>| {
        let mut v =
            json!({"action": "adminAssign", "principalId": a, "roleId": ops, "scope": "/w", "kind": "eligible"});
        if let Some(s) = start {
            v["start"] = json!(s);
        }
        if let Some(e) = end {
            v["end"] = json!(e);
        }
        v
    };
    let win = ["invalid_window"];
    let windows = vec![
        ("end before start", assign(Some(t(2 * DAY_MS)), Some(t(DAY_MS)))),
        ("end equal to start", assign(Some(t(DAY_MS)), Some(t(DAY_MS)))),
        ("end in the past", assign(None, Some(t(-HOUR_MS)))),
        ("end now", assign(None, Some(t(0)))),
        ("start and end in the past", assign(Some(t(-2 * DAY_MS)), Some(t(-DAY_MS)))),
    ];
    for (what, body) in windows {
        cases.push(
            case(format!("adminAssign with {what}"), "POST", "/api/v1/requests", Body::Json(body), 400, &win)
                .mentions("end"),
        );
    }
    let requests: Vec<(&str, Value, Who, u16, &[&'static str])> = vec![
        (
            "adminExtend to before the current end",
            json!({"action": "adminExtend", "assignmentId": fx.b_elig, "end": t(3 * DAY_MS)}),
            Who::Admin,
            400,
            &win,
        ),
        (
            "adminExtend to the past",
            json!({"action": "adminExtend", "assignmentId": fx.b_elig, "end": t(-DAY_MS)}),
            Who::Admin,
            400,
            &win,
        ),
        (
            "adminExtend of a permanent assignment",
            json!({"action": "adminExtend", "assignmentId": fx.a_elig, "end": t(DAY_MS)}),
            Who::Admin,
            422,
            &["not_extendable"],
        ),
        (
            "adminUpdate with end and permanent",
            json!({"action": "adminUpdate", "assignmentId": fx.b_elig, "end": t(DAY_MS), "permanent": true}),
            Who::Admin,
            400,
            &bad,
        ),
        (
            "adminUpdate with nothing to change",
            json!({"action": "adminUpdate", "assignmentId": fx.b_elig}),
            Who::Admin,
            400,
            &bad,
        ),
        (
            "adminUpdate to an end in the past",
            json!({"action": "adminUpdate", "assignmentId": fx.b_elig, "end": t(-DAY_MS)}),
            Who::Admin,
            400,
            &win,
        ),
        (
            "adminUpdate moving the start of an assignment in effect",
            json!({"action": "adminUpdate", "assignmentId": fx.b_elig, "start": t(DAY_MS)}),
            Who::Admin,
            400,
            &win,
        ),
        (
            "adminRenew of an assignment in effect",
            json!({"action": "adminRenew", "assignmentId": fx.b_elig}),
            Who::Admin,
            422,
            &["not_renewable"],
        ),
        (
            "selfActivate starting an hour ago",
            json!({"action": "selfActivate", "roleId": ops, "scope": "/a", "durationMinutes": 60, "start": t(-HOUR_MS), "justification": "j"}),
            Who::Alice,
            400,
            &win,
        ),
        (
            "selfActivate starting in year 9999, ending past it",
            json!({"action": "selfActivate", "roleId": ops, "scope": "/a", "durationMinutes": 60, "start": "9999-12-31T23:30:00Z", "justification": "j"}),
            Who::Alice,
            400,
            &["invalid_input"],
        ),
        (
            "selfActivate where not eligible",
            json!({"action": "selfActivate", "roleId": ops, "scope": "/c", "durationMinutes": 60, "justification": "j"}),
            Who::Alice,
            422,
            &["not_eligible"],
        ),
        (
            "selfActivate below a scope one is eligible at, by its parent",
            json!({"action": "selfActivate", "roleId": ops, "scope": "/", "durationMinutes": 60, "justification": "j"}),
            Who::Alice,
            422,
            &["not_eligible"],
        ),
        (
            "selfExtend to before the current end",
            json!({"action": "selfExtend", "assignmentId": fx.b_elig, "end": t(3 * DAY_MS), "justification": "j"}),
            Who::Alice,
            400,
            &win,
        ),
        (
            "selfExtend of a permanent assignment",
            json!({"action": "selfExtend", "assignmentId": fx.a_elig, "justification": "j"}),
            Who::Alice,
            422,
            &["not_extendable"],
        ),
        (
            "selfRenew of an assignment in effect",
            json!({"action": "selfRenew", "assignmentId": fx.b_elig, "justification": "j"}),
            Who::Alice,
            422,
            &["not_renewable"],
        ),
        (
            "selfDeactivate of an eligibility",
            json!({"action": "selfDeactivate", "assignmentId": fx.a_elig}),
            Who::Alice,
            403,
            &["forbidden"],
        ),
        (
            "an eligible assignment for a service principal",
            json!({"action": "adminAssign", "principalId": fx.robot, "roleId": ops, "scope": "/sp", "kind": "eligible"}),
            Who::Admin,
            422,
            &["service_principal_active_only"],
        ),
        (
            "a permanent active assignment for a service principal",
            json!({"action": "adminAssign", "principalId": fx.robot, "roleId": ops, "scope": "/sp", "kind": "active", "justification": "j"}),
            Who::Admin,
            422,
            &["service_principal_active_only"],
        ),
        (
            "an active assignment without the justification the settings require",
            json!({"action": "adminAssign", "principalId": a, "roleId": ops, "scope": "/j", "kind": "active"}),
            Who::Admin,
            422,
            &["justification_required"],
        ),
    ];
    for (what, body, who, want, codes) in requests {
        let c = case(what, "POST", "/api/v1/requests", Body::Json(body), want, codes).by(who);
        let past_9999 = "an activation may end after 9999-12-31, a time the API then writes as a bare number \
                         (\"253402302600000\") that no client parses";
        cases.push(if what.contains("9999") { c.bug(past_9999) } else { c });
    }
    // RFC 3339 times.
    for bad_time in [
        json!("2026-01-10"),
        json!("yesterday"),
        json!("2026-13-01T00:00:00Z"),
        json!("2026-01-10T25:00:00Z"),
        json!("2026-01-10T10:00:00"),
        json!("10000-01-01T00:00:00Z"),
        json!(1_767_603_600_000_i64),
        json!(""),
    ] {
        let mut body = assign(None, None);
        body["end"] = bad_time.clone();
        cases.push(case(
            format!("adminAssign ending {bad_time}"),
            "POST",
            "/api/v1/requests",
            Body::Json(body),
            400,
            &bad,
        ));
        let body = json!({"principal": "alice", "action": "ops.read", "scope": "/a", "at": bad_time});
        cases.push(case(format!("check at {}", body["at"]), "POST", "/api/v1/check", Body::Json(body), 400, &bad));
    }
    for (k, v) in [("from", "yesterday"), ("to", "2026-13-01T00:00:00Z"), ("from", "1767603600000"), ("to", "")] {
        cases.push(case(
            format!("audit {k}={v}"),
            "GET",
            format!("/api/v1/audit?{k}={}", enc(v)),
            Body::Empty,
            400,
            &bad,
        ));
        cases.push(case(
            format!("export {k}={v}"),
            "GET",
            format!("/api/v1/audit/export?format=csv&{k}={}", enc(v)),
            Body::Empty,
            400,
            &bad,
        ));
    }
    // Enum values.
    let enums: Vec<(&str, &str, String, Body)> = vec![
        ("action selfDestruct", "POST", "/api/v1/requests".into(), Body::Json(json!({"action": "selfDestruct"}))),
        ("action in another case", "POST", "/api/v1/requests".into(), Body::Json(json!({"action": "AdminAssign"}))),
        (
            "kind maybe",
            "POST",
            "/api/v1/requests".into(),
            Body::Json(
                json!({"action": "adminAssign", "principalId": a, "roleId": ops, "scope": "/e", "kind": "maybe"}),
            ),
        ),
        (
            "kind Eligible",
            "POST",
            "/api/v1/requests".into(),
            Body::Json(
                json!({"action": "adminAssign", "principalId": a, "roleId": ops, "scope": "/e", "kind": "Eligible"}),
            ),
        ),
        (
            "approver kind robot",
            "PUT",
            format!("/api/v1/roles/{ops}/settings?scope=%2Fe"),
            Body::Json(json!({"approvalStages": [{"approvers": [{"kind": "robot", "id": a}]}]})),
        ),
        ("assignments kind=maybe", "GET", "/api/v1/assignments?kind=maybe".into(), Body::Empty),
        ("assignments state=bogus", "GET", "/api/v1/assignments?state=bogus".into(), Body::Empty),
        ("requests status=Bogus", "GET", "/api/v1/requests?status=Bogus".into(), Body::Empty),
        ("requests status=pending", "GET", "/api/v1/requests?status=pending".into(), Body::Empty),
        ("requests action=selfDestruct", "GET", "/api/v1/requests?action=selfDestruct".into(), Body::Empty),
        ("requests mine=perhaps", "GET", "/api/v1/requests?mine=perhaps".into(), Body::Empty),
        ("audit outcome=maybe", "GET", "/api/v1/audit?outcome=maybe".into(), Body::Empty),
        ("export format=xml", "GET", "/api/v1/audit/export?format=xml".into(), Body::Empty),
        ("export without a format", "GET", "/api/v1/audit/export".into(), Body::Empty),
        ("notifications status=bogus", "GET", "/api/v1/notifications?status=bogus".into(), Body::Empty),
        ("notifications status=Pending", "GET", "/api/v1/notifications?status=Pending".into(), Body::Empty),
        ("notifications requestId=x", "GET", "/api/v1/notifications?requestId=x".into(), Body::Empty),
        ("notifications empty event", "GET", "/api/v1/notifications?event=".into(), Body::Empty),
        ("notifications event with a NUL", "GET", "/api/v1/notifications?event=a%00b".into(), Body::Empty),
        ("notifications event with a space", "GET", "/api/v1/notifications?event=a%20b".into(), Body::Empty),
    ];
    for (what, m, path, body) in enums {
        cases.push(case(format!("unknown enum value: {what}"), m, &path, body, 400, &bad));
    }
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn actions_durations_windows_times_and_enums_are_refused(b: Backend) {
    actions_durations_windows_times_and_enums(b, Mode::Regular).await;
}

/// The database watch the other tests rely on does see changes, in every table it watches.
async fn the_database_watch_sees_changes(b: Backend) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let mut db = Db::open(&s).await;
    let snap = db.snapshot().await;
    assert_eq!(snap.undecoded(), 0, "every cell is read");
    for t in [
        "principals",
        "credentials",
        "memberships",
        "roles",
        "role_settings",
        "resources",
        "assignments",
        "requests",
        "api_tokens",
        "access_reviews",
        "access_review_instances",
        "access_review_items",
    ] {
        assert!(!snap.tables[t].is_empty(), "the fixture has rows in {t}");
    }
    let mut before = snap;
    let expect = |changes: Vec<String>, table: &str, what: &str| {
        assert!(changes.iter().any(|c| c.starts_with(table)), "{what} is seen in {table}: {changes:?}");
        assert!(changes.iter().any(|c| c.starts_with("audit event")), "{what}'s success event is seen: {changes:?}");
    };
    let patch = UpdateUser { display_name: Some("Alice A.".into()), ..Default::default() };
    s.admin.update_user(fx.alice, &patch).await.expect("patch");
    let (changes, after) = db.changes_since(&before).await;
    expect(changes, "principals", "a new display name");
    before = after;
    let mut r = CreateRequest::for_assignment(RequestAction::AdminUpdate, fx.b_elig);
    r.end = Some(fx.now.plus_millis(DAY_MS));
    s.admin.create_request(&r).await.expect("shorten");
    let (changes, after) = db.changes_since(&before).await;
    expect(changes, "assignments", "a shorter window");
    before = after;
    s.admin.remove_member(fx.grp, fx.alice).await.expect("remove member");
    let (changes, after) = db.changes_since(&before).await;
    expect(changes, "memberships", "a removed membership");
    before = after;
    let deny = DecideReviewItem { verdict: Verdict::Deny, reason: Some("not needed".into()) };
    s.admin.decide_review_item(fx.instance, fx.item, &deny).await.expect("decide");
    let (changes, after) = db.changes_since(&before).await;
    expect(changes, "access_review_items", "a reviewer's decision");
    before = after;
    s.admin.stop_review(fx.review).await.expect("stop the review");
    let (changes, after) = db.changes_since(&before).await;
    expect(changes.clone(), "access_reviews", "a stopped review");
    expect(changes, "access_review_instances", "its instance completed");
    before = after;
    s.admin.apply_review_instance(fx.instance).await.expect("apply");
    let (changes, _) = db.changes_since(&before).await;
    expect(changes.clone(), "access_review_instances", "an applied instance");
    expect(changes, "assignments", "the denied access removed");
    s.stop().await;
}

/// Page sizes outside 1-1000 and cursors this server did not issue, on every list.
async fn limits_and_cursors(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let mut cases = Vec::new();
    let bad = ["invalid_input"];
    let lists = [
        "/api/v1/users?",
        "/api/v1/groups?",
        "/api/v1/service-principals?",
        "/api/v1/resources?",
        "/api/v1/assignments?",
        "/api/v1/requests?",
        "/api/v1/audit?",
        "/api/v1/notifications?",
        "/api/v1/me/audit?",
    ];
    for list in lists {
        for limit in ["0", "1001", "-1", "x", "99999999999", "1.5", ""] {
            let path = format!("{list}limit={limit}");
            cases.push(
                case(format!("limit={limit:?} on {list}"), "GET", &path, Body::Empty, 400, &bad).mentions("limit"),
            );
        }
        // "!!!" is not base64; "_w" decodes to a byte that is not UTF-8; "Zm9v" is "foo" and "MTIz" is
        // "123", neither an id (audit pages by sequence number, where "123" is a position, and resources
        // by scope, where any text is one).
        let cursors: &[&str] = if list.contains("resources") {
            &["!!!", "_w", "%2F%2F"]
        } else if list.contains("audit") {
            &["!!!", "_w", "Zm9v", "%2F%2F"]
        } else {
            &["!!!", "_w", "Zm9v", "MTIz", "%2F%2F"]
        };
        for cursor in cursors {
            let path = format!("{list}cursor={cursor}");
            cases.push(
                case(format!("cursor={cursor} on {list}"), "GET", &path, Body::Empty, 400, &bad).mentions("cursor"),
            );
        }
    }
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn bad_limits_and_cursors_are_refused(b: Backend) {
    limits_and_cursors(b, Mode::Regular).await;
}

/// Settings outside their ranges, names and texts out of bounds, short passwords, and duplicates.
async fn settings_names_passwords_and_duplicates(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let (a, ops) = (fx.alice, fx.ops);
    let mut cases = Vec::new();
    let bad = ["invalid_input"];
    let set = ["invalid_settings"];
    let stage = |approvers: Value| json!({"approvers": approvers});
    let alice = json!([{"kind": "user", "id": a}]);
    let recipients =
        |list: Value| json!({"notifications": {"assignedActive": {"admins": {"additionalRecipients": list}}}});
    let settings: Vec<(&str, Value, &[&'static str], Option<&str>)> = vec![
        ("activationMaxMinutes 10", json!({"activationMaxMinutes": 10}), &set, Some("activationMaxMinutes")),
        ("activationMaxMinutes 29", json!({"activationMaxMinutes": 29}), &set, Some("activationMaxMinutes")),
        ("activationMaxMinutes 1441", json!({"activationMaxMinutes": 1441}), &set, Some("activationMaxMinutes")),
        ("activationMaxMinutes 5000", json!({"activationMaxMinutes": 5000}), &set, Some("activationMaxMinutes")),
        ("activationMaxMinutes -5", json!({"activationMaxMinutes": -5}), &bad, None),
        ("eligibleExpireAfterDays 0", json!({"eligibleExpireAfterDays": 0}), &set, Some("eligibleExpireAfterDays")),
        ("activeExpireAfterDays 36501", json!({"activeExpireAfterDays": 36501}), &set, Some("activeExpireAfterDays")),
        (
            "3 approval stages",
            json!({"requireApprovalToActivate": true,
            "approvalStages": [stage(alice.clone()), stage(alice.clone()), stage(alice.clone())]}),
            &set,
            Some("stages"),
        ),
        ("approval without stages", json!({"requireApprovalToActivate": true}), &set, Some("approv")),
        (
            "a stage without approvers",
            json!({"requireApprovalToActivate": true, "approvalStages": [stage(json!([]))]}),
            &set,
            Some("approver"),
        ),
        (
            "a service principal as approver",
            json!({"approvalStages": [stage(json!([{"kind": "servicePrincipal", "id": fx.robot}]))]}),
            &set,
            Some("service principal"),
        ),
        (
            "requiredApprovals 0",
            json!({"approvalStages": [{"approvers": alice, "requiredApprovals": 0}]}),
            &set,
            Some("requiredApprovals"),
        ),
        (
            "timeoutMinutes 1",
            json!({"approvalStages": [{"approvers": alice, "timeoutMinutes": 1}]}),
            &set,
            Some("timeoutMinutes"),
        ),
        (
            "escalation after the timeout",
            json!({"approvalStages": [{"approvers": alice, "timeoutMinutes": 60,
            "escalation": {"approvers": alice, "afterMinutes": 60}}]}),
            &set,
            Some("afterMinutes"),
        ),
        (
            "escalation without approvers",
            json!({"approvalStages": [{"approvers": alice, "timeoutMinutes": 60,
            "escalation": {"approvers": [], "afterMinutes": 30}}]}),
            &set,
            Some("escalation"),
        ),
        ("a recipient that is not an address", recipients(json!(["not-an-email"])), &set, Some("not-an-email")),
        ("a recipient without a domain dot", recipients(json!(["ops@localhost"])), &set, Some("ops@localhost")),
        ("a recipient with a space", recipients(json!(["o ps@example.com"])), &set, None),
        ("two addresses in one recipient", recipients(json!(["a@example.com, b@example.com"])), &set, None),
        (
            "51 recipients",
            recipients(json!((0..51).map(|i| format!("r{i}@example.com")).collect::<Vec<_>>())),
            &set,
            Some("50"),
        ),
        ("an unknown setting", json!({"activationMaxMinute": 60}), &bad, Some("activationMaxMinute")),
        ("an unknown notification event", json!({"notifications": {"roleDeleted": {}}}), &bad, None),
        ("an unknown field in a stage", json!({"approvalStages": [{"approvers": alice, "quorum": 2}]}), &bad, None),
    ];
    for (what, body, codes, mention) in settings {
        let mut c = case(
            format!("settings: {what}"),
            "PUT",
            format!("/api/v1/roles/{ops}/settings?scope=%2Fs"),
            Body::Json(body),
            400,
            codes,
        );
        if let Some(m) = mention {
            c = c.mentions(m);
        }
        cases.push(c);
    }
    // Names and texts.
    let long = |n: usize| "n".repeat(n);
    let texts: Vec<(&str, &str, String, Value)> = vec![
        ("empty user name", "POST", "/api/v1/users".into(), json!({"name": ""})),
        ("blank user name", "POST", "/api/v1/users".into(), json!({"name": "   "})),
        ("user name with a space", "POST", "/api/v1/users".into(), json!({"name": "bad name"})),
        ("user name with a slash", "POST", "/api/v1/users".into(), json!({"name": "a/b"})),
        ("user name with markup", "POST", "/api/v1/users".into(), json!({"name": "<script>"})),
        ("user name with an emoji", "POST", "/api/v1/users".into(), json!({"name": "👍"})),
        ("user name of 129 characters", "POST", "/api/v1/users".into(), json!({"name": long(129)})),
        (
            "displayName of 257 characters",
            "POST",
            "/api/v1/users".into(),
            json!({"name": "dn", "displayName": long(257)}),
        ),
        ("displayName with a bell", "POST", "/api/v1/users".into(), json!({"name": "dn", "displayName": "ding\u{7}"})),
        ("email without @", "POST", "/api/v1/users".into(), json!({"name": "em", "email": "not-an-email"})),
        ("email without a domain", "POST", "/api/v1/users".into(), json!({"name": "em", "email": "a@"})),
        ("email with a space", "POST", "/api/v1/users".into(), json!({"name": "em", "email": "a b@example.com"})),
        ("patched email", "PATCH", format!("/api/v1/users/{a}"), json!({"email": "nope"})),
        (
            "patched displayName of 257 characters",
            "PATCH",
            format!("/api/v1/users/{a}"),
            json!({"displayName": long(257)}),
        ),
        ("alice as her own manager", "PATCH", format!("/api/v1/users/{a}"), json!({"managerId": a})),
        ("empty group name", "POST", "/api/v1/groups".into(), json!({"name": ""})),
        (
            "group description of 1025 characters",
            "POST",
            "/api/v1/groups".into(),
            json!({"name": "gd", "description": long(1025)}),
        ),
        (
            "patched group description of 1025 characters",
            "PATCH",
            format!("/api/v1/groups/{}", fx.grp),
            json!({"description": long(1025)}),
        ),
        ("empty service principal name", "POST", "/api/v1/service-principals".into(), json!({"name": ""})),
        ("empty role name", "POST", "/api/v1/roles".into(), json!({"name": "", "permissions": {"actions": ["x.*"]}})),
        ("blank role name", "POST", "/api/v1/roles".into(), json!({"name": "  ", "permissions": {"actions": ["x.*"]}})),
        (
            "role name of 129 characters",
            "POST",
            "/api/v1/roles".into(),
            json!({"name": long(129), "permissions": {"actions": ["x.*"]}}),
        ),
        (
            "role description of 1025 bytes",
            "POST",
            "/api/v1/roles".into(),
            json!({"name": "Described", "description": long(1025), "permissions": {"actions": ["x.*"]}}),
        ),
        ("empty resource name", "POST", "/api/v1/resources".into(), json!({"scope": "/r1", "name": "", "type": "db"})),
        (
            "resource name of 201 characters",
            "POST",
            "/api/v1/resources".into(),
            json!({"scope": "/r1", "name": long(201), "type": "db"}),
        ),
        ("empty resource type", "POST", "/api/v1/resources".into(), json!({"scope": "/r1", "name": "n", "type": ""})),
        ("empty token name", "POST", "/api/v1/tokens".into(), json!({"name": ""})),
        ("blank token name", "POST", "/api/v1/tokens".into(), json!({"name": "  "})),
        ("token name of 101 characters", "POST", "/api/v1/tokens".into(), json!({"name": long(101)})),
        ("a token for a group", "POST", "/api/v1/tokens".into(), json!({"name": "t", "principalId": fx.grp})),
        (
            "a password for a group",
            "POST",
            "/api/v1/service-principals".into(),
            json!({"name": "spw", "password": "password-123"}),
        ),
        ("a password of 5 characters", "POST", "/api/v1/users".into(), json!({"name": "pw", "password": "short"})),
        ("a password of 7 characters", "POST", "/api/v1/users".into(), json!({"name": "pw", "password": "1234567"})),
        (
            "a password of 1025 characters",
            "POST",
            "/api/v1/users".into(),
            json!({"name": "pw", "password": long(1025)}),
        ),
        ("an empty password", "POST", "/api/v1/users".into(), json!({"name": "pw", "password": ""})),
        ("a patched password of 7 characters", "PATCH", format!("/api/v1/users/{a}"), json!({"password": "1234567"})),
        ("a manager for a group", "PATCH", format!("/api/v1/groups/{}", fx.grp), json!({"managerId": a})),
    ];
    for (what, m, path, body) in texts {
        cases.push(case(what, m, &path, Body::Json(body), 400, &bad));
    }
    let justification = |j: Value| json!({"action": "adminAssign", "principalId": a, "roleId": ops, "scope": "/j", "kind": "eligible", "justification": j});
    cases.push(
        case(
            "a justification of 2001 bytes",
            "POST",
            "/api/v1/requests",
            Body::Json(justification(json!(long(2001)))),
            400,
            &bad,
        )
        .mentions("justification"),
    );
    cases.push(
        case(
            "a justification with a control character",
            "POST",
            "/api/v1/requests",
            Body::Json(justification(json!("why\u{1b}[31m"))),
            400,
            &bad,
        )
        .mentions("justification"),
    );
    let ticket = |t: Value| json!({"action": "selfActivate", "roleId": ops, "scope": "/a", "durationMinutes": 60, "justification": "j", "ticket": t});
    for t in [
        json!({"system": "", "number": "1"}),
        json!({"system": "jira", "number": "  "}),
        json!({"system": "jira", "number": long(101)}),
        json!({"system": "jira"}),
        json!({"system": "jira", "number": "1", "url": "x"}),
    ] {
        cases.push(
            case(format!("ticket {t:.60}"), "POST", "/api/v1/requests", Body::Json(ticket(t)), 400, &bad)
                .by(Who::Alice),
        );
    }
    // Duplicates and conflicts with the current state.
    let taken = ["name_taken"];
    let conflicts: Vec<(&str, &str, String, Body, &[&'static str])> = vec![
        ("a second alice", "POST", "/api/v1/users".into(), Body::Json(json!({"name": "alice"})), &taken),
        ("ALICE (names ignore case)", "POST", "/api/v1/users".into(), Body::Json(json!({"name": "ALICE"})), &taken),
        ("a group named alice", "POST", "/api/v1/groups".into(), Body::Json(json!({"name": "alice"})), &taken),
        (
            "a service principal named grp",
            "POST",
            "/api/v1/service-principals".into(),
            Body::Json(json!({"name": "GRP"})),
            &taken,
        ),
        ("a user named admin", "POST", "/api/v1/users".into(), Body::Json(json!({"name": "admin"})), &taken),
        (
            "a second Ops role",
            "POST",
            "/api/v1/roles".into(),
            Body::Json(json!({"name": "ops", "permissions": {"actions": ["x.*"]}})),
            &taken,
        ),
        (
            "a role named like a built-in",
            "POST",
            "/api/v1/roles".into(),
            Body::Json(json!({"name": "Global Administrator", "permissions": {"actions": ["*"]}})),
            &taken,
        ),
        (
            "renaming Target to Ops",
            "PUT",
            "/api/v1/roles/Target".into(),
            Body::Json(json!({"name": "Ops", "permissions": {"actions": ["x.*"]}})),
            &taken,
        ),
        (
            "a second resource at /a",
            "POST",
            "/api/v1/resources".into(),
            Body::Json(json!({"scope": "/a", "name": "again", "type": "db"})),
            &["already_exists"],
        ),
        (
            "a duplicate eligibility",
            "POST",
            "/api/v1/requests".into(),
            Body::Json(
                json!({"action": "adminAssign", "principalId": a, "roleId": ops, "scope": "/a", "kind": "eligible"}),
            ),
            &["already_exists"],
        ),
        (
            "alice into grp again",
            "PUT",
            format!("/api/v1/groups/{}/members/{a}", fx.grp),
            Body::Empty,
            &["already_exists"],
        ),
        ("grp into itself", "PUT", format!("/api/v1/groups/{0}/members/{0}", fx.grp), Body::Empty, &["group_cycle"]),
        (
            "a service principal into a group",
            "PUT",
            format!("/api/v1/groups/{}/members/{}", fx.grp, fx.robot),
            Body::Empty,
            &["invalid_input"],
        ),
        (
            "editing a built-in role",
            "PUT",
            "/api/v1/roles/Reader".into(),
            Body::Json(json!({"name": "Reader", "permissions": {"actions": ["*"]}})),
            &["builtin_role_read_only"],
        ),
        (
            "deleting a built-in role",
            "DELETE",
            "/api/v1/roles/Global%20Administrator".into(),
            Body::Empty,
            &["builtin_role_read_only"],
        ),
        ("deleting an assigned role", "DELETE", "/api/v1/roles/Ops".into(), Body::Empty, &["role_in_use"]),
        (
            "a second setup",
            "POST",
            "/api/v1/setup".into(),
            Body::Json(json!({"setupSecret": "s", "username": "x", "password": "password-123"})),
            &["setup_completed"],
        ),
        (
            "disabling the last Global Administrator",
            "PATCH",
            format!("/api/v1/users/{}", s.admin_id),
            Body::Json(json!({"enabled": false})),
            &["last_global_admin"],
        ),
    ];
    for (what, m, path, body, codes) in conflicts {
        let want = if codes == ["invalid_input"] { 400 } else { 409 };
        cases.push(case(what, m, &path, body, want, codes));
    }
    let admin_ga = s
        .admin
        .list_assignments(&AssignmentQuery { principal_id: Some(s.admin_id), ..Default::default() })
        .await
        .expect("admin's assignments")
        .items[0]
        .id;
    cases.push(case(
        "removing the last Global Administrator",
        "POST",
        "/api/v1/requests",
        Body::Json(json!({"action": "adminRemove", "assignmentId": admin_ga})),
        409,
        &["last_global_admin"],
    ));
    cases.push(case(
        "making the last Global Administrator time-bound",
        "POST",
        "/api/v1/requests",
        Body::Json(
            json!({"action": "adminUpdate", "assignmentId": admin_ga, "end": fx.now.plus_millis(DAY_MS).to_rfc3339()}),
        ),
        409,
        &["last_global_admin"],
    ));
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn bad_settings_names_passwords_and_duplicates_are_refused(b: Backend) {
    settings_names_passwords_and_duplicates(b, Mode::Regular).await;
}

/// Missing, malformed, unknown and revoked credentials get 401 (wrong passwords are audited).
async fn authentication(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let revoked = s.client_for(fx.alice).await;
    revoked.logout().await.expect("logout");
    let revoked = revoked.token().expect("token").to_owned();
    let mut cases = Vec::new();
    let un = ["unauthenticated"];
    let headers = [
        "Bearer garbage".to_owned(),
        "Bearer ".to_owned(),
        "Bearer pim_".to_owned(),
        format!("Bearer pim_{}", "A".repeat(43)),
        format!("Bearer pim_{}", "A".repeat(500)),
        "Basic YWRtaW46YWRtaW4tcGFzc3dvcmQtMTIz".to_owned(),
        format!("Token {}", fx.alice_token),
        fx.alice_token.clone(),
        format!("Bearer {revoked}"),
        format!("Bearer {}x", fx.alice_token),
    ];
    for h in headers {
        for (m, path) in [("GET", "/api/v1/me"), ("GET", "/api/v1/users"), ("POST", "/api/v1/audit/verify")] {
            let c = case(format!("Authorization: {h:.40}"), m, path, Body::Empty, 401, &un);
            cases.push(c.by(Who::Header(h.clone())));
        }
    }
    for (m, path, body) in [
        ("GET", "/api/v1/me", Body::Empty),
        ("POST", "/api/v1/users", Body::Json(json!({"name": "anon"}))),
        ("POST", "/api/v1/requests", Body::Json(json!({"action": "adminRemove", "assignmentId": fx.a_elig}))),
        (
            "POST",
            "/api/v1/requests",
            Body::Json(json!({"action": "adminRemove", "assignmentId": fx.a_elig, "validateOnly": true})),
        ),
        ("POST", "/api/v1/check", Body::Json(json!({"principal": "alice", "action": "a.b", "scope": "/"}))),
        ("POST", "/api/v1/auth/logout", Body::Empty),
    ] {
        cases.push(case(format!("no credentials: {m} {path}"), m, path, body, 401, &un).by(Who::Nobody));
    }
    let creds = ["invalid_credentials"];
    for (user, pw) in [
        ("admin", "wrong-password"),
        ("admin", ""),
        ("nobody", "whatever-123"),
        ("alice", "no-password-set"),
        ("ADMIN", "wrong-password"),
        ("grp", "password-123"),
        ("robot", "password-123"),
    ] {
        let body = Body::Json(json!({"username": user, "password": pw}));
        cases.push(case(format!("sign-in as {user}"), "POST", "/api/v1/auth/login", body, 401, &creds).by(Who::Nobody));
    }
    let secret = Body::Json(json!({"setupSecret": "guess", "username": "x", "password": "password-123"}));
    cases.push(
        case("setup after setup, anonymously", "POST", "/api/v1/setup", secret, 409, &["setup_completed"])
            .by(Who::Nobody),
    );
    run(&s, &fx, mode, cases).await;
    if mode == Mode::Regular {
        // Failed sign-ins are recorded.
        let q =
            AuditQuery { action: Some("auth.signIn".into()), outcome: Some(Outcome::Failure), ..Default::default() };
        let failed = s.admin.list_audit(&q).await.expect("audit").items;
        assert!(failed.len() >= 7, "every failed sign-in is audited: {}", failed.len());
        assert!(failed.iter().all(|e| e.error_code.as_deref() == Some("invalid_credentials")));
    }
    s.stop().await;
}

async fn bad_credentials_get_401(b: Backend) {
    authentication(b, Mode::Regular).await;
}

/// NUL bytes and other hostile text reach the database layer only if validated; none may cause a 5xx.
const NUL_TEXT: &str = "text with a NUL byte reaches the database unvalidated (a 500 on PostgreSQL)";

async fn hostile_text(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let (a, ops) = (fx.alice, fx.ops);
    let nul = "a\u{0}b";
    let bad = ["invalid_input"];
    let mut cases = Vec::new();
    let is_pg = matches!(b, Backend::Postgres(_));
    // Validated before anything is stored: refused on both backends.
    let refused: Vec<(&str, &str, String, Value)> = vec![
        ("user name", "POST", "/api/v1/users".into(), json!({"name": nul})),
        ("displayName", "PATCH", format!("/api/v1/users/{a}"), json!({"displayName": nul})),
        ("email", "POST", "/api/v1/users".into(), json!({"name": "nul-mail", "email": "a\u{0}@example.com"})),
        ("group description", "POST", "/api/v1/groups".into(), json!({"name": "nul-group", "description": nul})),
        ("role name", "POST", "/api/v1/roles".into(), json!({"name": nul, "permissions": {"actions": ["x.*"]}})),
        ("resource name", "POST", "/api/v1/resources".into(), json!({"scope": "/nul", "name": nul, "type": "db"})),
        ("scope", "POST", "/api/v1/resources".into(), json!({"scope": "/a\u{0}b", "name": "n", "type": "db"})),
        ("review name", "POST", "/api/v1/reviews".into(), review_json(&fx, json!({"name": nul}))),
        ("review description", "POST", "/api/v1/reviews".into(), review_json(&fx, json!({"description": nul}))),
        (
            "reviewer's reason",
            "POST",
            format!("/api/v1/review-instances/{}/decisions", fx.instance),
            json!({"itemIds": [fx.item], "verdict": "deny", "reason": nul}),
        ),
        (
            "recipient",
            "PUT",
            format!("/api/v1/roles/{ops}/settings?scope=%2Fnul"),
            json!({"notifications": {"assignedActive": {"admins": {"additionalRecipients": ["a\u{0}@example.com"]}}}}),
        ),
    ];
    for (what, m, path, body) in refused {
        // NUL never gets past the body parser, whatever field it is in.
        let codes: &[&'static str] = if what == "scope" { &["invalid_input", "invalid_scope"] } else { &bad };
        cases.push(case(format!("NUL in a {what}"), m, &path, Body::Json(body), 400, codes));
    }
    // The action is refused (400) but the refusal's audit event carries the raw text.
    let in_audit: Vec<(&str, Value, Who)> = vec![
        (
            "justification",
            json!({"action": "adminAssign", "principalId": a, "roleId": ops, "scope": "/n", "kind": "eligible", "justification": nul}),
            Who::Admin,
        ),
        (
            "ticket",
            json!({"action": "selfActivate", "roleId": ops, "scope": "/a", "durationMinutes": 60, "justification": "j",
            "ticket": {"system": nul, "number": "1"}}),
            Who::Alice,
        ),
    ];
    for (what, body, who) in in_audit {
        let c = case(format!("NUL in a {what}"), "POST", "/api/v1/requests", Body::Json(body), 400, &bad).by(who);
        cases.push(if is_pg { c.bug(NUL_TEXT) } else { c });
    }
    // Never looked up: a NUL in a body, path or query (or a cursor decoding to one) is refused first.
    type Lookup<'a> = (&'a str, &'a str, String, Body, u16, &'a [&'static str]);
    let lookups: Vec<Lookup> = vec![
        (
            "sign-in name",
            "POST",
            "/api/v1/auth/login".into(),
            Body::Json(json!({"username": nul, "password": "password-123"})),
            400,
            &bad,
        ),
        ("principal name", "GET", "/api/v1/principals/a%00b".into(), Body::Empty, 400, &bad),
        ("role name", "GET", "/api/v1/roles/a%00b".into(), Body::Empty, 400, &bad),
        ("role name to delete", "DELETE", "/api/v1/roles/a%00b".into(), Body::Empty, 400, &bad),
        ("user name prefix", "GET", "/api/v1/users?q=a%00".into(), Body::Empty, 400, &bad),
        ("audit action prefix", "GET", "/api/v1/audit?action=a%00".into(), Body::Empty, 400, &bad),
        ("resource cursor", "GET", "/api/v1/resources?cursor=AA".into(), Body::Empty, 400, &bad),
    ];
    for (what, m, path, body, want, codes) in lookups {
        let c = case(format!("NUL in a {what}"), m, &path, body, want, codes);
        cases.push(if is_pg { c.bug(NUL_TEXT) } else { c });
    }
    // Stored as they are: refused on both backends (a token name is shown in lists like any name).
    cases.push(
        case("NUL in a token name", "POST", "/api/v1/tokens", Body::Json(json!({"name": nul})), 400, &bad)
            .bug(NUL_TEXT),
    );
    cases.push(
        case(
            "a control character in a token name",
            "POST",
            "/api/v1/tokens",
            Body::Json(json!({"name": "tok\u{1b}[2J"})),
            400,
            &bad,
        )
        .bug("token names are not checked for control characters, unlike every other name"),
    );
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn hostile_text_never_causes_a_5xx(b: Backend) {
    hostile_text(b, Mode::Regular).await;
}

/// Paths and methods the API does not have still answer with a problem document.
async fn unrouted_calls_answer_with_problems(b: Backend) {
    unrouted(b, Mode::Regular).await;
}

async fn unrouted(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let why = "unknown paths and unsupported methods answer with an empty body, not application/problem+json";
    let cases = vec![
        case("an unknown path", "GET", "/api/v1/nothing-here", Body::Empty, 404, &[]).bug(why),
        case("an unknown version", "GET", "/api/v2/users", Body::Empty, 404, &[]).bug(why),
        case("DELETE on a collection", "DELETE", "/api/v1/users", Body::Empty, 405, &[]).bug(why),
        case("PUT on requests", "PUT", "/api/v1/requests", Body::Json(json!({})), 405, &[]).bug(why),
    ];
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

/// Decisions that must be refused and change nothing: malformed bodies, unknown and finished
/// requests, the requester deciding, a non-approver, ends an approver may not give, bad bulk lists.
async fn approval_decisions(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let admin_ref = json!([{"kind": "user", "id": s.admin_id}]);
    s.set_settings(fx.ops, "/a", |st| {
        st.require_approval_to_activate = true;
        st.approval_stages = serde_json::from_value(json!([{"approvers": admin_ref}])).expect("stages");
    })
    .await;
    let alice = Client::new(&s.url, Some(fx.alice_token.clone())).expect("client");
    let p = alice.create_request(&activation(fx.ops, "/a", 60)).await.expect("pending").request.id;
    let done = alice.create_request(&activation(fx.ops, "/a/x", 60)).await.expect("pending").request.id;
    let j = DecideRequest { justification: Some("no".into()), end: None };
    s.admin.deny_request(done, &j).await.expect("denied");
    let mut ext = CreateRequest::for_assignment(RequestAction::SelfExtend, fx.b_elig);
    ext.justification = Some("more".into());
    let e = alice.create_request(&ext).await.expect("extension").request.id;
    let (_, carl) = s.user("carl").await;
    let carl = Who::Header(format!("Bearer {}", carl.token().expect("token")));
    let u = uuid::Uuid::now_v7();
    let ok = json!({"justification": "fine"});
    let past = fx.now.plus_millis(-DAY_MS).to_rfc3339();
    let before_end = fx.now.plus_millis(3 * DAY_MS).to_rfc3339();
    let bad = ["invalid_input"];
    let mut cases = vec![
        case(
            "approve without a body",
            "POST",
            format!("/api/v1/requests/{p}/approve"),
            Body::Empty,
            415,
            &["unsupported_media_type"],
        ),
        case(
            "justification a number",
            "POST",
            format!("/api/v1/requests/{p}/approve"),
            Body::Json(json!({"justification": 5})),
            400,
            &bad,
        ),
        case(
            "unknown field",
            "POST",
            format!("/api/v1/requests/{p}/approve"),
            Body::Json(json!({"justification": "x", "verdict": "approve"})),
            400,
            &bad,
        ),
        case(
            "an end for an activation",
            "POST",
            format!("/api/v1/requests/{p}/approve"),
            Body::Json(json!({"justification": "x", "end": before_end})),
            400,
            &bad,
        )
        .mentions("end"),
        case(
            "no justification",
            "POST",
            format!("/api/v1/requests/{p}/approve"),
            Body::Json(json!({})),
            422,
            &["justification_required"],
        ),
        case(
            "the requester approves",
            "POST",
            format!("/api/v1/requests/{p}/approve"),
            Body::Json(ok.clone()),
            422,
            &["approval_self_forbidden"],
        )
        .by(Who::Alice),
        case(
            "a non-approver approves",
            "POST",
            format!("/api/v1/requests/{p}/approve"),
            Body::Json(ok.clone()),
            403,
            &["not_approver"],
        )
        .by(carl.clone()),
        case(
            "a non-approver denies",
            "POST",
            format!("/api/v1/requests/{p}/deny"),
            Body::Json(ok.clone()),
            403,
            &["not_approver"],
        )
        .by(carl),
        case(
            "no token",
            "POST",
            format!("/api/v1/requests/{p}/approve"),
            Body::Json(ok.clone()),
            401,
            &["unauthenticated"],
        )
        .by(Who::Nobody),
        case(
            "approve a denied request",
            "POST",
            format!("/api/v1/requests/{done}/approve"),
            Body::Json(ok.clone()),
            409,
            &["request_not_pending"],
        ),
        case(
            "deny a denied request",
            "POST",
            format!("/api/v1/requests/{done}/deny"),
            Body::Json(ok.clone()),
            409,
            &["request_not_pending"],
        ),
        case(
            "unknown request",
            "POST",
            format!("/api/v1/requests/{u}/approve"),
            Body::Json(ok.clone()),
            404,
            &["not_found"],
        ),
        case("non-UUID request", "POST", "/api/v1/requests/nope/approve", Body::Json(ok.clone()), 400, &bad),
        case(
            "extension: the approver must choose the end",
            "POST",
            format!("/api/v1/requests/{e}/approve"),
            Body::Json(ok.clone()),
            400,
            &bad,
        )
        .mentions("end"),
        case(
            "extension: an end in the past",
            "POST",
            format!("/api/v1/requests/{e}/approve"),
            Body::Json(json!({"justification": "x", "end": past})),
            400,
            &["invalid_window"],
        ),
        case(
            "extension: an end before the current one",
            "POST",
            format!("/api/v1/requests/{e}/approve"),
            Body::Json(json!({"justification": "x", "end": before_end})),
            400,
            &["invalid_window"],
        ),
        case(
            "extension: an end that is not a time",
            "POST",
            format!("/api/v1/requests/{e}/approve"),
            Body::Json(json!({"justification": "x", "end": "tomorrow"})),
            400,
            &bad,
        ),
        case(
            "bulk: no requests",
            "POST",
            "/api/v1/approvals",
            Body::Json(json!({"verdict": "approve", "requestIds": []})),
            400,
            &bad,
        ),
        case(
            "bulk: too many",
            "POST",
            "/api/v1/approvals",
            Body::Json(json!({"verdict": "approve", "requestIds": vec![p; 101]})),
            400,
            &bad,
        ),
        case(
            "bulk: twice the same",
            "POST",
            "/api/v1/approvals",
            Body::Json(json!({"verdict": "approve", "requestIds": [p, p], "justification": "x"})),
            400,
            &bad,
        ),
        case(
            "bulk: verdict maybe",
            "POST",
            "/api/v1/approvals",
            Body::Json(json!({"verdict": "maybe", "requestIds": [p]})),
            400,
            &bad,
        ),
        case(
            "bulk: ids not UUIDs",
            "POST",
            "/api/v1/approvals",
            Body::Json(json!({"verdict": "deny", "requestIds": ["x"]})),
            400,
            &bad,
        ),
        case(
            "bulk: no token",
            "POST",
            "/api/v1/approvals",
            Body::Json(json!({"verdict": "deny", "requestIds": [p]})),
            401,
            &["unauthenticated"],
        )
        .by(Who::Nobody),
        case(
            "settings change: unknown",
            "POST",
            format!("/api/v1/settings-changes/{u}/approve"),
            Body::Json(ok.clone()),
            404,
            &["not_found"],
        ),
        case("settings change: non-UUID", "GET", "/api/v1/settings-changes/x", Body::Empty, 400, &bad),
        case("settings changes: bad status", "GET", "/api/v1/settings-changes?status=Maybe", Body::Empty, 400, &bad),
        case(
            "settings change: cancel unknown",
            "POST",
            format!("/api/v1/settings-changes/{u}/cancel"),
            Body::Empty,
            404,
            &["not_found"],
        ),
        case(
            "break-glass review: unknown",
            "POST",
            format!("/api/v1/break-glass-reviews/{u}/complete"),
            Body::Json(json!({"verdict": "appropriate"})),
            404,
            &["not_found"],
        ),
        case(
            "break-glass review: bad verdict",
            "POST",
            format!("/api/v1/break-glass-reviews/{u}/complete"),
            Body::Json(json!({"verdict": "meh"})),
            400,
            &bad,
        ),
        case(
            "break-glass reviews: pending not a bool",
            "GET",
            "/api/v1/break-glass-reviews?pending=often",
            Body::Empty,
            400,
            &bad,
        ),
        case(
            "break-glass not allowed",
            "POST",
            "/api/v1/requests",
            Body::Json(json!({"action": "selfActivate", "roleId": fx.ops, "scope": "/a", "durationMinutes": 60,
                "justification": "x", "breakGlass": true})),
            422,
            &["break_glass_not_allowed"],
        )
        .by(Who::Alice),
    ];
    cases.push(
        case(
            "cancel twice",
            "POST",
            format!("/api/v1/requests/{done}/cancel"),
            Body::Empty,
            409,
            &["request_not_pending"],
        )
        .by(Who::Alice),
    );
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

/// Malformed, wrong, reused and unexpected MFA codes, and MFA calls that the state does not allow.
async fn bad_mfa_input(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let alice = Client::new(&s.url, Some(fx.alice_token.clone())).expect("client");
    let totp = s.enroll_mfa(&alice).await;
    s.advance(20 * MINUTE_MS);
    // Another session of alice's passes MFA with a code and a recovery code; hers stays stale.
    let other = s.client_for(fx.alice).await;
    let used_code = totp.unused_code(&s);
    other.verify_mfa(&VerifyMfa { code: Some(used_code.clone()), recovery_code: None }).await.expect("verify");
    let used_rc = totp.recovery_codes[0].clone();
    other.verify_mfa(&VerifyMfa { code: None, recovery_code: Some(used_rc.clone()) }).await.expect("recovery code");
    let wrong = format!("{:06}", (used_code.parse::<u32>().expect("digits") + 500_000) % 1_000_000);
    let g = fx.grp;
    let bad = ["invalid_input"];
    let mut cases = Vec::new();
    let verify = |what: &str, body: Value, want: u16, codes: &[&'static str]| {
        case(format!("POST /auth/mfa: {what}"), "POST", "/api/v1/auth/mfa", Body::Json(body), want, codes)
            .by(Who::Alice)
    };
    for c in ["", "12345", "1234567", "abcdef", "12 345", "１２３４５６", "-12345"] {
        cases.push(verify(&format!("code {c:?}"), json!({"code": c}), 400, &bad).mentions("6 digits"));
    }
    cases.push(verify("a number as code", json!({"code": 123456}), 400, &bad));
    for c in ["", "short", "abcde-fghjk-m", "abcde-fghji", "abcde_fghjk", "ééééé-ééééé"] {
        cases.push(
            verify(&format!("recovery code {c:?}"), json!({"recoveryCode": c}), 400, &bad).mentions("recovery code"),
        );
    }
    cases.push(verify("neither code", json!({}), 400, &bad).mentions("exactly one"));
    cases.push(verify("both codes", json!({"code": "123456", "recoveryCode": "abcde-fghjk"}), 400, &bad));
    cases.push(verify("an unknown field", json!({"otp": "123456"}), 400, &bad).mentions("otp"));
    cases.push(verify("a reused code", json!({"code": used_code}), 401, &["mfa_code_reused"]));
    cases.push(verify("a used recovery code", json!({"recoveryCode": used_rc}), 401, &["mfa_code_reused"]));
    cases.push(verify("a wrong code", json!({"code": wrong}), 401, &["invalid_mfa_code"]));
    cases.push(verify("a wrong recovery code", json!({"recoveryCode": "zzzzz-zzzzz"}), 401, &["invalid_mfa_code"]));
    let by_admin = |what: &str, m: &str, path: &str, body: Body, want: u16, codes: &[&'static str]| {
        case(format!("{m} {path}: {what}"), m, path, body, want, codes)
    };
    cases.push(by_admin(
        "no authenticator",
        "POST",
        "/api/v1/auth/mfa",
        Body::Json(json!({"code": "123456"})),
        409,
        &["mfa_not_enrolled"],
    ));
    cases.push(by_admin(
        "nothing to confirm",
        "POST",
        "/api/v1/me/mfa/totp/confirm",
        Body::Json(json!({"code": "123456"})),
        409,
        &["mfa_not_enrolled"],
    ));
    cases.push(by_admin(
        "no new codes without one",
        "POST",
        "/api/v1/me/mfa/recovery-codes",
        Body::Empty,
        409,
        &["mfa_not_enrolled"],
    ));
    for c in ["12", "abcdef", ""] {
        cases.push(
            case(
                format!("confirm with {c:?}"),
                "POST",
                "/api/v1/me/mfa/totp/confirm",
                Body::Json(json!({"code": c})),
                400,
                &bad,
            )
            .by(Who::Alice),
        );
    }
    cases.push(
        case(
            "a stale session enrolls a second authenticator",
            "POST",
            "/api/v1/me/mfa/totp",
            Body::Empty,
            422,
            &["mfa_required"],
        )
        .by(Who::Alice)
        .mentions("pim mfa verify"),
    );
    cases.push(
        case(
            "a stale session asks for new recovery codes",
            "POST",
            "/api/v1/me/mfa/recovery-codes",
            Body::Empty,
            422,
            &["mfa_required"],
        )
        .by(Who::Alice),
    );
    cases.push(
        case("a service principal enrolls", "POST", "/api/v1/me/mfa/totp", Body::Empty, 400, &bad)
            .by(Who::Header(format!("Bearer {}", s.client_for(fx.robot).await.token().expect("token")))),
    );
    // Resets.
    let u = uuid::Uuid::now_v7();
    cases.push(by_admin("a bad id", "DELETE", "/api/v1/users/not-a-uuid/mfa", Body::Empty, 400, &bad));
    cases.push(by_admin(
        "an unknown user",
        "DELETE",
        &format!("/api/v1/users/{u}/mfa"),
        Body::Empty,
        404,
        &["not_found"],
    ));
    cases.push(by_admin("a group", "DELETE", &format!("/api/v1/users/{g}/mfa"), Body::Empty, 404, &["not_found"]));
    cases.push(
        case(
            "reset by a user without rights",
            "DELETE",
            format!("/api/v1/users/{}/mfa", fx.alice),
            Body::Empty,
            403,
            &["forbidden"],
        )
        .by(Who::Alice),
    );
    cases.push(
        case(
            "without a token",
            "POST",
            "/api/v1/auth/mfa",
            Body::Json(json!({"code": "123456"})),
            401,
            &["unauthenticated"],
        )
        .by(Who::Nobody),
    );
    // Sign-in with a code.
    let sign_in = |what: &str, otp: Value, want: u16, codes: &[&'static str]| {
        let body = json!({"username": "admin", "password": crate::harness::ADMIN_PASSWORD, "otp": otp});
        case(format!("sign-in with {what}"), "POST", "/api/v1/auth/login", Body::Json(body), want, codes)
            .by(Who::Nobody)
    };
    cases.push(sign_in("a malformed code", json!("12"), 400, &bad).mentions("6 digits"));
    cases.push(sign_in("a number as code", json!(123456), 400, &bad));
    cases.push(sign_in("a code but no authenticator", json!("123456"), 409, &["mfa_not_enrolled"]));
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

/// Alerts and alert rules: unknown ids, bad thresholds, bad states, dismissing without a reason or
/// twice, remediating what has no fix.
async fn bad_alert_input(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let item = |d: &str| AlertItem { detail: d.into(), ..Default::default() };
    let active = s.engine.report_external_access("hr", vec![item("x")]).await.expect("report").expect("alert").id;
    let resolved = s.engine.report_external_access("crm", vec![item("y")]).await.expect("report").expect("alert").id;
    s.engine.report_external_access("crm", vec![]).await.expect("report");
    let unknown = AlertId::new();
    let bad = ["invalid_input"];
    let rule = |what: &str, id: &str, body: Value, want: u16, codes: &[&'static str]| {
        case(
            format!("PUT /alert-rules/{id}: {what}"),
            "PUT",
            format!("/api/v1/alert-rules/{id}"),
            Body::Json(body),
            want,
            codes,
        )
    };
    let dismiss = |what: &str, id: AlertId, body: Value, want: u16, codes: &[&'static str]| {
        case(
            format!("POST /alerts/{{id}}/dismiss: {what}"),
            "POST",
            format!("/api/v1/alerts/{id}/dismiss"),
            Body::Json(body),
            want,
            codes,
        )
    };
    let mut cases = vec![
        rule("an unknown rule", "noSuchRule", json!({"enabled": false}), 404, &["not_found"]).mentions("noSuchRule"),
        rule("a zero count", "frequentActivations", json!({"thresholds": {"activations": 0}}), 400, &bad)
            .mentions("activations"),
        rule("a huge window", "frequentActivations", json!({"thresholds": {"windowMinutes": 1_000_000}}), 400, &bad)
            .mentions("windowMinutes"),
        rule("a negative percent", "tooManyGlobalAdmins", json!({"thresholds": {"percent": -1}}), 400, &bad)
            .mentions("percent"),
        rule("over 100 %", "tooManyGlobalAdmins", json!({"thresholds": {"percent": 101}}), 400, &bad),
        rule("another rule's threshold", "frequentActivations", json!({"thresholds": {"days": 5}}), 400, &bad)
            .mentions("days"),
        rule("a threshold of a rule without any", "rolesWithoutMfa", json!({"thresholds": {"count": 1}}), 400, &bad)
            .mentions("no thresholds"),
        rule("a string threshold", "staleAccounts", json!({"thresholds": {"days": "30"}}), 400, &[]),
        rule("a fractional threshold", "staleAccounts", json!({"thresholds": {"days": 1.5}}), 400, &[]),
        rule("an unknown severity", "staleAccounts", json!({"severity": "critical"}), 400, &[]),
        rule("a string flag", "staleAccounts", json!({"enabled": "yes"}), 400, &[]),
        rule("an unknown field", "staleAccounts", json!({"threshold": {"days": 3}}), 400, &[]).mentions("threshold"),
        case("GET /alerts: an unknown state", "GET", "/api/v1/alerts?state=open", Body::Empty, 400, &[]),
        case("GET /alerts: a capitalized state", "GET", "/api/v1/alerts?state=Active", Body::Empty, 400, &[]),
        case("GET /alerts: an unknown parameter", "GET", "/api/v1/alerts?status=active", Body::Empty, 400, &[]),
        case("GET /alerts/{id}: not a UUID", "GET", "/api/v1/alerts/not-a-uuid", Body::Empty, 400, &[]),
        case("GET /alerts/{id}: unknown", "GET", format!("/api/v1/alerts/{unknown}"), Body::Empty, 404, &["not_found"]),
        dismiss("an unknown alert", unknown, json!({"reason": "r"}), 404, &["not_found"]),
        dismiss("no reason", active, json!({}), 400, &[]).mentions("reason"),
        dismiss("a blank reason", active, json!({"reason": "   "}), 400, &bad).mentions("reason"),
        dismiss("an unknown field", active, json!({"reason": "r", "why": "x"}), 400, &[]).mentions("why"),
        dismiss("a resolved alert", resolved, json!({"reason": "r"}), 409, &["alert_not_active"]),
        case(
            "POST /alerts/{id}/remediate: unknown",
            "POST",
            format!("/api/v1/alerts/{unknown}/remediate"),
            Body::Empty,
            404,
            &["not_found"],
        ),
        case(
            "POST /alerts/{id}/remediate: no fix",
            "POST",
            format!("/api/v1/alerts/{active}/remediate"),
            Body::Empty,
            400,
            &bad,
        )
        .mentions("no automatic fix"),
        case(
            "POST /alerts/{id}/remediate: resolved",
            "POST",
            format!("/api/v1/alerts/{resolved}/remediate"),
            Body::Empty,
            409,
            &["alert_not_active"],
        ),
    ];
    cases.push(
        case(
            "PUT /alert-rules/{id}: by someone without pim.alerts.write",
            "PUT",
            "/api/v1/alert-rules/staleAccounts",
            Body::Json(json!({"enabled": false})),
            403,
            &["forbidden"],
        )
        .by(Who::Alice),
    );
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn bad_alert_input_is_refused(b: Backend) {
    bad_alert_input(b, Mode::Regular).await;
}

async fn bad_approval_decisions_are_refused(b: Backend) {
    approval_decisions(b, Mode::Regular).await;
}

async fn bad_mfa_input_is_refused(b: Backend) {
    bad_mfa_input(b, Mode::Regular).await;
}

/// Reports: bad formats, kinds, dates, ranges and scopes.
async fn bad_report_input(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let bad = ["invalid_input"];
    let mut cases = Vec::new();
    for (label, path) in [
        ("format=xml", "/api/v1/reports/access?format=xml"),
        ("format=CSV;", "/api/v1/reports/access?format=csv%3B"),
        ("kind=standing", "/api/v1/reports/access?kind=standing"),
        ("format=pdf", "/api/v1/reports/activations?format=pdf"),
        ("from=yesterday", "/api/v1/reports/activations?from=yesterday"),
        ("to=2026-13-01", "/api/v1/reports/activations?to=2026-13-01T00:00:00Z"),
        ("from=12", "/api/v1/reports/activations?from=12x"),
    ] {
        cases.push(case(format!("reports: {label}"), "GET", path, Body::Empty, 400, &bad));
    }
    for (label, path) in [
        ("under=a (relative)", "/api/v1/reports/access?under=a"),
        ("under=/a//b", "/api/v1/reports/access?under=%2Fa%2F%2Fb"),
        ("under=/a/ (trailing slash)", "/api/v1/reports/access?under=%2Fa%2F"),
        ("activations under=x", "/api/v1/reports/activations?under=x"),
    ] {
        cases.push(case(
            format!("reports: {label}"),
            "GET",
            path,
            Body::Empty,
            400,
            &["invalid_scope", "invalid_input"],
        ));
    }
    let window = ["invalid_window"];
    cases.push(
        case(
            "activations: from after to",
            "GET",
            "/api/v1/reports/activations?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            Body::Empty,
            400,
            &window,
        )
        .mentions("before"),
    );
    cases.push(case(
        "activations: an empty range",
        "GET",
        "/api/v1/reports/activations?from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        Body::Empty,
        400,
        &window,
    ));
    cases.push(
        case(
            "activations: more than ten years",
            "GET",
            "/api/v1/reports/activations?from=2000-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            Body::Empty,
            400,
            &window,
        )
        .mentions("days"),
    );
    cases.push(case(
        "access: an unknown principal",
        "GET",
        "/api/v1/reports/access?principal=nobody",
        Body::Empty,
        404,
        &[],
    ));
    cases.push(case("access: an unknown role", "GET", "/api/v1/reports/access?role=NoSuchRole", Body::Empty, 404, &[]));
    cases.push(
        case(
            "access: alice may not read reports",
            "GET",
            "/api/v1/reports/access?under=%2Fa",
            Body::Empty,
            403,
            &["forbidden"],
        )
        .by(Who::Alice),
    );
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn bad_report_input_is_refused(b: Backend) {
    bad_report_input(b, Mode::Regular).await;
}

/// An open server bug: `ReviewEnd` and `Reviewers` are internally tagged enums with
/// `deny_unknown_fields`, which serde does not apply to their unit variants (serde-rs/serde#2123,
/// #2294): `{"type": "never", "count": 3}` and `{"type": "selfReview", "reviewers": [...]}` were
/// accepted, the extra fields silently dropped (a review meant for selected reviewers became a
/// self-review). The domain now reads them through mirrors whose unit variants are empty structs.
const UNIT_VARIANT_UNKNOWN_FIELDS: &str = "unknown fields beside a unit variant's tag (end: never, reviewers: selfReview) \
                                           were ignored, not refused";

/// Access reviews: definitions out of range or naming what does not exist, decisions without a
/// verdict, items or reason, and calls the state of an instance or review does not allow.
async fn bad_review_input(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let (ops, u) = (fx.ops, uuid::Uuid::now_v7());
    // An instance completed, one applied, one past its end that the job has not completed yet, a
    // review stopped, and an instance of another review (whose item is not the fixture's).
    let (_, completed) = start_review(&s, &review_by_admin(&s, "completed", ops, "/a")).await;
    s.admin.stop_review_instance(completed).await.expect("complete");
    let (_, applied) = start_review(&s, &review_by_admin(&s, "applied", ops, "/a")).await;
    s.admin.stop_review_instance(applied).await.expect("complete");
    s.admin.apply_review_instance(applied).await.expect("apply");
    let (stopped, _) = start_review(&s, &review_by_admin(&s, "stopped", ops, "/a")).await;
    s.admin.stop_review(stopped).await.expect("stop");
    let mut short = review_by_admin(&s, "one day", ops, "/a");
    short.schedule.duration_days = 1;
    let (_, past) = start_review(&s, &short).await;
    let (_, other) = start_review(&s, &review_by_admin(&s, "other", ops, "/a")).await;
    let other_item = s.admin.review_results(other).await.expect("results").items[0].id;
    s.advance(DAY_MS + MINUTE_MS);
    let now = s.engine.now();
    let t = |ms: i64| now.plus_millis(ms).to_rfc3339();
    let bad = ["invalid_input"];
    let nf = ["not_found"];
    let mut cases = Vec::new();

    // Definitions.
    let user = |id: PrincipalId| json!({"kind": "user", "id": id});
    let group = |id: PrincipalId| json!({"kind": "group", "id": id});
    let selected = |list: Value| json!({"reviewers": {"type": "selected", "reviewers": list}});
    let roles = |ids: Value| json!({"target": {"type": "roles", "roleIds": ids, "scope": "/n"}});
    let of_group = |id: Value| json!({"target": {"type": "groupMembership", "groupId": id}});
    let schedule = |v: Value| json!({"schedule": v});
    let long = |n: usize| "n".repeat(n);
    let reviewers_101: Vec<Value> = (0..101).map(|_| user(fx.admin)).collect();
    /// What is wrong, the fields set over a good body, the status, the codes, what the detail names.
    type Def<'a> = (&'a str, Value, u16, &'a [&'static str], Option<&'a str>);
    let definitions: Vec<Def> = vec![
        ("an empty name", json!({"name": ""}), 400, &bad, Some("name")),
        ("a blank name", json!({"name": "   "}), 400, &bad, Some("name")),
        ("a name of 201 characters", json!({"name": long(201)}), 400, &bad, Some("name")),
        ("a name with a bell", json!({"name": "q\u{7}"}), 400, &bad, Some("name")),
        ("a description of 1025 bytes", json!({"description": long(1025)}), 400, &bad, Some("description")),
        ("a description with an escape", json!({"description": "a\u{1b}[2J"}), 400, &bad, Some("description")),
        ("no roles", roles(json!([])), 400, &bad, Some("roleIds")),
        ("101 roles", roles(json!(vec![ops; 101])), 400, &bad, Some("roleIds")),
        ("an unknown role", roles(json!([ops, u])), 404, &nf, None),
        ("an unknown group", of_group(json!(u)), 404, &nf, None),
        ("a user as the group", of_group(json!(fx.alice)), 404, &nf, None),
        ("a service principal as the group", of_group(json!(fx.robot)), 404, &nf, None),
        ("no reviewers", selected(json!([])), 400, &bad, Some("reviewers")),
        ("101 reviewers", selected(json!(reviewers_101)), 400, &bad, Some("reviewers")),
        ("an unknown reviewer", selected(json!([user(fx.admin), user(PrincipalId::new())])), 404, &nf, None),
        ("an unknown reviewer group", selected(json!([group(PrincipalId::new())])), 404, &nf, None),
        ("a user given as a group", selected(json!([group(fx.alice)])), 404, &nf, None),
        ("a group given as a user", selected(json!([user(fx.grp)])), 404, &nf, None),
        ("a service principal given as a user", selected(json!([user(fx.robot)])), 404, &nf, None),
        (
            "a service principal as reviewer",
            selected(json!([{"kind": "servicePrincipal", "id": fx.robot}])),
            400,
            &bad,
            Some("service principal"),
        ),
        (
            "no fallback reviewers",
            json!({"reviewers": {"type": "managers", "fallback": []}}),
            400,
            &bad,
            Some("fallback"),
        ),
        (
            "an unknown fallback reviewer",
            json!({"reviewers": {"type": "managers", "fallback": [user(PrincipalId::new())]}}),
            404,
            &nf,
            None,
        ),
        (
            "a group given as a user as fallback",
            json!({"reviewers": {"type": "managers", "fallback": [user(fx.grp)]}}),
            404,
            &nf,
            None,
        ),
        ("durationDays 0", schedule(json!({"durationDays": 0})), 400, &bad, Some("durationDays")),
        ("durationDays 181", schedule(json!({"durationDays": 181})), 400, &bad, Some("durationDays")),
        ("durationDays -1", schedule(json!({"durationDays": -1})), 400, &bad, None),
        ("durationDays 2^32", schedule(json!({"durationDays": 4_294_967_296_i64})), 400, &bad, None),
        (
            "a weekly review of 8 days",
            schedule(json!({"durationDays": 8, "recurrence": "weekly"})),
            400,
            &bad,
            Some("recurrence"),
        ),
        (
            "a monthly review of 29 days",
            schedule(json!({"durationDays": 29, "recurrence": "monthly"})),
            400,
            &bad,
            Some("recurrence"),
        ),
        (
            "end.count 0",
            schedule(
                json!({"durationDays": 7, "recurrence": "weekly", "end": {"type": "afterOccurrences", "count": 0}}),
            ),
            400,
            &bad,
            Some("end.count"),
        ),
        (
            "end.at before the start",
            schedule(json!({"durationDays": 7, "recurrence": "weekly", "end": {"type": "onDate", "at": t(-HOUR_MS)}})),
            400,
            &bad,
            Some("end.at"),
        ),
        (
            "end.at at the start",
            schedule(json!({"durationDays": 7, "recurrence": "weekly", "start": t(DAY_MS),
                "end": {"type": "onDate", "at": t(DAY_MS)}})),
            400,
            &bad,
            Some("end.at"),
        ),
        (
            "end.at not a time",
            schedule(json!({"durationDays": 7, "recurrence": "weekly", "end": {"type": "onDate", "at": "someday"}})),
            400,
            &bad,
            None,
        ),
        (
            "a start two days ago",
            schedule(json!({"durationDays": 7, "start": t(-2 * DAY_MS)})),
            400,
            &bad,
            Some("start"),
        ),
        ("a start that is not a time", schedule(json!({"durationDays": 7, "start": "tomorrow"})), 400, &bad, None),
        (
            "a start without a zone",
            schedule(json!({"durationDays": 7, "start": "2026-02-01T10:00:00"})),
            400,
            &bad,
            None,
        ),
        ("inactiveDays 0", json!({"inactiveDays": 0}), 400, &bad, Some("inactiveDays")),
        ("inactiveDays 3651", json!({"inactiveDays": 3651}), 400, &bad, Some("inactiveDays")),
        ("inactiveDays -1", json!({"inactiveDays": -1}), 400, &bad, None),
        // Unknown enum values and fields, wherever they are nested.
        ("recurrence daily", schedule(json!({"durationDays": 1, "recurrence": "daily"})), 400, &bad, None),
        ("recurrence Weekly", schedule(json!({"durationDays": 1, "recurrence": "Weekly"})), 400, &bad, None),
        (
            "end type someday",
            schedule(json!({"durationDays": 1, "recurrence": "weekly", "end": {"type": "someday"}})),
            400,
            &bad,
            None,
        ),
        ("kinds all", json!({"kinds": "all"}), 400, &bad, None),
        ("kinds Eligible", json!({"kinds": "Eligible"}), 400, &bad, None),
        ("ifNoResponse delete", json!({"ifNoResponse": "delete"}), 400, &bad, None),
        ("target type users", json!({"target": {"type": "users", "userIds": [fx.alice]}}), 400, &bad, None),
        ("reviewers type everyone", json!({"reviewers": {"type": "everyone"}}), 400, &bad, None),
        ("reviewer kind robot", selected(json!([{"kind": "robot", "id": fx.robot}])), 400, &bad, None),
        (
            "an unknown field in the target",
            json!({"target": {"type": "roles", "roleIds": [ops], "scope": "/n", "recursive": true}}),
            400,
            &bad,
            Some("recursive"),
        ),
        (
            "an unknown field in the schedule",
            schedule(json!({"durationDays": 7, "every": "week"})),
            400,
            &bad,
            Some("every"),
        ),
        (
            "an unknown field in a reviewer",
            selected(json!([{"kind": "user", "id": fx.admin, "role": "lead"}])),
            400,
            &bad,
            Some("role"),
        ),
        (
            "an unknown field in the managers' reviewers",
            json!({"reviewers": {"type": "managers", "fallback": [user(fx.admin)], "escalation": true}}),
            400,
            &bad,
            Some("escalation"),
        ),
    ];
    for (what, patch, want, codes, mention) in definitions {
        let c = case(
            format!("review with {what}"),
            "POST",
            "/api/v1/reviews",
            Body::Json(review_json(&fx, patch)),
            want,
            codes,
        );
        cases.push(match mention {
            Some(m) => c.mentions(m),
            None => c,
        });
    }

    // Decisions on the fixture's instance (in progress, a reason required, the administrator
    // reviews alice's eligibility).
    let (ri, item) = (fx.instance, fx.item);
    let decisions = |i: ReviewInstanceId| format!("/api/v1/review-instances/{i}/decisions");
    let decision = |i: ReviewInstanceId, it: ReviewItemId| format!("/api/v1/review-instances/{i}/items/{it}/decision");
    let ok_one = json!({"verdict": "approve", "reason": "still needed"});
    let ok_all = json!({"itemIds": [item], "verdict": "approve", "reason": "still needed"});
    /// What is wrong, the path, the body, the status, the codes, what the detail names.
    type Dec<'a> = (&'a str, String, Value, u16, &'a [&'static str], Option<&'a str>);
    let decide: Vec<Dec> = vec![
        (
            "a verdict and acceptRecommendations",
            decisions(ri),
            json!({"itemIds": [item], "verdict": "deny", "acceptRecommendations": true, "reason": "r"}),
            400,
            &bad,
            Some("acceptRecommendations"),
        ),
        (
            "neither a verdict nor acceptRecommendations",
            decisions(ri),
            json!({"itemIds": [item], "reason": "r"}),
            400,
            &bad,
            Some("verdict"),
        ),
        (
            "acceptRecommendations false and no verdict",
            decisions(ri),
            json!({"acceptRecommendations": false, "reason": "r"}),
            400,
            &bad,
            Some("verdict"),
        ),
        (
            "empty itemIds",
            decisions(ri),
            json!({"itemIds": [], "verdict": "deny", "reason": "r"}),
            400,
            &bad,
            Some("itemIds"),
        ),
        (
            "1001 itemIds",
            decisions(ri),
            json!({"itemIds": vec![item; 1001], "verdict": "deny", "reason": "r"}),
            400,
            &bad,
            Some("itemIds"),
        ),
        (
            "an item of another instance",
            decisions(ri),
            json!({"itemIds": [item, other_item], "verdict": "deny", "reason": "r"}),
            404,
            &nf,
            None,
        ),
        ("one item of another instance", decision(ri, other_item), ok_one.clone(), 404, &nf, None),
        (
            "verdict maybe",
            decisions(ri),
            json!({"itemIds": [item], "verdict": "maybe", "reason": "r"}),
            400,
            &bad,
            None,
        ),
        ("verdict Approve", decision(ri, item), json!({"verdict": "Approve", "reason": "r"}), 400, &bad, None),
        ("verdict appropriate", decision(ri, item), json!({"verdict": "appropriate", "reason": "r"}), 400, &bad, None),
        (
            "itemIds on the one-item route",
            decision(ri, item),
            json!({"itemIds": [item], "verdict": "deny", "reason": "r"}),
            400,
            &bad,
            Some("itemIds"),
        ),
        (
            "acceptRecommendations on the one-item route",
            decision(ri, item),
            json!({"acceptRecommendations": true, "reason": "r"}),
            400,
            &bad,
            None,
        ),
        ("no reason", decisions(ri), json!({"itemIds": [item], "verdict": "approve"}), 422, &["reason_required"], None),
        ("no reason for all", decisions(ri), json!({"acceptRecommendations": true}), 422, &["reason_required"], None),
        ("no reason for one", decision(ri, item), json!({"verdict": "deny"}), 422, &["reason_required"], None),
        (
            "a blank reason",
            decision(ri, item),
            json!({"verdict": "deny", "reason": "   "}),
            422,
            &["reason_required"],
            None,
        ),
        (
            "a null reason",
            decision(ri, item),
            json!({"verdict": "deny", "reason": null}),
            422,
            &["reason_required"],
            None,
        ),
        (
            "a reason of 2001 bytes",
            decision(ri, item),
            json!({"verdict": "deny", "reason": long(2001)}),
            400,
            &bad,
            Some("reason"),
        ),
        (
            "a reason with an escape",
            decisions(ri),
            json!({"itemIds": [item], "verdict": "deny", "reason": "gone\u{1b}[31m"}),
            400,
            &bad,
            Some("reason"),
        ),
        // States that do not allow it.
        (
            "decisions on a completed instance",
            decisions(completed),
            ok_all.clone(),
            409,
            &["review_not_in_progress"],
            None,
        ),
        (
            "a decision on a completed instance",
            decision(completed, item),
            ok_one.clone(),
            409,
            &["review_not_in_progress"],
            None,
        ),
        (
            "decisions on an applied instance",
            decisions(applied),
            json!({"verdict": "deny", "reason": "r"}),
            409,
            &["review_not_in_progress"],
            None,
        ),
        (
            "decisions on an instance past its end",
            decisions(past),
            json!({"verdict": "deny", "reason": "r"}),
            409,
            &["review_not_in_progress"],
            None,
        ),
    ];
    for (what, path, body, want, codes, mention) in decide {
        let c = case(format!("review decision: {what}"), "POST", path, Body::Json(body), want, codes);
        cases.push(match mention {
            Some(m) => c.mentions(m),
            None => c,
        });
    }
    cases.push(
        case(
            "review decision: alice is not a reviewer",
            "POST",
            decision(ri, item),
            Body::Json(ok_one.clone()),
            403,
            &["not_reviewer"],
        )
        .by(Who::Alice),
    );
    cases.push(
        case(
            "review decisions: no token",
            "POST",
            decisions(ri),
            Body::Json(ok_all.clone()),
            401,
            &["unauthenticated"],
        )
        .by(Who::Nobody),
    );
    let action = |verb: &str, i: ReviewInstanceId| format!("/api/v1/review-instances/{i}/{verb}");
    let states: Vec<(&str, String, &[&'static str])> = vec![
        ("apply an instance in progress", action("apply", ri), &["review_not_completed"]),
        ("apply an instance past its end, not completed yet", action("apply", past), &["review_not_completed"]),
        ("apply twice", action("apply", applied), &["review_not_completed"]),
        ("reset a completed instance", action("reset", completed), &["review_not_in_progress"]),
        ("reset an applied instance", action("reset", applied), &["review_not_in_progress"]),
        ("reset an instance past its end", action("reset", past), &["review_not_in_progress"]),
        ("stop a completed instance", action("stop", completed), &["review_not_in_progress"]),
        ("stop an applied instance", action("stop", applied), &["review_not_in_progress"]),
        ("stop an instance past its end", action("stop", past), &["review_not_in_progress"]),
        ("stop a stopped review", format!("/api/v1/reviews/{stopped}/stop"), &["review_not_in_progress"]),
    ];
    for (what, path, codes) in states {
        cases.push(case(format!("review: {what}"), "POST", path, Body::Empty, 409, codes));
    }
    // Results: JSON or CSV, nothing else.
    for q in ["format=xml", "format=CSV", "format=", "format=csv&format=json", "fmt=csv", "limit=10"] {
        cases.push(case(
            format!("review results ?{q}"),
            "GET",
            format!("/api/v1/review-instances/{ri}/items?{q}"),
            Body::Empty,
            400,
            &bad,
        ));
    }
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn bad_review_input_is_refused(b: Backend) {
    bad_review_input(b, Mode::Regular).await;
}

/// Unknown fields beside the tag of a unit variant (`ReviewEnd::Never`, `Reviewers::SelfReview`)
/// are refused like unknown fields anywhere else.
async fn unknown_fields_beside_a_unit_variant(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let bad = ["invalid_input"];
    let admin = json!([{"kind": "user", "id": fx.admin}]);
    let cases: Vec<Case> = [
        (
            "an unknown field in end: never",
            json!({"schedule": {"durationDays": 7, "recurrence": "weekly", "end": {"type": "never", "count": 3}}}),
            "count",
        ),
        (
            "a date in end: never",
            json!({"schedule": {"durationDays": 7, "recurrence": "weekly",
                "end": {"type": "never", "at": fx.now.plus_millis(30 * DAY_MS)}}}),
            "at",
        ),
        ("reviewers beside selfReview", json!({"reviewers": {"type": "selfReview", "reviewers": admin}}), "reviewers"),
    ]
    .into_iter()
    .map(|(what, patch, field)| {
        case(format!("review with {what}"), "POST", "/api/v1/reviews", Body::Json(review_json(&fx, patch)), 400, &bad)
            .mentions(field)
            .bug(UNIT_VARIANT_UNKNOWN_FIELDS)
    })
    .collect();
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

/// See [`UNIT_VARIANT_UNKNOWN_FIELDS`].
async fn review_unknown_fields_beside_a_unit_variant_are_refused(b: Backend) {
    unknown_fields_beside_a_unit_variant(b, Mode::Regular).await;
}

crate::backend_tests!(
    bad_review_input_is_refused,
    review_unknown_fields_beside_a_unit_variant_are_refused,
    bad_alert_input_is_refused,
    bad_approval_decisions_are_refused,
    bad_mfa_input_is_refused,
    bad_report_input_is_refused,
    the_database_watch_sees_changes,
    malformed_bodies_are_refused,
    bad_ids_are_refused,
    invalid_scopes_are_refused_everywhere,
    actions_durations_windows_times_and_enums_are_refused,
    bad_limits_and_cursors_are_refused,
    bad_settings_names_passwords_and_duplicates_are_refused,
    bad_credentials_get_401,
    hostile_text_never_causes_a_5xx,
    unrouted_calls_answer_with_problems,
);
