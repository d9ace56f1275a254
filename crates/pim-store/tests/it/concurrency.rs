//! Concurrent writers: serialized, with a linear chain and no busy errors.

use super::*;
use pim_store::q::{self, AuditFilter};

const TASKS: usize = 8;
const TXS: usize = 20;

both!(concurrent_writers_are_serialized, |db| {
    // Two stores on one database, as two processes (SQLite) or two replicas (PostgreSQL).
    let stores = [db.store.clone(), db.reopen().await];
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = stores[task % 2].clone();
        handles.push(tokio::spawn(async move {
            for i in 0..TXS {
                let now = t((task * 1000 + i) as i64);
                let mut tx = store.write(now).await.unwrap();
                // A read-modify-write: only correct if writers never interleave.
                let n: i64 = q::get_meta(tx.conn(), "counter").await.unwrap().map_or(0, |v| v.parse().unwrap());
                tokio::task::yield_now().await;
                q::set_meta(tx.conn(), "counter", &(n + 1).to_string()).await.unwrap();
                let draft = AuditDraft { action: format!("test.task{task}"), ..Default::default() };
                tx.audit(now, draft).await.unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    stores[1].close().await;

    let mut c = db.conn().await;
    let total = (TASKS * TXS) as i64;
    assert_eq!(q::get_meta(&mut c, "counter").await.unwrap(), Some(total.to_string()));
    let events = q::list_audit(&mut c, &AuditFilter::default()).await.unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=total).collect::<Vec<_>>());
    for task in 0..TASKS {
        assert_eq!(events.iter().filter(|e| e.action == format!("test.task{task}")).count(), TXS);
    }
    let report = q::verify_audit(&mut c).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.checked, total);
});
