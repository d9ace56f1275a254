//! The access index's start-up reads through each backend's native driver (rusqlite for SQLite,
//! sqlx's `PgConnection` for PostgreSQL; not the `Any` layer), each on a connection of its own and
//! only the columns the index keeps: the principals, the memberships, and every current assignment
//! in chunks read at once, merged back into id order.
//!
//! The chunks are ranges of where the rows sit, so each row is read once: on SQLite ranges of the
//! rowid (which a row keeps for its life: pim never sets it, never replaces a row, never vacuums;
//! the first range is open below, the last above), on PostgreSQL ranges of table blocks (`ctid`),
//! every chunk under one snapshot exported by the first (a row version is in exactly one block).
//! The SQLite chunks need not share a snapshot: the caller reads the change feed's position first
//! and applies every later entry again (see `Engine::reload_index`), so a row written during the
//! read converges like any other change. Each chunk is sorted by id on its own thread, then the
//! sorted chunks are merged, so the result is in id order, exactly as one `ORDER BY id` read would be.

use std::str::FromStr;

use futures_util::TryStreamExt as _;
use pim_domain::{Assignment, AssignmentId, AssignmentKind, PrincipalId, PrincipalKind, RoleId, ScopePath, Timestamp};
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::store::{Backend, Store};

/// An assignment as the access index keeps it: what decides a check, not its provenance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexAssignment {
    /// The assignment's id.
    pub id: AssignmentId,
    /// Who holds it.
    pub principal_id: PrincipalId,
    /// Its role.
    pub role_id: RoleId,
    /// Where.
    pub scope: ScopePath,
    /// Eligible or active.
    pub kind: AssignmentKind,
    /// When it starts.
    pub start: Timestamp,
    /// When it ends (`None`: permanent).
    pub end: Option<Timestamp>,
    /// When it was ended early, if it was.
    pub ended_early_at: Option<Timestamp>,
}

/// A principal as the access index keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexPrincipalRow {
    /// The principal's id.
    pub id: PrincipalId,
    /// User, group or service principal.
    pub kind: PrincipalKind,
    /// Its unique name.
    pub name: String,
    /// Whether it is enabled.
    pub enabled: bool,
}

impl From<&pim_domain::Principal> for IndexPrincipalRow {
    fn from(p: &pim_domain::Principal) -> Self {
        IndexPrincipalRow { id: p.id, kind: p.kind, name: p.name.clone(), enabled: p.enabled }
    }
}

impl From<&Assignment> for IndexAssignment {
    fn from(a: &Assignment) -> Self {
        IndexAssignment {
            id: a.id,
            principal_id: a.principal_id,
            role_id: a.role_id,
            scope: a.scope.clone(),
            kind: a.kind,
            start: a.window.start,
            end: a.window.end,
            ended_early_at: a.ended_early_at,
        }
    }
}

impl From<Assignment> for IndexAssignment {
    fn from(a: Assignment) -> Self {
        IndexAssignment {
            id: a.id,
            principal_id: a.principal_id,
            role_id: a.role_id,
            scope: a.scope,
            kind: a.kind,
            start: a.window.start,
            end: a.window.end,
            ended_early_at: a.ended_early_at,
        }
    }
}

const COLS: &str = "id, principal_id, role_id, scope, kind, start_at, end_at, ended_early_at";
/// The most chunks a read is split into.
pub const MAX_CHUNKS: usize = 16;

