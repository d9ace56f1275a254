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

/// The type a column of [`json_rows_select`] is read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Col {
    /// `TEXT` (a JSON string, or `null`).
    Text,
    /// `BIGINT` (a JSON integer, or `null`).
    Int,
    /// `BOOLEAN` (`true` or `false`).
    Bool,
}

/// Is `c` a SQLite connection?
pub(crate) fn is_sqlite(c: &sqlx::AnyConnection) -> bool {
    c.backend_name().eq_ignore_ascii_case("sqlite")
}

/// PostgreSQL: `SELECT <one expression per column> FROM <the elements of the JSON array bound at
/// p>`, the rows of one text parameter holding a JSON array of arrays, written by [`JsonRows`],
/// element `k` of each read as `cols[k]`.
///
/// One parameter however many rows, where each PostgreSQL statement is a round trip and each
/// placeholder is parsed and bound apart; the text is the same for any number of rows, so its
/// prepared statement is reused. (sqlx's `Any` driver binds no arrays, so no `UNNEST`.) Not used
/// on SQLite: there `json_each` with `->>` re-parses a row's text for each column it reads,
/// which measured slower than one `?` per value.
pub(crate) fn json_rows_select(p: &str, cols: &[Col]) -> String {
    use std::fmt::Write as _;
    let mut s = String::from("SELECT ");
    for (k, col) in cols.iter().enumerate() {
        if k > 0 {
            s.push_str(", ");
        }
        // `write!` into a String cannot fail.
        let _ = match col {
            Col::Text => write!(s, "e->>{k}"),
            Col::Int => write!(s, "(e->>{k})::bigint"),
            Col::Bool => write!(s, "(e->>{k})::boolean"),
        };
    }
    let _ = write!(s, " FROM jsonb_array_elements({p}::jsonb) AS e");
    s
}

/// PostgreSQL: `SELECT` of the strings of a JSON array of strings bound at `p` (for `IN (...)`),
/// written by [`json_texts`]: one parameter for any number of ids (see [`json_rows_select`]).
pub(crate) fn json_texts_select(p: &str) -> String {
    format!("SELECT jsonb_array_elements_text({p}::jsonb)")
}

/// A JSON array of these strings (see [`json_texts_select`]).
pub(crate) fn json_texts<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let mut list = JsonRows::default();
    for t in items {
        list.text(&t.to_string());
    }
    list.finish()
}

/// A JSON array of rows, each an array of values, as [`json_rows_select`] reads it.
#[derive(Debug)]
pub(crate) struct JsonRows {
    buf: String,
    rows: usize,
    /// Values written in the current row.
    in_row: usize,
}

impl Default for JsonRows {
    fn default() -> Self {
        JsonRows { buf: String::from("["), rows: 0, in_row: 0 }
    }
}

impl JsonRows {
    /// Starts a row.
    pub(crate) fn row(&mut self) -> &mut Self {
        if self.rows > 0 {
            self.buf.push_str("],");
        }
        self.buf.push('[');
        self.rows += 1;
        self.in_row = 0;
        self
    }

    fn sep(&mut self) {
        if self.in_row > 0 {
            self.buf.push(',');
        }
        self.in_row += 1;
    }

    /// A string value, escaped as JSON requires (quote, backslash, control characters).
    pub(crate) fn text(&mut self, v: &str) -> &mut Self {
        self.sep();
        self.buf.reserve(v.len() + 2);
        self.buf.push('"');
        let mut plain = 0;
        for (i, b) in v.bytes().enumerate() {
            let esc = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.buf.push_str(&v[plain..i]);
            if esc.is_empty() {
                self.buf.push_str(&format!("\\u{b:04x}"));
            } else {
                self.buf.push_str(esc);
            }
            plain = i + 1;
        }
        self.buf.push_str(&v[plain..]);
        self.buf.push('"');
        self
    }

    /// A string or `null`.
    pub(crate) fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }

    /// An integer.
    pub(crate) fn int(&mut self, v: i64) -> &mut Self {
        self.sep();
        self.buf.push_str(&v.to_string());
        self
    }

    /// An integer or `null`.
    pub(crate) fn opt_int(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    /// `true` or `false`.
    pub(crate) fn bool(&mut self, v: bool) -> &mut Self {
        self.sep();
        self.buf.push_str(if v { "true" } else { "false" });
        self
    }

    /// `null`.
    pub(crate) fn null(&mut self) -> &mut Self {
        self.sep();
        self.buf.push_str("null");
        self
    }

    /// The JSON text.
    pub(crate) fn finish(mut self) -> String {
        if self.rows > 0 {
            self.buf.push(']');
        }
        self.buf.push(']');
        self.buf
    }
}
