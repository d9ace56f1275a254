//! Reports, "my audit" and audit retention.

use pim_engine::engine::EngineOptions;

use crate::harness::prelude::*;

async fn tamper(s: &TestServer, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&s.db.url).await.expect("connect");
    sqlx::query(sql).execute(&mut c).await.expect(sql);
}

async fn my_audit_shows_only_mine(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Ops", &["ops.*"]).await;
    s.without_mfa(role).await;
    let (alice_id, alice) = s.user("alice").await;
    let (bob_id, bob) = s.user("bob").await;
    // Events about alice done by the admin, and alice's own (a success and a refusal).
    s.assign(alice_id, role, "/a", AssignmentKind::Eligible, None).await;
    s.assign(bob_id, role, "/b", AssignmentKind::Eligible, None).await;
    alice.create_request(&activation(role, "/a", 60)).await.expect("activate");
    assert_eq!(code(alice.create_request(&activation(role, "/nowhere", 60)).await), "not_eligible");
    bob.create_request(&activation(role, "/b", 60)).await.expect("activate");

    let mine = alice.my_audit(&AuditQuery::default()).await.expect("my audit").items;
    assert!(!mine.is_empty());
    assert!(
        mine.iter().all(|e| e.actor_id == Some(alice_id) || e.principal_id == Some(alice_id)),
        "only alice's events: {mine:?}"
    );
    assert!(mine.iter().any(|e| e.actor_id == Some(s.admin_id) && e.action == "request.adminAssign"), "done to her");
    assert!(mine.iter().any(|e| e.outcome == Outcome::Failure && e.error_code.as_deref() == Some("not_eligible")));
    assert!(mine.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    // The same filters and paging as /audit.
    let q = AuditQuery { outcome: Some(Outcome::Failure), ..Default::default() };
    let failures = alice.my_audit(&q).await.expect("filtered").items;
    assert_eq!(failures.len(), 1, "{failures:?}");
    let q = AuditQuery { actor: Some("admin".into()), limit: Some(1), ..Default::default() };
    let p1 = alice.my_audit(&q).await.expect("page 1");
    assert_eq!(p1.items.len(), 1);
    let p2 = alice.my_audit(&AuditQuery { cursor: p1.next_cursor.clone(), ..q.clone() }).await.expect("page 2");
    assert!(p2.items.iter().all(|e| e.seq < p1.items[0].seq && e.actor_id == Some(s.admin_id)));
    // Asking about bob does not reveal bob's events.
    let q = AuditQuery { principal: Some("bob".into()), ..Default::default() };
    assert!(alice.my_audit(&q).await.expect("bob").items.is_empty());
    let bobs = bob.my_audit(&AuditQuery::default()).await.expect("bob's").items;
    assert!(bobs.iter().all(|e| e.actor_id == Some(bob_id) || e.principal_id == Some(bob_id)));
    assert!(!bobs.iter().any(|e| e.principal_id == Some(alice_id)));
    // Signed-in only.
    assert_eq!(status(s.anonymous().my_audit(&AuditQuery::default()).await), 401);
    s.stop().await;
}

async fn retention_prunes_and_verify_stays_intact(b: Backend) {
    let options = EngineOptions { audit_retention_days: Some(30), ..EngineOptions::default() };
    let s = TestServer::start_with(&b, options).await;
    for i in 0..3 {
        s.group(&format!("old{i}")).await;
    }
    let before = s.admin.verify_audit().await.expect("verify");
    assert!(before.ok);
    let old = before.checked as i64;
    // Nothing is old enough yet.
    assert_eq!(s.engine.prune_audit().await.expect("prune"), 0);
    s.advance(20 * DAY_MS);
    let recent = s.group("recent").await;
    s.advance(15 * DAY_MS);
    // The first events are now 35 days old, "recent" 15 days.
    let pruned = s.engine.prune_audit().await.expect("prune");
    assert_eq!(pruned, old, "every event older than 30 days is removed");
    let all = s.admin.list_audit(&AuditQuery::default()).await.expect("audit").items;
    assert!(all.iter().all(|e| e.seq > old), "{all:?}");
    assert!(
        all.iter().any(|e| e.action == "group.create" && e.principal_id == Some(recent)),
        "the recent group remains"
    );
    let event = all.iter().find(|e| e.action == "audit.pruned").expect("the pruning is audited");
    assert_eq!(event.details["count"], serde_json::json!(old));
    assert_eq!(event.details["anchorSeq"], serde_json::json!(old));
    let report = s.admin.verify_audit().await.expect("verify");
    assert!(report.ok, "the chain verifies from the anchor: {report:?}");
    assert_eq!(report.checked as usize, all.len());
    // The periodic job does it too, and a second pruning moves the anchor.
    s.group("later").await;
    s.advance(20 * DAY_MS);
    s.engine.run_jobs_once().await.expect("jobs");
    let r = s.admin.verify_audit().await.expect("verify");
    assert!(r.ok, "{r:?}");
    let all = s.admin.list_audit(&AuditQuery::default()).await.expect("audit").items;
    assert!(!all.iter().any(|e| e.principal_id == Some(recent)), "the recent group's event is gone now");
    assert_eq!(all.iter().filter(|e| e.action == "audit.pruned").count(), 2, "one event per pruning");

    // Tampering is still detected after pruning: a change...
    let first = all.iter().map(|e| e.seq).min().expect("events");
    tamper(&s, &format!("UPDATE audit_events SET actor_name = 'mallory' WHERE seq = {first}")).await;
    let r = s.admin.verify_audit().await.expect("verify");
    assert!(!r.ok && r.problems.iter().any(|p| p.seq == first), "{r:?}");
    tamper(&s, &format!("UPDATE audit_events SET actor_name = NULL WHERE seq = {first}")).await;
    assert!(s.admin.verify_audit().await.expect("verify").ok);
    // ... removing the first kept event outside pim...
    tamper(&s, &format!("DELETE FROM audit_events WHERE seq = {first}")).await;
    let r = s.admin.verify_audit().await.expect("verify");
    assert!(!r.ok, "{r:?}");
    s.stop().await;

    // ... and moving the anchor to hide a deletion.
    let s =
        TestServer::start_with(&b, EngineOptions { audit_retention_days: Some(1), ..EngineOptions::default() }).await;
    s.group("g").await;
    s.advance(2 * DAY_MS);
    s.group("h").await;
    assert!(s.engine.prune_audit().await.expect("prune") > 0);
    assert!(s.admin.verify_audit().await.expect("verify").ok);
    let first: i64 = {
        let all = s.admin.list_audit(&AuditQuery::default()).await.expect("audit").items;
        all.iter().map(|e| e.seq).min().expect("events")
    };
    let hash: String = {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut c = sqlx::AnyConnection::connect(&s.db.url).await.expect("connect");
        sqlx::query_scalar(&format!("SELECT hash FROM audit_events WHERE seq = {first}"))
            .fetch_one(&mut c)
            .await
            .expect("hash")
    };
    tamper(&s, &format!("DELETE FROM audit_events WHERE seq = {first}")).await;
    tamper(&s, &format!("UPDATE meta SET value = '{first}:{hash}' WHERE key = 'audit.anchor'")).await;
    let r = s.admin.verify_audit().await.expect("verify");
    assert!(!r.ok, "a moved anchor is detected: {r:?}");
    s.stop().await;
}

async fn retention_off_keeps_everything(b: Backend) {
    let s = TestServer::start(&b).await;
    s.group("g").await;
    s.advance(300 * DAY_MS);
    s.engine.run_jobs_once().await.expect("jobs");
    let all = s.admin.list_audit(&AuditQuery::default()).await.expect("audit").items;
    assert!(all.iter().any(|e| e.seq == 1), "kept for ever by default");
    assert!(!all.iter().any(|e| e.action == "audit.pruned"));
    s.stop().await;
}

crate::backend_tests!(
    my_audit_shows_only_mine,
    retention_prunes_and_verify_stays_intact,
    retention_off_keeps_everything
);
