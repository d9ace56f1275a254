//! A direct connection to the test database, to see what a refused call changed.

use std::collections::BTreeMap;

use sqlx::{Column, Connection, Row};

use super::fixture;
use crate::harness::prelude::*;

/// The tables holding pim's state (everything but the audit history and bookkeeping).
pub(crate) const DATA_TABLES: [&str; 29] = [
    "principals",
    "credentials",
    "memberships",
    "roles",
    "role_settings",
    "resources",
    "assignments",
    "requests",
    "api_tokens",
    "meta",
    "mfa_totp_factors",
    "mfa_recovery_codes",
    "outbox",
    "settings_changes",
    "break_glass_reviews",
    "alert_rules",
    "alerts",
    "access_reviews",
    "access_review_instances",
    "access_review_items",
    "audiences",
    "signing_keys",
    "ssh_ca_keys",
    "access_token_cutoffs",
    "scim_clients",
    "scim_resources",
    "activity_events",
    "oidc_device_pending",
    "unrecorded_ends",
];

/// Bookkeeping that any authenticated call may touch (token use, sign-in time): not a change. A
/// wrong MFA code is refused and must count toward the lockout (`mfa.rs` checks the count).
const VOLATILE_COLUMNS: [&str; 3] = ["last_used_at", "last_sign_in_at", "failed_attempts"];

/// Every row of the data tables, and the last audit sequence number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    tables: BTreeMap<&'static str, Vec<String>>,
    audit_seq: i64,
}

impl Snapshot {
    /// Cells the snapshot could not read (it would then miss changes to them).
    pub fn undecoded(&self) -> usize {
        self.tables.values().flatten().filter(|r| r.contains("<?>")).count()
    }
}

/// An audit event as far as refusals are concerned.
#[derive(Clone, Debug)]
pub(crate) struct EventBrief {
    pub action: String,
    pub outcome: String,
    pub error_code: Option<String>,
}

/// A direct connection to the test database, to see what calls changed.
pub(crate) struct Db {
    conn: sqlx::AnyConnection,
}

fn cell(row: &sqlx::any::AnyRow, i: usize) -> String {
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return format!("{v:?}");
    }
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return format!("{v:?}");
    }
    if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
        return format!("{v:?}");
    }
    if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
        return format!("{v:?}");
    }
    "<?>".into()
}

impl Db {
    pub async fn open(s: &TestServer) -> Db {
        sqlx::any::install_default_drivers();
        Db { conn: sqlx::AnyConnection::connect(&s.db.url).await.expect("connect to the test database") }
    }

