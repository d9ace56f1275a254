//! Typed HTTP client for pim's API (`docs/API.md`): one async method per endpoint, errors parsed from
//! `application/problem+json`. Used by the CLI and by the tests.

// `ClientError::Api` carries the whole problem document by value so callers can match on it directly;
// errors are the slow path of a network client, so their size does not matter.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use pim_api::{AccessReport, AccessReportQuery, ActivationReport, ActivationReportQuery, ExportFormat as ReportFormat};
use pim_api::{Alert, AlertId, AlertQuery, AlertRule, AlertState, DismissAlert, RemediationResult, UpdateAlertRule};
use pim_api::{
    ApiToken, Assignment, AssignmentId, AssignmentQuery, AuditEvent, AuditExportQuery, AuditQuery, AuditVerifyReport,
    BatchCheckRequest, BatchCheckResponse, CheckRequest, CheckResponse, CreateGroup, CreateRequest, CreateResource,
    CreateRole, CreateServicePrincipal, CreateTokenRequest, CreateUser, CreatedToken, EffectiveSettings, ExportFormat,
    ListQuery, LoginRequest, LoginResponse, MeResponse, Page, Principal, PrincipalId, Problem, Request, RequestId,
    RequestOutcome, RequestQuery, Resource, ResourceId, ResourceQuery, RoleDefinition, RoleId, RoleSettings, ScopeInfo,
    ScopePath, SettingsListQuery, SettingsQuery, SetupRequest, SetupStatus, TokenId, TokenQuery, UpdateGroup,
    UpdateResource, UpdateServicePrincipal, UpdateUser, ValidateScope, Validation,
};
use pim_api::{
    BreakGlassQuery, BreakGlassReview, BulkDecision, BulkDecisionResult, CompleteReview, DecideRequest,
    DecideSettingsChange, RequestStatus, SettingsChange, SettingsChangeId, SettingsChangeQuery,
};
use pim_api::{ConfirmTotp, MfaConfirmed, MfaStatus, MfaVerified, RecoveryCodes, TotpEnrollment, VerifyMfa};
use pim_api::{
    CreateReview, DecideReviewItem, DecideReviewItems, MyReview, ReviewDefinition, ReviewDetail, ReviewId,
    ReviewInstance, ReviewInstanceId, ReviewItem, ReviewItemId, ReviewItemsQuery, ReviewResults, UpdateReview,
};
use pim_api::{CreateScimClient, CreatedScimClient, ScimClient};
use pim_api::{Notification, NotificationQuery};
use pim_api::{
    OidcDevicePollRequest, OidcDevicePollResponse, OidcDeviceStartRequest, OidcDeviceStartResponse, OidcFinishRequest,
    OidcProvider, OidcStartRequest, OidcStartResponse,
};
use pim_api::{PolicyExportQuery, PolicyReport, PolicyRequest};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use pim_api;

/// What a change of role settings did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingsOutcome {
    /// Applied: the settings now in force.
    Applied(EffectiveSettings),
    /// The settings in force are protected: the change waits for a second administrator.
    Pending(SettingsChange),
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error status; `problem` is its problem+json body (or one built from the answer).
    #[error("{problem}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The error body.
        problem: Problem,
    },
    /// The request could not be sent or its answer not read.
    #[error("request to the pim server failed")]
    Http(#[from] reqwest::Error),
    /// The answer was not what the API describes.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

impl ClientError {
    /// The problem's stable code, for API errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { problem, .. } => Some(&problem.code),
            _ => None,
        }
    }

    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Result of a client call.
pub type Result<T> = std::result::Result<T, ClientError>;

/// A client of one pim server, optionally authenticated with a bearer token.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
}

/// Builds the problem for an error answer: its problem+json body, or one made from the status and text.
pub fn problem_from_body(status: u16, body: &str) -> Problem {
    if let Ok(p) = serde_json::from_str::<Problem>(body) {
        return p;
    }
    let reason = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error").to_owned();
    let loose = serde_json::from_str::<serde_json::Value>(body).ok();
    let field = |name: &str| {
        loose.as_ref().and_then(|v| v.get(name)).and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(str::to_owned)
    };
    let text = body.trim();
    let detail = field("detail")
        .or_else(|| field("message"))
        .or_else(|| field("title"))
        .or_else(|| (!text.is_empty() && loose.is_none()).then(|| truncate(text, 500)))
        .unwrap_or_else(|| reason.clone());
    let code = field("code").unwrap_or_else(|| fallback_code(status).to_owned());
    let mut p = Problem::new(status, code, field("title").unwrap_or(reason), detail);
    p.request_id = field("requestId");
    p
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

fn fallback_code(status: u16) -> &'static str {
    match status {
        400 => "invalid_input",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "invalid_input",
        429 => "too_many_requests",
        500..=599 => "server_error",
        _ => "http_error",
    }
}

