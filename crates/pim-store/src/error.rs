//! Store errors: constraint violations the engine can turn into refusals, and everything else.

use sqlx::error::ErrorKind;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated; names the table (`principals`, `roles`, `resources`, ...).
    #[error("already exists (unique constraint on {0})")]
    Unique(String),
    /// A foreign key constraint was violated: something referred to does not exist or is still referred to.
    #[error("foreign key constraint violated ({0})")]
    ForeignKey(String),
    /// A stored value could not be read back as the domain type it should be.
    #[error("corrupt data in the database: {0}")]
    Corrupt(String),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// The database URL or options are not usable.
    #[error("invalid database configuration: {0}")]
    Config(String),
    /// Any other database failure (connection lost, timeout, ...).
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A failure of the SQLite read that loads the access index ([`crate::index_load`]).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Result of a store operation.
pub type Result<T> = std::result::Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            match db.kind() {
                ErrorKind::UniqueViolation => return StoreError::Unique(table_of(db.as_ref())),
                ErrorKind::ForeignKeyViolation => {
                    let what = db.constraint().or(db.table()).map(str::to_owned).unwrap_or_else(|| db.message().into());
                    return StoreError::ForeignKey(what);
                }
                _ => {}
            }
        }
        StoreError::Database(e)
    }
}

/// The table a constraint violation is about: PostgreSQL reports it; SQLite says
/// `UNIQUE constraint failed: principals.name_key` in its message.
fn table_of(db: &dyn sqlx::error::DatabaseError) -> String {
    if let Some(t) = db.table() {
        return t.to_owned();
    }
    let msg = db.message();
    match msg.split_once(": ") {
        Some((_, cols)) => cols.split(['.', ',']).next().unwrap_or(cols).trim().to_owned(),
        None => msg.to_owned(),
    }
}

impl StoreError {
    /// Whether this is a unique constraint violation.
    pub fn is_unique(&self) -> bool {
        matches!(self, StoreError::Unique(_))
    }

    pub(crate) fn corrupt(what: impl Into<String>) -> StoreError {
        StoreError::Corrupt(what.into())
    }
}
