//! Assignments: who holds which role at which scope, eligible or active, over which window.

use futures_util::TryStreamExt as _;
use pim_domain::{
    Assignment, AssignmentId, AssignmentKind, PrincipalId, PrincipalKind, RoleId, ScopePath, Timestamp, Window,
};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::row;
use crate::sql::{Select, bind_all};

/// Which assignments to list. Every field set narrows the list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssignmentFilter {
    /// Held by this principal.
    pub principal: Option<PrincipalId>,
    /// Held by any of these principals (an empty list matches nothing).
    pub principals: Option<Vec<PrincipalId>>,
    /// Of this role.
    pub role: Option<RoleId>,
    /// At exactly this scope.
    pub scope: Option<ScopePath>,
    /// At this scope or below it.
    pub under: Option<ScopePath>,
    /// At this scope or one of its ancestors (so in force at this scope).
    pub containing: Option<ScopePath>,
    /// At exactly one of these scopes (an empty list matches nothing).
    pub scope_in: Option<Vec<ScopePath>>,
    /// Eligible or active.
    pub kind: Option<AssignmentKind>,
    /// Activations of this eligible assignment.
    pub activated_from: Option<AssignmentId>,
    /// Not ended at this time: permanent, or ending after it.
    pub not_ended_at: Option<Timestamp>,
    /// Ended at or before this time (`end <= t`).
    pub ended_before: Option<Timestamp>,
    /// Ids after this one (the cursor).
    pub after: Option<AssignmentId>,
    /// At most this many (`0`: all).
    pub limit: i64,
}

const ASSIGNMENT_COLS: &str = "id, principal_id, principal_kind, role_id, scope, kind, start_at, end_at, \
                               activated_from, created_by_request, created_at, ended_early_at";
/// [`ASSIGNMENT_COLS`] of the table aliased `a` (in a join).
const ASSIGNMENT_COLS_A: &str = "a.id, a.principal_id, a.principal_kind, a.role_id, a.scope, a.kind, a.start_at, \
                                 a.end_at, a.activated_from, a.created_by_request, a.created_at, a.ended_early_at";

fn assignment(r: &AnyRow) -> Result<Assignment> {
    Ok(Assignment {
        id: row::id(r, 0)?,
        principal_id: row::id(r, 1)?,
        principal_kind: row::name(r, 2, PrincipalKind::parse)?,
        role_id: row::id(r, 3)?,
        scope: row::scope(r, 4)?,
        kind: row::name(r, 5, AssignmentKind::parse)?,
        window: Window { start: row::ts(r, 6)?, end: row::opt_ts(r, 7)? },
        activated_from: row::opt_id(r, 8)?,
        created_by_request: row::id(r, 9)?,
        created_at: row::ts(r, 10)?,
        ended_early_at: row::opt_ts(r, 11)?,
    })
}

async fn collect(c: &mut AnyConnection, sql: &str, args: Vec<crate::sql::Arg>) -> Result<Vec<Assignment>> {
    let mut rows = bind_all(sql, args).fetch(&mut *c);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push(assignment(&r)?);
    }
    Ok(out)
}

/// Inserts an assignment.
pub async fn insert_assignment(c: &mut AnyConnection, a: &Assignment) -> Result<()> {
    insert_assignments(c, std::slice::from_ref(a)).await
}

/// Inserts assignments, many rows per statement (one statement for a single row too).
pub async fn insert_assignments(c: &mut AnyConnection, list: &[Assignment]) -> Result<()> {
    let (_, per) = crate::q::chunk_sizes(c, ASSIGNMENT_INSERT_COLS);
    for chunk in list.chunks(per) {
        let sql = insert_assignments_sql(crate::sql::is_sqlite(c), chunk.len(), 1);
        bind_assignments(sqlx::query(&sql), chunk).execute(&mut *c).await?;
    }
    Ok(())
}

/// Values per row of [`insert_assignments_sql`].
pub(crate) const ASSIGNMENT_INSERT_COLS: usize = 12;

/// The `INSERT` of `n` assignments, PostgreSQL's placeholders from `$first`; bound by
/// [`bind_assignments`].
pub(crate) fn insert_assignments_sql(sqlite: bool, n: usize, first: usize) -> String {
    format!(
        "INSERT INTO assignments (id, principal_id, principal_kind, role_id, scope, kind, start_at, end_at, \
         activated_from, created_by_request, created_at, ended_early_at) VALUES {}",
        crate::q::values_rows_from(sqlite, n, ASSIGNMENT_INSERT_COLS, first)
    )
}

