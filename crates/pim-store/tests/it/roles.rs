//! Roles, role settings, resources.

use super::*;
use pim_store::StoreError;
use pim_store::q;

fn custom(name: &str) -> RoleDefinition {
    RoleDefinition {
        id: RoleId::new(),
        name: name.to_owned(),
        description: format!("{name} role"),
        builtin: false,
        permissions: Permissions::from_literals(&["storage.*", "*.read"], &["storage.blobs.delete"]),
    }
}

both!(builtin_roles_are_seeded_once_and_kept_current, |db| {
    let mut c = db.conn().await;
    let builtins = pim_domain::role::builtin_roles();
    let roles = q::list_roles(&mut c).await.unwrap();
    assert_eq!(roles.len(), builtins.len());
    for b in &builtins {
        assert_eq!(q::get_role(&mut c, b.id).await.unwrap().as_ref(), Some(b));
    }
    // A built-in role edited in the database is restored at the next start.
    let mut edited = builtins[7].clone();
    edited.description = "tampered".into();
    edited.permissions = Permissions::from_literals(&["*"], &[]);
    q::update_role(&mut c, &edited, t(5)).await.unwrap();
    drop(c);
    let again = db.reopen().await;
    let mut c = again.read().await.unwrap();
    assert_eq!(q::list_roles(&mut c).await.unwrap().len(), builtins.len());
    assert_eq!(q::get_role(&mut c, builtins[7].id).await.unwrap().as_ref(), Some(&builtins[7]));
    drop(c);
    again.close().await;
});

both!(custom_roles_round_trip, |db| {
    let mut c = db.conn().await;
    let mut zeta = custom("Zeta Operator");
    let alpha = custom("alpha reader");
    q::insert_role(&mut c, &zeta, t(1)).await.unwrap();
    q::insert_role(&mut c, &alpha, t(1)).await.unwrap();
    assert_eq!(q::get_role(&mut c, zeta.id).await.unwrap().as_ref(), Some(&zeta));
    assert_eq!(q::get_role_by_name(&mut c, "zeta OPERATOR").await.unwrap().as_ref(), Some(&zeta));
    assert_eq!(
        q::get_role_by_name(&mut c, "global administrator").await.unwrap().map(|r| r.id),
        Some(pim_domain::role::GLOBAL_ADMINISTRATOR)
    );

    let roles = q::list_roles(&mut c).await.unwrap();
    let n = roles.len();
    assert!(roles[..n - 2].iter().all(|r| r.builtin), "built-in roles first");
    assert_eq!(roles[n - 2].id, alpha.id, "then custom ones by name, case-insensitively");
    assert_eq!(roles[n - 1].id, zeta.id);

    let err = q::insert_role(&mut c, &custom("READER"), t(1)).await.unwrap_err();
    assert!(matches!(&err, StoreError::Unique(t) if t == "roles"), "{err:?}");

    zeta.name = "Zeta Admin".into();
    zeta.permissions = Permissions::from_literals(&["*"], &[]);
    q::update_role(&mut c, &zeta, t(2)).await.unwrap();
    assert_eq!(q::get_role(&mut c, zeta.id).await.unwrap().as_ref(), Some(&zeta));

    assert!(q::delete_role(&mut c, zeta.id).await.unwrap());
    assert!(!q::delete_role(&mut c, zeta.id).await.unwrap());
    assert_eq!(q::get_role(&mut c, zeta.id).await.unwrap(), None);
    assert!(!q::delete_role(&mut c, pim_domain::role::READER).await.unwrap(), "built-in roles stay");
});

