//! Principals, credentials, memberships.

use super::*;
use pim_store::StoreError;
use pim_store::q::{self, PrincipalFilter};

both!(principal_round_trip_and_update, |db| {
    let mut c = db.conn().await;
    let boss = user("boss");
    add(&mut c, &boss).await;
    let mut alice = user("Alice.Smith");
    alice.email = Some("alice@example.com".into());
    alice.manager_id = Some(boss.id);
    alice.emergency_access = true;
    alice.last_sign_in_at = Some(t(-5));
    add(&mut c, &alice).await;
    let mut sp = principal(PrincipalKind::ServicePrincipal, "deployer");
    sp.description = Some("CI".into());
    sp.enabled = false;
    add(&mut c, &sp).await;

    assert_eq!(q::get_principal(&mut c, alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(q::get_principal(&mut c, sp.id).await.unwrap(), Some(sp.clone()));
    assert_eq!(q::get_principal_by_name(&mut c, "alice.SMITH").await.unwrap(), Some(alice.clone()));
    assert_eq!(q::get_principal(&mut c, PrincipalId::new()).await.unwrap(), None);
    assert_eq!(q::get_principal_by_name(&mut c, "nobody").await.unwrap(), None);

    alice.name = "alice.jones".into();
    alice.display_name = "Alice Jones".into();
    alice.email = None;
    alice.manager_id = None;
    alice.enabled = false;
    alice.emergency_access = false;
    alice.last_sign_in_at = Some(t(1_700_000_000_123));
    alice.updated_at = t(2_000);
    q::update_principal(&mut c, &alice).await.unwrap();
    assert_eq!(q::get_principal(&mut c, alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(q::get_principal_by_name(&mut c, "ALICE.JONES").await.unwrap().map(|p| p.id), Some(alice.id));
    assert_eq!(q::get_principal_by_name(&mut c, "alice.smith").await.unwrap(), None);

    assert_eq!(q::count_principals(&mut c).await.unwrap(), 3);
    assert_eq!(q::count_users(&mut c).await.unwrap(), 2);
});

both!(names_are_unique_across_kinds_case_insensitively, |db| {
    let mut c = db.conn().await;
    add(&mut c, &user("Ops")).await;
    let err = q::insert_principal(&mut c, &group("oPS")).await.unwrap_err();
    assert!(matches!(&err, StoreError::Unique(t) if t == "principals"), "{err:?}");
    // Renaming onto a taken name is refused too.
    let mut other = user("other");
    add(&mut c, &other).await;
    other.name = "OPS".into();
    let err = q::update_principal(&mut c, &other).await.unwrap_err();
    assert!(err.is_unique(), "{err:?}");
});

both!(list_principals_filters_and_pages, |db| {
    let mut c = db.conn().await;
    let names = ["svc_a", "svcxa", "svc_b", "Svc_C", "bob"];
    let mut ids = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let p = if i == 4 { group(n) } else { user(n) };
        ids.push(p.id);
        add(&mut c, &p).await;
    }
    let all = q::list_principals(&mut c, &PrincipalFilter::default()).await.unwrap();
    assert_eq!(all.iter().map(|p| p.id).collect::<Vec<_>>(), ids, "ordered by id (creation order)");

    let f = PrincipalFilter { name_prefix: Some("SVC_".into()), ..Default::default() };
    let got: Vec<_> = q::list_principals(&mut c, &f).await.unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(got, ["svc_a", "svc_b", "Svc_C"], "'_' is literal, the prefix case-insensitive");

    let f = PrincipalFilter { kind: Some(PrincipalKind::Group), ..Default::default() };
    let got: Vec<_> = q::list_principals(&mut c, &f).await.unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(got, ["bob"]);

    let f = PrincipalFilter { kind: Some(PrincipalKind::User), after: Some(ids[1]), limit: 2, ..Default::default() };
    let got: Vec<_> = q::list_principals(&mut c, &f).await.unwrap().into_iter().map(|p| p.id).collect();
    assert_eq!(got, [ids[2], ids[3]]);
});

both!(password_hashes, |db| {
    let mut c = db.conn().await;
    let a = user("a");
    add(&mut c, &a).await;
    assert_eq!(q::get_password_hash(&mut c, a.id).await.unwrap(), None);
    q::set_password_hash(&mut c, a.id, "$argon2id$one", t(1)).await.unwrap();
    q::set_password_hash(&mut c, a.id, "$argon2id$two", t(2)).await.unwrap();
    assert_eq!(q::get_password_hash(&mut c, a.id).await.unwrap().as_deref(), Some("$argon2id$two"));
    let err = q::set_password_hash(&mut c, PrincipalId::new(), "x", t(3)).await.unwrap_err();
    assert!(matches!(err, StoreError::ForeignKey(_)), "{err:?}");
});

both!(memberships, |db| {
    let mut c = db.conn().await;
    let (g, h, u, v) = (group("g"), group("h"), user("u"), user("v"));
    for p in [&g, &h, &u, &v] {
        add(&mut c, p).await;
    }
    assert!(q::add_member(&mut c, g.id, u.id, t(1)).await.unwrap());
    assert!(!q::add_member(&mut c, g.id, u.id, t(2)).await.unwrap(), "already a member");
    assert!(q::add_member(&mut c, g.id, v.id, t(1)).await.unwrap());
    assert!(q::add_member(&mut c, g.id, h.id, t(1)).await.unwrap());
    assert!(q::add_member(&mut c, h.id, u.id, t(1)).await.unwrap());

    let mut want = vec![h.id, u.id, v.id];
    want.sort();
    assert_eq!(q::list_members(&mut c, g.id).await.unwrap(), want);
    assert_eq!(q::list_groups_of(&mut c, u.id).await.unwrap(), vec![g.id, h.id]);
    assert_eq!(q::all_memberships(&mut c).await.unwrap().len(), 4);

    assert!(q::remove_member(&mut c, g.id, u.id).await.unwrap());
    assert!(!q::remove_member(&mut c, g.id, u.id).await.unwrap());
    assert_eq!(q::list_groups_of(&mut c, u.id).await.unwrap(), vec![h.id]);
    let err = q::add_member(&mut c, g.id, PrincipalId::new(), t(1)).await.unwrap_err();
    assert!(matches!(err, StoreError::ForeignKey(_)), "{err:?}");
});

both!(the_index_reads_of_principals_and_memberships_equal_the_pooled_ones, |db| {
    use pim_store::IndexPrincipalRow;
    let mut c = db.conn().await;
    let mut groups = Vec::new();
    for i in 0..20 {
        let mut p = if i % 4 == 0 { group(&format!("g{i}")) } else { user(&format!("U{i}")) };
        p.enabled = i % 3 != 0;
        add(&mut c, &p).await;
        if p.kind == PrincipalKind::Group {
            groups.push(p.id);
        } else {
            for g in &groups {
                q::add_member(&mut c, *g, p.id, t(1)).await.unwrap();
            }
        }
    }
    let principals: Vec<IndexPrincipalRow> =
        q::all_principals(&mut c).await.unwrap().iter().map(IndexPrincipalRow::from).collect();
    let memberships = q::all_memberships(&mut c).await.unwrap();
    drop(c);
    assert!(principals.iter().any(|p| !p.enabled) && principals.iter().any(|p| p.enabled));
    assert!(memberships.len() > 20, "{}", memberships.len());
    assert_eq!(db.store.principals_for_index().await.unwrap(), principals);
    assert_eq!(db.store.memberships_for_index().await.unwrap(), memberships);
});

both!(principals_read_in_bulk, |db| {
    // 2,001 known ids (two statements), an unknown one and a repeated one.
    let mut c = db.conn().await;
    let mut known = Vec::new();
    for i in 0..2_001 {
        let mut p = user(&format!("bulk{i}"));
        p.email = Some(format!("bulk{i}@example.com"));
        add(&mut c, &p).await;
        known.push(p);
    }
    let mut ids: Vec<_> = known.iter().map(|p| p.id).collect();
    ids.push(PrincipalId::new());
    ids.push(known[7].id);
    let mut got = q::get_principals(&mut c, &ids).await.unwrap();
    got.sort_by_key(|p| p.id);
    got.dedup_by_key(|p| p.id);
    known.sort_by_key(|p| p.id);
    assert_eq!(got, known);
    assert!(q::get_principals(&mut c, &[]).await.unwrap().is_empty());
    assert!(q::get_principals(&mut c, &[PrincipalId::new()]).await.unwrap().is_empty());
});
