//! Connectors: the targets where pim grants and revokes the real access, and where each grant stands.

use pim_domain::{AssignmentId, PrincipalId, ProvisionState, ScopePath, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A configured connector (`GET /api/v1/connectors`), without its secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Connector {
    /// Its name, e.g. `prod-db`.
    pub name: String,
    /// `postgres`, `webhook` or `custom`.
    pub kind: String,
    /// Which roles at which scopes give which entitlements.
    pub mappings: Vec<ConnectorMapping>,
    /// The attribute naming a user's account in the target: `name`, `email` or `email_local_part`.
    pub login_attribute: String,
    /// Whether pim creates and drops the logins itself (PostgreSQL managed logins).
    pub managed_logins: bool,
    /// Whether holdings pim did not grant are revoked at reconciliation.
    pub revoke_unmanaged: bool,
    /// Milliseconds between reconciliations (`0`: at start-up only).
    pub reconcile_every_ms: i64,
    /// Principals whose access is due to be brought in line now.
    pub due: i64,
    /// How long the oldest of those has waited, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_due_age_ms: Option<i64>,
    /// Principals whose last sync failed (retried with backoff).
    pub failing: i64,
    /// Entitlements currently granted by pim in the target.
    pub granted: i64,
    /// When the answering replica last reconciled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<Timestamp>,
}

/// Role `role` at `scope` (or above it) gives `entitlement` in the target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorMapping {
    /// The pim role's name.
    pub role: String,
    /// The scope the entitlement stands for.
    pub scope: ScopePath,
    /// The entitlement in the target (a PostgreSQL role, ...).
    pub entitlement: String,
    /// Whether the account's open sessions end with it.
    pub terminate_sessions: bool,
}

/// Where one entitlement of one principal stands in one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Provisioning {
    /// The connector.
    pub connector: String,
    /// The principal.
    pub principal_id: PrincipalId,
    /// The entitlement in the target.
    pub entitlement: String,
    /// The account in the target, once pim has tried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// `pending`, `granted`, `revoking`, `revoked` or `failed`.
    pub state: ProvisionState,
    /// Attempts since the last success.
    pub attempts: i64,
    /// The last failure's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The assignment that justifies it (in effect) or that it relied on (ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_id: Option<AssignmentId>,
    /// When its record last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
}

/// One entitlement an account holds in a target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Holding {
    /// The account (login).
    pub account: String,
    /// The entitlement.
    pub entitlement: String,
}

/// What `POST /api/v1/connectors/{name}/reconcile` found and did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileResult {
    /// The connector.
    pub connector: String,
    /// Whether the target could list what it holds (a webhook without `list_url` cannot).
    pub listed: bool,
    /// What the target holds of the managed entitlements.
    pub holdings: usize,
    /// Principals whose access was out of line and is being repaired.
    pub repaired: usize,
    /// Holdings pim never granted (raised as *roles assigned outside pim*).
    pub unmanaged: Vec<Holding>,
    /// Of those, revoked (`revoke_unmanaged`).
    pub revoked_unmanaged: usize,
    /// Why the target could not be listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A managed login's password, handed out once (`POST /api/v1/connectors/{name}/credential`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorCredential {
    /// The connector.
    pub connector: String,
    /// The login to use.
    pub account: String,
    /// Its password (shown once; pim keeps no readable copy).
    pub password: String,
    /// When the login stops working (`VALID UNTIL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for ConnectorCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorCredential")
            .field("connector", &self.connector)
            .field("account", &self.account)
            .field("password", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}