    /// Runs `sql` behind the server's back (a state an older version could have left).
    pub async fn execute(&mut self, sql: &str) {
        sqlx::query(sql).execute(&mut self.conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub async fn snapshot(&mut self) -> Snapshot {
        let mut tables = BTreeMap::new();
        for t in DATA_TABLES {
            let rows = sqlx::query(&format!("SELECT * FROM {t}")).fetch_all(&mut self.conn).await.expect(t);
            let mut lines: Vec<String> = rows
                .iter()
                .map(|r| {
                    (0..r.columns().len())
                        .filter(|&i| !VOLATILE_COLUMNS.contains(&r.columns()[i].name()))
                        .map(|i| format!("{}={}", r.columns()[i].name(), cell(r, i)))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            lines.sort();
            tables.insert(t, lines);
        }
        let audit_seq = self.audit_seq().await;
        Snapshot { tables, audit_seq }
    }

    /// The sequence number of the last audit event.
    pub async fn audit_seq(&mut self) -> i64 {
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_events")
            .fetch_one(&mut self.conn)
            .await
            .expect("audit seq")
    }

    /// The audit events written after `snap` was taken.
    pub async fn events_since(&mut self, snap: &Snapshot) -> Vec<EventBrief> {
        self.events_after(snap.audit_seq).await
    }

    /// The audit events after sequence number `seq`.
    pub async fn events_after(&mut self, seq: i64) -> Vec<EventBrief> {
        let sql = format!("SELECT action, outcome, error_code FROM audit_events WHERE seq > {seq} ORDER BY seq");
        let rows = sqlx::query(&sql).fetch_all(&mut self.conn).await.expect("audit events");
        rows.iter()
            .map(|r| EventBrief {
                action: r.try_get::<String, _>(0).unwrap_or_default(),
                outcome: r.try_get::<String, _>(1).unwrap_or_default(),
                error_code: r.try_get::<Option<String>, _>(2).ok().flatten(),
            })
            .collect()
    }

    /// What changed since `before`: changed data tables (with the rows that differ) and audit events
    /// other than failures (empty when a refused call behaved), and the state now.
    pub async fn changes_since(&mut self, before: &Snapshot) -> (Vec<String>, Snapshot) {
        let after = self.snapshot().await;
        let mut out = Vec::new();
        for (t, rows) in &before.tables {
            let now = &after.tables[t];
            if rows != now {
                let gone: Vec<_> = rows.iter().filter(|r| !now.contains(r)).take(2).collect();
                let new: Vec<_> = now.iter().filter(|r| !rows.contains(r)).take(2).collect();
                out.push(format!(
                    "{t} changed ({} -> {} rows; removed/old {gone:?}; added/new {new:?})",
                    rows.len(),
                    now.len()
                ));
            }
        }
        for e in self.events_since(before).await {
            if e.outcome != "failure" {
                out.push(format!("audit event '{}' with outcome {}", e.action, e.outcome));
            }
        }
        (out, after)
    }
}

/// The database watch the other tests rely on does see changes, in every table it watches.
async fn the_database_watch_sees_changes(b: Backend) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let mut db = Db::open(&s).await;
    let snap = db.snapshot().await;
    assert_eq!(snap.undecoded(), 0, "every cell is read");
    for t in [
        "principals",
        "credentials",
        "memberships",
        "roles",
        "role_settings",
        "resources",
        "assignments",
        "requests",
        "api_tokens",
        "access_reviews",
        "access_review_instances",
        "access_review_items",
    ] {
        assert!(!snap.tables[t].is_empty(), "the fixture has rows in {t}");
    }
    let mut before = snap;
    let expect = |changes: Vec<String>, table: &str, what: &str| {
        assert!(changes.iter().any(|c| c.starts_with(table)), "{what} is seen in {table}: {changes:?}");
        assert!(changes.iter().any(|c| c.starts_with("audit event")), "{what}'s success event is seen: {changes:?}");
    };
    let patch = UpdateUser { display_name: Some("Alice A.".into()), ..Default::default() };
    s.admin.update_user(fx.alice, &patch).await.expect("patch");
    let (changes, after) = db.changes_since(&before).await;
    expect(changes, "principals", "a new display name");
    before = after;
    let mut r = CreateRequest::for_assignment(RequestAction::AdminUpdate, fx.b_elig);
    r.end = Some(fx.now.plus_millis(DAY_MS));
    s.admin.create_request(&r).await.expect("shorten");
    let (changes, after) = db.changes_since(&before).await;
    expect(changes, "assignments", "a shorter window");
    before = after;
    s.admin.remove_member(fx.grp, fx.alice).await.expect("remove member");
    let (changes, after) = db.changes_since(&before).await;
    expect(changes, "memberships", "a removed membership");
    before = after;
    let deny = DecideReviewItem { verdict: Verdict::Deny, reason: Some("not needed".into()) };
    s.admin.decide_review_item(fx.instance, fx.item, &deny).await.expect("decide");
    let (changes, after) = db.changes_since(&before).await;
    expect(changes, "access_review_items", "a reviewer's decision");
    before = after;
    s.admin.stop_review(fx.review).await.expect("stop the review");
    let (changes, after) = db.changes_since(&before).await;
    expect(changes.clone(), "access_reviews", "a stopped review");
    expect(changes, "access_review_instances", "its instance completed");
    before = after;
    s.admin.apply_review_instance(fx.instance).await.expect("apply");
    let (changes, _) = db.changes_since(&before).await;
    expect(changes.clone(), "access_review_instances", "an applied instance");
    expect(changes, "assignments", "the denied access removed");
    s.stop().await;
}

crate::backend_tests!(the_database_watch_sees_changes);
