//! Users, groups, memberships, service principals, resources and roles over the API.

use crate::harness::prelude::*;

async fn users_groups_and_service_principals(b: Backend) {
    let s = TestServer::start(&b).await;
    let (mgr, _) = s.user("manager").await;
    let u = s
        .admin
        .create_user(&CreateUser {
            name: "Alice".into(),
            display_name: Some("Alice A.".into()),
            email: Some("alice@example.com".into()),
            manager_id: Some(mgr),
            password: None,
            emergency_access: Some(true),
        })
        .await
        .expect("create");
    assert_eq!(u.kind, PrincipalKind::User);
    assert!(u.enabled && u.emergency_access);
    assert_eq!(u.manager_id, Some(mgr));
    assert_eq!(s.admin.get_principal("alice").await.expect("by name, any case").id, u.id);
    assert_eq!(s.admin.get_user(u.id).await.expect("get").display_name, "Alice A.");
    let dup = CreateGroup { name: "ALICE".into(), display_name: None, description: None, email: None };
    assert_eq!(code(s.admin.create_group(&dup).await), "name_taken", "names are unique across kinds");
    let upd = UpdateUser { display_name: Some("Alice B.".into()), enabled: Some(false), ..Default::default() };
    let u2 = s.admin.update_user(u.id, &upd).await.expect("update");
    assert_eq!(u2.display_name, "Alice B.");
    assert!(!u2.enabled, "disabled, not deleted");
    assert_eq!(code(s.admin.get_group(u.id).await), "not_found", "a user is not a group");
    let sp_ = s
        .admin
        .create_service_principal(&CreateServicePrincipal {
            name: "ci".into(),
            display_name: None,
            description: Some("CI runner".into()),
        })
        .await
        .expect("sp");
    assert_eq!(sp_.kind, PrincipalKind::ServicePrincipal);
    let listed = s.admin.list_service_principals(&ListQuery::default()).await.expect("list").items;
    assert_eq!(listed.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), vec!["ci"]);
    // Paging through users.
    for i in 0..4 {
        s.user(&format!("u{i}")).await;
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page =
            s.admin.list_users(&ListQuery { q: None, limit: Some(2), cursor: cursor.clone() }).await.expect("page");
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|p| p.name));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 7, "admin, manager, Alice and four more: {seen:?}");
    let prefixed = s.admin.list_users(&ListQuery { q: Some("U".into()), limit: None, cursor: None }).await.expect("q");
    assert_eq!(prefixed.items.len(), 4);
    s.stop().await;
}

async fn nested_groups_refuse_cycles(b: Backend) {
    let s = TestServer::start(&b).await;
    let a = s.group("a").await;
    let bg = s.group("b").await;
    let c = s.group("c").await;
    s.admin.add_member(a, bg).await.expect("a > b");
    s.admin.add_member(bg, c).await.expect("b > c");
    assert_eq!(code(s.admin.add_member(c, a).await), "group_cycle");
    assert_eq!(code(s.admin.add_member(a, a).await), "group_cycle");
    assert_eq!(code(s.admin.add_member(a, bg).await), "already_exists");
    let members = s.admin.list_members(a).await.expect("members").items;
    assert_eq!(members.iter().map(|p| p.id).collect::<Vec<_>>(), vec![bg]);
    let ci = s
        .admin
        .create_service_principal(&CreateServicePrincipal { name: "bot".into(), display_name: None, description: None })
        .await
        .expect("sp");
    assert_eq!(code(s.admin.add_member(a, ci.id).await), "invalid_input");
    s.admin.remove_member(a, bg).await.expect("remove");
    assert_eq!(code(s.admin.remove_member(a, bg).await), "not_found");
    s.admin.add_member(c, a).await.expect("no cycle any more");
    s.stop().await;
}

