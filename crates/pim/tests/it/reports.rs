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

fn row<'a>(r: &'a AccessReport, who: &str, kind: AssignmentKind) -> Vec<&'a AccessReportRow> {
    r.rows.iter().filter(|x| x.principal_name == who && x.kind == kind).collect()
}

async fn access_report_direct_group_nested_inherited(b: Backend) {
    let s = TestServer::start(&b).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    s.without_mfa(ops).await;
    let (alice_id, alice) = s.user("alice").await;
    let (bob_id, _) = s.user("bob").await;
    let (carol_id, _) = s.user("carol").await;
    let (dave_id, _) = s.user("dave").await;
    let outer = s.group("outer").await;
    let inner = s.group("inner").await;
    s.admin.add_member(outer, inner).await.expect("nest");
    s.admin.add_member(inner, carol_id).await.expect("member");
    s.admin.add_member(outer, bob_id).await.expect("member");
    s.assign(alice_id, ops, "/a/x", AssignmentKind::Eligible, None).await;
    alice.create_request(&activation(ops, "/a/x", 60)).await.expect("activate");
    s.assign(dave_id, ops, "/", AssignmentKind::Active, None).await;
    s.assign(outer, ops, "/a", AssignmentKind::Eligible, Some(T0.plus_millis(30 * DAY_MS))).await;
    s.assign(bob_id, ops, "/b", AssignmentKind::Active, None).await;

    let q = AccessReportQuery { under: Some(sp("/a")), role: Some("Ops".into()), ..Default::default() };
    let r = s.admin.access_report(&q).await.expect("report");
    assert_eq!(r.under, sp("/a"));
    // Direct, eligible, and the activation from it.
    let e = row(&r, "alice", AssignmentKind::Eligible);
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].source.as_str(), e[0].via.as_str(), e[0].inherited), ("eligible", "direct", false));
    assert_eq!(e[0].scope, sp("/a/x"));
    let a = row(&r, "alice", AssignmentKind::Active);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].source, "activation");
    assert_eq!(a[0].end, Some(T0.plus_millis(60 * MINUTE_MS)));
    // Inherited from a parent scope, standing.
    let d = row(&r, "dave", AssignmentKind::Active);
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].source.as_str(), d[0].inherited, d[0].scope.as_str()), ("standing", true, "/"));
    // Through a group, and through a nested group: the group whose assignment it is is named.
    let g = row(&r, "bob", AssignmentKind::Eligible);
    assert_eq!(g.len(), 1, "bob's /b assignment is outside /a: {:?}", r.rows);
    assert_eq!(
        (g[0].via.as_str(), g[0].via_group_name.as_deref(), g[0].via_group_id),
        ("group", Some("outer"), Some(outer))
    );
    assert_eq!(g[0].end, Some(T0.plus_millis(30 * DAY_MS)));
    let c = row(&r, "carol", AssignmentKind::Eligible);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].via_group_name.as_deref(), Some("outer"), "nested: carol is in inner, inner in outer");
    assert_eq!(row(&r, "outer", AssignmentKind::Eligible)[0].via, "direct");
    assert_eq!(row(&r, "inner", AssignmentKind::Eligible)[0].via_group_name.as_deref(), Some("outer"));
    assert!(r.rows.iter().all(|x| x.scope.as_str() != "/b"));
    assert_eq!(r.rows.len(), 7, "{:?}", r.rows);

    // Filters: principal, kind, scope.
    let q2 = AccessReportQuery { principal: Some("carol".into()), ..q.clone() };
    let only = s.admin.access_report(&q2).await.expect("carol").rows;
    assert!(only.len() == 1 && only[0].principal_id == carol_id);
    let q2 = AccessReportQuery { kind: Some(AssignmentKind::Active), ..q.clone() };
    let active = s.admin.access_report(&q2).await.expect("active").rows;
    let mut names: Vec<_> = active.iter().map(|x| x.principal_name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["alice", "dave"]);
    let q2 = AccessReportQuery { under: Some(sp("/b")), ..q.clone() };
    let b_rows = s.admin.access_report(&q2).await.expect("/b").rows;
    let mut names: Vec<_> = b_rows.iter().map(|x| (x.principal_name.as_str(), x.inherited)).collect();
    names.sort();
    assert_eq!(names, [("bob", false), ("dave", true)]);

    // CSV: a header and one line per row, with the same columns everywhere.
    let csv = s
        .admin
        .access_report_file(&AccessReportQuery { format: Some(ExportFormat::Csv), ..q.clone() })
        .await
        .expect("csv");
    let text = String::from_utf8(csv).expect("utf-8");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        [
            "principalId",
            "principalName",
            "principalKind",
            "roleId",
            "roleName",
            "scope",
            "kind",
            "source",
            "via",
            "viaGroupName",
            "inherited",
            "assignmentId",
            "start",
            "end"
        ]
    );
    let lines: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("record")).collect();
    assert_eq!(lines.len(), 7);
    assert!(lines.iter().any(|l| &l[1] == "carol" && &l[8] == "group" && &l[9] == "outer" && &l[10] == "false"));
    assert!(lines.iter().any(|l| &l[1] == "dave" && &l[7] == "standing" && &l[10] == "true" && l[13].is_empty()));

    // The activation ends: it leaves the report.
    s.advance(2 * HOUR_MS);
    let r = s.admin.access_report(&q).await.expect("report");
    assert!(row(&r, "alice", AssignmentKind::Active).is_empty());
    assert_eq!(row(&r, "alice", AssignmentKind::Eligible).len(), 1);

    // pim.reports.read at the scope: a Security Reader at /a reads /a and below, not /b.
    let (reader_id, reader) = s.user("reader").await;
    s.assign(reader_id, role::SECURITY_READER, "/a", AssignmentKind::Active, None).await;
    reader.access_report(&AccessReportQuery { under: Some(sp("/a/x")), ..Default::default() }).await.expect("below");
    assert_eq!(
        code(reader.access_report(&AccessReportQuery { under: Some(sp("/b")), ..Default::default() }).await),
        "forbidden"
    );
    assert_eq!(code(reader.access_report(&AccessReportQuery::default()).await), "forbidden");
    assert_eq!(
        code(alice.access_report(&AccessReportQuery { under: Some(sp("/a")), ..Default::default() }).await),
        "forbidden"
    );
    s.stop().await;
}

