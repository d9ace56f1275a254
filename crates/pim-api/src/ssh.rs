//! SSH certificates: the caller's public key in, an OpenSSH user certificate signed by pim's CA out.

use pim_domain::{AssignmentId, RoleId, ScopePath, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `POST /api/v1/ssh/certificates`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueSshCertificate {
    /// The public key to certify: one OpenSSH line, as in `~/.ssh/id_ed25519.pub` (Ed25519, ECDSA,
    /// or RSA of at least 2048 bits).
    pub public_key: String,
    /// Rely on an assignment of this role (id or name); needed when several roles with SSH
    /// principals are in effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Rely on an assignment that applies at this scope; the principals are the role's settings in
    /// force there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopePath>,
}

/// A signed certificate (`POST /api/v1/ssh/certificates`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SshCertificate {
    /// The certificate, one OpenSSH line: save it as `<key>-cert.pub` beside the private key.
    pub certificate: String,
    /// The principals (login names) it is valid for.
    pub principals: Vec<String>,
    /// Its key id, which sshd logs: `pim user=<name> activation=<assignment id>`.
    pub key_id: String,
    /// Its serial (below 2^53).
    pub serial: u64,
    /// Valid from (a minute before it was issued, for clock skew).
    pub valid_after: Timestamp,
    /// Valid until: the end of the assignment it relies on, or now + the configured maximum if earlier.
    pub valid_before: Timestamp,
    /// The assignment (activation) it relies on.
    pub assignment_id: AssignmentId,
    /// Its role.
    pub role_id: RoleId,
    /// The role's name.
    pub role_name: String,
    /// The scope whose settings gave the principals.
    pub scope: ScopePath,
    /// When the assignment ends (absent: permanent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_ends_at: Option<Timestamp>,
    /// SHA-256 fingerprint of the certified key (`ssh-keygen -l`).
    pub public_key_fingerprint: String,
    /// SHA-256 fingerprint of the CA key that signed it.
    pub ca_fingerprint: String,
}