async fn resources_form_a_tree(b: Backend) {
    let s = TestServer::start(&b).await;
    for (scope, name, kind) in [
        ("/subscriptions/prod", "Production", "subscription"),
        ("/subscriptions/prod/resourceGroups/db", "Databases", "resourceGroup"),
        ("/subscriptions/prod-eu", "Production EU", "subscription"),
        ("/postgres/orders", "Orders DB", "postgres.database"),
    ] {
        s.admin
            .create_resource(&CreateResource { scope: sp(scope), name: name.into(), kind: kind.into() })
            .await
            .expect("register");
    }
    let dup = CreateResource { scope: sp("/postgres/orders"), name: "x".into(), kind: "y".into() };
    assert_eq!(code(s.admin.create_resource(&dup).await), "already_exists");
    let all = s.admin.list_resources(&ResourceQuery::default()).await.expect("list").items;
    let scopes: Vec<_> = all.iter().map(|r| r.scope.as_str()).collect();
    assert_eq!(
        scopes,
        vec![
            "/postgres/orders",
            "/subscriptions/prod",
            "/subscriptions/prod/resourceGroups/db",
            "/subscriptions/prod-eu"
        ],
        "depth-first tree order"
    );
    let under = s
        .admin
        .list_resources(&ResourceQuery { under: Some(sp("/subscriptions/prod")), ..Default::default() })
        .await
        .expect("under");
    assert_eq!(under.items.len(), 2, "/subscriptions/prod-eu is not under /subscriptions/prod");
    let info = s.admin.validate_scope("/a/b/c").await.expect("valid");
    assert_eq!(info.depth, 3);
    assert_eq!(info.ancestors.iter().map(|a| a.as_str()).collect::<Vec<_>>(), vec!["/a/b", "/a", "/"]);
    assert_eq!(code(s.admin.validate_scope("/a/../b").await), "invalid_scope");
    s.stop().await;
}

async fn resources_are_renamed_retyped_and_removed(b: Backend) {
    let s = TestServer::start(&b).await;
    let reg = |scope: &str| CreateResource { scope: sp(scope), name: "Orders".into(), kind: "database".into() };
    let r = s.admin.create_resource(&reg("/db/orders")).await.expect("register");
    let (uid, _) = s.user("ann").await;
    s.assign(uid, role::READER, "/db/orders", AssignmentKind::Eligible, None).await;

    // Rename only; then retype only: the other field stays.
    let named = UpdateResource { name: Some("Orders DB".into()), kind: None };
    let up = s.admin.update_resource(r.id, &named).await.expect("rename");
    assert_eq!((up.name.as_str(), up.kind.as_str(), up.scope.as_str()), ("Orders DB", "database", "/db/orders"));
    let typed = UpdateResource { name: None, kind: Some("postgres.database".into()) };
    let up = s.admin.update_resource(r.id, &typed).await.expect("retype");
    assert_eq!((up.name.as_str(), up.kind.as_str()), ("Orders DB", "postgres.database"));
    assert_eq!(s.admin.get_resource(r.id).await.expect("get"), up);
    let events = s.audited("resource.update").await;
    assert!(events.iter().all(|e| e.error_code.is_none()) && events.len() == 2, "{events:?}");
    assert_eq!(events[0].scope.as_ref().map(|x| x.as_str()), Some("/db/orders"));
    assert_eq!(events[0].details["to"]["type"], "postgres.database");
    assert_eq!(events[0].details["from"]["type"], "database");

    // Bad input answers 4xx and changes nothing.
    assert_eq!(status(s.admin.update_resource(r.id, &UpdateResource::default()).await), 400);
    let blank = UpdateResource { name: Some("  ".into()), kind: None };
    assert_eq!(code(s.admin.update_resource(r.id, &blank).await), "invalid_input");
    assert_eq!(code(s.admin.update_resource(ResourceId::new(), &named).await), "not_found");
    assert_eq!(code(s.admin.delete_resource(ResourceId::new()).await), "not_found");
    assert_eq!(s.admin.get_resource(r.id).await.expect("get"), up);

    // Without pim.scopes.write at the resource's scope: 403, nothing changes.
    let (rid, reader) = s.user("reader").await;
    s.assign(rid, role::SECURITY_READER, "/", AssignmentKind::Active, None).await;
    assert_eq!(status(reader.update_resource(r.id, &named).await), 403);
    assert_eq!(status(reader.delete_resource(r.id).await), 403);
    let (_, nobody) = s.user("nobody").await;
    assert_eq!(code(nobody.delete_resource(r.id).await), "forbidden");
    assert_eq!(code(nobody.delete_resource(ResourceId::new()).await), "forbidden", "no existence oracle");
    assert_eq!(s.admin.get_resource(r.id).await.expect("still there"), up);

    // Removing the registration leaves the assignments at its scope alone.
    let gone = s.admin.delete_resource(r.id).await.expect("delete");
    assert_eq!(gone.id, r.id);
    assert_eq!(code(s.admin.get_resource(r.id).await), "not_found");
    let filter = AssignmentQuery { scope: Some(sp("/db/orders")), ..Default::default() };
    assert_eq!(s.admin.list_assignments(&filter).await.expect("list").items.len(), 1);
    let deleted: Vec<_> = s.audited("resource.delete").await.into_iter().filter(|e| e.error_code.is_none()).collect();
    assert_eq!((deleted.len(), deleted[0].details["name"].as_str()), (1, Some("Orders DB")));
    // The scope may be registered again.
    s.admin.create_resource(&reg("/db/orders")).await.expect("again");
    s.stop().await;
}