impl Client {
    /// A client of the server at `base_url` (e.g. `http://127.0.0.1:8420`), authenticated when `token` is given.
    pub fn new(base_url: &str, token: Option<String>) -> Result<Client> {
        let mut base = Url::parse(base_url.trim())
            .map_err(|e| ClientError::Decode(format!("'{base_url}' is not a server URL: {e}")))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(ClientError::Decode(format!("'{base_url}' is not an http(s) server URL")));
        }
        base.set_query(None);
        base.set_fragment(None);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .user_agent(concat!("pim-client/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client { http, base, token })
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The bearer token in use.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Uses `token` from now on (or none).
    pub fn set_token(&mut self, token: Option<String>) {
        self.token = token;
    }

    /// The URL of the base followed by `segments` (each percent-encoded as one path segment).
    fn url(&self, segments: &[&str]) -> Result<Url> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| ClientError::Decode(format!("'{}' cannot be a base URL", self.base)))?;
            path.pop_if_empty();
            for s in segments {
                path.push(s);
            }
        }
        Ok(url)
    }

    /// The URL of an API path: `/api/v1/` followed by `segments`.
    fn api(&self, segments: &[&str]) -> Result<Url> {
        let mut all = vec!["api", "v1"];
        all.extend_from_slice(segments);
        self.url(&all)
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let rb = self.http.request(method, url);
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    /// Sends `rb`; an error status becomes [`ClientError::Api`].
    async fn send(rb: RequestBuilder) -> Result<Response> {
        let resp = rb.send().await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        Err(ClientError::Api { status: status.as_u16(), problem: problem_from_body(status.as_u16(), &body) })
    }

    async fn json<T: DeserializeOwned>(rb: RequestBuilder) -> Result<T> {
        Self::decode(Self::send(rb).await?).await
    }

    async fn decode<T: DeserializeOwned>(resp: Response) -> Result<T> {
        let bytes = resp.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            let text = String::from_utf8_lossy(&bytes);
            ClientError::Decode(format!("{e} in {}", truncate(&text, 300)))
        })
    }

    async fn empty(rb: RequestBuilder) -> Result<()> {
        Self::send(rb).await.map(|_| ())
    }

    async fn get<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T> {
        Self::json(self.request(Method::GET, self.api(segments)?)).await
    }

    async fn get_query<T: DeserializeOwned, Q: Serialize + ?Sized>(&self, segments: &[&str], query: &Q) -> Result<T> {
        Self::json(self.request(Method::GET, self.api(segments)?).query(query)).await
    }

    async fn send_json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        segments: &[&str],
        body: &B,
    ) -> Result<T> {
        Self::json(self.request(method, self.api(segments)?).json(body)).await
    }

    async fn no_content(&self, method: Method, segments: &[&str]) -> Result<()> {
        Self::empty(self.request(method, self.api(segments)?)).await
    }

    // ----- health -----

    /// `GET /healthz`: the body (`ok`) while the process runs.
    pub async fn healthz(&self) -> Result<String> {
        Ok(Self::send(self.request(Method::GET, self.url(&["healthz"])?)).await?.text().await?)
    }

    /// `GET /readyz`: the body (`ready`) when the database answers.
    pub async fn readyz(&self) -> Result<String> {
        Ok(Self::send(self.request(Method::GET, self.url(&["readyz"])?)).await?.text().await?)
    }

    /// `GET {path}` (relative to the base URL, e.g. `/api/v1/openapi.json`): the status and body, whatever they are.
    pub async fn raw_get(&self, path: &str) -> Result<(u16, String)> {
        let joined = format!("{}/{}", self.base.as_str().trim_end_matches('/'), path.trim_start_matches('/'));
        let url = Url::parse(&joined).map_err(|e| ClientError::Decode(format!("bad path '{path}': {e}")))?;
        let resp = self.request(Method::GET, url).send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().await?))
    }

    // ----- setup and sign-in -----

    /// `GET /api/v1/setup`: whether the server waits for its first account.
    pub async fn setup_status(&self) -> Result<SetupStatus> {
        self.get(&["setup"]).await
    }

    /// `POST /api/v1/setup`: creates the first account with the one-time setup secret.
    pub async fn setup(&self, body: &SetupRequest) -> Result<Principal> {
        self.send_json(Method::POST, &["setup"], body).await
    }

    /// `POST /api/v1/auth/login`: signs in; the client does not switch to the new token by itself.
    pub async fn login(&self, body: &LoginRequest) -> Result<LoginResponse> {
        self.send_json(Method::POST, &["auth", "login"], body).await
    }

    /// `GET /api/v1/auth/oidc`: the OpenID Connect providers.
    pub async fn oidc_providers(&self) -> Result<Vec<OidcProvider>> {
        self.get(&["auth", "oidc"]).await
    }

    /// `POST /api/v1/auth/oidc/{name}/start`: begins a sign-in with a loopback redirect.
    pub async fn oidc_start(&self, name: &str, body: &OidcStartRequest) -> Result<OidcStartResponse> {
        self.send_json(Method::POST, &["auth", "oidc", name, "start"], body).await
    }

    /// `POST /api/v1/auth/oidc/{name}/finish`: finishes it with the code; answers a session token.
    pub async fn oidc_finish(&self, name: &str, body: &OidcFinishRequest) -> Result<LoginResponse> {
        self.send_json(Method::POST, &["auth", "oidc", name, "finish"], body).await
    }

    /// `POST /api/v1/auth/oidc/{name}/device`: begins a device sign-in (RFC 8628).
    pub async fn oidc_device_start(
        &self,
        name: &str,
        body: &OidcDeviceStartRequest,
    ) -> Result<OidcDeviceStartResponse> {
        self.send_json(Method::POST, &["auth", "oidc", name, "device"], body).await
    }

    /// `POST /api/v1/auth/oidc/{name}/device/poll`: pending, or the session once approved.
    pub async fn oidc_device_poll(&self, name: &str, body: &OidcDevicePollRequest) -> Result<OidcDevicePollResponse> {
        self.send_json(Method::POST, &["auth", "oidc", name, "device", "poll"], body).await
    }

    /// `POST /api/v1/auth/logout`: revokes the token in use.
    pub async fn logout(&self) -> Result<()> {
        self.no_content(Method::POST, &["auth", "logout"]).await
    }

    /// `GET /api/v1/me`: the caller and their current assignments.
    pub async fn me(&self) -> Result<MeResponse> {
        self.get(&["me"]).await
    }

    // ----- API tokens -----

    /// `GET /api/v1/tokens`: your tokens, or `principal_id`'s.
    pub async fn list_tokens(&self, principal_id: Option<PrincipalId>) -> Result<Page<ApiToken>> {
        self.get_query(&["tokens"], &TokenQuery { principal_id }).await
    }

    /// `POST /api/v1/tokens`: issues a token (the secret is only in this answer).
    pub async fn create_token(&self, body: &CreateTokenRequest) -> Result<CreatedToken> {
        self.send_json(Method::POST, &["tokens"], body).await
    }

    /// `DELETE /api/v1/tokens/{id}`: revokes a token.
    pub async fn revoke_token(&self, id: TokenId) -> Result<()> {
        self.no_content(Method::DELETE, &["tokens", &id.to_string()]).await
    }

    // ----- signed access tokens -----

    /// `POST /api/v1/tokens` with an audience: a signed access token (JWT) for the caller.
    pub async fn create_access_token(
        &self,
        body: &pim_api::CreateAccessTokenRequest,
    ) -> Result<pim_api::CreatedAccessToken> {
        self.send_json(Method::POST, &["tokens"], body).await
    }

    /// `POST /api/v1/tokens/introspect` (form-encoded, as RFC 7662 has it): whether a token is active.
    pub async fn introspect_token(&self, token: &str) -> Result<pim_api::IntrospectResponse> {
        let body = pim_api::IntrospectRequest { token: token.to_owned(), token_type_hint: None };
        Self::json(self.request(Method::POST, self.api(&["tokens", "introspect"])?).form(&body)).await
    }

    /// `GET /api/v1/audiences`: every audience.
    pub async fn list_audiences(&self) -> Result<Page<pim_api::Audience>> {
        self.get(&["audiences"]).await
    }

    /// `POST /api/v1/audiences`: registers an audience.
    pub async fn create_audience(&self, body: &pim_api::CreateAudience) -> Result<pim_api::Audience> {
        self.send_json(Method::POST, &["audiences"], body).await
    }

    /// `GET /api/v1/audiences/{idOrName}`.
    pub async fn get_audience(&self, id_or_name: &str) -> Result<pim_api::Audience> {
        self.get(&["audiences", id_or_name]).await
    }

    /// `PATCH /api/v1/audiences/{idOrName}`: changes an audience.
    pub async fn update_audience(&self, id_or_name: &str, body: &pim_api::UpdateAudience) -> Result<pim_api::Audience> {
        self.send_json(Method::PATCH, &["audiences", id_or_name], body).await
    }

    /// `DELETE /api/v1/audiences/{idOrName}`.
    pub async fn delete_audience(&self, id_or_name: &str) -> Result<()> {
        self.no_content(Method::DELETE, &["audiences", id_or_name]).await
    }

    /// `GET /api/v1/keys`: the signing keys (public facts).
    pub async fn list_keys(&self) -> Result<Page<pim_api::SigningKeyInfo>> {
        self.get(&["keys"]).await
    }

    /// `POST /api/v1/keys/rotate`: a new signing key; answers every key.
    pub async fn rotate_keys(&self) -> Result<Page<pim_api::SigningKeyInfo>> {
        Self::json(self.request(Method::POST, self.api(&["keys", "rotate"])?)).await
    }

    /// `GET /.well-known/jwks.json`: the public keys.
    pub async fn jwks(&self) -> Result<pim_api::JsonWebKeySet> {
        Self::json(self.request(Method::GET, self.url(&[".well-known", "jwks.json"])?)).await
    }

    /// `GET /.well-known/oauth-authorization-server`: the metadata (RFC 8414).
    pub async fn oauth_metadata(&self) -> Result<pim_api::AuthorizationServerMetadata> {
        Self::json(self.request(Method::GET, self.url(&[".well-known", "oauth-authorization-server"])?)).await
    }

    // ----- SCIM clients -----

    /// `GET /api/v1/scim/clients`: every SCIM client, revoked ones included.
    pub async fn list_scim_clients(&self) -> Result<Page<ScimClient>> {
        self.get(&["scim", "clients"]).await
    }

    /// `POST /api/v1/scim/clients`: registers a SCIM client (the secret is only in this answer).
    pub async fn create_scim_client(&self, body: &CreateScimClient) -> Result<CreatedScimClient> {
        self.send_json(Method::POST, &["scim", "clients"], body).await
    }

    /// `DELETE /api/v1/scim/clients/{idOrName}`: revokes a SCIM client.
    pub async fn revoke_scim_client(&self, id_or_name: &str) -> Result<ScimClient> {
        Self::json(self.request(Method::DELETE, self.api(&["scim", "clients", id_or_name])?)).await
    }

    // ----- directory -----

    /// `GET /api/v1/principals/{idOrName}`: a user, group or service principal.
    pub async fn get_principal(&self, id_or_name: &str) -> Result<Principal> {
        self.get(&["principals", id_or_name]).await
    }

    /// `GET /api/v1/users`: a page of users.
    pub async fn list_users(&self, query: &ListQuery) -> Result<Page<Principal>> {
        self.get_query(&["users"], query).await
    }

    /// `POST /api/v1/users`: creates a user.
    pub async fn create_user(&self, body: &CreateUser) -> Result<Principal> {
        self.send_json(Method::POST, &["users"], body).await
    }

    /// `GET /api/v1/users/{id}`.
    pub async fn get_user(&self, id: PrincipalId) -> Result<Principal> {
        self.get(&["users", &id.to_string()]).await
    }

    /// `PATCH /api/v1/users/{id}`: changes a user.
    pub async fn update_user(&self, id: PrincipalId, body: &UpdateUser) -> Result<Principal> {
        self.send_json(Method::PATCH, &["users", &id.to_string()], body).await
    }

    /// `GET /api/v1/groups`: a page of groups.
    pub async fn list_groups(&self, query: &ListQuery) -> Result<Page<Principal>> {
        self.get_query(&["groups"], query).await
    }

    /// `POST /api/v1/groups`: creates a group.
    pub async fn create_group(&self, body: &CreateGroup) -> Result<Principal> {
        self.send_json(Method::POST, &["groups"], body).await
    }

    /// `GET /api/v1/groups/{id}`.
    pub async fn get_group(&self, id: PrincipalId) -> Result<Principal> {
        self.get(&["groups", &id.to_string()]).await
    }

    /// `PATCH /api/v1/groups/{id}`: changes a group.
    pub async fn update_group(&self, id: PrincipalId, body: &UpdateGroup) -> Result<Principal> {
        self.send_json(Method::PATCH, &["groups", &id.to_string()], body).await
    }

    /// `GET /api/v1/groups/{id}/members`: the direct members.
    pub async fn list_members(&self, group: PrincipalId) -> Result<Page<Principal>> {
        self.get(&["groups", &group.to_string(), "members"]).await
    }

    /// `PUT /api/v1/groups/{id}/members/{memberId}`: adds a user or group.
    pub async fn add_member(&self, group: PrincipalId, member: PrincipalId) -> Result<()> {
        self.no_content(Method::PUT, &["groups", &group.to_string(), "members", &member.to_string()]).await
    }

    /// `DELETE /api/v1/groups/{id}/members/{memberId}`: removes a member.
    pub async fn remove_member(&self, group: PrincipalId, member: PrincipalId) -> Result<()> {
        self.no_content(Method::DELETE, &["groups", &group.to_string(), "members", &member.to_string()]).await
    }

    /// `GET /api/v1/service-principals`: a page of service principals.
    pub async fn list_service_principals(&self, query: &ListQuery) -> Result<Page<Principal>> {
        self.get_query(&["service-principals"], query).await
    }

    /// `POST /api/v1/service-principals`: creates a service principal.
    pub async fn create_service_principal(&self, body: &CreateServicePrincipal) -> Result<Principal> {
        self.send_json(Method::POST, &["service-principals"], body).await
    }

    /// `GET /api/v1/service-principals/{id}`.
    pub async fn get_service_principal(&self, id: PrincipalId) -> Result<Principal> {
        self.get(&["service-principals", &id.to_string()]).await
    }

    /// `PATCH /api/v1/service-principals/{id}`: changes a service principal.
    pub async fn update_service_principal(&self, id: PrincipalId, body: &UpdateServicePrincipal) -> Result<Principal> {
        self.send_json(Method::PATCH, &["service-principals", &id.to_string()], body).await
    }

    // ----- scopes and resources -----

    /// `GET /api/v1/resources`: a page of resources, the tree depth first.
    pub async fn list_resources(&self, query: &ResourceQuery) -> Result<Page<Resource>> {
        self.get_query(&["resources"], query).await
    }

    /// `POST /api/v1/resources`: registers a resource.
    pub async fn create_resource(&self, body: &CreateResource) -> Result<Resource> {
        self.send_json(Method::POST, &["resources"], body).await
    }

    /// `GET /api/v1/resources/{id}`.
    pub async fn get_resource(&self, id: ResourceId) -> Result<Resource> {
        self.get(&["resources", &id.to_string()]).await
    }

    /// `PATCH /api/v1/resources/{id}`: renames and/or retypes a resource.
    pub async fn update_resource(&self, id: ResourceId, body: &UpdateResource) -> Result<Resource> {
        self.send_json(Method::PATCH, &["resources", &id.to_string()], body).await
    }

    /// `DELETE /api/v1/resources/{id}`: removes a resource's registration (answers it).
    pub async fn delete_resource(&self, id: ResourceId) -> Result<Resource> {
        Self::json(self.request(Method::DELETE, self.api(&["resources", &id.to_string()])?)).await
    }

    /// `POST /api/v1/scopes/validate`: whether `scope` is a valid path, and its ancestors.
    pub async fn validate_scope(&self, scope: &str) -> Result<ScopeInfo> {
        self.send_json(Method::POST, &["scopes", "validate"], &ValidateScope { scope: scope.to_owned() }).await
    }

    // ----- roles and role settings -----

    /// `GET /api/v1/roles`: every role definition.
    pub async fn list_roles(&self) -> Result<Page<RoleDefinition>> {
        self.get(&["roles"]).await
    }

    /// `GET /api/v1/roles/{idOrName}`.
    pub async fn get_role(&self, id_or_name: &str) -> Result<RoleDefinition> {
        self.get(&["roles", id_or_name]).await
    }

    /// `POST /api/v1/roles`: creates a custom role.
    pub async fn create_role(&self, body: &CreateRole) -> Result<RoleDefinition> {
        self.send_json(Method::POST, &["roles"], body).await
    }

    /// `PUT /api/v1/roles/{idOrName}`: replaces a custom role.
    pub async fn update_role(&self, id_or_name: &str, body: &CreateRole) -> Result<RoleDefinition> {
        self.send_json(Method::PUT, &["roles", id_or_name], body).await
    }

    /// `DELETE /api/v1/roles/{idOrName}`: deletes a custom, unassigned role.
    pub async fn delete_role(&self, id_or_name: &str) -> Result<()> {
        self.no_content(Method::DELETE, &["roles", id_or_name]).await
    }

    /// `GET /api/v1/roles/{idOrName}/settings?scope=`: the settings in force.
    pub async fn get_settings(&self, role: &str, scope: &ScopePath) -> Result<EffectiveSettings> {
        self.get_query(&["roles", role, "settings"], &SettingsQuery { scope: Some(scope.clone()) }).await
    }

    /// `PUT /api/v1/roles/{idOrName}/settings?scope=`: sets explicit settings; answers the settings now in force.
    pub async fn put_settings(
        &self,
        role: &str,
        scope: &ScopePath,
        settings: &RoleSettings,
    ) -> Result<SettingsOutcome> {
        let url = self.api(&["roles", role, "settings"])?;
        let rb = self.request(Method::PUT, url).query(&SettingsQuery { scope: Some(scope.clone()) }).json(settings);
        Self::settings_outcome(rb).await
    }

    /// `DELETE /api/v1/roles/{idOrName}/settings?scope=`: the scope inherits again (or, where the
    /// settings are protected, a change waits for a second administrator).
    pub async fn delete_settings(&self, role: &str, scope: &ScopePath) -> Result<Option<SettingsChange>> {
        let url = self.api(&["roles", role, "settings"])?;
        let rb = self.request(Method::DELETE, url).query(&SettingsQuery { scope: Some(scope.clone()) });
        let resp = Self::send(rb).await?;
        if resp.status() == StatusCode::ACCEPTED {
            return Ok(Some(Self::decode(resp).await?));
        }
        Ok(None)
    }

    async fn settings_outcome(rb: RequestBuilder) -> Result<SettingsOutcome> {
        let resp = Self::send(rb).await?;
        Ok(if resp.status() == StatusCode::ACCEPTED {
            SettingsOutcome::Pending(Self::decode(resp).await?)
        } else {
            SettingsOutcome::Applied(Self::decode(resp).await?)
        })
    }

    /// `GET /api/v1/settings?roleId=`: every explicit setting.
    pub async fn list_settings(&self, role_id: Option<RoleId>) -> Result<Page<EffectiveSettings>> {
        self.get_query(&["settings"], &SettingsListQuery { role_id }).await
    }

    // ----- assignments and requests -----

    /// `GET /api/v1/assignments`: a page of assignments.
    pub async fn list_assignments(&self, query: &AssignmentQuery) -> Result<Page<Assignment>> {
        self.get_query(&["assignments"], query).await
    }

    /// `GET /api/v1/assignments/{id}`.
    pub async fn get_assignment(&self, id: AssignmentId) -> Result<Assignment> {
        self.get(&["assignments", &id.to_string()]).await
    }

    /// `POST /api/v1/requests`: makes a request (`validateOnly` is cleared; see [`Client::validate_request`]).
    pub async fn create_request(&self, body: &CreateRequest) -> Result<RequestOutcome> {
        let body = CreateRequest { validate_only: None, ..body.clone() };
        self.send_json(Method::POST, &["requests"], &body).await
    }

    /// `POST /api/v1/requests` with `validateOnly`: whether it would pass and what it needs; nothing changes.
    pub async fn validate_request(&self, body: &CreateRequest) -> Result<Validation> {
        let body = CreateRequest { validate_only: Some(true), ..body.clone() };
        self.send_json(Method::POST, &["requests"], &body).await
    }

    /// `GET /api/v1/requests`: a page of requests.
    pub async fn list_requests(&self, query: &RequestQuery) -> Result<Page<Request>> {
        self.get_query(&["requests"], query).await
    }

    /// `GET /api/v1/requests/{id}`.
    pub async fn get_request(&self, id: RequestId) -> Result<Request> {
        self.get(&["requests", &id.to_string()]).await
    }

    /// `POST /api/v1/requests/{id}/cancel`: withdraws a pending request.
    pub async fn cancel_request(&self, id: RequestId) -> Result<Request> {
        Self::json(self.request(Method::POST, self.api(&["requests", &id.to_string(), "cancel"])?)).await
    }

    // ----- approvals -----

    /// `GET /api/v1/approvals`: requests waiting for the caller's decision.
    pub async fn pending_approvals(&self) -> Result<Page<Request>> {
        self.get(&["approvals"]).await
    }

    /// `POST /api/v1/approvals`: one decision for many requests.
    pub async fn decide_requests(&self, body: &BulkDecision) -> Result<BulkDecisionResult> {
        self.send_json(Method::POST, &["approvals"], body).await
    }

    /// `POST /api/v1/requests/{id}/approve`.
    pub async fn approve_request(&self, id: RequestId, body: &DecideRequest) -> Result<RequestOutcome> {
        self.send_json(Method::POST, &["requests", &id.to_string(), "approve"], body).await
    }

    /// `POST /api/v1/requests/{id}/deny`.
    pub async fn deny_request(&self, id: RequestId, body: &DecideRequest) -> Result<RequestOutcome> {
        self.send_json(Method::POST, &["requests", &id.to_string(), "deny"], body).await
    }

    /// `GET /api/v1/settings-changes?status=`.
    pub async fn list_settings_changes(&self, status: Option<RequestStatus>) -> Result<Page<SettingsChange>> {
        self.get_query(&["settings-changes"], &SettingsChangeQuery { status }).await
    }

    /// `GET /api/v1/settings-changes/{id}`.
    pub async fn get_settings_change(&self, id: SettingsChangeId) -> Result<SettingsChange> {
        self.get(&["settings-changes", &id.to_string()]).await
    }

    /// `POST /api/v1/settings-changes/{id}/approve` or `/deny`.
    pub async fn decide_settings_change(
        &self,
        id: SettingsChangeId,
        approve: bool,
        body: &DecideSettingsChange,
    ) -> Result<SettingsChange> {
        let verb = if approve { "approve" } else { "deny" };
        self.send_json(Method::POST, &["settings-changes", &id.to_string(), verb], body).await
    }

    /// `POST /api/v1/settings-changes/{id}/cancel`.
    pub async fn cancel_settings_change(&self, id: SettingsChangeId) -> Result<SettingsChange> {
        Self::json(self.request(Method::POST, self.api(&["settings-changes", &id.to_string(), "cancel"])?)).await
    }

    /// `GET /api/v1/break-glass-reviews?pending=`.
    pub async fn list_break_glass_reviews(&self, pending: bool) -> Result<Page<BreakGlassReview>> {
        self.get_query(&["break-glass-reviews"], &BreakGlassQuery { pending: Some(pending) }).await
    }

    /// `POST /api/v1/break-glass-reviews/{id}/complete`.
    pub async fn complete_break_glass_review(&self, id: RequestId, body: &CompleteReview) -> Result<BreakGlassReview> {
        self.send_json(Method::POST, &["break-glass-reviews", &id.to_string(), "complete"], body).await
    }

    // ----- check -----

    /// `POST /api/v1/check`: may the principal perform the action at the scope?
    pub async fn check(&self, body: &CheckRequest) -> Result<CheckResponse> {
        self.send_json(Method::POST, &["check"], body).await
    }

    /// `POST /api/v1/check/batch`: many checks in one round trip, answered in order.
    pub async fn check_batch(&self, body: &BatchCheckRequest) -> Result<BatchCheckResponse> {
        self.send_json(Method::POST, &["check", "batch"], body).await
    }

    // ----- notifications -----

    /// `GET /api/v1/notifications`: a page of notifications and their delivery status, newest first.
    pub async fn list_notifications(&self, query: &NotificationQuery) -> Result<Page<Notification>> {
        self.get_query(&["notifications"], query).await
    }

    // ----- SSH certificates -----

    /// `GET /api/v1/ssh/ca.pub`: pim's SSH user CA public key, one OpenSSH line (no token needed).
    pub async fn ssh_ca_public_key(&self) -> Result<String> {
        Ok(Self::send(self.request(Method::GET, self.api(&["ssh", "ca.pub"])?)).await?.text().await?)
    }

    /// `POST /api/v1/ssh/certificates`: a user certificate of `body.public_key` for an assignment in effect.
    pub async fn issue_ssh_certificate(&self, body: &pim_api::IssueSshCertificate) -> Result<pim_api::SshCertificate> {
        self.send_json(Method::POST, &["ssh", "certificates"], body).await
    }

    // ----- activity -----

    /// `POST /api/v1/activity`: reports what principals did (needs `pim.activity.report`).
    pub async fn report_activity(&self, body: &pim_api::ReportActivity) -> Result<pim_api::ActivityRecorded> {
        self.send_json(Method::POST, &["activity"], body).await
    }

    /// `GET /api/v1/assignments/{id}/activity`: one page of what was done under an assignment.
    pub async fn assignment_activity(
        &self,
        id: AssignmentId,
        query: &pim_api::ActivityQuery,
    ) -> Result<Page<pim_api::ActivityEvent>> {
        self.get_query(&["assignments", &id.to_string(), "activity"], query).await
    }

    /// Every event of an assignment's activity, following the cursors.
    pub async fn all_assignment_activity(&self, id: AssignmentId) -> Result<Vec<pim_api::ActivityEvent>> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let q = pim_api::ActivityQuery { limit: Some(1000), cursor };
            let page = self.assignment_activity(id, &q).await?;
            out.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    // ----- connectors -----

    /// `GET /api/v1/connectors`.
    pub async fn list_connectors(&self) -> Result<Vec<pim_api::Connector>> {
        self.get(&["connectors"]).await
    }

    /// `POST /api/v1/connectors/{name}/reconcile`.
    pub async fn reconcile_connector(&self, name: &str) -> Result<pim_api::ReconcileResult> {
        Self::json(self.request(Method::POST, self.api(&["connectors", name, "reconcile"])?)).await
    }

    /// `POST /api/v1/connectors/{name}/credential`: the caller's managed login's password, once.
    pub async fn take_connector_credential(&self, name: &str) -> Result<pim_api::ConnectorCredential> {
        Self::json(self.request(Method::POST, self.api(&["connectors", name, "credential"])?)).await
    }

    /// `GET /api/v1/assignments/{id}/provisioning`.
    pub async fn assignment_provisioning(&self, id: AssignmentId) -> Result<Vec<pim_api::Provisioning>> {
        self.get(&["assignments", &id.to_string(), "provisioning"]).await
    }

    /// `GET /api/v1/principals/{idOrName}/provisioning`.
    pub async fn principal_provisioning(&self, id_or_name: &str) -> Result<Vec<pim_api::Provisioning>> {
        self.get(&["principals", id_or_name, "provisioning"]).await
    }

    /// `GET /api/v1/me/provisioning`.
    pub async fn my_provisioning(&self) -> Result<Vec<pim_api::Provisioning>> {
        self.get(&["me", "provisioning"]).await
    }

    // ----- alerts -----

    /// `GET /api/v1/alert-rules`.
    pub async fn list_alert_rules(&self) -> Result<Page<AlertRule>> {
        self.get(&["alert-rules"]).await
    }

    /// `PUT /api/v1/alert-rules/{id}`.
    pub async fn update_alert_rule(&self, id: &str, body: &UpdateAlertRule) -> Result<AlertRule> {
        self.send_json(Method::PUT, &["alert-rules", id], body).await
    }

    /// `GET /api/v1/alerts`, optionally in one state.
    pub async fn list_alerts(&self, state: Option<AlertState>) -> Result<Page<Alert>> {
        self.get_query(&["alerts"], &AlertQuery { state }).await
    }

    /// `GET /api/v1/alerts/{id}`.
    pub async fn get_alert(&self, id: AlertId) -> Result<Alert> {
        self.get(&["alerts", &id.to_string()]).await
    }

    /// `POST /api/v1/alerts/evaluate`: the active alerts after the evaluation.
    pub async fn evaluate_alerts(&self) -> Result<Page<Alert>> {
        Self::json(self.request(Method::POST, self.api(&["alerts", "evaluate"])?)).await
    }

    /// `POST /api/v1/alerts/{id}/dismiss`.
    pub async fn dismiss_alert(&self, id: AlertId, reason: &str) -> Result<Alert> {
        self.send_json(
            Method::POST,
            &["alerts", &id.to_string(), "dismiss"],
            &DismissAlert { reason: reason.to_owned() },
        )
        .await
    }

    /// `POST /api/v1/alerts/{id}/remediate`.
    pub async fn remediate_alert(&self, id: AlertId) -> Result<RemediationResult> {
        Self::json(self.request(Method::POST, self.api(&["alerts", &id.to_string(), "remediate"])?)).await
    }

    // ----- audit -----

    /// `GET /api/v1/audit`: a page of audit events, newest first.
    pub async fn list_audit(&self, query: &AuditQuery) -> Result<Page<AuditEvent>> {
        self.get_query(&["audit"], query).await
    }

    /// `GET /api/v1/audit/export`: the file (CSV or a JSON array), oldest first; paging in `query` is ignored.
    pub async fn export_audit(&self, format: ExportFormat, query: &AuditQuery) -> Result<Vec<u8>> {
        let q = AuditExportQuery::new(format, query);
        let resp = Self::send(self.request(Method::GET, self.api(&["audit", "export"])?).query(&q)).await?;
        Ok(resp.bytes().await?.to_vec())
    }

    /// `GET /api/v1/policy/export`: the policy at `scope` and below as a TOML file.
    pub async fn export_policy(&self, query: &PolicyExportQuery) -> Result<String> {
        let resp = Self::send(self.request(Method::GET, self.api(&["policy", "export"])?).query(query)).await?;
        Ok(resp.text().await?)
    }

    /// `POST /api/v1/policy/plan`: what applying a policy file would change.
    pub async fn plan_policy(&self, body: &PolicyRequest) -> Result<PolicyReport> {
        self.send_json(Method::POST, &["policy", "plan"], body).await
    }

    /// `POST /api/v1/policy/apply`: applies a policy file, all of it or nothing.
    pub async fn apply_policy(&self, body: &PolicyRequest) -> Result<PolicyReport> {
        self.send_json(Method::POST, &["policy", "apply"], body).await
    }

    /// `GET /api/v1/me/audit`: a page of your own audit events (yours as actor or as target), newest first.
    pub async fn my_audit(&self, query: &AuditQuery) -> Result<Page<AuditEvent>> {
        self.get_query(&["me", "audit"], query).await
    }

    /// `GET /api/v1/reports/access` as JSON: who holds what at a scope now.
    pub async fn access_report(&self, query: &AccessReportQuery) -> Result<AccessReport> {
        let q = AccessReportQuery { format: Some(ReportFormat::Json), ..query.clone() };
        self.get_query(&["reports", "access"], &q).await
    }

    /// `GET /api/v1/reports/access` as the file the server sends (`query.format`: JSON or CSV).
    pub async fn access_report_file(&self, query: &AccessReportQuery) -> Result<Vec<u8>> {
        let resp = Self::send(self.request(Method::GET, self.api(&["reports", "access"])?).query(query)).await?;
        Ok(resp.bytes().await?.to_vec())
    }

    /// `GET /api/v1/reports/activations` as JSON: activation counts per role, principal and day.
    pub async fn activation_report(&self, query: &ActivationReportQuery) -> Result<ActivationReport> {
        let q = ActivationReportQuery { format: Some(ReportFormat::Json), ..query.clone() };
        self.get_query(&["reports", "activations"], &q).await
    }

    /// `GET /api/v1/reports/activations` as the file the server sends (`query.format`: JSON or CSV).
    pub async fn activation_report_file(&self, query: &ActivationReportQuery) -> Result<Vec<u8>> {
        let resp = Self::send(self.request(Method::GET, self.api(&["reports", "activations"])?).query(query)).await?;
        Ok(resp.bytes().await?.to_vec())
    }

    /// `POST /api/v1/audit/verify`: checks the audit hash chain.
    pub async fn verify_audit(&self) -> Result<AuditVerifyReport> {
        Self::json(self.request(Method::POST, self.api(&["audit", "verify"])?)).await
    }

    // ----- access reviews -----

    /// `POST /api/v1/reviews`.
    pub async fn create_review(&self, body: &CreateReview) -> Result<ReviewDefinition> {
        self.send_json(Method::POST, &["reviews"], body).await
    }

    /// `GET /api/v1/reviews`.
    pub async fn list_reviews(&self) -> Result<Page<ReviewDefinition>> {
        self.get(&["reviews"]).await
    }

    /// `GET /api/v1/reviews/{id}`: the definition and its instances, newest first.
    pub async fn get_review(&self, id: ReviewId) -> Result<ReviewDetail> {
        self.get(&["reviews", &id.to_string()]).await
    }

    /// `PATCH /api/v1/reviews/{id}`: edits a definition for its future instances.
    pub async fn update_review(&self, id: ReviewId, body: &UpdateReview) -> Result<ReviewDefinition> {
        self.send_json(Method::PATCH, &["reviews", &id.to_string()], body).await
    }

    /// `POST /api/v1/reviews/{id}/stop`.
    pub async fn stop_review(&self, id: ReviewId) -> Result<ReviewDefinition> {
        Self::json(self.request(Method::POST, self.api(&["reviews", &id.to_string(), "stop"])?)).await
    }

    /// `GET /api/v1/review-instances/{id}`.
    pub async fn get_review_instance(&self, id: ReviewInstanceId) -> Result<ReviewInstance> {
        self.get(&["review-instances", &id.to_string()]).await
    }

    /// `GET /api/v1/review-instances/{id}/items` as JSON: the results.
    pub async fn review_results(&self, id: ReviewInstanceId) -> Result<ReviewResults> {
        let q = ReviewItemsQuery { format: Some(ReportFormat::Json) };
        self.get_query(&["review-instances", &id.to_string(), "items"], &q).await
    }

    /// `GET /api/v1/review-instances/{id}/items` as the file the server sends (CSV or JSON).
    pub async fn review_results_file(&self, id: ReviewInstanceId, format: ExportFormat) -> Result<Vec<u8>> {
        let q = ReviewItemsQuery { format: Some(format) };
        let url = self.api(&["review-instances", &id.to_string(), "items"])?;
        let resp = Self::send(self.request(Method::GET, url).query(&q)).await?;
        Ok(resp.bytes().await?.to_vec())
    }

    /// `POST /api/v1/review-instances/{id}/{verb}` for `reset`, `stop` and `apply`.
    async fn review_instance_action(&self, id: ReviewInstanceId, verb: &str) -> Result<ReviewInstance> {
        Self::json(self.request(Method::POST, self.api(&["review-instances", &id.to_string(), verb])?)).await
    }

    /// `POST /api/v1/review-instances/{id}/reset`: clears the decisions.
    pub async fn reset_review_instance(&self, id: ReviewInstanceId) -> Result<ReviewInstance> {
        self.review_instance_action(id, "reset").await
    }

    /// `POST /api/v1/review-instances/{id}/stop`: ends it now.
    pub async fn stop_review_instance(&self, id: ReviewInstanceId) -> Result<ReviewInstance> {
        self.review_instance_action(id, "stop").await
    }

    /// `POST /api/v1/review-instances/{id}/apply`: carries out the removals.
    pub async fn apply_review_instance(&self, id: ReviewInstanceId) -> Result<ReviewInstance> {
        self.review_instance_action(id, "apply").await
    }

    /// `POST /api/v1/review-instances/{id}/decisions`.
    pub async fn decide_review_items(
        &self,
        id: ReviewInstanceId,
        body: &DecideReviewItems,
    ) -> Result<Page<ReviewItem>> {
        self.send_json(Method::POST, &["review-instances", &id.to_string(), "decisions"], body).await
    }

    /// `POST /api/v1/review-instances/{id}/items/{itemId}/decision`.
    pub async fn decide_review_item(
        &self,
        id: ReviewInstanceId,
        item: ReviewItemId,
        body: &DecideReviewItem,
    ) -> Result<ReviewItem> {
        let path = ["review-instances", &id.to_string(), "items", &item.to_string(), "decision"];
        self.send_json(Method::POST, &path, body).await
    }

    /// `GET /api/v1/me/reviews`: the instances in progress where you review items.
    pub async fn my_reviews(&self) -> Result<Page<MyReview>> {
        self.get(&["me", "reviews"]).await
    }

    // ----- MFA -----

    /// `GET /api/v1/me/mfa`: your MFA and this session's freshness.
    pub async fn mfa_status(&self) -> Result<MfaStatus> {
        self.get(&["me", "mfa"]).await
    }

    /// `POST /api/v1/me/mfa/totp`: enrolls a TOTP authenticator (the secret is only in this answer).
    pub async fn enroll_totp(&self) -> Result<TotpEnrollment> {
        Self::json(self.request(Method::POST, self.api(&["me", "mfa", "totp"])?)).await
    }

    /// `POST /api/v1/me/mfa/totp/confirm`: confirms it with its first code; answers the recovery codes.
    pub async fn confirm_totp(&self, code: &str) -> Result<MfaConfirmed> {
        self.send_json(Method::POST, &["me", "mfa", "totp", "confirm"], &ConfirmTotp { code: code.to_owned() }).await
    }

    /// `POST /api/v1/auth/mfa`: passes MFA for this session with a TOTP code or a recovery code.
    pub async fn verify_mfa(&self, body: &VerifyMfa) -> Result<MfaVerified> {
        self.send_json(Method::POST, &["auth", "mfa"], body).await
    }

    /// `POST /api/v1/me/mfa/recovery-codes`: ten new recovery codes, replacing the old ones.
    pub async fn regenerate_recovery_codes(&self) -> Result<RecoveryCodes> {
        Self::json(self.request(Method::POST, self.api(&["me", "mfa", "recovery-codes"])?)).await
    }

    /// `DELETE /api/v1/users/{id}/mfa`: removes a user's MFA (administrators).
    pub async fn reset_mfa(&self, user: PrincipalId) -> Result<()> {
        self.no_content(Method::DELETE, &["users", &user.to_string(), "mfa"]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_each_segment_and_keep_a_base_path() {
        let c = Client::new("http://127.0.0.1:8420", None).unwrap();
        assert_eq!(
            c.api(&["roles", "Global Administrator"]).unwrap().as_str(),
            "http://127.0.0.1:8420/api/v1/roles/Global%20Administrator"
        );
        assert_eq!(
            c.api(&["principals", "a/b?c"]).unwrap().as_str(),
            "http://127.0.0.1:8420/api/v1/principals/a%2Fb%3Fc"
        );
        let c = Client::new("https://pim.example.com/base/", None).unwrap();
        assert_eq!(c.api(&["me"]).unwrap().as_str(), "https://pim.example.com/base/api/v1/me");
        assert_eq!(c.url(&["healthz"]).unwrap().as_str(), "https://pim.example.com/base/healthz");
        assert!(Client::new("not a url", None).is_err());
        assert!(Client::new("ftp://x", None).is_err());
    }

    #[test]
    fn problems_are_parsed_or_built() {
        let body = r#"{"type":"https://pim.dev/problems/justification_required","title":"Justification required",
            "status":422,"detail":"the role's settings require a justification","code":"justification_required"}"#;
        let p = problem_from_body(422, body);
        assert_eq!(p.code, "justification_required");
        let e = ClientError::Api { status: 422, problem: p };
        assert_eq!(e.to_string(), "the role's settings require a justification (justification_required)");
        assert_eq!(e.code(), Some("justification_required"));

        let p = problem_from_body(502, "Bad gateway from proxy");
        assert_eq!((p.status, p.code.as_str(), p.detail.as_str()), (502, "server_error", "Bad gateway from proxy"));
        let p = problem_from_body(404, "");
        assert_eq!((p.code.as_str(), p.detail.as_str()), ("not_found", "Not Found"));
        let p = problem_from_body(400, r#"{"message":"bad thing"}"#);
        assert_eq!((p.code.as_str(), p.detail.as_str()), ("invalid_input", "bad thing"));
    }
}
