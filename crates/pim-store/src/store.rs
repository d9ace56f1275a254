//! The [`Store`]: the connection pool, its backend, pooled read connections and serialized write
//! transactions that append to the audit chain (on SQLite, on a write connection of their own).

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use pim_domain::{Assignment, AuditDraft, AuditEvent, EventId, Outcome, PrincipalId, Request, Timestamp};
use sqlx::any::AnyPoolOptions;
use sqlx::pool::{PoolConnection, PoolConnectionMetadata};
use sqlx::{Any, AnyConnection, AnyPool, Row as _, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::audit::HashInput;
use crate::error::{Result, StoreError};
use crate::migrate;
use crate::row::to_json;

/// Which database is behind the store. Dialect differences are decided here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// An embedded SQLite file (the default).
    Sqlite,
    /// A PostgreSQL server (production, several replicas).
    Postgres,
}

impl Backend {
    /// The backend a database URL names: `sqlite:...` or `postgres://...` / `postgresql://...`.
    pub fn from_url(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Config(format!(
                "database URL must start with sqlite: or postgres:// (got '{}')",
                url.split(':').next().unwrap_or_default()
            )))
        }
    }

    /// A name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The statement that opens a write transaction. SQLite takes its write lock at once
    /// (`IMMEDIATE`), so a transaction never has to upgrade a read lock and fail with
    /// `SQLITE_BUSY`; PostgreSQL serializes writers on the `audit_head` row lock instead.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }
}

/// Per-connection settings of SQLite: write-ahead log (readers never block the writer), foreign
/// keys enforced, waiting up to 5 s for another process's write lock, and `synchronous = FULL`
/// so that a committed transaction survives a power loss.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                              PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";

/// Applies [`SQLITE_PRAGMAS`] to a new SQLite connection.
fn sqlite_after_connect(
    c: &mut AnyConnection,
    _: PoolConnectionMetadata,
) -> BoxFuture<'_, std::result::Result<(), sqlx::Error>> {
    Box::pin(async move { sqlx::Executor::execute(c, SQLITE_PRAGMAS).await.map(|_| ()) })
}

/// How long a PostgreSQL connection may sit idle in the pool and be handed out without a ping.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// Pings a PostgreSQL connection before handing it out when it sat idle for [`PING_IDLE_AFTER`]
/// or more; a connection that does not answer is closed and another one taken.
fn postgres_before_acquire(
    c: &mut AnyConnection,
    meta: PoolConnectionMetadata,
) -> BoxFuture<'_, std::result::Result<bool, sqlx::Error>> {
    Box::pin(async move {
        if meta.idle_for >= PING_IDLE_AFTER {
            sqlx::Connection::ping(c).await?;
        }
        Ok(true)
    })
}

/// Tunables of the connection pool.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Most connections held open at once.
    pub max_connections: u32,
    /// How long to wait for a free connection before failing.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { max_connections: 10, acquire_timeout: Duration::from_secs(30) }
    }
}

/// The database: a connection pool and its backend. Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where write transactions run. SQLite: a pool of **one** connection, outside `pool`, so
    /// every write transaction runs on the same connection, whose page cache stays valid from one
    /// to the next (SQLite drops a connection's cache when another connection wrote; handed a
    /// different pooled connection each time, a writer read its pages again through the OS).
    /// PostgreSQL: `pool` itself (the server holds the cache).
    writes: AnyPool,
    backend: Backend,
    /// The URL the pool connects to, for the start-up read that opens connections of the native
    /// drivers ([`crate::index_load`]).
    url: Arc<str>,
    /// Serializes this process's writers before they take a connection, so waiting writers hold
    /// no connection and never spin on SQLite's busy handler. Other processes and replicas are
    /// serialized by the database (SQLite's write lock, PostgreSQL's row lock on `audit_head`).
    writer: Arc<Mutex<()>>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).field("connections", &self.pool.size()).finish()
    }
}

/// Adds `mode=rwc` (create the file if missing) to a SQLite URL that does not choose a mode.
fn sqlite_url(url: &str) -> String {
    let rest = url.trim_start_matches("sqlite:");
    if rest.contains(":memory:") || url.contains("mode=") {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}mode=rwc")
}

