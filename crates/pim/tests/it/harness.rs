//! Test harness: a real pim server on 127.0.0.1:0 over SQLite or PostgreSQL, a manual clock,
//! and real HTTP clients.

use std::sync::Arc;

use pim_client::Client;
use pim_domain::{PrincipalId, Timestamp};
use pim_engine::engine::EngineOptions;
use pim_engine::{Context, Engine, ManualClock};
use pim_server::AppState;
use pim_server::rate_limit::RateLimitOptions;

/// 2026-01-05T09:00:00Z, a Monday: where every test's clock starts.
pub const T0: Timestamp = Timestamp(1_767_603_600_000);
/// Password of the bootstrap administrator.
pub const ADMIN_PASSWORD: &str = "admin-password-123";

/// Which database a test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh database on the PostgreSQL server at this admin URL.
    Postgres(String),
}

/// The PostgreSQL backend if `PIM_TEST_POSTGRES_URL` is set; without it the test is skipped with a
/// printed reason, unless `CI=true`, where a missing server is a failure.
pub fn postgres() -> Option<Backend> {
    match std::env::var("PIM_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PIM_TEST_POSTGRES_URL is not set, and CI=true requires the PostgreSQL tests to run"
            );
            eprintln!("skipped: PIM_TEST_POSTGRES_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)");
            None
        }
    }
}

/// A database made for one test and removed after it.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    drop_pg: Option<(String, String)>,
}

impl TestDb {
    /// Creates a fresh database.
    pub async fn create(backend: &Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("pim.db").display());
                TestDb { url, _dir: Some(dir), drop_pg: None }
            }
            Backend::Postgres(admin) => {
                use sqlx::Connection;
                let name = format!("pim_test_{}", uuid::Uuid::now_v7().simple());
                let mut c = sqlx::PgConnection::connect(admin).await.expect("connect to PIM_TEST_POSTGRES_URL");
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut c).await.expect("create database");
                let url = with_database(admin, &name);
                TestDb { url, _dir: None, drop_pg: Some((admin.clone(), name)) }
            }
        }
    }
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{base}/{name}{query}")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.drop_pg.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c).await;
                    }
                });
            })
            .join();
        }
    }
}

/// A running server with a bootstrapped administrator.
pub struct TestServer {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The engine behind it (for jobs and direct inspection).
    pub engine: Engine,
    /// The clock every part of the server reads.
    pub clock: Arc<ManualClock>,
    /// A client signed in as the bootstrap administrator (`admin`).
    pub admin: Client,
    /// The administrator's id.
    pub admin_id: PrincipalId,
    /// The database.
    pub db: TestDb,
    /// The key the engine seals secrets with (a replica on the same database needs it).
    pub secret_key: [u8; 32],
    task: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    /// Starts a server on a fresh database with `admin` bootstrapped and signed in.
    pub async fn start(backend: &Backend) -> TestServer {
        TestServer::start_with(backend, EngineOptions::default()).await
    }

    /// [`TestServer::start`] with engine options (e.g. notification delivery).
    pub async fn start_with(backend: &Backend, options: EngineOptions) -> TestServer {
        TestServer::start_limited(backend, options, generous_rate_limit()).await
    }

    /// [`TestServer::start_with`] with the rate limit of the anonymous endpoints (the others get
    /// one no test reaches, as they all sign in from 127.0.0.1).
    pub async fn start_limited(backend: &Backend, options: EngineOptions, limit: RateLimitOptions) -> TestServer {
        let mut s = TestServer::start_empty_limited(backend, None, options, limit).await;
        let admin = pim_engine::auth::NewAdmin {
            username: "admin".into(),
            password: ADMIN_PASSWORD.into(),
            display_name: Some("The Admin".into()),
            email: Some("admin@example.com".into()),
        };
        let user = s.engine.bootstrap(&Context::system(), admin).await.expect("bootstrap");
        s.admin_id = user.id;
        let req = pim_api::LoginRequest {
            username: "admin".into(),
            password: ADMIN_PASSWORD.into(),
            token_name: None,
            otp: None,
        };
        let token = s.admin.login(&req).await.expect("admin login").token;
        // Tests move the clock by days and weeks: work with a token that outlives them.
        let session = Client::new(&s.url, Some(token)).expect("client");
        let long = pim_api::CreateTokenRequest { name: "tests".into(), expires_in_days: Some(365), principal_id: None };
        let token = session.create_token(&long).await.expect("admin token").token;
        s.admin = Client::new(&s.url, Some(token)).expect("client");
        s
    }

