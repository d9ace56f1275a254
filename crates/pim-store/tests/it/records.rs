//! Assignments, requests, tokens, meta.

use super::*;
use pim_store::StoreError;
use pim_store::q::{self, AssignmentFilter, RequestFilter};

const OWNER: RoleId = pim_domain::role::OWNER;
const READER: RoleId = pim_domain::role::READER;

fn win(start: i64, end: Option<i64>) -> Window {
    Window { start: t(start), end: end.map(t) }
}

both!(assignment_round_trip_and_update, |db| {
    let mut c = db.conn().await;
    let u = user("u");
    add(&mut c, &u).await;
    drop(c);
    let elig = assign(&db.store, &u, OWNER, "/a", AssignmentKind::Eligible, win(100, None)).await;

    // An activation of it, created with its request in one transaction.
    let mut req = request_for(&u, OWNER, "/a/b", AssignmentKind::Active, win(200, Some(300)));
    req.action = RequestAction::SelfActivate;
    req.eligibility = Some(elig.id);
    let mut act = assignment_for(&u, &req);
    act.activated_from = Some(elig.id);
    req.target_assignment = Some(act.id);
    let mut tx = db.store.write(t(200)).await.unwrap();
    // Assignment first, request second: the request <-> assignment references are checked at commit.
    q::insert_assignment(tx.conn(), &act).await.unwrap();
    q::insert_request(tx.conn(), &req).await.unwrap();
    tx.commit().await.unwrap();

    let mut c = db.conn().await;
    assert_eq!(q::get_assignment(&mut c, elig.id).await.unwrap().as_ref(), Some(&elig));
    assert_eq!(q::get_assignment(&mut c, act.id).await.unwrap().as_ref(), Some(&act));
    assert_eq!(q::get_assignment(&mut c, AssignmentId::new()).await.unwrap(), None);

    act.window = win(200, Some(250));
    act.ended_early_at = Some(t(250));
    q::update_assignment(&mut c, &act).await.unwrap();
    assert_eq!(q::get_assignment(&mut c, act.id).await.unwrap().as_ref(), Some(&act));

    let f = AssignmentFilter { activated_from: Some(elig.id), ..Default::default() };
    assert_eq!(q::list_assignments(&mut c, &f).await.unwrap(), vec![act.clone()]);
});

both!(assignment_to_a_missing_request_fails_at_commit, |db| {
    let mut c = db.conn().await;
    let u = user("u");
    add(&mut c, &u).await;
    drop(c);
    let req = request_for(&u, OWNER, "/", AssignmentKind::Active, win(1, None));
    let a = assignment_for(&u, &req);
    let mut tx = db.store.write(t(1)).await.unwrap();
    q::insert_assignment(tx.conn(), &a).await.unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, StoreError::ForeignKey(_)), "{err:?}");
    let mut c = db.conn().await;
    assert_eq!(q::get_assignment(&mut c, a.id).await.unwrap(), None);
});

