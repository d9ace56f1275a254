//! Connectors end to end: pim grants and revokes real PostgreSQL roles as access starts and ends
//! (activation, deactivation, expiry, removal, groups, disabling), retries revokes through a target
//! outage and a restart, reconciles drift, runs each job once with two replicas, and calls a real
//! webhook receiver with signed grants and revokes. The target is the PostgreSQL server of
//! `PIM_TEST_POSTGRES_URL` (pim's own database is SQLite or PostgreSQL, by backend).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pim_domain::ProvisionState;
use pim_engine::Clock as _;
use pim_engine::connectors::{ConnectorKind, ConnectorOptions, Mapping, PostgresOptions, WebhookTarget};
use pim_engine::engine::EngineOptions;
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

use crate::harness::prelude::*;

const READ: &str = "db.read";

/// The target server's URL, or `None` (skipped with a reason; a failure when `CI=true`).
fn target_url() -> Option<String> {
    match crate::harness::postgres()? {
        Backend::Postgres(url) => Some(url),
        Backend::Sqlite => None,
    }
}

/// Roles and a table in the target, all named with a prefix of their own, dropped at the end.
struct Target {
    url: String,
    prefix: String,
}

impl Target {
    async fn new(url: &str) -> Target {
        let prefix = format!("pimt_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let t = Target { url: url.to_owned(), prefix };
        let p = &t.prefix;
        t.exec(&format!("CREATE ROLE {p}_reader NOLOGIN")).await;
        t.exec(&format!("CREATE TABLE {p}_secrets (x int)")).await;
        t.exec(&format!("INSERT INTO {p}_secrets VALUES (42)")).await;
        t.exec(&format!("GRANT SELECT ON {p}_secrets TO {p}_reader")).await;
        t
    }

    fn name(&self, s: &str) -> String {
        format!("{}_{s}", self.prefix)
    }

    async fn admin(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.expect("connect to the target")
    }

    async fn exec(&self, sql: &str) {
        let mut c = self.admin().await;
        sqlx::query(sql).execute(&mut c).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn login(&self, who: &str) {
        self.exec(&format!("CREATE ROLE {} LOGIN", self.name(who))).await;
    }

    /// A connection as `who` (trust authentication: the user name is enough).
    async fn connect_as(&self, who: &str) -> PgConnection {
        let mut opts: sqlx::postgres::PgConnectOptions = self.url.parse().expect("url");
        opts = opts.username(&self.name(who));
        PgConnection::connect_with(&opts).await.expect("connect as the login")
    }

    /// Whether `who` can read the protected table on a new connection.
    async fn can_read(&self, who: &str) -> bool {
        let mut c = self.connect_as(who).await;
        sqlx::query(&format!("SELECT x FROM {}_secrets", self.prefix)).fetch_one(&mut c).await.is_ok()
    }

    /// The members of the reader role, sorted.
    async fn readers(&self) -> Vec<String> {
        let mut c = self.admin().await;
        let mut v: Vec<String> = sqlx::query_scalar(
            "SELECT m.rolname::text FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid \
             JOIN pg_roles m ON m.oid = am.member WHERE r.rolname = $1",
        )
        .bind(self.name("reader"))
        .fetch_all(&mut c)
        .await
        .expect("members");
        v.sort();
        v
    }

    fn options(&self, name: &str, url: &str) -> ConnectorOptions {
        let mapping = Mapping {
            role: "Database Reader".into(),
            scope: sp("/databases/prod"),
            entitlement: self.name("reader"),
            terminate_sessions: true,
        };
        ConnectorOptions::new(
            name,
            ConnectorKind::Postgres(PostgresOptions { url: url.to_owned(), password: None, managed_logins: false }),
            vec![mapping],
        )
    }

    async fn drop_all(&self) {
        let mut c = self.admin().await;
        let roles: Vec<String> = sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE rolname LIKE $1")
            .bind(format!("{}%", self.prefix))
            .fetch_all(&mut c)
            .await
            .expect("roles");
        let _ = sqlx::query(&format!("DROP TABLE IF EXISTS {}_secrets", self.prefix)).execute(&mut c).await;
        for r in roles {
            let _ = sqlx::query(&format!("DROP OWNED BY \"{r}\"")).execute(&mut c).await;
            let _ = sqlx::query(&format!("DROP ROLE IF EXISTS \"{r}\"")).execute(&mut c).await;
        }
    }
}

fn with_connectors(connectors: Vec<ConnectorOptions>) -> EngineOptions {
    EngineOptions { connectors, ..EngineOptions::default() }
}

/// A pim with the Database Reader role (no MFA), `who` eligible for it at `/databases/prod`.
async fn world(
    b: &Backend,
    t: &Target,
    options: EngineOptions,
    who: &str,
) -> (TestServer, RoleId, PrincipalId, Client) {
    let s = TestServer::start_with(b, options).await;
    let role = s.custom_role("Database Reader", &[READ]).await;
    s.without_mfa(role).await;
    let (uid, client) = s.user(&t.name(who)).await;
    s.assign(uid, role, "/databases/prod", AssignmentKind::Eligible, None).await;
    (s, role, uid, client)
}

async fn run(s: &TestServer) -> pim_engine::connectors::ConnectorReport {
    s.engine.run_connectors_once().await.expect("connector run")
}

async fn activation_deactivation_and_expiry_are_real_in_postgres(b: Backend) {
    let Some(url) = target_url() else { return };
    let t = Target::new(&url).await;
    t.login("alice").await;
    let (s, role, uid, alice) = world(&b, &t, with_connectors(vec![t.options("prod-db", &url)]), "alice").await;
    assert!(!t.can_read("alice").await, "nothing before the activation");

    // Activation: granted on the next run, and the status says so.
    let a = alice.create_request(&activation(role, "/databases/prod", 60)).await.expect("activate");
    let a = a.assignment.expect("in effect");
    let pending = alice.assignment_provisioning(a.id).await.expect("status");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].state, ProvisionState::Pending, "written with the activation, not yet run");
    let r = run(&s).await;
    assert_eq!((r.granted, r.failed), (1, 0), "{r:?}");
    assert!(t.can_read("alice").await, "a real connection as the login reads the table");
    let mine = alice.my_provisioning().await.expect("mine");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].state, ProvisionState::Granted);
    assert_eq!(mine[0].account.as_deref(), Some(t.name("alice").as_str()));
    assert_eq!(run(&s).await.granted, 0, "nothing more to do");

    // Deactivation: revoked, and an open session of the login that took the role is ended.
    let mut session = t.connect_as("alice").await;
    sqlx::query(&format!("SET ROLE {}", t.name("reader"))).execute(&mut session).await.expect("set role");
    alice.create_request(&CreateRequest::for_assignment(RequestAction::SelfDeactivate, a.id)).await.expect("off");
    assert_eq!(run(&s).await.revoked, 1);
    assert!(!t.can_read("alice").await, "revoked at deactivation");
    let sql = format!("SELECT x FROM {}_secrets", t.prefix);
    assert!(sqlx::query(&sql).fetch_one(&mut session).await.is_err(), "the open session was terminated");
    let status = alice.assignment_provisioning(a.id).await.expect("status");
    assert_eq!(status[0].state, ProvisionState::Revoked);

    // Expiry: the revoke is due at the end instant, with no change at all in between.
    let a = alice.create_request(&activation(role, "/databases/prod", 30)).await.expect("activate").assignment;
    let end = a.expect("assignment").window.end.expect("end");
    assert_eq!(run(&s).await.granted, 1);
    assert!(t.can_read("alice").await);
    s.advance(end.0 - s.clock.now().0 - 1);
    assert_eq!(run(&s).await.revoked, 0, "a millisecond before the end it holds");
    assert!(t.can_read("alice").await);
    s.advance(1);
    assert_eq!(run(&s).await.revoked, 1, "at the end instant it is revoked");
    assert!(!t.can_read("alice").await);
    let events = s.audited("connector.revoked").await;
    assert_eq!(events.len(), 2, "every revoke is audited");
    assert_eq!(events[0].details["connector"], "prod-db");
    assert_eq!(s.audited("connector.granted").await.len(), 2);
    assert_eq!(uid, events[0].principal_id.expect("principal"));
    s.stop().await;
    t.drop_all().await;
}