async fn activation_counts_across_days(b: Backend) {
    let s = TestServer::start(&b).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    s.without_mfa(ops).await;
    let dba = s.custom_role("Dba", &["db.*"]).await;
    s.without_mfa(dba).await;
    let (alice_id, alice) = s.user("alice").await;
    let (bob_id, bob) = s.user("bob").await;
    s.assign(alice_id, ops, "/a", AssignmentKind::Eligible, None).await;
    s.assign(alice_id, dba, "/b", AssignmentKind::Eligible, None).await;
    s.assign(bob_id, ops, "/a", AssignmentKind::Eligible, None).await;
    // Day 1 (2026-01-05): alice twice (Ops), bob once; day 2: alice (Dba at /b).
    alice.create_request(&activation(ops, "/a", 60)).await.expect("activate");
    bob.create_request(&activation(ops, "/a", 60)).await.expect("activate");
    s.advance(2 * HOUR_MS);
    alice.create_request(&activation(ops, "/a", 60)).await.expect("activate");
    s.advance(DAY_MS);
    alice.create_request(&activation(dba, "/b", 60)).await.expect("activate");
    // A standing assignment is not an activation.
    s.assign(bob_id, dba, "/b", AssignmentKind::Active, None).await;

    let q = ActivationReportQuery { from: Some(T0), to: Some(T0.plus_millis(3 * DAY_MS)), ..Default::default() };
    let r = s.admin.activation_report(&q).await.expect("report");
    assert_eq!(r.total, 4);
    let by_role: Vec<_> = r.by_role.iter().map(|c| (c.name.as_str(), c.count)).collect();
    assert_eq!(by_role, [("Ops", 3), ("Dba", 1)]);
    assert_eq!(r.by_role[0].key, ops.to_string());
    let by_user: Vec<_> = r.by_principal.iter().map(|c| (c.name.as_str(), c.count)).collect();
    assert_eq!(by_user, [("alice", 3), ("bob", 1)]);
    let by_day: Vec<_> = r.by_day.iter().map(|c| (c.key.as_str(), c.count)).collect();
    assert_eq!(by_day, [("2026-01-05", 3), ("2026-01-06", 1)]);
    // The range bounds it ([from, to)), and a scope narrows it.
    let q2 = ActivationReportQuery { from: Some(T0.plus_millis(DAY_MS)), ..q.clone() };
    assert_eq!(s.admin.activation_report(&q2).await.expect("day 2").total, 1);
    let q2 = ActivationReportQuery { to: Some(T0.plus_millis(2 * HOUR_MS)), ..q.clone() };
    assert_eq!(s.admin.activation_report(&q2).await.expect("first hours").total, 2);
    let q2 = ActivationReportQuery { under: Some(sp("/b")), ..q.clone() };
    assert_eq!(s.admin.activation_report(&q2).await.expect("/b").total, 1);
    // By default: the 30 days before now (to is exclusive: a minute later, all four).
    s.advance(MINUTE_MS);
    assert_eq!(s.admin.activation_report(&ActivationReportQuery::default()).await.expect("default").total, 4);
    // CSV.
    let csv = s
        .admin
        .activation_report_file(&ActivationReportQuery { format: Some(ExportFormat::Csv), ..q.clone() })
        .await
        .expect("csv");
    let text = String::from_utf8(csv).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "dimension,key,name,count");
    assert_eq!(lines[1], "total,,,4");
    assert_eq!((lines[2], lines[3]), ("used,,,0", "activityEvents,,,0"), "no system reported activity");
    assert!(lines.contains(&format!("role,{ops},Ops,3").as_str()), "{text}");
    assert!(lines.contains(&format!("principal,{bob_id},bob,1").as_str()), "{text}");
    assert!(lines.contains(&"day,2026-01-06,,1"), "{text}");
    assert_eq!(lines.len(), 1 + 3 + 2 + 2 + 2);
    // Plain users may not read it.
    assert_eq!(code(alice.activation_report(&q).await), "forbidden");
    s.stop().await;
}

crate::backend_tests!(
    my_audit_shows_only_mine,
    retention_prunes_and_verify_stays_intact,
    retention_off_keeps_everything,
    access_report_direct_group_nested_inherited,
    activation_counts_across_days,
);