both!(assignment_filters, |db| {
    let mut c = db.conn().await;
    let (u, v, g) = (user("u"), user("v"), group("g"));
    for p in [&u, &v, &g] {
        add(&mut c, p).await;
    }
    drop(c);
    let s = &db.store;
    use AssignmentKind::{Active, Eligible};
    let a1 = assign(s, &u, OWNER, "/a", Eligible, win(0, None)).await;
    let a2 = assign(s, &u, READER, "/a/b_c", Active, win(0, Some(100))).await;
    let a3 = assign(s, &v, OWNER, "/ab", Active, win(50, Some(500))).await;
    let a4 = assign(s, &g, READER, "/", Active, win(0, None)).await;
    let a5 = assign(s, &v, OWNER, "/a/bxc/d", Eligible, win(0, Some(10))).await;
    let a6 = assign(s, &u, OWNER, "/a_b", Active, win(0, None)).await;

    let mut c = db.conn().await;
    let ids = |v: Vec<Assignment>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    let mut list = async |f: AssignmentFilter| ids(q::list_assignments(&mut c, &f).await.unwrap());

    assert_eq!(list(AssignmentFilter::default()).await, [a1.id, a2.id, a3.id, a4.id, a5.id, a6.id]);
    assert_eq!(list(AssignmentFilter { principal: Some(u.id), ..Default::default() }).await, [a1.id, a2.id, a6.id]);
    assert_eq!(
        list(AssignmentFilter { principals: Some(vec![v.id, g.id]), ..Default::default() }).await,
        [a3.id, a4.id, a5.id]
    );
    assert_eq!(list(AssignmentFilter { principals: Some(vec![]), ..Default::default() }).await, []);
    assert_eq!(list(AssignmentFilter { role: Some(READER), ..Default::default() }).await, [a2.id, a4.id]);
    assert_eq!(list(AssignmentFilter { scope: Some(scope("/a")), ..Default::default() }).await, [a1.id]);
    // Under /a: not /ab, not /a_b.
    assert_eq!(list(AssignmentFilter { under: Some(scope("/a")), ..Default::default() }).await, [a1.id, a2.id, a5.id]);
    // Under /a/b_c: '_' is not a wildcard, so /a/bxc/d is not below it.
    assert_eq!(list(AssignmentFilter { under: Some(scope("/a/b_c")), ..Default::default() }).await, [a2.id]);
    assert_eq!(list(AssignmentFilter { under: Some(ScopePath::root()), ..Default::default() }).await.len(), 6);
    // In force at /a/b_c/x: assignments at /, /a, /a/b_c.
    assert_eq!(
        list(AssignmentFilter { containing: Some(scope("/a/b_c/x")), ..Default::default() }).await,
        [a1.id, a2.id, a4.id]
    );
    assert_eq!(list(AssignmentFilter { kind: Some(Eligible), ..Default::default() }).await, [a1.id, a5.id]);
    // Not ended at 100: permanent ones and a3 (ends 500); a2 ends exactly at 100, so it has ended.
    assert_eq!(
        list(AssignmentFilter { not_ended_at: Some(t(100)), ..Default::default() }).await,
        [a1.id, a3.id, a4.id, a6.id]
    );
    assert_eq!(list(AssignmentFilter { ended_before: Some(t(100)), ..Default::default() }).await, [a2.id, a5.id]);
    assert_eq!(
        list(AssignmentFilter { principal: Some(v.id), role: Some(OWNER), kind: Some(Active), ..Default::default() })
            .await,
        [a3.id]
    );
    assert_eq!(list(AssignmentFilter { after: Some(a2.id), limit: 2, ..Default::default() }).await, [a3.id, a4.id]);

    // Current at 100 (what loads the access index).
    let current = ids(q::all_current_assignments(&mut c, t(100)).await.unwrap());
    assert_eq!(current, [a1.id, a3.id, a4.id, a6.id]);
});

both!(expirations_are_reported_until_recorded, |db| {
    let mut c = db.conn().await;
    let u = user("u");
    add(&mut c, &u).await;
    drop(c);
    let a = assign(&db.store, &u, OWNER, "/", AssignmentKind::Active, win(0, Some(100))).await;
    let b = assign(&db.store, &u, READER, "/", AssignmentKind::Active, win(0, Some(50))).await;
    let _p = assign(&db.store, &u, READER, "/x", AssignmentKind::Active, win(0, None)).await;
    let mut c = db.conn().await;
    let ids = |v: Vec<Assignment>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(ids(q::unrecorded_expirations(&mut c, t(49), 10).await.unwrap()), []);
    assert_eq!(ids(q::unrecorded_expirations(&mut c, t(100), 10).await.unwrap()), [b.id, a.id], "oldest end first");
    assert_eq!(ids(q::unrecorded_expirations(&mut c, t(100), 1).await.unwrap()), [b.id]);
    q::mark_expiry_recorded(&mut c, b.id).await.unwrap();
    assert_eq!(ids(q::unrecorded_expirations(&mut c, t(100), 10).await.unwrap()), [a.id]);
    // Moving the end of a recorded expiry makes it due again once the new end passes.
    let mut b2 = b.clone();
    b2.window.end = Some(t(200));
    q::update_assignment(&mut c, &b2).await.unwrap();
    assert_eq!(ids(q::unrecorded_expirations(&mut c, t(150), 10).await.unwrap()), [a.id]);
    assert_eq!(ids(q::unrecorded_expirations(&mut c, t(200), 10).await.unwrap()), [a.id, b.id]);
    // Changing only ended_early_at keeps the flag.
    q::mark_expiry_recorded(&mut c, a.id).await.unwrap();
    let mut a2 = a.clone();
    a2.ended_early_at = Some(t(90));
    q::update_assignment(&mut c, &a2).await.unwrap();
    assert_eq!(ids(q::unrecorded_expirations(&mut c, t(200), 10).await.unwrap()), [b.id]);
});