async fn removal_groups_and_disabling_end_access(b: Backend) {
    let Some(url) = target_url() else { return };
    let t = Target::new(&url).await;
    for who in ["bob", "carol"] {
        t.login(who).await;
    }
    let (s, role, bob, _) = world(&b, &t, with_connectors(vec![t.options("prod-db", &url)]), "bob").await;
    // An administrator's active assignment, then its removal.
    let a = s.assign(bob, role, "/databases/prod", AssignmentKind::Active, None).await;
    run(&s).await;
    assert!(t.can_read("bob").await);
    s.admin.create_request(&CreateRequest::for_assignment(RequestAction::AdminRemove, a.id)).await.expect("remove");
    run(&s).await;
    assert!(!t.can_read("bob").await, "removed");

    // Through a group: joining grants, leaving revokes; nested groups count.
    let (carol, _) = s.user(&t.name("carol")).await;
    let dbas = s.group("dbas").await;
    let oncall = s.group("oncall").await;
    s.assign(dbas, role, "/", AssignmentKind::Active, None).await;
    s.admin.add_member(dbas, oncall).await.expect("nest");
    s.admin.add_member(oncall, carol).await.expect("member");
    run(&s).await;
    run(&s).await; // the group's row, then its members'
    assert!(t.can_read("carol").await, "an assignment at / on a group the user is in (nested) gives the role");
    s.admin.remove_member(oncall, carol).await.expect("leave");
    run(&s).await;
    assert!(!t.can_read("carol").await, "leaving the group ends it");

    // Disabling the group ends what its members hold through it.
    s.admin.update_group(dbas, &UpdateGroup { enabled: Some(false), ..Default::default() }).await.expect("disable");
    s.admin.add_member(oncall, carol).await.expect("member again");
    run(&s).await;
    assert!(!t.can_read("carol").await, "a disabled group confers nothing");
    s.admin.update_group(dbas, &UpdateGroup { enabled: Some(true), ..Default::default() }).await.expect("enable");
    run(&s).await;
    assert!(t.can_read("carol").await, "enabled again");
    s.admin.remove_member(oncall, carol).await.expect("leave");
    run(&s).await;

    // Disabling ends everything the principal holds.
    s.admin.add_member(oncall, carol).await.expect("member again");
    run(&s).await;
    assert!(t.can_read("carol").await);
    s.admin.update_user(carol, &UpdateUser { enabled: Some(false), ..Default::default() }).await.expect("disable");
    run(&s).await;
    assert!(!t.can_read("carol").await, "disabled");
    assert_eq!(t.readers().await, Vec::<String>::new(), "nothing is left behind");
    s.stop().await;
    t.drop_all().await;
}