/// Binds the values of [`insert_assignments_sql`] for `list`.
pub(crate) fn bind_assignments<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    list: &[Assignment],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for a in list {
        q = q
            .bind(a.id.to_string())
            .bind(a.principal_id.to_string())
            .bind(a.principal_kind.as_str())
            .bind(a.role_id.to_string())
            .bind(a.scope.as_str().to_owned())
            .bind(a.kind.as_str())
            .bind(a.window.start.0)
            .bind(a.window.end.map(|t| t.0))
            .bind(a.activated_from.map(|v| v.to_string()))
            .bind(a.created_by_request.to_string())
            .bind(a.created_at.0)
            .bind(a.ended_early_at.map(|t| t.0));
    }
    q
}

/// Updates an assignment's window and `ended_early_at`. When the end changes, the expiry is
/// no longer recorded (it will be reported again by [`unrecorded_expirations`] once it passes: a
/// trigger of migration 0020 moves its row of `unrecorded_ends`), and the reminders of the old end
/// no longer count (see [`due_reminders`]).
pub async fn update_assignment(c: &mut AnyConnection, a: &Assignment) -> Result<()> {
    sqlx::query(
        "UPDATE assignments SET start_at = $2, end_at = $3, ended_early_at = $4, \
         reminder_stage = CASE WHEN end_at IS NOT DISTINCT FROM $3 THEN reminder_stage ELSE 0 END \
         WHERE id = $1",
    )
    .bind(a.id.to_string())
    .bind(a.window.start.0)
    .bind(a.window.end.map(|t| t.0))
    .bind(a.ended_early_at.map(|t| t.0))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The assignment with this id.
pub async fn get_assignment(c: &mut AnyConnection, id: AssignmentId) -> Result<Option<Assignment>> {
    let sql = format!("SELECT {ASSIGNMENT_COLS} FROM assignments WHERE id = $1");
    let r = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(assignment).transpose()
}

/// The assignments with these ids (those that exist, in no particular order; see
/// [`crate::q::rows_by_ids`]): the change feed's follower reads those of a page of entries at once.
pub async fn get_assignments(c: &mut AnyConnection, ids: &[AssignmentId]) -> Result<Vec<Assignment>> {
    crate::q::rows_by_ids(c, ASSIGNMENT_COLS, "assignments", ids, assignment).await
}

/// Assignments matching `f`, ordered by id.
pub async fn list_assignments(c: &mut AnyConnection, f: &AssignmentFilter) -> Result<Vec<Assignment>> {
    let mut s = Select::new(&format!("SELECT {ASSIGNMENT_COLS} FROM assignments"));
    if let Some(p) = f.principal {
        s.eq("principal_id", p.to_string());
    }
    if let Some(ps) = &f.principals {
        s.any_of("principal_id", ps.iter().map(|p| p.to_string()));
    }
    if let Some(r) = f.role {
        s.eq("role_id", r.to_string());
    }
    if let Some(sc) = &f.scope {
        s.eq("scope", sc.as_str());
    }
    if let Some(u) = &f.under {
        s.at_or_below("scope", u);
    }
    if let Some(sc) = &f.containing {
        s.any_of("scope", sc.self_and_ancestors().iter().map(|a| a.as_str()));
    }
    if let Some(sc) = &f.scope_in {
        s.any_of("scope", sc.iter().map(|a| a.as_str()));
    }
    if let Some(k) = f.kind {
        s.eq("kind", k.as_str());
    }
    if let Some(a) = f.activated_from {
        s.eq("activated_from", a.to_string());
    }
    if let Some(t) = f.not_ended_at {
        let p = s.arg(t.0);
        s.cond(format!("(end_at IS NULL OR end_at > {p})"));
    }
    if let Some(t) = f.ended_before {
        let p = s.arg(t.0);
        s.cond(format!("end_at <= {p}"));
    }
    if let Some(a) = f.after {
        let p = s.arg(a.to_string());
        s.cond(format!("id > {p}"));
    }
    if s.empty {
        return Ok(Vec::new());
    }
    let (sql, args) = s.finish("id", f.limit);
    collect(c, &sql, args).await
}

/// A (principal, role, scope) whose assignments [`current_assignments_at`] reads.
pub type AssignmentKey = (PrincipalId, RoleId, ScopePath);

/// The assignments not ended at `now` held by each key's principal, of its role, at exactly its
/// scope, ordered by id (a key listed twice reads its rows once): the batch read of group commit,
/// the requesters and their groups at each activation's scope and its ancestors.
///
/// Each key is one probe of `assignments_role_scope_principal` (migration 0021), joined from a
/// list of the keys, so the plan does not depend on the table's statistics: `IN` lists of
/// principals and scopes with the role (as [`list_assignments`] reads) were answered, on a table
/// grown fast and not analysed yet, with a bitmap AND of the principal and the role alone, every
/// row of the role read (15,000 after two bench rounds, 3.2 ms a batch); a planner that estimates
/// the principal and the role alone as selective leaves the scopes out of any index.
pub async fn current_assignments_at(
    c: &mut AnyConnection,
    keys: &[AssignmentKey],
    now: Timestamp,
) -> Result<Vec<Assignment>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(crate::q::chunk_sizes(c, 3).1) {
        let (sql, args) = current_assignments_sql(crate::sql::is_sqlite(c), chunk, now);
        out.extend(collect(c, &sql, args).await?);
    }
    out.sort_by_key(|a| a.id);
    out.dedup_by_key(|a| a.id);
    Ok(out)
}