both!(settings_nearest_ancestor, |db| {
    let mut c = db.conn().await;
    let role = pim_domain::role::OWNER;
    let other = pim_domain::role::READER;
    let admin = user("admin");
    add(&mut c, &admin).await;
    let at = |m: u32| RoleSettings { activation_max_minutes: m, ..Default::default() };

    assert_eq!(q::get_settings_nearest(&mut c, role, &scope("/a/b")).await.unwrap(), None);
    q::put_settings(&mut c, role, &scope("/"), &at(60), t(1), None).await.unwrap();
    q::put_settings(&mut c, role, &scope("/a"), &at(90), t(1), Some(admin.id)).await.unwrap();
    q::put_settings(&mut c, role, &scope("/a/b_c"), &at(120), t(1), None).await.unwrap();
    q::put_settings(&mut c, other, &scope("/a/b_c/d"), &at(30), t(1), None).await.unwrap();

    let got = q::get_settings_nearest(&mut c, role, &scope("/a/b_c/d/e")).await.unwrap();
    assert_eq!(got, Some((scope("/a/b_c"), at(120))));
    let got = q::get_settings_nearest(&mut c, role, &scope("/a/bxc")).await.unwrap();
    assert_eq!(got, Some((scope("/a"), at(90))), "'_' is not a wildcard");
    let got = q::get_settings_nearest(&mut c, role, &scope("/ab")).await.unwrap();
    assert_eq!(got, Some((scope("/"), at(60))), "/ab is not below /a");
    let got = q::get_settings_nearest(&mut c, role, &scope("/a")).await.unwrap();
    assert_eq!(got, Some((scope("/a"), at(90))));

    // The role and its nearest settings in one statement answer the same.
    let owner = q::get_role(&mut c, role).await.unwrap().unwrap();
    for s in ["/", "/a", "/a/b_c/d/e", "/a/bxc", "/ab", "/a/b_c", "/a/b_c/d"] {
        let nearest = q::get_settings_nearest(&mut c, role, &scope(s)).await.unwrap();
        let got = q::get_role_with_settings(&mut c, role, &scope(s)).await.unwrap();
        assert_eq!(got, Some((owner.clone(), nearest)), "{s}");
    }
    let got = q::get_role_with_settings(&mut c, other, &scope("/a/b_c/d/e")).await.unwrap().unwrap();
    assert_eq!((got.0.id, got.1), (other, Some((scope("/a/b_c/d"), at(30)))));
    let got = q::get_role_with_settings(&mut c, other, &scope("/a/b_c")).await.unwrap().unwrap();
    assert_eq!((got.0.id, got.1), (other, None), "a role without settings at or above the scope");
    assert_eq!(q::get_role_with_settings(&mut c, RoleId::new(), &scope("/a")).await.unwrap(), None);

    // Upsert replaces; delete makes the scope inherit again.
    q::put_settings(&mut c, role, &scope("/a"), &at(100), t(2), None).await.unwrap();
    assert_eq!(q::get_settings_nearest(&mut c, role, &scope("/a/x")).await.unwrap(), Some((scope("/a"), at(100))));
    assert!(q::delete_settings(&mut c, role, &scope("/a")).await.unwrap());
    assert!(!q::delete_settings(&mut c, role, &scope("/a")).await.unwrap());
    assert_eq!(q::get_settings_nearest(&mut c, role, &scope("/a/x")).await.unwrap(), Some((scope("/"), at(60))));

    let all = q::list_settings(&mut c, None).await.unwrap();
    assert_eq!(all.len(), 3);
    let mine = q::list_settings(&mut c, Some(role)).await.unwrap();
    assert_eq!(mine, vec![(role, scope("/"), at(60)), (role, scope("/a/b_c"), at(120))]);

    // A custom role's settings go with it.
    let r = custom("temp");
    q::insert_role(&mut c, &r, t(1)).await.unwrap();
    q::put_settings(&mut c, r.id, &scope("/"), &at(45), t(1), None).await.unwrap();
    assert!(q::delete_role(&mut c, r.id).await.unwrap());
    assert!(q::list_settings(&mut c, Some(r.id)).await.unwrap().is_empty());
});

both!(resources, |db| {
    let mut c = db.conn().await;
    let mk = |s: &str| Resource {
        id: ResourceId::new(),
        scope: scope(s),
        name: format!("name of {s}"),
        kind: "subscription".into(),
        created_at: t(7),
    };
    let scopes = ["/a-b", "/a/b", "/ab", "/a", "/a/b/c", "/x_y", "/xzy/q", "/x_y/z", "/a.b"];
    let mut stored = Vec::new();
    for s in scopes {
        let r = mk(s);
        q::insert_resource(&mut c, &r).await.unwrap();
        stored.push(r);
    }
    assert_eq!(q::get_resource(&mut c, stored[1].id).await.unwrap().as_ref(), Some(&stored[1]));
    assert_eq!(q::get_resource_by_scope(&mut c, &scope("/a/b/c")).await.unwrap().as_ref(), Some(&stored[4]));
    assert_eq!(q::get_resource_by_scope(&mut c, &scope("/nope")).await.unwrap(), None);
    let err = q::insert_resource(&mut c, &mk("/a")).await.unwrap_err();
    assert!(matches!(&err, StoreError::Unique(t) if t == "resources"), "{err:?}");

    let names = |v: Vec<Resource>| v.into_iter().map(|r| r.scope.to_string()).collect::<Vec<_>>();
    let all = names(q::list_resources(&mut c, None, None, 0).await.unwrap());
    assert_eq!(all, ["/a", "/a/b", "/a/b/c", "/a-b", "/a.b", "/ab", "/x_y", "/x_y/z", "/xzy/q"], "tree order");
    let under_a = names(q::list_resources(&mut c, Some(&scope("/a")), None, 0).await.unwrap());
    assert_eq!(under_a, ["/a", "/a/b", "/a/b/c"], "/ab, /a-b and /a.b are not below /a");
    let under_xy = names(q::list_resources(&mut c, Some(&scope("/x_y")), None, 0).await.unwrap());
    assert_eq!(under_xy, ["/x_y", "/x_y/z"], "'_' is literal");
    let root = names(q::list_resources(&mut c, Some(&ScopePath::root()), None, 0).await.unwrap());
    assert_eq!(root, all);
    let page = names(q::list_resources(&mut c, None, Some("/a/b/c"), 3).await.unwrap());
    assert_eq!(page, ["/a-b", "/a.b", "/ab"]);
});