/// The query of the current assignments on `backend` whose place is in `range` (`None`: all).
///
/// On SQLite the table is read `NOT INDEXED` (a rowid range is still a search of the table's own
/// tree): its planner would otherwise answer the `OR` with two searches of `assignments_end` and a
/// lookup of the row for each of the ~90% of the rows that match (4.2 s instead of 1.7 s for half
/// the table in the sqlite3 module of Python); one pass over the table is what reading nearly every
/// row wants. On PostgreSQL a range of blocks is a TID range scan.
fn chunk_sql(range: Option<&Bounds>, backend: Backend) -> String {
    let (table, param) = match backend {
        Backend::Sqlite => ("assignments NOT INDEXED", "?1"),
        Backend::Postgres => ("assignments", "$1"),
    };
    let base = format!("SELECT {COLS} FROM {table} WHERE (end_at IS NULL OR end_at > {param})");
    let Some(b) = range else { return base };
    let at = |v: i64| match backend {
        Backend::Sqlite => format!("{v}"),
        Backend::Postgres => format!("'({v},0)'::tid"),
    };
    let col = match backend {
        Backend::Sqlite => "rowid",
        Backend::Postgres => "ctid",
    };
    match (b.from, b.to) {
        (Some(f), Some(t)) => format!("{base} AND {col} >= {} AND {col} < {}", at(f), at(t)),
        (Some(f), None) => format!("{base} AND {col} >= {}", at(f)),
        (None, Some(t)) => format!("{base} AND {col} < {}", at(t)),
        (None, None) => base,
    }
}

/// One chunk's range of rowids (SQLite) or of table blocks (PostgreSQL): `from` included, `to`
/// excluded, `None` unbounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bounds {
    from: Option<i64>,
    to: Option<i64>,
}

/// `n` ranges that split `lo..=hi` evenly, the first open below and the last open above, so that
/// together they take every value once.
fn split(lo: i64, hi: i64, n: usize) -> Vec<Bounds> {
    let n = n.max(1);
    let width = i128::from(hi) - i128::from(lo) + 1;
    let cut = |k: usize| {
        let k = i128::try_from(k).unwrap_or(i128::MAX);
        let n = i128::try_from(n).unwrap_or(1);
        i64::try_from(i128::from(lo) + width.max(0) * k / n).unwrap_or(hi)
    };
    (0..n).map(|k| Bounds { from: (k > 0).then(|| cut(k)), to: (k + 1 < n).then(|| cut(k + 1)) }).collect()
}

fn corrupt(column: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt(format!("column {column}: {e}"))
}

/// The columns of a row of either native driver, borrowed from the row.
trait Cols {
    fn text(&self, i: usize, name: &str) -> Result<&str>;
    fn opt_int(&self, i: usize, name: &str) -> Result<Option<i64>>;
    /// BOOLEAN in PostgreSQL, INTEGER 0/1 in SQLite.
    fn boolean(&self, i: usize, name: &str) -> Result<bool>;

    fn int(&self, i: usize, name: &str) -> Result<i64> {
        self.opt_int(i, name)?.ok_or_else(|| corrupt(name, "NULL"))
    }

    fn uuid(&self, i: usize, name: &str) -> Result<Uuid> {
        Uuid::try_parse_ascii(self.text(i, name)?.as_bytes()).map_err(|e| corrupt(name, e))
    }
}

impl Cols for rusqlite::Row<'_> {
    fn text(&self, i: usize, name: &str) -> Result<&str> {
        self.get_ref(i)?.as_str().map_err(|e| corrupt(name, e))
    }

    fn opt_int(&self, i: usize, name: &str) -> Result<Option<i64>> {
        self.get_ref(i)?.as_i64_or_null().map_err(|e| corrupt(name, e))
    }

    fn boolean(&self, i: usize, name: &str) -> Result<bool> {
        Ok(self.int(i, name)? != 0)
    }
}

impl Cols for sqlx::postgres::PgRow {
    fn text(&self, i: usize, name: &str) -> Result<&str> {
        sqlx::Row::try_get::<&str, _>(self, i).map_err(|e| corrupt(name, e))
    }

    fn opt_int(&self, i: usize, name: &str) -> Result<Option<i64>> {
        sqlx::Row::try_get::<Option<i64>, _>(self, i).map_err(|e| corrupt(name, e))
    }

    fn boolean(&self, i: usize, name: &str) -> Result<bool> {
        sqlx::Row::try_get::<bool, _>(self, i).map_err(|e| corrupt(name, e))
    }
}

