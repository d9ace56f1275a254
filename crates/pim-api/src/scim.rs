//! Registering the SCIM clients that provision pim's directory (`/api/v1/scim/clients`).

use pim_domain::ScimClient;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Registers a SCIM client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateScimClient {
    /// A unique name (letters, digits and `. _ - @ +`), e.g. `entra`.
    pub name: String,
}

/// A new SCIM client; its secret is shown only here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedScimClient {
    /// The bearer secret the identity provider sends to `/scim/v2` (starts with `pimscim_`).
    pub secret: String,
    /// The client.
    pub client: ScimClient,
}
