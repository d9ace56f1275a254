//! Authorization of assignments and requests: a role's rights end at its scope and its window.

use crate::harness::prelude::*;
use crate::hostile::{Db, assign_req, refused, remove_req};

/// A role held at `/a` works at `/a` and below, never at `/c` or `/`.
async fn scopes_bound_what_a_role_allows(b: Backend) {
    let s = TestServer::start(&b).await;
    let mut db = Db::open(&s).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let (victim, _) = s.user("victim").await;
    let (uaa_id, uaa) = s.user("uaa").await;
    let (reader_id, reader) = s.user("reader").await;
    let (contrib_id, contrib) = s.user("contrib").await;
    let (ga_id, scoped_ga) = s.user("scoped-ga").await;
    s.assign(uaa_id, role::USER_ACCESS_ADMINISTRATOR, "/a", AssignmentKind::Active, None).await;
    s.assign(reader_id, role::READER, "/a", AssignmentKind::Active, None).await;
    s.assign(contrib_id, role::CONTRIBUTOR, "/a", AssignmentKind::Active, None).await;
    s.assign(ga_id, role::GLOBAL_ADMINISTRATOR, "/a", AssignmentKind::Active, None).await;
    let at_c = s.assign(victim, ops, "/c/x", AssignmentKind::Eligible, None).await;
    let at_ax = s.assign(victim, ops, "/a/x", AssignmentKind::Eligible, None).await;
    let res_a = s
        .admin
        .create_resource(&CreateResource { scope: sp("/a/db"), name: "a db".into(), kind: "database".into() })
        .await
        .expect("resource");
    let res_c = s
        .admin
        .create_resource(&CreateResource { scope: sp("/c/db"), name: "c db".into(), kind: "database".into() })
        .await
        .expect("resource");
    s.set_settings(ops, "/c", |x| x.activation_max_minutes = 60).await;

    // User Access Administrator at /a: assigns at /a/b, not at /c nor at /.
    let made = uaa.create_request(&assign_req(victim, ops, "/a/b", AssignmentKind::Eligible)).await.expect("at /a/b");
    let made = made.assignment.expect("assignment");
    assert_eq!(made.scope.as_str(), "/a/b");
    for scope in ["/c", "/c/a", "/", "/ab"] {
        let what = format!("UAA@/a adminAssign at {scope}");
        refused!(db, what, uaa.create_request(&assign_req(victim, ops, scope, AssignmentKind::Eligible)));
    }
    refused!(db, "UAA@/a adminRemove at /c/x", uaa.create_request(&remove_req(at_c.id)));
    let mut update = CreateRequest::for_assignment(RequestAction::AdminUpdate, at_c.id);
    update.end = Some(s.engine.now().plus_millis(DAY_MS));
    refused!(db, "UAA@/a adminUpdate at /c/x", uaa.create_request(&update));
    assert_eq!(s.admin.get_assignment(at_c.id).await.expect("re-read").window.end, None, "still permanent");
    uaa.create_request(&remove_req(at_ax.id)).await.expect("UAA@/a removes at /a/x");
    assert_eq!(status(uaa.get_assignment(at_c.id).await), 403);
    uaa.get_assignment(made.id).await.expect("UAA@/a reads at /a/b");
    refused!(db, "UAA@/a settings at /a", uaa.put_settings(&ops.to_string(), &sp("/a"), &RoleSettings::default()));
    // Validation tells the same story, and changes nothing either.
    let mut v = assign_req(victim, ops, "/c", AssignmentKind::Eligible);
    v.validate_only = Some(true);
    let answer = uaa.validate_request(&v).await.expect("validateOnly");
    assert!(!answer.valid && answer.problems.iter().any(|p| p.code == "forbidden"), "{answer:?}");

    // Reader at /a: sees what is under /a, nothing at /c or /.
    let all =
        reader.list_assignments(&AssignmentQuery { limit: Some(1000), ..Default::default() }).await.expect("list");
    assert!(all.items.iter().any(|a| a.id == made.id), "Reader@/a sees /a/b");
    for a in &all.items {
        assert!(sp("/a").contains(&a.scope) || a.principal_id == reader_id, "Reader@/a sees {:?} at {}", a.id, a.scope);
    }
    let under_c = reader
        .list_assignments(&AssignmentQuery { under: Some(sp("/c")), ..Default::default() })
        .await
        .expect("list under /c");
    assert!(under_c.items.is_empty(), "Reader@/a sees nothing under /c: {:?}", under_c.items);
    assert_eq!(status(reader.get_assignment(at_c.id).await), 403);
    let resources = reader.list_resources(&ResourceQuery::default()).await.expect("resources").items;
    let ids: Vec<_> = resources.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![res_a.id], "Reader@/a sees the resources under /a only");
    reader.get_resource(res_a.id).await.expect("resource at /a/db");
    assert_eq!(status(reader.get_resource(res_c.id).await), 403);
    reader.get_settings(&ops.to_string(), &sp("/a/b")).await.expect("settings at /a/b");
    assert_eq!(status(reader.get_settings(&ops.to_string(), &sp("/c")).await), 403);
    assert_eq!(status(reader.get_settings(&ops.to_string(), &sp("/")).await), 403);
    let listed = reader.list_settings(None).await.expect("settings list").items;
    assert!(listed.iter().all(|x| sp("/a").contains(&x.scope)), "Reader@/a lists settings at /c: {listed:?}");
    let requests = reader.list_requests(&RequestQuery { limit: Some(1000), ..Default::default() }).await.expect("reqs");
    assert!(requests.items.iter().any(|r| r.target_assignment == Some(made.id)), "the /a/b request is visible");
    assert!(
        requests.items.iter().all(|r| sp("/a").contains(&r.scope) || r.principal_id == reader_id),
        "Reader@/a sees requests outside /a"
    );
    let events = reader
        .list_audit(&AuditQuery { limit: Some(1000), ..Default::default() })
        .await
        .expect("audit within /a")
        .items;
    assert!(events.iter().any(|e| e.scope.as_ref().is_some_and(|x| x.as_str() == "/a/b")));
    for e in &events {
        let inside = e.scope.as_ref().is_some_and(|x| sp("/a").contains(x));
        assert!(inside, "Reader@/a reads audit event {} at {:?}", e.action, e.scope);
    }
    assert_eq!(status(reader.verify_audit().await), 403, "verifying the whole chain needs / ");
    let check = CheckRequest { principal: victim.to_string(), action: "ops.x".into(), scope: "/a".into(), at: None };
    assert_eq!(status(reader.check(&check).await), 403, "checks about others need pim.check.read at /");
    refused!(
        db,
        "Reader@/a adminAssign at /a/b",
        reader.create_request(&assign_req(victim, ops, "/a/c", AssignmentKind::Eligible))
    );

    // Contributor at /a: registers resources at /a, not at /c; no access management.
    let res = |scope: &str| CreateResource { scope: sp(scope), name: "new".into(), kind: "database".into() };
    contrib.create_resource(&res("/a/new")).await.expect("Contributor@/a registers at /a/new");
    refused!(db, "Contributor@/a resource at /c/new", contrib.create_resource(&res("/c/new")));
    refused!(db, "Contributor@/a resource at /new", contrib.create_resource(&res("/new")));
    refused!(
        db,
        "Contributor@/a adminAssign at /a",
        contrib.create_request(&assign_req(victim, ops, "/a/q", AssignmentKind::Eligible))
    );

    // Global Administrator at /a: everything at /a, nothing that lives at /.
    scoped_ga.create_request(&assign_req(victim, ops, "/a/q", AssignmentKind::Eligible)).await.expect("GA@/a assigns");
    scoped_ga.put_settings(&ops.to_string(), &sp("/a"), &RoleSettings::default()).await.expect("GA@/a settings");
    refused!(
        db,
        "GA@/a adminAssign at /c",
        scoped_ga.create_request(&assign_req(victim, ops, "/c/q", AssignmentKind::Eligible))
    );
    refused!(db, "GA@/a settings at /", scoped_ga.put_settings(&ops.to_string(), &sp("/"), &RoleSettings::default()));
    let user = CreateUser { name: "by-scoped-ga".into(), ..Default::default() };
    refused!(db, "GA@/a creates a user (directory lives at /)", scoped_ga.create_user(&user));
    let role = CreateRole { name: "by-scoped-ga".into(), description: None, permissions: Permissions::default() };
    refused!(db, "GA@/a creates a role (roles live at /)", scoped_ga.create_role(&role));
    assert_eq!(status(scoped_ga.list_users(&ListQuery::default()).await), 403);
    // Elevation through a refused scope is refused too: GA@/a cannot make itself GA at /.
    refused!(
        db,
        "GA@/a assigns itself GA at /",
        scoped_ga.create_request(&assign_req(ga_id, role::GLOBAL_ADMINISTRATOR, "/", AssignmentKind::Active))
    );
    s.stop().await;
}

