//! The notification outbox: insert, claim with a lease, delivered / retried / failed, listing and
//! paging; and the reminder bookkeeping on assignments.

use super::*;
use pim_store::q::{self, OutboxFilter};

fn note(event: &str, channel: Channel, recipient: &str, at: i64) -> Notification {
    Notification {
        id: NotificationId::new(),
        created_at: t(at),
        event: event.to_owned(),
        channel,
        recipient: recipient.to_owned(),
        subject: format!("PIM: {event}"),
        text: "hello\nworld".to_owned(),
        payload: serde_json::json!({ "event": event, "data": { "n": 1 } }),
        critical: event.contains("approval"),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: t(at),
        claimed_until: None,
        last_error: None,
        delivered_at: None,
        principal_id: Some(PrincipalId::new()),
        role_id: Some(pim_domain::role::OWNER),
        scope: Some(scope("/a/b")),
        request_id: Some(RequestId::new()),
    }
}

async fn insert(store: &pim_store::Store, n: &Notification) {
    let mut tx = store.write(n.created_at).await.unwrap();
    q::insert_notification(tx.conn(), n).await.unwrap();
    tx.commit().await.unwrap();
}

async fn claim(store: &pim_store::Store, now: i64, channels: &[Channel], limit: i64) -> Vec<Notification> {
    let mut tx = store.write(t(now)).await.unwrap();
    let got = q::claim_notifications(tx.conn(), t(now), t(now + 60_000), channels, limit).await.unwrap();
    tx.commit().await.unwrap();
    got
}

both!(notifications_round_trip_and_list, |db| {
    let a = note("role.activated", Channel::Email, "a@example.com", 100);
    let mut b = note("request.approvalNeeded", Channel::Webhook, "chat", 200);
    b.principal_id = None;
    b.scope = None;
    let c3 = note("role.activated", Channel::Email, "c@example.com", 300);
    for n in [&a, &b, &c3] {
        insert(&db.store, n).await;
    }
    let mut c = db.conn().await;
    assert_eq!(q::get_notification(&mut c, a.id).await.unwrap().as_ref(), Some(&a));
    assert_eq!(q::get_notification(&mut c, b.id).await.unwrap().as_ref(), Some(&b));
    assert_eq!(q::get_notification(&mut c, NotificationId::new()).await.unwrap(), None);

    let all = q::list_notifications(&mut c, &OutboxFilter::default()).await.unwrap();
    assert_eq!(all, vec![a.clone(), b.clone(), c3.clone()]);
    let newest = OutboxFilter { descending: true, limit: 2, ..Default::default() };
    let page1 = q::list_notifications(&mut c, &newest).await.unwrap();
    assert_eq!(page1.iter().map(|n| n.id).collect::<Vec<_>>(), vec![c3.id, b.id]);
    let page2 = q::list_notifications(&mut c, &OutboxFilter { after: Some(b.id), ..newest.clone() }).await.unwrap();
    assert_eq!(page2, vec![a.clone()]);
    let by_event = OutboxFilter { event: Some("role.activated".into()), ..Default::default() };
    assert_eq!(q::list_notifications(&mut c, &by_event).await.unwrap().len(), 2);
    let by_request = OutboxFilter { request: b.request_id, ..Default::default() };
    assert_eq!(q::list_notifications(&mut c, &by_request).await.unwrap(), vec![b.clone()]);
    let webhooks = OutboxFilter { channel: Some(Channel::Webhook), ..Default::default() };
    assert_eq!(q::list_notifications(&mut c, &webhooks).await.unwrap(), vec![b.clone()]);
    let failed = OutboxFilter { status: Some(DeliveryStatus::Failed), ..Default::default() };
    assert!(q::list_notifications(&mut c, &failed).await.unwrap().is_empty());
    assert_eq!(q::count_notifications(&mut c).await.unwrap(), (3, 0, 0));
});

both!(claims_take_due_unclaimed_rows_of_the_given_channels, |db| {
    let early = note("a", Channel::Email, "a@example.com", 100);
    let later = note("b", Channel::Email, "b@example.com", 5_000);
    let hook = note("c", Channel::Webhook, "chat", 100);
    for n in [&early, &later, &hook] {
        insert(&db.store, n).await;
    }
    // Only due rows of the channels asked for.
    let got = claim(&db.store, 1_000, &[Channel::Email], 10).await;
    assert_eq!(got.iter().map(|n| n.id).collect::<Vec<_>>(), vec![early.id]);
    assert_eq!(got[0].claimed_until, Some(t(61_000)));
    // Claimed rows are not claimed again while the lease holds ...
    assert!(claim(&db.store, 1_000, &[Channel::Email], 10).await.is_empty());
    assert!(claim(&db.store, 60_999, &[Channel::Email], 10).await.iter().all(|n| n.id != early.id));
    // ... and are once it has lapsed (the worker that held it died).
    let again = claim(&db.store, 61_000, &[Channel::Email], 10).await;
    assert!(again.iter().any(|n| n.id == early.id), "{again:?}");
    // No channel: nothing. Limits hold.
    assert!(claim(&db.store, 200_000, &[], 10).await.is_empty());
    assert_eq!(claim(&db.store, 200_000, &[Channel::Webhook, Channel::Email], 1).await.len(), 1);
});