/// Milliseconds since the epoch by the system clock (used only at start-up).
pub(crate) fn system_now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Timestamp(ms)
}

impl Store {
    /// Opens the database at `url`, brings its schema up to date and seeds the built-in roles.
    ///
    /// `url` is `sqlite:///abs/path/pim.db`, `sqlite://relative.db` (the file is created if
    /// missing) or `postgres://user@host/db`.
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_with(url, &StoreOptions::default()).await
    }

    /// [`Store::open`] with pool options.
    pub async fn open_with(url: &str, options: &StoreOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        if backend == Backend::Sqlite && (url.contains(":memory:") || url.contains("mode=memory")) {
            // sqlx opens each connection of a pool from the URL again, and each is then an
            // in-memory database of its own: the schema would be in one, the writes in another.
            return Err(StoreError::Config(
                "an in-memory SQLite database is not supported (each pooled connection would be a \
                 database of its own); use a file, e.g. sqlite:///var/lib/pim/pim.db"
                    .into(),
            ));
        }
        // sqlx pings every connection it hands out by default: a round trip (PostgreSQL) or a
        // hand-off to the connection's thread and back (SQLite) before every read and every
        // write transaction. A SQLite connection is a file this process holds open: it is not
        // pinged. A PostgreSQL connection is pinged when it sat idle for a second or more (a
        // server restarted or a connection dropped meanwhile is found then, as before); one in
        // use moments ago is handed out as it is.
        let mut pool = AnyPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(false);
        let url = match backend {
            Backend::Sqlite => {
                pool = pool.after_connect(sqlite_after_connect);
                sqlite_url(url)
            }
            Backend::Postgres => {
                pool = pool.before_acquire(postgres_before_acquire);
                url.to_owned()
            }
        };
        let pool = pool.connect(&url).await?;
        migrate::run(&pool, backend).await?;
        let writes = match backend {
            // Opened now and kept open (no idle timeout, no lifetime): its cache is the point.
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .acquire_timeout(options.acquire_timeout)
                    .test_before_acquire(false)
                    .after_connect(sqlite_after_connect)
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => pool.clone(),
        };
        Ok(Store { pool, writes, backend, url: url.into(), writer: Arc::new(Mutex::new(())) })
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database URL the pool connects to.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The underlying pool (for health checks and tests).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A pooled connection for reads (each statement is its own transaction).
    pub async fn read(&self) -> Result<Conn> {
        Ok(Conn(self.pool.acquire().await?))
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        let mut c = self.read().await?;
        sqlx::query("SELECT 1").execute(&mut *c).await?;
        Ok(())
    }

    /// Starts a write transaction at `now`.
    ///
    /// Its first statement locks the head of the audit chain, so write transactions run one at
    /// a time across processes and replicas: invariants checked inside one are race-free, and
    /// the chain stays linear. Do not open a second write transaction while holding one.
    pub async fn write(&self, now: Timestamp) -> Result<WriteTx> {
        let guard = Arc::clone(&self.writer).lock_owned().await;
        let mut tx = self.writes.begin_with(self.backend.begin_write()).await?;
        let head = sqlx::query("UPDATE audit_head SET locked_at = $1 WHERE id = 1 RETURNING seq, hash")
            .bind(now.0)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(head) = head else {
            return Err(StoreError::corrupt("the audit chain head (audit_head row 1) is missing"));
        };
        let head_seq = crate::row::int(&head, 0)?;
        let head_hash: String = head.try_get(1)?;
        Ok(WriteTx {
            tx,
            head_seq,
            head_hash,
            appended: false,
            now,
            later: Vec::new(),
            later_audit_written: 0,
            later_changes: Vec::new(),
            later_requests: Vec::new(),
            later_assignments: Vec::new(),
            later_written: (0, 0),
            on_commit: Vec::new(),
            _guard: guard,
        })
    }

    /// Closes every connection; the store is unusable afterwards.
    pub async fn close(&self) {
        self.writes.close().await;
        self.pool.close().await;
    }
}

/// A pooled connection, returned to the pool when dropped.
pub struct Conn(PoolConnection<Any>);

