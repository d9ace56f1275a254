//! Authorization in the directory: group owners manage their own group only, and callers who may
//! not read cannot tell which names exist.

use reqwest::Method;
use serde_json::json;

use crate::harness::prelude::*;
use crate::hostile::{Body, Db, Raw, assign_req, refused, remove_req};

/// The Owner of a group manages that group's membership (the Member role at `/groups/{id}`) and no
/// other group's.
async fn group_owners_manage_their_group_only(b: Backend) {
    let s = TestServer::start(&b).await;
    let mut db = Db::open(&s).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let g = s.group("g").await;
    let h = s.group("h").await;
    let (alice, _) = s.user("alice").await;
    let (owner_id, owner) = s.user("owner").await;
    s.assign(owner_id, role::GROUP_OWNER, &format!("/groups/{g}"), AssignmentKind::Active, None).await;
    let in_h = s.assign(alice, role::GROUP_MEMBER, &format!("/groups/{h}"), AssignmentKind::Eligible, None).await;
    let gs = format!("/groups/{g}");
    let hs = format!("/groups/{h}");
    let m = owner
        .create_request(&assign_req(alice, role::GROUP_MEMBER, &gs, AssignmentKind::Eligible))
        .await
        .expect("the owner of g makes alice eligible for membership of g")
        .assignment
        .expect("assignment");
    let mut active = assign_req(alice, role::GROUP_MEMBER, &gs, AssignmentKind::Active);
    active.end = Some(s.engine.now().plus_millis(DAY_MS));
    owner.create_request(&active).await.expect("and an active member for a day");
    refused!(
        db,
        "membership of h",
        owner.create_request(&assign_req(alice, role::GROUP_MEMBER, &hs, AssignmentKind::Eligible))
    );
    refused!(
        db,
        "ownership of h",
        owner.create_request(&assign_req(owner_id, role::GROUP_OWNER, &hs, AssignmentKind::Active))
    );
    refused!(db, "a role at /", owner.create_request(&assign_req(alice, ops, "/", AssignmentKind::Eligible)));
    refused!(db, "removal in h", owner.create_request(&remove_req(in_h.id)));
    refused!(db, "direct membership of g", owner.add_member(g, alice));
    let listed = owner
        .list_assignments(&AssignmentQuery { under: Some(sp("/groups")), limit: Some(1000), ..Default::default() })
        .await
        .expect("list")
        .items;
    assert!(listed.iter().any(|a| a.id == m.id), "the owner sees g's memberships");
    assert!(listed.iter().all(|a| a.id != in_h.id), "but not h's");
    assert_eq!(status(owner.get_assignment(in_h.id).await), 403);
    owner.create_request(&remove_req(m.id)).await.expect("the owner removes alice's eligibility for g");
    s.stop().await;
}