both!(delivered_retried_and_failed, |db| {
    let n = note("a", Channel::Email, "a@example.com", 100);
    insert(&db.store, &n).await;
    let mut c = db.conn().await;
    assert!(q::record_failed_attempt(&mut c, n.id, "connection refused", t(30_100)).await.unwrap());
    let got = q::get_notification(&mut c, n.id).await.unwrap().unwrap();
    assert_eq!((got.status, got.attempts, got.next_attempt_at), (DeliveryStatus::Pending, 1, t(30_100)));
    assert_eq!(got.last_error.as_deref(), Some("connection refused"));
    assert_eq!(got.claimed_until, None);
    drop(c);
    // Not due before its next attempt.
    assert!(claim(&db.store, 30_099, &[Channel::Email], 10).await.is_empty());
    assert_eq!(claim(&db.store, 30_100, &[Channel::Email], 10).await.len(), 1);
    let mut c = db.conn().await;
    assert!(q::mark_delivered(&mut c, n.id, t(30_200)).await.unwrap());
    let got = q::get_notification(&mut c, n.id).await.unwrap().unwrap();
    assert_eq!((got.status, got.attempts, got.delivered_at), (DeliveryStatus::Delivered, 2, Some(t(30_200))));
    assert_eq!((got.last_error.as_deref(), got.claimed_until), (None, None));
    // Once delivered, nothing changes it any more, and it is never claimed again.
    assert!(!q::mark_delivered(&mut c, n.id, t(40_000)).await.unwrap());
    assert!(!q::record_failed_attempt(&mut c, n.id, "late", t(50_000)).await.unwrap());
    assert!(!q::mark_failed(&mut c, n.id, "late").await.unwrap());
    assert_eq!(q::get_notification(&mut c, n.id).await.unwrap().unwrap(), got);
    drop(c);
    assert!(claim(&db.store, 1_000_000, &[Channel::Email], 10).await.is_empty());

    let m = note("b", Channel::Webhook, "chat", 100);
    insert(&db.store, &m).await;
    let mut c = db.conn().await;
    assert!(q::mark_failed(&mut c, m.id, "HTTP 500").await.unwrap());
    let got = q::get_notification(&mut c, m.id).await.unwrap().unwrap();
    assert_eq!((got.status, got.attempts), (DeliveryStatus::Failed, 1));
    assert_eq!(got.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(q::count_notifications(&mut c).await.unwrap(), (0, 1, 1));
    drop(c);
    assert!(claim(&db.store, 1_000_000, &[Channel::Webhook], 10).await.is_empty());
});

both!(two_stores_claiming_at_once_never_share_a_row, |db| {
    for i in 0..40 {
        insert(&db.store, &note("x", Channel::Email, &format!("u{i}@example.com"), 100)).await;
    }
    let stores = [db.store.clone(), db.reopen().await];
    let mut handles = Vec::new();
    for task in 0..4 {
        let store = stores[task % 2].clone();
        handles.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = claim(&store, 1_000, &[Channel::Email], 3).await;
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|n| n.id));
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    stores[1].close().await;
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!((n, all.len()), (40, 40), "every row claimed exactly once");
});

