//! The hash-chained audit log: appending, listing, verifying, tampering, rollback.

use super::*;
use pim_store::q::{self, AuditFilter};
use pim_store::{GENESIS_HASH, ProblemKind, VerifyReport, event_hash};

/// An event to write: action, scope, error code.
type Ev = (&'static str, Option<&'static str>, Option<&'static str>);

struct Chain {
    actor: Principal,
    target: Principal,
    events: Vec<AuditEvent>,
}

/// Six events over three transactions.
async fn chain(db: &TestDb) -> Chain {
    let mut c = db.conn().await;
    let (actor, target) = (user("actor"), user("target"));
    add(&mut c, &actor).await;
    add(&mut c, &target).await;
    drop(c);
    let draft = |action: &str, sc: Option<&str>, err: Option<&str>| AuditDraft {
        action: action.into(),
        error_code: err.map(Into::into),
        actor_id: Some(actor.id),
        actor_name: Some(actor.name.clone()),
        principal_id: Some(target.id),
        role_id: Some(pim_domain::role::OWNER),
        scope: sc.map(scope),
        justification: Some("because".into()),
        ticket: Some("jira:OPS-1".into()),
        request_id: Some(RequestId::new()),
        http_request_id: Some("req-1".into()),
        client_addr: Some("127.0.0.1".into()),
        details: serde_json::json!({"b": 1, "a": [true, null, "x"], "n": 1.5}),
    };
    let batches: [&[Ev]; 3] = [
        &[("request.created", Some("/a"), None), ("assignment.created", Some("/a/b_c"), None)],
        &[("auth.signIn", None, Some("invalid_credentials"))],
        &[
            ("request.refused", Some("/ab"), Some("justification_required")),
            ("settings.updated", Some("/"), None),
            ("request.approved", Some("/a/b_c/d"), None),
        ],
    ];
    let mut events = Vec::new();
    let mut at = 1_000;
    for batch in batches {
        let mut tx = db.store.write(t(at)).await.unwrap();
        for (action, sc, err) in batch {
            at += 10;
            events.push(tx.audit(t(at), draft(action, *sc, *err)).await.unwrap());
        }
        tx.commit().await.unwrap();
    }
    // A bare event, as the system writes them.
    let mut tx = db.store.write(t(2_000)).await.unwrap();
    events
        .push(tx.audit(t(2_000), AuditDraft { action: "system.started".into(), ..Default::default() }).await.unwrap());
    tx.commit().await.unwrap();
    Chain { actor, target, events }
}

async fn verify(db: &TestDb) -> VerifyReport {
    let mut c = db.conn().await;
    q::verify_audit(&mut c).await.unwrap()
}

async fn exec(db: &TestDb, sql: &str) {
    let mut c = db.conn().await;
    c.execute(sql).await.unwrap();
}

both!(events_are_chained_and_listed, |db| {
    let ch = chain(db).await;
    let ev = &ch.events;
    assert_eq!(ev.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(ev[0].prev_hash, GENESIS_HASH);
    for w in ev.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
    for e in ev {
        assert_eq!(event_hash(e), e.hash);
    }
    assert_eq!(ev[2].outcome, Outcome::Failure);
    assert_eq!(ev[2].error_code.as_deref(), Some("invalid_credentials"));
    assert_eq!(ev[0].outcome, Outcome::Success);

    let mut c = db.conn().await;
    let all = q::list_audit(&mut c, &AuditFilter::default()).await.unwrap();
    assert_eq!(&all, ev, "stored as returned");
    assert_eq!(q::audit_head(&mut c).await.unwrap(), (7, ev[6].hash.clone()));

    let seqs = |v: Vec<AuditEvent>| v.into_iter().map(|e| e.seq).collect::<Vec<_>>();
    let mut list = async |f: AuditFilter| seqs(q::list_audit(&mut c, &f).await.unwrap());
    assert_eq!(list(AuditFilter { descending: true, limit: 2, ..Default::default() }).await, [7, 6]);
    assert_eq!(
        list(AuditFilter { descending: true, before_seq: Some(6), limit: 2, ..Default::default() }).await,
        [5, 4]
    );
    assert_eq!(list(AuditFilter { after_seq: Some(5), ..Default::default() }).await, [6, 7]);
    assert_eq!(list(AuditFilter { from: Some(t(1_020)), to: Some(t(1_050)), ..Default::default() }).await, [2, 3, 4]);
    assert_eq!(list(AuditFilter { actor: Some(ch.actor.id), ..Default::default() }).await, [1, 2, 3, 4, 5, 6]);
    assert_eq!(list(AuditFilter { actor: Some(ch.target.id), ..Default::default() }).await, Vec::<i64>::new());
    assert_eq!(list(AuditFilter { principal: Some(ch.target.id), ..Default::default() }).await.len(), 6);
    assert_eq!(list(AuditFilter { role: Some(pim_domain::role::OWNER), ..Default::default() }).await.len(), 6);
    assert_eq!(list(AuditFilter { action_prefix: Some("request.".into()), ..Default::default() }).await, [1, 4, 6]);
    assert_eq!(
        list(AuditFilter { action_prefix: Some("request_".into()), ..Default::default() }).await,
        Vec::<i64>::new()
    );
    assert_eq!(list(AuditFilter { outcome: Some(Outcome::Failure), ..Default::default() }).await, [3, 4]);
    // Scopes: /a, /a/b_c, -, /ab, /, /a/b_c/d, -.
    assert_eq!(list(AuditFilter { scope_under: Some(scope("/a")), ..Default::default() }).await, [1, 2, 6]);
    assert_eq!(list(AuditFilter { scope_under: Some(scope("/a/b_c")), ..Default::default() }).await, [2, 6]);
    assert_eq!(list(AuditFilter { scope_under: Some(ScopePath::root()), ..Default::default() }).await.len(), 7);
    let within = |v: &[&str]| Some(v.iter().map(|s| scope(s)).collect::<Vec<_>>());
    assert_eq!(list(AuditFilter { scopes_within: within(&["/ab", "/a/b_c"]), ..Default::default() }).await, [2, 4, 6]);
    assert_eq!(
        list(AuditFilter { scopes_within: within(&["/a", "/"]), ..Default::default() }).await.len(),
        7,
        "NULL scope counts as /"
    );
    assert_eq!(list(AuditFilter { scopes_within: within(&[]), ..Default::default() }).await, Vec::<i64>::new());

    let report = verify(db).await;
    assert_eq!(report, VerifyReport { ok: true, checked: 7, problems: vec![] });
});

both!(empty_chain_verifies, |db| {
    assert_eq!(verify(db).await, VerifyReport { ok: true, checked: 0, problems: vec![] });
});

both!(a_modified_event_is_reported, |db| {
    let _ = chain(db).await;
    exec(db, "UPDATE audit_events SET justification = 'nothing to see' WHERE seq = 3").await;
    let r = verify(db).await;
    assert!(!r.ok);
    assert_eq!(r.checked, 7);
    assert_eq!(r.problems.len(), 1, "{r:?}");
    assert_eq!((r.problems[0].seq, r.problems[0].kind), (3, ProblemKind::Modified));
    assert!(r.problems[0].message.contains("does not match its hash"), "{}", r.problems[0].message);
});

both!(a_deleted_event_is_reported, |db| {
    let _ = chain(db).await;
    exec(db, "DELETE FROM audit_events WHERE seq = 3 OR seq = 4").await;
    let r = verify(db).await;
    assert_eq!(r.problems.len(), 1, "{r:?}");
    assert_eq!((r.problems[0].seq, r.problems[0].kind), (5, ProblemKind::Deleted));
    assert!(r.problems[0].message.contains("events 3 to 4"), "{}", r.problems[0].message);
    assert_eq!(r.checked, 5);
});

both!(a_forged_event_is_reported, |db| {
    let ch = chain(db).await;
    let last = ch.events.last().unwrap();
    // A well-formed event appended behind pim's back, correctly chained to the last one.
    let mut forged = last.clone();
    forged.seq = last.seq + 1;
    forged.id = EventId::new();
    forged.action = "assignment.created".into();
    forged.prev_hash = last.hash.clone();
    forged.hash = event_hash(&forged);
    insert_raw(db, &forged).await;
    let r = verify(db).await;
    assert_eq!(r.problems.len(), 1, "{r:?}");
    assert_eq!((r.problems[0].seq, r.problems[0].kind), (8, ProblemKind::Inserted));
    assert!(r.problems[0].message.contains("beyond the head"), "{}", r.problems[0].message);
});

both!(a_replaced_event_is_reported, |db| {
    let ch = chain(db).await;
    // Event 3 replaced by a self-consistent forgery linked to event 2.
    let mut forged = ch.events[2].clone();
    forged.id = EventId::new();
    forged.error_code = None;
    forged.outcome = Outcome::Success;
    forged.hash = event_hash(&forged);
    exec(db, "DELETE FROM audit_events WHERE seq = 3").await;
    insert_raw(db, &forged).await;
    let r = verify(db).await;
    assert_eq!(r.problems.len(), 1, "{r:?}");
    assert_eq!((r.problems[0].seq, r.problems[0].kind), (4, ProblemKind::Inserted));
    assert!(r.problems[0].message.contains("does not link to event 3"), "{}", r.problems[0].message);
});

both!(a_truncated_chain_is_reported, |db| {
    let _ = chain(db).await;
    exec(db, "DELETE FROM audit_events WHERE seq >= 6").await;
    let r = verify(db).await;
    assert_eq!(r.problems.len(), 1, "{r:?}");
    assert_eq!((r.problems[0].seq, r.problems[0].kind), (7, ProblemKind::Truncated));
    assert!(r.problems[0].message.contains("events 6 to 7"), "{}", r.problems[0].message);
});

both!(a_rolled_back_write_leaves_nothing, |db| {
    let u = user("ghost");
    {
        let mut tx = db.store.write(t(1)).await.unwrap();
        q::insert_principal(tx.conn(), &u).await.unwrap();
        tx.audit(t(1), AuditDraft { action: "user.created".into(), ..Default::default() }).await.unwrap();
        // dropped without commit
    }
    let mut tx = db.store.write(t(2)).await.unwrap();
    q::set_meta(tx.conn(), "k", "v").await.unwrap();
    tx.audit(t(2), AuditDraft { action: "meta.set".into(), ..Default::default() }).await.unwrap();
    tx.rollback().await.unwrap();

    let mut c = db.conn().await;
    assert_eq!(q::get_principal(&mut c, u.id).await.unwrap(), None);
    assert_eq!(q::get_meta(&mut c, "k").await.unwrap(), None);
    assert!(q::list_audit(&mut c, &AuditFilter::default()).await.unwrap().is_empty());
    assert_eq!(q::audit_head(&mut c).await.unwrap(), (0, GENESIS_HASH.to_owned()));
    drop(c);

    // The next event starts the chain.
    let mut tx = db.store.write(t(3)).await.unwrap();
    let e = tx.audit(t(3), AuditDraft { action: "x".into(), ..Default::default() }).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((e.seq, e.prev_hash.as_str()), (1, GENESIS_HASH));
    assert!(verify(db).await.ok);
});

/// Writes an event row directly, bypassing the chain.
async fn insert_raw(db: &TestDb, e: &AuditEvent) {
    let mut c = db.conn().await;
    sqlx::query(
        "INSERT INTO audit_events (seq, id, at, action, outcome, error_code, actor_id, actor_name, principal_id, \
         role_id, scope, justification, ticket, request_id, http_request_id, client_addr, details, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
    )
    .bind(e.seq)
    .bind(e.id.to_string())
    .bind(e.at.0)
    .bind(e.action.clone())
    .bind(e.outcome.as_str())
    .bind(e.error_code.clone())
    .bind(e.actor_id.map(|v| v.to_string()))
    .bind(e.actor_name.clone())
    .bind(e.principal_id.map(|v| v.to_string()))
    .bind(e.role_id.map(|v| v.to_string()))
    .bind(e.scope.as_ref().map(|s| s.to_string()))
    .bind(e.justification.clone())
    .bind(e.ticket.clone())
    .bind(e.request_id.map(|v| v.to_string()))
    .bind(e.http_request_id.clone())
    .bind(e.client_addr.clone())
    .bind(serde_json::to_string(&e.details).unwrap())
    .bind(e.prev_hash.clone())
    .bind(e.hash.clone())
    .execute(&mut *c)
    .await
    .unwrap();
}

both!(pruning_a_prefix_keeps_the_chain_verifiable, |db| {
    let ch = chain(db).await;
    let mut c = db.conn().await;
    assert_eq!(q::audit_anchor(&mut c).await.unwrap(), (0, GENESIS_HASH.to_owned()));
    assert_eq!(q::audit_prunable(&mut c, t(1_000)).await.unwrap(), None, "nothing is that old");
    // Events 1-3 are before 1 035; event 4 is at 1 040.
    let p = q::audit_prunable(&mut c, t(1_035)).await.unwrap().expect("prunable");
    assert_eq!(p, q::Pruned { count: 3, anchor_seq: 3, anchor_hash: ch.events[2].hash.clone() });
    drop(c);
    let mut tx = db.store.write(t(3_000)).await.unwrap();
    q::prune_audit(tx.conn(), &p).await.unwrap();
    let details = serde_json::json!({"count": 3, "anchorSeq": 3, "anchorHash": p.anchor_hash});
    tx.audit(t(3_000), AuditDraft { action: "audit.pruned".into(), details, ..Default::default() }).await.unwrap();
    tx.commit().await.unwrap();
    let mut c = db.conn().await;
    assert_eq!(q::audit_anchor(&mut c).await.unwrap(), (3, ch.events[2].hash.clone()));
    let left = q::list_audit(&mut c, &AuditFilter::default()).await.unwrap();
    assert_eq!(left.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5, 6, 7, 8]);
    drop(c);
    let r = verify(db).await;
    assert!(r.ok, "{r:?}");
    assert_eq!(r.checked, 5);
    // Without the audit.pruned event naming it, an anchor is not trusted.
    exec(db, &format!("UPDATE meta SET value = '4:{}' WHERE key = 'audit.anchor'", ch.events[3].hash)).await;
    exec(db, "DELETE FROM audit_events WHERE seq = 4").await;
    let r = verify(db).await;
    assert!(!r.ok && r.problems.iter().any(|p| p.message.contains("pruning anchor")), "{r:?}");
});

both!(involving_matches_the_actor_or_the_principal, |db| {
    let ch = chain(db).await;
    let mut c = db.conn().await;
    let f = AuditFilter { involving: Some(ch.actor.id), ..Default::default() };
    assert_eq!(q::list_audit(&mut c, &f).await.unwrap().len(), 6);
    let f = AuditFilter { involving: Some(ch.target.id), actor: Some(ch.target.id), ..Default::default() };
    assert!(q::list_audit(&mut c, &f).await.unwrap().is_empty());
    let f = AuditFilter { involving: Some(user("x").id), ..Default::default() };
    assert!(q::list_audit(&mut c, &f).await.unwrap().is_empty());
});

both!(events_appended_in_bulk_chain_like_one_by_one, |db| {
    // 1,203 events: several multi-row statements on both backends, after one appended alone.
    let mut tx = db.store.write(t(10)).await.unwrap();
    let first = tx.audit(t(10), AuditDraft { action: "system.started".into(), ..Default::default() }).await.unwrap();
    let drafts = (0..1_203)
        .map(|i| AuditDraft {
            action: "assignment.expired".into(),
            scope: Some(scope("/a")),
            details: serde_json::json!({ "i": i }),
            ..Default::default()
        })
        .collect();
    let events = tx.audit_many(t(20), drafts).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(events.len(), 1_203);
    assert_eq!(events[0].prev_hash, first.hash);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 2);
        assert_eq!(e.hash, event_hash(e), "the hash of event {}", e.seq);
    }
    for w in events.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
    let report = verify(db).await;
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.checked, 1_204);
    // The head moved to the last one: the next event links to it.
    let mut tx = db.store.write(t(30)).await.unwrap();
    let next = tx.audit(t(30), AuditDraft { action: "x".into(), ..Default::default() }).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(next.prev_hash, events[1_202].hash);
    assert!(verify(db).await.ok);
});