impl Deref for Conn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.0
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.0
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Conn")
    }
}

/// A write transaction. Dropping it without [`WriteTx::commit`] rolls everything back, audit
/// events included.
pub struct WriteTx {
    // Field order matters: the transaction is dropped (and its rollback started) before the
    // writer lock is released.
    tx: Transaction<'static, Any>,
    head_seq: i64,
    head_hash: String,
    appended: bool,
    now: Timestamp,
    /// Audit events appended with [`WriteTx::audit_later`], written (in order, before any other)
    /// by the next [`WriteTx::audit_many`] or at [`WriteTx::commit`].
    later: Vec<(Timestamp, AuditDraft)>,
    /// How many of `later` are written.
    later_audit_written: usize,
    /// Change-feed entries recorded with [`WriteTx::record_change_later`], written at commit.
    later_changes: Vec<crate::q::ChangeEntry>,
    /// Requests and assignments inserted with [`WriteTx::insert_later`], written by
    /// [`WriteTx::write_later_rows`] or at commit.
    later_requests: Vec<Request>,
    later_assignments: Vec<Assignment>,
    /// How many of `later_requests` and `later_assignments` are written (they are kept, so that
    /// rolling back to a savepoint taken before they were written makes them unwritten again).
    later_written: (usize, usize),
    /// Run once the transaction has committed (e.g. waking a worker that has work now).
    on_commit: Vec<Box<dyn FnOnce() + Send>>,
    _guard: OwnedMutexGuard<()>,
}

/// What a [`WriteTx`] was at a savepoint (see [`WriteTx::savepoint`]).
#[derive(Debug)]
pub struct Savepoint {
    /// A savepoint in the database too (not only a [`WriteTx::mark`]).
    sql: bool,
    head_seq: i64,
    head_hash: String,
    appended: bool,
    later: usize,
    later_audit_written: usize,
    later_changes: usize,
    later_requests: usize,
    later_assignments: usize,
    later_written: (usize, usize),
    on_commit: usize,
}

impl fmt::Debug for WriteTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteTx").field("head_seq", &self.head_seq).field("now", &self.now).finish()
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

impl WriteTx {
    /// The connection, for the queries in [`crate::q`].
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// The time the transaction was started with.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Appends a hash-chained audit event at time `at` and returns it as stored.
    /// Every field is bounded first ([`crate::bound`]): what is chained is what is stored.
    pub async fn audit(&mut self, at: Timestamp, draft: AuditDraft) -> Result<AuditEvent> {
        let mut events = self.audit_many(at, vec![draft]).await?;
        events.pop().ok_or_else(|| StoreError::corrupt("an appended audit event went missing"))
    }

    /// Appends hash-chained audit events at time `at`, in order, many rows per statement (one
    /// round trip each), and returns them as stored. The chain is the same as
    /// appending them one by one with [`WriteTx::audit`].
    pub async fn audit_many(&mut self, at: Timestamp, drafts: Vec<AuditDraft>) -> Result<Vec<AuditEvent>> {
        let n = drafts.len();
        // Those appended for later come first: the chain keeps the order of appending. They are
        // kept: rolling back to a savepoint taken before they were written makes them unwritten.
        let mut items: Vec<(Timestamp, AuditDraft)> = self.later[self.later_audit_written..].to_vec();
        items.extend(drafts.into_iter().map(|d| (at, d)));
        let mut events = self.append(items).await?;
        self.later_audit_written = self.later.len();
        Ok(events.split_off(events.len() - n))
    }

    /// Appends a hash-chained audit event at time `at` without writing it yet: it is written,
    /// with the others appended so, in one statement by the next [`WriteTx::audit_many`] (before
    /// that one's) or at [`WriteTx::commit`], in this transaction either way. Used where many
    /// requests share a transaction (group commit), so that their events cost one statement.
    pub fn audit_later(&mut self, at: Timestamp, draft: AuditDraft) {
        self.later.push((at, draft));
    }

    /// Records a change-feed entry to be written at commit, with the others recorded so, in one
    /// statement (see [`crate::q::record_changes`]).
    pub fn record_change_later(&mut self, kind: &str, entity: String, at: Timestamp) {
        self.later_changes.push(crate::q::ChangeEntry { kind: kind.to_owned(), entity, at });
    }