both!(expirations_after_a_cursor, |db| {
    let mut c = db.conn().await;
    let u = user("u");
    add(&mut c, &u).await;
    drop(c);
    let mut same = Vec::new();
    for _ in 0..3 {
        same.push(assign(&db.store, &u, READER, "/", AssignmentKind::Active, win(0, Some(100))).await.id);
    }
    same.sort();
    let early = assign(&db.store, &u, OWNER, "/", AssignmentKind::Active, win(0, Some(50))).await.id;
    let mut c = db.conn().await;
    let ids = |v: Vec<Assignment>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    let all = ids(q::unrecorded_expirations_after(&mut c, t(100), None, 10).await.unwrap());
    assert_eq!(all, [early, same[0], same[1], same[2]], "by end, then by id");
    // After a cursor: the rest of the same end (by id), and from an earlier end everything later.
    let after = |end, id| Some((t(end), id));
    assert_eq!(ids(q::unrecorded_expirations_after(&mut c, t(100), after(100, same[0]), 10).await.unwrap()), same[1..]);
    assert_eq!(ids(q::unrecorded_expirations_after(&mut c, t(100), after(50, early), 2).await.unwrap()), same[..2]);
    assert_eq!(ids(q::unrecorded_expirations_after(&mut c, t(100), after(100, same[2]), 10).await.unwrap()), []);
    // Still only what has ended and is unrecorded.
    q::mark_expiry_recorded(&mut c, same[1]).await.unwrap();
    assert_eq!(
        ids(q::unrecorded_expirations_after(&mut c, t(100), after(50, early), 10).await.unwrap()),
        [same[0], same[2]]
    );
    assert_eq!(ids(q::unrecorded_expirations_after(&mut c, t(99), after(50, early), 10).await.unwrap()), []);
});

/// PostgreSQL: the version (`xmin`) of an assignment's row, which any update of it changes.
async fn row_version(c: &mut pim_store::AnyConnection, id: AssignmentId) -> String {
    let sql = "SELECT xmin::text FROM assignments WHERE id = $1";
    sqlx::query_scalar(sql).bind(id.to_string()).fetch_one(&mut *c).await.unwrap()
}

both!(unrecorded_ends_follow_every_write_of_assignments, |db| {
    // Migration 0020: the ends not recorded are rows of their own table, kept by triggers.
    let mut c = db.conn().await;
    let u = user("u");
    add(&mut c, &u).await;
    drop(c);
    // Many in one statement (the trigger of a multi-row insert), and one that is permanent.
    let rows: Vec<(Request, Assignment)> = (0..40)
        .map(|i| {
            let r = request_for(&u, READER, &format!("/m{i}"), AssignmentKind::Active, win(0, Some(100 + i)));
            let a = assignment_for(&u, &r);
            (r, a)
        })
        .collect();
    let mut tx = db.store.write(t(0)).await.unwrap();
    let requests: Vec<Request> = rows.iter().map(|(r, _)| r.clone()).collect();
    let many: Vec<Assignment> = rows.iter().map(|(_, a)| a.clone()).collect();
    q::insert_requests(tx.conn(), &requests).await.unwrap();
    q::insert_assignments(tx.conn(), &many).await.unwrap();
    tx.commit().await.unwrap();
    let _p = assign(&db.store, &u, READER, "/p", AssignmentKind::Active, win(0, None)).await;
    let mut c = db.conn().await;
    assert_eq!(q::count_unrecorded_ends(&mut c).await.unwrap(), 40, "one per end, none for the permanent one");
    let ids = |v: Vec<Assignment>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(ids(q::unrecorded_expirations(&mut c, t(105), 0).await.unwrap()), ids(many[..6].to_vec()));

    // Recording leaves the assignment's row as it was (on PostgreSQL: the same row version, so no
    // index of `assignments` gets an entry).
    let postgres = db.store.backend() == pim_store::Backend::Postgres;
    let before = if postgres { Some(row_version(&mut c, many[0].id).await) } else { None };
    let stored = q::get_assignment(&mut c, many[0].id).await.unwrap();
    q::mark_expiries_recorded(&mut c, &[many[0].id, many[1].id]).await.unwrap();
    assert_eq!(q::get_assignment(&mut c, many[0].id).await.unwrap(), stored);
    if postgres {
        assert_eq!(Some(row_version(&mut c, many[0].id).await), before, "the mark did not write the assignment");
    }
    assert_eq!(q::count_unrecorded_ends(&mut c).await.unwrap(), 38);
    assert_eq!(ids(q::unrecorded_expirations(&mut c, t(105), 0).await.unwrap()), ids(many[2..6].to_vec()));

    // A permanent end is never due; given an end again, it is due once that passes.
    let mut a = many[2].clone();
    a.window.end = None;
    q::update_assignment(&mut c, &a).await.unwrap();
    assert_eq!(ids(q::unrecorded_expirations(&mut c, t(105), 0).await.unwrap()), ids(many[3..6].to_vec()));
    a.window.end = Some(t(50));
    q::update_assignment(&mut c, &a).await.unwrap();
    assert_eq!(ids(q::unrecorded_expirations(&mut c, t(100), 0).await.unwrap()), [a.id]);
    assert_eq!(q::next_unrecorded_end(&mut c, t(0)).await.unwrap(), Some(t(50)));

    // A deleted assignment leaves nothing behind.
    let gone = many[3].id;
    sqlx::query("DELETE FROM assignments WHERE id = $1").bind(gone.to_string()).execute(&mut *c).await.unwrap();
    assert_eq!(q::count_unrecorded_ends(&mut c).await.unwrap(), 37);
    assert!(!ids(q::unrecorded_expirations(&mut c, t(200), 0).await.unwrap()).contains(&gone));
});