both!(rollback_to_a_savepoint_undoes_its_events_and_keeps_the_rest, |db| {
    let draft = |action: &str| AuditDraft { action: action.into(), ..Default::default() };
    let mut tx = db.store.write(t(1_000)).await.unwrap();
    let first = tx.audit(t(1_000), draft("kept.first")).await.unwrap();
    let sp = tx.savepoint().await.unwrap();
    tx.audit(t(1_001), draft("undone.one")).await.unwrap();
    tx.audit(t(1_002), draft("undone.two")).await.unwrap();
    let hook_ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = hook_ran.clone();
    tx.after_commit(move || flag.store(true, std::sync::atomic::Ordering::SeqCst));
    tx.rollback_to(sp).await.unwrap();
    // The chain goes on from the event before the savepoint.
    let sp = tx.savepoint().await.unwrap();
    let second = tx.audit(t(1_003), draft("kept.second")).await.unwrap();
    drop(sp);
    tx.commit().await.unwrap();
    assert!(!hook_ran.load(std::sync::atomic::Ordering::SeqCst), "a hook of rolled-back work never runs");
    assert_eq!((first.seq, second.seq), (1, 2));
    assert_eq!(second.prev_hash, first.hash);
    let mut c = db.conn().await;
    let all = q::list_audit(&mut c, &AuditFilter::default()).await.unwrap();
    assert_eq!(all.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["kept.first", "kept.second"]);
    assert_eq!(q::audit_head(&mut c).await.unwrap(), (2, second.hash.clone()));
    drop(c);
    assert!(verify(db).await.ok);

    // A savepoint before any event: rolling back to it leaves nothing to record.
    let mut tx = db.store.write(t(2_000)).await.unwrap();
    let sp = tx.savepoint().await.unwrap();
    tx.audit(t(2_000), draft("undone.three")).await.unwrap();
    tx.rollback_to(sp).await.unwrap();
    tx.commit().await.unwrap();
    let mut c = db.conn().await;
    assert_eq!(q::audit_head(&mut c).await.unwrap(), (2, second.hash));
    drop(c);
    assert!(verify(db).await.ok);
});