/// A TCP proxy to the target that the test can cut (dropping every open connection at once and
/// every new one) and restore, on the same port.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: (String, u16)) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (flag, conns) = (cut.clone(), open.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { break };
                if flag.load(Ordering::SeqCst) {
                    continue; // dropped at once
                }
                let upstream = upstream.clone();
                let conn = tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                conns.lock().expect("conns").push(conn);
            }
        });
        Proxy { port, cut, open, task }
    }

    /// Cuts the target off: open connections are dropped now, new ones as they come.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for c in self.open.lock().expect("conns").drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

fn host_port(url: &str) -> (String, u16) {
    let opts: sqlx::postgres::PgConnectOptions = url.parse().expect("url");
    (opts.get_host().to_owned(), opts.get_port())
}

fn via(url: &str, port: u16) -> String {
    let (host, p) = host_port(url);
    url.replacen(&format!("{host}:{p}"), &format!("127.0.0.1:{port}"), 1)
}

async fn a_revoke_survives_an_outage_and_a_restart(b: Backend) {
    let Some(url) = target_url() else { return };
    let t = Target::new(&url).await;
    t.login("dave").await;
    let proxy = Proxy::start(host_port(&url)).await;
    let through = via(&url, proxy.port);
    assert_ne!(through, url, "the connector goes through the proxy");
    let options = || with_connectors(vec![t.options("prod-db", &through)]);
    let (s, role, _, dave) = world(&b, &t, options(), "dave").await;
    let a = dave.create_request(&activation(role, "/databases/prod", 30)).await.expect("activate");
    let end = a.assignment.expect("assignment").window.end.expect("end");
    run(&s).await;
    assert!(t.can_read("dave").await);

    // The target is cut off when the access ends: the revoke fails, is recorded, and is retried.
    proxy.cut();
    s.advance(end.0 - s.clock.now().0);
    for _ in 0..3 {
        let r = run(&s).await;
        assert_eq!((r.revoked, r.failed), (0, 1), "{r:?}");
        s.advance(60_000); // past any backoff (at most 30 s)
    }
    assert!(t.can_read("dave").await, "still held in the target: it could not be reached");
    let status = s.admin.principal_provisioning(&t.name("dave")).await.expect("status");
    assert_eq!(status[0].state, ProvisionState::Revoking);
    assert!(status[0].attempts >= 3 && status[0].last_error.is_some(), "{status:?}");
    assert_eq!(s.audited("connector.revoke_failed").await.len(), 3, "every attempt is audited");
    let alerts = s.admin.list_alerts(None).await.expect("alerts").items;
    assert!(alerts.iter().any(|a| a.rule_id == "connectorFailing"), "repeated failure raises the alert: {alerts:?}");
    // While the row waits out its backoff, the figures still show the failure and its age.
    assert_eq!(run(&s).await.failed, 1);
    let queue = &s.admin.list_connectors().await.expect("connectors")[0];
    assert_eq!((queue.due, queue.failing), (0, 1), "in backoff: not due, still failing");
    assert!(queue.oldest_due_age_ms.is_some_and(|age| age >= 3 * 60_000), "out of line since the end: {queue:?}");
    s.advance(60_000);
    let metrics = reqwest::get(format!("{}/metrics", s.url)).await.expect("metrics").text().await.expect("body");
    assert!(metrics.contains("pim_connector_failing{connector=\"prod-db\"} 1"), "{metrics}");
    let ready = reqwest::get(format!("{}/readyz", s.url)).await.expect("readyz").text().await.expect("body");
    assert!(ready.contains("connector prod-db: 1 due") && ready.contains("1 failing"), "{ready}");

    // pim restarts while the target is still down; then the target comes back.
    let s = s.restart(options()).await;
    assert_eq!(run(&s).await.failed, 1, "the new process retries what the old one could not do");
    proxy.restore();
    let r = run(&s).await;
    assert_eq!(r.revoked, 0, "not before the retry interval: {r:?}");
    s.advance(30_000);
    assert_eq!(run(&s).await.revoked, 1, "done within one retry interval after the target is back");
    assert!(!t.can_read("dave").await);
    let alerts = s.admin.list_alerts(None).await.expect("alerts").items;
    let failing = alerts.iter().find(|a| a.rule_id == "connectorFailing").expect("alert");
    assert_eq!(failing.state, AlertState::Resolved, "healthy again");
    proxy.task.abort();
    s.stop().await;
    t.drop_all().await;
}

