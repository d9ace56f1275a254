//! Where each grant stands (being written).

/// A connector's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectorStatus;
/// One grant's provisioning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provisioning;
/// A credential handed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TakenCredential;