/// The plan the database chooses for [`current_assignments_at`] of `keys` (one statement's
/// worth), one line per step (PostgreSQL's `EXPLAIN`, SQLite's `EXPLAIN QUERY PLAN` details): for
/// tests that the read is served by the index meant for it.
pub async fn explain_current_assignments_at(
    c: &mut AnyConnection,
    keys: &[AssignmentKey],
    now: Timestamp,
) -> Result<String> {
    let sqlite = crate::sql::is_sqlite(c);
    let (sql, args) = current_assignments_sql(sqlite, keys, now);
    let sql = if sqlite { format!("EXPLAIN QUERY PLAN {sql}") } else { format!("EXPLAIN {sql}") };
    let rows = bind_all(&sql, args).fetch_all(&mut *c).await?;
    let col = if sqlite { 3 } else { 0 };
    let lines: Vec<String> = rows.iter().map(|r| row::text(r, col)).collect::<Result<_>>()?;
    Ok(lines.join("\n"))
}

/// The text and values of [`current_assignments_at`] for `keys` (at least one).
fn current_assignments_sql(sqlite: bool, keys: &[AssignmentKey], now: Timestamp) -> (String, Vec<crate::sql::Arg>) {
    let mut args: Vec<crate::sql::Arg> = Vec::with_capacity(keys.len() * 3 + 1);
    for (p, r, s) in keys {
        args.push(p.to_string().into());
        args.push(r.to_string().into());
        args.push(s.as_str().into());
    }
    args.push(now.0.into());
    let sql = format!(
        "WITH k (p, r, s) AS (VALUES {}) SELECT {ASSIGNMENT_COLS_A} FROM k JOIN assignments a \
         ON a.principal_id = k.p AND a.role_id = k.r AND a.scope = k.s \
         WHERE (a.end_at IS NULL OR a.end_at > {}) ORDER BY a.id",
        crate::q::values_rows_from(sqlite, keys.len(), 3, 1),
        if sqlite { "?".to_owned() } else { format!("${}", keys.len() * 3 + 1) }
    );
    (sql, args)
}

/// Every assignment that has not ended at `now` (in effect, or starting later), ordered by id,
/// streamed and decoded row by row: this loads the access index.
pub async fn all_current_assignments(c: &mut AnyConnection, now: Timestamp) -> Result<Vec<Assignment>> {
    let sql = format!("SELECT {ASSIGNMENT_COLS} FROM assignments WHERE end_at IS NULL OR end_at > $1 ORDER BY id");
    collect(c, &sql, vec![now.0.into()]).await
}

/// Assignments that have ended at `now` whose expiry has not been recorded yet, oldest end first.
pub async fn unrecorded_expirations(c: &mut AnyConnection, now: Timestamp, limit: i64) -> Result<Vec<Assignment>> {
    unrecorded_expirations_after(c, now, None, limit).await
}