both!(requests_round_trip_and_filters, |db| {
    let mut c = db.conn().await;
    let (u, admin) = (user("u"), user("admin"));
    add(&mut c, &u).await;
    add(&mut c, &admin).await;
    drop(c);
    let elig = assign(&db.store, &u, OWNER, "/a", AssignmentKind::Eligible, win(0, None)).await;

    let mut r1 = request_for(&u, OWNER, "/a", AssignmentKind::Active, win(10, Some(20)));
    r1.action = RequestAction::SelfActivate;
    r1.status = RequestStatus::PendingApproval;
    r1.justification = Some("incident 42\nsecond line".into());
    r1.ticket = Some(Ticket { system: "jira".into(), number: "OPS-1".into() });
    r1.eligibility = Some(elig.id);
    let mut r2 = request_for(&u, READER, "/", AssignmentKind::Eligible, win(10, None));
    r2.requested_by = admin.id;
    r2.status = RequestStatus::Denied;
    r2.status_reason = Some("no".into());
    let mut r3 = request_for(&u, OWNER, "/a", AssignmentKind::Eligible, win(30, None));
    r3.action = RequestAction::AdminRemove;
    r3.target_assignment = Some(elig.id);
    let mut c = db.conn().await;
    for r in [&r1, &r2, &r3] {
        q::insert_request(&mut c, r).await.unwrap();
    }
    assert_eq!(q::get_request(&mut c, r1.id).await.unwrap().as_ref(), Some(&r1));
    assert_eq!(q::get_request(&mut c, r2.id).await.unwrap().as_ref(), Some(&r2));
    assert_eq!(q::get_request(&mut c, RequestId::new()).await.unwrap(), None);

    r1.status = RequestStatus::Provisioned;
    r1.window = win(15, Some(25));
    r1.updated_at = t(15);
    r1.ticket = None;
    r1.status_reason = Some("approved by admin".into());
    q::update_request(&mut c, &r1).await.unwrap();
    assert_eq!(q::get_request(&mut c, r1.id).await.unwrap().as_ref(), Some(&r1));

    let all = q::list_requests(&mut c, &RequestFilter::default()).await.unwrap();
    let all: Vec<_> = all.into_iter().map(|r| r.id).collect();
    let elig_req = all[0]; // the request that created the eligibility
    let ids = |v: Vec<Request>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let mut list = async |f: RequestFilter| ids(q::list_requests(&mut c, &f).await.unwrap());
    assert_eq!(all, [elig_req, r1.id, r2.id, r3.id]);
    assert_eq!(list(RequestFilter { requested_by: Some(admin.id), ..Default::default() }).await, [r2.id]);
    assert_eq!(list(RequestFilter { principal: Some(u.id), limit: 2, ..Default::default() }).await, [elig_req, r1.id]);
    assert_eq!(list(RequestFilter { status: Some(RequestStatus::Denied), ..Default::default() }).await, [r2.id]);
    let statuses = Some(vec![RequestStatus::Denied, RequestStatus::Provisioned]);
    assert_eq!(list(RequestFilter { statuses, ..Default::default() }).await, [elig_req, r1.id, r2.id, r3.id]);
    assert_eq!(list(RequestFilter { statuses: Some(vec![]), ..Default::default() }).await, []);
    assert_eq!(list(RequestFilter { action: Some(RequestAction::AdminRemove), ..Default::default() }).await, [r3.id]);
    assert_eq!(list(RequestFilter { role: Some(READER), ..Default::default() }).await, [r2.id]);
    assert_eq!(list(RequestFilter { target_assignment: Some(elig.id), ..Default::default() }).await, [r3.id]);
    assert_eq!(list(RequestFilter { eligibility: Some(elig.id), ..Default::default() }).await, [r1.id]);
    assert_eq!(list(RequestFilter { descending: true, ..Default::default() }).await, [r3.id, r2.id, r1.id, elig_req]);
    assert_eq!(
        list(RequestFilter { descending: true, after: Some(r2.id), ..Default::default() }).await,
        [r1.id, elig_req]
    );
    assert_eq!(list(RequestFilter { after: Some(r1.id), ..Default::default() }).await, [r2.id, r3.id]);
});