/// Texts with every character JSON escapes (on PostgreSQL the rows go to the database as one JSON
/// parameter), non-ASCII, and texts that look like JSON, numbers or `null`.
const TRICKY: [&str; 10] = [
    "plain",
    "quote \" and \\ backslash \\\"",
    "line\nbreak\r\ttab \u{1} \u{8} \u{c} \u{1f} \u{7f}",
    "ünïcödé 日本語 🎉 \u{2028}\u{2029} \u{feff}",
    "",
    "{\"looks\": [\"like json\"]}",
    "12345",
    "null",
    "true",
    "\\u0041 \\n",
];

both!(events_in_bulk_are_stored_as_chained_whatever_their_text, |db| {
    let drafts: Vec<AuditDraft> = TRICKY
        .iter()
        .map(|s| AuditDraft {
            action: format!("x.{s}"),
            actor_name: Some((*s).to_owned()),
            justification: Some((*s).to_owned()),
            ticket: Some((*s).to_owned()),
            http_request_id: Some((*s).to_owned()),
            error_code: Some((*s).to_owned()),
            details: serde_json::json!({ "s": s, "n": i64::MAX, "m": i64::MIN }),
            ..Default::default()
        })
        .collect();
    let mut tx = db.store.write(t(10)).await.unwrap();
    let events = tx.audit_many(t(10), drafts).await.unwrap();
    tx.commit().await.unwrap();
    let mut c = db.conn().await;
    assert_eq!(q::list_audit(&mut c, &AuditFilter::default()).await.unwrap(), events);
    drop(c);
    let report = verify(db).await;
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.checked, TRICKY.len() as i64);
});

