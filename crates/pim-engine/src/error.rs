//! Engine errors: a refusal with a stable code ([`DomainError`]) or an internal failure.

use pim_domain::{DomainError, ErrorKind};
use pim_store::StoreError;

/// What can go wrong in a use case.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request was refused; the client can fix it.
    #[error("{0}")]
    Refused(#[from] DomainError),
    /// Something failed inside pim; never shown in detail to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result of a use case.
pub type Result<T> = std::result::Result<T, EngineError>;

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unique(what) => EngineError::Refused(DomainError::new(
                ErrorKind::NameTaken,
                format!("the name is already taken ({what})"),
            )),
            other => EngineError::Internal(other.to_string()),
        }
    }
}

impl EngineError {
    /// The refusal, if this is one.
    pub fn refusal(&self) -> Option<&DomainError> {
        match self {
            EngineError::Refused(e) => Some(e),
            EngineError::Internal(_) => None,
        }
    }
}

/// Shorthand for a refusal of `kind`.
pub fn refuse<T>(kind: ErrorKind, message: impl Into<String>) -> Result<T> {
    Err(EngineError::Refused(DomainError::new(kind, message)))
}