both!(tokens, |db| {
    let mut c = db.conn().await;
    let (u, sp) = (user("u"), principal(PrincipalKind::ServicePrincipal, "sp"));
    add(&mut c, &u).await;
    add(&mut c, &sp).await;
    let tok = |p: &Principal, name: &str| ApiToken {
        id: TokenId::new(),
        principal_id: p.id,
        name: name.into(),
        created_at: t(1),
        expires_at: t(1_000),
        revoked_at: None,
        last_used_at: None,
        mfa_at: None,
    };
    let (t1, t2, t3) = (tok(&u, "cli"), tok(&sp, "deploy"), tok(&u, "laptop"));
    q::insert_token(&mut c, &t1, "hash-1").await.unwrap();
    q::insert_token(&mut c, &t2, "hash-2").await.unwrap();
    q::insert_token(&mut c, &t3, "hash-3").await.unwrap();
    let err = q::insert_token(&mut c, &tok(&u, "dup"), "hash-1").await.unwrap_err();
    assert!(matches!(&err, StoreError::Unique(t) if t == "api_tokens"), "{err:?}");

    assert_eq!(q::get_token_by_hash(&mut c, "hash-2").await.unwrap().as_ref(), Some(&t2));
    assert_eq!(q::get_token_by_hash(&mut c, "hash-9").await.unwrap(), None);
    assert_eq!(q::get_token(&mut c, t1.id).await.unwrap().as_ref(), Some(&t1));
    assert_eq!(q::list_tokens(&mut c, Some(u.id)).await.unwrap(), vec![t1.clone(), t3.clone()]);
    assert_eq!(q::list_tokens(&mut c, None).await.unwrap().len(), 3);

    q::touch_token(&mut c, t1.id, t(50)).await.unwrap();
    assert!(q::revoke_token(&mut c, t1.id, t(60)).await.unwrap());
    assert!(!q::revoke_token(&mut c, t1.id, t(70)).await.unwrap(), "already revoked");
    assert!(!q::revoke_token(&mut c, TokenId::new(), t(70)).await.unwrap());
    let got = q::get_token(&mut c, t1.id).await.unwrap().unwrap();
    assert_eq!((got.last_used_at, got.revoked_at), (Some(t(50)), Some(t(60))));
    assert!(!got.is_valid(t(61)));
});

both!(meta, |db| {
    let mut c = db.conn().await;
    assert_eq!(q::get_meta(&mut c, "setup.completed").await.unwrap(), None);
    q::set_meta(&mut c, "setup.completed", "no").await.unwrap();
    q::set_meta(&mut c, "setup.completed", "yes").await.unwrap();
    assert_eq!(q::get_meta(&mut c, "setup.completed").await.unwrap().as_deref(), Some("yes"));
});