async fn reconciliation_repairs_drift(b: Backend) {
    let Some(url) = target_url() else { return };
    let t = Target::new(&url).await;
    for who in ["erin", "frank", "mallory"] {
        t.login(who).await;
    }
    let (s, role, _, erin) = world(&b, &t, with_connectors(vec![t.options("prod-db", &url)]), "erin").await;
    let (frank, _) = s.user(&t.name("frank")).await;
    erin.create_request(&activation(role, "/databases/prod", 60)).await.expect("activate");
    run(&s).await;
    // By hand in PostgreSQL: erin's grant is taken away; frank (in pim, no access) and mallory (not
    // in pim at all) are given the role.
    t.exec(&format!("REVOKE {} FROM {}", t.name("reader"), t.name("erin"))).await;
    t.exec(&format!("GRANT {} TO {}, {}", t.name("reader"), t.name("frank"), t.name("mallory"))).await;
    let r = s.admin.reconcile_connector("prod-db").await.expect("reconcile");
    assert!(r.listed);
    assert_eq!(r.repaired, 1, "erin's lost grant: {r:?}");
    let mut unmanaged: Vec<String> = r.unmanaged.iter().map(|h| h.account.clone()).collect();
    unmanaged.sort();
    assert_eq!(unmanaged, vec![t.name("frank"), t.name("mallory")]);
    assert_eq!(r.revoked_unmanaged, 0, "revoke_unmanaged is off");
    run(&s).await;
    assert!(t.can_read("erin").await, "granted again");
    assert!(t.can_read("frank").await, "reported, left alone");
    let alerts = s.admin.list_alerts(None).await.expect("alerts").items;
    let outside = alerts.iter().find(|a| a.rule_id == "externalAccess").expect("roles assigned outside pim");
    assert_eq!(outside.items.len(), 2);
    assert!(outside.items.iter().any(|i| i.principal_id == Some(frank)), "frank is named as the pim user he is");
    s.stop().await;

    // With revoke_unmanaged, the same drift is revoked and erin keeps what pim granted.
    let mut o = t.options("prod-db", &url);
    o.revoke_unmanaged = true;
    let s = TestServer::start_with(&b, with_connectors(vec![o])).await;
    let r = run(&s).await; // reconciliation runs at start-up
    assert_eq!(r.granted, 0);
    assert!(!t.can_read("frank").await && !t.can_read("mallory").await, "unmanaged grants revoked");
    assert_eq!(s.audited("connector.unmanaged_revoked").await.len(), 3, "erin is unmanaged in this new pim too");
    s.stop().await;
    t.drop_all().await;
}

