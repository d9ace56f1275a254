//! The audit history: every change and refusal is recorded, filtered, exported and verified.

use crate::harness::prelude::*;

async fn tamper(s: &TestServer, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&s.db.url).await.expect("connect");
    sqlx::query(sql).execute(&mut c).await.expect(sql);
}

async fn changes_and_refusals_are_recorded(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Ops", &["ops.*"]).await;
    s.without_mfa(role).await;
    let (uid, alice) = s.user("alice").await;
    s.assign(uid, role, "/a", AssignmentKind::Eligible, None).await;
    let mut r = activation(role, "/a", 60);
    r.ticket = Some(Ticket { system: "jira".into(), number: "OPS-7".into() });
    let out = alice.create_request(&r).await.expect("activate");
    // A refusal is recorded too.
    assert_eq!(code(alice.create_request(&activation(role, "/elsewhere", 60)).await), "not_eligible");

    let q = AuditQuery { principal: Some("alice".into()), ..Default::default() };
    let events = s.admin.list_audit(&q).await.expect("audit").items;
    let activated = events
        .iter()
        .find(|e| e.action == "request.selfActivate" && e.outcome == Outcome::Success)
        .expect("activation event");
    assert_eq!(activated.actor_id, Some(uid));
    assert_eq!(activated.role_id, Some(role));
    assert_eq!(activated.scope.as_ref().map(|s| s.as_str()), Some("/a"));
    assert_eq!(activated.justification.as_deref(), Some("incident INC-1"));
    assert_eq!(activated.ticket.as_deref(), Some("jira:OPS-7"));
    assert_eq!(activated.request_id, Some(out.request.id));
    assert!(activated.http_request_id.is_some(), "the HTTP request id is kept");
    assert_eq!(activated.client_addr.as_deref(), Some("127.0.0.1"));
    let refused = events
        .iter()
        .find(|e| e.action == "request.selfActivate" && e.outcome == Outcome::Failure)
        .expect("refusal event");
    assert_eq!(refused.error_code.as_deref(), Some("not_eligible"));
    // Filters: action prefix, outcome, time, actor.
    let q = AuditQuery { action: Some("request.".into()), outcome: Some(Outcome::Failure), ..Default::default() };
    let failures = s.admin.list_audit(&q).await.expect("audit").items;
    assert!(failures.iter().all(|e| e.action.starts_with("request.") && e.outcome == Outcome::Failure));
    assert!(!failures.is_empty());
    let q = AuditQuery { from: Some(T0.plus_millis(1)), ..Default::default() };
    assert!(s.admin.list_audit(&q).await.expect("audit").items.is_empty(), "nothing happened after T0");
    let q = AuditQuery { actor: Some("admin".into()), scope: Some(sp("/a")), ..Default::default() };
    let by_admin = s.admin.list_audit(&q).await.expect("audit").items;
    assert!(by_admin.iter().any(|e| e.action == "request.adminAssign"));
    assert!(by_admin.iter().all(|e| e.actor_id == Some(s.admin_id)));
    // Security readers can read it; plain users cannot, and their refused reads are recorded too.
    assert_eq!(code(alice.list_audit(&AuditQuery::default()).await), "forbidden");
    assert_eq!(code(alice.list_users(&ListQuery::default()).await), "forbidden");
    let q = AuditQuery { action: Some("access.denied".into()), actor: Some("alice".into()), ..Default::default() };
    let denied = s.admin.list_audit(&q).await.expect("audit").items;
    let actions: Vec<_> = denied.iter().map(|e| e.details["action"].as_str().unwrap_or_default()).collect();
    assert!(actions.contains(&"pim.audit.read") && actions.contains(&"pim.directory.read"), "{denied:?}");
    assert!(denied.iter().all(|e| e.outcome == Outcome::Failure && e.error_code.as_deref() == Some("forbidden")));
    s.stop().await;
}

async fn audit_pages_and_exports(b: Backend) {
    let s = TestServer::start(&b).await;
    for i in 0..5 {
        s.group(&format!("g{i}")).await;
    }
    let q = AuditQuery { action: Some("group.create".into()), limit: Some(2), ..Default::default() };
    let p1 = s.admin.list_audit(&q).await.expect("page 1");
    assert_eq!(p1.items.len(), 2);
    let q2 = AuditQuery { cursor: p1.next_cursor.clone(), ..q.clone() };
    let p2 = s.admin.list_audit(&q2).await.expect("page 2");
    assert_eq!(p2.items.len(), 2);
    assert!(p1.items[1].seq > p2.items[0].seq, "newest first, pages do not overlap");
    let csv = s
        .admin
        .export_audit(ExportFormat::Csv, &AuditQuery { action: Some("group.".into()), ..Default::default() })
        .await
        .expect("csv");
    let text = String::from_utf8(csv).expect("utf-8");
    let mut lines = text.lines();
    assert!(lines.next().expect("header").starts_with("seq,at,action,outcome"));
    assert_eq!(lines.count(), 5);
    let json = s.admin.export_audit(ExportFormat::Json, &AuditQuery::default()).await.expect("json");
    let all: Vec<AuditEvent> = serde_json::from_slice(&json).expect("events");
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq), "exports are oldest first");
    assert!(all.len() >= 7);
    s.stop().await;
}