/// [`unrecorded_expirations`] after the (end, id) `after` in that order: the expiry worker's next
/// batch of a pass starts where the last one ended. On PostgreSQL a recorded end's index entry
/// stays until a vacuum, so without it each batch of a storm walked past every entry the pass had
/// recorded before (quadratic in the storm's size).
///
/// The ends not recorded yet are the rows of `unrecorded_ends` (migration 0020; triggers keep it
/// in step with `assignments`), walked in (end, id) order by its index and joined to their
/// assignments by primary key: recorded history is never walked.
pub async fn unrecorded_expirations_after(
    c: &mut AnyConnection,
    now: Timestamp,
    after: Option<(Timestamp, AssignmentId)>,
    limit: i64,
) -> Result<Vec<Assignment>> {
    let mut s = Select::new(&format!(
        "SELECT {ASSIGNMENT_COLS_A} FROM unrecorded_ends u JOIN assignments a ON a.id = u.assignment_id"
    ));
    let p = s.arg(now.0);
    s.cond(format!("u.end_at <= {p}"));
    if let Some((end, id)) = after {
        let (pe, pi) = (s.arg(end.0), s.arg(id.to_string()));
        s.cond(format!("(u.end_at, u.assignment_id) > ({pe}, {pi})"));
    }
    let (sql, args) = s.finish("u.end_at, u.assignment_id", limit);
    collect(c, &sql, args).await
}

/// The earliest end after `now` of an assignment whose expiry is not recorded (the expiry
/// worker's next wake-up).
pub async fn next_unrecorded_end(c: &mut AnyConnection, now: Timestamp) -> Result<Option<Timestamp>> {
    let t: Option<i64> =
        sqlx::query_scalar("SELECT end_at FROM unrecorded_ends WHERE end_at > $1 ORDER BY end_at LIMIT 1")
            .bind(now.0)
            .fetch_optional(&mut *c)
            .await?;
    Ok(t.map(Timestamp))
}

/// Marks an assignment's expiry as recorded.
pub async fn mark_expiry_recorded(c: &mut AnyConnection, id: AssignmentId) -> Result<()> {
    mark_expiries_recorded(c, &[id]).await
}

/// Marks the expiries of these assignments as recorded (deletes their rows of `unrecorded_ends`,
/// leaving `assignments` untouched): on PostgreSQL 2,000 ids a statement bound as one JSON
/// parameter (see [`crate::sql::json_rows_select`]), on SQLite 500 (`?` each).
pub async fn mark_expiries_recorded(c: &mut AnyConnection, ids: &[AssignmentId]) -> Result<()> {
    const SQL: &str = "DELETE FROM unrecorded_ends WHERE assignment_id IN ";
    if crate::sql::is_sqlite(c) {
        let (per, _) = crate::q::chunk_sizes(c, 1);
        for chunk in ids.chunks(per) {
            let sql = format!("{SQL}{}", crate::q::in_list(true, chunk.len()));
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.to_string());
            }
            q.execute(&mut *c).await?;
        }
        return Ok(());
    }
    let sql = format!("{SQL}({})", crate::sql::json_texts_select("$1"));
    for chunk in ids.chunks(crate::q::JSON_ROWS) {
        sqlx::query(&sql).bind(crate::sql::json_texts(chunk)).execute(&mut *c).await?;
    }
    Ok(())
}

/// How many ends are not recorded yet (for tests and benches).
pub async fn count_unrecorded_ends(c: &mut AnyConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM unrecorded_ends").fetch_one(&mut *c).await?)
}

/// Assignments (not activations) that have not ended at `now` and owe a reminder of their end:
/// ending within `second_ms` with fewer than 2 reminders sent, or within `first_ms` with none sent.
/// Each comes with the latest reminder stage due (1 or 2); soonest end first.
pub async fn due_reminders(
    c: &mut AnyConnection,
    now: Timestamp,
    first_ms: i64,
    second_ms: i64,
    limit: i64,
) -> Result<Vec<(Assignment, i64)>> {
    let mut s = Select::new(&format!("SELECT {ASSIGNMENT_COLS} FROM assignments"));
    let p_now = s.arg(now.0);
    let p_first = s.arg(now.0.saturating_add(first_ms));
    let p_second = s.arg(now.0.saturating_add(second_ms));
    s.cond("activated_from IS NULL".to_owned());
    s.cond(format!("end_at > {p_now}"));
    s.cond(format!("((end_at <= {p_second} AND reminder_stage < 2) OR (end_at <= {p_first} AND reminder_stage < 1))"));
    let (sql, args) = s.finish("end_at, id", limit);
    let due = collect(c, &sql, args).await?;
    Ok(due
        .into_iter()
        .map(|a| {
            let second = a.window.end.is_some_and(|e| e.0 <= now.0.saturating_add(second_ms));
            (a, if second { 2 } else { 1 })
        })
        .collect())
}

/// Records which reminder of an assignment's end was sent.
pub async fn set_reminder_stage(c: &mut AnyConnection, id: AssignmentId, stage: i64) -> Result<()> {
    sqlx::query("UPDATE assignments SET reminder_stage = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(stage)
        .execute(&mut *c)
        .await?;
    Ok(())
}