/// The Owner of a group manages membership and ownership of that group; it may not hand out other
/// roles at the group's scope, which would give it (or anyone) rights it does not hold there, such
/// as changing the Member role's activation policy.
async fn group_owners_cannot_grant_other_roles_at_their_group(b: Backend) {
    let s = TestServer::start(&b).await;
    let mut db = Db::open(&s).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let g = s.group("g").await;
    let (alice, _) = s.user("alice").await;
    let (owner_id, owner) = s.user("owner").await;
    let gs = format!("/groups/{g}");
    s.assign(owner_id, role::GROUP_OWNER, &gs, AssignmentKind::Active, None).await;
    // A group's scope holds only the group roles, whoever assigns: refused as an invalid scope.
    for (what, principal, role, scope) in [
        ("Global Administrator for itself", owner_id, role::GLOBAL_ADMINISTRATOR, gs.clone()),
        ("Owner for alice", alice, role::OWNER, gs.clone()),
        ("Privileged Role Administrator for itself", owner_id, role::PRIVILEGED_ROLE_ADMINISTRATOR, gs.clone()),
        ("a custom role below the group", alice, ops, format!("{gs}/x")),
    ] {
        let what = format!("the owner of g assigns {what} at {scope}");
        let before = db.snapshot().await;
        match owner.create_request(&assign_req(principal, role, &scope, AssignmentKind::Active)).await {
            Ok(v) => panic!("{what} must be refused, but succeeded: {v:?}"),
            Err(e) => assert_eq!(e.code(), Some("invalid_scope"), "{what}: {e}"),
        }
        let (changes, _) = db.changes_since(&before).await;
        assert!(changes.is_empty(), "{what} was refused but changed {changes:?}");
        let by_admin = s.admin.create_request(&assign_req(principal, role, &scope, AssignmentKind::Active)).await;
        assert_eq!(by_admin.err().and_then(|e| e.code().map(str::to_owned)).as_deref(), Some("invalid_scope"));
    }
    // Whatever it may assign, it never gets to change the group's policy.
    let settings = RoleSettings { require_mfa_on_activation: false, ..Default::default() };
    refused!(db, "the owner of g changes Member's settings", owner.put_settings("Member", &sp(&gs), &settings));
    s.stop().await;
}

/// Callers who may not read the directory (or a resource) get the same answer whether or not the
/// name or id they ask about exists, so they cannot enumerate user names.
async fn outsiders_cannot_tell_which_names_exist(b: Backend) {
    let s = TestServer::start(&b).await;
    let raw = Raw::new(&s);
    s.user("alice").await;
    let g = s.group("g").await;
    let res = s
        .admin
        .create_resource(&CreateResource { scope: sp("/a"), name: "a".into(), kind: "db".into() })
        .await
        .expect("resource");
    let (_, nobody) = s.user("nobody-special").await;
    let tok = nobody.token();
    let unknown = uuid::Uuid::now_v7();
    let check = |p: &str| Body::Json(json!({"principal": p, "action": "ops.read", "scope": "/"}));
    let pairs = [
        ("GET", "/api/v1/principals/alice".to_owned(), "/api/v1/principals/mallory".to_owned(), Body::Empty),
        ("GET", format!("/api/v1/groups/{g}"), format!("/api/v1/groups/{unknown}"), Body::Empty),
        ("GET", format!("/api/v1/resources/{}", res.id), format!("/api/v1/resources/{unknown}"), Body::Empty),
        ("GET", "/api/v1/audit?actor=alice".to_owned(), "/api/v1/audit?actor=mallory".to_owned(), Body::Empty),
    ];
    let mut differ = Vec::new();
    for (m, known, missing, body) in pairs {
        let m = Method::from_bytes(m.as_bytes()).expect("method");
        let a = raw.send(&m, &known, tok, &body).await;
        let b = raw.send(&m, &missing, tok, &body).await;
        if a.status != b.status || a.code() != b.code() {
            differ.push(format!("{m} {known} -> {}, {missing} -> {}", a.brief(), b.brief()));
        }
    }
    let a = raw.send(&Method::POST, "/api/v1/check", tok, &check("alice")).await;
    let b = raw.send(&Method::POST, "/api/v1/check", tok, &check("mallory")).await;
    if a.status != b.status {
        differ.push(format!("POST /api/v1/check about alice -> {}, about mallory -> {}", a.brief(), b.brief()));
    }
    assert!(differ.is_empty(), "existence leaks to a caller without read rights:\n{}", differ.join("\n"));
    s.stop().await;
}

crate::backend_tests!(group_owners_manage_their_group_only);

crate::regression_tests!(
    group_owners_cannot_grant_other_roles_at_their_group =>
        "guards: Owner of group holds pim.assignments.* at /groups/{id}, so it can assign any role there \
         (e.g. Global Administrator to itself) and then change the Member role's settings",
    outsiders_cannot_tell_which_names_exist =>
        "guards: lookups answer 404 for unknown names/ids before authorizing, 403 for known ones",
);