/// A value decoded from one row of its query.
trait FromCols: Sized + Send + 'static {
    fn from_cols(r: &impl Cols) -> Result<Self>;
}

impl FromCols for IndexAssignment {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        let scope = r.text(3, "scope")?;
        let kind = r.text(4, "kind")?;
        Ok(IndexAssignment {
            id: AssignmentId::from(r.uuid(0, "id")?),
            principal_id: PrincipalId::from(r.uuid(1, "principal_id")?),
            role_id: RoleId::from(r.uuid(2, "role_id")?),
            scope: ScopePath::from_str(scope).map_err(|e| corrupt("scope", e))?,
            kind: AssignmentKind::parse(kind).ok_or_else(|| corrupt("kind", format!("unknown value '{kind}'")))?,
            start: Timestamp(r.int(5, "start_at")?),
            end: r.opt_int(6, "end_at")?.map(Timestamp),
            ended_early_at: r.opt_int(7, "ended_early_at")?.map(Timestamp),
        })
    }
}

const PRINCIPALS_SQL: &str = "SELECT id, kind, name, enabled FROM principals";

impl FromCols for IndexPrincipalRow {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        let kind = r.text(1, "kind")?;
        Ok(IndexPrincipalRow {
            id: PrincipalId::from(r.uuid(0, "id")?),
            kind: PrincipalKind::parse(kind).ok_or_else(|| corrupt("kind", format!("unknown value '{kind}'")))?,
            name: r.text(2, "name")?.to_owned(),
            enabled: r.boolean(3, "enabled")?,
        })
    }
}

const MEMBERSHIPS_SQL: &str = "SELECT group_id, member_id FROM memberships";

/// A static membership: (group, member).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Membership(PrincipalId, PrincipalId);

impl FromCols for Membership {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(Membership(PrincipalId::from(r.uuid(0, "group_id")?), PrincipalId::from(r.uuid(1, "member_id")?)))
    }
}

/// Merges sorted chunks into one sorted list (stable: on equal keys, earlier chunks first).
fn merge<T, K: Ord>(mut chunks: Vec<Vec<T>>, key: fn(&T) -> K) -> Vec<T> {
    while chunks.len() > 1 {
        let mut next = Vec::with_capacity(chunks.len().div_ceil(2));
        let mut it = chunks.into_iter();
        while let Some(a) = it.next() {
            match it.next() {
                Some(b) => next.push(merge_two(a, b, key)),
                None => next.push(a),
            }
        }
        chunks = next;
    }
    chunks.pop().unwrap_or_default()
}

fn merge_two<T, K: Ord>(a: Vec<T>, b: Vec<T>, key: fn(&T) -> K) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => key(x) <= key(y),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if let Some(v) = if take_a { a.next() } else { b.next() } {
            out.push(v);
        }
    }
    out
}

/// Where the native drivers connect.
enum Target {
    /// A SQLite file, opened read-only.
    Sqlite(std::path::PathBuf),
    Postgres(Box<sqlx::postgres::PgConnectOptions>),
}

impl Store {
    /// Where the native drivers connect, or `None` for an in-memory SQLite database, which another
    /// connection cannot see (read through the pool instead).
    fn native_target(&self) -> Result<Option<Target>> {
        let url = self.url();
        Ok(match self.backend() {
            Backend::Sqlite if url.contains(":memory:") || url.contains("mode=memory") => None,
            Backend::Sqlite => {
                let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
                Some(Target::Sqlite(opts.get_filename().to_owned()))
            }
            Backend::Postgres => Some(Target::Postgres(Box::new(sqlx::postgres::PgConnectOptions::from_str(url)?))),
        })
    }