async fn custom_roles_and_their_rules(b: Backend) {
    let s = TestServer::start(&b).await;
    let roles = s.admin.list_roles().await.expect("roles").items;
    for name in [
        "Global Administrator",
        "Privileged Role Administrator",
        "Security Administrator",
        "Security Reader",
        "Owner",
        "User Access Administrator",
        "Contributor",
        "Reader",
    ] {
        assert!(roles.iter().any(|r| r.name == name && r.builtin), "built-in {name}");
    }
    let perms = |a: &[&str], n: &[&str]| Permissions {
        actions: a.iter().map(|x| Pattern::parse(x).expect("p")).collect(),
        not_actions: n.iter().map(|x| Pattern::parse(x).expect("p")).collect(),
    };
    let body = CreateRole {
        name: "Storage Operator".into(),
        description: Some("blobs".into()),
        permissions: perms(&["storage.*"], &["storage.blobs.delete"]),
    };
    let r = s.admin.create_role(&body).await.expect("create");
    assert_eq!(code(s.admin.create_role(&body).await), "name_taken");
    assert_eq!(code(s.admin.update_role("Reader", &body).await), "builtin_role_read_only");
    assert_eq!(code(s.admin.delete_role("Global Administrator").await), "builtin_role_read_only");
    let (uid, _) = s.user("alice").await;
    s.assign(uid, r.id, "/s", AssignmentKind::Active, None).await;
    assert!(s.allowed(uid, "storage.blobs.read", "/s/x").await);
    assert!(!s.allowed(uid, "storage.blobs.delete", "/s/x").await, "excluded action");
    let changed = CreateRole { permissions: perms(&["storage.blobs.read"], &[]), ..body.clone() };
    s.admin.update_role("storage operator", &changed).await.expect("update by name");
    assert!(!s.allowed(uid, "storage.queues.read", "/s").await, "the change applies at once");
    assert!(s.allowed(uid, "storage.blobs.read", "/s").await);
    let in_use = s.admin.delete_role(&r.id.to_string()).await.expect_err("an assigned role stays");
    assert_eq!(in_use.code(), Some("role_in_use"));
    assert!(
        in_use.to_string().contains(
            "role Storage Operator cannot be deleted: it has assignments (current or past), and a role that was \
             assigned stays for the audit history"
        ),
        "{in_use}"
    );
    let unused = s.custom_role("Unused", &["x.y"]).await;
    s.admin.delete_role(&unused.to_string()).await.expect("delete unused");
    assert_eq!(code(s.admin.get_role(&unused.to_string()).await), "not_found");
    s.stop().await;
}

