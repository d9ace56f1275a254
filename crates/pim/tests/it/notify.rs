//! Notifications end to end: notices written with the change, delivered by email to a real SMTP
//! server (Python's aiosmtpd, started from `PIM_TEST_PYTHON`) and by signed webhooks to a real
//! HTTP receiver; the notification rules; reminders; retries with backoff; a restart with
//! undelivered notices; two engines delivering at once. Time moves only with the manual clock.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use pim_engine::Engine;
use pim_engine::engine::EngineOptions;
use pim_engine::notify::{LEASE_MS, NotifyOptions, SmtpOptions, WebhookFormat, WebhookOptions};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use crate::harness::prelude::*;

const FROM: &str = "pim <pim@example.com>";
const SINK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");

fn options(smtp: Option<String>, webhooks: Vec<WebhookOptions>, max_attempts: u32) -> EngineOptions {
    let notifications = NotifyOptions {
        smtp: smtp.map(|url| SmtpOptions { url, username: None, password: None, from: FROM.into() }),
        webhooks,
        max_attempts,
        public_url: Some("https://pim.example.com".into()),
    };
    // These tests count notices: no scheduled alert evaluation (docs/ALERTS.md) adding its own.
    EngineOptions { notifications, alert_evaluation_ms: 0, ..EngineOptions::default() }
}

fn webhook(name: &str, base: &str, secret: Option<&str>, format: WebhookFormat, events: &[&str]) -> WebhookOptions {
    WebhookOptions {
        name: name.into(),
        url: format!("{base}/hooks/{name}"),
        secret: secret.map(str::to_owned),
        format,
        events: events.iter().map(|e| (*e).to_owned()).collect(),
    }
}

// ---- a real SMTP server ----

/// The Python interpreter with aiosmtpd, from `PIM_TEST_PYTHON`; without it the SMTP parts skip
/// with a printed reason, unless `CI=true`, where that is a failure.
fn python() -> Option<String> {
    match std::env::var("PIM_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PIM_TEST_PYTHON is not set, and CI=true requires the SMTP tests to run"
            );
            eprintln!("skipped the SMTP part: PIM_TEST_PYTHON is not set (a Python 3 with aiosmtpd, e.g. python3)");
            None
        }
    }
}

/// `tests/support/smtp_sink.py` running on a free port, writing what it receives to a file.
struct Sink {
    child: Child,
    port: u16,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

/// One message as the SMTP server received it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    rcpt_tos: Vec<String>,
    subject: String,
    from: String,
    message_id: String,
    headers: HashMap<String, String>,
    body: String,
}

impl Sink {
    fn start(python: &str) -> Sink {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("mail.jsonl");
        let mut child = Command::new(python)
            .arg(SINK)
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout).read_line(&mut line).expect("read the port");
        let port = line.trim().parse().unwrap_or_else(|_| panic!("the SMTP sink printed {line:?}, not a port"));
        Sink { child, port, file, _dir: dir }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn mails(&self) -> Vec<Mail> {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        text.lines()
            .map(|l| {
                let mut m: Mail = serde_json::from_str(l).expect("a JSON line");
                m.body = m.body.replace("\r\n", "\n");
                m
            })
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- a real webhook receiver ----

#[derive(Clone, Debug)]
struct Hit {
    name: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Hit {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// Records every POST to `/hooks/{name}`; answers 500 to the first `failures` ones, then 200.
#[derive(Clone, Default)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    failures: Arc<AtomicUsize>,
    delay_ms: u64,
}

impl Receiver {
    async fn start(failures: usize, delay_ms: u64) -> (String, Receiver) {
        use axum::routing::post;
        let r = Receiver { delay_ms, ..Receiver::default() };
        r.failures.store(failures, Ordering::SeqCst);
        let app = axum::Router::new().route("/hooks/{name}", post(receive)).with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (url, r)
    }

    fn hits(&self, name: &str) -> Vec<Hit> {
        self.hits.lock().expect("lock").iter().filter(|h| h.name == name).cloned().collect()
    }
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Receiver>,
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    if r.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(r.delay_ms)).await;
    }
    let headers = headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())).collect();
    r.hits.lock().expect("lock").push(Hit { name, headers, body: body.to_vec() });
    let failed = r.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if failed { axum::http::StatusCode::INTERNAL_SERVER_ERROR } else { axum::http::StatusCode::OK }
}