    /// Inserts a request (and the assignment it creates) without writing them yet: they are
    /// written, with the others inserted so, in one statement per table by
    /// [`WriteTx::write_later_rows`] or at commit, in this transaction either way. Until then
    /// no statement of this transaction sees them: the caller writes them first when a later
    /// statement could (see [`WriteTx::has_later_rows_of`]).
    pub fn insert_later(&mut self, request: Request, assignment: Option<Assignment>) {
        self.later_requests.push(request);
        self.later_assignments.extend(assignment);
    }

    /// Whether a request inserted with [`WriteTx::insert_later`] and not written yet concerns
    /// `principal` (as its subject or its requester).
    pub fn has_later_rows_of(&self, principal: PrincipalId) -> bool {
        self.later_requests[self.later_written.0..]
            .iter()
            .any(|r| r.principal_id == principal || r.requested_by == principal)
    }

    /// Writes the requests and assignments inserted with [`WriteTx::insert_later`] now.
    pub async fn write_later_rows(&mut self) -> Result<()> {
        let (r, a) = self.later_written;
        if r < self.later_requests.len() {
            crate::q::insert_requests(&mut self.tx, &self.later_requests[r..]).await?;
            self.later_written.0 = self.later_requests.len();
        }
        if a < self.later_assignments.len() {
            crate::q::insert_assignments(&mut self.tx, &self.later_assignments[a..]).await?;
            self.later_written.1 = self.later_assignments.len();
        }
        Ok(())
    }

    /// Writes `items` as the next events of the chain, many rows per statement.
    async fn append(&mut self, items: Vec<(Timestamp, AuditDraft)>) -> Result<Vec<AuditEvent>> {
        let events = self.chain(items)?;
        for chunk in events.chunks(crate::q::JSON_ROWS) {
            insert_events(&mut self.tx, chunk).await?;
        }
        Ok(events.into_iter().map(|(e, _)| e).collect())
    }

    /// Chains `items` as the next events after the head (which becomes the last of them), each
    /// with its `details` as stored; writes nothing.
    fn chain(&mut self, items: Vec<(Timestamp, AuditDraft)>) -> Result<Vec<(AuditEvent, String)>> {
        let mut events = Vec::with_capacity(items.len());
        let (mut seq, mut head) = (self.head_seq, self.head_hash.clone());
        for (at, draft) in items {
            let draft = crate::bound::bound_draft(draft);
            seq += 1;
            let id = EventId::new();
            let outcome = if draft.error_code.is_none() { Outcome::Success } else { Outcome::Failure };
            let details = to_json(&draft.details)?;
            let (id_s, actor, principal, role, request) = (
                id.to_string(),
                draft.actor_id.map(|v| v.to_string()),
                draft.principal_id.map(|v| v.to_string()),
                draft.role_id.map(|v| v.to_string()),
                draft.request_id.map(|v| v.to_string()),
            );
            let hash = HashInput {
                prev_hash: &head,
                seq,
                id: &id_s,
                at: at.0,
                action: &draft.action,
                outcome: outcome.as_str(),
                error_code: draft.error_code.as_deref(),
                actor_id: actor.as_deref(),
                actor_name: draft.actor_name.as_deref(),
                principal_id: principal.as_deref(),
                role_id: role.as_deref(),
                scope: draft.scope.as_ref().map(|s| s.as_str()),
                justification: draft.justification.as_deref(),
                ticket: draft.ticket.as_deref(),
                request_id: request.as_deref(),
                http_request_id: draft.http_request_id.as_deref(),
                client_addr: draft.client_addr.as_deref(),
                details: &details,
            }
            .hash();
            let prev_hash = std::mem::replace(&mut head, hash.clone());
            events.push((
                AuditEvent {
                    seq,
                    id,
                    at,
                    action: draft.action,
                    outcome,
                    error_code: draft.error_code,
                    actor_id: draft.actor_id,
                    actor_name: draft.actor_name,
                    principal_id: draft.principal_id,
                    role_id: draft.role_id,
                    scope: draft.scope,
                    justification: draft.justification,
                    ticket: draft.ticket,
                    request_id: draft.request_id,
                    http_request_id: draft.http_request_id,
                    client_addr: draft.client_addr,
                    details: draft.details,
                    prev_hash,
                    hash,
                },
                details,
            ));
        }
        if !events.is_empty() {
            self.head_seq = seq;
            self.head_hash = head;
            self.appended = true;
        }
        Ok(events)
    }

