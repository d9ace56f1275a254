//! The PostgreSQL target (being written).

use futures_util::future::BoxFuture;

use super::{Connector, ConnectorError, ConnectorOptions, GrantOp, Granted, Holding, PostgresOptions, RevokeOp};

/// Grants and revokes PostgreSQL roles.
pub struct PostgresConnector {
    _options: PostgresOptions,
}

impl PostgresConnector {
    /// Builds the connector (no connection is made yet).
    pub fn new(_connector: &ConnectorOptions, options: &PostgresOptions) -> Result<PostgresConnector, String> {
        Ok(PostgresConnector { _options: options.clone() })
    }
}

impl Connector for PostgresConnector {
    fn grant<'a>(&'a self, _op: &'a GrantOp) -> BoxFuture<'a, Result<Granted, ConnectorError>> {
        Box::pin(async { Err(ConnectorError::new("not built yet")) })
    }
    fn revoke<'a>(&'a self, _op: &'a RevokeOp) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async { Err(ConnectorError::new("not built yet")) })
    }
    fn list<'a>(&'a self, _e: &'a [String]) -> BoxFuture<'a, Result<Option<Vec<Holding>>, ConnectorError>> {
        Box::pin(async { Ok(None) })
    }
}