    /// Starts a server on a fresh database with no account, accepting `setup_secret` once.
    pub async fn start_empty(backend: &Backend, setup_secret: Option<String>) -> TestServer {
        TestServer::start_empty_with(backend, setup_secret, EngineOptions::default()).await
    }

    /// [`TestServer::start_empty`] with engine options.
    pub async fn start_empty_with(
        backend: &Backend,
        setup_secret: Option<String>,
        options: EngineOptions,
    ) -> TestServer {
        TestServer::start_empty_limited(backend, setup_secret, options, generous_rate_limit()).await
    }

    async fn start_empty_limited(
        backend: &Backend,
        setup_secret: Option<String>,
        options: EngineOptions,
        limit: RateLimitOptions,
    ) -> TestServer {
        let db = TestDb::create(backend).await;
        let clock = Arc::new(ManualClock::new(T0));
        let secret_key = options.secret_key;
        let (url, engine, task, stop) = serve_on(&db, clock.clone(), setup_secret, options, limit).await;
        let admin = Client::new(&url, None).expect("client");
        TestServer { url, engine, clock, admin, admin_id: PrincipalId::new(), db, secret_key, task, stop: Some(stop) }
    }

    /// Stops the server and starts a new one (a new store and engine, as a new process would
    /// open them) on the same database and clock, with `options`; the administrator's client
    /// keeps its token.
    pub async fn restart(mut self, options: EngineOptions) -> TestServer {
        let token = self.admin.token().map(str::to_owned);
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
        self.engine.store().close().await;
        let secret_key = options.secret_key;
        let (url, engine, task, stop) =
            serve_on(&self.db, self.clock.clone(), None, options, generous_rate_limit()).await;
        let admin = Client::new(&url, token).expect("client");
        TestServer {
            url,
            engine,
            clock: self.clock,
            admin,
            admin_id: self.admin_id,
            db: self.db,
            secret_key,
            task,
            stop: Some(stop),
        }
    }