both!(the_change_feed_is_ordered_and_prunable, |db| {
    let mut c = db.conn().await;
    assert_eq!(q::last_change_seq(&mut c).await.unwrap(), 0);
    q::record_change(&mut c, "principal", "a", Timestamp(10)).await.unwrap();
    q::record_change(&mut c, "role", "b", Timestamp(20)).await.unwrap();
    q::record_change(&mut c, "assignment", "c", Timestamp(30)).await.unwrap();
    let all = q::changes_after(&mut c, 0, 10).await.unwrap();
    assert_eq!(all.iter().map(|r| r.entity.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let last = q::last_change_seq(&mut c).await.unwrap();
    assert_eq!(last, all[2].seq);
    let after_first = q::changes_after(&mut c, all[0].seq, 1).await.unwrap();
    assert_eq!(after_first.len(), 1);
    assert_eq!(after_first[0].kind, "role");
    assert_eq!(q::prune_changes(&mut c, Timestamp(25)).await.unwrap(), 2);
    assert_eq!(q::changes_after(&mut c, 0, 10).await.unwrap().len(), 1);
});

both!(the_index_read_in_chunks_equals_the_one_ordered_read, |db| {
    use pim_store::IndexAssignment;
    let mut c = db.conn().await;
    let u = user("u");
    let g = group("g");
    add(&mut c, &u).await;
    add(&mut c, &g).await;
    drop(c);
    // Enough assignments to fill several table blocks on PostgreSQL and many rowid ranges on SQLite,
    // of both kinds, permanent, ending, ended (left out) and ended early.
    let mut tx = db.store.write(t(0)).await.unwrap();
    for i in 0..200i64 {
        let p = if i % 3 == 0 { &g } else { &u };
        let kind = if i % 2 == 0 { AssignmentKind::Active } else { AssignmentKind::Eligible };
        let end = match i % 4 {
            0 => None,
            1 => Some(50 + i),
            _ => Some(1000 + i),
        };
        let req = request_for(
            p,
            if i % 5 == 0 { OWNER } else { READER },
            &format!("/s{}/x{}", i % 7, i % 3),
            kind,
            win(i, end),
        );
        let mut a = assignment_for(p, &req);
        if i % 11 == 0 {
            a.ended_early_at = Some(t(150 + i));
        }
        q::insert_request(tx.conn(), &req).await.unwrap();
        q::insert_assignment(tx.conn(), &a).await.unwrap();
    }
    tx.commit().await.unwrap();
    // One id in capitals (a hand-edited row): still read, and sorted as a UUID.
    let mut c = db.conn().await;
    let first = q::all_current_assignments(&mut c, t(100)).await.unwrap()[0].id;
    let upper = first.to_string().to_uppercase();
    sqlx::query("UPDATE assignments SET id = $1 WHERE id = $2")
        .bind(&upper)
        .bind(first.to_string())
        .execute(&mut *c)
        .await
        .unwrap();
    // Holes (deleted rows: gaps in SQLite's rowids) and moved rows (an updated row is a new version
    // in another block on PostgreSQL): each row is still read exactly once.
    sqlx::query("DELETE FROM assignments WHERE start_at % 13 = 5 AND id <> $1")
        .bind(&upper)
        .execute(&mut *c)
        .await
        .unwrap();
    sqlx::query("UPDATE assignments SET end_at = end_at + 1 WHERE start_at % 7 = 3 AND end_at IS NOT NULL")
        .execute(&mut *c)
        .await
        .unwrap();
    let mut old: Vec<IndexAssignment> =
        q::all_current_assignments(&mut c, t(100)).await.unwrap().into_iter().map(IndexAssignment::from).collect();
    drop(c);
    // The ordered read sorts the capitalised id as text; the index read sorts by UUID.
    old.sort_by_key(|a| a.id);
    assert!(old.len() > 100 && old.len() < 200, "ended ones are left out: {}", old.len());
    assert!(old.iter().any(|a| a.id == first));
    assert!(old.iter().any(|a| a.ended_early_at.is_some()));
    for chunks in [0, 1, 2, 3, 5, 16, 40] {
        let new = db.store.current_assignments_for_index(t(100), chunks).await.unwrap();
        assert_eq!(new, old, "{chunks} chunks");
    }
});

both!(the_index_read_reports_a_malformed_id_instead_of_skipping_it, |db| {
    let mut c = db.conn().await;
    let u = user("u");
    add(&mut c, &u).await;
    drop(c);
    let a = assign(&db.store, &u, OWNER, "/", AssignmentKind::Active, win(0, None)).await;
    let mut c = db.conn().await;
    sqlx::query("UPDATE assignments SET id = 'not-a-uuid' WHERE id = $1")
        .bind(a.id.to_string())
        .execute(&mut *c)
        .await
        .unwrap();
    drop(c);
    for chunks in [1, 2, 16] {
        let err = db.store.current_assignments_for_index(t(1), chunks).await.unwrap_err();
        assert!(matches!(&err, StoreError::Corrupt(m) if m.contains("id")), "{chunks} chunks: {err:?}");
    }
});

both!(expiries_marked_in_bulk_and_the_next_end, |db| {
    let mut c = db.conn().await;
    let u = user("u");
    add(&mut c, &u).await;
    drop(c);
    // 250 ended (several IN lists on both backends), two ending later, one permanent.
    let mut ended = Vec::new();
    for i in 0..250 {
        ended
            .push(assign(&db.store, &u, READER, &format!("/e{i}"), AssignmentKind::Active, win(0, Some(100))).await.id);
    }
    let later = assign(&db.store, &u, READER, "/later", AssignmentKind::Active, win(0, Some(300))).await;
    let _sooner = assign(&db.store, &u, READER, "/sooner", AssignmentKind::Active, win(0, Some(200))).await;
    let _p = assign(&db.store, &u, READER, "/p", AssignmentKind::Active, win(0, None)).await;
    let mut c = db.conn().await;
    assert_eq!(q::next_unrecorded_end(&mut c, t(99)).await.unwrap(), Some(t(100)));
    assert_eq!(q::next_unrecorded_end(&mut c, t(100)).await.unwrap(), Some(t(200)), "strictly after now");
    assert_eq!(q::next_unrecorded_end(&mut c, t(300)).await.unwrap(), None);
    assert_eq!(q::unrecorded_expirations(&mut c, t(100), 0).await.unwrap().len(), 250);
    q::mark_expiries_recorded(&mut c, &ended[..249]).await.unwrap();
    q::mark_expiries_recorded(&mut c, &[]).await.unwrap();
    let left: Vec<_> = q::unrecorded_expirations(&mut c, t(100), 0).await.unwrap().into_iter().map(|a| a.id).collect();
    assert_eq!(left, [ended[249]]);
    q::mark_expiries_recorded(&mut c, &[later.id]).await.unwrap();
    assert_eq!(q::next_unrecorded_end(&mut c, t(250)).await.unwrap(), None, "a recorded end is no wake-up");
});

both!(requests_and_assignments_inserted_for_later_are_written_in_one_go, |db| {
    let mut c = db.conn().await;
    let alice = user("alice");
    let bob = user("bob");
    add(&mut c, &alice).await;
    add(&mut c, &bob).await;
    drop(c);
    let mk = |p: &Principal, at: &str| {
        let r = request_for(p, OWNER, at, AssignmentKind::Active, win(10, Some(100)));
        let a = assignment_for(p, &r);
        (r, a)
    };
    // Many rows per statement: more than one chunk on both backends.
    let bulk: Vec<(Request, Assignment)> = (0..130).map(|i| mk(&alice, &format!("/bulk/{i}"))).collect();
    let (r1, a1) = mk(&alice, "/a");
    let (r2, a2) = mk(&bob, "/b");
    let (r3, a3) = mk(&bob, "/c");
    let mut tx = db.store.write(t(10)).await.unwrap();
    let requests: Vec<Request> = bulk.iter().map(|(r, _)| r.clone()).collect();
    let assignments: Vec<Assignment> = bulk.iter().map(|(_, a)| a.clone()).collect();
    q::insert_requests(tx.conn(), &requests).await.unwrap();
    q::insert_assignments(tx.conn(), &assignments).await.unwrap();
    tx.insert_later(r1.clone(), Some(a1.clone()));
    assert!(tx.has_later_rows_of(alice.id));
    assert!(!tx.has_later_rows_of(bob.id));
    // Not in the database yet, even for the transaction's own statements.
    assert_eq!(q::get_request(tx.conn(), r1.id).await.unwrap(), None);
    tx.write_later_rows().await.unwrap();
    assert!(!tx.has_later_rows_of(alice.id), "written");
    assert_eq!(q::get_request(tx.conn(), r1.id).await.unwrap().as_ref(), Some(&r1));
    // Rows written after a savepoint that is rolled back are unwritten again, not lost.
    tx.insert_later(r2.clone(), Some(a2.clone()));
    let sp = tx.savepoint().await.unwrap();
    tx.write_later_rows().await.unwrap();
    tx.insert_later(r3.clone(), Some(a3.clone()));
    tx.rollback_to(sp).await.unwrap();
    assert!(tx.has_later_rows_of(bob.id), "r2 is to be written again, r3 is undone");
    tx.commit().await.unwrap();
    let mut c = db.conn().await;
    let mut stored = bulk.clone();
    stored.push((r1, a1));
    stored.push((r2, a2));
    for (r, a) in &stored {
        assert_eq!(q::get_request(&mut c, r.id).await.unwrap().as_ref(), Some(r));
        assert_eq!(q::get_assignment(&mut c, a.id).await.unwrap().as_ref(), Some(a));
    }
    assert_eq!(q::get_request(&mut c, r3.id).await.unwrap(), None);
    assert_eq!(q::get_assignment(&mut c, a3.id).await.unwrap(), None);
    let f = AssignmentFilter { principal: Some(alice.id), ..Default::default() };
    assert_eq!(q::list_assignments(&mut c, &f).await.unwrap().len(), 131);
});

both!(the_batch_read_of_assignments_probes_one_index_per_key_before_any_statistics, |db| {
    // Group commit reads the current assignments of its requesters (and their groups) for each
    // activation's role at its scope and the ancestors (`prefetch.rs`). On a table grown fast and
    // never analysed, PostgreSQL answered the `IN`-list form of that read with a bitmap AND of the
    // principal index and the role, reading every row of the role. Here 15,000 rows of one role
    // over 8 principals (as after two bench rounds), no ANALYZE: each key must be an index probe.
    if db.store.backend() == pim_store::Backend::Postgres {
        let mut c = db.conn().await;
        sqlx::query("ALTER TABLE assignments SET (autovacuum_enabled = false)").execute(&mut *c).await.unwrap();
    }
    let role = RoleId::new();
    let users: Vec<Principal> = (0..8).map(|i| user(&format!("u{i}"))).collect();
    let w = Window { start: t(1_000), end: Some(t(10_000_000)) };
    let mut tx = db.store.write(t(1_000)).await.unwrap();
    let (mut requests, mut assignments) = (Vec::new(), Vec::new());
    let mut row = |u: &Principal, role: RoleId, at: &str, w: Window| {
        let r = request_for(u, role, at, AssignmentKind::Active, w);
        assignments.push(assignment_for(u, &r));
        requests.push(r);
        assignments.last().unwrap().clone()
    };
    for u in &users {
        add(tx.conn(), u).await;
        for k in 0..1_875 {
            row(u, role, &format!("/d/{}/s{k}", u.name), w);
        }
    }
    // At a key: found; ended, of another role, or of another principal at the scope: not.
    let wanted = row(&users[3], role, "/d/u3", w);
    row(&users[3], role, "/d", Window { start: t(1_000), end: Some(t(1_500)) });
    row(&users[3], RoleId::new(), "/d/u3", w);
    row(&users[4], role, "/d/u3", w);
    q::insert_requests(tx.conn(), &requests).await.unwrap();
    q::insert_assignments(tx.conn(), &assignments).await.unwrap();
    tx.commit().await.unwrap();

    let keys: Vec<q::AssignmentKey> = users
        .iter()
        .flat_map(|u| {
            scope(&format!("/d/{}/new", u.name)).self_and_ancestors().into_iter().map(move |at| (u.id, role, at))
        })
        .collect();
    let mut c = db.conn().await;
    let plan = q::explain_current_assignments_at(&mut c, &keys, t(2_000)).await.unwrap();
    assert!(plan.contains("assignments_role_scope_principal"), "{plan}");
    assert!(!plan.contains("BitmapAnd") && !plan.contains("Seq Scan"), "{plan}");
    let got = q::current_assignments_at(&mut c, &keys, t(2_000)).await.unwrap();
    assert_eq!(got, vec![wanted]);
});