async fn two_replicas_run_each_job_once(b: Backend) {
    let Some(url) = target_url() else { return };
    if matches!(b, Backend::Sqlite) {
        return; // replicas share a PostgreSQL database
    }
    let t = Target::new(&url).await;
    for i in 0..10 {
        t.login(&format!("u{i}")).await;
    }
    let options = || with_connectors(vec![t.options("prod-db", &url)]);
    let s = TestServer::start_with(&b, options()).await;
    let role = s.custom_role("Database Reader", &[READ]).await;
    for i in 0..10 {
        let (uid, _) = s.user(&t.name(&format!("u{i}"))).await;
        s.assign(uid, role, "/databases/prod", AssignmentKind::Active, None).await;
    }
    let store = pim_store::Store::open(&s.db.url).await.expect("second store");
    let replica_options = EngineOptions { secret_key: s.secret_key, ..options() };
    let replica = pim_engine::Engine::open(store, s.clock.clone(), replica_options).await.expect("replica");
    let (a, b2) = tokio::join!(s.engine.run_connectors_once(), replica.run_connectors_once());
    let (a, b2) = (a.expect("first"), b2.expect("second"));
    assert_eq!(a.granted + b2.granted, 10, "every grant once: {a:?} {b2:?}");
    assert_eq!(s.audited("connector.granted").await.len(), 10, "and audited once");
    assert_eq!(t.readers().await.len(), 10);
    s.stop().await;
    t.drop_all().await;
}

/// What a webhook receiver saw: (action, account, entitlement, signature valid).
pub(crate) type Seen = Arc<std::sync::Mutex<Vec<(String, String, String, bool)>>>;

pub(crate) async fn receiver(secret: &'static str) -> (String, Seen) {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    use hmac::{Hmac, Mac};
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let log = log.clone();
            async move {
                let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
                mac.update(format!("{}.", h("x-pim-timestamp")).as_bytes());
                mac.update(&body);
                let valid = h("x-pim-signature") == format!("v1={}", hex::encode(mac.finalize().into_bytes()));
                let doc: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let s = |k: &str| doc[k].as_str().unwrap_or_default().to_owned();
                log.lock().expect("log").push((s("action"), s("account"), s("entitlement"), valid));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}/hook"), seen)
}