    /// An anonymous client.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.url, None).expect("client")
    }

    /// Creates a user (no password) and returns it with a client holding a token for it.
    pub async fn user(&self, name: &str) -> (PrincipalId, Client) {
        let p = self
            .admin
            .create_user(&pim_api::CreateUser {
                name: name.into(),
                display_name: None,
                email: Some(format!("{name}@example.com")),
                manager_id: None,
                password: None,
                emergency_access: None,
            })
            .await
            .expect("create user");
        (p.id, self.client_for(p.id).await)
    }

    /// A client with a fresh token for `principal` (issued by the administrator).
    pub async fn client_for(&self, principal: PrincipalId) -> Client {
        let t = self
            .admin
            .create_token(&pim_api::CreateTokenRequest {
                name: "test".into(),
                expires_in_days: Some(365),
                principal_id: Some(principal),
            })
            .await
            .expect("create token");
        Client::new(&self.url, Some(t.token)).expect("client")
    }

    /// Creates a group.
    /// Creates service principal `name` as the administrator.
    pub async fn service_principal(&self, name: &str) -> PrincipalId {
        self.admin
            .create_service_principal(&pim_api::CreateServicePrincipal {
                name: name.into(),
                display_name: None,
                description: None,
            })
            .await
            .expect("create service principal")
            .id
    }

    pub async fn group(&self, name: &str) -> PrincipalId {
        self.admin
            .create_group(&pim_api::CreateGroup {
                name: name.into(),
                display_name: None,
                description: None,
                email: None,
            })
            .await
            .expect("create group")
            .id
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.clock.advance(ms);
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// A user's TOTP authenticator app, for tests: it computes codes at the manual clock's time
/// (RFC 6238 with totp-rs, independently of the server's copy of the secret).
pub struct TotpHelper {
    /// The secret in base 32, as enrollment showed it.
    pub secret_base32: String,
    /// The `otpauth://` URI enrollment showed.
    pub otpauth_uri: String,
    /// The recovery codes confirmation showed.
    pub recovery_codes: Vec<String>,
    totp: totp_rs::TOTP,
    /// The last time step this helper gave a code for (the server refuses it and earlier ones).
    last_step: std::sync::Mutex<Option<i64>>,
}

impl TotpHelper {
    /// A helper for the secret of an enrollment.
    pub fn new(enrollment: &pim_api::TotpEnrollment) -> TotpHelper {
        let secret = totp_rs::Secret::Encoded(enrollment.secret.clone()).to_bytes().expect("base32 secret");
        let totp = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, secret, None, String::new()).expect("totp");
        TotpHelper {
            secret_base32: enrollment.secret.clone(),
            otpauth_uri: enrollment.otpauth_uri.clone(),
            recovery_codes: Vec::new(),
            totp,
            last_step: std::sync::Mutex::new(None),
        }
    }

    /// The 30-second time step containing `t`.
    pub fn step(t: Timestamp) -> i64 {
        t.0.div_euclid(30_000)
    }

    /// The code of time step `step`.
    pub fn code_for_step(&self, step: i64) -> String {
        self.totp.generate(u64::try_from(step).expect("step after 1970") * 30)
    }

    /// The code an app shows at `t`.
    pub fn code_at(&self, t: Timestamp) -> String {
        self.code_for_step(Self::step(t))
    }

    /// The code the app shows now (by the server's manual clock), remembered as used.
    pub fn code(&self, s: &TestServer) -> String {
        let step = Self::step(s.engine.now());
        *self.last_step.lock().expect("lock") = Some(step);
        self.code_for_step(step)
    }

    /// A code the server has not seen yet: the current step's or the next one's (accepted as clock
    /// skew); when both were used, the clock moves on 30 seconds first.
    pub fn unused_code(&self, s: &TestServer) -> String {
        let mut last = self.last_step.lock().expect("lock");
        let mut step = Self::step(s.engine.now());
        if last.is_some_and(|l| l > step) {
            s.advance(30_000);
            step = Self::step(s.engine.now());
        }
        if last.is_some_and(|l| l >= step) {
            step += 1;
        }
        *last = Some(step);
        self.code_for_step(step)
    }
}

/// A rate limit of the anonymous endpoints that no test reaches by accident.
pub fn generous_rate_limit() -> RateLimitOptions {
    let many = std::num::NonZeroU32::new(100_000).expect("non-zero");
    RateLimitOptions { per_second: many, burst: many, ..RateLimitOptions::default() }
}

/// Opens a store and an engine on `db` and serves them on 127.0.0.1:0.
async fn serve_on(
    db: &TestDb,
    clock: Arc<ManualClock>,
    setup_secret: Option<String>,
    options: EngineOptions,
    limit: RateLimitOptions,
) -> (String, Engine, tokio::task::JoinHandle<()>, tokio::sync::oneshot::Sender<()>) {
    let store = pim_store::Store::open(&db.url).await.expect("open store");
    let engine = Engine::open(store, clock, options).await.expect("engine");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let state =
        AppState::with_options(engine.clone(), setup_secret, pim_server::portal::PortalOptions::default(), limit);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = pim_server::serve(listener, state, async {
            let _ = rx.await;
        })
        .await;
    });
    (url, engine, task, tx)
}

/// Shorthands used across the suite.
pub mod prelude {
    pub use super::{Backend, T0, TestServer, TotpHelper};
    pub use pim_api::*;
    pub use pim_client::{Client, ClientError};
    pub use pim_domain::role;
    pub use pim_domain::time::{DAY_MS, HOUR_MS, MINUTE_MS};

    /// Parses a scope literal.
    pub fn sp(s: &str) -> ScopePath {
        ScopePath::parse(s).expect("scope literal")
    }

    /// The problem code of a failed call (panics if it succeeded).
    pub fn code<T: std::fmt::Debug>(r: Result<T, ClientError>) -> String {
        match r {
            Ok(v) => panic!("expected a refusal, got {v:?}"),
            Err(e) => e.code().unwrap_or("<no code>").to_owned(),
        }
    }

    /// The HTTP status of a failed call.
    pub fn status<T: std::fmt::Debug>(r: Result<T, ClientError>) -> u16 {
        match r {
            Ok(v) => panic!("expected a refusal, got {v:?}"),
            Err(e) => e.status().unwrap_or(0),
        }
    }