both!(an_event_with_a_nul_is_stored_whole_or_refused, |db| {
    // SQLite stores a NUL inside a text (rows bound one value per placeholder); PostgreSQL's text
    // holds none, and its JSON parameter refuses `\u0000` as a text parameter always did.
    let draft = |s: &str| AuditDraft { action: "x".into(), justification: Some(s.to_owned()), ..Default::default() };
    let mut tx = db.store.write(t(10)).await.unwrap();
    let r = tx.audit_many(t(10), vec![draft("before"), draft("a\0b"), draft("after")]).await;
    if db.store.backend() == pim_store::Backend::Postgres {
        assert!(r.is_err(), "{r:?}");
        return;
    }
    let events = r.unwrap();
    tx.commit().await.unwrap();
    let mut c = db.conn().await;
    let stored = q::list_audit(&mut c, &AuditFilter::default()).await.unwrap();
    assert_eq!(stored, events);
    assert_eq!(stored[1].justification.as_deref(), Some("a\0b"));
});

both!(more_kept_for_the_commit_than_one_statement_holds_is_written_in_parts, |db| {
    // 600 events (more than one SQLite statement's rows of 19 values) and 600 feed entries
    // (more than one PostgreSQL statement's 500 rows): the commit writes them statement by
    // statement instead of in one; the result is the same.
    let draft = |i: usize| AuditDraft { action: format!("many.{i}"), ..Default::default() };
    let mut c = db.conn().await;
    let feed_before = q::last_change_seq(&mut c).await.unwrap();
    drop(c);
    for (events, changes) in [(600, 2), (2, 600), (3, 3)] {
        let mut c = db.conn().await;
        let (seq_before, _) = q::audit_head(&mut c).await.unwrap();
        let feed_at = q::last_change_seq(&mut c).await.unwrap();
        drop(c);
        let mut tx = db.store.write(t(1_000)).await.unwrap();
        for i in 0..events {
            tx.audit_later(t(1_000), draft(i));
        }
        for i in 0..changes {
            tx.record_change_later("assignment", format!("a{i}"), t(1_000));
        }
        tx.commit().await.unwrap();
        let mut c = db.conn().await;
        let (seq, _) = q::audit_head(&mut c).await.unwrap();
        assert_eq!(seq, seq_before + events as i64, "{events} events");
        let feed = q::changes_after(&mut c, feed_at, 1_000).await.unwrap();
        let got: Vec<&str> = feed.iter().map(|r| r.entity.as_str()).collect();
        let want: Vec<String> = (0..changes).map(|i| format!("a{i}")).collect();
        assert_eq!(got, want, "{changes} entries, in order");
    }
    let mut c = db.conn().await;
    assert_eq!(q::changes_after(&mut c, feed_before, 10_000).await.unwrap().len(), 605);
    drop(c);
    assert!(verify(db).await.ok);
});