async fn a_webhook_target_gets_signed_grants_and_revokes(b: Backend) {
    let (url, seen) = receiver("hook-secret").await;
    let mapping = Mapping {
        role: "Database Reader".into(),
        scope: sp("/apps/crm"),
        entitlement: "crm-admin".into(),
        terminate_sessions: true,
    };
    let target = WebhookTarget { url, secret: Some("hook-secret".into()), list_url: None };
    let o = ConnectorOptions::new("crm", ConnectorKind::Webhook(target), vec![mapping]);
    let s = TestServer::start_with(&b, with_connectors(vec![o])).await;
    let role = s.custom_role("Database Reader", &[READ]).await;
    s.without_mfa(role).await;
    let (uid, gina) = s.user("gina").await;
    s.assign(uid, role, "/apps/crm", AssignmentKind::Eligible, None).await;
    let a = gina.create_request(&activation(role, "/apps/crm", 60)).await.expect("activate");
    run(&s).await;
    gina.create_request(&CreateRequest::for_assignment(RequestAction::SelfDeactivate, a.assignment.expect("a").id))
        .await
        .expect("off");
    run(&s).await;
    let seen = seen.lock().expect("seen").clone();
    assert_eq!(
        seen,
        vec![
            ("grant".to_owned(), "gina".to_owned(), "crm-admin".to_owned(), true),
            ("revoke".to_owned(), "gina".to_owned(), "crm-admin".to_owned(), true),
        ]
    );
    let statuses = s.admin.list_connectors().await.expect("connectors");
    assert_eq!(statuses.len(), 1);
    assert_eq!((statuses[0].name.as_str(), statuses[0].kind.as_str(), statuses[0].granted), ("crm", "webhook", 0));
    s.stop().await;
}

async fn a_managed_login_lives_with_the_activation_and_its_password_is_shown_once(b: Backend) {
    let Some(url) = target_url() else { return };
    let t = Target::new(&url).await;
    let mut o = t.options("warehouse", &url);
    if let ConnectorKind::Postgres(p) = &mut o.kind {
        p.managed_logins = true;
    }
    let (s, role, _, hana) = world(&b, &t, with_connectors(vec![o]), "hana").await;
    let login = t.name("hana");
    assert_eq!(code(hana.take_connector_credential("warehouse").await), "not_found", "nothing before the grant");
    let a = hana.create_request(&activation(role, "/databases/prod", 60)).await.expect("activate");
    let a = a.assignment.expect("assignment");
    let end = a.window.end.expect("end");
    run(&s).await;
    let mut admin = t.admin().await;
    let (can_login, valid_until): (bool, Option<f64>) = sqlx::query_as(
        "SELECT rolcanlogin, extract(epoch FROM rolvaliduntil)::float8 FROM pg_roles WHERE rolname = $1",
    )
    .bind(&login)
    .fetch_one(&mut admin)
    .await
    .expect("the login exists");
    assert!(can_login);
    assert_eq!(valid_until.map(|v| (v * 1000.0).round() as i64), Some(end.0), "VALID UNTIL the activation's end");
    assert!(t.can_read("hana").await, "the managed login holds the role");

    // The password is handed out once, to its owner only, and audited without it.
    let (_, other) = s.user("ivan").await;
    assert_eq!(code(other.take_connector_credential("warehouse").await), "not_found", "not someone else's");
    let c = hana.take_connector_credential("warehouse").await.expect("the credential");
    assert_eq!(c.account, login);
    assert_eq!(c.password.len(), 32);
    assert_eq!(c.expires_at, Some(end));
    assert_eq!(code(hana.take_connector_credential("warehouse").await), "not_found", "shown once");
    let taken = s.audited("connector.credential_taken").await;
    assert_eq!(taken.len(), 1);
    assert!(!serde_json::to_string(&taken[0]).expect("json").contains(&c.password), "never in the audit history");

    // A password not taken before the access ends is never handed out.
    hana.create_request(&CreateRequest::for_assignment(RequestAction::SelfDeactivate, a.id)).await.expect("off");
    run(&s).await;
    s.advance(60_000);
    let a = hana.create_request(&activation(role, "/databases/prod", 60)).await.expect("again").assignment.expect("a");
    run(&s).await;
    s.advance(60_000);
    hana.create_request(&CreateRequest::for_assignment(RequestAction::SelfDeactivate, a.id)).await.expect("off");
    assert!(!s.allowed(a.principal_id, READ, "/databases/prod").await, "deactivated");
    assert_eq!(code(hana.take_connector_credential("warehouse").await), "not_found", "not after the access ended");
    run(&s).await;
    assert_eq!(code(hana.take_connector_credential("warehouse").await), "not_found", "and dropped with the login");
    s.advance(60_000);
    let a = hana.create_request(&activation(role, "/databases/prod", 60)).await.expect("again").assignment.expect("a");
    run(&s).await;

    // At the end the login is dropped.
    hana.create_request(&CreateRequest::for_assignment(RequestAction::SelfDeactivate, a.id)).await.expect("off");
    run(&s).await;
    let left: Option<String> = sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE rolname = $1")
        .bind(&login)
        .fetch_optional(&mut admin)
        .await
        .expect("query");
    assert_eq!(left, None, "the managed login is gone");
    s.stop().await;
    t.drop_all().await;
}

