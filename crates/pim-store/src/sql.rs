//! A small builder for queries whose `WHERE` clause depends on a filter: numbered `$n`
//! placeholders (which SQLite and PostgreSQL both accept) and their values.

use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

use pim_domain::ScopePath;

/// A value bound to a placeholder.
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_owned())
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

/// A `SELECT ... WHERE ... ORDER BY ... LIMIT ...` under construction.
pub(crate) struct Select {
    head: String,
    conds: Vec<String>,
    args: Vec<Arg>,
    /// Set when a condition can match nothing (e.g. `IN ()`): the query need not run.
    pub(crate) empty: bool,
}

impl Select {
    /// Starts from `SELECT ... FROM ...`.
    pub(crate) fn new(head: &str) -> Select {
        Select { head: head.to_owned(), conds: Vec::new(), args: Vec::new(), empty: false }
    }

    /// Adds a value and returns its placeholder.
    pub(crate) fn arg(&mut self, v: impl Into<Arg>) -> String {
        self.args.push(v.into());
        format!("${}", self.args.len())
    }

    /// Adds a condition (ANDed with the others).
    pub(crate) fn cond(&mut self, c: String) {
        self.conds.push(c);
    }

    /// Adds `column = $n`.
    pub(crate) fn eq(&mut self, column: &str, v: impl Into<Arg>) {
        let p = self.arg(v);
        self.cond(format!("{column} = {p}"));
    }

    /// Adds `column IN ($n, ...)`; an empty list matches nothing.
    pub(crate) fn any_of<T: Into<Arg>>(&mut self, column: &str, values: impl IntoIterator<Item = T>) {
        let ps: Vec<String> = values.into_iter().map(|v| self.arg(v)).collect();
        if ps.is_empty() {
            self.empty = true;
        } else {
            self.cond(format!("{column} IN ({})", ps.join(", ")));
        }
    }

    /// Adds "`column` is `scope` or below it" (nothing for `/`, below which everything lies).
    pub(crate) fn at_or_below(&mut self, column: &str, scope: &ScopePath) {
        if let Some(c) = self.at_or_below_expr(column, scope) {
            self.cond(c);
        }
    }

    /// The condition "`column` is `scope` or below it", or `None` for `/` (always true).
    ///
    /// Written without `LIKE`, since `_` is legal in scope names.
    pub(crate) fn at_or_below_expr(&mut self, column: &str, scope: &ScopePath) -> Option<String> {
        if scope.is_root() {
            return None;
        }
        let p = self.arg(scope.as_str());
        Some(format!("({column} = {p} OR substr({column}, 1, length({p}) + 1) = ({p} || '/'))"))
    }

    /// Adds "`column` starts with `prefix`" (no `LIKE`: `_` and `%` are ordinary characters here).
    pub(crate) fn starts_with(&mut self, column: &str, prefix: &str) {
        if !prefix.is_empty() {
            let p = self.arg(prefix);
            self.cond(format!("substr({column}, 1, length({p})) = {p}"));
        }
    }

    /// Finishes with `ORDER BY order` and, when `limit > 0`, `LIMIT limit`.
    pub(crate) fn finish(mut self, order: &str, limit: i64) -> (String, Vec<Arg>) {
        let mut sql = self.head;
        if !self.conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&self.conds.join(" AND "));
        }
        sql.push_str(" ORDER BY ");
        sql.push_str(order);
        if limit > 0 {
            self.args.push(Arg::Int(limit));
            sql.push_str(&format!(" LIMIT ${}", self.args.len()));
        }
        (sql, self.args)
    }
}

/// Binds `args` to the query text `sql`.
pub(crate) fn bind_all(sql: &str, args: Vec<Arg>) -> Query<'_, Any, AnyArguments<'_>> {
    let mut q = sqlx::query(sql);
    for a in args {
        q = match a {
            Arg::Text(s) => q.bind(s),
            Arg::Int(i) => q.bind(i),
        };
    }
    q
}