/// pim's own rights follow the assignment's window and kind: eligible gives nothing until activated,
/// an activation gives rights until it ends, and a time-bound assignment ends to the millisecond.
async fn rights_follow_the_assignment_window(b: Backend) {
    let s = TestServer::start(&b).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let (victim, _) = s.user("victim").await;
    let (jit_id, jit) = s.user("jit").await;
    let (tb_id, tb) = s.user("timebound").await;
    s.without_mfa(role::USER_ACCESS_ADMINISTRATOR).await;
    s.assign(jit_id, role::USER_ACCESS_ADMINISTRATOR, "/a", AssignmentKind::Eligible, None).await;
    let end = s.engine.now().plus_millis(HOUR_MS);
    s.assign(tb_id, role::USER_ACCESS_ADMINISTRATOR, "/a", AssignmentKind::Active, Some(end)).await;
    let at = |i: u32| assign_req(victim, ops, &format!("/a/{i}"), AssignmentKind::Eligible);
    assert_eq!(status(jit.create_request(&at(1)).await), 403, "eligible is not active");
    let act = jit
        .create_request(&activation(role::USER_ACCESS_ADMINISTRATOR, "/a", 120))
        .await
        .expect("activate")
        .assignment
        .expect("activation");
    jit.create_request(&at(2)).await.expect("activated: allowed");
    tb.create_request(&at(3)).await.expect("time-bound, in its window: allowed");
    s.advance(HOUR_MS - 1);
    tb.create_request(&at(4)).await.expect("a millisecond before the end: allowed");
    s.advance(1);
    assert_eq!(status(tb.create_request(&at(5)).await), 403, "at the end: refused");
    jit.create_request(&CreateRequest::for_assignment(RequestAction::SelfDeactivate, act.id))
        .await
        .expect("deactivate");
    assert_eq!(status(jit.create_request(&at(6)).await), 403, "deactivated: refused");
    s.stop().await;
}

crate::backend_tests!(scopes_bound_what_a_role_allows, rights_follow_the_assignment_window);
