//! The queries. Each takes the connection first (`&mut AnyConnection`), so it runs on a pooled
//! connection from [`crate::Store::read`] or inside a [`crate::WriteTx`] alike.
//!
//! Lists take a `limit`; `0` (or less) means no limit. Cursors (`after`) are ids: lists are
//! ordered by id, and UUID v7 ids sort by creation time.

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