both!(reminders_are_due_once_per_stage_and_reset_when_the_end_moves, |db| {
    const DAY: i64 = 86_400_000;
    let mut c = db.conn().await;
    let u = user("u");
    add(&mut c, &u).await;
    drop(c);
    let now = 100 * DAY;
    let win = |end: i64| Window { start: t(0), end: Some(t(end)) };
    let in_20 =
        assign(&db.store, &u, pim_domain::role::OWNER, "/a", AssignmentKind::Eligible, win(now + 20 * DAY)).await;
    let in_10 = assign(&db.store, &u, pim_domain::role::OWNER, "/b", AssignmentKind::Active, win(now + 10 * DAY)).await;
    let mut in_half =
        assign(&db.store, &u, pim_domain::role::OWNER, "/c", AssignmentKind::Eligible, win(now + DAY / 2)).await;
    let _permanent = assign(
        &db.store,
        &u,
        pim_domain::role::OWNER,
        "/d",
        AssignmentKind::Eligible,
        Window { start: t(0), end: None },
    )
    .await;
    let _ended = assign(&db.store, &u, pim_domain::role::OWNER, "/e", AssignmentKind::Eligible, win(now - 1)).await;
    let mut c = db.conn().await;
    let due = q::due_reminders(&mut c, t(now), 14 * DAY, DAY, 0).await.unwrap();
    let ids: Vec<_> = due.iter().map(|(a, stage)| (a.id, *stage)).collect();
    assert_eq!(ids, vec![(in_half.id, 2), (in_10.id, 1)], "soonest first; only the latest stage due");
    q::set_reminder_stage(&mut c, in_half.id, 2).await.unwrap();
    q::set_reminder_stage(&mut c, in_10.id, 1).await.unwrap();
    assert!(q::due_reminders(&mut c, t(now), 14 * DAY, DAY, 0).await.unwrap().is_empty(), "each stage once");
    // Nine days on, the 1-day reminder of in_10 is due, and the 14-day one of in_20.
    let later = now + 9 * DAY + 1;
    let due = q::due_reminders(&mut c, t(later), 14 * DAY, DAY, 0).await.unwrap();
    let ids: Vec<_> = due.iter().map(|(a, stage)| (a.id, *stage)).collect();
    assert_eq!(ids, vec![(in_10.id, 2), (in_20.id, 1)]);
    // A new end makes its reminders due again.
    in_half.window.end = Some(t(now + 5 * DAY));
    q::update_assignment(&mut c, &in_half).await.unwrap();
    let due = q::due_reminders(&mut c, t(now), 14 * DAY, DAY, 0).await.unwrap();
    assert_eq!(due.iter().map(|(a, stage)| (a.id, *stage)).collect::<Vec<_>>(), vec![(in_half.id, 1)]);
});

both!(notifications_inserted_in_bulk_round_trip, |db| {
    // 1,001 rows: several multi-row statements on both backends.
    let list: Vec<Notification> =
        (0..1_001).map(|i| note("assignment.expired", Channel::Email, &format!("u{i}@example.com"), 100)).collect();
    let mut tx = db.store.write(t(100)).await.unwrap();
    q::insert_notifications(tx.conn(), &list).await.unwrap();
    q::insert_notifications(tx.conn(), &[]).await.unwrap();
    tx.commit().await.unwrap();
    let mut c = db.conn().await;
    let all = q::list_notifications(&mut c, &OutboxFilter::default()).await.unwrap();
    let mut want = list.clone();
    want.sort_by_key(|n| n.id);
    assert_eq!(all, want);
});

both!(notifications_in_bulk_keep_every_character, |db| {
    // On PostgreSQL the rows go as one JSON parameter: every text must come back as written.
    let texts = [
        "plain",
        "quote \" and \\ backslash \\\"",
        "line\nbreak\r\ttab \u{1} \u{1f} \u{7f}",
        "ünïcödé 日本語 🎉 \u{2028}",
        "",
        "[1, 2]",
        "null",
        "\\u0041",
    ];
    let list: Vec<Notification> = texts
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut n = note(s, Channel::Webhook, s, 100 + i as i64);
            n.subject = (*s).to_owned();
            n.text = (*s).to_owned();
            n.payload = serde_json::json!({ "s": s });
            n.critical = i % 2 == 0;
            n.attempts = i64::MAX;
            n.claimed_until = (i % 3 == 0).then(|| t(i64::MIN));
            n.delivered_at = (i % 2 == 1).then(|| t(i64::MAX));
            n.last_error = (i % 2 == 0).then(|| (*s).to_owned());
            n.request_id = None;
            n
        })
        .collect();
    let mut tx = db.store.write(t(100)).await.unwrap();
    q::insert_notifications(tx.conn(), &list).await.unwrap();
    tx.commit().await.unwrap();
    let mut c = db.conn().await;
    let all = q::list_notifications(&mut c, &OutboxFilter::default()).await.unwrap();
    let mut want = list.clone();
    want.sort_by_key(|n| n.id);
    assert_eq!(all, want);
});

both!(a_notification_with_a_nul_is_stored_whole_or_refused, |db| {
    // As for audit events: stored whole on SQLite, refused by PostgreSQL.
    let mut n = note("assignment.expired", Channel::Email, "a@example.com", 100);
    n.text = "a\0b".into();
    let list = vec![note("x", Channel::Email, "b@example.com", 100), n];
    let mut tx = db.store.write(t(100)).await.unwrap();
    let r = q::insert_notifications(tx.conn(), &list).await;
    if db.store.backend() == pim_store::Backend::Postgres {
        assert!(r.is_err(), "{r:?}");
        return;
    }
    r.unwrap();
    tx.commit().await.unwrap();
    let mut c = db.conn().await;
    let all = q::list_notifications(&mut c, &OutboxFilter::default()).await.unwrap();
    let mut want = list.clone();
    want.sort_by_key(|n| n.id);
    assert_eq!(all, want);
});
