//! The webhook target (being written).

use futures_util::future::BoxFuture;

use super::{Connector, ConnectorError, ConnectorOptions, GrantOp, Granted, Holding, RevokeOp, WebhookTarget};

/// Signed calls per grant and revoke.
pub struct WebhookConnector {
    _options: WebhookTarget,
}

impl WebhookConnector {
    /// Builds the connector (no connection is made yet).
    pub fn new(_connector: &ConnectorOptions, options: &WebhookTarget) -> Result<WebhookConnector, String> {
        Ok(WebhookConnector { _options: options.clone() })
    }
}

impl Connector for WebhookConnector {
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