    /// Records the new head of the audit chain and commits.
    pub async fn commit(mut self) -> Result<()> {
        if self.write_at_commit_in_one().await? {
            self.tx.commit().await?;
            for f in self.on_commit.drain(..) {
                f();
            }
            return Ok(());
        }
        self.write_later_rows().await?;
        if self.later_audit_written < self.later.len() {
            let later = self.later.split_off(self.later_audit_written);
            self.append(later).await?;
        }
        if !self.later_changes.is_empty() {
            let changes = std::mem::take(&mut self.later_changes);
            crate::q::record_changes(&mut self.tx, &changes).await?;
        }
        if self.appended {
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(self.head_seq)
                .bind(self.head_hash.clone())
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await?;
        for f in self.on_commit.drain(..) {
            f();
        }
        Ok(())
    }

    /// Writes what is kept for the commit (the requests and assignments inserted for later, the
    /// audit events appended for later, the change-feed entries) and the new head of the chain
    /// in **one** statement, when each fits one statement: on SQLite the statements one after
    /// the other in one text (one hand-off to the connection's thread instead of five), on
    /// PostgreSQL one statement of data-modifying `WITH` queries (one round trip instead of
    /// five; the deferred foreign keys are checked at commit). The rows and their order are
    /// those of the statements one by one. Returns false, having written nothing, when a part
    /// is too large for one statement (the caller writes them one by one).
    async fn write_at_commit_in_one(&mut self) -> Result<bool> {
        let sqlite = crate::sql::is_sqlite(&self.tx);
        if !self.kept_fits_one_statement(sqlite) {
            return Ok(false);
        }
        let later = self.later.split_off(self.later_audit_written);
        let events = self.chain(later)?;
        let requests = &self.later_requests[self.later_written.0..];
        let assignments = &self.later_assignments[self.later_written.1..];
        let changes = &self.later_changes[..];
        // The statements, PostgreSQL's placeholders numbered across them.
        let mut parts: Vec<String> = Vec::new();
        let mut next = 1;
        if !requests.is_empty() {
            parts.push(crate::q::insert_requests_sql(sqlite, requests.len(), next));
            next += requests.len() * crate::q::REQUEST_INSERT_COLS;
        }
        if !assignments.is_empty() {
            parts.push(crate::q::insert_assignments_sql(sqlite, assignments.len(), next));
            next += assignments.len() * crate::q::ASSIGNMENT_INSERT_COLS;
        }
        if !events.is_empty() {
            parts.push(if sqlite {
                format!(
                    "INSERT INTO audit_events ({EVENT_COLS}) VALUES {}",
                    crate::q::values_rows(true, events.len(), 19)
                )
            } else {
                let p = format!("${next}");
                next += 1;
                format!("INSERT INTO audit_events ({EVENT_COLS}) {}", crate::sql::json_rows_select(&p, &EVENT_TYPES))
            });
        }
        if !changes.is_empty() {
            parts.push(crate::q::record_changes_sql(sqlite, changes.len(), next));
            next += changes.len() * crate::q::CHANGE_INSERT_COLS;
        }
        if self.appended {
            parts.push(if sqlite {
                "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1".to_owned()
            } else {
                format!("UPDATE audit_head SET seq = ${next}, hash = ${} WHERE id = 1", next + 1)
            });
        }
        let Some(last) = parts.pop() else { return Ok(true) };
        let sql = if sqlite {
            // Each statement ends with `;`; sqlx runs them in turn, binding the `?` in order.
            parts.push(last);
            parts.join(";\n")
        } else {
            let mut sql = String::from("WITH ");
            for (k, part) in parts.iter().enumerate() {
                if k > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("w{k} AS ({part})"));
            }
            if parts.is_empty() { last } else { format!("{sql} {last}") }
        };
        let mut q = sqlx::query(&sql);
        q = crate::q::bind_requests(q, requests)?;
        q = crate::q::bind_assignments(q, assignments);
        if !events.is_empty() {
            q = if sqlite { bind_events(q, &events) } else { q.bind(events_json(&events)) };
        }
        q = crate::q::bind_changes(q, changes);
        if self.appended {
            q = q.bind(self.head_seq).bind(self.head_hash.clone());
        }
        q.execute(&mut *self.tx).await?;
        self.later_written = (self.later_requests.len(), self.later_assignments.len());
        self.later_changes.clear();
        Ok(true)
    }

