//! Reconciliation (being written).

use crate::engine::Engine;
use crate::error::Result;

impl Engine {
    /// Reconciles every connector whose time has come.
    pub(crate) async fn reconcile_if_due(&self) -> Result<()> {
        Ok(())
    }
}