    impl TestServer {
        /// `adminAssign` by the administrator.
        pub async fn assign(
            &self,
            principal: PrincipalId,
            role: RoleId,
            scope: &str,
            kind: AssignmentKind,
            end: Option<Timestamp>,
        ) -> Assignment {
            let mut r = CreateRequest::new(RequestAction::AdminAssign);
            r.principal_id = Some(principal);
            r.role_id = Some(role);
            r.scope = Some(sp(scope));
            r.kind = Some(kind);
            r.end = end;
            r.justification = Some("test".into());
            self.admin.create_request(&r).await.expect("adminAssign").assignment.expect("assignment")
        }

        /// Enrolls a TOTP authenticator for `client`'s user and confirms it with the current code:
        /// the session has passed MFA, and the helper holds the recovery codes.
        pub async fn enroll_mfa(&self, client: &Client) -> TotpHelper {
            let e = client.enroll_totp().await.expect("enroll");
            let mut totp = TotpHelper::new(&e);
            let confirmed = client.confirm_totp(&totp.code(self)).await.expect("confirm");
            totp.recovery_codes = confirmed.recovery_codes;
            totp
        }

        /// Passes MFA for `client`'s session with a code it has not used yet.
        pub async fn pass_mfa(&self, client: &Client, totp: &TotpHelper) -> MfaVerified {
            let body = VerifyMfa { code: Some(totp.unused_code(self)), recovery_code: None };
            client.verify_mfa(&body).await.expect("verify MFA")
        }

        /// Turns off MFA on activation for `role` at `/` (MFA arrives with the next issue).
        pub async fn without_mfa(&self, role: RoleId) {
            self.set_settings(role, "/", |s| s.require_mfa_on_activation = false).await;
        }

        /// Changes `role`'s settings at `scope` starting from the settings in force there.
        pub async fn set_settings(&self, role: RoleId, scope: &str, f: impl FnOnce(&mut RoleSettings)) {
            let mut s = self.admin.get_settings(&role.to_string(), &sp(scope)).await.expect("get settings").settings;
            f(&mut s);
            self.admin.put_settings(&role.to_string(), &sp(scope), &s).await.expect("put settings");
        }

        /// Whether `principal` may do `action` at `scope` now, asked over HTTP by the administrator.
        pub async fn allowed(&self, principal: PrincipalId, action: &str, scope: &str) -> bool {
            self.admin
                .check(&CheckRequest {
                    principal: principal.to_string(),
                    action: action.into(),
                    scope: scope.into(),
                    at: None,
                })
                .await
                .expect("check")
                .allowed
        }

        /// A custom role allowing exactly `actions`.
        pub async fn custom_role(&self, name: &str, actions: &[&str]) -> RoleId {
            let permissions = Permissions {
                actions: actions.iter().map(|a| Pattern::parse(a).expect("pattern")).collect(),
                not_actions: vec![],
            };
            self.admin
                .create_role(&CreateRole { name: name.into(), description: None, permissions })
                .await
                .expect("create role")
                .id
        }

        /// The audit events of `action`, newest first (as the administrator reads them).
        pub async fn audited(&self, action: &str) -> Vec<AuditEvent> {
            let q = AuditQuery { action: Some(action.into()), ..Default::default() };
            self.admin.list_audit(&q).await.expect("audit").items
        }

        /// The notifications of `event`, newest first.
        pub async fn notices(&self, event: &str) -> Vec<Notification> {
            let q = NotificationQuery { event: Some(event.into()), ..Default::default() };
            self.admin.list_notifications(&q).await.expect("notifications").items
        }

        /// Counts the rows of a table directly in the database.
        pub async fn count_rows(&self, table: &str) -> i64 {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut c = sqlx::AnyConnection::connect(&self.db.url).await.expect("connect");
            let n: i64 =
                sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut c).await.expect("count");
            n
        }
    }

    /// A `selfActivate` request body.
    pub fn activation(role: RoleId, scope: &str, minutes: u32) -> CreateRequest {
        let mut r = CreateRequest::new(RequestAction::SelfActivate);
        r.role_id = Some(role);
        r.scope = Some(sp(scope));
        r.duration_minutes = Some(minutes);
        r.justification = Some("incident INC-1".into());
        r
    }
}