    /// Whether each part of what is kept for the commit fits one statement (see
    /// [`WriteTx::write_at_commit_in_one`]).
    fn kept_fits_one_statement(&self, sqlite: bool) -> bool {
        let fits = |n: usize, cols: usize| n <= crate::q::chunk_sizes(&self.tx, cols).1;
        let events = self.later.len() - self.later_audit_written;
        fits(self.later_requests.len() - self.later_written.0, crate::q::REQUEST_INSERT_COLS)
            && fits(self.later_assignments.len() - self.later_written.1, crate::q::ASSIGNMENT_INSERT_COLS)
            && fits(self.later_changes.len(), crate::q::CHANGE_INSERT_COLS)
            && if sqlite { fits(events, 19) } else { events <= crate::q::JSON_ROWS }
    }

    /// Runs `f` once this transaction has committed (never when it rolls back).
    pub fn after_commit(&mut self, f: impl FnOnce() + Send + 'static) {
        self.on_commit.push(Box::new(f));
    }

    /// Marks a savepoint: [`WriteTx::rollback_to`] undoes everything written after it, audit
    /// events and the chain head included, and leaves the rest of the transaction to commit.
    /// Used to carry out several requests in one transaction (group commit) when one may fail.
    pub async fn savepoint(&mut self) -> Result<Savepoint> {
        sqlx::query("SAVEPOINT pim_item").execute(&mut *self.tx).await?;
        Ok(Savepoint { sql: true, ..self.mark() })
    }

    /// What the transaction keeps in memory now (what is to be written later, the chain head),
    /// without a savepoint in the database: [`WriteTx::rollback_to`] a mark forgets what was
    /// kept since, and undoes nothing in the database. For a request that writes no statement
    /// before the commit (group commit), so that refusing it costs no round trip.
    pub fn mark(&self) -> Savepoint {
        Savepoint {
            sql: false,
            head_seq: self.head_seq,
            head_hash: self.head_hash.clone(),
            appended: self.appended,
            later: self.later.len(),
            later_audit_written: self.later_audit_written,
            later_changes: self.later_changes.len(),
            later_requests: self.later_requests.len(),
            later_assignments: self.later_assignments.len(),
            later_written: self.later_written,
            on_commit: self.on_commit.len(),
        }
    }

    /// Undoes everything written since `sp` (the latest savepoint), in the database and in the
    /// chain head this transaction will record; hooks registered since are dropped. For a
    /// [`WriteTx::mark`], only what is kept in memory is undone.
    pub async fn rollback_to(&mut self, sp: Savepoint) -> Result<()> {
        if sp.sql {
            sqlx::query("ROLLBACK TO SAVEPOINT pim_item").execute(&mut *self.tx).await?;
        }
        self.head_seq = sp.head_seq;
        self.head_hash = sp.head_hash;
        self.appended = sp.appended;
        self.later.truncate(sp.later);
        self.later_audit_written = sp.later_audit_written;
        self.later_changes.truncate(sp.later_changes);
        self.later_requests.truncate(sp.later_requests);
        self.later_assignments.truncate(sp.later_assignments);
        // Rows written since the savepoint are undone: they are to be written again.
        self.later_written = sp.later_written;
        self.on_commit.truncate(sp.on_commit);
        Ok(())
    }