    /// Runs each query at once on a native connection of its own; each result sorted by `key`,
    /// then merged.
    async fn read_native<T: FromCols, K: Ord + 'static>(
        target: &Target,
        sqls: Vec<String>,
        now: Option<Timestamp>,
        key: fn(&T) -> K,
    ) -> Result<Vec<T>> {
        let tasks: Vec<tokio::task::JoinHandle<Result<Vec<T>>>> = sqls
            .into_iter()
            .map(|sql| match target {
                Target::Sqlite(path) => {
                    let path = path.clone();
                    tokio::task::spawn_blocking(move || {
                        let mut rows = sqlite_rows::<T>(&path, &sql, now)?;
                        rows.sort_unstable_by_key(key);
                        Ok(rows)
                    })
                }
                Target::Postgres(opts) => {
                    let opts = (**opts).clone();
                    tokio::spawn(async move {
                        let mut rows = postgres_rows::<T>(&opts, &sql, now).await?;
                        // Sorting is CPU work: off the runtime's worker threads.
                        tokio::task::spawn_blocking(move || {
                            rows.sort_unstable_by_key(key);
                            rows
                        })
                        .await
                        .map_err(|e| StoreError::Config(format!("sorting rows: {e}")))
                    })
                }
            })
            .collect();
        let mut parts = Vec::with_capacity(tasks.len());
        for t in tasks {
            parts.push(t.await.map_err(|e| StoreError::Config(format!("reading rows: {e}")))??);
        }
        Ok(merge(parts, key))
    }

    /// Every assignment that has not ended at `now` (in effect, or starting later), as the access
    /// index keeps it, in id order: the same rows as [`crate::q::all_current_assignments`], read in
    /// `chunks` parts at once (at most [`MAX_CHUNKS`]), each on a connection of its own opened from
    /// the store's URL. An in-memory SQLite database is read through the pool in one part.
    pub async fn current_assignments_for_index(&self, now: Timestamp, chunks: usize) -> Result<Vec<IndexAssignment>> {
        let Some(target) = self.native_target()? else {
            let mut c = self.read().await?;
            let all = crate::q::all_current_assignments(&mut c, now).await?;
            return Ok(all.into_iter().map(IndexAssignment::from).collect());
        };
        let n = chunks.clamp(1, MAX_CHUNKS);
        let key = |a: &IndexAssignment| a.id;
        match &target {
            Target::Sqlite(path) if n > 1 => {
                let path = path.clone();
                let span = tokio::task::spawn_blocking(move || sqlite_rowids(&path))
                    .await
                    .map_err(|e| StoreError::Config(format!("reading rows: {e}")))??;
                let sqls = match span {
                    Some((lo, hi)) => split(lo, hi, n).iter().map(|b| chunk_sql(Some(b), Backend::Sqlite)).collect(),
                    None => vec![chunk_sql(None, Backend::Sqlite)],
                };
                Self::read_native(&target, sqls, Some(now), key).await
            }
            Target::Postgres(opts) if n > 1 => postgres_chunks(opts, n, now).await,
            _ => Self::read_native(&target, vec![chunk_sql(None, self.backend())], Some(now), key).await,
        }
    }

    /// Every principal as the access index keeps it, in id order (the principals of
    /// [`crate::q::all_principals`]), on a native connection of its own.
    pub async fn principals_for_index(&self) -> Result<Vec<IndexPrincipalRow>> {
        let Some(target) = self.native_target()? else {
            let mut c = self.read().await?;
            return Ok(crate::q::all_principals(&mut c).await?.iter().map(IndexPrincipalRow::from).collect());
        };
        Self::read_native(&target, vec![PRINCIPALS_SQL.to_owned()], None, |p: &IndexPrincipalRow| p.id).await
    }

    /// Every static membership as (group, member), ordered by group then member (the list of
    /// [`crate::q::all_memberships`]), on a native connection of its own.
    pub async fn memberships_for_index(&self) -> Result<Vec<(PrincipalId, PrincipalId)>> {
        let Some(target) = self.native_target()? else {
            let mut c = self.read().await?;
            return crate::q::all_memberships(&mut c).await;
        };
        let rows = Self::read_native(&target, vec![MEMBERSHIPS_SQL.to_owned()], None, |m: &Membership| *m).await?;
        Ok(rows.into_iter().map(|Membership(g, m)| (g, m)).collect())
    }
}

