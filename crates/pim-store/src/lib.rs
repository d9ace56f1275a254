//! pim's persistence: one implementation over sqlx's `Any` driver for SQLite (the default) and
//! PostgreSQL, versioned forward-only migrations, and the hash-chained audit log.
//!
//! - [`Store`] opens the database, runs migrations and seeds the built-in roles.
//! - [`Store::read`] lends a pooled connection; [`Store::write`] starts a write transaction
//!   ([`WriteTx`]) that serializes writers and appends audit events to the chain.
//! - [`q`] holds the queries; each takes `&mut AnyConnection` first, so it runs on a pooled
//!   connection or inside a write transaction alike.
//!
//! Dialect differences live in [`Backend`] and in the two migration directories.

mod audit;
pub mod bound;
mod error;
pub mod index_load;
mod migrate;
pub mod q;
mod row;
mod sql;
mod store;

pub use audit::{ChainProblem, GENESIS_HASH, ProblemKind, VerifyReport, event_hash};
pub use error::{Result, StoreError};
pub use index_load::{IndexAssignment, IndexPrincipalRow};
pub use store::{Backend, Conn, Savepoint, Store, StoreOptions, WriteTx};

/// The connection type every query takes.
pub use sqlx::AnyConnection;