async fn settings_inherit_from_the_nearest_ancestor(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Ops", &["ops.*"]).await;
    let r = role.to_string();
    let d = s.admin.get_settings(&r, &sp("/a/b")).await.expect("defaults");
    assert_eq!(d.defined_at, None);
    assert_eq!(d.settings, RoleSettings::default());
    s.set_settings(role, "/a", |st| st.activation_max_minutes = 60).await;
    let e = s.admin.get_settings(&r, &sp("/a/b/c")).await.expect("inherited");
    assert_eq!(e.defined_at.as_ref().map(|x| x.as_str()), Some("/a"));
    assert_eq!(e.settings.activation_max_minutes, 60);
    s.set_settings(role, "/a/b", |st| st.activation_max_minutes = 90).await;
    assert_eq!(s.admin.get_settings(&r, &sp("/a/b/c")).await.expect("nearer").settings.activation_max_minutes, 90);
    assert_eq!(s.admin.get_settings(&r, &sp("/a/x")).await.expect("sibling").settings.activation_max_minutes, 60);
    let every = s.admin.list_settings(Some(role)).await.expect("list").items;
    assert_eq!(every.len(), 2);
    s.admin.delete_settings(&r, &sp("/a/b")).await.expect("reset");
    assert_eq!(s.admin.get_settings(&r, &sp("/a/b/c")).await.expect("again").settings.activation_max_minutes, 60);
    // Every setting round-trips.
    let mut all = RoleSettings {
        activation_max_minutes: 120,
        require_mfa_on_activation: false,
        require_justification_on_activation: false,
        require_ticket_on_activation: true,
        require_approval_to_activate: true,
        approval_stages: vec![ApprovalStage {
            approvers: vec![ApproverRef { kind: PrincipalKind::User, id: s.admin_id }],
            required_approvals: 1,
            timeout_minutes: 120,
            escalation: Some(Escalation {
                approvers: vec![ApproverRef { kind: PrincipalKind::User, id: s.admin_id }],
                after_minutes: 60,
            }),
        }],
        approver_justification_required: false,
        allow_permanent_eligible: false,
        eligible_expire_after_days: 90,
        allow_permanent_active: false,
        active_expire_after_days: 30,
        require_mfa_on_active_assignment: true,
        require_justification_on_active_assignment: false,
        require_approval_for_extension: false,
        allow_break_glass: true,
        protected: false,
        notifications: NotificationSettings::default(),
        ssh_principals: vec!["deploy".into(), "root".into()],
    };
    all.notifications.assigned_active.admins.additional_recipients = vec!["secops@example.com".into()];
    all.notifications.eligible_member_activated.requester.critical_only = true;
    s.admin.put_settings(&r, &sp("/z"), &all).await.expect("put all");
    assert_eq!(s.admin.get_settings(&r, &sp("/z")).await.expect("get").settings, all);
    // Below protected settings, a change waits for a second administrator (see approvals.rs).
    s.set_settings(role, "/p", |st| st.protected = true).await;
    let change = RoleSettings { activation_max_minutes: 30, ..RoleSettings::default() };
    let proposed = s.admin.put_settings(&r, &sp("/p/q"), &change).await.expect("proposed");
    assert!(matches!(proposed, pim_client::SettingsOutcome::Pending(_)), "{proposed:?}");
    assert_eq!(s.admin.get_settings(&r, &sp("/p/q")).await.expect("get").settings.activation_max_minutes, 480);
    s.stop().await;
}