/// Runs one query through rusqlite on a read-only connection of its own, decoding each row while
/// it is borrowed from SQLite (no copies; no worker thread, no channel).
fn sqlite_rows<T: FromCols>(path: &std::path::Path, sql: &str, now: Option<Timestamp>) -> Result<Vec<T>> {
    use rusqlite::OpenFlags;
    let c = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.busy_timeout(std::time::Duration::from_secs(5))?;
    let mut st = c.prepare(sql)?;
    let mut rows = match now {
        Some(t) => st.query([t.0])?,
        None => st.query([])?,
    };
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(T::from_cols(r)?);
    }
    Ok(out)
}

/// The lowest and the highest rowid of the assignments (`None`: none), on a read-only connection.
fn sqlite_rowids(path: &std::path::Path) -> Result<Option<(i64, i64)>> {
    use rusqlite::OpenFlags;
    let c = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.busy_timeout(std::time::Duration::from_secs(5))?;
    let (lo, hi): (Option<i64>, Option<i64>) =
        c.query_row("SELECT min(rowid), max(rowid) FROM assignments", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(lo.zip(hi))
}

/// Runs one query through sqlx's native PostgreSQL driver on a connection of its own (each row is
/// one buffer; text columns are borrowed from it).
async fn postgres_rows<T: FromCols>(
    opts: &sqlx::postgres::PgConnectOptions,
    sql: &str,
    now: Option<Timestamp>,
) -> Result<Vec<T>> {
    use sqlx::Connection as _;
    let mut c = sqlx::PgConnection::connect_with(opts).await?;
    let out = postgres_rows_on(&mut c, sql, now).await?;
    c.close().await?;
    Ok(out)
}

async fn postgres_rows_on<T: FromCols>(
    c: &mut sqlx::PgConnection,
    sql: &str,
    now: Option<Timestamp>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let mut q = sqlx::query(sql);
    if let Some(t) = now {
        q = q.bind(t.0);
    }
    let mut rows = q.fetch(c);
    while let Some(r) = rows.try_next().await? {
        out.push(T::from_cols(&r)?);
    }
    Ok(out)
}

/// The current assignments on PostgreSQL in `n` ranges of table blocks, each on a connection of its
/// own, all in one snapshot: the first connection exports it and keeps its transaction open until
/// every other has taken it, so each row version is read exactly once. Sorted per chunk, merged.
async fn postgres_chunks(
    opts: &sqlx::postgres::PgConnectOptions,
    n: usize,
    now: Timestamp,
) -> Result<Vec<IndexAssignment>> {
    use sqlx::Connection as _;
    const BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    let mut first = sqlx::PgConnection::connect_with(opts).await?;
    sqlx::query(BEGIN).execute(&mut first).await?;
    let (snapshot, blocks): (String, i64) = sqlx::query_as(
        "SELECT pg_export_snapshot(), pg_relation_size('assignments') / current_setting('block_size')::bigint",
    )
    .fetch_one(&mut first)
    .await?;
    if snapshot.is_empty() || !snapshot.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(StoreError::corrupt(format!("unexpected snapshot id '{snapshot}'")));
    }
    let ranges = split(0, blocks.max(1) - 1, n);
    let others = ranges.iter().skip(1).map(|_| async {
        let mut c = sqlx::PgConnection::connect_with(opts).await?;
        sqlx::query(BEGIN).execute(&mut c).await?;
        sqlx::query(&format!("SET TRANSACTION SNAPSHOT '{snapshot}'")).execute(&mut c).await?;
        Ok::<_, StoreError>(c)
    });
    let others = futures_util::future::try_join_all(others).await?;
    let conns = std::iter::once(first).chain(others);
    let tasks: Vec<tokio::task::JoinHandle<Result<Vec<IndexAssignment>>>> = conns
        .zip(ranges)
        .map(|(mut c, range)| {
            tokio::spawn(async move {
                let sql = chunk_sql(Some(&range), Backend::Postgres);
                let mut rows: Vec<IndexAssignment> = postgres_rows_on(&mut c, &sql, Some(now)).await?;
                sqlx::query("COMMIT").execute(&mut c).await?;
                c.close().await?;
                tokio::task::spawn_blocking(move || {
                    rows.sort_unstable_by_key(|a| a.id);
                    rows
                })
                .await
                .map_err(|e| StoreError::Config(format!("sorting rows: {e}")))
            })
        })
        .collect();
    let mut parts = Vec::with_capacity(tasks.len());
    for t in tasks {
        parts.push(t.await.map_err(|e| StoreError::Config(format!("reading rows: {e}")))??);
    }
    Ok(merge(parts, |a: &IndexAssignment| a.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ranges_take_every_value_once_the_ends_open() {
        for (lo, hi) in [(1, 1), (1, 2), (1, 1_000_001), (-5, 7), (0, 0), (i64::MIN, i64::MAX)] {
            for n in [1, 2, 3, 7, 16] {
                let r = split(lo, hi, n);
                assert_eq!(r.len(), n);
                assert_eq!((r[0].from, r[n - 1].to), (None, None), "{lo}..={hi} in {n}");
                for w in r.windows(2) {
                    assert_eq!(w[0].to, w[1].from, "{lo}..={hi} in {n}: adjacent");
                    assert!(w[0].to.is_some());
                }
                let inside =
                    |v: i64| r.iter().filter(|b| b.from.is_none_or(|f| f <= v) && b.to.is_none_or(|t| v < t)).count();
                for v in [lo, hi, lo.saturating_add(1), hi.saturating_sub(1), lo / 2 + hi / 2, i64::MIN, i64::MAX] {
                    assert_eq!(inside(v), 1, "{v} in {lo}..={hi} in {n}");
                }
            }
        }
        assert_eq!(split(1, 100, 2)[1].from, Some(51));
    }

    #[test]
    fn the_chunk_queries_name_their_range() {
        let (pg, lite) = (Backend::Postgres, Backend::Sqlite);
        let b = |from, to| Bounds { from, to };
        assert!(chunk_sql(None, lite).ends_with("FROM assignments NOT INDEXED WHERE (end_at IS NULL OR end_at > ?1)"));
        assert!(chunk_sql(Some(&b(None, Some(5))), lite).ends_with("?1) AND rowid < 5"));
        assert!(chunk_sql(Some(&b(Some(5), Some(9))), lite).ends_with("?1) AND rowid >= 5 AND rowid < 9"));
        assert!(chunk_sql(Some(&b(Some(9), None)), lite).ends_with("?1) AND rowid >= 9"));
        assert!(chunk_sql(None, pg).ends_with("FROM assignments WHERE (end_at IS NULL OR end_at > $1)"));
        assert!(
            chunk_sql(Some(&b(Some(3), Some(8))), pg).ends_with("$1) AND ctid >= '(3,0)'::tid AND ctid < '(8,0)'::tid")
        );
        assert!(chunk_sql(Some(&b(None, None)), pg).ends_with("$1)"));
    }

    #[test]
    fn merging_keeps_id_order() {
        let a = |n: u128| IndexAssignment {
            id: AssignmentId::from(Uuid::from_u128(n)),
            principal_id: PrincipalId::from(Uuid::from_u128(1)),
            role_id: RoleId::from(Uuid::from_u128(2)),
            scope: ScopePath::root(),
            kind: AssignmentKind::Active,
            start: Timestamp(0),
            end: None,
            ended_early_at: None,
        };
        let parts = vec![vec![a(1), a(4), a(9)], vec![], vec![a(2), a(3)], vec![a(5), a(10), a(11)]];
        let ids: Vec<u128> =
            merge(parts, |a: &IndexAssignment| a.id).iter().map(|x| x.id.as_uuid().as_u128()).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5, 9, 10, 11]);
        assert!(merge(Vec::<Vec<IndexAssignment>>::new(), |a| a.id).is_empty());
    }
}