    /// Rolls back explicitly (dropping does the same, without waiting).
    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

/// The columns of `audit_events` as [`insert_events`] writes them.
const EVENT_COLS: &str = "seq, id, at, action, outcome, error_code, actor_id, actor_name, principal_id, role_id, \
                          scope, justification, ticket, request_id, http_request_id, client_addr, details, \
                          prev_hash, hash";
const EVENT_TYPES: [crate::sql::Col; 19] = {
    use crate::sql::Col::{Int, Text};
    [Int, Text, Int, Text, Text, Text, Text, Text, Text, Text, Text, Text, Text, Text, Text, Text, Text, Text, Text]
};

/// Inserts chained events (with their `details` as stored): on PostgreSQL in one statement, the
/// rows as one JSON parameter (see [`crate::sql::json_rows_select`]); on SQLite one `?` per value.
async fn insert_events(c: &mut AnyConnection, events: &[(AuditEvent, String)]) -> Result<()> {
    if crate::sql::is_sqlite(c) {
        return insert_events_bound(c, events).await;
    }
    if events.is_empty() {
        return Ok(());
    }
    let sql = format!("INSERT INTO audit_events ({EVENT_COLS}) {}", crate::sql::json_rows_select("$1", &EVENT_TYPES));
    sqlx::query(&sql).bind(events_json(events)).execute(&mut *c).await?;
    Ok(())
}

/// The rows of `events` as one JSON parameter (PostgreSQL, see [`crate::sql::json_rows_select`]).
fn events_json(events: &[(AuditEvent, String)]) -> String {
    let mut rows = crate::sql::JsonRows::default();
    for (e, details) in events {
        rows.row()
            .int(e.seq)
            .text(&e.id.to_string())
            .int(e.at.0)
            .text(&e.action)
            .text(e.outcome.as_str())
            .opt_text(e.error_code.as_deref())
            .opt_text(e.actor_id.map(|v| v.to_string()).as_deref())
            .opt_text(e.actor_name.as_deref())
            .opt_text(e.principal_id.map(|v| v.to_string()).as_deref())
            .opt_text(e.role_id.map(|v| v.to_string()).as_deref())
            .opt_text(e.scope.as_ref().map(|s| s.as_str()))
            .opt_text(e.justification.as_deref())
            .opt_text(e.ticket.as_deref())
            .opt_text(e.request_id.map(|v| v.to_string()).as_deref())
            .opt_text(e.http_request_id.as_deref())
            .opt_text(e.client_addr.as_deref())
            .text(details)
            .text(&e.prev_hash)
            .text(&e.hash);
    }
    rows.finish()
}

/// [`insert_events`] with one placeholder per value (see `chunk_sizes`).
async fn insert_events_bound(c: &mut AnyConnection, events: &[(AuditEvent, String)]) -> Result<()> {
    let (_, per) = crate::q::chunk_sizes(c, 19);
    for chunk in events.chunks(per) {
        let sql = format!(
            "INSERT INTO audit_events ({EVENT_COLS}) VALUES {}",
            crate::q::values_rows(crate::sql::is_sqlite(c), chunk.len(), 19)
        );
        bind_events(sqlx::query(&sql), chunk).execute(&mut *c).await?;
    }
    Ok(())
}

/// Binds the values of the events' `VALUES` rows (one `?` each, SQLite).
fn bind_events<'q>(
    mut q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    events: &[(AuditEvent, String)],
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    for (e, details) in events {
        q = q
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
            .bind(e.scope.as_ref().map(|s| s.as_str().to_owned()))
            .bind(e.justification.clone())
            .bind(e.ticket.clone())
            .bind(e.request_id.map(|v| v.to_string()))
            .bind(e.http_request_id.clone())
            .bind(e.client_addr.clone())
            .bind(details.clone())
            .bind(e.prev_hash.clone())
            .bind(e.hash.clone());
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_create_mode() {
        assert_eq!(sqlite_url("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db?mode=rwc");
        assert_eq!(sqlite_url("sqlite://a.db?cache=shared"), "sqlite://a.db?cache=shared&mode=rwc");
        assert_eq!(sqlite_url("sqlite://a.db?mode=ro"), "sqlite://a.db?mode=ro");
        assert_eq!(sqlite_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(Backend::from_url("postgresql://x/y").ok(), Some(Backend::Postgres));
        assert!(Backend::from_url("mysql://x").is_err());
    }
}
