//! The queries. Each takes the connection first (`&mut AnyConnection`), so it runs on a pooled
//! connection from [`crate::Store::read`] or inside a [`crate::WriteTx`] alike.
//!
//! Lists take a `limit`; `0` (or less) means no limit. Cursors (`after`) are ids: lists are
//! ordered by id, and UUID v7 ids sort by creation time.

use sqlx::AnyConnection;

mod activity;
mod alerts;
mod approvals;
mod assignments;
mod audit;
mod changes;
mod connectors;
mod directory;
mod meta;
mod mfa;
mod oidc;
mod oidc_device;
mod outbox;
mod requests;
mod resources;
mod reviews;
mod roles;
mod scim;
mod sign_in;
mod signing;
mod ssh;
mod tokens;

pub use activity::*;
pub use alerts::*;
pub use approvals::*;
pub use assignments::*;
pub use audit::*;
pub use changes::*;
pub use connectors::*;
pub use directory::*;
pub use meta::*;
pub use mfa::*;
pub use oidc::*;
pub use oidc_device::*;
pub use outbox::*;
pub use requests::*;
pub use resources::*;
pub use reviews::*;
pub use roles::*;
pub use scim::*;
pub use sign_in::*;
pub use signing::*;
pub use ssh::*;
pub use tokens::*;

/// Rows (or ids) per PostgreSQL statement where they are bound as one JSON parameter
/// ([`crate::sql::json_rows_select`]): a bound on one statement's text, not a cost.
pub(crate) const JSON_ROWS: usize = 2_000;

/// Ids per `IN (...)` list on `c`'s backend, and rows per multi-row `INSERT` of `cols` columns,
/// where each value has its placeholder ([`values_rows`], [`in_list`]).
///
/// PostgreSQL takes up to 65,535 bound values a statement, and each statement is a round trip:
/// 500 ids, 500 rows. In SQLite a statement costs no round trip; sqlx binds a named placeholder
/// (`$n`) by looking its name up in the statement's list, quadratic in the number of them (40% of
/// a batch's time at 9,500 values), so SQLite gets anonymous `?` placeholders, bound by position:
/// 500 ids, and rows of up to 10,000 values.
pub(crate) fn chunk_sizes(c: &AnyConnection, cols: usize) -> (usize, usize) {
    if crate::sql::is_sqlite(c) { (500, (10_000 / cols).max(1)) } else { (500, (60_000 / cols).clamp(1, 500)) }
}

/// The rows of `from` (a table, its columns `cols`) whose `id` is among `ids`, each read by `row`,
/// in no particular order: on SQLite 500 ids a statement (`?` each), on PostgreSQL
/// [`JSON_ROWS`] a statement bound as one JSON parameter.
pub(crate) async fn rows_by_ids<T, I: std::fmt::Display>(
    c: &mut AnyConnection,
    cols: &str,
    from: &str,
    ids: &[I],
    row: fn(&sqlx::any::AnyRow) -> crate::error::Result<T>,
) -> crate::error::Result<Vec<T>> {
    use futures_util::TryStreamExt as _;
    let mut out = Vec::with_capacity(ids.len());
    let sqlite = crate::sql::is_sqlite(c);
    let per = if sqlite { chunk_sizes(c, 1).0 } else { JSON_ROWS };
    let json_sql = format!("SELECT {cols} FROM {from} WHERE id IN ({})", crate::sql::json_texts_select("$1"));
    for chunk in ids.chunks(per) {
        let sql;
        let q = if sqlite {
            sql = format!("SELECT {cols} FROM {from} WHERE id IN {}", in_list(true, chunk.len()));
            chunk.iter().fold(sqlx::query(&sql), |q, id| q.bind(id.to_string()))
        } else {
            sqlx::query(&json_sql).bind(crate::sql::json_texts(chunk))
        };
        let mut rows = q.fetch(&mut *c);
        while let Some(r) = rows.try_next().await? {
            out.push(row(&r)?);
        }
    }
    Ok(out)
}

/// `(?, ?, ...)` (SQLite) or `($n, ...)` (PostgreSQL, from `$1`) for `n` ids.
pub(crate) fn in_list(sqlite: bool, n: usize) -> String {
    let mut s = String::with_capacity(n * 6 + 2);
    s.push('(');
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        if sqlite {
            s.push('?');
        } else {
            s.push('$');
            s.push_str(&(i + 1).to_string());
        }
    }
    s.push(')');
    s
}

/// `($1, ..., $cols), ($cols+1, ...), ...` for `rows` rows of `cols` values, or the same with
/// `?` on SQLite (see [`chunk_sizes`]).
pub(crate) fn values_rows(sqlite: bool, rows: usize, cols: usize) -> String {
    values_rows_from(sqlite, rows, cols, 1)
}

/// [`values_rows`] numbering PostgreSQL's placeholders from `$first` (for a statement that binds
/// other values before these).
pub(crate) fn values_rows_from(sqlite: bool, rows: usize, cols: usize, first: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for k in 0..cols {
            if k > 0 {
                s.push_str(", ");
            }
            if sqlite {
                s.push('?');
            } else {
                s.push('$');
                s.push_str(&(first + r * cols + k).to_string());
            }
        }
        s.push(')');
    }
    s
}
