//! pim's domain model: pure types and rules with no I/O, no async and no clock of its own.
//!
//! Every function that depends on time takes `now` as a parameter.

pub mod actions;
pub mod activity;
pub mod alert;
pub mod approval;
pub mod assignment;
pub mod audit;
pub mod connector;
pub mod error;
pub mod ids;
pub mod message;
pub mod mfa;
pub mod notification;
pub mod permission;
pub mod policy;
pub mod principal;
pub mod request;
pub mod review;
pub mod role;
pub mod scope;
pub mod settings;
pub mod settings_change;
pub mod time;
pub mod token;

pub use approval::{Approval, Decision, Verdict};
pub use assignment::{Assignment, AssignmentKind};
pub use audit::{AuditDraft, AuditEvent, Outcome};
pub use connector::{ConnectorGrant, ConnectorWork, ProvisionState};
pub use error::{DomainError, ErrorKind, Location};
pub use ids::{
    ActivityEventId, AlertId, AssignmentId, AudienceId, EventId, MfaFactorId, NotificationId, PrincipalId, RequestId,
    ResourceId, ReviewId, ReviewInstanceId, ReviewItemId, RoleId, ScimClientId, SettingsChangeId, TokenId,
};
pub use notification::{Channel, DeliveryStatus, Notification};
pub use permission::{ActionName, Pattern, Permissions};
pub use principal::{ApiToken, Principal, PrincipalKind, Resource, ScimClient};
pub use request::{Request, RequestAction, RequestStatus, Ticket};
pub use role::RoleDefinition;
pub use scope::ScopePath;
pub use settings::RoleSettings;
pub use settings_change::SettingsChange;
pub use time::{Timestamp, Window};
