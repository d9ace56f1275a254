//! Signed access tokens: issuing one (`POST /api/v1/tokens` with an `audience`), introspection,
//! audiences, signing keys, the JWKS and the authorization server metadata.

use pim_domain::token::{SigningAlg, TokenGrant};
use pim_domain::{ScopePath, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{CreateTokenRequest, CreatedToken};

/// Issues a signed access token (a JWT) for the caller to an audience.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAccessTokenRequest {
    /// The audience's name (its `aud`).
    pub audience: String,
    /// Only grants of this role (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Only grants that apply at, above or below this scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopePath>,
}

/// The body of `POST /api/v1/tokens`: with `audience`, a signed access token; otherwise an API token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CreateTokenBody {
    /// A signed access token (JWT) for an audience.
    Access(CreateAccessTokenRequest),
    /// A pim API token.
    Api(CreateTokenRequest),
}

/// A signed access token, shown only here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedAccessToken {
    /// The JWT (compact JWS); send it as `Authorization: Bearer <token>` to the audience.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// When it expires (its `exp`): never past a grant it carries.
    pub expires_at: Timestamp,
    /// Seconds from now until then.
    pub expires_in: i64,
    /// The audience.
    pub audience: String,
    /// The key that signed it.
    pub kid: String,
    /// Its algorithm.
    pub algorithm: SigningAlg,
    /// The token's id (`jti`).
    pub jti: String,
    /// The grants it carries.
    pub grants: Vec<TokenGrant>,
}

/// The answer of `POST /api/v1/tokens`: an access token for an `audience` body, else an API token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CreatedTokenAnswer {
    /// A signed access token.
    Access(CreatedAccessToken),
    /// A pim API token.
    Api(CreatedToken),
}

/// An introspection request (RFC 7662), form-encoded (`token=...`) or JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub struct IntrospectRequest {
    /// The access token.
    pub token: String,
    /// A hint (`access_token`); ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type_hint: Option<String>,
}

/// An introspection answer (RFC 7662): `{"active": false}` and nothing else when the token is not
/// active; otherwise its claims.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub struct IntrospectResponse {
    /// Whether the token is active now: signed by pim, unexpired, and every grant it carries still in effect.
    pub active: bool,
    /// Always `Bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The principal's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The principal's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Issued at (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not before (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Expires at (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// The token's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The grants it carries, all in effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Vec<TokenGrant>>,
}

/// Registers an audience (a resource server that accepts pim's access tokens).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAudience {
    /// Unique name: the tokens' `aud` (e.g. `orders-api`, `https://k8s.example.com`).
    pub name: String,
    /// Roles (ids or names) whose grants its tokens carry: at least one (none is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Grants at, below or above this scope are carried [default `/`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_prefix: Option<ScopePath>,
    /// Token lifetime in seconds, 60-3600 [default 900], unless a grant ends sooner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_secs: Option<u32>,
    /// The signing algorithm [default: the server's, `[tokens] algorithm`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<SigningAlg>,
    /// A user or service principal (id or name) that may introspect this audience's tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspector: Option<String>,
}

/// Changes an audience; absent fields are kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateAudience {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The roles (ids or names): at least one (`[]` is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// The scope prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_prefix: Option<ScopePath>,
    /// Token lifetime in seconds, 60-3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_secs: Option<u32>,
    /// The signing algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<SigningAlg>,
    /// The introspector (id or name); `""` removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspector: Option<String>,
}

/// The public signing keys (RFC 7517 JWK Set): current keys and rotated ones until every token
/// they signed has expired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JsonWebKeySet {
    /// The keys: `kty` OKP (Ed25519) or EC (P-256), with `kid`, `alg` and `use: sig`.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
}

/// Authorization server metadata (RFC 8414).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuthorizationServerMetadata {
    /// The issuer: every token's `iss`.
    pub issuer: String,
    /// Where the public keys are.
    pub jwks_uri: String,
    /// Where registered audiences introspect tokens (RFC 7662).
    pub introspection_endpoint: String,
    /// How an introspecting caller authenticates: a pim API token as a bearer token.
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// pim issues tokens through its API, not OAuth flows: none.
    pub response_types_supported: Vec<String>,
    /// pim issues tokens through its API, not OAuth flows: none.
    pub grant_types_supported: Vec<String>,
    /// The algorithms tokens are signed with.
    pub token_signing_alg_values_supported: Vec<String>,
}
