//! Integration tests of pim-store. Every test runs against SQLite (a file in a temporary
//! directory) and against PostgreSQL when `PIM_TEST_POSTGRES_URL` names a server (each test
//! creates, then drops, its own database `pim_test_<id>`). Without the variable the PostgreSQL
//! variants print why they skip, unless `CI=true`, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pim_domain::*;
use pim_store::{AnyConnection, Store};
use sqlx::{Connection as _, Executor as _};

mod audit;
mod concurrency;
mod directory;
mod mfa;
mod open;
mod outbox;
mod records;
mod reviews;
mod roles;

/// A fresh database with a store open on it.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("pim.db").display());
        let store = Store::open(&url).await.unwrap();
        TestDb { store, url, _dir: Some(dir), pg: None }
    }

    pub async fn postgres() -> Option<TestDb> {
        let admin = match std::env::var("PIM_TEST_POSTGRES_URL") {
            Ok(u) if !u.is_empty() => u,
            _ => {
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!("CI=true but PIM_TEST_POSTGRES_URL is not set: the PostgreSQL tests cannot run");
                }
                eprintln!(
                    "skipping the PostgreSQL variant: set PIM_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test)"
                );
                return None;
            }
        };
        sqlx::any::install_default_drivers();
        let name = format!("pim_test_{}", uuid::Uuid::now_v7().simple());
        let mut c = AnyConnection::connect(&admin).await.unwrap();
        c.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
        c.close().await.unwrap();
        let url = with_database(&admin, &name);
        let store = Store::open(&url).await.unwrap();
        Some(TestDb { store, url, _dir: None, pg: Some((admin, name)) })
    }

    /// Another store on the same database, as a second process or replica would open it.
    pub async fn reopen(&self) -> Store {
        Store::open(&self.url).await.unwrap()
    }

    /// A connection for poking at the tables directly.
    pub async fn conn(&self) -> pim_store::Conn {
        self.store.read().await.unwrap()
    }

    pub async fn finish(self) {
        self.store.close().await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else { return };
        // Runs on panic too, so a failing test leaves no database behind.
        let dropper = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let mut c = AnyConnection::connect(&admin).await.unwrap();
                c.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await.unwrap();
            });
        });
        let _ = dropper.join();
    }
}

/// `admin` with its database name replaced by `name`.
fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host_part}/{name}{query}")
}

/// Generates a SQLite and a PostgreSQL test from one body.
macro_rules! both {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($db: &$crate::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::TestDb::sqlite().await;
                body(&db).await;
                db.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = $crate::TestDb::postgres().await else { return };
                body(&db).await;
                db.finish().await;
            }
        }
    };
}
pub(crate) use both;

// ---- fixtures ----

pub fn t(ms: i64) -> Timestamp {
    Timestamp(ms)
}

pub fn scope(s: &str) -> ScopePath {
    ScopePath::parse(s).unwrap()
}

pub fn principal(kind: PrincipalKind, name: &str) -> Principal {
    Principal {
        id: PrincipalId::new(),
        kind,
        name: name.to_owned(),
        display_name: format!("{name} (display)"),
        email: None,
        description: None,
        manager_id: None,
        enabled: true,
        emergency_access: false,
        last_sign_in_at: None,
        created_at: t(1_000),
        updated_at: t(1_000),
    }
}

pub fn user(name: &str) -> Principal {
    principal(PrincipalKind::User, name)
}

pub fn group(name: &str) -> Principal {
    principal(PrincipalKind::Group, name)
}

pub async fn add(c: &mut AnyConnection, p: &Principal) {
    pim_store::q::insert_principal(c, p).await.unwrap();
}

pub fn request_for(p: &Principal, role: RoleId, at: &str, kind: AssignmentKind, window: Window) -> Request {
    Request {
        id: RequestId::new(),
        action: RequestAction::AdminAssign,
        status: RequestStatus::Provisioned,
        principal_id: p.id,
        role_id: role,
        scope: scope(at),
        kind,
        window,
        requested_by: p.id,
        justification: None,
        ticket: None,
        target_assignment: None,
        eligibility: None,
        created_at: window.start,
        updated_at: window.start,
        status_reason: None,
        duration_minutes: None,
        break_glass: false,
        approval: None,
        requester_name: None,
    }
}

pub fn assignment_for(p: &Principal, req: &Request) -> Assignment {
    Assignment {
        id: AssignmentId::new(),
        principal_id: p.id,
        principal_kind: p.kind,
        role_id: req.role_id,
        scope: req.scope.clone(),
        kind: req.kind,
        window: req.window,
        activated_from: None,
        created_by_request: req.id,
        created_at: req.created_at,
        ended_early_at: None,
    }
}

/// Inserts a request and its assignment (in one transaction) and returns the assignment.
pub async fn assign(
    store: &Store,
    p: &Principal,
    role: RoleId,
    at: &str,
    kind: AssignmentKind,
    window: Window,
) -> Assignment {
    let req = request_for(p, role, at, kind, window);
    let a = assignment_for(p, &req);
    let mut tx = store.write(window.start).await.unwrap();
    pim_store::q::insert_request(tx.conn(), &req).await.unwrap();
    pim_store::q::insert_assignment(tx.conn(), &a).await.unwrap();
    tx.commit().await.unwrap();
    a
}
