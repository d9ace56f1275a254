//! Setup of the first account, sign-in, the caller's own view, and API tokens.

use pim_domain::{ApiToken, Assignment, Principal, PrincipalId, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Whether the server still waits for its first account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupStatus {
    /// No account exists yet; `POST /api/v1/setup` will create the first one.
    pub setup_required: bool,
}

/// Creates the first account (a permanent active Global Administrator at `/`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetupRequest {
    /// The one-time setup secret the server printed or was configured with.
    pub setup_secret: String,
    /// User name of the first administrator.
    pub username: String,
    /// Their password.
    pub password: String,
    /// Name for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Signs in with a user name and password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// A label for the token issued (e.g. the machine's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
    /// A TOTP code of your authenticator: the session starts having passed MFA. A wrong code
    /// fails the sign-in and counts toward the authenticator's lockout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp: Option<String>,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password or the code.
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("token_name", &self.token_name)
            .field("otp", &self.otp.as_ref().map(|_| ".."))
            .finish_non_exhaustive()
    }
}

/// A successful sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    /// The bearer token; send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// When the token stops working.
    pub expires_at: Timestamp,
    /// Who signed in.
    pub principal: Principal,
    /// When the session passed MFA (with `otp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_at: Option<Timestamp>,
}

/// The caller and their current assignments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeResponse {
    /// The caller.
    pub principal: Principal,
    /// Active assignments in effect or starting later (activations included), directly or through groups.
    pub active_assignments: Vec<Assignment>,
    /// Eligible assignments in effect or starting later, directly or through groups.
    pub eligible_assignments: Vec<Assignment>,
}

/// Query of `GET /api/v1/tokens`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// Another principal's tokens (needs `pim.tokens.read` at `/`); yours when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<PrincipalId>,
}

/// Issues an API token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// A label.
    pub name: String,
    /// Lifetime in days, 1-365 (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<u32>,
    /// For another principal, e.g. a service principal (needs `pim.tokens.write` at `/`); yourself when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<PrincipalId>,
}

/// A new API token; the secret is shown only here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedToken {
    /// The bearer token secret.
    pub token: String,
    /// The token's metadata.
    pub info: ApiToken,
}

/// An OpenID Connect provider users can sign in through.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OidcProvider {
    /// Its name, in `/api/v1/auth/oidc/{name}/...` and `pim login --oidc NAME`.
    pub name: String,
    /// "Sign in with ...".
    pub display_name: String,
}

/// Begins an OpenID Connect sign-in from the CLI (RFC 8252's loopback redirect).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcStartRequest {
    /// Where the provider sends the browser back: `http://127.0.0.1:PORT/...` or `http://[::1]:PORT/...`.
    pub redirect_uri: String,
    /// Ask the provider for a fresh sign-in (`max_age=0`, and its MFA through `acr_values` when
    /// configured): to refresh the session's MFA.
    #[serde(default)]
    pub step_up: bool,
    /// SHA-256 (64 hex digits) of a random secret the CLI keeps: only whoever holds the secret
    /// can finish this sign-in (not whoever sees the state and the code).
    pub binding: String,
}

/// Where to send the browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OidcStartResponse {
    /// The provider's authorization URL (with `state`, `nonce` and the PKCE challenge).
    pub authorization_url: String,
    /// The `state` the provider sends back with the code; finishing needs it.
    pub state: String,
}

/// Finishes an OpenID Connect sign-in with what the provider sent to the redirect URI.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcFinishRequest {
    /// The `state` of the start (used once).
    pub state: String,
    /// The authorization code.
    pub code: String,
    /// The secret whose SHA-256 was the start's `binding`.
    pub binding_secret: String,
    /// A label for the token issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
}

impl std::fmt::Debug for OidcFinishRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the code, the state or the binding secret.
        f.debug_struct("OidcFinishRequest").field("token_name", &self.token_name).finish_non_exhaustive()
    }
}

/// Begins an OpenID Connect device sign-in (RFC 8628) from the CLI, for machines without a browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcDeviceStartRequest {
    /// SHA-256 (64 hex digits) of a random secret the CLI keeps: only whoever holds the secret can
    /// finish this sign-in (not whoever sees the handle).
    pub binding: String,
}

/// What the person does to approve a device sign-in, and how the CLI polls for it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OidcDeviceStartResponse {
    /// What the CLI polls with (with its binding secret).
    pub handle: String,
    /// The code the person enters at the provider.
    pub user_code: String,
    /// Where the person enters it, in a browser on any device.
    pub verification_uri: String,
    /// The same with the code in it, when the provider gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_uri_complete: Option<String>,
    /// Seconds to wait between polls.
    pub interval: u64,
    /// When the sign-in can no longer be approved.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for OidcDeviceStartResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the handle.
        f.debug_struct("OidcDeviceStartResponse")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("interval", &self.interval)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Polls a device sign-in begun with `POST /api/v1/auth/oidc/{name}/device`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcDevicePollRequest {
    /// The start's `handle`.
    pub handle: String,
    /// The secret whose SHA-256 was the start's `binding`.
    pub binding_secret: String,
    /// A label for the token issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
}

impl std::fmt::Debug for OidcDevicePollRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the handle or the binding secret.
        f.debug_struct("OidcDevicePollRequest").field("token_name", &self.token_name).finish_non_exhaustive()
    }
}

/// Where a device sign-in stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum OidcDeviceStatus {
    /// Not approved yet: poll again after `interval` seconds.
    Pending,
    /// Approved: `login` holds the session.
    SignedIn,
}

/// The answer to a poll: pending (not an error), or the session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OidcDevicePollResponse {
    /// `pending` or `signedIn`.
    pub status: OidcDeviceStatus,
    /// With `pending`: seconds to wait before the next poll (longer after the provider's `slow_down`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
    /// With `signedIn`: what `POST /api/v1/auth/login` answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<LoginResponse>,
}
