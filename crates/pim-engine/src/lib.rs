//! pim's use cases (assign, activate, check, audit, ...), the in-memory access index and the
//! background workers. Knows nothing of HTTP: the server calls [`Engine`] with a [`Context`].

pub mod activity;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod check;
pub mod clock;
pub mod connectors;
pub mod context;
pub mod directory;
pub mod engine;
pub mod error;
pub mod follow;
pub mod index;
pub mod lockout;
pub mod mfa;
pub mod notify;
pub mod oidc;
pub mod policy;
pub mod reports;
pub mod requests;
pub mod resources;
pub mod reviews;
pub mod roles;
pub mod scim;
pub mod secrets;
pub mod settings_changes;
pub mod ssh;
pub mod tokens;
pub mod workers;

pub use clock::{Clock, ManualClock, SystemClock};
pub use context::{Actor, Context, ReviewAuthority};
pub use engine::Engine;
pub use error::{EngineError, Result};