/// Verifies `X-Pim-Signature` as docs/NOTIFICATIONS.md tells a receiver to: HMAC-SHA256 over
/// `"{X-Pim-Timestamp}.{body}"` with the shared secret, hex, after `v1=`.
fn signature_ok(secret: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("v1=") else { return false };
    let Ok(sig) = hex::decode(hex_sig) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

// ---- helpers ----

async fn notifications(s: &TestServer, q: NotificationQuery) -> Vec<Notification> {
    let q = NotificationQuery { limit: Some(1000), ..q };
    s.admin.list_notifications(&q).await.expect("list notifications").items
}

async fn all(s: &TestServer) -> Vec<Notification> {
    notifications(s, NotificationQuery::default()).await
}

/// The email recipients of a request's notices, sorted.
async fn emails_for(s: &TestServer, request: RequestId) -> Vec<String> {
    let q = NotificationQuery { request_id: Some(request), ..Default::default() };
    let mut v: Vec<String> =
        notifications(s, q).await.into_iter().filter(|n| n.channel == Channel::Email).map(|n| n.recipient).collect();
    v.sort();
    v
}

/// (recipient, subject) of every notice of `event`, sorted.
async fn sent(s: &TestServer, event: &str) -> Vec<(String, String)> {
    let q = NotificationQuery { event: Some(event.into()), ..Default::default() };
    let mut v: Vec<(String, String)> =
        notifications(s, q).await.into_iter().map(|n| (n.recipient, n.subject)).collect();
    v.sort();
    v
}

/// A role `name` allowing `ops.*`, activatable without MFA.
async fn ops_role(s: &TestServer, name: &str) -> RoleId {
    let role = s.custom_role(name, &["ops.*"]).await;
    s.without_mfa(role).await;
    role
}

// ---- the tests ----

async fn email_notices_reach_a_real_smtp_server(b: Backend) {
    let Some(py) = python() else { return };
    let sink = Sink::start(&py);
    let s = TestServer::start_with(&b, options(Some(sink.url()), vec![], 10)).await;
    let role = ops_role(&s, "Database Operator").await;
    let (alice, alice_client) = s.user("alice").await;
    let elig = s.assign(alice, role, "/prod", AssignmentKind::Eligible, None).await;
    let act = alice_client.create_request(&activation(role, "/prod/db", 60)).await.expect("activate").request;
    // Written with the change, delivered only by the worker.
    assert!(sink.mails().is_empty());
    assert_eq!(all(&s).await.iter().filter(|n| n.status == DeliveryStatus::Pending).count(), 4);

    let report = s.engine.deliver_notifications().await.expect("deliver");
    assert_eq!((report.delivered, report.retried, report.failed), (4, 0, 0));
    let mails = sink.mails();
    assert_eq!(mails.len(), 4);
    assert!(mails.iter().all(|m| m.subject.starts_with("PIM: ")), "{mails:?}");
    assert!(mails.iter().all(|m| m.from == FROM && m.rcpt_tos.len() == 1));
    let find = |to: &str, subject: &str| {
        mails
            .iter()
            .find(|m| m.rcpt_tos == [to] && m.subject == subject)
            .unwrap_or_else(|| panic!("no mail to {to} with subject {subject:?}: {mails:#?}"))
            .clone()
    };
    let assigned = "PIM: alice was made eligible for Database Operator at /prod";
    let m = find("alice@example.com", assigned);
    find("admin@example.com", assigned);
    for part in [
        "Principal:     alice",
        "Role:          Database Operator",
        "Scope:         /prod",
        "Assignment:    eligible",
        "End:           permanent",
        "Requested by:  admin (The Admin)",
        "Justification: test",
        &format!("pim requests show {}", elig.created_by_request),
        "Server: https://pim.example.com",
    ] {
        assert!(m.body.contains(part), "{part:?} in:\n{}", m.body);
    }
    let activated = "PIM: alice activated Database Operator at /prod/db";
    find("admin@example.com", activated);
    let m = find("alice@example.com", activated);
    for part in [
        "Scope:         /prod/db",
        "Assignment:    activation",
        "Start:         2026-01-05T09:00:00.000Z",
        "End:           2026-01-05T10:00:00.000Z",
        "Justification: incident INC-1",
        &format!("Request:       {} (selfActivate, Provisioned)", act.id),
    ] {
        assert!(m.body.contains(part), "{part:?} in:\n{}", m.body);
    }
    // The Message-ID is the outbox id (a receiver can drop a duplicate), and every row is delivered.
    let rows = all(&s).await;
    for m in &mails {
        let row = rows
            .iter()
            .find(|n| m.message_id == format!("<{}@example.com>", n.id))
            .unwrap_or_else(|| panic!("no outbox row for {}", m.message_id));
        assert_eq!((row.status, row.attempts, &row.recipient), (DeliveryStatus::Delivered, 1, &m.rcpt_tos[0]));
        assert_eq!(m.headers.get("x-pim-delivery"), Some(&row.id.to_string()));
        assert_eq!(m.headers.get("x-pim-event"), Some(&row.event));
    }

    // A group's members each get their own email.
    let g = s.group("db-admins").await;
    let (bob, _) = s.user("bob").await;
    let (carol, _) = s.user("carol").await;
    s.admin.add_member(g, bob).await.expect("member");
    s.admin.add_member(g, carol).await.expect("member");
    s.assign(g, role, "/prod", AssignmentKind::Active, Some(T0.plus_millis(30 * DAY_MS))).await;
    assert_eq!(s.engine.deliver_notifications().await.expect("deliver").delivered, 3);
    let mails = sink.mails();
    let mut to: Vec<_> = mails[4..].iter().map(|m| m.rcpt_tos[0].clone()).collect();
    to.sort();
    assert_eq!(to, ["admin@example.com", "bob@example.com", "carol@example.com"]);
    assert!(mails[4..].iter().all(|m| m.subject == "PIM: db-admins was assigned Database Operator at /prod (active)"));
    assert!(mails[4].body.starts_with("group db-admins was given an active assignment"), "{}", mails[4].body);
    // Nothing is sent twice.
    assert_eq!(s.engine.deliver_notifications().await.expect("deliver").delivered, 0);
    assert_eq!(sink.mails().len(), 7);
    s.stop().await;
}

async fn webhooks_are_signed_and_slack_formatted(b: Backend) {
    let (base, rx) = Receiver::start(0, 0).await;
    let hooks = vec![
        webhook("siem", &base, Some("siem-secret"), WebhookFormat::Json, &[]),
        webhook("chat", &base, None, WebhookFormat::Slack, &["role.*"]),
    ];
    let s = TestServer::start_with(&b, options(None, hooks, 10)).await;
    let role = ops_role(&s, "Ops").await;
    let (alice, client) = s.user("alice").await;
    s.assign(alice, role, "/a", AssignmentKind::Eligible, None).await;
    let act = client.create_request(&activation(role, "/a", 60)).await.expect("activate").request;
    let report = s.engine.deliver_notifications().await.expect("deliver");
    assert_eq!(report.delivered, 3, "2 notices to siem, the activation to chat");

    let rows = all(&s).await;
    let siem = rx.hits("siem");
    assert_eq!(siem.len(), 2);
    for h in &siem {
        let body = h.json();
        assert_eq!(h.header("content-type"), "application/json");
        assert_eq!(h.header("x-pim-timestamp"), (T0.millis() / 1000).to_string());
        assert!(
            signature_ok("siem-secret", h.header("x-pim-timestamp"), &h.body, h.header("x-pim-signature")),
            "the signature verifies: {h:?}"
        );
        // Any change to the body, the timestamp or the key breaks it.
        let mut tampered = h.body.clone();
        tampered[1] ^= 1;
        assert!(!signature_ok("siem-secret", h.header("x-pim-timestamp"), &tampered, h.header("x-pim-signature")));
        assert!(!signature_ok("siem-secret", "1", &h.body, h.header("x-pim-signature")));
        assert!(!signature_ok("other", h.header("x-pim-timestamp"), &h.body, h.header("x-pim-signature")));
        // The delivery id is the outbox row's, in the header and the body.
        assert_eq!(body["id"].as_str(), Some(h.header("x-pim-delivery")));
        assert_eq!(body["event"].as_str(), Some(h.header("x-pim-event")));
        let row = rows.iter().find(|n| n.id.to_string() == h.header("x-pim-delivery")).expect("its row");
        assert_eq!(
            (row.channel, row.recipient.as_str(), row.status),
            (Channel::Webhook, "siem", DeliveryStatus::Delivered)
        );
        assert!(body["subject"].as_str().is_some_and(|s| s.starts_with("PIM: ")));
        assert_eq!(body["data"]["principal"]["name"], "alice");
        assert_eq!(body["data"]["role"]["name"], "Ops");
        assert_eq!(body["scope"], "/a");
    }
    let events: BTreeSet<_> = siem.iter().map(|h| h.header("x-pim-event").to_owned()).collect();
    assert_eq!(events, BTreeSet::from(["assignment.eligible".to_owned(), "role.activated".to_owned()]));
    let activated = siem.iter().find(|h| h.header("x-pim-event") == "role.activated").expect("activation").json();
    assert_eq!(activated["requestId"], serde_json::json!(act.id));
    assert_eq!(activated["data"]["justification"], "incident INC-1");
    assert_eq!(activated["data"]["window"]["end"], "2026-01-05T10:00:00.000Z");

    // Slack's format: only a text, with the subject in bold; no secret, no signature.
    let chat = rx.hits("chat");
    assert_eq!(chat.len(), 1);
    let body = chat[0].json();
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
    let text = body["text"].as_str().expect("text");
    assert!(text.starts_with("*PIM: alice activated Ops at /a*\n"), "{text}");
    assert!(text.contains("Justification: incident INC-1"), "{text}");
    assert_eq!(chat[0].header("x-pim-event"), "role.activated");
    assert_eq!(chat[0].header("x-pim-signature"), "");
    s.stop().await;
}

async fn the_nine_rules_choose_the_recipients(b: Backend) {
    let (base, _rx) = Receiver::start(0, 0).await;
    let s = TestServer::start_with(
        &b,
        options(None, vec![webhook("siem", &base, Some("k"), WebhookFormat::Json, &[])], 10),
    )
    .await;
    let role = ops_role(&s, "Ops").await;
    s.set_settings(role, "/prod", |st| {
        let n = &mut st.notifications;
        // Assigned eligible: admins' default off, an extra address; the assignee only for critical.
        n.assigned_eligible.admins.default_recipients = false;
        n.assigned_eligible.admins.additional_recipients = vec!["eligible-watch@example.com".into()];
        n.assigned_eligible.requester.critical_only = true;
        // Activated: admins only for critical ones; the requester plus their lead.
        n.eligible_member_activated.admins.critical_only = true;
        n.eligible_member_activated.requester.additional_recipients = vec!["alice-lead@example.com".into()];
    })
    .await;
    let (alice, alice_client) = s.user("alice").await;
    let (bob, _) = s.user("bob").await;
    let (carol, _) = s.user("carol").await;

    let e = s.assign(alice, role, "/prod", AssignmentKind::Eligible, None).await;
    assert_eq!(emails_for(&s, e.created_by_request).await, ["eligible-watch@example.com"]);
    // Assigned active keeps the defaults: the admins and the assignee.
    let a = s.assign(bob, role, "/prod", AssignmentKind::Active, Some(T0.plus_millis(DAY_MS))).await;
    assert_eq!(emails_for(&s, a.created_by_request).await, ["admin@example.com", "bob@example.com"]);
    let act = alice_client.create_request(&activation(role, "/prod", 60)).await.expect("activate").request;
    assert_eq!(emails_for(&s, act.id).await, ["alice-lead@example.com", "alice@example.com"]);
    // Elsewhere the role's defaults hold.
    let c = s.assign(carol, role, "/other", AssignmentKind::Eligible, None).await;
    assert_eq!(emails_for(&s, c.created_by_request).await, ["admin@example.com", "carol@example.com"]);
    // Every notice also goes once to the webhook, whatever the email rules.
    for r in [e.created_by_request, a.created_by_request, act.id, c.created_by_request] {
        let q = NotificationQuery { request_id: Some(r), ..Default::default() };
        let hooks: Vec<_> = notifications(&s, q).await.into_iter().filter(|n| n.channel == Channel::Webhook).collect();
        assert_eq!(hooks.len(), 1);
    }
    // Filters, and who may read delivery status.
    let by_event = NotificationQuery { event: Some("role.activated".into()), ..Default::default() };
    assert_eq!(notifications(&s, by_event).await.len(), 3);
    let pending = NotificationQuery { status: Some(DeliveryStatus::Pending), ..Default::default() };
    assert_eq!(notifications(&s, pending).await.len(), all(&s).await.len());
    let delivered = NotificationQuery { status: Some(DeliveryStatus::Delivered), ..Default::default() };
    assert!(notifications(&s, delivered).await.is_empty());
    assert_eq!(code(alice_client.list_notifications(&NotificationQuery::default()).await), "forbidden");
    // Pages, newest first.
    let first =
        s.admin.list_notifications(&NotificationQuery { limit: Some(3), ..Default::default() }).await.expect("page");
    let rest = NotificationQuery { cursor: first.next_cursor.clone(), limit: Some(1000), ..Default::default() };
    let rest = s.admin.list_notifications(&rest).await.expect("page").items;
    let mut ids: Vec<_> = first.items.iter().chain(&rest).map(|n| n.id).collect();
    assert_eq!(ids.len(), all(&s).await.len());
    let sorted = {
        ids.sort_by(|a, b| b.cmp(a));
        ids.clone()
    };
    assert_eq!(first.items.iter().chain(&rest).map(|n| n.id).collect::<Vec<_>>(), sorted);
    s.stop().await;
}

async fn reminders_go_out_14_days_and_1_day_before_the_end_and_at_it(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = ops_role(&s, "Ops").await;
    let (alice, alice_client) = s.user("alice").await;
    let (bob, _) = s.user("bob").await;
    let end = T0.plus_millis(20 * DAY_MS);
    let a = s.assign(alice, role, "/a", AssignmentKind::Eligible, Some(end)).await;
    // Bob's ends in 10 hours: both reminders are due at once; only the latest goes out.
    let b_end = T0.plus_millis(10 * HOUR_MS);
    let bob_a = s.assign(bob, role, "/b", AssignmentKind::Eligible, Some(b_end)).await;
    // An activation gets no reminder, only the notice at its end.
    alice_client.create_request(&activation(role, "/a", 60)).await.expect("activate");

    let bob_soon =
        ("bob@example.com".to_owned(), "PIM: eligible assignment of Ops at /b for bob ends in 10 hours".to_owned());
    s.engine.run_jobs_once().await.expect("jobs");
    assert_eq!(sent(&s, "assignment.expiringSoon").await, std::slice::from_ref(&bob_soon));
    s.engine.run_jobs_once().await.expect("jobs");
    assert_eq!(sent(&s, "assignment.expiringSoon").await.len(), 1, "each reminder once");

    // 14 days (less a millisecond) before alice's end.
    s.advance(6 * DAY_MS + 1);
    s.engine.run_jobs_once().await.expect("jobs");
    let alice_14 =
        ("alice@example.com".to_owned(), "PIM: eligible assignment of Ops at /a for alice ends in 14 days".to_owned());
    assert_eq!(sent(&s, "assignment.expiringSoon").await, [alice_14.clone(), bob_soon.clone()]);
    // Meanwhile bob's assignment and alice's activation ended: one notice each.
    assert_eq!(
        sent(&s, "assignment.expired").await,
        [
            ("alice@example.com".to_owned(), "PIM: alice's activation of Ops at /a has ended".to_owned()),
            ("bob@example.com".to_owned(), "PIM: eligible assignment of Ops at /b for bob has ended".to_owned()),
        ]
    );
    let q = NotificationQuery { event: Some("assignment.expiringSoon".into()), ..Default::default() };
    let reminder = notifications(&s, q).await.into_iter().find(|n| n.recipient == "alice@example.com").expect("it");
    assert!(reminder.text.contains(&format!("pim extend {} --end TIME", a.id)), "{}", reminder.text);
    assert_eq!(reminder.payload["data"]["assignmentId"], serde_json::json!(a.id));
    s.advance(5 * DAY_MS);
    s.engine.run_jobs_once().await.expect("jobs");
    assert_eq!(sent(&s, "assignment.expiringSoon").await.len(), 2, "nothing between the reminders");

    // 1 day (less a millisecond) before.
    s.clock.set(end.plus_millis(-DAY_MS + 1));
    s.engine.run_jobs_once().await.expect("jobs");
    let alice_1 =
        ("alice@example.com".to_owned(), "PIM: eligible assignment of Ops at /a for alice ends in 1 day".to_owned());
    assert_eq!(sent(&s, "assignment.expiringSoon").await, [alice_1, alice_14, bob_soon]);
    assert_eq!(sent(&s, "assignment.expired").await.len(), 2);
    // At the end.
    s.clock.set(end);
    s.engine.run_jobs_once().await.expect("jobs");
    s.engine.run_jobs_once().await.expect("jobs");
    let ends = sent(&s, "assignment.expired").await;
    assert_eq!(ends.len(), 3, "{ends:?}");
    assert!(ends.contains(&(
        "alice@example.com".to_owned(),
        "PIM: eligible assignment of Ops at /a for alice has ended".to_owned()
    )));
    assert_eq!(sent(&s, "assignment.expiringSoon").await.len(), 3);
    // Nothing more, ever.
    s.advance(40 * DAY_MS);
    s.engine.run_jobs_once().await.expect("jobs");
    assert_eq!((sent(&s, "assignment.expiringSoon").await.len(), sent(&s, "assignment.expired").await.len()), (3, 3));
    let _ = bob_a;
    s.stop().await;
}

async fn failed_deliveries_are_retried_with_backoff_then_given_up(b: Backend) {
    // "flaky" fails twice then accepts; "down" has nothing listening.
    let (base, rx) = Receiver::start(2, 0).await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let down_base = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let hooks = vec![
        webhook("flaky", &base, Some("k1"), WebhookFormat::Json, &["assignment.*"]),
        webhook("down", &down_base, Some("k2"), WebhookFormat::Json, &["assignment.*"]),
    ];
    let s = TestServer::start_with(&b, options(None, hooks, 3)).await;
    let role = ops_role(&s, "Ops").await;
    let (alice, _) = s.user("alice").await;
    s.assign(alice, role, "/a", AssignmentKind::Eligible, None).await;
    let row = |name: &'static str| {
        let s = &s;
        async move {
            let q = NotificationQuery { event: Some("assignment.eligible".into()), ..Default::default() };
            notifications(s, q).await.into_iter().find(|n| n.recipient == name).expect("row")
        }
    };
    let report = |r: pim_engine::notify::DeliveryReport| (r.delivered, r.retried, r.failed);

    // First attempt: both fail; the next is due 30 s later.
    assert_eq!(report(s.engine.deliver_notifications().await.expect("deliver")), (0, 2, 0));
    let f = row("flaky").await;
    assert_eq!((f.status, f.attempts, f.next_attempt_at), (DeliveryStatus::Pending, 1, T0.plus_millis(30_000)));
    assert_eq!(f.last_error.as_deref(), Some("the webhook answered HTTP 500 Internal Server Error"));
    let d = row("down").await;
    assert!(d.last_error.as_deref().is_some_and(|e| e.starts_with("webhook: ")), "{d:?}");
    assert!(!d.last_error.as_deref().unwrap_or_default().contains("/hooks/"), "no URL in errors: {d:?}");
    // Not before it is due.
    assert_eq!(report(s.engine.deliver_notifications().await.expect("deliver")), (0, 0, 0));
    s.advance(29_999);
    assert_eq!(report(s.engine.deliver_notifications().await.expect("deliver")), (0, 0, 0));
    // Second attempt after 30 s; the delay doubles.
    s.advance(1);
    assert_eq!(report(s.engine.deliver_notifications().await.expect("deliver")), (0, 2, 0));
    assert_eq!(row("flaky").await.next_attempt_at, T0.plus_millis(30_000 + 60_000));
    s.advance(59_999);
    assert_eq!(report(s.engine.deliver_notifications().await.expect("deliver")), (0, 0, 0));
    // Third attempt: flaky accepts; down has used its 3 attempts and fails for good.
    s.advance(1);
    assert_eq!(report(s.engine.deliver_notifications().await.expect("deliver")), (1, 0, 1));
    let f = row("flaky").await;
    assert_eq!((f.status, f.attempts, f.delivered_at), (DeliveryStatus::Delivered, 3, Some(s.engine.now())));
    let d = row("down").await;
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Failed, 3));
    assert_eq!(rx.hits("flaky").len(), 3);
    let failed = NotificationQuery { status: Some(DeliveryStatus::Failed), ..Default::default() };
    assert_eq!(notifications(&s, failed).await.iter().map(|n| n.id).collect::<Vec<_>>(), [d.id]);
    // Every failed attempt and the final failure are audited, with no secret.
    let q = AuditQuery { action: Some("notification.".into()), limit: Some(100), ..Default::default() };
    let events = s.admin.list_audit(&q).await.expect("audit").items;
    let count =
        |action: &str, who: &str| events.iter().filter(|e| e.action == action && e.details["recipient"] == who).count();
    assert_eq!((count("notification.deliveryFailed", "flaky"), count("notification.deliveryFailed", "down")), (2, 3));
    assert_eq!((count("notification.failed", "flaky"), count("notification.failed", "down")), (0, 1));
    let last = events.iter().find(|e| e.action == "notification.failed").expect("failed event");
    assert_eq!(last.outcome, Outcome::Failure);
    assert_eq!(last.details["notificationId"], serde_json::json!(d.id));
    assert_eq!(last.details["channel"], "webhook");
    assert_eq!(last.details["attempt"], 3);
    assert!(last.details["error"].as_str().is_some_and(|e| e.starts_with("webhook: ")));
    assert_eq!(last.principal_id, Some(alice));
    let text = serde_json::to_string(&events).expect("json");
    assert!(!text.contains("k1") && !text.contains("k2"), "no secret in the audit history");
    // Email rows wait, untouched, for an SMTP server to be configured.
    let emails: Vec<_> = all(&s).await.into_iter().filter(|n| n.channel == Channel::Email).collect();
    assert_eq!(emails.len(), 2);
    assert!(emails.iter().all(|n| n.status == DeliveryStatus::Pending && n.attempts == 0));
    // Nothing further happens, however long we wait.
    s.advance(10 * DAY_MS);
    assert_eq!(report(s.engine.deliver_notifications().await.expect("deliver")), (0, 0, 0));
    assert_eq!(rx.hits("flaky").len(), 3);
    s.stop().await;
}