/// A target whose grant moves the manual clock forward by `slow_ms`, as a slow call would: what was
/// planned at one instant is recorded at a later one.
#[derive(Default)]
struct SlowTarget {
    clock: std::sync::OnceLock<Arc<pim_engine::ManualClock>>,
    slow_ms: std::sync::atomic::AtomicI64,
    held: std::sync::Mutex<Vec<(String, String)>>,
}

type Fut<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
type CResult<T> = Result<T, pim_engine::connectors::ConnectorError>;

impl pim_engine::connectors::Connector for SlowTarget {
    fn grant<'a>(
        &'a self,
        op: &'a pim_engine::connectors::GrantOp,
    ) -> Fut<'a, CResult<pim_engine::connectors::Granted>> {
        Box::pin(async move {
            if let Some(c) = self.clock.get() {
                c.advance(self.slow_ms.load(Ordering::SeqCst));
            }
            self.held.lock().expect("held").push((op.account.clone(), op.entitlement.clone()));
            Ok(pim_engine::connectors::Granted::default())
        })
    }
    fn revoke<'a>(&'a self, op: &'a pim_engine::connectors::RevokeOp) -> Fut<'a, CResult<()>> {
        Box::pin(async move {
            self.held.lock().expect("held").retain(|(a, e)| !(a == &op.account && e == &op.entitlement));
            Ok(())
        })
    }
    fn list<'a>(&'a self, _: &'a [String]) -> Fut<'a, CResult<Option<Vec<pim_engine::connectors::Holding>>>> {
        Box::pin(async { Ok(None) })
    }
}

fn held(t: &SlowTarget) -> Vec<(String, String)> {
    t.held.lock().expect("held").clone()
}

fn pair(a: &str, e: &str) -> (String, String) {
    (a.to_owned(), e.to_owned())
}

async fn an_end_that_passes_during_a_sync_is_still_revoked(b: Backend) {
    let slow = Arc::new(SlowTarget::default());
    let mappings = vec![
        Mapping { role: "Reader A".into(), scope: sp("/"), entitlement: "a".into(), terminate_sessions: true },
        Mapping { role: "Reader B".into(), scope: sp("/"), entitlement: "b".into(), terminate_sessions: true },
    ];
    let o = ConnectorOptions::new("slow", ConnectorKind::Custom(slow.clone()), mappings);
    let s = TestServer::start_with(&b, with_connectors(vec![o])).await;
    let _ = slow.clock.set(s.clock.clone());
    let role_a = s.custom_role("Reader A", &["a.read"]).await;
    let role_b = s.custom_role("Reader B", &["b.read"]).await;
    let (uid, _) = s.user("kim").await;
    let end = Timestamp(s.clock.now().0 + 60_000);
    s.assign(uid, role_a, "/", AssignmentKind::Active, Some(end)).await;
    run(&s).await;
    assert_eq!(held(&slow), vec![pair("kim", "a")]);
    // A millisecond before a's end, b is assigned; granting it takes two seconds, past a's end.
    s.advance(end.0 - s.clock.now().0 - 1);
    s.assign(uid, role_b, "/", AssignmentKind::Active, None).await;
    slow.slow_ms.store(2_000, Ordering::SeqCst);
    run(&s).await;
    slow.slow_ms.store(0, Ordering::SeqCst);
    assert!(s.clock.now().0 > end.0, "a's end passed during the sync");
    run(&s).await;
    assert_eq!(held(&slow), vec![pair("kim", "b")], "a is revoked although its end passed mid-sync");
    s.stop().await;
}