both!(events_appended_for_later_are_written_in_order_at_commit_and_undone_by_a_savepoint, |db| {
    let draft = |action: &str| AuditDraft { action: action.into(), ..Default::default() };
    let mut c = db.conn().await;
    let feed_before = q::last_change_seq(&mut c).await.unwrap();
    drop(c);
    let mut tx = db.store.write(t(1_000)).await.unwrap();
    tx.audit_later(t(1_001), draft("later.one"));
    tx.record_change_later("assignment", "a1".into(), t(1_001));
    // An event appended now comes after those appended for later.
    let now = tx.audit(t(1_002), draft("now.two")).await.unwrap();
    assert_eq!(now.seq, 2);
    let sp = tx.savepoint().await.unwrap();
    tx.audit_later(t(1_003), draft("undone.later"));
    tx.record_change_later("assignment", "undone".into(), t(1_003));
    tx.rollback_to(sp).await.unwrap();
    tx.audit_later(t(1_004), draft("later.three"));
    tx.audit_later(t(1_005), draft("later.four"));
    tx.record_change_later("principal", "p1".into(), t(1_005));
    tx.record_change_later("assignment", "a2".into(), t(1_005));
    // Nothing of it is visible before the commit (another connection sees no event).
    let mut c = db.conn().await;
    assert!(q::list_audit(&mut c, &AuditFilter::default()).await.unwrap().is_empty());
    drop(c);
    tx.commit().await.unwrap();
    let mut c = db.conn().await;
    let all = q::list_audit(&mut c, &AuditFilter::default()).await.unwrap();
    let got: Vec<(i64, &str, i64)> = all.iter().map(|e| (e.seq, e.action.as_str(), e.at.0)).collect();
    assert_eq!(
        got,
        [(1, "later.one", 1_001), (2, "now.two", 1_002), (3, "later.three", 1_004), (4, "later.four", 1_005)]
    );
    assert_eq!(all[1].prev_hash, all[0].hash);
    assert_eq!(q::audit_head(&mut c).await.unwrap(), (4, all[3].hash.clone()));
    let feed = q::changes_after(&mut c, feed_before, 10).await.unwrap();
    let entries: Vec<(&str, &str)> = feed.iter().map(|r| (r.kind.as_str(), r.entity.as_str())).collect();
    assert_eq!(entries, [("assignment", "a1"), ("principal", "p1"), ("assignment", "a2")]);
    assert!(feed.windows(2).all(|w| w[0].seq < w[1].seq));
    drop(c);
    assert!(verify(db).await.ok);

    // Dropped without commit: nothing appended for later is written.
    let mut tx = db.store.write(t(2_000)).await.unwrap();
    tx.audit_later(t(2_000), draft("never"));
    tx.record_change_later("assignment", "never".into(), t(2_000));
    drop(tx);
    let mut c = db.conn().await;
    assert_eq!(q::list_audit(&mut c, &AuditFilter::default()).await.unwrap().len(), 4);
    assert_eq!(q::changes_after(&mut c, feed_before, 10).await.unwrap().len(), 3);
    drop(c);
});