async fn an_unreachable_smtp_server_is_retried(b: Backend) {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("smtp://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let s = TestServer::start_with(&b, options(Some(url), vec![], 5)).await;
    let role = ops_role(&s, "Ops").await;
    let (alice, _) = s.user("alice").await;
    s.assign(alice, role, "/a", AssignmentKind::Eligible, None).await;
    let r = s.engine.deliver_notifications().await.expect("deliver");
    assert_eq!((r.delivered, r.retried, r.failed), (0, 2, 0));
    for n in all(&s).await {
        assert_eq!((n.status, n.attempts), (DeliveryStatus::Pending, 1));
        assert!(n.last_error.as_deref().is_some_and(|e| e.starts_with("SMTP: ")), "{n:?}");
    }
    let q = AuditQuery { action: Some("notification.deliveryFailed".into()), ..Default::default() };
    let events = s.admin.list_audit(&q).await.expect("audit").items;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.details["channel"] == "email"));
    s.stop().await;
}

async fn a_restart_delivers_each_pending_notice_exactly_once(b: Backend) {
    let (base, rx) = Receiver::start(0, 0).await;
    let siem = || vec![webhook("siem", &base, Some("k"), WebhookFormat::Json, &[])];
    // First run: no SMTP server configured yet, and the worker never runs.
    let s = TestServer::start_with(&b, options(None, siem(), 10)).await;
    let role = ops_role(&s, "Ops").await;
    let (alice, client) = s.user("alice").await;
    s.assign(alice, role, "/a", AssignmentKind::Eligible, None).await;
    client.create_request(&activation(role, "/a", 60)).await.expect("activate");
    // A worker that claimed one webhook delivery and died before sending it.
    let now = s.engine.now();
    let mut tx = s.engine.store().write(now).await.expect("tx");
    let claimed = pim_store::q::claim_notifications(tx.conn(), now, now.plus_millis(LEASE_MS), &[Channel::Webhook], 1)
        .await
        .expect("claim");
    tx.commit().await.expect("commit");
    assert_eq!(claimed.len(), 1);
    let rows = all(&s).await;
    assert_eq!(rows.len(), 6, "4 emails and 2 webhook deliveries: {rows:#?}");
    assert!(rows.iter().all(|n| n.status == DeliveryStatus::Pending));

    // The server stops; a new one starts on the same database, now with mail configured.
    let py = python();
    let sink = py.as_deref().map(Sink::start);
    let s = s.restart(options(sink.as_ref().map(Sink::url), siem(), 10)).await;
    let report = s.engine.deliver_notifications().await.expect("deliver");
    let emails = if sink.is_some() { 4 } else { 0 };
    assert_eq!(report.delivered, emails + 1, "all but the claimed one, whose lease still holds");
    s.advance(LEASE_MS);
    assert_eq!(s.engine.deliver_notifications().await.expect("deliver").delivered, 1, "once its lease has lapsed");
    // Nothing more, on later runs and jobs (before the activation's end, which is a new notice).
    for _ in 0..3 {
        s.advance(10 * MINUTE_MS);
        s.engine.run_jobs_once().await.expect("jobs");
        assert_eq!(s.engine.deliver_notifications().await.expect("deliver").delivered, 0);
    }
    // Each delivered exactly once.
    let rows = all(&s).await;
    let hooks: Vec<_> = rows.iter().filter(|n| n.channel == Channel::Webhook).collect();
    let hits = rx.hits("siem");
    let mut got: Vec<String> = hits.iter().map(|h| h.header("x-pim-delivery").to_owned()).collect();
    got.sort();
    let mut want: Vec<String> = hooks.iter().map(|n| n.id.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
    assert!(hooks.iter().all(|n| n.status == DeliveryStatus::Delivered && n.attempts == 1));
    if let Some(sink) = &sink {
        let mut ids: Vec<String> = sink.mails().into_iter().map(|m| m.message_id).collect();
        ids.sort();
        let mut want: Vec<String> =
            rows.iter().filter(|n| n.channel == Channel::Email).map(|n| format!("<{}@example.com>", n.id)).collect();
        want.sort();
        assert_eq!(ids, want, "each email once");
        assert!(rows.iter().all(|n| n.status == DeliveryStatus::Delivered));
    }
    s.stop().await;
}

async fn two_engines_delivering_at_once_send_each_notice_once(b: Backend) {
    let (base, rx) = Receiver::start(0, 5).await;
    let opts = || options(None, vec![webhook("siem", &base, Some("k"), WebhookFormat::Json, &[])], 10);
    let s = TestServer::start_with(&b, opts()).await;
    let role = ops_role(&s, "Ops").await;
    for i in 0..12 {
        let (u, _) = s.user(&format!("user{i}")).await;
        s.assign(u, role, "/a", AssignmentKind::Eligible, None).await;
    }
    let store = pim_store::Store::open(&s.db.url).await.expect("second store");
    let replica = Engine::open(store, s.clock.clone(), opts()).await.expect("replica");
    let (a, b2) = tokio::join!(s.engine.deliver_notifications(), replica.deliver_notifications());
    let (a, b2) = (a.expect("deliver"), b2.expect("deliver"));
    assert_eq!(a.delivered + b2.delivered, 12);
    let mut ids: Vec<String> = rx.hits("siem").iter().map(|h| h.header("x-pim-delivery").to_owned()).collect();
    assert_eq!(ids.len(), 12);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12, "no delivery sent twice");
    let (a, b2) = tokio::join!(s.engine.deliver_notifications(), replica.deliver_notifications());
    assert_eq!((a.expect("deliver").delivered, b2.expect("deliver").delivered), (0, 0));
    assert_eq!(rx.hits("siem").len(), 12);
    replica.store().close().await;
    s.stop().await;
}

crate::backend_tests!(
    email_notices_reach_a_real_smtp_server,
    webhooks_are_signed_and_slack_formatted,
    the_nine_rules_choose_the_recipients,
    reminders_go_out_14_days_and_1_day_before_the_end_and_at_it,
    failed_deliveries_are_retried_with_backoff_then_given_up,
    an_unreachable_smtp_server_is_retried,
    a_restart_delivers_each_pending_notice_exactly_once,
    two_engines_delivering_at_once_send_each_notice_once,
);
