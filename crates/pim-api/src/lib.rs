//! pim's wire types: every request and response body of `docs/API.md`, shared by the server (which
//! derives its OpenAPI document from them) and the client.
//!
//! The domain types that travel on the wire as they are (principals, assignments, requests, ...) are
//! re-exported from `pim-domain`, so the client and the CLI need only this crate.

pub mod activity;
pub mod alerts;
pub mod approvals;
pub mod audit;
pub mod auth;
pub mod check;
pub mod connectors;
pub mod directory;
pub mod mfa;
pub mod notifications;
pub mod page;
pub mod policy;
pub mod problem;
pub mod reports;
pub mod requests;
pub mod reviews;
pub mod roles;
pub mod scim;
pub mod scopes;
pub mod ssh;
pub mod tokens;

pub use activity::{ActivityQuery, ActivityRecorded, ReportActivity};
pub use alerts::{AlertQuery, DismissAlert, RemediationResult, UpdateAlertRule};
pub use approvals::{
    BreakGlassQuery, BulkDecision, BulkDecisionItem, BulkDecisionResult, CompleteReview, DecideRequest,
    DecideSettingsChange, SettingsChangeQuery,
};
pub use audit::{AuditChainProblem, AuditExportQuery, AuditQuery, AuditVerifyReport, ExportFormat};
pub use auth::{
    CreateTokenRequest, CreatedToken, LoginRequest, LoginResponse, MeResponse, OidcDevicePollRequest,
    OidcDevicePollResponse, OidcDeviceStartRequest, OidcDeviceStartResponse, OidcDeviceStatus, OidcFinishRequest,
    OidcProvider, OidcStartRequest, OidcStartResponse, SetupRequest, SetupStatus, TokenQuery,
};
pub use check::{BatchCheckRequest, BatchCheckResponse, CheckRequest, CheckResponse};
pub use connectors::{Connector, ConnectorCredential, ConnectorMapping, Holding, Provisioning, ReconcileResult};
pub use directory::{CreateGroup, CreateServicePrincipal, CreateUser, UpdateGroup, UpdateServicePrincipal, UpdateUser};
pub use mfa::{ConfirmTotp, MfaConfirmed, MfaStatus, MfaVerified, RecoveryCodes, TotpEnrollment, VerifyMfa};
pub use notifications::NotificationQuery;
pub use page::{ListQuery, Page};
pub use pim_domain::activity::{ActivityEvent, ActivityMatch, ActivityOutcome, ActivitySource, ReportedActivity};
pub use pim_domain::alert::{Alert, AlertItem, AlertRule, AlertState, Severity};
pub use pim_domain::review::{
    ApplyStatus, IfNoResponse, InstanceStatus, ItemApplied, ItemCounts, ItemDecision, ItemOutcome, Recurrence,
    ReviewDefinition, ReviewEnd, ReviewInstance, ReviewItem, ReviewSchedule, ReviewTarget, ReviewedKinds, Reviewers,
};
pub use pim_domain::token::{AccessClaims, Audience, SigningAlg, SigningKeyInfo, TokenGrant};
pub use policy::{PolicyChangeView, PolicyExportQuery, PolicyFieldDiff, PolicyReport, PolicyRequest};
pub use problem::{Problem, ProblemItem};
pub use reports::{
    AccessReport, AccessReportQuery, AccessReportRow, ActivationCount, ActivationReport, ActivationReportQuery,
};
pub use requests::{AssignmentQuery, AssignmentState, CreateRequest, RequestOutcome, RequestQuery, Validation};
pub use reviews::{
    CreateReview, DecideReviewItem, DecideReviewItems, MyReview, ReviewDetail, ReviewItemsQuery, ReviewResults,
    ReviewScheduleInput, UpdateReview, UpdateReviewSchedule,
};
pub use roles::{CreateRole, EffectiveSettings, SettingsListQuery, SettingsQuery};
pub use scim::{CreateScimClient, CreatedScimClient};
pub use scopes::{CreateResource, ResourceQuery, ScopeInfo, UpdateResource, ValidateScope};
pub use ssh::{IssueSshCertificate, SshCertificate};
pub use tokens::{
    AuthorizationServerMetadata, CreateAccessTokenRequest, CreateAudience, CreateTokenBody, CreatedAccessToken,
    CreatedTokenAnswer, IntrospectRequest, IntrospectResponse, JsonWebKeySet, UpdateAudience,
};

/// The domain crate, for the types not re-exported by name.
pub use pim_domain as domain;
pub use pim_domain::approval::{Approval, BreakGlassReview, Decision, ReviewVerdict, Verdict};
pub use pim_domain::request::Needs;
pub use pim_domain::settings::{
    ApprovalStage, ApproverRef, Escalation, EventRecipients, NotificationRule, NotificationSettings,
};
pub use pim_domain::{
    ActionName, ActivityEventId, AlertId, ApiToken, Assignment, AssignmentId, AssignmentKind, AudienceId, AuditEvent,
    Channel, DeliveryStatus, EventId, Notification, NotificationId, Outcome, Pattern, Permissions, Principal,
    PrincipalId, PrincipalKind, ProvisionState, Request, RequestAction, RequestId, RequestStatus, Resource, ResourceId,
    ReviewId, ReviewInstanceId, ReviewItemId, RoleDefinition, RoleId, RoleSettings, ScimClient, ScimClientId,
    ScopePath, SettingsChange, SettingsChangeId, Ticket, Timestamp, TokenId, Window,
};

/// The prefix of every API path.
pub const API_PREFIX: &str = "/api/v1";
/// The media type of error bodies (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";
/// Default page size of list endpoints.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page size of list endpoints.
pub const MAX_LIMIT: u32 = 1000;

#[cfg(test)]
mod openapi_tests {
    use super::*;
    use utoipa::OpenApi;

    #[utoipa::path(get, path = "/api/v1/users", params(ListQuery), responses((status = 200, body = Page<Principal>)))]
    #[allow(dead_code)]
    fn list_users() {}

    #[utoipa::path(get, path = "/api/v1/assignments", params(AssignmentQuery), responses((status = 200, body = Page<Assignment>), (status = 400, body = Problem)))]
    #[allow(dead_code)]
    fn list_assignments() {}

    #[utoipa::path(post, path = "/api/v1/requests", request_body = CreateRequest, responses((status = 201, body = RequestOutcome), (status = 200, body = Validation)))]
    #[allow(dead_code)]
    fn create_request() {}

    #[derive(OpenApi)]
    #[openapi(paths(list_users, list_assignments, create_request), components(schemas(Problem, ExportFormat)))]
    struct Doc;

    #[test]
    fn generic_pages_and_params_produce_a_complete_document() {
        let doc = serde_json::to_value(Doc::openapi()).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in ["Principal", "Assignment", "CreateRequest", "RequestOutcome", "Validation", "Needs", "Ticket"] {
            assert!(schemas.contains_key(name), "missing schema {name}: {:?}", schemas.keys().collect::<Vec<_>>());
        }
        let params = doc["paths"]["/api/v1/assignments"]["get"]["parameters"].as_array().unwrap();
        let names: Vec<_> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"principalId") && names.contains(&"state"), "{names:?}");
        let text = serde_json::to_string(&doc).unwrap();
        // Every $ref points at a registered schema.
        let dangling: Vec<_> = text
            .split("\"$ref\":\"#/components/schemas/")
            .skip(1)
            .map(|part| &part[..part.find('"').unwrap()])
            .filter(|name| !schemas.contains_key(*name))
            .collect();
        assert!(dangling.is_empty(), "dangling $refs: {dangling:?}");
    }
}