async fn setup_sign_in_and_tokens(b: Backend) {
    let s = TestServer::start_empty(&b, Some("the-secret".into())).await;
    let anon = s.anonymous();
    assert!(anon.setup_status().await.expect("status").setup_required);
    let req = |secret: &str| SetupRequest {
        setup_secret: secret.into(),
        username: "root".into(),
        password: "correct horse battery".into(),
        display_name: None,
        email: None,
    };
    assert_eq!(code(anon.setup(&req("guess")).await), "invalid_setup_secret");
    let root = anon.setup(&req("the-secret")).await.expect("setup");
    assert!(!anon.setup_status().await.expect("status").setup_required);
    assert_eq!(code(anon.setup(&req("the-secret")).await), "setup_completed");
    let login = |p: &str| LoginRequest { username: "root".into(), password: p.into(), token_name: None, otp: None };
    assert_eq!(code(anon.login(&login("wrong password")).await), "invalid_credentials");
    assert_eq!(
        code(
            anon.login(&LoginRequest {
                username: "nobody".into(),
                password: "x".repeat(10),
                token_name: None,
                otp: None
            })
            .await
        ),
        "invalid_credentials"
    );
    let session = anon.login(&login("correct horse battery")).await.expect("login");
    assert_eq!(session.principal.id, root.id);
    assert!(session.token.starts_with("pim_"));
    let me = Client::new(&s.url, Some(session.token.clone())).expect("client");
    let who = me.me().await.expect("me");
    assert_eq!(who.principal.name, "root");
    assert!(who.active_assignments.iter().any(|a| a.role_id == role::GLOBAL_ADMINISTRATOR && a.scope.is_root()));
    // Tokens are listed without their secret, and revoked tokens stop working.
    let extra = me
        .create_token(&CreateTokenRequest { name: "ci".into(), expires_in_days: Some(1), principal_id: None })
        .await
        .expect("token");
    let listed = me.list_tokens(None).await.expect("tokens").items;
    assert_eq!(listed.len(), 2);
    let raw = serde_json::to_string(&listed).expect("json");
    assert!(!raw.contains(&extra.token) && !raw.contains(&session.token), "secrets are never listed");
    let second = Client::new(&s.url, Some(extra.token.clone())).expect("client");
    second.me().await.expect("works");
    me.revoke_token(extra.info.id).await.expect("revoke");
    assert_eq!(status(second.me().await), 401, "revoked");
    let short = me
        .create_token(&CreateTokenRequest { name: "short".into(), expires_in_days: Some(1), principal_id: None })
        .await
        .expect("token");
    let third = Client::new(&s.url, Some(short.token)).expect("client");
    me.logout().await.expect("logout");
    assert_eq!(status(me.me().await), 401, "signed out");
    s.advance(DAY_MS - 1);
    third.me().await.expect("still valid");
    s.advance(1);
    assert_eq!(status(third.me().await), 401, "expired after a day");
    // The audit history has the sign-ins, good and bad.
    let admin =
        Client::new(&s.url, Some(anon.login(&login("correct horse battery")).await.expect("login").token)).expect("c");
    let events = admin
        .list_audit(&AuditQuery { action: Some("auth.signIn".into()), ..Default::default() })
        .await
        .expect("audit")
        .items;
    assert_eq!(events.iter().filter(|e| e.outcome == Outcome::Failure).count(), 2);
    assert!(events.iter().filter(|e| e.outcome == Outcome::Success).count() >= 2);
    let setup_events = admin
        .list_audit(&AuditQuery { action: Some("setup.".into()), ..Default::default() })
        .await
        .expect("audit")
        .items;
    assert_eq!(setup_events.iter().filter(|e| e.outcome == Outcome::Failure).count(), 2, "bad secret and second setup");
    s.stop().await;
}

async fn api_tokens_are_stored_hashed(b: Backend) {
    let s = TestServer::start(&b).await;
    let t = s
        .admin
        .create_token(&CreateTokenRequest { name: "x".into(), expires_in_days: None, principal_id: None })
        .await
        .expect("token");
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&s.db.url).await.expect("connect");
    let n: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM api_tokens WHERE token_hash = '{}'",
        t.token.replace('\'', "")
    ))
    .fetch_one(&mut c)
    .await
    .expect("query");
    assert_eq!(n, 0, "the secret itself is not stored");
    let hashed: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM api_tokens WHERE token_hash = '{}'",
        pim_engine::auth::token_hash(&t.token)
    ))
    .fetch_one(&mut c)
    .await
    .expect("query");
    assert_eq!(hashed, 1, "its SHA-256 is");
    s.stop().await;
}

async fn repeated_failed_sign_ins_lock_the_user_name(b: Backend) {
    let s = TestServer::start(&b).await;
    let anon = s.anonymous();
    let wrong =
        LoginRequest { username: "admin".into(), password: "not the password".into(), token_name: None, otp: None };
    for _ in 0..5 {
        assert_eq!(code(anon.login(&wrong).await), "invalid_credentials");
    }
    let right = LoginRequest {
        username: "Admin".into(),
        password: crate::harness::ADMIN_PASSWORD.into(),
        token_name: None,
        otp: None,
    };
    let r = anon.login(&right).await;
    assert_eq!(status(r), 429, "locked even with the right password");
    s.advance(15 * MINUTE_MS);
    anon.login(&right).await.expect("the lock lifts after 15 minutes");
    // Token use is recorded (at most once a minute).
    let tokens = s.admin.list_tokens(None).await.expect("tokens").items;
    assert!(tokens.iter().any(|t| t.last_used_at.is_some()), "{tokens:?}");
    s.stop().await;
}

crate::backend_tests!(
    users_groups_and_service_principals,
    nested_groups_refuse_cycles,
    resources_form_a_tree,
    resources_are_renamed_retyped_and_removed,
    custom_roles_and_their_rules,
    settings_inherit_from_the_nearest_ancestor,
    setup_sign_in_and_tokens,
    api_tokens_are_stored_hashed,
    repeated_failed_sign_ins_lock_the_user_name,
);