async fn verify_catches_modified_deleted_and_inserted_events(b: Backend) {
    let s = TestServer::start(&b).await;
    for i in 0..4 {
        s.group(&format!("g{i}")).await;
    }
    let ok = s.admin.verify_audit().await.expect("verify");
    assert!(ok.ok, "{ok:?}");
    let n = ok.checked as i64;
    assert!(n >= 5);
    // Modify an event's content.
    tamper(&s, "UPDATE audit_events SET justification = 'nothing to see' WHERE seq = 2").await;
    let r = s.admin.verify_audit().await.expect("verify");
    assert!(!r.ok);
    assert!(r.problems.iter().any(|p| p.seq == 2), "{r:?}");
    tamper(&s, "UPDATE audit_events SET justification = NULL WHERE seq = 2").await;
    assert!(s.admin.verify_audit().await.expect("verify").ok, "restoring the content restores the chain");
    // Delete an event in the middle.
    tamper(&s, "DELETE FROM audit_events WHERE seq = 3").await;
    let r = s.admin.verify_audit().await.expect("verify");
    assert!(!r.ok);
    assert!(r.problems.iter().any(|p| p.seq == 3 || p.seq == 4), "{r:?}");
    s.stop().await;
    // Insert a forged event (on a fresh server).
    let s = TestServer::start(&b).await;
    s.group("g").await;
    tamper(
        &s,
        "INSERT INTO audit_events (seq, id, at, action, outcome, details, prev_hash, hash) \
         SELECT 1000, '00000000-0000-7000-8000-0000000000ff', at, 'user.create', 'success', '{}', hash, hash FROM audit_events WHERE seq = 1",
    )
    .await;
    let r = s.admin.verify_audit().await.expect("verify");
    assert!(!r.ok, "{r:?}");
    // Truncate the tail.
    let s2 = TestServer::start(&b).await;
    s2.group("g").await;
    tamper(&s2, "DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)").await;
    let r = s2.admin.verify_audit().await.expect("verify");
    assert!(!r.ok, "a deleted last event is caught: {r:?}");
    s.stop().await;
    s2.stop().await;
}

async fn expirations_are_recorded_by_the_worker(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Ops", &["ops.*"]).await;
    let (uid, _) = s.user("alice").await;
    let a = s.assign(uid, role, "/a", AssignmentKind::Active, Some(T0.plus_millis(HOUR_MS))).await;
    assert_eq!(s.engine.record_expirations().await.expect("jobs"), 0);
    s.advance(HOUR_MS);
    assert_eq!(s.engine.record_expirations().await.expect("jobs"), 1);
    assert_eq!(s.engine.record_expirations().await.expect("jobs"), 0, "recorded once");
    let events = s
        .admin
        .list_audit(&AuditQuery { action: Some("assignment.expired".into()), ..Default::default() })
        .await
        .expect("audit")
        .items;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].principal_id, Some(uid));
    assert_eq!(events[0].details["assignmentId"], serde_json::json!(a.id));
    assert_eq!(events[0].actor_id, None, "the system did it");
    s.stop().await;
}

/// A filter longer than any name, id, action or cursor there is gets a 400, on the list, the
/// caller's own history and the export alike; at the bound it is looked up as before.
async fn filters_longer_than_any_value_are_refused(b: Backend) {
    let s = TestServer::start(&b).await;
    let long = |n: usize| Some("a".repeat(n));
    let too_long = [
        AuditQuery { actor: long(129), ..Default::default() },
        AuditQuery { principal: long(129), ..Default::default() },
        AuditQuery { role: long(129), ..Default::default() },
        AuditQuery { action: long(201), ..Default::default() },
    ];
    for q in &too_long {
        assert_eq!(code(s.admin.list_audit(q).await), "invalid_input", "{q:?}");
        assert_eq!(code(s.admin.my_audit(q).await), "invalid_input", "{q:?}");
        assert_eq!(code(s.admin.export_audit(ExportFormat::Csv, q).await), "invalid_input", "{q:?}");
    }
    let cursor = AuditQuery { cursor: long(29), ..Default::default() };
    assert_eq!(code(s.admin.list_audit(&cursor).await), "invalid_input");
    let at_bound = AuditQuery { actor: long(128), ..Default::default() };
    assert_eq!(code(s.admin.list_audit(&at_bound).await), "not_found");
    let action = AuditQuery { action: long(200), ..Default::default() };
    assert!(s.admin.list_audit(&action).await.expect("an action prefix of 200 bytes").items.is_empty());
    s.stop().await;
}

crate::backend_tests!(
    changes_and_refusals_are_recorded,
    audit_pages_and_exports,
    verify_catches_modified_deleted_and_inserted_events,
    expirations_are_recorded_by_the_worker,
    filters_longer_than_any_value_are_refused,
);