both!(an_event_for_later_written_after_a_savepoint_survives_its_rollback, |db| {
    let draft = |action: &str| AuditDraft { action: action.into(), ..Default::default() };
    let mut tx = db.store.write(t(1_000)).await.unwrap();
    tx.audit_later(t(1_000), draft("later.kept"));
    let sp = tx.savepoint().await.unwrap();
    // This writes the one appended for later too; the rollback undoes both in the database.
    tx.audit(t(1_001), draft("undone")).await.unwrap();
    tx.rollback_to(sp).await.unwrap();
    tx.commit().await.unwrap();
    let mut c = db.conn().await;
    let all = q::list_audit(&mut c, &AuditFilter::default()).await.unwrap();
    assert_eq!(all.iter().map(|e| (e.seq, e.action.as_str())).collect::<Vec<_>>(), [(1, "later.kept")]);
    assert_eq!(q::audit_head(&mut c).await.unwrap(), (1, all[0].hash.clone()));
    drop(c);
    assert!(verify(db).await.ok);
});

both!(rolling_back_to_a_mark_forgets_what_was_kept_for_later_since, |db| {
    let draft = |action: &str| AuditDraft { action: action.into(), ..Default::default() };
    let mut c = db.conn().await;
    let feed_before = q::last_change_seq(&mut c).await.unwrap();
    drop(c);
    let mut tx = db.store.write(t(1_000)).await.unwrap();
    tx.audit_later(t(1_000), draft("kept"));
    let mark = tx.mark();
    tx.audit_later(t(1_001), draft("forgotten"));
    tx.record_change_later("assignment", "forgotten".into(), t(1_001));
    tx.rollback_to(mark).await.unwrap();
    tx.audit_later(t(1_002), draft("after"));
    tx.commit().await.unwrap();
    let mut c = db.conn().await;
    let all = q::list_audit(&mut c, &AuditFilter::default()).await.unwrap();
    assert_eq!(all.iter().map(|e| (e.seq, e.action.as_str())).collect::<Vec<_>>(), [(1, "kept"), (2, "after")]);
    assert!(q::changes_after(&mut c, feed_before, 10).await.unwrap().is_empty());
    drop(c);
    assert!(verify(db).await.ok);
});