async fn one_account_is_never_given_to_two_principals(b: Backend) {
    // Accounts named by email: two users who share an address must not share the account.
    let slow = Arc::new(SlowTarget::default());
    let mapping =
        Mapping { role: "Reader A".into(), scope: sp("/"), entitlement: "a".into(), terminate_sessions: true };
    let mut o = ConnectorOptions::new("by-mail", ConnectorKind::Custom(slow.clone()), vec![mapping]);
    o.login_attribute = pim_engine::connectors::LoginAttribute::Email;
    let s = TestServer::start_with(&b, with_connectors(vec![o])).await;
    let role = s.custom_role("Reader A", &["a.read"]).await;
    let mut ids = Vec::new();
    for name in ["lee", "lee2"] {
        let user = CreateUser {
            name: name.into(),
            display_name: None,
            email: Some("lee@example.com".into()),
            manager_id: None,
            password: None,
            emergency_access: None,
        };
        ids.push(s.admin.create_user(&user).await.expect("user").id);
    }
    s.assign(ids[0], role, "/", AssignmentKind::Active, None).await;
    run(&s).await;
    s.assign(ids[1], role, "/", AssignmentKind::Active, None).await;
    let r = run(&s).await;
    assert_eq!((r.granted, r.failed), (0, 1), "{r:?}");
    assert_eq!(held(&slow), vec![pair("lee@example.com", "a")]);
    let status = s.admin.principal_provisioning("lee2").await.expect("status");
    assert_eq!(status[0].state, ProvisionState::Failed);
    assert!(status[0].last_error.as_deref().is_some_and(|e| e.contains("another principal")), "{status:?}");
    s.stop().await;
}

async fn renaming_a_mapped_role_revokes_what_it_gave(b: Backend) {
    let slow = Arc::new(SlowTarget::default());
    let mapping =
        Mapping { role: "Reader A".into(), scope: sp("/"), entitlement: "a".into(), terminate_sessions: true };
    let o = ConnectorOptions::new("t", ConnectorKind::Custom(slow.clone()), vec![mapping]);
    let s = TestServer::start_with(&b, with_connectors(vec![o])).await;
    let role = s.custom_role("Reader A", &["a.read"]).await;
    let (uid, _) = s.user("max").await;
    s.assign(uid, role, "/", AssignmentKind::Active, None).await;
    run(&s).await;
    assert_eq!(held(&slow), vec![pair("max", "a")]);
    let perms = Permissions { actions: vec![Pattern::parse("a.read").expect("p")], not_actions: vec![] };
    let renamed = CreateRole { name: "Reader Z".into(), description: None, permissions: perms };
    s.admin.update_role("Reader A", &renamed).await.expect("rename");
    run(&s).await;
    assert!(held(&slow).is_empty(), "the renamed role no longer maps: revoked at once");
    s.stop().await;
}

async fn a_user_named_like_an_id_reads_only_its_own_provisioning(b: Backend) {
    let s = TestServer::start(&b).await;
    let (victim, _) = s.user("victim").await;
    let (_, sneaky) = s.user(&victim.to_string()).await;
    assert_eq!(code(sneaky.principal_provisioning(&victim.to_string()).await), "forbidden", "the victim's");
    assert!(sneaky.my_provisioning().await.expect("own").is_empty());
    s.stop().await;
}

crate::backend_tests!(
    an_end_that_passes_during_a_sync_is_still_revoked,
    one_account_is_never_given_to_two_principals,
    renaming_a_mapped_role_revokes_what_it_gave,
    a_user_named_like_an_id_reads_only_its_own_provisioning,
    a_managed_login_lives_with_the_activation_and_its_password_is_shown_once,
    activation_deactivation_and_expiry_are_real_in_postgres,
    removal_groups_and_disabling_end_access,
    a_revoke_survives_an_outage_and_a_restart,
    reconciliation_repairs_drift,
    two_replicas_run_each_job_once,
    a_webhook_target_gets_signed_grants_and_revokes,
);
